/* SPDX-License-Identifier: MIT */
/*
 * memtable.c - recent writes held in memory, per series, column-oriented,
 * in arrival order; and the row-set helpers (sort/merge/clip/delete) that
 * flush and the read path share.
 *
 * NOTES
 * 1. A memtable only grows: rows are appended, never changed or removed.
 *    Deletes are tombstones applied when rows are read or flushed, so a
 *    reader holding a reference sees a stable prefix filtered by seq.
 * 2. A series' rows are stored row-major in one buffer (format below); the
 *    row-set type (eng__rows_t) is the column-major form they become.
 * 3. String bytes live in the arena (chunks never move or shrink) until the
 *    memtable is freed.
 * 4. Writers hold the engine write mutex and this memtable's lock for
 *    writing between eng__mt_begin and eng__mt_end; readers take it for
 *    reading while copying rows out.
 */
#include "memtable.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdlib.h>

size_t eng__type_size(eng_type_t t)
{
    switch (t) {
    case ENG_T_FLOAT:
        return sizeof(double);
    case ENG_T_INT:
        return sizeof(int64_t);
    case ENG_T_BOOL:
        return 1;
    case ENG_T_STRING:
        return sizeof(eng_str_t);
    default:
        return 8;
    }
}

/* ------------------------------------------------------------- rows */

void eng__rows_init(eng__rows_t *r, uint32_t ncols, const uint32_t *fids, const uint8_t *types)
{
    memset(r, 0, sizeof *r);
    r->ncols = ncols;
    r->fids = cn_malloc((ncols ? ncols : 1) * sizeof(uint32_t));
    r->types = cn_malloc(ncols ? ncols : 1);
    r->vals = cn_calloc(ncols ? ncols : 1, sizeof(void *));
    r->valid = cn_calloc(ncols ? ncols : 1, sizeof(uint8_t *));
    if (ncols) {
        memcpy(r->fids, fids, ncols * sizeof(uint32_t));
        memcpy(r->types, types, ncols);
    }
}

void eng__rows_free(eng__rows_t *r)
{
    for (uint32_t c = 0; c < r->ncols; c++) {
        cn_free(r->vals[c]);
        cn_free(r->valid[c]);
    }
    cn_free(r->vals);
    cn_free(r->valid);
    cn_free(r->fids);
    cn_free(r->types);
    cn_free(r->ts);
    cn_free(r->seq);
    memset(r, 0, sizeof *r);
}

void eng__rows_reset(eng__rows_t *r)
{
    r->n = 0;
}

void eng__rows_reserve(eng__rows_t *r, uint32_t extra)
{
    if (r->cap - r->n >= extra)
        return;
    uint32_t cap = r->cap ? r->cap : 64;
    while (cap - r->n < extra)
        cap *= 2;
    r->ts = cn_realloc(r->ts, cap * sizeof(int64_t));
    r->seq = cn_realloc(r->seq, cap * sizeof(uint64_t));
    for (uint32_t c = 0; c < r->ncols; c++) {
        r->vals[c] = cn_realloc(r->vals[c], cap * eng__type_size(r->types[c]));
        r->valid[c] = cn_realloc(r->valid[c], cap);
    }
    r->cap = cap;
}

typedef struct {
    int64_t ts;
    uint64_t seq;
    uint32_t pos;
} sortkey_t;

