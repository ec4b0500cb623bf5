/* SPDX-License-Identifier: MIT */
/*
 * ingest.c - MQTT PUBLISH -> rows (ingest.h).
 */
#include "ingest.h"

#include "map/map.h"
#include "rules/rules.h"
#include "sink/sink.h"
#include "store/store.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>

/* A QoS 1/2 message waiting for its WAL sequence to become durable. */
typedef struct waiter {
    uint64_t seq;  /* WAL seq to be durable (0: none) */
    uint64_t sseq; /* sink log seq to be durable (0: none): rule actions, stream */
    mq_ack_token_t tok;
} waiter_t;

struct srv_ingest_worker {
    srv_ingest_t *in;
    mq_dec_batch_t *batch;
    cn_buf_t report;   /* the error JSON */
    cn_buf_t topic;    /* "$cairn/errors/<client id>" */
    cn_ratelimit_t rl; /* log lines of this thread */
    /* Waiters in WAL order: one loop thread pushes (its eng_write seqs
     * grow), the durable notify pops. */
    pthread_mutex_t amu;
    waiter_t *acks;
    size_t acap, ahead, an;
    /* Device registry: the snapshot this worker holds, and room for one
     * device's tags as eng_tag_t. */
    mq_devsnap_t *snap;
    eng_tag_t regtags[MQ_DEV_TAGS];
    mq_rules_worker_t *rules; /* NULL without rules */
    int loop;                 /* the event loop it serves (srv_ingest_start), or -1 */
    uint64_t sink_seq;        /* highest sink log seq the current message appended */
};

struct srv_ingest {
    mq_map_t *map;
    eng_db_t *db;
    bool republish;
    srv_ingest_registry_fn reg;
    void *reg_arg;
    mq_store_t *store; /* device registry (srv_ingest_set_store), or NULL */
    mq_rules_t *rules; /* NULL: no rules */

    /* Set by srv_ingest_start, fixed until srv_ingest_free. */
    srv_ingest_worker_t **loopw; /* one per event loop (mq_msg_view_t.loop) */
    unsigned nloops;
    pthread_mutex_t mu;  /* broker */
    mq_broker_t *broker; /* NULL before start and after stop */
    _Atomic uint64_t held, wills_dropped;

    /* The resume thread: publishers whose PUBLISH the engine refused
     * (CN_EFULL) are held (MQ_PUB_RETRY) until the engine takes writes. */
    pthread_mutex_t rmu;
    pthread_cond_t rcv;
    mq_ack_token_t *rq; /* held publishers (under rmu) */
    size_t rqn, rqcap;
    bool rstop, rstarted;
    pthread_t rthr;
    cn_ratelimit_t hold_rl; /* under rmu */

    _Atomic(mq_sink_sys_t *) stream; /* kafka-stream-topic, or NULL */
    _Atomic uint64_t stream_errors;  /* appends the sink log refused */
};

/* Log at most LOG_BURST lines per LOG_PERIOD per thread. */
#define LOG_PERIOD (10 * INT64_C(1000000000))
#define LOG_BURST  10

int srv_ingest_new(const srv_cfg_t *cfg, srv_ingest_t **out, FILE *diag)
{
    *out = NULL;
    char err[512];
    mq_map_t *map = NULL;
    int rc = mq_map_parse(cfg->topic_templates, cfg->ingest_unmatched ? MQ_MAP_STORE_UNMATCHED : 0,
                          &map, err, sizeof err);
    if (rc < 0) {
        if (diag)
            fprintf(diag, "cairn: topic-templates: %s\n", err);
        return CN_ECONFIG;
    }
    srv_ingest_t *in = cn_calloc(1, sizeof *in);
    in->map = map;
    in->republish = cfg->ingest_republish_errors != 0;
    pthread_mutex_init(&in->mu, NULL);
    pthread_mutex_init(&in->rmu, NULL);
    pthread_cond_init(&in->rcv, NULL);
    *out = in;
    return 0;
}

