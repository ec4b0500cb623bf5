#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Acknowledged means stored, for messages queued for offline sessions
(paho, python3-paho-mqtt).  Three phases, run by test_mqtt_durable.sh:

  mqtt_durable.py PORT subscribe
      persistent sessions dur-a, dur-b, dur-c (3.1.1 clean_session=False,
      and one MQTT 5 with session expiry 3600 s) subscribe to dur/# at
      QoS 1 and disconnect: from now on cairn queues for them.
  mqtt_durable.py PORT publish N SERVER_PID
      publishes N QoS 1 messages to dur/<i> and a retained QoS 1 message
      to ret/dur; the moment the last PUBACK arrives it SIGKILLs the
      server (pid SERVER_PID) itself, so nothing after the acknowledgements
      gets a chance to run.
  mqtt_durable.py PORT receive N
      reconnects every session (clean_session=False) and expects every
      acknowledged message, each session all N payloads (at least once,
      QoS 1), plus the retained message on a fresh subscription.
Prints one line per check; exit 1 on failure.
"""
import os
import signal
import sys
import threading

import paho.mqtt.client as mqtt

PORT = int(sys.argv[1])
PHASE = sys.argv[2]
TIMEOUT = 30
SESSIONS = [("dur-a", False), ("dur-b", True), ("dur-c", False)]


def connect(cid, v5, on_message=None):
    if v5:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties
        c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv5)
        p = Properties(PacketTypes.CONNECT)
        p.SessionExpiryInterval = 3600
        kw = {"clean_start": False, "properties": p}
    else:
        c = mqtt.Client(client_id=cid, clean_session=False, protocol=mqtt.MQTTv311)
        kw = {}
    done = threading.Event()
    c.on_connect = lambda *a: done.set()
    if on_message:
        c.on_message = on_message
    c.connect("127.0.0.1", PORT, 30, **kw)
    c.loop_start()
    if not done.wait(TIMEOUT):
        raise SystemExit("FAIL %s: no CONNACK" % cid)
    return c


def subscribe(c, topic):
    done = threading.Event()
    c.on_subscribe = lambda *a: done.set()
    c.subscribe(topic, 1)
    if not done.wait(TIMEOUT):
        raise SystemExit("FAIL no SUBACK for " + topic)


def stop(c):
    c.disconnect()
    c.loop_stop()


if PHASE == "subscribe":
    for cid, v5 in SESSIONS:
        c = connect(cid, v5)
        subscribe(c, "dur/#")
        stop(c)
    print("ok   sessions subscribed and offline")
elif PHASE == "publish":
    n, server = int(sys.argv[3]), int(sys.argv[4])
    acked = set()
    lock = threading.Lock()
    all_acked = threading.Event()

    def on_publish(c, u, mid):
        with lock:
            acked.add(mid)
            if len(acked) == n + 1:
                os.kill(server, signal.SIGKILL)  # right after the last PUBACK
                all_acked.set()

    c = mqtt.Client(client_id="dur-pub", protocol=mqtt.MQTTv311)
    c.max_inflight_messages_set(64)
    c.max_queued_messages_set(0)
    c.on_publish = on_publish
    c.connect("127.0.0.1", PORT, 30)
    c.loop_start()
    for i in range(n):
        c.publish("dur/%d" % i, b"m%d" % i, qos=1)
    c.publish("ret/dur", b"kept", qos=1, retain=True)
    if not all_acked.wait(TIMEOUT):
        raise SystemExit("FAIL only %d of %d PUBACKs" % (len(acked), n + 1))
    c.loop_stop()
    print("ok   %d PUBACKs, server killed at once" % (n + 1))
elif PHASE == "receive":
    n = int(sys.argv[3])
    want = {b"m%d" % i for i in range(n)}
    failures = 0
    for cid, v5 in SESSIONS:
        got = set()
        cv = threading.Condition()

        def on_message(c, u, m, got=got, cv=cv):
            with cv:
                if m.topic.startswith("dur/"):
                    got.add(m.payload)
                cv.notify_all()

        c = connect(cid, v5, on_message)
        with cv:
            cv.wait_for(lambda: got >= want, TIMEOUT)
        stop(c)
        ok = got == want
        failures += 0 if ok else 1
        print("%s %s received %d of %d acknowledged messages%s" % (
            "ok  " if ok else "FAIL", cid, len(got & want), n,
            "" if ok else "; missing e.g. %s" % sorted(want - got)[:5]))
    got = []
    ev = threading.Event()

    def on_ret(c, u, m):
        got.append((m.topic, m.payload, m.retain))
        ev.set()

    c = connect("dur-ret", False, on_ret)
    subscribe(c, "ret/dur")
    ev.wait(TIMEOUT)
    stop(c)
    ok = got[:1] == [("ret/dur", b"kept", True)]
    failures += 0 if ok else 1
    print("%s retained message acknowledged before the kill: %s" % ("ok  " if ok else "FAIL", got))
    sys.exit(1 if failures else 0)
else:
    raise SystemExit("usage: mqtt_durable.py PORT subscribe|publish N PID|receive N")
