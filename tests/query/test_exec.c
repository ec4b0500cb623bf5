/* SPDX-License-Identifier: MIT */
/*
 * test_exec.c - query/exec: Go-compatible float and duration formatting,
 * time-zone offsets, the regex rewrite, and statements run against a real
 * engine with exact answers: integer sum overflow is an error, float sums
 * and means, min/max with their point's time (also from flushed blocks
 * through the stats pruning), count in empty windows, fill(linear) on
 * integers, transformations, SHOW, DELETE (a range that empties a series
 * drops it), the JSON rendering, and the
 * limits (max series, max points, timeout) and cancellation.
 */
#include "engine.h"
#include "exec.h"
#include "exec/exec_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

static char *fmtf(double f)
{
    cn_buf_t b;
    cn_buf_init(&b);
    qry_fmt_float(f, &b);
    char *s = cn_strndup((const char *)b.p, b.len);
    cn_buf_free(&b);
    return s;
}

/* JSON strings as Go's encoder writes them: quote and backslash escaped,
 * \n \r \t, other controls and < > & as \u00XX, valid UTF-8 as it is (but
 * U+2028, U+2029), each invalid byte as U+FFFD - wherever in the string the
 * escape falls. */
static void test_json_str(void **st)
{
    (void)st;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"", "\"\""},
        {"temperature", "\"temperature\""},
        {"a\"b\\c", "\"a\\\"b\\\\c\""},
        {"\"abc", "\"\\\"abc\""},
        {"abc\"", "\"abc\\\"\""},
        {"x<y>&z", "\"x\\u003cy\\u003e\\u0026z\""},
        {"\n\r\t\x01\x1f", "\"\\n\\r\\t\\u0001\\u001f\""},
        {"caf\xc3\xa9 \xe2\x82\xac", "\"caf\xc3\xa9 \xe2\x82\xac\""},
        /* invalid UTF-8: U+FFFD per byte; U+2028/U+2029 escaped (Go) */
        {"a\xee\x8a", "\"a\\ufffd\\ufffd\""},
        {"\xc0\xaf\xed\xa0\x80x", "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffdx\""},
        {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},
        {"\xf0\x9f\x98\x80\xe2\x80\xa8", "\"\xf0\x9f\x98\x80\\u2028\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cn_buf_t b;
        cn_buf_init(&b);
        qry_json_str(&b, cases[i].in, strlen(cases[i].in));
        char *got = cn_strndup((const char *)b.p, b.len);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("qry_json_str(%s): got %s, want %s", cases[i].in, got, cases[i].want);
        cn_free(got);
        cn_buf_free(&b);
    }
}

static void test_float_format(void **st)
{
    (void)st;
    static const struct {
        double f;
        const char *s;
    } cases[] = {
        {0.1, "0.1"},           {1, "1"},
        {-2.5, "-2.5"},         {123456789, "123456789"},
        {1e20, "100000000000000000000"},
        {1e21, "1e+21"},        {1e-6, "0.000001"},
        {1e-7, "1e-07"},        {23.186666666666667, "23.186666666666667"},
        {0.30000000000000004, "0.30000000000000004"},
        {-1.5e-10, "-1.5e-10"}, {5e300, "5e+300"},
        /* 16 and 17 digits, carries when rounding the 17-digit form */
        {0.9999999999999999, "0.9999999999999999"},
        {2.0 / 3, "0.6666666666666666"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {123456789012345680.0, "123456789012345680"},
        {0.1 + 0.7, "0.7999999999999999"},
        {99999999999999.984, "99999999999999.98"},
        {0.00012345678901234567, "0.00012345678901234567"},
        {1e23, "1e+23"},        {4.35, "4.35"},
        {12.077, "12.077"},     {-2.5e-5, "-0.000025"},
        /* around the exact 17-digit path's edges and powers of ten */
        {0.0009999999999999998, "0.0009999999999999998"},
        {0.0010000000000000002, "0.0010000000000000002"},
        {999.9999999999999, "999.9999999999999"},
        {1000.0000000000001, "1000.0000000000001"},
        {9007199254740991.0, "9007199254740991"},
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++) {
        char *s = fmtf(cases[i].f);
        assert_string_equal(s, cases[i].s);
        cn_free(s);
    }
}

/* The significant digits of a JSON number (sign, point, leading and
 * trailing zeros and exponent dropped). */
static void sig_digits(const char *s, char *out)
{
    size_t n = 0;
    bool lead = true;
    for (; *s && *s != 'e'; s++) {
        if (*s < '0' || *s > '9')
            continue;
        if (lead && *s == '0')
            continue;
        lead = false;
        out[n++] = *s;
    }
    while (n > 1 && out[n - 1] == '0') /* 1e20 is laid out with zeros */
        n--;
    out[n] = 0;
}

/* What printf decides: the fewest of 15, 16, 17 significant digits that
 * read back as f, trailing zeros dropped. */
static void ref_digits(double f, char *out)
{
    char buf[64];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, fabs(f));
        if (prec == 17 || strtod(buf, NULL) == fabs(f))
            break;
    }
    sig_digits(buf, out);
}

/* Means of decimal readings (the exact integer path's ties in the 17th
 * digit: 23.411666666666665 has the 17-digit form ...665 exactly when
 * printed to 17 digits, and its 16-digit form needs the exact value's
 * side), and random bit patterns: the same digits as printf's. */
static void test_float_format_digits(void **st)
{
    (void)st;
    static const double ties[] = {23.411666666666665, 23.263333333333335, 22.978333333333335,
                                  23.213333333333335, 23.271666666666665};
    char got[40], want[40];
    for (size_t i = 0; i < CN_ARRAY_LEN(ties); i++) {
        char *s = fmtf(ties[i]);
        sig_digits(s, got);
        ref_digits(ties[i], want);
        assert_string_equal(got, want);
        assert_true(strtod(s, NULL) == ties[i]);
        cn_free(s);
    }
    uint64_t x = 0x2545f4914f6cdd1dULL;
    for (int i = 0; i < 300000; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        uint64_t r = x * 2685821657736338717ULL;
        double f;
        if (i % 2) {
            /* a mean of 6..60 readings with two decimals */
            int n = 6 + (int)(r % 55);
            double sum = 0;
            for (int k = 0; k < n; k++)
                sum += (double)(1500 + (int64_t)((r >> (k % 40)) % 1500)) / 100;
            f = sum / n;
        } else {
            memcpy(&f, &r, sizeof f);
            if (isnan(f) || isinf(f) || f == 0)
                continue;
        }
        char *s = fmtf(f);
        sig_digits(s, got);
        ref_digits(f, want);
        if (strcmp(got, want) != 0)
            fail_msg("%.17g: %s, printf's digits %s", f, s, want);
        cn_free(s);
    }
}

typedef struct dur_case {
    int64_t ns;
    const char *s;
} dur_case_t;

static void check_durations(void (*fmt)(int64_t, cn_buf_t *), const dur_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cn_buf_t b;
        cn_buf_init(&b);
        fmt(cases[i].ns, &b);
        cn_buf_put_u8(&b, 0);
        if (strcmp((const char *)b.p, cases[i].s) != 0)
            fail_msg("%lld ns: got %s, want %s", (long long)cases[i].ns, (const char *)b.p,
                     cases[i].s);
        cn_buf_free(&b);
    }
}

static void test_go_duration(void **st)
{
    (void)st;
    static const dur_case_t cases[] = {
        {0, "0s"},
        {168 * 3600 * INT64_C(1000000000), "168h0m0s"},
        {90 * INT64_C(1000000000), "1m30s"},
        {1500000000, "1.5s"},
        {3600 * INT64_C(1000000000) + 1000000, "1h0m0.001s"},
    };
    check_durations(qry__go_duration, cases, CN_ARRAY_LEN(cases));
}

static void test_tz(void **st)
{
    (void)st;
    qry__tz_t *z;
    assert_int_equal(qry__tz_load("Europe/Berlin", &z), 0);
    /* 2026-01-15 winter +1h, 2026-07-15 summer +2h */
    assert_int_equal(qry__tz_offset(z, INT64_C(1768435200) * 1000000000), 3600);
    assert_int_equal(qry__tz_offset(z, INT64_C(1784073600) * 1000000000), 7200);
    qry__tz_free(z);
    assert_int_equal(qry__tz_load("Asia/Kolkata", &z), 0);
    assert_int_equal(qry__tz_offset(z, 0), 19800);
    qry__tz_free(z);
    assert_int_equal(qry__tz_load("../etc/passwd", &z), CN_EINVAL);
    assert_int_equal(qry__tz_load("No/Such_Zone", &z), CN_EINVAL);
    assert_int_equal(qry__tz_offset(NULL, 12345), 0);
}

/* every non-ASCII character, as a '.' or a negated class ends (NOTES 4 of
 * query/rx.c) */
#define MB                                                                                         \
    "|[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf][\x80-\xbf]|[\xf0-\xf4][\x80-\xbf][\x80-\xbf]"  \
    "[\x80-\xbf])"