void srv_ingest_set_registry(srv_ingest_t *in, srv_ingest_registry_fn fn, void *arg)
{
    in->reg = fn;
    in->reg_arg = arg;
}

void srv_ingest_set_store(srv_ingest_t *in, mq_store_t *st)
{
    in->store = st;
}

/* mq_map_registry_fn over the worker's registry snapshot. */
static const eng_tag_t *registry_tags(void *arg, const char *device_id, uint32_t *ntags)
{
    srv_ingest_worker_t *w = arg;
    const mq_store_tag_t *t = NULL;
    int n = mq_devsnap_get(w->snap, device_id, strlen(device_id), &t);
    if (n <= 0)
        return NULL;
    for (int i = 0; i < n; i++) /* keys and values are NUL-terminated too */
        w->regtags[i] = (eng_tag_t){t[i].key, t[i].val};
    *ntags = (uint32_t)n;
    return w->regtags;
}

void srv_ingest_free(srv_ingest_t *in)
{
    if (!in)
        return;
    srv_ingest_stop(in);
    for (unsigned i = 0; i < in->nloops; i++)
        srv_ingest_worker_free(in->loopw[i]);
    cn_free(in->loopw);
    cn_free(in->rq);
    pthread_mutex_destroy(&in->mu);
    pthread_mutex_destroy(&in->rmu);
    pthread_cond_destroy(&in->rcv);
    mq_map_free(in->map);
    cn_free(in);
}

void srv_ingest_set_rules(srv_ingest_t *in, mq_rules_t *rs)
{
    in->rules = rs;
}

srv_ingest_worker_t *srv_ingest_worker_new(srv_ingest_t *in)
{
    srv_ingest_worker_t *w = cn_calloc(1, sizeof *w);
    w->in = in;
    w->loop = -1;
    mq_dec_batch_new(&w->batch);
    cn_buf_init(&w->report);
    cn_buf_init(&w->topic);
    pthread_mutex_init(&w->amu, NULL);
    if (in->rules)
        mq_rules_worker_new(in->rules, &w->rules);
    return w;
}

void srv_ingest_worker_free(srv_ingest_worker_t *w)
{
    if (!w)
        return;
    mq_devsnap_release(w->snap);
    mq_dec_batch_free(w->batch);
    cn_buf_free(&w->report);
    cn_buf_free(&w->topic);
    pthread_mutex_destroy(&w->amu);
    cn_free(w->acks);
    mq_rules_worker_free(w->rules);
    cn_free(w);
}

/* ------------------------------------------------------------ helpers */

static void put_str(cn_buf_t *b, const char *s)
{
    cn_buf_put(b, s, strlen(s));
}

/* Appends s (n bytes, valid UTF-8) as a JSON string. */
static void put_json_str(cn_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    cn_buf_put_u8(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            cn_buf_put_u8(b, '\\');
            cn_buf_put_u8(b, c);
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            cn_buf_put(b, e, sizeof e);
        } else {
            cn_buf_put_u8(b, c);
        }
    }
    cn_buf_put_u8(b, '"');
}

/* Prometheus label values escape \, " and newline. */
static void put_label(cn_buf_t *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            cn_buf_put_u8(b, '\\');
        if (*s == '\n') {
            put_str(b, "\\n");
            continue;
        }
        cn_buf_put_u8(b, (uint8_t)*s);
    }
}

static void put_u64(cn_buf_t *b, uint64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    cn_buf_put(b, t, (size_t)n);
}

/* The report published to $cairn/errors/<client id>:
 *   {"topic":"...","template":"...","reason":"syntax","errors":2,
 *    "first":"line 1 col 9: invalid number"} */
