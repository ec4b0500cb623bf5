/* SPDX-License-Identifier: MIT */
/*
 * test_rules_packed.c - packed outputs (rules.h mq_rules_set_packed): two
 * rule sets with the same rules, one packed and one not, evaluate the same
 * messages; every action must receive the same bytes once the packed ones
 * are rendered with mq_rules_packed_json (outputs of every value type,
 * escapes, missing fields, aliases, expressions, '*', rules sharing an
 * output list), only webhook and Kafka JSON bodies are packed (republish
 * and templates are not), and a sink log record flagged
 * MQ_SINK_REC_PACKED comes back from mq_sink_log_read as that JSON.
 */
#include "rules/rules.h"
#include "sink/sink.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

typedef struct rec {
    cn_buf_t log; /* one line per action: rule#i|packed|key|topic|body */
    int packed;
} rec_t;

static int on_action(void *arg, const mq_rules_out_t *o)
{
    rec_t *r = arg;
    char head[160];
    int k = snprintf(head, sizeof head, "%s#%u|", o->rule->id, o->action);
    cn_buf_put(&r->log, head, (size_t)k);
    cn_buf_put(&r->log, o->key, o->key_len);
    cn_buf_put_u8(&r->log, '|');
    if (o->topic)
        cn_buf_put(&r->log, o->topic, o->topic_len);
    cn_buf_put_u8(&r->log, '|');
    if (o->packed) {
        assert_null(o->json);
        assert_int_not_equal(o->act->kind, MQ_ACT_REPUBLISH);
        assert_null(o->act->body);
        assert_int_equal(mq_rules_packed_json(o->body, o->body_len, &r->log), 0);
        r->packed++;
    } else {
        cn_buf_put(&r->log, o->body, o->body_len);
    }
    cn_buf_put_u8(&r->log, '\n');
    return 0;
}

static void put(mq_rules_t *rs, const char *id, const char *sql, const mq_rule_action_t *a,
                uint32_t n)
{
    mq_rule_def_t d = {.id = id, .sql = sql, .enabled = true, .actions = a, .nactions = n};
    mq_rules_err_t err;
    int rc = mq_rules_put(rs, &d, &err);
    if (rc < 0)
        print_message("put %s: %s\n", id, err.msg);
    assert_true(rc >= 0);
}

static const mq_rule_action_t KAFKA[] = {{.kind = MQ_ACT_KAFKA, .topic = "t"}};
static const mq_rule_action_t MIXED[] = {
    {.kind = MQ_ACT_WEBHOOK, .url = "http://127.0.0.1:9/h"},
    {.kind = MQ_ACT_REPUBLISH, .topic = "re/${device_id}", .qos = 1},
    {.kind = MQ_ACT_KAFKA, .topic = "k-${device_id}", .body = "v=${v} s=${s}"},
    {.kind = MQ_ACT_KAFKA, .topic = "k2", .key = "${s}"},
    {.kind = MQ_ACT_KAFKA, .topic = "${device_id}", .key = "${v}", .body = "${s}"},
};
/* actions the packed fast path takes (rules.c dispatch_quick): Kafka with
 * plain or one-name keys and topics, webhooks without headers */
static const mq_rule_action_t QUICK[] = {
    {.kind = MQ_ACT_KAFKA, .topic = "${device_id}", .key = "${s}"},
    {.kind = MQ_ACT_KAFKA, .topic = "lit", .key = "fixed"},
    {.kind = MQ_ACT_WEBHOOK, .url = "http://127.0.0.1:9/q", .key = "${v}"},
    {.kind = MQ_ACT_KAFKA, .topic = "${s}"},
    {.kind = MQ_ACT_KAFKA, .topic = "${i}", .key = "${missing}"},
};
static const mq_kv_t HDR[] = {{"X-Dev", "${device_id}"}};
static const mq_rule_action_t HEADERS[] = {
    {.kind = MQ_ACT_WEBHOOK, .url = "http://127.0.0.1:9/h", .headers = HDR, .nheaders = 1},
    {.kind = MQ_ACT_KAFKA, .topic = "${s}", .key = "${v}"},
};
static const struct {
    const mq_rule_action_t *a;
    uint32_t n;
} SETS[] = {{KAFKA, CN_ARRAY_LEN(KAFKA)},
            {MIXED, CN_ARRAY_LEN(MIXED)},
            {QUICK, CN_ARRAY_LEN(QUICK)},
            {HEADERS, CN_ARRAY_LEN(HEADERS)}};

