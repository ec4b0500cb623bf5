/* SPDX-License-Identifier: MIT */
/*
 * main.c - the `cairn` executable: command-line dispatch (help, version,
 * print-config, inspect, export, passwd) and the server's lifecycle.
 *
 *   main() --srv_cfg_cli--> run(): secure-by-default check, log-file,
 *      pid-file, srv_http_new, eng_open (durable_notify -> HTTP loop),
 *      srv_http_start (HTTP thread) --> uv_run(main loop) ... SIGINT/SIGTERM:
 *      on_stop() closes the signal handles, the loop runs dry --> stop():
 *      srv_http_stop (no new connections, writes in flight answered,
 *      bounded), eng_close (flushes), srv_http_free, pid-file removed,
 *      loop closed --> exit 0.
 *   SIGHUP: on_hup() re-reads the configuration; log-level applies at once,
 *      log-file is reopened (log rotation), other changes wait for a restart.
 *
 * Exit codes: 0 clean shutdown (or inspect verified, export done), 1 runtime failure
 * (engine open, pid-file, inspect found damage), 2 usage or config error.
 *
 * NOTES
 *  1. The MQTT broker (server/mqtt.c) runs event-loops threads of its own
 *     and starts after HTTP and the engine; it stops first.  HTTP runs on
 *     one thread of its own (server/http.c).
 *  2. The main loop is not a network loop: the few blocking calls in
 *     on_hup() (open of the log file, reading the config) are acceptable
 *     there and must not move to a network loop.  stop() joins the HTTP
 *     thread on it, which is fine for the same reason.
 *  3. Secure by default: HTTP has no authentication yet, so an http-listen
 *     address that is not loopback needs http-allow-anonymous = true.
 */
#include "auth.h"
#include "cfg.h"
#include "cq_sched.h"
#include "ctx.h"
#include "engine.h"
#include "exec.h"
#include "export.h"
#include "export_sched.h"
#include "http.h"
#include "ingest.h"
#include "mqtt.h"
#include "passwd.h"
#include "rules.h"
#include "rules_dispatch.h"
#include "sinks.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

static int cmd_inspect(const srv_cli_t *cli)
{
    int rc = eng_inspect(cli->inspect_dir, cli->inspect_verbose, stdout);
    fflush(stdout);
    if (rc == 0)
        return 0;
    fprintf(stderr, "cairn: inspect %s: %s\n", cli->inspect_dir, cn_strerror(rc));
    return EXIT_RUNTIME;
}

static int cmd_export(int argc, char **argv)
{
    srv_export_opts_t o;
    if (srv_export_cli(argc, argv, &o, stderr) < 0)
        return EXIT_USAGE;
    cn_log_set_level(CN_LOG_WARN);
    o.progress = isatty(STDERR_FILENO) ? stderr : NULL;
    srv_export_summary_t sum;
    int rc = srv_export_run(&o, &sum);
    if (rc == -EBUSY) {
        fprintf(stderr,
                "cairn: export: data directory %s is in use by another process (a running "
                "cairn server?); export through that server with --server http://HOST:PORT "
                "instead, or stop it first\n",
                o.data_dir);
        return EXIT_RUNTIME;
    }
    if (rc == CN_ENOTFOUND) {
        fprintf(stderr, "cairn: export: %s is not a cairn data directory (it has no wal/)\n",
                o.data_dir);
        return EXIT_RUNTIME;
    }
    if (rc < 0 && sum.err[0]) {
        fprintf(stderr, "cairn: export: %s\n", sum.err);
        return rc == CN_EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
    }
    if (rc < 0) {
        fprintf(stderr, "cairn: export from %s to %s failed: %s\n",
                o.server ? o.server : o.data_dir, o.out_dir, cn_strerror(rc));
        return EXIT_RUNTIME;
    }
    double s = (double)sum.elapsed_ns / 1e9;
    printf("exported %llu rows to %llu files, %llu bytes in %.3f s (%.0f rows/s, %.1f MB/s); "
           "manifest %s\n",
           (unsigned long long)sum.rows, (unsigned long long)sum.files,
           (unsigned long long)sum.bytes, s, s > 0 ? (double)sum.rows / s : 0.0,
           s > 0 ? (double)sum.bytes / 1e6 / s : 0.0, sum.manifest);
    if (o.where && o.where[0])
        printf("where %s: %llu of %llu rows read matched\n", o.where, (unsigned long long)sum.rows,
               (unsigned long long)sum.scanned);
    return 0;
}

