/* SPDX-License-Identifier: MIT */
/*
 * cfg.c - the option table and everything that reads it: defaults, the
 * `key = value` file parser, command-line overrides, --help and
 * --print-config.  Adding an option is one row in OPTS plus a field in
 * srv_cfg_t; help, the config file, the command line and --print-config
 * all follow from the row.  README.md's configuration table is checked
 * against --help by tests/integration/test_cli.sh.
 *
 * NOTES
 *  1. Defaults are text in the table and go through the same parser and
 *     validator as user input, so a default can never be out of range
 *     (srv_cfg_init asserts it).
 *  2. Diagnostics always start with "cairn: " and name where the value came
 *     from; for values they end with "expected <form>", the row's form.
 */
#include "cfg.h"

#include <assert.h>
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>

#define NS_US  1000LL
#define NS_MS  1000000LL
#define NS_S   1000000000LL
#define NS_MIN (60 * NS_S)
#define NS_H   (60 * NS_MIN)
#define NS_D   (24 * NS_H)
#define NS_W   (7 * NS_D)

enum opt_type { T_STR, T_ADDR, T_ENUM, T_DUR, T_SIZE, T_INT };

/* A parsed value before it is stored; which member is set follows the type. */
typedef struct opt_val {
    int64_t i;     /* T_ENUM index, T_DUR ns, T_INT */
    uint64_t u;    /* T_SIZE */
    const char *s; /* T_STR, borrowed */
    srv_addr_t addr;
} opt_val_t;

typedef struct opt {
    const char *name;
    int type;
    size_t off; /* offset of the field in srv_cfg_t */
    const char *def;
    const char *help;
    const char *const *choices; /* T_ENUM: NULL-terminated, index = stored value */
    bool (*valid)(const opt_val_t *v);
    const char *form; /* "expected ..." text for bad values */
} opt_t;

static bool v_nonempty(const opt_val_t *v)
{
    return v->s[0] != 0;
}
static bool v_partition(const opt_val_t *v)
{
    return v->i >= NS_MIN;
}
static bool v_retention(const opt_val_t *v)
{
    return v->i == 0 || v->i >= NS_MIN;
}
static bool v_size_64k(const opt_val_t *v)
{
    return v->u >= 64 * 1024;
}
static bool v_zstd_level(const opt_val_t *v)
{
    return v->i >= 1 && v->i <= 22;
}
static bool v_group_commit(const opt_val_t *v)
{
    return v->i >= 0 && v->i <= NS_S;
}
static bool v_event_loops(const opt_val_t *v)
{
    return v->i >= 0 && v->i <= 256;
}
static bool v_max_body(const opt_val_t *v)
{
    return v->u >= 1024 && v->u <= (1ULL << 32);
}
static bool v_timeout(const opt_val_t *v)
{
    return v->i >= NS_MS && v->i <= NS_D;
}
static bool v_export_every(const opt_val_t *v)
{
    int64_t ns = 0;
    return strcmp(v->s, "partition") == 0 ||
           (srv_cfg_parse_duration(v->s, &ns) == 0 && ns >= 60 * NS_S);
}
static bool v_export_delay(const opt_val_t *v)
{
    return v->i >= 0 && v->i <= NS_W;
}
static bool v_max_conns(const opt_val_t *v)
{
    return v->i >= 1 && v->i <= 1000000;
}
static bool v_query_timeout(const opt_val_t *v)
{
    return v->i == 0 || (v->i >= NS_MS && v->i <= NS_D);
}
static bool v_threads(const opt_val_t *v)
{
    return v->i >= 0 && v->i <= 256;
}
static bool v_query_limit(const opt_val_t *v)
{
    return v->i >= 0;
}
static bool v_size_0_or_1m(const opt_val_t *v)
{
    return v->u == 0 || v->u >= 1024 * 1024;
}
static bool v_dur_0_or_1m(const opt_val_t *v)
{
    return v->i == 0 || v->i >= NS_MIN;
}

static bool v_addr_list(const opt_val_t *v)
{
    srv_addr_t a[SRV_MAX_LISTENERS];
    return srv_cfg_parse_addrs(v->s, a, SRV_MAX_LISTENERS) > 0;
}
static bool v_inflight(const opt_val_t *v)
{
    return v->i >= 1 && v->i <= 65535;
}
static bool v_queued(const opt_val_t *v)
{
    return v->i >= 1 && v->i <= 100000000;
}
static bool v_keepalive(const opt_val_t *v)
{
    return v->i >= 0 && v->i <= 65535;
}
static bool v_max_packet(const opt_val_t *v)
{
    return v->u >= 1024 && v->u <= 268435460ULL;
}
static bool v_out_bytes(const opt_val_t *v)
{
    return v->u >= 64 * 1024 && v->u <= (1ULL << 40);
}
static bool v_ttl(const opt_val_t *v)
{
    return v->i >= 0 && v->i <= NS_D;
}
static bool v_http_url(const opt_val_t *v)
{
    return !v->s[0] || strncmp(v->s, "http://", 7) == 0 || strncmp(v->s, "https://", 8) == 0;
}
static bool v_sys_interval(const opt_val_t *v)
{
    return v->i == 0 || (v->i >= NS_S && v->i <= NS_D);
}

