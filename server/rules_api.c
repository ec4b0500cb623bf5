/* SPDX-License-Identifier: MIT */
/*
 * rules_api.c - /api/v1/rules (the routes are listed in rules.h).
 *
 * Reads (list, get) and the dry run answer on the HTTP loop: they touch
 * only memory.  Writes parse and validate the body on the loop, then go
 * to libuv's thread pool (uv_queue_work) because they write meta.db; the
 * response is sent from the after-work callback on the loop.
 *
 * NOTES
 * 1. A connection with a write in flight points at its request
 *    (c->rules_req) and the request at the connection.  If the connection
 *    is closed meanwhile (shutdown drain), http.c calls srv__rules_detach
 *    and the after-work callback only frees the request.
 */
#include "decode/decode.h"
#include "eval.h"
#include "http_int.h"
#include "rules.h"

#include <stdio.h>
#include <stdlib.h>

#define PREFIX "/api/v1/rules"

typedef struct api_req {
    uv_work_t work;
    srv_conn_t *c; /* NULL once detached (NOTES 1) */
    srv_rules_t *rules;
    int op;
    char id[MQ_RULE_ID_MAX + 1];
    bool has_id;
    mq_rule_doc_t *doc;
    const mq_rule_def_t *def;
    int rc;
    mq_rules_err_t err;
} api_req_t;

static void json_reply(srv_conn_t *c, int status, const cn_buf_t *b)
{
    srv__http_respond(c, status, "application/json", NULL, b->p, b->len);
}

static void error_reply(srv_conn_t *c, int status, const char *msg, const mq_rules_err_t *pos)
{
    cn_buf_t b;
    cn_buf_init(&b);
    cn_buf_put(&b, "{\"error\":", 9);
    qry_json_put_str(&b, msg, strlen(msg));
    if (pos) {
        char tmp[96];
        int k = snprintf(tmp, sizeof tmp, ",\"line\":%u,\"col\":%u,\"offset\":%u", pos->line,
                         pos->col, pos->off);
        cn_buf_put(&b, tmp, (size_t)k);
    }
    cn_buf_put(&b, "}\n", 2);
    json_reply(c, status, &b);
    cn_buf_free(&b);
}

static void rule_reply(srv_conn_t *c, srv_rules_t *r, int status, const char *id)
{
    cn_buf_t b;
    cn_buf_init(&b);
    if (mq_rules_json(srv_rules_set(r), id, &b) < 0) {
        cn_buf_free(&b);
        char msg[128];
        snprintf(msg, sizeof msg, "rule '%s' not found", id);
        error_reply(c, 404, msg, NULL);
        return;
    }
    cn_buf_put_u8(&b, '\n');
    json_reply(c, status, &b);
    cn_buf_free(&b);
}

/* --------------------------------------------------------------- writes */

static void work_cb(uv_work_t *w)
{
    api_req_t *q = w->data;
    char new_id[MQ_RULE_ID_MAX + 1] = "";
    q->rc = srv_rules_apply(q->rules, q->op, q->has_id ? q->id : NULL, q->def, new_id, &q->err);
    if (!q->has_id && new_id[0]) {
        snprintf(q->id, sizeof q->id, "%s", new_id);
        q->has_id = true;
    }
}

static void answer(api_req_t *q)
{
    srv_conn_t *c = q->c;
    char msg[160];
    switch (q->rc) {
    case 0:
        if (q->op == SRV_RULES_DELETE)
            srv__http_respond(c, 204, NULL, NULL, NULL, 0);
        else
            rule_reply(c, q->rules, q->op == SRV_RULES_CREATE ? 201 : 200, q->id);
        return;
    case CN_ENOTFOUND:
        snprintf(msg, sizeof msg, "rule '%s' not found", q->id);
        error_reply(c, 404, msg, NULL);
        return;
    case CN_EEXIST:
        snprintf(msg, sizeof msg, "rule '%s' already exists", q->id);
        error_reply(c, 409, msg, NULL);
        return;
    case -EPERM:
        snprintf(msg, sizeof msg, "rule '%s' is defined in rules-file; edit the file", q->id);
        error_reply(c, 409, msg, NULL);
        return;
    case CN_EINVAL:
        error_reply(c, 400, q->err.msg, &q->err);
        return;
    default:
        snprintf(msg, sizeof msg, "rule store: %s", cn_strerror(q->rc));
        error_reply(c, 500, msg, NULL);
        return;
    }
}

