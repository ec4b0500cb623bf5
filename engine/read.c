/* SPDX-License-Identifier: MIT */
/*
 * read.c - snapshots, series selection through the tag index, and the
 * per-series iterator that merges segment blocks, memtables and tombstones.
 *
 * The iterator walks a series' sources - stored blocks and memtable chunks -
 * in time order in "groups": maximal runs of sources whose time spans
 * overlap.  A group that is one source with stats (a stored block, or a
 * sealed memtable chunk with ascending timestamps) with nothing
 * overlapping, inside the range, and no tombstone that could delete one of
 * its rows, is served as is (and its stats can be used without reading
 * it); any other group is decoded, merged last-write-wins per field,
 * tombstones applied, and clipped to the range.
 *
 * NOTES
 * 1. A snapshot holds one version (memtables, segments, tombstones) and the
 *    WAL sequence at open; memtable rows with a larger seq are invisible.
 * 2. Rows of a segment carry seq = its seq_max; memtable rows are always
 *    newer than every segment row of the same snapshot.
 * 3. eng_iter_any_order (split_group).  A writer that lags another leaves
 *    memtable chunks that each span both writers' times, so every chunk
 *    overlaps the next and the stored tail: one group of a thousand rows
 *    and more per series, decoded and merged although no two of its rows
 *    share a timestamp.  A caller that takes the rows in any order gets
 *    each source that shares no time with the rest of its group as a unit
 *    of its own - with stats, as a lone block - and the others merged.
 *    count(*) over a freshly loaded 'medium' (bench/run query's Q5): 19-36
 *    -> 8-13 ms; comparing the times costs a stored block's time column
 *    and a chunk's times, against all its columns decoded and merged.
 */
#include "engine_int.h"

#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>

struct eng_snap {
    eng_db_t *db;
    eng__version_t *v;
    uint64_t seq;
    const char **mnames;
    eng_field_info_t *fields;
};

uint64_t eng_snap_seq(const eng_snap_t *s)
{
    return s->seq;
}

int eng_snap_open(eng_db_t *db, eng_snap_t **out)
{
    eng_snap_t *s = cn_calloc(1, sizeof *s);
    s->db = db;
    pthread_mutex_lock(&db->wmu);
    s->seq = eng__wal_last_seq(db->wal);
    s->v = eng__version_get(db);
    pthread_mutex_unlock(&db->wmu);
    *out = s;
    return 0;
}

void eng_snap_close(eng_snap_t *s)
{
    if (!s)
        return;
    eng__version_unref(s->v);
    cn_free(s->mnames);
    cn_free(s->fields);
    cn_free(s);
}

size_t eng_snap_measurements(eng_snap_t *s, const char ***names)
{
    eng__cat_t *c = s->db->cat;
    eng__cat_rdlock(c);
    uint32_t n = eng__cat_nmeas(c);
    cn_free(s->mnames);
    s->mnames = cn_malloc((n + 1) * sizeof(char *));
    size_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        eng__meas_t *m = eng__cat_meas_by_id(c, i);
        if (m && m->nseries)
            s->mnames[k++] = m->name;
    }
    eng__cat_unlock(c);
    *names = s->mnames;
    return k;
}

size_t eng_snap_fields(eng_snap_t *s, const char *measurement, const eng_field_info_t **fields)
{
    eng__cat_t *c = s->db->cat;
    eng__cat_rdlock(c);
    eng__meas_t *m = eng__cat_meas_by_name(c, measurement);
    size_t n = m ? m->nfields : 0;
    cn_free(s->fields);
    s->fields = cn_malloc((n + 1) * sizeof *s->fields);
    if (n)
        memcpy(s->fields, m->fields, n * sizeof *s->fields);
    eng__cat_unlock(c);
    *fields = s->fields;
    return n;
}

/* The type stored under a field name now (ENG_T_NONE: none yet). */
static eng_type_t field_type(eng_db_t *db, const char *measurement, const char *field)
{
    eng__cat_t *c = db->cat;
    eng_type_t t = ENG_T_NONE;
    eng__cat_rdlock(c);
    eng__meas_t *m = eng__cat_meas_by_name(c, measurement);
    for (uint32_t i = 0; m && i < m->nfields; i++)
        if (strcmp(m->fields[i].name, field) == 0) {
            t = m->fields[i].type;
            break;
        }
    eng__cat_unlock(c);
    return t;
}

size_t eng_write_reject_text(eng_db_t *db, const eng_point_t *pts, const eng_write_res_t *res,
                             char *buf, size_t n)
{
    const eng_point_t *p = &pts[res->first_error_point];
    int k;
    if (res->first_error == CN_ETYPE) {
        eng_type_t in = ENG_T_NONE;
        for (uint32_t i = 0; i < p->nfields; i++)
            if (strcmp(p->fields[i].name, res->first_error_field) == 0)
                in = p->fields[i].type;
        k = snprintf(buf, n,
                     "field type conflict: input field \"%s\" on measurement \"%s\" is type %s, "
                     "already exists as type %s",
                     res->first_error_field, p->measurement, eng_type_name(in),
                     eng_type_name(field_type(db, p->measurement, res->first_error_field)));
    } else {
        k = snprintf(buf, n, "input field \"%s\" on measurement \"%s\": %s", res->first_error_field,
                     p->measurement, cn_strerror(res->first_error));
    }
    return k < 0 ? 0 : CN_MIN((size_t)k, n ? n - 1 : 0);
}

/* ------------------------------------------------------------ selection */

