/* SPDX-License-Identifier: MIT */
/*
 * regmap.c - binary register-map decoder: a textual map (syntax in
 * decode.h) names the fields of a fixed-layout frame, such as a Modbus
 * holding-register dump relayed by a gateway, and each frame becomes one
 * point with named, scaled fields.
 *
 * The parser works line by line with a cursor bounded by the line's end and
 * stops at the first error, which it reports with line, column and a fixed
 * reason.  It compiles every field into a byte offset, a width and a
 * layout (byte swap inside 16-bit words, word order), so decoding a frame
 * is a bounds check, a permutation of at most 8 bytes and a conversion.
 *
 * NOTES
 * 1. A compiled field's bytes are off .. off + size - 1 with size in
 *    {1, 2, 4, 8}; off + size <= 2 * 65536 + 8, so no sum overflows.
 * 2. Bytes are reordered into big-endian (most significant first) before
 *    they are assembled: for 16-bit words, `swap` exchanges the two bytes
 *    of every word and `lowfirst` reverses the order of the words.
 *    ABCD = {0,0}, CDAB = {0,1}, BADC = {1,0}, DCBA = {1,1}.
 * 3. Names are validated at parse time (non-empty UTF-8 without spaces or
 *    '=', '@', '#'), and unique, so the decoder adds them without checks.
 * 4. div != 0 only when scale is the double nearest 10^-k (k = 1..22); the
 *    decoder then divides by div = 10^k, which is exact for |raw| <= 2^53.
 */
#include "decode/decode.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum rm_type {
    RM_BIT,
    RM_U8,
    RM_I8,
    RM_U16,
    RM_I16,
    RM_U32,
    RM_I32,
    RM_U64,
    RM_I64,
    RM_F32,
    RM_F64
};

static const struct {
    const char *name;
    uint8_t size;
} TYPES[] = {
    [RM_BIT] = {"bit", 1}, [RM_U8] = {"u8", 1},   [RM_I8] = {"i8", 1},   [RM_U16] = {"u16", 2},
    [RM_I16] = {"i16", 2}, [RM_U32] = {"u32", 4}, [RM_I32] = {"i32", 4}, [RM_U64] = {"u64", 8},
    [RM_I64] = {"i64", 8}, [RM_F32] = {"f32", 4}, [RM_F64] = {"f64", 8},
};
#define NTYPES (sizeof TYPES / sizeof TYPES[0])

#define MAX_NAME   255
#define MAX_OFFSET 65535u

typedef struct rm_field {
    char *name; /* owned, NUL-terminated */
    uint32_t nlen;
    uint32_t line; /* in the map text, for decode errors */
    uint32_t off;  /* bytes */
    uint8_t type;  /* enum rm_type */
    uint8_t size;  /* bytes read: 1, 2, 4 or 8 (NOTES 1) */
    uint8_t bit;   /* RM_BIT: bit index within the size-byte word */
    bool swap, lowfirst;
    bool scaled; /* scale/offset not the identity: store float64 */
    double scale, offset, div;
} rm_field_t;

struct mq_regmap {
    rm_field_t *f;
    uint32_t n, cap;
    size_t frame_len;
};

/* Layout given by an order=/word= key; none = not given. */
typedef struct layout {
    bool set, swap, lowfirst;
} layout_t;

typedef struct rp {
    const char *s;  /* the whole text */
    const char *ls; /* start of the current line */
    const char *le; /* end of the current line ('\n' excluded) */
    const char *p;  /* cursor */
    uint32_t line;
    bool registers;         /* units=registers */
    layout_t dorder, dword; /* map defaults */
    mq_dec_err_t *err;
} rp_t;

/* ------------------------------------------------------------ tokens */

static int fail(rp_t *P, const char *at, int code, const char *reason)
{
    P->err->line = P->line;
    P->err->col = (uint32_t)(at - P->ls) + 1;
    P->err->code = code;
    P->err->reason = reason;
    return code;
}