static void build_report(srv_ingest_worker_t *w, const char *topic, size_t tlen,
                         const mq_map_result_t *r, const char *first)
{
    cn_buf_t *b = &w->report;
    cn_buf_reset(b);
    put_str(b, "{\"topic\":");
    put_json_str(b, topic, tlen);
    put_str(b, ",\"template\":");
    const char *pat = mq_map_pattern(w->in->map, (uint32_t)r->tpl);
    put_json_str(b, pat, strlen(pat));
    put_str(b, ",\"reason\":\"");
    put_str(b, mq_map_reason_name(r->reason));
    put_str(b, "\",\"errors\":");
    put_u64(b, r->nerrors);
    put_str(b, ",\"first\":");
    put_json_str(b, first, strlen(first));
    put_str(b, "}");
}

static void note_errors(srv_ingest_worker_t *w, const char *client_id, const char *topic,
                        size_t tlen, const mq_map_result_t *r, srv_ingest_res_t *res)
{
    char first[160] = "";
    size_t ne = 0;
    const mq_dec_err_t *e = mq_dec_batch_errors(w->batch, &ne);
    if (ne)
        mq_dec_err_format(&e[0], first, sizeof first);
    uint32_t supp = 0;
    if (cn_ratelimit_ok(&w->rl, cn_now_ns(), LOG_PERIOD, LOG_BURST, &supp))
        cn_warn("ingest: client '%s' topic '%.*s': %u bad value(s) (%s), first: %s%s", client_id,
                (int)(tlen > 200 ? 200 : tlen), topic, r->nerrors, mq_map_reason_name(r->reason),
                first, supp ? " (more suppressed)" : "");
    if (w->in->republish) {
        build_report(w, topic, tlen, r, first);
        res->error_json = (const char *)w->report.p;
        res->error_len = w->report.len;
    }
}

void srv_ingest_set_stream(srv_ingest_t *in, mq_sink_sys_t *sinks)
{
    atomic_store(&in->stream, sinks);
}

/* Appends a stored message to the stream sink, keyed by device. */
static void stream(srv_ingest_worker_t *w, const char *client_id, const eng_point_t *pt,
                   const void *payload, size_t n)
{
    mq_sink_sys_t *sinks = atomic_load(&w->in->stream);
    if (!sinks)
        return;
    const char *dev = client_id ? client_id : "";
    for (uint32_t i = 0; i < pt->ntags; i++)
        if (strcmp(pt->tags[i].key, "device_id") == 0)
            dev = pt->tags[i].val;
    /* ts 0: stamped with the time of acceptance, as rule actions are (the
     * event time is in the payload; sink lag ages by the stamp). */
    uint64_t seq = 0;
    int rc = mq_sink_stream(sinks, dev, strlen(dev), payload, n, 0, &seq);
    w->sink_seq = CN_MAX(w->sink_seq, seq);
    if (rc < 0) {
        atomic_fetch_add(&w->in->stream_errors, 1);
        uint32_t supp = 0;
        if (cn_ratelimit_ok(&w->rl, cn_now_ns(), LOG_PERIOD, LOG_BURST, &supp))
            cn_warn("ingest: kafka-stream-topic: message of '%s' not streamed: %s", dev,
                    cn_strerror(rc));
    }
}

