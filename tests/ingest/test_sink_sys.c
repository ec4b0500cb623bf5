/* SPDX-License-Identifier: MIT */
/*
 * test_sink_sys.c - the sink system (ingest/sink/sys.c, deliver.c,
 * webhook.c) against an HTTP receiver thread inside the test: delivery in
 * per-key order with exact bodies, per-record headers, sinks added after
 * start and removed, the stream hook, the Prometheus text and the JSON
 * status, a refused record dead-lettered after max_attempts, and several
 * HTTP threads keeping per-key order.
 *
 * Nothing sleeps: mq_sink_sys_drain() blocks until the cursors pass every
 * appended record (bounded by a generous timeout that only a bug reaches).
 */
#include "sink/sink.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#define DRAIN_NS (60 * 1000000000LL)

/* ------------------------------------------------------ receiver thread */

typedef struct rx {
    int lfd, stop_pipe[2];
    uint16_t port;
    pthread_t thr;
    pthread_mutex_t mu;
    char *log; /* "HEADER-LINE|BODY\n" per request: the X- headers, then the body */
    size_t len;
    char *snap; /* rx_log's copy, read by the test thread */
    unsigned requests;
} rx_t;

typedef struct rconn {
    int fd;
    char buf[1 << 16];
    size_t len;
} rconn_t;

static void rx_record(rx_t *rx, const char *req, size_t hdr, const char *body, size_t blen)
{
    pthread_mutex_lock(&rx->mu);
    size_t need = rx->len + hdr + blen + 8;
    rx->log = realloc(rx->log, need + 1);
    if (strncmp(req, "PUT ", 4) == 0) { /* other methods than POST are noted */
        memcpy(rx->log + rx->len, "PUT ", 4);
        rx->len += 4;
    }
    /* the X-* header lines, joined by ';' */
    for (const char *p = req; p < req + hdr;) {
        const char *nl = memmem(p, (size_t)(req + hdr - p), "\r\n", 2);
        if (!nl)
            break;
        if (nl - p > 2 && p[0] == 'X' && p[1] == '-') {
            memcpy(rx->log + rx->len, p, (size_t)(nl - p));
            rx->len += (size_t)(nl - p);
            rx->log[rx->len++] = ';';
        }
        p = nl + 2;
    }
    rx->log[rx->len++] = '|';
    memcpy(rx->log + rx->len, body, blen);
    rx->len += blen;
    rx->log[rx->len++] = '\n';
    rx->log[rx->len] = 0;
    rx->requests++;
    pthread_mutex_unlock(&rx->mu);
}

