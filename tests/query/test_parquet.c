/* SPDX-License-Identifier: MIT */
/*
 * test_parquet.c - query/export/: the Thrift compact encoder, the RLE /
 * bit-packed hybrid and DELTA_BINARY_PACKED encoders against hand-computed
 * bytes (the examples of parquet-format's Encodings.md among them), then
 * whole files read back by DuckDB through parquet_check.mjs: exact values
 * of every type with nulls, NaN, infinities, -0.0, multi-byte UTF-8 and
 * empty strings; every codec; empty and single-row files; values spanning
 * many pages and row groups; column types, statistics and metadata as
 * DuckDB reports them; and bytes per value on workload-shaped data.
 *
 * The DuckDB part needs node and tests/query/node_modules; when the module
 * is missing the test runs `npm ci` there, and fails (never skips) when
 * that does not work.
 */
#include "export/parquet.h"
#include "export/pq_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka.h needs these first; keep clang-format from sorting them after it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

/* --------------------------------------------------------------- helpers */

static void assert_bytes(const cn_buf_t *b, const uint8_t *want, size_t n)
{
    if (b->len != n || memcmp(b->p, want, n) != 0) {
        for (size_t i = 0; i < b->len; i++)
            fprintf(stderr, "%02x ", b->p[i]);
        fprintf(stderr, "(got %zu bytes, want %zu)\n", b->len, n);
        fail();
    }
}

typedef struct fixture {
    char dir[64];
    char script_dir[512];
} fixture_t;

/* The directory of this source file holds parquet_check.mjs. */
static void script_dir(char *out, size_t n)
{
    snprintf(out, n, "%s", __FILE__);
    char *slash = strrchr(out, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(out, n, ".");
}

static int group_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_parquet.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    script_dir(f->script_dir, sizeof(f->script_dir));
    char path[700], cmd[1400];
    snprintf(path, sizeof(path), "%s/node_modules/@duckdb/node-api/package.json", f->script_dir);
    if (access(path, F_OK) != 0) {
        snprintf(cmd, sizeof(cmd), "npm ci --no-audit --no-fund --prefix '%s' >&2", f->script_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "test_parquet: `%s` failed; the DuckDB checks will fail\n", cmd);
    }
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    fixture_t *f = *state;
    cn_rmtree(f->dir);
    free(f);
    return 0;
}

/* Runs parquet_check.mjs on path; returns its output (owned).  Fails the
 * test when node or DuckDB cannot read the file. */
static char *duck(const fixture_t *f, const char *path, bool rows)
{
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "node '%s/parquet_check.mjs' '%s'%s", f->script_dir, path,
             rows ? " --rows" : "");
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    cn_buf_t b;
    cn_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        cn_buf_put(&b, chunk, n);
    cn_buf_put_u8(&b, 0);
    int st = pclose(p);
    if (st != 0) {
        fprintf(stderr, "%s\n-> exit status %d (is node and tests/query/node_modules there?)\n",
                cmd, st);
        fail();
    }
    return (char *)b.p;
}

/* Fails unless text has line as one whole line. */
static void has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return;
    fprintf(stderr, "missing line: %s\n--- in:\n%s\n", line, text);
    fail();
}

static void hexstr(char *out, const char *s, size_t n)
{
    *out++ = 'x';
    for (size_t i = 0; i < n; i++)
        out += sprintf(out, "%02x", (uint8_t)s[i]);
    *out = '\0';
}

static void hexdbl(char *out, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    sprintf(out, "%016llx", (unsigned long long)u);
}

/* ------------------------------------------------------------- encoders */

static void test_thrift_struct(void **state)
{
    (void)state;
    cn_buf_t b;
    cn_buf_init(&b);
    qry__tc_t t;
    qry__tc_init(&t, &b);
    qry__tc_i32(&t, 1, 5);      /* delta 1, i32: 0x15, zigzag 10 */
    qry__tc_i64(&t, 3, -1);     /* delta 2, i64: 0x26, zigzag 1 */
    qry__tc_bool(&t, 4, true);  /* delta 1, true: 0x11 */
    qry__tc_bool(&t, 5, false); /* delta 1, false: 0x12 */
    qry__tc_str(&t, 20, "ab");  /* delta 15, the largest short form: 0xf8 */
    qry__tc_str(&t, 36, "");    /* delta 16: long form 0x08, zigzag 72 */
    qry__tc_struct(&t, 37);     /* 0x1c */
    qry__tc_i32(&t, 1, 1);      /* inner context starts at 0: 0x15 0x02 */
    qry__tc_end(&t);            /* 0x00, back to last id 37 */
    qry__tc_list(&t, 38, QRY__TC_I32, 3);
    qry__tc_elem_i32(&t, 1);
    qry__tc_elem_i32(&t, -2);
    qry__tc_elem_i32(&t, 300);
    qry__tc_i64(&t, 2, 64); /* going back: long form 0x06, zigzag 2 = 4 */
    qry__tc_end(&t);
    static const uint8_t want[] = {0x15, 0x0a, 0x26, 0x01, 0x11, 0x12, 0xf8, 0x02, 'a',  'b',
                                   0x08, 0x48, 0x00, 0x1c, 0x15, 0x02, 0x00, 0x19, 0x35, 0x02,
                                   0x03, 0xd8, 0x04, 0x06, 0x04, 0x80, 0x01, 0x00};
    assert_bytes(&b, want, sizeof(want));
    cn_buf_free(&b);
}

