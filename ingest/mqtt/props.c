/* SPDX-License-Identifier: MIT */
/*
 * props.c - MQTT 5 properties: one table says for every property id its
 * wire type, the packets it may appear in and where it lands in
 * mq_props_t; the decoder, the encoder, the iterators over the repeated
 * properties and the equality test all walk that table, so adding or
 * checking a property is one line.
 *
 * Wire format (MQTT 5.0 section 2.2.2): Property Length (variable byte
 * integer, bytes that follow), then properties, each an identifier
 * (variable byte integer; all defined ids fit one byte) and a value of the
 * id's type.  Order is free; only User Property (0x26) and, in PUBLISH,
 * Subscription Identifier (0x0B) may repeat.
 *
 * NOTES
 *  1. A decoded block is fully validated before mq__props_decode returns,
 *     so the iterators that re-walk `raw` later need no error reporting:
 *     they stop at the end (or, defensively, at anything unreadable).
 */
#include "mqtt/codec_int.h"

#include <assert.h>
#include <stddef.h>

enum pkind { K_NONE = 0, K_BYTE, K_FLAG, K_U16, K_U32, K_VBI, K_STR, K_BIN, K_PAIR };

/* Packet masks: bit n = packet type n; bit 0 = will properties. */
#define M(t)     (1u << (t))
#define M_WILL   M(MQ__WILL)
#define M_PUB    M(MQ_PUBLISH)
#define M_ACKS   (M(MQ_PUBACK) | M(MQ_PUBREC) | M(MQ_PUBREL) | M(MQ_PUBCOMP))
#define M_ALL    0xFFFFu
#define OFF(fld) offsetof(mq_props_t, fld)

typedef struct pdef {
    uint8_t kind;
    uint16_t mask;
    uint16_t off;
} pdef_t;

static const pdef_t PDEFS[MQ_P_SHARED_AVAILABLE + 1] = {
    [MQ_P_PAYLOAD_FORMAT] = {K_FLAG, M_PUB | M_WILL, OFF(payload_format)},
    [MQ_P_MESSAGE_EXPIRY] = {K_U32, M_PUB | M_WILL, OFF(message_expiry)},
    [MQ_P_CONTENT_TYPE] = {K_STR, M_PUB | M_WILL, OFF(content_type)},
    [MQ_P_RESPONSE_TOPIC] = {K_STR, M_PUB | M_WILL, OFF(response_topic)},
    [MQ_P_CORRELATION_DATA] = {K_BIN, M_PUB | M_WILL, OFF(correlation_data)},
    [MQ_P_SUB_ID] = {K_VBI, M_PUB | M(MQ_SUBSCRIBE), OFF(sub_id)},
    [MQ_P_SESSION_EXPIRY] = {K_U32, M(MQ_CONNECT) | M(MQ_CONNACK) | M(MQ_DISCONNECT),
                             OFF(session_expiry)},
    [MQ_P_ASSIGNED_CLIENT_ID] = {K_STR, M(MQ_CONNACK), OFF(assigned_client_id)},
    [MQ_P_SERVER_KEEP_ALIVE] = {K_U16, M(MQ_CONNACK), OFF(server_keep_alive)},
    [MQ_P_AUTH_METHOD] = {K_STR, M(MQ_CONNECT) | M(MQ_CONNACK) | M(MQ_AUTH), OFF(auth_method)},
    [MQ_P_AUTH_DATA] = {K_BIN, M(MQ_CONNECT) | M(MQ_CONNACK) | M(MQ_AUTH), OFF(auth_data)},
    [MQ_P_REQUEST_PROBLEM] = {K_FLAG, M(MQ_CONNECT), OFF(request_problem)},
    [MQ_P_WILL_DELAY] = {K_U32, M_WILL, OFF(will_delay)},
    [MQ_P_REQUEST_RESPONSE] = {K_FLAG, M(MQ_CONNECT), OFF(request_response)},
    [MQ_P_RESPONSE_INFO] = {K_STR, M(MQ_CONNACK), OFF(response_info)},
    [MQ_P_SERVER_REF] = {K_STR, M(MQ_CONNACK) | M(MQ_DISCONNECT), OFF(server_ref)},
    [MQ_P_REASON_STRING] = {K_STR,
                            M(MQ_CONNACK) | M_ACKS | M(MQ_SUBACK) | M(MQ_UNSUBACK) |
                                M(MQ_DISCONNECT) | M(MQ_AUTH),
                            OFF(reason_string)},
    [MQ_P_RECEIVE_MAX] = {K_U16, M(MQ_CONNECT) | M(MQ_CONNACK), OFF(receive_max)},
    [MQ_P_TOPIC_ALIAS_MAX] = {K_U16, M(MQ_CONNECT) | M(MQ_CONNACK), OFF(topic_alias_max)},
    [MQ_P_TOPIC_ALIAS] = {K_U16, M_PUB, OFF(topic_alias)},
    [MQ_P_MAX_QOS] = {K_FLAG, M(MQ_CONNACK), OFF(max_qos)},
    [MQ_P_RETAIN_AVAILABLE] = {K_FLAG, M(MQ_CONNACK), OFF(retain_available)},
    [MQ_P_USER] = {K_PAIR, M_ALL, 0},
    [MQ_P_MAX_PACKET_SIZE] = {K_U32, M(MQ_CONNECT) | M(MQ_CONNACK), OFF(max_packet_size)},
    [MQ_P_WILDCARD_AVAILABLE] = {K_FLAG, M(MQ_CONNACK), OFF(wildcard_available)},
    [MQ_P_SUB_ID_AVAILABLE] = {K_FLAG, M(MQ_CONNACK), OFF(sub_id_available)},
    [MQ_P_SHARED_AVAILABLE] = {K_FLAG, M(MQ_CONNACK), OFF(shared_available)},
};

