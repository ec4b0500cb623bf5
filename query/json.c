/* SPDX-License-Identifier: MIT */
/*
 * json.c - the small JSON DOM of eval.h (request bodies, rule files,
 * json_field() over raw payloads) and the JSON string writer the rule
 * outputs and the HTTP API share.
 *
 * NOTES
 * 1. Strict RFC 8259: no comments, no trailing commas, no leading zeros, no
 *    bare control characters in strings, UTF-8 validated, surrogate pairs
 *    combined (a lone surrogate is an error).  Nesting is capped at
 *    MAX_DEPTH so recursion cannot exhaust the stack.
 * 2. Every node, string and array lives in the document's arena (a list of
 *    chunks kept across parses), so a document reused per message
 *    allocates nothing in the steady state.
 */
#include "eval_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_DEPTH 64
#define CHUNK     (16 * 1024)

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_ < 0)                                                                               \
            return rc_;                                                                            \
    } while (0)

typedef struct jchunk {
    struct jchunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} jchunk_t;

struct qry_jdoc {
    jchunk_t *head; /* chunk being filled */
    jchunk_t *all;  /* every chunk, for reuse and free */
};

int qry_jdoc_new(qry_jdoc_t **out)
{
    *out = cn_calloc(1, sizeof(qry_jdoc_t));
    return 0;
}

void qry_jdoc_free(qry_jdoc_t *d)
{
    if (!d)
        return;
    jchunk_t *c = d->all;
    while (c) {
        jchunk_t *next = c->next;
        cn_free(c);
        c = next;
    }
    cn_free(d);
}

