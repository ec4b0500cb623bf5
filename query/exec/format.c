/* SPDX-License-Identifier: MIT */
/*
 * format.c - results as InfluxDB 1.x JSON (encoding/json's number format,
 * RFC 3339 times with the tz() offset, or epoch integers) and CSV.
 */
#include "exec_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 10^0 .. 10^22: exact doubles */
static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Does the decimal d[0..nd) x 10^(exp - nd + 1) read back as a (> 0)?  A
 * mantissa below 2^53 with a power of ten up to 10^22 converts with one
 * correctly rounded operation (Clinger's fast path), as strtod would. */
static bool roundtrips(const char *d, int nd, int exp, double a)
{
    uint64_t m = 0;
    for (int i = 0; i < nd; i++)
        m = m * 10 + (uint64_t)(d[i] - '0');
    int k = exp - nd + 1;
    if (m < (UINT64_C(1) << 53) && k >= -22 && k <= 22)
        return (k >= 0 ? (double)m * pow10_exact[k] : (double)m / pow10_exact[-k]) == a;
    char buf[48];
    snprintf(buf, sizeof buf, "%.*se%d", nd, d, k);
    return strtod(buf, NULL) == a;
}

/* The first nd digits of the correctly rounded 17-digit form d17 (exponent
 * *exp), rounded to nearest into out.  Rounding the 17-digit form is
 * exact: the exact value lies within half a 17th-digit unit of it and a
 * half of an nd-digit unit is a whole number of those units.  Only a tail
 * of exactly 5 then zeros needs the exact value's side of d17: dir > 0 it
 * is above (d17 was rounded down), < 0 below, 0 d17 is exact (a true tie:
 * false, the caller asks printf, as when dir is unknown, 2). */
static bool round_digits(const char *d17, int nd, int dir, char *out, int *exp)
{
    memcpy(out, d17, (size_t)nd);
    bool up;
    if (d17[nd] != '5') {
        up = d17[nd] > '5';
    } else {
        up = false;
        for (int i = nd + 1; i < 17 && !up; i++)
            up = d17[i] != '0';
        if (!up) {
            if (dir != 1 && dir != -1)
                return false;
            up = dir > 0;
        }
    }
    if (up) {
        int i = nd - 1;
        while (i >= 0 && out[i] == '9')
            out[i--] = '0';
        if (i >= 0) {
            out[i]++;
        } else { /* 99..9 -> 100..0 */
            out[0] = '1';
            ++*exp;
        }
    }
    return true;
}


/* The significand m (53 bits) and exponent e2 of a normal double a > 0:
 * a = m / 2^53 x 2^e2. */
static uint64_t split(double a, int *e2)
{
    uint64_t bits;
    memcpy(&bits, &a, sizeof bits);
    *e2 = (int)((bits >> 52) & 0x7ff) - 1022;
    return (bits & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1) << 52);
}

/* floor(log10(a)) for 1e-3 <= a < 2^53 with exponent e2, without log10():
 * a is in [2^(e2-1), 2^e2), so it is E0 = floor((e2 - 1) log10(2)) or
 * E0 + 1 (a table compare decides; a miss at an inexact negative power is
 * corrected by the callers' range checks). */
static int floor_log10(double a, int e2)
{
    static const double p10d[] = {1e-3, 1e-2, 1e-1, 1e0,  1e1,  1e2,  1e3,  1e4,
                                  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11, 1e12,
                                  1e13, 1e14, 1e15, 1e16, 1e17};
    /* floor((e2 - 1) log10(2)) in integers: exact for |e2 - 1| <= 1100
     * (checked exhaustively), here -10 .. 52 */
    int E = ((e2 - 1) * 78913) >> 18;
    if (E + 4 < (int)CN_ARRAY_LEN(p10d) && a >= p10d[E + 4])
        E++;
    return E;
}

/* The 17 correctly rounded significant digits of a > 0 and their
 * exponent by exact integer arithmetic, for 1e-3 <= a < 2^53 (a =
 * m x 2^e with e < 0, so a x 10^s = m x 10^s / 2^-e with s <= 19 fits in
 * 128 bits), and in *dir the exact value's side of them (round_digits);
 * false outside that range or on an exact tie (printf decides). */
