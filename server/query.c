/* SPDX-License-Identifier: MIT */
/*
 * query.c - GET/POST /query, InfluxDB 1.x compatible: `q`, `db`, `epoch`
 * (ns, n, u, µ, ms, s, m, h), `pretty`, `chunked` / `chunk_size`, `params`
 * (bound parameters, a JSON object as in InfluxDB 1.8: qry_params_json),
 * each from the URL or a body (body_values); `rp` (the policy of names
 * without one: it must exist; CQs and INTO keep it); `u`, `p`
 * accepted.
 * Statements run one after the other on the worker pool (job.h); the
 * first failing statement ends the request, as in InfluxDB: each later
 * statement's result is {"statement_id":N,"error":"not executed"}.
 *
 *   loop: srv__query_handle copies the parameters -> srv__job_run
 *   worker: qry_parse (400 {"error":"error parsing query: ..."} on a
 *           syntax error) -> per statement qry_exec_stmt -> JSON or CSV
 *           (Accept: application/csv), whole (Content-Length) or chunked
 *           (one JSON object per chunk_size rows, "partial" flags), gzip
 *           when the client accepts it
 * A parsed request is a query with a qid while its statements run (InfluxDB
 * 1.x's task manager): SHOW QUERIES lists them, KILL QUERY qid sets its
 * kill flag, which its executor checks (qry_exec_opts_t.kill).  The list
 * keeps a pointer to the parsed statements and prints them only for SHOW
 * QUERIES (a query leaves the list, under tasks_mu, before they are freed),
 * so a query pays two short lock holds for it.
 */
#include "exec.h"
#include "job.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_CHUNK 10000

typedef struct qreq {
    srv_http_t *h;
    char *q;
    size_t qlen;  /* q's length: it may hold a NUL */
    size_t plen;  /* params' */
    char *params; /* params= JSON, NULL without */
    char db[256];
    char rp[256]; /* rp=, "" without */
    int64_t epoch_div;
    bool pretty, chunked, csv, gzip, missing_q;
    bool get; /* a GET: statements that write get InfluxDB's warning */
    size_t chunk;
} qreq_t;

/* One running query (a request's statements). */
typedef struct srv_task {
    uint64_t qid;
    const qry_query_t *q;
    const char *db;
    int64_t start; /* cn_mono_ns */
    atomic_int killed;
    struct srv_task *prev, *next;
} srv_task_t;

/* A query's statements as printed, sep between them, into b; stops once b
 * holds max bytes or more. */
static void print_stmts(const qry_query_t *q, const char *sep, size_t max, cn_buf_t *b)
{
    for (size_t s = 0; s < q->nstmts && b->len < max; s++) {
        if (s)
            cn_buf_put(b, sep, strlen(sep));
        qry_print_stmt(&q->stmts[s], b);
    }
}

static size_t tasks_list(void *ctx, qry_task_info_t **out)
{
    srv_http_t *h = ctx;
    cn_buf_t b;
    cn_buf_init(&b);
    uv_mutex_lock(&h->tasks_mu);
    size_t n = 0;
    for (const srv_task_t *t = h->tasks_head; t; t = t->next)
        n++;
    qry_task_info_t *v = cn_calloc(n + 1, sizeof *v);
    int64_t now = cn_mono_ns();
    size_t i = 0;
    for (const srv_task_t *t = h->tasks_head; t; t = t->next, i++) {
        cn_buf_reset(&b);
        print_stmts(t->q, ";\n", SIZE_MAX, &b);
        v[i].qid = t->qid;
        v[i].query = cn_strndup(b.p ? (const char *)b.p : "", b.len);
        v[i].db = cn_strdup(t->db);
        v[i].ns = now - t->start;
        v[i].killed = atomic_load(&t->killed) != 0;
    }
    uv_mutex_unlock(&h->tasks_mu);
    cn_buf_free(&b);
    *out = v;
    return n;
}