static bool is_sep(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Next token [*ts, *te) of the line, or false at the end or a comment. */
static bool next_tok(rp_t *P, const char **ts, const char **te)
{
    while (P->p < P->le && is_sep(*P->p))
        P->p++;
    if (P->p == P->le || *P->p == '#')
        return false;
    *ts = P->p;
    while (P->p < P->le && !is_sep(*P->p) && *P->p != '#')
        P->p++;
    *te = P->p;
    return true;
}

static bool tok_is(const char *ts, const char *te, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(te - ts) == n && memcmp(ts, word, n) == 0;
}

static bool name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-' || c == '/' || c == ':' || c >= 0x80;
}

/* Unsigned decimal or 0x hex, at most `max`; *end is where it stopped. */
static bool parse_uint(const char *p, const char *e, uint32_t max, uint32_t *out, const char **end)
{
    uint32_t base = 10, v = 0;
    if (e - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    const char *start = p;
    for (; p < e; p++) {
        uint32_t d;
        if (*p >= '0' && *p <= '9')
            d = (uint32_t)(*p - '0');
        else if (base == 16 && (*p | 0x20) >= 'a' && (*p | 0x20) <= 'f')
            d = (uint32_t)((*p | 0x20) - 'a' + 10);
        else
            break;
        v = v * base + d;
        if (v > max)
            return false;
    }
    *out = v;
    *end = p;
    return p > start;
}

/* A finite decimal number: [+-]digits[.digits][e[+-]digits], read with
 * strtod (correctly rounded in glibc; LC_NUMERIC stays "C"). */
static bool parse_num(const char *p, const char *e, double *out)
{
    char buf[64];
    size_t n = (size_t)(e - p);
    if (n == 0 || n >= sizeof buf)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'))
            return false;
    }
    memcpy(buf, p, n);
    buf[n] = '\0';
    char *end = NULL;
    double v = strtod(buf, &end);
    if (end != buf + n || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* order=big|little or word=ABCD|CDAB|BADC|DCBA into *l. */
static bool parse_layout(bool word, const char *vs, const char *ve, layout_t *l)
{
    static const char *const WORDS[] = {"ABCD", "CDAB", "BADC", "DCBA"};
    l->set = true;
    if (!word) {
        l->swap = l->lowfirst = tok_is(vs, ve, "little");
        return l->swap || tok_is(vs, ve, "big");
    }
    for (int i = 0; i < 4; i++) {
        if (tok_is(vs, ve, WORDS[i])) {
            l->swap = (i & 2) != 0;
            l->lowfirst = (i & 1) != 0;
            return true;
        }
    }
    return false;
}

/* -------------------------------------------------------------- map */

/* A line of key=value map options. */
static int parse_opts_line(rp_t *P, const mq_regmap_t *m, const char *ts, const char *te)
{
    do {
        const char *eq = memchr(ts, '=', (size_t)(te - ts));
        if (!eq)
            return fail(P, ts, CN_EPROTO, "expected key=value");
        const char *vs = eq + 1;
        if (tok_is(ts, eq, "units")) {
            if (m->n)
                return fail(P, ts, CN_EPROTO, "units after the first field");
            P->registers = tok_is(vs, te, "registers");
            if (!P->registers && !tok_is(vs, te, "bytes"))
                return fail(P, vs, CN_EPROTO, "invalid units");
        } else if (tok_is(ts, eq, "order")) {
            if (!parse_layout(false, vs, te, &P->dorder))
                return fail(P, vs, CN_EPROTO, "invalid byte order");
        } else if (tok_is(ts, eq, "word")) {
            if (!parse_layout(true, vs, te, &P->dword))
                return fail(P, vs, CN_EPROTO, "invalid word order");
        } else {
            return fail(P, ts, CN_EPROTO, "unknown map option");
        }
    } while (next_tok(P, &ts, &te));
    return 0;
}

typedef struct fopts {
    layout_t order, word;
    bool has_scale, has_offset;
    double scale, offset;
    const char *order_at, *word_at, *scale_at; /* for errors */
} fopts_t;

/* The KEY=VALUE options after a field's offset. */
static int parse_field_opts(rp_t *P, fopts_t *o)
{
    const char *ts = NULL, *te = NULL;
    while (next_tok(P, &ts, &te)) {
        const char *eq = memchr(ts, '=', (size_t)(te - ts));
        if (!eq)
            return fail(P, ts, CN_EPROTO, "expected key=value");
        const char *vs = eq + 1;
        bool is_order = tok_is(ts, eq, "order"), is_word = tok_is(ts, eq, "word");
        bool is_scale = tok_is(ts, eq, "scale"), is_offset = tok_is(ts, eq, "offset");
        if ((is_order && o->order.set) || (is_word && o->word.set) || (is_scale && o->has_scale) ||
            (is_offset && o->has_offset))
            return fail(P, ts, CN_EPROTO, "duplicate option");
        if (is_order || is_word) {
            if (!parse_layout(is_word, vs, te, is_word ? &o->word : &o->order))
                return fail(P, vs, CN_EPROTO,
                            is_word ? "invalid word order" : "invalid byte order");
            *(is_word ? &o->word_at : &o->order_at) = ts;
        } else if (is_scale || is_offset) {
            if (!parse_num(vs, te, is_scale ? &o->scale : &o->offset))
                return fail(P, vs, CN_EPROTO, "invalid number");
            *(is_scale ? &o->has_scale : &o->has_offset) = true;
            if (!o->scale_at)
                o->scale_at = ts;
        } else {
            return fail(P, ts, CN_EPROTO, "unknown option");
        }
    }
    return 0;
}

/* Checks the options against the type and fills the field's layout and
 * scaling. */
static int apply_opts(rp_t *P, rm_field_t *f, const fopts_t *o)
{
    bool wide = f->size >= 4, byte_wide = f->size == 1;
    if (o->order.set && o->word.set)
        return fail(P, o->word_at, CN_EPROTO, "both order and word given");
    if (o->word.set && !wide)
        return fail(P, o->word_at, CN_EPROTO, "word order on a type narrower than 32 bits");
    if (o->order.set && byte_wide)
        return fail(P, o->order_at, CN_EPROTO, "byte order on an 8-bit field");
    if (f->type == RM_BIT && o->scale_at)
        return fail(P, o->scale_at, CN_EPROTO, "scale or offset on a bit field");
    layout_t l = {0};
    if (o->order.set || o->word.set)
        l = o->order.set ? o->order : o->word;
    else if (wide && P->dword.set)
        l = P->dword;
    else if (P->dorder.set)
        l = P->dorder;
    f->swap = !byte_wide && l.swap;
    f->lowfirst = wide && l.lowfirst;
    f->scale = o->has_scale ? o->scale : 1.0;
    f->offset = o->has_offset ? o->offset : 0.0;
    f->scaled = f->scale != 1.0 || f->offset != 0.0;
    f->div = 0.0;
    double p10 = 1.0;
    for (int k = 1; k <= 22 && f->scaled; k++) {
        p10 *= 10.0; /* exact up to 1e22 */
        if (f->scale == 1.0 / p10) {
            f->div = p10;
            break;
        }
    }
    return 0;
}

/* NAME TYPE @OFFSET[.BIT] options; the name token is [ts, te). */
static int parse_field(rp_t *P, mq_regmap_t *m, const char *ts, const char *te)
{
    size_t nlen = (size_t)(te - ts);
    for (const char *c = ts; c < te; c++)
        if (!name_char((unsigned char)*c))
            return fail(P, c, CN_EPROTO, "invalid character in field name");
    if (nlen > MAX_NAME)
        return fail(P, ts, CN_EPROTO, "field name too long");
    if (!mq_dec__utf8_ok((const uint8_t *)ts, nlen))
        return fail(P, ts, CN_EPROTO, "field name is not valid UTF-8");
    for (uint32_t i = 0; i < m->n; i++)
        if (m->f[i].nlen == nlen && memcmp(m->f[i].name, ts, nlen) == 0)
            return fail(P, ts, CN_EPROTO, "duplicate field name");
    if (m->n == ENG_MAX_FIELDS)
        return fail(P, ts, CN_ELIMIT, "too many fields");

    rm_field_t f = {.nlen = (uint32_t)nlen, .line = P->line};
    const char *ys = NULL, *ye = NULL;
    if (!next_tok(P, &ys, &ye))
        return fail(P, P->p, CN_EPROTO, "expected type");
    size_t t = 0;
    while (t < NTYPES && !tok_is(ys, ye, TYPES[t].name))
        t++;
    if (t == NTYPES)
        return fail(P, ys, CN_EPROTO, "unknown type");
    f.type = (uint8_t)t;
    f.size = TYPES[t].size;
    if (t == RM_BIT && P->registers)
        f.size = 2;

    const char *os = NULL, *oe = NULL, *end = NULL;
    if (!next_tok(P, &os, &oe) || *os != '@')
        return fail(P, os ? os : P->p, CN_EPROTO, "expected @offset");
    uint32_t off = 0, bit = 0;
    if (!parse_uint(os + 1, oe, MAX_OFFSET, &off, &end))
        return fail(P, os + 1, CN_EPROTO, "invalid offset");
    if (end < oe && *end == '.') {
        if (t != RM_BIT)
            return fail(P, end, CN_EPROTO, "bit index on a non-bit field");
        const char *bs = end + 1;
        if (!parse_uint(bs, oe, 255, &bit, &end) || end != oe)
            return fail(P, bs, CN_EPROTO, "invalid bit index");
        if (bit >= 8u * f.size)
            return fail(P, bs, CN_EPROTO, "bit index out of range");
    } else if (end != oe) {
        return fail(P, end, CN_EPROTO, "invalid offset");
    } else if (t == RM_BIT) {
        return fail(P, os, CN_EPROTO, "bit field needs @offset.bit");
    }
    f.off = P->registers ? off * 2 : off;
    f.bit = (uint8_t)bit;

    fopts_t o = {0};
    int rc = parse_field_opts(P, &o);
    if (rc == 0)
        rc = apply_opts(P, &f, &o);
    if (rc < 0)
        return rc;

    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->f = cn_realloc(m->f, m->cap * sizeof *m->f);
    }
    f.name = cn_malloc(nlen + 1);
    memcpy(f.name, ts, nlen);
    f.name[nlen] = '\0';
    m->f[m->n++] = f;
    if (f.off + f.size > m->frame_len)
        m->frame_len = f.off + f.size;
    return 0;
}

static int parse_line(rp_t *P, mq_regmap_t *m)
{
    const char *ts = NULL, *te = NULL;
    if (!next_tok(P, &ts, &te))
        return 0;
    if (memchr(ts, '=', (size_t)(te - ts)))
        return parse_opts_line(P, m, ts, te);
    return parse_field(P, m, ts, te);
}

int mq_regmap_parse(const char *text, size_t n, mq_regmap_t **out, mq_dec_err_t *err)
{
    if (out)
        *out = NULL;
    if (!out || !err || (!text && n))
        return CN_EINVAL;
    *err = (mq_dec_err_t){0};
    rp_t P = {.s = text, .err = err};
    if (n > MQ_REGMAP_MAX_TEXT) {
        P.line = 1;
        P.ls = text;
        return fail(&P, text, CN_ELIMIT, "map text too large");
    }
    mq_regmap_t *m = cn_calloc(1, sizeof *m);
    const char *p = text, *e = text ? text + n : NULL;
    int rc = 0;
    while (rc == 0 && p < e) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        P.line++;
        P.ls = P.p = p;
        P.le = nl ? nl : e;
        rc = parse_line(&P, m);
        p = nl ? nl + 1 : e;
    }
    if (rc == 0 && m->n == 0) { /* about the whole map: line 1 col 1 */
        P.line = 1;
        P.ls = P.p = p;
        rc = fail(&P, p, CN_EPROTO, "map has no fields");
    }
    if (rc < 0) {
        mq_regmap_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void mq_regmap_free(mq_regmap_t *m)
{
    if (!m)
        return;
    for (uint32_t i = 0; i < m->n; i++)
        cn_free(m->f[i].name);
    cn_free(m->f);
    cn_free(m);
}

uint32_t mq_regmap_nfields(const mq_regmap_t *m)
{
    return m ? m->n : 0;
}

size_t mq_regmap_frame_len(const mq_regmap_t *m)
{
    return m ? m->frame_len : 0;
}

/* ----------------------------------------------------------- decode */

/* The field's raw bits, most significant byte first (NOTES 2). */
static uint64_t read_raw(const rm_field_t *f, const uint8_t *p)
{
    uint64_t v = 0;
    if (f->size == 1)
        return p[0];
    uint32_t words = f->size / 2u;
    for (uint32_t w = 0; w < words; w++) {
        const uint8_t *src = p + 2u * (f->lowfirst ? words - 1 - w : w);
        uint8_t hi = f->swap ? src[1] : src[0], lo = f->swap ? src[0] : src[1];
        v = (v << 16) | ((uint64_t)hi << 8) | lo;
    }
    return v;
}

static int64_t sign_extend(uint64_t v, unsigned bits)
{
    uint64_t m = UINT64_C(1) << (bits - 1);
    v &= bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
    return (int64_t)((v ^ m) - m);
}

static double scaled(const rm_field_t *f, double raw)
{
    double v = f->div != 0.0 ? raw / f->div : raw * f->scale;
    return v + f->offset;
}

/* Converts one field; returns false (and records why) when it is dropped. */
static bool convert(mq_dec_batch_t *b, const rm_field_t *f, const uint8_t *p, eng_type_t *t,
                    eng_value_t *v)
{
    uint64_t raw = read_raw(f, p);
    double d = 0.0;
    bool is_float = false;
    switch (f->type) {
    case RM_BIT:
        *t = ENG_T_BOOL;
        v->b = (uint8_t)((raw >> f->bit) & 1u);
        return true;
    case RM_F32: {
        uint32_t u = (uint32_t)raw;
        float x;
        memcpy(&x, &u, sizeof x);
        d = (double)x;
        is_float = true;
        break;
    }
    case RM_F64:
        memcpy(&d, &raw, sizeof d);
        is_float = true;
        break;
    case RM_U64:
        if (raw > (uint64_t)INT64_MAX && !f->scaled) {
            mq_dec_error(b, f->line, f->off + 1, CN_EINVAL, "u64 value beyond int64");
            return false;
        }
        d = (double)raw;
        v->i = (int64_t)raw;
        break;
    case RM_I8:
    case RM_I16:
    case RM_I32:
    case RM_I64:
        v->i = sign_extend(raw, 8u * f->size);
        d = (double)v->i;
        break;
    default: /* u8, u16, u32 */
        v->i = (int64_t)raw;
        d = (double)raw;
        break;
    }
    if (f->scaled) {
        *t = ENG_T_FLOAT;
        v->f = scaled(f, d);
    } else if (is_float) {
        *t = ENG_T_FLOAT;
        v->f = d;
    } else {
        *t = ENG_T_INT;
    }
    return true;
}

int mq_dec_regmap(mq_dec_batch_t *b, const mq_regmap_t *m, const void *frame, size_t n,
                  const char *measurement, const eng_tag_t *tags, uint32_t ntags, int64_t ts)
{
    if (!b || !m || (!frame && n) || !measurement || !measurement[0] || (ntags && !tags))
        return CN_EINVAL;
    const uint8_t *p = frame;
    const char *meas = mq_dec_strdup(b, measurement, strlen(measurement));
    mq_dec_point_begin(b, meas, ts);
    if (ntags)
        mq_dec_point_ext_tags(b, tags, ntags);
    for (uint32_t i = 0; i < m->n; i++) {
        const rm_field_t *f = &m->f[i];
        if ((size_t)f->off + f->size > n) {
            mq_dec_error(b, f->line, f->off + 1, CN_EPROTO, "frame too short for field");
            continue;
        }
        eng_type_t t = ENG_T_NONE;
        eng_value_t v;
        memset(&v, 0, sizeof v);
        if (convert(b, f, p + f->off, &t, &v)) {
            int rc = mq_dec_point_field(b, f->name, f->nlen, t, v);
            assert(rc == 0); /* m->n <= ENG_MAX_FIELDS, names unique (NOTES 3) */
            (void)rc;
        }
    }
    return mq_dec_point_end(b);
}
