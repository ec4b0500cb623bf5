/* SPDX-License-Identifier: MIT */
/*
 * pwfile.c - the password file: `username:hash` lines parsed into an
 * open-addressing hash table of users.  The format and its diagnostics are
 * documented in auth.h; `cairn passwd` (server/passwd.c) writes it.
 *
 * NOTES
 *  1. The table is immutable after parse, so lookups need no lock; the
 *     auth service swaps whole tables on reload (auth.c).
 *  2. The table has a power-of-two size at least twice the user count, so
 *     a probe sequence always reaches an empty slot.
 */
#include "auth_int.h"

#include <assert.h>

typedef struct pw_user {
    char *name; /* NULL = empty slot */
    size_t len;
    unsigned line;
    mq_auth_hash_t hash;
} pw_user_t;

struct mq_auth_pwfile {
    pw_user_t *slots;
    size_t mask; /* slots - 1 */
    size_t count;
};

bool mq_auth_user_valid(const char *s, size_t n)
{
    if (n == 0 || n > 65535)
        return false;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == ':')
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        /* UTF-8: lead byte, continuation bytes, no overlongs/surrogates. */
        size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
        if (len == 0 || c > 0xf4 || i + len > n)
            return false;
        uint32_t cp = c & (0x7f >> len);
        for (size_t k = 1; k < len; k++) {
            unsigned char d = (unsigned char)s[i + k];
            if ((d & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (d & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        i += len;
    }
    return true;
}

static pw_user_t *find_slot(const mq_auth_pwfile_t *pf, const char *name, size_t len)
{
    size_t i = (size_t)cn_hash64(name, len) & pf->mask;
    for (;; i = (i + 1) & pf->mask) { /* NOTES 2 */
        pw_user_t *u = &pf->slots[i];
        if (!u->name || (u->len == len && memcmp(u->name, name, len) == 0))
            return u;
    }
}

void mq_auth_pwfile_free(mq_auth_pwfile_t *pf)
{
    if (!pf)
        return;
    for (size_t i = 0; i <= pf->mask; i++) {
        cn_free(pf->slots[i].name);
        memset(&pf->slots[i].hash, 0, sizeof pf->slots[i].hash);
    }
    cn_free(pf->slots);
    cn_free(pf);
}

size_t mq_auth_pwfile_count(const mq_auth_pwfile_t *pf)
{
    return pf->count;
}

int mq_auth_pwfile_lookup(const mq_auth_pwfile_t *pf, const char *user, size_t ulen,
                          mq_auth_hash_t *out)
{
    const pw_user_t *u = find_slot(pf, user, ulen);
    if (!u->name)
        return CN_ENOTFOUND;
    *out = u->hash;
    return 0;
}

static size_t count_lines(const char *text, size_t len)
{
    size_t n = 1;
    for (const char *p = text; (p = memchr(p, '\n', len - (size_t)(p - text))) != NULL; p++)
        n++;
    return n;
}

/* Prints a user name for a diagnostic: at most 64 bytes, controls as '?'. */
static void put_name(FILE *diag, const char *s, size_t n)
{
    for (size_t i = 0; i < n && i < 64; i++)
        fputc((unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i], diag);
    if (n > 64)
        fputs("...", diag);
}

/* Parses one line (no newline) into pf.  Returns 0 or CN_ECONFIG. */
static int parse_line(mq_auth_pwfile_t *pf, const char *name, unsigned lineno, const char *s,
                      size_t n, FILE *diag)
{
    if (n && s[n - 1] == '\r')
        n--;
    size_t lead = 0;
    while (lead < n && (s[lead] == ' ' || s[lead] == '\t'))
        lead++;
    if (lead == n || s[lead] == '#')
        return 0;
    const char *colon = memchr(s, ':', n);
    if (!colon) {
        if (diag)
            fprintf(diag, "cairn: password-file %s:%u: expected 'username:hash'\n", name, lineno);
        return CN_ECONFIG;
    }
    size_t ulen = (size_t)(colon - s);
    if (!mq_auth_user_valid(s, ulen)) {
        if (diag)
            fprintf(diag, "cairn: password-file %s:%u: bad user name\n", name, lineno);
        return CN_ECONFIG;
    }
    mq_auth_hash_t h;
    if (mq_auth_hash_parse(colon + 1, n - ulen - 1, &h) < 0) {
        if (diag) {
            fprintf(diag, "cairn: password-file %s:%u: unrecognised password hash for user '", name,
                    lineno);
            put_name(diag, s, ulen);
            fputs("'\n", diag);
        }
        return CN_ECONFIG;
    }
    if (h.algo == MQ_AUTH_MOSQ_SHA512 && diag) {
        fprintf(diag, "cairn: password-file %s:%u: warning: user '", name, lineno);
        put_name(diag, s, ulen);
        fputs("' has a $6$ (single SHA-512) hash, which is fast to brute-force; set the "
              "password again with cairn passwd\n",
              diag);
    }
    pw_user_t *u = find_slot(pf, s, ulen);
    if (u->name) {
        if (diag) {
            fprintf(diag, "cairn: password-file %s:%u: duplicate user '", name, lineno);
            put_name(diag, s, ulen);
            fprintf(diag, "' (first on line %u)\n", u->line);
        }
        return CN_ECONFIG;
    }
    u->name = cn_strndup(s, ulen);
    u->len = ulen;
    u->line = lineno;
    u->hash = h;
    pf->count++;
    return 0;
}

int mq_auth_pwfile_parse(const char *name, const char *text, size_t len, FILE *diag,
                         mq_auth_pwfile_t **out)
{
    mq_auth_pwfile_t *pf = cn_calloc(1, sizeof *pf);
    size_t cap = 16;
    while (cap < 2 * count_lines(text, len)) /* NOTES 2 */
        cap *= 2;
    pf->slots = cn_calloc(cap, sizeof *pf->slots);
    pf->mask = cap - 1;
    const char *p = text, *end = text + len;
    for (unsigned lineno = 1; p < end; lineno++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        if (parse_line(pf, name, lineno, p, (size_t)(eol - p), diag) < 0) {
            mq_auth_pwfile_free(pf);
            return CN_ECONFIG;
        }
        p = nl ? nl + 1 : end;
    }
    *out = pf;
    return 0;
}

int mq_auth_pwfile_load(const char *path, FILE *diag, mq_auth_pwfile_t **out)
{
    uint8_t *text;
    size_t len;
    int rc = cn_file_read_all(path, &text, &len);
    if (rc < 0) {
        if (diag)
            fprintf(diag, "cairn: password-file %s: %s\n", path, cn_strerror(rc));
        return CN_ECONFIG;
    }
    rc = mq_auth_pwfile_parse(path, (const char *)text, len, diag, out);
    cn_free(text);
    return rc;
}

int mq_auth__pwfile_any(const mq_auth_pwfile_t *pf, mq_auth_hash_t *out)
{
    for (size_t i = 0; i <= pf->mask; i++) {
        if (pf->slots[i].name) {
            *out = pf->slots[i].hash;
            return 0;
        }
    }
    return CN_ENOTFOUND;
}