static const pdef_t *pdef(uint32_t id)
{
    if (id >= CN_ARRAY_LEN(PDEFS) || PDEFS[id].kind == K_NONE)
        return NULL;
    return &PDEFS[id];
}

/* Range rules beyond the type: zero maxima and a zero alias are errors. */
static int check_value(uint32_t id, uint32_t v, mq_err_t *err)
{
    switch (id) {
    case MQ_P_RECEIVE_MAX:
    case MQ_P_MAX_PACKET_SIZE:
    case MQ_P_SUB_ID:
        return v == 0 ? MQ_FAIL(err, MQ_R_PROP_VALUE) : 0;
    case MQ_P_TOPIC_ALIAS:
        return v == 0 ? MQ_FAIL(err, MQ_R_TOPIC_ALIAS_ZERO) : 0;
    default:
        return 0;
    }
}

/* Reads one value of kind d->kind; numbers into *num, strings into *bin. */
static int read_value(cn_rd_t *r, const pdef_t *d, uint32_t *num, mq_bin_t *bin, mq_err_t *err)
{
    uint8_t u8 = 0;
    uint16_t u16 = 0;
    int rc = 0;
    switch (d->kind) {
    case K_BYTE:
    case K_FLAG:
        if (cn_rd_u8(r, &u8) < 0)
            return MQ_FAIL(err, MQ_R_TRUNC);
        if (d->kind == K_FLAG && u8 > 1)
            return MQ_FAIL(err, MQ_R_PROP_VALUE);
        *num = u8;
        return 0;
    case K_U16:
        rc = mq__rd_u16(r, &u16, err);
        *num = u16;
        return rc;
    case K_U32:
        return mq__rd_u32(r, num, err);
    case K_VBI:
        rc = mq_rd_varint(r, num, err);
        return rc == CN_ETRUNC ? MQ_FAIL(err, MQ_R_TRUNC) : rc;
    case K_STR:
        return mq__rd_str(r, bin, err);
    case K_BIN:
        return mq__rd_bin(r, bin, err);
    case K_PAIR:
        rc = mq__rd_str(r, &bin[0], err);
        return rc < 0 ? rc : mq__rd_str(r, &bin[1], err);
    default:
        return MQ_FAIL(err, MQ_R_PROP_ID);
    }
}

static void store(mq_props_t *pr, const pdef_t *d, uint32_t num, mq_bin_t bin)
{
    uint8_t *base = (uint8_t *)pr + d->off;
    switch (d->kind) {
    case K_BYTE:
    case K_FLAG:
        *base = (uint8_t)num;
        break;
    case K_U16:
        memcpy(base, &(uint16_t){(uint16_t)num}, 2);
        break;
    case K_U32:
    case K_VBI:
        memcpy(base, &num, 4);
        break;
    case K_STR:
    case K_BIN:
        memcpy(base, &bin, sizeof bin);
        break;
    default:
        break;
    }
}

