/* SPDX-License-Identifier: MIT */
/*
 * persist.c - write-through of broker state to the metadata store
 * (ingest/store/store.h) and its reload at startup: persistent sessions,
 * their subscriptions, outgoing QoS 1/2 messages and incoming QoS 2 packet
 * ids, and retained messages.
 *
 * NOTES
 *  1. Only persistent sessions (expiry > 0) are stored (s->stored); a
 *     clean session never touches the store.
 *  2. Message format.  The store keeps a message as opaque "props" bytes
 *     plus the payload; cairn puts there the encoded MQTT 5 PUBLISH header
 *     (fixed header, topic, packet id, properties, with a Remaining Length
 *     that counts the payload), so header + payload is one valid PUBLISH
 *     that mq_publish_decode reads back with every property (user
 *     properties, content type, ...).  Version: the blob is MQTT 5 wire
 *     format, which does not change.
 *  3. Calls only enqueue (store.h THREADS): nothing here blocks a loop,
 *     except mq__bk_p_load, which runs before the loops start.
 *  4. Retained lookups for a new subscription are answered on the store
 *     thread; the messages travel to the session's loop as IT_RETAINED
 *     items and are delivered there (after the SUBACK, which was queued
 *     first).  One copy is shared by all subscribers: the broker form
 *     (mq_msg_t) of a store message is built on its first delivery and
 *     attached to the cached store message (mq_store_msg_ext_set, freed
 *     through opts.msg_ext_free = mq_broker_msg_ext_free), so later
 *     deliveries and every session queue take references to it; it goes
 *     once the cache evicted the store message and the last delivery is
 *     done.  The broker form's size counts against the store's cache
 *     budget (mqtt-retained-cache) while the store message lives, so the
 *     budget bounds both forms.  $SYS/... retained messages stay in memory (msg.c): they
 *     change every few seconds and mean nothing after a restart.
 *  5. Acknowledgements wait for the store.  A QoS 1/2 PUBLISH is
 *     acknowledged (PUBACK/PUBREC) only once the store committed every
 *     write it caused: its retained message, and the queue insert for
 *     each persistent session it reached, on whichever loop that session
 *     lives; and, independently, once the ingest hook acknowledged it
 *     (mq_broker_ack).  The bookkeeping is one mq_ackw_t per such PUBLISH,
 *     created lazily (never while no session is persistent and the message
 *     is not retained), with an atomic count of what it waits for:
 *       - the routing on the publisher's loop (ackw_begin .. ackw_end);
 *       - each IT_DELIVER posted to another loop (item->ackw), dropped
 *         after that loop delivered it;
 *       - each store seq a loop waits for (lp->waits, a ring in seq order:
 *         one loop's store calls get increasing seqs).
 *     The store thread's watcher (mq__bk_store_durable) wakes the loops
 *     that wait (lp->dur_want set) through lp->dur_async; a loop releases
 *     the waits whose seq is durable.  The last release posts IT_STORED to
 *     the publisher's loop, where the pending ack (conn.c) is sent once the
 *     hook's ack is there too, in publish order.  dur_want and the durable
 *     seq form a Dekker pair (both seq_cst): the loop sets dur_want before
 *     reading the durable seq in its check phase, the store publishes the
 *     seq before reading dur_want, so one of them sees the other.  A store
 *     write that fails (sticky store failure) makes the ack negative
 *     (0x80; at 3.1.1 the connection is closed); a delivery dropped by a
 *     session limit (CN_EFULL) is counted and not waited for.
 *     Not covered: a session that becomes persistent between the routing
 *     of a message and its delivery on another loop (n_stored was 0).
 */
#include "broker_int.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>

static mq_store_t *store_of(const mq_sess_t *s)
{
    return s->lp->b->o.store;
}

static void warn_rc(const char *what, int64_t rc)
{
    if (rc < 0)
        cn_warn("mqtt: store %s failed: %s", what, cn_strerror((int)rc));
}

/* ------------------------------------------------------------- blobs */

static void blob(const mq_msg_t *m, cn_buf_t *out)
{
    mq_publish_t p = m->pub;
    p.qos = m->qos;
    p.packet_id = m->qos ? 1 : 0;
    p.retain = m->retain;
    p.dup = false;
    out->len = 0;
    mq_publish_encode_header(out, 5, &p);
}

