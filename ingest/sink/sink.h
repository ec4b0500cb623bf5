/* SPDX-License-Identifier: MIT */
/*
 * sink.h - durable at-least-once delivery of rule outputs to Kafka and
 * webhooks (issue 6).
 *
 * Two layers:
 *
 *   mq_sink_log_*   the durable sink log under <data-dir>/sinks/: one
 *                   shared, segmented, CRC-checked log of records
 *                   (sink id, key, topic, payload, ts) written and fsynced
 *                   by a writer thread in group commits; one committed
 *                   cursor per sink; segments deleted once every cursor
 *                   passed them; retention limits with an explicit policy.
 *   mq_sink_*       the sink system: the log plus the sinks (Kafka
 *                   producers, libcurl webhooks) running on one delivery
 *                   thread with its own libuv loop.  Each sink reads the
 *                   log through its cursor, keeps per-key order, retries
 *                   with exponential backoff and jitter and dead-letters a
 *                   poison record after N attempts.
 *
 * Delivery is at least once: a record is on disk before any sink sees it,
 * a cursor only moves over contiguous delivered records, and after a crash
 * each sink resumes from its last committed cursor (records delivered after
 * that commit are delivered again).
 *
 * Threads: mq_sink_append() / mq_sink_stream() may be called from any
 * thread and never block on I/O (a short mutex only).  Everything else is
 * called by the owner (the server's main thread) unless noted.
 */
#ifndef MQ_SINK_H
#define MQ_SINK_H

#include "base/base.h"

#include <stdbool.h>
#include <stdint.h>

/* ------------------------------------------------------------ records */

/* One log record.  The pointers borrow the memory the record was parsed
 * from (a segment buffer or a delivery batch). */
typedef struct mq_sink_rec {
    uint64_t seq;       /* log-wide sequence number, from 1 */
    int64_t ts_ns;      /* the record's time (0 at append = now); the Kafka message
                           timestamp.  Retention ages records by their append time
                           instead, whatever this holds. */
    uint16_t sink;      /* sink id (mq_sink_log_sink) */
    const uint8_t *key; /* partition/order key, e.g. the device id */
    size_t key_len;
    const uint8_t *topic; /* Kafka: topic rendered by the rule ("" = the sink's);
                             webhook: extra request headers, "Name: value"
                             lines joined by '\n' (rendered per record) */
    size_t topic_len;
    const uint8_t *payload; /* the bytes delivered (JSON for webhooks) */
    size_t payload_len;
    uint16_t flags; /* MQ_SINK_REC_*; 0 in records mq_sink_log_read returns */
} mq_sink_rec_t;

/* Record flags.  PACKED: the payload is a rule's outputs packed
 * (ingest/rules/rules.h, mq_rules_set_packed); mq_sink_log_read renders
 * it into their JSON (mq_rules_packed_json), so sinks, dead letters and
 * every other reader of a batch see the JSON bytes.  The ingest path
 * stores the values and the delivery side formats them. */
enum { MQ_SINK_REC_PACKED = 1 };

enum {
    MQ_SINK_REC_HDR = 32,                /* record header bytes (log.c) */
    MQ_SINK_SEG_HDR = 16,                /* segment file header bytes */
    MQ_SINK_MAX_KEY = 65535,             /* key and topic limits */
    MQ_SINK_MAX_PAYLOAD = 16 * 1024 * 1024,
};

/*
 * Parses one record at p[0..n).  Returns 0 and sets *rec (borrowing p) and
 * *used (OUT) to its size; CN_ETRUNC when p holds only part of a record
 * (a torn tail); CN_ECORRUPT when the CRC or the lengths are wrong.
 */
int mq_sink_rec_parse(const uint8_t *p, size_t n, mq_sink_rec_t *rec /* OUT */,
                      size_t *used /* OUT */);
/* Appends the encoding of rec (seq included) to out. */
void mq_sink_rec_encode(const mq_sink_rec_t *rec, cn_buf_t *out);

/* ---------------------------------------------------------------- log */

