/* SPDX-License-Identifier: MIT */
/*
 * write.c - POST /write, InfluxDB 1.x compatible: line protocol in the body
 * (gzip already inflated by http.c), `db` required, `precision` ns/n, u/us,
 * ms, s, m, h, `rp`, `u` and `p` accepted.  The good points go to the
 * engine; the answer waits until they are durable:
 *
 *   srv__write_handle: decode (mq_dec_lp), format the parse errors
 *     --> write_more: eng_write in chunks of WRITE_CHUNK points
 *           CN_EFULL --> park PARK_WRITABLE --(durable notify / retry
 *           timer)--> srv__write_resume --> write_more, same chunk again
 *     --> all written: durable seq >= w->seq?  no --> park PARK_DURABLE
 *           --(durable notify)--> srv__write_resume
 *     --> finish: 204, or 400 {"error":"partial write: ... dropped=K"}
 *
 * Databases: cairn has one namespace.  Every `db` (and `rp`) is accepted
 * and the points of all of them land in the same engine, so clients that
 * write to "telegraf" or "mydb" work unchanged; README.md documents it.
 *
 * NOTES
 *  1. The decoded points live in w->batch until the response is queued:
 *     a parked write still owns them, so a retry after CN_EFULL rewrites
 *     exactly the chunk that was refused (eng_write wrote nothing).
 *  2. The error texts follow InfluxDB 1.8: "unable to parse 'LINE':
 *     REASON" per bad line (cairn adds "(line N col C)"), joined by "\n";
 *     "field type conflict: input field \"f\" on measurement \"m\" is type
 *     integer, already exists as type float"; the whole prefixed by
 *     "partial write: " and followed by " dropped=K", K being the lines and
 *     fields that were not stored.
 */
#include "decode/decode.h"
#include "exec.h"
#include "http_int.h"

#include <stdio.h>

#define WRITE_CHUNK   5000
#define MAX_LINE_ECHO 1024 /* bytes of a bad line quoted in the error */

struct srv_write {
    mq_dec_batch_t *batch;
    const eng_point_t *pts;
    size_t npts, pos;
    uint64_t seq;       /* highest WAL seq of this request's writes */
    uint64_t dropped;   /* bad lines plus rejected fields */
    cn_buf_t msg;       /* error text without prefix and dropped= */
    bool conflict_seen; /* msg already names a rejected field */
    bool big;           /* the batch held a large body: free it afterwards */
};

void srv__write_free(srv_write_t *w)
{
    if (!w)
        return;
    mq_dec_batch_free(w->batch);
    cn_buf_free(&w->msg);
    cn_free(w);
}

static void msg_sep(srv_write_t *w)
{
    if (w->msg.len)
        cn_buf_put_u8(&w->msg, '\n');
}

/* Appends "unable to parse 'LINE': REASON (line N col C)" for every stored
 * decode error; errors come in line order, so one pass over the body finds
 * every line. */
static void note_parse_errors(srv_write_t *w, const uint8_t *body, size_t len)
{
    size_t nerr, all = mq_dec_batch_nerrors(w->batch);
    const mq_dec_err_t *errs = mq_dec_batch_errors(w->batch, &nerr);
    size_t pos = 0;
    uint32_t line = 1;
    for (size_t i = 0; i < nerr; i++) {
        const mq_dec_err_t *e = &errs[i];
        while (line < e->line && pos < len) {
            const uint8_t *nl = memchr(body + pos, '\n', len - pos);
            pos = nl ? (size_t)(nl - body) + 1 : len;
            line++;
        }
        const uint8_t *nl = memchr(body + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - body) : len;
        if (end > pos && body[end - 1] == '\r')
            end--;
        size_t n = end - pos > MAX_LINE_ECHO ? MAX_LINE_ECHO : end - pos;
        msg_sep(w);
        cn_buf_put(&w->msg, "unable to parse '", 17);
        cn_buf_put(&w->msg, body + pos, n);
        if (n < end - pos)
            cn_buf_put(&w->msg, "...", 3);
        char tail[160];
        int t = snprintf(tail, sizeof tail, "': %s (line %u col %u)", e->reason, e->line, e->col);
        cn_buf_put(&w->msg, tail, (size_t)t);
    }
    if (all > nerr) {
        char more[64];
        int t = snprintf(more, sizeof more, "\n... and %zu more errors", all - nerr);
        cn_buf_put(&w->msg, more, (size_t)t);
    }
    w->dropped += all;
}

/* Records the first rejected field of a write (InfluxDB names one). */
static void note_rejects(srv_write_t *w, eng_db_t *db, const eng_point_t *pts,
                         const eng_write_res_t *res)
{
    w->dropped += res->fields_rejected;
    if (w->conflict_seen)
        return;
    w->conflict_seen = true;
    char buf[512];
    size_t n = eng_write_reject_text(db, pts, res, buf, sizeof buf);
    msg_sep(w);
    cn_buf_put(&w->msg, buf, n);
}

