/* SPDX-License-Identifier: MIT */
/*
 * rx.c - Go's regular expression syntax (RE2, what InfluxDB reads in a
 * /regex/) translated for glibc's POSIX extended engine, and the guard
 * that keeps regcomp from patterns it would take gigabytes for.
 *
 * NOTES
 * 1. What the translation does, outside brackets: flag groups (?i) (?s)
 *    (?m) (?U) and (?flags:...) - case folding by writing each letter as
 *    [xX], (?U) and the '?' of a non-greedy repetition dropped
 *    (greediness cannot change whether a pattern matches, and we only ask
 *    that) -; (?:...) and (?P<name>...) become plain groups ((?<name>...)
 *    is refused, as the Go that built InfluxDB 1.6.7 refused it); ^ $
 *    outside (?m), and \A \z, become \` \' (NOTES 5); \Q...\E is quoted; \d \w \s (and \D \W \S)
 * become Go's ASCII classes; \a \f \t \n \r \v, \x41, \x{263a} and octal \101 become their
 * characters; an escaped punctuation mark is that mark (glibc reads \< \> \` \' as anchors, Go as
 * the characters); a '{' that does not start {n}, {n,} or {n,m} is a literal, as in Go (glibc would
 * read {,n} as a count).  \b \B are glibc's own.
 * 2. Bracket expressions are read as Go reads them (escapes, ranges,
 *    [:alpha:] classes, case folding) into a set (NOTES 4), whose
 *    brackets are written in POSIX's order: ']' first, '^' not first,
 *    '-' last - POSIX brackets have no escapes.
 * 3. (?m) needs glibc's REG_NEWLINE, which changes the whole pattern: '.'
 *    and [^...] then stop at a newline, and ^ $ match at every line.
 *    Classes are therefore written as positive brackets wherever they
 *    hold '\n' (NOTES 4).  A pattern that sets (?m) is translated a
 *    second time for it.
 * 4. Characters, not bytes.  The server runs in the C locale, where
 *    glibc matches bytes, and everything it stores is valid UTF-8 (the
 *    decoders refuse the rest).  So a class - '.', [...], [^...], \D and
 *    the like - holds its ASCII members as bits and its others as ranges
 *    of code points, and is written as an alternation of one bracket for
 *    the ASCII part and the UTF-8 encodings of the rest, each range cut
 *    into sequences of byte ranges (utf8_seqs): [^e] is ([^e\x80-\xff]|
 *    [\xc2-\xdf][\x80-\xbf]|...), and '.' matches a whole character
 *    where glibc's would take one byte of it (/^Z.rich$/ matches
 *    "Z\xc3\xbcrich", as in Go).  All of the non-ASCII characters together
 *    are written as three sequences, a lead byte and its continuation
 *    bytes, which is exact on valid UTF-8.  Before a '*' such a class is
 *    one bracket of bytes instead ([^\n]*): nothing else in a translated
 *    pattern can start inside a character, so a run of bytes there
 *    matches exactly when a run of characters does (two runs may split a
 *    character between them, which no '*' minds - a '+' would: .+.+
 *    must not match one two-byte character), and it keeps glibc's
 *    automaton for the commonest pattern (.*) as small as before.  Not
 *    in a pattern with \B: glibc's \B holds inside a character (both
 *    bytes around are no word characters), and a run of bytes could end
 *    there (.*\B.*x matched "a\xf0\x9f\x98\x80x").  Nor may a match of
 *    such a pattern begin inside a character (\B alone matched that
 *    string at its second byte): it is written after (\`|<one
 *    character>), which consumes the character before the match, or
 *    nothing at the text's start, and leaves how \B reads the text as
 *    it was.  A literal
 *    character before a repetition is grouped so that the repetition
 *    takes all of it.  (?i) folds a character to its case orbit as Go
 *    does (rx_orbit: 'k' is [kK] and the Kelvin sign, sigma all three
 *    sigmas), and a class by the orbits of its members.  \p{...}
 *    classes are refused, and a class with more than 64 separate
 *    non-ASCII ranges.
 * 5. Anchors.  Without (?m) Go's ^ and $ are the start and the end of the
 *    text.  glibc's are not, inside a pattern: ^ after a newline that
 *    the match itself took (\n^a matches "\na", a$\nb matches "a\nb"),
 *    so they are written as GNU's \` and \' (the buffer's start and end),
 *    which hold with and without REG_NEWLINE.  glibc gets one more thing
 *    wrong that no translation mends: an anchor in a group repeated
 *    more than once holds in every copy ((^a){2} and (x|^a){2} match
 *    "aa" and "xa"; in Go neither does).
 */
#include "rx.h"

#include <locale.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#define RX_MAX_COUNT  1000
#define RX_MAX_WEIGHT 100000
#define RX_MAX_DEPTH  64
#define RX_MAX_RANGES 64  /* separate non-ASCII ranges a class may write */
#define RX_RANGE_CAP  256 /* ... it may hold while it is read */
#define RX_MAX_RUNE   0x10ffffu
#define RX_FOLD_MAX   0x1ffffu /* no cased character above */
#define RX_ORBIT      8

/* Every non-ASCII character of valid UTF-8: a lead byte and its
 * continuation bytes (NOTES 4). */
#define RX_NON_ASCII                                                                               \
    "[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf][\x80-\xbf]|"                                    \
    "[\xf0-\xf4][\x80-\xbf][\x80-\xbf][\x80-\xbf]"

enum { RF_I = 1, RF_S = 2, RF_M = 4 };

typedef struct {
    cn_buf_t *out;
    bool nl;    /* compiling with REG_NEWLINE (NOTES 3) */
    bool set_m; /* (?m) was seen */
    bool no_bytes; /* the pattern has \B: no class as bytes (NOTES 4) */
    const char *why;
    const char *fp; /* the part of the pattern why is about; NULL: all */
    size_t fn;
} tr_t;

/* a non-ASCII part of a class: code points lo..hi */
typedef struct {
    uint32_t lo, hi;
} rrange_t;

/* A class's members: ASCII 1-127 as bits (cs_add), the rest as sorted,
 * disjoint, non-adjacent ranges of code points 0x80-0x10FFFF (NOTES 4).
 * Only byte sets written as POSIX brackets (cs_members) use bits past
 * 127. */
typedef struct {
    uint8_t bits[32];
    rrange_t r[RX_RANGE_CAP];
    int nr;
    bool over; /* more ranges than RX_RANGE_CAP */
} cset_t;

static bool rx_digits(const char **p, long *v)
{
    if (**p < '0' || **p > '9' || (**p == '0' && (*p)[1] >= '0' && (*p)[1] <= '9'))
        return false; /* (Go: no leading zeros; the brace is then a literal) */
    long x = 0;
    while (**p >= '0' && **p <= '9') {
        if (x <= RX_MAX_COUNT * 10L)
            x = x * 10 + (**p - '0');
        (*p)++;
    }
    *v = x;
    return true;
}

