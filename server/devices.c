/* SPDX-License-Identifier: MIT */
/*
 * devices.c - the device registry over HTTP (/api/v1/devices), backed by
 * the metadata store (ingest/store/store.h).  Registry tags (e.g. fleet,
 * model) are attached to every point a device publishes (server/ingest.c).
 *
 *   GET    /api/v1/devices        200 {"devices":[{"device_id":"d1","tags":{"fleet":"a"}},...]}
 *                                 (in device_id order)
 *   GET    /api/v1/devices/<id>   200 {"device_id":"d1","tags":{...}} | 404
 *   PUT    /api/v1/devices/<id>   body {"tags":{"k":"v",...}} (string values)
 *                                 204 once committed (replaces the tag set)
 *   DELETE /api/v1/devices/<id>   204 once committed (missing is fine)
 *
 * <id> is percent-decoded.  Errors: 400 {"error":"..."} for a bad body or
 * id, 404 for an unknown device or path, 405 for another method, 503 while
 * the store is not open (before the MQTT front end started, or shutting
 * down).  Handlers run on the worker pool (job.h): a PUT waits for the
 * store's commit (mq_store_sync), which must not happen on the loop.
 */
#include "decode/decode.h"
#include "job.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>

typedef struct dreq {
    srv_http_t *h;
    int method;
    char id[MQ_DEV_ID_MAX + 1]; /* "" for the collection */
    size_t id_len;
    cn_buf_t body;
} dreq_t;

static void dreq_free(void *arg)
{
    dreq_t *r = arg;
    cn_buf_free(&r->body);
    cn_free(r);
}

static void put_s(cn_buf_t *b, const char *s)
{
    cn_buf_put(b, s, strlen(s));
}

/* A JSON string: the HTTP server's escaper between quotes. */
static void put_js(cn_buf_t *b, const char *s, size_t n)
{
    cn_buf_put_u8(b, '"');
    srv__json_escape(b, s, n);
    cn_buf_put_u8(b, '"');
}

static void put_device(cn_buf_t *b, const char *id, size_t id_len, const mq_store_tag_t *t, int n)
{
    put_s(b, "{\"device_id\":");
    put_js(b, id, id_len);
    put_s(b, ",\"tags\":{");
    for (int i = 0; i < n; i++) {
        if (i)
            cn_buf_put_u8(b, ',');
        put_js(b, t[i].key, t[i].key_len);
        cn_buf_put_u8(b, ':');
        put_js(b, t[i].val, t[i].val_len);
    }
    put_s(b, "}}");
}

static void answer(srv_job_t *j, int status, const cn_buf_t *body)
{
    srv_job_begin(j, status, body ? "application/json" : NULL, NULL);
    if (body)
        srv_job_write(j, body->p, body->len);
}

static void answer_error(srv_job_t *j, int status, const char *msg)
{
    cn_buf_t b;
    cn_buf_init(&b);
    put_s(&b, "{\"error\":");
    put_js(&b, msg, strlen(msg));
    put_s(&b, "}\n");
    answer(j, status, &b);
    cn_buf_free(&b);
}

/*
 * Parses {"tags":{"k":"v",...}} with the JSON payload decoder (strict
 * RFC 8259, UTF-8 checked, fuzzed): nested objects flatten to "tags.k"
 * fields.  Returns the tag count, or -1 with *err set.
 */
static int parse_tags(const cn_buf_t *body, mq_dec_batch_t *b, mq_store_tag_t *tags,
                      const char **err)
{
    mq_dec_opts_t o;
    mq_dec_opts_default(&o);
    o.measurement = "device";
    for (int i = 0; i < MQ_DEC_MAX_TS_KEYS; i++)
        o.ts_keys[i] = NULL; /* "time" etc. are tag names here, not a timestamp */
    const char *empty = "{}";
    const uint8_t *p = body->len ? body->p : (const uint8_t *)empty;
    size_t n = body->len ? body->len : 2;
    int np = mq_dec_json(b, &o, p, n);
    size_t ne = 0;
    const mq_dec_err_t *e = mq_dec_batch_errors(b, &ne);
    if (np == 0 && ne == 1 && strcmp(e[0].reason, "record has no fields") == 0)
        return 0; /* {"tags":{}} or {}: a device without tags */
    if (np < 0 || mq_dec_batch_nerrors(b)) {
        *err = "body must be a JSON object {\"tags\":{\"key\":\"value\",...}}";
        return -1;
    }
    size_t npts = 0;
    const eng_point_t *pt = mq_dec_batch_points(b, &npts);
    if (npts != 1 || pt->nfields > MQ_DEV_TAGS) {
        *err = npts != 1 ? "body must be one JSON object" : "at most 64 tags per device";
        return -1;
    }
    for (uint32_t i = 0; i < pt->nfields; i++) {
        const eng_field_t *f = &pt->fields[i];
        if (strncmp(f->name, "tags.", 5) != 0 || f->type != ENG_T_STRING) {
            *err = "body must be {\"tags\":{\"key\":\"value\",...}} with string values";
            return -1;
        }
        size_t kl = strlen(f->name + 5);
        if (kl == 0 || kl > MQ_DEV_TAG_MAX || f->v.s.len > MQ_DEV_TAG_MAX) {
            *err = "tag keys must be 1..255 bytes and values at most 255";
            return -1;
        }
        tags[i] = (mq_store_tag_t){f->name + 5, kl, f->v.s.p, f->v.s.len};
    }
    return (int)pt->nfields;
}

