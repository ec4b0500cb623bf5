/* SPDX-License-Identifier: MIT */
/*
 * ts.c - the timestamp codec.  Timestamps are int64 nanoseconds, ascending
 * and, for a device that reports on a timer, at a constant stride.  That
 * case gets its own fixed-size encoding (14 bytes at most, whatever n is);
 * everything else goes through the int64 pipeline (int.c), whose
 * delta-of-delta transform with frame-of-reference packing or rANS is what
 * Gorilla-style timestamp coding amounts to, and whose raw codec is the
 * fallback for timestamps that follow no pattern.
 *
 * ENG_C_TS_STRIDE format (after the id byte):
 *   off  size     meaning
 *   0    8        v[0], int64 LE
 *   8    svarint  stride s; v[i] = v[0] + i * s (wrapping, so any int64 pair
 *                 of first value and stride round-trips)
 * Any other id is an int64 pipeline encoding (ENG_C_I_*).  Version 1.
 */
#include "codec_int.h"

static bool const_stride(const int64_t *v, size_t n)
{
    uint64_t s = (uint64_t)v[1] - (uint64_t)v[0];
    for (size_t i = 2; i < n; i++)
        if ((uint64_t)v[i] - (uint64_t)v[i - 1] != s)
            return false;
    return true;
}

int eng__ts_encode(const int64_t *v, size_t n, cn_buf_t *out)
{
    if (n < 2 || !const_stride(v, n))
        return eng__i64_encode(v, n, out);
    cn_buf_put_u8(out, ENG_C_TS_STRIDE);
    cn_buf_put_u64(out, (uint64_t)v[0]);
    cn_buf_put_svarint(out, (int64_t)((uint64_t)v[1] - (uint64_t)v[0]));
    return 0;
}

int eng__ts_decode(cn_rd_t *rd, size_t n, int64_t *out)
{
    uint8_t id;
    int rc = cn_rd_u8(rd, &id);
    if (rc < 0)
        return rc;
    if (id != ENG_C_TS_STRIDE)
        return eng__i64_decode_id(rd, id, n, out, eng__simd());
    uint64_t first;
    int64_t stride;
    if ((rc = cn_rd_u64(rd, &first)) < 0 || (rc = cn_rd_svarint(rd, &stride)) < 0)
        return rc;
    /* Four independent lanes instead of one running sum: the stores, not
     * an add chain, bound this loop (it runs for every block a scan reads). */
    uint64_t st = (uint64_t)stride, x = first;
    size_t i = 0;
    for (; i + 4 <= n; i += 4, x += 4 * st) {
        out[i] = (int64_t)x;
        out[i + 1] = (int64_t)(x + st);
        out[i + 2] = (int64_t)(x + 2 * st);
        out[i + 3] = (int64_t)(x + 3 * st);
    }
    for (; i < n; i++, x += st)
        out[i] = (int64_t)x;
    return 0;
}
