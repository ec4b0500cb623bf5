/* SPDX-License-Identifier: MIT */
/*
 * store.c - the metadata store's lifecycle, schema, operation queue and
 * store thread.  Callers on any thread append operations to one queue; the
 * store thread takes them in order, applies consecutive writes inside one
 * SQLite transaction, commits, publishes the durable sequence number and
 * runs retained lookups between write batches so that each lookup sees
 * exactly the operations queued before it.
 *
 * On-disk schema (version 1, in mq_meta 'schema'); strings are BLOBs so
 * they compare bytewise and need not be valid UTF-8:
 *
 *   mq_retained(topic PK, qos, expiry ns|0, props, payload)
 *   mq_sessions(cid PK, proto, expiry s, disc ns|0)
 *   mq_subs(cid, filter, qos, nl, rap, rh, subid; PK cid, filter)
 *   mq_smsgs(cid, mid, state, pid, qos, retain, expiry ns|0, topic, props,
 *            payload; PK cid, mid)
 *   mq_qos2in(cid, pid; PK cid, pid)
 *   mq_devices(id PK), mq_device_tags(id, k, v; PK id, k)
 *
 * A later version adds tables or columns and bumps 'schema'; a build seeing
 * a newer schema than its own refuses to open (CN_EVERSION).
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define SCHEMA_VERSION 1

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS mq_meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS mq_retained(topic BLOB PRIMARY KEY, qos INTEGER NOT NULL,"
    " expiry INTEGER NOT NULL, props BLOB NOT NULL, payload BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS mq_retained_exp ON mq_retained(expiry) WHERE expiry > 0;"
    "CREATE TABLE IF NOT EXISTS mq_sessions(cid BLOB PRIMARY KEY, proto INTEGER NOT NULL,"
    " expiry INTEGER NOT NULL, disc INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS mq_subs(cid BLOB NOT NULL, filter BLOB NOT NULL,"
    " qos INTEGER NOT NULL, nl INTEGER NOT NULL, rap INTEGER NOT NULL, rh INTEGER NOT NULL,"
    " subid INTEGER NOT NULL, PRIMARY KEY(cid, filter)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS mq_smsgs(cid BLOB NOT NULL, mid INTEGER NOT NULL,"
    " state INTEGER NOT NULL, pid INTEGER NOT NULL, qos INTEGER NOT NULL,"
    " retain INTEGER NOT NULL, expiry INTEGER NOT NULL, topic BLOB NOT NULL,"
    " props BLOB NOT NULL, payload BLOB NOT NULL, PRIMARY KEY(cid, mid)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS mq_qos2in(cid BLOB NOT NULL, pid INTEGER NOT NULL,"
    " PRIMARY KEY(cid, pid)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS mq_devices(id BLOB PRIMARY KEY) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS mq_device_tags(id BLOB NOT NULL, k BLOB NOT NULL,"
    " v BLOB NOT NULL, PRIMARY KEY(id, k)) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO mq_meta VALUES('schema', 1);";

static const char *const STMT_SQL[S__COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_RET_PUT] = "INSERT OR REPLACE INTO mq_retained(topic, qos, expiry, props, payload)"
                  " VALUES(?1, ?2, ?3, ?4, ?5)",
    [S_RET_DEL] = "DELETE FROM mq_retained WHERE topic = ?1",
    [S_RET_GET] = "SELECT qos, expiry, props, payload FROM mq_retained WHERE topic = ?1",
    [S_RET_EXPIRED] = "SELECT topic FROM mq_retained WHERE expiry > 0 AND expiry <= ?1",
    [S_RET_DEL_EXPIRED] = "DELETE FROM mq_retained WHERE expiry > 0 AND expiry <= ?1",
    [S_SESS_PUT] = "INSERT INTO mq_sessions(cid, proto, expiry, disc) VALUES(?1, ?2, ?3, ?4)"
                   " ON CONFLICT(cid) DO UPDATE SET proto = excluded.proto,"
                   " expiry = excluded.expiry, disc = excluded.disc",
    [S_SESS_DEL] = "DELETE FROM mq_sessions WHERE cid = ?1",
    [S_SUB_DEL_ALL] = "DELETE FROM mq_subs WHERE cid = ?1",
    [S_MSG_DEL_ALL] = "DELETE FROM mq_smsgs WHERE cid = ?1",
    [S_Q2_DEL_ALL] = "DELETE FROM mq_qos2in WHERE cid = ?1",
    [S_SUB_PUT] = "INSERT OR REPLACE INTO mq_subs(cid, filter, qos, nl, rap, rh, subid)"
                  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_SUB_DEL] = "DELETE FROM mq_subs WHERE cid = ?1 AND filter = ?2",
    [S_MSG_PUT] = "INSERT OR REPLACE INTO mq_smsgs(cid, mid, state, pid, qos, retain, expiry,"
                  " topic, props, payload) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [S_MSG_SENT] = "UPDATE mq_smsgs SET state = ?3, pid = ?4 WHERE cid = ?1 AND mid = ?2",
    [S_MSG_REL] = "UPDATE mq_smsgs SET state = ?3, pid = ?4, topic = x'', props = x'',"
                  " payload = x'' WHERE cid = ?1 AND mid = ?2",
    [S_MSG_DEL] = "DELETE FROM mq_smsgs WHERE cid = ?1 AND mid = ?2",
    [S_Q2_ADD] = "INSERT OR IGNORE INTO mq_qos2in(cid, pid) VALUES(?1, ?2)",
    [S_Q2_DEL] = "DELETE FROM mq_qos2in WHERE cid = ?1 AND pid = ?2",
    [S_DEV_PUT] = "INSERT OR IGNORE INTO mq_devices(id) VALUES(?1)",
    [S_DEV_DEL] = "DELETE FROM mq_devices WHERE id = ?1",
    [S_DEVTAG_DEL] = "DELETE FROM mq_device_tags WHERE id = ?1",
    [S_DEVTAG_PUT] = "INSERT INTO mq_device_tags(id, k, v) VALUES(?1, ?2, ?3)",
};

/* ------------------------------------------------------------- helpers */

