/* SPDX-License-Identifier: MIT */
/*
 * lexer.c - InfluxQL tokens: identifiers (bare or double-quoted), keywords
 * (case-insensitive), single-quoted strings, integers, floats (with
 * exponents), durations (1h30m), bind parameters ($name), operators and
 * punctuation.  Comments (-- to end of line, and C-style block comments)
 * and white space are skipped.
 *
 * A '/' is ambiguous: division, or the start of a regex literal.  The lexer
 * always returns it as QRY_TK_SLASH; the parser knows where an operand is
 * expected and then rescans from the same byte with qry__lex_regex().
 *
 * Also here: the literal helpers for durations and time strings, which the
 * planner and the HTTP layer share with the parser.
 *
 * NOTES
 * 1. Every token records the byte range it came from; errors report the
 *    start of the offending token, so the positions match InfluxDB's.
 * 2. NUL bytes are rejected everywhere, so unescaped strings in the tree
 *    are plain C strings.
 * 3. Escapes in strings and quoted identifiers: \\ \' \" \n; anything else
 *    is an error.  In regexes only \/ is an escape (it becomes /); every
 *    other backslash pair is kept verbatim for the regex engine.
 */
#include "parse_int.h"

#include <assert.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

static const char *const kw_names[] = {
#define QRY__KW_NAME(k) #k,
    QRY__KEYWORDS(QRY__KW_NAME)
#undef QRY__KW_NAME
};

static const unsigned char kw_lens[] = {
#define QRY__KW_LEN(k) sizeof(#k) - 1,
    QRY__KEYWORDS(QRY__KW_LEN)
#undef QRY__KW_LEN
};

const char *qry__kw_name(qry__tk_t kind)
{
    if (kind < QRY_TK_ALL || kind >= QRY_TK__COUNT)
        return NULL;
    return kw_names[kind - QRY_TK_ALL];
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static bool is_letter(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* Keywords by a hash of their lower-case spelling: open addressing in a
 * table of at least four slots a keyword, built once.  The linear scan it
 * replaces compared the 77 names with every identifier (6 k instructions
 * of a 200-byte query). */
enum { KW_SLOTS = 512, KW_MAXLEN = 16 };
static uint8_t kw_slot[KW_SLOTS]; /* keyword index + 1, 0 empty */
static pthread_once_t kw_once = PTHREAD_ONCE_INIT;

static uint32_t kw_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint32_t)lower((unsigned char)s[i])) * 16777619u;
    return h;
}

static void kw_build(void)
{
    static_assert(CN_ARRAY_LEN(kw_names) < 255 && CN_ARRAY_LEN(kw_names) * 4 <= KW_SLOTS,
                  "keyword table too small");
    for (size_t k = 0; k < CN_ARRAY_LEN(kw_names); k++) {
        assert(kw_lens[k] <= KW_MAXLEN);
        uint32_t h = kw_hash(kw_names[k], kw_lens[k]) & (KW_SLOTS - 1);
        while (kw_slot[h])
            h = (h + 1) & (KW_SLOTS - 1);
        kw_slot[h] = (uint8_t)(k + 1);
    }
}

/* The keyword token for s, or QRY_TK_IDENT. */
static qry__tk_t keyword(const char *s, size_t n)
{
    if (n == 0 || n > KW_MAXLEN)
        return QRY_TK_IDENT;
    pthread_once(&kw_once, kw_build);
    for (uint32_t h = kw_hash(s, n) & (KW_SLOTS - 1); kw_slot[h]; h = (h + 1) & (KW_SLOTS - 1)) {
        size_t k = kw_slot[h] - 1u;
        const char *w = kw_names[k];
        if (kw_lens[k] != n)
            continue;
        size_t i = 0;
        while (i < n && lower((unsigned char)w[i]) == lower((unsigned char)s[i]))
            i++;
        if (i == n)
            return (qry__tk_t)(QRY_TK_ALL + k);
    }
    return QRY_TK_IDENT;
}

bool qry__is_keyword(const char *s, size_t n)
{
    return n > 0 && keyword(s, n) != QRY_TK_IDENT;
}

