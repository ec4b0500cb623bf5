#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""mqtt_pub_workload.py PORT FILE [--client-id ID] [--acked OUT] [--window N]

Publishes every line of FILE (cairn-gen --format json: topic TAB payload) at
QoS 1 with python3-paho-mqtt (MQTT 3.1.1, clean_session=False so unacked
messages are resent with their packet ids after a reconnect), at most
--window (default 64) in flight, and waits until every message got its
PUBACK.  Reconnects by itself when the server goes away (SIGKILL tests).
With --acked, appends the index of each acknowledged line to OUT as it is
acknowledged, so a test killing the server knows what was acknowledged.
Exits 0 when all are acknowledged, 1 on timeout (120 s without progress).
"""
import argparse
import sys
import threading
import time

import paho.mqtt.client as mqtt

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("file")
ap.add_argument("--client-id", default="workload-pub")
ap.add_argument("--acked")
ap.add_argument("--window", type=int, default=64)
a = ap.parse_args()

msgs = [l.rstrip("\n").split("\t", 1) for l in open(a.file, encoding="utf-8")]
acked_out = open(a.acked, "a", buffering=1) if a.acked else None
cv = threading.Condition()
state = {"acked": 0, "mid2idx": {}, "early": set(), "progress": time.monotonic()}


def ack(idx):
    state["acked"] += 1
    state["progress"] = time.monotonic()
    if acked_out:
        acked_out.write("%d\n" % idx)


def on_publish(client, userdata, mid):
    # Runs on paho's network thread.  The PUBACK may come before publish()
    # returned the mid to the main thread: then remember it in "early".
    with cv:
        idx = state["mid2idx"].pop(mid, None)
        if idx is None:
            state["early"].add(mid)
        else:
            ack(idx)
        cv.notify_all()


c = mqtt.Client(client_id=a.client_id, clean_session=False, protocol=mqtt.MQTTv311)
c.max_inflight_messages_set(a.window)
c.max_queued_messages_set(0)
c.reconnect_delay_set(min_delay=1, max_delay=2)
c.on_publish = on_publish
c.connect("127.0.0.1", a.port, keepalive=30)
c.loop_start()
for i, (topic, payload) in enumerate(msgs):
    with cv:
        # Keep the client's own queue short: wait while many are unacked.
        while len(state["mid2idx"]) >= a.window * 4:
            if time.monotonic() - state["progress"] > 120:
                print("FAIL: no PUBACK for 120 s", file=sys.stderr)
                sys.exit(1)
            cv.wait(1)
    # Not under cv: publish() takes paho's locks, which its network thread
    # holds while it runs on_publish (that would deadlock).
    info = c.publish(topic, payload, qos=1)
    with cv:
        if info.mid in state["early"]:
            state["early"].discard(info.mid)
            ack(i)
        else:
            state["mid2idx"][info.mid] = i
with cv:
    while state["acked"] < len(msgs):
        if time.monotonic() - state["progress"] > 120:
            print("FAIL: %d of %d acknowledged, no progress for 120 s"
                  % (state["acked"], len(msgs)), file=sys.stderr)
            sys.exit(1)
        cv.wait(1)
c.disconnect()
c.loop_stop()
print("%d messages acknowledged" % len(msgs))