enum mq_sink_policy {
    MQ_SINK_DROP_OLDEST = 0, /* delete the oldest segment, cursors jump over it */
    MQ_SINK_STOP = 1,        /* refuse appends (CN_EFULL) until below the limits */
};

typedef struct mq_sink_log_opts {
    const char *dir;         /* e.g. <data-dir>/sinks; created if missing */
    uint64_t segment_bytes;  /* roll segments at this size (0 = 64 MiB) */
    uint64_t max_bytes;      /* retention of undelivered log (0 = unlimited) */
    int64_t max_age_ns;      /* retention by age of the oldest segment (0 = none) */
    int policy;              /* enum mq_sink_policy, past either limit */
    uint64_t max_pending;    /* appended-not-yet-written bytes before CN_EFULL (0 = 64 MiB) */
    int64_t cursor_every_ns; /* cursor file written at most this often (0 = 100 ms) */
    bool no_fsync;           /* durability = os: write but never fsync */
    cn_clock_t clock;        /* record timestamps and age retention (zero = system) */
} mq_sink_log_opts_t;

typedef struct mq_sink_log mq_sink_log_t; /* log.c */

/* Called on the writer thread after records up to (excluding) durable_seq
 * are on disk.  Must not block; typically uv_async_send. */
typedef void (*mq_sink_durable_cb)(void *arg, uint64_t durable_seq);

/*
 * Opens (creating or recovering) the log in opts->dir: lists the segments,
 * truncates a torn or corrupt tail of the last one, reads the cursor file.
 * Does not start the writer thread (mq_sink_log_start).  Returns 0,
 * -errno, CN_ECORRUPT (unreadable cursor file), CN_EINVAL.
 */
int mq_sink_log_open(const mq_sink_log_opts_t *opts, mq_sink_log_t **out /* OUT */);
/*
 * Registers sink `name` and returns its stable id in *id (OUT): the id
 * stored in the cursor file for that name, or a new one (ids are never
 * reused) whose cursor starts at the head of the log.  Cursors of names
 * not registered before mq_sink_log_start are forgotten at start (their
 * undelivered records are dropped, logged).  Any thread.  Returns 0,
 * CN_ELIMIT (id space exhausted), CN_EINVAL (bad name).
 */
int mq_sink_log_sink(mq_sink_log_t *log, const char *name, uint16_t *id /* OUT */);
/* Drops the cursor of sink id (the sink was removed): its records no
 * longer hold segments, appends for it fail with CN_ENOTFOUND. */
void mq_sink_log_forget(mq_sink_log_t *log, uint16_t id);
/* Starts the writer thread.  cb (may be NULL) is the durable notification. */
int mq_sink_log_start(mq_sink_log_t *log, mq_sink_durable_cb cb, void *arg);
/*
 * Appends a record for sink rec->sink (rec->seq and, when 0, rec->ts_ns are
 * filled in).  Non-blocking, any thread.  *seq (OUT, may be NULL) is the
 * record's sequence number: it is durable once the durable callback
 * reports a durable_seq > *seq.  Returns 0, CN_EFULL (stop-accepting
 * policy past the retention limits, or the writer is max_pending behind),
 * CN_ELIMIT (key/topic/payload too large), CN_ENOTFOUND (unknown sink id),
 * CN_ECLOSED, or the writer's sticky -errno after an I/O error.
 */
int mq_sink_log_append(mq_sink_log_t *log, const mq_sink_rec_t *rec, uint64_t *seq /* OUT */);
/* First sequence number not yet durable (all below are on disk). */
uint64_t mq_sink_log_durable(mq_sink_log_t *log);
/* Blocks until seq < durable or the log failed; for tests and shutdown.
 * Returns 0 or the sticky error. */
int mq_sink_log_wait(mq_sink_log_t *log, uint64_t seq);
/*
 * Commits the cursor of sink `id`: every record of that sink below `next`
 * is delivered.  Monotonic (a smaller value is ignored).  Persisted by the
 * writer thread (tmp + fsync + rename) at most every cursor_every_ns and
 * at close.  Any thread.
 */
