/* SPDX-License-Identifier: MIT */
/*
 * engine.c - opening, recovering, writing to and closing a cairn data
 * directory.
 *
 * Directory layout:
 *   DIR/LOCK             flock()ed by the process that has the directory open
 *   DIR/MANIFEST         flushed_seq and next segment id (format below)
 *   DIR/catalog.log      measurements, fields, series (catalog.c)
 *   DIR/tombstones       pending deletes (format below)
 *   DIR/wal/             write-ahead log files (wal.c)
 *   DIR/data/p-<sec>/    one folder per time partition, named by its start
 *                        in seconds since the epoch (may be negative)
 *     seg-<16 hex id>.cseg   immutable segment files (segment.c)
 *
 * MANIFEST (32 bytes): "CNMANIF1", u32 version 1, u32 CRC-32C of bytes
 * 0..11 and 16..31, u64 flushed_seq, u64 next segment id.  Written
 * atomically (tmp, fsync, rename, fsync dir) as the commit point of a flush.
 *
 * tombstones: "CNTOMBS1", u32 version 1, u32 count, u32 CRC-32C of the
 * entries, then count x (u32 measurement id, u64 sid or 0 for all series,
 * i64 tmin, i64 tmax, u64 seq).  Rewritten atomically at each flush.
 *
 * WAL record payloads (types in engine_int.h):
 *   CATALOG: catalog records back to back (catalog.c format)
 *   WRITE:   uv npoints, then per point: uv sid, sv ts, uv nfields, and per
 *            field uv field id then the value by the field's catalog type:
 *            float 8 bytes LE, int sv, bool u8, string uv len + bytes
 *   DELETE:  u32 measurement id, sv tmin, sv tmax, uv nsids, uv sid...
 *            (nsids 0 = every series of the measurement)
 *   DROP:    uv nsids, uv sid...
 *   CHECKPOINT: u64 flushed_seq.  Appended after each flush so the WAL
 *            moves on to a new file even when no write follows, letting
 *            the flushed file be deleted; ignored by replay.
 *
 * Recovery (eng_open):
 *   1. read MANIFEST (absent: flushed_seq 0);
 *   2. load catalog.log and tombstones;
 *   3. open every segment, verifying all checksums; delete leftovers:
 *      *.tmp files, segments with seq_max > flushed_seq (from a flush that
 *      did not reach its MANIFEST) and segments replaced by a compaction
 *      output that exists;
 *   4. replay the WAL: catalog records always (idempotent), other records
 *      only when seq > flushed_seq, into a fresh memtable.
 *
 * Write path (eng_write), under wmu: resolve catalog entries (new ones go
 * into a CATALOG record first), encode one WRITE record, append it to the
 * WAL buffer (no I/O), insert the rows into the active memtable with the
 * record's seq.  Durability is the WAL thread's business.
 */
#include "codec/codec.h"
#include "engine_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY_NS (86400LL * 1000000000LL)

const char *eng_type_name(eng_type_t t)
{
    switch (t) {
    case ENG_T_FLOAT:
        return "float";
    case ENG_T_INT:
        return "integer";
    case ENG_T_BOOL:
        return "boolean";
    case ENG_T_STRING:
        return "string";
    default:
        return "none";
    }
}

void eng_opts_default(eng_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->dir = "./cairn-data";
    o->durability = ENG_DUR_FSYNC;
    o->partition_ns = DAY_NS;
    o->memtable_bytes = 256u << 20;
    o->wal_segment_bytes = 64u << 20;
    o->wal_buffer_max = 256u << 20;
    o->group_commit_us = 0;
    o->compress = ENG_COMP_ZSTD;
    o->zstd_level = 3;
    o->block_rows = 8192;
    o->stats_min_rows = 16;
    o->memtable_chunk_rows = ENG__MT_CHUNK_ROWS;
    o->background = true;
    o->clock = cn_clock_system();
}

/* ------------------------------------------------------------ versions */

eng__version_t *eng__version_get(eng_db_t *db)
{
    pthread_mutex_lock(&db->vmu);
    eng__version_t *v = db->cur;
    atomic_fetch_add(&v->refs, 1);
    pthread_mutex_unlock(&db->vmu);
    return v;
}

void eng__version_unref(eng__version_t *v)
{
    if (!v || atomic_fetch_sub(&v->refs, 1) != 1)
        return;
    eng__mt_unref(v->active);
    eng__mt_unref(v->imm);
    for (uint32_t p = 0; p < v->nparts; p++) {
        for (uint32_t s = 0; s < v->parts[p].nsegs; s++)
            eng__seg_unref(v->parts[p].segs[s]);
        cn_free(v->parts[p].segs);
    }
    cn_free(v->parts);
    cn_free(v->tombs);
    cn_free(v);
}

