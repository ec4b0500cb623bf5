/* SPDX-License-Identifier: MIT */
/*
 * test_rules.c - ingest/rules/: candidate selection through the topic
 * trie, evaluation per decoded point, the exact strings each action
 * receives (JSON outputs, templates, keys, headers), per-rule metrics,
 * definition changes (put, replace, enable, delete) while a worker keeps
 * evaluating on another thread, JSON definitions both ways, validation
 * errors with positions, and the dry run.
 */
#include "rules/rules.h"
#include "router.h"
#include "rules/rules_int.h" /* MQ__STAT_SHARDS */

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

/* ------------------------------------------------------------- recorder */

typedef struct rec {
    cn_buf_t log; /* one line per action: rule#i|topic|key|body */
    int calls;
    int ret;
} rec_t;

static int on_action(void *arg, const mq_rules_out_t *o)
{
    rec_t *r = arg;
    char head[160];
    int k = snprintf(head, sizeof head, "%s#%u|", o->rule->id, o->action);
    cn_buf_put(&r->log, head, (size_t)k);
    if (o->topic)
        cn_buf_put(&r->log, o->topic, o->topic_len);
    cn_buf_put_u8(&r->log, '|');
    cn_buf_put(&r->log, o->key, o->key_len);
    cn_buf_put_u8(&r->log, '|');
    cn_buf_put(&r->log, o->body, o->body_len);
    for (uint32_t i = 0; o->headers && i < o->act->nheaders; i++) {
        cn_buf_put_u8(&r->log, '|');
        cn_buf_put(&r->log, o->act->headers[i].name, strlen(o->act->headers[i].name));
        cn_buf_put_u8(&r->log, '=');
        cn_buf_put(&r->log, o->headers[i], strlen(o->headers[i]));
    }
    cn_buf_put_u8(&r->log, '\n');
    r->calls++;
    return r->ret;
}

static void expect_log(rec_t *r, const char *want)
{
    cn_buf_put_u8(&r->log, 0);
    if (strcmp((const char *)r->log.p, want) != 0)
        print_message("want:\n%s\ngot:\n%s\n", want, (const char *)r->log.p);
    assert_string_equal((const char *)r->log.p, want);
    r->log.len = 0;
}

/* A message of one point with device_id tag and the given fields. */
typedef struct tmsg {
    eng_tag_t tags[1];
    eng_field_t fields[3];
    eng_point_t pt;
    mq_rules_msg_t m;
} tmsg_t;

static void mk(tmsg_t *t, const char *topic, const char *dev, double temp, int64_t rpm)
{
    memset(t, 0, sizeof *t);
    t->tags[0] = (eng_tag_t){"device_id", dev};
    t->fields[0] = (eng_field_t){"temperature", ENG_T_FLOAT, {.f = temp}};
    t->fields[1] = (eng_field_t){"rpm", ENG_T_INT, {.i = rpm}};
    t->fields[2] = (eng_field_t){"fw", ENG_T_STRING, {.s = {"1.2", 3}}};
    t->pt = (eng_point_t){.measurement = "telemetry",
                          .tags = t->tags,
                          .ntags = 1,
                          .ts = INT64_C(1767225600000000000),
                          .fields = t->fields,
                          .nfields = 3};
    t->m = (mq_rules_msg_t){.topic = topic,
                            .topic_len = strlen(topic),
                            .clientid = dev,
                            .qos = 1,
                            .ts = INT64_C(1767225601000000000),
                            .points = &t->pt,
                            .npoints = 1,
                            .payload = "{}",
                            .payload_len = 2};
}

static void put(mq_rules_t *rs, const char *id, const char *sql, const mq_rule_action_t *acts,
                uint32_t n)
{
    mq_rule_def_t d = {.id = id, .sql = sql, .enabled = true, .actions = acts, .nactions = n};
    mq_rules_err_t err;
    int rc = mq_rules_put(rs, &d, &err);
    if (rc < 0)
        print_message("put %s: %s\n", id, err.msg);
    assert_true(rc >= 0);
}

/* ------------------------------------------------------------------ tests */

