#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_export_kill.sh - an export SIGKILLed midway leaves no file that looks
# complete, and a re-run finishes it (issue 7).  Over 127.0.0.1 only: a
# server takes ~300k line-protocol rows (two measurements, ten devices, four
# UTC days: 8 partitions) and is stopped with SIGTERM; `cairn export` then
# runs in the background on its data directory and is SIGKILLed (its PID
# only) as soon as the first final-named part-*.parquet shows up in the
# output (so there is a finished file to check next to the *.tmp in flight).
# A round where the export finished before the kill landed is inconclusive
# and retried (up to $rounds times) before the test fails.  After the kill:
#   - every *.parquet under the output is complete: DuckDB reads it, it ends
#     with the PAR1 magic, and its row count equals that of the same
#     partition in the finished export below;
#   - any manifest lists only files that exist;
#   - *.tmp files may be left, nothing else with another name.
# Then the export is re-run to completion: exit 0, 8 files, no *.tmp left,
# a manifest listing exactly the files on disk, and DuckDB counts every row
# written (total and per measurement/day).
#
# Usage: CAIRN_BIN=build/debug/cairn tests/integration/test_export_kill.sh
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
source "$SRC/tests/integration/lib.sh" export-kill

data="$tmp/data"
out="$tmp/out"
rounds=4
xpid=""
# The exit trap of lib.sh only knows $pid (the server); kill a running export
# too (its PID only), then run lib.sh's cleanup.
cleanup_kill() {
    if [ -n "$xpid" ] && kill -0 "$xpid" 2>/dev/null; then
        kill -KILL "$xpid" 2>/dev/null || true
    fi
    cleanup
}
trap cleanup_kill EXIT

start_server() {
    start_http_server --mqtt-listen=127.0.0.1:0 --durability=os
}

# ----------------------------------------------------------------- write

