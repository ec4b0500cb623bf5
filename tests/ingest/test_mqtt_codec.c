/* SPDX-License-Identifier: MIT */
/*
 * test_mqtt_codec.c - tests for the MQTT codec (ingest/mqtt/): hand-computed
 * packets of every type at 3.1.1 and 5.0 must decode and re-encode to the
 * exact same bytes; packets built from structs must encode to exact bytes;
 * every malformed fixture in tests/data/mqtt/ (written by gen.py from the
 * spec) must fail with the rule and reason code in its name, and every rule
 * must have a fixture; Remaining Length boundaries, non-canonical and
 * over-long varints, the size limit, byte-by-byte splitting, the topic and
 * UTF-8 helpers, all MQTT 5 properties, header-only PUBLISH encoding and
 * rebasing.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

/* cmocka.h needs these first; keep clang-format from sorting them after it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "mqtt/codec.h"

/* Parses "10 1F 00 ..." into out; returns the byte count. */
static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (*s) {
        if (*s == ' ') {
            s++;
            continue;
        }
        unsigned v = 0;
        assert_int_equal(sscanf(s, "%2x", &v), 1);
        assert_true(n < cap);
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

/* Splits exactly one whole packet from p[0..n) and decodes it. */
static int split_decode(const uint8_t *p, size_t n, unsigned level, unsigned dir, mq_pkt_t *pkt,
                        mq_err_t *err)
{
    mq_frame_t f;
    int rc = mq_split(p, n, 0, &f, err);
    if (rc < 0)
        return rc;
    assert_int_equal(rc, 1);
    assert_int_equal(f.total, n);
    return mq_decode(&f, level, dir, pkt, err);
}

static unsigned enc_level(const mq_pkt_t *pkt, unsigned level)
{
    return pkt->type == MQ_CONNECT ? pkt->u.connect.level : level;
}

/* --------------------------------------------------------- exact bytes */

typedef struct vec {
    unsigned level, dir;
    const char *hex;
} vec_t;

#define C MQ_FROM_CLIENT
#define S MQ_FROM_SERVER

/* Each packet is canonical: decode + encode must reproduce it exactly. */
static const vec_t VECS[] = {
    /* CONNECT 3.1.1: user, password, will QoS 1 "w/t" "bye", clean, keep 10 */
    {4, C,
     "10 1F 00 04 4D 51 54 54 04 CE 00 0A 00 03 61 62 63 00 03 77 2F 74 00 03 62 79 65 00 01 75 "
     "00 01 70"},
    /* CONNECT 5.0 (spec 3.1.2.11 example header: Session Expiry 10) */
    {5, C, "10 1A 00 04 4D 51 54 54 05 C2 00 0A 05 11 00 00 00 0A 00 02 63 31 00 01 75 00 01 70"},
    /* CONNECT 3.1 "MQIsdp" level 3, clean, keep 60, client "c1" */
    {4, C, "10 10 00 06 4D 51 49 73 64 70 03 02 00 3C 00 02 63 31"},
    {4, S, "20 02 01 00"},                                  /* CONNACK session present */
    {4, S, "20 02 00 05"},                                  /* CONNACK not authorized */
    {5, S, "20 03 00 00 00"},                               /* CONNACK v5, no props */
    {5, S, "20 0D 00 00 0A 12 00 02 69 64 21 00 0A 24 01"}, /* assigned id, rmax, QoS */
    {4, C, "32 09 00 03 61 2F 62 00 0A 68 69"},             /* PUBLISH QoS 1 "a/b" */
    {4, C, "31 07 00 03 61 2F 62 68 69"},                   /* PUBLISH QoS 0 retain */
    {4, S, "30 03 00 01 74"},                               /* PUBLISH empty payload */
    /* PUBLISH 5.0 QoS 2 DUP: format 1, expiry 60, user k=v, payload "x" */
    {5, C, "3C 15 00 01 74 00 01 0E 01 01 02 00 00 00 3C 26 00 01 6B 00 01 76 78"},
    {5, S, "30 07 00 00 03 23 00 01 7A"},                /* topic alias only */
    {5, S, "30 08 00 01 74 04 0B 01 0B 02"},             /* two subscription identifiers */
    {4, C, "40 02 00 0A"},                               /* PUBACK */
    {5, C, "40 02 00 0A"},                               /* PUBACK v5 short form */
    {5, C, "40 03 00 0A 10"},                            /* PUBACK no matching subscribers */
    {5, S, "40 08 00 0A 80 04 1F 00 01 65"},             /* PUBACK with reason string */
    {4, C, "50 02 00 0B"},                               /* PUBREC */
    {4, C, "62 02 00 0B"},                               /* PUBREL */
    {5, S, "62 03 00 0B 92"},                            /* PUBREL packet id not found */
    {4, S, "70 02 00 0B"},                               /* PUBCOMP */
    {4, C, "82 0C 00 01 00 03 61 2F 23 01 00 01 2B 02"}, /* SUBSCRIBE a/# q1, + q2 */
    {5, C, "82 09 00 02 02 0B 05 00 01 61 2D"},          /* sub id 5, nl rap rh2 q1 */
    {4, S, "90 04 00 01 01 80"},                         /* SUBACK */
    {5, S, "90 05 00 02 00 01 8F"},                      /* SUBACK v5 */
    {4, C, "A2 05 00 03 00 01 61"},                      /* UNSUBSCRIBE */
    {5, C, "A2 06 00 03 00 00 01 61"},                   /* UNSUBSCRIBE v5 */
    {4, S, "B0 02 00 03"},                               /* UNSUBACK */
    {5, S, "B0 04 00 03 00 11"},                         /* UNSUBACK no subscription */
    {4, C, "C0 00"},                                     /* PINGREQ */
    {5, S, "D0 00"},                                     /* PINGRESP */
    {4, C, "E0 00"},                                     /* DISCONNECT */
    {5, C, "E0 01 8E"},                                  /* DISCONNECT taken over */
    {5, C, "E0 07 00 05 11 00 00 0E 10"},                /* DISCONNECT expiry 3600 */
    {5, C, "F0 00"},                                     /* AUTH success, short */
    {5, S, "F0 08 18 06 15 00 03 61 62 63"},             /* AUTH continue, method */
};

static void test_exact_roundtrip(void **state)
{
    (void)state;
    cn_buf_t b;
    cn_buf_init(&b);
    for (size_t i = 0; i < CN_ARRAY_LEN(VECS); i++) {
        uint8_t in[256];
        size_t n = unhex(VECS[i].hex, in, sizeof in);
        mq_pkt_t pkt, again;
        mq_err_t err = {0, 0};
        int rc = split_decode(in, n, VECS[i].level, VECS[i].dir, &pkt, &err);
        if (rc != 0)
            fail_msg("vector %zu: %d %s", i, rc, mq_rule_name(err.rule));
        cn_buf_reset(&b);
        assert_int_equal(mq_encode(&b, enc_level(&pkt, VECS[i].level), &pkt), 0);
        assert_int_equal(b.len, n);
        if (memcmp(b.p, in, n) != 0)
            fail_msg("vector %zu re-encodes differently", i);
        assert_int_equal(split_decode(b.p, b.len, VECS[i].level, VECS[i].dir, &again, &err), 0);
        assert_true(mq_pkt_eq(&pkt, &again));
    }
    cn_buf_free(&b);
}

static void test_decoded_fields(void **state)
{
    (void)state;
    uint8_t in[256];
    mq_pkt_t pkt;
    mq_err_t err;
    size_t n = unhex(VECS[0].hex, in, sizeof in);
    assert_int_equal(split_decode(in, n, 4, C, &pkt, &err), 0);
    const mq_connect_t *c = &pkt.u.connect;
    assert_int_equal(c->level, 4);
    assert_true(c->clean_start && c->will && c->has_username && c->has_password);
    assert_false(c->will_retain);
    assert_int_equal(c->will_qos, 1);
    assert_int_equal(c->keep_alive, 10);
    assert_true(c->client_id.len == 3 && memcmp(c->client_id.p, "abc", 3) == 0);
    assert_true(c->will_topic.len == 3 && memcmp(c->will_payload.p, "bye", 3) == 0);
    assert_ptr_equal(c->client_id.p, in + 14); /* borrowed, not copied */

    n = unhex(VECS[2].hex, in, sizeof in);
    assert_int_equal(split_decode(in, n, 4, C, &pkt, &err), 0);
    assert_int_equal(pkt.u.connect.level, 3);

    n = unhex(VECS[10].hex, in, sizeof in);
    assert_int_equal(split_decode(in, n, 5, C, &pkt, &err), 0);
    const mq_publish_t *p = &pkt.u.publish;
    assert_true(p->dup && !p->retain);
    assert_int_equal(p->qos, 2);
    assert_int_equal(p->packet_id, 1);
    assert_int_equal(p->props.payload_format, 1);
    assert_int_equal(p->props.message_expiry, 60);
    assert_int_equal(p->props.n_user, 1);
    assert_true(p->payload.len == 1 && p->payload.p[0] == 'x');

    n = unhex(VECS[22].hex, in, sizeof in);
    assert_int_equal(split_decode(in, n, 5, C, &pkt, &err), 0);
    mq_piter_t it = {0};
    mq_sub_t e;
    assert_int_equal(pkt.u.subscribe.props.sub_id, 5);
    assert_int_equal(mq_subs_next(&pkt.u.subscribe, MQ_SUBSCRIBE, &it, &e), 1);
    assert_true(e.qos == 1 && e.no_local && e.retain_as_published && e.retain_handling == 2);
    assert_int_equal(mq_subs_next(&pkt.u.subscribe, MQ_SUBSCRIBE, &it, &e), 0);
}

/* ---------------------------------------------------- built from structs */

static void expect_bytes(const cn_buf_t *b, const char *hex)
{
    uint8_t want[256];
    size_t n = unhex(hex, want, sizeof want);
    assert_int_equal(b->len, n);
    assert_memory_equal(b->p, want, n);
}

static void test_encode_structs(void **state)
{
    (void)state;
    cn_buf_t b;
    cn_buf_init(&b);
    mq_pkt_t pkt;
    memset(&pkt, 0, sizeof pkt);

    pkt.type = MQ_CONNECT;
    mq_connect_t *c = &pkt.u.connect;
    c->level = 5;
    c->clean_start = c->has_username = c->has_password = true;
    c->keep_alive = 10;
    c->props.has = MQ_HAS(MQ_P_SESSION_EXPIRY);
    c->props.session_expiry = 10;
    c->client_id = mq_str("c1");
    c->username = mq_str("u");
    c->password = mq_str("p");
    assert_int_equal(mq_encode(&b, 5, &pkt), 0);
    expect_bytes(&b, VECS[1].hex);

    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQ_PUBLISH;
    mq_publish_t *p = &pkt.u.publish;
    mq_uprop_t up = {mq_str("k"), mq_str("v")};
    p->dup = true;
    p->qos = 2;
    p->packet_id = 1;
    p->topic = mq_str("t");
    p->props.has = MQ_HAS(MQ_P_PAYLOAD_FORMAT) | MQ_HAS(MQ_P_MESSAGE_EXPIRY) | MQ_HAS(MQ_P_USER);
    p->props.payload_format = 1;
    p->props.message_expiry = 60;
    p->props.user = &up;
    p->props.n_user = 1;
    p->payload = mq_str("x");
    cn_buf_reset(&b);
    assert_int_equal(mq_encode(&b, 5, &pkt), 0);
    expect_bytes(&b, VECS[10].hex);

    /* Header only: same bytes minus the payload, Remaining Length counts it. */
    cn_buf_reset(&b);
    assert_int_equal(mq_publish_encode_header(&b, 5, p), 0);
    expect_bytes(&b, "3C 15 00 01 74 00 01 0E 01 01 02 00 00 00 3C 26 00 01 6B 00 01 76");

    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQ_SUBSCRIBE;
    mq_sub_t subs[2] = {{mq_str("a/#"), 1, false, false, 0}, {mq_str("+"), 2, false, false, 0}};
    pkt.u.subscribe.packet_id = 1;
    pkt.u.subscribe.v = subs;
    pkt.u.subscribe.n = 2;
    cn_buf_reset(&b);
    assert_int_equal(mq_encode(&b, 4, &pkt), 0);
    expect_bytes(&b, VECS[21].hex);

    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQ_SUBACK;
    pkt.u.suback.packet_id = 2;
    pkt.u.suback.codes = (mq_bin_t){(const uint8_t *)"\x01\x8F", 2};
    cn_buf_reset(&b);
    assert_int_equal(mq_encode(&b, 5, &pkt), 0);
    expect_bytes(&b, VECS[24].hex);

    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQ_DISCONNECT;
    pkt.u.reason.reason = 0x8E;
    cn_buf_reset(&b);
    assert_int_equal(mq_encode(&b, 5, &pkt), 0);
    expect_bytes(&b, "E0 01 8E");
    cn_buf_reset(&b);
    assert_int_equal(mq_encode(&b, 4, &pkt), 0); /* 3.1.1 has no reason code */
    expect_bytes(&b, "E0 00");

    pkt.type = MQ_PINGREQ;
    cn_buf_reset(&b);
    assert_int_equal(mq_encode(&b, 4, &pkt), 0);
    expect_bytes(&b, "C0 00");
    cn_buf_free(&b);
}

static void test_encode_invalid(void **state)
{
    (void)state;
    cn_buf_t b;
    cn_buf_init(&b);
    cn_buf_put_u8(&b, 0xAA);
    mq_pkt_t pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQ_AUTH;
    assert_int_equal(mq_encode(&b, 4, &pkt), CN_EINVAL);
    pkt.type = MQ_SUBSCRIBE; /* no entries */
    pkt.u.subscribe.packet_id = 1;
    assert_int_equal(mq_encode(&b, 4, &pkt), CN_EINVAL);
    uint8_t *big = calloc(70000, 1);
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQ_PUBLISH;
    pkt.u.publish.topic = (mq_bin_t){big, 70000};
    assert_int_equal(mq_encode(&b, 4, &pkt), CN_EINVAL);
    pkt.u.publish.topic = mq_str("t");
    pkt.u.publish.qos = 3;
    assert_int_equal(mq_encode(&b, 4, &pkt), CN_EINVAL);
    pkt.u.publish.qos = 0;
    pkt.u.publish.payload.len = MQ_MAX_REMAINING - 2; /* + topic = max + 1 */
    assert_int_equal(mq_publish_encode_header(&b, 4, &pkt.u.publish), CN_EINVAL);
    pkt.u.publish.payload.len = MQ_MAX_REMAINING - 3;
    assert_int_equal(mq_publish_encode_header(&b, 4, &pkt.u.publish), 0);
    expect_bytes(&b, "AA 30 FF FF FF 7F 00 01 74");
    assert_int_equal(mq_encode(&b, 2, &pkt), CN_EINVAL);
    free(big);
    cn_buf_free(&b);
}

/* ------------------------------------------------------------ fixtures */

static void fixture_dir(char *out, size_t cap)
{
    const char *self = __FILE__; /* .../tests/ingest/test_mqtt_codec.c */
    const char *cut = strstr(self, "tests/ingest/");
    assert_non_null(cut);
    int w = snprintf(out, cap, "%.*stests/data/mqtt", (int)(cut - self), self);
    assert_true(w > 0 && (size_t)w < cap);
}

static int rule_by_name(const char *name, size_t len)
{
    for (int r = 0; r < MQ_R_COUNT; r++) {
        if (strlen(mq_rule_name(r)) == len && strncmp(mq_rule_name(r), name, len) == 0)
            return r;
    }
    fail_msg("unknown rule %.*s", (int)len, name);
    return -1;
}

/* Decodes every frame of the file; returns the first error. */
static int decode_file(const uint8_t *p, size_t n, unsigned level, unsigned dir, mq_err_t *err)
{
    size_t off = 0;
    while (off < n) {
        mq_frame_t f;
        mq_pkt_t pkt;
        int rc = mq_split(p + off, n - off, 0, &f, err);
        if (rc <= 0)
            return rc;
        if ((rc = mq_decode(&f, level, dir, &pkt, err)) < 0)
            return rc;
        off += f.total;
    }
    return 0;
}

static void check_fixture(const char *dir, const char *name, bool *covered)
{
    /* <level>-<c|s>-<reason>-<rule>-<what>.bin */
    unsigned level = (unsigned)(name[0] - '0');
    unsigned from = name[2] == 'c' ? MQ_FROM_CLIENT : MQ_FROM_SERVER;
    unsigned reason = (unsigned)strtoul(name + 4, NULL, 16);
    const char *rule_s = name + 7;
    const char *rule_e = strchr(rule_s, '-');
    assert_non_null(rule_e);
    int rule = rule_by_name(rule_s, (size_t)(rule_e - rule_s));
    char path[4096];
    int w = snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_true(w > 0 && (size_t)w < sizeof path);
    uint8_t *data = NULL;
    size_t n = 0;
    assert_int_equal(cn_file_read_all(path, &data, &n), 0);
    mq_err_t err = {0, 0};
    int rc = decode_file(data, n, level, from, &err);
    if (rc != CN_EPROTO || err.rule != rule || err.reason != reason)
        fail_msg("%s: rc %d rule %s reason 0x%02x", name, rc, mq_rule_name(err.rule), err.reason);
    covered[rule] = true;
    cn_free(data);
}

static void test_malformed_fixtures(void **state)
{
    (void)state;
    char dir[4096];
    fixture_dir(dir, sizeof dir);
    DIR *d = opendir(dir);
    assert_non_null(d);
    bool covered[MQ_R_COUNT] = {false};
    unsigned count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".bin") != 0)
            continue;
        check_fixture(dir, e->d_name, covered);
        count++;
    }
    closedir(d);
    assert_true(count >= 100);
    for (int r = 1; r < MQ_R_COUNT; r++) {
        if (r != MQ_R_TOO_LARGE && !covered[r])
            fail_msg("no fixture for %s", mq_rule_name(r));
    }
}

