/* SPDX-License-Identifier: MIT */
/*
 * test_broker_hooks.c - the broker's hook contracts, in process, over a
 * loopback socket: the ingest hook with "acknowledge later" (PUBACKs wait
 * for mq_broker_ack and keep publish order), MQ_PUB_RETRY + resume, the
 * asynchronous auth hook answered from another thread, the ACL hook, acks
 * that wait for the metadata store and the one shared copy of a retained
 * message, and
 * the loop-local u64 map behind session lookups (randomized against a
 * reference).
 *
 * Synchronisation: the hooks signal a condition variable; the client side
 * uses blocking sockets with a receive timeout as the failure bound.
 */
#include "broker/broker.h"
#include "broker/broker_int.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* cmocka.h needs these first; keep clang-format from sorting them after it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

typedef struct seen {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    mq_ack_token_t tok[16];
    char payload[16][32];
    unsigned loop[16];
    int retries;   /* MQ_PUB_RETRY answers given */
    uint64_t auth; /* token of the last auth request */
    int nauth;
    char user[32];
} seen_t;

static void wait_for(seen_t *s, const int *field, int want)
{
    pthread_mutex_lock(&s->mu);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 10;
    while (*field < want)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) != 0)
            break;
    int got = *field;
    pthread_mutex_unlock(&s->mu);
    assert_true(got >= want);
}

static int on_publish(void *arg, const mq_msg_view_t *m, const mq_ack_token_t *tok)
{
    seen_t *s = arg;
    pthread_mutex_lock(&s->mu);
    int r = MQ_PUB_ACK_LATER;
    if (m->payload_len == 5 && !memcmp(m->payload, "retry", 5) && s->retries == 0) {
        s->retries++;
        r = MQ_PUB_RETRY;
    }
    if (s->n < 16 && r != MQ_PUB_RETRY) {
        s->tok[s->n] = *tok;
        snprintf(s->payload[s->n], 32, "%.*s", (int)m->payload_len, (const char *)m->payload);
        s->loop[s->n] = m->loop;
        s->n++;
    }
    if (r == MQ_PUB_RETRY)
        s->tok[15] = *tok;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return r;
}

