/* SPDX-License-Identifier: MIT */
/*
 * lp.c - InfluxDB 1.x line protocol decoder (MQTT payloads and HTTP /write
 * bodies) and its inverse, mq_dec_lp_format().
 *
 * The input is cut into logical lines first: normally at each '\n' (found
 * with memchr), but a line holding a '"' is scanned the way InfluxDB's
 * scanLine does it, so a quoted string field may span newlines.  Each line is
 * then parsed left to right by a cursor bounded by the line's end; on the
 * first syntax error the line's partial point is rolled back and one error
 * is recorded, and decoding goes on with the next line (InfluxDB's partial
 * write semantics).  Value range problems (an integer beyond int64, a float
 * beyond double) drop only that field.
 *
 * NOTES
 * 1. Every string a point refers to is copied into the batch's arena, NUL
 *    terminated; the input buffer may be freed right after the call.
 * 2. Names (measurement, tag keys and values, field keys) are non-empty,
 *    valid UTF-8 and contain no NUL and no '\n'; string values are valid
 *    UTF-8 (and may hold both).
 * 3. mq_dec_lp_format() escapes every byte the parser treats specially, so
 *    format -> parse is the identity on points the parser produced (the
 *    fuzz target checks this) - but for a name with a backslash before
 *    ' ', ',' or '=': written as \\<space>, the name parser reads a
 *    backslash and an escaped space, while the line scanner (InfluxDB's
 *    scanLine, which the quoted-string line cut follows) reads an escaped
 *    backslash and then a space, so on a line with a '"' the two disagree.
 *    InfluxDB's grammar has no spelling both read alike.
 * 4. In names a backslash escapes only ',', ' ' and '=' (measurements
 *    too, as InfluxDB 1.6.7 reads them); any other backslash, a second
 *    one too, is kept, as InfluxDB 1.x keeps it: t=a\\b is the value
 *    a\\b, and in t=a\\,b the second backslash escapes the comma (the
 *    value a\,b).  So a name cannot end in a backslash (InfluxDB
 *    refuses t=a\\ as an invalid tag format), and the formatter writes
 *    backslashes in names as they are.  In string field values \\ and
 *    \" are escapes.
 */
#include "decode/decode.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct lp {
    mq_dec_batch_t *b;
    const mq_dec_opts_t *o;
    const uint8_t *ls; /* start of the logical line, for columns */
    const uint8_t *p;  /* cursor */
    const uint8_t *e;  /* end of the line's content ("\r\n" and '\n' excluded) */
    uint32_t line;
    int64_t mult; /* ns per timestamp unit */
} lp_t;

/* What ends a name. */
enum { K_MEAS, K_TAGKEY, K_TAGVAL, K_FIELDKEY };

static int fail(lp_t *L, const uint8_t *at, int code, const char *reason)
{
    mq_dec_error(L->b, L->line, (uint32_t)(at - L->ls) + 1, code, reason);
    return -1;
}

static void field_err(lp_t *L, const uint8_t *at, const char *reason)
{
    mq_dec_error(L->b, L->line, (uint32_t)(at - L->ls) + 1, CN_EINVAL, reason);
}

/* Whether a backslash before c escapes it in a name (NOTES 4). */
static inline bool is_esc(uint8_t c)
{
    return c == ',' || c == ' ' || c == '=';
}

/* Byte classes for scan_name's inner loop: any set bit of the kind's mask
 * stops it.  Bytes >= 0x80 stop it too, to flag the name for UTF-8
 * validation. */
#define C_SEP  0x01 /* ',' ' ': ends every name */
#define C_EQ   0x02 /* '=': ends keys */
#define C_BS   0x04 /* backslash */
#define C_CTL  0x08 /* NUL, '\n': not allowed in names */
#define C_HIGH 0x10
#define HI4    C_HIGH, C_HIGH, C_HIGH, C_HIGH
#define HI16   HI4, HI4, HI4, HI4
static const uint8_t CLASS[256] = {
    [0] = C_CTL,   ['\n'] = C_CTL, [' '] = C_SEP, [','] = C_SEP, ['='] = C_EQ,
    ['\\'] = C_BS, [0x80] = HI16,  HI16,          HI16,          HI16,
    HI16,          HI16,           HI16,          HI16,
};

/* Scans a name at the cursor up to its unescaped terminator and copies it,
 * unescaped, into the arena.  Returns NULL (and *len 0) when it is empty;
 * sets *bad to a reason when it is not a valid name (NOTES 2). */
