/* SPDX-License-Identifier: MIT */
/*
 * test_auth_service.c - the auth service (ingest/auth/auth.c, cache.c):
 * the CONNECT decision chain against a password file, which answers come
 * synchronously, KDF counts with and without the cache, TTL expiry on an
 * injected clock, reload (password file and ACL, broken files keep the old
 * ones), queue-full answers, and many threads connecting, checking ACLs and
 * reloading at once (run it under tsan).
 */
#include "auth_test.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

/* cmocka.h needs these first; keep clang-format from sorting them after it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

typedef struct fix {
    char dir[64];
    char pw[128], acl[128];
    rec_t rec;
    _Atomic int64_t now; /* injected clock */
} fix_t;

static int64_t fake_now(void *arg)
{
    fix_t *f = arg;
    return atomic_load(&f->now);
}

static void write_text(const char *path, const char *text)
{
    assert_int_equal(cn_file_write_atomic(path, text, strlen(text)), 0);
}

/* A password file line for user with password pw at 1000 iterations. */
static void add_user(cn_buf_t *b, const char *user, const char *pw)
{
    char h[MQ_AUTH_HASH_TEXT_MAX];
    assert_true(mq_auth_hash_make((const uint8_t *)pw, strlen(pw), 1000, h, sizeof h) > 0);
    cn_buf_put(b, user, strlen(user));
    cn_buf_put_u8(b, ':');
    cn_buf_put(b, h, strlen(h));
    cn_buf_put_u8(b, '\n');
}

static void write_users(const char *path, const char *u1, const char *p1, const char *u2,
                        const char *p2)
{
    cn_buf_t b;
    cn_buf_init(&b);
    add_user(&b, u1, p1);
    if (u2)
        add_user(&b, u2, p2);
    assert_int_equal(cn_file_write_atomic(path, b.p, b.len), 0);
    cn_buf_free(&b);
}

static int setup(void **state)
{
    fix_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-test-auth.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->pw, sizeof f->pw, "%s/passwd", f->dir);
    snprintf(f->acl, sizeof f->acl, "%s/acl", f->dir);
    write_users(f->pw, "alice", "wonder", "bob", "builder");
    write_text(f->acl, "user alice\ntopic readwrite home/#\npattern write dev/%c/up\n");
    rec_init(&f->rec);
    atomic_store(&f->now, 1000000000);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix_t *f = *state;
    rec_destroy(&f->rec);
    assert_int_equal(cn_rmtree(f->dir), 0);
    free(f);
    return 0;
}

static mq_auth_t *service(fix_t *f, bool pw, bool acl)
{
    mq_auth_opts_t o;
    mq_auth_opts_default(&o);
    o.password_file = pw ? f->pw : NULL;
    o.acl_file = acl ? f->acl : NULL;
    o.done = rec_done;
    o.done_arg = &f->rec;
    o.clock = (cn_clock_t){fake_now, f};
    o.cache_ttl_ns = 60000000000LL;
    mq_auth_t *a = NULL;
    assert_int_equal(mq_auth_new(&o, stderr, &a), 0);
    return a;
}

/* Connects and waits for the answer; returns the reason. */
static uint8_t ask(fix_t *f, mq_auth_t *a, const mq_auth_creds_t *c, uint64_t token)
{
    uint32_t before = f->rec.total;
    connect_rec(a, &f->rec, c, token);
    assert_true(rec_wait(&f->rec, before + 1));
    assert_int_equal(f->rec.times[token], 1);
    return f->rec.reason[token];
}