static void test_select_and_dispatch(void **state)
{
    (void)state;
    rec_t r = {0};
    cn_buf_init(&r.log);
    mq_rules_t *rs;
    assert_int_equal(mq_rules_new(on_action, &r, &rs), 0);
    mq_kv_t hdr[] = {{"X-Dev", "${device_id}/${clientid}"}};
    mq_rule_action_t hot[] = {
        {.kind = MQ_ACT_WEBHOOK, .url = "http://127.0.0.1:9/hook", .headers = hdr, .nheaders = 1},
        {.kind = MQ_ACT_KAFKA, .topic = "alerts-${topic}", .body = "t=${t}$$ q=${qos}"},
    };
    mq_rule_action_t all[] = {
        {.kind = MQ_ACT_REPUBLISH, .topic = "copy/${device_id}", .key = "${fw}-${nothing}"}};
    put(rs, "hot",
        "SELECT device_id, temperature AS t FROM \"devices/+/telemetry\" WHERE "
        "temperature > 30",
        hot, 2);
    put(rs, "all", "SELECT * FROM \"devices/#\", \"devices/+/telemetry\"", all, 1);
    put(rs, "other", "SELECT * FROM \"factory/#\"", all, 1);
    assert_int_equal(mq_rules_count(rs), 3);

    mq_rules_worker_t *w;
    assert_int_equal(mq_rules_worker_new(rs, &w), 0);
    tmsg_t t;
    mk(&t, "devices/d1/telemetry", "d1", 31.5, 1200);
    assert_int_equal(mq_rules_eval(w, &t.m), 3);
    expect_log(&r, "all#0|copy/d1|1.2-|{\"device_id\":\"d1\",\"temperature\":31.5,\"rpm\":1200,"
                   "\"fw\":\"1.2\"}\n"
                   "hot#0||d1|{\"device_id\":\"d1\",\"t\":31.5}|X-Dev=d1/d1\n"
                   "hot#1|alerts-devices/d1/telemetry|d1|t=31.5$ q=1\n");
    mk(&t, "devices/d2/telemetry", "d2", 20.0, 900);
    assert_int_equal(mq_rules_eval(w, &t.m), 1);
    expect_log(&r, "all#0|copy/d2|1.2-|{\"device_id\":\"d2\",\"temperature\":20.0,\"rpm\":900,"
                   "\"fw\":\"1.2\"}\n");
    mk(&t, "elsewhere/d2", "d2", 40.0, 900);
    assert_int_equal(mq_rules_eval(w, &t.m), 0);

    mq_rule_metrics_t m;
    assert_int_equal(mq_rules_metrics(rs, "hot", &m), 0);
    assert_int_equal(m.matched, 2);
    assert_int_equal(m.passed, 1);
    assert_int_equal(m.failed, 0);
    assert_int_equal(m.actions, 2);
    assert_int_equal(mq_rules_metrics(rs, "all", &m), 0);
    assert_int_equal(m.matched, 2);
    assert_int_equal(m.passed, 2);
    assert_int_equal(mq_rules_metrics(rs, "other", &m), 0);
    assert_int_equal(m.matched, 0);
    assert_int_equal(mq_rules_metrics(rs, "nope", &m), CN_ENOTFOUND);

    /* disable, update and delete take effect on the next evaluation */
    assert_int_equal(mq_rules_enable(rs, "all", false), 0);
    mk(&t, "devices/d1/telemetry", "d1", 35.0, 1);
    assert_int_equal(mq_rules_eval(w, &t.m), 2);
    r.log.len = 0;
    put(rs, "hot", "SELECT rpm FROM \"devices/+/telemetry\" WHERE rpm = 1", NULL, 0);
    assert_int_equal(mq_rules_eval(w, &t.m), 0);
    assert_int_equal(mq_rules_metrics(rs, "hot", &m), 0);
    assert_int_equal(m.matched, 4); /* counters survive the update */
    assert_int_equal(m.passed, 3);
    assert_int_equal(m.actions, 4);
    assert_int_equal(mq_rules_delete(rs, "hot"), 0);
    assert_int_equal(mq_rules_delete(rs, "hot"), CN_ENOTFOUND);
    assert_int_equal(mq_rules_enable(rs, "all", true), 0);
    assert_int_equal(mq_rules_eval(w, &t.m), 1);
    r.log.len = 0;

    /* errors count `failed` and evaluation goes on; action errors count */
    put(rs, "bad", "SELECT 1 FROM \"devices/#\" WHERE fw > 3", NULL, 0);
    r.ret = -1;
    assert_int_equal(mq_rules_eval(w, &t.m), 1);
    assert_int_equal(mq_rules_metrics(rs, "bad", &m), 0);
    assert_int_equal(m.failed, 1);
    assert_int_equal(mq_rules_metrics(rs, "all", &m), 0);
    assert_int_equal(m.action_errors, 1);

    cn_buf_t b;
    cn_buf_init(&b);
    mq_rules_prometheus(rs, &b);
    cn_buf_put_u8(&b, 0);
    assert_non_null(strstr((const char *)b.p, "cairn_rule_failed_total{rule=\"bad\"} 1\n"));
    assert_non_null(strstr((const char *)b.p, "cairn_rule_passed_total{rule=\"all\"} 4\n"));
    cn_buf_free(&b);

    mq_rules_worker_free(w);
    mq_rules_free(rs);
    cn_buf_free(&r.log);
}

