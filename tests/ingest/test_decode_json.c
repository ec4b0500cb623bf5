/* SPDX-License-Identifier: MIT */
/*
 * test_decode_json.c - the JSON payload decoder (ingest/decode/json.c):
 * the standard workload's payload for several records with exact points,
 * timestamps in every unit and as RFC 3339, value types and flattening,
 * arrays of records, IoTDB tablets (column-major values, data types, nulls),
 * every syntax error with its line, column and reason, every truncation of a
 * payload, depth and size limits, invalid UTF-8, duplicate keys, numbers out
 * of range, and float exactness against strtod.
 */
#include <inttypes.h>
#include <math.h>
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

#include "decode/decode.h"
#include "ingest/decode_check.h"

#define NOW INT64_C(1767225600000000000)

typedef struct fx {
    mq_dec_batch_t *b;
    mq_dec_opts_t o;
    eng_tag_t tags[1];
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    mq_dec_batch_new(&f->b);
    mq_dec_opts_default(&f->o);
    f->o.prec = MQ_DEC_AUTO;
    f->o.now_ns = NOW;
    f->o.measurement = "telemetry";
    f->tags[0].key = "device_id";
    f->tags[0].val = "dev-000001";
    f->o.tags = f->tags;
    f->o.ntags = 1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    mq_dec_batch_free(f->b);
    free(f);
    return 0;
}

static const eng_point_t *decode(fx_t *f, const char *s, int want, size_t *n)
{
    mq_dec_batch_reset(f->b);
    int rc = mq_dec_json(f->b, &f->o, s, strlen(s));
    if (rc != want) {
        size_t ne;
        const mq_dec_err_t *e = mq_dec_batch_errors(f->b, &ne);
        char buf[128] = "";
        if (ne)
            mq_dec_err_format(e, buf, sizeof buf);
        fail_msg("%s: rc %d want %d (%s)", s, rc, want, buf);
    }
    return mq_dec_batch_points(f->b, n);
}

static void expect_err(fx_t *f, const char *want)
{
    expect_one_err(f->b, want);
}

/* ---------------------------------------------------------------- golden */

static void test_workload_payload(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *json;
        double t, h, pr, v, c;
        int64_t rpm;
        double lat, lon;
        int64_t bat, st, ms;
    } rec[] = {
        {"{\"ts\":1767225600000,\"temperature\":21.37,\"humidity\":45.2,\"pressure\":1013.2,"
         "\"voltage\":12.345,\"current\":1.234,\"rpm\":1500,\"latitude\":48.123456,"
         "\"longitude\":11.612345,\"battery\":87,\"status\":0}",
         21.37, 45.2, 1013.2, 12.345, 1.234, 1500, 48.123456, 11.612345, 87, 0,
         INT64_C(1767225600000)},
        {"{\"ts\":1767225610000,\"temperature\":-3.05,\"humidity\":100.0,\"pressure\":950.0,"
         "\"voltage\":10.500,\"current\":0.000,\"rpm\":0,\"latitude\":48.299999,"
         "\"longitude\":11.500000,\"battery\":100,\"status\":3}",
         -3.05, 100.0, 950.0, 10.5, 0.0, 0, 48.299999, 11.5, 100, 3, INT64_C(1767225610000)},
        {"{ \"ts\" : 1767229190000 ,\n \"temperature\": 59.99, \"humidity\": 0.1,"
         "\"pressure\":1049.9,\"voltage\":13.499,\"current\":4.999,\"rpm\":6000,"
         "\"latitude\":48.100030,\"longitude\":11.699970,\"battery\":15,\"status\":1}\r\n",
         59.99, 0.1, 1049.9, 13.499, 4.999, 6000, 48.10003, 11.69997, 15, 1,
         INT64_C(1767229190000)},
    };
    for (size_t r = 0; r < CN_ARRAY_LEN(rec); r++) {
        size_t n;
        const eng_point_t *p = decode(f, rec[r].json, 1, &n);
        assert_int_equal(n, 1);
        assert_string_equal(p->measurement, "telemetry");
        assert_ptr_equal(p->tags, f->tags); /* borrowed, not copied */
        assert_int_equal(p->ntags, 1);
        assert_int_equal(p->nfields, 10);
        assert_true(p->ts == rec[r].ms * 1000000);
        expect_f(p, "temperature", rec[r].t);
        expect_f(p, "humidity", rec[r].h);
        expect_f(p, "pressure", rec[r].pr);
        expect_f(p, "voltage", rec[r].v);
        expect_f(p, "current", rec[r].c);
        expect_i(p, "rpm", rec[r].rpm);
        expect_f(p, "latitude", rec[r].lat);
        expect_f(p, "longitude", rec[r].lon);
        expect_i(p, "battery", rec[r].bat);
        expect_i(p, "status", rec[r].st);
        assert_int_equal(mq_dec_batch_nerrors(f->b), 0);
    }
}