eng__version_t *eng__version_copy(const eng__version_t *v)
{
    eng__version_t *n = cn_calloc(1, sizeof *n);
    atomic_init(&n->refs, 1);
    n->active = v->active;
    if (n->active)
        eng__mt_ref(n->active);
    n->imm = v->imm;
    if (n->imm)
        eng__mt_ref(n->imm);
    n->nparts = v->nparts;
    n->parts = cn_calloc(v->nparts ? v->nparts : 1, sizeof *n->parts);
    for (uint32_t p = 0; p < v->nparts; p++) {
        n->parts[p].start = v->parts[p].start;
        n->parts[p].nsegs = v->parts[p].nsegs;
        n->parts[p].segs = cn_malloc((v->parts[p].nsegs + 1) * sizeof(eng__seg_t *));
        for (uint32_t s = 0; s < v->parts[p].nsegs; s++) {
            n->parts[p].segs[s] = v->parts[p].segs[s];
            eng__seg_ref(n->parts[p].segs[s]);
        }
    }
    n->ntombs = v->ntombs;
    n->tombs = cn_malloc((v->ntombs ? v->ntombs : 1) * sizeof *n->tombs);
    if (v->ntombs)
        memcpy(n->tombs, v->tombs, v->ntombs * sizeof *n->tombs);
    return n;
}

void eng__version_install(eng_db_t *db, eng__version_t *v)
{
    pthread_mutex_lock(&db->vmu);
    eng__version_t *old = db->cur;
    db->cur = v;
    pthread_mutex_unlock(&db->vmu);
    eng__version_unref(old);
}

/* Partitions near the ends of time: the first one representable starts at
 * INT64_MIN (its true start lies below), the last one ends at INT64_MAX
 * (which it holds).  Arithmetic in 128 bits, no signed overflow. */
__extension__ typedef __int128 part_i128_t;

static part_i128_t part_floor(const eng_db_t *db, int64_t ts)
{
    int64_t w = db->o.partition_ns;
    int64_t q = ts / w;
    if (ts % w < 0)
        q--;
    return (part_i128_t)q * w;
}

int64_t eng__part_start(const eng_db_t *db, int64_t ts)
{
    part_i128_t s = part_floor(db, ts);
    return s < INT64_MIN ? INT64_MIN : (int64_t)s;
}

int64_t eng__part_end(const eng_db_t *db, int64_t start)
{
    part_i128_t e = part_floor(db, start) + db->o.partition_ns;
    return e > INT64_MAX ? INT64_MAX : (int64_t)e;
}

void eng__part_dir(const eng_db_t *db, int64_t start, char *buf, size_t n)
{
    snprintf(buf, n, "%s/p-%lld", db->datadir, (long long)(start / 1000000000LL));
}

/* Inserts segment s (taking its reference) into version v. */
static void version_add_seg(eng__version_t *v, eng__seg_t *s)
{
    uint32_t p = 0;
    while (p < v->nparts && v->parts[p].start < s->part_start)
        p++;
    if (p == v->nparts || v->parts[p].start != s->part_start) {
        v->parts = cn_realloc(v->parts, (v->nparts + 1) * sizeof *v->parts);
        memmove(v->parts + p + 1, v->parts + p, (v->nparts - p) * sizeof *v->parts);
        v->nparts++;
        v->parts[p].start = s->part_start;
        v->parts[p].nsegs = 0;
        v->parts[p].segs = NULL;
    }
    eng__part_t *pt = &v->parts[p];
    pt->segs = cn_realloc(pt->segs, (pt->nsegs + 1) * sizeof *pt->segs);
    uint32_t i = pt->nsegs;
    while (i > 0 && pt->segs[i - 1]->seq_max > s->seq_max) {
        pt->segs[i] = pt->segs[i - 1];
        i--;
    }
    pt->segs[i] = s;
    pt->nsegs++;
}

/* Exposed for flush.c through a thin wrapper to keep one implementation. */
void eng__version_add_seg(eng__version_t *v, eng__seg_t *s);
void eng__version_add_seg(eng__version_t *v, eng__seg_t *s)
{
    version_add_seg(v, s);
}

/* ---------------------------------------------------------- manifest */

int eng__write_manifest(eng_db_t *db, uint64_t flushed_seq)
{
    uint8_t m[32];
    memcpy(m, "CNMANIF1", 8);
    cn_st32(m + 8, 1);
    cn_st64(m + 16, flushed_seq);
    cn_st64(m + 24, db->next_seg_id);
    uint32_t crc = cn_crc32c(0, m, 12);
    cn_st32(m + 12, cn_crc32c(crc, m + 16, 16));
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/MANIFEST", db->dir);
    return cn_file_write_atomic(path, m, sizeof m);
}

/* Reads DIR/name into *p; returns 1 when read, 0 when absent, or -errno. */
static int read_meta(const eng_db_t *db, const char *name, char *path, size_t pathlen, uint8_t **p,
                     size_t *n)
{
    snprintf(path, pathlen, "%s/%s", db->dir, name);
    int rc = cn_file_read_all(path, p, n);
    if (rc == -ENOENT)
        return 0;
    return rc < 0 ? rc : 1;
}

static int read_manifest(eng_db_t *db)
{
    char path[PATH_MAX];
    uint8_t *p;
    size_t n;
    int rc = read_meta(db, "MANIFEST", path, sizeof path, &p, &n);
    if (rc <= 0)
        return rc;
    uint32_t crc = n == 32 ? cn_crc32c(cn_crc32c(0, p, 12), p + 16, 16) : 0;
    if (n != 32 || memcmp(p, "CNMANIF1", 8) != 0 || crc != cn_ld32(p + 12)) {
        cn_free(p);
        cn_error("engine: %s is corrupt", path);
        return CN_CORRUPT();
    }
    if (cn_ld32(p + 8) != 1) {
        cn_free(p);
        return CN_EVERSION;
    }
    db->flushed_seq = cn_ld64(p + 16);
    db->next_seg_id = cn_ld64(p + 24);
    cn_free(p);
    return 0;
}

