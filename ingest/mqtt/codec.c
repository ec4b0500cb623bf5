/* SPDX-License-Identifier: MIT */
/*
 * codec.c - the MQTT frame splitter and packet decoders (3.1, 3.1.1, 5.0),
 * UTF-8 and topic checks.  Every read goes through a bounded cn_rd_t over
 * the frame body, and every spec rule that fails names itself (MQ_R_*) so
 * the session layer can answer with the right reason code.  Encoders live
 * in encode.c, properties in props.c.
 *
 * NOTES
 *  1. Fixed header (byte 0): packet type in bits 7-4, flags in bits 3-0.
 *     PUBLISH flags are DUP(3) QoS(2-1) RETAIN(0); PUBREL, SUBSCRIBE and
 *     UNSUBSCRIBE must carry 0010; every other type 0000.
 *  2. Decoders read the body with a cursor that ends at Remaining Length:
 *     running out is MQ_R_TRUNC, bytes left over MQ_R_TRAILING (except in
 *     PUBLISH, whose payload is the rest).  Optional v5 fields (ack reason
 *     code, property length) are present when bytes remain.
 *  3. PUBLISH decode is the broker's hot path: no allocation, one pass over
 *     the topic for UTF-8 (8 ASCII bytes per step) and one for wildcards.
 */
#include "mqtt/codec_int.h"

#include <assert.h>

/* --------------------------------------------------------------- errors */

static const char *const RULE_NAME[] = {
#define MQ__RULE_NAME(name, rc, msg) #name,
    MQ_RULES(MQ__RULE_NAME)
#undef MQ__RULE_NAME
};
static const char *const RULE_TEXT[] = {
#define MQ__RULE_TEXT(name, rc, msg) msg,
    MQ_RULES(MQ__RULE_TEXT)
#undef MQ__RULE_TEXT
};
static const uint8_t RULE_REASON[] = {
#define MQ__RULE_RC(name, rc, msg) rc,
    MQ_RULES(MQ__RULE_RC)
#undef MQ__RULE_RC
};

const char *mq_rule_name(int rule)
{
    return rule >= 0 && rule < MQ_R_COUNT ? RULE_NAME[rule] : "MQ_R_?";
}

const char *mq_rule_text(int rule)
{
    return rule >= 0 && rule < MQ_R_COUNT ? RULE_TEXT[rule] : "unknown rule";
}

void mq__set_err(mq_err_t *err, int rule)
{
    err->rule = (uint8_t)rule;
    err->reason = RULE_REASON[rule];
}

int mq_v3_connack_rc(uint8_t v5_reason)
{
    switch (v5_reason) {
    case 0x84:
        return 1;
    case 0x85:
        return 2;
    case 0x88:
    case 0x89:
        return 3;
    case 0x86:
        return 4;
    case 0x87:
        return 5;
    default:
        return -1;
    }
}

/* ---------------------------------------------------------- primitives */

int mq_rd_varint(cn_rd_t *r, uint32_t *v, mq_err_t *err)
{
    uint32_t x = 0;
    for (unsigned i = 0; i < 4; i++) {
        uint8_t c = 0;
        if (cn_rd_u8(r, &c) < 0)
            return CN_ETRUNC;
        x |= (uint32_t)(c & 0x7F) << (7 * i);
        if (!(c & 0x80)) {
            if (i > 0 && c == 0)
                return MQ_FAIL(err, MQ_R_VARINT_NONCANON);
            *v = x;
            return 0;
        }
    }
    return MQ_FAIL(err, MQ_R_VARINT_LONG);
}

unsigned mq_varint_len(uint32_t v)
{
    return v < 128u ? 1 : v < 16384u ? 2 : v < 2097152u ? 3 : 4;
}

