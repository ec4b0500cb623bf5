/* SPDX-License-Identifier: MIT */
/*
 * tz.c - tz('Zone/Name'): the UTC offset of an IANA zone at an instant,
 * read from the system's compiled zone files (/usr/share/zoneinfo, TZif
 * version 2+, 64-bit section; RFC 8536).  Instants after the last stored
 * transition use the last offset: Debian ships "fat" files with explicit
 * transitions up to 2037, so the POSIX footer rule is not interpreted.
 * Loading does file I/O: call it on a worker thread only.
 */
#include "exec_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#ifndef QRY_ZONEINFO
#define QRY_ZONEINFO "/usr/share/zoneinfo"
#endif

struct qry__tz {
    size_t n;
    int64_t *at;  /* transition instants, s since the epoch, ascending */
    int32_t *off; /* offset in effect from at[i] on */
    int32_t off0; /* before the first transition */
};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static bool name_ok(const char *name)
{
    if (!*name || name[0] == '/' || strlen(name) > 200)
        return false;
    for (const char *p = name; *p; p++) {
        if (!(isalnum((unsigned char)*p) || *p == '/' || *p == '_' || *p == '-' || *p == '+'))
            return false;
        if (p[0] == '/' && p[1] == '/')
            return false;
    }
    return strstr(name, "..") == NULL;
}

static int parse(const unsigned char *d, size_t len, qry__tz_t *z)
{
    size_t timecnt, typecnt;
    if (len < 44 || memcmp(d, "TZif", 4) != 0 || d[4] < '2')
        return CN_EINVAL;
    /* skip the version 1 body */
    uint32_t c[6];
    for (int i = 0; i < 6; i++)
        c[i] = be32(d + 20 + 4 * i);
    uint64_t v1 = (uint64_t)c[3] * 5 + (uint64_t)c[4] * 6 + c[5] + (uint64_t)c[2] * 8 + c[1] + c[0];
    if (v1 > len)
        return CN_EINVAL;
    size_t o = 44 + (size_t)v1;
    if (len < o + 44 || memcmp(d + o, "TZif", 4) != 0)
        return CN_EINVAL;
    for (int i = 0; i < 6; i++)
        c[i] = be32(d + o + 20 + 4 * i);
    o += 44;
    timecnt = c[3];
    typecnt = c[4];
    if (typecnt == 0 || timecnt > len || typecnt > len || len - o < timecnt * 9 + typecnt * 6)
        return CN_EINVAL;
    const unsigned char *times = d + o, *idx = times + timecnt * 8, *types = idx + timecnt;
    z->n = timecnt;
    z->at = cn_malloc((timecnt + 1) * sizeof(int64_t));
    z->off = cn_malloc((timecnt + 1) * sizeof(int32_t));
    for (size_t i = 0; i < timecnt; i++) {
        if (idx[i] >= typecnt)
            return CN_EINVAL;
        z->at[i] = be64(times + 8 * i);
        z->off[i] = (int32_t)be32(types + 6 * idx[i]);
    }
    /* before the first transition: the first non-DST type (RFC 8536 3.2) */
    z->off0 = (int32_t)be32(types);
    for (size_t t = 0; t < typecnt; t++)
        if (!types[6 * t + 4]) {
            z->off0 = (int32_t)be32(types + 6 * t);
            break;
        }
    return 0;
}

int qry__tz_load(const char *name, qry__tz_t **out)
{
    *out = NULL;
    if (!name_ok(name))
        return CN_EINVAL;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", QRY_ZONEINFO, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return CN_EINVAL;
    cn_buf_t b;
    cn_buf_init(&b);
    unsigned char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0 && b.len < (1u << 20))
        cn_buf_put(&b, tmp, n);
    fclose(f);
    qry__tz_t *z = cn_calloc(1, sizeof *z);
    int rc = parse(b.p, b.len, z);
    cn_buf_free(&b);
    if (rc < 0) {
        qry__tz_free(z);
        return rc;
    }
    *out = z;
    return 0;
}

int qry__tz_parse(const uint8_t *d, size_t len, qry__tz_t **out)
{
    qry__tz_t *z = cn_calloc(1, sizeof *z);
    int rc = parse(d, len, z);
    if (rc < 0) {
        qry__tz_free(z);
        *out = NULL;
        return rc;
    }
    *out = z;
    return 0;
}

void qry__tz_free(qry__tz_t *z)
{
    if (!z)
        return;
    cn_free(z->at);
    cn_free(z->off);
    cn_free(z);
}

int32_t qry__tz_offset(const qry__tz_t *z, int64_t ns)
{
    if (!z)
        return 0;
    int64_t s = ns / 1000000000 - (ns % 1000000000 < 0);
    if (z->n == 0 || s < z->at[0])
        return z->off0;
    size_t lo = 0, hi = z->n; /* largest i with at[i] <= s */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (z->at[mid] <= s)
            lo = mid;
        else
            hi = mid;
    }
    return z->off[lo];
}
