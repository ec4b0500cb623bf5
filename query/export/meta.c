/* SPDX-License-Identifier: MIT */
/*
 * meta.c - the Parquet metadata the writer emits in Thrift compact form:
 * column chunk Statistics and the footer (FileMetaData), following
 * parquet.thrift.
 *
 * File layout:
 *   offset 0        "PAR1"
 *   4               row groups: per column chunk [dictionary page]
 *                   data pages, each a PageHeader then its (compressed) body
 *   F               FileMetaData (Thrift compact)
 *   end - 8         u32 LE length of FileMetaData
 *   end - 4         "PAR1"
 *
 * FileMetaData fields written: 1 version (1), 2 schema (a root group named
 * "schema" then one leaf per column, depth-first), 3 num_rows, 4 row_groups,
 * 5 key_value_metadata, 6 created_by ("cairn version X"), 7 column_orders
 * (TYPE_ORDER for every column, so readers trust min_value/max_value).
 *
 * Statistics rules (parquet.thrift, ColumnOrder):
 *  - null_count is always written.
 *  - INT64 and DOUBLE (signed orders) get both the legacy min/max and
 *    min_value/max_value; BOOLEAN (false < true) and STRING (unsigned
 *    byte-wise) only min_value/max_value, since the legacy fields were
 *    signed-order only.
 *  - DOUBLE: nan_count is always written; NaN never becomes min or max; a
 *    column of NaNs and nulls has no min/max; a zero min is written -0.0 and
 *    a zero max +0.0.
 *  - STRING bounds longer than 64 bytes are cut at a UTF-8 boundary: the
 *    min to a prefix, the max to a prefix whose last ASCII byte below 0x7F
 *    is incremented (dropped if there is none), flagged inexact.
 */
#include "pq_writer.h"

#include <stdio.h>

#define STAT_MAX 64

enum { PQ_REQUIRED = 0, PQ_OPTIONAL = 1 };

void qry__pq_str(const qry__pq_col_t *c, uint32_t i, const uint8_t **p, size_t *n)
{
    const uint64_t *offs = (const uint64_t *)c->offs.p;
    uint64_t end = i + 1 < c->nvals ? offs[i + 1] : c->vals.len;
    *p = c->vals.p + offs[i];
    *n = (size_t)(end - offs[i]);
}

void qry__pq_stats_reset(qry__pq_col_t *c)
{
    c->nulls = c->nans = 0;
    c->has_minmax = false;
}

static size_t utf8_cut(const uint8_t *p, size_t n)
{
    while (n > 0 && (p[n] & 0xC0) == 0x80)
        n--;
    return n;
}

static void stats_str(qry__tc_t *t, const qry__pq_col_t *c)
{
    const uint8_t *mn, *mx;
    size_t nmn, nmx;
    qry__pq_str(c, c->smin, &mn, &nmn);
    qry__pq_str(c, c->smax, &mx, &nmx);
    bool mx_exact = nmx <= STAT_MAX, mn_exact = nmn <= STAT_MAX;
    uint8_t up[STAT_MAX];
    if (!mx_exact) {
        size_t k = utf8_cut(mx, STAT_MAX);
        while (k > 0 && mx[k - 1] >= 0x7F)
            k--;
        memcpy(up, mx, k);
        if (k > 0)
            up[k - 1]++;
        mx = up;
        nmx = k;
    }
    if (!mn_exact)
        nmn = utf8_cut(mn, STAT_MAX);
    if (mx_exact || nmx > 0)
        qry__tc_bin(t, 5, mx, nmx);
    qry__tc_bin(t, 6, mn, nmn);
    if (mx_exact || nmx > 0)
        qry__tc_bool(t, 7, mx_exact);
    qry__tc_bool(t, 8, mn_exact);
}

void qry__pq_stats(qry__tc_t *t, const qry__pq_col_t *c)
{
    uint8_t mn[8], mx[8];
    qry__tc_struct(t, 12);
    if (c->has_minmax && (c->type == QRY_PQ_INT64 || c->type == QRY_PQ_DOUBLE)) {
        if (c->type == QRY_PQ_INT64) {
            cn_st64(mn, (uint64_t)c->imin);
            cn_st64(mx, (uint64_t)c->imax);
        } else {
            double dmn = c->dmin == 0 ? -0.0 : c->dmin, dmx = c->dmax == 0 ? 0.0 : c->dmax;
            memcpy(mn, &dmn, 8);
            memcpy(mx, &dmx, 8);
        }
        qry__tc_bin(t, 1, mx, 8);
        qry__tc_bin(t, 2, mn, 8);
    }
    qry__tc_i64(t, 3, (int64_t)c->nulls);
    if (c->has_minmax && c->type == QRY_PQ_STRING) {
        stats_str(t, c);
    } else if (c->has_minmax) {
        if (c->type == QRY_PQ_BOOL) {
            mn[0] = c->bmin;
            mx[0] = c->bmax;
        }
        size_t n = c->type == QRY_PQ_BOOL ? 1 : 8;
        qry__tc_bin(t, 5, mx, n);
        qry__tc_bin(t, 6, mn, n);
        qry__tc_bool(t, 7, true);
        qry__tc_bool(t, 8, true);
    }
    if (c->type == QRY_PQ_DOUBLE)
        qry__tc_i64(t, 9, (int64_t)c->nans);
    qry__tc_end(t);
}