void mq_put_varint(cn_buf_t *b, uint32_t v)
{
    assert(v <= MQ_MAX_REMAINING);
    uint8_t tmp[4];
    unsigned n = 0;
    do {
        uint8_t c = v & 0x7F;
        v >>= 7;
        tmp[n++] = (uint8_t)(c | (v ? 0x80 : 0));
    } while (v);
    cn_buf_put(b, tmp, n);
}

int mq__rd_u16(cn_rd_t *r, uint16_t *v, mq_err_t *err)
{
    const uint8_t *p = NULL;
    if (cn_rd_bytes(r, 2, &p) < 0)
        return MQ_FAIL(err, MQ_R_TRUNC);
    *v = (uint16_t)(p[0] << 8 | p[1]);
    return 0;
}

int mq__rd_u32(cn_rd_t *r, uint32_t *v, mq_err_t *err)
{
    const uint8_t *p = NULL;
    if (cn_rd_bytes(r, 4, &p) < 0)
        return MQ_FAIL(err, MQ_R_TRUNC);
    *v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return 0;
}

int mq__rd_bin(cn_rd_t *r, mq_bin_t *v, mq_err_t *err)
{
    uint16_t n = 0;
    int rc = mq__rd_u16(r, &n, err);
    if (rc < 0)
        return rc;
    if (cn_rd_bytes(r, n, &v->p) < 0)
        return MQ_FAIL(err, MQ_R_TRUNC);
    v->len = n;
    return 0;
}

int mq__rd_str(cn_rd_t *r, mq_bin_t *v, mq_err_t *err)
{
    int rc = mq__rd_bin(r, v, err);
    return rc < 0 ? rc : mq_utf8_check(v->p, v->len, err);
}

/* ---------------------------------------------------------------- UTF-8 */

/* True when the 8 bytes at p are ASCII and none is NUL. */
static bool ascii8(const uint8_t *p)
{
    uint64_t v = cn_ld64(p);
    uint64_t zero = (v - 0x0101010101010101ull) & ~v & 0x8080808080808080ull;
    return ((v & 0x8080808080808080ull) | zero) == 0;
}

int mq_utf8_check(const uint8_t *p, size_t n, mq_err_t *err)
{
    size_t i = 0;
    while (i < n) {
        if (n - i >= 8 && ascii8(p + i)) {
            i += 8;
            continue;
        }
        uint8_t c = p[i];
        if (c < 0x80) {
            if (c == 0)
                return MQ_FAIL(err, MQ_R_UTF8_NUL);
            i++;
            continue;
        }
        size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (len == 0 || n - i < len)
            return MQ_FAIL(err, MQ_R_UTF8);
        uint32_t cp = c & (0x7Fu >> len);
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return MQ_FAIL(err, MQ_R_UTF8);
            cp = cp << 6 | (p[i + k] & 0x3Fu);
        }
        static const uint32_t MIN_CP[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < MIN_CP[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return MQ_FAIL(err, MQ_R_UTF8);
        i += len;
    }
    return 0;
}

/* ---------------------------------------------------------------- topics */

int mq_topic_name_check(const uint8_t *p, size_t n, mq_err_t *err)
{
    if (n == 0)
        return MQ_FAIL(err, MQ_R_TOPIC_EMPTY);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '+' || p[i] == '#')
            return MQ_FAIL(err, MQ_R_TOPIC_WILDCARD);
    }
    return 0;
}

int mq_topic_filter_check(const uint8_t *p, size_t n, mq_err_t *err)
{
    if (n == 0)
        return MQ_FAIL(err, MQ_R_FILTER);
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '+' && p[i] != '#')
            continue;
        bool starts_level = i == 0 || p[i - 1] == '/';
        bool ends_level = i + 1 == n || p[i + 1] == '/';
        if (!starts_level || !ends_level || (p[i] == '#' && i + 1 != n))
            return MQ_FAIL(err, MQ_R_FILTER);
    }
    return 0;
}

