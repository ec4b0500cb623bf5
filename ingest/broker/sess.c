/* SPDX-License-Identifier: MIT */
/*
 * sess.c - sessions: the client-id table of a loop, attach (clean start,
 * resume, takeover) and detach (will, expiry), subscriptions, outgoing
 * QoS 1/2 state (in-flight window, queue, packet ids, resend), incoming
 * QoS 2 packet ids, wills with delay, session expiry, routing of a
 * message to its subscribers on every loop, and slow-subscriber
 * backpressure.  The state machine is drawn in broker_int.h.
 *
 * NOTES
 *  1. Per-subscriber order: a QoS 1/2 message is sent at once only when
 *     the session's queue is empty and the window has room; otherwise it
 *     goes to the end of the queue, which drains in order as acks arrive.
 *  2. Backpressure (broker.h "Slow subscribers"): a delivery to an online
 *     session whose queue is over max_queued/2 or whose connection has
 *     more than max_out_bytes/8 unsent pauses the publishing connection
 *     (PAUSE_SLOW; on another loop through IT_PAUSE_SLOW) and records it
 *     in s->x->waiters; the session releases its waiters when they fall below
 *     max_queued/4 and max_out_bytes/16, or when it goes offline or ends.
 */
#include "broker_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

/* ------------------------------------------------------- client id table */

static size_t cid_slot(const mq_loop_t *lp, uint64_t h)
{
    return (size_t)h & (lp->cid_cap - 1);
}

/* Not stored: idle sessions are kept small (README: memory per connection). */
static uint64_t cid_hash(const mq_sess_t *s)
{
    return cn_hash64(s->client_id, strlen(s->client_id));
}

mq_sess_t *mq__bk_sess_find(mq_loop_t *lp, const char *cid, size_t len)
{
    uint64_t h = cn_hash64(cid, len);
    for (mq_sess_t *s = lp->cid_tab[cid_slot(lp, h)]; s; s = s->cid_next)
        if (strlen(s->client_id) == len && !memcmp(s->client_id, cid, len))
            return s;
    return NULL;
}

static void cid_insert(mq_loop_t *lp, mq_sess_t *s)
{
    if (lp->cid_n + 1 > lp->cid_cap) {
        size_t cap = lp->cid_cap * 2;
        mq_sess_t **tab = cn_calloc(cap, sizeof *tab);
        for (size_t i = 0; i < lp->cid_cap; i++) {
            for (mq_sess_t *x = lp->cid_tab[i], *nx; x; x = nx) {
                nx = x->cid_next;
                size_t j = (size_t)cid_hash(x) & (cap - 1);
                x->cid_next = tab[j];
                tab[j] = x;
            }
        }
        cn_free(lp->cid_tab);
        lp->cid_tab = tab;
        lp->cid_cap = cap;
    }
    size_t i = cid_slot(lp, cid_hash(s));
    s->cid_next = lp->cid_tab[i];
    lp->cid_tab[i] = s;
    lp->cid_n++;
}

static void cid_remove(mq_loop_t *lp, mq_sess_t *s)
{
    for (mq_sess_t **pp = &lp->cid_tab[cid_slot(lp, cid_hash(s))]; *pp; pp = &(*pp)->cid_next) {
        if (*pp == s) {
            *pp = s->cid_next;
            lp->cid_n--;
            return;
        }
    }
}

/* ------------------------------------------------------------- queues */

static void ql_push(mq_qlist_t *l, uint32_t *n, mq_qmsg_t *q)
{
    q->next = NULL;
    if (l->tail)
        l->tail->next = q;
    else
        l->head = q;
    l->tail = q;
    ++*n;
}

static mq_qmsg_t *ql_pop(mq_qlist_t *l, uint32_t *n)
{
    mq_qmsg_t *q = l->head;
    if (!q)
        return NULL;
    l->head = q->next;
    if (!l->head)
        l->tail = NULL;
    --*n;
    return q;
}

