# SPDX-License-Identifier: MIT
#
# lib.sh - shared harness of the integration scripts (sourced, not a test:
# the ctest glob takes only test_*.sh).  After `source lib.sh NAME`:
#   $tmp      a fresh temp dir, removed at exit
#   $pid      set it to the server's PID; the exit trap SIGKILLs it if alive
#   fail MSG  prints MSG and the server log ($tmp/log), exits 1
#   ok MSG    counts and prints a passed check ($checks)
#   wait_log PATTERN  polls $tmp/log (~30 s at most), fails if the server exits
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
