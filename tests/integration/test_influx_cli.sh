#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_influx_cli.sh - the Debian `influx` CLI (package influxdb-client)
# talks to cairn unchanged: it pings, runs SHOW MEASUREMENTS and a SELECT
# with GROUP BY (its chunked /query requests), and prints the expected
# tables byte for byte.
#
# Usage: CAIRN_BIN=build/release/cairn tests/integration/test_influx_cli.sh
set -euo pipefail

SRC=${CAIRN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${CAIRN_BIN:-$SRC/build/debug/cairn}
[ -x "$BIN" ] || { echo "FAIL: no executable at $BIN (set CAIRN_BIN)" >&2; exit 1; }
for c in curl influx; do
    command -v "$c" >/dev/null ||
        { echo "FAIL: $c is required (influx: apt-get install influxdb-client)" >&2; exit 1; }
done

# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" influx_cli

data="$tmp/data"
start_http_server --mqtt-listen=127.0.0.1:0 --durability=os
printf '%s\n' \
    'env,device_id=d1,site=a temp=20.5,count=3i 1767225600000000000' \
    'env,device_id=d1,site=a temp=21.25,count=4i 1767225660000000000' \
    'env,device_id=d2,site=b temp=19,count=5i 1767225600000000000' \
    'pwr,device_id=d1 watts=7i 1767225600000000000' >"$tmp/lp"
code=$(curl -s -o "$tmp/wr" -w '%{http_code}' -XPOST "$url/write?db=plant" --data-binary @"$tmp/lp")
[ "$code" = 204 ] || fail "write answered $code: $(cat "$tmp/wr")"

cli() {
    influx -host 127.0.0.1 -port "$port" -database plant -precision rfc3339 -execute "$1" \
        >"$tmp/out" 2>&1 || fail "influx -execute '$1' failed: $(cat "$tmp/out")"
    cat "$tmp/out"
}

expect() { # expect WHAT GOT WANT
    [ "$2" = "$3" ] || fail "$1: got
$2
want
$3"
    ok "$1"
}

expect "SHOW MEASUREMENTS" "$(cli 'SHOW MEASUREMENTS')" "name: measurements
name
----
env
pwr"

expect "SELECT ... GROUP BY" "$(cli 'SELECT max(temp), sum(count) FROM env GROUP BY device_id')" \
    "name: env
tags: device_id=d1
time                 max   sum
----                 ---   ---
1970-01-01T00:00:00Z 21.25 7

name: env
tags: device_id=d2
time                 max sum
----                 --- ---
1970-01-01T00:00:00Z 19  5"

expect "raw SELECT" "$(cli "SELECT temp, site FROM env WHERE device_id = 'd1'")" \
    "name: env
time                 temp  site
----                 ----  ----
2026-01-01T00:00:00Z 20.5  a
2026-01-01T00:01:00Z 21.25 a"

stop_server
echo "PASS: $checks checks"
