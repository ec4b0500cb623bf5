/* SPDX-License-Identifier: MIT */
/*
 * broker.h - the MQTT broker: listeners, N event-loop threads, sessions,
 * QoS 0/1/2 in both directions, retained messages, wills, $SYS statistics,
 * limits, and the hooks the server plugs authentication, ACLs and storage
 * into.  Packets are decoded by ingest/mqtt/codec.h and routed by
 * ingest/router.h; this module owns sockets, timers and session state.
 *
 * Lifecycle (main thread):
 *   mq_broker_new(opts)   validates opts, opens nothing
 *   mq_broker_start()     binds every listener (one SO_REUSEPORT socket per
 *                         listener and loop), starts the loop threads
 *   mq_broker_stop()      closes listeners and connections (wills of closed
 *                         clients are published), joins the threads; idempotent
 *   mq_broker_free()
 *
 * Threads.  Every connection and every session lives on one loop thread (a
 * session's "home" loop is chosen from a hash of its client id; a
 * connection accepted elsewhere is handed over right after its CONNECT, so
 * a client-id takeover is always local to one loop).  A PUBLISH is routed
 * on the publisher's loop; deliveries to sessions on other loops go through
 * one MPSC queue per loop (+ uv_async), in order, so messages from one
 * publisher reach each subscriber in publish order.  The hooks below run on
 * loop threads; mq_broker_ack, mq_broker_resume and mq_broker_auth_done may
 * be called from any thread.
 *
 * Slow subscribers (the policy, see README "MQTT"):
 *  - QoS 1/2 messages beyond a session's in-flight window wait in the
 *    session's queue, at most `max_queued` messages; a message arriving at
 *    a full queue is dropped and counted (messages_dropped, $SYS
 *    broker/messages/dropped).  Offline persistent sessions use the same
 *    queue and limit.
 *  - Backpressure: a publisher (on any loop) that delivers to an online
 *    session whose queue is over half its limit, or whose socket has more
 *    than max_out_bytes/8 unsent, stops being read until that session
 *    drained below a quarter / a sixteenth (TCP then slows the publisher
 *    down instead of cairn dropping).
 *  - QoS 0 messages to a connection with more than `max_out_bytes`
 *    unsent are dropped and counted (messages_dropped_qos0).
 */
#ifndef MQ_BROKER_H
#define MQ_BROKER_H

#include "base/base.h"
#include "mqtt/codec.h"

typedef struct mq_broker mq_broker_t;

/* ------------------------------------------------------------------ hooks */

/* What a CONNECT asks for (all borrowed for the duration of the call). */
typedef struct mq_broker_auth_req {
    const char *client_id; /* NUL-terminated */
    mq_bin_t username;     /* p NULL when absent */
    mq_bin_t password;     /* p NULL when absent */
    const char *peer;      /* "127.0.0.1:5555" */
    uint8_t level;         /* 3, 4, 5 */
    bool listener_anonymous_ok;
} mq_broker_auth_req_t;

/*
 * Connect authentication, ASYNCHRONOUS: called on the connection's loop
 * thread; the answer is given later, from any thread, with
 * mq_broker_auth_done(broker, token, reason): reason 0 accepts, an MQTT 5
 * CONNACK reason (0x86 bad user name or password, 0x87 not authorized)
 * refuses.  A token whose connection went away meanwhile is ignored.  The
 * hook must answer exactly once.  NULL hook: anonymous clients are accepted
 * where allowed (see mq_broker_listener_t), others refused with 0x87.
 */
typedef void (*mq_broker_auth_fn)(void *arg, const mq_broker_auth_req_t *req, uint64_t token);

/* ACL access kinds; the same values as ingest/auth's enum mq_auth_access. */
enum mq_broker_acl_access { MQ_BROKER_ACL_WRITE = 2, MQ_BROKER_ACL_SUBSCRIBE = 3 };
/*
 * ACL check, SYNCHRONOUS, on a loop thread; must not block.  `user` is the
 * CONNECT's user name (NUL-terminated; NULL when it had none), client_id
 * the id in force (assigned if it was empty).  `topic` is a topic name
 * (WRITE: a PUBLISH; also a will, at CONNECT) or a filter (SUBSCRIBE,
 * "$share/<group>/" removed).  Return true to allow.  Refused: PUBLISH is
 * acknowledged with 0x87 (5.0) or silently dropped (3.1.1, as mosquitto
 * does), SUBSCRIBE gets 0x87 / 0x80 for that filter, a will makes the
 * CONNECT fail with 0x87 / return code 5.  NULL hook: everything allowed.
 */
