/* SPDX-License-Identifier: MIT */
/*
 * test_decode_regmap.c - the binary register-map decoder
 * (ingest/decode/regmap.c).  Frames are built byte by byte the way the
 * Modbus spec lays out holding registers (each register high byte first,
 * 32/64-bit values over consecutive registers in the device's word order)
 * for known register values, and the decoded fields are compared exactly:
 * scaled integers, f32 in all four word orders, signed registers, u32/u64
 * across registers, bits, little-endian byte maps, NaN/Inf, short frames.
 * Every map syntax error is checked with its exact line, column and reason.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs these first; keep clang-format from sorting them after it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "decode/decode.h"

#define TS INT64_C(1767225600000000000)

typedef struct fx {
    mq_dec_batch_t *b;
    mq_regmap_t *m;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    mq_dec_batch_new(&f->b);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    mq_regmap_free(f->m);
    mq_dec_batch_free(f->b);
    free(f);
    return 0;
}

/* Parses `map` (must succeed) and decodes one frame; returns the point or
 * NULL when none was added. */
static const eng_point_t *decode(fx_t *f, const char *map, const uint8_t *frame, size_t n)
{
    mq_dec_err_t err;
    mq_regmap_free(f->m);
    f->m = NULL;
    int rc = mq_regmap_parse(map, strlen(map), &f->m, &err);
    if (rc != 0)
        fail_msg("map: line %u col %u: %s", err.line, err.col, err.reason);
    mq_dec_batch_reset(f->b);
    rc = mq_dec_regmap(f->b, f->m, frame, n, "plc", NULL, 0, TS);
    assert_true(rc == 0 || rc == 1);
    size_t np = 0;
    const eng_point_t *p = mq_dec_batch_points(f->b, &np);
    assert_int_equal(np, (size_t)rc);
    if (rc == 0)
        return NULL;
    assert_true(mq_dec_point_valid(p));
    assert_string_equal(p->measurement, "plc");
    assert_true(p->ts == TS);
    return p;
}

static const eng_field_t *field(const eng_point_t *p, const char *name)
{
    for (uint32_t i = 0; i < p->nfields; i++)
        if (strcmp(p->fields[i].name, name) == 0)
            return &p->fields[i];
    return NULL;
}

static void want_int(const eng_point_t *p, const char *name, int64_t v)
{
    const eng_field_t *f = field(p, name);
    assert_non_null(f);
    assert_int_equal(f->type, ENG_T_INT);
    assert_true(f->v.i == v);
}

static void want_float(const eng_point_t *p, const char *name, double v)
{
    const eng_field_t *f = field(p, name);
    assert_non_null(f);
    assert_int_equal(f->type, ENG_T_FLOAT);
    assert_memory_equal(&f->v.f, &v, sizeof v); /* bit for bit */
}

static void want_bool(const eng_point_t *p, const char *name, int v)
{
    const eng_field_t *f = field(p, name);
    assert_non_null(f);
    assert_int_equal(f->type, ENG_T_BOOL);
    assert_int_equal(f->v.b, v);
}

/* Appends Modbus holding register values, each high byte first. */
static size_t regs(uint8_t *out, const uint16_t *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = (uint8_t)(r[i] >> 8);
        out[2 * i + 1] = (uint8_t)(r[i] & 0xff);
    }
    return 2 * n;
}

/* ------------------------------------------------------------- golden */

static void test_holding_registers(void **state)
{
    fx_t *f = *state;
    const char *map = "# gateway dump of holding registers 0..8\n"
                      "units=registers\n"
                      "temperature u16 @0 scale=0.1   # 0.1 degC per count\n"
                      "pf_abcd     f32 @1\n"
                      "pf_cdab     f32 @3 word=CDAB\n"
                      "delta       i16 @5\n"
                      "energy      u32 @6\n"
                      "alarm       bit @8.0\n"
                      "door        bit @8.1\n"
                      "fault       bit @8.15\n"
                      "raw_temp    u16 @0\n";
    /* 3.14f = 0x4048F5C3; 100000 = 0x000186A0 */
    const uint16_t r[] = {0x00DC, 0x4048, 0xF5C3, 0xF5C3, 0x4048, 0xFFFE, 0x0001, 0x86A0, 0x8001};
    uint8_t frame[18];
    size_t n = regs(frame, r, 9);
    assert_int_equal(frame[0], 0x00);
    assert_int_equal(frame[1], 0xDC);
    const eng_point_t *p = decode(f, map, frame, n);
    assert_int_equal(mq_regmap_nfields(f->m), 9);
    assert_int_equal(mq_regmap_frame_len(f->m), 18);
    assert_int_equal(p->nfields, 9);
    assert_string_equal(p->fields[0].name, "temperature"); /* map order */
    want_float(p, "temperature", 22.0);
    want_float(p, "pf_abcd", (double)3.14f);
    want_float(p, "pf_cdab", (double)3.14f);
    want_int(p, "delta", -2);
    want_int(p, "energy", 100000);
    want_bool(p, "alarm", 1);
    want_bool(p, "door", 0);
    want_bool(p, "fault", 1);
    want_int(p, "raw_temp", 220);
    assert_int_equal(mq_dec_batch_nerrors(f->b), 0);
}