static void test_chain(void **state)
{
    fix_t *f = *state;
    mq_auth_t *a = service(f, true, false);
    assert_true(mq_auth_has_backend(a));
    mq_auth_creds_t c = creds("c1", "alice", "wonder");
    assert_int_equal(ask(f, a, &c, 1), MQ_AUTH_OK);
    assert_false(f->rec.sync[1]); /* a KDF: answered on a worker */
    c = creds("c1", "alice", "wrong");
    assert_int_equal(ask(f, a, &c, 2), MQ_AUTH_BAD_CREDENTIALS);
    c = creds("c1", "alice", NULL);
    assert_int_equal(ask(f, a, &c, 3), MQ_AUTH_BAD_CREDENTIALS);
    c = creds("c1", "mallory", "wonder");
    assert_int_equal(ask(f, a, &c, 4), MQ_AUTH_BAD_CREDENTIALS);
    c = creds("c1", "bob", "builder");
    assert_int_equal(ask(f, a, &c, 5), MQ_AUTH_OK);
    c = creds("c1", NULL, NULL);
    assert_int_equal(ask(f, a, &c, 6), MQ_AUTH_NOT_AUTHORIZED);
    assert_true(f->rec.sync[6]);
    c.anonymous_ok = true;
    assert_int_equal(ask(f, a, &c, 7), MQ_AUTH_OK);
    assert_true(f->rec.sync[7]);
    /* A listed user is decided by the file even on an anonymous listener. */
    c = creds("c1", "alice", "wrong");
    c.anonymous_ok = true;
    assert_int_equal(ask(f, a, &c, 8), MQ_AUTH_BAD_CREDENTIALS);

    mq_auth_stats_t st;
    mq_auth_get_stats(a, &st);
    /* KDF: tokens 1, 2, 3, 4 (unknown user: the cost template), 5, 8. */
    assert_int_equal(st.kdf_runs, 6);
    assert_int_equal(st.connects, 8);
    assert_int_equal(st.accepted, 3);
    assert_int_equal(st.refused, 5);
    assert_int_equal(st.cache_hits, 0);
    mq_auth_free(a);
}

static void test_cache(void **state)
{
    fix_t *f = *state;
    mq_auth_t *a = service(f, true, false);
    mq_auth_creds_t c = creds("c1", "alice", "wonder");
    assert_int_equal(ask(f, a, &c, 1), MQ_AUTH_OK);
    /* A reconnect storm: every further CONNECT is a synchronous cache hit. */
    for (uint64_t t = 2; t < 50; t++) {
        c = creds(t % 2 ? "c1" : "c2", "alice", "wonder");
        assert_int_equal(ask(f, a, &c, t), MQ_AUTH_OK);
        assert_true(f->rec.sync[t]);
    }
    mq_auth_stats_t st;
    mq_auth_get_stats(a, &st);
    assert_int_equal(st.kdf_runs, 1);
    assert_int_equal(st.cache_hits, 48);
    /* Failures are never cached; a wrong password costs a KDF each time. */
    c = creds("c1", "alice", "wonder2");
    assert_int_equal(ask(f, a, &c, 50), MQ_AUTH_BAD_CREDENTIALS);
    assert_int_equal(ask(f, a, &c, 51), MQ_AUTH_BAD_CREDENTIALS);
    mq_auth_get_stats(a, &st);
    assert_int_equal(st.kdf_runs, 3);
    /* TTL: at 60 s the entry is gone. */
    atomic_fetch_add(&f->now, 60000000000LL - 1);
    c = creds("c1", "alice", "wonder");
    assert_int_equal(ask(f, a, &c, 52), MQ_AUTH_OK);
    assert_true(f->rec.sync[52]);
    atomic_fetch_add(&f->now, 1);
    assert_int_equal(ask(f, a, &c, 53), MQ_AUTH_OK);
    assert_false(f->rec.sync[53]);
    mq_auth_get_stats(a, &st);
    assert_int_equal(st.kdf_runs, 4);
    mq_auth_free(a);
}