static void test_thrift_lists(void **state)
{
    (void)state;
    cn_buf_t b;
    cn_buf_init(&b);
    qry__tc_t t;
    qry__tc_init(&t, &b);
    /* 15 elements take the long list header: 0xf0 | type, varint size. */
    qry__tc_list(&t, 1, QRY__TC_BINARY, 15);
    for (int i = 0; i < 15; i++)
        qry__tc_elem_bin(&t, "", 0);
    /* A list of structs: each element is a struct with its own id context. */
    qry__tc_list(&t, 2, QRY__TC_STRUCT, 2);
    for (int i = 0; i < 2; i++) {
        qry__tc_elem_struct(&t);
        qry__tc_i32(&t, 4, i); /* delta 4 from 0 */
        qry__tc_end(&t);
    }
    qry__tc_i32(&t, 3, 0); /* the outer context continues at 2 */
    qry__tc_end(&t);
    uint8_t want[64];
    size_t n = 0;
    want[n++] = 0x19;
    want[n++] = 0xf8;
    want[n++] = 15;
    for (int i = 0; i < 15; i++)
        want[n++] = 0;
    const uint8_t tail[] = {0x19, 0x2c, 0x45, 0x00, 0x00, 0x45, 0x02, 0x00, 0x15, 0x00, 0x00};
    memcpy(want + n, tail, sizeof(tail));
    n += sizeof(tail);
    assert_bytes(&b, want, n);
    cn_buf_free(&b);
}

static void test_rle_hybrid(void **state)
{
    (void)state;
    cn_buf_t b;
    cn_buf_init(&b);
    /* Encodings.md: 0..7 at bit width 3 bit-pack to 0x88 0xc6 0xfa. */
    const uint32_t seq[] = {0, 1, 2, 3, 4, 5, 6, 7};
    qry__rle_u32(&b, seq, 8, 3);
    const uint8_t w1[] = {0x03, 0x88, 0xc6, 0xfa};
    assert_bytes(&b, w1, sizeof(w1));
    /* Ten equal values: one RLE run, count 10 << 1, value in one byte. */
    cn_buf_reset(&b);
    const uint32_t ten[] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
    qry__rle_u32(&b, ten, 10, 4);
    const uint8_t w2[] = {0x14, 0x09};
    assert_bytes(&b, w2, sizeof(w2));
    /* Three literals then ten 2s: the literal group borrows five 2s, the
     * five left are too few for a run, so 13 values bit-pack into two
     * zero-padded groups at width 2. */
    cn_buf_reset(&b);
    const uint32_t mix[] = {0, 1, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2};
    qry__rle_u32(&b, mix, 13, 2);
    const uint8_t w3[] = {0x05, 0x84, 0xaa, 0xaa, 0x02};
    assert_bytes(&b, w3, sizeof(w3));
    /* Eight literals then a run of 20: group, then RLE. */
    cn_buf_reset(&b);
    uint32_t lr[28];
    for (int i = 0; i < 28; i++)
        lr[i] = i < 8 ? (uint32_t)(i & 1) : 1;
    qry__rle_u32(&b, lr, 28, 1);
    const uint8_t w4[] = {0x03, 0xaa, 0x28, 0x01};
    assert_bytes(&b, w4, sizeof(w4));
    /* Definition levels: eight present, eight null. */
    cn_buf_reset(&b);
    const uint8_t lv[] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    qry__rle_levels(&b, lv, 16);
    const uint8_t w5[] = {0x10, 0x01, 0x10, 0x00};
    assert_bytes(&b, w5, sizeof(w5));
    /* All present: a single run. */
    cn_buf_reset(&b);
    qry__rle_levels(&b, lv, 8);
    const uint8_t w6[] = {0x10, 0x01};
    assert_bytes(&b, w6, sizeof(w6));
    assert_int_equal(qry__bit_width(0), 0);
    assert_int_equal(qry__bit_width(1), 1);
    assert_int_equal(qry__bit_width(255), 8);
    assert_int_equal(qry__bit_width(UINT64_MAX), 64);
    cn_buf_free(&b);
}