static int sortkey_cmp(const void *a, const void *b)
{
    const sortkey_t *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static bool is_sorted_unique(const eng__rows_t *r)
{
    for (uint32_t i = 1; i < r->n; i++)
        if (r->ts[i] <= r->ts[i - 1])
            return false;
    return true;
}

void eng__rows_sort_merge(eng__rows_t *r)
{
    if (r->n < 2 || is_sorted_unique(r))
        return;
    uint32_t n = r->n;
    sortkey_t *k = cn_malloc(n * sizeof *k);
    for (uint32_t i = 0; i < n; i++) {
        k[i].ts = r->ts[i];
        k[i].seq = r->seq[i];
        k[i].pos = i;
    }
    qsort(k, n, sizeof *k, sortkey_cmp);
    /* Output row for each distinct ts; per column the last valid wins. */
    int64_t *nts = cn_malloc(n * sizeof(int64_t));
    uint64_t *nseq = cn_malloc(n * sizeof(uint64_t));
    uint32_t out = 0;
    uint32_t *grp = cn_malloc(n * sizeof(uint32_t)); /* output index per sorted row */
    for (uint32_t i = 0; i < n; i++) {
        if (i == 0 || k[i].ts != k[i - 1].ts) {
            nts[out] = k[i].ts;
            nseq[out] = k[i].seq;
            out++;
        } else if (k[i].seq > nseq[out - 1]) {
            nseq[out - 1] = k[i].seq;
        }
        grp[i] = out - 1;
    }
    for (uint32_t c = 0; c < r->ncols; c++) {
        size_t sz = eng__type_size(r->types[c]);
        uint8_t *nv = cn_malloc((size_t)r->cap * sz);
        uint8_t *nval = cn_calloc(r->cap ? r->cap : 1, 1);
        const uint8_t *ov = r->vals[c], *ovalid = r->valid[c];
        for (uint32_t i = 0; i < n; i++) {
            uint32_t src = k[i].pos;
            if (!ovalid[src])
                continue;
            memcpy(nv + (size_t)grp[i] * sz, ov + (size_t)src * sz, sz);
            nval[grp[i]] = 1;
        }
        cn_free(r->vals[c]);
        cn_free(r->valid[c]);
        r->vals[c] = nv;
        r->valid[c] = nval;
    }
    memcpy(r->ts, nts, out * sizeof(int64_t));
    memcpy(r->seq, nseq, out * sizeof(uint64_t));
    r->n = out;
    cn_free(nts);
    cn_free(nseq);
    cn_free(grp);
    cn_free(k);
}

/* Keeps rows for which keep[i] is set, in order. */
static void rows_compact(eng__rows_t *r, const uint8_t *keep)
{
    uint32_t o = 0;
    for (uint32_t i = 0; i < r->n; i++) {
        if (!keep[i])
            continue;
        if (o != i) {
            r->ts[o] = r->ts[i];
            r->seq[o] = r->seq[i];
            for (uint32_t c = 0; c < r->ncols; c++) {
                size_t sz = eng__type_size(r->types[c]);
                memcpy((uint8_t *)r->vals[c] + o * sz, (uint8_t *)r->vals[c] + i * sz, sz);
                r->valid[c][o] = r->valid[c][i];
            }
        }
        o++;
    }
    r->n = o;
}

void eng__rows_clip(eng__rows_t *r, int64_t tmin, int64_t tmax)
{
    bool all = true;
    for (uint32_t i = 0; i < r->n && all; i++)
        all = r->ts[i] >= tmin && r->ts[i] < tmax;
    if (all)
        return;
    uint8_t *keep = cn_malloc(r->n ? r->n : 1);
    for (uint32_t i = 0; i < r->n; i++)
        keep[i] = r->ts[i] >= tmin && r->ts[i] < tmax;
    rows_compact(r, keep);
    cn_free(keep);
}

void eng__rows_delete(eng__rows_t *r, int64_t tmin, int64_t tmax, uint64_t tseq)
{
    bool any = false;
    for (uint32_t i = 0; i < r->n && !any; i++)
        any = r->seq[i] < tseq && r->ts[i] >= tmin && r->ts[i] < tmax;
    if (!any)
        return;
    uint8_t *keep = cn_malloc(r->n);
    for (uint32_t i = 0; i < r->n; i++)
        keep[i] = !(r->seq[i] < tseq && r->ts[i] >= tmin && r->ts[i] < tmax);
    rows_compact(r, keep);
    cn_free(keep);
}

void eng__rows_append(eng__rows_t *dst, const eng__rows_t *src, uint32_t from, uint32_t cnt)
{
    if (cnt == 0)
        return;
    eng__rows_reserve(dst, cnt);
    memcpy(dst->ts + dst->n, src->ts + from, cnt * sizeof(int64_t));
    memcpy(dst->seq + dst->n, src->seq + from, cnt * sizeof(uint64_t));
    for (uint32_t c = 0; c < dst->ncols; c++) {
        size_t sz = eng__type_size(dst->types[c]);
        uint32_t sc = 0;
        while (sc < src->ncols && src->fids[sc] != dst->fids[c])
            sc++;
        if (sc == src->ncols || src->types[sc] != dst->types[c]) {
            memset(dst->valid[c] + dst->n, 0, cnt);
            continue;
        }
        memcpy((uint8_t *)dst->vals[c] + (size_t)dst->n * sz,
               (const uint8_t *)src->vals[sc] + (size_t)from * sz, (size_t)cnt * sz);
        memcpy(dst->valid[c] + dst->n, src->valid[sc] + from, cnt);
    }
    dst->n += cnt;
}

/* ---------------------------------------------------------- memtable */

/*
 * Each series keeps its rows row-major in one growable buffer, so writing a
 * row touches one or two cache lines however many fields it has (the
 * column-per-field layout this replaced touched ~2 lines per field and was
 * cache-miss bound: 1.7 us per 10-field row with 1000 series in flight).
 * Rows are turned into columns when they are extracted (reads, flush).
 *
 *   row:   i64 ts | u64 seq | u32 nfields | nfields x field
 *   field: u32 fid | u8 type | value: float/int 8 bytes, bool 1 byte,
 *          string 16 bytes (an eng_str_t into the arena)
 */
typedef struct mt_series {
    uint64_t sid;
    uint8_t *buf;
    size_t len, cap;
    uint32_t nrows;
    int64_t tmin, tmax;
    size_t row_off;   /* offset of the row being written */
    uint32_t nfields; /* distinct (fid, type) pairs seen */
    uint32_t capfields;
    uint32_t *fids;
    uint8_t *ftypes;
} mt_series_t;

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    uint8_t data[];
} arena_chunk_t;

