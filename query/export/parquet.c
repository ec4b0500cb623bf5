/* SPDX-License-Identifier: MIT */
/*
 * parquet.c - the Parquet writer's data path: buffering batches per column
 * into row groups, cutting column chunks into v1 data pages, encoding and
 * compressing them, and the file's lifecycle (PATH.tmp, fsync, rename).
 * The footer and statistics layouts are in meta.c; see parquet.h for the
 * encodings chosen per type.
 *
 * Data page v1 body (before compression, which covers all of it):
 *   [optional column] u32 LE n, n bytes of RLE/bit-packed hybrid
 *                     definition levels (bit width 1), one per row
 *   values            the non-null values in the page's encoding
 * PageHeader (Thrift compact, before each page): 1 type, 2 uncompressed
 * size, 3 compressed size, 5 DataPageHeader {1 num_values incl. nulls,
 * 2 encoding, 3 definition level encoding RLE, 4 repetition level encoding
 * RLE} or 7 DictionaryPageHeader {1 num_values, 2 encoding PLAIN}.
 *
 * NOTES
 *  1. Column 0 is `time`: required INT64, stored in the chosen unit.
 *  2. Values are buffered little-endian as they are in memory: the writer
 *     assumes a little-endian host (x86-64, arm64), asserted at build time.
 *  3. Encodings are chosen per column chunk from its first page: each
 *     candidate is encoded and compressed, the smaller wins for the chunk.
 *  4. A failed write leaves w->failed set; only abort is then meaningful.
 */
#include "pq_writer.h"

#include <assert.h>
#include <fcntl.h>
#include <lz4.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>
#include <zstd.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "NOTES 2: little-endian hosts only");

#define OUT_FLUSH (4u << 20)
#define DICT_MAX  (1u << 20) /* dictionary page bytes */
#define SAMPLE    16384u     /* values tried per candidate encoding */

enum { PAGE_DATA = 0, PAGE_DICT = 2 };
enum { CODEC_NONE = 0, CODEC_SNAPPY = 1, CODEC_ZSTD = 6, CODEC_LZ4_RAW = 7 };

/* ------------------------------------------------------------- options */

void qry_pq_opts_default(qry_pq_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->time_name = "time";
    o->unit = QRY_PQ_MICROS;
    o->codec = QRY_PQ_ZSTD;
    o->zstd_level = 3;
    o->row_group_rows = 1u << 20;
    o->row_group_bytes = (size_t)128 << 20;
    o->page_bytes = (size_t)1 << 20;
}

static const char *const codec_names[] = {"zstd", "lz4_raw", "snappy", "none"};

int qry_pq_codec_parse(const char *s)
{
    for (size_t i = 0; i < CN_ARRAY_LEN(codec_names); i++)
        if (strcmp(s, codec_names[i]) == 0)
            return (int)i;
    if (strcmp(s, "lz4") == 0)
        return QRY_PQ_LZ4_RAW;
    if (strcmp(s, "uncompressed") == 0)
        return QRY_PQ_NONE;
    return CN_EINVAL;
}

const char *qry_pq_codec_name(int codec)
{
    return codec >= 0 && codec < (int)CN_ARRAY_LEN(codec_names) ? codec_names[codec] : "?";
}

static int codec_id(int codec)
{
    static const int ids[] = {CODEC_ZSTD, CODEC_LZ4_RAW, CODEC_SNAPPY, CODEC_NONE};
    return ids[codec];
}

/* ------------------------------------------------------------------ I/O */

static int out_flush(qry_pq_writer_t *w)
{
    if (w->out.len == 0)
        return 0;
    int rc = w->use_sink ? w->sink.write(w->sink.arg, w->out.p, w->out.len)
                         : cn_write_all(w->fd, w->out.p, w->out.len);
    cn_buf_reset(&w->out);
    return rc;
}

static int out_put(qry_pq_writer_t *w, const void *p, size_t n)
{
    cn_buf_put(&w->out, p, n);
    w->off += n;
    return w->out.len >= OUT_FLUSH ? out_flush(w) : 0;
}

