#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_mqtt_interop.sh - the broker with the client libraries devices use:
# libmosquitto from C (tests/integration/mqtt_interop.c: QoS 2, wills with
# delay, retained, shared subscriptions, topic aliases, message expiry,
# persistent sessions, also across a cairn restart) and Eclipse Paho for Python (mqtt_paho.py, 3.1.1
# and 5.0).
set -euo pipefail
source "$(dirname "$0")/lib.sh" mqtt_interop
BIN=${CAIRN_BIN:?set CAIRN_BIN}
SRC=${CAIRN_SRC:?set CAIRN_SRC}
INTEROP=${CAIRN_MQTT_INTEROP:?set CAIRN_MQTT_INTEROP (the mqtt_interop executable)}
data="$tmp/data"
start_http_server --durability=os --event-loops=2

"$INTEROP" "$mqtt_port" >"$tmp/c.out" 2>&1 || { cat "$tmp/c.out"; fail "libmosquitto cases"; }
ok "libmosquitto: $(grep -c '^ok' "$tmp/c.out") cases ($(awk '{print $2}' "$tmp/c.out" | tr '\n' ' '))"

# A persistent session, its queued QoS 1/2 messages and a retained message
# survive a restart (same data directory; the port may change).
"$INTEROP" "$mqtt_port" restart-before >"$tmp/r.out" 2>&1 || { cat "$tmp/r.out"; fail "restart-before"; }
stop_server
start_http_server --durability=os --event-loops=2
"$INTEROP" "$mqtt_port" restart-after >"$tmp/r.out" 2>&1 || { cat "$tmp/r.out"; fail "restart-after"; }
ok "libmosquitto: persistent session, queued QoS 1/2 and retained message across a restart"

if /usr/bin/python3 -c 'import paho.mqtt' 2>/dev/null; then
    /usr/bin/python3 "$SRC/tests/integration/mqtt_paho.py" "$mqtt_port" >"$tmp/p.out" 2>&1 ||
        { cat "$tmp/p.out"; fail "paho cases"; }
    ok "paho-mqtt 3.1.1 and 5: $(grep -c '^ok' "$tmp/p.out") checks"
else
    fail "python3-paho-mqtt is not installed (tools/setup.sh)"
fi
stop_server
ok "server stops cleanly"
