/* SPDX-License-Identifier: MIT */
/*
 * export_sched.h - scheduled exports (issue 7): with export-dir set, a
 * background thread exports every closed interval to that directory in
 * `cairn export`'s layout, and records how far it got in SQLite
 * (data-dir/meta.db, WAL mode, table export_state) so that across restarts
 * nothing is exported twice or skipped.
 *
 * An interval is export-every long (or partition-duration for
 * "partition"), aligned to the Unix epoch, and closed once the wall clock
 * is export-delay past its end.  Each run exports [W, C) in one go, W being
 * the recorded watermark (at first the start of the interval holding the
 * earliest point), C the end of the last closed interval, but never past
 * the end of the interval holding the newest point in [W, C): an idle
 * database does not move the watermark over intervals that may still
 * receive their points.  Files are named after W (part-<W>.parquet in each
 * day's folder), so a run repeated after a crash between its files and its
 * SQLite commit replaces exactly the files it wrote; the commit of C comes
 * last.  Points that arrive for an interval already exported are not
 * exported again (re-export those days with `cairn export`).
 *
 * Threads: srv_xsched_* are called on the main thread except
 * srv_xsched_kick (any thread, e.g. the HTTP loop for POST
 * /api/v1/export/run: it only signals a condition variable).  The worker
 * thread uses the engine's snapshots and blocks on disk.
 */
#ifndef SRV_EXPORT_SCHED_H
#define SRV_EXPORT_SCHED_H

#include "cfg.h"
#include "engine.h"

typedef struct srv_xsched srv_xsched_t;

/* Starts the thread (a first run happens at once).  *out is NULL when
 * export-dir is empty.  Returns 0, CN_ECONFIG (bad export-every) or the
 * error of opening meta.db. */
int srv_xsched_start(const srv_cfg_t *cfg, eng_db_t *db, srv_xsched_t **out /* OUT */);
/* Asks for a run now (after the current one, if one is running).  Thread-safe;
 * NULL is a no-op. */
void srv_xsched_kick(srv_xsched_t *s);
/* Stops after the run in progress and frees; call before eng_close.  NULL
 * is a no-op. */
void srv_xsched_stop(srv_xsched_t *s);

#endif /* SRV_EXPORT_SCHED_H */
