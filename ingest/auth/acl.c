/* SPDX-License-Identifier: MIT */
/*
 * acl.c - the ACL file (mosquitto's format) and per-client compiled views.
 * The format, which rules apply to whom and the decision procedure are
 * documented in auth.h; this file implements them.
 *
 * Parsed form: every rule is an access mask plus a run of levels in one
 * shared level array; each level is a kind (literal, '+', '#', %u, %c) and
 * a slice of one shared text buffer.  Rules are grouped in sections: the
 * anonymous one, one per user name (sorted for bsearch), and the patterns.
 *
 * A view (mq_auth_view_t) copies a client's applicable rules into a single
 * allocation (header, rules, levels, text) with %u/%c turned into literal
 * levels, deny rules first.  Checking walks the topic once per rule, in
 * place: no allocation, no lock.
 *
 * NOTES
 *  1. Levels of a valid filter: '#' only as the last level, '+' and '#'
 *     only alone in their level, %u/%c only alone (patterns).  The parser
 *     enforces this, so the matchers may rely on it.
 *  2. The '$' rule (MQTT-4.7.2-1) is checked at level 0 by every matcher:
 *     a wildcard level 0 never covers a level starting with '$'.
 */
#include "auth.h"

#include <assert.h>
#include <stdlib.h>

enum { L_LIT, L_PLUS, L_HASH, L_USER, L_CLIENT };
enum { A_READ = 1, A_WRITE = 2, A_DENY = 4 };

typedef struct acl_lev {
    uint8_t kind;
    uint32_t off; /* L_LIT: slice of the text buffer */
    uint32_t len;
} acl_lev_t;

typedef struct acl_rule {
    uint8_t access; /* A_* */
    uint16_t nlev;
    uint32_t lev; /* first level */
} acl_rule_t;

typedef struct acl_sect {
    char *name; /* NULL: anonymous or patterns */
    size_t name_len;
    uint32_t *rules;
    size_t n, cap;
} acl_sect_t;

struct mq_auth_acl {
    cn_buf_t text;
    acl_lev_t *levs;
    size_t nlevs, levcap;
    acl_rule_t *rules;
    size_t nrules, rulecap;
    acl_sect_t anon, patterns;
    acl_sect_t *users; /* sorted by name after parse */
    size_t nusers, usercap;
};

struct mq_auth_view {
    bool allow_all; /* no ACL file */
    uint32_t nrules, ndeny;
    acl_rule_t *rules; /* deny rules first: [0, ndeny) */
    acl_lev_t *levs;   /* all L_LIT, L_PLUS or L_HASH */
    char *text;
    char *user; /* copies (patterns substitute them); user NULL = none */
    size_t ulen;
    char *client;
    size_t clen;
};

/* ------------------------------------------------------------- parsing */

static void sect_add(acl_sect_t *s, uint32_t rule)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 8;
        s->rules = cn_realloc(s->rules, s->cap * sizeof *s->rules);
    }
    s->rules[s->n++] = rule;
}

/* The index of user section `name`, created if new. */
static size_t user_sect(mq_auth_acl_t *acl, const char *name, size_t n)
{
    for (size_t i = 0; i < acl->nusers; i++)
        if (acl->users[i].name_len == n && memcmp(acl->users[i].name, name, n) == 0)
            return i;
    if (acl->nusers == acl->usercap) {
        acl->usercap = acl->usercap ? 2 * acl->usercap : 8;
        acl->users = cn_realloc(acl->users, acl->usercap * sizeof *acl->users);
    }
    acl_sect_t *s = &acl->users[acl->nusers++];
    memset(s, 0, sizeof *s);
    s->name = cn_strndup(name, n);
    s->name_len = n;
    return acl->nusers - 1;
}

static void add_lev(mq_auth_acl_t *acl, uint8_t kind, uint32_t off, uint32_t len)
{
    if (acl->nlevs == acl->levcap) {
        acl->levcap = acl->levcap ? 2 * acl->levcap : 32;
        acl->levs = cn_realloc(acl->levs, acl->levcap * sizeof *acl->levs);
    }
    acl->levs[acl->nlevs++] = (acl_lev_t){kind, off, len};
}

enum { F_OK = 0, F_BAD = -1, F_SUBST = -2 };

/* Splits filter f (n bytes) into levels appended to acl.  Returns F_OK,
 * F_BAD or F_SUBST (NOTES 1). */
