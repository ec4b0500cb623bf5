/* SPDX-License-Identifier: MIT */
/*
 * crule.c - one rule made ready to run: definition copies, validation,
 * compilation (SQL -> program, topic filters checked with the router's
 * rules, action templates) and the rendering of an action's strings.
 *
 * Templates: text with ${name} placeholders ("$$" is a literal '$').  A
 * name resolves, in order, to an output of the rule, a message name
 * (topic, clientid, username, qos, timestamp, payload) or a field / tag of
 * the row, through a slot added to the snapshot's symbol table at compile
 * time, so rendering never searches the message by name.
 *
 * NOTES
 * 1. Topic filters of one '+' level and no '#' ("devices/+/telemetry",
 *    the usual shape of a rule's filter) are matched as a prefix (the
 *    text before the '+', its '/' included), a suffix (the text after
 *    it) and, between them, a level without a '/': two short compares
 *    and one memchr, where the level walk (mq__filter_matches on lev)
 *    tests each level's kind, bounds and bytes.  A filter starting with
 *    '+' has an empty prefix and refuses topics starting with '$'
 *    (MQTT-4.7.2-1).  test_filter_matcher checks both ways against the
 *    router's matcher on every filter and topic of a few levels.
 *    cachegrind on rules_bench --size small --rules 10 (one filter):
 *    mq__filter_matches with memchr 135 -> 85 instructions a message.
 */
#include "router.h"
#include "rules_int.h"

#include <stdio.h>
#include <stdlib.h>

/* ------------------------------------------------------------ definitions */

static char *dup_s(const char *s)
{
    return s ? cn_strndup(s, strlen(s)) : NULL;
}

mq_rule_def_t *mq__def_dup(const mq_rule_def_t *d)
{
    mq_rule_def_t *c = cn_calloc(1, sizeof *c);
    c->id = dup_s(d->id);
    c->name = dup_s(d->name);
    c->sql = dup_s(d->sql);
    c->enabled = d->enabled;
    c->from_file = d->from_file;
    c->nactions = d->nactions;
    mq_rule_action_t *acts = cn_calloc(d->nactions ? d->nactions : 1, sizeof *acts);
    for (uint32_t i = 0; i < d->nactions; i++) {
        const mq_rule_action_t *a = &d->actions[i];
        mq_rule_action_t *b = &acts[i];
        *b = *a;
        b->url = dup_s(a->url);
        b->method = dup_s(a->method);
        b->topic = dup_s(a->topic);
        b->key = dup_s(a->key);
        b->body = dup_s(a->body);
        mq_kv_t *h = cn_calloc(a->nheaders ? a->nheaders : 1, sizeof *h);
        for (uint32_t k = 0; k < a->nheaders; k++) {
            h[k].name = dup_s(a->headers[k].name);
            h[k].value = dup_s(a->headers[k].value);
        }
        b->headers = h;
    }
    c->actions = acts;
    return c;
}

void mq_rule_def_free(mq_rule_def_t *d)
{
    if (!d)
        return;
    for (uint32_t i = 0; i < d->nactions; i++) {
        const mq_rule_action_t *a = &d->actions[i];
        cn_free((void *)a->url);
        cn_free((void *)a->method);
        cn_free((void *)a->topic);
        cn_free((void *)a->key);
        cn_free((void *)a->body);
        for (uint32_t k = 0; k < a->nheaders; k++) {
            cn_free((void *)a->headers[k].name);
            cn_free((void *)a->headers[k].value);
        }
        cn_free((void *)a->headers);
    }
    cn_free((void *)d->actions);
    cn_free((void *)d->id);
    cn_free((void *)d->name);
    cn_free((void *)d->sql);
    cn_free(d);
}

/* -------------------------------------------------------------- templates */

static const char *const meta_names[] = {"topic", "clientid",  "username",
                                         "qos",   "timestamp", "payload"};

int mq__tmpl_check(const char *t, char *msg, size_t n)
{
    for (size_t i = 0; t && t[i]; i++) {
        if (t[i] != '$')
            continue;
        if (t[i + 1] == '$') {
            i++;
            continue;
        }
        if (t[i + 1] != '{')
            continue;
        const char *end = strchr(t + i + 2, '}');
        if (!end) {
            snprintf(msg, n, "unterminated ${ at byte %zu", i);
            return CN_EINVAL;
        }
        if (end == t + i + 2) {
            snprintf(msg, n, "empty ${} at byte %zu", i);
            return CN_EINVAL;
        }
        i = (size_t)(end - t);
    }
    return 0;
}