int mq_share_parse(const uint8_t *p, size_t n, mq_bin_t *group, mq_bin_t *filter, mq_err_t *err)
{
    static const char PREFIX[] = "$share/";
    const size_t plen = sizeof PREFIX - 1;
    if (n < plen || memcmp(p, PREFIX, plen) != 0)
        return 0;
    const uint8_t *g = p + plen;
    const uint8_t *slash = memchr(g, '/', n - plen);
    if (!slash || slash == g)
        return MQ_FAIL(err, MQ_R_SHARE);
    size_t glen = (size_t)(slash - g);
    if (memchr(g, '+', glen) || memchr(g, '#', glen))
        return MQ_FAIL(err, MQ_R_SHARE);
    size_t flen = n - plen - glen - 1;
    int rc = mq_topic_filter_check(slash + 1, flen, err);
    if (rc < 0)
        return rc;
    *group = (mq_bin_t){g, glen};
    *filter = (mq_bin_t){slash + 1, flen};
    return 1;
}

/* -------------------------------------------------------------- framing */

int mq_split(const uint8_t *p, size_t n, uint32_t max_packet, mq_frame_t *f, mq_err_t *err)
{
    if (n < 2)
        return 0;
    cn_rd_t r = cn_rd_make(p + 1, n - 1);
    uint32_t rem = 0;
    int rc = mq_rd_varint(&r, &rem, err);
    if (rc == CN_ETRUNC)
        return 0;
    if (rc < 0)
        return rc;
    size_t hdr = 1 + (size_t)(r.p - (p + 1));
    size_t total = hdr + rem;
    if (total > (max_packet ? max_packet : MQ_MAX_PACKET)) {
        mq__set_err(err, MQ_R_TOO_LARGE);
        return CN_ELIMIT;
    }
    if (n < total)
        return 0;
    f->type = p[0] >> 4;
    f->flags = p[0] & 0x0F;
    f->hdr_len = (uint8_t)hdr;
    f->body_len = rem;
    f->body = p + hdr;
    f->total = total;
    return 1;
}

/* -------------------------------------------------------- reason codes */

