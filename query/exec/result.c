/* SPDX-License-Identifier: MIT */
/*
 * result.c - the result arena and builder, value comparison, the regex
 * helper, and constant time expressions.
 */
#include "exec_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ the arena */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} chunk_t;

struct qry__rarena {
    chunk_t *head;
};

qry__rarena_t *qry__rarena_new(void)
{
    return cn_calloc(1, sizeof(qry__rarena_t));
}

void qry__rarena_free(qry__rarena_t *a)
{
    if (!a)
        return;
    for (chunk_t *c = a->head, *n; c; c = n) {
        n = c->next;
        cn_free(c);
    }
    cn_free(a);
}

void *qry__ralloc(qry__rarena_t *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    chunk_t *c = a->head;
    if (!c || c->cap - c->used < n) {
        /* chunks grow 2 KiB, 8 KiB, 32 KiB, then 64 KiB: a small query's
         * arenas stay in the allocator's small size classes (a 64 KiB
         * first chunk went through jemalloc's large-extent path, three
         * times per query: 2 % of a one-series query's profile) */
        size_t step = !c ? 2048 - sizeof *c : c->cap < 16384 ? c->cap * 4 : 65536;
        if (step > 65536)
            step = 65536;
        size_t cap = n > step ? n : step;
        chunk_t *nc = cn_malloc(sizeof *nc + cap);
        nc->used = 0;
        nc->cap = cap;
        if (c && n > 65536) { /* big: keep the current chunk in front */
            nc->next = c->next;
            c->next = nc;
            nc->used = n;
            memset(nc->data, 0, n);
            return nc->data;
        }
        nc->next = c;
        a->head = c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *qry__rstrndup(qry__rarena_t *a, const char *s, size_t n)
{
    char *p = qry__ralloc(a, n + 1);
    if (n)
        memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *qry__rstrdup(qry__rarena_t *a, const char *s)
{
    return qry__rstrndup(a, s, strlen(s));
}

void qry__rarena_join(qry__rarena_t *dst, qry__rarena_t *src)
{
    if (!src)
        return;
    chunk_t *c = src->head;
    if (c) {
        chunk_t *t = c;
        while (t->next)
            t = t->next;
        t->next = dst->head ? dst->head->next : NULL;
        if (dst->head)
            dst->head->next = c;
        else
            dst->head = c;
    }
    src->head = NULL;
    cn_free(src);
}

/* ------------------------------------------------------- result builder */

void qry_result_free(qry_result_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nseries; i++)
        cn_free(r->series[i].vals);
    cn_free(r->series);
    cn_free(r->err);
    cn_free(r->msg);
    qry__tz_free(r->tz);
    qry__rarena_free(r->arena);
    cn_free(r);
}

void qry__rb_init(qry__rb_t *b)
{
    b->r = cn_calloc(1, sizeof *b->r);
    b->r->arena = qry__rarena_new();
    b->cap = 0;
}

qry_series_t *qry__rb_series(qry__rb_t *b, const char *name, const char *const *cols, size_t ncols)
{
    qry_result_t *r = b->r;
    if (r->nseries == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 8;
        r->series = cn_realloc(r->series, b->cap * sizeof *r->series);
    }
    qry_series_t *s = &r->series[r->nseries++];
    memset(s, 0, sizeof *s);
    s->name = name ? qry__rstrdup(r->arena, name) : NULL;
    s->cols = qry__ralloc(r->arena, (ncols + 1) * sizeof(char *));
    for (size_t i = 0; i < ncols; i++)
        s->cols[i] = qry__rstrdup(r->arena, cols[i]);
    s->ncols = ncols;
    return s;
}

void qry__rb_row(qry__rb_t *b, qry_series_t *s, const qry_val_t *row)
{
    size_t n = s->nrows;
    if (n == 0 || (n >= 16 && (n & (n - 1)) == 0)) /* 16, 32, 64 ... rows */
        s->vals = cn_realloc(s->vals, (n ? 2 * n : 16) * s->ncols * sizeof(qry_val_t));
    qry_val_t *d = s->vals + n * s->ncols;
    for (size_t i = 0; i < s->ncols; i++) {
        d[i] = row[i];
        if (row[i].t == QRY_STR)
            d[i].u.s.p = qry__rstrndup(b->r->arena, row[i].u.s.p, row[i].u.s.len);
    }
    s->nrows++;
}

void qry__rb_err(qry__rb_t *b, const char *fmt, ...)
{
    qry_result_t *r = b->r;
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    cn_free(r->err);
    r->err = cn_strdup(tmp);
    for (size_t i = 0; i < r->nseries; i++)
        cn_free(r->series[i].vals);
    r->nseries = 0;
}

/* ----------------------------------------------------------- comparison */

static int rank(uint8_t t)
{
    switch (t) {
    case QRY_NULL: return 0;
    case QRY_BOOL: return 1;
    case QRY_FLOAT:
    case QRY_INT:
    case QRY_TIME: return 2;
    default: return 3;
    }
}

int qry__vcmp(const qry_val_t *a, const qry_val_t *b)
{
    int ra = rank(a->t), rb = rank(b->t);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    switch (ra) {
    case 0: return 0;
    case 1: return (int)a->u.b - (int)b->u.b;
    case 2:
        if (a->t != QRY_FLOAT && b->t != QRY_FLOAT)
            return a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
        else {
            double x = a->t == QRY_FLOAT ? a->u.f : (double)a->u.i;
            double y = b->t == QRY_FLOAT ? b->u.f : (double)b->u.i;
            return x < y ? -1 : x > y;
        }
    default: {
        uint32_t n = CN_MIN(a->u.s.len, b->u.s.len);
        int c = n ? memcmp(a->u.s.p, b->u.s.p, n) : 0;
        if (c)
            return c;
        return a->u.s.len < b->u.s.len ? -1 : a->u.s.len > b->u.s.len;
    }
    }
}

/* ---------------------------------------------------------------- regex */

/* A Go bracket expression at p ("[...]") as POSIX, into out; returns the
 * text after its ']', or NULL when it has none (then nothing is written).
 * POSIX brackets have no escapes: an escaped ']' goes first, '-' last and
 * '^' after another member; \d \w \s become their POSIX classes. */
static const char *posix_class(const char *p, cn_buf_t *out)
{
    cn_buf_t body;
    cn_buf_init(&body);
    p++; /* '[' */
    bool neg = *p == '^';
    if (neg)
        p++;
    bool rb = false, dash = false, caret = false;
    if (*p == ']') { /* a leading ']' is a member */
        rb = true;
        p++;
    }
    for (; *p && *p != ']'; p++) {
        if (*p == '[' && p[1] == ':') { /* [:alpha:] */
            const char *q = strstr(p + 2, ":]");
            if (q) {
                cn_buf_put(&body, p, (size_t)(q + 2 - p));
                p = q + 1;
                continue;
            }
        }
        if (*p != '\\' || !p[1]) {
            cn_buf_put_u8(&body, (uint8_t)*p);
            continue;
        }
        p++;
        switch (*p) {
        case 'd':
            cn_buf_put(&body, "0-9", 3);
            break;
        case 'w':
            cn_buf_put(&body, "[:alnum:]_", 10);
            break;
        case 's':
            cn_buf_put(&body, "[:space:]", 9);
            break;
        case ']':
            rb = true;
            break;
        case '-':
            dash = true;
            break;
        case '^':
            caret = true;
            break;
        default:
            cn_buf_put_u8(&body, (uint8_t)*p);
            break;
        }
    }
    if (*p != ']') {
        cn_buf_free(&body);
        return NULL;
    }
    if (!neg && !rb && !dash && body.len == 0 && caret) {
        cn_buf_put(out, "\\^", 2); /* [\^] alone */
    } else {
        cn_buf_put_u8(out, '[');
        if (neg)
            cn_buf_put_u8(out, '^');
        if (rb)
            cn_buf_put_u8(out, ']');
        if (body.len)
            cn_buf_put(out, body.p, body.len);
        if (caret)
            cn_buf_put_u8(out, '^');
        if (dash)
            cn_buf_put_u8(out, '-');
        cn_buf_put_u8(out, ']');
    }
    cn_buf_free(&body);
    return p + 1;
}

void qry__regex_posix(const char *pat, cn_buf_t *out)
{
    cn_buf_reset(out);
    for (const char *p = pat; *p;) {
        if (*p == '\\' && p[1]) {
            const char *rep = NULL;
            switch (p[1]) {
            case 'd':
                rep = "[0-9]";
                break;
            case 'D':
                rep = "[^0-9]";
                break;
            case 'w':
                rep = "[[:alnum:]_]";
                break;
            case 'W':
                rep = "[^[:alnum:]_]";
                break;
            case 's':
                rep = "[[:space:]]";
                break;
            case 'S':
                rep = "[^[:space:]]";
                break;
            default: break;
            }
            if (rep)
                cn_buf_put(out, rep, strlen(rep));
            else
                cn_buf_put(out, p, 2);
            p += 2;
            continue;
        }
        if (*p == '[') {
            const char *q = posix_class(p, out);
            if (q) {
                p = q;
                continue;
            }
        }
        cn_buf_put_u8(out, (uint8_t)*p++);
    }
    cn_buf_put_u8(out, 0);
    out->len--;
}

int qry__regcomp(regex_t *re, const char *pat)
{
    cn_buf_t b;
    cn_buf_init(&b);
    qry__regex_posix(pat, &b);
    const char *posix = b.p ? (const char *)b.p : "";
    if (qry_regex_refused(posix)) {
        cn_buf_free(&b);
        return CN_EINVAL;
    }
    int rc = regcomp(re, posix, REG_EXTENDED | REG_NOSUB);
    cn_buf_free(&b);
    return rc ? CN_EINVAL : 0;
}

/* ------------------------------------------------------- constant times */

int qry__const_time(const qry_expr_t *e, int64_t now, int64_t *ns)
{
    switch (e->kind) {
    case QRY_EXPR_TIME:
    case QRY_EXPR_INTEGER:
    case QRY_EXPR_DURATION: *ns = e->u.i; return 0;
    case QRY_EXPR_NUMBER:
        /* beyond int64: the end of time on that side (a conversion would
         * be undefined) */
        if (isnan(e->u.f))
            return CN_EINVAL;
        *ns = e->u.f >= 0x1p63 ? INT64_MAX : e->u.f <= -0x1p63 ? INT64_MIN : (int64_t)e->u.f;
        return 0;
    case QRY_EXPR_STRING: return qry_parse_time(e->u.s, strlen(e->u.s), ns);
    case QRY_EXPR_CALL:
        if (strcmp(e->u.call.name, "now") == 0 && e->u.call.nargs == 0) {
            *ns = now;
            return 0;
        }
        return CN_EINVAL;
    case QRY_EXPR_UNARY: {
        int64_t v;
        if (qry__const_time(e->u.unary.operand, now, &v) < 0)
            return CN_EINVAL;
        *ns = v == INT64_MIN ? INT64_MAX : -v;
        return 0;
    }
    case QRY_EXPR_BINARY: {
        int64_t a, b;
        if (qry__const_time(e->u.bin.lhs, now, &a) < 0 ||
            qry__const_time(e->u.bin.rhs, now, &b) < 0)
            return CN_EINVAL;
        if (e->u.bin.op == QRY_OP_ADD)
            return __builtin_add_overflow(a, b, ns) ? CN_EINVAL : 0;
        if (e->u.bin.op == QRY_OP_SUB)
            return __builtin_sub_overflow(a, b, ns) ? CN_EINVAL : 0;
        return CN_EINVAL;
    }
    default: return CN_EINVAL;
    }
}