static void qm_free(mq_qmsg_t *q)
{
    mq__bk_msg_unref(q->msg);
    cn_free(q);
}

static void ql_clear(mq_qlist_t *l, uint32_t *n)
{
    mq_qmsg_t *q;
    while ((q = ql_pop(l, n)))
        qm_free(q);
}

static mq_qmsg_t *qm_new(mq_msg_t *m, uint8_t qos, bool retain, const uint32_t *ids, uint32_t nids)
{
    if (nids > 255)
        nids = 255;
    mq_qmsg_t *q = cn_malloc(sizeof *q + nids * sizeof(uint32_t));
    q->next = NULL;
    q->msg = mq__bk_msg_ref(m);
    q->pid = 0;
    q->qos = qos;
    q->state = QM_QUEUED;
    q->retain = retain;
    q->nids = (uint8_t)nids;
    if (nids)
        memcpy(q->ids, ids, nids * sizeof(uint32_t));
    return q;
}

static uint16_t next_pid(mq_sess_t *s)
{
    for (;;) {
        if (++s->next_pid == 0)
            s->next_pid = 1;
        bool used = false;
        for (mq_qmsg_t *q = s->inflight.head; q && !used; q = q->next)
            used = q->pid == s->next_pid;
        if (!used)
            return s->next_pid;
    }
}

static uint32_t window(const mq_sess_t *s)
{
    uint32_t w = s->lp->b->o.max_inflight;
    return s->conn && s->conn->recv_max < w ? s->conn->recv_max : w;
}

static bool expired(const mq_sess_t *s, const mq_msg_t *m)
{
    return m->expire_at && mq__bk_now(s->lp->b) >= m->expire_at;
}

static bool online(const mq_sess_t *s)
{
    return s->conn && s->conn->state == CS_ONLINE;
}

/* Sends q (taken) now and puts it in flight; drops it when too large. */
/* Writes q (taken, pid assigned, state PUBLISHED) and puts it in flight;
 * drops it when it is too large for the client. */
static void send_inflight(mq_sess_t *s, mq_qmsg_t *q)
{
    if (mq__bk_conn_write_publish(s->conn, q->msg, q->qos, q->pid, q->retain, false, q->ids,
                                  q->nids) < 0) {
        CNT_ADD(s->lp, dropped, 1); /* over the client's Maximum Packet Size */
        mq__bk_p_msg_del(s, q);
        qm_free(q);
        return;
    }
    ql_push(&s->inflight, &s->n_inflight, q);
}

void mq__bk_sess_restore_msg(mq_sess_t *s, mq_qmsg_t *q)
{
    if (q->state == QM_QUEUED)
        ql_push(&s->queue, &s->n_queued, q);
    else
        ql_push(&s->inflight, &s->n_inflight, q);
}

void mq__bk_sess_drain(mq_sess_t *s)
{
    if (!online(s))
        return;
    uint32_t w = window(s);
    while (s->queue.head && s->n_inflight < w) {
        mq_qmsg_t *q = ql_pop(&s->queue, &s->n_queued);
        if (expired(s, q->msg)) {
            CNT_ADD(s->lp, expired, 1);
            mq__bk_p_msg_del(s, q);
            qm_free(q);
            continue;
        }
        q->pid = next_pid(s);
        q->state = QM_PUBLISHED;
        mq__bk_p_msg_state(s, q);
        send_inflight(s, q);
    }
    mq__bk_sess_release_waiters(s);
}

void mq__bk_sess_resend(mq_sess_t *s)
{
    for (mq_qmsg_t *q = s->inflight.head; q; q = q->next) {
        if (q->state == QM_RELEASED) {
            mq_pkt_t k;
            memset(&k, 0, sizeof k);
            k.type = MQ_PUBREL;
            k.u.ack.packet_id = q->pid;
            mq__bk_conn_put(s->conn, &k);
        } else {
            mq__bk_conn_write_publish(s->conn, q->msg, q->qos, q->pid, q->retain, true, q->ids,
                                      q->nids);
        }
    }
}