/* Answers complete requests: 400 when the body contains "poison". */
static int rx_serve(rx_t *rx, rconn_t *c)
{
    size_t off = 0;
    for (;;) {
        char *end = memmem(c->buf + off, c->len - off, "\r\n\r\n", 4);
        if (!end)
            break;
        size_t hdr = (size_t)(end - (c->buf + off)) + 4;
        char *cl = memmem(c->buf + off, hdr, "Content-Length: ", 16);
        size_t blen = cl ? strtoul(cl + 16, NULL, 10) : 0;
        if (c->len - off < hdr + blen)
            break;
        const char *body = c->buf + off + hdr;
        bool bad = memmem(body, blen, "poison", 6) != NULL;
        if (!bad)
            rx_record(rx, c->buf + off, hdr, body, blen);
        const char *resp = bad ? "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
                               : "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        if (write(c->fd, resp, strlen(resp)) < 0)
            return -1;
        off += hdr + blen;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    return 0;
}

static void *rx_main(void *arg)
{
    rx_t *rx = arg;
    enum { MAXC = 128 };
    struct pollfd pf[MAXC + 2];
    rconn_t *conns[MAXC] = {0};
    for (;;) {
        int n = 0;
        pf[n++] = (struct pollfd){.fd = rx->stop_pipe[0], .events = POLLIN};
        pf[n++] = (struct pollfd){.fd = rx->lfd, .events = POLLIN};
        for (int i = 0; i < MAXC; i++)
            if (conns[i])
                pf[n++] = (struct pollfd){.fd = conns[i]->fd, .events = POLLIN};
        if (poll(pf, (nfds_t)n, -1) < 0)
            continue;
        if (pf[0].revents)
            break;
        if (pf[1].revents) {
            int fd = accept(rx->lfd, NULL, NULL);
            for (int i = 0; i < MAXC && fd >= 0; i++) {
                if (!conns[i]) {
                    conns[i] = calloc(1, sizeof *conns[i]);
                    conns[i]->fd = fd;
                    fd = -1;
                }
            }
            if (fd >= 0)
                close(fd);
        }
        for (int j = 2; j < n; j++) {
            if (!pf[j].revents)
                continue;
            for (int i = 0; i < MAXC; i++) {
                rconn_t *c = conns[i];
                if (!c || c->fd != pf[j].fd)
                    continue;
                ssize_t got = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
                if (got <= 0 || (c->len += (size_t)got, rx_serve(rx, c)) < 0) {
                    close(c->fd);
                    free(c);
                    conns[i] = NULL;
                }
            }
        }
    }
    for (int i = 0; i < MAXC; i++) {
        if (conns[i]) {
            close(conns[i]->fd);
            free(conns[i]);
        }
    }
    return NULL;
}

/* The test thread reads the receiver's record through the lock (the TCP
 * round trip orders it too, but not in a way TSan sees). */
static const char *rx_log(rx_t *rx)
{
    pthread_mutex_lock(&rx->mu);
    free(rx->snap);
    rx->snap = strdup(rx->log ? rx->log : "");
    pthread_mutex_unlock(&rx->mu);
    return rx->snap;
}

static unsigned rx_count(rx_t *rx)
{
    pthread_mutex_lock(&rx->mu);
    unsigned n = rx->requests;
    pthread_mutex_unlock(&rx->mu);
    return n;
}

static void rx_start(rx_t *rx)
{
    memset(rx, 0, sizeof *rx);
    pthread_mutex_init(&rx->mu, NULL);
    rx->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(rx->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(rx->lfd, 128), 0);
    assert_int_equal(getsockname(rx->lfd, (struct sockaddr *)&a, &al), 0);
    rx->port = ntohs(a.sin_port);
    assert_int_equal(pipe(rx->stop_pipe), 0);
    assert_int_equal(pthread_create(&rx->thr, NULL, rx_main, rx), 0);
}

static void rx_stop(rx_t *rx)
{
    assert_int_equal(write(rx->stop_pipe[1], "x", 1), 1);
    pthread_join(rx->thr, NULL);
    close(rx->stop_pipe[0]);
    close(rx->stop_pipe[1]);
    close(rx->lfd);
    free(rx->log);
    free(rx->snap);
    pthread_mutex_destroy(&rx->mu);
}

/* ---------------------------------------------------------------- fixture */

typedef struct fx {
    char dir[64];
    rx_t rx;
    char url[64];
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-sinksys-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    rx_start(&f->rx);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u/hook", f->rx.port);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    rx_stop(&f->rx);
    cn_rmtree(f->dir);
    free(f);
    return 0;
}

static void append(mq_sink_sys_t *sys, int id, const char *key, const char *topic,
                   const char *payload)
{
    mq_sink_rec_t r = {.key = (const uint8_t *)key,
                       .key_len = strlen(key),
                       .topic = (const uint8_t *)topic,
                       .topic_len = topic ? strlen(topic) : 0,
                       .payload = (const uint8_t *)payload,
                       .payload_len = strlen(payload)};
    assert_int_equal(mq_sink_append(sys, id, &r, NULL), 0);
}

static bool has(const cn_buf_t *b, const char *s)
{
    return memmem(b->p, b->len, s, strlen(s)) != NULL;
}

/* ------------------------------------------------------------------ tests */

static void test_webhook_order_headers_metrics(void **state)
{
    fx_t *f = *state;
    mq_sink_log_opts_t o = {.dir = f->dir};
    mq_sink_sys_t *sys;
    assert_int_equal(mq_sink_sys_open(&o, &sys), 0);
    const char *hdrs[] = {"X-Static: s1", NULL};
    mq_sink_def_t d = {.name = "hook", .type = MQ_SINK_WEBHOOK, .url = f->url, .headers = hdrs,
                       .max_inflight = 1};
    int id = mq_sink_sys_add(sys, &d);
    assert_int_equal(id, 0);
    assert_int_equal(mq_sink_sys_add(sys, &d), CN_EEXIST);
    assert_int_equal(mq_sink_sys_start(sys, NULL, NULL), 0);
    append(sys, id, "d1", NULL, "{\"n\":1}");
    append(sys, id, "d2", "X-Rule: r7\nX-Device: d2", "{\"n\":2}");
    append(sys, id, "d1", "bad header without colon", "{\"n\":3}");
    assert_int_equal(mq_sink_sys_drain(sys, DRAIN_NS), 0);
    /* max_inflight 1: one request at a time, so arrival order = log order */
    assert_string_equal(rx_log(&f->rx), "X-Static: s1;|{\"n\":1}\n"
                                        "X-Static: s1;X-Rule: r7;X-Device: d2;|{\"n\":2}\n"
                                        "X-Static: s1;|{\"n\":3}\n");
    mq_sink_stats_t st;
    assert_int_equal(mq_sink_sys_stats(sys, id, &st), 0);
    assert_int_equal(st.delivered, 3);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.cursor, 4);
    assert_int_equal(st.lag_records, 0);
    cn_buf_t m;
    cn_buf_init(&m);
    mq_sink_sys_metrics(sys, &m);
    assert_true(has(&m, "# TYPE cairn_sink_delivered_total counter\n"
                        "cairn_sink_delivered_total{sink=\"hook\",type=\"webhook\"} 3\n"));
    assert_true(has(&m, "cairn_sink_lag_records{sink=\"hook\",type=\"webhook\"} 0\n"));
    assert_true(has(&m, "cairn_sink_up{sink=\"hook\",type=\"webhook\"} 1\n"));
    assert_true(has(&m, "cairn_sink_log_appended_total 3\n"));
    cn_buf_reset(&m);
    mq_sink_sys_json(sys, &m);
    cn_buf_put_u8(&m, 0);
    assert_string_equal((char *)m.p,
                        "{\"sinks\":[{\"name\":\"hook\",\"type\":\"webhook\",\"up\":true,"
                        "\"delivered\":3,\"failed\":0,\"retried\":0,\"dead_lettered\":0,"
                        "\"dropped\":0,\"cursor\":4,\"lag_records\":0,\"lag_seconds\":0.000,"
                        "\"dead_letters\":[]}]}");
    cn_buf_free(&m);
    mq_sink_sys_close(sys);
}