static int add_filter(mq_auth_acl_t *acl, const char *f, size_t n, bool pattern, uint16_t *nlev)
{
    if (n == 0 || n > 65535)
        return F_BAD;
    uint32_t base = (uint32_t)acl->text.len;
    cn_buf_put(&acl->text, f, n);
    size_t count = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && f[i] != '/')
            continue;
        const char *l = f + start;
        size_t len = i - start;
        uint8_t kind = L_LIT;
        if (len == 1 && l[0] == '+')
            kind = L_PLUS;
        else if (len == 1 && l[0] == '#' && i == n)
            kind = L_HASH;
        else if (memchr(l, '+', len) || memchr(l, '#', len))
            return F_BAD; /* '#' not last, or a wildcard inside a level */
        if (pattern && len == 2 && l[0] == '%' && (l[1] == 'u' || l[1] == 'c'))
            kind = l[1] == 'u' ? L_USER : L_CLIENT;
        else if (pattern && kind == L_LIT && len >= 2 &&
                 (memmem(l, len, "%u", 2) || memmem(l, len, "%c", 2)))
            return F_SUBST;
        add_lev(acl, kind, base + (uint32_t)start, (uint32_t)len);
        count++;
        start = i + 1;
    }
    if (count > UINT16_MAX)
        return F_BAD;
    *nlev = (uint16_t)count;
    return F_OK;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static size_t word_len(const char *p, const char *end)
{
    size_t n = 0;
    while (p + n < end && p[n] != ' ' && p[n] != '\t')
        n++;
    return n;
}

static bool word_is(const char *w, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(w, lit, n) == 0;
}

/* `topic` / `pattern` after the keyword: [ACCESS] FILTER. */
static int parse_rule(mq_auth_acl_t *acl, acl_sect_t *sect, bool pattern, const char *p,
                      const char *end, const char *where, FILE *diag)
{
    uint8_t access = A_READ | A_WRITE;
    size_t w = word_len(p, end);
    static const struct {
        const char *word;
        uint8_t access;
    } words[] = {
        {"read", A_READ}, {"write", A_WRITE}, {"readwrite", A_READ | A_WRITE}, {"deny", A_DENY}};
    for (size_t i = 0; i < CN_ARRAY_LEN(words); i++) {
        if (word_is(p, w, words[i].word)) {
            access = words[i].access;
            p = skip_ws(p + w, end);
            break;
        }
    }
    if (p == end) {
        if (diag)
            fprintf(diag, "cairn: acl-file %s: missing topic filter\n", where);
        return CN_ECONFIG;
    }
    uint16_t nlev = 0;
    uint32_t first = (uint32_t)acl->nlevs;
    int rc = add_filter(acl, p, (size_t)(end - p), pattern, &nlev);
    if (rc != F_OK) {
        if (diag && rc == F_SUBST)
            fprintf(diag, "cairn: acl-file %s: %%u and %%c must be a whole topic level\n", where);
        else if (diag)
            fprintf(diag, "cairn: acl-file %s: bad topic filter '%.*s'\n", where,
                    (int)CN_MIN((size_t)(end - p), 200), p);
        return CN_ECONFIG;
    }
    if (acl->nrules == acl->rulecap) {
        acl->rulecap = acl->rulecap ? 2 * acl->rulecap : 16;
        acl->rules = cn_realloc(acl->rules, acl->rulecap * sizeof *acl->rules);
    }
    acl->rules[acl->nrules] = (acl_rule_t){access, nlev, first};
    sect_add(sect, (uint32_t)acl->nrules++);
    return 0;
}

/* *cur is the current `user` section's index, SIZE_MAX for the anonymous
 * one (an index, because user_sect() may move the array). */
static int parse_line(mq_auth_acl_t *acl, size_t *cur, const char *line, size_t n,
                      const char *where, FILE *diag)
{
    const char *end = line + n, *p = skip_ws(line, end);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    if (p == end || *p == '#')
        return 0;
    size_t w = word_len(p, end);
    const char *rest = skip_ws(p + w, end);
    if (word_is(p, w, "user")) {
        if (rest == end || !mq_auth_user_valid(rest, (size_t)(end - rest))) {
            if (diag)
                fprintf(diag, "cairn: acl-file %s: %s user name\n", where,
                        rest == end ? "missing" : "bad");
            return CN_ECONFIG;
        }
        *cur = user_sect(acl, rest, (size_t)(end - rest));
        return 0;
    }
    if (word_is(p, w, "topic"))
        return parse_rule(acl, *cur == SIZE_MAX ? &acl->anon : &acl->users[*cur], false, rest, end,
                          where, diag);
    if (word_is(p, w, "pattern"))
        return parse_rule(acl, &acl->patterns, true, rest, end, where, diag);
    if (diag)
        fprintf(diag,
                "cairn: acl-file %s: unknown keyword '%.*s' (expected user, topic or pattern)\n",
                where, (int)CN_MIN(w, 64), p);
    return CN_ECONFIG;
}

