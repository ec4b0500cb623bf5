/* SPDX-License-Identifier: MIT */
/*
 * test_decode_lp.c - the line protocol decoder (ingest/decode/lp.c) and the
 * point batch (points.c): golden lines with exact points (the standard
 * workload's line among them), every syntax element (escapes, quoted
 * strings, i/u/float/bool values, precisions, comments, CRLF), each error
 * class with its exact line, column and reason, partial batches, every
 * truncation of a valid batch, format -> parse round trips, batch reuse
 * across arena chunks, and float exactness against strtod.
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
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    mq_dec_batch_new(&f->b);
    mq_dec_opts_default(&f->o);
    f->o.now_ns = NOW;
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
    int rc = mq_dec_lp(f->b, &f->o, s, strlen(s));
    assert_int_equal(rc, want);
    return mq_dec_batch_points(f->b, n);
}

static void expect_err(fx_t *f, const char *want)
{
    expect_one_err(f->b, want);
}

/* ---------------------------------------------------------------- golden */

static void test_workload_line(void **state)
{
    fx_t *f = *state;
    f->o.prec = MQ_DEC_MS;
    static const struct {
        const char *line;
        const char *dev, *fleet, *model;
        double t, h, pr, v, c;
        int64_t rpm;
        double lat, lon;
        int64_t bat, st, ms;
    } rec[] = {
        {"telemetry,device_id=dev-000000,fleet=fleet-0,model=gw-1 temperature=21.37,"
         "humidity=45.2,pressure=1013.2,voltage=12.345,current=1.234,rpm=1500i,"
         "latitude=48.123456,longitude=11.612345,battery=87i,status=0i 1767225600000",
         "dev-000000", "fleet-0", "gw-1", 21.37, 45.2, 1013.2, 12.345, 1.234, 1500, 48.123456,
         11.612345, 87, 0, INT64_C(1767225600000)},
        {"telemetry,device_id=dev-000001,fleet=fleet-1,model=th-100 temperature=-3.05,"
         "humidity=100.0,pressure=950.0,voltage=10.500,current=0.000,rpm=0i,"
         "latitude=48.299999,longitude=11.500000,battery=100i,status=3i 1767225610000",
         "dev-000001", "fleet-1", "th-100", -3.05, 100.0, 950.0, 10.5, 0.0, 0, 48.299999, 11.5, 100,
         3, INT64_C(1767225610000)},
        {"telemetry,device_id=dev-000999,fleet=fleet-9,model=mx-7 temperature=59.99,"
         "humidity=0.1,pressure=1049.9,voltage=13.499,current=4.999,rpm=6000i,"
         "latitude=48.100030,longitude=11.699970,battery=15i,status=1i 1767229190000",
         "dev-000999", "fleet-9", "mx-7", 59.99, 0.1, 1049.9, 13.499, 4.999, 6000, 48.10003,
         11.69997, 15, 1, INT64_C(1767229190000)},
    };
    for (size_t r = 0; r < CN_ARRAY_LEN(rec); r++) {
        size_t n;
        const eng_point_t *p = decode(f, rec[r].line, 1, &n);
        assert_int_equal(n, 1);
        assert_string_equal(p->measurement, "telemetry");
        assert_int_equal(p->ntags, 3);
        assert_string_equal(p->tags[0].key, "device_id");
        assert_string_equal(tag(p, "device_id"), rec[r].dev);
        assert_string_equal(tag(p, "fleet"), rec[r].fleet);
        assert_string_equal(tag(p, "model"), rec[r].model);
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

static void test_lines_comments_crlf(void **state)
{
    fx_t *f = *state;
    size_t n;
    const char *in = "# a comment\r\n"
                     "\n"
                     "   \t\n"
                     "cpu,host=a value=1 10\r\n"
                     "  cpu,host=b value=2\n"
                     "#cpu value=3\n"
                     "cpu,host=c value=3 30   \r\n"
                     "cpu value=4i";
    const eng_point_t *p = decode(f, in, 4, &n);
    assert_int_equal(n, 4);
    assert_string_equal(tag(&p[0], "host"), "a");
    assert_true(p[0].ts == 10);
    expect_f(&p[0], "value", 1.0);
    assert_string_equal(tag(&p[1], "host"), "b");
    assert_true(p[1].ts == NOW);
    assert_true(p[2].ts == 30);
    assert_int_equal(p[3].ntags, 0);
    expect_i(&p[3], "value", 4);
    assert_int_equal(mq_dec_batch_nerrors(f->b), 0);
}

static void test_escapes(void **state)
{
    fx_t *f = *state;
    size_t n;
    /* as InfluxDB 1.6.7 stores them: in names only ',' ' ' '=' are escaped,
     * any other backslash is kept (b\\s is a key of two backslashes) */
    const eng_point_t *p =
        decode(f,
               "my\\ meas\\,x\\=y,t\\ k\\,\\==v\\ 1\\,\\=2,b\\\\s=x\\\\y\\\\\\,z "
               "f\\ k\\,\\==\"a \\\"q\\\" \\\\ \\n, =x\",raw=\"c:\\\\dir\\x\" 1",
               1, &n);
    assert_string_equal(p->measurement, "my meas,x=y");
    assert_int_equal(p->ntags, 2);
    assert_string_equal(p->tags[0].key, "t k,=");
    assert_string_equal(p->tags[0].val, "v 1,=2");
    assert_string_equal(p->tags[1].key, "b\\\\s");
    assert_string_equal(p->tags[1].val, "x\\\\y\\\\,z");
    expect_s(p, "f k,=", "a \"q\" \\ \\n, =x", 14);
    expect_s(p, "raw", "c:\\dir\\x", 8);
}

static void test_value_types(void **state)
{
    fx_t *f = *state;
    size_t n;
    const eng_point_t *p = decode(f,
                                  "m a=1,b=1.,c=.5,d=-1.5e-3,e=1E5,g=-0.0,h=1e+2,i=42i,j=-7i,"
                                  "k=9223372036854775807i,l=-9223372036854775808i,u=18u,"
                                  "v=9223372036854775807u,s=\"\",t1=t,t2=T,t3=true,t4=True,"
                                  "t5=TRUE,f1=f,f2=F,f3=false,f4=False,f5=FALSE,z=007i",
                                  1, &n);
    expect_f(p, "a", 1.0);
    expect_f(p, "b", 1.0);
    expect_f(p, "c", 0.5);
    expect_f(p, "d", -1.5e-3);
    expect_f(p, "e", 1e5);
    expect_f(p, "g", -0.0);
    expect_f(p, "h", 100.0);
    expect_i(p, "i", 42);
    expect_i(p, "j", -7);
    expect_i(p, "k", INT64_MAX);
    expect_i(p, "l", INT64_MIN);
    expect_i(p, "u", 18);
    expect_i(p, "v", INT64_MAX);
    expect_s(p, "s", "", 0);
    for (int i = 1; i <= 5; i++) {
        char name[4];
        snprintf(name, sizeof name, "t%d", i);
        expect_b(p, name, 1);
        snprintf(name, sizeof name, "f%d", i);
        expect_b(p, name, 0);
    }
    expect_i(p, "z", 7);
}

static void test_duplicates_last_wins(void **state)
{
    fx_t *f = *state;
    size_t n;
    const eng_point_t *p = decode(f, "m,t=a,u=1,t=b x=1,y=2i,x=\"s\",x=3", 1, &n);
    assert_int_equal(p->ntags, 2);
    assert_string_equal(tag(p, "t"), "b");
    assert_int_equal(p->nfields, 2);
    assert_string_equal(p->fields[0].name, "x");
    expect_f(p, "x", 3.0);
    expect_i(p, "y", 2);
}

static void test_precision(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *name;
        int64_t mult;
    } precs[] = {{"ns", 1},
                 {"n", 1},
                 {"u", 1000},
                 {"us", 1000},
                 {"ms", 1000000},
                 {"s", 1000000000},
                 {"m", INT64_C(60000000000)},
                 {"h", INT64_C(3600000000000)}};
    for (size_t i = 0; i < CN_ARRAY_LEN(precs); i++) {
        assert_int_equal(mq_dec_prec_parse(precs[i].name, &f->o.prec), 0);
        size_t n;
        const eng_point_t *p = decode(f, "m v=1 -2\nm v=1 1000", 2, &n);
        assert_true(p[0].ts == -2 * precs[i].mult);
        assert_true(p[1].ts == 1000 * precs[i].mult);
    }
    mq_dec_prec_t pr;
    assert_int_equal(mq_dec_prec_parse("days", &pr), CN_EINVAL);
    assert_int_equal(mq_dec_prec_parse(NULL, &pr), CN_EINVAL);

    f->o.prec = MQ_DEC_H;
    decode(f, "m v=1 2562048", 0, &(size_t){0});
    expect_err(f, "line 1 col 7: timestamp out of range");
    f->o.prec = MQ_DEC_NS;
    size_t n;
    const eng_point_t *p =
        decode(f, "m v=1 9223372036854775807\nm v=1 -9223372036854775808", 2, &n);
    assert_true(p[0].ts == INT64_MAX);
    assert_true(p[1].ts == INT64_MIN);
}

static void test_base_tags(void **state)
{
    fx_t *f = *state;
    eng_tag_t base[] = {{"device_id", "dev-1"}, {"site", "s1"}};
    f->o.tags = base;
    f->o.ntags = 2;
    size_t n;
    const eng_point_t *p = decode(f, "m,site=own v=1\nm v=2", 2, &n);
    assert_int_equal(p[0].ntags, 2);
    assert_string_equal(tag(&p[0], "site"), "own");
    assert_string_equal(tag(&p[0], "device_id"), "dev-1");
    assert_int_equal(p[1].ntags, 2);
    assert_string_equal(tag(&p[1], "site"), "s1");
}

static void test_multiline_string(void **state)
{
    fx_t *f = *state;
    size_t n;
    const eng_point_t *p = decode(f, "m s=\"a\nb,c=d\" 1\nm v=tru\n", 1, &n);
    expect_s(p, "s", "a\nb,c=d", 7);
    expect_err(f, "line 3 col 5: invalid boolean");
}

/* A quote on an indented line must not make the line swallow the next one
 * (found by fuzz_lp: the field key came out holding a newline). */
static void test_indented_quote(void **state)
{
    fx_t *f = *state;
    size_t n;
    const eng_point_t *p = decode(f, " m=\"a \nm v=1\n", 1, &n);
    expect_f(p, "v", 1.0);
    expect_err(f, "line 1 col 7: missing fields");
}

/* ---------------------------------------------------------------- errors */

static void test_error_classes(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *in, *err;
    } cases[] = {
        {",t=1 v=1", "line 1 col 1: missing measurement"},
        {" m", "line 1 col 3: missing fields"},
        {"m", "line 1 col 2: missing fields"},
        {"m ", "line 1 col 3: missing fields"},
        {"m,", "line 1 col 3: missing tag key"},
        {"m,=v f=1", "line 1 col 3: missing tag key"},
        {"m,t f=1", "line 1 col 4: missing tag value"},
        {"m,t= f=1", "line 1 col 5: missing tag value"},
        {"m,t=1", "line 1 col 6: missing fields"},
        {"m =1", "line 1 col 3: missing field key"},
        {"m v", "line 1 col 4: missing '=' after field key"},
        {"m v,w=1", "line 1 col 4: missing '=' after field key"},
        {"m v=", "line 1 col 5: missing field value"},
        {"m v=1,", "line 1 col 7: missing field key"},
        {"m v=1,w=", "line 1 col 9: missing field value"},
        {"m v= 1", "line 1 col 5: missing field value"},
        {"m v=tru", "line 1 col 5: invalid boolean"},
        {"m v=truE", "line 1 col 5: invalid boolean"},
        {"m v=\"abc", "line 1 col 5: unterminated string"},
        {"m v=\"abc\"x", "line 1 col 10: invalid field format"},
        {"m v=abc", "line 1 col 5: invalid number"},
        {"m v=+1", "line 1 col 5: invalid number"},
        {"m v=1.2.3", "line 1 col 5: invalid number"},
        {"m v=1e", "line 1 col 5: invalid number"},
        {"m v=.", "line 1 col 5: invalid number"},
        {"m v=-", "line 1 col 5: invalid number"},
        {"m v=NaN", "line 1 col 5: invalid number"},
        {"m v=inf", "line 1 col 5: invalid number"},
        {"m v=1.5i", "line 1 col 5: invalid integer"},
        {"m v=i", "line 1 col 5: invalid integer"},
        {"m v=1x2i", "line 1 col 5: invalid integer"},
        {"m v=-1u", "line 1 col 5: invalid unsigned integer"},
        {"m v=1.0u", "line 1 col 5: invalid unsigned integer"},
        {"m v=1 12a", "line 1 col 7: invalid timestamp"},
        {"m v=1 -", "line 1 col 7: invalid timestamp"},
        {"m v=1 1.5", "line 1 col 7: invalid timestamp"},
        {"m v=1 12345678901234567890", "line 1 col 7: timestamp out of range"},
        {"m v=1 9223372036854775808", "line 1 col 7: timestamp out of range"},
        {"m v=1 1 2", "line 1 col 9: unexpected text after timestamp"},
        {"m\xff v=1", "line 1 col 1: invalid UTF-8"},
        {"m,t=\xc0\x80 v=1", "line 1 col 5: invalid UTF-8"},
        {"m,t=\xed\xa0\x80 v=1", "line 1 col 5: invalid UTF-8"},
        {"m v=\"\xf4\x90\x80\x80\"", "line 1 col 5: invalid UTF-8"},
        {"m v\xe2\x82=1", "line 1 col 3: invalid UTF-8"},
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++) {
        size_t n;
        decode(f, cases[i].in, 0, &n);
        assert_int_equal(n, 0);
        size_t ne;
        const mq_dec_err_t *e = mq_dec_batch_errors(f->b, &ne);
        char buf[128] = "";
        if (ne)
            mq_dec_err_format(e, buf, sizeof buf);
        if (ne != 1 || strcmp(buf, cases[i].err) != 0)
            fail_msg("input %zu \"%s\": got %zu errors, \"%s\", want \"%s\"", i, cases[i].in, ne,
                     buf, cases[i].err);
        assert_int_equal(e->code, strstr(cases[i].err, "out of range") ? CN_EPROTO : e->code);
    }
    /* A NUL byte in a name is refused (names are C strings). */
    mq_dec_batch_reset(f->b);
    assert_int_equal(mq_dec_lp(f->b, &f->o, "m\0x v=1", 7), 0);
    expect_err(f, "line 1 col 1: NUL byte in name");
    /* A NUL inside a string value is data. */
    mq_dec_batch_reset(f->b);
    assert_int_equal(mq_dec_lp(f->b, &f->o, "m v=\"a\0b\"", 9), 1);
    size_t n;
    expect_s(mq_dec_batch_points(f->b, &n), "v", "a\0b", 3);
}

