/* SPDX-License-Identifier: MIT */
/*
 * defs.c - the sinks file parser (format in sink.h above
 * mq_sink_defs_parse).  Lines are read through bounded length checks; the
 * fuzz target tests/fuzz/fuzz_sink_defs.c drives it with arbitrary bytes.
 */
#include "sink.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static char *own(mq_sink_defs_t *d, const char *p, size_t n)
{
    d->owned_ = cn_realloc(d->owned_, (d->nowned_ + 1) * sizeof *d->owned_);
    return d->owned_[d->nowned_++] = cn_strndup(p, n);
}

/* Appends s to a NULL-terminated list stored in the owned strings. */
static const char *const *list_add(mq_sink_defs_t *d, const char *const *list, char *s)
{
    size_t n = 0;
    while (list && list[n])
        n++;
    char **l = cn_calloc(n + 2, sizeof *l);
    for (size_t i = 0; i < n; i++)
        l[i] = (char *)list[i];
    l[n] = s;
    /* The old array stays owned (freed with the rest); lists are short. */
    d->owned_ = cn_realloc(d->owned_, (d->nowned_ + 1) * sizeof *d->owned_);
    d->owned_[d->nowned_++] = (char *)l;
    return (const char *const *)l;
}

static const char *trim(const char *p, const char *end, size_t *n)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    *n = (size_t)(end - p);
    return p;
}

static int dur(const char *v, int64_t *out)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v || x < 0 || x > 1e9)
        return CN_EINVAL;
    int64_t mul = !strcmp(end, "ms") ? 1000000LL
                  : !strcmp(end, "s") ? 1000000000LL
                  : !strcmp(end, "m") ? 60000000000LL
                  : !strcmp(end, "h") ? 3600000000000LL
                                      : 0;
    if (!mul)
        return CN_EINVAL;
    *out = (int64_t)(x * (double)mul);
    return *out > 0 ? 0 : CN_EINVAL;
}

static int u32(const char *v, uint32_t lo, uint32_t hi, uint32_t *out)
{
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (end == v || *end || x < lo || x > hi)
        return CN_EINVAL;
    *out = (uint32_t)x;
    return 0;
}

static int set_key(mq_sink_defs_t *d, mq_sink_def_t *s, const char *k, char *v)
{
    if (!strcmp(k, "type")) {
        if (!strcmp(v, "kafka"))
            s->type = MQ_SINK_KAFKA;
        else if (!strcmp(v, "webhook"))
            s->type = MQ_SINK_WEBHOOK;
        else
            return CN_EINVAL;
    } else if (!strcmp(k, "url")) {
        s->url = v;
    } else if (!strcmp(k, "method")) {
        if (strcmp(v, "POST") != 0 && strcmp(v, "PUT") != 0)
            return CN_EINVAL;
        s->method = v;
    } else if (!strcmp(k, "header")) {
        if (!strchr(v, ':'))
            return CN_EINVAL;
        s->headers = list_add(d, s->headers, v);
    } else if (!strcmp(k, "brokers")) {
        s->brokers = v;
    } else if (!strcmp(k, "topic")) {
        s->topic = v;
    } else if (!strcmp(k, "compression")) {
        static const char *const ok[] = {"none", "gzip", "snappy", "lz4", "zstd"};
        bool found = false;
        for (size_t i = 0; i < CN_ARRAY_LEN(ok); i++)
            found = found || !strcmp(v, ok[i]);
        if (!found)
            return CN_EINVAL;
        s->compression = v;
    } else if (!strncmp(k, "kafka.", 6) && k[6]) {
        size_t kl = strlen(k + 6), vl = strlen(v);
        char *kv = own(d, "", 0);
        kv = cn_realloc(kv, kl + vl + 2);
        d->owned_[d->nowned_ - 1] = kv;
        snprintf(kv, kl + vl + 2, "%s=%s", k + 6, v);
        s->kafka_props = list_add(d, s->kafka_props, kv);
    } else if (!strcmp(k, "timeout")) {
        return dur(v, &s->timeout_ns);
    } else if (!strcmp(k, "backoff-min")) {
        return dur(v, &s->backoff_min_ns);
    } else if (!strcmp(k, "backoff-max")) {
        return dur(v, &s->backoff_max_ns);
    } else if (!strcmp(k, "max-inflight")) {
        return u32(v, 1, 1000000, &s->max_inflight);
    } else if (!strcmp(k, "threads")) {
        return u32(v, 1, 64, &s->threads);
    } else if (!strcmp(k, "max-attempts")) {
        return u32(v, 1, 1000000, &s->max_attempts);
    } else {
        return CN_ENOTFOUND;
    }
    return 0;
}

