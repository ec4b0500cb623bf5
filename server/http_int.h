/* SPDX-License-Identifier: MIT */
/*
 * http_int.h - what http.c shares with the request handlers (write.c):
 * the connection and request structs, the response writer and the parking
 * lists through which a /write waits for durability or for room in the
 * engine.  Private to server/.
 */
#ifndef SRV_HTTP_INT_H
#define SRV_HTTP_INT_H

#include "http.h"

#include <http_parser.h>
#include <stdatomic.h>
#include <uv.h>
#include <zlib.h>

typedef struct srv_conn srv_conn_t;
typedef struct srv_write srv_write_t;
typedef struct srv_job srv_job_t;
typedef struct srv_pool srv_pool_t;

/* One request being received or handled. */
typedef struct srv_req {
    cn_buf_t url;  /* request target, NUL-terminated once headers are complete */
    cn_buf_t body; /* inflated when Content-Encoding: gzip */
    cn_buf_t hname, hval;
    cn_buf_t ctype; /* the Content-Type header's value, empty without one */
    bool in_value; /* the parser last delivered a header value */
    bool expect_continue;
    bool gzip;
    bool z_live; /* z is initialised */
    z_stream z;
    size_t hdr_bytes; /* url + header bytes, for SRV_HTTP_MAX_HEADER */
    int err_status;   /* non-zero: reject with this status */
    const char *err_msg;
    bool head;       /* HEAD: no body in the response */
    bool keep_alive; /* the client allows another request on this connection */
    bool http10;
    bool accept_csv;  /* Accept: application/csv (or text/csv) */
    bool accept_gzip; /* Accept-Encoding: gzip */
} srv_req_t;

/*
 * Connection states:
 *
 *   C_IDLE --first byte (on_message_begin)--> C_READING
 *   C_READING --on_message_complete--> C_BUSY (reading stopped, handler runs)
 *   C_BUSY --srv__http_respond--> C_IDLE (keep-alive) or C_CLOSING
 *   any --error, timeout, EOF, shutdown--> C_CLOSING --close_cb--> freed
 */
enum srv_conn_state { C_IDLE = 0, C_READING, C_BUSY, C_CLOSING };

struct srv_conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* read timeout while C_READING, idle timeout while C_IDLE */
    srv_http_t *srv;
    http_parser parser;
    srv_req_t req;
    cn_buf_t in;   /* received bytes not yet parsed */
    size_t in_off; /* parsed prefix of `in` */
    int state;
    int nclosed;      /* handles closed so far (2 = free) */
    bool reading;     /* uv_read_start active */
    bool close_after; /* close once the current response is written */
    bool in_process;  /* inside conn_process (no re-entry) */
    bool peer_eof;    /* the client sent EOF */
    bool linger;      /* after the last response: half-close, drain, then close */
    uv_shutdown_t shut;
    uint32_t nwrites;        /* uv_write requests in flight */
    srv_conn_t *prev, *next; /* all connections */
    srv_conn_t *park_next;   /* durable or writable wait list */
    int parked;              /* 0, PARK_DURABLE or PARK_WRITABLE */
    srv_write_t *w;          /* /write handler state, lazily allocated */
    srv_job_t *job;          /* a handler running on the worker pool (job.h), or NULL */
    void *rules_req;         /* rules_api.c: a write in flight (its NOTES 1) */
};

enum { PARK_DURABLE = 1, PARK_WRITABLE = 2 };

/* A FIFO of parked connections (intrusive through park_next). */
typedef struct srv_park {
    srv_conn_t *head, *tail;
} srv_park_t;

