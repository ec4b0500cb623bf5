/* SPDX-License-Identifier: MIT */
/*
 * pq_read.c - qry_pq_read_summary (parquet.h): the few numbers a manifest
 * needs, read back from a Parquet footer (Thrift compact protocol, see
 * thrift.c for the wire format): FileMetaData.num_rows (3) and, per row
 * group (4) > first ColumnChunk (1) > ColumnMetaData (3) > Statistics (12),
 * min_value (6) / max_value (5) of the time column.  Every other field is
 * skipped generically; nesting is bounded; every length is checked against
 * the input, so any byte string is safe to pass (fuzz_pq_read).
 */
#include "parquet.h"

#define MAX_DEPTH 16

typedef struct rd {
    const uint8_t *p, *end;
    bool bad;
} rd_t;

static uint8_t rd_u8(rd_t *r)
{
    if (r->p >= r->end) {
        r->bad = true;
        return 0;
    }
    return *r->p++;
}

static uint64_t rd_varint(rd_t *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b = rd_u8(r);
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    r->bad = true;
    return 0;
}

static int64_t rd_zigzag(rd_t *r)
{
    uint64_t v = rd_varint(r);
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static void rd_skip_bytes(rd_t *r, uint64_t n)
{
    if (n > (uint64_t)(r->end - r->p)) {
        r->bad = true;
        r->p = r->end;
        return;
    }
    r->p += n;
}

enum { T_TRUE = 1, T_FALSE, T_BYTE, T_I16, T_I32, T_I64, T_DOUBLE, T_BINARY, T_LIST, T_SET,
       T_MAP, T_STRUCT };

static void skip(rd_t *r, int type, int depth, bool in_list);

static void skip_struct(rd_t *r, int depth)
{
    if (depth > MAX_DEPTH) {
        r->bad = true;
        return;
    }
    while (!r->bad) {
        uint8_t b = rd_u8(r);
        if (b == 0)
            return;
        if (!(b >> 4))
            rd_zigzag(r); /* long-form field id */
        skip(r, b & 15, depth + 1, false);
    }
}

static uint64_t list_header(rd_t *r, int *etype)
{
    uint8_t b = rd_u8(r);
    *etype = b & 15;
    uint64_t n = b >> 4;
    if (n == 15)
        n = rd_varint(r);
    return n;
}

static void skip(rd_t *r, int type, int depth, bool in_list)
{
    if (r->bad)
        return;
    switch (type) {
    case T_TRUE:
    case T_FALSE:
        if (in_list)
            rd_u8(r);
        return;
    case T_BYTE:
        rd_u8(r);
        return;
    case T_I16:
    case T_I32:
    case T_I64:
        rd_varint(r);
        return;
    case T_DOUBLE:
        rd_skip_bytes(r, 8);
        return;
    case T_BINARY:
        rd_skip_bytes(r, rd_varint(r));
        return;
    case T_LIST:
    case T_SET: {
        int et;
        uint64_t n = list_header(r, &et);
        for (uint64_t i = 0; i < n && !r->bad; i++)
            skip(r, et, depth + 1, true);
        return;
    }
    case T_MAP: {
        uint64_t n = rd_varint(r);
        if (!n)
            return;
        uint8_t kv = rd_u8(r);
        for (uint64_t i = 0; i < n && !r->bad; i++) {
            skip(r, kv >> 4, depth + 1, true);
            skip(r, kv & 15, depth + 1, true);
        }
        return;
    }
    case T_STRUCT:
        skip_struct(r, depth);
        return;
    default:
        r->bad = true;
    }
}

/* Iterates the fields of a struct: returns the next field's id and type,
 * or 0 at its end (or on bad input). */
static int next_field(rd_t *r, int16_t *last, int *type)
{
    uint8_t b = rd_u8(r);
    if (b == 0 || r->bad)
        return 0;
    *type = b & 15;
    int64_t id = (b >> 4) ? *last + (b >> 4) : rd_zigzag(r);
    if (id <= 0 || id > INT16_MAX) {
        r->bad = true;
        return 0;
    }
    *last = (int16_t)id;
    return (int)id;
}

static int64_t le64(rd_t *r)
{
    uint64_t n = rd_varint(r);
    if (n != 8 || (uint64_t)(r->end - r->p) < 8) {
        rd_skip_bytes(r, n);
        r->bad = r->bad || n != 8;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | r->p[i];
    r->p += 8;
    return (int64_t)v;
}

typedef struct acc {
    int64_t tmin, tmax;
    bool any;
} acc_t;

static void rd_stats(rd_t *r, acc_t *a)
{
    int16_t last = 0;
    int type, id;
    bool hmin = false, hmax = false;
    int64_t mn = 0, mx = 0;
    while ((id = next_field(r, &last, &type)) > 0) {
        if ((id == 5 || id == 6) && type == T_BINARY) {
            int64_t v = le64(r);
            if (id == 5)
                mx = v, hmax = true;
            else
                mn = v, hmin = true;
        } else {
            skip(r, type, 4, false);
        }
    }
    if (hmin && hmax) {
        a->tmin = a->any ? CN_MIN(a->tmin, mn) : mn;
        a->tmax = a->any ? CN_MAX(a->tmax, mx) : mx;
        a->any = true;
    }
}

static void rd_struct_path(rd_t *r, const int16_t *path, int depth, acc_t *a)
{
    int16_t last = 0;
    int type, id;
    while ((id = next_field(r, &last, &type)) > 0) {
        if (id != path[0] || type != T_STRUCT)
            skip(r, type, depth, false);
        else if (path[1] == 0)
            rd_stats(r, a);
        else
            rd_struct_path(r, path + 1, depth + 1, a);
    }
}

int qry_pq_read_summary(const uint8_t *p, size_t n, int unit, qry_pq_summary_t *sum)
{
    memset(sum, 0, sizeof *sum);
    if (n < 12 || memcmp(p, "PAR1", 4) != 0 || memcmp(p + n - 4, "PAR1", 4) != 0)
        return CN_ECORRUPT;
    uint32_t flen = (uint32_t)p[n - 8] | (uint32_t)p[n - 7] << 8 | (uint32_t)p[n - 6] << 16 |
                    (uint32_t)p[n - 5] << 24;
    if (flen > n - 12)
        return CN_ECORRUPT;
    rd_t r = {p + n - 8 - flen, p + n - 8, false};
    acc_t a = {0};
    int16_t last = 0;
    int type, id;
    int64_t rows = -1;
    static const int16_t chunk_stats[] = {3, 12, 0}; /* meta_data > statistics */
    while ((id = next_field(&r, &last, &type)) > 0) {
        if (id == 3 && type == T_I64) {
            rows = rd_zigzag(&r);
        } else if (id == 4 && type == T_LIST) {
            int et;
            uint64_t ng = list_header(&r, &et);
            for (uint64_t g = 0; g < ng && !r.bad && et == T_STRUCT; g++) {
                int16_t glast = 0;
                int gtype, gid;
                while ((gid = next_field(&r, &glast, &gtype)) > 0) {
                    if (gid != 1 || gtype != T_LIST) {
                        skip(&r, gtype, 2, false);
                        continue;
                    }
                    int ct;
                    uint64_t nc = list_header(&r, &ct);
                    for (uint64_t c = 0; c < nc && !r.bad; c++) {
                        if (c == 0 && ct == T_STRUCT)
                            rd_struct_path(&r, chunk_stats, 3, &a);
                        else
                            skip(&r, ct, 3, true);
                    }
                }
            }
            if (et != T_STRUCT && ng)
                r.bad = true;
        } else {
            skip(&r, type, 1, false);
        }
    }
    if (r.bad || rows < 0)
        return CN_ECORRUPT;
    int64_t mul = unit == QRY_PQ_NANOS ? 1 : 1000;
    sum->rows = (uint64_t)rows;
    sum->bytes = n;
    bool fit = a.any && a.tmin >= INT64_MIN / mul && a.tmax <= INT64_MAX / mul;
    sum->tmin = rows && fit ? a.tmin * mul : 0;
    sum->tmax = rows && fit ? a.tmax * mul : -1;
    return 0;
}
