/* SPDX-License-Identifier: MIT */
/*
 * test_codec.c - property tests for the column codecs (engine/codec/):
 * seeded random and adversarial columns of every type and of sizes 0, 1, 2,
 * 1000, 8192 and 65536 must round-trip bit for bit and consume exactly their
 * encoding; every truncation must fail and random corruption must neither
 * crash nor write past n outputs; a few sizes are pinned exactly; and the
 * standard workload's walks are encoded to print bytes per value.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* cmocka.h needs these first; keep clang-format from sorting them after it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

#include "codec/codec.h"
#include "codec/codec_int.h"

static const size_t SIZES[] = {0, 1, 2, 3, 1000, 8192, 65536};
#define CANARY 0xA5

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* --------------------------------------------------------- generic checks */

/* A codec seen through one signature: values are elem bytes each, compared
 * bytewise (bool and valid normalise to 0/1 in the generator). */
typedef struct codec {
    const char *name;
    size_t elem;
    int (*enc)(const void *v, size_t n, cn_buf_t *out);
    int (*dec)(cn_rd_t *rd, size_t n, void *out);
} codec_t;

#define WRAP(fn, T)                                                                                \
    static int enc_##fn(const void *v, size_t n, cn_buf_t *out)                                    \
    {                                                                                              \
        return eng__##fn##_encode((const T *)v, n, out);                                           \
    }                                                                                              \
    static int dec_##fn(cn_rd_t *rd, size_t n, void *out)                                          \
    {                                                                                              \
        return eng__##fn##_decode(rd, n, (T *)out);                                                \
    }
WRAP(ts, int64_t)
WRAP(i64, int64_t)
WRAP(f64, double)
WRAP(bool, uint8_t)

/* eng__valid_decode returns the count of present values: check it against
 * what it decoded, then report success as the other decoders do. */
static int enc_valid(const void *v, size_t n, cn_buf_t *out)
{
    return eng__valid_encode((const uint8_t *)v, n, out);
}

static int dec_valid(cn_rd_t *rd, size_t n, void *out)
{
    int rc = eng__valid_decode(rd, n, (uint8_t *)out);
    if (rc < 0)
        return rc;
    size_t ones = 0;
    for (size_t i = 0; i < n; i++)
        ones += ((const uint8_t *)out)[i];
    assert_int_equal((size_t)rc, ones);
    return 0;
}

static const codec_t TS = {"ts", 8, enc_ts, dec_ts};
static const codec_t I64 = {"i64", 8, enc_i64, dec_i64};
static const codec_t F64 = {"f64", 8, enc_f64, dec_f64};
static const codec_t BOOL = {"bool", 1, enc_bool, dec_bool};
static const codec_t VALID = {"valid", 1, enc_valid, dec_valid};

/* Truncations fail; corruptions never write past n values. */
static void abuse(const codec_t *c, const uint8_t *enc, size_t len, size_t n, uint64_t *seed)
{
    uint8_t *out = malloc(n * c->elem + 16);
    size_t step = len > 256 ? len / 97 + 1 : 1;
    for (size_t cut = 0; cut < len; cut += step) {
        cn_rd_t rd = cn_rd_make(enc, cut);
        assert_true(c->dec(&rd, n, out) < 0);
    }
    uint8_t *bad = malloc(len ? len : 1);
    for (int trial = 0; trial < 24 && len > 0; trial++) {
        memcpy(bad, enc, len);
        for (int k = 0; k < 1 + trial % 3; k++)
            bad[rnd(seed) % len] ^= (uint8_t)(1 + rnd(seed) % 255);
        memset(out + n * c->elem, CANARY, 16);
        cn_rd_t rd = cn_rd_make(bad, len);
        int rc = c->dec(&rd, n, out);
        assert_true(rc == 0 || rc == CN_ETRUNC || rc == CN_ECORRUPT);
        for (int k = 0; k < 16; k++)
            assert_int_equal(out[n * c->elem + k], CANARY);
    }
    free(bad);
    free(out);
}

/* Decodes the encoding in b (with a trailing byte that must stay unread)
 * and compares with v; with a seed, truncates and damages it too. */
static void roundtrip_enc(const codec_t *c, const void *v, size_t n, cn_buf_t *b, uint64_t *seed)
{
    size_t len = b->len;
    cn_buf_put_u8(b, 0x77);
    uint8_t *out = malloc(n * c->elem + 1);
    cn_rd_t rd = cn_rd_make(b->p, b->len);
    int rc = c->dec(&rd, n, out);
    if (rc != 0)
        fail_msg("%s n=%zu decode rc=%d", c->name, n, rc);
    assert_int_equal(cn_rd_left(&rd), 1);
    if (n && memcmp(out, v, n * c->elem) != 0)
        fail_msg("%s n=%zu mismatch (codec id 0x%02x)", c->name, n, b->p[0]);
    if (seed)
        abuse(c, b->p, len, n, seed);
    free(out);
    b->len = len;
}

/* Encodes, decodes (with a trailing byte that must stay unread) and
 * compares; returns the encoded size. */
