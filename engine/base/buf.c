/* SPDX-License-Identifier: MIT */
/*
 * buf.c - growable byte buffers and bounded read cursors.  All integers are
 * little endian; varints are LEB128 (7 bits per byte, low group first).
 */
#include "base.h"

void cn_buf_init(cn_buf_t *b)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
}

void cn_buf_free(cn_buf_t *b)
{
    cn_free(b->p);
    cn_buf_init(b);
}

void cn_buf_reserve(cn_buf_t *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->len < extra)
        cap *= 2;
    b->p = cn_realloc(b->p, cap);
    b->cap = cap;
}

uint8_t *cn_buf_extend(cn_buf_t *b, size_t n)
{
    cn_buf_reserve(b, n);
    uint8_t *p = b->p + b->len;
    b->len += n;
    return p;
}

void cn_buf_put_slow(cn_buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    memcpy(cn_buf_extend(b, n), p, n);
}

static const char two_digits[] = "00010203040506070809101112131415161718192021222324"
                                 "25262728293031323334353637383940414243444546474849"
                                 "50515253545556575859606162636465666768697071727374"
                                 "75767778798081828384858687888990919293949596979899";

/* The 8 digits of x < 10^8, leading zeros included. */
static inline void dec8(uint32_t x, char *d)
{
    uint32_t hi = x / 10000, lo = x % 10000;
    memcpy(d, two_digits + 2 * (hi / 100), 2);
    memcpy(d + 2, two_digits + 2 * (hi % 100), 2);
    memcpy(d + 4, two_digits + 2 * (lo / 100), 2);
    memcpy(d + 6, two_digits + 2 * (lo % 100), 2);
}

/* Eight digits at a time, in 32-bit arithmetic below 10^8: a 64-bit
 * division by 100 per pair of digits was most of the cost of a 17-digit
 * float or a 13-digit millisecond time in a query's JSON. */
void cn_pct_decode(char *s)
{
    char *o = s;
    for (const char *p = s; *p; p++) {
        int hi, lo;
        if (*p == '%' && (hi = cn_hexval(p[1])) >= 0 && (lo = cn_hexval(p[2])) >= 0) {
            *o++ = (char)(hi * 16 + lo);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = 0;
}

void cn_dec_digits(uint64_t v, int nd, char *d)
{
    while (nd > 8) {
        uint64_t q = v / 100000000;
        dec8((uint32_t)(v - q * 100000000), d + nd - 8);
        v = q;
        nd -= 8;
    }
    uint32_t x = (uint32_t)v;
    int i = nd;
    while (i >= 2) {
        i -= 2;
        memcpy(d + i, two_digits + 2 * (x % 100), 2);
        x /= 100;
    }
    if (i)
        d[0] = (char)('0' + x);
}

const uint64_t cn_p10[20] = {1ull,
                              10ull,
                              100ull,
                              1000ull,
                              10000ull,
                              100000ull,
                              1000000ull,
                              10000000ull,
                              100000000ull,
                              1000000000ull,
                              10000000000ull,
                              100000000000ull,
                              1000000000000ull,
                              10000000000000ull,
                              100000000000000ull,
                              1000000000000000ull,
                              10000000000000000ull,
                              100000000000000000ull,
                              1000000000000000000ull,
                              10000000000000000000ull};

int cn_dec_len(uint64_t u)
{
    /* the bit length x log10(2) (1233 / 4096) is the digit count or one
     * less; u | 1 has u's digits and makes 0 one digit */
    u |= 1;
    int t = ((64 - __builtin_clzll(u)) * 1233) >> 12;
    return t + (t < 20 && u >= cn_p10[t]);
}

void cn_buf_put_dec(cn_buf_t *b, int64_t v)
{
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int nd = cn_dec_len(u);
    char *d = (char *)cn_buf_extend(b, (size_t)nd + (v < 0));
    if (v < 0)
        *d++ = '-';
    cn_dec_digits(u, nd, d);
}


void cn_buf_put_u16(cn_buf_t *b, uint16_t v)
{
    memcpy(cn_buf_extend(b, 2), &v, 2);
}

void cn_buf_put_u32(cn_buf_t *b, uint32_t v)
{
    memcpy(cn_buf_extend(b, 4), &v, 4);
}

void cn_buf_put_u64(cn_buf_t *b, uint64_t v)
{
    memcpy(cn_buf_extend(b, 8), &v, 8);
}

void cn_buf_put_uvarint(cn_buf_t *b, uint64_t v)
{
    cn_buf_reserve(b, 10);
    uint8_t *p = b->p + b->len;
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    b->len = (size_t)(p - b->p);
}

void cn_buf_put_svarint(cn_buf_t *b, int64_t v)
{
    cn_buf_put_uvarint(b, cn_zigzag(v));
}

int cn_rd_u8(cn_rd_t *r, uint8_t *v)
{
    if (r->p >= r->end)
        return CN_ETRUNC;
    *v = *r->p++;
    return 0;
}

int cn_rd_u16(cn_rd_t *r, uint16_t *v)
{
    if (cn_rd_left(r) < 2)
        return CN_ETRUNC;
    *v = cn_ld16(r->p);
    r->p += 2;
    return 0;
}

int cn_rd_u32(cn_rd_t *r, uint32_t *v)
{
    if (cn_rd_left(r) < 4)
        return CN_ETRUNC;
    *v = cn_ld32(r->p);
    r->p += 4;
    return 0;
}

int cn_rd_u64(cn_rd_t *r, uint64_t *v)
{
    if (cn_rd_left(r) < 8)
        return CN_ETRUNC;
    *v = cn_ld64(r->p);
    r->p += 8;
    return 0;
}

int cn__rd_uvarint_slow(cn_rd_t *r, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return CN_ETRUNC;
        uint8_t c = *r->p++;
        if (shift == 63 && c > 1)
            return CN_CORRUPT();
        x |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return CN_CORRUPT();
}

int cn_rd_bytes(cn_rd_t *r, size_t n, const uint8_t **p)
{
    if (cn_rd_left(r) < n)
        return CN_ETRUNC;
    *p = r->p;
    r->p += n;
    return 0;
}

int cn_rd_skip(cn_rd_t *r, size_t n)
{
    if (cn_rd_left(r) < n)
        return CN_ETRUNC;
    r->p += n;
    return 0;
}

size_t cn_utf8_put(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}
