/* SPDX-License-Identifier: MIT */
/*
 * ingest.h - MQTT PUBLISH -> rows: the glue between the broker's ingest
 * hook and the engine.  A message is mapped by topic-templates
 * (ingest/map/map.h), decoded into points and written with eng_write; the
 * caller gets the WAL sequence number to wait for before it acknowledges
 * (QoS 1 PUBACK, QoS 2 PUBREC), so an acknowledgement means durable.
 *
 * Decode problems never cost the connection: they are counted per template
 * and reason (srv_ingest_metrics), logged rate-limited, and when
 * ingest-republish-errors is on the caller gets a JSON report to publish to
 * $cairn/errors/<client id>.  A field whose type conflicts with the stored
 * one is rejected alone; the rest of the record is stored and the conflict
 * counted.
 *
 * Threads: srv_ingest_t is shared and immutable after srv_ingest_new
 * (counters are atomics); every event-loop thread owns one
 * srv_ingest_worker_t and calls srv_ingest_publish with it.  Nothing here
 * blocks: eng_write never waits for I/O (it says CN_EFULL instead).
 */
#ifndef SRV_INGEST_H
#define SRV_INGEST_H

#include "broker/broker.h"
#include "cfg.h"
#include "engine.h"
#include "rules/rules.h"

#include <stdio.h>

typedef struct srv_ingest srv_ingest_t;
struct mq_sink_sys; /* ingest/sink/sink.h */
typedef struct srv_ingest_worker srv_ingest_worker_t;

/* Device registry lookup (see mq_map_registry_fn); may be NULL. */
typedef const eng_tag_t *(*srv_ingest_registry_fn)(void *arg, const char *device_id,
                                                   uint32_t *ntags /* OUT */);

/* Parses topic-templates and the ingest options of cfg (before the engine
 * opens, so a bad config stops startup early).  On a bad template writes "cairn: topic-templates:
 * template 2:
 * ..." to diag and returns CN_ECONFIG. */
int srv_ingest_new(const srv_cfg_t *cfg, srv_ingest_t **out /* OUT */, FILE *diag);
void srv_ingest_set_registry(srv_ingest_t *in, srv_ingest_registry_fn fn, void *arg);
/* Attaches the device registry of the metadata store (its tags go on every
 * point of a device, see map.h for precedence); replaces set_registry.
 * Main thread, before srv_ingest_start; detached by srv_ingest_stop. */
struct mq_store;
void srv_ingest_set_store(srv_ingest_t *in, struct mq_store *st);
/* kafka-stream-topic: every stored message is also appended (raw payload,
 * keyed by its device_id tag, else the client id) to the sink system's
 * stream sink; NULL turns it off.  Set before workers publish. */
void srv_ingest_set_stream(srv_ingest_t *in, struct mq_sink_sys *sinks);
void srv_ingest_free(srv_ingest_t *in); /* NULL is a no-op; workers first */
/* The rule set (ingest/rules/rules.h, borrowed) that srv_ingest_rules
 * evaluates; call before the workers are created.  NULL: no rules. */
struct mq_rules;
void srv_ingest_set_rules(srv_ingest_t *in, struct mq_rules *rs);

srv_ingest_worker_t *srv_ingest_worker_new(srv_ingest_t *in);
void srv_ingest_worker_free(srv_ingest_worker_t *w); /* NULL is a no-op */

typedef struct srv_ingest_res {
    /* 0; CN_EFULL: the engine is behind, nothing was written, offer the
     * same message again later (pause the publisher meanwhile);
     * CN_ECLOSED: shutting down, nothing written. */
    int status;
    bool stored;  /* rows were written */
    uint64_t seq; /* WAL sequence to be durable before acknowledging; 0 = none */
    uint32_t npoints;
    /* When the payload had errors and ingest-republish-errors is on: the
     * JSON report for $cairn/errors/<client id>, valid until the worker's
     * next call; else NULL. */
    const char *error_json;
    size_t error_len;
} srv_ingest_res_t;

