#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_query_influx16.sh - answers InfluxDB 1.6.7 gave on the same points
# where a differential run (the same queries to cairn and to influxd)
# found cairn answering otherwise: fill(linear) of counts and integers and
# its float arithmetic, SHOW SERIES keys escaped as line protocol, string
# and tag orderings (never true; an error in a metadata query), GROUP BY
# time() windows across daylight-saving changes with tz(), and the window
# before the time range that a transformation of an aggregate reads; the
# value mode() picks among equally frequent ones and the order of
# distinct()'s values; numeric functions of string and boolean fields; raw
# rows whose expression is null for want of one of its fields; integral()
# per GROUP BY time() window; InfluxDB's errors for a few statements it
# refuses, a fill value's cast and names given twice by AS; the order of
# series under ORDER BY time DESC; series left without rows; a wildcard
# over several measurements; rp=; transformations inside expressions
# (non_negative_derivative(max(x), 1s) * 8) and of transformations;
# subqueries over several series and with an outer GROUP BY; Go's regular
# expressions, and its errors for the ones it refuses; operators and types
# InfluxDB refuses in the field list; casts between integer and float;
# a cast on a GROUP BY tag (Grafana's "host"::tag); SHOW TAG KEYS SLIMIT;
# InfluxDB's technical analysis functions (exponential_moving_average and
# its double and triple forms, relative_strength_index,
# chande_momentum_oscillator, kaufmans_efficiency_ratio,
# triple_exponential_derivative: periods, holds, warmups, flat values, the
# windows beside the range, the argument errors); transformations of raw
# wildcards over numeric fields; plain aggregates beside a transformation
# over the statement's own range; fill(<value>) of a transformation's
# missing points.
# Every expected answer below is influxd's, byte for byte (epoch=s).
#
# Usage: CAIRN_BIN=build/release/cairn tests/integration/test_query_influx16.sh
set -euo pipefail

SRC=${CAIRN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${CAIRN_BIN:-$SRC/build/debug/cairn}
[ -x "$BIN" ] || { echo "FAIL: no executable at $BIN (set CAIRN_BIN)" >&2; exit 1; }
command -v curl >/dev/null || { echo "FAIL: curl is required" >&2; exit 1; }

# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" query_influx16

data="$tmp/data"
start_http_server --durability=os

cat >"$tmp/lp" <<'LP'
gapit k=0i 1767225600000
gapit k=5i 1767225630000
gapit k=100i 1767225700000
gapit k=-7i 1767225740000
gapct,s=a v=1 1767225600000
gapct,s=b v=1 1767225600000
gapct,s=c v=1 1767225600000
gapct,s=d v=1 1767225600000
gapct,s=a v=1 1767225640000
edgt,host=a,region=eu iv=-337i,sv="beta",bv=false 1767225600000
edgt,host=b,region=us iv=333i,sv="alpha",bv=true 1767225600000
edgt,host=c\ d,region=eu iv=681i,sv="x y",bv=true 1767225600000
edgt,host=e\,f,region=us iv=-252i,sv="x y",bv=true 1767225600000
edgt,host=g\=h,region=eu iv=863i,sv="x y",bv=true 1767225600000
edgt,host=a,region=eu fv=-46.250434156,sv="de\"lta" 1767225615000
edgt,host=b,region=us fv=-8.182784863,sv="beta" 1767225615000
edgt,host=c\ d,region=eu fv=-40.928698666,sv="de\"lta" 1767225615000
edgt,host=e\,f,region=us fv=-44.088949392,sv="x y" 1767225615000
edgt,host=g\=h,region=eu fv=-37.619803885,sv="beta" 1767225615000
edgt,host=a,region=eu fv=13.062591573,iv=193i,bv=true 1767225630000
edgt,host=b,region=us fv=7.710294862,iv=-188i,bv=true 1767225630000
edgt,host=c\ d,region=eu fv=47.625510559,iv=-905i,bv=true 1767225630000
edgt,host=e\,f,region=us fv=-21.039071367,iv=-705i,bv=true 1767225630000
edgt,host=g\=h,region=eu fv=7.091368965,iv=147i,bv=true 1767225630000
edgt,host=a,region=eu iv=-789i,sv="x y" 1767225645000
edgt,host=b,region=us iv=169i,sv="beta" 1767225645000
edgt,host=c\ d,region=eu iv=-238i,sv="alpha" 1767225645000
edgt,host=e\,f,region=us iv=121i,sv="alpha" 1767225645000
edgt,host=g\=h,region=eu iv=155i,sv="alpha" 1767225645000
edgt,host=a,region=eu fv=10.895901904,sv="alpha" 1767225675000
edgt,host=a,region=eu fv=23.115933464,iv=-366i 1767225705000
edgt,host=a,region=eu fv=44.064856665,iv=-273i,sv="beta",bv=true 1767225720000
edgt,host=a,region=eu sv="de\"lta" 1767225735000
edgt,host=a,region=eu fv=-41.701530534,iv=-691i,sv="beta",bv=true 1767225750000
edgt,host=a,region=eu iv=230i,bv=true 1767225780000
edgt,host=a,region=eu fv=11.373726298,sv="alpha" 1767225795000
edgt,host=a,region=eu fv=-38.464648389,iv=-1i,sv="de\"lta",bv=false 1767225810000
modet v=5i 100000
modet v=3i 101000
modet v=5i 102000
modet v=3i 103000
modet v=9i 104000
modet v=1i 105000
modet v=9i 106000
modet,s=x v=7i 107000
modet,s=x v=2i 108000
modet,s=x v=7i 109000
modet,s=x v=2i 110000
modeu v=1i 200000
modeu v=2i 201000
modeu v=2i 202000
modeu v=1i 203000
modeu v=4i 204000
modew v=3i 300000
modew v=2i 301000
modew v=2i 302000
modew v=3i 303000
modew v=1i 304000
edgi,host=a,zone=z0 fv=0.25,other=0i 1767225600000
edgi,host=a,zone=z1 fv=1.25,other=2i 1767225620000
edgi,host=a,zone=z2 fv=2.25,other=4i 1767225640000
edgi,host=a,zone=z0 fv=3.25,other=6i 1767225660000
edgi,host=a,zone=z1 fv=4.25,other=8i 1767225680000
edgi,host=a,zone=z2 fv=5.25,other=10i 1767225700000
edgi,host=a,zone=z0 fv=6.25,other=12i 1767225720000
edgi,host=a,zone=z1 fv=7.25,other=14i 1767225740000
edgi,host=a,zone=z2 fv=8.25,other=16i 1767225760000
edgi,host=a,zone=z0 fv=9.25,other=18i 1767225780000
edgi,host=a,zone=z1 fv=10.25,other=20i 1767225800000
edgi,host=a,zone=z2 fv=11.25,other=22i 1767225820000
edgi,host=a,zone=z0 fv=12.25,other=24i 1767225840000
edgi,host=a,zone=z1 fv=13.25,other=26i 1767225860000
edgi,host=a,zone=z2 fv=14.25,other=28i 1767225880000
edgi,host=a,zone=z0 fv=15.25,other=30i 1767225900000
edgi,host=a,zone=z1 fv=16.25,other=32i 1767225920000
edgi,host=a,zone=z2 fv=17.25,other=34i 1767225940000
edgi,host=a,zone=z0 fv=18.25,other=36i 1767225960000
edgi,host=a,zone=z1 fv=19.25,other=38i 1767225980000
edgi,host=a,zone=z2 fv=20.25,other=40i 1767226000000
edgi,host=a,zone=z0 fv=21.25,other=42i 1767226020000
edgi,host=a,zone=z1 fv=22.25,other=44i 1767226040000
edgi,host=a,zone=z2 fv=23.25,other=46i 1767226060000
edgi,host=a,zone=z0 fv=24.25,other=48i 1767226080000
edgi,host=a,zone=z1 fv=25.25,other=50i 1767226100000
edgi,host=a,zone=z2 fv=26.25,other=52i 1767226120000
edgi,host=a,zone=z0 fv=27.25,other=54i 1767226140000
edgi,host=a,zone=z1 fv=28.25,other=56i 1767226160000
edgi,host=a,zone=z2 fv=29.25,other=58i 1767226180000
wa,host=h1 x=1,y=2i 100000
wc,x=tagx q=5 100000
wb,host=h2 x="s1",z=true 100000
tf v=1 90000
tf v=2 100000
tf v=4 110000
tf v=8 120000
tf v=16 130000
tf v=32 140000
mb1 b=false 100000
mb1 b=true 110000
cpu,host=a v=1,i=10i,s="x",b=true 100000
cpu,host=a v=3,i=20i,s="y",b=false 110000
cpu,host=a v=7,i=25i,s="x" 125000
cpu,host=a v=2 161000
cpu,host=b v=10,i=1i 105000
cpu,host=b v=20,i=3i 131000
cpu,host=b v=5,i=8i 145000
rx,host=Server01 v=1,sv="Alpha" 1767225600000
rx,host=server02 v=2,sv="beta	gamma" 1767225610000
rx,host=WEB-1 v=3,sv="a.b" 1767225620000
rx,host=db.local v=4,sv="aXb" 1767225630000
rx,host=x\ y v=5,sv="Dd9" 1767225640000
rx,host=nl v=6,sv="a
b" 1767225650000
rxu,city=Zürich v=1,sv="Grüße" 1767225600000
rxu,city=München v=2,sv="€uro" 1767225610000
rxu,city=Zurich v=3,sv="ab" 1767225620000
rxu,city=東京 v=4,sv="😀x" 1767225630000
tam v=1i 1767225600000
tam v=2i 1767225610000
tam v=4i 1767225620000
tam v=8i 1767225630000
tam v=3i 1767225640000
tam v=5i 1767225650000
tam v=7i 1767225660000
tam v=2i 1767225670000
tam v=9i 1767225680000
tam v=10i 1767225690000
tam s="x",b=true 1767225700000
tad v=0i 1767225600000
tad v=0i 1767225610000
tad v=0i 1767225620000
tad v=1i 1767225630000
tad v=1i 1767225640000
tad v=-2i 1767225650000
tad v=-2i 1767225660000
LP
# points every 30 minutes, two devices alternating, over four days around
# each 2026 change of Europe/Berlin and America/New_York
awk 'BEGIN {
    split("1774569600 1792713600 1772755200 1793318400", from, " ")
    for (r = 1; r <= 4; r++)
        for (i = 0; i < 192; i++)
            printf "dstt,dev=d%d v=%.1f,c=%di %d000\n", i % 2 + 1, (i * 7) % 23 - 5.5, int(i / 2), from[r] + i * 1800
}' >>"$tmp/lp"
code=$(curl -s -o "$tmp/wr" -w '%{http_code}' -XPOST "$url/write?db=iot&precision=ms" --data-binary @"$tmp/lp")
[ "$code" = 204 ] || fail "write answered $code: $(cat "$tmp/wr")"