static int tasks_kill(void *ctx, uint64_t qid)
{
    srv_http_t *h = ctx;
    int rc = CN_ENOTFOUND;
    uv_mutex_lock(&h->tasks_mu);
    for (srv_task_t *t = h->tasks_head; t; t = t->next) {
        if (t->qid == qid) {
            rc = atomic_exchange(&t->killed, 1) ? CN_EEXIST : 0;
            break;
        }
    }
    uv_mutex_unlock(&h->tasks_mu);
    return rc;
}

static void task_add(srv_http_t *h, srv_task_t *t)
{
    uv_mutex_lock(&h->tasks_mu);
    t->qid = ++h->tasks_qid;
    t->prev = h->tasks_tail;
    t->next = NULL;
    if (h->tasks_tail)
        h->tasks_tail->next = t;
    else
        h->tasks_head = t;
    h->tasks_tail = t;
    uv_mutex_unlock(&h->tasks_mu);
}

static void task_remove(srv_http_t *h, srv_task_t *t)
{
    uv_mutex_lock(&h->tasks_mu);
    if (t->prev)
        t->prev->next = t->next;
    else
        h->tasks_head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        h->tasks_tail = t->prev;
    uv_mutex_unlock(&h->tasks_mu);
}

/* Appends n bytes of s for a log line: control bytes escaped (\n, \t,
 * \xNN), so a name or a string literal cannot start a line of its own. */
static void log_text(cn_buf_t *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\n') {
            cn_buf_put(b, "\\n", 2);
        } else if (ch == '\t') {
            cn_buf_put(b, "\\t", 2);
        } else if (ch < 0x20 || ch == 0x7f) {
            char x[5];
            snprintf(x, sizeof x, "\\x%02x", ch);
            cn_buf_put(b, x, 4);
        } else {
            cn_buf_put_u8(b, ch);
        }
    }
}

/* query-log-after: a query that ran longer, when it ends.  The line (a log
 * message holds 1023 bytes) is the qid, the database (cut to 128 bytes) and
 * the duration, then the statements cut to what is left, at a UTF-8
 * boundary, with "..." when cut. */
static void log_slow(srv_http_t *h, const srv_task_t *t)
{
    enum { MSG = 1023 };
    int64_t ns = cn_mono_ns() - t->start;
    if (ns <= h->o.query_log_after_ns)
        return;
    cn_buf_t line, raw, st, d;
    cn_buf_init(&line);
    cn_buf_init(&raw);
    cn_buf_init(&st);
    cn_buf_init(&d);
    qry_task_duration(ns, &d);
    char head[64];
    int hn = snprintf(head, sizeof head,
                      "query: slow query (qid: %llu, database: ", (unsigned long long)t->qid);
    cn_buf_put(&line, head, (size_t)hn);
    size_t dbn = strlen(t->db);
    log_text(&line, t->db, dbn > 128 ? 128 : dbn);
    cn_buf_put(&line, ", duration: ", 12);
    cn_buf_put(&line, d.p, d.len);
    cn_buf_put(&line, "): ", 3);
    print_stmts(t->q, "; ", MSG, &raw);
    log_text(&st, (const char *)raw.p, raw.len);
    size_t room = MSG - line.len; /* line.len < 256 here */
    bool cut = st.len > room;
    size_t n = cut ? room - 3 : st.len;
    while (cut && n && (st.p[n] & 0xc0) == 0x80) /* not inside a UTF-8 character */
        n--;
    cn_buf_put(&line, st.p, n);
    if (cut)
        cn_buf_put(&line, "...", 3);
    cn_warn("%.*s", (int)line.len, (const char *)line.p);
    cn_buf_free(&line);
    cn_buf_free(&raw);
    cn_buf_free(&st);
    cn_buf_free(&d);
}

static void qreq_free(void *arg)
{
    qreq_t *r = arg;
    cn_free(r->q);
    cn_free(r->params);
    cn_free(r);
}

