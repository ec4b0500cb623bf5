#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_export_schedule.sh - scheduled exports (export-dir) across a restart,
# over 127.0.0.1 only: a server with export-every = 1h takes 300 rows over
# /write (2026-01-01T12:00Z to 2026-01-02T12:50Z); POST /api/v1/export/run
# makes the scheduler run and the test waits for its "exported through"
# log line (the end of the last interval holding data); after a restart it
# takes 200 more rows after that point and runs again.  Then exactly the
# expected files exist, DuckDB finds every row exactly once with the
# generator's per-device counts and sums, meta.db holds the watermark, and
# a third start with nothing new exports nothing.
#
# Usage: CAIRN_BIN=build/debug/cairn tests/integration/test_export_schedule.sh
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
source "$SRC/tests/integration/lib.sh" export-schedule

data="$tmp/data"
xdir="$tmp/exports"
start_server() {
    start_http_server --mqtt-listen=127.0.0.1:0 --durability=os --export-dir="$xdir" \
        --export-every=1h --export-delay=0s "$@"
}
write_lines() {
    local code
    code=$(curl -sS -o "$tmp/body" -w '%{http_code}' --data-binary @"$1" \
        "$url/write?db=x&precision=s") || fail "curl /write"
    [ "$code" = 204 ] || fail "/write status $code: $(cat "$tmp/body")"
}
run_export() {
    local code
    code=$(curl -sS -o "$tmp/body" -w '%{http_code}' -X POST "$url/api/v1/export/run") ||
        fail "curl /api/v1/export/run"
    [ "$code" = 202 ] || fail "/api/v1/export/run status $code: $(cat "$tmp/body")"
}

# rows i < n at t0 + i*600 s for devices d1 and d2; count = i + base.
gen() {
    python3 - "$@" <<'PY'
import sys
out, t0, n, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
with open(out, "w") as f:
    for dev in ("d1", "d2"):
        for i in range(n):
            f.write("env,device_id=%s temp=%r,count=%di %d\n" % (dev, i * 0.5, base + i, t0 + i * 600))
PY
}
t1=$((1767225600 + 43200)) # 2026-01-01T12:00:00Z
gen "$tmp/p1" "$t1" 150 0   # through 2026-01-02T12:50:00Z
t2=$((t1 + 150 * 600))      # 2026-01-02T13:00:00Z
gen "$tmp/p2" "$t2" 100 1000 # through 2026-01-03T05:30:00Z

start_server
wait_log "export schedule: every 1h to $xdir"
write_lines "$tmp/p1"
run_export
wait_log "exported through 2026-01-02T13:00:00Z"
ok "phase 1: 300 rows written, the scheduler exported through the end of their last hour"
stop_server

start_server
write_lines "$tmp/p2"
run_export
wait_log "exported through 2026-01-03T06:00:00Z"
[ "$(grep -c 'export schedule: \[' "$tmp/log")" = 1 ] ||
    fail "the restarted server exported more than once: $(grep 'export schedule' "$tmp/log")"
ok "phase 2 after a restart: 200 more rows exported through 2026-01-03T06:00:00Z, in one run"
stop_server

(cd "$xdir" && find . -name '*.parquet' | sort) >"$tmp/files"
printf '%s\n' ./measurement=env/date=2026-01-01/part-20260101T120000Z.parquet \
    ./measurement=env/date=2026-01-02/part-20260101T120000Z.parquet \
    ./measurement=env/date=2026-01-02/part-20260102T130000Z.parquet \
    ./measurement=env/date=2026-01-03/part-20260102T130000Z.parquet | diff - "$tmp/files" ||
    fail "files: $(cat "$tmp/files")"
[ "$(find "$xdir" -name '_manifest-*.json' | wc -l)" = 2 ] || fail "want 2 manifests"
[ -z "$(find "$xdir" -name '*.tmp')" ] || fail "temporary files left"
ok "files: one per day and run, named after the run's start; 2 manifests"

rp="read_parquet('$xdir/measurement=env/**/*.parquet', hive_partitioning=true)"
got=$(duck "SELECT count(*), count(DISTINCT (device_id, time)), sum(count),
    strftime(min(time) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S'),
    strftime(max(time) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S') FROM $rp" | tr '\t' ' ')
want="500 500 $((2 * (11175 + 100 * 1000 + 4950))) 2026-01-01T12:00:00 2026-01-03T05:30:00"
[ "$got" = "$want" ] || fail "DuckDB: got '$got' want '$want'"
got=$(duck "SELECT device_id, count(*), sum(temp) FROM $rp GROUP BY 1 ORDER BY 1" | tr '\t\n' '  ')
[ "$got" = "d1 250 8062.5 d2 250 8062.5 " ] || fail "per device: '$got'"
ok "DuckDB: 500 rows, each exactly once, per-device counts and sums as written"

python3 - "$data/meta.db" "$xdir" <<'PY' || fail "meta.db"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT dir, exported_to FROM export_state").fetchall()
assert rows == [(sys.argv[2], 1767420000 * 10**9)], rows
assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
PY
ok "meta.db (WAL mode) records the watermark 2026-01-03T06:00:00Z for the export directory"

start_server --log-level=debug
run_export
wait_log "no new points in intervals closed by"
stop_server
[ "$(find "$xdir" -name '_manifest-*.json' | wc -l)" = 2 ] || fail "a third run exported"
ok "a restart with nothing new exports nothing"

echo "all $checks checks passed"
