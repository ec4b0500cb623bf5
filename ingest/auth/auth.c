/* SPDX-License-Identifier: MIT */
/*
 * auth.c - the auth service: the CONNECT decision chain, the KDF worker
 * pool, reload, and the ACL check (contract and order of checks in
 * auth.h).
 *
 *   mq_auth_connect (any thread)
 *     -> fast answers on the caller's thread: anonymous, no backend, cache
 *     -> else a job on the bounded queue -> worker: password-file lookup
 *        under mu, KDF outside it -> done()  |  user unknown: HTTP?
 *           -> mq_auth__http_post_take -> HTTP thread -> http_done() -> done()
 *
 * NOTES
 *  1. The ACL is read by every PUBLISH and SUBSCRIBE on every loop thread,
 *     so mq_auth_allows takes no lock and touches no shared counter: it
 *     loads the ACL pointer (acquire) and reads the immutable parsed ACL.
 *     A reload publishes a new ACL (release) and RETIRES the old one
 *     instead of freeing it, because a loop may still be inside a check;
 *     retired ACLs are freed by mq_auth_free.  Reloads are operator
 *     actions (SIGHUP), so what is retired stays small: one parsed ACL per
 *     reload, and an unchanged file (same bytes) is not swapped at all.
 *  2. The password file is only read by workers, under mu, for the time of
 *     a lookup (the hash is copied out); a reload swaps it under mu and
 *     frees the old one at once.
 *  3. Every job is answered exactly once: by a worker, by the HTTP thread
 *     (through http_done), or by mq_auth_free with 0x88 for what is still
 *     queued when the workers stop (they finish the job in hand first).
 *     The HTTP client fails its pending requests when it is freed, which
 *     happens after the workers are joined (they are its only producers).
 *  4. A verification that started with an older password file may finish
 *     after a reload; its cache entry carries that file's generation, which
 *     no longer matches, so it never answers for the new file (dropping
 *     the entries at reload alone would race with such a late insert).
 */
#include "auth_int.h"

#include <assert.h>
#include <stdatomic.h>

typedef struct job {
    struct job *next;
    uint64_t token;
    mq_auth_t *a;
    mq_auth_creds_t c; /* pointers into buf */
    char *buf;         /* owned copies of client id, user, password, peer */
    uint8_t key[32];   /* HTTP cache key, computed by the worker */
} job_t;

struct mq_auth {
    mq_auth_opts_t o; /* strings owned */
    cn_clock_t clock;
    pthread_mutex_t mu; /* pwfile, acl_text, queue, stop */
    pthread_cond_t cv;
    mq_auth_pwfile_t *pwfile;
    _Atomic uint32_t pw_gen; /* bumped with every installed password file (NOTES 4) */
    mq_auth_hash_t dummy;    /* cost template for unknown users (auth.h step 3) */
    bool have_dummy;
    _Atomic(mq_auth_acl_t *) acl; /* NOTES 1 */
    uint8_t *acl_text;            /* bytes of the ACL in force, to skip no-op reloads */
    size_t acl_len;
    mq_auth_acl_t **retired;
    size_t nretired;
    job_t *head, *tail;
    size_t queued;
    bool stop;
    pthread_t *threads;
    uint32_t nthreads;
    mq_auth__cache_t *cache;
    mq_auth__http_t *http;
    _Atomic uint64_t st[8]; /* mq_auth_stats_t order */
};

enum { S_CONNECTS, S_ACCEPTED, S_REFUSED, S_KDF, S_HITS, S_HTTP, S_HTTP_FAIL, S_RELOADS };

static void count(mq_auth_t *a, int i)
{
    atomic_fetch_add_explicit(&a->st[i], 1, memory_order_relaxed);
}

void mq_auth_opts_default(mq_auth_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->http_timeout_ns = 5000000000LL;
    o->cache_ttl_ns = 120000000000LL;
    o->http_allow_ttl_ns = 120000000000LL;
    o->http_deny_ttl_ns = 10000000000LL;
    o->cache_entries = 16384;
    o->workers = 2;
    o->queue_max = 10000;
    o->http_max_conns = 8;
}

static bool set(const char *s)
{
    return s && s[0];
}

static void answer(mq_auth_t *a, uint64_t token, uint8_t reason)
{
    count(a, reason == MQ_AUTH_OK ? S_ACCEPTED : S_REFUSED);
    a->o.done(a->o.done_arg, token, reason);
}

/* ---------------------------------------------------------------- files */

