/* SPDX-License-Identifier: MIT */
/*
 * rules_dispatch.h - rule actions to sinks and MQTT (rules_dispatch.c).
 * srv_dispatch_action is the mq_rules_action_fn the server passes to
 * srv_rules_open, with the srv_dispatch_t as its argument.  The rule set
 * must be evaluated through srv_ingest_rules: republish actions read the
 * event loop from the srv_rules_msg_t (ingest.h) behind mq_rules_out_t.msg.
 */
#ifndef SRV_RULES_DISPATCH_H
#define SRV_RULES_DISPATCH_H

#include "ctx.h"
#include "rules.h"
#include "rules/rules.h"

typedef struct srv_dispatch srv_dispatch_t;

/* ctx is borrowed; its sinks, mqtt and cfg are read at each action. */
int srv_dispatch_new(srv_ctx_t *ctx, srv_dispatch_t **out /* OUT */);
void srv_dispatch_free(srv_dispatch_t *d); /* after the rules; NULL is a no-op */
/* Startup, after ctx->sinks is opened and before it is started: creates
 * the sinks of every webhook and Kafka action of the loaded rules, so that
 * each resumes its cursor (a sink not registered at start loses its
 * backlog), and puts the set in packed mode (rules_dispatch.c NOTES 4).
 * Main thread.  Returns 0 (failures are logged and make the
 * action fail later) or CN_EINVAL without ctx->sinks. */
int srv_dispatch_prepare(srv_dispatch_t *d, srv_rules_t *rules);
/* Any evaluating thread; never blocks (a mutex once per new action). */
int srv_dispatch_action(void *arg, const mq_rules_out_t *o);

#endif /* SRV_RULES_DISPATCH_H */