int mq__bk_sess_acked(mq_sess_t *s, uint8_t type, uint16_t pid, uint8_t reason)
{
    mq_qmsg_t *prev = NULL, *q = s->inflight.head;
    for (; q; prev = q, q = q->next)
        if (q->pid == pid)
            break;
    bool ok = q && ((type == MQ_PUBACK && q->qos == 1) ||
                    (type == MQ_PUBREC && q->qos == 2 && q->state == QM_PUBLISHED) ||
                    (type == MQ_PUBCOMP && q->state == QM_RELEASED));
    if (!ok)
        return CN_ENOTFOUND;
    if (type == MQ_PUBREC && reason < 0x80) {
        q->state = QM_RELEASED;
        mq__bk_msg_unref(q->msg);
        q->msg = NULL;
        mq__bk_p_msg_state(s, q);
        return 0;
    }
    if (prev)
        prev->next = q->next;
    else
        s->inflight.head = q->next;
    if (s->inflight.tail == q)
        s->inflight.tail = prev;
    s->n_inflight--;
    mq__bk_p_msg_del(s, q);
    qm_free(q);
    mq__bk_sess_drain(s);
    return type == MQ_PUBREC ? 1 : 0;
}

/* ------------------------------------------------------ incoming QoS 2 */

mq_sext_t *mq__bk_sext(mq_sess_t *s)
{
    if (!s->x)
        s->x = cn_calloc(1, sizeof *s->x);
    return s->x;
}

uint32_t mq__bk_qos2_count(const mq_sess_t *s)
{
    return s->x ? s->x->nqos2_in : 0;
}

bool mq__bk_qos2_has(mq_sess_t *s, uint16_t pid)
{
    for (uint32_t i = 0; i < mq__bk_qos2_count(s); i++)
        if (s->x->qos2_in[i] == pid)
            return true;
    return false;
}

void mq__bk_qos2_add(mq_sess_t *s, uint16_t pid)
{
    if (mq__bk_qos2_has(s, pid))
        return;
    mq_sext_t *x = mq__bk_sext(s);
    if (x->nqos2_in == x->qos2_cap) {
        x->qos2_cap = x->qos2_cap ? x->qos2_cap * 2 : 8;
        x->qos2_in = cn_realloc(x->qos2_in, x->qos2_cap * sizeof *x->qos2_in);
    }
    x->qos2_in[x->nqos2_in++] = pid;
}

bool mq__bk_qos2_del(mq_sess_t *s, uint16_t pid)
{
    mq_sext_t *x = s->x;
    for (uint32_t i = 0; x && i < x->nqos2_in; i++) {
        if (x->qos2_in[i] == pid) {
            x->qos2_in[i] = x->qos2_in[--x->nqos2_in];
            return true;
        }
    }
    return false;
}

/* -------------------------------------------------------- backpressure */

/* Returns false when conn already waits for s. */
static bool add_waiter(mq_sess_t *s, uint64_t conn)
{
    mq_sext_t *x = mq__bk_sext(s);
    for (uint32_t i = 0; i < x->nwaiters; i++)
        if (x->waiters[i] == conn)
            return false;
    if (x->nwaiters == x->waiters_cap) {
        x->waiters_cap = x->waiters_cap ? x->waiters_cap * 2 : 4;
        x->waiters = cn_realloc(x->waiters, x->waiters_cap * sizeof *x->waiters);
    }
    x->waiters[x->nwaiters++] = conn;
    return true;
}

