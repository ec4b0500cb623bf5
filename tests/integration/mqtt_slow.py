#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The slow-subscriber policy (README "Slow subscribers"), against a cairn
started with mqtt-max-queued-messages=100 and mqtt-sys-interval=1s:

  1. An offline persistent session (QoS 1) and 150 QoS 1 messages: on
     reconnect it gets exactly the first 100, in order; the 50 beyond its
     limit are counted in $SYS/broker/messages/dropped.
  2. A live subscriber that stops acknowledging (raw socket, QoS 1): its
     window fills, its queue passes half the limit, and the publisher
     (paho, 1000 QoS 1 messages) is paused instead of anything being
     dropped ($SYS/broker/publishers/paused counts it, the publisher's
     PUBACKs stop).  Once the subscriber acknowledges again, every one of
     the 1000 messages arrives, in order, and messages/dropped still says 50.

Waits are on events ($SYS values, PUBACK counts) with generous bounds.
usage: mqtt_slow.py PORT   prints one line per check, exit 1 on failure
"""
import socket
import struct
import sys
import threading
import time

import paho.mqtt.client as mqtt

PORT = int(sys.argv[1])
TIMEOUT = 30
failures = 0


def check(name, cond):
    global failures
    print(("ok   " if cond else "FAIL ") + name)
    failures += 0 if cond else 1


class Sys:
    """Latest $SYS values, to wait for a counter to reach a value."""

    def __init__(self):
        self.v = {}
        self.cv = threading.Condition()
        self.c = mqtt.Client(client_id="slow-sys")
        self.c.on_message = self._msg
        self.c.connect("127.0.0.1", PORT, 30)
        self.c.subscribe("$SYS/broker/#", 0)
        self.c.loop_start()

    def _msg(self, c, u, m):
        with self.cv:
            self.v[m.topic[len("$SYS/broker/"):]] = m.payload.decode()
            self.cv.notify_all()

    def wait(self, key, pred):
        with self.cv:
            self.cv.wait_for(lambda: key in self.v and pred(int(self.v[key])), TIMEOUT)
            return int(self.v.get(key, "-1"))


def paho(cid, clean=True):
    c = mqtt.Client(client_id=cid, clean_session=clean)
    ev = threading.Event()
    c.on_connect = lambda *a: ev.set()
    c.connect("127.0.0.1", PORT, 30)
    c.loop_start()
    assert ev.wait(TIMEOUT), "no CONNACK for " + cid
    return c


def subscribe(c, topic):
    ev = threading.Event()
    c.on_subscribe = lambda *a: ev.set()
    c.subscribe(topic, 1)
    assert ev.wait(TIMEOUT), "no SUBACK"


def publish_all(c, topic, n):
    """Publishes n QoS 1 messages; returns a function giving the PUBACK count."""
    acked = [0]
    lock = threading.Lock()

    def on_pub(*a):
        with lock:
            acked[0] += 1

    c.on_publish = on_pub
    c.max_inflight_messages_set(64)
    c.max_queued_messages_set(0)
    for i in range(n):
        c.publish("%s/%d" % (topic, i), b"m%d" % i, qos=1)
    return lambda: acked[0]


def wait_until(pred):
    for _ in range(TIMEOUT * 20):
        if pred():
            return True
        time.sleep(0.05)
    return False


sysv = Sys()

# 1. Offline persistent session beyond its limit.
s = paho("slow-off", clean=False)
subscribe(s, "off/#")
s.disconnect()
s.loop_stop()
p = paho("slow-pub1")
acked = publish_all(p, "off", 150)
check("150 PUBACKs for the offline session's messages", wait_until(lambda: acked() == 150))
p.disconnect()
p.loop_stop()
got = []
cv = threading.Condition()


def on_off(c, u, m):
    with cv:
        got.append(m.payload)
        cv.notify_all()


s = mqtt.Client(client_id="slow-off", clean_session=False)
s.on_message = on_off
s.connect("127.0.0.1", PORT, 30)
s.loop_start()
with cv:
    cv.wait_for(lambda: len(got) >= 100, TIMEOUT)
# A round trip through the same session proves nothing else is queued.
subscribe(s, "off-barrier")
s.publish("off-barrier", b"end", qos=1)
with cv:
    cv.wait_for(lambda: b"end" in got, TIMEOUT)
s.disconnect()
s.loop_stop()
check("reconnect: exactly the first 100 in order (%d received)" % (len(got) - 1),
      got == [b"m%d" % i for i in range(100)] + [b"end"])
check("$SYS messages/dropped counts the 50 beyond the limit",
      sysv.wait("messages/dropped", lambda v: v >= 50) == 50)

# 2. A live subscriber that stops acknowledging: backpressure, no loss.
raw = socket.create_connection(("127.0.0.1", PORT), timeout=TIMEOUT)
body = struct.pack(">H", 4) + b"MQTT" + bytes([4, 0x02]) + struct.pack(">H", 60)
body += struct.pack(">H", 8) + b"slow-raw"
raw.sendall(bytes([0x10, len(body)]) + body)
assert raw.recv(4) == b"\x20\x02\x00\x00"
body = struct.pack(">H", 1) + struct.pack(">H", 6) + b"live/#" + b"\x01"
raw.sendall(bytes([0x82, len(body)]) + body)
assert raw.recv(5) == b"\x90\x03\x00\x01\x01"
buf = bytearray()


def read_publish():
    """(packet id, payload) of the next PUBLISH from the raw socket."""
    global buf
    while True:
        if len(buf) >= 2:
            n, m, i = 0, 1, 1
            while buf[i] & 0x80:
                n += (buf[i] & 0x7F) * m
                m *= 128
                i += 1
            n += buf[i] * m
            if len(buf) >= i + 1 + n:
                pkt, buf = bytes(buf[:i + 1 + n]), buf[i + 1 + n:]
                assert pkt[0] & 0xF0 == 0x30, pkt
                body = pkt[i + 1:]
                tl = struct.unpack(">H", body[:2])[0]
                pid = struct.unpack(">H", body[2 + tl:4 + tl])[0]
                return pid, body[4 + tl:]
        chunk = raw.recv(65536)
        assert chunk, "subscriber closed"
        buf += chunk


paused0 = sysv.wait("publishers/paused", lambda v: v >= 0)
p = paho("slow-pub2")
acked = publish_all(p, "live", 1000)
held = [read_publish() for _ in range(64)]  # the window (mqtt-max-inflight 64), not acked
check("publisher paused by the silent subscriber ($SYS publishers/paused)",
      sysv.wait("publishers/paused", lambda v: v > paused0) > paused0)
stalled = acked()
check("the publisher's PUBACKs stop while it is paused (%d of 1000)" % stalled, stalled < 1000)
payloads = [x[1] for x in held]
for pid, _ in held:
    raw.sendall(b"\x40\x02" + struct.pack(">H", pid))
while len(payloads) < 1000:
    pid, pl = read_publish()
    payloads.append(pl)
    raw.sendall(b"\x40\x02" + struct.pack(">H", pid))
check("after acknowledging, all 1000 arrive in order", payloads == [b"m%d" % i for i in range(1000)])
check("every PUBACK reached the publisher", wait_until(lambda: acked() == 1000))
check("nothing dropped: messages/dropped still 50",
      sysv.wait("messages/dropped", lambda v: v >= 50) == 50)
raw.close()
p.disconnect()
p.loop_stop()
sys.exit(1 if failures else 0)
