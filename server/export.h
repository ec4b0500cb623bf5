/* SPDX-License-Identifier: MIT */
/*
 * export.h - `cairn export`: a stopped server's data directory to a Parquet
 * dataset (issue 7).
 *
 * Layout under OUT:
 *   measurement=<m>/date=<YYYY-MM-DD>/part-0.parquet   one file per
 *       measurement and UTC day with rows; columns `time`, one STRING per
 *       tag key, one per field (float DOUBLE, integer INT64, boolean
 *       BOOLEAN, string STRING); rows sorted by series (device_id, then the
 *       other tags) then time.  Names are percent-encoded like Hive's.
 *   _manifest-<start, e.g. 20261125T153649Z>.json   files, rows, bytes,
 *       time range and CRC-32C (hex) of each file.
 * Every file is written under a temporary name, fsynced and renamed, so a
 * reader never sees a partial file and a re-export replaces a partition
 * atomically.
 */
#ifndef SRV_EXPORT_H
#define SRV_EXPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct srv_export_opts {
    const char *data_dir;    /* the data directory, not in use by a server */
    const char *out_dir;     /* created if missing */
    int64_t tmin, tmax;      /* [tmin, tmax) in ns */
    const char *measurement; /* NULL: every measurement */
    int codec;               /* enum qry_pq_codec */
    FILE *progress;          /* a terminal for a progress line, or NULL */
} srv_export_opts_t;

typedef struct srv_export_summary {
    uint64_t rows;
    uint64_t files;
    uint64_t bytes;
    int64_t elapsed_ns;
    char manifest[4096]; /* path of the manifest written */
} srv_export_summary_t;

/*
 * Parses `export` arguments (argv[1] is "export"): --data-dir, --out,
 * --from, --to (RFC 3339, a date, or integer ns), --measurement,
 * --compression, --format parquet; as --opt=value or --opt value.
 * Strings are borrowed from argv.  Returns 0 or CN_ECONFIG (message on diag).
 */
int srv_export_cli(int argc, char **argv, srv_export_opts_t *o /* OUT */, FILE *diag);

/*
 * Runs the export.  Returns 0; -EBUSY when a server has the directory open,
 * -ENOENT when data_dir does not exist, CN_ENOTFOUND when it is not a cairn
 * data directory (no wal/); other -errno or engine codes.
 */
int srv_export_run(const srv_export_opts_t *o, srv_export_summary_t *sum /* OUT */);

#endif /* SRV_EXPORT_H */
