/* SPDX-License-Identifier: MIT */
/*
 * exec.h - the InfluxQL planner and executor: runs one parsed statement
 * (query/ast.h) against the storage engine and returns its result as typed
 * tables, and renders results as InfluxDB 1.x JSON or CSV.
 *
 *   qry_exec_stmt()  plan + execute one statement -> qry_result_t (OWNED)
 *   qry_result_json / qry_result_csv   render, append to a cn_buf_t
 *
 * Planning (exec/plan.c): the WHERE clause is split into the time range
 * (top-level AND of comparisons with `time`), conditions on tags (pushed to
 * the engine's tag index when they are a top-level AND of = != =~ !~; any
 * other shape is evaluated once per series on its tags) and conditions on
 * fields (evaluated per row, vectorised per batch).  Series are grouped by
 * the GROUP BY tags; every group is one output series.
 *
 * SELECT ... INTO (exec/into.c) runs the SELECT and writes its rows back
 * as points (InfluxDB 1.x's semantics; answers [0, written]).
 *
 * Execution (exec/run.c): each series is read through eng_iter_* over the
 * time range in batches of up to ENG_BATCH rows.  Aggregates fold whole
 * stored blocks and sealed memtable chunks from their stats
 * (eng_iter_peek_stats) when the block lies inside one GROUP BY time bucket
 * and no field condition applies; min() and max() skip blocks whose stats
 * cannot beat the current best, and alone (reporting the point's time) take
 * the value from the stats and then read just the block holding it for its
 * time (select.c, resolve_pend).  Groups (or,
 * with a single group, slices of its series) run in parallel on up to
 * opts.threads threads; partial states are merged in series order.
 *
 * Exactness and order (documented divergences from a naive reference):
 *  - integer sum() and mean() accumulate exactly in 128 bits (a stored
 *    block whose int64 sum wrapped is decoded instead of folded): a sum
 *    that fits int64 is exact whatever the order, one outside int64 is
 *    the statement error "integer overflow in sum()" where InfluxDB wraps
 *    silently; mean() divides the exact sum;
 *  - float sum() and mean() add the values of each series in time order
 *    (whole blocks and memtable chunks contribute their in-order sum) and then
 *    add the per-series sums in series-id order; a reference that adds all
 *    rows of a group in one time-sorted pass may differ in the last ulps;
 *  - stddev() is the sample standard deviation computed in two passes over
 *    the collected values (mean first), as InfluxDB does;
 *  - median() / percentile() sort the values (ties by time); percentile(p)
 *    picks the element at index int(n*p/100 + 0.5) - 1 like InfluxDB.
 *  - top() / bottom() rank by value, ties to the earlier point, then series
 *    order; sample() is reservoir sampling with a fixed seed, so the same
 *    data gives the same sample (InfluxDB's is random; select.c).
 *
 * Threads: qry_exec_stmt may run on any thread and spawns helper threads
 * of its own for the parallel scan; it never blocks on an event loop.
 * Cancellation: the caller sets *opts.cancel to non-zero (any thread);
 * the executor checks it between batches and returns CN_ECLOSED.  *opts.kill
 * (KILL QUERY) is checked at the same points and at each statement's start,
 * and fails the statement instead ("query interrupted", as InfluxDB).
 */
#ifndef QRY_EXEC_H
#define QRY_EXEC_H

#include "ast.h"
#include "engine.h"

#include <stdatomic.h>

/* --------------------------------------------------------------- results */

typedef enum qry_vt {
    QRY_NULL = 0,
    QRY_FLOAT,
    QRY_INT,
    QRY_BOOL,
    QRY_STR,
    QRY_TIME, /* i: ns since the epoch, rendered per epoch= / tz() */
} qry_vt_t;

typedef struct qry_val {
    uint8_t t; /* qry_vt_t */
    union {
        double f;
        int64_t i;
        bool b;
        struct {
            const char *p; /* owned by the result */
            uint32_t len;
        } s;
    } u;
} qry_val_t;

typedef struct qry_series {
    const char *name; /* NULL: no "name" member (SHOW SERIES, SHOW DATABASES) */
    eng_tag_t *tags;  /* group-by tags, sorted by key */
    size_t ntags;
    const char **cols;
    size_t ncols;
    qry_val_t *vals; /* row-major, nrows * ncols */
    size_t nrows;
} qry_series_t;

