#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_mqtt_auth.sh - MQTT authentication and ACLs end to end with the real
# mosquitto clients (3.1.1 and 5): a password file made with `cairn passwd`,
# an ACL file with user sections, deny and %u/%c patterns, the exact
# CONNACK each client gets, allowed and refused PUBLISH/SUBSCRIBE, SIGHUP
# reload of both files, and an EMQX-style HTTP auth service (the local
# Python receiver of the unit tests) asked only for users the file does not
# know, over one keep-alive connection.
#
# No sleeps as synchronisation: subscribers are waited for through the
# server's debug log ("subscribed to"), reloads through "re-read".
set -euo pipefail
source "$(dirname "$0")/lib.sh" mqtt_auth
BIN=${CAIRN_BIN:?set CAIRN_BIN}
SRC=${CAIRN_SRC:?set CAIRN_SRC}
command -v mosquitto_sub >/dev/null || fail "mosquitto-clients is not installed"
data="$tmp/data"

"$BIN" passwd -c -b -I 1000 "$tmp/pw" alice apw
"$BIN" passwd -b -I 1000 "$tmp/pw" bob bpw
"$BIN" passwd -b -I 1000 "$tmp/pw" dev1 dpw
cat >"$tmp/acl" <<'EOF'
user alice
topic readwrite home/#
topic deny home/secret
topic write devices/+/down
user bob
topic read home/#
pattern write devices/%u/up
pattern read devices/%c/down
EOF

# The HTTP auth service: the receiver reads its stdin until EOF (fd 7 here).
mkfifo "$tmp/rin"
python3 "$SRC/tests/ingest/auth_http_receiver.py" "$tmp/rstats" "$tmp/rlog" <"$tmp/rin" \
    >"$tmp/rport" &
rpid=$!
exec 7>"$tmp/rin"
for ((i = 0; i < 600; i++)); do
    [ -s "$tmp/rport" ] && break
    kill -0 "$rpid" 2>/dev/null || fail "HTTP receiver exited"
    sleep 0.05
done
rport=$(head -n 1 "$tmp/rport")
[ -n "$rport" ] || fail "HTTP receiver did not print its port"

start_http_server --durability=os --log-level=debug --password-file="$tmp/pw" \
    --acl-file="$tmp/acl" --auth-http-url="http://127.0.0.1:$rport/auth" --auth-http-allow-ttl=0
P=$mqtt_port
[ -n "$P" ] || fail "no 'mqtt: listening' line"
wait_log "mqtt auth: password-file $tmp/pw, acl-file $tmp/acl"
grep -q "can be read by other users" "$tmp/log" && fail "warned about a 0600 password file"
ok "server starts with password-file, acl-file and auth-http-url"

# pub_rc EXPECTED-RC EXPECTED-STDERR ARGS...: one mosquitto_pub.
pub_rc() {
    local want_rc=$1 want_err=$2 rc=0
    shift 2
    timeout 20 mosquitto_pub -p "$P" "$@" -m x 2>"$tmp/err" || rc=$?
    [ "$rc" = "$want_rc" ] || fail "mosquitto_pub $*: exit $rc, want $want_rc ($(cat "$tmp/err"))"
    [ "$(cat "$tmp/err")" = "$want_err" ] || fail "mosquitto_pub $*: stderr
  got:  $(cat "$tmp/err")
  want: $want_err"
}

# ------------------------------------------------------------ CONNECT
refused3=$'Connection error: Connection Refused: not authorised.\nError: The connection was refused.'
badpw3=$'Connection error: Connection Refused: bad user name or password.\nError: The connection was refused.'
refused5=$'Connection error: Not authorized\nError: A network protocol error occurred when communicating with the broker.'
badpw5=$'Connection error: Bad User Name or Password\nError: A network protocol error occurred when communicating with the broker.'
pub_rc 5 "$refused3" -t home/x
pub_rc 135 "$refused5" -V mqttv5 -t home/x
ok "anonymous clients are refused (here by the HTTP service: 3.1.1 rc 5, 5.0 0x87)"
pub_rc 4 "$badpw3" -u alice -P wrong -t home/x
pub_rc 134 "$badpw5" -V mqttv5 -u alice -P wrong -t home/x
pub_rc 4 "$badpw3" -u alice -t home/x
ok "wrong or missing password: bad user name or password (rc 4, 0x86)"
pub_rc 0 "" -u alice -P apw -t home/x
pub_rc 0 "" -V mqttv5 -u alice -P apw -t home/x
ok "right password accepted"

# ------------------------------------------------------------ ACL
SUB_N=0
sub_bg() { # sub_bg OUT ARGS...: a live subscriber, returns once subscribed
    local out=$1
    shift
    SUB_N=$((SUB_N + 1))
    local id="sub$SUB_N"
    timeout 20 mosquitto_sub -p "$P" -i "$id" "$@" >"$out" 2>&1 &
    SUB_PID=$!
    wait_log "mqtt: $id subscribed to"
}
sub_bg "$tmp/bob" -V mqttv5 -u bob -P bpw -t 'home/#' -v -C 2
pub_rc 0 "" -V mqttv5 -q 1 -u alice -P apw -t home/lamp
pub_rc 0 "Warning: Publish 1 failed: Not authorized." -V mqttv5 -q 1 -u alice -P apw -t home/secret
pub_rc 0 "Warning: Publish 1 failed: Not authorized." -V mqttv5 -q 1 -u bob -P bpw -t home/bob
pub_rc 0 "" -u alice -P apw -t home/secret # 3.1.1: dropped without an error, as mosquitto
pub_rc 0 "" -V mqttv5 -q 1 -u alice -P apw -t home/last
wait "$SUB_PID" || fail "bob's subscriber: $(cat "$tmp/bob")"
[ "$(cat "$tmp/bob")" = $'home/lamp x\nhome/last x' ] || fail "bob got: $(cat "$tmp/bob")"
ok "readwrite, read-only and deny rules: bob reads exactly home/lamp and home/last"

