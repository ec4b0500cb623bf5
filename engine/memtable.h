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
/* Keeps only rows with ts in [tmin, tmax). */
void eng__rows_clip(eng__rows_t *r, int64_t tmin, int64_t tmax);
/* Removes rows with seq < tseq and ts in [tmin, tmax) (a tombstone). */
void eng__rows_delete(eng__rows_t *r, int64_t tmin, int64_t tmax, uint64_t tseq);
/* Appends rows [from, from+cnt) of src (matching columns by field id;
 * columns src lacks become null). */
void eng__rows_append(eng__rows_t *dst, const eng__rows_t *src, uint32_t from, uint32_t cnt);

/* ------------------------------------------------------------ memtable */

typedef struct eng__mt eng__mt_t;

eng__mt_t *eng__mt_new(void);
void eng__mt_ref(eng__mt_t *mt);
void eng__mt_unref(eng__mt_t *mt); /* frees at zero */

/* Writer side: call under the engine write mutex.  begin/end take the
 * memtable's lock for writing so readers see whole batches. */
void eng__mt_begin(eng__mt_t *mt);
void eng__mt_end(eng__mt_t *mt);
/* Starts a row; then set fields; rows are committed immediately. */
void eng__mt_row(eng__mt_t *mt, uint64_t sid, int64_t ts, uint64_t seq);
void eng__mt_set(eng__mt_t *mt, uint32_t fid, eng_type_t t, const eng_value_t *v);

/* One whole row at once (same result as eng__mt_row + eng__mt_set for each
 * field, with one space check and no per-field bookkeeping). */
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

#endif /* ENG_MEMTABLE_H */