static size_t roundtrip(const codec_t *c, const void *v, size_t n, uint64_t *seed)
{
    cn_buf_t b;
    cn_buf_init(&b);
    assert_int_equal(c->enc(v, n, &b), 0);
    size_t len = b.len;
    cn_buf_put_u8(&b, 0x77);
    uint8_t *out = malloc(n * c->elem + 1);
    cn_rd_t rd = cn_rd_make(b.p, b.len);
    int rc = c->dec(&rd, n, out);
    if (rc != 0)
        fail_msg("%s n=%zu decode rc=%d", c->name, n, rc);
    assert_int_equal(cn_rd_left(&rd), 1);
    if (n && memcmp(out, v, n * c->elem) != 0)
        fail_msg("%s n=%zu mismatch (codec id 0x%02x)", c->name, n, b.p[0]);
    if (seed)
        abuse(c, b.p, len, n, seed);
    free(out);
    cn_buf_free(&b);
    return len;
}

/* ------------------------------------------------------------ generators */

enum { G_RANDOM, G_CONST, G_MONO, G_WALK, G_EXTREME, G_SPARSE, G_SMALL, G_COUNT };

static void gen_i64(int kind, int64_t *v, size_t n, uint64_t *s)
{
    int64_t x = (int64_t)rnd(s);
    for (size_t i = 0; i < n; i++) {
        switch (kind) {
        case G_RANDOM:
            v[i] = (int64_t)rnd(s);
            break;
        case G_CONST:
            v[i] = INT64_MIN;
            break;
        case G_MONO:
            v[i] = (int64_t)(1767225600000000000ULL + i * 10000000000ULL + rnd(s) % 3);
            break;
        case G_WALK:
            v[i] = x += (int64_t)(rnd(s) % 11) - 5;
            break;
        case G_EXTREME:
            v[i] = i % 2 ? INT64_MAX : INT64_MIN;
            break;
        case G_SPARSE:
            v[i] = x += rnd(s) % 8 ? 0 : (int64_t)(rnd(s) % 61) - 30;
            break;
        default:
            v[i] = rnd(s) % 50 ? 7 : (int64_t)rnd(s); /* rare huge escapes */
            break;
        }
    }
}

static void test_i64_props(void **state)
{
    (void)state;
    uint64_t s = 1;
    for (size_t si = 0; si < CN_ARRAY_LEN(SIZES); si++) {
        size_t n = SIZES[si];
        int64_t *v = malloc(n * 8 + 8);
        for (int k = 0; k < G_COUNT; k++) {
            gen_i64(k, v, n, &s);
            roundtrip(&I64, v, n, n <= 8192 ? &s : NULL);
            roundtrip(&TS, v, n, n <= 8192 ? &s : NULL);
        }
        free(v);
    }
}

