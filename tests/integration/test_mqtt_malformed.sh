#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_mqtt_malformed.sh - every "the server MUST close the connection"
# rule against the live broker: the client-side fixtures of tests/data/mqtt
# plus the session-layer rules (mqtt_malformed.py checks the exact answer
# bytes: CONNACK / DISCONNECT reason code, then close).
set -euo pipefail
source "$(dirname "$0")/lib.sh" mqtt_malformed
BIN=${CAIRN_BIN:?set CAIRN_BIN}
SRC=${CAIRN_SRC:?set CAIRN_SRC}
data="$tmp/data"
start_http_server --durability=os --event-loops=2 --mqtt-max-packet-size=1k
python3 "$SRC/tests/integration/mqtt_malformed.py" "$mqtt_port" "$SRC/tests/data/mqtt" >"$tmp/out" ||
    { cat "$tmp/out"; fail "malformed-packet cases failed"; }
n=$(grep -c '^ok' "$tmp/out")
ok "$n malformed-packet cases answered as the spec says, other connections unaffected"
stop_server
ok "server stops cleanly"
