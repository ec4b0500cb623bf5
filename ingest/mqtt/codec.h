/* SPDX-License-Identifier: MIT */
/*
 * codec.h - the MQTT packet codec: a streaming frame splitter, decoders for
 * every control packet of MQTT 3.1, 3.1.1 and 5.0 into plain structs that
 * borrow the input bytes, encoders that append to a cn_buf_t, and the topic
 * name / filter / shared-subscription checks.  It holds no state and does
 * no I/O: the session layer owns sockets, packet ids, aliases and timers.
 *
 * NOTES
 *  1. Borrowing.  Every mq_bin_t, every `raw` block and every iterator of a
 *     decoded packet points into the frame that was decoded.  They stay
 *     valid until those input bytes are freed, moved or overwritten (for a
 *     socket read buffer: until the caller consumes mq_frame_t.total bytes
 *     and compacts or refills the buffer).  Whoever keeps a PUBLISH longer
 *     copies the frame and calls mq_publish_rebase().  Decoders never
 *     allocate.
 *  2. Errors.  Functions return 0 (or a count), or a negative cn_err.  A
 *     protocol violation is CN_EPROTO, except a frame over the configured
 *     maximum size which is CN_ELIMIT; both fill an mq_err_t with the rule
 *     that was broken (MQ_R_*, one per spec rule, stable for tests and
 *     logs) and the MQTT 5 reason code the session layer should send in its
 *     CONNACK (before a session exists) or DISCONNECT (after), then close.
 *     For 3.1.1 clients there is no DISCONNECT: close, except the CONNACK
 *     cases of mq_v3_connack_rc().  Bad arguments to encoders are CN_EINVAL
 *     (string over 65535 bytes, packet over 268,435,455 bytes).
 *  3. Protocol levels.  `level` is the CONNECT protocol level: 3 (MQTT 3.1,
 *     "MQIsdp"), 4 (3.1.1) or 5 (5.0).  Level 3 is accepted, as mosquitto
 *     does, and from then on handled exactly as 3.1.1 (the wire format of
 *     the other packets is the same); only CONNECT differs (its protocol
 *     name, and the 3.1.1 rules it shares: password needs a username, empty
 *     client id needs clean session).  Properties exist only at level 5;
 *     at 3/4 the props members are zero on decode and ignored on encode.
 *  4. Strictness.  The decoders check every MUST a codec can see without
 *     session state: fixed-header flags, QoS 3, DUP on QoS 0, packet id 0,
 *     UTF-8 well-formedness (no U+0000, no surrogates, no overlongs),
 *     canonical variable byte integers, exact remaining length, CONNECT
 *     flags, property ids per packet type and duplicates, property values
 *     (booleans 0/1, Receive Maximum and Maximum Packet Size non-zero,
 *     Subscription Identifier 1..268,435,455, Topic Alias non-zero), reason
 *     codes valid for the packet, topic names and filters (wildcards), and
 *     which side may send which packet.  Left to the session layer: the
 *     first packet must be CONNECT, Topic Alias above the negotiated
 *     maximum, Receive Maximum overrun, Session Expiry 0->non-0 on
 *     DISCONNECT, client id length/charset policy, authentication flow.
 *  5. Canonical encoding.  Encoders write properties in id order with user
 *     properties last (their relative order kept) and drop optional fields
 *     the spec allows to omit (an ack with reason 0 and no properties is 2
 *     bytes; DISCONNECT/AUTH with reason 0 and no properties are empty), so
 *     decode -> encode -> decode gives an equal packet (mq_pkt_eq).
 */
#ifndef MQ_CODEC_H
#define MQ_CODEC_H

#include "base/base.h"

/* ---------------------------------------------------------- constants */

