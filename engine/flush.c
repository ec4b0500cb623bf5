/* SPDX-License-Identifier: MIT */
/*
 * flush.c - the background thread: memtable flush, compaction, retention.
 *
 * Flush protocol (crash-safe at every step):
 *   1. under wmu: freeze the active memtable (it becomes `imm` in a new
 *      version, readers keep seeing it), start a new one, rotate the WAL
 *      (boundary = last seq in the frozen data), take the catalog journal
 *      and a copy of the tombstones;
 *   2. write one segment per partition touched (tmp, fsync, rename);
 *   3. append the catalog journal to catalog.log (fsync), rewrite the
 *      tombstones file, then write MANIFEST with flushed_seq = boundary:
 *      this is the commit point; segments with seq_max > flushed_seq found
 *      at open come from an unfinished flush and are deleted (the WAL
 *      still has their rows);
 *   4. publish a version with the new segments and without `imm`;
 *   5. delete WAL files whose records all have seq <= boundary.
 *
 * Compaction merges all segments of a partition into one (last write wins
 * per field, tombstones applied), records the ids it replaces in the new
 * file, publishes it, and retires the inputs (unlinked when the last
 * reader lets go).  A crash between writing the output and unlinking the
 * inputs is repaired at open (engine.c).
 *
 * NOTES
 * 1. flushmu serialises flush, compaction and retention; readers never
 *    take it.
 * 2. Compaction always takes every segment of a partition that exists when
 *    it starts, so the output's seq_max ordering against later flushes holds.
 */
#include "engine_int.h"

#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

void eng__version_add_seg(eng__version_t *v, eng__seg_t *s);

typedef struct pwriter {
    int64_t start;
    eng__segw_t *w;
    uint64_t id;
    char path[PATH_MAX];
} pwriter_t;

typedef struct flushctx {
    eng_db_t *db;
    pwriter_t *pw;
    uint32_t npw;
    int64_t cutoff;       /* retention: rows before this are dropped */
    eng__version_t *prev; /* flush: the segments already stored (borrowed) */
    /* the memtables that stay beside the rows being written (borrowed): a
     * flush's prev (imm: the rows written, active: what came since), a
     * compaction's version at its start (active) */
    const eng__version_t *mem;
} flushctx_t;

static int pw_get(flushctx_t *fc, int64_t start, eng__segw_t **out)
{
    for (uint32_t i = 0; i < fc->npw; i++) {
        if (fc->pw[i].start == start) {
            *out = fc->pw[i].w;
            return 0;
        }
    }
    eng_db_t *db = fc->db;
    char pdir[PATH_MAX / 2];
    eng__part_dir(db, start, pdir, sizeof pdir);
    int rc = cn_mkdirs(pdir, 0755);
    if (rc < 0)
        return rc;
    fc->pw = cn_realloc(fc->pw, (fc->npw + 1) * sizeof *fc->pw);
    pwriter_t *p = &fc->pw[fc->npw];
    p->start = start;
    p->id = db->next_seg_id++;
    snprintf(p->path, sizeof p->path, "%s/seg-%016llx.cseg", pdir, (unsigned long long)p->id);
    rc = eng__segw_open(p->path, p->id, start, db->o.compress, db->o.zstd_level, &p->w);
    if (rc < 0)
        return rc;
    eng__segw_stats_min(p->w, db->o.stats_min_rows);
    fc->npw++;
    *out = p->w;
    return 0;
}

/* Newest timestamp of sid stored in partition `start` of fc->prev, or
 * INT64_MIN. */
static int64_t stored_newest(const flushctx_t *fc, uint64_t sid, int64_t start)
{
    int64_t newest = INT64_MIN;
    const eng__version_t *v = fc->prev;
    for (uint32_t p = 0; v && p < v->nparts; p++) {
        if (v->parts[p].start != start)
            continue;
        for (uint32_t s = 0; s < v->parts[p].nsegs; s++) {
            const eng__seg_t *seg = v->parts[p].segs[s];
            uint32_t first, cnt = eng__seg_find(seg, sid, &first);
            for (uint32_t b = first; b < first + cnt; b++)
                newest = CN_MAX(newest, seg->blocks[b].tmax);
        }
    }
    return newest;
}

