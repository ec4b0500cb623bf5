/* SPDX-License-Identifier: MIT */
/*
 * test_rule_parse.c - query/rule.c and the compile step of query/eval.c:
 * rule goldens (input -> canonical text, which prints back to itself),
 * the parsed structure, syntax errors and compile errors with their exact
 * message and position.
 */
#include "eval.h"

#include <stdio.h>
#include <stdlib.h>

/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

static char *canon(const char *s, qry_error_t *err)
{
    qry_rule_t *r = NULL;
    if (qry_rule_parse(s, strlen(s), &r, err) < 0)
        return NULL;
    cn_buf_t b;
    cn_buf_init(&b);
    qry_print_rule(r, &b);
    char *out = cn_strndup((const char *)b.p, b.len);
    cn_buf_free(&b);
    qry_rule_free(r);
    return out;
}

typedef struct golden {
    const char *in;
    const char *out; /* NULL: already canonical */
} golden_t;

static const golden_t goldens[] = {
    {"SELECT * FROM \"sensors/#\"", NULL},
    {"select temperature, rpm as speed from 'sensors/+/temp' where temperature > 30",
     "SELECT temperature, rpm AS speed FROM \"sensors/+/temp\" WHERE temperature > 30"},
    {"SELECT a.b, payload.x.y FROM \"t/1\", \"t/2\"",
     "SELECT \"a.b\", \"payload.x.y\" FROM \"t/1\", \"t/2\""},
    {"SELECT topic(2) AS dev, clientid, qos FROM \"d/#\" WHERE topic(1) = 'd' AND qos >= 1",
     "SELECT topic(2) AS dev, clientid, qos FROM \"d/#\" WHERE topic(1) = 'd' AND qos >= 1"},
    {"SELECT x FROM \"a\" WHERE fw IN ('1.0', '1.1') AND NOT \"on\" AND fw NOT LIKE '2.%'", NULL},
    {"SELECT x FROM \"a\" WHERE y IS NULL OR z IS NOT NULL", NULL},
    {"SELECT json_field(payload, 'a.b[1]') AS v FROM \"raw/#\";",
     "SELECT json_field(payload, 'a.b[1]') AS v FROM \"raw/#\""},
    {"SELECT format_time(timestamp, '%Y-%m-%d') AS day, upper(fw) FROM \"x\"", NULL},
    {"SELECT (a + b) * c AS s FROM x WHERE time > '2026-01-01T00:00:00Z'",
     "SELECT (a + b) * c AS s FROM \"x\" WHERE time > '2026-01-01T00:00:00Z'"},
    {"SELECT a AS \"out name\" FROM \"q\\\"uote\"", "SELECT a AS \"out name\" FROM \"q\\\"uote\""},
};

static void test_goldens(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < CN_ARRAY_LEN(goldens); i++) {
        const golden_t *g = &goldens[i];
        qry_error_t err;
        char *got = canon(g->in, &err);
        if (!got) {
            print_message("golden %zu [%s]: %s\n", i, g->in, err.msg);
            bad++;
            continue;
        }
        const char *want = g->out ? g->out : g->in;
        if (strcmp(got, want) != 0) {
            print_message("golden %zu\n  want [%s]\n  got  [%s]\n", i, want, got);
            bad++;
        }
        char *again = canon(got, &err);
        if (!again || strcmp(again, got) != 0) {
            print_message("golden %zu does not print back to itself: [%s]\n", i, got);
            bad++;
        }
        cn_free(again);
        cn_free(got);
    }
    assert_int_equal(bad, 0);
}

static void test_structure(void **state)
{
    (void)state;
    const char *s = "SELECT *, a AS b FROM \"x/+\" , 'y/#' WHERE a = 1";
    qry_rule_t *r;
    qry_error_t err;
    assert_int_equal(qry_rule_parse(s, strlen(s), &r, &err), 0);
    assert_int_equal(r->nfields, 2);
    assert_int_equal(r->fields[0].expr->kind, QRY_EXPR_WILDCARD);
    assert_null(r->fields[0].alias);
    assert_string_equal(r->fields[1].alias, "b");
    assert_int_equal(r->nfilters, 2);
    assert_string_equal(r->filters[0], "x/+");
    assert_string_equal(r->filters[1], "y/#");
    assert_int_equal(r->filter_offs[0], 22);
    assert_int_equal(r->filter_offs[1], 30);
    assert_non_null(r->cond);
    assert_int_equal(r->cond->u.bin.op, QRY_OP_EQ);
    qry_rule_free(r);
}