static int read_one(cn_rd_t *r, unsigned ptype, unsigned dir, mq_props_t *pr, mq_err_t *err)
{
    uint32_t id = 0;
    int rc = mq_rd_varint(r, &id, err);
    if (rc < 0)
        return rc == CN_ETRUNC ? MQ_FAIL(err, MQ_R_TRUNC) : rc;
    const pdef_t *d = pdef(id);
    if (!d || !(d->mask & M(ptype)))
        return MQ_FAIL(err, MQ_R_PROP_ID);
    uint64_t bit = MQ_HAS(id);
    bool repeat = id == MQ_P_USER || (id == MQ_P_SUB_ID && ptype == MQ_PUBLISH);
    if ((pr->has & bit) && !repeat)
        return MQ_FAIL(err, MQ_R_PROP_DUP);
    if (id == MQ_P_SUB_ID && ptype == MQ_PUBLISH && dir == MQ_FROM_CLIENT)
        return MQ_FAIL(err, MQ_R_PUB_SUBID);
    uint32_t num = 0;
    mq_bin_t bin[2] = {{NULL, 0}, {NULL, 0}};
    if ((rc = read_value(r, d, &num, bin, err)) < 0 || (rc = check_value(id, num, err)) < 0)
        return rc;
    if (id == MQ_P_RESPONSE_TOPIC && (rc = mq_topic_name_check(bin[0].p, bin[0].len, err)) < 0)
        return rc;
    if (id == MQ_P_USER)
        pr->n_user++;
    else if (id == MQ_P_SUB_ID && pr->n_sub_id++ > 0)
        return 0; /* keep the first in sub_id; the iterator yields the rest */
    else
        store(pr, d, num, bin[0]);
    pr->has |= bit;
    return 0;
}

int mq__props_decode(cn_rd_t *r, unsigned ptype, unsigned dir, mq_props_t *pr, mq_err_t *err)
{
    memset(pr, 0, sizeof *pr);
    uint32_t len = 0;
    int rc = mq_rd_varint(r, &len, err);
    if (rc < 0)
        return rc == CN_ETRUNC ? MQ_FAIL(err, MQ_R_TRUNC) : rc;
    const uint8_t *start = NULL;
    if (cn_rd_bytes(r, len, &start) < 0)
        return MQ_FAIL(err, MQ_R_TRUNC);
    cn_rd_t pr_rd = cn_rd_make(start, len);
    while (cn_rd_left(&pr_rd) > 0) {
        if ((rc = read_one(&pr_rd, ptype, dir, pr, err)) < 0)
            return rc;
    }
    if ((pr->has & MQ_HAS(MQ_P_AUTH_DATA)) && !(pr->has & MQ_HAS(MQ_P_AUTH_METHOD)))
        return MQ_FAIL(err, MQ_R_AUTH_DATA);
    if (len > 0)
        pr->raw = (mq_bin_t){start, len};
    return 0;
}

/* ------------------------------------------------------------ iterators */

/* Finds the next property `want` in raw from it->pos; 1 with its value. */
static int raw_next(const mq_props_t *pr, mq_piter_t *it, uint32_t want, uint32_t *num,
                    mq_bin_t *bin)
{
    if (!pr->raw.p || it->pos >= pr->raw.len)
        return 0;
    cn_rd_t r = cn_rd_make(pr->raw.p + it->pos, pr->raw.len - it->pos);
    mq_err_t err;
    while (cn_rd_left(&r) > 0) {
        uint32_t id = 0;
        const pdef_t *d = NULL;
        if (mq_rd_varint(&r, &id, &err) < 0 || !(d = pdef(id)))
            break;
        if (read_value(&r, d, num, bin, &err) < 0)
            break;
        if (id == want) {
            it->pos = (size_t)(r.p - pr->raw.p);
            return 1;
        }
    }
    it->pos = pr->raw.len;
    return 0;
}

int mq_props_user_next(const mq_props_t *pr, mq_piter_t *it, mq_uprop_t *out)
{
    if (pr->user) {
        if (it->pos >= pr->n_user)
            return 0;
        *out = pr->user[it->pos++];
        return 1;
    }
    uint32_t num = 0;
    mq_bin_t bin[2] = {{NULL, 0}, {NULL, 0}};
    if (!raw_next(pr, it, MQ_P_USER, &num, bin))
        return 0;
    out->key = bin[0];
    out->val = bin[1];
    return 1;
}

int mq_props_sub_id_next(const mq_props_t *pr, mq_piter_t *it, uint32_t *out)
{
    if (pr->sub_ids) {
        if (it->pos >= pr->n_sub_id)
            return 0;
        *out = pr->sub_ids[it->pos++];
        return 1;
    }
    if (pr->raw.p) {
        mq_bin_t bin[2];
        return raw_next(pr, it, MQ_P_SUB_ID, out, bin);
    }
    if (!(pr->has & MQ_HAS(MQ_P_SUB_ID)) || it->pos > 0)
        return 0;
    it->pos = 1;
    *out = pr->sub_id;
    return 1;
}

/* ------------------------------------------------------------- encoding */

static int put_one(cn_buf_t *b, uint32_t id, const pdef_t *d, const mq_props_t *pr)
{
    const uint8_t *base = (const uint8_t *)pr + d->off;
    uint16_t u16 = 0;
    uint32_t u32 = 0;
    mq_bin_t bin = {NULL, 0};
    cn_buf_put_u8(b, (uint8_t)id);
    switch (d->kind) {
    case K_BYTE:
    case K_FLAG:
        cn_buf_put_u8(b, *base);
        return 0;
    case K_U16:
        memcpy(&u16, base, 2);
        mq__put_u16(b, u16);
        return 0;
    case K_U32:
        memcpy(&u32, base, 4);
        mq__put_u32(b, u32);
        return 0;
    default:
        memcpy(&bin, base, sizeof bin);
        return mq__put_bin(b, bin);
    }
}

