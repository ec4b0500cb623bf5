/* SPDX-License-Identifier: MIT */
/*
 * rules_dispatch.c - hands what rules select to their actions
 * (mq_rules_action_fn, on the evaluating MQTT loop thread; never blocks):
 *
 *   webhook, kafka  appended to a sink of its own (ingest/sink/sink.h), so
 *                   delivery is at least once across outages and restarts.
 *                   The sink is named rule.<rule id>.<action index>.<hash>
 *                   (the hash covers what defines the endpoint: the kind,
 *                   url, method, timeout and header names), so its cursor
 *                   survives restarts and an edited endpoint gets a fresh
 *                   sink.  The sinks of the rules loaded at startup are
 *                   created before the sink system starts (else the log
 *                   would forget their cursors and backlog); those of
 *                   rules added later on first use.  The record
 *                   carries the rendered key (per-key order), the Kafka
 *                   topic or the webhook's rendered headers, and the body.
 *   republish       mq_broker_publish on the calling loop.
 *
 * Kafka actions use the `kafka-brokers` and `kafka-compression` keys.  A
 * sink that cannot be created (no kafka-brokers, a bad URL) makes the
 * action fail: counted in the rule's action_errors, logged once.
 *
 * NOTES
 *  1. The action -> sink map is a hash table that loop threads read
 *     without a lock: a table is never changed once published; an
 *     insertion (under `mu`, once per action and process) copies it and
 *     publishes the copy with release order.  Replaced tables stay
 *     allocated until srv_dispatch_free (there are at most a few thousand
 *     insertions per process: one per action definition).
 *  2. Sinks of edited or deleted rules are not removed while cairn runs:
 *     their undelivered records are still delivered (they were accepted
 *     under the old definition).
 *  3. Records are stamped with the time of the append (ts 0), not the
 *     row's event time: it is the Kafka message timestamp (as EMQX's
 *     bridge stamps the receive time) and what the sink's lag ages by.
 *  4. The rule set runs in packed mode (server/rules.c): a webhook or
 *     Kafka body that is the rule's outputs as JSON arrives packed (typed
 *     values, rules.h) and is stored so, flagged MQ_SINK_REC_PACKED; the
 *     sink's log reader renders the JSON, byte for byte the same, on the
 *     delivery side instead of the MQTT loop.
 */
#include "rules_dispatch.h"

#include "broker/broker.h"
#include "ingest.h"
#include "sink/sink.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* One action's sink, or the error creating it. */
typedef struct slot {
    char *rule; /* rule id; NULL = empty slot */
    uint32_t action, hash;
    int id; /* sink id, or the creation error (< 0) */
} slot_t;

typedef struct table {
    size_t cap, n;      /* cap: a power of two */
    struct table *prev; /* replaced tables, freed at the end (NOTES 1) */
    slot_t v[];
} table_t;

struct srv_dispatch {
    srv_ctx_t *ctx;
    pthread_mutex_t mu;       /* insertions */
    _Atomic(table_t *) table; /* NOTES 1 */
};

static const char *const KAFKA_COMPRESSION[] = {"none", "gzip", "snappy", "lz4", "zstd"};

static table_t *table_new(size_t cap)
{
    table_t *t = cn_calloc(1, sizeof *t + cap * sizeof t->v[0]);
    t->cap = cap;
    return t;
}

int srv_dispatch_new(srv_ctx_t *ctx, srv_dispatch_t **out)
{
    srv_dispatch_t *d = cn_calloc(1, sizeof *d);
    d->ctx = ctx;
    pthread_mutex_init(&d->mu, NULL);
    atomic_store(&d->table, table_new(16));
    *out = d;
    return 0;
}

void srv_dispatch_free(srv_dispatch_t *d)
{
    if (!d)
        return;
    table_t *t = atomic_load(&d->table);
    for (size_t i = 0; i < t->cap; i++)
        cn_free(t->v[i].rule); /* the strings are shared by every table */
    while (t) {
        table_t *prev = t->prev;
        cn_free(t);
        t = prev;
    }
    pthread_mutex_destroy(&d->mu);
    cn_free(d);
}