int eng__write_tombs(eng_db_t *db, const eng__tomb_t *t, uint32_t n)
{
    cn_buf_t b;
    cn_buf_init(&b);
    cn_buf_put(&b, "CNTOMBS1", 8);
    cn_buf_put_u32(&b, 1);
    cn_buf_put_u32(&b, n);
    cn_buf_put_u32(&b, 0);
    for (uint32_t i = 0; i < n; i++) {
        cn_buf_put_u32(&b, t[i].mid);
        cn_buf_put_u64(&b, t[i].sid);
        cn_buf_put_u64(&b, (uint64_t)t[i].tmin);
        cn_buf_put_u64(&b, (uint64_t)t[i].tmax);
        cn_buf_put_u64(&b, t[i].seq);
    }
    cn_st32(b.p + 16, cn_crc32c(0, b.p + 20, b.len - 20));
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/tombstones", db->dir);
    int rc = cn_file_write_atomic(path, b.p, b.len);
    cn_buf_free(&b);
    return rc;
}

static void tomb_add(eng_db_t *db, const eng__tomb_t *t)
{
    if (db->ntombs == db->captombs) {
        db->captombs = db->captombs ? db->captombs * 2 : 8;
        db->tombs = cn_realloc(db->tombs, db->captombs * sizeof *db->tombs);
    }
    db->tombs[db->ntombs++] = *t;
}

static int read_tombs(eng_db_t *db)
{
    char path[PATH_MAX];
    uint8_t *p;
    size_t n;
    int rc = read_meta(db, "tombstones", path, sizeof path, &p, &n);
    if (rc <= 0)
        return rc;
    uint32_t cnt = n >= 20 ? cn_ld32(p + 12) : 0;
    if (n < 20 || memcmp(p, "CNTOMBS1", 8) != 0 || n != 20 + (size_t)cnt * 36 ||
        cn_crc32c(0, p + 20, n - 20) != cn_ld32(p + 16)) {
        cn_free(p);
        cn_error("engine: %s is corrupt", path);
        return CN_CORRUPT();
    }
    for (uint32_t i = 0; i < cnt; i++) {
        const uint8_t *e = p + 20 + (size_t)i * 36;
        eng__tomb_t t = {cn_ld32(e), cn_ld64(e + 4), (int64_t)cn_ld64(e + 12),
                         (int64_t)cn_ld64(e + 20), cn_ld64(e + 28)};
        tomb_add(db, &t);
    }
    cn_free(p);
    return 0;
}

void eng__apply_tombs(const eng__tomb_t *t, uint32_t n, uint32_t mid, uint64_t sid, eng__rows_t *r)
{
    for (uint32_t i = 0; i < n; i++)
        if (t[i].mid == mid && (t[i].sid == 0 || t[i].sid == sid))
            eng__rows_delete(r, t[i].tmin, t[i].tmax, t[i].seq);
}

/* ------------------------------------------------------------ segments */

static bool id_replaced(uint64_t id, eng__seg_t **segs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < segs[i]->nreplaces; k++)
            if (segs[i]->replaces[k] == id)
                return true;
    return false;
}

static int load_partition(eng_db_t *db, const char *pdir, eng__seg_t ***segs, size_t *nsegs)
{
    DIR *d = opendir(pdir);
    if (!d)
        return -errno;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL && rc == 0) {
        char path[PATH_MAX + 256];
        snprintf(path, sizeof path, "%s/%s", pdir, e->d_name);
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".tmp") == 0) {
            cn_info("engine: removing unfinished %s", path);
            unlink(path);
            continue;
        }
        if (len < 5 || strcmp(e->d_name + len - 5, ".cseg") != 0)
            continue;
        eng__seg_t *s;
        rc = eng__seg_open(path, &s);
        if (rc < 0) {
            cn_error("engine: segment %s failed verification: %s", path, cn_strerror(rc));
            break;
        }
        if (s->seq_max > db->flushed_seq) {
            cn_info("engine: removing %s from an unfinished flush", path);
            s->unlink_on_free = true;
            eng__seg_unref(s);
            continue;
        }
        *segs = cn_realloc(*segs, (*nsegs + 1) * sizeof **segs);
        (*segs)[(*nsegs)++] = s;
    }
    closedir(d);
    return rc;
}