static const char *const DURABILITY[] = {"fsync", "os", NULL};
static const char *const LOG_LEVELS[] = {"error", "warn", "info", "debug", NULL};
static const char *const COMPRESSION[] = {"none", "lz4", "zstd", NULL};
static const char *const BOOLS[] = {"false", "true", NULL};
static const char *const UNMATCHED[] = {"ignore", "store", NULL};
static const char *const XFORMATS[] = {"parquet", "csv", NULL};                 /* enum srv_xfmt */
static const char *const XCODECS[] = {"zstd", "lz4_raw", "snappy", "none", NULL}; /* qry_pq_codec */
static const char *const SINK_POLICY[] = {"drop-oldest", "stop", NULL};
static const char *const KAFKA_COMP[] = {"none", "gzip", "snappy", "lz4", "zstd", NULL};

#define OFF(f) offsetof(srv_cfg_t, f)
#define F_ADDR "host:port or [v6addr]:port with port 0-65535"
#define F_SIZE "a size in bytes with optional k, M or G suffix, at least 64k"

static const opt_t OPTS[] = {
    {"data-dir", T_STR, OFF(data_dir), "./cairn-data",
     "Directory for the WAL, segment files and metadata; created if missing.", NULL, v_nonempty,
     "a directory path"},
    {"mqtt-listen", T_STR, OFF(mqtt_listen), "127.0.0.1:1883",
     "MQTT listener addresses, comma-separated (host:port or [v6]:port; port 0 picks a free "
     "port).",
     NULL, v_addr_list, "a comma-separated list of " F_ADDR " (at most 16)"},
    {"http-listen", T_ADDR, OFF(http_listen), "127.0.0.1:8086",
     "HTTP API listener address (/write, /query, /ping, /metrics).", NULL, NULL, F_ADDR},
    {"durability", T_ENUM, OFF(durability), "fsync",
     "When an acknowledged write is durable: fsync = on disk (group commit), os = handed to "
     "the OS (survives a process crash, not power loss).",
     DURABILITY, NULL, "fsync or os"},
    {"log-level", T_ENUM, OFF(log_level), "info", "Least severe log level written.", LOG_LEVELS,
     NULL, "error, warn, info or debug"},
    {"log-file", T_STR, OFF(log_file), "",
     "Append the log to this file instead of stderr; reopened on SIGHUP (log rotation).", NULL,
     NULL, "a file path"},
    {"pid-file", T_STR, OFF(pid_file), "",
     "Write the server's PID to this file at startup and remove it at exit.", NULL, NULL,
     "a file path"},
    {"partition-duration", T_DUR, OFF(partition_ns), "1d",
     "Width of a time partition (one directory of segments); retention drops whole "
     "partitions.",
     NULL, v_partition, "a duration of at least 1m, such as 2h, 1d or 1w"},
    {"retention", T_DUR, OFF(retention_ns), "0", "Drop data older than this; 0 keeps data forever.",
     NULL, v_retention, "0 or a duration of at least 1m, such as 30d or 52w"},
    {"memtable-size", T_SIZE, OFF(memtable_bytes), "256M",
     "Memtable size that triggers a flush to a segment file.", NULL, v_size_64k, F_SIZE},
    {"wal-segment-size", T_SIZE, OFF(wal_segment_bytes), "64M",
     "Size at which the write-ahead log rolls to a new segment.", NULL, v_size_64k, F_SIZE},
    {"compression", T_ENUM, OFF(compression), "zstd",
     "General-purpose compression tried on encoded blocks (kept only when smaller).", COMPRESSION,
     NULL, "none, lz4 or zstd"},
    {"zstd-level", T_INT, OFF(zstd_level), "3", "zstd level when compression = zstd.", NULL,
     v_zstd_level, "an integer from 1 to 22"},
    {"group-commit", T_DUR, OFF(group_commit_ns), "0",
     "Extra time the WAL waits to gather writes into one fsync (0: commit at once; "
     "writes arriving during an fsync share the next one anyway).",
     NULL, v_group_commit, "a duration from 0 to 1s, such as 500us or 2ms"},
    {"event-loops", T_INT, OFF(event_loops), "0",
     "Network event-loop threads; 0 = one per CPU core.", NULL, v_event_loops,
     "an integer from 0 (one per core) to 256"},
    {"mqtt-allow-anonymous", T_ENUM, OFF(mqtt_allow_anonymous), "false",
     "Accept MQTT clients without credentials on every listener (otherwise loopback listeners "
     "accept them until a password file or HTTP auth service is configured).",
     BOOLS, NULL, "false or true"},
    {"mqtt-max-packet-size", T_SIZE, OFF(mqtt_max_packet), "16M",
     "Largest MQTT packet accepted; larger ones close the connection (reason 0x95).", NULL,
     v_max_packet, "a size from 1k to 268435460"},
    {"mqtt-max-connections", T_INT, OFF(mqtt_max_conns), "1000000",
     "Open MQTT connections at most; further ones are closed at once.", NULL, v_max_conns,
     "an integer from 1 to 1000000"},
    {"mqtt-max-inflight", T_INT, OFF(mqtt_max_inflight), "64",
     "QoS 1/2 messages in flight per client in each direction (the Receive Maximum cairn "
     "announces and the window it sends with).",
     NULL, v_inflight, "an integer from 1 to 65535"},
    {"mqtt-max-queued-messages", T_INT, OFF(mqtt_max_queued), "10000",
     "QoS 1/2 messages queued per session beyond the in-flight window (also for offline "
     "persistent sessions); further ones are dropped and counted.",
     NULL, v_queued, "an integer from 1 to 100000000"},
    {"mqtt-max-outgoing-bytes", T_SIZE, OFF(mqtt_max_out_bytes), "4M",
     "Unsent bytes per MQTT connection: above an eighth, publishers feeding it are paused; "
     "above all, QoS 0 messages to it are dropped and counted.",
     NULL, v_out_bytes, "a size of at least 64k"},
    {"mqtt-max-keepalive", T_INT, OFF(mqtt_max_keepalive), "0",
     "Largest keepalive (seconds) granted to MQTT 5 clients; 0 = what the client asks.", NULL,
     v_keepalive, "an integer from 0 to 65535"},
    {"mqtt-retained-cache", T_SIZE, OFF(mqtt_retained_cache), "64M",
     "Memory for retained-message payloads (the rest stay in data-dir/meta.db and are read on "
     "demand).",
     NULL, v_out_bytes, "a size of at least 64k"},
    {"mqtt-sys-interval", T_DUR, OFF(mqtt_sys_interval_ns), "10s",
     "Period of the $SYS/broker/... statistics messages; 0 turns them off.", NULL, v_sys_interval,
     "0 or a duration from 1s to 1d"},
    {"password-file", T_STR, OFF(password_file), "",
     "MQTT password file (username:hash lines, managed with `cairn passwd`); once set, clients "
     "need a user name and password unless mqtt-allow-anonymous = true. Re-read on SIGHUP.",
     NULL, NULL, "a file path"},
    {"acl-file", T_STR, OFF(acl_file), "",
     "MQTT ACL file in mosquitto's format (user/topic/pattern lines, %u and %c); none allows "
     "every topic. Re-read on SIGHUP.",
     NULL, NULL, "a file path"},
    {"auth-http-url", T_STR, OFF(auth_http_url), "",
     "External HTTP auth service asked (after the password file) with a JSON POST per CONNECT "
     "over keep-alive connections; 200 {\"result\":\"allow\"|\"deny\"|\"ignore\"} or 204.",
     NULL, v_http_url, "an http:// or https:// URL"},
    {"auth-http-timeout", T_DUR, OFF(auth_http_timeout_ns), "5s",
     "Longest wait for the HTTP auth service; then the CONNECT is refused with 'server "
     "unavailable'.",
     NULL, v_timeout, "a duration from 1ms to 1d, such as 5s"},
    {"auth-cache-ttl", T_DUR, OFF(auth_cache_ttl_ns), "2m",
     "How long a successful password check is remembered, so reconnects skip the slow hash; 0 "
     "turns the cache off.",
     NULL, v_ttl, "0 or a duration up to 1d"},
    {"auth-http-allow-ttl", T_DUR, OFF(auth_http_allow_ttl_ns), "2m",
     "How long an 'allow' from the HTTP auth service is remembered; 0 asks every time.", NULL,
     v_ttl, "0 or a duration up to 1d"},
    {"auth-http-deny-ttl", T_DUR, OFF(auth_http_deny_ttl_ns), "10s",
     "How long a 'deny' from the HTTP auth service is remembered; 0 asks every time.", NULL,
     v_ttl, "0 or a duration up to 1d"},
    {"http-max-body", T_SIZE, OFF(http_max_body), "25000000",
     "Largest /write body, before and after gzip decompression; larger ones get 413 (InfluxDB's "
     "max-body-size).",
     NULL, v_max_body, "a size in bytes with optional k, M or G suffix, from 1k to 4G"},
    {"http-read-timeout", T_DUR, OFF(http_read_timeout_ns), "30s",
     "Longest time a client may take to send one whole request; then the connection is closed.",
     NULL, v_timeout, "a duration from 1ms to 1d, such as 30s"},
    {"http-idle-timeout", T_DUR, OFF(http_idle_timeout_ns), "2m",
     "Keep-alive connections idle this long between requests are closed.", NULL, v_timeout,
     "a duration from 1ms to 1d, such as 2m"},
    {"http-max-connections", T_INT, OFF(http_max_conns), "1024",
     "Open HTTP connections at most; further ones are closed at once.", NULL, v_max_conns,
     "an integer from 1 to 1000000"},
    {"http-allow-anonymous", T_ENUM, OFF(http_allow_anonymous), "false",
     "Allow http-listen on a non-loopback address without authentication (HTTP auth is not "
     "built yet, so cairn refuses to start otherwise).",
     BOOLS, NULL, "false or true"},
    {"topic-templates", T_STR, OFF(topic_templates), "devices/{device_id}/telemetry",
     "Which MQTT topics are stored, and how: templates tried in order, separated by ';', each "
     "a pattern ({tag} and {measurement} bind levels, + and # skip them) and options format=, "
     "measurement=, precision=, regmap=, tags=, store= (README: Ingest).",
     NULL, NULL, "a ';'-separated list of topic templates"},
    {"ingest-unmatched", T_ENUM, OFF(ingest_unmatched), "ignore",
     "Topics no template matches: ignore = routed to subscribers only; store = also stored in "
     "measurement mqtt with tag topic.",
     UNMATCHED, NULL, "ignore or store"},
    {"ingest-republish-errors", T_ENUM, OFF(ingest_republish_errors), "false",
     "Republish a payload that fails to decode to $cairn/errors/<client id> with the reason.",
     BOOLS, NULL, "false or true"},
    {"query-workers", T_INT, OFF(query_workers), "0",
     "Queries (/query) executed at the same time; more wait in line. 0 = one per CPU core.", NULL,
     v_threads, "an integer from 0 (one per core) to 256"},
    {"query-threads", T_INT, OFF(query_threads), "0",
     "Threads one query scans its series with. 0 = one per CPU core.", NULL, v_threads,
     "an integer from 0 (one per core) to 256"},
    {"query-timeout", T_DUR, OFF(query_timeout_ns), "0",
     "A query running longer fails with \"query-timeout limit exceeded\"; 0 = no limit.", NULL,
     v_query_timeout, "0 or a duration from 1ms to 1d, such as 30s"},
    {"query-log-after", T_DUR, OFF(query_log_after_ns), "0",
     "A query that ran longer is logged (warn) when it ends, with its qid, database and "
     "duration (InfluxDB's log-queries-after); 0 = off.",
     NULL, v_query_timeout, "0 or a duration from 1ms to 1d, such as 10s"},
    {"query-max-series", T_INT, OFF(query_max_series), "0",
     "A SELECT reading more series fails with \"max-select-series limit exceeded\"; 0 = no "
     "limit.",
     NULL, v_query_limit, "an integer >= 0"},
    {"query-max-points", T_INT, OFF(query_max_points), "0",
     "A SELECT reading more points (or GROUP BY time windows) fails with "
     "\"max-select-point limit exceeed\" (InfluxDB's wording); 0 = no limit.",
     NULL, v_query_limit, "an integer >= 0"},
    {"export-dir", T_STR, OFF(export_dir), "",
     "Scheduled exports: write every closed interval (export-every) of every measurement to "
     "this directory, in cairn export's layout; the last exported point is kept in "
     "data-dir/meta.db so nothing is exported twice or skipped across restarts. Empty: off.",
     NULL, NULL, "a directory path"},
    {"export-every", T_STR, OFF(export_every), "partition",
     "Interval of scheduled exports: partition (partition-duration) or a duration of at least "
     "1m; intervals are aligned to the Unix epoch.",
     NULL, v_export_every, "partition or a duration of at least 1m, such as 1h"},
    {"export-delay", T_DUR, OFF(export_delay_ns), "1m",
     "How long after an interval ends a scheduled export waits for late points before "
     "exporting it.",
     NULL, v_export_delay, "a duration from 0 to 1w, such as 5m"},
    {"export-format", T_ENUM, OFF(export_format), "parquet", "File format of scheduled exports.",
     XFORMATS, NULL, "parquet or csv"},
    {"export-compression", T_ENUM, OFF(export_compression), "zstd",
     "Compression of scheduled Parquet exports.", XCODECS, NULL,
     "zstd, lz4_raw, snappy or none"},
    {"sinks-file", T_STR, OFF(sinks_file), "",
     "File of webhook and Kafka sink definitions ([sink NAME] sections, README: Sinks); empty "
     "for none.",
     NULL, NULL, "a file path"},
    {"sink-log-max-size", T_SIZE, OFF(sink_log_max_bytes), "1G",
     "Undelivered sink log kept at most (<data-dir>/sinks); past it sink-log-policy applies. "
     "0 = unlimited.",
     NULL, v_size_0_or_1m, "0 or a size of at least 1M, such as 512M or 4G"},
    {"sink-log-max-age", T_DUR, OFF(sink_log_max_age_ns), "7d",
     "Undelivered sink records older than this are subject to sink-log-policy. 0 = no limit.",
     NULL, v_dur_0_or_1m, "0 or a duration of at least 1m, such as 7d"},
    {"sink-log-policy", T_ENUM, OFF(sink_log_policy), "drop-oldest",
     "Past sink-log-max-size/-age: drop-oldest deletes the oldest undelivered records (logged, "
     "counted in cairn_sink_dropped_total); stop refuses new sink records "
     "(cairn_sink_log_rejected_total).",
     SINK_POLICY, NULL, "drop-oldest or stop"},
    {"sink-segment-size", T_SIZE, OFF(sink_segment_bytes), "64M",
     "Size at which the sink log rolls to a new segment file.", NULL, v_size_64k, F_SIZE},
    {"kafka-brokers", T_STR, OFF(kafka_brokers), "",
     "Kafka bootstrap servers (host:port,...) for kafka-stream-topic and rule Kafka actions.",
     NULL, NULL,
     "host:port[,host:port...]"},
    {"kafka-stream-topic", T_STR, OFF(kafka_stream_topic), "",
     "Stream every accepted telemetry message to this Kafka topic, keyed by device id "
     "(at least once, through the sink log); empty = off.",
     NULL, NULL, "a Kafka topic name"},
    {"kafka-compression", T_ENUM, OFF(kafka_compression), "lz4",
     "Compression of the Kafka producers (kafka-stream-topic, rule actions).", KAFKA_COMP, NULL,
     "none, gzip, snappy, lz4 or zstd"},
    {"rules-file", T_STR, OFF(rules_file), "",
     "JSON file of rule definitions loaded at startup (README: Rules); empty for none. Rules "
     "created through /api/v1/rules are kept in <data-dir>/meta.db.",
     NULL, NULL, "a file path"},
};