/* A counted repetition {m}, {m,} or {m,n} at p: its counts in *min and
 * *max (-1 for {m,}), the text after it in *end; false when it is none
 * (Go and this translation then read the brace as a literal). */
static bool rx_count(const char *p, long *min, long *max, const char **end)
{
    if (*p != '{')
        return false;
    p++;
    long m, n = -1;
    if (!rx_digits(&p, &m))
        return false;
    if (*p == ',') {
        p++;
        if (*p != '}' && !rx_digits(&p, &n))
            return false;
    } else {
        n = m;
    }
    if (*p != '}')
        return false;
    *min = m;
    *max = n;
    *end = p + 1;
    return true;
}

/* Whether a repetition follows at p, past what Go reads as nothing at
 * all there: quotes of nothing (\\Q\\E) and flag groups ((?i)). */
static bool is_quant(const char *p)
{
    for (;;) {
        if (p[0] == '\\' && p[1] == 'Q' && (!p[2] || (p[2] == '\\' && p[3] == 'E'))) {
            p += p[2] ? 4 : 2;
            continue;
        }
        size_t n = p[0] == '(' && p[1] == '?' ? strspn(p + 2, "imsU-") : 0;
        if (p[0] == '(' && p[1] == '?' && p[2 + n] == ')') {
            p += 3 + n;
            continue;
        }
        break;
    }
    long min, max;
    const char *end;
    return *p == '*' || *p == '+' || *p == '?' || rx_count(p, &min, &max, &end);
}

/* ------------------------------------------------------------ characters */

/* Records why (the first reason only) and the n bytes at fp it is about
 * (fp NULL: the whole pattern), as Go's regexp names them. */
static bool fail_at(tr_t *t, const char *why, const char *fp, size_t n)
{
    if (!t->why) {
        t->why = why;
        t->fp = fp;
        t->fn = n;
    }
    return false;
}

static bool fail(tr_t *t, const char *why)
{
    return fail_at(t, why, NULL, 0);
}

/* How much of the escape at bs ('\') Go names when it refuses it: what
 * it read up to the first character it could not take. */
static size_t esc_len(const char *bs)
{
    const char *p = bs + 1;
    if (*p == 'p' || *p == 'P') {
        const char *e = p[1] == '{' ? strchr(p, '}') : NULL;
        return e ? (size_t)(e + 1 - bs) : (p[1] ? 3 : 2);
    }
    if (*p != 'x')
        return *p ? 2 : 1;
    p++;
    if (*p == '{')
        p++;
    int n = 0;
    while (n < (bs[2] == '{' ? 8 : 2) && cn_hexval(*p) >= 0) {
        p++;
        n++;
    }
    return (size_t)(p - bs) + (*p ? 1 : 0);
}

/* The length of the valid UTF-8 sequence at p (its code point in *cp), or
 * 0 when there is none. */