/* Compresses w->body into w->comp; returns the compressed length. */
static size_t compress_body(qry_pq_writer_t *w, const cn_buf_t *in, cn_buf_t *out)
{
    cn_buf_reset(out);
    switch (w->o.codec) {
    case QRY_PQ_ZSTD: {
        size_t cap = ZSTD_compressBound(in->len);
        cn_buf_reserve(out, cap);
        size_t n = ZSTD_compressCCtx(w->zctx, out->p, cap, in->p, in->len, w->o.zstd_level);
        assert(!ZSTD_isError(n));
        out->len = n;
        break;
    }
    case QRY_PQ_LZ4_RAW: {
        int cap = LZ4_compressBound((int)in->len);
        cn_buf_reserve(out, (size_t)cap);
        int n = LZ4_compress_default((const char *)in->p, (char *)out->p, (int)in->len, cap);
        assert(n > 0 || in->len == 0);
        out->len = (size_t)n;
        break;
    }
    case QRY_PQ_SNAPPY:
        qry__snappy(out, in->p, in->len);
        break;
    default:
        cn_buf_put(out, in->p, in->len);
    }
    return out->len;
}

/* Writes one page: header, then body compressed.  Adds to the chunk's
 * sizes (*usize, *csize include the header). */
static int put_page(qry_pq_writer_t *w, const cn_buf_t *body, int type, uint32_t nvalues, int enc,
                    int64_t *usize, int64_t *csize)
{
    compress_body(w, body, &w->comp);
    cn_buf_reset(&w->hdr);
    qry__tc_t t;
    qry__tc_init(&t, &w->hdr);
    qry__tc_i32(&t, 1, type);
    qry__tc_i32(&t, 2, (int32_t)body->len);
    qry__tc_i32(&t, 3, (int32_t)w->comp.len);
    qry__tc_struct(&t, type == PAGE_DICT ? 7 : 5);
    qry__tc_i32(&t, 1, (int32_t)nvalues);
    qry__tc_i32(&t, 2, enc);
    if (type == PAGE_DATA) {
        qry__tc_i32(&t, 3, PQ_ENC_RLE);
        qry__tc_i32(&t, 4, PQ_ENC_RLE);
    }
    qry__tc_end(&t);
    qry__tc_end(&t);
    *usize += (int64_t)(w->hdr.len + body->len);
    *csize += (int64_t)(w->hdr.len + w->comp.len);
    int rc = out_put(w, w->hdr.p, w->hdr.len);
    return rc < 0 ? rc : out_put(w, w->comp.p, w->comp.len);
}

/* ------------------------------------------------------------- encoding */

/* Appends values [v0, v0 + nv) of c to out in encoding enc. */
static void encode_vals(qry_pq_writer_t *w, const qry__pq_col_t *c, int enc, uint32_t v0,
                        uint32_t nv, cn_buf_t *out)
{
    const uint8_t *src = c->vals.p;
    if (enc == PQ_ENC_RLE_DICTIONARY) {
        int bw = CN_MAX(1, qry__bit_width(w->ndict - 1));
        cn_buf_put_u8(out, (uint8_t)bw);
        qry__rle_u32(out, w->idx + v0, nv, bw);
    } else if (c->type == QRY_PQ_STRING) {
        for (uint32_t i = v0; i < v0 + nv; i++) {
            const uint8_t *p;
            size_t n;
            qry__pq_str(c, i, &p, &n);
            cn_buf_put_u32(out, (uint32_t)n);
            cn_buf_put(out, p, n);
        }
    } else if (c->type == QRY_PQ_BOOL) {
        uint8_t *dst = cn_buf_extend(out, (nv + 7) / 8);
        memset(dst, 0, (nv + 7) / 8);
        for (uint32_t i = 0; i < nv; i++)
            dst[i / 8] |= (uint8_t)((src[v0 + i] & 1) << (i % 8));
    } else if (enc == PQ_ENC_DELTA_BINARY_PACKED) {
        qry__delta_i64(out, (const int64_t *)src + v0, nv);
    } else if (enc == PQ_ENC_BYTE_STREAM_SPLIT) {
        uint8_t *dst = cn_buf_extend(out, (size_t)nv * 8);
        const uint8_t *s = src + (size_t)v0 * 8;
        for (uint32_t i = 0; i < nv; i++)
            for (int k = 0; k < 8; k++)
                dst[(size_t)k * nv + i] = s[(size_t)i * 8 + k];
    } else {
        cn_buf_put(out, src + (size_t)v0 * 8, (size_t)nv * 8);
    }
}