static void test_regex_rewrite(void **st)
{
    (void)st;
    cn_buf_t b;
    cn_buf_init(&b);
    int cf;
    /* Go's syntax as POSIX text: classes, and brackets in POSIX's order
     * (']' first, '^' not first, '-' last; no escapes there) */
    static const char *const cases[][2] = {
        {"^dev-\\d+$", "\\`dev-[0-9]+\\'"},
        {"[\\w.]+\\s", "[.0-9A-Z_a-z]+[\t\n\f\r ]"},
        {"^[\\w\\-.]+$", "\\`[.0-9A-Z_a-z-]+\\'"},
        {"[a\\-z]", "[az-]"},
        {"[a\\]b]", "[]ab]"},
        {"[^\\]\\d]", "([^]0-9\x80-\xff]" MB},
        {"[\\^a]", "[a^]"},
        {"[\\^]", "\\^"},
        {"[\\^-]", "[-^]"},
        {"[^\\^]", "([^\x80-\xff^]" MB},
        {"[]a]", "[]a]"},
        {"[[:alpha:]\\\\]", "[A-Z\\a-z]"},
        {"\\[x\\]", "\\[x\\]"},
        {"(?i)ab1", "[aA][bB]1"},
        {"(?i:x)y", "([xX])y"},
        {"(?i)[a-c]", "[A-Ca-c]"},
        {"(?:a|b)(?P<n>c)(?P<m>d)", "(a|b)(c)(d)"},
        {"a.b", "a([^\n\x80-\xff]" MB "b"},
        {"(?s)a.b", "a([^\x80-\xff]" MB "b"},
        {"\\Aa\\z", "\\`a\\'"},
        {"(?m)a$|\\z", "a$|\\'"},
        {"^a(?m)b$", "\\`ab$"},
        {"\\Qa.b*\\E+", "a\\.b\\*+"},
        {"a+?b*?c??d{2,3}?", "a+b*c?d{2,3}"},
        {"a{,3}}", "a\\{,3\\}\\}"},
        {"\\x41\\x{42}\\103\\t\\.\\<", "ABC\t\\.<"},
        {"\xc3\xa9+", "(\xc3\xa9)+"},
        {"[\xc3\xa9x]", "([x]|\xc3\xa9)"},
        {"(?U)a+", "a+"},
        {"(?m)^a.$", "^a([^\n\x80-\xff]" MB "$"},
        {"(?m)^[^a]", "^([]\x01-,.-\\_`b-\x7f^-]" MB},
        {"(?ms)^.", "^([]\x01-,.-\\_-\x7f^-]" MB},
        /* before *, every byte past ASCII (NOTES 4) */
        {"a.*b", "a[^\n]*b"},
        {"\\D*?", "[^0-9]*"},
        {"(?ms).*", "(.|\n)*"},
        {"(?m)[^a]*", "[]\x01-,.-\\_`b-\xff^-]*"},
        {"\\D+", "([^0-9\x80-\xff]" MB "+"},
        /* (?i): case orbits as Go's */
        {"(?i)k", "([Kk]|\xe2\x84\xaa)"},
        {"(?i)[r-t]", "([R-Tr-t]|\xc5\xbf)"},
        /* non-ASCII ranges as UTF-8 byte ranges */
        {"[\xc3\xa0-\xc3\xbc]", "(\xc3[\xa0-\xbc])"},
        {"[\\x{80}-\\x{10FFFF}]", "([\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf][\x80-\xbf]|"
                                  "[\xf0-\xf4][\x80-\xbf][\x80-\xbf][\x80-\xbf])"},
        {"[\\x{D800}-\\x{DFFF}]", "[^\x01-\xff]"},
        {"[\\x{7f0}-\\x{10001}]",
         "(\xdf[\xb0-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec][\x80-\xbf][\x80-\xbf]|"
         "\xed[\x80-\x9f][\x80-\xbf]|[\xee-\xef][\x80-\xbf][\x80-\xbf]|\xf0\x90\x80[\x80-\x81])"},
        /* a repeated anchor is grouped (glibc refuses ^?); \Q\E is nothing */
        {"a$*|\\bx", "a(\\')*|\\bx"},
        {"^\\Q\\E?", "(\\`)?"},
        /* a class before '-' leaves it a member; a count has no leading
         * zero; (?) is nothing; a repetition after a flag group repeats
         * what came before it (all as Go reads them) */
        {"[\\w-.]", "[.0-9A-Z_a-z-]"},
        {"a{01}", "a\\{01\\}"},
        {"(?)a(?i)*", "a*"},
        {"x^(?U)?", "x(\\`)?"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_null(qry_regex_posix(cases[i][0], &b, &cf));
        assert_string_equal((const char *)b.p, cases[i][1]);
        assert_int_equal(cf, strstr(cases[i][0], "(?m") ? REG_NEWLINE : 0);
    }
    /* what Go refuses, and what cannot be written for POSIX */
    static const char *const bad[][2] = {
        {"a[b", "missing closing ]"},
        {"(a", "missing closing )"},
        {"a)", "unexpected )"},
        {"a**", "invalid nested repetition operator"},
        {"*a", "missing argument to repetition operator"},
        {"(?i)*", "missing argument to repetition operator"},
        {"a|+", "missing argument to repetition operator"},
        {"\\1", "invalid escape sequence"},
        {"\\q", "invalid escape sequence"},
        {"a\\", "trailing backslash at end of expression"},
        {"(?z)", "invalid or unsupported Perl syntax"},
        {"(?=a)", "invalid or unsupported Perl syntax"},
        {"(?P<>a)", "invalid named capture"},
        {"(?P<a-b>x)", "invalid named capture"},
        {"(?<n>a)", "invalid or unsupported Perl syntax"},
        {"[z-a]", "invalid character class range"},
        {"[.-\\s]", "invalid escape sequence"},
        {"[[:foo:]]", "invalid character class range"},
        {"\\pL", "Unicode classes (\\p) are not supported"},
        {"\\x00", "a NUL character cannot be matched"},
        {"\xff", "invalid UTF-8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *why = qry_regex_posix(bad[i][0], &b, &cf);
        assert_non_null(why);
        assert_string_equal(why, bad[i][1]);
    }
    /* 64 separate non-ASCII ranges in a class are taken, 65 not - counted
     * once the class is read (a later member may join two) */
    assert_null(qry_regex_posix("[\\x{100}\\x{102}\\x{104}\\x{106}\\x{108}\\x{10a}\\x{10c}"
                                "\\x{10e}\\x{110}\\x{112}\\x{114}\\x{116}\\x{118}\\x{11a}"
                                "\\x{11c}\\x{11e}\\x{120}\\x{122}\\x{124}\\x{126}\\x{128}"
                                "\\x{12a}\\x{12c}\\x{12e}\\x{130}\\x{132}\\x{134}\\x{136}"
                                "\\x{138}\\x{13a}\\x{13c}\\x{13e}\\x{140}\\x{142}\\x{144}"
                                "\\x{146}\\x{148}\\x{14a}\\x{14c}\\x{14e}\\x{150}\\x{152}"
                                "\\x{154}\\x{156}\\x{158}\\x{15a}\\x{15c}\\x{15e}\\x{160}"
                                "\\x{162}\\x{164}\\x{166}\\x{168}\\x{16a}\\x{16c}\\x{16e}"
                                "\\x{170}\\x{172}\\x{174}\\x{176}\\x{178}\\x{17a}\\x{17c}"
                                "\\x{17e}\\x{300}\\x{101}]",
                                &b, &cf));
    for (int n = 64; n <= 65; n++) {
        cn_buf_t p;
        cn_buf_init(&p);
        cn_buf_put_u8(&p, '[');
        for (int k = 0; k < n; k++) {
            char e[16];
            cn_buf_put(&p, e, (size_t)snprintf(e, sizeof e, "\\x{%x}", 0x100 + 2 * k));
        }
        cn_buf_put(&p, "]", 2);
        const char *why = qry_regex_posix((const char *)p.p, &b, &cf);
        if (n == 64)
            assert_null(why);
        else
            assert_string_equal(why, "too many non-ASCII ranges in a class");
        cn_buf_free(&p);
    }
    cn_buf_free(&b);
}

/* Patterns as Go's regexp (InfluxDB 1.6.7) matches them; 1: a match. */
static void test_regex_match(void **st)
{
    (void)st;
    static const struct {
        const char *re, *s;
        int match;
    } cases[] = {
        {"(?i)server", "Server01", 1},
        {"(?i)server", "SERVER", 1},
        {"server", "Server01", 0},
        {"(?i:SERVER)0", "server02", 1},
        {"(?i:a)b", "AB", 0},
        {"x(?i)a|b", "B", 1}, /* the flag holds to the end of its group */
        {"^(?:Server|WEB)", "WEB-1", 1},
        {"(?P<n>db)\\.", "db.local", 1},
        {"a.b", "a\nb", 0},
        {"(?s)a.b", "a\nb", 1},
        {"\\Aserver", "server02", 1},
        {"local\\z", "db.local", 1},
        {"local\\z", "db.local\n", 0},
        {"beta\\x09", "beta\tgamma", 1},
        {"\\x{61}\\.b", "a.b", 1},
        {"\\x{61}\\.b", "aXb", 0},
        {"\\Qa.b\\E", "aXb", 0},
        {"\\Qa.b\\E", "a.b", 1},
        {"se*?rver", "server", 1},
        {"xa+?y", "xy", 0},
        {"[[:upper:]]+-", "WEB-1", 1},
        {"(?i)[a-c]x", "aXb", 1},
        {"b\\b", "a.b", 1},
        {"\\d$", "Server01", 1},
        {"(?m)^beta", "alpha\nbeta", 1},
        {"^beta", "alpha\nbeta", 0},
        {"(?m)^[^a]", "a\n\n", 1},
        {"a{,2}", "a{,2}", 1},
        {"a{,2}", "aa", 0},
        {"\\<a\\>", "<a>", 1},
        {"caf\xc3\xa9+$", "caf\xc3\xa9\xc3\xa9", 1},
        {"[\xc3\xa9x]", "\xc3\xa9", 1},
        {"\\s\\S", " a", 1},
        {"\\W", "abc_9", 0},
        {"(?i)[[:^lower:]]", "A", 0}, /* folded, then negated */
        {"(?i)[[:^lower:]]", "1", 1},
        {"(?i)[^[:^lower:]]", "A", 1},
        {"^[\\w-.]+$", "a-b.c", 1},
        /* characters, not bytes */
        {"^Z.rich$", "Z\xc3\xbcrich", 1},
        {"^.$", "\xc3\xa9", 1},
        {"^..$", "\xc3\xa9", 0},
        {"^.$", "\xe2\x82\xac", 1},
        {"^.$", "\xf0\x9f\x98\x80", 1},
        {"^.{3}$", "a\xc3\xa9\xe2\x82\xac", 1},
        {"^.{3}$", "a\xc3\xa9", 0},
        {"^.*$", "\xc3\xa9\xe2\x82\xac", 1},
        {"^.+x$", "\xc3\xa9x", 1},
        {"(?m)^.$", "\xc3\xa9\nx", 1},
        {"^[^\xc3\xa9]$", "\xc3\xa9", 0},
        {"^[^\xc3\xa9]$", "\xc3\xa8", 1},
        {"^[^\xc3\xa9]$", "e", 1},
        {"^[^a]+$", "\xc3\xa9\xc3\xa9", 1},
        {"^[^a]{2}$", "\xc3\xa9", 0},
        {"^[\xc3\xa0-\xc3\xbc]+$", "\xc3\xa9\xc3\xa8\xc3\xbc", 1},
        {"^[\xc3\xa0-\xc3\xbc]$", "\xc3\xbf", 0},
        {"^[a-\\x{20ac}]$", "\xe2\x82\xac", 1},
        {"^[a-\\x{20ac}]$", "\xe2\x82\xad", 0},
        {"^[\\x{800}-\\x{FFFF}]$", "\xc3\xa9", 0},
        {"^[\\x{800}-\\x{FFFF}]$", "\xe2\x82\xac", 1},
        {"^[\\x{100}-\\x{10FFFF}]$", "\xf0\x9f\x98\x80", 1},
        {"^\\D\\W\\S$", "\xc3\xa9\xc3\xa9\xc3\xa9", 1},
        {"^\\S{2}$", "\xc3\xa9", 0},
        {"^.+.+$", "\xc3\xa9", 0},        /* no byte-level + (NOTES 4) */
        {"\\B", "a\xf0\x9f\x98\200b", 0}, /* no match from inside a character */
        {"x|\\B", "a\xf0\x9f\x98\200b", 0},
        {"\\B", "\xc3\xa9", 1},
        {"^\\B\\w", "ab", 0},
        {"^[\\x{D800}-\\x{DFFF}]", "abc", 0},   /* surrogates: nothing */
        {"(?i)^\\x{2c2f}$", "\xe2\xb1\x9f", 0}, /* a Unicode 14 pair */
        /* ^ $ \A \z: the text's start and end without (?m) (NOTES 5) */
        {"(?s).^a", "\na", 0},
        {"[^x]^a", "\na", 0},
        {"a$\\nb", "a\nb", 0},
        {"(?m)a$\\nb", "a\nb", 1},
        {"(?m)^b\\z", "a\nb", 1},
        {"(?m)\\Ab", "a\nb", 0},
        {"a$", "a\n", 0},
        {"^.+.+$", "\xc3\xa9x", 1},
        {"^.*.*\xc3\xa9$", "\xc3\xa9", 1},
        {"^[^a]+\\W+$", "\xc3\xa9", 0},
        {"\\B.*x", "e\xcc\x81x", 0}, /* no \B inside a character */
        /* (?i) beyond ASCII */
        {"(?i)^GR\xc3\x9c", "Gr\xc3\xbc\xc3\237e", 1}, /* (\237: 0x9f) */
        {"(?i)^\xcf\x83+$", "\xce\xa3\xcf\x83", 1},
        {"(?i)^[\xc3\xa0-\xc3\xbc]+$", "\xc3\x89\xc3\xa9", 1},
        {"(?i)^[\xc3\xa0-\xc3\xbc]$", "\xc3\x97", 0},
        {"(?i)^[^\xc3\xbc]", "\xc3\x9c", 0},
        {"^[^\xc3\xbc]", "\xc3\x9c", 1},
        {"(?i)^k$", "\xe2\x84\xaa", 1},        /* the Kelvin sign */
        {"(?i)^[[:lower:]]$", "\xc5\xbf", 1},  /* the long s */
        {"(?i)^\xcf\x82$", "\xce\xa3", 1},     /* final sigma, SIGMA */
        {"(?i)^\xc3\x9f$", "\xe1\xba\x9e", 1}, /* sharp s, capital */
        {"(?i)^i$", "\xc4\xb0", 0},            /* no Turkish I */
        {"(?i)^\xc4\xb1$", "I", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        regex_t re;
        const char *why = "?";
        assert_int_equal(qry_regcomp(&re, cases[i].re, &why), 0);
        assert_null(why);
        if ((regexec(&re, cases[i].s, 0, NULL, 0) == 0) != cases[i].match)
            fail_msg("/%s/ on \"%s\": want %d", cases[i].re, cases[i].s, cases[i].match);
        regfree(&re);
    }
}

/* ---------------------------------------------------------- with engine */

typedef struct fx {
    char dir[64];
    eng_db_t *db;
} fx_t;

static int setup(void **st)
{
    fx_t *f = cn_calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-test-exec.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    eng_opts_t o;
    eng_opts_default(&o);
    o.dir = f->dir;
    o.durability = ENG_DUR_OS;
    o.background = false;
    o.stats_min_rows = 2;
    assert_int_equal(eng_open(&o, &f->db), 0);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    fx_t *f = *st;
    eng_close(f->db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    cn_free(f);
    return 0;
}

static void put(fx_t *f, const char *dev, int64_t ts, const eng_field_t *flds, uint32_t n)
{
    eng_tag_t tag = {"device_id", dev};
    eng_point_t p = {.measurement = "m", .tags = &tag, .ntags = 1, .ts = ts, .fields = flds,
                     .nfields = n};
    eng_write_res_t res;
    uint64_t seq;
    assert_int_equal(eng_write(f->db, &p, 1, &res, &seq), 0);
    assert_int_equal(res.fields_rejected, 0);
    assert_int_equal(eng_wait_durable(f->db, seq), 0);
}

/* Runs q and returns its JSON (owned). */
static char *run(fx_t *f, const char *q)
{
    qry_query_t *pq;
    qry_error_t err;
    int rc = qry_parse(q, strlen(q), &pq, &err);
    if (rc < 0)
        fail_msg("parse %s: %s", q, err.msg);
    qry_exec_opts_t o = {.db = f->db, .dbname = "db", .now = INT64_C(2000000000000000000),
                         .threads = 2};
    cn_buf_t b;
    cn_buf_init(&b);
    qry_fmt_opts_t fo = {.epoch_div = 1};
    for (size_t i = 0; i < pq->nstmts; i++) {
        qry_result_t *r;
        assert_int_equal(qry_exec_stmt(&pq->stmts[i], &o, &r), 0);
        qry_result_json(r, (int)i, &fo, &b);
        qry_result_free(r);
    }
    qry_query_free(pq);
    char *s = cn_strndup((const char *)b.p, b.len);
    cn_buf_free(&b);
    return s;
}

static void expect(fx_t *f, const char *q, const char *json)
{
    char *s = run(f, q);
    if (strcmp(s, json) != 0)
        fail_msg("%s\n got:  %s\n want: %s", q, s, json);
    cn_free(s);
}

static void test_exact_aggregates(void **st)
{
    fx_t *f = *st;
    /* ints near the limit: the sum overflows int64 */
    eng_field_t big[2] = {{"i", ENG_T_INT, {.i = INT64_MAX - 1}}, {"x", ENG_T_FLOAT, {.f = 0.1}}};
    put(f, "a", 1000, big, 2);
    big[0].v.i = 2;
    big[1].v.f = 0.2;
    put(f, "a", 2000, big, 2);
    big[0].v.i = -7;
    big[1].v.f = 0.3;
    put(f, "b", 1000, big, 2);
    expect(f, "SELECT sum(i) FROM m WHERE device_id = 'a'",
           "{\"statement_id\":0,\"error\":\"integer overflow in sum()\"}");
    /* a total that fits is exact whatever the order of the partial sums
     * (INT64_MAX - 1 + 2 overflows on the way; -7 brings it back) */
    expect(f, "SELECT sum(i) FROM m",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"sum\"],"
           "\"values\":[[0,9223372036854775801]]}]}");
    /* the mean of the same integers is exact (128-bit sum), printed as Go prints
     * the float64 4.611686018427388e18 */
    expect(f, "SELECT mean(i) FROM m WHERE device_id = 'a'",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"mean\"],"
           "\"values\":[[0,4611686018427388000]]}]}");
    /* per series in time order, then across series: (0.1 + 0.2) + 0.3 */
    expect(f, "SELECT sum(x), count(x) FROM m",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"sum\","
           "\"count\"],\"values\":[[0,0.6000000000000001,3]]}]}");
    /* selectors report their point's time; ties go to the earliest */
    expect(f, "SELECT min(i) FROM m",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"min\"],"
           "\"values\":[[1000,-7]]}]}");
    expect(f, "SELECT max(x) FROM m GROUP BY device_id",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"tags\":{\"device_id\":\"a\"},"
           "\"columns\":[\"time\",\"max\"],\"values\":[[2000,0.2]]},{\"name\":\"m\",\"tags\":"
           "{\"device_id\":\"b\"},\"columns\":[\"time\",\"max\"],\"values\":[[1000,0.3]]}]}");
}

static void test_windows_and_blocks(void **st)
{
    fx_t *f = *st;
    /* 0..9 s: v = s (int); nothing at 10..19 s; 20..29 s: v = 100 */
    for (int s = 0; s < 30; s++) {
        if (s >= 10 && s < 20)
            continue;
        eng_field_t v = {"v", ENG_T_INT, {.i = s < 10 ? s : 100}};
        put(f, "a", (int64_t)s * 1000000000, &v, 1);
    }
    assert_int_equal(eng_flush(f->db), 0); /* blocks with stats */
    expect(f, "SELECT count(v), sum(v), max(v) FROM m WHERE time >= 0 AND time < 30s "
              "GROUP BY time(10s)",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"count\","
           "\"sum\",\"max\"],\"values\":[[0,10,45,9],[10000000000,0,null,null],"
           "[20000000000,10,1000,100]]}]}");
    expect(f, "SELECT max(v) FROM m WHERE time >= 0 AND time < 30s GROUP BY time(10s) "
              "fill(linear)",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"max\"],"
           "\"values\":[[0,9],[10000000000,54],[20000000000,100]]}]}");
    expect(f, "SELECT max(v) FROM m WHERE time >= 0 AND time < 30s GROUP BY time(10s) "
              "fill(none)",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"max\"],"
           "\"values\":[[0,9],[20000000000,100]]}]}");
    /* max over flushed blocks keeps the point's time (stats prune, decode) */
    expect(f, "SELECT max(v) FROM m",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"max\"],"
           "\"values\":[[20000000000,100]]}]}");
    expect(f, "SELECT difference(v) FROM m WHERE time >= 8s AND time < 21s",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\","
           "\"difference\"],\"values\":[[9000000000,1],[20000000000,91]]}]}");
    expect(f, "SELECT v FROM m WHERE v > 8 AND v < 100",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"v\"],"
           "\"values\":[[9000000000,9]]}]}");
    expect(f, "SELECT count(v) FROM m WHERE time >= 100s AND time < 200s GROUP BY time(10s)",
           "{\"statement_id\":0}");
    expect(f, "SELECT mean(nosuch) FROM m; SELECT v FROM nosuch",
           "{\"statement_id\":0}{\"statement_id\":1}");
    expect(f, "SELECT v FROM m GROUP BY time(1s)",
           "{\"statement_id\":0,\"error\":\"GROUP BY requires at least one aggregate "
           "function\"}");
    expect(f, "SELECT bogus(v) FROM m",
           "{\"statement_id\":0,\"error\":\"undefined function bogus()\"}");
    expect(f, "DELETE FROM m WHERE time < 5s; SELECT count(v) FROM m",
           "{\"statement_id\":0}{\"statement_id\":1,\"series\":[{\"name\":\"m\",\"columns\":"
           "[\"time\",\"count\"],\"values\":[[0,15]]}]}");
    assert_int_equal(eng_get_retention(f->db), 0);
    expect(f, "CREATE RETENTION POLICY week ON db DURATION 7d REPLICATION 1 DEFAULT",
           "{\"statement_id\":0}");
    assert_int_equal(eng_get_retention(f->db), 7 * 86400 * INT64_C(1000000000));
    expect(f, "SHOW FIELD KEYS; SHOW TAG VALUES WITH KEY = device_id",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"fieldKey\","
           "\"fieldType\"],\"values\":[[\"v\",\"integer\"]]}]}{\"statement_id\":1,\"series\":"
           "[{\"name\":\"m\",\"columns\":[\"key\",\"value\"],\"values\":[[\"device_id\","
           "\"a\"]]}]}");
}

/* min()/max() alone report their point's time.  Over blocks and memtable
 * chunks with stats the value comes from the stats and a second pass reads
 * just the block that holds it (ties: the earliest point). */
static double sel_v(int dev, int s)
{
    if (s == 37 || s == 250)
        return 50;
    if (s == 140 || s == 141)
        return -3;
    if (dev == 1 && s == 260)
        return 60;
    return s % 7;
}

static void test_selector_time_from_stats(void **st)
{
    fx_t *f = *st;
    const char *devs[2] = {"a", "b"};
    for (int s = 0; s < 300; s++) {
        if (s == 150)
            assert_int_equal(eng_flush(f->db), 0); /* 0..149 s: stored blocks */
        for (int d = 0; d < 2; d++) {
            eng_field_t fl[2] = {{"v", ENG_T_FLOAT, {.f = sel_v(d, s)}},
                                 {"w", ENG_T_INT, {.i = s * 10}}};
            put(f, devs[d], (int64_t)s * 1000000000, fl, 2);
        }
    }
    /* a: 50 at 37 s (stored block) and 250 s (memtable); b: 60 at 260 s */
    expect(f, "SELECT max(v) FROM m GROUP BY device_id",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"tags\":{\"device_id\":\"a\"},"
           "\"columns\":[\"time\",\"max\"],\"values\":[[37000000000,50]]},{\"name\":\"m\","
           "\"tags\":{\"device_id\":\"b\"},\"columns\":[\"time\",\"max\"],\"values\":"
           "[[260000000000,60]]}]}");
    expect(f, "SELECT min(v) FROM m",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"min\"],"
           "\"values\":[[140000000000,-3]]}]}");
    /* the field next to the selector is read at the selected point */
    expect(f, "SELECT max(v), w FROM m WHERE device_id = 'b'",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"max\","
           "\"w\"],\"values\":[[260000000000,60,2600]]}]}");
    /* a range that cuts the stored block: 250 s wins */
    expect(f, "SELECT max(v) FROM m WHERE device_id = 'a' AND time >= 100s",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"max\"],"
           "\"values\":[[250000000000,50]]}]}");
    expect(f, "SELECT max(w) FROM m WHERE device_id = 'a'",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"max\"],"
           "\"values\":[[299000000000,2990]]}]}");
}

/* A flushed block whose stored int sum wrapped is decoded, so sum() stays
 * exact and only a total outside int64 fails. */
static void test_wrapped_block_sum(void **st)
{
    fx_t *f = *st;
    eng_field_t v = {"i", ENG_T_INT, {.i = INT64_MAX - 1}};
    put(f, "a", 1000, &v, 1);
    v.v.i = 5;
    put(f, "a", 2000, &v, 1);
    assert_int_equal(eng_flush(f->db), 0); /* one block: its sum wraps */
    v.v.i = -10;
    put(f, "a", 3000, &v, 1);
    expect(f, "SELECT sum(i), count(i) FROM m",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"sum\","
           "\"count\"],\"values\":[[0,9223372036854775801,3]]}]}");
    expect(f, "SELECT sum(i) FROM m WHERE time < 3000",
           "{\"statement_id\":0,\"error\":\"integer overflow in sum()\"}");
}

/* Runs q with the given limits; returns 0 with *json (owned) or the code. */
static int run_opts(fx_t *f, const char *q, qry_exec_opts_t o, char **json)
{
    qry_query_t *pq;
    qry_error_t err;
    assert_int_equal(qry_parse(q, strlen(q), &pq, &err), 0);
    o.db = f->db;
    o.dbname = "db";
    o.now = INT64_C(2000000000000000000);
    o.threads = 2;
    qry_result_t *r = NULL;
    int rc = qry_exec_stmt(&pq->stmts[0], &o, &r);
    *json = NULL;
    if (rc == 0) {
        cn_buf_t b;
        cn_buf_init(&b);
        qry_fmt_opts_t fo = {.epoch_div = 1};
        qry_result_json(r, 0, &fo, &b);
        *json = cn_strndup((const char *)b.p, b.len);
        cn_buf_free(&b);
        qry_result_free(r);
    }
    qry_query_free(pq);
    return rc;
}

/* Runs q with options o and compares its JSON with want (NULL: any). */
static void expect_opts(fx_t *f, const char *q, qry_exec_opts_t o, const char *want)
{
    char *js;
    assert_int_equal(run_opts(f, q, o, &js), 0);
    if (want && strcmp(js, want) != 0)
        fail_msg("%s\n got:  %s\n want: %s", q, js, want);
    cn_free(js);
}

/* The limits from the config, in InfluxDB's words, and cancellation. */
static void test_limits(void **st)
{
    fx_t *f = *st;
    const char *devs[3] = {"a", "b", "c"};
    for (int d = 0; d < 3; d++)
        for (int s = 0; s < 4; s++) {
            eng_field_t v = {"v", ENG_T_INT, {.i = s}};
            put(f, devs[d], (int64_t)(s + 1) * 1000, &v, 1);
        }
    char *js;
    qry_exec_opts_t o = {.max_series = 2};
    expect_opts(f, "SELECT count(v) FROM m", o,
                "{\"statement_id\":0,\"error\":\"max-select-series limit exceeded: "
                "(3/2)\"}");
    o = (qry_exec_opts_t){.max_points = 11};
    expect_opts(f, "SELECT v FROM m", o,
                "{\"statement_id\":0,\"error\":\"max-select-point limit exceeed: "
                "(12/11)\"}");
    o = (qry_exec_opts_t){.max_points = 12};
    expect_opts(f, "SELECT count(v) FROM m", o,
                "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":"
                "[\"time\",\"count\"],\"values\":[[0,12]]}]}");
    /* a deadline already past: the scan stops at its first check */
    o = (qry_exec_opts_t){.deadline = 1};
    expect_opts(f, "SELECT v FROM m", o,
                "{\"statement_id\":0,\"error\":\"query-timeout limit exceeded\"}");
    /* the client went away: no result at all */
    atomic_int cancel = 1;
    o = (qry_exec_opts_t){.cancel = &cancel};
    assert_int_equal(run_opts(f, "SELECT v FROM m", o, &js), CN_ECLOSED);
    assert_null(js);
    /* KILL QUERY of this query: the statement's error, as InfluxDB */
    atomic_int kill = 1;
    o = (qry_exec_opts_t){.kill = &kill};
    expect_opts(f, "SELECT v FROM m", o, "{\"statement_id\":0,\"error\":\"query interrupted\"}");
    expect_opts(f, "SHOW DATABASES", o, "{\"statement_id\":0,\"error\":\"query interrupted\"}");
    /* inside a statement: the scan's own check (qry_exec_stmt's check at
     * the statement's start is skipped by calling the SELECT directly) */
    qry_query_t *pq;
    qry_error_t perr;
    assert_int_equal(qry_parse("SELECT v FROM m", 15, &pq, &perr), 0);
    o = (qry_exec_opts_t){.db = f->db,
                          .dbname = "db",
                          .now = INT64_C(2000000000000000000),
                          .threads = 2,
                          .kill = &kill};
    qry__rb_t rb;
    qry__rb_init(&rb);
    assert_int_equal(qry__exec_select(pq->stmts[0].u.select, &o, &rb), 0);
    assert_non_null(rb.r->err);
    assert_string_equal(rb.r->err, "query interrupted");
    qry_result_free(rb.r);
    qry_query_free(pq);
    kill = 0;
    o = (qry_exec_opts_t){.kill = &kill};
    expect_opts(f, "SELECT count(v) FROM m", o,
                "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":"
                "[\"time\",\"count\"],\"values\":[[0,12]]}]}");
}

/* SHOW QUERIES and KILL QUERY through a task list of the test's own. */
typedef struct fake_tasks {
    uint64_t killed[4];
    int nkilled;
} fake_tasks_t;

static size_t fake_list(void *ctx, qry_task_info_t **out)
{
    (void)ctx;
    qry_task_info_t *v = cn_calloc(3, sizeof *v);
    v[0] = (qry_task_info_t){.qid = 7,
                             .query = cn_strdup("SELECT \"x\" FROM m;\nSHOW QUERIES"),
                             .db = cn_strdup("db"),
                             .ns = INT64_C(3723999999999)};
    v[1] = (qry_task_info_t){.qid = 9,
                             .query = cn_strdup("SHOW QUERIES"),
                             .db = cn_strdup(""),
                             .ns = 75400,
                             .killed = true};
    *out = v;
    return 2;
}

static int fake_kill(void *ctx, uint64_t qid)
{
    fake_tasks_t *ft = ctx;
    if (qid != 7 && qid != 9)
        return CN_ENOTFOUND;
    for (int i = 0; i < ft->nkilled; i++)
        if (ft->killed[i] == qid)
            return CN_EEXIST;
    ft->killed[ft->nkilled++] = qid;
    return 0;
}

static void test_query_tasks(void **st)
{
    fx_t *f = *st;
    fake_tasks_t ft = {0};
    qry_tasks_t tasks = {.ctx = &ft, .list = fake_list, .kill = fake_kill};
    qry_exec_opts_t o = {.tasks = &tasks};
    expect_opts(f, "SHOW QUERIES", o,
                "{\"statement_id\":0,\"series\":[{\"columns\":[\"qid\",\"query\","
                "\"database\",\"duration\",\"status\"],\"values\":[[7,\"SELECT "
                "\\\"x\\\" FROM m;\\nSHOW QUERIES\",\"db\",\"1h2m3s\",\"running\"],"
                "[9,\"SHOW QUERIES\",\"\",\"75\xc2\xb5s\",\"killed\"]]}]}");
    expect_opts(f, "KILL QUERY 9", o, "{\"statement_id\":0}");
    expect_opts(f, "KILL QUERY 9", o, "{\"statement_id\":0,\"error\":\"already killed\"}");
    expect_opts(f, "KILL QUERY 8 ON h1", o,
                "{\"statement_id\":0,\"error\":\"no such query id: 8\"}");
    assert_int_equal(ft.nkilled, 1);
    assert_int_equal(ft.killed[0], 9);
    /* no task list (the library without a server): nothing runs */
    o = (qry_exec_opts_t){0};
    expect_opts(f, "SHOW QUERIES", o, "{\"statement_id\":0}");
    expect_opts(f, "KILL QUERY 1", o, "{\"statement_id\":0,\"error\":\"no such query id: 1\"}");
}

static void test_task_duration(void **st)
{
    (void)st;
    static const dur_case_t cases[] = {
        {0, "0s"},
        {-5, "0s"},
        {1, "1ns"},
        {999, "999ns"},
        {1000, "1\xc2\xb5s"},
        {75999, "75\xc2\xb5s"},
        {999999, "999\xc2\xb5s"},
        {1000000, "1ms"},
        {471999999, "471ms"},
        {1000000000, "1s"},
        {59999999999, "59s"},
        {60000000000, "1m0s"},
        {65500000000, "1m5s"},
        {3600000000000, "1h0m0s"},
        {INT64_C(90061000000000), "25h1m1s"},
    };
    check_durations(qry_task_duration, cases, CN_ARRAY_LEN(cases));
}

static void test_last_value_cache(void **st)
{
    fx_t *f = *st;
    eng_field_t v = {"v", ENG_T_FLOAT, {.f = 1.5}};
    put(f, "a", 5000, &v, 1);
    v.v.f = 2.5;
    put(f, "a", 3000, &v, 1); /* older: not the last */
    assert_int_equal(eng_flush(f->db), 0);
    uint64_t sid = 0;
    {
        eng_snap_t *s;
        assert_int_equal(eng_snap_open(f->db, &s), 0);
        uint64_t *ids;
        assert_int_equal(eng_snap_select(s, "m", NULL, 0, &ids), 1);
        sid = ids[0];
        cn_free(ids);
        eng_snap_close(s);
    }
    int64_t ts;
    eng_value_t ev;
    cn_buf_t str;
    cn_buf_init(&str);
    /* the writes since open are not enough: unknown until a scan seeds it */
    assert_int_equal(eng_last_get(f->db, sid, 0, &ts, &ev, &str), 0);
    const char *want = "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\","
                       "\"last\"],\"values\":[[5000,1.5]]}]}";
    expect(f, "SELECT last(v) FROM m", want);
    assert_int_equal(eng_last_get(f->db, sid, 0, &ts, &ev, &str), 1);
    assert_int_equal(ts, 5000);
    assert_true(ev.f == 1.5);
    expect(f, "SELECT last(v) FROM m", want); /* from the cache */
    expect(f, "SELECT last(v) FROM m WHERE time > 5000", "{\"statement_id\":0}");
    v.v.f = 7;
    put(f, "a", 9000, &v, 1); /* a write keeps it current */
    assert_int_equal(eng_last_get(f->db, sid, 0, &ts, &ev, &str), 1);
    assert_int_equal(ts, 9000);
    expect(f, "SELECT last(v) FROM m GROUP BY device_id",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"tags\":{\"device_id\":\"a\"},"
           "\"columns\":[\"time\",\"last\"],\"values\":[[9000,7]]}]}");
    /* a delete forgets the cache; the next query scans again */
    expect(f, "DELETE FROM m WHERE time >= 9000", "{\"statement_id\":0}");
    assert_int_equal(eng_last_get(f->db, sid, 0, &ts, &ev, &str), 0);
    expect(f, "SELECT last(v) FROM m", want);
    cn_buf_free(&str);
}

/* A DELETE whose time range empties a series drops it, as InfluxDB 1.x
 * does; a series with a point left (here in the memtable, the deleted
 * ones in a segment) stays. */
static void test_delete_empties_series(void **st)
{
    fx_t *f = *st;
    eng_field_t v = {"v", ENG_T_FLOAT, {.f = 1}};
    put(f, "a", 1000, &v, 1);
    put(f, "a", 2000, &v, 1);
    put(f, "b", 2000, &v, 1);
    assert_int_equal(eng_flush(f->db), 0);
    put(f, "b", 4000, &v, 1);
    expect(f, "DELETE FROM m WHERE time >= 0 AND time < 2500", "{\"statement_id\":0}");
    expect(f, "SHOW SERIES",
           "{\"statement_id\":0,\"series\":[{\"columns\":[\"key\"],\"values\":[[\"m,"
           "device_id=b\"]]}]}");
    expect(f, "SHOW TAG VALUES WITH KEY = device_id",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"key\",\"value\"],"
           "\"values\":[[\"device_id\",\"b\"]]}]}");
    expect(f, "SELECT count(v) FROM m GROUP BY device_id",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"tags\":{\"device_id\":\"b\"},"
           "\"columns\":[\"time\",\"count\"],\"values\":[[0,1]]}]}");
    /* a range with nothing of b in it changes nothing */
    expect(f, "DELETE FROM m WHERE time >= 5000 AND time < 6000", "{\"statement_id\":0}");
    expect(f, "SHOW SERIES",
           "{\"statement_id\":0,\"series\":[{\"columns\":[\"key\"],\"values\":[[\"m,"
           "device_id=b\"]]}]}");
    /* the last point of the last series: the measurement goes too */
    expect(f, "DELETE FROM m WHERE time >= 3000 AND time < 5000", "{\"statement_id\":0}");
    expect(f, "SHOW SERIES", "{\"statement_id\":0}");
    expect(f, "SHOW MEASUREMENTS", "{\"statement_id\":0}");
    /* and a new write brings the series back */
    put(f, "a", 7000, &v, 1);
    expect(f, "SHOW SERIES",
           "{\"statement_id\":0,\"series\":[{\"columns\":[\"key\"],\"values\":[[\"m,"
           "device_id=a\"]]}]}");
}

/* SELECT INTO (into.c): more rows than one batch, a row wider than a
 * point may be (written as several points of one time, merged), the
 * target's database checked against the catalog, cancellation. */
static void test_select_into(void **st)
{
    fx_t *f = *st;
    /* 2500 points: three batches of INTO_BATCH (1024) */
    for (int i = 0; i < 2500; i++) {
        eng_field_t v = {"v", ENG_T_FLOAT, {.f = i * 0.5}};
        put(f, "a", 1000 + i, &v, 1);
    }
    expect(f, "SELECT v INTO m2 FROM m",
           "{\"statement_id\":0,\"series\":[{\"name\":\"result\",\"columns\":[\"time\","
           "\"written\"],\"values\":[[0,2500]]}]}");
    expect(f, "SELECT count(v), sum(v), first(v), last(v) FROM m2",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m2\",\"columns\":[\"time\",\"count\","
           "\"sum\",\"first\",\"last\"],\"values\":[[0,2500,1561875,0,1249.5]]}]}");
    /* 1100 fields at one time (two writes: a point holds 1024) */
    enum { WIDE = 1100 };
    static char names[WIDE][8];
    eng_field_t *wf = cn_malloc(WIDE * sizeof *wf);
    for (int i = 0; i < WIDE; i++) {
        snprintf(names[i], sizeof names[i], "f%04d", i);
        wf[i] = (eng_field_t){names[i], ENG_T_INT, {.i = i}};
    }
    eng_point_t wp[2] = {{.measurement = "w", .ts = 5, .fields = wf, .nfields = 600},
                         {.measurement = "w", .ts = 5, .fields = wf + 600, .nfields = WIDE - 600}};
    eng_write_res_t res;
    uint64_t seq;
    assert_int_equal(eng_write(f->db, wp, 2, &res, &seq), 0);
    assert_int_equal(res.fields_rejected, 0);
    assert_int_equal(eng_wait_durable(f->db, seq), 0);
    cn_free(wf);
    expect(f, "SELECT * INTO w2 FROM w", /* one row, in two points */
           "{\"statement_id\":0,\"series\":[{\"name\":\"result\",\"columns\":[\"time\","
           "\"written\"],\"values\":[[0,1]]}]}");
    expect(f, "SELECT count(f0000), sum(f1023), sum(f1024), sum(f1099) FROM w2",
           "{\"statement_id\":0,\"series\":[{\"name\":\"w2\",\"columns\":[\"time\",\"count\","
           "\"sum\",\"sum_1\",\"sum_2\"],\"values\":[[0,1,1023,1024,1099]]}]}");
    /* the target database must exist, a named policy be one of its own */
    qry_catalog_t *cat;
    assert_int_equal(qry_catalog_open(NULL, &cat), 0);
    qry_catalog_touch(cat, "db");
    qry_exec_opts_t o = {.cat = cat};
    char *json;
    expect_opts(f, "SELECT v INTO other..x FROM m", o,
                "{\"statement_id\":0,\"error\":\"database not found: other\"}");
    expect_opts(f, "SELECT v INTO db.rp1.x FROM m", o,
                "{\"statement_id\":0,\"error\":\"retention policy not found: rp1\"}");
    expect_opts(f, "SELECT v INTO db.autogen.x FROM m LIMIT 3", o,
                "{\"statement_id\":0,\"series\":[{\"name\":\"result\",\"columns\":"
                "[\"time\",\"written\"],\"values\":[[0,3]]}]}");
    qry_catalog_close(cat);
    /* a cancelled request writes nothing and reports the cancel */
    atomic_int cancel;
    atomic_init(&cancel, 1);
    qry_exec_opts_t oc = {.cancel = &cancel};
    assert_int_equal(run_opts(f, "SELECT v INTO y FROM m", oc, &json), CN_ECLOSED);
    assert_null(json);
    expect(f, "SELECT count(v) FROM y", "{\"statement_id\":0}");
}

/* SHOW ... CARDINALITY (answers as InfluxDB 1.6.7 gave them for the same
 * series, except that its WHERE on a tag's exact value found nothing). */
static void test_show_cardinality(void **st)
{
    fx_t *f = *st;
    static const char *const lines[][3] = {{"cpu", "a", "x"},  {"cpu", "b", "x"},
                                           {"cpu", "c", "y"},  {"cpu", "c", NULL},
                                           {"mem", "a", NULL}, {"notag", NULL, NULL}};
    for (size_t i = 0; i < CN_ARRAY_LEN(lines); i++) {
        eng_tag_t tags[2];
        uint32_t nt = 0;
        if (lines[i][1])
            tags[nt++] = (eng_tag_t){"host", lines[i][1]};
        if (lines[i][2])
            tags[nt++] = (eng_tag_t){"dc", lines[i][2]};
        eng_field_t flds[2] = {{"u", ENG_T_FLOAT, {.f = 1}}, {"w", ENG_T_INT, {.i = 2}}};
        eng_point_t p = {.measurement = lines[i][0],
                         .tags = tags,
                         .ntags = nt,
                         .ts = 1,
                         .fields = flds,
                         .nfields = i == 3 ? 2 : 1};
        eng_write_res_t res;
        uint64_t seq;
        assert_int_equal(eng_write(f->db, &p, 1, &res, &seq), 0);
        assert_int_equal(eng_wait_durable(f->db, seq), 0);
    }
#define ONE(name, col, n) "{\"name\":\"" name "\",\"columns\":[\"" col "\"],\"values\":[[" n "]]}"
#define NONAME(col, n)    "{\"columns\":[\"" col "\"],\"values\":[[" n "]]}"
#define RES(...)          "{\"statement_id\":0,\"series\":[" __VA_ARGS__ "]}"
    expect(f, "SHOW SERIES CARDINALITY", RES(NONAME("cardinality estimation", "6")));
    expect(
        f, "SHOW SERIES EXACT CARDINALITY",
        RES(ONE("cpu", "count", "4") "," ONE("mem", "count", "1") "," ONE("notag", "count", "1")));
    expect(f, "SHOW SERIES CARDINALITY FROM /c|m/ WHERE host = 'c' OR host = 'a'",
           RES(ONE("cpu", "count", "3") "," ONE("mem", "count", "1")));
    expect(
        f, "SHOW SERIES EXACT CARDINALITY FROM cpu GROUP BY dc",
        RES("{\"name\":\"cpu\",\"tags\":{\"dc\":\"\"},\"columns\":[\"count\"],\"values\":[[1]]},"
            "{\"name\":\"cpu\",\"tags\":{\"dc\":\"x\"},\"columns\":[\"count\"],\"values\":[[2]]},"
            "{\"name\":\"cpu\",\"tags\":{\"dc\":\"y\"},\"columns\":[\"count\"],\"values\":[[1]]}"));
    expect(f, "SHOW SERIES EXACT CARDINALITY FROM cpu GROUP BY host, dc, host LIMIT 1",
           RES("{\"name\":\"cpu\",\"tags\":{\"dc\":\"\",\"host\":\"c\"},\"columns\":[\"count\"],"
               "\"values\":[[1]]},"
               "{\"name\":\"cpu\",\"tags\":{\"dc\":\"x\",\"host\":\"a\"},\"columns\":[\"count\"],"
               "\"values\":[[1]]},"
               "{\"name\":\"cpu\",\"tags\":{\"dc\":\"x\",\"host\":\"b\"},\"columns\":[\"count\"],"
               "\"values\":[[1]]},"
               "{\"name\":\"cpu\",\"tags\":{\"dc\":\"y\",\"host\":\"c\"},\"columns\":[\"count\"],"
               "\"values\":[[1]]}"));
    expect(f, "SHOW SERIES EXACT CARDINALITY OFFSET 1", "{\"statement_id\":0}");
    expect(f, "SHOW MEASUREMENT CARDINALITY", RES(NONAME("cardinality estimation", "3")));
    expect(f, "SHOW MEASUREMENT EXACT CARDINALITY FROM /o/", RES(NONAME("count", "1")));
    expect(f, "SHOW MEASUREMENT EXACT CARDINALITY WHERE host = 'a'", RES(NONAME("count", "2")));
    expect(f, "SHOW MEASUREMENT EXACT CARDINALITY FROM nothing", "{\"statement_id\":0}");
    expect(f, "SHOW TAG KEY CARDINALITY",
           RES(ONE("cpu", "count", "2") "," ONE("mem", "count", "1")));
    expect(f, "SHOW TAG VALUES EXACT CARDINALITY WITH KEY IN (host, dc)",
           RES(ONE("cpu", "count", "5") "," ONE("mem", "count", "1")));
    expect(f, "SHOW TAG VALUES CARDINALITY FROM cpu WITH KEY = host WHERE dc = 'x'",
           RES(ONE("cpu", "count", "2")));
    expect(
        f, "SHOW FIELD KEY EXACT CARDINALITY",
        RES(ONE("cpu", "count", "2") "," ONE("mem", "count", "1") "," ONE("notag", "count", "1")));
    expect(f, "SHOW SERIES CARDINALITY FROM cpu WHERE time > 0",
           "{\"statement_id\":0,\"error\":\"SHOW SERIES EXACT CARDINALITY doesn't support time in "
           "WHERE clause\"}");
    expect(f, "SHOW TAG KEY CARDINALITY WHERE host = 'a' AND time > 0",
           "{\"statement_id\":0,\"error\":\"SHOW TAG KEY EXACT CARDINALITY doesn't support time "
           "in WHERE clause\"}");
#undef ONE
#undef NONAME
#undef RES
}

/* Continuous queries: when each runs and what it covers (InfluxDB's
 * documented examples), CREATE / DROP / SHOW through a catalog file that
 * is read back, and a run writing its window's rows. */
static qry_cq_t *cq_of(const char *text)
{
    qry_cq_t *cq;
    qry_error_t err;
    if (qry_cq_parse(text, &cq, &err) < 0)
        fail_msg("%s: %s", text, err.msg);
    return cq;
}

static void test_cq_schedule(void **st)
{
    (void)st;
    const int64_t M = INT64_C(60000000000), H = 60 * M;
    const int64_t t8 = 8 * H; /* 08:00 of 1970-01-01 */
    struct {
        const char *resample, *group;
        int64_t at, start, end, next;
    } cases[] = {
        /* every hour on the hour, the hour before */
        {"", "1h", t8, t8 - H, t8, t8 + H},
        /* FOR not a whole number of windows: whole windows only, as InfluxDB */
        {"RESAMPLE FOR 90m", "1h", 2 * H, H, 2 * H, 3 * H},
        /* EVERY 45m of 1h windows: each hour is finished after it ended */
        {"RESAMPLE EVERY 45m", "1h", 90 * M, 0, 2 * H, 135 * M},
        {"RESAMPLE EVERY 45m", "1h", 135 * M, H, 3 * H, 180 * M},
        /* EVERY 90m of 1h windows: back to the hour of the run before */
        {"RESAMPLE EVERY 90m", "1h", 3 * H, H, 3 * H, 270 * M},
        /* EVERY 30m: at 8:30 the current hour, at 9:00 the finished one */
        {"RESAMPLE EVERY 30m", "1h", t8 + 30 * M, t8, t8 + H, t8 + H},
        {"RESAMPLE EVERY 30m", "1h", t8, t8 - H, t8, t8 + 30 * M},
        /* FOR 1h of 30m windows */
        {"RESAMPLE FOR 1h", "30m", t8 + 30 * M, t8 - 30 * M, t8 + 30 * M, t8 + H},
        /* EVERY 1h FOR 90m of 30m windows */
        {"RESAMPLE EVERY 1h FOR 90m", "30m", t8, t8 - 90 * M, t8, t8 + H},
        /* EVERY 2h of 1h windows: both hours */
        {"RESAMPLE EVERY 2h", "1h", t8, t8 - 2 * H, t8, t8 + 2 * H},
        /* an offset moves the boundaries: 8:15 covers 7:15-8:15 */
        {"", "1h, 15m", t8 + 15 * M, t8 - 45 * M, t8 + 15 * M, t8 + H + 15 * M},
        /* before the epoch */
        {"", "1h", -H, -2 * H, -H, 0},
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++) {
        char text[256];
        snprintf(text, sizeof text,
                 "CREATE CONTINUOUS QUERY c ON d %s BEGIN SELECT mean(v) INTO x FROM m GROUP BY "
                 "time(%s) END",
                 cases[i].resample, cases[i].group);
        qry_cq_t *cq = cq_of(text);
        int64_t a, b;
        qry_cq_window(cq, cases[i].at, &a, &b);
        if (a != cases[i].start || b != cases[i].end ||
            qry_cq_next_run(cq, cases[i].at) != cases[i].next)
            fail_msg("case %zu: [%lld, %lld) next %lld", i, (long long)a, (long long)b,
                     (long long)qry_cq_next_run(cq, cases[i].at));
        qry_cq_free(cq);
    }
    /* a run time itself: the next one is a whole EVERY later */
    qry_cq_t *cq = cq_of("CREATE CONTINUOUS QUERY c ON d RESAMPLE EVERY 30m BEGIN SELECT "
                         "mean(v) INTO x FROM m GROUP BY time(1h) END");
    assert_true(qry_cq_next_run(cq, t8 - 1) == t8);
    assert_true(qry_cq_next_run(cq, t8) == t8 + 30 * M);
    assert_string_equal(qry_cq_name(cq), "c");
    assert_string_equal(qry_cq_db(cq), "d");
    qry_cq_free(cq);
    qry_error_t err;
    assert_int_equal(qry_cq_parse("DROP CONTINUOUS QUERY c ON d", &cq, &err), CN_EINVAL);
    assert_string_equal(err.msg, "not a CREATE CONTINUOUS QUERY statement");
}

/* The fixture's catalog file, in path (128 bytes), opened. */
static qry_catalog_t *open_catalog(const fx_t *f, char *path)
{
    snprintf(path, 128, "%s/databases", f->dir);
    qry_catalog_t *cat;
    assert_int_equal(qry_catalog_open(path, &cat), 0);
    return cat;
}

/* How many continuous queries the catalog holds. */
static size_t cq_count(qry_catalog_t *cat)
{
    size_t n;
    char **texts = qry_catalog_cqs(cat, &n);
    for (size_t i = 0; i < n; i++)
        cn_free(texts[i]);
    cn_free(texts);
    return n;
}

static void test_cq_catalog_and_run(void **st)
{
    fx_t *f = *st;
    char path[128];
    qry_catalog_t *cat = open_catalog(f, path);
    qry_exec_opts_t o = {.cat = cat};
    const char *cq1 = "CREATE CONTINUOUS QUERY cq1 ON db BEGIN SELECT mean(v) INTO m_10s FROM m "
                      "GROUP BY time(10s), * END";
    expect_opts(f, cq1, o, "{\"statement_id\":0,\"error\":\"database not found: db\"}");
    expect_opts(f, "CREATE DATABASE db", o, "{\"statement_id\":0}");
    expect_opts(f, cq1, o, "{\"statement_id\":0}");
    expect_opts(f, cq1, o, "{\"statement_id\":0}"); /* the same again */
    expect_opts(f,
                "CREATE CONTINUOUS QUERY cq1 ON db BEGIN SELECT mean(v) INTO db.autogen.m_10s FROM "
                "db.autogen.m GROUP BY time(10s), * END",
                o, "{\"statement_id\":0}"); /* the same, qualified */
    expect_opts(f,
                "CREATE CONTINUOUS QUERY cq1 ON db BEGIN SELECT max(v) INTO m_10s FROM m GROUP "
                "BY time(10s) END",
                o, "{\"statement_id\":0,\"error\":\"continuous query already exists\"}");
    expect_opts(f,
                "CREATE CONTINUOUS QUERY \"a b\" ON db RESAMPLE FOR 20s BEGIN SELECT count(v) "
                "INTO c FROM m GROUP BY time(10s) END",
                o, "{\"statement_id\":0}");
    /* INTO's database and policy must exist when the query is created */
    expect_opts(f,
                "CREATE CONTINUOUS QUERY c2 ON db BEGIN SELECT mean(v) INTO other.autogen.x FROM m "
                "GROUP BY time(10s) END",
                o, "{\"statement_id\":0,\"error\":\"database not found: other\"}");
    expect_opts(f,
                "CREATE CONTINUOUS QUERY c2 ON db BEGIN SELECT mean(v) INTO db.nope.x FROM m "
                "GROUP BY time(10s) END",
                o, "{\"statement_id\":0,\"error\":\"retention policy not found: db.nope\"}");
    expect_opts(f, "CREATE DATABASE other", o, "{\"statement_id\":0}");
    const char *shown =
        "{\"statement_id\":0,\"series\":[{\"name\":\"db\",\"columns\":[\"name\",\"query\"],"
        "\"values\":[[\"cq1\",\"CREATE CONTINUOUS QUERY cq1 ON db BEGIN SELECT mean(v) INTO "
        "db.autogen.m_10s FROM db.autogen.m GROUP BY time(10s), * END\"],[\"a b\",\"CREATE "
        "CONTINUOUS QUERY \\\"a b\\\" ON db RESAMPLE FOR 20s BEGIN SELECT count(v) INTO "
        "db.autogen.c FROM db.autogen.m GROUP BY time(10s) END\"]]},{\"name\":\"other\","
        "\"columns\":[\"name\",\"query\"]}]}";
    expect_opts(f, "SHOW CONTINUOUS QUERIES", o, shown);
    /* read back from the file */
    qry_catalog_close(cat);
    assert_int_equal(qry_catalog_open(path, &cat), 0);
    o.cat = cat;
    expect_opts(f, "SHOW CONTINUOUS QUERIES", o, shown);
    size_t n;
    char **texts = qry_catalog_cqs(cat, &n);
    assert_int_equal(n, 2);
    /* a run at 20 s covers [10 s, 20 s) */
    const int64_t S = 1000000000;
    for (int i = 0; i < 30; i++) {
        eng_field_t v = {"v", ENG_T_FLOAT, {.f = i}};
        put(f, i % 2 ? "a" : "b", i * S, &v, 1);
    }
    qry_cq_t *cq = cq_of(texts[0]);
    qry_exec_opts_t ro = {.db = f->db, .cat = cat, .threads = 1};
    qry_result_t *r;
    assert_int_equal(qry_cq_run(cq, 20 * S, &ro, &r), 0);
    assert_null(r->err);
    assert_int_equal(r->series[0].vals[1].u.i, 2); /* one point per device */
    qry_result_free(r);
    qry_cq_free(cq);
    expect(f, "SELECT * FROM m_10s GROUP BY *",
           "{\"statement_id\":0,\"series\":[{\"name\":\"m_10s\",\"tags\":{\"device_id\":\"a\"},"
           "\"columns\":[\"time\",\"mean\"],\"values\":[[10000000000,15]]},{\"name\":\"m_10s\","
           "\"tags\":{\"device_id\":\"b\"},\"columns\":[\"time\",\"mean\"],\"values\":[["
           "10000000000,14]]}]}");
    /* RESAMPLE FOR 20s at 30 s: [10 s, 30 s), two windows */
    cq = cq_of(texts[1]);
    assert_int_equal(qry_cq_run(cq, 30 * S, &ro, &r), 0);
    assert_int_equal(r->series[0].vals[1].u.i, 2);
    qry_result_free(r);
    qry_cq_free(cq);
    expect(f, "SELECT * FROM c",
           "{\"statement_id\":0,\"series\":[{\"name\":\"c\",\"columns\":[\"time\",\"count\"],"
           "\"values\":[[10000000000,10],[20000000000,10]]}]}");
    for (size_t i = 0; i < n; i++)
        cn_free(texts[i]);
    cn_free(texts);
    /* DROP, and DROP DATABASE takes the rest */
    expect_opts(f, "DROP CONTINUOUS QUERY cq1 ON db", o, "{\"statement_id\":0}");
    expect_opts(f, "DROP CONTINUOUS QUERY cq1 ON db", o, "{\"statement_id\":0}");
    assert_int_equal(cq_count(cat), 1);
    expect_opts(f, "DROP DATABASE db", o, NULL);
    assert_int_equal(cq_count(cat), 0);
    qry_catalog_close(cat);
    /* a damaged file: a statement that does not parse, an absurd length
     * (the rest is skipped) - no query loaded, the database is */
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("db x 1\ncq 5\nabcde\ncq 99999999999\ncq 40\nCREATE CONTINUOUS QUERY\n", fp);
    fclose(fp);
    assert_int_equal(qry_catalog_open(path, &cat), 0);
    assert_int_equal(cq_count(cat), 0);
    o.cat = cat;
    expect_opts(f, "SHOW DATABASES", o,
                "{\"statement_id\":0,\"series\":[{\"name\":\"databases\",\"columns\":"
                "[\"name\"],\"values\":[[\"x\"]]}]}");
    qry_catalog_close(cat);
}

/* Names with newlines and spaces survive the catalog file and cannot
 * forge its lines (a CREATE DATABASE once planted a "cq" line). */
static void test_catalog_names(void **st)
{
    fx_t *f = *st;
    char path[128];
    qry_catalog_t *cat = open_catalog(f, path);
    qry_exec_opts_t o = {.cat = cat};
    expect_opts(f, "CREATE DATABASE \"evil\\ncq 99999999999\"", o, "{\"statement_id\":0}");
    expect_opts(f, "CREATE DATABASE \"a b%41\" WITH DURATION 2h NAME \"r\\n1\"", o,
                "{\"statement_id\":0}");
    expect_opts(f, "CREATE DATABASE important WITH DURATION 1h", o, "{\"statement_id\":0}");
    expect_opts(f,
                "CREATE CONTINUOUS QUERY c ON important BEGIN SELECT mean(v) INTO x FROM m "
                "GROUP BY time(1h) END",
                o, "{\"statement_id\":0}");
    qry_catalog_close(cat);
    assert_int_equal(qry_catalog_open(path, &cat), 0);
    o.cat = cat;
    expect_opts(f, "SHOW DATABASES", o,
                "{\"statement_id\":0,\"series\":[{\"name\":\"databases\",\"columns\":[\"name\"],"
                "\"values\":[[\"a b%41\"],[\"evil\\ncq 99999999999\"],[\"important\"]]}]}");
    expect_opts(f, "SHOW RETENTION POLICIES ON \"a b%41\"", o,
                "{\"statement_id\":0,\"series\":[{\"columns\":[\"name\",\"duration\","
                "\"shardGroupDuration\",\"replicaN\",\"default\"],\"values\":[[\"r\\n1\","
                "\"2h0m0s\",\"1h0m0s\",1,true]]}]}");
    assert_int_equal(cq_count(cat), 1);
    qry_catalog_close(cat);
}

/* A continuous query is kept with its names qualified, as InfluxDB 1.6.7
 * shows them (these answers are its): INTO and every measurement, in
 * subqueries too, name a database and its default policy. */
static void test_cq_qualified(void **st)
{
    fx_t *f = *st;
    char path[128];
    qry_catalog_t *cat = open_catalog(f, path);
    qry_exec_opts_t o = {.cat = cat};
    expect_opts(f, "CREATE DATABASE iot", o, "{\"statement_id\":0}");
    expect_opts(f, "CREATE DATABASE other", o, "{\"statement_id\":0}");
    expect_opts(f, "CREATE RETENTION POLICY short ON other DURATION 1h REPLICATION 1 DEFAULT", o,
                "{\"statement_id\":0}");
    expect_opts(f,
                "CREATE CONTINUOUS QUERY z1 ON iot BEGIN SELECT mean(v) INTO other..m2 FROM /m.*/, "
                "other..x, autogen.y GROUP BY time(1m) END",
                o, "{\"statement_id\":0}");
    expect_opts(f,
                "CREATE CONTINUOUS QUERY z2 ON iot BEGIN SELECT mean(v) INTO autogen.m2 FROM "
                "(SELECT max(v) AS v FROM m GROUP BY time(10s)) GROUP BY time(1m), * END",
                o, "{\"statement_id\":0}");
    expect_opts(
        f, "SHOW CONTINUOUS QUERIES", o,
        "{\"statement_id\":0,\"series\":[{\"name\":\"iot\",\"columns\":[\"name\",\"query\"],"
        "\"values\":[[\"z1\",\"CREATE CONTINUOUS QUERY z1 ON iot BEGIN SELECT mean(v) INTO "
        "other.short.m2 FROM iot.autogen./m.*/, other.short.x, iot.autogen.y GROUP BY time(1m) "
        "END\"],[\"z2\",\"CREATE CONTINUOUS QUERY z2 ON iot BEGIN SELECT mean(v) INTO "
        "iot.autogen.m2 FROM (SELECT max(v) AS v FROM iot.autogen.m GROUP BY time(10s)) GROUP "
        "BY time(1m), * END\"]]},{\"name\":\"other\",\"columns\":[\"name\",\"query\"]}]}");
    /* every measurement's database and policy must exist, in subqueries
     * too; a dropped default policy is still looked for by its name */
    const char *nope = "{\"statement_id\":0,\"error\":\"retention policy not found: iot.nope\"}";
    expect_opts(f,
                "CREATE CONTINUOUS QUERY n2 ON iot BEGIN SELECT mean(v) INTO m1 FROM nope.cpu "
                "GROUP BY time(1m) END",
                o, nope);
    expect_opts(
        f,
        "CREATE CONTINUOUS QUERY n4 ON iot BEGIN SELECT mean(v) INTO m1 FROM (SELECT v FROM "
        "nope.cpu) GROUP BY time(1m) END",
        o, nope);
    expect_opts(f,
                "CREATE CONTINUOUS QUERY n3 ON iot BEGIN SELECT mean(v) INTO m1 FROM nodb..cpu "
                "GROUP BY time(1m) END",
                o, "{\"statement_id\":0,\"error\":\"database not found: nodb\"}");
    expect_opts(f, "CREATE DATABASE nd", o, "{\"statement_id\":0}");
    expect_opts(f, "CREATE RETENTION POLICY r2 ON nd DURATION 1h REPLICATION 1", o,
                "{\"statement_id\":0}");
    expect_opts(f, "DROP RETENTION POLICY autogen ON nd", o, "{\"statement_id\":0}");
    expect_opts(f,
                "CREATE CONTINUOUS QUERY n1 ON nd BEGIN SELECT mean(v) INTO m1 FROM cpu GROUP BY "
                "time(1m) END",
                o, "{\"statement_id\":0,\"error\":\"retention policy not found: nd.autogen\"}");
    assert_int_equal(cq_count(cat), 2);
    qry_catalog_close(cat);
}

/* A continuous query an older version kept unqualified reads back
 * qualified: SHOW shows it as InfluxDB would, and the same CREATE again
 * is still no error. */
static void test_cq_upgrade(void **st)
{
    fx_t *f = *st;
    char path[128];
    snprintf(path, sizeof path, "%s/databases", f->dir);
    const char *old =
        "CREATE CONTINUOUS QUERY c1 ON iot BEGIN SELECT mean(v) INTO m1 FROM cpu GROUP "
        "BY time(1m) END";
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "db iot 1\nrp iot autogen 0 604800000000000 1 1 0\ncq %zu\n%s\n", strlen(old), old);
    fclose(fp);
    qry_catalog_t *cat = open_catalog(f, path);
    qry_exec_opts_t o = {.cat = cat};
    expect_opts(f, old, o, "{\"statement_id\":0}");
    expect_opts(f, "SHOW CONTINUOUS QUERIES", o,
                "{\"statement_id\":0,\"series\":[{\"name\":\"iot\",\"columns\":[\"name\","
                "\"query\"],\"values\":[[\"c1\",\"CREATE CONTINUOUS QUERY c1 ON iot BEGIN SELECT "
                "mean(v) INTO iot.autogen.m1 FROM iot.autogen.cpu GROUP BY time(1m) END\"]]}]}");
    assert_int_equal(cq_count(cat), 1);
    qry_catalog_close(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_str),
        cmocka_unit_test(test_float_format),
        cmocka_unit_test(test_float_format_digits),
        cmocka_unit_test(test_go_duration),
        cmocka_unit_test(test_task_duration),
        cmocka_unit_test(test_tz),
        cmocka_unit_test(test_regex_rewrite),
        cmocka_unit_test(test_regex_match),
        cmocka_unit_test_setup_teardown(test_exact_aggregates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_windows_and_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_selector_time_from_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_value_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrapped_block_sum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_tasks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_empties_series, setup, teardown),
        cmocka_unit_test_setup_teardown(test_select_into, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_cardinality, setup, teardown),
        cmocka_unit_test(test_cq_schedule),
        cmocka_unit_test_setup_teardown(test_cq_catalog_and_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catalog_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cq_qualified, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cq_upgrade, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
