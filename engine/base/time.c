/* SPDX-License-Identifier: MIT */
/*
 * time.c - RFC 3339 / ISO 8601 date-time text <-> int64 nanoseconds since
 * the Unix epoch, shared by the JSON payload decoder (strict RFC 3339) and
 * the query language's time literals (which also take a bare date and a
 * missing zone as UTC).  Proleptic Gregorian calendar, no leap seconds.
 */
#include "base.h"

#include <stdio.h>

/* Days since 1970-01-01 of y-m-d (H. Hinnant's civil-date algorithm). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

/* n fixed digits at s[*i] into *v. */
static bool fixed(const char *s, size_t len, size_t *i, int n, int64_t *v)
{
    int64_t r = 0;
    for (int k = 0; k < n; k++) {
        if (*i >= len || (unsigned)(s[*i] - '0') > 9)
            return false;
        r = r * 10 + (s[(*i)++] - '0');
    }
    *v = r;
    return true;
}

static bool lit(const char *s, size_t len, size_t *i, char c)
{
    if (*i < len && s[*i] == c) {
        (*i)++;
        return true;
    }
    return false;
}

/* (T|t|space)HH:MM:SS[.frac][Z|z|±HH:MM] into seconds of day (zone
 * applied) and ns; *zone tells whether a zone was given. */
static bool parse_clock(const char *s, size_t n, size_t *i, unsigned flags, int64_t *secs,
                        int64_t *frac, bool *zone)
{
    int64_t hh, mi, ss, zh, zm;
    if (!lit(s, n, i, 'T') && !lit(s, n, i, 't') && !lit(s, n, i, ' '))
        return false;
    if (!fixed(s, n, i, 2, &hh) || !lit(s, n, i, ':') || !fixed(s, n, i, 2, &mi) ||
        !lit(s, n, i, ':') || !fixed(s, n, i, 2, &ss) || hh > 23 || mi > 59 || ss > 59)
        return false;
    *secs = hh * 3600 + mi * 60 + ss;
    if (lit(s, n, i, '.')) {
        int nd = 0;
        int64_t f = 0;
        for (; *i < n && (unsigned)(s[*i] - '0') <= 9; (*i)++, nd++)
            if (nd < 9)
                f = f * 10 + (s[*i] - '0');
        if (nd == 0 || (nd > 9 && !(flags & CN_TIME_FRAC_ANY)))
            return false;
        for (int k = nd; k < 9; k++)
            f *= 10;
        *frac = f;
    }
    *zone = true;
    if (lit(s, n, i, 'Z') || lit(s, n, i, 'z'))
        return true;
    if (*i < n && (s[*i] == '+' || s[*i] == '-')) {
        int64_t sign = s[(*i)++] == '-' ? -1 : 1;
        if (!fixed(s, n, i, 2, &zh) || !lit(s, n, i, ':') || !fixed(s, n, i, 2, &zm) || zh > 23 ||
            zm > 59)
            return false;
        *secs -= sign * (zh * 3600 + zm * 60);
        return true;
    }
    *zone = false;
    return true;
}

int cn_time_parse(const char *s, size_t n, unsigned flags, int64_t *ns)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t y, m, d, secs = 0, frac = 0;
    size_t i = 0;
    bool zone = false;
    if (!fixed(s, n, &i, 4, &y) || !lit(s, n, &i, '-') || !fixed(s, n, &i, 2, &m) ||
        !lit(s, n, &i, '-') || !fixed(s, n, &i, 2, &d))
        return CN_EINVAL;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap))
        return CN_EINVAL;
    if (i == n && (flags & CN_TIME_NEED_CLOCK))
        return CN_EINVAL;
    if (i < n && !parse_clock(s, n, &i, flags, &secs, &frac, &zone))
        return CN_EINVAL;
    if (i != n || (!zone && (flags & CN_TIME_NEED_ZONE)))
        return CN_EINVAL;
    int64_t t = days_from_civil(y, m, d) * 86400 + secs, v;
    if (__builtin_mul_overflow(t, INT64_C(1000000000), &v) || __builtin_add_overflow(v, frac, &v))
        return CN_ELIMIT;
    *ns = v;
    return 0;
}

static char *put2(char *p, int64_t v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

/* Digits by hand, not snprintf: a query answer prints a timestamp per
 * row, and snprintf's format interpretation was a fifth of a small
 * query's time (Q2 of bench/run query: 60 rows, 41 -> 9 us a query). */
void cn_time_format(int64_t ns, cn_buf_t *out)
{
    int64_t secs = ns / 1000000000, frac = ns % 1000000000;
    if (frac < 0) {
        frac += 1000000000;
        secs--;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t y, m, d;
    civil_from_days(days, &y, &m, &d);
    char tmp[64], *p = tmp;
    if (y >= 0 && y <= 9999) {
        p = put2(p, y / 100);
        p = put2(p, y % 100);
    } else {
        p += snprintf(tmp, sizeof tmp, "%04lld", (long long)y);
    }
    *p++ = '-';
    p = put2(p, m);
    *p++ = '-';
    p = put2(p, d);
    *p++ = 'T';
    p = put2(p, sod / 3600);
    *p++ = ':';
    p = put2(p, sod / 60 % 60);
    *p++ = ':';
    p = put2(p, sod % 60);
    if (frac) {
        int w = 9;
        while (frac % 10 == 0) {
            frac /= 10;
            w--;
        }
        *p++ = '.';
        for (int i = w - 1; i >= 0; i--, frac /= 10)
            p[i] = (char)('0' + frac % 10);
        p += w;
    }
    *p++ = 'Z';
    cn_buf_put(out, tmp, (size_t)(p - tmp));
}