static int load_segments(eng_db_t *db, eng__version_t *v)
{
    DIR *d = opendir(db->datadir);
    if (!d)
        return -errno;
    eng__seg_t **segs = NULL;
    size_t nsegs = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL && rc == 0) {
        if (strncmp(e->d_name, "p-", 2) != 0)
            continue;
        char pdir[PATH_MAX];
        snprintf(pdir, sizeof pdir, "%s/%s", db->datadir, e->d_name);
        rc = load_partition(db, pdir, &segs, &nsegs);
    }
    closedir(d);
    /* Decide for every segment before releasing any: id_replaced reads the
     * others' replace lists. */
    bool *replaced = cn_calloc(nsegs + 1, sizeof(bool));
    for (size_t i = 0; i < nsegs; i++)
        replaced[i] = id_replaced(segs[i]->id, segs, nsegs);
    for (size_t i = 0; i < nsegs; i++) {
        eng__seg_t *s = segs[i];
        if (rc == 0 && !replaced[i]) {
            if (s->id >= db->next_seg_id)
                db->next_seg_id = s->id + 1;
            version_add_seg(v, s);
            continue;
        }
        if (rc == 0) {
            cn_info("engine: removing %s, replaced by compaction", s->path);
            s->unlink_on_free = true;
        }
        eng__seg_unref(s);
    }
    cn_free(replaced);
    cn_free(segs);
    return rc;
}

/* ---------------------------------------------------------------- replay */

/* A point has at most this many fields (eng_write checks it too). */
#define REPLAY_MAX_FIELDS ENG_MAX_FIELDS

static int replay_write(eng_db_t *db, uint64_t seq, cn_rd_t *rec)
{
    cn_rd_t rd = *rec; /* a local cursor the compiler keeps in registers */
    cn_rd_t *r = &rd;
    uint64_t np;
    int rc = cn_rd_uvarint(r, &np);
    if (rc < 0)
        return rc;
    eng__mt_t *mt = db->active;
    uint32_t fids[REPLAY_MAX_FIELDS];
    uint8_t types[REPLAY_MAX_FIELDS];
    eng_value_t vals[REPLAY_MAX_FIELDS];
    eng__mt_begin(mt);
    for (uint64_t i = 0; i < np && rc == 0; i++) {
        uint64_t sid, nf;
        int64_t ts;
        if ((rc = cn_rd_uvarint(r, &sid)) < 0 || (rc = cn_rd_svarint(r, &ts)) < 0 ||
            (rc = cn_rd_uvarint(r, &nf)) < 0)
            break;
        eng__series_t *s = eng__cat_series_get(db->cat, sid);
        eng__meas_t *m = s ? eng__cat_meas_by_id(db->cat, s->mid) : NULL;
        if (!m) {
            rc = CN_CORRUPT();
            break;
        }
        if (nf > REPLAY_MAX_FIELDS) {
            rc = CN_CORRUPT();
            break;
        }
        for (uint64_t f = 0; f < nf && rc == 0; f++) {
            uint64_t fid, u;
            eng_value_t *v = &vals[f];
            if ((rc = cn_rd_uvarint(r, &fid)) < 0)
                break;
            if (fid >= m->nfields || !m->fields[fid].name) {
                rc = CN_CORRUPT();
                break;
            }
            eng_type_t t = m->fields[fid].type;
            fids[f] = (uint32_t)fid;
            types[f] = (uint8_t)t;
            const uint8_t *sp;
            switch (t) {
            case ENG_T_FLOAT: /* cn_rd_u64, inline */
                if (cn_rd_left(r) < 8) {
                    rc = CN_ETRUNC;
                } else {
                    memcpy(&v->f, r->p, 8);
                    r->p += 8;
                }
                break;
            case ENG_T_INT:
                rc = cn_rd_svarint(r, &v->i);
                break;
            case ENG_T_BOOL:
                rc = cn_rd_u8(r, &v->b);
                break;
            default:
                if ((rc = cn_rd_uvarint(r, &u)) == 0 && (rc = cn_rd_bytes(r, u, &sp)) == 0) {
                    v->s.p = (const char *)sp;
                    v->s.len = (uint32_t)u;
                }
                break;
            }
        }
        if (rc == 0)
            eng__mt_put(mt, sid, ts, seq, (uint32_t)nf, fids, types, vals);
    }
    eng__mt_end(mt);
    *rec = rd;
    return rc;
}

static int replay_delete(eng_db_t *db, uint64_t seq, cn_rd_t *r, bool drop)
{
    uint32_t mid = 0;
    int64_t tmin = INT64_MIN, tmax = INT64_MAX;
    uint64_t n;
    int rc = 0;
    if (!drop && ((rc = cn_rd_u32(r, &mid)) < 0 || (rc = cn_rd_svarint(r, &tmin)) < 0 ||
                  (rc = cn_rd_svarint(r, &tmax)) < 0))
        return rc;
    if ((rc = cn_rd_uvarint(r, &n)) < 0)
        return rc;
    if (n == 0) {
        eng__tomb_t t = {mid, 0, tmin, tmax, seq};
        tomb_add(db, &t);
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t sid;
        if ((rc = cn_rd_uvarint(r, &sid)) < 0)
            return rc;
        eng__series_t *s = eng__cat_series_get(db->cat, sid);
        if (!s)
            continue;
        eng__tomb_t t = {s->mid, sid, tmin, tmax, seq};
        tomb_add(db, &t);
        if (drop)
            eng__cat_drop(db->cat, sid, NULL);
    }
    return 0;
}