static void test_reload(void **state)
{
    fix_t *f = *state;
    mq_auth_t *a = service(f, true, true);
    mq_auth_creds_t c = creds("c1", "alice", "wonder");
    assert_int_equal(ask(f, a, &c, 1), MQ_AUTH_OK);
    assert_true(mq_auth_allows(a, "alice", 5, "c1", 2, MQ_AUTH_WRITE, "home/x", 6));
    assert_false(mq_auth_allows(a, "alice", 5, "c1", 2, MQ_AUTH_WRITE, "work/x", 6));
    assert_true(mq_auth_allows(a, NULL, 0, "c1", 2, MQ_AUTH_WRITE, "dev/c1/up", 9));

    write_users(f->pw, "alice", "changed", NULL, NULL);
    write_text(f->acl, "user alice\ntopic write work/#\n");
    assert_int_equal(mq_auth_reload(a, stderr), 0);
    assert_int_equal(ask(f, a, &c, 2), MQ_AUTH_BAD_CREDENTIALS); /* cache dropped */
    c = creds("c1", "alice", "changed");
    assert_int_equal(ask(f, a, &c, 3), MQ_AUTH_OK);
    c = creds("c1", "bob", "builder");
    assert_int_equal(ask(f, a, &c, 4), MQ_AUTH_BAD_CREDENTIALS);
    assert_false(mq_auth_allows(a, "alice", 5, "c1", 2, MQ_AUTH_WRITE, "home/x", 6));
    assert_true(mq_auth_allows(a, "alice", 5, "c1", 2, MQ_AUTH_WRITE, "work/x", 6));

    /* Broken files: the reload fails and the running ones stay. */
    write_text(f->pw, "alice\n");
    char *diag;
    size_t len;
    FILE *d = open_memstream(&diag, &len);
    assert_int_equal(mq_auth_reload(a, d), CN_ECONFIG);
    fclose(d);
    char want[256];
    snprintf(want, sizeof want, "cairn: password-file %s:1: expected 'username:hash'\n", f->pw);
    assert_string_equal(diag, want);
    free(diag);
    write_users(f->pw, "alice", "changed", NULL, NULL);
    write_text(f->acl, "topic rw x\ntopic read #/a\n");
    d = open_memstream(&diag, &len);
    assert_int_equal(mq_auth_reload(a, d), CN_ECONFIG);
    fclose(d);
    snprintf(want, sizeof want, "cairn: acl-file %s:2: bad topic filter '#/a'\n", f->acl);
    assert_string_equal(diag, want);
    free(diag);
    assert_true(mq_auth_allows(a, "alice", 5, "c1", 2, MQ_AUTH_WRITE, "work/x", 6));
    c = creds("c1", "alice", "changed");
    assert_int_equal(ask(f, a, &c, 5), MQ_AUTH_OK);
    mq_auth_stats_t st;
    mq_auth_get_stats(a, &st);
    assert_int_equal(st.reloads, 1);
    mq_auth_free(a);

    /* A missing file at startup is a config error. */
    mq_auth_opts_t o;
    mq_auth_opts_default(&o);
    o.password_file = "/nonexistent/cairn-passwd";
    o.done = rec_done;
    o.done_arg = &f->rec;
    d = open_memstream(&diag, &len);
    assert_int_equal(mq_auth_new(&o, d, &a), CN_ECONFIG);
    fclose(d);
    assert_string_equal(
        diag, "cairn: password-file /nonexistent/cairn-passwd: No such file or directory\n");
    free(diag);
    o.password_file = NULL;
    o.done = NULL;
    assert_int_equal(mq_auth_new(&o, NULL, &a), CN_EINVAL);
}

static void test_no_backend(void **state)
{
    fix_t *f = *state;
    mq_auth_t *a = service(f, false, false);
    assert_false(mq_auth_has_backend(a));
    mq_auth_creds_t c = creds("c1", "anyone", "x");
    assert_int_equal(ask(f, a, &c, 1), MQ_AUTH_BAD_CREDENTIALS);
    c.anonymous_ok = true;
    assert_int_equal(ask(f, a, &c, 2), MQ_AUTH_OK);
    assert_true(f->rec.sync[1] && f->rec.sync[2]);
    /* No ACL file: everything allowed. */
    assert_true(mq_auth_allows(a, NULL, 0, "c", 1, MQ_AUTH_SUBSCRIBE, "#", 1));
    mq_auth_free(a);
}