/* Logs what the fast paths hand over: rule|json or NULL|key|topic|body. */
static int on_action_json(void *arg, const mq_rules_out_t *o)
{
    rec_t *r = arg;
    cn_buf_put(&r->log, o->rule->id, strlen(o->rule->id));
    cn_buf_put_u8(&r->log, '|');
    if (o->json)
        cn_buf_put(&r->log, o->json, o->json_len);
    else
        cn_buf_put(&r->log, "NULL", 4);
    cn_buf_put_u8(&r->log, '|');
    cn_buf_put(&r->log, o->key, o->key_len);
    cn_buf_put_u8(&r->log, '|');
    if (o->topic) {
        assert_int_equal(o->topic[o->topic_len], 0);
        cn_buf_put(&r->log, o->topic, o->topic_len);
    }
    cn_buf_put_u8(&r->log, '|');
    assert_int_equal(o->key[o->key_len], 0);
    assert_int_equal(o->body[o->body_len], 0);
    cn_buf_put(&r->log, o->body, o->body_len);
    cn_buf_put_u8(&r->log, '\n');
    r->calls++;
    return 0;
}

/* The ingest path's fast paths (one comparison in the WHERE, outputs read
 * by slot, the outputs' JSON only for actions that send it, literal
 * templates, keys from outputs, per-worker counter shards): exact strings
 * and counts, missing fields and type errors counted as failures, many
 * rules on one filter, and more workers than shards. */
static void test_fast_paths(void **state)
{
    (void)state;
    rec_t r = {0};
    cn_buf_init(&r.log);
    mq_rules_t *rs;
    assert_int_equal(mq_rules_new(on_action_json, &r, &rs), 0);
    mq_rule_action_t kafka = {.kind = MQ_ACT_KAFKA, .topic = "lit$$x"};
    mq_rule_action_t tmpl = {
        .kind = MQ_ACT_KAFKA, .topic = "t/${dev}", .key = "${dev}", .body = "${dev}:${rpm}"};
    put(rs, "a",
        "SELECT device_id, temperature FROM \"devices/+/telemetry\" WHERE temperature > -1000000",
        &kafka, 1);
    put(rs, "b", "SELECT device_id, rpm FROM \"devices/+/telemetry\" WHERE -1000000 > rpm", &kafka,
        1);
    put(rs, "k", "SELECT device_id AS dev, rpm FROM \"devices/#\" WHERE rpm >= 1200", &tmpl, 1);
    put(rs, "m", "SELECT rpm FROM \"devices/+/telemetry\" WHERE humidity > 1", &kafka, 1);
    put(rs, "s", "SELECT rpm FROM \"devices/+/telemetry\" WHERE fw = 3", &kafka, 1);
    put(rs, "z", "SELECT temperature AS t, device_id FROM \"devices/#\" WHERE fw = '1.2'", &kafka,
        1);
    enum { NW = MQ__STAT_SHARDS + 2 };
    mq_rules_worker_t *w[NW];
    for (int i = 0; i < NW; i++)
        assert_int_equal(mq_rules_worker_new(rs, &w[i]), 0);
    tmsg_t t;
    for (int i = 0; i < NW; i++) {
        mk(&t, "devices/d\"1/telemetry", "d\"1", 31.5, 1200 + i);
        assert_int_equal(mq_rules_eval(w[i], &t.m), 3);
        char want[512];
        snprintf(want, sizeof want,
                 "a|{\"device_id\":\"d\\\"1\",\"temperature\":31.5}|d\"1|lit$x|"
                 "{\"device_id\":\"d\\\"1\",\"temperature\":31.5}\n"
                 "k|NULL|d\"1|t/d\"1|d\"1:%d\n"
                 "z|{\"t\":31.5,\"device_id\":\"d\\\"1\"}|d\"1|lit$x|"
                 "{\"t\":31.5,\"device_id\":\"d\\\"1\"}\n",
                 1200 + i);
        expect_log(&r, want);
    }
    mk(&t, "devices/d2/telemetry", "d2", 20.0, 5);
    assert_int_equal(mq_rules_eval(w[1], &t.m), 2);
    expect_log(&r, "a|{\"device_id\":\"d2\",\"temperature\":20.0}|d2|lit$x|"
                   "{\"device_id\":\"d2\",\"temperature\":20.0}\n"
                   "z|{\"t\":20.0,\"device_id\":\"d2\"}|d2|lit$x|{\"t\":20.0,\"device_id\":\"d2\"}\n");
    static const struct {
        const char *id;
        uint64_t matched, passed, failed, actions;
    } want[] = {
        {"a", NW + 1, NW + 1, 0, NW + 1}, {"b", NW + 1, 0, 0, 0},
        {"k", NW + 1, NW, 0, NW},         {"m", NW + 1, 0, NW + 1, 0},
        {"s", NW + 1, 0, NW + 1, 0},      {"z", NW + 1, NW + 1, 0, NW + 1},
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(want); i++) {
        mq_rule_metrics_t m;
        assert_int_equal(mq_rules_metrics(rs, want[i].id, &m), 0);
        assert_int_equal(m.matched, want[i].matched);
        assert_int_equal(m.passed, want[i].passed);
        assert_int_equal(m.failed, want[i].failed);
        assert_int_equal(m.actions, want[i].actions);
        assert_int_equal(m.action_errors, 0);
    }
    /* a freed worker's shard goes to the next worker with its counts */
    mq_rules_worker_free(w[2]);
    assert_int_equal(mq_rules_worker_new(rs, &w[2]), 0);
    assert_int_equal(mq_rules_eval(w[2], &t.m), 2);
    r.log.len = 0;
    mq_rule_metrics_t m;
    assert_int_equal(mq_rules_metrics(rs, "a", &m), 0);
    assert_int_equal(m.matched, NW + 2);
    assert_int_equal(m.passed, NW + 2);
    for (int i = 0; i < NW; i++)
        mq_rules_worker_free(w[i]);
    mq_rules_free(rs);
    cn_buf_free(&r.log);
}