static const uint8_t RC_CONNACK[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86,
                                     0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
                                     0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
static const uint8_t RC_PUBACK[] = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
static const uint8_t RC_PUBREL[] = {0x00, 0x92};
static const uint8_t RC_SUBACK[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87,
                                    0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
static const uint8_t RC_UNSUBACK[] = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
static const uint8_t RC_DISCONNECT[] = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D,
                                        0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
                                        0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
static const uint8_t RC_AUTH[] = {0x00, 0x18, 0x19};
static const uint8_t RC_V3_SUBACK[] = {0x00, 0x01, 0x02, 0x80};

static bool reason_ok(uint8_t type, unsigned level, uint8_t rc)
{
    const uint8_t *set = NULL;
    size_t n = 0;
#define SET(a) (set = (a), n = sizeof(a))
    switch (type) {
    case MQ_CONNACK:
        if (level < 5)
            return rc <= 5;
        SET(RC_CONNACK);
        break;
    case MQ_PUBACK:
    case MQ_PUBREC:
        SET(RC_PUBACK);
        break;
    case MQ_PUBREL:
    case MQ_PUBCOMP:
        SET(RC_PUBREL);
        break;
    case MQ_SUBACK:
        level < 5 ? SET(RC_V3_SUBACK) : SET(RC_SUBACK);
        break;
    case MQ_UNSUBACK:
        SET(RC_UNSUBACK);
        break;
    case MQ_DISCONNECT:
        SET(RC_DISCONNECT);
        break;
    default:
        SET(RC_AUTH);
        break;
    }
#undef SET
    return memchr(set, rc, n) != NULL;
}

/* --------------------------------------------------------- fixed header */

/* Packets each side may send: bit = type. */
#define FROM_CLIENT_OK 0xD5FAu /* 1,3-8,10,12,14,15 */
#define FROM_SERVER_OK 0xEAFCu /* 2-7,9,11,13,14,15 */

static int check_header(const mq_frame_t *f, unsigned level, unsigned dir, mq_err_t *err)
{
    if (f->type == 0 || (f->type == MQ_AUTH && level < 5))
        return MQ_FAIL(err, MQ_R_TYPE);
    if (f->type == MQ_PUBLISH) {
        if (((f->flags >> 1) & 3) == 3)
            return MQ_FAIL(err, MQ_R_QOS3);
        if ((f->flags & 0x8) && !(f->flags & 0x6))
            return MQ_FAIL(err, MQ_R_DUP_QOS0);
    } else {
        bool two = f->type == MQ_PUBREL || f->type == MQ_SUBSCRIBE || f->type == MQ_UNSUBSCRIBE;
        if (f->flags != (two ? 2 : 0))
            return MQ_FAIL(err, MQ_R_FLAGS);
    }
    unsigned ok = dir == MQ_FROM_CLIENT ? FROM_CLIENT_OK : FROM_SERVER_OK;
    if (!(ok & (1u << f->type)))
        return MQ_FAIL(err, MQ_R_DIRECTION);
    return 0;
}

static int end_of_body(const cn_rd_t *r, mq_err_t *err)
{
    return cn_rd_left(r) > 0 ? MQ_FAIL(err, MQ_R_TRAILING) : 0;
}

static int rd_pktid(cn_rd_t *r, uint16_t *id, mq_err_t *err)
{
    int rc = mq__rd_u16(r, id, err);
    return rc < 0 ? rc : *id == 0 ? MQ_FAIL(err, MQ_R_PKTID_ZERO) : 0;
}

/* Packet identifier, then at level 5 the properties (SUBSCRIBE family). */
static int rd_id_props(cn_rd_t *r, uint8_t type, unsigned level, unsigned dir, uint16_t *id,
                       mq_props_t *props, mq_err_t *err)
{
    int rc = rd_pktid(r, id, err);
    if (rc < 0 || level < 5)
        return rc;
    return mq__props_decode(r, type, dir, props, err);
}

/* -------------------------------------------------------------- CONNECT */

static int connect_name(cn_rd_t *r, mq_connect_t *c, mq_err_t *err)
{
    mq_bin_t name = {NULL, 0};
    uint8_t level = 0;
    int rc = mq__rd_bin(r, &name, err);
    if (rc < 0)
        return rc;
    if (cn_rd_u8(r, &level) < 0)
        return MQ_FAIL(err, MQ_R_TRUNC);
    c->level = level;
    if (mq__bin_eq(name, mq_str("MQTT")))
        return level == 4 || level == 5 ? 0 : MQ_FAIL(err, MQ_R_PROTO_LEVEL);
    if (mq__bin_eq(name, mq_str("MQIsdp")))
        return level == 3 ? 0 : MQ_FAIL(err, MQ_R_PROTO_LEVEL);
    return MQ_FAIL(err, MQ_R_PROTO_NAME);
}

static int connect_flags(uint8_t fl, mq_connect_t *c, mq_err_t *err)
{
    c->clean_start = fl & 0x02;
    c->will = fl & 0x04;
    c->will_qos = (fl >> 3) & 3;
    c->will_retain = fl & 0x20;
    c->has_password = fl & 0x40;
    c->has_username = fl & 0x80;
    if (fl & 0x01)
        return MQ_FAIL(err, MQ_R_CONNECT_RESERVED);
    if (!c->will && (c->will_qos || c->will_retain))
        return MQ_FAIL(err, MQ_R_WILL_FLAGS);
    if (c->will_qos == 3)
        return MQ_FAIL(err, MQ_R_WILL_QOS3);
    if (c->level < 5 && c->has_password && !c->has_username)
        return MQ_FAIL(err, MQ_R_PASSWORD_NO_USER);
    return 0;
}

static int connect_will(cn_rd_t *r, mq_connect_t *c, mq_err_t *err)
{
    int rc = 0;
    if (c->level == 5 && (rc = mq__props_decode(r, MQ__WILL, MQ_FROM_CLIENT, &c->will_props, err)))
        return rc;
    if ((rc = mq__rd_str(r, &c->will_topic, err)) < 0)
        return rc;
    if (mq_topic_name_check(c->will_topic.p, c->will_topic.len, err) < 0)
        return MQ_FAIL(err, MQ_R_WILL_TOPIC);
    return mq__rd_bin(r, &c->will_payload, err);
}

static int decode_connect(cn_rd_t *r, mq_connect_t *c, mq_err_t *err)
{
    memset(c, 0, sizeof *c);
    uint8_t fl = 0;
    int rc = connect_name(r, c, err);
    if (rc < 0)
        return rc;
    if (cn_rd_u8(r, &fl) < 0)
        return MQ_FAIL(err, MQ_R_TRUNC);
    if ((rc = connect_flags(fl, c, err)) < 0 || (rc = mq__rd_u16(r, &c->keep_alive, err)) < 0)
        return rc;
    if (c->level == 5 && (rc = mq__props_decode(r, MQ_CONNECT, MQ_FROM_CLIENT, &c->props, err)))
        return rc;
    if ((rc = mq__rd_str(r, &c->client_id, err)) < 0)
        return rc;
    if (c->will && (rc = connect_will(r, c, err)) < 0)
        return rc;
    if (c->has_username && (rc = mq__rd_str(r, &c->username, err)) < 0)
        return rc;
    if (c->has_password && (rc = mq__rd_bin(r, &c->password, err)) < 0)
        return rc;
    if ((rc = end_of_body(r, err)) < 0)
        return rc;
    if (c->level < 5 && c->client_id.len == 0 && !c->clean_start)
        return MQ_FAIL(err, MQ_R_CLIENT_ID_EMPTY);
    return 0;
}

/* -------------------------------------------------------------- CONNACK */

static int decode_connack(cn_rd_t *r, unsigned level, mq_connack_t *c, mq_err_t *err)
{
    memset(c, 0, sizeof *c);
    uint8_t fl = 0;
    if (cn_rd_u8(r, &fl) < 0 || cn_rd_u8(r, &c->reason) < 0)
        return MQ_FAIL(err, MQ_R_TRUNC);
    if (fl & 0xFE)
        return MQ_FAIL(err, MQ_R_CONNACK_FLAGS);
    c->session_present = fl & 1;
    if (!reason_ok(MQ_CONNACK, level, c->reason))
        return MQ_FAIL(err, MQ_R_REASON);
    if (c->session_present && c->reason != 0)
        return MQ_FAIL(err, MQ_R_CONNACK_SP);
    int rc = 0;
    if (level == 5 && (rc = mq__props_decode(r, MQ_CONNACK, MQ_FROM_SERVER, &c->props, err)))
        return rc;
    return end_of_body(r, err);
}

/* -------------------------------------------------------------- PUBLISH */

int mq_publish_decode(const mq_frame_t *f, unsigned level, unsigned dir, mq_publish_t *out,
                      mq_err_t *err)
{
    if (f->type != MQ_PUBLISH || level < 3 || level > 5)
        return CN_EINVAL;
    int rc = check_header(f, level, dir, err);
    if (rc < 0)
        return rc;
    cn_rd_t r = cn_rd_make(f->body, f->body_len);
    out->dup = f->flags & 0x8;
    out->qos = (f->flags >> 1) & 3;
    out->retain = f->flags & 1;
    out->packet_id = 0;
    if ((rc = mq__rd_str(&r, &out->topic, err)) < 0)
        return rc;
    if (out->qos > 0 && (rc = rd_pktid(&r, &out->packet_id, err)) < 0)
        return rc;
    if (level == 5) {
        if ((rc = mq__props_decode(&r, MQ_PUBLISH, dir, &out->props, err)) < 0)
            return rc;
    } else {
        memset(&out->props, 0, sizeof out->props);
    }
    if (out->topic.len == 0) {
        if (!(out->props.has & MQ_HAS(MQ_P_TOPIC_ALIAS)))
            return MQ_FAIL(err, MQ_R_TOPIC_EMPTY);
    } else if ((rc = mq_topic_name_check(out->topic.p, out->topic.len, err)) < 0) {
        return rc;
    }
    out->payload = (mq_bin_t){r.p, cn_rd_left(&r)};
    return 0;
}

/* ------------------------------------------------------------------ acks */

/* PUBACK..PUBCOMP, and DISCONNECT/AUTH (with_id false): the v5 reason and
 * properties are optional at the end of the packet. */
static int decode_reason_tail(cn_rd_t *r, uint8_t type, unsigned level, unsigned dir,
                              uint8_t *reason, mq_props_t *props, mq_err_t *err)
{
    if (level < 5 || cn_rd_left(r) == 0)
        return end_of_body(r, err);
    int rc = 0;
    (void)cn_rd_u8(r, reason);
    if (!reason_ok(type, level, *reason))
        return MQ_FAIL(err, MQ_R_REASON);
    if (cn_rd_left(r) > 0 && (rc = mq__props_decode(r, type, dir, props, err)) < 0)
        return rc;
    return end_of_body(r, err);
}

static int decode_ack(cn_rd_t *r, uint8_t type, unsigned level, unsigned dir, mq_ack_t *a,
                      mq_err_t *err)
{
    memset(a, 0, sizeof *a);
    int rc = rd_pktid(r, &a->packet_id, err);
    return rc < 0 ? rc : decode_reason_tail(r, type, level, dir, &a->reason, &a->props, err);
}

/* ------------------------------------------------- SUBSCRIBE/UNSUBSCRIBE */

static int check_entry(const mq_bin_t *flt, uint8_t type, unsigned level, uint8_t opts,
                       mq_err_t *err)
{
    mq_bin_t group, inner;
    int shared = mq_share_parse(flt->p, flt->len, &group, &inner, err);
    if (shared < 0)
        return shared;
    if (!shared && mq_topic_filter_check(flt->p, flt->len, err) < 0)
        return CN_EPROTO;
    if (type != MQ_SUBSCRIBE)
        return 0;
    if ((opts & 3) == 3)
        return MQ_FAIL(err, MQ_R_QOS3);
    if (opts & (level < 5 ? 0xFC : 0xC0))
        return MQ_FAIL(err, MQ_R_SUBOPT_RESERVED);
    if (((opts >> 4) & 3) == 3)
        return MQ_FAIL(err, MQ_R_RETAIN_HANDLING);
    if (shared && (opts & 0x04))
        return MQ_FAIL(err, MQ_R_SHARE_NOLOCAL);
    return 0;
}

static int decode_subscribe(cn_rd_t *r, uint8_t type, unsigned level, mq_subscribe_t *s,
                            mq_err_t *err)
{
    memset(s, 0, sizeof *s);
    int rc = rd_id_props(r, type, level, MQ_FROM_CLIENT, &s->packet_id, &s->props, err);
    if (rc < 0)
        return rc;
    s->raw = (mq_bin_t){r->p, cn_rd_left(r)};
    while (cn_rd_left(r) > 0) {
        mq_bin_t flt = {NULL, 0};
        uint8_t opts = 0;
        if ((rc = mq__rd_str(r, &flt, err)) < 0)
            return rc;
        if (type == MQ_SUBSCRIBE && cn_rd_u8(r, &opts) < 0)
            return MQ_FAIL(err, MQ_R_TRUNC);
        if ((rc = check_entry(&flt, type, level, opts, err)) < 0)
            return rc;
        s->n++;
    }
    return s->n == 0 ? MQ_FAIL(err, MQ_R_NO_FILTERS) : 0;
}

int mq_subs_next(const mq_subscribe_t *s, uint8_t type, mq_piter_t *it, mq_sub_t *out)
{
    if (s->v) {
        if (it->pos >= s->n)
            return 0;
        *out = s->v[it->pos++];
        return 1;
    }
    if (!s->raw.p || it->pos >= s->raw.len)
        return 0;
    cn_rd_t r = cn_rd_make(s->raw.p + it->pos, s->raw.len - it->pos);
    mq_err_t err;
    uint8_t opts = 0;
    memset(out, 0, sizeof *out);
    if (mq__rd_bin(&r, &out->filter, &err) < 0 ||
        (type == MQ_SUBSCRIBE && cn_rd_u8(&r, &opts) < 0)) {
        it->pos = s->raw.len;
        return 0;
    }
    out->qos = opts & 3;
    out->no_local = opts & 0x04;
    out->retain_as_published = opts & 0x08;
    out->retain_handling = (opts >> 4) & 3;
    it->pos = (size_t)(r.p - s->raw.p);
    return 1;
}

/* ------------------------------------------------------ SUBACK/UNSUBACK */

static int decode_suback(cn_rd_t *r, uint8_t type, unsigned level, mq_suback_t *s, mq_err_t *err)
{
    memset(s, 0, sizeof *s);
    int rc = rd_id_props(r, type, level, MQ_FROM_SERVER, &s->packet_id, &s->props, err);
    if (rc < 0)
        return rc;
    if (type == MQ_UNSUBACK && level < 5)
        return end_of_body(r, err);
    s->codes = (mq_bin_t){r->p, cn_rd_left(r)};
    if (s->codes.len == 0)
        return MQ_FAIL(err, MQ_R_NO_FILTERS);
    for (size_t i = 0; i < s->codes.len; i++) {
        if (!reason_ok(type, level, s->codes.p[i]))
            return MQ_FAIL(err, MQ_R_REASON);
    }
    return 0;
}

/* -------------------------------------------------------------- dispatch */

int mq_decode(const mq_frame_t *f, unsigned level, unsigned dir, mq_pkt_t *out, mq_err_t *err)
{
    if ((f->type != MQ_CONNECT && (level < 3 || level > 5)) ||
        (dir != MQ_FROM_CLIENT && dir != MQ_FROM_SERVER))
        return CN_EINVAL;
    out->type = f->type;
    if (f->type == MQ_PUBLISH)
        return mq_publish_decode(f, level, dir, &out->u.publish, err);
    int rc = check_header(f, level, dir, err);
    if (rc < 0)
        return rc;
    cn_rd_t r = cn_rd_make(f->body, f->body_len);
    switch (f->type) {
    case MQ_CONNECT:
        return decode_connect(&r, &out->u.connect, err);
    case MQ_CONNACK:
        return decode_connack(&r, level, &out->u.connack, err);
    case MQ_PUBACK:
    case MQ_PUBREC:
    case MQ_PUBREL:
    case MQ_PUBCOMP:
        return decode_ack(&r, f->type, level, dir, &out->u.ack, err);
    case MQ_SUBSCRIBE:
    case MQ_UNSUBSCRIBE:
        return decode_subscribe(&r, f->type, level, &out->u.subscribe, err);
    case MQ_SUBACK:
    case MQ_UNSUBACK:
        return decode_suback(&r, f->type, level, &out->u.suback, err);
    case MQ_PINGREQ:
    case MQ_PINGRESP:
        return end_of_body(&r, err);
    default: /* DISCONNECT, AUTH */
        memset(&out->u.reason, 0, sizeof out->u.reason);
        return decode_reason_tail(&r, f->type, level, dir, &out->u.reason.reason,
                                  &out->u.reason.props, err);
    }
}
