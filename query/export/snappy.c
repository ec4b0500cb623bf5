/* SPDX-License-Identifier: MIT */
/*
 * snappy.c - Parquet's SNAPPY page codec through libsnappy's C API (raw
 * block format, what Parquet stores).  Compression is not the product:
 * the reference library compresses better and faster than the hand-written
 * greedy matcher it replaced.
 */
#include "pq_int.h"

#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>

void qry__snappy(cn_buf_t *out, const void *p, size_t n)
{
    size_t cap = snappy_max_compressed_length(n);
    cn_buf_reserve(out, cap);
    size_t len = cap;
    /* Only SNAPPY_BUFFER_TOO_SMALL can fail, and cap is the documented
     * bound for n input bytes. */
    snappy_status st = snappy_compress((const char *)p, n, (char *)out->p + out->len, &len);
    if (st != SNAPPY_OK) { /* a broken invariant, like out of memory: abort */
        fprintf(stderr, "cairn: snappy_compress: status %d for %zu bytes\n", (int)st, n);
        abort();
    }
    out->len += len;
}