static int load_files(mq_auth_t *a, FILE *diag, mq_auth_pwfile_t **pf, mq_auth_acl_t **acl,
                      uint8_t **acl_text, size_t *acl_len)
{
    *pf = NULL;
    *acl = NULL;
    *acl_text = NULL;
    *acl_len = 0;
    if (set(a->o.password_file) && mq_auth_pwfile_load(a->o.password_file, diag, pf) < 0)
        return CN_ECONFIG;
    if (set(a->o.acl_file)) {
        int rc = cn_file_read_all(a->o.acl_file, acl_text, acl_len);
        if (rc < 0) {
            if (diag)
                fprintf(diag, "cairn: acl-file %s: %s\n", a->o.acl_file, cn_strerror(rc));
        } else {
            rc = mq_auth_acl_parse(a->o.acl_file, (const char *)*acl_text, *acl_len, diag, acl);
        }
        if (rc < 0) {
            mq_auth_pwfile_free(*pf);
            cn_free(*acl_text);
            *pf = NULL;
            *acl_text = NULL;
            return CN_ECONFIG;
        }
    }
    return 0;
}

/* Installs pf (always) and acl (when its text changed); under mu. */
static void install(mq_auth_t *a, mq_auth_pwfile_t *pf, mq_auth_acl_t *acl, uint8_t *text,
                    size_t len)
{
    mq_auth_pwfile_free(a->pwfile);
    a->pwfile = pf;
    atomic_fetch_add_explicit(&a->pw_gen, 1, memory_order_release);
    a->have_dummy = pf && mq_auth__pwfile_any(pf, &a->dummy) == 0;
    mq_auth_acl_t *old = atomic_load_explicit(&a->acl, memory_order_relaxed);
    bool same = text && a->acl_text && len == a->acl_len && memcmp(text, a->acl_text, len) == 0;
    if (same || (!old && !acl)) {
        mq_auth_acl_free(acl);
        cn_free(text);
        return;
    }
    atomic_store_explicit(&a->acl, acl, memory_order_release);
    cn_free(a->acl_text);
    a->acl_text = text;
    a->acl_len = len;
    if (old) { /* NOTES 1 */
        a->retired = cn_realloc(a->retired, (a->nretired + 1) * sizeof *a->retired);
        a->retired[a->nretired++] = old;
    }
}

int mq_auth_reload(mq_auth_t *a, FILE *diag)
{
    mq_auth_pwfile_t *pf;
    mq_auth_acl_t *acl;
    uint8_t *text;
    size_t len;
    if (load_files(a, diag, &pf, &acl, &text, &len) < 0)
        return CN_ECONFIG;
    pthread_mutex_lock(&a->mu);
    install(a, pf, acl, text, len);
    pthread_mutex_unlock(&a->mu);
    mq_auth__cache_drop(a->cache, MQ_AUTH__KIND_PW);
    count(a, S_RELOADS);
    return 0;
}

bool mq_auth_has_backend(const mq_auth_t *a)
{
    return set(a->o.password_file) || a->http;
}

bool mq_auth_allows(mq_auth_t *a, const char *user, size_t ulen, const char *client, size_t clen,
                    int access, const char *topic, size_t n)
{
    const mq_auth_acl_t *acl = atomic_load_explicit(&a->acl, memory_order_acquire);
    return mq_auth_acl_allows(acl, user, ulen, client, clen, access, topic, n);
}

/* ------------------------------------------------------------ the chain */

static int64_t now(const mq_auth_t *a)
{
    return cn_clock_now(&a->clock);
}

static void pw_key(const mq_auth_t *a, const mq_auth_creds_t *c, uint8_t key[32])
{
    const void *parts[2] = {c->username, c->password};
    size_t lens[2] = {c->username_len, c->password_len};
    mq_auth__cache_key(a->cache, MQ_AUTH__KIND_PW, parts, lens, 2, key);
}

static void http_key(const mq_auth_t *a, const mq_auth_creds_t *c, uint8_t key[32])
{
    size_t hlen;
    const char *host = mq_auth__peer_host(c->peer, &hlen);
    const void *parts[5] = {c->client_id, c->username, c->password, host, &c->level};
    size_t lens[5] = {c->client_id_len, c->username_len, c->password_len, hlen, 1};
    mq_auth__cache_key(a->cache, MQ_AUTH__KIND_HTTP, parts, lens, 5, key);
}

/* The end of the chain (auth.h step 5). */
static uint8_t nobody(const mq_auth_creds_t *c)
{
    return c->username ? MQ_AUTH_BAD_CREDENTIALS : MQ_AUTH_NOT_AUTHORIZED;
}

static void job_free(job_t *j)
{
    cn_free(j->buf);
    cn_free(j);
}

