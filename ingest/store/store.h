/* SPDX-License-Identifier: MIT */
/*
 * store.h - the broker's persistent metadata store: retained messages,
 * persistent MQTT sessions and the device registry, in one SQLite database
 * (WAL mode), usually <data-dir>/meta.db.
 *
 * The store is the truth; memory holds only what must be fast:
 *  - retained messages: an in-memory topic trie of every retained topic
 *    (name levels, QoS, expiry, size; no payloads) answers wildcard lookups
 *    without touching the disk; payloads live in SQLite behind a bounded
 *    cache (opts.cache_bytes) of refcounted messages.  One mq_store_msg_t
 *    is shared by every subscriber it is delivered to.
 *  - sessions: write-through.  The broker keeps its live session state in
 *    memory; the store records every change and hands all sessions back at
 *    startup (mq_store_sessions_load).
 *  - devices: device_id -> tag set, read from loop threads through an
 *    immutable snapshot that is swapped on change (mq_store_devices_acquire).
 *
 * THREADS
 *  - mq_store_open / _close / _sessions_load / _sync are blocking: call them
 *    at startup, shutdown or from a worker, never from an event loop.
 *  - Every other function is non-blocking and thread-safe: it validates,
 *    copies its arguments into an operation and appends it to the store's
 *    queue (a mutex held for a pointer swap, never across I/O), then returns.
 *    One store thread owns the SQLite connection, the retained trie and the
 *    cache; it applies operations strictly in queue order, batching
 *    consecutive writes into one transaction (at most opts.batch_max).
 *  - Callbacks (durable_notify, retained match results) run on the store
 *    thread.  They must be quick and must not call blocking store functions
 *    (_sync, _close); enqueueing more operations is allowed.  A broker
 *    marshals results to its loop with uv_async_send.
 *
 * ORDER AND VISIBILITY
 *  - Every queued operation gets a sequence number (> 0, increasing in
 *    queue order over all callers).  A retained match sees exactly the
 *    operations queued before it: a retained set followed by a match from
 *    the same thread always finds the message; a clear followed by a match
 *    never does.
 *
 * DURABILITY (what survives a crash)
 *  - An operation is durable once its transaction committed; the store then
 *    publishes mq_store_durable_seq() >= its seq and calls
 *    opts.durable_notify(arg, seq) on the store thread.  To send a PUBACK
 *    only after a queued message is persisted, remember the seq returned by
 *    mq_store_msg_put and release the PUBACK when durable_notify reports a
 *    seq >= it (exactly like engine.h's durable_notify).
 *  - opts.fsync = true: SQLite synchronous=FULL, every commit is fsynced:
 *    durable means durable across power loss.  false (default):
 *    synchronous=NORMAL: a committed operation survives a crash of the
 *    process (SIGKILL, abort) but the last commits before a power loss or
 *    kernel crash may be lost; the database is never corrupted.
 *  - Operations queued but not committed when the process dies are lost,
 *    all or nothing per transaction; never partially applied.
 *  - A failed commit (disk full, I/O error) makes the store sticky-failed:
 *    the batch is rolled back, durable_seq stops advancing (so nothing
 *    depending on it is acknowledged) and every later call returns the
 *    error.  mq_store_error() reports it.
 *
 * SHARING THE FILE
 *  - Other modules may keep their own tables in the same file through their
 *    own sqlite3 connection: open the path, set a busy timeout, and use
 *    table names outside the "mq_" prefix, which the store owns.  The store
 *    keeps its schema version in mq_meta (not PRAGMA user_version, which is
 *    the file's).
 *
 * HOW A BROKER USES IT (one mq_store_t in srv_ctx_t, path <data-dir>/meta.db)
 *  - startup: mq_store_open; mq_store_sessions_load (rebuild the in-memory
 *    sessions, subscribe their filters in the router, resend in-flight
 *    messages on reconnect); then start the loops.
 *  - PUBLISH with retain: mq_store_retain_set (empty payload clears).  For
 *    a QoS 1/2 retained PUBLISH whose ack waits for durability, hold the
 *    PUBACK/PUBREC until durable_notify reports the returned seq.
 *  - SUBSCRIBE (retain-handling 0, or 1 and the subscription is new):
 *    mq_store_retain_match(filter) after the SUBACK is queued; the callback
 *    (store thread) hands the message references to the subscriber's loop
 *    (uv_async_send), which sends them with the retain flag set and unrefs.
 *  - CONNECT of a persistent session: mq_store_session_put (disconnect_ns
 *    0); clean start: mq_store_session_del first.  DISCONNECT / connection
 *    loss: mq_store_session_put with disconnect_ns = now.  Expiry timer or
 *    takeover with clean start: mq_store_session_del.
 *  - SUBSCRIBE/UNSUBSCRIBE of a persistent session: mq_store_sub_put/_del.
 *  - QoS 1/2 message for a persistent session: mq_store_msg_put (QUEUED
 *    when offline or beyond Receive Maximum, else PUBLISH_SENT with its
 *    packet id), mq_store_msg_state on PUBREC (PUBREL_SENT), mq_store_msg_del
 *    on PUBACK/PUBCOMP.  CN_EFULL from msg_put is the per-session limit.
 *  - Incoming QoS 2: mq_store_qos2_add before PUBREC, mq_store_qos2_del
 *    after PUBCOMP.
 *  - ingest: snap = mq_store_devices_acquire(st, snap) per batch, then
 *    mq_devsnap_get(snap, device_id) for the tags to attach.
 *  - shutdown: mq_store_close after the loops stopped.
 *
 * ERRORS: 0 or a sequence number on success; CN_EINVAL (bad argument),
 * CN_EFULL (queue or per-session limit reached; nothing was queued),
 * CN_ECLOSED (store closing), CN_ECORRUPT / CN_EVERSION (open), -errno or
 * CN_ECORRUPT for SQLite failures (mapped: SQLITE_FULL -> -ENOSPC,
 * SQLITE_IOERR -> -EIO, SQLITE_BUSY -> -EBUSY, SQLITE_CORRUPT ->
 * CN_ECORRUPT, others -> -EIO).
 */