static int fail(char *err, size_t errlen, const char *name, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(char *err, size_t errlen, const char *name, int line, const char *fmt, ...)
{
    int n = snprintf(err, errlen, "%s:%d: ", name, line);
    if (n >= 0 && (size_t)n < errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return CN_ECONFIG;
}

static int check(const mq_sink_def_t *s, char *err, size_t errlen, const char *name, int line)
{
    if (s->type == MQ_SINK_WEBHOOK && !s->url)
        return fail(err, errlen, name, line, "sink '%s' (webhook) has no url", s->name);
    if (s->type == MQ_SINK_KAFKA && !s->brokers)
        return fail(err, errlen, name, line, "sink '%s' (kafka) has no brokers", s->name);
    return 0;
}

int mq_sink_defs_parse(const char *name, const char *text, size_t len, mq_sink_defs_t *out,
                       char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *p = text, *end = text + len;
    int line = 0, sect_line = 0, rc = 0;
    mq_sink_def_t *cur = NULL;
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        line++;
        size_t n;
        const char *l = trim(p, le, &n);
        p = nl ? nl + 1 : end;
        if (n == 0 || l[0] == '#')
            continue;
        if (memchr(l, 0, n)) {
            rc = fail(err, errlen, name, line, "NUL byte");
        } else if (l[0] == '[') {
            if (cur)
                rc = check(cur, err, errlen, name, sect_line);
            if (rc < 0)
                break;
            size_t nn;
            const char *nm = n > 6 && !strncmp(l, "[sink ", 6) && l[n - 1] == ']'
                                 ? trim(l + 6, l + n - 1, &nn)
                                 : NULL;
            if (!nm || nn == 0 || nn > 200 || memchr(nm, ' ', nn)) {
                rc = fail(err, errlen, name, line, "expected [sink NAME]");
                break;
            }
            for (size_t i = 0; i < out->n; i++)
                if (strlen(out->v[i].name) == nn && !memcmp(out->v[i].name, nm, nn))
                    rc = fail(err, errlen, name, line, "sink '%.*s' defined twice", (int)nn, nm);
            out->v = cn_realloc(out->v, (out->n + 1) * sizeof *out->v);
            cur = &out->v[out->n++];
            memset(cur, 0, sizeof *cur);
            cur->type = -1;
            cur->name = own(out, nm, nn);
            sect_line = line;
        } else {
            const char *eq = memchr(l, '=', n);
            if (!eq || !cur) {
                rc = fail(err, errlen, name, line,
                          cur ? "expected key = value" : "key outside a [sink NAME] section");
                break;
            }
            size_t kn, vn;
            const char *k = trim(l, eq, &kn);
            const char *v = trim(eq + 1, l + n, &vn);
            char *key = own(out, k, kn), *val = own(out, v, vn);
            int r = vn ? set_key(out, cur, key, val) : CN_EINVAL;
            if (r == CN_ENOTFOUND)
                rc = fail(err, errlen, name, line, "unknown key '%s'", key);
            else if (r < 0)
                rc = fail(err, errlen, name, line, "bad value '%s' for '%s'", val, key);
        }
    }
    for (size_t i = 0; i < out->n && rc == 0; i++)
        if (out->v[i].type < 0)
            rc = fail(err, errlen, name, sect_line, "sink '%s' has no type", out->v[i].name);
    if (rc == 0 && cur)
        rc = check(cur, err, errlen, name, sect_line);
    if (rc < 0)
        mq_sink_defs_free(out);
    return rc;
}

void mq_sink_defs_free(mq_sink_defs_t *d)
{
    for (size_t i = 0; i < d->nowned_; i++)
        cn_free(d->owned_[i]);
    cn_free(d->owned_);
    cn_free(d->v);
    memset(d, 0, sizeof *d);
}