static int64_t epoch_div(const char *e)
{
    static const struct {
        const char *n;
        int64_t d;
    } u[] = {{"ns", 1},        {"n", 1},          {"u", 1000},           {"\xc2\xb5", 1000},
             {"us", 1000},     {"ms", 1000000},   {"s", 1000000000},     {"m", 60000000000},
             {"h", 3600000000000}};
    for (size_t i = 0; i < CN_ARRAY_LEN(u); i++)
        if (strcmp(e, u[i].n) == 0)
            return u[i].d;
    return 0;
}

/* ---------------------------------------------------------------- output */

typedef struct out {
    srv_job_t *j;
    qreq_t *r;
    bool gz_live;
    z_stream z;
    cn_buf_t zbuf;
    bool failed;
} out_t;

static void out_send(out_t *o, const void *p, size_t n, bool final)
{
    if (o->failed)
        return;
    if (!o->r->gzip) {
        if (n && srv_job_write(o->j, p, n) < 0)
            o->failed = true;
        return;
    }
    if (!o->gz_live) {
        memset(&o->z, 0, sizeof o->z);
        deflateInit2(&o->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY);
        o->gz_live = true;
        cn_buf_init(&o->zbuf);
    }
    o->z.next_in = (Bytef *)(uintptr_t)p;
    o->z.avail_in = (uInt)n;
    int flush = final ? Z_FINISH : (o->r->chunked ? Z_SYNC_FLUSH : Z_NO_FLUSH);
    do {
        cn_buf_reserve(&o->zbuf, 65536);
        o->z.next_out = o->zbuf.p + o->zbuf.len;
        o->z.avail_out = 65536;
        deflate(&o->z, flush);
        o->zbuf.len += 65536 - o->z.avail_out;
    } while (o->z.avail_out == 0);
    if (o->zbuf.len && (final || o->r->chunked || o->zbuf.len > (1u << 20))) {
        if (srv_job_write(o->j, o->zbuf.p, o->zbuf.len) < 0)
            o->failed = true;
        cn_buf_reset(&o->zbuf);
    }
}

static void out_end(out_t *o)
{
    if (o->r->gzip)
        out_send(o, "", 0, true);
    if (o->gz_live) {
        deflateEnd(&o->z);
        cn_buf_free(&o->zbuf);
    }
}

static void begin(out_t *o, int status)
{
    qreq_t *r = o->r;
    const char *ctype = r->csv ? "application/csv" : "application/json";
    srv_job_begin(o->j, status, ctype, r->gzip ? "Content-Encoding: gzip\r\n" : NULL);
}

static void json_error_body(const char *msg, cn_buf_t *b)
{
    cn_buf_put(b, "{\"error\":", 9);
    qry_json_str(b, msg, strlen(msg));
    cn_buf_put(b, "}\n", 2);
}

/* One chunked JSON line per chunk of rows. */
static void chunked_json(out_t *o, const qry_result_t *res, int sid, const qry_fmt_opts_t *fo,
                         bool by_rows)
{
    cn_buf_t b;
    cn_buf_init(&b);
    char head[64];
    int hn = snprintf(head, sizeof head, "{\"results\":[{\"statement_id\":%d", sid);
    if (res->err || res->nseries == 0) {
        cn_buf_put(&b, "{\"results\":[", 12);
        qry_result_json(res, sid, fo, &b);
        cn_buf_put(&b, "]}\n", 3);
        out_send(o, b.p, b.len, false);
        cn_buf_free(&b);
        return;
    }
    size_t chunk = !by_rows ? SIZE_MAX : o->r->chunk ? o->r->chunk : DEFAULT_CHUNK;
    for (size_t si = 0; si < res->nseries && !o->failed; si++) {
        const qry_series_t *s = &res->series[si];
        size_t row = 0;
        do {
            size_t n = CN_MIN(chunk, s->nrows - row);
            bool more_rows = row + n < s->nrows;
            bool more = more_rows || (by_rows && si + 1 < res->nseries);
            cn_buf_reset(&b);
            cn_buf_put(&b, head, (size_t)hn);
            cn_buf_put(&b, ",\"series\":[", 11);
            qry_result_json_series(res, s, row, n, more_rows, fo, &b);
            cn_buf_put_u8(&b, ']');
            if (more)
                cn_buf_put(&b, ",\"partial\":true", 15);
            cn_buf_put(&b, "}]}\n", 4);
            out_send(o, b.p, b.len, false);
            row += n;
        } while (row < s->nrows && !o->failed);
    }
    cn_buf_free(&b);
}