#ifndef MQ_STORE_H
#define MQ_STORE_H

#include "base/base.h"
#include "router.h" /* mq_sub_opts_t */

#include <stdatomic.h>

typedef struct mq_store mq_store_t;

typedef struct mq_store_opts {
    const char *path;      /* database file; created if missing.  Required. */
    bool fsync;            /* see DURABILITY; default false */
    size_t cache_bytes;    /* retained payload cache budget; default 64 MiB */
    size_t queue_bytes;    /* bytes of queued, not yet applied operations;
                            * beyond it calls return CN_EFULL.  Default 64 MiB */
    size_t db_cache_bytes; /* SQLite page cache; default 8 MiB */
    uint32_t batch_max;    /* operations per transaction; default 4096 */
    /* Per-session limits on stored outgoing messages (queued + in flight),
     * enforced by mq_store_msg_put; 0 = unlimited.  Defaults 0. */
    uint32_t session_max_msgs;
    uint64_t session_max_bytes;
    /* Called on the store thread after each commit with the highest
     * sequence number now durable (non-decreasing; it may repeat), before
     * mq_store_durable_seq() / mq_store_sync see that value.  Optional. */
    void (*durable_notify)(void *arg, uint64_t durable_seq);
    void *durable_arg;
    /* Frees a message attachment (mq_store_msg_ext_set); optional.  Runs
     * on whichever thread drops the message's last reference. */
    void (*msg_ext_free)(void *ext);
    /* Wall clock for message expiry and session disconnect times; default
     * cn_clock_system().  Tests inject their own. */
    cn_clock_t clock;
    /* How often the store thread deletes expired retained messages, ns;
     * default 1 s.  Lookups never return an expired message either way. */
    int64_t sweep_interval_ns;
} mq_store_opts_t;

/* Fills *o with the defaults above (path NULL). */
void mq_store_opts_default(mq_store_opts_t *o /* OUT */);