int mq__st_sql_err(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_CANTOPEN:
        return -ENOENT;
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return -EACCES;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return CN_ECORRUPT;
    default:
        return -EIO;
    }
}

/* Steps a write statement to completion and resets it. */
int mq__st_step_done(mq_store_t *st, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) {
        cn_error("store: %s: %s", sqlite3_sql(s), sqlite3_errmsg(st->db));
        return mq__st_sql_err(rc);
    }
    return 0;
}

int mq__st_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        cn_error("store: %s: %s", sql, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return mq__st_sql_err(rc);
    }
    return 0;
}

int64_t mq__st_now(const mq_store_t *st)
{
    return cn_clock_now(&st->o.clock);
}

mq_store_msg_t *mq__st_msg_new(const mq_store_t *st, const char *topic, size_t tlen,
                               const uint8_t *props, size_t plen, const uint8_t *payload,
                               size_t len, uint8_t qos, int64_t expiry_ns)
{
    mq_store_msg_t *m = cn_malloc(sizeof(*m) + tlen + plen + len);
    uint8_t *p = (uint8_t *)(m + 1);
    atomic_init(&m->refs_, 1);
    atomic_init(&m->ext_, NULL);
    m->ext_free_ = st->o.msg_ext_free;
    m->ext_bytes_ = 0;
    m->ext_acct_ = (atomic_size_t *)&st->ext_bytes;
    m->qos = qos;
    m->expiry_ns = expiry_ns;
    m->topic_len = (uint32_t)tlen;
    m->props_len = (uint32_t)plen;
    m->payload_len = (uint32_t)len;
    if (tlen)
        memcpy(p, topic, tlen);
    m->topic = (const char *)p;
    p += tlen;
    if (plen)
        memcpy(p, props, plen);
    m->props = p;
    p += plen;
    if (len)
        memcpy(p, payload, len);
    m->payload = p;
    return m;
}

size_t mq__st_msg_bytes(const mq_store_msg_t *m)
{
    return sizeof(*m) + m->topic_len + m->props_len + m->payload_len;
}

void mq_store_msg_ref(mq_store_msg_t *m)
{
    atomic_fetch_add_explicit(&m->refs_, 1, memory_order_relaxed);
}