static void test_field_range_errors_keep_rest(void **state)
{
    fx_t *f = *state;
    size_t n;
    const eng_point_t *p = decode(f, "m a=1,b=9223372036854775808u,c=2", 1, &n);
    assert_int_equal(p->nfields, 2);
    expect_f(p, "a", 1.0);
    expect_f(p, "c", 2.0);
    expect_err(f, "line 1 col 9: unsigned integer out of int64 range");
    assert_int_equal(mq_dec_batch_errors(f->b, &n)->code, CN_EINVAL);

    p = decode(f, "m a=99999999999999999999999u,b=1", 1, &n);
    expect_err(f, "line 1 col 5: unsigned integer out of int64 range");
    p = decode(f, "m a=9223372036854775808i,b=1", 1, &n);
    expect_err(f, "line 1 col 5: integer out of range");
    p = decode(f, "m a=-9223372036854775809i,b=1", 1, &n);
    expect_err(f, "line 1 col 5: integer out of range");
    p = decode(f, "m a=1e309,b=1", 1, &n);
    expect_err(f, "line 1 col 5: float out of range");
    assert_int_equal(p->nfields, 1);
    /* Underflow is not an error: it rounds to zero / a subnormal. */
    p = decode(f, "m a=1e-400,b=4.9e-324", 1, &n);
    expect_f(p, "a", 0.0);
    expect_f(p, "b", 4.9e-324);
    /* The only field dropped: no point, one error. */
    decode(f, "m a=1e999", 0, &n);
    expect_err(f, "line 1 col 5: float out of range");
}

