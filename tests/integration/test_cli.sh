#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_cli.sh - drives the built `cairn` binary end to end: --help and
# --version output, exact config error messages and exit codes,
# --print-config round trip, README's key table against --help, then a
# real start on a temp data dir (--durability=os): wait for the "ready" log
# line, SIGHUP reload, SIGTERM, exit code 0, pid-file removed, data dir
# present, a restart on the same dir, and `cairn inspect`.
#
# Usage: CAIRN_BIN=build/debug/cairn tests/integration/test_cli.sh
# (ctest sets CAIRN_BIN, CAIRN_SRC and CAIRN_VERSION).  Uses no network;
# only signals the PIDs it started; waits by polling with a bounded loop.
set -euo pipefail

SRC=${CAIRN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${CAIRN_BIN:-$SRC/build/debug/cairn}
VERSION=${CAIRN_VERSION:-$(sed -n 's/^project(cairn VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")}
[ -x "$BIN" ] || { echo "FAIL: no executable at $BIN (set CAIRN_BIN)" >&2; exit 1; }

# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" cli

# run CMD...: sets $out, $err, $rc without tripping set -e.
run() {
    rc=0
    "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}

expect() { # expect RC STDERR DESCRIPTION
    [ "$rc" = "$1" ] || fail "$3: exit code $rc, want $1 (stderr: $err)"
    [ "$err" = "$2" ] || fail "$3: stderr
  got:  $err
  want: $2"
    ok "$3"
}

# ---------------------------------------------------------------- options

run "$BIN" --version
{ [ "$rc" = 0 ] && [ "$out" = "cairn $VERSION" ]; } || fail "--version printed '$out' (rc $rc)"
ok "--version prints 'cairn $VERSION'"

run "$BIN" --help
[ "$rc" = 0 ] || fail "--help exit code $rc"
keys=$(printf '%s\n' "$out" | sed -n 's/^  --\([a-z-]*\)=.*/\1/p')
for k in data-dir mqtt-listen http-listen durability log-level partition-duration retention \
    memtable-size wal-segment-size compression zstd-level group-commit event-loops pid-file; do
    grep -qx -- "$k" <<<"$keys" || fail "--help does not list $k"
done
# (a here-string, not a pipe: grep -q exits at its first match, and under
# pipefail the writer's SIGPIPE would fail the check)
grep -q '(default: 127.0.0.1:1883)' <<<"$out" || fail "--help lacks defaults"
ok "--help lists every key with its default"

for k in $keys; do
    grep -q "^| \`$k\` |" "$SRC/README.md" || fail "README.md's configuration table lacks $k"
done
ok "README.md documents every key --help lists"

printf 'data-dir = %s/x\n# comment\n\nfoo = bar\n' "$tmp" >"$tmp/unknown.conf"
run "$BIN" -c "$tmp/unknown.conf"
expect 2 "cairn: config $tmp/unknown.conf:4: unknown key 'foo'" "unknown key names file and line"

printf 'log-level = info\ndurability = sometimes\n' >"$tmp/bad.conf"
run "$BIN" -c "$tmp/bad.conf"
expect 2 "cairn: config $tmp/bad.conf:2: bad value 'sometimes' for 'durability': expected fsync or os" \
    "bad value names key, line and the expected form"

run "$BIN" --memtable-size=lots
expect 2 "cairn: option --memtable-size: bad value 'lots' for 'memtable-size': expected a size in bytes with optional k, M or G suffix, at least 64k" \
    "bad command-line value"

run "$BIN" --foo=1
expect 2 "cairn: unknown option '--foo=1' (see cairn --help)" "unknown option"

run "$BIN" --data-dir="$tmp/tpl" --topic-templates='devices/{device_id}/telemetry; a/{x}/{x}/m'
expect 2 "cairn: topic-templates: template 2: tag 'x' bound twice" "a bad topic template names itself"

run "$BIN" inspect
expect 2 "cairn: inspect: missing data directory (see cairn --help)" "inspect without DIR"

run "$BIN" --print-config --retention=2w --pid-file="$tmp/a b.pid"
[ "$rc" = 0 ] || fail "--print-config exit $rc"
printf '%s\n' "$out" >"$tmp/printed.conf"
grep -qx 'retention = 2w' "$tmp/printed.conf" || fail "--print-config lacks the override"
run "$BIN" -c "$tmp/printed.conf" --print-config
{ [ "$rc" = 0 ] && [ "$out" = "$(cat "$tmp/printed.conf")" ]; } || fail "--print-config does not round-trip"
ok "--print-config output reproduces the configuration"

# ----------------------------------------------------------------- server

data="$tmp/data"
cat >"$tmp/server.conf" <<CONF
data-dir = $data
log-level = info
memtable-size = 256M
http-listen = 127.0.0.1:0
mqtt-listen = 127.0.0.1:0
CONF

start_server() {
    : >"$tmp/log"
    "$BIN" -c "$tmp/server.conf" --durability=os --pid-file="$tmp/cairn.pid" 2>>"$tmp/log" &
    pid=$!
    wait_log ' ready'
}

stop_server() {
    kill -TERM "$pid"
    local status=0
    wait "$pid" || status=$?
    pid=""
    [ "$status" = 0 ] || fail "server exited with $status after SIGTERM"
    grep -q 'shutdown complete' "$tmp/log" || fail "no 'shutdown complete' in the log"
}

start_server
ok "server started and logged ready"
[ "$(cat "$tmp/cairn.pid")" = "$pid" ] || fail "pid-file holds '$(cat "$tmp/cairn.pid")', want $pid"
grep -q 'durability=os' "$tmp/log" || fail "the configuration is not logged"
grep -q 'mqtt-listen 127.0.0.1:0' "$tmp/log" || fail "mqtt-listen is not logged"
grep -q 'recovery replayed [0-9]* WAL records and truncated [0-9]* bytes' "$tmp/log" || fail "recovery stats are not logged"
ok "pid-file, configuration and recovery stats"

# SIGHUP: log-level applies at once; other keys wait for a restart; the
# command line (--durability=os) still overrides the file.
printf 'data-dir = %s\nlog-level = debug\nmemtable-size = 128M\ndurability = fsync\nhttp-listen = 127.0.0.1:0\nmqtt-listen = 127.0.0.1:0\n' \
    "$data" >"$tmp/server.conf"
kill -HUP "$pid"
wait_log 'SIGHUP handled'
grep -q 'reload: log-level = debug' "$tmp/log" || fail "log-level not reloaded"
grep -q 'reload: memtable-size changed (256M -> 128M); restart' "$tmp/log" ||
    fail "no restart warning for memtable-size"
if grep -q 'reload: durability' "$tmp/log"; then
    fail "the command-line override lost to the file on reload"
fi
ok "SIGHUP reloads log-level and warns about restart-only keys"

stop_server
ok "SIGTERM: clean shutdown, exit code 0"
[ -d "$data" ] || fail "data dir $data missing after shutdown"
[ ! -e "$tmp/cairn.pid" ] || fail "pid-file not removed at exit"
ok "data dir exists, pid-file removed"

start_server
stop_server
ok "restart on the same data dir"

run "$BIN" inspect "$data"
[ "$rc" = 0 ] || fail "inspect of a cleanly closed data dir: exit $rc ($out $err)"
ok "inspect verifies a cleanly closed data dir"

: >"$tmp/not-a-dir"
: >"$tmp/log"
rc=0
"$BIN" --data-dir="$tmp/not-a-dir" --durability=os 2>"$tmp/log" || rc=$?
[ "$rc" = 1 ] || fail "data-dir on a regular file: exit $rc, want 1"
grep -q 'ERROR.*cannot open data-dir' "$tmp/log" || fail "no error logged for a bad data-dir"
ok "unusable data-dir: error logged, exit 1"

echo "test_cli: all $checks checks passed"
