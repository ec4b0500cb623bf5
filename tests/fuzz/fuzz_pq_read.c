/* SPDX-License-Identifier: MIT */
/*
 * fuzz_pq_read.c - libFuzzer target for qry_pq_read_summary
 * (query/export/pq_read.c), the Parquet footer reader `cairn export
 * --server` uses for its manifest.  Any input either fails with
 * CN_ECORRUPT or succeeds with rows and a time range it could have read;
 * nothing may read outside the input (ASan) or recurse without bound.
 */
#include "query/export/parquet.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qry_pq_summary_t sum;
    for (int unit = QRY_PQ_MICROS; unit <= QRY_PQ_NANOS; unit++) {
        int rc = qry_pq_read_summary(data, size, unit, &sum);
        if (rc != 0 && rc != CN_ECORRUPT)
            abort();
        if (rc == 0 && (sum.bytes != size || (sum.rows == 0 && sum.tmax != -1)))
            abort();
    }
    return 0;
}