static void test_partial_batch(void **state)
{
    fx_t *f = *state;
    size_t n;
    const eng_point_t *p = decode(f,
                                  "cpu v=1 1\n"
                                  "cpu v=bad 2\n"
                                  "cpu v=3 3\r\n"
                                  "cpu,t v=4 4\n"
                                  "\n"
                                  "cpu v=5 5\n"
                                  "cpu v=6 6 7",
                                  3, &n);
    assert_true(p[0].ts == 1 && p[1].ts == 3 && p[2].ts == 5);
    size_t ne;
    const mq_dec_err_t *e = mq_dec_batch_errors(f->b, &ne);
    assert_int_equal(ne, 3);
    char buf[96];
    mq_dec_err_format(&e[0], buf, sizeof buf);
    assert_string_equal(buf, "line 2 col 7: invalid number");
    mq_dec_err_format(&e[1], buf, sizeof buf);
    assert_string_equal(buf, "line 4 col 6: missing tag value");
    mq_dec_err_format(&e[2], buf, sizeof buf);
    assert_string_equal(buf, "line 7 col 11: unexpected text after timestamp");
    /* Bad lines leave nothing behind in the batch. */
    assert_int_equal(p[1].nfields, 1);
    expect_f(&p[1], "v", 3.0);
}

static void test_limits(void **state)
{
    fx_t *f = *state;
    f->o.max_str = 4;
    size_t n;
    decode(f, "m s=\"abcd\"\nm s=\"abcde\"", 1, &n);
    expect_err(f, "line 2 col 5: string too long");
    f->o.max_bytes = 8;
    mq_dec_batch_reset(f->b);
    assert_int_equal(mq_dec_lp(f->b, &f->o, "m v=1 123", 9), CN_ELIMIT);
    /* Too many fields for the engine: the line is refused. */
    f->o.max_bytes = 1 << 20;
    cn_buf_t in;
    cn_buf_init(&in);
    cn_buf_put(&in, "m ", 2);
    for (int i = 0; i <= ENG_MAX_FIELDS; i++) {
        char tmp[16];
        int k = snprintf(tmp, sizeof tmp, "%sf%d=1", i ? "," : "", i);
        cn_buf_put(&in, tmp, (size_t)k);
    }
    mq_dec_batch_reset(f->b);
    assert_int_equal(mq_dec_lp(f->b, &f->o, in.p, in.len), 0);
    size_t ne;
    assert_string_equal(mq_dec_batch_errors(f->b, &ne)->reason, "too many fields");
    cn_buf_free(&in);
    assert_int_equal(mq_dec_lp(f->b, NULL, "", 0), CN_EINVAL);
}