typedef struct qry__rarena qry__rarena_t;
struct qry__tz;

/* One statement's answer.  err non-NULL: the statement failed with that
 * message (InfluxDB's wording) and series is empty. */
typedef struct qry_result {
    qry_series_t *series;
    size_t nseries;
    char *err;
    char *msg;        /* informational (e.g. DELETE), or NULL */
    struct qry__tz *tz; /* tz() zone for rendering QRY_TIME; NULL: UTC */
    qry__rarena_t *arena;
} qry_result_t;

void qry_result_free(qry_result_t *r);

/* ------------------------------------------------------------ execution */

/* The name space above the engine: databases and retention policies.
 * cairn stores every database in one engine (see README); this object
 * remembers the names clients created so SHOW DATABASES and
 * SHOW RETENTION POLICIES answer as InfluxDB would.  Thread-safe. */
typedef struct qry_catalog qry_catalog_t;
/* path: a file to persist the names in (NULL: memory only). */
int qry_catalog_open(const char *path, qry_catalog_t **out /* OUT */);
void qry_catalog_close(qry_catalog_t *c);
/* The `retention` config key: the duration of every database's default
 * policy that no statement has set. */
void qry_catalog_set_base_retention(qry_catalog_t *c, int64_t ns);
/* The engine retention the recorded policies ask for: the longest default
 * policy duration over all databases (0 = INF wins); the base when no
 * database is known.  The server opens the engine with it. */
int64_t qry_catalog_retention(qry_catalog_t *c);
/* Records db as existing (writes to it create it in InfluxDB too); does no
 * I/O: the next qry_exec_stmt persists it. */
void qry_catalog_touch(qry_catalog_t *c, const char *db);

/* Continuous queries (CREATE CONTINUOUS QUERY, kept with the catalog):
 * their statements as printed, OWNED (each string and the array, cn_free),
 * *n of them, in creation order. */
char **qry_catalog_cqs(qry_catalog_t *c, size_t *n /* OUT */);
/* Appends st as printed, a SELECT with every measurement and INTO naming
 * its database (db where it leaves it out) and policy (the database's
 * default, or rp when given, where it leaves it out), as InfluxDB prints a
 * SELECT it has normalised; other statements, or without c or db, as qry_print_stmt. */
void qry_print_qualified(const qry_stmt_t *st, qry_catalog_t *c, const char *db, const char *rp,
                         cn_buf_t *b);

/* The queries a server is running, for SHOW QUERIES and KILL QUERY (the
 * server implements it; InfluxDB 1.x's task manager).  A query is one
 * request's statements. */
typedef struct qry_task_info {
    uint64_t qid;
    char *query; /* OWNED: its statements as printed, ";\n" between */
    char *db;    /* OWNED: its db=, "" without */
    int64_t ns;  /* how long it has run */
    bool killed; /* KILL QUERY asked it to stop; it has not yet */
} qry_task_info_t;

typedef struct qry_tasks {
    void *ctx;
    /* Every running query in qid order into *out (OWNED: qry_task_infos_free);
     * returns their number. */
    size_t (*list)(void *ctx, qry_task_info_t **out /* OUT */);
    /* Asks query qid to stop (its next check answers "query interrupted"):
     * 0, CN_ENOTFOUND when no query qid runs, CN_EEXIST when it was asked
     * already. */
    int (*kill)(void *ctx, uint64_t qid);
} qry_tasks_t;

void qry_task_infos_free(qry_task_info_t *v, size_t n);
/* A running query's duration as InfluxDB's SHOW QUERIES writes it: cut to
 * whole seconds, milliseconds or microseconds, then Go's time.Duration
 * form ("3s", "1m5s", "471ms", "75µs", "800ns"). */
void qry_task_duration(int64_t ns, cn_buf_t *out);

