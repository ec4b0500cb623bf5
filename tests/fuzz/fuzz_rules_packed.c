/* SPDX-License-Identifier: MIT */
/*
 * fuzz_rules_packed.c - mq_rules_packed_json (ingest/rules/packed.c) on
 * arbitrary bytes: it renders or returns CN_ECORRUPT leaving the output
 * as it was, and never reads past the input.  A rendering is one JSON
 * object: it starts with '{' and ends with '}'.
 */
#include "rules/rules.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cn_buf_t b;
    cn_buf_init(&b);
    cn_buf_put(&b, "x", 1);
    int rc = mq_rules_packed_json(data, size, &b);
    if (rc == 0 && (b.len < 3 || b.p[1] != '{' || b.p[b.len - 1] != '}'))
        abort();
    if (rc < 0 && (rc != CN_ECORRUPT || b.len != 1))
        abort();
    cn_buf_free(&b);
    return 0;
}