static mq__seg_t *seg_push(mq__tmpl_t *t, size_t *cap)
{
    if (t->n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        t->segs = cn_realloc(t->segs, *cap * sizeof *t->segs);
    }
    mq__seg_t *s = &t->segs[t->n++];
    memset(s, 0, sizeof *s);
    return s;
}

void mq__tmpl_compile(mq__tmpl_t *t, const char *text, qry_symtab_t *st, const qry_prog_t *prog)
{
    memset(t, 0, sizeof *t);
    t->lit = true;
    if (!text)
        return;
    size_t len = strlen(text), cap = 0, w = 0;
    char *buf = cn_malloc(len + 1); /* literal runs and names, NUL-separated */
    t->text = buf;
    size_t i = 0;
    while (i < len) {
        mq__seg_t *s = seg_push(t, &cap);
        if (text[i] == '$' && text[i + 1] == '{') {
            const char *end = strchr(text + i + 2, '}');
            size_t nl = (size_t)(end - text) - i - 2;
            s->kind = SEG_NAME;
            s->s = buf + w;
            s->len = nl;
            memcpy(buf + w, text + i + 2, nl);
            buf[w + nl] = 0;
            w += nl + 1;
            t->lit = false;
            uint32_t oslot1;
            s->out = qry_prog_output_index(prog, s->s, nl, &oslot1);
            for (size_t k = 0; k < CN_ARRAY_LEN(meta_names); k++)
                if (strcmp(s->s, meta_names[k]) == 0)
                    s->meta = (int)k + 1;
            if (!s->meta)
                s->slot = qry_symtab_add(st, s->s);
            if (s->out >= 0)
                s->tslot1 = oslot1;
            else if (s->out == -1 && !s->meta)
                s->tslot1 = s->slot + 1;
            i += nl + 3;
            continue;
        }
        s->kind = SEG_LIT;
        s->s = buf + w;
        while (i < len && !(text[i] == '$' && text[i + 1] == '{')) {
            buf[w++] = text[i];
            i += text[i] == '$' && text[i + 1] == '$' ? 2 : 1;
        }
        s->len = (size_t)(buf + w - s->s);
    }
    if (t->lit) { /* one literal segment at most: it is the rendering */
        buf[w] = 0;
        t->lit_len = w;
    }
    if (t->n == 1 && t->segs[0].kind == SEG_NAME)
        t->tslot1 = t->segs[0].tslot1;
}

void mq__tmpl_free(mq__tmpl_t *t)
{
    cn_free(t->segs);
    cn_free(t->text);
    memset(t, 0, sizeof *t);
}

static void put_meta(int meta, const qry_row_t *row, const qry_msg_t *m, cn_buf_t *out)
{
    qry_val_t v = {.t = QRY_V_NULL};
    switch (meta) {
    case 1:
        cn_buf_put(out, m->topic, m->topic_len);
        return;
    case 2:
    case 3: {
        const char *s = meta == 2 ? m->clientid : m->username;
        if (s)
            cn_buf_put(out, s, strlen(s));
        return;
    }
    case 4:
        v.t = QRY_V_INT, v.u.i = m->qos;
        break;
    case 5:
        v.t = QRY_V_INT, v.u.i = m->ts;
        break;
    default:
        if (m->payload_len)
            cn_buf_put(out, m->payload, m->payload_len);
        return;
    }
    (void)row;
    qry_val_text(&v, out);
}

