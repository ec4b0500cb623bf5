#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_query_compat.sh - /query behaviours whose exact responses were taken
# from InfluxDB 1.6.7 / 1.8 on the same points: bound parameters
# (params=, GET and form-encoded POST, every value type and the errors),
# a selector next to other fields and tags (their values at its point,
# every fill mode), top() / bottom() / sample() (ties, tag arguments,
# GROUP BY time, InfluxDB's argument errors),
# error strings escaped as Go escapes them, retention-policy statements
# (InfluxDB's checks and messages, shard durations) and their persistence
# across a restart together with the engine retention they imply, the
# "not executed" of statements after a failed one, chunked SHOW, GET of a
# write statement (InfluxDB's warning), DELETE without time bounds and
# DROP DATABASE in cairn's one store.
#
# Usage: CAIRN_BIN=build/release/cairn tests/integration/test_query_compat.sh
set -euo pipefail

SRC=${CAIRN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${CAIRN_BIN:-$SRC/build/debug/cairn}
[ -x "$BIN" ] || { echo "FAIL: no executable at $BIN (set CAIRN_BIN)" >&2; exit 1; }
command -v curl >/dev/null || { echo "FAIL: curl is required" >&2; exit 1; }

# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" query_compat

data="$tmp/data"
start_http_server --durability=os

# two devices, three points each, ten seconds apart
cat >"$tmp/lp" <<'LP'
m,dev=a,fleet=f1 temp=20.5,rpm=100i,on=true 1767225600000000000
m,dev=a,fleet=f1 temp=21.5,rpm=300i,on=false 1767225610000000000
m,dev=a,fleet=f1 temp=19.0,rpm=200i,on=true 1767225620000000000
m,dev=b,fleet=f2 temp=30.0,rpm=1000i,on=true 1767225600000000000
m,dev=b,fleet=f2 temp=10.0,rpm=3000i,on=false 1767225610000000000
m,dev=b,fleet=f2 temp=25.0,rpm=2000i,on=true 1767225620000000000
LP
code=$(curl -s -o "$tmp/wr" -w '%{http_code}' -XPOST "$url/write?db=iot" --data-binary @"$tmp/lp")
[ "$code" = 204 ] || fail "write answered $code: $(cat "$tmp/wr")"

q() { # q QUERY [curl args...]: the body of a GET
    local query=$1
    shift
    curl -s -G "$url/query" --data-urlencode "q=$query" "$@"
}
qp() { # qp QUERY PARAMS: GET with db=iot and params=
    q "$1" --data-urlencode db=iot --data-urlencode "params=$2"
}
one() { # one COLUMN VALUE: InfluxDB's answer with a single row at time 0
    printf '{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","%s"],"values":[["1970-01-01T00:00:00Z",%s]]}]}]}' "$1" "$2"
}

# ---------------------------------------------------------------- params
expect "params: string" "$(qp 'SELECT count(rpm) FROM m WHERE dev = $d' '{"d":"a"}')" "$(one count 3)"
expect "params: integer" "$(qp 'SELECT count(rpm) FROM m WHERE rpm > $r' '{"r":200}')" "$(one count 4)"
expect "params: float" "$(qp 'SELECT count(rpm) FROM m WHERE temp > $t' '{"t":20.5}')" "$(one count 3)"
expect "params: boolean" "$(qp 'SELECT count(rpm) FROM m WHERE "on" = $b' '{"b":false}')" "$(one count 2)"
expect "params: negated integer" "$(qp 'SELECT count(rpm) FROM m WHERE rpm > -$r' '{"r":5}')" "$(one count 6)"
expect "params: identifiers" \
    "$(qp 'SELECT sum($f) FROM $m WHERE dev = $d' '{"f":{"identifier":"rpm"},"m":{"identifier":"m"},"d":{"string":"b"}}')" \
    "$(one sum 6000)"
expect "params: regex" "$(qp 'SELECT count(rpm) FROM m WHERE dev =~ $re' '{"re":{"regex":"^[ab]$"}}')" "$(one count 6)"
expect "params: typed integer and number" \
    "$(qp 'SELECT count(rpm) FROM m WHERE rpm >= $i AND temp < $n' '{"i":{"integer":300},"n":{"number":26}}')" \
    "$(one count 3)"
expect "params: time string and duration" \
    "$(qp 'SELECT count(rpm) FROM m WHERE time >= $t AND time < $t + $w GROUP BY time($w)' '{"t":"2026-01-01T00:00:00Z","w":{"duration":"20s"}}')" \
    '{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","count"],"values":[["2026-01-01T00:00:00Z",4]]}]}]}'
expect "params: LIMIT and GROUP BY tag" \
    "$(qp 'SELECT rpm FROM m GROUP BY $k LIMIT $l' '{"k":{"identifier":"dev"},"l":1}')" \
    '{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"dev":"a"},"columns":["time","rpm"],"values":[["2026-01-01T00:00:00Z",100]]},{"name":"m","tags":{"dev":"b"},"columns":["time","rpm"],"values":[["2026-01-01T00:00:00Z",1000]]}]}]}'
expect "params: form-encoded POST" \
    "$(curl -s -XPOST "$url/query" --data-urlencode 'q=SELECT count(rpm) FROM m WHERE dev = $d' --data-urlencode db=iot --data-urlencode 'params={"d":"b"}')" \
    "$(one count 3)"
# errors: 400 and InfluxDB's message
perr() { # perr WHAT QUERY PARAMS WANT-BODY
    local code
    code=$(curl -s -G -o "$tmp/b" -w '%{http_code}' "$url/query" --data-urlencode "q=$2" \
        --data-urlencode db=iot --data-urlencode "params=$3")
    expect "$1" "$code $(cat "$tmp/b")" "400 $4"
}
perr "params: missing" 'SELECT count(rpm) FROM m WHERE dev = $d' '{}' \
    '{"error":"error parsing query: missing parameter: d"}'
perr "params: null (escaped like Go)" 'SELECT count(rpm) FROM m WHERE dev = $d' '{"d":null}' \
    '{"error":"error parsing query: missing parameter: unable to bind parameter with type \u003cnil\u003e"}'
perr "params: unknown type" 'SELECT count(rpm) FROM m WHERE dev = $d' '{"d":{"bogus":1}}' \
    '{"error":"error parsing query: missing parameter: unknown bind object type: bogus"}'
perr "params: 1e3 is no integer" 'SELECT count(rpm) FROM m WHERE rpm = $d' '{"d":1e3}' \
    '{"error":"error parsing json value: strconv.ParseInt: parsing \"1e3\": invalid syntax"}'
perr "params: not an object" 'SELECT count(rpm) FROM m' '[]' \
    '{"error":"error parsing query parameters: json: cannot unmarshal array into Go value of type map[string]interface {}"}'
perr "params: a string is no regex" 'SELECT count(rpm) FROM m WHERE dev =~ $d' '{"d":"a"}' \
    '{"error":"error parsing query: found a, expected regex at line 1, char 39"}'
expect "params: unused bad value" "$(qp 'SELECT count(rpm) FROM m WHERE dev = $d' '{"x":null,"d":"a"}')" "$(one count 3)"

# ------------------------------------- a selector with other fields / tags
# (answers as InfluxDB 1.6.7 gives them for the same points)
qi() { q "$1" --data-urlencode db=iot; }
sel() { # sel COLUMNS ROWS: one series "m" with these columns and rows
    printf '{"results":[{"statement_id":0,"series":[{"name":"m","columns":[%s],"values":[%s]}]}]}' "$1" "$2"
}
W="time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:01:00Z'"
expect "selector: fields and a tag at its point, the point's time" \
    "$(qi 'SELECT max(temp), rpm, dev FROM m')" \
    "$(sel '"time","max","rpm","dev"' '["2026-01-01T00:00:00Z",30,1000,"b"]')"
expect "selector: an expression of a field, aliases" \
    "$(qi 'SELECT min(temp) AS lo, rpm * 2 AS r2 FROM m')" \
    "$(sel '"time","lo","r2"' '["2026-01-01T00:00:10Z",10,6000]')"
expect "selector: GROUP BY time, fill(null)" \
    "$(qi "SELECT min(temp), rpm, dev FROM m WHERE $W GROUP BY time(20s)")" \
    "$(sel '"time","min","rpm","dev"' '["2026-01-01T00:00:00Z",10,3000,"b"],["2026-01-01T00:00:20Z",19,200,"a"],["2026-01-01T00:00:40Z",null,null,null]')"
expect "selector: fill(previous)" \
    "$(qi "SELECT min(temp), rpm, dev FROM m WHERE $W GROUP BY time(20s) fill(previous)")" \
    "$(sel '"time","min","rpm","dev"' '["2026-01-01T00:00:00Z",10,3000,"b"],["2026-01-01T00:00:20Z",19,200,"a"],["2026-01-01T00:00:40Z",19,200,"a"]')"
expect "selector: fill(0)" \
    "$(qi "SELECT min(temp), rpm, dev FROM m WHERE $W GROUP BY time(20s) fill(0)")" \
    "$(sel '"time","min","rpm","dev"' '["2026-01-01T00:00:00Z",10,3000,"b"],["2026-01-01T00:00:20Z",19,200,"a"],["2026-01-01T00:00:40Z",0,0,0]')"
expect "selector: fill(none)" \
    "$(qi "SELECT min(temp), rpm, dev FROM m WHERE $W GROUP BY time(20s) fill(none)")" \
    "$(sel '"time","min","rpm","dev"' '["2026-01-01T00:00:00Z",10,3000,"b"],["2026-01-01T00:00:20Z",19,200,"a"]')"
expect "selector: GROUP BY a tag" \
    "$(qi 'SELECT last(temp), "on", fleet FROM m GROUP BY dev')" \
    '{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"dev":"a"},"columns":["time","last","on","fleet"],"values":[["2026-01-01T00:00:20Z",19,true,"f1"]]},{"name":"m","tags":{"dev":"b"},"columns":["time","last","on","fleet"],"values":[["2026-01-01T00:00:20Z",25,true,"f2"]]}]}]}'
expect "selector: with *" "$(qi "SELECT first(temp), * FROM m WHERE dev = 'b'")" \
    "$(sel '"time","first","dev","fleet","on","rpm","temp"' '["2026-01-01T00:00:00Z",30,"b","f2",true,1000,30]')"
expect "selector: with a field condition" "$(qi 'SELECT max(temp), rpm FROM m WHERE rpm < 2000')" \
    "$(sel '"time","max","rpm"' '["2026-01-01T00:00:00Z",30,1000]')"
expect "selector: percentile" "$(qi 'SELECT percentile(rpm, 50), temp, dev FROM m')" \
    "$(sel '"time","percentile","temp","dev"' '["2026-01-01T00:00:10Z",300,21.5,"a"]')"
expect "selectors: two, no fields: time 0" "$(qi 'SELECT max(temp), min(rpm) FROM m')" \
    "$(sel '"time","max","min"' '["1970-01-01T00:00:00Z",30,100]')"
expect "selectors: two with a tag" "$(qi 'SELECT max(temp), min(rpm), dev FROM m')" \
    '{"results":[{"statement_id":0,"error":"mixing multiple selector functions with tags or fields is not supported"}]}'
expect "aggregate with a tag" "$(qi 'SELECT mean(rpm), dev FROM m')" \
    '{"results":[{"statement_id":0,"error":"mixing aggregate and non-aggregate queries is not supported"}]}'
expect "selector and aggregate with a field" "$(qi 'SELECT max(temp), mean(rpm), rpm FROM m')" \
    '{"results":[{"statement_id":0,"error":"mixing aggregate and non-aggregate queries is not supported"}]}'

# ------------------------------------------ top(), bottom(), sample()
# (InfluxDB 1.x semantics: each point at its own time, rows in time order;
# top: larger value first, equal values: the earlier point)
expect "top: the point's times, time order" "$(qi 'SELECT top(temp, 3) FROM m')" \
    "$(sel '"time","top"' '["2026-01-01T00:00:00Z",30],["2026-01-01T00:00:10Z",21.5],["2026-01-01T00:00:20Z",25]')"
expect "bottom: fields and a tag at each point" "$(qi 'SELECT bottom(temp, 2), rpm, dev FROM m')" \
    "$(sel '"time","bottom","rpm","dev"' '["2026-01-01T00:00:10Z",10,3000,"b"],["2026-01-01T00:00:20Z",19,200,"a"]')"
expect "top: per tag value, the tag a column" "$(qi 'SELECT top(temp, dev, 5) FROM m')" \
    "$(sel '"time","top","dev"' '["2026-01-01T00:00:00Z",30,"b"],["2026-01-01T00:00:10Z",21.5,"a"]')"
expect "top: integers per tag, another field" "$(qi 'SELECT top(rpm, fleet, 1), temp FROM m')" \
    "$(sel '"time","top","fleet","temp"' '["2026-01-01T00:00:10Z",3000,"f2",10]')"
expect "top: GROUP BY time keeps the points' times, no fill" \
    "$(qi "SELECT top(temp, 1) FROM m WHERE $W GROUP BY time(20s)")" \
    "$(sel '"time","top"' '["2026-01-01T00:00:00Z",30],["2026-01-01T00:00:20Z",25]')"
# (InfluxDB 1.6.7 lists the series in reverse under DESC, and top()'s
# points in time order all the same)
expect "top: GROUP BY a tag, ORDER BY time DESC" "$(qi 'SELECT top(temp, 2) FROM m GROUP BY dev ORDER BY time DESC')" \
    '{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"dev":"b"},"columns":["time","top"],"values":[["2026-01-01T00:00:00Z",30],["2026-01-01T00:00:20Z",25]]},{"name":"m","tags":{"dev":"a"},"columns":["time","top"],"values":[["2026-01-01T00:00:00Z",20.5],["2026-01-01T00:00:10Z",21.5]]}]}]}'
expect "top: an expression of it" "$(qi 'SELECT top(temp, 2) * 2 FROM m')" \
    "$(sel '"time","top"' '["2026-01-01T00:00:00Z",60],["2026-01-01T00:00:20Z",50]')"
printf 'tie,dev=a v=5 1767225600000000000\ntie,dev=a v=5 1767225610000000000\ntie,dev=b v=5 1767225605000000000\ntie,dev=b v=7 1767225620000000000\n' >"$tmp/tie"
code=$(curl -s -o "$tmp/wr" -w '%{http_code}' -XPOST "$url/write?db=iot" --data-binary @"$tmp/tie")
[ "$code" = 204 ] || fail "write answered $code: $(cat "$tmp/wr")"
tie() { printf '{"results":[{"statement_id":0,"series":[{"name":"tie","columns":[%s],"values":[%s]}]}]}' "$1" "$2"; }
expect "top: equal values, the earliest wins" "$(qi 'SELECT top(v, 2) FROM tie')" \
    "$(tie '"time","top"' '["2026-01-01T00:00:00Z",5],["2026-01-01T00:00:20Z",7]')"
expect "bottom: equal values, the earliest two" "$(qi 'SELECT bottom(v, 2) FROM tie')" \
    "$(tie '"time","bottom"' '["2026-01-01T00:00:00Z",5],["2026-01-01T00:00:05Z",5]')"
expect "top: per tag, each tag's earliest maximum" "$(qi 'SELECT top(v, dev, 2) FROM tie')" \
    "$(tie '"time","top","dev"' '["2026-01-01T00:00:00Z",5,"a"],["2026-01-01T00:00:20Z",7,"b"]')"
curl -s -XPOST "$url/query" --data-urlencode 'q=DROP MEASUREMENT tie' --data-urlencode db=iot >/dev/null
# sample() is deterministic in cairn (InfluxDB's is random): the count and
# that a second run gives the same rows
s1=$(qi 'SELECT sample(temp, 4) FROM m')
expect "sample: the same rows every time" "$(qi 'SELECT sample(temp, 4) FROM m')" "$s1"
expect "sample: N rows" "$(grep -o '"20[0-9T:-]*Z"' <<<"$s1" | wc -l)" 4
err() { printf '{"results":[{"statement_id":0,"error":"%s"}]}' "$1"; }
expect "top: one argument" "$(qi 'SELECT top(temp) FROM m')" \
    "$(err 'invalid number of arguments for top, expected at least 2, got 1')"
expect "bottom: no argument" "$(qi 'SELECT bottom() FROM m')" \
    "$(err 'invalid number of arguments for bottom, expected at least 2, got 0')"
expect "top: a float N" "$(qi 'SELECT top(temp, 2.5) FROM m')" \
    "$(err 'expected integer as last argument in top(), found 2.500')"
expect "top: N < 1" "$(qi 'SELECT top(temp, -1) FROM m')" \
    "$(err 'limit (-1) in top function must be at least 1')"
expect "bottom: N above LIMIT" "$(qi 'SELECT bottom(temp, 5) FROM m LIMIT 2')" \
    "$(err 'limit (5) in bottom function can not be larger than the LIMIT (2) in the select statement')"
expect "top: a string for the field" "$(qi "SELECT top('temp', 5) FROM m")" \
    "$(err "expected first argument to be a field in top(), found 'temp'")"
expect "top: a call for the field" "$(qi 'SELECT top(max(temp), 5) FROM m')" \
    "$(err 'expected first argument to be a field in top(), found max(temp)')"
expect "top: a number for a tag" "$(qi 'SELECT top(temp, 5, dev, 2) FROM m')" \
    "$(err 'only fields or tags are allowed in top(), found 5')"
expect "top: with another function" "$(qi 'SELECT top(temp, 2), max(rpm) FROM m')" \
    "$(err 'selector function top() cannot be combined with other functions')"
expect "bottom and top" "$(qi 'SELECT bottom(temp, 2), top(temp, 2) FROM m')" \
    "$(err 'selector function bottom() cannot be combined with other functions')"
expect "sample: one argument" "$(qi 'SELECT sample(temp) FROM m')" \
    "$(err 'invalid number of arguments for sample, expected 2, got 1')"
expect "sample: N = 0" "$(qi 'SELECT sample(temp, 0) FROM m')" \
    "$(err 'sample window must be greater than 1, got 0')"
expect "sample: a float N" "$(qi 'SELECT sample(temp, 2.5) FROM m')" \
    "$(err 'expected integer argument in sample()')"

# ------------------------------------------- several statements, chunking
expect "a failing statement: the rest are not executed" \
    "$(qi 'SELECT count(rpm) FROM m; SELECT bogus(rpm) FROM m; SHOW TAG KEYS; SHOW MEASUREMENTS')" \
    '{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","count"],"values":[["1970-01-01T00:00:00Z",6]]}]},{"statement_id":1,"error":"undefined function bogus()"},{"statement_id":2,"error":"not executed"},{"statement_id":3,"error":"not executed"}]}'
expect "chunked: a failing statement" \
    "$(q 'SELECT bogus(rpm) FROM m; SHOW MEASUREMENTS' --data-urlencode db=iot --data-urlencode chunked=true)" \
    '{"results":[{"statement_id":0,"error":"undefined function bogus()"}]}
{"results":[{"statement_id":1,"error":"not executed"}]}'
expect "chunked: SHOW series go whole, SELECT rows by chunk_size" \
    "$(q 'SHOW TAG KEYS; SELECT rpm FROM m WHERE dev = '"'a'"' LIMIT 2' --data-urlencode db=iot --data-urlencode chunked=true --data-urlencode chunk_size=1)" \
    '{"results":[{"statement_id":0,"series":[{"name":"m","columns":["tagKey"],"values":[["dev"],["fleet"]]}]}]}
{"results":[{"statement_id":1,"series":[{"name":"m","columns":["time","rpm"],"values":[["2026-01-01T00:00:00Z",100]],"partial":true}],"partial":true}]}
{"results":[{"statement_id":1,"series":[{"name":"m","columns":["time","rpm"],"values":[["2026-01-01T00:00:10Z",300]]}]}]}'

# statements that write, sent with GET: InfluxDB's deprecation warning
expect "GET of a write statement warns" "$(qi "DROP SERIES FROM m WHERE dev = 'nosuch'")" \
    '{"results":[{"statement_id":0,"messages":[{"level":"warning","text":"deprecated use of '"'DROP SERIES FROM m WHERE dev = 'nosuch''"' in a read only context, please use a POST request instead"}]}]}'
expect "GET of DELETE does not warn" "$(qi "DELETE FROM m WHERE dev = 'nosuch'")" '{"results":[{"statement_id":0}]}'

# ------------------------------------------------------ retention policies
rp() { curl -s -XPOST "$url/query" --data-urlencode "q=$1" --data-urlencode db=iot; }
cols='"columns":["name","duration","shardGroupDuration","replicaN","default"]'
expect "rp: autogen of a written database" "$(rp 'SHOW RETENTION POLICIES')" \
    "{\"results\":[{\"statement_id\":0,\"series\":[{$cols,\"values\":[[\"autogen\",\"0s\",\"168h0m0s\",1,true]]}]}]}"
expect "rp: under 1h" "$(rp 'CREATE RETENTION POLICY r1 ON iot DURATION 30m REPLICATION 1')" \
    '{"results":[{"statement_id":0,"error":"retention policy duration must be at least 1h0m0s"}]}'
expect "rp: create" "$(rp 'CREATE RETENTION POLICY r1 ON iot DURATION 3d REPLICATION 1')" '{"results":[{"statement_id":0}]}'
expect "rp: create again, same options" "$(rp 'CREATE RETENTION POLICY r1 ON iot DURATION 3d REPLICATION 1')" '{"results":[{"statement_id":0}]}'
expect "rp: create again, other options" "$(rp 'CREATE RETENTION POLICY r1 ON iot DURATION 4d REPLICATION 1')" \
    '{"results":[{"statement_id":0,"error":"retention policy already exists"}]}'
expect "rp: shard longer than duration" "$(rp 'CREATE RETENTION POLICY r4 ON iot DURATION 2h REPLICATION 1 SHARD DURATION 3h')" \
    '{"results":[{"statement_id":0,"error":"retention policy duration must be greater than the shard duration"}]}'
expect "rp: create with shard" "$(rp 'CREATE RETENTION POLICY r2 ON iot DURATION 300d REPLICATION 2 SHARD DURATION 2h')" '{"results":[{"statement_id":0}]}'
expect "rp: unknown database" "$(rp 'CREATE RETENTION POLICY r5 ON nosuch DURATION 1h REPLICATION 1')" \
    '{"results":[{"statement_id":0,"error":"database not found: nosuch"}]}'
expect "rp: alter unknown" "$(rp 'ALTER RETENTION POLICY nosuch ON iot DURATION 1h')" \
    '{"results":[{"statement_id":0,"error":"retention policy not found: nosuch"}]}'
expect "rp: show unknown database" "$(rp 'SHOW RETENTION POLICIES ON nosuch')" \
    '{"results":[{"statement_id":0,"error":"database not found: nosuch"}]}'
expect "rp: drop unknown is no error" "$(rp 'DROP RETENTION POLICY nosuch ON iot')" '{"results":[{"statement_id":0}]}'
expect "rp: drop" "$(rp 'DROP RETENTION POLICY r2 ON iot')" '{"results":[{"statement_id":0}]}'
expect "rp: alter autogen (the engine's retention)" "$(rp 'ALTER RETENTION POLICY autogen ON iot DURATION 1000d')" '{"results":[{"statement_id":0}]}'
want_rps="{\"results\":[{\"statement_id\":0,\"series\":[{$cols,\"values\":[[\"autogen\",\"24000h0m0s\",\"168h0m0s\",1,true],[\"r1\",\"72h0m0s\",\"24h0m0s\",1,false]]}]}]}"
expect "rp: show" "$(rp 'SHOW RETENTION POLICIES')" "$want_rps"
expect "rp: create database with a policy" "$(rp 'CREATE DATABASE other WITH DURATION 2d REPLICATION 1 NAME week')" '{"results":[{"statement_id":0}]}'
expect "rp: its policy" "$(rp 'SHOW RETENTION POLICIES ON other')" \
    "{\"results\":[{\"statement_id\":0,\"series\":[{$cols,\"values\":[[\"week\",\"48h0m0s\",\"24h0m0s\",1,true]]}]}]}"
expect "rp: all dropped" "$(rp 'DROP RETENTION POLICY week ON other'; rp 'SHOW RETENTION POLICIES ON other')" \
    "{\"results\":[{\"statement_id\":0}]}
{\"results\":[{\"statement_id\":0,\"series\":[{$cols}]}]}"

# the policies and the retention they imply outlive a restart: the engine
# keeps data for the longest default policy (1000d; 'other' has none)
stop_server
start_http_server --durability=os
grep -q 'retention: 86400000 s from the retention policies' "$tmp/log" ||
    fail "no retention line after the restart: $(grep -i retention "$tmp/log")"
ok "rp: the engine retention is restored at start"
expect "rp: show after restart" "$(rp 'SHOW RETENTION POLICIES')" "$want_rps"
expect "rp: data within the retention stays" "$(q 'SELECT count(rpm) FROM m' --data-urlencode db=iot)" "$(one count 6)"
# a database created plainly keeps data for the `retention` key (INF here)
expect "rp: plain database" "$(rp 'CREATE DATABASE plain')" '{"results":[{"statement_id":0}]}'
stop_server
start_http_server --durability=os
if grep -q 'from the retention policies' "$tmp/log"; then
    fail "a plain database (INF) should leave the retention key in force"
fi
ok "rp: an INF default policy keeps the retention key"

# DELETE without time bounds removes the series, as InfluxDB does
expect "delete: one series" "$(rp "DELETE FROM m WHERE dev = 'a'")" '{"results":[{"statement_id":0}]}'
expect "delete: SHOW SERIES" "$(rp 'SHOW SERIES FROM m')" \
    '{"results":[{"statement_id":0,"series":[{"columns":["key"],"values":[["m,dev=b,fleet=f2"]]}]}]}'
expect "delete: a time range keeps the series" \
    "$(rp "DELETE FROM m WHERE time < '2026-01-01T00:00:10Z'"; rp 'SHOW SERIES FROM m'; rp 'SELECT count(rpm) FROM m')" \
    '{"results":[{"statement_id":0}]}
{"results":[{"statement_id":0,"series":[{"columns":["key"],"values":[["m,dev=b,fleet=f2"]]}]}]}
{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","count"],"values":[["1970-01-01T00:00:00Z",2]]}]}]}'
# DROP DATABASE: an unknown name is no error; while other databases remain
# only the name goes (one store holds every database's data)
expect "drop database: unknown name" "$(rp 'DROP DATABASE nosuch'; rp 'SELECT count(rpm) FROM m')" \
    '{"results":[{"statement_id":0}]}
'"$(one count 2)"
expect "drop database: others remain" \
    "$(rp 'DROP DATABASE plain'; rp 'SHOW DATABASES'; rp 'SELECT count(rpm) FROM m')" \
    "$(printf '{"results":[{"statement_id":0,"messages":[{"level":"warning","text":"database %s forgotten, its data kept: every database'"'"'s data is in one store, deleted when the last database is dropped (or use DROP MEASUREMENT, DROP SERIES, DELETE)"}]}]}' plain)"'
{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["iot"],["other"]]}]}]}
'"$(one count 2)"
expect "delete: the whole measurement" "$(rp 'DELETE FROM m'; rp 'SHOW MEASUREMENTS')" \
    '{"results":[{"statement_id":0}]}
{"results":[{"statement_id":0}]}'
# ... and dropping the last database deletes the data
code=$(curl -s -o "$tmp/wr" -w '%{http_code}' -XPOST "$url/write?db=iot" --data-binary @"$tmp/lp")
[ "$code" = 204 ] || fail "write answered $code: $(cat "$tmp/wr")"
expect "drop database: the last one deletes the data" \
    "$(rp 'DROP DATABASE other'; rp 'DROP DATABASE iot'; rp 'SHOW DATABASES'; rp 'SHOW MEASUREMENTS')" \
    "$(printf '{"results":[{"statement_id":0,"messages":[{"level":"warning","text":"database %s forgotten, its data kept: every database'"'"'s data is in one store, deleted when the last database is dropped (or use DROP MEASUREMENT, DROP SERIES, DELETE)"}]}]}' other)"'
{"results":[{"statement_id":0}]}
{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"]}]}]}
{"results":[{"statement_id":0}]}'
stop_server
echo "PASS: $checks checks"