/* Rows [r0, *r1) of the next page and its non-null count, bounded by
 * page_bytes of (estimated) encoded values. */
static uint32_t page_end(const qry_pq_writer_t *w, const qry__pq_col_t *c, bool dict, uint32_t r0,
                         uint32_t v0, uint32_t nrows, uint32_t *nv /* OUT */)
{
    const uint8_t *valid = c->optional ? c->valid.p : NULL;
    size_t budget = w->o.page_bytes, used = 0;
    uint32_t r = r0, v = v0;
    size_t width = c->type == QRY_PQ_BOOL ? 1 : dict ? 2 : 8;
    if (c->type != QRY_PQ_STRING || dict) {
        size_t rows = CN_MAX((size_t)1, budget * (c->type == QRY_PQ_BOOL ? 8 : 1) / width);
        uint32_t r1 = (uint32_t)CN_MIN((size_t)nrows, r0 + rows);
        for (; r < r1; r++)
            v += valid ? valid[r] : 1;
    } else {
        while (r < nrows && (used < budget || r == r0)) {
            if (!valid || valid[r]) {
                const uint8_t *p;
                size_t n;
                qry__pq_str(c, v++, &p, &n);
                used += n + 4;
            }
            r++;
        }
    }
    *nv = v - v0;
    return r;
}

/* Builds the page body for rows [r0, r1) (values v0..v0+nv) into body. */
static void page_body(qry_pq_writer_t *w, const qry__pq_col_t *c, int enc, uint32_t r0, uint32_t r1,
                      uint32_t v0, uint32_t nv, cn_buf_t *body)
{
    cn_buf_reset(body);
    if (c->optional) {
        size_t at = body->len;
        cn_buf_put_u32(body, 0);
        qry__rle_levels(body, c->valid.p + r0, r1 - r0);
        cn_st32(body->p + at, (uint32_t)(body->len - at - 4));
    }
    encode_vals(w, c, enc, v0, nv, body);
}

/* Value i of a STRING, DOUBLE or INT64 column as bytes. */
static void val_at(const qry__pq_col_t *c, uint32_t i, const uint8_t **p, size_t *n)
{
    if (c->type == QRY_PQ_STRING) {
        qry__pq_str(c, i, p, n);
    } else {
        *p = c->vals.p + (size_t)i * 8;
        *n = 8;
    }
}

/* Dictionary of the chunk's first n values: w->idx[value] = entry, entries
 * in order of first appearance, their PLAIN encoding in w->dict.  Returns
 * the entry count, or 0 when the page would outgrow DICT_MAX. */
static uint32_t build_dict(qry_pq_writer_t *w, const qry__pq_col_t *c, uint32_t n)
{
    if (n == 0)
        return 0;
    size_t cap = 64;
    while (cap < (size_t)n * 2 && cap < ((size_t)1 << 21))
        cap *= 2;
    uint32_t *tab = cn_calloc(cap, sizeof(*tab)); /* value index + 1 of the entry */
    w->idx = cn_realloc(w->idx, (size_t)n * sizeof(*w->idx));
    cn_buf_reset(&w->dict);
    uint32_t ndict = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *p, *q;
        size_t len, qlen;
        val_at(c, i, &p, &len);
        if (i > 0) {
            /* Sorted data repeats itself: a run costs no hash lookups. */
            val_at(c, i - 1, &q, &qlen);
            if (qlen == len && memcmp(p, q, len) == 0) {
                w->idx[i] = w->idx[i - 1];
                continue;
            }
        }
        size_t h = cn_hash64(p, len) & (cap - 1);
        for (; tab[h]; h = (h + 1) & (cap - 1)) {
            val_at(c, tab[h] - 1, &q, &qlen);
            if (qlen == len && memcmp(p, q, len) == 0)
                break;
        }
        if (tab[h]) {
            w->idx[i] = w->idx[tab[h] - 1];
            continue;
        }
        if (ndict + 1 >= cap / 2 || w->dict.len + len + 4 > DICT_MAX) {
            ndict = 0;
            break;
        }
        tab[h] = i + 1;
        if (c->type == QRY_PQ_STRING)
            cn_buf_put_u32(&w->dict, (uint32_t)len);
        cn_buf_put(&w->dict, p, len);
        w->idx[i] = ndict++;
    }
    cn_free(tab);
    return ndict;
}