static void test_delta_binary_packed(void **state)
{
    (void)state;
    cn_buf_t b;
    cn_buf_init(&b);
    /* Encodings.md example 1: 1..5, all deltas 1, width 0. */
    const int64_t a[] = {1, 2, 3, 4, 5};
    qry__delta_i64(&b, a, 5);
    const uint8_t w1[] = {0x80, 0x01, 0x04, 0x05, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00};
    assert_bytes(&b, w1, sizeof(w1));
    /* Example 2: 7 5 3 1 2 3 4 5: min delta -2, packed deltas 0 0 0 3 3 3 3
     * at width 2, padded to a miniblock of 32 (8 bytes). */
    cn_buf_reset(&b);
    const int64_t c[] = {7, 5, 3, 1, 2, 3, 4, 5};
    qry__delta_i64(&b, c, 8);
    const uint8_t w2[] = {0x80, 0x01, 0x04, 0x08, 0x0e, 0x03, 0x02, 0x00, 0x00,
                          0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    assert_bytes(&b, w2, sizeof(w2));
    /* One value: the header alone.  Extremes wrap modulo 2^64. */
    cn_buf_reset(&b);
    qry__delta_i64(&b, a, 1);
    const uint8_t w3[] = {0x80, 0x01, 0x04, 0x01, 0x02};
    assert_bytes(&b, w3, sizeof(w3));
    cn_buf_reset(&b);
    const int64_t x[] = {INT64_MIN, INT64_MAX, INT64_MIN};
    qry__delta_i64(&b, x, 3);
    /* deltas -1 and +1 (wrapped): min -1, packed 0 and 2 at width 2 */
    assert_int_equal(b.len, 4 + 10 + 1 + 4 + 8);
    cn_buf_free(&b);
}

static void test_snappy_format(void **state)
{
    (void)state;
    cn_buf_t b;
    cn_buf_init(&b);
    qry__snappy(&b, "abc", 3);
    const uint8_t w1[] = {0x03, 0x08, 'a', 'b', 'c'};
    assert_bytes(&b, w1, sizeof(w1));
    /* 20 x 'a': a short literal and a copy (libsnappy's choice of copy
     * elements may vary; the length prefix and the gain may not). */
    cn_buf_reset(&b);
    qry__snappy(&b, "aaaaaaaaaaaaaaaaaaaa", 20);
    assert_true(b.len < 10);
    assert_int_equal(b.p[0], 20);
    cn_buf_free(&b);
}

/* ------------------------------------------------------- files + DuckDB */

enum { NC = 6 };
static const qry_pq_col_t COLS[NC] = {
    {"device", QRY_PQ_STRING, true}, {"site", QRY_PQ_STRING, false}, {"temp", QRY_PQ_DOUBLE, false},
    {"count", QRY_PQ_INT64, false},  {"ok", QRY_PQ_BOOL, false},     {"note", QRY_PQ_STRING, false},
};

/* A small table with a null in every optional column and awkward values. */
typedef struct table {
    uint32_t n;
    int64_t ts[16];
    eng_str_t dev[16], site[16], note[16];
    double temp[16];
    int64_t cnt[16];
    uint8_t ok[16];
    uint8_t v[NC][16];
    const void *vals[NC];
    const uint8_t *valid[NC];
} table_t;

static void table_fill(table_t *t, uint32_t n)
{
    static const char *const notes[] = {
        "",      "ascii", "h\xc3\xa9llo", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x98\x80 emoji",
        "a\nb|c"};
    const double temps[] = {21.5, -0.0, 0.0, NAN, INFINITY, -INFINITY, 1e-300, -3.25};
    memset(t, 0, sizeof(*t));
    t->n = n;
    for (uint32_t i = 0; i < n; i++) {
        t->ts[i] = INT64_C(1767225600000000000) + (int64_t)i * 1000000123 - (i == 3 ? 7 : 0);
        t->dev[i] = (eng_str_t){i < 5 ? "dev-1" : "dev-2", 5};
        t->site[i] = (eng_str_t){"s\xc3\xbc"
                                 "d",
                                 4};
        t->note[i] = (eng_str_t){notes[i % 6], (uint32_t)strlen(notes[i % 6])};
        t->temp[i] = temps[i % 8];
        t->cnt[i] = i == 1 ? INT64_MIN : i == 2 ? INT64_MAX : (int64_t)i * 1000 - 3;
        t->ok[i] = (uint8_t)(i % 3 == 0);
        for (int c = 0; c < NC; c++)
            t->v[c][i] = c == 0 || (i + (uint32_t)c) % 4 != 0;
    }
    t->vals[0] = t->dev;
    t->vals[1] = t->site;
    t->vals[2] = t->temp;
    t->vals[3] = t->cnt;
    t->vals[4] = t->ok;
    t->vals[5] = t->note;
    for (int c = 0; c < NC; c++)
        t->valid[c] = t->v[c];
}

/* ns truncated to whole microseconds, as the default unit stores them. */
static int64_t floor_us(int64_t ns)
{
    return (ns / 1000 - (ns % 1000 < 0)) * 1000;
}

/* The `row` line parquet_check.mjs prints for row i. */
static void table_row(const table_t *t, uint32_t i, char *out)
{
    char tmp[128];
    out += sprintf(out, "row %lld", (long long)floor_us(t->ts[i]));
    for (int c = 0; c < NC; c++) {
        if (!t->v[c][i]) {
            out += sprintf(out, "|NULL");
            continue;
        }
        switch (c) {
        case 0:
        case 1:
        case 5: {
            const eng_str_t *s = c == 0 ? &t->dev[i] : c == 1 ? &t->site[i] : &t->note[i];
            hexstr(tmp, s->p, s->len);
            break;
        }
        case 2:
            hexdbl(tmp, t->temp[i]);
            break;
        case 3:
            sprintf(tmp, "%lld", (long long)t->cnt[i]);
            break;
        default:
            sprintf(tmp, "%s", t->ok[i] ? "true" : "false");
        }
        out += sprintf(out, "|%s", tmp);
    }
}

static char *write_table(const fixture_t *f, const char *name, const table_t *t, int codec)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    qry_pq_opts_t o;
    qry_pq_opts_default(&o);
    o.codec = codec;
    const qry_pq_kv_t kv[] = {{"cairn.measurement", "telemetry"}};
    o.kv = kv;
    o.nkv = 1;
    qry_pq_writer_t *w = NULL;
    assert_int_equal(qry_pq_open(path, COLS, NC, &o, &w), 0);
    qry_pq_batch_t b = {t->n, t->ts, t->vals, t->valid};
    assert_int_equal(qry_pq_write(w, &b), 0);
    qry_pq_summary_t sum;
    assert_int_equal(qry_pq_close(w, &sum), 0);
    assert_int_equal(sum.rows, t->n);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, sum.bytes);
    char tmp[300];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    assert_int_not_equal(access(tmp, F_OK), 0);
    return path;
}

