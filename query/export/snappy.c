/* SPDX-License-Identifier: MIT */
/*
 * snappy.c - a Snappy compressor (raw block format, as Parquet's SNAPPY
 * codec stores pages), written from the format description because the
 * build machine has no libsnappy.  Greedy single-probe hash matching: a
 * lighter ratio than the reference implementation, same format.
 *
 * Format: uvarint(uncompressed length), then elements, each a tag byte
 * whose low 2 bits give its kind:
 *   00 literal   len-1 in the high 6 bits when < 60, else 60..63 says
 *                1..4 LE bytes of len-1 follow; then the bytes
 *   01 copy      len 4..11 ((len-4) in bits 2-4), offset < 2048 (bits 5-7
 *                are offset >> 8, one more byte the low 8 bits)
 *   10 copy      len 1..64 ((len-1) in bits 2-7), 2-byte LE offset
 * Copies may overlap their own output (offset < len) as in LZ77.
 *
 * NOTES
 *  1. Matches are taken only at offsets 1..65535 so copy-2 always fits.
 */
#include "pq_int.h"

#define HASH_BITS 14

static void put_literal(cn_buf_t *out, const uint8_t *p, size_t n)
{
    if (n == 0)
        return;
    size_t l = n - 1;
    if (l < 60) {
        cn_buf_put_u8(out, (uint8_t)(l << 2));
    } else {
        int bytes = l < 0x100 ? 1 : l < 0x10000 ? 2 : l < 0x1000000 ? 3 : 4;
        cn_buf_put_u8(out, (uint8_t)((59 + bytes) << 2));
        for (int i = 0; i < bytes; i++)
            cn_buf_put_u8(out, (uint8_t)(l >> (8 * i)));
    }
    cn_buf_put(out, p, n);
}

static void put_copy2(cn_buf_t *out, size_t off, size_t len)
{
    cn_buf_put_u8(out, (uint8_t)(2 | ((len - 1) << 2)));
    cn_buf_put_u16(out, (uint16_t)off);
}

static void put_copy(cn_buf_t *out, size_t off, size_t len)
{
    while (len >= 68) {
        put_copy2(out, off, 64);
        len -= 64;
    }
    if (len > 64) {
        put_copy2(out, off, 60);
        len -= 60;
    }
    if (len <= 11 && off < 2048) {
        cn_buf_put_u8(out, (uint8_t)(1 | ((len - 4) << 2) | ((off >> 8) << 5)));
        cn_buf_put_u8(out, (uint8_t)off);
    } else {
        put_copy2(out, off, len);
    }
}

void qry__snappy(cn_buf_t *out, const void *src, size_t n)
{
    const uint8_t *p = src;
    cn_buf_put_uvarint(out, n);
    uint32_t *tab = cn_calloc((size_t)1 << HASH_BITS, sizeof(*tab)); /* pos + 1 */
    size_t i = 0, lit = 0;
    while (i + 4 <= n) {
        uint32_t h = (cn_ld32(p + i) * UINT32_C(0x1e35a7bd)) >> (32 - HASH_BITS);
        size_t cand = tab[h];
        tab[h] = (uint32_t)(i + 1);
        if (cand == 0 || i + 1 - cand > 65535 || cn_ld32(p + cand - 1) != cn_ld32(p + i)) {
            i += 1 + ((i - lit) >> 6); /* skip faster through incompressible data */
            continue;
        }
        size_t from = cand - 1, len = 4;
        while (i + len < n && p[from + len] == p[i + len])
            len++;
        put_literal(out, p + lit, i - lit);
        put_copy(out, i - from, len);
        i += len;
        lit = i;
    }
    put_literal(out, p + lit, n - lit);
    cn_free(tab);
}