static const struct {
    const char *id, *sql;
    int mixed;
} RULES[] = {
    {"a", "SELECT device_id, v FROM \"d/#\"", 0},
    {"b", "SELECT device_id, v FROM \"d/#\" WHERE v > -1e308", 0}, /* b's outputs = a's */
    {"c", "SELECT v AS \"we\\\"ird\\nname\", s, i, b, missing FROM \"d/#\"", 0},
    {"d", "SELECT * FROM \"d/#\"", 0},
    {"e", "SELECT v * 2 AS dbl, i + 1, upper(s) AS up, topic(2) AS t2, qos FROM \"d/#\"", 1},
    {"f", "SELECT s, s AS s2, device_id AS \"é\" FROM \"d/+/x\"", 1},
    {"g", "SELECT device_id, v FROM \"d/#\" WHERE i > 0", 1},
    {"h", "SELECT device_id, v, s FROM \"d/#\"", 2},
    {"i", "SELECT v + 1 AS w, s FROM \"d/#\" WHERE i >= 0", 2},
    {"j", "SELECT device_id, v, s FROM \"d/#\"", 3},
    {"k", "SELECT s, i FROM \"d/+/x\" WHERE b", 2},
    /* a WHERE that passes without a run: a quick rule without a plan,
     * rules that are not quick, more rules than a word of verdicts */
    {"l", "SELECT * FROM \"d/#\" WHERE v > -1e308", 2},
    {"m", "SELECT device_id, v FROM \"d/#\" WHERE v > -1e308", 3},
    {"n", "SELECT v, s FROM \"d/#\" WHERE v > -1e308", 1},
    {"o", "SELECT s, v FROM \"d/#\" WHERE v < 1e308", 2},
};

#define S10  "0123456789"
#define S100 S10 S10 S10 S10 S10 S10 S10 S10 S10 S10

/* Values the messages cycle through. */
static const double DOUBLES[] = {0.0,       -0.0,   31.2,
                                 1e21,      1e-7,   123456789.125,
                                 -2.5e-300, 5e-324, 1.7976931348623157e308,
                                 0.1 + 0.2, NAN,    INFINITY,
                                 -INFINITY, 100.0,  3.0e15};
static const char *const STRINGS[] = {"ok", "", "q\"uote\\back", "tab\there\n", "\x01\x1f",
                                      "h\xc3\xa9llo", "bad\xff utf8", "</script>",
                                      /* the inline copy's edges (8..16 bytes) */
                                      "8bytes!!", "exactly-16-bytes", "seventeen-bytes!!",
                                      /* more than a plan reserves: the buffer grows mid-way */
                                      "long " S100 S100 S100 S100 S100 S100};

static void one(mq_rules_worker_t *wp, mq_rules_worker_t *we, int k)
{
    char dev[32];
    snprintf(dev, sizeof dev, "dev-%03d", k % 7);
    eng_tag_t tags[1] = {{"device_id", dev}};
    const char *s = STRINGS[k % (int)CN_ARRAY_LEN(STRINGS)];
    eng_field_t f[4];
    size_t nf = 0;
    f[nf++] = (eng_field_t){"v", ENG_T_FLOAT, {.f = DOUBLES[k % (int)CN_ARRAY_LEN(DOUBLES)]}};
    if (k % 5 != 4) /* sometimes missing */
        f[nf++] = (eng_field_t){"s", ENG_T_STRING, {.s = {s, strlen(s)}}};
    f[nf++] = (eng_field_t){"i", ENG_T_INT, {.i = (k % 3 - 1) * (INT64_C(1) << (k % 63))}};
    f[nf++] = (eng_field_t){"b", ENG_T_BOOL, {.b = k % 2 == 0}};
    eng_point_t pt = {.measurement = "m",
                      .tags = tags,
                      .ntags = 1,
                      .ts = INT64_C(1767225600000000000) + k,
                      .fields = f,
                      .nfields = nf};
    const char *topic = k % 3 ? "d/1/x" : "d/2/y";
    mq_rules_msg_t m = {.topic = topic,
                        .topic_len = strlen(topic),
                        .clientid = dev,
                        .qos = 1,
                        .ts = pt.ts,
                        .points = &pt,
                        .npoints = 1,
                        .payload = "{}",
                        .payload_len = 2};
    int a = mq_rules_eval(wp, &m), b = mq_rules_eval(we, &m);
    assert_int_equal(a, b);
}

