/* SPDX-License-Identifier: MIT */
/*
 * fuzz_rule_def.c - libFuzzer target for rule definitions in JSON
 * (ingest/rules/def.c: the rules file and /api/v1/rules bodies) and the
 * validation and compilation behind them (crule.c).
 *
 * Any input either fails with a message, or yields definitions; each one
 * is validated, and a valid one is written back with mq_rule_def_json,
 * read again and written again: the two texts must be identical.  A valid
 * definition is also dry-run over a fixed message.  A broken property
 * aborts.
 */
#include "ingest/rules/rules.h"

#include <stdio.h>
#include <stdlib.h>

static void check(bool ok, const char *what)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_rule_def: %s\n", what);
    abort();
}

static void round_trip(const mq_rule_def_t *def)
{
    cn_buf_t a, b;
    cn_buf_init(&a);
    cn_buf_init(&b);
    mq_rule_def_json(def, &a);
    mq_rule_doc_t *doc;
    const mq_rule_def_t *defs;
    size_t n;
    mq_rules_err_t err;
    int rc = mq_rule_doc_parse((const char *)a.p, a.len, false, &doc, &defs, &n, &err);
    if (rc < 0)
        fprintf(stderr, "fuzz_rule_def: reparse: %s\n%.*s\n", err.msg, (int)a.len,
                (const char *)a.p);
    check(rc == 0 && n == 1, "written definition does not read back");
    mq_rule_def_json(&defs[0], &b);
    check(a.len == b.len && memcmp(a.p, b.p, a.len) == 0, "json(parse(json)) differs");
    mq_rule_doc_free(doc);
    cn_buf_free(&a);
    cn_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    mq_rule_doc_t *doc;
    const mq_rule_def_t *defs;
    size_t n;
    mq_rules_err_t err;
    int rc = mq_rule_doc_parse((const char *)data, size, true, &doc, &defs, &n, &err);
    if (rc < 0) {
        check((rc == CN_EINVAL || rc == CN_EPROTO) && err.msg[0], "error shape");
        return 0;
    }
    static const eng_tag_t tags[] = {{"device_id", "d1"}};
    static const eng_field_t fields[] = {{"temperature", ENG_T_FLOAT, {.f = 31.5}},
                                         {"rpm", ENG_T_INT, {.i = 9}}};
    eng_point_t pt = {.measurement = "m", .tags = tags, .ntags = 1, .fields = fields, .nfields = 2};
    mq_rules_msg_t m = {.topic = "devices/d1/telemetry",
                        .topic_len = 20,
                        .points = &pt,
                        .npoints = 1,
                        .payload = data,
                        .payload_len = size};
    for (size_t i = 0; i < n; i++) {
        mq_rule_def_t d = defs[i];
        if (!d.id)
            d.id = "fuzz";
        if (mq_rule_validate(&d, &err) < 0) {
            check(err.code == CN_EINVAL && err.msg[0], "validation error shape");
            continue;
        }
        round_trip(&d);
        cn_buf_t out;
        cn_buf_init(&out);
        check(mq_rules_test(&d, &m, &out, &err) == 0, "dry run of a valid rule failed");
        cn_buf_free(&out);
    }
    mq_rule_doc_free(doc);
    return 0;
}