void mq_store_msg_unref(mq_store_msg_t *m)
{
    if (m && atomic_fetch_sub_explicit(&m->refs_, 1, memory_order_acq_rel) == 1) {
        void *ext = atomic_load_explicit(&m->ext_, memory_order_acquire);
        if (ext) {
            m->ext_free_(ext);
            atomic_fetch_sub_explicit(m->ext_acct_, m->ext_bytes_, memory_order_relaxed);
        }
        cn_free(m);
    }
}

void *mq_store_msg_ext(mq_store_msg_t *m)
{
    return atomic_load_explicit(&m->ext_, memory_order_acquire);
}

void *mq_store_msg_ext_set(mq_store_msg_t *m, void *ext, size_t bytes)
{
    void *cur = NULL;
    if (!m->ext_free_ || !ext)
        return NULL;
    if (atomic_compare_exchange_strong_explicit(&m->ext_, &cur, ext, memory_order_acq_rel,
                                                memory_order_acquire)) {
        /* The caller holds a reference: the last unref, which reads
         * ext_bytes_, comes after this store (refs_ is acq_rel). */
        m->ext_bytes_ = bytes;
        atomic_fetch_add_explicit(m->ext_acct_, bytes, memory_order_relaxed);
        return ext;
    }
    return cur;
}

/* ------------------------------------------------------------- queue */

static void op_free(mq__st_op_t *op)
{
    mq_store_msg_unref(op->msg);
    cn_free(op);
}

mq__st_op_t *mq__st_op_new(uint8_t kind, const char *a, size_t alen, const char *b, size_t blen,
                           const uint8_t *c, size_t clen, const uint8_t *d, size_t dlen)
{
    mq__st_op_t *op = cn_calloc(1, sizeof(*op) + alen + blen + clen + dlen);
    uint8_t *p = op->data;
    op->kind = kind;
    op->bytes = sizeof(*op) + alen + blen + clen + dlen;
    op->a = (const char *)p;
    op->alen = alen;
    if (alen)
        memcpy(p, a, alen);
    p += alen;
    op->b = (const char *)p;
    op->blen = blen;
    if (blen)
        memcpy(p, b, blen);
    p += blen;
    op->c = p;
    op->clen = clen;
    if (clen)
        memcpy(p, c, clen);
    p += clen;
    op->d = p;
    op->dlen = dlen;
    if (dlen)
        memcpy(p, d, dlen);
    return op;
}

int64_t mq__st_enqueue(mq_store_t *st, mq__st_op_t *op)
{
    int64_t rc;
    int err = atomic_load(&st->err);
    if (err < 0) {
        op_free(op);
        return err;
    }
    pthread_mutex_lock(&st->mu);
    if (st->closing) {
        rc = CN_ECLOSED;
    } else if (st->qbytes > 0 && st->qbytes + op->bytes > st->o.queue_bytes) {
        rc = CN_EFULL;
    } else {
        op->seq = ++st->next_seq;
        rc = (int64_t)op->seq;
        st->qbytes += op->bytes;
        if (st->tail)
            st->tail->next = op;
        else
            st->head = op;
        st->tail = op;
        op = NULL;
        pthread_cond_signal(&st->cv_work);
    }
    pthread_mutex_unlock(&st->mu);
    if (op)
        op_free(op);
    return rc;
}

/* ------------------------------------------------------------- thread */

/* Notifies first, then publishes: whoever sees the new durable_seq (or
 * returns from mq_store_sync) knows durable_notify has run for it. */
static void publish_durable(mq_store_t *st, uint64_t seq)
{
    if (st->o.durable_notify)
        st->o.durable_notify(st->o.durable_arg, seq);
    pthread_mutex_lock(&st->mu);
    if (seq > atomic_load(&st->durable))
        atomic_store(&st->durable, seq);
    if (st->watch_fn)
        st->watch_fn(st->watch_arg, atomic_load(&st->durable));
    pthread_cond_broadcast(&st->cv_done);
    pthread_mutex_unlock(&st->mu);
}

static void fail(mq_store_t *st, int rc)
{
    int expect = 0;
    if (atomic_compare_exchange_strong(&st->err, &expect, rc))
        cn_error("store: %s: failed, no further writes are accepted", cn_strerror(rc));
    pthread_mutex_lock(&st->mu);
    if (st->watch_fn)
        st->watch_fn(st->watch_arg, atomic_load(&st->durable));
    pthread_cond_broadcast(&st->cv_done);
    pthread_mutex_unlock(&st->mu);
}

