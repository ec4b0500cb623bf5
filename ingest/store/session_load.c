/* SPDX-License-Identifier: MIT */
/*
 * session_load.c - mq_store_sessions_load: the startup pass over the
 * persistent sessions.  One transaction first ends what the downtime ended
 * (sessions still marked connected become disconnected now; sessions whose
 * expiry passed are deleted; queued messages past their message expiry are
 * dropped; rows of sessions that no longer exist are removed), then every
 * session is read back with its subscriptions, messages and QoS 2 ids and
 * handed to the caller, and the per-session accounting is rebuilt.
 */
#include "store_int.h"

static const char CLEANUP[] =
    "UPDATE mq_sessions SET disc = ?1 WHERE disc = 0;"
    "DELETE FROM mq_sessions WHERE expiry != 4294967295 AND disc + expiry * 1000000000 <= ?1;"
    "DELETE FROM mq_subs WHERE cid NOT IN (SELECT cid FROM mq_sessions);"
    "DELETE FROM mq_smsgs WHERE cid NOT IN (SELECT cid FROM mq_sessions);"
    "DELETE FROM mq_qos2in WHERE cid NOT IN (SELECT cid FROM mq_sessions);"
    "DELETE FROM mq_smsgs WHERE state = 0 AND expiry > 0 AND expiry <= ?1;";

/* Runs every statement of CLEANUP with ?1 = now. */
static int cleanup(mq_store_t *st, int64_t now)
{
    const char *sql = CLEANUP;
    while (*sql) {
        sqlite3_stmt *s = NULL;
        const char *tail = NULL;
        int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, &tail);
        if (rc != SQLITE_OK)
            return mq__st_sql_err(rc);
        sqlite3_bind_int64(s, 1, now);
        rc = sqlite3_step(s);
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE)
            return mq__st_sql_err(rc);
        sql = tail;
    }
    return 0;
}

typedef struct loader {
    sqlite3_stmt *sess, *subs, *msgs, *q2;
    /* Per-session arrays, reused. */
    const char **filters;
    size_t *flens;
    mq_sub_opts_t *opts;
    mq_store_smsg_t *m;
    uint16_t *pids;
    size_t cap_subs, cap_msgs, cap_pids;
} loader_t;

#define GROW(ptr, cap, n)                                                                          \
    do {                                                                                           \
        if ((n) >= (cap)) {                                                                        \
            (cap) = (cap) ? (cap)*2 : 16;                                                          \
            (ptr) = cn_realloc((ptr), (cap) * sizeof(*(ptr)));                                     \
        }                                                                                          \
    } while (0)

static int read_subs(loader_t *ld, mq_store_session_t *s)
{
    int rc;
    s->nsubs = 0;
    while ((rc = sqlite3_step(ld->subs)) == SQLITE_ROW) {
        GROW(ld->filters, ld->cap_subs, s->nsubs);
        ld->flens = cn_realloc(ld->flens, ld->cap_subs * sizeof(*ld->flens));
        ld->opts = cn_realloc(ld->opts, ld->cap_subs * sizeof(*ld->opts));
        size_t i = s->nsubs++;
        /* Column memory lasts only until the next step: copy. */
        ld->flens[i] = (size_t)sqlite3_column_bytes(ld->subs, 0);
        char *f = cn_malloc(ld->flens[i] + 1);
        memcpy(f, sqlite3_column_blob(ld->subs, 0), ld->flens[i]);
        ld->filters[i] = f;
        ld->opts[i] = (mq_sub_opts_t){
            .qos = (uint8_t)sqlite3_column_int(ld->subs, 1),
            .no_local = sqlite3_column_int(ld->subs, 2) != 0,
            .retain_as_published = sqlite3_column_int(ld->subs, 3) != 0,
            .retain_handling = (uint8_t)sqlite3_column_int(ld->subs, 4),
            .sub_id = (uint32_t)sqlite3_column_int64(ld->subs, 5),
        };
    }
    s->sub_filters = ld->filters;
    s->sub_lens = ld->flens;
    s->sub_opts = ld->opts;
    return rc == SQLITE_DONE ? 0 : mq__st_sql_err(rc);
}

static int read_msgs(loader_t *ld, mq_store_session_t *s, uint32_t *nmsgs, uint64_t *bytes)
{
    int rc;
    sqlite3_stmt *q = ld->msgs;
    s->nmsgs = 0;
    *bytes = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        GROW(ld->m, ld->cap_msgs, s->nmsgs);
        mq_store_smsg_t *m = &ld->m[s->nmsgs++];
        m->mid = (uint64_t)sqlite3_column_int64(q, 0);
        m->state = (uint8_t)sqlite3_column_int(q, 1);
        m->pid = (uint16_t)sqlite3_column_int(q, 2);
        m->qos = (uint8_t)sqlite3_column_int(q, 3);
        m->retain = sqlite3_column_int(q, 4) != 0;
        m->expiry_ns = sqlite3_column_int64(q, 5);
        /* Column memory lasts only until the next step: copy. */
        m->topic_len = (size_t)sqlite3_column_bytes(q, 6);
        m->props_len = (size_t)sqlite3_column_bytes(q, 7);
        m->payload_len = (size_t)sqlite3_column_bytes(q, 8);
        uint8_t *p = cn_malloc(m->topic_len + m->props_len + m->payload_len + 1);
        if (m->topic_len)
            memcpy(p, sqlite3_column_blob(q, 6), m->topic_len);
        if (m->props_len)
            memcpy(p + m->topic_len, sqlite3_column_blob(q, 7), m->props_len);
        if (m->payload_len)
            memcpy(p + m->topic_len + m->props_len, sqlite3_column_blob(q, 8), m->payload_len);
        m->topic = (const char *)p;
        m->props = p + m->topic_len;
        m->payload = p + m->topic_len + m->props_len;
        *bytes += mq_store_smsg_bytes(m);
    }
    s->msgs = ld->m;
    *nmsgs = (uint32_t)s->nmsgs;
    return rc == SQLITE_DONE ? 0 : mq__st_sql_err(rc);
}