static void check_table(const fixture_t *f, const char *path, const table_t *t)
{
    char *out = duck(f, path, true);
    char line[1024];
    has_line(out, "type time TIMESTAMP WITH TIME ZONE");
    has_line(out, "type device VARCHAR");
    has_line(out, "type temp DOUBLE");
    has_line(out, "type count BIGINT");
    has_line(out, "type ok BOOLEAN");
    has_line(out, "type note VARCHAR");
    snprintf(line, sizeof(line), "rows %u", t->n);
    has_line(out, line);
    for (uint32_t i = 0; i < t->n; i++) {
        table_row(t, i, line);
        has_line(out, line);
    }
    has_line(out, "kv cairn.measurement telemetry");
    has_line(out, "kv cairn.version " CAIRN_VERSION);
    free(out);
}

static void test_types_nulls_utf8(void **state)
{
    fixture_t *f = *state;
    table_t t;
    table_fill(&t, 12);
    const char *path = write_table(f, "types.parquet", &t, QRY_PQ_ZSTD);
    check_table(f, path, &t);
    char *out = duck(f, path, false);
    /* schema as written: logical and converted types, repetition */
    has_line(out, "schema device BYTE_ARRAY UTF8 StringType() REQUIRED");
    has_line(out, "schema note BYTE_ARRAY UTF8 StringType() OPTIONAL");
    has_line(out, "schema count INT64 NULL NULL OPTIONAL");
    has_line(out, "schema time INT64 TIMESTAMP_MICROS TimestampType(isAdjustedToUTC=1, "
                  "unit=TimeUnit(MILLIS=<null>, MICROS=MicroSeconds(), NANOS=<null>)) REQUIRED");
    has_line(out, "meta 0 count ZSTD 12 3 -3 9223372036854775807 PLAIN, RLE, DELTA_BINARY_PACKED");
    has_line(out, "meta 0 ok ZSTD 12 3 false true PLAIN, RLE");
    has_line(out, "meta 0 site ZSTD 12 3 s\xc3\xbc"
                  "d s\xc3\xbc"
                  "d PLAIN, RLE, RLE_DICTIONARY");
    has_line(out, "meta 0 note ZSTD 12 3  \xf0\x9f\x98\x80 emoji PLAIN, RLE, RLE_DICTIONARY");
    /* statistics: NaN is neither min nor max, zero min is -0.0, strings
     * compare as unsigned bytes (the emoji sorts last) */
    free(out);
}

/* Writes one batch of n rows, all valid, to dir/name; returns DuckDB's
 * report on the file (owned). */
static char *write_simple(const fixture_t *f, const char *name, const qry_pq_col_t *cols,
                          size_t ncols, const int64_t *ts, const void *const *vals, uint32_t n)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    qry_pq_writer_t *w = NULL;
    assert_int_equal(qry_pq_open(path, cols, ncols, NULL, &w), 0);
    qry_pq_batch_t b = {n, ts, vals, NULL};
    assert_int_equal(qry_pq_write(w, &b), 0);
    assert_int_equal(qry_pq_close(w, NULL), 0);
    return duck(f, path, false);
}

/* Spec rules for DOUBLE statistics: NaN is never min or max, a zero min is
 * written -0.0 and a zero max +0.0, all-NaN chunks have no bounds. */
static void test_double_stats(void **state)
{
    fixture_t *f = *state;
    const qry_pq_col_t cols[2] = {{"z", QRY_PQ_DOUBLE, false}, {"nan", QRY_PQ_DOUBLE, false}};
    const int64_t ts[4] = {1, 2, 3, 4};
    const double z[4] = {0.0, NAN, -0.0, 0.0}, nan[4] = {NAN, NAN, NAN, -NAN};
    const void *vals[2] = {z, nan};
    char *out = write_simple(f, "zero.parquet", cols, 2, ts, vals, 4);
    has_line(out, "meta 0 z ZSTD 4 0 -0.0 0.0 PLAIN, RLE, BYTE_STREAM_SPLIT");
    has_line(out, "meta 0 nan ZSTD 4 0 NULL NULL PLAIN, RLE, BYTE_STREAM_SPLIT");
    free(out);
}

static void test_codecs(void **state)
{
    fixture_t *f = *state;
    table_t t;
    table_fill(&t, 16);
    static const char *const want[] = {"ZSTD", "LZ4_RAW", "SNAPPY", "UNCOMPRESSED"};
    for (int c = QRY_PQ_ZSTD; c <= QRY_PQ_NONE; c++) {
        char name[64];
        snprintf(name, sizeof(name), "codec-%s.parquet", qry_pq_codec_name(c));
        const char *path = write_table(f, name, &t, c);
        check_table(f, path, &t);
        char *out = duck(f, path, false);
        assert_non_null(strstr(out, want[c]));
        free(out);
    }
    assert_int_equal(qry_pq_codec_parse("lz4"), QRY_PQ_LZ4_RAW);
    assert_int_equal(qry_pq_codec_parse("none"), QRY_PQ_NONE);
    assert_int_equal(qry_pq_codec_parse("gzip"), CN_EINVAL);
}