enum mq_type {
    MQ_CONNECT = 1,
    MQ_CONNACK = 2,
    MQ_PUBLISH = 3,
    MQ_PUBACK = 4,
    MQ_PUBREC = 5,
    MQ_PUBREL = 6,
    MQ_PUBCOMP = 7,
    MQ_SUBSCRIBE = 8,
    MQ_SUBACK = 9,
    MQ_UNSUBSCRIBE = 10,
    MQ_UNSUBACK = 11,
    MQ_PINGREQ = 12,
    MQ_PINGRESP = 13,
    MQ_DISCONNECT = 14,
    MQ_AUTH = 15, /* level 5 only */
};

/* Which side sent the bytes being decoded: the server decodes
 * MQ_FROM_CLIENT, a client (bench tool, tests) MQ_FROM_SERVER. */
enum mq_dir { MQ_FROM_CLIENT = 1, MQ_FROM_SERVER = 2 };

#define MQ_MAX_REMAINING 268435455u /* 0xFF,0xFF,0xFF,0x7F */
#define MQ_MAX_PACKET    (MQ_MAX_REMAINING + 5u)

/* MQTT 5 reason codes the codec reports (the session layer uses more). */
enum mq_reason {
    MQ_RC_SUCCESS = 0x00,
    MQ_RC_UNSPECIFIED = 0x80,
    MQ_RC_MALFORMED = 0x81,
    MQ_RC_PROTOCOL = 0x82,
    MQ_RC_UNSUPPORTED_VERSION = 0x84,
    MQ_RC_CLIENT_ID_INVALID = 0x85,
    MQ_RC_FILTER_INVALID = 0x8F,
    MQ_RC_TOPIC_INVALID = 0x90,
    MQ_RC_TOPIC_ALIAS_INVALID = 0x94,
    MQ_RC_PACKET_TOO_LARGE = 0x95,
};

/*
 * The broken rule.  X(name, v5 reason code, spec reference / meaning).
 * Values are stable (they appear in logs and tests).
 */
