/* SPDX-License-Identifier: MIT */
/*
 * eval_fn.c - the rule language's built-in functions and LIKE matching.
 *
 *   math     abs ceil floor round(x[, digits]) sqrt pow(x, y) exp log log10
 *            log2 sin cos tan asin acos atan atan2(y, x)
 *   strings  lower upper trim ltrim rtrim length substr(s, start[, len])
 *            concat(a, ...) replace(s, from, to) contains(s, sub)
 *            startswith(s, prefix) endswith(s, suffix)
 *   convert  str(x) int(x) float(x) coalesce(a, ...)
 *   message  topic(n) json_field(doc, 'a.b[0].c') now()
 *   time     format_time(ns, 'RFC3339' | strftime format)
 *
 * Unless a function says otherwise a NULL argument makes its result NULL.
 * Strings count characters as UTF-8 code points (length, substr, '_' in
 * LIKE); lower/upper/trim change ASCII only.  substr's start is 0-based
 * (EMQX's convention); a negative start or length is an error.  ceil,
 * floor, round and abs keep integers integers; the other math functions
 * return floats (NaN and infinities render as JSON null).
 */
#include "eval_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* --------------------------------------------------------------- helpers */

static int need(qry_row_t *r, const char *fn, const qry_val_t *v, qry_vkind_t t)
{
    if (v->t == t || (t == QRY_V_FLOAT && v->t == QRY_V_INT))
        return 0;
    return qry__eval_fail(r, CN_ETYPE, "type error: %s() needs %s, got %s", fn,
                          t == QRY_V_FLOAT ? "a number" : qry_vkind_str(t), qry_vkind_str(v->t));
}

static double num(const qry_val_t *v)
{
    return v->t == QRY_V_INT ? (double)v->u.i : v->u.f;
}

static void set_f(qry_val_t *o, double f)
{
    o->t = QRY_V_FLOAT;
    o->u.f = f;
}

static void set_i(qry_val_t *o, int64_t i)
{
    o->t = QRY_V_INT;
    o->u.i = i;
}

static void set_b(qry_val_t *o, bool b)
{
    o->t = QRY_V_BOOL;
    o->u.b = b;
}

/* Byte offset of character k of s (n bytes), or n past the end. */
static size_t char_off(const char *s, size_t n, size_t k)
{
    size_t i = 0;
    while (i < n && k > 0) {
        i++;
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
        k--;
    }
    return i;
}

static size_t char_count(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* ------------------------------------------------------------------- math */

static int fn_abs(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)n;
    QRY__TRY(need(r, "abs", a, QRY_V_FLOAT));
    if (a->t == QRY_V_FLOAT) {
        set_f(o, fabs(a->u.f));
        return 0;
    }
    if (a->u.i == INT64_MIN)
        return qry__eval_fail(r, CN_ELIMIT, "integer overflow");
    set_i(o, a->u.i < 0 ? -a->u.i : a->u.i);
    return 0;
}

/* ceil, floor, round share this: integers stay as they are. */
static int int_or(qry_row_t *r, const char *fn, const qry_val_t *a, double (*f)(double),
                  qry_val_t *o)
{
    QRY__TRY(need(r, fn, a, QRY_V_FLOAT));
    if (a->t == QRY_V_INT)
        *o = *a;
    else
        set_f(o, f(a->u.f));
    return 0;
}

static int fn_ceil(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)n;
    return int_or(r, "ceil", a, ceil, o);
}

static int fn_floor(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)n;
    return int_or(r, "floor", a, floor, o);
}

static int fn_round(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    if (n == 1)
        return int_or(r, "round", a, round, o);
    QRY__TRY(need(r, "round", &a[0], QRY_V_FLOAT));
    QRY__TRY(need(r, "round", &a[1], QRY_V_INT));
    if (a[0].t == QRY_V_INT || a[1].u.i > 17) {
        *o = a[0];
        return 0;
    }
    if (a[1].u.i < 0)
        return qry__eval_fail(r, CN_EINVAL, "round(): negative number of digits");
    double s = pow(10, (double)a[1].u.i);
    set_f(o, round(a[0].u.f * s) / s);
    return 0;
}

typedef double (*math1_t)(double);

static int math1(qry_row_t *r, const char *fn, math1_t f, const qry_val_t *a, qry_val_t *o)
{
    QRY__TRY(need(r, fn, a, QRY_V_FLOAT));
    set_f(o, f(num(a)));
    return 0;
}

