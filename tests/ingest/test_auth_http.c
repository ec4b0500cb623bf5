/* SPDX-License-Identifier: MIT */
/*
 * test_auth_http.c - the external HTTP auth service (ingest/auth/http.c,
 * verdict.c) against a local Python HTTP/1.1 keep-alive receiver
 * (auth_http_receiver.py, started per test on 127.0.0.1): the exact request
 * body, every answer kind, timeouts, an unreachable service, the password
 * file deciding first, the decision cache, and the connection count:
 * requests reuse keep-alive connections (1 for sequential requests, at
 * most http_max_conns for concurrent ones), never one per CONNECT.
 */
#include "auth/auth_int.h"
#include "auth_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka.h needs these first; keep clang-format from sorting them after it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

typedef struct fix {
    char dir[64], stats[128], log[128], pw[128], url[64];
    pid_t pid;
    int in_fd; /* the receiver's stdin: closing it stops the receiver */
    rec_t rec;
} fix_t;

static int setup(void **state)
{
    fix_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-test-authhttp.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->stats, sizeof f->stats, "%s/stats", f->dir);
    snprintf(f->log, sizeof f->log, "%s/log", f->dir);
    snprintf(f->pw, sizeof f->pw, "%s/passwd", f->dir);
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    f->pid = fork();
    assert_true(f->pid >= 0);
    if (f->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execlp("python3", "python3", AUTH_RECEIVER, f->stats, f->log, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    f->in_fd = in[1];
    char port[16] = "";
    FILE *o = fdopen(out[0], "r");
    assert_non_null(fgets(port, sizeof port, o));
    fclose(o);
    port[strcspn(port, "\n")] = 0;
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%s/auth", port);
    rec_init(&f->rec);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix_t *f = *state;
    close(f->in_fd); /* the receiver exits at EOF on stdin */
    int status;
    assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
    rec_destroy(&f->rec);
    assert_int_equal(cn_rmtree(f->dir), 0);
    free(f);
    return 0;
}

/* The receiver's counters: connections accepted, requests answered. */
static void stats(const fix_t *f, int *conns, int *reqs)
{
    FILE *s = fopen(f->stats, "r");
    assert_non_null(s);
    assert_int_equal(fscanf(s, "%d %d", conns, reqs), 2);
    fclose(s);
}

static mq_auth_t *service(fix_t *f, const char *url, const char *pwfile, int64_t allow_ttl,
                          int64_t deny_ttl)
{
    mq_auth_opts_t o;
    mq_auth_opts_default(&o);
    o.http_url = url;
    o.password_file = pwfile;
    o.http_allow_ttl_ns = allow_ttl;
    o.http_deny_ttl_ns = deny_ttl;
    o.http_max_conns = 4;
    o.http_timeout_ns = 60000000000LL; /* generous: the machine may be loaded */
    o.done = rec_done;
    o.done_arg = &f->rec;
    mq_auth_t *a = NULL;
    assert_int_equal(mq_auth_new(&o, stderr, &a), 0);
    return a;
}

static uint8_t ask(fix_t *f, mq_auth_t *a, const mq_auth_creds_t *c, uint64_t token)
{
    uint32_t before = f->rec.total;
    connect_rec(a, &f->rec, c, token);
    assert_true(rec_wait(&f->rec, before + 1));
    assert_int_equal(f->rec.times[token], 1);
    return f->rec.reason[token];
}

static void test_keepalive(void **state)
{
    fix_t *f = *state;
    mq_auth_t *a = service(f, f->url, NULL, 0, 0);
    for (uint64_t t = 0; t < 20; t++) {
        mq_auth_creds_t c = creds("c1", "alice", "pw");
        assert_int_equal(ask(f, a, &c, t), MQ_AUTH_OK);
        assert_false(f->rec.sync[t]);
    }
    int conns, reqs;
    stats(f, &conns, &reqs);
    assert_int_equal(reqs, 20);
    assert_int_equal(conns, 1); /* one keep-alive connection for all 20 */
    mq_auth_stats_t st;
    mq_auth_get_stats(a, &st);
    assert_int_equal(st.http_requests, 20);
    assert_int_equal(st.kdf_runs, 0);
    mq_auth_free(a);

    uint8_t *log;
    size_t len;
    assert_int_equal(cn_file_read_all(f->log, &log, &len), 0);
    const char want[] = "application/json {\"clientid\":\"c1\",\"username\":\"alice\",\"password\":"
                        "\"pw\",\"peerhost\":\"127.0.0.1\",\"protocol\":4}\n";
    assert_true(len == 20 * (sizeof want - 1));
    assert_memory_equal(log, want, sizeof want - 1);
    cn_free(log);
}

static void test_verdicts(void **state)
{
    fix_t *f = *state;
    mq_auth_t *a = service(f, f->url, NULL, 0, 0);
    static const struct {
        const char *user, *pw;
        uint8_t want;
    } cases[] = {
        {"alice", "pw", MQ_AUTH_OK},          {"alice", "nope", MQ_AUTH_NOT_AUTHORIZED},
        {"nocontent", "x", MQ_AUTH_OK},       {"ignore", "x", MQ_AUTH_BAD_CREDENTIALS},
        {"boom", "x", MQ_AUTH_UNAVAILABLE},   {"garbage", "x", MQ_AUTH_UNAVAILABLE},
        {NULL, NULL, MQ_AUTH_NOT_AUTHORIZED}, /* anonymous: the service decides */
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++) {
        mq_auth_creds_t c = creds("c1", cases[i].user, cases[i].pw);
        if (ask(f, a, &c, i) != cases[i].want)
            fail_msg("case %zu (%s): reason 0x%02x, want 0x%02x", i,
                     cases[i].user ? cases[i].user : "anonymous", f->rec.reason[i], cases[i].want);
    }
    mq_auth_stats_t st;
    mq_auth_get_stats(a, &st);
    assert_int_equal(st.http_failures, 2);
    /* Escaping: quotes, backslashes, control and non-UTF-8 bytes; IPv6 host. */
    static const uint8_t pw[] = {0x01, 0xff, 'x', 0xc3, 0xa9};
    mq_auth_creds_t c = {"a\"b\\c", 5,    (const uint8_t *)"u", 1, pw, sizeof pw, "[::1]:5555",
                         5,         false};
    assert_int_equal(ask(f, a, &c, 100), MQ_AUTH_NOT_AUTHORIZED);
    mq_auth_free(a);
    uint8_t *log;
    size_t len;
    assert_int_equal(cn_file_read_all(f->log, &log, &len), 0);
    const char want[] = "application/json {\"clientid\":\"a\\\"b\\\\c\",\"username\":\"u\","
                        "\"password\":\"\\u0001\\u00ffx\xc3\xa9\",\"peerhost\":\"::1\","
                        "\"protocol\":5}\n";
    assert_true(len >= sizeof want - 1);
    assert_memory_equal(log + len - (sizeof want - 1), want, sizeof want - 1);
    const char anon[] = "{\"clientid\":\"c1\",\"username\":null,\"password\":null,";
    assert_non_null(memmem(log, len, anon, sizeof anon - 1));
    cn_free(log);
}

static void test_timeout_and_unreachable(void **state)
{
    fix_t *f = *state;
    mq_auth_opts_t o;
    mq_auth_opts_default(&o);
    o.http_url = f->url;
    o.http_timeout_ns = 300000000LL;
    o.done = rec_done;
    o.done_arg = &f->rec;
    mq_auth_t *a;
    assert_int_equal(mq_auth_new(&o, NULL, &a), 0);
    mq_auth_creds_t c = creds("c1", "slow", "x"); /* answers after 5 s */
    assert_int_equal(ask(f, a, &c, 1), MQ_AUTH_UNAVAILABLE);
    mq_auth_stats_t st;
    mq_auth_get_stats(a, &st);
    assert_int_equal(st.http_failures, 1);
    mq_auth_free(a);

    /* A port nobody listens on: connection refused -> 0x88. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sin;
    assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &sl), 0);
    close(s);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/auth", ntohs(sin.sin_port));
    a = service(f, url, NULL, 0, 0);
    c = creds("c1", "alice", "pw");
    assert_int_equal(ask(f, a, &c, 3), MQ_AUTH_UNAVAILABLE);
    mq_auth_free(a);
}

static void test_chain_and_cache(void **state)
{
    fix_t *f = *state;
    char h[MQ_AUTH_HASH_TEXT_MAX], line[512];
    assert_true(mq_auth_hash_make((const uint8_t *)"file-pw", 7, 1000, h, sizeof h) > 0);
    snprintf(line, sizeof line, "alice:%s\n", h);
    assert_int_equal(cn_file_write_atomic(f->pw, line, strlen(line)), 0);
    mq_auth_t *a = service(f, f->url, f->pw, 60000000000LL, 60000000000LL);
    int conns, reqs;
    /* alice is in the file: the file decides, the service is not asked. */
    mq_auth_creds_t c = creds("c1", "alice", "pw");
    assert_int_equal(ask(f, a, &c, 1), MQ_AUTH_BAD_CREDENTIALS);
    c = creds("c1", "alice", "file-pw");
    assert_int_equal(ask(f, a, &c, 2), MQ_AUTH_OK);
    stats(f, &conns, &reqs);
    assert_int_equal(reqs, 0);
    /* carol is not: the service decides, and its decisions are cached. */
    c = creds("c1", "carol", "x");
    assert_int_equal(ask(f, a, &c, 3), MQ_AUTH_NOT_AUTHORIZED);
    assert_int_equal(ask(f, a, &c, 4), MQ_AUTH_NOT_AUTHORIZED);
    c = creds("c1", "nocontent", "x");
    assert_int_equal(ask(f, a, &c, 5), MQ_AUTH_OK);
    assert_int_equal(ask(f, a, &c, 6), MQ_AUTH_OK);
    c = creds("c2", "nocontent", "x"); /* another client id: another key */
    assert_int_equal(ask(f, a, &c, 7), MQ_AUTH_OK);
    stats(f, &conns, &reqs);
    assert_int_equal(reqs, 3);
    assert_int_equal(conns, 1);
    mq_auth_stats_t st;
    mq_auth_get_stats(a, &st);
    assert_int_equal(st.cache_hits, 2);
    mq_auth_free(a);
}

static void test_concurrent_pool(void **state)
{
    fix_t *f = *state;
    mq_auth_t *a = service(f, f->url, NULL, 0, 0);
    enum { N = 200 };
    for (uint64_t t = 0; t < N; t++) {
        mq_auth_creds_t c = creds("c1", t % 2 ? "alice" : "bob", "pw");
        mq_auth_connect(a, &c, t);
    }
    assert_true(rec_wait(&f->rec, N));
    for (uint64_t t = 0; t < N; t++) {
        assert_int_equal(f->rec.times[t], 1);
        assert_int_equal(f->rec.reason[t], t % 2 ? MQ_AUTH_OK : MQ_AUTH_NOT_AUTHORIZED);
    }
    int conns, reqs;
    stats(f, &conns, &reqs);
    assert_int_equal(reqs, N);
    assert_true(conns >= 1 && conns <= 4); /* http_max_conns */
    mq_auth_free(a);
}

static void test_verdict_parser(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        int want;
    } cases[] = {
        {"{\"result\":\"allow\"}", MQ_AUTH__HTTP_ALLOW},
        {" { \"a\" : [1, {\"b\": null}], \"result\" : \"deny\" , \"c\": true } ",
         MQ_AUTH__HTTP_DENY},
        {"{\"result\":\"ignore\",\"result\":\"allow\"}", MQ_AUTH__HTTP_IGNORE},
        {"{\"result\":\"Allow\"}", MQ_AUTH__HTTP_FAIL},
        {"{\"result\":\"al\\u006cow\"}", MQ_AUTH__HTTP_FAIL},
        {"{\"result\":true}", MQ_AUTH__HTTP_FAIL},
        {"{\"other\":\"allow\"}", MQ_AUTH__HTTP_FAIL},
        {"{\"result\":\"allow\"", MQ_AUTH__HTTP_FAIL},
        {"{\"result\":\"allow\"} x", MQ_AUTH__HTTP_FAIL},
        {"[\"allow\"]", MQ_AUTH__HTTP_FAIL},
        {"", MQ_AUTH__HTTP_FAIL},
        {"{}", MQ_AUTH__HTTP_FAIL},
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++)
        if (mq_auth__http_verdict(cases[i].body, strlen(cases[i].body)) != cases[i].want)
            fail_msg("case %zu: %s", i, cases[i].body);
    char deep[200];
    memset(deep, '[', sizeof deep);
    memcpy(deep, "{\"a\":", 5);
    assert_int_equal(mq_auth__http_verdict(deep, sizeof deep), MQ_AUTH__HTTP_FAIL);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keepalive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verdicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_and_unreachable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chain_and_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_pool, setup, teardown),
        cmocka_unit_test(test_verdict_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