static const char *scan_name(lp_t *L, int kind, size_t *len, const char **bad)
{
    const uint8_t *s = L->p, *e = L->e, *q = s;
    const uint8_t term = C_SEP | (kind == K_TAGKEY || kind == K_FIELDKEY ? C_EQ : 0);
    /* (an unescaped '=' in a tag value is InfluxDB's invalid tag format) */
    const uint8_t stop = term | C_BS | C_CTL | C_HIGH | (kind == K_TAGVAL ? C_EQ : 0);
    size_t esc = 0;
    uint8_t seen = 0;
    for (;;) {
        while (q < e && !(CLASS[*q] & stop))
            q++;
        if (q >= e)
            break;
        uint8_t c = *q, cl = CLASS[c];
        if (cl & term)
            break;
        if (c == '\\' && q + 1 < e && is_esc(q[1])) {
            q += 2;
            esc++;
            continue;
        }
        seen |= cl;
        q++;
    }
    L->p = q;
    size_t raw = (size_t)(q - s);
    *len = raw - esc;
    *bad = NULL;
    if (raw == 0)
        return NULL;
    if (seen & C_CTL) { /* names are C strings, and a newline has no escaped form */
        *bad = memchr(s, 0, raw) ? "NUL byte in name" : "newline in name";
        return NULL;
    }
    if (seen & C_EQ) {
        *bad = "invalid tag format (an unescaped '=' in a tag value)";
        return NULL;
    }
    if ((seen & C_HIGH) && !mq_dec__utf8_ok(s, raw)) {
        *bad = "invalid UTF-8";
        return NULL;
    }
    if (esc == 0)
        return mq_dec_strdup(L->b, s, raw);
    char *out = mq_dec_alloc(L->b, *len + 1), *w = out;
    for (const uint8_t *r = s; r < q; r++) {
        if (*r == '\\' && r + 1 < q && is_esc(r[1]))
            r++;
        *w++ = (char)*r;
    }
    *w = '\0';
    return out;
}

/* -------------------------------------------------------------- values */

static const uint8_t *token_end(const lp_t *L)
{
    const uint8_t *q = L->p;
    while (q < L->e && *q != ',' && *q != ' ')
        q++;
    return q;
}

static int parse_string(lp_t *L, eng_value_t *v)
{
    const uint8_t *s = L->p + 1, *q = s;
    size_t esc = 0;
    while (q < L->e) {
        if (*q == '\\' && q + 1 < L->e && (q[1] == '"' || q[1] == '\\')) {
            q += 2;
            esc++;
            continue;
        }
        if (*q == '"')
            break;
        q++;
    }
    if (q >= L->e)
        return fail(L, L->p, CN_EPROTO, "unterminated string");
    size_t raw = (size_t)(q - s), n = raw - esc;
    if (n > L->o->max_str)
        return fail(L, L->p, CN_ELIMIT, "string too long");
    if (!mq_dec__utf8_ok(s, raw))
        return fail(L, L->p, CN_EPROTO, "invalid UTF-8");
    char *out;
    if (esc == 0) {
        out = mq_dec_strdup(L->b, s, raw);
    } else {
        out = mq_dec_alloc(L->b, n + 1);
        char *w = out;
        for (const uint8_t *r = s; r < q; r++) {
            if (*r == '\\' && r + 1 < q && (r[1] == '"' || r[1] == '\\'))
                r++;
            *w++ = (char)*r;
        }
        *w = '\0';
    }
    v->s.p = out;
    v->s.len = (uint32_t)n;
    L->p = q + 1;
    return 0;
}

static int parse_bool(lp_t *L, eng_value_t *v)
{
    const uint8_t *t = token_end(L);
    size_t n = (size_t)(t - L->p);
    const char *s = (const char *)L->p;
    if ((n == 1 && (*s == 't' || *s == 'T')) ||
        (n == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4))))
        v->b = 1;
    else if ((n == 1 && (*s == 'f' || *s == 'F')) ||
             (n == 5 &&
              (!memcmp(s, "false", 5) || !memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5))))
        v->b = 0;
    else
        return fail(L, L->p, CN_EPROTO, "invalid boolean");
    L->p = t;
    return 0;
}

/* Digits of an `i`/`u` integer in [s, t); returns 0, 1 (syntax ok, out of
 * range: the field is dropped) or -1 (line error). */
