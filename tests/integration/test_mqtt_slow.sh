#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_mqtt_slow.sh - the slow-subscriber policy is explicit and counted
# (tests/integration/mqtt_slow.py): an offline session keeps exactly its
# mqtt-max-queued-messages and the rest is counted as dropped; a live
# subscriber that stops acknowledging pauses the publisher instead, and
# after it resumes nothing is lost.
#
# Usage: CAIRN_BIN=... tests/integration/test_mqtt_slow.sh
set -euo pipefail

SRC=${CAIRN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${CAIRN_BIN:-$SRC/build/debug/cairn}
[ -x "$BIN" ] || { echo "FAIL: no executable at $BIN (set CAIRN_BIN)" >&2; exit 1; }

# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" mqtt-slow

data="$tmp/data"
start_http_server --durability=os --event-loops=2 --mqtt-max-queued-messages=100 \
    --mqtt-sys-interval=1s
/usr/bin/python3 "$SRC/tests/integration/mqtt_slow.py" "$mqtt_port" >"$tmp/out" 2>&1 ||
    { cat "$tmp/out"; fail "slow-subscriber cases failed"; }
cat "$tmp/out"
ok "slow subscribers: limits kept and counted, backpressure without loss"
stop_server
