/* SPDX-License-Identifier: MIT */
/*
 * query_lat.c - `query_lat`: the latency of one HTTP GET on a new
 * connection, asked RUNS times by one process (bench/run query's "direct"
 * figures, beside curl's).
 *
 *   query_lat --port P --path PATH [--host 127.0.0.1] [--runs 5]
 *             [--pause-ms 5] [--timeout 30]
 *
 * Each run waits --pause-ms, then times, on CLOCK_MONOTONIC, a new TCP
 * connection (TCP_NODELAY), the request
 *
 *   GET PATH HTTP/1.1 / Host / User-Agent: query_lat / Accept: * / *
 *
 * (the headers curl sends) and the whole answer (http_client.h), and
 * closes the connection after the clock stops.  PATH goes out as given:
 * the caller URL-encodes it.
 *
 * Output: one line
 *   QUERYLAT runs=N code=C ms=t1,t2,... median=M
 * (ms with three decimals, in run order; median the middle one, the mean of
 * the two middle ones for an even N).  Exit status 0 when every answer was
 * 2xx, 1 otherwise (the first failure's status and the start of its body go
 * to stderr) or when the server cannot be reached, 2 on usage errors.
 *
 * NOTES
 *  1. Why beside curl: bench/run query times each request as a new curl
 *     process, whose start (loading libcurl and its TLS libraries) costs
 *     about 0.1 ms of every figure and leaves the CPU's caches to the
 *     server cold; this process starts once, so its figure is the server's
 *     answer on a new connection plus a small, fixed client cost.
 *  2. Only 127.x.x.x hosts are accepted; SO_RCVTIMEO / SO_SNDTIMEO bound
 *     every call by --timeout, so the tool always exits by itself.
 */
#include "http_client.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RX_MAX   (16u << 20) /* the largest answer read */
#define RUNS_MAX 1000

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: query_lat --port P --path PATH [--host 127.0.0.1] [--runs 5]\n"
               "                 [--pause-ms 5] [--timeout 30]\n");
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *path = NULL;
    uint32_t port = 0, runs = 5, pause_ms = 5, timeout_s = 30;
    static const struct option lo[] = {{"port", required_argument, NULL, 'p'},
                                       {"path", required_argument, NULL, 'a'},
                                       {"host", required_argument, NULL, 'h'},
                                       {"runs", required_argument, NULL, 'r'},
                                       {"pause-ms", required_argument, NULL, 'w'},
                                       {"timeout", required_argument, NULL, 't'},
                                       {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'p':
            bad = bench_parse_u32(optarg, 1, 65535, &port);
            break;
        case 'a':
            path = optarg;
            break;
        case 'h':
            host = optarg;
            break;
        case 'r':
            bad = bench_parse_u32(optarg, 1, RUNS_MAX, &runs);
            break;
        case 'w':
            bad = bench_parse_u32(optarg, 0, 60000, &pause_ms);
            break;
        case 't':
            bad = bench_parse_u32(optarg, 1, 3600, &timeout_s);
            break;
        default:
            bad = -1;
            break;
        }
        if (bad) {
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || !port || !path || path[0] != '/' || strpbrk(path, " \r\n")) {
        usage(stderr);
        return 2;
    }
    struct sockaddr_in dst;
    if (bench_http_loopback(host, port, &dst) < 0) {
        fprintf(stderr, "query_lat: --host must be a 127.x.x.x address\n");
        return 2;
    }
    size_t qcap = strlen(path) + strlen(host) + 128;
    char *req = malloc(qcap), *rx = malloc(RX_MAX);
    int64_t *t = malloc(runs * sizeof *t), *sorted = malloc(runs * sizeof *sorted);
    if (!req || !rx || !t || !sorted) {
        fprintf(stderr, "query_lat: out of memory\n");
        return 1;
    }
    int qlen = snprintf(req, qcap,
                        "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUser-Agent: query_lat\r\n"
                        "Accept: */*\r\n\r\n",
                        path, host, port);
    int code = 0, status = 0;
    for (uint32_t i = 0; i < runs; i++) {
        struct timespec ps = {.tv_sec = (time_t)(pause_ms / 1000),
                              .tv_nsec = (long)(pause_ms % 1000) * 1000000};
        while (nanosleep(&ps, &ps) < 0 && errno == EINTR)
            ;
        int64_t t0 = now_ns();
        int fd = bench_http_connect(&dst, timeout_s), rc = fd;
        bool keep;
        if (fd >= 0) {
            rc = bench_http_send(fd, req, (size_t)qlen);
            if (rc == 0)
                rc = bench_http_read(fd, rx, RX_MAX, &keep);
        }
        t[i] = now_ns() - t0;
        if (fd >= 0)
            close(fd);
        if (rc < 0) {
            fprintf(stderr, "query_lat: %s:%u%s: %s\n", host, port, path, strerror(-rc));
            status = 1;
            break;
        }
        code = rc;
        if (rc < 200 || rc >= 300) {
            const char *body = strstr(rx, "\r\n\r\n");
            fprintf(stderr, "query_lat: HTTP %d: %.300s\n", rc, body ? body + 4 : "");
            status = 1;
            break;
        }
    }
    if (status == 0) {
        memcpy(sorted, t, runs * sizeof *t);
        qsort(sorted, runs, sizeof *sorted, cmp_i64);
        int64_t med = runs % 2 ? sorted[runs / 2] : (sorted[runs / 2 - 1] + sorted[runs / 2]) / 2;
        printf("QUERYLAT runs=%u code=%d ms=", runs, code);
        for (uint32_t i = 0; i < runs; i++)
            printf("%s%.3f", i ? "," : "", (double)t[i] / 1e6);
        printf(" median=%.3f\n", (double)med / 1e6);
    }
    free(req);
    free(rx);
    free(t);
    free(sorted);
    return status;
}
