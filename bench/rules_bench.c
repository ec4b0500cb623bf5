/* SPDX-License-Identifier: MIT */
/*
 * rules_bench.c - `rules_bench`: the cost of rules on the ingest path, in
 * process, on the standard workload (shared/WORKLOAD.md).
 *
 *   rules_bench --size small|medium|day [--dir DIR] [--keep] [--rules N]
 *
 * For 0, 10 and 100 rules, every record of the workload goes through what
 * the server does with an MQTT PUBLISH on topic devices/<id>/telemetry
 * except the network: the JSON payload is decoded (mq_dec_json, tag
 * device_id from the topic), the point is written to a fresh engine
 * (eng_write per message, durability os), and the rule set is evaluated
 * (mq_rules_eval), whose actions go to a callback that only counts bytes
 * (the sinks are measured apart).  Payloads are generated in chunks ahead
 * of the timed loop, so generation is not timed.
 *
 * Rule i (i = 0..N-1) reads one field, f = i mod 10, and renders a small
 * output for a Kafka action (key ${device_id}):
 *   i mod 3 == 0:  SELECT device_id, <f> FROM "devices/+/telemetry" WHERE <f> > -1000000
 *   otherwise:     ... WHERE <f> < -1000000
 * so a third of the rules match every message, as the issue asks.
 *
 * Rates are messages per CPU second of the ingest thread (decode, the
 * eng_write call and the rules; the WAL thread works beside it, as it does
 * in the server): on a machine shared with other work, wall time measures
 * the neighbours.  Wall-clock rates are printed too.
 *
 * Prints a line per run and then
 *   BENCH name=rules size=S msgs=M base_msgs_per_s=B rules10_msgs_per_s=..
 *         rules100_msgs_per_s=.. rules10_ratio=.. rules100_ratio=..
 * (ratio = throughput with rules / without).  Exit status 1 if a run saw
 * a count it did not expect (every message must produce exactly
 * ceil(N/3) actions).  --rules N runs N rules alone (for profiling; no
 * BENCH line).
 */
#include "decode/decode.h"
#include "engine.h"
#include "gen.h"
#include "rules/rules.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536

typedef struct sinkc {
    uint64_t calls, bytes;
} sinkc_t;