bool qry__is_ctx_word(const char *s)
{
    static const char *const words[] = {"not", "like", "is", "null"};
    for (size_t k = 0; k < CN_ARRAY_LEN(words); k++) {
        const char *w = words[k];
        size_t i = 0;
        while (w[i] && lower((unsigned char)s[i]) == w[i])
            i++;
        if (!w[i] && !s[i])
            return true;
    }
    return false;
}

/* ------------------------------------------------------------------ errors */

int qry__error_at(qry_error_t *err, const char *src, size_t len, size_t off, const char *fmt, ...)
{
    if (!err)
        return CN_EINVAL;
    if (off > len)
        off = len;
    uint32_t line = 1, col = 1;
    for (size_t i = 0; i < off; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c == '\n') {
            line++;
            col = 1;
        } else if ((c & 0xC0) != 0x80) {
            col++; /* count characters, not UTF-8 continuation bytes */
        }
    }
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    err->code = CN_EINVAL;
    err->off = (uint32_t)off;
    err->line = line;
    err->col = col;
    snprintf(err->msg, sizeof err->msg, "error parsing query: %s at line %u, char %u", what,
             (unsigned)line, (unsigned)col);
    return CN_EINVAL;
}

static int lex_error(qry__lexer_t *lx, size_t off, const char *what)
{
    return qry__error_at(lx->err, lx->src, lx->len, off, "%s", what);
}

/* ------------------------------------------------------------- durations */

/* Reads one unit at s[*i]; returns its length in ns or 0 if none. */
static int64_t duration_unit(const char *s, size_t n, size_t *i)
{
    size_t k = *i;
    char c = s[k];
    char d = k + 1 < n ? s[k + 1] : 0;
    if (c == 'n' && d == 's') {
        *i = k + 2;
        return 1;
    }
    if (c == 'm' && d == 's') {
        *i = k + 2;
        return 1000000;
    }
    if ((unsigned char)c == 0xC2 && (unsigned char)d == 0xB5) { /* µ */
        *i = k + 2;
        return 1000;
    }
    static const struct {
        char c;
        int64_t ns;
    } one[] = {{'u', 1000},
               {'s', 1000000000},
               {'m', INT64_C(60000000000)},
               {'h', INT64_C(3600000000000)},
               {'d', INT64_C(86400000000000)},
               {'w', INT64_C(604800000000000)}};
    for (size_t u = 0; u < CN_ARRAY_LEN(one); u++) {
        if (one[u].c == c) {
            *i = k + 1;
            return one[u].ns;
        }
    }
    return 0;
}

int qry_parse_duration(const char *s, size_t n, int64_t *ns)
{
    int64_t total = 0;
    size_t i = 0;
    if (n == 0)
        return CN_EINVAL;
    while (i < n) {
        if (!is_digit(s[i]))
            return CN_EINVAL;
        int64_t v = 0;
        bool big = false;
        while (i < n && is_digit(s[i])) {
            if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[i] - '0', &v))
                big = true;
            i++;
        }
        if (i >= n)
            return CN_EINVAL; /* a number without a unit */
        int64_t unit = duration_unit(s, n, &i);
        if (unit == 0)
            return CN_EINVAL;
        if (big || __builtin_mul_overflow(v, unit, &v) || __builtin_add_overflow(total, v, &total))
            return CN_ELIMIT;
    }
    *ns = total;
    return 0;
}

void qry_format_duration(int64_t ns, cn_buf_t *out)
{
    static const struct {
        const char *name;
        uint64_t ns;
    } units[] = {{"w", UINT64_C(604800000000000)},
                 {"d", UINT64_C(86400000000000)},
                 {"h", UINT64_C(3600000000000)},
                 {"m", UINT64_C(60000000000)},
                 {"s", UINT64_C(1000000000)},
                 {"ms", 1000000},
                 {"u", 1000},
                 {"ns", 1}};
    char tmp[48];
    if (ns == 0) {
        cn_buf_put(out, "0s", 2);
        return;
    }
    uint64_t mag = ns < 0 ? (uint64_t)(-(ns + 1)) + 1 : (uint64_t)ns;
    size_t u = 0;
    while (mag % units[u].ns != 0)
        u++;
    int k = snprintf(tmp, sizeof tmp, "%s%llu%s", ns < 0 ? "-" : "",
                     (unsigned long long)(mag / units[u].ns), units[u].name);
    cn_buf_put(out, tmp, (size_t)k);
}

