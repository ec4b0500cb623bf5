/* SPDX-License-Identifier: MIT */
/*
 * export_int.h - what export.c shares with export_client.c (the CLI's
 * --server mode): the manifest and the layout's name escaping.  Private to
 * server/.
 */
#ifndef SRV_EXPORT_INT_H
#define SRV_EXPORT_INT_H

#include "export.h"
#include "export/parquet.h"

/* Hive-style percent-encoding of a partition value, appended to b. */
void srv__hive_escape(const char *s, cn_buf_t *b);
/* Reads path back for its CRC-32C and appends its manifest entry (rel is
 * its path under out_dir) to entries; adds it to sum's files, bytes and
 * time range.  0 or -errno. */
int srv__xp_list_file(cn_buf_t *entries, srv_export_summary_t *sum, const char *path,
                      const char *rel, const char *mname, const char *date,
                      const qry_pq_summary_t *ps);
/* Writes OUT/_manifest-<start>[-<part>].json (atomically) with the options
 * of o, the totals of sum and the entries; sets sum->manifest. */
int srv__xp_write_manifest(const srv_export_opts_t *o, srv_export_summary_t *sum,
                           const cn_buf_t *entries, int64_t start_ns, const char *source);

#endif /* SRV_EXPORT_INT_H */
