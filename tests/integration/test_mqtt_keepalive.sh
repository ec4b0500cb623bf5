#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_mqtt_keepalive.sh - keepalive enforced at 1.5x, over raw sockets
# (tests/integration/mqtt_keepalive.py): silent clients are closed (5.0:
# DISCONNECT 0x8D first), pinging clients stay; and mqtt-max-keepalive
# answers with Server Keep Alive.
#
# Usage: CAIRN_BIN=... tests/integration/test_mqtt_keepalive.sh
set -euo pipefail

SRC=${CAIRN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${CAIRN_BIN:-$SRC/build/debug/cairn}
[ -x "$BIN" ] || { echo "FAIL: no executable at $BIN (set CAIRN_BIN)" >&2; exit 1; }

# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" mqtt-keepalive

data="$tmp/data"
start_http_server --durability=os --event-loops=2
python3 "$SRC/tests/integration/mqtt_keepalive.py" "$mqtt_port" >"$tmp/out" ||
    { cat "$tmp/out"; fail "keepalive cases failed"; }
ok "$(grep -c '^ok' "$tmp/out") keepalive checks (silent clients closed, pinging clients kept)"
stop_server

start_http_server --durability=os --mqtt-max-keepalive=30
python3 "$SRC/tests/integration/mqtt_keepalive.py" "$mqtt_port" 30 >"$tmp/out" ||
    { cat "$tmp/out"; fail "keepalive cases with mqtt-max-keepalive failed"; }
ok "mqtt-max-keepalive=30: Server Keep Alive 30 for clients asking for more or for 0"
stop_server