static int apply_write(mq_store_t *st, mq__st_op_t *op, bool *dev_changed)
{
    switch (op->kind) {
    case OP_RET_SET:
        return mq__st_ret_apply_set(st, op);
    case OP_RET_CLEAR:
        return mq__st_ret_apply_clear(st, op);
    case OP_SWEEP:
        return mq__st_ret_sweep(st);
    case OP_DEV_PUT:
    case OP_DEV_DEL:
        *dev_changed = true;
        return mq__st_dev_apply(st, op);
    default:
        return mq__st_sess_apply(st, op);
    }
}

/*
 * BEGIN IMMEDIATE takes the file's write lock up front, so nothing later in
 * the transaction can hit SQLITE_BUSY.  Another module writing its own
 * tables in the same file may hold that lock: the busy handler waits up to
 * 5 s per attempt and we keep retrying (the queue fills and callers see
 * CN_EFULL meanwhile) instead of failing the store for good.
 */
static int begin_txn(mq_store_t *st)
{
    for (unsigned tries = 1;; tries++) {
        sqlite3_stmt *s = st->stmt[S_BEGIN];
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc == SQLITE_DONE)
            return 0;
        if ((rc & 0xff) != SQLITE_BUSY) {
            cn_error("store: BEGIN: %s", sqlite3_errmsg(st->db));
            return mq__st_sql_err(rc);
        }
        if (tries == 1 || tries % 12 == 0)
            cn_warn("store: %s is locked by another connection; still waiting", st->path);
    }
}

/* Commits the open transaction and publishes `last` as durable. */
static int commit(mq_store_t *st, uint64_t last, bool *dev_changed)
{
    int rc = mq__st_step_done(st, st->stmt[S_COMMIT]);
    if (rc < 0) {
        mq__st_step_done(st, st->stmt[S_ROLLBACK]);
        return rc;
    }
    atomic_fetch_add_explicit(&st->st_commits, 1, memory_order_relaxed);
    if (*dev_changed) {
        *dev_changed = false;
        rc = mq__st_dev_rebuild(st);
        if (rc < 0)
            return rc;
    }
    publish_durable(st, last);
    return 0;
}

/* Applies a batch of ops in order (NOTES 4).  Called with db_mu held. */
static void run_batch(mq_store_t *st, mq__st_op_t *ops)
{
    bool txn = false, dev_changed = false;
    uint64_t last = 0;
    for (mq__st_op_t *op = ops; op; op = op->next) {
        int rc = atomic_load(&st->err);
        if (rc < 0) {
            if (op->kind == OP_RET_MATCH)
                op->cb(op->cb_arg, NULL, 0, true);
            continue;
        }
        atomic_fetch_add_explicit(&st->st_ops, 1, memory_order_relaxed);
        if (op->kind == OP_RET_MATCH) {
            if (txn) {
                txn = false;
                rc = commit(st, last, &dev_changed);
                if (rc < 0) {
                    fail(st, rc);
                    op->cb(op->cb_arg, NULL, 0, true);
                    continue;
                }
            }
            rc = mq__st_ret_match(st, op);
            if (rc < 0)
                fail(st, rc);
            else
                publish_durable(st, op->seq);
            continue;
        }
        if (!txn) {
            rc = begin_txn(st);
            if (rc < 0) {
                fail(st, rc);
                continue;
            }
            txn = true;
        }
        last = op->seq;
        rc = apply_write(st, op, &dev_changed);
        if (rc < 0) {
            mq__st_step_done(st, st->stmt[S_ROLLBACK]);
            txn = false;
            fail(st, rc);
        }
    }
    if (txn) {
        int rc = commit(st, last, &dev_changed);
        if (rc < 0)
            fail(st, rc);
    }
}

static void sweep_if_due(mq_store_t *st)
{
    int64_t now = cn_mono_ns();
    if (now < st->next_sweep_mono || atomic_load(&st->err) < 0)
        return;
    st->next_sweep_mono = now + st->o.sweep_interval_ns;
    if (st->exp_n == 0) /* no retained message has a deadline */
        return;
    mq__st_op_t op = {.kind = OP_SWEEP};
    bool dev = false;
    int rc = begin_txn(st);
    if (rc == 0) {
        rc = apply_write(st, &op, &dev);
        if (rc < 0)
            mq__st_step_done(st, st->stmt[S_ROLLBACK]);
        else
            rc = commit(st, atomic_load(&st->durable), &dev);
    }
    if (rc < 0)
        fail(st, rc);
}

