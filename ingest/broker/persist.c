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
 *     first).  $SYS/... retained messages stay in memory (msg.c): they
 *     change every few seconds and mean nothing after a restart.
 *  5. Acknowledgements do not wait for the store: a message queued for an
 *     offline session is committed within the store's next batch
 *     (milliseconds); a crash in that window loses it.
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
    s->stored = true;
}

void mq__bk_p_sess_del(mq_sess_t *s)
{
    mq_store_t *st = store_of(s);
    if (!st || !s->stored)
        return;
    warn_rc("session delete", mq_store_session_del(st, s->client_id, strlen(s->client_id)));
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

bool mq__bk_p_retain(mq_broker_t *b, const mq_msg_t *m)
{
    mq_store_t *st = b->o.store;
    const mq_bin_t t = m->pub.topic;
    if (!st || (t.len >= 5 && !memcmp(t.p, "$SYS/", 5)))
        return false;
    cn_buf_t hdr;
    cn_buf_init(&hdr);
    blob(m, &hdr);
    mq_store_retain_t r = {
        (const char *)t.p, t.len, m->qos, m->expire_at, hdr.p, hdr.len, m->pub.payload.p,
        m->pub.payload.len};
    warn_rc("retained set", mq_store_retain_set(st, &r));
    cn_buf_free(&hdr);
    return true;
}

typedef struct rmatch {
    mq_broker_t *b;
    uint64_t sid;
    uint8_t qos;
    uint32_t sub_id;
} rmatch_t;

/* Store thread: converts and sends the messages to the session's loop. */
static void on_match(void *arg, mq_store_msg_t **msgs, size_t n, bool last)
{
    rmatch_t *rm = arg;
    unsigned l = (unsigned)(rm->sid >> MQ_LOOP_SHIFT);
    for (size_t i = 0; i < n; i++) {
        mq_store_msg_t *sm = msgs[i];
        mq_msg_t *m = unblob(sm->props, sm->props_len, sm->payload, sm->payload_len, sm->expiry_ns);
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
