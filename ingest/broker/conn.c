/* SPDX-License-Identifier: MIT */
/*
 * conn.c - one MQTT connection: framing of the input, the CONNECT
 * handshake (checks, assigned client id, handover to the home loop, the
 * asynchronous auth hook, CONNACK), dispatch of every other packet, the
 * PUBLISH ingress path (topic aliases, Receive Maximum, QoS 2 state, ACL,
 * ingest hook, retained store, routing), acknowledgements in order, output
 * batching and closing.
 *
 * NOTES
 *  1. Input.  Bytes accumulate in c->in and whole frames are handled in
 *     place (mq_split + decoders borrow them).  A frame that cannot be
 *     handled yet (CONNECT waiting for auth or handover) stays at the
 *     start of c->in.
 *  2. Output.  Packets are appended to c->io->out and the connection is
 *     put on the loop's dirty list; the check phase writes it in one
 *     uv_write (io->wbuf holds the bytes in flight; io exists only while
 *     there is output).  So a burst of deliveries in one
 *     loop iteration costs one syscall.
 *  3. Pausing.  c->pause is a set of reasons (PAUSE_*); reading stops while
 *     any is set.  Resuming never re-enters packet handling: it flags
 *     need_process and the check phase handles what is buffered.
 *  4. Acknowledgements to the client follow publish order (MQTT 4.6): once
 *     one ack waits for the ingest hook, later ones queue behind it in
 *     c->x->acks.
 */
#include "broker_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

enum { H_NEXT = 0, H_KEEP = 1, H_STOP = 2 };

static uint16_t u16min(uint32_t a, uint32_t b)
{
    return (uint16_t)(a < b ? a : b);
}

/* ---------------------------------------------------------------- output */

static cn_buf_t *out_buf(mq_conn_t *c)
{
    if (!c->io)
        c->io = cn_calloc(1, sizeof *c->io);
    return &c->io->out;
}

mq_cext_t *mq__bk_cext(mq_conn_t *c)
{
    if (!c->x)
        c->x = cn_calloc(1, sizeof *c->x);
    return c->x;
}

static uint32_t acks_n(const mq_conn_t *c)
{
    return c->x ? c->x->acks_n : 0;
}

void mq__bk_conn_put(mq_conn_t *c, const mq_pkt_t *pkt)
{
    if (c->state == CS_CLOSING)
        return;
    int rc = mq_encode(out_buf(c), c->level ? c->level : 4, pkt);
    assert(rc == 0);
    (void)rc;
    mq__bk_conn_dirty(c);
}

size_t mq__bk_conn_unsent(const mq_conn_t *c)
{
    return c->io ? c->io->out.len + c->io->wbuf.len : 0;
}

static void write_cb(uv_write_t *req, int status)
{
    mq_conn_t *c = req->data;
    mq_io_t *io = c->io;
    c->writing = false;
    CNT_ADD(c->lp, bytes_out, io->wbuf.len);
    io->wbuf.len = 0;
    if (c->state == CS_CLOSING)
        return; /* mq__bk_conn_free_mem frees io */
    if (status < 0) {
        mq__bk_conn_close(c, 0, false);
        return;
    }
    if (io->out.len) {
        mq__bk_conn_flush(c);
    } else {
        /* Idle connections hold no buffers and no write request. */
        cn_buf_free(&io->wbuf);
        cn_buf_free(&io->out);
        cn_free(io);
        c->io = NULL;
    }
    if (c->sess)
        mq__bk_sess_release_waiters(c->sess);
}

void mq__bk_conn_flush(mq_conn_t *c)
{
    if (c->need_process) {
        c->need_process = false;
        mq__bk_conn_process(c);
    }
    mq_io_t *io = c->io;
    if (!io || c->writing || !io->out.len || c->state == CS_CLOSING)
        return;
    cn_buf_t t = io->wbuf;
    io->wbuf = io->out;
    io->out = t;
    io->out.len = 0;
    uv_buf_t buf = uv_buf_init((char *)io->wbuf.p, (unsigned)io->wbuf.len);
    io->req.data = c;
    if (uv_write(&io->req, (uv_stream_t *)&c->tcp, &buf, 1, write_cb) != 0) {
        io->wbuf.len = 0;
        mq__bk_conn_close(c, 0, false);
        return;
    }
    c->writing = true;
}