static void test_empty_and_single(void **state)
{
    fixture_t *f = *state;
    table_t t;
    table_fill(&t, 0);
    const char *path = write_table(f, "empty.parquet", &t, QRY_PQ_ZSTD);
    char *out = duck(f, path, true);
    has_line(out, "rows 0");
    has_line(out, "type note VARCHAR");
    free(out);
    table_fill(&t, 1);
    path = write_table(f, "single.parquet", &t, QRY_PQ_ZSTD);
    check_table(f, path, &t);
}

static void test_errors_and_abort(void **state)
{
    fixture_t *f = *state;
    char path[256];
    snprintf(path, sizeof(path), "%s/aborted.parquet", f->dir);
    qry_pq_writer_t *w = NULL;
    const qry_pq_col_t dup[2] = {{"a", QRY_PQ_INT64, false}, {"a", QRY_PQ_DOUBLE, false}};
    assert_int_equal(qry_pq_open(path, dup, 2, NULL, &w), CN_EINVAL);
    const qry_pq_col_t clash[1] = {{"time", QRY_PQ_INT64, false}};
    assert_int_equal(qry_pq_open(path, clash, 1, NULL, &w), CN_EINVAL);
    assert_int_equal(qry_pq_open(path, COLS, NC, NULL, &w), 0);
    table_t t;
    table_fill(&t, 4);
    t.v[0][2] = 0; /* a null in the required tag */
    qry_pq_batch_t b = {t.n, t.ts, t.vals, t.valid};
    assert_int_equal(qry_pq_write(w, &b), CN_EINVAL);
    char tmp[300];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), 0);
    qry_pq_abort(w);
    assert_int_not_equal(access(tmp, F_OK), 0);
    assert_int_not_equal(access(path, F_OK), 0);
    qry_pq_abort(NULL);
}

/* A deterministic random walk, like bench/gen's fields. */
static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

enum { WTAGS = 3, WCOLS_N = WTAGS + 10 };

typedef struct walk {
    uint32_t n;
    int64_t *ts;
    eng_str_t *tag[WTAGS];
    char (*names)[16];
    double *f[7];
    int64_t *i[3];
    uint8_t *valid;
    const void *vals[WCOLS_N];
    const uint8_t *vv[WCOLS_N];
} walk_t;

static int64_t step(uint64_t *s, int64_t v, int64_t half, int64_t lo, int64_t hi)
{
    v += (int64_t)(rnd(s) % (uint64_t)(2 * half + 1)) - half;
    return v < lo ? lo : v > hi ? hi : v;
}

/*
 * devices x points rows sorted by device then time, shaped like
 * shared/WORKLOAD.md: tags device/fleet/model, seven decimal doubles
 * (temperature, humidity, pressure, voltage, current, latitude, longitude)
 * and three integers (rpm, battery, status) walking with the documented
 * steps.  With nulls, every 7th `current` is null.
 */
static void walk_make(walk_t *w, uint32_t devices, uint32_t points, bool nulls)
{
    static const char *const models[] = {"th-100", "th-200", "mx-5", "mx-7", "gw-1"};
    static const char *const fleets[] = {"fleet-0", "fleet-1", "fleet-2", "fleet-3", "fleet-4",
                                         "fleet-5", "fleet-6", "fleet-7", "fleet-8", "fleet-9"};
    static const int dec[7] = {2, 1, 1, 3, 3, 6, 6};
    static const int64_t half[5] = {5, 3, 1, 4, 20};
    static const int64_t lo[5] = {-2000, 0, 9500, 10500, 0},
                         hi[5] = {6000, 1000, 10500, 13500, 5000};
    static const int64_t start[7] = {1800, 350, 10050, 11800, 500, 48100000, 11500000};
    static const int64_t span[7] = {1000, 300, 200, 800, 2000, 200000, 200000};
    memset(w, 0, sizeof(*w));
    w->n = devices * points;
    w->ts = calloc(w->n, sizeof(int64_t));
    for (int k = 0; k < WTAGS; k++)
        w->tag[k] = calloc(w->n, sizeof(eng_str_t));
    w->names = calloc(devices, 16);
    w->valid = calloc(w->n, 1);
    for (int k = 0; k < 7; k++)
        w->f[k] = calloc(w->n, sizeof(double));
    for (int k = 0; k < 3; k++)
        w->i[k] = calloc(w->n, sizeof(int64_t));
    uint64_t s = 1;
    for (uint32_t d = 0; d < devices; d++) {
        snprintf(w->names[d], 16, "dev-%06u", d);
        const char *model = models[(d * 7 + 3) % 5], *fleet = fleets[d % 10];
        int64_t fv[7], rpm = 800 + (int64_t)(rnd(&s) % 2000), bat = 40 + (int64_t)(rnd(&s) % 61);
        int64_t status = 0;
        for (int k = 0; k < 7; k++)
            fv[k] = start[k] + (int64_t)(rnd(&s) % (uint64_t)span[k]);
        for (uint32_t p = 0; p < points; p++) {
            uint32_t r = d * points + p;
            w->ts[r] = (INT64_C(1767225600000) + (int64_t)p * 10000) * 1000000;
            w->tag[0][r] = (eng_str_t){w->names[d], 10};
            w->tag[1][r] = (eng_str_t){fleet, (uint32_t)strlen(fleet)};
            w->tag[2][r] = (eng_str_t){model, (uint32_t)strlen(model)};
            w->valid[r] = !nulls || r % 7 != 0;
            for (int k = 0; k < 5; k++)
                fv[k] = step(&s, fv[k], half[k], lo[k], hi[k]);
            if (rnd(&s) % 8 == 0) {
                fv[5] = step(&s, fv[5], 30, 0, INT64_C(90000000));
                fv[6] = step(&s, fv[6], 30, 0, INT64_C(180000000));
            }
            for (int k = 0; k < 7; k++)
                w->f[k][r] = (double)fv[k] / pow(10, dec[k]);
            rpm = step(&s, rpm, 15, 0, 6000);
            if (bat <= 15 && rnd(&s) % 6 == 0)
                bat++;
            else if (rnd(&s) % 60 == 0 && bat > 0)
                bat--;
            if (status == 0 && rnd(&s) % 1000 < 3)
                status = 1 + (int64_t)(rnd(&s) % 3);
            else if (status != 0 && rnd(&s) % 10 == 0)
                status = 0;
            w->i[0][r] = rpm;
            w->i[1][r] = bat;
            w->i[2][r] = status;
        }
    }
    for (int k = 0; k < WTAGS; k++)
        w->vals[k] = w->tag[k];
    for (int k = 0; k < 7; k++)
        w->vals[WTAGS + k] = w->f[k];
    for (int k = 0; k < 3; k++)
        w->vals[WTAGS + 7 + k] = w->i[k];
    w->vv[WTAGS + 4] = w->valid; /* current: optional with nulls */
}