static const opt_t *find_opt(const char *name)
{
    for (size_t i = 0; i < CN_ARRAY_LEN(OPTS); i++)
        if (strcmp(OPTS[i].name, name) == 0)
            return &OPTS[i];
    return NULL;
}

const char *srv_cfg_key(size_t i)
{
    return i < CN_ARRAY_LEN(OPTS) ? OPTS[i].name : NULL;
}

/* ---------------------------------------------------------- value parsers */

/* Reads a non-negative decimal integer; *end (OUT) points past it. */
static int parse_uint(const char *s, uint64_t *v, const char **end)
{
    uint64_t n = 0;
    const char *p = s;
    if (!isdigit((unsigned char)*p))
        return CN_ECONFIG;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (n > (UINT64_MAX - d) / 10)
            return CN_ECONFIG;
        n = n * 10 + d;
    }
    *v = n;
    *end = p;
    return 0;
}

int srv_cfg_parse_duration(const char *s, int64_t *ns)
{
    static const struct {
        const char *unit;
        int64_t mult;
    } units[] = {{"ns", 1},     {"us", NS_US}, {"ms", NS_MS}, {"s", NS_S},
                 {"m", NS_MIN}, {"h", NS_H},   {"d", NS_D},   {"w", NS_W}};
    if (strcmp(s, "0") == 0) {
        *ns = 0;
        return 0;
    }
    int64_t total = 0;
    const char *p = s;
    if (!*p)
        return CN_ECONFIG;
    while (*p) {
        uint64_t n;
        if (parse_uint(p, &n, &p) < 0)
            return CN_ECONFIG;
        size_t i = 0, ulen = 0;
        /* Units are listed two-letter first, so "5ms" never matches "m". */
        for (; i < CN_ARRAY_LEN(units); i++) {
            ulen = strlen(units[i].unit);
            if (strncmp(p, units[i].unit, ulen) == 0)
                break;
        }
        if (i == CN_ARRAY_LEN(units))
            return CN_ECONFIG;
        p += ulen;
        if (n > (uint64_t)(INT64_MAX / units[i].mult))
            return CN_ECONFIG;
        int64_t add = (int64_t)n * units[i].mult;
        if (total > INT64_MAX - add)
            return CN_ECONFIG;
        total += add;
    }
    *ns = total;
    return 0;
}

