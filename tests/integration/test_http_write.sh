#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_http_write.sh - the HTTP server end to end, over 127.0.0.1 only:
# /ping and /health, POST /write (precision, gzip, chunked, Expect:
# 100-continue), the InfluxDB error bodies (bad line, type conflict, missing
# db, 413, 431, 404), keep-alive and pipelining, idle and read timeouts,
# the secure-by-default refusal, clean shutdown, then the stored rows read
# back with cairn_dump and compared exactly; finally durability: a write
# that got its 204 survives a SIGKILL right after it.
#
# Usage: CAIRN_BIN=build/debug/cairn CAIRN_DUMP=build/debug/tests/cairn_dump \
#        tests/integration/test_http_write.sh
# (ctest sets both).  Needs curl and python3.  Picks a free port (port 0,
# read back from the log); signals only the PIDs it started; waits by
# polling with bounded loops.
set -euo pipefail

SRC=${CAIRN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${CAIRN_BIN:-$SRC/build/debug/cairn}
DUMP=${CAIRN_DUMP:-$(dirname "$BIN")/tests/cairn_dump}
[ -x "$BIN" ] || { echo "FAIL: no executable at $BIN (set CAIRN_BIN)" >&2; exit 1; }
[ -x "$DUMP" ] || { echo "FAIL: no cairn_dump at $DUMP (set CAIRN_DUMP)" >&2; exit 1; }
command -v curl >/dev/null || { echo "FAIL: curl is required" >&2; exit 1; }

# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" http

data="$tmp/data"
start_server() {
    start_http_server --http-max-body=64k --http-idle-timeout=1s --http-read-timeout=1s "$@"
}

# req ARGS...: curl with the status in $code, headers in $tmp/h, body in $body.
req() {
    code=$(curl -sS -o "$tmp/body" -D "$tmp/h" -w '%{http_code}' "$@") || fail "curl $*"
    body=$(cat "$tmp/body")
}

expect() { # expect CODE BODY DESCRIPTION
    [ "$code" = "$1" ] || fail "$3: status $code, want $1 (body: $body)"
    [ "$body" = "$2" ] || fail "$3: body
  got:  $body
  want: $2"
    ok "$3"
}

# ----------------------------------------------------------- secure default

rc=0
"$BIN" --data-dir="$data" --http-listen=0.0.0.0:0 2>"$tmp/err" || rc=$?
[ "$rc" = 2 ] || fail "non-loopback http-listen without http-allow-anonymous: exit $rc, want 2"
grep -q 'http-listen 0.0.0.0 is not a loopback address.*http-allow-anonymous = true' "$tmp/err" ||
    fail "no clear message for a non-loopback http-listen: $(cat "$tmp/err")"
ok "non-loopback http-listen refused without http-allow-anonymous (exit 2)"

# ----------------------------------------------------------- ping, health

start_server
ok "server started on port $port"

req "$url/ping"
[ "$code" = 204 ] || fail "/ping status $code"
grep -qi '^X-Influxdb-Version: 1\.8\.10-cairn' "$tmp/h" || fail "/ping lacks X-Influxdb-Version"
grep -qi '^X-Influxdb-Build: OSS' "$tmp/h" || fail "/ping lacks X-Influxdb-Build"
ok "GET /ping: 204 with X-Influxdb-Version and X-Influxdb-Build"
req -I "$url/ping"
[ "$code" = 204 ] || fail "HEAD /ping status $code"
ok "HEAD /ping: 204"
req "$url/ping?verbose=true"
expect 200 '{"version":"1.8.10-cairn"}' "/ping?verbose=true"
req "$url/health"
expect 200 '{"name":"cairn","message":"ready for queries and writes","status":"pass","checks":[],"version":"1.8.10-cairn"}' \
    "/health"
grep -qi '^Content-Type: application/json' "$tmp/h" || fail "/health is not application/json"
req "$url/nothing"
expect 404 '404 page not found' "unknown path: 404"
req -X DELETE "$url/write?db=x"
[ "$code" = 405 ] || fail "DELETE /write: $code, want 405"
ok "wrong method: 405"

# ------------------------------------------------------------------ writes

printf 'weather,site=a temp=21.5,hum=40i,ok=true,note="hi there" 1700000000000\nweather,site=b temp=-3.25,hum=55i,ok=false,note="x" 1700000001000\n' >"$tmp/w1"
req --data-binary @"$tmp/w1" "$url/write?db=mydb&precision=ms"
expect 204 '' "two lines, precision=ms: 204"

printf 'weather,site=a temp=22 1700000002\n' | gzip >"$tmp/w2.gz"
req -H 'Content-Encoding: gzip' --data-binary @"$tmp/w2.gz" "$url/write?db=mydb&precision=s&rp=autogen"
expect 204 '' "gzip body, precision=s: 204"

printf 'power,dev=x w=100i 1700000007000000000\n' >"$tmp/w5"
req -H 'Transfer-Encoding: chunked' -H 'Expect: 100-continue' --data-binary @"$tmp/w5" "$url/write?db=mydb"
expect 204 '' "chunked body with Expect: 100-continue: 204"

printf 'weather,site=c temp=1.25 1700000003000000000\nweather,site=c temp= 1700000004000000000\nweather,site=c temp=2.5 1700000005000000000\n' >"$tmp/w3"
req --data-binary @"$tmp/w3" "$url/write?db=mydb"
expect 400 '{"error":"partial write: unable to parse '"'"'weather,site=c temp= 1700000004000000000'"'"': missing field value (line 2 col 21) dropped=1"}' \
    "bad line: 400 with InfluxDB's partial-write error"

printf 'weather,site=d hum=1.5,temp=3.5 1700000006000000000\n' >"$tmp/w4"
req --data-binary @"$tmp/w4" "$url/write?db=mydb"
expect 400 '{"error":"partial write: field type conflict: input field \"hum\" on measurement \"weather\" is type float, already exists as type integer dropped=1"}' \
    "field type conflict: 400 with InfluxDB's error"

req --data-binary @"$tmp/w1" "$url/write"
expect 400 '{"error":"database is required"}' "missing db: 400"
req --data-binary @"$tmp/w1" "$url/write?db=mydb&precision=fortnight"
expect 400 '{"error":"invalid precision \"fortnight\" (use ns, u, ms, s, m or h)"}' "bad precision: 400"

head -c 70000 /dev/zero | tr '\0' 'a' >"$tmp/big"
req --data-binary @"$tmp/big" "$url/write?db=mydb"
expect 413 '{"error":"Request Entity Too Large"}' "body above http-max-body: 413"
req -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/big" "$url/write?db=mydb"
expect 413 '{"error":"Request Entity Too Large"}' "chunked body above http-max-body: 413"
gzip -c "$tmp/big" >"$tmp/big.gz"
req -H 'Content-Encoding: gzip' --data-binary @"$tmp/big.gz" "$url/write?db=mydb"
expect 413 '{"error":"Request Entity Too Large"}' "gzip body inflating above http-max-body: 413"

# ------------------------------------------- raw connections (python3)

python3 - "$port" <<'PY' || fail "raw HTTP checks (see above)"
import socket, sys, time
port = int(sys.argv[1])

def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s

def read_response(s, buf=b""):
    """Reads one response (Content-Length framed); returns (head, body, rest)."""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise SystemExit("connection closed before a response: %r" % buf)
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(rest) < n:
        rest += s.recv(65536)
    return head.decode(), rest[:n], rest[n:]

def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)
    print("  python: " + what)