static void test_timestamps(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *json;
        int64_t ns;
    } cases[] = {
        {"{\"ts\":1767225600,\"v\":1}", NOW},
        {"{\"ts\":1767225600.25,\"v\":1}", NOW + 250000000},
        {"{\"ts\":1.7672256e9,\"v\":1}", NOW},
        {"{\"ts\":1767225600123,\"v\":1}", NOW + 123000000},
        {"{\"ts\":1767225600123456,\"v\":1}", NOW + 123456000},
        {"{\"ts\":1767225600123456789,\"v\":1}", NOW + 123456789},
        {"{\"time\":9000000000,\"v\":1}", INT64_C(9000000000000000000)},
        {"{\"timestamp\":10000000000,\"v\":1}", INT64_C(10000000000000000)},
        {"{\"ts\":0,\"v\":1}", 0},
        {"{\"ts\":-1,\"v\":1}", -1000000000},
        {"{\"ts\":null,\"v\":1}", NOW},
        {"{\"v\":1}", NOW},
        {"{\"ts\":\"2026-01-01T00:00:00Z\",\"v\":1}", NOW},
        {"{\"ts\":\"2026-01-01t00:00:00z\",\"v\":1}", NOW},
        {"{\"ts\":\"2026-01-01 00:00:00.5Z\",\"v\":1}", NOW + 500000000},
        {"{\"ts\":\"2026-01-01T01:00:00.123456789123+01:00\",\"v\":1}", NOW + 123456789},
        {"{\"ts\":\"2025-12-31T19:30:00-04:30\",\"v\":1}", NOW},
        {"{\"ts\":\"1970-01-01T00:00:00Z\",\"v\":1}", 0},
        {"{\"ts\":\"2024-02-29T00:00:00Z\",\"v\":1}", INT64_C(1709164800000000000)},
        {"{\"ts\":\"1900-01-01T00:00:00Z\",\"v\":1}", INT64_C(-2208988800000000000)},
        {"{\"a\":{\"ts\":5},\"ts\":1767225600}", NOW}, /* nested ts is a field */
        {"{\"ts\":1,\"ts\":1767225600,\"v\":1}", NOW}, /* last wins */
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++) {
        size_t n;
        const eng_point_t *p = decode(f, cases[i].json, 1, &n);
        if (p->ts != cases[i].ns)
            fail_msg("%s: got %" PRId64 " want %" PRId64, cases[i].json, p->ts, cases[i].ns);
    }
    /* A configured unit instead of magnitude. */
    f->o.prec = MQ_DEC_MS;
    size_t n;
    assert_true(decode(f, "{\"ts\":1000,\"v\":1}", 1, &n)->ts == 1000000000);
    f->o.prec = MQ_DEC_NS;
    assert_true(decode(f, "{\"ts\":1767225600,\"v\":1}", 1, &n)->ts == 1767225600);
    /* Configured keys. */
    f->o.prec = MQ_DEC_AUTO;
    memset(f->o.ts_keys, 0, sizeof f->o.ts_keys);
    f->o.ts_keys[0] = "t";
    const eng_point_t *p = decode(f, "{\"t\":1767225600,\"ts\":5}", 1, &n);
    assert_true(p->ts == NOW);
    expect_i(p, "ts", 5);
}

