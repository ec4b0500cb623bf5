/* SPDX-License-Identifier: MIT */
/*
 * export.h - batch export of measurements to Parquet or CSV (issue 7):
 * `cairn export` (a stopped server's data directory, or a running server
 * through --server), GET /api/v1/export (export_http.c) and the scheduled
 * exports (export_sched.c) all run the code in export.c.
 *
 * Layout under OUT (directory exports):
 *   measurement=<m>/date=<YYYY-MM-DD>/<part>.parquet (or .csv)   one file
 *       per measurement and UTC day with rows; columns `time`, one STRING
 *       per tag key, one per field (float DOUBLE, integer INT64, boolean
 *       BOOLEAN, string STRING); rows sorted by series (device_id, then the
 *       other tags) then time.  Names are percent-encoded like Hive's.
 *       <part> is "part-0" for `cairn export`; scheduled exports name it
 *       after the start of the exported range (part-20260101T000000Z).
 *   _manifest-<start, e.g. 20261125T153649Z>.json   format, options, files,
 *       rows, bytes, time range and CRC-32C (hex) of each file.
 * Every file is written under a temporary name, fsynced and renamed, so a
 * reader never sees a partial file and a re-export replaces a partition
 * atomically.
 *
 * --where takes an InfluxQL condition (query/export/xfilter.h): tag terms
 * select series through the tag index, time terms narrow the range, the
 * rest filters rows.
 *
 * Threading: every function here blocks (disk I/O, compression); the server
 * calls them on worker threads, never on an event loop.
 */
#ifndef SRV_EXPORT_H
#define SRV_EXPORT_H

#include "engine.h"
#include "export/sink.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum srv_xfmt { SRV_XFMT_PARQUET = 0, SRV_XFMT_CSV = 1 };

typedef struct srv_export_opts {
    const char *data_dir;    /* CLI: the data directory, not in use by a server */
    const char *server;      /* CLI: base URL of a running server, instead of data_dir */
    const char *out_dir;     /* directory exports: created if missing */
    int64_t tmin, tmax;      /* [tmin, tmax) in ns */
    const char *measurement; /* NULL: every measurement */
    const char *where;       /* InfluxQL condition, or NULL */
    int format;              /* enum srv_xfmt */
    int codec;               /* enum qry_pq_codec (Parquet only) */
    int time_format;         /* Parquet: enum qry_pq_unit; CSV: enum qry_csv_time */
    const char *part;        /* file name stem; NULL: "part-0" */
    int64_t now_ns;          /* now() in the condition; 0: the clock at the start */
    FILE *progress;          /* a terminal for a progress line, or NULL */
    /* Polled between batches; returning true stops the export with
     * CN_ECLOSED (an HTTP client that went away, a server shutting down). */
    bool (*cancelled)(void *arg);
    void *cancel_arg;
} srv_export_opts_t;

typedef struct srv_export_summary {
    uint64_t rows;    /* rows written */
    uint64_t scanned; /* rows read from the engine (before the row filter) */
    uint64_t files;
    uint64_t bytes;
    int64_t elapsed_ns;
    int64_t tmin, tmax;  /* of the rows written; tmax < tmin when none */
    char manifest[4096]; /* path of the manifest written */
    char err[512];       /* why, for CN_EINVAL and CN_ENOTFOUND */
} srv_export_summary_t;

/* Fills *o with the defaults (everything, Parquet zstd, MICROS, part-0). */
void srv_export_opts_default(srv_export_opts_t *o /* OUT */);

/* Integer ns, or RFC 3339 / a bare date (UTC).  0 or CN_EINVAL. */
int srv_export_parse_time(const char *s, int64_t *ns /* OUT */);
/* "parquet" / "csv" -> enum srv_xfmt, else CN_EINVAL. */
int srv_export_format_parse(const char *s);
/* The time format names of a format ("us", "ns" / "rfc3339", "s", ...)
 * to the enum of that format; CN_EINVAL for others. */
int srv_export_time_parse(int format, const char *s);

/*
 * Parses `export` arguments (argv[1] is "export"): --data-dir or --server,
 * --out, --from, --to (RFC 3339, a date, or integer ns), --measurement,
 * --where, --format parquet|csv, --compression, --time-format; as
 * --opt=value or --opt value.  Strings are borrowed from argv.  Returns 0 or
 * CN_ECONFIG (message on diag).
 */
int srv_export_cli(int argc, char **argv, srv_export_opts_t *o /* OUT */, FILE *diag);

/*
 * Runs a CLI export (data_dir or server).  Returns 0; -EBUSY when a server
 * has the directory open, -ENOENT when data_dir does not exist,
 * CN_ENOTFOUND when it is not a cairn data directory (no wal/), CN_EINVAL
 * for a bad condition (sum->err), other -errno, engine or HTTP codes.
 */
int srv_export_run(const srv_export_opts_t *o, srv_export_summary_t *sum /* OUT */);

/* A directory export from an open engine (o->out_dir).  Codes as above. */
int srv_export_db(eng_db_t *db, const srv_export_opts_t *o, srv_export_summary_t *sum /* OUT */);

/*
 * One measurement (o->measurement, or the only one there is) as one file
 * into sink: every UTC day in order, rows sorted as in the files of a
 * directory export, so for a range within one day the bytes equal that
 * day's file.  Nothing reaches the sink before the export is known to
 * start: errors before the first byte are CN_EINVAL (bad condition, no
 * measurement given while there are several; sum->err) or CN_ENOTFOUND
 * (no such measurement).  Later errors come from the sink or the engine.
 */
int srv_export_stream(eng_db_t *db, const srv_export_opts_t *o, const qry_sink_t *sink,
                      srv_export_summary_t *sum /* OUT */);

/* The first and last timestamp of any point in [tmin, tmax) (*lo > *hi
 * when there is none); for the scheduler.  0 or a negative code. */
int srv_export_extent(eng_db_t *db, int64_t tmin, int64_t tmax, int64_t *lo /* OUT */,
                      int64_t *hi /* OUT */);

/*
 * The partitions an export would write: one line per measurement and UTC
 * day with rows, "<measurement percent-encoded as in the layout>\t
 * <YYYY-MM-DD>\n", appended to out (GET /api/v1/export/partitions, which
 * the CLI's --server mode reads).  Codes as srv_export_db.
 */
int srv_export_plan(eng_db_t *db, const srv_export_opts_t *o, cn_buf_t *out,
                    srv_export_summary_t *sum /* OUT */);

/* export_client.c: the CLI's --server mode (GET /api/v1/export/partitions,
 * then GET /api/v1/export per measurement and day into the same layout).
 * Errors: the server's message in sum->err with CN_EINVAL (400) or
 * CN_EPROTO (anything else, or a broken transfer); -errno from files. */
int srv_export_remote(const srv_export_opts_t *o, srv_export_summary_t *sum /* OUT */);

#endif /* SRV_EXPORT_H */