static int utf8_at(const char *s, uint32_t *cp)
{
    const unsigned char *p = (const unsigned char *)s;
    int n;
    uint32_t c;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    } else if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
        c = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        c = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        c = p[0] & 0x07;
    } else {
        return 0;
    }
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (p[i] & 0x3f);
    }
    if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
        (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

/* An escape that stands for one character, at p (just after the '\'):
 * \a \f \t \n \r \v, \xHH, \x{H...}, octal, punctuation.  Its code point
 * in *cp and the text after it, or NULL when p is no such escape. */
static const char *char_escape(const char *p, uint32_t *cp)
{
    static const char ctl[] = "a\af\ft\tn\nr\rv\v";
    const char *k = *p ? strchr(ctl, *p) : NULL;
    if (k && (k - ctl) % 2 == 0) {
        *cp = (unsigned char)k[1];
        return p + 1;
    }
    if (*p == 'x') {
        uint32_t c = 0;
        if (p[1] == '{') {
            const char *q = p + 2;
            int nd = 0;
            for (; cn_hexval(*q) >= 0; q++, nd++) {
                c = c * 16 + (uint32_t)cn_hexval(*q);
                if (c > 0x10ffff)
                    break;
            }
            if (*q != '}' || nd == 0 || c > 0x10ffff)
                return NULL;
            *cp = c;
            return q + 1;
        }
        if (cn_hexval(p[1]) < 0 || cn_hexval(p[2]) < 0)
            return NULL;
        *cp = (uint32_t)(cn_hexval(p[1]) * 16 + cn_hexval(p[2]));
        return p + 3;
    }
    if (*p >= '0' && *p <= '7') {
        /* Go: \0 and \0nn, or three-digit \nnn (\1 alone would be a
         * backreference, which it refuses) */
        if (*p != '0' && (p[1] < '0' || p[1] > '7'))
            return NULL;
        uint32_t c = 0;
        int i = 0;
        for (; i < 3 && p[i] >= '0' && p[i] <= '7'; i++)
            c = c * 8 + (uint32_t)(p[i] - '0');
        *cp = c;
        return p + i;
    }
    unsigned char u = (unsigned char)*p;
    if (u && u < 0x80 && !(u >= '0' && u <= '9') && !(u >= 'a' && u <= 'z') &&
        !(u >= 'A' && u <= 'Z')) {
        *cp = u;
        return p + 1;
    }
    return NULL;
}

/* ---------------------------------------------------------------- sets */

static void cs_add(cset_t *s, unsigned c)
{
    if (c >= 1 && c <= 255)
        s->bits[c >> 3] |= (uint8_t)(1u << (c & 7));
}

static bool cs_has(const cset_t *s, unsigned c)
{
    return c >= 1 && c <= 255 && (s->bits[c >> 3] >> (c & 7) & 1);
}

static void cs_range(cset_t *s, unsigned lo, unsigned hi)
{
    for (unsigned c = lo; c <= hi; c++)
        cs_add(s, c);
}

/* Adds the code points lo..hi (all 0x80 or above) to s's ranges, kept
 * sorted and merged. */
static void cs_runes(cset_t *s, uint32_t lo, uint32_t hi)
{
    int i = 0;
    while (i < s->nr && s->r[i].hi + 1 < lo)
        i++;
    int j = i; /* ranges i..j-1 touch or overlap lo..hi: merged into one */
    while (j < s->nr && s->r[j].lo <= hi + 1) {
        if (s->r[j].lo < lo)
            lo = s->r[j].lo;
        if (s->r[j].hi > hi)
            hi = s->r[j].hi;
        j++;
    }
    if (j == i && s->nr == RX_RANGE_CAP) {
        s->over = true;
        return;
    }
    memmove(&s->r[i + 1], &s->r[j], (size_t)(s->nr - j) * sizeof *s->r);
    s->nr += 1 - (j - i);
    s->r[i] = (rrange_t){lo, hi};
}

/* s's complement among the characters Go can match (not NUL: a C string
 * holds none). */
static void cs_negate(cset_t *s)
{
    for (unsigned b = 1; b < 0x80; b++)
        s->bits[b >> 3] ^= (uint8_t)(1u << (b & 7));
    rrange_t n[RX_RANGE_CAP + 1];
    int nn = 0;
    uint32_t next = 0x80;
    for (int i = 0; i < s->nr; i++) {
        if (s->r[i].lo > next)
            n[nn++] = (rrange_t){next, s->r[i].lo - 1};
        next = s->r[i].hi + 1;
    }
    if (next <= RX_MAX_RUNE)
        n[nn++] = (rrange_t){next, RX_MAX_RUNE};
    if (nn > RX_RANGE_CAP) {
        s->over = true;
        nn = RX_RANGE_CAP;
    }
    memcpy(s->r, n, (size_t)nn * sizeof *n);
    s->nr = nn;
}

/* Takes the surrogates (U+D800-DFFF) out of s: UTF-8 has none, and a
 * class of only those matches nothing, as in Go. */
static void cs_no_surrogates(cset_t *s)
{
    rrange_t n[RX_RANGE_CAP];
    int nn = 0;
    bool over = false;
    for (int i = 0; i < s->nr; i++) {
        rrange_t r = s->r[i];
        rrange_t part[2];
        int np = 0;
        if (r.hi < 0xd800 || r.lo > 0xdfff) {
            part[np++] = r;
        } else {
            if (r.lo < 0xd800)
                part[np++] = (rrange_t){r.lo, 0xd7ff};
            if (r.hi > 0xdfff)
                part[np++] = (rrange_t){0xe000, r.hi};
        }
        for (int k = 0; k < np; k++) {
            if (nn == RX_RANGE_CAP)
                over = true;
            else
                n[nn++] = part[k];
        }
    }
    memcpy(s->r, n, (size_t)nn * sizeof *n);
    s->nr = nn;
    s->over = s->over || over;
}

/* Whether s holds every non-ASCII character (but the surrogates). */
static bool cs_all_runes(const cset_t *s)
{
    if (s->nr == 1)
        return s->r[0].lo == 0x80 && s->r[0].hi == RX_MAX_RUNE;
    return s->nr == 2 && s->r[0].lo == 0x80 && s->r[0].hi == 0xd7ff && s->r[1].lo == 0xe000 &&
           s->r[1].hi == RX_MAX_RUNE;
}

static void cs_fold(cset_t *s);

/* Go's ASCII class name (as in [:name:] or \d \s \w) into s, negated:
 * every byte not in it, folded (?i) before it is negated, as Go folds
 * it.  false when the name is unknown. */
static bool cs_class(cset_t *s, const char *name, size_t n, bool neg, bool fold)
{
    cset_t c = {0};
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(name, lit, n) == 0)
    if (IS("alnum") || IS("word")) {
        cs_range(&c, '0', '9');
        cs_range(&c, 'A', 'Z');
        cs_range(&c, 'a', 'z');
        if (IS("word"))
            cs_add(&c, '_');
    } else if (IS("alpha")) {
        cs_range(&c, 'A', 'Z');
        cs_range(&c, 'a', 'z');
    } else if (IS("ascii")) {
        cs_range(&c, 1, 0x7f);
    } else if (IS("blank")) {
        cs_add(&c, ' ');
        cs_add(&c, '\t');
    } else if (IS("cntrl")) {
        cs_range(&c, 1, 0x1f);
        cs_add(&c, 0x7f);
    } else if (IS("digit")) {
        cs_range(&c, '0', '9');
    } else if (IS("graph") || IS("print")) {
        cs_range(&c, IS("graph") ? '!' : ' ', '~');
    } else if (IS("lower")) {
        cs_range(&c, 'a', 'z');
    } else if (IS("punct")) {
        cs_range(&c, '!', '/');
        cs_range(&c, ':', '@');
        cs_range(&c, '[', '`');
        cs_range(&c, '{', '~');
    } else if (IS("space")) {
        cs_range(&c, '\t', '\r');
        cs_add(&c, ' ');
    } else if (IS("perlspace")) { /* \s: Go's is [\t\n\f\r ] */
        cs_add(&c, '\t');
        cs_add(&c, '\n');
        cs_add(&c, '\f');
        cs_add(&c, '\r');
        cs_add(&c, ' ');
    } else if (IS("upper")) {
        cs_range(&c, 'A', 'Z');
    } else if (IS("xdigit")) {
        cs_range(&c, '0', '9');
        cs_range(&c, 'A', 'F');
        cs_range(&c, 'a', 'f');
    } else {
        return false;
    }
#undef IS
    if (fold)
        cs_fold(&c);
    if (neg)
        cs_negate(&c);
    for (unsigned b = 1; b < 0x80; b++)
        if (cs_has(&c, b))
            cs_add(s, b);
    for (int i = 0; i < c.nr; i++)
        cs_runes(s, c.r[i].lo, c.r[i].hi);
    return true;
}

/* \d \D \s \S \w \W into s, folded under (?i) before negated (as Go
 * does: (?i)\w holds the Kelvin sign); false when c is none of them */
static bool cs_perl(cset_t *s, char c, bool fold)
{
    switch (c) {
    case 'd':
    case 'D':
        return cs_class(s, "digit", 5, c == 'D', fold);
    case 's':
    case 'S':
        return cs_class(s, "perlspace", 9, c == 'S', fold);
    case 'w':
    case 'W':
        return cs_class(s, "word", 4, c == 'W', fold);
    default:
        return false;
    }
}

/* Unicode's case orbits, as Go's (?i) folds (unicode.SimpleFold): the
 * characters that share lower(upper(c)) in glibc's C.UTF-8, read once
 * (about 5 ms) into rx_folds, sorted by that key.  U+0130 and U+0131
 * (Turkish dotted I, dotless i) are in no orbit, as in Go. */
typedef struct {
    uint32_t key, cp;
} rx_fold_t;

static locale_t rx_utf8;
static rx_fold_t *rx_folds;
static size_t rx_nfolds;
static pthread_once_t rx_fold_once = PTHREAD_ONCE_INIT;

static bool rx_fold_newer(uint32_t c);

static uint32_t rx_fold_key(uint32_t c)
{
    if (c == 0x130 || c == 0x131 || rx_fold_newer(c))
        return c;
    return (uint32_t)towlower_l(towupper_l((wint_t)c, rx_utf8), rx_utf8);
}

static int rx_fold_cmp(const void *x, const void *y)
{
    const rx_fold_t *a = x, *b = y;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return (a->cp > b->cp) - (a->cp < b->cp);
}