__extension__ typedef unsigned __int128 u128_t;

static bool digits17(double a, char *digits, int *exp, int *dir)
{
    if (!(a >= 1e-3 && a < 9007199254740992.0))
        return false;
    int e2;
    uint64_t m = split(a, &e2);
    int sh = 53 - e2; /* a = m / 2^sh */
    if (sh <= 0 || sh > 120)
        return false;
    int E = floor_log10(a, e2);
    for (int tries = 0; tries < 2; tries++) {
        int s = 16 - E;
        if (s < 0 || s > 19)
            return false;
        u128_t n = (u128_t)m * cn_p10[s];
        u128_t q = n >> sh, rem = n - (q << sh);
        u128_t half = (u128_t)1 << (sh - 1);
        if (q < cn_p10[16]) { /* E was one too big */
            E--;
            continue;
        }
        if (q >= cn_p10[17]) {
            E++;
            continue;
        }
        if (rem == half)
            return false;
        *dir = rem == 0 ? 0 : rem > half ? -1 : 1;
        if (rem > half)
            q++;
        if (q >= cn_p10[17])
            return false; /* 99..9 rounded up: rare, printf decides */
        uint64_t v = (uint64_t)q;
        for (int i = 16; i >= 0; i--) {
            digits[i] = (char)('0' + v % 10);
            v /= 10;
        }
        *exp = E;
        return true;
    }
    return false;
}

/* Digits and exponent of "%.*e" (prec - 1 decimals) of a > 0. */
static int printf_digits(double a, int prec, char *digits, int *exp)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.*e", prec - 1, a);
    int nd = 0;
    const char *p = buf;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[nd++] = *p;
    *exp = atoi(p + 1);
    return nd;
}

/* digits_fast for one precision: units of u (a constant, so the divisions
 * are multiplications), at most lim - 1; the digit count when the
 * candidate (in *cout) reads back as a (always for u = 1), 0 when it does
 * not, -1 on an exact tie or a carry into a new digit. */
static inline int try_prec(uint64_t Q, u128_t low, u128_t n, int sh, uint64_t m, uint64_t p10s,
                           const uint64_t u, uint64_t lim, uint64_t *cout)
{
    uint64_t c = Q / u;
    u128_t rem = ((u128_t)(Q % u) << sh) + low, half = (u128_t)u << (sh - 1);
    if (rem == half)
        return -1;
    if (rem > half)
        c++;
    if (c >= lim)
        return -1; /* 99..9 rounded up to a power of ten */
    int nd = u == 100 ? 15 : u == 10 ? 16 : 17;
    if (u != 1) {
        u128_t cand = (u128_t)c * u << (sh + 1), twice = n << 1;
        u128_t dist = cand > twice ? cand - twice : twice - cand;
        if (!(dist < p10s || (dist == p10s && !(m & 1))))
            return 0;
    }
    *cout = c;
    return nd;
}

/*
 * The digits qry_fmt_float wants (the fewest of 15, 16, 17 correctly
 * rounded significant digits that read back as a) by exact integer
 * arithmetic, for 1e-3 <= a < 2^53 whose significand is not a power of two
 * (there the gap to the next smaller double is half the other one).  With
 * a = m / 2^sh and n = m x 10^s (s = 16 - E, E = floor(log10(a))), a
 * candidate of c units of 10^(17-prec) reads back as a when it lies within
 * half an ulp: |2 c u 2^sh - 2n| < 10^s (strtod rounds an exact half to
 * the even significand).  false on an exact tie in rounding (printf
 * decides) or outside the range.
 */
