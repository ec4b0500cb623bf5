/* SPDX-License-Identifier: MIT */
/*
 * memtable.h - in-memory rows of recent writes, and the row-set type the
 * flush, merge and read paths share (internal to engine/).
 */
#ifndef ENG_MEMTABLE_H
#define ENG_MEMTABLE_H

#include "engine.h"

#include <pthread.h>

/*
 * A set of rows of one series with chosen columns.  Every column array has
 * n entries; valid[c][i] says whether column c has a value in row i.  seq
 * orders writes for last-write-wins.  Strings point into memory owned by
 * whoever filled the set (memtable arena, decoded block scratch).
 */
typedef struct eng__rows {
    uint32_t n, cap;
    int64_t *ts;
    uint64_t *seq;
    uint32_t ncols;
    uint32_t *fids;
    uint8_t *types;
    void **vals;
    uint8_t **valid;
} eng__rows_t;

void eng__rows_init(eng__rows_t *r, uint32_t ncols, const uint32_t *fids, const uint8_t *types);
void eng__rows_free(eng__rows_t *r);
void eng__rows_reset(eng__rows_t *r); /* n = 0, columns kept */
void eng__rows_reserve(eng__rows_t *r, uint32_t extra);
size_t eng__type_size(eng_type_t t);
/* Sorts by (ts, seq) and merges rows with equal ts: for each column the
 * value of the last write (highest seq, then latest position) that has one
 * wins.  Afterwards ts is strictly ascending. */
void eng__rows_sort_merge(eng__rows_t *r);
/* Keeps only rows with ts in [tmin, tmax); the rows are sorted, one per
 * timestamp (eng__rows_sort_merge ran). */
void eng__rows_clip(eng__rows_t *r, int64_t tmin, int64_t tmax);
/* The first row at or after t among the sorted rows [lo, hi) (hi if none). */
uint32_t eng__rows_lower(const eng__rows_t *r, uint32_t lo, uint32_t hi, int64_t t);
/* Removes rows with seq < tseq and ts in [tmin, tmax) (a tombstone). */
void eng__rows_delete(eng__rows_t *r, int64_t tmin, int64_t tmax, uint64_t tseq);
/* Stats of column c over rows [from, from+n) (n > 0), as a segment block
 * stores them (tmin/tmax: the first and last row's ts). */
void eng__rows_stats(const eng__rows_t *r, uint32_t c, uint32_t from, uint32_t n,
                     eng_stat_t *st /* OUT */);
/* Appends rows [from, from+cnt) of src (matching columns by field id;
 * columns src lacks become null). */
void eng__rows_append(eng__rows_t *dst, const eng__rows_t *src, uint32_t from, uint32_t cnt);

/* ------------------------------------------------------------ memtable */

typedef struct eng__mt eng__mt_t;

/* Rows per memtable chunk when eng_opts.memtable_chunk_rows is 0. */
#define ENG__MT_CHUNK_ROWS 128

eng__mt_t *eng__mt_new(uint32_t chunk_rows);
void eng__mt_ref(eng__mt_t *mt);
void eng__mt_unref(eng__mt_t *mt); /* frees at zero */

/* Writer side: call under the engine write mutex.  begin/end take the
 * memtable's lock for writing so readers see whole batches. */
void eng__mt_begin(eng__mt_t *mt);
void eng__mt_end(eng__mt_t *mt);
/* Appends one row of series sid. */
void eng__mt_put(eng__mt_t *mt, uint64_t sid, int64_t ts, uint64_t seq, uint32_t nf,
                 const uint32_t *fids, const uint8_t *types, const eng_value_t *vals);

size_t eng__mt_bytes(eng__mt_t *mt);
uint64_t eng__mt_rows(eng__mt_t *mt);
/* Sorted list of series ids with rows; owned by caller (cn_free). */
size_t eng__mt_sids(eng__mt_t *mt, uint64_t **sids /* OUT */);
/* Time bounds of a series in the memtable; false if none. */
bool eng__mt_bounds(eng__mt_t *mt, uint64_t sid, int64_t *tmin, int64_t *tmax);
/* Field ids (and types) present for a series. Returns count; arrays owned. */
uint32_t eng__mt_fields(eng__mt_t *mt, uint64_t sid, uint32_t **fids, uint8_t **types);
/*
 * Copies rows of sid with ts in [tmin, tmax) and seq <= max_seq into out
 * (whose columns the caller chose); unsorted.  Thread-safe against the
 * writer (takes the read lock).  Strings stay valid while the memtable is
 * referenced.
 */
void eng__mt_extract(eng__mt_t *mt, uint64_t sid, int64_t tmin, int64_t tmax, uint64_t max_seq,
                     eng__rows_t *out);

/*
 * A series' rows in a memtable come in chunks of up to chunk_rows rows,
 * roughly in arrival order.  A full chunk is sealed: put in time order and
 * given per-field stats (memtable.c, chunk_seal).
 * eng__mt_chunks() describes the chunks of sid that overlap [tmin, tmax]
 * and hold a row with seq <= max_seq; st is set (nst entries, by field id
 * and type) only when the chunk is sealed, its timestamps are strictly
 * ascending and all its rows have seq <= max_seq.  The description stays
 * valid while the memtable is referenced.
 */
typedef struct eng__mtchunk {
    eng__mt_t *mt;
    uint64_t sid;
    uint32_t idx; /* arrival order within the series */
    uint32_t rows;
    int64_t tmin, tmax;
    uint64_t seq_lo, seq_hi;
    /* sealed, and none of its timestamps occurs in a chunk of a smaller
     * idx (memtable.c NOTES 6) */
    bool ts_new;
    size_t off, end; /* bytes in the series buffer; end 0: the open chunk */
    uint32_t nst;
    const uint32_t *st_fids;
    const uint8_t *st_types;
    const eng_stat_t *st;
} eng__mtchunk_t;

/* Returns the count; *out owned by the caller (cn_free). */
uint32_t eng__mt_chunks(eng__mt_t *mt, uint64_t sid, int64_t tmin, int64_t tmax, uint64_t max_seq,
                        eng__mtchunk_t **out /* OUT */);
/* Appends the chunk's rows with ts in [tmin, tmax) and seq <= max_seq to
 * out in arrival order (unsorted; out's columns chosen by the caller). */
void eng__mt_chunk_rows(const eng__mtchunk_t *c, int64_t tmin, int64_t tmax, uint64_t max_seq,
                        eng__rows_t *out);

#endif /* ENG_MEMTABLE_H */