/* Case pairs Unicode 14 added, which glibc 2.36 knows and the Go that
 * built InfluxDB 1.6.7 (go1.19, Unicode 13) does not fold: left out of
 * the orbits.  (A newer glibc's additions would need the same.) */
static bool rx_fold_newer(uint32_t c)
{
    static const uint32_t r[][2] = {{0x2c2f, 0x2c2f}, {0x2c5f, 0x2c5f}, {0xa7c0, 0xa7c1},
                                    {0xa7d0, 0xa7d1}, {0xa7d6, 0xa7d9}, {0x10570, 0x105bc}};
    for (size_t i = 0; i < sizeof r / sizeof *r; i++)
        if (c >= r[i][0] && c <= r[i][1])
            return true;
    return false;
}

static void rx_fold_init(void)
{
    rx_utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (!rx_utf8)
        return; /* no C.UTF-8: ASCII's cases only */
    size_t cap = 4096;
    rx_fold_t *f = cn_malloc(cap * sizeof *f);
    for (uint32_t c = 'A'; c <= RX_FOLD_MAX; c++) {
        if (c == 0x130 || c == 0x131 || rx_fold_newer(c) ||
            ((uint32_t)towupper_l((wint_t)c, rx_utf8) == c &&
             (uint32_t)towlower_l((wint_t)c, rx_utf8) == c))
            continue;
        if (rx_nfolds + 2 > cap) {
            cap *= 2;
            f = cn_realloc(f, cap * sizeof *f);
        }
        /* the key too: sharp s has no other case of its own, but the
         * capital sharp s folds to it */
        uint32_t key = rx_fold_key(c);
        f[rx_nfolds++] = (rx_fold_t){key, c};
        f[rx_nfolds++] = (rx_fold_t){key, key};
    }
    qsort(f, rx_nfolds, sizeof *f, rx_fold_cmp);
    size_t n = 0;
    for (size_t i = 0; i < rx_nfolds; i++)
        if (!n || rx_fold_cmp(&f[n - 1], &f[i]) != 0)
            f[n++] = f[i];
    rx_nfolds = n;
    rx_folds = f;
}

/* The other characters of c's case orbit into out (at most max of them);
 * how many. */
static int rx_orbit(uint32_t c, uint32_t *out, int max)
{
    pthread_once(&rx_fold_once, rx_fold_init);
    if (!rx_folds) {
        bool up = c >= 'A' && c <= 'Z', lo = c >= 'a' && c <= 'z';
        if ((up || lo) && max > 0) {
            out[0] = up ? c + 32 : c - 32;
            return 1;
        }
        return 0;
    }
    uint32_t key = rx_fold_key(c);
    size_t l = 0, h = rx_nfolds;
    while (l < h) { /* the first entry of key */
        size_t m = (l + h) / 2;
        if (rx_folds[m].key < key)
            l = m + 1;
        else
            h = m;
    }
    int n = 0;
    for (; l < rx_nfolds && rx_folds[l].key == key && n < max; l++)
        if (rx_folds[l].cp != c)
            out[n++] = rx_folds[l].cp;
    return n;
}

static void cs_add_folded(cset_t *s, uint32_t c)
{
    if (c < 0x80)
        cs_add(s, c);
    else
        cs_runes(s, c, c);
}

static bool cs_in(const cset_t *s, uint32_t c)
{
    if (c < 0x80)
        return cs_has(s, c);
    for (int i = 0; i < s->nr && s->r[i].lo <= c; i++)
        if (c <= s->r[i].hi)
            return true;
    return false;
}

/* (?i) over s: the whole case orbit of each member. */
static void cs_fold(cset_t *s)
{
    pthread_once(&rx_fold_once, rx_fold_init);
    if (!rx_folds) {
        for (unsigned c = 'a'; c <= 'z'; c++)
            if (cs_has(s, c) || cs_has(s, c - 32)) {
                cs_add(s, c);
                cs_add(s, c - 32);
            }
        return;
    }
    cset_t in = *s;
    for (size_t i = 0, j; i < rx_nfolds; i = j) {
        bool hit = false;
        for (j = i; j < rx_nfolds && rx_folds[j].key == rx_folds[i].key; j++)
            hit = hit || cs_in(&in, rx_folds[j].cp);
        for (size_t k = i; hit && k < j; k++)
            cs_add_folded(s, rx_folds[k].cp);
    }
}

/* The members of s in POSIX's order (NOTES 2); first: whether nothing
 * precedes them in the bracket (then a '^' may not come first). */
static void cs_members(cn_buf_t *o, const cset_t *s, bool first)
{
    bool any = false;
    if (cs_has(s, ']')) {
        cn_buf_put_u8(o, ']');
        any = true;
    }
    for (unsigned c = 1; c <= 255;) {
        if (!cs_has(s, c) || c == ']' || c == '^' || c == '-') {
            c++;
            continue;
        }
        unsigned e = c;
        while (e < 255 && cs_has(s, e + 1) && e + 1 != ']' && e + 1 != '^' && e + 1 != '-')
            e++;
        cn_buf_put_u8(o, (uint8_t)c);
        if (e >= c + 2)
            cn_buf_put_u8(o, '-');
        if (e >= c + 1)
            cn_buf_put_u8(o, (uint8_t)e);
        any = true;
        c = e + 1;
    }
    bool dash = cs_has(s, '-');
    if (cs_has(s, '^')) {
        if (!any && first && dash) { /* [-^]: '-' first is a member too */
            cn_buf_put_u8(o, '-');
            dash = false;
        }
        cn_buf_put_u8(o, '^');
    }
    if (dash)
        cn_buf_put_u8(o, '-');
}

static bool cs_empty(const cset_t *s)
{
    for (int i = 0; i < 16; i++)
        if (s->bits[i])
            return false;
    return true;
}

/* The UTF-8 encodings of lo..hi (code points of one encoded length, no
 * surrogate) as alternatives of byte ranges: the range is cut where a
 * trailing byte would not run over all of 0x80-0xBF, until each byte
 * position is one range of its own. */