/* Strings: a dictionary pays when entries plus indices (about bw bits per
 * value) take under 3/4 of PLAIN's 4 + len bytes per value. */
static uint32_t str_dict(qry_pq_writer_t *w, const qry__pq_col_t *c)
{
    uint32_t ndict = build_dict(w, c, c->nvals);
    size_t plain = c->vals.len + (size_t)c->nvals * 4;
    size_t bw = (size_t)CN_MAX(1, qry__bit_width(ndict ? ndict - 1 : 0));
    if (ndict == 0 || w->dict.len + (size_t)c->nvals * bw / 8 > plain * 3 / 4)
        return 0;
    return ndict;
}

static size_t trial(qry_pq_writer_t *w, const qry__pq_col_t *c, int enc, uint32_t nv)
{
    cn_buf_reset(&w->body);
    encode_vals(w, c, enc, 0, nv, &w->body);
    return compress_body(w, &w->body, &w->trial);
}

/*
 * Picks the value encoding of a DOUBLE or INT64 chunk from a sample of its
 * first page: BYTE_STREAM_SPLIT or DELTA_BINARY_PACKED, PLAIN, and a
 * dictionary (charged its compressed page pro rata), whichever compresses
 * smallest.  The dictionary covers the whole chunk (its index width and
 * size depend on all of it).  Sets w->ndict when it is chosen.
 */
static int choose_enc(qry_pq_writer_t *w, const qry__pq_col_t *c, uint32_t nv)
{
    w->ndict = 0;
    if (c->type == QRY_PQ_BOOL)
        return PQ_ENC_PLAIN;
    int best = c->type == QRY_PQ_DOUBLE ? PQ_ENC_BYTE_STREAM_SPLIT : PQ_ENC_DELTA_BINARY_PACKED;
    nv = CN_MIN(nv, SAMPLE);
    if (nv < 16)
        return best;
    size_t size = trial(w, c, best, nv), plain = trial(w, c, PQ_ENC_PLAIN, nv);
    if (plain < size) {
        best = PQ_ENC_PLAIN;
        size = plain;
    }
    if (c->is_time || (w->ndict = build_dict(w, c, c->nvals)) == 0)
        return best;
    size_t d = trial(w, c, PQ_ENC_RLE_DICTIONARY, nv);
    d += compress_body(w, &w->dict, &w->trial) * nv / c->nvals;
    if (d < size)
        return PQ_ENC_RLE_DICTIONARY;
    w->ndict = 0;
    return best;
}

/* ------------------------------------------------------------ row groups */

static void chunk_meta(qry__tc_t *t, const qry_pq_writer_t *w, const qry__pq_col_t *c, int enc,
                       uint32_t nrows, const int64_t pos[4])
{
    qry__tc_elem_struct(t);
    qry__tc_i64(t, 2, 0); /* file_offset: no metadata outside the footer */
    qry__tc_struct(t, 3);
    qry__tc_i32(t, 1, qry__pq_physical(c->type));
    bool dict = enc == PQ_ENC_RLE_DICTIONARY;
    qry__tc_list(t, 2, QRY__TC_I32, dict || enc != PQ_ENC_PLAIN ? 3 : 2);
    qry__tc_elem_i32(t, PQ_ENC_PLAIN);
    qry__tc_elem_i32(t, PQ_ENC_RLE);
    if (dict || enc != PQ_ENC_PLAIN)
        qry__tc_elem_i32(t, enc);
    qry__tc_list(t, 3, QRY__TC_BINARY, 1);
    qry__tc_elem_bin(t, c->name, strlen(c->name));
    qry__tc_i32(t, 4, codec_id(w->o.codec));
    qry__tc_i64(t, 5, nrows);
    qry__tc_i64(t, 6, pos[0]);
    qry__tc_i64(t, 7, pos[1]);
    qry__tc_i64(t, 9, pos[2]);
    if (dict)
        qry__tc_i64(t, 11, pos[3]);
    qry__pq_stats(t, c);
    qry__tc_end(t);
    qry__tc_end(t);
}