q() { # q QUERY [curl args...]: the body of a GET
    local query=$1
    shift
    curl -s -G "$url/query" --data-urlencode "q=$query" "$@"
}

expect 'fill(linear) of a count: empty windows have no count' "$(q 'SELECT count(v) FROM gapct WHERE time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:01:30Z'"'"' GROUP BY time(10s) fill(linear)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"gapct","columns":["time","count"],"values":[[1767225600,4],[1767225610,3],[1767225620,2],[1767225630,1],[1767225640,1],[1767225650,null],[1767225660,null],[1767225670,null],[1767225680,null]]}]}]}'
expect 'fill(linear) of integers: truncated at the end' "$(q 'SELECT max(k) FROM gapit WHERE time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"' GROUP BY time(10s) fill(linear)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"gapit","columns":["time","max"],"values":[[1767225600,0],[1767225610,1],[1767225620,3],[1767225630,5],[1767225640,18],[1767225650,32],[1767225660,45],[1767225670,59],[1767225680,72],[1767225690,86],[1767225700,100],[1767225710,73],[1767225720,46],[1767225730,19],[1767225740,-7],[1767225750,null],[1767225760,null],[1767225770,null]]}]}]}'
expect 'fill(linear) of floats: InfluxDB'"'"'s arithmetic' "$(q 'SELECT mean(k) FROM gapit WHERE time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"' GROUP BY time(10s) fill(linear)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"gapit","columns":["time","mean"],"values":[[1767225600,0],[1767225610,1.6666666666666667],[1767225620,3.3333333333333335],[1767225630,5],[1767225640,18.57142857142857],[1767225650,32.14285714285714],[1767225660,45.714285714285715],[1767225670,59.285714285714285],[1767225680,72.85714285714286],[1767225690,86.42857142857143],[1767225700,100],[1767225710,73.25],[1767225720,46.5],[1767225730,19.75],[1767225740,-7],[1767225750,null],[1767225760,null],[1767225770,null]]}]}]}'
expect 'SHOW SERIES: keys escaped as line protocol' "$(q 'SHOW SERIES FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"columns":["key"],"values":[["edgt,host=a,region=eu"],["edgt,host=b,region=us"],["edgt,host=c\\ d,region=eu"],["edgt,host=e\\,f,region=us"],["edgt,host=g\\=h,region=eu"]]}]}]}'
expect 'a tag ordered against a string: never true' "$(q 'SELECT count(iv) FROM edgt WHERE host > '"'"'b'"'"'' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0}]}'
expect 'a string field ordered: never true' "$(q 'SELECT count(iv) FROM edgt WHERE sv <= '"'"'b'"'"'' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0}]}'
expect 'SHOW with a tag ordered: InfluxDB'"'"'s error' "$(q 'SHOW TAG VALUES FROM edgt WITH KEY = host WHERE host > '"'"'b'"'"'' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"invalid tag comparison operator"}]}'
expect 'SHOW ... CARDINALITY with a tag ordered: nothing' "$(q 'SHOW SERIES EXACT CARDINALITY FROM edgt WHERE host < '"'"'b'"'"'' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0}]}'
expect 'tz(): the day the clocks go back lasts 25 hours' "$(q 'SELECT count(v), sum(c) FROM dstt WHERE time >= '"'"'2026-10-23T00:00:00Z'"'"' AND time < '"'"'2026-10-27T00:00:00Z'"'"' GROUP BY time(1d) tz('"'"'Europe/Berlin'"'"')' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"dstt","columns":["time","count","sum"],"values":[[1792706400,44,462],[1792792800,48,1608],[1792879200,50,2900],[1792969200,48,3960],[1793055600,2,190]]}]}]}'
expect 'tz(): the day the clocks go forward lasts 23' "$(q 'SELECT count(v), sum(c) FROM dstt WHERE time >= '"'"'2026-03-27T00:00:00Z'"'"' AND time < '"'"'2026-03-31T00:00:00Z'"'"' GROUP BY time(1d) tz('"'"'Europe/Berlin'"'"')' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"dstt","columns":["time","count","sum"],"values":[[1774566000,46,506],[1774652400,48,1656],[1774738800,46,2668],[1774821600,48,3912],[1774908000,4,378]]}]}]}'
expect 'tz(): a 2h window takes the repeated hour' "$(q 'SELECT count(v), sum(c) FROM dstt WHERE time >= '"'"'2026-10-24T22:00:00Z'"'"' AND time < '"'"'2026-10-25T06:00:00Z'"'"' GROUP BY time(2h) tz('"'"'Europe/Berlin'"'"')' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"dstt","columns":["time","count","sum"],"values":[[1792879200,4,186],[1792886400,6,294],[1792897200,4,206],[1792904400,2,106]]}]}]}'
expect 'tz(): 1h windows stay apart' "$(q 'SELECT count(v), sum(c) FROM dstt WHERE time >= '"'"'2026-10-24T22:00:00Z'"'"' AND time < '"'"'2026-10-25T06:00:00Z'"'"' GROUP BY time(1h) tz('"'"'Europe/Berlin'"'"')' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"dstt","columns":["time","count","sum"],"values":[[1792879200,2,92],[1792882800,2,94],[1792886400,2,96],[1792890000,2,98],[1792893600,2,100],[1792897200,2,102],[1792900800,2,104],[1792904400,2,106]]}]}]}'
expect 'tz(): New York, the days of both changes' "$(q 'SELECT count(v), sum(c) FROM dstt WHERE time >= '"'"'2026-03-06T00:00:00Z'"'"' AND time < '"'"'2026-11-03T00:00:00Z'"'"' AND (time < '"'"'2026-03-10T00:00:00Z'"'"' OR time >= '"'"'2026-10-30T00:00:00Z'"'"') GROUP BY time(1d) tz('"'"'America/New_York'"'"') fill(none)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"error":"error parsing query: found fill, expected ; at line 1, char 217"}'
expect 'tz(): weeks' "$(q 'SELECT count(v) FROM dstt WHERE time >= '"'"'2026-10-23T00:00:00Z'"'"' AND time < '"'"'2026-10-27T00:00:00Z'"'"' GROUP BY time(1w) tz('"'"'Europe/Berlin'"'"')' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"dstt","columns":["time","count"],"values":[[1792620000,192]]}]}]}'

expect 'difference of an aggregate: its first window from the one before' "$(q 'SELECT difference(max(iv)) FROM edgt WHERE host = '"'"'a'"'"' AND time >= '"'"'2026-01-01T00:01:00Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"' GROUP BY time(30s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","difference"],"values":[[1767225690,-559],[1767225720,93],[1767225750,-418]]}]}]}'
expect 'derivative of an aggregate' "$(q 'SELECT derivative(mean(iv)) FROM edgt WHERE host = '"'"'a'"'"' AND time >= '"'"'2026-01-01T00:01:00Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"' GROUP BY time(30s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","derivative"],"values":[[1767225690,-34],[1767225720,93],[1767225750,-418]]}]}]}'
expect 'moving_average of an aggregate reads one window before too' "$(q 'SELECT moving_average(max(iv), 3) FROM edgt WHERE host = '"'"'a'"'"' AND time >= '"'"'2026-01-01T00:01:00Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"' GROUP BY time(30s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","moving_average"],"values":[[1767225720,-148.66666666666666],[1767225750,-443.3333333333333]]}]}]}'
expect 'elapsed of an aggregate' "$(q 'SELECT elapsed(max(iv)) FROM edgt WHERE host = '"'"'a'"'"' AND time >= '"'"'2026-01-01T00:01:00Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"' GROUP BY time(30s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","elapsed"],"values":[[1767225690,60000000000],[1767225720,30000000000],[1767225750,30000000000]]}]}]}'
expect 'cumulative_sum reads nothing before' "$(q 'SELECT cumulative_sum(max(iv)) FROM edgt WHERE host = '"'"'a'"'"' AND time >= '"'"'2026-01-01T00:01:00Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"' GROUP BY time(30s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","cumulative_sum"],"values":[[1767225690,-366],[1767225720,-639],[1767225750,-1330]]}]}]}'
expect 'difference with fill(0): the filled window before counts' "$(q 'SELECT difference(mean(fv)) FROM edgt WHERE host = '"'"'a'"'"' AND time >= '"'"'2026-01-01T00:01:00Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"' GROUP BY time(15s) fill(0)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","difference"],"values":[[1767225660,0],[1767225675,10.895901904],[1767225690,-10.895901904],[1767225705,23.115933464],[1767225720,20.948923201],[1767225735,-44.064856665],[1767225750,-41.701530534],[1767225765,41.701530534]]}]}]}'
expect 'a start inside a window: an interval earlier, not a window' "$(q 'SELECT non_negative_derivative(max(iv), 1s) FROM edgt WHERE host = '"'"'a'"'"' AND time >= '"'"'2026-01-01T00:01:10Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"' GROUP BY time(30s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","non_negative_derivative"],"values":[[1767225690,7.05],[1767225720,3.1]]}]}]}'
expect 'LIMIT and OFFSET after the first window' "$(q 'SELECT difference(max(iv)) FROM edgt WHERE host = '"'"'a'"'"' AND time >= '"'"'2026-01-01T00:01:00Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"' GROUP BY time(30s) LIMIT 2 OFFSET 1' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","difference"],"values":[[1767225720,93],[1767225750,-418]]}]}]}'

expect 'mode: ties as InfluxDB'"'"'s ModeReduceSlice breaks them' "$(q 'SELECT mode(v) FROM modet GROUP BY s' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"modet","tags":{"s":""},"columns":["time","mode"],"values":[[0,5]]},{"name":"modet","tags":{"s":"x"},"columns":["time","mode"],"values":[[0,7]]}]}]}'
expect 'mode over two series' "$(q 'SELECT mode(v) FROM modet' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"modet","columns":["time","mode"],"values":[[0,5]]}]}]}'
expect 'mode: a later run as long, begun before the best grew' "$(q 'SELECT mode(v) FROM modeu' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"modeu","columns":["time","mode"],"values":[[0,2]]}]}]}'
expect 'mode: the same, other values' "$(q 'SELECT mode(v) FROM modew' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"modew","columns":["time","mode"],"values":[[0,3]]}]}]}'
expect 'mode per window' "$(q 'SELECT mode(v) FROM modet WHERE time >= 100s AND time < 112s GROUP BY time(3s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"modet","columns":["time","mode"],"values":[[99,3],[102,3],[105,1],[108,2],[111,null]]}]}]}'
expect 'distinct: in the order of each value'"'"'s first point' "$(q 'SELECT distinct(v) FROM modet' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"modet","columns":["time","distinct"],"values":[[0,5],[0,3],[0,9],[0,1],[0,7],[0,2]]}]}]}'
expect 'distinct per window' "$(q 'SELECT distinct(v) FROM modet WHERE time >= 100s AND time < 112s GROUP BY time(4s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"modet","columns":["time","distinct"],"values":[[100,5],[100,3],[104,9],[104,1],[104,7],[108,2],[108,7]]}]}]}'
expect 'distinct of strings' "$(q 'SELECT distinct(sv) FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","distinct"],"values":[[0,"alpha"],[0,"beta"],[0,"x y"],[0,"de\"lta"]]}]}]}'