static void after_cb(uv_work_t *w, int status)
{
    api_req_t *q = w->data;
    (void)status; /* the work always ran: uv_cancel is never called */
    if (q->c) {
        q->c->rules_req = NULL;
        answer(q);
    }
    mq_rule_doc_free(q->doc);
    cn_free(q);
}

void srv__rules_detach(void *req)
{
    ((api_req_t *)req)->c = NULL;
}

static void submit(srv_conn_t *c, api_req_t *q)
{
    q->c = c;
    q->rules = c->srv->rules;
    q->work.data = q;
    int rc = cn_from_uv(uv_queue_work(&c->srv->loop, &q->work, work_cb, after_cb));
    if (rc < 0) {
        mq_rule_doc_free(q->doc);
        cn_free(q);
        error_reply(c, 503, "cannot queue the request", NULL);
        return;
    }
    c->rules_req = q;
}

/* Parses the body as one definition; answers 400 itself on failure. */
static api_req_t *parse_def(srv_conn_t *c, const char *path_id)
{
    api_req_t *q = cn_calloc(1, sizeof *q);
    const mq_rule_def_t *defs;
    size_t n;
    srv_req_t *r = &c->req;
    int rc =
        mq_rule_doc_parse((const char *)r->body.p, r->body.len, true, &q->doc, &defs, &n, &q->err);
    if (rc == 0 && (n != 1 || r->body.len == 0 || ((const char *)r->body.p)[0] == '[')) {
        rc = CN_EINVAL;
        snprintf(q->err.msg, sizeof q->err.msg, "the body must be one rule object");
    }
    if (rc == 0 && path_id && defs[0].id && strcmp(defs[0].id, path_id) != 0) {
        rc = CN_EINVAL;
        snprintf(q->err.msg, sizeof q->err.msg, "id: the body's id '%.64s' is not the path's",
                 defs[0].id);
    }
    if (rc == 0) {
        /* the id is checked here so a bad one is a 400 before any I/O */
        mq_rule_def_t probe = defs[0];
        probe.id = path_id ? path_id : defs[0].id ? defs[0].id : "x";
        rc = mq_rule_validate(&probe, &q->err);
    }
    if (rc < 0) {
        bool pos = q->err.line > 0;
        error_reply(c, 400, q->err.msg, pos ? &q->err : NULL);
        mq_rule_doc_free(q->doc);
        cn_free(q);
        return NULL;
    }
    q->def = &defs[0];
    const char *id = path_id ? path_id : defs[0].id;
    if (id) {
        snprintf(q->id, sizeof q->id, "%s", id);
        q->has_id = true;
    }
    return q;
}

static void write_op(srv_conn_t *c, int op, const char *id)
{
    api_req_t *q;
    if (op == SRV_RULES_CREATE || op == SRV_RULES_UPDATE) {
        q = parse_def(c, id);
        if (!q)
            return;
    } else {
        q = cn_calloc(1, sizeof *q);
        snprintf(q->id, sizeof q->id, "%s", id);
        q->has_id = true;
    }
    q->op = op;
    submit(c, q);
}

/* ------------------------------------------------------------- dry run */

/* The sample message of a test request: {"topic":..,"payload":string or
 * any JSON value,"clientid":..,"username":..,"qos":..,"timestamp":ns,
 * "tags":{..}}; a JSON payload is decoded as device JSON into rows. */