static void on_auth(void *arg, const mq_broker_auth_req_t *req, uint64_t token)
{
    seen_t *s = arg;
    pthread_mutex_lock(&s->mu);
    s->auth = token;
    snprintf(s->user, sizeof s->user, "%.*s", (int)req->username.len,
             req->username.p ? (const char *)req->username.p : "");
    s->nauth++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static bool acl(void *arg, const char *user, const char *cid, const char *topic, size_t len,
                int access)
{
    (void)arg, (void)cid, (void)access;
    /* "ok" may publish anywhere; others not under "secret/". */
    return (user && !strcmp(user, "ok")) || len < 7 || memcmp(topic, "secret/", 7) != 0;
}

static int dial(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    assert_int_equal(send(fd, p, n, 0), (ssize_t)n);
}

static void expect(int fd, const uint8_t *want, size_t n)
{
    uint8_t got[64];
    size_t have = 0;
    while (have < n) {
        ssize_t r = recv(fd, got + have, n - have, 0);
        assert_true(r > 0);
        have += (size_t)r;
    }
    assert_memory_equal(got, want, n);
}

/* CONNECT 3.1.1, client id "c<id>", optional user name "u". */
static void mqtt_connect(int fd, char id, const char *user)
{
    uint8_t b[64] = {0x10, 0, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 2, 'c', (uint8_t)id};
    size_t n = 16;
    if (user) {
        b[9] |= 0x80;
        size_t ul = strlen(user);
        b[n++] = 0;
        b[n++] = (uint8_t)ul;
        memcpy(b + n, user, ul);
        n += ul;
    }
    b[1] = (uint8_t)(n - 2);
    send_all(fd, b, n);
}

static void publish(int fd, const char *topic, uint16_t pid, const char *payload)
{
    uint8_t b[128];
    size_t tl = strlen(topic), pl = strlen(payload), n = 0;
    b[n++] = 0x32; /* QoS 1 */
    b[n++] = (uint8_t)(2 + tl + 2 + pl);
    b[n++] = 0;
    b[n++] = (uint8_t)tl;
    memcpy(b + n, topic, tl);
    n += tl;
    b[n++] = (uint8_t)(pid >> 8);
    b[n++] = (uint8_t)pid;
    memcpy(b + n, payload, pl);
    n += pl;
    send_all(fd, b, n);
}

static mq_broker_t *start(seen_t *s, bool with_auth)
{
    static const mq_broker_listener_t l = {"127.0.0.1", 0, true};
    mq_broker_opts_t o;
    mq_broker_opts_default(&o);
    o.listeners = &l;
    o.nloops = 2;
    o.sys_interval_ns = 0;
    o.on_publish = on_publish;
    o.acl = acl;
    o.auth = with_auth ? on_auth : NULL;
    o.hook_arg = s;
    mq_broker_t *b;
    assert_int_equal(mq_broker_new(&o, &b), 0);
    assert_int_equal(mq_broker_start(b), 0);
    return b;
}

static void test_ack_later_keeps_order(void **state)
{
    (void)state;
    seen_t s = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    mq_broker_t *b = start(&s, false);
    int fd = dial(mq_broker_port(b, 0));
    mqtt_connect(fd, 'a', NULL);
    expect(fd, (const uint8_t[]){0x20, 2, 0, 0}, 4);
    publish(fd, "t/1", 1, "one");
    publish(fd, "t/2", 2, "two");
    wait_for(&s, &s.n, 2);
    assert_string_equal(s.payload[0], "one");
    assert_int_equal(s.tok[1].packet_id, 2);
    assert_int_equal(s.tok[0].qos, 1);
    assert_true(s.loop[0] < 2);
    /* The later message's ack first: its PUBACK must wait for the first. */
    mq_broker_ack(b, &s.tok[1], 0);
    mq_broker_ack(b, &s.tok[0], 0);
    expect(fd, (const uint8_t[]){0x40, 2, 0, 1, 0x40, 2, 0, 2}, 8);
    /* RETRY: nothing taken; after resume the hook sees the message again. */
    publish(fd, "t/3", 3, "retry");
    wait_for(&s, &s.retries, 1);
    mq_broker_resume(b, &s.tok[15]);
    wait_for(&s, &s.n, 3);
    assert_string_equal(s.payload[2], "retry");
    mq_broker_ack(b, &s.tok[2], 0);
    expect(fd, (const uint8_t[]){0x40, 2, 0, 3}, 4);
    /* ACL: a 3.1.1 PUBLISH to a denied topic is acknowledged and dropped. */
    publish(fd, "secret/x", 4, "no");
    expect(fd, (const uint8_t[]){0x40, 2, 0, 4}, 4);
    assert_int_equal(s.n, 3);
    mq_broker_stats_t st;
    mq_broker_stats(b, &st);
    assert_int_equal(st.msgs_received, 3);
    assert_int_equal(st.clients_connected, 1);
    close(fd);
    mq_broker_free(b);
}

/* With a store: a retained QoS 1 PUBLISH is acknowledged only once the
 * hook acknowledged it and the store committed its retained copy; the
 * retained message then reaches three subscribers as one shared copy
 * (persist.c NOTES 4 and 5). */
static void test_store_ack_and_shared_retained(void **state)
{
    (void)state;
    char dir[] = "/tmp/cairn-test-hooks.XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/meta.db", dir);
    mq_store_opts_t so;
    mq_store_opts_default(&so);
    so.path = path;
    so.msg_ext_free = mq_broker_msg_ext_free;
    mq_store_t *st;
    assert_int_equal(mq_store_open(&so, &st), 0);
    seen_t s = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    static const mq_broker_listener_t l = {"127.0.0.1", 0, true};
    mq_broker_opts_t o;
    mq_broker_opts_default(&o);
    o.listeners = &l;
    o.nloops = 2;
    o.sys_interval_ns = 0;
    o.on_publish = on_publish;
    o.hook_arg = &s;
    o.store = st;
    mq_broker_t *b;
    assert_int_equal(mq_broker_new(&o, &b), 0);
    assert_int_equal(mq_broker_start(b), 0);

    int fd = dial(mq_broker_port(b, 0));
    mqtt_connect(fd, 'p', NULL);
    expect(fd, (const uint8_t[]){0x20, 2, 0, 0}, 4);
    send_all(fd, (const uint8_t[]){0x33, 11, 0, 3, 'r', '/', 't', 0, 1, 'k', 'e', 'e', 'p'}, 13);
    wait_for(&s, &s.n, 1);
    mq_broker_ack(b, &s.tok[0], 0);
    expect(fd, (const uint8_t[]){0x40, 2, 0, 1}, 4);
    /* Clean sessions write nothing: seq 1 is the retained set, and the
     * PUBACK came after its commit. */
    assert_true(mq_store_durable_seq(st) >= 1);

    int sub[3];
    for (int i = 0; i < 3; i++) {
        sub[i] = dial(mq_broker_port(b, 0));
        /* Persistent sessions (clean session 0) outlive the connections
         * mq_broker_stop closes. */
        send_all(sub[i],
                 (const uint8_t[]){0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 0, 0, 60, 0, 2, 'c',
                                   (uint8_t)('x' + i)},
                 16);
        expect(sub[i], (const uint8_t[]){0x20, 2, 0, 0}, 4);
        send_all(sub[i], (const uint8_t[]){0x82, 8, 0, 7, 0, 3, 'r', '/', '#', 1}, 10);
        expect(sub[i], (const uint8_t[]){0x90, 3, 0, 7, 1}, 5);
        /* Not acknowledged: it stays in the session's in-flight list. */
        expect(sub[i],
               (const uint8_t[]){0x33, 11, 0, 3, 'r', '/', 't', 0, 1, 'k', 'e', 'e', 'p'}, 13);
    }
    mq_broker_stop(b); /* the loops ended; their sessions are still there */
    mq_msg_t *seen[3];
    int n = 0;
    cn_buf_t v;
    cn_buf_init(&v);
    for (unsigned i = 0; i < 2; i++) {
        size_t k = mq__bk_objs(&b->loops[i], false, &v);
        for (size_t j = 0; j < k; j++) {
            mq_sess_t *ss = ((mq_sess_t **)(void *)v.p)[j];
            if (ss->inflight.head && n < 3)
                seen[n++] = ss->inflight.head->msg;
        }
    }
    cn_buf_free(&v);
    assert_int_equal(n, 3);
    assert_ptr_equal(seen[0], seen[1]);
    assert_ptr_equal(seen[1], seen[2]);
    /* Three in-flight entries and the store message's attachment. */
    assert_true(atomic_load(&seen[0]->ref) >= 4);
    close(fd);
    for (int i = 0; i < 3; i++)
        close(sub[i]);
    mq_broker_free(b);
    mq_store_close(st);
    unlink(path);
    char aux[80];
    snprintf(aux, sizeof aux, "%s-wal", path);
    unlink(aux);
    snprintf(aux, sizeof aux, "%s-shm", path);
    unlink(aux);
    rmdir(dir);
}