/* ------------------------------------------------------------- framing */

static void test_varint_boundaries(void **state)
{
    (void)state;
    static const struct {
        uint32_t v;
        const char *hex;
    } T[] = {{0, "00"},
             {127, "7F"},
             {128, "80 01"},
             {16383, "FF 7F"},
             {16384, "80 80 01"},
             {2097151, "FF FF 7F"},
             {2097152, "80 80 80 01"},
             {268435455, "FF FF FF 7F"}};
    cn_buf_t b;
    cn_buf_init(&b);
    for (size_t i = 0; i < CN_ARRAY_LEN(T); i++) {
        cn_buf_reset(&b);
        mq_put_varint(&b, T[i].v);
        expect_bytes(&b, T[i].hex);
        assert_int_equal(mq_varint_len(T[i].v), b.len);
        /* The splitter reads it back as a Remaining Length. */
        uint8_t hdr[8] = {0x30};
        memcpy(hdr + 1, b.p, b.len);
        mq_frame_t f;
        mq_err_t err;
        int rc = mq_split(hdr, 1 + b.len, 0, &f, &err);
        assert_int_equal(rc, T[i].v == 0 ? 1 : 0); /* need the body */
    }
    cn_buf_free(&b);
}

static void test_varint_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        int rc;
        int rule;
    } T[] = {
        {"30 FF FF FF FF 7F", CN_EPROTO, MQ_R_VARINT_LONG},
        {"30 80 80 80 80", CN_EPROTO, MQ_R_VARINT_LONG}, /* known bad before byte 5 */
        {"30 80 00", CN_EPROTO, MQ_R_VARINT_NONCANON},
        {"30 FF 00", CN_EPROTO, MQ_R_VARINT_NONCANON},
        {"30 80 80 00", CN_EPROTO, MQ_R_VARINT_NONCANON},
        {"30 80 80 80 00", CN_EPROTO, MQ_R_VARINT_NONCANON},
        {"30 80 80 80", 0, 0}, /* incomplete: need more */
        {"30", 0, 0},
        {"", 0, 0},
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(T); i++) {
        uint8_t in[16];
        size_t n = unhex(T[i].hex, in, sizeof in);
        mq_frame_t f;
        mq_err_t err = {0, 0};
        assert_int_equal(mq_split(in, n, 0, &f, &err), T[i].rc);
        if (T[i].rc < 0) {
            assert_int_equal(err.rule, T[i].rule);
            assert_int_equal(err.reason, MQ_RC_MALFORMED);
        }
    }
}