/* Writes column chunk c of the current row group; its ColumnChunk struct
 * goes to rg->chunks, its sizes into rg. */
static int write_chunk(qry_pq_writer_t *w, const qry__pq_col_t *c, qry__pq_rg_t *rg)
{
    uint32_t nrows = (uint32_t)rg->rows, nv = 0;
    int64_t pos[4] = {0, 0, 0, 0}; /* usize, csize, data page, dict page */
    int enc = PQ_ENC_PLAIN, rc = 0;
    if (c->type == QRY_PQ_STRING) {
        w->ndict = str_dict(w, c);
        enc = w->ndict ? PQ_ENC_RLE_DICTIONARY : PQ_ENC_PLAIN;
    } else {
        page_end(w, c, false, 0, 0, nrows, &nv);
        enc = choose_enc(w, c, nv);
    }
    if (w->ndict) {
        pos[3] = (int64_t)w->off;
        rc = put_page(w, &w->dict, PAGE_DICT, w->ndict, PQ_ENC_PLAIN, &pos[0], &pos[1]);
    }
    pos[2] = (int64_t)w->off;
    for (uint32_t r0 = 0, v0 = 0; r0 < nrows && rc == 0; v0 += nv) {
        uint32_t r1 = page_end(w, c, w->ndict > 0, r0, v0, nrows, &nv);
        page_body(w, c, enc, r0, r1, v0, nv, &w->body);
        rc = put_page(w, &w->body, PAGE_DATA, r1 - r0, enc, &pos[0], &pos[1]);
        r0 = r1;
    }
    if (rc < 0)
        return rc;
    qry__tc_t t;
    qry__tc_init(&t, &rg->chunks);
    chunk_meta(&t, w, c, enc, nrows, pos);
    rg->bytes += pos[0];
    rg->cbytes += pos[1];
    return 0;
}

static void col_reset(qry__pq_col_t *c)
{
    cn_buf_reset(&c->valid);
    cn_buf_reset(&c->vals);
    cn_buf_reset(&c->offs);
    c->nvals = 0;
    qry__pq_stats_reset(c);
}

static int flush_rg(qry_pq_writer_t *w)
{
    if (w->rg_rows == 0)
        return 0;
    if (w->nrgs == w->caprgs) {
        w->caprgs = w->caprgs ? w->caprgs * 2 : 8;
        w->rgs = cn_realloc(w->rgs, w->caprgs * sizeof(*w->rgs));
    }
    qry__pq_rg_t *rg = &w->rgs[w->nrgs++];
    memset(rg, 0, sizeof(*rg));
    cn_buf_init(&rg->chunks);
    rg->rows = w->rg_rows;
    rg->offset = (int64_t)w->off;
    for (size_t i = 0; i < w->ncols; i++) {
        int rc = write_chunk(w, &w->cols[i], rg);
        if (rc < 0)
            return rc;
        col_reset(&w->cols[i]);
    }
    w->rg_rows = 0;
    w->rg_bytes = 0;
    return 0;
}

/* --------------------------------------------------------------- append */

static void add_i64(qry__pq_col_t *c, int64_t v)
{
    cn_buf_put_u64(&c->vals, (uint64_t)v);
    if (!c->has_minmax || v < c->imin)
        c->imin = v;
    if (!c->has_minmax || v > c->imax)
        c->imax = v;
    c->has_minmax = true;
    c->nvals++;
}

