/* SPDX-License-Identifier: MIT */
/*
 * broker_int.h - the broker's internal types, shared by the files of
 * ingest/broker/ only: loops (loop.c), connections (conn.c), sessions
 * (sess.c), messages, maps and the retained store (msg.c), $SYS (sys.c).
 *
 * Ownership and threads:
 *  - mq_loop_t: one per event-loop thread; everything reachable from it
 *    (connections, sessions, maps) is touched by that thread only, except
 *    the inbox (mutex) and the counters (relaxed atomics, read by stats).
 *  - mq_msg_t: immutable after creation, refcounted (atomic); shared by
 *    every delivery, queue entry and the retained store, across loops.
 *  - The router and the retained store are shared (their own locks).
 *
 * Session state machine (sess.c):
 *
 *   (none) --sess_attach(clean or new)--> ONLINE --conn_close--> sess_detach
 *      ONLINE: conn != NULL                 |
 *         ^                                 +-- expiry 0 --> sess_destroy
 *         |                                 +-- expiry > 0 --> OFFLINE
 *         +----sess_attach(resume)----------------------------'  |
 *                                       expire_at passed (loop_tick) --> sess_destroy
 */
#ifndef MQ_BROKER_INT_H
#define MQ_BROKER_INT_H

#include "broker.h"
#include "router.h"

#include <stdatomic.h>
#include <uv.h>

typedef struct mq_loop mq_loop_t;
typedef struct mq_conn mq_conn_t;
typedef struct mq_sess mq_sess_t;

#define MQ_LOOP_SHIFT  56
#define MQ_SERIAL_MASK ((1ULL << MQ_LOOP_SHIFT) - 1)
#define MQ_NEVER       UINT32_MAX /* session expiry "never" */

/* ---------------------------------------------------------------- messages */

/* One published message.  `pub` borrows data[] (topic first, then a copy of
 * the PUBLISH body); packet_id/dup/topic alias in it are meaningless. */
typedef struct mq_msg {
    atomic_uint ref;
    uint8_t qos;
    bool retain;
    int64_t expire_at;  /* wall ns; 0 = never */
    uint64_t publisher; /* session id or MQ_ROUTER_NOBODY */
    size_t size;        /* bytes held, for $SYS */
    mq_publish_t pub;
    uint8_t data[];
} mq_msg_t;

/* topic (validated), pub (props/payload borrowed from [body, body+body_len)).
 * Returns a message with one reference. */
mq_msg_t *mq__bk_msg_new(const uint8_t *topic, size_t tlen, const mq_publish_t *pub,
                         const uint8_t *body, size_t body_len, int64_t now_ns);
static inline mq_msg_t *mq__bk_msg_ref(mq_msg_t *m)
{
    atomic_fetch_add_explicit(&m->ref, 1, memory_order_relaxed);
    return m;
}
void mq__bk_msg_unref(mq_msg_t *m);

/* u64 -> pointer open-addressing map (key 0 reserved). Loop-local. */
typedef struct mq_map {
    uint64_t *keys;
    void **vals;
    size_t cap, n;
} mq_map_t;
void *mq__bk_map_get(const mq_map_t *m, uint64_t k);
void mq__bk_map_put(mq_map_t *m, uint64_t k, void *v);
void mq__bk_map_del(mq_map_t *m, uint64_t k);
void mq__bk_map_free(mq_map_t *m);

/* Retained messages: topic -> message, one copy shared by all readers. */
typedef struct mq_retained mq_retained_t;
mq_retained_t *mq__bk_ret_new(void);
void mq__bk_ret_free(mq_retained_t *r);
/* Takes a reference of m; an empty payload clears the topic. */
void mq__bk_ret_set(mq_retained_t *r, mq_msg_t *m);
/* Appends a reference of every retained message matching filter to
 * *out (cn_buf_t of mq_msg_t *); returns how many. */
size_t mq__bk_ret_match(mq_retained_t *r, const char *filter, size_t flen, cn_buf_t *out);
size_t mq__bk_ret_count(mq_retained_t *r);

