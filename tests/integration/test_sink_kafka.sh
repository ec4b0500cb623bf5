#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_sink_kafka.sh - Kafka delivery through the durable sink log (issue 6)
# into librdkafka's mock cluster (tests/ingest/kafka_mock.c), read back
# with kcat:
#   1. records fed while Produce requests fail (NOT_LEADER, REQUEST_TIMED_OUT)
#      and partition leaders move -> every record arrives once (idempotent
#      producer), per-key order kept, payload bytes equal;
#   2. a record larger than the producer's message.max.bytes is
#      dead-lettered after --max-attempts, the others delivered.
set -euo pipefail
SRC=${CAIRN_SRC:?}
DRIVER=${SINK_DRIVER:?}
MOCK=${KAFKA_MOCK:?}
# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" sink-kafka
command -v kcat >/dev/null || fail "kcat is not installed (tools/setup.sh)"
mpid=""
dpid=""
stop_all() {
    exec 7>&- 2>/dev/null || true
    exec 8>&- 2>/dev/null || true
    for p in $dpid $mpid; do kill -KILL "$p" 2>/dev/null || true; done
    cleanup
}
trap stop_all EXIT

mkfifo "$tmp/mock.in" "$tmp/drv.in"
"$MOCK" 3 <"$tmp/mock.in" >"$tmp/mock.out" 2>"$tmp/mock.err" &
mpid=$!
exec 7>"$tmp/mock.in"
nlines=0
# mock CMD: sends one command, waits for its answer
mock() {
    echo "$*" >&7
    nlines=$((nlines + 1))
    local i
    for ((i = 0; i < 600; i++)); do
        [ "$(grep -c -v '^bootstrap' "$tmp/mock.out")" -ge "$nlines" ] && break
        sleep 0.05
    done
    [ "$(tail -1 "$tmp/mock.out")" = ok ] || fail "mock '$*': $(tail -1 "$tmp/mock.out")"
}
for ((i = 0; i < 600; i++)); do
    grep -q '^bootstrap ' "$tmp/mock.out" && break
    sleep 0.05
done
bs=$(sed -n 's/^bootstrap //p' "$tmp/mock.out")
[ -n "$bs" ] || fail "mock cluster did not start: $(cat "$tmp/mock.err")"
mock topic tele 4
mock topic dead 1

gen() { # gen FROM TO DEVICES
    local i
    for ((i = $1; i <= $2; i++)); do
        echo "k d$((i % $3)) {\"d\":\"d$((i % $3))\",\"n\":$i}"
    done
}
# consume TOPIC COUNT: prints the first COUNT messages as "key payload";
# reads again (a few times) while a moved partition leader makes kcat stop
# early
consume() {
    local i
    for ((i = 0; i < 20; i++)); do
        kcat -C -b "$bs" -t "$1" -o beginning -c "$2" -e -q -f '%k %s\n' \
            >"$tmp/kcat.out" 2>"$tmp/kcat.err" || true
        [ "$(wc -l <"$tmp/kcat.out")" -ge "$2" ] && break
    done
    cat "$tmp/kcat.out"
}

# --- 1. broker errors and leader changes while records flow
"$DRIVER" --dir "$tmp/d1" --kafka k "$bs" tele <"$tmp/drv.in" >"$tmp/drv1.out" 2>"$tmp/drv1.err" &
dpid=$!
exec 8>"$tmp/drv.in"
mock produce-errors 3 6  # NOT_LEADER_FOR_PARTITION
mock produce-errors 2 7  # REQUEST_TIMED_OUT
gen 1 3000 16 >&8
mock leader tele 0 2
mock leader tele 1 3
mock leader tele 2 1
mock produce-errors 3 6
gen 3001 6000 16 >&8
mock leader tele 3 2
mock leader tele 0 3
exec 8>&-
wait "$dpid" || fail "driver failed: $(tail -5 "$tmp/drv1.err")"
dpid=""
grep -q '"delivered":6000,"failed":0,' "$tmp/drv1.out" || fail "stats: $(tail -1 "$tmp/drv1.out")"
consume tele 6000 >"$tmp/got1"
gen 1 6000 16 >"$tmp/in1"
if [ "$(wc -l <"$tmp/got1")" != 6000 ]; then
    # which records are missing, per partition as the mock holds them
    # (tells a lost record from a read that stopped early)
    missing=$(cut -d' ' -f2- "$tmp/in1" | sort | comm -23 - <(cut -d' ' -f2- "$tmp/got1" | sort) |
        head -5 | tr '\n' ' ')
    parts=$(kcat -C -b "$bs" -t tele -o beginning -e -q -f '%p\n' 2>/dev/null | sort | uniq -c |
        tr -s ' \n' ' ')
    fail "kcat read $(wc -l <"$tmp/got1") of 6000; missing: $missing; one more read, records per partition: $parts; kcat stderr: $(tail -3 "$tmp/kcat.err")"
fi
# the key kcat printed is the record's key (the device)
awk '{ split($2, a, "\""); if ("d" substr($1, 2) != a[4]) exit 1 }' "$tmp/got1" ||
    fail "message keys do not match the devices"
cut -d' ' -f2- "$tmp/got1" >"$tmp/got1.payload"
res=$(python3 "$SRC/tests/integration/sink_check.py" "$tmp/in1" "$tmp/got1.payload") || fail "$res"
[ "$(sort "$tmp/got1.payload" | uniq -d | wc -l)" = 0 ] || fail "duplicates in Kafka"
ok "errors and leader changes: $res"

# --- 2. a record over message.max.bytes is dead-lettered
{
    gen 1 50 4 | sed 's/^k/x/'
    printf 'x d1 {"d":"d1","n":999,"pad":"%s"}\n' "$(head -c 3000 /dev/zero | tr '\0' a)"
    gen 51 100 4 | sed 's/^k/x/'
} >"$tmp/in2"
"$DRIVER" --dir "$tmp/d2" --kafka x "$bs" dead --kafka-prop message.max.bytes=2000 \
    --max-attempts 3 --backoff-ms 10 50 <"$tmp/in2" >"$tmp/drv2.out" 2>"$tmp/drv2.err" ||
    fail "driver: $(tail -5 "$tmp/drv2.err")"
grep -q '"delivered":100,.*"retried":2,"dead_lettered":1,' "$tmp/drv2.out" ||
    fail "stats: $(tail -1 "$tmp/drv2.out")"
grep -q '"dead_letters":\[{"seq":51,"ts":[0-9]*,"attempts":3,"key":"d1","error":' "$tmp/drv2.out" ||
    fail "dead letter: $(tail -1 "$tmp/drv2.out")"
consume dead 100 | cut -d' ' -f2- >"$tmp/got2"
grep -v pad "$tmp/in2" >"$tmp/in2.good"
res=$(python3 "$SRC/tests/integration/sink_check.py" "$tmp/in2.good" "$tmp/got2") || fail "$res"
ok "oversize record dead-lettered after 3 attempts: $res"
echo "all $checks checks passed"
