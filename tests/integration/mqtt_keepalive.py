#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Keepalive enforcement (MQTT 3.1.2-24 / 3.1.2.10: the server closes a
connection that sent nothing for 1.5 x its Keep Alive), over raw sockets:

  - 3.1.1, Keep Alive 1 s, then silence: the server closes the connection
    (nothing sent first: 3.1.1 has no DISCONNECT from the server);
  - 5.0, Keep Alive 1 s, then silence: DISCONNECT 0x8D (keep alive
    timeout), then close;
  - 3.1.1 and 5.0, Keep Alive 1 s with a PINGREQ every 0.3 s: each one gets
    its PINGRESP and the connection outlives three 1.5 s limits;
  - with argument MAXKA instead (a server with mqtt-max-keepalive): a client asking for more gets Server Keep Alive = MAXKA in its
    CONNACK, and one asking for 0 (no keepalive) too.

Nothing here measures time: the closes are awaited with a 20 s bound (the
failure bound, not a threshold), and the sleeps only pace the PINGREQs.

usage: mqtt_keepalive.py PORT [MAXKA]   prints one line per check, exit 1 on failure
"""
import socket
import struct
import sys
import time

PORT = int(sys.argv[1])
MAXKA = int(sys.argv[2]) if len(sys.argv) > 2 else 0


def s(x):
    x = x.encode() if isinstance(x, str) else x
    return struct.pack(">H", len(x)) + x


def pkt(b0, body):
    assert len(body) < 128
    return bytes([b0, len(body)]) + body


def connect(level, keepalive, cid):
    body = s("MQTT") + bytes([level, 0x02]) + struct.pack(">H", keepalive)
    if level == 5:
        body += b"\x00"
    return pkt(0x10, body + s(cid))


def recv_exact(c, n):
    out = b""
    while len(out) < n:
        chunk = c.recv(n - len(out))
        if not chunk:
            return None
        out += chunk
    return out


def read_packet(c):
    """One packet (bytes), or None at EOF/reset."""
    try:
        hdr = recv_exact(c, 1)
        if hdr is None:
            return None
        n, m = 0, 1
        while True:
            b = recv_exact(c, 1)
            if b is None:
                return None
            n += (b[0] & 0x7F) * m
            m *= 128
            if not b[0] & 0x80:
                break
        body = recv_exact(c, n) if n else b""
        return None if body is None else hdr + bytes([n]) + body
    except ConnectionResetError:
        return None


def online(level, keepalive, cid):
    c = socket.create_connection(("127.0.0.1", PORT), timeout=20)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.sendall(connect(level, keepalive, cid))
    ack = read_packet(c)
    assert ack and ack[0] == 0x20 and ack[3] == 0, "CONNACK %r" % ack
    return c, ack


failures = 0
PINGS = 15  # 4.5 s of pings: three times the 1.5 s limit


def check(name, cond):
    global failures
    print(("ok   " if cond else "FAIL ") + name)
    failures += 0 if cond else 1



def enforcement():
    # Silent clients: the server must close them.
    c, _ = online(4, 1, "ka-v3-silent")
    try:
        got = read_packet(c)
        check("3.1.1 keepalive 1 s, silent: closed without a packet", got is None)
    except socket.timeout:
        check("3.1.1 keepalive 1 s, silent: closed within 20 s", False)
    c.close()

    c, _ = online(5, 1, "ka-v5-silent")
    try:
        got = read_packet(c)
        want = b"\xe0\x17\x8d\x15\x1f\x00\x12keep alive timeout"  # with its Reason String
        check("5.0 keepalive 1 s, silent: DISCONNECT 0x8D %r" % got, got == want)
        check("5.0 then closed", read_packet(c) is None)
    except socket.timeout:
        check("5.0 keepalive 1 s, silent: closed within 20 s", False)
    c.close()

    # Clients that ping every 0.3 s stay.
    for level in (4, 5):
        c, _ = online(level, 1, "ka-ping-%d" % level)
        answered = 0
        for i in range(PINGS):
            c.sendall(b"\xc0\x00")
            try:
                if read_packet(c) == b"\xd0\x00":
                    answered += 1
                else:
                    break
            except socket.timeout:
                break
            time.sleep(0.3)
        check("level %d keepalive 1 s with PINGREQs: %d of %d PINGRESPs, connection open"
              % (level, answered, PINGS), answered == PINGS)
        c.close()


if not MAXKA:
    enforcement()
else:
    for asked in (MAXKA + 100, 0):
        c, ack = online(5, asked, "ka-server-%d" % asked)
        # CONNACK 5.0: 20 len flags reason proplen props...; Server Keep Alive = 0x13
        props = ack[5:5 + ack[4]]
        ska = None
        i = 0
        while i < len(props):
            pid = props[i]
            if pid == 0x13:
                ska = struct.unpack(">H", props[i + 1:i + 3])[0]
                break
            if pid in (0x11, 0x27):
                i += 5
            elif pid in (0x21, 0x22):
                i += 3
            elif pid in (0x24, 0x25, 0x28, 0x29, 0x2A):
                i += 2
            elif pid in (0x12, 0x1A, 0x1C, 0x1F):
                i += 3 + struct.unpack(">H", props[i + 1:i + 3])[0]
            elif pid == 0x26:
                k = struct.unpack(">H", props[i + 1:i + 3])[0]
                v = struct.unpack(">H", props[i + 3 + k:i + 5 + k])[0]
                i += 5 + k + v
            else:
                break
        check("5.0 keepalive %d against mqtt-max-keepalive %d: Server Keep Alive %r"
              % (asked, MAXKA, ska), ska == MAXKA)
        c.close()

sys.exit(1 if failures else 0)
