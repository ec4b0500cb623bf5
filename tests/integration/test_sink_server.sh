#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_sink_server.sh - the server side of the sinks (issue 6): sinks-file
# and kafka-stream-topic at startup, GET /metrics and GET /api/v1/sinks,
# the cursor file after shutdown, and config errors.
set -euo pipefail
SRC=${CAIRN_SRC:?}
BIN=${CAIRN_BIN:?}
# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" sink-server
data="$tmp/data"

cat >"$tmp/sinks.conf" <<'CONF'
# two sinks; nothing feeds them in this test
[sink alerts]
type = webhook
url = http://127.0.0.1:9/hook
header = X-Token: t
max-attempts = 3

[sink lake]
type = kafka
brokers = 127.0.0.1:9
topic = telemetry
CONF
start_http_server --sinks-file="$tmp/sinks.conf" --kafka-brokers=127.0.0.1:9 \
    --kafka-stream-topic=tele
m=$(curl -sf "$url/metrics") || fail "GET /metrics"
for want in \
    '# TYPE cairn_sink_delivered_total counter' \
    'cairn_sink_delivered_total{sink="alerts",type="webhook"} 0' \
    'cairn_sink_delivered_total{sink="lake",type="kafka"} 0' \
    'cairn_sink_delivered_total{sink="stream",type="kafka"} 0' \
    'cairn_sink_dead_lettered_total{sink="alerts",type="webhook"} 0' \
    'cairn_sink_lag_records{sink="lake",type="kafka"} 0' \
    'cairn_sink_up{sink="alerts",type="webhook"} 1' \
    'cairn_sink_log_appended_total 0' \
    'cairn_sink_log_refusing 0' \
    'cairn_ingest_stream_errors_total 0'; do
    grep -qxF -- "$want" <<<"$m" || fail "/metrics lacks '$want'"
done
ok "/metrics has the sink families"
j=$(curl -sf "$url/api/v1/sinks") || fail "GET /api/v1/sinks"
[[ $j == '{"sinks":[{"name":"alerts","type":"webhook","up":true,"delivered":0,'* ]] ||
    fail "/api/v1/sinks: $j"
grep -q '{"name":"stream","type":"kafka",' <<<"$j" || fail "no stream sink: $j"
ok "/api/v1/sinks lists alerts, lake and stream"
ct=$(curl -sf -o /dev/null -w '%{content_type}' "$url/metrics")
[ "$ct" = "text/plain; version=0.0.4; charset=utf-8" ] || fail "content type $ct"
ok "/metrics content type"
stop_server
grep -q '^[0-9]* 1 alerts$' "$data/sinks/cursors" || fail "cursors: $(cat "$data/sinks/cursors")"
grep -q '^[0-9]* 1 stream$' "$data/sinks/cursors" || fail "cursors: $(cat "$data/sinks/cursors")"
ok "cursor file written at shutdown"

printf '[sink a]\ntype = webhook\ncolour = red\n' >"$tmp/bad.conf"
st=0
"$BIN" --data-dir="$data" --http-listen=127.0.0.1:0 --sinks-file="$tmp/bad.conf" \
    2>"$tmp/err" || st=$?
[ "$st" = 2 ] || fail "bad sinks-file: exit $st"
grep -qF "cairn: sinks-file $tmp/bad.conf:3: unknown key 'colour'" "$tmp/err" ||
    fail "message: $(cat "$tmp/err")"
ok "bad sinks-file refused with its line"
st=0
"$BIN" --data-dir="$data" --http-listen=127.0.0.1:0 --kafka-stream-topic=t 2>"$tmp/err" || st=$?
[ "$st" = 2 ] || fail "stream without brokers: exit $st"
grep -qF "cairn: kafka-stream-topic needs kafka-brokers" "$tmp/err" || fail "$(cat "$tmp/err")"
ok "kafka-stream-topic without kafka-brokers refused"
echo "all $checks checks passed"