static int replay_cb(void *arg, uint64_t seq, uint8_t type, const uint8_t *p, size_t n)
{
    eng_db_t *db = arg;
    db->replayed_records++;
    if (type == WREC_CATALOG) {
        int rc = eng__cat_apply(db->cat, p, n, true);
        if (rc < 0)
            cn_error("engine: WAL record %llu: bad catalog record: %s", (unsigned long long)seq,
                     cn_strerror(rc));
        return rc;
    }
    if (seq <= db->flushed_seq)
        return 0;
    cn_rd_t r = cn_rd_make(p, n);
    int rc = 0;
    if (type == WREC_WRITE)
        rc = replay_write(db, seq, &r);
    else if (type == WREC_DELETE || type == WREC_DROP)
        rc = replay_delete(db, seq, &r, type == WREC_DROP);
    if (rc < 0) {
        cn_error("engine: WAL record %llu (type %u) is malformed: %s", (unsigned long long)seq,
                 type, cn_strerror(rc));
        return CN_CORRUPT();
    }
    return 0;
}

/* ------------------------------------------------------------ open/close */

/* One process per data directory: a second server (or a tool writing to
 * it) would interleave WAL files and flushes.  The kernel drops the lock
 * when the process dies, so a crash never leaves it stale. */
static int lock_dir(eng_db_t *db)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/LOCK", db->dir);
    db->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (db->lockfd < 0)
        return -errno;
    if (flock(db->lockfd, LOCK_EX | LOCK_NB) < 0) {
        int rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        cn_error("engine: %s is in use by another process", db->dir);
        return rc;
    }
    return 0;
}

static void db_free(eng_db_t *db)
{
    eng__wal_close(db->wal);
    eng__version_unref(db->cur);
    eng__mt_unref(db->active);
    eng__cat_close(db->cat);
    cn_buf_free(&db->wbuf);
    cn_buf_free(&db->defs);
    cn_free(db->tombs);
    cn_free(db->dir);
    cn_free(db->datadir);
    if (db->lockfd >= 0)
        close(db->lockfd);
    pthread_mutex_destroy(&db->wmu);
    eng__lvc_free(db->lvc);
    pthread_mutex_destroy(&db->vmu);
    pthread_mutex_destroy(&db->bgmu);
    pthread_mutex_destroy(&db->flushmu);
    pthread_cond_destroy(&db->bgcv);
    pthread_cond_destroy(&db->donecv);
    cn_free(db);
}

int eng_open(const eng_opts_t *o, eng_db_t **out)
{
    eng_db_t *db = cn_calloc(1, sizeof *db);
    db->o = *o;
    if (!db->o.clock.now_ns)
        db->o.clock = cn_clock_system();
    if (db->o.partition_ns <= 0)
        db->o.partition_ns = DAY_NS;
    if (db->o.block_rows == 0)
        db->o.block_rows = 8192;
    db->dir = cn_strdup(o->dir);
    db->o.dir = db->dir;
    pthread_mutex_init(&db->wmu, NULL);
    db->lvc = eng__lvc_new();
    atomic_store(&db->retention_ns, db->o.retention_ns);
    pthread_mutex_init(&db->vmu, NULL);
    pthread_mutex_init(&db->bgmu, NULL);
    pthread_mutex_init(&db->flushmu, NULL);
    pthread_cond_init(&db->bgcv, NULL);
    pthread_cond_init(&db->donecv, NULL);
    cn_buf_init(&db->wbuf);
    cn_buf_init(&db->defs);
    db->next_seg_id = 1;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/data", db->dir);
    db->datadir = cn_strdup(path);
    db->cur = cn_calloc(1, sizeof *db->cur);
    atomic_init(&db->cur->refs, 1);
    db->active = eng__mt_new(db->o.memtable_chunk_rows);
    db->cur->active = db->active;
    eng__mt_ref(db->active);
    db->lockfd = -1;
    int rc = cn_mkdirs(db->datadir, 0755);
    if (rc == 0)
        rc = lock_dir(db);
    if (rc == 0)
        rc = read_manifest(db);
    if (rc == 0)
        rc = eng__cat_open(db->dir, &db->cat);
    if (rc == 0)
        rc = read_tombs(db);
    if (rc == 0)
        rc = load_segments(db, db->cur);
    if (rc < 0)
        goto fail;
    snprintf(path, sizeof path, "%s/wal", db->dir);
    eng__wal_opts_t wo = {
        .dir = path,
        .durability = o->durability,
        .segment_bytes = o->wal_segment_bytes ? o->wal_segment_bytes : (64u << 20),
        .buffer_max = o->wal_buffer_max ? o->wal_buffer_max : (256u << 20),
        .group_commit_us = o->group_commit_us,
        .min_seq = db->flushed_seq,
        .notify = o->durable_notify,
        .notify_arg = o->durable_arg,
    };
    rc = eng__wal_open(&wo, replay_cb, db, &db->wal);
    if (rc < 0)
        goto fail;
    /* Replayed catalog entries are in the journal only if new; whatever the
     * WAL held is re-persisted at the next flush, which is harmless. */
    pthread_mutex_lock(&db->vmu);
    db->cur->tombs = cn_realloc(db->cur->tombs, (db->ntombs + 1) * sizeof *db->tombs);
    if (db->ntombs)
        memcpy(db->cur->tombs, db->tombs, db->ntombs * sizeof *db->tombs);
    db->cur->ntombs = db->ntombs;
    pthread_mutex_unlock(&db->vmu);
    eng__wal_stats_t ws;
    eng__wal_stats(db->wal, &ws);
    cn_info("engine: opened %s: %llu series, %llu WAL records replayed, %llu bytes truncated",
            db->dir, (unsigned long long)eng__cat_nseries(db->cat),
            (unsigned long long)ws.replayed_records, (unsigned long long)ws.truncated_bytes);
    if (o->background && (rc = eng__bg_start(db)) < 0)
        goto fail;
    *out = db;
    return 0;
fail:
    cn_error("engine: cannot open %s: %s", o->dir, cn_strerror(rc));
    db_free(db);
    return rc;
}

