#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_ingest_e2e.sh - the standard 'small' workload (36,000 records,
# 360,000 field values) written through HTTP /write as line protocol in
# 5000-line batches from 2 writers, then read back from the data directory
# with cairn_dump and compared value by value with the generator's CSV
# (rows_vs_csv.py): every record stored exactly once with its tags and
# exact values.
#
# Usage: CAIRN_BIN=... CAIRN_DUMP=... CAIRN_GEN=... tests/integration/test_ingest_e2e.sh
set -euo pipefail

SRC=${CAIRN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${CAIRN_BIN:-$SRC/build/debug/cairn}
DUMP=${CAIRN_DUMP:-$(dirname "$BIN")/tests/cairn_dump}
GEN=${CAIRN_GEN:-$(dirname "$BIN")/bench/cairn-gen}
for x in "$BIN" "$DUMP" "$GEN"; do
    [ -x "$x" ] || { echo "FAIL: no executable at $x (set CAIRN_BIN, CAIRN_DUMP, CAIRN_GEN)" >&2; exit 1; }
done

# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" ingest-e2e

data="$tmp/data"
"$GEN" --size small --format lp >"$tmp/small.lp"
"$GEN" --size small --format csv >"$tmp/small.csv"
[ "$(wc -l <"$tmp/small.lp")" = 36000 ] || fail "generator wrote $(wc -l <"$tmp/small.lp") lines, want 36000"

# ------------------------------------------------------------ HTTP /write

start_http_server --mqtt-listen=127.0.0.1:0
python3 - "$port" "$tmp/small.lp" <<'PY' || fail "/write of the small workload (see above)"
import http.client, sys, threading
port, path = int(sys.argv[1]), sys.argv[2]
lines = open(path, "rb").read().splitlines(keepends=True)
batches = [b"".join(lines[i:i + 5000]) for i in range(0, len(lines), 5000)]
errs = []
def writer(k):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for body in batches[k::2]:
        c.request("POST", "/write?db=fleet&precision=ms", body)
        r = c.getresponse()
        text = r.read()
        if r.status != 204:
            errs.append((r.status, text[:200]))
ts = [threading.Thread(target=writer, args=(k,)) for k in range(2)]
[t.start() for t in ts]
[t.join() for t in ts]
if errs:
    raise SystemExit("FAIL: %r" % errs[:3])
PY
ok "36,000 records in 8 batches from 2 writers: every /write answered 204"
stop_server

"$DUMP" "$data" >"$tmp/dump" 2>"$tmp/dump.err" || fail "cairn_dump: $(cat "$tmp/dump.err")"
res=$(python3 "$SRC/tests/integration/rows_vs_csv.py" "$tmp/dump" "$tmp/small.csv") ||
    fail "stored rows differ from the generator's CSV"
ok "/write: $res with the generator's CSV"

# --------------------------------------------------------- MQTT at QoS 1

# The same workload as JSON on devices/<id>/telemetry (the default
# template): only device_id comes from the topic; fleet and model are not in
# the payload and there is no registry entry, so those tags are absent.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3 # Debian's, with python3-paho-mqtt
"$GEN" --size small --format json >"$tmp/small.json"
rm -rf "$data"
start_http_server --mqtt-listen=127.0.0.1:0
mport=$(sed -n 's/.*mqtt: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/log")
[ -n "$mport" ] || fail "no 'mqtt: listening' line with the port"
res=$("$PY" "$SRC/tests/integration/mqtt_pub_workload.py" "$mport" "$tmp/small.json") ||
    fail "QoS 1 publish of the small workload"
ok "paho, QoS 1, window 64: $res"
stop_server
"$DUMP" "$data" >"$tmp/dump" 2>"$tmp/dump.err" || fail "cairn_dump: $(cat "$tmp/dump.err")"
res=$(python3 "$SRC/tests/integration/rows_vs_csv.py" "$tmp/dump" "$tmp/small.csv" --no-tags fleet,model) ||
    fail "rows stored from MQTT differ from the generator's CSV"
ok "MQTT: $res with the generator's CSV"

# ---------------------------------- MQTT QoS 0 with an engine that lags

# A 64k memtable makes the engine refuse writes (CN_EFULL) while it
# flushes: cairn holds the publisher (stops reading its socket) until the
# engine takes writes again, so even QoS 0 loses nothing.
rm -rf "$data"
start_http_server --mqtt-listen=127.0.0.1:0 --memtable-size=64k
mport=$(sed -n 's/.*mqtt: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/log")
python3 "$SRC/tests/integration/mqtt_pub_qos0.py" "$mport" "$tmp/small.json" >/dev/null ||
    fail "QoS 0 publish of the small workload"
grep -q "ingest: engine behind, holding publishers" "$tmp/log" ||
    fail "the engine never fell behind: the test did not exercise holding"
stop_server
"$DUMP" "$data" >"$tmp/dump" 2>"$tmp/dump.err" || fail "cairn_dump: $(cat "$tmp/dump.err")"
res=$(python3 "$SRC/tests/integration/rows_vs_csv.py" "$tmp/dump" "$tmp/small.csv" --no-tags fleet,model) ||
    fail "rows stored from QoS 0 under back-pressure differ from the generator's CSV"
ok "QoS 0 with a 64k memtable: publisher held while the engine flushed; $res"

# --------------------------------------- bad payloads: counted, reported

rm -rf "$data"
start_http_server --mqtt-listen=127.0.0.1:0 --ingest-republish-errors=true
mport=$(sed -n 's/.*mqtt: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/log")
stdbuf -oL mosquitto_sub -p "$mport" -t '$cairn/errors/#' -C 2 -v -d >"$tmp/sub.out" 2>&1 &
sub=$!
for ((i = 0; i < 600; i++)); do
    grep -q "received SUBACK" "$tmp/sub.out" && break
    sleep 0.05
done
grep -q "received SUBACK" "$tmp/sub.out" || fail "mosquitto_sub did not subscribe"
# One connection (-l: a message per line): the third message arrives only
# if the bad second one did not cost the connection.
printf '%s\n' '{"v":1.5}' '{"v":1.5,' '{"v":true,"w":2.5}' |
    mosquitto_pub -p "$mport" -i badc -q 1 -t devices/d9/telemetry -l || fail "mosquitto_pub -l"
wait "$sub" || fail "mosquitto_sub: $(cat "$tmp/sub.out")"
grep '^\$cairn' "$tmp/sub.out" >"$tmp/reports"
cat >"$tmp/want" <<'JSON'
$cairn/errors/badc {"topic":"devices/d9/telemetry","template":"devices/{device_id}/telemetry","reason":"syntax","errors":1,"first":"line 1 col 10: unexpected end of input"}
$cairn/errors/badc {"topic":"devices/d9/telemetry","template":"devices/{device_id}/telemetry","reason":"type_conflict","errors":1,"first":"field 'v': field type conflict"}
JSON
diff -u "$tmp/want" "$tmp/reports" || fail "error reports differ"
ok "a bad payload and a type conflict are reported on \$cairn/errors/<client id>; the connection lives on"
stop_server
"$DUMP" "$data" >"$tmp/dump" 2>"$tmp/dump.err" || fail "cairn_dump: $(cat "$tmp/dump.err")"
printf 'telemetry,device_id=d9 v=1.5 X\ntelemetry,device_id=d9 w=2.5 X\n' >"$tmp/want"
sed 's/ [0-9]*$/ X/' "$tmp/dump" | sort >"$tmp/got"
diff -u "$tmp/want" "$tmp/got" || fail "stored rows after bad payloads"
ok "the good message and the good field of the conflicting one are stored"
