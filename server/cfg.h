/* SPDX-License-Identifier: MIT */
/*
 * cfg.h - the server's configuration: one table of options (name, type,
 * default, help, validator), a `key = value` file parser, `--key=value`
 * command-line overrides, and the duration/size/address value parsers.
 *
 * Precedence is defaults < config file (-c FILE) < command line, whatever
 * the order of the arguments.  Diagnostics name the source and line
 * ("cairn: config FILE:12: unknown key 'foo'") and go to the `diag` stream
 * the caller passes (stderr in the server, a memory stream in tests); the
 * functions themselves only return CN_ECONFIG.
 *
 * Threads: none of this is thread-safe; the server calls it on the main
 * thread before the loop starts and on SIGHUP from the loop thread.
 */
#ifndef SRV_CFG_H
#define SRV_CFG_H

#include "base/base.h"

#include <stdio.h>

/* A listen address as given (host:port or [v6]:port), split. */
typedef struct srv_addr {
    char host[256]; /* no brackets for IPv6 */
    uint16_t port;  /* 0 = pick a free port */
} srv_addr_t;

enum srv_durability { SRV_DUR_FSYNC = 0, SRV_DUR_OS = 1 };
enum srv_compress { SRV_COMP_NONE = 0, SRV_COMP_LZ4 = 1, SRV_COMP_ZSTD = 2 };

/*
 * The effective configuration.  Strings are owned (cn_strdup) and freed by
 * srv_cfg_free().  Enumerations hold the index of the value in the option's
 * list, which matches the enums above and enum cn_log_level.
 */
typedef struct srv_cfg {
    char *data_dir;
    char *mqtt_listen; /* comma-separated addresses (srv_cfg_parse_addrs) */
    srv_addr_t http_listen;
    int durability; /* enum srv_durability */
    int log_level;  /* enum cn_log_level */
    char *log_file; /* "" = stderr */
    char *pid_file; /* "" = none */
    int64_t partition_ns;
    int64_t retention_ns; /* 0 = keep forever */
    uint64_t memtable_bytes;
    uint64_t wal_segment_bytes;
    int compression; /* enum srv_compress */
    int64_t zstd_level;
    int64_t group_commit_ns;
    int64_t event_loops; /* 0 = number of cores */
    uint64_t http_max_body;
    int64_t http_read_timeout_ns;
    int64_t http_idle_timeout_ns;
    int64_t http_max_conns;
    int http_allow_anonymous;    /* 0 false, 1 true */
    char *topic_templates;       /* ingest/map/map.h syntax */
    int ingest_unmatched;        /* 0 ignore, 1 store */
    int ingest_republish_errors; /* 0 false, 1 true */
    int mqtt_allow_anonymous;    /* 0 false, 1 true */
    uint64_t mqtt_max_packet;
    int64_t mqtt_max_conns;
    int64_t mqtt_max_inflight;
    int64_t mqtt_max_queued;
    uint64_t mqtt_max_out_bytes;
    int64_t mqtt_max_keepalive;
    uint64_t mqtt_retained_cache; /* bytes of retained payloads cached (ingest/store) */
    int64_t mqtt_sys_interval_ns;
    int64_t query_workers;    /* 0 = number of cores */
    int64_t query_threads;    /* 0 = number of cores */
    int64_t query_timeout_ns; /* 0 = none */
    int64_t query_log_after_ns; /* 0 = off */
    int64_t query_max_series; /* 0 = none */
    int64_t query_max_points; /* 0 = none */
    char *password_file;      /* "" = none (issue 3 auth) */
    char *acl_file;           /* "" = none: every topic allowed */
    char *auth_http_url;      /* "" = no external HTTP auth service */
    int64_t auth_http_timeout_ns;
    int64_t auth_cache_ttl_ns; /* password-file successes; 0 = off */
    int64_t auth_http_allow_ttl_ns;
    int64_t auth_http_deny_ttl_ns;
    char *export_dir;            /* scheduled exports: "" = off */
    char *export_every;          /* "partition" or a duration */
    int64_t export_delay_ns;     /* grace after an interval ends */
    int export_format;           /* enum srv_xfmt */
    int export_compression;      /* enum qry_pq_codec */
    /* Sinks (issue 6; server/sinks.c) */
    char *sinks_file;            /* "" = none */
    uint64_t sink_log_max_bytes; /* 0 = unlimited */
    int64_t sink_log_max_age_ns; /* 0 = unlimited */
    int sink_log_policy;         /* 0 drop-oldest, 1 stop */
    uint64_t sink_segment_bytes;
    char *kafka_brokers;      /* "" = none */
    char *kafka_stream_topic; /* "" = no stream */
    int kafka_compression;    /* index in none, gzip, snappy, lz4, zstd */
    char *rules_file; /* JSON rule definitions, "" = none */
} srv_cfg_t;