#define MQ_RULES(X)                                                                                \
    X(MQ_R_OK, 0x00, "no error")                                                                   \
    X(MQ_R_VARINT_LONG, 0x81, "variable byte integer longer than 4 bytes [1.5.5]")                 \
    X(MQ_R_VARINT_NONCANON, 0x81, "variable byte integer not minimal [MQTT-1.5.5-1]")              \
    X(MQ_R_TOO_LARGE, 0x95, "packet larger than the maximum packet size")                          \
    X(MQ_R_TYPE, 0x81, "reserved packet type (0, or AUTH below 5.0)")                              \
    X(MQ_R_FLAGS, 0x81, "reserved fixed-header flags [MQTT-2.2.2-2]")                              \
    X(MQ_R_QOS3, 0x81, "QoS 3 [MQTT-3.3.1-4]")                                                     \
    X(MQ_R_DUP_QOS0, 0x81, "DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2]")                            \
    X(MQ_R_DIRECTION, 0x82, "packet not allowed from this side")                                   \
    X(MQ_R_TRUNC, 0x81, "field runs past the remaining length")                                    \
    X(MQ_R_TRAILING, 0x81, "bytes left after the last field")                                      \
    X(MQ_R_UTF8, 0x81, "ill-formed UTF-8 (overlong, surrogate, > U+10FFFF) [MQTT-1.5.4-1]")        \
    X(MQ_R_UTF8_NUL, 0x81, "U+0000 in a UTF-8 string [MQTT-1.5.4-2]")                              \
    X(MQ_R_PKTID_ZERO, 0x82, "packet identifier 0 [MQTT-2.2.1-3]")                                 \
    X(MQ_R_REASON, 0x82, "reason / return code not valid for this packet")                         \
    X(MQ_R_CONNACK_FLAGS, 0x81, "CONNACK acknowledge flags bits 7-1 set [MQTT-3.2.2-1]")           \
    X(MQ_R_CONNACK_SP, 0x82, "session present with a failure code [MQTT-3.2.2-6]")                 \
    X(MQ_R_PROP_ID, 0x81, "property id unknown or not valid for this packet [2.2.2.2]")            \
    X(MQ_R_PROP_DUP, 0x82, "property included more than once")                                     \
    X(MQ_R_PROP_VALUE, 0x82, "property value out of range (0/1 flag, zero maximum)")               \
    X(MQ_R_TOPIC_ALIAS_ZERO, 0x94, "Topic Alias 0 [MQTT-3.3.2-8]")                                 \
    X(MQ_R_PUB_SUBID, 0x82, "Subscription Identifier in a PUBLISH from a client [MQTT-3.3.4-6]")   \
    X(MQ_R_AUTH_DATA, 0x82, "Authentication Data without Authentication Method")                   \
    X(MQ_R_PROTO_NAME, 0x84, "protocol name not MQTT/MQIsdp [MQTT-3.1.2-1]")                       \
    X(MQ_R_PROTO_LEVEL, 0x84, "unsupported protocol level [MQTT-3.1.2-2]")                         \
    X(MQ_R_CONNECT_RESERVED, 0x81, "CONNECT flags reserved bit 0 set [MQTT-3.1.2-3]")              \
    X(MQ_R_WILL_FLAGS, 0x81, "will QoS/retain set without will flag [MQTT-3.1.2-11,13,15]")        \
    X(MQ_R_WILL_QOS3, 0x81, "will QoS 3 [MQTT-3.1.2-14]")                                          \
    X(MQ_R_PASSWORD_NO_USER, 0x81, "password flag without username flag (3.1.1) [MQTT-3.1.2-22]")  \
    X(MQ_R_CLIENT_ID_EMPTY, 0x85, "empty client id without clean session (3.1.1) [MQTT-3.1.3-8]")  \
    X(MQ_R_WILL_TOPIC, 0x90, "will topic empty or with wildcards [MQTT-3.1.3-11]")                 \
    X(MQ_R_TOPIC_EMPTY, 0x82, "PUBLISH topic empty without Topic Alias [MQTT-4.7.3-1]")            \
    X(MQ_R_TOPIC_WILDCARD, 0x90, "wildcard in a PUBLISH topic name [MQTT-3.3.2-2]")                \
    X(MQ_R_NO_FILTERS, 0x82, "SUBSCRIBE/UNSUBSCRIBE/SUBACK without entries [MQTT-3.8.3-3]")        \
    X(MQ_R_SUBOPT_RESERVED, 0x81, "subscription options reserved bits set [MQTT-3.8.3-5]")         \
    X(MQ_R_RETAIN_HANDLING, 0x82, "Retain Handling 3")                                             \
    X(MQ_R_FILTER, 0x8F, "topic filter empty or wildcards not whole levels [4.7.1]")               \
    X(MQ_R_SHARE, 0x8F, "bad $share/<group>/<filter> (empty group, wildcard in group)")            \
    X(MQ_R_SHARE_NOLOCAL, 0x82, "No Local on a shared subscription [MQTT-3.8.3-4]")

enum mq_rule {
#define MQ__RULE_ENUM(name, rc, msg) name,
    MQ_RULES(MQ__RULE_ENUM)
#undef MQ__RULE_ENUM
        MQ_R_COUNT
};

/* Filled on CN_EPROTO / CN_ELIMIT; untouched on success. */
typedef struct mq_err {
    uint8_t rule;   /* enum mq_rule */
    uint8_t reason; /* MQTT 5 reason code for CONNACK / DISCONNECT */
} mq_err_t;

const char *mq_rule_name(int rule); /* "MQ_R_UTF8"; "MQ_R_?" if unknown */
const char *mq_rule_text(int rule); /* the explanation from MQ_RULES */
/*
 * The 3.1.1 CONNACK return code for a CONNACK-time failure, or -1 when a
 * 3.1.1 server just closes: 0x84 -> 1 (unacceptable protocol version),
 * 0x85 -> 2 (identifier rejected), 0x88/0x89 -> 3 (server unavailable),
 * 0x86 -> 4 (bad user name or password), 0x87 -> 5 (not authorized).
 */
int mq_v3_connack_rc(uint8_t v5_reason);