void mq__tmpl_render(const mq__tmpl_t *t, qry_row_t *row, const qry_msg_t *m, cn_buf_t *out)
{
    for (size_t i = 0; i < t->n; i++) {
        const mq__seg_t *s = &t->segs[i];
        if (s->kind == SEG_LIT) {
            cn_buf_put(out, s->s, s->len);
            continue;
        }
        if (s->tslot1) {
            const char *p;
            size_t n;
            if (qry_row_slot_text(row, s->tslot1 - 1, &p, &n))
                cn_buf_put(out, p, n);
            continue;
        }
        const qry_val_t *v = NULL;
        if (s->out >= 0) {
            const qry_out_t *outs;
            if ((size_t)s->out < qry_row_outputs(row, &outs))
                v = &outs[s->out].v;
        } else if (s->out == -2) {
            v = qry_row_get(row, s->s, s->len);
        }
        qry_val_t sv;
        if (v)
            qry_val_text(v, out);
        else if (s->meta)
            put_meta(s->meta, row, m, out);
        else if (qry_row_slot(row, s->slot, &sv))
            qry_val_text(&sv, out);
    }
}

/* ------------------------------------------------------------- validation */

static void set_err(mq_rules_err_t *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_err(mq_rules_err_t *err, const char *fmt, ...)
{
    memset(err, 0, sizeof *err);
    err->code = CN_EINVAL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

static int check_id(const char *id, mq_rules_err_t *err)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > MQ_RULE_ID_MAX) {
        set_err(err, "id: must be 1 to %d characters", MQ_RULE_ID_MAX);
        return CN_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.')) {
            set_err(err, "id: only letters, digits, '_', '-' and '.' are allowed");
            return CN_EINVAL;
        }
    }
    return 0;
}

static int check_tmpl(const char *t, uint32_t i, const char *what, mq_rules_err_t *err)
{
    char msg[128];
    if (mq__tmpl_check(t, msg, sizeof msg) == 0)
        return 0;
    set_err(err, "actions[%u].%s: %s", i, what, msg);
    return CN_EINVAL;
}

static int check_action(const mq_rule_action_t *a, uint32_t i, mq_rules_err_t *err)
{
    switch (a->kind) {
    case MQ_ACT_WEBHOOK:
        if (!a->url ||
            (strncmp(a->url, "http://", 7) != 0 && strncmp(a->url, "https://", 8) != 0)) {
            set_err(err, "actions[%u].url: an http:// or https:// URL is required", i);
            return CN_EINVAL;
        }
        if (a->method && strcmp(a->method, "POST") != 0 && strcmp(a->method, "PUT") != 0) {
            set_err(err, "actions[%u].method: must be POST or PUT", i);
            return CN_EINVAL;
        }
        if (a->timeout_ms > 600000) {
            set_err(err, "actions[%u].timeout_ms: at most 600000", i);
            return CN_EINVAL;
        }
        for (uint32_t k = 0; k < a->nheaders; k++) {
            const char *h = a->headers[k].name;
            if (!h || !*h || strpbrk(h, ":\r\n ") || !a->headers[k].value ||
                strpbrk(a->headers[k].value, "\r\n")) {
                set_err(err, "actions[%u].headers: invalid header", i);
                return CN_EINVAL;
            }
            MQ__TRY(check_tmpl(a->headers[k].value, i, "headers", err));
        }
        break;
    case MQ_ACT_KAFKA:
    case MQ_ACT_REPUBLISH:
        if (!a->topic || !*a->topic) {
            set_err(err, "actions[%u].topic: required", i);
            return CN_EINVAL;
        }
        MQ__TRY(check_tmpl(a->topic, i, "topic", err));
        MQ__TRY(check_tmpl(a->key, i, "key", err));
        if (a->kind == MQ_ACT_REPUBLISH && a->qos > 2) {
            set_err(err, "actions[%u].qos: must be 0, 1 or 2", i);
            return CN_EINVAL;
        }
        break;
    default:
        set_err(err, "actions[%u].type: must be webhook, kafka or republish", i);
        return CN_EINVAL;
    }
    return check_tmpl(a->body, i, "body", err);
}

/* Line and character column of byte off in s. */
static void locate(const char *s, uint32_t off, mq_rules_err_t *err)
{
    err->off = off;
    err->line = 1;
    err->col = 1;
    for (uint32_t i = 0; i < off && s[i]; i++) {
        if (s[i] == '\n') {
            err->line++;
            err->col = 1;
        } else if (((unsigned char)s[i] & 0xC0) != 0x80) {
            err->col++;
        }
    }
}