static void test_async_auth(void **state)
{
    (void)state;
    seen_t s = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    mq_broker_t *b = start(&s, true);
    int fd = dial(mq_broker_port(b, 0));
    mqtt_connect(fd, 'b', "bad");
    wait_for(&s, &s.nauth, 1);
    assert_string_equal(s.user, "bad");
    mq_broker_auth_done(b, s.auth, 0x86);            /* from this (foreign) thread */
    expect(fd, (const uint8_t[]){0x20, 2, 0, 4}, 4); /* 3.1.1: bad user name or password */
    uint8_t x;
    assert_int_equal(recv(fd, &x, 1, 0), 0); /* then closed */
    close(fd);
    fd = dial(mq_broker_port(b, 0));
    mqtt_connect(fd, 'c', "ok");
    wait_for(&s, &s.nauth, 2);
    mq_broker_auth_done(b, s.auth, 0);
    expect(fd, (const uint8_t[]){0x20, 2, 0, 0}, 4);
    publish(fd, "secret/y", 1, "yes"); /* user "ok" may */
    wait_for(&s, &s.n, 1);
    assert_string_equal(s.payload[0], "yes");
    close(fd);
    mq_broker_free(b);
}

static void test_map_random(void **state)
{
    (void)state;
    mq_map_t m = {0};
    enum { N = 4096 };
    static uint8_t ref[N];
    memset(ref, 0, sizeof ref);
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint64_t k = 1 + x % (N - 1);
        if ((x >> 32) % 3 == 0) {
            mq__bk_map_del(&m, k);
            ref[k] = 0;
        } else {
            mq__bk_map_put(&m, k, (void *)(uintptr_t)(k * 8));
            ref[k] = 1;
        }
        if (i % 997 == 0) {
            size_t n = 0;
            for (uint64_t j = 1; j < N; j++) {
                void *v = mq__bk_map_get(&m, j);
                assert_true(ref[j] ? v == (void *)(uintptr_t)(j * 8) : v == NULL);
                n += ref[j];
            }
            assert_int_equal(m.n, n);
        }
    }
    mq__bk_map_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ack_later_keeps_order),
        cmocka_unit_test(test_store_ack_and_shared_retained),
        cmocka_unit_test(test_async_auth),
        cmocka_unit_test(test_map_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
