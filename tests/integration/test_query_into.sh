#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_query_into.sh - SELECT ... INTO (query/exec/into.c).  Every expected
# answer below is the one InfluxDB 1.6.7 gave for the same statements on
# the same points (the Debian influxd, 2026-11-27; where it was asked
# `time < now()` the test gives the lower bound too - the same windows,
# without the ~29 million empty 1-minute windows since 1970 that a
# GROUP BY time() from the first point computes, which under TSan took
# minutes), except where a comment says otherwise: raw rows, GROUP BY time() and tags, GROUP BY * keeping
# the tags, tags turned into fields without it, :MEASUREMENT, points at one
# time merged field by field, fill(null) windows not written and fill(0)
# of a mean stored as a float, selectors, expressions, ORDER BY / LIMIT, a
# string field, the target checks (database, retention policy, no
# database), a type conflict ending the request, the GET warning, epoch=
# in a form-encoded body.  Then the server is killed with SIGKILL right
# after an INTO answered, and its points must be there after the restart.
#
# Usage: CAIRN_BIN=build/release/cairn tests/integration/test_query_into.sh
set -euo pipefail

SRC=${CAIRN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${CAIRN_BIN:-$SRC/build/debug/cairn}
[ -x "$BIN" ] || { echo "FAIL: no executable at $BIN (set CAIRN_BIN)" >&2; exit 1; }
command -v curl >/dev/null || { echo "FAIL: curl is required" >&2; exit 1; }

# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" query_into

data="$tmp/data"
start_http_server --durability=fsync

code=$(curl -s -o "$tmp/b" -w '%{http_code}' -XPOST "$url/query" --data-urlencode "q=CREATE DATABASE iot")
[ "$code" = 200 ] || fail "CREATE DATABASE answered $code: $(cat "$tmp/b")"
cat >"$tmp/lp" <<'LP'
m,host=a,region=eu v=1,s="x" 1000000000
m,host=b,region=us v=2,n=5i 1000000000
m,host=a,region=eu v=3 2000000000
m,host=b,region=us v=4,b=true 61000000000
LP
code=$(curl -s -o "$tmp/b" -w '%{http_code}' -XPOST "$url/write?db=iot" --data-binary @"$tmp/lp")
[ "$code" = 204 ] || fail "write answered $code: $(cat "$tmp/b")"

q() { # q QUERY [curl args...]: the body of a POST with db=iot
    local query=$1
    shift
    curl -s -XPOST "$url/query" --data-urlencode db=iot --data-urlencode "q=$query" "$@"
}
written() { # written N: the answer of one INTO that wrote N points
    printf '{"results":[{"statement_id":0,"series":[{"name":"result","columns":["time","written"],"values":[["1970-01-01T00:00:00Z",%s]]}]}]}' "$1"
}

# --------------------------------------------------------------- answers
expect "raw rows: one point per row" "$(q 'SELECT v INTO m2 FROM m')" "$(written 4)"
expect "raw rows: points at one time merge, the later value wins" "$(q 'SELECT * FROM m2')" \
    '{"results":[{"statement_id":0,"series":[{"name":"m2","columns":["time","v"],"values":[["1970-01-01T00:00:01Z",2],["1970-01-01T00:00:02Z",3],["1970-01-01T00:01:01Z",4]]}]}]}'
expect "GROUP BY time(), host; epoch= in the form body" \
    "$(q 'SELECT mean(v) INTO m3 FROM m WHERE time >= 0 AND time < 3m GROUP BY time(1m), host' --data-urlencode epoch=ms)" \
    '{"results":[{"statement_id":0,"series":[{"name":"result","columns":["time","written"],"values":[[0,3]]}]}]}'
expect "GROUP BY tag: the tag stays a tag" "$(q 'SELECT * FROM m3; SHOW TAG KEYS FROM m3')" \
    '{"results":[{"statement_id":0,"series":[{"name":"m3","columns":["time","host","mean"],"values":[["1970-01-01T00:00:00Z","a",2],["1970-01-01T00:00:00Z","b",2],["1970-01-01T00:01:00Z","b",4]]}]},{"statement_id":1,"series":[{"name":"m3","columns":["tagKey"],"values":[["host"]]}]}]}'
expect "GROUP BY *" "$(q 'SELECT * INTO m4 FROM m GROUP BY *')" "$(written 4)"
expect "GROUP BY *: every tag kept, every field type" "$(q 'SELECT * FROM m4 GROUP BY *')" \
    '{"results":[{"statement_id":0,"series":[{"name":"m4","tags":{"host":"a","region":"eu"},"columns":["time","b","n","s","v"],"values":[["1970-01-01T00:00:01Z",null,null,"x",1],["1970-01-01T00:00:02Z",null,null,null,3]]},{"name":"m4","tags":{"host":"b","region":"us"},"columns":["time","b","n","s","v"],"values":[["1970-01-01T00:00:01Z",null,5,null,2],["1970-01-01T00:01:01Z",true,null,null,4]]}]}]}'
expect "no GROUP BY" "$(q 'SELECT * INTO m5 FROM m')" "$(written 4)"
expect "no GROUP BY: tags become fields, a time's points merge" "$(q 'SELECT * FROM m5')" \
    '{"results":[{"statement_id":0,"series":[{"name":"m5","columns":["time","b","host","n","region","s","v"],"values":[["1970-01-01T00:00:01Z",null,"b",5,"us","x",2],["1970-01-01T00:00:02Z",null,"a",null,"eu",null,3],["1970-01-01T00:01:01Z",true,"b",null,"us",null,4]]}]}]}'
expect ":MEASUREMENT of two sources" \
    "$(q 'SELECT mean(*) INTO iot.autogen.:MEASUREMENT FROM m,m2 WHERE time >= 0 AND time < 1h GROUP BY time(1h)')" \
    "$(written 2)"
expect ":MEASUREMENT: written back into each source" "$(q 'SELECT * FROM m2')" \
    '{"results":[{"statement_id":0,"series":[{"name":"m2","columns":["time","mean_v","v"],"values":[["1970-01-01T00:00:00Z",3,null],["1970-01-01T00:00:01Z",null,2],["1970-01-01T00:00:02Z",null,3],["1970-01-01T00:01:01Z",null,4]]}]}]}'
expect "no rows: nothing written" "$(q 'SELECT v INTO m8 FROM nonexist')" "$(written 0)"
expect "no matching rows: nothing written" "$(q 'SELECT v INTO m9 FROM m WHERE v > 100')" "$(written 0)"
expect "fill(null): empty windows are not written" \
    "$(q 'SELECT mean(v) INTO m10 FROM m WHERE time >= 0 AND time < 180s GROUP BY time(1m) fill(null)')" \
    "$(written 2)"
expect "fill(null): the two windows with values" "$(q 'SELECT * FROM m10')" \
    '{"results":[{"statement_id":0,"series":[{"name":"m10","columns":["time","mean"],"values":[["1970-01-01T00:00:00Z",2],["1970-01-01T00:01:00Z",4]]}]}]}'
# fill(0) of a mean is the float 0: stored in the float field mean, no conflict
expect "fill(0) of a mean is a float" \
    "$(q 'SELECT mean(v) INTO m11 FROM m WHERE time >= 0 AND time < 180s GROUP BY time(1m) fill(0)')" \
    "$(written 3)"
expect "chunked=true: the same answer" "$(q 'SELECT v INTO m12 FROM m' --data-urlencode chunked=true)" \
    "$(written 4)"
expect "expressions: v and v_1" "$(q 'SELECT v, v*2 INTO m12 FROM m')" "$(written 4)"
expect "expressions: stored under the output names" "$(q 'SELECT * FROM m12')" \
    '{"results":[{"statement_id":0,"series":[{"name":"m12","columns":["time","v","v_1"],"values":[["1970-01-01T00:00:01Z",2,4],["1970-01-01T00:00:02Z",3,6],["1970-01-01T00:01:01Z",4,8]]}]}]}'
expect "rp.measurement and \"db\".\"rp\".measurement" \
    "$(q 'SELECT v INTO autogen.m13 FROM m; SELECT count(v) FROM m13; SELECT v INTO "iot"."autogen".m14 FROM m')" \
    '{"results":[{"statement_id":0,"series":[{"name":"result","columns":["time","written"],"values":[["1970-01-01T00:00:00Z",4]]}]},{"statement_id":1,"series":[{"name":"m13","columns":["time","count"],"values":[["1970-01-01T00:00:00Z",3]]}]},{"statement_id":2,"series":[{"name":"result","columns":["time","written"],"values":[["1970-01-01T00:00:00Z",4]]}]}]}'
expect "a selector with a tag: the tag a field at its point" \
    "$(q 'SELECT max(v), host INTO m22 FROM m; SELECT * FROM m22')" \
    '{"results":[{"statement_id":0,"series":[{"name":"result","columns":["time","written"],"values":[["1970-01-01T00:00:00Z",1]]}]},{"statement_id":1,"series":[{"name":"m22","columns":["time","host","max"],"values":[["1970-01-01T00:01:01Z","b",4]]}]}]}'
expect "top(): each point at its time" "$(q 'SELECT top(v, 2) INTO m23 FROM m; SELECT * FROM m23')" \
    '{"results":[{"statement_id":0,"series":[{"name":"result","columns":["time","written"],"values":[["1970-01-01T00:00:00Z",2]]}]},{"statement_id":1,"series":[{"name":"m23","columns":["time","top"],"values":[["1970-01-01T00:00:02Z",3],["1970-01-01T00:01:01Z",4]]}]}]}'
expect "raw rows GROUP BY host" "$(q 'SELECT v INTO m24 FROM m GROUP BY host; SELECT * FROM m24 GROUP BY *')" \
    '{"results":[{"statement_id":0,"series":[{"name":"result","columns":["time","written"],"values":[["1970-01-01T00:00:00Z",4]]}]},{"statement_id":1,"series":[{"name":"m24","tags":{"host":"a"},"columns":["time","v"],"values":[["1970-01-01T00:00:01Z",1],["1970-01-01T00:00:02Z",3]]},{"name":"m24","tags":{"host":"b"},"columns":["time","v"],"values":[["1970-01-01T00:00:01Z",2],["1970-01-01T00:01:01Z",4]]}]}]}'
expect "ORDER BY time DESC LIMIT 2" "$(q 'SELECT v INTO m26 FROM m ORDER BY time DESC LIMIT 2; SELECT * FROM m26')" \
    '{"results":[{"statement_id":0,"series":[{"name":"result","columns":["time","written"],"values":[["1970-01-01T00:00:00Z",2]]}]},{"statement_id":1,"series":[{"name":"m26","columns":["time","v"],"values":[["1970-01-01T00:00:02Z",3],["1970-01-01T00:01:01Z",4]]}]}]}'
expect "a string field" "$(q 'SELECT s INTO m27 FROM m; SELECT * FROM m27')" \
    '{"results":[{"statement_id":0,"series":[{"name":"result","columns":["time","written"],"values":[["1970-01-01T00:00:00Z",1]]}]},{"statement_id":1,"series":[{"name":"m27","columns":["time","s"],"values":[["1970-01-01T00:00:01Z","x"]]}]}]}'
expect "INTO db..m with FROM db..m and no db=" \
    "$(curl -s -XPOST "$url/query" --data-urlencode 'q=SELECT v INTO iot..m20 FROM iot..m')" "$(written 4)"

# ---------------------------------------------------------------- errors
expect "unknown retention policy" "$(q 'SELECT v INTO iot.norp.m7 FROM m')" \
    '{"results":[{"statement_id":0,"error":"retention policy not found: norp"}]}'
expect "unknown database" "$(q 'SELECT v INTO nodb.autogen.m7 FROM m')" \
    '{"results":[{"statement_id":0,"error":"database not found: nodb"}]}'
expect "no database for the target" \
    "$(curl -s -XPOST "$url/query" --data-urlencode 'q=SELECT v INTO m20 FROM iot..m')" \
    '{"results":[{"statement_id":0,"error":"database name required"}]}'
q 'SELECT v INTO m6 FROM m' >/dev/null
# (InfluxDB 1.6.7 answered this pair with only {"statement_id":0,"error":"not
# executed"}; the statement's own error is what it gives alone)
expect "a type conflict ends the request" "$(q 'SELECT count(v) AS v INTO m6 FROM m; SELECT * FROM m6')" \
    '{"results":[{"statement_id":0,"error":"partial write: field type conflict: input field \"v\" on measurement \"m6\" is type integer, already exists as type float dropped=1"},{"statement_id":1,"error":"not executed"}]}'
# the warning quotes the statement with its names qualified, as InfluxDB
expect "GET: written, with InfluxDB's warning" \
    "$(curl -s -G "$url/query" --data-urlencode db=iot --data-urlencode 'q=SELECT v INTO m15 FROM m')" \
    '{"results":[{"statement_id":0,"series":[{"name":"result","columns":["time","written"],"values":[["1970-01-01T00:00:00Z",4]]}],"messages":[{"level":"warning","text":"deprecated use of '"'"'SELECT v INTO iot.autogen.m15 FROM iot.autogen.m'"'"' in a read only context, please use a POST request instead"}]}]}'
expect "GET without db: the names it gives qualified" \
    "$(curl -s -G "$url/query" --data-urlencode 'q=SELECT v INTO iot..m16 FROM iot..m')" \
    '{"results":[{"statement_id":0,"series":[{"name":"result","columns":["time","written"],"values":[["1970-01-01T00:00:00Z",4]]}],"messages":[{"level":"warning","text":"deprecated use of '"'"'SELECT v INTO iot.autogen.m16 FROM iot.autogen.m'"'"' in a read only context, please use a POST request instead"}]}]}'

# ---------------------------------------- acknowledged means durable
expect "INTO before a SIGKILL" "$(q 'SELECT v INTO m30 FROM m GROUP BY *')" "$(written 4)"
kill -KILL "$pid"
{ wait "$pid" || true; } 2>/dev/null
pid=""
start_http_server --durability=fsync
expect "its points after the restart" "$(q 'SELECT * FROM m30 GROUP BY *')" \
    '{"results":[{"statement_id":0,"series":[{"name":"m30","tags":{"host":"a","region":"eu"},"columns":["time","v"],"values":[["1970-01-01T00:00:01Z",1],["1970-01-01T00:00:02Z",3]]},{"name":"m30","tags":{"host":"b","region":"us"},"columns":["time","v"],"values":[["1970-01-01T00:00:01Z",2],["1970-01-01T00:01:01Z",4]]}]}]}'
stop_server
echo "PASS: query_into"