/* Fills every option with its default. */
void srv_cfg_init(srv_cfg_t *cfg /* OUT */);
/* Frees the owned strings; the struct may be re-initialised. NULL is a no-op. */
void srv_cfg_free(srv_cfg_t *cfg);

/*
 * Sets option `key` from text `val`.  `where` names the source for
 * diagnostics ("config FILE:12" or "option --key"); diag may be NULL.
 * Returns 0, or CN_ECONFIG after printing "cairn: WHERE: unknown key 'k'"
 * or "cairn: WHERE: bad value 'v' for 'k': expected FORM".
 */
int srv_cfg_set(srv_cfg_t *cfg, const char *key, const char *val, const char *where, FILE *diag);

/*
 * Parses config text: `key = value` lines, `#` comments (at line start or
 * after whitespace), blank lines, optional double quotes around a value.
 * `name` is used in diagnostics.  Returns 0 or CN_ECONFIG (stops at the
 * first error).
 */
int srv_cfg_parse(srv_cfg_t *cfg, const char *name, const char *text, size_t len, FILE *diag);
/* Reads and parses a file.  Returns 0 or CN_ECONFIG (also when unreadable). */
int srv_cfg_load_file(srv_cfg_t *cfg, const char *path, FILE *diag);

/* What the command line asks for. */
enum srv_action {
    SRV_ACT_RUN = 0,
    SRV_ACT_HELP,
    SRV_ACT_VERSION,
    SRV_ACT_PRINT_CONFIG,
    SRV_ACT_INSPECT,
    SRV_ACT_EXPORT, /* `export ...`: main() parses the rest (srv_export_cli) */
    SRV_ACT_PASSWD, /* `passwd ...`: main() runs srv_passwd_main */
};

typedef struct srv_cli {
    int action;              /* enum srv_action */
    const char *config_path; /* -c FILE, borrowed from argv; NULL if none */
    const char *inspect_dir; /* inspect DIR, borrowed from argv */
    bool inspect_verbose;
} srv_cli_t;

/*
 * Parses argv (argv[0] is skipped): -h/--help, -V/--version,
 * --print-config, -c FILE / --config=FILE, `inspect [--verbose] DIR`,
 * `export ...` and `passwd ...` (only recognised here), and
 * every option as --key=value or --key value.  Loads the config file first,
 * then applies the overrides.  Returns 0 or CN_ECONFIG (usage error).
 */
int srv_cfg_cli(srv_cfg_t *cfg, int argc, char **argv, srv_cli_t *cli /* OUT */, FILE *diag);

/* Usage and every option with its default and meaning. */
void srv_cfg_help(FILE *out);
/* The effective configuration as a valid config file. */
void srv_cfg_print(const srv_cfg_t *cfg, FILE *out);
/* Formats option `key`'s current value into buf; returns buf ("" if unknown). */
const char *srv_cfg_value_str(const srv_cfg_t *cfg, const char *key, char *buf, size_t n);
/* Option names in table order: i = 0.. until NULL. */
const char *srv_cfg_key(size_t i);

/*
 * Value parsers, exposed for tests and reuse.
 * Durations: "0", or one or more <integer><unit> with units ns, us, ms, s,
 * m, h, d, w ("1h30m").  Sizes: <integer>[k|M|G|T] with optional B or iB,
 * binary multiples (k = 1024), case-insensitive.  Addresses: host:port or
 * [v6]:port, port 0..65535.  All return 0 or CN_ECONFIG (also on overflow).
 */
int srv_cfg_parse_duration(const char *s, int64_t *ns /* OUT */);
int srv_cfg_parse_size(const char *s, uint64_t *bytes /* OUT */);
int srv_cfg_parse_addr(const char *s, srv_addr_t *addr /* OUT */);
/* A comma-separated list of addresses (spaces around items allowed), at
 * most max: returns how many (>= 1) or CN_ECONFIG. */
#define SRV_MAX_LISTENERS 16
int srv_cfg_parse_addrs(const char *s, srv_addr_t *out /* OUT */, size_t max);
/* Formats ns as the largest exact unit ("1d", "90s", "0"). */
void srv_cfg_fmt_duration(int64_t ns, char *buf, size_t n);
/* Formats bytes as the largest exact binary unit ("256M", "1000"). */
void srv_cfg_fmt_size(uint64_t bytes, char *buf, size_t n);

#endif /* SRV_CFG_H */