typedef struct idset {
    uint64_t *ids;
    size_t n, cap;
} idset_t;

static void idset_add(idset_t *s, const uint64_t *ids, size_t n)
{
    if (n == 0)
        return;
    if (s->n + n > s->cap) {
        s->cap = CN_MAX(s->n + n, s->cap * 2);
        s->ids = cn_realloc(s->ids, s->cap * sizeof(uint64_t));
    }
    memcpy(s->ids + s->n, ids, n * sizeof(uint64_t));
    s->n += n;
}

static int u64cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct rx_ctx {
    regex_t *re;
    idset_t *out;
} rx_ctx_t;

static void rx_each(void *arg, const char *val, const uint64_t *ids, size_t n)
{
    rx_ctx_t *rc = arg;
    if (regexec(rc->re, val, 0, NULL, 0) == 0)
        idset_add(rc->out, ids, n);
}

/* Series of m whose tag `key` satisfies pred (EQ/REGEX form), sorted. */
static int pred_match(eng__cat_t *c, eng__meas_t *m, const eng_tag_pred_t *p, idset_t *out)
{
    if (p->op == ENG_TAG_EQ || p->op == ENG_TAG_NE) {
        if (p->val[0]) {
            size_t n;
            const uint64_t *ids = eng__cat_postings(c, m, p->key, p->val, &n);
            if (n)
                idset_add(out, ids, n);
            return 0;
        }
        /* = '' matches series without the tag: complement of "has key". */
        regex_t re;
        if (regcomp(&re, "", REG_EXTENDED | REG_NOSUB) != 0)
            return CN_EINVAL;
        idset_t has = {0};
        rx_ctx_t ctx = {&re, &has};
        eng__cat_tag_each(c, m, p->key, rx_each, &ctx);
        regfree(&re);
        if (has.n)
            qsort(has.ids, has.n, sizeof(uint64_t), u64cmp);
        size_t n;
        const uint64_t *all = eng__cat_meas_series(c, m, &n);
        size_t j = 0;
        for (size_t i = 0; i < n; i++) {
            while (j < has.n && has.ids[j] < all[i])
                j++;
            if (j == has.n || has.ids[j] != all[i])
                idset_add(out, &all[i], 1);
        }
        cn_free(has.ids);
        return 0;
    }
    regex_t re;
    if (regcomp(&re, p->val, REG_EXTENDED | REG_NOSUB | p->cflags) != 0)
        return CN_EINVAL;
    rx_ctx_t ctx = {&re, out};
    eng__cat_tag_each(c, m, p->key, rx_each, &ctx);
    regfree(&re);
    if (out->n)
        qsort(out->ids, out->n, sizeof(uint64_t), u64cmp);
    return 0;
}

int eng_snap_select(eng_snap_t *s, const char *measurement, const eng_tag_pred_t *preds,
                    size_t npreds, uint64_t **ids)
{
    eng__cat_t *c = s->db->cat;
    *ids = NULL;
    eng__cat_rdlock(c);
    eng__meas_t *m = eng__cat_meas_by_name(c, measurement);
    if (!m) {
        eng__cat_unlock(c);
        return 0;
    }
    /* start from the first predicate that selects (= 'value' or =~): its
     * postings are a sorted subset of m's series, usually a few out of
     * thousands; else from all of m's series */
    size_t first = npreds;
    for (size_t i = 0; i < npreds && first == npreds; i++)
        if ((preds[i].op == ENG_TAG_EQ && preds[i].val[0]) || preds[i].op == ENG_TAG_REGEX)
            first = i;
    idset_t cur = {0};
    int rc = 0;
    if (first < npreds) {
        rc = pred_match(c, m, &preds[first], &cur);
    } else {
        size_t n;
        const uint64_t *all = eng__cat_meas_series(c, m, &n);
        idset_add(&cur, all, n);
    }
    for (size_t i = 0; i < npreds && rc == 0; i++) {
        if (i == first)
            continue;
        idset_t mt = {0};
        rc = pred_match(c, m, &preds[i], &mt);
        bool neg = preds[i].op == ENG_TAG_NE || preds[i].op == ENG_TAG_NREGEX;
        size_t o = 0, j = 0;
        for (size_t k = 0; k < cur.n; k++) {
            while (j < mt.n && mt.ids[j] < cur.ids[k])
                j++;
            bool in = j < mt.n && mt.ids[j] == cur.ids[k];
            if (in != neg)
                cur.ids[o++] = cur.ids[k];
        }
        cur.n = o;
        cn_free(mt.ids);
    }
    eng__cat_unlock(c);
    if (rc < 0) {
        cn_free(cur.ids);
        return rc;
    }
    *ids = cur.ids;
    return (int)cur.n;
}

int eng_snap_series_tags(eng_snap_t *s, uint64_t sid, const eng_tag_t **tags, uint32_t *ntags)
{
    eng__cat_t *c = s->db->cat;
    eng__cat_rdlock(c);
    eng__series_t *se = eng__cat_series_get(c, sid);
    eng__cat_unlock(c);
    if (!se)
        return CN_ENOTFOUND;
    *tags = se->tags;
    *ntags = se->ntags;
    return 0;
}

typedef struct tv_ctx {
    const char **vals;
    size_t n, cap;
} tv_ctx_t;

static void tv_each(void *arg, const char *val, const uint64_t *ids, size_t n)
{
    (void)ids;
    (void)n;
    tv_ctx_t *t = arg;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->vals = cn_realloc(t->vals, t->cap * sizeof(char *));
    }
    t->vals[t->n++] = val;
}

