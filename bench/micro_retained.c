/* SPDX-License-Identifier: MIT */
/*
 * micro_retained.c - memory and speed of the broker's retained-message store
 * (ingest/store/store.h) at the issue's scale: N retained messages (default
 * 1,000,000) of S bytes (default 200) on topics `fleet/<f>/dev<d>/state`
 * (1000 devices per fleet), in a fresh meta.db.
 *
 * Phases, each followed by the process's resident set (VmRSS):
 *  1. insert: every message through mq_store_retain_set from this thread
 *     (on CN_EFULL it waits for the store thread, as a broker would stop
 *     reading), then mq_store_sync;
 *  2. lookups: `fleet/7/+/state` (1000 matches), `fleet/+/dev42/state`
 *     (one per fleet), an exact topic, and `#` (every message, mostly
 *     cache misses read from SQLite), each timed to completion;
 *  3. reopen: close and open again (the index is rebuilt from meta.db,
 *     the cache starts empty), then `fleet/+/dev42/state` cold.
 * Ends with one RESULT line; rss_mb is the highest VmRSS seen after the
 * insert (the issue's target: <= 300 MB for 1 M messages of 200 bytes),
 * steady_rss_mb the same after each phase returned freed pages to the OS
 * (what a long-running broker settles at), peak_rss_mb the process
 * high-water mark (VmHWM, including the insert's queue of 64 MB).
 *
 * Peer: with --peer-port P --peer-pid PID (a mosquitto started by
 * bench/peers/mosquitto.sh), the same N messages are first published to
 * it as retained QoS 0 PUBLISHes over one MQTT 3.1.1 connection (a
 * PINGREQ/PINGRESP after the last one proves it processed them all), and
 * the peer's VmRSS is read from /proc/PID/status: peer_rss_mb.
 *
 * usage: micro_retained [--count N] [--size S] [--cache-mb M] [--dir DIR]
 *                       [--peer-port P --peer-pid PID]
 *        (DIR must not hold a meta.db; default: a fresh directory in /tmp,
 *        removed at the end)
 */
#include "store/store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t n;
    bool done;
} waiter_t;

static void on_match(void *arg, mq_store_msg_t **msgs, size_t n, bool last)
{
    waiter_t *w = arg;
    for (size_t i = 0; i < n; i++)
        mq_store_msg_unref(msgs[i]);
    pthread_mutex_lock(&w->mu);
    w->n += n;
    w->done = last;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Runs a lookup to completion; returns the messages delivered, *ms the time. */
static size_t lookup(mq_store_t *st, const char *filter, double *ms)
{
    waiter_t w = {.n = 0};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int64_t t0 = cn_mono_ns();
    int64_t seq = mq_store_retain_match(st, filter, strlen(filter), on_match, &w);
    if (seq < 0) {
        fprintf(stderr, "match %s: %s\n", filter, cn_strerror((int)seq));
        exit(1);
    }
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    *ms = (double)(cn_mono_ns() - t0) / 1e6;
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    return w.n;
}

/* VmRSS or VmHWM of a process ("self" or a pid), in MB. */
static double pid_mb(const char *pid, const char *key)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%s/status", pid);
    FILE *f = fopen(path, "r");
    char line[256];
    double kb = 0;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, key, kl) == 0)
            kb = atof(line + kl + 1);
    if (f)
        fclose(f);
    return kb / 1024.0;
}

static double proc_mb(const char *key)
{
    return pid_mb("self", key);
}

/* ------------------------------------------------------------- the peer */

static void put_len(cn_buf_t *b, size_t n) /* MQTT variable byte integer */
{
    do {
        uint8_t d = n % 128;
        n /= 128;
        cn_buf_put_u8(b, (uint8_t)(d | (n ? 0x80 : 0)));
    } while (n);
}

static void put_str(cn_buf_t *b, const char *s, size_t n)
{
    cn_buf_put_u8(b, (uint8_t)(n >> 8));
    cn_buf_put_u8(b, (uint8_t)n);
    cn_buf_put(b, s, n);
}

static void send_buf(int fd, cn_buf_t *b)
{
    if (cn_write_all(fd, b->p, b->len) < 0) {
        perror("peer: write");
        exit(1);
    }
    cn_buf_reset(b);
}

/* Reads until `want` (a packet type byte) arrives; exits on EOF. */
static void expect_packet(int fd, uint8_t want)
{
    uint8_t hdr[2];
    for (;;) {
        if (read(fd, hdr, 2) != 2) {
            fprintf(stderr, "peer: connection closed\n");
            exit(1);
        }
        uint8_t skip[256];
        if (hdr[1] && read(fd, skip, hdr[1]) != hdr[1])
            exit(1);
        if (hdr[0] == want)
            return;
    }
}