static void test_max_packet(void **state)
{
    (void)state;
    uint8_t in[300] = {0x30, 0xC8, 0x01}; /* Remaining Length 200: total 203 */
    mq_frame_t f;
    mq_err_t err = {0, 0};
    assert_int_equal(mq_split(in, 3, 202, &f, &err), CN_ELIMIT);
    assert_int_equal(err.rule, MQ_R_TOO_LARGE);
    assert_int_equal(err.reason, MQ_RC_PACKET_TOO_LARGE);
    assert_int_equal(mq_split(in, 3, 203, &f, &err), 0);
    assert_int_equal(mq_split(in, 203, 203, &f, &err), 1);
    assert_int_equal(f.total, 203);
    assert_int_equal(f.hdr_len, 3);
    assert_int_equal(f.body_len, 200);
    /* The protocol maximum is accepted (waiting for the body). */
    const uint8_t maxhdr[] = {0x30, 0xFF, 0xFF, 0xFF, 0x7F};
    assert_int_equal(mq_split(maxhdr, 5, 0, &f, &err), 0);
    assert_int_equal(mq_split(maxhdr, 5, 1000, &f, &err), CN_ELIMIT);
}

/* Every packet length class survives encode -> split -> decode. */
static void test_publish_sizes(void **state)
{
    (void)state;
    static const uint32_t REM[] = {3, 127, 128, 16383, 16384, 2097151, 2097152};
    cn_buf_t b;
    cn_buf_init(&b);
    uint8_t *payload = calloc(2097152, 1);
    for (size_t i = 0; i < CN_ARRAY_LEN(REM); i++) {
        mq_publish_t p;
        memset(&p, 0, sizeof p);
        p.topic = mq_str("t");
        p.payload = (mq_bin_t){payload, REM[i] - 3};
        mq_pkt_t pkt = {.type = MQ_PUBLISH, .u.publish = p}, out;
        cn_buf_reset(&b);
        assert_int_equal(mq_encode(&b, 4, &pkt), 0);
        assert_int_equal(b.len, 1 + mq_varint_len(REM[i]) + REM[i]);
        mq_frame_t f;
        mq_err_t err;
        assert_int_equal(mq_split(b.p, b.len - 1, 0, &f, &err), 0);
        assert_int_equal(mq_split(b.p, b.len, 0, &f, &err), 1);
        assert_int_equal(f.body_len, REM[i]);
        assert_int_equal(mq_decode(&f, 4, C, &out, &err), 0);
        assert_true(mq_pkt_eq(&pkt, &out));
    }
    free(payload);
    cn_buf_free(&b);
}