/* Points stderr (the log) at cfg.log_file, or leaves it alone when unset. */
static int open_log_file(const char *path)
{
    if (!path[0])
        return 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = dup2(fd, STDERR_FILENO) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

static void log_config(const srv_ctx_t *ctx)
{
    char line[900], val[256];
    size_t len = 0;
    for (size_t i = 0; srv_cfg_key(i) && len < sizeof line; i++) {
        const char *k = srv_cfg_key(i);
        const char *v = srv_cfg_value_str(&ctx->cfg, k, val, sizeof val);
        len += (size_t)snprintf(line + len, sizeof line - len, "%s%s=%s", i ? " " : "", k,
                                v[0] ? v : "\"\"");
    }
    cn_info("config: %s", line);
    char mq[300], http[300];
    cn_info("mqtt-listen %s, http-listen %s, %d event loop(s)",
            srv_cfg_value_str(&ctx->cfg, "mqtt-listen", mq, sizeof mq),
            srv_cfg_value_str(&ctx->cfg, "http-listen", http, sizeof http), ctx->nloops);
}

/* The engine's durable notify (WAL thread): /write responses and MQTT
 * acknowledgements both wait for it.  Both callees only signal or enqueue. */
static void on_durable(void *arg, uint64_t durable_seq)
{
    srv_ctx_t *ctx = arg;
    srv_http_durable_notify(ctx->http, durable_seq);
    srv_ingest_durable(ctx->ingest, durable_seq);
}

static void engine_opts(srv_ctx_t *ctx, eng_opts_t *o)
{
    const srv_cfg_t *cfg = &ctx->cfg;
    eng_opts_default(o);
    o->dir = cfg->data_dir;
    o->durability = cfg->durability == SRV_DUR_OS ? ENG_DUR_OS : ENG_DUR_FSYNC;
    o->partition_ns = cfg->partition_ns;
    o->retention_ns = cfg->retention_ns;
    if (ctx->catalog) { /* retention policies set by InfluxQL statements persist */
        qry_catalog_set_base_retention(ctx->catalog, cfg->retention_ns);
        o->retention_ns = qry_catalog_retention(ctx->catalog);
        if (o->retention_ns != cfg->retention_ns)
            cn_info("retention: %lld s from the retention policies (DATA-DIR/databases)",
                    (long long)(o->retention_ns / 1000000000));
    }
    o->memtable_bytes = (size_t)cfg->memtable_bytes;
    o->wal_segment_bytes = (size_t)cfg->wal_segment_bytes;
    o->group_commit_us = (uint32_t)(cfg->group_commit_ns / 1000);
    o->compress = cfg->compression == SRV_COMP_NONE  ? ENG_COMP_NONE
                  : cfg->compression == SRV_COMP_LZ4 ? ENG_COMP_LZ4
                                                     : ENG_COMP_ZSTD;
    o->zstd_level = (int)cfg->zstd_level;
    o->durable_notify = on_durable;
    o->durable_arg = ctx;
}

static int open_engine(srv_ctx_t *ctx)
{
    eng_opts_t o;
    engine_opts(ctx, &o);
    int64_t t0 = cn_mono_ns();
    int rc = eng_open(&o, &ctx->db);
    if (rc < 0) {
        cn_error("cannot open data-dir %s: %s (%s)", ctx->cfg.data_dir, cn_strerror(rc),
                 cn_errname(rc));
        return rc;
    }
    eng_stats_t st;
    eng_get_stats(ctx->db, &st);
    cn_info("opened data-dir %s in %lld ms: recovery replayed %llu WAL records and truncated "
            "%llu bytes; %llu series, %llu segments (%llu bytes)",
            ctx->cfg.data_dir, (long long)((cn_mono_ns() - t0) / 1000000),
            (unsigned long long)st.wal_replayed_records, (unsigned long long)st.wal_truncated_bytes,
            (unsigned long long)st.series, (unsigned long long)st.segments,
            (unsigned long long)st.segment_bytes);
    if (st.wal_truncated_bytes)
        cn_warn("recovery truncated %llu bytes of a torn or corrupt WAL tail",
                (unsigned long long)st.wal_truncated_bytes);
    return 0;
}

static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void on_stop(uv_signal_t *sig, int signum)
{
    srv_ctx_t *ctx = sig->data;
    if (ctx->stopping)
        return;
    ctx->stopping = true;
    cn_info("received %s, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    /* With every handle closed the loop runs dry and run() continues. */
    uv_walk(&ctx->loop, walk_close, NULL);
}

/* Applies the reloadable keys from `next`; warns about the others. */
static void apply_reload(srv_ctx_t *ctx, const srv_cfg_t *next)
{
    char a[512], b[512];
    for (size_t i = 0; srv_cfg_key(i); i++) {
        const char *k = srv_cfg_key(i);
        srv_cfg_value_str(&ctx->cfg, k, a, sizeof a);
        srv_cfg_value_str(next, k, b, sizeof b);
        if (strcmp(a, b) == 0)
            continue;
        if (strcmp(k, "log-level") == 0 || strcmp(k, "log-file") == 0) {
            srv_cfg_set(&ctx->cfg, k, b, "reload", stderr);
            cn_info("reload: %s = %s", k, b);
        } else {
            cn_warn("reload: %s changed (%s -> %s); restart cairn to apply it", k, a, b);
        }
    }
    cn_log_set_level(ctx->cfg.log_level);
}

static void on_hup(uv_signal_t *sig, int signum)
{
    srv_ctx_t *ctx = sig->data;
    (void)signum;
    srv_cfg_t next;
    srv_cli_t cli;
    srv_cfg_init(&next);
    if (srv_cfg_cli(&next, ctx->argc, ctx->argv, &cli, stderr) < 0)
        cn_error("reload: configuration rejected; keeping the running one");
    else
        apply_reload(ctx, &next);
    srv_cfg_free(&next);
    srv_auth_reload(ctx); /* same files, new contents */
    int rc = open_log_file(ctx->cfg.log_file);
    if (rc < 0)
        cn_error("reload: cannot reopen log-file %s: %s", ctx->cfg.log_file, cn_strerror(rc));
    cn_info("SIGHUP handled");
}

static int start_signals(srv_ctx_t *ctx)
{
    struct {
        uv_signal_t *h;
        uv_signal_cb cb;
        int signum;
    } sigs[] = {{&ctx->sig_int, on_stop, SIGINT},
                {&ctx->sig_term, on_stop, SIGTERM},
                {&ctx->sig_hup, on_hup, SIGHUP}};
    for (size_t i = 0; i < CN_ARRAY_LEN(sigs); i++) {
        int rc = cn_from_uv(uv_signal_init(&ctx->loop, sigs[i].h));
        if (rc < 0)
            return rc;
        sigs[i].h->data = ctx;
        rc = cn_from_uv(uv_signal_start(sigs[i].h, sigs[i].cb, sigs[i].signum));
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int write_pid_file(srv_ctx_t *ctx)
{
    if (!ctx->cfg.pid_file[0])
        return 0;
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    int rc = cn_file_write_atomic(ctx->cfg.pid_file, buf, (size_t)n);
    if (rc < 0) {
        cn_error("cannot write pid-file %s: %s", ctx->cfg.pid_file, cn_strerror(rc));
        return rc;
    }
    ctx->pid_written = true;
    return 0;
}

static int new_http(srv_ctx_t *ctx)
{
    const srv_cfg_t *cfg = &ctx->cfg;
    srv_http_opts_t o = {
        .host = cfg->http_listen.host,
        .port = cfg->http_listen.port,
        .max_body = (size_t)cfg->http_max_body,
        .read_timeout_ns = cfg->http_read_timeout_ns,
        .idle_timeout_ns = cfg->http_idle_timeout_ns,
        .max_conns = (uint32_t)cfg->http_max_conns,
        .query_workers = (uint32_t)(cfg->query_workers ? cfg->query_workers
                                                       : (int64_t)uv_available_parallelism()),
        .query_threads = (uint32_t)(cfg->query_threads ? cfg->query_threads
                                                       : (int64_t)uv_available_parallelism()),
        .query_timeout_ns = cfg->query_timeout_ns,
        .query_log_after_ns = cfg->query_log_after_ns,
        .query_max_series = (uint64_t)cfg->query_max_series,
        .query_max_points = (uint64_t)cfg->query_max_points,
    };
    /* database names for SHOW DATABASES (exec.h); the file is written on
     * CREATE/DROP DATABASE, on a query worker */
    char path[4096];
    snprintf(path, sizeof path, "%s/databases", cfg->data_dir);
    qry_catalog_open(path, &ctx->catalog);
    o.catalog = ctx->catalog;
    int rc = srv_http_new(&o, &ctx->http);
    if (rc < 0)
        cn_error("http: cannot set up the event loop: %s", cn_strerror(rc));
    return rc;
}

static int start_http(srv_ctx_t *ctx)
{
    int rc = srv_http_start(ctx->http, ctx->db);
    if (rc < 0) {
        cn_error("http: cannot listen on %s:%u: %s", ctx->cfg.http_listen.host,
                 ctx->cfg.http_listen.port, cn_strerror(rc));
        return rc;
    }
    cn_info("http: listening on %s:%u", ctx->cfg.http_listen.host, srv_http_port(ctx->http));
    return 0;
}

static int start_xsched(srv_ctx_t *ctx)
{
    int rc = srv_xsched_start(&ctx->cfg, ctx->db, &ctx->xsched);
    if (rc < 0)
        cn_error("export schedule: cannot start: %s", cn_strerror(rc));
    srv_http_set_xsched(ctx->http, ctx->xsched);
    return rc;
}

/* Continuous queries: their own thread, the server's query limits. */
static int start_cqs(srv_ctx_t *ctx)
{
    const srv_cfg_t *cfg = &ctx->cfg;
    srv_cqs_opts_t o = {
        .db = ctx->db,
        .catalog = ctx->catalog,
        .timeout_ns = cfg->query_timeout_ns,
        .max_series = (uint64_t)cfg->query_max_series,
        .max_points = (uint64_t)cfg->query_max_points,
        .threads = (uint32_t)(cfg->query_threads ? cfg->query_threads
                                                 : (int64_t)uv_available_parallelism()),
    };
    int rc = srv_cqs_start(&o, &ctx->cqs);
    if (rc < 0) {
        cn_error("continuous queries: cannot start: %s", cn_strerror(rc));
        return rc;
    }
    srv_http_add_metrics(ctx->http, srv_cqs_metrics, ctx->cqs);
    return 0;
}

static void ingest_metrics(void *arg, cn_buf_t *out)
{
    srv_ingest_metrics(arg, out);
}

/* The sink system (issue 6): webhooks, Kafka, the stream option. */
static int open_sinks(srv_ctx_t *ctx)
{
    int rc = srv_sinks_open(&ctx->cfg, &ctx->sinks, stderr);
    if (rc < 0)
        return rc;
    srv_dispatch_prepare(ctx->dispatch, ctx->rules); /* before the start: rule sinks' cursors */
    rc = srv_sinks_start(ctx->sinks, srv_ingest_sink_durable, ctx->ingest); /* PUBACKs wait */
    if (rc < 0)
        return rc; /* stop() closes the sinks */
    srv_ingest_set_stream(ctx->ingest, ctx->sinks);
    srv_http_add_metrics(ctx->http, ingest_metrics, ctx->ingest);
    srv_http_add_metrics(ctx->http, srv_sinks_metrics, ctx->sinks);
    srv_http_set_sinks(ctx->http, srv_sinks_json, ctx->sinks);
    return 0;
}

static void rules_metrics(void *arg, cn_buf_t *out)
{
    mq_rules_prometheus(arg, out); /* cairn_rule_*_total{rule="id"} */
}

static int open_rules(srv_ctx_t *ctx)
{
    srv_dispatch_new(ctx, &ctx->dispatch);
    int rc = srv_rules_open(&ctx->cfg, srv_dispatch_action, ctx->dispatch, &ctx->rules, stderr);
    if (rc < 0) {
        cn_error("rules: cannot load the rules: %s", cn_strerror(rc));
        return rc;
    }
    srv_http_set_rules(ctx->http, ctx->rules);
    srv_http_add_metrics(ctx->http, rules_metrics, srv_rules_set(ctx->rules));
    srv_ingest_set_rules(ctx->ingest, srv_rules_set(ctx->rules)); /* before the MQTT workers */
    return 0;
}

static void stop(srv_ctx_t *ctx)
{
    if (ctx->mqtt)
        cn_info("mqtt: stopping (closing every connection)");
    srv_mqtt_stop(ctx);  /* also closes the metadata store */
    srv_auth_close(ctx); /* after the broker: it answers its pending CONNECTs */
    if (ctx->http) {
        cn_info("http: stopping (answering writes in flight)");
        srv_http_stop(ctx->http);
    }
    srv_xsched_stop(ctx->xsched); /* before eng_close: it reads snapshots */
    ctx->xsched = NULL;
    srv_cqs_stop(ctx->cqs); /* before eng_close: it writes */
    ctx->cqs = NULL;
    if (ctx->sinks) {
        cn_info("sinks: stopping (undelivered records stay in the sink log)");
        srv_ingest_set_stream(ctx->ingest, NULL);
        mq_sink_sys_close(ctx->sinks);
        ctx->sinks = NULL;
    }
    srv_rules_close(ctx->rules); /* the HTTP thread, its only user so far, is gone */
    ctx->rules = NULL;
    srv_dispatch_free(ctx->dispatch); /* after the rules that call it */
    ctx->dispatch = NULL;
    if (ctx->db) {
        cn_info("flushing and closing the engine");
        eng_close(ctx->db); /* flushes the memtable */
        ctx->db = NULL;
    }
    srv_http_free(ctx->http); /* after eng_close: the WAL thread notifies it */
    ctx->http = NULL;
    srv_ingest_free(ctx->ingest);
    ctx->ingest = NULL;
    qry_catalog_close(ctx->catalog);
    ctx->catalog = NULL;
    if (ctx->pid_written)
        unlink(ctx->cfg.pid_file);
    int rc = cn_from_uv(uv_loop_close(&ctx->loop));
    if (rc < 0)
        cn_warn("main loop closed with handles open: %s", cn_strerror(rc));
}

/* Runs the server until SIGINT/SIGTERM.  Returns the process exit code. */
static int run(srv_ctx_t *ctx)
{
    if (!srv_http_is_loopback(ctx->cfg.http_listen.host) && !ctx->cfg.http_allow_anonymous) {
        fprintf(stderr,
                "cairn: http-listen %s is not a loopback address and HTTP authentication is "
                "not available yet; set http-allow-anonymous = true to serve it without "
                "authentication\n",
                ctx->cfg.http_listen.host);
        return EXIT_USAGE;
    }
    if (srv_mqtt_check(&ctx->cfg) < 0)
        return EXIT_USAGE;
    if (srv_ingest_new(&ctx->cfg, &ctx->ingest, stderr) < 0)
        return EXIT_USAGE;
    int rc = open_log_file(ctx->cfg.log_file);
    if (rc < 0) {
        fprintf(stderr, "cairn: cannot open log-file %s: %s\n", ctx->cfg.log_file, cn_strerror(rc));
        return EXIT_RUNTIME;
    }
    cn_log_set_level(ctx->cfg.log_level);
    signal(SIGPIPE, SIG_IGN); /* peers that hang up must not kill the server */
    ctx->nloops =
        ctx->cfg.event_loops ? (int)ctx->cfg.event_loops : (int)uv_available_parallelism();
    cn_info("cairn %s starting, pid %ld", CAIRN_VERSION, (long)getpid());
    log_config(ctx);

    rc = cn_from_uv(uv_loop_init(&ctx->loop));
    if (rc < 0) {
        cn_error("uv_loop_init: %s", cn_strerror(rc));
        return EXIT_RUNTIME;
    }
    rc = start_signals(ctx);
    if (rc < 0)
        cn_error("cannot install signal handlers: %s", cn_strerror(rc));
    if (rc == 0)
        rc = write_pid_file(ctx);
    if (rc == 0)
        rc = new_http(ctx);
    if (rc == 0)
        rc = open_engine(ctx);
    if (rc == 0)
        rc = start_xsched(ctx);
    if (rc == 0)
        rc = start_cqs(ctx);
    if (rc == 0)
        rc = open_rules(ctx);
    if (rc == 0)
        rc = open_sinks(ctx);
    if (rc == 0)
        rc = start_http(ctx);
    if (rc == 0)
        rc = srv_auth_open(ctx);
    if (rc == 0)
        rc = srv_mqtt_start(ctx);
    if (rc < 0) {
        uv_walk(&ctx->loop, walk_close, NULL);
        uv_run(&ctx->loop, UV_RUN_DEFAULT); /* lets the close callbacks run */
        stop(ctx);
        return rc == CN_ECONFIG ? EXIT_USAGE : EXIT_RUNTIME;
    }
    cn_info("ready: data-dir %s, durability %s", ctx->cfg.data_dir,
            ctx->cfg.durability == SRV_DUR_OS ? "os" : "fsync");
    uv_run(&ctx->loop, UV_RUN_DEFAULT);
    stop(ctx);
    cn_info("shutdown complete");
    return 0;
}

int main(int argc, char **argv)
{
    srv_ctx_t ctx;
    srv_cli_t cli;
    memset(&ctx, 0, sizeof ctx);
    ctx.argc = argc;
    ctx.argv = argv;
    srv_cfg_init(&ctx.cfg);
    int code = 0;
    if (srv_cfg_cli(&ctx.cfg, argc, argv, &cli, stderr) < 0) {
        code = EXIT_USAGE;
    } else if (cli.action == SRV_ACT_HELP) {
        srv_cfg_help(stdout);
    } else if (cli.action == SRV_ACT_VERSION) {
        printf("cairn %s\n", CAIRN_VERSION);
    } else if (cli.action == SRV_ACT_PRINT_CONFIG) {
        srv_cfg_print(&ctx.cfg, stdout);
    } else if (cli.action == SRV_ACT_INSPECT) {
        code = cmd_inspect(&cli);
    } else if (cli.action == SRV_ACT_EXPORT) {
        code = cmd_export(argc, argv);
    } else if (cli.action == SRV_ACT_PASSWD) {
        code = srv_passwd_main(argc, argv, stderr);
    } else {
        code = run(&ctx);
    }
    srv_cfg_free(&ctx.cfg);
    return code;
}
