/* SPDX-License-Identifier: MIT */
/*
 * sys.c - the sink system: the log, the sinks and the delivery thread
 * that runs their libuv loop; the append entry points, counters, the
 * Prometheus families and the JSON status.
 *
 *   mq_sink_sys_open -> mq_sink_sys_add (each sink: cursor id, producer /
 *   curl multi) -> mq_sink_sys_start (log writer + delivery thread) ...
 *   appends from any thread; the writer's durable callback -> wake async
 *   -> every sink fetches ... mq_sink_sys_close: stop async -> sinks close
 *   their handles -> loop ends -> join -> log closed (cursors persisted).
 *
 * NOTES
 *  1. The durable callback runs on the log's writer thread and may race
 *     with the close of the wake handle: it sends only under sys->mu while
 *     `accepting_wakes` is set, which on_stop clears under the same lock.
 */
#include "sink_int.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void mq__json_str(cn_buf_t *out, const void *p, size_t n)
{
    const uint8_t *s = p;
    cn_buf_put_u8(out, '"');
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\') {
            cn_buf_put_u8(out, '\\');
            cn_buf_put_u8(out, c);
        } else if (c < 0x20 || c >= 0x7f) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            cn_buf_put(out, esc, 6);
        } else {
            cn_buf_put_u8(out, c);
        }
    }
    cn_buf_put_u8(out, '"');
}