static int strpcmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int eng_snap_tag_keys(eng_snap_t *s, const char *measurement, const char ***keys)
{
    eng__cat_t *c = s->db->cat;
    const char **k = NULL;
    uint32_t n = 0;
    eng__cat_rdlock(c);
    eng__meas_t *m = eng__cat_meas_by_name(c, measurement);
    if (m && m->ntagkeys) {
        k = cn_malloc(m->ntagkeys * sizeof *k);
        n = eng__cat_tag_keys(c, m, k);
    }
    eng__cat_unlock(c);
    if (n > 1)
        qsort(k, n, sizeof *k, strpcmp);
    *keys = k;
    return (int)n;
}

int eng_snap_tag_values(eng_snap_t *s, const char *measurement, const char *key, const char ***vals)
{
    eng__cat_t *c = s->db->cat;
    tv_ctx_t t = {0};
    eng__cat_rdlock(c);
    eng__meas_t *m = eng__cat_meas_by_name(c, measurement);
    if (m)
        eng__cat_tag_each(c, m, key, tv_each, &t);
    eng__cat_unlock(c);
    if (t.n)
        qsort(t.vals, t.n, sizeof(char *), strpcmp);
    *vals = t.vals;
    return (int)t.n;
}

/* ------------------------------------------------------------- iterator */

/* A source of a series' rows: a stored block or a memtable chunk. */
typedef struct src {
    eng__seg_t *seg; /* NULL: memtable chunk mc */
    const eng__blkmeta_t *b;
    const eng__mtchunk_t *mc;
    int64_t tmin, tmax;
    uint64_t seq; /* the segment's seq_max, the chunk's newest row */
    uint32_t ord; /* memtable chunks: arrival order (imm before active) */
} src_t;

struct eng_iter {
    eng_snap_t *snap;
    uint64_t sid;
    uint32_t mid;
    uint32_t nf;
    uint32_t *fids;
    uint8_t *types;
    int64_t tmin, tmax;
    src_t *srcs;
    uint32_t nsrcs, pos;
    eng__mtchunk_t *mcs; /* memtable chunk descriptions srcs point into */
    eng__tomb_t *tombs;
    uint32_t ntombs;
    eng__rows_t cur;
    uint32_t cur_pos, cur_end;
    bool cur_whole;
    bool no_ts; /* eng_iter_no_times */
    bool any_order; /* eng_iter_any_order */
    /* any_order: unit[i] > 0 when a split group has a unit of that many
     * sources starting at source i (split_group) */
    uint32_t *unit;
    eng__scratch_t *sc;
    uint32_t nsc;
    uint32_t *memord; /* load_group scratch */
    const void **vptr;
    const uint8_t **validptr;
    eng_stat_t *stats;
};

static int src_cmp(const void *a, const void *b)
{
    const src_t *x = a, *y = b;
    if (x->tmin != y->tmin)
        return x->tmin < y->tmin ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return x->ord < y->ord ? -1 : x->ord > y->ord;
}

static void add_src(eng_iter_t *it, uint32_t *cap, const src_t *s)
{
    if (it->nsrcs == *cap) {
        *cap *= 2;
        it->srcs = cn_realloc(it->srcs, *cap * sizeof *it->srcs);
    }
    it->srcs[it->nsrcs++] = *s;
}

static void collect_sources(eng_iter_t *it)
{
    eng__version_t *v = it->snap->v;
    uint32_t cap = 8;
    it->srcs = cn_malloc(cap * sizeof *it->srcs);
    for (uint32_t p = 0; p < v->nparts; p++) {
        int64_t end = eng__part_end(it->snap->db, v->parts[p].start);
        if (v->parts[p].start >= it->tmax || (end <= it->tmin && end != INT64_MAX))
            continue;
        for (uint32_t s = 0; s < v->parts[p].nsegs; s++) {
            eng__seg_t *seg = v->parts[p].segs[s];
            uint32_t first, cnt = eng__seg_find(seg, it->sid, &first);
            for (uint32_t b = first; b < first + cnt; b++) {
                const eng__blkmeta_t *bm = &seg->blocks[b];
                if (bm->tmax < it->tmin || bm->tmin >= it->tmax)
                    continue;
                src_t sr = {.seg = seg, .b = bm, .tmin = bm->tmin, .tmax = bm->tmax,
                            .seq = seg->seq_max};
                add_src(it, &cap, &sr);
            }
        }
    }
    /* Memtable chunks: the immutable memtable's (older) first. */
    eng__mtchunk_t *mi = NULL, *ma = NULL;
    uint32_t ni = v->imm ? eng__mt_chunks(v->imm, it->sid, it->tmin, it->tmax, it->snap->seq, &mi) : 0;
    uint32_t na = eng__mt_chunks(v->active, it->sid, it->tmin, it->tmax, it->snap->seq, &ma);
    it->mcs = cn_malloc((ni + na + 1) * sizeof *it->mcs);
    if (ni)
        memcpy(it->mcs, mi, ni * sizeof *mi);
    if (na)
        memcpy(it->mcs + ni, ma, na * sizeof *ma);
    cn_free(mi);
    cn_free(ma);
    for (uint32_t i = 0; i < ni + na; i++) {
        const eng__mtchunk_t *mc = &it->mcs[i];
        src_t sr = {.mc = mc, .tmin = mc->tmin, .tmax = mc->tmax, .seq = mc->seq_hi, .ord = i};
        add_src(it, &cap, &sr);
    }
    if (it->nsrcs > 1)
        qsort(it->srcs, it->nsrcs, sizeof *it->srcs, src_cmp);
}

