# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# bench/sinks.sh - sourced by bench/run: the sink throughput figures of
# issue 6 (sink_bench.c).  `bench/run sinks` prints them on their own
# RESULT line; `bench/run rules` appends them to its line by calling
# sink_figures and adding "kafka_msgs_per_s=$SINK_KAFKA
# webhook_per_s=$SINK_WEBHOOK".

# sink_figures: builds and runs sink_bench (median of 3 runs at medium and
# larger sizes); sets SINK_KAFKA and SINK_WEBHOOK (records/s end to end
# through the durable sink log).
sink_figures() {
    build sink_bench
    local nk=1000000 nw=100000 runs=3
    if [[ $SIZE == small ]]; then
        nk=200000
        nw=20000
        runs=1
    fi
    local i out ks=() ws=()
    for ((i = 1; i <= runs; i++)); do
        echo "== sink_bench run $i/$runs: Kafka $nk records (mock cluster), webhook $nw POSTs"
        out=$("$BUILD/bench/sink_bench" --kafka "$nk" --webhook "$nw" --dir "$WORK/sinks" \
            2>"$WORK/sink_bench.err") || { cat "$WORK/sink_bench.err" >&2; die "sink_bench failed"; }
        grep -v CONFWARN "$WORK/sink_bench.err" | sed 's/^/   /'
        echo "   $out"
        ks+=("$(kv kafka_msgs_per_s "$out")")
        ws+=("$(kv webhook_per_s "$out")")
    done
    SINK_KAFKA=$(median "${ks[@]}")
    SINK_WEBHOOK=$(median "${ws[@]}")
}

run_sinks() {
    sink_figures
    echo "RESULT name=sinks size=$SIZE kafka_msgs_per_s=$SINK_KAFKA webhook_per_s=$SINK_WEBHOOK"
}