static void test_points_and_undecoded(void **state)
{
    (void)state;
    rec_t r = {0};
    cn_buf_init(&r.log);
    mq_rules_t *rs;
    mq_rules_new(on_action, &r, &rs);
    mq_rule_action_t k = {.kind = MQ_ACT_KAFKA, .topic = "t"};
    put(rs, "r",
        "SELECT rpm, json_field(payload, 'x') AS x FROM \"#\" WHERE rpm > 5 OR rpm IS NULL", &k, 1);
    mq_rules_worker_t *w;
    mq_rules_worker_new(rs, &w);
    eng_field_t f1[] = {{"rpm", ENG_T_INT, {.i = 9}}}, f2[] = {{"rpm", ENG_T_INT, {.i = 1}}};
    eng_tag_t tg[] = {{"device_id", "d9"}};
    eng_point_t pts[] = {{.tags = tg, .ntags = 1, .ts = 1, .fields = f1, .nfields = 1},
                         {.tags = tg, .ntags = 1, .ts = 2, .fields = f2, .nfields = 1},
                         {.tags = tg, .ntags = 1, .ts = 3, .fields = f1, .nfields = 1}};
    mq_rules_msg_t m = {.topic = "a/b",
                        .topic_len = 3,
                        .points = pts,
                        .npoints = 3,
                        .payload = "{\"x\":[1]}",
                        .payload_len = 9};
    assert_int_equal(mq_rules_eval(w, &m), 2);
    expect_log(&r, "r#0|t|d9|{\"rpm\":9,\"x\":\"[1]\"}\nr#0|t|d9|{\"rpm\":9,\"x\":\"[1]\"}\n");
    m.npoints = 0; /* undecoded: one row, payload only */
    assert_int_equal(mq_rules_eval(w, &m), 1);
    expect_log(&r, "r#0|t||{\"rpm\":null,\"x\":\"[1]\"}\n");
    m.topic_len = 0;
    assert_int_equal(mq_rules_eval(w, &m), CN_EINVAL);
    mq_rules_worker_free(w);
    mq_rules_free(rs);
    cn_buf_free(&r.log);
}

