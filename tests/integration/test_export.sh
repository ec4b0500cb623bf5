#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_export.sh - `cairn export` end to end, over 127.0.0.1 only: a server
# takes 300 line-protocol rows over two UTC days (two devices, float, int,
# bool and string fields, the bool missing in some rows, a tag only one
# device has) and one row of a second measurement; after SIGTERM the export
# runs on its data directory and DuckDB reads the dataset back
# (read_parquet(..., hive_partitioning=true)): row counts, per-device counts,
# sums, nulls, strings, column types, row order; then the layout, the
# manifest (rows, CRC-32C), the refusal while a server holds the directory,
# and a re-export that replaces the files atomically.
#
# Usage: CAIRN_BIN=build/debug/cairn tests/integration/test_export.sh
# Needs curl, python3, node and @duckdb/node-api in tests/query/node_modules
# (tools/setup.sh, or npm ci --prefix tests/query).
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
source "$SRC/tests/integration/lib.sh" export

data="$tmp/data"
out="$tmp/out"
start_server() {
    start_http_server --mqtt-listen=127.0.0.1:0 --durability=os
}

# ----------------------------------------------------------------- write

# 2026-01-01T12:00:00Z + i*600 s, i < 150: 25 hours over two UTC days.
python3 - "$tmp/lines" "$tmp/expect" <<'PY'
import sys
t0 = 1767225600 + 43200
lines, day1 = [], 0
exp = {"rows": 0, "sum": 0.0, "null_ok": 0, "dev": {}}
for dev, scale, tags in (("d1", 0.5, ",site=a"), ("d2", 0.25, "")):
    for i in range(150):
        t = t0 + i * 600
        f = ["temp=%r" % (i * scale), "count=%di" % i, 'note="s%d \\"q\\""' % (i % 5)]
        if i % 3:
            f.append("ok=%s" % ("true" if i % 2 else "false"))
        else:
            exp["null_ok"] += 1
        lines.append("env,device_id=%s%s %s %d" % (dev, tags, ",".join(f), t))
        exp["rows"] += 1
        exp["sum"] += i * scale
        exp["dev"][dev] = exp["dev"].get(dev, 0) + 1
        day1 += t < 1767225600 + 86400
lines.append("pwr,device_id=d1 watts=5i %d" % t0)
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
open(sys.argv[2], "w").write("%d %r %d %d %d %d\n" % (exp["rows"], exp["sum"], exp["null_ok"],
                             exp["dev"]["d1"], exp["dev"]["d2"], day1))
PY
read -r n_rows sum_temp n_null d1_rows d2_rows day1_rows <"$tmp/expect"

start_server
code=$(curl -sS -o "$tmp/body" -w '%{http_code}' --data-binary @"$tmp/lines" \
    "$url/write?db=x&precision=s") || fail "curl /write"
[ "$code" = 204 ] || fail "/write status $code: $(cat "$tmp/body")"
ok "wrote $((n_rows + 1)) rows over HTTP"

rc=0
"$BIN" export --data-dir "$data" --out "$out" >"$tmp/xout" 2>"$tmp/xerr" || rc=$?
[ "$rc" = 1 ] || fail "export while the server runs: exit $rc, want 1"
grep -q "in use by another process" "$tmp/xerr" || fail "no clear message: $(cat "$tmp/xerr")"
ok "export refuses a data directory a server holds (exit 1, clear message)"
stop_server

# ---------------------------------------------------------------- export

rc=0
"$BIN" export --data-dir "$data" --out "$out" >"$tmp/xout" 2>"$tmp/xerr" || rc=$?
[ "$rc" = 0 ] || fail "export: exit $rc: $(cat "$tmp/xerr")"
grep -q "^exported $((n_rows + 1)) rows to 3 files" "$tmp/xout" || fail "summary: $(cat "$tmp/xout")"
ok "export: $(cat "$tmp/xout")"

(cd "$out" && find . -type f | sort) >"$tmp/files"
[ "$(grep -c 'parquet$' "$tmp/files")" = 3 ] || fail "files: $(cat "$tmp/files")"
grep -qx './measurement=env/date=2026-01-01/part-0.parquet' "$tmp/files" || fail "no day 1 file"
grep -qx './measurement=env/date=2026-01-02/part-0.parquet' "$tmp/files" || fail "no day 2 file"
grep -qx './measurement=pwr/date=2026-01-01/part-0.parquet' "$tmp/files" || fail "no pwr file"
[ "$(grep -c '^\./_manifest-[0-9]\{8\}T[0-9]\{6\}Z\.json$' "$tmp/files")" = 1 ] ||
    fail "no manifest: $(cat "$tmp/files")"