static void *jalloc(qry_jdoc_t *d, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    jchunk_t *c = d->head, *last = NULL;
    while (c && c->cap - c->used < n) {
        last = c;
        c = c->next; /* chunks after head are empty since the last reset */
    }
    if (!c) {
        size_t cap = n > CHUNK ? n : CHUNK;
        c = cn_malloc(sizeof(jchunk_t) + cap);
        c->used = 0;
        c->cap = cap;
        c->next = NULL;
        if (last)
            last->next = c;
        else
            d->all = c;
    }
    d->head = c;
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

void *qry__jdoc_alloc(qry_jdoc_t *d, size_t n)
{
    return jalloc(d, n);
}

void qry__jdoc_reset(qry_jdoc_t *d)
{
    for (jchunk_t *c = d->all; c; c = c->next)
        c->used = 0;
    d->head = d->all;
}

static void jreset(qry_jdoc_t *d)
{
    for (jchunk_t *c = d->all; c; c = c->next)
        c->used = 0;
    d->head = d->all;
}

/* ----------------------------------------------------------------- parser */

typedef struct jp {
    qry_jdoc_t *d;
    const unsigned char *s;
    size_t n, i;
    int depth;
} jp_t;

static void ws(jp_t *p)
{
    while (p->i < p->n &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static int hex4(jp_t *p, uint32_t *out)
{
    if (p->n - p->i < 4)
        return CN_EPROTO;
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        int c = p->s[p->i++], h;
        if (c >= '0' && c <= '9')
            h = c - '0';
        else if (c >= 'a' && c <= 'f')
            h = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            h = c - 'A' + 10;
        else
            return CN_EPROTO;
        v = v << 4 | (uint32_t)h;
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t k;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0) {
        k = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        k = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        k = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < k)
        return 0;
    for (size_t j = 1; j < k; j++) {
        if ((s[j] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[j] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return k;
}

static int escape(jp_t *p, char *o, size_t *k)
{
    int c = p->s[p->i++];
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *hit = c ? strchr(from, c) : NULL;
    if (hit) {
        o[(*k)++] = to[hit - from];
        return 0;
    }
    if (c != 'u')
        return CN_EPROTO;
    uint32_t cp, lo;
    TRY(hex4(p, &cp));
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return CN_EPROTO;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (p->n - p->i < 6 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u')
            return CN_EPROTO;
        p->i += 2;
        TRY(hex4(p, &lo));
        if (lo < 0xDC00 || lo > 0xDFFF)
            return CN_EPROTO;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    *k += cn_utf8_put(o + *k, cp);
    return 0;
}

/* A string at the opening quote; the unescaped copy never exceeds the
 * escaped length. */
static int jstring(jp_t *p, const char **out, size_t *len)
{
    size_t start = ++p->i, end = start;
    while (end < p->n && p->s[end] != '"')
        end += p->s[end] == '\\' && end + 1 < p->n ? 2 : 1;
    if (end >= p->n)
        return CN_EPROTO;
    char *o = jalloc(p->d, end - start + 1);
    size_t k = 0;
    while (p->i < end) {
        unsigned c = p->s[p->i];
        if (c == '\\') {
            p->i++;
            TRY(escape(p, o, &k));
        } else if (c < 0x20) {
            return CN_EPROTO;
        } else {
            size_t u = utf8_len(p->s + p->i, end - p->i);
            if (!u)
                return CN_EPROTO;
            memcpy(o + k, p->s + p->i, u);
            k += u;
            p->i += u;
        }
    }
    if (p->i != end)
        return CN_EPROTO;
    p->i++;
    o[k] = 0;
    *out = o;
    *len = k;
    return 0;
}

static bool digit(int c)
{
    return c >= '0' && c <= '9';
}

static int jnumber(jp_t *p, qry_json_t *v)
{
    size_t start = p->i;
    bool frac = false;
    if (p->s[p->i] == '-')
        p->i++;
    if (p->i >= p->n || !digit(p->s[p->i]))
        return CN_EPROTO;
    if (p->s[p->i] == '0')
        p->i++;
    else
        while (p->i < p->n && digit(p->s[p->i]))
            p->i++;
    if (p->i < p->n && p->s[p->i] == '.') {
        frac = true;
        if (++p->i >= p->n || !digit(p->s[p->i]))
            return CN_EPROTO;
        while (p->i < p->n && digit(p->s[p->i]))
            p->i++;
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        frac = true;
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        if (p->i >= p->n || !digit(p->s[p->i]))
            return CN_EPROTO;
        while (p->i < p->n && digit(p->s[p->i]))
            p->i++;
    }
    char tmp[64];
    size_t len = p->i - start;
    char *text = len < sizeof tmp ? tmp : jalloc(p->d, len + 1);
    memcpy(text, p->s + start, len);
    text[len] = 0;
    v->kind = QRY_J_NUM;
    v->f = strtod(text, NULL);
    if (!frac) {
        errno = 0;
        long long i = strtoll(text, NULL, 10);
        v->is_int = errno == 0;
        v->i = i;
    }
    return 0;
}

static int jvalue(jp_t *p, qry_json_t **out);

static int jcontainer(jp_t *p, qry_json_t *v, bool obj)
{
    if (++p->depth > MAX_DEPTH)
        return CN_ELIMIT;
    p->i++;
    /* Members go into arena arrays grown by doubling. */
    size_t cap = 8, n = 0;
    qry_json_t **items = jalloc(p->d, cap * sizeof *items);
    const char **keys = obj ? jalloc(p->d, cap * sizeof *keys) : NULL;
    ws(p);
    if (p->i < p->n && p->s[p->i] == (obj ? '}' : ']')) {
        p->i++;
        goto done;
    }
    for (;;) {
        if (n == cap) {
            qry_json_t **ni = jalloc(p->d, 2 * cap * sizeof *ni);
            memcpy(ni, items, n * sizeof *ni);
            items = ni;
            if (obj) {
                const char **nk = jalloc(p->d, 2 * cap * sizeof *nk);
                memcpy(nk, keys, n * sizeof *nk);
                keys = nk;
            }
            cap *= 2;
        }
        ws(p);
        if (obj) {
            size_t klen;
            if (p->i >= p->n || p->s[p->i] != '"')
                return CN_EPROTO;
            TRY(jstring(p, &keys[n], &klen));
            ws(p);
            if (p->i >= p->n || p->s[p->i] != ':')
                return CN_EPROTO;
            p->i++;
        }
        TRY(jvalue(p, &items[n]));
        n++;
        ws(p);
        if (p->i >= p->n)
            return CN_EPROTO;
        if (p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->s[p->i] != (obj ? '}' : ']'))
            return CN_EPROTO;
        p->i++;
        break;
    }
done:
    p->depth--;
    v->kind = obj ? QRY_J_OBJ : QRY_J_ARR;
    v->items = items;
    v->keys = keys;
    v->n = n;
    return 0;
}

static bool lit(jp_t *p, const char *w)
{
    size_t n = strlen(w);
    if (p->n - p->i < n || memcmp(p->s + p->i, w, n) != 0)
        return false;
    p->i += n;
    return true;
}

static int jvalue(jp_t *p, qry_json_t **out)
{
    ws(p);
    if (p->i >= p->n)
        return CN_EPROTO;
    qry_json_t *v = jalloc(p->d, sizeof *v);
    memset(v, 0, sizeof *v);
    size_t start = p->i;
    int c = p->s[p->i];
    int rc = 0;
    if (c == '{' || c == '[')
        rc = jcontainer(p, v, c == '{');
    else if (c == '"') {
        v->kind = QRY_J_STR;
        rc = jstring(p, &v->s, &v->slen);
    } else if (c == '-' || digit(c))
        rc = jnumber(p, v);
    else if (lit(p, "true"))
        v->kind = QRY_J_BOOL, v->b = true;
    else if (lit(p, "false"))
        v->kind = QRY_J_BOOL;
    else if (lit(p, "null"))
        v->kind = QRY_J_NULL;
    else
        rc = CN_EPROTO;
    if (rc < 0)
        return rc;
    v->raw = (const char *)p->s + start;
    v->raw_len = p->i - start;
    *out = v;
    return 0;
}

int qry_jdoc_parse(qry_jdoc_t *d, const char *s, size_t n, const qry_json_t **root, size_t *err_off)
{
    jreset(d);
    jp_t p = {.d = d, .s = (const unsigned char *)s, .n = n};
    qry_json_t *v = NULL;
    int rc = n ? jvalue(&p, &v) : CN_EPROTO;
    if (rc == 0) {
        ws(&p);
        if (p.i != n)
            rc = CN_EPROTO;
    }
    if (rc < 0) {
        if (err_off)
            *err_off = p.i;
        *root = NULL;
        return rc;
    }
    *root = v;
    return 0;
}

const qry_json_t *qry_json_get(const qry_json_t *obj, const char *key)
{
    if (!obj || obj->kind != QRY_J_OBJ)
        return NULL;
    for (size_t i = obj->n; i-- > 0;)
        if (strcmp(obj->keys[i], key) == 0)
            return obj->items[i];
    return NULL;
}

static const qry_json_t *get_n(const qry_json_t *obj, const char *key, size_t n)
{
    if (!obj || obj->kind != QRY_J_OBJ)
        return NULL;
    for (size_t i = obj->n; i-- > 0;)
        if (strncmp(obj->keys[i], key, n) == 0 && obj->keys[i][n] == 0)
            return obj->items[i];
    return NULL;
}

const qry_json_t *qry_json_path(const qry_json_t *v, const char *path, size_t len)
{
    size_t i = 0;
    while (v && i < len) {
        if (path[i] == '[') {
            size_t j = i + 1, idx = 0;
            if (j >= len || !digit(path[j]))
                return NULL;
            while (j < len && digit(path[j]) && idx < (SIZE_MAX - 9) / 10)
                idx = idx * 10 + (size_t)(path[j++] - '0');
            if (j >= len || path[j] != ']' || v->kind != QRY_J_ARR || idx >= v->n)
                return NULL;
            v = v->items[idx];
            i = j + 1;
            if (i < len && path[i] == '.')
                i++;
            continue;
        }
        size_t j = i;
        while (j < len && path[j] != '.' && path[j] != '[')
            j++;
        v = get_n(v, path + i, j - i);
        i = j < len && path[j] == '.' ? j + 1 : j;
    }
    return v;
}

/* ----------------------------------------------------------------- writer */

void qry_json_put_str(cn_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    cn_buf_put_u8(b, '"');
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && u[run] >= 0x20 && u[run] < 0x80 && u[run] != '"' && u[run] != '\\')
            run++;
        if (run > i) { /* plain ASCII goes in one copy */
            cn_buf_put(b, u + i, run - i);
            i = run;
            continue;
        }
        unsigned c = u[i];
        if (c == '"' || c == '\\') {
            cn_buf_put_u8(b, '\\');
            cn_buf_put_u8(b, (uint8_t)c);
            i++;
        } else if (c < 0x20) {
            const char *e = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
            if (e) {
                cn_buf_put(b, e, 2);
            } else {
                char t[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                cn_buf_put(b, t, 6);
            }
            i++;
        } else if (c < 0x80) {
            cn_buf_put_u8(b, (uint8_t)c);
            i++;
        } else {
            size_t k = utf8_len(u + i, n - i);
            if (k) {
                cn_buf_put(b, u + i, k);
                i += k;
            } else {
                cn_buf_put(b, "\xEF\xBF\xBD", 3); /* U+FFFD */
                i++;
            }
        }
    }
    cn_buf_put_u8(b, '"');
}
