#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_export_csv.sh - `cairn export --format csv` and `--where`, over
# 127.0.0.1 only: a server takes 300 line-protocol rows over two UTC days
# (two devices, float, int, bool and string fields with quotes, commas and
# an empty string, the bool missing in some rows, a tag only one device
# has); after SIGTERM the CSV export runs on its data directory and DuckDB
# reads it back (read_csv(..., hive_partitioning=true)): per-device counts,
# sums, min and max equal to the generator's, nulls, strings, time values;
# then the exact bytes of a header and first line, the manifest, and
# --where cases (tag, field, time, regex, OR across tags and fields,
# arithmetic) whose row counts must equal the generator's.
#
# Usage: CAIRN_BIN=build/debug/cairn tests/integration/test_export_csv.sh
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
source "$SRC/tests/integration/lib.sh" export-csv

data="$tmp/data"
out="$tmp/out"

# 2026-01-01T12:00:00Z + i*600 s, i < 150: 25 hours over two UTC days.  The
# generator also writes rows.json (one object per row) for the --where
# expectations below.
python3 - "$tmp/lines" "$tmp/rows.json" <<'PY'
import json, sys
t0 = 1767225600 + 43200
lines, rows = [], []
notes = ['s0 "q"', "a,b", "", " pad", "plain"]
for dev, scale, site in (("d1", 0.5, "a"), ("d2", 0.25, None)):
    for i in range(150):
        t = t0 + i * 600
        note = notes[i % 5]
        f = ["temp=%r" % (i * scale), "count=%di" % i,
             'note="%s"' % note.replace("\\", "\\\\").replace('"', '\\"')]
        ok = None
        if i % 3:
            ok = bool(i % 2)
            f.append("ok=%s" % ("true" if ok else "false"))
        tags = ",site=" + site if site else ""
        lines.append("env,device_id=%s%s %s %d" % (dev, tags, ",".join(f), t))
        rows.append({"dev": dev, "site": site, "temp": i * scale, "count": i, "note": note,
                     "ok": ok, "t": t})
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
json.dump(rows, open(sys.argv[2], "w"))
PY

start_http_server --mqtt-listen=127.0.0.1:0 --durability=os
code=$(curl -sS -o "$tmp/body" -w '%{http_code}' --data-binary @"$tmp/lines" \
    "$url/write?db=x&precision=s") || fail "curl /write"
[ "$code" = 204 ] || fail "/write status $code: $(cat "$tmp/body")"
stop_server
ok "wrote 300 rows over HTTP, server stopped"

# ------------------------------------------------------------------- CSV

rc=0
"$BIN" export --data-dir "$data" --out "$out" --format csv >"$tmp/xout" 2>"$tmp/xerr" || rc=$?
[ "$rc" = 0 ] || fail "export --format csv: exit $rc: $(cat "$tmp/xerr")"
grep -q "^exported 300 rows to 2 files" "$tmp/xout" || fail "summary: $(cat "$tmp/xout")"
(cd "$out" && find . -type f | sort) >"$tmp/files"
printf '%s\n' ./measurement=env/date=2026-01-01/part-0.csv \
    ./measurement=env/date=2026-01-02/part-0.csv >"$tmp/want"
grep -v _manifest "$tmp/files" | diff - "$tmp/want" >/dev/null || fail "files: $(cat "$tmp/files")"
ok "CSV layout: measurement=env/date=*/part-0.csv"

f1="$out/measurement=env/date=2026-01-01/part-0.csv"
printf 'time,device_id,site,temp,count,note,ok\r\n2026-01-01T12:00:00.000000000Z,d1,a,0,0,"s0 ""q""",\r\n' \
    >"$tmp/head"
head -c "$(wc -c <"$tmp/head")" "$f1" | cmp - "$tmp/head" || fail "first bytes: $(head -2 "$f1" | od -c | head)"
grep -q '^2026-01-01T12:20:00.000000000Z,d1,a,1,2,"",false' "$f1" || fail "empty string row"
grep -q '^2026-01-01T12:10:00.000000000Z,d1,a,0.5,1,"a,b",true' "$f1" || fail "comma row"
grep -q '^2026-01-01T12:30:00.000000000Z,d1,a,1.5,3," pad",'$'\r''$' "$f1" || fail "space row"
grep -q '^2026-01-01T12:00:00.000000000Z,d2,,0,0,"s0 ""q""",'$'\r''$' "$f1" || fail "null tag row"
ok "CSV bytes: header, RFC 4180 quoting, empty string \"\" vs null, RFC 3339 ns time"

