/* SPDX-License-Identifier: MIT */
/*
 * points.c - the point batch every payload decoder fills, and the helpers
 * the decoders share (exact decimal conversion, UTF-8 validation, time
 * units, error text).
 *
 * A batch owns three growable arrays (points, fields, tags) and a string
 * arena made of chunks that never move, so a const char * handed out stays
 * valid while later strings are added.  While a point is being built its
 * fields and tags are addressed by offset, because the arrays may still be
 * reallocated; mq_dec_batch_points() turns the offsets into pointers.
 * mq_dec_batch_reset() rewinds everything and keeps the memory: a thread
 * that reuses one batch allocates nothing once it has seen its largest
 * message.
 *
 * NOTES
 * 1. pt_toff[i] == EXT_TAGS means pts[i].tags was set by the caller
 *    (mq_dec_point_ext_tags) and is not fixed up.
 * 2. The open point, if any, is pts[npts]; npts counts closed points only.
 * 3. Arena allocation happens in chunks[cur] at offset used; chunks after
 *    cur are free and reused in order before a new chunk is allocated.
 */
#include "decode/decode.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define CHUNK     (64 * 1024)
#define BIG_CHUNK (4 * CHUNK) /* larger chunks are freed on reset */
#define EXT_TAGS  UINT32_MAX

typedef struct chunk {
    char *p;
    size_t cap;
} chunk_t;

struct mq_dec_batch {
    chunk_t *chunks;
    size_t nchunks, cur, used;

    eng_point_t *pts;
    uint32_t *pt_foff, *pt_toff;
    size_t npts, pcap;
    bool open;
    uint64_t fbloom; /* open point: one bit per field name hash */

    eng_field_t *fields;
    uint32_t *flen; /* strlen of each field name, for the duplicate check */
    size_t nfields, fcap;

    eng_tag_t *tags;
    size_t ntags, tcap;

    mq_dec_err_t errs[MQ_DEC_MAX_ERRS];
    size_t nerrs;

    cn_buf_t scratch;
};

/* --------------------------------------------------------------- options */

void mq_dec_opts_default(mq_dec_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->prec = MQ_DEC_NS;
    o->ts_keys[0] = "ts";
    o->ts_keys[1] = "time";
    o->ts_keys[2] = "timestamp";
    o->json_nums = MQ_DEC_JSON_INT;
    o->max_depth = 32;
    o->max_str = 64 * 1024;
    o->max_bytes = (size_t)64 << 20;
    o->iotdb_tag = "device_id";
}

int mq_dec_prec_parse(const char *s, mq_dec_prec_t *out)
{
    static const struct {
        const char *name;
        mq_dec_prec_t p;
    } names[] = {
        {"ns", MQ_DEC_NS}, {"n", MQ_DEC_NS},  {"u", MQ_DEC_US},      {"us", MQ_DEC_US},
        {"µs", MQ_DEC_US}, {"ms", MQ_DEC_MS}, {"s", MQ_DEC_S},       {"m", MQ_DEC_M},
        {"h", MQ_DEC_H},   {"", MQ_DEC_NS},   {"auto", MQ_DEC_AUTO},
    };
    for (size_t i = 0; s && i < CN_ARRAY_LEN(names); i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].p;
            return 0;
        }
    }
    return CN_EINVAL;
}

int64_t mq_dec__prec_ns(mq_dec_prec_t p)
{
    switch (p) {
    case MQ_DEC_US:
        return 1000;
    case MQ_DEC_MS:
        return 1000000;
    case MQ_DEC_S:
        return 1000000000;
    case MQ_DEC_M:
        return INT64_C(60000000000);
    case MQ_DEC_H:
        return INT64_C(3600000000000);
    default:
        return 1;
    }
}

int mq_dec_err_format(const mq_dec_err_t *e, char *buf, size_t n)
{
    return snprintf(buf, n, "line %u col %u: %s", e->line, e->col, e->reason);
}

/* ---------------------------------------------------------------- batch */

int mq_dec_batch_new(mq_dec_batch_t **out)
{
    mq_dec_batch_t *b = cn_calloc(1, sizeof *b);
    cn_buf_init(&b->scratch);
    *out = b;
    return 0;
}