/* All vectors as one stream (framing does not depend on the level), fed a byte at a
 * time into a growing buffer: each packet appears exactly when complete. */
static void test_split_byte_by_byte(void **state)
{
    (void)state;
    uint8_t stream[4096];
    size_t ends[CN_ARRAY_LEN(VECS)], count = 0, len = 0;
    for (size_t i = 0; i < CN_ARRAY_LEN(VECS); i++) {
        len += unhex(VECS[i].hex, stream + len, sizeof stream - len);
        ends[count++] = len;
    }
    uint8_t acc[4096];
    size_t have = 0, start = 0, seen = 0;
    for (size_t i = 0; i < len; i++) {
        acc[have++] = stream[i];
        mq_frame_t f;
        mq_err_t err;
        int rc = mq_split(acc + start, have - start, 0, &f, &err);
        assert_true(rc >= 0);
        if (rc == 0)
            continue;
        assert_int_equal(start + f.total, ends[seen]);
        assert_int_equal(i + 1, ends[seen]);
        start += f.total;
        seen++;
    }
    assert_int_equal(seen, count);
}

/* ------------------------------------------------------ topics and UTF-8 */

static void test_topic_helpers(void **state)
{
    (void)state;
    static const char *const GOOD_FILTERS[] = {
        "a",    "#",  "+",  "a/#", "+/+",    "a/+/b",          "/",      "//",
        "a//b", "/a", "a/", "+/#", "$SYS/#", "sport/tennis/+", "$share", "$shared/x"};
    static const char *const BAD_FILTERS[] = {"", "a#", "a/#/b", "#/", "a+", "+a", "a/b+/c", "##"};
    mq_err_t err;
    for (size_t i = 0; i < CN_ARRAY_LEN(GOOD_FILTERS); i++) {
        const char *s = GOOD_FILTERS[i];
        if (mq_topic_filter_check((const uint8_t *)s, strlen(s), &err) != 0)
            fail_msg("filter '%s' rejected", s);
    }
    for (size_t i = 0; i < CN_ARRAY_LEN(BAD_FILTERS); i++) {
        const char *s = BAD_FILTERS[i];
        assert_int_equal(mq_topic_filter_check((const uint8_t *)s, strlen(s), &err), CN_EPROTO);
        assert_int_equal(err.rule, MQ_R_FILTER);
    }
    assert_int_equal(mq_topic_name_check((const uint8_t *)"a//b/", 5, &err), 0);
    assert_int_equal(mq_topic_name_check((const uint8_t *)"a/b#", 4, &err), CN_EPROTO);
    assert_int_equal(err.rule, MQ_R_TOPIC_WILDCARD);
    assert_int_equal(mq_topic_name_check((const uint8_t *)"", 0, &err), CN_EPROTO);
    assert_int_equal(err.rule, MQ_R_TOPIC_EMPTY);

    mq_bin_t g = {NULL, 0}, f = {NULL, 0};
    const char *sh = "$share/grp/a/+/#";
    assert_int_equal(mq_share_parse((const uint8_t *)sh, strlen(sh), &g, &f, &err), 1);
    assert_true(g.len == 3 && memcmp(g.p, "grp", 3) == 0);
    assert_true(f.len == 5 && memcmp(f.p, "a/+/#", 5) == 0);
    assert_int_equal(mq_share_parse((const uint8_t *)"a/b", 3, &g, &f, &err), 0);
    assert_int_equal(mq_share_parse((const uint8_t *)"$share/g/a", 10, &g, &f, &err), 1);
    static const char *const BAD_SHARES[] = {"$share/",     "$share/g",  "$share//a",  "$share/#/a",
                                             "$share/g+/a", "$share/g/", "$share/g/a#"};
    for (size_t i = 0; i < CN_ARRAY_LEN(BAD_SHARES); i++) {
        const char *s = BAD_SHARES[i];
        assert_int_equal(mq_share_parse((const uint8_t *)s, strlen(s), &g, &f, &err), CN_EPROTO);
    }
}

