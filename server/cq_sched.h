/* SPDX-License-Identifier: MIT */
/*
 * cq_sched.h - runs the continuous queries (CREATE CONTINUOUS QUERY, kept
 * in the query catalog) on a thread of their own, as InfluxDB 1.x's
 * continuous-query service does: each at the times query/exec/cq.c gives,
 * its SELECT ... INTO over the window of that run.
 *
 * The thread re-reads the catalog's queries at least once a second (a
 * query created is picked up within a second, dropped ones stop), sleeps
 * until the next run is due, and runs due queries one after the other
 * with the server's query limits.  A query is first run at its first run
 * time after it was created or after the server started: missed runs are
 * not made up.  A failing run is logged at warn (at most once a minute per
 * query) and counted; /metrics has cairn_cq_runs_total,
 * cairn_cq_failures_total and cairn_cq_points_written_total.
 *
 * Threads: start/stop on the main thread; srv_cqs_metrics on any.
 */
#ifndef SRV_CQ_SCHED_H
#define SRV_CQ_SCHED_H

#include "engine.h"
#include "exec.h"

typedef struct srv_cqs srv_cqs_t;

typedef struct srv_cqs_opts {
    eng_db_t *db;
    qry_catalog_t *catalog;
    int64_t timeout_ns; /* a run's query-timeout, 0: none */
    uint64_t max_series, max_points;
    uint32_t threads;
} srv_cqs_opts_t;

int srv_cqs_start(const srv_cqs_opts_t *o, srv_cqs_t **out /* OUT */);
/* Stops the thread (a running query is cancelled) and frees; NULL no-op. */
void srv_cqs_stop(srv_cqs_t *s);
/* Prometheus text of the counters (srv_http_text_fn). */
void srv_cqs_metrics(void *s, cn_buf_t *out);

#endif
