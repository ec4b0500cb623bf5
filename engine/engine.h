/* SPDX-License-Identifier: MIT */
/*
 * engine.h - the public interface of cairn's storage engine.
 *
 * The engine stores measurements -> series (a tag set; `device_id` is the
 * primary tag) -> typed fields (float64, int64, bool, string) at int64
 * nanosecond timestamps.  It knows nothing of MQTT or HTTP.
 *
 * Threads.  eng_write() may be called from any thread (it serialises on an
 * internal mutex) and never does disk I/O: it appends the rows to the WAL's
 * in-memory group-commit buffer and to the memtable and returns a sequence
 * number.  A WAL thread writes (and, with ENG_DUR_FSYNC, fsyncs) the buffer
 * and then publishes the new durable sequence: callers learn it through the
 * notify callback or eng_durable_seq().  Flush and compaction run on a
 * background thread.  Readers work on snapshots (eng_snap_*) and never wait
 * for flush or compaction.
 */
#ifndef ENG_ENGINE_H
#define ENG_ENGINE_H

#include "base/base.h"

typedef struct eng_db eng_db_t;

/* ----------------------------------------------------------- data model */

typedef enum eng_type {
    ENG_T_NONE = 0,
    ENG_T_FLOAT = 1,  /* float64 */
    ENG_T_INT = 2,    /* int64 */
    ENG_T_BOOL = 3,   /* stored as 0/1 */
    ENG_T_STRING = 4, /* bytes, any length up to 16 MiB */
} eng_type_t;

const char *eng_type_name(eng_type_t t); /* "float", "integer", "boolean", "string" */

typedef struct eng_tag {
    const char *key;
    const char *val;
} eng_tag_t;

typedef struct eng_str {
    const char *p;
    uint32_t len;
} eng_str_t;

typedef union eng_value {
    double f;
    int64_t i;
    uint8_t b;
    eng_str_t s;
} eng_value_t;

typedef struct eng_field {
    const char *name;
    eng_type_t type;
    eng_value_t v;
} eng_field_t;

/* Most fields one point may carry (eng_write says CN_EINVAL above it). */
#define ENG_MAX_FIELDS 1024

/* One row: a series (measurement + tags, any order) at one time. */
typedef struct eng_point {
    const char *measurement;
    const eng_tag_t *tags;
    uint32_t ntags;
    int64_t ts; /* ns since the Unix epoch */
    const eng_field_t *fields;
    uint32_t nfields;
} eng_point_t;

/* ------------------------------------------------------------- lifecycle */

enum eng_durability { ENG_DUR_FSYNC = 0, ENG_DUR_OS = 1 };
enum eng_compress { ENG_COMP_NONE = 0, ENG_COMP_LZ4 = 1, ENG_COMP_ZSTD = 2 };

typedef struct eng_opts {
    const char *dir;          /* data directory, created if missing */
    int durability;           /* ENG_DUR_FSYNC (default) or ENG_DUR_OS */
    int64_t partition_ns;     /* time partition width, default 1 day */
    int64_t retention_ns;     /* drop partitions older than this; 0 = keep forever */
    size_t memtable_bytes;    /* flush threshold, default 256 MiB */
    size_t wal_segment_bytes; /* WAL segment size, default 64 MiB */
    size_t wal_buffer_max;    /* un-written WAL bytes before eng_write says CN_EFULL */
    uint32_t group_commit_us; /* extra wait to batch fsyncs, default 0 */
    int compress;             /* extra block compression tried: default ENG_COMP_ZSTD */
    int zstd_level;           /* default 3 */
    uint32_t block_rows;      /* max rows per block, default 8192 */
    uint32_t stats_min_rows;  /* blocks with fewer rows carry no stats, default 16 */
    /* The memtable keeps each series' rows in chunks of this many rows
     * (default 128); a full chunk carries stats like a stored block, so
     * aggregates over recent data need not read its rows. */
    uint32_t memtable_chunk_rows;
    bool background;          /* run flush/compaction/retention threads (default true) */
    cn_clock_t clock;         /* wall clock for retention; default system */
    /* Called on the WAL thread whenever the durable sequence advances.
     * Must be quick and non-blocking (e.g. uv_async_send). */
    void (*durable_notify)(void *arg, uint64_t durable_seq);
    void *durable_arg;
} eng_opts_t;

