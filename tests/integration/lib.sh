# shellcheck shell=bash
# SPDX-License-Identifier: MIT
#
# lib.sh - shared harness of the integration scripts (sourced, not a test:
# the ctest glob takes only test_*.sh).  After `source lib.sh NAME`:
#   $tmp      a fresh temp dir, removed at exit
#   $pid      set it to the server's PID; the exit trap SIGKILLs it if alive
#   fail MSG  prints MSG and the server log ($tmp/log), exits 1
#   ok MSG    counts and prints a passed check ($checks)
#   expect WHAT GOT WANT  ok WHAT when GOT is WANT, else fail with both
#   wait_log PATTERN  polls $tmp/log (~30 s at most), fails if the server exits
#   start_http_server ARGS...  starts $BIN on $data (set by the caller) with HTTP on a free
#             loopback port (MQTT too) plus ARGS, waits for 'ready', sets $pid,
#             $url and $mqtt_port (the first MQTT listener's port)
#   stop_server  SIGTERMs $pid and fails unless it exits 0
#   free_ports N  prints N distinct free loopback ports, held together while
#             chosen (a port chosen alone and released could be the one the
#             server's own port-0 listener is given next)
#   duck SQL  runs one DuckDB query (tests/query's node package), prints
#             rows as tab-separated lines
tmp=$(mktemp -d "/tmp/cairn-test-$1.XXXXXX")
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

checks=0
fail() {
    echo "FAIL: $*" >&2
    if [ -f "$tmp/log" ]; then
        echo "--- server log" >&2
        cat "$tmp/log" >&2
    fi
    exit 1
}
ok() {
    checks=$((checks + 1))
    echo "ok $checks - $*"
}

# expect WHAT GOT WANT: one check of an exact answer (scripts that check
# something else define their own expect after sourcing this file)
expect() {
    [ "$2" = "$3" ] || fail "$1: got [$2] want [$3]"
    ok "$1"
}

wait_log() {
    local i
    for ((i = 0; i < 600; i++)); do
        if grep -q -- "$1" "$tmp/log" 2>/dev/null; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || fail "server exited while waiting for '$1'"
        sleep 0.05
    done
    fail "timed out waiting for '$1' in the log"
}

start_http_server() {
    : >"$tmp/log"
    # shellcheck disable=SC2154 # $data is set by the sourcing script
    "$BIN" --data-dir="$data" --http-listen=127.0.0.1:0 --mqtt-listen=127.0.0.1:0 "$@" \
        2>>"$tmp/log" &
    pid=$!
    wait_log ' ready'
    port=$(sed -n 's/.*http: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/log")
    [ -n "$port" ] || fail "no 'http: listening' line with the port"
    # shellcheck disable=SC2034 # $mqtt_port is for the sourcing script
    mqtt_port=$(sed -n 's/.*mqtt: listening on [^ ]*:\([0-9]*\) .*/\1/p' "$tmp/log" | head -n 1)
    # shellcheck disable=SC2034 # $url is for the sourcing script
    url="http://127.0.0.1:$port"
}

free_ports() {
    python3 -c 'import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
}

stop_server() {
    kill -TERM "$pid"
    local status=0
    wait "$pid" || status=$?
    pid=""
    [ "$status" = 0 ] || fail "server exited with $status after SIGTERM"
}

duck() {
    (cd "$SRC/tests/query" && node --input-type=module -e '
import { DuckDBInstance } from "@duckdb/node-api";
const db = await DuckDBInstance.create(":memory:");
const con = await db.connect();
const r = await con.runAndReadAll(process.argv[1]);
for (const row of r.getRows())
  console.log(row.map((v) => (v === null ? "NULL" : String(v))).join("\t"));
' "$1") || fail "duckdb query failed: $1"
}