static void test_same_bytes(void **state)
{
    (void)state;
    rec_t rp = {0}, re = {0};
    cn_buf_init(&rp.log);
    cn_buf_init(&re.log);
    mq_rules_t *sp, *se;
    assert_int_equal(mq_rules_new(on_action, &rp, &sp), 0);
    assert_int_equal(mq_rules_new(on_action, &re, &se), 0);
    mq_rules_set_packed(sp, true);
    for (size_t i = 0; i < CN_ARRAY_LEN(RULES); i++) {
        const mq_rule_action_t *a = SETS[RULES[i].mixed].a;
        uint32_t n = SETS[RULES[i].mixed].n;
        put(sp, RULES[i].id, RULES[i].sql, a, n);
        put(se, RULES[i].id, RULES[i].sql, a, n);
    }
    mq_rules_worker_t *wp, *we;
    mq_rules_worker_new(sp, &wp);
    mq_rules_worker_new(se, &we);
    for (int k = 0; k < 600; k++)
        one(wp, we, k);
    assert_true(rp.packed > 2000);
    assert_int_equal(re.packed, 0);
    assert_int_equal(rp.log.len, re.log.len);
    assert_memory_equal(rp.log.p, re.log.p, re.log.len);
    /* spot checks of the rendering itself */
    cn_buf_put_u8(&re.log, 0);
    const char *t = (const char *)re.log.p;
    assert_non_null(strstr(t, "a#0|dev-000|t|{\"device_id\":\"dev-000\",\"v\":0.0}\n"));
    assert_non_null(
        strstr(t, "c#0|dev-002|t|{\"we\\\"ird\\nname\":31.2,\"s\":\"q\\\"uote\\\\back\","));
    assert_non_null(strstr(t, "\"v\":null"));
    assert_non_null(strstr(t, "h#1|fixed|lit|{\"device_id\":\"dev-000\",\"v\":0.0,\"s\":\"ok\"}\n"));
    assert_non_null(strstr(t, "h#0|ok|dev-000|{"));
    assert_non_null(strstr(t, "h#2|0.0||{"));
    assert_non_null(strstr(t, "h#4||0|{"));
    mq_rules_worker_free(wp);
    mq_rules_worker_free(we);
    mq_rules_free(sp);
    mq_rules_free(se);
    cn_buf_free(&rp.log);
    cn_buf_free(&re.log);
}

static void test_render_errors(void **state)
{
    (void)state;
    cn_buf_t b;
    cn_buf_init(&b);
    cn_buf_put(&b, "x", 1);
    static const struct {
        const char *p;
        size_t n;
    } bad[] = {
        {"", 0},
        {"\x02\0\0\0\0", 5},                       /* version */
        {"\x01\x01\0\0\0", 5},                     /* one output, none there */
        {"\x01\x01\0\0\0\x02\0\0\0\"a", 11},       /* key past the end */
        {"\x01\x01\0\0\0\x01\0\0\0:\x07", 11},     /* unknown type */
        {"\x01\x01\0\0\0\x01\0\0\0:\x01\x02", 12}, /* bool 2 */
        {"\x01\x01\0\0\0\x01\0\0\0:\x03\0\0", 13}, /* short float */
        {"\x01\x00\0\0\0!", 6},                    /* trailing bytes */
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(bad); i++) {
        assert_int_equal(mq_rules_packed_json(bad[i].p, bad[i].n, &b), CN_ECORRUPT);
        assert_int_equal(b.len, 1);
    }
    assert_int_equal(mq_rules_packed_json("\x01\0\0\0\0", 5, &b), 0);
    assert_int_equal(mq_rules_packed_json("\x01\x01\0\0\0\x04\0\0\0\"k\":\x00", 14, &b), 0);
    assert_int_equal(b.len, 1 + 2 + 10);
    assert_memory_equal(b.p, "x{}{\"k\":null}", b.len);
    cn_buf_free(&b);
}