/* ------------------------------------------------------------------ times */

int qry_parse_time(const char *s, size_t n, int64_t *ns)
{
    /* Bare dates and zone-less times are UTC; more than 9 fraction digits
     * are an error (engine/base/time.c). */
    return cn_time_parse(s, n, 0, ns) == 0 ? 0 : CN_EINVAL;
}

void qry_format_time(int64_t ns, cn_buf_t *out)
{
    cn_time_format(ns, out);
}

/* ----------------------------------------------------------------- tokens */

static void skip_space(qry__lexer_t *lx, size_t *bad_comment)
{
    const char *s = lx->src;
    size_t n = lx->len, i = lx->pos;
    *bad_comment = SIZE_MAX;
    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' ||
                         s[i] == '\f' || s[i] == '\v'))
            i++;
        if (i + 1 < n && s[i] == '-' && s[i + 1] == '-') {
            while (i < n && s[i] != '\n')
                i++;
            continue;
        }
        if (i + 1 < n && s[i] == '/' && s[i + 1] == '*') {
            size_t start = i;
            i += 2;
            while (i + 1 < n && !(s[i] == '*' && s[i + 1] == '/'))
                i++;
            if (i + 1 >= n) {
                *bad_comment = start;
                i = n;
                break;
            }
            i += 2;
            continue;
        }
        break;
    }
    lx->pos = i;
}

/* Scans a quoted string or identifier at lx->pos (the opening quote) in two
 * passes: find the end and validate escapes, then unescape into the arena. */
static int lex_quoted(qry__lexer_t *lx, qry__tok_t *t)
{
    const char *s = lx->src;
    size_t n = lx->len, start = lx->pos, i = start + 1;
    char q = s[start];
    const char *unterminated = q == '\'' ? "unterminated string" : "unterminated quoted identifier";
    for (;;) {
        if (i >= n || s[i] == '\n' || s[i] == '\0')
            return lex_error(lx, start, unterminated);
        if (s[i] == q)
            break;
        if (s[i] == '\\') {
            char e = i + 1 < n ? s[i + 1] : 0;
            if (e != '\\' && e != '\'' && e != '"' && e != 'n')
                return lex_error(lx, i, "bad escape in string");
            i++;
        }
        i++;
    }
    char *d = qry__arena_alloc(lx->arena, i - start);
    size_t k = 0;
    for (size_t j = start + 1; j < i; j++) {
        if (s[j] == '\\') {
            j++;
            d[k++] = s[j] == 'n' ? '\n' : s[j];
        } else {
            d[k++] = s[j];
        }
    }
    d[k] = 0;
    t->kind = q == '\'' ? QRY_TK_STRING : QRY_TK_IDENT;
    t->quoted = q == '"';
    t->s = d;
    lx->pos = i + 1;
    return 0;
}

static bool is_mu(const char *s, size_t n, size_t i)
{
    return i + 1 < n && (unsigned char)s[i] == 0xC2 && (unsigned char)s[i + 1] == 0xB5;
}

/* 12, 1.5, .5, 1e9, 2.5E-3 and durations (an integer run straight into a
 * unit: 10s, 1h30m, 5µs). */