/* A message from a stored blob + payload; NULL when the blob is not a
 * PUBLISH header (a damaged row is skipped, not fatal). */
static mq_msg_t *unblob(const uint8_t *hdr, size_t hlen, const uint8_t *pl, size_t plen,
                        int64_t expiry_ns)
{
    uint8_t *buf = cn_malloc(hlen + plen + 1);
    memcpy(buf, hdr, hlen);
    if (plen)
        memcpy(buf + hlen, pl, plen);
    mq_frame_t f;
    mq_err_t e;
    mq_publish_t p;
    mq_msg_t *m = NULL;
    if (mq_split(buf, hlen + plen, 0, &f, &e) == 1 && f.total == hlen + plen &&
        f.type == MQ_PUBLISH && mq_publish_decode(&f, 5, MQ_FROM_SERVER, &p, &e) == 0) {
        m = mq__bk_msg_new(p.topic.p, p.topic.len, &p, f.body, f.body_len, 0);
        m->expire_at = expiry_ns;
    }
    cn_free(buf);
    return m;
}

/* ----------------------------------------------------------- sessions */

void mq__bk_p_sess_put(mq_sess_t *s, uint8_t level, bool connected)
{
    mq_store_t *st = store_of(s);
    if (!st)
        return;
    if (s->expiry == 0) {
        mq__bk_p_sess_del(s);
        return;
    }
    mq_store_sess_t h = {s->client_id, strlen(s->client_id), level, s->expiry,
                         connected ? 0 : mq__bk_now(s->lp->b)};
    if (h.disconnect_ns == 0 && !connected)
        h.disconnect_ns = 1;
    warn_rc("session put", mq_store_session_put(st, &h));
    if (!s->stored)
        atomic_fetch_add(&s->lp->b->n_stored, 1);
    s->stored = true;
}

void mq__bk_p_sess_del(mq_sess_t *s)
{
    mq_store_t *st = store_of(s);
    if (!st || !s->stored)
        return;
    warn_rc("session delete", mq_store_session_del(st, s->client_id, strlen(s->client_id)));
    atomic_fetch_sub(&s->lp->b->n_stored, 1);
    s->stored = false;
}

void mq__bk_p_sub(mq_sess_t *s, const char *f, size_t len, const mq_sub_opts_t *o)
{
    mq_store_t *st = store_of(s);
    if (!st || !s->stored)
        return;
    size_t cl = strlen(s->client_id);
    if (o)
        warn_rc("subscription put", mq_store_sub_put(st, s->client_id, cl, f, len, o));
    else
        warn_rc("subscription delete", mq_store_sub_del(st, s->client_id, cl, f, len));
}

int mq__bk_p_msg_put(mq_sess_t *s, mq_qmsg_t *q)
{
    mq_store_t *st = store_of(s);
    if (!st || !s->stored)
        return 0;
    cn_buf_t *b = &s->lp->scratch_blob;
    blob(q->msg, b);
    mq_store_smsg_t m = {0};
    m.mid = ++s->next_mid;
    m.state = q->state == QM_QUEUED ? MQ_SMSG_QUEUED : MQ_SMSG_PUBLISH_SENT;
    m.qos = q->qos;
    m.retain = q->retain;
    m.pid = q->pid;
    m.expiry_ns = q->msg->expire_at;
    m.topic = (const char *)q->msg->pub.topic.p;
    m.topic_len = q->msg->pub.topic.len;
    m.props = b->p;
    m.props_len = b->len;
    m.payload = q->msg->pub.payload.p;
    m.payload_len = q->msg->pub.payload.len;
    int64_t rc = mq_store_msg_put(st, s->client_id, strlen(s->client_id), &m);
    if (rc == CN_EFULL)
        return CN_EFULL;
    warn_rc("message put", rc);
    mq__bk_ackw_wait(s->lp, rc);
    if (rc >= 0) {
        q->mid = m.mid;
        q->pbytes = (uint32_t)mq_store_smsg_bytes(&m);
    }
    return 0;
}

