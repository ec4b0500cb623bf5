#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_sink_webhook.sh - webhook delivery through the durable sink log
# (issue 6), with tests/ingest/sink_driver.c as the process that uses the
# sinks and sink_receiver.py as the endpoint:
#   1. receiver down, driver retries with backoff; receiver up -> every
#      record delivered, per-device order kept, none lost;
#   2. driver SIGKILLed mid-delivery -> a restarted driver delivers the
#      rest (duplicates allowed, loss not);
#   3. a record the endpoint refuses (400) is dead-lettered after
#      --max-attempts while the others flow.
set -euo pipefail
SRC=${CAIRN_SRC:?}
DRIVER=${SINK_DRIVER:?}
# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" sink-webhook
rpid=""
dpid=""
stop_all() {
    for p in $rpid $dpid; do kill -KILL "$p" 2>/dev/null || true; done
    cleanup
}
trap stop_all EXIT

# start_receiver PORT OUT: sets $rpid and $rport
start_receiver() {
    : >"$tmp/recv.log"
    python3 "$SRC/tests/integration/sink_receiver.py" "$1" "$2" >"$tmp/recv.log" 2>&1 &
    rpid=$!
    local i
    for ((i = 0; i < 600; i++)); do
        rport=$(sed -n 's/^listening //p' "$tmp/recv.log")
        [ -n "$rport" ] && return 0
        kill -0 "$rpid" 2>/dev/null || fail "receiver did not start: $(cat "$tmp/recv.log")"
        sleep 0.05
    done
    fail "receiver did not start"
}
stop_receiver() {
    kill -TERM "$rpid"
    wait "$rpid" 2>/dev/null || true
    rpid=""
}
# wait_file FILE PATTERN: polls (~30 s) while the driver runs
wait_file() {
    local i
    for ((i = 0; i < 600; i++)); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    fail "timed out waiting for '$2' in $1: $(tail -5 "$1")"
}
gen() { # gen SINK COUNT DEVICES
    local i
    for ((i = 1; i <= $2; i++)); do
        echo "$1 d$((i % $3)) {\"d\":\"d$((i % $3))\",\"n\":$i}"
    done
}
drv=("$DRIVER" --backoff-ms 20 200 --timeout-ms 5000)

# --- 1. receiver down for a while, then up
start_receiver 0 "$tmp/out1"
port=$rport
stop_receiver # the port is free again: connections are refused
gen w 1000 10 >"$tmp/in1"
"${drv[@]}" --dir "$tmp/d1" --webhook w "http://127.0.0.1:$port/hook" \
    <"$tmp/in1" >"$tmp/drv1.out" 2>"$tmp/drv1.err" &
dpid=$!
wait_file "$tmp/drv1.err" "endpoint unavailable"
start_receiver "$port" "$tmp/out1"
wait "$dpid" || fail "driver failed: $(cat "$tmp/drv1.err")"
dpid=""
grep -q '^drained$' "$tmp/drv1.out" || fail "not drained"
grep -q '"delivered":1000,' "$tmp/drv1.out" || fail "delivered: $(tail -1 "$tmp/drv1.out")"
grep -q '"failed":0,' "$tmp/drv1.out" && fail "no failure counted while the receiver was down"
res=$(python3 "$SRC/tests/integration/sink_check.py" "$tmp/in1" "$tmp/out1") || fail "$res"
ok "receiver down then up: $res"
stop_receiver

# --- 2. SIGKILL mid-delivery, restart delivers the rest
start_receiver 0 "$tmp/out2"
gen w 5000 20 >"$tmp/in2"
"${drv[@]}" --dir "$tmp/d2" --webhook w "http://127.0.0.1:$rport/hook" --inflight 4 \
    <"$tmp/in2" >"$tmp/drv2.out" 2>"$tmp/drv2.err" &
dpid=$!
wait_file "$tmp/drv2.out" "^durable 5000"
for ((i = 0; i < 600; i++)); do
    [ "$(wc -l <"$tmp/out2")" -ge 500 ] && break
    sleep 0.05
done
kill -KILL "$dpid"
wait "$dpid" 2>/dev/null || true
dpid=""
before=$(wc -l <"$tmp/out2")
[ "$before" -lt 5000 ] || fail "the driver finished before it was killed ($before)"
"${drv[@]}" --dir "$tmp/d2" --webhook w "http://127.0.0.1:$rport/hook" \
    </dev/null >"$tmp/drv2b.out" 2>"$tmp/drv2b.err" || fail "restart: $(cat "$tmp/drv2b.err")"
grep -q '^drained$' "$tmp/drv2b.out" || fail "restart not drained"
res=$(python3 "$SRC/tests/integration/sink_check.py" "$tmp/in2" "$tmp/out2") || fail "$res"
ok "SIGKILL after $before of 5000, restart: $res"
stop_receiver

# --- 3. a poison record is dead-lettered, the rest delivered
start_receiver 0 "$tmp/out3"
{
    gen w 100 5
    echo 'w d1 {"d":"d1","n":1000,"poison":true}'
    gen w 200 5 | tail -n 100
} >"$tmp/in3"
"${drv[@]}" --dir "$tmp/d3" --webhook w "http://127.0.0.1:$rport/hook" --max-attempts 3 \
    <"$tmp/in3" >"$tmp/drv3.out" 2>"$tmp/drv3.err" || fail "driver: $(cat "$tmp/drv3.err")"
grep -q '"delivered":200,' "$tmp/drv3.out" || fail "delivered: $(tail -1 "$tmp/drv3.out")"
grep -q '"dead_lettered":1,' "$tmp/drv3.out" || fail "dead letter: $(tail -1 "$tmp/drv3.out")"
grep -q '"retried":2,' "$tmp/drv3.out" || fail "retries: $(tail -1 "$tmp/drv3.out")"
grep -q '"dead_letters":\[{"seq":101,.*"attempts":3,"key":"d1","error":"HTTP status 400"}\]' \
    "$tmp/drv3.out" || fail "dead letter record: $(tail -1 "$tmp/drv3.out")"
grep -q '^{"sink":"w","seq":101,.*"attempts":3,"key":"d1",.*poison' "$tmp/d3/deadletter.jsonl" || fail "deadletter.jsonl: $(cat "$tmp/d3/deadletter.jsonl")"
grep -v poison "$tmp/in3" >"$tmp/in3.good"
res=$(python3 "$SRC/tests/integration/sink_check.py" "$tmp/in3.good" "$tmp/out3") || fail "$res"
ok "poison record dead-lettered after 3 attempts: $res"
echo "all $checks checks passed"
