/* SPDX-License-Identifier: MIT */
/*
 * csv.h - the CSV writer of batch exports (issue 7), the other format
 * beside Parquet, with the same columns and batches (qry_pq_col_t,
 * qry_pq_batch_t).
 *
 * Output (RFC 4180): a header line `time,<col>,...`, then one line per row,
 * lines ending in CRLF.  A value is quoted ("...", inner '"' doubled) when
 * it holds a comma, a quote, CR or LF, starts or ends with a space, or is
 * the empty string; a null is an empty unquoted value, so "" (an empty
 * string) and a null stay distinct.  Values:
 *   time     RFC 3339 UTC with all nine fraction digits
 *            (2026-01-01T12:00:00.000000000Z), or integer epoch s/ms/us/ns
 *            (floored) by option
 *   DOUBLE   the shortest text that reads back as the same double
 *            (0.1, 1e+300, NaN, Infinity, -Infinity)
 *   INT64    decimal; BOOLEAN true/false; STRING its bytes
 *
 * Threading: one thread at a time; it blocks in the sink.
 */
#ifndef QRY_CSV_H
#define QRY_CSV_H

#include "parquet.h"

typedef struct qry_csv_writer qry_csv_writer_t;

enum qry_csv_time { QRY_CSV_RFC3339 = 0, QRY_CSV_S, QRY_CSV_MS, QRY_CSV_US, QRY_CSV_NS };

typedef struct qry_csv_opts {
    const char *time_name; /* "time" */
    int time_format;       /* enum qry_csv_time, QRY_CSV_RFC3339 */
} qry_csv_opts_t;

/* "rfc3339", "s", "ms", "us", "ns"; returns the enum value or CN_EINVAL. */
int qry_csv_time_parse(const char *s);
const char *qry_csv_time_name(int fmt);

/*
 * Starts a CSV stream into sink (copied): the header line is written at
 * once.  cols as qry_pq_open (names distinct, not the time column's).
 * opts may be NULL.  Returns 0, CN_EINVAL, or the sink's error.
 */
int qry_csv_open(const qry_sink_t *sink, const qry_pq_col_t *cols, size_t ncols,
                 const qry_csv_opts_t *opts, qry_csv_writer_t **out /* OUT */);
/* Appends the rows of b.  Returns 0, CN_EINVAL (a null in a required
 * column; nothing of the batch written) or the sink's error; after an error
 * only qry_csv_abort() is accepted. */
int qry_csv_write(qry_csv_writer_t *w, const qry_pq_batch_t *b);
/* Passes the buffered bytes to the sink, fills *sum (may be NULL; bytes is
 * everything written, row_groups 0) and frees w. */
int qry_csv_close(qry_csv_writer_t *w, qry_pq_summary_t *sum /* OUT */);
/* Frees w without writing more.  NULL is a no-op. */
void qry_csv_abort(qry_csv_writer_t *w);
/* Bytes produced so far. */
uint64_t qry_csv_bytes(const qry_csv_writer_t *w);

#endif /* QRY_CSV_H */