static int put_repeated(cn_buf_t *b, const mq_props_t *pr, uint32_t id)
{
    mq_piter_t it = {0};
    if (id == MQ_P_SUB_ID) {
        uint32_t v = 0;
        while (mq_props_sub_id_next(pr, &it, &v)) {
            if (v > MQ_MAX_REMAINING)
                return CN_EINVAL;
            cn_buf_put_u8(b, MQ_P_SUB_ID);
            mq_put_varint(b, v);
        }
        return 0;
    }
    mq_uprop_t up;
    while (mq_props_user_next(pr, &it, &up)) {
        cn_buf_put_u8(b, MQ_P_USER);
        int rc = mq__put_bin(b, up.key);
        if (rc < 0 || (rc = mq__put_bin(b, up.val)) < 0)
            return rc;
    }
    return 0;
}

int mq__props_encode(cn_buf_t *b, const mq_props_t *pr)
{
    /* Write the block 4 bytes in (the longest length prefix), then slide
     * it back behind the real prefix: one pass, no size pre-computation. */
    if (pr->has == 0) {
        cn_buf_put_u8(b, 0);
        return 0;
    }
    size_t mark = b->len;
    cn_buf_extend(b, 4);
    int rc = 0;
    /* Visit only the set bits, lowest id first; unknown bits are ignored. */
    uint64_t bits = pr->has & ~MQ_HAS(MQ_P_USER) & ~(uint64_t)1;
    while (bits && rc == 0) {
        uint32_t id = (uint32_t)__builtin_ctzll(bits);
        bits &= bits - 1;
        const pdef_t *d = pdef(id);
        if (d)
            rc = id == MQ_P_SUB_ID ? put_repeated(b, pr, id) : put_one(b, id, d, pr);
    }
    if (rc == 0 && (pr->has & MQ_HAS(MQ_P_USER)))
        rc = put_repeated(b, pr, MQ_P_USER);
    size_t len = b->len - mark - 4;
    if (rc < 0 || len > MQ_MAX_REMAINING) {
        b->len = mark;
        return rc < 0 ? rc : CN_EINVAL;
    }
    unsigned vl = mq_varint_len((uint32_t)len);
    memmove(b->p + mark + vl, b->p + mark + 4, len);
    b->len = mark;
    mq_put_varint(b, (uint32_t)len);
    b->len = mark + vl + len;
    return 0;
}

/* ------------------------------------------------------------- equality */

bool mq__bin_eq(mq_bin_t a, mq_bin_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static bool field_eq(const pdef_t *d, const mq_props_t *a, const mq_props_t *b)
{
    const uint8_t *pa = (const uint8_t *)a + d->off, *pb = (const uint8_t *)b + d->off;
    switch (d->kind) {
    case K_BYTE:
    case K_FLAG:
        return *pa == *pb;
    case K_U16:
        return memcmp(pa, pb, 2) == 0;
    case K_U32:
    case K_VBI:
        return memcmp(pa, pb, 4) == 0;
    default: {
        mq_bin_t x, y;
        memcpy(&x, pa, sizeof x);
        memcpy(&y, pb, sizeof y);
        return mq__bin_eq(x, y);
    }
    }
}

static bool repeated_eq(const mq_props_t *a, const mq_props_t *b)
{
    mq_piter_t ia = {0}, ib = {0};
    mq_uprop_t ua, ub;
    int ra, rb;
    while ((ra = mq_props_user_next(a, &ia, &ua)) & (rb = mq_props_user_next(b, &ib, &ub))) {
        if (!mq__bin_eq(ua.key, ub.key) || !mq__bin_eq(ua.val, ub.val))
            return false;
    }
    if (ra != rb)
        return false;
    ia.pos = ib.pos = 0;
    uint32_t sa = 0, sb = 0;
    while ((ra = mq_props_sub_id_next(a, &ia, &sa)) & (rb = mq_props_sub_id_next(b, &ib, &sb))) {
        if (sa != sb)
            return false;
    }
    return ra == rb;
}

bool mq__props_eq(const mq_props_t *a, const mq_props_t *b)
{
    if (a->has != b->has)
        return false;
    for (uint32_t id = 1; id < CN_ARRAY_LEN(PDEFS); id++) {
        const pdef_t *d = pdef(id);
        if (!d || id == MQ_P_USER || id == MQ_P_SUB_ID || !(a->has & MQ_HAS(id)))
            continue;
        if (!field_eq(d, a, b))
            return false;
    }
    return repeated_eq(a, b);
}