static void run(srv_job_t *j, void *arg)
{
    dreq_t *r = arg;
    mq_store_t *st = srv__http_store_acquire(r->h);
    if (!st) {
        answer_error(j, 503, "the device registry is not open");
        return;
    }
    cn_buf_t out;
    cn_buf_init(&out);
    if (r->method == HTTP_GET && !r->id[0]) {
        mq_devsnap_t *snap = mq_store_devices_acquire(st, NULL);
        size_t n = mq_devsnap_count(snap);
        put_s(&out, "{\"devices\":[");
        for (size_t i = 0; i < n; i++) {
            const char *id;
            size_t idl;
            const mq_store_tag_t *t;
            int nt = mq_devsnap_at(snap, i, &id, &idl, &t);
            if (i)
                cn_buf_put_u8(&out, ',');
            put_device(&out, id, idl, t, nt);
        }
        put_s(&out, "]}\n");
        mq_devsnap_release(snap);
        answer(j, 200, &out);
    } else if (r->method == HTTP_GET) {
        mq_devsnap_t *snap = mq_store_devices_acquire(st, NULL);
        const mq_store_tag_t *t;
        int nt = mq_devsnap_get(snap, r->id, r->id_len, &t);
        if (nt < 0) {
            answer_error(j, 404, "device not found");
        } else {
            put_device(&out, r->id, r->id_len, t, nt);
            put_s(&out, "\n");
            answer(j, 200, &out);
        }
        mq_devsnap_release(snap);
    } else {
        int64_t seq;
        const char *err = NULL;
        mq_dec_batch_t *b = NULL;
        mq_dec_batch_new(&b);
        if (r->method == HTTP_PUT) {
            mq_store_tag_t tags[MQ_DEV_TAGS];
            int nt = parse_tags(&r->body, b, tags, &err);
            seq = nt < 0 ? CN_EINVAL : mq_store_device_put(st, r->id, r->id_len, tags, (size_t)nt);
        } else {
            seq = mq_store_device_del(st, r->id, r->id_len);
        }
        int rc = seq < 0 ? (int)seq : mq_store_sync(st, (uint64_t)seq);
        if (err)
            answer_error(j, 400, err);
        else if (rc == CN_EINVAL)
            answer_error(j, 400, "duplicate tag keys");
        else if (rc < 0)
            answer_error(j, 500, cn_strerror(rc));
        else
            answer(j, 204, NULL);
        mq_dec_batch_free(b);
    }
    cn_buf_free(&out);
    srv__http_store_release(r->h);
}

/* Percent-decodes src into dst (n bytes); -1 on a bad escape, NUL, '/' or
 * overflow. */
static int url_decode(const char *src, char *dst, size_t n)
{
    size_t o = 0;
    for (const char *s = src; *s; s++) {
        int c = (unsigned char)*s;
        if (c == '%') {
            int v = 0;
            for (int k = 1; k <= 2; k++) {
                char h = s[k];
                int d = h >= '0' && h <= '9'   ? h - '0'
                        : h >= 'a' && h <= 'f' ? h - 'a' + 10
                        : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                               : -1;
                if (d < 0)
                    return -1;
                v = v * 16 + d;
            }
            c = v;
            s += 2;
        } else if (c == '/') {
            return -1;
        }
        if (c == 0 || o + 1 >= n)
            return -1;
        dst[o++] = (char)c;
    }
    dst[o] = '\0';
    return (int)o;
}

void srv__devices_handle(srv_conn_t *c, const char *path)
{
    const char *rest = path + strlen("/api/v1/devices");
    int m = c->parser.method;
    dreq_t *r = cn_calloc(1, sizeof *r);
    r->h = c->srv;
    r->method = m == HTTP_HEAD ? HTTP_GET : m;
    cn_buf_init(&r->body);
    const char *bad = NULL;
    int status = 0;
    if (*rest == '\0' || strcmp(rest, "/") == 0) {
        if (r->method != HTTP_GET) {
            status = 405;
            bad = "use GET on /api/v1/devices, or PUT/DELETE on /api/v1/devices/<id>";
        }
    } else if (rest[0] == '/') {
        int n = url_decode(rest + 1, r->id, sizeof r->id);
        if (n <= 0 || !mq_dec__utf8_ok((const uint8_t *)r->id, (size_t)n)) {
            status = 400;
            bad = "bad device id (1..255 bytes of UTF-8, percent-encoded)";
        } else if (r->method != HTTP_GET && r->method != HTTP_PUT && r->method != HTTP_DELETE) {
            status = 405;
            bad = "use GET, PUT or DELETE on /api/v1/devices/<id>";
        }
        r->id_len = n > 0 ? (size_t)n : 0;
    } else {
        status = 404;
        bad = "not found";
    }
    if (!bad && !c->srv->pool) {
        status = 503;
        bad = "workers are not running";
    }
    if (bad) {
        dreq_free(r);
        srv__http_error(c, status, bad);
        return;
    }
    if (r->method == HTTP_PUT)
        cn_buf_put(&r->body, c->req.body.p, c->req.body.len);
    srv__job_run(c, run, r, dreq_free);
}