static void utf8_seqs(cn_buf_t *o, uint32_t lo, uint32_t hi)
{
    static const uint32_t ends[] = {0x7ff, 0xffff};
    for (int i = 0; i < 2; i++)
        if (lo <= ends[i] && hi > ends[i]) { /* encoded lengths differ */
            utf8_seqs(o, lo, ends[i]);
            utf8_seqs(o, ends[i] + 1, hi);
            return;
        }
    if (lo <= 0xdfff && hi >= 0xd800) { /* no surrogates: UTF-8 has none */
        if (lo < 0xd800)
            utf8_seqs(o, lo, 0xd7ff);
        if (hi > 0xdfff)
            utf8_seqs(o, 0xe000, hi);
        return;
    }
    for (int i = 1; i < 4; i++) {
        uint32_t m = (1u << (6 * i)) - 1; /* the last i bytes' bits */
        if ((lo & ~m) == (hi & ~m))
            continue;
        if (lo & m) {
            utf8_seqs(o, lo, lo | m);
            utf8_seqs(o, (lo | m) + 1, hi);
            return;
        }
        if ((hi & m) != m) {
            utf8_seqs(o, lo, (hi & ~m) - 1);
            utf8_seqs(o, hi & ~m, hi);
            return;
        }
    }
    char a[4], b[4];
    size_t n = cn_utf8_put(a, lo);
    cn_utf8_put(b, hi);
    if (o->len && o->p[o->len - 1] != '(')
        cn_buf_put_u8(o, '|');
    for (size_t k = 0; k < n; k++) {
        if (a[k] == b[k]) {
            cn_buf_put_u8(o, (uint8_t)a[k]);
        } else {
            uint8_t r[5] = {'[', (uint8_t)a[k], '-', (uint8_t)b[k], ']'};
            cn_buf_put(o, r, 5);
        }
    }
}

/* The ASCII characters s lacks into *c; how many it holds. */
static int cs_ascii_missing(const cset_t *s, cset_t *c)
{
    int in = 0;
    memset(c, 0, sizeof *c);
    for (unsigned b = 1; b < 0x80; b++) {
        if (cs_has(s, b))
            in++;
        else
            cs_add(c, b);
    }
    return in;
}

/* The bracket of s's ASCII members: negated (with every non-ASCII byte)
 * when at most 16 are not members - unless s holds '\n' and REG_NEWLINE is on: such
 * a bracket then leaves out '\n' too -, '^' alone escaped (no bracket can
 * hold only it). */
static void cs_ascii(tr_t *t, const cset_t *s)
{
    cn_buf_t *o = t->out;
    cset_t c, caret = {0};
    int in = cs_ascii_missing(s, &c);
    if (in >= 0x7f - 16 && !(t->nl && cs_has(s, '\n'))) {
        cs_range(&c, 0x80, 0xff);
        cn_buf_put(o, "[^", 2);
        cs_members(o, &c, false);
        cn_buf_put_u8(o, ']');
        return;
    }
    cs_add(&caret, '^');
    if (memcmp(s->bits, caret.bits, sizeof caret.bits) == 0) {
        cn_buf_put(o, "\\^", 2);
        return;
    }
    cn_buf_put_u8(o, '[');
    cs_members(o, s, true);
    cn_buf_put_u8(o, ']');
}

/* The class s (negated: its complement) at t->out; next: the pattern
 * after it.  Characters, not bytes (NOTES 4): an alternation of the
 * ASCII bracket and the UTF-8 sequences of the other members.  Before a
 * '*', a class with every non-ASCII character is one bracket of
 * bytes - the same matches on valid UTF-8, and a cheaper automaton. */
static bool cs_emit(tr_t *t, const cset_t *cs, bool neg, const char *next)
{
    cn_buf_t *o = t->out;
    cset_t s = *cs;
    if (neg)
        cs_negate(&s);
    cs_no_surrogates(&s);
    if (s.over || s.nr > RX_MAX_RANGES)
        return fail(t, "too many non-ASCII ranges in a class");
    bool ascii = !cs_empty(&s);
    if (!ascii && !s.nr) { /* matches nothing (only NUL, which no string holds) */
        static const char none[] = "[^\x01-\xff]";
        cn_buf_put(o, none, sizeof none - 1);
        return true;
    }
    if (cs_all_runes(&s) && *next == '*' && !t->no_bytes) {
        cset_t c; /* the bytes not in it */
        cs_ascii_missing(&s, &c);
        if (cs_empty(&c)) {
            cn_buf_put(o, t->nl ? "(.|\n)" : ".", t->nl ? 5 : 1);
        } else if (!t->nl || cs_has(&c, '\n')) {
            /* (with REG_NEWLINE a negated bracket leaves out '\n' too) */
            cn_buf_put(o, "[^", 2);
            cs_members(o, &c, false);
            cn_buf_put_u8(o, ']');
        } else {
            cs_range(&s, 0x80, 0xff);
            cs_ascii(t, &s);
        }
        return true;
    }
    if (!s.nr) {
        cs_ascii(t, &s);
        return true;
    }
    cn_buf_put_u8(o, '(');
    if (ascii)
        cs_ascii(t, &s);
    if (cs_all_runes(&s)) { /* valid UTF-8 (all the server stores) needs no more */
        cn_buf_put(o, ascii ? "|" : "", ascii ? 1 : 0);
        cn_buf_put(o, RX_NON_ASCII, sizeof RX_NON_ASCII - 1);
    } else {
        for (int i = 0; i < s.nr; i++)
            utf8_seqs(o, s.r[i].lo, s.r[i].hi);
    }
    cn_buf_put_u8(o, ')');
    return true;
}

static bool cs_add_char(tr_t *t, cset_t *s, uint32_t c)
{
    if (c == 0)
        return fail(t, "a NUL character cannot be matched");
    if (c < 0x80) {
        cs_add(s, c);
        return true;
    }
    cs_runes(s, c, c);
    return true;
}

/* One member at p inside a bracket: a character (*single, its code point
 * in *cp) or a class (added to s).  The text after it, or NULL. */
static const char *class_atom(tr_t *t, const char *p, int fl, cset_t *s, uint32_t *cp, bool *single)
{
    *single = false;
    if (*p == '\\') {
        p++;
        if (!*p)
            return fail_at(t, "trailing backslash at end of expression", p, 0), NULL;
        if (cs_perl(s, *p, (fl & RF_I) != 0))
            return p + 1;
        const char *q = char_escape(p, cp);
        if (q) {
            *single = true;
            return q;
        }
        const char *why = *p == 'p' || *p == 'P' ? "Unicode classes (\\p) are not supported"
                                                 : "invalid escape sequence";
        return fail_at(t, why, p - 1, esc_len(p - 1)), NULL;
    }
    int n = utf8_at(p, cp);
    if (n == 0)
        return fail_at(t, "invalid UTF-8", p, strlen(p)), NULL;
    *single = true;
    return p + n;
}