typedef bool (*mq_broker_acl_fn)(void *arg, const char *user, const char *client_id,
                                 const char *topic, size_t len, int access);

/* A PUBLISH accepted from a client (borrowed during the call only). */
typedef struct mq_msg_view {
    const char *topic; /* not NUL-terminated */
    size_t topic_len;
    const uint8_t *payload;
    size_t payload_len;
    uint8_t qos;
    bool retain;
    unsigned loop;           /* index of the calling event loop, 0..nloops-1 */
    const char *client_id;   /* NUL-terminated; "" for a will */
    const mq_props_t *props; /* level 5 properties (user properties: mq_props_user_next) */
    int64_t recv_ns;         /* wall clock when the packet was handled */
} mq_msg_view_t;

/* Identifies one PUBLISH of one connection (a value; copy it). */
typedef struct mq_ack_token {
    uint64_t conn;      /* loop index << 56 | connection serial */
    uint16_t packet_id; /* 0 at QoS 0 */
    uint8_t qos;
} mq_ack_token_t;

/* on_publish results. */
#define MQ_PUB_ACK_NOW   0 /* acknowledge now (QoS 1/2) */
#define MQ_PUB_ACK_LATER 1 /* mq_broker_ack() will follow (QoS 1/2 only) */
#define MQ_PUB_PAUSE     2 /* flag, OR it in: stop reading this client until mq_broker_resume() */
#define MQ_PUB_RETRY                                                                               \
    4 /* not taken: stop reading; offer the same PUBLISH again after                               \
         mq_broker_resume() (nothing was routed or acknowledged) */

/*
 * The ingest hook (issue 4 stores what it is handed).  Contract:
 *  - Called on the publisher's loop thread (m->loop) for every PUBLISH
 *    that passed the protocol checks and the ACL, in the order the client
 *    sent them, before the message is routed to subscribers.  Routing
 *    happens right after the call (whatever it returns, except RETRY):
 *    subscribers do not wait for durability, as with mosquitto.  Wills
 *    published by the broker are handed over too, with tok NULL (nothing
 *    to acknowledge or pause).  Messages the broker publishes itself
 *    ($SYS, mq_broker_publish) are not.
 *  - *m and *tok are borrowed for the call; copy what is kept.
 *  - Return MQ_PUB_ACK_NOW, or for QoS 1/2 MQ_PUB_ACK_LATER and then call
 *    mq_broker_ack(broker, tok, 0) exactly once, from any thread, when the
 *    message is durable (reason >= 0x80 refuses it: PUBACK/PUBREC with that
 *    reason at level 5; at 3.1.1 the connection is closed, as the protocol
 *    has no negative ack).  Acknowledgements are sent in publish order
 *    (MQTT 4.6): an early ack waits for the earlier ones.  QoS 0 never
 *    waits: ACK_LATER is ignored for it.
 *  - OR MQ_PUB_PAUSE in to stop reading the publisher's socket after this
 *    packet (backpressure); mq_broker_resume(broker, tok) reads again.
 *  - Return MQ_PUB_RETRY when the message cannot be taken now (the engine
 *    says CN_EFULL): the broker stops reading the client, keeps the packet,
 *    and calls the hook again with the same message after
 *    mq_broker_resume(broker, tok).  Nothing is routed or acknowledged
 *    until the hook takes it.
 */
typedef int (*mq_publish_fn)(void *arg, const mq_msg_view_t *m, const mq_ack_token_t *tok);

/* ---------------------------------------------------------------- options */

typedef struct mq_broker_listener {
    const char *host; /* IPv4/IPv6 literal or "localhost" */
    uint16_t port;    /* 0 picks a free port (mq_broker_port tells) */
    bool anonymous;   /* clients without a user name accepted (no auth hook needed) */
} mq_broker_listener_t;

