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
 *    reading while copying rows or chunk descriptions out.  A sealed
 *    chunk's stats arrays never change and live as long as the memtable.
 * 5. Writes go row-major (one or two cache lines a row); a sealed chunk
 *    whose rows all hold the series' field set is laid out column-major
 *    in its own bytes when it is sealed (chunk_columns), so a read of one
 *    field touches 16 + 8 bytes a row instead of the whole 100-byte row,
 *    and a time range is found by binary search.  Measured on freshly
 *    loaded 'medium' (servers side by side, settled): CPU per query of
 *    bench/run query's Q3 (max per device, 1000 series) 26-28 -> 17-18 ms,
 *    wall p50 17-20 -> 13-14 ms; Q2 about the same (it reads 360 rows);
 *    loading 'medium' 3.8-3.9 s before and 3.7-4.2 s after.
 * 6. Two writers a little apart leave chunks whose time spans overlap
 *    (the later writer's rows land in the next chunk), though no two rows
 *    share a timestamp.  A reader must assume a later row may overwrite an
 *    earlier one wherever spans meet, which made a max() per series load
 *    and merge every chunk whose stats could matter together with all its
 *    neighbours.  So a sealed column-major chunk records whether any of
 *    its timestamps occurs in an earlier chunk of the series (ts_new,
 *    chunk_ts_new: a merge of the ascending time columns of the earlier
 *    chunks that reach into its span, at most CHUNK_TS_LOOKBACK of them,
 *    found backwards through hi_before), and eng__mt_chunks passes it on
 *    (engine/read.c, may_overwrite).
 */
#include "memtable.h"

#include <assert.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>

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

void eng__rows_stats(const eng__rows_t *r, uint32_t c, uint32_t from, uint32_t n, eng_stat_t *st)
{
    memset(st, 0, sizeof *st);
    const uint8_t *valid = r->valid[c];
    bool first = true;
    for (uint32_t i = from; i < from + n; i++) {
        if (!valid[i])
            continue;
        eng_value_t v;
        switch (r->types[c]) {
        case ENG_T_FLOAT:
            v.f = ((const double *)r->vals[c])[i];
            break;
        case ENG_T_INT:
            v.i = ((const int64_t *)r->vals[c])[i];
            break;
        case ENG_T_BOOL:
            v.i = ((const uint8_t *)r->vals[c])[i];
            break;
        default:
            v.s = ((const eng_str_t *)r->vals[c])[i];
            break;
        }
        if (first) {
            st->first = st->min = st->max = v;
            st->first_ts = r->ts[i];
            first = false;
        }
        st->last = v;
        st->last_ts = r->ts[i];
        st->count++;
        if (r->types[c] == ENG_T_FLOAT) {
            /* NaN never becomes min or max; comparisons with NaN are false. */
            if (v.f < st->min.f || isnan(st->min.f))
                st->min.f = v.f;
            if (v.f > st->max.f || isnan(st->max.f))
                st->max.f = v.f;
            st->sum_f += v.f;
        } else if (r->types[c] != ENG_T_STRING) {
            if (v.i < st->min.i)
                st->min.i = v.i;
            if (v.i > st->max.i)
                st->max.i = v.i;
            int64_t s;
            if (__builtin_add_overflow(st->sum_i, v.i, &s))
                st->sum_overflow = true;
            st->sum_i = s;
        }
    }
    st->tmin = r->ts[from];
    st->tmax = r->ts[from + n - 1];
}

typedef struct {
    int64_t ts;
    uint64_t seq;
    uint32_t pos;
} sortkey_t;

static inline bool sortkey_lt(const sortkey_t *x, const sortkey_t *y)
{
    if (x->ts != y->ts)
        return x->ts < y->ts;
    if (x->seq != y->seq)
        return x->seq < y->seq;
    return x->pos < y->pos;
}


/*
 * Sorts k[0..n) by (ts, seq, pos) with a natural merge sort: the ascending
 * runs already there are merged pairwise, so the cost is n x log2(runs).
 * Row sets are a few sorted runs laid end to end (stored blocks, sealed
 * memtable chunks, each in time order) plus rows that came late: before,
 * an insertion sort gave up on chunks from two skewed writers that
 * interleave over their whole span and qsort() sorted from scratch
 * (9 % of a one-device 1-minute-means query over the memtable).
 */
static void sortkeys(sortkey_t *k, uint32_t n)
{
    uint32_t *run = cn_malloc((n + 1) * sizeof *run); /* run starts, then n */
    uint32_t nr = 0;
    run[nr++] = 0;
    for (uint32_t i = 1; i < n; i++)
        if (sortkey_lt(&k[i], &k[i - 1]))
            run[nr++] = i;
    if (nr == 1) {
        cn_free(run);
        return;
    }
    run[nr] = n;
    sortkey_t *tmp = cn_malloc(n * sizeof *tmp);
    sortkey_t *src = k, *dst = tmp;
    while (nr > 1) {
        uint32_t w = 0;
        for (uint32_t r = 0; r < nr; r += 2) {
            uint32_t a = run[r], m = run[r + 1], b = r + 2 <= nr ? run[r + 2] : m;
            uint32_t i = a, j = m, o = a;
            if (r + 1 == nr) /* an odd run out: copied as it is */
                m = b = run[r + 1];
            while (i < m && j < b)
                dst[o++] = sortkey_lt(&src[j], &src[i]) ? src[j++] : src[i++];
            while (i < m)
                dst[o++] = src[i++];
            while (j < b)
                dst[o++] = src[j++];
            run[w++] = a;
        }
        run[w] = n;
        nr = w;
        sortkey_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != k)
        memcpy(k, src, n * sizeof *k);
    cn_free(tmp);
    cn_free(run);
}

/*
 * The order of ts[0..m) when it is at most MERGE_RUNS runs of strictly
 * ascending timestamps and no timestamp occurs twice: perm[i] = base +
 * the index of the i-th smallest.  False otherwise (the caller sorts keys).
 * The run with the smallest head gives every row below the other heads
 * at once (runs overlap little: chunks of writers a little apart); two
 * equal timestamps are both heads when the smallest is looked for again
 * with them at the bottom (everything below them was taken before), so a
 * repeat is always seen.
 */
#define MERGE_RUNS 64

static bool merge_runs(const int64_t *ts, uint32_t m, uint32_t base, uint32_t *perm)
{
    uint32_t pos[MERGE_RUNS], end[MERGE_RUNS], nr = 0;
    pos[nr++] = 0;
    for (uint32_t i = 1; i < m; i++) {
        if (ts[i] > ts[i - 1])
            continue;
        if (ts[i] == ts[i - 1] || nr == MERGE_RUNS)
            return false;
        end[nr - 1] = i;
        pos[nr++] = i;
    }
    end[nr - 1] = m;
    /* heads looked at, at most about 8 per row: runs that interleave row
     * by row are the key sort's (it costs log2(runs) steps a row) */
    uint64_t work = 0, budget = 8 * (uint64_t)m + 64;
    uint32_t o = 0;
    while (o < m) {
        /* the smallest head, and the smallest of the others (t2); a run
         * used up leaves the list */
        uint32_t best = MERGE_RUNS;
        int64_t bt = 0, t2 = INT64_MAX;
        work += nr;
        if (work > budget)
            return false;
        for (uint32_t k = 0; k < nr; k++) {
            int64_t t = ts[pos[k]];
            if (best == MERGE_RUNS || t < bt) {
                if (best != MERGE_RUNS)
                    t2 = bt;
                best = k;
                bt = t;
            } else if (t == bt) {
                return false;
            } else if (t < t2) {
                t2 = t;
            }
        }
        /* that run's rows below every other head, at once */
        uint32_t i = pos[best], e = end[best];
        do
            perm[o++] = base + i++;
        while (i < e && ts[i] < t2);
        pos[best] = i;
        if (i == e) {
            nr--;
            pos[best] = pos[nr];
            end[best] = end[nr];
        }
    }
    return true;
}

/*
 * Sorts the rows by time, one row per timestamp; per column the last valid
 * value in (ts, seq, position) order wins.
 *
 * Two things keep it cheap for what the read path hands it (a group of
 * blocks of a series where a late block overlaps the edge of a stored one,
 * as two writers a little apart in time leave behind):
 * - rows [0, p) that are ascending and all before every later row are in
 *   place already; only [p, n) is sorted and moved;
 * - the columns follow the sorted order, eight-byte values (every number
 *   and time) as words instead of a memcpy of a variable size per value,
 *   and when no two rows share a timestamp (the common case) the order is
 *   a permutation, gathered without a branch (flags and values copied
 *   whether set or not) through a scratch column and back in place;
 * - that permutation comes from merging the few ascending runs by their
 *   timestamps alone (merge_runs) when no timestamp repeats, instead of
 *   sorting (ts, seq, position) keys.  Q2 of bench/run query (one
 *   device's 1-minute means over an hour) over the memtable a WAL replay
 *   of 'medium' leaves (callgrind, 20 queries): the merge 788 k -> 436 k
 *   instructions, the whole request 4.24 M -> 3.87 M; a fresh load hands
 *   it one group of 360 rows in 4 runs.  Q4 (a fleet's hourly means over
 *   6 hours) merges whole series of 20-40 chunks: up to 64 runs, as long
 *   as the heads looked at stay under 8 a row.
 * Merging such groups was a third of the instructions of Q4 of bench/run
 * query (cachegrind, 5 queries: 295 M of 885 M; 142 M with the word moves,
 * 41 M with the prefix left in place; the query 885 M -> 612 M).
 */
void eng__rows_sort_merge(eng__rows_t *r)
{
    uint32_t n = r->n, run = 1;
    while (run < n && r->ts[run] > r->ts[run - 1])
        run++;
    if (run >= n)
        return; /* sorted, one row per timestamp */
    int64_t lo = INT64_MAX;
    for (uint32_t i = run; i < n; i++)
        lo = CN_MIN(lo, r->ts[i]);
    uint32_t p = run; /* the rows of the first run before every later one */
    while (p > 0 && r->ts[p - 1] >= lo)
        p--;
    uint32_t m = n - p;
    int64_t *nts = cn_malloc(m * sizeof(int64_t));
    uint64_t *nseq = cn_malloc(m * sizeof(uint64_t));
    uint32_t *perm = cn_malloc(m * sizeof(uint32_t)); /* source row per sorted row */
    uint32_t *grp = NULL; /* output index per sorted row (when rows merge) */
    uint32_t out = 0;
    if (merge_runs(r->ts + p, m, p, perm)) {
        for (uint32_t i = 0; i < m; i++) {
            nts[i] = r->ts[perm[i]];
            nseq[i] = r->seq[perm[i]];
        }
        out = m;
    } else {
        sortkey_t *k = cn_malloc(m * sizeof *k);
        for (uint32_t i = 0; i < m; i++) {
            k[i].ts = r->ts[p + i];
            k[i].seq = r->seq[p + i];
            k[i].pos = p + i;
        }
        sortkeys(k, m);
        /* Output row for each distinct ts; per column the last valid wins. */
        grp = cn_malloc(m * sizeof(uint32_t));
        for (uint32_t i = 0; i < m; i++) {
            if (i == 0 || k[i].ts != k[i - 1].ts) {
                nts[out] = k[i].ts;
                nseq[out] = k[i].seq;
                out++;
            } else if (k[i].seq > nseq[out - 1]) {
                nseq[out - 1] = k[i].seq;
            }
            grp[i] = out - 1;
            perm[i] = k[i].pos;
        }
        cn_free(k);
    }
    if (out == m) { /* a permutation of [p, n), through a scratch column */
        uint8_t *tv = cn_malloc((size_t)m * sizeof(eng_str_t)), *tval = cn_malloc(m);
        for (uint32_t c = 0; c < r->ncols; c++) {
            size_t sz = eng__type_size(r->types[c]);
            uint8_t *ov = r->vals[c], *ovalid = r->valid[c];
            if (sz == 8) {
                uint64_t *t8 = (uint64_t *)(void *)tv;
                const uint64_t *o8 = (const uint64_t *)(const void *)ov;
                for (uint32_t i = 0; i < m; i++) {
                    t8[i] = o8[perm[i]];
                    tval[i] = ovalid[perm[i]];
                }
            } else {
                for (uint32_t i = 0; i < m; i++) {
                    memcpy(tv + (size_t)i * sz, ov + (size_t)perm[i] * sz, sz);
                    tval[i] = ovalid[perm[i]];
                }
            }
            memcpy(ov + (size_t)p * sz, tv, (size_t)m * sz);
            memcpy(ovalid + p, tval, m);
        }
        cn_free(tv);
        cn_free(tval);
    } else {
        for (uint32_t c = 0; c < r->ncols; c++) {
            size_t sz = eng__type_size(r->types[c]);
            uint8_t *nv = cn_malloc((size_t)r->cap * sz);
            uint8_t *nval = cn_calloc(r->cap ? r->cap : 1, 1);
            const uint8_t *ov = r->vals[c], *ovalid = r->valid[c];
            memcpy(nv, ov, (size_t)p * sz);
            memcpy(nval, ovalid, p);
            uint8_t *sv = nv + (size_t)p * sz, *sval = nval + p;
            if (sz == 8) {
                uint64_t *s8 = (uint64_t *)(void *)sv;
                const uint64_t *o8 = (const uint64_t *)(const void *)ov;
                for (uint32_t i = 0; i < m; i++) {
                    uint32_t src = perm[i];
                    if (ovalid[src]) {
                        s8[grp[i]] = o8[src];
                        sval[grp[i]] = 1;
                    }
                }
            } else {
                for (uint32_t i = 0; i < m; i++) {
                    uint32_t src = perm[i];
                    if (!ovalid[src])
                        continue;
                    memcpy(sv + (size_t)grp[i] * sz, ov + (size_t)src * sz, sz);
                    sval[grp[i]] = 1;
                }
            }
            cn_free(r->vals[c]);
            cn_free(r->valid[c]);
            r->vals[c] = nv;
            r->valid[c] = nval;
        }
    }
    memcpy(r->ts + p, nts, out * sizeof(int64_t));
    memcpy(r->seq + p, nseq, out * sizeof(uint64_t));
    r->n = p + out;
    cn_free(nts);
    cn_free(nseq);
    cn_free(grp);
    cn_free(perm);
}

/* Keeps the rows from on for which keep[i - from] is set, in order. */
static void rows_compact(eng__rows_t *r, uint32_t from, const uint8_t *keep)
{
    uint32_t o = from;
    for (uint32_t i = from; i < r->n; i++) {
        if (!keep[i - from])
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

uint32_t eng__rows_lower(const eng__rows_t *r, uint32_t lo, uint32_t hi, int64_t t)
{
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (r->ts[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void eng__rows_clip(eng__rows_t *r, int64_t tmin, int64_t tmax)
{
#ifndef NDEBUG
    for (uint32_t i = 1; i < r->n; i++)
        assert(r->ts[i] > r->ts[i - 1]);
#endif
    if (r->n == 0 || (r->ts[0] >= tmin && r->ts[r->n - 1] < tmax))
        return; /* the common case, without a pass over the rows */
    uint32_t a = eng__rows_lower(r, 0, r->n, tmin),
             b = tmax > tmin ? eng__rows_lower(r, 0, r->n, tmax) : a;
    if (a > 0 && b > a) {
        memmove(r->ts, r->ts + a, (size_t)(b - a) * sizeof *r->ts);
        memmove(r->seq, r->seq + a, (size_t)(b - a) * sizeof *r->seq);
        for (uint32_t c = 0; c < r->ncols; c++) {
            size_t sz = eng__type_size(r->types[c]);
            memmove(r->vals[c], (uint8_t *)r->vals[c] + (size_t)a * sz, (size_t)(b - a) * sz);
            memmove(r->valid[c], r->valid[c] + a, b - a);
        }
    }
    r->n = b > a ? b - a : 0;
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
    rows_compact(r, 0, keep);
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
 * Rows are turned into columns when they are extracted (reads, flush), a
 * sealed chunk's already when it is sealed (NOTES 5).
 *
 *   row:   i64 ts | u64 seq | u32 nfields | nfields x field
 *   field: u32 fid | u8 type | value: float/int 8 bytes, bool 1 byte,
 *          string 16 bytes (an eng_str_t into the arena)
 *   packed row (nfields has ROW_PACKED set): i64 ts | u64 seq | u32
 *          (ROW_PACKED | n) | the values of the series' first n fields
 *          (s->fids/s->ftypes, which only ever grow at the end)
 *
 * Nearly every row repeats its series' field set and is packed: 100 bytes
 * instead of 150 for ten floats.
 *
 * The buffer is cut into chunks of chunk_rows rows in arrival order.  When
 * a chunk fills up it is sealed: its per-field stats (as a segment block's)
 * are computed once, so readers answer aggregates over it without touching
 * its rows, exactly as for stored blocks.  A chunk knows whether its
 * timestamps are strictly ascending (no out-of-order row, no duplicate);
 * only such chunks are offered with stats.
 */
typedef struct mt_chunk {
    size_t off, end; /* byte range in the series buffer (end: sealed only) */
    uint32_t rows;
    bool sorted; /* ts strictly ascending */
    /* some row's fields differ from the series' field set (else every row
     * is laid out as s->fids/s->ftypes, all of one length) */
    bool mixed;
    /* sealed and column-major (chunk_columns): the series' first cnf
     * fields */
    bool cols;
    uint32_t cnf;
    int64_t tmin, tmax, last_ts;
    uint64_t seq_lo, seq_hi;
    /* the largest tmax of the series' earlier chunks (INT64_MIN: none) */
    int64_t hi_before;
    /* sealed only: no row shares its timestamp with a row of an earlier
     * chunk (chunk_ts_new; NOTES 6) */
    bool ts_new;
    /* sealed only: stats per (fid, type), immutable once set */
    uint32_t nst;
    uint32_t *st_fids;
    uint8_t *st_types;
    eng_stat_t *st;
} mt_chunk_t;

typedef struct mt_series {
    uint64_t sid;
    uint8_t *buf;
    size_t len, cap;
    bool mapped; /* buf is an anonymous mapping of cap bytes (buf_grow) */
    uint32_t nrows;
    int64_t tmin, tmax;
    uint32_t nfields; /* distinct (fid, type) pairs seen */
    uint32_t capfields;
    uint32_t *fids;
    uint8_t *ftypes;
    mt_chunk_t *chunks; /* sealed chunks, then the open one (last) */
    uint32_t nchunks, capchunks;
} mt_series_t;

#define ROW_PACKED 0x80000000u

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    uint8_t data[];
} arena_chunk_t;

struct eng__mt {
    _Atomic int refs;
    pthread_rwlock_t lock;
    uint32_t chunk_rows;
    mt_series_t **by_sid;
    uint64_t cap_sid;
    uint64_t *sids;
    uint64_t nsids, cap_sids;
    _Atomic size_t bytes; /* read without the lock by stats and flush triggers */
    uint64_t rows;
    arena_chunk_t *arena;
};

/*
 * Series buffers of BUF_MAP_MIN bytes and more are anonymous mappings grown
 * with mremap: doubling them moves page tables instead of copying the
 * bytes, and the new pages are faulted in by one call instead of one fault
 * per page (WAL replay grows every series' buffer from empty to its whole
 * share of the log).  The capacity is what eng__mt_bytes counts anyway.
 * Where the kernel refuses a mapping (the process's map count), the
 * buffer is a heap block again.
 */
#define BUF_MAP_MIN ((size_t)64 << 10)

static void buf_free(mt_series_t *s)
{
    if (s->mapped)
        munmap(s->buf, s->cap);
    else
        cn_free(s->buf);
}

/* Sets s->buf to ncap bytes (> s->cap) keeping s->len of them. */
static void buf_grow(mt_series_t *s, size_t ncap)
{
    if (ncap >= BUF_MAP_MIN) {
        void *m = s->mapped ? mremap(s->buf, s->cap, ncap, MREMAP_MAYMOVE)
                            : mmap(NULL, ncap, PROT_READ | PROT_WRITE,
                                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (m != MAP_FAILED) {
            /* the rows will fill it: fault the new pages in with one call
             * rather than one fault each (a hint; older kernels lack it) */
            if (s->mapped)
                (void)madvise((uint8_t *)m + s->cap, ncap - s->cap, MADV_POPULATE_WRITE);
            if (!s->mapped) {
                if (s->len)
                    memcpy(m, s->buf, s->len);
                cn_free(s->buf);
            }
            s->buf = m;
            s->mapped = true;
            return;
        }
    }
    if (s->mapped) {
        uint8_t *b = cn_malloc(ncap);
        memcpy(b, s->buf, s->len);
        munmap(s->buf, s->cap);
        s->buf = b;
        s->mapped = false;
        return;
    }
    s->buf = cn_realloc(s->buf, ncap);
}

eng__mt_t *eng__mt_new(uint32_t chunk_rows)
{
    eng__mt_t *mt = cn_calloc(1, sizeof *mt);
    atomic_init(&mt->refs, 1);
    pthread_rwlock_init(&mt->lock, NULL);
    mt->chunk_rows = chunk_rows ? chunk_rows : ENG__MT_CHUNK_ROWS;
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
        for (uint32_t c = 0; c < s->nchunks; c++)
            cn_free(s->chunks[c].st_fids); /* the block of chunk_stats_alloc */
        cn_free(s->chunks);
        buf_free(s);
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
        buf_grow(s, ncap);
        mt->bytes += ncap - s->cap;
        s->cap = ncap;
    }
    return s->buf + s->len;
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

/* Copies one value of size vs (8, 16 or 1). */
static inline void val_copy(uint8_t *d, const uint8_t *p, size_t vs)
{
    if (vs == 8)
        memcpy(d, p, 8);
    else
        memcpy(d, p, vs);
}

/* Appends the rows of s's buffer [p, end) with ts in [tmin, tmax) and seq
 * <= max_seq to out, in arrival order.
 * A packed row holding the series' first nf fields has field f at byte
 * 20 + poff[f] and is 20 + poff[nf] bytes long: such rows copy only the
 * fields out has a column for (a one-field query over ten-field rows
 * visited every field of every row before: 7 % of a small query). */
static void rows_from(const mt_series_t *s, const uint8_t *p, const uint8_t *end, int64_t tmin,
                      int64_t tmax, uint64_t max_seq, eng__rows_t *out)
{
    enum { MAPMAX = 256 };
    uint32_t nmap = CN_MIN(s->nfields, (uint32_t)MAPMAX);
    uint32_t poff[MAPMAX + 1]; /* value offset of each field in a packed row */
    /* the wanted fields of a packed row: field, output column, size */
    uint16_t wf[MAPMAX];
    int16_t wc[MAPMAX];
    uint8_t wsz[MAPMAX];
    uint32_t nw = 0;
    poff[0] = 0;
    for (uint32_t f = 0; f < nmap; f++) {
        uint8_t vs = (uint8_t)eng__type_size(s->ftypes[f]);
        poff[f + 1] = poff[f] + vs;
        int c = out_col(out, s->fids[f], s->ftypes[f], f < out->ncols ? f : 0);
        if (c >= 0) {
            wf[nw] = (uint16_t)f;
            wc[nw] = (int16_t)c;
            wsz[nw] = vs;
            nw++;
        }
    }
    uint32_t ncols = out->ncols;
    while (p < end) {
        int64_t ts;
        uint64_t seq;
        uint32_t nf;
        memcpy(&ts, p, 8);
        memcpy(&seq, p + 8, 8);
        memcpy(&nf, p + 16, 4);
        bool take = ts >= tmin && ts < tmax && seq <= max_seq;
        uint32_t o = out->n;
        if (take) {
            out->ts[o] = ts;
            out->seq[o] = seq;
            for (uint32_t c = 0; c < ncols; c++)
                out->valid[c][o] = 0;
            out->n++;
        }
        if ((nf & ROW_PACKED) && (nf & ~ROW_PACKED) <= nmap) {
            nf &= ~ROW_PACKED;
            if (take)
                for (uint32_t w = 0; w < nw && wf[w] < nf; w++) {
                    int c = wc[w];
                    val_copy((uint8_t *)out->vals[c] + (size_t)o * wsz[w], p + 20 + poff[wf[w]],
                             wsz[w]);
                    out->valid[c][o] = 1;
                }
            p += 20 + poff[nf];
            continue;
        }
        p += 20;
        if (nf & ROW_PACKED) { /* more fields than the map holds */
            nf &= ~ROW_PACKED;
            for (uint32_t f = 0; f < nf; f++) {
                size_t vs = eng__type_size(s->ftypes[f]);
                int c = out_col(out, s->fids[f], s->ftypes[f], f < ncols ? f : 0);
                if (take && c >= 0) {
                    val_copy((uint8_t *)out->vals[c] + (size_t)o * vs, p, vs);
                    out->valid[c][o] = 1;
                }
                p += vs;
            }
            continue;
        }
        for (uint32_t f = 0; f < nf; f++) {
            uint32_t fid;
            memcpy(&fid, p, 4);
            uint8_t t = p[4];
            size_t vs = eng__type_size(t);
            if (take) {
                int c = out_col(out, fid, t, f < ncols ? f : 0);
                if (c >= 0) {
                    val_copy((uint8_t *)out->vals[c] + (size_t)o * vs, p + 5, vs);
                    out->valid[c][o] = 1;
                }
            }
            p += 5 + vs;
        }
    }
}

/*
 * Lays the n sealed rows of ch - uniform packed rows of rowlen bytes, the
 * series' first nf fields, in time order - out column-major in the same
 * bytes: ts[n], seq[n], then each field's n values (rowlen - 4 bytes a
 * row; the rest of the range is left as it is).  A reader then touches
 * the columns it wants: one field of ten-field rows read from rows pulled
 * a 100-byte row into the cache per value, and cold memtable rows were
 * the largest single cost of bench/run query's Q3 (NOTES 5).
 */
static void chunk_columns(mt_series_t *s, mt_chunk_t *ch, uint32_t n, size_t rowlen, uint32_t nf)
{
    uint8_t *base = s->buf + ch->off;
    uint8_t *tmp = cn_malloc((size_t)n * (rowlen - 4) + 1);
    for (uint32_t i = 0; i < n; i++) {
        memcpy(tmp + (size_t)i * 8, base + (size_t)i * rowlen, 8);
        memcpy(tmp + ((size_t)n + i) * 8, base + (size_t)i * rowlen + 8, 8);
    }
    size_t col = (size_t)n * 16, voff = 20;
    for (uint32_t f = 0; f < nf; f++) {
        size_t vs = eng__type_size(s->ftypes[f]);
        for (uint32_t i = 0; i < n; i++)
            memcpy(tmp + col + (size_t)i * vs, base + (size_t)i * rowlen + voff, vs);
        col += (size_t)n * vs;
        voff += vs;
    }
    memcpy(base, tmp, col);
    cn_free(tmp);
    ch->cols = true;
    ch->cnf = nf;
}

/* ts of row i of a column-major chunk at b */
static inline int64_t col_ts(const uint8_t *b, uint32_t i)
{
    int64_t t;
    memcpy(&t, b + (size_t)i * 8, 8);
    return t;
}

/* First row of a column-major chunk at b (n rows) with ts >= t. */
static uint32_t col_lower(const uint8_t *b, uint32_t n, int64_t t)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (col_ts(b, mid) < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Appends the rows of a column-major chunk with ts in [tmin, tmax) and
 * seq <= max_seq to out, in their order (as rows_from for a row range). */
static void rows_cols(const mt_series_t *s, const mt_chunk_t *ch, int64_t tmin, int64_t tmax,
                      uint64_t max_seq, eng__rows_t *out)
{
    uint32_t n = ch->rows;
    if (!n || ch->tmax < tmin || ch->tmin >= tmax)
        return;
    const uint8_t *b = s->buf + ch->off;
    uint32_t lo = col_lower(b, n, tmin), hi = tmax == INT64_MAX ? n : col_lower(b, n, tmax);
    if (lo >= hi)
        return;
    uint32_t cnt = hi - lo, o = out->n;
    memcpy(out->ts + o, b + (size_t)lo * 8, (size_t)cnt * 8);
    memcpy(out->seq + o, b + ((size_t)n + lo) * 8, (size_t)cnt * 8);
    for (uint32_t c = 0; c < out->ncols; c++)
        memset(out->valid[c] + o, 0, cnt);
    size_t col = (size_t)n * 16;
    for (uint32_t f = 0; f < ch->cnf; f++) {
        size_t vs = eng__type_size(s->ftypes[f]);
        int c = out_col(out, s->fids[f], s->ftypes[f], f < out->ncols ? f : 0);
        if (c >= 0) {
            memcpy((uint8_t *)out->vals[c] + (size_t)o * vs, b + col + (size_t)lo * vs,
                   (size_t)cnt * vs);
            memset(out->valid[c] + o, 1, cnt);
        }
        col += (size_t)n * vs;
    }
    out->n = o + cnt;
    if (ch->seq_hi > max_seq) { /* a snapshot older than some of these rows */
        uint8_t *keep = cn_malloc(cnt);
        for (uint32_t i = 0; i < cnt; i++)
            keep[i] = out->seq[o + i] <= max_seq;
        rows_compact(out, o, keep);
        cn_free(keep);
    }
}

/* Appends chunk ch's rows (ts in [tmin, tmax), seq <= max_seq) to out. */
static void chunk_read(const mt_series_t *s, const mt_chunk_t *ch, int64_t tmin, int64_t tmax,
                       uint64_t max_seq, eng__rows_t *out)
{
    if (ch->cols)
        rows_cols(s, ch, tmin, tmax, max_seq, out);
    else
        rows_from(s, s->buf + ch->off, s->buf + (ch->st ? ch->end : s->len), tmin, tmax,
                  max_seq, out);
}

typedef struct rowkey {
    int64_t ts;
    uint64_t seq;
    size_t off, len;
    uint32_t ord;
} rowkey_t;

static int rowkey_cmp(const void *a, const void *b)
{
    const rowkey_t *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->ord < y->ord ? -1 : x->ord > y->ord;
}

/* Bounds, seq range and order flag of keys [from, to) (sorted by ts). */
static void chunk_describe(mt_chunk_t *ch, const rowkey_t *k, uint32_t from, uint32_t to)
{
    ch->rows = to - from;
    ch->sorted = true;
    ch->tmin = k[from].ts;
    ch->tmax = k[to - 1].ts;
    ch->last_ts = k[to - 1].ts;
    ch->seq_lo = UINT64_MAX;
    ch->seq_hi = 0;
    for (uint32_t i = from; i < to; i++) {
        if (i > from && k[i].ts == k[i - 1].ts)
            ch->sorted = false;
        ch->seq_lo = CN_MIN(ch->seq_lo, k[i].seq);
        ch->seq_hi = CN_MAX(ch->seq_hi, k[i].seq);
    }
}

/* Bytes of a packed row holding the fields of types[0..nf). */
static size_t row_len(uint32_t nf, const uint8_t *types)
{
    size_t len = 20;
    for (uint32_t f = 0; f < nf; f++)
        len += eng__type_size(types[f]);
    return len;
}

/*
 * Stats of n packed rows (n > 0) that all hold the fields of types[0..nf),
 * rowlen bytes apart from base, in time order: what
 * eng__rows_stats gives for them (every value present), one column at a
 * time with a loop per type, straight from the row buffer.
 */
static void stats_uniform(const uint8_t *base, uint32_t n, size_t rowlen, uint32_t nf,
                          const uint8_t *types, eng_stat_t *st)
{
    int64_t ts0, tsn;
    memcpy(&ts0, base, 8);
    memcpy(&tsn, base + (size_t)(n - 1) * rowlen, 8);
    size_t off = 20; /* the first field's value */
    for (uint32_t c = 0; c < nf; c++) {
        eng_stat_t *x = &st[c];
        memset(x, 0, sizeof *x);
        const uint8_t *p = base + off;
        switch (types[c]) {
        case ENG_T_FLOAT: {
            double v, mn, mx, sum = 0;
            memcpy(&v, p, 8);
            x->first.f = v;
            mn = mx = v;
            for (uint32_t i = 0; i < n; i++, p += rowlen) {
                memcpy(&v, p, 8);
                /* NaN never becomes min or max; comparisons with NaN are
                 * false (as eng__rows_stats) */
                if (v < mn || isnan(mn))
                    mn = v;
                if (v > mx || isnan(mx))
                    mx = v;
                sum += v;
            }
            x->min.f = mn;
            x->max.f = mx;
            x->last.f = v;
            x->sum_f = sum;
            break;
        }
        case ENG_T_INT: {
            int64_t v, mn, mx, sum = 0;
            bool ovf = false;
            memcpy(&v, p, 8);
            x->first.i = v;
            mn = mx = v;
            for (uint32_t i = 0; i < n; i++, p += rowlen) {
                memcpy(&v, p, 8);
                mn = v < mn ? v : mn;
                mx = v > mx ? v : mx;
                ovf |= __builtin_add_overflow(sum, v, &sum);
            }
            x->min.i = mn;
            x->max.i = mx;
            x->last.i = v;
            x->sum_i = sum;
            x->sum_overflow = ovf;
            break;
        }
        case ENG_T_BOOL: {
            int64_t v = p[0], mn = v, mx = v, sum = 0;
            x->first.i = v;
            for (uint32_t i = 0; i < n; i++, p += rowlen) {
                v = p[0];
                mn = v < mn ? v : mn;
                mx = v > mx ? v : mx;
                sum += v; /* at most n: never overflows */
            }
            x->min.i = mn;
            x->max.i = mx;
            x->last.i = v;
            x->sum_i = sum;
            break;
        }
        default:
            break; /* strings: count and times only */
        }
        x->count = n;
        x->first_ts = x->tmin = ts0;
        x->last_ts = x->tmax = tsn;
        off += eng__type_size(types[c]);
    }
}

/*
 * A sealed chunk's stats of nf fields in one allocation: field ids, types,
 * then the stats (16-byte aligned), *fids being the block's start (freed
 * through it).  A reader looking up one field's stats across many chunks
 * (max() per series) touched three allocations a chunk before, each a
 * cache miss on a cold memtable.
 */
static eng_stat_t *chunk_stats_alloc(uint32_t nf, uint32_t **fids, uint8_t **types)
{
    size_t n = nf ? nf : 1;
    size_t head = (n * (sizeof(uint32_t) + 1) + 15) & ~(size_t)15;
    uint8_t *b = cn_malloc(head + n * sizeof(eng_stat_t));
    *fids = (uint32_t *)(void *)b;
    *types = b + n * sizeof(uint32_t);
    return (eng_stat_t *)(void *)(b + head);
}

/* The largest tmax of the series' chunks so far (all sealed: called as a
 * new chunk opens, so the one before it is final). */
static int64_t hi_before(const mt_series_t *s)
{
    if (s->nchunks < 2)
        return INT64_MIN;
    const mt_chunk_t *p = &s->chunks[s->nchunks - 2];
    return CN_MAX(p->hi_before, p->tmax);
}

/*
 * Does the column-major chunk ch, the series' last and just sealed, share
 * no timestamp with an earlier chunk (NOTES 6)?  Earlier chunks whose span
 * meets ch's are walked back until no older one reaches ch's first time
 * (hi_before); their timestamps, ascending like ch's, are merged against
 * ch's.  false when one of them is not column-major or ascending, or when
 * more than CHUNK_TS_LOOKBACK of them would have to be read.
 */
#define CHUNK_TS_LOOKBACK 8
static bool chunk_ts_new(const mt_series_t *s, const mt_chunk_t *ch)
{
    const uint8_t *a = s->buf + ch->off;
    uint32_t looked = 0;
    for (uint32_t j = s->nchunks - 1; j-- > 0;) {
        const mt_chunk_t *o = &s->chunks[j];
        if (o->tmax >= ch->tmin && o->tmin <= ch->tmax) {
            if (!o->cols || !o->sorted || ++looked > CHUNK_TS_LOOKBACK)
                return false;
            const uint8_t *b = s->buf + o->off;
            uint32_t i = 0, k = col_lower(b, o->rows, ch->tmin);
            while (i < ch->rows && k < o->rows) {
                int64_t x = col_ts(a, i), y = col_ts(b, k);
                if (x == y)
                    return false;
                if (x < y)
                    i++;
                else
                    k++;
            }
        }
        if (o->hi_before < ch->tmin)
            break;
    }
    return true;
}

/*
 * Seals the open chunk.  Its rows are put in time order in place (equal
 * timestamps keep their arrival order, so last-write-wins is unchanged);
 * the oldest ones become the sealed chunk, with stats over every field the
 * series has, and the newest chunk_rows/8 stay open together with what
 * arrives next: rows that come a little late (concurrent writers) then
 * still land in the open chunk instead of overlapping the sealed one.
 * Readers that described the open chunk before read it up to the buffer's
 * end (eng__mt_chunk_rows), so the permutation loses them no row.
 */
static void chunk_seal(eng__mt_t *mt, mt_series_t *s)
{
    mt_chunk_t *ch = &s->chunks[s->nchunks - 1];
    uint32_t n = ch->rows;
    rowkey_t *k = cn_malloc(n * sizeof *k);
    const uint8_t *p = s->buf + ch->off, *end = s->buf + s->len;
    bool inorder = true;
    bool uniform = !ch->mixed;
    size_t rowlen = uniform ? row_len(s->nfields, s->ftypes) : 0;
    for (uint32_t i = 0; i < n && p < end; i++) {
        k[i].off = (size_t)(p - s->buf);
        memcpy(&k[i].ts, p, 8);
        memcpy(&k[i].seq, p + 8, 8);
        const uint8_t *q = p + 20;
        if (uniform) {
            q = p + rowlen;
        } else {
            uint32_t nf;
            memcpy(&nf, p + 16, 4);
            if (nf & ROW_PACKED)
                q = p + row_len(nf & ~ROW_PACKED, s->ftypes);
            else
                for (uint32_t f = 0; f < nf; f++)
                    q += 5 + eng__type_size(q[4]);
        }
        k[i].len = (size_t)(q - p);
        k[i].ord = i;
        if (i && k[i].ts < k[i - 1].ts)
            inorder = false;
        p = q;
    }
    if (!inorder) {
        qsort(k, n, sizeof *k, rowkey_cmp);
        size_t span = s->len - ch->off;
        uint8_t *tmp = cn_malloc(span);
        uint8_t *o = tmp;
        for (uint32_t i = 0; i < n; i++) {
            memcpy(o, s->buf + k[i].off, k[i].len);
            k[i].off = ch->off + (size_t)(o - tmp);
            o += k[i].len;
        }
        memcpy(s->buf + ch->off, tmp, span);
        cn_free(tmp);
    }
    /* the sealed part: all but the newest n/8 rows, never splitting equal
     * timestamps */
    uint32_t ks = n - n / 8;
    while (ks > 1 && ks < n && k[ks].ts == k[ks - 1].ts)
        ks--;
    if (ks < n && k[ks].ts == k[ks - 1].ts)
        ks = n;
    size_t cut = ks < n ? k[ks].off : s->len;
    chunk_describe(ch, k, 0, ks);
    ch->end = cut;

    uint32_t nf = s->nfields;
    /* one block: field ids, types, then the stats (chunk_stats_alloc) */
    uint32_t *st_fids;
    uint8_t *st_types;
    eng_stat_t *st = chunk_stats_alloc(nf, &st_fids, &st_types);
    if (nf) {
        memcpy(st_fids, s->fids, nf * sizeof *st_fids);
        memcpy(st_types, s->ftypes, nf);
    }
    if (uniform) {
        stats_uniform(s->buf + ch->off, ks, rowlen, nf, s->ftypes, st);
        chunk_columns(s, ch, ks, rowlen, nf);
        ch->ts_new = ch->sorted && chunk_ts_new(s, ch);
    } else {
        eng__rows_t r;
        eng__rows_init(&r, nf, s->fids, s->ftypes);
        eng__rows_reserve(&r, ks);
        rows_from(s, s->buf + ch->off, s->buf + cut, INT64_MIN, INT64_MAX, UINT64_MAX, &r);
        for (uint32_t c = 0; c < nf; c++)
            eng__rows_stats(&r, c, 0, r.n, &st[c]);
        eng__rows_free(&r);
    }
    for (uint32_t c = 0; c < nf; c++) {
        if (s->ftypes[c] == ENG_T_STRING) {
            /* as stored blocks: no string values in the stats */
            memset(&st[c].min, 0, sizeof st[c].min);
            memset(&st[c].max, 0, sizeof st[c].max);
            memset(&st[c].first, 0, sizeof st[c].first);
            memset(&st[c].last, 0, sizeof st[c].last);
        }
    }
    ch->nst = nf;
    ch->st_fids = st_fids;
    ch->st_types = st_types;
    ch->st = st; /* a sealed chunk is one with stats */
    mt->bytes += nf * (sizeof *st + 5);
    if (ks < n) {
        /* the newest rows open the next chunk */
        if (s->nchunks == s->capchunks) {
            s->capchunks *= 2;
            s->chunks = cn_realloc(s->chunks, s->capchunks * sizeof *s->chunks);
            mt->bytes += s->capchunks / 2 * sizeof *s->chunks;
        }
        bool mixed = s->chunks[s->nchunks - 1].mixed;
        mt_chunk_t *nc = &s->chunks[s->nchunks++];
        memset(nc, 0, sizeof *nc);
        nc->hi_before = hi_before(s);
        nc->off = cut;
        nc->mixed = mixed; /* its rows are the sealed chunk's newest */
        chunk_describe(nc, k, ks, n);
    }
    cn_free(k);
}

/* Counts a new row at ts/seq in the series' open chunk (opening one). */
static mt_chunk_t *chunk_for_row(eng__mt_t *mt, mt_series_t *s, int64_t ts, uint64_t seq)
{
    mt_chunk_t *ch =
        s->nchunks && !s->chunks[s->nchunks - 1].st ? &s->chunks[s->nchunks - 1] : NULL;
    if (!ch) {
        if (s->nchunks == s->capchunks) {
            s->capchunks = s->capchunks ? s->capchunks * 2 : 4;
            s->chunks = cn_realloc(s->chunks, s->capchunks * sizeof *s->chunks);
            mt->bytes += s->capchunks / 2 * sizeof *s->chunks;
        }
        ch = &s->chunks[s->nchunks++];
        memset(ch, 0, sizeof *ch);
        ch->hi_before = hi_before(s);
        ch->off = s->len;
        ch->tmin = ts;
        ch->tmax = ts;
        ch->seq_lo = seq;
    } else {
        if (ts < ch->tmin)
            ch->tmin = ts;
        if (ts > ch->tmax)
            ch->tmax = ts;
        ch->seq_lo = CN_MIN(ch->seq_lo, seq);
    }
    ch->last_ts = ts;
    ch->seq_hi = CN_MAX(ch->seq_hi, seq);
    ch->rows++;
    return ch;
}

void eng__mt_put(eng__mt_t *mt, uint64_t sid, int64_t ts, uint64_t seq, uint32_t nf,
                 const uint32_t *fids, const uint8_t *types, const eng_value_t *vals)
{
    mt_series_t *s = mt_series(mt, sid);
    mt_chunk_t *ch = chunk_for_row(mt, s, ts, seq);
    /* Rows of a series nearly always repeat the same fields in the same
     * order: compare with the known set before the per-field check.  A
     * row that lists the set's first nf fields in order is packed. */
    bool packed = nf <= s->nfields && memcmp(s->fids, fids, nf * sizeof *fids) == 0 &&
                  memcmp(s->ftypes, types, nf) == 0;
    if (!packed || nf != s->nfields) {
        uint32_t had = s->nfields;
        for (uint32_t f = 0; f < nf; f++)
            note_field(s, fids[f], (eng_type_t)types[f]);
        packed = nf <= s->nfields && memcmp(s->fids, fids, nf * sizeof *fids) == 0 &&
                 memcmp(s->ftypes, types, nf) == 0;
        /* the chunk's earlier rows lack the new fields, or this row is not
         * laid out as the whole field set */
        if ((s->nfields != had && ch->rows > 1) || !packed || nf != s->nfields)
            ch->mixed = true;
    }
    size_t need = 20;
    for (uint32_t f = 0; f < nf; f++)
        need += (packed ? 0 : 5) + eng__type_size(types[f]);
    uint8_t *p = series_room(mt, s, need);
    uint32_t hdr = packed ? nf | ROW_PACKED : nf;
    memcpy(p, &ts, 8);
    memcpy(p + 8, &seq, 8);
    memcpy(p + 16, &hdr, 4);
    p += 20;
    for (uint32_t f = 0; f < nf; f++) {
        if (!packed) {
            memcpy(p, &fids[f], 4);
            p[4] = types[f];
            p += 5;
        }
        switch (types[f]) {
        case ENG_T_BOOL:
            p[0] = vals[f].b ? 1 : 0;
            p += 1;
            break;
        case ENG_T_STRING: {
            eng_str_t str = {arena_copy(mt, vals[f].s.p, vals[f].s.len), vals[f].s.len};
            memcpy(p, &str, sizeof str);
            p += sizeof str;
            break;
        }
        default:
            memcpy(p, &vals[f], 8);
            p += 8;
            break;
        }
    }
    s->len += need;
    /* the next row of this series comes after rows of many others: start
     * fetching the lines it will write (a hint; never faults) */
    __builtin_prefetch(s->buf + s->len + 64, 1, 3);
    __builtin_prefetch(s->buf + s->len + 128, 1, 3);
    s->nrows++;
    if (ts < s->tmin)
        s->tmin = ts;
    if (ts > s->tmax)
        s->tmax = ts;
    mt->rows++;
    if (ch->rows >= mt->chunk_rows)
        chunk_seal(mt, s);
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

void eng__mt_extract(eng__mt_t *mt, uint64_t sid, int64_t tmin, int64_t tmax, uint64_t max_seq,
                     eng__rows_t *out)
{
    pthread_rwlock_rdlock(&mt->lock);
    mt_series_t *s = sid < mt->cap_sid ? mt->by_sid[sid] : NULL;
    if (s && s->nrows > 0 && s->tmax >= tmin && s->tmin < tmax) {
        eng__rows_reserve(out, s->nrows);
        for (uint32_t c = 0; c < s->nchunks; c++)
            chunk_read(s, &s->chunks[c], tmin, tmax, max_seq, out);
    }
    pthread_rwlock_unlock(&mt->lock);
}

uint32_t eng__mt_chunks(eng__mt_t *mt, uint64_t sid, int64_t tmin, int64_t tmax, uint64_t max_seq,
                        eng__mtchunk_t **out)
{
    pthread_rwlock_rdlock(&mt->lock);
    mt_series_t *s = sid < mt->cap_sid ? mt->by_sid[sid] : NULL;
    uint32_t n = 0;
    *out = NULL;
    if (s && s->nrows > 0 && s->tmax >= tmin && s->tmin < tmax) {
        *out = cn_malloc(s->nchunks * sizeof **out);
        for (uint32_t c = 0; c < s->nchunks; c++) {
            const mt_chunk_t *ch = &s->chunks[c];
            if (ch->seq_lo > max_seq || ch->tmax < tmin || ch->tmin >= tmax)
                continue;
            eng__mtchunk_t *o = &(*out)[n++];
            o->mt = mt;
            o->sid = sid;
            o->idx = c;
            o->rows = ch->rows;
            o->tmin = ch->tmin;
            o->tmax = ch->tmax;
            o->seq_lo = ch->seq_lo;
            o->seq_hi = ch->seq_hi;
            o->ts_new = ch->st && ch->ts_new;
            o->off = ch->off;
            o->end = ch->st ? ch->end : 0; /* 0: open, read to the buffer's end */
            /* stats only for a sealed, ascending chunk wholly visible */
            bool ok = ch->st && ch->sorted && ch->seq_hi <= max_seq;
            o->nst = ok ? ch->nst : 0;
            o->st_fids = ok ? ch->st_fids : NULL;
            o->st_types = ok ? ch->st_types : NULL;
            o->st = ok ? ch->st : NULL;
        }
    }
    pthread_rwlock_unlock(&mt->lock);
    return n;
}

void eng__mt_chunk_rows(const eng__mtchunk_t *c, int64_t tmin, int64_t tmax, uint64_t max_seq,
                        eng__rows_t *out)
{
    eng__mt_t *mt = c->mt;
    pthread_rwlock_rdlock(&mt->lock);
    mt_series_t *s = mt->by_sid[c->sid];
    /* an open chunk may have been sealed since (its rows permuted, maybe
     * laid out in columns, the newest moved on): read what is there now */
    uint32_t last = c->end ? c->idx + 1 : s->nchunks, rows = 0;
    for (uint32_t i = c->idx; i < last; i++)
        rows += s->chunks[i].rows;
    eng__rows_reserve(out, rows);
    for (uint32_t i = c->idx; i < last; i++)
        chunk_read(s, &s->chunks[i], tmin, tmax, max_seq, out);
    pthread_rwlock_unlock(&mt->lock);
}
