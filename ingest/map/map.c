/* SPDX-License-Identifier: MIT */
/*
 * map.c - topic templates (map.h): parsing, matching and decoding.
 *
 * A template is compiled into an array of levels; matching walks the topic
 * once, level by level, so its cost is O(topic length) per template tried.
 * Deployments have a handful of templates, so they are tried in order.
 */
#include "map/map.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum lvl_kind { L_LIT, L_TAG, L_MEAS, L_PLUS, L_HASH };

typedef struct lvl {
    enum lvl_kind kind;
    char *s; /* literal text or tag key (owned) */
    size_t len;
} lvl_t;

typedef struct counters {
    _Atomic uint64_t msgs, points;
    _Atomic uint64_t errors[MQ_MAP_R_COUNT];
} counters_t;

typedef struct tpl {
    char *pattern; /* as written (owned) */
    lvl_t *lv;
    uint32_t nlv;
    uint32_t nbound; /* L_TAG levels */
    int fmt;         /* enum mq_map_fmt */
    bool store;
    bool has_prec;
    mq_dec_prec_t prec;
    char *measurement; /* option or last literal; NULL when bound */
    eng_tag_t *ctags;  /* constant tags (owned strings) */
    uint32_t nctags;
    mq_regmap_t *regmap;
} tpl_t;

struct mq_map {
    tpl_t *t;
    uint32_t n;
    unsigned flags;
    counters_t *cnt; /* n + 1 (the last: unmatched) */
};

static const char *const REASONS[MQ_MAP_R_COUNT] = {"syntax", "limit", "value", "topic",
                                                    "type_conflict"};

const char *mq_map_reason_name(enum mq_map_reason r)
{
    return (unsigned)r < MQ_MAP_R_COUNT ? REASONS[r] : "unknown";
}

/* ------------------------------------------------------------- parsing */

static int perr(char *err, size_t errn, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(char *err, size_t errn, const char *fmt, ...)
{
    if (err && errn) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errn, fmt, ap);
        va_end(ap);
    }
    return CN_ECONFIG;
}

static void tpl_free(tpl_t *t)
{
    for (uint32_t i = 0; i < t->nlv; i++)
        cn_free(t->lv[i].s);
    cn_free(t->lv);
    for (uint32_t i = 0; i < t->nctags; i++) {
        cn_free((char *)t->ctags[i].key);
        cn_free((char *)t->ctags[i].val);
    }
    cn_free(t->ctags);
    cn_free(t->measurement);
    cn_free(t->pattern);
    mq_regmap_free(t->regmap);
}

void mq_map_free(mq_map_t *m)
{
    if (!m)
        return;
    for (uint32_t i = 0; i < m->n; i++)
        tpl_free(&m->t[i]);
    cn_free(m->t);
    cn_free(m->cnt);
    cn_free(m);
}

/* A name usable as a tag key or measurement: non-empty, no '/', '{', '}',
 * '+', '#', blanks or control bytes. */
static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == '/' || c == '{' || c == '}' || c == '+' || c == '#' || c == 0x7f)
            return false;
    }
    return mq_dec__utf8_ok((const uint8_t *)s, n);
}

