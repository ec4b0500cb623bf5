/* SPDX-License-Identifier: MIT */
/*
 * fuzz_lp.c - libFuzzer target for the line protocol decoder
 * (ingest/decode/lp.c).  Any input is decoded; every point it yields must be
 * well-formed (mq_dec_point_valid(), and floats finite) and every error
 * must carry a line, column and reason.  The points are then written back as line protocol
 * with mq_dec_lp_format() and decoded again - unless a name holds a
 * backslash before ' ', ',' or '=', which line protocol cannot carry back
 * (lp.c NOTES 3) -: the second decode must be error-free and yield the
 * same points.  A broken property aborts.
 */
#include "decode/decode.h"

#include <math.h>
#include <stdlib.h>

static void check(bool ok)
{
    if (!ok)
        abort();
}

/* The decoder's promises, plus finite floats (text never yields Inf/NaN). */
static void check_point(const eng_point_t *p)
{
    check(mq_dec_point_valid(p));
    for (uint32_t i = 0; i < p->nfields; i++)
        check(p->fields[i].type != ENG_T_FLOAT || isfinite(p->fields[i].v.f));
}

static bool same_value(const eng_field_t *x, const eng_field_t *y)
{
    if (x->type != y->type)
        return false;
    switch (x->type) {
    case ENG_T_STRING:
        return x->v.s.len == y->v.s.len && memcmp(x->v.s.p, y->v.s.p, x->v.s.len) == 0;
    case ENG_T_BOOL:
        return x->v.b == y->v.b;
    default:
        return memcmp(&x->v, &y->v, 8) == 0; /* floats bit for bit */
    }
}

static void check_same(const eng_point_t *a, const eng_point_t *b)
{
    check(strcmp(a->measurement, b->measurement) == 0);
    check(a->ts == b->ts && a->ntags == b->ntags && a->nfields == b->nfields);
    for (uint32_t i = 0; i < a->ntags; i++) {
        check(strcmp(a->tags[i].key, b->tags[i].key) == 0);
        check(strcmp(a->tags[i].val, b->tags[i].val) == 0);
    }
    for (uint32_t i = 0; i < a->nfields; i++) {
        check(strcmp(a->fields[i].name, b->fields[i].name) == 0);
        check(same_value(&a->fields[i], &b->fields[i]));
    }
}

/* Whether line protocol can carry name s back: not when a backslash
 * precedes ' ', ',' or '=' in it (lp.c NOTES 3). */
static bool writable(const char *s)
{
    for (; *s; s++)
        if (s[0] == '\\' && (s[1] == ' ' || s[1] == ',' || s[1] == '='))
            return false;
    return true;
}

static bool point_writable(const eng_point_t *p)
{
    if (!writable(p->measurement))
        return false;
    for (uint32_t i = 0; i < p->ntags; i++)
        if (!writable(p->tags[i].key) || !writable(p->tags[i].val))
            return false;
    for (uint32_t i = 0; i < p->nfields; i++)
        if (!writable(p->fields[i].name))
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mq_dec_opts_t o;
    mq_dec_opts_default(&o);
    o.now_ns = INT64_C(1767225600000000000);
    mq_dec_batch_t *b, *b2;
    mq_dec_batch_new(&b);
    mq_dec_batch_new(&b2);

    int rc = mq_dec_lp(b, &o, data, size);
    check(rc >= 0);
    size_t n, ne;
    const eng_point_t *pts = mq_dec_batch_points(b, &n);
    check(n == (size_t)rc);
    const mq_dec_err_t *errs = mq_dec_batch_errors(b, &ne);
    for (size_t i = 0; i < ne; i++)
        check(errs[i].line >= 1 && errs[i].col >= 1 && errs[i].reason && errs[i].code < 0);
    bool writable_all = true;
    for (size_t i = 0; i < n; i++) {
        check_point(&pts[i]);
        writable_all = writable_all && point_writable(&pts[i]);
    }
    if (!writable_all) {
        mq_dec_batch_free(b2);
        mq_dec_batch_free(b);
        return 0;
    }

    cn_buf_t out;
    cn_buf_init(&out);
    mq_dec_lp_format(&out, pts, n);
    int rc2 = mq_dec_lp(b2, &o, out.p, out.len);
    check(rc2 == rc && mq_dec_batch_nerrors(b2) == 0);
    size_t n2;
    const eng_point_t *pts2 = mq_dec_batch_points(b2, &n2);
    for (size_t i = 0; i < n; i++)
        check_same(&pts[i], &pts2[i]);

    cn_buf_free(&out);
    mq_dec_batch_free(b2);
    mq_dec_batch_free(b);
    return 0;
}