/* Several HTTP threads (lanes) and requests in flight: every record
 * arrives exactly once, each key's records in append order, and a PUT
 * sink uses its method. */
static void test_webhook_lanes_keep_key_order(void **state)
{
    fx_t *f = *state;
    mq_sink_log_opts_t o = {.dir = f->dir};
    mq_sink_sys_t *sys;
    assert_int_equal(mq_sink_sys_open(&o, &sys), 0);
    mq_sink_def_t d = {.name = "lanes",
                       .type = MQ_SINK_WEBHOOK,
                       .url = f->url,
                       .method = "PUT",
                       .threads = 3,
                       .max_inflight = 12};
    int id = mq_sink_sys_add(sys, &d);
    assert_true(id >= 0);
    assert_int_equal(mq_sink_sys_start(sys, NULL, NULL), 0);
    enum { KEYS = 30, PER_KEY = 20 };
    char key[16], body[64];
    for (int n = 0; n < PER_KEY; n++) {
        for (int k = 0; k < KEYS; k++) {
            snprintf(key, sizeof key, "k%02d", k);
            snprintf(body, sizeof body, "{\"k\":%d,\"n\":%d}", k, n);
            append(sys, id, key, NULL, body);
        }
    }
    assert_int_equal(mq_sink_sys_drain(sys, DRAIN_NS), 0);
    assert_int_equal(rx_count(&f->rx), KEYS * PER_KEY);
    int next[KEYS] = {0};
    const char *p = rx_log(&f->rx);
    for (int i = 0; i < KEYS * PER_KEY; i++) {
        int k = -1, n = -1;
        assert_int_equal(sscanf(p, "PUT |{\"k\":%d,\"n\":%d}\n", &k, &n), 2);
        assert_true(k >= 0 && k < KEYS);
        assert_int_equal(n, next[k]); /* per-key order, no duplicate, no gap */
        next[k]++;
        p = strchr(p, '\n') + 1;
    }
    assert_string_equal(p, "");
    mq_sink_stats_t st;
    assert_int_equal(mq_sink_sys_stats(sys, id, &st), 0);
    assert_int_equal(st.delivered, KEYS * PER_KEY);
    assert_int_equal(st.failed, 0);
    mq_sink_sys_close(sys);
}

