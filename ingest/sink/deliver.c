/* SPDX-License-Identifier: MIT */
/*
 * deliver.c - the delivery machine every sink shares, on the delivery
 * thread's loop: reading the log into a window (uv_queue_work), per-key
 * ordering, the cursor, retries with exponential backoff and jitter, the
 * endpoint's health (down / probing / up) and dead letters.  The backends
 * (kafka.c, webhook.c) only send one record and report its result.
 *
 * Record life cycle (state in mq__ent_t.state):
 *
 *   fetch_done --> HELD --pump()/be->send--> INFLIGHT --done(OK)--> DONE
 *                   ^                          |  |
 *                   |    done(TRANSIENT): back |  | done(REJECTED), attempts < max
 *                   +--------------------------+  v
 *                   +---- on_retry_timer ------ RETRY
 *                                  done(REJECTED), attempts == max --> DONE (dead letter)
 *
 * NOTES
 *  1. Per-key order: a key's HELD entries form a list in seq order and are
 *     sent from its front only.  A webhook sends one record per key at a
 *     time (be->pipeline false); Kafka pipelines a key's records (the
 *     idempotent producer keeps them in order on the partition).  While
 *     any entry of a key waits for its retry (key->blocked > 0) nothing
 *     else of that key is sent; the retried entry goes back into the list
 *     at its seq position and leads again.
 *  2. The cursor is the seq of the first entry of the window not DONE, or
 *     the reader position when the window is empty: it only ever passes
 *     contiguous delivered (or dead-lettered) records.
 *  3. Transient failures (endpoint unreachable: connect refused, timeout,
 *     broker transport errors) do not count attempts: the sink goes DOWN,
 *     waits a jittered exponential backoff, sends ONE probe (H_PROBE) and
 *     resumes on its success.  Only an answer that refuses the record (HTTP
 *     status other than 2xx, a permanent Kafka error) counts toward
 *     max_attempts, after which the record is dead-lettered instead of
 *     blocking its key.
 *  4. Everything here runs on the sink system's loop thread; counters that
 *     other threads read are atomics, the dead-letter ring has its mutex.
 */
#include "sink_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

enum { FETCH_BYTES = 4 << 20 };

static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

int64_t mq__backoff(mq__sink_t *s, uint32_t n)
{
    int64_t d = s->def.backoff_min_ns;
    for (uint32_t i = 1; i < n && d < s->def.backoff_max_ns; i++)
        d *= 2;
    d = CN_MIN(d, s->def.backoff_max_ns);
    /* "Equal jitter": half fixed, half random, so retries of many keys
     * spread out yet never fire at once. */
    int64_t half = d / 2;
    return half + (int64_t)(rng_next(&s->rng) % (uint64_t)(half + 1));
}

static uint64_t ms_until(int64_t due)
{
    int64_t d = due - cn_mono_ns();
    return d <= 0 ? 0 : (uint64_t)((d + 999999) / 1000000);
}

/* ------------------------------------------------------------------ keys */

static mq__key_t *key_get(mq__sink_t *s, const uint8_t *p, size_t n)
{
    uint64_t h = cn_hash64(p, n);
    if (s->kcap) {
        for (mq__key_t *k = s->ktab[h & (s->kcap - 1)]; k; k = k->hnext)
            if (k->hash == h && k->len == n && memcmp(k->bytes, p, n) == 0)
                return k;
    }
    if (s->nkeys >= s->kcap) {
        size_t cap = s->kcap ? s->kcap * 2 : 256;
        mq__key_t **t = cn_calloc(cap, sizeof *t);
        for (size_t i = 0; i < s->kcap; i++) {
            for (mq__key_t *k = s->ktab[i], *nx; k; k = nx) {
                nx = k->hnext;
                k->hnext = t[k->hash & (cap - 1)];
                t[k->hash & (cap - 1)] = k;
            }
        }
        cn_free(s->ktab);
        s->ktab = t;
        s->kcap = cap;
    }
    mq__key_t *k = cn_calloc(1, sizeof *k + n);
    k->hash = h;
    k->len = n;
    memcpy(k->bytes, p, n);
    k->hnext = s->ktab[h & (s->kcap - 1)];
    s->ktab[h & (s->kcap - 1)] = k;
    s->nkeys++;
    return k;
}

static void key_release(mq__sink_t *s, mq__key_t *k)
{
    if (k->pending || k->inflight || k->held || k->in_runq || k->blocked)
        return;
    mq__key_t **pp = &s->ktab[k->hash & (s->kcap - 1)];
    while (*pp != k)
        pp = &(*pp)->hnext;
    *pp = k->hnext;
    s->nkeys--;
    cn_free(k);
}