static void test_utf8(void **state)
{
    (void)state;
    static const char *const GOOD[] = {"",
                                       "plain ascii longer than eight bytes",
                                       "caf\xc3\xa9",
                                       "\xe2\x82\xac",
                                       "\xf0\x9d\x84\x9e",
                                       "\xef\xbf\xbf" /* U+FFFF allowed */,
                                       "\xf4\x8f\xbf\xbf",
                                       "\x01\x7f"};
    static const char *const BAD[] = {
        "\x80",         "\xc0\xaf",         "\xc1\xbf",         "\xe0\x80\xaf",
        "\xed\xbf\xbf", "\xf0\x80\x80\xaf", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80",
        "\xe2\x82",     "abcdefgh\xff"};
    mq_err_t err;
    for (size_t i = 0; i < CN_ARRAY_LEN(GOOD); i++)
        assert_int_equal(mq_utf8_check((const uint8_t *)GOOD[i], strlen(GOOD[i]), &err), 0);
    for (size_t i = 0; i < CN_ARRAY_LEN(BAD); i++) {
        if (mq_utf8_check((const uint8_t *)BAD[i], strlen(BAD[i]), &err) != CN_EPROTO)
            fail_msg("bad utf-8 %zu accepted", i);
        assert_int_equal(err.rule, MQ_R_UTF8);
    }
    assert_int_equal(mq_utf8_check((const uint8_t *)"abcdefghij\0k", 12, &err), CN_EPROTO);
    assert_int_equal(err.rule, MQ_R_UTF8_NUL);
}

