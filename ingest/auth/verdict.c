/* SPDX-License-Identifier: MIT */
/*
 * verdict.c - reads the HTTP auth service's answer: a JSON object whose
 * member "result" is "allow", "deny" or "ignore" (auth.h).  A small
 * validating scanner over the RFC 8259 grammar, enough to skip the members
 * it does not care about; it reads through a bounded cursor and never
 * allocates.  fuzz_auth_verdict drives it with arbitrary bytes.
 */
#include "auth_int.h"

#define MAX_DEPTH 32

typedef struct sc {
    const char *p, *end;
} sc_t;

static void ws(sc_t *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool eat(sc_t *s, char c)
{
    ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return true;
    }
    return false;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A string; *raw and *n (OUT) are its text between the quotes when it has no
 * escapes (*n = SIZE_MAX when it has: such a value never equals a verdict). */
static bool string(sc_t *s, const char **raw, size_t *n)
{
    if (!eat(s, '"'))
        return false;
    const char *start = s->p;
    bool escaped = false;
    while (s->p < s->end && *s->p != '"') {
        unsigned char c = (unsigned char)*s->p;
        if (c < 0x20)
            return false;
        if (c == '\\') {
            escaped = true;
            if (++s->p >= s->end)
                return false;
            if (*s->p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (s->p + i >= s->end || !is_hex(s->p[i]))
                        return false;
                s->p += 4;
            } else if (!strchr("\"\\/bfnrt", *s->p) || *s->p == 0) {
                return false;
            }
        }
        s->p++;
    }
    if (s->p >= s->end)
        return false;
    *raw = start;
    *n = escaped ? SIZE_MAX : (size_t)(s->p - start);
    s->p++;
    return true;
}

static bool literal(sc_t *s, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
        return false;
    s->p += n;
    return true;
}

static bool number(sc_t *s)
{
    const char *start = s->p;
    if (s->p < s->end && *s->p == '-')
        s->p++;
    while (s->p < s->end && ((*s->p >= '0' && *s->p <= '9') || strchr(".eE+-", *s->p)))
        s->p++;
    return s->p > start && s->p[-1] != '-';
}

static bool value(sc_t *s, int depth);

static bool members(sc_t *s, int depth, char close, bool keyed)
{
    if (eat(s, close))
        return true;
    do {
        const char *k;
        size_t kn;
        if (keyed && (!string(s, &k, &kn) || !eat(s, ':')))
            return false;
        if (!value(s, depth + 1))
            return false;
    } while (eat(s, ','));
    return eat(s, close);
}

static bool value(sc_t *s, int depth)
{
    if (depth > MAX_DEPTH)
        return false;
    ws(s);
    if (s->p >= s->end)
        return false;
    const char *raw;
    size_t n;
    switch (*s->p) {
    case '{':
        s->p++;
        return members(s, depth, '}', true);
    case '[':
        s->p++;
        return members(s, depth, ']', false);
    case '"':
        return string(s, &raw, &n);
    case 't':
        return literal(s, "true");
    case 'f':
        return literal(s, "false");
    case 'n':
        return literal(s, "null");
    default:
        return number(s);
    }
}

int mq_auth__http_verdict(const char *body, size_t n)
{
    sc_t s = {body, body + n};
    int verdict = MQ_AUTH__HTTP_FAIL;
    bool seen = false;
    if (!eat(&s, '{'))
        return MQ_AUTH__HTTP_FAIL;
    if (!eat(&s, '}')) {
        do {
            const char *k, *v;
            size_t kn, vn;
            if (!string(&s, &k, &kn) || !eat(&s, ':'))
                return MQ_AUTH__HTTP_FAIL;
            bool is_result = kn == 6 && memcmp(k, "result", 6) == 0 && !seen;
            ws(&s);
            if (is_result && s.p < s.end && *s.p == '"') {
                if (!string(&s, &v, &vn))
                    return MQ_AUTH__HTTP_FAIL;
                seen = true;
                if (vn == 5 && memcmp(v, "allow", 5) == 0)
                    verdict = MQ_AUTH__HTTP_ALLOW;
                else if (vn == 4 && memcmp(v, "deny", 4) == 0)
                    verdict = MQ_AUTH__HTTP_DENY;
                else if (vn == 6 && memcmp(v, "ignore", 6) == 0)
                    verdict = MQ_AUTH__HTTP_IGNORE;
            } else if (!value(&s, 1)) {
                return MQ_AUTH__HTTP_FAIL;
            } else if (is_result) {
                seen = true; /* not a string: no verdict */
            }
        } while (eat(&s, ','));
        if (!eat(&s, '}'))
            return MQ_AUTH__HTTP_FAIL;
    }
    ws(&s);
    return s.p == s.end ? verdict : MQ_AUTH__HTTP_FAIL;
}
