/* SPDX-License-Identifier: MIT */
/*
 * test_rules_ingest.c - the rules on the ingest path (server/ingest.c's
 * srv_ingest_rules) and the rule store (server/rules.c): a PUBLISH stored
 * through the topic templates is evaluated on its decoded row (device_id
 * from the topic), an unmatched topic on its payload alone, with the
 * publisher's QoS and user name; rules created through the store survive
 * a reopen of meta.db while rules-file rules are refused changes.
 */
#include "cfg.h"
#include "ingest.h"
#include "rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

typedef struct rec {
    cn_buf_t log;
} rec_t;

static int on_action(void *arg, const mq_rules_out_t *o)
{
    rec_t *r = arg;
    cn_buf_put(&r->log, o->rule->id, strlen(o->rule->id));
    cn_buf_put_u8(&r->log, ' ');
    cn_buf_put(&r->log, o->key, o->key_len);
    cn_buf_put_u8(&r->log, ' ');
    cn_buf_put(&r->log, o->body, o->body_len);
    cn_buf_put_u8(&r->log, '\n');
    return 0;
}

static void expect(rec_t *r, const char *want)
{
    cn_buf_put_u8(&r->log, 0);
    assert_string_equal((const char *)r->log.p, want);
    r->log.len = 0;
}

static void test_ingest_path(void **state)
{
    (void)state;
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/cairn-test-rules-ingest-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char rules_file[128];
    snprintf(rules_file, sizeof rules_file, "%s/rules.json", dir);
    const char *text =
        "[{\"id\":\"hot\",\"sql\":\"SELECT device_id, temperature, qos, username FROM "
        "\\\"devices/+/telemetry\\\" WHERE temperature > 30\",\"actions\":[{\"type\":\"kafka\","
        "\"topic\":\"hot\"}]},"
        "{\"id\":\"raw\",\"sql\":\"SELECT json_field(payload, 'v') AS v FROM \\\"raw/#\\\"\","
        "\"actions\":[{\"type\":\"webhook\",\"url\":\"http://127.0.0.1:9/\"}]}]";
    assert_int_equal(cn_file_write_atomic(rules_file, text, strlen(text)), 0);

    srv_cfg_t cfg;
    srv_cfg_init(&cfg);
    assert_int_equal(srv_cfg_set(&cfg, "data-dir", dir, "test", stderr), 0);
    assert_int_equal(srv_cfg_set(&cfg, "rules-file", rules_file, "test", stderr), 0);
    eng_opts_t eo;
    eng_opts_default(&eo);
    eo.dir = dir;
    eo.durability = ENG_DUR_OS;
    eng_db_t *db;
    assert_int_equal(eng_open(&eo, &db), 0);
    rec_t rec;
    cn_buf_init(&rec.log);
    srv_rules_t *rules;
    assert_int_equal(srv_rules_open(&cfg, on_action, &rec, &rules, stderr), 0);
    srv_ingest_t *in;
    assert_int_equal(srv_ingest_new(&cfg, &in, stderr), 0);
    srv_ingest_set_rules(in, srv_rules_set(rules)); /* before start: it makes a worker */
    assert_int_equal(srv_ingest_start(in, db, NULL, 1), 0);
    srv_ingest_worker_t *w = srv_ingest_worker_new(in);

    static const char t1[] = "devices/d1/telemetry", p1[] = "{\"temperature\":31.5}";
    srv_ingest_res_t res;
    assert_int_equal(srv_ingest_publish(w, "c1", t1, strlen(t1), p1, strlen(p1), &res), 0);
    assert_true(res.stored);
    assert_int_equal(srv_ingest_rules(w, "c1", "alice", 1, t1, strlen(t1), p1, strlen(p1)), 1);
    expect(&rec, "hot d1 {\"device_id\":\"d1\",\"temperature\":31.5,\"qos\":1,\"username\":"
                 "\"alice\"}\n");

    static const char t2[] = "raw/x", p2[] = "{\"v\":[1,2]}";
    assert_int_equal(srv_ingest_publish(w, "c2", t2, strlen(t2), p2, strlen(p2), &res), 0);
    assert_false(res.stored);
    assert_int_equal(srv_ingest_rules(w, "c2", NULL, 0, t2, strlen(t2), p2, strlen(p2)), 1);
    expect(&rec, "raw  {\"v\":\"[1,2]\"}\n");

    /* the store: API rules persist, file rules are read-only */
    mq_rules_err_t err;
    char new_id[MQ_RULE_ID_MAX + 1] = "";
    mq_rule_def_t d = {.sql = "SELECT * FROM \"x/#\"", .enabled = true};
    assert_int_equal(srv_rules_apply(rules, SRV_RULES_CREATE, NULL, &d, new_id, &err), 0);
    assert_string_equal(new_id, "rule-1");
    assert_int_equal(srv_rules_apply(rules, SRV_RULES_DISABLE, "hot", NULL, new_id, &err), -EPERM);
    assert_int_equal(srv_rules_apply(rules, SRV_RULES_DISABLE, "rule-1", NULL, new_id, &err), 0);
    assert_int_equal(srv_rules_apply(rules, SRV_RULES_DELETE, "nope", NULL, new_id, &err),
                     CN_ENOTFOUND);

    srv_ingest_worker_free(w);
    srv_ingest_free(in);
    srv_rules_close(rules);
    assert_int_equal(srv_rules_open(&cfg, on_action, &rec, &rules, stderr), 0);
    mq_rule_def_t *got;
    assert_int_equal(mq_rules_get(srv_rules_set(rules), "rule-1", &got), 0);
    assert_false(got->enabled);
    assert_false(got->from_file);
    assert_string_equal(got->sql, "SELECT * FROM \"x/#\"");
    mq_rule_def_free(got);
    assert_int_equal(mq_rules_count(srv_rules_set(rules)), 3);
    srv_rules_close(rules);

    eng_close(db);
    srv_cfg_free(&cfg);
    cn_buf_free(&rec.log);
    assert_int_equal(cn_rmtree(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ingest_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