struct eng__mt {
    _Atomic int refs;
    pthread_rwlock_t lock;
    mt_series_t **by_sid;
    uint64_t cap_sid;
    uint64_t *sids;
    uint64_t nsids, cap_sids;
    _Atomic size_t bytes; /* read without the lock by stats and flush triggers */
    uint64_t rows;
    arena_chunk_t *arena;
    mt_series_t *cur; /* series of the row being written */
};

eng__mt_t *eng__mt_new(void)
{
    eng__mt_t *mt = cn_calloc(1, sizeof *mt);
    atomic_init(&mt->refs, 1);
    pthread_rwlock_init(&mt->lock, NULL);
    return mt;
}

void eng__mt_ref(eng__mt_t *mt)
{
    atomic_fetch_add(&mt->refs, 1);
}

void eng__mt_unref(eng__mt_t *mt)
{
    if (!mt || atomic_fetch_sub(&mt->refs, 1) != 1)
        return;
    for (uint64_t i = 0; i < mt->nsids; i++) {
        mt_series_t *s = mt->by_sid[mt->sids[i]];
        cn_free(s->buf);
        cn_free(s->fids);
        cn_free(s->ftypes);
        cn_free(s);
    }
    cn_free(mt->by_sid);
    cn_free(mt->sids);
    while (mt->arena) {
        arena_chunk_t *n = mt->arena->next;
        cn_free(mt->arena);
        mt->arena = n;
    }
    pthread_rwlock_destroy(&mt->lock);
    cn_free(mt);
}

void eng__mt_begin(eng__mt_t *mt)
{
    pthread_rwlock_wrlock(&mt->lock);
}

void eng__mt_end(eng__mt_t *mt)
{
    mt->cur = NULL;
    pthread_rwlock_unlock(&mt->lock);
}

static mt_series_t *mt_series(eng__mt_t *mt, uint64_t sid)
{
    if (sid >= mt->cap_sid) {
        uint64_t ncap = CN_MAX(sid + 1024, mt->cap_sid * 2);
        mt->by_sid = cn_realloc(mt->by_sid, ncap * sizeof *mt->by_sid);
        memset(mt->by_sid + mt->cap_sid, 0, (ncap - mt->cap_sid) * sizeof *mt->by_sid);
        mt->bytes += (ncap - mt->cap_sid) * sizeof *mt->by_sid;
        mt->cap_sid = ncap;
    }
    mt_series_t *s = mt->by_sid[sid];
    if (s)
        return s;
    s = cn_calloc(1, sizeof *s);
    s->sid = sid;
    s->tmin = INT64_MAX;
    s->tmax = INT64_MIN;
    mt->by_sid[sid] = s;
    if (mt->nsids == mt->cap_sids) {
        mt->cap_sids = mt->cap_sids ? mt->cap_sids * 2 : 1024;
        mt->sids = cn_realloc(mt->sids, mt->cap_sids * sizeof(uint64_t));
        mt->bytes += mt->cap_sids / 2 * sizeof(uint64_t);
    }
    mt->sids[mt->nsids++] = sid;
    mt->bytes += sizeof *s + 32;
    return s;
}

/* Makes room for n more bytes in s->buf. */
static inline uint8_t *series_room(eng__mt_t *mt, mt_series_t *s, size_t n)
{
    if (s->cap - s->len < n) {
        size_t ncap = s->cap ? s->cap * 2 : 256;
        while (ncap - s->len < n)
            ncap *= 2;
        s->buf = cn_realloc(s->buf, ncap);
        mt->bytes += ncap - s->cap;
        s->cap = ncap;
    }
    return s->buf + s->len;
}