static int parse_int(lp_t *L, const uint8_t *s, const uint8_t *t, bool uns, eng_value_t *v)
{
    const uint8_t *at = L->p;
    bool neg = s < t && *s == '-';
    if (neg)
        s++;
    if (s == t)
        return fail(L, at, CN_EPROTO, uns ? "invalid unsigned integer" : "invalid integer");
    uint64_t u = 0;
    bool over = false;
    for (const uint8_t *q = s; q < t; q++) {
        unsigned d = (unsigned)(*q - '0');
        if (d > 9)
            return fail(L, at, CN_EPROTO, uns ? "invalid unsigned integer" : "invalid integer");
        if (u > (UINT64_MAX - d) / 10)
            over = true;
        else
            u = u * 10 + d;
    }
    if (uns && neg)
        return fail(L, at, CN_EPROTO, "invalid unsigned integer");
    if (uns && (over || u > (uint64_t)INT64_MAX)) {
        field_err(L, at, "unsigned integer out of int64 range");
        return 1;
    }
    if (over || u > (uint64_t)INT64_MAX + neg) {
        field_err(L, at, "integer out of range");
        return 1;
    }
    v->i = neg ? (int64_t)(0 - u) : (int64_t)u;
    return 0;
}

/* InfluxDB's float forms: [-](digits[.digits*] | .digits)[(e|E)[+|-]digits]. */
static int parse_float(lp_t *L, const uint8_t *s, const uint8_t *t, eng_value_t *v)
{
    const uint8_t *at = s, *q = s;
    bool neg = q < t && *q == '-';
    q += neg;
    uint64_t mant = 0;
    int32_t exp10 = 0;
    int sig = 0, digits = 0;
    bool inexact = false;
    for (; q < t && (unsigned)(*q - '0') <= 9; q++, digits++) {
        if (sig < 19) {
            mant = mant * 10 + (unsigned)(*q - '0');
            sig += mant != 0;
        } else {
            exp10++;
            inexact |= *q != '0';
        }
    }
    if (q < t && *q == '.') {
        for (q++; q < t && (unsigned)(*q - '0') <= 9; q++, digits++) {
            if (sig < 19) {
                mant = mant * 10 + (unsigned)(*q - '0');
                sig += mant != 0;
                exp10--;
            } else {
                inexact |= *q != '0';
            }
        }
    }
    if (digits == 0)
        return fail(L, at, CN_EPROTO, "invalid number");
    if (q < t && (*q == 'e' || *q == 'E')) {
        q++;
        bool eneg = q < t && *q == '-';
        if (q < t && (*q == '-' || *q == '+'))
            q++;
        if (q == t)
            return fail(L, at, CN_EPROTO, "invalid number");
        int32_t e = 0;
        for (; q < t && (unsigned)(*q - '0') <= 9; q++)
            if (e < 100000)
                e = e * 10 + (*q - '0');
        exp10 += eneg ? -e : e;
    }
    if (q != t)
        return fail(L, at, CN_EPROTO, "invalid number");
    if (mq_dec__to_double(mant, exp10, neg, inexact, (const char *)s, (size_t)(t - s), &v->f) < 0) {
        field_err(L, at, "float out of range");
        return 1;
    }
    return 0;
}

/* One field value at the cursor: 0 stored in type and v, 1 dropped, -1 error. */
static int parse_value(lp_t *L, eng_type_t *type, eng_value_t *v)
{
    uint8_t c = *L->p;
    if (c == '"') {
        *type = ENG_T_STRING;
        return parse_string(L, v);
    }
    if (c == 't' || c == 'T' || c == 'f' || c == 'F') {
        *type = ENG_T_BOOL;
        return parse_bool(L, v);
    }
    const uint8_t *s = L->p, *t = token_end(L);
    int rc;
    if (t > s && (t[-1] == 'i' || t[-1] == 'u')) {
        *type = ENG_T_INT;
        rc = parse_int(L, s, t - 1, t[-1] == 'u', v);
    } else {
        *type = ENG_T_FLOAT;
        rc = parse_float(L, s, t, v);
    }
    if (rc >= 0)
        L->p = t;
    return rc;
}

/* ----------------------------------------------------------------- line */

static int parse_tags(lp_t *L)
{
    while (L->p < L->e && *L->p == ',') {
        L->p++;
        const uint8_t *at = L->p;
        size_t n;
        const char *bad;
        const char *key = scan_name(L, K_TAGKEY, &n, &bad);
        if (!key)
            return fail(L, at, CN_EPROTO, bad ? bad : "missing tag key");
        if (L->p >= L->e || *L->p != '=')
            return fail(L, L->p, CN_EPROTO, "missing tag value");
        L->p++;
        at = L->p;
        const char *val = scan_name(L, K_TAGVAL, &n, &bad);
        if (!val)
            return fail(L, at, CN_EPROTO, bad ? bad : "missing tag value");
        mq_dec_point_tag(L->b, key, val, true);
    }
    return 0;
}