static void pause_conn(mq_loop_t *lp, uint64_t conn, bool on)
{
    unsigned l = (unsigned)(conn >> MQ_LOOP_SHIFT);
    if (l == lp->idx) {
        mq_conn_t *c = mq__bk_conn_get(lp, conn);
        if (c) {
            if (on && !(c->pause & PAUSE_SLOW))
                CNT_ADD(lp, paused, 1);
            mq__bk_conn_set_pause(c, PAUSE_SLOW, on);
        }
        return;
    }
    mq_item_t *it = cn_calloc(1, sizeof *it);
    it->kind = on ? IT_PAUSE_SLOW : IT_RESUME_SLOW;
    it->target = conn;
    mq__bk_post(lp, l, it);
}

/* Pause above half the queue or an eighth of the output limit; release
 * below a quarter / a sixteenth.  The output thresholds sit far below the
 * QoS 0 drop limit because a publisher on another loop learns of its pause
 * one queue hop later and keeps being read meanwhile. */
static bool congested(const mq_sess_t *s, bool release)
{
    const mq_broker_opts_t *o = &s->lp->b->o;
    return s->n_queued > o->max_queued / (release ? 4 : 2) ||
           mq__bk_conn_unsent(s->conn) > o->max_out_bytes / (release ? 16 : 8);
}

void mq__bk_sess_release_waiters(mq_sess_t *s)
{
    mq_sext_t *x = s->x;
    if (!x || !x->nwaiters || s->lp->stopping)
        return;
    if (online(s) && congested(s, true))
        return;
    for (uint32_t i = 0; i < x->nwaiters; i++)
        pause_conn(s->lp, x->waiters[i], false);
    x->nwaiters = 0;
}

/* ------------------------------------------------------------- delivery */

void mq__bk_sess_deliver(mq_sess_t *s, mq_msg_t *m, uint8_t rqos, uint8_t flags,
                         const uint32_t *ids, uint32_t nids, uint64_t from)
{
    mq_loop_t *lp = s->lp;
    uint8_t qos = m->qos < rqos ? m->qos : rqos;
    bool retain = (flags & MQ_DELIV_RETAINED) ? true : (flags & MQ_ROUTE_RAP) ? m->retain : false;
    if (expired(s, m)) {
        CNT_ADD(lp, expired, 1);
        return;
    }
    bool on = online(s);
    if (on && from && from != s->conn->id && congested(s, false) && add_waiter(s, from))
        pause_conn(lp, from, true);
    if (qos == 0) {
        if (!on)
            return; /* QoS 0 is not queued for offline sessions */
        if (mq__bk_conn_unsent(s->conn) > lp->b->o.max_out_bytes) {
            CNT_ADD(lp, dropped_qos0, 1);
            return;
        }
        if (mq__bk_conn_write_publish(s->conn, m, 0, 0, retain, false, ids, nids) < 0)
            CNT_ADD(lp, dropped, 1);
        return;
    }
    if (s->n_queued >= lp->b->o.max_queued) {
        CNT_ADD(lp, dropped, 1);
        return;
    }
    mq_qmsg_t *q = qm_new(m, qos, retain, ids, nids);
    bool now = on && !s->queue.head && s->n_inflight < window(s);
    if (now) {
        q->pid = next_pid(s);
        q->state = QM_PUBLISHED;
    }
    if (mq__bk_p_msg_put(s, q) == CN_EFULL) {
        CNT_ADD(lp, dropped, 1); /* the store's per-session limit */
        qm_free(q);
        return;
    }
    if (now)
        send_inflight(s, q);
    else
        ql_push(&s->queue, &s->n_queued, q);
}

static void deliver_local(mq_loop_t *lp, const mq_route_t *r, mq_msg_t *m, uint64_t from)
{
    mq_sess_t *s = mq__bk_sess_get(lp, r->sub);
    if (s)
        mq__bk_sess_deliver(s, m, r->qos, r->flags, lp->res.ids + r->ids_off, r->nids, from);
}