static void test_validation(void **state)
{
    (void)state;
    mq_rules_t *rs;
    mq_rules_new(NULL, NULL, &rs);
    static const struct {
        const char *id, *sql;
        mq_rule_action_t act;
        const char *msg;
        uint32_t line, col;
    } cases[] = {
        {"",
         "SELECT * FROM \"a\"",
         {.kind = MQ_ACT_KAFKA, .topic = "t"},
         "id: must be 1 to 64 characters",
         0,
         0},
        {"a b",
         "SELECT * FROM \"a\"",
         {.kind = MQ_ACT_KAFKA, .topic = "t"},
         "id: only letters, digits, '_', '-' and '.' are allowed",
         0,
         0},
        {"x",
         "SELECT * FROM \"a\"\nWHERE a >",
         {.kind = MQ_ACT_KAFKA, .topic = "t"},
         "error parsing rule: found EOF, expected identifier, string, number, bool at line 2, "
         "char 10",
         2,
         10},
        {"x",
         "SELECT * FROM \"a/#/b\"",
         {.kind = MQ_ACT_KAFKA, .topic = "t"},
         "error in rule: invalid topic filter \"a/#/b\" at line 1, char 15",
         1,
         15},
        {"x",
         "SELECT * FROM \"a\", \"$share/g/a\"",
         {.kind = MQ_ACT_KAFKA, .topic = "t"},
         "error in rule: invalid topic filter \"$share/g/a\" at line 1, char 20",
         1,
         20},
        {"x",
         "SELECT nope(1) FROM \"a\"",
         {.kind = MQ_ACT_KAFKA, .topic = "t"},
         "error in rule: undefined function nope() at line 1, char 8",
         1,
         8},
        {"x",
         "SELECT * FROM \"a\"",
         {.kind = MQ_ACT_WEBHOOK, .url = "ftp://x"},
         "actions[0].url: an http:// or https:// URL is required",
         0,
         0},
        {"x", "SELECT * FROM \"a\"", {.kind = MQ_ACT_KAFKA}, "actions[0].topic: required", 0, 0},
        {"x",
         "SELECT * FROM \"a\"",
         {.kind = MQ_ACT_REPUBLISH, .topic = "t", .qos = 3},
         "actions[0].qos: must be 0, 1 or 2",
         0,
         0},
        {"x",
         "SELECT * FROM \"a\"",
         {.kind = MQ_ACT_KAFKA, .topic = "t/${x"},
         "actions[0].topic: unterminated ${ at byte 2",
         0,
         0},
        {"x",
         "SELECT * FROM \"a\"",
         {.kind = MQ_ACT_KAFKA, .topic = "t", .body = "${}"},
         "actions[0].body: empty ${} at byte 0",
         0,
         0},
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++) {
        mq_rule_def_t d = {.id = cases[i].id,
                           .sql = cases[i].sql,
                           .enabled = true,
                           .actions = &cases[i].act,
                           .nactions = 1};
        mq_rules_err_t err;
        int rc = mq_rules_put(rs, &d, &err);
        if (rc != CN_EINVAL || strcmp(err.msg, cases[i].msg) != 0)
            print_message("case %zu: rc %d [%s]\n", i, rc, err.msg);
        assert_int_equal(rc, CN_EINVAL);
        assert_string_equal(err.msg, cases[i].msg);
        assert_int_equal(err.line, cases[i].line);
        assert_int_equal(err.col, cases[i].col);
    }
    assert_int_equal(mq_rules_count(rs), 0);
    mq_rules_free(rs);
}

static void test_json_defs(void **state)
{
    (void)state;
    const char *text =
        "[{\"id\":\"hot\",\"name\":\"Hot\",\"sql\":\"SELECT * FROM \\\"d/#\\\"\","
        "\"actions\":[{\"type\":\"webhook\",\"url\":\"https://h/x\",\"headers\":{\"A\":\"${b}\"}},"
        "{\"type\":\"kafka\",\"topic\":\"k\",\"value\":\"v\"},"
        "{\"type\":\"republish\",\"topic\":\"r\",\"qos\":2,\"retain\":true}]},"
        "{\"id\":\"off\",\"sql\":\"SELECT a FROM x\",\"enabled\":false}]";
    mq_rule_doc_t *doc;
    const mq_rule_def_t *defs;
    size_t n;
    mq_rules_err_t err;
    assert_int_equal(mq_rule_doc_parse(text, strlen(text), false, &doc, &defs, &n, &err), 0);
    assert_int_equal(n, 2);
    cn_buf_t b;
    cn_buf_init(&b);
    mq_rule_def_json(&defs[0], &b);
    cn_buf_put_u8(&b, 0);
    assert_string_equal(
        (const char *)b.p,
        "{\"id\":\"hot\",\"name\":\"Hot\",\"sql\":\"SELECT * FROM \\\"d/#\\\"\",\"enabled\":true,"
        "\"actions\":[{\"type\":\"webhook\",\"url\":\"https://h/x\",\"method\":\"POST\","
        "\"headers\":{\"A\":\"${b}\"},\"body\":null,\"timeout_ms\":5000},"
        "{\"type\":\"kafka\",\"topic\":\"k\",\"key\":\"${device_id}\",\"value\":\"v\"},"
        "{\"type\":\"republish\",\"topic\":\"r\",\"qos\":2,\"retain\":true,\"payload\":null}]}");
    b.len = 0;
    mq_rule_def_json(&defs[1], &b);
    cn_buf_put_u8(&b, 0);
    assert_string_equal((const char *)b.p, "{\"id\":\"off\",\"name\":null,\"sql\":\"SELECT a FROM "
                                           "x\",\"enabled\":false,\"actions\":[]}");
    mq_rules_t *rs;
    mq_rules_new(NULL, NULL, &rs);
    assert_int_equal(mq_rules_replace(rs, defs, n, &err), 0);
    mq_rule_doc_free(doc);
    b.len = 0;
    assert_int_equal(mq_rules_json(rs, "off", &b), 0);
    cn_buf_put_u8(&b, 0);
    assert_string_equal((const char *)b.p,
                        "{\"id\":\"off\",\"name\":null,\"sql\":\"SELECT a FROM x\",\"enabled\":"
                        "false,\"actions\":[],\"source\":\"api\",\"metrics\":{\"matched\":0,"
                        "\"passed\":0,\"failed\":0,\"actions\":0,\"action_errors\":0}}");
    /* what GET returns reads back */
    assert_int_equal(mq_rule_doc_parse((const char *)b.p, b.len - 1, false, &doc, &defs, &n, &err),
                     0);
    mq_rule_doc_free(doc);
    cn_buf_free(&b);
    mq_rules_free(rs);

    static const struct {
        const char *in, *msg;
        int rc;
    } bad[] = {
        {"{\"id\":\"a\"", "invalid JSON at byte 9", CN_EPROTO},
        {"{\"sql\":\"SELECT a FROM b\"}", "id: required", CN_EINVAL},
        {"[{\"id\":\"a\",\"sql\":1}]", "[0].sql: must be a string", CN_EINVAL},
        {"{\"id\":\"a\",\"sql\":\"s\",\"enabeld\":true}", "unknown member \"enabeld\"", CN_EINVAL},
        {"{\"id\":\"a\",\"sql\":\"s\",\"actions\":[{\"type\":\"mail\"}]}",
         "actions[0].type: must be \"webhook\", \"kafka\" or \"republish\"", CN_EINVAL},
        {"{\"id\":\"a\",\"sql\":\"s\",\"actions\":[{\"type\":\"republish\",\"qos\":5}]}",
         "actions[0].qos: must be an integer from 0 to 2", CN_EINVAL},
        {"{\"id\":\"a\",\"sql\":\"s\",\"actions\":{}}", "actions: must be an array", CN_EINVAL},
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(bad); i++) {
        int rc = mq_rule_doc_parse(bad[i].in, strlen(bad[i].in), false, &doc, &defs, &n, &err);
        if (rc != bad[i].rc || strcmp(err.msg, bad[i].msg) != 0)
            print_message("bad %zu: rc %d [%s]\n", i, rc, err.msg);
        assert_int_equal(rc, bad[i].rc);
        assert_string_equal(err.msg, bad[i].msg);
    }
}