static int on_action(void *arg, const mq_rules_out_t *o)
{
    sinkc_t *s = arg;
    s->calls++;
    s->bytes += o->body_len + o->key_len;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of the calling thread: the rates use it, because on a shared
 * machine wall time mostly measures the other tenants. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void add_rules(mq_rules_t *rs, int n)
{
    mq_rule_action_t act = {.kind = MQ_ACT_KAFKA, .topic = "rules-bench"};
    for (int i = 0; i < n; i++) {
        const char *f = bench_gen_field(i % BENCH_GEN_NFIELDS)->name;
        char sql[256], id[32];
        snprintf(sql, sizeof sql,
                 "SELECT device_id, %s FROM \"devices/+/telemetry\" WHERE %s %s -1000000", f, f,
                 i % 3 == 0 ? ">" : "<");
        snprintf(id, sizeof id, "r%03d", i);
        mq_rule_def_t d = {.id = id, .sql = sql, .enabled = true, .actions = &act, .nactions = 1};
        mq_rules_err_t err;
        if (mq_rules_put(rs, &d, &err) < 0) {
            fprintf(stderr, "rules_bench: rule %s: %s\n", id, err.msg);
            exit(1);
        }
    }
}

/* One message of a chunk: topic and payload in one buffer. */
typedef struct msg {
    uint32_t off, tlen, plen;
    char dev[16];
} msg_t;

typedef struct chunk {
    char *buf;
    size_t cap;
    msg_t *m;
    size_t n;
} chunk_t;

static void fill(bench_gen_t *g, chunk_t *c)
{
    bench_gen_rec_t rec;
    size_t used = 0;
    c->n = 0;
    char line[1024];
    while (c->n < CHUNK && bench_gen_next(g, &rec) > 0) {
        size_t k = bench_gen_fmt_json(&rec, line); /* topic \t payload \n */
        char *tab = memchr(line, '\t', k);
        if (used + k > c->cap) {
            c->cap = (used + k) * 2;
            c->buf = realloc(c->buf, c->cap);
        }
        memcpy(c->buf + used, line, k);
        msg_t *m = &c->m[c->n++];
        m->off = (uint32_t)used;
        m->tlen = (uint32_t)(tab - line);
        m->plen = (uint32_t)(k - m->tlen - 2);
        bench_gen_device_id(rec.dev, m->dev);
        used += k;
    }
}

typedef struct run {
    double secs; /* wall */
    double cpu;  /* CPU time of the ingest thread */
    uint64_t msgs, actions, efull;
} run_t;

static int write_point(eng_db_t *db, const eng_point_t *p, size_t n, run_t *r)
{
    eng_write_res_t res;
    uint64_t seq;
    int rc;
    while ((rc = eng_write(db, p, n, &res, &seq)) == CN_EFULL) {
        r->efull++;
        eng_wait_writable(db);
    }
    return rc;
}

static int one_run(const bench_gen_cfg_t *cfg, const char *dir, int nrules, run_t *r)
{
    eng_opts_t eo;
    eng_opts_default(&eo);
    eo.dir = dir;
    eo.durability = ENG_DUR_OS;
    eng_db_t *db;
    int rc = eng_open(&eo, &db);
    if (rc < 0) {
        fprintf(stderr, "rules_bench: eng_open %s: %s\n", dir, cn_strerror(rc));
        return rc;
    }
    sinkc_t sink = {0};
    mq_rules_t *rs;
    mq_rules_new(on_action, &sink, &rs);
    add_rules(rs, nrules);
    mq_rules_worker_t *w;
    mq_rules_worker_new(rs, &w);
    mq_dec_batch_t *batch;
    mq_dec_batch_new(&batch);
    mq_dec_opts_t o;
    mq_dec_opts_default(&o);
    o.measurement = "telemetry";
    eng_tag_t tag = {"device_id", NULL};
    o.tags = &tag;
    o.ntags = 1;
    bench_gen_t *g = bench_gen_new(cfg);
    chunk_t c = {.m = calloc(CHUNK, sizeof(msg_t))};
    memset(r, 0, sizeof *r);
    for (;;) {
        fill(g, &c);
        if (c.n == 0)
            break;
        double t0 = now_s(), c0 = cpu_s();
        for (size_t i = 0; i < c.n && rc >= 0; i++) {
            const msg_t *m = &c.m[i];
            const char *topic = c.buf + m->off, *payload = topic + m->tlen + 1;
            tag.val = m->dev;
            o.now_ns = 0;
            mq_dec_batch_reset(batch);
            if (mq_dec_json(batch, &o, payload, m->plen) != 1) {
                fprintf(stderr, "rules_bench: payload did not decode to one point\n");
                rc = CN_EINVAL;
                break;
            }
            size_t np;
            const eng_point_t *pts = mq_dec_batch_points(batch, &np);
            rc = write_point(db, pts, np, r);
            mq_rules_msg_t rm = {.topic = topic,
                                 .topic_len = m->tlen,
                                 .clientid = m->dev,
                                 .qos = 1,
                                 .points = pts,
                                 .npoints = np,
                                 .payload = payload,
                                 .payload_len = m->plen};
            int calls = mq_rules_eval(w, &rm);
            if (rc >= 0 && calls != (nrules + 2) / 3) {
                fprintf(stderr, "rules_bench: %d actions for a message, want %d\n", calls,
                        (nrules + 2) / 3);
                rc = CN_EINVAL;
            }
            r->msgs++;
        }
        r->secs += now_s() - t0;
        r->cpu += cpu_s() - c0;
        if (rc < 0)
            break;
    }
    double t0 = now_s();
    if (rc >= 0)
        rc = eng_wait_durable(db, eng_durable_seq(db)); /* the WAL has written it all */
    r->secs += now_s() - t0;
    r->actions = sink.calls;
    bench_gen_free(g);
    free(c.buf);
    free(c.m);
    mq_dec_batch_free(batch);
    mq_rules_worker_free(w);
    mq_rules_free(rs);
    eng_close(db);
    return rc < 0 ? rc : 0;
}

int main(int argc, char **argv)
{
    const char *size = "medium", *dir = NULL;
    bool keep = false;
    int only = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
            size = argv[++i];
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--keep") == 0)
            keep = true;
        else if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc)
            only = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: rules_bench --size small|medium|day [--dir DIR] [--keep] "
                            "[--rules N]\n");
            return 2;
        }
    }
    bench_gen_cfg_t cfg;
    if (bench_gen_size(size, &cfg) < 0) {
        fprintf(stderr, "rules_bench: unknown size %s\n", size);
        return 2;
    }
    char base[4096];
    if (dir) {
        snprintf(base, sizeof base, "%s", dir);
    } else {
        snprintf(base, sizeof base, "/tmp/rules_bench.XXXXXX");
        if (!mkdtemp(base)) {
            perror("mkdtemp");
            return 1;
        }
    }
    int counts[] = {0, 10, 100};
    double rate[3];
    uint64_t msgs = 0;
    int nruns = 3;
    if (only >= 0) {
        counts[0] = only;
        nruns = 1;
    }
    for (int k = 0; k < nruns; k++) {
        char d[4200];
        snprintf(d, sizeof d, "%s/run-%d", base, counts[k]);
        run_t r;
        if (one_run(&cfg, d, counts[k], &r) < 0)
            return 1;
        if (!keep)
            cn_rmtree(d);
        rate[k] = (double)r.msgs / r.cpu;
        msgs = r.msgs;
        printf("rules=%-3d msgs=%" PRIu64 " actions=%" PRIu64 " wall_s=%.3f cpu_s=%.3f "
               "msgs_per_s=%.0f (per CPU second) wall_msgs_per_s=%.0f cpu_ns_per_msg=%.0f "
               "efull_waits=%" PRIu64 "\n",
               counts[k], r.msgs, r.actions, r.secs, r.cpu, rate[k], (double)r.msgs / r.secs,
               r.cpu * 1e9 / (double)r.msgs, r.efull);
        fflush(stdout);
    }
    if (!dir && !keep)
        rmdir(base);
    if (only >= 0)
        return 0;
    printf("BENCH name=rules size=%s msgs=%" PRIu64 " base_msgs_per_s=%.0f rules10_msgs_per_s=%.0f "
           "rules100_msgs_per_s=%.0f rules10_ratio=%.3f rules100_ratio=%.3f\n",
           size, msgs, rate[0], rate[1], rate[2], rate[1] / rate[0], rate[2] / rate[0]);
    return 0;
}