void mq__bk_route(mq_loop_t *lp, mq_msg_t *m, mq_conn_t *from)
{
    const mq_bin_t t = m->pub.topic;
    int n = mq_router_match(lp->reader, (const char *)t.p, t.len, m->publisher, &lp->res);
    uint64_t fid = from ? from->id : 0;
    for (int i = 0; i < n; i++) {
        const mq_route_t *r = &lp->res.v[i];
        unsigned l = (unsigned)(r->sub >> MQ_LOOP_SHIFT);
        if (l == lp->idx) {
            deliver_local(lp, r, m, fid);
            continue;
        }
        mq_item_t *it = cn_malloc(sizeof *it + r->nids * sizeof(uint32_t));
        memset(it, 0, sizeof *it);
        it->kind = IT_DELIVER;
        it->target = r->sub;
        it->from = fid;
        it->qos = r->qos;
        it->flags = r->flags;
        it->msg = mq__bk_msg_ref(m);
        if (lp->pub_conn && m->qos && r->qos) /* it may reach a persistent session */
            it->ackw = mq__bk_ackw_for_post(lp);
        it->nids = r->nids;
        if (r->nids)
            memcpy(it->ids, lp->res.ids + r->ids_off, r->nids * sizeof(uint32_t));
        mq__bk_post(lp, l, it);
    }
}

void mq__bk_publish_will(mq_loop_t *lp, mq_msg_t *will)
{
    mq_broker_t *b = lp->b;
    int64_t now = mq__bk_now(b);
    if (will->pub.props.has & MQ_HAS(MQ_P_MESSAGE_EXPIRY))
        will->expire_at = now + (int64_t)will->pub.props.message_expiry * 1000000000LL;
    if (b->o.on_publish) {
        mq_msg_view_t v = {(const char *)will->pub.topic.p,
                           will->pub.topic.len,
                           will->pub.payload.p,
                           will->pub.payload.len,
                           will->qos,
                           will->retain,
                           lp->idx,
                           "",
                           &will->pub.props,
                           now};
        b->o.on_publish(b->o.hook_arg, &v, NULL);
    }
    if (will->retain)
        mq__bk_retain(b, will);
    mq__bk_route(lp, will, NULL);
}

/* ------------------------------------------------------- attach/detach */

mq_sess_t *mq__bk_sess_new(mq_loop_t *lp, const char *cid)
{
    mq_sess_t *s = cn_calloc(1, sizeof *s);
    s->lp = lp;
    s->client_id = cn_strdup(cid);
    s->id = ((uint64_t)lp->idx << MQ_LOOP_SHIFT) | ++lp->next_serial;
    cid_insert(lp, s);
    mq__bk_map_put(&lp->objs, s->id & MQ_SERIAL_MASK, s);
    CNT_ADD(lp, sessions, 1);
    return s;
}

void mq__bk_sess_destroy(mq_sess_t *s, bool publish_will)
{
    mq_loop_t *lp = s->lp;
    assert(!s->conn);
    mq_sext_t *x = s->x;
    if (x && x->will) {
        if (publish_will)
            mq__bk_publish_will(lp, x->will);
        mq__bk_msg_unref(x->will);
    }
    if (!lp->stopping)
        mq__bk_p_sess_del(s); /* at shutdown the store keeps it */
    mq_router_remove_subscriber(lp->b->router, s->id);
    for (mq_ssub_t *u = s->subs, *nx; u; u = nx) {
        nx = u->next;
        cn_free(u);
    }
    ql_clear(&s->inflight, &s->n_inflight);
    ql_clear(&s->queue, &s->n_queued);
    if (x) {
        cn_free(x->waiters);
        cn_free(x->qos2_in);
        cn_free(x);
    }
    cid_remove(lp, s);
    mq__bk_map_del(&lp->objs, s->id & MQ_SERIAL_MASK);
    CNT_SUB(lp, sessions, 1);
    cn_free(s->client_id);
    cn_free(s->user);
    cn_free(s);
}

