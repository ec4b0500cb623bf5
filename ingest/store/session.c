/* SPDX-License-Identifier: MIT */
/*
 * session.c - persistent MQTT sessions: the write-through operations the
 * broker queues (header, subscriptions, outgoing messages, incoming QoS 2
 * ids), the per-session message accounting behind session_max_msgs /
 * session_max_bytes, and the startup load.
 *
 * The accounting lives in memory (client id -> stored messages and bytes)
 * so mq_store_msg_put can refuse synchronously, on the caller's thread,
 * without waiting for the store thread.  It is rebuilt by
 * mq_store_sessions_load and follows every put/del/session_del as queued
 * (not as committed), which is what the limit is about: memory and disk
 * the session will use.
 *
 * NOTES
 *  1. An acct entry exists for a client id while it has stored messages
 *     counted; it is removed when the session is deleted.
 *  2. Operations on sessions, subscriptions and messages do not check that
 *     the session header exists; orphans (for example a message put after
 *     its session was deleted) are removed by the next load.
 */
#include "store_int.h"

struct mq__st_acct {
    mq__st_acct_t *next;
    uint64_t h;
    uint32_t msgs;
    uint64_t bytes;
    size_t len;
    char cid[];
};

/* ----------------------------------------------------------- accounting */

static mq__st_acct_t **acct_slot(mq_store_t *st, const char *cid, size_t len, uint64_t h)
{
    mq__st_acct_t **pp = &st->acct[h & (st->acct_nb - 1)];
    while (*pp && !((*pp)->h == h && (*pp)->len == len && memcmp((*pp)->cid, cid, len) == 0))
        pp = &(*pp)->next;
    return pp;
}

static void acct_grow(mq_store_t *st)
{
    size_t nb = st->acct_nb ? st->acct_nb * 2 : 64;
    mq__st_acct_t **b = cn_calloc(nb, sizeof(*b));
    for (size_t i = 0; i < st->acct_nb; i++) {
        for (mq__st_acct_t *e = st->acct[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->h & (nb - 1)];
            b[e->h & (nb - 1)] = e;
        }
    }
    cn_free(st->acct);
    st->acct = b;
    st->acct_nb = nb;
}

/* The entry for cid (created when `create`), acct_mu held. */
static mq__st_acct_t *acct_get(mq_store_t *st, const char *cid, size_t len, bool create)
{
    if (!st->acct_nb) {
        if (!create)
            return NULL;
        acct_grow(st);
    }
    uint64_t h = cn_hash64(cid, len);
    mq__st_acct_t **pp = acct_slot(st, cid, len, h);
    if (*pp || !create)
        return *pp;
    if (st->acct_n >= st->acct_nb) {
        acct_grow(st);
        pp = acct_slot(st, cid, len, h);
    }
    mq__st_acct_t *e = cn_calloc(1, sizeof(*e) + len);
    e->h = h;
    e->len = len;
    memcpy(e->cid, cid, len);
    *pp = e;
    st->acct_n++;
    return e;
}

static void acct_remove(mq_store_t *st, const char *cid, size_t len)
{
    if (!st->acct_nb)
        return;
    mq__st_acct_t **pp = acct_slot(st, cid, len, cn_hash64(cid, len));
    if (*pp) {
        mq__st_acct_t *e = *pp;
        *pp = e->next;
        cn_free(e);
        st->acct_n--;
    }
}

void mq__st_acct_free(mq_store_t *st)
{
    for (size_t i = 0; i < st->acct_nb; i++) {
        for (mq__st_acct_t *e = st->acct[i], *next; e; e = next) {
            next = e->next;
            cn_free(e);
        }
    }
    cn_free(st->acct);
    st->acct = NULL;
    st->acct_nb = st->acct_n = 0;
}

void mq__st_acct_set(mq_store_t *st, const char *cid, size_t len, uint32_t msgs, uint64_t bytes)
{
    pthread_mutex_lock(&st->acct_mu);
    mq__st_acct_t *e = acct_get(st, cid, len, true);
    e->msgs = msgs;
    e->bytes = bytes;
    pthread_mutex_unlock(&st->acct_mu);
}

void mq_store_msg_usage(mq_store_t *st, const char *cid, size_t cid_len, uint32_t *msgs,
                        uint64_t *bytes)
{
    pthread_mutex_lock(&st->acct_mu);
    mq__st_acct_t *e = acct_get(st, cid, cid_len, false);
    *msgs = e ? e->msgs : 0;
    *bytes = e ? e->bytes : 0;
    pthread_mutex_unlock(&st->acct_mu);
}

/* --------------------------------------------------------------- apply */

static void bind_cid(sqlite3_stmt *s, const mq__st_op_t *op)
{
    sqlite3_bind_blob(s, 1, op->a, (int)op->alen, SQLITE_STATIC);
}