/* ---------------------------------------------------------- properties */

static void test_all_properties(void **state)
{
    (void)state;
    mq_pkt_t pkt, out;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQ_CONNACK;
    mq_props_t *pr = &pkt.u.connack.props;
    mq_uprop_t ups[3] = {
        {mq_str("b"), mq_str("1")}, {mq_str("a"), mq_str("2")}, {mq_str("b"), mq_str("3")}};
    pr->has = MQ_HAS(MQ_P_SESSION_EXPIRY) | MQ_HAS(MQ_P_ASSIGNED_CLIENT_ID) |
              MQ_HAS(MQ_P_SERVER_KEEP_ALIVE) | MQ_HAS(MQ_P_AUTH_METHOD) | MQ_HAS(MQ_P_AUTH_DATA) |
              MQ_HAS(MQ_P_RESPONSE_INFO) | MQ_HAS(MQ_P_SERVER_REF) | MQ_HAS(MQ_P_REASON_STRING) |
              MQ_HAS(MQ_P_RECEIVE_MAX) | MQ_HAS(MQ_P_TOPIC_ALIAS_MAX) | MQ_HAS(MQ_P_MAX_QOS) |
              MQ_HAS(MQ_P_RETAIN_AVAILABLE) | MQ_HAS(MQ_P_USER) | MQ_HAS(MQ_P_MAX_PACKET_SIZE) |
              MQ_HAS(MQ_P_WILDCARD_AVAILABLE) | MQ_HAS(MQ_P_SUB_ID_AVAILABLE) |
              MQ_HAS(MQ_P_SHARED_AVAILABLE);
    pr->session_expiry = 0xFFFFFFFF;
    pr->assigned_client_id = mq_str("auto-7");
    pr->server_keep_alive = 30;
    pr->auth_method = mq_str("SCRAM-SHA-1");
    pr->auth_data = (mq_bin_t){(const uint8_t *)"\0\1\2", 3};
    pr->response_info = mq_str("resp/");
    pr->server_ref = mq_str("other:1883");
    pr->reason_string = mq_str("ok");
    pr->receive_max = 65535;
    pr->topic_alias_max = 16;
    pr->max_qos = 1;
    pr->retain_available = 1;
    pr->max_packet_size = 1u << 20;
    pr->user = ups;
    pr->n_user = 3;
    cn_buf_t b;
    cn_buf_init(&b);
    assert_int_equal(mq_encode(&b, 5, &pkt), 0);
    mq_err_t err;
    assert_int_equal(split_decode(b.p, b.len, 5, S, &out, &err), 0);
    assert_true(mq_pkt_eq(&pkt, &out));
    const mq_props_t *d = &out.u.connack.props;
    assert_int_equal(d->session_expiry, 0xFFFFFFFF);
    assert_int_equal(d->max_packet_size, 1u << 20);
    assert_int_equal(d->n_user, 3);
    mq_piter_t it = {0};
    mq_uprop_t u;
    for (int i = 0; i < 3; i++) { /* order kept, duplicates kept */
        assert_int_equal(mq_props_user_next(d, &it, &u), 1);
        assert_true(u.val.len == 1 && u.val.p[0] == "123"[i]);
    }
    assert_int_equal(mq_props_user_next(d, &it, &u), 0);

    /* PUBLISH to a subscriber: every PUBLISH property, several sub ids. */
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQ_PUBLISH;
    mq_publish_t *p = &pkt.u.publish;
    uint32_t ids[3] = {1, 268435455, 300};
    p->topic = mq_str("a/b");
    p->payload = mq_str("{}");
    p->props.has = MQ_HAS(MQ_P_PAYLOAD_FORMAT) | MQ_HAS(MQ_P_MESSAGE_EXPIRY) |
                   MQ_HAS(MQ_P_CONTENT_TYPE) | MQ_HAS(MQ_P_RESPONSE_TOPIC) |
                   MQ_HAS(MQ_P_CORRELATION_DATA) | MQ_HAS(MQ_P_SUB_ID) | MQ_HAS(MQ_P_TOPIC_ALIAS);
    p->props.payload_format = 1;
    p->props.message_expiry = 5;
    p->props.content_type = mq_str("application/json");
    p->props.response_topic = mq_str("re/ply");
    p->props.correlation_data = mq_str("id-1");
    p->props.topic_alias = 9;
    p->props.sub_ids = ids;
    p->props.n_sub_id = 3;
    cn_buf_reset(&b);
    assert_int_equal(mq_encode(&b, 5, &pkt), 0);
    assert_int_equal(split_decode(b.p, b.len, 5, S, &out, &err), 0);
    assert_true(mq_pkt_eq(&pkt, &out));
    assert_int_equal(out.u.publish.props.n_sub_id, 3);
    assert_int_equal(out.u.publish.props.sub_id, 1);
    /* The same bytes from a client break MQTT-3.3.4-6. */
    assert_int_equal(split_decode(b.p, b.len, 5, C, &out, &err), CN_EPROTO);
    assert_int_equal(err.rule, MQ_R_PUB_SUBID);
    cn_buf_free(&b);
}