static void buf_printf(cn_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(cn_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    cn_buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

int mq_sink_sys_open(const mq_sink_log_opts_t *opts, mq_sink_sys_t **out)
{
    mq_sink_sys_t *sys = cn_calloc(1, sizeof *sys);
    int rc = mq_sink_log_open(opts, &sys->log);
    if (rc < 0) {
        cn_free(sys);
        return rc;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT); /* reference counted; the caller's thread */
    sys->stream_id = -1;
    sys->drain_at = UINT64_MAX;
    pthread_mutex_init(&sys->mu, NULL);
    pthread_mutex_init(&sys->admin, NULL);
    pthread_cond_init(&sys->progress, NULL);
    *out = sys;
    return 0;
}

mq_sink_log_t *mq_sink_sys_log(mq_sink_sys_t *sys)
{
    return sys->log;
}

static const char *own(mq__sink_t *s, const char *v)
{
    if (!v)
        return NULL;
    s->owned = cn_realloc(s->owned, (s->nowned + 1) * sizeof *s->owned);
    return s->owned[s->nowned++] = cn_strdup(v);
}

static const char *const *own_list(mq__sink_t *s, const char *const *v)
{
    if (!v)
        return NULL;
    size_t n = 0;
    while (v[n])
        n++;
    char **l = cn_calloc(n + 1, sizeof *l);
    for (size_t i = 0; i < n; i++)
        l[i] = (char *)own(s, v[i]);
    s->owned = cn_realloc(s->owned, (s->nowned + 1) * sizeof *s->owned);
    s->owned[s->nowned++] = (char *)l;
    return (const char *const *)l;
}

int mq_sink_sys_add(mq_sink_sys_t *sys, const mq_sink_def_t *def)
{
    if (!def->name || (def->type != MQ_SINK_KAFKA && def->type != MQ_SINK_WEBHOOK))
        return CN_EINVAL;
    pthread_mutex_lock(&sys->admin);
    size_t slot = atomic_load(&sys->nsinks);
    int rc = mq_sink_sys_find(sys, def->name) >= 0 ? CN_EEXIST
             : slot >= MQ__MAX_SINKS                ? CN_ELIMIT
                                                    : 0;
    if (rc < 0) {
        pthread_mutex_unlock(&sys->admin);
        return rc;
    }
    mq__sink_t *s = cn_calloc(1, sizeof *s);
    s->sys = sys;
    s->def = *def;
    s->def.name = own(s, def->name);
    s->def.brokers = own(s, def->brokers);
    s->def.topic = own(s, def->topic);
    s->def.compression = own(s, def->compression ? def->compression : "none");
    s->def.url = own(s, def->url);
    s->def.method = own(s, def->method && def->method[0] ? def->method : "POST");
    s->def.kafka_props = own_list(s, def->kafka_props);
    s->def.headers = own_list(s, def->headers);
    if (!s->def.timeout_ns)
        s->def.timeout_ns = 10 * 1000000000LL;
    if (!s->def.max_inflight)
        s->def.max_inflight = def->type == MQ_SINK_KAFKA ? 100000 : 64;
    if (!s->def.threads)
        s->def.threads = CN_MIN((uint32_t)uv_available_parallelism(), 4u);
    if (!s->def.max_attempts)
        s->def.max_attempts = 10;
    if (!s->def.backoff_min_ns)
        s->def.backoff_min_ns = 100 * 1000000LL;
    if (!s->def.backoff_max_ns)
        s->def.backoff_max_ns = 30 * 1000000000LL;
    s->def.backoff_max_ns = CN_MAX(s->def.backoff_max_ns, s->def.backoff_min_ns);
    pthread_mutex_init(&s->dead_mu, NULL);
    s->be = def->type == MQ_SINK_KAFKA ? &mq__kafka_backend : &mq__webhook_backend;
    rc = def->type == MQ_SINK_KAFKA ? mq__kafka_create(s) : mq__webhook_create(s);
    if (rc == 0)
        rc = mq_sink_log_sink(sys->log, s->def.name, &s->id);
    if (rc < 0) {
        mq__sink_free(s);
        pthread_mutex_unlock(&sys->admin);
        return rc;
    }
    sys->sinks[slot] = s;
    atomic_store(&sys->nsinks, slot + 1);
    pthread_mutex_lock(&sys->mu);
    bool queued = sys->accepting_wakes;
    if (queued) {
        s->qnext = sys->add_q;
        sys->add_q = s;
        uv_async_send(&sys->cmd);
    }
    pthread_mutex_unlock(&sys->mu);
    pthread_mutex_unlock(&sys->admin);
    return (int)slot;
}

int mq_sink_sys_remove(mq_sink_sys_t *sys, const char *name)
{
    pthread_mutex_lock(&sys->admin);
    int id = mq_sink_sys_find(sys, name);
    if (id >= 0) {
        mq__sink_t *s = sys->sinks[id];
        atomic_store(&s->removed, true);
        if (sys->stream_id == id)
            sys->stream_id = -1;
        mq_sink_log_forget(sys->log, s->id);
        pthread_mutex_lock(&sys->mu);
        if (sys->accepting_wakes) {
            s->qnext = sys->remove_q;
            sys->remove_q = s;
            uv_async_send(&sys->cmd);
        }
        pthread_mutex_unlock(&sys->mu);
    }
    pthread_mutex_unlock(&sys->admin);
    return id < 0 ? id : 0;
}

int mq_sink_sys_find(mq_sink_sys_t *sys, const char *name)
{
    size_t n = atomic_load(&sys->nsinks);
    for (size_t i = 0; i < n; i++)
        if (!atomic_load(&sys->sinks[i]->removed) && strcmp(sys->sinks[i]->def.name, name) == 0)
            return (int)i;
    return CN_ENOTFOUND;
}

int mq_sink_sys_set_stream(mq_sink_sys_t *sys, const char *name)
{
    int id = mq_sink_sys_find(sys, name);
    if (id < 0)
        return id;
    sys->stream_id = id;
    return 0;
}

/* ---------------------------------------------------------- thread */

static void on_wake(uv_async_t *a)
{
    mq_sink_sys_t *sys = a->data;
    size_t n = atomic_load(&sys->nsinks);
    for (size_t i = 0; i < n; i++)
        mq__sink_kick(sys->sinks[i]);
}

/* Loop thread: starts a sink's delivery. */
static int attach(mq__sink_t *s)
{
    int rc = mq__sink_init(s);
    if (rc == 0)
        rc = s->def.type == MQ_SINK_KAFKA ? mq__kafka_attach(s) : mq__webhook_attach(s);
    if (rc == 0)
        s->attached = true;
    return rc;
}

/* Sinks added or removed after start (loop thread). */
static void on_cmd(uv_async_t *a)
{
    mq_sink_sys_t *sys = a->data;
    pthread_mutex_lock(&sys->mu);
    mq__sink_t *add = sys->add_q, *rm = sys->remove_q;
    sys->add_q = sys->remove_q = NULL;
    pthread_mutex_unlock(&sys->mu);
    for (mq__sink_t *s = add, *nx; s; s = nx) {
        nx = s->qnext;
        int rc = attach(s);
        if (rc < 0)
            cn_error("sink %s: cannot start: %s", s->def.name, cn_strerror(rc));
        mq__sink_kick(s);
    }
    for (mq__sink_t *s = rm, *nx; s; s = nx) {
        nx = s->qnext;
        mq__sink_stop(s);
        cn_info("sink %s: removed", s->def.name);
    }
}

static void on_stop(uv_async_t *a)
{
    mq_sink_sys_t *sys = a->data;
    pthread_mutex_lock(&sys->mu);
    sys->accepting_wakes = false;
    pthread_mutex_unlock(&sys->mu);
    size_t n = atomic_load(&sys->nsinks);
    for (size_t i = 0; i < n; i++)
        mq__sink_stop(sys->sinks[i]);
    uv_close((uv_handle_t *)&sys->wake, NULL);
    uv_close((uv_handle_t *)&sys->stop, NULL);
    uv_close((uv_handle_t *)&sys->cmd, NULL);
}

static void durable_cb(void *arg, uint64_t durable)
{
    mq_sink_sys_t *sys = arg;
    atomic_store(&sys->durable, durable);
    pthread_mutex_lock(&sys->mu);
    if (sys->accepting_wakes)
        uv_async_send(&sys->wake);
    pthread_mutex_unlock(&sys->mu);
    if (sys->user_cb)
        sys->user_cb(sys->user_arg, durable);
}

static void thread_main(void *arg)
{
    mq_sink_sys_t *sys = arg;
    uv_run(&sys->loop, UV_RUN_DEFAULT);
}

int mq_sink_sys_start(mq_sink_sys_t *sys, mq_sink_durable_cb cb, void *arg)
{
    if (sys->started)
        return CN_EINVAL;
    int rc = cn_from_uv(uv_loop_init(&sys->loop));
    if (rc < 0)
        return rc;
    sys->loop_ok = true;
    sys->user_cb = cb;
    sys->user_arg = arg;
    sys->wake.data = sys->stop.data = sys->cmd.data = sys;
    rc = cn_from_uv(uv_async_init(&sys->loop, &sys->wake, on_wake));
    if (rc == 0)
        rc = cn_from_uv(uv_async_init(&sys->loop, &sys->stop, on_stop));
    if (rc == 0)
        rc = cn_from_uv(uv_async_init(&sys->loop, &sys->cmd, on_cmd));
    pthread_mutex_lock(&sys->admin);
    size_t n = atomic_load(&sys->nsinks);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = attach(sys->sinks[i]);
    pthread_mutex_unlock(&sys->admin);
    if (rc < 0)
        return rc; /* mq_sink_sys_close cleans up: the loop never ran */
    atomic_store(&sys->durable, mq_sink_log_durable(sys->log));
    pthread_mutex_lock(&sys->mu);
    sys->accepting_wakes = true;
    pthread_mutex_unlock(&sys->mu);
    rc = mq_sink_log_start(sys->log, durable_cb, sys);
    if (rc < 0)
        return rc;
    rc = cn_from_uv(uv_thread_create(&sys->thr, thread_main, sys));
    if (rc < 0)
        return rc;
    sys->started = true;
    uv_async_send(&sys->wake); /* deliver what a previous run left */
    return 0;
}

/* ---------------------------------------------------------- appends */

int mq_sink_append(mq_sink_sys_t *sys, int id, const mq_sink_rec_t *rec, uint64_t *seq)
{
    if (id < 0 || (size_t)id >= atomic_load(&sys->nsinks) ||
        atomic_load(&sys->sinks[id]->removed))
        return CN_ENOTFOUND;
    mq_sink_rec_t r = *rec;
    r.sink = sys->sinks[id]->id;
    return mq_sink_log_append(sys->log, &r, seq);
}

int mq_sink_stream(mq_sink_sys_t *sys, const void *device, size_t device_len, const void *payload,
                   size_t payload_len, int64_t ts_ns, uint64_t *seq)
{
    if (seq)
        *seq = 0;
    int id = sys->stream_id;
    if (id < 0)
        return 0;
    mq_sink_rec_t r = {.ts_ns = ts_ns,
                       .key = device,
                       .key_len = device_len,
                       .payload = payload,
                       .payload_len = payload_len};
    return mq_sink_append(sys, id, &r, seq);
}

/* ---------------------------------------------------------- status */

int mq_sink_sys_stats(mq_sink_sys_t *sys, int id, mq_sink_stats_t *st)
{
    if (id < 0 || (size_t)id >= atomic_load(&sys->nsinks))
        return CN_ENOTFOUND;
    mq__sink_t *s = sys->sinks[id];
    memset(st, 0, sizeof *st);
    st->delivered = atomic_load(&s->delivered);
    st->failed = atomic_load(&s->failed);
    st->retried = atomic_load(&s->retried);
    st->dead_lettered = atomic_load(&s->dead_lettered);
    st->dropped = mq_sink_log_dropped(sys->log, s->id);
    st->cursor = mq_sink_log_cursor(sys->log, s->id);
    mq_sink_log_stats_t ls;
    mq_sink_log_stats(sys->log, &ls);
    st->lag_records = ls.next_seq > st->cursor ? ls.next_seq - st->cursor : 0;
    int64_t oldest = atomic_load(&s->oldest_ts);
    if (oldest && st->lag_records) {
        int64_t age = cn_now_ns() - oldest;
        st->lag_seconds = age > 0 ? (double)age / 1e9 : 0;
    }
    st->down = atomic_load(&s->down);
    return 0;
}

typedef struct family {
    const char *name, *type, *help;
    size_t field; /* offsetof in mq_sink_stats_t; SIZE_MAX = lag_seconds */
} family_t;

void mq_sink_sys_metrics(mq_sink_sys_t *sys, cn_buf_t *out)
{
    static const family_t fams[] = {
        {"cairn_sink_delivered_total", "counter", "Records delivered by the sink.",
         offsetof(mq_sink_stats_t, delivered)},
        {"cairn_sink_failed_total", "counter", "Delivery attempts that failed.",
         offsetof(mq_sink_stats_t, failed)},
        {"cairn_sink_retried_total", "counter", "Records retried after a rejection.",
         offsetof(mq_sink_stats_t, retried)},
        {"cairn_sink_dead_lettered_total", "counter",
         "Records given up after the maximum attempts.",
         offsetof(mq_sink_stats_t, dead_lettered)},
        {"cairn_sink_dropped_total", "counter",
         "Undelivered records dropped by the drop-oldest retention policy.",
         offsetof(mq_sink_stats_t, dropped)},
        {"cairn_sink_lag_records", "gauge",
         "Log records between the sink's cursor and the head of the log.",
         offsetof(mq_sink_stats_t, lag_records)},
        {"cairn_sink_lag_seconds", "gauge", "Age of the oldest undelivered record.", SIZE_MAX},
        {"cairn_sink_up", "gauge", "1 when the endpoint is reachable, 0 while backing off.",
         offsetof(mq_sink_stats_t, down)},
    };
    size_t n = atomic_load(&sys->nsinks);
    mq_sink_stats_t *st = cn_calloc(n ? n : 1, sizeof *st);
    for (size_t i = 0; i < n; i++)
        mq_sink_sys_stats(sys, (int)i, &st[i]);
    for (size_t f = 0; f < CN_ARRAY_LEN(fams); f++) {
        buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", fams[f].name, fams[f].help, fams[f].name,
                   fams[f].type);
        for (size_t i = 0; i < n; i++) {
            const mq__sink_t *s = sys->sinks[i];
            if (atomic_load(&s->removed))
                continue;
            buf_printf(out, "%s{sink=\"%s\",type=\"%s\"} ", fams[f].name, s->def.name,
                       s->be->name);
            if (fams[f].field == SIZE_MAX)
                buf_printf(out, "%.3f\n", st[i].lag_seconds);
            else if (fams[f].field == offsetof(mq_sink_stats_t, down))
                buf_printf(out, "%d\n", st[i].down ? 0 : 1);
            else
                buf_printf(out, "%" PRIu64 "\n",
                           *(const uint64_t *)((const char *)&st[i] + fams[f].field));
        }
    }
    cn_free(st);
    mq_sink_log_stats_t ls;
    mq_sink_log_stats(sys->log, &ls);
    buf_printf(out,
               "# HELP cairn_sink_log_bytes Bytes in sink log segments.\n"
               "# TYPE cairn_sink_log_bytes gauge\ncairn_sink_log_bytes %" PRIu64 "\n"
               "# HELP cairn_sink_log_segments Sink log segment files.\n"
               "# TYPE cairn_sink_log_segments gauge\ncairn_sink_log_segments %" PRIu64 "\n"
               "# HELP cairn_sink_log_appended_total Records appended to the sink log.\n"
               "# TYPE cairn_sink_log_appended_total counter\n"
               "cairn_sink_log_appended_total %" PRIu64 "\n"
               "# HELP cairn_sink_log_rejected_total Appends refused (stop-accepting policy or "
               "writer behind).\n"
               "# TYPE cairn_sink_log_rejected_total counter\n"
               "cairn_sink_log_rejected_total %" PRIu64 "\n"
               "# HELP cairn_sink_log_dropped_total Undelivered records dropped by retention.\n"
               "# TYPE cairn_sink_log_dropped_total counter\n"
               "cairn_sink_log_dropped_total %" PRIu64 "\n"
               "# HELP cairn_sink_log_refusing 1 while the stop-accepting policy refuses "
               "appends.\n"
               "# TYPE cairn_sink_log_refusing gauge\ncairn_sink_log_refusing %d\n"
               "# HELP cairn_sink_log_pending_records Records appended and not yet durable.\n"
               "# TYPE cairn_sink_log_pending_records gauge\n"
               "cairn_sink_log_pending_records %" PRIu64 "\n",
               ls.bytes, ls.segments, ls.appended, ls.rejected, ls.dropped, ls.refusing ? 1 : 0,
               ls.next_seq - ls.durable_seq);
}

void mq_sink_sys_json(mq_sink_sys_t *sys, cn_buf_t *out)
{
    buf_printf(out, "{\"sinks\":[");
    size_t n = atomic_load(&sys->nsinks);
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        mq__sink_t *s = sys->sinks[i];
        if (atomic_load(&s->removed))
            continue;
        mq_sink_stats_t st;
        mq_sink_sys_stats(sys, (int)i, &st);
        buf_printf(out, "%s{\"name\":", first ? "" : ",");
        first = false;
        mq__json_str(out, s->def.name, strlen(s->def.name));
        buf_printf(out,
                   ",\"type\":\"%s\",\"up\":%s,\"delivered\":%" PRIu64 ",\"failed\":%" PRIu64
                   ",\"retried\":%" PRIu64 ",\"dead_lettered\":%" PRIu64 ",\"dropped\":%" PRIu64
                   ",\"cursor\":%" PRIu64 ",\"lag_records\":%" PRIu64
                   ",\"lag_seconds\":%.3f,\"dead_letters\":[",
                   s->be->name, st.down ? "false" : "true", st.delivered, st.failed, st.retried,
                   st.dead_lettered, st.dropped, st.cursor, st.lag_records, st.lag_seconds);
        pthread_mutex_lock(&s->dead_mu);
        for (uint32_t j = 0; j < s->ndead; j++) {
            const mq__dead_t *d =
                &s->dead[(s->dead_at + MQ__DEAD_KEEP - s->ndead + j) % MQ__DEAD_KEEP];
            buf_printf(out, "%s{\"seq\":%" PRIu64 ",\"ts\":%" PRId64 ",\"attempts\":%u,\"key\":",
                       j ? "," : "", d->seq, d->ts_ns, d->attempts);
            mq__json_str(out, d->key, strlen(d->key));
            buf_printf(out, ",\"error\":");
            mq__json_str(out, d->error, strlen(d->error));
            buf_printf(out, "}");
        }
        pthread_mutex_unlock(&s->dead_mu);
        buf_printf(out, "]}");
    }
    buf_printf(out, "]}");
}