void eng__mt_row(eng__mt_t *mt, uint64_t sid, int64_t ts, uint64_t seq)
{
    mt_series_t *s = mt_series(mt, sid);
    uint8_t *p = series_room(mt, s, 20);
    memcpy(p, &ts, 8);
    memcpy(p + 8, &seq, 8);
    memset(p + 16, 0, 4);
    s->row_off = s->len;
    s->len += 20;
    s->nrows++;
    if (ts < s->tmin)
        s->tmin = ts;
    if (ts > s->tmax)
        s->tmax = ts;
    mt->rows++;
    mt->cur = s;
}

static const char *arena_copy(eng__mt_t *mt, const char *p, uint32_t len)
{
    if (len == 0)
        return "";
    arena_chunk_t *a = mt->arena;
    if (!a || a->cap - a->used < len) {
        size_t cap = CN_MAX((size_t)len, (size_t)65536);
        a = cn_malloc(sizeof *a + cap);
        a->cap = cap;
        a->used = 0;
        a->next = mt->arena;
        mt->arena = a;
        mt->bytes += cap;
    }
    char *d = (char *)a->data + a->used;
    memcpy(d, p, len);
    a->used += len;
    return d;
}

/* Records (fid, t) in the series' field set (usually already there). */
static void note_field(mt_series_t *s, uint32_t fid, eng_type_t t)
{
    for (uint32_t i = 0; i < s->nfields; i++)
        if (s->fids[i] == fid && s->ftypes[i] == t)
            return;
    if (s->nfields == s->capfields) {
        s->capfields = s->capfields ? s->capfields * 2 : 16;
        s->fids = cn_realloc(s->fids, s->capfields * sizeof *s->fids);
        s->ftypes = cn_realloc(s->ftypes, s->capfields);
    }
    s->fids[s->nfields] = fid;
    s->ftypes[s->nfields++] = (uint8_t)t;
}

void eng__mt_set(eng__mt_t *mt, uint32_t fid, eng_type_t t, const eng_value_t *v)
{
    mt_series_t *s = mt->cur;
    assert(s);
    size_t vs = eng__type_size(t);
    uint8_t *p = series_room(mt, s, 5 + vs);
    memcpy(p, &fid, 4);
    p[4] = (uint8_t)t;
    switch (t) {
    case ENG_T_FLOAT:
    case ENG_T_INT:
        memcpy(p + 5, v, 8);
        break;
    case ENG_T_BOOL:
        p[5] = v->b ? 1 : 0;
        break;
    case ENG_T_STRING: {
        eng_str_t str = {arena_copy(mt, v->s.p, v->s.len), v->s.len};
        memcpy(p + 5, &str, sizeof str);
        break;
    }
    default:
        return;
    }
    s->len += 5 + vs;
    uint32_t nf;
    memcpy(&nf, s->buf + s->row_off + 16, 4);
    nf++;
    memcpy(s->buf + s->row_off + 16, &nf, 4);
    /* The field set check is a short scan over a handful of fields; rows of
     * one series repeat the same fields, so the first entries hit. */
    if (nf > s->nfields || s->fids[nf - 1] != fid || s->ftypes[nf - 1] != t)
        note_field(s, fid, t);
}

void eng__mt_put(eng__mt_t *mt, uint64_t sid, int64_t ts, uint64_t seq, uint32_t nf,
                 const uint32_t *fids, const uint8_t *types, const eng_value_t *vals)
{
    mt_series_t *s = mt_series(mt, sid);
    size_t need = 20;
    for (uint32_t f = 0; f < nf; f++)
        need += 5 + eng__type_size(types[f]);
    uint8_t *p = series_room(mt, s, need);
    memcpy(p, &ts, 8);
    memcpy(p + 8, &seq, 8);
    memcpy(p + 16, &nf, 4);
    p += 20;
    for (uint32_t f = 0; f < nf; f++) {
        memcpy(p, &fids[f], 4);
        p[4] = types[f];
        switch (types[f]) {
        case ENG_T_BOOL:
            p[5] = vals[f].b ? 1 : 0;
            p += 6;
            break;
        case ENG_T_STRING: {
            eng_str_t str = {arena_copy(mt, vals[f].s.p, vals[f].s.len), vals[f].s.len};
            memcpy(p + 5, &str, sizeof str);
            p += 5 + sizeof str;
            break;
        }
        default:
            memcpy(p + 5, &vals[f], 8);
            p += 13;
            break;
        }
    }
    s->len += need;
    s->nrows++;
    if (ts < s->tmin)
        s->tmin = ts;
    if (ts > s->tmax)
        s->tmax = ts;
    mt->rows++;
    /* Rows of a series nearly always repeat the same fields in the same
     * order: compare with the known set before the per-field check. */
    if (nf > s->nfields || memcmp(s->fids, fids, nf * sizeof *fids) != 0 ||
        memcmp(s->ftypes, types, nf) != 0)
        for (uint32_t f = 0; f < nf; f++)
            note_field(s, fids[f], (eng_type_t)types[f]);
}