# 2026-01-01T00:00:00Z, 4 days; env: 10 devices every 23 s (150260 rows),
# pwr: 10 devices every 23 s shifted by 7 s.  Written in chunks of 50k lines.
python3 - "$tmp" <<'PY'
import sys
d = sys.argv[1]
t0, span, step = 1767225600, 4 * 86400, 23
lines, per = [], {}
for m, off in (("env", 0), ("pwr", 7)):
    for dev in range(10):
        for t in range(t0 + off + dev, t0 + span, step):
            if m == "env":
                lines.append("env,device_id=d%d,site=s%d temp=%d.25,count=%di %d"
                             % (dev, dev % 3, t % 1000, t % 7919, t))
            else:
                lines.append("pwr,device_id=d%d watts=%di,on=%s %d"
                             % (dev, t % 503, "true" if t % 2 else "false", t))
            k = (m, (t - t0) // 86400)
            per[k] = per.get(k, 0) + 1
for i in range(0, len(lines), 50000):
    open("%s/chunk-%03d" % (d, i // 50000), "w").write("\n".join(lines[i:i + 50000]) + "\n")
open(d + "/expect", "w").write("%d\n" % len(lines))
with open(d + "/per", "w") as f:
    for (m, day), n in sorted(per.items()):
        f.write("%s 2026-01-%02d %d\n" % (m, day + 1, n))
PY
n_rows=$(cat "$tmp/expect")
[ "$(wc -l <"$tmp/per")" = 8 ] || fail "generator: $(cat "$tmp/per")"

start_server
for f in "$tmp"/chunk-*; do
    code=$(curl -sS -o "$tmp/body" -w '%{http_code}' --data-binary @"$f" \
        "$url/write?db=x&precision=s") || fail "curl /write $f"
    [ "$code" = 204 ] || fail "/write status $code: $(cat "$tmp/body")"
done
rm -f "$tmp"/chunk-*
stop_server
ok "wrote $n_rows rows over HTTP (2 measurements x 4 days), server stopped with SIGTERM"

# ------------------------------------------------------------ kill midway

killed=0
for ((r = 1; r <= rounds; r++)); do
    rm -rf "$out"
    mkdir -p "$out"
    "$BIN" export --data-dir "$data" --out "$out" >"$tmp/xout" 2>"$tmp/xerr" &
    xpid=$!
    # Bounded poll (~20 s): the first final-named file in $out.
    seen=0
    for ((i = 0; i < 4000; i++)); do
        if [ -n "$(find "$out" -type f -name '*.parquet' -print -quit 2>/dev/null)" ]; then
            seen=1
            break
        fi
        kill -0 "$xpid" 2>/dev/null || break
        sleep 0.005
    done
    kill -KILL "$xpid" 2>/dev/null || true
    status=0
    wait "$xpid" || status=$?
    xpid=""
    if [ "$status" = 137 ] && [ -z "$(find "$out" -name '_manifest-*.json')" ]; then
        killed=1
        break
    fi
    [ "$status" = 0 ] || [ "$status" = 137 ] ||
        fail "export exited with $status before the kill: $(cat "$tmp/xerr")"
    [ "$seen" = 1 ] || [ "$status" = 0 ] || fail "no file appeared in $out within 20 s"
    echo "# round $r inconclusive: export finished (status $status) before SIGKILL landed"
done
[ "$killed" = 1 ] ||
    fail "export always finished before SIGKILL in $rounds rounds: make the data larger"
(cd "$out" && find . -type f | sort) >"$tmp/after_kill"
n_final=$(grep -c '\.parquet$' "$tmp/after_kill" || true)
n_tmp=$(grep -c '\.tmp$' "$tmp/after_kill" || true)
[ "$n_final" -ge 1 ] || fail "no final file after the kill: $(cat "$tmp/after_kill")"
ok "export SIGKILLed midway in round $r: $n_final final file(s), $n_tmp *.tmp, no manifest"

# Only final parquet files, their *.tmp and manifests may exist.
if grep -v -e '\.parquet$' -e '\.tmp$' -e '^\./_manifest-.*\.json$' "$tmp/after_kill" >"$tmp/odd"; then
    fail "unexpected files after the kill: $(cat "$tmp/odd")"
fi
ok "after the kill only *.parquet and *.tmp files exist"

# Every final-named file is complete: PAR1 at both ends and DuckDB reads it.
: >"$tmp/partial_counts"
while read -r p; do
    if [ "$(head -c 4 "$out/$p")" != PAR1 ] || [ "$(tail -c 4 "$out/$p")" != PAR1 ]; then
        fail "$p has a final name but no PAR1 magic at both ends"
    fi
    n=$(duck "SELECT count(*) FROM read_parquet('$out/$p')")
    echo "$p $n" >>"$tmp/partial_counts"
done < <(grep '\.parquet$' "$tmp/after_kill")
ok "each of the $n_final final-named file(s) is whole Parquet that DuckDB reads"

# A manifest (none is expected) may only list files that exist.
for m in "$out"/_manifest-*.json; do
    [ -e "$m" ] || continue
    python3 - "$m" "$out" <<'PY' || fail "manifest $m lists missing files"
import json, os, sys
m = json.load(open(sys.argv[1]))
for f in m["files"]:
    assert os.path.isfile(os.path.join(sys.argv[2], f["path"])), f["path"]
PY
done
ok "no manifest lists a file that does not exist"

# ----------------------------------------------------------------- re-run

sleep 1 # a distinct manifest name should an earlier one exist
rc=0
"$BIN" export --data-dir "$data" --out "$out" >"$tmp/xout" 2>"$tmp/xerr" || rc=$?
[ "$rc" = 0 ] || fail "re-run export: exit $rc: $(cat "$tmp/xerr")"
grep -q "^exported $n_rows rows to 8 files" "$tmp/xout" || fail "summary: $(cat "$tmp/xout")"
ok "re-run: $(cat "$tmp/xout")"

[ -z "$(find "$out" -name '*.tmp')" ] || fail "temporary files left: $(find "$out" -name '*.tmp')"
[ "$(find "$out" -name '*.parquet' | wc -l)" = 8 ] ||
    fail "files after re-run: $(cd "$out" && find . -type f)"
manifest=$(find "$out" -name '_manifest-*.json')
[ "$(echo "$manifest" | wc -l)" = 1 ] || fail "manifests: $manifest"
python3 - "$manifest" "$out" "$n_rows" <<'PY' || fail "manifest after re-run: $(cat "$manifest")"
import json, os, sys
m, out, n = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3])
listed = sorted(f["path"].lstrip("./") for f in m["files"])
disk = sorted(os.path.relpath(os.path.join(r, x), out) for r, _, fs in os.walk(out)
              for x in fs if x.endswith(".parquet"))
assert listed == disk, (listed, disk)
for f in m["files"]:
    assert os.path.getsize(os.path.join(out, f["path"])) == f["bytes"], f
assert m["rows"] == n == sum(f["rows"] for f in m["files"]), (m["rows"], n)
PY
ok "no *.tmp left; one manifest listing exactly the 8 files on disk, $n_rows rows"

rp="read_parquet('$out/**/*.parquet', hive_partitioning=true)"
got=$(duck "SELECT count(*) FROM $rp")
[ "$got" = "$n_rows" ] || fail "DuckDB counts $got rows, wrote $n_rows"
got=$(duck "SELECT measurement, strftime(date, '%Y-%m-%d'), count(*) FROM $rp
    GROUP BY ALL ORDER BY 1, 2" | tr '\t' ' ')
[ "$got" = "$(cat "$tmp/per")" ] || fail "per partition: got '$got' want '$(cat "$tmp/per")'"
ok "DuckDB reads all $n_rows rows back, per measurement and day as written"

# Files that survived the kill hold their partition's full row count.
while read -r p n; do
    want=$(duck "SELECT count(*) FROM read_parquet('$out/$p')")
    [ "$n" = "$want" ] || fail "$p had $n rows after the kill, $want when complete"
done <"$tmp/partial_counts"
ok "file(s) present after the kill held their partition's complete rows"

echo "all $checks checks passed"