void eng_opts_default(eng_opts_t *o /* OUT */);

/*
 * Opens (creating if needed) the data directory, verifies segment files,
 * replays the WAL (a torn or corrupt tail is truncated at the last valid
 * record and reported in the log and in eng_stats), and starts the engine's
 * threads.  Returns 0, -errno (-EBUSY: another process has the directory
 * open), CN_ECORRUPT (a segment failed verification), or CN_EVERSION.
 */
int eng_open(const eng_opts_t *o, eng_db_t **out /* OUT */);
/* Flushes everything to segments, stops threads, frees.  NULL is a no-op. */
void eng_close(eng_db_t *db);

/* ----------------------------------------------------------------- write */

typedef struct eng_write_res {
    uint32_t points_ok; /* points with at least one stored field */
    uint32_t fields_ok;
    uint32_t fields_rejected; /* type conflicts and invalid values */
    int first_error;          /* code of the first rejection, 0 if none */
    uint32_t first_error_point;
    char first_error_field[64];
} eng_write_res_t;

/*
 * Writes n points.  Each field whose type conflicts with the type its
 * measurement already fixed for that name is rejected alone (CN_ETYPE in
 * res->first_error); the other fields are stored.  Returns 0 and the WAL
 * sequence number covering this write in *seq (0 if nothing was stored), or a
 * negative code: CN_EFULL when the WAL backlog exceeds wal_buffer_max or the
 * memtable is full while the previous one is still being flushed (nothing
 * was written; retry once eng_wait_writable returns, or when the durable
 * sequence advances / a flush ends), CN_EINVAL for a point without a
 * measurement or fields or with more than ENG_MAX_FIELDS, CN_ECLOSED after
 * shutdown started.
 * Never blocks on I/O.  Thread-safe.
 */
int eng_write(eng_db_t *db, const eng_point_t *pts, size_t n, eng_write_res_t *res /* OUT */,
              uint64_t *seq /* OUT */);

/* The highest sequence number that is durable under the configured policy. */
uint64_t eng_durable_seq(eng_db_t *db);
/* Blocks until seq is durable (for tools and tests, never on an event loop).
 * Returns 0 or the WAL's I/O error. */
int eng_wait_durable(eng_db_t *db, uint64_t seq);
/* Bytes in the WAL buffer not yet written; callers use it for back-pressure. */
size_t eng_backlog_bytes(eng_db_t *db);
/* Blocks until eng_write would not refuse with CN_EFULL for lack of room
 * (WAL backlog, memtable while a flush runs).  For tools and tests; never
 * call it on an event loop.  Returns 0 or the WAL's I/O error. */
int eng_wait_writable(eng_db_t *db);

/* Forces a memtable flush and waits for it (tests, tools, shutdown). */
int eng_flush(eng_db_t *db);
/* Compacts every partition with more than one segment and waits. */
int eng_compact(eng_db_t *db);
/* Applies retention now (it also runs periodically in the background). */
int eng_retention_run(eng_db_t *db);
/* Changes the retention while running (InfluxQL retention-policy
 * statements); 0 keeps data forever.  Thread-safe; not persisted: after a
 * restart eng_opts.retention_ns applies again. */
void eng_set_retention(eng_db_t *db, int64_t ns);
int64_t eng_get_retention(eng_db_t *db);

/* Deletes the points of the selected series in [tmin, tmax).  sids NULL means
 * every series of the measurement.  Durable like a write: returns 0 and *seq. */
