/* SPDX-License-Identifier: MIT */
/*
 * sink_driver.c - a small process that uses the sink system the way the
 * server will, for the integration tests (tests/integration/test_sink_*.sh):
 *
 *   sink_driver --dir DIR [--kafka NAME BROKERS TOPIC]... [--webhook NAME URL]...
 *               [--max-attempts N] [--backoff-ms MIN MAX] [--timeout-ms N]
 *               [--inflight N] [--drain-s N] [--kafka-prop KEY=VALUE]...
 *
 * Reads "SINK KEY PAYLOAD" lines from stdin and appends them; prints
 * "durable N" once all N are on disk, then waits until every record is
 * delivered or dead-lettered, prints "drained", the sinks' JSON status on
 * one line, and exits 0 (1 when the drain timed out).  Started with no
 * input it delivers what a previous (killed) run left in the log.
 */
#include "sink/sink.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_SINKS 8

int main(int argc, char **argv)
{
    mq_sink_def_t defs[MAX_SINKS];
    int ndefs = 0;
    const char *dir = NULL;
    uint32_t attempts = 0, inflight = 0;
    int64_t bmin = 0, bmax = 0, timeout = 0, drain_s = 120;
    const char *props[16] = {NULL};
    int nprops = 0;
    memset(defs, 0, sizeof defs);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--dir") && i + 1 < argc) {
            dir = argv[++i];
        } else if (!strcmp(a, "--kafka") && i + 3 < argc && ndefs < MAX_SINKS) {
            defs[ndefs].type = MQ_SINK_KAFKA;
            defs[ndefs].name = argv[++i];
            defs[ndefs].brokers = argv[++i];
            defs[ndefs++].topic = argv[++i];
        } else if (!strcmp(a, "--webhook") && i + 2 < argc && ndefs < MAX_SINKS) {
            defs[ndefs].type = MQ_SINK_WEBHOOK;
            defs[ndefs].name = argv[++i];
            defs[ndefs++].url = argv[++i];
        } else if (!strcmp(a, "--max-attempts") && i + 1 < argc) {
            attempts = (uint32_t)atoi(argv[++i]);
        } else if (!strcmp(a, "--inflight") && i + 1 < argc) {
            inflight = (uint32_t)atoi(argv[++i]);
        } else if (!strcmp(a, "--backoff-ms") && i + 2 < argc) {
            bmin = atoll(argv[++i]) * 1000000;
            bmax = atoll(argv[++i]) * 1000000;
        } else if (!strcmp(a, "--timeout-ms") && i + 1 < argc) {
            timeout = atoll(argv[++i]) * 1000000;
        } else if (!strcmp(a, "--kafka-prop") && i + 1 < argc && nprops < 15) {
            props[nprops++] = argv[++i];
        } else if (!strcmp(a, "--drain-s") && i + 1 < argc) {
            drain_s = atoll(argv[++i]);
        } else {
            fprintf(stderr, "sink_driver: bad argument '%s'\n", a);
            return 2;
        }
    }
    if (!dir)
        return 2;
    mq_sink_log_opts_t o = {.dir = dir};
    mq_sink_sys_t *sys;
    int rc = mq_sink_sys_open(&o, &sys);
    if (rc < 0) {
        fprintf(stderr, "sink_driver: open: %s\n", cn_strerror(rc));
        return 1;
    }
    for (int i = 0; i < ndefs; i++) {
        defs[i].max_attempts = attempts;
        defs[i].max_inflight = inflight;
        defs[i].backoff_min_ns = bmin;
        defs[i].backoff_max_ns = bmax;
        defs[i].timeout_ns = timeout;
        defs[i].kafka_props = props;
        rc = mq_sink_sys_add(sys, &defs[i]);
        if (rc < 0) {
            fprintf(stderr, "sink_driver: sink %s: %s\n", defs[i].name, cn_strerror(rc));
            return 1;
        }
    }
    rc = mq_sink_sys_start(sys, NULL, NULL);
    if (rc < 0) {
        fprintf(stderr, "sink_driver: start: %s\n", cn_strerror(rc));
        return 1;
    }
    char line[65536];
    uint64_t n = 0, last = 0;
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = 0;
        char *key = strchr(line, ' ');
        char *payload = key ? strchr(key + 1, ' ') : NULL;
        if (!payload)
            continue;
        *key++ = 0;
        *payload++ = 0;
        int id = mq_sink_sys_find(sys, line);
        mq_sink_rec_t r = {.key = (const uint8_t *)key,
                           .key_len = strlen(key),
                           .payload = (const uint8_t *)payload,
                           .payload_len = strlen(payload)};
        while ((rc = mq_sink_append(sys, id, &r, &last)) == CN_EFULL)
            mq_sink_log_wait(mq_sink_sys_log(sys), last); /* writer behind: let it catch up */
        if (rc < 0) {
            fprintf(stderr, "sink_driver: append: %s\n", cn_strerror(rc));
            return 1;
        }
        n++;
    }
    if (n)
        mq_sink_log_wait(mq_sink_sys_log(sys), last);
    printf("durable %llu\n", (unsigned long long)n);
    fflush(stdout);
    rc = mq_sink_sys_drain(sys, drain_s * 1000000000LL);
    printf("%s\n", rc == 0 ? "drained" : "drain timed out");
    cn_buf_t js;
    cn_buf_init(&js);
    mq_sink_sys_json(sys, &js);
    printf("%.*s\n", (int)js.len, (const char *)js.p);
    cn_buf_free(&js);
    fflush(stdout);
    mq_sink_sys_close(sys);
    return rc == 0 ? 0 : 1;
}