int srv_ingest_publish(srv_ingest_worker_t *w, const char *client_id, const char *topic,
                       size_t tlen, const void *payload, size_t n, srv_ingest_res_t *res)
{
    memset(res, 0, sizeof *res);
    srv_ingest_t *in = w->in;
    w->sink_seq = 0;
    mq_dec_batch_reset(w->batch);
    mq_map_result_t r;
    mq_map_registry_fn reg = in->reg;
    void *reg_arg = in->reg_arg;
    if (in->store) {
        w->snap = mq_store_devices_acquire(in->store, w->snap); /* one load when current */
        reg = registry_tags;
        reg_arg = w;
    }
    int np =
        mq_map_decode(in->map, topic, tlen, payload, n, cn_now_ns(), reg, reg_arg, w->batch, &r);
    eng_write_res_t wr;
    memset(&wr, 0, sizeof wr);
    if (np > 0) {
        size_t npts = 0;
        const eng_point_t *pts = mq_dec_batch_points(w->batch, &npts);
        uint64_t seq = 0;
        int rc = eng_write(in->db, pts, npts, &wr, &seq);
        if (rc < 0) {
            /* CN_EFULL and CN_ECLOSED wrote nothing: the caller offers the
             * same message again (or gives up at shutdown).  Undo its
             * counts so a retried message is counted once. */
            mq_map_forget(in->map, &r, w->batch);
            res->status = rc;
            return rc;
        }
        res->stored = wr.points_ok > 0;
        res->seq = seq;
        res->npoints = wr.points_ok;
        if (res->stored)
            stream(w, client_id, &pts[0], payload, n);
    }
    if (r.nerrors)
        note_errors(w, client_id, topic, tlen, &r, res);
    if (wr.fields_rejected) {
        mq_map_count_error(in->map, (uint32_t)r.tpl, MQ_MAP_R_CONFLICT, wr.fields_rejected);
        uint32_t supp = 0;
        if (cn_ratelimit_ok(&w->rl, cn_now_ns(), LOG_PERIOD, LOG_BURST, &supp))
            cn_warn("ingest: client '%s' topic '%.*s': %u field(s) rejected, first '%s': %s",
                    client_id, (int)(tlen > 200 ? 200 : tlen), topic, wr.fields_rejected,
                    wr.first_error_field, cn_strerror(wr.first_error));
        if (in->republish && !res->error_json) {
            char first[128];
            snprintf(first, sizeof first, "field '%s': %s", wr.first_error_field,
                     cn_strerror(wr.first_error));
            mq_map_result_t c = r;
            c.nerrors = wr.fields_rejected;
            c.reason = MQ_MAP_R_CONFLICT;
            build_report(w, topic, tlen, &c, first);
            res->error_json = (const char *)w->report.p;
            res->error_len = w->report.len;
        }
    }
    return 0;
}

int srv_ingest_rules(srv_ingest_worker_t *w, const char *client_id, const char *username,
                     uint8_t qos, const char *topic, size_t tlen, const void *payload, size_t n)
{
    if (!w->rules)
        return 0;
    srv_rules_msg_t sm = {.m = {.topic = topic,
                                .topic_len = tlen,
                                .clientid = client_id,
                                .username = username,
                                .qos = qos,
                                .ts = cn_now_ns(),
                                .payload = payload,
                                .payload_len = n},
                          .loop = w->loop,
                          .sink_seq = &w->sink_seq};
    sm.m.points = mq_dec_batch_points(w->batch, &sm.m.npoints);
    sm.m.name_lens = mq_dec_batch_name_lens(w->batch, &sm.m.fields_base);
    int rc = mq_rules_eval(w->rules, &sm.m);
    return rc < 0 ? 0 : rc;
}

