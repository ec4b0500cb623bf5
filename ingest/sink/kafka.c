/* SPDX-License-Identifier: MIT */
/*
 * kafka.c - the Kafka backend: one librdkafka producer per sink with
 * acks=all and enable.idempotence=true, so that the producer's own
 * retries (broker errors, leader changes) keep each partition's order and
 * write no duplicates.  Records of one key go to one partition (the
 * default partitioner hashes the key), hence per-key order.
 *
 * Delivery reports are served on the delivery thread: librdkafka signals
 * the main queue becoming non-empty from its own threads
 * (rd_kafka_queue_cb_event_enable) -> uv_async -> rd_kafka_poll(rk, 0)
 * until empty -> dr_cb -> mq__sink_done.
 *
 * NOTES
 *  1. message.timeout.ms defaults to 0 (never expire): a broker outage
 *     keeps records queued in librdkafka, in order, instead of failing
 *     them back to us.  What does come back in a delivery report is a
 *     per-record refusal (record too large, unknown topic, authorization)
 *     and counts an attempt toward the dead letter (deliver.c NOTES 3).
 *  2. Payloads are not copied: librdkafka borrows the window's batch,
 *     which lives until the record is DONE.  At stop everything in flight
 *     is purged and the producer destroyed after the loop ended, before
 *     the window is freed; reports arriving then are ignored.
 *  3. Producing into a full local queue (QUEUE_FULL) stops the pump
 *     (CN_EFULL); the next delivery report pumps again.
 */
#include "sink_int.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>

typedef struct ktopic {
    char *name;
    rd_kafka_topic_t *rkt;
} ktopic_t;

typedef struct kafka {
    rd_kafka_t *rk;
    rd_kafka_queue_t *mainq;
    uv_async_t async;
    ktopic_t *topics;
    size_t ntopics;
    size_t last; /* index of the last topic used */
    char errbuf[512];
    cn_ratelimit_t rl;
} kafka_t;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    mq__sink_t *s = opaque;
    mq__ent_t *e = m->_private;
    if (s->stopped || !e)
        return;
    int result = MQ__OK;
    switch (m->err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        break;
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
        result = MQ__TRANSIENT;
        break;
    default:
        result = MQ__REJECTED;
        break;
    }
    mq__sink_done(s, e, result, result == MQ__OK ? NULL : rd_kafka_err2str(m->err));
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    /* syslog levels: 0-3 errors, 4 warning, 5-6 info, 7 debug */
    int lv = level <= 3 ? CN_LOG_ERROR : level == 4 ? CN_LOG_WARN
                                     : level <= 6   ? CN_LOG_INFO
                                                    : CN_LOG_DEBUG;
    cn_log(lv, "kafka: %s: %s", fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    mq__sink_t *s = opaque;
    kafka_t *k = s->impl;
    uint32_t sup;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(rk, why, sizeof why);
        cn_error("sink %s: kafka producer fatal error: %s", s->def.name, why);
        return;
    }
    if (cn_ratelimit_ok(&k->rl, cn_mono_ns(), 10000000000LL, 5, &sup))
        cn_warn("sink %s: kafka: %s (%s)", s->def.name, rd_kafka_err2name(err), reason);
}

/* librdkafka thread: the main queue became non-empty. */
static void queue_event(rd_kafka_t *rk, void *opaque)
{
    (void)rk;
    mq__sink_t *s = opaque;
    kafka_t *k = s->impl;
    uv_async_send(&k->async);
}

static void on_async(uv_async_t *a)
{
    mq__sink_t *s = a->data;
    kafka_t *k = s->impl;
    while (rd_kafka_poll(k->rk, 0) > 0)
        ;
    mq__sink_pump(s);
}

static int set(rd_kafka_conf_t *conf, mq__sink_t *s, const char *key, const char *val)
{
    char err[256];
    if (rd_kafka_conf_set(conf, key, val, err, sizeof err) != RD_KAFKA_CONF_OK) {
        cn_error("sink %s: kafka property %s=%s: %s", s->def.name, key, val, err);
        return CN_ECONFIG;
    }
    return 0;
}

int mq__kafka_create(mq__sink_t *s)
{
    if (!s->def.brokers || !*s->def.brokers) {
        cn_error("sink %s: kafka sink without brokers", s->def.name);
        return CN_ECONFIG;
    }
    kafka_t *k = cn_calloc(1, sizeof *k);
    s->impl = k;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char inflight[32];
    snprintf(inflight, sizeof inflight, "%u", s->def.max_inflight);
    int rc = set(conf, s, "bootstrap.servers", s->def.brokers);
    const char *const fixed[][2] = {
        {"acks", "all"},
        {"enable.idempotence", "true"},
        {"message.timeout.ms", "0"},
        {"linger.ms", "5"},
        {"batch.num.messages", "10000"},
        {"queue.buffering.max.kbytes", "1048576"},
        {"client.id", "cairn"},
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(fixed) && rc == 0; i++)
        rc = set(conf, s, fixed[i][0], fixed[i][1]);
    if (rc == 0)
        rc = set(conf, s, "queue.buffering.max.messages", inflight);
    if (rc == 0)
        rc = set(conf, s, "compression.codec", s->def.compression);
    for (size_t i = 0; s->def.kafka_props && s->def.kafka_props[i] && rc == 0; i++) {
        char *kv = cn_strdup(s->def.kafka_props[i]);
        char *eq = strchr(kv, '=');
        if (!eq) {
            cn_error("sink %s: kafka property '%s' is not key=value", s->def.name, kv);
            rc = CN_ECONFIG;
        } else {
            *eq = 0;
            rc = set(conf, s, kv, eq + 1);
        }
        cn_free(kv);
    }
    if (rc < 0) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    rd_kafka_conf_set_opaque(conf, s);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, k->errbuf, sizeof k->errbuf);
    if (!k->rk) {
        cn_error("sink %s: kafka producer: %s", s->def.name, k->errbuf);
        rd_kafka_conf_destroy(conf);
        return CN_ECONFIG;
    }
    k->mainq = rd_kafka_queue_get_main(k->rk);
    return 0;
}

