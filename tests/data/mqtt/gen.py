#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Regenerates the malformed MQTT packet fixtures in tests/data/mqtt/ and the
seed corpus of valid packets in tests/fuzz/corpus/mqtt_codec/.

Packets are written here by hand from the MQTT 3.1.1 and 5.0 specifications,
independently of ingest/mqtt/, so the tests check that the C codec agrees
with the spec and not only with itself.

Fixture names say what test_mqtt_codec.c must get back:
    <level>-<dir>-<reason>-<MQ_R_rule>-<what>.bin
level 3/4/5 is the session's protocol level, dir `c` = sent by a client
(decoded by the server) and `s` = sent by the server, reason the MQTT 5
reason code in hex.  The packet is split with mq_split (no size limit) and
decoded with mq_decode; the first failure must be CN_EPROTO with that rule
and reason.  Every MQ_R_* rule except MQ_R_OK and MQ_R_TOO_LARGE (tested in
C with a size limit) needs at least one fixture.

    python3 tests/data/mqtt/gen.py      # from the repository root
"""
import glob
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "fuzz", "corpus", "mqtt_codec")


def vbi(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def s(x):
    """UTF-8 string / binary data: two-byte big-endian length + bytes."""
    if isinstance(x, str):
        x = x.encode()
    return struct.pack(">H", len(x)) + x


def u16(n):
    return struct.pack(">H", n)


def u32(n):
    return struct.pack(">I", n)


def pkt(byte0, body):
    return bytes([byte0]) + vbi(len(body)) + body


def props(*items):
    body = b"".join(items)
    return vbi(len(body)) + body


def p(pid, value):
    return bytes([pid]) + value


def connect(level, flags, cid, rest=b"", pr=None, name="MQTT", keep=60):
    body = s(name) + bytes([level, flags]) + u16(keep)
    if level == 5:
        body += pr if pr is not None else props()
    return pkt(0x10, body + s(cid) + rest)


def pub(flags, topic, pid=None, pr=None, payload=b"", raw_topic=None):
    body = raw_topic if raw_topic is not None else s(topic)
    if pid is not None:
        body += u16(pid)
    if pr is not None:
        body += pr
    return pkt(0x30 | flags, body + payload)


# ------------------------------------------------------------- valid seeds

SEEDS = {
    "v4_connect_min": connect(4, 0x02, "c1"),
    "v4_connect_full": connect(4, 0xEE, "dev-1", s("will/t") + s("bye") + s("user") + s("pw")),
    "v3_connect_mqisdp": connect(3, 0x02, "old", name="MQIsdp"),
    "v5_connect_props": connect(
        5, 0xC2, "c5", s("u") + s("p"),
        pr=props(p(0x11, u32(10)), p(0x21, u16(20)), p(0x22, u16(5)), p(0x27, u32(65536)),
                 p(0x17, b"\x00"), p(0x19, b"\x01"), p(0x26, s("k") + s("v")))),
    "v5_connect_will": connect(
        5, 0x36, "", props(p(0x18, u32(30)), p(0x01, b"\x01"), p(0x02, u32(9)), p(0x03, s("text/plain")),
                           p(0x08, s("resp/t")), p(0x09, s("corr")), p(0x26, s("a") + s("b")))
        + s("will/t") + s("gone")),
    "v5_connect_auth": connect(5, 0x02, "c", pr=props(p(0x15, s("SCRAM")), p(0x16, s("data")))),
    "v4_connack": pkt(0x20, b"\x01\x00"),
    "v4_connack_refused": pkt(0x20, b"\x00\x05"),
    "v5_connack_all": pkt(0x20, b"\x00\x00" + props(
        p(0x11, u32(0)), p(0x12, s("auto-1")), p(0x13, u16(30)), p(0x1A, s("info")), p(0x1C, s("other")),
        p(0x1F, s("ok")), p(0x21, u16(100)), p(0x22, u16(10)), p(0x24, b"\x01"), p(0x25, b"\x01"),
        p(0x27, u32(1 << 20)), p(0x28, b"\x01"), p(0x29, b"\x01"), p(0x2A, b"\x00"),
        p(0x26, s("x") + s("1")), p(0x26, s("x") + s("2")))),
    "v4_publish_qos0": pub(0x00, "sensors/1/temp", payload=b'{"t":21.5}'),
    "v4_publish_qos1_retain": pub(0x03, "a/b", pid=10, payload=b"hi"),
    "v4_publish_qos2_dup": pub(0x0C, "a/b", pid=65535, payload=b""),
    "v5_publish_props": pub(0x02, "t", pid=7, pr=props(
        p(0x01, b"\x01"), p(0x02, u32(60)), p(0x03, s("application/json")), p(0x08, s("reply/to")),
        p(0x09, b"\x00\x01\x02"), p(0x23, u16(3)), p(0x26, s("k") + s("v")), p(0x26, s("k") + s("w"))),
        payload=b"{}"),
    "v5_publish_alias_only": pub(0x00, "", pr=props(p(0x23, u16(1))), payload=b"x"),
    "v5_publish_subids_s2c": pub(0x00, "t", pr=props(p(0x0B, vbi(1)), p(0x0B, vbi(268435455))),
                                 payload=b"y"),
    "v4_puback": pkt(0x40, u16(1)),
    "v4_pubrec": pkt(0x50, u16(2)),
    "v4_pubrel": pkt(0x62, u16(3)),
    "v4_pubcomp": pkt(0x70, u16(4)),
    "v5_puback_reason": pkt(0x40, u16(5) + b"\x10"),
    "v5_pubrec_props": pkt(0x50, u16(6) + b"\x80" + props(p(0x1F, s("no")), p(0x26, s("a") + s("b")))),
    "v5_pubrel_92": pkt(0x62, u16(7) + b"\x92"),
    "v4_subscribe": pkt(0x82, u16(1) + s("a/#") + b"\x01" + s("+/x/+") + b"\x02" + s("$share/g/t") + b"\x00"),
    "v5_subscribe_opts": pkt(0x82, u16(2) + props(p(0x0B, vbi(300)), p(0x26, s("k") + s("v")))
                             + s("a") + b"\x2D" + s("$share/grp/s/#") + b"\x1A"),
    "v4_suback": pkt(0x90, u16(1) + b"\x00\x01\x02\x80"),
    "v5_suback": pkt(0x90, u16(2) + props(p(0x1F, s("partial"))) + b"\x01\x8F\xA2"),
    "v4_unsubscribe": pkt(0xA2, u16(3) + s("a/#") + s("b")),
    "v5_unsubscribe": pkt(0xA2, u16(4) + props(p(0x26, s("k") + s("v"))) + s("a/+")),
    "v4_unsuback": pkt(0xB0, u16(3)),
    "v5_unsuback": pkt(0xB0, u16(4) + props() + b"\x00\x11"),
    "pingreq": pkt(0xC0, b""),
    "pingresp": pkt(0xD0, b""),
    "disconnect": pkt(0xE0, b""),
    "v5_disconnect_props": pkt(0xE0, b"\x8B" + props(p(0x11, u32(3600)), p(0x1C, s("srv2")), p(0x1F, s("bye")))),
    "v5_auth": pkt(0xF0, b"\x18" + props(p(0x15, s("SCRAM")), p(0x16, b"\x01\x02"))),
    "v4_session_stream": connect(4, 0x02, "c") + pkt(0x82, u16(1) + s("t/#") + b"\x01")
    + pub(0x02, "t/1", pid=2, payload=b"v") + pkt(0xC0, b"") + pkt(0xE0, b""),
}

# ------------------------------------------------------------- malformed

C4, C5 = "4-c", "5-c"
BAD = [
    # framing
    (C4, 0x81, "MQ_R_VARINT_LONG", "remaining_5_bytes", b"\x30\xff\xff\xff\xff\x7f"),
    (C4, 0x81, "MQ_R_VARINT_NONCANON", "remaining_80_00", b"\x30\x80\x00"),
    (C5, 0x81, "MQ_R_VARINT_NONCANON", "proplen_80_00", pub(0, "t", raw_topic=s("t") + b"\x80\x00")),
    (C5, 0x81, "MQ_R_VARINT_LONG", "subid_5_bytes", pkt(0x82, u16(1) + b"\x06\x0b\xff\xff\xff\xff\x7f" + s("a") + b"\x00")),
    # fixed header
    (C4, 0x81, "MQ_R_TYPE", "type0", b"\x00\x00"),
    (C4, 0x81, "MQ_R_TYPE", "auth_in_311", b"\xf0\x00"),
    (C4, 0x81, "MQ_R_FLAGS", "puback_flags", pkt(0x41, u16(1))),
    (C4, 0x81, "MQ_R_FLAGS", "pubrel_0000", pkt(0x60, u16(1))),
    (C4, 0x81, "MQ_R_FLAGS", "subscribe_0000", pkt(0x80, u16(1) + s("a") + b"\x00")),
    (C4, 0x81, "MQ_R_FLAGS", "unsubscribe_0000", pkt(0xA0, u16(1) + s("a"))),
    (C4, 0x81, "MQ_R_FLAGS", "pingreq_flags", b"\xc1\x00"),
    (C4, 0x81, "MQ_R_FLAGS", "disconnect_flags", b"\xe8\x00"),
    (C4, 0x81, "MQ_R_FLAGS", "connect_flags", b"\x11" + connect(4, 2, "c")[1:]),
    (C4, 0x81, "MQ_R_QOS3", "publish_qos3", pub(0x06, "t", pid=1)),
    (C4, 0x81, "MQ_R_DUP_QOS0", "publish_dup_qos0", pub(0x08, "t")),
    (C4, 0x82, "MQ_R_DIRECTION", "connack_from_client", pkt(0x20, b"\x00\x00")),
    ("4-s", 0x82, "MQ_R_DIRECTION", "subscribe_from_server", pkt(0x82, u16(1) + s("a") + b"\x00")),
    ("4-s", 0x82, "MQ_R_DIRECTION", "connect_from_server", connect(4, 2, "c")),
    (C4, 0x82, "MQ_R_DIRECTION", "pingresp_from_client", b"\xd0\x00"),
    # structure
    (C4, 0x81, "MQ_R_TRUNC", "topic_overrun", pkt(0x30, b"\x00\x05ab")),
    (C4, 0x81, "MQ_R_TRUNC", "puback_short", pkt(0x40, b"\x01")),
    (C5, 0x81, "MQ_R_TRUNC", "proplen_overrun", pub(0, "t", raw_topic=s("t") + b"\x05\x01")),
    (C4, 0x81, "MQ_R_TRUNC", "connect_no_password", connect(4, 0xC2, "c", s("u"))),
    (C4, 0x81, "MQ_R_TRAILING", "puback_extra", pkt(0x40, u16(1) + b"\x00")),
    (C4, 0x81, "MQ_R_TRAILING", "pingreq_body", pkt(0xC0, b"\x00")),
    (C4, 0x81, "MQ_R_TRAILING", "connect_extra", connect(4, 0x02, "c", b"\x00")),
    ("4-s", 0x81, "MQ_R_TRAILING", "unsuback_311_codes", b"\xb0\x03\x00\x01\x00"),
    (C4, 0x81, "MQ_R_TRAILING", "disconnect_311_reason", b"\xe0\x01\x00"),
    (C4, 0x81, "MQ_R_UTF8", "overlong_c0_80", pub(0, None, raw_topic=s(b"\xc0\x80"))),
    (C4, 0x81, "MQ_R_UTF8", "surrogate_d800", pub(0, None, raw_topic=s(b"a\xed\xa0\x80"))),
    (C4, 0x81, "MQ_R_UTF8", "above_10ffff", pub(0, None, raw_topic=s(b"\xf4\x90\x80\x80"))),
    (C4, 0x81, "MQ_R_UTF8", "lone_continuation", pub(0, None, raw_topic=s(b"ab\x80"))),
    (C4, 0x81, "MQ_R_UTF8", "truncated_sequence", pub(0, None, raw_topic=s(b"\xe2\x82"))),
    (C4, 0x81, "MQ_R_UTF8", "client_id_ff", connect(4, 0x02, b"\xff")),
    (C5, 0x81, "MQ_R_UTF8", "user_property_value", pub(0, "t", pr=props(p(0x26, s("k") + s(b"\xc1\xbf"))))),
    (C4, 0x81, "MQ_R_UTF8_NUL", "topic_nul", pub(0, None, raw_topic=s(b"a\x00b"))),
    (C4, 0x81, "MQ_R_UTF8_NUL", "filter_nul", pkt(0x82, u16(1) + s(b"a/\x00") + b"\x00")),
    (C4, 0x82, "MQ_R_PKTID_ZERO", "publish_qos1", pub(0x02, "t", pid=0)),
    (C4, 0x82, "MQ_R_PKTID_ZERO", "puback", pkt(0x40, u16(0))),
    (C4, 0x82, "MQ_R_PKTID_ZERO", "pubrel", pkt(0x62, u16(0))),
    (C4, 0x82, "MQ_R_PKTID_ZERO", "subscribe", pkt(0x82, u16(0) + s("a") + b"\x00")),
    (C4, 0x82, "MQ_R_PKTID_ZERO", "unsubscribe", pkt(0xA2, u16(0) + s("a"))),
    (C5, 0x82, "MQ_R_REASON", "puback_05", pkt(0x40, u16(1) + b"\x05")),
    (C5, 0x82, "MQ_R_REASON", "pubrel_10", pkt(0x62, u16(1) + b"\x10")),
    (C5, 0x82, "MQ_R_REASON", "disconnect_01", pkt(0xE0, b"\x01")),
    (C5, 0x82, "MQ_R_REASON", "auth_87", pkt(0xF0, b"\x87\x00")),
    ("4-s", 0x82, "MQ_R_REASON", "connack_311_rc6", pkt(0x20, b"\x00\x06")),
    ("4-s", 0x82, "MQ_R_REASON", "suback_311_03", pkt(0x90, u16(1) + b"\x03")),
    ("5-s", 0x82, "MQ_R_REASON", "unsuback_03", pkt(0xB0, u16(1) + b"\x00\x03")),
    ("4-s", 0x81, "MQ_R_CONNACK_FLAGS", "bit1", pkt(0x20, b"\x02\x00")),
    ("4-s", 0x82, "MQ_R_CONNACK_SP", "sp_with_rc5", pkt(0x20, b"\x01\x05")),
    ("5-s", 0x82, "MQ_R_CONNACK_SP", "sp_with_87", pkt(0x20, b"\x01\x87\x00")),
    # properties
    (C5, 0x81, "MQ_R_PROP_ID", "unknown_05", pub(0, "t", pr=props(p(0x05, b"\x00")))),
    (C5, 0x81, "MQ_R_PROP_ID", "session_expiry_in_publish", pub(0, "t", pr=props(p(0x11, u32(1))))),
    (C5, 0x81, "MQ_R_PROP_ID", "will_delay_in_connect", connect(5, 2, "c", pr=props(p(0x18, u32(1))))),
    (C5, 0x81, "MQ_R_PROP_ID", "topic_alias_in_will", connect(5, 0x06, "c", props(p(0x23, u16(1))) + s("w") + s(""))),
    ("5-s", 0x81, "MQ_R_PROP_ID", "sub_id_in_connack", pkt(0x20, b"\x00\x00" + props(p(0x0B, vbi(1))))),
    (C5, 0x81, "MQ_R_PROP_ID", "reason_string_in_subscribe", pkt(0x82, u16(1) + props(p(0x1F, s("x"))) + s("a") + b"\x00")),
    (C5, 0x82, "MQ_R_PROP_DUP", "message_expiry_twice", pub(0, "t", pr=props(p(0x02, u32(1)), p(0x02, u32(2))))),
    (C5, 0x82, "MQ_R_PROP_DUP", "sub_id_twice_in_subscribe", pkt(0x82, u16(1) + props(p(0x0B, b"\x01"), p(0x0B, b"\x02")) + s("a") + b"\x00")),
    (C5, 0x82, "MQ_R_PROP_DUP", "receive_max_twice", connect(5, 2, "c", pr=props(p(0x21, u16(1)), p(0x21, u16(1))))),
    (C5, 0x82, "MQ_R_PROP_VALUE", "payload_format_2", pub(0, "t", pr=props(p(0x01, b"\x02")))),
    (C5, 0x82, "MQ_R_PROP_VALUE", "receive_max_0", connect(5, 2, "c", pr=props(p(0x21, u16(0))))),
    (C5, 0x82, "MQ_R_PROP_VALUE", "max_packet_0", connect(5, 2, "c", pr=props(p(0x27, u32(0))))),
    (C5, 0x82, "MQ_R_PROP_VALUE", "request_problem_2", connect(5, 2, "c", pr=props(p(0x17, b"\x02")))),
    (C5, 0x82, "MQ_R_PROP_VALUE", "sub_id_0", pkt(0x82, u16(1) + props(p(0x0B, b"\x00")) + s("a") + b"\x00")),
    ("5-s", 0x82, "MQ_R_PROP_VALUE", "max_qos_2", pkt(0x20, b"\x00\x00" + props(p(0x24, b"\x02")))),
    (C5, 0x94, "MQ_R_TOPIC_ALIAS_ZERO", "alias_0", pub(0, "t", pr=props(p(0x23, u16(0))))),
    (C5, 0x82, "MQ_R_PUB_SUBID", "sub_id_from_client", pub(0, "t", pr=props(p(0x0B, b"\x01")))),
    (C5, 0x82, "MQ_R_AUTH_DATA", "connect_data_no_method", connect(5, 2, "c", pr=props(p(0x16, s("x"))))),
    (C5, 0x82, "MQ_R_AUTH_DATA", "auth_data_no_method", pkt(0xF0, b"\x18" + props(p(0x16, s("x"))))),
    # CONNECT
    (C4, 0x84, "MQ_R_PROTO_NAME", "name_MQTX", connect(4, 2, "c", name="MQTX")),
    (C4, 0x84, "MQ_R_PROTO_NAME", "name_mqtt_lower", connect(4, 2, "c", name="mqtt")),
    (C4, 0x84, "MQ_R_PROTO_LEVEL", "mqtt_level3", connect(3, 2, "c")),
    (C4, 0x84, "MQ_R_PROTO_LEVEL", "mqtt_level6", connect(6, 2, "c")),
    (C4, 0x84, "MQ_R_PROTO_LEVEL", "mqisdp_level4", connect(4, 2, "c", name="MQIsdp")),
    (C4, 0x81, "MQ_R_CONNECT_RESERVED", "flags_03", connect(4, 0x03, "c")),
    (C4, 0x81, "MQ_R_WILL_FLAGS", "will_qos_without_will", connect(4, 0x0A, "c")),
    (C5, 0x81, "MQ_R_WILL_FLAGS", "will_retain_without_will", connect(5, 0x22, "c")),
    (C4, 0x81, "MQ_R_WILL_QOS3", "will_qos3", connect(4, 0x1E, "c", s("w") + s("x"))),
    (C4, 0x81, "MQ_R_PASSWORD_NO_USER", "v311", connect(4, 0x42, "c", s("pw"))),
    ("3-c", 0x81, "MQ_R_PASSWORD_NO_USER", "v31", connect(3, 0x42, "c", s("pw"), name="MQIsdp")),
    (C4, 0x85, "MQ_R_CLIENT_ID_EMPTY", "v311_persistent", connect(4, 0x00, "")),
    (C4, 0x90, "MQ_R_WILL_TOPIC", "wildcard", connect(4, 0x06, "c", s("a/#") + s("x"))),
    (C5, 0x90, "MQ_R_WILL_TOPIC", "empty", connect(5, 0x06, "c", props() + s("") + s("x"))),
    # PUBLISH topics
    (C4, 0x82, "MQ_R_TOPIC_EMPTY", "v311", pub(0, "")),
    (C5, 0x82, "MQ_R_TOPIC_EMPTY", "v5_no_alias", pub(0, "", pr=props())),
    (C4, 0x90, "MQ_R_TOPIC_WILDCARD", "plus", pub(0, "a/+")),
    (C4, 0x90, "MQ_R_TOPIC_WILDCARD", "hash", pub(0, "#")),
    (C5, 0x90, "MQ_R_TOPIC_WILDCARD", "response_topic", pub(0, "t", pr=props(p(0x08, s("r/#"))))),
    # SUBSCRIBE / UNSUBSCRIBE / SUBACK
    (C4, 0x82, "MQ_R_NO_FILTERS", "subscribe", pkt(0x82, u16(1))),
    (C5, 0x82, "MQ_R_NO_FILTERS", "subscribe_props_only", pkt(0x82, u16(1) + props())),
    (C4, 0x82, "MQ_R_NO_FILTERS", "unsubscribe", pkt(0xA2, u16(1))),
    ("4-s", 0x82, "MQ_R_NO_FILTERS", "suback", pkt(0x90, u16(1))),
    ("5-s", 0x82, "MQ_R_NO_FILTERS", "unsuback", pkt(0xB0, u16(1) + props())),
    (C4, 0x81, "MQ_R_SUBOPT_RESERVED", "v311_bit2", pkt(0x82, u16(1) + s("a") + b"\x04")),
    (C5, 0x81, "MQ_R_SUBOPT_RESERVED", "v5_bit6", pkt(0x82, u16(1) + props() + s("a") + b"\x40")),
    (C4, 0x81, "MQ_R_QOS3", "subscribe_qos3", pkt(0x82, u16(1) + s("a") + b"\x03")),
    (C5, 0x82, "MQ_R_RETAIN_HANDLING", "rh3", pkt(0x82, u16(1) + props() + s("a") + b"\x30")),
    (C4, 0x8F, "MQ_R_FILTER", "empty", pkt(0x82, u16(1) + s("") + b"\x00")),
    (C4, 0x8F, "MQ_R_FILTER", "plus_in_level", pkt(0x82, u16(1) + s("a+") + b"\x00")),
    (C4, 0x8F, "MQ_R_FILTER", "hash_not_last", pkt(0x82, u16(1) + s("#/a") + b"\x00")),
    (C4, 0x8F, "MQ_R_FILTER", "hash_in_level", pkt(0x82, u16(1) + s("a/b#") + b"\x00")),
    (C4, 0x8F, "MQ_R_FILTER", "unsubscribe_bad", pkt(0xA2, u16(1) + s("a/#/b"))),
    (C4, 0x8F, "MQ_R_FILTER", "share_empty_filter", pkt(0x82, u16(1) + s("$share/g/") + b"\x00")),
    (C4, 0x8F, "MQ_R_SHARE", "empty_group", pkt(0x82, u16(1) + s("$share//a") + b"\x00")),
    (C4, 0x8F, "MQ_R_SHARE", "wildcard_group", pkt(0x82, u16(1) + s("$share/g+/a") + b"\x00")),
    (C4, 0x8F, "MQ_R_SHARE", "no_filter", pkt(0x82, u16(1) + s("$share/g") + b"\x00")),
    (C5, 0x82, "MQ_R_SHARE_NOLOCAL", "no_local", pkt(0x82, u16(1) + props() + s("$share/g/a") + b"\x04")),
]


def main():
    for old in glob.glob(os.path.join(HERE, "*.bin")):
        os.remove(old)
    seen = set()
    for where, reason, rule, what, data in BAD:
        name = "%s-%02x-%s-%s.bin" % (where, reason, rule, what)
        assert name not in seen, name
        seen.add(name)
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
    os.makedirs(CORPUS, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(CORPUS, "seed_" + name), "wb") as f:
            f.write(data)
    print("%d fixtures, %d seeds" % (len(BAD), len(SEEDS)))


if __name__ == "__main__":
    main()
