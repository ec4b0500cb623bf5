/* SPDX-License-Identifier: MIT */
/*
 * fuzz_sink_log.c - libFuzzer target for the sink log's record parser
 * (ingest/sink/record.c): walks the input as a segment body record by
 * record, checks that every parsed record lies inside the input and that
 * re-encoding it yields the same bytes.  A broken property aborts.
 */
#include "sink/sink.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0, used;
    mq_sink_rec_t r;
    cn_buf_t b;
    cn_buf_init(&b);
    while (off < size && mq_sink_rec_parse(data + off, size - off, &r, &used) == 0) {
        if (used < MQ_SINK_REC_HDR || used > size - off)
            abort();
        if (r.payload + r.payload_len != data + off + used)
            abort();
        cn_buf_reset(&b);
        mq_sink_rec_encode(&r, &b);
        if (b.len != used || memcmp(b.p, data + off, used) != 0)
            abort();
        off += used;
    }
    cn_buf_free(&b);
    return 0;
}