expect 'mean of strings: InfluxDB'"'"'s error' "$(q 'SELECT mean(sv) FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"unsupported mean iterator type: *query.stringInterruptIterator"}]}'
expect 'max of strings: an error, of booleans: a value' "$(q 'SELECT max(sv) FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"unsupported max iterator type: *query.stringInterruptIterator"}]}'
expect 'max of booleans' "$(q 'SELECT max(bv) FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","max"],"values":[[1767225600,true]]}]}]}'
expect 'percentile of booleans: an error' "$(q 'SELECT percentile(bv, 50) FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"unsupported percentile iterator type: *query.booleanInterruptIterator"}]}'
expect 'derivative of strings: an error' "$(q 'SELECT derivative(sv) FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"unsupported derivative iterator type: *query.stringInterruptIterator"}]}'
expect 'cumulative_sum of booleans: an error' "$(q 'SELECT cumulative_sum(bv) FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"unsupported cumulative sum iterator type: *query.booleanInterruptIterator"}]}'
expect 'max(*) and min(*) take booleans, leave strings out' "$(q 'SELECT max(*), min(*) FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","max_bv","max_fv","max_iv","min_bv","min_fv","min_iv"],"values":[[0,true,47.625510559,863,false,-46.250434156,-905]]}]}]}'
expect 'spread(*) leaves strings and booleans out' "$(q 'SELECT spread(*) FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","spread_fv","spread_iv"],"values":[[0,93.875944715,1768]]}]}]}'

expect 'a raw expression null where one of its fields is missing: the row stays' "$(q 'SELECT fv * iv FROM edgt WHERE host = '"'"'b'"'"'' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","fv_iv"],"values":[[1767225600,null],[1767225615,null],[1767225630,-1449.535434056],[1767225645,null]]}]}]}'
expect 'the same with an alias and a time bound' "$(q 'SELECT fv * iv AS x FROM edgt WHERE host = '"'"'b'"'"' AND time > '"'"'2026-01-01T00:00:20Z'"'"'' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","x"],"values":[[1767225630,-1449.535434056],[1767225645,null]]}]}]}'

expect 'integral per window takes the area to the window'"'"'s end' "$(q 'SELECT integral(fv) FROM edgi WHERE time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"' GROUP BY time(1m)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgi","columns":["time","integral"],"values":[[1767225600,105],[1767225660,285],[1767225720,290]]}]}]}'
expect 'integral per window: a start inside the first window, a unit' "$(q 'SELECT integral(fv, 1m) FROM edgi WHERE time >= '"'"'2026-01-01T00:00:30Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"' GROUP BY time(1m)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgi","columns":["time","integral"],"values":[[1767225600,0.9166666666666666],[1767225660,4.75],[1767225720,4.833333333333333]]}]}]}'
expect 'integral per window: empty windows left out, whatever the fill' "$(q 'SELECT integral(fv) FROM edgi WHERE zone = '"'"'z0'"'"' AND time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:05:00Z'"'"' GROUP BY time(45s) fill(0)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgi","columns":["time","integral"],"values":[[1767225600,61.875],[1767225645,163.125],[1767225690,264.375],[1767225780,832.5],[1767225825,178.125]]}]}]}'
expect 'integral with another aggregate: empty windows filled' "$(q 'SELECT integral(fv), count(fv) FROM edgi WHERE zone = '"'"'z0'"'"' AND time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:05:00Z'"'"' GROUP BY time(45s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgi","columns":["time","integral","count"],"values":[[1767225600,61.875,1],[1767225645,163.125,1],[1767225690,264.375,1],[1767225735,null,0],[1767225780,832.5,1],[1767225825,178.125,1],[1767225870,null,0]]}]}]}'
expect 'integral without GROUP BY time(): at time 0' "$(q 'SELECT integral(fv) FROM edgi WHERE time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"'' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgi","columns":["time","integral"],"values":[[0,680]]}]}]}'

expect 'moving_average of a window of 1: InfluxDB'"'"'s error' "$(q 'SELECT moving_average(iv, 1) FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"moving_average window must be greater than 1, got 1"}]}'
expect 'a transformation of an aggregate without GROUP BY time()' "$(q 'SELECT derivative(mean(iv)) FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"derivative aggregate requires a GROUP BY interval"}]}'
expect 'cumulative_sum of an aggregate without GROUP BY time()' "$(q 'SELECT cumulative_sum(max(iv)) FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"cumulative_sum aggregate requires a GROUP BY interval"}]}'
expect 'a field of literals alone' "$(q 'SELECT fv, 1 FROM edgt WHERE host = '"'"'a'"'"'' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"field must contain at least one variable"}]}'
expect 'fill with a float for an integer aggregate: truncated' "$(q 'SELECT max(iv) FROM edgt WHERE host = '"'"'a'"'"' AND time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:02:00Z'"'"' GROUP BY time(30s) fill(-1.5)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","max"],"values":[[1767225600,-337],[1767225630,193],[1767225660,-1],[1767225690,-366]]}]}]}'
expect 'two columns named alike by AS keep the name' "$(q 'SELECT iv AS t, fv AS t FROM edgt WHERE host = '"'"'a'"'"' LIMIT 2' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","t","t"],"values":[[1767225600,-337,null],[1767225615,null,-46.250434156]]}]}]}'
expect 'a negative duration argument' "$(q 'SELECT derivative(iv, -1s) FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"duration argument must be positive, got -1s"}]}'
expect 'a bare field as a condition' "$(q 'SELECT iv FROM edgt WHERE bv OR iv > 0' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"invalid condition expression: bv"}]}'

expect 'ORDER BY time DESC lists the series in reverse, after SLIMIT' "$(q 'SELECT count(iv) FROM edgt GROUP BY host ORDER BY time DESC SLIMIT 2' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","tags":{"host":"b"},"columns":["time","count"],"values":[[0,3]]},{"name":"edgt","tags":{"host":"a"},"columns":["time","count"],"values":[[0,8]]}]}]}'
expect 'ORDER BY time DESC over windows and tags' "$(q 'SELECT mean(fv) FROM edgi WHERE time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:02:00Z'"'"' GROUP BY time(1m), zone ORDER BY time DESC' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgi","tags":{"zone":"z2"},"columns":["time","mean"],"values":[[1767225660,5.25],[1767225600,2.25]]},{"name":"edgi","tags":{"zone":"z1"},"columns":["time","mean"],"values":[[1767225660,4.25],[1767225600,1.25]]},{"name":"edgi","tags":{"zone":"z0"},"columns":["time","mean"],"values":[[1767225660,3.25],[1767225600,0.25]]}]}]}'
expect 'top() keeps its points in time order under DESC' "$(q 'SELECT top(iv, 3) FROM edgt ORDER BY time DESC' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","top"],"values":[[1767225600,863],[1767225600,681],[1767225600,333]]}]}]}'
expect 'percentile selecting no point: no series' "$(q 'SELECT percentile(iv, 0) FROM edgt GROUP BY host' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0}]}'
expect 'SHOW TAG KEYS: a series OFFSET empties is left out' "$(q 'SHOW TAG KEYS FROM edgt, edgi LIMIT 1 OFFSET 1' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgi","columns":["tagKey"],"values":[["zone"]]},{"name":"edgt","columns":["tagKey"],"values":[["region"]]}]}]}'
expect 'SHOW FIELD KEYS: the same' "$(q 'SHOW FIELD KEYS FROM edgt, gapit LIMIT 1 OFFSET 2' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["fieldKey","fieldType"],"values":[["iv","integer"]]}]}]}'