static bool digits_fast(double a, uint64_t *c, int *nd, int *exp)
{
    if (!(a >= 1e-3 && a < 9007199254740992.0))
        return false;
    int e2;
    uint64_t m = split(a, &e2);
    int sh = 53 - e2;
    if (sh <= 0 || sh > 120 || m == (UINT64_C(1) << 52))
        return false;
    int E = floor_log10(a, e2);
    int s = 16 - E;
    if (s < 0 || s > 19)
        return false;
    u128_t n = (u128_t)m * cn_p10[s];
    uint64_t Q = (uint64_t)(n >> sh); /* floor(a x 10^s) */
    if (Q < cn_p10[16] || Q >= cn_p10[17])
        return false; /* E was off: the slower path knows */
    u128_t low = n - ((u128_t)Q << sh); /* the part below one unit */
    int r = try_prec(Q, low, n, sh, m, cn_p10[s], 100, cn_p10[15], c);
    if (r == 0)
        r = try_prec(Q, low, n, sh, m, cn_p10[s], 10, cn_p10[16], c);
    if (r == 0)
        r = try_prec(Q, low, n, sh, m, cn_p10[s], 1, cn_p10[17], c);
    if (r <= 0)
        return false;
    *nd = r;
    *exp = E;
    return true;
}

void qry_fmt_float(double f, cn_buf_t *out)
{
    if (isnan(f) || isinf(f)) {
        cn_buf_put(out, "null", 4);
        return;
    }
    if (f == 0) {
        cn_buf_put(out, signbit(f) ? "-0" : "0", signbit(f) ? 2 : 1);
        return;
    }
    /* shortest digits that round-trip: 15 significant digits suffice for
     * every value whose shortest form has at most 15 (trailing zeros are
     * dropped below), else 16, else 17 - as "%.14e", "%.15e", "%.16e"
     * would print them.  digits_fast decides almost every value with
     * integer arithmetic; else the shorter forms come from the 17-digit
     * one (round_digits), checked without strtod where it is exact */
    bool neg = signbit(f);
    double a = fabs(f);
    int nd, exp;
    uint64_t c;
    if (!digits_fast(a, &c, &nd, &exp)) {
        char d17[32], digits[32];
        int e17, dir = 2; /* unknown */
        if (!digits17(a, d17, &e17, &dir)) {
            dir = 2;
            printf_digits(a, 17, d17, &e17);
        }
        nd = 17;
        exp = e17;
        for (int prec = 15; prec <= 16; prec++) {
            int e = e17;
            if (!round_digits(d17, prec, dir, digits, &e))
                printf_digits(a, prec, digits, &e);
            if (roundtrips(digits, prec, e, a)) {
                nd = prec;
                exp = e;
                break;
            }
        }
        const char *d = nd == 17 ? d17 : digits;
        c = 0;
        for (int i = 0; i < nd; i++)
            c = c * 10 + (uint64_t)(d[i] - '0');
    }
    /* c has nd digits, the first not 0: drop trailing zeros */
    while (c % 100 == 0 && nd > 2) {
        c /= 100;
        nd -= 2;
    }
    if (c % 10 == 0 && nd > 1) {
        c /= 10;
        nd--;
    }
    /* The digits go straight to their place (through a local array and
     * two copies they cost a fifth more).  At most 1 + 2 + 5 + 17 + 20
     * bytes: "-0.00000ddd", "-ddd000.", "-d.ddde-308" */
    cn_buf_reserve(out, 48);
    char *o = (char *)out->p + out->len;
    int n = 0;
    if (neg)
        o[n++] = '-';
    if (a < 1e-6 || a >= 1e21) {
        /* d[.ddd]e[+-]XX, at least two exponent digits like Go */
        cn_dec_digits(c, nd, o + n + 1);
        o[n] = o[n + 1];
        if (nd > 1) {
            o[n + 1] = '.';
            n += nd + 1;
        } else {
            n++;
        }
        unsigned ae = (unsigned)(exp < 0 ? -exp : exp);
        o[n++] = 'e';
        o[n++] = exp < 0 ? '-' : '+';
        if (ae >= 100)
            o[n++] = (char)('0' + ae / 100);
        o[n++] = (char)('0' + ae / 10 % 10);
        o[n++] = (char)('0' + ae % 10);
    } else if (exp < 0) { /* 0.000ddd */
        o[n++] = '0';
        o[n++] = '.';
        for (int z = 0; z < -exp - 1; z++)
            o[n++] = '0';
        cn_dec_digits(c, nd, o + n);
        n += nd;
    } else if (exp + 1 >= nd) { /* ddd000 */
        cn_dec_digits(c, nd, o + n);
        n += nd;
        for (int z = 0; z < exp + 1 - nd; z++)
            o[n++] = '0';
    } else { /* ddd.ddd: the digits one to the right, the integer part back */
        cn_dec_digits(c, nd, o + n + 1);
        for (int k = 0; k <= exp; k++)
            o[n + k] = o[n + k + 1];
        o[n + exp + 1] = '.';
        n += nd + 1;
    }
    out->len += (size_t)n;
}

