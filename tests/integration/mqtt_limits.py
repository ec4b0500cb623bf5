#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Limits and CONNECT details over raw sockets, against a cairn started
with mqtt-max-connections=4:

  - four connections are accepted; a fifth is closed without a CONNACK (as
    Mosquitto does at max_connections), the four keep working; once one
    closes, a new connection is accepted again;
  - MQTT 5 CONNECT with an empty client id: CONNACK 0 with an Assigned
    Client Identifier; 3.1.1 with an empty id and clean session: CONNACK 0;
  - a 5.0 subscriber announcing Maximum Packet Size 64 is not sent a
    message that would exceed it, and gets the next one that fits.

usage: mqtt_limits.py PORT   prints one line per check, exit 1 on failure
"""
import socket
import struct
import sys
import time

PORT = int(sys.argv[1])
failures = 0


def check(name, cond):
    global failures
    print(("ok   " if cond else "FAIL ") + name)
    failures += 0 if cond else 1


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


def connect(level, cid, props=b""):
    body = s("MQTT") + bytes([level, 0x02]) + struct.pack(">H", 60)
    if level == 5:
        body += vbi(len(props)) + props
    return pkt(0x10, body + s(cid))


def read_packet(c):
    try:
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
                return None
            body += chunk
        return hdr + vbi(n) + body
    except ConnectionResetError:
        return None


def dial():
    c = socket.create_connection(("127.0.0.1", PORT), timeout=20)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return c


def online(level, cid, props=b""):
    c = dial()
    c.sendall(connect(level, cid, props))
    return c, read_packet(c)


# max connections
conns = []
for i in range(4):
    c, ack = online(4, "lim-%d" % i)
    check("connection %d of 4 accepted" % (i + 1), ack == b"\x20\x02\x00\x00")
    conns.append(c)
c5, ack = online(4, "lim-5")
check("a fifth connection is closed without a CONNACK", ack is None)
c5.close()
conns[0].sendall(b"\xc0\x00")
check("the four still answer PINGREQ", read_packet(conns[0]) == b"\xd0\x00")
conns.pop().close()
accepted = False
for _ in range(200):  # until the server has seen the close (bounded)
    c, ack = online(4, "lim-again")
    if ack == b"\x20\x02\x00\x00":
        accepted = True
        conns.append(c)
        break
    c.close()
    time.sleep(0.05)
check("after one closed, a new connection is accepted", accepted)
for c in conns:
    c.close()


def connect_again(level, cid, props=b""):
    for _ in range(200):  # the closes above free their slots asynchronously
        c, ack = online(level, cid, props)
        if ack is not None:
            return c, ack
        c.close()
        time.sleep(0.05)
    raise SystemExit("FAIL no connection slot became free")


# assigned client identifier
c, ack = connect_again(5, "")
ok = ack is not None and ack[:4] == b"\x20" + ack[1:2] + b"\x00\x00" and b"\x12" in ack[5:]
i = ack.find(b"\x12", 5) if ack else -1
aid = ack[i + 3:i + 3 + struct.unpack(">H", ack[i + 1:i + 3])[0]].decode() if i > 0 else ""
check("5.0 empty client id: CONNACK 0 with Assigned Client Identifier %r" % aid,
      ok and aid.startswith("cairn-"))
c.close()
c, ack = connect_again(4, "")
check("3.1.1 empty client id, clean session: CONNACK 0", ack == b"\x20\x02\x00\x00")
c.close()

# the client's Maximum Packet Size
sub, ack = connect_again(5, "lim-mps", b"\x27" + struct.pack(">I", 64))
check("subscriber with Maximum Packet Size 64 connected", ack is not None and ack[3] == 0)
sub.sendall(pkt(0x82, struct.pack(">H", 1) + b"\x00" + s("mps/#") + b"\x00"))
check("SUBACK", read_packet(sub) == b"\x90\x04\x00\x01\x00\x00")
pub, ack = connect_again(5, "lim-pub")
pub.sendall(pkt(0x30, s("mps/big") + b"\x00" + b"x" * 200))
pub.sendall(pkt(0x30, s("mps/small") + b"\x00" + b"fits"))
got = read_packet(sub)
check("the 200-byte message is not sent, the next one is: %r" % got,
      got == pkt(0x30, s("mps/small") + b"\x00" + b"fits"))
sub.close()
pub.close()
sys.exit(1 if failures else 0)