int mq__kafka_attach(mq__sink_t *s)
{
    kafka_t *k = s->impl;
    int rc = cn_from_uv(uv_async_init(&s->sys->loop, &k->async, on_async));
    if (rc < 0)
        return rc;
    k->async.data = s;
    rd_kafka_queue_cb_event_enable(k->mainq, queue_event, s);
    uv_async_send(&k->async); /* serve whatever queued before */
    return 0;
}

static rd_kafka_topic_t *topic_for(mq__sink_t *s, const mq_sink_rec_t *r)
{
    kafka_t *k = s->impl;
    const char *name = s->def.topic ? s->def.topic : "";
    size_t len = strlen(name);
    if (r->topic_len) {
        name = (const char *)r->topic;
        len = r->topic_len;
    }
    if (k->ntopics && strlen(k->topics[k->last].name) == len &&
        memcmp(k->topics[k->last].name, name, len) == 0)
        return k->topics[k->last].rkt;
    for (size_t i = 0; i < k->ntopics; i++) {
        if (strlen(k->topics[i].name) == len && memcmp(k->topics[i].name, name, len) == 0) {
            k->last = i;
            return k->topics[i].rkt;
        }
    }
    if (len == 0)
        return NULL;
    char *nm = cn_strndup(name, len);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->rk, nm, NULL);
    if (!rkt) {
        cn_free(nm);
        return NULL;
    }
    k->topics = cn_realloc(k->topics, (k->ntopics + 1) * sizeof *k->topics);
    k->topics[k->ntopics] = (ktopic_t){nm, rkt};
    k->last = k->ntopics++;
    return rkt;
}

static int kafka_send(mq__sink_t *s, mq__ent_t *e)
{
    kafka_t *k = s->impl;
    rd_kafka_topic_t *rkt = topic_for(s, &e->rec);
    if (!rkt)
        return CN_EINVAL; /* no topic: rejected, dead-lettered after max_attempts */
    /* rd_kafka_produceva rather than the producev macros (GNU statement
     * expressions, which -Wpedantic rejects). */
    rd_kafka_vu_t vu[6];
    vu[0].vtype = RD_KAFKA_VTYPE_RKT;
    vu[0].u.rkt = rkt;
    vu[1].vtype = RD_KAFKA_VTYPE_PARTITION;
    vu[1].u.i32 = RD_KAFKA_PARTITION_UA;
    vu[2].vtype = RD_KAFKA_VTYPE_VALUE;
    vu[2].u.mem.ptr = (void *)e->rec.payload;
    vu[2].u.mem.size = e->rec.payload_len;
    vu[3].vtype = RD_KAFKA_VTYPE_KEY;
    vu[3].u.mem.ptr = (void *)e->rec.key;
    vu[3].u.mem.size = e->rec.key_len;
    vu[4].vtype = RD_KAFKA_VTYPE_OPAQUE;
    vu[4].u.ptr = e;
    vu[5].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
    vu[5].u.i64 = e->rec.ts_ns / 1000000;
    rd_kafka_error_t *kerr = rd_kafka_produceva(k->rk, vu, CN_ARRAY_LEN(vu));
    rd_kafka_resp_err_t err = kerr ? rd_kafka_error_code(kerr) : RD_KAFKA_RESP_ERR_NO_ERROR;
    if (kerr)
        rd_kafka_error_destroy(kerr);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return CN_EFULL;
    uint32_t sup;
    if (cn_ratelimit_ok(&k->rl, cn_mono_ns(), 10000000000LL, 5, &sup))
        cn_warn("sink %s: kafka produce of record %llu: %s", s->def.name,
                (unsigned long long)e->rec.seq, rd_kafka_err2str(err));
    return err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ? CN_ELIMIT : CN_EINVAL;
}

static void on_async_closed(uv_handle_t *h)
{
    mq__sink_backend_closed(h->data);
}

static void kafka_stop(mq__sink_t *s)
{
    kafka_t *k = s->impl;
    rd_kafka_queue_cb_event_enable(k->mainq, NULL, NULL);
    rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    uv_close((uv_handle_t *)&k->async, on_async_closed);
}

static void kafka_free(mq__sink_t *s)
{
    kafka_t *k = s->impl;
    if (!k)
        return;
    if (k->rk) {
        /* Purged records report back here (ignored: s->stopped). */
        rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(k->rk, 5000);
    }
    for (size_t i = 0; i < k->ntopics; i++) {
        rd_kafka_topic_destroy(k->topics[i].rkt);
        cn_free(k->topics[i].name);
    }
    cn_free(k->topics);
    if (k->mainq)
        rd_kafka_queue_destroy(k->mainq);
    if (k->rk)
        rd_kafka_destroy(k->rk);
    cn_free(k);
    s->impl = NULL;
}

const mq__backend_t mq__kafka_backend = {
    .name = "kafka",
    .pipeline = true,
    .send = kafka_send,
    .stop = kafka_stop,
    .free = kafka_free,
};