static void run_query(srv_job_t *j, void *arg)
{
    qreq_t *r = arg;
    srv_http_t *h = r->h;
    out_t o = {.j = j, .r = r};
    if (r->missing_q) {
        cn_buf_t b;
        cn_buf_init(&b);
        json_error_body("missing required parameter \"q\"", &b);
        r->gzip = false;
        r->csv = false;
        begin(&o, 400);
        out_send(&o, b.p, b.len, false);
        cn_buf_free(&b);
        return;
    }
    qry_query_t *q = NULL;
    qry_error_t perr;
    qry_params_t *params = NULL;
    int rc = 0;
    if (r->params && qry_params_json(r->params, r->plen, &params, perr.msg, sizeof perr.msg) < 0)
        rc = CN_EINVAL;
    if (rc == 0)
        rc = qry_parse_bound(r->q, r->qlen, params, &q, &perr);
    qry_params_free(params);
    if (rc < 0) {
        cn_buf_t b;
        cn_buf_init(&b);
        json_error_body(rc == CN_EINVAL ? perr.msg : "query too large", &b);
        r->csv = false;
        begin(&o, 400);
        out_send(&o, b.p, b.len, false);
        out_end(&o);
        cn_buf_free(&b);
        return;
    }
    begin(&o, 200);
    srv_task_t task = {.q = q, .db = r->db, .start = cn_mono_ns()};
    atomic_init(&task.killed, 0);
    task_add(h, &task);
    const qry_tasks_t tasks = {.ctx = h, .list = tasks_list, .kill = tasks_kill};
    qry_exec_opts_t eo = {
        .db = h->db,
        .cat = h->o.catalog,
        .dbname = r->db,
        .rpname = r->rp,
        .now = cn_now_ns(),
        .max_series = h->o.query_max_series,
        .max_points = h->o.query_max_points,
        .threads = h->o.query_threads ? h->o.query_threads : 1,
        .cancel = srv_job_cancel_flag(j),
        .kill = &task.killed,
        .tasks = &tasks,
    };
    if (h->o.query_timeout_ns > 0)
        eo.deadline = task.start + h->o.query_timeout_ns;
    qry_fmt_opts_t fo = {.epoch_div = r->epoch_div, .pretty = r->pretty};
    cn_buf_t body;
    cn_buf_init(&body);
    bool csv_header = false;
    const char **csv_cols = NULL;
    size_t csv_ncols = 0;
    /* a small answer's body without growing it (each realloc of a cold
     * buffer costs more than the copy) */
    cn_buf_reserve(&body, 4096);
    /* no statement at all (q=";"): InfluxDB leaves out "results" */
    bool none = q->nstmts == 0 && !r->csv && !r->chunked;
    if (!r->csv && !r->chunked && !none)
        cn_buf_put(&body, "{\"results\":[", 12);
    qry_result_t **keep = cn_calloc(q->nstmts + 1, sizeof *keep);
    atomic_fetch_add(&h->query_running, 1);
    for (size_t i = 0; i < q->nstmts && !o.failed; i++) {
        qry_result_t *res = NULL;
        rc = qry_exec_stmt(&q->stmts[i], &eo, &res);
        if (rc < 0) {
            atomic_fetch_add(&h->query_cancelled, 1);
            break; /* cancelled: the client is gone */
        }
        qry_stmt_kind_t kind = q->stmts[i].kind;
        bool writes = kind == QRY_STMT_SELECT ? q->stmts[i].u.select->into != NULL
                                              : kind != QRY_STMT_SHOW && kind != QRY_STMT_DELETE;
        if (r->get && writes && !res->err && !res->msg) {
            cn_buf_t w;
            cn_buf_init(&w);
            cn_buf_put(&w, "deprecated use of '", 19);
            qry_print_qualified(&q->stmts[i], h->o.catalog, r->db, r->rp, &w);
            const char *tail = "' in a read only context, please use a POST request instead";
            cn_buf_put(&w, tail, strlen(tail) + 1);
            res->msg = cn_strdup((const char *)w.p);
            cn_buf_free(&w);
        }
        if (r->csv) {
            if (res->err) {
                cn_buf_t b;
                cn_buf_init(&b);
                json_error_body(res->err, &b);
                out_send(&o, b.p, b.len, false);
                cn_buf_free(&b);
            } else {
                cn_buf_reset(&body);
                qry_result_csv(res, (int)i, &fo, &csv_header, &csv_cols, &csv_ncols, &body);
                out_send(&o, body.p, body.len, false);
            }
        } else if (r->chunked) {
            /* InfluxDB chunks SELECT rows; other statements' series go whole */
            chunked_json(&o, res, (int)i, &fo, q->stmts[i].kind == QRY_STMT_SELECT);
        } else {
            if (i)
                cn_buf_put_u8(&body, ',');
            qry_result_json(res, (int)i, &fo, &body);
        }
        bool failed = res->err != NULL;
        keep[i] = res; /* CSV header names point into results */
        if (failed) {
            /* the statements after a failed one are not run: each gets
             * InfluxDB's "not executed" (CSV shows errors only as the
             * failing statement's JSON) */
            for (size_t k = i + 1; k < q->nstmts && !r->csv; k++) {
                char ne[96];
                int nn = snprintf(ne, sizeof ne, "{\"statement_id\":%zu,\"error\":\"not executed\"}",
                                  k);
                if (r->chunked) {
                    cn_buf_t b;
                    cn_buf_init(&b);
                    cn_buf_put(&b, "{\"results\":[", 12);
                    cn_buf_put(&b, ne, (size_t)nn);
                    cn_buf_put(&b, "]}\n", 3);
                    out_send(&o, b.p, b.len, false);
                    cn_buf_free(&b);
                } else {
                    cn_buf_put_u8(&body, ',');
                    cn_buf_put(&body, ne, (size_t)nn);
                }
            }
            break;
        }
    }
    if (rc >= 0 && !r->csv && !r->chunked) {
        if (none)
            cn_buf_put(&body, "{}\n", 3);
        else
            cn_buf_put(&body, "]}\n", 3);
        if (r->pretty) {
            cn_buf_t pb;
            cn_buf_init(&pb);
            qry_json_pretty(body.p, body.len - 1, &pb);
            cn_buf_put_u8(&pb, '\n');
            out_send(&o, pb.p, pb.len, false);
            cn_buf_free(&pb);
        } else {
            out_send(&o, body.p, body.len, false);
        }
    }
    atomic_fetch_sub(&h->query_running, 1);
    task_remove(h, &task);
    if (h->o.query_log_after_ns > 0)
        log_slow(h, &task);
    out_end(&o);
    for (size_t i = 0; i < q->nstmts; i++)
        qry_result_free(keep[i]);
    cn_free(keep);
    cn_buf_free(&body);
    qry_query_free(q);
}