/* Every prefix of a valid batch decodes without crashing; the points it
 * yields are the complete lines before the cut plus perhaps the cut one. */
static void test_truncations(void **state)
{
    fx_t *f = *state;
    const char *in = "telemetry,device_id=dev-000001,fleet=fleet-1 temperature=21.37,rpm=1500i,"
                     "on=true,s=\"x\\\"y\" 1767225600000000000\n"
                     "cpu\\ x,h=a\\,b v=1.5e3,w=7u\r\n";
    size_t len = strlen(in);
    for (size_t cut = 0; cut <= len; cut++) {
        char *copy = malloc(cut ? cut : 1); /* exact size so ASan sees overreads */
        memcpy(copy, in, cut);
        mq_dec_batch_reset(f->b);
        int rc = mq_dec_lp(f->b, &f->o, copy, cut);
        assert_true(rc >= 0 && rc <= 2);
        size_t n;
        const eng_point_t *p = mq_dec_batch_points(f->b, &n);
        for (size_t i = 0; i < n; i++)
            assert_true(p[i].nfields >= 1 && p[i].measurement[0]);
        free(copy);
    }
}

/* --------------------------------------------------------- round trips */

static bool same_points(const eng_point_t *a, const eng_point_t *b)
{
    if (strcmp(a->measurement, b->measurement) || a->ntags != b->ntags || a->ts != b->ts ||
        a->nfields != b->nfields)
        return false;
    for (uint32_t i = 0; i < a->ntags; i++)
        if (strcmp(a->tags[i].key, b->tags[i].key) || strcmp(a->tags[i].val, b->tags[i].val))
            return false;
    for (uint32_t i = 0; i < a->nfields; i++) {
        const eng_field_t *x = &a->fields[i], *y = &b->fields[i];
        if (strcmp(x->name, y->name) || x->type != y->type)
            return false;
        if (x->type == ENG_T_STRING
                ? x->v.s.len != y->v.s.len || memcmp(x->v.s.p, y->v.s.p, x->v.s.len)
                : memcmp(&x->v, &y->v, x->type == ENG_T_BOOL ? 1 : 8))
            return false;
    }
    return true;
}