expect 'several measurements: count(*) over every field of all, null where one lacks it' "$(q 'SELECT count(*) FROM edgt, edgi GROUP BY host' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgi","tags":{"host":"a"},"columns":["time","count_bv","count_fv","count_iv","count_other","count_sv"],"values":[[0,null,30,null,30,null]]},{"name":"edgt","tags":{"host":"a"},"columns":["time","count_bv","count_fv","count_iv","count_other","count_sv"],"values":[[0,6,8,8,null,9]]},{"name":"edgt","tags":{"host":"b"},"columns":["time","count_bv","count_fv","count_iv","count_other","count_sv"],"values":[[0,2,2,3,null,3]]},{"name":"edgt","tags":{"host":"c d"},"columns":["time","count_bv","count_fv","count_iv","count_other","count_sv"],"values":[[0,2,2,3,null,3]]},{"name":"edgt","tags":{"host":"e,f"},"columns":["time","count_bv","count_fv","count_iv","count_other","count_sv"],"values":[[0,2,2,3,null,3]]},{"name":"edgt","tags":{"host":"g=h"},"columns":["time","count_bv","count_fv","count_iv","count_other","count_sv"],"values":[[0,2,2,3,null,3]]}]}]}'
expect 'several measurements, per window' "$(q 'SELECT count(*) FROM edgt, edgi WHERE time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:01:00Z'"'"' GROUP BY time(30s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgi","columns":["time","count_bv","count_fv","count_iv","count_other","count_sv"],"values":[[1767225600,null,2,null,2,null],[1767225630,null,1,null,1,null]]},{"name":"edgt","columns":["time","count_bv","count_fv","count_iv","count_other","count_sv"],"values":[[1767225600,5,5,5,null,10],[1767225630,5,5,10,null,5]]}]}]}'
expect 'several measurements: max(*) by a regex' "$(q 'SELECT max(*) FROM /^(edgt|gapit)$/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","max_bv","max_fv","max_iv","max_k"],"values":[[0,true,47.625510559,863,null]]},{"name":"gapit","columns":["time","max_bv","max_fv","max_iv","max_k"],"values":[[0,null,null,null,100]]}]}]}'
expect 'a count of a field the measurement lacks: null' "$(q 'SELECT count(nosuch), count(iv) FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","count","count_1"],"values":[[0,null,20]]}]}]}'
expect 'a tag named like a field: its column x_1' "$(q 'SELECT * FROM wa, wc' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"wa","columns":["time","host","q","x","x_1","y"],"values":[[100,"h1",null,1,null,2]]},{"name":"wc","columns":["time","host","q","x","x_1","y"],"values":[[100,null,5,null,"tagx",null]]}]}]}'
expect 'a field whose type lost across measurements: null there' "$(q 'SELECT * FROM wa, wb' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"wa","columns":["time","host","x","y","z"],"values":[[100,"h1",1,2,null]]},{"name":"wb","columns":["time","host","x","y","z"],"values":[[100,"h2",null,null,true]]}]}]}'
expect 'an aggregate of it: the measurement whose type won' "$(q 'SELECT mean(x) FROM wa, wb' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"wa","columns":["time","mean"],"values":[[0,1]]}]}]}'
expect 'cumulative_sum beside derivative: not the window before' "$(q 'SELECT cumulative_sum(mean(v)), derivative(mean(v)) FROM tf WHERE time>=100s AND time<150s GROUP BY time(10s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tf","columns":["time","cumulative_sum","derivative"],"values":[[100,2,1],[110,6,2],[120,14,4],[130,30,8],[140,62,16]]}]}]}'
expect 'mode of booleans: a tie is true' "$(q 'SELECT mode(b) FROM mb1' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"mb1","columns":["time","mode"],"values":[[0,true]]}]}]}'
expect 'distinct per window, some empty' "$(q 'SELECT distinct(v) FROM cpu WHERE time>=0s AND time<160s GROUP BY time(20s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","distinct"],"values":[[100,1],[100,10],[100,3],[120,7],[120,20],[140,5]]}]}]}'
expect 'distinct in an expression with another aggregate' "$(q 'SELECT distinct(v)+mean(v) FROM cpu WHERE time>=0s AND time<160s GROUP BY time(20s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"aggregate function distinct() cannot be combined with other functions or fields"}]}'
expect 'fill(N) of a boolean aggregate: false' "$(q 'SELECT first(b) FROM cpu WHERE time>=100s AND time<200s GROUP BY time(20s) fill(2.5)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","first"],"values":[[100,true],[120,false],[140,false],[160,false],[180,false]]}]}]}'
expect 'fill(N) of a string aggregate: empty' "$(q 'SELECT first(s) FROM cpu WHERE time>=100s AND time<200s GROUP BY time(20s) fill(1)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","first"],"values":[[100,"x"],[120,"x"],[140,""],[160,""],[180,""]]}]}]}'
expect 'ORDER BY time DESC over several measurements: those in reverse too' "$(q 'SELECT count(v) FROM cpu, tf ORDER BY time DESC' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tf","columns":["time","count"],"values":[[0,6]]},{"name":"cpu","columns":["time","count"],"values":[[0,7]]}]}]}'
expect 'DESC: a raw difference newest first' "$(q 'SELECT difference(iv) FROM edgt WHERE host = '"'"'a'"'"' ORDER BY time DESC' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","difference"],"values":[[1767225780,231],[1767225750,-921],[1767225720,418],[1767225705,-93],[1767225645,-423],[1767225630,982],[1767225600,-530]]}]}]}'
expect 'DESC: a raw derivative, elapsed time still forward' "$(q 'SELECT derivative(iv) FROM edgt WHERE host = '"'"'a'"'"' ORDER BY time DESC' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","derivative"],"values":[[1767225780,7.7],[1767225750,-30.7],[1767225720,13.933333333333334],[1767225705,-6.2],[1767225645,-7.05],[1767225630,65.46666666666667],[1767225600,-17.666666666666668]]}]}]}'
expect 'DESC: elapsed comes out negative' "$(q 'SELECT elapsed(iv) FROM edgt WHERE host = '"'"'a'"'"' ORDER BY time DESC' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","elapsed"],"values":[[1767225780,-30000000000],[1767225750,-30000000000],[1767225720,-30000000000],[1767225705,-15000000000],[1767225645,-60000000000],[1767225630,-15000000000],[1767225600,-30000000000]]}]}]}'
expect 'DESC: cumulative_sum from the newest point' "$(q 'SELECT cumulative_sum(iv) FROM edgt WHERE host = '"'"'a'"'"' ORDER BY time DESC' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","cumulative_sum"],"values":[[1767225810,-1],[1767225780,229],[1767225750,-462],[1767225720,-735],[1767225705,-1101],[1767225645,-1890],[1767225630,-1697],[1767225600,-2034]]}]}]}'
expect 'DESC: an aggregate'"'"'s transformation reads the window after' "$(q 'SELECT cumulative_sum(mean(v)), derivative(mean(v)) FROM tf WHERE time>=100s AND time<140s GROUP BY time(10s) ORDER BY time DESC' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tf","columns":["time","cumulative_sum","derivative"],"values":[[130,16,-16],[120,24,-8],[110,28,-4],[100,30,-2]]}]}]}'
expect 'DESC with LIMIT and OFFSET' "$(q 'SELECT difference(iv) FROM edgt WHERE host = '"'"'a'"'"' ORDER BY time DESC LIMIT 3 OFFSET 1' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","difference"],"values":[[1767225750,-921],[1767225720,418],[1767225705,-93]]}]}]}'
# rp= names the policy of names without one: it must exist, and a
# continuous query created with it keeps it (InfluxDB's answers)
expect "rp=: names that give their policy need none" \
    "$(q 'SELECT count(v) FROM iot.autogen.tf' --data-urlencode db=iot --data-urlencode rp=nope)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tf","columns":["time","count"],"values":[["1970-01-01T00:00:00Z",6]]}]}]}'
expect "rp=: a policy that does not exist" \
    "$(q 'SELECT count(iv) FROM edgt' --data-urlencode db=iot --data-urlencode rp=nope)" \
    '{"results":[{"statement_id":0,"error":"retention policy not found: nope"}]}'
post() { curl -s -XPOST "$url/query" --data-urlencode "q=$1" "${@:2}"; }
expect "rp=: CREATE CONTINUOUS QUERY with a policy that does not exist" \
    "$(post 'CREATE CONTINUOUS QUERY rp1 ON iot BEGIN SELECT mean(v) INTO m1 FROM cpu GROUP BY time(1m) END' --data-urlencode db=iot --data-urlencode rp=nope)" \
    '{"results":[{"statement_id":0,"error":"retention policy not found: iot.nope"}]}'
post 'CREATE RETENTION POLICY r2 ON iot DURATION 1h REPLICATION 1' >/dev/null
post 'CREATE CONTINUOUS QUERY rp2 ON iot BEGIN SELECT mean(v) INTO m1 FROM cpu GROUP BY time(1m) END' \
    --data-urlencode db=iot --data-urlencode rp=r2 >/dev/null
expect "rp=: the continuous query keeps the policy" "$(q 'SHOW CONTINUOUS QUERIES')" \
    '{"results":[{"statement_id":0,"series":[{"name":"iot","columns":["name","query"],"values":[["rp2","CREATE CONTINUOUS QUERY rp2 ON iot BEGIN SELECT mean(v) INTO iot.r2.m1 FROM iot.r2.cpu GROUP BY time(1m) END"]]}]}]}'

# Transformations inside expressions and of transformations (a hidden
# column per transformation, plan.h), the rows InfluxDB keeps for them,
# and its errors for wildcards under an operator.
expect 'a transformation of an aggregate times a number' "$(q 'SELECT non_negative_derivative(max(iv), 1s) * 8 FROM edgt WHERE host = '"'"'a'"'"' AND time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:04:00Z'"'"' GROUP BY time(30s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","non_negative_derivative"],"values":[[1767225630,141.33333333333334],[1767225720,24.8],[1767225780,245.6]]}]}]}'
expect 'a number times a transformation' "$(q 'SELECT 2 * difference(mean(fv)) FROM edgt WHERE host = '"'"'a'"'"' AND time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:04:00Z'"'"' GROUP BY time(30s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","difference"],"values":[[1767225630,118.62605145799999],[1767225660,-4.333379338],[1767225690,24.44006312],[1767225720,41.897846402],[1767225750,-171.53277439800002],[1767225780,106.150513664],[1767225810,-99.676749374]]}]}]}'
expect 'a math function of a transformation' "$(q 'SELECT abs(difference(fv)) FROM edgt WHERE host = '"'"'a'"'"' AND time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:04:00Z'"'"'' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","abs"],"values":[[1767225630,59.313025728999996],[1767225675,2.166689669],[1767225705,12.22003156],[1767225720,20.948923201],[1767225750,85.76638719900001],[1767225795,53.075256832],[1767225810,49.838374687]]}]}]}'
expect 'raw transformations in an expression' "$(q 'SELECT derivative(v) * 60, cumulative_sum(v) / 2 FROM tf' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tf","columns":["time","derivative","cumulative_sum"],"values":[[90,null,0.5],[100,6,1.5],[110,12,3.5],[120,24,7.5],[130,48,15.5],[140,96,31.5]]}]}]}'
expect 'a transformation times an aggregate: null rows of its windows stay' "$(q 'SELECT derivative(mean(k)) * mean(k) FROM gapit WHERE time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"' GROUP BY time(30s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"gapit","columns":["time","derivative_mean"],"values":[[1767225600,null],[1767225630,25],[1767225660,null],[1767225690,4750],[1767225720,749],[1767225750,null]]}]}]}'
expect 'two transformations in one expression' "$(q 'SELECT difference(mean(k)) - difference(max(k)) FROM gapit WHERE time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"' GROUP BY time(30s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"gapit","columns":["time","difference_difference"],"values":[[1767225630,0],[1767225690,0],[1767225720,0]]}]}]}'
expect 'an aggregate beside a transformation keeps its empty windows' "$(q 'SELECT derivative(mean(k)), mean(k) FROM gapit WHERE time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"' GROUP BY time(30s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"gapit","columns":["time","derivative","mean"],"values":[[1767225600,null,0],[1767225630,5,5],[1767225660,null,null],[1767225690,47.5,100],[1767225720,-107,-7],[1767225750,null,null]]}]}]}'
expect 'a transformation of a transformation' "$(q 'SELECT difference(derivative(mean(k))) FROM gapit WHERE time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"' GROUP BY time(30s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"gapit","columns":["time","difference"],"values":[[1767225690,42.5],[1767225720,-154.5]]}]}]}'
expect 'a transformation of a transformation needs GROUP BY time()' "$(q 'SELECT difference(derivative(k)) FROM gapit' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"difference aggregate requires a GROUP BY interval"}]}'
expect 'a transformation of a raw field under GROUP BY time()' "$(q 'SELECT derivative(k) * 2 FROM gapit WHERE time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"' GROUP BY time(30s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"aggregate function required inside the call to derivative"}]}'
expect 'a raw field beside a transformation in an expression' "$(q 'SELECT difference(k) + k FROM gapit' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"mixing aggregate and non-aggregate queries is not supported"}]}'
expect 'a wildcard under an operator' "$(q 'SELECT derivative(mean(*)) * 2 FROM gapit WHERE time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"' GROUP BY time(30s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"unsupported expression with wildcard: mean()"}]}'
expect 'a regex under an operator' "$(q 'SELECT max(/k/) + 1 FROM gapit' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"unsupported expression with regex field: max()"}]}'
expect 'a bare wildcard under an operator' "$(q 'SELECT * + 1 FROM gapit' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"unable to use wildcard in a binary expression"}]}'
expect 'a regex field is alone' "$(q 'SELECT /k/ + 1 FROM gapit' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"error":"error parsing query: found +, expected FROM at line 1, char 12"}'
expect 'difference over merged series: the first point of each time' "$(q 'SELECT difference(v) FROM gapct' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"gapct","columns":["time","difference"],"values":[[1767225640,0]]}]}]}'