static int check_filters(const mq_rule_def_t *def, const qry_rule_t *r, mq_rules_err_t *err)
{
    for (size_t i = 0; i < r->nfilters; i++) {
        const char *f = r->filters[i];
        size_t n = strlen(f);
        if (!mq_router_filter_valid(f, n) || strncmp(f, "$share/", 7) == 0) {
            set_err(err, "error in rule: invalid topic filter \"%.200s\"", f);
            locate(def->sql, r->filter_offs[i], err);
            size_t k = strlen(err->msg);
            snprintf(err->msg + k, sizeof err->msg - k, " at line %u, char %u", err->line,
                     err->col);
            return CN_EINVAL;
        }
    }
    return 0;
}

static void sql_err(mq_rules_err_t *err, const qry_error_t *qe)
{
    memset(err, 0, sizeof *err);
    err->code = CN_EINVAL;
    err->line = qe->line;
    err->col = qe->col;
    err->off = qe->off;
    snprintf(err->msg, sizeof err->msg, "%s", qe->msg);
}

static int check_def(const mq_rule_def_t *def, mq_rules_err_t *err)
{
    MQ__TRY(check_id(def->id, err));
    if (!def->sql || !*def->sql) {
        set_err(err, "sql: required");
        return CN_EINVAL;
    }
    if (def->nactions > MQ_RULE_MAX_ACTIONS) {
        set_err(err, "actions: at most %d", MQ_RULE_MAX_ACTIONS);
        return CN_EINVAL;
    }
    for (uint32_t i = 0; i < def->nactions; i++)
        MQ__TRY(check_action(&def->actions[i], i, err));
    return 0;
}

int mq_rule_validate(const mq_rule_def_t *def, mq_rules_err_t *err)
{
    mq__crule_t cr;
    qry_symtab_t *st;
    qry_symtab_new(&st);
    int rc = mq__crule_build(&cr, def, st, err);
    if (rc == 0)
        mq__crule_free(&cr);
    qry_symtab_free(st);
    return rc;
}

/* ------------------------------------------------------------ compilation */

int mq__crule_build(mq__crule_t *cr, const mq_rule_def_t *def, qry_symtab_t *st,
                    mq_rules_err_t *err)
{
    memset(cr, 0, sizeof *cr);
    MQ__TRY(check_def(def, err));
    qry_error_t qe;
    int rc = qry_rule_parse(def->sql, strlen(def->sql), &cr->ast, &qe);
    if (rc < 0) {
        sql_err(err, &qe);
        return CN_EINVAL;
    }
    rc = check_filters(def, cr->ast, err);
    if (rc == 0 && qry_prog_compile(cr->ast, st, &cr->prog, &qe) < 0) {
        sql_err(err, &qe);
        rc = CN_EINVAL;
    }
    if (rc < 0) {
        qry_rule_free(cr->ast);
        cr->ast = NULL;
        return rc;
    }
    cr->def = mq__def_dup(def);
    cr->acts = cn_calloc(def->nactions ? def->nactions : 1, sizeof *cr->acts);
    for (uint32_t i = 0; i < def->nactions; i++) {
        const mq_rule_action_t *a = &cr->def->actions[i];
        mq__cact_t *c = &cr->acts[i];
        c->has_body = a->body != NULL;
        if (!c->has_body) {
            cr->needs_json = true;
            cr->json_republish |= a->kind == MQ_ACT_REPUBLISH;
        }
        mq__tmpl_compile(&c->body, a->body, st, cr->prog);
        mq__tmpl_compile(&c->key, a->key ? a->key : "${device_id}", st, cr->prog);
        mq__tmpl_compile(&c->topic, a->topic, st, cr->prog);
        c->headers = cn_calloc(a->nheaders ? a->nheaders : 1, sizeof *c->headers);
        for (uint32_t k = 0; k < a->nheaders; k++)
            mq__tmpl_compile(&c->headers[k], a->headers[k].value, st, cr->prog);
        bool kafka = a->kind == MQ_ACT_KAFKA;
        c->quick = !c->has_body && (c->key.lit || c->key.tslot1) &&
                   ((kafka && (c->topic.lit || c->topic.tslot1)) ||
                    (a->kind == MQ_ACT_WEBHOOK && a->nheaders == 0));
    }
    cr->quick = true;
    for (uint32_t i = 0; i < def->nactions; i++)
        cr->quick &= cr->acts[i].quick;
    return 0;
}