int srv_cfg_parse_size(const char *s, uint64_t *bytes)
{
    uint64_t n;
    const char *p;
    if (parse_uint(s, &n, &p) < 0)
        return CN_ECONFIG;
    int shift = 0;
    switch (tolower((unsigned char)*p)) {
    case 'k':
        shift = 10;
        break;
    case 'm':
        shift = 20;
        break;
    case 'g':
        shift = 30;
        break;
    case 't':
        shift = 40;
        break;
    default:
        break;
    }
    if (shift)
        p++;
    if (shift && tolower((unsigned char)*p) == 'i' && tolower((unsigned char)p[1]) == 'b')
        p += 2;
    else if (tolower((unsigned char)*p) == 'b')
        p++;
    if (*p)
        return CN_ECONFIG;
    if (shift && n > (UINT64_MAX >> shift))
        return CN_ECONFIG;
    *bytes = n << shift;
    return 0;
}

static bool host_ok(const char *h, size_t n, bool v6)
{
    if (n == 0 || n >= sizeof(((srv_addr_t *)0)->host))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (!(isalnum(c) || c == '.' || c == '-' || c == '_' || (v6 && (c == ':' || c == '%'))))
            return false;
    }
    return true;
}

int srv_cfg_parse_addrs(const char *s, srv_addr_t *out, size_t max)
{
    size_t n = 0;
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        char one[300];
        while (len && (*s == ' ' || *s == '\t')) {
            s++;
            len--;
        }
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (n == max || len == 0 || len >= sizeof one)
            return CN_ECONFIG;
        memcpy(one, s, len);
        one[len] = 0;
        if (srv_cfg_parse_addr(one, &out[n++]) < 0)
            return CN_ECONFIG;
        if (!comma)
            break;
        s = comma + 1;
        if (!*s)
            return CN_ECONFIG;
    }
    return n ? (int)n : CN_ECONFIG;
}