/* Publishes the messages to the peer as retained; returns the seconds taken. */
static double peer_load(int port, size_t count, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        perror("peer: connect");
        exit(1);
    }
    cn_buf_t b, pkt;
    cn_buf_init(&b);
    cn_buf_init(&pkt);
    put_str(&pkt, "MQTT", 4);
    cn_buf_put_u8(&pkt, 4);    /* 3.1.1 */
    cn_buf_put_u8(&pkt, 0x02); /* clean session */
    cn_buf_put_u8(&pkt, 0);
    cn_buf_put_u8(&pkt, 60);
    put_str(&pkt, "micro_retained", 14);
    cn_buf_put_u8(&b, 0x10);
    put_len(&b, pkt.len);
    cn_buf_put(&b, pkt.p, pkt.len);
    send_buf(fd, &b);
    expect_packet(fd, 0x20);
    uint8_t *payload = cn_malloc(size ? size : 1);
    char topic[64];
    int64_t t0 = cn_mono_ns();
    for (size_t i = 0; i < count; i++) {
        int tl = snprintf(topic, sizeof(topic), "fleet/%zu/dev%zu/state", i / 1000, i % 1000);
        for (size_t k = 0; k < size; k++)
            payload[k] = (uint8_t)('a' + (i + k) % 26);
        cn_buf_put_u8(&b, 0x31); /* PUBLISH, QoS 0, retain */
        put_len(&b, 2 + (size_t)tl + size);
        put_str(&b, topic, (size_t)tl);
        cn_buf_put(&b, payload, size);
        if (b.len >= 65536)
            send_buf(fd, &b);
    }
    cn_buf_put_u8(&b, 0xC0); /* PINGREQ: answered after every PUBLISH before it */
    cn_buf_put_u8(&b, 0);
    send_buf(fd, &b);
    expect_packet(fd, 0xD0);
    double secs = (double)(cn_mono_ns() - t0) / 1e9;
    cn_buf_put_u8(&b, 0xE0); /* DISCONNECT */
    cn_buf_put_u8(&b, 0);
    send_buf(fd, &b);
    close(fd);
    cn_buf_free(&b);
    cn_buf_free(&pkt);
    cn_free(payload);
    return secs;
}

/* Prints the RSS now and after returning freed pages to the OS (jemalloc
 * would otherwise do it within its decay time, ~10 s); tracks the maxima. */
static void phase(const char *name, double *max_rss, double *max_steady)
{
    double rss = proc_mb("VmRSS");
    cn_mem_trim();
    double steady = proc_mb("VmRSS");
    if (rss > *max_rss)
        *max_rss = rss;
    if (steady > *max_steady)
        *max_steady = steady;
    printf("%-28s rss %.1f MB (%.1f MB with freed pages returned)\n", name, rss, steady);
    fflush(stdout);
}

static void run_lookups(mq_store_t *st, size_t count, double *ms_fleet, double *ms_dev,
                        double *ms_all, size_t *n_all)
{
    double ms;
    size_t n = lookup(st, "fleet/7/+/state", ms_fleet);
    printf("lookup fleet/7/+/state       %zu msgs in %.2f ms\n", n, *ms_fleet);
    n = lookup(st, "fleet/+/dev42/state", ms_dev);
    printf("lookup fleet/+/dev42/state   %zu msgs in %.2f ms\n", n, *ms_dev);
    n = lookup(st, "fleet/3/dev5/state", &ms);
    printf("lookup fleet/3/dev5/state    %zu msgs in %.3f ms\n", n, ms);
    if (ms_all) {
        *n_all = lookup(st, "#", ms_all);
        printf("lookup #                     %zu msgs in %.0f ms (%.0f msgs/s)\n", *n_all, *ms_all,
               (double)*n_all / (*ms_all / 1e3));
        if (*n_all != count)
            fprintf(stderr, "warning: # returned %zu of %zu\n", *n_all, count);
    }
}