static void test_dry_run(void **state)
{
    (void)state;
    mq_kv_t hdr[] = {{"X-T", "${t}"}};
    mq_rule_action_t acts[] = {
        {.kind = MQ_ACT_WEBHOOK, .url = "http://h/x", .headers = hdr, .nheaders = 1},
        {.kind = MQ_ACT_KAFKA, .topic = "k-${device_id}"},
        {.kind = MQ_ACT_REPUBLISH, .topic = "r/${device_id}", .qos = 1, .body = "${t}C"},
    };
    mq_rule_def_t d = {.id = "t1",
                       .sql = "SELECT device_id, temperature AS t FROM \"devices/+/telemetry\" "
                              "WHERE temperature > 30",
                       .enabled = true,
                       .actions = acts,
                       .nactions = 3};
    tmsg_t t;
    mk(&t, "devices/d1/telemetry", "d1", 31.5, 1);
    cn_buf_t b;
    cn_buf_init(&b);
    mq_rules_err_t err;
    assert_int_equal(mq_rules_test(&d, &t.m, &b, &err), 0);
    cn_buf_put_u8(&b, 0);
    assert_string_equal(
        (const char *)b.p,
        "{\"matched\":true,\"passed\":true,\"error\":null,\"rows\":[{\"outputs\":{\"device_id\":"
        "\"d1\",\"t\":31.5},\"actions\":[{\"type\":\"webhook\",\"url\":\"http://h/x\","
        "\"method\":\"POST\",\"headers\":{\"X-T\":\"31.5\"},\"body\":\"{\\\"device_id\\\":"
        "\\\"d1\\\",\\\"t\\\":31.5}\"},{\"type\":\"kafka\",\"topic\":\"k-d1\",\"key\":\"d1\","
        "\"value\":\"{\\\"device_id\\\":\\\"d1\\\",\\\"t\\\":31.5}\"},{\"type\":\"republish\","
        "\"topic\":\"r/d1\",\"qos\":1,\"retain\":false,\"payload\":\"31.5C\"}]}]}");
    b.len = 0;
    mk(&t, "devices/d1/telemetry", "d1", 3.5, 1);
    assert_int_equal(mq_rules_test(&d, &t.m, &b, &err), 0);
    cn_buf_put_u8(&b, 0);
    assert_string_equal((const char *)b.p,
                        "{\"matched\":true,\"passed\":false,\"error\":null,\"rows\":[]}");
    b.len = 0;
    mk(&t, "other/d1", "d1", 33.5, 1);
    assert_int_equal(mq_rules_test(&d, &t.m, &b, &err), 0);
    cn_buf_put_u8(&b, 0);
    assert_string_equal((const char *)b.p,
                        "{\"matched\":false,\"passed\":false,\"error\":null,\"rows\":[]}");
    b.len = 0;
    d.sql = "SELECT 1 FROM \"#\" WHERE temperature > 'x'";
    assert_int_equal(mq_rules_test(&d, &t.m, &b, &err), 0);
    cn_buf_put_u8(&b, 0);
    assert_string_equal((const char *)b.p,
                        "{\"matched\":true,\"passed\":false,\"error\":\"type error: cannot "
                        "compare float and string\",\"rows\":[]}");
    cn_buf_free(&b);
}