/*
 * Opens (creating if needed) the database at o->path in WAL mode, creates
 * or checks the store's tables, loads the retained index and the device
 * registry, deletes expired retained messages, and starts the store thread.
 * Blocking.  Returns 0, CN_EINVAL, CN_EVERSION (schema newer than this
 * build), CN_ECORRUPT, -errno.
 */
int mq_store_open(const mq_store_opts_t *o, mq_store_t **out /* OUT */);
/* Applies and commits everything queued, stops the thread, closes the
 * database, frees.  Blocking.  Outstanding match callbacks run before it
 * returns.  NULL is a no-op. */
void mq_store_close(mq_store_t *st);

/* Highest durable sequence number (0 before any commit).  Any thread. */
uint64_t mq_store_durable_seq(const mq_store_t *st);
/* Blocks until seq is durable (or the store failed).  Returns 0 or the
 * sticky error.  Startup, shutdown, tests and workers only. */
int mq_store_sync(mq_store_t *st, uint64_t seq);
/* The sticky error (0 while healthy).  Any thread. */
int mq_store_error(const mq_store_t *st);

/*
 * A durability watcher for a user that arrives after mq_store_open (the
 * broker, which waits for commits before acknowledging): fn(arg, seq) runs
 * on the store thread after each commit, once mq_store_durable_seq()
 * already returns seq, and once more when the store fails (mq_store_error()
 * < 0 then).  It runs under the store's queue mutex: it must be quick and
 * non-blocking (atomic stores, uv_async_send) and call no store function.
 * One watcher at a time; fn NULL removes it, and when mq_store_watch
 * returns no call of the previous watcher is in progress.  Any thread.
 */
void mq_store_watch(mq_store_t *st, void (*fn)(void *arg, uint64_t durable_seq), void *arg);

/* ======================================================== retained messages */

/*
 * A stored message, immutable once built and shared by reference: the
 * cache holds one reference, every delivery another.  Fields are read-only;
 * the strings are not NUL-terminated.  Release with mq_store_msg_unref
 * from any thread.
 */
typedef struct mq_store_msg {
    atomic_uint refs_;            /* private */
    _Atomic(void *) ext_;         /* private: mq_store_msg_ext */
    void (*ext_free_)(void *ext); /* private: opts.msg_ext_free */
    size_t ext_bytes_;            /* private: the attachment's size, counted in ... */
    atomic_size_t *ext_acct_;     /* private: ... the store's cache budget */
    uint8_t qos;                  /* 0..2 */
    int64_t expiry_ns;            /* absolute message-expiry deadline (wall clock), 0 = none */
    const char *topic;            /* points into this allocation */
    const uint8_t *props;         /* MQTT 5 properties blob, opaque to the store */
    const uint8_t *payload;
    uint32_t topic_len;
    uint32_t props_len;
    uint32_t payload_len;
} mq_store_msg_t;

void mq_store_msg_ref(mq_store_msg_t *m);
void mq_store_msg_unref(mq_store_msg_t *m); /* NULL is a no-op */

/*
 * One attachment per message, so a broker converts a retained message to
 * its own form once and every later delivery of the same (cached) message
 * shares that conversion: the one-copy rule all the way to the sockets.
 * mq_store_msg_ext returns the attachment or NULL.  mq_store_msg_ext_set
 * attaches `ext` if none is attached yet and returns the attachment now in
 * place: `ext` itself, or an earlier one another thread attached first (the
 * caller then frees its own `ext`).  `bytes` is the attachment's size: it
 * counts against opts.cache_bytes for as long as the message lives (the
 * cache evicts to make room for it), so the budget bounds both forms.
 * Messages with an attachment must be released before mq_store_close.  The store calls opts.msg_ext_free(ext)
 * when the message's last reference goes; it must be set for
 * mq_store_msg_ext_set to accept anything (otherwise it returns NULL and
 * attaches nothing).  Any thread.
 */
