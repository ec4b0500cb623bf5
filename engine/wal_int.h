/* SPDX-License-Identifier: MIT */
/*
 * wal_int.h - private to the WAL (engine/wal.c, engine/wal_scan.c): the
 * on-disk constants and the directory scanner shared by replay on open and
 * by the read-only verifier.  The format itself is documented at the top of
 * engine/wal.c.
 */
#ifndef ENG_WAL_INT_H
#define ENG_WAL_INT_H

#include "wal.h"

/* The format stores integers little endian and the code loads them natively. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "WAL code assumes a little-endian host");

#define WAL_MAGIC       "CAIRNWAL" /* 8 bytes, no terminator on disk */
#define WAL_VERSION     1u
#define WAL_FHDR        32u /* file header size */
#define WAL_RHDR        17u /* record header size */
#define WAL_MAX_PAYLOAD (64u << 20)
#define WAL_NAME_LEN    24u /* "wal-" + 16 hex digits + ".log" */

/* One live WAL file.  last_seq < first_seq while it holds no record yet. */
typedef struct eng__wal_file {
    uint64_t first_seq;
    uint64_t last_seq;
    uint64_t bytes;
} eng__wal_file_t;

/* Writes "<dir>/wal-<16 hex>.log" into out; returns -ENAMETOOLONG if it
 * does not fit. */
int eng__wal_path(char *out, size_t cap, const char *dir, uint64_t first_seq);
/* Fills the WAL_FHDR bytes of a file header. */
void eng__wal_fhdr_encode(uint8_t *out, uint64_t first_seq);
/* The record CRC, given the CRC-32C of the payload (computed first so that
 * appenders can do it outside the lock) and the record header bytes. */
uint32_t eng__wal_rec_crc(uint32_t payload_crc, const uint8_t *rhdr);

/* What a scan of a WAL directory found. */
typedef struct eng__wal_scan {
    eng__wal_file_t *files; /* surviving files that hold records, seq order */
    size_t nfiles;
    uint64_t last_seq; /* last valid record, 0 if none */
    uint64_t records;
    uint64_t record_bytes; /* payload bytes of the valid records */
    uint64_t valid_bytes;  /* file bytes up to the last valid record */
    uint64_t bad_bytes;    /* bytes after the first invalid record */
} eng__wal_scan_t;

/*
 * Scans every WAL file of `dir` in sequence order, calling fn (may be NULL)
 * for each valid record.  With `repair`, the file holding the first invalid
 * record is truncated after the last valid one (and fsynced), later files
 * and files without records are deleted, and each drop is logged as a
 * warning; without it nothing is modified.  Returns 0, fn's negative code,
 * CN_EVERSION (a file written by a newer format, left untouched) or -errno.
 * On success *out (OUT) is filled; release it with eng__wal_scan_free.
 */
int eng__wal_scan_dir(const char *dir, bool repair, eng__wal_replay_fn fn, void *arg,
                      eng__wal_scan_t *out);
void eng__wal_scan_free(eng__wal_scan_t *s);

#endif /* ENG_WAL_INT_H */
