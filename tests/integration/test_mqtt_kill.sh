#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_mqtt_kill.sh - an acknowledgement means durable, over MQTT: paho
# publishes the 'small' workload (36,000 JSON messages) at QoS 1 with
# clean_session=False; once 5,000 PUBACKs arrived cairn is SIGKILLed and
# restarted on the same port and data directory; paho reconnects and
# resends what was not acknowledged, with the same packet ids.  At the end
# every message must be stored exactly once with exact values (rows are
# keyed by series and timestamp, so a resent message that had been stored
# before the kill replaces itself), compared with the generator's CSV.
#
# Usage: CAIRN_BIN=... CAIRN_DUMP=... CAIRN_GEN=... tests/integration/test_mqtt_kill.sh
set -euo pipefail

SRC=${CAIRN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${CAIRN_BIN:-$SRC/build/debug/cairn}
DUMP=${CAIRN_DUMP:-$(dirname "$BIN")/tests/cairn_dump}
GEN=${CAIRN_GEN:-$(dirname "$BIN")/bench/cairn-gen}
for x in "$BIN" "$DUMP" "$GEN"; do
    [ -x "$x" ] || { echo "FAIL: no executable at $x (set CAIRN_BIN, CAIRN_DUMP, CAIRN_GEN)" >&2; exit 1; }
done
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3 # Debian's, with python3-paho-mqtt

# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" mqtt-kill

data="$tmp/data"
"$GEN" --size small --format json >"$tmp/small.json"
"$GEN" --size small --format csv >"$tmp/small.csv"
read -r mport hport < <(free_ports 2) # both fixed: the restart keeps them

start_http_server --mqtt-listen="127.0.0.1:$mport" --http-listen="127.0.0.1:$hport" --durability=fsync
: >"$tmp/acked"
"$PY" "$SRC/tests/integration/mqtt_pub_workload.py" "$mport" "$tmp/small.json" \
    --client-id kill-test --acked "$tmp/acked" >"$tmp/pub.out" 2>&1 &
pub=$!
for ((i = 0; i < 1200; i++)); do
    [ "$(wc -l <"$tmp/acked")" -ge 5000 ] && break
    kill -0 "$pub" 2>/dev/null || fail "publisher exited early: $(cat "$tmp/pub.out")"
    sleep 0.05
done
[ "$(wc -l <"$tmp/acked")" -ge 5000 ] || fail "no 5000 PUBACKs within 60 s"
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
before=$(wc -l <"$tmp/acked")
ok "SIGKILL after $before PUBACKs"

mv "$tmp/log" "$tmp/log.1"
start_http_server --mqtt-listen="127.0.0.1:$mport" --http-listen="127.0.0.1:$hport" --durability=fsync
grep -q "WAL records replayed" "$tmp/log" || fail "no recovery line after the restart"
wait "$pub" || fail "publisher after the restart: $(cat "$tmp/pub.out")"
[ "$(sort -n "$tmp/acked" | uniq | wc -l)" = 36000 ] || fail "not every message acknowledged"
ok "paho reconnected and resent; all 36000 messages acknowledged"
stop_server

"$DUMP" "$data" >"$tmp/dump" 2>"$tmp/dump.err" || fail "cairn_dump: $(cat "$tmp/dump.err")"
res=$(python3 "$SRC/tests/integration/rows_vs_csv.py" "$tmp/dump" "$tmp/small.csv" --no-tags fleet,model) ||
    fail "stored rows differ from the generator's CSV"
ok "every acknowledged message stored exactly once: $res"