static int compile_pattern(tpl_t *t, const char *p, size_t n, uint32_t no, char *err, size_t errn)
{
    uint32_t cap = 1;
    for (size_t i = 0; i < n; i++)
        cap += p[i] == '/';
    t->lv = cn_calloc(cap, sizeof *t->lv);
    const char *lit_last = NULL;
    size_t lit_len = 0;
    bool meas_bound = false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '/')
            continue;
        const char *s = p + start;
        size_t len = i - start;
        lvl_t *l = &t->lv[t->nlv++];
        if (len == 1 && s[0] == '+') {
            l->kind = L_PLUS;
        } else if (len == 1 && s[0] == '#') {
            if (i != n)
                return perr(err, errn, "template %u: '#' must be the last level", no);
            l->kind = L_HASH;
        } else if (len >= 2 && s[0] == '{' && s[len - 1] == '}') {
            if (!name_ok(s + 1, len - 2))
                return perr(err, errn, "template %u: bad name in '%.*s'", no, (int)len, s);
            if (len - 2 == 11 && memcmp(s + 1, "measurement", 11) == 0) {
                if (meas_bound)
                    return perr(err, errn, "template %u: {measurement} bound twice", no);
                meas_bound = true;
                l->kind = L_MEAS;
            } else {
                for (uint32_t k = 0; k + 1 < t->nlv; k++)
                    if (t->lv[k].kind == L_TAG && t->lv[k].len == len - 2 &&
                        memcmp(t->lv[k].s, s + 1, len - 2) == 0)
                        return perr(err, errn, "template %u: tag '%.*s' bound twice", no,
                                    (int)(len - 2), s + 1);
                l->kind = L_TAG;
                l->s = cn_strndup(s + 1, len - 2);
                l->len = len - 2;
                t->nbound++;
            }
        } else {
            for (size_t k = 0; k < len; k++)
                if (s[k] == '+' || s[k] == '#' || s[k] == '{' || s[k] == '}')
                    return perr(err, errn, "template %u: bad level '%.*s'", no, (int)len, s);
            if (!mq_dec__utf8_ok((const uint8_t *)s, len))
                return perr(err, errn, "template %u: invalid UTF-8", no);
            l->kind = L_LIT;
            l->s = cn_strndup(s, len);
            l->len = len;
            if (len) {
                lit_last = s;
                lit_len = len;
            }
        }
        start = i + 1;
    }
    if (!meas_bound && !t->measurement) {
        if (!lit_last || !name_ok(lit_last, lit_len))
            return perr(err, errn,
                        "template %u: no measurement (bind {measurement}, give measurement=, "
                        "or end with a literal level)",
                        no);
        t->measurement = cn_strndup(lit_last, lit_len);
    }
    if (meas_bound && t->measurement)
        return perr(err, errn, "template %u: measurement= and {measurement} both given", no);
    return 0;
}

static int parse_tags(tpl_t *t, const char *v, size_t n, uint32_t no, char *err, size_t errn)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && v[i] != ',')
            continue;
        const char *s = v + start;
        size_t len = i - start;
        const char *c = memchr(s, ':', len);
        if (!c || c == s || c == s + len - 1 || !name_ok(s, (size_t)(c - s)) ||
            !mq_dec__utf8_ok((const uint8_t *)c + 1, (size_t)(s + len - c - 1)))
            return perr(err, errn, "template %u: bad tag '%.*s' (want key:value)", no, (int)len, s);
        t->ctags = cn_realloc(t->ctags, (t->nctags + 1) * sizeof *t->ctags);
        t->ctags[t->nctags].key = cn_strndup(s, (size_t)(c - s));
        t->ctags[t->nctags].val = cn_strndup(c + 1, (size_t)(s + len - c - 1));
        t->nctags++;
        start = i + 1;
    }
    return 0;
}

static bool opt_is(const char *k, size_t kn, const char *name)
{
    return strlen(name) == kn && memcmp(k, name, kn) == 0;
}

static int parse_option(tpl_t *t, const char *k, size_t kn, const char *v, size_t vn,
                        char **regmap_path, uint32_t no, char *err, size_t errn)
{
    if (opt_is(k, kn, "format")) {
        static const char *const F[] = {"auto", "json", "lp", "binary"};
        for (int i = 0; i < 4; i++)
            if (opt_is(v, vn, F[i])) {
                t->fmt = i;
                return 0;
            }
        return perr(err, errn, "template %u: format must be auto, json, lp or binary", no);
    }
    if (opt_is(k, kn, "measurement")) {
        if (!name_ok(v, vn))
            return perr(err, errn, "template %u: bad measurement name", no);
        cn_free(t->measurement);
        t->measurement = cn_strndup(v, vn);
        return 0;
    }
    if (opt_is(k, kn, "precision")) {
        char buf[16];
        if (vn >= sizeof buf)
            return perr(err, errn, "template %u: bad precision", no);
        memcpy(buf, v, vn);
        buf[vn] = '\0';
        if (mq_dec_prec_parse(buf, &t->prec) != 0)
            return perr(err, errn, "template %u: precision must be auto, ns, us, ms or s", no);
        t->has_prec = true;
        return 0;
    }
    if (opt_is(k, kn, "regmap")) {
        cn_free(*regmap_path);
        *regmap_path = cn_strndup(v, vn);
        return 0;
    }
    if (opt_is(k, kn, "tags"))
        return parse_tags(t, v, vn, no, err, errn);
    if (opt_is(k, kn, "store")) {
        if (opt_is(v, vn, "true"))
            t->store = true;
        else if (opt_is(v, vn, "false"))
            t->store = false;
        else
            return perr(err, errn, "template %u: store must be true or false", no);
        return 0;
    }
    return perr(err, errn, "template %u: unknown option '%.*s'", no, (int)kn, k);
}