void srv__query_metrics(srv_http_t *h, cn_buf_t *out)
{
    char t[512];
    int n = snprintf(t, sizeof t,
                     "# HELP cairn_query_running /query requests executing statements.\n"
                     "# TYPE cairn_query_running gauge\n"
                     "cairn_query_running %llu\n"
                     "# HELP cairn_query_cancelled_total /query requests stopped while executing "
                     "because the client disconnected.\n"
                     "# TYPE cairn_query_cancelled_total counter\n"
                     "cairn_query_cancelled_total %llu\n",
                     (unsigned long long)atomic_load(&h->query_running),
                     (unsigned long long)atomic_load(&h->query_cancelled));
    cn_buf_put(out, t, (size_t)n);
}

/* The /query parameters (srv__query_handle). */
enum { P_Q, P_DB, P_PARAMS, P_EPOCH, P_PRETTY, P_CHUNKED, P_CHUNK_SIZE, P_RP, P_N };
static const char *const keys[P_N] = {"q",      "db",      "params",     "epoch",
                                      "pretty", "chunked", "chunk_size", "rp"};

/* The length of the white space character (Go's unicode.IsSpace: ASCII
 * space, \t \n \v \f \r, and in UTF-8 U+0085, U+00A0, U+1680,
 * U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000) that starts at
 * s (n bytes), 0 when none does. */