/* Does byte c need an escape or a check in a JSON string (as Go's encoder
 * writes them: controls, quote, backslash, and <, >, & for HTML safety;
 * bytes past ASCII are checked as UTF-8)? */
static inline bool json_esc(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= 0x80;
}

/* The length of the valid UTF-8 sequence at s (n bytes left), 0 if there
 * is none (a stray byte, an overlong form, a surrogate, past U+10FFFF);
 * its code point in *cp. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    if (len == 0 || len > n || c > 0xf4)
        return 0;
    uint32_t v = c & (0x7f >> len);
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (s[k] & 0x3f);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

void qry_json_str(cn_buf_t *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    cn_buf_put_u8(out, '"');
    /* the plain prefix (usually the whole name) in one copy */
    size_t plain = 0;
    while (plain < n && !json_esc((unsigned char)s[plain]))
        plain++;
    cn_buf_put(out, s, plain);
    for (size_t i = plain; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            cn_buf_put_u8(out, '\\');
            cn_buf_put_u8(out, c);
        } else if (c == '\n') {
            cn_buf_put(out, "\\n", 2);
        } else if (c == '\r') {
            cn_buf_put(out, "\\r", 2);
        } else if (c == '\t') {
            cn_buf_put(out, "\\t", 2);
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            cn_buf_put(out, u, 6);
        } else if (c >= 0x80) {
            /* as Go's encoder: invalid UTF-8 becomes U+FFFD, one per byte;
             * U+2028 and U+2029 are escaped */
            uint32_t cp;
            size_t len = utf8_seq((const unsigned char *)s + i, n - i, &cp);
            if (len == 0)
                cn_buf_put(out, "\\ufffd", 6);
            else if (cp == 0x2028 || cp == 0x2029)
                cn_buf_put(out, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
            else
                cn_buf_put(out, s + i, len);
            if (len)
                i += len - 1;
        } else {
            cn_buf_put_u8(out, c);
        }
    }
    cn_buf_put_u8(out, '"');
}

