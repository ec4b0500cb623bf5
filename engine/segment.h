/* SPDX-License-Identifier: MIT */
/*
 * segment.h - immutable columnar segment files (internal to engine/).
 * One file holds blocks of many series for one time partition; the format
 * is documented in segment.c.
 */
#ifndef ENG_SEGMENT_H
#define ENG_SEGMENT_H

#include "memtable.h"

#include <stdatomic.h>

typedef struct eng__segw eng__segw_t;

/* Starts writing `path` (as path.tmp until finished). */
int eng__segw_open(const char *path, uint64_t seg_id, int64_t part_start, int compress, int level,
                   eng__segw_t **out /* OUT */);
/* Blocks with fewer rows than n get no stats (default 16): for tiny blocks
 * stats cost more than the data, and decoding is as cheap as reading them
 * (this keeps a million 10-point series small on disk and in memory). */
void eng__segw_stats_min(eng__segw_t *w, uint32_t n);
/* Adds one block: rows of one series, ts strictly ascending, all inside
 * the partition.  Blocks must come in ascending (sid, tmin) order. */
int eng__segw_add(eng__segw_t *w, uint64_t sid, const eng__rows_t *rows, uint32_t from, uint32_t n);
/* Records a segment id this one replaces (compaction); see segment.c. */
void eng__segw_replaces(eng__segw_t *w, uint64_t seg_id);
/* Writes index and footer, fsyncs, renames into place.  Frees w.
 * Returns the file size or a negative code. */
int64_t eng__segw_finish(eng__segw_t *w, uint64_t seq_max);
void eng__segw_abort(eng__segw_t *w);
uint32_t eng__segw_blocks(eng__segw_t *w);

typedef struct eng__colmeta {
    uint32_t fid;
    uint8_t type;
    uint32_t stat; /* index into eng__seg_t.stats, or UINT32_MAX: no stats */
    uint32_t off;  /* the column's packed unit: offset from the block start */
    uint32_t len;  /* and length (verified to lie inside the block) */
} eng__colmeta_t;

typedef struct eng__blkmeta {
    uint64_t sid;
    int64_t tmin, tmax;
    uint32_t rows;
    uint64_t off, len;
    uint32_t ncols;
    bool has_stats;
    eng__colmeta_t *cols; /* into the segment's column array */
} eng__blkmeta_t;

typedef struct eng__seg {
    _Atomic int refs;
    char *path;
    uint64_t id;
    int64_t part_start;
    uint64_t seq_max;
    uint64_t size;
    const uint8_t *map;
    uint32_t nblocks;
    eng__blkmeta_t *blocks; /* sorted by (sid, tmin) */
    eng__colmeta_t *cols;
    eng_stat_t *stats; /* of the blocks that have stats */
    uint32_t nreplaces;
    uint64_t *replaces;
    bool unlink_on_free; /* set when compaction or retention retires it */
} eng__seg_t;

/* Maps and verifies a segment (header, footer, index and every block CRC).
 * Returns 0, -errno, CN_ECORRUPT or CN_EVERSION. */
int eng__seg_open(const char *path, eng__seg_t **out /* OUT */);
void eng__seg_ref(eng__seg_t *s);
void eng__seg_unref(eng__seg_t *s); /* unmaps (and unlinks if retired) at zero */
/* Index range [*first, *first + count) of the blocks of sid. */
uint32_t eng__seg_find(const eng__seg_t *s, uint64_t sid, uint32_t *first /* OUT */);

/* Checks that block b's inline column headers agree with the index's
 * column directory (used by inspect and the fuzzer; decode trusts the
 * directory).  Returns 0 or CN_ECORRUPT. */
int eng__seg_check_layout(const eng__seg_t *s, const eng__blkmeta_t *b);

/* Decodes block b into out (whose columns the caller chose; missing
 * columns become null); with need_seq, seq of every row = seg->seq_max
 * (needed only to merge with other sources; otherwise seq is left
 * unset, which saves a pass over the rows).  scratch holds
 * decompressed bytes and strings; they stay valid until scratch is
 * reused.  Returns 0 or CN_ECORRUPT. */
typedef struct eng__scratch {
    cn_buf_t unpack;
    cn_buf_t *strings; /* one arena per decoded string column, never moved */
    uint32_t nstrings, capstrings;
    uint8_t *valid;
    size_t valid_cap;
} eng__scratch_t;
void eng__scratch_free(eng__scratch_t *sc);
/* Drops the decoded strings (invalidates rows filled through sc). */
void eng__scratch_reset(eng__scratch_t *sc);
/* Appends the rows of block b to out (its columns, nulls where the block
 * lacks one).  flags: ENG__DEC_SEQ fills out->seq with the segment's
 * seq_max; ENG__DEC_NO_TS leaves out->ts of these rows unset (not decoded). */
#define ENG__DEC_SEQ   1u
#define ENG__DEC_NO_TS 2u
int eng__seg_decode(const eng__seg_t *s, const eng__blkmeta_t *b, eng__rows_t *out,
                    eng__scratch_t *sc, unsigned flags);

#endif /* ENG_SEGMENT_H */