static void test_format_round_trip(void **state)
{
    fx_t *f = *state;
    const char *in =
        "a\\ b\\,c\\\\d\\=,k\\ \\=\\,=v\\\\\\=x f\\\\\\=\\ =\"s\\\\\\\"\nq\",g=1.5e-300,"
        "h=-0.0,i=-9223372036854775808i,j=0.1,k=123456789.123456789,b=t 12\n"
        "m\\ x,t=\\\\y v=\"a\\\\\" -5\n";
    size_t n;
    decode(f, in, 2, &n);
    mq_dec_batch_t *b2;
    mq_dec_batch_new(&b2);
    size_t n1;
    const eng_point_t *p1 = mq_dec_batch_points(f->b, &n1);
    cn_buf_t out;
    cn_buf_init(&out);
    mq_dec_lp_format(&out, p1, n1);
    assert_int_equal(mq_dec_lp(b2, &f->o, out.p, out.len), 2);
    size_t n2;
    const eng_point_t *p2 = mq_dec_batch_points(b2, &n2);
    assert_int_equal(n2, 2);
    for (size_t i = 0; i < n2; i++)
        assert_true(same_points(&p1[i], &p2[i]));
    assert_string_equal(p1[0].measurement, "a b,c\\\\d=");
    assert_string_equal(p1[0].tags[0].val, "v\\\\=x");
    assert_string_equal(p1[1].tags[0].val, "\\\\y");
    expect_s(&p1[1], "v", "a\\", 2);
    cn_buf_free(&out);
    mq_dec_batch_free(b2);
}

