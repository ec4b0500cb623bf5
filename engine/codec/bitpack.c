/* SPDX-License-Identifier: MIT */
/*
 * bitpack.c - fixed-width bit packing, the workhorse under frame-of-reference
 * integers and rANS escapes.  n values of w bits (0..64) are laid out
 * LSB-first in eng__bp_bytes(n, w) bytes: value i occupies bits
 * [i*w, (i+1)*w) of the little-endian byte string.  w = 0 takes no bytes.
 *
 * The reader is the hot loop of integer decoding: one unaligned 64-bit load,
 * a shift and a mask per value while eight bytes remain, a zero-filling load
 * for the last few values.  Widths above 56 need a second load because a
 * value may then straddle nine bytes.
 */
#include "codec_int.h"

void eng__bp_put(cn_buf_t *out, const uint64_t *v, size_t n, unsigned w)
{
    if (w == 0 || n == 0)
        return;
    size_t start = out->len;
    size_t bytes = eng__bp_bytes(n, w);
    eng_bw_t bw;
    eng__bw_init(&bw, out);
    cn_buf_reserve(out, bytes + 8);
    for (size_t i = 0; i < n; i++)
        eng__bw_put(&bw, v[i], w);
    eng__bw_flush(&bw);
    assert(out->len - start == bytes);
    (void)start;
}

static void get_wide(const uint8_t *p, size_t len, size_t n, unsigned w, uint64_t base,
                     uint64_t *out)
{
    uint64_t mask = eng__mask(w);
    for (size_t i = 0; i < n; i++) {
        size_t bit = i * w;
        size_t off = bit >> 3;
        unsigned sh = bit & 7;
        uint64_t v = eng__ld64_safe(p, len, off) >> sh;
        if (sh)
            v |= eng__ld64_safe(p, len, off + 8) << (64 - sh);
        out[i] = base + (v & mask);
    }
}

void eng__bp_get(const uint8_t *p, size_t len, size_t n, unsigned w, uint64_t base, uint64_t *out)
{
    if (w == 0) {
        for (size_t i = 0; i < n; i++)
            out[i] = base;
        return;
    }
    if (w > 56) {
        get_wide(p, len, n, w, base, out);
        return;
    }
    uint64_t mask = eng__mask(w);
    /* Values whose 8-byte window lies inside the input take the fast path. */
    size_t fast = len >= 8 ? ((len - 8) * 8) / w : 0;
    fast = CN_MIN(fast, n);
    size_t bit = 0;
    for (size_t i = 0; i < fast; i++, bit += w)
        out[i] = base + ((cn_ld64(p + (bit >> 3)) >> (bit & 7)) & mask);
    for (size_t i = fast; i < n; i++, bit += w)
        out[i] = base + ((eng__ld64_safe(p, len, bit >> 3) >> (bit & 7)) & mask);
}

int eng__rd_packed(cn_rd_t *rd, size_t n, unsigned w, const uint8_t **p)
{
    if (w > 64)
        return CN_CORRUPT();
    return cn_rd_bytes(rd, eng__bp_bytes(n, w), p);
}

int eng__rd_blob(cn_rd_t *rd, const uint8_t **p, size_t *len)
{
    uint64_t n;
    int rc = cn_rd_uvarint(rd, &n);
    if (rc < 0)
        return rc;
    if (n > cn_rd_left(rd))
        return CN_ETRUNC;
    *len = (size_t)n;
    return cn_rd_bytes(rd, (size_t)n, p);
}

int eng__rd_words(cn_rd_t *rd, size_t n, void *out)
{
    const uint8_t *p;
    if (n > cn_rd_left(rd) / 8)
        return CN_ETRUNC;
    int rc = cn_rd_bytes(rd, n * 8, &p);
    if (rc == 0 && n)
        memcpy(out, p, n * 8); /* the host is little endian, like the format */
    return rc;
}
