/* SPDX-License-Identifier: MIT */
/*
 * def.c - rule definitions as JSON, both ways: mq_rule_doc_parse reads the
 * rules file and API request bodies; mq_rule_def_json writes the form it
 * reads (with every default filled in), which the API returns and the
 * metadata store keeps.  The schema is in rules.h at mq_rule_doc_parse.
 *
 * Unknown members are errors (a typo such as "enabeld" must not silently
 * leave a rule enabled), except "source" and "metrics", which the API
 * adds to what it returns so that a GET body can be PUT back unchanged.
 */
#include "rules_int.h"

#include <stdio.h>
#include <stdlib.h>

#define DEFAULT_TIMEOUT_MS 5000

struct mq_rule_doc {
    qry_jdoc_t *json;
    mq_rule_def_t *defs;
    size_t n;
    mq_rule_action_t *acts; /* all actions of all rules */
    mq_kv_t *kvs;           /* all headers */
};

void mq_rule_doc_free(mq_rule_doc_t *d)
{
    if (!d)
        return;
    qry_jdoc_free(d->json);
    cn_free(d->defs);
    cn_free(d->acts);
    cn_free(d->kvs);
    cn_free(d);
}

static int fail(mq_rules_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(mq_rules_err_t *err, int code, const char *fmt, ...)
{
    memset(err, 0, sizeof *err);
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

/* A string member (NULL when absent or null); error when another type or
 * when it holds a NUL. */
static int get_str(const qry_json_t *o, const char *key, const char *where, const char **out,
                   mq_rules_err_t *err)
{
    const qry_json_t *v = qry_json_get(o, key);
    *out = NULL;
    if (!v || v->kind == QRY_J_NULL)
        return 0;
    if (v->kind != QRY_J_STR || strlen(v->s) != v->slen)
        return fail(err, CN_EINVAL, "%s%s: must be a string", where, key);
    *out = v->s;
    return 0;
}

static int get_int(const qry_json_t *o, const char *key, const char *where, int64_t lo, int64_t hi,
                   int64_t *out, mq_rules_err_t *err)
{
    const qry_json_t *v = qry_json_get(o, key);
    if (!v || v->kind == QRY_J_NULL)
        return 0;
    if (v->kind != QRY_J_NUM || !v->is_int || v->i < lo || v->i > hi)
        return fail(err, CN_EINVAL, "%s%s: must be an integer from %lld to %lld", where, key,
                    (long long)lo, (long long)hi);
    *out = v->i;
    return 0;
}

static int get_bool(const qry_json_t *o, const char *key, const char *where, bool *out,
                    mq_rules_err_t *err)
{
    const qry_json_t *v = qry_json_get(o, key);
    if (!v || v->kind == QRY_J_NULL)
        return 0;
    if (v->kind != QRY_J_BOOL)
        return fail(err, CN_EINVAL, "%s%s: must be true or false", where, key);
    *out = v->b;
    return 0;
}

static int only(const qry_json_t *o, const char *const *keys, size_t nkeys, const char *where,
                mq_rules_err_t *err)
{
    for (size_t i = 0; i < o->n; i++) {
        bool known = false;
        for (size_t k = 0; k < nkeys && !known; k++)
            known = strcmp(o->keys[i], keys[k]) == 0;
        if (!known)
            return fail(err, CN_EINVAL, "%sunknown member \"%.64s\"", where, o->keys[i]);
    }
    return 0;
}

static int parse_headers(mq_rule_doc_t *d, const qry_json_t *h, mq_rule_action_t *a,
                         size_t *kv_used, const char *where, mq_rules_err_t *err)
{
    if (!h || h->kind == QRY_J_NULL)
        return 0;
    if (h->kind != QRY_J_OBJ)
        return fail(err, CN_EINVAL, "%sheaders: must be an object of strings", where);
    a->headers = &d->kvs[*kv_used];
    for (size_t i = 0; i < h->n; i++) {
        const qry_json_t *v = h->items[i];
        if (v->kind != QRY_J_STR || strlen(v->s) != v->slen)
            return fail(err, CN_EINVAL, "%sheaders.%.64s: must be a string", where, h->keys[i]);
        d->kvs[(*kv_used)++] = (mq_kv_t){.name = h->keys[i], .value = v->s};
    }
    a->nheaders = (uint32_t)h->n;
    return 0;
}

static int parse_action(mq_rule_doc_t *d, const qry_json_t *o, mq_rule_action_t *a, size_t *kv_used,
                        const char *where, mq_rules_err_t *err)
{
    static const char *const wh[] = {"type", "url", "method", "headers", "body", "timeout_ms"};
    static const char *const kf[] = {"type", "topic", "key", "value"};
    static const char *const rp[] = {"type", "topic", "qos", "retain", "payload"};
    if (o->kind != QRY_J_OBJ)
        return fail(err, CN_EINVAL, "%s must be an object", where);
    const char *type;
    MQ__TRY(get_str(o, "type", where, &type, err));
    memset(a, 0, sizeof *a);
    if (type && strcmp(type, "webhook") == 0) {
        int64_t t = DEFAULT_TIMEOUT_MS;
        a->kind = MQ_ACT_WEBHOOK;
        MQ__TRY(only(o, wh, CN_ARRAY_LEN(wh), where, err));
        MQ__TRY(get_str(o, "url", where, &a->url, err));
        MQ__TRY(get_str(o, "method", where, &a->method, err));
        MQ__TRY(get_str(o, "body", where, &a->body, err));
        MQ__TRY(get_int(o, "timeout_ms", where, 1, 600000, &t, err));
        a->timeout_ms = (uint32_t)t;
        return parse_headers(d, qry_json_get(o, "headers"), a, kv_used, where, err);
    }
    if (type && strcmp(type, "kafka") == 0) {
        a->kind = MQ_ACT_KAFKA;
        MQ__TRY(only(o, kf, CN_ARRAY_LEN(kf), where, err));
        MQ__TRY(get_str(o, "topic", where, &a->topic, err));
        MQ__TRY(get_str(o, "key", where, &a->key, err));
        return get_str(o, "value", where, &a->body, err);
    }
    if (type && strcmp(type, "republish") == 0) {
        int64_t q = 0;
        a->kind = MQ_ACT_REPUBLISH;
        MQ__TRY(only(o, rp, CN_ARRAY_LEN(rp), where, err));
        MQ__TRY(get_str(o, "topic", where, &a->topic, err));
        MQ__TRY(get_int(o, "qos", where, 0, 2, &q, err));
        a->qos = (uint8_t)q;
        MQ__TRY(get_bool(o, "retain", where, &a->retain, err));
        return get_str(o, "payload", where, &a->body, err);
    }
    return fail(err, CN_EINVAL, "%stype: must be \"webhook\", \"kafka\" or \"republish\"", where);
}

static int parse_rule(mq_rule_doc_t *d, const qry_json_t *o, mq_rule_def_t *def, size_t *act_used,
                      size_t *kv_used, const char *where, mq_rules_err_t *err)
{
    static const char *const keys[] = {"id",      "name",   "sql",    "enabled",
                                       "actions", "source", "metrics"};
    if (o->kind != QRY_J_OBJ)
        return fail(err, CN_EINVAL, "%sa rule must be a JSON object", where);
    MQ__TRY(only(o, keys, CN_ARRAY_LEN(keys), where, err));
    MQ__TRY(get_str(o, "id", where, &def->id, err));
    MQ__TRY(get_str(o, "name", where, &def->name, err));
    MQ__TRY(get_str(o, "sql", where, &def->sql, err));
    def->enabled = true;
    MQ__TRY(get_bool(o, "enabled", where, &def->enabled, err));
    if (!def->sql)
        return fail(err, CN_EINVAL, "%ssql: required", where);
    const qry_json_t *acts = qry_json_get(o, "actions");
    if (!acts || acts->kind == QRY_J_NULL)
        return 0;
    if (acts->kind != QRY_J_ARR)
        return fail(err, CN_EINVAL, "%sactions: must be an array", where);
    if (acts->n > MQ_RULE_MAX_ACTIONS)
        return fail(err, CN_EINVAL, "%sactions: at most %d", where, MQ_RULE_MAX_ACTIONS);
    def->actions = &d->acts[*act_used];
    def->nactions = (uint32_t)acts->n;
    for (size_t i = 0; i < acts->n; i++) {
        char w[96];
        snprintf(w, sizeof w, "%sactions[%zu]", where, i);
        size_t wl = strlen(w);
        snprintf(w + wl, sizeof w - wl, ".");
        MQ__TRY(parse_action(d, acts->items[i], &d->acts[(*act_used)++], kv_used, w, err));
    }
    return 0;
}

/* Upper bounds of the actions and headers a document can hold. */
static void count(const qry_json_t *root, size_t *nacts, size_t *nkvs)
{
    size_t nr = root->kind == QRY_J_ARR ? root->n : 1;
    for (size_t r = 0; r < nr; r++) {
        const qry_json_t *o = root->kind == QRY_J_ARR ? root->items[r] : root;
        const qry_json_t *acts = qry_json_get(o, "actions");
        if (!acts || acts->kind != QRY_J_ARR)
            continue;
        *nacts += acts->n;
        for (size_t i = 0; i < acts->n; i++) {
            const qry_json_t *h = qry_json_get(acts->items[i], "headers");
            if (h && h->kind == QRY_J_OBJ)
                *nkvs += h->n;
        }
    }
}

int mq_rule_doc_parse(const char *json, size_t len, bool allow_no_id, mq_rule_doc_t **out,
                      const mq_rule_def_t **defs, size_t *n, mq_rules_err_t *err)
{
    *out = NULL;
    mq_rule_doc_t *d = cn_calloc(1, sizeof *d);
    qry_jdoc_new(&d->json);
    const qry_json_t *root;
    size_t off = 0;
    int rc = qry_jdoc_parse(d->json, json, len, &root, &off);
    if (rc < 0) {
        mq_rule_doc_free(d);
        return fail(err, CN_EPROTO, "invalid JSON at byte %zu", off);
    }
    size_t nacts = 0, nkvs = 0;
    count(root, &nacts, &nkvs);
    d->n = root->kind == QRY_J_ARR ? root->n : 1;
    d->defs = cn_calloc(d->n ? d->n : 1, sizeof *d->defs);
    d->acts = cn_calloc(nacts ? nacts : 1, sizeof *d->acts);
    d->kvs = cn_calloc(nkvs ? nkvs : 1, sizeof *d->kvs);
    size_t au = 0, ku = 0;
    for (size_t i = 0; i < d->n && rc == 0; i++) {
        char where[32] = "";
        if (root->kind == QRY_J_ARR)
            snprintf(where, sizeof where, "[%zu].", i);
        const qry_json_t *o = root->kind == QRY_J_ARR ? root->items[i] : root;
        rc = parse_rule(d, o, &d->defs[i], &au, &ku, where, err);
        if (rc == 0 && !d->defs[i].id && !allow_no_id)
            rc = fail(err, CN_EINVAL, "%sid: required", where);
    }
    if (rc < 0) {
        mq_rule_doc_free(d);
        return rc;
    }
    *out = d;
    *defs = d->defs;
    *n = d->n;
    return 0;
}

/* ----------------------------------------------------------------- writing */

static void put_key(cn_buf_t *b, const char *k)
{
    qry_json_put_str(b, k, strlen(k));
    cn_buf_put_u8(b, ':');
}

static void put_sval(cn_buf_t *b, const char *k, const char *v, bool comma)
{
    if (comma)
        cn_buf_put_u8(b, ',');
    put_key(b, k);
    if (v)
        qry_json_put_str(b, v, strlen(v));
    else
        cn_buf_put(b, "null", 4);
}

static void put_ival(cn_buf_t *b, const char *k, long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, ",\"%s\":%lld", k, v);
    cn_buf_put(b, tmp, (size_t)n);
}

static void action_json(const mq_rule_action_t *a, cn_buf_t *b)
{
    static const char *const types[] = {"", "webhook", "kafka", "republish"};
    cn_buf_put_u8(b, '{');
    put_sval(b, "type", types[a->kind <= 3 ? a->kind : 0], false);
    switch (a->kind) {
    case MQ_ACT_WEBHOOK:
        put_sval(b, "url", a->url, true);
        put_sval(b, "method", a->method ? a->method : "POST", true);
        cn_buf_put(b, ",\"headers\":{", 12);
        for (uint32_t k = 0; k < a->nheaders; k++)
            put_sval(b, a->headers[k].name, a->headers[k].value, k > 0);
        cn_buf_put_u8(b, '}');
        put_sval(b, "body", a->body, true);
        put_ival(b, "timeout_ms", a->timeout_ms ? a->timeout_ms : DEFAULT_TIMEOUT_MS);
        break;
    case MQ_ACT_KAFKA:
        put_sval(b, "topic", a->topic, true);
        put_sval(b, "key", a->key ? a->key : "${device_id}", true);
        put_sval(b, "value", a->body, true);
        break;
    default:
        put_sval(b, "topic", a->topic, true);
        put_ival(b, "qos", a->qos);
        cn_buf_put(b, a->retain ? ",\"retain\":true" : ",\"retain\":false", a->retain ? 14 : 15);
        put_sval(b, "payload", a->body, true);
        break;
    }
    cn_buf_put_u8(b, '}');
}

void mq_rule_def_json(const mq_rule_def_t *def, cn_buf_t *b)
{
    cn_buf_put_u8(b, '{');
    put_sval(b, "id", def->id, false);
    put_sval(b, "name", def->name, true);
    put_sval(b, "sql", def->sql, true);
    cn_buf_put(b, def->enabled ? ",\"enabled\":true" : ",\"enabled\":false",
               def->enabled ? 15 : 16);
    cn_buf_put(b, ",\"actions\":[", 12);
    for (uint32_t i = 0; i < def->nactions; i++) {
        if (i)
            cn_buf_put_u8(b, ',');
        action_json(&def->actions[i], b);
    }
    cn_buf_put(b, "]}", 2);
}