void srv_ingest_metrics(srv_ingest_t *in, cn_buf_t *out)
{
    put_str(out, "# HELP cairn_ingest_publishers_held_total Times a publisher was held (not "
                 "read) because the engine was behind; its message was stored afterwards.\n"
                 "# TYPE cairn_ingest_publishers_held_total counter\n"
                 "cairn_ingest_publishers_held_total ");
    put_u64(out, atomic_load_explicit(&in->held, memory_order_relaxed));
    put_str(out,
            "\n# HELP cairn_ingest_wills_dropped_total Will messages not stored because the "
            "engine was behind (a will cannot wait: its client is gone).\n"
            "# TYPE cairn_ingest_wills_dropped_total counter\ncairn_ingest_wills_dropped_total ");
    put_u64(out, atomic_load_explicit(&in->wills_dropped, memory_order_relaxed));
    put_str(out, "\n");
    uint32_t nt = mq_map_count(in->map);
    static const char *const names[] = {"cairn_ingest_messages_total", "cairn_ingest_points_total"};
    static const char *const help[] = {"MQTT messages matched by a topic template and decoded.",
                                       "Points decoded from those messages."};
    for (int k = 0; k < 2; k++) {
        put_str(out, "# HELP ");
        put_str(out, names[k]);
        put_str(out, " ");
        put_str(out, help[k]);
        put_str(out, "\n# TYPE ");
        put_str(out, names[k]);
        put_str(out, " counter\n");
        for (uint32_t i = 0; i <= nt; i++) {
            mq_map_stats_t st;
            mq_map_stats(in->map, i, &st);
            put_str(out, names[k]);
            put_str(out, "{template=\"");
            put_label(out, mq_map_pattern(in->map, i));
            put_str(out, "\"} ");
            put_u64(out, k == 0 ? st.msgs : st.points);
            put_str(out, "\n");
        }
    }
    put_str(out, "# HELP cairn_ingest_errors_total Payload problems by topic template and "
                 "reason; the rest of the message is stored.\n"
                 "# TYPE cairn_ingest_errors_total counter\n");
    for (uint32_t i = 0; i <= nt; i++) {
        mq_map_stats_t st;
        mq_map_stats(in->map, i, &st);
        for (int r = 0; r < MQ_MAP_R_COUNT; r++) {
            put_str(out, "cairn_ingest_errors_total{template=\"");
            put_label(out, mq_map_pattern(in->map, i));
            put_str(out, "\",reason=\"");
            put_str(out, mq_map_reason_name((enum mq_map_reason)r));
            put_str(out, "\"} ");
            put_u64(out, st.errors[r]);
            put_str(out, "\n");
        }
    }
    if (atomic_load(&in->stream)) {
        put_str(out, "# HELP cairn_ingest_stream_errors_total Stored messages the sink log "
                     "refused for kafka-stream-topic.\n"
                     "# TYPE cairn_ingest_stream_errors_total counter\n"
                     "cairn_ingest_stream_errors_total ");
        put_u64(out, atomic_load(&in->stream_errors));
        put_str(out, "\n");
    }
}

/* ---------------------------------------------------- the ingest hook */

static void push_waiter(srv_ingest_worker_t *w, uint64_t seq, uint64_t sseq,
                        const mq_ack_token_t *tok)
{
    pthread_mutex_lock(&w->amu);
    if (w->an == w->acap) {
        size_t nc = w->acap ? w->acap * 2 : 256;
        waiter_t *v = cn_malloc(nc * sizeof *v);
        for (size_t i = 0; i < w->an; i++)
            v[i] = w->acks[(w->ahead + i) % w->acap];
        cn_free(w->acks);
        w->acks = v;
        w->acap = nc;
        w->ahead = 0;
    }
    w->acks[(w->ahead + w->an) % w->acap] = (waiter_t){seq, sseq, *tok};
    w->an++;
    pthread_mutex_unlock(&w->amu);
}

/* First sink log seq not yet durable (UINT64_MAX without sinks). */
static uint64_t sink_durable(srv_ingest_t *in)
{
    mq_sink_sys_t *sinks = atomic_load(&in->stream);
    return sinks ? mq_sink_log_durable(mq_sink_sys_log(sinks)) : UINT64_MAX;
}

void srv_ingest_durable(srv_ingest_t *in, uint64_t durable_seq)
{
    if (!in)
        return;
    mq_ack_token_t toks[64];
    uint64_t sdur = sink_durable(in);
    pthread_mutex_lock(&in->mu);
    for (unsigned l = 0; in->broker && l < in->nloops; l++) {
        srv_ingest_worker_t *w = in->loopw[l];
        for (;;) {
            size_t k = 0;
            pthread_mutex_lock(&w->amu);
            while (w->an && k < CN_ARRAY_LEN(toks) && w->acks[w->ahead].seq <= durable_seq &&
                   w->acks[w->ahead].sseq < sdur) {
                toks[k++] = w->acks[w->ahead].tok;
                w->ahead = (w->ahead + 1) % w->acap;
                w->an--;
            }
            pthread_mutex_unlock(&w->amu);
            for (size_t i = 0; i < k; i++)
                mq_broker_ack(in->broker, &toks[i], 0);
            if (k < CN_ARRAY_LEN(toks))
                break;
        }
    }
    pthread_mutex_unlock(&in->mu);
}