size_t eng__mt_bytes(eng__mt_t *mt)
{
    return mt->bytes;
}

uint64_t eng__mt_rows(eng__mt_t *mt)
{
    return mt->rows;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

size_t eng__mt_sids(eng__mt_t *mt, uint64_t **sids)
{
    pthread_rwlock_rdlock(&mt->lock);
    size_t n = mt->nsids;
    *sids = cn_malloc((n ? n : 1) * sizeof(uint64_t));
    if (n)
        memcpy(*sids, mt->sids, n * sizeof(uint64_t));
    pthread_rwlock_unlock(&mt->lock);
    if (n > 1)
        qsort(*sids, n, sizeof(uint64_t), u64_cmp);
    return n;
}

bool eng__mt_bounds(eng__mt_t *mt, uint64_t sid, int64_t *tmin, int64_t *tmax)
{
    pthread_rwlock_rdlock(&mt->lock);
    mt_series_t *s = sid < mt->cap_sid ? mt->by_sid[sid] : NULL;
    bool ok = s && s->nrows > 0;
    if (ok) {
        *tmin = s->tmin;
        *tmax = s->tmax;
    }
    pthread_rwlock_unlock(&mt->lock);
    return ok;
}

uint32_t eng__mt_fields(eng__mt_t *mt, uint64_t sid, uint32_t **fids, uint8_t **types)
{
    pthread_rwlock_rdlock(&mt->lock);
    mt_series_t *s = sid < mt->cap_sid ? mt->by_sid[sid] : NULL;
    uint32_t n = s ? s->nfields : 0;
    *fids = cn_malloc((n ? n : 1) * sizeof(uint32_t));
    *types = cn_malloc(n ? n : 1);
    if (n) {
        memcpy(*fids, s->fids, n * sizeof(uint32_t));
        memcpy(*types, s->ftypes, n);
    }
    pthread_rwlock_unlock(&mt->lock);
    return n;
}

/* Output column of (fid, t), starting the search at hint; -1 if none. */
static inline int out_col(const eng__rows_t *out, uint32_t fid, uint8_t t, uint32_t hint)
{
    uint32_t nc = out->ncols;
    for (uint32_t k = 0; k < nc; k++) {
        uint32_t c = hint + k < nc ? hint + k : hint + k - nc;
        if (out->fids[c] == fid && out->types[c] == t)
            return (int)c;
    }
    return -1;
}

void eng__mt_extract(eng__mt_t *mt, uint64_t sid, int64_t tmin, int64_t tmax, uint64_t max_seq,
                     eng__rows_t *out)
{
    pthread_rwlock_rdlock(&mt->lock);
    mt_series_t *s = sid < mt->cap_sid ? mt->by_sid[sid] : NULL;
    if (!s || s->nrows == 0 || s->tmax < tmin || s->tmin >= tmax) {
        pthread_rwlock_unlock(&mt->lock);
        return;
    }
    eng__rows_reserve(out, s->nrows);
    const uint8_t *p = s->buf, *end = s->buf + s->len;
    while (p < end) {
        int64_t ts;
        uint64_t seq;
        uint32_t nf;
        memcpy(&ts, p, 8);
        memcpy(&seq, p + 8, 8);
        memcpy(&nf, p + 16, 4);
        p += 20;
        bool take = ts >= tmin && ts < tmax && seq <= max_seq;
        uint32_t o = out->n;
        if (take) {
            out->ts[o] = ts;
            out->seq[o] = seq;
            for (uint32_t c = 0; c < out->ncols; c++)
                out->valid[c][o] = 0;
            out->n++;
        }
        for (uint32_t f = 0; f < nf; f++) {
            uint32_t fid;
            memcpy(&fid, p, 4);
            uint8_t t = p[4];
            size_t vs = eng__type_size(t);
            if (take) {
                int c = out_col(out, fid, t, f < out->ncols ? f : 0);
                if (c >= 0) {
                    memcpy((uint8_t *)out->vals[c] + (size_t)o * vs, p + 5, vs);
                    out->valid[c][o] = 1;
                }
            }
            p += 5 + vs;
        }
    }
    pthread_rwlock_unlock(&mt->lock);
}