/* How far back the series' rows arrived in memtable mt: the most by which
 * a chunk's first time lies before the newest time of the chunks that
 * arrived before it (0: in order).  Two writers a little apart give a few
 * rows' worth; a writer that lags another (a slower connection, a gateway
 * sending its backlog) gives how far it is behind. */
static int64_t mt_lag(eng__mt_t *mt, uint64_t sid)
{
    if (!mt)
        return 0;
    eng__mtchunk_t *mc = NULL;
    uint32_t n = eng__mt_chunks(mt, sid, INT64_MIN, INT64_MAX, UINT64_MAX, &mc);
    int64_t hi = INT64_MIN, lag = 0, d;
    for (uint32_t k = 0; k < n; k++) {
        if (k && hi > mc[k].tmin)
            lag = CN_MAX(lag, __builtin_sub_overflow(hi, mc[k].tmin, &d) ? INT64_MAX : d);
        hi = CN_MAX(hi, mc[k].tmax);
    }
    cn_free(mc);
    return lag;
}

/*
 * The time from which the rows of sid in the partition from `start` up to
 * `last` (the newest being written) are likely to meet rows not written
 * yet: the first time of the active memtable's rows at or before `last`
 * (late rows already there), and `last` less twice the lag the memtables
 * show (mt_lag: a lagging writer's rows for the times before `last` are
 * still to come).  INT64_MAX: nothing points to late rows.
 */
static int64_t tail_cut(const flushctx_t *fc, uint64_t sid, int64_t start, int64_t last)
{
    int64_t cut = INT64_MAX, back;
    eng__mtchunk_t *mc = NULL;
    uint32_t n = eng__mt_chunks(fc->mem->active, sid, start, last == INT64_MAX ? last : last + 1,
                                UINT64_MAX, &mc);
    for (uint32_t k = 0; k < n; k++)
        cut = CN_MIN(cut, CN_MAX(mc[k].tmin, start));
    cn_free(mc);
    int64_t lag = CN_MAX(mt_lag(fc->mem->imm, sid), mt_lag(fc->mem->active, sid));
    if (lag > 0) {
        bool under =
            __builtin_mul_overflow(lag, 2, &back) || __builtin_sub_overflow(last, back, &back);
        cut = CN_MIN(cut, under ? INT64_MIN : back);
    }
    return cut;
}