static void add_f64(qry__pq_col_t *c, double v)
{
    uint8_t *dst = cn_buf_extend(&c->vals, 8);
    memcpy(dst, &v, 8);
    c->nvals++;
    if (isnan(v)) {
        c->nans++;
        return;
    }
    if (!c->has_minmax || v < c->dmin)
        c->dmin = v;
    if (!c->has_minmax || v > c->dmax)
        c->dmax = v;
    c->has_minmax = true;
}

static void add_bool(qry__pq_col_t *c, uint8_t v)
{
    v = v ? 1 : 0;
    cn_buf_put_u8(&c->vals, v);
    if (!c->has_minmax || v < c->bmin)
        c->bmin = v;
    if (!c->has_minmax || v > c->bmax)
        c->bmax = v;
    c->has_minmax = true;
    c->nvals++;
}

static int str_cmp(const qry__pq_col_t *c, uint32_t a, uint32_t b)
{
    const uint8_t *pa, *pb;
    size_t na, nb;
    qry__pq_str(c, a, &pa, &na);
    qry__pq_str(c, b, &pb, &nb);
    int r = memcmp(pa, pb, CN_MIN(na, nb));
    return r ? r : (na > nb) - (na < nb);
}

static void add_str(qry__pq_col_t *c, eng_str_t s)
{
    cn_buf_put_u64(&c->offs, c->vals.len);
    cn_buf_put(&c->vals, s.p, s.len);
    uint32_t i = c->nvals++;
    /* Tags repeat row after row: the same bytes as the last value cannot
     * move the bounds (one comparison instead of two). */
    if (i > 0 && str_cmp(c, i, i - 1) == 0)
        return;
    if (!c->has_minmax || str_cmp(c, i, c->smin) < 0)
        c->smin = i;
    if (!c->has_minmax || str_cmp(c, i, c->smax) > 0)
        c->smax = i;
    c->has_minmax = true;
}