static void test_word_orders(void **state)
{
    fx_t *f = *state;
    const char *map = "abcd f32 @0 word=ABCD\n"
                      "cdab f32 @4 word=CDAB\n"
                      "badc f32 @8 word=BADC\n"
                      "dcba f32 @12 word=DCBA\n"
                      "big  u32 @16 order=big\n"
                      "lit  u32 @20 order=little\n"
                      "c64  u64 @24 word=CDAB\n"
                      "b64  i64 @32 word=BADC\n"
                      "d64  f64 @40 word=DCBA\n";
    const uint8_t frame[] = {0x40, 0x48, 0xF5, 0xC3, /* ABCD */
                             0xF5, 0xC3, 0x40, 0x48, /* CDAB */
                             0x48, 0x40, 0xC3, 0xF5, /* BADC */
                             0xC3, 0xF5, 0x48, 0x40, /* DCBA */
                             0x01, 0x02, 0x03, 0x04, /* 0x01020304 big */
                             0x04, 0x03, 0x02, 0x01, /* 0x01020304 little */
                             /* 0x0102030405060708 as registers 0708 0506 0304 0102 */
                             0x07, 0x08, 0x05, 0x06, 0x03, 0x04, 0x01, 0x02,
                             /* -2 = FFFF FFFF FFFF FFFE, bytes swapped per register */
                             0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xFF,
                             /* 1.5 = 0x3FF8000000000000 little endian */
                             0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xF8, 0x3F};
    const eng_point_t *p = decode(f, map, frame, sizeof frame);
    want_float(p, "abcd", (double)3.14f);
    want_float(p, "cdab", (double)3.14f);
    want_float(p, "badc", (double)3.14f);
    want_float(p, "dcba", (double)3.14f);
    want_int(p, "big", 0x01020304);
    want_int(p, "lit", 0x01020304);
    want_int(p, "c64", INT64_C(0x0102030405060708));
    want_int(p, "b64", -2);
    want_float(p, "d64", 1.5);
}

static void test_map_defaults(void **state)
{
    fx_t *f = *state;
    /* A device with CDAB 32-bit values: the default applies to wide fields
     * only; a field's own order= replaces it. */
    const char *map = "units=registers word=CDAB\n"
                      "flow   f32 @0\n"
                      "count  u16 @2\n"
                      "total  u32 @3 order=big\n"
                      "order=little\n"
                      "le16   i16 @5\n"
                      "lebit  bit @6.8\n";
    const uint16_t r[] = {0xF5C3, 0x4048, 0x0007, 0x0001, 0x86A0, 0x2CFF, 0x0001};
    uint8_t frame[14];
    const eng_point_t *p = decode(f, map, frame, regs(frame, r, 7));
    want_float(p, "flow", (double)3.14f);
    want_int(p, "count", 7);
    want_int(p, "total", 100000);
    want_int(p, "le16", -212); /* 0xFF2C */
    want_bool(p, "lebit", 1);  /* little: register reads 0x0100 */
}

