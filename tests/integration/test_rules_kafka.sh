#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_rules_kafka.sh - Kafka rule actions end to end (issue 6): a rule
# with two Kafka actions, one with a topic template and a key template,
# one with the default key (device_id) and a value template, produced
# through each action's sink into librdkafka's mock cluster
# (tests/ingest/kafka_mock.c) with kafka-compression=zstd, read back with
# kcat: exactly the hot rows, on the rendered topics, with the rendered
# keys and values, in per-device order.
set -euo pipefail
SRC=${CAIRN_SRC:?}
BIN=${CAIRN_BIN:?}
MOCK=${KAFKA_MOCK:?}
# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" rules-kafka
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
mock topic hot-d1 2
mock topic hot-d2 2
mock topic all-hot 4

metric() { # metric NAME: its value in /metrics
    curl -sf "$url/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

cat >"$tmp/rules.json" <<'JSON'
[{"id": "k", "sql": "SELECT device_id, t FROM \"devices/+/telemetry\" WHERE t > 30",
  "actions": [
    {"type": "kafka", "topic": "hot-${device_id}", "key": "${device_id}-k"},
    {"type": "kafka", "topic": "all-hot", "value": "${device_id}:${t}"}]}]
JSON
start_http_server --rules-file="$tmp/rules.json" --kafka-brokers="$bs" --kafka-compression=zstd
for d in d1 d2; do
    for ((n = 1; n <= 20; n++)); do
        echo "{\"t\":$((n % 2 ? 10 + n : 30 + n)).5}"
    done | mosquitto_pub -p "$mqtt_port" -q 1 -t "devices/$d/telemetry" -l ||
        fail "mosquitto_pub $d"
done
s0=$(sed -n 's/.*rules: sink \(rule\.k\.0\.[0-9a-f]\{8\}\) delivers.*/\1/p' "$tmp/log")
s1=$(sed -n 's/.*rules: sink \(rule\.k\.1\.[0-9a-f]\{8\}\) delivers.*/\1/p' "$tmp/log")
[ -n "$s0" ] && [ -n "$s1" ] || fail "no sink lines for the two Kafka actions"
for ((i = 0; i < 600; i++)); do
    [ "$(metric "cairn_sink_delivered_total{sink=\"$s0\",type=\"kafka\"}")" = 20 ] &&
        [ "$(metric "cairn_sink_delivered_total{sink=\"$s1\",type=\"kafka\"}")" = 20 ] && break
    sleep 0.05
done
[ "$(metric "cairn_sink_delivered_total{sink=\"$s1\",type=\"kafka\"}")" = 20 ] ||
    fail "delivered: $(curl -sf "$url/metrics" | grep '^cairn_sink_delivered')"
[ "$(metric 'cairn_rule_action_errors_total{rule="k"}')" = 0 ] || fail "action errors"
ok "20 hot rows x 2 Kafka actions produced and acknowledged (acks=all), no action errors"

for d in d1 d2; do
    kcat -C -b "$bs" -t "hot-$d" -o beginning -e -q -f '%k %s\n' >"$tmp/got-$d" 2>"$tmp/kcat.err" ||
        fail "kcat: $(cat "$tmp/kcat.err")"
    for ((n = 2; n <= 20; n += 2)); do
        echo "$d-k {\"device_id\":\"$d\",\"t\":$((30 + n)).5}"
    done >"$tmp/want-$d"
    diff -u "$tmp/want-$d" "$tmp/got-$d" || fail "topic hot-$d"
done
ok "topic template hot-\${device_id}, key template \${device_id}-k, the selected fields as value, in order"

kcat -C -b "$bs" -t all-hot -o beginning -e -q -f '%k %s\n' >"$tmp/got" 2>"$tmp/kcat.err" ||
    fail "kcat: $(cat "$tmp/kcat.err")"
for d in d1 d2; do
    for ((n = 2; n <= 20; n += 2)); do echo "$d $d:$((30 + n)).5"; done
done >"$tmp/want"
# one device's records share a partition: per-device order holds
for d in d1 d2; do
    grep "^$d " "$tmp/got" | diff -u <(grep "^$d " "$tmp/want") - || fail "all-hot, device $d"
done
[ "$(wc -l <"$tmp/got")" = 20 ] || fail "all-hot holds $(wc -l <"$tmp/got") messages"
ok "default key device_id and a value template, per-device order across partitions"
stop_server
echo "all $checks checks passed"