typedef struct sample {
    mq_rules_msg_t m;
    mq_dec_batch_t *batch;
    eng_tag_t *tags;
} sample_t;

static const char *str_of(const qry_json_t *v)
{
    return v && v->kind == QRY_J_STR && strlen(v->s) == v->slen ? v->s : NULL;
}

static int build_sample(const qry_json_t *msg, sample_t *s, char *err, size_t n)
{
    memset(s, 0, sizeof *s);
    const char *topic = str_of(qry_json_get(msg, "topic"));
    if (!topic || !*topic) {
        snprintf(err, n, "message.topic: required");
        return CN_EINVAL;
    }
    s->m.topic = topic;
    s->m.topic_len = strlen(topic);
    s->m.clientid = str_of(qry_json_get(msg, "clientid"));
    s->m.username = str_of(qry_json_get(msg, "username"));
    const qry_json_t *v = qry_json_get(msg, "qos");
    s->m.qos = v && v->kind == QRY_J_NUM && v->is_int && v->i >= 0 && v->i <= 2 ? (uint8_t)v->i : 0;
    v = qry_json_get(msg, "timestamp");
    s->m.ts = v && v->kind == QRY_J_NUM && v->is_int ? v->i : cn_now_ns();
    const qry_json_t *tags = qry_json_get(msg, "tags");
    uint32_t ntags = 0;
    if (tags && tags->kind == QRY_J_OBJ) {
        s->tags = cn_calloc(tags->n ? tags->n : 1, sizeof *s->tags);
        for (size_t i = 0; i < tags->n; i++)
            if (str_of(tags->items[i]))
                s->tags[ntags++] = (eng_tag_t){tags->keys[i], tags->items[i]->s};
    }
    const qry_json_t *p = qry_json_get(msg, "payload");
    if (!p)
        return 0;
    s->m.payload = p->kind == QRY_J_STR ? p->s : p->raw;
    s->m.payload_len = p->kind == QRY_J_STR ? p->slen : p->raw_len;
    mq_dec_opts_t o;
    mq_dec_opts_default(&o);
    o.measurement = "rules_test";
    o.tags = s->tags;
    o.ntags = ntags;
    o.now_ns = s->m.ts;
    mq_dec_batch_new(&s->batch);
    if (mq_dec_json(s->batch, &o, s->m.payload, s->m.payload_len) > 0)
    {
        s->m.points = mq_dec_batch_points(s->batch, &s->m.npoints);
        s->m.name_lens = mq_dec_batch_name_lens(s->batch, &s->m.fields_base);
    }
    return 0;
}

