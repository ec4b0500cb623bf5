#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_mqtt_limits.sh - mqtt-max-connections, assigned client ids and the
# client's Maximum Packet Size, over raw sockets (tests/integration/mqtt_limits.py).
#
# Usage: CAIRN_BIN=... tests/integration/test_mqtt_limits.sh
set -euo pipefail

SRC=${CAIRN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${CAIRN_BIN:-$SRC/build/debug/cairn}
[ -x "$BIN" ] || { echo "FAIL: no executable at $BIN (set CAIRN_BIN)" >&2; exit 1; }

# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" mqtt-limits

data="$tmp/data"
start_http_server --durability=os --event-loops=2 --mqtt-max-connections=4 --mqtt-sys-interval=0
python3 "$SRC/tests/integration/mqtt_limits.py" "$mqtt_port" >"$tmp/out" 2>&1 ||
    { cat "$tmp/out"; fail "limit cases failed"; }
cat "$tmp/out"
ok "max connections, assigned client id, client Maximum Packet Size"
stop_server