/* ----------------------------------------------------------- framing */

/*
 * One complete packet in the caller's buffer (borrowed, see NOTES 1).
 *   offset 0        byte   type << 4 | flags
 *   offset 1..4     varint Remaining Length, 1-4 bytes, minimal
 *   offset hdr_len  body   `body_len` bytes
 */
typedef struct mq_frame {
    uint8_t type;    /* 0..15, checked by the decoders */
    uint8_t flags;   /* low nibble of byte 0 */
    uint8_t hdr_len; /* 2..5 */
    uint32_t body_len;
    const uint8_t *body;
    size_t total; /* hdr_len + body_len: bytes to consume */
} mq_frame_t;

/*
 * Looks for one packet at the start of p[0..n).  Returns 1 and fills *f
 * when a whole packet is there, 0 when more bytes are needed (nothing
 * filled), CN_EPROTO for a bad Remaining Length (MQ_R_VARINT_LONG,
 * MQ_R_VARINT_NONCANON) or CN_ELIMIT when the packet would exceed
 * max_packet bytes in total (MQ_R_TOO_LARGE, reason 0x95) - reported as
 * soon as the header is readable, before the body arrives.  max_packet 0
 * means the protocol maximum.  Never copies.
 */
int mq_split(const uint8_t *p, size_t n, uint32_t max_packet, mq_frame_t *f /* OUT */,
             mq_err_t *err /* OUT */);

/* Reads a variable byte integer with the MQTT rules (<= 4 bytes, minimal).
 * CN_ETRUNC when the cursor ends first; CN_EPROTO with err filled. */
int mq_rd_varint(cn_rd_t *r, uint32_t *v /* OUT */, mq_err_t *err /* OUT */);
/* Appends v (must be <= MQ_MAX_REMAINING) as a variable byte integer. */
void mq_put_varint(cn_buf_t *b, uint32_t v);
/* Bytes mq_put_varint writes for v: 1..4. */
unsigned mq_varint_len(uint32_t v);

/* ------------------------------------------------------------ values */

/* Borrowed bytes: a UTF-8 string (already validated) or binary data.
 * p may be NULL when len is 0. */
typedef struct mq_bin {
    const uint8_t *p;
    size_t len;
} mq_bin_t;

static inline mq_bin_t mq_str(const char *s)
{
    mq_bin_t b = {(const uint8_t *)s, strlen(s)};
    return b;
}

typedef struct mq_uprop {
    mq_bin_t key, val;
} mq_uprop_t;

/* ------------------------------------------------------- properties */