/* Writes rows [from, to) into evenly sized blocks of at most block_rows. */
static int write_blocks(eng_db_t *db, eng__segw_t *w, uint64_t sid, const eng__rows_t *r,
                        uint32_t from, uint32_t to)
{
    if (from >= to)
        return 0;
    uint32_t n = to - from, nb = (n + db->o.block_rows - 1) / db->o.block_rows;
    uint32_t per = (n + nb - 1) / nb;
    for (uint32_t k = from; k < to; k += per) {
        int rc = eng__segw_add(w, sid, r, k, CN_MIN(per, to - k));
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Writes rows (sorted, unique ts) of sid, split by partition and into
 * evenly sized blocks of at most block_rows.
 *
 * A flush (fc->prev set) keeps its blocks from overlapping stored ones, so
 * that readers can use their stats (read.c decodes every block that
 * overlaps another source): when writers race a memtable swap, a few rows
 * per series land in the next memtable with timestamps at or before the
 * newest row already flushed.  Such late rows (ts <= the newest stored ts
 * of the series in the partition) get blocks of their own.  When late
 * rows show up (in this flush, or already in the active memtable), or the
 * memtables show a writer lagging behind (tail_cut), the newest rows get
 * tail blocks of their own: at least the newest memtable_chunk_rows, and
 * every row from tail_cut's time on.  The tail is then all that the late
 * rows of the next flush (and the memtable chunks) overlap.  A compaction
 * (fc->mem without fc->prev) cuts its output's tail the same way, against
 * the memtable rows that stay.  Without late rows the layout is the plain
 * one. */
static int write_rows(flushctx_t *fc, uint64_t sid, const eng__rows_t *r,
                      eng__segw_t *(*fixed)(void *), void *farg)
{
    eng_db_t *db = fc->db;
    uint32_t i = 0;
    while (i < r->n && r->ts[i] < fc->cutoff)
        i++;
    while (i < r->n) {
        int64_t start = eng__part_start(db, r->ts[i]);
        int64_t end = eng__part_end(db, start);
        uint32_t j = i;
        while (j < r->n && eng__part_holds(start, end, r->ts[j]))
            j++;
        eng__segw_t *w = NULL;
        int rc = 0;
        if (fixed)
            w = fixed(farg);
        else
            rc = pw_get(fc, start, &w);
        if (rc < 0)
            return rc;
        uint32_t late = i, tail = j;
        if (fc->prev) {
            int64_t newest = stored_newest(fc, sid, start);
            while (late < j && r->ts[late] <= newest)
                late++;
        }
        uint32_t t = db->o.memtable_chunk_rows ? db->o.memtable_chunk_rows : ENG__MT_CHUNK_ROWS;
        if (fc->mem && j - late > 2 * t) {
            int64_t cut = tail_cut(fc, sid, start, r->ts[j - 1]);
            if (late > i || cut <= r->ts[j - 1]) {
                tail = eng__rows_lower(r, late, j - t, cut); /* at most j - t */
                if (tail - late < t) /* no block too small for stats between */
                    tail = late;
            }
        }
        if ((rc = write_blocks(db, w, sid, r, i, late)) < 0 ||
            (rc = write_blocks(db, w, sid, r, late, tail)) < 0 ||
            (rc = write_blocks(db, w, sid, r, tail, j)) < 0)
            return rc;
        i = j;
    }
    return 0;
}

static int flush_memtable(flushctx_t *fc, eng__mt_t *mt, const eng__tomb_t *tombs, uint32_t ntombs)
{
    eng_db_t *db = fc->db;
    uint64_t *sids;
    size_t n = eng__mt_sids(mt, &sids);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint32_t *fids;
        uint8_t *types;
        uint32_t nf = eng__mt_fields(mt, sids[i], &fids, &types);
        eng__rows_t r;
        eng__rows_init(&r, nf, fids, types);
        eng__mt_extract(mt, sids[i], INT64_MIN, INT64_MAX, UINT64_MAX, &r);
        eng__cat_rdlock(db->cat);
        eng__series_t *s = eng__cat_series_get(db->cat, sids[i]);
        uint32_t mid = s ? s->mid : UINT32_MAX;
        eng__cat_unlock(db->cat);
        /* Tombstones before merging: see read.c. */
        eng__apply_tombs(tombs, ntombs, mid, sids[i], &r);
        eng__rows_sort_merge(&r);
        if (r.n)
            rc = write_rows(fc, sids[i], &r, NULL, NULL);
        eng__rows_free(&r);
        cn_free(fids);
        cn_free(types);
    }
    cn_free(sids);
    return rc;
}

static int64_t retention_cutoff(eng_db_t *db)
{
    int64_t keep = atomic_load(&db->retention_ns);
    if (keep <= 0)
        return INT64_MIN;
    return cn_clock_now(&db->o.clock) - keep;
}

/* Finishes the partition writers and opens the results. */
static int finish_writers(flushctx_t *fc, uint64_t seq_max, eng__seg_t ***segs)
{
    int rc = 0;
    *segs = cn_calloc(fc->npw + 1, sizeof **segs);
    for (uint32_t i = 0; i < fc->npw; i++) {
        pwriter_t *p = &fc->pw[i];
        if (rc < 0 || eng__segw_blocks(p->w) == 0) {
            eng__segw_abort(p->w);
            continue;
        }
        int64_t sz = eng__segw_finish(p->w, seq_max);
        if (sz < 0) {
            rc = (int)sz;
            continue;
        }
        char pdir[PATH_MAX / 2];
        eng__part_dir(fc->db, p->start, pdir, sizeof pdir);
        if ((rc = cn_fsync_dir(pdir)) == 0)
            rc = eng__seg_open(p->path, &(*segs)[i]);
    }
    return rc;
}

int eng__flush_now(eng_db_t *db)
{
    pthread_mutex_lock(&db->flushmu);
    /* 1. freeze */
    pthread_mutex_lock(&db->wmu);
    eng__mt_t *imm = db->active;
    cn_buf_t journal;
    cn_buf_init(&journal);
    eng__cat_journal_take(db->cat, &journal);
    if (eng__mt_rows(imm) == 0 && journal.len == 0 && db->ntombs == db->cur->ntombs &&
        (db->flushed_seq == eng__wal_last_seq(db->wal) ||
         db->ckpt_seq == eng__wal_last_seq(db->wal))) {
        pthread_mutex_unlock(&db->wmu);
        pthread_mutex_unlock(&db->flushmu);
        return 0;
    }
    uint64_t boundary = eng__wal_last_seq(db->wal);
    eng__wal_rotate(db->wal);
    db->active = eng__mt_new(db->o.memtable_chunk_rows);
    uint32_t ntombs = db->ntombs;
    eng__tomb_t *tombs = cn_malloc((ntombs + 1) * sizeof *tombs);
    if (ntombs)
        memcpy(tombs, db->tombs, ntombs * sizeof *tombs);
    eng__version_t *v = eng__version_copy(db->cur);
    eng__mt_unref(v->active);
    v->active = db->active;
    eng__mt_ref(v->active);
    v->imm = imm;
    eng__mt_ref(imm);
    eng__version_install(db, v);
    eng__version_t *prev = eng__version_get(db);
    pthread_mutex_unlock(&db->wmu);

    /* 2. write segments */
    flushctx_t fc = {db, NULL, 0, retention_cutoff(db), prev, prev};
    int rc = flush_memtable(&fc, imm, tombs, ntombs);
    eng__version_unref(prev);
    eng__seg_t **segs = NULL;
    int rc2 = finish_writers(&fc, boundary, &segs);
    if (rc == 0)
        rc = rc2;
    /* 3. commit */
    if (rc == 0)
        rc = eng__cat_persist(db->cat, &journal);
    if (rc == 0)
        rc = eng__write_tombs(db, tombs, ntombs);
    if (rc == 0)
        rc = eng__write_manifest(db, boundary);
    if (rc < 0) {
        cn_error("engine: flush failed: %s; data stays in the WAL", cn_strerror(rc));
        for (uint32_t i = 0; i < fc.npw; i++)
            if (segs[i]) {
                segs[i]->unlink_on_free = true;
                eng__seg_unref(segs[i]);
            }
        /* The frozen memtable stays visible as imm until a later flush. */
        cn_free(segs);
        cn_free(fc.pw);
        cn_free(tombs);
        cn_buf_free(&journal);
        pthread_mutex_unlock(&db->flushmu);
        return rc;
    }
    db->flushed_seq = boundary;
    /* 4. publish */
    pthread_mutex_lock(&db->wmu);
    v = eng__version_copy(db->cur);
    eng__mt_unref(v->imm);
    v->imm = NULL;
    for (uint32_t i = 0; i < fc.npw; i++)
        if (segs[i])
            eng__version_add_seg(v, segs[i]);
    eng__version_install(db, v);
    pthread_mutex_unlock(&db->wmu);
    eng__mt_unref(imm);
    pthread_mutex_lock(&db->bgmu);
    pthread_cond_broadcast(&db->donecv); /* writers waiting for room */
    pthread_mutex_unlock(&db->bgmu);
    cn_mem_trim();
    /* 5. drop covered WAL files: a checkpoint record makes the WAL thread
     * start the next file even if no write comes, so the file holding the
     * flushed records stops being current and can go. */
    uint8_t ck[8];
    cn_st64(ck, boundary);
    uint64_t ckseq = 0;
    pthread_mutex_lock(&db->wmu);
    rc = eng__wal_append(db->wal, WREC_CHECKPOINT, ck, sizeof ck, &ckseq);
    pthread_mutex_unlock(&db->wmu);
    if (rc == 0) {
        db->ckpt_seq = ckseq;
        rc = eng__wal_wait(db->wal, ckseq);
    }
    if (rc == 0)
        rc = eng__wal_drop_upto(db->wal, boundary);
    atomic_fetch_add(&db->flushes, 1);
    cn_free(segs);
    cn_free(fc.pw);
    cn_free(tombs);
    cn_buf_free(&journal);
    pthread_mutex_unlock(&db->flushmu);
    return rc;
}

/* ----------------------------------------------------------- compaction */

typedef struct fixedw {
    eng__segw_t *w;
} fixedw_t;

static eng__segw_t *fixed_get(void *arg)
{
    return ((fixedw_t *)arg)->w;
}

/* Merges every block of sid in segs into rows. */
static int gather_series(eng__seg_t **segs, uint32_t nsegs, uint64_t sid, eng__rows_t *out,
                         eng__scratch_t *sc)
{
    /* Union of columns. */
    uint32_t nf = 0, cap = 16;
    uint32_t *fids = cn_malloc(cap * sizeof *fids);
    uint8_t *types = cn_malloc(cap);
    for (uint32_t s = 0; s < nsegs; s++) {
        uint32_t first, cnt = eng__seg_find(segs[s], sid, &first);
        for (uint32_t b = first; b < first + cnt; b++) {
            const eng__blkmeta_t *bm = &segs[s]->blocks[b];
            for (uint32_t c = 0; c < bm->ncols; c++) {
                uint32_t k = 0;
                while (k < nf && !(fids[k] == bm->cols[c].fid && types[k] == bm->cols[c].type))
                    k++;
                if (k < nf)
                    continue;
                if (nf == cap) {
                    cap *= 2;
                    fids = cn_realloc(fids, cap * sizeof *fids);
                    types = cn_realloc(types, cap);
                }
                fids[nf] = bm->cols[c].fid;
                types[nf++] = bm->cols[c].type;
            }
        }
    }
    eng__rows_init(out, nf, fids, types);
    cn_free(fids);
    cn_free(types);
    int rc = 0;
    for (uint32_t s = 0; s < nsegs && rc == 0; s++) {
        uint32_t first, cnt = eng__seg_find(segs[s], sid, &first);
        for (uint32_t b = first; b < first + cnt && rc == 0; b++)
            rc = eng__seg_decode(segs[s], &segs[s]->blocks[b], out, &sc[s], ENG__DEC_SEQ);
    }
    return rc;
}

/* Strings decoded into per-segment scratch must outlive the merge, so each
 * input segment has its own scratch (see eng__seg_decode). */
static int compact_partition(eng_db_t *db, const eng__version_t *mem, eng__part_t *pt,
                             const eng__tomb_t *tombs, uint32_t ntombs)
{
    char pdir[PATH_MAX / 2], path[PATH_MAX];
    eng__part_dir(db, pt->start, pdir, sizeof pdir);
    uint64_t id = __atomic_fetch_add(&db->next_seg_id, 1, __ATOMIC_SEQ_CST);
    snprintf(path, sizeof path, "%s/seg-%016llx.cseg", pdir, (unsigned long long)id);
    fixedw_t fw;
    int rc = eng__segw_open(path, id, pt->start, db->o.compress, db->o.zstd_level, &fw.w);
    if (rc < 0)
        return rc;
    eng__segw_stats_min(fw.w, db->o.stats_min_rows);
    uint64_t seq_max = 0;
    for (uint32_t s = 0; s < pt->nsegs; s++) {
        eng__segw_replaces(fw.w, pt->segs[s]->id);
        seq_max = CN_MAX(seq_max, pt->segs[s]->seq_max);
    }
    uint32_t *pos = cn_calloc(pt->nsegs, sizeof *pos);
    eng__scratch_t *sc = cn_calloc(pt->nsegs, sizeof *sc);
    flushctx_t fc = {db, NULL, 0, retention_cutoff(db), NULL, mem};
    for (;;) {
        uint64_t sid = UINT64_MAX;
        for (uint32_t s = 0; s < pt->nsegs; s++)
            if (pos[s] < pt->segs[s]->nblocks)
                sid = CN_MIN(sid, pt->segs[s]->blocks[pos[s]].sid);
        if (sid == UINT64_MAX)
            break;
        eng__rows_t r;
        rc = gather_series(pt->segs, pt->nsegs, sid, &r, sc);
        if (rc == 0) {
            eng__cat_rdlock(db->cat);
            eng__series_t *se = eng__cat_series_get(db->cat, sid);
            uint32_t mid = se ? se->mid : UINT32_MAX;
            eng__cat_unlock(db->cat);
            eng__apply_tombs(tombs, ntombs, mid, sid, &r);
            eng__rows_sort_merge(&r);
            if (r.n)
                rc = write_rows(&fc, sid, &r, fixed_get, &fw);
        }
        eng__rows_free(&r);
        for (uint32_t s = 0; s < pt->nsegs; s++)
            eng__scratch_reset(&sc[s]);
        if (rc < 0)
            break;
        for (uint32_t s = 0; s < pt->nsegs; s++)
            while (pos[s] < pt->segs[s]->nblocks && pt->segs[s]->blocks[pos[s]].sid == sid)
                pos[s]++;
    }
    for (uint32_t s = 0; s < pt->nsegs; s++)
        eng__scratch_free(&sc[s]);
    cn_free(sc);
    cn_free(pos);
    if (rc < 0) {
        eng__segw_abort(fw.w);
        return rc;
    }
    int64_t sz = eng__segw_finish(fw.w, seq_max);
    if (sz < 0)
        return (int)sz;
    if ((rc = cn_fsync_dir(pdir)) < 0)
        return rc;
    eng__seg_t *out = NULL;
    if ((rc = eng__seg_open(path, &out)) < 0)
        return rc;
    /* Publish: replace exactly the inputs (a flush may have added more). */
    pthread_mutex_lock(&db->wmu);
    eng__version_t *v = eng__version_copy(db->cur);
    for (uint32_t p = 0; p < v->nparts; p++) {
        eng__part_t *vp = &v->parts[p];
        if (vp->start != pt->start)
            continue;
        uint32_t o = 0;
        for (uint32_t s = 0; s < vp->nsegs; s++) {
            bool input = false;
            for (uint32_t k = 0; k < pt->nsegs; k++)
                input |= vp->segs[s] == pt->segs[k];
            if (input) {
                vp->segs[s]->unlink_on_free = true;
                eng__seg_unref(vp->segs[s]);
            } else {
                vp->segs[o++] = vp->segs[s];
            }
        }
        vp->nsegs = o;
    }
    if (out->nblocks)
        eng__version_add_seg(v, out);
    else {
        out->unlink_on_free = true;
        eng__seg_unref(out);
    }
    eng__version_install(db, v);
    pthread_mutex_unlock(&db->wmu);
    atomic_fetch_add(&db->compactions, 1);
    return 0;
}

/* Compacts partitions with at least min_segs segments. */
static int compact_all(eng_db_t *db, uint32_t min_segs)
{
    pthread_mutex_lock(&db->flushmu);
    eng__version_t *v = eng__version_get(db);
    pthread_mutex_lock(&db->wmu);
    uint32_t ntombs = db->ntombs;
    eng__tomb_t *tombs = cn_malloc((ntombs + 1) * sizeof *tombs);
    if (ntombs)
        memcpy(tombs, db->tombs, ntombs * sizeof *tombs);
    pthread_mutex_unlock(&db->wmu);
    int rc = 0;
    for (uint32_t p = 0; p < v->nparts && rc == 0; p++) {
        bool tomb_hits = false;
        for (uint32_t t = 0; t < ntombs; t++)
            for (uint32_t s = 0; s < v->parts[p].nsegs; s++)
                tomb_hits |= tombs[t].seq > v->parts[p].segs[s]->seq_max &&
                             tombs[t].tmin < eng__part_end(db, v->parts[p].start) &&
                             tombs[t].tmax > v->parts[p].start;
        if (v->parts[p].nsegs >= min_segs || (min_segs <= 2 && tomb_hits))
            rc = compact_partition(db, v, &v->parts[p], tombs, ntombs);
    }
    eng__version_unref(v);
    cn_free(tombs);
    pthread_mutex_unlock(&db->flushmu);
    return rc;
}

int eng_compact(eng_db_t *db)
{
    return compact_all(db, 2);
}

int eng_flush(eng_db_t *db)
{
    return eng__flush_now(db);
}

/* ------------------------------------------------------------ retention */

int eng_retention_run(eng_db_t *db)
{
    if (atomic_load(&db->retention_ns) <= 0)
        return 0;
    int64_t cutoff = retention_cutoff(db);
    pthread_mutex_lock(&db->flushmu);
    pthread_mutex_lock(&db->wmu);
    eng__version_t *v = eng__version_copy(db->cur);
    uint32_t o = 0, dropped = 0;
    for (uint32_t p = 0; p < v->nparts; p++) {
        eng__part_t *pt = &v->parts[p];
        if (eng__part_end(db, pt->start) > cutoff) {
            v->parts[o++] = *pt;
            continue;
        }
        for (uint32_t s = 0; s < pt->nsegs; s++) {
            pt->segs[s]->unlink_on_free = true;
            eng__seg_unref(pt->segs[s]);
        }
        cn_free(pt->segs);
        dropped++;
        char pdir[PATH_MAX / 2];
        eng__part_dir(db, pt->start, pdir, sizeof pdir);
        cn_info("engine: retention drops partition %s", pdir);
        /* Readers that still map a segment keep its pages; the names go now
         * (the later unlink on release finds nothing, which is fine). */
        int rrc = cn_rmtree(pdir);
        if (rrc < 0)
            cn_warn("engine: cannot remove %s: %s", pdir, cn_strerror(rrc));
    }
    v->nparts = o;
    eng__version_install(db, v);
    pthread_mutex_unlock(&db->wmu);
    atomic_fetch_add(&db->parts_dropped, dropped);
    if (dropped)
        eng__lvc_invalidate(db->lvc);
    pthread_mutex_unlock(&db->flushmu);
    return (int)dropped;
}

/* -------------------------------------------------------------- thread */

static void *bg_main(void *arg)
{
    eng_db_t *db = arg;
    int64_t last_retention = 0;
    pthread_mutex_lock(&db->bgmu);
    while (!db->stop) {
        if (!db->flush_req && !db->compact_req) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 10;
            pthread_cond_timedwait(&db->bgcv, &db->bgmu, &ts);
        }
        if (db->stop)
            break;
        bool flush = db->flush_req;
        db->flush_req = false;
        uint64_t gen = db->flush_gen;
        pthread_mutex_unlock(&db->bgmu);
        int rc = 0;
        if (flush) {
            rc = eng__flush_now(db);
            if (rc == 0)
                rc = compact_all(db, 4);
        }
        if (cn_mono_ns() - last_retention > 60LL * 1000000000LL) {
            last_retention = cn_mono_ns();
            eng_retention_run(db);
        }
        pthread_mutex_lock(&db->bgmu);
        if (rc < 0)
            db->bg_error = rc;
        db->flush_done = gen;
        pthread_cond_broadcast(&db->donecv);
    }
    pthread_mutex_unlock(&db->bgmu);
    return NULL;
}

int eng__bg_start(eng_db_t *db)
{
    int rc = pthread_create(&db->bg, NULL, bg_main, db);
    if (rc != 0)
        return -rc;
    db->bg_running = true;
    return 0;
}

void eng__bg_stop(eng_db_t *db)
{
    if (!db->bg_running)
        return;
    pthread_mutex_lock(&db->bgmu);
    db->stop = true;
    pthread_cond_signal(&db->bgcv);
    pthread_mutex_unlock(&db->bgmu);
    pthread_join(db->bg, NULL);
    db->bg_running = false;
}