typedef struct err_case {
    const char *in;
    const char *msg;
    uint32_t off;
} err_case_t;

static const err_case_t syntax_errors[] = {
    {"", "error parsing rule: found EOF, expected SELECT at line 1, char 1", 0},
    {"SELECT a FORM \"x\"", "error parsing rule: found FORM, expected FROM at line 1, char 10", 9},
    {"SELECT a FROM", "error parsing rule: found EOF, expected topic filter at line 1, char 14",
     13},
    {"SELECT a FROM \"x\" WHERE",
     "error parsing rule: found EOF, expected identifier, string, "
     "number, bool at line 1, char 24",
     23},
    {"SELECT a FROM \"x\" GROUP BY a",
     "error parsing rule: found GROUP, expected WHERE, EOF at line 1, char 19", 18},
    {"SELECT a FROM \"x\" WHERE b IS 3",
     "error parsing rule: found 3, expected NOT, NULL at line 1, char 30", 29},
    {"SELECT a FROM \"x\" WHERE b IN 3",
     "error parsing rule: found 3, expected ( at line 1, char 30", 29},
    {"SELECT a\nFROM \"x\" WHERE b = 'open",
     "error parsing rule: unterminated string at line 2, char 20", 28},
};

static const err_case_t compile_errors[] = {
    {"SELECT foo(a) FROM \"x\"", "error in rule: undefined function foo() at line 1, char 8", 7},
    {"SELECT mean(a) FROM \"x\"",
     "error in rule: aggregate function mean() is not allowed in a rule at line 1, char 8", 7},
    {"SELECT a FROM \"x\" WHERE abs(a, b) > 1",
     "error in rule: invalid number of arguments for abs, expected 1, got 2 at line 1, char 25",
     24},
    {"SELECT substr(a) FROM \"x\"",
     "error in rule: invalid number of arguments for substr, expected at least 2, got 1 at line "
     "1, char 8",
     7},
    {"SELECT a FROM \"x\" WHERE a =~ 'x'",
     "error in rule: =~ needs a regex literal on its right at line 1, char 30", 29},
    {"SELECT a FROM \"x\" WHERE a =~ /(/",
     "error in rule: invalid regex: missing closing ) at line 1, char 30", 29},
    {"SELECT a::float FROM \"x\"",
     "error in rule: '::' casts are not supported in rules at line 1, char 8", 7},
    {"SELECT a + * FROM \"x\"",
     "error in rule: * is only allowed as a whole output at line 1, "
     "char 12",
     11},
    {"SELECT $p FROM \"x\"",
     "error in rule: bind parameters are not supported in rules at line 1, char 8", 7},
};

static void test_errors(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < CN_ARRAY_LEN(syntax_errors); i++) {
        const err_case_t *c = &syntax_errors[i];
        qry_rule_t *r = (qry_rule_t *)1;
        qry_error_t err;
        int rc = qry_rule_parse(c->in, strlen(c->in), &r, &err);
        if (rc != CN_EINVAL || r != NULL || strcmp(err.msg, c->msg) != 0 || err.off != c->off) {
            print_message("syntax %zu [%s]: rc %d off %u msg [%s]\n", i, c->in, rc, err.off,
                          err.msg);
            bad++;
        }
    }
    for (size_t i = 0; i < CN_ARRAY_LEN(compile_errors); i++) {
        const err_case_t *c = &compile_errors[i];
        qry_rule_t *r;
        qry_error_t err;
        assert_int_equal(qry_rule_parse(c->in, strlen(c->in), &r, &err), 0);
        qry_symtab_t *st;
        qry_symtab_new(&st);
        qry_prog_t *p = (qry_prog_t *)1;
        int rc = qry_prog_compile(r, st, &p, &err);
        if (rc != CN_EINVAL || p != NULL || strcmp(err.msg, c->msg) != 0 || err.off != c->off) {
            print_message("compile %zu [%s]: rc %d off %u msg [%s]\n", i, c->in, rc, err.off,
                          err.msg);
            bad++;
        }
        qry_symtab_free(st);
        qry_rule_free(r);
    }
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_goldens),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
