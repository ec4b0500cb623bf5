#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_sink_stream.sh - kafka-stream-topic end to end (issue 6): MQTT QoS 1
# telemetry into cairn, streamed to librdkafka's mock cluster
# (tests/ingest/kafka_mock.c) and read back with kcat.  The brokers are
# down while the messages arrive, cairn is SIGKILLed, the brokers come back
# and a restarted cairn delivers everything from its sink log: every
# message arrives, keyed by device, in per-device order, bytes unchanged.
set -euo pipefail
SRC=${CAIRN_SRC:?}
BIN=${CAIRN_BIN:?}
MOCK=${KAFKA_MOCK:?}
# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" sink-stream
command -v kcat >/dev/null || fail "kcat is not installed (tools/setup.sh)"
command -v mosquitto_pub >/dev/null || fail "mosquitto_pub is not installed (tools/setup.sh)"
data="$tmp/data"
mpid=""
stop_all() {
    exec 7>&- 2>/dev/null || true
    if [ -n "$mpid" ]; then kill -KILL "$mpid" 2>/dev/null || true; fi
    cleanup
}
trap stop_all EXIT

mkfifo "$tmp/mock.in"
"$MOCK" 3 <"$tmp/mock.in" >"$tmp/mock.out" 2>"$tmp/mock.err" &
mpid=$!
exec 7>"$tmp/mock.in"
nlines=0
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
mock down 1
mock down 2
mock down 3

# metric NAME: its value in /metrics
metric() {
    curl -sf "$url/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
# wait_metric NAME VALUE
wait_metric() {
    local i v=""
    for ((i = 0; i < 600; i++)); do
        v=$(metric "$1")
        [ "$v" = "$2" ] && return 0
        sleep 0.05
    done
    fail "$1 is '$v', want $2"
}

start_http_server --kafka-brokers="$bs" --kafka-stream-topic=tele
[ -n "$mqtt_port" ] || fail "no MQTT port in the log"
: >"$tmp/sent"
for d in 0 1 2 3 4 5 6 7 8 9; do
    for ((n = 1; n <= 50; n++)); do
        echo "{\"temperature\":$((20 + n % 7)).5,\"n\":$n}"
    done >"$tmp/d$d"
    sed "s/^/d$d /" "$tmp/d$d" >>"$tmp/sent"
    mosquitto_pub -p "$mqtt_port" -q 1 -t "devices/d$d/telemetry" -l <"$tmp/d$d" ||
        fail "mosquitto_pub d$d"
done
wait_metric cairn_sink_log_appended_total 500
wait_metric cairn_sink_log_pending_records 0
[ "$(metric 'cairn_sink_delivered_total{sink="stream",type="kafka"}')" = 0 ] ||
    fail "delivered while every broker was down"
ok "500 QoS 1 messages of 10 devices in the sink log, brokers down"
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
pid=""

mock up 1
mock up 2
mock up 3
start_http_server --kafka-brokers="$bs" --kafka-stream-topic=tele
wait_metric 'cairn_sink_lag_records{sink="stream",type="kafka"}' 0
kcat -C -b "$bs" -t tele -o beginning -e -q -f '%k %s\n' >"$tmp/got" 2>"$tmp/kcat.err" ||
    fail "kcat: $(cat "$tmp/kcat.err")"
[ "$(wc -l <"$tmp/got")" -ge 500 ] || fail "kcat read $(wc -l <"$tmp/got") messages"
python3 - "$tmp/sent" "$tmp/got" <<'PY' || fail "Kafka content differs from what was published"
import sys
sent = [l.split(' ', 1) for l in open(sys.argv[1]).read().splitlines()]
got = [l.split(' ', 1) for l in open(sys.argv[2]).read().splitlines()]
want = {}
for dev, body in sent:
    want.setdefault(dev, []).append(body)
have = {}
for dev, body in got:
    if body not in want.get(dev, []):
        sys.exit('unexpected %r %r' % (dev, body))
    have.setdefault(dev, [])
    if body not in have[dev]:
        have[dev].append(body)
for dev, bodies in want.items():
    if have.get(dev) != bodies:
        sys.exit('device %s: %d of %d, order %s' % (dev, len(have.get(dev, [])), len(bodies),
                 have.get(dev, [])[:3]))
print('ok %d messages, %d duplicates' % (len(sent), len(got) - len(sent)))
PY
ok "after SIGKILL and restart: every message in Kafka, keyed by device, in order"
stop_server
echo "all $checks checks passed"
