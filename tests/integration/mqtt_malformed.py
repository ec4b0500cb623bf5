#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Sends every client-side malformed-packet fixture of tests/data/mqtt/ (and
the session-layer violations the codec cannot see) to a running cairn and
checks the exact bytes the server answers before it closes the connection:

  - a bad CONNECT: CONNACK with the reason (5.0), the 3.1.1 return code
    where one exists (1 unsupported level, 2 identifier rejected), else
    nothing;
  - a bad packet after a good CONNECT: DISCONNECT with the fixture's reason
    code (5.0), nothing (3.1.1);
  - then EOF.  A healthy connection opened first must still answer PINGREQ.

usage: mqtt_malformed.py PORT FIXTURE_DIR   (prints one line per case, exit 1 on failure)
"""
import glob
import os
import socket
import struct
import sys

PORT = int(sys.argv[1])
DIR = sys.argv[2]
V3 = {0x84: 1, 0x85: 2, 0x88: 3, 0x89: 3, 0x86: 4, 0x87: 5}


def s(x):
    x = x.encode() if isinstance(x, str) else x
    return struct.pack(">H", len(x)) + x


def vbi(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pkt(b0, body):
    return bytes([b0]) + vbi(len(body)) + body


def connect(level, props=b"", cid=""):
    body = s("MQTT") + bytes([level, 0x02]) + struct.pack(">H", 60)
    if level == 5:
        body += vbi(len(props)) + props
    return pkt(0x10, body + s(cid))


def conn():
    c = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return c


def read_packet(c):
    hdr = c.recv(1)
    if not hdr:
        return None
    n, m = 0, 1
    while True:
        b = c.recv(1)[0]
        n += (b & 0x7F) * m
        m *= 128
        if not b & 0x80:
            break
    body = b""
    while len(body) < n:
        chunk = c.recv(n - len(body))
        if not chunk:
            break
        body += chunk
    return hdr + vbi(n) + body


def rest(c):
    out = b""
    while True:
        try:
            chunk = c.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        out += chunk
    return out


def online(level, props=b""):
    c = conn()
    c.sendall(connect(level, props))
    ack = read_packet(c)
    assert ack and ack[0] == 0x20 and ack[3] == 0, "CONNACK %r" % ack
    return c


failures = 0


def strip_reason_string(data):
    """(data without the Reason String of 5.0 DISCONNECT/CONNACK packets,
    the reason strings found).  cairn sends an error's Reason String as the
    only property; the rest is compared byte for byte."""
    out, texts, i = b"", [], 0
    while i < len(data):
        b0, n, m, j = data[i], 0, 1, i + 1
        while j < len(data):
            n += (data[j] & 0x7F) * m
            m *= 128
            j += 1
            if not data[j - 1] & 0x80:
                break
        body = data[j:j + n]
        fixed = {0xE0: 1, 0x20: 2}.get(b0)  # bytes before the property length
        if fixed and len(body) > fixed and body[fixed] and body[fixed + 1] == 0x1F:
            sl = struct.unpack(">H", body[fixed + 2:fixed + 4])[0]
            if body[fixed] == 3 + sl and len(body) == fixed + 1 + 3 + sl:
                texts.append(body[fixed + 4:].decode())
                body = body[:fixed] + (b"" if b0 == 0xE0 else b"\x00")
        out += bytes([b0, len(body)]) + body if len(body) < 128 else data[i:j + n]
        i = j + n
    return out, texts


def check(name, got, want):
    global failures
    got, texts = strip_reason_string(got)
    # A 5.0 error answer (DISCONNECT, refused CONNACK) carries a Reason String.
    need = want[:1] == b"\xe0" or (want[:2] == b"\x20\x03" and want[3] >= 0x80)
    if got == want and (texts or not need):
        print("ok   %s -> %s %s" % (name, got.hex() or "close", texts or ""))
    else:
        failures += 1
        print("FAIL %s: got %s %s, want %s%s" % (name, got.hex() or "close", texts,
                                                want.hex() or "close",
                                                " with a reason string" if need else ""))


def fixture_case(path):
    name = os.path.basename(path)
    level, _, reason, rule = name.split("-")[:4]
    level, reason = int(level), int(reason, 16)
    data = open(path, "rb").read()
    if data[0] >> 4 == 1:  # a bad CONNECT
        if rule in ("MQ_R_PROTO_NAME", "MQ_R_VARINT_LONG", "MQ_R_VARINT_NONCANON"):
            want = b""
        elif rule == "MQ_R_PROTO_LEVEL":
            want = bytes([0x20, 2, 0, 1])
        elif level == 5:
            want = bytes([0x20, 3, 0, reason, 0])
        else:
            want = bytes([0x20, 2, 0, V3[reason]]) if reason in V3 else b""
        c = conn()
    else:
        c = online(5 if level == 5 else 4)
        want = bytes([0xE0, 1, reason]) if level == 5 else b""
    c.sendall(data)
    check(name, rest(c), want)
    c.close()


def session_cases():
    # The first packet must be CONNECT.
    c = conn()
    c.sendall(pkt(0xC0, b""))
    check("first packet PINGREQ", rest(c), b"")
    # A second CONNECT is a protocol error.
    for lv, want in ((4, b""), (5, bytes([0xE0, 1, 0x82]))):
        c = online(lv)
        c.sendall(connect(lv))
        check("second CONNECT v%d" % lv, rest(c), want)
    # Topic alias above the maximum cairn announced (64).
    c = online(5)
    c.sendall(pkt(0x30, s("t") + b"\x03\x23\x00\x41" + b"x"))
    check("topic alias 65 > max", rest(c), bytes([0xE0, 1, 0x94]))
    # A topic alias that was never set.
    c = online(5)
    c.sendall(pkt(0x30, s("") + b"\x03\x23\x00\x05" + b"x"))
    check("unknown topic alias", rest(c), bytes([0xE0, 1, 0x82]))
    # Receive Maximum (64) exceeded: 65 QoS 2 PUBLISHes without PUBREL.
    c = online(5)
    c.sendall(b"".join(pkt(0x34, s("rm/t") + struct.pack(">H", i + 1) + b"\x00x")
                       for i in range(65)))
    got = rest(c)
    check("receive maximum exceeded", got[got.rfind(b"\xe0"):], bytes([0xE0, 1, 0x93]))
    # DISCONNECT may not turn a Session Expiry of 0 into a non-zero one.
    c = online(5)
    c.sendall(pkt(0xE0, b"\x00\x05\x11\x00\x00\x00\x3c"))
    check("session expiry 0 -> 60 on DISCONNECT", rest(c), bytes([0xE0, 1, 0x82]))
    # Enhanced authentication is not offered.
    c = conn()
    c.sendall(connect(5, b"\x15" + s("SCRAM-SHA-1")))
    check("CONNECT with an authentication method", rest(c), bytes([0x20, 3, 0, 0x8C, 0]))
    # A packet over mqtt-max-packet-size (1k in this test's server).
    c = online(5)
    c.sendall(pkt(0x30, s("big") + b"\x00" + b"x" * 2000))
    check("packet too large v5", rest(c), bytes([0xE0, 1, 0x95]))
    c = online(4)
    c.sendall(pkt(0x30, s("big") + b"x" * 2000))
    check("packet too large v3.1.1", rest(c), b"")


healthy = online(4)
for f in sorted(glob.glob(os.path.join(DIR, "*-c-*.bin"))):
    fixture_case(f)
session_cases()
healthy.sendall(pkt(0xC0, b""))
check("healthy connection still answers PINGREQ", read_packet(healthy), bytes([0xD0, 0]))
sys.exit(1 if failures else 0)