static void test_bad_timestamps(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *json, *err;
    } cases[] = {
        {"{\"ts\":\"2026-13-01T00:00:00Z\",\"v\":1}", "line 1 col 7: invalid RFC 3339 timestamp"},
        {"{\"ts\":\"2026-02-29T00:00:00Z\",\"v\":1}", "line 1 col 7: invalid RFC 3339 timestamp"},
        {"{\"ts\":\"2026-01-01T24:00:00Z\",\"v\":1}", "line 1 col 7: invalid RFC 3339 timestamp"},
        {"{\"ts\":\"2026-01-01T00:00:00\",\"v\":1}", "line 1 col 7: invalid RFC 3339 timestamp"},
        {"{\"ts\":\"2026-01-01T00:00:00.Z\",\"v\":1}", "line 1 col 7: invalid RFC 3339 timestamp"},
        {"{\"ts\":\"2026-01-01T00:00:00+0100\",\"v\":1}",
         "line 1 col 7: invalid RFC 3339 timestamp"},
        {"{\"ts\":\"yesterday\",\"v\":1}", "line 1 col 7: invalid RFC 3339 timestamp"},
        {"{\"ts\":\"3000-01-01T00:00:00Z\",\"v\":1}", "line 1 col 7: timestamp out of range"},
        {"{\"ts\":true,\"v\":1}", "line 1 col 7: invalid timestamp"},
        {"{\"ts\":[1],\"v\":1}", "line 1 col 7: invalid timestamp"},
        {"{\"ts\":1e300,\"v\":1}", "line 1 col 7: timestamp out of range"},
        {"{\"ts\":99999999999999999999,\"v\":1}", "line 1 col 7: timestamp out of range"},
        {"{\n \"v\":1,\n \"ts\":\"x\"}", "line 3 col 7: invalid RFC 3339 timestamp"},
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++) {
        size_t n;
        decode(f, cases[i].json, 0, &n);
        expect_err(f, cases[i].err);
    }
}

static void test_values_and_flattening(void **state)
{
    fx_t *f = *state;
    size_t n;
    const eng_point_t *p = decode(
        f,
        "{\"i\":-42,\"f\":1.5,\"e\":1E2,\"z\":-0,\"zf\":-0.0,\"b\":true,\"c\":false,"
        "\"s\":\"h\\u00e9\\n\\\"\\\\\\/\\ud83d\\ude00\",\"raw\":\"\xc3\xa9\xf0\x9f\x98\x80\","
        "\"n\":null,\"a\":{\"b\":1,\"c\":{\"d\":\"x\"},\"e\":{}},\"k\\u0041\":2,"
        "\"big\":9223372036854775807,\"small\":-9223372036854775808}",
        1, &n);
    assert_int_equal(p->nfields, 14);
    expect_i(p, "i", -42);
    expect_f(p, "f", 1.5);
    expect_f(p, "e", 100.0);
    expect_i(p, "z", 0);
    expect_f(p, "zf", -0.0);
    assert_int_equal(field(p, "b")->type, ENG_T_BOOL);
    assert_int_equal(field(p, "b")->v.b, 1);
    assert_int_equal(field(p, "c")->v.b, 0);
    expect_s(p, "s", "h\xc3\xa9\n\"\\/\xf0\x9f\x98\x80", 11);
    expect_s(p, "raw", "\xc3\xa9\xf0\x9f\x98\x80", 6);
    expect_i(p, "a.b", 1);
    expect_s(p, "a.c.d", "x", 1);
    expect_i(p, "kA", 2);
    expect_i(p, "big", INT64_MAX);
    expect_i(p, "small", INT64_MIN);

    /* Integers as floats when configured. */
    f->o.json_nums = MQ_DEC_JSON_FLOAT;
    p = decode(f, "{\"rpm\":1500,\"t\":21.5}", 1, &n);
    expect_f(p, "rpm", 1500.0);
    expect_f(p, "t", 21.5);
}