/* A worker evaluates on its own thread while the main thread keeps
 * replacing, toggling and deleting rules: every evaluation returns a
 * sane count and nothing leaks or races (run under ASan/TSan in CI). */
typedef struct race {
    mq_rules_t *rs;
    atomic_int stop;
    int evals;
    int bad;
} race_t;

typedef struct pair_rec {
    int a, b;
} pair_rec_t;

static int on_pair(void *arg, const mq_rules_out_t *o)
{
    pair_rec_t *p = arg;
    if (o->rule->id[0] == 'a')
        p->a++;
    else
        p->b++;
    return 0;
}

static void race_thread(void *arg)
{
    race_t *rc = arg;
    mq_rules_worker_t *w;
    mq_rules_worker_new(rc->rs, &w);
    tmsg_t t;
    mk(&t, "devices/d1/telemetry", "d1", 25.0, 100);
    while (!atomic_load(&rc->stop) || rc->evals < 1000) {
        int n = mq_rules_eval(w, &t.m);
        if (n < 0 || n > 2)
            rc->bad++;
        rc->evals++;
    }
    mq_rules_worker_free(w);
}

static void test_concurrent_updates(void **state)
{
    (void)state;
    pair_rec_t pr = {0};
    race_t rc = {0};
    mq_rules_new(on_pair, &pr, &rc.rs);
    mq_rule_action_t k = {.kind = MQ_ACT_KAFKA, .topic = "t"};
    uv_thread_t th;
    assert_int_equal(uv_thread_create(&th, race_thread, &rc), 0);
    for (int i = 0; i < 300; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT rpm + %d AS v FROM \"devices/#\" WHERE rpm > %d", i,
                 i % 200);
        put(rc.rs, "a", sql, &k, 1);
        put(rc.rs, "b", sql, &k, 1);
        if (i % 3 == 0)
            mq_rules_enable(rc.rs, "b", false);
        if (i % 7 == 0)
            mq_rules_delete(rc.rs, "a");
    }
    atomic_store(&rc.stop, 1);
    uv_thread_join(&th);
    assert_int_equal(rc.bad, 0);
    assert_true(rc.evals >= 1000);
    mq_rules_free(rc.rs);
}

/* The rules' own filter matcher (rules.c NOTES 7) says what the router's
 * string matcher says, for every pair of filter and topic of up to four
 * levels over a small alphabet (empty levels, '$' topics, '+', '#'). */
static void append_levels(char (*out)[32], size_t *n, const char *const *alpha, size_t na,
                          size_t depth, const char *prefix)
{
    for (size_t i = 0; i < na; i++) {
        char *s = out[(*n)++];
        if (depth == 0)
            snprintf(s, 32, "%s", alpha[i]);
        else
            snprintf(s, 32, "%s/%s", prefix, alpha[i]);
        if (depth < 3)
            append_levels(out, n, alpha, na, depth + 1, s);
    }
}

static void test_filter_matcher(void **state)
{
    (void)state;
    static const char *const flev[] = {"a", "b", "", "+", "#", "$SYS"};
    static const char *const tlev[] = {"a", "b", "", "ab", "$SYS"};
    static char filters[2000][32], topics[1000][32];
    size_t nf = 0, nt = 0;
    append_levels(filters, &nf, flev, CN_ARRAY_LEN(flev), 0, "");
    append_levels(topics, &nt, tlev, CN_ARRAY_LEN(tlev), 0, "");
    size_t tested = 0, matched = 0;
    for (size_t i = 0; i < nf; i++) {
        size_t fl = strlen(filters[i]);
        if (fl == 0 || !mq_router_filter_valid(filters[i], fl))
            continue;
        mq__filter_t f;
        mq__filter_compile(filters[i], fl, &f);
        for (size_t j = 0; j < nt; j++) {
            size_t tl = strlen(topics[j]);
            if (tl == 0 || !mq_router_topic_valid(topics[j], tl))
                continue;
            bool want = mq_router_topic_matches(filters[i], fl, topics[j], tl);
            if (mq__filter_matches(&f, topics[j], tl) != want)
                fail_msg("filter '%s' topic '%s': want %d", filters[i], topics[j], want);
            tested++;
            matched += want;
        }
        mq__filter_free(&f);
    }
    assert_true(tested > 100000);
    assert_true(matched > 1000 && matched < tested);
}