# A tag a series lacks, and an integer field beside another measurement's
# float field of the same name.
expect 'a series without a selected tag: null' "$(q 'SELECT v, s FROM modet' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"modet","columns":["time","v","s"],"values":[[100,5,null],[101,3,null],[102,5,null],[103,3,null],[104,9,null],[105,1,null],[106,9,null],[107,7,"x"],[108,2,"x"],[109,7,"x"],[110,2,"x"]]}]}]}'
expect 'an integer field where another measurement has a float: read as a number' "$(q 'SELECT * FROM cpu, modet' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","b","host","i","s","s_1","v"],"values":[[100,true,"a",10,"x",null,1],[105,null,"b",1,null,null,10],[110,false,"a",20,"y",null,3],[125,null,"a",25,"x",null,7],[131,null,"b",3,null,null,20],[145,null,"b",8,null,null,5],[161,null,"a",null,null,null,2]]},{"name":"modet","columns":["time","b","host","i","s","s_1","v"],"values":[[100,null,null,null,null,null,5],[101,null,null,null,null,null,3],[102,null,null,null,null,null,5],[103,null,null,null,null,null,3],[104,null,null,null,null,null,9],[105,null,null,null,null,null,1],[106,null,null,null,null,null,9],[107,null,null,null,null,"x",7],[108,null,null,null,null,"x",2],[109,null,null,null,null,"x",7],[110,null,null,null,null,"x",2]]}]}]}'
expect 'aggregates of an integer field beside a float one' "$(q 'SELECT count(v), sum(v), max(v) FROM cpu, modet' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","count","sum","max"],"values":[[0,7,48,20]]},{"name":"modet","columns":["time","count","sum","max"],"values":[[0,11,53,9]]}]}]}'

# The same selector call twice is one selector: its point's time.
expect 'the same selector twice: its point time' "$(q 'SELECT max(v), max(v) * 2 FROM cpu' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","max","max_1"],"values":[[131,20,40]]}]}]}'
expect 'the same selector under two names' "$(q 'SELECT max(v) AS a, max(v) AS b FROM cpu' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","a","b"],"values":[[131,20,20]]}]}]}'
expect 'two different selectors: time 0' "$(q 'SELECT max(v), min(v) FROM cpu' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","max","min"],"values":[[0,20,1]]}]}]}'

# Subqueries: every inner row stays (several series' rows at one time,
# distinct()'s values), and the outer GROUP BY tags go down into the inner
# statement.
expect 'a subquery keeps raw rows of several series at one time' "$(q 'SELECT count(fv) FROM (SELECT fv FROM edgt)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","count"],"values":[[0,16]]}]}]}'
expect 'count of distinct values through a subquery' "$(q 'SELECT count(d) FROM (SELECT distinct(sv) AS d FROM edgt)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","count"],"values":[[0,4]]}]}]}'
expect 'the outer GROUP BY tags go down into the subquery' "$(q 'SELECT count(fv) FROM (SELECT fv FROM edgt WHERE fv > 0) GROUP BY host' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","tags":{"host":"a"},"columns":["time","count"],"values":[[0,5]]},{"name":"edgt","tags":{"host":"b"},"columns":["time","count"],"values":[[0,1]]},{"name":"edgt","tags":{"host":"c d"},"columns":["time","count"],"values":[[0,1]]},{"name":"edgt","tags":{"host":"g=h"},"columns":["time","count"],"values":[[0,1]]}]}]}'
expect 'an inner aggregate per outer GROUP BY tag' "$(q 'SELECT count(m) FROM (SELECT max(fv) AS m FROM edgt GROUP BY time(1m)) GROUP BY region' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","tags":{"region":"eu"},"columns":["time","count"],"values":[[0,4]]},{"name":"edgt","tags":{"region":"us"},"columns":["time","count"],"values":[[0,1]]}]}]}'
expect 'an inner LIMIT per outer GROUP BY tag' "$(q 'SELECT count(iv) FROM (SELECT iv FROM edgt LIMIT 2) GROUP BY host' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","tags":{"host":"a"},"columns":["time","count"],"values":[[0,2]]},{"name":"edgt","tags":{"host":"b"},"columns":["time","count"],"values":[[0,2]]},{"name":"edgt","tags":{"host":"c d"},"columns":["time","count"],"values":[[0,2]]},{"name":"edgt","tags":{"host":"e,f"},"columns":["time","count"],"values":[[0,2]]},{"name":"edgt","tags":{"host":"g=h"},"columns":["time","count"],"values":[[0,2]]}]}]}'
expect 'an outer condition on a selected tag' "$(q 'SELECT mean(fv) FROM (SELECT fv, host FROM edgt) WHERE host = '"'"'a'"'"'' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","mean"],"values":[[0,-2.987950396874999]]}]}]}'
expect 'an outer condition on a tag the subquery does not keep' "$(q 'SELECT count(fv) FROM (SELECT fv FROM edgt) WHERE host = '"'"'a'"'"'' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0}]}'

# Argument errors in InfluxDB's words.
expect 'moving_average without its window' "$(q 'SELECT moving_average(v) FROM cpu' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"invalid number of arguments for moving_average, expected 2, got 1"}]}'
expect 'moving_average with a float window' "$(q 'SELECT moving_average(v, 1.5) FROM cpu' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"second argument for moving_average must be an integer, got *influxql.NumberLiteral"}]}'
expect 'integral with a zero unit' "$(q 'SELECT integral(v, 0s) FROM cpu' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"duration argument must be positive, got 0s"}]}'

# Found by a review: transformations of transformations under an operator,
# names given twice, rows of a field the measurement lacks, distinct() in
# an expression, mixing, top() in a transformation, calls told apart by
# their text, a subquery's empty group tag.
expect 'a transformation of a transformation under an operator' "$(q 'SELECT difference(derivative(max(iv))) * 2 FROM edgt WHERE host = '"'"'a'"'"' AND time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:04:00Z'"'"' GROUP BY time(30s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","difference"],"values":[[1767225690,-1619],[1767225720,745],[1767225750,-1022],[1767225780,2678],[1767225810,-2304]]}]}]}'
expect 'three transformations deep' "$(q 'SELECT difference(difference(difference(max(iv)))) FROM edgt WHERE host = '"'"'a'"'"' AND time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:04:00Z'"'"' GROUP BY time(30s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","difference"],"values":[[1767225720,1741],[1767225750,-1163],[1767225780,1850],[1767225810,-2491]]}]}]}'
expect 'the same name given twice by AS to expressions' "$(q 'SELECT difference(max(k)) * 2 AS d, difference(max(k)) * 3 AS d FROM gapit WHERE time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"' GROUP BY time(30s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"gapit","columns":["time","d","d"],"values":[[1767225630,10,15],[1767225690,190,285],[1767225720,-214,-321]]}]}]}'
expect 'an aggregate of a field the measurement lacks keeps no row' "$(q 'SELECT derivative(mean(k)), mean(nosuch) FROM gapit WHERE time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"' GROUP BY time(30s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"gapit","columns":["time","derivative","mean"],"values":[[1767225630,5,null],[1767225690,47.5,null],[1767225720,-107,null]]}]}]}'
expect 'a transformation of distinct() in an expression' "$(q 'SELECT difference(distinct(k)) * 2 FROM gapit WHERE time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"' GROUP BY time(30s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"gapit","columns":["time","difference"],"values":[[1767225630,10],[1767225690,190],[1767225720,-214]]}]}]}'
expect 'a raw transformation beside the raw field' "$(q 'SELECT abs(difference(k)), k FROM gapit' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"mixing aggregate and non-aggregate queries is not supported"}]}'
expect 'top() inside a transformation' "$(q 'SELECT derivative(top(k, 1)) * 2 FROM gapit WHERE time >= '"'"'2026-01-01T00:00:00Z'"'"' AND time < '"'"'2026-01-01T00:03:00Z'"'"' GROUP BY time(30s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"selector function top() cannot be combined with other functions"}]}'
expect 'percentile(x, 90) and percentile(x, 90.0) are two calls' "$(q 'SELECT percentile(v, 90), percentile(v, 90.0) * 2 FROM cpu' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","percentile","percentile_1"],"values":[[0,10,20]]}]}]}'
expect 'a wildcard under a math function and an operator' "$(q 'SELECT abs(*) + 1 FROM cpu' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"unable to use wildcard in a binary expression"}]}'
expect 'a subquery group without the tag: empty, not null' "$(q 'SELECT a, s FROM (SELECT difference(v) AS a FROM modet GROUP BY s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"modet","columns":["time","a","s"],"values":[[101,-2,""],[102,2,""],[103,-2,""],[104,6,""],[105,-8,""],[106,8,""],[108,-5,"x"],[109,5,"x"],[110,-5,"x"]]}]}]}'

# GROUP BY time() windows near the earliest time (no signed overflow).
expect 'windows near the earliest time' "$(q 'SELECT count(v) FROM cpu WHERE time >= -9223372036854775806 AND time < -9223372036000000000 GROUP BY time(1h, 30m)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0}]}'

# moving_average's running sum, as InfluxDB's reducer keeps it.
expect 'moving_average summed as InfluxDB sums it' "$(q 'SELECT moving_average(fv, 3) FROM edgt GROUP BY host' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","tags":{"host":"a"},"columns":["time","moving_average"],"values":[[1767225675,-7.430646893],[1767225705,15.691475646999999],[1767225720,26.025564011],[1767225750,8.493086531666668],[1767225795,4.579017476333333],[1767225810,-22.930817541666666]]}]}]}'
expect 'moving_average of an integer field' "$(q 'SELECT moving_average(iv, 2) FROM edgt WHERE host = '"'"'a'"'"'' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","moving_average"],"values":[[1767225630,-72],[1767225645,-298],[1767225705,-577.5],[1767225720,-319.5],[1767225750,-482],[1767225780,-230.5],[1767225810,114.5]]}]}]}'