/* ---------------------------------------------------------------- inbox */

enum {
    IT_DELIVER = 1,
    IT_HANDOVER,
    IT_ACK,
    IT_RESUME,
    IT_AUTH,
    IT_PAUSE_SLOW,
    IT_RESUME_SLOW,
    IT_STOP,
    IT_RETAINED, /* a retained message for a new subscription (persist.c) */
    IT_STORED    /* the store committed what a PUBLISH caused (persist.c NOTES 5) */
};

/* An acknowledgement (PUBACK/PUBREC) waiting for the store to commit every
 * queue insert its PUBLISH caused, on any loop (persist.c NOTES 5). */
typedef struct mq_ackw {
    atomic_uint refs;      /* routing + cross-loop deliveries + store waits */
    atomic_uchar reason;   /* 0, or 0x80 when a store write failed */
    uint64_t conn;         /* publishing connection */
    uint16_t pid;
} mq_ackw_t;

/* A loop's wait for the store: `a` is released once seq is durable. */
typedef struct mq_swait {
    uint64_t seq;
    mq_ackw_t *a;
} mq_swait_t;

/* A cross-thread item (one allocation, freed by the receiver). */
typedef struct mq_item {
    struct mq_item *next;
    uint8_t kind;
    uint8_t qos, flags; /* DELIVER */
    uint8_t reason;     /* ACK, AUTH */
    uint16_t pid;       /* ACK */
    uint32_t nids;      /* DELIVER: ids[] */
    int fd;             /* HANDOVER */
    uint64_t target;    /* session id (DELIVER) or conn id (ACK, RESUME, AUTH, *_SLOW) */
    uint64_t from;      /* DELIVER: publishing conn id (0 = broker); PAUSE_SLOW: session id */
    mq_msg_t *msg;      /* DELIVER, owns a reference */
    mq_ackw_t *ackw;    /* DELIVER: the publisher's ack waiting for it (a reference), or NULL */
    size_t nbytes;      /* HANDOVER: bytes[] */
    uint8_t *bytes;
    uint32_t ids[];
} mq_item_t;

typedef struct mq_itemq {
    mq_item_t *head, *tail;
} mq_itemq_t;

/* ----------------------------------------------------------------- queues */

enum { QM_QUEUED = 0, QM_PUBLISHED, QM_RELEASED };

/* An outgoing QoS 1/2 message: queued or in flight. */
typedef struct mq_qmsg {
    struct mq_qmsg *next;
    mq_msg_t *msg;   /* NULL once PUBREC arrived (QoS 2, QM_RELEASED) */
    uint64_t mid;    /* store message id; 0 = not stored */
    uint32_t pbytes; /* bytes the store counts for it */
    uint16_t pid;
    uint8_t qos, state;
    bool retain;
    uint8_t nids;
    uint32_t ids[]; /* subscription identifiers */
} mq_qmsg_t;

/* A FIFO of queue entries; its length lives beside it in the session
 * (packed with the other counters: idle sessions stay in a small size
 * class). */
typedef struct mq_qlist {
    mq_qmsg_t *head, *tail;
} mq_qlist_t;

/* One subscription as the session remembers it (for unsubscribe, session
 * end and persistence). */
typedef struct mq_ssub {
    struct mq_ssub *next;
    mq_sub_opts_t opts;
    uint16_t len;
    char filter[];
} mq_ssub_t;

/* Session state most sessions never need, allocated on first use (idle
 * sessions stay in a small size class). */
typedef struct mq_sext {
    mq_msg_t *will;    /* pending will (connection gone, delay running) */
    int64_t will_at;   /* monotonic ns */
    uint64_t *waiters; /* conn ids of publishers paused for this session */
    uint16_t *qos2_in; /* incoming QoS 2 packet ids awaiting PUBREL */
    uint32_t nwaiters, waiters_cap;
    uint32_t nqos2_in, qos2_cap;
} mq_sext_t;