/* Many lines in one batch cross arena chunks; every string stays valid, and
 * a reset batch decodes the same input to the same points. */
static void test_batch_reuse(void **state)
{
    fx_t *f = *state;
    cn_buf_t in;
    cn_buf_init(&in);
    for (int i = 0; i < 5000; i++) {
        char line[160];
        int k = snprintf(line, sizeof line,
                         "telemetry,device_id=dev-%06d,fleet=fleet-%d temperature=%d.%02d,"
                         "rpm=%di,name=\"n%d\" %d\n",
                         i, i % 10, i % 60, i % 100, i, i, i);
        cn_buf_put(&in, line, (size_t)k);
    }
    for (int round = 0; round < 3; round++) {
        mq_dec_batch_reset(f->b);
        assert_int_equal(mq_dec_lp(f->b, &f->o, in.p, in.len), 5000);
        size_t n;
        const eng_point_t *p = mq_dec_batch_points(f->b, &n);
        for (int i = 0; i < 5000; i++) {
            char dev[16], s[16];
            snprintf(dev, sizeof dev, "dev-%06d", i);
            snprintf(s, sizeof s, "n%d", i);
            assert_string_equal(tag(&p[i], "device_id"), dev);
            expect_i(&p[i], "rpm", i);
            expect_s(&p[i], "name", s, strlen(s));
            assert_true(p[i].ts == i);
        }
    }
    cn_buf_free(&in);
}