# Go's escapes inside a regex's brackets, which POSIX brackets lack.
expect 'an escaped hyphen in a bracket expression' "$(q 'SELECT count(fv) FROM edgt WHERE host =~ /^[\w\-.]+$/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","count"],"values":[[0,10]]}]}]}'
expect 'an escaped hyphen is no range' "$(q 'SELECT count(fv) FROM edgt WHERE host =~ /^[a\-z]$/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","count"],"values":[[0,8]]}]}]}'


# Go's regular expressions (query/rx.c): flag groups, non-capturing and
# named groups, \A \z \Q..\E \x escapes, non-greedy repetitions, and
# the errors InfluxDB's parser gives for what Go refuses
expect '(?i) folds case' "$(q 'SELECT v FROM rx WHERE host =~ /(?i)server/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"rx","columns":["time","v"],"values":[[1767225600,1],[1767225610,2]]}]}]}'
expect 'a scoped flag group' "$(q 'SELECT v FROM rx WHERE host =~ /(?i:SERVER)0/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"rx","columns":["time","v"],"values":[[1767225600,1],[1767225610,2]]}]}]}'
expect 'a flag to the end of its group' "$(q 'SELECT v FROM rx WHERE host =~ /x(?i)a|B$/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0}]}'
expect 'non-capturing and named groups' "$(q 'SELECT v FROM rx WHERE host =~ /^(?:Server|WEB)/ OR host =~ /(?P<n>db)\./' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"rx","columns":["time","v"],"values":[[1767225600,1],[1767225620,3],[1767225630,4]]}]}]}'
expect 'a dot is no newline without (?s)' "$(q 'SELECT v FROM rx WHERE sv =~ /a.b/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"rx","columns":["time","v"],"values":[[1767225620,3],[1767225630,4]]}]}]}'
expect '(?s) lets a dot take a newline' "$(q 'SELECT v FROM rx WHERE sv =~ /(?s)^a.b$/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"rx","columns":["time","v"],"values":[[1767225620,3],[1767225630,4],[1767225650,6]]}]}]}'
expect '(?m) anchors at lines, [^x] takes a newline' "$(q 'SELECT v FROM rx WHERE sv =~ /(?m)^b$/ OR sv =~ /(?m)a[^x]b/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"rx","columns":["time","v"],"values":[[1767225620,3],[1767225630,4],[1767225650,6]]}]}]}'
expect '\A \z \Q \x and non-greedy' "$(q 'SELECT v FROM rx WHERE host =~ /\Aserver/ OR host =~ /local\z/ OR sv =~ /\Qa.b\E/ OR sv =~ /beta\x09/ OR host =~ /se*?rver0\x{32}/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"rx","columns":["time","v"],"values":[[1767225610,2],[1767225620,3],[1767225630,4]]}]}]}'
expect '(?U)' "$(q 'SELECT v FROM rx WHERE sv =~ /(?U)D.+9/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"rx","columns":["time","v"],"values":[[1767225640,5]]}]}]}'
expect '(?i) over a class' "$(q 'SELECT v FROM rx WHERE sv =~ /(?i)[a-c]x/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"rx","columns":["time","v"],"values":[[1767225630,4]]}]}]}'
expect 'a brace that is no count is a literal' "$(q 'SELECT v FROM rx WHERE host =~ /a{,2}/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0}]}'
expect 'regex error: missing )' "$(q 'SELECT v FROM rx WHERE host =~ /(/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"error":"error parsing query: error parsing regexp: missing closing ): `(` at line 1, char 31"}'
expect 'regex error: missing ] at its bracket' "$(q 'SELECT v FROM rx WHERE host=~/a[b/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"error":"error parsing query: error parsing regexp: missing closing ]: `[b` at line 1, char 29"}'
expect 'regex error: nested repetition' "$(q 'SELECT v FROM rx WHERE host =~ /a*?*/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"error":"error parsing query: error parsing regexp: invalid nested repetition operator: `*?*` at line 1, char 31"}'
expect 'regex error: escape' "$(q 'SELECT v FROM rx WHERE host =~ /\1/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"error":"error parsing query: error parsing regexp: invalid escape sequence: `\\1` at line 1, char 31"}'
expect 'regex error: Perl syntax' "$(q 'SELECT v FROM rx WHERE host =~ /(?=a)/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"error":"error parsing query: error parsing regexp: invalid or unsupported Perl syntax: `(?=` at line 1, char 31"}'
expect 'regex error: class name' "$(q 'SHOW TAG VALUES WITH KEY =~ /[[:foo:]]/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"error":"error parsing query: error parsing regexp: invalid character class range: `[:foo:]` at line 1, char 28"}'
expect 'regex error: repeat count' "$(q 'SELECT v FROM /a{3,2}/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"error":"error parsing query: error parsing regexp: invalid repeat count: `{3,2}` at line 1, char 14"}'


# operators InfluxDB refuses in the field list, and its type errors
expect 'a comparison in the field list' "$(q 'SELECT iv, fv > 1 FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"error":"error parsing query: invalid operator \u003e in SELECT clause at line 1, char 12; operator is intended for WHERE clause"}'
expect 'AND in a function'"'"'s argument' "$(q 'SELECT mean(fv AND iv) FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"error":"error parsing query: invalid operator AND in SELECT clause at line 1, char 8; operator is intended for WHERE clause"}'
expect 'type error: string + string' "$(q 'SELECT sv + '"'"'x'"'"' FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"type error: sv::string + '"'"'x'"'"': incompatible types: string and string"}]}'
expect 'type error: float & float' "$(q 'SELECT fv & fv FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"type error: fv::float \u0026 fv::float: incompatible types: float and float"}]}'
expect 'type error: integer & boolean' "$(q 'SELECT iv & bv FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"type error: iv::integer \u0026 bv::boolean: incompatible types: integer and boolean"}]}'
expect 'type error: a tag' "$(q 'SELECT host + 1 FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"type error: host::tag + 1: incompatible types: tag and integer"}]}'
expect 'type error: negation' "$(q 'SELECT 2 * -sv FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"type error: -1 * sv::string: incompatible types: integer and string"}]}'
expect 'type error: the inner operator first' "$(q 'SELECT (fv + sv) * 2 FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"type error: fv::float + sv::string: incompatible types: float and string"}]}'
expect 'type error: left to right' "$(q 'SELECT fv + 1 + sv FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"type error: fv::float + 1 + sv::string: incompatible types: float and string"}]}'
expect 'type error: a float literal' "$(q 'SELECT sv + 1.5 FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"type error: sv::string + 1.500: incompatible types: string and float"}]}'
expect 'type error: an unknown field takes the other side' "$(q 'SELECT zz + sv + 1 FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"type error: zz + sv::string + 1: incompatible types: string and integer"}]}'
expect 'type error: selectors keep their type' "$(q 'SELECT first(sv) + 1 FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"type error: first(sv::string) + 1: incompatible types: string and integer"}]}'
expect 'type error: mean is a float' "$(q 'SELECT mean(iv) & 1 FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"type error: mean(iv::integer) \u0026 1: incompatible types: float and integer"}]}'
expect 'type error: casts' "$(q 'SELECT iv::string + 1 FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"type error: iv::string + 1: incompatible types: string and integer"}]}'
expect 'no type error: count, sum, bitwise booleans' "$(q 'SELECT count(sv) + 1, sum(iv) & 1 FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","count","sum"],"values":[[0,22,1]]}]}]}'


# casts: between integer and float they convert (x::integer truncates, also
# inside aggregates); a string or boolean field cast to anything else, or
# another field cast to one of those, reads nothing
expect 'a string field cast to a number reads nothing' "$(q 'SELECT sv::float FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0}]}'
expect 'nothing to aggregate' "$(q 'SELECT count(sv::float), mean(sv::float) FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0}]}'
expect 'an integer cast to a string reads nothing' "$(q 'SELECT iv::string, bv::string, iv::boolean FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0}]}'
expect '::integer truncates a float' "$(q 'SELECT fv::integer, fv::integer * 2 FROM edgt WHERE host = '"'"'b'"'"'' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","fv","fv_1"],"values":[[1767225615,-8,-16],[1767225630,7,14]]}]}]}'
expect '::float divides as floats' "$(q 'SELECT iv::float / 2 FROM edgt WHERE host = '"'"'a'"'"'' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","iv"],"values":[[1767225600,-168.5],[1767225630,96.5],[1767225645,-394.5],[1767225705,-183],[1767225720,-136.5],[1767225750,-345.5],[1767225780,115],[1767225810,-0.5]]}]}]}'
expect 'aggregates of truncated values' "$(q 'SELECT sum(fv::integer), mean(fv::integer), max(fv::integer), median(fv::integer) FROM edgt GROUP BY host' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","tags":{"host":"a"},"columns":["time","sum","mean","max","median"],"values":[[0,-24,-3,44,10.5]]},{"name":"edgt","tags":{"host":"b"},"columns":["time","sum","mean","max","median"],"values":[[0,-1,-0.5,7,-0.5]]},{"name":"edgt","tags":{"host":"c d"},"columns":["time","sum","mean","max","median"],"values":[[0,7,3.5,47,3.5]]},{"name":"edgt","tags":{"host":"e,f"},"columns":["time","sum","mean","max","median"],"values":[[0,-65,-32.5,-21,-32.5]]},{"name":"edgt","tags":{"host":"g=h"},"columns":["time","sum","mean","max","median"],"values":[[0,-30,-15,7,-15]]}]}]}'
expect 'selectors of truncated values' "$(q 'SELECT first(fv::integer), last(fv::integer), spread(fv::integer) FROM edgt GROUP BY host' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","tags":{"host":"a"},"columns":["time","first","last","spread"],"values":[[0,-46,-38,90]]},{"name":"edgt","tags":{"host":"b"},"columns":["time","first","last","spread"],"values":[[0,-8,7,15]]},{"name":"edgt","tags":{"host":"c d"},"columns":["time","first","last","spread"],"values":[[0,-40,47,87]]},{"name":"edgt","tags":{"host":"e,f"},"columns":["time","first","last","spread"],"values":[[0,-44,-21,23]]},{"name":"edgt","tags":{"host":"g=h"},"columns":["time","first","last","spread"],"values":[[0,-37,7,44]]}]}]}'
expect 'top of truncated values' "$(q 'SELECT top(fv::integer, 2) FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","top"],"values":[[1767225630,47],[1767225720,44]]}]}]}'
expect 'last of truncated values, not the cache' "$(q 'SELECT last(fv::integer) FROM edgt GROUP BY host' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","tags":{"host":"a"},"columns":["time","last"],"values":[[1767225810,-38]]},{"name":"edgt","tags":{"host":"b"},"columns":["time","last"],"values":[[1767225630,7]]},{"name":"edgt","tags":{"host":"c d"},"columns":["time","last"],"values":[[1767225630,47]]},{"name":"edgt","tags":{"host":"e,f"},"columns":["time","last"],"values":[[1767225630,-21]]},{"name":"edgt","tags":{"host":"g=h"},"columns":["time","last"],"values":[[1767225630,7]]}]}]}'