static void test_duplicate_keys(void **state)
{
    fx_t *f = *state;
    size_t n;
    const eng_point_t *p =
        decode(f, "{\"x\":1,\"y\":2,\"x\":\"s\",\"a.b\":1,\"a\":{\"b\":2.5}}", 1, &n);
    assert_int_equal(p->nfields, 3);
    assert_string_equal(p->fields[0].name, "x");
    expect_s(p, "x", "s", 1);
    expect_f(p, "a.b", 2.5);
}

static void test_field_errors(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *json, *err;
        uint32_t nfields;
    } cases[] = {
        {"{\"a\":9223372036854775808,\"v\":1}", "line 1 col 6: integer out of range", 1},
        {"{\"a\":-9223372036854775809,\"v\":1}", "line 1 col 6: integer out of range", 1},
        {"{\"a\":123456789012345678901234567890,\"v\":1}", "line 1 col 6: integer out of range", 1},
        {"{\"a\":1e400,\"v\":1}", "line 1 col 6: number out of range", 1},
        {"{\"a\":[1,2],\"v\":1}", "line 1 col 6: arrays are not supported as field values", 1},
        {"{\"\":1,\"v\":1}", "line 1 col 2: empty field name", 1},
        {"{\"a\\u0000b\":1,\"v\":1}", "line 1 col 2: NUL in field name", 1},
        {"{\"a\":{\"\":1},\"v\":1}", "line 1 col 7: empty field name", 1},
        {"{}", "line 1 col 1: record has no fields", 0},
        {"{\"ts\":1,\"n\":null}", "line 1 col 1: record has no fields", 0},
        {"{\"a\":{}}", "line 1 col 1: record has no fields", 0},
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++) {
        size_t n;
        const eng_point_t *p = decode(f, cases[i].json, cases[i].nfields ? 1 : 0, &n);
        if (n)
            assert_int_equal(p->nfields, cases[i].nfields);
        expect_err(f, cases[i].err);
    }
    /* Underflow rounds, it is no error. */
    size_t n;
    expect_f(decode(f, "{\"a\":1e-400}", 1, &n), "a", 0.0);
    /* A long flattened name is refused field by field. */
    char big[1200];
    int k = snprintf(big, sizeof big, "{\"v\":1,\"");
    memset(big + k, 'x', 1100);
    snprintf(big + k + 1100, sizeof big - (size_t)k - 1100, "\":1}");
    decode(f, big, 1, &n);
    expect_err(f, "line 1 col 8: field name too long");
}

static void test_array_of_records(void **state)
{
    fx_t *f = *state;
    size_t n;
    const eng_point_t *p = decode(f,
                                  "[{\"ts\":1767225600,\"v\":1},{\"ts\":1767225601,\"v\":2.5},"
                                  "3,{\"v\":\"x\"},[]]",
                                  3, &n);
    assert_true(p[0].ts == NOW && p[1].ts == NOW + 1000000000 && p[2].ts == NOW);
    expect_f(&p[1], "v", 2.5);
    size_t ne;
    const mq_dec_err_t *e = mq_dec_batch_errors(f->b, &ne);
    assert_int_equal(ne, 2);
    assert_string_equal(e[0].reason, "array element is not an object");
    assert_int_equal(e[0].col, 52);
    decode(f, "[]", 0, &n);
    assert_int_equal(mq_dec_batch_nerrors(f->b), 0);
}

/* --------------------------------------------------------------- IoTDB */