/* RFC 3339 with the zone's offset ("Z" when it is 0), as Go prints it. */
static void put_time(const qry_result_t *r, int64_t ns, cn_buf_t *out)
{
    int32_t off = qry__tz_offset(r->tz, ns);
    int64_t local = ns + (int64_t)off * 1000000000;
    size_t at = out->len;
    qry_format_time(local, out);
    if (off == 0)
        return;
    if (out->len > at && out->p[out->len - 1] == 'Z')
        out->len--;
    char tmp[16];
    int a = off < 0 ? -off : off;
    int n = snprintf(tmp, sizeof tmp, "%c%02d:%02d", off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
    cn_buf_put(out, tmp, (size_t)n);
}

static int64_t epoch_of(int64_t ns, int64_t div)
{
    return ns / div;
}

static void json_val(const qry_result_t *r, const qry_val_t *v, const qry_fmt_opts_t *fo,
                     cn_buf_t *out)
{
    switch (v->t) {
    case QRY_NULL: cn_buf_put(out, "null", 4); break;
    case QRY_FLOAT: qry_fmt_float(v->u.f, out); break;
    case QRY_INT: qry_put_int(out, v->u.i); break;
    case QRY_BOOL: cn_buf_put(out, v->u.b ? "true" : "false", v->u.b ? 4 : 5); break;
    case QRY_STR: qry_json_str(out, v->u.s.p, v->u.s.len); break;
    case QRY_TIME:
        if (fo->epoch_div)
            qry_put_int(out, epoch_of(v->u.i, fo->epoch_div));
        else {
            cn_buf_put_u8(out, '"');
            put_time(r, v->u.i, out);
            cn_buf_put_u8(out, '"');
        }
        break;
    }
}

void qry_result_json_series(const qry_result_t *r, const qry_series_t *s, size_t row0, size_t nrows,
                      bool partial, const qry_fmt_opts_t *fo, cn_buf_t *out)
{
    cn_buf_put_u8(out, '{');
    bool comma = false;
    if (s->name) {
        cn_buf_put(out, "\"name\":", 7);
        qry_json_str(out, s->name, strlen(s->name));
        comma = true;
    }
    if (s->ntags) {
        if (comma)
            cn_buf_put_u8(out, ',');
        cn_buf_put(out, "\"tags\":{", 8);
        for (size_t t = 0; t < s->ntags; t++) {
            if (t)
                cn_buf_put_u8(out, ',');
            qry_json_str(out, s->tags[t].key, strlen(s->tags[t].key));
            cn_buf_put_u8(out, ':');
            qry_json_str(out, s->tags[t].val, strlen(s->tags[t].val));
        }
        cn_buf_put_u8(out, '}');
        comma = true;
    }
    if (comma)
        cn_buf_put_u8(out, ',');
    cn_buf_put(out, "\"columns\":[", 11);
    for (size_t c = 0; c < s->ncols; c++) {
        if (c)
            cn_buf_put_u8(out, ',');
        qry_json_str(out, s->cols[c], strlen(s->cols[c]));
    }
    cn_buf_put_u8(out, ']');
    if (nrows) {
        /* about what the rows take (a time and a float: 35 bytes), grown
         * once instead of doubling from a few bytes */
        cn_buf_reserve(out, 16 + nrows * (4 + s->ncols * 18));
        cn_buf_put(out, ",\"values\":[", 11);
        for (size_t i = row0; i < row0 + nrows; i++) {
            if (i > row0)
                cn_buf_put_u8(out, ',');
            cn_buf_put_u8(out, '[');
            const qry_val_t *row = s->vals + i * s->ncols;
            for (size_t c = 0; c < s->ncols; c++) {
                if (c)
                    cn_buf_put_u8(out, ',');
                json_val(r, &row[c], fo, out);
            }
            cn_buf_put_u8(out, ']');
        }
        cn_buf_put_u8(out, ']');
    }
    if (partial)
        cn_buf_put(out, ",\"partial\":true", 15);
    cn_buf_put_u8(out, '}');
}

void qry_result_json(const qry_result_t *r, int stmt_id, const qry_fmt_opts_t *fo, cn_buf_t *out)
{
    char tmp[48];
    int n = snprintf(tmp, sizeof tmp, "{\"statement_id\":%d", stmt_id);
    cn_buf_put(out, tmp, (size_t)n);
    if (r->err) {
        cn_buf_put(out, ",\"error\":", 9);
        qry_json_str(out, r->err, strlen(r->err));
    } else if (r->nseries) {
        cn_buf_put(out, ",\"series\":[", 11);
        for (size_t i = 0; i < r->nseries; i++) {
            if (i)
                cn_buf_put_u8(out, ',');
            qry_result_json_series(r, &r->series[i], 0, r->series[i].nrows, false, fo, out);
        }
        cn_buf_put_u8(out, ']');
    }
    if (r->msg) {
        cn_buf_put(out, ",\"messages\":[{\"level\":\"warning\",\"text\":", 39);
        qry_json_str(out, r->msg, strlen(r->msg));
        cn_buf_put(out, "}]", 2);
    }
    cn_buf_put_u8(out, '}');
}

/* --------------------------------------------------------------- pretty */

void qry_json_pretty(const uint8_t *in, size_t n, cn_buf_t *out)
{
    int depth = 0;
    bool str = false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = in[i];
        if (str) {
            cn_buf_put_u8(out, c);
            if (c == '\\' && i + 1 < n)
                cn_buf_put_u8(out, in[++i]);
            else if (c == '"')
                str = false;
            continue;
        }
        switch (c) {
        case '"':
            str = true;
            cn_buf_put_u8(out, c);
            break;
        case '{':
        case '[':
            cn_buf_put_u8(out, c);
            if (i + 1 < n && (in[i + 1] == '}' || in[i + 1] == ']')) {
                cn_buf_put_u8(out, in[++i]);
                break;
            }
            depth++;
            cn_buf_put_u8(out, '\n');
            for (int d = 0; d < depth; d++)
                cn_buf_put(out, "    ", 4);
            break;
        case '}':
        case ']':
            depth--;
            cn_buf_put_u8(out, '\n');
            for (int d = 0; d < depth; d++)
                cn_buf_put(out, "    ", 4);
            cn_buf_put_u8(out, c);
            break;
        case ',':
            cn_buf_put_u8(out, ',');
            cn_buf_put_u8(out, '\n');
            for (int d = 0; d < depth; d++)
                cn_buf_put(out, "    ", 4);
            break;
        case ':': cn_buf_put(out, ": ", 2); break;
        default: cn_buf_put_u8(out, c); break;
        }
    }
}