/* Many candidates (rules.c NOTES 9): 21 rules on one filter, judged PASS,
 * FAIL or RUN in a pattern, some failing with an error; every rule counts
 * each row as matched, and the actions come in rule order, in packed mode
 * (quick rules with a plan, '*' rules, rules with headers) as in the plain
 * one. */
static void test_many_candidates(void **state)
{
    (void)state;
    static const char *const where[] = {
        "rpm > 1000",          /* PASS */
        "rpm < 1000",          /* FAIL */
        "rpm + 0 > 1000",      /* RUN, passes */
        "nothing > 1",         /* RUN, fails: missing field */
        "temperature > 100.5", /* FAIL */
        "temperature <= 31.5", /* PASS */
        "fw = 2",              /* RUN: type error */
    };
    mq_rule_action_t kafka = {.kind = MQ_ACT_KAFKA, .topic = "k", .key = "${device_id}"};
    static const mq_kv_t hdr[] = {{"X-Dev", "${device_id}"}};
    mq_rule_action_t hook = {
        .kind = MQ_ACT_WEBHOOK, .url = "http://127.0.0.1:9/h", .headers = hdr, .nheaders = 1};
    for (int packed = 0; packed < 2; packed++) {
        rec_t r = {0};
        cn_buf_init(&r.log);
        mq_rules_t *rs;
        assert_int_equal(mq_rules_new(on_action, &r, &rs), 0);
        mq_rules_set_packed(rs, packed != 0);
        enum { N = 21 };
        for (int i = 0; i < N; i++) {
            char id[8], sql[256];
            snprintf(id, sizeof id, "r%02d", i);
            snprintf(sql, sizeof sql, "SELECT %s FROM \"devices/+/telemetry\" WHERE %s",
                     i % 3 == 0   ? "device_id, rpm"
                     : i % 3 == 1 ? "*"
                                  : "rpm AS r",
                     where[i % CN_ARRAY_LEN(where)]);
            put(rs, id, sql, i % 4 == 3 ? &hook : &kafka, 1);
        }
        mq_rules_worker_t *w;
        assert_int_equal(mq_rules_worker_new(rs, &w), 0);
        tmsg_t t;
        mk(&t, "devices/d1/telemetry", "d1", 31.5, 1200);
        int want_calls = 0;
        cn_buf_t want;
        cn_buf_init(&want);
        for (int i = 0; i < N; i++) {
            int k = i % (int)CN_ARRAY_LEN(where);
            if (k != 0 && k != 2 && k != 5)
                continue;
            want_calls++;
            const char *out = i % 3 == 0   ? "{\"device_id\":\"d1\",\"rpm\":1200}"
                              : i % 3 == 1 ? "{\"device_id\":\"d1\",\"temperature\":31.5,"
                                             "\"rpm\":1200,\"fw\":\"1.2\"}"
                                           : "{\"r\":1200}";
            char line[256];
            snprintf(line, sizeof line, "r%02d#0|%s|d1|%s%s\n", i, i % 4 == 3 ? "" : "k", out,
                     i % 4 == 3 ? "|X-Dev=d1" : ""); /* a webhook's key: device_id */
            cn_buf_put(&want, line, strlen(line));
        }
        cn_buf_put_u8(&want, 0);
        for (int round = 0; round < 3; round++) {
            assert_int_equal(mq_rules_eval(w, &t.m), want_calls);
            if (!packed) {
                expect_log(&r, (const char *)want.p);
            } else {
                /* packed bodies are bytes: the count and order of actions */
                assert_int_equal(r.calls, want_calls * (round + 1));
                r.log.len = 0;
            }
        }
        for (int i = 0; i < N; i++) {
            char id[8];
            snprintf(id, sizeof id, "r%02d", i);
            int k = i % (int)CN_ARRAY_LEN(where);
            mq_rule_metrics_t m;
            assert_int_equal(mq_rules_metrics(rs, id, &m), 0);
            assert_int_equal(m.matched, 3);
            assert_int_equal(m.passed, k == 0 || k == 2 || k == 5 ? 3 : 0);
            assert_int_equal(m.failed, k == 3 || k == 6 ? 3 : 0);
            assert_int_equal(m.actions, m.passed);
        }
        cn_buf_free(&want);
        mq_rules_worker_free(w);
        mq_rules_free(rs);
        cn_buf_free(&r.log);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_and_dispatch), cmocka_unit_test(test_points_and_undecoded),
        cmocka_unit_test(test_validation),          cmocka_unit_test(test_json_defs),
        cmocka_unit_test(test_fast_paths),          cmocka_unit_test(test_dry_run),
        cmocka_unit_test(test_concurrent_updates),  cmocka_unit_test(test_filter_matcher),
        cmocka_unit_test(test_many_candidates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