static void test_point_valid(void **state)
{
    fx_t *f = *state;
    size_t n;
    const eng_point_t *p = decode(f, "m,t=v a=1,b=\"s\",c=t,d=1i", 1, &n);
    assert_true(mq_dec_point_valid(p));
    eng_field_t fl[2] = {p->fields[0], p->fields[1]};
    eng_tag_t tg = {"t", "v"};
    eng_point_t q = {.measurement = "m", .tags = &tg, .ntags = 1, .fields = fl, .nfields = 2};
    assert_true(mq_dec_point_valid(&q));
    q.measurement = "";
    assert_false(mq_dec_point_valid(&q));
    q.measurement = "m";
    q.nfields = 0;
    assert_false(mq_dec_point_valid(&q));
    q.nfields = 2;
    fl[1].name = fl[0].name; /* duplicate */
    assert_false(mq_dec_point_valid(&q));
    fl[1].name = "b";
    fl[1].v.s.p = "\xff";
    fl[1].v.s.len = 1;
    assert_false(mq_dec_point_valid(&q));
    fl[1].type = ENG_T_BOOL;
    fl[1].v.b = 2;
    assert_false(mq_dec_point_valid(&q));
    fl[1].v.b = 1;
    tg.val = "\xc0\x80";
    assert_false(mq_dec_point_valid(&q));
    tg.val = "v";
    assert_true(mq_dec_point_valid(&q));
}

/* ------------------------------------------------------------ exactness */

/* A random decimal in InfluxDB's float syntax. */
static int random_decimal(uint64_t *seed, char *out)
{
    int k = 0;
    if (rnd(seed) & 1)
        out[k++] = '-';
    int nd = 1 + (int)(rnd(seed) % 24), dot = (int)(rnd(seed) % (uint64_t)(nd + 1));
    for (int i = 0; i < nd; i++) {
        if (i == dot && (rnd(seed) & 1))
            out[k++] = '.';
        out[k++] = (char)('0' + rnd(seed) % 10);
    }
    if (rnd(seed) % 3 == 0)
        k += sprintf(out + k, "e%d", (int)(rnd(seed) % 660) - 330);
    out[k] = '\0';
    return k;
}

static void test_float_exact(void **state)
{
    fx_t *f = *state;
    uint64_t seed = 42;
    size_t checked = 0;
    for (int i = 0; i < 200000; i++) {
        char num[64], line[96];
        random_decimal(&seed, num);
        double want = strtod(num, NULL);
        if (isinf(want))
            continue;
        snprintf(line, sizeof line, "m v=%s", num);
        mq_dec_batch_reset(f->b);
        if (mq_dec_lp(f->b, &f->o, line, strlen(line)) != 1)
            fail_msg("%s not accepted", num);
        size_t n;
        const eng_point_t *p = mq_dec_batch_points(f->b, &n);
        if (memcmp(&p->fields[0].v.f, &want, 8) != 0)
            fail_msg("%s: got %.17g want %.17g", num, p->fields[0].v.f, want);
        checked++;
    }
    assert_true(checked > 150000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_workload_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lines_comments_crlf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_last_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_precision, setup, teardown),
        cmocka_unit_test_setup_teardown(test_base_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multiline_string, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indented_quote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_classes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_field_range_errors_keep_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_point_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_float_exact, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
