/* SPDX-License-Identifier: MIT */
/*
 * mqtt.h - the server's MQTT front end: builds mq_broker options from the
 * configuration (listeners, limits, secure-by-default anonymous policy),
 * installs the hooks (ingest, and later auth/ACL), starts and stops the
 * broker.  Main thread only.
 */
#ifndef SRV_MQTT_H
#define SRV_MQTT_H

#include "ctx.h"

/* Secure by default: CN_ECONFIG (explained on stderr) when a listener is
 * not loopback and anonymous clients are not allowed there. */
int srv_mqtt_check(const srv_cfg_t *cfg);
/* Starts the broker on cfg.mqtt_listen with cfg.event_loops threads.
 * Returns 0, CN_ECONFIG (printed) or -errno from binding. */
int srv_mqtt_start(srv_ctx_t *ctx);
/* Stops the broker (closes every connection) and frees it; idempotent. */
void srv_mqtt_stop(srv_ctx_t *ctx);

#endif /* SRV_MQTT_H */