#define MATH1(name, cfn)                                                                           \
    static int fn_##name(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)               \
    {                                                                                              \
        (void)n;                                                                                   \
        return math1(r, #name, cfn, a, o);                                                         \
    }
MATH1(sqrt, sqrt)
MATH1(exp, exp)
MATH1(log, log)
MATH1(log10, log10)
MATH1(log2, log2)
MATH1(sin, sin)
MATH1(cos, cos)
MATH1(tan, tan)
MATH1(asin, asin)
MATH1(acos, acos)
MATH1(atan, atan)

static int fn_pow(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)n;
    QRY__TRY(need(r, "pow", &a[0], QRY_V_FLOAT));
    QRY__TRY(need(r, "pow", &a[1], QRY_V_FLOAT));
    set_f(o, pow(num(&a[0]), num(&a[1])));
    return 0;
}

static int fn_atan2(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)n;
    QRY__TRY(need(r, "atan2", &a[0], QRY_V_FLOAT));
    QRY__TRY(need(r, "atan2", &a[1], QRY_V_FLOAT));
    set_f(o, atan2(num(&a[0]), num(&a[1])));
    return 0;
}

/* ---------------------------------------------------------------- strings */

static int map_case(qry_row_t *r, const char *fn, const qry_val_t *a, bool up, qry_val_t *o)
{
    QRY__TRY(need(r, fn, a, QRY_V_STR));
    *o = qry__str_copy(r, a->u.s.p, a->u.s.len);
    char *d = (char *)o->u.s.p;
    for (size_t i = 0; i < a->u.s.len; i++) {
        if (up && d[i] >= 'a' && d[i] <= 'z')
            d[i] = (char)(d[i] - 32);
        else if (!up && d[i] >= 'A' && d[i] <= 'Z')
            d[i] = (char)(d[i] + 32);
    }
    return 0;
}

static int fn_lower(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)n;
    return map_case(r, "lower", a, false, o);
}

static int fn_upper(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)n;
    return map_case(r, "upper", a, true, o);
}

static bool space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int trim(qry_row_t *r, const char *fn, const qry_val_t *a, bool left, bool right,
                qry_val_t *o)
{
    QRY__TRY(need(r, fn, a, QRY_V_STR));
    const char *s = a->u.s.p;
    size_t i = 0, j = a->u.s.len;
    while (left && i < j && space(s[i]))
        i++;
    while (right && j > i && space(s[j - 1]))
        j--;
    o->t = QRY_V_STR;
    o->u.s.p = s + i;
    o->u.s.len = j - i;
    return 0;
}

static int fn_trim(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)n;
    return trim(r, "trim", a, true, true, o);
}

static int fn_ltrim(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)n;
    return trim(r, "ltrim", a, true, false, o);
}

static int fn_rtrim(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)n;
    return trim(r, "rtrim", a, false, true, o);
}

static int fn_length(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)n;
    QRY__TRY(need(r, "length", a, QRY_V_STR));
    set_i(o, (int64_t)char_count(a->u.s.p, a->u.s.len));
    return 0;
}

static int fn_substr(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    QRY__TRY(need(r, "substr", &a[0], QRY_V_STR));
    QRY__TRY(need(r, "substr", &a[1], QRY_V_INT));
    if (n == 3)
        QRY__TRY(need(r, "substr", &a[2], QRY_V_INT));
    if (a[1].u.i < 0 || (n == 3 && a[2].u.i < 0))
        return qry__eval_fail(r, CN_EINVAL, "substr(): negative start or length");
    const char *s = a[0].u.s.p;
    size_t len = a[0].u.s.len, i = char_off(s, len, (size_t)a[1].u.i), j = len;
    if (n == 3)
        j = i + char_off(s + i, len - i, (size_t)a[2].u.i);
    o->t = QRY_V_STR;
    o->u.s.p = s + i;
    o->u.s.len = j - i;
    return 0;
}

static int fn_concat(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    cn_buf_t b;
    cn_buf_init(&b);
    for (uint32_t i = 0; i < n; i++)
        qry_val_text(&a[i], &b); /* NULLs add nothing */
    if (b.len > QRY__MAX_STR) {
        cn_buf_free(&b);
        return qry__eval_fail(r, CN_ELIMIT, "concat(): result too long");
    }
    *o = qry__str_copy(r, (const char *)b.p, b.len);
    cn_buf_free(&b);
    return 0;
}