static uint32_t fnv(uint32_t h, const char *s)
{
    for (; s && *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return (h ^ 0xff) * 16777619u; /* separator */
}

/* What defines the endpoint of an action (part of its sink's name). */
static uint32_t endpoint_hash(const mq_rule_action_t *a)
{
    char tmo[16];
    snprintf(tmo, sizeof tmo, "%u", a->timeout_ms);
    uint32_t h = 2166136261u;
    h = fnv(h, a->kind == MQ_ACT_WEBHOOK ? "webhook" : "kafka");
    h = fnv(h, a->url);
    h = fnv(h, a->method);
    h = fnv(h, tmo);
    for (uint32_t i = 0; i < a->nheaders; i++)
        h = fnv(h, a->headers[i].name);
    return h;
}

static size_t slot_at(const table_t *t, const char *rule, uint32_t action, uint32_t hash)
{
    uint32_t k = fnv(hash ^ (action * 2654435761u), rule);
    size_t i = k & (t->cap - 1);
    while (t->v[i].rule &&
           (t->v[i].action != action || t->v[i].hash != hash || strcmp(t->v[i].rule, rule) != 0))
        i = (i + 1) & (t->cap - 1);
    return i;
}

/* Under d->mu: creates the sink of action `ai` of `rule`; its id or an
 * error. */
static int create_sink(srv_dispatch_t *d, const mq_rule_def_t *rule, uint32_t ai, uint32_t hash)
{
    const mq_rule_action_t *a = &rule->actions[ai];
    char name[256];
    snprintf(name, sizeof name, "rule.%s.%u.%08x", rule->id, ai, hash);
    int id = mq_sink_sys_find(d->ctx->sinks, name);
    if (id >= 0)
        return id;
    mq_sink_def_t def;
    memset(&def, 0, sizeof def);
    def.name = name;
    if (a->kind == MQ_ACT_WEBHOOK) {
        def.type = MQ_SINK_WEBHOOK;
        def.url = a->url;
        def.method = a->method;
        def.timeout_ns = (int64_t)(a->timeout_ms ? a->timeout_ms : 5000) * 1000000;
    } else {
        def.type = MQ_SINK_KAFKA;
        def.brokers = d->ctx->cfg.kafka_brokers;
        def.compression = KAFKA_COMPRESSION[d->ctx->cfg.kafka_compression];
        if (!def.brokers[0]) {
            cn_error("rules: rule '%s' action %u is a Kafka action but kafka-brokers is not "
                     "set; the action fails",
                     rule->id, ai);
            return CN_ECONFIG;
        }
    }
    id = mq_sink_sys_add(d->ctx->sinks, &def);
    if (id < 0)
        cn_error("rules: cannot create sink %s for rule '%s': %s; the action fails", name, rule->id,
                 cn_strerror(id));
    else
        cn_info("rules: sink %s delivers action %u of rule '%s'", name, ai, rule->id);
    return id;
}

/* The sink of action `ai` of `rule`, created on first use; negative on
 * failure (remembered: logged once). */
static int sink_of(srv_dispatch_t *d, const mq_rule_def_t *rule, uint32_t ai)
{
    uint32_t hash = endpoint_hash(&rule->actions[ai]);
    table_t *t = atomic_load_explicit(&d->table, memory_order_acquire);
    size_t i = slot_at(t, rule->id, ai, hash);
    if (t->v[i].rule)
        return t->v[i].id;
    pthread_mutex_lock(&d->mu);
    t = atomic_load_explicit(&d->table, memory_order_relaxed);
    i = slot_at(t, rule->id, ai, hash);
    if (!t->v[i].rule) {
        int id = create_sink(d, rule, ai, hash);
        /* A copy with the new slot (grown at half load), then publish. */
        size_t cap = (t->n + 1) * 2 > t->cap ? t->cap * 2 : t->cap;
        table_t *nt = table_new(cap);
        for (size_t j = 0; j < t->cap; j++) {
            if (t->v[j].rule)
                nt->v[slot_at(nt, t->v[j].rule, t->v[j].action, t->v[j].hash)] = t->v[j];
        }
        i = slot_at(nt, rule->id, ai, hash);
        nt->v[i] = (slot_t){.rule = cn_strdup(rule->id), .action = ai, .hash = hash, .id = id};
        nt->n = t->n + 1;
        nt->prev = t;
        atomic_store_explicit(&d->table, nt, memory_order_release);
        t = nt;
    }
    int id = t->v[i].id;
    pthread_mutex_unlock(&d->mu);
    return id;
}

static void prepare_one(void *arg, const mq_rule_def_t *def)
{
    srv_dispatch_t *d = arg;
    for (uint32_t i = 0; i < def->nactions; i++)
        if (def->actions[i].kind != MQ_ACT_REPUBLISH)
            sink_of(d, def, i);
}

int srv_dispatch_prepare(srv_dispatch_t *d, srv_rules_t *rules)
{
    if (!d->ctx->sinks)
        return CN_EINVAL;
    mq_rules_set_packed(srv_rules_set(rules), true); /* NOTES 4 */
    srv_rules_each(rules, prepare_one, d);
    return 0;
}

int srv_dispatch_action(void *arg, const mq_rules_out_t *o)
{
    srv_dispatch_t *d = arg;
    const mq_rule_action_t *a = o->act;
    if (a->kind == MQ_ACT_REPUBLISH) {
        /* srv_ingest_rules evaluates an srv_rules_msg_t (rules_dispatch.h) */
        const srv_rules_msg_t *sm = (const srv_rules_msg_t *)o->msg;
        if (!d->ctx->mqtt || !sm || sm->loop < 0 || !o->topic)
            return CN_EINVAL;
        return mq_broker_publish(d->ctx->mqtt, (unsigned)sm->loop, o->topic, o->topic_len, o->body,
                                 o->body_len, a->qos, a->retain);
    }
    if (!d->ctx->sinks)
        return CN_ECLOSED;
    int id = sink_of(d, o->rule, o->action);
    if (id < 0)
        return id;
    /* Webhook: the rendered headers travel with the record as "Name: value"
     * lines; a value may not carry a line break (header injection). */
    char hdr[4096];
    size_t hl = 0;
    if (a->kind == MQ_ACT_WEBHOOK) {
        for (uint32_t i = 0; i < a->nheaders && o->headers; i++) {
            const char *v = o->headers[i];
            if (strpbrk(v, "\r\n"))
                return CN_EINVAL;
            int n = snprintf(hdr + hl, sizeof hdr - hl, "%s%s: %s", hl ? "\n" : "",
                             a->headers[i].name, v);
            if (n < 0 || (size_t)n >= sizeof hdr - hl)
                return CN_ELIMIT;
            hl += (size_t)n;
        }
    }
    mq_sink_rec_t rec;
    memset(&rec, 0, sizeof rec);
    rec.ts_ns = 0; /* NOTES 3 */
    rec.key = (const uint8_t *)o->key;
    rec.key_len = o->key_len;
    if (a->kind == MQ_ACT_WEBHOOK) {
        rec.topic = (const uint8_t *)hdr;
        rec.topic_len = hl;
    } else {
        rec.topic = (const uint8_t *)o->topic;
        rec.topic_len = o->topic_len;
    }
    rec.payload = (const uint8_t *)o->body;
    rec.payload_len = o->body_len;
    if (o->packed) /* NOTES 4 */
        rec.flags = MQ_SINK_REC_PACKED;
    uint64_t seq = 0;
    int rc = mq_sink_append(d->ctx->sinks, id, &rec, &seq);
    /* the PUBACK waits for it (ingest.h) */
    const srv_rules_msg_t *sm = (const srv_rules_msg_t *)o->msg;
    if (rc == 0 && sm && sm->sink_seq && seq > *sm->sink_seq)
        *sm->sink_seq = seq;
    return rc;
}