void *mq_store_msg_ext(mq_store_msg_t *m);
void *mq_store_msg_ext_set(mq_store_msg_t *m, void *ext, size_t bytes);

/* What mq_store_retain_set copies (borrowed by the call only). */
typedef struct mq_store_retain {
    const char *topic; /* a valid topic name (mq_router_topic_valid) */
    size_t topic_len;
    uint8_t qos;
    int64_t expiry_ns; /* absolute deadline, 0 = never expires */
    const uint8_t *props;
    size_t props_len;
    const uint8_t *payload; /* payload_len 0 means clear, as MQTT says */
    size_t payload_len;
} mq_store_retain_t;

/*
 * Sets (payload_len > 0) or clears (payload_len == 0) the retained message
 * of r->topic.  Copies everything.  Non-blocking, any thread.  Returns the
 * operation's seq, CN_EINVAL (bad topic, qos > 2, topic starting with '$'
 * is allowed), CN_EFULL, CN_ECLOSED or the sticky error.
 */
int64_t mq_store_retain_set(mq_store_t *st, const mq_store_retain_t *r);

/*
 * Retained-match results, called on the store thread one or more times
 * per lookup, in no particular order: msgs[0..n) are new
 * references the callee now owns (unref each when done).  `last` is true
 * on the final call (n may be 0 then).  A lookup of many messages is
 * delivered in chunks of at most 256.
 */
typedef void (*mq_store_match_cb)(void *arg, mq_store_msg_t **msgs, size_t n, bool last);

/*
 * Looks up every retained message whose topic matches `filter` (a valid
 * non-shared topic filter; `+`, `#` and the `$` rule of MQTT 4.7.2: a
 * filter starting with a wildcard does not match topics starting with
 * '$').  Expired messages are skipped.  Cache hits share the cached
 * message; misses read SQLite on the store thread and enter the cache.
 * Non-blocking, any thread; cb runs on the store thread (even when
 * everything is cached, so results are ordered with earlier sets).
 * Returns the seq, CN_EINVAL, CN_EFULL, CN_ECLOSED or the sticky error;
 * on error cb is never called.  A lookup queued before the store failed
 * gets one cb(arg, NULL, 0, true).
 */
int64_t mq_store_retain_match(mq_store_t *st, const char *filter, size_t len, mq_store_match_cb cb,
                              void *arg);

/* Number of retained messages (the index, updated on the store thread). */
size_t mq_store_retain_count(const mq_store_t *st);

/* Retained cache counters, any thread (racy snapshot). */
typedef struct mq_store_stats {
    uint64_t cache_hits, cache_misses; /* per message delivered by a match */
    uint64_t cache_bytes, cache_msgs;  /* currently cached */
    uint64_t commits, ops;             /* transactions and operations applied */
    uint64_t expired;                  /* retained messages deleted by expiry */
} mq_store_stats_t;
void mq_store_stats(const mq_store_t *st, mq_store_stats_t *out /* OUT */);

/* Queues an immediate expiry sweep (tests; the thread also sweeps every
 * sweep_interval_ns).  Returns the seq or an error like retain_set. */
int64_t mq_store_sweep(mq_store_t *st);

/* ========================================================= persistent sessions */

/* Outgoing message states (MQTT 4.3): the session diagram
 *
 *   msg_put(QUEUED) --msg_state(PUBLISH_SENT,pid)--> PUBLISH_SENT
 *        |                                            |  QoS 1: PUBACK -> msg_del
 *        +-- msg_put may also start at PUBLISH_SENT    |  QoS 2: PUBREC ->
 *                                                      v
 *                              msg_state(PUBREL_SENT) PUBREL_SENT --PUBCOMP--> msg_del
 *
 * In PUBREL_SENT the topic, properties and payload are dropped from disk
 * (only the packet id is needed to resend PUBREL). */
enum { MQ_SMSG_QUEUED = 0, MQ_SMSG_PUBLISH_SENT = 1, MQ_SMSG_PUBREL_SENT = 2 };