enum mq_prop_id {
    MQ_P_PAYLOAD_FORMAT = 0x01,     /* byte  PUBLISH, will */
    MQ_P_MESSAGE_EXPIRY = 0x02,     /* u32   PUBLISH, will */
    MQ_P_CONTENT_TYPE = 0x03,       /* utf8  PUBLISH, will */
    MQ_P_RESPONSE_TOPIC = 0x08,     /* utf8  PUBLISH, will */
    MQ_P_CORRELATION_DATA = 0x09,   /* bin   PUBLISH, will */
    MQ_P_SUB_ID = 0x0B,             /* vbi   PUBLISH (repeatable), SUBSCRIBE */
    MQ_P_SESSION_EXPIRY = 0x11,     /* u32   CONNECT, CONNACK, DISCONNECT */
    MQ_P_ASSIGNED_CLIENT_ID = 0x12, /* utf8  CONNACK */
    MQ_P_SERVER_KEEP_ALIVE = 0x13,  /* u16   CONNACK */
    MQ_P_AUTH_METHOD = 0x15,        /* utf8  CONNECT, CONNACK, AUTH */
    MQ_P_AUTH_DATA = 0x16,          /* bin   CONNECT, CONNACK, AUTH */
    MQ_P_REQUEST_PROBLEM = 0x17,    /* byte  CONNECT */
    MQ_P_WILL_DELAY = 0x18,         /* u32   will */
    MQ_P_REQUEST_RESPONSE = 0x19,   /* byte  CONNECT */
    MQ_P_RESPONSE_INFO = 0x1A,      /* utf8  CONNACK */
    MQ_P_SERVER_REF = 0x1C,         /* utf8  CONNACK, DISCONNECT */
    MQ_P_REASON_STRING = 0x1F,      /* utf8  CONNACK, acks, SUBACK, UNSUBACK, DISCONNECT, AUTH */
    MQ_P_RECEIVE_MAX = 0x21,        /* u16   CONNECT, CONNACK */
    MQ_P_TOPIC_ALIAS_MAX = 0x22,    /* u16   CONNECT, CONNACK */
    MQ_P_TOPIC_ALIAS = 0x23,        /* u16   PUBLISH */
    MQ_P_MAX_QOS = 0x24,            /* byte  CONNACK */
    MQ_P_RETAIN_AVAILABLE = 0x25,   /* byte  CONNACK */
    MQ_P_USER = 0x26,               /* pair  all (repeatable, order kept) */
    MQ_P_MAX_PACKET_SIZE = 0x27,    /* u32   CONNECT, CONNACK */
    MQ_P_WILDCARD_AVAILABLE = 0x28, /* byte  CONNACK */
    MQ_P_SUB_ID_AVAILABLE = 0x29,   /* byte  CONNACK */
    MQ_P_SHARED_AVAILABLE = 0x2A,   /* byte  CONNACK */
};
#define MQ_HAS(id) ((uint64_t)1 << (id))

/*
 * The properties of one packet (or of a will).  `has` has bit MQ_HAS(id)
 * for each property present; a member whose bit is clear is zero.
 *
 * Repeated properties: n_user user properties and n_sub_id subscription
 * identifiers (sub_id is the first).  After decode, user and sub_ids are
 * NULL and `raw` borrows the whole property block; iterate with
 * mq_props_user_next / mq_props_sub_id_next.  To encode, either keep a
 * decoded `raw` (forwarding a publisher's user properties unchanged) or
 * point `user` / `sub_ids` at caller arrays (they win over raw).  With
 * neither, a set MQ_P_SUB_ID bit encodes the single sub_id.
 */
typedef struct mq_props {
    uint64_t has;
    uint32_t message_expiry, session_expiry, will_delay, max_packet_size, sub_id;
    uint16_t server_keep_alive, receive_max, topic_alias_max, topic_alias;
    uint8_t payload_format, request_problem, request_response, max_qos;
    uint8_t retain_available, wildcard_available, sub_id_available, shared_available;
    mq_bin_t content_type, response_topic, correlation_data, assigned_client_id;
    mq_bin_t auth_method, auth_data, response_info, server_ref, reason_string;
    uint32_t n_user, n_sub_id;
    const mq_uprop_t *user;
    const uint32_t *sub_ids;
    mq_bin_t raw;
} mq_props_t;

/* Iterator position for the two repeated properties; zero-initialise. */
typedef struct mq_piter {
    size_t pos;
} mq_piter_t;

/* Next user property in wire order into *out; returns 1, or 0 at the end. */
int mq_props_user_next(const mq_props_t *pr, mq_piter_t *it, mq_uprop_t *out /* OUT */);
/* Next subscription identifier; returns 1, or 0 at the end. */
int mq_props_sub_id_next(const mq_props_t *pr, mq_piter_t *it, uint32_t *out /* OUT */);

/* ---------------------------------------------------------- packets */

/*
 * CONNECT.  Wire: "MQTT"/"MQIsdp" name, level, flags, keep alive,
 * [props], client id, [will props, will topic, will payload], [user name],
 * [password].  On CN_EPROTO with rule MQ_R_PROTO_LEVEL or later the struct
 * holds what was read so far (at least `level`), so the session layer can
 * answer in the client's version.  MQ_R_CLIENT_ID_EMPTY is reported after
 * the whole packet decoded (every member is valid then).
 */