int mq__bk_sess_attach(mq_conn_t *c, const mq_connect_t *ck, const char *cid, bool *present)
{
    mq_loop_t *lp = c->lp;
    const mq_broker_opts_t *o = &lp->b->o;
    size_t len = strlen(cid);
    mq_sess_t *s = mq__bk_sess_find(lp, cid, len);
    if (s && s->conn) {
        char a[64], b[64];
        cn_info("mqtt: client id %s taken over by %s (was %s)", cid, mq__bk_peer(c, a, sizeof a),
                mq__bk_peer(s->conn, b, sizeof b));
        mq__bk_conn_close(s->conn, 0x8E, true); /* session taken over */
        s = mq__bk_sess_find(lp, cid, len);     /* it ended if its expiry was 0 */
    }
    if (s && ck->clean_start) {
        mq__bk_sess_destroy(s, true);
        s = NULL;
    }
    *present = s != NULL;
    if (s) {
        if (s->x) {
            mq__bk_msg_unref(s->x->will); /* reconnected within the will delay */
            s->x->will = NULL;
        }
    } else {
        s = mq__bk_sess_new(lp, cid);
    }
    s->conn = c;
    c->sess = s;
    cn_free(s->user);
    s->user = ck->has_username ? cn_strndup((const char *)ck->username.p, ck->username.len) : NULL;
    if (ck->level == 5) {
        uint32_t e = ck->props.session_expiry;
        s->expiry = e > o->max_session_expiry ? o->max_session_expiry : e;
    } else {
        s->expiry = ck->clean_start ? 0 : MQ_NEVER;
    }
    mq__bk_p_sess_put(s, ck->level, true);
    return 0;
}

void mq__bk_sess_detach(mq_conn_t *c, bool publish_will)
{
    mq_sess_t *s = c->sess;
    mq_loop_t *lp = c->lp;
    c->sess = NULL;
    s->conn = NULL;
    mq_msg_t *will = c->will;
    c->will = NULL;
    if (will && publish_will) {
        uint32_t delay = c->will_delay < s->expiry ? c->will_delay : s->expiry;
        if (delay == 0) {
            mq__bk_publish_will(lp, will);
            mq__bk_msg_unref(will);
        } else {
            mq_sext_t *x = mq__bk_sext(s);
            x->will = will;
            x->will_at = cn_mono_ns() + (int64_t)delay * 1000000000LL;
        }
    } else {
        mq__bk_msg_unref(will);
    }
    uint32_t nw = s->x ? s->x->nwaiters : 0;
    if (s->x)
        s->x->nwaiters = 0;
    for (uint32_t i = 0; i < nw && !lp->stopping; i++)
        pause_conn(lp, s->x->waiters[i], false);
    if (s->expiry == 0) {
        mq__bk_sess_destroy(s, publish_will);
        return;
    }
    s->expire_at =
        s->expiry == MQ_NEVER ? INT64_MAX : cn_mono_ns() + (int64_t)s->expiry * 1000000000LL;
}

void mq__bk_sess_tick(mq_loop_t *lp, int64_t mono)
{
    /* A walk over every session once a second: cheaper in memory than an
     * offline list threaded through each session. */
    size_t n = mq__bk_objs(lp, false, &lp->scratch);
    mq_sess_t **v = (mq_sess_t **)(void *)lp->scratch.p;
    for (size_t i = 0; i < n; i++) {
        mq_sess_t *s = v[i];
        if (s->conn)
            continue;
        if (s->x && s->x->will && mono >= s->x->will_at) {
            mq_msg_t *w = s->x->will;
            s->x->will = NULL;
            mq__bk_publish_will(lp, w);
            mq__bk_msg_unref(w);
        }
        if (mono >= s->expire_at) {
            cn_debug("mqtt: session %s expired", s->client_id);
            mq__bk_sess_destroy(s, true);
        }
    }
}

/* --------------------------------------------------------- subscribing */