static int read_pids(loader_t *ld, mq_store_session_t *s)
{
    int rc;
    s->nqos2 = 0;
    while ((rc = sqlite3_step(ld->q2)) == SQLITE_ROW) {
        GROW(ld->pids, ld->cap_pids, s->nqos2);
        ld->pids[s->nqos2++] = (uint16_t)sqlite3_column_int(ld->q2, 0);
    }
    s->qos2_pids = ld->pids;
    return rc == SQLITE_DONE ? 0 : mq__st_sql_err(rc);
}

static void free_rows(loader_t *ld, const mq_store_session_t *s)
{
    for (size_t i = 0; i < s->nsubs; i++)
        cn_free((void *)ld->filters[i]);
    for (size_t i = 0; i < s->nmsgs; i++)
        cn_free((void *)ld->m[i].topic);
}

/* Loads the session the `sess` statement is on and calls cb. */
static int load_one(mq_store_t *st, loader_t *ld, int (*cb)(void *, const mq_store_session_t *),
                    void *arg)
{
    mq_store_session_t s = {0};
    const void *cid = sqlite3_column_blob(ld->sess, 0);
    int n = sqlite3_column_bytes(ld->sess, 0);
    s.sess.client_id = cid;
    s.sess.client_id_len = (size_t)n;
    s.sess.proto = (uint8_t)sqlite3_column_int(ld->sess, 1);
    s.sess.expiry_s = (uint32_t)sqlite3_column_int64(ld->sess, 2);
    s.sess.disconnect_ns = sqlite3_column_int64(ld->sess, 3);
    sqlite3_stmt *q[] = {ld->subs, ld->msgs, ld->q2};
    for (size_t i = 0; i < CN_ARRAY_LEN(q); i++)
        sqlite3_bind_blob(q[i], 1, cid, n, SQLITE_STATIC);
    uint32_t nmsgs = 0;
    uint64_t bytes = 0;
    int rc = read_subs(ld, &s);
    if (rc == 0)
        rc = read_msgs(ld, &s, &nmsgs, &bytes);
    if (rc == 0)
        rc = read_pids(ld, &s);
    if (rc == 0 && nmsgs) {
        mq__st_acct_set(st, s.sess.client_id, s.sess.client_id_len, nmsgs, bytes);
    }
    if (rc == 0)
        rc = cb(arg, &s);
    free_rows(ld, &s);
    for (size_t i = 0; i < CN_ARRAY_LEN(q); i++) {
        sqlite3_reset(q[i]);
        sqlite3_clear_bindings(q[i]);
    }
    return rc;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **s)
{
    return mq__st_sql_err(sqlite3_prepare_v2(db, sql, -1, s, NULL));
}

int mq_store_sessions_load(mq_store_t *st, int (*cb)(void *arg, const mq_store_session_t *s),
                           void *arg)
{
    if (!cb)
        return CN_EINVAL;
    loader_t ld = {0};
    int rc, count = 0;
    pthread_mutex_lock(&st->db_mu);
    rc = mq__st_exec(st->db, "BEGIN IMMEDIATE");
    if (rc == 0) {
        rc = cleanup(st, mq__st_now(st));
        if (rc == 0)
            rc = mq__st_exec(st->db, "COMMIT");
        else
            mq__st_exec(st->db, "ROLLBACK");
    }
    if (rc == 0)
        rc = prepare(st->db, "SELECT cid, proto, expiry, disc FROM mq_sessions ORDER BY cid",
                     &ld.sess);
    if (rc == 0)
        rc = prepare(st->db,
                     "SELECT filter, qos, nl, rap, rh, subid FROM mq_subs WHERE cid = ?1"
                     " ORDER BY filter",
                     &ld.subs);
    if (rc == 0)
        rc = prepare(st->db,
                     "SELECT mid, state, pid, qos, retain, expiry, topic, props, payload"
                     " FROM mq_smsgs WHERE cid = ?1 ORDER BY mid",
                     &ld.msgs);
    if (rc == 0)
        rc = prepare(st->db, "SELECT pid FROM mq_qos2in WHERE cid = ?1 ORDER BY pid", &ld.q2);
    if (rc == 0) {
        pthread_mutex_lock(&st->acct_mu);
        mq__st_acct_free(st);
        pthread_mutex_unlock(&st->acct_mu);
    }
    while (rc == 0) {
        int r = sqlite3_step(ld.sess);
        if (r != SQLITE_ROW) {
            rc = r == SQLITE_DONE ? 0 : mq__st_sql_err(r);
            break;
        }
        rc = load_one(st, &ld, cb, arg);
        count++;
    }
    sqlite3_finalize(ld.sess);
    sqlite3_finalize(ld.subs);
    sqlite3_finalize(ld.msgs);
    sqlite3_finalize(ld.q2);
    pthread_mutex_unlock(&st->db_mu);
    cn_free(ld.filters);
    cn_free(ld.flens);
    cn_free(ld.opts);
    cn_free(ld.m);
    cn_free(ld.pids);
    return rc < 0 ? rc : count;
}
