#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# auth_http_receiver.py - the HTTP auth service test_auth_http.c talks to:
# HTTP/1.1 with keep-alive on 127.0.0.1 (a free port, printed as the first
# line of stdout), answering POSTs by user name:
#   alice/pw -> 200 {"result":"allow"}     nocontent -> 204
#   ignore   -> 200 {"result":"ignore"}    boom      -> 500
#   garbage  -> 200 not-json               slow      -> waits 5 s, then allow
#   anything else -> 200 {"result":"deny"}
# After every accepted connection and every request it rewrites STATS
# ("<connections> <requests>\n", via rename so readers never see a partial
# file) and appends each request body as one line to LOG, both before the
# answer is sent, so a client that got its answer sees them updated.
# Stops by itself when stdin closes (the test's pipe) or after 300 s.
import http.server
import json
import os
import sys
import threading

stats_path, log_path = sys.argv[1], sys.argv[2]
lock = threading.Lock()
counts = {"conns": 0, "reqs": 0}


def write_stats():
    tmp = stats_path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d %d\n" % (counts["conns"], counts["reqs"]))
    os.replace(tmp, stats_path)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        with lock:
            counts["conns"] += 1
            write_stats()

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        self.send_response(status)
        if body is not None:
            data = body.encode()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            counts["reqs"] += 1
            with open(log_path, "ab") as f:
                f.write(self.headers.get("Content-Type", "").encode() + b" " + body + b"\n")
            write_stats()
        try:
            req = json.loads(body)
        except ValueError:
            return self.answer(400, '{"error":"bad json"}')
        user = req.get("username")
        if user == "alice" and req.get("password") == "pw":
            return self.answer(200, '{"result": "allow", "is_superuser": false}')
        if user == "nocontent":
            return self.answer(204, None)
        if user == "ignore":
            return self.answer(200, '{"result":"ignore"}')
        if user == "boom":
            return self.answer(500, '{"error":"boom"}')
        if user == "garbage":
            return self.answer(200, "allow")
        if user == "slow":
            threading.Event().wait(5)
            return self.answer(200, '{"result":"allow"}')
        return self.answer(200, '{"result":"deny"}')


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
write_stats()
print(server.server_address[1], flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
failsafe = threading.Timer(300, lambda: os._exit(1))
failsafe.daemon = True
failsafe.start()
sys.stdin.read()
os._exit(0)
