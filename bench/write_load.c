/* SPDX-License-Identifier: MIT */
/*
 * write_load.c - `write_load`: an HTTP line-protocol load generator for
 * InfluxDB-1.x-style `/write` endpoints (cairn, InfluxDB, VictoriaMetrics) on
 * the standard workload (shared/WORKLOAD.md), so that the client is not what
 * limits the measured rate.
 *
 *   write_load --port P [--host 127.0.0.1] [--path '/write?db=iot&precision=ms']
 *              [--size small|medium|day] [--devices N] [--hours H]
 *              [--batch 5000] [--writers 2] [--timeout 600]
 *
 * Every record of the size is formatted as line protocol (gen.h, ms
 * timestamps) in the generator's time-major order and cut into batches of
 * --batch lines.  Each batch becomes one complete HTTP/1.1 request
 * (`POST PATH`, Host, Content-Type, Content-Length, keep-alive) built before
 * the clock starts, so sending is one write loop over a ready buffer.
 * Writer w of W owns batches w, w + W, w + 2W, ... and sends them one after
 * the other on one keep-alive connection, waiting for each answer (as the
 * Telegraf and InfluxDB clients do).  The clock starts when every writer is
 * connected and ends at the last answer of the last writer.
 *
 * An answer other than 2xx is an error: its status and the start of its body
 * are printed (the first few), the run goes on, and the exit status is 1.
 * A server that closes the connection (Connection: close, or EOF) is
 * reconnected to and the batch is not resent: it counts as an error.
 *
 * Output: one line
 *   WRITELOAD lines=... values=... batches=... writers=... bytes=...
 *             seconds=... records_per_s=... values_per_s=... errors=...
 * where values = lines x 10 fields.  Exit status 0 when every batch was
 * answered 2xx, 1 otherwise (or when the server cannot be reached), 2 on
 * usage errors.
 *
 * NOTES
 *  1. The sockets are blocking, one thread per writer; an answer is read up
 *     to its header end plus Content-Length (or a chunked body's last chunk;
 *     http_client.h).
 *     SO_RCVTIMEO / SO_SNDTIMEO bound every call by --timeout, so the tool
 *     always exits by itself.
 *  2. Only 127.0.0.x hosts are accepted: this is a benchmark of local servers.
 */
#include "base/base.h"
#include "gen.h"
#include "http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S       INT64_C(1000000000)
#define MAX_WRITERS    64
#define RESP_MAX       (1u << 20) /* an answer's header + body we keep */
#define MAX_ERR_PRINTS 5

typedef struct req {
    char *p; /* whole HTTP request: header + body (owned) */
    size_t len;
    uint32_t lines;
} req_t;

typedef struct opts {
    const char *host, *path, *size;
    uint16_t port;
    uint32_t batch, writers, timeout_s;
    uint32_t devices, hours; /* 0: the size's */
} opts_t;

typedef struct wl wl_t;

typedef struct writer {
    wl_t *wl;
    uint32_t idx;
    int fd;
    pthread_t th;
    uint64_t ok, errors, lines;
    int64_t t_end;
    char *rx; /* RESP_MAX bytes (owned) */
} writer_t;

struct wl {
    opts_t o;
    struct sockaddr_in dst;
    req_t *reqs;
    size_t nreq;
    uint64_t lines, bytes;
    writer_t w[MAX_WRITERS];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint32_t ready;
    bool go, abort;
    int64_t t_start;
    atomic_uint err_prints;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: write_load --port P [--host 127.0.0.1] [--path '/write?db=iot&precision=ms']\n"
            "                  [--size small|medium|day] [--devices N] [--hours H]\n"
            "                  [--batch 5000] [--writers 2] [--timeout 600]\n");
}

/* ------------------------------------------------------------ requests */

/* Appends one request holding body[0..blen) to wl->reqs. */
static void add_req(wl_t *wl, const char *body, size_t blen, uint32_t lines)
{
    char head[1024];
    int hl = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s:%u\r\nUser-Agent: cairn-write_load\r\n"
                      "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n\r\n",
                      wl->o.path, wl->o.host, wl->o.port, blen);
    req_t *r = &wl->reqs[wl->nreq++];
    r->len = (size_t)hl + blen;
    r->p = cn_malloc(r->len);
    memcpy(r->p, head, (size_t)hl);
    memcpy(r->p + hl, body, blen);
    r->lines = lines;
    wl->bytes += r->len;
}