struct mq_sess {
    uint64_t id; /* loop << 56 | serial: the router's subscriber id */
    char *client_id;
    char *user;          /* user name of the current/last CONNECT, NULL if none */
    mq_sess_t *cid_next; /* client id hash chain */
    mq_conn_t *conn;     /* NULL while offline */
    mq_loop_t *lp;
    int64_t expire_at; /* monotonic ns while offline */
    mq_ssub_t *subs;
    mq_qlist_t inflight; /* sent, awaiting PUBACK / PUBREC / PUBCOMP */
    mq_qlist_t queue;    /* waiting for the window */
    mq_sext_t *x;        /* NULL until a will waits, a publisher waits or QoS 2 arrives */
    uint32_t expiry;     /* session expiry interval, s (MQ_NEVER) */
    uint32_t n_inflight, n_queued;
    uint32_t next_mid; /* store message ids (persist.c) */
    uint16_t next_pid;
    bool stored; /* the store holds this session (persist.c) */
};

/* ------------------------------------------------------------ connections */

enum { CS_NEW = 0, CS_AUTH, CS_ONLINE, CS_CLOSING };
enum { PAUSE_HOOK = 1, PAUSE_SLOW = 2, PAUSE_AUTH = 4, PAUSE_OUT = 8 };

typedef struct mq_pending_ack {
    uint16_t pid;
    uint8_t qos, done, reason;
    uint8_t wait_store; /* also waits for IT_STORED (persist.c NOTES 5) */
} mq_pending_ack_t;

/* Output buffers and the write request, allocated while there is output
 * (idle connections carry none). */
typedef struct mq_io {
    uv_write_t req;
    cn_buf_t out;  /* packets not yet handed to the kernel */
    cn_buf_t wbuf; /* the bytes of the write in flight */
} mq_io_t;

/* Rarely used connection state, allocated on first use. */
typedef struct mq_cext {
    mq_bin_t *alias_in;     /* topic alias -> topic (owned copies), topic_alias_max slots */
    char **alias_out;       /* alias - 1 -> topic we assigned (owned), alias_max_out slots */
    uint16_t alias_max_out; /* client's Topic Alias Maximum (capped) */
    uint16_t alias_out_next;
    mq_pending_ack_t *acks; /* ring of acks awaiting the ingest hook */
    uint32_t acks_head, acks_n, acks_cap;
} mq_cext_t;

struct mq_conn {
    uv_tcp_t tcp;
    mq_loop_t *lp;
    mq_sess_t *sess;
    uint64_t id;             /* loop << 56 | serial */
    mq_conn_t *dirty_next;   /* loop's flush list */
    mq_io_t *io;             /* NULL while there is nothing to write */
    mq_cext_t *x;            /* NULL until topic aliases or delayed acks are used */
    cn_buf_t in;             /* unhandled input (NOTES 1 of conn.c) */
    mq_msg_t *will;          /* will of this connection (CONNECT) */
    int64_t last_rx;         /* monotonic ns */
    uint32_t max_out_packet; /* client's Maximum Packet Size */
    uint32_t will_delay;     /* s */
    uint16_t keepalive;      /* s */
    uint16_t recv_max;       /* client's Receive Maximum */
    bool dirty, writing, reading, counted, need_process;
    bool anon_ok; /* listener allows anonymous clients */
    uint8_t state, level, pause;
};

/* ------------------------------------------------------------------ loops */

typedef struct mq_counters {
    atomic_uint_fast64_t connected, sessions, accepted, refused, msgs_in, msgs_out, bytes_in,
        bytes_out, dropped, dropped_qos0, expired, paused, proto_errors;
} mq_counters_t;

