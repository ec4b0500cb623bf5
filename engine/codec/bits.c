/* SPDX-License-Identifier: MIT */
/*
 * bits.c - bool columns and presence bitmaps.  Both are sequences of 0/1
 * bytes and share one set of encodings; a presence bitmap where every row
 * has a value (the usual case) costs its single id byte.  Encoders treat any
 * non-zero input byte as 1.
 *
 * Formats (after the codec id byte):
 * ENG_C_B_ALL0    nothing: n zeros.
 * ENG_C_B_ALL1    nothing: n ones.
 * ENG_C_B_RLE     u8 first value (0 or 1), uvarint runs, runs x uvarint
 *                 (length - 1); runs alternate 0/1 and add up to exactly n.
 * ENG_C_B_BITMAP  ceil(n / 8) bytes, value i in bit i % 8 of byte i / 8.
 * Version 1.  The encoder keeps the smaller of RLE and bitmap.
 */
#include "codec_int.h"

static size_t rle_size(const uint8_t *v, size_t n, size_t limit)
{
    size_t bytes = 2, runs = 0;
    for (size_t i = 0; i < n && bytes < limit;) {
        size_t j = i + 1;
        while (j < n && !v[j] == !v[i])
            j++;
        runs++;
        bytes += eng__uvarint_len(j - i - 1);
        i = j;
    }
    return bytes + eng__uvarint_len(runs);
}

static void put_rle(const uint8_t *v, size_t n, cn_buf_t *out)
{
    size_t runs = 0;
    for (size_t i = 1; i <= n; i++)
        runs += i == n || !v[i] != !v[i - 1];
    cn_buf_put_u8(out, ENG_C_B_RLE);
    cn_buf_put_u8(out, v[0] != 0);
    cn_buf_put_uvarint(out, runs);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && !v[j] == !v[i])
            j++;
        cn_buf_put_uvarint(out, j - i - 1);
        i = j;
    }
}

static void put_bitmap(const uint8_t *v, size_t n, cn_buf_t *out)
{
    cn_buf_put_u8(out, ENG_C_B_BITMAP);
    uint8_t *p = cn_buf_extend(out, (n + 7) / 8);
    memset(p, 0, (n + 7) / 8);
    for (size_t i = 0; i < n; i++)
        p[i >> 3] |= (uint8_t)((v[i] != 0) << (i & 7));
}

static int bits_encode(const uint8_t *v, size_t n, cn_buf_t *out)
{
    size_t ones = 0;
    for (size_t i = 0; i < n; i++)
        ones += v[i] != 0;
    if (ones == n || ones == 0) {
        cn_buf_put_u8(out, ones == n ? ENG_C_B_ALL1 : ENG_C_B_ALL0);
        return 0;
    }
    size_t bitmap = 1 + (n + 7) / 8;
    if (rle_size(v, n, bitmap) < bitmap)
        put_rle(v, n, out);
    else
        put_bitmap(v, n, out);
    return 0;
}

static int get_rle(cn_rd_t *rd, size_t n, uint8_t *out)
{
    uint8_t bit;
    uint64_t runs;
    int rc;
    if ((rc = cn_rd_u8(rd, &bit)) < 0 || (rc = cn_rd_uvarint(rd, &runs)) < 0)
        return rc;
    if (bit > 1 || runs > n)
        return CN_CORRUPT();
    size_t at = 0;
    for (uint64_t r = 0; r < runs; r++, bit ^= 1) {
        uint64_t len;
        if ((rc = cn_rd_uvarint(rd, &len)) < 0)
            return rc;
        if (len >= n - at)
            return CN_CORRUPT();
        memset(out + at, bit, (size_t)len + 1);
        at += (size_t)len + 1;
    }
    return at == n ? 0 : CN_CORRUPT();
}

static int get_bitmap(cn_rd_t *rd, size_t n, uint8_t *out)
{
    const uint8_t *p;
    int rc = cn_rd_bytes(rd, n / 8 + (n % 8 != 0), &p);
    if (rc < 0)
        return rc;
    /* Spread 8 bits over 8 bytes: byte j of the product keeps bit j. */
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x = (p[i >> 3] * 0x0101010101010101ULL) & 0x8040201008040201ULL;
        x = ((x + 0x7f7f7f7f7f7f7f7fULL) >> 7) & 0x0101010101010101ULL;
        memcpy(out + i, &x, 8);
    }
    for (; i < n; i++)
        out[i] = (p[i >> 3] >> (i & 7)) & 1;
    return 0;
}

static int bits_decode(cn_rd_t *rd, size_t n, uint8_t *out)
{
    uint8_t id;
    int rc = cn_rd_u8(rd, &id);
    if (rc < 0)
        return rc;
    switch (id) {
    case ENG_C_B_ALL0:
    case ENG_C_B_ALL1:
        memset(out, id == ENG_C_B_ALL1, n);
        return 0;
    case ENG_C_B_RLE:
        return get_rle(rd, n, out);
    case ENG_C_B_BITMAP:
        return get_bitmap(rd, n, out);
    default:
        return CN_CORRUPT();
    }
}

int eng__bool_encode(const uint8_t *v, size_t n, cn_buf_t *out)
{
    return bits_encode(v, n, out);
}

int eng__bool_decode(cn_rd_t *rd, size_t n, uint8_t *out)
{
    return bits_decode(rd, n, out);
}

int eng__valid_encode(const uint8_t *v, size_t n, cn_buf_t *out)
{
    return bits_encode(v, n, out);
}

/* Number of ones among the first n bits of a bitmap (LSB first). */
static size_t bitmap_ones(const uint8_t *p, size_t n)
{
    size_t ones = 0, full = n / 8;
    for (size_t i = 0; i < full; i++)
        ones += (size_t)__builtin_popcount(p[i]);
    if (n % 8)
        ones += (size_t)__builtin_popcount(p[full] & ((1u << (n % 8)) - 1));
    return ones;
}

int eng__valid_decode(cn_rd_t *rd, size_t n, uint8_t *out)
{
    /* Same decoding as bools, plus the count of present values, which the
     * caller needs and which every form here gives cheaply. */
    const uint8_t *start = rd->p;
    int rc = bits_decode(rd, n, out);
    if (rc < 0)
        return rc;
    switch (start[0]) {
    case ENG_C_B_ALL0:
        return 0;
    case ENG_C_B_ALL1:
        return (int)n;
    case ENG_C_B_BITMAP:
        return (int)bitmap_ones(start + 1, n);
    default: {
        size_t ones = 0;
        for (size_t i = 0; i < n; i++)
            ones += out[i];
        return (int)ones;
    }
    }
}