int eng_iter_open(eng_snap_t *s, uint64_t sid, const uint32_t *field_ids, size_t nfields,
                  int64_t tmin, int64_t tmax, eng_iter_t **out)
{
    eng__cat_t *c = s->db->cat;
    eng__cat_rdlock(c);
    eng__series_t *se = eng__cat_series_get(c, sid);
    eng__meas_t *m = se ? eng__cat_meas_by_id(c, se->mid) : NULL;
    int rc = m ? 0 : CN_ENOTFOUND;
    eng_iter_t *it = NULL;
    if (rc == 0) {
        it = cn_calloc(1, sizeof *it);
        it->nf = (uint32_t)nfields;
        it->fids = cn_malloc((nfields + 1) * sizeof(uint32_t));
        it->types = cn_malloc(nfields + 1);
        for (size_t f = 0; f < nfields && rc == 0; f++) {
            if (field_ids[f] >= m->nfields)
                rc = CN_EINVAL;
            else {
                it->fids[f] = field_ids[f];
                it->types[f] = (uint8_t)m->fields[field_ids[f]].type;
            }
        }
        it->mid = m->id;
    }
    eng__cat_unlock(c);
    if (rc < 0) {
        if (it) {
            cn_free(it->fids);
            cn_free(it->types);
            cn_free(it);
        }
        return rc;
    }
    it->snap = s;
    it->sid = sid;
    it->tmin = tmin;
    it->tmax = tmax;
    eng__version_t *v = s->v;
    it->tombs = cn_malloc((v->ntombs + 1) * sizeof *it->tombs);
    for (uint32_t t = 0; t < v->ntombs; t++)
        if (v->tombs[t].mid == it->mid && (v->tombs[t].sid == 0 || v->tombs[t].sid == sid) &&
            v->tombs[t].seq <= s->seq && v->tombs[t].tmin < tmax && v->tombs[t].tmax > tmin)
            it->tombs[it->ntombs++] = v->tombs[t];
    collect_sources(it);
    eng__rows_init(&it->cur, it->nf, it->fids, it->types);
    it->vptr = cn_calloc(nfields + 1, sizeof(void *));
    it->validptr = cn_calloc(nfields + 1, sizeof(uint8_t *));
    it->stats = cn_calloc(nfields + 1, sizeof(eng_stat_t));
    *out = it;
    return 0;
}

void eng_iter_close(eng_iter_t *it)
{
    if (!it)
        return;
    eng__rows_free(&it->cur);
    cn_free(it->mcs);
    cn_free(it->memord);
    for (uint32_t i = 0; i < it->nsc; i++)
        eng__scratch_free(&it->sc[i]);
    cn_free(it->sc);
    cn_free(it->srcs);
    cn_free(it->unit);
    cn_free(it->tombs);
    cn_free(it->fids);
    cn_free(it->types);
    cn_free(it->vptr);
    cn_free(it->validptr);
    cn_free(it->stats);
    cn_free(it);
}

static uint32_t src_rows(const src_t *s)
{
    return s->seg ? s->b->rows : s->mc->rows;
}

static int i64cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The timestamps of source src, ascending, in *ts (cn_malloc'd; a stored
 * block's all, a memtable chunk's visible ones in the range).  Returns
 * their count, or UINT32_MAX when the block does not decode. */
static uint32_t src_times(const eng_iter_t *it, const src_t *src, int64_t **ts)
{
    eng__rows_t r;
    eng__rows_init(&r, 0, NULL, NULL);
    int rc = 0;
    if (src->seg) {
        eng__scratch_t sc = {0};
        rc = eng__seg_decode(src->seg, src->b, &r, &sc, 0);
        eng__scratch_free(&sc);
    } else {
        eng__mt_chunk_rows(src->mc, it->tmin, it->tmax, it->snap->seq, &r);
        bool sorted = true;
        for (uint32_t i = 1; i < r.n && sorted; i++)
            sorted = r.ts[i - 1] <= r.ts[i];
        if (!sorted)
            qsort(r.ts, r.n, sizeof *r.ts, i64cmp);
    }
    uint32_t n = rc < 0 ? UINT32_MAX : r.n;
    *ts = NULL;
    if (rc == 0) {
        *ts = cn_malloc((r.n + 1) * sizeof **ts);
        if (r.n)
            memcpy(*ts, r.ts, r.n * sizeof **ts);
    }
    eng__rows_free(&r);
    return n;
}