static void test_will_properties(void **state)
{
    (void)state;
    mq_pkt_t pkt, out;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQ_CONNECT;
    mq_connect_t *c = &pkt.u.connect;
    c->level = 5;
    c->will = c->will_retain = true;
    c->will_qos = 2;
    c->client_id = mq_str("");
    c->clean_start = true;
    c->props.has = MQ_HAS(MQ_P_REQUEST_PROBLEM) | MQ_HAS(MQ_P_REQUEST_RESPONSE) |
                   MQ_HAS(MQ_P_RECEIVE_MAX) | MQ_HAS(MQ_P_TOPIC_ALIAS_MAX);
    c->props.request_response = 1;
    c->props.receive_max = 1;
    c->props.topic_alias_max = 0;
    c->will_props.has = MQ_HAS(MQ_P_WILL_DELAY) | MQ_HAS(MQ_P_MESSAGE_EXPIRY);
    c->will_props.will_delay = 30;
    c->will_props.message_expiry = 60;
    c->will_topic = mq_str("dev/1/status");
    c->will_payload = mq_str("offline");
    cn_buf_t b;
    cn_buf_init(&b);
    assert_int_equal(mq_encode(&b, 5, &pkt), 0);
    mq_err_t err;
    assert_int_equal(split_decode(b.p, b.len, 5, C, &out, &err), 0);
    assert_true(mq_pkt_eq(&pkt, &out));
    assert_int_equal(out.u.connect.will_props.will_delay, 30);
    /* 3.1.1 and 3.1 encodings of the same CONNECT (no properties there). */
    for (unsigned lvl = 3; lvl <= 4; lvl++) {
        c->level = (uint8_t)lvl;
        memset(&c->props, 0, sizeof c->props);
        memset(&c->will_props, 0, sizeof c->will_props);
        cn_buf_reset(&b);
        assert_int_equal(mq_encode(&b, lvl, &pkt), 0);
        assert_int_equal(split_decode(b.p, b.len, 4, C, &out, &err), 0);
        assert_true(mq_pkt_eq(&pkt, &out));
    }
    cn_buf_free(&b);
}