static void remember_sub(mq_sess_t *s, const char *f, size_t len, const mq_sub_opts_t *o)
{
    mq__bk_p_sub(s, f, len, o);
    for (mq_ssub_t *x = s->subs; x; x = x->next) {
        if (x->len == len && !memcmp(x->filter, f, len)) {
            x->opts = *o;
            return;
        }
    }
    mq_ssub_t *x = cn_malloc(sizeof *x + len + 1);
    x->opts = *o;
    x->len = (uint16_t)len;
    memcpy(x->filter, f, len);
    x->filter[len] = 0;
    x->next = s->subs;
    s->subs = x;
}

static void forget_sub(mq_sess_t *s, const char *f, size_t len)
{
    mq__bk_p_sub(s, f, len, NULL);
    for (mq_ssub_t **pp = &s->subs; *pp; pp = &(*pp)->next) {
        if ((*pp)->len == len && !memcmp((*pp)->filter, f, len)) {
            mq_ssub_t *x = *pp;
            *pp = x->next;
            cn_free(x);
            return;
        }
    }
}

static bool acl(mq_conn_t *c, const char *f, size_t len, int access)
{
    const mq_broker_opts_t *o = &c->lp->b->o;
    if (!o->acl)
        return true;
    return o->acl(o->hook_arg, c->sess->user, c->sess->client_id, f, len, access);
}

/* Subscribes one entry; returns the SUBACK code, or -1 after closing c. */
static int sub_one(mq_conn_t *c, const mq_sub_t *e, uint32_t sub_id, cn_buf_t *retained)
{
    mq_sess_t *s = c->sess;
    mq_bin_t group, filter = e->filter;
    mq_err_t err;
    int shared = mq_share_parse(e->filter.p, e->filter.len, &group, &filter, &err);
    if (!acl(c, (const char *)filter.p, filter.len, MQ_BROKER_ACL_SUBSCRIBE))
        return c->level == 5 ? 0x87 : 0x80;
    mq_sub_opts_t o = {e->qos, e->no_local, e->retain_as_published, e->retain_handling, sub_id};
    int rc =
        mq_router_subscribe(c->lp->b->router, s->id, (const char *)e->filter.p, e->filter.len, &o);
    if (rc == CN_EPROTO) {
        CNT_ADD(c->lp, proto_errors, 1); /* no-local on a shared subscription [MQTT-3.8.3-4] */
        mq__bk_conn_close(c, MQ_RC_PROTOCOL, true);
        return -1;
    }
    if (rc < 0)
        return c->level == 5 ? 0x8F : 0x80;
    remember_sub(s, (const char *)e->filter.p, e->filter.len, &o);
    cn_debug("mqtt: %s subscribed to %.*s (qos %u)", s->client_id, (int)e->filter.len,
             (const char *)e->filter.p, e->qos);
    bool send =
        c->level < 5 || e->retain_handling == 0 || (e->retain_handling == 1 && rc == MQ_ROUTER_NEW);
    if (send && shared != 1) {
        size_t before = retained->len;
        size_t n =
            mq__bk_ret_match(c->lp->b->retained, (const char *)filter.p, filter.len, retained);
        /* Each found message is followed by the granted QoS (as a pointer-sized slot). */
        mq_msg_t **v = (mq_msg_t **)(void *)(retained->p + before);
        cn_buf_t tmp;
        cn_buf_init(&tmp);
        for (size_t i = 0; i < n; i++) {
            uintptr_t q = e->qos;
            cn_buf_put(&tmp, &v[i], sizeof v[i]);
            cn_buf_put(&tmp, &q, sizeof q);
        }
        retained->len = before;
        cn_buf_put(retained, tmp.p, tmp.len);
        cn_buf_free(&tmp);
        /* With a store, the other retained messages come from it later
         * (IT_RETAINED, after this SUBACK). */
        mq__bk_p_retain_match(s, (const char *)filter.p, filter.len, e->qos, sub_id);
    }
    return e->qos;
}