void mq__crule_free(mq__crule_t *cr)
{
    if (!cr->def)
        return;
    for (uint32_t i = 0; i < cr->def->nactions; i++) {
        mq__cact_t *c = &cr->acts[i];
        mq__tmpl_free(&c->body);
        mq__tmpl_free(&c->key);
        mq__tmpl_free(&c->topic);
        for (uint32_t k = 0; k < cr->def->actions[i].nheaders; k++)
            mq__tmpl_free(&c->headers[k]);
        cn_free(c->headers);
    }
    cn_free(cr->acts);
    qry_prog_free(cr->prog);
    qry_rule_free(cr->ast);
    mq_rule_def_free(cr->def);
    memset(cr, 0, sizeof *cr);
}

/* -------------------------------------------------------------- rendering */

void mq__row_msg(const mq_rules_msg_t *m, const eng_point_t *p, qry_msg_t *out)
{
    /* member by member, no memset (rep stos, slow to start, per message) */
    out->tags = NULL, out->ntags = 0, out->fields = NULL, out->nfields = 0;
    out->name_lens = NULL;
    out->topic = m->topic;
    out->topic_len = m->topic_len;
    out->clientid = m->clientid;
    out->username = m->username;
    out->qos = m->qos;
    out->ts = p ? p->ts : m->ts;
    out->payload = m->payload;
    out->payload_len = m->payload_len;
    if (p) {
        out->tags = p->tags;
        out->ntags = p->ntags;
        out->fields = p->fields;
        out->nfields = p->nfields;
        if (m->name_lens)
            out->name_lens = m->name_lens + (p->fields - m->fields_base);
    }
}

void mq__rendered_free(mq__rendered_t *r)
{
    cn_buf_free(&r->body);
    cn_buf_free(&r->key);
    cn_buf_free(&r->topic);
    cn_buf_free(&r->hdrs);
    cn_free(r->hv);
}

/* Renders t for the row into b (cleared) and points *p / *n at the
 * NUL-terminated result: the template's own text when it has no
 * placeholder. */
static inline void render_str(const mq__tmpl_t *t, qry_row_t *row, const qry_msg_t *qm, cn_buf_t *b,
                       const char **p, size_t *n)
{
    if (t->lit) {
        *p = t->text ? t->text : "";
        *n = t->lit_len;
        return;
    }
    if (t->tslot1) {
        if (!qry_row_slot_text(row, t->tslot1 - 1, p, n)) {
            *p = "";
            *n = 0;
        }
        return;
    }
    b->len = 0;
    mq__tmpl_render(t, row, qm, b);
    cn_buf_reserve(b, 1);
    b->p[b->len] = 0;
    *p = (const char *)b->p;
    *n = b->len;
}

/* Whether render_str gives t's text from the row's slot-text memo. */
static inline bool slot_text(const mq__tmpl_t *t)
{
    return !t->lit && t->tslot1;
}

void mq__render_action(const mq__crule_t *cr, uint32_t i, qry_row_t *row, const qry_msg_t *qm,
                       const char *json, size_t json_len, mq__rendered_t *r, mq_rules_out_t *out)
{
    const mq_rule_action_t *a = &cr->def->actions[i];
    const mq__cact_t *c = &cr->acts[i];
    *out = (mq_rules_out_t){
        .rule = cr->def, .action = i, .act = a, .json = json, .json_len = json ? json_len : 0};
    if (c->has_body) {
        render_str(&c->body, row, qm, &r->body, &out->body, &out->body_len);
    } else {
        out->body = out->json;
        out->body_len = out->json_len;
    }
    render_str(&c->key, row, qm, &r->key, &out->key, &out->key_len);
    if (a->kind != MQ_ACT_WEBHOOK) {
        render_str(&c->topic, row, qm, &r->topic, &out->topic, &out->topic_len);
    } else if (a->nheaders) {
        r->hdrs.len = 0;
        if (r->hv_cap < a->nheaders) {
            r->hv_cap = a->nheaders;
            r->hv = cn_realloc(r->hv, r->hv_cap * sizeof *r->hv);
        }
        /* offsets first, pointers after: hdrs may move while it grows */
        for (uint32_t k = 0; k < a->nheaders; k++) {
            r->hv[k] = (const char *)(uintptr_t)r->hdrs.len;
            mq__tmpl_render(&c->headers[k], row, qm, &r->hdrs);
            cn_buf_put_u8(&r->hdrs, 0);
        }
        for (uint32_t k = 0; k < a->nheaders; k++)
            r->hv[k] = (const char *)r->hdrs.p + (uintptr_t)r->hv[k];
        out->headers = r->hv;
    }
    /* A slot's text is borrowed from the row's memo, which a later slot's
     * text (the topic's, a header's) may have grown and moved: point into
     * it again (memoized now, so it does not move any more). */
    bool moved = a->kind == MQ_ACT_WEBHOOK ? a->nheaders > 0 : slot_text(&c->topic);
    if (slot_text(&c->key) && moved)
        render_str(&c->key, row, qm, &r->key, &out->key, &out->key_len);
    if (c->has_body && slot_text(&c->body) && (moved || slot_text(&c->key)))
        render_str(&c->body, row, qm, &r->body, &out->body, &out->body_len);
    out->ts = qm->ts;
}