int mq_sink_sys_drain(mq_sink_sys_t *sys, int64_t timeout_ns)
{
    mq_sink_log_stats_t ls;
    mq_sink_log_stats(sys->log, &ls);
    uint64_t target = ls.next_seq;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t t = (int64_t)ts.tv_nsec + timeout_ns;
    ts.tv_sec += (time_t)(t / 1000000000);
    ts.tv_nsec = (long)(t % 1000000000);
    int rc = 0;
    pthread_mutex_lock(&sys->mu);
    sys->ndrain++;
    if (target < atomic_load(&sys->drain_at))
        atomic_store(&sys->drain_at, target);
    for (;;) {
        bool all = true;
        size_t n = atomic_load(&sys->nsinks);
        for (size_t i = 0; i < n && all; i++)
            all = atomic_load(&sys->sinks[i]->removed) ||
                  atomic_load(&sys->sinks[i]->cursor) >= target;
        if (all || rc == ETIMEDOUT)
            break;
        rc = pthread_cond_timedwait(&sys->progress, &sys->mu, &ts);
    }
    bool done = true;
    size_t n = atomic_load(&sys->nsinks);
    for (size_t i = 0; i < n; i++)
        done = done && (atomic_load(&sys->sinks[i]->removed) ||
                        atomic_load(&sys->sinks[i]->cursor) >= target);
    if (--sys->ndrain == 0)
        atomic_store(&sys->drain_at, UINT64_MAX); /* else a lower stale value: spare wakeups */
    pthread_mutex_unlock(&sys->mu);
    return done ? 0 : -ETIMEDOUT;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void mq_sink_sys_close(mq_sink_sys_t *sys)
{
    if (!sys)
        return;
    if (sys->started) {
        uv_async_send(&sys->stop);
        uv_thread_join(&sys->thr);
    } else if (sys->loop_ok) {
        /* Started partially: close what was initialised, run the loop dry. */
        uv_walk(&sys->loop, close_walk, NULL);
        uv_run(&sys->loop, UV_RUN_DEFAULT);
    }
    mq_sink_log_close(sys->log); /* persists the final cursors */
    size_t n = atomic_load(&sys->nsinks);
    for (size_t i = 0; i < n; i++)
        mq__sink_free(sys->sinks[i]);
    pthread_mutex_destroy(&sys->admin);
    if (sys->loop_ok)
        uv_loop_close(&sys->loop);
    pthread_cond_destroy(&sys->progress);
    pthread_mutex_destroy(&sys->mu);
    cn_free(sys);
    curl_global_cleanup();
}