void mq__bk_p_msg_state(mq_sess_t *s, const mq_qmsg_t *q)
{
    mq_store_t *st = store_of(s);
    if (!st || !q->mid)
        return;
    uint8_t state = q->state == QM_RELEASED ? MQ_SMSG_PUBREL_SENT : MQ_SMSG_PUBLISH_SENT;
    warn_rc("message state",
            mq_store_msg_state(st, s->client_id, strlen(s->client_id), q->mid, state, q->pid));
}

void mq__bk_p_msg_del(mq_sess_t *s, const mq_qmsg_t *q)
{
    mq_store_t *st = store_of(s);
    if (!st || !q->mid || !s->stored)
        return;
    warn_rc("message delete",
            mq_store_msg_del(st, s->client_id, strlen(s->client_id), q->mid, q->pbytes));
}

void mq__bk_p_qos2(mq_sess_t *s, uint16_t pid, bool add)
{
    mq_store_t *st = store_of(s);
    if (!st || !s->stored)
        return;
    size_t cl = strlen(s->client_id);
    warn_rc("qos2 id", add ? mq_store_qos2_add(st, s->client_id, cl, pid)
                           : mq_store_qos2_del(st, s->client_id, cl, pid));
}

/* ----------------------------------------------------------- retained */

int64_t mq__bk_p_retain(mq_broker_t *b, const mq_msg_t *m)
{
    mq_store_t *st = b->o.store;
    const mq_bin_t t = m->pub.topic;
    if (!st || (t.len >= 5 && !memcmp(t.p, "$SYS/", 5)))
        return 0;
    cn_buf_t hdr;
    cn_buf_init(&hdr);
    blob(m, &hdr);
    mq_store_retain_t r = {
        (const char *)t.p, t.len, m->qos, m->expire_at, hdr.p, hdr.len, m->pub.payload.p,
        m->pub.payload.len};
    int64_t rc = mq_store_retain_set(st, &r);
    warn_rc("retained set", rc);
    cn_buf_free(&hdr);
    return rc == 0 ? CN_EINVAL : rc;
}

/* ------------------------------------------- acks waiting for the store */

void mq__bk_ackw_begin(mq_loop_t *lp, uint64_t conn, uint16_t pid, bool retain)
{
    lp->cur_ackw = NULL;
    lp->pub_conn = 0;
    if (lp->b->o.store &&
        (retain || atomic_load_explicit(&lp->b->n_stored, memory_order_relaxed))) {
        lp->pub_conn = conn;
        lp->pub_pid = pid;
    }
}

/* The ack of the message being routed or delivered on this loop, created
 * on first need on the publisher's loop; NULL when nothing waits. */
static mq_ackw_t *cur(mq_loop_t *lp)
{
    if (!lp->cur_ackw && lp->pub_conn) {
        mq_ackw_t *a = cn_malloc(sizeof *a);
        atomic_init(&a->refs, 1); /* the routing's, dropped by ackw_end */
        atomic_init(&a->reason, 0);
        a->conn = lp->pub_conn;
        a->pid = lp->pub_pid;
        lp->cur_ackw = a;
    }
    return lp->cur_ackw;
}

bool mq__bk_ackw_end(mq_loop_t *lp)
{
    mq_ackw_t *a = lp->cur_ackw;
    lp->cur_ackw = NULL;
    lp->pub_conn = 0;
    if (!a)
        return false;
    mq__bk_ackw_unref(lp->b, a);
    return true;
}

mq_ackw_t *mq__bk_ackw_for_post(mq_loop_t *lp)
{
    mq_ackw_t *a = cur(lp);
    if (a)
        atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
    return a;
}

void mq__bk_ackw_unref(mq_broker_t *b, mq_ackw_t *a)
{
    if (!a || atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) != 1)
        return;
    unsigned l = (unsigned)(a->conn >> MQ_LOOP_SHIFT);
    mq_item_t *it = cn_calloc(1, sizeof *it);
    it->kind = IT_STORED;
    it->target = a->conn;
    it->pid = a->pid;
    it->reason = atomic_load(&a->reason);
    cn_free(a);
    if (l < b->nloops)
        mq__bk_post_foreign(b, l, it);
    else
        cn_free(it);
}

