#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""mqtt_pub_qos0.py PORT FILE - publishes every line of FILE (topic TAB
payload) at QoS 0 over one MQTT 3.1.1 connection as fast as the socket
takes it, then sends DISCONNECT and waits for the server to close.  The
server handles one connection's packets in order, so when it closes after
the DISCONNECT every PUBLISH before it has been handed to storage."""
import socket
import struct
import sys


def rl(n):
    out = b""
    while True:
        b = n % 128
        n //= 128
        out += bytes([b | (128 if n else 0)])
        if not n:
            return out


def s16(b):
    return struct.pack(">H", len(b)) + b


port, path = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=120)
body = s16(b"MQTT") + bytes([4, 2]) + struct.pack(">H", 60) + s16(b"qos0-pub")
s.sendall(bytes([0x10]) + rl(len(body)) + body)
if s.recv(4) != b"\x20\x02\x00\x00":
    raise SystemExit("FAIL: no CONNACK 0")
buf = []
for line in open(path, "rb"):
    topic, payload = line.rstrip(b"\n").split(b"\t", 1)
    vh = s16(topic)
    buf.append(bytes([0x30]) + rl(len(vh) + len(payload)) + vh + payload)
    if len(buf) == 512:
        s.sendall(b"".join(buf))
        buf = []
s.sendall(b"".join(buf) + b"\xe0\x00")
while s.recv(65536):
    pass
print("published at QoS 0 and disconnected")