/* ------------------------------------------------------------------ CSV */

static void csv_field(cn_buf_t *out, const char *s, size_t n)
{
    bool q = n == 0 ? false : (s[0] == ' ' || s[0] == '\t');
    for (size_t i = 0; i < n && !q; i++)
        q = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!q) {
        cn_buf_put(out, s, n);
        return;
    }
    cn_buf_put_u8(out, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            cn_buf_put_u8(out, '"');
        cn_buf_put_u8(out, (uint8_t)s[i]);
    }
    cn_buf_put_u8(out, '"');
}

void qry_result_csv(const qry_result_t *r, int stmt_id, const qry_fmt_opts_t *fo, bool *header_done,
                    const char ***last_cols, size_t *last_ncols, cn_buf_t *out)
{
    (void)stmt_id;
    cn_buf_t tmp;
    cn_buf_init(&tmp);
    for (size_t i = 0; i < r->nseries; i++) {
        const qry_series_t *s = &r->series[i];
        bool same = *header_done && *last_ncols == s->ncols;
        for (size_t c = 0; same && c < s->ncols; c++)
            same = strcmp((*last_cols)[c], s->cols[c]) == 0;
        if (!same) {
            if (*header_done)
                cn_buf_put_u8(out, '\n');
            cn_buf_put(out, "name,tags", 9);
            for (size_t c = 0; c < s->ncols; c++) {
                cn_buf_put_u8(out, ',');
                csv_field(out, s->cols[c], strlen(s->cols[c]));
            }
            cn_buf_put_u8(out, '\n');
            *header_done = true;
            *last_cols = s->cols;
            *last_ncols = s->ncols;
        }
        cn_buf_reset(&tmp);
        for (size_t t = 0; t < s->ntags; t++) {
            if (t)
                cn_buf_put_u8(&tmp, ',');
            cn_buf_put(&tmp, s->tags[t].key, strlen(s->tags[t].key));
            cn_buf_put_u8(&tmp, '=');
            cn_buf_put(&tmp, s->tags[t].val, strlen(s->tags[t].val));
        }
        for (size_t k = 0; k < s->nrows; k++) {
            if (s->name)
                csv_field(out, s->name, strlen(s->name));
            cn_buf_put_u8(out, ',');
            csv_field(out, tmp.p ? (const char *)tmp.p : "", tmp.len);
            const qry_val_t *row = s->vals + k * s->ncols;
            for (size_t c = 0; c < s->ncols; c++) {
                cn_buf_put_u8(out, ',');
                const qry_val_t *v = &row[c];
                switch (v->t) {
                case QRY_NULL: break;
                case QRY_FLOAT: /* NaN (JSON's null) is empty, as in InfluxDB */
                    if (!isnan(v->u.f))
                        qry_fmt_float(v->u.f, out);
                    break;
                case QRY_INT: qry_put_int(out, v->u.i); break;
                case QRY_BOOL: cn_buf_put(out, v->u.b ? "true" : "false", v->u.b ? 4 : 5); break;
                case QRY_STR: csv_field(out, v->u.s.p, v->u.s.len); break;
                case QRY_TIME:
                    /* CSV times are epoch integers (ns unless epoch= says) */
                    qry_put_int(out, epoch_of(v->u.i, fo->epoch_div ? fo->epoch_div : 1));
                    break;
                }
            }
            cn_buf_put_u8(out, '\n');
        }
    }
    cn_buf_free(&tmp);
}
