/* SPDX-License-Identifier: MIT */
/*
 * sinks.h - the server's sink system (ingest/sink/sink.h): opened at
 * startup under <data-dir>/sinks from the sink-* and kafka-* keys and the
 * sinks file, stopped at shutdown.  Rule actions add their own sinks
 * through mq_sink_sys_add (see sink.h: "Sinks of rule actions"); the
 * ingest path calls mq_sink_stream for the kafka-stream-topic option.
 *
 * Threads: main thread (open/close); the metrics and JSON callbacks run on
 * the HTTP thread (the sink system's readers are thread-safe).
 */
#ifndef SRV_SINKS_H
#define SRV_SINKS_H

#include "cfg.h"
#include "sink/sink.h"

#include <stdio.h>

/*
 * Opens the sink system (not started: srv_sinks_start).  Reads cfg->sinks_file (if set) and,
 * with kafka-stream-topic set, adds the Kafka sink "stream" (kafka-brokers,
 * kafka-compression) and makes it the stream sink.  Config problems go to
 * diag as "cairn: sinks-file F:3: ..." and return CN_ECONFIG; other
 * failures return their code (logged).
 */
int srv_sinks_open(const srv_cfg_t *cfg, mq_sink_sys_t **out /* OUT */, FILE *diag);
/* Starts delivery, once every sink known at startup is added (the rule
 * actions' too: a sink added later forgets its backlog).  cb (may be NULL)
 * gets the log's durable notifications (mq_sink_durable_cb).  0 or the
 * error (logged); the caller closes the system on failure. */
int srv_sinks_start(mq_sink_sys_t *sys, mq_sink_durable_cb cb, void *arg);
/* Prometheus families of the sinks (the srv_http metrics callback shape). */
void srv_sinks_metrics(void *sys, cn_buf_t *out);
/* The JSON status of GET /api/v1/sinks (same shape). */
void srv_sinks_json(void *sys, cn_buf_t *out);

#endif /* SRV_SINKS_H */