int srv_cfg_parse_addr(const char *s, srv_addr_t *addr)
{
    const char *host = s, *colon;
    size_t hlen;
    bool v6 = s[0] == '[';
    if (v6) {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return CN_ECONFIG;
        host = s + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strchr(s, ':');
        if (!colon || strchr(colon + 1, ':'))
            return CN_ECONFIG;
        hlen = (size_t)(colon - s);
    }
    if (!host_ok(host, hlen, v6))
        return CN_ECONFIG;
    uint64_t port;
    const char *end;
    if (parse_uint(colon + 1, &port, &end) < 0 || *end || port > 65535)
        return CN_ECONFIG;
    memcpy(addr->host, host, hlen);
    addr->host[hlen] = 0;
    addr->port = (uint16_t)port;
    return 0;
}

static int parse_int(const char *s, int64_t *v)
{
    bool neg = *s == '-';
    uint64_t n;
    const char *end;
    if (parse_uint(s + neg, &n, &end) < 0 || *end || n > (uint64_t)INT64_MAX)
        return CN_ECONFIG;
    *v = neg ? -(int64_t)n : (int64_t)n;
    return 0;
}

void srv_cfg_fmt_duration(int64_t ns, char *buf, size_t n)
{
    static const struct {
        const char *unit;
        int64_t mult;
    } units[] = {{"w", NS_W}, {"d", NS_D},   {"h", NS_H},   {"m", NS_MIN},
                 {"s", NS_S}, {"ms", NS_MS}, {"us", NS_US}, {"ns", 1}};
    if (ns == 0) {
        snprintf(buf, n, "0");
        return;
    }
    for (size_t i = 0; i < CN_ARRAY_LEN(units); i++) {
        if (ns % units[i].mult == 0) {
            snprintf(buf, n, "%lld%s", (long long)(ns / units[i].mult), units[i].unit);
            return;
        }
    }
}

void srv_cfg_fmt_size(uint64_t bytes, char *buf, size_t n)
{
    static const char sfx[] = "TGMk";
    for (int i = 0; i < 4; i++) {
        int shift = 40 - 10 * i;
        if (bytes && bytes % (1ULL << shift) == 0) {
            snprintf(buf, n, "%llu%c", (unsigned long long)(bytes >> shift), sfx[i]);
            return;
        }
    }
    snprintf(buf, n, "%llu", (unsigned long long)bytes);
}