typedef struct qry_exec_opts {
    eng_db_t *db;
    qry_catalog_t *cat;   /* may be NULL */
    const char *dbname;   /* db= of the request, may be NULL or "" */
    const char *rpname;   /* rp= of the request (names without a policy take it), or NULL */
    int64_t now;          /* ns; now() and the default upper bound */
    int64_t deadline;     /* CLOCK_MONOTONIC ns after which the query fails; 0: none */
    uint64_t max_series;  /* 0: unlimited */
    uint64_t max_points;  /* rows scanned; 0: unlimited */
    uint32_t threads;     /* parallel scan threads, >= 1 */
    const atomic_int *cancel; /* may be NULL */
    /* KILL QUERY of this query: once non-zero, the running statement
     * fails with "query interrupted" at its next check and so does every
     * statement started after it; may be NULL */
    const atomic_int *kill;
    const qry_tasks_t *tasks; /* SHOW QUERIES / KILL QUERY; NULL: none run */
    /* set by the executor for the outer statement of a subquery: the
     * series' tags are the inner GROUP BY's, and one a series lacks reads
     * "" (InfluxDB's inner group of series without it), not null */
    bool absent_tags_empty;
} qry_exec_opts_t;

/* Runs one statement.  Returns 0 with *out set (OWNED; a statement error
 * is reported inside the result, not as a return code), or CN_ECLOSED when
 * cancelled (then *out is NULL). */
int qry_exec_stmt(const qry_stmt_t *st, const qry_exec_opts_t *o, qry_result_t **out /* OUT */);

/* One continuous query, parsed for running (exec/cq.c has the rules). */
typedef struct qry_cq qry_cq_t;
/* text: a CREATE CONTINUOUS QUERY statement (qry_catalog_cqs). */
int qry_cq_parse(const char *text, qry_cq_t **out /* OUT */, qry_error_t *err /* OUT */);
void qry_cq_free(qry_cq_t *cq);
const char *qry_cq_db(const qry_cq_t *cq);
const char *qry_cq_name(const qry_cq_t *cq);
/* The first time after `after` (ns since the epoch) that it runs. */
int64_t qry_cq_next_run(const qry_cq_t *cq, int64_t after);
/* The last time at or before `at` that it runs. */
int64_t qry_cq_last_run(const qry_cq_t *cq, int64_t at);
/* The time range [*start, *end) its run at t covers. */
void qry_cq_window(const qry_cq_t *cq, int64_t t, int64_t *start /* OUT */, int64_t *end /* OUT */);
/* Runs it as at time t (now() = t, its database as db=) with o's engine,
 * catalog and limits: qry_exec_stmt of its SELECT ... INTO over the window. */
int qry_cq_run(const qry_cq_t *cq, int64_t t, const qry_exec_opts_t *o,
               qry_result_t **out /* OUT */);

/* ------------------------------------------------------------ rendering */

typedef struct qry_fmt_opts {
    int64_t epoch_div; /* 0: RFC 3339 times; else ns per unit (1, 1000, ...) */
    bool pretty;
} qry_fmt_opts_t;

/* Appends one element of "results": {"statement_id":N,"series":[...]}
 * (or "error"). */
void qry_result_json(const qry_result_t *r, int stmt_id, const qry_fmt_opts_t *fo, cn_buf_t *out);
/* Appends one series object with rows [row0, row0+nrows) only, and
 * "partial":true when partial (chunked responses). */
void qry_result_json_series(const qry_result_t *r, const qry_series_t *s, size_t row0,
                            size_t nrows, bool partial, const qry_fmt_opts_t *fo, cn_buf_t *out);
/* Re-indents compact JSON the way Go's json.MarshalIndent(v, "", "    ")
 * lays it out (pretty=true). */
void qry_json_pretty(const uint8_t *in, size_t n, cn_buf_t *out);
/* CSV as InfluxDB 1.x writes it: a name,tags,<columns> header whenever the
 * column set changes (state in *header_done / *last_cols / *last_ncols,
 * kept by the caller across statements), times as epoch integers. */
void qry_result_csv(const qry_result_t *r, int stmt_id, const qry_fmt_opts_t *fo, bool *header_done,
                    const char ***last_cols, size_t *last_ncols, cn_buf_t *out);
/* Appends s as a quoted JSON string escaped the way Go's encoding/json
 * escapes it (<, > and & as \u003c, \u003e, \u0026). */
void qry_json_str(cn_buf_t *out, const char *s, size_t n);
/* Appends a float the way Go's encoding/json does (shortest round-trip,
 * exponent form outside [1e-6, 1e21)). */
void qry_fmt_float(double f, cn_buf_t *out);

#endif /* QRY_EXEC_H */