static int lex_number(qry__lexer_t *lx, qry__tok_t *t)
{
    const char *s = lx->src;
    size_t n = lx->len, start = lx->pos, i = start;
    bool flt = false;
    while (i < n && is_digit(s[i]))
        i++;
    if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1])) {
        flt = true;
        i++;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j < n && is_digit(s[j])) {
            flt = true;
            i = j;
            while (i < n && is_digit(s[i]))
                i++;
        }
    }
    t->kind = flt ? QRY_TK_NUMBER : QRY_TK_INTEGER;
    if (!flt && i < n && (is_letter(s[i]) || is_mu(s, n, i))) {
        while (i < n && (is_letter(s[i]) || is_digit(s[i]) || is_mu(s, n, i)))
            i += is_mu(s, n, i) ? 2 : 1;
        int rc = qry_parse_duration(s + start, i - start, &t->i);
        if (rc == CN_ELIMIT)
            return lex_error(lx, start, "duration out of range");
        if (rc < 0)
            return qry__error_at(lx->err, s, n, start, "invalid duration %.*s",
                                 (int)CN_MIN(i - start, 64), s + start);
        t->kind = QRY_TK_DUR;
    }
    lx->pos = i;
    return 0;
}

static int lex_word(qry__lexer_t *lx, qry__tok_t *t)
{
    const char *s = lx->src;
    size_t n = lx->len, start = lx->pos, i = start;
    while (i < n && (is_letter(s[i]) || is_digit(s[i])))
        i++;
    t->kind = keyword(s + start, i - start);
    if (t->kind == QRY_TK_IDENT)
        t->s = qry__arena_strndup(lx->arena, s + start, i - start);
    lx->pos = i;
    return 0;
}

/* Operators and punctuation: returns the length matched, 0 for none. */
static size_t lex_op(const char *s, size_t left, qry__tk_t *kind)
{
    char c = s[0], d = left > 1 ? s[1] : 0;
    static const struct {
        char c, d;
        qry__tk_t kind;
    } two[] = {{'!', '=', QRY_TK_NEQ},   {'<', '>', QRY_TK_NEQ},     {'<', '=', QRY_TK_LTE},
               {'>', '=', QRY_TK_GTE},   {'=', '~', QRY_TK_EQREGEX}, {'!', '~', QRY_TK_NEQREGEX},
               {':', ':', QRY_TK_DCOLON}};
    static const struct {
        char c;
        qry__tk_t kind;
    } one[] = {{'+', QRY_TK_PLUS},    {'-', QRY_TK_MINUS}, {'*', QRY_TK_STAR}, {'/', QRY_TK_SLASH},
               {'%', QRY_TK_PERCENT}, {'&', QRY_TK_AMP},   {'|', QRY_TK_PIPE}, {'^', QRY_TK_CARET},
               {'=', QRY_TK_EQ},      {'<', QRY_TK_LT},    {'>', QRY_TK_GT},   {'(', QRY_TK_LPAREN},
               {')', QRY_TK_RPAREN},  {',', QRY_TK_COMMA}, {'.', QRY_TK_DOT},  {':', QRY_TK_COLON},
               {';', QRY_TK_SEMI}};
    for (size_t k = 0; k < CN_ARRAY_LEN(two); k++) {
        if (two[k].c == c && two[k].d == d) {
            *kind = two[k].kind;
            return 2;
        }
    }
    for (size_t k = 0; k < CN_ARRAY_LEN(one); k++) {
        if (one[k].c == c) {
            *kind = one[k].kind;
            return 1;
        }
    }
    return 0;
}

/* Turns the PARAM token t into the token its bound value spells. */
static int bind_param(qry__lexer_t *lx, qry__tok_t *t)
{
    const qry_param_t *b = qry__param_find(lx->params, t->s);
    const char *why = NULL;
    if (!b)
        why = t->s;
    else if (b->kind == QRY_PARAM_INVALID)
        why = b->s;
    if (why) {
        if (lx->err) {
            memset(lx->err, 0, sizeof *lx->err);
            lx->err->code = CN_EINVAL;
            lx->err->off = t->off;
            snprintf(lx->err->msg, sizeof lx->err->msg, "error parsing query: missing parameter: %s",
                     why);
        }
        return CN_EINVAL;
    }
    switch (b->kind) {
    case QRY_PARAM_IDENT:
        t->kind = QRY_TK_IDENT;
        t->quoted = true;
        t->s = qry__arena_strndup(lx->arena, b->s, strlen(b->s));
        break;
    case QRY_PARAM_STRING:
        t->kind = QRY_TK_STRING;
        t->s = qry__arena_strndup(lx->arena, b->s, strlen(b->s));
        break;
    case QRY_PARAM_REGEX:
        t->kind = QRY_TK_REGEX;
        t->s = qry__arena_strndup(lx->arena, b->s, strlen(b->s));
        break;
    case QRY_PARAM_INTEGER:
        t->kind = QRY_TK_INTEGER;
        t->bound = true;
        t->i = b->i;
        break;
    case QRY_PARAM_NUMBER:
        t->kind = QRY_TK_NUMBER;
        t->bound = true;
        t->f = b->f;
        break;
    case QRY_PARAM_BOOL: t->kind = b->b ? QRY_TK_TRUE : QRY_TK_FALSE; break;
    case QRY_PARAM_DURATION:
        t->kind = QRY_TK_DUR;
        t->i = b->i;
        break;
    case QRY_PARAM_INVALID: break;
    }
    return 0;
}

