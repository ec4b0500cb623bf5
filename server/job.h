/* SPDX-License-Identifier: MIT */
/*
 * job.h - request handlers that run on a worker pool and stream their
 * response back to the HTTP loop (GET/POST /query; reusable by any
 * handler that may block or run long, e.g. an export endpoint).
 *
 *   loop thread:   srv__job_run(c, fn, arg, free_fn)  the request is now
 *                  the job's; the connection stays C_BUSY
 *   worker thread: fn(job, arg) (or the loop's own thread, after it
 *                  left the loop: job.c NOTES 2)
 *                     srv_job_begin(job, status, ctype, extra)   once
 *                     srv_job_write(job, bytes, n)               any times
 *                  returning from fn ends the response
 *   loop thread:   a job that finished before its first bytes reached
 *                  the loop is answered with Content-Length; otherwise
 *                  the answer is chunked (HTTP/1.1) or close-delimited
 *                  (HTTP/1.0).
 *
 * Cancellation: when the client disconnects (EOF, error, timeout, server
 * drain timeout) the job's cancel flag is set and its output discarded;
 * fn should poll srv_job_cancel_flag() (the query executor does between
 * batches) and return.  srv_job_write returns CN_ECLOSED once cancelled.
 * Back-pressure: srv_job_write blocks the worker while more than
 * SRV_JOB_MAX_PENDING bytes wait for the loop.
 *
 * Lifetime: a job is freed (free_fn(arg) called) once its worker returned
 * from fn and the loop is done with it (answered or detached).
 */
#ifndef SRV_JOB_H
#define SRV_JOB_H

#include "http_int.h"

#include <stdatomic.h>

#define SRV_JOB_MAX_PENDING (4u << 20)
/* The least time a job the loop's own thread runs keeps the loop waiting:
 * the sitter takes it over at the first kernel tick after the job began,
 * but not before this (job.c NOTES 2 and 3). */
#define SRV_POOL_FOLLOW_NS 500000

typedef void (*srv_job_fn)(srv_job_t *j, void *arg);

/* The pool: nthreads workers (>= 1) taking jobs in FIFO order. */
int srv__pool_new(srv_http_t *h, uint32_t nthreads, srv_pool_t **out /* OUT */);
/* Joins the workers after the loop has stopped; jobs still queued are
 * cancelled and freed.  NULL is a no-op. */
void srv__pool_free(srv_pool_t *p);

/* The HTTP loop's thread: runs the loop until it ends, and each job that
 * srv__job_run handed to this thread itself (job.c NOTES 2). */
void srv__pool_loop(srv_pool_t *p);
/* baton_async's callback: stops the loop the sitter runs when the loop's
 * thread wants it back.  NULL is a no-op. */
void srv__pool_baton(srv_pool_t *p);
/* Loop thread: runs fn(job, arg) on the pool for connection c. */
void srv__job_run(srv_conn_t *c, srv_job_fn fn, void *arg, void (*free_fn)(void *));
/* Loop thread: the connection is closing; cancels its job. */
void srv__job_detach(srv_conn_t *c);
/* Loop thread (job_async): moves finished output to the connections. */
void srv__job_pump(srv_http_t *h);
/* Loop thread (final_close): no more job notifications. */
void srv__job_shutdown(srv_http_t *h);

/* Worker thread. */
void srv_job_begin(srv_job_t *j, int status, const char *ctype, const char *extra);
int srv_job_write(srv_job_t *j, const void *p, size_t n);
const atomic_int *srv_job_cancel_flag(const srv_job_t *j);
/* The answer failed after srv_job_begin: once fn returns, the connection
 * is closed without ending the response (a chunked answer lacks its last
 * chunk, a close-delimited one ends early; an answer not yet sent becomes
 * a 500), so the client never takes a cut-off body for a whole one. */
void srv_job_fail(srv_job_t *j);
/* What the request asked for (copied at srv__job_run). */
bool srv_job_http10(const srv_job_t *j);

#endif /* SRV_JOB_H */