void eng_close(eng_db_t *db)
{
    if (!db)
        return;
    eng__bg_stop(db);
    int rc = eng__flush_now(db);
    if (rc < 0)
        cn_error("engine: final flush failed: %s (data stays in the WAL)", cn_strerror(rc));
    db_free(db);
}

/* ----------------------------------------------------------------- write */

static void put_value(cn_buf_t *b, eng_type_t t, const eng_value_t *v)
{
    switch (t) {
    case ENG_T_FLOAT: {
        uint64_t u;
        memcpy(&u, &v->f, 8);
        cn_buf_put_u64(b, u);
        break;
    }
    case ENG_T_INT:
        cn_buf_put_svarint(b, v->i);
        break;
    case ENG_T_BOOL:
        cn_buf_put_u8(b, v->b ? 1 : 0);
        break;
    default:
        cn_buf_put_uvarint(b, v->s.len);
        cn_buf_put(b, v->s.p, v->s.len);
        break;
    }
}

static void reject(eng_write_res_t *res, int code, uint32_t point, const char *field)
{
    res->fields_rejected++;
    if (res->first_error)
        return;
    res->first_error = code;
    res->first_error_point = point;
    snprintf(res->first_error_field, sizeof res->first_error_field, "%s", field ? field : "");
}

/* Encodes the points into db->wbuf as a WRITE record; records accepted
 * fields in fids (parallel to the points' fields, UINT32_MAX = rejected). */
static int encode_points(eng_db_t *db, const eng_point_t *pts, size_t n, eng_write_res_t *res,
                         uint64_t *sids, uint32_t *fids)
{
    cn_buf_t *b = &db->wbuf;
    cn_buf_reset(b);
    cn_buf_put_uvarint(b, n);
    size_t k = 0;
    /* above every seq a snapshot taken before this write can hold */
    uint64_t mark = eng__wal_last_seq(db->wal) + 1;
    for (size_t i = 0; i < n; i++) {
        const eng_point_t *p = &pts[i];
        eng__meas_t *m;
        int rc = eng__cat_measurement(db->cat, p->measurement, &db->defs, &m);
        if (rc == 0)
            rc = eng__cat_series(db->cat, m, p->tags, p->ntags, mark, &db->defs, &sids[i]);
        if (rc < 0)
            return rc;
        cn_buf_put_uvarint(b, sids[i]);
        cn_buf_put_svarint(b, p->ts);
        size_t nfpos = b->len;
        cn_buf_put_u8(b, 0); /* field count, patched below (1 byte if < 128) */
        uint32_t ok = 0;
        for (uint32_t f = 0; f < p->nfields; f++, k++) {
            const eng_field_t *fl = &p->fields[f];
            fids[k] = UINT32_MAX;
            rc = eng__cat_field(db->cat, m, fl->name, fl->type, &db->defs, &fids[k]);
            if (rc < 0) {
                fids[k] = UINT32_MAX;
                reject(res, rc, (uint32_t)i, fl->name);
                continue;
            }
            cn_buf_put_uvarint(b, fids[k]);
            put_value(b, fl->type, &fl->v);
            ok++;
        }
        if (ok >= 128) {
            /* Rare: re-encode the count as a wider varint. */
            uint8_t tmp[10];
            cn_buf_t t = {tmp, 0, sizeof tmp};
            cn_buf_put_uvarint(&t, ok);
            cn_buf_reserve(b, t.len - 1);
            memmove(b->p + nfpos + t.len, b->p + nfpos + 1, b->len - nfpos - 1);
            memcpy(b->p + nfpos, tmp, t.len);
            b->len += t.len - 1;
        } else {
            b->p[nfpos] = (uint8_t)ok;
        }
        if (ok)
            res->points_ok++;
        res->fields_ok += ok;
    }
    return 0;
}

/* Why a write must wait, if it must: the WAL backlog is over its limit, or
 * the memtable is full while the previous one is still being flushed (the
 * engine's memory would otherwise grow without bound when flushes fall
 * behind).  Call under wmu. */
static bool write_blocked(eng_db_t *db, bool *by_wal /* OUT, may be NULL */)
{
    bool wal = db->o.wal_buffer_max && eng__wal_backlog(db->wal) > db->o.wal_buffer_max;
    bool mem = db->cur->imm && eng__mt_bytes(db->active) >= db->o.memtable_bytes;
    if (by_wal)
        *by_wal = wal;
    return wal || mem;
}

