/* SPDX-License-Identifier: MIT */
/*
 * test_xfilter.c - query/export/xfilter.c, export's --where evaluator: how
 * a condition splits into tag predicates, a time range and residual terms;
 * per-series decisions; row results on a hand-made batch with nulls (field
 * versus tag resolution, numeric and string comparisons, regexes, OR across
 * tags and fields, arithmetic, now()); compile errors.
 */
#include "export/xfilter.h"

#include <stdio.h>

/* cmocka.h needs these first; keep clang-format from sorting them after it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

static const eng_field_info_t FIELDS[4] = {
    {"temp", ENG_T_FLOAT, 1}, {"n", ENG_T_INT, 2}, {"ok", ENG_T_BOOL, 3}, {"msg", ENG_T_STRING, 4}};

/* 6 rows at t = 10..15; temp 1.5*i, n = i (null at 2), ok = i odd (null
 * at 0), msg "m<i>" (null at 5). */
typedef struct batch {
    int64_t ts[6];
    double temp[6];
    int64_t n[6];
    uint8_t ok[6];
    eng_str_t msg[6];
    char txt[6][4];
    uint8_t v[4][6];
    const void *vals[4];
    const uint8_t *valid[4];
    eng_batch_t b;
} batch_t;

static void batch_fill(batch_t *t)
{
    memset(t, 0, sizeof *t);
    for (int i = 0; i < 6; i++) {
        t->ts[i] = 10 + i;
        t->temp[i] = 1.5 * i;
        t->n[i] = i;
        t->ok[i] = (uint8_t)(i % 2);
        snprintf(t->txt[i], sizeof t->txt[i], "m%d", i);
        t->msg[i] = (eng_str_t){t->txt[i], 2};
        for (int f = 0; f < 4; f++)
            t->v[f][i] = 1;
    }
    t->v[1][2] = 0;
    t->v[2][0] = 0;
    t->v[3][5] = 0;
    t->vals[0] = t->temp;
    t->vals[1] = t->n;
    t->vals[2] = t->ok;
    t->vals[3] = t->msg;
    for (int f = 0; f < 4; f++)
        t->valid[f] = t->v[f];
    t->b = (eng_batch_t){.n = 6, .ts = t->ts, .vals = t->vals, .valid = t->valid};
}

static qry_xf_t *compile(const char *cond, qry_query_t **q)
{
    qry_error_t err;
    assert_int_equal(qry_parse_expr(cond, strlen(cond), q, &err), 0);
    qry_xf_t *f = NULL;
    char msg[256];
    int rc = qry_xf_compile((*q)->expr, FIELDS, 4, 1000, &f, msg, sizeof msg);
    if (rc < 0)
        fprintf(stderr, "compile %s: %s\n", cond, msg);
    assert_int_equal(rc, 0);
    return f;
}

static const eng_tag_t TAGS_A[2] = {{"device_id", "d1"}, {"site", "north"}};
static const eng_tag_t TAGS_B[1] = {{"device_id", "d2"}};

/* Rows selected for a series with tags (or NONE/ALL) as a "010110" string. */
static void rows_are(const char *cond, const eng_tag_t *tags, uint32_t ntags, const char *want)
{
    qry_query_t *q = NULL;
    qry_xf_t *f = compile(cond, &q);
    batch_t t;
    batch_fill(&t);
    char got[8] = "";
    int s = qry_xf_series(f, tags, ntags);
    if (s == QRY_XF_NONE) {
        snprintf(got, sizeof got, "NONE");
    } else if (s == QRY_XF_ALL) {
        snprintf(got, sizeof got, "ALL");
    } else {
        uint8_t sel[6];
        uint32_t k = qry_xf_rows(f, &t.b, sel);
        uint32_t c = 0;
        for (int i = 0; i < 6; i++) {
            got[i] = (char)('0' + sel[i]);
            c += sel[i];
        }
        got[6] = 0;
        assert_int_equal(k, c);
    }
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "%s: got %s want %s\n", cond, got, want);
        fail();
    }
    qry_xf_free(f);
    qry_query_free(q);
}

