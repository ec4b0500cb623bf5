#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_mqtt.sh - the MQTT broker against the real mosquitto clients over
# loopback (protocol 3.1.1 and 5): QoS 0/1/2 delivery, wildcards, retained
# messages (set, clear), persistent sessions with offline queues, wills,
# MQTT 5 properties end to end, $SYS, client-id takeover, and the
# secure-by-default listener check.
#
# No sleeps as synchronisation: a live subscriber is waited for through the
# server's debug log line "subscribed to"; offline queues use persistent
# sessions created with `mosquitto_sub -E` (exit after SUBACK).
set -euo pipefail
source "$(dirname "$0")/lib.sh" mqtt
BIN=${CAIRN_BIN:?set CAIRN_BIN}
SRC=${CAIRN_SRC:?set CAIRN_SRC}
command -v mosquitto_sub >/dev/null || fail "mosquitto-clients is not installed"
data="$tmp/data"

start_http_server --durability=os --log-level=debug --event-loops=2 --mqtt-sys-interval=1s
P=$mqtt_port
[ -n "$P" ] || fail "no 'mqtt: listening' line"
ok "server listens for MQTT on port $P"

SUB_N=0
# sub_bg OUT ARGS...: a live mosquitto_sub in the background, returns once it
# has subscribed (its client id is sub<N>).
sub_bg() {
    local out=$1
    shift
    SUB_N=$((SUB_N + 1))
    local id="sub$SUB_N"
    timeout 20 mosquitto_sub -p "$P" -i "$id" "$@" >"$out" 2>&1 &
    SUB_PID=$!
    wait_log "mqtt: $id subscribed to"
}

# ------------------------------------------------------------ QoS 0/1/2, v3.1.1 and v5
for v in mqttv311 mqttv5; do
    sub_bg "$tmp/sub.$v" -V "$v" -t "q/$v/#" -q 2 -v -C 3
    mosquitto_pub -p "$P" -V "$v" -t "q/$v/zero" -m m0 -q 0
    mosquitto_pub -p "$P" -V "$v" -t "q/$v/one" -m m1 -q 1
    mosquitto_pub -p "$P" -V "$v" -t "q/$v/two/x" -m m2 -q 2
    wait "$SUB_PID" || fail "$v subscriber did not get 3 messages: $(cat "$tmp/sub.$v")"
    # Three publishers (one process each, possibly on different event
    # loops): order is kept per publisher only, so compare as sets.
    printf 'q/%s/one m1\nq/%s/two/x m2\nq/%s/zero m0\n' "$v" "$v" "$v" >"$tmp/want"
    sort "$tmp/sub.$v" | diff "$tmp/want" - || fail "$v delivery differs"
    ok "$v: QoS 0, 1 and 2 through a wildcard subscription"
done

# --------------------------------------------------------------- retained
mosquitto_pub -p "$P" -t ret/a -m kept -r -q 1
mosquitto_pub -p "$P" -t ret/b -m gone -r
mosquitto_pub -p "$P" -t ret/b -n -r
out=$(timeout 10 mosquitto_sub -p "$P" -t 'ret/#' -v -C 1 -W 5) || fail "no retained message"
[ "$out" = "ret/a kept" ] || fail "retained: got '$out'"
out=$(timeout 10 mosquitto_sub -p "$P" -V mqttv5 -t 'ret/#' -F '%r %t %p' -C 1 -W 5)
[ "$out" = "1 ret/a kept" ] || fail "retained flag on subscribe: got '$out'"
out=$(timeout 10 mosquitto_sub -p "$P" -V mqttv5 -t 'ret/#' -D subscribe retain-handling 2 \
    -F '%t' -W 1 2>&1 || true)
[ -z "$(printf '%s' "$out" | grep ret/)" ] || fail "retain-handling 2 still sent '$out'"
ok "retained: set, cleared by an empty payload, flag set on subscribe, retain-handling 2"

# ------------------------------------------------ persistent session, offline queue
for v in mqttv311 mqttv5; do
    extra=()
    [ "$v" = mqttv5 ] && extra=(-x 3600)
    mosquitto_sub -p "$P" -V "$v" -i "ps-$v" -c "${extra[@]}" -q 1 -t "ps/$v" -E
    for i in 1 2 3; do mosquitto_pub -p "$P" -V "$v" -t "ps/$v" -m "off$i" -q 1; done
    mosquitto_pub -p "$P" -V "$v" -t "ps/$v" -m "q0-not-queued" -q 0
    out=$(timeout 10 mosquitto_sub -p "$P" -V "$v" -i "ps-$v" -c "${extra[@]}" -q 1 -t "ps/$v" \
        -C 3 -W 5) || fail "$v: offline messages missing: '$out'"
    [ "$out" = "$(printf 'off1\noff2\noff3')" ] || fail "$v offline queue: got '$out'"
    ok "$v: persistent session queues QoS 1 while offline, in order, QoS 0 not queued"
done

# ------------------------------------------------------------------ wills
sub_bg "$tmp/will" -t will/+ -v -C 1
mosquitto_sub -p "$P" -i willer -t nothing --will-topic will/w --will-payload dead \
    --will-qos 1 >/dev/null 2>&1 &