int eng_delete(eng_db_t *db, const char *measurement, const uint64_t *sids, size_t nsids,
               int64_t tmin, int64_t tmax, uint64_t *seq /* OUT */);
/* Removes series entirely (data and catalog entry). */
int eng_drop_series(eng_db_t *db, const uint64_t *sids, size_t nsids, uint64_t *seq /* OUT */);
/* Like eng_drop_series, but only those series no write reached after
 * sequence `since` (eng_snap_seq of the snapshot that found them empty):
 * the check and the drop are one step with respect to writes, so a point
 * written meanwhile keeps its series.  *ndropped: how many were dropped;
 * *seq 0 when none. */
int eng_drop_series_unwritten(eng_db_t *db, const uint64_t *sids, size_t nsids, uint64_t since,
                              uint64_t *seq /* OUT */, size_t *ndropped /* OUT */);

/* ----------------------------------------------------------------- stats */

typedef struct eng_stats {
    uint64_t series;
    uint64_t measurements;
    uint64_t points_written;
    uint64_t fields_written;
    uint64_t fields_rejected;
    uint64_t wal_bytes;
    uint64_t wal_truncated_bytes; /* bytes dropped from a torn tail at open */
    uint64_t wal_replayed_records;
    uint64_t memtable_bytes;
    uint64_t segments;
    uint64_t segment_bytes;
    uint64_t flushes;
    uint64_t compactions;
    uint64_t partitions_dropped;
    uint64_t durable_seq;
} eng_stats_t;

void eng_get_stats(eng_db_t *db, eng_stats_t *st /* OUT */);

/* ------------------------------------------------------------------ read */

/* A consistent read view: the catalog, memtable contents and segment set as
 * of eng_snap_open().  Writes after that are not visible.  Thread-safe to
 * open from any thread; one snapshot is used by one thread at a time. */
typedef struct eng_snap eng_snap_t;
int eng_snap_open(eng_db_t *db, eng_snap_t **out /* OUT */);
void eng_snap_close(eng_snap_t *s);
/* The WAL sequence the snapshot reads up to (writes above are invisible). */
uint64_t eng_snap_seq(const eng_snap_t *s);

/* Catalog queries.  Strings returned are borrowed until eng_snap_close. */
size_t eng_snap_measurements(eng_snap_t *s, const char ***names /* OUT, borrowed */);

typedef struct eng_field_info {
    const char *name;
    eng_type_t type;
    uint32_t id; /* field id within the measurement */
} eng_field_info_t;
size_t eng_snap_fields(eng_snap_t *s, const char *measurement,
                       const eng_field_info_t **fields /* OUT, borrowed */);
/* The first rejection res reports for the points pts of an eng_write, in
 * InfluxDB's words ("field type conflict: input field \"f\" on measurement
 * \"m\" is type integer, already exists as type float"), into buf (NUL-
 * terminated, cut to n); returns its length. */
size_t eng_write_reject_text(eng_db_t *db, const eng_point_t *pts, const eng_write_res_t *res,
                             char *buf, size_t n);

typedef enum eng_tag_op {
    ENG_TAG_EQ,
    ENG_TAG_NE,
    ENG_TAG_REGEX, /* POSIX extended regex on the value */
    ENG_TAG_NREGEX,
} eng_tag_op_t;

typedef struct eng_tag_pred {
    const char *key;
    eng_tag_op_t op;
    const char *val; /* value or regex */
    int cflags;      /* regcomp flags besides REG_EXTENDED | REG_NOSUB (REG_NEWLINE) */
} eng_tag_pred_t;

/* Series of `measurement` matching all preds (AND), ascending ids, through
 * the tag index.  *ids is owned by the caller (cn_free).  Returns count or a
 * negative code (CN_EINVAL for a bad regex). */
int eng_snap_select(eng_snap_t *s, const char *measurement, const eng_tag_pred_t *preds,
                    size_t npreds, uint64_t **ids /* OUT, owned */);