static void schema_leaf(qry__tc_t *t, const qry_pq_writer_t *w, const qry__pq_col_t *c)
{
    qry__tc_elem_struct(t);
    qry__tc_i32(t, 1, qry__pq_physical(c->type));
    qry__tc_i32(t, 3, c->optional ? PQ_OPTIONAL : PQ_REQUIRED);
    qry__tc_str(t, 4, c->name);
    if (c->is_time) {
        /* TIMESTAMP_MICROS is the legacy annotation for UTC micros; there is
         * none for nanos, which old readers then see as a plain INT64. */
        if (w->o.unit == QRY_PQ_MICROS)
            qry__tc_i32(t, 6, 10);
        qry__tc_struct(t, 10);    /* LogicalType */
        qry__tc_struct(t, 8);     /* TIMESTAMP */
        qry__tc_bool(t, 1, true); /* isAdjustedToUTC */
        qry__tc_struct(t, 2);     /* unit */
        qry__tc_struct(t, w->o.unit == QRY_PQ_MICROS ? 2 : 3);
        qry__tc_end(t);
        qry__tc_end(t);
        qry__tc_end(t);
        qry__tc_end(t);
    } else if (c->type == QRY_PQ_STRING) {
        qry__tc_i32(t, 6, 0); /* UTF8 */
        qry__tc_struct(t, 10);
        qry__tc_struct(t, 1); /* STRING */
        qry__tc_end(t);
        qry__tc_end(t);
    }
    qry__tc_end(t);
}

static void put_kv(qry__tc_t *t, const char *k, const char *v)
{
    qry__tc_elem_struct(t);
    qry__tc_str(t, 1, k);
    qry__tc_str(t, 2, v);
    qry__tc_end(t);
}

static void footer_kv(qry__tc_t *t, const qry_pq_writer_t *w)
{
    char tmin[24], tmax[24];
    bool range = w->rows > 0;
    qry__tc_list(t, 5, QRY__TC_STRUCT, w->o.nkv + 1 + (range ? 2 : 0));
    put_kv(t, "cairn.version", CAIRN_VERSION);
    if (range) {
        snprintf(tmin, sizeof(tmin), "%lld", (long long)w->tmin);
        snprintf(tmax, sizeof(tmax), "%lld", (long long)w->tmax);
        put_kv(t, "cairn.time_min_ns", tmin);
        put_kv(t, "cairn.time_max_ns", tmax);
    }
    for (size_t i = 0; i < w->o.nkv; i++)
        put_kv(t, w->kv[i].key, w->kv[i].val);
}

static void footer_rgs(qry__tc_t *t, const qry_pq_writer_t *w)
{
    qry__tc_list(t, 4, QRY__TC_STRUCT, w->nrgs);
    for (size_t i = 0; i < w->nrgs; i++) {
        const qry__pq_rg_t *rg = &w->rgs[i];
        qry__tc_elem_struct(t);
        /* ColumnChunk structs were serialized when the row group was
         * written; list elements start a fresh field-id context, so they
         * splice in verbatim. */
        qry__tc_list(t, 1, QRY__TC_STRUCT, w->ncols);
        cn_buf_put(t->b, rg->chunks.p, rg->chunks.len);
        qry__tc_i64(t, 2, rg->bytes);
        qry__tc_i64(t, 3, rg->rows);
        qry__tc_i64(t, 5, rg->offset);
        qry__tc_i64(t, 6, rg->cbytes);
        qry__tc_field(t, 7, QRY__TC_I16);
        cn_buf_put_svarint(t->b, (int64_t)i);
        qry__tc_end(t);
    }
}

void qry__pq_footer(qry_pq_writer_t *w)
{
    size_t start = w->out.len;
    qry__tc_t t;
    qry__tc_init(&t, &w->out);
    qry__tc_i32(&t, 1, 1);
    qry__tc_list(&t, 2, QRY__TC_STRUCT, w->ncols + 1);
    qry__tc_elem_struct(&t);
    qry__tc_str(&t, 4, "schema");
    qry__tc_i32(&t, 5, (int32_t)w->ncols);
    qry__tc_end(&t);
    for (size_t i = 0; i < w->ncols; i++)
        schema_leaf(&t, w, &w->cols[i]);
    qry__tc_i64(&t, 3, (int64_t)w->rows);
    footer_rgs(&t, w);
    footer_kv(&t, w);
    qry__tc_str(&t, 6, "cairn version " CAIRN_VERSION);
    qry__tc_list(&t, 7, QRY__TC_STRUCT, w->ncols);
    for (size_t i = 0; i < w->ncols; i++) {
        qry__tc_elem_struct(&t);
        qry__tc_struct(&t, 1); /* TYPE_ORDER */
        qry__tc_end(&t);
        qry__tc_end(&t);
    }
    qry__tc_end(&t);
    cn_buf_put_u32(&w->out, (uint32_t)(w->out.len - start));
    cn_buf_put(&w->out, "PAR1", 4);
}