void mq_dec_batch_free(mq_dec_batch_t *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nchunks; i++)
        cn_free(b->chunks[i].p);
    cn_free(b->chunks);
    cn_free(b->pts);
    cn_free(b->pt_foff);
    cn_free(b->pt_toff);
    cn_free(b->fields);
    cn_free(b->flen);
    cn_free(b->tags);
    cn_buf_free(&b->scratch);
    cn_free(b);
}

void mq_dec_batch_reset(mq_dec_batch_t *b)
{
    /* Keep the ordinary chunks, drop the ones a huge string forced. */
    size_t keep = 0;
    for (size_t i = 0; i < b->nchunks; i++) {
        if (b->chunks[i].cap > BIG_CHUNK)
            cn_free(b->chunks[i].p);
        else
            b->chunks[keep++] = b->chunks[i];
    }
    b->nchunks = keep;
    b->cur = b->used = 0;
    b->npts = b->nfields = b->ntags = b->nerrs = 0;
    b->open = false;
}

const eng_point_t *mq_dec_batch_points(mq_dec_batch_t *b, size_t *n)
{
    assert(!b->open);
    for (size_t i = 0; i < b->npts; i++) {
        b->pts[i].fields = b->fields + b->pt_foff[i];
        if (b->pt_toff[i] != EXT_TAGS)
            b->pts[i].tags = b->ntags ? b->tags + b->pt_toff[i] : NULL;
    }
    *n = b->npts;
    return b->pts;
}

const uint32_t *mq_dec_batch_name_lens(const mq_dec_batch_t *b, const eng_field_t **base)
{
    *base = b->fields;
    return b->flen;
}

size_t mq_dec_batch_npoints(const mq_dec_batch_t *b)
{
    return b->npts;
}

const mq_dec_err_t *mq_dec_batch_errors(const mq_dec_batch_t *b, size_t *n)
{
    *n = CN_MIN(b->nerrs, (size_t)MQ_DEC_MAX_ERRS);
    return b->errs;
}

size_t mq_dec_batch_nerrors(const mq_dec_batch_t *b)
{
    return b->nerrs;
}

void mq_dec_error(mq_dec_batch_t *b, uint32_t line, uint32_t col, int code, const char *reason)
{
    if (b->nerrs < MQ_DEC_MAX_ERRS) {
        mq_dec_err_t *e = &b->errs[b->nerrs];
        e->line = line;
        e->col = col;
        e->code = code;
        e->reason = reason;
    }
    b->nerrs++;
}

cn_buf_t *mq_dec_scratch(mq_dec_batch_t *b)
{
    return &b->scratch;
}

static bool name_ok(const char *s)
{
    return s != NULL && s[0] != '\0' && mq_dec__utf8_ok((const uint8_t *)s, strlen(s));
}

bool mq_dec_point_valid(const eng_point_t *p)
{
    if (!name_ok(p->measurement) || (p->ntags && !p->tags) || p->nfields < 1 ||
        p->nfields > ENG_MAX_FIELDS || !p->fields)
        return false;
    for (uint32_t i = 0; i < p->ntags; i++)
        if (!name_ok(p->tags[i].key) || !name_ok(p->tags[i].val))
            return false;
    for (uint32_t i = 0; i < p->nfields; i++) {
        const eng_field_t *f = &p->fields[i];
        if (!name_ok(f->name))
            return false;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(f->name, p->fields[j].name) == 0)
                return false;
        bool ok =
            f->type == ENG_T_FLOAT || f->type == ENG_T_INT ||
            (f->type == ENG_T_BOOL && f->v.b <= 1) ||
            (f->type == ENG_T_STRING && mq_dec__utf8_ok((const uint8_t *)f->v.s.p, f->v.s.len));
        if (!ok)
            return false;
    }
    return true;
}

/* ---------------------------------------------------------------- arena */

