/* SPDX-License-Identifier: MIT */
/*
 * store_check.h - shared helpers of the metadata-store tests
 * (test_store_*.c): a temporary directory with meta.db, an injectable
 * clock, open/reopen, a collector for retained-match callbacks and a
 * seeded PRNG.  Nothing sleeps: results are awaited with mq_store_sync on
 * the match's sequence number (the store publishes it after the callback).
 */
#ifndef TESTS_STORE_CHECK_H
#define TESTS_STORE_CHECK_H

#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SLOW_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define SLOW_BUILD 1
#endif
#endif
#ifndef SLOW_BUILD
#define SLOW_BUILD 0
#endif

typedef struct sfx {
    char dir[64];
    char path[96];
    _Atomic int64_t now; /* the injected wall clock, ns */
    mq_store_opts_t o;
    mq_store_t *st;
} sfx_t;

static inline int64_t sfx_clock(void *arg)
{
    return atomic_load(&((sfx_t *)arg)->now);
}

static inline int sfx_setup(void **state)
{
    sfx_t *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/cn_store_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/meta.db", f->dir);
    atomic_init(&f->now, (int64_t)1767225600 * 1000000000); /* 2026-01-01 */
    mq_store_opts_default(&f->o);
    f->o.path = f->path;
    f->o.clock = (cn_clock_t){sfx_clock, f};
    f->o.sweep_interval_ns = (int64_t)3600 * 1000000000; /* tests sweep explicitly */
    *state = f;
    return 0;
}

static inline void sfx_open(sfx_t *f)
{
    assert_int_equal(mq_store_open(&f->o, &f->st), 0);
}

static inline void sfx_close(sfx_t *f)
{
    mq_store_close(f->st);
    f->st = NULL;
}

static inline void sfx_reopen(sfx_t *f)
{
    sfx_close(f);
    sfx_open(f);
}

static inline int sfx_teardown(void **state)
{
    sfx_t *f = *state;
    mq_store_close(f->st);
    cn_rmtree(f->dir);
    free(f);
    return 0;
}

/* Waits for an operation's seq (asserting it was accepted). */
static inline void sfx_sync(sfx_t *f, int64_t seq)
{
    assert_true(seq > 0);
    assert_int_equal(mq_store_sync(f->st, (uint64_t)seq), 0);
}

/* ---------------------------------------------------- match collection */

typedef struct coll {
    pthread_mutex_t mu;
    mq_store_msg_t **v;
    size_t n, cap;
    int calls;
    int lasts;
} coll_t;

static inline void coll_cb(void *arg, mq_store_msg_t **msgs, size_t n, bool last)
{
    coll_t *c = arg;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < n; i++) {
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 16;
            c->v = realloc(c->v, c->cap * sizeof(*c->v));
        }
        c->v[c->n++] = msgs[i];
    }
    c->calls++;
    c->lasts += last;
    pthread_mutex_unlock(&c->mu);
}

static inline void coll_free(coll_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        mq_store_msg_unref(c->v[i]);
    free(c->v);
    pthread_mutex_destroy(&c->mu);
}

static int cmp_msg_topic(const void *a, const void *b)
{
    const mq_store_msg_t *x = *(mq_store_msg_t *const *)a, *y = *(mq_store_msg_t *const *)b;
    int c = memcmp(x->topic, y->topic, CN_MIN(x->topic_len, y->topic_len));
    return c ? c : (int)x->topic_len - (int)y->topic_len;
}

/* Runs a match to completion; c (OUT) gets the messages sorted by topic. */
static inline void sfx_match(sfx_t *f, const char *filter, coll_t *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    int64_t seq = mq_store_retain_match(f->st, filter, strlen(filter), coll_cb, c);
    if (seq < 0)
        fail_msg("match %s: %s", filter, cn_strerror((int)seq));
    sfx_sync(f, seq);
    pthread_mutex_lock(&c->mu);
    assert_int_equal(c->lasts, 1);
    if (c->n > 1)
        qsort(c->v, c->n, sizeof(*c->v), cmp_msg_topic);
    pthread_mutex_unlock(&c->mu);
}

/* The matched topics joined with ',' (sorted). */
static inline void coll_topics(const coll_t *c, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < c->n && o + c->v[i]->topic_len + 2 < cap; i++) {
        if (i)
            out[o++] = ',';
        memcpy(out + o, c->v[i]->topic, c->v[i]->topic_len);
        o += c->v[i]->topic_len;
        out[o] = 0;
    }
}

static inline int64_t sfx_retain(sfx_t *f, const char *topic, const char *payload, uint8_t qos,
                                 int64_t expiry)
{
    mq_store_retain_t r = {
        .topic = topic,
        .topic_len = strlen(topic),
        .qos = qos,
        .expiry_ns = expiry,
        .payload = (const uint8_t *)payload,
        .payload_len = strlen(payload),
    };
    return mq_store_retain_set(f->st, &r);
}

static inline uint64_t srnd(uint64_t *s)
{
    uint64_t x = *s += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

#endif /* TESTS_STORE_CHECK_H */
