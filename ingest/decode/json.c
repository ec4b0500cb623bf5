/* SPDX-License-Identifier: MIT */
/*
 * json.c - JSON payload decoder: flat or nested objects, arrays of them and
 * IoTDB insertTablet documents become points (shapes in decode.h).
 *
 * Two passes.  lex() validates the whole document (RFC 8259 grammar, UTF-8,
 * escapes, nesting and string limits) into a tape of tokens in the batch's
 * scratch buffer, so a malformed message is rejected before any point
 * exists, and the interpretation pass can look ahead (is this object an
 * IoTDB tablet?) and jump over subtrees.  Numbers are reduced during lexing
 * to a 19-digit decimal mantissa and a power of ten; the interpretation turns
 * them into int64, float64 (exactly, via mq_dec__to_double) or timestamps.
 *
 * NOTES
 * 1. Token layout: a container token is followed by its children (for an
 *    object: key, value, key, value ...); `next` is the index just past its
 *    subtree and `len` its number of values.  A scalar's subtree is itself.
 * 2. Offsets are 32-bit: mq_dec_json refuses inputs of 4 GiB and more.
 * 3. The tape is an index-addressed cn_buf_t: it may move while lexing, so
 *    lexing code holds indices, never token pointers across a push.
 */
#include "decode/decode.h"

#include <assert.h>

enum { J_OBJ = 1, J_ARR, J_STR, J_NUM, J_TRUE, J_FALSE, J_NULL };

/* Token flags. */
#define F_ESC     0x01 /* string has escapes */
#define F_NEG     0x02 /* number is negative */
#define F_REAL    0x04 /* number has a fraction or an exponent */
#define F_INEXACT 0x08 /* number had more than 19 significant digits */

#define MAX_NAME    1024 /* longest flattened field name */
#define DEPTH_LIMIT 256

typedef struct jtok {
    uint8_t type, flags;
    uint32_t off;  /* first byte (the quote for strings) */
    uint32_t len;  /* strings: raw bytes between the quotes; numbers: text; containers: values */
    uint32_t next; /* NOTES 1 */
    int32_t exp10;
    uint64_t mant;
} jtok_t;

typedef struct jlex {
    const uint8_t *s, *p, *end;
    cn_buf_t *tape;
    uint32_t ntok;
    const mq_dec_opts_t *o;
    const char *reason;
    int code;
    const uint8_t *at;
} jlex_t;

static int lerr(jlex_t *L, const uint8_t *at, int code, const char *reason)
{
    L->at = at;
    L->code = code;
    L->reason = reason;
    return -1;
}

static inline jtok_t *tok(jlex_t *L, uint32_t i)
{
    return (jtok_t *)L->tape->p + i;
}

static uint32_t push(jlex_t *L, uint8_t type, const uint8_t *at)
{
    if ((L->ntok + 1) * sizeof(jtok_t) > L->tape->cap)
        cn_buf_reserve(L->tape,
                       (L->ntok + 1) * sizeof(jtok_t) - L->tape->len + 16 * sizeof(jtok_t));
    jtok_t *t = tok(L, L->ntok);
    t->type = type;
    t->flags = 0;
    t->off = (uint32_t)(at - L->s);
    t->len = 0;
    t->next = L->ntok + 1;
    t->exp10 = 0;
    t->mant = 0;
    return L->ntok++;
}

static inline void ws(jlex_t *L)
{
    while (L->p < L->end && (*L->p == ' ' || *L->p == '\n' || *L->p == '\r' || *L->p == '\t'))
        L->p++;
}