# Grafana's GROUP BY "host"::tag (any cast on a dimension is taken), and
# SHOW TAG KEYS ... SLIMIT/SOFFSET (taken and ignored by 1.6.7)
expect 'a cast on a GROUP BY tag' "$(q 'SELECT mean(v) FROM rx WHERE time >= 1767225600s AND time < 1767225660s GROUP BY time(30s), "host"::tag fill(null)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"rx","tags":{"host":"Server01"},"columns":["time","mean"],"values":[[1767225600,1],[1767225630,null]]},{"name":"rx","tags":{"host":"WEB-1"},"columns":["time","mean"],"values":[[1767225600,3],[1767225630,null]]},{"name":"rx","tags":{"host":"db.local"},"columns":["time","mean"],"values":[[1767225600,null],[1767225630,4]]},{"name":"rx","tags":{"host":"nl"},"columns":["time","mean"],"values":[[1767225600,null],[1767225630,6]]},{"name":"rx","tags":{"host":"server02"},"columns":["time","mean"],"values":[[1767225600,2],[1767225630,null]]},{"name":"rx","tags":{"host":"x y"},"columns":["time","mean"],"values":[[1767225600,null],[1767225630,5]]}]}]}'
expect 'SHOW TAG KEYS with SLIMIT and SOFFSET' "$(q 'SHOW TAG KEYS FROM rx LIMIT 1 SLIMIT 2 SOFFSET 1' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"rx","columns":["tagKey"],"values":[["host"]]}]}]}'


# after a review: [\w-.], (?i) over a negated class, a count with a leading
# zero, (?) and a repetition after a flag group, as Go reads them; a boolean
# on the left of & | ^ (1.6.7 answers false beside a non-boolean, and a
# missing field beside a boolean field is false); percentile of x::integer
# beside another field
expect 'a class before - leaves it a member' "$(q 'SELECT v FROM rx WHERE host =~ /^[\w-.]+$/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"rx","columns":["time","v"],"values":[[1767225600,1],[1767225610,2],[1767225620,3],[1767225630,4],[1767225650,6]]}]}]}'
expect '(?i) folds a negated class before negating it' "$(q 'SELECT v FROM rx WHERE host =~ /(?i)^[[:^lower:]]/ OR sv =~ /(?i)^[^[:^lower:]]+$/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"rx","columns":["time","v"],"values":[[1767225600,1],[1767225630,4]]}]}]}'
expect 'Go'"'"'s counts, (?) and flag groups before a repetition' "$(q 'SELECT v FROM rx WHERE host =~ /l{01}/ OR host =~ /(?)S/ OR host =~ /e(?i)*r/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"rx","columns":["time","v"],"values":[[1767225600,1],[1767225610,2]]}]}]}'
expect 'a boolean on the left of bitwise operators' "$(q 'SELECT bv & 1, bv ^ iv, bv | fv FROM edgt WHERE host = '"'"'a'"'"'' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","bv","bv_iv","bv_fv"],"values":[[1767225600,false,false,false],[1767225615,null,null,null],[1767225630,false,false,false],[1767225645,null,null,null],[1767225675,null,null,null],[1767225705,null,null,null],[1767225720,false,false,false],[1767225750,false,false,false],[1767225780,false,false,true],[1767225795,null,null,null],[1767225810,false,false,false]]}]}]}'
expect 'a missing field beside a boolean field' "$(q 'SELECT bv ^ sv FROM edgt WHERE host = '"'"'b'"'"'' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","bv_sv"],"values":[[1767225600,false],[1767225615,null],[1767225630,true],[1767225645,null]]}]}]}'
expect 'percentile of a truncated field beside another field' "$(q 'SELECT percentile(fv::integer, 90), iv FROM edgt WHERE host = '"'"'b'"'"'' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"edgt","columns":["time","percentile","iv"],"values":[[1767225630,7,-188]]}]}]}'
# characters, not bytes: '.', negated classes, \D \W \S, non-ASCII ranges
# and (?i) over non-ASCII letters match as Go's regexp does
expect 'a dot is one UTF-8 character' "$(q 'SELECT v FROM rxu WHERE city =~ /^Z.rich$/ OR city =~ /^..$/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"rxu","columns":["time","v"],"values":[[1767225600,1],[1767225620,3],[1767225630,4]]}]}]}'
expect 'a counted dot on a string field' "$(q 'SELECT v FROM rxu WHERE sv =~ /^.{2}$/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"rxu","columns":["time","v"],"values":[[1767225620,3],[1767225630,4]]}]}]}'
expect 'negated classes take whole characters' "$(q 'SELECT v FROM rxu WHERE city =~ /^[^Z][^a-z]/ OR sv =~ /^\W\w$/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"rxu","columns":["time","v"],"values":[[1767225610,2],[1767225630,4]]}]}]}'
expect 'non-ASCII ranges' "$(q 'SELECT v FROM rxu WHERE city =~ /[à-ü]/ OR city =~ /[\x{4e00}-\x{9fff}]$/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"rxu","columns":["time","v"],"values":[[1767225600,1],[1767225610,2],[1767225630,4]]}]}]}'
expect 'a negated non-ASCII class' "$(q 'SELECT v FROM rxu WHERE city !~ /^[^ü]+$/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"rxu","columns":["time","v"],"values":[[1767225600,1],[1767225610,2]]}]}]}'
expect '(?i) over non-ASCII letters' "$(q 'SELECT v FROM rxu WHERE sv =~ /(?i)^GRÜ/ OR city =~ /(?i)^z[^Ü]/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"rxu","columns":["time","v"],"values":[[1767225600,1],[1767225620,3]]}]}]}'
expect '^ and $ are the text'"'"'s ends without (?m), \z with it' "$(q 'SELECT v FROM rx WHERE sv =~ /(?s).^b/ OR sv =~ /a$\nb/' --data-urlencode db=iot --data-urlencode epoch=s)$(q 'SELECT v FROM rx WHERE sv =~ /(?m)a$\nb\z/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0}]}{"results":[{"statement_id":0,"series":[{"name":"rx","columns":["time","v"],"values":[[1767225650,6]]}]}]}'
expect 'SHOW TAG VALUES by a counted dot' "$(q 'SHOW TAG VALUES FROM rxu WITH KEY = city WHERE city =~ /^.{2}$/' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"rxu","columns":["key","value"],"values":[["city","東京"]]}]}]}'

expect 'the mixing error before a type error' "$(q 'SELECT count(sv) + sv FROM edgt' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"mixing aggregate and non-aggregate queries is not supported"}]}'

# the exponential averages (InfluxDB's technical analysis functions) and
# transformations of raw wildcards
expect 'exponential_moving_average of raw integers' "$(q 'SELECT exponential_moving_average(v, 3) FROM tam' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tam","columns":["time","exponential_moving_average"],"values":[[1767225620,2.833333333333333],[1767225630,5.416666666666666],[1767225640,4.208333333333333],[1767225650,4.604166666666666],[1767225660,5.802083333333333],[1767225670,3.9010416666666665],[1767225680,6.450520833333334],[1767225690,8.225260416666668]]}]}]}'
expect 'double_exponential_moving_average from the first point' "$(q 'SELECT double_exponential_moving_average(v, 3, 0) FROM tam' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tam","columns":["time","double_exponential_moving_average"],"values":[[1767225600,1],[1767225610,1.8888888888888888],[1767225620,3.5277777777777777],[1767225630,7.055555555555555],[1767225640,4.423611111111111],[1767225650,4.909722222222221],[1767225660,6.553819444444445],[1767225670,3.3263888888888893],[1767225680,7.437934027777779],[1767225690,9.606336805555557]]}]}]}'
expect 'triple_exponential_moving_average with a simple warmup' "$(q 'SELECT triple_exponential_moving_average(v, 2, -1, '"'"'simple'"'"') FROM tam' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tam","columns":["time","triple_exponential_moving_average"],"values":[[1767225630,7.740740740740742],[1767225640,3.2757201646090524],[1767225650,4.7503429355281215],[1767225660,6.908093278463649],[1767225670,2.2607834171620196],[1767225680,8.57846872936036],[1767225690,10.154803637656864]]}]}]}'
expect 'an exponential average answers the window before the range' "$(q 'SELECT exponential_moving_average(max(v), 2, 0), max(v) FROM tam WHERE time >= '"'"'2026-01-01T00:00:30Z'"'"' AND time < '"'"'2026-01-01T00:01:30Z'"'"' GROUP BY time(20s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tam","columns":["time","exponential_moving_average","max"],"values":[[1767225600,2,null],[1767225620,6,8],[1767225640,5.333333333333333,5],[1767225660,6.444444444444445,7],[1767225680,8.148148148148149,9]]}]}]}'
expect 'and the window after it, descending' "$(q 'SELECT exponential_moving_average(max(v), 2, 0) FROM tam WHERE time >= '"'"'2026-01-01T00:00:30Z'"'"' AND time < '"'"'2026-01-01T00:01:30Z'"'"' GROUP BY time(20s) ORDER BY time DESC' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tam","columns":["time","exponential_moving_average"],"values":[[1767225680,10],[1767225660,8],[1767225640,6],[1767225620,7.333333333333333]]}]}]}'
expect 'a hold beyond the window before' "$(q 'SELECT double_exponential_moving_average(mean(v), 2) FROM tam WHERE time >= '"'"'2026-01-01T00:00:30Z'"'"' AND time < '"'"'2026-01-01T00:01:30Z'"'"' GROUP BY time(20s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tam","columns":["time","double_exponential_moving_average"],"values":[[1767225620,5.555555555555555],[1767225640,4.37037037037037],[1767225660,4.518518518518518],[1767225680,8.526748971193417]]}]}]}'
expect 'an exponential average without its period' "$(q 'SELECT exponential_moving_average(v) FROM tam' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"invalid number of arguments for exponential_moving_average, expected at least 2 but no more than 4, got 1"}]}'
expect 'an exponential average of a float period' "$(q 'SELECT exponential_moving_average(v, 2.0) FROM tam' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"exponential_moving_average period must be an integer"}]}'
expect 'an exponential average of period 0' "$(q 'SELECT exponential_moving_average(v, 0) FROM tam' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"exponential_moving_average period must be greater than or equal to 1"}]}'
expect 'an exponential average held -2' "$(q 'SELECT exponential_moving_average(v, 2, -2) FROM tam' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"exponential_moving_average hold period must be greater than or equal to 0"}]}'
expect 'an exponential average warmed by a number' "$(q 'SELECT exponential_moving_average(v, 2, 1, 3) FROM tam' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"exponential_moving_average warmup type must be a string"}]}'
expect 'an exponential average warmed by none' "$(q 'SELECT triple_exponential_moving_average(v, 2, 1, '"'"'none'"'"') FROM tam' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"triple_exponential_moving_average warmup type must be one of: '"'"'exponential'"'"' '"'"'simple'"'"'"}]}'
expect 'exponential_moving_average of a string field: an error' "$(q 'SELECT exponential_moving_average(s, 2) FROM tam' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"unsupported exponential moving average iterator type: *query.stringInterruptIterator"}]}'
expect 'difference of a raw wildcard takes numeric fields' "$(q 'SELECT difference(*) FROM tam' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tam","columns":["time","difference_v"],"values":[[1767225610,1],[1767225620,2],[1767225630,4],[1767225640,-5],[1767225650,2],[1767225660,2],[1767225670,-5],[1767225680,7],[1767225690,1]]}]}]}'
expect 'an exponential average of a raw wildcard too' "$(q 'SELECT exponential_moving_average(*, 2) FROM tam' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tam","columns":["time","exponential_moving_average_v"],"values":[[1767225610,1.6666666666666665],[1767225620,3.2222222222222223],[1767225630,6.407407407407407],[1767225640,4.135802469135802],[1767225650,4.711934156378601],[1767225660,6.237311385459534],[1767225670,3.4124371284865114],[1767225680,7.137479042828837],[1767225690,9.045826347609612]]}]}]}'
expect 'elapsed of a raw wildcard takes every field' "$(q 'SELECT elapsed(*) FROM tam WHERE time >= '"'"'2026-01-01T00:01:20Z'"'"'' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tam","columns":["time","elapsed_b","elapsed_s","elapsed_v"],"values":[[1767225690,null,null,10000000000]]}]}]}'