static void runq_push(mq__sink_t *s, mq__key_t *k, bool front)
{
    if (k->in_runq)
        return;
    k->in_runq = true;
    if (front) {
        k->rnext = s->runq;
        s->runq = k;
        if (!s->runq_tail)
            s->runq_tail = k;
        return;
    }
    k->rnext = NULL;
    if (s->runq_tail)
        s->runq_tail->rnext = k;
    else
        s->runq = k;
    s->runq_tail = k;
}

static mq__key_t *runq_pop(mq__sink_t *s)
{
    mq__key_t *k = s->runq;
    s->runq = k->rnext;
    if (!s->runq)
        s->runq_tail = NULL;
    k->in_runq = false;
    return k;
}

/* Inserts e into its key's held list at its seq position (NOTES 1). */
static void held_insert(mq__key_t *k, mq__ent_t *e)
{
    e->state = ENT_HELD;
    if (!k->held || k->held_tail->rec.seq < e->rec.seq) {
        e->knext = NULL;
        if (k->held_tail)
            k->held_tail->knext = e;
        else
            k->held = e;
        k->held_tail = e;
        return;
    }
    mq__ent_t **pp = &k->held;
    while ((*pp)->rec.seq < e->rec.seq)
        pp = &(*pp)->knext;
    e->knext = *pp;
    *pp = e;
}

static mq__ent_t *held_pop(mq__key_t *k)
{
    mq__ent_t *e = k->held;
    k->held = e->knext;
    if (!k->held)
        k->held_tail = NULL;
    e->knext = NULL;
    return e;
}

static bool can_send(const mq__sink_t *s, const mq__key_t *k)
{
    return !k->blocked && (s->be->pipeline || k->inflight == 0);
}

/* ------------------------------------------------------------------ pump */

void mq__sink_pump(mq__sink_t *s)
{
    if (s->stopped || s->health == H_DOWN)
        return;
    while (s->runq) {
        if (s->health == H_PROBE && s->inflight > 0)
            return;
        mq__key_t *k = runq_pop(s);
        while (k->held && can_send(s, k)) {
            if (s->health == H_PROBE && s->inflight > 0) {
                runq_push(s, k, true);
                return;
            }
            mq__ent_t *e = held_pop(k);
            int rc = s->be->send(s, e);
            if (rc == CN_EFULL) {
                held_insert(k, e);
                runq_push(s, k, true);
                return;
            }
            e->state = ENT_INFLIGHT;
            k->inflight++;
            s->inflight++;
            if (rc < 0)
                mq__sink_done(s, e, MQ__REJECTED, cn_strerror(rc));
        }
    }
}

/* -------------------------------------------------------------- window */

static void chunk_free(mq__chunk_t *c)
{
    mq_sink_batch_free(&c->b);
    cn_free(c->ents);
    cn_free(c);
}

static void maybe_fetch(mq__sink_t *s);

/* Moves the cursor over the DONE prefix of the window (NOTES 2). */
static void advance(mq__sink_t *s)
{
    while (s->head) {
        mq__chunk_t *c = s->head;
        while (c->head < c->n && c->ents[c->head].state == ENT_DONE)
            c->head++;
        if (c->head < c->n)
            break;
        s->head = c->next;
        if (!s->head)
            s->tail = NULL;
        chunk_free(c);
    }
    uint64_t cur = s->head ? s->head->ents[s->head->head].rec.seq : s->read_seq;
    atomic_store(&s->oldest_ts, s->head ? s->head->ents[s->head->head].rec.ts_ns : 0);
    if (cur > atomic_load(&s->cursor)) {
        atomic_store(&s->cursor, cur);
        mq_sink_log_commit(s->sys->log, s->id, cur);
        if (cur >= atomic_load(&s->sys->drain_at)) {
            pthread_mutex_lock(&s->sys->mu);
            pthread_cond_broadcast(&s->sys->progress);
            pthread_mutex_unlock(&s->sys->mu);
        }
    }
    maybe_fetch(s);
}

static void fetch_work(uv_work_t *w)
{
    mq__sink_t *s = w->data;
    mq__chunk_t *c = cn_calloc(1, sizeof *c);
    mq_sink_batch_init(&c->b);
    s->fetch_rc = mq_sink_log_read(s->sys->log, &s->pos, s->id, FETCH_BYTES, &c->b);
    c->end_seq = s->pos.seq;
    s->fetched = c;
}