static int build_reqs(wl_t *wl)
{
    bench_gen_cfg_t cfg;
    if (bench_gen_size(wl->o.size, &cfg) < 0)
        return -1;
    if (wl->o.devices)
        cfg.devices = wl->o.devices;
    if (wl->o.hours)
        cfg.points = (uint32_t)((uint64_t)wl->o.hours * 3600 / cfg.interval_s);
    uint64_t recs = bench_gen_records(&cfg);
    size_t cap = (size_t)((recs + wl->o.batch - 1) / wl->o.batch);
    wl->reqs = cn_calloc(cap ? cap : 1, sizeof(req_t));
    bench_gen_t *g = bench_gen_new(&cfg);
    if (!g)
        return -1;
    size_t bcap = (size_t)wl->o.batch * BENCH_GEN_LINE_MAX;
    char *body = cn_malloc(bcap);
    size_t blen = 0;
    uint32_t n = 0;
    bench_gen_rec_t rec;
    while (bench_gen_next(g, &rec) > 0) {
        blen += bench_gen_fmt_lp(&rec, body + blen);
        wl->lines++;
        if (++n == wl->o.batch) {
            add_req(wl, body, blen, n);
            blen = 0;
            n = 0;
        }
    }
    if (n)
        add_req(wl, body, blen, n);
    cn_free(body);
    bench_gen_free(g);
    return 0;
}

/* ------------------------------------------------------------- sockets */

static int conn_open(wl_t *wl)
{
    return bench_http_connect(&wl->dst, wl->o.timeout_s);
}

static void report_error(writer_t *w, size_t k, int rc)
{
    wl_t *wl = w->wl;
    if (atomic_fetch_add(&wl->err_prints, 1) >= MAX_ERR_PRINTS)
        return;
    if (rc < 0) {
        fprintf(stderr, "write_load: writer %u batch %zu: %s\n", w->idx, k, strerror(-rc));
        return;
    }
    const char *body = strstr(w->rx, "\r\n\r\n");
    fprintf(stderr, "write_load: writer %u batch %zu: HTTP %d: %.300s\n", w->idx, k, rc,
            body ? body + 4 : "");
}

static void *writer_main(void *arg)
{
    writer_t *w = arg;
    wl_t *wl = w->wl;
    w->fd = conn_open(wl);
    pthread_mutex_lock(&wl->mu);
    if (w->fd < 0) {
        fprintf(stderr, "write_load: connect to %s:%u: %s\n", wl->o.host, wl->o.port,
                strerror(-w->fd));
        wl->abort = true;
    }
    wl->ready++;
    pthread_cond_broadcast(&wl->cv);
    while (!wl->go && !wl->abort)
        pthread_cond_wait(&wl->cv, &wl->mu);
    bool run = !wl->abort;
    pthread_mutex_unlock(&wl->mu);
    for (size_t k = w->idx; run && k < wl->nreq; k += wl->o.writers) {
        const req_t *r = &wl->reqs[k];
        bool keep = true;
        int rc = bench_http_send(w->fd, r->p, r->len);
        if (rc == 0)
            rc = bench_http_read(w->fd, w->rx, RESP_MAX, &keep);
        if (rc >= 200 && rc < 300) {
            w->ok++;
            w->lines += r->lines;
        } else {
            w->errors++;
            report_error(w, k, rc);
            keep = false;
        }
        if (!keep) {
            close(w->fd);
            w->fd = conn_open(wl);
            if (w->fd < 0) {
                fprintf(stderr, "write_load: reconnect: %s\n", strerror(-w->fd));
                w->errors += (wl->nreq - k - 1 + wl->o.writers - 1) / wl->o.writers;
                break;
            }
        }
    }
    w->t_end = now_ns();
    if (w->fd >= 0)
        close(w->fd);
    return NULL;
}

/* ---------------------------------------------------------------- main */