/* A forwarded PUBLISH keeps the publisher's user properties (from raw),
 * survives being moved to another buffer, and gets the subscriber's ids. */
static void test_forward_and_rebase(void **state)
{
    (void)state;
    uint8_t in[256];
    size_t n = unhex("3C 15 00 01 74 00 01 0E 01 01 02 00 00 00 3C 26 00 01 6B 00 01 76 78", in,
                     sizeof in);
    mq_frame_t f;
    mq_err_t err;
    mq_publish_t pub;
    assert_int_equal(mq_split(in, n, 0, &f, &err), 1);
    assert_int_equal(mq_publish_decode(&f, 5, C, &pub, &err), 0);
    uint8_t *copy = malloc(n);
    memcpy(copy, in, n);
    mq_publish_rebase(&pub, in, n, copy);
    memset(in, 0xEE, sizeof in);
    uint32_t sid = 42;
    pub.qos = 1;
    pub.dup = false;
    pub.packet_id = 0x1234;
    pub.props.has |= MQ_HAS(MQ_P_SUB_ID);
    pub.props.sub_ids = &sid;
    pub.props.n_sub_id = 1;
    cn_buf_t b;
    cn_buf_init(&b);
    assert_int_equal(mq_publish_encode_header(&b, 5, &pub), 0);
    cn_buf_put(&b, pub.payload.p, pub.payload.len);
    expect_bytes(&b, "32 17 00 01 74 12 34 10 01 01 02 00 00 00 3C 0B 2A 26 00 01 6B 00 01 76 78");
    free(copy);
    cn_buf_free(&b);
}

static void test_rules_and_helpers(void **state)
{
    (void)state;
    for (int r = 0; r < MQ_R_COUNT; r++) {
        assert_true(strncmp(mq_rule_name(r), "MQ_R_", 5) == 0);
        assert_true(strlen(mq_rule_text(r)) > 0);
    }
    assert_string_equal(mq_rule_name(MQ_R_COUNT), "MQ_R_?");
    assert_int_equal(mq_v3_connack_rc(0x84), 1);
    assert_int_equal(mq_v3_connack_rc(0x85), 2);
    assert_int_equal(mq_v3_connack_rc(0x89), 3);
    assert_int_equal(mq_v3_connack_rc(0x86), 4);
    assert_int_equal(mq_v3_connack_rc(0x87), 5);
    assert_int_equal(mq_v3_connack_rc(0x81), -1);
    mq_frame_t f = {.type = MQ_PINGREQ};
    mq_pkt_t pkt;
    mq_err_t err;
    assert_int_equal(mq_decode(&f, 2, C, &pkt, &err), CN_EINVAL);
    assert_int_equal(mq_decode(&f, 4, 0, &pkt, &err), CN_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_roundtrip),    cmocka_unit_test(test_decoded_fields),
        cmocka_unit_test(test_encode_structs),     cmocka_unit_test(test_encode_invalid),
        cmocka_unit_test(test_malformed_fixtures), cmocka_unit_test(test_varint_boundaries),
        cmocka_unit_test(test_varint_rejects),     cmocka_unit_test(test_max_packet),
        cmocka_unit_test(test_publish_sizes),      cmocka_unit_test(test_split_byte_by_byte),
        cmocka_unit_test(test_topic_helpers),      cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_all_properties),     cmocka_unit_test(test_will_properties),
        cmocka_unit_test(test_forward_and_rebase), cmocka_unit_test(test_rules_and_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