static void append_col(qry__pq_col_t *c, const void *vals, const uint8_t *valid, uint32_t off,
                       uint32_t n)
{
    for (uint32_t i = off; i < off + n; i++) {
        bool ok = !valid || valid[i];
        if (c->optional)
            cn_buf_put_u8(&c->valid, ok);
        if (!ok) {
            c->nulls++;
            continue;
        }
        switch (c->type) {
        case QRY_PQ_DOUBLE:
            add_f64(c, ((const double *)vals)[i]);
            break;
        case QRY_PQ_INT64:
            add_i64(c, ((const int64_t *)vals)[i]);
            break;
        case QRY_PQ_BOOL:
            add_bool(c, ((const uint8_t *)vals)[i]);
            break;
        default:
            add_str(c, ((const eng_str_t *)vals)[i]);
        }
    }
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static void append_rows(qry_pq_writer_t *w, const qry_pq_batch_t *b, uint32_t off, uint32_t n)
{
    qry__pq_col_t *t = &w->cols[0];
    size_t before = 0, after = 0;
    for (size_t i = 0; i < w->ncols; i++)
        before += w->cols[i].vals.len + w->cols[i].offs.len;
    for (uint32_t i = off; i < off + n; i++) {
        int64_t ns = b->ts[i];
        add_i64(t, w->o.unit == QRY_PQ_MICROS ? floor_div(ns, 1000) : ns);
        if (w->rows == 0 || ns < w->tmin)
            w->tmin = ns;
        if (w->rows == 0 || ns > w->tmax)
            w->tmax = ns;
        w->rows++;
    }
    for (size_t c = 1; c < w->ncols; c++)
        append_col(&w->cols[c], b->vals[c - 1], b->valid ? b->valid[c - 1] : NULL, off, n);
    for (size_t i = 0; i < w->ncols; i++)
        after += w->cols[i].vals.len + w->cols[i].offs.len;
    w->rg_rows += n;
    w->rg_bytes += after - before;
}

static int check_batch(const qry_pq_writer_t *w, const qry_pq_batch_t *b)
{
    if (b->n == 0)
        return 0;
    if (!b->ts || (w->ncols > 1 && !b->vals))
        return CN_EINVAL;
    for (size_t c = 1; c < w->ncols; c++) {
        const uint8_t *valid = b->valid ? b->valid[c - 1] : NULL;
        if (!b->vals[c - 1])
            return CN_EINVAL;
        if (w->cols[c].type == QRY_PQ_STRING) {
            const eng_str_t *s = b->vals[c - 1];
            for (uint32_t i = 0; i < b->n; i++)
                if ((!valid || valid[i]) && s[i].len > QRY_PQ_STR_MAX)
                    return CN_ELIMIT;
        }
        if (w->cols[c].optional || !valid)
            continue;
        for (uint32_t i = 0; i < b->n; i++)
            if (!valid[i])
                return CN_EINVAL;
    }
    return 0;
}

int qry_pq_write(qry_pq_writer_t *w, const qry_pq_batch_t *b)
{
    if (w->failed)
        return CN_ECLOSED;
    int rc = check_batch(w, b);
    if (rc < 0)
        return rc;
    for (uint32_t off = 0; off < b->n;) {
        uint32_t n = CN_MIN(b->n - off, w->o.row_group_rows - w->rg_rows);
        append_rows(w, b, off, n);
        off += n;
        if (w->rg_rows >= w->o.row_group_rows || w->rg_bytes >= w->o.row_group_bytes) {
            rc = flush_rg(w);
            if (rc < 0) {
                w->failed = true;
                return rc;
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------ lifecycle */

static int check_schema(const qry_pq_col_t *cols, size_t ncols, const qry_pq_opts_t *o)
{
    if (!o->time_name || !*o->time_name || o->codec < QRY_PQ_ZSTD || o->codec > QRY_PQ_NONE ||
        (o->unit != QRY_PQ_NANOS && o->unit != QRY_PQ_MICROS) || o->row_group_rows == 0 ||
        o->page_bytes == 0 || o->row_group_bytes == 0)
        return CN_EINVAL;
    for (size_t i = 0; i < ncols; i++) {
        if (!cols[i].name || !*cols[i].name || cols[i].type < QRY_PQ_DOUBLE ||
            cols[i].type > QRY_PQ_STRING || strcmp(cols[i].name, o->time_name) == 0)
            return CN_EINVAL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(cols[i].name, cols[j].name) == 0)
                return CN_EINVAL;
    }
    return 0;
}

static void col_init(qry__pq_col_t *c, const char *name, int type, bool optional)
{
    memset(c, 0, sizeof(*c));
    c->name = cn_strdup(name);
    c->type = type;
    c->optional = optional;
    cn_buf_init(&c->valid);
    cn_buf_init(&c->vals);
    cn_buf_init(&c->offs);
}

static void writer_free(qry_pq_writer_t *w)
{
    for (size_t i = 0; i < w->ncols; i++) {
        cn_free(w->cols[i].name);
        cn_buf_free(&w->cols[i].valid);
        cn_buf_free(&w->cols[i].vals);
        cn_buf_free(&w->cols[i].offs);
    }
    for (size_t i = 0; i < w->nrgs; i++)
        cn_buf_free(&w->rgs[i].chunks);
    for (size_t i = 0; i < w->o.nkv; i++) {
        cn_free((char *)w->kv[i].key);
        cn_free((char *)w->kv[i].val);
    }
    cn_free(w->kv);
    cn_free(w->rgs);
    cn_free(w->cols);
    cn_free(w->idx);
    cn_buf_free(&w->out);
    cn_buf_free(&w->body);
    cn_buf_free(&w->dict);
    cn_buf_free(&w->comp);
    cn_buf_free(&w->hdr);
    cn_buf_free(&w->trial);
    ZSTD_freeCCtx(w->zctx);
    if (w->fd >= 0)
        close(w->fd);
    cn_free(w->path);
    cn_free(w->tmp);
    cn_free(w);
}

/* Everything but the destination. */
static qry_pq_writer_t *writer_new(const qry_pq_col_t *cols, size_t ncols, const qry_pq_opts_t *o)
{
    qry_pq_writer_t *w = cn_calloc(1, sizeof(*w));
    w->fd = -1;
    w->o = *o;
    w->kv = cn_calloc(o->nkv + 1, sizeof(*w->kv));
    for (size_t i = 0; i < o->nkv; i++) {
        w->kv[i].key = cn_strdup(o->kv[i].key ? o->kv[i].key : "");
        w->kv[i].val = cn_strdup(o->kv[i].val ? o->kv[i].val : "");
    }
    w->ncols = ncols + 1;
    w->cols = cn_calloc(w->ncols, sizeof(*w->cols));
    col_init(&w->cols[0], o->time_name, QRY_PQ_INT64, false);
    w->cols[0].is_time = true;
    for (size_t i = 0; i < ncols; i++)
        col_init(&w->cols[i + 1], cols[i].name, cols[i].type, !cols[i].required);
    w->zctx = ZSTD_createCCtx();
    return w;
}

int qry_pq_open(const char *path, const qry_pq_col_t *cols, size_t ncols, const qry_pq_opts_t *opts,
                qry_pq_writer_t **out)
{
    qry_pq_opts_t def;
    qry_pq_opts_default(&def);
    const qry_pq_opts_t *o = opts ? opts : &def;
    if (!path || (ncols && !cols) || check_schema(cols, ncols, o) < 0)
        return CN_EINVAL;
    qry_pq_writer_t *w = writer_new(cols, ncols, o);
    w->path = cn_strdup(path);
    size_t n = strlen(path) + 5;
    w->tmp = cn_malloc(n);
    snprintf(w->tmp, n, "%s.tmp", path);
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        int rc = -errno;
        writer_free(w);
        return rc;
    }
    out_put(w, "PAR1", 4);
    *out = w;
    return 0;
}

int qry_pq_open_sink(const qry_sink_t *sink, const qry_pq_col_t *cols, size_t ncols,
                     const qry_pq_opts_t *opts, qry_pq_writer_t **out)
{
    qry_pq_opts_t def;
    qry_pq_opts_default(&def);
    const qry_pq_opts_t *o = opts ? opts : &def;
    if (!sink || !sink->write || (ncols && !cols) || check_schema(cols, ncols, o) < 0)
        return CN_EINVAL;
    qry_pq_writer_t *w = writer_new(cols, ncols, o);
    w->use_sink = true;
    w->sink = *sink;
    out_put(w, "PAR1", 4);
    *out = w;
    return 0;
}

uint64_t qry_pq_bytes(const qry_pq_writer_t *w)
{
    return w->off;
}

void qry_pq_abort(qry_pq_writer_t *w)
{
    if (!w)
        return;
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    if (w->tmp)
        unlink(w->tmp);
    writer_free(w);
}

static int finish(qry_pq_writer_t *w)
{
    int rc = flush_rg(w);
    if (rc < 0)
        return rc;
    size_t before = w->out.len;
    qry__pq_footer(w);
    w->off += w->out.len - before;
    rc = out_flush(w);
    if (w->use_sink) {
        w->renamed = rc == 0;
        return rc;
    }
    if (rc == 0 && fsync(w->fd) < 0)
        rc = -errno;
    if (rc == 0 && close(w->fd) < 0)
        rc = -errno;
    if (rc == 0)
        w->fd = -1;
    if (rc == 0 && rename(w->tmp, w->path) < 0)
        rc = -errno;
    if (rc < 0)
        return rc;
    w->renamed = true;
    char *dir = cn_strdup(w->path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    rc = cn_fsync_dir(slash ? dir : ".");
    cn_free(dir);
    return rc;
}

int qry_pq_close(qry_pq_writer_t *w, qry_pq_summary_t *sum)
{
    int rc = w->failed ? CN_ECLOSED : finish(w);
    if (rc < 0 && !w->renamed) {
        qry_pq_abort(w);
        return rc;
    }
    if (sum) {
        sum->rows = w->rows;
        sum->bytes = w->off;
        sum->row_groups = (uint32_t)w->nrgs;
        sum->tmin = w->rows ? w->tmin : 0;
        sum->tmax = w->rows ? w->tmax : -1;
    }
    writer_free(w);
    return rc;
}