static void test_split(void **state)
{
    (void)state;
    qry_query_t *q = NULL;
    qry_xf_t *f = compile("device_id = 'd1' AND time >= 12 AND time < 20 AND site !~ /^s/ AND "
                          "temp > 1 AND 15 >= time AND time > 11.5",
                          &q);
    const eng_tag_pred_t *p = NULL;
    assert_int_equal(qry_xf_tag_preds(f, &p), 2);
    assert_string_equal(p[0].key, "device_id");
    assert_int_equal(p[0].op, ENG_TAG_EQ);
    assert_string_equal(p[0].val, "d1");
    assert_string_equal(p[1].key, "site");
    assert_int_equal(p[1].op, ENG_TAG_NREGEX);
    assert_string_equal(p[1].val, "\\`s"); /* Go's ^ as POSIX text */
    int64_t lo = 0, hi = 100;
    qry_xf_range(f, &lo, &hi);
    assert_int_equal(lo, 12);
    assert_int_equal(hi, 16);
    qry_xf_free(f);
    qry_query_free(q);

    /* Under OR nothing is pushed down; time = x is [x, x+1); now(). */
    f = compile("device_id = 'd1' OR temp > 1", &q);
    assert_int_equal(qry_xf_tag_preds(f, &p), 0);
    qry_xf_free(f);
    qry_query_free(q);
    f = compile("time = 13", &q);
    lo = INT64_MIN, hi = INT64_MAX;
    qry_xf_range(f, &lo, &hi);
    assert_int_equal(lo, 13);
    assert_int_equal(hi, 14);
    qry_xf_free(f);
    qry_query_free(q);
    f = compile("time > now() - 10ns AND time <= '1970-01-01T00:00:00.000001Z'", &q);
    lo = INT64_MIN, hi = INT64_MAX;
    qry_xf_range(f, &lo, &hi);
    assert_int_equal(lo, 991);
    assert_int_equal(hi, 1001);
    qry_xf_free(f);
    qry_query_free(q);
}

static void test_rows(void **state)
{
    (void)state;
    rows_are("temp > 3", TAGS_A, 2, "000111");
    rows_are("n != 3", TAGS_A, 2, "110011"); /* null n at 2: false */
    rows_are("n >= 2.5", TAGS_A, 2, "000111");
    rows_are("ok = true", TAGS_A, 2, "010101");
    rows_are("ok != true", TAGS_A, 2, "001010"); /* null ok at 0 */
    rows_are("msg =~ /[13]/", TAGS_A, 2, "010100");
    rows_are("msg !~ /[13]/", TAGS_A, 2, "101010"); /* null msg at 5 */
    rows_are("msg =~ /(?i)^M[13]$/", TAGS_A, 2, "010100"); /* Go's syntax */
    rows_are("msg =~ /^m\\d$/", TAGS_A, 2, "111110");
    rows_are("msg >= 'm3'", TAGS_A, 2, "000110");
    rows_are("temp * 2 = n * 3", TAGS_A, 2, "110111");
    rows_are("n / 2 = 1.5", TAGS_A, 2, "000100");
    rows_are("n % 2 = 1 OR time = 10", TAGS_A, 2, "110101");
    rows_are("-temp < -6", TAGS_A, 2, "000001");
    rows_are("site = 'north' OR n = 1", TAGS_A, 2, "ALL");
    rows_are("site = 'north' OR n = 1", TAGS_B, 1, "010000");
    rows_are("site = 'north' OR site = 'south'", TAGS_B, 1, "NONE");
    rows_are("site = '' OR n = 100", TAGS_B, 1, "ALL");
    rows_are("site =~ /.*/ OR n = 100", TAGS_B, 1, "000000"); /* a missing tag never matches */
    rows_are("site !~ /x/ OR n = 100", TAGS_B, 1, "ALL");
    rows_are("temp::tag = ''", TAGS_A, 2, "ALL");   /* no tag named temp */
    rows_are("nosuch::field > 0", TAGS_A, 2, "NONE"); /* a null field */
    rows_are("nosuch = 'x' OR n = 100", TAGS_A, 2, "000000"); /* a missing tag */
    rows_are("temp = 'x'", TAGS_A, 2, "000000");      /* mismatched types */
    rows_are("(temp > 1 AND temp < 6) OR msg = 'm0'", TAGS_A, 2, "111100");
}

static void test_errors(void **state)
{
    (void)state;
    const char *bad[] = {"mean(temp) > 1", "msg = /x/", "msg =~ 'x'", "temp > $p", "msg =~ /(/"};
    const char *why[] = {"function mean() is not supported in an export condition",
                         "a regular expression goes only on the right of =~ or !~",
                         "a regular expression goes only on the right of =~ or !~",
                         "bind parameter $p has no value in an export condition",
                         "bad regular expression /(/"};
    for (size_t i = 0; i < CN_ARRAY_LEN(bad); i++) {
        qry_query_t *q = NULL;
        qry_error_t err;
        assert_int_equal(qry_parse_expr(bad[i], strlen(bad[i]), &q, &err), 0);
        qry_xf_t *f = NULL;
        char msg[256] = "";
        assert_int_equal(qry_xf_compile(q->expr, FIELDS, 4, 0, &f, msg, sizeof msg), CN_EINVAL);
        assert_string_equal(msg, why[i]);
        qry_query_free(q);
    }
    qry_xf_t *f = NULL;
    assert_int_equal(qry_xf_compile(NULL, FIELDS, 4, 0, &f, NULL, 0), 0);
    assert_int_equal(qry_xf_series(f, TAGS_B, 1), QRY_XF_ALL);
    qry_xf_free(f);
    qry_xf_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