static void test_add_remove_after_start_and_stream(void **state)
{
    fx_t *f = *state;
    mq_sink_log_opts_t o = {.dir = f->dir};
    mq_sink_sys_t *sys;
    assert_int_equal(mq_sink_sys_open(&o, &sys), 0);
    mq_sink_def_t a = {.name = "a", .type = MQ_SINK_WEBHOOK, .url = f->url};
    assert_int_equal(mq_sink_sys_add(sys, &a), 0);
    assert_int_equal(mq_sink_sys_set_stream(sys, "a"), 0);
    assert_int_equal(mq_sink_sys_set_stream(sys, "nope"), CN_ENOTFOUND);
    assert_int_equal(mq_sink_sys_start(sys, NULL, NULL), 0);
    uint64_t sseq = 0;
    assert_int_equal(mq_sink_stream(sys, "dev-1", 5, "{\"s\":1}", 7, 0, &sseq), 0);
    assert_int_equal(sseq, 1); /* the first record of the log */
    mq_sink_def_t b = {.name = "rule.r1.0", .type = MQ_SINK_WEBHOOK, .url = f->url};
    int idb = mq_sink_sys_add(sys, &b);
    assert_int_equal(idb, 1);
    assert_int_equal(mq_sink_sys_find(sys, "rule.r1.0"), 1);
    append(sys, idb, "k", NULL, "{\"b\":1}");
    assert_int_equal(mq_sink_sys_drain(sys, DRAIN_NS), 0);
    assert_int_equal(rx_count(&f->rx), 2);
    assert_int_equal(mq_sink_sys_remove(sys, "rule.r1.0"), 0);
    assert_int_equal(mq_sink_sys_remove(sys, "rule.r1.0"), CN_ENOTFOUND);
    mq_sink_rec_t r = {.payload = (const uint8_t *)"x", .payload_len = 1};
    assert_int_equal(mq_sink_append(sys, idb, &r, NULL), CN_ENOTFOUND);
    /* The name can be defined again (a rule update): a new slot. */
    assert_int_equal(mq_sink_sys_add(sys, &b), 2);
    append(sys, 2, "k", NULL, "{\"b\":2}");
    assert_int_equal(mq_sink_sys_drain(sys, DRAIN_NS), 0);
    assert_int_equal(rx_count(&f->rx), 3);
    assert_true(strstr(rx_log(&f->rx), "|{\"s\":1}\n") != NULL);
    assert_true(strstr(rx_log(&f->rx), "|{\"b\":1}\n") != NULL);
    assert_true(strstr(rx_log(&f->rx), "|{\"b\":2}\n") != NULL);
    mq_sink_sys_close(sys);

    /* After a restart, the cursors resume: nothing is delivered twice. */
    assert_int_equal(mq_sink_sys_open(&o, &sys), 0);
    assert_int_equal(mq_sink_sys_add(sys, &a), 0);
    assert_int_equal(mq_sink_sys_add(sys, &b), 1);
    assert_int_equal(mq_sink_sys_start(sys, NULL, NULL), 0);
    assert_int_equal(mq_sink_sys_drain(sys, DRAIN_NS), 0);
    mq_sink_stats_t st;
    assert_int_equal(mq_sink_sys_stats(sys, 1, &st), 0);
    assert_int_equal(st.cursor, 4);
    assert_int_equal(st.delivered, 0);
    mq_sink_sys_close(sys);
    assert_int_equal(rx_count(&f->rx), 3);
}

static void test_dead_letter(void **state)
{
    fx_t *f = *state;
    mq_sink_log_opts_t o = {.dir = f->dir};
    mq_sink_sys_t *sys;
    assert_int_equal(mq_sink_sys_open(&o, &sys), 0);
    mq_sink_def_t d = {.name = "h",
                       .type = MQ_SINK_WEBHOOK,
                       .url = f->url,
                       .max_attempts = 4,
                       .backoff_min_ns = 1000000,
                       .backoff_max_ns = 4000000};
    int id = mq_sink_sys_add(sys, &d);
    assert_int_equal(mq_sink_sys_start(sys, NULL, NULL), 0);
    append(sys, id, "d1", NULL, "{\"n\":1}");
    append(sys, id, "d1", NULL, "{\"poison\":1}");
    append(sys, id, "d1", NULL, "{\"n\":3}");
    assert_int_equal(mq_sink_sys_drain(sys, DRAIN_NS), 0);
    /* Per-key order: n=3 waited until the poison record was given up. */
    assert_string_equal(rx_log(&f->rx), "|{\"n\":1}\n|{\"n\":3}\n");
    mq_sink_stats_t st;
    assert_int_equal(mq_sink_sys_stats(sys, id, &st), 0);
    assert_int_equal(st.delivered, 2);
    assert_int_equal(st.failed, 4);
    assert_int_equal(st.retried, 3);
    assert_int_equal(st.dead_lettered, 1);
    assert_int_equal(st.cursor, 4);
    cn_buf_t m;
    cn_buf_init(&m);
    mq_sink_sys_json(sys, &m);
    assert_true(has(&m, "\"dead_letters\":[{\"seq\":2,"));
    assert_true(has(&m, "\"attempts\":4,\"key\":\"d1\",\"error\":\"HTTP status 400\"}]"));
    cn_buf_free(&m);
    mq_sink_sys_close(sys);
    char path[128];
    snprintf(path, sizeof path, "%s/deadletter.jsonl", f->dir);
    uint8_t *data;
    size_t len;
    assert_int_equal(cn_file_read_all(path, &data, &len), 0);
    const char *want = "\"attempts\":4,\"key\":\"d1\",\"topic\":\"\",\"error\":\"HTTP status "
                       "400\",\"payload\":\"{\\\"poison\\\":1}\"}\n";
    assert_true(len > strlen(want));
    assert_memory_equal(data + len - strlen(want), want, strlen(want));
    assert_memory_equal(data, "{\"sink\":\"h\",\"seq\":2,\"ts\":", 25);
    cn_free(data);
}

int main(void)
{
    cn_log_set_level(CN_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_webhook_order_headers_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_lanes_keep_key_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_remove_after_start_and_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_letter, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