static void add_chunk(mq__sink_t *s, mq__chunk_t *c)
{
    c->n = c->b.n;
    c->ents = cn_calloc(c->n, sizeof *c->ents);
    for (uint32_t i = 0; i < c->n; i++) {
        mq__ent_t *e = &c->ents[i];
        e->rec = c->b.recs[i];
        e->chunk = c;
        e->key = key_get(s, e->rec.key, e->rec.key_len);
        e->key->pending++;
        held_insert(e->key, e);
        if (can_send(s, e->key))
            runq_push(s, e->key, false);
    }
    s->window += c->n;
    if (s->tail)
        s->tail->next = c;
    else
        s->head = c;
    s->tail = c;
}

static void fetch_done(uv_work_t *w, int status)
{
    mq__sink_t *s = w->data;
    mq__chunk_t *c = s->fetched;
    s->fetched = NULL;
    s->fetching = false;
    if (status < 0 || s->stopped || s->fetch_rc < 0) {
        if (!s->stopped && s->fetch_rc < 0)
            cn_error("sink %s: reading the log: %s", s->def.name, cn_strerror(s->fetch_rc));
        chunk_free(c);
        return;
    }
    s->read_seq = c->end_seq;
    if (c->b.n == 0)
        chunk_free(c);
    else
        add_chunk(s, c);
    advance(s);
    mq__sink_pump(s);
}

static void maybe_fetch(mq__sink_t *s)
{
    if (s->fetching || s->stopped || s->window >= s->def.max_inflight * 2u)
        return;
    if (s->read_seq >= atomic_load(&s->sys->durable))
        return;
    s->fetching = true;
    s->work.data = s;
    int rc = uv_queue_work(&s->sys->loop, &s->work, fetch_work, fetch_done);
    if (rc < 0) {
        s->fetching = false;
        cn_error("sink %s: uv_queue_work: %s", s->def.name, uv_strerror(rc));
    }
}

void mq__sink_kick(mq__sink_t *s)
{
    if (s->attached)
        maybe_fetch(s);
}

/* ------------------------------------------------------- dead letters */

static char *printable(const uint8_t *p, size_t n)
{
    char *o = cn_malloc(n * 4 + 1), *w = o;
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
            *w++ = (char)p[i];
        else
            w += sprintf(w, "\\x%02x", p[i]);
    }
    *w = 0;
    return o;
}

static void dead_letter(mq__sink_t *s, mq__ent_t *e, const char *err)
{
    atomic_fetch_add(&s->dead_lettered, 1);
    char *key = printable(e->rec.key, e->rec.key_len);
    cn_warn("sink %s: record %" PRIu64 " (key '%s') dead-lettered after %u attempts: %s",
            s->def.name, e->rec.seq, key, e->attempts, err ? err : "?");
    mq__log_deadletter(s->sys->log, s->def.name, &e->rec, e->attempts, err ? err : "");
    pthread_mutex_lock(&s->dead_mu);
    mq__dead_t *d = &s->dead[s->dead_at];
    cn_free(d->key);
    cn_free(d->error);
    d->seq = e->rec.seq;
    d->ts_ns = e->rec.ts_ns;
    d->attempts = e->attempts;
    d->key = key;
    d->error = cn_strdup(err ? err : "");
    s->dead_at = (s->dead_at + 1) % MQ__DEAD_KEEP;
    if (s->ndead < MQ__DEAD_KEEP)
        s->ndead++;
    pthread_mutex_unlock(&s->dead_mu);
}

/* --------------------------------------------------------- results */

static void on_retry_timer(uv_timer_t *t);
static void on_health_timer(uv_timer_t *t);

static void arm_retry(mq__sink_t *s)
{
    if (!s->retry || s->stopped)
        return;
    int64_t due = INT64_MAX;
    for (mq__ent_t *e = s->retry; e; e = e->knext)
        due = CN_MIN(due, e->due_ns);
    uv_timer_start(&s->retry_timer, on_retry_timer, ms_until(due), 0);
}

static void go_down(mq__sink_t *s, const char *err)
{
    if (s->health == H_DOWN)
        return;
    s->health = H_DOWN;
    s->down_streak++;
    atomic_store(&s->down, true);
    int64_t wait = mq__backoff(s, s->down_streak);
    if (s->down_streak == 1)
        cn_warn("sink %s: endpoint unavailable (%s); retrying with backoff", s->def.name,
                err ? err : "?");
    uv_timer_start(&s->health_timer, on_health_timer, ms_until(cn_mono_ns() + wait), 0);
}