static void test_iotdb_tablet(void **state)
{
    fx_t *f = *state;
    size_t n;
    /* IoTDB's documented example: values[i] is the column of measurements[i]. */
    const eng_point_t *p = decode(f,
                                  "{\"timestamps\":[1,2,3],\"measurements\":[\"temperature\","
                                  "\"status\"],\"data_types\":[\"FLOAT\",\"BOOLEAN\"],"
                                  "\"values\":[[1.1,2.2,3.3],[false,true,null]],"
                                  "\"is_aligned\":false,\"device\":\"root.ln.wf01.wt01\"}",
                                  3, &n);
    f->o.prec = MQ_DEC_MS;
    for (int r = 0; r < 3; r++) {
        assert_true(p[r].ts == (r + 1) * INT64_C(1000000000)); /* AUTO: small = seconds */
        assert_int_equal(p[r].ntags, 1);
        assert_string_equal(p[r].tags[0].key, "device_id");
        assert_string_equal(p[r].tags[0].val, "root.ln.wf01.wt01");
    }
    expect_f(&p[0], "temperature", 1.1);
    expect_f(&p[2], "temperature", 3.3);
    assert_int_equal(field(&p[1], "status")->v.b, 1);
    assert_int_equal(p[2].nfields, 1); /* null = absent */

    /* Without data_types the values are typed like record fields; the unit
     * is the configured one; base tags other than the device tag stay. */
    eng_tag_t base[] = {{"device_id", "from-topic"}, {"site", "s1"}};
    f->o.tags = base;
    f->o.ntags = 2;
    p = decode(f,
               "{\"device\":\"d1\",\"timestamps\":[1767225600000,1767225601000],"
               "\"measurements\":[\"s1\",\"s2\",\"s3\"],"
               "\"values\":[[1,2],[1.5,null],[\"a\",\"b\"]]}",
               2, &n);
    assert_true(p[0].ts == NOW && p[1].ts == NOW + 1000000000);
    assert_int_equal(p[0].ntags, 2);
    assert_string_equal(p[0].tags[0].val, "d1");
    assert_string_equal(p[0].tags[1].val, "s1");
    expect_i(&p[0], "s1", 1);
    expect_f(&p[0], "s2", 1.5);
    expect_s(&p[1], "s3", "b", 1);
    assert_int_equal(p[1].nfields, 2);

    /* data_types force the type: a DOUBLE written as 2 is a float. */
    p = decode(f,
               "{\"timestamps\":[5],\"measurements\":[\"a\",\"b\"],"
               "\"data_types\":[\"DOUBLE\",\"INT64\"],\"values\":[[2],[7]]}",
               1, &n);
    expect_f(p, "a", 2.0);
    expect_i(p, "b", 7);
    assert_int_equal(p->ntags, 2);
    assert_string_equal(p->tags[0].val, "from-topic");
}

static void test_iotdb_errors(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *json, *err;
        int points;
    } cases[] = {
        {"{\"timestamps\":[1,2],\"measurements\":[\"a\"],\"values\":[[1]]}",
         "line 1 col 1: IoTDB \"values\" column length differs from \"timestamps\"", 0},
        {"{\"timestamps\":[1],\"measurements\":[\"a\",\"b\"],\"values\":[[1]]}",
         "line 1 col 1: IoTDB \"values\" needs one array per measurement", 0},
        {"{\"timestamps\":[\"x\"],\"measurements\":[\"a\"],\"values\":[[1]]}",
         "line 1 col 1: IoTDB \"timestamps\" must be an array of numbers", 0},
        {"{\"timestamps\":[1],\"values\":[[1]]}",
         "line 1 col 1: IoTDB \"measurements\" must be an array of strings", 0},
        {"{\"timestamps\":[1],\"measurements\":[\"a\"],\"values\":[[{}]]}",
         "line 1 col 1: IoTDB \"values\" column length differs from \"timestamps\"", 0},
        {"{\"timestamps\":[1],\"measurements\":[\"a\"],\"data_types\":[\"INT9\"],"
         "\"values\":[[1]]}",
         "line 1 col 1: unknown IoTDB data type", 0},
        {"{\"timestamps\":[1,2],\"measurements\":[\"a\",\"b\"],\"data_types\":[\"INT32\","
         "\"BOOLEAN\"],\"values\":[[1.5,2],[true,1]]}",
         "line 1 col 90: value does not match data type", 2},
        {"{\"device\":5,\"timestamps\":[1],\"measurements\":[\"a\"],\"values\":[[1]]}",
         "line 1 col 1: IoTDB \"device\" must be a string", 0},
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++) {
        size_t n;
        decode(f, cases[i].json, cases[i].points, &n);
        size_t ne;
        const mq_dec_err_t *e = mq_dec_batch_errors(f->b, &ne);
        char buf[160] = "";
        mq_dec_err_format(e, buf, sizeof buf);
        if (ne < 1 || strcmp(buf, cases[i].err) != 0)
            fail_msg("case %zu: got \"%s\" want \"%s\"", i, buf, cases[i].err);
    }
}