void srv_ingest_sink_durable(void *arg, uint64_t sink_durable_seq)
{
    srv_ingest_t *in = arg;
    (void)sink_durable_seq; /* srv_ingest_durable reads it again */
    if (!in)
        return;
    /* in->db is set before the broker, under mu (srv_ingest_start) */
    pthread_mutex_lock(&in->mu);
    eng_db_t *db = in->broker ? in->db : NULL;
    pthread_mutex_unlock(&in->mu);
    if (db)
        srv_ingest_durable(in, eng_durable_seq(db));
}

/* Registers tok to be acknowledged once seq (WAL) and sseq (sink log:
 * what rule actions and the stream appended for the message) are durable;
 * acknowledges at once when they already are (also when a notify ran
 * between our write and the push).  Returns the hook's answer. */
static int ack_when_durable(srv_ingest_worker_t *w, uint64_t seq, uint64_t sseq,
                            const mq_ack_token_t *tok)
{
    srv_ingest_t *in = w->in;
    if ((seq == 0 || seq <= eng_durable_seq(in->db)) && (sseq == 0 || sseq < sink_durable(in)))
        return MQ_PUB_ACK_NOW;
    push_waiter(w, seq, sseq, tok);
    uint64_t d = eng_durable_seq(in->db);
    if ((seq == 0 || d >= seq) && (sseq == 0 || sseq < sink_durable(in)))
        srv_ingest_durable(in, d);
    return MQ_PUB_ACK_LATER;
}

/* Holds a publisher until the engine takes writes (the resume thread). */
static void hold(srv_ingest_t *in, const mq_ack_token_t *tok)
{
    uint64_t n = atomic_fetch_add_explicit(&in->held, 1, memory_order_relaxed) + 1;
    pthread_mutex_lock(&in->rmu);
    uint32_t supp = 0;
    if (cn_ratelimit_ok(&in->hold_rl, cn_now_ns(), LOG_PERIOD, 1, &supp))
        cn_info("ingest: engine behind, holding publishers until it takes writes (%llu times "
                "so far)",
                (unsigned long long)n);
    if (in->rqn == in->rqcap) {
        in->rqcap = in->rqcap ? in->rqcap * 2 : 64;
        in->rq = cn_realloc(in->rq, in->rqcap * sizeof *in->rq);
    }
    in->rq[in->rqn++] = *tok;
    pthread_cond_signal(&in->rcv);
    pthread_mutex_unlock(&in->rmu);
}

/* Publishes the error report to $cairn/errors/<client id> (QoS 0). */
static void republish(srv_ingest_t *in, srv_ingest_worker_t *w, const mq_msg_view_t *m,
                      const srv_ingest_res_t *res)
{
    if (!m->client_id[0])
        return; /* a will: its client is gone */
    cn_buf_reset(&w->topic);
    put_str(&w->topic, "$cairn/errors/");
    put_str(&w->topic, m->client_id);
    int rc = mq_broker_publish(in->broker, m->loop, (const char *)w->topic.p, w->topic.len,
                               res->error_json, res->error_len, 0, false);
    if (rc < 0)
        cn_debug("ingest: cannot publish the error report of '%s': %s", m->client_id,
                 cn_strerror(rc));
}