void mq_sink_log_commit(mq_sink_log_t *log, uint16_t id, uint64_t next);
/* The cursor of sink id (next record to deliver), 0 if unknown. */
uint64_t mq_sink_log_cursor(mq_sink_log_t *log, uint16_t id);
/* Forces a cursor write and segment deletion pass now and waits for it. */
int mq_sink_log_sync(mq_sink_log_t *log);
/* Stops the writer (pending appends are written and fsynced, cursors
 * persisted) and frees the log.  NULL is a no-op. */
void mq_sink_log_close(mq_sink_log_t *log);

/* A reading position in the log; zero-initialise, then mq_sink_log_seek. */
typedef struct mq_sink_pos {
    uint64_t seq;      /* next record to look at */
    uint64_t seg_base; /* segment being read (0 = find by seq) */
    uint64_t off;      /* byte offset inside it */
    int fd;            /* cached descriptor of that segment, -1 = none */
} mq_sink_pos_t;

void mq_sink_log_seek(mq_sink_pos_t *pos, uint64_t seq);
void mq_sink_pos_close(mq_sink_pos_t *pos);

/* Records read by mq_sink_log_read: one buffer, records borrowing it. */
typedef struct mq_sink_batch {
    cn_buf_t data;
    mq_sink_rec_t *recs; /* n records in seq order, pointing into data */
    uint32_t n, cap;
    uint64_t skipped; /* records lost to retention (drop-oldest) before these */
} mq_sink_batch_t;

void mq_sink_batch_init(mq_sink_batch_t *b);
void mq_sink_batch_free(mq_sink_batch_t *b);

/*
 * Reads durable records of sink `id` from pos onwards into b (reset first),
 * at most max_bytes of log scanned.  Blocking file I/O: call it on a worker
 * thread (uv_queue_work), never on an event loop.  Records of other sinks
 * are skipped.  When the segment at pos was deleted by drop-oldest, pos
 * jumps to the oldest segment.  Returns the number of records added, or
 * -errno.  A corrupt record inside a sealed segment is logged and the rest
 * of that segment skipped.
 */
int mq_sink_log_read(mq_sink_log_t *log, mq_sink_pos_t *pos, uint16_t id, size_t max_bytes,
                     mq_sink_batch_t *b);

/* Log-wide counters (a snapshot). */
typedef struct mq_sink_log_stats {
    uint64_t next_seq;     /* next sequence number to assign */
    uint64_t durable_seq;  /* first not yet on disk */
    uint64_t bytes;        /* bytes in segment files */
    uint64_t segments;     /* segment files */
    uint64_t appended;     /* records accepted since open */
    uint64_t rejected;     /* appends refused by stop-accepting or max_pending */
    uint64_t dropped;      /* records dropped by drop-oldest (all sinks) */
    uint64_t truncated;    /* bytes cut from a torn tail at open */
    int64_t oldest_ts_ns;  /* newest append time in the oldest segment (age check) */
    bool refusing;         /* stop-accepting is in force */
} mq_sink_log_stats_t;

void mq_sink_log_stats(mq_sink_log_t *log, mq_sink_log_stats_t *st /* OUT */);
/* Records of sink id dropped by drop-oldest since open. */
uint64_t mq_sink_log_dropped(mq_sink_log_t *log, uint16_t id);

/* ------------------------------------------------------------- sinks */

enum mq_sink_type { MQ_SINK_KAFKA = 0, MQ_SINK_WEBHOOK = 1 };

/*
 * A sink definition (borrowed by mq_sink_sys_add, which copies it).  Zero
 * numeric fields take the defaults in brackets.
 */