void mq__bk_ackw_wait(mq_loop_t *lp, int64_t seq)
{
    if (seq == 0)
        return;
    mq_ackw_t *a = cur(lp);
    if (!a)
        return;
    if (seq < 0) {
        atomic_store(&a->reason, 0x80); /* not stored: refuse the PUBLISH */
        return;
    }
    if (lp->waits_n) { /* the same ack as the newest wait: move its seq up */
        mq_swait_t *w = &lp->waits[(lp->waits_head + lp->waits_n - 1) % lp->waits_cap];
        if (w->a == a) {
            w->seq = (uint64_t)seq;
            return;
        }
    }
    if (lp->waits_n == lp->waits_cap) {
        size_t cap = lp->waits_cap ? lp->waits_cap * 2 : 64;
        mq_swait_t *v = cn_malloc(cap * sizeof *v);
        for (size_t i = 0; i < lp->waits_n; i++)
            v[i] = lp->waits[(lp->waits_head + i) % lp->waits_cap];
        cn_free(lp->waits);
        lp->waits = v;
        lp->waits_cap = cap;
        lp->waits_head = 0;
    }
    atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
    lp->waits[(lp->waits_head + lp->waits_n++) % lp->waits_cap] = (mq_swait_t){(uint64_t)seq, a};
    atomic_store(&lp->dur_want, true); /* before the check phase reads durable */
}

void mq__bk_waits_pump(mq_loop_t *lp)
{
    if (!lp->waits_n)
        return;
    mq_store_t *st = lp->b->o.store;
    uint64_t durable = mq_store_durable_seq(st);
    bool failed = mq_store_error(st) < 0;
    while (lp->waits_n) {
        mq_swait_t *w = &lp->waits[lp->waits_head];
        if (w->seq > durable && !failed)
            break;
        mq_ackw_t *a = w->a;
        if (w->seq > durable)
            atomic_store(&a->reason, 0x80); /* never committed */
        lp->waits_head = (lp->waits_head + 1) % lp->waits_cap;
        lp->waits_n--;
        mq__bk_ackw_unref(lp->b, a);
    }
    if (!lp->waits_n)
        atomic_store(&lp->dur_want, false);
}

void mq__bk_waits_drop(mq_loop_t *lp)
{
    while (lp->waits_n) {
        mq_ackw_t *a = lp->waits[lp->waits_head].a;
        lp->waits_head = (lp->waits_head + 1) % lp->waits_cap;
        lp->waits_n--;
        mq__bk_ackw_unref(lp->b, a);
    }
    cn_free(lp->waits);
    lp->waits = NULL;
    lp->waits_cap = 0;
}

void mq__bk_store_durable(void *arg, uint64_t seq)
{
    (void)seq; /* the loops read mq_store_durable_seq themselves */
    mq_broker_t *b = arg;
    for (unsigned i = 0; i < b->nloops; i++)
        if (atomic_load(&b->loops[i].dur_want))
            uv_async_send(&b->loops[i].dur_async);
}

/* ------------------------------------------------------------ retained */

typedef struct rmatch {
    mq_broker_t *b;
    uint64_t sid;
    uint8_t qos;
    uint32_t sub_id;
} rmatch_t;

/* The broker form of a retained message with a reference for the caller,
 * converted once per cached store message and attached to it (NOTES 4):
 * every subscriber it is delivered to shares that one copy.  NULL when
 * the stored blob is damaged. */
static mq_msg_t *shared_form(mq_store_msg_t *sm)
{
    mq_msg_t *m = mq_store_msg_ext(sm);
    if (m)
        return mq__bk_msg_ref(m);
    m = unblob(sm->props, sm->props_len, sm->payload, sm->payload_len, sm->expiry_ns);
    if (!m)
        return NULL;
    mq_msg_t *att = mq_store_msg_ext_set(sm, m, m->size);
    if (att == m)
        return mq__bk_msg_ref(m); /* one reference is the attachment's */
    if (att) {                    /* another thread attached one first */
        mq__bk_msg_unref(m);
        return mq__bk_msg_ref(att);
    }
    return m; /* the store takes no attachments (no msg_ext_free) */
}

void mq_broker_msg_ext_free(void *ext)
{
    mq__bk_msg_unref(ext);
}