typedef struct mq_broker_opts {
    const mq_broker_listener_t *listeners;
    size_t nlisteners;
    unsigned nloops;             /* event-loop threads, >= 1 */
    uint32_t max_packet;         /* bytes, incoming and default outgoing cap; 0 = 268435460 */
    uint32_t max_conns;          /* 0 = unlimited */
    uint16_t max_inflight;       /* outgoing QoS 1/2 window per client, and our Receive Maximum */
    uint32_t max_queued;         /* QoS 1/2 messages queued per session (online and offline) */
    size_t max_out_bytes;        /* unsent bytes per connection before backpressure / QoS 0 drops */
    uint32_t max_keepalive;      /* seconds; 0 = no limit; larger client values are lowered (5.0) */
    uint32_t max_session_expiry; /* seconds; 0xFFFFFFFF = never */
    uint16_t topic_alias_max;    /* aliases accepted from a client (5.0) */
    int64_t sys_interval_ns;     /* $SYS publish period; 0 = off */
    mq_broker_auth_fn auth;
    mq_broker_acl_fn acl;
    mq_publish_fn on_publish;
    void *hook_arg;
    cn_clock_t clock; /* wall clock for message expiry; .now_ns NULL = system */
    /* Optional ingest/store/store.h store (borrowed; open before
     * mq_broker_start, close after mq_broker_free).  With it, persistent
     * sessions (expiry > 0) with their subscriptions, queued and in-flight
     * QoS 1/2 messages and incoming QoS 2 ids, and retained messages (except
     * $SYS/...) are written through to it and survive a restart:
     * mq_broker_start loads the sessions.  Without it all of that lives in
     * memory only.  With it, the PUBACK/PUBREC of a QoS 1/2 PUBLISH also
     * waits until the store committed the message's retained copy and its
     * queue entries for persistent sessions (persist.c NOTES 5), besides
     * the on_publish hook's mq_broker_ack. */
    struct mq_store *store;
} mq_broker_opts_t;

/* Frees the broker's form of a retained message that the broker attaches
 * to the store's cached message (one copy shared by every subscriber):
 * set mq_store_opts_t.msg_ext_free to it when opening opts.store.  Any
 * thread. */
void mq_broker_msg_ext_free(void *ext);

/* Sensible defaults (one loopback listener on 1883, one loop). */
void mq_broker_opts_default(mq_broker_opts_t *o /* OUT */);

/* Counters (monotonic unless noted); mq_broker_stats sums every loop. */
typedef struct mq_broker_stats {
    uint64_t clients_connected; /* gauge */
    uint64_t clients_total;     /* sessions held, connected or not; gauge */
    uint64_t conns_accepted, conns_refused;
    uint64_t msgs_received, msgs_sent, bytes_received, bytes_sent;
    uint64_t msgs_dropped;      /* QoS 1/2: session queue full or expired */
    uint64_t msgs_dropped_qos0; /* QoS 0: connection over max_out_bytes */
    uint64_t msgs_expired;      /* message expiry passed while queued */
    uint64_t publishers_paused; /* times a publisher was paused for a slow session */
    uint64_t subscriptions;     /* gauge */
    uint64_t retained;          /* gauge */
    uint64_t protocol_errors;
} mq_broker_stats_t;

/* ------------------------------------------------------------------- API */

/* Copies opts (listener hosts included).  0 or CN_EINVAL. */
int mq_broker_new(const mq_broker_opts_t *opts, mq_broker_t **out /* OUT */);
/* Binds every listener and starts the threads.  0 or -errno (-EADDRINUSE). */
int mq_broker_start(mq_broker_t *b);
/* The bound port of listener i (after start). */
uint16_t mq_broker_port(const mq_broker_t *b, size_t i);
/* Stops and joins; idempotent.  Main thread. */
void mq_broker_stop(mq_broker_t *b);
/* NULL is a no-op; stops first. */
void mq_broker_free(mq_broker_t *b);
/* Sums the loops' counters (relaxed reads).  Any thread. */
void mq_broker_stats(mq_broker_t *b, mq_broker_stats_t *st /* OUT */);

/* Hook answers; any thread; unknown/stale tokens are ignored. */
void mq_broker_ack(mq_broker_t *b, const mq_ack_token_t *tok, uint8_t reason);
void mq_broker_resume(mq_broker_t *b, const mq_ack_token_t *tok);
void mq_broker_auth_done(mq_broker_t *b, uint64_t token, uint8_t reason);

/*
 * Publishes a message from the broker itself (e.g. an error report to
 * "$cairn/errors/<client id>" from inside the ingest hook): routed to
 * subscribers like a client's PUBLISH at QoS `qos` (0..2), retained when
 * `retain`; not handed to on_publish.  Call on loop thread `loop` only
 * (the hook's m->loop).  Copies everything.  0 or CN_EINVAL (bad topic
 * name, qos, loop).
 */
int mq_broker_publish(mq_broker_t *b, unsigned loop, const char *topic, size_t tlen,
                      const void *payload, size_t n, uint8_t qos, bool retain);

#endif /* MQ_BROKER_H */
