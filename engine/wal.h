/* SPDX-License-Identifier: MIT */
/*
 * wal.h - the write-ahead log (internal to engine/).
 *
 * Records are appended to an in-memory buffer by eng__wal_append() (no I/O,
 * safe to call from any thread) and written to segmented files by the WAL's
 * own thread, which batches whatever accumulated into one write and, under
 * ENG_DUR_FSYNC, one fdatasync (group commit).  After each commit the
 * durable sequence advances and the notify callback runs on the WAL thread.
 *
 * Each record has a sequence number (strictly increasing, never reused
 * within a directory), a type byte chosen by the engine, and an opaque
 * payload, protected by a CRC-32C.  On open the log is replayed in order; a
 * torn or corrupt tail is truncated at the last valid record, reported via
 * the log and eng__wal_stats, and the rest of the log is kept.
 *
 * Segments: the engine calls eng__wal_rotate() when it freezes a memtable;
 * later appends go to a new file.  Once the frozen data is safely in segment
 * files the engine calls eng__wal_drop_upto(seq), which deletes every WAL
 * file whose records all have seq <= that value.
 */
#ifndef ENG_WAL_H
#define ENG_WAL_H

#include "engine.h"

typedef struct eng__wal eng__wal_t;

typedef struct eng__wal_opts {
    const char *dir;          /* WAL directory (created if missing) */
    int durability;           /* ENG_DUR_FSYNC or ENG_DUR_OS */
    size_t segment_bytes;     /* rotate to a new file above this size */
    size_t buffer_max;        /* eng__wal_append returns CN_EFULL above this backlog */
    uint32_t group_commit_us; /* how long the thread may wait to batch more */
    uint64_t min_seq;         /* next seq is > max(min_seq, last replayed seq) */
    void (*notify)(void *arg, uint64_t durable_seq);
    void *notify_arg;
} eng__wal_opts_t;

/* Called for each valid record during replay, in sequence order.  A
 * negative return aborts eng__wal_open with that code. */
typedef int (*eng__wal_replay_fn)(void *arg, uint64_t seq, uint8_t type, const uint8_t *p,
                                  size_t n);

typedef struct eng__wal_stats {
    uint64_t bytes; /* bytes in live WAL files */
    uint64_t files;
    uint64_t replayed_records;
    uint64_t replayed_bytes;
    uint64_t truncated_bytes; /* dropped from a torn/corrupt tail at open */
    uint64_t appended_records;
    uint64_t commits; /* write(+fsync) batches */
} eng__wal_stats_t;

/* Opens the log, replays it through `replay` (may be NULL), starts the WAL
 * thread.  Returns 0 or -errno; also CN_EINVAL (no dir), CN_EVERSION (a file
 * written by a newer format, left untouched) or the replay callback's code.
 * Zero segment_bytes / buffer_max mean 64 MiB each. */
int eng__wal_open(const eng__wal_opts_t *o, eng__wal_replay_fn replay, void *replay_arg,
                  eng__wal_t **out /* OUT */);
/* Writes and syncs everything appended, stops the thread, closes files.
 * NULL is a no-op. */
void eng__wal_close(eng__wal_t *w);

/* Appends a record (copied).  Sets *seq (OUT) to its sequence number.
 * Returns 0, CN_EFULL (backlog over buffer_max; nothing appended),
 * CN_EINVAL (payload over 64 MiB) or the sticky I/O error of an earlier
 * failed write (-errno): after a write or fsync error the log refuses
 * further appends, since their durability can no longer be promised. */
int eng__wal_append(eng__wal_t *w, uint8_t type, const void *p, size_t n, uint64_t *seq);

uint64_t eng__wal_last_seq(eng__wal_t *w);    /* last appended */
uint64_t eng__wal_durable_seq(eng__wal_t *w); /* last durable */
/* Blocks until seq is durable or the log failed; returns 0 or the error
 * (CN_EINVAL for a seq that was never appended). */
int eng__wal_wait(eng__wal_t *w, uint64_t seq);
/* Bytes appended but not yet written by the thread. */
size_t eng__wal_backlog(eng__wal_t *w);

/* Closes the current file for appends: the next append starts a new file.
 * Returns the last seq in the closed file (0 if none). Never does I/O on
 * the caller's thread beyond what the WAL thread does anyway. */
uint64_t eng__wal_rotate(eng__wal_t *w);
/* Deletes WAL files whose records all have seq <= upto. Returns 0/-errno. */
int eng__wal_drop_upto(eng__wal_t *w, uint64_t upto);

void eng__wal_stats(eng__wal_t *w, eng__wal_stats_t *st /* OUT */);

/* Read-only scan of a WAL directory for `cairn inspect`: validates every
 * record and reports counts (valid records; file bytes up to the last valid
 * record; bytes that replay would drop); does not modify files.  Outputs may
 * be NULL.  Returns 0 when clean, CN_ECORRUPT (outputs still filled) when
 * replay would drop bytes, CN_EVERSION or -errno. */
int eng__wal_verify(const char *dir, uint64_t *records /* OUT */, uint64_t *bytes /* OUT */,
                    uint64_t *bad_tail_bytes /* OUT */);

#endif /* ENG_WAL_H */