struct mq_loop {
    mq_broker_t *b;
    unsigned idx;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t async;
    uv_check_t check;
    uv_timer_t tick;
    uv_timer_t sys_timer; /* loop 0 only */
    uv_tcp_t *listeners;  /* one per broker listener */
    size_t nlisteners;
    uv_mutex_t inbox_mu;
    mq_itemq_t inbox;
    bool inbox_closed;
    mq_itemq_t *outq;    /* per target loop, flushed in check */
    mq_conn_t *conns;    /* all connections */
    mq_conn_t *dirty;    /* connections with output to flush */
    mq_sess_t **cid_tab; /* client id hash table */
    size_t cid_cap, cid_n;
    /* serial -> session, or connection | 1 (both take serials from
     * next_serial, so they never collide); also the list of both that
     * the tick walks (mq__bk_objs). */
    mq_map_t objs;
    uint64_t next_serial;
    mq_router_reader_t *reader;
    mq_router_res_t res;
    cn_buf_t scratch;      /* retained lookups, object snapshots */
    cn_buf_t scratch_blob; /* persist.c */
    uint8_t *rbuf;         /* 64 KiB read buffer */
    bool rbuf_busy;
    bool stopping, thread_started;
    /* Acks waiting for store commits (persist.c NOTES 5): the waits of
     * this loop (a ring, seq ascending), the async the store's watcher
     * wakes when dur_want is set, and the publish being routed. */
    uv_async_t dur_async;
    atomic_bool dur_want;
    mq_swait_t *waits;
    size_t waits_head, waits_n, waits_cap;
    mq_ackw_t *cur_ackw; /* ack of the message being routed or delivered */
    uint64_t pub_conn;   /* publisher of the message being routed (0: none) */
    uint16_t pub_pid;
    mq_counters_t c;
};

struct mq_broker {
    mq_broker_opts_t o;
    mq_broker_listener_t *lst; /* owned copy */
    uint16_t *ports;
    mq_loop_t *loops;
    unsigned nloops;
    mq_router_t *router;
    mq_retained_t *retained;
    atomic_uint_fast64_t nconns;
    atomic_uint_fast64_t n_stored; /* sessions with s->stored (persist.c) */
    int64_t started_mono, started_wall;
    bool started, stopped;
};

#define CNT_ADD(lp, f, v) atomic_fetch_add_explicit(&(lp)->c.f, (v), memory_order_relaxed)
#define CNT_SUB(lp, f, v) atomic_fetch_sub_explicit(&(lp)->c.f, (v), memory_order_relaxed)

static inline int64_t mq__bk_now(const mq_broker_t *b)
{
    return b->o.clock.now_ns(b->o.clock.arg);
}

static inline mq_sess_t *mq__bk_sess_get(mq_loop_t *lp, uint64_t id)
{
    uintptr_t v = (uintptr_t)mq__bk_map_get(&lp->objs, id & MQ_SERIAL_MASK);
    return (v & 1) ? NULL : (mq_sess_t *)v;
}
static inline mq_conn_t *mq__bk_conn_get(mq_loop_t *lp, uint64_t id)
{
    uintptr_t v = (uintptr_t)mq__bk_map_get(&lp->objs, id & MQ_SERIAL_MASK);
    return (v & 1) ? (mq_conn_t *)(v - 1) : NULL;
}
/* Snapshot of the loop's connections (conns != 0) or sessions into out
 * (cn_buf_t of pointers), so callers may close/destroy while walking. */
size_t mq__bk_objs(mq_loop_t *lp, bool conns, cn_buf_t *out);
mq_cext_t *mq__bk_cext(mq_conn_t *c);

/* loop.c */
/* Queues `it` for loop `to` (sent in from's check phase, in order). Loop thread. */
void mq__bk_post(mq_loop_t *from, unsigned to, mq_item_t *it);
void mq__bk_conn_dirty(mq_conn_t *c);
/* Hands the connection (after its CONNECT, which stays in c->in) to loop
 * `home`; 0, or a negative code (the connection is untouched then). */