struct srv_http {
    srv_http_opts_t o;
    char host[256];
    uv_loop_t loop;
    uv_poll_t listener; /* on lfd: accept4 once per readiness (http.c NOTES 7) */
    int lfd;            /* the listening socket, -1 when closed */
    uv_timer_t accept_timer; /* listening paused after EMFILE/ENFILE */
    cn_ratelimit_t accept_rl; /* its log line */
    uv_async_t durable_async; /* WAL thread -> loop: the durable seq advanced */
    uv_async_t stop_async;    /* main thread -> loop: begin the shutdown */
    uv_timer_t retry_timer;   /* retries CN_EFULL writes */
    uv_timer_t drain_timer;   /* bounds the shutdown */
    uv_thread_t thread;
    uv_mutex_t notify_mu; /* guards notify_live against the WAL thread */
    bool notify_live;
    bool started, stopped, stopping, loop_ready;
    eng_db_t *db;
    struct srv_rules *rules; /* /api/v1/rules (rules.h); NULL: 503 */
    uint16_t port;
    bool deferred, nodelay; /* the listener's TCP_DEFER_ACCEPT, TCP_NODELAY (http.c NOTES 6) */
    uint32_t nconns;
    uint64_t efull_waits; /* writes parked for CN_EFULL (logged at shutdown) */
    srv_pool_t *pool;     /* worker threads for handlers that may block or run long */
    uv_mutex_t store_mu;  /* store: set/cleared by the main thread, used by jobs */
    struct mq_store *store;
    uv_async_t job_async; /* pool -> loop: a job has output or finished */
    uv_async_t baton_async; /* the loop's thread wants the loop back (job.c NOTES 2) */
    srv_conn_t *conns;
    srv_park_t wait_durable, wait_writable;
    /* Tests and tests/fuzz/fuzz_http.c: when set, responses go to sink
     * instead of a socket (see srv__conn_new_detached). */
    void (*sink)(void *arg, srv_conn_t *c, const void *p, size_t n);
    void *sink_arg;
    struct srv_xsched *xsched; /* scheduled exports, NULL when off (export_http.c) */
    /* GET /metrics and /api/v1/sinks producers (srv_http_add_metrics). */
    struct {
        srv_http_text_fn fn;
        void *arg;
    } metrics[SRV_HTTP_MAX_METRICS], sinks_json;
    uint32_t nmetrics;
    /* /query (query.c): requests executing statements now, and those the
     * executor stopped because their client disconnected */
    atomic_uint_least64_t query_running, query_cancelled;
    /* the queries running now, in qid order (SHOW QUERIES, KILL QUERY;
     * query.c), under tasks_mu */
    uv_mutex_t tasks_mu;
    struct srv_task *tasks_head, *tasks_tail;
    uint64_t tasks_qid;   /* the last qid given */
    char rbuf[64 * 1024]; /* shared read buffer: read_cb copies out at once */
};

/*
 * Queues a complete response on c.  body may be NULL (len 0).  ctype NULL
 * means no Content-Type.  extra: more header lines, each ending in "\r\n",
 * or NULL.  For HEAD the body is left out (Content-Length still tells its
 * length).  Ends the request: the connection goes back to C_IDLE (and
 * parses the next pipelined request) or closes.
 */
void srv__http_respond(srv_conn_t *c, int status, const char *ctype, const char *extra,
                       const void *body, size_t len);
/* The pieces of srv__http_respond for streamed answers (job.c): the
 * status line and headers (chunked: Transfer-Encoding: chunked, else the
 * body is delimited by Content-Length len or, for HTTP/1.0, by close),
 * raw body bytes, and the end of the request. */
void srv__http_head(srv_conn_t *c, int status, const char *ctype, const char *extra, bool chunked,
                    size_t len);
void srv__http_body(srv_conn_t *c, const void *p, size_t n);
void srv__http_end(srv_conn_t *c);
/* A job's whole answer that a worker wrote to the socket itself (job.c):
 * the head as head_buf() makes it, for a Content-Length answer of len
 * bytes (close: "Connection: close"); and, on the loop, the end of that
 * request once the worker is done: rest (bytes the socket did not take)
 * is queued, then as srv__http_end. */
void srv__http_head_fmt(int status, const char *ctype, const char *extra, bool http10, bool close,
                        size_t len, cn_buf_t *out);
void srv__http_answered(srv_conn_t *c, cn_buf_t *rest);

/* {"error":"MSG"} with X-Influxdb-Error, as InfluxDB's httpError writes it. */
void srv__http_error(srv_conn_t *c, int status, const char *msg);

/* Appends s (n bytes) JSON-escaped, without quotes. */
void srv__json_escape(cn_buf_t *out, const char *s, size_t n);

/* Are requests pipelined after the current one waiting in c's input
 * (anything but line breaks)? */
static inline bool srv__conn_pipelined(const srv_conn_t *c)
{
    for (size_t i = c->in_off; i < c->in.len; i++)
        if (c->in.p[i] != '\r' && c->in.p[i] != '\n')
            return true;
    return false;
}

/* Parking: one list per reason.  A parked connection is resumed by
 * srv__write_resume from the durable notification or the retry timer. */
void srv__park(srv_http_t *h, srv_conn_t *c, int why);
void srv__unpark(srv_http_t *h, srv_conn_t *c);

/* write.c: POST /write.  Takes over the request; responds (at once or
 * after durability).  query: the part of the URL after '?', or "". */