typedef struct mq_sink_def {
    const char *name; /* [A-Za-z0-9_.-]{1,200}; names the cursor across restarts */
    int type;         /* enum mq_sink_type */
    /* Kafka */
    const char *brokers;     /* bootstrap servers "host:port,..." */
    const char *topic;       /* topic of records that carry none */
    const char *compression; /* none|gzip|snappy|lz4|zstd [none] */
    const char *const *kafka_props; /* extra librdkafka "key=value", NULL-terminated; may be NULL */
    /* Webhook */
    const char *url;                /* http:// or https:// */
    const char *method;             /* POST or PUT [POST] */
    const char *const *headers;     /* "Name: value", NULL-terminated; may be NULL */
    int64_t timeout_ns;             /* per request [10 s] */
    uint32_t threads;               /* HTTP threads (lanes), max_inflight shared among
                                       them [CPUs, at most 4] */
    /* Both */
    uint32_t max_inflight;   /* webhook: parallel requests [64]; Kafka: records produced
                                and not yet acknowledged [100000] */
    uint32_t max_attempts;   /* rejected deliveries before the dead letter [10] */
    int64_t backoff_min_ns;  /* first retry delay [100 ms] */
    int64_t backoff_max_ns;  /* retry delay cap [30 s] */
} mq_sink_def_t;

/* Counters of one sink (a snapshot; mq_sink_sys_stats). */
typedef struct mq_sink_stats {
    uint64_t delivered;     /* records acknowledged by the endpoint */
    uint64_t failed;        /* delivery attempts that failed (any reason) */
    uint64_t retried;       /* records scheduled for another attempt after a rejection */
    uint64_t dead_lettered; /* records given up after max_attempts */
    uint64_t dropped;       /* records lost to drop-oldest retention */
    uint64_t cursor;        /* committed cursor: next record to deliver */
    uint64_t lag_records;   /* log records between the cursor and the log head */
    double lag_seconds;     /* age of the oldest undelivered record (0 when caught up) */
    bool down;              /* endpoint unreachable, backing off */
} mq_sink_stats_t;

typedef struct mq_sink_sys mq_sink_sys_t; /* sys.c */

/*
 * Opens the sink log (see mq_sink_log_open) and an empty sink system.
 * Returns 0 or the log's error.
 */
int mq_sink_sys_open(const mq_sink_log_opts_t *opts, mq_sink_sys_t **out /* OUT */);
/*
 * Adds a sink, before or after mq_sink_sys_start (any thread; after start
 * it begins delivering on the delivery thread shortly after).  Creates its
 * producer (Kafka: the librdkafka handle with acks=all,
 * enable.idempotence=true) or its curl multi handle.  A name seen before
 * (cursor file) resumes from its cursor.  Returns the sink id (>= 0) for
 * mq_sink_append, or CN_EINVAL / CN_ECONFIG (bad definition, e.g. a
 * librdkafka property it rejects; the reason is logged), CN_EEXIST
 * (a live sink has that name), CN_ELIMIT (4096 sinks per run).
 *
 * Sinks of rule actions: name them after the rule and action (e.g.
 * "rule.<id>.<n>") so the cursor survives restarts, add them before start
 * for the rules known at startup, and remove + add when a rule changes.
 */
int mq_sink_sys_add(mq_sink_sys_t *sys, const mq_sink_def_t *def);
/*
 * Removes sink `name` (any thread): appends for it fail from now on, its
 * records in flight are abandoned, its cursor is dropped (undelivered
 * records are not delivered).  Returns 0 or CN_ENOTFOUND.
 */
int mq_sink_sys_remove(mq_sink_sys_t *sys, const char *name);
/* The id of sink `name`, or CN_ENOTFOUND.  Thread-safe after start. */
int mq_sink_sys_find(mq_sink_sys_t *sys, const char *name);
/*
 * Names the sink that mq_sink_stream() feeds (the global "stream every
 * accepted telemetry message to Kafka" option).  Before start.
 */
int mq_sink_sys_set_stream(mq_sink_sys_t *sys, const char *name);
/*
 * Starts the log writer and the delivery thread.  cb (may be NULL) gets
 * the durable notifications on the writer thread (mq_sink_durable_cb).
 */