static int fn_replace(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)n;
    for (int k = 0; k < 3; k++)
        QRY__TRY(need(r, "replace", &a[k], QRY_V_STR));
    const char *s = a[0].u.s.p, *f = a[1].u.s.p, *t = a[2].u.s.p;
    size_t sn = a[0].u.s.len, fnn = a[1].u.s.len, tn = a[2].u.s.len;
    if (fnn == 0) {
        *o = a[0];
        return 0;
    }
    cn_buf_t b;
    cn_buf_init(&b);
    size_t i = 0;
    while (i < sn) {
        if (sn - i >= fnn && memcmp(s + i, f, fnn) == 0) {
            cn_buf_put(&b, t, tn);
            i += fnn;
        } else {
            cn_buf_put_u8(&b, (uint8_t)s[i++]);
        }
        if (b.len > QRY__MAX_STR) {
            cn_buf_free(&b);
            return qry__eval_fail(r, CN_ELIMIT, "replace(): result too long");
        }
    }
    *o = qry__str_copy(r, (const char *)b.p, b.len);
    cn_buf_free(&b);
    return 0;
}

static bool has_at(const qry_val_t *s, const qry_val_t *x, size_t at)
{
    return x->u.s.len == 0 || memcmp(s->u.s.p + at, x->u.s.p, x->u.s.len) == 0;
}

/* kind: 0 contains, 1 startswith, 2 endswith */
static int str_test(qry_row_t *r, const char *fn, const qry_val_t *a, int kind, qry_val_t *o)
{
    QRY__TRY(need(r, fn, &a[0], QRY_V_STR));
    QRY__TRY(need(r, fn, &a[1], QRY_V_STR));
    size_t sn = a[0].u.s.len, xn = a[1].u.s.len;
    bool hit = false;
    if (xn <= sn) {
        if (kind == 1)
            hit = has_at(&a[0], &a[1], 0);
        else if (kind == 2)
            hit = has_at(&a[0], &a[1], sn - xn);
        else
            for (size_t i = 0; i + xn <= sn && !hit; i++)
                hit = has_at(&a[0], &a[1], i);
    }
    set_b(o, hit);
    return 0;
}

static int fn_contains(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)n;
    return str_test(r, "contains", a, 0, o);
}

static int fn_startswith(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)n;
    return str_test(r, "startswith", a, 1, o);
}

static int fn_endswith(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)n;
    return str_test(r, "endswith", a, 2, o);
}

/* -------------------------------------------------------------- converters */

static int fn_str(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)n;
    if (a->t == QRY_V_STR) {
        *o = *a;
        return 0;
    }
    cn_buf_t b;
    cn_buf_init(&b);
    qry_val_text(a, &b);
    *o = qry__str_copy(r, (const char *)b.p, b.len);
    cn_buf_free(&b);
    return 0;
}

/* Parses a whole string as a number; *is_int says which. */
static bool parse_num(const qry_val_t *s, int64_t *i, double *f, bool *is_int)
{
    char tmp[64];
    if (s->u.s.len == 0 || s->u.s.len >= sizeof tmp)
        return false;
    memcpy(tmp, s->u.s.p, s->u.s.len);
    tmp[s->u.s.len] = 0;
    char *end;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (*end == 0 && errno == 0) {
        *i = v;
        *is_int = true;
        return true;
    }
    *f = strtod(tmp, &end);
    *is_int = false;
    return *end == 0 && !space(tmp[0]);
}

static int fn_int(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)n;
    double f;
    switch (a->t) {
    case QRY_V_INT:
        *o = *a;
        return 0;
    case QRY_V_BOOL:
        set_i(o, a->u.b);
        return 0;
    case QRY_V_STR: {
        bool is_int;
        int64_t i;
        if (!parse_num(a, &i, &f, &is_int))
            return qry__eval_fail(r, CN_EINVAL, "int(): '%.*s' is not a number",
                                  (int)CN_MIN(a->u.s.len, 64), a->u.s.p);
        if (is_int) {
            set_i(o, i);
            return 0;
        }
        break;
    }
    default:
        f = a->u.f;
        break;
    }
    if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0))
        return qry__eval_fail(r, CN_ELIMIT, "int(): value out of range");
    set_i(o, (int64_t)f);
    return 0;
}

static int fn_float(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)n;
    if (a->t == QRY_V_STR) {
        bool is_int;
        int64_t i;
        double f;
        if (!parse_num(a, &i, &f, &is_int))
            return qry__eval_fail(r, CN_EINVAL, "float(): '%.*s' is not a number",
                                  (int)CN_MIN(a->u.s.len, 64), a->u.s.p);
        set_f(o, is_int ? (double)i : f);
        return 0;
    }
    set_f(o, a->t == QRY_V_BOOL ? (double)a->u.b : num(a));
    return 0;
}

static int fn_coalesce(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)r;
    o->t = QRY_V_NULL;
    for (uint32_t i = 0; i < n; i++) {
        if (a[i].t != QRY_V_NULL) {
            *o = a[i];
            break;
        }
    }
    return 0;
}