void srv__write_handle(srv_conn_t *c, const char *query);
/* Continues a parked write (its reason may be gone). */
void srv__write_resume(srv_conn_t *c);
/* Frees the write state of a closing connection (NULL w is a no-op). */
void srv__write_free(srv_write_t *w);

/* query.c: GET/POST /query (InfluxQL).  Runs on the worker pool. */
void srv__query_handle(srv_conn_t *c, const char *query);
/* cairn_query_running and cairn_query_cancelled_total (Prometheus text). */
void srv__query_metrics(srv_http_t *h, cn_buf_t *out);
/* export_http.c: /api/v1/export and below.  Takes over the request. */
void srv__export_handle(srv_conn_t *c, const char *path, const char *query);

/* Connections.  srv__conn_read is the read callback's body: nread bytes
 * at p, or nread < 0 for EOF / a read error (p unused).  srv__conn_close
 * closes both handles; the connection is freed in their close callbacks.
 * srv__conn_new_detached (h->sink set: tests, fuzzing) makes a connection
 * without a socket, fed by srv__conn_read; writes go to h->sink at once
 * and complete synchronously, so a C_CLOSING connection is left for the
 * caller to close.  Run the loop (UV_RUN_NOWAIT) to free closed ones. */
srv_conn_t *srv__conn_new_detached(srv_http_t *h);
void srv__conn_read(srv_conn_t *c, ssize_t nread, const char *p);
void srv__conn_close(srv_conn_t *c);

/* rules_api.c: /api/v1/rules[/...] (url without the query string), and
 * the hook http.c calls when a connection with a write in flight closes. */
void srv__rules_handle(srv_conn_t *c, const char *url);
void srv__rules_detach(void *req);

/* Decodes the value of `key` from a query string (%XX and '+').  Returns
 * the length written (NUL-terminated, truncated to n-1) or -1 if absent. */
int srv__query_param(const char *query, const char *key, char *out, size_t n);
/* One pass over query for several keys: vals[i] / lens[i] the raw (still
 * encoded) value of the first "keys[i]=" segment, vals[i] NULL without
 * one; srv__query_value decodes one as srv__query_param does (-1 for a
 * NULL v). */
void srv__query_values(const char *query, const char *const *keys, size_t nk, const char **vals,
                       size_t *lens);
/* The same over n bytes that need no NUL (a form-encoded POST body). */
void srv__form_values(const char *s, size_t n, const char *const *keys, size_t nk,
                      const char **vals, size_t *lens);
int srv__query_value(const char *v, size_t len, char *out, size_t n);
/* n bytes at p with ASCII spaces and tabs cut from both ends (the new
 * start; *n the new length). */
const char *srv__trim_lws(const char *p, size_t *n);
/* The media type of a Content-Type value v (n bytes): its length (up to
 * the first ';', untrimmed); *param / *plen (may be NULL) the parameters
 * after it. */
size_t srv__media_type(const char *v, size_t n, const char **param, size_t *plen);
/* The value of parameter `name` (case-insensitive) in the parameters ps
 * (n bytes: "; a=b; c=\"d\""), unquoted, into out (cap bytes, NUL-
 * terminated; out NULL: only its length).  Returns its length, -1 when
 * absent or too long for out, -2 when the parameters are malformed as Go's
 * mime.ParseMediaType finds them (one without a value, an unterminated
 * quote, `name` twice). */
int srv__mime_param(const char *ps, size_t n, const char *name, char *out, size_t cap);
/* The first value of each of keys[0..nk) in a multipart/form-data body s
 * (n bytes, RFC 7578) with the given boundary, as Go's ReadForm finds
 * them: vals / lens point into s (raw bytes, nothing to decode); a part
 * with a filename goes to files / flens instead.  Returns 0, or -1 (and
 * no values at all) when the body is not a complete multipart body. */
#define SRV_MULTIPART_MAX_BOUNDARY 255
int srv__multipart_values(const char *s, size_t n, const char *boundary, const char *const *keys,
                          size_t nk, const char **vals, size_t *lens, const char **files,
                          size_t *flens);

/* The metadata store for /api/v1/devices (devices.c): acquire returns it
 * (NULL when not open) and holds it open until release; any thread. */
struct mq_store *srv__http_store_acquire(srv_http_t *h);
void srv__http_store_release(srv_http_t *h);
/* /api/v1/devices[/<id>] (devices.c); loop thread. */
void srv__devices_handle(srv_conn_t *c, const char *path);

#endif /* SRV_HTTP_INT_H */