int mq_sink_sys_start(mq_sink_sys_t *sys, mq_sink_durable_cb cb, void *arg);
/*
 * Appends one record for sink `id` (any thread, non-blocking).  key is
 * the per-order key (device id), topic may be empty (the sink's topic).
 * Errors as mq_sink_log_append.
 */
int mq_sink_append(mq_sink_sys_t *sys, int id, const mq_sink_rec_t *rec, uint64_t *seq /* OUT */);
/*
 * The per-message hook for the stream option: appends (device, payload)
 * to the stream sink.  Returns 0 (also when no stream sink is set) or an
 * mq_sink_log_append error.  Any thread.
 */
int mq_sink_stream(mq_sink_sys_t *sys, const void *device, size_t device_len, const void *payload,
                   size_t payload_len, int64_t ts_ns, uint64_t *seq /* OUT, may be NULL; 0 when
                                                                     nothing was appended */);
/* Counters of sink id; CN_ENOTFOUND for an unknown id.  Any thread. */
int mq_sink_sys_stats(mq_sink_sys_t *sys, int id, mq_sink_stats_t *st /* OUT */);
/*
 * Appends the sink families in Prometheus text format (HELP/TYPE lines,
 * one sample per sink, label sink="name",type="kafka|webhook") and the log
 * families.  Any thread.
 */
void mq_sink_sys_metrics(mq_sink_sys_t *sys, cn_buf_t *out);
/*
 * Appends a JSON object {"sinks":[{name, type, counters..., "dead_letters":
 * [...]}]} with the most recent dead letters of each sink (kept in memory,
 * also appended to <dir>/deadletter.jsonl).  Any thread.
 */
void mq_sink_sys_json(mq_sink_sys_t *sys, cn_buf_t *out);
/*
 * Blocks until every record appended before the call is delivered or
 * dead-lettered by its sink, or timeout_ns passed.  Returns 0 or
 * -ETIMEDOUT.  For tools and tests; never call it on an event loop.
 */
int mq_sink_sys_drain(mq_sink_sys_t *sys, int64_t timeout_ns);
/* The log underneath (borrowed, valid until close). */
mq_sink_log_t *mq_sink_sys_log(mq_sink_sys_t *sys);
/*
 * Stops delivery (records in flight stay undelivered and come again after
 * a restart), joins the delivery thread, closes the log.  NULL is a no-op.
 */
void mq_sink_sys_close(mq_sink_sys_t *sys);

/* ----------------------------------------------------------- sinks file */

/*
 * The sinks file (config key sinks-file): INI-like sections, one per sink.
 *
 *   # comment
 *   [sink alerts]
 *   type = webhook                    # webhook | kafka
 *   url = https://hooks.example/x     # webhook
 *   header = Authorization: Bearer t  # webhook, repeatable
 *   method = PUT                      # webhook: POST (default) or PUT
 *   timeout = 5s                      # webhook, per request
 *   threads = 2                       # webhook: HTTP threads
 *   brokers = k1:9092,k2:9092         # kafka
 *   topic = telemetry                 # kafka, for records without a topic
 *   compression = lz4                 # kafka: none|gzip|snappy|lz4|zstd
 *   kafka.linger.ms = 10              # kafka: any librdkafka property
 *   max-inflight = 64                 # both (see mq_sink_def_t)
 *   max-attempts = 10
 *   backoff-min = 100ms               # durations: N with ms, s, m or h
 *   backoff-max = 30s
 *
 * Parsed definitions own their strings; free with mq_sink_defs_free.
 */
typedef struct mq_sink_defs {
    mq_sink_def_t *v;
    size_t n;
    char **owned_;
    size_t nowned_;
} mq_sink_defs_t;

/*
 * Parses text (name is used in messages).  On error returns CN_ECONFIG and
 * writes "NAME:LINE: reason" into err (size errlen).  Checks per type that
 * the required keys are there (url; brokers).
 */
int mq_sink_defs_parse(const char *name, const char *text, size_t len, mq_sink_defs_t *out /* OUT */,
                       char *err, size_t errlen);
void mq_sink_defs_free(mq_sink_defs_t *d);

#endif /* MQ_SINK_H */
