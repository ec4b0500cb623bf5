#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_rules_api.sh - /api/v1/rules end to end over 127.0.0.1: rules from
# rules-file (read-only through the API), create / get / list / update /
# enable / disable / delete with exact JSON bodies, 400 with the position
# of a bad rule, 404 / 405 / 409, the dry run POST /api/v1/rules/test, and
# API-created rules surviving a restart (meta.db) while deleted ones stay
# deleted; live MQTT messages (mosquitto_pub, QoS 1) counted by a rule
# before their PUBACK; a bad rules-file stops startup with exit 2 and the
# reason.
#
# Usage: CAIRN_BIN=build/debug/cairn tests/integration/test_rules_api.sh
# (ctest sets it).  Needs curl and mosquitto_pub.  Picks a free port; signals only the PIDs it
# started; waits by polling with bounded loops.
set -euo pipefail

SRC=${CAIRN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${CAIRN_BIN:-$SRC/build/debug/cairn}
[ -x "$BIN" ] || { echo "FAIL: no executable at $BIN (set CAIRN_BIN)" >&2; exit 1; }
command -v curl >/dev/null || { echo "FAIL: curl is required" >&2; exit 1; }
command -v mosquitto_pub >/dev/null || { echo "FAIL: mosquitto_pub is required" >&2; exit 1; }

# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" rules

data="$tmp/data"

# req METHOD PATH [BODY]: status in $code, body in $body.
req() {
    local args=(-sS -o "$tmp/body" -w '%{http_code}' -X "$1" "$url$2")
    if [ $# -ge 3 ]; then
        args+=(-H 'Content-Type: application/json' --data-binary "$3")
    fi
    code=$(curl "${args[@]}") || fail "curl $1 $2"
    body=$(cat "$tmp/body")
}

expect() { # expect CODE BODY DESCRIPTION
    [ "$code" = "$1" ] || fail "$3: status $code, want $1 (body: $body)"
    [ "$body" = "$2" ] || fail "$3: body
  got  $body
  want $2"
    ok "$3"
}

cat >"$tmp/rules.json" <<'EOF'
[{"id":"file-hot","name":"hot devices","sql":"SELECT device_id, temperature FROM \"devices/+/telemetry\" WHERE temperature > 30",
  "actions":[{"type":"webhook","url":"http://127.0.0.1:9/alerts","headers":{"X-Device":"${device_id}"}}]}]
EOF

M0='"metrics":{"matched":0,"passed":0,"failed":0,"actions":0,"action_errors":0}'
FILE_RULE='{"id":"file-hot","name":"hot devices","sql":"SELECT device_id, temperature FROM \"devices/+/telemetry\" WHERE temperature > 30","enabled":true,"actions":[{"type":"webhook","url":"http://127.0.0.1:9/alerts","method":"POST","headers":{"X-Device":"${device_id}"},"body":null,"timeout_ms":5000}],"source":"file",'$M0'}'

start_http_server --rules-file="$tmp/rules.json"
wait_log 'rules: 1 rule(s) loaded'

req GET /api/v1/rules
expect 200 '{"rules":['"$FILE_RULE"']}' "list holds the rules-file rule"

# ---- create
K1='{"id":"k1","sql":"SELECT * FROM \"devices/#\" WHERE rpm > 2000","actions":[{"type":"kafka","topic":"fast-${device_id}"}]}'
K1_OUT='{"id":"k1","name":null,"sql":"SELECT * FROM \"devices/#\" WHERE rpm > 2000","enabled":true,"actions":[{"type":"kafka","topic":"fast-${device_id}","key":"${device_id}","value":null}],"source":"api",'$M0'}'
req POST /api/v1/rules "$K1"
expect 201 "$K1_OUT" "create k1"
req POST /api/v1/rules "$K1"
expect 409 '{"error":"rule '"'"'k1'"'"' already exists"}' "create twice is 409"
req POST /api/v1/rules '{"sql":"SELECT a FROM \"x/+\""}'
expect 201 '{"id":"rule-1","name":null,"sql":"SELECT a FROM \"x/+\"","enabled":true,"actions":[],"source":"api",'$M0'}' "create without id gets rule-1"

# ---- bad rules: 400 with the position
req POST /api/v1/rules '{"id":"bad","sql":"SELECT a\nFROM \"x\" WHERE a >"}'
expect 400 '{"error":"error parsing rule: found EOF, expected identifier, string, number, bool at line 2, char 19","line":2,"col":19,"offset":27}' "syntax error names the position"
req POST /api/v1/rules '{"id":"bad","sql":"SELECT nope(a) FROM \"x\""}'
expect 400 '{"error":"error in rule: undefined function nope() at line 1, char 8","line":1,"col":8,"offset":7}' "unknown function names the position"
req POST /api/v1/rules '{"id":"bad","sql":"SELECT a FROM \"x/#/y\""}'
expect 400 '{"error":"error in rule: invalid topic filter \"x/#/y\" at line 1, char 15","line":1,"col":15,"offset":14}' "bad topic filter names the position"
req POST /api/v1/rules '{"id":"bad","sql":"SELECT a FROM x","actions":[{"type":"republish","topic":"t","qos":7}]}'
expect 400 '{"error":"actions[0].qos: must be an integer from 0 to 2"}' "bad action"
req POST /api/v1/rules '{"id":"bad","sql":"SELECT a FROM x","enabeld":false}'
expect 400 '{"error":"unknown member \"enabeld\""}' "unknown member"
req POST /api/v1/rules '{"id":"bad",'
expect 400 '{"error":"invalid JSON at byte 12"}' "invalid JSON"
req POST /api/v1/rules '{"id":"a b","sql":"SELECT a FROM x"}'
expect 400 '{"error":"id: only letters, digits, '"'"'_'"'"', '"'"'-'"'"' and '"'"'.'"'"' are allowed"}' "bad id"

# ---- get, update, enable, disable
req GET /api/v1/rules/k1
expect 200 "$K1_OUT" "get k1"
req GET /api/v1/rules/nope
expect 404 '{"error":"rule '"'"'nope'"'"' not found"}' "get unknown is 404"
K1B='{"name":"fast","sql":"SELECT rpm FROM \"devices/+/telemetry\"","enabled":false,"actions":[{"type":"republish","topic":"fast/${device_id}","qos":1,"payload":"${rpm}"}]}'
K1B_OUT='{"id":"k1","name":"fast","sql":"SELECT rpm FROM \"devices/+/telemetry\"","enabled":false,"actions":[{"type":"republish","topic":"fast/${device_id}","qos":1,"retain":false,"payload":"${rpm}"}],"source":"api",'$M0'}'
req PUT /api/v1/rules/k1 "$K1B"
expect 200 "$K1B_OUT" "update k1"
req PUT /api/v1/rules/k1 '{"id":"k2","sql":"SELECT a FROM x"}'
expect 400 '{"error":"id: the body'"'"'s id '"'"'k2'"'"' is not the path'"'"'s"}' "update with another id"
req PUT /api/v1/rules/nope '{"sql":"SELECT a FROM x"}'
expect 404 '{"error":"rule '"'"'nope'"'"' not found"}' "update unknown is 404"
req POST /api/v1/rules/k1/enable
expect 200 "${K1B_OUT/\"enabled\":false/\"enabled\":true}" "enable k1"
req POST /api/v1/rules/k1/disable
expect 200 "$K1B_OUT" "disable k1"
req GET /api/v1/rules/k1/enable
expect 405 '{"error":"method not allowed"}' "GET on enable is 405"
req PATCH /api/v1/rules/k1 '{}'
expect 405 '{"error":"method not allowed"}' "PATCH is 405"

# ---- rules-file rules are read-only here
req DELETE /api/v1/rules/file-hot
expect 409 '{"error":"rule '"'"'file-hot'"'"' is defined in rules-file; edit the file"}' "file rule cannot be deleted"
req POST /api/v1/rules/file-hot/disable
expect 409 '{"error":"rule '"'"'file-hot'"'"' is defined in rules-file; edit the file"}' "file rule cannot be disabled"

# ---- dry run
TEST='{"sql":"SELECT device_id, temperature AS t, topic(2) AS dev FROM \"devices/+/telemetry\" WHERE temperature > 30","actions":[{"type":"webhook","url":"http://127.0.0.1:9/x","headers":{"X-T":"${t}"}},{"type":"kafka","topic":"hot"},{"type":"republish","topic":"alerts/${dev}","qos":1,"payload":"${t} C"}],
 "message":{"topic":"devices/dev-7/telemetry","tags":{"device_id":"dev-7"},"payload":{"ts":1767225600000,"temperature":31.25,"rpm":1500}}}'
req POST /api/v1/rules/test "$TEST"
expect 200 '{"matched":true,"passed":true,"error":null,"rows":[{"outputs":{"device_id":"dev-7","t":31.25,"dev":"dev-7"},"actions":[{"type":"webhook","url":"http://127.0.0.1:9/x","method":"POST","headers":{"X-T":"31.25"},"body":"{\"device_id\":\"dev-7\",\"t\":31.25,\"dev\":\"dev-7\"}"},{"type":"kafka","topic":"hot","key":"dev-7","value":"{\"device_id\":\"dev-7\",\"t\":31.25,\"dev\":\"dev-7\"}"},{"type":"republish","topic":"alerts/dev-7","qos":1,"retain":false,"payload":"31.25 C"}]}]}' "dry run shows what each action receives"
req POST /api/v1/rules/test '{"rule":{"sql":"SELECT json_field(payload, '"'"'a.b'"'"') AS v FROM \"raw/#\" WHERE qos = 1 AND clientid = '"'"'c1'"'"'"},"message":{"topic":"raw/x","clientid":"c1","qos":1,"payload":"{\"a\":{\"b\":[1,2]}}"}}'
expect 200 '{"matched":true,"passed":true,"error":null,"rows":[{"outputs":{"v":"[1,2]"},"actions":[]}]}' "dry run over a raw payload"
req POST /api/v1/rules/test '{"sql":"SELECT 1 FROM \"#\" WHERE temperature > 1","message":{"topic":"a/b","payload":{"temperature":"hot"}}}'
expect 200 '{"matched":true,"passed":false,"error":"type error: cannot compare string and integer","rows":[]}' "dry run reports an evaluation error"
req POST /api/v1/rules/test '{"sql":"SELECT 1 FROM \"a\"","message":{"topic":"b"}}'
expect 200 '{"matched":false,"passed":false,"error":null,"rows":[]}' "dry run of a topic the rule does not match"
req POST /api/v1/rules/test '{"sql":"SELECT FROM \"a\"","message":{"topic":"b"}}'
expect 400 '{"error":"error parsing rule: found FROM, expected identifier, string, number, bool at line 1, char 8","line":1,"col":8,"offset":7}' "dry run of a bad rule"
req POST /api/v1/rules/test '{"sql":"SELECT 1 FROM \"a\""}'
expect 400 '{"error":"message: required (an object)"}' "dry run without a message"

# ---- live messages through the broker: the file rule counts them
for t in 31.5 20.5 35.5; do
    mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" -q 1 -i pub-1 -t devices/dev-9/telemetry \
        -m "{\"temperature\":$t}" || fail "mosquitto_pub"
done
mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" -q 1 -i pub-1 -t devices/dev-9/telemetry \
    -m '{"temperature":"hot"}' || fail "mosquitto_pub"
req GET /api/v1/rules/file-hot
M4='"metrics":{"matched":4,"passed":2,"failed":1,"actions":2,"action_errors":0}'
expect 200 "${FILE_RULE/"$M0"/$M4}" \
    "QoS 1 PUBLISHes were evaluated before their PUBACK: 4 matched, 2 passed, 1 failed"

# ---- delete, then restart: API rules persist, deleted ones stay deleted
req DELETE /api/v1/rules/rule-1
[ "$code" = 204 ] && [ -z "$body" ] || fail "delete rule-1: $code $body"
ok "delete rule-1"
req DELETE /api/v1/rules/rule-1
expect 404 '{"error":"rule '"'"'rule-1'"'"' not found"}' "delete twice is 404"
stop_server
[ -f "$data/meta.db" ] || fail "no meta.db in the data directory"
ok "meta.db written"

start_http_server --rules-file="$tmp/rules.json"
req GET /api/v1/rules
expect 200 '{"rules":['"$FILE_RULE,$K1B_OUT"']}' "rules after a restart"
stop_server

# ---- a bad rules-file stops startup
echo '[{"id":"x","sql":"SELECT a FROM \"b\" WHERE"}]' >"$tmp/bad.json"
status=0
"$BIN" --data-dir="$data" --http-listen=127.0.0.1:0 --rules-file="$tmp/bad.json" 2>"$tmp/err" || status=$?
[ "$status" = 2 ] || fail "bad rules-file: exit $status, want 2"
grep -q "rules-file $tmp/bad.json: rule x: error parsing rule: found EOF" "$tmp/err" ||
    fail "bad rules-file: message: $(cat "$tmp/err")"
ok "a bad rules-file stops startup with the reason"

echo "all $checks checks passed"