static void test_bytes_units_and_types(void **state)
{
    fx_t *f = *state;
    const char *map = "a  u8  @0\n"
                      "b  i8  @1\n"
                      "c  i32 @2\n"
                      "d  i64 @6\n"
                      "e  bit @0.7\n"
                      "f  bit @0x1.0\n"
                      "g  u16 @0x0E order=little\n";
    const uint8_t frame[] = {0x80, 0x80, 0xFF, 0xFF, 0xFF, 0x85,       /* -123 */
                             0x80, 0,    0,    0,    0,    0,    0, 0, /* INT64_MIN */
                             0x34, 0x12};
    const eng_point_t *p = decode(f, map, frame, sizeof frame);
    want_int(p, "a", 128);
    want_int(p, "b", -128);
    want_int(p, "c", -123);
    want_int(p, "d", INT64_MIN);
    want_bool(p, "e", 1);
    want_bool(p, "f", 0);
    want_int(p, "g", 0x1234);
}

static void test_scale_offset(void **state)
{
    fx_t *f = *state;
    const char *map = "units=registers\n"
                      "t1   u16 @0 scale=0.1\n"
                      "t2   i16 @1 scale=0.5 offset=-40\n"
                      "t3   u16 @0 scale=1 offset=0\n" /* identity: stays integer */
                      "t4   u16 @0 offset=1.5\n"
                      "t5   u64 @2 scale=1e-3\n" /* beyond int64, scaled: fine */
                      "t6   f32 @6 scale=2\n"
                      "t7   u16 @0 scale=0.01\n";
    const uint16_t r[] = {0x00DD, 0xFFFE, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0x4048, 0xF5C3};
    uint8_t frame[16];
    const eng_point_t *p = decode(f, map, frame, regs(frame, r, 8));
    want_float(p, "t1", 22.1); /* 221 / 10, correctly rounded */
    want_float(p, "t2", -41.0);
    want_int(p, "t3", 221);
    want_float(p, "t4", 222.5);
    want_float(p, "t5", 18446744073709551615.0 / 1000.0);
    want_float(p, "t6", (double)3.14f * 2.0);
    want_float(p, "t7", 2.21);
}

static void test_nan_inf(void **state)
{
    fx_t *f = *state;
    const char *map = "nan f32 @0\ninf f32 @4\nninf f64 @8\n";
    const uint8_t frame[] = {0x7F, 0xC0, 0, 0, 0x7F, 0x80, 0, 0, 0xFF, 0xF0, 0, 0, 0, 0, 0, 0};
    const eng_point_t *p = decode(f, map, frame, sizeof frame);
    assert_int_equal(p->nfields, 3);
    assert_true(isnan(field(p, "nan")->v.f));
    assert_true(isinf(field(p, "inf")->v.f) && field(p, "inf")->v.f > 0);
    assert_true(isinf(field(p, "ninf")->v.f) && field(p, "ninf")->v.f < 0);
}

static void test_short_frame(void **state)
{
    fx_t *f = *state;
    const char *map = "units=registers\n"
                      "a u16 @0\n"
                      "b u32 @1\n"    /* needs bytes 2..5 */
                      "c bit @1.0\n"; /* byte 2..3: present */
    const uint8_t frame[] = {0x00, 0x2A, 0x00, 0x01, 0x00};
    const eng_point_t *p = decode(f, map, frame, sizeof frame);
    assert_int_equal(p->nfields, 2);
    want_int(p, "a", 42);
    want_bool(p, "c", 1);
    size_t ne = 0;
    const mq_dec_err_t *e = mq_dec_batch_errors(f->b, &ne);
    assert_int_equal(ne, 1);
    assert_int_equal(e[0].line, 3);
    assert_int_equal(e[0].col, 3);
    assert_int_equal(e[0].code, CN_EPROTO);
    assert_string_equal(e[0].reason, "frame too short for field");

    /* Empty frame: no point, one error per field. */
    assert_null(decode(f, map, NULL, 0));
    assert_int_equal(mq_dec_batch_nerrors(f->b), 3);
}

