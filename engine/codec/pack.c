/* SPDX-License-Identifier: MIT */
/*
 * pack.c - optional general-purpose compression (lz4 or zstd) over an
 * already encoded column.  The column codecs remove most redundancy; this
 * catches what they cannot see (repeated string bytes, structure across the
 * rANS tables of a block) and is kept only when it actually saves bytes.
 *
 * Format of one packed unit:
 *   off  size     meaning
 *   0    1        method: 0 raw, 1 lz4 (block format), 2 zstd (one frame)
 *   1    uvarint  raw length R (<= 1 GiB)
 *   ..   uvarint  compressed length C (methods 1 and 2 only)
 *   ..   R or C   the bytes
 * Version 1.  A unit that does not decompress to exactly R bytes is corrupt.
 */
#include "codec_int.h"

#include <limits.h>
#include <lz4.h>
#include <zstd.h>

#define PACK_MAX ((size_t)1 << 30)

/* Compresses p into a new allocation; returns its length, 0 on failure. */
static size_t squeeze(const uint8_t *p, size_t n, int compress, int level, uint8_t **dst)
{
    if (compress == ENG_COMP_LZ4) {
        int cap = LZ4_compressBound((int)n);
        *dst = cn_malloc((size_t)cap);
        int c = LZ4_compress_default((const char *)p, (char *)*dst, (int)n, cap);
        return c > 0 ? (size_t)c : 0;
    }
    size_t cap = ZSTD_compressBound(n);
    *dst = cn_malloc(cap);
    size_t c = ZSTD_compress(*dst, cap, p, n, level);
    return ZSTD_isError(c) ? 0 : c;
}

int eng__pack(const uint8_t *p, size_t n, int compress, int level, cn_buf_t *out)
{
    if (n > PACK_MAX)
        return CN_ELIMIT;
    if (compress != ENG_COMP_NONE && compress != ENG_COMP_LZ4 && compress != ENG_COMP_ZSTD)
        return CN_EINVAL;
    uint8_t *dst = NULL;
    /* Below 64 bytes a general-purpose compressor's framing eats any gain,
     * and creating its context per call dominated flushes of many tiny
     * blocks (a million 10-row series). */
    size_t c = compress != ENG_COMP_NONE && n >= 64 ? squeeze(p, n, compress, level, &dst) : 0;
    if (c > 0 && c + eng__uvarint_len(c) < n) {
        cn_buf_put_u8(out, (uint8_t)compress);
        cn_buf_put_uvarint(out, n);
        cn_buf_put_uvarint(out, c);
        cn_buf_put(out, dst, c);
    } else {
        cn_buf_put_u8(out, ENG_COMP_NONE);
        cn_buf_put_uvarint(out, n);
        cn_buf_put(out, p, n);
    }
    cn_free(dst);
    return 0;
}

static int expand(int method, const uint8_t *src, size_t c, uint8_t *dst, size_t n)
{
    if (method == ENG_COMP_LZ4) {
        if (c > INT_MAX)
            return CN_CORRUPT();
        int r = LZ4_decompress_safe((const char *)src, (char *)dst, (int)c, (int)n);
        return r >= 0 && (size_t)r == n ? 0 : CN_CORRUPT();
    }
    size_t r = ZSTD_decompress(dst, n, src, c);
    return !ZSTD_isError(r) && r == n ? 0 : CN_CORRUPT();
}

int eng__unpack(cn_rd_t *rd, cn_buf_t *scratch, cn_rd_t *raw)
{
    uint8_t method;
    uint64_t n, c;
    int rc;
    const uint8_t *src;
    if ((rc = cn_rd_u8(rd, &method)) < 0 || (rc = cn_rd_uvarint(rd, &n)) < 0)
        return rc;
    if (method > ENG_COMP_ZSTD || n > PACK_MAX)
        return CN_CORRUPT();
    if (method == ENG_COMP_NONE) {
        if ((rc = cn_rd_bytes(rd, (size_t)n, &src)) < 0)
            return rc;
        *raw = cn_rd_make(src, (size_t)n);
        return 0;
    }
    if ((rc = cn_rd_uvarint(rd, &c)) < 0)
        return rc;
    if (c > cn_rd_left(rd))
        return CN_ETRUNC;
    if ((rc = cn_rd_bytes(rd, (size_t)c, &src)) < 0)
        return rc;
    cn_buf_reset(scratch);
    cn_buf_reserve(scratch, n ? (size_t)n : 1);
    if ((rc = expand(method, src, (size_t)c, scratch->p, (size_t)n)) < 0)
        return rc;
    scratch->len = (size_t)n;
    *raw = cn_rd_make(scratch->p, (size_t)n);
    return 0;
}