/* ------------------------------------------------------------- topic filters */

void mq__filter_compile(const char *f, size_t len, mq__filter_t *out)
{
    uint32_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += f[i] == '/';
    out->lev = cn_calloc(n, sizeof *out->lev);
    out->n = n;
    size_t start = 0;
    uint32_t nplus = 0, nhash = 0, at = 0; /* NOTES 1 */
    for (uint32_t k = 0; k < n; k++) {
        size_t e = start;
        while (e < len && f[e] != '/')
            e++;
        mq__flevel_t *l = &out->lev[k];
        l->p = f + start;
        l->len = (uint32_t)(e - start);
        l->kind = l->len == 1 && f[start] == '+'   ? MQ__FL_PLUS
                  : l->len == 1 && f[start] == '#' ? MQ__FL_HASH
                                                   : MQ__FL_LIT;
        if (l->kind == MQ__FL_PLUS)
            nplus++, at = k;
        nhash += l->kind == MQ__FL_HASH;
        start = e + 1;
    }
    out->plus1 = nplus == 1 && nhash == 0;
    out->pre = out->suf = NULL;
    out->pre_len = out->suf_len = 0;
    if (out->plus1) {
        out->pre = f;
        out->pre_len = (uint32_t)(out->lev[at].p - f);
        out->suf = out->lev[at].p + 1;
        out->suf_len = (uint32_t)(len - out->pre_len - 1);
    }
}

void mq__filter_free(mq__filter_t *f)
{
    cn_free(f->lev);
    f->lev = NULL;
    f->n = 0;
}

/* NOTES 1: f->plus1. */
static inline bool plus1_matches(const mq__filter_t *f, const char *t, size_t tl)
{
    size_t pl = f->pre_len, sl = f->suf_len;
    if (tl == 0 || tl < pl + sl || (pl == 0 && t[0] == '$'))
        return false; /* no topic is empty (MQTT 4.7.3) */
    if (!cn_eq_short(t, f->pre, pl) || !cn_eq_short(t + tl - sl, f->suf, sl))
        return false;
    return memchr(t + pl, '/', tl - pl - sl) == NULL;
}

bool mq__filter_matches(const mq__filter_t *f, const char *t, size_t tl)
{
    if (f->plus1)
        return plus1_matches(f, t, tl);
    const mq__flevel_t *l = f->lev;
    if (tl > 0 && t[0] == '$' && l[0].kind != MQ__FL_LIT)
        return false; /* MQTT-4.7.2-1 */
    /* ti: where the topic's next level starts; tl + 1 once all are used */
    size_t ti = 0;
    for (uint32_t k = 0; k < f->n; k++, l++) {
        if (l->kind == MQ__FL_HASH)
            return true; /* the rest, or nothing: "a/#" matches "a" */
        if (ti > tl)
            return false;
        if (l->kind == MQ__FL_PLUS) {
            const char *e = memchr(t + ti, '/', tl - ti);
            ti = e ? (size_t)(e - t) + 1 : tl + 1;
            continue;
        }
        size_t e = ti + l->len;
        if (e > tl || (e < tl && t[e] != '/') || !cn_eq_short(t + ti, l->p, l->len))
            return false;
        ti = e + 1;
    }
    return ti == tl + 1;
}