expect 'an aggregate beside a transformation: the statement'"'"'s range only' "$(q 'SELECT derivative(max(v)), max(v), count(v) FROM tam WHERE time >= '"'"'2026-01-01T00:00:35Z'"'"' AND time < '"'"'2026-01-01T00:01:25Z'"'"' GROUP BY time(20s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tam","columns":["time","derivative","max","count"],"values":[[1767225620,null,null,0],[1767225640,-3,5,2],[1767225660,2,7,2],[1767225680,2,9,1]]}]}]}'
expect 'and descending, the window after the range' "$(q 'SELECT difference(mean(v)), mean(v), sum(v) FROM tam WHERE time >= '"'"'2026-01-01T00:00:31Z'"'"' AND time < '"'"'2026-01-01T00:01:31Z'"'"' GROUP BY time(20s) ORDER BY time DESC' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tam","columns":["time","difference","mean","sum"],"values":[[1767225680,null,9.5,19],[1767225660,-5,4.5,9],[1767225640,-0.5,4,8],[1767225620,null,null,null]]}]}]}'

expect 'relative_strength_index, both warmups' "$(q 'SELECT relative_strength_index(v, 3), relative_strength_index(v, 2, 0, '"'"'simple'"'"') FROM tam' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tam","columns":["time","relative_strength_index","relative_strength_index_1"],"values":[[1767225600,null,100],[1767225610,null,100],[1767225620,null,100],[1767225630,100,100],[1767225640,50,34.78260869565217],[1767225650,61.53846153846154,57.142857142857146],[1767225660,71.42857142857142,74.57627118644068],[1767225670,36.36363636363636,24.581005586592184],[1767225680,68.66606982990152,73.7864077669903],[1767225690,71.7400080742834,77.9050736497545]]}]}]}'
expect 'chande_momentum_oscillator, its three warmups' "$(q 'SELECT chande_momentum_oscillator(v, 3), chande_momentum_oscillator(v, 2, 0, '"'"'exponential'"'"'), chande_momentum_oscillator(v, 3, 1, '"'"'simple'"'"') FROM tam' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tam","columns":["time","chande_momentum_oscillator","chande_momentum_oscillator_1","chande_momentum_oscillator_2"],"values":[[1767225600,null,100,null],[1767225610,null,100,100],[1767225620,100,100,100],[1767225630,100,100,100],[1767225640,9.090909090909092,-29.03225806451613,-11.1111111111111],[1767225650,9.090909090909092,14.893617021276595,16.666666666666664],[1767225660,-11.11111111111111,49.36708860759494,39.393939393939384],[1767225670,-11.11111111111111,-50.627615062761514,-31.086142322097377],[1767225680,28.57142857142857,47.59825327510917,36.421435059037236],[1767225690,23.076923076923077,55.828220858895705,42.7402862985685]]}]}]}'
expect 'kaufmans_efficiency_ratio from the first point' "$(q 'SELECT kaufmans_efficiency_ratio(v, 3, 0) FROM tam' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tam","columns":["time","kaufmans_efficiency_ratio"],"values":[[1767225600,1],[1767225610,1],[1767225620,1],[1767225630,1],[1767225640,0.09090909090909091],[1767225650,0.09090909090909091],[1767225660,0.1111111111111111],[1767225670,0.1111111111111111],[1767225680,0.2857142857142857],[1767225690,0.23076923076923078]]}]}]}'
expect 'triple_exponential_derivative, both warmups' "$(q 'SELECT triple_exponential_derivative(v, 2), triple_exponential_derivative(v, 2, 1, '"'"'simple'"'"') FROM tam' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tam","columns":["time","triple_exponential_derivative","triple_exponential_derivative_1"],"values":[[1767225610,null,50],[1767225620,68.5714285714286,55.555555555555536],[1767225630,90.39548022598869,57.93650793650795],[1767225640,5.011539729640613,13.512004466778338],[1767225650,4.018838304552608,6.919167076569943],[1767225660,16.983599959754493,18.248734856617066],[1767225670,-14.303871257513634,-14.05495756423003],[1767225680,23.32868692500696,23.52697907061223],[1767225690,29.209277092092776,29.274361746888466]]}]}]}'
expect 'technical analysis of flat values: null where InfluxDB divides 0 by 0, no point for x / 0' "$(q 'SELECT relative_strength_index(v, 2, 0), chande_momentum_oscillator(v, 2, 0, '"'"'simple'"'"'), kaufmans_efficiency_ratio(v, 2, 0), triple_exponential_derivative(v, 2, 1) FROM tad' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tad","columns":["time","relative_strength_index","chande_momentum_oscillator","kaufmans_efficiency_ratio","triple_exponential_derivative"],"values":[[1767225600,null,null,0,null],[1767225610,null,null,0,null],[1767225620,null,null,0,null],[1767225630,100,100,1,null],[1767225640,100,100,1,100],[1767225650,7.692307692307679,-84.61538461538461,1,-116.66666666666667],[1767225660,7.692307692307679,-84.61538461538461,1,788.8888888888889]]}]}]}'
expect 'technical analysis of an aggregate, the window before the range' "$(q 'SELECT relative_strength_index(max(v), 2, 0), kaufmans_efficiency_ratio(max(v), 2, 0) FROM tam WHERE time >= '"'"'2026-01-01T00:00:30Z'"'"' AND time < '"'"'2026-01-01T00:01:30Z'"'"' GROUP BY time(20s)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tam","columns":["time","relative_strength_index","kaufmans_efficiency_ratio"],"values":[[1767225600,100,1],[1767225620,100,1],[1767225640,60.869565217391305,0.3333333333333333],[1767225660,74.28571428571428,0.2],[1767225680,84.7457627118644,1]]}]}]}'
expect 'fill(<value>) fills a transformation'"'"'s missing points beside other columns' "$(q 'SELECT moving_average(max(v), 3), max(v) FROM tam WHERE time >= '"'"'2026-01-01T00:00:30Z'"'"' AND time < '"'"'2026-01-01T00:01:30Z'"'"' GROUP BY time(20s) fill(9)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tam","columns":["time","moving_average","max"],"values":[[1767225620,9,8],[1767225640,5,5],[1767225660,6.666666666666667,7],[1767225680,7,9]]}]}]}'
expect 'and a technical analysis'"'"'s window before the range' "$(q 'SELECT exponential_moving_average(max(v), 2, 0), max(v) FROM tam WHERE time >= '"'"'2026-01-01T00:00:30Z'"'"' AND time < '"'"'2026-01-01T00:01:30Z'"'"' GROUP BY time(20s) fill(0)' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"tam","columns":["time","exponential_moving_average","max"],"values":[[1767225600,2,0],[1767225620,6,8],[1767225640,5.333333333333333,5],[1767225660,6.444444444444445,7],[1767225680,8.148148148148149,9]]}]}]}'
expect 'technical analysis: argument errors' "$(q 'SELECT chande_momentum_oscillator(v, 2, 1, '"'"'bad'"'"') FROM tam' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"chande_momentum_oscillator warmup type must be one of: '"'"'none'"'"' '"'"'exponential'"'"' '"'"'simple'"'"'"}]}'
expect 'a hold of 0 for triple_exponential_derivative' "$(q 'SELECT triple_exponential_derivative(v, 2, 0) FROM tam' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"triple_exponential_derivative hold period must be greater than or equal to 1"}]}'
expect 'kaufmans_efficiency_ratio takes no warmup' "$(q 'SELECT kaufmans_efficiency_ratio(v, 2, 1, '"'"'simple'"'"') FROM tam' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"invalid number of arguments for kaufmans_efficiency_ratio, expected at least 2 but no more than 3, got 4"}]}'
expect 'relative_strength_index of a string field: an error' "$(q 'SELECT relative_strength_index(s, 2) FROM tam' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"error":"unsupported relative strength index iterator type: *query.stringInterruptIterator"}]}'

expect 'INTO leaves out the nulls of a 0 / 0' "$(post 'SELECT relative_strength_index(v, 2, 0) AS r INTO tadnan FROM tad' --data-urlencode db=iot --data-urlencode epoch=s)$(q 'SELECT * FROM tadnan' --data-urlencode db=iot --data-urlencode epoch=s)" \
    '{"results":[{"statement_id":0,"series":[{"name":"result","columns":["time","written"],"values":[[0,4]]}]}]}{"results":[{"statement_id":0,"series":[{"name":"tadnan","columns":["time","r"],"values":[[1767225630,100],[1767225640,100],[1767225650,7.692307692307679],[1767225660,7.692307692307679]]}]}]}'
expect 'CSV writes such a null empty' "$(q 'SELECT relative_strength_index(v, 2, 0) FROM tad' -H 'Accept: application/csv' --data-urlencode db=iot --data-urlencode epoch=s | tr '\n' '|')" \
    'name,tags,time,relative_strength_index|tad,,1767225600,|tad,,1767225610,|tad,,1767225620,|tad,,1767225630,100|tad,,1767225640,100|tad,,1767225650,7.692307692307679|tad,,1767225660,7.692307692307679|'

stop_server
echo "PASS: $checks checks"
