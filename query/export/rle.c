/* SPDX-License-Identifier: MIT */
/*
 * rle.c - Parquet's integer encodings (parquet-format Encodings.md):
 *
 * RLE/bit-packed hybrid, used for definition levels and dictionary indices:
 *   run       := rle-run | bit-packed-run
 *   rle-run   := uvarint(count << 1), value in ceil(bw / 8) bytes LE
 *   bp-run    := uvarint(groups << 1 | 1), groups * 8 values of bw bits,
 *                packed from the least significant bit of each byte on
 * The caller adds the context's framing: a 4-byte LE length before the
 * levels of a v1 data page, one bit-width byte before dictionary indices.
 *
 * DELTA_BINARY_PACKED, used for INT64 columns (sorted timestamps become a
 * handful of bytes per page):
 *   header    := uvarint(block size 128), uvarint(miniblocks 4),
 *                uvarint(total values), zigzag varint(first value)
 *   block     := zigzag varint(min delta), 4 bit-width bytes, then the
 *                miniblocks of 32 (delta - min delta) values each
 * Deltas wrap modulo 2^64, as the spec allows.  In the last block, unused
 * miniblocks get width 0 and no body; a partly used one is zero-padded.
 *
 * NOTES
 *  1. A bit-packed run holds at most 63 groups (504 values) so its header
 *     is one byte, which every reader accepts.
 *  2. The packer's accumulator holds < 8 bits between values and takes at
 *     most 32 bits at a time, so it never overflows 64 bits.
 */
#include "pq_int.h"

#include <assert.h>

typedef struct bits {
    cn_buf_t *out;
    uint64_t acc;
    int n;
} bits_t;

static void bits_put(bits_t *b, uint64_t v, int w)
{
    while (w > 0) {
        int take = w > 32 ? 32 : w;
        uint64_t part = v & ((UINT64_C(1) << take) - 1);
        assert(b->n < 8);
        b->acc |= part << b->n;
        b->n += take;
        while (b->n >= 8) {
            cn_buf_put_u8(b->out, (uint8_t)b->acc);
            b->acc >>= 8;
            b->n -= 8;
        }
        v >>= take;
        w -= take;
    }
}

int qry__bit_width(uint64_t max)
{
    int w = 0;
    while (max) {
        w++;
        max >>= 1;
    }
    return w;
}

static void put_literals(cn_buf_t *out, const uint32_t *v, size_t n, int bw)
{
    while (n > 0) {
        size_t take = n > 504 ? 504 : n;
        size_t groups = (take + 7) / 8;
        cn_buf_put_uvarint(out, (groups << 1) | 1);
        bits_t b = {out, 0, 0};
        for (size_t i = 0; i < groups * 8; i++)
            bits_put(&b, i < take ? v[i] : 0, bw);
        v += take;
        n -= take;
    }
}

static void put_run(cn_buf_t *out, uint32_t val, size_t count, int bw)
{
    cn_buf_put_uvarint(out, (uint64_t)count << 1);
    for (int i = 0; i < (bw + 7) / 8; i++)
        cn_buf_put_u8(out, (uint8_t)(val >> (8 * i)));
}

void qry__rle_u32(cn_buf_t *out, const uint32_t *v, size_t n, int bw)
{
    size_t i = 0, lit = 0; /* v[lit..i) waits to be bit-packed */
    while (i < n) {
        size_t r = 1;
        while (i + r < n && v[i + r] == v[i])
            r++;
        if (r < 8) {
            i += r;
            continue;
        }
        size_t pad = (i - lit) % 8 ? 8 - (i - lit) % 8 : 0;
        if (pad) {
            /* Complete the pending literal group from the run's head. */
            i += pad;
            continue;
        }
        put_literals(out, v + lit, i - lit, bw);
        put_run(out, v[i], r, bw);
        i += r;
        lit = i;
    }
    put_literals(out, v + lit, n - lit, bw);
}

void qry__rle_levels(cn_buf_t *out, const uint8_t *lv, size_t n)
{
    size_t ones = 0;
    while (ones < n && lv[ones])
        ones++;
    if (ones == n) {
        if (n)
            put_run(out, 1, n, 1);
        return;
    }
    uint32_t *tmp = cn_malloc(n * sizeof(*tmp));
    for (size_t i = 0; i < n; i++)
        tmp[i] = lv[i] ? 1 : 0;
    qry__rle_u32(out, tmp, n, 1);
    cn_free(tmp);
}

static void delta_block(cn_buf_t *out, const uint64_t *d, size_t n)
{
    int64_t min = (int64_t)d[0];
    for (size_t i = 1; i < n; i++)
        if ((int64_t)d[i] < min)
            min = (int64_t)d[i];
    cn_buf_put_svarint(out, min);
    int bw[4] = {0, 0, 0, 0};
    for (size_t m = 0; m < 4 && m * 32 < n; m++) {
        uint64_t max = 0;
        for (size_t i = m * 32; i < n && i < m * 32 + 32; i++)
            max |= d[i] - (uint64_t)min;
        bw[m] = qry__bit_width(max);
    }
    for (int m = 0; m < 4; m++)
        cn_buf_put_u8(out, (uint8_t)bw[m]);
    for (size_t m = 0; m < 4 && m * 32 < n; m++) {
        bits_t b = {out, 0, 0};
        for (size_t i = m * 32; i < m * 32 + 32; i++)
            bits_put(&b, i < n ? d[i] - (uint64_t)min : 0, bw[m]);
    }
}

void qry__delta_i64(cn_buf_t *out, const int64_t *v, size_t n)
{
    cn_buf_put_uvarint(out, 128);
    cn_buf_put_uvarint(out, 4);
    cn_buf_put_uvarint(out, n);
    cn_buf_put_svarint(out, n ? v[0] : 0);
    uint64_t d[128];
    for (size_t i = 1; i < n;) {
        size_t k = 0;
        for (; k < 128 && i < n; k++, i++)
            d[k] = (uint64_t)v[i] - (uint64_t)v[i - 1];
        delta_block(out, d, k);
    }
}