/* --------------------------------------------------------------- syntax */

static void test_syntax_errors(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *json, *err;
        int code;
    } cases[] = {
        {"", "line 1 col 1: unexpected end of input", CN_EPROTO},
        {"   ", "line 1 col 4: unexpected end of input", CN_EPROTO},
        {"{", "line 1 col 2: unexpected end of input", CN_EPROTO},
        {"{\"a\"", "line 1 col 5: expected ':'", CN_EPROTO},
        {"{\"a\":", "line 1 col 6: unexpected end of input", CN_EPROTO},
        {"{\"a\":1", "line 1 col 7: unexpected end of input", CN_EPROTO},
        {"{\"a\":1,}", "line 1 col 8: expected string key", CN_EPROTO},
        {"{\"a\":1 \"b\":2}", "line 1 col 8: expected ',' or '}'", CN_EPROTO},
        {"[1 2]", "line 1 col 4: expected ',' or ']'", CN_EPROTO},
        {"[1,]", "line 1 col 4: unexpected character", CN_EPROTO},
        {"{a:1}", "line 1 col 2: expected string key", CN_EPROTO},
        {"{'a':1}", "line 1 col 2: expected string key", CN_EPROTO},
        {"{\"a\":tru}", "line 1 col 6: unexpected character", CN_EPROTO},
        {"{\"a\":nul}", "line 1 col 6: unexpected character", CN_EPROTO},
        {"{\"a\":01}", "line 1 col 6: invalid number (leading zero)", CN_EPROTO},
        {"{\"a\":1.}", "line 1 col 6: invalid number", CN_EPROTO},
        {"{\"a\":.5}", "line 1 col 6: unexpected character", CN_EPROTO},
        {"{\"a\":-}", "line 1 col 6: invalid number", CN_EPROTO},
        {"{\"a\":1e}", "line 1 col 6: invalid number", CN_EPROTO},
        {"{\"a\":+1}", "line 1 col 6: unexpected character", CN_EPROTO},
        {"{\"a\":NaN}", "line 1 col 6: unexpected character", CN_EPROTO},
        {"{\"a\":Infinity}", "line 1 col 6: unexpected character", CN_EPROTO},
        {"{\"a\":\"x}", "line 1 col 6: unterminated string", CN_EPROTO},
        {"{\"a\":\"\\x\"}", "line 1 col 7: invalid escape", CN_EPROTO},
        {"{\"a\":\"\\u12g4\"}", "line 1 col 7: invalid \\u escape", CN_EPROTO},
        {"{\"a\":\"\\ud800\"}", "line 1 col 7: lone high surrogate", CN_EPROTO},
        {"{\"a\":\"\\ud800\\u0041\"}", "line 1 col 7: lone high surrogate", CN_EPROTO},
        {"{\"a\":\"\\udc00\"}", "line 1 col 7: lone low surrogate", CN_EPROTO},
        {"{\"a\":\"tab\there\"}", "line 1 col 10: control character in string", CN_EPROTO},
        {"{\"a\":\"\xff\"}", "line 1 col 7: invalid UTF-8", CN_EPROTO},
        {"{\"a\":\"\xc0\xaf\"}", "line 1 col 7: invalid UTF-8", CN_EPROTO},
        {"{\"a\":\"\xe0\x80\xaf\"}", "line 1 col 7: invalid UTF-8", CN_EPROTO},
        {"{\"a\":\"\xed\xa0\x80\"}", "line 1 col 7: invalid UTF-8", CN_EPROTO},
        {"{\"a\":\"\xf4\x90\x80\x80\"}", "line 1 col 7: invalid UTF-8", CN_EPROTO},
        {"{\"a\":\"\xe2\x82\"}", "line 1 col 7: invalid UTF-8", CN_EPROTO},
        {"{\"\x80\":1}", "line 1 col 3: invalid UTF-8", CN_EPROTO},
        {"{\"a\":1}x", "line 1 col 8: text after the JSON value", CN_EPROTO},
        {"{\"a\":1}{\"b\":2}", "line 1 col 8: text after the JSON value", CN_EPROTO},
        {"{\n\"a\":1,\n\"b\":?}", "line 3 col 5: unexpected character", CN_EPROTO},
        {"42", "line 1 col 1: payload is not an object or array", CN_EPROTO},
        {"\"s\"", "line 1 col 1: payload is not an object or array", CN_EPROTO},
        {"null", "line 1 col 1: payload is not an object or array", CN_EPROTO},
        {"\xef\xbb\xbf{\"a\":1}", "line 1 col 1: unexpected character", CN_EPROTO},
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++) {
        size_t n;
        decode(f, cases[i].json, cases[i].code, &n);
        assert_int_equal(n, 0);
        expect_err(f, cases[i].err);
        size_t ne;
        assert_int_equal(mq_dec_batch_errors(f->b, &ne)->code, cases[i].code);
    }
    assert_int_equal(mq_dec_json(f->b, NULL, "{}", 2), CN_EINVAL);
    f->o.measurement = NULL;
    assert_int_equal(mq_dec_json(f->b, &f->o, "{}", 2), CN_EINVAL);
}

