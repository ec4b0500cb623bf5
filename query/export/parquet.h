/* SPDX-License-Identifier: MIT */
/*
 * parquet.h - a Parquet file writer for batch exports (issue 7).
 *
 * One writer produces one file: a required `time` column (INT64 annotated
 * TIMESTAMP(isAdjustedToUTC = true, NANOS or MICROS)), then the caller's
 * columns: tags (BYTE_ARRAY STRING, required or optional) and fields
 * (DOUBLE, INT64, BOOLEAN, BYTE_ARRAY STRING), nulls carried by definition
 * levels.  Rows are buffered into row groups of bounded size; each column
 * chunk is cut into v1 data pages of bounded size, encoded with whatever
 * reads smallest after compression:
 *   time, INT64    DELTA_BINARY_PACKED (or PLAIN if that compresses better)
 *   DOUBLE         BYTE_STREAM_SPLIT (or PLAIN if that compresses better)
 *   BOOLEAN        PLAIN (bit-packed)
 *   STRING         RLE_DICTIONARY with a PLAIN dictionary page when the
 *                  dictionary pays for itself, else PLAIN
 * and compressed per page with zstd (default), lz4_raw, snappy or none.
 * Column chunks carry statistics (null_count, min_value/max_value with the
 * exactness flags, legacy min/max for signed orders, nan_count for DOUBLE).
 *
 * The file appears under its name only when complete: the writer writes
 * PATH.tmp, and qry_pq_close() fsyncs it, renames it over PATH and fsyncs
 * the directory.  qry_pq_abort() removes the temporary file.
 *
 * Threading: a writer is used by one thread at a time; it blocks on disk
 * I/O and compression, so the server runs it on a worker thread.
 */
#ifndef QRY_PARQUET_H
#define QRY_PARQUET_H

#include "engine.h"
#include "sink.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct qry_pq_writer qry_pq_writer_t;


/* Column value types; values in batches are double, int64_t, uint8_t
 * (0/1) and eng_str_t (borrowed bytes, UTF-8 expected) respectively. */
enum qry_pq_type { QRY_PQ_DOUBLE = 1, QRY_PQ_INT64, QRY_PQ_BOOL, QRY_PQ_STRING };

enum qry_pq_codec { QRY_PQ_ZSTD = 0, QRY_PQ_LZ4_RAW, QRY_PQ_SNAPPY, QRY_PQ_NONE };

/*
 * Unit of the stored `time` column; batches always give nanoseconds.
 * MICROS is the default: it carries the legacy TIMESTAMP_MICROS annotation
 * too, so Spark, Hive and every older reader see a UTC timestamp (Spark
 * rejects TIMESTAMP(NANOS) columns by default).  Nanoseconds are floored
 * to whole microseconds.  NANOS keeps every digit for readers that have the
 * type (Trino, Arrow); DuckDB reads both as TIMESTAMP WITH TIME ZONE, which
 * holds microseconds, so it truncates NANOS on read.  (Only a non-UTC
 * TIMESTAMP(NANOS) would become DuckDB's TIMESTAMP_NS: that would lose the
 * "instant in UTC" meaning for every other reader, so we do not write it.)
 */
enum qry_pq_unit { QRY_PQ_MICROS = 0, QRY_PQ_NANOS };

typedef struct qry_pq_col {
    const char *name;
    int type;      /* enum qry_pq_type */
    bool required; /* no nulls allowed (tags); fields are optional */
} qry_pq_col_t;

typedef struct qry_pq_kv {
    const char *key;
    const char *val;
} qry_pq_kv_t;

typedef struct qry_pq_opts {
    const char *time_name;   /* "time" */
    int unit;                /* enum qry_pq_unit, QRY_PQ_MICROS */
    int codec;               /* enum qry_pq_codec, QRY_PQ_ZSTD */
    int zstd_level;          /* 3 */
    uint32_t row_group_rows; /* 1048576 */
    size_t row_group_bytes;  /* 128 MiB of buffered values */
    size_t page_bytes;       /* 1 MiB of encoded values per data page */
    const qry_pq_kv_t *kv;   /* extra key_value_metadata (copied) */
    size_t nkv;
} qry_pq_opts_t;

