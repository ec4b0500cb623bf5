#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""cairn's broker through Eclipse Paho (python3-paho-mqtt, Debian's 1.6),
once as MQTT 3.1.1 and once as MQTT 5: connect, subscribe with a wildcard,
QoS 0/1/2 round trips in order, retained message on subscribe, unsubscribe
(no more messages after UNSUBACK), and for 5.0 the properties a v5
application relies on (user properties, response topic + correlation data
for request/response, content type, subscription identifier, no-local).

usage: mqtt_paho.py PORT        prints one line per check, exit 1 on failure
"""
import sys
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

PORT = int(sys.argv[1])
TIMEOUT = 10


class Client:
    def __init__(self, cid, v5):
        self.v5 = v5
        proto = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
        self.c = mqtt.Client(client_id=cid, protocol=proto)
        self.msgs = []
        self.cv = threading.Condition()
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_ack
        self.c.on_unsubscribe = self._on_ack
        self.acks = 0
        self.c.connect("127.0.0.1", PORT, 30)
        self.c.loop_start()

    def _on_message(self, c, u, m):
        with self.cv:
            self.msgs.append(m)
            self.cv.notify_all()

    def _on_ack(self, *a):
        with self.cv:
            self.acks += 1
            self.cv.notify_all()

    def wait(self, pred):
        with self.cv:
            if not self.cv.wait_for(pred, TIMEOUT):
                raise AssertionError("timed out")

    def subscribe(self, topic, qos, props=None, **kw):
        n = self.acks
        if self.v5:
            opts = mqtt.SubscribeOptions(qos=qos, **kw)
            self.c.subscribe(topic, options=opts, properties=props)
        else:
            self.c.subscribe(topic, qos)
        self.wait(lambda: self.acks > n)

    def unsubscribe(self, topic):
        n = self.acks
        self.c.unsubscribe(topic)
        self.wait(lambda: self.acks > n)

    def stop(self):
        self.c.disconnect()
        self.c.loop_stop()


failures = 0


def check(name, cond):
    global failures
    print(("ok   " if cond else "FAIL ") + name)
    failures += 0 if cond else 1


def run(v5):
    tag = "v5" if v5 else "v311"
    pub = Client("paho-pub-" + tag, v5)
    pub.c.publish("paho/%s/ret" % tag, b"kept", qos=1, retain=True).wait_for_publish()
    sub = Client("paho-sub-" + tag, v5)
    sub.subscribe("paho/%s/#" % tag, 2)
    sub.wait(lambda: len(sub.msgs) >= 1)
    m = sub.msgs[0]
    check(tag + " retained on subscribe", m.topic == "paho/%s/ret" % tag and m.retain)
    for q in (0, 1, 2):
        pub.c.publish("paho/%s/q%d" % (tag, q), b"m%d" % q, qos=q).wait_for_publish()
    sub.wait(lambda: len(sub.msgs) >= 4)
    got = [(x.topic, x.payload, x.qos) for x in sub.msgs[1:4]]
    want = [("paho/%s/q%d" % (tag, q), b"m%d" % q, q) for q in (0, 1, 2)]
    check(tag + " QoS 0/1/2 in order " + str(got), got == want)
    if v5:
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [("a", "1"), ("b", "2")]
        props.ResponseTopic = "paho/v5/reply"
        props.CorrelationData = b"\x01\x02"
        props.ContentType = "application/json"
        pub.c.publish("paho/v5/req", b"{}", qos=1, properties=props).wait_for_publish()
        sub.wait(lambda: len(sub.msgs) >= 5)
        p = sub.msgs[4].properties
        check("v5 user properties in order", getattr(p, "UserProperty", None) == [("a", "1"), ("b", "2")])
        check("v5 response topic, correlation data, content type",
              p.ResponseTopic == "paho/v5/reply" and p.CorrelationData == b"\x01\x02"
              and p.ContentType == "application/json")
        sp = Properties(PacketTypes.SUBSCRIBE)
        sp.SubscriptionIdentifier = 42
        nl = Client("paho-nl-v5", True)
        nl.subscribe("paho/v5/nl", 1, props=sp, noLocal=True)
        nl.c.publish("paho/v5/nl", b"own", qos=1).wait_for_publish()
        pub.c.publish("paho/v5/nl", b"other", qos=1).wait_for_publish()
        nl.wait(lambda: len(nl.msgs) >= 1)
        m = nl.msgs[0]
        check("v5 no-local skips the client's own message, subscription id 42",
              m.payload == b"other" and getattr(m.properties, "SubscriptionIdentifier", None) == [42])
        nl.stop()
    sub.unsubscribe("paho/%s/#" % tag)
    n = len(sub.msgs)
    pub.c.publish("paho/%s/after" % tag, b"x", qos=1).wait_for_publish()
    # A round trip after the publish: PINGREQ-free barrier through a second subscription.
    sub.subscribe("paho/%s/barrier" % tag, 1)
    pub.c.publish("paho/%s/barrier" % tag, b"b", qos=1).wait_for_publish()
    sub.wait(lambda: any(x.topic.endswith("/barrier") for x in sub.msgs[n:]))
    check(tag + " nothing after UNSUBSCRIBE", [x.topic for x in sub.msgs[n:]] == ["paho/%s/barrier" % tag])
    pub.c.publish("paho/%s/ret" % tag, b"", qos=1, retain=True).wait_for_publish()
    sub.stop()
    pub.stop()


run(False)
run(True)
sys.exit(1 if failures else 0)
