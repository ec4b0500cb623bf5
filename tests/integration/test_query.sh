#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_query.sh - /query end to end over 127.0.0.1: the 'small' workload
# (bench/gen) is written over /write, then tests/query/battery.mjs compares
# cairn's answers to InfluxQL queries with reference answers DuckDB
# computes from the generator's CSV: once while the data is in the
# memtable, once after a restart (the data then lives in segment blocks and
# aggregates fold block stats).  Then the HTTP surface: parse errors (400
# naming the position), missing q, several statements, unknown
# measurement, database required, CSV, gzip, chunked, epoch, pretty,
# CREATE/SHOW/DROP DATABASE, DELETE and DROP MEASUREMENT.
#
# Usage: CAIRN_BIN=build/release/cairn tests/integration/test_query.sh
set -euo pipefail

SRC=${CAIRN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${CAIRN_BIN:-$SRC/build/debug/cairn}
[ -x "$BIN" ] || { echo "FAIL: no executable at $BIN (set CAIRN_BIN)" >&2; exit 1; }
GEN=${CAIRN_GEN:-$(dirname "$BIN")/bench/cairn-gen}
[ -x "$GEN" ] || { echo "FAIL: no generator at $GEN (set CAIRN_GEN)" >&2; exit 1; }
for c in curl node gzip; do
    command -v "$c" >/dev/null || { echo "FAIL: $c is required" >&2; exit 1; }
done
[ -d "$SRC/tests/query/node_modules/@duckdb/node-api" ] ||
    { echo "FAIL: @duckdb/node-api missing (npm ci --prefix tests/query)" >&2; exit 1; }

# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" query

data="$tmp/data"
"$GEN" --size small --format lp >"$tmp/lp"
"$GEN" --size small --format csv >"$tmp/small.csv"

start_http_server --mqtt-listen=127.0.0.1:0 --durability=os
code=$(curl -s -o "$tmp/wr" -w '%{http_code}' -XPOST "$url/write?db=fleet&precision=ms" \
    --data-binary @"$tmp/lp")
[ "$code" = 204 ] || fail "write answered $code: $(cat "$tmp/wr")"
ok "36000 points written"

battery() {
    (cd "$SRC/tests/query" && node battery.mjs "$url" fleet "$tmp/small.csv") >"$tmp/battery" 2>&1 ||
        { cat "$tmp/battery" >&2; fail "battery ($1)"; }
    ok "$(tail -1 "$tmp/battery") ($1)"
}
battery "memtable"
stop_server
start_http_server --mqtt-listen=127.0.0.1:0 --durability=os
battery "segments"

q() { # q QUERY [curl args...]: prints the body
    local query=$1
    shift
    curl -s "$@" "$url/query" --data-urlencode "q=$query"
}

# parse errors: 400 with InfluxDB's message naming the position
code=$(curl -s -o "$tmp/b" -w '%{http_code}' "$url/query?db=fleet" \
    --data-urlencode "q=SELECT mean(x) FROMM telemetry")
expect "parse error status" "$code" 400
expect "parse error body" "$(cat "$tmp/b")" \
    '{"error":"error parsing query: found FROMM, expected FROM at line 1, char 16"}'
code=$(curl -s -o "$tmp/b" -w '%{http_code}' "$url/query?db=fleet")
expect "missing q" "$code $(cat "$tmp/b")" '400 {"error":"missing required parameter \"q\""}'

# several statements, unknown measurement, database required
expect "two statements" "$(q 'SELECT count(rpm) FROM telemetry WHERE device_id='"'"'dev-000001'"'"'; SELECT mean(x) FROM nosuch' -G --data-urlencode db=fleet)" \
    '{"results":[{"statement_id":0,"series":[{"name":"telemetry","columns":["time","count"],"values":[["1970-01-01T00:00:00Z",360]]}]},{"statement_id":1}]}'
expect "database required" "$(q 'SELECT count(rpm) FROM telemetry' -G)" \
    '{"results":[{"statement_id":0,"error":"database name required"}]}'
expect "POST form body" "$(curl -s -XPOST "$url/query" --data-urlencode 'q=SHOW MEASUREMENTS' --data-urlencode db=fleet)" \
    '{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["telemetry"]]}]}]}'
# the parameters as Go's FormValue finds them for InfluxDB 1.6.7 (whose
# answers these are): a form-encoded body wins over the URL, a multipart
# one only fills what the URL lacks, a multipart file named q is read when
# q is otherwise empty, another Content-Type's body is not read, q is
# trimmed, and a q without statements answers {}
MEAS='{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["telemetry"]]}]}]}'
DBS='{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["fleet"]]}]}]}'
MISSING='{"error":"missing required parameter \"q\""}'
expect "form body wins" "$(curl -s -XPOST "$url/query?q=SHOW%20DATABASES&db=nodb" --data 'q=SHOW MEASUREMENTS&db=fleet')" "$MEAS"
expect "form body, any case and a charset" "$(curl -s -XPOST "$url/query?q=SHOW%20DATABASES" -H 'Content-Type: Application/X-WWW-Form-Urlencoded; charset=utf-8' --data 'q=SHOW MEASUREMENTS&db=fleet')" "$MEAS"
expect "text/plain body not read" "$(curl -s -XPOST "$url/query" -H 'Content-Type: text/plain' --data 'q=SHOW DATABASES')" "$MISSING"
expect "json body not read" "$(curl -s -XPOST "$url/query?q=SHOW%20DATABASES" -H 'Content-Type: application/json' --data '{"q":"x"}')" "$DBS"
printf 'SHOW DATABASES;\n SHOW MEASUREMENTS \n' >"$tmp/qf.txt"
expect "multipart file q" "$(curl -s -XPOST "$url/query" -F "q=@$tmp/qf.txt" -F db=fleet)" \
    '{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["fleet"]]}]},{"statement_id":1,"series":[{"name":"measurements","columns":["name"],"values":[["telemetry"]]}]}]}'
expect "multipart fills what the URL lacks" "$(curl -s -XPOST "$url/query?db=fleet" -F 'q=SHOW MEASUREMENTS' -F db=nodb)" "$MEAS"
expect "URL q before a multipart file" "$(curl -s -XPOST "$url/query?q=SHOW%20DATABASES" -F "q=@$tmp/qf.txt")" "$DBS"
expect "empty URL q hides a multipart q" "$(curl -s -XPOST "$url/query?q=" -F 'q=SHOW DATABASES')" "$MISSING"
expect "damaged multipart gives nothing" "$(curl -s -XPOST "$url/query?q=SHOW%20DATABASES" -H 'Content-Type: multipart/form-data; boundary=xyz' --data 'q=SHOW MEASUREMENTS')" "$DBS"
expect "q of blanks" "$(curl -s "$url/query?q=%20%09%20")" "$MISSING"
expect "q of no statement" "$(curl -s "$url/query?q=%20%3B%20")" '{}'
# requests pipelined after a query, the client half-closed after sending
# them: every one is answered (a query alone, then EOF, is still cancelled)
pipelined=$(python3 - "$url" <<'PY'
import socket, sys, re
host, port = re.match(r"http://([^:]+):(\d+)", sys.argv[1]).groups()
s = socket.create_connection((host, int(port)))
q = b"GET /query?db=fleet&q=SELECT+count(rpm)+FROM+telemetry HTTP/1.1\r\nHost: x\r\n\r\n"
s.sendall(q + q + b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
print(" ".join(m.decode() for m in re.findall(rb"HTTP/1\.1 (\d+)", data)))
PY
)
expect "pipelined requests after a half-close" "$pipelined" "200 200 204"
expect "Unicode blanks trimmed too" "$(curl -s "$url/query?q=%E3%80%80SHOW%20DATABASES%C2%A0%0A")" "$DBS"
# a NUL never ends a query early (the WHERE after it would be lost): it is
# the parser's error (InfluxDB 1.6.7 reads it as the end of the text)
expect "a NUL in q" "$(curl -s -G "$url/query" --data db=fleet --data 'q=DELETE+FROM+telemetry%00+WHERE+time+<+0')" \
    '{"error":"error parsing query: illegal character 0x00 at line 1, char 22"}'
expect "trimmed q and epoch" "$(curl -s -XPOST "$url/query" -F 'q=  SHOW MEASUREMENTS  ' -F 'epoch= ms' -F db=fleet)" "$MEAS"

# epoch, CSV, gzip, chunked, pretty
sel="SELECT rpm FROM telemetry WHERE device_id='dev-000002' LIMIT 2"
expect "epoch=s" "$(q "$sel" -G --data-urlencode db=fleet --data-urlencode epoch=s)" \
    "$(q "$sel" -G --data-urlencode db=fleet --data-urlencode epoch=ms | sed 's/000,/,/g')"
expect "csv" "$(q "$sel" -G --data-urlencode db=fleet -H 'Accept: application/csv')" \
    "$(printf 'name,tags,time,rpm\ntelemetry,,1767225600000000000,%s\ntelemetry,,1767225610000000000,%s' \
        "$(q "$sel" -G --data-urlencode db=fleet | sed 's/.*"values":\[\["[^"]*",\([0-9]*\)\],\["[^"]*",\([0-9]*\)\].*/\1/')" \
        "$(q "$sel" -G --data-urlencode db=fleet | sed 's/.*"values":\[\["[^"]*",\([0-9]*\)\],\["[^"]*",\([0-9]*\)\].*/\2/')")"
curl -s -H 'Accept-Encoding: gzip' -D "$tmp/h" -o "$tmp/gz" "$url/query?db=fleet" \
    --data-urlencode "q=$sel"
grep -qi '^Content-Encoding: gzip' "$tmp/h" || fail "no Content-Encoding: gzip"
expect "gzip body" "$(gzip -dc "$tmp/gz")" "$(q "$sel" -G --data-urlencode db=fleet)"
chunks=$(q "SELECT rpm FROM telemetry WHERE device_id='dev-000002' LIMIT 5" -G --data-urlencode db=fleet \
    --data-urlencode chunked=true --data-urlencode chunk_size=2 | wc -l)
expect "chunked: 3 JSON lines for 5 rows" "$chunks" 3
first=$(q "SELECT rpm FROM telemetry WHERE device_id='dev-000002' LIMIT 5" -G --data-urlencode db=fleet \
    --data-urlencode chunked=true --data-urlencode chunk_size=2)
grep -q '"partial":true}],"partial":true}]}' <<<"${first%%$'\n'*}" || fail "first chunk is not partial"
ok "chunk partial flags"
q "SHOW MEASUREMENTS" -G --data-urlencode db=fleet --data-urlencode pretty=true >"$tmp/p"
expect "pretty" "$(sed -n 2p "$tmp/p")" '    "results": ['

# tz(): windows and RFC 3339 times in the zone's offset
expect "tz rendering" "$(q "SELECT count(rpm) FROM telemetry WHERE device_id='dev-000001' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY time(1h) tz('Asia/Kolkata')" -G --data-urlencode db=fleet)" \
    '{"results":[{"statement_id":0,"series":[{"name":"telemetry","columns":["time","count"],"values":[["2026-01-01T05:00:00+05:30",180],["2026-01-01T06:00:00+05:30",180]]}]}]}'
expect "unknown zone" "$(q "SELECT count(rpm) FROM telemetry tz('Nowhere/Land')" -G --data-urlencode db=fleet)" \
    '{"results":[{"statement_id":0,"error":"unable to find time zone Nowhere/Land"}]}'

# DDL
expect "create database" "$(q 'CREATE DATABASE other')" '{"results":[{"statement_id":0}]}'
expect "show databases" "$(q 'SHOW DATABASES')" \
    '{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["fleet"],["other"]]}]}]}'
expect "delete" "$(q "DELETE FROM telemetry WHERE device_id='dev-000003' AND time < '2026-01-01T00:30:00Z'" -G --data-urlencode db=fleet)" \
    '{"results":[{"statement_id":0}]}'
expect "after delete" "$(q "SELECT count(rpm) FROM telemetry WHERE device_id='dev-000003'" -G --data-urlencode db=fleet)" \
    '{"results":[{"statement_id":0,"series":[{"name":"telemetry","columns":["time","count"],"values":[["1970-01-01T00:00:00Z",180]]}]}]}'
expect "drop measurement" "$(q 'DROP MEASUREMENT telemetry' --data-urlencode db=fleet)" \
    '{"results":[{"statement_id":0}]}'
expect "gone" "$(q 'SELECT count(rpm) FROM telemetry' -G --data-urlencode db=fleet)" \
    '{"results":[{"statement_id":0}]}'
stop_server
echo "PASS: $checks checks"