typedef struct mq_connect {
    uint8_t level; /* 3, 4 or 5 */
    bool clean_start, will, will_retain, has_username, has_password;
    uint8_t will_qos;
    uint16_t keep_alive;
    mq_props_t props;
    mq_bin_t client_id;    /* UTF-8, may be empty */
    mq_props_t will_props; /* level 5 */
    mq_bin_t will_topic;   /* UTF-8 topic name, when will */
    mq_bin_t will_payload; /* binary, when will */
    mq_bin_t username;     /* UTF-8, when has_username */
    mq_bin_t password;     /* binary, when has_password */
} mq_connect_t;

/* CONNACK.  reason is the v5 reason code, or the 3.1.1 return code 0-5. */
typedef struct mq_connack {
    bool session_present;
    uint8_t reason;
    mq_props_t props;
} mq_connack_t;

/*
 * PUBLISH.  Hot path: decode validates and borrows, nothing else.  The
 * payload is not validated (Payload Format Indicator 1 promises UTF-8;
 * checking it is the receiver's choice, 0x99).  topic may be empty at
 * level 5 when props has a Topic Alias.
 */
typedef struct mq_publish {
    bool dup, retain;
    uint8_t qos;
    uint16_t packet_id; /* 0 at QoS 0 */
    mq_bin_t topic;
    mq_props_t props;
    mq_bin_t payload;
} mq_publish_t;

/* PUBACK, PUBREC, PUBREL, PUBCOMP (reason and props: level 5). */
typedef struct mq_ack {
    uint16_t packet_id;
    uint8_t reason;
    mq_props_t props;
} mq_ack_t;

/* One SUBSCRIBE entry; UNSUBSCRIBE uses only filter. */
typedef struct mq_sub {
    mq_bin_t filter;
    uint8_t qos;
    bool no_local, retain_as_published; /* level 5 */
    uint8_t retain_handling;            /* level 5: 0..2 */
} mq_sub_t;

/*
 * SUBSCRIBE and UNSUBSCRIBE.  Decode validates every entry (filter
 * syntax, $share form, options) and sets n and raw (the payload);
 * mq_subs_next walks them.  To encode set v/n (v wins over raw).
 */
typedef struct mq_subscribe {
    uint16_t packet_id;
    mq_props_t props; /* SUBSCRIBE: Subscription Identifier, user; */
    size_t n;         /* at least 1 */
    const mq_sub_t *v;
    mq_bin_t raw;
} mq_subscribe_t;

/* Next entry of a SUBSCRIBE (type MQ_SUBSCRIBE) or UNSUBSCRIBE; 1 or 0. */
int mq_subs_next(const mq_subscribe_t *s, uint8_t type, mq_piter_t *it, mq_sub_t *out /* OUT */);

/* SUBACK and UNSUBACK: one reason code per entry (UNSUBACK below 5.0 has
 * none: codes.len is 0). codes borrows the input on decode. */
typedef struct mq_suback {
    uint16_t packet_id;
    mq_props_t props;
    mq_bin_t codes;
} mq_suback_t;

/* DISCONNECT and AUTH (level 5 reason and props; empty below 5.0). */
typedef struct mq_reason_pkt {
    uint8_t reason;
    mq_props_t props;
} mq_reason_pkt_t;

/* Any packet.  PINGREQ/PINGRESP carry nothing. */
typedef struct mq_pkt {
    uint8_t type; /* enum mq_type */
    union {
        mq_connect_t connect;
        mq_connack_t connack;
        mq_publish_t publish;
        mq_ack_t ack;             /* PUBACK PUBREC PUBREL PUBCOMP */
        mq_subscribe_t subscribe; /* SUBSCRIBE UNSUBSCRIBE */
        mq_suback_t suback;       /* SUBACK UNSUBACK */
        mq_reason_pkt_t reason;   /* DISCONNECT AUTH */
    } u;
} mq_pkt_t;

/* ---------------------------------------------------------- decoding */

