/* SPDX-License-Identifier: MIT */
/*
 * micro_router.c - single-core match rate of the topic router (ingest/router.h)
 * on the standard workload's topics (WORKLOAD.md: `devices/<device_id>/telemetry`,
 * 1000 devices, published time-major, so each topic recurs every 1000 messages).
 *
 * Two subscription sets, each matched with and without the route cache:
 *  - "10": ten wildcard subscriptions (ten subscribers) that all match every
 *    telemetry topic (`devices/+/telemetry`, `devices/#`, `#`, ...);
 *  - "100k": the same ten plus 100,000 per-device command subscriptions
 *    `devices/dev-NNNNNN/cmd` (one subscriber each) that never match, the
 *    broker's usual shape.  The published devices' command nodes exist, so
 *    the walk meets them and has to reject them.
 * A third run matches the 100k set while a subscriber unsubscribes and
 * resubscribes its command filter every CHURN_EVERY matches, to show that
 * the cache survives subscription churn that does not concern its topics.
 *
 * Rates use the thread's CPU time; each figure is the best of REPS runs.
 * Ends with one RESULT line; route_100k_ratio is the cached rate with 100k
 * subscriptions over the cached rate with 10 (the issue's target: >= 0.9),
 * route_100k_ratio_nocache the same without the cache.
 *
 * usage: micro_router [matches]   (default 4,000,000 per run)
 */
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define DEVICES     1000
#define CMD_SUBS    100000
#define REPS        3
#define CACHE       4096
#define CHURN_EVERY 64

static const char *const WILD[10] = {
    "devices/+/telemetry",
    "devices/#",
    "#",
    "+/+/telemetry",
    "devices/+/+",
    "+/+/+",
    "+/#",
    "devices/+/#",
    "+/+/telemetry/#",
    "devices/+/telemetry/#",
};

typedef struct topics {
    char (*t)[40];
    size_t *len;
} topics_t;

static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void subscribe(mq_router_t *r, uint64_t id, const char *f)
{
    mq_sub_opts_t o = {.qos = 1};
    if (mq_router_subscribe(r, id, f, strlen(f), &o) < 0) {
        fprintf(stderr, "micro_router: subscribe %s failed\n", f);
        exit(1);
    }
}

static void cmd_filter(char *buf, size_t cap, unsigned dev)
{
    snprintf(buf, cap, "devices/dev-%06u/cmd", dev);
}

/* One measured configuration: a router, a reader on it, the best rate. */
typedef struct cfg {
    mq_router_t *r;
    mq_router_reader_t *rd;
    bool churn;
    double best;
} cfg_t;

/* Matches n topics; keeps the best matches per second of CPU time. */
static void run(cfg_t *c, const topics_t *tp, size_t n, mq_router_res_t *res)
{
    char f[64];
    size_t routes = 0;
    int64_t t0 = cpu_ns();
    for (size_t i = 0; i < n; i++) {
        size_t k = i % DEVICES;
        int got = mq_router_match(c->rd, tp->t[k], tp->len[k], MQ_ROUTER_NOBODY, res);
        routes += (size_t)got;
        if (c->churn && i % CHURN_EVERY == 0) {
            unsigned dev = (unsigned)((i / CHURN_EVERY) % CMD_SUBS);
            cmd_filter(f, sizeof f, dev);
            mq_router_unsubscribe(c->r, 1000 + dev, f, strlen(f));
            subscribe(c->r, 1000 + dev, f);
        }
    }
    int64_t dt = cpu_ns() - t0;
    if (routes != n * 10) {
        fprintf(stderr, "micro_router: %zu routes, expected %zu\n", routes, n * 10);
        exit(1);
    }
    double rate = (double)n * 1e9 / (double)(dt > 0 ? dt : 1);
    c->best = rate > c->best ? rate : c->best;
}

static mq_router_t *router_new(unsigned cmd_subs)
{
    mq_router_t *r;
    if (mq_router_new(&r) < 0)
        exit(1);
    for (uint64_t i = 0; i < 10; i++)
        subscribe(r, i + 1, WILD[i]);
    char f[64];
    for (unsigned d = 0; d < cmd_subs; d++) {
        cmd_filter(f, sizeof f, d);
        subscribe(r, 1000 + d, f);
    }
    return r;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 4000000;
    setvbuf(stdout, NULL, _IOLBF, 0);
    topics_t tp = {malloc(DEVICES * sizeof *tp.t), malloc(DEVICES * sizeof *tp.len)};
    for (unsigned d = 0; d < DEVICES; d++) {
        snprintf(tp.t[d], sizeof tp.t[d], "devices/dev-%06u/telemetry", d);
        tp.len[d] = strlen(tp.t[d]);
    }
    mq_router_t *r10 = router_new(0);
    int64_t t0 = cpu_ns();
    mq_router_t *r100k = router_new(CMD_SUBS);
    double sub_rate = (CMD_SUBS + 10) * 1e9 / (double)(cpu_ns() - t0);
    /* 10 cached, 100k cached, 10 uncached, 100k uncached, 100k cached + churn */
    cfg_t c[5] = {{r10, NULL, false, 0},
                  {r100k, NULL, false, 0},
                  {r10, NULL, false, 0},
                  {r100k, NULL, false, 0},
                  {r100k, NULL, true, 0}};
    for (int i = 0; i < 5; i++)
        if (mq_router_reader_new(c[i].r, i == 2 || i == 3 ? 0 : CACHE, &c[i].rd) < 0)
            return 1;
    mq_router_res_t res;
    mq_router_res_init(&res);
    printf("micro_router: %zu matches per run, %u topics, best of %d interleaved runs\n", n,
           DEVICES, REPS);
    for (int rep = 0; rep < REPS; rep++) /* interleaved, so noise hits all alike */
        for (int i = 0; i < 5; i++)
            run(&c[i], &tp, n, &res);
    uint64_t hits = 0, misses = 0;
    mq_router_reader_stats(c[4].rd, &hits, &misses);
    printf("10 subscriptions:    cached %12.0f matches/s   uncached %12.0f matches/s\n", c[0].best,
           c[2].best);
    printf("100k subscriptions:  cached %12.0f matches/s   uncached %12.0f matches/s\n", c[1].best,
           c[3].best);
    printf("100k + churn (1 unsubscribe+subscribe per %d matches): cached %.0f matches/s, "
           "hit rate %.4f\n",
           CHURN_EVERY, c[4].best, (double)hits / (double)(hits + misses));
    printf("subscribe rate (100k exact filters): %.0f /s; %zu subscriptions\n", sub_rate,
           mq_router_count(r100k));
    printf("RESULT name=micro_router match_10_per_s=%.0f match_100k_per_s=%.0f "
           "route_100k_ratio=%.3f match_10_nocache_per_s=%.0f match_100k_nocache_per_s=%.0f "
           "route_100k_ratio_nocache=%.3f match_100k_churn_per_s=%.0f\n",
           c[0].best, c[1].best, c[1].best / c[0].best, c[2].best, c[3].best, c[3].best / c[2].best,
           c[4].best);
    mq_router_res_free(&res);
    for (int i = 0; i < 5; i++)
        mq_router_reader_free(c[i].rd);
    mq_router_free(r10);
    mq_router_free(r100k);
    free(tp.t);
    free(tp.len);
    return 0;
}
