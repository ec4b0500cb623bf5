/* SPDX-License-Identifier: MIT */
/*
 * auth.h - the server's MQTT authentication and authorisation: builds the
 * auth service (ingest/auth/auth.h) from password-file, acl-file and the
 * auth-* keys, reloads it on SIGHUP, and provides the broker's two hooks
 * (ingest/broker/broker.h) with the srv_ctx_t as their argument.
 *
 * Threads: open/reload/close on the main thread; the hooks on broker loop
 * threads (the connect hook never blocks: see mq_auth_connect).
 */
#ifndef SRV_AUTH_H
#define SRV_AUTH_H

#include "broker/broker.h"
#include "ctx.h"

/* True when the configuration names a password file or an HTTP service,
 * i.e. MQTT clients can authenticate. */
bool srv_auth_configured(const srv_cfg_t *cfg);
/* Creates ctx->auth when password-file, acl-file or auth-http-url is set
 * (else leaves it NULL).  Returns 0 or CN_ECONFIG (reason on stderr). */
int srv_auth_open(srv_ctx_t *ctx);
/* SIGHUP: re-reads the password file and the ACL file; a bad file is
 * logged and the running ones stay. */
void srv_auth_reload(srv_ctx_t *ctx);
/* After the broker stopped.  Idempotent. */
void srv_auth_close(srv_ctx_t *ctx);

/* mq_broker_auth_fn: arg is the srv_ctx_t; answers via mq_broker_auth_done. */
void srv_auth_connect_hook(void *arg, const mq_broker_auth_req_t *req, uint64_t token);
/* mq_broker_acl_fn: arg is the srv_ctx_t; user NULL = no user name. */
bool srv_auth_acl_hook(void *arg, const char *user, const char *client_id, const char *topic,
                       size_t len, int access);

#endif /* SRV_AUTH_H */