static size_t space_at(const unsigned char *s, size_t n)
{
    if (n >= 1 && (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r')))
        return 1;
    if (n >= 2 && s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0))
        return 2;
    if (n < 3)
        return 0;
    unsigned cp = (unsigned)(s[0] & 0x0F) << 12 | (unsigned)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
    if ((s[0] & 0xF0) != 0xE0 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
        return 0;
    return cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
                   cp == 0x202F || cp == 0x205F || cp == 0x3000
               ? 3
               : 0;
}

/* s (n bytes) without white space at either end, in place (Go's
 * strings.TrimSpace, which InfluxDB applies to q and epoch): its new
 * length; NUL-terminated. */
static size_t trim_space(char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t a = 0, k;
    while ((k = space_at(u + a, n - a)) > 0)
        a += k;
    while (n > a) {
        size_t back = 0;
        for (size_t w = 1; w <= 3 && w <= n - a && !back; w++)
            if (space_at(u + n - w, w) == w)
                back = w;
        if (!back)
            break;
        n -= back;
    }
    memmove(s, s + a, n - a);
    s[n - a] = 0;
    return n - a;
}

/* A parameter's value into out (n > 0 bytes, NUL-terminated, truncated):
 * %-decoded from the URL or a form-encoded body, copied from a multipart
 * one (raw).  Its length, or -1 when absent. */
static int value_into(const char *v, size_t len, bool raw, char *out, size_t n)
{
    if (!raw || !v)
        return srv__query_value(v, len, out, n);
    size_t m = len < n - 1 ? len : n - 1;
    memcpy(out, v, m);
    out[m] = 0;
    return (int)m;
}

/* The same, allocated, its length in *n; NULL when absent. */
static char *value_dup(const char *v, size_t len, bool raw, size_t *n)
{
    *n = 0;
    if (!v)
        return NULL;
    char *s = cn_malloc(len + 1);
    *n = (size_t)value_into(v, len, raw, s, len + 1);
    return s;
}

/* Is the media type of Content-Type ct (n bytes) `type`? */
static bool media_is(const char *ct, size_t n, const char *type)
{
    size_t tl = srv__media_type(ct, n, NULL, NULL);
    ct = srv__trim_lws(ct, &tl);
    return tl == strlen(type) && strncasecmp(ct, type, tl) == 0;
}

/* The /query parameters a body gives, as Go's FormValue finds them for
 * InfluxDB: those of a form-encoded POST body come before the URL's (they
 * win), those of a multipart/form-data body (of any method) after them
 * (they fill only what the URL lacks) and are raw; a multipart file named
 * q is left in *fq.  With any other Content-Type, or none, the body is
 * not read. */
static void body_values(const srv_req_t *rq, bool post, const char **pv, size_t *pl, bool *raw,
                        const char **fq, size_t *fql)
{
    const char *ct = (const char *)rq->ctype.p, *body = (const char *)rq->body.p;
    const char *bv[P_N], *fv[P_N];
    size_t bl[P_N], fl[P_N];
    if (!rq->ctype.len)
        return;
    if (post && media_is(ct, rq->ctype.len, "application/x-www-form-urlencoded")) {
        srv__form_values(body, rq->body.len, keys, P_N, bv, bl);
        for (int k = 0; k < P_N; k++)
            if (bv[k]) {
                pv[k] = bv[k];
                pl[k] = bl[k];
            }
    } else if (media_is(ct, rq->ctype.len, "multipart/form-data")) {
        const char *ps;
        size_t psl;
        char bnd[SRV_MULTIPART_MAX_BOUNDARY + 1];
        srv__media_type(ct, rq->ctype.len, &ps, &psl);
        if (srv__mime_param(ps, psl, "boundary", bnd, sizeof bnd) <= 0 ||
            srv__multipart_values(body, rq->body.len, bnd, keys, P_N, bv, bl, fv, fl) < 0)
            return;
        for (int k = 0; k < P_N; k++)
            if (!pv[k] && bv[k]) {
                pv[k] = bv[k];
                pl[k] = bl[k];
                raw[k] = true;
            }
        *fq = fv[P_Q];
        *fql = fl[P_Q];
    }
}

void srv__query_handle(srv_conn_t *c, const char *query)
{
    if (!c->srv->pool) { /* a server without workers (fuzzing, unit tests) */
        srv__http_error(c, 503, "query workers are not running");
        return;
    }
    qreq_t *r = cn_calloc(1, sizeof *r);
    r->h = c->srv;
    srv_req_t *rq = &c->req;
    char v[64];
    /* the parameters, found in one pass over the query string (seven
     * srv__query_param scans were 5k instructions of a small query), and
     * the body's (body_values) */
    const char *pv[P_N];
    size_t pl[P_N];
    bool raw[P_N] = {false};
    srv__query_values(query, keys, P_N, pv, pl);
    const char *fq = NULL; /* a multipart body's file named q */
    size_t fql = 0;
    if (rq->body.len)
        body_values(rq, c->parser.method == HTTP_POST, pv, pl, raw, &fq, &fql);
    /* InfluxDB trims q, and only then looks for a file named q */
    /* (q keeps its length: a NUL in it is the parser's error, never the
     * end of the query) */
    r->q = value_dup(pv[P_Q], pl[P_Q], raw[P_Q], &r->qlen);
    if (r->q)
        r->qlen = trim_space(r->q, r->qlen);
    if (!r->qlen && fq) {
        cn_free(r->q);
        r->q = value_dup(fq, fql, true, &r->qlen);
        r->qlen = trim_space(r->q, r->qlen);
    }
    if (!r->qlen)
        r->missing_q = true;
    value_into(pv[P_DB], pl[P_DB], raw[P_DB], r->db, sizeof r->db);
    value_into(pv[P_RP], pl[P_RP], raw[P_RP], r->rp, sizeof r->rp);
    if (pv[P_PARAMS] && pl[P_PARAMS])
        r->params = value_dup(pv[P_PARAMS], pl[P_PARAMS], raw[P_PARAMS], &r->plen);
    int el = value_into(pv[P_EPOCH], pl[P_EPOCH], raw[P_EPOCH], v, sizeof v);
    if (el > 0 && trim_space(v, (size_t)el))
        r->epoch_div = epoch_div(v);
    if (value_into(pv[P_PRETTY], pl[P_PRETTY], raw[P_PRETTY], v, sizeof v) >= 0)
        r->pretty = strcmp(v, "true") == 0;
    if (value_into(pv[P_CHUNKED], pl[P_CHUNKED], raw[P_CHUNKED], v, sizeof v) >= 0)
        r->chunked = strcmp(v, "true") == 0;
    if (value_into(pv[P_CHUNK_SIZE], pl[P_CHUNK_SIZE], raw[P_CHUNK_SIZE], v, sizeof v) > 0) {
        long cs = strtol(v, NULL, 10);
        r->chunk = cs > 0 ? (size_t)cs : DEFAULT_CHUNK;
    }
    r->get = c->parser.method == HTTP_GET;
    r->csv = rq->accept_csv;
    r->gzip = rq->accept_gzip;
    srv__job_run(c, run_query, r, qreq_free);
}