/* ------------------------------------------------------------- the table */

static int parse_val(const opt_t *o, const char *s, opt_val_t *v)
{
    memset(v, 0, sizeof *v);
    switch (o->type) {
    case T_STR:
        v->s = s;
        return 0;
    case T_ADDR:
        return srv_cfg_parse_addr(s, &v->addr);
    case T_ENUM:
        for (int i = 0; o->choices[i]; i++) {
            if (strcmp(s, o->choices[i]) == 0) {
                v->i = i;
                return 0;
            }
        }
        return CN_ECONFIG;
    case T_DUR:
        return srv_cfg_parse_duration(s, &v->i);
    case T_SIZE:
        return srv_cfg_parse_size(s, &v->u);
    case T_INT:
        return parse_int(s, &v->i);
    }
    return CN_ECONFIG;
}

static void store_val(srv_cfg_t *cfg, const opt_t *o, const opt_val_t *v)
{
    char *field = (char *)cfg + o->off;
    switch (o->type) {
    case T_STR: {
        char **sp = (char **)(void *)field;
        cn_free(*sp);
        *sp = cn_strdup(v->s);
        break;
    }
    case T_ADDR:
        memcpy(field, &v->addr, sizeof v->addr);
        break;
    case T_ENUM: {
        int e = (int)v->i;
        memcpy(field, &e, sizeof e);
        break;
    }
    case T_DUR:
    case T_INT:
        memcpy(field, &v->i, sizeof v->i);
        break;
    case T_SIZE:
        memcpy(field, &v->u, sizeof v->u);
        break;
    }
}

/* Suggests the dashed spelling for keys written with underscores or capitals. */
static const opt_t *near_opt(const char *key)
{
    char norm[64];
    size_t i = 0;
    for (; key[i] && i < sizeof norm - 1; i++)
        norm[i] = key[i] == '_' ? '-' : (char)tolower((unsigned char)key[i]);
    norm[i] = 0;
    return strcmp(norm, key) ? find_opt(norm) : NULL;
}

static void unknown_key(const char *key, const char *where, FILE *diag)
{
    if (!diag)
        return;
    const opt_t *near = near_opt(key);
    if (near)
        fprintf(diag, "cairn: %s: unknown key '%s' (did you mean '%s'?)\n", where, key, near->name);
    else
        fprintf(diag, "cairn: %s: unknown key '%s'\n", where, key);
}

int srv_cfg_set(srv_cfg_t *cfg, const char *key, const char *val, const char *where, FILE *diag)
{
    const opt_t *o = find_opt(key);
    if (!o) {
        unknown_key(key, where, diag);
        return CN_ECONFIG;
    }
    opt_val_t v;
    if (parse_val(o, val, &v) < 0 || (o->valid && !o->valid(&v))) {
        if (diag)
            fprintf(diag, "cairn: %s: bad value '%s' for '%s': expected %s\n", where, val, key,
                    o->form);
        return CN_ECONFIG;
    }
    store_val(cfg, o, &v);
    return 0;
}

void srv_cfg_init(srv_cfg_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < CN_ARRAY_LEN(OPTS); i++) {
        int rc = srv_cfg_set(cfg, OPTS[i].name, OPTS[i].def, "default", stderr);
        assert(rc == 0); /* NOTES 1 */
        (void)rc;
    }
}

void srv_cfg_free(srv_cfg_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < CN_ARRAY_LEN(OPTS); i++) {
        if (OPTS[i].type == T_STR) {
            char **sp = (char **)(void *)((char *)cfg + OPTS[i].off);
            cn_free(*sp);
            *sp = NULL;
        }
    }
}

const char *srv_cfg_value_str(const srv_cfg_t *cfg, const char *key, char *buf, size_t n)
{
    const opt_t *o = find_opt(key);
    const char *field = (const char *)cfg + (o ? o->off : 0);
    int64_t i64;
    uint64_t u64;
    int e;
    buf[0] = 0;
    if (!o)
        return buf;
    switch (o->type) {
    case T_STR:
        snprintf(buf, n, "%s", *(char *const *)(const void *)field);
        break;
    case T_ADDR: {
        const srv_addr_t *a = (const srv_addr_t *)(const void *)field;
        snprintf(buf, n, strchr(a->host, ':') ? "[%s]:%u" : "%s:%u", a->host, a->port);
        break;
    }
    case T_ENUM:
        memcpy(&e, field, sizeof e);
        snprintf(buf, n, "%s", o->choices[e]);
        break;
    case T_DUR:
        memcpy(&i64, field, sizeof i64);
        srv_cfg_fmt_duration(i64, buf, n);
        break;
    case T_SIZE:
        memcpy(&u64, field, sizeof u64);
        srv_cfg_fmt_size(u64, buf, n);
        break;
    case T_INT:
        memcpy(&i64, field, sizeof i64);
        snprintf(buf, n, "%lld", (long long)i64);
        break;
    }
    return buf;
}

/* ------------------------------------------------------------ config file */

static size_t trim_end(const char *s, size_t n)
{
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return n;
}

/* Value text: drop a comment ('#' after whitespace, outside quotes), trim,
 * then one pair of surrounding double quotes. */