static void test_u64_beyond_int64(void **state)
{
    fx_t *f = *state;
    const uint8_t frame[] = {0x80, 0,    0,    0,    0,    0,    0,    0,
                             0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    const eng_point_t *p = decode(f, "big u64 @0\nok u64 @8\n", frame, sizeof frame);
    assert_int_equal(p->nfields, 1);
    want_int(p, "ok", INT64_MAX);
    size_t ne = 0;
    const mq_dec_err_t *e = mq_dec_batch_errors(f->b, &ne);
    assert_int_equal(ne, 1);
    assert_int_equal(e[0].line, 1);
    assert_int_equal(e[0].col, 1);
    assert_int_equal(e[0].code, CN_EINVAL);
    assert_string_equal(e[0].reason, "u64 value beyond int64");
}

static void test_tags_and_args(void **state)
{
    fx_t *f = *state;
    const eng_tag_t tags[] = {{"device", "plc7"}, {"site", "north"}};
    mq_dec_err_t err;
    assert_int_equal(mq_regmap_parse("x u8 @0", 7, &f->m, &err), 0);
    const uint8_t frame[] = {9};
    assert_int_equal(mq_dec_regmap(f->b, f->m, frame, 1, "m", tags, 2, 5), 1);
    assert_int_equal(mq_dec_regmap(f->b, f->m, frame, 1, "m", tags, 2, 6), 1);
    size_t n = 0;
    const eng_point_t *p = mq_dec_batch_points(f->b, &n);
    assert_int_equal(n, 2);
    assert_int_equal(p[1].ntags, 2);
    assert_string_equal(p[1].tags[0].val, "plc7");
    assert_true(p[1].ts == 6);
    assert_true(mq_dec_point_valid(&p[0]) && mq_dec_point_valid(&p[1]));

    assert_int_equal(mq_dec_regmap(f->b, f->m, frame, 1, "", NULL, 0, 0), CN_EINVAL);
    assert_int_equal(mq_dec_regmap(f->b, NULL, frame, 1, "m", NULL, 0, 0), CN_EINVAL);
    assert_int_equal(mq_dec_regmap(f->b, f->m, NULL, 1, "m", NULL, 0, 0), CN_EINVAL);
    mq_regmap_t *m2 = (mq_regmap_t *)&m2;
    assert_int_equal(mq_regmap_parse(NULL, 1, &m2, &err), CN_EINVAL);
    assert_null(m2);
}

/* ------------------------------------------------------------- syntax */

typedef struct bad {
    const char *text;
    uint32_t line, col;
    int code;
    const char *reason;
} bad_t;

static void test_syntax_errors(void **state)
{
    (void)state;
    static const bad_t cases[] = {
        {"", 1, 1, CN_EPROTO, "map has no fields"},
        {"# only a comment\n\n", 1, 1, CN_EPROTO, "map has no fields"},
        {"units=registers\n", 1, 1, CN_EPROTO, "map has no fields"},
        {"a u16", 1, 6, CN_EPROTO, "expected @offset"},
        {"a", 1, 2, CN_EPROTO, "expected type"},
        {"a  # c", 1, 4, CN_EPROTO, "expected type"},
        {"a u17 @0", 1, 3, CN_EPROTO, "unknown type"},
        {"a u16 0", 1, 7, CN_EPROTO, "expected @offset"},
        {"a u16 @", 1, 8, CN_EPROTO, "invalid offset"},
        {"a u16 @x", 1, 8, CN_EPROTO, "invalid offset"},
        {"a u16 @12z", 1, 10, CN_EPROTO, "invalid offset"},
        {"a u16 @65536", 1, 8, CN_EPROTO, "invalid offset"},
        {"a u16 @0x", 1, 9, CN_EPROTO, "invalid offset"},
        {"a u16 @1.2", 1, 9, CN_EPROTO, "bit index on a non-bit field"},
        {"a bit @1", 1, 7, CN_EPROTO, "bit field needs @offset.bit"},
        {"a bit @1.", 1, 10, CN_EPROTO, "invalid bit index"},
        {"a bit @1.2x", 1, 10, CN_EPROTO, "invalid bit index"},
        {"a bit @1.8", 1, 10, CN_EPROTO, "bit index out of range"},
        {"units=registers\na bit @1.16", 2, 10, CN_EPROTO, "bit index out of range"},
        {"a u16 @0 scale", 1, 10, CN_EPROTO, "expected key=value"},
        {"a u16 @0 gain=2", 1, 10, CN_EPROTO, "unknown option"},
        {"a u16 @0 scale=x", 1, 16, CN_EPROTO, "invalid number"},
        {"a u16 @0 scale=", 1, 16, CN_EPROTO, "invalid number"},
        {"a u16 @0 scale=inf", 1, 16, CN_EPROTO, "invalid number"},
        {"a u16 @0 offset=1e999", 1, 17, CN_EPROTO, "invalid number"},
        {"a u16 @0 scale=1 scale=2", 1, 18, CN_EPROTO, "duplicate option"},
        {"a u16 @0 order=middle", 1, 16, CN_EPROTO, "invalid byte order"},
        {"a u32 @0 word=ABDC", 1, 15, CN_EPROTO, "invalid word order"},
        {"a u16 @0 word=CDAB", 1, 10, CN_EPROTO, "word order on a type narrower than 32 bits"},
        {"a u32 @0 order=big word=CDAB", 1, 20, CN_EPROTO, "both order and word given"},
        {"a u8 @0 order=little", 1, 9, CN_EPROTO, "byte order on an 8-bit field"},
        {"a bit @0.1 order=little", 1, 12, CN_EPROTO, "byte order on an 8-bit field"},
        {"a bit @0.1 offset=1", 1, 12, CN_EPROTO, "scale or offset on a bit field"},
        {"a u8 @0\na u8 @1", 2, 1, CN_EPROTO, "duplicate field name"},
        {"a@0 u8 @0", 1, 2, CN_EPROTO, "invalid character in field name"},
        {"\xff u8 @0", 1, 1, CN_EPROTO, "field name is not valid UTF-8"},
        {"a u8 @0\nunits=registers", 2, 1, CN_EPROTO, "units after the first field"},
        {"units=words\na u8 @0", 1, 7, CN_EPROTO, "invalid units"},
        {"units=bytes color=red", 1, 13, CN_EPROTO, "unknown map option"},
        {"units=bytes red", 1, 13, CN_EPROTO, "expected key=value"},
        {"order=up", 1, 7, CN_EPROTO, "invalid byte order"},
        {"word=AB", 1, 6, CN_EPROTO, "invalid word order"},
        {"ok u8 @0\r\n\tb i8 @1 scale=2 offset=1 scale=3", 2, 27, CN_EPROTO, "duplicate option"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_t *c = &cases[i];
        mq_regmap_t *m = (mq_regmap_t *)&m; /* must be reset to NULL */
        mq_dec_err_t e;
        int rc = mq_regmap_parse(c->text, strlen(c->text), &m, &e);
        char got[128];
        mq_dec_err_format(&e, got, sizeof got);
        if (rc != c->code || e.line != c->line || e.col != c->col ||
            strcmp(e.reason, c->reason) != 0 || m != NULL)
            fail_msg("case %zu \"%s\": rc %d, got \"%s\", want line %u col %u: %s", i, c->text, rc,
                     got, c->line, c->col, c->reason);
    }
}

static void test_syntax_limits(void **state)
{
    (void)state;
    mq_regmap_t *m = NULL;
    mq_dec_err_t e;
    /* A name of 255 bytes is fine, 256 is not. */
    char line[300];
    memset(line, 'n', 256);
    memcpy(line + 256, " u8 @0", 7);
    assert_int_equal(mq_regmap_parse(line, strlen(line), &m, &e), CN_EPROTO);
    assert_string_equal(e.reason, "field name too long");
    assert_int_equal(mq_regmap_parse(line + 1, strlen(line + 1), &m, &e), 0);
    mq_regmap_free(m);

    /* ENG_MAX_FIELDS fields, then one more. */
    size_t cap = (ENG_MAX_FIELDS + 2) * 24;
    char *t = malloc(cap);
    size_t n = 0, nmax = 0;
    for (int i = 0; i <= ENG_MAX_FIELDS; i++) {
        nmax = n;
        n += (size_t)snprintf(t + n, cap - n, "f%d bit @%d.%d\n", i, i / 8, i % 8);
    }
    assert_int_equal(mq_regmap_parse(t, n, &m, &e), CN_ELIMIT);
    assert_int_equal(e.line, ENG_MAX_FIELDS + 1);
    assert_string_equal(e.reason, "too many fields");
    assert_int_equal(mq_regmap_parse(t, nmax, &m, &e), 0); /* without the last line */
    assert_int_equal(mq_regmap_nfields(m), ENG_MAX_FIELDS);
    mq_regmap_free(m);
    free(t);

    /* Too much text. */
    assert_int_equal(mq_regmap_parse("", MQ_REGMAP_MAX_TEXT + 1, &m, &e), CN_ELIMIT);
    assert_string_equal(e.reason, "map text too large");
    assert_int_equal(e.line, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_holding_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_word_orders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bytes_units_and_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scale_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nan_inf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_u64_beyond_int64, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tags_and_args, setup, teardown),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_syntax_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