static void walk_free(walk_t *w)
{
    free(w->ts);
    for (int k = 0; k < WTAGS; k++)
        free(w->tag[k]);
    free(w->names);
    free(w->valid);
    for (int k = 0; k < 7; k++)
        free(w->f[k]);
    for (int k = 0; k < 3; k++)
        free(w->i[k]);
}

static const qry_pq_col_t WCOLS[WCOLS_N] = {
    {"device_id", QRY_PQ_STRING, true}, {"fleet", QRY_PQ_STRING, true},
    {"model", QRY_PQ_STRING, true},     {"temperature", QRY_PQ_DOUBLE, false},
    {"humidity", QRY_PQ_DOUBLE, false}, {"pressure", QRY_PQ_DOUBLE, false},
    {"voltage", QRY_PQ_DOUBLE, false},  {"current", QRY_PQ_DOUBLE, false},
    {"latitude", QRY_PQ_DOUBLE, false}, {"longitude", QRY_PQ_DOUBLE, false},
    {"rpm", QRY_PQ_INT64, false},       {"battery", QRY_PQ_INT64, false},
    {"status", QRY_PQ_INT64, false},
};

/* Writes w in batches of 1024 rows; returns the file size. */
static uint64_t walk_write(const walk_t *w, const char *path, const qry_pq_opts_t *o)
{
    qry_pq_writer_t *pw = NULL;
    assert_int_equal(qry_pq_open(path, WCOLS, WCOLS_N, o, &pw), 0);
    for (uint32_t off = 0; off < w->n; off += 1024) {
        const void *vals[WCOLS_N];
        const uint8_t *vv[WCOLS_N];
        for (int c = 0; c < WCOLS_N; c++) {
            size_t size = c < WTAGS ? sizeof(eng_str_t) : 8;
            vals[c] = (const uint8_t *)w->vals[c] + (size_t)off * size;
            vv[c] = w->vv[c] ? w->vv[c] + off : NULL;
        }
        qry_pq_batch_t b = {CN_MIN(1024, w->n - off), w->ts + off, vals, vv};
        assert_int_equal(qry_pq_write(pw, &b), 0);
    }
    qry_pq_summary_t sum;
    assert_int_equal(qry_pq_close(pw, &sum), 0);
    return sum.bytes;
}

static void test_pages_and_row_groups(void **state)
{
    fixture_t *f = *state;
    walk_t w;
    walk_make(&w, 5, 1000, true);
    char path[256];
    snprintf(path, sizeof(path), "%s/pages.parquet", f->dir);
    qry_pq_opts_t o;
    qry_pq_opts_default(&o);
    o.row_group_rows = 1500; /* 4 row groups, the last partial */
    o.page_bytes = 1000;     /* ~125 values per page */
    o.unit = QRY_PQ_NANOS;
    walk_write(&w, path, &o);
    char *out = duck(f, path, true);
    has_line(out, "rows 5000");
    has_line(out, "type time TIMESTAMP WITH TIME ZONE");
    has_line(out, "schema time INT64 NULL TimestampType(isAdjustedToUTC=1, "
                  "unit=TimeUnit(MILLIS=<null>, MICROS=<null>, NANOS=NanoSeconds())) REQUIRED");
    char line[512], num[64];
    int64_t sum = 0, cnt = 0;
    for (uint32_t r = 0; r < w.n; r++) {
        sum += w.i[0][r];
        cnt += w.valid[r];
        int n = sprintf(line, "row %lld", (long long)w.ts[r]);
        for (int k = 0; k < WTAGS; k++) {
            hexstr(num, w.tag[k][r].p, w.tag[k][r].len);
            n += sprintf(line + n, "|%s", num);
        }
        for (int k = 0; k < 7; k++) {
            hexdbl(num, w.f[k][r]);
            n += sprintf(line + n, "|%s", k == 4 && !w.valid[r] ? "NULL" : num);
        }
        for (int k = 0; k < 3; k++)
            n += sprintf(line + n, "|%lld", (long long)w.i[k][r]);
        has_line(out, line);
    }
    snprintf(line, sizeof(line), "agg current %lld", (long long)cnt);
    assert_non_null(strstr(out, line));
    snprintf(line, sizeof(line), " %lld\n", (long long)sum);
    assert_non_null(strstr(strstr(out, "agg rpm "), line));
    has_line(out, "meta 3 time ZSTD 500 0 2026-01-01 01:23:20+00 2026-01-01 02:46:30+00 "
                  "PLAIN, RLE, DELTA_BINARY_PACKED");
    has_line(out, "meta 3 device_id ZSTD 500 0 dev-000004 dev-000004 PLAIN, RLE, RLE_DICTIONARY");
    if (getenv("CAIRN_PQ_DUMP"))
        fprintf(stderr, "%s", out);
    free(out);
    walk_free(&w);
}