static void *store_thread(void *arg)
{
    mq_store_t *st = arg;
    pthread_mutex_lock(&st->mu);
    for (;;) {
        while (!st->head && !st->closing && cn_mono_ns() < st->next_sweep_mono) {
            int64_t ns = st->next_sweep_mono;
            struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
            pthread_cond_timedwait(&st->cv_work, &st->mu, &ts);
        }
        if (!st->head && st->closing)
            break;
        /* Take at most batch_max ops off the head. */
        mq__st_op_t *ops = st->head, *end = ops;
        size_t bytes = 0;
        for (uint32_t n = 1; end && n < st->o.batch_max && end->next; n++)
            end = end->next;
        if (end) {
            st->head = end->next;
            if (!st->head)
                st->tail = NULL;
            end->next = NULL;
        }
        pthread_mutex_unlock(&st->mu);

        pthread_mutex_lock(&st->db_mu);
        if (ops)
            run_batch(st, ops);
        sweep_if_due(st);
        pthread_mutex_unlock(&st->db_mu);
        while (ops) {
            mq__st_op_t *next = ops->next;
            bytes += ops->bytes;
            op_free(ops);
            ops = next;
        }
        pthread_mutex_lock(&st->mu);
        st->qbytes -= bytes;
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

/* ------------------------------------------------------------- open/close */

void mq_store_opts_default(mq_store_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->cache_bytes = (size_t)64 << 20;
    o->queue_bytes = (size_t)64 << 20;
    o->db_cache_bytes = (size_t)8 << 20;
    o->batch_max = 4096;
    o->clock = cn_clock_system();
    o->sweep_interval_ns = 1000000000;
}

static int open_db(mq_store_t *st)
{
    int rc = sqlite3_open_v2(
        st->path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        cn_error("store: open %s: %s", st->path, st->db ? sqlite3_errmsg(st->db) : "");
        return mq__st_sql_err(rc);
    }
    sqlite3_busy_timeout(st->db, 5000);
    sqlite3_stmt *s = NULL;
    rc = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
    if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
        strcmp((const char *)sqlite3_column_text(s, 0), "wal") != 0)
        rc = SQLITE_CANTOPEN;
    sqlite3_finalize(s);
    if (rc != SQLITE_OK) {
        cn_error("store: %s: cannot use WAL mode: %s", st->path, sqlite3_errmsg(st->db));
        return mq__st_sql_err(rc);
    }
    char sql[160];
    snprintf(sql, sizeof(sql),
             "PRAGMA synchronous=%s; PRAGMA cache_size=-%zu; PRAGMA temp_store=MEMORY;",
             st->o.fsync ? "FULL" : "NORMAL", CN_MAX(st->o.db_cache_bytes / 1024, (size_t)64));
    rc = mq__st_exec(st->db, sql);
    if (rc < 0)
        return rc;
    rc = mq__st_exec(st->db, "BEGIN IMMEDIATE");
    if (rc < 0)
        return rc;
    rc = mq__st_exec(st->db, SCHEMA);
    if (rc == 0) {
        rc = sqlite3_prepare_v2(st->db, "SELECT v FROM mq_meta WHERE k = 'schema'", -1, &s, NULL);
        rc = rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW ? 0 : CN_ECORRUPT;
        if (rc == 0 && sqlite3_column_int64(s, 0) > SCHEMA_VERSION)
            rc = CN_EVERSION;
        sqlite3_finalize(s);
    }
    if (rc < 0) {
        mq__st_exec(st->db, "ROLLBACK");
        return rc;
    }
    rc = mq__st_exec(st->db, "COMMIT");
    for (int i = 0; rc == 0 && i < S__COUNT; i++) {
        int r = sqlite3_prepare_v3(st->db, STMT_SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i],
                                   NULL);
        if (r != SQLITE_OK) {
            cn_error("store: prepare %s: %s", STMT_SQL[i], sqlite3_errmsg(st->db));
            rc = mq__st_sql_err(r);
        }
    }
    return rc;
}