int mq__bk_conn_write_publish(mq_conn_t *c, const mq_msg_t *m, uint8_t qos, uint16_t pid,
                              bool retain, bool dup, const uint32_t *ids, uint32_t nids)
{
    mq_publish_t p = m->pub;
    p.qos = qos;
    p.packet_id = qos ? pid : 0;
    p.retain = retain;
    p.dup = dup && qos;
    if (c->level == 5) {
        p.props.sub_ids = ids;
        p.props.n_sub_id = nids;
        if (nids)
            p.props.has |= MQ_HAS(MQ_P_SUB_ID);
        if (m->expire_at) {
            int64_t left = m->expire_at - mq__bk_now(c->lp->b);
            p.props.message_expiry = left > 0 ? (uint32_t)((left + 999999999) / 1000000000) : 1;
        }
        mq_cext_t *x = c->x;
        if (x && x->alias_max_out) {
            uint16_t a = 0;
            for (uint16_t i = 0; i < x->alias_out_next; i++) {
                if (strlen(x->alias_out[i]) == p.topic.len &&
                    !memcmp(x->alias_out[i], p.topic.p, p.topic.len)) {
                    a = i + 1;
                    break;
                }
            }
            if (a) {
                p.topic = (mq_bin_t){NULL, 0};
            } else if (x->alias_out_next < x->alias_max_out) {
                x->alias_out[x->alias_out_next] = cn_strndup((const char *)p.topic.p, p.topic.len);
                a = ++x->alias_out_next;
            }
            if (a) {
                p.props.topic_alias = a;
                p.props.has |= MQ_HAS(MQ_P_TOPIC_ALIAS);
            }
        }
    }
    cn_buf_t *out = out_buf(c);
    size_t mark = out->len;
    if (mq_publish_encode_header(out, c->level, &p) < 0 ||
        out->len - mark + p.payload.len > c->max_out_packet) {
        out->len = mark;
        return CN_ELIMIT;
    }
    cn_buf_put(out, p.payload.p, p.payload.len);
    CNT_ADD(c->lp, msgs_out, 1);
    mq__bk_conn_dirty(c);
    return 0;
}

static void put_ack(mq_conn_t *c, uint8_t type, uint16_t pid, uint8_t reason)
{
    mq_pkt_t k;
    memset(&k, 0, sizeof k);
    k.type = type;
    k.u.ack.packet_id = pid;
    k.u.ack.reason = c->level == 5 ? reason : 0;
    mq__bk_conn_put(c, &k);
}

/* ------------------------------------------------------------- closing */