/* A sink that collects bytes and counts calls; with fail set every call
 * fails (a client that went away). */
typedef struct memsink {
    cn_buf_t b;
    size_t calls;
    bool fail;
} memsink_t;

static int memsink_write(void *arg, const void *p, size_t n)
{
    memsink_t *m = arg;
    if (m->fail)
        return -EPIPE;
    cn_buf_put(&m->b, p, n);
    m->calls++;
    return 0;
}

/* The callback sink gets exactly the bytes of the file, in order (the
 * writer hands them over in pieces of 4 MiB: one here); a sink error fails
 * the writer.  qry_pq_read_summary reads rows and time range back. */
static void test_sink(void **state)
{
    fixture_t *f = *state;
    walk_t w;
    walk_make(&w, 6, 2000, true);
    qry_pq_opts_t o;
    qry_pq_opts_default(&o);
    o.row_group_rows = 2500;
    o.page_bytes = 4000;
    char path[256];
    snprintf(path, sizeof(path), "%s/sink_ref.parquet", f->dir);
    uint64_t size = walk_write(&w, path, &o);
    uint8_t *file = NULL;
    size_t flen = 0;
    assert_int_equal(cn_file_read_all(path, &file, &flen), 0);
    assert_int_equal(flen, size);

    for (int pass = 0; pass < 2; pass++) {
        memsink_t m = {.fail = pass == 1};
        cn_buf_init(&m.b);
        qry_sink_t sink = {memsink_write, &m};
        qry_pq_writer_t *pw = NULL;
        assert_int_equal(qry_pq_open_sink(&sink, WCOLS, WCOLS_N, &o, &pw), 0);
        int rc = 0;
        for (uint32_t off = 0; rc == 0 && off < w.n; off += 1024) {
            const void *vals[WCOLS_N];
            const uint8_t *vv[WCOLS_N];
            for (int c = 0; c < WCOLS_N; c++) {
                size_t sz = c < WTAGS ? sizeof(eng_str_t) : 8;
                vals[c] = (const uint8_t *)w.vals[c] + (size_t)off * sz;
                vv[c] = w.vv[c] ? w.vv[c] + off : NULL;
            }
            qry_pq_batch_t b = {CN_MIN(1024, w.n - off), w.ts + off, vals, vv};
            rc = qry_pq_write(pw, &b);
        }
        if (!pass) {
            assert_int_equal(rc, 0);
            assert_int_equal(qry_pq_bytes(pw) > 4, 1);
            qry_pq_summary_t sum;
            assert_int_equal(qry_pq_close(pw, &sum), 0);
            assert_int_equal(sum.bytes, size);
            assert_int_equal(sum.rows, w.n);
            assert_true(m.calls >= 1);
            assert_bytes(&m.b, file, flen);
        } else {
            /* The error surfaces from a write or from close; either way
             * the writer is gone afterwards. */
            if (rc == 0)
                rc = qry_pq_close(pw, NULL);
            else
                qry_pq_abort(pw);
            assert_int_equal(rc, -EPIPE);
            assert_int_equal(m.b.len, 0);
        }
        cn_buf_free(&m.b);
    }
    /* The footer reader gets rows and the time range back (microseconds). */
    qry_pq_summary_t rs;
    assert_int_equal(qry_pq_read_summary(file, flen, QRY_PQ_MICROS, &rs), 0);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (uint32_t r = 0; r < w.n; r++) {
        lo = CN_MIN(lo, w.ts[r]);
        hi = CN_MAX(hi, w.ts[r]);
    }
    assert_int_equal(rs.rows, w.n);
    assert_int_equal(rs.bytes, flen);
    assert_int_equal(rs.tmin, floor_us(lo));
    assert_int_equal(rs.tmax, floor_us(hi));
    for (size_t cut = 1; cut < 64; cut += 7)
        assert_int_equal(qry_pq_read_summary(file, flen - cut, QRY_PQ_MICROS, &rs), CN_ECORRUPT);
    qry_sink_t bad = {NULL, NULL};
    qry_pq_writer_t *pw = NULL;
    assert_int_equal(qry_pq_open_sink(&bad, WCOLS, WCOLS_N, &o, &pw), CN_EINVAL);
    cn_free(file);
    walk_free(&w);
}

/* Every codec on enough data for real matches (long and overlapping
 * copies in snappy): all rows read back equal to the uncompressed file. */
