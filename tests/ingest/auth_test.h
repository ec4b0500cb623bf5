/* SPDX-License-Identifier: MIT */
/*
 * auth_test.h - shared by the auth service tests: a recorder for the
 * service's done() answers (per-token reason, how often, and whether the
 * answer came before mq_auth_connect returned) with a bounded wait, and
 * helpers to build credentials and write files.
 */
#ifndef AUTH_TEST_H
#define AUTH_TEST_H

#include "auth/auth.h"

#include <pthread.h>
#include <time.h>

#define REC_MAX 4096

typedef struct rec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint8_t reason[REC_MAX];
    uint32_t times[REC_MAX]; /* answers per token: must end at exactly 1 */
    uint32_t total;
    pthread_t caller;   /* thread inside mq_auth_connect (sync detection) */
    bool in_connect;    /* set around mq_auth_connect by connect_rec */
    bool sync[REC_MAX]; /* answered on the caller's thread during the call */
    /* Blocking: when block_token matches, done() waits for `released`. */
    uint64_t block_token;
    bool blocked, released;
} rec_t;

static inline void rec_init(rec_t *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->block_token = UINT64_MAX;
}

static inline void rec_destroy(rec_t *r)
{
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

static inline void rec_done(void *arg, uint64_t token, uint8_t reason)
{
    rec_t *r = arg;
    pthread_mutex_lock(&r->mu);
    if (token < REC_MAX) {
        r->reason[token] = reason;
        r->times[token]++;
        r->sync[token] = r->in_connect && pthread_equal(r->caller, pthread_self());
    }
    r->total++;
    pthread_cond_broadcast(&r->cv);
    if (token == r->block_token) {
        r->blocked = true;
        pthread_cond_broadcast(&r->cv);
        while (!r->released)
            pthread_cond_wait(&r->cv, &r->mu);
    }
    pthread_mutex_unlock(&r->mu);
}

/* Waits (at most 60 s: a hang fails the test, it never paces it) until
 * `total` answers arrived.  Returns false on timeout. */
static inline bool rec_wait(rec_t *r, uint32_t total)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 60;
    pthread_mutex_lock(&r->mu);
    int rc = 0;
    while (r->total < total && rc == 0)
        rc = pthread_cond_timedwait(&r->cv, &r->mu, &dl);
    bool ok = r->total >= total;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

static inline mq_auth_creds_t creds(const char *client, const char *user, const char *pw)
{
    mq_auth_creds_t c = {client,
                         strlen(client),
                         (const uint8_t *)user,
                         user ? strlen(user) : 0,
                         (const uint8_t *)pw,
                         pw ? strlen(pw) : 0,
                         "127.0.0.1:50000",
                         4,
                         false};
    return c;
}

/* mq_auth_connect with the recorder told it is inside the call. */
static inline void connect_rec(mq_auth_t *a, rec_t *r, const mq_auth_creds_t *c, uint64_t token)
{
    pthread_mutex_lock(&r->mu);
    r->caller = pthread_self();
    r->in_connect = true;
    pthread_mutex_unlock(&r->mu);
    mq_auth_connect(a, c, token);
    pthread_mutex_lock(&r->mu);
    r->in_connect = false;
    pthread_mutex_unlock(&r->mu);
}

#endif /* AUTH_TEST_H */