/* A bracket expression at p ('['), written to t->out; the text after it */
static const char *tr_class(tr_t *t, const char *p, int fl)
{
    cset_t s = {0};
    const char *start = p;
    p++;
    bool neg = *p == '^';
    if (neg)
        p++;
    for (bool first = true; *p && (*p != ']' || first); first = false) {
        const char *e = p[0] == '[' && p[1] == ':' ? strstr(p + 2, ":]") : NULL;
        if (e) { /* [:alpha:]; without its ":]" a '[' is a member */
            const char *name = p + 2;
            bool cneg = *name == '^';
            if (cneg)
                name++;
            if (!cs_class(&s, name, (size_t)(e - name), cneg, (fl & RF_I) != 0))
                return fail_at(t, "invalid character class range", p, (size_t)(e + 2 - p)), NULL;
            p = e + 2;
            continue;
        }
        uint32_t lo, hi;
        bool single, single2;
        const char *q = class_atom(t, p, fl, &s, &lo, &single);
        if (!q)
            return NULL;
        if (single && *q == '-' && q[1] && q[1] != ']') {
            const char *r = class_atom(t, q + 1, fl, &s, &hi, &single2);
            if (!r)
                return NULL;
            if (!single2 && q[1] == '\\') /* a class escape as a range's end */
                return fail_at(t, "invalid escape sequence", q + 1, 2), NULL;
            const char *why = NULL;
            if (!single || !single2 || hi < lo)
                why = "invalid character class range";
            else if (lo == 0)
                why = "a NUL character cannot be matched";
            if (why)
                return fail_at(t, why, p, (size_t)(r - p)), NULL;
            if (lo < 0x80)
                cs_range(&s, lo, hi < 0x80 ? hi : 0x7f);
            if (hi >= 0x80)
                cs_runes(&s, lo < 0x80 ? 0x80 : lo, hi);
            p = r;
            continue;
        }
        if (single && !cs_add_char(t, &s, lo))
            return NULL;
        p = q;
    }
    if (*p != ']')
        return fail_at(t, "missing closing ]", start, strlen(start)), NULL;
    if (fl & RF_I)
        cs_fold(&s);
    return cs_emit(t, &s, neg, p + 1) ? p + 1 : NULL;
}

/* ------------------------------------------------------------- outside */

/* One character c (a literal) as POSIX reads it; next: the text after it
 * in the pattern (a repetition there takes all of a multi-byte one). */
static bool put_char(tr_t *t, uint32_t c, int fl, const char *next)
{
    cn_buf_t *o = t->out;
    if (c == 0)
        return fail(t, "a NUL character cannot be matched");
    uint32_t other[RX_ORBIT];
    int nother = (fl & RF_I) ? rx_orbit(c, other, RX_ORBIT) : 0;
    bool ascii_pair = nother == 1 && c < 0x80 && other[0] < 0x80;
    if (nother && !ascii_pair) { /* its case orbit, as a class */
        cset_t s = {0};
        cs_add_folded(&s, c);
        for (int k = 0; k < nother; k++)
            cs_add_folded(&s, other[k]);
        return cs_emit(t, &s, false, next);
    }
    if (c >= 0x80) {
        char u[4];
        bool grp = is_quant(next);
        if (grp)
            cn_buf_put_u8(o, '(');
        cn_buf_put(o, u, cn_utf8_put(u, c));
        if (grp)
            cn_buf_put_u8(o, ')');
        return true;
    }
    if (ascii_pair) {
        char b[4] = {'[', (char)CN_MAX(c, other[0]), (char)CN_MIN(c, other[0]), ']'};
        cn_buf_put(o, b, 4);
        return true;
    }
    if (strchr(".[]()*+?{}|^$\\", (int)c))
        cn_buf_put_u8(o, '\\');
    cn_buf_put_u8(o, (uint8_t)c);
    return true;
}

/* An anchor (^ $ \\b \\B), grouped when a repetition follows it at next:
 * Go repeats an empty match, glibc refuses a repeated anchor. */
static void put_anchor(cn_buf_t *o, const char *a, size_t n, const char *next)
{
    bool grp = is_quant(next);
    if (grp)
        cn_buf_put_u8(o, '(');
    cn_buf_put(o, a, n);
    if (grp)
        cn_buf_put_u8(o, ')');
}

/* (?flags) or (?flags: at p ("(?"): the flags on and off; the text after
 * the ')' or ':' (*colon says which), or NULL */
static const char *flag_group(tr_t *t, const char *p, int *on, int *off, bool *colon)
{
    *on = *off = 0;
    bool neg = false, any = false;
    const char *start = p;
    for (p += 2;; p++) {
        size_t n = (size_t)(p - start) + (*p ? 1 : 0);
        int f = 0;
        switch (*p) {
        case 'i':
            f = RF_I;
            break;
        case 's':
            f = RF_S;
            break;
        case 'm':
            f = RF_M;
            break;
        case 'U':
            f = -1;
            break;
        case '-':
            if (neg)
                return fail_at(t, "invalid or unsupported Perl syntax", start, n), NULL;
            neg = true;
            any = false;
            continue;
        case ':':
        case ')':
            if (!any && neg) /* (?) is nothing, as in Go; (?-) is an error */
                return fail_at(t, "invalid or unsupported Perl syntax", start, n), NULL;
            *colon = *p == ':';
            return p + 1;
        default:
            return fail_at(t, "invalid or unsupported Perl syntax", start, n), NULL;
        }
        any = true;
        if (f > 0)
            *(neg ? off : on) |= f;
    }
}