static int parse_fields(lp_t *L)
{
    for (;;) {
        const uint8_t *at = L->p;
        size_t n;
        const char *bad;
        const char *key = scan_name(L, K_FIELDKEY, &n, &bad);
        if (!key)
            return fail(L, at, CN_EPROTO, bad ? bad : "missing field key");
        if (L->p >= L->e || *L->p != '=')
            return fail(L, L->p, CN_EPROTO, "missing '=' after field key");
        L->p++;
        if (L->p >= L->e || *L->p == ',' || *L->p == ' ')
            return fail(L, L->p, CN_EPROTO, "missing field value");
        eng_type_t type = ENG_T_NONE;
        eng_value_t v = {0};
        const uint8_t *vat = L->p;
        int rc = parse_value(L, &type, &v);
        if (rc < 0)
            return -1;
        if (rc == 0 && mq_dec_point_field(L->b, key, n, type, v) < 0)
            return fail(L, vat, CN_ELIMIT, "too many fields");
        if (L->p >= L->e || *L->p == ' ')
            return 0;
        if (*L->p != ',')
            return fail(L, L->p, CN_EPROTO, "invalid field format");
        L->p++;
    }
}

static int parse_ts(lp_t *L, int64_t *ts)
{
    const uint8_t *at = L->p, *q = L->p;
    while (q < L->e && *q != ' ')
        q++;
    const uint8_t *s = L->p;
    bool neg = s < q && *s == '-';
    s += neg;
    if (s == q || q - s > 19)
        return fail(L, at, CN_EPROTO, s == q ? "invalid timestamp" : "timestamp out of range");
    uint64_t u = 0;
    for (; s < q; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (d > 9)
            return fail(L, at, CN_EPROTO, "invalid timestamp");
        u = u * 10 + d; /* 19 digits cannot overflow uint64 */
    }
    if (u > (uint64_t)INT64_MAX + neg)
        return fail(L, at, CN_EPROTO, "timestamp out of range");
    int64_t v = neg ? (int64_t)(0 - u) : (int64_t)u;
    if (__builtin_mul_overflow(v, L->mult, ts))
        return fail(L, at, CN_EPROTO, "timestamp out of range");
    while (q < L->e && *q == ' ')
        q++;
    if (q != L->e)
        return fail(L, q, CN_EPROTO, "unexpected text after timestamp");
    return 0;
}

/* Parses [L->p, L->e): 0 (point added or line skipped) or -1. */
static int parse_line(lp_t *L)
{
    while (L->p < L->e && (*L->p == ' ' || *L->p == '\t'))
        L->p++;
    if (L->p == L->e || *L->p == '#')
        return 0;
    const uint8_t *at = L->p;
    size_t n;
    const char *bad;
    const char *meas = scan_name(L, K_MEAS, &n, &bad);
    if (!meas)
        return fail(L, at, CN_EPROTO, bad ? bad : "missing measurement");
    mq_dec_point_begin(L->b, meas, L->o->now_ns);
    if (parse_tags(L) < 0)
        return -1;
    for (uint32_t i = 0; i < L->o->ntags; i++)
        mq_dec_point_tag(L->b, L->o->tags[i].key, L->o->tags[i].val, false);
    if (L->p >= L->e || *L->p != ' ')
        return fail(L, L->p, CN_EPROTO, "missing fields");
    while (L->p < L->e && *L->p == ' ')
        L->p++;
    if (L->p >= L->e)
        return fail(L, L->p, CN_EPROTO, "missing fields");
    if (parse_fields(L) < 0)
        return -1;
    while (L->p < L->e && *L->p == ' ')
        L->p++;
    if (L->p < L->e) {
        int64_t ts;
        if (parse_ts(L, &ts) < 0)
            return -1;
        mq_dec_point_set_ts(L->b, ts);
    }
    mq_dec_point_end(L->b); /* all fields dropped: an error was recorded */
    return 0;
}

/* End of the logical line starting at s (InfluxDB's scanLine): a '\n' that
 * is not inside a quoted field value.  *nl counts the newlines inside. */