static int on_sink(void *arg, const mq_rules_out_t *o)
{
    cn_buf_t *b = arg;
    assert_true(o->packed);
    cn_buf_reset(b);
    cn_buf_put(b, o->body, o->body_len);
    return 0;
}

/* A packed record through the sink log comes back as the JSON. */
static void test_sink_log_renders(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_rules_packed.XXXXXX";
    assert_non_null(mkdtemp(dir));
    mq_sink_log_opts_t o = {.dir = dir, .no_fsync = true};
    mq_sink_log_t *log;
    assert_int_equal(mq_sink_log_open(&o, &log), 0);
    uint16_t id;
    assert_int_equal(mq_sink_log_sink(log, "s", &id), 0);
    assert_int_equal(mq_sink_log_start(log, NULL, NULL), 0);

    cn_buf_t body;
    cn_buf_init(&body);
    mq_rules_t *rs;
    assert_int_equal(mq_rules_new(on_sink, &body, &rs), 0);
    mq_rules_set_packed(rs, true);
    put(rs, "r", "SELECT device_id, v, s FROM \"d/#\"", KAFKA, 1);
    mq_rules_worker_t *w;
    mq_rules_worker_new(rs, &w);
    eng_tag_t tags[1] = {{"device_id", "dev-1"}};
    eng_field_t f[2] = {{"v", ENG_T_FLOAT, {.f = 0.1}}, {"s", ENG_T_STRING, {.s = {"a\"b", 3}}}};
    eng_point_t pt = {.measurement = "m", .tags = tags, .ntags = 1, .fields = f, .nfields = 2};
    mq_rules_msg_t m = {.topic = "d/1", .topic_len = 3, .points = &pt, .npoints = 1};
    assert_int_equal(mq_rules_eval(w, &m), 1);

    uint64_t seq;
    mq_sink_rec_t r = {.sink = id,
                       .key = (const uint8_t *)"dev-1",
                       .key_len = 5,
                       .payload = body.p,
                       .payload_len = body.len,
                       .flags = MQ_SINK_REC_PACKED};
    assert_int_equal(mq_sink_log_append(log, &r, &seq), 0);
    mq_sink_rec_t plain = {.sink = id, .payload = (const uint8_t *)"raw", .payload_len = 3};
    assert_int_equal(mq_sink_log_append(log, &plain, &seq), 0);
    assert_int_equal(mq_sink_log_wait(log, seq), 0);

    mq_sink_pos_t pos = {.fd = -1};
    mq_sink_log_seek(&pos, 1);
    mq_sink_batch_t b;
    mq_sink_batch_init(&b);
    assert_int_equal(mq_sink_log_read(log, &pos, id, 1 << 20, &b), 2);
    static const char want[] = "{\"device_id\":\"dev-1\",\"v\":0.1,\"s\":\"a\\\"b\"}";
    assert_int_equal(b.recs[0].payload_len, sizeof want - 1);
    assert_memory_equal(b.recs[0].payload, want, sizeof want - 1);
    assert_int_equal(b.recs[0].flags, 0);
    assert_int_equal(b.recs[0].key_len, 5);
    assert_memory_equal(b.recs[0].key, "dev-1", 5);
    assert_int_equal(b.recs[1].payload_len, 3);
    assert_memory_equal(b.recs[1].payload, "raw", 3);
    mq_sink_batch_free(&b);
    mq_sink_pos_close(&pos);

    mq_rules_worker_free(w);
    mq_rules_free(rs);
    cn_buf_free(&body);
    mq_sink_log_close(log);
    cn_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_bytes),
        cmocka_unit_test(test_render_errors),
        cmocka_unit_test(test_sink_log_renders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