/* One outgoing QoS 1/2 message of a session. */
typedef struct mq_store_smsg {
    uint64_t mid;      /* broker-chosen id, unique in the session; load returns
                        * messages in mid order, so make it increase with delivery order */
    uint8_t state;     /* MQ_SMSG_* */
    uint8_t qos;       /* 1 or 2 */
    bool retain;       /* the retain flag to send */
    uint16_t pid;      /* packet id; 0 while QUEUED */
    int64_t expiry_ns; /* absolute deadline, 0 = none */
    const char *topic;
    size_t topic_len;
    const uint8_t *props;
    size_t props_len;
    const uint8_t *payload;
    size_t payload_len;
} mq_store_smsg_t;

/* The bytes a message counts against session_max_bytes. */
static inline uint64_t mq_store_smsg_bytes(const mq_store_smsg_t *m)
{
    return (uint64_t)m->topic_len + m->props_len + m->payload_len;
}

/* A session's header. */
typedef struct mq_store_sess {
    const char *client_id;
    size_t client_id_len;
    uint8_t proto;         /* protocol level: 3, 4 or 5 */
    uint32_t expiry_s;     /* session expiry interval, s; UINT32_MAX = never */
    int64_t disconnect_ns; /* wall-clock disconnect time; 0 = connected */
} mq_store_sess_t;

/*
 * Creates or replaces the session header (CONNECT, DISCONNECT, a changed
 * expiry interval).  Subscriptions and messages of an existing session are
 * kept; delete the session first for a clean start.  Returns the seq or an
 * error (CN_EINVAL: empty client id or proto not 3..5).
 */
int64_t mq_store_session_put(mq_store_t *st, const mq_store_sess_t *s);
/* Deletes a session with its subscriptions, messages and QoS 2 ids (clean
 * start, expiry, takeover with clean start).  Deleting a missing session
 * is not an error.  Returns the seq or an error. */
int64_t mq_store_session_del(mq_store_t *st, const char *cid, size_t cid_len);

/* Adds or replaces the subscription (cid, filter).  The filter is stored
 * as given ($share/... included).  Returns the seq or an error. */
int64_t mq_store_sub_put(mq_store_t *st, const char *cid, size_t cid_len, const char *filter,
                         size_t flen, const mq_sub_opts_t *opts);
int64_t mq_store_sub_del(mq_store_t *st, const char *cid, size_t cid_len, const char *filter,
                         size_t flen);

/*
 * Stores an outgoing message (queued for an offline session, or in
 * flight).  Enforces session_max_msgs / session_max_bytes over the
 * session's stored messages at call time: CN_EFULL means it would exceed
 * them and nothing was queued (the broker drops and counts it, or stops
 * reading the publisher).  Put each mid once (msg_state changes its
 * state); the message is copied.  Returns the seq or an error.
 */
int64_t mq_store_msg_put(mq_store_t *st, const char *cid, size_t cid_len, const mq_store_smsg_t *m);
/* Moves message mid to PUBLISH_SENT (with pid, also to mark a resend) or
 * PUBREL_SENT.  Returns the seq or an error. */
int64_t mq_store_msg_state(mq_store_t *st, const char *cid, size_t cid_len, uint64_t mid,
                           uint8_t state, uint16_t pid);
/* Deletes message mid (acknowledged, expired or dropped).  `bytes` is the
 * mq_store_smsg_bytes() of the message as it was put, for the per-session
 * accounting.  Returns the seq or an error. */
int64_t mq_store_msg_del(mq_store_t *st, const char *cid, size_t cid_len, uint64_t mid,
                         uint64_t bytes);
/* Session's stored message count and bytes as the limits see them. */
void mq_store_msg_usage(mq_store_t *st, const char *cid, size_t cid_len, uint32_t *msgs /* OUT */,
                        uint64_t *bytes /* OUT */);

/* Incoming QoS 2: packet id received (PUBREC sent), and released (PUBREL
 * received, PUBCOMP sent).  Return the seq or an error. */