static void send_now(mq_conn_t *c)
{
    /* Best effort before closing: the last CONNACK/DISCONNECT. */
    if (c->io && !c->writing && c->io->out.len) {
        uv_buf_t buf = uv_buf_init((char *)c->io->out.p, (unsigned)c->io->out.len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
        if (n > 0)
            CNT_ADD(c->lp, bytes_out, (uint64_t)n);
    }
    if (c->io)
        c->io->out.len = 0;
}

/* The MQTT 5 Reason String cairn sends with an error reason in a CONNACK
 * or DISCONNECT (the reason code's name in the spec's words), NULL for
 * success codes. */
static const char *reason_text(uint8_t reason)
{
    switch (reason) {
    case 0x80:
        return "unspecified error";
    case 0x81:
        return "malformed packet";
    case 0x82:
        return "protocol error";
    case 0x84:
        return "unsupported protocol version";
    case 0x85:
        return "client identifier not valid";
    case 0x86:
        return "bad user name or password";
    case 0x87:
        return "not authorized";
    case 0x89:
        return "server busy";
    case 0x8B:
        return "server shutting down";
    case 0x8C:
        return "bad authentication method";
    case 0x8D:
        return "keep alive timeout";
    case 0x8E:
        return "session taken over";
    case 0x8F:
        return "topic filter invalid";
    case 0x90:
        return "topic name invalid";
    case 0x93:
        return "receive maximum exceeded";
    case 0x94:
        return "topic alias invalid";
    case 0x95:
        return "packet too large";
    case 0x97:
        return "quota exceeded";
    case 0x99:
        return "payload format invalid";
    default:
        return NULL;
    }
}

/* Adds `why` (or the reason's name) as Reason String to *pr unless the
 * packet would then exceed the client's Maximum Packet Size (MQTT
 * 3.14.2.2.3: a Reason String must not make it too large); `base` is the
 * packet's size without it. */
static void add_reason_string(const mq_conn_t *c, mq_props_t *pr, uint8_t reason, const char *why,
                              size_t base)
{
    const char *t = why ? why : reason_text(reason);
    if (!t || base + 3 + strlen(t) + 2 > c->max_out_packet)
        return;
    pr->has |= MQ_HAS(MQ_P_REASON_STRING);
    pr->reason_string = mq_str(t);
}

/* mq__bk_conn_close with the text of the Reason String (NULL: the reason
 * code's name). */
static void conn_close_why(mq_conn_t *c, uint8_t reason, bool send_disconnect, const char *why)
{
    if (c->state == CS_CLOSING)
        return;
    if (send_disconnect && c->level == 5 && c->state == CS_ONLINE && reason) {
        mq_pkt_t k;
        memset(&k, 0, sizeof k);
        k.type = MQ_DISCONNECT;
        k.u.reason.reason = reason;
        add_reason_string(c, &k.u.reason.props, reason, why, 5);
        mq__bk_conn_put(c, &k);
    }
    send_now(c);
    bool online = c->state == CS_ONLINE;
    c->state = CS_CLOSING;
    if (c->sess)
        mq__bk_sess_detach(c, !c->lp->stopping);
    if (online)
        CNT_SUB(c->lp, connected, 1);
    if (c->reading)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
    mq__bk_conn_closed_handle(c);
}

void mq__bk_conn_close(mq_conn_t *c, uint8_t reason, bool send_disconnect)
{
    conn_close_why(c, reason, send_disconnect, NULL);
}

void mq__bk_conn_free_mem(mq_conn_t *c)
{
    cn_buf_free(&c->in);
    if (c->io) {
        cn_buf_free(&c->io->out);
        cn_buf_free(&c->io->wbuf);
        cn_free(c->io);
    }
    mq_cext_t *x = c->x;
    if (x) {
        if (x->alias_in) {
            for (uint32_t i = 0; i < c->lp->b->o.topic_alias_max; i++)
                cn_free((void *)x->alias_in[i].p);
            cn_free(x->alias_in);
        }
        for (uint16_t i = 0; i < x->alias_out_next; i++)
            cn_free(x->alias_out[i]);
        cn_free(x->alias_out);
        cn_free(x->acks);
        cn_free(x);
    }
    mq__bk_msg_unref(c->will);
}

static void protocol_error(mq_conn_t *c, const mq_err_t *e)
{
    CNT_ADD(c->lp, proto_errors, 1);
    if (cn_log_get_level() >= CN_LOG_DEBUG) {
        char peer[64];
        cn_debug("mqtt: %s (%s): %s, closing", mq__bk_peer(c, peer, sizeof peer),
                 c->sess ? c->sess->client_id : "-", mq_rule_name(e->rule));
    }
    /* The rule broken, in the spec's words, as the Reason String. */
    conn_close_why(c, e->reason ? e->reason : MQ_RC_PROTOCOL, true,
                   e->rule != MQ_R_OK ? mq_rule_text(e->rule) : NULL);
}

static void proto_close(mq_conn_t *c, uint8_t reason)
{
    mq_err_t e = {MQ_R_OK, reason};
    protocol_error(c, &e);
}

/* --------------------------------------------------------------- pause */

void mq__bk_conn_set_pause(mq_conn_t *c, uint8_t bit, bool on)
{
    if (c->state == CS_CLOSING)
        return;
    if (on) {
        c->pause |= bit;
        if (c->reading)
            uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
        return;
    }
    if (!(c->pause & bit))
        return;
    c->pause &= (uint8_t)~bit;
    if (c->pause)
        return;
    mq__bk_conn_start_reading(c);
    if (c->in.len) {
        c->need_process = true;
        mq__bk_conn_dirty(c);
    }
}

/* ---------------------------------------------------------------- acks */

static void acks_pump(mq_conn_t *c)
{
    mq_cext_t *x = c->x;
    while (x && x->acks_n) {
        mq_pending_ack_t *a = &x->acks[x->acks_head];
        if (!a->done || a->wait_store)
            return;
        if (a->reason >= 0x80 && c->level < 5) {
            mq__bk_conn_close(c, 0, false); /* 3.1.1 has no negative acknowledgement */
            return;
        }
        if (a->qos == 2 && a->reason >= 0x80 && c->sess && mq__bk_qos2_del(c->sess, a->pid))
            mq__bk_p_qos2(c->sess, a->pid, false);
        put_ack(c, a->qos == 1 ? MQ_PUBACK : MQ_PUBREC, a->pid, a->reason);
        x->acks_head = (x->acks_head + 1) % x->acks_cap;
        x->acks_n--;
    }
}

static void acks_push(mq_conn_t *c, uint16_t pid, uint8_t qos, bool done, bool wait_store)
{
    mq_cext_t *x = mq__bk_cext(c);
    if (x->acks_n == x->acks_cap) {
        uint32_t cap = x->acks_cap ? x->acks_cap * 2 : 16;
        mq_pending_ack_t *v = cn_malloc(cap * sizeof *v);
        for (uint32_t i = 0; i < x->acks_n; i++)
            v[i] = x->acks[(x->acks_head + i) % x->acks_cap];
        cn_free(x->acks);
        x->acks = v;
        x->acks_cap = cap;
        x->acks_head = 0;
    }
    mq_pending_ack_t *a = &x->acks[(x->acks_head + x->acks_n++) % x->acks_cap];
    a->pid = pid;
    a->qos = qos;
    a->done = done;
    a->reason = 0;
    a->wait_store = wait_store;
}

static bool ack_pending(const mq_conn_t *c, uint16_t pid)
{
    const mq_cext_t *x = c->x;
    for (uint32_t i = 0; x && i < x->acks_n; i++)
        if (x->acks[(x->acks_head + i) % x->acks_cap].pid == pid)
            return true;
    return false;
}

/* The store committed what the PUBLISH caused (persist.c NOTES 5); a
 * failure (reason >= 0x80) wins over the hook's success. */
void mq__bk_conn_store_done(mq_conn_t *c, uint16_t pid, uint8_t reason)
{
    mq_cext_t *x = c->x;
    if (c->state != CS_ONLINE || !x)
        return;
    for (uint32_t i = 0; i < x->acks_n; i++) {
        mq_pending_ack_t *a = &x->acks[(x->acks_head + i) % x->acks_cap];
        if (a->pid == pid && a->wait_store) {
            a->wait_store = 0;
            if (reason > a->reason)
                a->reason = reason;
            break;
        }
    }
    acks_pump(c);
}

void mq__bk_conn_ack_done(mq_conn_t *c, uint16_t pid, uint8_t reason)
{
    mq_cext_t *x = c->x;
    if (c->state != CS_ONLINE || !x)
        return;
    for (uint32_t i = 0; i < x->acks_n; i++) {
        mq_pending_ack_t *a = &x->acks[(x->acks_head + i) % x->acks_cap];
        if (a->pid == pid && !a->done) {
            a->done = 1;
            if (reason > a->reason)
                a->reason = reason;
            break;
        }
    }
    acks_pump(c);
}

/* ------------------------------------------------------------- publish */

static int resolve_alias(mq_conn_t *c, mq_publish_t *p)
{
    if (c->level < 5 || !(p->props.has & MQ_HAS(MQ_P_TOPIC_ALIAS)))
        return 0;
    uint16_t a = p->props.topic_alias;
    uint32_t max = c->lp->b->o.topic_alias_max;
    if (a == 0 || a > max)
        return MQ_RC_TOPIC_ALIAS_INVALID;
    mq_cext_t *x = mq__bk_cext(c);
    if (!x->alias_in)
        x->alias_in = cn_calloc(max, sizeof *x->alias_in);
    mq_bin_t *slot = &x->alias_in[a - 1];
    if (p->topic.len) {
        if (slot->len != p->topic.len || memcmp(slot->p, p->topic.p, p->topic.len)) {
            cn_free((void *)slot->p);
            slot->p = (const uint8_t *)cn_strndup((const char *)p->topic.p, p->topic.len);
            slot->len = p->topic.len;
        }
        return 0;
    }
    if (!slot->p)
        return MQ_RC_PROTOCOL; /* alias never set [MQTT-3.3.2-12] */
    p->topic = *slot;
    return 0;
}

static bool acl_ok(mq_conn_t *c, const uint8_t *topic, size_t len, int access)
{
    mq_broker_t *b = c->lp->b;
    if (!b->o.acl || !c->sess)
        return true;
    return b->o.acl(b->o.hook_arg, c->sess->user, c->sess->client_id, (const char *)topic, len,
                    access);
}

static int on_publish(mq_conn_t *c, const mq_frame_t *f)
{
    mq_broker_t *b = c->lp->b;
    mq_publish_t p;
    mq_err_t e;
    if (mq_publish_decode(f, c->level, MQ_FROM_CLIENT, &p, &e) < 0) {
        protocol_error(c, &e);
        return H_STOP;
    }
    int rc = resolve_alias(c, &p);
    if (rc) {
        proto_close(c, (uint8_t)rc);
        return H_STOP;
    }
    mq_sess_t *s = c->sess;
    if (p.qos && c->level == 5 && acks_n(c) + mq__bk_qos2_count(s) >= b->o.max_inflight) {
        proto_close(c, 0x93); /* Receive Maximum exceeded */
        return H_STOP;
    }
    if (p.qos == 2 && mq__bk_qos2_has(s, p.packet_id)) {
        /* A resent QoS 2 PUBLISH: acknowledged again, not delivered again. */
        if (!ack_pending(c, p.packet_id))
            put_ack(c, MQ_PUBREC, p.packet_id, 0);
        return H_NEXT;
    }
    if (!acl_ok(c, p.topic.p, p.topic.len, MQ_BROKER_ACL_WRITE)) {
        cn_debug("mqtt: %s: publish to %.*s denied", s->client_id, (int)p.topic.len,
                 (const char *)p.topic.p);
        if (p.qos == 1)
            put_ack(c, MQ_PUBACK, p.packet_id, 0x87);
        if (p.qos == 2) {
            if (c->level < 5) {
                mq__bk_qos2_add(s, p.packet_id);
                mq__bk_p_qos2(s, p.packet_id, true);
            }
            put_ack(c, MQ_PUBREC, p.packet_id, 0x87);
        }
        return H_NEXT;
    }
    int64_t now = mq__bk_now(b);
    int r = MQ_PUB_ACK_NOW;
    if (b->o.on_publish) {
        mq_msg_view_t v;
        v.topic = (const char *)p.topic.p;
        v.topic_len = p.topic.len;
        v.payload = p.payload.p;
        v.payload_len = p.payload.len;
        v.qos = p.qos;
        v.retain = p.retain;
        v.loop = c->lp->idx;
        v.client_id = s->client_id;
        v.props = &p.props;
        v.recv_ns = now;
        mq_ack_token_t tok = {c->id, p.packet_id, p.qos};
        r = b->o.on_publish(b->o.hook_arg, &v, &tok);
        if (r & MQ_PUB_RETRY) {
            mq__bk_conn_set_pause(c, PAUSE_HOOK, true);
            return H_KEEP; /* the frame stays in c->in (NOTES 1) */
        }
    }
    CNT_ADD(c->lp, msgs_in, 1);
    mq_msg_t *m = mq__bk_msg_new(p.topic.p, p.topic.len, &p, f->body, f->body_len, now);
    m->publisher = s->id;
    mq_loop_t *lp = c->lp;
    bool wait_store = false;
    if (p.qos) /* the ack waits for the store's commits (persist.c NOTES 5) */
        mq__bk_ackw_begin(lp, c->id, p.packet_id, p.retain);
    if (p.retain)
        mq__bk_ackw_wait(lp, mq__bk_retain(b, m));
    mq__bk_route(lp, m, c);
    mq__bk_msg_unref(m);
    if (p.qos)
        wait_store = mq__bk_ackw_end(lp);
    if (p.qos) {
        if (p.qos == 2) {
            mq__bk_qos2_add(s, p.packet_id);
            mq__bk_p_qos2(s, p.packet_id, true);
        }
        bool later = (r & MQ_PUB_ACK_LATER) != 0;
        bool hold = later || wait_store;
        if (hold || acks_n(c))
            acks_push(c, p.packet_id, p.qos, !later, wait_store);
        if (!hold && acks_n(c))
            acks_pump(c);
        else if (!hold)
            put_ack(c, p.qos == 1 ? MQ_PUBACK : MQ_PUBREC, p.packet_id, 0);
    }
    if (r & MQ_PUB_PAUSE) {
        mq__bk_conn_set_pause(c, PAUSE_HOOK, true);
        return H_STOP;
    }
    return c->pause ? H_STOP : H_NEXT;
}

/* ------------------------------------------------------------- connect */

static void connack(mq_conn_t *c, uint8_t level, uint8_t reason, bool present,
                    const mq_props_t *props)
{
    mq_pkt_t k;
    memset(&k, 0, sizeof k);
    k.type = MQ_CONNACK;
    k.u.connack.session_present = present;
    k.u.connack.reason = reason;
    if (props)
        k.u.connack.props = *props;
    c->level = level;
    mq__bk_conn_put(c, &k);
}

/* Refuses a CONNECT: CONNACK in the client's protocol, then close. */
static void refuse(mq_conn_t *c, uint8_t level, uint8_t v5reason)
{
    CNT_ADD(c->lp, refused, 1);
    if (level == 5) {
        mq_props_t pr;
        memset(&pr, 0, sizeof pr);
        add_reason_string(c, &pr, v5reason, NULL, 6);
        connack(c, 5, v5reason, false, &pr);
    } else {
        int rc = mq_v3_connack_rc(v5reason);
        if (rc > 0)
            connack(c, 4, (uint8_t)rc, false, NULL);
    }
    mq__bk_conn_close(c, 0, false);
}

static void assign_id(mq_conn_t *c, char *buf, size_t n)
{
    mq_loop_t *lp = c->lp;
    do {
        snprintf(buf, n, "cairn-%08llx%04x", (unsigned long long)(cn_now_ns() ^ (int64_t)c->id),
                 (unsigned)(lp->next_serial++ & 0xffff));
    } while (mq__bk_home(lp->b, buf, strlen(buf)) != lp->idx);
}

static mq_msg_t *make_will(mq_conn_t *c, const mq_connect_t *ck, const mq_frame_t *f)
{
    mq_publish_t p;
    memset(&p, 0, sizeof p);
    p.qos = ck->will_qos;
    p.retain = ck->will_retain;
    p.topic = ck->will_topic;
    p.payload = ck->will_payload;
    p.props = ck->will_props;
    mq_msg_t *m = mq__bk_msg_new(p.topic.p, p.topic.len, &p, f->body, f->body_len, 0);
    m->expire_at = 0; /* message expiry counts from publication (sess.c) */
    (void)c;
    return m;
}

static void connect_finish(mq_conn_t *c, const mq_connect_t *ck, const char *cid, bool assigned,
                           const mq_frame_t *f)
{
    mq_broker_t *b = c->lp->b;
    c->level = ck->level;
    c->keepalive = ck->keep_alive;
    mq_props_t out;
    memset(&out, 0, sizeof out);
    if (ck->level == 5) {
        const mq_props_t *in = &ck->props;
        if (in->has & MQ_HAS(MQ_P_RECEIVE_MAX))
            c->recv_max = in->receive_max;
        if (in->has & MQ_HAS(MQ_P_MAX_PACKET_SIZE))
            c->max_out_packet = in->max_packet_size;
        if (in->has & MQ_HAS(MQ_P_TOPIC_ALIAS_MAX) && in->topic_alias_max) {
            mq_cext_t *x = mq__bk_cext(c);
            x->alias_max_out = u16min(in->topic_alias_max, 64);
            x->alias_out = cn_calloc(x->alias_max_out, sizeof *x->alias_out);
        }
        if (assigned) {
            out.has |= MQ_HAS(MQ_P_ASSIGNED_CLIENT_ID);
            out.assigned_client_id = mq_str(cid);
        }
        out.has |= MQ_HAS(MQ_P_RECEIVE_MAX) | MQ_HAS(MQ_P_TOPIC_ALIAS_MAX);
        out.receive_max = b->o.max_inflight;
        out.topic_alias_max = b->o.topic_alias_max;
        if (b->o.max_packet < MQ_MAX_PACKET) {
            out.has |= MQ_HAS(MQ_P_MAX_PACKET_SIZE);
            out.max_packet_size = b->o.max_packet;
        }
        if (b->o.max_keepalive && (c->keepalive == 0 || c->keepalive > b->o.max_keepalive)) {
            c->keepalive = (uint16_t)b->o.max_keepalive;
            out.has |= MQ_HAS(MQ_P_SERVER_KEEP_ALIVE);
            out.server_keep_alive = c->keepalive;
        }
        uint32_t want = in->session_expiry;
        if (want > b->o.max_session_expiry) {
            out.has |= MQ_HAS(MQ_P_SESSION_EXPIRY);
            out.session_expiry = b->o.max_session_expiry;
        }
    }
    if (ck->will && b->o.acl) {
        char *user =
            ck->has_username ? cn_strndup((const char *)ck->username.p, ck->username.len) : NULL;
        bool ok = b->o.acl(b->o.hook_arg, user, cid, (const char *)ck->will_topic.p,
                           ck->will_topic.len, MQ_BROKER_ACL_WRITE);
        cn_free(user);
        if (!ok) {
            refuse(c, ck->level, 0x87); /* the will may not be published */
            return;
        }
    }
    if (ck->will) {
        c->will = make_will(c, ck, f);
        c->will_delay = ck->level == 5 ? ck->will_props.will_delay : 0;
    }
    bool present = false;
    int rc = mq__bk_sess_attach(c, ck, cid, &present);
    if (rc < 0) {
        refuse(c, ck->level, 0x89);
        return;
    }
    connack(c, ck->level, 0, present, ck->level == 5 ? &out : NULL);
    c->state = CS_ONLINE;
    CNT_ADD(c->lp, connected, 1);
    char peer[64];
    if (cn_log_get_level() >= CN_LOG_DEBUG)
        mq__bk_peer(c, peer, sizeof peer);
    cn_debug("mqtt: %s connected as %s (level %u, keepalive %u, session %s)", peer, cid, ck->level,
             c->keepalive, present ? "resumed" : "new");
    mq__bk_sess_resend(c->sess);
    mq__bk_sess_drain(c->sess);
}

/* Returns H_NEXT (consumed), H_KEEP (CONNECT stays buffered) or H_STOP. */
static int on_connect(mq_conn_t *c, const mq_frame_t *f, bool authed)
{
    mq_broker_t *b = c->lp->b;
    mq_pkt_t pkt;
    mq_err_t e;
    memset(&pkt, 0, sizeof pkt);
    if (mq_decode(f, 4, MQ_FROM_CLIENT, &pkt, &e) < 0) {
        /* Answer in the client's protocol once its level is known (the
         * decoder fills it before any later check); 3.1.1 has return codes
         * for a few reasons only, otherwise the connection just closes. */
        uint8_t lv = pkt.u.connect.level;
        CNT_ADD(c->lp, proto_errors, 1);
        if (e.rule == MQ_R_PROTO_LEVEL)
            refuse(c, 4, MQ_RC_UNSUPPORTED_VERSION);
        else if (e.rule != MQ_R_PROTO_NAME && lv >= 3 && lv <= 5)
            refuse(c, lv, e.reason);
        else
            mq__bk_conn_close(c, 0, false);
        return H_STOP;
    }
    const mq_connect_t *ck = &pkt.u.connect;
    if (ck->props.has & MQ_HAS(MQ_P_AUTH_METHOD)) {
        refuse(c, ck->level, 0x8C); /* no enhanced authentication methods */
        return H_STOP;
    }
    char cid[65536 + 1];
    bool assigned = ck->client_id.len == 0;
    if (assigned) {
        assign_id(c, cid, sizeof cid);
    } else {
        memcpy(cid, ck->client_id.p, ck->client_id.len);
        cid[ck->client_id.len] = 0;
    }
    unsigned home = mq__bk_home(b, cid, strlen(cid));
    if (home != c->lp->idx) {
        if (mq__bk_handover(c, home) == 0)
            return H_STOP;
        refuse(c, ck->level, 0x89);
        return H_STOP;
    }
    if (!authed) {
        if (b->o.auth) {
            c->state = CS_AUTH;
            mq__bk_conn_set_pause(c, PAUSE_AUTH, true);
            char peer[64];
            mq_broker_auth_req_t req = {cid,
                                        ck->has_username ? ck->username : (mq_bin_t){0},
                                        ck->has_password ? ck->password : (mq_bin_t){0},
                                        mq__bk_peer(c, peer, sizeof peer),
                                        ck->level,
                                        c->anon_ok};
            b->o.auth(b->o.hook_arg, &req, c->id);
            return H_KEEP;
        }
        if (!c->anon_ok) {
            refuse(c, ck->level, 0x87);
            return H_STOP;
        }
    }
    connect_finish(c, ck, cid, assigned, f);
    return c->state == CS_ONLINE ? H_NEXT : H_STOP;
}

void mq__bk_conn_auth_done(mq_conn_t *c, uint8_t reason)
{
    if (c->state != CS_AUTH)
        return;
    mq_frame_t f;
    mq_err_t e;
    if (mq_split(c->in.p, c->in.len, c->lp->b->o.max_packet, &f, &e) != 1) {
        mq__bk_conn_close(c, 0, false);
        return;
    }
    if (reason) {
        mq_pkt_t pkt;
        uint8_t level = mq_decode(&f, 4, MQ_FROM_CLIENT, &pkt, &e) == 0 ? pkt.u.connect.level : 4;
        char peer[64];
        cn_info("mqtt: %s: connection refused by authentication (reason 0x%02x)",
                mq__bk_peer(c, peer, sizeof peer), reason);
        refuse(c, level, reason);
        return;
    }
    c->state = CS_NEW;
    int r = on_connect(c, &f, true);
    if (r == H_STOP || c->state == CS_CLOSING)
        return;
    memmove(c->in.p, c->in.p + f.total, c->in.len - f.total);
    c->in.len -= f.total;
    mq__bk_conn_set_pause(c, PAUSE_AUTH, false);
}

/* --------------------------------------------------------------- others */

static int on_disconnect(mq_conn_t *c, const mq_reason_pkt_t *d)
{
    mq_sess_t *s = c->sess;
    if (c->level == 5 && (d->props.has & MQ_HAS(MQ_P_SESSION_EXPIRY))) {
        if (s->expiry == 0 && d->props.session_expiry != 0) {
            proto_close(c, MQ_RC_PROTOCOL); /* MQTT-3.14.2-2 */
            return H_STOP;
        }
        uint32_t v = d->props.session_expiry;
        s->expiry = v > c->lp->b->o.max_session_expiry ? c->lp->b->o.max_session_expiry : v;
    }
    if (!(c->level == 5 && d->reason == 0x04)) {
        mq__bk_msg_unref(c->will); /* normal disconnect: the will is discarded */
        c->will = NULL;
    }
    mq__bk_conn_close(c, 0, false);
    return H_STOP;
}

static int dispatch(mq_conn_t *c, const mq_frame_t *f)
{
    if (f->type == MQ_PUBLISH)
        return on_publish(c, f);
    mq_pkt_t pkt;
    mq_err_t e;
    if (f->type == MQ_CONNECT) {
        proto_close(c, MQ_RC_PROTOCOL); /* a second CONNECT [MQTT-3.1.0-2] */
        return H_STOP;
    }
    if (mq_decode(f, c->level, MQ_FROM_CLIENT, &pkt, &e) < 0) {
        protocol_error(c, &e);
        return H_STOP;
    }
    mq_sess_t *s = c->sess;
    switch (pkt.type) {
    case MQ_PUBACK:
    case MQ_PUBCOMP:
        mq__bk_sess_acked(s, pkt.type, pkt.u.ack.packet_id, pkt.u.ack.reason);
        break;
    case MQ_PUBREC: {
        int rc = mq__bk_sess_acked(s, MQ_PUBREC, pkt.u.ack.packet_id, pkt.u.ack.reason);
        if (rc != 1)
            put_ack(c, MQ_PUBREL, pkt.u.ack.packet_id, rc == 0 ? 0 : 0x92);
        break;
    }
    case MQ_PUBREL: {
        bool had = mq__bk_qos2_del(s, pkt.u.ack.packet_id);
        if (had)
            mq__bk_p_qos2(s, pkt.u.ack.packet_id, false);
        put_ack(c, MQ_PUBCOMP, pkt.u.ack.packet_id, had ? 0 : 0x92);
        break;
    }
    case MQ_SUBSCRIBE:
        mq__bk_sess_subscribe(c, &pkt.u.subscribe);
        break;
    case MQ_UNSUBSCRIBE:
        mq__bk_sess_unsubscribe(c, &pkt.u.subscribe);
        break;
    case MQ_PINGREQ: {
        mq_pkt_t k = {.type = MQ_PINGRESP};
        mq__bk_conn_put(c, &k);
        break;
    }
    case MQ_DISCONNECT:
        return on_disconnect(c, &pkt.u.reason);
    case MQ_AUTH:
    default:
        proto_close(c, MQ_RC_PROTOCOL);
        return H_STOP;
    }
    return c->state == CS_CLOSING ? H_STOP : H_NEXT;
}

/* Handles the whole packets in p[0..n); returns the bytes consumed. */
size_t mq__bk_conn_process_buf(mq_conn_t *c, const uint8_t *p, size_t n)
{
    mq_broker_t *b = c->lp->b;
    size_t off = 0;
    while (c->state != CS_CLOSING && !c->pause) {
        mq_frame_t f;
        mq_err_t e;
        int rc = mq_split(p + off, n - off, b->o.max_packet, &f, &e);
        if (rc == 0)
            break;
        if (rc < 0) {
            if (c->state == CS_ONLINE)
                protocol_error(c, &e);
            else
                mq__bk_conn_close(c, 0, false);
            break;
        }
        int r;
        if (c->state == CS_NEW) {
            if (f.type != MQ_CONNECT) {
                CNT_ADD(c->lp, proto_errors, 1);
                mq__bk_conn_close(c, 0, false); /* first packet must be CONNECT */
                break;
            }
            assert(off == 0 && p == c->in.p);
            r = on_connect(c, &f, false);
        } else {
            r = dispatch(c, &f);
        }
        if (r == H_KEEP)
            break;
        off += f.total;
        if (r == H_STOP)
            break;
    }
    return off;
}

void mq__bk_conn_process(mq_conn_t *c)
{
    size_t off = mq__bk_conn_process_buf(c, c->in.p, c->in.len);
    if (c->state == CS_CLOSING) {
        cn_buf_free(&c->in);
        return;
    }
    if (off) {
        memmove(c->in.p, c->in.p + off, c->in.len - off);
        c->in.len -= off;
    }
    if (c->in.len == 0)
        cn_buf_free(&c->in); /* idle connections hold no buffers */
}