/* Tags of a series, sorted by key; borrowed until eng_snap_close. */
int eng_snap_series_tags(eng_snap_t *s, uint64_t sid, const eng_tag_t **tags /* OUT */,
                         uint32_t *ntags /* OUT */);
/* Tag keys of a measurement that some live series carries, sorted.  *keys
 * owned (the array; strings borrowed until eng_snap_close).  Returns the
 * count (0 for an unknown measurement). */
int eng_snap_tag_keys(eng_snap_t *s, const char *measurement, const char ***keys /* OUT */);
/* Distinct values of a tag key within a measurement (sorted). *vals owned
 * (the array; strings borrowed). */
int eng_snap_tag_values(eng_snap_t *s, const char *measurement, const char *key,
                        const char ***vals /* OUT */);

/* Block statistics.  For strings only count and the times (tmin, tmax,
 * first_ts, last_ts) are set; first/last string values need decoding. */
typedef struct eng_stat {
    uint32_t count; /* non-null values */
    int64_t tmin, tmax;
    int64_t first_ts, last_ts;
    eng_value_t min, max, first, last;
    double sum_f;  /* sum for float fields (in time order) */
    int64_t sum_i; /* sum for int/bool fields; sum_overflow set if it wrapped */
    bool sum_overflow;
} eng_stat_t;

/* A batch of up to ENG_BATCH rows of one series, in ascending time, no
 * duplicate timestamps.  Arrays are borrowed until the next eng_iter_next. */
#define ENG_BATCH 1024
typedef struct eng_batch {
    uint32_t n;
    const int64_t *ts;
    /* per requested field, in the order requested */
    const void *const *vals;     /* double*, int64_t*, uint8_t*, eng_str_t* */
    const uint8_t *const *valid; /* valid[f][row] is 1 when the field has a value */
    /* When whole_block is set, this batch is an entire stored block (or
     * sealed memtable chunk) with no overlapping data - after
     * eng_iter_any_order, none that shares a timestamp with it - and
     * stats[f] are exact for it. */
    bool whole_block;
    const eng_stat_t *stats;
} eng_batch_t;

typedef struct eng_iter eng_iter_t;

/* Iterates series `sid` over [tmin, tmax) for the given field ids (from
 * eng_snap_fields).  Duplicates across memtable and segments are resolved
 * (last write wins) and deletes applied. */
int eng_iter_open(eng_snap_t *s, uint64_t sid, const uint32_t *field_ids, size_t nfields,
                  int64_t tmin, int64_t tmax, eng_iter_t **out /* OUT */);
/*
 * Peeks the next stored block: when it lies entirely inside the range and no
 * other data overlaps it, returns 1 and fills stats[0..nfields) (caller's
 * array) plus the block's row count; the caller then either calls
 * eng_iter_skip() to consume it without decoding, or eng_iter_next() to
 * decode it.  Returns 0 when the next data is not such a block (including
 * blocks under eng_opts.stats_min_rows rows, which carry no stats),
 * negative on error.  After eng_iter_any_order, "no other data overlaps
 * it" reads "no other data shares a timestamp with it".  eng_iter_skip()
 * only after a peek that returned 1.
 */
int eng_iter_peek_stats(eng_iter_t *it, eng_stat_t *stats /* OUT */, uint32_t *rows /* OUT */);
void eng_iter_skip(eng_iter_t *it);
/* Skips the rest of the group being read, or else the next group of
 * overlapping data (after eng_iter_any_order: the next unit of one),
 * without decoding it; false at the end. */
bool eng_iter_skip_group(eng_iter_t *it);
/* Where the iterator stands between groups (eng_iter_seek's argument). */
uint32_t eng_iter_tell(const eng_iter_t *it);
/* Goes back (or on) to a place eng_iter_tell gave, dropping what was read
 * of the current group: the groups from there are offered again. */