wpid=$!
wait_log "mqtt: willer subscribed to"
kill -KILL "$wpid"
wait "$wpid" 2>/dev/null || true
wait "$SUB_PID" || fail "will not delivered"
[ "$(cat "$tmp/will")" = "will/w dead" ] || fail "will: got '$(cat "$tmp/will")'"
ok "a client that vanishes without DISCONNECT has its will published"

sub_bg "$tmp/nowill" -t will2/+ -v -C 1 -W 3
mosquitto_pub -p "$P" -t x -m y --will-topic will2/w --will-payload nope
mosquitto_pub -p "$P" -t will2/ok -m done
wait "$SUB_PID" || true
[ "$(cat "$tmp/nowill")" = "will2/ok done" ] || fail "will after DISCONNECT: '$(cat "$tmp/nowill")'"
ok "a clean DISCONNECT discards the will"

# -------------------------------------------------------------- v5 properties
sub_bg "$tmp/props" -V mqttv5 -t p/t -F '%t|%p|%C|%R|%D|%P|%E' -C 1
mosquitto_pub -p "$P" -V mqttv5 -t p/t -m body -q 1 -D publish content-type text/plain \
    -D publish response-topic r/t -D publish correlation-data c0 -D publish user-property k v \
    -D publish message-expiry-interval 3600
wait "$SUB_PID" || fail "v5 properties: no message"
IFS='|' read -r t p ct rt cd up ex <"$tmp/props"
[ "$t|$p|$ct|$rt|$cd|$up" = "p/t|body|text/plain|r/t|c0|k:v" ] ||
    fail "v5 properties: got '$(cat "$tmp/props")'"
{ [ "$ex" -ge 3599 ] && [ "$ex" -le 3600 ]; } || fail "message expiry forwarded as '$ex'"
ok "v5: content type, response topic, correlation data, user property, message expiry forwarded"

# ------------------------------------------------------------- takeover
timeout 20 mosquitto_sub -p "$P" -V mqttv5 -i twin -t tw -F '%t' >"$tmp/twin1" 2>&1 &
t1=$!
wait_log "mqtt: twin subscribed to"
mosquitto_sub -p "$P" -V mqttv5 -i twin -t tw -E
rc=0
wait "$t1" || rc=$?
[ "$rc" != 124 ] || fail "the first 'twin' was not disconnected"
grep -q "client id twin taken over" "$tmp/log" || fail "takeover not logged"
ok "client-id takeover closes the older connection"

# ------------------------------------------------------------------- $SYS
out=$(timeout 10 mosquitto_sub -p "$P" -t '$SYS/broker/clients/connected' -C 1 -W 5) ||
    fail "no \$SYS message"
[[ $out =~ ^[0-9]+$ ]] || fail "\$SYS/broker/clients/connected is '$out'"
out=$(timeout 10 mosquitto_sub -p "$P" -t '#' -t 'ret/#' -C 1 -W 5 -v) || true
[[ $out != \$SYS* ]] || fail "'#' matched a \$SYS topic"
ok "\$SYS/broker statistics are published and '#' does not match them"

# ----------------------------------------------- restart: sessions and retained survive
mosquitto_sub -p "$P" -V mqttv5 -i keep5 -c -x 3600 -q 1 -t 'rs/q/#' -E
mosquitto_sub -p "$P" -V mqttv311 -i keep3 -c -q 2 -t 'rs/q/#' -E
mosquitto_pub -p "$P" -t rs/q/a -m before1 -q 1
mosquitto_pub -p "$P" -t rs/q/b -m before2 -q 1
mosquitto_pub -p "$P" -t rs/ret -m survived -r -q 1
stop_server
ok "server stops cleanly with MQTT clients gone"

start_http_server --durability=os --log-level=debug --event-loops=2
P=$mqtt_port
grep -q "restored 4 persistent sessions" "$tmp/log" || fail "sessions not restored (want ps-*, keep3, keep5)"
mosquitto_pub -p "$P" -t rs/q/c -m after -q 1
for id in keep5 keep3; do
    v=mqttv5
    extra=(-x 3600)
    [ "$id" = keep3 ] && v=mqttv311 && extra=()
    out=$(timeout 10 mosquitto_sub -p "$P" -V "$v" -i "$id" -c "${extra[@]}" -q 1 -t 'rs/q/#' \
        -C 3 -W 5 -v) || fail "$id: queued messages missing after restart: '$out'"
    [ "$out" = "$(printf 'rs/q/a before1\nrs/q/b before2\nrs/q/c after')" ] ||
        fail "$id after restart: '$out'"
done
ok "persistent sessions (3.1.1 and 5) keep their subscriptions and queued messages across a restart"
out=$(timeout 10 mosquitto_sub -p "$P" -t rs/ret -C 1 -W 5) || fail "retained message lost in restart"
[ "$out" = survived ] || fail "retained after restart: '$out'"
ok "retained messages survive a restart"
stop_server

# -------------------------------------------------------- secure by default
rc=0
"$BIN" --data-dir="$data" --http-listen=127.0.0.1:0 --mqtt-listen=0.0.0.0:0 2>"$tmp/err" || rc=$?
[ "$rc" = 2 ] || fail "non-loopback mqtt-listen without auth exited $rc"
grep -q "mqtt-allow-anonymous" "$tmp/err" || fail "no hint at mqtt-allow-anonymous: $(cat "$tmp/err")"
ok "a non-loopback listener needs mqtt-allow-anonymous = true (exit 2)"

echo "all $checks checks passed"
