/* SPDX-License-Identifier: MIT */
/*
 * export_http.c - the export endpoints (issue 7):
 *
 *   GET /api/v1/export?measurement=M&from=T&to=T&where=COND
 *       &format=parquet|csv&compression=C&time_format=F
 *       One measurement (M may be left out when there is only one) in
 *       [from, to) as one Parquet or CSV file, streamed: every UTC day in
 *       order, rows sorted as in `cairn export`'s files, so a range inside
 *       one day gives that day's file byte for byte.  T is RFC 3339, a date
 *       or integer ns.  200 with Transfer-Encoding: chunked (Parquet's
 *       footer comes last, so nothing needs seeking); 400 for a bad
 *       parameter or condition, 404 for an unknown measurement, both as
 *       {"error": ...}.  An error after the first bytes closes the
 *       connection without the last chunk, so clients see a broken
 *       transfer, never a complete-looking file.
 *   GET /api/v1/export/partitions?<the same parameters>
 *       text/tab-separated-values: "<measurement, percent-encoded as in the
 *       layout>\t<YYYY-MM-DD>\n" per measurement and UTC day with points
 *       (what `cairn export --server` fetches one by one).
 *   POST /api/v1/export/run
 *       asks the scheduled exports (export-dir) for a run now: 202, or 404
 *       when they are off.
 *
 * Threads: parameters are parsed and the condition syntax-checked on the
 * HTTP loop (no I/O); the export runs on the worker pool (job.h) and polls
 * the job's cancel flag between batches, so a client that goes away stops
 * it.  Access: like /write, the endpoints need no credentials; http-listen
 * off loopback requires http-allow-anonymous.
 */
#include "ast.h"
#include "export.h"
#include "export/csv.h"
#include "export/parquet.h"
#include "export_sched.h"
#include "job.h"

#include <stdio.h>
#include <string.h>

typedef struct xreq {
    srv_export_opts_t o;
    char *measurement, *where; /* owned */
    bool partitions;
    eng_db_t *db;
    srv_job_t *j;
    bool begun;
    char ctype[64];
    char extra[600];
} xreq_t;

void srv_http_set_xsched(srv_http_t *h, struct srv_xsched *s)
{
    h->xsched = s;
}

static void xreq_free(void *arg)
{
    xreq_t *r = arg;
    cn_free(r->measurement);
    cn_free(r->where);
    cn_free(r);
}

/* ---------------------------------------------------------------- worker */

static int sink_write(void *arg, const void *p, size_t n)
{
    xreq_t *r = arg;
    if (!r->begun) {
        srv_job_begin(r->j, 200, r->ctype, r->extra);
        r->begun = true;
    }
    return srv_job_write(r->j, p, n);
}

static bool cancelled(void *arg)
{
    xreq_t *r = arg;
    return atomic_load(srv_job_cancel_flag(r->j)) != 0;
}

static void answer_error(xreq_t *r, int rc, const srv_export_summary_t *sum)
{
    int status = rc == CN_EINVAL ? 400 : rc == CN_ENOTFOUND ? 404 : 500;
    char msg[600];
    snprintf(msg, sizeof msg, "%s", sum->err[0] ? sum->err : cn_strerror(rc));
    cn_buf_t body, extra;
    cn_buf_init(&body);
    cn_buf_init(&extra);
    cn_buf_put(&body, "{\"error\":\"", 10);
    srv__json_escape(&body, msg, strlen(msg));
    cn_buf_put(&body, "\"}\n", 3);
    cn_buf_put(&extra, "X-Influxdb-Error: ", 18);
    for (size_t i = 0; msg[i]; i++)
        cn_buf_put_u8(&extra, (unsigned char)msg[i] < 0x20 ? ' ' : (uint8_t)msg[i]);
    cn_buf_put(&extra, "\r\n", 2);
    cn_buf_put_u8(&extra, 0);
    srv_job_begin(r->j, status, "application/json", (const char *)extra.p);
    srv_job_write(r->j, body.p, body.len);
    cn_buf_free(&body);
    cn_buf_free(&extra);
}

static void run_export(srv_job_t *j, void *arg)
{
    xreq_t *r = arg;
    r->j = j;
    r->o.cancelled = cancelled;
    r->o.cancel_arg = r;
    srv_export_summary_t sum;
    int rc;
    if (r->partitions) {
        cn_buf_t out;
        cn_buf_init(&out);
        rc = srv_export_plan(r->db, &r->o, &out, &sum);
        if (rc >= 0) {
            srv_job_begin(j, 200, "text/tab-separated-values; charset=utf-8", NULL);
            srv_job_write(j, out.p, out.len);
        }
        cn_buf_free(&out);
    } else {
        qry_sink_t sink = {sink_write, r};
        rc = srv_export_stream(r->db, &r->o, &sink, &sum);
    }
    if (rc >= 0)
        return;
    if (!r->begun && rc != CN_ECLOSED) {
        answer_error(r, rc, &sum);
        return;
    }
    if (rc != CN_ECLOSED)
        cn_warn("http: export of %s failed after %llu rows: %s",
                r->measurement ? r->measurement : "(the measurement)",
                (unsigned long long)sum.rows, cn_strerror(rc));
    srv_job_fail(j);
}

/* ------------------------------------------------------------------ loop */