static int parse_args(int argc, char **argv, opts_t *o)
{
    *o = (opts_t){.host = "127.0.0.1",
                  .path = "/write?db=iot&precision=ms",
                  .size = "medium",
                  .batch = 5000,
                  .writers = 2,
                  .timeout_s = 600};
    static const struct option lo[] = {{"port", required_argument, NULL, 'p'},
                                       {"host", required_argument, NULL, 'H'},
                                       {"path", required_argument, NULL, 'P'},
                                       {"size", required_argument, NULL, 's'},
                                       {"devices", required_argument, NULL, 'd'},
                                       {"hours", required_argument, NULL, 'h'},
                                       {"batch", required_argument, NULL, 'b'},
                                       {"writers", required_argument, NULL, 'w'},
                                       {"timeout", required_argument, NULL, 't'},
                                       {"help", no_argument, NULL, '?'},
                                       {NULL, 0, NULL, 0}};
    int c, li = 0;
    uint32_t port = 0;
    while ((c = getopt_long(argc, argv, "", lo, &li)) != -1) {
        int bad = 0;
        switch (c) {
        case 'p':
            bad = bench_parse_u32(optarg, 1, 65535, &port);
            break;
        case 'H':
            o->host = optarg;
            break;
        case 'P':
            o->path = optarg;
            break;
        case 's':
            o->size = optarg;
            break;
        case 'd':
            bad = bench_parse_u32(optarg, 1, 10000000, &o->devices);
            break;
        case 'h':
            bad = bench_parse_u32(optarg, 1, 100000, &o->hours);
            break;
        case 'b':
            bad = bench_parse_u32(optarg, 1, 1000000, &o->batch);
            break;
        case 'w':
            bad = bench_parse_u32(optarg, 1, MAX_WRITERS, &o->writers);
            break;
        case 't':
            bad = bench_parse_u32(optarg, 1, 86400, &o->timeout_s);
            break;
        default:
            return -1;
        }
        if (bad) {
            fprintf(stderr, "write_load: bad value '%s' for --%s\n", optarg, lo[li].name);
            return -1;
        }
    }
    if (optind != argc || !port || o->path[0] != '/')
        return -1;
    o->port = (uint16_t)port;
    bench_gen_cfg_t cfg;
    if (bench_gen_size(o->size, &cfg) < 0) {
        fprintf(stderr, "write_load: unknown size '%s'\n", o->size);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static wl_t wl; /* large; one per process */
    if (parse_args(argc, argv, &wl.o) < 0) {
        usage(stderr);
        return 2;
    }
    if (bench_http_loopback(wl.o.host, wl.o.port, &wl.dst) < 0) {
        fprintf(stderr, "write_load: --host must be a 127.x.x.x address\n");
        return 2;
    }
    int64_t g0 = now_ns();
    if (build_reqs(&wl) < 0) {
        fprintf(stderr, "write_load: cannot build the workload\n");
        return 2;
    }
    fprintf(stderr, "write_load: %" PRIu64 " lines in %zu batches (%.1f MB) built in %.2f s\n",
            wl.lines, wl.nreq, (double)wl.bytes / 1e6, (double)(now_ns() - g0) / 1e9);

    pthread_mutex_init(&wl.mu, NULL);
    pthread_cond_init(&wl.cv, NULL);
    uint32_t started = 0;
    for (uint32_t i = 0; i < wl.o.writers; i++) {
        writer_t *w = &wl.w[i];
        w->wl = &wl;
        w->idx = i;
        w->rx = cn_malloc(RESP_MAX);
        if (pthread_create(&w->th, NULL, writer_main, w) != 0) {
            fprintf(stderr, "write_load: cannot start writer %u\n", i);
            pthread_mutex_lock(&wl.mu);
            wl.abort = true;
            pthread_cond_broadcast(&wl.cv);
            pthread_mutex_unlock(&wl.mu);
            break;
        }
        started++;
    }
    pthread_mutex_lock(&wl.mu);
    while (wl.ready < started && !wl.abort)
        pthread_cond_wait(&wl.cv, &wl.mu);
    wl.t_start = now_ns();
    wl.go = true;
    pthread_cond_broadcast(&wl.cv);
    pthread_mutex_unlock(&wl.mu);

    uint64_t ok_lines = 0, errors = 0;
    int64_t t_end = wl.t_start;
    for (uint32_t i = 0; i < started; i++) {
        writer_t *w = &wl.w[i];
        pthread_join(w->th, NULL);
        ok_lines += w->lines;
        errors += w->errors;
        if (w->t_end > t_end)
            t_end = w->t_end;
        cn_free(w->rx);
    }
    bool aborted = wl.abort || started < wl.o.writers;
    double secs = (double)(t_end - wl.t_start) / 1e9;
    if (aborted) {
        errors += wl.nreq;
        secs = 0;
    }
    uint64_t values = ok_lines * BENCH_GEN_NFIELDS;
    printf("WRITELOAD lines=%" PRIu64 " values=%" PRIu64 " batches=%zu writers=%u bytes=%" PRIu64
           " seconds=%.3f records_per_s=%.0f values_per_s=%.0f errors=%" PRIu64 "\n",
           ok_lines, values, wl.nreq, wl.o.writers, wl.bytes, secs,
           secs > 0 ? (double)ok_lines / secs : 0.0, secs > 0 ? (double)values / secs : 0.0,
           errors);
    for (size_t k = 0; k < wl.nreq; k++)
        cn_free(wl.reqs[k].p);
    cn_free(wl.reqs);
    return errors || ok_lines != wl.lines ? 1 : 0;
}
