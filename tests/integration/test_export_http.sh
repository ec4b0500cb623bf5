#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_export_http.sh - GET /api/v1/export (streamed Parquet and CSV),
# GET /api/v1/export/partitions and `cairn export --server`, over 127.0.0.1
# only: a server takes 300 rows of `env` over two UTC days and one row of
# `pwr`; while it runs, one day is fetched as Parquet and the whole of env
# as CSV (chunked), with and without a condition, and `cairn export
# --server` builds a dataset; after SIGTERM `cairn export --data-dir` builds
# the same dataset.  Then: the streamed day equals the CLI's file byte for
# byte, every --server file equals the --data-dir file byte for byte (and
# the manifests agree), the streamed CSV equals the CLI's CSV files row for
# row, DuckDB reads what came over HTTP with the generator's numbers, and
# the error answers (400, 404, 405) carry their messages.
#
# Usage: CAIRN_BIN=build/debug/cairn tests/integration/test_export_http.sh
# Needs curl, python3, node and @duckdb/node-api in tests/query/node_modules.
set -euo pipefail

SRC=${CAIRN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${CAIRN_BIN:-$SRC/build/debug/cairn}
[ -x "$BIN" ] || { echo "FAIL: no executable at $BIN (set CAIRN_BIN)" >&2; exit 1; }
for c in curl python3 node; do
    command -v "$c" >/dev/null || { echo "FAIL: $c is required" >&2; exit 1; }
done
if [ ! -d "$SRC/tests/query/node_modules/@duckdb/node-api" ]; then
    npm ci --prefix "$SRC/tests/query" >/dev/null 2>&1 ||
        { echo "FAIL: @duckdb/node-api missing and npm ci failed" >&2; exit 1; }
fi

# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" export-http

data="$tmp/data"
python3 - "$tmp/lines" <<'PY'
import sys
t0 = 1767225600 + 43200
lines = []
for dev, scale, tags in (("d1", 0.5, ",site=a"), ("d2", 0.25, "")):
    for i in range(150):
        f = ["temp=%r" % (i * scale), "count=%di" % i, 'note="s%d, \\"q\\""' % (i % 5)]
        if i % 3:
            f.append("ok=%s" % ("true" if i % 2 else "false"))
        lines.append("env,device_id=%s%s %s %d" % (dev, tags, ",".join(f), t0 + i * 600))
lines.append("pwr,device_id=d1 watts=5i %d" % t0)
# big: 20000 rows in one day, enough CSV to be streamed in chunks
for i in range(20000):
    lines.append("big,device_id=b%d v=%d.5,n=%di %d" % (i % 4, i, i, t0 + i))
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY

start_http_server --mqtt-listen=127.0.0.1:0 --durability=os
code=$(curl -sS -o "$tmp/body" -w '%{http_code}' --data-binary @"$tmp/lines" \
    "$url/write?db=x&precision=s") || fail "curl /write"
[ "$code" = 204 ] || fail "/write status $code: $(cat "$tmp/body")"
ok "wrote 20301 rows over HTTP"

# get NAME QUERY: GET /api/v1/export?QUERY into $tmp/NAME, headers in NAME.h
get() {
    curl -sS -D "$tmp/$1.h" -o "$tmp/$1" -w '%{http_code}' "$url/api/v1/export$2" ||
        fail "curl $2"
}
code=$(get day1.parquet "?measurement=env&from=2026-01-01&to=2026-01-02")
[ "$code" = 200 ] || fail "GET day 1: $code $(cat "$tmp/day1.parquet")"
grep -qi '^Content-Length: '"$(wc -c <"$tmp/day1.parquet")" "$tmp/day1.parquet.h" ||
    fail "small answers carry Content-Length: $(cat "$tmp/day1.parquet.h")"
grep -qi '^Content-Type: application/vnd.apache.parquet' "$tmp/day1.parquet.h" || fail "type"
grep -qi '^Content-Disposition: attachment; filename="env.parquet"' "$tmp/day1.parquet.h" ||
    fail "disposition: $(cat "$tmp/day1.parquet.h")"
ok "GET /api/v1/export (Parquet, one day): 200, application/vnd.apache.parquet, attachment"
code=$(get big.csv "?measurement=big&format=csv&time_format=ns")
[ "$code" = 200 ] || fail "GET big: $code"
# The job pool answers with Content-Length when the export ends before its
# first bytes reach the HTTP loop, else chunked: either way the body is whole.
grep -qi -e '^Transfer-Encoding: chunked' -e '^Content-Length: '"$(wc -c <"$tmp/big.csv")" \
    "$tmp/big.csv.h" || fail "framing: $(cat "$tmp/big.csv.h")"
[ "$(wc -l <"$tmp/big.csv")" = 20001 ] || fail "big.csv has $(wc -l <"$tmp/big.csv") lines"
ok "a large answer (737 kB of CSV) arrives whole, chunked or with its Content-Length"

code=$(get env.csv "?measurement=env&format=csv")
[ "$code" = 200 ] || fail "GET csv: $code $(cat "$tmp/env.csv")"
grep -qi '^Content-Type: text/csv; charset=utf-8; header=present' "$tmp/env.csv.h" || fail "csv type"
code=$(get where.parquet "?measurement=env&where=device_id%20%3D%20%27d2%27%20AND%20count%20%3E%3D%20100")
[ "$code" = 200 ] || fail "GET where: $code $(cat "$tmp/where.parquet")"
code=$(get pwr.parquet "?measurement=pwr&compression=snappy&time_format=ns")
[ "$code" = 200 ] || fail "GET pwr: $code"
ok "GET as CSV, with a condition, and with compression/time_format"

curl -sS -o "$tmp/parts" "$url/api/v1/export/partitions?from=2026-01-01T13:00:00Z" ||
    fail "curl partitions"
printf 'env\t2026-01-01\nenv\t2026-01-02\nbig\t2026-01-01\n' | cmp - "$tmp/parts" ||
    fail "partitions: $(cat "$tmp/parts")"
ok "GET /api/v1/export/partitions lists measurement and day"

# expect STATUS MESSAGE-PART QUERY [METHOD]
expect() {
    local code
    code=$(curl -sS -o "$tmp/err" -w '%{http_code}' -X "${4:-GET}" "$url/api/v1/export$3") ||
        fail "curl $3"
    [ "$code" = "$1" ] || fail "$3: status $code, want $1: $(cat "$tmp/err")"
    grep -q -- "$2" "$tmp/err" || fail "$3: body $(cat "$tmp/err"), want '$2'"
}
expect 400 'measurement is required' ''
expect 404 'measurement \\"nope\\" not found' '?measurement=nope'
expect 400 'where: error parsing query' '?measurement=env&where=temp%20%3E'
expect 400 'function mean() is not supported' '?measurement=env&where=mean(temp)%20%3E%201'
expect 400 'format must be parquet or csv' '?measurement=env&format=xml'
expect 400 'compression applies to format=parquet only' '?measurement=env&format=csv&compression=zstd'
expect 400 'from must be before to' '?measurement=env&from=2026-01-02&to=2026-01-01'
expect 405 'Method Not Allowed' '?measurement=env' POST
expect 404 'scheduled exports are off' '/run' POST
ok "errors: 400 (no measurement, bad condition, format, compression, range), 404, 405"

rc=0
"$BIN" export --server "$url" --out "$tmp/srv" >"$tmp/xout" 2>"$tmp/xerr" || rc=$?
[ "$rc" = 0 ] || fail "export --server: exit $rc: $(cat "$tmp/xerr")"
grep -q "^exported 20301 rows to 4 files" "$tmp/xout" || fail "summary: $(cat "$tmp/xout")"
rc=0
"$BIN" export --server "$url/" --out "$tmp/srvcsv" --format csv --where "count < 10" \
    >"$tmp/xout" 2>"$tmp/xerr" || rc=$?
[ "$rc" = 0 ] || fail "export --server csv: exit $rc: $(cat "$tmp/xerr")"
grep -q "^exported 20 rows to 1 files" "$tmp/xout" || fail "summary csv: $(cat "$tmp/xout")"
rc=0
"$BIN" export --server "$url" --out "$tmp/bad" --where "nosuch(x) > 1" 2>"$tmp/xerr" || rc=$?
[ "$rc" = 2 ] || fail "export --server with a bad condition: exit $rc"
grep -q "function nosuch() is not supported" "$tmp/xerr" || fail "message: $(cat "$tmp/xerr")"
ok "cairn export --server while the server runs: Parquet dataset, CSV with --where, errors"
stop_server

rc=0
"$BIN" export --data-dir "$data" --out "$tmp/cli" >/dev/null 2>"$tmp/xerr" || rc=$?
[ "$rc" = 0 ] || fail "export --data-dir: $(cat "$tmp/xerr")"
"$BIN" export --data-dir "$data" --out "$tmp/clicsv" --format csv >/dev/null 2>"$tmp/xerr" ||
    fail "export --data-dir csv: $(cat "$tmp/xerr")"
"$BIN" export --data-dir "$data" --out "$tmp/cliwcsv" --format csv --where "count < 10" \
    >/dev/null 2>"$tmp/xerr" || fail "export --data-dir csv where: $(cat "$tmp/xerr")"
"$BIN" export --data-dir "$data" --out "$tmp/clibig" --format csv --time-format ns --measurement big \
    >/dev/null 2>"$tmp/xerr" || fail "export --data-dir big: $(cat "$tmp/xerr")"

cmp "$tmp/day1.parquet" "$tmp/cli/measurement=env/date=2026-01-01/part-0.parquet" ||
    fail "the streamed day differs from the CLI's file"
ok "the streamed day is byte for byte the CLI's file"

for d in cli:srv cliwcsv:srvcsv; do
    a=${d%%:*} b=${d#*:}
    (cd "$tmp/$a" && find . -name 'part-*' | sort) >"$tmp/fa"
    (cd "$tmp/$b" && find . -name 'part-*' | sort) >"$tmp/fb"
    diff "$tmp/fa" "$tmp/fb" >/dev/null || fail "$b lists other files: $(cat "$tmp/fb")"
    while read -r f; do
        cmp "$tmp/$a/$f" "$tmp/$b/$f" || fail "$b/$f differs from $a/$f"
    done <"$tmp/fa"
done
python3 - "$tmp/cli" "$tmp/srv" <<'PY' || fail "manifests differ"
import glob, json, sys
def files(d):
    m = json.load(open(glob.glob(d + "/_manifest-*.json")[0]))
    return m["rows"], [(f["path"], f["measurement"], f["rows"], f["bytes"], f["crc32c"],
                        f["tmin_ns"], f["tmax_ns"]) for f in m["files"]]
a, b = files(sys.argv[1]), files(sys.argv[2])
assert a == b, (a, b)
PY
ok "--server files equal the --data-dir files byte for byte (Parquet; CSV with --where); manifests agree"

python3 - "$tmp/env.csv" "$tmp/clicsv" <<'PY' || fail "streamed CSV differs from the CLI's"
import sys
stream = open(sys.argv[1], "rb").read().split(b"\r\n")
header = stream[0]
rows = []
for day in ("2026-01-01", "2026-01-02"):
    f = open("%s/measurement=env/date=%s/part-0.csv" % (sys.argv[2], day), "rb").read().split(b"\r\n")
    assert f[0] == header, (f[0], header)
    rows += [l for l in f[1:] if l]
assert [l for l in stream[1:] if l] == rows, "rows differ"
assert len(rows) == 300
big = open(sys.argv[2].replace("clicsv", "clibig") + "/measurement=big/date=2026-01-01/part-0.csv", "rb").read()
assert open(sys.argv[1].replace("env.csv", "big.csv"), "rb").read() == big, "big differs"
PY
ok "the streamed CSV of env is row for row the CLI's two daily files; big's is byte for byte"

got=$(duck "SELECT count(*), sum(temp), sum(count) FROM read_parquet('$tmp/day1.parquet')" | tr '\t' ' ')
want=$(python3 -c "
d1=[i for i in range(150) if 1767268800+i*600 < 1767312000]
print(2*len(d1), int(sum(i*0.5 for i in d1)+sum(i*0.25 for i in d1)), 2*sum(d1))")
[ "$got" = "$want" ] || fail "DuckDB day 1: '$got' want '$want'"
got=$(duck "SELECT count(*), min(count), sum(temp), count(DISTINCT device_id) FROM read_parquet('$tmp/where.parquet')" | tr '\t' ' ')
[ "$got" = "50 100 1556.25 1" ] || fail "DuckDB where: '$got'"
got=$(duck "SELECT count(*), sum(count), count(ok), min(note) FROM read_csv('$tmp/env.csv', header=true)" | tr '\t' ' ')
[ "$got" = "300 22350 200 s0, \"q\"" ] || fail "DuckDB csv: '$got'"
got=$(duck "SELECT watts, epoch_ns(time) FROM read_parquet('$tmp/pwr.parquet')" | tr '\t' ' ')
[ "$got" = "5 1767268800000000000" ] || fail "DuckDB pwr: '$got'"
ok "DuckDB reads the streamed files: counts, sums, condition, CSV, ns times"

echo "all $checks checks passed"