/* Forgets the request's points (NOTES 1). */
static void write_reset(srv_write_t *w)
{
    if (w->big) {
        mq_dec_batch_free(w->batch);
        w->batch = NULL;
        cn_buf_free(&w->msg);
    } else {
        mq_dec_batch_reset(w->batch);
        cn_buf_reset(&w->msg);
    }
    w->pts = NULL;
    w->npts = w->pos = 0;
    w->seq = w->dropped = 0;
    w->conflict_seen = w->big = false;
}

/* Ends the request.  The write state is reset before the response is
 * queued: responding may start the next pipelined /write on c. */
static void finish(srv_conn_t *c, int status, const char *err)
{
    srv_write_t *w = c->w;
    if (err) {
        write_reset(w);
        srv__http_error(c, status, err);
        return;
    }
    if (w->msg.len == 0 && w->dropped == 0) {
        write_reset(w);
        srv__http_respond(c, 204, NULL, NULL, NULL, 0);
        return;
    }
    cn_buf_t m;
    cn_buf_init(&m);
    cn_buf_put(&m, "partial write: ", 15);
    cn_buf_put(&m, w->msg.p, w->msg.len);
    char tail[48];
    int t = snprintf(tail, sizeof tail, " dropped=%llu", (unsigned long long)w->dropped);
    cn_buf_put(&m, tail, (size_t)t + 1); /* with the NUL */
    write_reset(w);
    srv__http_error(c, 400, (const char *)m.p);
    cn_buf_free(&m);
}

static void write_more(srv_conn_t *c)
{
    srv_write_t *w = c->w;
    eng_db_t *db = c->srv->db;
    while (w->pos < w->npts) {
        size_t n = w->npts - w->pos > WRITE_CHUNK ? WRITE_CHUNK : w->npts - w->pos;
        eng_write_res_t res;
        uint64_t seq = 0;
        int rc = eng_write(db, w->pts + w->pos, n, &res, &seq);
        if (rc == CN_EFULL) {
            c->srv->efull_waits++;
            srv__park(c->srv, c, PARK_WRITABLE);
            return;
        }
        if (rc < 0) {
            char m[128];
            snprintf(m, sizeof m, "write failed: %s", cn_strerror(rc));
            finish(c, rc == CN_ECLOSED ? 503 : 500, m);
            return;
        }
        if (res.fields_rejected)
            note_rejects(w, db, w->pts + w->pos, &res);
        if (seq > w->seq)
            w->seq = seq;
        w->pos += n;
    }
    if (w->seq && eng_durable_seq(db) < w->seq) {
        srv__park(c->srv, c, PARK_DURABLE);
        return;
    }
    finish(c, 204, NULL);
}

void srv__write_resume(srv_conn_t *c)
{
    write_more(c);
}

void srv__write_handle(srv_conn_t *c, const char *query)
{
    char db[256], prec[16];
    if (srv__query_param(query, "db", db, sizeof db) <= 0) {
        srv__http_error(c, 400, "database is required");
        return;
    }
    qry_catalog_touch(c->srv->o.catalog, db); /* SHOW DATABASES lists it (memory only) */
    mq_dec_opts_t o;
    mq_dec_opts_default(&o);
    if (srv__query_param(query, "precision", prec, sizeof prec) > 0 &&
        (mq_dec_prec_parse(prec, &o.prec) < 0 || o.prec == MQ_DEC_AUTO)) {
        char m[96];
        snprintf(m, sizeof m, "invalid precision \"%s\" (use ns, u, ms, s, m or h)", prec);
        srv__http_error(c, 400, m);
        return;
    }
    if (!c->w) {
        c->w = cn_calloc(1, sizeof *c->w);
        cn_buf_init(&c->w->msg);
    }
    srv_write_t *w = c->w;
    if (!w->batch)
        mq_dec_batch_new(&w->batch);
    const cn_buf_t *body = &c->req.body;
    o.now_ns = cn_now_ns();
    if (o.max_bytes < body->len)
        o.max_bytes = body->len;
    w->big = body->len > (4u << 20);
    int rc = body->len ? mq_dec_lp(w->batch, &o, body->p, body->len) : 0;
    if (rc < 0) {
        char m[96];
        snprintf(m, sizeof m, "unable to parse the body: %s", cn_strerror(rc));
        finish(c, 400, m);
        return;
    }
    if (mq_dec_batch_nerrors(w->batch))
        note_parse_errors(w, body->p, body->len);
    w->pts = mq_dec_batch_points(w->batch, &w->npts);
    w->pos = 0;
    w->seq = 0;
    write_more(c);
}
