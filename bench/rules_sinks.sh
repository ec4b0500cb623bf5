#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/rules_sinks.sh - the sinks' part of `bench/run rules` and of
# `bench/run sinks` (issue 6): builds and runs sink_bench (Kafka into
# librdkafka's mock cluster, webhooks into a loopback keep-alive receiver,
# end to end through the durable sink log) and prints one line
#   SINKS kafka_msgs_per_s=N webhook_per_s=N
# (medians of 3 runs; 1 run at --size small).  Environment from bench/run:
# SIZE, WORK (scratch dir), BUILD (the release build dir).
set -euo pipefail
: "${SIZE:?}" "${WORK:?}" "${BUILD:?}"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ ! -d $BUILD ]]; then
    (cd "$ROOT" && cmake --preset release >/dev/null)
fi
cmake --build "$BUILD" -j2 --target sink_bench >"$WORK/sink_bench.build" 2>&1 ||
    { tail -n 30 "$WORK/sink_bench.build" >&2; exit 1; }

nk=1000000 nw=100000 runs=3
if [[ $SIZE == small ]]; then
    nk=200000
    nw=20000
    runs=1
fi
ks=()
ws=()
for ((i = 1; i <= runs; i++)); do
    echo "== sink_bench run $i/$runs: Kafka $nk records (mock cluster), webhook $nw POSTs" >&2
    out=$("$BUILD/bench/sink_bench" --kafka "$nk" --webhook "$nw" --dir "$WORK/sinks" \
        2>"$WORK/sink_bench.err") || { cat "$WORK/sink_bench.err" >&2; exit 1; }
    grep -v CONFWARN "$WORK/sink_bench.err" | sed 's/^/   /' >&2
    echo "   $out" >&2
    for w in $out; do
        case $w in
        kafka_msgs_per_s=*) ks+=("${w#*=}") ;;
        webhook_per_s=*) ws+=("${w#*=}") ;;
        esac
    done
done
med() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "na" }'
}
echo "SINKS kafka_msgs_per_s=$(med "${ks[@]}") webhook_per_s=$(med "${ws[@]}")"