static int load_regmap(tpl_t *t, const char *path, uint32_t no, char *err, size_t errn)
{
    uint8_t *text = NULL;
    size_t len = 0;
    int rc = cn_file_read_all(path, &text, &len);
    if (rc < 0)
        return perr(err, errn, "template %u: regmap %s: %s", no, path, cn_strerror(rc)), rc;
    mq_dec_err_t e;
    rc = mq_regmap_parse((const char *)text, len, &t->regmap, &e);
    cn_free(text);
    if (rc < 0)
        return perr(err, errn, "template %u: regmap %s:%u:%u: %s", no, path, e.line, e.col,
                    e.reason);
    return 0;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* One template: "PATTERN [key=value ...]". */
static int parse_one(tpl_t *t, const char *s, size_t n, uint32_t no, char *err, size_t errn)
{
    t->store = true;
    size_t i = 0;
    while (i < n && !is_blank(s[i]))
        i++;
    const char *pat = s;
    size_t plen = i;
    t->pattern = cn_strndup(pat, plen);
    char *regmap_path = NULL;
    int rc = 0;
    while (rc == 0) {
        while (i < n && is_blank(s[i]))
            i++;
        if (i == n)
            break;
        size_t b = i;
        while (i < n && !is_blank(s[i]))
            i++;
        const char *eq = memchr(s + b, '=', i - b);
        if (!eq || eq == s + b)
            rc = perr(err, errn, "template %u: expected key=value, got '%.*s'", no, (int)(i - b),
                      s + b);
        else
            rc = parse_option(t, s + b, (size_t)(eq - s - b), eq + 1, (size_t)(s + i - eq - 1),
                              &regmap_path, no, err, errn);
    }
    if (rc == 0)
        rc = compile_pattern(t, pat, plen, no, err, errn);
    if (rc == 0 && t->fmt == MQ_MAP_BINARY && !regmap_path)
        rc = perr(err, errn, "template %u: format=binary needs regmap=PATH", no);
    if (rc == 0 && regmap_path && t->fmt != MQ_MAP_BINARY)
        rc = perr(err, errn, "template %u: regmap= needs format=binary", no);
    if (rc == 0 && regmap_path)
        rc = load_regmap(t, regmap_path, no, err, errn);
    cn_free(regmap_path);
    return rc;
}

int mq_map_parse(const char *spec, unsigned flags, mq_map_t **out, char *err, size_t errn)
{
    *out = NULL;
    if (err && errn)
        err[0] = '\0';
    mq_map_t *m = cn_calloc(1, sizeof *m);
    m->flags = flags;
    size_t n = spec ? strlen(spec) : 0;
    size_t start = 0;
    int rc = 0;
    for (size_t i = 0; i <= n && rc == 0; i++) {
        if (i < n && spec[i] != ';' && spec[i] != '\n')
            continue;
        const char *s = spec + start;
        size_t len = i - start;
        start = i + 1;
        while (len && (is_blank(*s) || *s == '\n')) {
            s++;
            len--;
        }
        while (len && is_blank(s[len - 1]))
            len--;
        if (!len)
            continue;
        m->t = cn_realloc(m->t, (m->n + 1) * sizeof *m->t);
        memset(&m->t[m->n], 0, sizeof m->t[m->n]);
        m->n++;
        rc = parse_one(&m->t[m->n - 1], s, len, m->n, err, errn);
    }
    if (rc < 0) {
        mq_map_free(m);
        return rc;
    }
    m->cnt = cn_calloc(m->n + 1, sizeof *m->cnt);
    *out = m;
    return 0;
}

uint32_t mq_map_count(const mq_map_t *m)
{
    return m->n;
}

const char *mq_map_pattern(const mq_map_t *m, uint32_t i)
{
    return i < m->n ? m->t[i].pattern : "unmatched";
}

void mq_map_stats(const mq_map_t *m, uint32_t i, mq_map_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (i > m->n)
        return;
    counters_t *c = &m->cnt[i];
    out->msgs = atomic_load_explicit(&c->msgs, memory_order_relaxed);
    out->points = atomic_load_explicit(&c->points, memory_order_relaxed);
    for (int r = 0; r < MQ_MAP_R_COUNT; r++)
        out->errors[r] = atomic_load_explicit(&c->errors[r], memory_order_relaxed);
}

void mq_map_count_error(mq_map_t *m, uint32_t i, enum mq_map_reason r, uint64_t n)
{
    if (i <= m->n && (unsigned)r < MQ_MAP_R_COUNT)
        atomic_fetch_add_explicit(&m->cnt[i].errors[r], n, memory_order_relaxed);
}

void mq_map_forget(mq_map_t *m, const mq_map_result_t *res, mq_dec_batch_t *b)
{
    if (res->tpl < 0 || (uint32_t)res->tpl > m->n)
        return;
    counters_t *c = &m->cnt[res->tpl];
    atomic_fetch_sub_explicit(&c->msgs, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&c->points, (uint64_t)res->npoints, memory_order_relaxed);
    size_t ns = 0;
    const mq_dec_err_t *e = mq_dec_batch_errors(b, &ns);
    size_t total = mq_dec_batch_nerrors(b);
    for (size_t i = 0; i < ns; i++)
        atomic_fetch_sub_explicit(&c->errors[e[i].code == CN_EPROTO   ? MQ_MAP_R_SYNTAX
                                             : e[i].code == CN_ELIMIT ? MQ_MAP_R_LIMIT
                                                                      : MQ_MAP_R_VALUE],
                                  1, memory_order_relaxed);
    if (total > ns)
        atomic_fetch_sub_explicit(&c->errors[res->reason], total - ns, memory_order_relaxed);
}

/* ------------------------------------------------------------ matching */

/* Level values of a match: [start, len) into the topic, per pattern level. */
typedef struct span {
    uint32_t off, len;
} span_t;

static bool match(const tpl_t *t, const char *topic, size_t tlen, span_t *sp)
{
    if (tlen && topic[0] == '$' && t->nlv && t->lv[0].kind != L_LIT)
        return false;
    size_t pos = 0;
    for (uint32_t i = 0; i < t->nlv; i++) {
        const lvl_t *l = &t->lv[i];
        if (l->kind == L_HASH)
            return true;
        if (pos > tlen) /* topic ran out of levels */
            return false;
        const char *e = memchr(topic + pos, '/', tlen - pos);
        size_t end = e ? (size_t)(e - topic) : tlen;
        size_t len = end - pos;
        if (l->kind == L_LIT && (len != l->len || memcmp(topic + pos, l->s, len) != 0))
            return false;
        sp[i].off = (uint32_t)pos;
        sp[i].len = (uint32_t)len;
        pos = end + 1; /* past the '/', or tlen + 1 at the end */
    }
    return pos == tlen + 1;
}

/* Appends a tag unless its key is already there. */
static void add_tag(eng_tag_t *tags, uint32_t *n, const char *k, const char *v)
{
    for (uint32_t i = 0; i < *n; i++)
        if (strcmp(tags[i].key, k) == 0)
            return;
    tags[*n].key = k;
    tags[*n].val = v;
    (*n)++;
}

static enum mq_map_reason reason_of(int code)
{
    return code == CN_EPROTO   ? MQ_MAP_R_SYNTAX
           : code == CN_ELIMIT ? MQ_MAP_R_LIMIT
                               : MQ_MAP_R_VALUE;
}

static bool looks_json(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')
            continue;
        return p[i] == '{' || p[i] == '[';
    }
    return false;
}