static void mark_up(mq__sink_t *s)
{
    if (s->health == H_UP)
        return;
    if (s->down_streak)
        cn_info("sink %s: endpoint available again", s->def.name);
    s->health = H_UP;
    s->down_streak = 0;
    atomic_store(&s->down, false);
}

void mq__sink_done(mq__sink_t *s, mq__ent_t *e, int result, const char *err)
{
    mq__key_t *k = e->key;
    k->inflight--;
    s->inflight--;
    e->req = NULL;
    if (result != MQ__OK)
        atomic_fetch_add(&s->failed, 1);
    if (result == MQ__TRANSIENT) {
        held_insert(k, e);
        go_down(s, err);
    } else {
        if (result == MQ__OK)
            atomic_fetch_add(&s->delivered, 1);
        if (s->health == H_PROBE)
            mark_up(s); /* any answer proves the endpoint reachable */
        if (result == MQ__REJECTED && ++e->attempts < s->def.max_attempts) {
            atomic_fetch_add(&s->retried, 1);
            e->state = ENT_RETRY;
            e->due_ns = cn_mono_ns() + mq__backoff(s, e->attempts);
            e->knext = s->retry;
            s->retry = e;
            k->blocked++;
            arm_retry(s);
        } else {
            if (result == MQ__REJECTED)
                dead_letter(s, e, err);
            e->state = ENT_DONE;
            k->pending--;
            s->window--;
        }
    }
    if (k->held && can_send(s, k))
        runq_push(s, k, false);
    if (e->state == ENT_DONE) {
        key_release(s, k);
        if (&e->chunk->ents[e->chunk->head] == e && e->chunk == s->head)
            advance(s);
    }
}

/* --------------------------------------------------------- timers */

static void on_retry_timer(uv_timer_t *t)
{
    mq__sink_t *s = t->data;
    int64_t now = cn_mono_ns();
    mq__ent_t **pp = &s->retry;
    while (*pp) {
        mq__ent_t *e = *pp;
        if (e->due_ns > now) {
            pp = &e->knext;
            continue;
        }
        *pp = e->knext;
        e->key->blocked--;
        held_insert(e->key, e);
        if (can_send(s, e->key))
            runq_push(s, e->key, true);
    }
    arm_retry(s);
    mq__sink_pump(s);
}

static void on_health_timer(uv_timer_t *t)
{
    mq__sink_t *s = t->data;
    s->health = H_PROBE;
    mq__sink_pump(s);
}

/* ------------------------------------------------------- lifecycle */

int mq__sink_init(mq__sink_t *s)
{
    uv_loop_t *loop = &s->sys->loop;
    int rc = uv_timer_init(loop, &s->retry_timer);
    if (rc == 0)
        rc = uv_timer_init(loop, &s->health_timer);
    if (rc < 0)
        return cn_from_uv(rc);
    s->retry_timer.data = s->health_timer.data = s;
    s->rng = cn_hash64(s->def.name, strlen(s->def.name)) | 1;
    uint64_t cur = mq_sink_log_cursor(s->sys->log, s->id);
    atomic_store(&s->cursor, cur);
    s->read_seq = cur;
    s->pos.fd = -1;
    mq_sink_log_seek(&s->pos, cur);
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    mq__sink_t *s = h->data;
    s->closing--;
}

void mq__sink_backend_closed(mq__sink_t *s)
{
    s->closing--;
}

void mq__sink_stop(mq__sink_t *s)
{
    if (!s->attached || s->stopped)
        return;
    s->stopped = true;
    s->closing = 3; /* two timers and the backend */
    uv_close((uv_handle_t *)&s->retry_timer, on_timer_closed);
    uv_close((uv_handle_t *)&s->health_timer, on_timer_closed);
    s->be->stop(s);
}

void mq__sink_free(mq__sink_t *s)
{
    if (!s)
        return;
    if (s->be && s->be->free)
        s->be->free(s);
    while (s->head) {
        mq__chunk_t *c = s->head;
        s->head = c->next;
        chunk_free(c);
    }
    for (size_t i = 0; i < s->kcap; i++) {
        for (mq__key_t *k = s->ktab[i], *nx; k; k = nx) {
            nx = k->hnext;
            cn_free(k);
        }
    }
    cn_free(s->ktab);
    mq_sink_pos_close(&s->pos);
    for (uint32_t i = 0; i < MQ__DEAD_KEEP; i++) {
        cn_free(s->dead[i].key);
        cn_free(s->dead[i].error);
    }
    pthread_mutex_destroy(&s->dead_mu);
    for (size_t i = 0; i < s->nowned; i++)
        cn_free(s->owned[i]);
    cn_free(s->owned);
    cn_free(s);
}