int main(int argc, char **argv)
{
    size_t count = 1000000, size = 200, cache_mb = 64;
    const char *dir = NULL, *peer_pid = NULL;
    int peer_port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--count") == 0)
            count = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--size") == 0)
            size = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--cache-mb") == 0)
            cache_mb = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--dir") == 0)
            dir = argv[i + 1];
        else if (strcmp(argv[i], "--peer-port") == 0)
            peer_port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--peer-pid") == 0)
            peer_pid = argv[i + 1];
        else {
            fprintf(stderr, "usage: micro_retained [--count N] [--size S] [--cache-mb M] "
                            "[--dir DIR] [--peer-port P --peer-pid PID]\n");
            return 2;
        }
    }
    double peer_rss = 0, peer_s = 0;
    if (peer_port > 0 && peer_pid) {
        double before = pid_mb(peer_pid, "VmRSS");
        peer_s = peer_load(peer_port, count, size);
        peer_rss = pid_mb(peer_pid, "VmRSS");
        printf("peer (pid %s)                 %.0f msgs/s in, rss %.1f MB (%.1f MB before)\n",
               peer_pid, (double)count / peer_s, peer_rss, before);
    }
    char tmp[64] = "/tmp/cn_retained_XXXXXX", path[512];
    if (!dir && !(dir = mkdtemp(tmp))) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof(path), "%s/meta.db", dir);
    mq_store_opts_t o;
    mq_store_opts_default(&o);
    o.path = path;
    o.cache_bytes = cache_mb << 20;
    mq_store_t *st = NULL;
    int rc = mq_store_open(&o, &st);
    if (rc < 0) {
        fprintf(stderr, "open %s: %s\n", path, cn_strerror(rc));
        return 1;
    }
    printf("micro_retained: %zu messages of %zu bytes, cache %zu MB, %s\n", count, size, cache_mb,
           path);
    double max_rss = 0, max_steady = 0;
    phase("open", &max_rss, &max_steady);

    uint8_t *payload = cn_malloc(size ? size : 1);
    char topic[64];
    int64_t t0 = cn_mono_ns(), seq = 0;
    for (size_t i = 0; i < count; i++) {
        int tl = snprintf(topic, sizeof(topic), "fleet/%zu/dev%zu/state", i / 1000, i % 1000);
        for (size_t b = 0; b < size; b++)
            payload[b] = (uint8_t)('a' + (i + b) % 26);
        mq_store_retain_t r = {topic, (size_t)tl, 1, 0, NULL, 0, payload, size};
        while ((seq = mq_store_retain_set(st, &r)) == CN_EFULL)
            mq_store_sync(st, mq_store_durable_seq(st) + 1);
        if (seq < 0) {
            fprintf(stderr, "retain_set: %s\n", cn_strerror((int)seq));
            return 1;
        }
    }
    mq_store_sync(st, (uint64_t)seq);
    double ins_s = (double)(cn_mono_ns() - t0) / 1e9;
    printf("insert                       %.0f msgs/s (%.1f s), %zu retained\n",
           (double)count / ins_s, ins_s, mq_store_retain_count(st));
    max_rss = max_steady = 0; /* the target is about holding the messages */
    phase("after insert", &max_rss, &max_steady);

    double ms_fleet, ms_dev, ms_all = 0;
    size_t n_all = 0;
    run_lookups(st, count, &ms_fleet, &ms_dev, &ms_all, &n_all);
    phase("after lookups", &max_rss, &max_steady);
    mq_store_stats_t s;
    mq_store_stats(st, &s);
    printf("cache                        %.1f MB, %llu msgs, hits %llu misses %llu\n",
           (double)s.cache_bytes / 1048576.0, (unsigned long long)s.cache_msgs,
           (unsigned long long)s.cache_hits, (unsigned long long)s.cache_misses);

    mq_store_close(st);
    st = NULL;
    t0 = cn_mono_ns();
    rc = mq_store_open(&o, &st);
    if (rc < 0) {
        fprintf(stderr, "reopen: %s\n", cn_strerror(rc));
        return 1;
    }
    double open_s = (double)(cn_mono_ns() - t0) / 1e9;
    printf("reopen                       %.2f s, %zu retained\n", open_s,
           mq_store_retain_count(st));
    phase("after reopen", &max_rss, &max_steady);
    double cold_fleet, cold_dev;
    run_lookups(st, count, &cold_fleet, &cold_dev, NULL, NULL);
    phase("after cold lookups", &max_rss, &max_steady);
    mq_store_close(st);
    cn_free(payload);

    printf("RESULT name=micro_retained count=%zu size=%zu cache_mb=%zu rss_mb=%.0f "
           "steady_rss_mb=%.0f peak_rss_mb=%.0f insert_per_s=%.0f match_fleet_ms=%.2f "
           "match_dev_ms=%.2f "
           "match_all_ms=%.0f match_all_msgs=%zu reopen_s=%.2f cold_match_dev_ms=%.2f "
           "peer_rss_mb=%.0f peer_insert_per_s=%.0f\n",
           count, size, cache_mb, max_rss, max_steady, proc_mb("VmHWM"), (double)count / ins_s,
           ms_fleet, ms_dev, ms_all, n_all, open_s, cold_dev, peer_rss,
           peer_s > 0 ? (double)count / peer_s : 0.0);
    if (dir == tmp)
        cn_rmtree(tmp);
    return 0;
}