static const uint8_t *line_end(const uint8_t *s, const uint8_t *end, uint32_t *nl)
{
    const uint8_t *q = memchr(s, '\n', (size_t)(end - s));
    if (!q)
        q = end;
    *nl = 0;
    if (!memchr(s, '"', (size_t)(q - s)))
        return q;
    bool quoted = false, fields = false;
    uint32_t equals = 0, commas = 0;
    q = s;
    while (q < end && (*q == ' ' || *q == '\t')) /* as parse_line skips them */
        q++;
    for (; q < end; q++) {
        uint8_t c = *q;
        if (c == '\\' && q + 1 < end && q[1] != '\n') {
            q++;
            continue;
        }
        if (c == ' ')
            fields = true;
        if (fields && !quoted && c == '=') {
            equals++;
        } else if (fields && !quoted && c == ',') {
            commas++;
        } else if (fields && c == '"' && equals > commas) {
            quoted = !quoted;
        } else if (c == '\n') {
            if (!quoted)
                break;
            (*nl)++;
        }
    }
    return q;
}

int mq_dec_lp(mq_dec_batch_t *b, const mq_dec_opts_t *o, const void *p, size_t n)
{
    if (!b || !o || (!p && n))
        return CN_EINVAL;
    if (n > o->max_bytes || n >= UINT32_MAX) {
        mq_dec_error(b, 1, 1, CN_ELIMIT, "payload too large");
        return CN_ELIMIT;
    }
    lp_t L = {.b = b, .o = o, .line = 1, .mult = mq_dec__prec_ns(o->prec)};
    if (n == 0)
        return 0; /* an empty body has no lines (and p may be NULL) */
    const uint8_t *s = p, *end = s + n;
    size_t before = mq_dec_batch_npoints(b);
    while (s < end) {
        uint32_t nl;
        const uint8_t *le = line_end(s, end, &nl);
        L.ls = L.p = s;
        L.e = le;
        if (L.e > s && L.e[-1] == '\r')
            L.e--;
        mq_dec_mark_t m = mq_dec_mark(b);
        if (parse_line(&L) < 0)
            mq_dec_rollback(b, m);
        L.line += 1 + nl;
        s = le + 1;
    }
    return (int)(mq_dec_batch_npoints(b) - before);
}

/* ------------------------------------------------------------- format */

/* s with a backslash before each byte of special (NOTES 4). */
static void put_escaped(cn_buf_t *out, const char *s, size_t n, const char *special)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c != '\0' && strchr(special, c) != NULL) {
            uint8_t *w = cn_buf_extend(out, 2);
            w[0] = '\\';
            w[1] = (uint8_t)c;
        } else {
            cn_buf_put_u8(out, (uint8_t)c);
        }
    }
}

static void put_float(cn_buf_t *out, double d)
{
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d || prec == 17)
            break;
    }
    cn_buf_put(out, tmp, strlen(tmp));
}

static void put_field(cn_buf_t *out, const eng_field_t *f)
{
    char tmp[32];
    put_escaped(out, f->name, strlen(f->name), ", =");
    cn_buf_put_u8(out, '=');
    switch (f->type) {
    case ENG_T_FLOAT:
        put_float(out, f->v.f);
        break;
    case ENG_T_INT:
        snprintf(tmp, sizeof tmp, "%" PRId64 "i", f->v.i);
        cn_buf_put(out, tmp, strlen(tmp));
        break;
    case ENG_T_BOOL:
        cn_buf_put(out, f->v.b ? "true" : "false", f->v.b ? 4 : 5);
        break;
    default:
        cn_buf_put_u8(out, '"');
        put_escaped(out, f->v.s.p, f->v.s.len, "\"\\");
        cn_buf_put_u8(out, '"');
        break;
    }
}

void mq_dec_lp_format(cn_buf_t *out, const eng_point_t *pts, size_t n)
{
    char tmp[32];
    for (size_t i = 0; i < n; i++) {
        const eng_point_t *pt = &pts[i];
        put_escaped(out, pt->measurement, strlen(pt->measurement), ", =");
        for (uint32_t t = 0; t < pt->ntags; t++) {
            cn_buf_put_u8(out, ',');
            put_escaped(out, pt->tags[t].key, strlen(pt->tags[t].key), ", =");
            cn_buf_put_u8(out, '=');
            put_escaped(out, pt->tags[t].val, strlen(pt->tags[t].val), ", =");
        }
        for (uint32_t f = 0; f < pt->nfields; f++) {
            cn_buf_put_u8(out, f ? ',' : ' ');
            put_field(out, &pt->fields[f]);
        }
        snprintf(tmp, sizeof tmp, " %" PRId64 "\n", pt->ts);
        cn_buf_put(out, tmp, strlen(tmp));
    }
}