static int hex4(const uint8_t *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = p[i];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (uint32_t)((c | 0x20) - 'a' + 10);
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* Validates the escape at p (p[0] == '\\'); returns its length or -1. */
static int lex_escape(jlex_t *L, const uint8_t *p)
{
    if (L->end - p < 2)
        return lerr(L, p, CN_EPROTO, "unterminated string");
    switch (p[1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        return 2;
    case 'u':
        break;
    default:
        return lerr(L, p, CN_EPROTO, "invalid escape");
    }
    uint32_t u = 0, lo = 0;
    if (L->end - p < 6 || hex4(p + 2, &u) < 0)
        return lerr(L, p, CN_EPROTO, "invalid \\u escape");
    if (u >= 0xDC00 && u <= 0xDFFF)
        return lerr(L, p, CN_EPROTO, "lone low surrogate");
    if (u < 0xD800 || u > 0xDBFF)
        return 6;
    if (L->end - p < 12 || p[6] != '\\' || p[7] != 'u' || hex4(p + 8, &lo) < 0 || lo < 0xDC00 ||
        lo > 0xDFFF)
        return lerr(L, p, CN_EPROTO, "lone high surrogate");
    return 12;
}

static int lex_string(jlex_t *L, uint8_t type)
{
    const uint8_t *q = L->p + 1, *end = L->end;
    uint32_t i = push(L, type, L->p);
    uint8_t flags = 0;
    for (;;) {
        while (q + 8 <= end) { /* eight plain ASCII bytes at a time */
            uint64_t w = cn_ld64(q);
            uint64_t hi = w & UINT64_C(0x8080808080808080);
            uint64_t ctl = (w - UINT64_C(0x2020202020202020)) & ~w & UINT64_C(0x8080808080808080);
            uint64_t qt = w ^ UINT64_C(0x2222222222222222);
            uint64_t bs = w ^ UINT64_C(0x5c5c5c5c5c5c5c5c);
            qt = (qt - UINT64_C(0x0101010101010101)) & ~qt & UINT64_C(0x8080808080808080);
            bs = (bs - UINT64_C(0x0101010101010101)) & ~bs & UINT64_C(0x8080808080808080);
            if (hi | ctl | qt | bs)
                break;
            q += 8;
        }
        if (q >= end)
            return lerr(L, L->p, CN_EPROTO, "unterminated string");
        uint8_t c = *q;
        if (c == '"')
            break;
        if (c == '\\') {
            int n = lex_escape(L, q);
            if (n < 0)
                return -1;
            flags |= F_ESC;
            q += n;
        } else if (c < 0x20) {
            return lerr(L, q, CN_EPROTO, "control character in string");
        } else if (c < 0x80) {
            q++;
        } else {
            size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            if ((size_t)(end - q) < n || !mq_dec__utf8_ok(q, n))
                return lerr(L, q, CN_EPROTO, "invalid UTF-8");
            q += n;
        }
    }
    size_t raw = (size_t)(q - L->p - 1);
    if (raw > L->o->max_str)
        return lerr(L, L->p, CN_ELIMIT, "string too long");
    jtok_t *t = tok(L, i);
    t->flags = flags;
    t->len = (uint32_t)raw;
    L->p = q + 1;
    return 0;
}

static int lex_number(jlex_t *L)
{
    const uint8_t *s = L->p, *q = s, *end = L->end;
    uint64_t mant = 0;
    int32_t exp10 = 0;
    int sig = 0;
    uint8_t flags = 0;
    if (*q == '-') {
        flags |= F_NEG;
        q++;
    }
    if (q >= end || (unsigned)(*q - '0') > 9)
        return lerr(L, s, CN_EPROTO, "invalid number");
    if (*q == '0') {
        q++;
        if (q < end && (unsigned)(*q - '0') <= 9)
            return lerr(L, s, CN_EPROTO, "invalid number (leading zero)");
    } else {
        for (; q < end && (unsigned)(*q - '0') <= 9; q++) {
            if (sig < 19) {
                mant = mant * 10 + (unsigned)(*q - '0');
                sig++;
            } else {
                exp10++;
                flags |= *q != '0' ? F_INEXACT : 0;
            }
        }
    }
    if (q < end && *q == '.') {
        flags |= F_REAL;
        q++;
        if (q >= end || (unsigned)(*q - '0') > 9)
            return lerr(L, s, CN_EPROTO, "invalid number");
        for (; q < end && (unsigned)(*q - '0') <= 9; q++) {
            if (sig < 19) {
                mant = mant * 10 + (unsigned)(*q - '0');
                sig += mant != 0;
                exp10--;
            } else {
                flags |= *q != '0' ? F_INEXACT : 0;
            }
        }
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        flags |= F_REAL;
        q++;
        bool eneg = q < end && *q == '-';
        if (q < end && (*q == '-' || *q == '+'))
            q++;
        if (q >= end || (unsigned)(*q - '0') > 9)
            return lerr(L, s, CN_EPROTO, "invalid number");
        int32_t e = 0;
        for (; q < end && (unsigned)(*q - '0') <= 9; q++)
            if (e < 100000)
                e = e * 10 + (*q - '0');
        exp10 += eneg ? -e : e;
    }
    uint32_t i = push(L, J_NUM, s);
    jtok_t *t = tok(L, i);
    t->flags = flags;
    t->len = (uint32_t)(q - s);
    t->mant = mant;
    t->exp10 = exp10;
    L->p = q;
    return 0;
}

static int lex_scalar(jlex_t *L)
{
    const uint8_t *p = L->p;
    size_t left = (size_t)(L->end - p);
    switch (*p) {
    case '"':
        return lex_string(L, J_STR);
    case 't':
        if (left >= 4 && !memcmp(p, "true", 4)) {
            push(L, J_TRUE, p);
            L->p += 4;
            return 0;
        }
        break;
    case 'f':
        if (left >= 5 && !memcmp(p, "false", 5)) {
            push(L, J_FALSE, p);
            L->p += 5;
            return 0;
        }
        break;
    case 'n':
        if (left >= 4 && !memcmp(p, "null", 4)) {
            push(L, J_NULL, p);
            L->p += 4;
            return 0;
        }
        break;
    default:
        if (*p == '-' || (unsigned)(*p - '0') <= 9)
            return lex_number(L);
        break;
    }
    return lerr(L, p, CN_EPROTO, "unexpected character");
}

/* An object key and its ':' at the cursor. */
static int lex_key(jlex_t *L)
{
    ws(L);
    if (L->p >= L->end)
        return lerr(L, L->p, CN_EPROTO, "unexpected end of input");
    if (*L->p != '"')
        return lerr(L, L->p, CN_EPROTO, "expected string key");
    if (lex_string(L, J_STR) < 0)
        return -1;
    ws(L);
    if (L->p >= L->end || *L->p != ':')
        return lerr(L, L->p, CN_EPROTO, "expected ':'");
    L->p++;
    return 0;
}

/* The whole document into the tape; iterative, with an explicit stack of
 * open containers so the depth limit is the only bound on nesting. */
static int lex(jlex_t *L)
{
    uint32_t stack[DEPTH_LIMIT];
    uint32_t top = 0, max_depth = CN_MIN(L->o->max_depth, (uint32_t)DEPTH_LIMIT);
    for (;;) {
        ws(L);
        if (L->p >= L->end)
            return lerr(L, L->p, CN_EPROTO, "unexpected end of input");
        if (top > 0)
            tok(L, stack[top - 1])->len++;
        uint8_t c = *L->p;
        if (c == '{' || c == '[') {
            if (top >= max_depth)
                return lerr(L, L->p, CN_ELIMIT, "nesting too deep");
            uint32_t i = push(L, c == '{' ? J_OBJ : J_ARR, L->p);
            stack[top++] = i;
            L->p++;
            ws(L);
            if (L->p < L->end && *L->p == (c == '{' ? '}' : ']')) {
                L->p++;
                tok(L, i)->next = L->ntok;
                top--;
            } else {
                if (c == '{' && lex_key(L) < 0)
                    return -1;
                continue;
            }
        } else if (lex_scalar(L) < 0) {
            return -1;
        }
        /* After a value: close containers, or move to the next element. */
        for (;;) {
            ws(L);
            if (top == 0) {
                if (L->p != L->end)
                    return lerr(L, L->p, CN_EPROTO, "text after the JSON value");
                return 0;
            }
            jtok_t *ct = tok(L, stack[top - 1]);
            uint8_t close = ct->type == J_OBJ ? '}' : ']';
            if (L->p < L->end && *L->p == close) {
                L->p++;
                ct->next = L->ntok;
                top--;
                continue;
            }
            if (L->p < L->end && *L->p == ',') {
                L->p++;
                if (ct->type == J_OBJ && lex_key(L) < 0)
                    return -1;
                break;
            }
            if (L->p >= L->end)
                return lerr(L, L->p, CN_EPROTO, "unexpected end of input");
            return lerr(L, L->p, CN_EPROTO,
                        ct->type == J_OBJ ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
}

/* ------------------------------------------------------- interpretation */

typedef struct jdec {
    mq_dec_batch_t *b;
    const mq_dec_opts_t *o;
    const uint8_t *s;
    size_t n;
    const jtok_t *t;
    size_t ts_len[MQ_DEC_MAX_TS_KEYS]; /* strlen of o->ts_keys[i], 0 = unused */
    char name[MAX_NAME + 1];
} jdec_t;

static void line_col(const uint8_t *s, size_t off, uint32_t *line, uint32_t *col)
{
    uint32_t l = 1;
    size_t ls = 0;
    for (size_t i = 0; i < off; i++) {
        if (s[i] == '\n') {
            l++;
            ls = i + 1;
        }
    }
    *line = l;
    *col = (uint32_t)(off - ls) + 1;
}

static void derr(jdec_t *D, uint32_t off, int code, const char *reason)
{
    uint32_t line = 0, col = 0;
    if (mq_dec_batch_nerrors(D->b) < MQ_DEC_MAX_ERRS) /* only counted: skip the scan */
        line_col(D->s, off, &line, &col);
    mq_dec_error(D->b, line, col, code, reason);
}

/* Decodes the string token t into out (at least t->len bytes); returns the
 * decoded length.  The lexer validated every escape. */
static size_t unescape(const uint8_t *s, const jtok_t *t, char *out)
{
    const uint8_t *p = s + t->off + 1, *end = p + t->len;
    if (!(t->flags & F_ESC)) {
        memcpy(out, p, t->len);
        return t->len;
    }
    char *w = out;
    while (p < end) {
        if (*p != '\\') {
            *w++ = (char)*p++;
            continue;
        }
        uint8_t c = p[1];
        p += 2;
        switch (c) {
        case 'b':
            *w++ = '\b';
            continue;
        case 'f':
            *w++ = '\f';
            continue;
        case 'n':
            *w++ = '\n';
            continue;
        case 'r':
            *w++ = '\r';
            continue;
        case 't':
            *w++ = '\t';
            continue;
        case 'u':
            break;
        default:
            *w++ = (char)c;
            continue;
        }
        uint32_t u = 0, lo = 0;
        hex4(p, &u);
        p += 4;
        if (u >= 0xD800 && u <= 0xDBFF) {
            hex4(p + 2, &lo);
            p += 6;
            u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (u < 0x80) {
            *w++ = (char)u;
        } else if (u < 0x800) {
            *w++ = (char)(0xC0 | u >> 6);
            *w++ = (char)(0x80 | (u & 0x3F));
        } else if (u < 0x10000) {
            *w++ = (char)(0xE0 | u >> 12);
            *w++ = (char)(0x80 | ((u >> 6) & 0x3F));
            *w++ = (char)(0x80 | (u & 0x3F));
        } else {
            *w++ = (char)(0xF0 | u >> 18);
            *w++ = (char)(0x80 | ((u >> 12) & 0x3F));
            *w++ = (char)(0x80 | ((u >> 6) & 0x3F));
            *w++ = (char)(0x80 | (u & 0x3F));
        }
    }
    return (size_t)(w - out);
}

static bool str_eqn(const jdec_t *D, const jtok_t *t, const char *lit, size_t n)
{
    return t->len == n && !(t->flags & F_ESC) && memcmp(D->s + t->off + 1, lit, n) == 0;
}

static bool str_eq(const jdec_t *D, const jtok_t *t, const char *lit)
{
    return str_eqn(D, t, lit, strlen(lit));
}

/* Number token -> field value, by the configured rule or a forced type
 * (ENG_T_INT / ENG_T_FLOAT; ENG_T_NONE = by rule).  Returns 0 or a reason. */
static const char *num_value(const jdec_t *D, const jtok_t *t, eng_type_t want, eng_type_t *type,
                             eng_value_t *v)
{
    bool neg = t->flags & F_NEG;
    bool as_int = want == ENG_T_INT || (want == ENG_T_NONE && !(t->flags & F_REAL) &&
                                        D->o->json_nums == MQ_DEC_JSON_INT);
    if (as_int) {
        if (t->flags & F_REAL)
            return "value does not match data type";
        if ((t->flags & F_INEXACT) || t->exp10 != 0 || t->mant > (uint64_t)INT64_MAX + neg)
            return "integer out of range";
        *type = ENG_T_INT;
        v->i = neg ? (int64_t)(0 - t->mant) : (int64_t)t->mant;
        return NULL;
    }
    *type = ENG_T_FLOAT;
    if (mq_dec__to_double(t->mant, t->exp10, neg, t->flags & F_INEXACT, (const char *)D->s + t->off,
                          t->len, &v->f) < 0)
        return "number out of range";
    return NULL;
}

/* ---------------------------------------------------------- timestamps */

__extension__ typedef __int128 i128;

static const char *num_ts(const jdec_t *D, const jtok_t *t, int64_t *out)
{
    /* value = mant * 10^exp10 in the unit; anything above 2^80 units is far
     * outside int64 nanoseconds, and 2^80 * 3.6e12 still fits an i128. */
    const i128 big = (i128)1 << 80;
    i128 v = t->mant;
    int32_t e = t->exp10;
    for (; e > 0 && v != 0; e--) {
        v *= 10;
        if (v > big)
            return "timestamp out of range";
    }
    i128 ip = v; /* the integer part picks the unit by magnitude */
    for (int32_t k = e; k < 0 && ip > 0; k++)
        ip /= 10;
    mq_dec_prec_t prec = D->o->prec;
    if (prec == MQ_DEC_AUTO)
        prec = ip < (i128)INT64_C(10000000000)         ? MQ_DEC_S
               : ip < (i128)INT64_C(10000000000000)    ? MQ_DEC_MS
               : ip < (i128)INT64_C(10000000000000000) ? MQ_DEC_US
                                                       : MQ_DEC_NS;
    v *= mq_dec__prec_ns(prec);
    for (; e < 0 && v > 0; e++)
        v /= 10; /* fractions of a nanosecond are truncated */
    if (t->flags & F_NEG)
        v = -v;
    if (v > INT64_MAX || v < INT64_MIN)
        return "timestamp out of range";
    *out = (int64_t)v;
    return NULL;
}

/* RFC 3339 date-time: YYYY-MM-DD(T|t| )HH:MM:SS[.frac](Z|z|(+|-)HH:MM). */
static const char *rfc3339(const char *s, size_t n, int64_t *out)
{
    int rc = cn_time_parse(s, n, CN_TIME_NEED_CLOCK | CN_TIME_NEED_ZONE | CN_TIME_FRAC_ANY, out);
    if (rc == CN_ELIMIT)
        return "timestamp out of range";
    return rc == 0 ? NULL : "invalid RFC 3339 timestamp";
}

/* Timestamp value token: 0 ok (or null: *out untouched), -1 error recorded. */
static int ts_value(jdec_t *D, const jtok_t *t, int64_t *out)
{
    const char *why = "invalid timestamp";
    if (t->type == J_NULL)
        return 0;
    if (t->type == J_NUM) {
        why = num_ts(D, t, out);
    } else if (t->type == J_STR && !(t->flags & F_ESC)) {
        why = rfc3339((const char *)D->s + t->off + 1, t->len, out);
    }
    if (why) {
        derr(D, t->off, CN_EINVAL, why);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------- records */

static bool is_ts_key(const jdec_t *D, const jtok_t *k)
{
    for (int i = 0; i < MQ_DEC_MAX_TS_KEYS && D->ts_len[i]; i++)
        if (str_eqn(D, k, D->o->ts_keys[i], D->ts_len[i]))
            return true;
    return false;
}

/* Adds field D->name[0..nlen) with value token v (a scalar). */
static void add_field(jdec_t *D, size_t nlen, const jtok_t *v, eng_type_t want)
{
    eng_type_t type = ENG_T_NONE;
    eng_value_t val = {0};
    const char *why = NULL;
    switch (v->type) {
    case J_NULL:
        return;
    case J_TRUE:
    case J_FALSE:
        type = ENG_T_BOOL;
        val.b = v->type == J_TRUE;
        break;
    case J_NUM:
        why = num_value(D, v, want, &type, &val);
        break;
    case J_STR: {
        char *s = mq_dec_alloc(D->b, v->len + 1);
        val.s.len = (uint32_t)unescape(D->s, v, s);
        s[val.s.len] = '\0';
        val.s.p = s;
        type = ENG_T_STRING;
        break;
    }
    default:
        why = "arrays are not supported as field values";
        break;
    }
    if (!why && want != ENG_T_NONE && type != want)
        why = "value does not match data type";
    if (why) {
        derr(D, v->off, CN_EINVAL, why);
        return;
    }
    const char *name = mq_dec_strdup(D->b, D->name, nlen);
    if (mq_dec_point_field(D->b, name, nlen, type, val) < 0)
        derr(D, v->off, CN_ELIMIT, "too many fields");
}

/* Fields of object token `obj`, names prefixed by D->name[0..plen).
 * Returns the index past the object. */
static uint32_t walk(jdec_t *D, uint32_t obj, size_t plen, bool top, int64_t *ts, bool *bad_ts)
{
    uint32_t i = obj + 1, end = D->t[obj].next;
    while (i < end) {
        const jtok_t *k = &D->t[i], *v = &D->t[i + 1];
        i = v->next;
        if (top && is_ts_key(D, k)) {
            *bad_ts |= ts_value(D, v, ts) < 0;
            continue;
        }
        if (plen + k->len + 1 > MAX_NAME) { /* decoded keys are never longer */
            derr(D, k->off, CN_EINVAL, "field name too long");
            continue;
        }
        size_t nlen = plen + unescape(D->s, k, D->name + plen);
        /* Only a \u0000 escape can put a NUL in a key. */
        if (nlen == plen || ((k->flags & F_ESC) && memchr(D->name + plen, 0, nlen - plen))) {
            derr(D, k->off, CN_EINVAL, nlen == plen ? "empty field name" : "NUL in field name");
            continue;
        }
        if (v->type == J_OBJ) {
            D->name[nlen] = '.';
            walk(D, (uint32_t)(v - D->t), nlen + 1, false, ts, bad_ts);
        } else {
            add_field(D, nlen, v, ENG_T_NONE);
        }
    }
    return end;
}

static void record(jdec_t *D, uint32_t obj)
{
    int64_t ts = D->o->now_ns;
    bool bad_ts = false;
    mq_dec_mark_t m = mq_dec_mark(D->b);
    mq_dec_point_begin(D->b, D->o->measurement, ts);
    mq_dec_point_ext_tags(D->b, D->o->tags, D->o->ntags);
    walk(D, obj, 0, true, &ts, &bad_ts);
    if (bad_ts) { /* the error is recorded: storing it at another time is worse */
        mq_dec_rollback(D->b, m);
        return;
    }
    mq_dec_point_set_ts(D->b, ts);
    if (mq_dec_point_end(D->b) == 0)
        derr(D, D->t[obj].off, CN_EINVAL, "record has no fields");
}

/* ------------------------------------------------------------- IoTDB */

typedef struct tablet {
    uint32_t device, timestamps, measurements, types, values; /* token index or 0 */
} tablet_t;

static bool find_tablet(const jdec_t *D, uint32_t obj, tablet_t *tb)
{
    memset(tb, 0, sizeof *tb);
    for (uint32_t i = obj + 1; i < D->t[obj].next; i = D->t[i + 1].next) {
        const jtok_t *k = &D->t[i];
        if (k->len != 6 && k->len != 10 && k->len != 12) /* the keys below */
            continue;
        uint32_t *slot = str_eq(D, k, "device")         ? &tb->device
                         : str_eq(D, k, "timestamps")   ? &tb->timestamps
                         : str_eq(D, k, "measurements") ? &tb->measurements
                         : str_eq(D, k, "data_types")   ? &tb->types
                         : str_eq(D, k, "values")       ? &tb->values
                                                        : NULL;
        if (slot)
            *slot = i + 1;
    }
    return tb->timestamps && tb->values;
}

static bool all_scalar(const jdec_t *D, uint32_t arr, uint8_t only)
{
    for (uint32_t i = arr + 1; i < D->t[arr].next; i++)
        if (D->t[i].type == J_OBJ || D->t[i].type == J_ARR || (only && D->t[i].type != only))
            return false;
    return true;
}

static eng_type_t tablet_type(const jdec_t *D, const jtok_t *t)
{
    static const struct {
        const char *name;
        eng_type_t type;
    } map[] = {{"INT32", ENG_T_INT},     {"INT64", ENG_T_INT},    {"FLOAT", ENG_T_FLOAT},
               {"DOUBLE", ENG_T_FLOAT},  {"BOOLEAN", ENG_T_BOOL}, {"TEXT", ENG_T_STRING},
               {"STRING", ENG_T_STRING}, {"TIMESTAMP", ENG_T_INT}};
    for (size_t i = 0; i < CN_ARRAY_LEN(map); i++)
        if (str_eq(D, t, map[i].name))
            return map[i].type;
    return ENG_T_NONE;
}

/* Checks the tablet's shape; returns a reason or NULL. */
static const char *tablet_check(const jdec_t *D, const tablet_t *tb)
{
    const jtok_t *ts = &D->t[tb->timestamps], *vals = &D->t[tb->values];
    if (ts->type != J_ARR || !all_scalar(D, tb->timestamps, J_NUM))
        return "IoTDB \"timestamps\" must be an array of numbers";
    if (!tb->measurements || D->t[tb->measurements].type != J_ARR ||
        !all_scalar(D, tb->measurements, J_STR))
        return "IoTDB \"measurements\" must be an array of strings";
    if (tb->device && D->t[tb->device].type != J_STR)
        return "IoTDB \"device\" must be a string";
    uint32_t ncol = D->t[tb->measurements].len;
    if (vals->type != J_ARR || vals->len != ncol)
        return "IoTDB \"values\" needs one array per measurement";
    for (uint32_t c = tb->values + 1; c < vals->next; c = D->t[c].next)
        if (D->t[c].type != J_ARR || D->t[c].len != ts->len || !all_scalar(D, c, 0))
            return "IoTDB \"values\" column length differs from \"timestamps\"";
    if (tb->types) {
        const jtok_t *ty = &D->t[tb->types];
        if (ty->type != J_ARR || ty->len != ncol || !all_scalar(D, tb->types, J_STR))
            return "IoTDB \"data_types\" needs one type per measurement";
        for (uint32_t i = tb->types + 1; i < ty->next; i++)
            if (tablet_type(D, &D->t[i]) == ENG_T_NONE)
                return "unknown IoTDB data type";
    }
    return NULL;
}

/* Tags of every tablet point: the base tags, with the device in its tag. */
static void tablet_tags(jdec_t *D, const char *dev)
{
    const mq_dec_opts_t *o = D->o;
    if (dev)
        mq_dec_point_tag(D->b, o->iotdb_tag, dev, true);
    for (uint32_t i = 0; i < o->ntags; i++)
        mq_dec_point_tag(D->b, o->tags[i].key, o->tags[i].val, false);
}

static void tablet(jdec_t *D, uint32_t obj)
{
    tablet_t tb;
    find_tablet(D, obj, &tb);
    const char *why = tablet_check(D, &tb);
    if (why) {
        derr(D, D->t[obj].off, CN_EPROTO, why);
        return;
    }
    const jtok_t *ts = &D->t[tb.timestamps];
    uint32_t ncol = D->t[tb.measurements].len, nrow = ts->len;
    const char *dev = NULL;
    if (tb.device && D->o->iotdb_tag && D->o->iotdb_tag[0]) {
        const jtok_t *d = &D->t[tb.device];
        char *s = mq_dec_alloc(D->b, d->len + 1);
        s[unescape(D->s, d, s)] = '\0';
        if (s[0] != '\0' && mq_dec__utf8_ok((const uint8_t *)s, strlen(s)))
            dev = s;
    }
    for (uint32_t r = 0; r < nrow; r++) {
        int64_t when = D->o->now_ns;
        if (ts_value(D, &D->t[tb.timestamps + 1 + r], &when) < 0)
            continue;
        mq_dec_point_begin(D->b, D->o->measurement, when);
        tablet_tags(D, dev);
        uint32_t col = tb.values + 1;
        for (uint32_t c = 0; c < ncol; c++, col = D->t[col].next) {
            const jtok_t *k = &D->t[tb.measurements + 1 + c];
            eng_type_t want = tb.types ? tablet_type(D, &D->t[tb.types + 1 + c]) : ENG_T_NONE;
            if (k->len > MAX_NAME) {
                derr(D, k->off, CN_EINVAL, "field name too long");
                continue;
            }
            size_t nlen = unescape(D->s, k, D->name);
            if (nlen == 0 || memchr(D->name, 0, nlen)) {
                derr(D, k->off, CN_EINVAL, nlen ? "NUL in field name" : "empty field name");
                continue;
            }
            add_field(D, nlen, &D->t[col + 1 + r], want);
        }
        mq_dec_point_end(D->b); /* an all-null row is no point, not an error */
    }
}

static void doc_obj(jdec_t *D, uint32_t obj)
{
    tablet_t tb;
    if (find_tablet(D, obj, &tb))
        tablet(D, obj);
    else
        record(D, obj);
}

int mq_dec_json(mq_dec_batch_t *b, const mq_dec_opts_t *o, const void *p, size_t n)
{
    if (!b || !o || !o->measurement || !o->measurement[0] || (!p && n))
        return CN_EINVAL;
    if (n > o->max_bytes || n >= UINT32_MAX) {
        mq_dec_error(b, 1, 1, CN_ELIMIT, "payload too large");
        return CN_ELIMIT;
    }
    if (!p)
        p = ""; /* n == 0: keep pointer arithmetic defined */
    jlex_t L = {.s = p, .p = p, .end = (const uint8_t *)p + n, .tape = mq_dec_scratch(b), .o = o};
    cn_buf_reset(L.tape);
    if (lex(&L) < 0) {
        uint32_t line, col;
        line_col(L.s, (size_t)(L.at - L.s), &line, &col);
        mq_dec_error(b, line, col, L.code, L.reason);
        return L.code;
    }
    jdec_t D; /* not an initializer: that would zero the name buffer */
    D.b = b;
    D.o = o;
    D.s = p;
    D.n = n;
    D.t = (const jtok_t *)L.tape->p;
    for (int i = 0; i < MQ_DEC_MAX_TS_KEYS; i++)
        D.ts_len[i] = o->ts_keys[i] && (i == 0 || D.ts_len[i - 1]) ? strlen(o->ts_keys[i]) : 0;
    size_t before = mq_dec_batch_npoints(b);
    const jtok_t *root = &D.t[0];
    if (root->type == J_OBJ) {
        doc_obj(&D, 0);
    } else if (root->type == J_ARR) {
        for (uint32_t i = 1; i < root->next; i = D.t[i].next) {
            if (D.t[i].type == J_OBJ)
                doc_obj(&D, i);
            else
                derr(&D, D.t[i].off, CN_EPROTO, "array element is not an object");
        }
    } else {
        derr(&D, root->off, CN_EPROTO, "payload is not an object or array");
        return CN_EPROTO;
    }
    return (int)(mq_dec_batch_npoints(b) - before);
}
