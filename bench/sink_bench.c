/* SPDX-License-Identifier: MIT */
/*
 * sink_bench.c - throughput of the sinks (issue 6), end to end through the
 * durable sink log (appends, group-committed fsync, cursor commits):
 *
 *   sink_bench [--kafka N] [--webhook N] [--devices D] [--dir DIR]
 *
 * Kafka: N records into librdkafka's mock cluster (3 brokers, in this
 * process, 8 partitions), acks=all and idempotence as in production, the
 * sink's default compression (none).
 * Webhook: N POSTs into a small epoll HTTP/1.1 keep-alive receiver on a
 * loopback port served by its own thread (it answers each request with a
 * canned 200 and is far faster than the client side).  Payloads are rule
 * outputs, packed as the rules engine hands them to the server's sinks and
 * rendered by the log reader into JSON telemetry of about 150 bytes, keyed
 * by D devices (default 1000).
 *
 * Prints one line: "kafka_msgs_per_s=X webhook_per_s=Y" (records / wall
 * seconds from the first append until every record is delivered).
 */
#include "eval.h"
#include "rules/rules.h"
#include "sink/sink.h"

#include <arpa/inet.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* --------------------------------------------------------- receiver */

typedef struct recv_conn {
    int fd;
    char buf[65536];
    size_t len;
} recv_conn_t;

typedef struct receiver {
    int lfd, ep;
    uint16_t port;
    _Atomic uint64_t requests, accepts;
    _Atomic bool stop;
    pthread_t thr;
} receiver_t;

/* Consumes complete requests in c->buf; returns how many it answered. */
static int serve(recv_conn_t *c)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    char out[64 * (sizeof resp - 1)];
    size_t olen = 0, off = 0;
    int n = 0;
    for (;;) {
        char *end = memmem(c->buf + off, c->len - off, "\r\n\r\n", 4);
        if (!end)
            break;
        size_t hdr = (size_t)(end - (c->buf + off)) + 4;
        size_t body = 0;
        char *cl = memmem(c->buf + off, hdr, "Content-Length:", 15);
        if (!cl)
            cl = memmem(c->buf + off, hdr, "content-length:", 15);
        if (cl)
            body = (size_t)strtoul(cl + 15, NULL, 10);
        if (c->len - off < hdr + body)
            break;
        off += hdr + body;
        memcpy(out + olen, resp, sizeof resp - 1);
        olen += sizeof resp - 1;
        n++;
        if (olen + sizeof resp > sizeof out) {
            if (write(c->fd, out, olen) < 0)
                return -1;
            olen = 0;
        }
    }
    if (olen && write(c->fd, out, olen) < 0)
        return -1;
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    return n;
}

static void *recv_main(void *arg)
{
    receiver_t *r = arg;
    struct epoll_event evs[64];
    while (!atomic_load(&r->stop)) {
        int n = epoll_wait(r->ep, evs, 64, 100);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                int fd = accept(r->lfd, NULL, NULL);
                if (fd < 0)
                    continue;
                atomic_fetch_add(&r->accepts, 1);
                int one = 1;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                recv_conn_t *c = calloc(1, sizeof *c);
                c->fd = fd;
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev);
                continue;
            }
            recv_conn_t *c = evs[i].data.ptr;
            ssize_t got = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
            int served = got > 0 ? (c->len += (size_t)got, serve(c)) : -1;
            if (served < 0) {
                epoll_ctl(r->ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                free(c);
                continue;
            }
            atomic_fetch_add(&r->requests, (uint64_t)served);
        }
    }
    return NULL;
}

static int recv_start(receiver_t *r)
{
    r->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(r->lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(r->lfd, 512) < 0 ||
        getsockname(r->lfd, (struct sockaddr *)&a, &al) < 0)
        return -errno;
    r->port = ntohs(a.sin_port);
    r->ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(r->ep, EPOLL_CTL_ADD, r->lfd, &ev);
    return pthread_create(&r->thr, NULL, recv_main, r) == 0 ? 0 : -EAGAIN;
}

/* ------------------------------------------------------------ driver */