/* ----------------------------------------------------------------- message */

static int fn_topic(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)n;
    QRY__TRY(need(r, "topic", a, QRY_V_INT));
    qry__row_levels(r);
    if (a->u.i < 1 || (uint64_t)a->u.i > r->nlvl) {
        o->t = QRY_V_NULL;
        return 0;
    }
    size_t k = (size_t)a->u.i - 1;
    o->t = QRY_V_STR;
    o->u.s.p = r->m->topic + r->lvl_off[k];
    o->u.s.len = r->lvl_len[k];
    return 0;
}

static void from_json(qry_row_t *r, const qry_json_t *j, bool copy, qry_val_t *o)
{
    switch (j ? j->kind : QRY_J_NULL) {
    case QRY_J_BOOL:
        set_b(o, j->b);
        break;
    case QRY_J_NUM:
        if (j->is_int)
            set_i(o, j->i);
        else
            set_f(o, j->f);
        break;
    case QRY_J_STR:
        *o = copy ? qry__str_copy(r, j->s, j->slen) : (qry_val_t){.t = QRY_V_STR};
        if (!copy) {
            o->u.s.p = j->s;
            o->u.s.len = j->slen;
        }
        break;
    case QRY_J_ARR:
    case QRY_J_OBJ:
        *o = copy ? qry__str_copy(r, j->raw, j->raw_len) : (qry_val_t){.t = QRY_V_STR};
        if (!copy) {
            o->u.s.p = j->raw;
            o->u.s.len = j->raw_len;
        }
        break;
    default:
        o->t = QRY_V_NULL;
        break;
    }
}

static int fn_json_field(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)n;
    QRY__TRY(need(r, "json_field", &a[0], QRY_V_STR));
    QRY__TRY(need(r, "json_field", &a[1], QRY_V_STR));
    const qry_json_t *root;
    const qry_msg_t *m = r->m;
    bool is_payload = a[0].u.s.p == (const char *)m->payload && a[0].u.s.len == m->payload_len;
    int rc;
    if (is_payload) {
        if (!r->pdone) {
            r->prc = qry_jdoc_parse(r->pdoc, a[0].u.s.p, a[0].u.s.len, &r->proot, NULL);
            r->pdone = true;
        }
        rc = r->prc;
        root = r->proot;
    } else {
        rc = qry_jdoc_parse(r->adoc, a[0].u.s.p, a[0].u.s.len, &root, NULL);
    }
    if (rc < 0)
        return qry__eval_fail(r, CN_EINVAL, "json_field(): payload is not valid JSON");
    from_json(r, qry_json_path(root, a[1].u.s.p, a[1].u.s.len), !is_payload, o);
    return 0;
}

static int fn_now(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)r, (void)a, (void)n;
    set_i(o, cn_now_ns());
    return 0;
}