void mq__bk_sess_restore_sub(mq_sess_t *s, const char *f, size_t len, const mq_sub_opts_t *o)
{
    if (mq_router_subscribe(s->lp->b->router, s->id, f, len, o) >= 0)
        remember_sub(s, f, len, o);
}

int64_t mq__bk_retain(mq_broker_t *b, mq_msg_t *m)
{
    int64_t seq = mq__bk_p_retain(b, m);
    if (seq == 0)
        mq__bk_ret_set(b->retained, m);
    return seq;
}

void mq__bk_sess_subscribe(mq_conn_t *c, const mq_subscribe_t *sub)
{
    uint32_t sub_id = 0;
    if (c->level == 5 && (sub->props.has & MQ_HAS(MQ_P_SUB_ID)))
        sub_id = sub->props.sub_id;
    cn_buf_t codes, *ret = &c->lp->scratch;
    cn_buf_init(&codes);
    ret->len = 0;
    mq_piter_t it = {0};
    mq_sub_t e;
    while (mq_subs_next(sub, MQ_SUBSCRIBE, &it, &e)) {
        int code = sub_one(c, &e, sub_id, ret);
        if (code < 0)
            break;
        cn_buf_put_u8(&codes, (uint8_t)code);
    }
    if (c->state == CS_CLOSING) {
        for (size_t off = 0; off < ret->len; off += 2 * sizeof(void *)) {
            mq_msg_t *m;
            memcpy(&m, ret->p + off, sizeof m);
            mq__bk_msg_unref(m);
        }
        cn_buf_free(&codes);
        return;
    }
    mq_pkt_t k;
    memset(&k, 0, sizeof k);
    k.type = MQ_SUBACK;
    k.u.suback.packet_id = sub->packet_id;
    k.u.suback.codes = (mq_bin_t){codes.p, codes.len};
    mq__bk_conn_put(c, &k);
    cn_buf_free(&codes);
    /* Retained messages after the SUBACK, with the subscription id. */
    size_t n = ret->len / (2 * sizeof(void *));
    uint8_t *copy = n ? cn_malloc(ret->len) : NULL;
    if (n)
        memcpy(copy, ret->p, ret->len);
    for (size_t i = 0; i < n; i++) {
        mq_msg_t *m;
        uintptr_t q;
        memcpy(&m, copy + i * 2 * sizeof(void *), sizeof m);
        memcpy(&q, copy + i * 2 * sizeof(void *) + sizeof(void *), sizeof q);
        if (c->sess)
            mq__bk_sess_deliver(c->sess, m, (uint8_t)q, MQ_DELIV_RETAINED, sub_id ? &sub_id : NULL,
                                sub_id ? 1 : 0, 0);
        mq__bk_msg_unref(m);
    }
    cn_free(copy);
}

void mq__bk_sess_unsubscribe(mq_conn_t *c, const mq_subscribe_t *sub)
{
    cn_buf_t codes;
    cn_buf_init(&codes);
    mq_piter_t it = {0};
    mq_sub_t e;
    while (mq_subs_next(sub, MQ_UNSUBSCRIBE, &it, &e)) {
        int rc = mq_router_unsubscribe(c->lp->b->router, c->sess->id, (const char *)e.filter.p,
                                       e.filter.len);
        forget_sub(c->sess, (const char *)e.filter.p, e.filter.len);
        cn_buf_put_u8(&codes, rc == 0 ? 0x00 : rc == CN_ENOTFOUND ? 0x11 : 0x8F);
    }
    mq_pkt_t k;
    memset(&k, 0, sizeof k);
    k.type = MQ_UNSUBACK;
    k.u.suback.packet_id = sub->packet_id;
    k.u.suback.codes = (mq_bin_t){codes.p, codes.len};
    mq__bk_conn_put(c, &k);
    cn_buf_free(&codes);
}
