#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_query_kill.sh - SHOW QUERIES and KILL QUERY as InfluxDB 1.x answers
# them: every parsed /query request is a query with a qid while it runs;
# SHOW QUERIES lists them (qid, query, database, duration, status), KILL
# QUERY qid stops one - its running statement answers "query interrupted",
# the statements after it "not executed" - and an unknown qid is the
# statement's error.  The long query is 20000 statements, each reading
# 20000 points through a field condition and sorting them for median()
# (a minute or more); synchronisation is by polling SHOW QUERIES and
# /metrics (bounded tries), never by sleeping for a fixed time.  With
# query-log-after=1ms the long query, once SHOW QUERIES has shown it running
# for a millisecond or more, is logged as a slow query when it ends.
#
# Usage: CAIRN_BIN=build/release/cairn tests/integration/test_query_kill.sh
set -euo pipefail

SRC=${CAIRN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${CAIRN_BIN:-$SRC/build/debug/cairn}
[ -x "$BIN" ] || { echo "FAIL: no executable at $BIN (set CAIRN_BIN)" >&2; exit 1; }
command -v curl >/dev/null || { echo "FAIL: curl is required" >&2; exit 1; }
command -v python3 >/dev/null || { echo "FAIL: python3 is required" >&2; exit 1; }

# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" query_kill

data="$tmp/data"
# two workers: SHOW QUERIES and KILL QUERY run while the long query holds one
start_http_server --durability=os --query-workers=2 --query-log-after=1ms

awk 'BEGIN { for (i = 0; i < 20000; i++) printf "m v=%d %d\n", i, 1767225600 + i }' >"$tmp/lp"
code=$(curl -s -o "$tmp/wr" -w '%{http_code}' -XPOST "$url/write?db=iot&precision=s" --data-binary @"$tmp/lp")
[ "$code" = 204 ] || fail "write answered $code: $(cat "$tmp/wr")"

# q METHOD QUERY: the answer's HTTP code and body ("CODE BODY")
q() {
    local m=$1
    shift
    if [ "$m" = GET ]; then
        curl -s -G -o "$tmp/q.out" -w '%{http_code}' "$url/query" --data-urlencode db=iot \
            --data-urlencode "q=$1"
    else
        curl -s -o "$tmp/q.out" -w '%{http_code}' -XPOST "$url/query" --data-urlencode db=iot \
            --data-urlencode "q=$1"
    fi
    printf ' %s' "$(cat "$tmp/q.out")"
}
expect() { # expect METHOD QUERY WANT
    local got
    got=$(q "$1" "$2")
    [ "$got" = "$3" ] || fail "$2: got [$got] want [$3]"
}
metric() { curl -s "$url/metrics" | sed -n "s/^$1 //p"; }

# SHOW QUERIES lists itself: one series without a name
got=$(q GET 'SHOW QUERIES')
k=$(python3 - "$got" <<'EOF'
import json, re, sys
code, body = sys.argv[1].split(' ', 1)
assert code == '200', code
r = json.loads(body)['results']
assert len(r) == 1 and r[0]['statement_id'] == 0, r
s = r[0]['series']
assert len(s) == 1 and 'name' not in s[0], s
assert s[0]['columns'] == ['qid', 'query', 'database', 'duration', 'status'], s
v = s[0]['values']
assert len(v) == 1, v
qid, text, db, dur, status = v[0]
assert isinstance(qid, int) and qid > 0, v
assert (text, db, status) == ('SHOW QUERIES', 'iot', 'running'), v
assert re.fullmatch(r'[0-9]+(ns|\u00b5s|ms|s)', dur), dur
print(qid)
EOF
) || fail "SHOW QUERIES answered [$got]"
ok "SHOW QUERIES lists itself (qid $k)"

expect POST 'KILL QUERY 99999' '200 {"results":[{"statement_id":0,"error":"no such query id: 99999"}]}'
ok "KILL QUERY of an unknown qid is the statement's error"
expect POST 'KILL QUERY abc' \
    '400 {"error":"error parsing query: found abc, expected integer at line 1, char 12"}'
ok "KILL QUERY without a qid is a parse error (no qid given for it)"

# a query that kills itself: qids count parsed requests, so this one is k+2;
# the statement after the KILL is interrupted, the rest not executed
expect POST "KILL QUERY $((k + 2)); SELECT count(v) FROM m; SHOW DATABASES" \
    '200 {"results":[{"statement_id":0},{"statement_id":1,"error":"query interrupted"},{"statement_id":2,"error":"not executed"}]}'
ok "a killed query's next statement answers 'query interrupted'"
expect GET 'SELECT count(v) FROM m' \
    '200 {"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","count"],"values":[["1970-01-01T00:00:00Z",20000]]}]}]}'
ok "the next query runs as usual"
# KILL QUERY with GET runs and carries InfluxDB's warning (k+4: itself)
expect GET "KILL QUERY $((k + 4))" \
    "200 {\"results\":[{\"statement_id\":0,\"messages\":[{\"level\":\"warning\",\"text\":\"deprecated use of 'KILL QUERY $((k + 4))' in a read only context, please use a POST request instead\"}]}]}"
ok "KILL QUERY with GET carries the 'deprecated use' warning"

# the long query, form-encoded, in the background
{
    printf 'db=iot&q='
    awk 'BEGIN { for (i = 0; i < 20000; i++) printf "SELECT+median(v)+FROM+m+WHERE+v+%%3E+-1%%3B" }'
} >"$tmp/body"
curl -s --max-time 120 -o "$tmp/long.out" -w '%{http_code}' -XPOST "$url/query" \
    -H 'Content-Type: application/x-www-form-urlencoded' --data-binary @"$tmp/body" >"$tmp/long.code" &
cpid=$!

# find it in SHOW QUERIES (bounded polling)
lq=""
for ((i = 0; i < 600; i++)); do
    code=$(curl -s -G -o "$tmp/sq.out" -w '%{http_code}' "$url/query" --data-urlencode db=iot \
        --data-urlencode 'q=SHOW QUERIES')
    [ "$code" = 200 ] || fail "SHOW QUERIES answered $code: $(head -c 300 "$tmp/sq.out")"
    lq=$(python3 - "$tmp/sq.out" <<'EOF'
import json, re, sys
for s in json.load(open(sys.argv[1]))['results'][0].get('series', []):
    for qid, text, db, dur, status in s['values']:
        if text.startswith('SELECT median(v) FROM m WHERE v > -1;\nSELECT median(v) FROM m WHERE v > -1;\n'):
            assert text.count(';\n') == 19999, text.count(';\n')
            assert (db, status) == ('iot', 'running'), (db, status)
            assert re.fullmatch(r'[0-9]+(ns|\u00b5s|ms|s|m[0-9]+s)', dur), dur
            if not dur.endswith(('ns', '\u00b5s')):  # a millisecond or more
                print(qid)
EOF
    ) || fail "SHOW QUERIES answered [$(head -c 400 "$tmp/sq.out")]"
    [ -n "$lq" ] && break
    kill -0 "$cpid" 2>/dev/null || fail "the long query ended before it was listed: $(head -c 300 "$tmp/long.out")"
    sleep 0.05
done
[ -n "$lq" ] || fail "the long query never appeared in SHOW QUERIES"
[ "$(metric cairn_query_running)" = 1 ] || fail "cairn_query_running is not 1 while it runs"
ok "SHOW QUERIES lists the long query (qid $lq, its 20000 statements)"

expect POST "KILL QUERY $lq" '200 {"results":[{"statement_id":0}]}'
wait "$cpid" || fail "curl of the long query failed"
[ "$(cat "$tmp/long.code")" = 200 ] || fail "the killed query answered HTTP $(cat "$tmp/long.code")"
python3 - "$tmp/long.out" <<'EOF' || fail "the killed query's answer: $(head -c 300 "$tmp/long.out")"
import json, sys
r = json.load(open(sys.argv[1]))['results']
assert len(r) == 20000, len(r)
k = next(i for i, x in enumerate(r) if 'error' in x)
assert k < 19999, k
assert all(x['statement_id'] == i for i, x in enumerate(r))
assert all(x['series'][0]['values'] == [['1970-01-01T00:00:00Z', 9999.5]] for x in r[:k]), r[:k][:2]
assert r[k] == {'statement_id': k, 'error': 'query interrupted'}, r[k]
assert all(x == {'statement_id': x['statement_id'], 'error': 'not executed'} for x in r[k + 1:])
EOF
ok "the killed query answers 'query interrupted', then 'not executed'"

for ((i = 0; i < 600; i++)); do
    [ "$(metric cairn_query_running)" = 0 ] && break
    sleep 0.05
done
[ "$(metric cairn_query_running)" = 0 ] || fail "cairn_query_running stayed at $(metric cairn_query_running)"
[ "$(metric cairn_query_cancelled_total)" = 0 ] || fail "a killed query counted as cancelled"
got=$(q GET 'SHOW QUERIES')
python3 - "$got" <<'EOF' || fail "SHOW QUERIES after the kill: [$got]"
import json, sys
code, body = sys.argv[1].split(' ', 1)
v = json.loads(body)['results'][0]['series'][0]['values']
assert [row[1] for row in v] == ['SHOW QUERIES'], v
EOF
ok "the killed query left the list; killing is not counted as a client's cancel"

# query-log-after: the long query in the log, its statements cut so that the
# message fills the log's 1023 bytes and ends in "..."
line=$(grep -F "WARN  query: slow query (qid: $lq, database: iot, duration: " "$tmp/log" || true)
[ -n "$line" ] || fail "no slow-query line for qid $lq in the log"
sq='SELECT median(v) FROM m WHERE v > -1'
case $line in
*"): $sq; $sq; $sq; "*) ;;
*) fail "slow-query line: ${line:0:300}" ;;
esac
msg=${line#*" WARN  "}
[ "${#msg}" = 1023 ] || fail "the slow-query message is ${#msg} bytes, want 1023"
[ "${msg: -3}" = "..." ] || fail "the slow-query message does not end in ...: ${msg: -20}"
ok "query-log-after logged the long query when it ended"

stop_server
echo "PASS: $checks checks"
