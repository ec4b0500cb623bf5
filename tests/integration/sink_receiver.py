# SPDX-License-Identifier: MIT
"""sink_receiver.py - the webhook endpoint of test_sink_webhook.sh: an HTTP/1.1
keep-alive server on 127.0.0.1 that appends each POST body as one line to
OUT and answers 200, or 400 when the body contains "poison".  Prints
"listening PORT" once bound (PORT 0 picks a free one)."""
import http.server
import sys

out = open(sys.argv[2], 'ab', buffering=0)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        bad = b'poison' in body
        if not bad:
            out.write(body + b'\n')
        self.send_response(400 if bad else 200)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), Handler)
print('listening', server.server_address[1], flush=True)
server.serve_forever()