static void test_limits(void **state)
{
    fx_t *f = *state;
    char deep[600];
    size_t n;
    /* 32 levels are allowed by default, 33 are not. */
    for (int depth = 31; depth <= 33; depth++) {
        int k = 0;
        for (int i = 0; i < depth - 1; i++)
            k += sprintf(deep + k, "{\"a\":");
        k += sprintf(deep + k, "{\"v\":1}");
        for (int i = 0; i < depth - 1; i++)
            deep[k++] = '}';
        deep[k] = '\0';
        if (depth <= 32) {
            const eng_point_t *p = decode(f, deep, 1, &n);
            assert_int_equal(strlen(p->fields[0].name), 2 * (size_t)(depth - 1) + 1);
        } else {
            decode(f, deep, CN_ELIMIT, &n);
            expect_err(f, "line 1 col 161: nesting too deep");
        }
    }
    /* Brackets far past any limit fail fast and without recursion. */
    char *arr = malloc(100001);
    memset(arr, '[', 100000);
    arr[100000] = '\0';
    decode(f, arr, CN_ELIMIT, &n);
    free(arr);
    f->o.max_depth = 1000; /* clamped to 256 */
    arr = malloc(300);
    memset(arr, '[', 299);
    arr[299] = '\0';
    decode(f, arr, CN_ELIMIT, &n);
    free(arr);

    f->o.max_str = 3;
    decode(f, "{\"v\":\"abc\"}", 1, &n);
    decode(f, "{\"v\":\"abcd\"}", CN_ELIMIT, &n);
    expect_err(f, "line 1 col 6: string too long");
    f->o.max_bytes = 10;
    decode(f, "{\"v\":12345}", CN_ELIMIT, &n);
    expect_err(f, "line 1 col 1: payload too large");
}

/* Every prefix of a payload is refused cleanly (only the whole one parses),
 * and points from an earlier message in the batch are untouched. */
static void test_truncations(void **state)
{
    fx_t *f = *state;
    const char *docs[] = {
        "{\"ts\":1767225600000,\"temperature\":21.37,\"rpm\":1500,\"s\":\"\\u00e9\\ud83d\\ude00x\","
        "\"a\":{\"b\":[1]},\"t\":true,\"n\":null,\"e\":-1.5e-3}",
        "[{\"v\":1},{\"timestamps\":[1],\"measurements\":[\"a\"],\"values\":[[false]]}]",
    };
    for (size_t d = 0; d < CN_ARRAY_LEN(docs); d++) {
        size_t len = strlen(docs[d]);
        for (size_t cut = 0; cut < len; cut++) {
            char *copy = malloc(cut ? cut : 1);
            memcpy(copy, docs[d], cut);
            mq_dec_batch_reset(f->b);
            assert_int_equal(mq_dec_json(f->b, &f->o, "{\"x\":1}", 7), 1);
            int rc = mq_dec_json(f->b, &f->o, copy, cut);
            assert_true(rc == CN_EPROTO);
            size_t n;
            const eng_point_t *p = mq_dec_batch_points(f->b, &n);
            assert_int_equal(n, 1);
            expect_i(p, "x", 1);
            free(copy);
        }
    }
}

