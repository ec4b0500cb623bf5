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
 * (the sinks are measured apart).  The set runs in packed mode, as the
 * server's does: a Kafka action receives the selected fields packed as
 * typed values, which the server appends to the sink log; their JSON is
 * rendered where the sink reads the log (bench/sink_bench measures that
 * side).  Payloads are generated in chunks ahead
 * of the timed loop, so generation is not timed.  The three configurations
 * (each with its own engine and rule set) take every chunk in turn, so a
 * change in the load of the machine (other tenants) weighs on all three
 * alike instead of on whichever ran at the time.
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

/* One configuration (a rule count) with its own engine, rule set and
 * counters. */
typedef struct conf {
    int nrules;
    eng_db_t *db;
    sinkc_t sink;
    mq_rules_t *rs;
    mq_rules_worker_t *w;
    mq_dec_batch_t *batch;
    run_t r;
} conf_t;

static int conf_open(conf_t *c, const char *dir, int nrules)
{
    memset(c, 0, sizeof *c);
    c->nrules = nrules;
    eng_opts_t eo;
    eng_opts_default(&eo);
    eo.dir = dir;
    eo.durability = ENG_DUR_OS;
    int rc = eng_open(&eo, &c->db);
    if (rc < 0) {
        fprintf(stderr, "rules_bench: eng_open %s: %s\n", dir, cn_strerror(rc));
        return rc;
    }
    mq_rules_new(on_action, &c->sink, &c->rs);
    mq_rules_set_packed(c->rs, true); /* as the server runs it (rules_dispatch.c) */
    add_rules(c->rs, nrules);
    mq_rules_worker_new(c->rs, &c->w);
    mq_dec_batch_new(&c->batch);
    return 0;
}

/* Runs a chunk through c: decode, write, rules; timed. */
static int conf_chunk(conf_t *c, const chunk_t *ch)
{
    mq_dec_opts_t o;
    mq_dec_opts_default(&o);
    o.measurement = "telemetry";
    eng_tag_t tag = {"device_id", NULL};
    o.tags = &tag;
    o.ntags = 1;
    int rc = 0, want = (c->nrules + 2) / 3;
    run_t *r = &c->r;
    double t0 = now_s(), c0 = cpu_s();
    for (size_t i = 0; i < ch->n && rc >= 0; i++) {
        const msg_t *m = &ch->m[i];
        const char *topic = ch->buf + m->off, *payload = topic + m->tlen + 1;
        tag.val = m->dev;
        o.now_ns = 0;
        mq_dec_batch_reset(c->batch);
        if (mq_dec_json(c->batch, &o, payload, m->plen) != 1) {
            fprintf(stderr, "rules_bench: payload did not decode to one point\n");
            rc = CN_EINVAL;
            break;
        }
        size_t np;
        const eng_point_t *pts = mq_dec_batch_points(c->batch, &np);
        rc = write_point(c->db, pts, np, r);
        mq_rules_msg_t rm = {.topic = topic,
                             .topic_len = m->tlen,
                             .clientid = m->dev,
                             .qos = 1,
                             .points = pts,
                             .npoints = np,
                             .payload = payload,
                             .payload_len = m->plen};
        rm.name_lens = mq_dec_batch_name_lens(c->batch, &rm.fields_base); /* as server/ingest.c */
        int calls = mq_rules_eval(c->w, &rm);
        if (rc >= 0 && calls != want) {
            fprintf(stderr, "rules_bench: %d actions for a message, want %d\n", calls, want);
            rc = CN_EINVAL;
        }
        r->msgs++;
    }
    r->secs += now_s() - t0;
    r->cpu += cpu_s() - c0;
    return rc;
}

static int conf_close(conf_t *c)
{
    double t0 = now_s();
    int rc = eng_wait_durable(c->db, eng_durable_seq(c->db)); /* the WAL has written it all */
    c->r.secs += now_s() - t0;
    c->r.actions = c->sink.calls;
    mq_dec_batch_free(c->batch);
    mq_rules_worker_free(c->w);
    mq_rules_free(c->rs);
    eng_close(c->db);
    return rc;
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
    conf_t conf[3];
    char dirs[3][4200];
    for (int k = 0; k < nruns; k++) {
        snprintf(dirs[k], sizeof dirs[k], "%s/run-%d", base, counts[k]);
        if (conf_open(&conf[k], dirs[k], counts[k]) < 0)
            return 1;
    }
    /* Interleaved: each chunk goes through every configuration in turn, so
     * a change in the machine's load (other tenants) weighs on all alike. */
    bench_gen_t *g = bench_gen_new(&cfg);
    chunk_t ch = {.m = calloc(CHUNK, sizeof(msg_t))};
    for (;;) {
        fill(g, &ch);
        if (ch.n == 0)
            break;
        for (int k = 0; k < nruns; k++)
            if (conf_chunk(&conf[k], &ch) < 0)
                return 1;
    }
    bench_gen_free(g);
    free(ch.buf);
    free(ch.m);
    for (int k = 0; k < nruns; k++) {
        if (conf_close(&conf[k]) < 0)
            return 1;
        if (!keep)
            cn_rmtree(dirs[k]);
        const run_t r = conf[k].r;
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