static void test_codecs_walk(void **state)
{
    fixture_t *f = *state;
    walk_t w;
    walk_make(&w, 4, 3000, true);
    char *ref = NULL;
    for (int c = QRY_PQ_NONE; c >= QRY_PQ_ZSTD; c--) {
        char path[256];
        snprintf(path, sizeof(path), "%s/walk-%s.parquet", f->dir, qry_pq_codec_name(c));
        qry_pq_opts_t o;
        qry_pq_opts_default(&o);
        o.codec = c;
        o.page_bytes = 20000;
        walk_write(&w, path, &o);
        char *out = duck(f, path, true);
        char *rows = strstr(out, "\nrow ");
        assert_non_null(rows);
        *strstr(rows, "\nschema ") = '\0';
        if (!ref)
            ref = strdup(rows);
        else
            assert_string_equal(rows, ref);
        free(out);
    }
    free(ref);
    walk_free(&w);
}

/* Long strings get truncated statistics that still bound the values and
 * stay valid UTF-8. */
static void test_long_string_stats(void **state)
{
    fixture_t *f = *state;
    char lo[101], hi[101], mb[101];
    memset(lo, 'a', 100);
    memset(hi, 'z', 100);
    lo[100] = hi[100] = '\0';
    for (int i = 0; i < 50; i++)
        memcpy(mb + 2 * i, "\xc3\xa9", 2); /* 50 x U+00E9 */
    mb[100] = '\0';
    const qry_pq_col_t cols[1] = {{"s", QRY_PQ_STRING, false}};
    const int64_t ts[3] = {1, 2, 3};
    const eng_str_t v[3] = {{lo, 100}, {hi, 100}, {lo, 10}};
    const eng_str_t m[3] = {{mb, 100}, {mb, 100}, {mb, 100}};
    for (int k = 0; k < 2; k++) {
        const void *vals[1] = {k ? (const void *)m : (const void *)v};
        char *out = write_simple(f, k ? "long1.parquet" : "long0.parquet", cols, 1, ts, vals, 3);
        char line[300];
        if (k == 0) {
            /* min "aaaaaaaaaa" is exact; max: 63 x z then '{' */
            snprintf(line, sizeof(line), "meta 0 s ZSTD 3 0 aaaaaaaaaa %.63s{ PLAIN, RLE", hi);
        } else {
            /* min: 32 whole characters; max: no ASCII to bump, so none */
            snprintf(line, sizeof(line), "meta 0 s ZSTD 3 0 %.64s NULL PLAIN, RLE, RLE_DICTIONARY",
                     mb);
        }
        has_line(out, line);
        free(out);
    }
}

/* Bytes per field value on workload-shaped data ('medium' is 1000 devices
 * x 2160 points; CAIRN_PQ_DEVICES overrides the 100 used here, and
 * CAIRN_PQ_OUT keeps the file at that path), and the aggregates DuckDB
 * computes over the whole file. */
static void test_workload_bytes(void **state)
{
    fixture_t *f = *state;
    const char *env = getenv("CAIRN_PQ_DEVICES");
    uint32_t devices = env ? (uint32_t)atoi(env) : 100;
    walk_t w;
    walk_make(&w, devices, 2160, false);
    char path[256];
    snprintf(path, sizeof(path), "%s/workload.parquet", f->dir);
    if (getenv("CAIRN_PQ_OUT"))
        snprintf(path, sizeof(path), "%s", getenv("CAIRN_PQ_OUT"));
    qry_pq_opts_t o;
    qry_pq_opts_default(&o);
    int64_t t0 = cn_mono_ns();
    uint64_t bytes = walk_write(&w, path, &o);
    double s = (double)(cn_mono_ns() - t0) / 1e9;
    fprintf(stderr, "workload: %u rows, %llu bytes, %.3f bytes/field value, %.0f rows/s\n", w.n,
            (unsigned long long)bytes, (double)bytes / ((double)w.n * 10), w.n / s);
    assert_true((double)bytes / ((double)w.n * 10) < 1.02);
    char *out = duck(f, path, false);
    char line[256];
    snprintf(line, sizeof(line), "rows %u", w.n);
    has_line(out, line);
    int64_t sum = 0, mn = INT64_MAX, mx = INT64_MIN;
    for (uint32_t r = 0; r < w.n; r++) {
        sum += w.i[1][r];
        mn = CN_MIN(mn, w.i[1][r]);
        mx = CN_MAX(mx, w.i[1][r]);
    }
    snprintf(line, sizeof(line), "agg battery %u %lld %lld %lld", w.n, (long long)mn, (long long)mx,
             (long long)sum);
    has_line(out, line);
    snprintf(line, sizeof(line), "agg device_id %u x%s", w.n, "6465762d303030303030");
    assert_non_null(strstr(out, line));
    free(out);
    walk_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thrift_struct),
        cmocka_unit_test(test_thrift_lists),
        cmocka_unit_test(test_rle_hybrid),
        cmocka_unit_test(test_delta_binary_packed),
        cmocka_unit_test(test_snappy_format),
        cmocka_unit_test(test_errors_and_abort),
        cmocka_unit_test(test_types_nulls_utf8),
        cmocka_unit_test(test_double_stats),
        cmocka_unit_test(test_codecs),
        cmocka_unit_test(test_empty_and_single),
        cmocka_unit_test(test_pages_and_row_groups),
        cmocka_unit_test(test_codecs_walk),
        cmocka_unit_test(test_sink),
        cmocka_unit_test(test_long_string_stats),
        cmocka_unit_test(test_workload_bytes),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