/* Store thread: converts and sends the messages to the session's loop. */
static void on_match(void *arg, mq_store_msg_t **msgs, size_t n, bool last)
{
    rmatch_t *rm = arg;
    unsigned l = (unsigned)(rm->sid >> MQ_LOOP_SHIFT);
    for (size_t i = 0; i < n; i++) {
        mq_store_msg_t *sm = msgs[i];
        mq_msg_t *m = shared_form(sm);
        mq_store_msg_unref(sm);
        if (!m)
            continue;
        mq_item_t *it = cn_calloc(1, sizeof *it + sizeof(uint32_t));
        it->kind = IT_RETAINED;
        it->target = rm->sid;
        it->qos = rm->qos;
        it->msg = m;
        it->nids = rm->sub_id ? 1 : 0;
        it->ids[0] = rm->sub_id;
        mq__bk_post_foreign(rm->b, l, it);
    }
    if (last)
        cn_free(rm);
}

bool mq__bk_p_retain_match(mq_sess_t *s, const char *filter, size_t len, uint8_t qos,
                           uint32_t sub_id)
{
    mq_store_t *st = store_of(s);
    if (!st)
        return false;
    rmatch_t *rm = cn_malloc(sizeof *rm);
    *rm = (rmatch_t){s->lp->b, s->id, qos, sub_id};
    int64_t rc = mq_store_retain_match(st, filter, len, on_match, rm);
    if (rc < 0) {
        warn_rc("retained lookup", rc);
        cn_free(rm);
    }
    return true;
}

/* -------------------------------------------------------------- load */

static void load_msgs(mq_sess_t *s, const mq_store_session_t *ss)
{
    for (size_t i = 0; i < ss->nmsgs; i++) {
        const mq_store_smsg_t *sm = &ss->msgs[i];
        if (sm->mid > s->next_mid)
            s->next_mid = (uint32_t)sm->mid;
        mq_msg_t *m = NULL;
        if (sm->state != MQ_SMSG_PUBREL_SENT) {
            m = unblob(sm->props, sm->props_len, sm->payload, sm->payload_len, sm->expiry_ns);
            if (!m)
                continue;
        }
        mq_qmsg_t *q = cn_calloc(1, sizeof *q);
        q->msg = m;
        q->mid = sm->mid;
        q->pbytes = (uint32_t)mq_store_smsg_bytes(sm);
        q->qos = sm->qos;
        q->retain = sm->retain;
        q->pid = sm->pid;
        q->state = sm->state == MQ_SMSG_QUEUED        ? QM_QUEUED
                   : sm->state == MQ_SMSG_PUBREL_SENT ? QM_RELEASED
                                                      : QM_PUBLISHED;
        if (q->pid > s->next_pid)
            s->next_pid = q->pid;
        mq__bk_sess_restore_msg(s, q);
    }
}

static int load_one(void *arg, const mq_store_session_t *ss)
{
    mq_broker_t *b = arg;
    const mq_store_sess_t *h = &ss->sess;
    char *cid = cn_strndup(h->client_id, h->client_id_len);
    mq_loop_t *lp = &b->loops[mq__bk_home(b, cid, h->client_id_len)];
    mq_sess_t *s = mq__bk_sess_new(lp, cid);
    cn_free(cid);
    s->expiry = h->expiry_s;
    int64_t gone_s = (mq__bk_now(b) - h->disconnect_ns) / 1000000000LL;
    if (s->expiry == MQ_NEVER)
        s->expire_at = INT64_MAX;
    else
        s->expire_at = cn_mono_ns() + ((int64_t)s->expiry - CN_MAX(gone_s, 0)) * 1000000000LL;
    for (size_t i = 0; i < ss->nsubs; i++)
        mq__bk_sess_restore_sub(s, ss->sub_filters[i], ss->sub_lens[i], &ss->sub_opts[i]);
    load_msgs(s, ss);
    for (size_t i = 0; i < ss->nqos2; i++)
        mq__bk_qos2_add(s, ss->qos2_pids[i]);
    s->stored = true; /* from now on changes are written through */
    atomic_fetch_add(&b->n_stored, 1);
    return 0;
}

int mq__bk_p_load(mq_broker_t *b)
{
    if (!b->o.store)
        return 0;
    int n = mq_store_sessions_load(b->o.store, load_one, b);
    if (n < 0)
        cn_error("mqtt: cannot load the stored sessions: %s", cn_strerror(n));
    else if (n > 0)
        cn_info("mqtt: restored %d persistent session%s from the store", n, n == 1 ? "" : "s");
    return n;
}