static void http_done(void *arg, int verdict)
{
    job_t *j = arg;
    mq_auth_t *a = j->a;
    uint8_t reason = MQ_AUTH_UNAVAILABLE;
    int64_t ttl = 0;
    if (verdict == MQ_AUTH__HTTP_ALLOW) {
        reason = MQ_AUTH_OK;
        ttl = a->o.http_allow_ttl_ns;
    } else if (verdict == MQ_AUTH__HTTP_DENY) {
        reason = MQ_AUTH_NOT_AUTHORIZED;
        ttl = a->o.http_deny_ttl_ns;
    } else if (verdict == MQ_AUTH__HTTP_IGNORE) {
        reason = nobody(&j->c);
        ttl = a->o.http_deny_ttl_ns;
    } else {
        count(a, S_HTTP_FAIL);
    }
    if (ttl > 0)
        mq_auth__cache_put(a->cache, j->key, MQ_AUTH__KIND_HTTP, 0, reason, now(a) + ttl);
    answer(a, j->token, reason);
    job_free(j);
}

/* Hands j to the HTTP service (auth.h step 4), or answers from the cache.
 * Takes j. */
static void ask_http(mq_auth_t *a, job_t *j)
{
    http_key(a, &j->c, j->key);
    uint8_t reason;
    if (mq_auth__cache_get(a->cache, j->key, now(a), 0, &reason)) {
        count(a, S_HITS);
        answer(a, j->token, reason);
        job_free(j);
        return;
    }
    cn_buf_t body;
    cn_buf_init(&body);
    mq_auth__http_body(&j->c, &body);
    count(a, S_HTTP);
    mq_auth__http_post_take(a->http, (char *)body.p, body.len, http_done, j);
}

/* A worker's part: the password file (auth.h step 3), then HTTP.  Takes j. */
static void decide(mq_auth_t *a, job_t *j)
{
    const mq_auth_creds_t *c = &j->c;
    mq_auth_hash_t h;
    int found = CN_ENOTFOUND;
    bool dummy = false;
    pthread_mutex_lock(&a->mu);
    uint32_t gen = atomic_load_explicit(&a->pw_gen, memory_order_relaxed);
    if (a->pwfile && c->username)
        found = mq_auth_pwfile_lookup(a->pwfile, (const char *)c->username, c->username_len, &h);
    if (found < 0 && c->username && a->have_dummy) {
        h = a->dummy;
        dummy = true;
    }
    pthread_mutex_unlock(&a->mu);
    if (found == 0 || dummy) {
        count(a, S_KDF);
        bool ok = mq_auth_hash_verify(&h, c->password, c->password ? c->password_len : 0);
        memset(&h, 0, sizeof h);
        if (found == 0) {
            ok = ok && c->password;
            if (ok && a->o.cache_ttl_ns > 0) {
                uint8_t key[32];
                pw_key(a, c, key);
                mq_auth__cache_put(a->cache, key, MQ_AUTH__KIND_PW, gen, MQ_AUTH_OK,
                                   now(a) + a->o.cache_ttl_ns);
            }
            answer(a, j->token, ok ? MQ_AUTH_OK : MQ_AUTH_BAD_CREDENTIALS);
            job_free(j);
            return;
        }
    }
    if (a->http) {
        ask_http(a, j);
        return;
    }
    answer(a, j->token, nobody(c));
    job_free(j);
}

static void *worker(void *arg)
{
    mq_auth_t *a = arg;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->head && !a->stop)
            pthread_cond_wait(&a->cv, &a->mu);
        if (a->stop)
            break; /* mq_auth_free answers what is queued (NOTES 3) */
        job_t *j = a->head;
        a->head = j->next;
        if (!a->head)
            a->tail = NULL;
        a->queued--;
        pthread_mutex_unlock(&a->mu);
        decide(a, j);
        pthread_mutex_lock(&a->mu);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* Copies c into a job (one buffer for all the strings). */
static job_t *job_new(mq_auth_t *a, const mq_auth_creds_t *c, uint64_t token)
{
    size_t plen = c->peer ? strlen(c->peer) : 0;
    size_t total = c->client_id_len + 1 + c->username_len + c->password_len + plen + 1;
    job_t *j = cn_calloc(1, sizeof *j);
    char *p = j->buf = cn_malloc(total);
    j->a = a;
    j->token = token;
    j->c = *c;
    memcpy(p, c->client_id, c->client_id_len);
    p[c->client_id_len] = 0;
    j->c.client_id = p;
    p += c->client_id_len + 1;
    if (c->username) {
        memcpy(p, c->username, c->username_len);
        j->c.username = (const uint8_t *)p;
        p += c->username_len;
    }
    if (c->password) {
        memcpy(p, c->password, c->password_len);
        j->c.password = (const uint8_t *)p;
        p += c->password_len;
    }
    memcpy(p, c->peer ? c->peer : "", plen + 1);
    j->c.peer = p;
    return j;
}