void eng_iter_seek(eng_iter_t *it, uint32_t at);
/*
 * max() (want_max) or min() of requested field f (float or integer) over
 * the next group of overlapping data, for a caller that already holds the
 * value `above`: reads only the parts whose stats allow a value beyond it,
 * plus whatever may overwrite their rows, and consumes the whole group.
 * Returns 1 with *v the extreme beyond `above` and *ts its first time, 0
 * when the group holds no such value, 2 when it does not apply (a group
 * partly read, the end, another type), negative on error.  *rows: the rows
 * read.  Exact under overwrites and deletes; NaN never counts as beyond.
 */
int eng_iter_group_extreme(eng_iter_t *it, uint32_t f, bool want_max, const eng_value_t *above,
                           int64_t *ts /* OUT */, eng_value_t *v /* OUT */,
                           uint32_t *rows /* OUT */);
/* Declares that the caller never reads eng_batch.ts (say, an aggregate over
 * the whole range): a stored block or sealed memtable chunk served as is
 * (inside the range, nothing overlapping, no newer tombstone: what
 * eng_iter_peek_stats offers) then comes without times, and a stored one
 * is decoded without its timestamp column.  Every batch of it carries
 * ts = NULL (one above ENG_BATCH rows comes in several batches, none of
 * which has whole_block set).  Rows that need merging or clipping still
 * come with times.  Call before the first eng_iter_next. */
void eng_iter_no_times(eng_iter_t *it);
/* Declares that the caller does not need rows in time order from one
 * batch to the next (counting, say): the sources of a group of overlapping
 * data that share no timestamp with another of its sources (a lagging
 * writer's memtable chunks beside a stored block, for one) are then
 * offered one by one - to eng_iter_peek_stats with their stats, or as
 * batches of their own - before the rest of the group, merged.  Every
 * batch is still ascending and without duplicate timestamps, and no row
 * comes twice.  Call before the first eng_iter_next or peek. */
void eng_iter_any_order(eng_iter_t *it);
/* Returns 1 with *b filled, 0 at the end, negative on error (CN_ECORRUPT). */
int eng_iter_next(eng_iter_t *it, eng_batch_t *b /* OUT */);
void eng_iter_close(eng_iter_t *it);

/* ------------------------------------------------------ last-value cache */

/* The newest value per series and field, kept in memory so last() over
 * many series needs no scan (engine/lvc.c).  An entry becomes known once a
 * reader seeds it from a complete scan; writes keep it current; deletes,
 * drops and retention forget everything.  Protocol for a reader:
 *   gen = eng_last_gen(db)            before eng_snap_open
 *   eng_last_get(...) == 1 / 2        known: value / the field has no value
 *   == 0: scan [tmin, +inf) of the snapshot; when that found the series'
 *         newest point (or, for tmin = INT64_MIN, found nothing), call
 *         eng_last_seed(..., gen).
 * Thread-safe. */
uint64_t eng_last_gen(eng_db_t *db);
/* Returns 1 with *ts / *v (a string is copied into *str and v->s points
 * there), 2 when the series has no value of the field, 0 when unknown. */
int eng_last_get(eng_db_t *db, uint64_t sid, uint32_t fid, int64_t *ts, eng_value_t *v,
                 cn_buf_t *str);
/* has false: the series holds no value of the field. */
void eng_last_seed(eng_db_t *db, uint64_t sid, uint32_t fid, bool has, int64_t ts, eng_type_t type,
                   const eng_value_t *v, uint64_t gen);

/* ------------------------------------------------------------- inspection */

/* Verifies every segment file's checksums and structure and the WAL;
 * prints a summary (and per-block lines if verbose) to `out`.  Returns 0
 * when everything verifies, CN_ECORRUPT otherwise.  Works on a directory
 * not opened by a running server (read-only). */
int eng_inspect(const char *dir, bool verbose, void *out /* FILE* */);

#endif /* ENG_ENGINE_H */