int mq__bk_handover(mq_conn_t *c, unsigned home);
void mq__bk_conn_closed_handle(mq_conn_t *c); /* uv_close with the loop's close callback */
void mq__bk_conn_start_reading(mq_conn_t *c);
/* "host:port" of the client into buf (for logs and the auth hook); returns buf. */
const char *mq__bk_peer(mq_conn_t *c, char *buf, size_t n);
unsigned mq__bk_home(const mq_broker_t *b, const char *cid, size_t len);
int mq__bk_accept_fd(mq_loop_t *lp, int fd, const uint8_t *bytes, size_t n, bool anon_ok);

/* conn.c */
void mq__bk_conn_start(mq_conn_t *c);
void mq__bk_conn_close(mq_conn_t *c, uint8_t reason, bool send_disconnect);
void mq__bk_conn_process(mq_conn_t *c); /* handles what c->in holds */
/* Handles whole packets in p[0..n) (an online connection reading from the
 * loop's buffer without copying); returns the bytes consumed. */
size_t mq__bk_conn_process_buf(mq_conn_t *c, const uint8_t *p, size_t n);
/* Appends a PUBLISH; CN_ELIMIT (nothing written) over the client's Maximum Packet Size. */
int mq__bk_conn_write_publish(mq_conn_t *c, const mq_msg_t *m, uint8_t qos, uint16_t pid,
                              bool retain, bool dup, const uint32_t *ids, uint32_t nids);
void mq__bk_conn_put(mq_conn_t *c, const mq_pkt_t *pkt);
void mq__bk_conn_flush(mq_conn_t *c);
void mq__bk_conn_set_pause(mq_conn_t *c, uint8_t bit, bool on);
void mq__bk_conn_ack_done(mq_conn_t *c, uint16_t pid, uint8_t reason);
void mq__bk_conn_store_done(mq_conn_t *c, uint16_t pid, uint8_t reason); /* IT_STORED */
void mq__bk_conn_auth_done(mq_conn_t *c, uint8_t reason);
size_t mq__bk_conn_unsent(const mq_conn_t *c);
void mq__bk_conn_free_mem(mq_conn_t *c);

/* sess.c */
mq_sess_t *mq__bk_sess_find(mq_loop_t *lp, const char *cid, size_t len);
int mq__bk_sess_attach(mq_conn_t *c, const mq_connect_t *ck, const char *cid, bool *present);
void mq__bk_sess_detach(mq_conn_t *c, bool publish_will);
void mq__bk_sess_destroy(mq_sess_t *s, bool publish_will);
#define MQ_DELIV_RETAINED 0x80 /* route flag: retained message sent on subscribe */
/* Delivers m to s; `from` is the publishing connection's id (0: none), the
 * one paused when s is congested. */
void mq__bk_sess_deliver(mq_sess_t *s, mq_msg_t *m, uint8_t qos, uint8_t flags, const uint32_t *ids,
                         uint32_t nids, uint64_t from);

void mq__bk_sess_drain(mq_sess_t *s);
void mq__bk_sess_resend(mq_sess_t *s);
/* PUBACK / PUBREC / PUBCOMP from the client: 0 (PUBREC: send PUBREL), 1
 * (done, nothing to send), CN_ENOTFOUND (no such packet id in flight). */
int mq__bk_sess_acked(mq_sess_t *s, uint8_t type, uint16_t pid, uint8_t reason);
void mq__bk_sess_subscribe(mq_conn_t *c, const mq_subscribe_t *sub);
void mq__bk_sess_unsubscribe(mq_conn_t *c, const mq_subscribe_t *sub);
void mq__bk_sess_tick(mq_loop_t *lp, int64_t mono);
void mq__bk_sess_release_waiters(mq_sess_t *s);
bool mq__bk_qos2_has(mq_sess_t *s, uint16_t pid);
void mq__bk_qos2_add(mq_sess_t *s, uint16_t pid);
bool mq__bk_qos2_del(mq_sess_t *s, uint16_t pid);
uint32_t mq__bk_qos2_count(const mq_sess_t *s);
mq_sext_t *mq__bk_sext(mq_sess_t *s);

