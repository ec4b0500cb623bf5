/* SPDX-License-Identifier: MIT */
/*
 * sink_int.h - internals shared by the files of ingest/sink/: the log's
 * structure (log.c, log_gc.c, log_read.c) and the delivery machinery
 * (deliver.c, kafka.c, webhook.c, sys.c).
 */
#ifndef MQ_SINK_INT_H
#define MQ_SINK_INT_H

#include "sink.h"

#include <pthread.h>

/* One segment file; the last one is active (being appended to). */
typedef struct mq__seg {
    uint64_t base;    /* first seq inside (the file name) */
    uint64_t end_seq; /* seq after its last record (next segment's base once sealed) */
    uint64_t size;    /* bytes written */
    uint64_t durable; /* bytes fsynced, readable (NOTES 2 in log.c) */
    int64_t last_ts;  /* newest append time, log clock (file mtime for segments found at
                         open); NOTES 6 in log.c */
} mq__seg_t;

typedef struct mq__cur {
    char *name;
    uint16_t id;
    bool live;        /* registered in this run */
    uint64_t next;    /* cursor: next record to deliver */
    uint64_t dropped; /* records skipped by drop-oldest since open */
} mq__cur_t;

struct mq_sink_log {
    mq_sink_log_opts_t o;
    char *dir;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* writer: work arrived */
    pthread_cond_t done; /* waiters: a writer cycle ended */
    cn_buf_t pend;       /* encoded records not yet written */
    cn_buf_t dl_pend;    /* dead-letter lines not yet written */
    uint64_t pend_n;
    int64_t pend_max_ts;
    uint64_t next_seq, durable_seq;
    mq__seg_t *segs;
    size_t nseg, segcap;
    mq__cur_t *curs;
    size_t ncur, curcap;
    unsigned next_id;
    bool started, stopping, exited, cursors_dirty, refusing, roll_req;
    uint64_t sync_req, sync_done;
    int err; /* sticky writer error */
    int fd;  /* active segment, writer thread only */
    pthread_t thr;
    mq_sink_durable_cb cb;
    void *cb_arg;
    mq_sink_log_stats_t st;
    cn_ratelimit_t rl;
};

void mq__seg_path(const mq_sink_log_t *log, uint64_t base, char *out, size_t n);
/* Writer thread, no lock held: deletes passed segments, applies the
 * retention policy.  Returns 0 or -errno. */
int mq__log_maintain(mq_sink_log_t *log);
/* Queues a dead-letter line for <dir>/deadletter.jsonl (written and
 * fsynced by the writer thread).  Any thread. */
void mq__log_deadletter(mq_sink_log_t *log, const char *sink, const mq_sink_rec_t *rec,
                        uint32_t attempts, const char *error);
/* JSON string (quoted, escaped) of n bytes; invalid UTF-8 bytes as \u00XX. */
void mq__json_str(cn_buf_t *out, const void *p, size_t n);

/* ------------------------------------------------------------ delivery */

#include <stdatomic.h>
#include <uv.h>

typedef struct mq__sink mq__sink_t;
typedef struct mq__key mq__key_t;
typedef struct mq__chunk mq__chunk_t;

enum mq__ent_state { ENT_HELD = 0, ENT_INFLIGHT, ENT_RETRY, ENT_DONE };

/* One record in a sink's window (read, not yet delivered). */
typedef struct mq__ent {
    mq_sink_rec_t rec; /* borrows its chunk's batch */
    mq__chunk_t *chunk;
    mq__key_t *key;
    struct mq__ent *knext; /* key's held list, or the sink's retry list */
    int64_t due_ns;        /* ENT_RETRY: when to try again (monotonic) */
    uint32_t attempts;     /* rejected deliveries so far */
    uint8_t state;         /* enum mq__ent_state */
    void *req;             /* the backend's request while in flight */
} mq__ent_t;

/* A fetched batch and its entries; the window is a list of chunks. */
struct mq__chunk {
    mq_sink_batch_t b;
    mq__ent_t *ents;
    uint32_t n, head; /* entries [head, n) not yet passed by the cursor */
    uint64_t end_seq; /* reader position after this batch */
    mq__chunk_t *next;
};

/* Per-key state: order is kept per key (NOTES in deliver.c). */
struct mq__key {
    mq__key_t *hnext; /* hash chain */
    uint64_t hash;
    uint32_t pending;  /* entries of this key in the window, not done */
    uint32_t inflight; /* of those, in flight */
    uint32_t blocked;  /* entries waiting for their retry */
    bool in_runq;
    mq__key_t *rnext;          /* run queue link */
    mq__ent_t *held, *held_tail; /* entries waiting to be sent, in seq order */
    size_t len;
    uint8_t bytes[]; /* the key */
};

/* Delivery result reported by a backend. */
enum mq__result {
    MQ__OK = 0,        /* delivered */
    MQ__TRANSIENT = 1, /* endpoint unreachable: back off, no attempt counted */
    MQ__REJECTED = 2,  /* endpoint refused this record: counts an attempt */
};