static int lex_param(qry__lexer_t *lx, qry__tok_t *t)
{
    const char *s = lx->src;
    size_t start = lx->pos, i = start + 1;
    while (i < lx->len && (is_letter(s[i]) || is_digit(s[i])))
        i++;
    if (i == start + 1)
        return lex_error(lx, start, "invalid bind parameter");
    t->kind = QRY_TK_PARAM;
    t->s = qry__arena_strndup(lx->arena, s + start + 1, i - start - 1);
    lx->pos = i;
    return lx->bind ? bind_param(lx, t) : 0;
}

int qry__lex_next(qry__lexer_t *lx, qry__tok_t *t)
{
    size_t bad_comment;
    memset(t, 0, sizeof *t);
    skip_space(lx, &bad_comment);
    if (bad_comment != SIZE_MAX)
        return lex_error(lx, bad_comment, "unterminated comment");
    const char *s = lx->src;
    size_t n = lx->len, i = lx->pos;
    t->off = (uint32_t)i;
    int rc = 0;
    if (i >= n) {
        t->kind = QRY_TK_EOF;
    } else if (is_letter(s[i])) {
        rc = lex_word(lx, t);
    } else if (is_digit(s[i]) || (s[i] == '.' && i + 1 < n && is_digit(s[i + 1]))) {
        rc = lex_number(lx, t);
    } else if (s[i] == '\'' || s[i] == '"') {
        rc = lex_quoted(lx, t);
    } else if (s[i] == '$') {
        rc = lex_param(lx, t);
    } else {
        size_t k = lex_op(s + i, n - i, &t->kind);
        if (k == 0) {
            unsigned char c = (unsigned char)s[i];
            if (c >= 0x20 && c < 0x7f)
                return qry__error_at(lx->err, s, n, i, "illegal character '%c'", c);
            return qry__error_at(lx->err, s, n, i, "illegal character 0x%02x", c);
        }
        lx->pos = i + k;
    }
    t->end = (uint32_t)lx->pos;
    return rc;
}

int qry__lex_regex(qry__lexer_t *lx, size_t at, qry__tok_t *t)
{
    const char *s = lx->src;
    size_t n = lx->len, i = at + 1;
    assert(at < n && s[at] == '/');
    for (;;) {
        if (i >= n || s[i] == '\n' || s[i] == '\0')
            return lex_error(lx, at, "unterminated regex");
        if (s[i] == '/')
            break;
        i += s[i] == '\\' && i + 1 < n && s[i + 1] != '\n' && s[i + 1] != '\0' ? 2 : 1;
    }
    char *d = qry__arena_alloc(lx->arena, i - at);
    size_t k = 0;
    for (size_t j = at + 1; j < i; j++) {
        if (s[j] == '\\' && s[j + 1] == '/') {
            d[k++] = '/';
            j++;
        } else if (s[j] == '\\') {
            d[k++] = s[j++];
            d[k++] = s[j];
        } else {
            d[k++] = s[j];
        }
    }
    d[k] = 0;
    memset(t, 0, sizeof *t);
    t->kind = QRY_TK_REGEX;
    t->off = (uint32_t)at;
    t->end = (uint32_t)(i + 1);
    t->s = d;
    lx->pos = i + 1;
    return 0;
}