static bool tr_run(tr_t *t, const char *pat)
{
    cn_buf_t *o = t->out;
    int stack[RX_MAX_DEPTH];
    int depth = 0, fl = 0;
    bool can_rep = false;   /* an atom precedes: a repetition may follow */
    const char *rep = NULL; /* the repetition that precedes, if one does */
    for (const char *p = pat; *p;) {
        unsigned char c = (unsigned char)*p;
        long min, max;
        const char *end;
        bool count = c == '{' && rx_count(p, &min, &max, &end);
        if (count || c == '*' || c == '+' || c == '?') {
            const char *q = count ? end : p + 1;
            if (*q == '?') /* non-greedy: the same matches (NOTES 1) */
                q++;
            if (!can_rep && rep)
                return fail_at(t, "invalid nested repetition operator", rep, (size_t)(q - rep));
            if (!can_rep)
                return fail_at(t, "missing argument to repetition operator", p, (size_t)(q - p));
            if (count && (min > RX_MAX_COUNT || max > RX_MAX_COUNT || (max >= 0 && max < min)))
                return fail_at(t, "invalid repeat count", p, (size_t)(end - p));
            cn_buf_put(o, p, count ? (size_t)(end - p) : 1);
            can_rep = false;
            rep = p;
            p = q;
            continue;
        }
        const char *prev_rep = rep;
        bool prev_can = can_rep;
        rep = NULL;
        can_rep = c != '|' && c != '(';
        if (c == '|') {
            cn_buf_put_u8(o, c);
            p++;
            continue;
        }
        if (c == '{' || c == '}') {
            cn_buf_put_u8(o, '\\');
            cn_buf_put_u8(o, c);
            p++;
            continue;
        }
        if (c == '(') {
            if (depth == RX_MAX_DEPTH)
                return fail(t, "expression nests too deeply");
            int nfl = fl;
            if (p[1] == '?') {
                const char *q = p + 2;
                if (q[0] == 'P' && q[1] == '<') {
                    /* a named group ((?<name> is Go 1.22's; 1.6.7 refuses
                     * it, as a flag group here does) */
                    const char *gt = strchr(q + 2, '>'), *e = q + 2;
                    while ((*e >= '0' && *e <= '9') || (*e >= 'a' && *e <= 'z') ||
                           (*e >= 'A' && *e <= 'Z') || *e == '_')
                        e++;
                    if (!gt)
                        return fail_at(t, "invalid named capture", p, strlen(p));
                    if (e == q + 2 || e != gt)
                        return fail_at(t, "invalid named capture", p, (size_t)(gt + 1 - p));
                    p = gt + 1;
                } else {
                    int on, off;
                    bool colon;
                    q = flag_group(t, p, &on, &off, &colon);
                    if (!q)
                        return false;
                    if (on & RF_M)
                        t->set_m = true;
                    nfl = (fl | on) & ~off;
                    p = q;
                    if (!colon) { /* for the rest of the group; a repetition
                                   * after it applies to what came before */
                        fl = nfl;
                        rep = prev_rep;
                        can_rep = prev_can;
                        continue;
                    }
                }
            } else {
                p++;
            }
            stack[depth++] = fl;
            fl = nfl;
            cn_buf_put_u8(o, '(');
            continue;
        }
        if (c == ')') {
            if (depth == 0)
                return fail(t, "unexpected )");
            fl = stack[--depth];
            cn_buf_put_u8(o, ')');
            p++;
            continue;
        }
        if (c == '[') {
            p = tr_class(t, p, fl);
            if (!p)
                return false;
            continue;
        }
        if (c == '.') {
            cset_t s = {0};
            cs_range(&s, 1, 0x7f);
            if (!(fl & RF_S))
                s.bits['\n' >> 3] &= (uint8_t) ~(1u << ('\n' & 7));
            cs_runes(&s, 0x80, RX_MAX_RUNE);
            if (!cs_emit(t, &s, false, p + 1))
                return false;
            p++;
            continue;
        }
        if (c == '^' || c == '$') { /* NOTES 5 */
            if (fl & RF_M)
                put_anchor(o, (const char *)&c, 1, p + 1);
            else
                put_anchor(o, c == '^' ? "\\`" : "\\'", 2, p + 1);
            p++;
            continue;
        }
        if (c == '\\') {
            char e = p[1];
            if (!e)
                return fail_at(t, "trailing backslash at end of expression", p, 0);
            cset_t s = {0};
            if (cs_perl(&s, e, (fl & RF_I) != 0)) {
                if (!cs_emit(t, &s, false, p + 2))
                    return false;
                p += 2;
                continue;
            }
            if (e == 'b' || e == 'B') {
                put_anchor(o, p, 2, p + 2);
                p += 2;
                continue;
            }
            if (e == 'A' || e == 'z') {
                put_anchor(o, e == 'A' ? "\\`" : "\\'", 2, p + 2);
                p += 2;
                continue;
            }
            if (e == 'Q') {
                const char *q = p + 2, *qe = strstr(q, "\\E");
                if (!qe)
                    qe = q + strlen(q);
                if (q == qe) { /* nothing quoted: as if it were not there */
                    rep = prev_rep;
                    can_rep = prev_can;
                }
                while (q < qe) {
                    uint32_t cp;
                    int n = utf8_at(q, &cp);
                    if (n == 0)
                        return fail_at(t, "invalid UTF-8", q, strlen(q));
                    if (!put_char(t, cp, fl, q + n < qe ? q + n : (*qe ? qe + 2 : qe)))
                        return false;
                    q += n;
                }
                p = *qe ? qe + 2 : qe;
                continue;
            }
            uint32_t cp;
            const char *q = char_escape(p + 1, &cp);
            if (!q)
                return fail_at(t,
                               e == 'p' || e == 'P' ? "Unicode classes (\\p) are not supported"
                                                    : "invalid escape sequence",
                               p, esc_len(p));
            if (!put_char(t, cp, fl, q))
                return false;
            p = q;
            continue;
        }
        uint32_t cp;
        int n = utf8_at(p, &cp);
        if (n == 0)
            return fail_at(t, "invalid UTF-8", p, strlen(p));
        if (!put_char(t, cp, fl, p + n))
            return false;
        p += n;
    }
    if (depth)
        return fail(t, "missing closing )");
    return true;
}

static bool translate(tr_t *t, const char *pat, cn_buf_t *out)
{
    *t = (tr_t){.out = out, .no_bytes = strstr(pat, "\\B") != NULL};
    cn_buf_reset(out);
    bool ok = tr_run(t, pat);
    if (ok && t->set_m) { /* NOTES 3 */
        cn_buf_reset(out);
        t->nl = true;
        ok = tr_run(t, pat);
    }
    if (ok && t->no_bytes) { /* a match starts where a character does (NOTES 4) */
        static const char start[] = "(\\`|[\x01-\x7f]|" RX_NON_ASCII ")(";
        cn_buf_t w;
        cn_buf_init(&w);
        cn_buf_put(&w, start, sizeof start - 1);
        cn_buf_put(&w, out->p, out->len);
        cn_buf_put_u8(&w, ')');
        cn_buf_reset(out);
        cn_buf_put(out, w.p, w.len);
        cn_buf_free(&w);
    }
    cn_buf_put_u8(out, 0);
    out->len--;
    if (!ok && !t->why)
        t->why = "invalid regular expression";
    return ok;
}

const char *qry_regex_posix(const char *pat, cn_buf_t *out, int *cflags)
{
    tr_t t;
    bool ok = translate(&t, pat, out);
    *cflags = t.nl ? REG_NEWLINE : 0;
    return ok ? NULL : t.why;
}

const char *qry_regex_check(const char *pat, char *msg, size_t cap)
{
    tr_t t;
    cn_buf_t b;
    cn_buf_init(&b);
    if (translate(&t, pat, &b))
        t.why = qry_regex_refused((const char *)b.p);
    cn_buf_free(&b);
    if (!t.why)
        return NULL;
    if (!t.fp) {
        t.fp = pat;
        t.fn = strlen(pat);
    }
    snprintf(msg, cap, "error parsing regexp: %s: `%.*s`", t.why, (int)t.fn, t.fp);
    return msg;
}

int qry_regcomp_posix(regex_t *re, const char *pat, cn_buf_t *posix, int *cflags, const char **why)
{
    const char *w = qry_regex_posix(pat, posix, cflags);
    if (!w)
        w = qry_regex_refused((const char *)posix->p);
    if (!w && regcomp(re, (const char *)posix->p, REG_EXTENDED | REG_NOSUB | *cflags) != 0)
        w = "invalid regular expression";
    if (why)
        *why = w;
    return w ? CN_EINVAL : 0;
}