rc="read_csv('$out/measurement=env/**/*.csv', hive_partitioning=true, header=true,
    allow_quoted_nulls=false, types={'time': 'TIMESTAMP_NS', 'note': 'VARCHAR', 'site': 'VARCHAR'})"
got=$(duck "SELECT device_id, count(*), sum(count), min(count), max(count), sum(temp), min(temp),
    max(temp), count(ok), count(*) FILTER (WHERE ok), count(site), count(DISTINCT note)
    FROM $rc GROUP BY 1 ORDER BY 1" | tr '\t' ' ')
want=$(python3 - "$tmp/rows.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
for d in ("d1", "d2"):
    r = [x for x in rows if x["dev"] == d]
    c = [x["count"] for x in r]
    t = [x["temp"] for x in r]
    def num(v):
        return str(int(v)) if v == int(v) else repr(v)
    print(d, len(r), sum(c), min(c), max(c), num(sum(t)), num(min(t)), num(max(t)),
          sum(x["ok"] is not None for x in r), sum(x["ok"] is True for x in r),
          sum(x["site"] is not None for x in r), 5)
PY
)
[ "$got" = "$want" ] || fail "DuckDB per device: got '$got' want '$want'"
ok "DuckDB read_csv: per-device counts, sums, min, max, nulls as the generator"

got=$(duck "SELECT count(*) FILTER (WHERE note = ''), count(*) FILTER (WHERE note IS NULL) FROM $rc")
[ "$got" = "$(printf '60\t0')" ] || fail "empty strings: $got"
got=$(duck "SELECT strftime(min(time), '%Y-%m-%dT%H:%M:%S'), strftime(max(time), '%Y-%m-%dT%H:%M:%S'),
    count(DISTINCT date) FROM $rc" | tr '\t' ' ')
[ "$got" = "2026-01-01T12:00:00 2026-01-02T12:50:00 2" ] || fail "times: $got"
ok "DuckDB: empty strings survive (60 rows), time range and two date partitions"

manifest=$(ls "$out"/_manifest-*.json)
python3 - "$manifest" <<'PY' || fail "manifest: $(cat "$manifest")"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["format"] == "csv" and m["compression"] == "none" and m["time_format"] == "rfc3339", m
assert m["rows"] == 300 and len(m["files"]) == 2, m
assert all(f["path"].endswith(".csv") for f in m["files"]), m
PY
ok "manifest: format csv, 2 files, 300 rows"

rm -rf "$out"
"$BIN" export --data-dir "$data" --out "$out" --format csv --time-format ms --from 2026-01-02 \
    >/dev/null 2>"$tmp/xerr" || fail "export --time-format ms: $(cat "$tmp/xerr")"
sed -n 2p "$out/measurement=env/date=2026-01-02/part-0.csv" | grep -q '^1767312000000,d1,a,36,72,' ||
    fail "ms times: $(sed -n 2p "$out/measurement=env/date=2026-01-02/part-0.csv")"
ok "--time-format ms writes integer epoch milliseconds"

# ----------------------------------------------------------------- where

# Each case: condition, the same condition as a Python expression over a
# generator row r (tags missing read as ''), and the format.  Every case is
# exported first; one DuckDB run then counts them all.
ncase=0
: >"$tmp/cases"
: >"$tmp/sql"
add_where() {
    local cond=$1 pyexpr=$2 fmt=${3:-parquet} dir="$tmp/w$ncase"
    rc=0
    "$BIN" export --data-dir "$data" --out "$dir" --format "$fmt" --where "$cond" \
        >"$tmp/xout" 2>"$tmp/xerr" || rc=$?
    [ "$rc" = 0 ] || fail "--where \"$cond\": exit $rc: $(cat "$tmp/xerr")"
    want=$(python3 - "$tmp/rows.json" "$pyexpr" <<'PY'
import json, re, sys
rows = json.load(open(sys.argv[1]))
keep = [r for r in rows if eval(sys.argv[2], {"re": re}, {"r": r, "site": r["site"] or ""})]
print(len(keep), sum(r["count"] for r in keep))
PY
)
    local sql
    if [ "${want%% *}" = 0 ]; then
        [ -z "$(find "$dir" -name "*.$fmt")" ] || fail "--where \"$cond\": files for no rows"
        sql="SELECT $ncase AS k, 0 AS n, 0 AS s"
    elif [ "$fmt" = csv ]; then
        sql="SELECT $ncase AS k, count(*) AS n, sum(count) AS s FROM read_csv('$dir/**/*.csv', header=true)"
    else
        sql="SELECT $ncase AS k, count(*) AS n, sum(count) AS s FROM read_parquet('$dir/**/*.parquet')"
    fi
    [ -s "$tmp/sql" ] && printf ' UNION ALL ' >>"$tmp/sql"
    printf '%s' "$sql" >>"$tmp/sql"
    printf '%s\t%s\t%s\n' "$ncase" "$want" "$cond ($fmt)" >>"$tmp/cases"
    ncase=$((ncase + 1))
}
add_where "device_id = 'd1'" 'r["dev"] == "d1"'
add_where "device_id != 'd1'" 'r["dev"] != "d1"' csv
add_where "device_id =~ /^d[0-9]$/ AND count >= 100" 'r["count"] >= 100'
add_where "device_id !~ /1\$/" 'r["dev"] != "d1"'
add_where "site = ''" 'site == ""'
add_where "site = 'a' OR count < 3" 'site == "a" or r["count"] < 3' csv
add_where "ok = true" 'r["ok"] is True'
add_where "ok != true" 'r["ok"] is False'
add_where "note =~ /^s0/ OR note = 'a,b'" 'r["note"].startswith("s0") or r["note"] == "a,b"' csv
add_where "temp * 4 > 100 AND temp < 40.0" 'r["temp"] * 4 > 100 and r["temp"] < 40'
add_where "time >= '2026-01-02T00:00:00Z' AND time < '2026-01-02T06:00:00Z'" \
    '1767312000 <= r["t"] < 1767312000 + 21600'
add_where "time > 1767312000000000000 OR device_id = 'd2'" \
    'r["t"] > 1767312000 or r["dev"] == "d2"'
add_where "count % 7 = 0 AND (device_id = 'd2' OR temp >= 70)" \
    'r["count"] % 7 == 0 and (r["dev"] == "d2" or r["temp"] >= 70)'
add_where "nosuchfield > 1" 'False'
add_where "time < '2020-01-01'" 'False'
duck "SELECT k, n, s FROM ($(cat "$tmp/sql")) ORDER BY k" >"$tmp/got"
while IFS=$'\t' read -r k want cond; do
    got=$(sed -n "$((k + 1))p" "$tmp/got" | cut -f2- | tr '\t' ' ')
    [ "$got" = "$want" ] || fail "--where \"$cond\": got '$got' want '$want'"
    ok "--where \"$cond\": $got"
done <"$tmp/cases"

rc=0
"$BIN" export --data-dir "$data" --out "$tmp/bad" --where "temp >" 2>"$tmp/xerr" || rc=$?
[ "$rc" = 2 ] || fail "bad --where: exit $rc, want 2"
grep -q "where: error parsing query" "$tmp/xerr" || fail "message: $(cat "$tmp/xerr")"
rc=0
"$BIN" export --data-dir "$data" --out "$tmp/bad" --where "mean(temp) > 1" 2>"$tmp/xerr" || rc=$?
[ "$rc" = 2 ] || fail "--where with a function: exit $rc, want 2"
grep -q "function mean() is not supported" "$tmp/xerr" || fail "message: $(cat "$tmp/xerr")"
rc=0
"$BIN" export --data-dir "$data" --out "$tmp/bad" --format csv --compression zstd 2>"$tmp/xerr" || rc=$?
[ "$rc" = 2 ] || fail "csv with --compression: exit $rc, want 2"
ok "a bad condition, a function in it and --compression with csv exit 2 with a message"

echo "all $checks checks passed"