static void test_busy(void **state)
{
    fix_t *f = *state;
    mq_auth_opts_t o;
    mq_auth_opts_default(&o);
    o.password_file = f->pw;
    o.done = rec_done;
    o.done_arg = &f->rec;
    o.workers = 1;
    o.queue_max = 1;
    mq_auth_t *a;
    assert_int_equal(mq_auth_new(&o, NULL, &a), 0);
    /* Token 1 blocks the only worker inside done(); token 2 fills the queue. */
    f->rec.block_token = 1;
    mq_auth_creds_t c = creds("c1", "alice", "wrong");
    connect_rec(a, &f->rec, &c, 1);
    pthread_mutex_lock(&f->rec.mu);
    while (!f->rec.blocked)
        pthread_cond_wait(&f->rec.cv, &f->rec.mu);
    pthread_mutex_unlock(&f->rec.mu);
    connect_rec(a, &f->rec, &c, 2);
    connect_rec(a, &f->rec, &c, 3);
    assert_int_equal(f->rec.reason[3], MQ_AUTH_BUSY);
    assert_true(f->rec.sync[3]);
    pthread_mutex_lock(&f->rec.mu);
    f->rec.released = true;
    pthread_cond_broadcast(&f->rec.cv);
    pthread_mutex_unlock(&f->rec.mu);
    assert_true(rec_wait(&f->rec, 3));
    mq_auth_free(a);
    for (int t = 1; t <= 3; t++)
        assert_int_equal(f->rec.times[t], 1);
    assert_int_equal(f->rec.reason[2], MQ_AUTH_BAD_CREDENTIALS);
}

/* ------------------------------------------------------------ concurrency */

#define THREADS 4
#define PER     150

typedef struct worker_arg {
    fix_t *f;
    mq_auth_t *a;
    int idx;
    int acl_ok;
} worker_arg_t;

static const struct {
    const char *user, *pw;
    uint8_t want;
} CASES[4] = {{"alice", "wonder", MQ_AUTH_OK},
              {"bob", "builder", MQ_AUTH_OK},
              {"bob", "nope", MQ_AUTH_BAD_CREDENTIALS},
              {"eve", "x", MQ_AUTH_BAD_CREDENTIALS}};

static void *connector(void *arg)
{
    worker_arg_t *w = arg;
    for (int i = 0; i < PER; i++) {
        uint64_t token = (uint64_t)(w->idx * PER + i);
        mq_auth_creds_t c = creds("cx", CASES[token % 4].user, CASES[token % 4].pw);
        mq_auth_connect(w->a, &c, token);
        w->acl_ok += mq_auth_allows(w->a, "alice", 5, "cx", 2, MQ_AUTH_WRITE, "home/a", 6);
    }
    return NULL;
}

static void *reloader(void *arg)
{
    worker_arg_t *w = arg;
    for (int i = 0; i < 20; i++) {
        /* Alternate two texts with the same rules, so every reload swaps. */
        write_text(w->f->acl, i % 2 ? "user alice\ntopic readwrite home/#\n# v2\n"
                                    : "user alice\ntopic readwrite home/#\n");
        assert_int_equal(mq_auth_reload(w->a, stderr), 0);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    fix_t *f = *state;
    mq_auth_t *a = service(f, true, true);
    pthread_t th[THREADS + 1];
    worker_arg_t args[THREADS + 1];
    for (int i = 0; i <= THREADS; i++) {
        args[i] = (worker_arg_t){f, a, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, i < THREADS ? connector : reloader, &args[i]),
                         0);
    }
    for (int i = 0; i <= THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_true(rec_wait(&f->rec, THREADS * PER));
    mq_auth_free(a);
    for (uint64_t t = 0; t < THREADS * PER; t++) {
        if (f->rec.times[t] != 1 || f->rec.reason[t] != CASES[t % 4].want)
            fail_msg("token %llu: %u answers, reason 0x%02x, want 0x%02x", (unsigned long long)t,
                     f->rec.times[t], f->rec.reason[t], CASES[t % 4].want);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(args[i].acl_ok, PER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_backend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
