/* SPDX-License-Identifier: MIT */
/*
 * fuzz_rule.c - libFuzzer target for the rule language (query/rule.c,
 * eval.c, eval_run.c, eval_fn.c) and the JSON DOM (query/json.c).
 *
 * The input is a rule text.  It either fails with a well-formed error or
 * parses; a parsed rule must print, reparse and print to the same text.  A
 * rule that compiles is run over a fixed message whose payload is the
 * input itself (so json_field walks arbitrary bytes); the verdict must be
 * 1, 0 or a negative code with a message, and the JSON rendering of the
 * outputs must parse as JSON.  The input is also parsed as a JSON
 * document on its own.  A broken property aborts.
 */
#include "query/eval.h"

#include <stdio.h>
#include <stdlib.h>

static void check(bool ok, const char *what, const cn_buf_t *a, const cn_buf_t *b)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_rule: %s\n first: %.*s\n again: %.*s\n", what, a ? (int)a->len : 0,
            a ? (const char *)a->p : "", b ? (int)b->len : 0, b ? (const char *)b->p : "");
    abort();
}

static void run_rule(const qry_rule_t *r, const uint8_t *data, size_t size, qry_jdoc_t *doc)
{
    static const eng_tag_t tags[] = {{"device_id", "dev-000001"}, {"fleet", "fleet-1"}};
    const eng_field_t fields[] = {
        {"temperature", ENG_T_FLOAT, {.f = 21.37}},
        {"rpm", ENG_T_INT, {.i = 1500}},
        {"on", ENG_T_BOOL, {.b = 1}},
        {"fw", ENG_T_STRING, {.s = {"1.2", 3}}},
        {"a.b", ENG_T_INT, {.i = INT64_MIN}},
    };
    qry_symtab_t *st;
    qry_symtab_new(&st);
    qry_prog_t *p;
    qry_error_t err;
    int rc = qry_prog_compile(r, st, &p, &err);
    if (rc < 0) {
        check(rc == CN_EINVAL && p == NULL && strncmp(err.msg, "error in rule: ", 15) == 0,
              "compile error shape", NULL, NULL);
        qry_symtab_free(st);
        return;
    }
    qry_row_t *row;
    qry_row_new(st, &row);
    qry_msg_t m = {.topic = "devices/dev-000001/telemetry",
                   .topic_len = 28,
                   .clientid = "dev-000001",
                   .qos = 1,
                   .ts = INT64_C(1767225600000000000),
                   .tags = tags,
                   .ntags = 2,
                   .fields = fields,
                   .nfields = 5,
                   .payload = data,
                   .payload_len = size};
    qry_row_bind(row, &m);
    rc = qry_prog_run(p, row);
    check(rc == 0 || rc == 1 || (rc < 0 && qry_row_error(row)[0]), "verdict", NULL, NULL);
    if (rc == 1) {
        cn_buf_t b;
        cn_buf_init(&b);
        qry_row_json(row, &b);
        const qry_json_t *root;
        check(qry_jdoc_parse(doc, (const char *)b.p, b.len, &root, NULL) == 0 &&
                  root->kind == QRY_J_OBJ,
              "output is not a JSON object", &b, NULL);
        cn_buf_free(&b);
    }
    qry_row_free(row);
    qry_prog_free(p);
    qry_symtab_free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    qry_jdoc_t *doc;
    qry_jdoc_new(&doc);
    const qry_json_t *root;
    size_t off = SIZE_MAX;
    int rc = qry_jdoc_parse(doc, (const char *)data, size, &root, &off);
    check(rc == 0 || ((rc == CN_EPROTO || rc == CN_ELIMIT) && off <= size), "json verdict", NULL,
          NULL);

    qry_rule_t *r = NULL, *r2 = NULL;
    qry_error_t err;
    rc = qry_rule_parse((const char *)data, size, &r, &err);
    if (rc < 0) {
        check(r == NULL && (rc == CN_EINVAL || rc == CN_ELIMIT), "error code", NULL, NULL);
        check(strncmp(err.msg, "error parsing rule: ", 20) == 0, "message prefix", NULL, NULL);
        check(rc != CN_EINVAL || (err.off <= size && err.line >= 1 && err.col >= 1), "position",
              NULL, NULL);
        qry_jdoc_free(doc);
        return 0;
    }
    cn_buf_t a, b;
    cn_buf_init(&a);
    cn_buf_init(&b);
    qry_print_rule(r, &a);
    rc = qry_rule_parse((const char *)a.p, a.len, &r2, &err);
    if (rc < 0)
        fprintf(stderr, "fuzz_rule: reparse: %s\n", err.msg);
    check(rc == 0, "printed rule does not parse", &a, NULL);
    qry_print_rule(r2, &b);
    check(a.len == b.len && memcmp(a.p, b.p, a.len) == 0, "print(parse(print)) differs", &a, &b);
    run_rule(r, data, size, doc);
    cn_buf_free(&a);
    cn_buf_free(&b);
    qry_rule_free(r);
    qry_rule_free(r2);
    qry_jdoc_free(doc);
    return 0;
}
