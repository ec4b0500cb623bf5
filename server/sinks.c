/* SPDX-License-Identifier: MIT */
/*
 * sinks.c - builds the sink system from the configuration (see sinks.h).
 * Blocking reads of the sinks file happen here, on the main thread at
 * startup, never on an event loop.
 */
#include "sinks.h"

#include <limits.h>
#include <stdio.h>

static const char *const KAFKA_COMPRESSION[] = {"none", "gzip", "snappy", "lz4", "zstd"};

static int add_file_sinks(const srv_cfg_t *cfg, mq_sink_sys_t *sys, FILE *diag)
{
    uint8_t *text;
    size_t len;
    int rc = cn_file_read_all(cfg->sinks_file, &text, &len);
    if (rc < 0) {
        if (diag)
            fprintf(diag, "cairn: sinks-file %s: %s\n", cfg->sinks_file, cn_strerror(rc));
        return CN_ECONFIG;
    }
    mq_sink_defs_t defs;
    char err[512];
    rc = mq_sink_defs_parse(cfg->sinks_file, (const char *)text, len, &defs, err, sizeof err);
    cn_free(text);
    if (rc < 0) {
        if (diag)
            fprintf(diag, "cairn: sinks-file %s\n", err);
        return CN_ECONFIG;
    }
    for (size_t i = 0; i < defs.n && rc >= 0; i++) {
        rc = mq_sink_sys_add(sys, &defs.v[i]);
        if (rc < 0 && diag)
            fprintf(diag, "cairn: sinks-file %s: sink '%s': %s\n", cfg->sinks_file,
                    defs.v[i].name, cn_strerror(rc));
    }
    mq_sink_defs_free(&defs);
    return rc < 0 ? CN_ECONFIG : 0;
}

static int add_stream(const srv_cfg_t *cfg, mq_sink_sys_t *sys, FILE *diag)
{
    if (!cfg->kafka_brokers[0]) {
        if (diag)
            fprintf(diag, "cairn: kafka-stream-topic needs kafka-brokers\n");
        return CN_ECONFIG;
    }
    mq_sink_def_t d = {.name = "stream",
                       .type = MQ_SINK_KAFKA,
                       .brokers = cfg->kafka_brokers,
                       .topic = cfg->kafka_stream_topic,
                       .compression = KAFKA_COMPRESSION[cfg->kafka_compression]};
    int rc = mq_sink_sys_add(sys, &d);
    if (rc >= 0)
        rc = mq_sink_sys_set_stream(sys, "stream");
    if (rc < 0 && diag)
        fprintf(diag, "cairn: kafka-stream-topic: %s\n", cn_strerror(rc));
    return rc < 0 ? CN_ECONFIG : 0;
}

int srv_sinks_open(const srv_cfg_t *cfg, mq_sink_sys_t **out, FILE *diag)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/sinks", cfg->data_dir) >= (int)sizeof dir)
        return -ENAMETOOLONG;
    mq_sink_log_opts_t o = {.dir = dir,
                            .segment_bytes = cfg->sink_segment_bytes,
                            .max_bytes = cfg->sink_log_max_bytes,
                            .max_age_ns = cfg->sink_log_max_age_ns,
                            .policy = cfg->sink_log_policy == 1 ? MQ_SINK_STOP
                                                                : MQ_SINK_DROP_OLDEST,
                            .no_fsync = cfg->durability == SRV_DUR_OS};
    mq_sink_sys_t *sys;
    int rc = mq_sink_sys_open(&o, &sys);
    if (rc < 0) {
        cn_error("sinks: cannot open %s: %s", dir, cn_strerror(rc));
        return rc;
    }
    if (cfg->sinks_file[0])
        rc = add_file_sinks(cfg, sys, diag);
    if (rc == 0 && cfg->kafka_stream_topic[0])
        rc = add_stream(cfg, sys, diag);
    if (rc < 0) {
        mq_sink_sys_close(sys);
        return rc;
    }
    *out = sys;
    return 0;
}

int srv_sinks_start(mq_sink_sys_t *sys, mq_sink_durable_cb cb, void *arg)
{
    int rc = mq_sink_sys_start(sys, cb, arg);
    if (rc < 0)
        cn_error("sinks: cannot start: %s", cn_strerror(rc));
    return rc;
}

void srv_sinks_metrics(void *sys, cn_buf_t *out)
{
    mq_sink_sys_metrics(sys, out);
}

void srv_sinks_json(void *sys, cn_buf_t *out)
{
    mq_sink_sys_json(sys, out);
    cn_buf_put_u8(out, '\n');
}