int qry_regcomp(regex_t *re, const char *pat, const char **why)
{
    cn_buf_t b;
    cn_buf_init(&b);
    int cflags;
    int rc = qry_regcomp_posix(re, pat, &b, &cflags, why);
    cn_buf_free(&b);
    return rc;
}

/* ------------------------------------------------------- regex guard */

/*
 * glibc's regcomp builds its automaton eagerly: a pattern like a+++++... or
 * ((a{100}){100}){100} takes gigabytes and seconds, where Go's regexp
 * (InfluxDB's) refuses the first and compiles the second to a linear
 * program.  Translated patterns pass this check before regcomp.  It
 * refuses what Go refuses (a repetition of a repetition, apart from one
 * '?' after it; a count over 1000), patterns whose counted repetitions
 * multiply past 100,000 copies of an atom, and patterns with more than
 * 2,000 copies of something that may match nothing: regcomp's memory
 * grows with the square of a run of those (measured: ((a?){100}){30}
 * 71 MB, ((a|){100}){100} 774 MB, ((a{100}){100}){10} 21 MB), and its
 * time with their cube under an open repetition: more than 300 copies
 * there are refused (measured: (){400,} 0.14 s, (){800,} 0.9 s).  A group
 * weighs what all its branches weigh together, as glibc copies each of
 * them for a count: a class with non-ASCII members is such an alternation
 * (NOTES 4), and weighed as its longest branch, (?:[^\xc3\xa9]{0,250}){0,100}
 * took 1.6 GB and a 64-range class {250}{100} 4.5 GB.
 */
#define RX_MAX_NULLABLE      2000
#define RX_MAX_NULLABLE_STAR 300

typedef struct {
    long sum, cur;    /* weight: the finished branches together, this one */
    long nbest, ncur; /* copies that may match nothing, the same way */
    long nonnull;     /* atoms of this branch that must match something */
    bool gnull;       /* a finished branch may match nothing */
    long branches;    /* finished branches */
} rx_grp_t;

/* The branch that ends (at '|' or ')') into its group's totals. */
static void rx_branch_end(rx_grp_t *g)
{
    g->sum += g->cur; /* glibc copies every branch for a count */
    if (g->ncur > g->nbest)
        g->nbest = g->ncur;
    if (g->nonnull == 0)
        g->gnull = true;
    g->cur = g->ncur = g->nonnull = 0;
    g->branches++;
}

const char *qry_regex_refused(const char *pat)
{
    rx_grp_t g[RX_MAX_DEPTH + 1];
    int depth = 0;
    g[0] = (rx_grp_t){0};
    long atom = 0;   /* weight of the last atom, 0: none to repeat */
    long atom_n = 0; /* its copies that may match nothing */
    bool atom_null = false;
    int reps = 0;      /* repetition operators right after that atom */
    bool lazy = false; /* the last of them was a '?' after another */
    for (const char *p = pat; *p;) {
        long min, max;
        const char *end;
        bool count = rx_count(p, &min, &max, &end);
        bool open = count && max < 0; /* {m,} */
        if (open)
            max = min;
        if (count || *p == '*' || *p == '+' || *p == '?') {
            if (reps == 1 && *p == '?' && !lazy) {
                lazy = true; /* a+? : Go's non-greedy form */
                p++;
                continue;
            }
            if (reps > 0 || lazy)
                return "invalid nested repetition operator";
            if (count && max > RX_MAX_COUNT)
                return "invalid repeat count";
            reps = 1;
            if (!count) {
                min = *p == '+';
                max = 1;
            }
            if (atom) {
                long copies = max ? max : 1;
                long w = atom * copies, n = atom_n * copies;
                /* made optional (* ? {0,n}): one more copy that may match
                 * nothing; glibc nests the optional copies of {m,n}, so
                 * they count once (a{0,1000}b{0,1000}c{0,1000}: 26 MB) */
                if (!atom_null && (min == 0 || (count && !open && max > min)))
                    n += 1;
                /* an open repetition (* + {m,}) of such copies costs
                 * regcomp time with their cube: (){800,} 0.9 s */
                bool star = count ? open : *p != '?';
                if (star && n > RX_MAX_NULLABLE_STAR)
                    return "expression too large";
                g[depth].cur += w - atom;
                g[depth].ncur += n - atom_n;
                if (!atom_null && min == 0)
                    g[depth].nonnull--;
                atom_null = atom_null || min == 0;
                atom = w;
                atom_n = n;
            }
            p = count ? end : p + 1;
        } else {
            reps = 0;
            lazy = false;
            if (*p == '(') {
                if (depth == RX_MAX_DEPTH)
                    return "expression nests too deeply";
                g[++depth] = (rx_grp_t){0};
                atom = 0;
                p++;
                continue;
            }
            if (*p == '|') {
                rx_branch_end(&g[depth]);
                atom = 0;
                p++;
                continue;
            }
            atom = 1; /* a character or a class, unless a group ends */
            atom_n = 0;
            atom_null = false;
            if (*p == ')' && depth > 0) {
                rx_branch_end(&g[depth]);
                atom = g[depth].sum ? g[depth].sum : 1;
                /* a group that may match nothing leads on into each of its
                 * branches: ((a{100}!)|||...){100} with 110 empty ones took
                 * 528 MB */
                atom_null = g[depth].gnull;
                atom_n = g[depth].nbest + (atom_null ? g[depth].branches : 0);
                depth--;
                p++;
            } else if (*p == '[') {
                /* a class: one atom ([]...] and [^]...] keep their ']') */
                p++;
                if (*p == '^')
                    p++;
                if (*p == ']')
                    p++;
                while (*p && *p != ']') {
                    /* (no escapes in a POSIX bracket expression) */
                    if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
                        const char *q = strchr(p + 2, ']');
                        p = q ? q : p + 1;
                    }
                    p++;
                }
                if (*p)
                    p++;
            } else {
                /* an anchor matches nothing, as glibc counts it */
                bool anchor =
                    *p == '^' || *p == '$' || (*p == '\\' && p[1] && strchr("bB<>`'", p[1]));
                if (*p == '\\' && p[1])
                    p++;
                p++;
                if (anchor) {
                    atom_n = 1;
                    atom_null = true;
                }
            }
            g[depth].cur += atom;
            g[depth].ncur += atom_n;
            if (!atom_null)
                g[depth].nonnull++;
        }
        if (g[depth].cur > RX_MAX_WEIGHT || g[depth].ncur > RX_MAX_NULLABLE)
            return "expression too large";
    }
    return NULL;
}