/* Maps, decodes and writes one PUBLISH.  Returns res->status. */
int srv_ingest_publish(srv_ingest_worker_t *w, const char *client_id, const char *topic,
                       size_t tlen, const void *payload, size_t n, srv_ingest_res_t *res /* OUT */);

/* Evaluates the rules on the message the last srv_ingest_publish of this
 * worker handled, with the same arguments plus the publisher's user name
 * (NULL: anonymous) and QoS: its decoded points, or one row of the payload
 * alone when nothing was decoded (no template matched, bad payload).  Call
 * it after a publish whose status was 0 (a CN_EFULL message is offered
 * again; evaluating it then would dispatch twice).  Returns the number of
 * actions handed to the sinks, 0 without rules. */
int srv_ingest_rules(srv_ingest_worker_t *w, const char *client_id, const char *username,
                     uint8_t qos, const char *topic, size_t tlen, const void *payload, size_t n);
/* The message srv_ingest_rules hands to mq_rules_eval: the rule actions
 * (rules_dispatch.c) get &m back as mq_rules_out_t.msg and read the event
 * loop the evaluation runs on (-1 off the loops) to republish there. */
typedef struct srv_rules_msg {
    mq_rules_msg_t m; /* first: the pointer the rules see */
    int loop;
    uint64_t *sink_seq; /* raised to the sink log seq of each record appended */
} srv_rules_msg_t;

/* Appends the ingest counters in Prometheus text format (with
 * cairn_ingest_stream_errors_total when kafka-stream-topic is on):
 *   cairn_ingest_messages_total{template="..."}
 *   cairn_ingest_points_total{template="..."}
 *   cairn_ingest_errors_total{template="...",reason="syntax|limit|value|topic|type_conflict"} */
void srv_ingest_metrics(srv_ingest_t *in, cn_buf_t *out);

/* ------------------------------------------------- the broker's ingest hook
 *
 * srv_ingest_on_publish is the broker's on_publish (broker.h).  Each event
 * loop has a worker of its own (mq_msg_view_t.loop).  QoS 1/2 messages
 * whose rows are not yet durable are answered MQ_PUB_ACK_LATER and
 * acknowledged from srv_ingest_durable (the engine's durable notify) in WAL
 * order.  When the engine refuses a write with CN_EFULL (it is behind), the
 * hook answers MQ_PUB_RETRY: the broker stops reading that publisher and
 * keeps the packet; a resume thread waits until the engine takes writes
 * and resumes every held publisher, whose message is offered again.  So
 * QoS 0 messages are not dropped for a slow engine either, nothing
 * acknowledged is lost, per-publisher order holds, and memory stays bounded
 * (TCP slows the publishers down).  Only a will (no client left to hold)
 * is dropped then, and counted.  Decode errors are republished to
 * $cairn/errors/<client id> (QoS 0) when ingest-republish-errors is on.
 *
 * Lifecycle (main thread): srv_ingest_new ... srv_ingest_start(in, db, b,
 * nloops) after mq_broker_new and before mq_broker_start;
 * srv_ingest_stop(in) after mq_broker_stop and before mq_broker_free
 * (joins the resume thread and detaches the broker, so a late durable
 * notify acknowledges nothing). */
int srv_ingest_start(srv_ingest_t *in, eng_db_t *db, mq_broker_t *broker, unsigned nloops);
void srv_ingest_stop(srv_ingest_t *in);
int srv_ingest_on_publish(void *arg, const mq_msg_view_t *m, const mq_ack_token_t *tok);
/* For eng_opts.durable_notify (WAL thread); in may be NULL.  A QoS 1/2
 * PUBACK waits for the WAL and for the sink log records (rule actions,
 * the stream) of its message. */
void srv_ingest_durable(srv_ingest_t *in, uint64_t durable_seq);
/* The sink log's durable callback (mq_sink_durable_cb; writer thread),
 * with the srv_ingest_t as arg. */
void srv_ingest_sink_durable(void *arg, uint64_t sink_durable_seq);

#endif /* SRV_INGEST_H */
