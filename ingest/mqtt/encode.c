/* SPDX-License-Identifier: MIT */
/*
 * encode.c - MQTT packet encoders (3.1, 3.1.1, 5.0), the packet equality
 * used by tests and the fuzz target, and PUBLISH rebasing.
 *
 * NOTES
 *  1. Every encoder writes its body 5 bytes after the packet start (room
 *     for the longest fixed header), then writes the real fixed header and
 *     slides the body back: one pass, no size pre-computation, and on any
 *     error the buffer is cut back to where it was.
 *  2. PUBLISH header and payload are separate (mq_publish_encode_header):
 *     the broker encodes a few dozen header bytes per subscriber and sends
 *     the one shared payload buffer behind them.
 */
#include "mqtt/codec_int.h"

void mq__put_u16(cn_buf_t *b, uint16_t v)
{
    uint8_t *p = cn_buf_extend(b, 2);
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void mq__put_u32(cn_buf_t *b, uint32_t v)
{
    uint8_t *p = cn_buf_extend(b, 4);
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int mq__put_bin(cn_buf_t *b, mq_bin_t v)
{
    if (v.len > 0xFFFF)
        return CN_EINVAL;
    mq__put_u16(b, (uint16_t)v.len);
    if (v.len > 0)
        cn_buf_put(b, v.p, v.len);
    return 0;
}

/* Starts a packet: reserves the fixed header's maximum size. */
static size_t begin(cn_buf_t *b)
{
    size_t mark = b->len;
    cn_buf_extend(b, 5);
    return mark;
}

/* Ends a packet started at mark: `extra` more body bytes follow later
 * (the PUBLISH payload).  rc < 0 undoes the packet and returns rc. */
static int finish(cn_buf_t *b, size_t mark, uint8_t byte0, size_t extra, int rc)
{
    size_t body = b->len - mark - 5;
    if (rc == 0 && body + extra > MQ_MAX_REMAINING)
        rc = CN_EINVAL;
    if (rc < 0) {
        b->len = mark;
        return rc;
    }
    uint32_t rem = (uint32_t)(body + extra);
    unsigned hl = 1 + mq_varint_len(rem);
    memmove(b->p + mark + hl, b->p + mark + 5, body);
    b->len = mark;
    cn_buf_put_u8(b, byte0);
    mq_put_varint(b, rem);
    b->len = mark + hl + body;
    return 0;
}

static int put_props(cn_buf_t *b, unsigned level, const mq_props_t *pr)
{
    return level == 5 ? mq__props_encode(b, pr) : 0;
}

static int enc_connect(cn_buf_t *b, unsigned level, const mq_connect_t *c)
{
    if (c->will_qos > 2)
        return CN_EINVAL;
    mq__put_bin(b, mq_str(level == 3 ? "MQIsdp" : "MQTT"));
    cn_buf_put_u8(b, (uint8_t)level);
    uint8_t fl =
        (uint8_t)(c->clean_start << 1 | c->will << 2 | (c->will ? c->will_qos << 3 : 0) |
                  (c->will && c->will_retain) << 5 | c->has_password << 6 | c->has_username << 7);
    cn_buf_put_u8(b, fl);
    mq__put_u16(b, c->keep_alive);
    int rc = put_props(b, level, &c->props);
    if (rc == 0)
        rc = mq__put_bin(b, c->client_id);
    if (rc == 0 && c->will) {
        if ((rc = put_props(b, level, &c->will_props)) == 0 &&
            (rc = mq__put_bin(b, c->will_topic)) == 0)
            rc = mq__put_bin(b, c->will_payload);
    }
    if (rc == 0 && c->has_username)
        rc = mq__put_bin(b, c->username);
    if (rc == 0 && c->has_password)
        rc = mq__put_bin(b, c->password);
    return rc;
}

static int enc_connack(cn_buf_t *b, unsigned level, const mq_connack_t *c)
{
    cn_buf_put_u8(b, c->session_present ? 1 : 0);
    cn_buf_put_u8(b, c->reason);
    return put_props(b, level, &c->props);
}

static int enc_publish(cn_buf_t *b, unsigned level, const mq_publish_t *p, bool payload)
{
    if (p->qos > 2)
        return CN_EINVAL;
    size_t mark = begin(b);
    int rc = mq__put_bin(b, p->topic);
    if (rc == 0 && p->qos > 0)
        mq__put_u16(b, p->packet_id);
    if (rc == 0)
        rc = put_props(b, level, &p->props);
    if (rc == 0 && payload && p->payload.len > 0) {
        if (p->payload.len > MQ_MAX_REMAINING)
            rc = CN_EINVAL;
        else
            cn_buf_put(b, p->payload.p, p->payload.len);
    }
    uint8_t byte0 = (uint8_t)(MQ_PUBLISH << 4 | p->dup << 3 | p->qos << 1 | p->retain);
    return finish(b, mark, byte0, payload ? 0 : p->payload.len, rc);
}

int mq_publish_encode_header(cn_buf_t *b, unsigned level, const mq_publish_t *pub)
{
    if (level < 3 || level > 5)
        return CN_EINVAL;
    return enc_publish(b, level, pub, false);
}

/* Optional v5 tail of acks, DISCONNECT and AUTH: reason code, then
 * properties, each written only when it or what follows is non-default. */
static int enc_reason_tail(cn_buf_t *b, unsigned level, uint8_t reason, const mq_props_t *pr)
{
    if (level < 5 || (reason == 0 && pr->has == 0))
        return 0;
    cn_buf_put_u8(b, reason);
    return pr->has ? mq__props_encode(b, pr) : 0;
}

static int enc_subscribe(cn_buf_t *b, uint8_t type, unsigned level, const mq_subscribe_t *s)
{
    mq__put_u16(b, s->packet_id);
    int rc = put_props(b, level, &s->props);
    mq_piter_t it = {0};
    mq_sub_t e;
    size_t n = 0;
    while (rc == 0 && mq_subs_next(s, type, &it, &e)) {
        if (e.qos > 2 || e.retain_handling > 2)
            return CN_EINVAL;
        rc = mq__put_bin(b, e.filter);
        if (type == MQ_SUBSCRIBE && level == 5)
            cn_buf_put_u8(b, (uint8_t)(e.qos | e.no_local << 2 | e.retain_as_published << 3 |
                                       e.retain_handling << 4));
        else if (type == MQ_SUBSCRIBE)
            cn_buf_put_u8(b, e.qos);
        n++;
    }
    return rc < 0 ? rc : n == 0 ? CN_EINVAL : 0;
}

static int enc_suback(cn_buf_t *b, uint8_t type, unsigned level, const mq_suback_t *s)
{
    mq__put_u16(b, s->packet_id);
    int rc = put_props(b, level, &s->props);
    if (rc == 0 && !(type == MQ_UNSUBACK && level < 5) && s->codes.len > 0)
        cn_buf_put(b, s->codes.p, s->codes.len);
    return rc;
}

static int enc_body(cn_buf_t *b, unsigned level, const mq_pkt_t *pkt)
{
    switch (pkt->type) {
    case MQ_CONNECT:
        return enc_connect(b, level, &pkt->u.connect);
    case MQ_CONNACK:
        return enc_connack(b, level, &pkt->u.connack);
    case MQ_PUBACK:
    case MQ_PUBREC:
    case MQ_PUBREL:
    case MQ_PUBCOMP:
        mq__put_u16(b, pkt->u.ack.packet_id);
        return enc_reason_tail(b, level, pkt->u.ack.reason, &pkt->u.ack.props);
    case MQ_SUBSCRIBE:
    case MQ_UNSUBSCRIBE:
        return enc_subscribe(b, pkt->type, level, &pkt->u.subscribe);
    case MQ_SUBACK:
    case MQ_UNSUBACK:
        return enc_suback(b, pkt->type, level, &pkt->u.suback);
    case MQ_PINGREQ:
    case MQ_PINGRESP:
        return 0;
    case MQ_DISCONNECT:
    case MQ_AUTH:
        return enc_reason_tail(b, level, pkt->u.reason.reason, &pkt->u.reason.props);
    default:
        return CN_EINVAL;
    }
}

int mq_encode(cn_buf_t *b, unsigned level, const mq_pkt_t *pkt)
{
    if (level < 3 || level > 5 || (pkt->type == MQ_AUTH && level < 5))
        return CN_EINVAL;
    if (pkt->type == MQ_PUBLISH)
        return enc_publish(b, level, &pkt->u.publish, true);
    bool two = pkt->type == MQ_PUBREL || pkt->type == MQ_SUBSCRIBE || pkt->type == MQ_UNSUBSCRIBE;
    size_t mark = begin(b);
    int rc = enc_body(b, level, pkt);
    return finish(b, mark, (uint8_t)(pkt->type << 4 | (two ? 2 : 0)), 0, rc);
}

/* --------------------------------------------------------------- rebase */

static void rebase(mq_bin_t *v, const uint8_t *from, size_t n, const uint8_t *to)
{
    if (v->p && v->p >= from && v->p < from + n)
        v->p = to + (v->p - from);
}

void mq_publish_rebase(mq_publish_t *pub, const uint8_t *from, size_t n, const uint8_t *to)
{
    mq_props_t *pr = &pub->props;
    mq_bin_t *bins[] = {&pub->topic,         &pub->payload,         &pr->content_type,
                        &pr->response_topic, &pr->correlation_data, &pr->assigned_client_id,
                        &pr->auth_method,    &pr->auth_data,        &pr->response_info,
                        &pr->server_ref,     &pr->reason_string,    &pr->raw};
    for (size_t i = 0; i < CN_ARRAY_LEN(bins); i++)
        rebase(bins[i], from, n, to);
}

/* -------------------------------------------------------------- equality */

static bool connect_eq(const mq_connect_t *a, const mq_connect_t *b)
{
    return a->level == b->level && a->clean_start == b->clean_start && a->will == b->will &&
           a->will_retain == b->will_retain && a->will_qos == b->will_qos &&
           a->has_username == b->has_username && a->has_password == b->has_password &&
           a->keep_alive == b->keep_alive && mq__props_eq(&a->props, &b->props) &&
           mq__bin_eq(a->client_id, b->client_id) && mq__props_eq(&a->will_props, &b->will_props) &&
           mq__bin_eq(a->will_topic, b->will_topic) &&
           mq__bin_eq(a->will_payload, b->will_payload) && mq__bin_eq(a->username, b->username) &&
           mq__bin_eq(a->password, b->password);
}

static bool publish_eq(const mq_publish_t *a, const mq_publish_t *b)
{
    return a->dup == b->dup && a->retain == b->retain && a->qos == b->qos &&
           a->packet_id == b->packet_id && mq__bin_eq(a->topic, b->topic) &&
           mq__props_eq(&a->props, &b->props) && mq__bin_eq(a->payload, b->payload);
}

static bool subscribe_eq(uint8_t type, const mq_subscribe_t *a, const mq_subscribe_t *b)
{
    if (a->packet_id != b->packet_id || a->n != b->n || !mq__props_eq(&a->props, &b->props))
        return false;
    mq_piter_t ia = {0}, ib = {0};
    mq_sub_t x, y;
    int ra, rb;
    while ((ra = mq_subs_next(a, type, &ia, &x)) & (rb = mq_subs_next(b, type, &ib, &y))) {
        if (!mq__bin_eq(x.filter, y.filter) || x.qos != y.qos || x.no_local != y.no_local ||
            x.retain_as_published != y.retain_as_published ||
            x.retain_handling != y.retain_handling)
            return false;
    }
    return ra == rb;
}

bool mq_pkt_eq(const mq_pkt_t *a, const mq_pkt_t *b)
{
    if (a->type != b->type)
        return false;
    const mq_connack_t *ca = &a->u.connack, *cb = &b->u.connack;
    const mq_ack_t *aa = &a->u.ack, *ab = &b->u.ack;
    const mq_suback_t *sa = &a->u.suback, *sb = &b->u.suback;
    switch (a->type) {
    case MQ_CONNECT:
        return connect_eq(&a->u.connect, &b->u.connect);
    case MQ_CONNACK:
        return ca->session_present == cb->session_present && ca->reason == cb->reason &&
               mq__props_eq(&ca->props, &cb->props);
    case MQ_PUBLISH:
        return publish_eq(&a->u.publish, &b->u.publish);
    case MQ_PUBACK:
    case MQ_PUBREC:
    case MQ_PUBREL:
    case MQ_PUBCOMP:
        return aa->packet_id == ab->packet_id && aa->reason == ab->reason &&
               mq__props_eq(&aa->props, &ab->props);
    case MQ_SUBSCRIBE:
    case MQ_UNSUBSCRIBE:
        return subscribe_eq(a->type, &a->u.subscribe, &b->u.subscribe);
    case MQ_SUBACK:
    case MQ_UNSUBACK:
        return sa->packet_id == sb->packet_id && mq__bin_eq(sa->codes, sb->codes) &&
               mq__props_eq(&sa->props, &sb->props);
    case MQ_DISCONNECT:
    case MQ_AUTH:
        return a->u.reason.reason == b->u.reason.reason &&
               mq__props_eq(&a->u.reason.props, &b->u.reason.props);
    default:
        return true;
    }
}
