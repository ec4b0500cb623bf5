#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_rules_actions.sh - rule actions delivered: a rules-file rule with a
# webhook action (POST of the selected fields with a rendered header), a
# second webhook action (PUT, a body template, a static header) and a
# republish action; four MQTT messages, two of them hot, with event times
# months in the past (the sink log ages records by their append time, not
# by the payload's ts).  The receiver gets exactly the two selected rows in
# publish order, the subscriber the two republished payloads, the cold
# messages go nowhere; /metrics counts the rule and its sinks.  Then the
# receiver goes away, two more hot messages are accepted (their action
# records are durable when the PUBACKs arrive), cairn is SIGKILLed at once
# and restarted with the receiver back: the rule's sinks resume from their
# cursors and deliver the rest (at least once, in order).
#
# Usage: CAIRN_BIN=... tests/integration/test_rules_actions.sh
set -euo pipefail

SRC=${CAIRN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${CAIRN_BIN:-$SRC/build/debug/cairn}
[ -x "$BIN" ] || { echo "FAIL: no executable at $BIN (set CAIRN_BIN)" >&2; exit 1; }
command -v mosquitto_pub >/dev/null || { echo "FAIL: mosquitto_pub is required" >&2; exit 1; }

# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" rules-actions
data="$tmp/data"

# The webhook receiver on port $1 (0 = any; the port goes to hook.port):
# appends "X-Device|body" per POST to hook.out, "X-Static|body" per PUT to
# put.out, answers 204.
hook=""
start_receiver() {
    rm -f "$tmp/hook.port"
    python3 - "$tmp/hook.port" "$tmp" "$1" <<'PY' &
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log(self, name, hdr):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(os.path.join(sys.argv[2], name), "a") as f:
            f.write("%s|%s\n" % (self.headers.get(hdr), body.decode()))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def do_POST(self):
        self.log("hook.out", "X-Device")
    def do_PUT(self):
        self.log("put.out", "X-Static")
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[3])), H)
open(sys.argv[1] + ".tmp", "w").write(str(s.server_address[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
PY
    hook=$!
    local i
    for ((i = 0; i < 600; i++)); do [ -s "$tmp/hook.port" ] && break; sleep 0.05; done
    [ -s "$tmp/hook.port" ] || fail "webhook receiver did not start"
}
stop_all() {
    if [ -n "$hook" ]; then kill "$hook" 2>/dev/null || true; fi
    cleanup
}
trap stop_all EXIT
start_receiver 0
hport=$(cat "$tmp/hook.port")

cat >"$tmp/rules.json" <<JSON
[{"id": "hot", "sql": "SELECT device_id, t FROM \"devices/+/telemetry\" WHERE t > 30",
  "actions": [
    {"type": "webhook", "url": "http://127.0.0.1:$hport/hook", "headers": {"X-Device": "\${device_id}"}},
    {"type": "webhook", "url": "http://127.0.0.1:$hport/put", "method": "PUT",
     "headers": {"X-Static": "s1"}, "body": "\${device_id}=\${t}", "timeout_ms": 2000},
    {"type": "republish", "topic": "alerts/\${device_id}", "qos": 1, "payload": "\${t}"}]}]
JSON
start_http_server --rules-file="$tmp/rules.json"

metric() { # metric NAME: its value in /metrics
    curl -sf "$url/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
wait_lines() { # wait_lines FILE N
    local i
    for ((i = 0; i < 600; i++)); do
        [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
        sleep 0.05
    done
    return 0
}

stdbuf -oL mosquitto_sub -p "$mqtt_port" -q 1 -t 'alerts/#' -C 2 -v -d >"$tmp/sub.out" 2>&1 &
sub=$!
for ((i = 0; i < 600; i++)); do grep -q "received SUBACK" "$tmp/sub.out" && break; sleep 0.05; done
grep -q "received SUBACK" "$tmp/sub.out" || fail "mosquitto_sub did not subscribe"

printf '%s\n' '{"ts":1767225600000,"t":21.5}' '{"ts":1767225601000,"t":31.5}' \
    '{"ts":1767225602000,"t":22.5}' '{"ts":1767225603000,"t":35.25}' |
    mosquitto_pub -p "$mqtt_port" -q 1 -t devices/d7/telemetry -l || fail "mosquitto_pub"
wait "$sub" || fail "mosquitto_sub: $(cat "$tmp/sub.out")"
grep '^alerts' "$tmp/sub.out" >"$tmp/alerts"
printf 'alerts/d7 31.5\nalerts/d7 35.25\n' | diff -u - "$tmp/alerts" || fail "republished payloads"
ok "republish action: the two hot readings on alerts/d7 at QoS 1, the cold ones not"

wait_lines "$tmp/hook.out" 2
cat >"$tmp/want" <<'OUT'
d7|{"device_id":"d7","t":31.5}
d7|{"device_id":"d7","t":35.25}
OUT
diff -u "$tmp/want" "$tmp/hook.out" || fail "webhook deliveries"
ok "webhook action: exactly the two selected rows, rendered header, publish order"
wait_lines "$tmp/put.out" 2
printf 's1|d7=31.5\ns1|d7=35.25\n' | diff -u - "$tmp/put.out" || fail "PUT deliveries"
ok "webhook action with PUT, a body template and a static header"

post=$(sed -n 's/.*rules: sink \(rule\.hot\.0\.[0-9a-f]\{8\}\) delivers.*/\1/p' "$tmp/log")
put=$(sed -n 's/.*rules: sink \(rule\.hot\.1\.[0-9a-f]\{8\}\) delivers.*/\1/p' "$tmp/log")
[ -n "$post" ] && [ -n "$put" ] || fail "no sink lines for the two webhook actions"
[ "$post" != "$put" ] || fail "both actions share sink $post"
ok "each webhook action has a durable sink of its own ($post, $put)"

for ((i = 0; i < 600; i++)); do
    [ "$(metric "cairn_sink_delivered_total{sink=\"$put\",type=\"webhook\"}")" = 2 ] && break
    sleep 0.05
done
curl -sf "$url/metrics" >"$tmp/metrics" || fail "GET /metrics"
grep -E '^cairn_(rule_[a-z_]+_total\{rule="hot"\}|sink_(delivered|failed|dead_lettered)_total\{sink="rule\.hot)' \
    "$tmp/metrics" | sed "s/$post/POST/; s/$put/PUT/" >"$tmp/m"
cat >"$tmp/want" <<'OUT'
cairn_rule_matched_total{rule="hot"} 4
cairn_rule_passed_total{rule="hot"} 2
cairn_rule_failed_total{rule="hot"} 0
cairn_rule_actions_total{rule="hot"} 6
cairn_rule_action_errors_total{rule="hot"} 0
cairn_sink_delivered_total{sink="POST",type="webhook"} 2
cairn_sink_delivered_total{sink="PUT",type="webhook"} 2
cairn_sink_failed_total{sink="POST",type="webhook"} 0
cairn_sink_failed_total{sink="PUT",type="webhook"} 0
cairn_sink_dead_lettered_total{sink="POST",type="webhook"} 0
cairn_sink_dead_lettered_total{sink="PUT",type="webhook"} 0
OUT
diff -u "$tmp/want" "$tmp/m" || fail "/metrics"
ok "/metrics: per-rule matched/passed/failed/actions and per-sink delivered/failed"

# ---- receiver down, two more hot messages, SIGKILL, restart: delivered
kill "$hook"
wait "$hook" 2>/dev/null || true
hook=""
printf '%s\n' '{"ts":1767225604000,"t":40.5}' '{"ts":1767225605000,"t":41.5}' |
    mosquitto_pub -p "$mqtt_port" -q 1 -t devices/d7/telemetry -l || fail "mosquitto_pub"
# A QoS 1 PUBACK waits for the WAL and for the sink log records of the
# rule actions: once mosquitto_pub has its PUBACKs they are on disk.
[ "$(metric cairn_sink_log_appended_total)" = 8 ] &&
    [ "$(metric cairn_sink_log_pending_records)" = 0 ] ||
    fail "after the PUBACKs: appended $(metric cairn_sink_log_appended_total), pending $(metric cairn_sink_log_pending_records)"
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
pid=""
ok "receiver down: two more records durable before their PUBACKs; cairn SIGKILLed"

start_receiver "$hport"
start_http_server --rules-file="$tmp/rules.json"
wait_lines "$tmp/hook.out" 4
wait_lines "$tmp/put.out" 4
# At least once: duplicates of what was delivered are allowed, order is not
# broken and nothing is missing.
awk '!seen[$0]++' "$tmp/hook.out" >"$tmp/hook.uniq"
cat >"$tmp/want" <<'OUT'
d7|{"device_id":"d7","t":31.5}
d7|{"device_id":"d7","t":35.25}
d7|{"device_id":"d7","t":40.5}
d7|{"device_id":"d7","t":41.5}
OUT
diff -u "$tmp/want" "$tmp/hook.uniq" || fail "webhook deliveries after the restart"
awk '!seen[$0]++' "$tmp/put.out" >"$tmp/put.uniq"
printf 's1|d7=31.5\ns1|d7=35.25\ns1|d7=40.5\ns1|d7=41.5\n' | diff -u - "$tmp/put.uniq" ||
    fail "PUT deliveries after the restart"
grep -q "no longer configured" "$tmp/log" && fail "a rule sink's backlog was dropped at start"
ok "after SIGKILL and restart the rule sinks resume their cursors: the rest arrives, in order"
stop_server
echo "all $checks checks passed"