int eng_wait_writable(eng_db_t *db)
{
    for (;;) {
        bool by_wal;
        pthread_mutex_lock(&db->wmu);
        bool blocked = write_blocked(db, &by_wal);
        uint64_t last = eng__wal_last_seq(db->wal);
        pthread_mutex_unlock(&db->wmu);
        if (!blocked)
            return 0;
        if (by_wal) {
            int rc = eng__wal_wait(db->wal, last);
            if (rc < 0)
                return rc;
            continue;
        }
        /* A flush is running: wait for its end (signalled on donecv); the
         * timeout only bounds a missed wake-up, the loop re-checks. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&db->bgmu);
        pthread_cond_timedwait(&db->donecv, &db->bgmu, &ts);
        pthread_mutex_unlock(&db->bgmu);
    }
}

static int validate(const eng_point_t *pts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!pts[i].measurement || !pts[i].measurement[0] || pts[i].nfields == 0 ||
            pts[i].nfields > ENG_MAX_FIELDS)
            return CN_EINVAL;
        for (uint32_t f = 0; f < pts[i].nfields; f++) {
            const eng_field_t *fl = &pts[i].fields[f];
            if (!fl->name || !fl->name[0] || fl->type < ENG_T_FLOAT || fl->type > ENG_T_STRING)
                return CN_EINVAL;
            if (fl->type == ENG_T_STRING && fl->v.s.len > (16u << 20))
                return CN_EINVAL;
        }
    }
    return 0;
}

int eng_write(eng_db_t *db, const eng_point_t *pts, size_t n, eng_write_res_t *res, uint64_t *seq)
{
    memset(res, 0, sizeof *res);
    *seq = 0;
    int rc = validate(pts, n);
    if (rc < 0 || n == 0)
        return rc;
    size_t nf = 0;
    for (size_t i = 0; i < n; i++)
        nf += pts[i].nfields;
    uint64_t sids_stack[256];
    uint32_t fids_stack[2048];
    uint64_t *sids = n <= 256 ? sids_stack : cn_malloc(n * sizeof *sids);
    uint32_t *fids = nf <= 2048 ? fids_stack : cn_malloc(nf * sizeof *fids);
    pthread_mutex_lock(&db->wmu);
    if (write_blocked(db, NULL)) {
        rc = CN_EFULL;
        goto out;
    }
    cn_buf_reset(&db->defs);
    rc = encode_points(db, pts, n, res, sids, fids);
    if (rc < 0)
        goto out;
    uint64_t s = 0;
    if (db->defs.len &&
        (rc = eng__wal_append(db->wal, WREC_CATALOG, db->defs.p, db->defs.len, &s)) < 0)
        goto out;
    if (res->fields_ok == 0) {
        rc = 0;
        goto out;
    }
    if ((rc = eng__wal_append(db->wal, WREC_WRITE, db->wbuf.p, db->wbuf.len, &s)) < 0)
        goto out;
    eng__mt_t *mt = db->active;
    uint32_t rf[ENG_MAX_FIELDS];
    uint8_t rt[ENG_MAX_FIELDS];
    eng_value_t rv[ENG_MAX_FIELDS];
    eng__mt_begin(mt);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const eng_point_t *p = &pts[i];
        uint32_t m = 0;
        for (uint32_t f = 0; f < p->nfields; f++) {
            if (fids[k + f] == UINT32_MAX)
                continue;
            rf[m] = fids[k + f];
            rt[m] = (uint8_t)p->fields[f].type;
            rv[m++] = p->fields[f].v;
        }
        if (m) {
            eng__mt_put(mt, sids[i], p->ts, s, m, rf, rt, rv);
            eng__lvc_put(db->lvc, sids[i], p->ts, m, rf, rt, rv);
        }
        k += p->nfields;
    }
    eng__mt_end(mt);
    *seq = s;
    atomic_fetch_add(&db->points_written, res->points_ok);
    atomic_fetch_add(&db->fields_written, res->fields_ok);
    if (eng__mt_bytes(mt) >= db->o.memtable_bytes && db->bg_running) {
        pthread_mutex_lock(&db->bgmu);
        if (!db->flush_req) {
            db->flush_req = true;
            db->flush_gen++;
            pthread_cond_signal(&db->bgcv);
        }
        pthread_mutex_unlock(&db->bgmu);
    }
out:
    pthread_mutex_unlock(&db->wmu);
    atomic_fetch_add(&db->fields_rejected, res->fields_rejected);
    if (sids != sids_stack)
        cn_free(sids);
    if (fids != fids_stack)
        cn_free(fids);
    return rc;
}

void eng_set_retention(eng_db_t *db, int64_t ns)
{
    atomic_store(&db->retention_ns, ns > 0 ? ns : 0);
}

int64_t eng_get_retention(eng_db_t *db)
{
    return atomic_load(&db->retention_ns);
}

uint64_t eng_durable_seq(eng_db_t *db)
{
    return eng__wal_durable_seq(db->wal);
}

int eng_wait_durable(eng_db_t *db, uint64_t seq)
{
    return eng__wal_wait(db->wal, seq);
}

size_t eng_backlog_bytes(eng_db_t *db)
{
    return eng__wal_backlog(db->wal);
}

/* ------------------------------------------------------------- deletes */

static int log_delete(eng_db_t *db, uint8_t type, uint32_t mid, const uint64_t *sids, size_t nsids,
                      int64_t tmin, int64_t tmax, uint64_t *seq)
{
    cn_buf_t *b = &db->wbuf;
    cn_buf_reset(b);
    if (type == WREC_DELETE) {
        cn_buf_put_u32(b, mid);
        cn_buf_put_svarint(b, tmin);
        cn_buf_put_svarint(b, tmax);
    }
    cn_buf_put_uvarint(b, nsids);
    for (size_t i = 0; i < nsids; i++)
        cn_buf_put_uvarint(b, sids[i]);
    cn_buf_reset(&db->defs);
    int rc = eng__wal_append(db->wal, type, b->p, b->len, seq);
    if (rc < 0)
        return rc;
    eng__lvc_invalidate(db->lvc);
    if (nsids == 0) {
        eng__tomb_t t = {mid, 0, tmin, tmax, *seq};
        tomb_add(db, &t);
    }
    for (size_t i = 0; i < nsids; i++) {
        eng__series_t *s = eng__cat_series_get(db->cat, sids[i]);
        if (!s)
            continue;
        eng__tomb_t t = {s->mid, sids[i], tmin, tmax, *seq};
        tomb_add(db, &t);
        if (type == WREC_DROP)
            eng__cat_drop(db->cat, sids[i], &db->defs);
    }
    if (db->defs.len) {
        uint64_t s2;
        rc = eng__wal_append(db->wal, WREC_CATALOG, db->defs.p, db->defs.len, &s2);
        if (rc == 0)
            *seq = s2;
    }
    /* Publish the tombstones to readers. */
    eng__version_t *v = eng__version_copy(db->cur);
    cn_free(v->tombs);
    v->tombs = cn_malloc((db->ntombs + 1) * sizeof *db->tombs);
    if (db->ntombs)
        memcpy(v->tombs, db->tombs, db->ntombs * sizeof *db->tombs);
    v->ntombs = db->ntombs;
    eng__version_install(db, v);
    return rc;
}

int eng_delete(eng_db_t *db, const char *measurement, const uint64_t *sids, size_t nsids,
               int64_t tmin, int64_t tmax, uint64_t *seq)
{
    *seq = 0;
    if (!measurement || tmin >= tmax)
        return CN_EINVAL;
    pthread_mutex_lock(&db->wmu);
    eng__meas_t *m = eng__cat_meas_by_name(db->cat, measurement);
    int rc = m ? log_delete(db, WREC_DELETE, m->id, sids, sids ? nsids : 0, tmin, tmax, seq) : 0;
    pthread_mutex_unlock(&db->wmu);
    return rc;
}

int eng_drop_series(eng_db_t *db, const uint64_t *sids, size_t nsids, uint64_t *seq)
{
    *seq = 0;
    if (nsids == 0)
        return 0;
    pthread_mutex_lock(&db->wmu);
    int rc = log_delete(db, WREC_DROP, 0, sids, nsids, INT64_MIN, INT64_MAX, seq);
    pthread_mutex_unlock(&db->wmu);
    return rc;
}

int eng_drop_series_unwritten(eng_db_t *db, const uint64_t *sids, size_t nsids, uint64_t since,
                              uint64_t *seq, size_t *ndropped)
{
    *seq = 0;
    *ndropped = 0;
    if (nsids == 0)
        return 0;
    uint64_t *keep = cn_malloc(nsids * sizeof *keep);
    size_t n = 0;
    pthread_mutex_lock(&db->wmu); /* writes set wmark under it */
    for (size_t i = 0; i < nsids; i++) {
        eng__series_t *s = eng__cat_series_get(db->cat, sids[i]);
        if (s && !s->dead && s->wmark <= since)
            keep[n++] = sids[i];
    }
    int rc = n ? log_delete(db, WREC_DROP, 0, keep, n, INT64_MIN, INT64_MAX, seq) : 0;
    pthread_mutex_unlock(&db->wmu);
    cn_free(keep);
    if (rc == 0)
        *ndropped = n;
    return rc;
}

/* ----------------------------------------------------------------- stats */

void eng_get_stats(eng_db_t *db, eng_stats_t *st)
{
    memset(st, 0, sizeof *st);
    eng__wal_stats_t ws;
    eng__wal_stats(db->wal, &ws);
    st->series = eng__cat_nseries(db->cat);
    st->measurements = eng__cat_nmeas(db->cat);
    st->points_written = atomic_load(&db->points_written);
    st->fields_written = atomic_load(&db->fields_written);
    st->fields_rejected = atomic_load(&db->fields_rejected);
    st->wal_bytes = ws.bytes;
    st->wal_truncated_bytes = ws.truncated_bytes;
    st->wal_replayed_records = ws.replayed_records;
    st->flushes = atomic_load(&db->flushes);
    st->compactions = atomic_load(&db->compactions);
    st->partitions_dropped = atomic_load(&db->parts_dropped);
    st->durable_seq = eng__wal_durable_seq(db->wal);
    eng__version_t *v = eng__version_get(db);
    st->memtable_bytes = eng__mt_bytes(v->active) + (v->imm ? eng__mt_bytes(v->imm) : 0);
    for (uint32_t p = 0; p < v->nparts; p++) {
        st->segments += v->parts[p].nsegs;
        for (uint32_t s = 0; s < v->parts[p].nsegs; s++)
            st->segment_bytes += v->parts[p].segs[s]->size;
    }
    eng__version_unref(v);
}