mq_sess_t *mq__bk_sess_new(mq_loop_t *lp, const char *cid);
void mq__bk_sess_restore_msg(mq_sess_t *s, mq_qmsg_t *q); /* persist.c load */
void mq__bk_sess_restore_sub(mq_sess_t *s, const char *f, size_t len, const mq_sub_opts_t *o);
/* Retains m: in the store (returns the store's seq), or in memory ($SYS,
 * no store; returns 0). */
int64_t mq__bk_retain(mq_broker_t *b, mq_msg_t *m);
void mq__bk_post_foreign(mq_broker_t *b, unsigned to, mq_item_t *it); /* any thread */

/* publish path (sess.c): routes m from `from` (NULL: the broker itself). */
void mq__bk_route(mq_loop_t *lp, mq_msg_t *m, mq_conn_t *from);
void mq__bk_publish_will(mq_loop_t *lp, mq_msg_t *will);

/* persist.c: write-through to opts.store (every function is a no-op
 * without a store, and for sessions that are not persistent). */
struct mq_store;
void mq__bk_p_sess_put(mq_sess_t *s, uint8_t level, bool connected);
void mq__bk_p_sess_del(mq_sess_t *s);
void mq__bk_p_sub(mq_sess_t *s, const char *f, size_t len,
                  const mq_sub_opts_t *o);        /* o NULL: del */
int mq__bk_p_msg_put(mq_sess_t *s, mq_qmsg_t *q); /* 0 or CN_EFULL (drop it) */
void mq__bk_p_msg_state(mq_sess_t *s, const mq_qmsg_t *q);
void mq__bk_p_msg_del(mq_sess_t *s, const mq_qmsg_t *q);
void mq__bk_p_qos2(mq_sess_t *s, uint16_t pid, bool add);
/* Stores a retained message (not $SYS): the store's seq (> 0), a negative
 * code when the store refused it, 0 when there is no store or for $SYS. */
int64_t mq__bk_p_retain(mq_broker_t *b, const mq_msg_t *m);
/* Looks up retained messages for a new subscription; they arrive later as
 * IT_RETAINED items on the session's loop.  False when there is no store. */
bool mq__bk_p_retain_match(mq_sess_t *s, const char *filter, size_t len, uint8_t qos,
                           uint32_t sub_id);
/* Acks waiting for the store (NOTES 5 of persist.c).  ackw_begin before
 * routing a QoS 1/2 PUBLISH of connection `conn` (on its loop; `retain`:
 * it is stored as retained, so it waits even when no session is
 * persistent); ackw_end
 * after it: true when the ack must wait for an IT_STORED item (which then
 * comes with the final reason).  ackw_wait records a store seq (> 0) or a
 * failure (< 0) caused by the message being routed or delivered on this
 * loop; ackw_for_post returns a reference for a cross-loop delivery (NULL
 * when nothing needs one).  Loop thread. */
void mq__bk_ackw_begin(mq_loop_t *lp, uint64_t conn, uint16_t pid, bool retain);
bool mq__bk_ackw_end(mq_loop_t *lp);
void mq__bk_ackw_wait(mq_loop_t *lp, int64_t seq);
mq_ackw_t *mq__bk_ackw_for_post(mq_loop_t *lp);
void mq__bk_ackw_unref(mq_broker_t *b, mq_ackw_t *a); /* any thread */
/* Releases the waits that are durable (dur_async and check phase). */
void mq__bk_waits_pump(mq_loop_t *lp);
/* Drops every wait without waiting (shutdown, after the threads ended). */
void mq__bk_waits_drop(mq_loop_t *lp);
/* The store watcher (mq_store_watch): wakes loops that wait. */
void mq__bk_store_durable(void *arg, uint64_t seq);
/* Restores every stored session onto its home loop (mq_broker_start, before
 * the loop threads run).  Returns the count or a negative code. */
int mq__bk_p_load(mq_broker_t *b);

/* sys.c */
void mq__bk_sys_publish(mq_loop_t *lp);

#endif /* MQ_BROKER_INT_H */