static char *clean_value(const char *v, size_t n)
{
    while (n && isspace((unsigned char)*v)) {
        v++;
        n--;
    }
    bool quoted = n && v[0] == '"';
    for (size_t i = 1; i < n; i++) {
        if (quoted && v[i] == '"') {
            n = i + 1;
            break;
        }
        if (!quoted && v[i] == '#' && isspace((unsigned char)v[i - 1])) {
            n = i;
            break;
        }
    }
    n = trim_end(v, n);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    return cn_strndup(v, n);
}

static int parse_line(srv_cfg_t *cfg, const char *line, size_t n, const char *where, FILE *diag)
{
    while (n && isspace((unsigned char)*line)) {
        line++;
        n--;
    }
    n = trim_end(line, n);
    if (n == 0 || line[0] == '#')
        return 0;
    const char *eq = memchr(line, '=', n);
    size_t klen = eq ? trim_end(line, (size_t)(eq - line)) : 0;
    if (klen == 0) {
        if (diag)
            fprintf(diag, "cairn: %s: expected 'key = value'\n", where);
        return CN_ECONFIG;
    }
    char *key = cn_strndup(line, klen);
    char *val = clean_value(eq + 1, n - (size_t)(eq + 1 - line));
    int rc = srv_cfg_set(cfg, key, val, where, diag);
    cn_free(key);
    cn_free(val);
    return rc;
}

int srv_cfg_parse(srv_cfg_t *cfg, const char *name, const char *text, size_t len, FILE *diag)
{
    const char *p = text, *end = text + len;
    for (unsigned lineno = 1; p < end; lineno++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        char where[512];
        snprintf(where, sizeof where, "config %s:%u", name, lineno);
        int rc = parse_line(cfg, p, (size_t)(eol - p), where, diag);
        if (rc < 0)
            return rc;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

int srv_cfg_load_file(srv_cfg_t *cfg, const char *path, FILE *diag)
{
    uint8_t *text;
    size_t len;
    int rc = cn_file_read_all(path, &text, &len);
    if (rc < 0) {
        if (diag)
            fprintf(diag, "cairn: config %s: %s\n", path, cn_strerror(rc));
        return CN_ECONFIG;
    }
    rc = srv_cfg_parse(cfg, path, (const char *)text, len, diag);
    cn_free(text);
    return rc;
}

/* ----------------------------------------------------------- command line */

static const char USAGE[] = "Usage: cairn [-c FILE] [--key=value ...]\n"
                            "       cairn inspect [--verbose] DIR\n"
                            "       cairn export --data-dir DIR | --server URL --out DIR [options]\n"
                            "       cairn passwd [-c] [-b] [-D] [-I N] FILE USER [PASSWORD]\n"
                            "       cairn --help | --version | --print-config\n";

static int usage_error(FILE *diag, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(FILE *diag, const char *fmt, ...)
{
    if (diag) {
        va_list ap;
        va_start(ap, fmt);
        fputs("cairn: ", diag);
        vfprintf(diag, fmt, ap);
        fputs(" (see cairn --help)\n", diag);
        va_end(ap);
    }
    return CN_ECONFIG;
}

static int parse_inspect(int argc, char **argv, srv_cli_t *cli, FILE *diag)
{
    cli->action = SRV_ACT_INSPECT;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0)
            cli->inspect_verbose = true;
        else if (argv[i][0] == '-' && argv[i][1])
            return usage_error(diag, "inspect: unknown option '%s'", argv[i]);
        else if (cli->inspect_dir)
            return usage_error(diag, "inspect: unexpected argument '%s'", argv[i]);
        else
            cli->inspect_dir = argv[i];
    }
    if (!cli->inspect_dir)
        return usage_error(diag, "inspect: missing data directory");
    return 0;
}

/* `--key=value` or `--key value`; *i advances past a separate value. */
static int key_arg(srv_cfg_t *cfg, int argc, char **argv, int *i, bool apply, FILE *diag)
{
    const char *arg = argv[*i] + 2, *eq = strchr(arg, '=');
    char key[64];
    size_t klen = eq ? (size_t)(eq - arg) : strlen(arg);
    if (klen >= sizeof key)
        return usage_error(diag, "unknown option '%s'", argv[*i]);
    memcpy(key, arg, klen);
    key[klen] = 0;
    if (!find_opt(key))
        return usage_error(diag, "unknown option '%s'", argv[*i]);
    const char *val = eq ? eq + 1 : NULL;
    if (!val) {
        if (*i + 1 >= argc)
            return usage_error(diag, "option '%s' needs a value", argv[*i]);
        val = argv[++*i];
    }
    if (!apply)
        return 0;
    char where[96];
    snprintf(where, sizeof where, "option --%s", key);
    return srv_cfg_set(cfg, key, val, where, diag);
}

/* One pass over argv.  The first (apply = false) finds the action and the
 * config file and rejects unknown options; the second applies overrides. */
static int scan_args(srv_cfg_t *cfg, int argc, char **argv, srv_cli_t *cli, bool apply, FILE *diag)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cli->action = SRV_ACT_HELP;
            return 0;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            cli->action = SRV_ACT_VERSION;
            return 0;
        } else if (strcmp(a, "--print-config") == 0) {
            cli->action = SRV_ACT_PRINT_CONFIG;
        } else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            if (i + 1 >= argc)
                return usage_error(diag, "option '%s' needs a file name", a);
            cli->config_path = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            cli->config_path = a + 9;
        } else if (strncmp(a, "-c", 2) == 0) {
            cli->config_path = a + 2;
        } else if (strncmp(a, "--", 2) == 0 && a[2]) {
            rc = key_arg(cfg, argc, argv, &i, apply, diag);
        } else if (a[0] == '-') {
            rc = usage_error(diag, "unknown option '%s'", a);
        } else {
            rc = usage_error(diag, "unexpected argument '%s'", a);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

int srv_cfg_cli(srv_cfg_t *cfg, int argc, char **argv, srv_cli_t *cli, FILE *diag)
{
    memset(cli, 0, sizeof *cli);
    if (argc > 1 && strcmp(argv[1], "inspect") == 0)
        return parse_inspect(argc, argv, cli, diag);
    if (argc > 1 && strcmp(argv[1], "export") == 0) {
        cli->action = SRV_ACT_EXPORT;
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "passwd") == 0) {
        cli->action = SRV_ACT_PASSWD;
        return 0;
    }
    int rc = scan_args(cfg, argc, argv, cli, false, diag);
    if (rc < 0 || cli->action == SRV_ACT_HELP || cli->action == SRV_ACT_VERSION)
        return rc;
    if (cli->config_path) {
        rc = srv_cfg_load_file(cfg, cli->config_path, diag);
        if (rc < 0)
            return rc;
    }
    return scan_args(cfg, argc, argv, cli, true, diag);
}