# Keep-alive: three requests on one connection.
s = conn()
for body in (b"power,dev=y w=5i 1700000008000000000\n", b""):
    s.sendall(b"POST /write?db=mydb HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    head, _, rest = read_response(s)
    check(head.startswith("HTTP/1.1 204") and not rest, "keep-alive request answered 204")
s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
head, _, _ = read_response(s)
check(head.startswith("HTTP/1.1 204"), "third request on the same connection")

# Pipelining: two requests in one segment, answered in order.
s.sendall(b"GET /ping?verbose=true HTTP/1.1\r\nHost: x\r\n\r\nGET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
h1, b1, rest = read_response(s)
h2, b2, rest = read_response(s, rest)
check(h1.startswith("HTTP/1.1 200") and b"version" in b1 and h2.startswith("HTTP/1.1 404"),
      "pipelined requests answered in order")
s.close()

# Expect: 100-continue: the interim response comes before the body is sent.
s = conn()
body = b"power,dev=z w=6i 1700000009000000000\n"
s.sendall(b"POST /write?db=mydb HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
d = s.recv(4096)
check(d.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), "100 Continue before the body")
s.sendall(body)
head, _, _ = read_response(s, d[len(b"HTTP/1.1 100 Continue\r\n\r\n"):])
check(head.startswith("HTTP/1.1 204"), "write after 100 Continue: 204")
s.close()

# Expect: 100-continue with a Content-Length above the limit: 413 at once.
s = conn()
s.sendall(b"POST /write?db=mydb HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 10000000\r\n\r\n")
head, body, _ = read_response(s)
check(head.startswith("HTTP/1.1 413") and b"Request Entity Too Large" in body
      and "Connection: close" in head, "413 before the body is sent")
s.close()

def one_shot(raw, status, what):
    """Sends raw bytes on a new connection and expects one response."""
    s = conn()
    s.sendall(raw)
    head, _, _ = read_response(s)
    check(head.startswith("HTTP/1.1 %d" % status), what)
    s.close()

one_shot(b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431,
         "headers above the limit: 431")
one_shot(b"BLAH\x01 / HTTP/1.1\r\n\r\n", 400, "malformed request line: 400")
# Read timeout (1s): a request that never completes gets 408.
one_shot(b"POST /write?db=mydb HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc", 408,
         "incomplete request: 408 after http-read-timeout")

# Idle keep-alive timeout (1s): the server closes a silent connection.
s = conn()
t0 = time.time()
d = s.recv(10)
check(d == b"" and 0.5 < time.time() - t0 < 4, "idle connection closed after http-idle-timeout")
s.close()

PY
ok "keep-alive, pipelining, 100-continue, 413 early, 431, 400, idle and read timeouts"

stop_server
grep -q 'shutdown complete' "$tmp/log" || fail "no 'shutdown complete' in the log"
ok "SIGTERM: clean shutdown"

# ------------------------------------------------------------ stored rows

cat >"$tmp/want" <<'ROWS'
power,dev=x w=100i 1700000007000000000
power,dev=y w=5i 1700000008000000000
power,dev=z w=6i 1700000009000000000
weather,site=a hum=40i,note="hi there",ok=true,temp=21.5 1700000000000000000
weather,site=a temp=22 1700000002000000000
weather,site=b hum=55i,note="x",ok=false,temp=-3.25 1700000001000000000
weather,site=c temp=1.25 1700000003000000000
weather,site=c temp=2.5 1700000005000000000
weather,site=d temp=3.5 1700000006000000000
ROWS
"$DUMP" "$data" 2>"$tmp/dump.err" >"$tmp/dump" || fail "cairn_dump: $(cat "$tmp/dump.err")"
# Fields print in catalog order; sort them within each line for the compare.
python3 - "$tmp/dump" >"$tmp/got" <<'PY'
import sys
out = []
for line in open(sys.argv[1]):
    series, fields, ts = line.rstrip("\n").rsplit(" ", 2) if line.count(" ") == 2 else (None, None, None)
    if series is None:
        # string values with spaces: split at the first space after the series
        head, ts = line.rstrip("\n").rsplit(" ", 1)
        series, fields = head.split(" ", 1)
    parts, cur, q = [], "", False
    for ch in fields:
        if ch == '"':
            q = not q
        if ch == "," and not q:
            parts.append(cur); cur = ""
        else:
            cur += ch
    parts.append(cur)
    out.append("%s %s %s" % (series, ",".join(sorted(parts)), ts))
print("\n".join(sorted(out)))
PY
diff -u "$tmp/want" "$tmp/got" || fail "stored rows differ from what was written"
ok "stored rows match exactly (good lines of the bad batches included, bad ones absent)"

# ------------------------------------------------------------ back-pressure

# A tiny memtable makes eng_write refuse with CN_EFULL while a flush runs:
# the server parks those writes and retries; every row must arrive.
# Generous timeouts: this part tests back-pressure, and a sanitizer build on
# a loaded machine can take more than 1 s to read a 5000-line body.
start_server --memtable-size=64k --http-max-body=4M --http-read-timeout=60s --http-idle-timeout=60s
python3 - "$port" <<'PY' || fail "writes under back-pressure (see above)"
import http.client, sys, threading
port = int(sys.argv[1])
errs = []
def writer(k):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for b in range(4):
        lines = "".join("bp,dev=w%d v=%di,f=%d.5 %d\n" % (k, b * 5000 + i, i, 1700000000000 + b * 5000 + i)
                        for i in range(5000))
        c.request("POST", "/write?db=mydb&precision=ms", lines.encode())
        r = c.getresponse()
        body = r.read()
        if r.status != 204:
            errs.append((r.status, body[:200]))
ts = [threading.Thread(target=writer, args=(k,)) for k in range(2)]
[t.start() for t in ts]
[t.join() for t in ts]
if errs:
    raise SystemExit("FAIL: %r" % errs[:3])
PY
stop_server
n=$("$DUMP" "$data" 2>/dev/null | grep -c '^bp,') || true
[ "$n" = 40000 ] || fail "back-pressure run stored $n rows of bp, want 40000"
ok "2 writers x 4 batches of 5000 lines with a 64k memtable: every row stored ($(grep -o 'waited [0-9]* time' "$tmp/log" || echo 'no waits'))"

# ------------------------------------------------------ descriptor limit
# With 64 descriptors the server runs out while 80 clients wait: accepting
# pauses (one warning, not one per retry), nothing is lost, and every
# client is answered once the answered ones hang up (http.c NOTES 7).

old_nofile=$(ulimit -Sn)
ulimit -Sn 64
# connections held until the client hangs up: with start_server's 1 s idle
# timeout a slow run let the server close early ones and never run out
start_server --http-idle-timeout=60s --http-read-timeout=60s
ulimit -Sn "$old_nofile"
python3 - "$port" "$tmp/log" <<'PY' || fail "clients beyond the descriptor limit"
import select, socket, sys, time
port, log = int(sys.argv[1]), sys.argv[2]
socks = []
for i in range(80):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
    socks.append(s)
# every connection stays open until the server has run out: a slow server
# that had accepted only some of them when the first answers were read
# (and hung up) never would (a CI run)
deadline = time.monotonic() + 30
while "http: accept: Too many open files" not in open(log).read():
    if time.monotonic() > deadline:
        raise SystemExit("FAIL: no accept warning with 80 connections open and 64 descriptors")
    select.select([], [], [], 0.05)
answered, deadline = 0, time.monotonic() + 60
while socks and time.monotonic() < deadline:
    ready, _, _ = select.select(socks, [], [], 1.0)
    for s in ready:
        data = s.recv(4096)
        if not data.startswith(b"HTTP/1.1 204 "):
            raise SystemExit("FAIL: answer %r" % data[:40])
        answered += 1
        socks.remove(s)
        s.close()
if answered != 80:
    raise SystemExit("FAIL: %d of 80 clients answered" % answered)
PY
grep -q 'http: accept: Too many open files; new connections wait' "$tmp/log" ||
    fail "no warning when the descriptors ran out"
n=$(grep -c 'http: accept: ' "$tmp/log") || true
[ "$n" -lt 3 ] || fail "$n accept warnings, want them rate-limited"
req "$url/ping"
[ "$code" = 204 ] || fail "/ping after the descriptor limit: $code"
ok "80 clients against 64 descriptors: all answered, accepting paused with one warning"
stop_server

# -------------------------------------------------------------- durability

start_server
printf 'crash,k=v x=1.5 1700000010000000000\ncrash,k=v x=2.5 1700000011000000000\n' >"$tmp/w6"
req --data-binary @"$tmp/w6" "$url/write?db=mydb"
expect 204 '' "write before SIGKILL: 204"
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
pid=""
"$DUMP" "$data" 2>"$tmp/dump.err" | grep '^crash' >"$tmp/crash" || fail "nothing of the acknowledged write after SIGKILL"
printf 'crash,k=v x=1.5 1700000010000000000\ncrash,k=v x=2.5 1700000011000000000\n' | diff -u - "$tmp/crash" ||
    fail "acknowledged rows lost or changed after SIGKILL"
ok "acknowledged write survives SIGKILL (WAL replay)"

echo "test_http_write: all $checks checks passed"
