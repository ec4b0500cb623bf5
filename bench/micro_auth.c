/* SPDX-License-Identifier: MIT */
/*
 * micro_auth.c - what MQTT authentication and authorisation cost
 * (ingest/auth): the ACL check on the PUBLISH/SUBSCRIBE path with an ACL
 * of 1000 user sections and %u/%c patterns, one password verification at
 * the default cost (PBKDF2-HMAC-SHA512, 210000 iterations, on an auth
 * worker), and a reconnect answered from the verification cache.
 *
 *   build/release/bench/micro_auth [ITERATIONS]
 *
 * Ends with
 *   RESULT name=auth acl_publish_ns=… acl_subscribe_ns=… kdf_ms=…
 *          cache_hit_ns=… cache_speedup=…
 * (cache_speedup = kdf time / cache-hit time: what a reconnect storm saves).
 * Times are CPU time of the process (all threads), not wall time.
 */
#include "auth/auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* CPU time of the whole process (every thread), in ns: the machine may be
 * shared, so wall time would measure the neighbours too. */
static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t answered;
    uint8_t last;
} waiter_t;

static void on_done(void *arg, uint64_t token, uint8_t reason)
{
    waiter_t *w = arg;
    (void)token;
    pthread_mutex_lock(&w->mu);
    w->answered++;
    w->last = reason;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void wait_for(waiter_t *w, uint64_t n)
{
    pthread_mutex_lock(&w->mu);
    while (w->answered < n)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

static mq_auth_acl_t *big_acl(void)
{
    cn_buf_t b;
    cn_buf_init(&b);
    char line[256];
    for (int i = 0; i < 10; i++)
        cn_buf_put(&b, line, (size_t)snprintf(line, sizeof line, "topic read public/%d/#\n", i));
    for (int u = 0; u < 1000; u++) {
        cn_buf_put(&b, line, (size_t)snprintf(line, sizeof line, "user user%d\n", u));
        for (int k = 0; k < 5; k++)
            cn_buf_put(
                &b, line,
                (size_t)snprintf(line, sizeof line, "topic readwrite site%d/area%d/#\n", u, k));
        cn_buf_put(&b, line,
                   (size_t)snprintf(line, sizeof line, "topic deny site%d/area0/secret\n", u));
    }
    const char pat[] = "pattern write devices/%u/%c/up\npattern read devices/%u/%c/down/#\n"
                       "pattern deny devices/%u/%c/admin\n";
    cn_buf_put(&b, pat, sizeof pat - 1);
    mq_auth_acl_t *acl = NULL;
    if (mq_auth_acl_parse("bench", (const char *)b.p, b.len, stderr, &acl) < 0)
        exit(1);
    cn_buf_free(&b);
    return acl;
}

static double acl_ns(const mq_auth_acl_t *acl, int access, const char *topic, long n)
{
    volatile int ok = 0;
    size_t tl = strlen(topic);
    int64_t t0 = cpu_ns();
    for (long i = 0; i < n; i++)
        ok += mq_auth_acl_allows(acl, "user500", 7, "dev500", 6, access, topic, tl);
    int64_t dt = cpu_ns() - t0;
    if (ok != n) {
        fprintf(stderr, "micro_auth: '%s' was refused\n", topic);
        exit(1);
    }
    return (double)dt / (double)n;
}

int main(int argc, char **argv)
{
    uint32_t iters = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : MQ_AUTH_DEFAULT_ITERATIONS;
    mq_auth_acl_t *acl = big_acl();
    double pub = acl_ns(acl, MQ_AUTH_WRITE, "devices/user500/dev500/up", 2000000);
    double sub = acl_ns(acl, MQ_AUTH_SUBSCRIBE, "site500/area3/+/temp", 2000000);
    mq_auth_acl_free(acl);
    printf("acl: %zu-line file; publish check %.0f ns, subscribe check %.0f ns\n",
           (size_t)(10 + 1000 * 7 + 3), pub, sub);

    char dir[] = "/tmp/cairn-micro-auth.XXXXXX", path[128], line[512];
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/passwd", dir);
    char h[MQ_AUTH_HASH_TEXT_MAX];
    if (mq_auth_hash_make((const uint8_t *)"secret", 6, iters, h, sizeof h) < 0)
        return 1;
    int n = snprintf(line, sizeof line, "alice:%s\n", h);
    if (cn_file_write_atomic(path, line, (size_t)n) < 0)
        return 1;

    waiter_t w = {.answered = 0};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    mq_auth_opts_t o;
    mq_auth_opts_default(&o);
    o.password_file = path;
    o.done = on_done;
    o.done_arg = &w;
    mq_auth_t *a;
    if (mq_auth_new(&o, stderr, &a) < 0)
        return 1;
    mq_auth_creds_t c = {
        "c1", 2,    (const uint8_t *)"alice", 5, (const uint8_t *)"secret", 6, "127.0.0.1:1",
        4,    false};
    /* The first CONNECT runs the KDF on a worker; the rest hit the cache. */
    int64_t t0 = cpu_ns();
    mq_auth_connect(a, &c, 0);
    wait_for(&w, 1);
    double kdf_ns = (double)(cpu_ns() - t0);
    if (w.last != MQ_AUTH_OK)
        return 1;
    const long hits = 200000;
    t0 = cpu_ns();
    for (long i = 0; i < hits; i++)
        mq_auth_connect(a, &c, (uint64_t)i + 1);
    wait_for(&w, (uint64_t)hits + 1);
    double hit_ns = (double)(cpu_ns() - t0) / (double)hits;
    mq_auth_stats_t st;
    mq_auth_get_stats(a, &st);
    mq_auth_free(a);
    cn_rmtree(dir);
    if (st.kdf_runs != 1 || st.cache_hits != (uint64_t)hits)
        return 1;
    printf("password: one PBKDF2-SHA512 verification (%u iterations) %.1f ms; a reconnect "
           "from the cache %.0f ns\n",
           (unsigned)iters, kdf_ns / 1e6, hit_ns);
    printf("RESULT name=auth acl_publish_ns=%.0f acl_subscribe_ns=%.0f kdf_ms=%.1f "
           "cache_hit_ns=%.0f cache_speedup=%.0f\n",
           pub, sub, kdf_ns / 1e6, hit_ns, kdf_ns / hit_ns);
    return 0;
}