static const char *metavar(const opt_t *o, char *buf, size_t n)
{
    static const char *const names[] = {"PATH", "HOST:PORT", "", "DURATION", "SIZE", "N"};
    if (o->type != T_ENUM)
        return names[o->type];
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; o->choices[i]; i++)
        len += (size_t)snprintf(buf + len, n - CN_MIN(len, n), "%s%s", i ? "|" : "", o->choices[i]);
    return buf;
}

/* Prints text word-wrapped to `width` columns, each line indented. */
static void wrap(FILE *out, const char *text, int indent, int width)
{
    const char *p = text;
    while (*p) {
        int room = width - indent, len = (int)strlen(p);
        if (len > room) {
            len = room;
            while (len > 0 && p[len] != ' ')
                len--;
            if (len == 0) /* one word longer than the line */
                len = (int)strcspn(p, " ");
        }
        fprintf(out, "%*s%.*s\n", indent, "", len, p);
        p += len;
        while (*p == ' ')
            p++;
    }
}

void srv_cfg_help(FILE *out)
{
    fputs(USAGE, out);
    fputs("\ncairn is an MQTT broker and a columnar time-series database in one server.\n"
          "\nOptions:\n"
          "  -c, --config=FILE   read options from FILE (`key = value` lines, # comments)\n"
          "  -h, --help          print this help and exit\n"
          "  -V, --version       print the version and exit\n"
          "      --print-config  print the effective configuration (a config file) and exit\n"
          "\nCommands:\n"
          "  inspect [--verbose] DIR\n"
          "        Verify every segment file and the WAL in DIR (a stopped server's data\n"
          "        directory) and print a summary; exit 0 when everything verifies, else 1.\n"
          "  export --data-dir DIR | --server URL --out OUT [--from T] [--to T]\n"
          "         [--measurement M] [--where COND] [--format parquet|csv]\n"
          "         [--time-format F] [--compression zstd|lz4_raw|snappy|none]\n"
          "        Write the points of DIR (a stopped server's data directory; or of the\n"
          "        running server at URL, e.g. http://127.0.0.1:8086) in [from, to)\n"
          "        (RFC 3339, a date or integer ns) that match the InfluxQL condition COND\n"
          "        as files OUT/measurement=M/date=YYYY-MM-DD/part-0.parquet (or .csv),\n"
          "        plus a manifest OUT/_manifest-<start>.json with each file's rows and\n"
          "        CRC-32C.  F: us or ns (parquet), rfc3339, s, ms, us or ns (csv).\n"
          "  passwd [-c] [-b] [-D] [-I ITERATIONS] FILE USER [PASSWORD]\n"
          "        Add or update USER in the password file FILE (salted PBKDF2-SHA512),\n"
          "        prompting for the password without echo (-b: it is the last argument);\n"
          "        -c creates FILE, -D deletes USER.  Like mosquitto_passwd.\n"
          "\nConfiguration keys (in the file as `key = value`, on the command line as\n"
          "--key=value, which overrides the file):\n",
          out);
    for (size_t i = 0; i < CN_ARRAY_LEN(OPTS); i++) {
        const opt_t *o = &OPTS[i];
        char mv[64];
        char text[512];
        snprintf(text, sizeof text, "%s (default: %s)", o->help, o->def[0] ? o->def : "none");
        fprintf(out, "  --%s=%s\n", o->name, metavar(o, mv, sizeof mv));
        wrap(out, text, 8, 80);
    }
    fputs("\nDurations: 0 or <n><unit>..., units ns us ms s m h d w (e.g. 1h30m).\n"
          "Sizes: <n>[k|M|G|T], binary multiples (256M = 268435456 bytes).\n"
          "Signals: SIGINT/SIGTERM shut down cleanly; SIGHUP re-reads log-level from the\n"
          "config file and reopens log-file.\n",
          out);
}

void srv_cfg_print(const srv_cfg_t *cfg, FILE *out)
{
    fprintf(out, "# cairn %s effective configuration\n", CAIRN_VERSION);
    for (size_t i = 0; i < CN_ARRAY_LEN(OPTS); i++) {
        char buf[512];
        const char *v = srv_cfg_value_str(cfg, OPTS[i].name, buf, sizeof buf);
        bool quote = !v[0] || strpbrk(v, " \t#\"") != NULL;
        fprintf(out, quote ? "%s = \"%s\"\n" : "%s = %s\n", OPTS[i].name, v);
    }
}
