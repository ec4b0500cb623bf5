/* SPDX-License-Identifier: MIT */
/*
 * str.c - string column codecs.  Tag-like string fields repeat a handful of
 * values, so they get a dictionary and one small integer per row; free text
 * is stored as lengths plus the concatenated bytes.  Lengths and indices go
 * through the int64 pipeline, which turns equal lengths into a constant and
 * small indices into a few bits (or a fraction of one, with rANS).
 *
 * Formats (after the codec id byte):
 * ENG_C_S_PLAIN  int64 encoding of the n lengths, then the bytes of all
 *                strings back to back (sum of the lengths).
 * ENG_C_S_DICT   uvarint d (1..n distinct strings, in first-seen order),
 *                int64 encoding of the d lengths, the d strings' bytes,
 *                int64 encoding of the n indices (each < d).
 * Lengths must lie in 0..UINT32_MAX.  Version 1.  The dictionary is used
 * when it holds at most half as many strings as the column.
 */
#include "codec_int.h"

static bool str_eq(const eng_str_t *a, const eng_str_t *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

static uint64_t str_hash(const eng_str_t *s)
{
    return s->len ? cn_hash64(s->p, s->len) : 0;
}

/* Dictionary indices of v in first-seen order; returns d, or 0 when more
 * than max distinct strings appear. */
static size_t build_dict(const eng_str_t *v, size_t n, size_t max, int64_t *idx, size_t *first)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    uint32_t *slot = cn_calloc(cap, sizeof *slot); /* dict index + 1, 0 = empty */
    size_t d = 0;
    for (size_t i = 0; i < n; i++) {
        size_t h = (size_t)str_hash(&v[i]) & (cap - 1);
        while (slot[h] && !str_eq(&v[first[slot[h] - 1]], &v[i]))
            h = (h + 1) & (cap - 1);
        if (!slot[h]) {
            if (d == max) {
                d = 0;
                break;
            }
            first[d] = i;
            slot[h] = (uint32_t)++d;
        }
        idx[i] = slot[h] - 1;
    }
    cn_free(slot);
    return d;
}

static void put_strings(const eng_str_t *v, size_t n, const size_t *pick, cn_buf_t *out)
{
    int64_t *len = cn_malloc((n ? n : 1) * sizeof *len);
    for (size_t i = 0; i < n; i++)
        len[i] = v[pick ? pick[i] : i].len;
    eng__i64_encode(len, n, out);
    for (size_t i = 0; i < n; i++) {
        const eng_str_t *s = &v[pick ? pick[i] : i];
        cn_buf_put(out, s->p, s->len);
    }
    cn_free(len);
}

int eng__str_encode(const eng_str_t *v, size_t n, cn_buf_t *out)
{
    if (n >= 4 && n <= UINT32_MAX) {
        int64_t *idx = cn_malloc(n * sizeof *idx);
        size_t *first = cn_malloc((n / 2) * sizeof *first);
        size_t d = build_dict(v, n, n / 2, idx, first);
        if (d) {
            cn_buf_put_u8(out, ENG_C_S_DICT);
            cn_buf_put_uvarint(out, d);
            put_strings(v, d, first, out);
            eng__i64_encode(idx, n, out);
        }
        cn_free(first);
        cn_free(idx);
        if (d)
            return 0;
    }
    cn_buf_put_u8(out, ENG_C_S_PLAIN);
    put_strings(v, n, NULL, out);
    return 0;
}

/* Reads n lengths and the bytes after them into the arena (grown once);
 * out[i] then points into the arena. */
static int get_strings(cn_rd_t *rd, size_t n, eng_str_t *out, cn_buf_t *arena)
{
    int64_t *len = cn_malloc((n ? n : 1) * sizeof *len);
    int rc = eng__i64_decode(rd, n, len);
    uint64_t total = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (len[i] < 0 || len[i] > (int64_t)UINT32_MAX)
            rc = CN_CORRUPT();
        else if ((total += (uint64_t)len[i]) > cn_rd_left(rd))
            rc = CN_ETRUNC;
    }
    const uint8_t *src;
    if (rc == 0 && (rc = cn_rd_bytes(rd, (size_t)total, &src)) == 0) {
        cn_buf_reserve(arena, total ? (size_t)total : 1);
        uint8_t *dst = arena->p + arena->len;
        memcpy(dst, src, (size_t)total);
        arena->len += (size_t)total;
        for (size_t i = 0; i < n; i++) {
            out[i].p = (const char *)dst;
            out[i].len = (uint32_t)len[i];
            dst += len[i];
        }
    }
    cn_free(len);
    return rc;
}

static int get_dict(cn_rd_t *rd, size_t n, eng_str_t *out, cn_buf_t *arena)
{
    uint64_t d;
    int rc = cn_rd_uvarint(rd, &d);
    if (rc < 0)
        return rc;
    if (d == 0 || d > n)
        return CN_CORRUPT();
    eng_str_t *dict = cn_malloc((size_t)d * sizeof *dict);
    int64_t *idx = cn_malloc(n * sizeof *idx);
    if ((rc = get_strings(rd, (size_t)d, dict, arena)) == 0)
        rc = eng__i64_decode(rd, n, idx);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if ((uint64_t)idx[i] >= d)
            rc = CN_CORRUPT();
        else
            out[i] = dict[idx[i]];
    }
    cn_free(idx);
    cn_free(dict);
    return rc;
}

int eng__str_decode(cn_rd_t *rd, size_t n, eng_str_t *out, cn_buf_t *arena)
{
    uint8_t id;
    int rc = cn_rd_u8(rd, &id);
    if (rc < 0)
        return rc;
    if (id == ENG_C_S_PLAIN)
        return get_strings(rd, n, out, arena);
    if (id == ENG_C_S_DICT)
        return get_dict(rd, n, out, arena);
    return CN_CORRUPT();
}