static char *arena_take(mq_dec_batch_t *b, size_t n, size_t align)
{
    if (b->cur < b->nchunks) {
        size_t at = (b->used + align - 1) & ~(align - 1);
        if (at + n <= b->chunks[b->cur].cap) {
            b->used = at + n;
            return b->chunks[b->cur].p + at;
        }
    }
    /* Next free chunk big enough (NOTES 3), else a new one at the end. */
    size_t i = b->cur < b->nchunks ? b->cur + 1 : b->nchunks;
    while (i < b->nchunks && b->chunks[i].cap < n)
        i++;
    if (i == b->nchunks) {
        b->chunks = cn_realloc(b->chunks, (b->nchunks + 1) * sizeof *b->chunks);
        size_t cap = CN_MAX((size_t)CHUNK, n);
        b->chunks[i].p = cn_malloc(cap);
        b->chunks[i].cap = cap;
        b->nchunks++;
    }
    b->cur = i;
    b->used = n;
    return b->chunks[i].p;
}

char *mq_dec_alloc(mq_dec_batch_t *b, size_t n)
{
    return arena_take(b, n, 8);
}

char *mq_dec_strdup(mq_dec_batch_t *b, const void *p, size_t n)
{
    char *s = arena_take(b, n + 1, 1);
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* ---------------------------------------------------------------- points */

#define GROW(arr, cap, need)                                                                       \
    do {                                                                                           \
        if ((need) > (cap)) {                                                                      \
            size_t nc_ = (cap) ? (cap)*2 : 64;                                                     \
            while (nc_ < (need))                                                                   \
                nc_ *= 2;                                                                          \
            (arr) = cn_realloc((arr), nc_ * sizeof *(arr));                                        \
            (cap) = nc_;                                                                           \
        }                                                                                          \
    } while (0)

void mq_dec_point_begin(mq_dec_batch_t *b, const char *meas, int64_t ts)
{
    assert(!b->open);
    if (b->npts + 1 > b->pcap) {
        size_t cap = b->pcap;
        GROW(b->pts, cap, b->npts + 1);
        b->pt_foff = cn_realloc(b->pt_foff, cap * sizeof *b->pt_foff);
        b->pt_toff = cn_realloc(b->pt_toff, cap * sizeof *b->pt_toff);
        b->pcap = cap;
    }
    eng_point_t *pt = &b->pts[b->npts];
    pt->measurement = meas;
    pt->tags = NULL;
    pt->ntags = 0;
    pt->ts = ts;
    pt->fields = NULL;
    pt->nfields = 0;
    b->pt_foff[b->npts] = (uint32_t)b->nfields;
    b->pt_toff[b->npts] = (uint32_t)b->ntags;
    b->fbloom = 0;
    b->open = true;
}

void mq_dec_point_set_ts(mq_dec_batch_t *b, int64_t ts)
{
    assert(b->open);
    b->pts[b->npts].ts = ts;
}

void mq_dec_point_ext_tags(mq_dec_batch_t *b, const eng_tag_t *tags, uint32_t n)
{
    assert(b->open);
    b->pts[b->npts].tags = tags;
    b->pts[b->npts].ntags = n;
    b->pt_toff[b->npts] = EXT_TAGS;
}

void mq_dec_point_tag(mq_dec_batch_t *b, const char *key, const char *val, bool replace)
{
    assert(b->open && b->pt_toff[b->npts] != EXT_TAGS);
    eng_point_t *pt = &b->pts[b->npts];
    /* No tags yet means no tag array yet either (NULL + 0 is UB in C). */
    eng_tag_t *t = pt->ntags ? b->tags + b->pt_toff[b->npts] : NULL;
    for (uint32_t i = 0; i < pt->ntags; i++) {
        if (strcmp(t[i].key, key) == 0) {
            if (replace)
                t[i].val = val;
            return;
        }
    }
    GROW(b->tags, b->tcap, b->ntags + 1);
    b->tags[b->ntags].key = key;
    b->tags[b->ntags].val = val;
    b->ntags++;
    pt->ntags++;
}

int mq_dec_point_field(mq_dec_batch_t *b, const char *name, size_t nlen, eng_type_t t,
                       eng_value_t v)
{
    assert(b->open);
    eng_point_t *pt = &b->pts[b->npts];
    /* Repeated keys are rare: a 64-bit filter on (length, first and last
     * byte) skips the search for almost every new name. */
    unsigned h = (unsigned)(nlen * 7 + (uint8_t)name[0] + 3u * (uint8_t)name[nlen ? nlen - 1 : 0]);
    uint64_t bit = UINT64_C(1) << (h & 63);
    if (b->fbloom & bit) {
        for (size_t i = b->pt_foff[b->npts]; i < b->nfields; i++) {
            if (b->flen[i] == nlen && memcmp(b->fields[i].name, name, nlen) == 0) {
                b->fields[i].type = t; /* a repeated key: the last one wins */
                b->fields[i].v = v;
                return 0;
            }
        }
    }
    if (pt->nfields >= ENG_MAX_FIELDS)
        return CN_ELIMIT;
    if (b->nfields + 1 > b->fcap) {
        size_t cap = b->fcap;
        GROW(b->fields, cap, b->nfields + 1);
        b->flen = cn_realloc(b->flen, cap * sizeof *b->flen);
        b->fcap = cap;
    }
    b->fbloom |= bit;
    b->fields[b->nfields].name = name;
    b->fields[b->nfields].type = t;
    b->fields[b->nfields].v = v;
    b->flen[b->nfields] = (uint32_t)nlen;
    assert(strlen(name) == nlen); /* decoders refuse NUL in names */
    b->nfields++;
    pt->nfields++;
    return 0;
}

uint32_t mq_dec_point_nfields(const mq_dec_batch_t *b)
{
    assert(b->open);
    return b->pts[b->npts].nfields;
}

int mq_dec_point_end(mq_dec_batch_t *b)
{
    assert(b->open);
    b->open = false;
    if (b->pts[b->npts].nfields == 0) {
        /* Tags the point added go too; its strings stay until reset. */
        if (b->pt_toff[b->npts] != EXT_TAGS)
            b->ntags = b->pt_toff[b->npts];
        return 0;
    }
    b->npts++;
    return 1;
}

mq_dec_mark_t mq_dec_mark(const mq_dec_batch_t *b)
{
    assert(!b->open);
    mq_dec_mark_t m = {b->npts, b->nfields, b->ntags, b->cur, b->used};
    return m;
}

void mq_dec_rollback(mq_dec_batch_t *b, mq_dec_mark_t m)
{
    b->open = false;
    b->npts = m.npts;
    b->nfields = m.nfields;
    b->ntags = m.ntags;
    b->cur = m.chunk;
    b->used = m.used;
}

/* --------------------------------------------------------------- numbers */

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

int mq_dec__to_double(uint64_t mant, int32_t exp10, bool neg, bool inexact, const char *text,
                      size_t len, double *out)
{
    double d;
    if (mant == 0 && !inexact) {
        d = 0.0;
    } else if (!inexact && mant <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
        /* Clinger: both operands are exact doubles, so one IEEE operation
         * rounds correctly (x86-64 evaluates doubles in SSE registers). */
        d = (double)mant;
        d = exp10 < 0 ? d / POW10[-exp10] : d * POW10[exp10];
    } else {
        char stack[128];
        char *s = len < sizeof stack ? stack : cn_malloc(len + 1);
        memcpy(s, text, len);
        s[len] = '\0';
        d = strtod(s, NULL);
        if (s != stack)
            cn_free(s);
        d = fabs(d); /* the sign is applied below, text may carry it */
    }
    if (isinf(d))
        return CN_EINVAL;
    *out = neg ? -d : d;
    return 0;
}

bool mq_dec__utf8_ok(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* Eight ASCII bytes at a time: the common case. */
        while (i + 8 <= n && (cn_ld64(p + i) & UINT64_C(0x8080808080808080)) == 0)
            i += 8;
        if (i >= n)
            break;
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0; /* no overlongs */
            else if (c == 0xED)
                hi = 0x9F; /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F; /* <= U+10FFFF */
        } else {
            return false;
        }
        if (n - i <= need)
            return false;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
        i += need + 1;
    }
    return true;
}
