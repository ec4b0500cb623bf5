#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_query_cancel.sh - a /query whose client disconnects while it runs is
# cancelled: the executor stops (cairn_query_cancelled_total counts it,
# cairn_query_running drops to 0) and the only query worker is free again.
# The query would run for a minute or more: 20000 statements, each reading all
# 20000 points through a field condition (no block stats) and sorting them
# for median().  Synchronisation is by polling /metrics (bounded tries),
# never by sleeping for a fixed time.
#
# Usage: CAIRN_BIN=build/release/cairn tests/integration/test_query_cancel.sh
set -euo pipefail

SRC=${CAIRN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${CAIRN_BIN:-$SRC/build/debug/cairn}
[ -x "$BIN" ] || { echo "FAIL: no executable at $BIN (set CAIRN_BIN)" >&2; exit 1; }
command -v curl >/dev/null || { echo "FAIL: curl is required" >&2; exit 1; }

# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" query_cancel

data="$tmp/data"
start_http_server --durability=os --query-workers=1

awk 'BEGIN { for (i = 0; i < 20000; i++) printf "m v=%d %d\n", i, 1767225600 + i }' >"$tmp/lp"
code=$(curl -s -o "$tmp/wr" -w '%{http_code}' -XPOST "$url/write?db=iot&precision=s" --data-binary @"$tmp/lp")
[ "$code" = 204 ] || fail "write answered $code: $(cat "$tmp/wr")"

metric() { curl -s "$url/metrics" | sed -n "s/^$1 //p"; }
wait_metric() { # wait_metric NAME VALUE: polls /metrics, at most ~30 s
    local i
    for ((i = 0; i < 600; i++)); do
        [ "$(metric "$1")" = "$2" ] && return 0
        kill -0 "$pid" 2>/dev/null || fail "server exited while waiting for $1 = $2"
        sleep 0.05
    done
    fail "$1 stayed at $(metric "$1"), want $2"
}
[ "$(metric cairn_query_cancelled_total)" = 0 ] || fail "cancelled before any query"
[ "$(metric cairn_query_running)" = 0 ] || fail "a query running before any query"
ok "metrics start at 0"

# the slow query, form-encoded, sent on a socket this shell holds open
{
    printf 'db=iot&q='
    awk 'BEGIN { for (i = 0; i < 20000; i++) printf "SELECT+median(v)+FROM+m+WHERE+v+%%3E+-1%%3B" }'
} >"$tmp/body"
len=$(wc -c <"$tmp/body")
exec 3<>"/dev/tcp/127.0.0.1/$port"
{
    printf 'POST /query HTTP/1.1\r\nHost: 127.0.0.1\r\n'
    printf 'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n' "$len"
    cat "$tmp/body"
} >&3
wait_metric cairn_query_running 1
ok "the query runs"

exec 3>&- # the client goes away mid-query
wait_metric cairn_query_cancelled_total 1
wait_metric cairn_query_running 0
ok "the disconnect cancelled it"

# the one worker is free: a query answers (it would wait minutes otherwise)
got=$(curl -s -G "$url/query" --data-urlencode db=iot --data-urlencode 'q=SELECT count(v) FROM m')
want='{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","count"],"values":[["1970-01-01T00:00:00Z",20000]]}]}]}'
[ "$got" = "$want" ] || fail "after the cancel: got [$got] want [$want]"
[ "$(metric cairn_query_cancelled_total)" = 1 ] || fail "a finished query counted as cancelled"
ok "the worker answers the next query"

stop_server
echo "PASS: $checks checks"
