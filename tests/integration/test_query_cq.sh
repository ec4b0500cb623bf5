#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_query_cq.sh - continuous queries end to end (server/cq_sched.c,
# query/exec/cq.c): points written for two seconds a little ahead of the
# clock, a CREATE CONTINUOUS QUERY with GROUP BY time(1s), *, and the
# scheduler's runs at the next two second boundaries must write exactly
# their means (polled for, up to 30 s, not slept for); SHOW CONTINUOUS
# QUERIES as InfluxDB 1.6.7 shapes it, the queries kept across a restart,
# a failing query logged and counted in /metrics, DROP CONTINUOUS QUERY.
#
# Usage: CAIRN_BIN=build/release/cairn tests/integration/test_query_cq.sh
set -euo pipefail

SRC=${CAIRN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${CAIRN_BIN:-$SRC/build/debug/cairn}
[ -x "$BIN" ] || { echo "FAIL: no executable at $BIN (set CAIRN_BIN)" >&2; exit 1; }
command -v curl >/dev/null || { echo "FAIL: curl is required" >&2; exit 1; }

# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" query_cq

data="$tmp/data"
start_http_server --durability=os

q() { # q QUERY [curl args...]: the body of a POST with db=iot
    local query=$1
    shift
    curl -s -XPOST "$url/query" --data-urlencode db=iot --data-urlencode "q=$query" "$@"
}
metric() { # metric NAME: its value in /metrics
    curl -s "$url/metrics" | sed -n "s/^$1 //p"
}
# poll_for WHAT CMD WANT: runs CMD every 0.2 s until it prints WANT (30 s at most)
poll_for() {
    local i got=""
    for ((i = 0; i < 150; i++)); do
        got=$(eval "$2")
        [ "$got" = "$3" ] && { ok "$1"; return 0; }
        sleep 0.2
    done
    fail "$1: still [$got] after 30 s, want [$3]"
}

expect "create database" "$(q 'CREATE DATABASE iot')" '{"results":[{"statement_id":0}]}'
# two whole seconds T and T+1, three seconds ahead: the query created now
# runs at T+1 (covering [T, T+1)) and T+2 (covering [T+1, T+2))
T=$(($(date +%s) + 3))
cat >"$tmp/lp" <<LP
m,host=a v=1 ${T}100
m,host=a v=3 ${T}600
m,host=b v=10 ${T}200
m,host=a v=5 $((T + 1))100
LP
code=$(curl -s -o "$tmp/b" -w '%{http_code}' -XPOST "$url/write?db=iot&precision=ms" --data-binary @"$tmp/lp")
[ "$code" = 204 ] || fail "write answered $code: $(cat "$tmp/b")"

CQ='CREATE CONTINUOUS QUERY cq1 ON iot BEGIN SELECT mean(v) INTO m_1s FROM m GROUP BY time(1s), * END'
expect "CREATE CONTINUOUS QUERY" "$(q "$CQ")" '{"results":[{"statement_id":0}]}'
expect "the same statement again" "$(q "$CQ")" '{"results":[{"statement_id":0}]}'
expect "another under its name" \
    "$(q 'CREATE CONTINUOUS QUERY cq1 ON iot BEGIN SELECT max(v) INTO m_1s FROM m GROUP BY time(1s) END')" \
    '{"results":[{"statement_id":0,"error":"continuous query already exists"}]}'
expect "an unknown database" \
    "$(q 'CREATE CONTINUOUS QUERY cq1 ON nodb BEGIN SELECT max(v) INTO m_1s FROM m GROUP BY time(1s) END')" \
    '{"results":[{"statement_id":0,"error":"database not found: nodb"}]}'
SHOWN='{"results":[{"statement_id":0,"series":[{"name":"iot","columns":["name","query"],"values":[["cq1","CREATE CONTINUOUS QUERY cq1 ON iot BEGIN SELECT mean(v) INTO iot.autogen.m_1s FROM iot.autogen.m GROUP BY time(1s), * END"]]}]}]}'
expect "SHOW CONTINUOUS QUERIES" "$(q 'SHOW CONTINUOUS QUERIES')" "$SHOWN"

poll_for "its runs wrote the two seconds' means" \
    "q 'SELECT count(mean) FROM m_1s' --data-urlencode epoch=s" \
    '{"results":[{"statement_id":0,"series":[{"name":"m_1s","columns":["time","count"],"values":[[0,3]]}]}]}'
expect "the means, per host" "$(q 'SELECT * FROM m_1s GROUP BY *' --data-urlencode epoch=s)" \
    "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m_1s\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"mean\"],\"values\":[[$T,2],[$((T + 1)),5]]},{\"name\":\"m_1s\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"mean\"],\"values\":[[$T,10]]}]}]}"
expect "no failures" "$(metric cairn_cq_failures_total)" 0

# kept across a restart
stop_server
start_http_server --durability=os
expect "SHOW CONTINUOUS QUERIES after a restart" "$(q 'SHOW CONTINUOUS QUERIES')" "$SHOWN"

# a query whose writes conflict (an integer into the float field mean),
# every second over the last ten minutes (which hold the points)
expect "a query that will fail" \
    "$(q 'CREATE CONTINUOUS QUERY bad ON iot RESAMPLE EVERY 1s FOR 10m BEGIN SELECT count(v) AS mean INTO m_1s FROM m GROUP BY time(1m) END')" \
    '{"results":[{"statement_id":0}]}'
poll_for "its failure counted" "metric cairn_cq_failures_total | awk '{ print (\$1 > 0) }'" 1
grep -q 'WARN  cq: bad on iot failed for \[[0-9]*, [0-9]*): partial write: field type conflict: input field "mean" on measurement "m_1s" is type integer, already exists as type float dropped=1' "$tmp/log" ||
    fail "no warning for the failed run in the log"
ok "its failure logged"

expect "DROP CONTINUOUS QUERY" "$(q 'DROP CONTINUOUS QUERY bad ON iot; DROP CONTINUOUS QUERY cq1 ON iot; SHOW CONTINUOUS QUERIES')" \
    '{"results":[{"statement_id":0},{"statement_id":1},{"statement_id":2,"series":[{"name":"iot","columns":["name","query"]}]}]}'
stop_server
echo "PASS: query_cq"
