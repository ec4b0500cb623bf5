/* SPDX-License-Identifier: MIT */
/*
 * ctx.h - srv_ctx_t, the server's one piece of process state (STYLE.md:
 * "no global state apart from one srv_ctx_t created in main()").  main()
 * owns it on its stack; every server module receives a pointer to it.
 * Later issues add the listeners, event-loop threads and metadata store
 * here.
 *
 * Threads: the fields are owned by the main loop's thread; other threads
 * may read cfg (immutable after startup, except log-level and log-file on
 * SIGHUP) and call the thread-safe eng_* functions on db.
 */
#ifndef SRV_CTX_H
#define SRV_CTX_H

#include "cfg.h"
#include "engine.h"

#include <uv.h>

typedef struct srv_ctx {
    srv_cfg_t cfg; /* the running configuration */
    int argc;      /* kept to re-read the config on SIGHUP */
    char **argv;
    eng_db_t *db;          /* open between startup and shutdown */
    struct srv_http *http; /* the HTTP server (http.h); NULL before startup */
    struct srv_xsched *xsched; /* scheduled exports (export_sched.h); NULL when off */
    struct srv_cqs *cqs;       /* continuous queries (cq_sched.h) */
    struct srv_ingest *ingest; /* topic templates -> rows (ingest.h) */
    struct mq_broker *mqtt; /* the MQTT broker (mqtt.h); NULL when not running */
    struct mq_store *store; /* metadata store (ingest/store), opened by srv_mqtt_start */
    struct qry_catalog *catalog; /* database names for /query (exec.h) */
    struct mq_auth *auth;   /* MQTT auth/ACL service (server/auth.h); NULL = none configured */
    struct srv_dispatch *dispatch; /* rule actions -> sinks, MQTT (rules_dispatch.h) */
    struct mq_sink_sys *sinks; /* webhook/Kafka sinks and their log (sinks.h) */
    uv_loop_t loop;        /* the main loop: signals, later lifecycle timers */
    struct srv_rules *rules; /* the rule set and its store (rules.h) */
    uv_signal_t sig_int, sig_term, sig_hup;
    int nloops;       /* event-loops resolved (0 -> number of cores) */
    bool pid_written; /* remove cfg.pid_file at exit */
    bool stopping;    /* a shutdown signal arrived */
} srv_ctx_t;

#endif /* SRV_CTX_H */
