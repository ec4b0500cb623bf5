/* SPDX-License-Identifier: MIT */
/*
 * fuzz_tzif.c - libFuzzer target for query/exec/tz.c's TZif reader (the
 * zone files behind tz()): any bytes either fail with CN_EINVAL or give a
 * zone whose offset can be asked at any instant without a crash.
 */
#include "exec/exec_int.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qry__tz_t *z;
    int rc = qry__tz_parse(data, size, &z);
    if (rc < 0) {
        if (rc != CN_EINVAL || z)
            abort();
        return 0;
    }
    static const int64_t at[] = {INT64_MIN, -1, 0, 1, INT64_C(1767225600000000000), INT64_MAX};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        int32_t off = qry__tz_offset(z, at[i]);
        (void)off; /* any value is a valid answer for made-up files */
    }
    qry__tz_free(z);
    return 0;
}