/* Counts this message's decode errors (those appended from index `from`). */
static void count_errors(mq_map_t *m, uint32_t ti, mq_dec_batch_t *b, size_t from,
                         mq_map_result_t *res)
{
    size_t total = mq_dec_batch_nerrors(b);
    if (total <= from)
        return;
    size_t ns = 0;
    const mq_dec_err_t *e = mq_dec_batch_errors(b, &ns);
    counters_t *c = &m->cnt[ti];
    res->nerrors = (uint32_t)(total - from);
    res->reason = from < ns ? reason_of(e[from].code) : MQ_MAP_R_VALUE;
    size_t counted = 0;
    for (size_t i = from; i < ns; i++, counted++)
        atomic_fetch_add_explicit(&c->errors[reason_of(e[i].code)], 1, memory_order_relaxed);
    if (total - from > counted) /* beyond the stored errors */
        atomic_fetch_add_explicit(&c->errors[res->reason], total - from - counted,
                                  memory_order_relaxed);
}

int mq_map_decode(mq_map_t *m, const char *topic, size_t tlen, const void *payload, size_t n,
                  int64_t now_ns, mq_map_registry_fn reg, void *reg_arg, mq_dec_batch_t *b,
                  mq_map_result_t *res)
{
    memset(res, 0, sizeof *res);
    res->tpl = -1;
    span_t sp[64];
    const tpl_t *t = NULL;
    uint32_t ti = 0;
    for (; ti < m->n; ti++) {
        if (m->t[ti].nlv <= CN_ARRAY_LEN(sp) && match(&m->t[ti], topic, tlen, sp)) {
            t = &m->t[ti];
            break;
        }
    }
    if ((t && !t->store) || n == 0) /* an empty payload (a retained-message clear) holds no data */
        return 0;
    if (!t && !(m->flags & MQ_MAP_STORE_UNMATCHED))
        return 0;
    res->tpl = (int32_t)ti;
    counters_t *c = &m->cnt[ti];
    atomic_fetch_add_explicit(&c->msgs, 1, memory_order_relaxed);

    /* Base tags: topic-bound, constant, registry (first key wins). */
    uint32_t cap = t ? t->nbound + t->nctags : 1;
    const eng_tag_t *rt = NULL;
    uint32_t nrt = 0;
    const char *device = NULL;
    const char *meas = t ? t->measurement : "mqtt";
    eng_tag_t *tags = NULL;
    uint32_t ntags = 0;
    if (t) {
        for (uint32_t i = 0; i < t->nlv; i++) {
            if (t->lv[i].kind != L_TAG && t->lv[i].kind != L_MEAS)
                continue;
            if (sp[i].len == 0) {
                atomic_fetch_add_explicit(&c->errors[MQ_MAP_R_TOPIC], 1, memory_order_relaxed);
                res->nerrors = 1;
                res->reason = MQ_MAP_R_TOPIC;
                res->status = CN_EPROTO;
                mq_dec_error(b, 1, sp[i].off + 1, CN_EPROTO, "empty topic level bound to a name");
                return 0;
            }
        }
        for (uint32_t i = 0; i < t->nlv; i++)
            if (t->lv[i].kind == L_TAG && strcmp(t->lv[i].s, "device_id") == 0)
                device = mq_dec_strdup(b, topic + sp[i].off, sp[i].len);
        if (reg && device)
            rt = reg(reg_arg, device, &nrt);
        cap += nrt;
        tags = (eng_tag_t *)(void *)mq_dec_alloc(b, (cap ? cap : 1) * sizeof *tags);
        for (uint32_t i = 0; i < t->nlv; i++) {
            const lvl_t *l = &t->lv[i];
            if (l->kind == L_MEAS)
                meas = mq_dec_strdup(b, topic + sp[i].off, sp[i].len);
            else if (l->kind == L_TAG)
                add_tag(tags, &ntags, l->s,
                        strcmp(l->s, "device_id") == 0
                            ? device
                            : mq_dec_strdup(b, topic + sp[i].off, sp[i].len));
        }
        for (uint32_t i = 0; i < t->nctags; i++)
            add_tag(tags, &ntags, t->ctags[i].key, t->ctags[i].val);
        for (uint32_t i = 0; i < nrt; i++)
            add_tag(tags, &ntags, mq_dec_strdup(b, rt[i].key, strlen(rt[i].key)),
                    mq_dec_strdup(b, rt[i].val, strlen(rt[i].val)));
    } else {
        tags = (eng_tag_t *)(void *)mq_dec_alloc(b, sizeof *tags);
        tags[0].key = "topic";
        tags[0].val = mq_dec_strdup(b, topic, tlen);
        ntags = 1;
    }

    size_t err_from = mq_dec_batch_nerrors(b);
    int fmt = t ? t->fmt : MQ_MAP_AUTO;
    if (fmt == MQ_MAP_AUTO)
        fmt = looks_json(payload, n) ? MQ_MAP_JSON : MQ_MAP_LP;
    int rc;
    if (fmt == MQ_MAP_BINARY) {
        rc = mq_dec_regmap(b, t->regmap, payload, n, meas, tags, ntags, now_ns);
    } else {
        mq_dec_opts_t o;
        mq_dec_opts_default(&o);
        o.measurement = meas;
        o.tags = tags;
        o.ntags = ntags;
        o.now_ns = now_ns;
        if (t && t->has_prec)
            o.prec = t->prec;
        else
            o.prec = fmt == MQ_MAP_LP ? MQ_DEC_NS : MQ_DEC_AUTO;
        rc = fmt == MQ_MAP_JSON ? mq_dec_json(b, &o, payload, n) : mq_dec_lp(b, &o, payload, n);
    }
    count_errors(m, ti, b, err_from, res);
    if (rc < 0) {
        res->status = rc;
        return 0;
    }
    res->npoints = rc;
    atomic_fetch_add_explicit(&c->points, (uint64_t)rc, memory_order_relaxed);
    return rc;
}