! grep -q '\.tmp$' "$tmp/files" || fail "temporary files left: $(cat "$tmp/files")"
ok "layout: measurement=*/date=*/part-0.parquet (two date= folders for env) and one manifest"

env_glob="$out/measurement=env/**/*.parquet"
rp="read_parquet('$env_glob', hive_partitioning=true)"
got=$(duck "SELECT count(*), sum(temp), count(*) - count(ok), count(DISTINCT note),
    min(note), count(*) FILTER (WHERE site IS NULL) FROM $rp")
want=$(printf '%s\t%s\t%s\t5\ts0 "q"\t%s' "$n_rows" "$sum_temp" "$n_null" "$d2_rows")
[ "$got" = "$want" ] || fail "aggregates: got '$got' want '$want'"
ok "DuckDB: $n_rows rows, sum(temp) $sum_temp, $n_null null ok, strings, null site for d2"

got=$(duck "SELECT device_id, count(*), sum(count), count(DISTINCT date) FROM $rp
    GROUP BY 1 ORDER BY 1" | tr '\t\n' ' ')
[ "$got" = "d1 $d1_rows 11175 2 d2 $d2_rows 11175 2 " ] || fail "per device: '$got'"
got=$(duck "SELECT date, count(*) FROM $rp GROUP BY 1 ORDER BY 1" | tr '\t\n' ' ')
[ "$got" = "2026-01-01 $day1_rows 2026-01-02 $((n_rows - day1_rows)) " ] || fail "per day: '$got'"
ok "DuckDB: per-device and per-day counts"

got=$(duck "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM $rp)" | tr '\t\n' ' ')
want="time TIMESTAMP WITH TIME ZONE device_id VARCHAR site VARCHAR "
for c in temp:DOUBLE count:BIGINT note:VARCHAR ok:BOOLEAN; do
    echo "$got" | grep -q "${c%%:*} ${c#*:} " || fail "column $c: types '$got'"
done
[ "${got#"$want"}" != "$got" ] || fail "leading columns: '$got'"
echo "$got" | grep -q "date DATE measurement VARCHAR $" || fail "hive columns: '$got'"
ok "DuckDB column types: $got"

got=$(duck "SELECT count(*) FROM (SELECT device_id, time, lag(device_id) OVER () AS pd,
    lag(time) OVER () AS pt FROM read_parquet('$out/measurement=env/date=2026-01-02/part-0.parquet'))
    WHERE pd IS NOT NULL AND (pd > device_id OR (pd = device_id AND pt >= time))")
[ "$got" = 0 ] || fail "rows not sorted by device then time ($got out of order)"
got=$(duck "SELECT epoch(time)::BIGINT, ok, note FROM $rp WHERE device_id = 'd1' ORDER BY time LIMIT 2" |
    tr '\t\n' '| ')
[ "$got" = '1767268800|NULL|s0 "q" 1767269400|true|s1 "q" ' ] || fail "first rows: '$got'"
ok "rows sorted by device then time; values and nulls round-trip"

got=$(duck "SELECT device_id, watts FROM read_parquet('$out/measurement=pwr/**/*.parquet')" | tr '\t' ' ')
[ "$got" = "d1 5" ] || fail "pwr: '$got'"
ok "second measurement exported on its own"

# -------------------------------------------------------------- manifest

manifest=$(ls "$out"/_manifest-*.json)
python3 - "$manifest" "$out" <<'PY' >"$tmp/mcheck" || fail "manifest: $(cat "$tmp/mcheck")"
import json, os, sys
m = json.load(open(sys.argv[1]))
tab = []
for n in range(256):
    c = n
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    tab.append(c)
def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = tab[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
for f in m["files"]:
    p = os.path.join(sys.argv[2], f["path"])
    b = open(p, "rb").read()
    assert f["bytes"] == len(b), (f, len(b))
    assert f["crc32c"] == "%08x" % crc32c(b), (f["path"], f["crc32c"], "%08x" % crc32c(b))
    print(f["path"], f["rows"], f["tmin"], f["tmax"])
assert m["rows"] == sum(f["rows"] for f in m["files"])
PY
while read -r path rows tmin tmax; do
    got=$(duck "SELECT count(*), strftime(min(time) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ'),
        strftime(max(time) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') FROM read_parquet('$out/$path')")
    [ "$got" = "$(printf '%s\t%s\t%s' "$rows" "$tmin" "$tmax")" ] ||
        fail "manifest $path: $rows $tmin $tmax, DuckDB $got"
done <"$tmp/mcheck"
[ "$(wc -l <"$tmp/mcheck")" = 3 ] || fail "manifest lists $(wc -l <"$tmp/mcheck") files"
ok "manifest lists the 3 files with matching rows, sizes, time ranges and CRC-32C"

# ------------------------------------------------------------- re-export

f1="$out/measurement=env/date=2026-01-01/part-0.parquet"
ino=$(stat -c %i "$f1")
: >"$f1.tmp" # a leftover from a killed export
sleep 1      # a new manifest name
rc=0
"$BIN" export --data-dir "$data" --out "$out" --compression snappy --from 2026-01-01 \
    --to 2026-01-03T00:00:00Z >"$tmp/xout" 2>"$tmp/xerr" || rc=$?
[ "$rc" = 0 ] || fail "re-export: exit $rc: $(cat "$tmp/xerr")"
[ "$(stat -c %i "$f1")" != "$ino" ] || fail "re-export did not replace $f1"
[ -z "$(find "$out" -name '*.tmp')" ] || fail "temporary files left: $(find "$out" -name '*.tmp')"
[ "$(find "$out" -name '_manifest-*.json' | wc -l)" = 2 ] || fail "no second manifest"
got=$(duck "SELECT count(*), sum(temp) FROM $rp" | tr '\t' ' ')
[ "$got" = "$n_rows $sum_temp" ] || fail "after re-export: '$got'"
got=$(duck "SELECT DISTINCT compression FROM parquet_metadata('$f1')")
[ "$got" = SNAPPY ] || fail "compression after re-export: $got"
ok "re-export replaces the files by rename (new inode, snappy), no *.tmp left"

rc=0
"$BIN" export --data-dir "$data" --out "$tmp/out2" --measurement env --from 1767312000000000000 \
    >"$tmp/xout" 2>"$tmp/xerr" || rc=$?
[ "$rc" = 0 ] || fail "export --from ns: exit $rc: $(cat "$tmp/xerr")"
(cd "$tmp/out2" && find . -name '*.parquet') >"$tmp/files"
[ "$(cat "$tmp/files")" = "./measurement=env/date=2026-01-02/part-0.parquet" ] ||
    fail "--measurement/--from: $(cat "$tmp/files")"
ok "--measurement and --from (integer ns) select one partition"

mkdir "$tmp/notdata"
rc=0
"$BIN" export --data-dir "$tmp/notdata" --out "$tmp/out3" 2>"$tmp/xerr" || rc=$?
[ "$rc" = 1 ] || fail "export of a directory that is no data directory: exit $rc, want 1"
grep -q "is not a cairn data directory" "$tmp/xerr" || fail "message: $(cat "$tmp/xerr")"
[ -z "$(ls -A "$tmp/notdata")" ] && [ ! -e "$tmp/out3" ] || fail "it created files"
ok "a directory that is not a data directory is refused and left untouched"

rc=0
"$BIN" export --out "$out" 2>"$tmp/xerr" || rc=$?
[ "$rc" = 2 ] || fail "export without --data-dir: exit $rc, want 2"
ok "usage errors exit 2"

# ------------------------------------------- the same answers as /query

# Per device, DuckDB over the exported files and cairn's own /query over
# the data directory agree on count, sum, min and max.
duck "SELECT device_id, count(temp), sum(temp), min(temp), max(temp), sum(count)
    FROM $rp GROUP BY 1 ORDER BY 1" >"$tmp/duck.tsv"
start_server
curl -sS -G "$url/query" --data-urlencode db=x --data-urlencode \
    "q=SELECT count(temp), sum(temp), min(temp), max(temp), sum(count) FROM env GROUP BY device_id" \
    >"$tmp/q.json" || fail "curl /query"
stop_server
python3 - "$tmp/q.json" "$tmp/duck.tsv" <<'PY' || fail "/query and DuckDB disagree (see above)"
import json, sys
res = json.load(open(sys.argv[1]))["results"][0]
got = {s["tags"]["device_id"]: s["values"][0][1:] for s in res["series"]}
want = {}
for line in open(sys.argv[2]):
    d, *v = line.rstrip("\n").split("\t")
    want[d] = [int(v[0]), float(v[1]), float(v[2]), float(v[3]), int(v[4])]
if sorted(got) != sorted(want):
    raise SystemExit("FAIL: devices %r vs %r" % (sorted(got), sorted(want)))
for d in want:
    if [float(x) for x in got[d]] != [float(x) for x in want[d]]:
        raise SystemExit("FAIL: %s: /query %r, DuckDB %r" % (d, got[d], want[d]))
PY
ok "per-device count, sum, min and max of the export equal cairn's /query answers"

echo "all $checks checks passed"
