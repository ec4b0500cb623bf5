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
