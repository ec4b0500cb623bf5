/* SPDX-License-Identifier: MIT */
/*
 * f64.c - float64 column codecs.
 *
 * Sensors print floats with a fixed number of decimals, so most float
 * columns are integers in disguise: 21.37 is 2137 / 10^2.  The decimal codec
 * (the idea behind ALP and VictoriaMetrics) finds an exponent e such that
 * every value v is exactly m / 10^e for an integer m, stores the m through
 * the int64 pipeline (deltas + rANS make a +-0.05 walk cost ~3.5 bits) and
 * keeps the values that do not fit (NaN, +-Inf, -0.0, too many digits) in a
 * short exceptions list.  Data that is not decimal falls back to XOR coding
 * (Gorilla), then raw.  Constant columns cost 9 bytes.
 *
 * Exactness.  The decoder computes v = (double)m / 10^e with an IEEE
 * division by the exactly representable 10^e (e <= 18 < 23), or, in "mul"
 * mode, v = (double)m * 10^-e, or, in "fix" mode, that product corrected by
 * its exact remainder with two fused multiply-adds (eng__dscale).  Division
 * is correctly rounded and so gives the double nearest to the decimal
 * m / 10^e, which is what strtod gave the sender; multiplication by the
 * inexact 10^-e usually gives the same double but not always; the corrected
 * product is the correctly rounded quotient too (Markstein's theorem).  The
 * encoder does not rely on any of these arguments: it runs the very
 * expression the decoder will run on every value and compares the bits.
 * Values that fail become exceptions; "mul" is chosen when every
 * non-exception value passes the multiplication, else "fix" when every one
 * passes the correction, else division: they decode in that order of speed
 * (a vector division takes several times a multiply-add's throughput).
 * This needs FLT_EVAL_METHOD == 0
 * (SSE2 or any IEEE-double FPU without excess precision); the #error below
 * keeps an x87 build from writing files other builds would misread.
 *
 * Formats (after the codec id byte):
 * ENG_C_F_RAW    n x 8 bytes, IEEE-754 bits LE.
 * ENG_C_F_CONST  8 bytes, the bits of every value.
 * ENG_C_F_DEC    u8 e | 0x80 when the decoder multiplies by 10^-e, | 0x40 when
 *                it uses the corrected product ("fix", segment format
 *                version 3) (e 0..18; both flags set is corrupt)
 *                uvarint X, the number of exceptions (X <= n)
 *                X x { uvarint position gap (position - previous - 1, the
 *                first against -1), 8 bytes the value's bits }
 *                an int64 pipeline encoding of the n mantissas; exception
 *                slots repeat the previous mantissa so deltas stay small.
 * ENG_C_F_XOR    uvarint byte length, then a Gorilla bit stream (LSB-first):
 *                64 bits of v[0]; per further value, x = bits ^ previous:
 *                "0" x == 0; "1 0" + the previous window's width of bits of
 *                x >> trailing; "1 1" + 6 bits leading zeros + 6 bits
 *                (width - 1) + width bits of x >> trailing.  The window
 *                starts as the full 64 bits.
 * Version 1 for all.
 */
#include "codec_int.h"

#include <float.h>
#include <math.h>

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "the decimal float codec needs FLT_EVAL_METHOD == 0 (no excess precision)"
#endif

#define MAX_EXP 18
#define TWO53   9007199254740992.0

static const double P10[MAX_EXP + 1] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8, 1e9,
                                        1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};
/* Nearest doubles to 10^-e (the compiler rounds decimal constants). */
static const double N10[MAX_EXP + 1] = {1e-0,  1e-1,  1e-2,  1e-3,  1e-4,  1e-5,  1e-6,
                                        1e-7,  1e-8,  1e-9,  1e-10, 1e-11, 1e-12, 1e-13,
                                        1e-14, 1e-15, 1e-16, 1e-17, 1e-18};