/* Queues j for a worker.  False when the queue is full (j not taken). */
static bool enqueue(mq_auth_t *a, job_t *j)
{
    pthread_mutex_lock(&a->mu);
    bool ok = !a->stop && a->queued < a->o.queue_max;
    if (ok) {
        if (a->tail)
            a->tail->next = j;
        else
            a->head = j;
        a->tail = j;
        a->queued++;
        pthread_cond_signal(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    return ok;
}

void mq_auth_connect(mq_auth_t *a, const mq_auth_creds_t *c, uint64_t token)
{
    count(a, S_CONNECTS);
    if (!c->username && c->anonymous_ok) { /* step 1 */
        answer(a, token, MQ_AUTH_OK);
        return;
    }
    if (!mq_auth_has_backend(a)) { /* step 2 */
        answer(a, token, c->anonymous_ok ? MQ_AUTH_OK : MQ_AUTH_BAD_CREDENTIALS);
        return;
    }
    if (!c->username && !a->http) {
        answer(a, token, MQ_AUTH_NOT_AUTHORIZED);
        return;
    }
    if (c->username && c->password && a->o.cache_ttl_ns > 0) {
        uint8_t key[32], reason;
        pw_key(a, c, key);
        uint32_t gen = atomic_load_explicit(&a->pw_gen, memory_order_acquire);
        if (mq_auth__cache_get(a->cache, key, now(a), gen, &reason)) {
            count(a, S_HITS);
            answer(a, token, reason);
            return;
        }
    }
    job_t *j = job_new(a, c, token);
    if (!enqueue(a, j)) {
        job_free(j);
        answer(a, token, MQ_AUTH_BUSY);
    }
}

/* ----------------------------------------------------------- lifecycle */

static int64_t system_now(void *arg)
{
    (void)arg;
    return cn_mono_ns();
}

static int start_threads(mq_auth_t *a)
{
    a->threads = cn_calloc(a->o.workers, sizeof *a->threads);
    for (uint32_t i = 0; i < a->o.workers; i++) {
        int rc = pthread_create(&a->threads[i], NULL, worker, a);
        if (rc)
            return -rc;
        a->nthreads++;
    }
    return 0;
}

int mq_auth_new(const mq_auth_opts_t *o, FILE *diag, mq_auth_t **out)
{
    if (!o->done || o->workers < 1 || o->workers > 64 || o->queue_max < 1 ||
        o->http_timeout_ns <= 0 || o->http_max_conns < 1 || o->cache_entries < 1)
        return CN_EINVAL;
    mq_auth_t *a = cn_calloc(1, sizeof *a);
    a->o = *o;
    a->o.password_file = cn_strdup(set(o->password_file) ? o->password_file : "");
    a->o.acl_file = cn_strdup(set(o->acl_file) ? o->acl_file : "");
    a->o.http_url = cn_strdup(set(o->http_url) ? o->http_url : "");
    a->clock = o->clock.now_ns ? o->clock : (cn_clock_t){system_now, NULL};
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    a->cache = mq_auth__cache_new(o->cache_entries);
    mq_auth_pwfile_t *pf;
    mq_auth_acl_t *acl;
    uint8_t *text;
    size_t len;
    int rc = load_files(a, diag, &pf, &acl, &text, &len);
    if (rc == 0)
        install(a, pf, acl, text, len);
    if (rc == 0 && set(a->o.http_url)) {
        rc = mq_auth__http_new(a->o.http_url, o->http_timeout_ns, o->http_max_conns, &a->http);
        if (rc < 0 && diag)
            fprintf(diag, "cairn: auth-http-url %s: %s\n", a->o.http_url, cn_strerror(rc));
    }
    if (rc == 0)
        rc = start_threads(a);
    if (rc < 0) {
        mq_auth_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void mq_auth_free(mq_auth_t *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    for (uint32_t i = 0; i < a->nthreads; i++)
        pthread_join(a->threads[i], NULL);
    /* The workers are gone: answer what is still queued (NOTES 3). */
    while (a->head) {
        job_t *j = a->head;
        a->head = j->next;
        answer(a, j->token, MQ_AUTH_UNAVAILABLE);
        job_free(j);
    }
    mq_auth__http_free(a->http); /* fails its pending requests via http_done */
    cn_free(a->threads);
    mq_auth__cache_free(a->cache);
    mq_auth_pwfile_free(a->pwfile);
    mq_auth_acl_free(atomic_load(&a->acl));
    for (size_t i = 0; i < a->nretired; i++)
        mq_auth_acl_free(a->retired[i]);
    cn_free(a->retired);
    cn_free(a->acl_text);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    cn_free((char *)a->o.password_file);
    cn_free((char *)a->o.acl_file);
    cn_free((char *)a->o.http_url);
    memset(&a->dummy, 0, sizeof a->dummy);
    cn_free(a);
}

void mq_auth_get_stats(mq_auth_t *a, mq_auth_stats_t *st)
{
    uint64_t v[8];
    for (int i = 0; i < 8; i++)
        v[i] = atomic_load_explicit(&a->st[i], memory_order_relaxed);
    *st = (mq_auth_stats_t){v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
}