static double run(const char *dir, const mq_sink_def_t *def, uint64_t n, int devices)
{
    cn_rmtree(dir);
    mq_sink_log_opts_t o = {.dir = dir, .segment_bytes = 256u << 20};
    mq_sink_sys_t *sys;
    if (mq_sink_sys_open(&o, &sys) < 0)
        return -1;
    int id = mq_sink_sys_add(sys, def);
    if (id < 0 || mq_sink_sys_start(sys, NULL, NULL) < 0)
        return -1;
    /* Payloads are a rule's outputs as the rules engine hands them to the
     * server's sinks: packed (rules.h), flagged MQ_SINK_REC_PACKED, and
     * rendered into their JSON by the log reader, so the rate includes
     * formatting the numbers.  Packed before the clock starts, as the
     * ingest path (bench/rules_bench) packs them. */
    enum { POOL = 4096 };
    static const char *const names[] = {"device",   "ts",      "temperature", "humidity",
                                        "pressure", "battery", "status"};
    char(*keys)[16] = cn_malloc(POOL * sizeof *keys);
    cn_buf_t *pays = cn_calloc(POOL, sizeof *pays);
    int *klen = cn_malloc(POOL * sizeof *klen);
    for (uint64_t i = 0; i < POOL; i++) {
        int d = (int)(i % (uint64_t)devices);
        klen[i] = snprintf(keys[i], sizeof keys[i], "dev-%05d", d);
        qry_val_t v[7] = {
            {.t = QRY_V_STR, .u.s = {keys[i], (size_t)klen[i]}},
            {.t = QRY_V_INT, .u.i = (int64_t)(1700000000000ULL + i)},
            {.t = QRY_V_FLOAT, .u.f = 20.0 + (double)(i % 100) / 10},
            {.t = QRY_V_FLOAT, .u.f = 40.0 + (double)(i % 50)},
            {.t = QRY_V_FLOAT, .u.f = 1013.0 + (double)(i % 7)},
            {.t = QRY_V_INT, .u.i = (int64_t)(i % 100)},
            {.t = QRY_V_STR, .u.s = {"ok", 2}},
        };
        cn_buf_init(&pays[i]);
        mq_rules_pack_values(names, v, 7, &pays[i]);
    }
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    int64_t t0 = cn_mono_ns();
    uint64_t seq = 0;
    for (uint64_t i = 0; i < n; i++) {
        /* device i % devices in order, so per-device sequences interleave */
        uint64_t j = i % POOL;
        mq_sink_rec_t r = {.key = (const uint8_t *)keys[j],
                           .key_len = (size_t)klen[j],
                           .payload = pays[j].p,
                           .payload_len = pays[j].len,
                           .flags = MQ_SINK_REC_PACKED};
        int rc;
        while ((rc = mq_sink_append(sys, id, &r, &seq)) == CN_EFULL)
            mq_sink_log_wait(mq_sink_sys_log(sys), seq);
        if (rc < 0)
            return -1;
    }
    mq_sink_log_wait(mq_sink_sys_log(sys), seq);
    int64_t t1 = cn_mono_ns();
    int rc = mq_sink_sys_drain(sys, 600 * 1000000000LL);
    fprintf(stderr, "sink_bench: %s: %llu records durable after %.3f s, delivered after %.3f s\n",
            def->name, (unsigned long long)n, (double)(t1 - t0) / 1e9,
            (double)(cn_mono_ns() - t0) / 1e9);
    double secs = (double)(cn_mono_ns() - t0) / 1e9;
    getrusage(RUSAGE_SELF, &ru1);
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
                 (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                 (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    fprintf(stderr, "sink_bench: %s: %.1f us of CPU per record (process: appends, log, delivery, "
                    "receiver)\n",
            def->name, cpu * 1e6 / (double)n);
    mq_sink_stats_t st;
    mq_sink_sys_stats(sys, id, &st);
    cn_free(keys);
    for (uint64_t i = 0; i < POOL; i++)
        cn_buf_free(&pays[i]);
    cn_free(pays);
    cn_free(klen);
    mq_sink_sys_close(sys);
    cn_rmtree(dir);
    if (rc < 0 || st.delivered != n) {
        fprintf(stderr, "sink_bench: %s delivered %llu of %llu\n", def->name,
                (unsigned long long)st.delivered, (unsigned long long)n);
        return -1;
    }
    return (double)n / secs;
}

int main(int argc, char **argv)
{
    uint64_t nk = 0, nw = 0;
    int devices = 1000;
    const char *dir = "/tmp/cairn-sink-bench";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--kafka"))
            nk = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--webhook"))
            nw = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--devices"))
            devices = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dir"))
            dir = argv[i + 1];
    }
    cn_log_set_level(CN_LOG_WARN);
    double kafka = 0, hook = 0;
    if (nk) {
        char err[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
        rd_kafka_mock_cluster_t *mc = rk ? rd_kafka_mock_cluster_new(rk, 3) : NULL;
        if (!mc)
            return 1;
        rd_kafka_mock_topic_create(mc, "bench", 8, 3);
        mq_sink_def_t d = {.name = "kafka",
                           .type = MQ_SINK_KAFKA,
                           .brokers = rd_kafka_mock_cluster_bootstraps(mc),
                           .topic = "bench"};
        kafka = run(dir, &d, nk, devices);
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        if (kafka < 0)
            return 1;
    }
    if (nw) {
        receiver_t r = {0};
        if (recv_start(&r) < 0)
            return 1;
        char url[64];
        snprintf(url, sizeof url, "http://127.0.0.1:%u/hook", r.port);
        mq_sink_def_t d = {.name = "webhook", .type = MQ_SINK_WEBHOOK, .url = url,
                           .max_inflight = (uint32_t)(getenv("SB_INFLIGHT") ? atoi(getenv("SB_INFLIGHT")) : 64)};
        hook = run(dir, &d, nw, devices);
        atomic_store(&r.stop, true);
        pthread_join(r.thr, NULL);
        if (hook < 0)
            return 1;
        fprintf(stderr, "sink_bench: receiver answered %llu requests on %llu connections\n",
                (unsigned long long)atomic_load(&r.requests),
                (unsigned long long)atomic_load(&r.accepts));
    }
    printf("kafka_msgs_per_s=%.0f webhook_per_s=%.0f\n", kafka, hook);
    return 0;
}