/* Many records in one batch cross arena chunks; strings stay valid. */
static void test_big_batch(void **state)
{
    fx_t *f = *state;
    cn_buf_t in;
    cn_buf_init(&in);
    cn_buf_put_u8(&in, '[');
    for (int i = 0; i < 3000; i++) {
        char rec[128];
        int k = snprintf(rec, sizeof rec, "%s{\"ts\":%d,\"name\":\"n%d\",\"v\":%d.5}", i ? "," : "",
                         1767225600 + i, i, i);
        cn_buf_put(&in, rec, (size_t)k);
    }
    cn_buf_put_u8(&in, ']');
    mq_dec_batch_reset(f->b);
    assert_int_equal(mq_dec_json(f->b, &f->o, in.p, in.len), 3000);
    size_t n;
    const eng_point_t *p = mq_dec_batch_points(f->b, &n);
    for (int i = 0; i < 3000; i++) {
        char s[16];
        snprintf(s, sizeof s, "n%d", i);
        expect_s(&p[i], "name", s, strlen(s));
        expect_f(&p[i], "v", i + 0.5);
        assert_true(p[i].ts == NOW + (int64_t)i * 1000000000);
    }
    cn_buf_free(&in);
}

/* ------------------------------------------------------------ exactness */

/* A random JSON number: up to 30 digits, a fraction, an exponent. */
static void random_number(uint64_t *seed, char *out)
{
    int k = 0;
    if (rnd(seed) & 1)
        out[k++] = '-';
    int ni = 1 + (int)(rnd(seed) % 20), nf = (int)(rnd(seed) % 12);
    out[k++] = (char)('1' + rnd(seed) % 9);
    for (int i = 1; i < ni; i++)
        out[k++] = (char)('0' + rnd(seed) % 10);
    if (nf || !(rnd(seed) % 3)) {
        out[k++] = '.';
        for (int i = 0; i < nf + 1; i++)
            out[k++] = (char)('0' + rnd(seed) % 10);
    }
    if (rnd(seed) & 1)
        k += sprintf(out + k, "e%d", (int)(rnd(seed) % 640) - 330);
    else
        out[k++] = 'e', out[k++] = '0';
    out[k] = '\0';
}

static void test_float_exact(void **state)
{
    fx_t *f = *state;
    uint64_t seed = 7;
    size_t checked = 0;
    /* Hard cases: halfway points, the subnormal boundary, 2^53 neighbours. */
    static const char *hard[] = {
        "9007199254740993e0",
        "9007199254740992.5",
        "2.2250738585072011e-308",
        "4.9406564584124654e-324",
        "1.7976931348623157e308",
        "0.1",
        "123456789012345678901e-21",
        "7.3177701707893310e+15",
        "8.98846567431158e307",
        "2.4703282292062327e-324",
        "2.4703282292062328e-324",
        "5e-324",
        "1.00000000000000011102230246251565404236316680908203125",
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(hard) + 300000; i++) {
        char num[80], json[112];
        if (i < CN_ARRAY_LEN(hard))
            snprintf(num, sizeof num, "%s", hard[i]);
        else
            random_number(&seed, num);
        double want = strtod(num, NULL);
        if (isinf(want))
            continue;
        snprintf(json, sizeof json, "{\"v\":%s}", num);
        mq_dec_batch_reset(f->b);
        if (mq_dec_json(f->b, &f->o, json, strlen(json)) != 1)
            fail_msg("%s not accepted", num);
        size_t n;
        const eng_point_t *p = mq_dec_batch_points(f->b, &n);
        if (memcmp(&p->fields[0].v.f, &want, 8) != 0)
            fail_msg("%s: got %.17g want %.17g", num, p->fields[0].v.f, want);
        checked++;
    }
    assert_true(checked > 250000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_workload_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timestamps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_timestamps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values_and_flattening, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_field_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_array_of_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iotdb_tablet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iotdb_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_float_exact, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