int srv_ingest_on_publish(void *arg, const mq_msg_view_t *m, const mq_ack_token_t *tok)
{
    srv_ingest_t *in = arg;
    if (!in->db || m->loop >= in->nloops)
        return MQ_PUB_ACK_NOW; /* not started: cannot happen (start precedes the loops) */
    srv_ingest_worker_t *w = in->loopw[m->loop];
    srv_ingest_res_t res;
    int rc = srv_ingest_publish(w, m->client_id, m->topic, m->topic_len, m->payload, m->payload_len,
                                &res);
    if (rc == CN_EFULL) {
        if (!tok) { /* a will */
            atomic_fetch_add_explicit(&in->wills_dropped, 1, memory_order_relaxed);
            cn_warn("ingest: engine behind, the will of a client on '%.*s' was not stored",
                    (int)(m->topic_len > 200 ? 200 : m->topic_len), m->topic);
            return MQ_PUB_ACK_NOW;
        }
        hold(in, tok);
        return MQ_PUB_RETRY;
    }
    if (rc < 0) /* CN_ECLOSED: shutting down; never acknowledged, the client resends */
        return m->qos ? MQ_PUB_ACK_LATER : MQ_PUB_ACK_NOW;
    /* the broker's view has no user name yet: rules see username NULL */
    srv_ingest_rules(w, m->client_id, NULL, m->qos, m->topic, m->topic_len, m->payload,
                     m->payload_len);
    if (res.error_json)
        republish(in, w, m, &res);
    if (!tok || m->qos == 0)
        return MQ_PUB_ACK_NOW;
    return ack_when_durable(w, res.seq, w->sink_seq, tok);
}

/* The resume thread: waits until the engine takes writes again, then lets
 * every held publisher go on; the broker offers their PUBLISH again. */
static void *resume_main(void *arg)
{
    srv_ingest_t *in = arg;
    mq_ack_token_t *batch = NULL;
    size_t cap = 0;
    pthread_mutex_lock(&in->rmu);
    for (;;) {
        while (!in->rstop && !in->rqn)
            pthread_cond_wait(&in->rcv, &in->rmu);
        if (in->rstop)
            break;
        pthread_mutex_unlock(&in->rmu);
        int rc = eng_wait_writable(in->db);
        if (rc < 0)
            cn_error("ingest: the engine cannot take writes: %s", cn_strerror(rc));
        pthread_mutex_lock(&in->rmu);
        size_t n = in->rqn;
        if (n > cap) {
            cap = n;
            batch = cn_realloc(batch, cap * sizeof *batch);
        }
        memcpy(batch, in->rq, n * sizeof *batch);
        in->rqn = 0;
        pthread_mutex_unlock(&in->rmu);
        pthread_mutex_lock(&in->mu);
        for (size_t i = 0; in->broker && i < n; i++)
            mq_broker_resume(in->broker, &batch[i]);
        pthread_mutex_unlock(&in->mu);
        pthread_mutex_lock(&in->rmu);
    }
    pthread_mutex_unlock(&in->rmu);
    cn_free(batch);
    return NULL;
}

int srv_ingest_start(srv_ingest_t *in, eng_db_t *db, mq_broker_t *broker, unsigned nloops)
{
    in->db = db;
    in->nloops = nloops;
    in->loopw = cn_calloc(nloops, sizeof *in->loopw);
    for (unsigned i = 0; i < nloops; i++) {
        in->loopw[i] = srv_ingest_worker_new(in);
        in->loopw[i]->loop = (int)i;
    }
    pthread_mutex_lock(&in->mu);
    in->broker = broker;
    pthread_mutex_unlock(&in->mu);
    int rc = pthread_create(&in->rthr, NULL, resume_main, in);
    if (rc != 0)
        return -rc;
    in->rstarted = true;
    return 0;
}

void srv_ingest_stop(srv_ingest_t *in)
{
    if (!in)
        return;
    pthread_mutex_lock(&in->rmu);
    in->rstop = true;
    pthread_cond_signal(&in->rcv);
    pthread_mutex_unlock(&in->rmu);
    if (in->rstarted) {
        pthread_join(in->rthr, NULL);
        in->rstarted = false;
    }
    pthread_mutex_lock(&in->mu);
    in->broker = NULL;
    pthread_mutex_unlock(&in->mu);
    for (unsigned i = 0; i < in->nloops; i++) { /* the store closes next */
        mq_devsnap_release(in->loopw[i]->snap);
        in->loopw[i]->snap = NULL;
    }
    in->store = NULL;
}
