/* SPDX-License-Identifier: MIT */
/*
 * http.h - cairn's HTTP/1.1 server: one event-loop thread that accepts
 * connections on http-listen, parses requests (keep-alive, pipelining one
 * request at a time, Content-Length and chunked bodies, Expect:
 * 100-continue, gzip request bodies), enforces the size limits and
 * timeouts, and routes /ping, /health, /write and /query (InfluxDB 1.x).
 * /query runs on a worker pool (job.h), never on the loop thread.
 *
 * Lifecycle (all called on the main thread):
 *
 *   srv_http_new()      loop and handles initialised, nothing listens yet;
 *                       srv_http_durable_notify is safe to call from now on
 *   eng_open(... durable_notify = srv_http_durable_notify, arg = http ...)
 *   srv_http_start()    binds, listens, starts the HTTP thread
 *   srv_http_stop()     stops accepting, lets requests in flight finish
 *                       (at most SRV_HTTP_DRAIN_MS), closes every
 *                       connection, joins the thread
 *   eng_close()         the WAL thread may still call the notify: it is a
 *                       no-op after srv_http_stop
 *   srv_http_free()
 *
 * Threads: srv_http_durable_notify runs on the engine's WAL thread; it only
 * signals the HTTP loop (uv_async_send under a mutex).  Everything else in
 * http.c and write.c runs on the HTTP thread.  No disk I/O happens there.
 */
#ifndef SRV_HTTP_H
#define SRV_HTTP_H

#include "engine.h"

/* How long srv_http_stop waits for requests in flight. */
#define SRV_HTTP_DRAIN_MS 10000
/* Out of descriptors, the listener pauses this long (http.c NOTES 7). */
#define SRV_HTTP_ACCEPT_PAUSE_MS 100
/* Request line plus headers, at most (larger: 431). */
#define SRV_HTTP_MAX_HEADER (64 * 1024)
/* What /ping reports in X-Influxdb-Version: InfluxDB clients read the
 * major version from it, so it has to look like a 1.x InfluxDB. */
#define SRV_HTTP_INFLUX_VERSION "1.8.10-cairn"

typedef struct srv_http_opts {
    const char *host; /* listen address (IPv4 or IPv6 literal, or "localhost") */
    uint16_t port;    /* 0 picks a free port; srv_http_port() tells which */
    size_t max_body;  /* /write bodies, raw and inflated */
    int64_t read_timeout_ns;
    int64_t idle_timeout_ns;
    uint32_t max_conns;
    /* /query (query.c) */
    uint32_t query_workers;      /* worker pool threads (queries in parallel), >= 1 */
    uint32_t query_threads;      /* scan threads per query, >= 1 */
    int64_t query_timeout_ns;    /* 0: no limit */
    int64_t query_log_after_ns;  /* a query running longer is logged when it ends; 0: off */
    uint64_t query_max_series;   /* 0: no limit */
    uint64_t query_max_points;   /* 0: no limit */
    struct qry_catalog *catalog; /* database names (exec.h), borrowed; may be NULL */
} srv_http_opts_t;

typedef struct srv_http srv_http_t;

/* Allocates the server and initialises its loop.  Copies opts.  Returns 0 or
 * a negative uv code converted with cn_from_uv. */
int srv_http_new(const srv_http_opts_t *opts, srv_http_t **out /* OUT */);
/* For eng_opts.durable_notify (arg = the srv_http_t).  WAL thread. */
void srv_http_durable_notify(void *arg, uint64_t durable_seq);
/* Binds and listens, then starts the HTTP thread.  db stays borrowed until
 * srv_http_stop returns.  Returns 0 or -errno (-EADDRINUSE, ...); on failure
 * call srv_http_free (srv_http_stop is then a no-op). */
int srv_http_start(srv_http_t *h, eng_db_t *db);

/* Producers of response bodies that other modules register before
 * srv_http_start; called on the HTTP thread, so they must be thread-safe
 * readers that never block. */
typedef void (*srv_http_text_fn)(void *arg, cn_buf_t *out);
enum { SRV_HTTP_MAX_METRICS = 8 };
/* GET /metrics: the Prometheus text of every registered producer, in
 * registration order.  Returns 0 or CN_ELIMIT. */
int srv_http_add_metrics(srv_http_t *h, srv_http_text_fn fn, void *arg);
/* GET /api/v1/sinks: fn's JSON (404 while none is set). */
void srv_http_set_sinks(srv_http_t *h, srv_http_text_fn fn, void *arg);
/* The bound port (after srv_http_start). */
uint16_t srv_http_port(const srv_http_t *h);
/* Graceful stop; blocks the calling (main) thread until the HTTP thread
 * has exited.  Idempotent. */
void srv_http_stop(srv_http_t *h);
/* Frees; NULL is a no-op.  Stops first if needed. */
void srv_http_free(srv_http_t *h);

/* The metadata store behind /api/v1/devices (NULL: 503 until set).
 * Setting NULL waits for handlers using the store.  Main thread. */
struct mq_store;
void srv_http_set_store(srv_http_t *h, struct mq_store *st);
/* export_http.c: the scheduled exports POST /api/v1/export/run kicks
 * (NULL: none).  Main thread, before srv_http_start. */
struct srv_xsched;
void srv_http_set_xsched(srv_http_t *h, struct srv_xsched *s);

/* Serves /api/v1/rules from r (rules.h; borrowed until srv_http_stop).
 * Call before srv_http_start. */
struct srv_rules;
void srv_http_set_rules(srv_http_t *h, struct srv_rules *r);

/* True when host is a loopback address (127.0.0.0/8, ::1, localhost). */
bool srv_http_is_loopback(const char *host);

#endif /* SRV_HTTP_H */