static void test_op(srv_conn_t *c)
{
    srv_req_t *r = &c->req;
    qry_jdoc_t *jd;
    qry_jdoc_new(&jd);
    const qry_json_t *root, *rule = NULL;
    mq_rule_doc_t *doc = NULL;
    const mq_rule_def_t *defs;
    size_t n;
    mq_rules_err_t err;
    sample_t s = {0};
    char msg[256];
    if (qry_jdoc_parse(jd, (const char *)r->body.p, r->body.len, &root, NULL) < 0 ||
        root->kind != QRY_J_OBJ) {
        error_reply(c, 400, "the body must be a JSON object", NULL);
        goto done;
    }
    rule = qry_json_get(root, "rule");
    const char *text = rule ? rule->raw : NULL;
    size_t tlen = rule ? rule->raw_len : 0;
    cn_buf_t tmp;
    cn_buf_init(&tmp);
    if (!rule) {
        /* {"sql":..,"actions":[..]} at the top level */
        const qry_json_t *sql = qry_json_get(root, "sql"), *acts = qry_json_get(root, "actions");
        cn_buf_put(&tmp, "{\"id\":\"test\",\"sql\":", 19);
        if (sql)
            cn_buf_put(&tmp, sql->raw, sql->raw_len);
        else
            cn_buf_put(&tmp, "null", 4);
        if (acts) {
            cn_buf_put(&tmp, ",\"actions\":", 11);
            cn_buf_put(&tmp, acts->raw, acts->raw_len);
        }
        cn_buf_put_u8(&tmp, '}');
        text = (const char *)tmp.p;
        tlen = tmp.len;
    }
    int rc = mq_rule_doc_parse(text, tlen, true, &doc, &defs, &n, &err);
    cn_buf_free(&tmp);
    if (rc < 0 || n != 1) {
        error_reply(c, 400, rc < 0 ? err.msg : "rule: must be one object", NULL);
        goto done;
    }
    mq_rule_def_t def = defs[0];
    def.id = def.id ? def.id : "test";
    const qry_json_t *m = qry_json_get(root, "message");
    if (!m || m->kind != QRY_J_OBJ) {
        error_reply(c, 400, "message: required (an object)", NULL);
        goto done;
    }
    if (build_sample(m, &s, msg, sizeof msg) < 0) {
        error_reply(c, 400, msg, NULL);
        goto done;
    }
    cn_buf_t out;
    cn_buf_init(&out);
    if (mq_rules_test(&def, &s.m, &out, &err) < 0) {
        error_reply(c, 400, err.msg, err.line ? &err : NULL);
    } else {
        cn_buf_put_u8(&out, '\n');
        json_reply(c, 200, &out);
    }
    cn_buf_free(&out);
done:
    mq_dec_batch_free(s.batch);
    cn_free(s.tags);
    mq_rule_doc_free(doc);
    qry_jdoc_free(jd);
}

/* --------------------------------------------------------------- routing */

static void not_allowed(srv_conn_t *c, const char *allow)
{
    char extra[64];
    snprintf(extra, sizeof extra, "Allow: %s\r\n", allow);
    srv__http_respond(c, 405, "application/json", extra, "{\"error\":\"method not allowed\"}\n",
                      31);
}

void srv__rules_handle(srv_conn_t *c, const char *url)
{
    srv_http_t *h = c->srv;
    int m = c->parser.method;
    if (!h->rules) {
        error_reply(c, 503, "rules are not available", NULL);
        return;
    }
    const char *rest = url + strlen(PREFIX);
    if (!*rest || strcmp(rest, "/") == 0) {
        if (m == HTTP_GET || m == HTTP_HEAD)
            rule_reply(c, h->rules, 200, NULL);
        else if (m == HTTP_POST)
            write_op(c, SRV_RULES_CREATE, NULL);
        else
            not_allowed(c, "GET, HEAD, POST");
        return;
    }
    rest++; /* past '/' */
    if (strcmp(rest, "test") == 0) {
        if (m == HTTP_POST)
            test_op(c);
        else
            not_allowed(c, "POST");
        return;
    }
    char id[MQ_RULE_ID_MAX + 2];
    const char *slash = strchr(rest, '/');
    size_t idlen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (idlen == 0 || idlen > MQ_RULE_ID_MAX) {
        error_reply(c, 404, "no such rule", NULL);
        return;
    }
    memcpy(id, rest, idlen);
    id[idlen] = 0;
    if (slash) {
        bool en = strcmp(slash, "/enable") == 0, dis = strcmp(slash, "/disable") == 0;
        if (!en && !dis)
            srv__http_respond(c, 404, "application/json", NULL, "{\"error\":\"not found\"}\n", 22);
        else if (m != HTTP_POST)
            not_allowed(c, "POST");
        else
            write_op(c, en ? SRV_RULES_ENABLE : SRV_RULES_DISABLE, id);
        return;
    }
    if (m == HTTP_GET || m == HTTP_HEAD)
        rule_reply(c, h->rules, 200, id);
    else if (m == HTTP_PUT)
        write_op(c, SRV_RULES_UPDATE, id);
    else if (m == HTTP_DELETE)
        write_op(c, SRV_RULES_DELETE, id);
    else
        not_allowed(c, "GET, HEAD, PUT, DELETE");
}
