#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_mqtt_durable.sh - cairn never forgets what it acknowledged, also for
# messages queued for offline persistent sessions: three sessions (3.1.1
# and 5.0) subscribe and go offline; a publisher sends QoS 1 messages and a
# retained one and SIGKILLs cairn the moment the last PUBACK arrives; after
# a restart on the same data directory every session gets every
# acknowledged message and the retained message is there
# (tests/integration/mqtt_durable.py).  Two event loops, so that queue
# inserts happen on loops other than the publisher's.  Run twice: with the
# default durability and with durability = os.
#
# Usage: CAIRN_BIN=... tests/integration/test_mqtt_durable.sh
set -euo pipefail

SRC=${CAIRN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${CAIRN_BIN:-$SRC/build/debug/cairn}
[ -x "$BIN" ] || { echo "FAIL: no executable at $BIN (set CAIRN_BIN)" >&2; exit 1; }
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3 # Debian's, with python3-paho-mqtt

# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" mqtt-durable

N=2000
for dur in fsync os; do
    data="$tmp/data-$dur"
    read -r mport hport < <(free_ports 2) # both fixed: the restart keeps them
    start_http_server --mqtt-listen="127.0.0.1:$mport" --http-listen="127.0.0.1:$hport" --event-loops=2 --durability="$dur"
    "$PY" "$SRC/tests/integration/mqtt_durable.py" "$mport" subscribe || fail "subscribe phase"
    "$PY" "$SRC/tests/integration/mqtt_durable.py" "$mport" publish "$N" "$pid" ||
        fail "publish phase"
    status=0
    wait "$pid" || status=$?
    pid=""
    [ "$status" = 137 ] || fail "server exit status $status, not SIGKILL's 137"
    ok "durability=$dur: SIGKILL right after $((N + 1)) PUBACKs"

    mv "$tmp/log" "$tmp/log.$dur"
    start_http_server --mqtt-listen="127.0.0.1:$mport" --http-listen="127.0.0.1:$hport" --event-loops=2 --durability="$dur"
    grep -q "restored 3 persistent sessions" "$tmp/log" || fail "the 3 sessions were not restored"
    "$PY" "$SRC/tests/integration/mqtt_durable.py" "$mport" receive "$N" ||
        fail "an acknowledged message was lost (durability=$dur)"
    ok "durability=$dur: every acknowledged message delivered after the restart"
    stop_server
done