static void store_free(mq_store_t *st)
{
    mq__st_ret_free(st);
    mq__st_dev_free(st);
    mq__st_acct_free(st);
    for (int i = 0; i < S__COUNT; i++)
        sqlite3_finalize(st->stmt[i]);
    if (st->db && sqlite3_close(st->db) != SQLITE_OK)
        cn_error("store: close: %s", sqlite3_errmsg(st->db));
    pthread_mutex_destroy(&st->db_mu);
    pthread_mutex_destroy(&st->mu);
    pthread_mutex_destroy(&st->acct_mu);
    pthread_mutex_destroy(&st->dev_mu);
    pthread_cond_destroy(&st->cv_work);
    pthread_cond_destroy(&st->cv_done);
    cn_free(st->path);
    cn_free(st);
}

int mq_store_open(const mq_store_opts_t *o, mq_store_t **out)
{
    *out = NULL;
    if (!o || !o->path || !o->path[0] || o->batch_max == 0 || !o->clock.now_ns ||
        o->sweep_interval_ns <= 0)
        return CN_EINVAL;
    mq_store_t *st = cn_calloc(1, sizeof(*st));
    st->o = *o;
    st->path = cn_strdup(o->path);
    st->o.path = st->path;
    pthread_mutex_init(&st->db_mu, NULL);
    pthread_mutex_init(&st->mu, NULL);
    pthread_mutex_init(&st->acct_mu, NULL);
    pthread_mutex_init(&st->dev_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->cv_work, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&st->cv_done, NULL);

    int rc = open_db(st);
    if (rc == 0)
        rc = mq__st_ret_init(st);
    if (rc == 0)
        rc = mq__st_ret_load(st);
    if (rc == 0)
        rc = mq__st_dev_rebuild(st);
    if (rc == 0) {
        st->next_sweep_mono = cn_mono_ns() + st->o.sweep_interval_ns;
        rc = -pthread_create(&st->thr, NULL, store_thread, st);
        st->thr_started = rc == 0;
    }
    if (rc < 0) {
        store_free(st);
        return rc;
    }
    *out = st;
    return 0;
}

void mq_store_close(mq_store_t *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&st->mu);
    st->closing = true;
    pthread_cond_signal(&st->cv_work);
    pthread_mutex_unlock(&st->mu);
    if (st->thr_started)
        pthread_join(st->thr, NULL);
    store_free(st);
}

/* ------------------------------------------------------------- status */

void mq_store_watch(mq_store_t *st, void (*fn)(void *arg, uint64_t durable_seq), void *arg)
{
    pthread_mutex_lock(&st->mu);
    st->watch_fn = fn;
    st->watch_arg = arg;
    pthread_mutex_unlock(&st->mu);
}

uint64_t mq_store_durable_seq(const mq_store_t *st)
{
    return atomic_load(&((mq_store_t *)st)->durable);
}

int mq_store_error(const mq_store_t *st)
{
    return atomic_load(&((mq_store_t *)st)->err);
}

int mq_store_sync(mq_store_t *st, uint64_t seq)
{
    int rc = 0;
    pthread_mutex_lock(&st->mu);
    if (seq > st->next_seq)
        rc = CN_EINVAL;
    while (rc == 0 && atomic_load(&st->durable) < seq) {
        rc = atomic_load(&st->err);
        if (rc == 0)
            pthread_cond_wait(&st->cv_done, &st->mu);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

void mq_store_stats(const mq_store_t *cst, mq_store_stats_t *out)
{
    mq_store_t *st = (mq_store_t *)cst;
    out->cache_hits = atomic_load_explicit(&st->st_hits, memory_order_relaxed);
    out->cache_misses = atomic_load_explicit(&st->st_misses, memory_order_relaxed);
    out->cache_bytes = atomic_load_explicit(&st->st_cache_bytes, memory_order_relaxed);
    out->cache_msgs = atomic_load_explicit(&st->st_cache_msgs, memory_order_relaxed);
    out->commits = atomic_load_explicit(&st->st_commits, memory_order_relaxed);
    out->ops = atomic_load_explicit(&st->st_ops, memory_order_relaxed);
    out->expired = atomic_load_explicit(&st->st_expired, memory_order_relaxed);
}