out=$(timeout 20 mosquitto_sub -p "$P" -V mqttv5 -u bob -P bpw -t '#' -C 1 -W 5 2>&1 || true)
[ "$out" = "All subscription requests were denied." ] || fail "subscribe #: $out"
out=$(timeout 20 mosquitto_sub -p "$P" -u alice -P apw -t 'home/#' -C 1 -W 5 2>&1 || true)
[ "$out" = "All subscription requests were denied." ] || fail "subscribe overlapping deny: $out"
ok "SUBSCRIBE outside the read rules, or overlapping a deny rule, is refused"

pub_rc 0 "" -V mqttv5 -q 1 -u dev1 -P dpw -t devices/dev1/up
pub_rc 0 "Warning: Publish 1 failed: Not authorized." -V mqttv5 -q 1 -u dev1 -P dpw -t devices/bob/up
down="devices/sub$((SUB_N + 1))/down" # the next subscriber's client id
sub_bg "$tmp/dev" -V mqttv5 -u dev1 -P dpw -t "$down" -v -C 1
pub_rc 0 "" -V mqttv5 -q 1 -u alice -P apw -t "$down"
wait "$SUB_PID" || fail "dev1's subscriber: $(cat "$tmp/dev")"
[ "$(cat "$tmp/dev")" = "$down x" ] || fail "dev1 got: $(cat "$tmp/dev")"
out=$(timeout 20 mosquitto_sub -p "$P" -i other -u dev1 -P dpw -t "$down" -C 1 -W 5 2>&1 || true)
[ "$out" = "All subscription requests were denied." ] || fail "foreign %c topic: $out"
ok "%u / %c patterns: a device publishes only under its user name, reads only under its client id"

# ------------------------------------------------------------ HTTP service
pub_rc 0 "" -u nocontent -P a -t x
pub_rc 0 "" -u nocontent -P b -t x
pub_rc 0 "" -V mqttv5 -u nocontent -P c -t x
pub_rc 5 "$refused3" -u zed -P z -t x
read -r conns reqs <"$tmp/rstats"
# 2 anonymous CONNECTs at the start (no user name: the service decides) + 4.
[ "$reqs" = 6 ] || fail "HTTP service got $reqs requests, want 6"
[ "$conns" = 1 ] || fail "HTTP service saw $conns connections, want 1 (keep-alive)"
[ "$(grep -c '"username":null' "$tmp/rlog")" = 2 ] || fail "anonymous requests: $(cat "$tmp/rlog")"
grep -q '"username":"alice"' "$tmp/rlog" && fail "the HTTP service was asked about alice"
ok "anonymous clients and users unknown to the file go to the HTTP service, over one keep-alive connection"

# ------------------------------------------------------------ SIGHUP
"$BIN" passwd -b -I 1000 "$tmp/pw" alice new-apw
printf 'user alice\ntopic write other/#\n' >"$tmp/acl"
kill -HUP "$pid"
wait_log "reload: password-file and acl-file re-read"
pub_rc 4 "$badpw3" -u alice -P apw -t other/x
pub_rc 0 "" -V mqttv5 -q 1 -u alice -P new-apw -t other/x
pub_rc 0 "Warning: Publish 1 failed: Not authorized." -V mqttv5 -q 1 -u alice -P new-apw -t home/x
ok "SIGHUP re-reads the password file and the ACL"

printf 'alice\n' >"$tmp/pw"
kill -HUP "$pid"
wait_log "reload: password-file or acl-file rejected; keeping the running ones"
grep -q "cairn: password-file $tmp/pw:1: expected 'username:hash'" "$tmp/log" ||
    fail "no FILE:LINE diagnostic in the log"
pub_rc 0 "" -V mqttv5 -q 1 -u alice -P new-apw -t other/x
ok "a broken file on reload is reported with FILE:LINE and the running one stays"

stop_server
exec 7>&-
wait "$rpid" || true

# A broken file at startup: exit 2 with the diagnostic.
rc=0
"$BIN" --data-dir="$data" --http-listen=127.0.0.1:0 --mqtt-listen=127.0.0.1:0 \
    --password-file="$tmp/pw" 2>"$tmp/err" || rc=$?
[ "$rc" = 2 ] || fail "broken password file at startup: exit $rc, want 2"
grep -q "cairn: password-file $tmp/pw:1: expected 'username:hash'" "$tmp/err" ||
    fail "startup diagnostic: $(cat "$tmp/err")"
ok "a broken password file at startup exits 2 naming FILE:LINE"

# A world-readable password file is accepted with a warning (as mosquitto 2).
"$BIN" passwd -c -b -I 1000 "$tmp/pw" alice apw
chmod 644 "$tmp/pw"
start_http_server --durability=os --password-file="$tmp/pw"
grep -q "WARN  password-file $tmp/pw can be read by other users (mode 644); chmod 600 it" "$tmp/log" ||
    fail "no warning for a 0644 password file"
stop_server
ok "a password file readable by others gets a warning"
echo "all $checks checks passed"
