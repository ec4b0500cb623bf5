/* SPDX-License-Identifier: MIT */
/*
 * store_int.h - internals shared by the store's files: the operation queue
 * entry, the store object, the retained trie and cache (retained.c), the
 * session accounting (session.c) and the device snapshots (devreg.c).
 *
 * NOTES
 *  1. The store thread is the only user of `db` while the store runs,
 *     except mq_store_sessions_load, which takes db_mu like the thread does
 *     around each batch.
 *  2. The retained trie, the cache and the prepared statements belong to
 *     the store thread (or to open/close when the thread is not running).
 *  3. qbytes counts the `bytes` of every op queued and not yet freed; an op
 *     is accounted when appended and released after it was applied.
 *  4. durable only grows, and only after a successful COMMIT (or after a
 *     read-only op such as a match, which has nothing to commit).
 */
#ifndef MQ_STORE_INT_H
#define MQ_STORE_INT_H

#include "store.h"

#include <pthread.h>
#include <sqlite3.h>

enum mq__st_op_kind {
    OP_RET_SET,
    OP_RET_CLEAR,
    OP_RET_MATCH,
    OP_SWEEP,
    OP_SESS_PUT,
    OP_SESS_DEL,
    OP_SUB_PUT,
    OP_SUB_DEL,
    OP_MSG_PUT,
    OP_MSG_STATE,
    OP_MSG_DEL,
    OP_Q2_ADD,
    OP_Q2_DEL,
    OP_DEV_PUT,
    OP_DEV_DEL,
};

/* One queued operation.  Strings point into data[] (one allocation). */
typedef struct mq__st_op {
    struct mq__st_op *next;
    uint64_t seq;
    size_t bytes; /* counted against queue_bytes */
    uint8_t kind;
    uint8_t state, qos, proto;
    bool retain;
    uint16_t pid;
    uint32_t expiry_s, ntags;
    int64_t expiry_ns, disc_ns;
    uint64_t mid;
    mq_sub_opts_t opts;
    mq_store_msg_t *msg; /* OP_RET_SET: the reference handed to the cache */
    mq_store_match_cb cb;
    void *cb_arg;
    const char *a; /* client id, topic, filter, device id */
    size_t alen;
    const char *b; /* filter (sub), topic (msg) */
    size_t blen;
    const uint8_t *c; /* props (msg), packed tags (dev) */
    size_t clen;
    const uint8_t *d; /* payload (msg) */
    size_t dlen;
    uint8_t data[];
} mq__st_op_t;

/* Prepared statements, by purpose. */
enum mq__st_stmt {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_RET_PUT,
    S_RET_DEL,
    S_RET_GET,
    S_RET_EXPIRED,
    S_RET_DEL_EXPIRED,
    S_SESS_PUT,
    S_SESS_DEL,
    S_SUB_DEL_ALL,
    S_MSG_DEL_ALL,
    S_Q2_DEL_ALL,
    S_SUB_PUT,
    S_SUB_DEL,
    S_MSG_PUT,
    S_MSG_SENT,
    S_MSG_REL,
    S_MSG_DEL,
    S_Q2_ADD,
    S_Q2_DEL,
    S_DEV_PUT,
    S_DEV_DEL,
    S_DEVTAG_DEL,
    S_DEVTAG_PUT,
    S__COUNT
};

typedef struct mq__st_rnode mq__st_rnode_t;
typedef struct mq__st_rcent mq__st_rcent_t;
typedef struct mq__st_acct mq__st_acct_t;

struct mq_store {
    mq_store_opts_t o;
    char *path;
    sqlite3 *db;
    sqlite3_stmt *stmt[S__COUNT];
    pthread_mutex_t db_mu; /* NOTES 1 */

    /* The queue (mu). */
    pthread_mutex_t mu;
    pthread_cond_t cv_work; /* ops queued or closing */
    pthread_cond_t cv_done; /* durable advanced or failure */
    mq__st_op_t *head, *tail;
    size_t qbytes;
    uint64_t next_seq;
    bool closing;
    pthread_t thr;
    bool thr_started;

    atomic_uint_fast64_t durable;
    atomic_int err;
    void (*watch_fn)(void *arg, uint64_t durable_seq); /* mu; mq_store_watch */
    void *watch_arg;

    /* Retained index and cache: store thread (NOTES 2). */
    mq__st_rnode_t *root;
    atomic_size_t ret_count;
    mq__st_rcent_t *lru_head, *lru_tail; /* most recently used first */
    void *exp;                           /* expiry side table (retained.c) */
    size_t exp_n, exp_cap;
    size_t cache_bytes;
    atomic_size_t ext_bytes; /* attachments of live messages (mq_store_msg_ext_set) */
    int64_t next_sweep_mono;

    /* Stats (relaxed atomics). */
    atomic_uint_fast64_t st_hits, st_misses, st_cache_bytes, st_cache_msgs, st_commits, st_ops,
        st_expired;

    /* Session accounting (acct_mu): client id -> stored messages/bytes. */
    pthread_mutex_t acct_mu;
    mq__st_acct_t **acct;
    size_t acct_n, acct_nb;

    /* Device registry: the current snapshot (dev_mu for taking a ref). */
    pthread_mutex_t dev_mu;
    _Atomic(mq_devsnap_t *) dev_cur;
};

/* store.c */
int mq__st_sql_err(int rc);
int mq__st_step_done(mq_store_t *st, sqlite3_stmt *s);
int mq__st_exec(sqlite3 *db, const char *sql);
int64_t mq__st_now(const mq_store_t *st);
mq_store_msg_t *mq__st_msg_new(const mq_store_t *st, const char *topic, size_t tlen,
                               const uint8_t *props, size_t plen, const uint8_t *payload,
                               size_t len, uint8_t qos, int64_t expiry_ns);
size_t mq__st_msg_bytes(const mq_store_msg_t *m);

/* retained.c (store thread) */
int mq__st_ret_init(mq_store_t *st);
void mq__st_ret_free(mq_store_t *st);
int mq__st_ret_load(mq_store_t *st);
int mq__st_ret_apply_set(mq_store_t *st, mq__st_op_t *op);
int mq__st_ret_apply_clear(mq_store_t *st, mq__st_op_t *op);
int mq__st_ret_sweep(mq_store_t *st);
/* Runs a match and delivers it; a read, outside any write transaction. */
int mq__st_ret_match(mq_store_t *st, mq__st_op_t *op);

/* session.c */
int mq__st_sess_apply(mq_store_t *st, mq__st_op_t *op);
void mq__st_acct_free(mq_store_t *st); /* caller holds acct_mu or owns st alone */
void mq__st_acct_set(mq_store_t *st, const char *cid, size_t len, uint32_t msgs, uint64_t bytes);
int64_t mq__st_enqueue(mq_store_t *st, mq__st_op_t *op);
mq__st_op_t *mq__st_op_new(uint8_t kind, const char *a, size_t alen, const char *b, size_t blen,
                           const uint8_t *c, size_t clen, const uint8_t *d, size_t dlen);

/* devreg.c */
int mq__st_dev_apply(mq_store_t *st, mq__st_op_t *op);
int mq__st_dev_rebuild(mq_store_t *st);
void mq__st_dev_free(mq_store_t *st);

#endif /* MQ_STORE_INT_H */