/*
 * Decodes one frame from mq_split.  level is 3/4/5 (CONNECT ignores it and
 * reports its own in u.connect.level); dir says who sent it.  Returns 0,
 * CN_EPROTO with *err filled, or CN_EINVAL for a bad level/dir.  *out
 * borrows f->body (NOTES 1).  Thread-safe (no state).
 */
int mq_decode(const mq_frame_t *f, unsigned level, unsigned dir, mq_pkt_t *out /* OUT */,
              mq_err_t *err /* OUT */);

/* The PUBLISH part of mq_decode, for the hot path; CN_EINVAL unless f->type
 * is MQ_PUBLISH and level is 3..5. */
int mq_publish_decode(const mq_frame_t *f, unsigned level, unsigned dir,
                      mq_publish_t *out /* OUT */, mq_err_t *err /* OUT */);

/* Moves every borrowed pointer of *pub that lies in [from, from+n) to the
 * same offset from `to` (after the caller copied those n bytes there). */
void mq_publish_rebase(mq_publish_t *pub, const uint8_t *from, size_t n, const uint8_t *to);

/* ---------------------------------------------------------- encoding */

/*
 * Appends the whole packet to b.  level picks the wire format (and for
 * CONNECT the protocol name: level 3 writes "MQIsdp").  Returns 0, or
 * CN_EINVAL for a type/level mismatch, a string over 65535 bytes, a QoS
 * above 2, or a packet over the protocol maximum; b is unchanged then.
 * The encoders trust their input otherwise (they do not re-run the
 * decoders' checks).
 */
int mq_encode(cn_buf_t *b, unsigned level, const mq_pkt_t *pkt);

/*
 * Appends a PUBLISH's fixed header, topic, packet id and properties, with
 * a Remaining Length that counts pub->payload.len more bytes, but not the
 * payload itself: the caller sends the (shared, refcounted) payload right
 * after (writev).  pub->payload.p is not read.  Same returns as mq_encode.
 */
int mq_publish_encode_header(cn_buf_t *b, unsigned level, const mq_publish_t *pub);

/* -------------------------------------------------------- validation */

/* 0 when p[0..n) is well-formed UTF-8 without U+0000; else CN_EPROTO
 * with rule MQ_R_UTF8 or MQ_R_UTF8_NUL. */
int mq_utf8_check(const uint8_t *p, size_t n, mq_err_t *err /* OUT */);

/* Topic name (PUBLISH, will): non-empty, no '+' or '#'.  Returns 0 or
 * CN_EPROTO (MQ_R_TOPIC_EMPTY / MQ_R_TOPIC_WILDCARD).  UTF-8 is checked
 * separately (mq_utf8_check). */
int mq_topic_name_check(const uint8_t *p, size_t n, mq_err_t *err /* OUT */);

/* Topic filter: non-empty; '+' only as a whole level; '#' only as the
 * whole last level.  Empty levels ("a//b", "/a") are allowed.  0 or
 * CN_EPROTO (MQ_R_FILTER).  Does not treat $share specially. */
int mq_topic_filter_check(const uint8_t *p, size_t n, mq_err_t *err /* OUT */);

/*
 * Shared subscription "$share/<group>/<filter>": returns 1 with *group and
 * *filter (borrowing p) when p starts with "$share/" and is well formed
 * (group non-empty without '+' or '#', filter a valid non-empty filter),
 * 0 when p is not a shared subscription (outputs untouched), CN_EPROTO
 * (MQ_R_SHARE / MQ_R_FILTER) when it is one but malformed.
 */
int mq_share_parse(const uint8_t *p, size_t n, mq_bin_t *group /* OUT */,
                   mq_bin_t *filter /* OUT */, mq_err_t *err /* OUT */);

/* ------------------------------------------------------------- tests */

/* Semantic equality of two packets of the same level (strings by content,
 * user properties and subscription ids in order, entries in order).  For
 * tests and the fuzz target's round trip. */
bool mq_pkt_eq(const mq_pkt_t *a, const mq_pkt_t *b);

#endif /* MQ_CODEC_H */