/* Answers 400 and frees r; returns 0 for the caller's return. */
static int bad(srv_conn_t *c, xreq_t *r, const char *what, const char *val)
{
    char msg[300];
    snprintf(msg, sizeof msg, "%s%s%.200s", what, val ? ": " : "", val ? val : "");
    xreq_free(r);
    srv__http_error(c, 400, msg);
    return 0;
}

/* Reads parameter key into a fresh string (owned), or NULL when absent. */
static char *param(const char *query, const char *key)
{
    size_t n = strlen(query) + 1;
    char *v = cn_malloc(n);
    if (srv__query_param(query, key, v, n) < 0) {
        cn_free(v);
        return NULL;
    }
    return v;
}

static int handle_get(srv_conn_t *c, const char *query, bool partitions)
{
    xreq_t *r = cn_calloc(1, sizeof *r);
    srv_export_opts_default(&r->o);
    r->partitions = partitions;
    r->db = c->srv->db;
    char v[128];
    if (srv__query_param(query, "from", v, sizeof v) >= 0 && v[0] &&
        srv_export_parse_time(v, &r->o.tmin) < 0)
        return bad(c, r, "bad from (RFC 3339, a date or integer ns)", v);
    if (srv__query_param(query, "to", v, sizeof v) >= 0 && v[0] &&
        srv_export_parse_time(v, &r->o.tmax) < 0)
        return bad(c, r, "bad to (RFC 3339, a date or integer ns)", v);
    if (r->o.tmin >= r->o.tmax)
        return bad(c, r, "from must be before to", NULL);
    if (srv__query_param(query, "format", v, sizeof v) >= 0 && v[0]) {
        int f = srv_export_format_parse(v);
        if (f < 0)
            return bad(c, r, "format must be parquet or csv", v);
        r->o.format = f;
    }
    r->o.time_format = r->o.format == SRV_XFMT_CSV ? QRY_CSV_RFC3339 : QRY_PQ_MICROS;
    if (srv__query_param(query, "compression", v, sizeof v) >= 0 && v[0]) {
        int k = qry_pq_codec_parse(v);
        if (k < 0 || (r->o.format == SRV_XFMT_CSV && k != QRY_PQ_NONE))
            return bad(c, r,
                       r->o.format == SRV_XFMT_CSV
                           ? "compression applies to format=parquet only"
                           : "compression must be zstd, lz4_raw, snappy or none",
                       v);
        r->o.codec = k;
    }
    if (srv__query_param(query, "time_format", v, sizeof v) >= 0 && v[0]) {
        int t = srv_export_time_parse(r->o.format, v);
        if (t < 0)
            return bad(c, r,
                       r->o.format == SRV_XFMT_CSV
                           ? "time_format for csv must be rfc3339, s, ms, us or ns"
                           : "time_format for parquet must be us or ns",
                       v);
        r->o.time_format = t;
    }
    r->measurement = param(query, "measurement");
    if (r->measurement && !r->measurement[0]) {
        cn_free(r->measurement);
        r->measurement = NULL;
    }
    r->o.measurement = r->measurement;
    r->where = param(query, "where");
    if (r->where && r->where[0]) {
        qry_query_t *q = NULL;
        qry_error_t err;
        if (qry_parse_expr(r->where, strlen(r->where), &q, &err) < 0)
            return bad(c, r, "where", err.msg);
        qry_query_free(q);
        r->o.where = r->where;
    }
    const char *ext = r->o.format == SRV_XFMT_CSV ? "csv" : "parquet";
    snprintf(r->ctype, sizeof r->ctype, "%s",
             r->o.format == SRV_XFMT_CSV ? "text/csv; charset=utf-8; header=present"
                                         : "application/vnd.apache.parquet");
    /* the file name: the measurement with anything but [A-Za-z0-9._-] as _ */
    char fname[200];
    snprintf(fname, sizeof fname, "%s", r->measurement ? r->measurement : "export");
    for (char *p = fname; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == '_'))
            *p = '_';
    snprintf(r->extra, sizeof r->extra, "Content-Disposition: attachment; filename=\"%s.%s\"\r\n",
             fname, ext);
    srv__job_run(c, run_export, r, xreq_free);
    return 0;
}

static void handle_run(srv_conn_t *c)
{
    srv_http_t *h = c->srv;
    if (!h->xsched) {
        srv__http_error(c, 404, "scheduled exports are off (export-dir is not set)");
        return;
    }
    srv_xsched_kick(h->xsched);
    static const char body[] = "{\"status\":\"started\"}\n";
    srv__http_respond(c, 202, "application/json", NULL, body, sizeof body - 1);
}

static void not_allowed(srv_conn_t *c, const char *allow)
{
    char extra[64];
    snprintf(extra, sizeof extra, "Allow: %s\r\n", allow);
    srv__http_respond(c, 405, "text/plain; charset=utf-8", extra, "Method Not Allowed\n", 19);
}

void srv__export_handle(srv_conn_t *c, const char *path, const char *query)
{
    int m = c->parser.method;
    if (strcmp(path, "/api/v1/export/run") == 0) {
        if (m == HTTP_POST)
            handle_run(c);
        else
            not_allowed(c, "POST");
    } else if (strcmp(path, "/api/v1/export") == 0 ||
               strcmp(path, "/api/v1/export/partitions") == 0) {
        if (m == HTTP_GET)
            handle_get(c, query, path[14] == '/');
        else
            not_allowed(c, "GET");
    } else {
        srv__http_respond(c, 404, "text/plain; charset=utf-8", NULL, "404 page not found\n", 19);
    }
}
