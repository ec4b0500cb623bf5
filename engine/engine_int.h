/* SPDX-License-Identifier: MIT */
/*
 * engine_int.h - shared internals of engine.c, flush.c, read.c and
 * inspect.c: the db object, versions (the set of memtables, segments and
 * tombstones a reader sees) and WAL record types.
 */
#ifndef ENG_ENGINE_INT_H
#define ENG_ENGINE_INT_H

#include "catalog.h"
#include "memtable.h"
#include "segment.h"
#include "wal.h"

#include <pthread.h>
#include <stdatomic.h>

/* WAL record types (payload formats in engine.c). */
enum { WREC_CATALOG = 1, WREC_WRITE = 2, WREC_DELETE = 3, WREC_DROP = 4, WREC_CHECKPOINT = 5 };

/* A delete: rows of (mid, sid or every series of mid when sid == 0) with
 * ts in [tmin, tmax) written before seq are gone. */
typedef struct eng__tomb {
    uint32_t mid;
    uint64_t sid;
    int64_t tmin, tmax;
    uint64_t seq;
} eng__tomb_t;

typedef struct eng__part {
    int64_t start;
    uint32_t nsegs;
    eng__seg_t **segs; /* ascending seq_max */
} eng__part_t;

/* Immutable once published; replaced copy-on-write under db->vmu. */
typedef struct eng__version {
    _Atomic int refs;
    eng__mt_t *active;
    eng__mt_t *imm; /* being flushed, or NULL */
    uint32_t nparts;
    eng__part_t *parts; /* ascending start */
    uint32_t ntombs;
    eng__tomb_t *tombs;
} eng__version_t;

struct eng_db {
    eng_opts_t o;
    char *dir;
    char *datadir;
    pthread_mutex_t wmu; /* serialises writers */
    eng__cat_t *cat;
    eng__wal_t *wal;
    eng__mt_t *active; /* == cur->active; changed under wmu + vmu */
    pthread_mutex_t vmu;
    eng__version_t *cur;
    /* tombstones (authoritative copy; under wmu) */
    eng__tomb_t *tombs;
    uint32_t ntombs, captombs;
    /* background work */
    pthread_t bg;
    bool bg_running;
    pthread_mutex_t bgmu;
    pthread_cond_t bgcv, donecv;
    bool stop, flush_req, compact_req, retention_req;
    uint64_t flush_gen, flush_done, compact_gen, compact_done;
    int bg_error;
    pthread_mutex_t flushmu; /* one flush/compaction at a time */
    uint64_t flushed_seq;
    uint64_t ckpt_seq; /* seq of the last CHECKPOINT record */
    int lockfd;        /* DIR/LOCK, flock()ed while open */
    uint64_t next_seg_id;
    /* write scratch (under wmu) */
    cn_buf_t wbuf, defs;
    /* counters */
    _Atomic uint64_t points_written, fields_written, fields_rejected, flushes, compactions,
        parts_dropped;
    uint64_t replayed_records;
    struct eng__lvc *lvc; /* last-value cache (lvc.c) */
    _Atomic int64_t retention_ns; /* o.retention_ns, changeable (eng_set_retention) */
};

/* lvc.c: the last-value cache (see there). */
typedef struct eng__lvc eng__lvc_t;
eng__lvc_t *eng__lvc_new(void);
void eng__lvc_free(eng__lvc_t *c);
/* One point's stored fields (under wmu). */
void eng__lvc_put(eng__lvc_t *c, uint64_t sid, int64_t ts, uint32_t m, const uint32_t *fids,
                  const uint8_t *types, const eng_value_t *vals);
/* After deletes, drops and retention: forget everything. */
void eng__lvc_invalidate(eng__lvc_t *c);

eng__version_t *eng__version_get(eng_db_t *db); /* referenced; unref when done */
void eng__version_unref(eng__version_t *v);
/* Publishes a new version built by the caller (takes ownership). */
void eng__version_install(eng_db_t *db, eng__version_t *v);
/* Deep copy (new refs on memtables and segments). */
eng__version_t *eng__version_copy(const eng__version_t *v);
int64_t eng__part_start(const eng_db_t *db, int64_t ts);
/* The end (exclusive; INT64_MAX for the last partition, which holds
 * INT64_MAX too) of the partition that starts at start. */
int64_t eng__part_end(const eng_db_t *db, int64_t start);
/* Is ts in the partition [start, end) (end from eng__part_end)? */
static inline bool eng__part_holds(int64_t start, int64_t end, int64_t ts)
{
    return ts >= start && (ts < end || (end == INT64_MAX && ts == INT64_MAX));
}
void eng__part_dir(const eng_db_t *db, int64_t start, char *buf, size_t n);

/* flush.c */
int eng__bg_start(eng_db_t *db);
void eng__bg_stop(eng_db_t *db);
int eng__flush_now(eng_db_t *db);
int eng__write_manifest(eng_db_t *db, uint64_t flushed_seq);
int eng__write_tombs(eng_db_t *db, const eng__tomb_t *t, uint32_t n);
/* Applies tombstones matching series (sid of measurement mid) to rows. */
void eng__apply_tombs(const eng__tomb_t *t, uint32_t n, uint32_t mid, uint64_t sid, eng__rows_t *r);

#endif /* ENG_ENGINE_INT_H */
