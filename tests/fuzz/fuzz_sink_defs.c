/* SPDX-License-Identifier: MIT */
/*
 * fuzz_sink_defs.c - libFuzzer target for the sinks file parser
 * (ingest/sink/defs.c): any bytes either parse into definitions whose
 * required fields are set, or fail with CN_ECONFIG and a message.
 */
#include "sink/sink.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mq_sink_defs_t d;
    char err[128];
    err[0] = 0;
    int rc = mq_sink_defs_parse("fuzz", (const char *)data, size, &d, err, sizeof err);
    if (rc < 0) {
        if (rc != CN_ECONFIG || strncmp(err, "fuzz:", 5) != 0)
            abort();
        return 0;
    }
    for (size_t i = 0; i < d.n; i++) {
        const mq_sink_def_t *s = &d.v[i];
        if (!s->name || (s->type == MQ_SINK_WEBHOOK && !s->url) ||
            (s->type == MQ_SINK_KAFKA && !s->brokers) ||
            (s->type != MQ_SINK_WEBHOOK && s->type != MQ_SINK_KAFKA))
            abort();
    }
    mq_sink_defs_free(&d);
    return 0;
}