static int cmp_sect(const void *a, const void *b)
{
    const acl_sect_t *x = a, *y = b;
    size_t n = CN_MIN(x->name_len, y->name_len);
    int c = memcmp(x->name, y->name, n);
    return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

void mq_auth_acl_free(mq_auth_acl_t *acl)
{
    if (!acl)
        return;
    for (size_t i = 0; i < acl->nusers; i++) {
        cn_free(acl->users[i].name);
        cn_free(acl->users[i].rules);
    }
    cn_free(acl->users);
    cn_free(acl->anon.rules);
    cn_free(acl->patterns.rules);
    cn_free(acl->rules);
    cn_free(acl->levs);
    cn_buf_free(&acl->text);
    cn_free(acl);
}

int mq_auth_acl_parse(const char *name, const char *text, size_t len, FILE *diag,
                      mq_auth_acl_t **out)
{
    mq_auth_acl_t *acl = cn_calloc(1, sizeof *acl);
    cn_buf_init(&acl->text);
    size_t cur = SIZE_MAX;
    const char *p = text, *end = text + len;
    for (unsigned lineno = 1; p < end; lineno++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        char where[512];
        snprintf(where, sizeof where, "%s:%u", name, lineno);
        if (parse_line(acl, &cur, p, (size_t)(eol - p), where, diag) < 0) {
            mq_auth_acl_free(acl);
            return CN_ECONFIG;
        }
        p = nl ? nl + 1 : end;
    }
    if (acl->nusers)
        qsort(acl->users, acl->nusers, sizeof *acl->users, cmp_sect);
    *out = acl;
    return 0;
}

int mq_auth_acl_load(const char *path, FILE *diag, mq_auth_acl_t **out)
{
    uint8_t *text;
    size_t len;
    int rc = cn_file_read_all(path, &text, &len);
    if (rc < 0) {
        if (diag)
            fprintf(diag, "cairn: acl-file %s: %s\n", path, cn_strerror(rc));
        return CN_ECONFIG;
    }
    rc = mq_auth_acl_parse(path, (const char *)text, len, diag, out);
    cn_free(text);
    return rc;
}

size_t mq_auth_acl_count(const mq_auth_acl_t *acl)
{
    return acl->nrules;
}

/* --------------------------------------------------------------- views */

static const acl_sect_t *find_user(const mq_auth_acl_t *acl, const char *name, size_t n)
{
    acl_sect_t key = {.name = (char *)name, .name_len = n};
    if (!acl->nusers)
        return NULL;
    return bsearch(&key, acl->users, acl->nusers, sizeof *acl->users, cmp_sect);
}

/* True when a pattern rule applies: %u needs a user name (and %c a
 * non-empty client id, which the broker always has). */
static bool pattern_applies(const mq_auth_acl_t *acl, const acl_rule_t *r, const char *user,
                            size_t clen)
{
    for (uint32_t i = 0; i < r->nlev; i++) {
        uint8_t k = acl->levs[r->lev + i].kind;
        if ((k == L_USER && !user) || (k == L_CLIENT && clen == 0))
            return false;
    }
    return true;
}

/* Appends rule r to the view arrays (sized by the caller), substituting. */
static void view_put(mq_auth_view_t *v, const mq_auth_acl_t *acl, const acl_rule_t *r,
                     uint32_t *nlev, size_t *tlen)
{
    acl_rule_t *d = &v->rules[v->nrules++];
    *d = (acl_rule_t){r->access, r->nlev, *nlev};
    for (uint32_t i = 0; i < r->nlev; i++) {
        const acl_lev_t *l = &acl->levs[r->lev + i];
        const char *src = (const char *)acl->text.p + l->off;
        size_t n = l->len;
        if (l->kind == L_USER) {
            src = v->user;
            n = v->ulen;
        } else if (l->kind == L_CLIENT) {
            src = v->client;
            n = v->clen;
        }
        uint8_t kind = l->kind == L_PLUS || l->kind == L_HASH ? l->kind : L_LIT;
        v->levs[*nlev] = (acl_lev_t){kind, (uint32_t)*tlen, (uint32_t)n};
        if (n)
            memcpy(v->text + *tlen, src, n);
        *tlen += n;
        ++*nlev;
    }
}

/* Sizes of what the view of (acl, user, client) holds. */
static void view_size(const mq_auth_acl_t *acl, const acl_sect_t *sect, const mq_auth_view_t *v,
                      size_t *nrules, size_t *nlevs, size_t *tlen)
{
    *nrules = *nlevs = *tlen = 0;
    for (int pass = 0; pass < 2; pass++) {
        const acl_sect_t *s = pass == 0 ? sect : &acl->patterns;
        for (size_t i = 0; s && i < s->n; i++) {
            const acl_rule_t *r = &acl->rules[s->rules[i]];
            if (pass == 1 && !pattern_applies(acl, r, v->user, v->clen))
                continue;
            ++*nrules;
            *nlevs += r->nlev;
            for (uint32_t k = 0; k < r->nlev; k++) {
                const acl_lev_t *l = &acl->levs[r->lev + k];
                *tlen += l->kind == L_USER ? v->ulen : l->kind == L_CLIENT ? v->clen : l->len;
            }
        }
    }
}

/* Fills v's rule arrays from acl (v->user/client set). */
static void view_fill(mq_auth_view_t *v, const mq_auth_acl_t *acl)
{
    const acl_sect_t *sect = v->user ? find_user(acl, v->user, v->ulen) : &acl->anon;
    size_t nrules, nlevs, tlen;
    view_size(acl, sect, v, &nrules, &nlevs, &tlen);
    v->rules = cn_malloc(nrules * sizeof *v->rules + nlevs * sizeof *v->levs + tlen + 1);
    v->levs = (acl_lev_t *)(v->rules + nrules);
    v->text = (char *)(v->levs + nlevs);
    v->nrules = 0;
    uint32_t nl = 0;
    size_t tl = 0;
    /* Deny rules first, then the others (both passes over both sections). */
    for (int deny = 1; deny >= 0; deny--) {
        for (int pass = 0; pass < 2; pass++) {
            const acl_sect_t *s = pass == 0 ? sect : &acl->patterns;
            for (size_t i = 0; s && i < s->n; i++) {
                const acl_rule_t *r = &acl->rules[s->rules[i]];
                if (((r->access & A_DENY) != 0) != deny)
                    continue;
                if (pass == 1 && !pattern_applies(acl, r, v->user, v->clen))
                    continue;
                view_put(v, acl, r, &nl, &tl);
            }
        }
        if (deny)
            v->ndeny = v->nrules;
    }
    assert(v->nrules == nrules && nl == nlevs && tl == tlen);
}

void mq_auth_view_free(mq_auth_view_t *v)
{
    if (!v)
        return;
    cn_free(v->rules);
    cn_free(v->user);
    cn_free(v->client);
    cn_free(v);
}

int mq_auth_view_new(const mq_auth_acl_t *acl, const char *user, size_t ulen, const char *client,
                     size_t clen, mq_auth_view_t **out)
{
    mq_auth_view_t *v = cn_calloc(1, sizeof *v);
    v->user = user ? cn_strndup(user, ulen) : NULL;
    v->ulen = user ? ulen : 0;
    v->client = cn_strndup(client ? client : "", client ? clen : 0);
    v->clen = client ? clen : 0;
    v->allow_all = acl == NULL;
    if (acl)
        view_fill(v, acl);
    *out = v;
    return 0;
}

/* ------------------------------------------------------------ matching */

/*
 * What a matcher reads a rule's levels from: a view (all levels literal or
 * wildcards, text in the view) or the parsed ACL itself, whose %u/%c
 * levels compare against the client's user name / client id directly.
 */
typedef struct mctx {
    const acl_lev_t *levs;
    const char *text;
    const char *user, *client;
    size_t ulen, clen;
} mctx_t;

/*
 * A level cursor over a topic name or filter (n bytes): next() yields each
 * level in turn, empty levels included ("a//b" has three).
 */
typedef struct lvcur {
    const char *p, *end;
    bool done;
} lvcur_t;

static bool next_level(lvcur_t *c, const char **l, size_t *n)
{
    if (c->done)
        return false;
    const char *q = memchr(c->p, '/', (size_t)(c->end - c->p));
    if (!q)
        q = c->end;
    *l = c->p;
    *n = (size_t)(q - c->p);
    if (q == c->end)
        c->done = true;
    else
        c->p = q + 1;
    return true;
}

static uint8_t level_kind(const char *l, size_t n)
{
    if (n == 1 && l[0] == '+')
        return L_PLUS;
    if (n == 1 && l[0] == '#')
        return L_HASH;
    return L_LIT;
}

/* A rule level that stands for one exact level (literal or substituted). */
static bool is_lit(const acl_lev_t *lv)
{
    return lv->kind != L_PLUS && lv->kind != L_HASH;
}

/* The exact text of a literal-like rule level. */
static const char *lev_text(const mctx_t *m, const acl_lev_t *lv, size_t *n)
{
    if (lv->kind == L_USER) {
        *n = m->ulen;
        return m->user;
    }
    if (lv->kind == L_CLIENT) {
        *n = m->clen;
        return m->client;
    }
    *n = lv->len;
    return m->text + lv->off;
}

static bool lit_eq(const mctx_t *m, const acl_lev_t *lv, const char *l, size_t n)
{
    size_t len;
    const char *t = lev_text(m, lv, &len);
    return len == n && (n == 0 || memcmp(t, l, n) == 0);
}

/* True when the rest after the last consumed level is covered: the rule
 * ended too, or its only remaining level is '#' (which matches the parent). */
static bool rule_ends(const acl_rule_t *r, const acl_lev_t *lv, uint32_t i)
{
    return i == r->nlev || (i + 1 == r->nlev && lv[i].kind == L_HASH);
}

/* Topic NAME t matches rule r. */
static bool match_name(const mctx_t *m, const acl_rule_t *r, const char *t, size_t n)
{
    const acl_lev_t *lv = m->levs + r->lev;
    if (n && t[0] == '$' && r->nlev && !is_lit(&lv[0])) /* NOTES 2 */
        return false;
    lvcur_t c = {t, t + n, false};
    const char *l;
    size_t ln;
    uint32_t i = 0;
    while (next_level(&c, &l, &ln)) {
        if (i == r->nlev)
            return false;
        if (lv[i].kind == L_HASH)
            return true;
        if (is_lit(&lv[i]) && !lit_eq(m, &lv[i], l, ln))
            return false;
        i++;
    }
    return rule_ends(r, lv, i);
}

/* '$' rule between a filter's first level (kind fk, text l) and a rule's. */
static bool dollar_apart(const mctx_t *m, uint8_t fk, const char *l, size_t ln, const acl_lev_t *r0)
{
    size_t rn = 0;
    const char *rt = is_lit(r0) ? lev_text(m, r0, &rn) : NULL;
    bool f_dollar = fk == L_LIT && ln && l[0] == '$';
    bool r_dollar = rt && rn && rt[0] == '$';
    return (f_dollar && !rt) || (r_dollar && fk != L_LIT);
}

/* Every topic filter f matches, rule r matches (f within r). */
static bool within(const mctx_t *m, const acl_rule_t *r, const char *f, size_t n)
{
    const acl_lev_t *lv = m->levs + r->lev;
    lvcur_t c = {f, f + n, false};
    const char *l;
    size_t ln;
    uint32_t i = 0;
    while (next_level(&c, &l, &ln)) {
        uint8_t fk = level_kind(l, ln);
        if (i == 0 && r->nlev && dollar_apart(m, fk, l, ln, &lv[0]))
            return false;
        if (i == r->nlev)
            return false;
        if (lv[i].kind == L_HASH)
            return true;
        /* A '#' level 0 covers every topic of one level or more, as "+/#"
         * does; deeper, "a/#" also covers "a", which only a '#' rule has. */
        if (fk == L_HASH)
            return i == 0 && r->nlev == 2 && lv[0].kind == L_PLUS && lv[1].kind == L_HASH;
        if (is_lit(&lv[i]) && (fk != L_LIT || !lit_eq(m, &lv[i], l, ln)))
            return false;
        i++;
    }
    return rule_ends(r, lv, i);
}

/* Some topic matches both filter f and rule r. */
static bool overlaps(const mctx_t *m, const acl_rule_t *r, const char *f, size_t n)
{
    const acl_lev_t *lv = m->levs + r->lev;
    lvcur_t c = {f, f + n, false};
    const char *l;
    size_t ln;
    uint32_t i = 0;
    while (next_level(&c, &l, &ln)) {
        uint8_t fk = level_kind(l, ln);
        if (i == 0 && r->nlev && dollar_apart(m, fk, l, ln, &lv[0]))
            return false;
        if (i == r->nlev)
            return fk == L_HASH; /* "a/#" and "a" share "a" */
        if (lv[i].kind == L_HASH || fk == L_HASH)
            return true;
        if (is_lit(&lv[i]) && fk == L_LIT && !lit_eq(m, &lv[i], l, ln))
            return false;
        i++;
    }
    return rule_ends(r, lv, i);
}

/* Removes "$share/<group>/" from a SUBSCRIBE filter; false if malformed. */
static bool strip_share(const char **f, size_t *n)
{
    if (*n < 7 || memcmp(*f, "$share/", 7) != 0)
        return true;
    const char *g = *f + 7, *end = *f + *n;
    const char *slash = memchr(g, '/', (size_t)(end - g));
    if (!slash || slash == g || slash + 1 >= end)
        return false;
    *n = (size_t)(end - slash - 1);
    *f = slash + 1;
    return true;
}

/* One rule against the request: deny rules ask "could it refuse?", the
 * others "does it grant `need`?". */
static bool rule_hits(const mctx_t *m, const acl_rule_t *r, bool deny, uint8_t need, const char *t,
                      size_t n)
{
    if (need == 0) /* SUBSCRIBE */
        return deny ? overlaps(m, r, t, n) : (r->access & A_READ) && within(m, r, t, n);
    return (deny || (r->access & need)) && match_name(m, r, t, n);
}

/* Normalises (access, topic): *need gets A_READ/A_WRITE, or 0 for
 * SUBSCRIBE (share prefix removed).  False: refuse at once. */
static bool request(int access, const char **t, size_t *n, uint8_t *need)
{
    if (access == MQ_AUTH_SUBSCRIBE) {
        *need = 0;
        return strip_share(t, n) && *n;
    }
    *need = access == MQ_AUTH_READ ? A_READ : access == MQ_AUTH_WRITE ? A_WRITE : 0;
    return *need && *n;
}

bool mq_auth_view_allows(mq_auth_view_t *v, int access, const char *topic, size_t n)
{
    if (v->allow_all)
        return true;
    uint8_t need;
    if (!request(access, &topic, &n, &need))
        return false;
    mctx_t m = {v->levs, v->text, NULL, NULL, 0, 0};
    for (uint32_t i = 0; i < v->ndeny; i++)
        if (rule_hits(&m, &v->rules[i], true, need, topic, n))
            return false;
    for (uint32_t i = v->ndeny; i < v->nrules; i++)
        if (rule_hits(&m, &v->rules[i], false, need, topic, n))
            return true;
    return false;
}

/* Runs one pass (deny or allow) over a section; patterns are filtered by
 * pattern_applies.  True when a rule hits. */
static bool sect_hits(const mq_auth_acl_t *acl, const mctx_t *m, const acl_sect_t *s, bool pattern,
                      bool deny, uint8_t need, const char *t, size_t n)
{
    for (size_t i = 0; s && i < s->n; i++) {
        const acl_rule_t *r = &acl->rules[s->rules[i]];
        if (((r->access & A_DENY) != 0) != deny)
            continue;
        if (pattern && !pattern_applies(acl, r, m->user, m->clen))
            continue;
        if (rule_hits(m, r, deny, need, t, n))
            return true;
    }
    return false;
}

bool mq_auth_acl_allows(const mq_auth_acl_t *acl, const char *user, size_t ulen, const char *client,
                        size_t clen, int access, const char *topic, size_t n)
{
    if (!acl)
        return true;
    uint8_t need;
    if (!request(access, &topic, &n, &need))
        return false;
    const acl_sect_t *sect = user ? find_user(acl, user, ulen) : &acl->anon;
    mctx_t m = {acl->levs,       (const char *)acl->text.p, user, client ? client : "",
                user ? ulen : 0, client ? clen : 0};
    if (sect_hits(acl, &m, sect, false, true, need, topic, n) ||
        sect_hits(acl, &m, &acl->patterns, true, true, need, topic, n))
        return false;
    return sect_hits(acl, &m, sect, false, false, need, topic, n) ||
           sect_hits(acl, &m, &acl->patterns, true, false, need, topic, n);
}