static int fn_format_time(qry_row_t *r, const qry_val_t *a, uint32_t n, qry_val_t *o)
{
    (void)n;
    QRY__TRY(need(r, "format_time", &a[0], QRY_V_FLOAT));
    QRY__TRY(need(r, "format_time", &a[1], QRY_V_STR));
    int64_t ns;
    if (a[0].t == QRY_V_INT)
        ns = a[0].u.i;
    else if (a[0].u.f >= -9.2e18 && a[0].u.f <= 9.2e18)
        ns = (int64_t)a[0].u.f;
    else
        return qry__eval_fail(r, CN_EINVAL, "format_time(): time out of range");
    char fmt[128];
    if (a[1].u.s.len >= sizeof fmt)
        return qry__eval_fail(r, CN_EINVAL, "format_time(): format too long");
    memcpy(fmt, a[1].u.s.p, a[1].u.s.len);
    fmt[a[1].u.s.len] = 0;
    cn_buf_t b;
    cn_buf_init(&b);
    if (strcmp(fmt, "RFC3339") == 0 || strcmp(fmt, "rfc3339") == 0) {
        qry_format_time(ns, &b);
    } else {
        time_t secs = (time_t)(ns >= 0 ? ns / 1000000000 : -((-(ns + 1)) / 1000000000) - 1);
        struct tm tm;
        char out[512];
        size_t k = 0;
        /* The format is the rule author's strftime pattern by design. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        if (gmtime_r(&secs, &tm))
            k = strftime(out, sizeof out, fmt, &tm);
#pragma GCC diagnostic pop
        cn_buf_put(&b, out, k);
    }
    *o = qry__str_copy(r, (const char *)b.p, b.len);
    cn_buf_free(&b);
    return 0;
}

/* ------------------------------------------------------------------- table */

static const qry__fn_def_t fns[] = {
    {"abs", 1, 1, true, fn_abs},
    {"acos", 1, 1, true, fn_acos},
    {"asin", 1, 1, true, fn_asin},
    {"atan", 1, 1, true, fn_atan},
    {"atan2", 2, 2, true, fn_atan2},
    {"ceil", 1, 1, true, fn_ceil},
    {"coalesce", 1, 255, false, fn_coalesce},
    {"concat", 1, 255, false, fn_concat},
    {"contains", 2, 2, true, fn_contains},
    {"cos", 1, 1, true, fn_cos},
    {"endswith", 2, 2, true, fn_endswith},
    {"exp", 1, 1, true, fn_exp},
    {"float", 1, 1, true, fn_float},
    {"floor", 1, 1, true, fn_floor},
    {"format_time", 2, 2, true, fn_format_time},
    {"int", 1, 1, true, fn_int},
    {"json_field", 2, 2, true, fn_json_field},
    {"length", 1, 1, true, fn_length},
    {"log", 1, 1, true, fn_log},
    {"log10", 1, 1, true, fn_log10},
    {"log2", 1, 1, true, fn_log2},
    {"lower", 1, 1, true, fn_lower},
    {"ltrim", 1, 1, true, fn_ltrim},
    {"now", 0, 0, true, fn_now},
    {"pow", 2, 2, true, fn_pow},
    {"replace", 3, 3, true, fn_replace},
    {"round", 1, 2, true, fn_round},
    {"rtrim", 1, 1, true, fn_rtrim},
    {"sin", 1, 1, true, fn_sin},
    {"sqrt", 1, 1, true, fn_sqrt},
    {"startswith", 2, 2, true, fn_startswith},
    {"str", 1, 1, true, fn_str},
    {"substr", 2, 3, true, fn_substr},
    {"tan", 1, 1, true, fn_tan},
    {"topic", 1, 1, true, fn_topic},
    {"trim", 1, 1, true, fn_trim},
    {"upper", 1, 1, true, fn_upper},
};

const qry__fn_def_t *qry__fn_find(const char *name, uint32_t *idx)
{
    for (uint32_t i = 0; i < CN_ARRAY_LEN(fns); i++) {
        if (strcmp(fns[i].name, name) == 0) {
            *idx = i;
            return &fns[i];
        }
    }
    return NULL;
}

const qry__fn_def_t *qry__fn_at(uint32_t idx)
{
    return &fns[idx];
}

bool qry__fn_is_aggregate(const char *name)
{
    static const char *const agg[] = {
        "count",
        "distinct",
        "integral",
        "mean",
        "median",
        "mode",
        "spread",
        "stddev",
        "sum",
        "bottom",
        "first",
        "last",
        "max",
        "min",
        "percentile",
        "sample",
        "top",
        "derivative",
        "difference",
        "elapsed",
        "moving_average",
        "non_negative_derivative",
        "cumulative_sum",
        "exponential_moving_average",
        "double_exponential_moving_average",
        "triple_exponential_moving_average",
        "relative_strength_index",
        "chande_momentum_oscillator",
        "kaufmans_efficiency_ratio",
        "triple_exponential_derivative",
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(agg); i++)
        if (strcmp(agg[i], name) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------------- LIKE */

/* Length of the pattern element at p[i]: an escaped character counts as
 * the character after the backslash. */
static size_t utf8_step(const char *s, size_t n, size_t i)
{
    size_t j = i + 1;
    while (j < n && ((unsigned char)s[j] & 0xC0) == 0x80)
        j++;
    return j - i;
}

/* Iterative wildcard matching with one backtrack point (the last '%'):
 * O(n * m) worst case, no recursion. */
bool qry__like(const char *s, size_t n, const char *p, size_t pn)
{
    size_t i = 0, j = 0, star_j = SIZE_MAX, star_i = 0;
    while (i < n) {
        if (j < pn && p[j] == '%') {
            star_j = ++j;
            star_i = i;
            continue;
        }
        if (j < pn && p[j] == '_') {
            i += utf8_step(s, n, i);
            j++;
            continue;
        }
        if (j < pn) {
            size_t pj = j, k;
            if (p[pj] == '\\' && pj + 1 < pn)
                pj++;
            k = utf8_step(p, pn, pj);
            if (n - i >= k && memcmp(s + i, p + pj, k) == 0) {
                i += k;
                j = pj + k;
                continue;
            }
        }
        if (star_j == SIZE_MAX)
            return false;
        star_i += utf8_step(s, n, star_i);
        i = star_i;
        j = star_j;
    }
    while (j < pn && p[j] == '%')
        j++;
    return j == pn;
}