typedef struct mq__backend {
    const char *name; /* "kafka", "webhook" */
    bool pipeline;    /* several records of one key may be in flight */
    /* Sends e; 0 = in flight, CN_EFULL = no capacity now (pump stops). */
    int (*send)(mq__sink_t *s, mq__ent_t *e);
    /* Loop thread, at stop: abandon requests, close handles; calls
     * mq__sink_backend_closed(s) when its last handle is closed. */
    void (*stop)(mq__sink_t *s);
    void (*free)(mq__sink_t *s); /* after the loop ended */
} mq__backend_t;

typedef struct mq__dead {
    uint64_t seq;
    int64_t ts_ns;
    uint32_t attempts;
    char *key;   /* printable copy */
    char *error; /* last error text */
} mq__dead_t;

enum { MQ__DEAD_KEEP = 32 };

enum mq__health { H_UP = 0, H_DOWN, H_PROBE };

struct mq__sink {
    struct mq_sink_sys *sys;
    mq_sink_def_t def; /* strings owned (copied) */
    char **owned;      /* every owned string, for free */
    size_t nowned;
    uint16_t id;
    const mq__backend_t *be;
    void *impl; /* backend state */

    /* Window and reading (loop thread). */
    mq__chunk_t *head, *tail;
    uint32_t window; /* entries not done */
    mq_sink_pos_t pos;
    bool fetching;
    uv_work_t work;
    mq__chunk_t *fetched; /* work result */
    int fetch_rc;
    uint64_t read_seq; /* reader position known on the loop */

    /* Keys. */
    mq__key_t **ktab;
    size_t kcap, nkeys;
    mq__key_t *runq, *runq_tail;
    uint32_t inflight;

    /* Retries and health. */
    mq__ent_t *retry; /* entries waiting for their retry time */
    uv_timer_t retry_timer, health_timer;
    int health;            /* enum mq__health */
    uint32_t down_streak;  /* consecutive transient failures */
    uint64_t rng;          /* jitter */
    bool stopped;          /* mq__sink_stop ran: nothing is sent any more */
    bool attached;         /* handles live on the loop (loop thread) */
    _Atomic bool removed;  /* mq_sink_sys_remove: appends refused */
    mq__sink_t *qnext;     /* add_q / remove_q link */
    int closing;           /* handles still open during stop */

    /* Counters, read by other threads. */
    _Atomic uint64_t delivered, failed, retried, dead_lettered;
    _Atomic uint64_t cursor;
    _Atomic int64_t oldest_ts; /* ts of the oldest undelivered entry; 0 = none */
    _Atomic bool down;

    pthread_mutex_t dead_mu; /* guards dead[] */
    mq__dead_t dead[MQ__DEAD_KEEP];
    uint32_t ndead, dead_at;
};

enum { MQ__MAX_SINKS = 4096 };

struct mq_sink_sys {
    mq_sink_log_t *log;
    char *dir;
    /* Slots never move, so other threads index them without a lock; a
     * removed sink keeps its slot (removed = true) until close. */
    mq__sink_t *sinks[MQ__MAX_SINKS];
    _Atomic size_t nsinks;
    pthread_mutex_t admin; /* serialises add/remove */
    mq__sink_t *add_q;     /* under mu: added after start, to attach on the loop */
    mq__sink_t *remove_q;  /* under mu: removed after start, to stop on the loop */
    uv_async_t cmd;
    _Atomic int stream_id; /* -1 = none */
    uv_loop_t loop;
    uv_async_t wake, stop; /* and cmd above */
    uv_thread_t thr;
    bool started, loop_ok;
    bool accepting_wakes; /* under mu (NOTES 1 in sys.c) */
    mq_sink_durable_cb user_cb;
    void *user_arg;
    pthread_mutex_t mu; /* drain waiters */
    pthread_cond_t progress;
    /* Lowest cursor a drain waits for (UINT64_MAX: nobody waits), so that
     * delivery signals `progress` only when a waiter may be done. */
    _Atomic uint64_t drain_at;
    uint32_t ndrain; /* under mu: drains waiting */
    _Atomic uint64_t durable;
};

/* deliver.c, loop thread unless noted */
int mq__sink_init(mq__sink_t *s);                 /* handles on sys->loop */
void mq__sink_kick(mq__sink_t *s);               /* new durable records may exist */
void mq__sink_done(mq__sink_t *s, mq__ent_t *e, int result, const char *err);
void mq__sink_pump(mq__sink_t *s);               /* send what may be sent */
void mq__sink_stop(mq__sink_t *s);               /* close handles, abandon window */
void mq__sink_free(mq__sink_t *s);               /* after the loop ended */
void mq__sink_backend_closed(mq__sink_t *s);
int64_t mq__backoff(mq__sink_t *s, uint32_t n); /* n-th retry delay, jittered */

/* kafka.c / webhook.c */
extern const mq__backend_t mq__kafka_backend;
extern const mq__backend_t mq__webhook_backend;
int mq__kafka_create(mq__sink_t *s);   /* before start; CN_ECONFIG */
int mq__webhook_create(mq__sink_t *s); /* before start */
int mq__kafka_attach(mq__sink_t *s);   /* on start: loop handles */
int mq__webhook_attach(mq__sink_t *s);

#endif /* MQ_SINK_INT_H */