static int apply_sess_del(mq_store_t *st, const mq__st_op_t *op)
{
    static const int del[] = {S_SESS_DEL, S_SUB_DEL_ALL, S_MSG_DEL_ALL, S_Q2_DEL_ALL};
    for (size_t i = 0; i < CN_ARRAY_LEN(del); i++) {
        bind_cid(st->stmt[del[i]], op);
        int rc = mq__st_step_done(st, st->stmt[del[i]]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int mq__st_sess_apply(mq_store_t *st, mq__st_op_t *op)
{
    sqlite3_stmt *s;
    switch (op->kind) {
    case OP_SESS_PUT:
        s = st->stmt[S_SESS_PUT];
        bind_cid(s, op);
        sqlite3_bind_int(s, 2, op->proto);
        sqlite3_bind_int64(s, 3, op->expiry_s);
        sqlite3_bind_int64(s, 4, op->disc_ns);
        break;
    case OP_SESS_DEL:
        return apply_sess_del(st, op);
    case OP_SUB_PUT:
        s = st->stmt[S_SUB_PUT];
        bind_cid(s, op);
        sqlite3_bind_blob(s, 2, op->b, (int)op->blen, SQLITE_STATIC);
        sqlite3_bind_int(s, 3, op->opts.qos);
        sqlite3_bind_int(s, 4, op->opts.no_local);
        sqlite3_bind_int(s, 5, op->opts.retain_as_published);
        sqlite3_bind_int(s, 6, op->opts.retain_handling);
        sqlite3_bind_int64(s, 7, op->opts.sub_id);
        break;
    case OP_SUB_DEL:
        s = st->stmt[S_SUB_DEL];
        bind_cid(s, op);
        sqlite3_bind_blob(s, 2, op->b, (int)op->blen, SQLITE_STATIC);
        break;
    case OP_MSG_PUT:
        s = st->stmt[S_MSG_PUT];
        bind_cid(s, op);
        sqlite3_bind_int64(s, 2, (int64_t)op->mid);
        sqlite3_bind_int(s, 3, op->state);
        sqlite3_bind_int(s, 4, op->pid);
        sqlite3_bind_int(s, 5, op->qos);
        sqlite3_bind_int(s, 6, op->retain);
        sqlite3_bind_int64(s, 7, op->expiry_ns);
        sqlite3_bind_blob(s, 8, op->b, (int)op->blen, SQLITE_STATIC);
        sqlite3_bind_blob(s, 9, op->c, (int)op->clen, SQLITE_STATIC);
        sqlite3_bind_blob(s, 10, op->d, (int)op->dlen, SQLITE_STATIC);
        break;
    case OP_MSG_STATE:
        s = st->stmt[op->state == MQ_SMSG_PUBREL_SENT ? S_MSG_REL : S_MSG_SENT];
        bind_cid(s, op);
        sqlite3_bind_int64(s, 2, (int64_t)op->mid);
        sqlite3_bind_int(s, 3, op->state);
        sqlite3_bind_int(s, 4, op->pid);
        break;
    case OP_MSG_DEL:
        s = st->stmt[S_MSG_DEL];
        bind_cid(s, op);
        sqlite3_bind_int64(s, 2, (int64_t)op->mid);
        break;
    case OP_Q2_ADD:
    case OP_Q2_DEL:
        s = st->stmt[op->kind == OP_Q2_ADD ? S_Q2_ADD : S_Q2_DEL];
        bind_cid(s, op);
        sqlite3_bind_int(s, 2, op->pid);
        break;
    default:
        return CN_EINVAL;
    }
    return mq__st_step_done(st, s);
}

/* ------------------------------------------------------------ public API */

static bool cid_ok(const char *cid, size_t len)
{
    return cid && len > 0 && len <= 65535;
}

int64_t mq_store_session_put(mq_store_t *st, const mq_store_sess_t *s)
{
    if (!s || !cid_ok(s->client_id, s->client_id_len) || s->proto < 3 || s->proto > 5 ||
        s->disconnect_ns < 0)
        return CN_EINVAL;
    mq__st_op_t *op =
        mq__st_op_new(OP_SESS_PUT, s->client_id, s->client_id_len, NULL, 0, NULL, 0, NULL, 0);
    op->proto = s->proto;
    op->expiry_s = s->expiry_s;
    op->disc_ns = s->disconnect_ns;
    return mq__st_enqueue(st, op);
}

int64_t mq_store_session_del(mq_store_t *st, const char *cid, size_t cid_len)
{
    if (!cid_ok(cid, cid_len))
        return CN_EINVAL;
    int64_t rc =
        mq__st_enqueue(st, mq__st_op_new(OP_SESS_DEL, cid, cid_len, NULL, 0, NULL, 0, NULL, 0));
    if (rc > 0) {
        pthread_mutex_lock(&st->acct_mu);
        acct_remove(st, cid, cid_len);
        pthread_mutex_unlock(&st->acct_mu);
    }
    return rc;
}

int64_t mq_store_sub_put(mq_store_t *st, const char *cid, size_t cid_len, const char *filter,
                         size_t flen, const mq_sub_opts_t *opts)
{
    if (!cid_ok(cid, cid_len) || !opts || !mq_router_filter_valid(filter, flen) || opts->qos > 2 ||
        opts->retain_handling > 2 || opts->sub_id > MQ_SUB_ID_MAX)
        return CN_EINVAL;
    mq__st_op_t *op = mq__st_op_new(OP_SUB_PUT, cid, cid_len, filter, flen, NULL, 0, NULL, 0);
    op->opts = *opts;
    return mq__st_enqueue(st, op);
}

int64_t mq_store_sub_del(mq_store_t *st, const char *cid, size_t cid_len, const char *filter,
                         size_t flen)
{
    if (!cid_ok(cid, cid_len) || !mq_router_filter_valid(filter, flen))
        return CN_EINVAL;
    return mq__st_enqueue(st,
                          mq__st_op_new(OP_SUB_DEL, cid, cid_len, filter, flen, NULL, 0, NULL, 0));
}

int64_t mq_store_msg_put(mq_store_t *st, const char *cid, size_t cid_len, const mq_store_smsg_t *m)
{
    if (!cid_ok(cid, cid_len) || !m || m->qos < 1 || m->qos > 2 || m->state > MQ_SMSG_PUBREL_SENT ||
        (m->state != MQ_SMSG_QUEUED && m->pid == 0) ||
        (m->state == MQ_SMSG_PUBREL_SENT && m->qos != 2) ||
        (m->state != MQ_SMSG_PUBREL_SENT && !mq_router_topic_valid(m->topic, m->topic_len)) ||
        m->payload_len > UINT32_MAX || m->props_len > UINT32_MAX)
        return CN_EINVAL;
    uint64_t bytes = mq_store_smsg_bytes(m);
    int64_t rc = 0;
    pthread_mutex_lock(&st->acct_mu);
    mq__st_acct_t *e = acct_get(st, cid, cid_len, true);
    if ((st->o.session_max_msgs && e->msgs + 1 > st->o.session_max_msgs) ||
        (st->o.session_max_bytes && e->bytes + bytes > st->o.session_max_bytes))
        rc = CN_EFULL;
    if (rc == 0) {
        mq__st_op_t *op = mq__st_op_new(OP_MSG_PUT, cid, cid_len, m->topic, m->topic_len, m->props,
                                        m->props_len, m->payload, m->payload_len);
        op->mid = m->mid;
        op->state = m->state;
        op->qos = m->qos;
        op->retain = m->retain;
        op->pid = m->pid;
        op->expiry_ns = m->expiry_ns;
        /* Enqueue under acct_mu so two threads cannot both pass the check. */
        rc = mq__st_enqueue(st, op);
        if (rc > 0) {
            e->msgs++;
            e->bytes += bytes;
        }
    }
    pthread_mutex_unlock(&st->acct_mu);
    return rc;
}

int64_t mq_store_msg_state(mq_store_t *st, const char *cid, size_t cid_len, uint64_t mid,
                           uint8_t state, uint16_t pid)
{
    if (!cid_ok(cid, cid_len) || (state != MQ_SMSG_PUBLISH_SENT && state != MQ_SMSG_PUBREL_SENT) ||
        pid == 0)
        return CN_EINVAL;
    mq__st_op_t *op = mq__st_op_new(OP_MSG_STATE, cid, cid_len, NULL, 0, NULL, 0, NULL, 0);
    op->mid = mid;
    op->state = state;
    op->pid = pid;
    return mq__st_enqueue(st, op);
}

int64_t mq_store_msg_del(mq_store_t *st, const char *cid, size_t cid_len, uint64_t mid,
                         uint64_t bytes)
{
    if (!cid_ok(cid, cid_len))
        return CN_EINVAL;
    mq__st_op_t *op = mq__st_op_new(OP_MSG_DEL, cid, cid_len, NULL, 0, NULL, 0, NULL, 0);
    op->mid = mid;
    int64_t rc = mq__st_enqueue(st, op);
    if (rc > 0) {
        pthread_mutex_lock(&st->acct_mu);
        mq__st_acct_t *e = acct_get(st, cid, cid_len, false);
        if (e) {
            e->msgs -= e->msgs ? 1 : 0;
            e->bytes -= CN_MIN(e->bytes, bytes);
        }
        pthread_mutex_unlock(&st->acct_mu);
    }
    return rc;
}

static int64_t q2(mq_store_t *st, uint8_t kind, const char *cid, size_t cid_len, uint16_t pid)
{
    if (!cid_ok(cid, cid_len) || pid == 0)
        return CN_EINVAL;
    mq__st_op_t *op = mq__st_op_new(kind, cid, cid_len, NULL, 0, NULL, 0, NULL, 0);
    op->pid = pid;
    return mq__st_enqueue(st, op);
}

int64_t mq_store_qos2_add(mq_store_t *st, const char *cid, size_t cid_len, uint16_t pid)
{
    return q2(st, OP_Q2_ADD, cid, cid_len, pid);
}

int64_t mq_store_qos2_del(mq_store_t *st, const char *cid, size_t cid_len, uint16_t pid)
{
    return q2(st, OP_Q2_DEL, cid, cid_len, pid);
}
