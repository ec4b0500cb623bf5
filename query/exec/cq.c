/* SPDX-License-Identifier: MIT */
/*
 * cq.c - continuous queries: when one runs and what it covers (exec.h,
 * qry_cq_*).  The statements live in the catalog (show.c); the server's
 * scheduler (server/cq.c) asks when each runs next and runs it.
 *
 * As InfluxDB 1.x documents them, with I the GROUP BY time() interval, O
 * its offset, E the RESAMPLE EVERY (I without) and F the RESAMPLE FOR:
 *  - a query runs at every time t with (t - O) a multiple of E - at the
 *    start of each interval without RESAMPLE ("every hour, on the hour");
 *  - the run at t covers [end - F, end) - [end - max(I, E), end) without
 *    FOR - where end is the first interval boundary at or after t: at
 *    8:30 a GROUP BY time(1h) RESAMPLE EVERY 30m covers [8:00, 9:00), at
 *    9:00 [8:00, 9:00); RESAMPLE EVERY 1h FOR 90m of 30m windows covers
 *    [6:30, 8:00) at 8:00.  The start is moved to a window boundary (up:
 *    FOR 90m of 1h windows at 2:00 covers [1:00, 2:00), as InfluxDB) and
 *    back at least to the window that held the previous run (down: EVERY
 *    45m of 1h windows covers [0:00, 2:00) at 1:30, finishing the first
 *    hour after it ended); FOR may not be shorter than max(I, E);
 *  - the SELECT runs with that range ANDed to its WHERE and now() = t, and
 *    writes through its INTO (into.c).  Runs missed while the server was
 *    down are not made up (InfluxDB's queries do not backfill either).
 */
#include "exec_int.h"

#include <stdio.h>
#include <string.h>

struct qry_cq {
    qry_query_t *q;
    const qry_ddl_t *d;
    int64_t interval, offset, every;
};

int qry_cq_parse(const char *text, qry_cq_t **out, qry_error_t *err)
{
    qry_query_t *q;
    int rc = qry_parse(text, strlen(text), &q, err);
    if (rc < 0)
        return rc;
    if (q->nstmts != 1 || q->stmts[0].kind != QRY_STMT_CREATE_CQ) {
        qry_query_free(q);
        if (err) {
            memset(err, 0, sizeof *err);
            err->code = CN_EINVAL;
            snprintf(err->msg, sizeof err->msg, "not a CREATE CONTINUOUS QUERY statement");
        }
        return CN_EINVAL;
    }
    qry_cq_t *cq = cn_calloc(1, sizeof *cq);
    cq->q = q;
    cq->d = q->stmts[0].u.ddl;
    for (size_t i = 0; i < cq->d->cq->ndims; i++)
        if (cq->d->cq->dims[i].kind == QRY_DIM_TIME) {
            cq->interval = cq->d->cq->dims[i].interval;
            cq->offset = cq->d->cq->dims[i].offset;
        }
    cq->every = cq->d->cq_every ? cq->d->cq_every : cq->interval;
    *out = cq;
    return 0;
}

void qry_cq_free(qry_cq_t *cq)
{
    if (!cq)
        return;
    qry_query_free(cq->q);
    cn_free(cq);
}

const char *qry_cq_db(const qry_cq_t *cq)
{
    return cq->d->db;
}

const char *qry_cq_name(const qry_cq_t *cq)
{
    return cq->d->name;
}

/* floor(a / b) for b > 0 */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

int64_t qry_cq_next_run(const qry_cq_t *cq, int64_t after)
{
    return (floor_div(after - cq->offset, cq->every) + 1) * cq->every + cq->offset;
}

int64_t qry_cq_last_run(const qry_cq_t *cq, int64_t at)
{
    return floor_div(at - cq->offset, cq->every) * cq->every + cq->offset;
}

/* The interval boundary at or before / after x. */
static int64_t floor_b(const qry_cq_t *cq, int64_t x)
{
    return floor_div(x - cq->offset, cq->interval) * cq->interval + cq->offset;
}

static int64_t ceil_b(const qry_cq_t *cq, int64_t x)
{
    return -floor_div(-(x - cq->offset), cq->interval) * cq->interval + cq->offset;
}

void qry_cq_window(const qry_cq_t *cq, int64_t t, int64_t *start, int64_t *end)
{
    int64_t e = ceil_b(cq, t);
    int64_t len = cq->d->cq_for ? cq->d->cq_for : CN_MAX(cq->interval, cq->every);
    *end = e;
    /* whole windows only, and at least back to the window that held the
     * previous run, so an EVERY that does not divide the interval still
     * finishes every window after it ended */
    *start = CN_MIN(ceil_b(cq, e - len), floor_b(cq, t - cq->every));
}

int qry_cq_run(const qry_cq_t *cq, int64_t t, const qry_exec_opts_t *o,
               qry_result_t **out /* OUT */)
{
    int64_t start, end;
    qry_cq_window(cq, t, &start, &end);
    /* WHERE (its own condition) AND time >= start AND time < end */
    qry_select_t sel = *cq->d->cq;
    qry_expr_t tm = {.kind = QRY_EXPR_VAR, .depth = 1, .u.var.name = "time"};
    qry_expr_t lo = {.kind = QRY_EXPR_TIME, .depth = 1, .u.i = start};
    qry_expr_t hi = {.kind = QRY_EXPR_TIME, .depth = 1, .u.i = end};
    qry_expr_t ge = {.kind = QRY_EXPR_BINARY, .depth = 2, .u.bin = {QRY_OP_GTE, &tm, &lo}};
    qry_expr_t lt = {.kind = QRY_EXPR_BINARY, .depth = 2, .u.bin = {QRY_OP_LT, &tm, &hi}};
    qry_expr_t rng = {.kind = QRY_EXPR_BINARY, .depth = 3, .u.bin = {QRY_OP_AND, &ge, &lt}};
    qry_expr_t all = {.kind = QRY_EXPR_BINARY, .u.bin = {QRY_OP_AND, sel.cond, &rng}};
    if (sel.cond) {
        all.depth = 1 + CN_MAX(sel.cond->depth, rng.depth);
        sel.cond = &all;
    } else {
        sel.cond = &rng;
    }
    qry_stmt_t st = {.kind = QRY_STMT_SELECT, .u.select = &sel};
    qry_exec_opts_t io = *o;
    io.dbname = cq->d->db;
    io.now = t;
    return qry_exec_stmt(&st, &io, out);
}
