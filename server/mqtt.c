/* SPDX-License-Identifier: MIT */
/*
 * mqtt.c - wiring of the MQTT broker (ingest/broker/broker.h) into the
 * server: one mq_broker_listener_t per address of mqtt-listen, the limits
 * from the mqtt-* keys, and the anonymous policy of Mosquitto 2: loopback
 * listeners accept clients without credentials, others only with
 * mqtt-allow-anonymous = true (until a password file exists, cairn refuses
 * to start with a non-loopback listener otherwise, rather than accept
 * nobody).
 *
 * The ingest hook (issue 4) goes into mq_broker_opts_t.on_publish here;
 * see broker.h for its contract.
 */
#include "mqtt.h"

#include "auth.h"
#include "broker/broker.h"
#include "http.h"
#include "ingest.h"
#include "store/store.h"

#include <stdio.h>

int srv_mqtt_check(const srv_cfg_t *cfg)
{
    srv_addr_t addrs[SRV_MAX_LISTENERS];
    int n = srv_cfg_parse_addrs(cfg->mqtt_listen, addrs, SRV_MAX_LISTENERS);
    if (n <= 0)
        return CN_ECONFIG;
    for (int i = 0; i < n; i++) {
        if (!srv_http_is_loopback(addrs[i].host) && !cfg->mqtt_allow_anonymous &&
            !srv_auth_configured(cfg)) {
            fprintf(stderr,
                    "cairn: mqtt-listen %s:%u is not a loopback address and MQTT authentication "
                    "is not configured; set mqtt-allow-anonymous = true to accept clients "
                    "without credentials there\n",
                    addrs[i].host, addrs[i].port);
            return CN_ECONFIG;
        }
    }
    return 0;
}

/* The ingest hook with the shared hook_arg (the srv_ctx_t). */
static int on_publish(void *arg, const mq_msg_view_t *m, const mq_ack_token_t *tok)
{
    srv_ctx_t *ctx = arg;
    return srv_ingest_on_publish(ctx->ingest, m, tok);
}

int srv_mqtt_start(srv_ctx_t *ctx)
{
    const srv_cfg_t *cfg = &ctx->cfg;
    srv_addr_t addrs[SRV_MAX_LISTENERS];
    int n = srv_cfg_parse_addrs(cfg->mqtt_listen, addrs, SRV_MAX_LISTENERS);
    if (n <= 0 || srv_mqtt_check(cfg) < 0)
        return CN_ECONFIG;
    mq_broker_listener_t lst[SRV_MAX_LISTENERS];
    /* Anonymous clients: allowed by mqtt-allow-anonymous; else on loopback
     * listeners until a password file or HTTP service is configured. */
    for (int i = 0; i < n; i++) {
        bool anon = cfg->mqtt_allow_anonymous ||
                    (srv_http_is_loopback(addrs[i].host) && !srv_auth_configured(cfg));
        lst[i] = (mq_broker_listener_t){addrs[i].host, addrs[i].port, anon};
    }
    /* The metadata store: persistent sessions and retained messages survive
     * a restart (data-dir/meta.db, SQLite in WAL mode). */
    char path[4096];
    snprintf(path, sizeof path, "%s/meta.db", cfg->data_dir);
    mq_store_opts_t so;
    mq_store_opts_default(&so);
    so.path = path;
    so.fsync = cfg->durability == SRV_DUR_FSYNC;
    so.cache_bytes = (size_t)cfg->mqtt_retained_cache;
    so.msg_ext_free = mq_broker_msg_ext_free; /* one retained copy for all subscribers */
    int rc = mq_store_open(&so, &ctx->store);
    if (rc < 0) {
        cn_error("mqtt: cannot open the metadata store %s: %s", path, cn_strerror(rc));
        return rc;
    }
    mq_broker_opts_t o;
    mq_broker_opts_default(&o);
    o.store = ctx->store;
    o.listeners = lst;
    o.nlisteners = (size_t)n;
    o.nloops = (unsigned)ctx->nloops;
    o.max_packet = (uint32_t)cfg->mqtt_max_packet;
    o.max_conns = (uint32_t)cfg->mqtt_max_conns;
    o.max_inflight = (uint16_t)cfg->mqtt_max_inflight;
    o.max_queued = (uint32_t)cfg->mqtt_max_queued;
    o.max_out_bytes = (size_t)cfg->mqtt_max_out_bytes;
    o.max_keepalive = (uint32_t)cfg->mqtt_max_keepalive;
    o.sys_interval_ns = cfg->mqtt_sys_interval_ns;
    /* One hook_arg for every hook: the srv_ctx_t (on_publish unwraps it). */
    o.on_publish = on_publish;
    o.hook_arg = ctx;
    if (ctx->auth) { /* password file, HTTP service and/or ACL (server/auth.c) */
        o.auth = srv_auth_connect_hook;
        o.acl = srv_auth_acl_hook;
    }
    srv_ingest_set_store(ctx->ingest, ctx->store); /* device registry tags */
    if (ctx->http)
        srv_http_set_store(ctx->http, ctx->store); /* /api/v1/devices */
    rc = mq_broker_new(&o, &ctx->mqtt);
    if (rc == 0) /* before the loops run: the hook needs the engine and broker */
        rc = srv_ingest_start(ctx->ingest, ctx->db, ctx->mqtt, (unsigned)ctx->nloops);
    if (rc == 0)
        rc = mq_broker_start(ctx->mqtt);
    if (rc < 0) {
        cn_error("mqtt: cannot listen on %s: %s", cfg->mqtt_listen, cn_strerror(rc));
        srv_mqtt_stop(ctx);
        return rc;
    }
    for (int i = 0; i < n; i++)
        cn_info("mqtt: listening on %s:%u (%d event loop%s)", addrs[i].host,
                mq_broker_port(ctx->mqtt, (size_t)i), ctx->nloops, ctx->nloops == 1 ? "" : "s");
    return 0;
}

void srv_mqtt_stop(srv_ctx_t *ctx)
{
    if (ctx->mqtt) {
        mq_broker_stop(ctx->mqtt);
        srv_ingest_stop(ctx->ingest); /* no acknowledgement reaches a freed broker */
        /* Between stop and free: no hook runs any more, and the answers to
         * CONNECTs still in the auth service land in closed inboxes. */
        srv_auth_close(ctx);
        mq_broker_free(ctx->mqtt);
        ctx->mqtt = NULL;
    }
    if (ctx->http)
        srv_http_set_store(ctx->http, NULL); /* waits for device API handlers */
    mq_store_close(ctx->store);              /* commits what the broker queued */
    ctx->store = NULL;
}