int64_t mq_store_qos2_add(mq_store_t *st, const char *cid, size_t cid_len, uint16_t pid);
int64_t mq_store_qos2_del(mq_store_t *st, const char *cid, size_t cid_len, uint16_t pid);

/* A whole session as loaded; every pointer is borrowed for the callback. */
typedef struct mq_store_session {
    mq_store_sess_t sess;
    const char *const *sub_filters; /* nsubs filters (not NUL-terminated) */
    const size_t *sub_lens;
    const mq_sub_opts_t *sub_opts;
    size_t nsubs;
    const mq_store_smsg_t *msgs; /* by mid; PUBREL_SENT ones have no topic/payload */
    size_t nmsgs;
    const uint16_t *qos2_pids; /* incoming QoS 2 ids awaiting PUBREL, ascending */
    size_t nqos2;
} mq_store_session_t;

/*
 * Loads every session, in client-id order, calling cb for each on the
 * calling thread.  First deletes sessions that have expired (disconnect
 * time + expiry interval <= now, interval 0 included) and their messages
 * expired by message expiry; a session still marked connected (the server
 * died under it) counts as disconnected at load time and is updated so.
 * Blocking: call at startup before any loop thread uses the store.  cb
 * returning a negative code stops the load and is returned.  Returns the
 * number of sessions loaded or a negative code.
 */
int mq_store_sessions_load(mq_store_t *st, int (*cb)(void *arg, const mq_store_session_t *s),
                           void *arg);

/* =========================================================== device registry */

/* A tag: key=value, not NUL-terminated (the snapshot's own are). */
typedef struct mq_store_tag {
    const char *key;
    size_t key_len;
    const char *val;
    size_t val_len;
} mq_store_tag_t;

/* Limits: ids and tag keys/values 1..255 bytes (values may be empty), at
 * most 64 tags per device. */
#define MQ_DEV_ID_MAX  255
#define MQ_DEV_TAG_MAX 255
#define MQ_DEV_TAGS    64

/*
 * Sets device id's tag set (replacing any previous set; n may be 0 for a
 * registered device without tags; keys must be unique).  The snapshot
 * readers see is rebuilt on the store thread in the batch that applies the
 * change, before durable_notify reports it.  Returns the seq or an error.
 */
int64_t mq_store_device_put(mq_store_t *st, const char *id, size_t id_len,
                            const mq_store_tag_t *tags, size_t n);
/* Removes a device (missing is not an error).  Returns the seq or an error. */
int64_t mq_store_device_del(mq_store_t *st, const char *id, size_t id_len);

/* An immutable, refcounted view of the whole registry. */
typedef struct mq_devsnap mq_devsnap_t;

/*
 * Returns the current snapshot with a reference for the caller.  Pass the
 * snapshot the caller already holds (or NULL): if it is still current it is
 * returned as is (one atomic load, no lock); otherwise it is released and
 * the new one returned.  Any thread; never blocks on I/O (a mutex held for
 * a pointer copy).  Typical loop use: `snap = mq_store_devices_acquire(st,
 * snap);` once per batch of messages.
 */
mq_devsnap_t *mq_store_devices_acquire(mq_store_t *st, mq_devsnap_t *held);
/* Drops a reference; NULL is a no-op.  Any thread. */
void mq_devsnap_release(mq_devsnap_t *s);
/* Tags of a device, borrowed while the snapshot is held: returns the tag
 * count (>= 0) with *tags (OUT) pointing at them (keys and values are
 * NUL-terminated too), or CN_ENOTFOUND. */
int mq_devsnap_get(const mq_devsnap_t *s, const char *id, size_t id_len,
                   const mq_store_tag_t **tags /* OUT */);
/* Number of devices, and the i-th device in id order (i < count) for
 * listing: *id (OUT, NUL-terminated) and its tags.  Returns the tag count. */
size_t mq_devsnap_count(const mq_devsnap_t *s);
int mq_devsnap_at(const mq_devsnap_t *s, size_t i, const char **id /* OUT */, size_t *id_len,
                  const mq_store_tag_t **tags /* OUT */);

#endif /* MQ_STORE_H */