static double bits2f(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static void gen_f64(int kind, double *v, size_t n, uint64_t *s)
{
    int64_t x = 2137;
    static const uint64_t special[] = {
        0x7ff8000000000001ULL, 0xfff0000000000000ULL, 0x7ff0000000000000ULL, 0x8000000000000000ULL,
        0x0000000000000001ULL, 0x000fffffffffffffULL, 0x7ff4000000000abcULL, 0x0000000000000000ULL};
    for (size_t i = 0; i < n; i++) {
        switch (kind) {
        case G_RANDOM:
            v[i] = bits2f(rnd(s));
            break;
        case G_CONST:
            v[i] = bits2f(0x7ff800000000dead);
            break;
        case G_MONO:
            v[i] = (double)i * 0.001;
            break;
        case G_WALK:
            v[i] = (double)(x += (int64_t)(rnd(s) % 11) - 5) / 100;
            break;
        case G_EXTREME:
            v[i] = bits2f(special[rnd(s) % CN_ARRAY_LEN(special)]);
            break;
        case G_SPARSE: /* decimals with a few exceptions mixed in */
            v[i] = rnd(s) % 50 ? (double)(x += (int64_t)(rnd(s) % 3) - 1) / 10
                               : bits2f(special[rnd(s) % CN_ARRAY_LEN(special)]);
            break;
        default:
            v[i] = sin((double)i / 10) * 1e-300;
            break;
        }
    }
}

static void test_f64_props(void **state)
{
    (void)state;
    uint64_t s = 2;
    for (size_t si = 0; si < CN_ARRAY_LEN(SIZES); si++) {
        size_t n = SIZES[si];
        double *v = malloc(n * 8 + 8);
        for (int k = 0; k < G_COUNT; k++) {
            gen_f64(k, v, n, &s);
            roundtrip(&F64, v, n, n <= 8192 ? &s : NULL);
        }
        free(v);
    }
}

static void test_bits_props(void **state)
{
    (void)state;
    uint64_t s = 3;
    for (size_t si = 0; si < CN_ARRAY_LEN(SIZES); si++) {
        size_t n = SIZES[si];
        uint8_t *v = malloc(n + 1);
        for (int k = 0; k < 5; k++) {
            for (size_t i = 0; i < n; i++)
                v[i] = k == 0   ? 0
                       : k == 1 ? 1
                       : k == 2 ? rnd(&s) & 1
                       : k == 3 ? (i / 37) & 1
                                : rnd(&s) % 500 == 0;
            size_t a = roundtrip(&BOOL, v, n, n <= 8192 ? &s : NULL);
            size_t b = roundtrip(&VALID, v, n, n <= 8192 ? &s : NULL);
            assert_int_equal(a, b);
            if (k < 2 || n == 0)
                assert_int_equal(b, 1); /* all-null / all-present: one byte */
        }
        free(v);
    }
}

/* ---------------------------------------------------------------- strings */

static size_t str_roundtrip(const eng_str_t *v, size_t n, bool abuse_it)
{
    cn_buf_t b, arena;
    cn_buf_init(&b);
    cn_buf_init(&arena);
    assert_int_equal(eng__str_encode(v, n, &b), 0);
    size_t len = b.len;
    eng_str_t *out = malloc((n + 1) * sizeof *out);
    cn_rd_t rd = cn_rd_make(b.p, b.len);
    assert_int_equal(eng__str_decode(&rd, n, out, &arena), 0);
    assert_int_equal(cn_rd_left(&rd), 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(out[i].len, v[i].len);
        assert_true(v[i].len == 0 || memcmp(out[i].p, v[i].p, v[i].len) == 0);
    }
    for (size_t cut = 0; abuse_it && cut < len; cut += len / 50 + 1) {
        rd = cn_rd_make(b.p, cut);
        cn_buf_reset(&arena);
        assert_true(eng__str_decode(&rd, n, out, &arena) < 0);
    }
    uint64_t s = 9;
    for (int t = 0; abuse_it && len && t < 32; t++) {
        uint8_t *bad = malloc(len);
        memcpy(bad, b.p, len);
        bad[rnd(&s) % len] ^= (uint8_t)(1 + rnd(&s) % 255);
        rd = cn_rd_make(bad, len);
        cn_buf_reset(&arena);
        int rc = eng__str_decode(&rd, n, out, &arena);
        assert_true(rc == 0 || rc == CN_ETRUNC || rc == CN_ECORRUPT);
        free(bad);
    }
    free(out);
    cn_buf_free(&arena);
    cn_buf_free(&b);
    return len;
}

static void test_str_props(void **state)
{
    (void)state;
    static const char *models[] = {"th-100", "th-200", "mx-5", "mx-7", "gw-1"};
    uint64_t s = 4;
    for (size_t si = 0; si < CN_ARRAY_LEN(SIZES); si++) {
        size_t n = SIZES[si];
        eng_str_t *v = malloc((n + 1) * sizeof *v);
        char *text = malloc(n * 24 + 1);
        for (int k = 0; k < 3; k++) {
            for (size_t i = 0; i < n; i++) {
                if (k == 0) {
                    v[i] = (eng_str_t){"", 0};
                } else if (k == 1) {
                    const char *m = models[rnd(&s) % 5];
                    v[i] = (eng_str_t){m, (uint32_t)strlen(m)};
                } else {
                    int len = snprintf(text + i * 24, 24, "msg %llu", (unsigned long long)rnd(&s));
                    v[i] = (eng_str_t){text + i * 24, (uint32_t)len};
                }
            }
            str_roundtrip(v, n, n <= 1000);
        }
        free(text);
        free(v);
    }
    /* One 1 MiB string and a dictionary of big strings. */
    char *big = malloc(1 << 20);
    for (size_t i = 0; i < (1 << 20); i++)
        big[i] = (char)rnd(&s);
    eng_str_t one = {big, 1 << 20};
    assert_true(str_roundtrip(&one, 1, false) > (1 << 20));
    eng_str_t many[8];
    for (int i = 0; i < 8; i++)
        many[i] = (eng_str_t){big + (i % 2) * 1000, 5000};
    assert_true(str_roundtrip(many, 8, true) < 11000);
    free(big);
}

/* -------------------------------------------------------------- exact sizes */

static void test_exact_sizes(void **state)
{
    (void)state;
    size_t ns[] = {2, 1000, 8192, 65536};
    for (size_t k = 0; k < CN_ARRAY_LEN(ns); k++) {
        int64_t *ts = malloc(ns[k] * 8);
        for (size_t i = 0; i < ns[k]; i++)
            ts[i] = 1767225600000000000LL + (int64_t)i * 10000000000LL;
        /* id + 8-byte first + svarint(10 s in ns) (5 bytes) */
        assert_int_equal(roundtrip(&TS, ts, ns[k], NULL), 14);
        double *f = malloc(ns[k] * 8);
        for (size_t i = 0; i < ns[k]; i++)
            f[i] = -0.0;
        assert_int_equal(roundtrip(&F64, f, ns[k], NULL), 9);
        assert_int_equal(roundtrip(&I64, ts, 1, NULL), 10); /* const: id + 9-byte svarint */
        free(f);
        free(ts);
    }
    int64_t empty = 0;
    assert_int_equal(roundtrip(&I64, &empty, 0, NULL), 1);
    assert_int_equal(roundtrip(&F64, &empty, 0, NULL), 1);
}

/* ------------------------------------------------------------------- pack */

static void test_pack(void **state)
{
    (void)state;
    uint8_t *data = malloc(100000);
    uint64_t s = 5;
    for (size_t i = 0; i < 100000; i++)
        data[i] = i % 1000 < 500 ? (uint8_t)(i % 7) : (uint8_t)rnd(&s);
    int methods[] = {ENG_COMP_NONE, ENG_COMP_LZ4, ENG_COMP_ZSTD};
    for (size_t m = 0; m < 3; m++) {
        size_t lens[] = {0, 1, 100000};
        for (size_t l = 0; l < 3; l++) {
            cn_buf_t b, scratch;
            cn_buf_init(&b);
            cn_buf_init(&scratch);
            assert_int_equal(eng__pack(data, lens[l], methods[m], 3, &b), 0);
            if (lens[l] == 100000 && methods[m] != ENG_COMP_NONE)
                assert_true(b.len < 80000);
            cn_rd_t rd = cn_rd_make(b.p, b.len), raw;
            assert_int_equal(eng__unpack(&rd, &scratch, &raw), 0);
            assert_int_equal(cn_rd_left(&rd), 0);
            assert_int_equal(cn_rd_left(&raw), lens[l]);
            assert_true(lens[l] == 0 || memcmp(raw.p, data, lens[l]) == 0);
            for (size_t cut = 0; cut < b.len; cut += b.len / 40 + 1) {
                rd = cn_rd_make(b.p, cut);
                assert_true(eng__unpack(&rd, &scratch, &raw) < 0);
            }
            cn_buf_free(&scratch);
            cn_buf_free(&b);
        }
    }
    /* A raw length above 1 GiB is corrupt, whatever follows. */
    uint8_t huge[] = {2, 0x80, 0x80, 0x80, 0x80, 0x08, 1, 0};
    cn_buf_t scratch;
    cn_buf_init(&scratch);
    cn_rd_t rd = cn_rd_make(huge, sizeof huge), raw;
    assert_int_equal(eng__unpack(&rd, &scratch, &raw), CN_ECORRUPT);
    uint8_t lie[] = {2, 100, 3, 1, 2, 3}; /* not a zstd frame */
    rd = cn_rd_make(lie, sizeof lie);
    assert_int_equal(eng__unpack(&rd, &scratch, &raw), CN_ECORRUPT);
    cn_buf_free(&scratch);
    free(data);
}

/* --------------------------------------------------------------- workload */

/*
 * The ten random walks of WORKLOAD.md for one device, kept as scaled
 * integers; floats are the scaled integer / 10^decimals (what strtod gives
 * for the printed text).  A small stand-in for bench/gen.c, which the tests
 * do not link.
 */
enum {
    ENG_WALK_TEMP,
    ENG_WALK_HUM,
    ENG_WALK_PRES,
    ENG_WALK_VOLT,
    ENG_WALK_CUR,
    ENG_WALK_RPM,
    ENG_WALK_LAT,
    ENG_WALK_LON,
    ENG_WALK_BATT,
    ENG_WALK_STATUS,
    ENG_WALK_NFIELDS
};

typedef struct eng_walk_field {
    const char *name;
    int decimals; /* < 0: integer field */
    int64_t start_lo, start_span, step, lo, hi;
} eng_walk_field_t;

static const eng_walk_field_t ENG_WALK_FIELDS[ENG_WALK_NFIELDS] = {
    {"temperature", 2, 1800, 1000, 5, -2000, 6000},
    {"humidity", 1, 350, 300, 3, 0, 1000},
    {"pressure", 1, 10050, 200, 1, 9500, 10500},
    {"voltage", 3, 11800, 800, 4, 10500, 13500},
    {"current", 3, 500, 2000, 20, 0, 5000},
    {"rpm", -1, 800, 2000, 15, 0, 6000},
    {"latitude", 6, 48100000, 200000, 30, INT64_MIN, INT64_MAX},
    {"longitude", 6, 11500000, 200000, 30, INT64_MIN, INT64_MAX},
    {"battery", -1, 40, 61, 1, 0, 100},
    {"status", -1, 0, 1, 0, 0, 3},
};

typedef struct eng_walk {
    uint64_t rng;
    int64_t v[ENG_WALK_NFIELDS];
    int charging;
} eng_walk_t;

static inline uint64_t eng__walk_rand(eng_walk_t *w)
{
    uint64_t z = (w->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [-k, k]. */
static inline int64_t eng__walk_step(eng_walk_t *w, int64_t k)
{
    return (int64_t)(eng__walk_rand(w) % (uint64_t)(2 * k + 1)) - k;
}

static inline void eng__walk_init(eng_walk_t *w, uint64_t seed, unsigned device)
{
    w->rng = seed * 1000003u + device;
    w->charging = 0;
    for (int f = 0; f < ENG_WALK_NFIELDS; f++) {
        const eng_walk_field_t *d = &ENG_WALK_FIELDS[f];
        w->v[f] = d->start_lo + (int64_t)(eng__walk_rand(w) % (uint64_t)d->start_span);
    }
}

/* Advances every walk by one record. */
static inline void eng__walk_next(eng_walk_t *w)
{
    for (int f = ENG_WALK_TEMP; f <= ENG_WALK_RPM; f++) {
        const eng_walk_field_t *d = &ENG_WALK_FIELDS[f];
        int64_t x = w->v[f] + eng__walk_step(w, d->step);
        w->v[f] = x < d->lo ? d->lo : x > d->hi ? d->hi : x;
    }
    if (eng__walk_rand(w) % 8 == 0) {
        w->v[ENG_WALK_LAT] += eng__walk_step(w, 30);
        w->v[ENG_WALK_LON] += eng__walk_step(w, 30);
    }
    int64_t *b = &w->v[ENG_WALK_BATT];
    if (*b <= 15)
        w->charging = 1;
    if (w->charging && eng__walk_rand(w) % 6 == 0 && ++*b >= 100)
        w->charging = 0;
    else if (!w->charging && *b > 0 && eng__walk_rand(w) % 60 == 0)
        --*b;
    int64_t *s = &w->v[ENG_WALK_STATUS];
    if (*s == 0 && eng__walk_rand(w) % 1000 < 3)
        *s = 1 + (int64_t)(eng__walk_rand(w) % 3);
    else if (*s != 0 && eng__walk_rand(w) % 10 == 0)
        *s = 0;
}

/* The field's value as the server sees it. */
static inline double eng__walk_float(const eng_walk_t *w, int f)
{
    static const double p10[] = {1, 10, 100, 1000, 1e4, 1e5, 1e6};
    return (double)w->v[f] / p10[ENG_WALK_FIELDS[f].decimals];
}

static void test_workload(void **state)
{
    (void)state;
    enum { DEV = 100, ROWS = 360 };
    size_t bytes[ENG_WALK_NFIELDS + 1] = {0};
    double fv[ROWS];
    int64_t iv[ROWS], ts[ROWS];
    for (unsigned d = 0; d < DEV; d++) {
        eng_walk_t w;
        eng__walk_init(&w, 42, d);
        for (int f = 0; f < ENG_WALK_NFIELDS; f++) {
            eng_walk_t col = w; /* every field sees the same walk */
            for (int r = 0; r < ROWS; r++, eng__walk_next(&col)) {
                fv[r] = ENG_WALK_FIELDS[f].decimals < 0 ? 0 : eng__walk_float(&col, f);
                iv[r] = col.v[f];
            }
            if (ENG_WALK_FIELDS[f].decimals < 0)
                bytes[f] += roundtrip(&I64, iv, ROWS, NULL);
            else
                bytes[f] += roundtrip(&F64, fv, ROWS, NULL);
        }
        for (int r = 0; r < ROWS; r++)
            ts[r] = 1767225600000000000LL + (int64_t)r * 10000000000LL;
        bytes[ENG_WALK_NFIELDS] += roundtrip(&TS, ts, ROWS, NULL);
    }
    size_t total = 0;
    for (int f = 0; f <= ENG_WALK_NFIELDS; f++) {
        total += bytes[f];
        print_message("%-12s %.3f bytes/value\n",
                      f < ENG_WALK_NFIELDS ? ENG_WALK_FIELDS[f].name : "(timestamps)",
                      (double)bytes[f] / (DEV * ROWS));
    }
    double bpv = (double)total / (DEV * ROWS * ENG_WALK_NFIELDS);
    print_message("overall      %.3f bytes/field value (incl. timestamps)\n", bpv);
    assert_true(bpv < 0.6); /* generous sanity bound; the bench tracks the real target */
}

/* Decodes enc with the scalar and (when the CPU has it) the AVX2 paths and
 * requires the same result code and, on success, the same bits. */
static void paths_agree(const uint8_t *enc, size_t len, size_t n, bool f64)
{
    double *a = malloc(n * 8 + 8), *b = malloc(n * 8 + 8);
    memset(a, 0, n * 8 + 8);
    memset(b, 0, n * 8 + 8);
    cn_rd_t ra = cn_rd_make(enc, len), rb = ra;
    int rca, rcb;
    if (f64) {
        rca = eng__f64_decode_simd(&ra, n, a, false);
        rcb = eng__f64_decode_simd(&rb, n, b, eng__simd());
    } else {
        uint8_t id = enc[0];
        ra.p++, rb.p++;
        rca = eng__i64_decode_id(&ra, id, n, (int64_t *)a, false);
        rcb = eng__i64_decode_id(&rb, id, n, (int64_t *)b, eng__simd());
    }
    assert_int_equal(rca, rcb);
    if (rca == 0) {
        assert_memory_equal(a, b, n * 8);
        assert_ptr_equal(ra.p, rb.p);
    }
    free(b);
    free(a);
}

/* Wide (16-state, AVX2) and narrow rANS streams, decimal floats over a
 * walk (the fused delta path) and with escapes: both decoder paths agree on
 * valid and damaged encodings. */
static void test_simd_paths(void **state)
{
    (void)state;
    uint64_t seed = 7;
    static const size_t ns[] = {1, 2, 15, 16, 17, 33, 100, 257, 2160, 5000};
    for (size_t t = 0; t < CN_ARRAY_LEN(ns); t++) {
        size_t n = ns[t];
        double *fv = malloc(n * 8);
        int64_t *iv = malloc(n * 8);
        for (int kind = 0; kind < 4; kind++) {
            int64_t m = 2137;
            for (size_t i = 0; i < n; i++) {
                uint64_t r = rnd(&seed);
                m += kind == 3 && r % 50 == 0 ? (int64_t)(r >> 40) : (int64_t)(r % 11) - 5;
                iv[i] = kind == 2 ? (int64_t)(r % 3) : m;
                fv[i] = (double)m / (kind == 1 ? 1e6 : 100.0);
            }
            if (kind == 1 && n > 3)
                fv[n / 2] = NAN;
            cn_buf_t b;
            cn_buf_init(&b);
            if (kind == 2)
                eng__i64_encode(iv, n, &b);
            else
                eng__f64_encode(fv, n, &b);
            bool f = kind != 2;
            paths_agree(b.p, b.len, n, f);
            for (int trial = 0; trial < 40 && b.len > 1; trial++) {
                uint8_t *bad = malloc(b.len);
                memcpy(bad, b.p, b.len);
                bad[1 + rnd(&seed) % (b.len - 1)] ^= (uint8_t)(1u << (rnd(&seed) % 8));
                paths_agree(bad, b.len, n, f);
                free(bad);
            }
            cn_buf_free(&b);
        }
        free(iv);
        free(fv);
    }
}

/* Decimal floats whose mantissas jump (no fused delta decoder: the int64
 * values first, then the scale) in the FIX mode: both paths give each
 * value's exact bits (the AVX2 path scales with inline FMA instructions). */
static void test_dec_fix_general(void **state)
{
    (void)state;
    uint64_t seed = 11;
    static const size_t ns[] = {100, 257, 2160, 5000};
    for (size_t t = 0; t < CN_ARRAY_LEN(ns); t++) {
        size_t n = ns[t];
        double *v = malloc(n * 8), *out = malloc(n * 8);
        int64_t m = 123456;
        for (size_t i = 0; i < n; i++) {
            uint64_t r = rnd(&seed);
            m += i % 3 == 0 ? (int64_t)(r >> 44) - (1 << 19) : (int64_t)(r % 7) - 3;
            v[i] = (double)m / 1000.0;
        }
        cn_buf_t b;
        cn_buf_init(&b);
        eng__f64_encode(v, n, &b);
        assert_int_equal(b.p[0], ENG_C_F_DEC);
        assert_int_equal(b.p[1], 0x40 | 3); /* e = 3, FIX */
        for (int simd = 0; simd < 2; simd++) {
            memset(out, 0, n * 8);
            cn_rd_t rd = cn_rd_make(b.p, b.len);
            assert_int_equal(eng__f64_decode_simd(&rd, n, out, simd && eng__simd()), 0);
            assert_int_equal(cn_rd_left(&rd), 0);
            assert_memory_equal(out, v, n * 8);
        }
        cn_buf_free(&b);
        free(out);
        free(v);
    }
}

/* ------------------------------------------------------------------ radix */

/* n values whose transform t is base + digits (digits in [0, k), both ends
 * present when there are two or more). */
static void gen_radix(int64_t *v, size_t n, int t, unsigned k, uint64_t base, uint64_t *s)
{
    size_t m = n - (size_t)t;
    uint64_t *d = malloc((m + 1) * 8);
    for (size_t i = 0; i < m; i++)
        d[i] = base + rnd(s) % k;
    if (m >= 2) {
        d[rnd(s) % (m - 1)] = base;
        d[m - 1] = base + k - 1;
    }
    uint64_t x = rnd(s), dx = rnd(s) >> (rnd(s) % 64);
    for (size_t i = 0; i < n; i++) {
        if (t == 0)
            x = d[i];
        else if (t == 1)
            x = i == 0 ? x : x + d[i - 1];
        else if (i == 1)
            x += dx;
        else if (i >= 2)
            x += dx += d[i - 2];
        v[i] = (int64_t)x;
    }
    free(d);
}

/* Encodes v as radix with transform t and g digits per code when the shape
 * allows it and checks the round trip through both decoder paths, the
 * truncations and random damage.  Returns the code width used, 0 if none. */
static unsigned radix_roundtrip(const int64_t *v, size_t n, int t, unsigned g, uint64_t *seed)
{
    cn_buf_t b;
    cn_buf_init(&b);
    if (!eng__i64_encode_radix(v, n, t, g, &b)) {
        cn_buf_free(&b);
        return 0;
    }
    assert_int_equal(b.p[0], ENG_C_I_RADIX);
    roundtrip_enc(&I64, v, n, &b, seed);
    paths_agree(b.p, b.len, n, false);
    /* The header ends with K - 1 and g right before the codes. */
    cn_rd_t rd = cn_rd_make(b.p + 2, b.len - 2);
    int64_t x;
    for (int i = 0; i <= t; i++)
        assert_int_equal(cn_rd_svarint(&rd, &x), 0);
    unsigned k = rd.p[0] + 1u, kg = 1;
    assert_int_equal(rd.p[1], g);
    for (unsigned i = 0; i < g; i++)
        kg *= k;
    unsigned w = eng__bits(kg - 1);
    size_t nc = (n - (size_t)t + g - 1) / g;
    assert_int_equal(cn_rd_left(&rd), 2 + eng__bp_bytes(nc, w));
    cn_buf_free(&b);
    return w;
}

/* Every K (2..256) and digits per code (1..8, K^g <= 4096, so every code
 * width 1..12), transforms 0..2, lengths around multiples of 8 and g, bases
 * near the int64 ends. */
static void test_radix_props(void **state)
{
    (void)state;
    uint64_t seed = 11;
    static const size_t ns[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 127, 1001};
    static const uint64_t bases[] = {0, (uint64_t)-5, (uint64_t)INT64_MAX - 255,
                                     (uint64_t)INT64_MIN};
    bool widths[13] = {false};
    int64_t *v = malloc(1001 * 8 + 8);
    for (unsigned k = 2; k <= 256; k++) {
        for (unsigned g = 1; g <= 8; g++) {
            uint32_t kg = 1;
            for (unsigned i = 0; i < g && kg <= ENG_RADIX_MAX_CODES; i++)
                kg *= k;
            if (kg > ENG_RADIX_MAX_CODES)
                break;
            for (size_t ni = 0; ni < CN_ARRAY_LEN(ns); ni++) {
                /* all lengths for a few K, a sample for the others */
                if (k > 12 && k != 16 && k != 255 && k != 256 && ni % 5 != (k + g) % 5)
                    continue;
                for (int t = 0; t <= 2; t++) {
                    size_t n = ns[ni];
                    if ((size_t)t >= n)
                        continue;
                    gen_radix(v, n, t, k, bases[(k + g + ni + (size_t)t) % 4], &seed);
                    unsigned w = radix_roundtrip(v, n, t, g, n <= 65 ? &seed : NULL);
                    if (n - (size_t)t >= 2)
                        assert_int_equal(w, eng__bits(kg - 1)); /* both ends present */
                    widths[w] = true;
                }
            }
        }
    }
    for (unsigned w = 1; w <= 12; w++)
        assert_true(widths[w]);
    /* Not possible: a span above 255, K^g above 4096, one value. */
    cn_buf_t b;
    cn_buf_init(&b);
    int64_t wide[3] = {0, 256, 5};
    assert_false(eng__i64_encode_radix(wide, 3, 0, 1, &b));
    int64_t big[3] = {0, 16, 5}; /* K = 17: 17^3 = 4913 */
    assert_false(eng__i64_encode_radix(big, 3, 0, 3, &b));
    assert_true(eng__i64_encode_radix(big, 3, 0, 2, &b));
    assert_false(eng__i64_encode_radix(wide, 1, 0, 1, &b));
    assert_false(eng__i64_encode_radix(wide, 3, 3, 1, &b));
    cn_buf_free(&b);
    free(v);
}

/* Decimal floats (e = 2, division) over radix-coded deltas for every
 * digits-per-code g and several K and lengths: the fused AVX2 decoder (g
 * dividing 8), the digit path and the scalar path all give (double)m / 100
 * bit for bit, including walks that leave int32 (no SIMD lanes then). */
static void test_radix_f64(void **state)
{
    (void)state;
    uint64_t seed = 13;
    static const unsigned ks[] = {2, 3, 5, 11, 16, 41, 255, 256};
    static const size_t ns[] = {2, 9, 16, 17, 64, 65, 66, 200, 2160, 2161};
    enum { NMAX = 2161 };
    int64_t *m = malloc(NMAX * 8);
    double *want = malloc(NMAX * 8), *out = malloc(NMAX * 8 + 8);
    for (size_t ki = 0; ki < CN_ARRAY_LEN(ks); ki++) {
        for (unsigned g = 1; g <= 8; g++) {
            for (size_t ni = 0; ni < CN_ARRAY_LEN(ns); ni++) {
                size_t n = ns[ni];
                unsigned k = ks[ki];
                bool huge = (ni + g) % 4 == 0; /* partial sums beyond int32 */
                int64_t x = huge ? INT64_C(1) << 40 : 2137;
                int64_t lo = -(int64_t)(k / 2);
                for (size_t i = 0; i < n; i++) {
                    m[i] = x;
                    int64_t d = lo + (int64_t)(rnd(&seed) % k);
                    if (i == 1)
                        d = lo;
                    if (i == 2)
                        d = lo + k - 1;
                    x += d;
                }
                cn_buf_t b;
                cn_buf_init(&b);
                cn_buf_put_u8(&b, ENG_C_F_DEC);
                cn_buf_put_u8(&b, 2); /* e = 2, divide */
                cn_buf_put_u8(&b, 0); /* no exceptions */
                if (!eng__i64_encode_radix(m, n, 1, g, &b)) {
                    cn_buf_free(&b);
                    continue; /* K^g too large */
                }
                for (size_t i = 0; i < n; i++)
                    want[i] = (double)m[i] / 100;
                for (int simd = 0; simd < 2; simd++) {
                    memset(out, 0, n * 8);
                    cn_rd_t rd = cn_rd_make(b.p, b.len);
                    assert_int_equal(eng__f64_decode_simd(&rd, n, out, simd && eng__simd()), 0);
                    assert_int_equal(cn_rd_left(&rd), 0);
                    assert_memory_equal(out, want, n * 8);
                }
                /* An invalid code somewhere (when K^g < 2^w): corrupt. */
                unsigned kg = 1;
                for (unsigned i = 0; i < g; i++)
                    kg *= k;
                unsigned w = eng__bits(kg - 1);
                size_t nc = (n - 1 + g - 1) / g, codes = b.len - eng__bp_bytes(nc, w);
                if (kg < (1u << w) && nc > 1) {
                    size_t j = rnd(&seed) % (nc - 1), bit = j * w; /* not the last code */
                    for (unsigned i = 0; i < w; i++, bit++)
                        b.p[codes + bit / 8] |= (uint8_t)(1u << (bit % 8));
                    paths_agree(b.p, b.len, n, true);
                    cn_rd_t rd = cn_rd_make(b.p, b.len);
                    assert_int_equal(eng__f64_decode_simd(&rd, n, out, false), CN_ECORRUPT);
                }
                cn_buf_free(&b);
            }
        }
    }
    free(out);
    free(want);
    free(m);
}

/* A temperature-like walk (+-5 per step, K = 11): the encoder picks radix
 * with pairs (7 bits per two values) on size alone, and the decimal floats
 * over it take the fused path; damaged codes (>= K^g, non-zero padding)
 * are rejected by every path. */
static void test_radix_walk(void **state)
{
    (void)state;
    uint64_t seed = 12;
    enum { N = 2160 };
    int64_t *m = malloc(N * 8);
    double *f = malloc(N * 8), *out = malloc(N * 8 + 8);
    int64_t x = 2137;
    for (size_t i = 0; i < N; i++)
        m[i] = x += (int64_t)(rnd(&seed) % 11) - 5;
    for (size_t i = 0; i < N; i++)
        f[i] = (double)m[i] / 100;
    cn_buf_t b;
    cn_buf_init(&b);
    assert_int_equal(eng__i64_encode(m, N, &b), 0);
    assert_int_equal(b.p[0], ENG_C_I_RADIX);
    assert_int_equal(b.p[1], 1); /* deltas */
    /* id, t, svarint init (2 bytes), svarint base -5, K - 1, g */
    assert_int_equal(b.p[5], 10);
    assert_int_equal(b.p[6], 2);
    assert_int_equal(b.len, 7 + eng__bp_bytes((N - 1 + 1) / 2, 7));
    cn_buf_free(&b);
    cn_buf_init(&b);
    assert_int_equal(eng__f64_encode(f, N, &b), 0);
    roundtrip_enc(&F64, f, N, &b, &seed);
    paths_agree(b.p, b.len, N, true);
    /* The f64 header: id, e | flags, X = 0; then the int encoding.  Some
     * of these decimals are not m * 0.01, so "fix" (0x40), not "mul". */
    assert_int_equal(b.p[0], ENG_C_F_DEC);
    assert_int_equal(b.p[1], 2 | 0x40);
    /* The same mantissas decoded by division give the same doubles; both
     * flags at once are corrupt. */
    for (int simd = 0; simd < 2; simd++) {
        b.p[1] = 2;
        cn_rd_t rd = cn_rd_make(b.p, b.len);
        assert_int_equal(eng__f64_decode_simd(&rd, N, out, simd && eng__simd()), 0);
        assert_memory_equal(out, f, N * 8);
        b.p[1] = 2 | 0xc0;
        rd = cn_rd_make(b.p, b.len);
        assert_int_equal(eng__f64_decode_simd(&rd, N, out, simd && eng__simd()), CN_ECORRUPT);
        b.p[1] = 2 | 0x40;
    }
    assert_int_equal(b.p[3], ENG_C_I_RADIX);
    size_t codes = b.len - eng__bp_bytes((N - 1 + 1) / 2, 7);
    /* Code 0 set to 127 (>= 121): every path says corrupt. */
    uint8_t *bad = malloc(b.len);
    memcpy(bad, b.p, b.len);
    bad[codes] |= 0x7f;
    for (int simd = 0; simd < 2; simd++) {
        cn_rd_t rd = cn_rd_make(bad, b.len);
        assert_int_equal(eng__f64_decode_simd(&rd, N, out, simd && eng__simd()), CN_ECORRUPT);
    }
    paths_agree(bad + 3, b.len - 3, N, false);
    cn_rd_t rd = cn_rd_make(bad + 4, b.len - 4);
    int64_t *iv = malloc(N * 8);
    assert_int_equal(eng__i64_decode_id(&rd, ENG_C_I_RADIX, N, iv, false), CN_ECORRUPT);
    /* 2159 deltas: the last pair's second digit is padding and must be 0. */
    memcpy(bad, b.p, b.len);
    size_t lastbit = ((N - 1 + 1) / 2 - 1) * 7, at = codes + lastbit / 8;
    bool two = at + 1 < b.len; /* the code may end in the last byte */
    unsigned word = bad[at] | (two ? (unsigned)bad[at + 1] << 8 : 0), sh = lastbit % 8;
    unsigned code = (word >> sh) & 0x7f;
    assert_true(code < 11); /* one digit, the padding digit 0 */
    word = (word & ~(0x7fu << sh)) | (code + 11) << sh;
    bad[at] = (uint8_t)word;
    if (two)
        bad[at + 1] = (uint8_t)(word >> 8);
    else
        assert_true(word >> 8 == 0);
    for (int simd = 0; simd < 2; simd++) {
        rd = cn_rd_make(bad, b.len);
        assert_int_equal(eng__f64_decode_simd(&rd, N, out, simd && eng__simd()), CN_ECORRUPT);
    }
    rd = cn_rd_make(bad + 4, b.len - 4);
    assert_int_equal(eng__i64_decode_id(&rd, ENG_C_I_RADIX, N, iv, false), CN_ECORRUPT);
    free(iv);
    free(bad);
    cn_buf_free(&b);
    free(out);
    free(f);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_i64_props),   cmocka_unit_test(test_f64_props),
        cmocka_unit_test(test_bits_props),  cmocka_unit_test(test_str_props),
        cmocka_unit_test(test_exact_sizes), cmocka_unit_test(test_pack),
        cmocka_unit_test(test_workload),    cmocka_unit_test(test_simd_paths),
        cmocka_unit_test(test_dec_fix_general),
        cmocka_unit_test(test_radix_props), cmocka_unit_test(test_radix_walk),
        cmocka_unit_test(test_radix_f64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
