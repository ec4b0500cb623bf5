#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_devices.sh - the device registry: /api/v1/devices (list, get, put,
# delete, exact JSON and errors), its tags attached to what a registered
# device publishes over MQTT (and not to others), and the registry kept
# across a restart (SQLite meta.db).
#
# Usage: CAIRN_BIN=... CAIRN_DUMP=... tests/integration/test_devices.sh
set -euo pipefail

SRC=${CAIRN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${CAIRN_BIN:-$SRC/build/debug/cairn}
DUMP=${CAIRN_DUMP:-$(dirname "$BIN")/tests/cairn_dump}
for x in "$BIN" "$DUMP"; do
    [ -x "$x" ] || { echo "FAIL: no executable at $x (set CAIRN_BIN, CAIRN_DUMP)" >&2; exit 1; }
done

# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" devices
data="$tmp/data"

# req ARGS...: sets $code and $body.
req() {
    body=$(curl -s -o - -w '\n%{http_code}' "$@") || fail "curl $*"
    code=${body##*$'\n'}
    body=${body%$'\n'*}
    body=${body%$'\n'} # the JSON bodies end with a newline, as InfluxDB's do
}
expect() { # expect CODE BODY WHAT
    [ "$code" = "$1" ] && [ "$body" = "$2" ] || fail "$3: got $code '$body', want $1 '$2'"
    ok "$3"
}

start_http_server --mqtt-listen=127.0.0.1:0
mport=$(sed -n 's/.*mqtt: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/log")
api="$url/api/v1/devices"

req "$api"
expect 200 '{"devices":[]}' "empty registry"
req -X PUT --data-binary '{"tags":{"fleet":"fleet-1","model":"th-100"}}' "$api/dev-000001"
expect 204 '' "PUT registers a device"
req -X PUT --data-binary '{"tags":{}}' "$api/gw%2F7"
expect 204 '' "PUT a device without tags, percent-encoded id"
req "$api/dev-000001"
expect 200 '{"device_id":"dev-000001","tags":{"fleet":"fleet-1","model":"th-100"}}' "GET one device"
req "$api"
expect 200 '{"devices":[{"device_id":"dev-000001","tags":{"fleet":"fleet-1","model":"th-100"}},{"device_id":"gw/7","tags":{}}]}' \
    "GET lists devices in id order"
req "$api/nope"
expect 404 '{"error":"device not found"}' "unknown device: 404"
req -X PUT --data-binary '{"tags":{"fleet":3}}' "$api/x"
expect 400 '{"error":"body must be {\"tags\":{\"key\":\"value\",...}} with string values"}' "number tag value: 400"
req -X PUT --data-binary '{"tags":' "$api/x"
expect 400 '{"error":"body must be a JSON object {\"tags\":{\"key\":\"value\",...}}"}' "bad JSON: 400"
req -X POST "$api"
expect 405 '{"error":"use GET on /api/v1/devices, or PUT/DELETE on /api/v1/devices/<id>"}' "POST on the collection: 405"
req "$api/a%2"
expect 400 '{"error":"bad device id (1..255 bytes of UTF-8, percent-encoded)"}' "bad escape: 400"

# Registry tags go onto the points of a registered device only.
mosquitto_pub -p "$mport" -q 1 -t devices/dev-000001/telemetry -m '{"ts":1767225600000,"t":21.5}' ||
    fail "mosquitto_pub"
mosquitto_pub -p "$mport" -q 1 -t devices/dev-000002/telemetry -m '{"ts":1767225600000,"t":22.5}' ||
    fail "mosquitto_pub"
stop_server
"$DUMP" "$data" | sort >"$tmp/got"
cat >"$tmp/want" <<'ROWS'
telemetry,device_id=dev-000001,fleet=fleet-1,model=th-100 t=21.5 1767225600000000000
telemetry,device_id=dev-000002 t=22.5 1767225600000000000
ROWS
diff -u "$tmp/want" "$tmp/got" || fail "stored rows"
ok "registry tags attached to the registered device's points, not to others"

start_http_server --mqtt-listen=127.0.0.1:0
api="$url/api/v1/devices"
req "$api/dev-000001"
expect 200 '{"device_id":"dev-000001","tags":{"fleet":"fleet-1","model":"th-100"}}' "registry kept across a restart"
req -X DELETE "$api/dev-000001"
expect 204 '' "DELETE"
req "$api/dev-000001"
expect 404 '{"error":"device not found"}' "deleted device: 404"
stop_server