static uint64_t f2u(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static double u2f(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* ------------------------------------------------------------- decimal */

/* m with (double)m / 10^e == v bit for bit; false when there is none. */
static bool dec_fit(double v, unsigned e, int64_t *m)
{
    double x = v * P10[e];
    if (!(fabs(x) < TWO53))
        return false; /* also NaN and Inf */
    /* Any rounding will do: a wrong candidate fails the check below. */
    *m = (int64_t)(x < 0 ? x - 0.5 : x + 0.5);
    return f2u((double)*m / P10[e]) == f2u(v);
}

/* Smallest exponent that fits v, or -1. */
static int dec_exp(double v, int hint)
{
    int64_t m;
    /* Columns mostly share one exponent: test the hint's neighbourhood first. */
    if (hint > 0 && dec_fit(v, (unsigned)hint, &m) && !dec_fit(v, (unsigned)hint - 1, &m))
        return hint;
    for (unsigned e = 0; e <= MAX_EXP; e++)
        if (dec_fit(v, e, &m))
            return (int)e;
    return -1;
}

/* Encodes v with exponent e, or returns false (too many exceptions). */
static bool put_dec(const double *v, size_t n, unsigned e, cn_buf_t *out)
{
    int64_t *m = cn_malloc(n * sizeof *m);
    size_t *xpos = cn_malloc(n * sizeof *xpos);
    size_t nx = 0;
    bool mul = true, fix = true;
    const eng_dscale_t fx = {ENG_DS_FIX, P10[e], N10[e]};
    int64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        if (dec_fit(v[i], e, &m[i])) {
            mul = mul && f2u((double)m[i] * N10[e]) == f2u(v[i]);
            fix = fix && f2u(eng__dscale(m[i], &fx)) == f2u(v[i]);
            prev = m[i];
            continue;
        }
        m[i] = prev;
        xpos[nx++] = i;
    }
    bool ok = nx <= n / 4;
    if (ok) {
        cn_buf_put_u8(out, ENG_C_F_DEC);
        cn_buf_put_u8(out, (uint8_t)(e | (mul ? 0x80 : fix ? 0x40 : 0)));
        cn_buf_put_uvarint(out, nx);
        for (size_t j = 0; j < nx; j++) {
            cn_buf_put_uvarint(out, xpos[j] - (j ? xpos[j - 1] + 1 : 0));
            cn_buf_put_u64(out, f2u(v[xpos[j]]));
        }
        eng__i64_encode(m, n, out);
    }
    cn_free(xpos);
    cn_free(m);
    return ok;
}

/* Appends the smaller of up to two decimal encodings; false if none fits. */
static bool try_dec(const double *v, size_t n, cn_buf_t *out)
{
    size_t hist[MAX_EXP + 1] = {0};
    int emax = -1, hint = 0;
    for (size_t i = 0; i < n; i++) {
        int e = dec_exp(v[i], hint);
        if (e < 0)
            continue;
        hist[e]++;
        hint = e;
        emax = CN_MAX(emax, e);
    }
    if (emax < 0)
        return false;
    /* A lower exponent that leaves a few exceptions may pay for them. */
    int elow = emax;
    size_t cover = 0;
    for (int e = 0; e < emax; e++) {
        cover += hist[e];
        if (n - cover <= n / 64) {
            elow = e;
            break;
        }
    }
    size_t start = out->len;
    bool ok = put_dec(v, n, (unsigned)emax, out);
    if (elow == emax)
        return ok;
    size_t mid = out->len;
    if (!put_dec(v, n, (unsigned)elow, out))
        return ok;
    if (!ok || out->len - mid < mid - start) {
        memmove(out->p + start, out->p + mid, out->len - mid);
        out->len = start + (out->len - mid);
    } else {
        out->len = mid;
    }
    return true;
}

static int get_dec(cn_rd_t *rd, size_t n, double *out, bool simd)
{
    uint8_t eb;
    uint64_t nx;
    int rc;
    if ((rc = cn_rd_u8(rd, &eb)) < 0 || (rc = cn_rd_uvarint(rd, &nx)) < 0)
        return rc;
    unsigned e = eb & 0x3f, flags = eb & 0xc0;
    if (e > MAX_EXP || flags == 0xc0 || nx > n)
        return CN_CORRUPT();
    const uint8_t *xp = rd->p; /* exceptions are patched in after the ints */
    for (uint64_t j = 0; j < nx; j++) {
        uint64_t gap;
        if ((rc = cn_rd_uvarint(rd, &gap)) < 0 || (rc = cn_rd_skip(rd, 8)) < 0)
            return rc;
    }
    cn_rd_t xr = cn_rd_make(xp, (size_t)(rd->p - xp));
    eng_dscale_t ds = {flags == 0x80   ? ENG_DS_MUL
                       : flags == 0x40 ? ENG_DS_FIX
                                       : ENG_DS_DIV,
                       P10[e], N10[e]};
    if ((rc = eng__i64_decode_f64(rd, n, out, &ds, simd)) < 0)
        return rc;
    size_t pos = 0;
    for (uint64_t j = 0; j < nx; j++) {
        uint64_t gap, bits;
        cn_rd_uvarint(&xr, &gap);
        cn_rd_u64(&xr, &bits);
        if (gap >= n - pos)
            return CN_CORRUPT();
        pos += gap;
        out[pos++] = u2f(bits);
    }
    return 0;
}

/* ----------------------------------------------------------------- XOR */

static void put_xor(const double *v, size_t n, cn_buf_t *out)
{
    cn_buf_t bits;
    cn_buf_init(&bits);
    eng_bw_t bw;
    eng__bw_init(&bw, &bits);
    uint64_t prev = f2u(v[0]);
    eng__bw_put(&bw, prev, 64);
    unsigned plz = 0, ptz = 0; /* window: full width */
    for (size_t i = 1; i < n; i++) {
        uint64_t cur = f2u(v[i]), x = cur ^ prev;
        prev = cur;
        if (x == 0) {
            eng__bw_put(&bw, 0, 1);
            continue;
        }
        unsigned lz = (unsigned)__builtin_clzll(x), tz = (unsigned)__builtin_ctzll(x);
        unsigned pw = 64 - plz - ptz, w = 64 - lz - tz;
        if (lz >= plz && tz >= ptz && pw <= w + 12) {
            eng__bw_put(&bw, 1, 2); /* "1 0" */
            eng__bw_put(&bw, x >> ptz, pw);
            continue;
        }
        eng__bw_put(&bw, 3, 2); /* "1 1" */
        eng__bw_put(&bw, lz | (w - 1) << 6, 12);
        eng__bw_put(&bw, x >> tz, w);
        plz = lz, ptz = tz;
    }
    eng__bw_flush(&bw);
    cn_buf_put_u8(out, ENG_C_F_XOR);
    cn_buf_put_uvarint(out, bits.len);
    cn_buf_put(out, bits.p, bits.len);
    cn_buf_free(&bits);
}

static int get_xor(cn_rd_t *rd, size_t n, double *out)
{
    const uint8_t *p;
    size_t len;
    int rc = eng__rd_blob(rd, &p, &len);
    if (rc < 0)
        return rc;
    if (n == 0)
        return len == 0 ? 0 : CN_CORRUPT();
    eng_br_t br;
    eng__br_init(&br, p, len);
    uint64_t prev = eng__br_get64(&br, 64);
    unsigned lz = 0, tz = 0;
    out[0] = u2f(prev);
    for (size_t i = 1; i < n; i++) {
        uint64_t ctl = eng__br_get(&br, 1);
        if (ctl && eng__br_get(&br, 1)) {
            uint64_t h = eng__br_get(&br, 12);
            lz = h & 63;
            unsigned w = (unsigned)(h >> 6) + 1;
            if (lz + w > 64)
                return CN_CORRUPT();
            tz = 64 - lz - w;
        }
        if (ctl)
            prev ^= eng__br_get64(&br, 64 - lz - tz) << tz;
        out[i] = u2f(prev);
        if (br.pos > len * 8)
            return CN_ETRUNC;
    }
    return 0;
}

/* ---------------------------------------------------------------- entry */

static bool all_same(const double *v, size_t n)
{
    uint64_t b = f2u(v[0]);
    for (size_t i = 1; i < n; i++)
        if (f2u(v[i]) != b)
            return false;
    return true;
}

int eng__f64_encode(const double *v, size_t n, cn_buf_t *out)
{
    if (n == 0) {
        cn_buf_put_u8(out, ENG_C_F_RAW);
        return 0;
    }
    if (all_same(v, n)) {
        cn_buf_put_u8(out, ENG_C_F_CONST);
        cn_buf_put_u64(out, f2u(v[0]));
        return 0;
    }
    size_t start = out->len, best = SIZE_MAX;
    if (try_dec(v, n, out))
        best = out->len - start;
    /* XOR costs at least one bit per value: skip it when decimal beat that. */
    if (best > n / 8 + 16) {
        size_t mid = out->len;
        put_xor(v, n, out);
        size_t xl = out->len - mid;
        if (xl < best) {
            memmove(out->p + start, out->p + mid, xl);
            best = xl;
        }
        out->len = start + best;
    }
    if (best <= 1 + 8 * n)
        return 0;
    out->len = start;
    cn_buf_put_u8(out, ENG_C_F_RAW);
    for (size_t i = 0; i < n; i++)
        cn_buf_put_u64(out, f2u(v[i]));
    return 0;
}

int eng__f64_decode(cn_rd_t *rd, size_t n, double *out)
{
    return eng__f64_decode_simd(rd, n, out, eng__simd());
}

int eng__f64_decode_simd(cn_rd_t *rd, size_t n, double *out, bool simd)
{
    uint8_t id;
    int rc = cn_rd_u8(rd, &id);
    if (rc < 0)
        return rc;
    switch (id) {
    case ENG_C_F_RAW:
        return eng__rd_words(rd, n, out);
    case ENG_C_F_CONST: {
        uint64_t b;
        if ((rc = cn_rd_u64(rd, &b)) < 0)
            return rc;
        for (size_t i = 0; i < n; i++)
            out[i] = u2f(b);
        return 0;
    }
    case ENG_C_F_DEC:
        return get_dec(rd, n, out, simd);
    case ENG_C_F_XOR:
        return get_xor(rd, n, out);
    default:
        return CN_CORRUPT();
    }
}