/* Fills *o with the defaults above. */
void qry_pq_opts_default(qry_pq_opts_t *o /* OUT */);
/* "zstd", "lz4_raw" (or "lz4"), "snappy", "none" (or "uncompressed");
 * returns the enum value or CN_EINVAL. */
int qry_pq_codec_parse(const char *s);
const char *qry_pq_codec_name(int codec);

/*
 * One batch of n rows: ts[n] in ns since the epoch, and per caller column
 * (in qry_pq_open order) vals[c] and valid[c] (valid[c][row] is 1 when the
 * row has a value; valid itself or valid[c] may be NULL for "all valid").
 * Values of null rows are ignored.  The shape of eng_batch_t.
 */
typedef struct qry_pq_batch {
    uint32_t n;
    const int64_t *ts;
    const void *const *vals;
    const uint8_t *const *valid;
} qry_pq_batch_t;

typedef struct qry_pq_summary {
    uint64_t rows;
    uint64_t bytes; /* file size */
    uint32_t row_groups;
    int64_t tmin, tmax; /* ns; 0 and -1 when there are no rows */
} qry_pq_summary_t;

/*
 * Creates PATH.tmp and writes the header magic.  cols[0..ncols) describe the
 * columns after `time` (names are copied; they must be distinct and not the
 * time column's name).  opts may be NULL for the defaults.  Returns 0 with
 * *out set, CN_EINVAL for a bad schema or option, or -errno.
 */
int qry_pq_open(const char *path, const qry_pq_col_t *cols, size_t ncols, const qry_pq_opts_t *opts,
                qry_pq_writer_t **out /* OUT */);
/*
 * The same writer with its bytes going to sink (copied) instead of a file:
 * nothing is fsynced or renamed, and qry_pq_close() passes the footer to
 * the sink last.  Parquet needs no seeking, so the bytes are exactly those
 * qry_pq_open() would have put in the file.  Returns 0 or CN_EINVAL.
 */
int qry_pq_open_sink(const qry_sink_t *sink, const qry_pq_col_t *cols, size_t ncols,
                     const qry_pq_opts_t *opts, qry_pq_writer_t **out /* OUT */);
/* Bytes produced so far (passed to the file or sink, or buffered). */
uint64_t qry_pq_bytes(const qry_pq_writer_t *w);
/* Longest string value: a page (and its Thrift i32 sizes) must hold one. */
#define QRY_PQ_STR_MAX (UINT32_C(1) << 30)

/*
 * Appends the rows of b (copied; the caller keeps b).  Row groups are
 * written as they fill.  Returns 0, CN_EINVAL (a null in a required column),
 * CN_ELIMIT (a string longer than QRY_PQ_STR_MAX) - in both cases nothing
 * of the batch is appended - or -errno from a write.  After an
 * error the writer only accepts qry_pq_abort().
 */
int qry_pq_write(qry_pq_writer_t *w, const qry_pq_batch_t *b);
/*
 * Writes the last row group and the footer, fsyncs, renames PATH.tmp to
 * PATH and fsyncs the directory; fills *sum (may be NULL).  Always frees w;
 * on failure the temporary file is removed and PATH is untouched.
 */
int qry_pq_close(qry_pq_writer_t *w, qry_pq_summary_t *sum /* OUT */);
/*
 * Reads a whole file's summary back from its footer: rows, bytes (n), and
 * tmin/tmax from the time column's statistics (the first column; unit as
 * written, enum qry_pq_unit; MICROS values come back as whole microseconds
 * in ns).  For files of this writer; anything else may fail.  Safe on any
 * input.  Returns 0 or CN_ECORRUPT.
 */
int qry_pq_read_summary(const uint8_t *p, size_t n, int unit, qry_pq_summary_t *sum /* OUT */);
/* Discards everything: removes PATH.tmp (nothing more is passed to a sink)
 * and frees w.  NULL is a no-op. */
void qry_pq_abort(qry_pq_writer_t *w);

#endif /* QRY_PARQUET_H */