/* The first of the ascending times a[0, n) at or after t. */
static uint32_t times_lower(const int64_t *a, uint32_t n, int64_t t)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (a[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Do two ascending time lists share a time?  Walks only where both
 * reach; *work grows by the steps taken. */
static bool times_meet(const int64_t *a, uint32_t na, const int64_t *b, uint32_t nb, uint64_t *work)
{
    if (!na || !nb)
        return false;
    uint32_t i = times_lower(a, na, b[0]), j = times_lower(b, nb, a[0]);
    *work += 64;
    while (i < na && j < nb) {
        ++*work;
        if (a[i] == b[j])
            return true;
        if (a[i] < b[j])
            i++;
        else
            j++;
    }
    return false;
}

/* split_group's bounds: a group of more sources, or one whose comparisons
 * would take more steps than SPLIT_WORK per row it holds (writes shuffled
 * over the whole range: every chunk spans it all, and the comparisons grew
 * with the square of the chunks - 72 times the merge's time for 200 000
 * shuffled rows), is merged whole as without eng_iter_any_order. */
#define SPLIT_MAX_SOURCES 1024
#define SPLIT_WORK        8

/*
 * eng_iter_any_order: splits the group of sources [pos, pos+nb) into units
 * that can be read apart.  A source that shares no timestamp with another
 * source of the group (two chunks of one memtable whose later one is
 * ts_new share none; any other two sources whose spans meet are compared
 * time by time) loses nothing by being read alone: its rows come out of
 * the group's merge unchanged, and so do the others'.  Such sources become
 * units of one, first and in time order, and the rest one unit after them
 * (sources reordered in place, unit[] set for every unit's first source).
 */
static void split_group(eng_iter_t *it, uint32_t pos, uint32_t nb)
{
    src_t *g = &it->srcs[pos];
    if (!it->unit)
        it->unit = cn_calloc(it->nsrcs, sizeof *it->unit);
    if (nb > SPLIT_MAX_SOURCES) {
        it->unit[pos] = nb;
        return;
    }
    uint8_t *shared = cn_calloc(nb, 1);
    int64_t **ts = cn_calloc(nb, sizeof *ts);
    uint32_t *nts = cn_malloc(nb * sizeof *nts);
    uint64_t work = 0, budget = 4096;
    for (uint32_t i = 0; i < nb; i++) {
        nts[i] = UINT32_MAX - 1; /* not read yet */
        budget += SPLIT_WORK * (uint64_t)src_rows(&g[i]);
    }
    for (uint32_t i = 0; i < nb && work <= budget; i++)
        for (uint32_t j = i + 1; j < nb && work <= budget; j++) {
            const src_t *x = &g[i], *y = &g[j];
            if ((shared[i] && shared[j]) || x->tmin > y->tmax || y->tmin > x->tmax)
                continue;
            if (x->mc && y->mc && x->mc->mt == y->mc->mt && x->mc != y->mc &&
                (x->mc->idx > y->mc->idx ? x->mc : y->mc)->ts_new)
                continue;
            for (uint32_t k = i; k <= j; k += j - i)
                if (nts[k] == UINT32_MAX - 1) {
                    nts[k] = src_times(it, &g[k], &ts[k]);
                    work += src_rows(&g[k]);
                }
            if (nts[i] == UINT32_MAX || nts[j] == UINT32_MAX ||
                times_meet(ts[i], nts[i], ts[j], nts[j], &work))
                shared[i] = shared[j] = 1;
        }
    if (work > budget) /* gave up: the whole group is one unit */
        memset(shared, 1, nb);
    /* alone ones first (in time order), then the rest */
    src_t *tmp = cn_malloc(nb * sizeof *tmp);
    uint32_t na = 0, o = 0;
    for (uint32_t i = 0; i < nb; i++)
        if (!shared[i])
            tmp[o++] = g[i];
    na = o;
    for (uint32_t i = 0; i < nb; i++)
        if (shared[i])
            tmp[o++] = g[i];
    memcpy(g, tmp, nb * sizeof *g);
    for (uint32_t i = 0; i < na; i++)
        it->unit[pos + i] = 1;
    if (na < nb)
        it->unit[pos + na] = nb - na;
    for (uint32_t i = 0; i < nb; i++)
        cn_free(ts[i]);
    cn_free(tmp);
    cn_free(ts);
    cn_free(nts);
    cn_free(shared);
}

/* The next group: sources [pos, pos+nb), a maximal run whose time spans
 * overlap, or with eng_iter_any_order the next unit of a split group.
 * Returns false at the end. */
static bool plan_group(eng_iter_t *it, uint32_t *nb)
{
    if (it->pos >= it->nsrcs)
        return false;
    if (it->unit && it->unit[it->pos]) {
        *nb = it->unit[it->pos];
        return true;
    }
    uint32_t b = it->pos;
    int64_t ge = it->srcs[b++].tmax;
    while (b < it->nsrcs && it->srcs[b].tmin <= ge) {
        ge = CN_MAX(ge, it->srcs[b].tmax);
        b++;
    }
    *nb = b - it->pos;
    if (it->any_order && *nb > 1) {
        split_group(it, it->pos, *nb);
        *nb = it->unit[it->pos];
    }
    return true;
}

/* True when source i can be used as is: it has stats, lies inside the
 * range, and no tombstone that could delete one of its rows overlaps it. */
static bool block_clean(const eng_iter_t *it, uint32_t i)
{
    const src_t *s = &it->srcs[i];
    if (s->tmin < it->tmin || s->tmax >= it->tmax)
        return false;
    uint64_t oldest; /* seq of its oldest row */
    if (s->seg) {
        if (!s->b->has_stats)
            return false;
        oldest = s->seg->seq_max;
    } else {
        if (!s->mc->st)
            return false;
        oldest = s->mc->seq_lo;
    }
    for (uint32_t t = 0; t < it->ntombs; t++)
        if (it->tombs[t].seq > oldest && it->tombs[t].tmin <= s->tmax &&
            it->tombs[t].tmax > s->tmin)
            return false;
    return true;
}

/* Stats of the requested fields.  A source's columns mostly come in the
 * order of the field ids asked for (every field, as count(*) asks), so
 * the search starts where the last one was found.  With a search over
 * every column for every field this was a quarter of count(*)'s profile
 * over 'medium', now a fifth: the rest is the stats' cache misses. */
static void block_stats(const eng_iter_t *it, const src_t *src, eng_stat_t *stats)
{
    uint32_t n = src->seg ? src->b->ncols : src->mc->nst, c = 0;
    for (uint32_t f = 0; f < it->nf; f++) {
        bool found = false;
        for (uint32_t k = 0; k < n && !found; k++, c = c + 1 < n ? c + 1 : 0) {
            if (src->seg) {
                const eng__colmeta_t *cm = &src->b->cols[c];
                if (cm->fid == it->fids[f] && cm->type == it->types[f]) {
                    stats[f] = src->seg->stats[cm->stat];
                    found = true;
                }
            } else if (src->mc->st_fids[c] == it->fids[f] && src->mc->st_types[c] == it->types[f]) {
                stats[f] = src->mc->st[c];
                found = true;
            }
        }
        if (!found) {
            memset(&stats[f], 0, sizeof stats[f]);
            stats[f].tmin = src->tmin;
            stats[f].tmax = src->tmax;
        }
    }
}

int eng_iter_peek_stats(eng_iter_t *it, eng_stat_t *stats, uint32_t *rows)
{
    uint32_t nb;
    if (it->cur_pos < it->cur_end || !plan_group(it, &nb))
        return 0;
    if (nb != 1 || !block_clean(it, it->pos))
        return 0;
    block_stats(it, &it->srcs[it->pos], stats);
    *rows = src_rows(&it->srcs[it->pos]);
    return 1;
}

void eng_iter_no_times(eng_iter_t *it)
{
    it->no_ts = true;
}

void eng_iter_any_order(eng_iter_t *it)
{
    it->any_order = true;
}

void eng_iter_skip(eng_iter_t *it)
{
    if (it->pos < it->nsrcs)
        it->pos++;
}

static eng__scratch_t *scratch(eng_iter_t *it, uint32_t i)
{
    if (i >= it->nsc) {
        it->sc = cn_realloc(it->sc, (i + 1) * sizeof *it->sc);
        memset(it->sc + it->nsc, 0, (i + 1 - it->nsc) * sizeof *it->sc);
        it->nsc = i + 1;
    }
    return &it->sc[i];
}

static int load_group(eng_iter_t *it)
{
    uint32_t nb;
    if (!plan_group(it, &nb))
        return 0;
    eng__rows_reset(&it->cur);
    for (uint32_t i = 0; i < it->nsc; i++)
        eng__scratch_reset(&it->sc[i]);
    it->cur_pos = 0;
    it->cur_end = 0;
    it->cur_whole = nb == 1 && block_clean(it, it->pos);
    /* Stored blocks first, then memtable rows in arrival order: the merge
     * breaks ties between equal (ts, seq) by position. */
    uint32_t nm = 0, nsc = 0;
    it->memord = cn_realloc(it->memord, nb * sizeof *it->memord);
    for (uint32_t i = 0; i < nb; i++) {
        const src_t *s = &it->srcs[it->pos + i];
        if (!s->seg) {
            uint32_t k = nm++;
            while (k > 0 && it->srcs[it->pos + it->memord[k - 1]].ord > s->ord) {
                it->memord[k] = it->memord[k - 1];
                k--;
            }
            it->memord[k] = i;
            continue;
        }
        unsigned fl = it->cur_whole ? (it->no_ts ? ENG__DEC_NO_TS : 0) : ENG__DEC_SEQ;
        int rc = eng__seg_decode(s->seg, s->b, &it->cur, scratch(it, nsc++), fl);
        if (rc < 0)
            return rc;
    }
    /* room for every chunk's rows at once (growing per chunk reallocated
     * each column several times) */
    uint32_t mrows = 0;
    for (uint32_t k = 0; k < nm; k++)
        mrows += it->srcs[it->pos + it->memord[k]].mc->rows;
    eng__rows_reserve(&it->cur, mrows);
    for (uint32_t k = 0; k < nm; k++)
        eng__mt_chunk_rows(it->srcs[it->pos + it->memord[k]].mc, it->tmin, it->tmax,
                           it->snap->seq, &it->cur);
    if (it->cur_whole) {
        block_stats(it, &it->srcs[it->pos], it->stats);
        it->pos++;
        it->cur_end = it->cur.n;
        return 1;
    }
    it->pos += nb;
    /* Tombstones first: a deleted row must not lend its fields to a newer
     * row with the same timestamp. */
    eng__apply_tombs(it->tombs, it->ntombs, it->mid, it->sid, &it->cur);
    eng__rows_sort_merge(&it->cur);
    eng__rows_clip(&it->cur, it->tmin, it->tmax);
    it->cur_end = it->cur.n;
    return 1;
}

uint32_t eng_iter_tell(const eng_iter_t *it)
{
    return it->pos;
}

void eng_iter_seek(eng_iter_t *it, uint32_t at)
{
    it->pos = CN_MIN(at, it->nsrcs);
    eng__rows_reset(&it->cur);
    it->cur_pos = it->cur_end = 0;
}

bool eng_iter_skip_group(eng_iter_t *it)
{
    uint32_t nb;
    if (it->cur_pos < it->cur_end) {
        it->cur_pos = it->cur_end;
        return true;
    }
    if (!plan_group(it, &nb))
        return false;
    it->pos += nb;
    return true;
}

static uint64_t src_seq_lo(const src_t *s)
{
    return s->seg ? s->seg->seq_max : s->mc->seq_lo;
}

/* May source x hold a row that overwrites one of y's (same time, a later
 * write)?  Stored rows carry their segment's seq_max; the merge breaks
 * seq ties by position, so an equal seq counts. */
static bool may_overwrite(const src_t *x, const src_t *y)
{
    /* two chunks of one memtable's series share no timestamp when the
     * later one says so (memtable.c NOTES 6) */
    if (x->mc && y->mc && x->mc->mt == y->mc->mt && x->mc != y->mc &&
        (x->mc->idx > y->mc->idx ? x->mc : y->mc)->ts_new)
        return false;
    return x->tmin <= y->tmax && x->tmax >= y->tmin && x->seq >= src_seq_lo(y);
}

/* Is v beyond the bound b in the wanted direction (NaN never is)? */
static bool beyond(eng_type_t t, bool want_max, const eng_value_t *v, const eng_value_t *b)
{
    if (t == ENG_T_FLOAT)
        return want_max ? v->f > b->f : v->f < b->f;
    return want_max ? v->i > b->i : v->i < b->i;
}

static eng_value_t row_value(const eng__rows_t *r, uint32_t f, eng_type_t t, uint32_t i)
{
    eng_value_t x;
    if (t == ENG_T_FLOAT)
        x.f = ((const double *)r->vals[f])[i];
    else
        x.i = ((const int64_t *)r->vals[f])[i];
    return x;
}

/* Does no later write of row i's timestamp (a row setting f with a
 * greater (seq, position), the merge's order) override its f? */
static bool row_stands(const eng__rows_t *r, const uint8_t *ok, uint32_t i)
{
    for (uint32_t j = 0; j < r->n; j++)
        if (j != i && r->ts[j] == r->ts[i] && ok[j] &&
            (r->seq[j] > r->seq[i] || (r->seq[j] == r->seq[i] && j > i)))
            return false;
    return true;
}

/*
 * The extreme of field f beyond *best among the unsorted rows of several
 * sources, as the sorted and merged rows would give it, without sorting
 * and merging them (that was a fifth of bench/run query's Q3): the best
 * value V among the rows (in [tmin, tmax), beyond *best) is found in one
 * pass; its rows, earliest first, are checked for a later write of their
 * timestamp that overrides f; the first that stands is the answer.  When
 * every row of V was overridden, the next round looks below V.  Returns 1
 * (*best, *ts set), 0 when no row stands beyond *best, 2 when V has more
 * than EXTREME_TIES rows or EXTREME_ROUNDS rounds found nothing (the
 * caller merges instead).
 */
#define EXTREME_TIES   64
#define EXTREME_ROUNDS 8

/* extreme_unsorted's first pass over a float column, compiled once per
 * direction: the generic loop (a value built and its type tested per row)
 * took 25 instructions a row, a third of Q3's (bench/run query). */
static inline __attribute__((always_inline)) bool
best_f64(const eng__rows_t *r, const uint8_t *ok, uint32_t f, bool want_max, int64_t tmin,
         int64_t tmax, double bound, bool capped, double cap, double *out)
{
    const double *vals = r->vals[f];
    const int64_t *ts = r->ts;
    bool have = false;
    double v = 0;
    for (uint32_t i = 0; i < r->n; i++) {
        if (!ok[i] || ts[i] < tmin || ts[i] >= tmax)
            continue;
        double x = vals[i];
        /* beyond the bound and, after a round, not beyond its cap (NaN
         * never is) */
        if (!(want_max ? x > bound : x < bound) || (capped && !(want_max ? cap > x : cap < x)))
            continue;
        if (!have || (want_max ? x > v : x < v)) {
            v = x;
            have = true;
        }
    }
    *out = v;
    return have;
}
static int extreme_unsorted(const eng__rows_t *r, uint32_t f, eng_type_t t, bool want_max,
                            int64_t tmin, int64_t tmax, eng_value_t *best, int64_t *ts)
{
    const uint8_t *ok = r->valid[f];
    bool capped = false;
    eng_value_t cap = {0};
    for (int round = 0; round < EXTREME_ROUNDS; round++) {
        bool have = false;
        eng_value_t v = {0};
        if (t == ENG_T_FLOAT) {
            have = want_max ? best_f64(r, ok, f, true, tmin, tmax, best->f, capped, cap.f, &v.f)
                            : best_f64(r, ok, f, false, tmin, tmax, best->f, capped, cap.f, &v.f);
        } else {
            for (uint32_t i = 0; i < r->n; i++) {
                if (!ok[i] || r->ts[i] < tmin || r->ts[i] >= tmax)
                    continue;
                eng_value_t x = row_value(r, f, t, i);
                if (!beyond(t, want_max, &x, best) ||
                    (capped && !beyond(t, want_max, &cap, &x)))
                    continue;
                if (!have || beyond(t, want_max, &x, &v)) {
                    v = x;
                    have = true;
                }
            }
        }
        if (!have)
            return 0;
        uint32_t tie[EXTREME_TIES], nt = 0; /* V's rows by time */
        const double *fv = t == ENG_T_FLOAT ? r->vals[f] : NULL;
        for (uint32_t i = 0; i < r->n; i++) {
            if (!ok[i] || r->ts[i] < tmin || r->ts[i] >= tmax)
                continue;
            if (fv) {
                /* equal to V, which is beyond *best (NaN never equals) */
                if (fv[i] != v.f)
                    continue;
            } else {
                eng_value_t x = row_value(r, f, t, i);
                if (!beyond(t, want_max, &x, best) || beyond(t, want_max, &x, &v) ||
                    beyond(t, want_max, &v, &x))
                    continue;
            }
            if (nt == EXTREME_TIES)
                return 2;
            uint32_t k = nt++;
            for (; k > 0 && r->ts[tie[k - 1]] > r->ts[i]; k--)
                tie[k] = tie[k - 1];
            tie[k] = i;
        }
        for (uint32_t k = 0; k < nt; k++)
            if (row_stands(r, ok, tie[k])) {
                *best = row_value(r, f, t, tie[k]);
                *ts = r->ts[tie[k]];
                return 1;
            }
        cap = v;
        capped = true;
    }
    return 2;
}

/*
 * The group's sources that can matter for "a value of field f beyond
 * above": those whose stats allow one (or that have no usable stats), and
 * every source that may overwrite one of their rows.  A row of any other
 * source holds no value of f beyond `above` (its stats say so), and the
 * rows of the chosen ones come out of the merge exactly as in the whole
 * group, since every later write to their times is loaded with them.
 */
int eng_iter_group_extreme(eng_iter_t *it, uint32_t f, bool want_max, const eng_value_t *above,
                           int64_t *ts, eng_value_t *v, uint32_t *rows)
{
    uint32_t nb;
    *rows = 0;
    if (it->cur_pos < it->cur_end || f >= it->nf || !plan_group(it, &nb))
        return 2;
    eng_type_t t = (eng_type_t)it->types[f];
    if (t != ENG_T_FLOAT && t != ENG_T_INT)
        return 2;
    src_t *g = &it->srcs[it->pos];
    uint8_t *want = cn_calloc(nb, 1);
    for (uint32_t i = 0; i < nb; i++) {
        bool has = g[i].seg ? g[i].b->has_stats : g[i].mc->st != NULL;
        if (!has) {
            want[i] = 1;
            continue;
        }
        block_stats(it, &g[i], it->stats);
        const eng_stat_t *st = &it->stats[f];
        const eng_value_t *x = want_max ? &st->max : &st->min;
        if (st->count && (beyond(t, want_max, x, above) || (t == ENG_T_FLOAT && isnan(x->f))))
            want[i] = 1;
    }
    for (uint32_t i = 0; i < nb; i++)
        for (uint32_t j = 0; j < nb && !want[i]; j++)
            if (want[j] == 1 && may_overwrite(&g[i], &g[j]))
                want[i] = 2;
    /* as load_group: stored blocks in order, then memtable chunks in
     * arrival order */
    eng__rows_reset(&it->cur);
    for (uint32_t i = 0; i < it->nsc; i++)
        eng__scratch_reset(&it->sc[i]);
    it->cur_pos = it->cur_end = 0;
    uint32_t nm = 0, nsc = 0;
    int rc = 0;
    it->memord = cn_realloc(it->memord, nb * sizeof *it->memord);
    for (uint32_t i = 0; i < nb && rc == 0; i++) {
        if (!want[i])
            continue;
        if (!g[i].seg) {
            uint32_t k = nm++;
            while (k > 0 && g[it->memord[k - 1]].ord > g[i].ord) {
                it->memord[k] = it->memord[k - 1];
                k--;
            }
            it->memord[k] = i;
            continue;
        }
        rc = eng__seg_decode(g[i].seg, g[i].b, &it->cur, scratch(it, nsc++), ENG__DEC_SEQ);
    }
    cn_free(want);
    if (rc < 0)
        return rc;
    for (uint32_t k = 0; k < nm; k++)
        eng__mt_chunk_rows(g[it->memord[k]].mc, it->tmin, it->tmax, it->snap->seq, &it->cur);
    it->pos += nb;
    *rows = it->cur.n;
    eng__apply_tombs(it->tombs, it->ntombs, it->mid, it->sid, &it->cur);
    eng_value_t best = *above;
    int found = extreme_unsorted(&it->cur, f, t, want_max, it->tmin, it->tmax, &best, ts);
    if (found != 2) {
        eng__rows_reset(&it->cur);
        if (found)
            *v = best;
        return found;
    }
    found = 0;
    eng__rows_sort_merge(&it->cur);
    eng__rows_clip(&it->cur, it->tmin, it->tmax);
    const uint8_t *ok = it->cur.valid[f];
    for (uint32_t r = 0; r < it->cur.n; r++) {
        if (!ok[r])
            continue;
        eng_value_t x = row_value(&it->cur, f, t, r);
        if (beyond(t, want_max, &x, &best)) {
            best = x;
            *ts = it->cur.ts[r];
            found = 1;
        }
    }
    eng__rows_reset(&it->cur);
    if (found)
        *v = best;
    return found;
}

int eng_iter_next(eng_iter_t *it, eng_batch_t *b)
{
    while (it->cur_pos >= it->cur_end) {
        int rc = load_group(it);
        if (rc <= 0)
            return rc;
    }
    const eng__rows_t *vw = &it->cur;
    uint32_t off = it->cur_pos, n = CN_MIN((uint32_t)ENG_BATCH, it->cur_end - off);
    for (uint32_t f = 0; f < it->nf; f++) {
        it->vptr[f] = (const uint8_t *)vw->vals[f] + (size_t)off * eng__type_size(it->types[f]);
        it->validptr[f] = vw->valid[f] + off;
    }
    b->n = n;
    b->ts = it->cur_whole && it->no_ts ? NULL : vw->ts + off;
    b->vals = it->vptr;
    b->valid = it->validptr;
    b->whole_block = it->cur_whole && off == 0 && n == it->cur_end;
    b->stats = b->whole_block ? it->stats : NULL;
    it->cur_pos += n;
    return 1;
}
