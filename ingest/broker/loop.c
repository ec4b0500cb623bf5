/* SPDX-License-Identifier: MIT */
/*
 * loop.c - the broker's threads: N event loops, each with its own
 * SO_REUSEPORT listening socket per listener (the kernel spreads accepted
 * connections over the loops), an inbox (MPSC list under a mutex + one
 * uv_async) for cross-loop deliveries and hook answers, a check handle that
 * flushes output and outgoing inbox batches once per loop iteration, and a
 * one-second tick for keepalive, will delay and session expiry.
 *
 * NOTES
 *  1. Ordering.  A loop appends cross-loop items to a per-target batch
 *     (lp->outq) while it handles its I/O and splices each batch into the
 *     target's inbox in the check phase.  Batches keep their order and the
 *     inbox is FIFO, so one publisher's messages reach a subscriber on
 *     another loop in publish order.
 *  2. Handover.  A session lives on loop mq__bk_home(client id).  A CONNECT
 *     read on another loop is handed over: the socket is dup()ed, its
 *     handle closed here, and the fd plus the unconsumed input (the CONNECT
 *     and anything after it) are posted to the home loop, which opens the
 *     fd with uv_tcp_open and processes the bytes as if read there.
 *  3. Shutdown.  IT_STOP makes a loop close its listeners and connections
 *     (no wills: the clients did nothing wrong) and then its own handles;
 *     the inbox is marked closed under its mutex so that late posts free
 *     their items instead of touching a closed uv_async.
 */
#include "broker_int.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_BUF (64 * 1024)
#define BACKLOG  4096

static void on_close_conn(uv_handle_t *h);

/* ------------------------------------------------------------- options */

static int64_t sys_now(void *arg)
{
    (void)arg;
    return cn_now_ns();
}

void mq_broker_opts_default(mq_broker_opts_t *o)
{
    static const mq_broker_listener_t def = {"127.0.0.1", 1883, true};
    memset(o, 0, sizeof *o);
    o->listeners = &def;
    o->nlisteners = 1;
    o->nloops = 1;
    o->max_inflight = 64;
    o->max_queued = 10000;
    o->max_out_bytes = 4u << 20;
    o->max_session_expiry = MQ_NEVER;
    o->topic_alias_max = 64;
    o->sys_interval_ns = 10000000000LL;
}

/* --------------------------------------------------------------- inbox */

static void free_item(mq_broker_t *b, mq_item_t *it)
{
    if (it->kind == IT_DELIVER || it->kind == IT_RETAINED)
        mq__bk_msg_unref(it->msg);
    if (it->ackw)
        mq__bk_ackw_unref(b, it->ackw);
    if (it->kind == IT_HANDOVER) {
        if (it->fd >= 0)
            close(it->fd);
        cn_free(it->bytes);
    }
    cn_free(it);
}

static void inbox_push(mq_loop_t *to, mq_item_t *head, mq_item_t *tail)
{
    uv_mutex_lock(&to->inbox_mu);
    if (to->inbox_closed) {
        uv_mutex_unlock(&to->inbox_mu);
        while (head) {
            mq_item_t *nx = head->next;
            free_item(to->b, head);
            head = nx;
        }
        return;
    }
    bool was_empty = to->inbox.head == NULL;
    if (to->inbox.tail)
        to->inbox.tail->next = head;
    else
        to->inbox.head = head;
    to->inbox.tail = tail;
    if (was_empty)
        uv_async_send(&to->async);
    uv_mutex_unlock(&to->inbox_mu);
}

void mq__bk_post(mq_loop_t *from, unsigned to, mq_item_t *it)
{
    it->next = NULL;
    mq_itemq_t *q = &from->outq[to];
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
}

void mq__bk_post_foreign(mq_broker_t *b, unsigned to, mq_item_t *it)
{
    it->next = NULL;
    inbox_push(&b->loops[to], it, it);
}

static void flush_outq(mq_loop_t *lp)
{
    for (unsigned i = 0; i < lp->b->nloops; i++) {
        mq_itemq_t *q = &lp->outq[i];
        if (!q->head)
            continue;
        mq_item_t *h = q->head, *t = q->tail;
        q->head = q->tail = NULL;
        inbox_push(&lp->b->loops[i], h, t);
    }
}

static void handle_item(mq_loop_t *lp, mq_item_t *it)
{
    uint64_t serial = it->target & MQ_SERIAL_MASK;
    switch (it->kind) {
    case IT_DELIVER: {
        mq_sess_t *s = mq__bk_sess_get(lp, serial);
        if (s && !lp->stopping) {
            lp->cur_ackw = it->ackw; /* store writes of this delivery hold the ack */
            mq__bk_sess_deliver(s, it->msg, it->qos, it->flags, it->ids, it->nids, it->from);
            lp->cur_ackw = NULL;
        }
        break;
    }
    case IT_RETAINED: {
        mq_sess_t *s = mq__bk_sess_get(lp, serial);
        if (s && !lp->stopping)
            mq__bk_sess_deliver(s, it->msg, it->qos, MQ_DELIV_RETAINED, it->ids, it->nids, 0);
        break;
    }
    case IT_HANDOVER:
        if (!lp->stopping && mq__bk_accept_fd(lp, it->fd, it->bytes, it->nbytes, it->flags) == 0)
            it->fd = -1;
        break;
    case IT_ACK: {
        mq_conn_t *c = mq__bk_conn_get(lp, serial);
        if (c)
            mq__bk_conn_ack_done(c, it->pid, it->reason);
        break;
    }
    case IT_RESUME: {
        mq_conn_t *c = mq__bk_conn_get(lp, serial);
        if (c)
            mq__bk_conn_set_pause(c, PAUSE_HOOK, false);
        break;
    }
    case IT_PAUSE_SLOW:
    case IT_RESUME_SLOW: {
        mq_conn_t *c = mq__bk_conn_get(lp, serial);
        if (c) {
            if (it->kind == IT_PAUSE_SLOW && !(c->pause & PAUSE_SLOW))
                CNT_ADD(lp, paused, 1);
            mq__bk_conn_set_pause(c, PAUSE_SLOW, it->kind == IT_PAUSE_SLOW);
        }
        break;
    }
    case IT_AUTH: {
        mq_conn_t *c = mq__bk_conn_get(lp, serial);
        if (c)
            mq__bk_conn_auth_done(c, it->reason);
        break;
    }
    case IT_STORED: {
        mq_conn_t *c = mq__bk_conn_get(lp, serial);
        if (c)
            mq__bk_conn_store_done(c, it->pid, it->reason);
        break;
    }
    default:
        break;
    }
    free_item(lp->b, it);
}

static void begin_stop(mq_loop_t *lp);

static void on_async(uv_async_t *a)
{
    mq_loop_t *lp = a->data;
    uv_mutex_lock(&lp->inbox_mu);
    mq_item_t *it = lp->inbox.head;
    lp->inbox.head = lp->inbox.tail = NULL;
    uv_mutex_unlock(&lp->inbox_mu);
    bool stop = false;
    while (it) {
        mq_item_t *nx = it->next;
        if (it->kind == IT_STOP) {
            stop = true;
            cn_free(it);
        } else {
            handle_item(lp, it);
        }
        it = nx;
    }
    if (stop && !lp->stopping)
        begin_stop(lp);
}

/* ------------------------------------------------------- check and tick */

static void on_check(uv_check_t *h)
{
    mq_loop_t *lp = h->data;
    while (lp->dirty) {
        mq_conn_t *c = lp->dirty;
        lp->dirty = c->dirty_next;
        c->dirty_next = NULL;
        c->dirty = false;
        mq__bk_conn_flush(c);
    }
    mq__bk_waits_pump(lp);
    flush_outq(lp);
}

static void on_durable(uv_async_t *a)
{
    mq_loop_t *lp = a->data;
    mq__bk_waits_pump(lp);
}

void mq__bk_conn_dirty(mq_conn_t *c)
{
    if (c->dirty || c->state == CS_CLOSING)
        return;
    c->dirty = true;
    c->dirty_next = c->lp->dirty;
    c->lp->dirty = c;
}

static void on_tick(uv_timer_t *t)
{
    mq_loop_t *lp = t->data;
    int64_t mono = cn_mono_ns();
    size_t n = mq__bk_objs(lp, true, &lp->scratch);
    mq_conn_t **v = (mq_conn_t **)(void *)lp->scratch.p;
    for (size_t i = 0; i < n; i++) {
        mq_conn_t *c = v[i];
        if (c->state == CS_CLOSING)
            continue;
        int64_t limit = c->keepalive ? (int64_t)c->keepalive * 1500000000LL : 0;
        if (c->state == CS_NEW || c->state == CS_AUTH)
            limit = limit ? limit : 30000000000LL; /* CONNECT / auth must come soon */
        if (limit && mono - c->last_rx > limit)
            mq__bk_conn_close(c, 0x8D, true); /* keep alive timeout */
    }
    mq__bk_sess_tick(lp, mono);
}

static void on_sys(uv_timer_t *t)
{
    mq__bk_sys_publish(t->data);
}

/* ------------------------------------------------------------ accepting */

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static mq_conn_t *conn_new(mq_loop_t *lp)
{
    mq_conn_t *c = cn_calloc(1, sizeof *c);
    c->lp = lp;
    c->id = ((uint64_t)lp->idx << MQ_LOOP_SHIFT) | ++lp->next_serial;
    c->tcp.data = c;
    c->last_rx = cn_mono_ns();
    c->max_out_packet = MQ_MAX_PACKET;
    c->recv_max = 65535;
    return c;
}

static void conn_link(mq_loop_t *lp, mq_conn_t *c)
{
    mq__bk_map_put(&lp->objs, c->id & MQ_SERIAL_MASK, (void *)((uintptr_t)c | 1));
}

const char *mq__bk_peer(mq_conn_t *c, char *buf, size_t n)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char host[48] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
            uv_ip6_name(a, host, sizeof host);
            port = ntohs(a->sin6_port);
        } else {
            const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
            uv_ip4_name(a, host, sizeof host);
            port = ntohs(a->sin_port);
        }
    }
    snprintf(buf, n, "%s:%d", host, port);
    return buf;
}

static bool over_limit(mq_broker_t *b)
{
    uint64_t n = atomic_fetch_add_explicit(&b->nconns, 1, memory_order_relaxed);
    if (b->o.max_conns && n >= b->o.max_conns) {
        atomic_fetch_sub_explicit(&b->nconns, 1, memory_order_relaxed);
        return true;
    }
    return false;
}

void mq__bk_conn_start_reading(mq_conn_t *c)
{
    if (c->reading || c->state == CS_CLOSING)
        return;
    c->reading = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0;
}

static void on_conn(uv_stream_t *server, int status)
{
    mq_loop_t *lp = server->loop->data;
    if (status < 0 || lp->stopping)
        return;
    mq_conn_t *c = conn_new(lp);
    c->anon_ok = (bool)(uintptr_t)server->data;
    if (uv_tcp_init(&lp->loop, &c->tcp) != 0) {
        cn_free(c);
        return;
    }
    conn_link(lp, c);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 || over_limit(lp->b)) {
        CNT_ADD(lp, refused, 1);
        c->state = CS_CLOSING;
        uv_close((uv_handle_t *)&c->tcp, on_close_conn);
        return;
    }
    c->counted = true;
    CNT_ADD(lp, accepted, 1);
    uv_tcp_nodelay(&c->tcp, 1);
    mq__bk_conn_start_reading(c);
}

int mq__bk_accept_fd(mq_loop_t *lp, int fd, const uint8_t *bytes, size_t n, bool anon_ok)
{
    mq_conn_t *c = conn_new(lp);
    c->anon_ok = anon_ok;
    if (uv_tcp_init(&lp->loop, &c->tcp) != 0) {
        cn_free(c);
        return -1;
    }
    if (uv_tcp_open(&c->tcp, fd) != 0) {
        /* The handle does not own fd: the caller closes it. */
        conn_link(lp, c);
        c->state = CS_CLOSING;
        uv_close((uv_handle_t *)&c->tcp, on_close_conn);
        return -1;
    }
    conn_link(lp, c);
    c->counted = true; /* counted by the loop that accepted it */
    cn_buf_put(&c->in, bytes, n);
    mq__bk_conn_start_reading(c);
    mq__bk_conn_process(c);
    return 0;
}

unsigned mq__bk_home(const mq_broker_t *b, const char *cid, size_t len)
{
    if (b->nloops == 1)
        return 0;
    return (unsigned)(cn_hash64(cid, len) % b->nloops);
}

static void on_close_handover(uv_handle_t *h)
{
    on_close_conn(h);
}

int mq__bk_handover(mq_conn_t *c, unsigned home)
{
    mq_loop_t *lp = c->lp;
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0)
        return CN_EINVAL;
    int nfd = dup(fd);
    if (nfd < 0)
        return -errno;
    mq_item_t *it = cn_calloc(1, sizeof *it);
    it->kind = IT_HANDOVER;
    it->fd = nfd;
    it->flags = c->anon_ok;
    it->nbytes = c->in.len;
    it->bytes = cn_malloc(c->in.len ? c->in.len : 1);
    memcpy(it->bytes, c->in.p, c->in.len);
    c->in.len = 0;
    /* This loop forgets the socket without counting a disconnect. */
    c->counted = false;
    c->state = CS_CLOSING;
    if (c->reading)
        uv_read_stop((uv_stream_t *)&c->tcp);
    uv_close((uv_handle_t *)&c->tcp, on_close_handover);
    mq__bk_post(lp, home, it);
    return 0;
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    mq_conn_t *c = h->data;
    mq_loop_t *lp = c->lp;
    (void)hint;
    if (!lp->rbuf_busy) {
        lp->rbuf_busy = true;
        *buf = uv_buf_init((char *)lp->rbuf, READ_BUF);
        return;
    }
    cn_buf_reserve(&c->in, READ_BUF);
    *buf = uv_buf_init((char *)c->in.p + c->in.len, (unsigned)(c->in.cap - c->in.len));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    mq_conn_t *c = s->data;
    mq_loop_t *lp = c->lp;
    bool shared = buf->base == (char *)lp->rbuf;
    if (n > 0) {
        CNT_ADD(lp, bytes_in, (uint64_t)n);
        c->last_rx = cn_mono_ns();
        if (shared && c->in.len == 0 && c->state == CS_ONLINE) {
            /* The common case: packets handled straight from the loop's
             * buffer, only a partial one at the end is copied. */
            const uint8_t *p = (const uint8_t *)buf->base;
            size_t used = mq__bk_conn_process_buf(c, p, (size_t)n);
            if (c->state != CS_CLOSING && used < (size_t)n)
                cn_buf_put(&c->in, p + used, (size_t)n - used);
            lp->rbuf_busy = false;
            return;
        }
        if (shared)
            cn_buf_put(&c->in, buf->base, (size_t)n);
        else
            c->in.len += (size_t)n;
    }
    if (shared)
        lp->rbuf_busy = false;
    if (n < 0) {
        mq__bk_conn_close(c, 0, false);
        return;
    }
    if (n > 0)
        mq__bk_conn_process(c);
}

static void on_close_conn(uv_handle_t *h)
{
    mq_conn_t *c = h->data;
    mq_loop_t *lp = c->lp;
    mq__bk_map_del(&lp->objs, c->id & MQ_SERIAL_MASK);
    if (c->counted)
        atomic_fetch_sub_explicit(&lp->b->nconns, 1, memory_order_relaxed);
    mq__bk_conn_free_mem(c);
    cn_free(c);
}

void mq__bk_conn_closed_handle(mq_conn_t *c);
void mq__bk_conn_closed_handle(mq_conn_t *c)
{
    uv_close((uv_handle_t *)&c->tcp, on_close_conn);
}

/* ------------------------------------------------------------ listeners */

static int resolve(const char *host, uint16_t port, struct sockaddr_storage *ss)
{
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if (strchr(host, ':'))
        return uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss);
    return uv_ip4_addr(host, port, (struct sockaddr_in *)ss);
}

/* One listening socket with SO_REUSEPORT; *port (IN/OUT) 0 = pick one. */
static int open_listen_fd(const char *host, uint16_t *port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    int rc = resolve(host, *port, &ss);
    if (rc < 0)
        return rc;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    socklen_t len =
        ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, BACKLOG) != 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    if (*port == 0) {
        getsockname(fd, (struct sockaddr *)&ss, &len);
        *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    }
    return fd;
}

static int open_listeners(mq_broker_t *b)
{
    for (size_t l = 0; l < b->o.nlisteners; l++) {
        uint16_t port = b->lst[l].port;
        for (unsigned i = 0; i < b->nloops; i++) {
            mq_loop_t *lp = &b->loops[i];
            int fd = open_listen_fd(b->lst[l].host, &port);
            if (fd < 0)
                return fd;
            uv_tcp_t *t = &lp->listeners[l];
            uv_tcp_init(&lp->loop, t);
            t->data = (void *)(uintptr_t)b->lst[l].anonymous;
            lp->nlisteners = l + 1;
            int rc = cn_from_uv(uv_tcp_open(t, fd));
            if (rc == 0)
                rc = cn_from_uv(uv_listen((uv_stream_t *)t, BACKLOG, on_conn));
            if (rc < 0)
                return rc;
        }
        b->ports[l] = port;
    }
    return 0;
}

/* ------------------------------------------------------------ lifecycle */

int mq_broker_new(const mq_broker_opts_t *opts, mq_broker_t **out)
{
    if (!opts->nloops || !opts->nlisteners || opts->nloops > 255 || !opts->max_inflight)
        return CN_EINVAL;
    mq_broker_t *b = cn_calloc(1, sizeof *b);
    b->o = *opts;
    if (!b->o.clock.now_ns)
        b->o.clock.now_ns = sys_now;
    if (!b->o.max_packet)
        b->o.max_packet = MQ_MAX_PACKET;
    b->lst = cn_calloc(opts->nlisteners, sizeof *b->lst);
    b->ports = cn_calloc(opts->nlisteners, sizeof *b->ports);
    for (size_t i = 0; i < opts->nlisteners; i++) {
        b->lst[i] = opts->listeners[i];
        b->lst[i].host = cn_strdup(opts->listeners[i].host);
    }
    b->o.listeners = b->lst;
    b->nloops = opts->nloops;
    int rc = mq_router_new(&b->router);
    if (rc < 0) {
        mq_broker_free(b);
        return rc;
    }
    b->retained = mq__bk_ret_new();
    *out = b;
    return 0;
}

static int loop_init(mq_broker_t *b, mq_loop_t *lp, unsigned idx)
{
    lp->b = b;
    lp->idx = idx;
    int rc = cn_from_uv(uv_loop_init(&lp->loop));
    if (rc < 0)
        return rc;
    lp->loop.data = lp;
    uv_mutex_init(&lp->inbox_mu);
    lp->outq = cn_calloc(b->nloops, sizeof *lp->outq);
    lp->listeners = cn_calloc(b->o.nlisteners, sizeof *lp->listeners);
    lp->rbuf = cn_malloc(READ_BUF);
    lp->cid_cap = 256;
    lp->cid_tab = cn_calloc(lp->cid_cap, sizeof *lp->cid_tab);
    mq_router_res_init(&lp->res);
    uv_async_init(&lp->loop, &lp->async, on_async);
    lp->async.data = lp;
    uv_async_init(&lp->loop, &lp->dur_async, on_durable);
    lp->dur_async.data = lp;
    atomic_init(&lp->dur_want, false);
    uv_check_init(&lp->loop, &lp->check);
    lp->check.data = lp;
    uv_check_start(&lp->check, on_check);
    uv_timer_init(&lp->loop, &lp->tick);
    lp->tick.data = lp;
    uv_timer_start(&lp->tick, on_tick, 1000, 1000);
    uv_timer_init(&lp->loop, &lp->sys_timer);
    lp->sys_timer.data = lp;
    if (idx == 0 && b->o.sys_interval_ns > 0) {
        uint64_t ms = (uint64_t)(b->o.sys_interval_ns / 1000000);
        uv_timer_start(&lp->sys_timer, on_sys, 0, ms ? ms : 1);
    }
    return 0;
}

static void loop_main(void *arg)
{
    mq_loop_t *lp = arg;
    /* The router reader belongs to the thread that matches with it. */
    mq_router_reader_new(lp->b->router, 4096, &lp->reader);
    uv_run(&lp->loop, UV_RUN_DEFAULT);
    mq_router_reader_free(lp->reader);
    lp->reader = NULL;
}

int mq_broker_start(mq_broker_t *b)
{
    b->loops = cn_calloc(b->nloops, sizeof *b->loops);
    b->started_mono = cn_mono_ns();
    b->started_wall = mq__bk_now(b);
    int rc = 0;
    unsigned i;
    for (i = 0; i < b->nloops && rc == 0; i++)
        rc = loop_init(b, &b->loops[i], i);
    if (rc == 0 && mq__bk_p_load(b) < 0)
        rc = CN_ECORRUPT;
    if (rc == 0)
        rc = open_listeners(b);
    if (rc == 0 && b->o.store) /* acks wait for commits (persist.c NOTES 5) */
        mq_store_watch(b->o.store, mq__bk_store_durable, b);
    b->started = true;
    for (unsigned j = 0; j < b->nloops; j++) {
        mq_loop_t *lp = &b->loops[j];
        if (j >= i)
            break;
        if (uv_thread_create(&lp->thread, loop_main, lp) != 0) {
            rc = rc ? rc : -EAGAIN;
            break;
        }
        lp->thread_started = true;
    }
    if (rc < 0)
        mq_broker_stop(b);
    return rc;
}

uint16_t mq_broker_port(const mq_broker_t *b, size_t i)
{
    return i < b->o.nlisteners ? b->ports[i] : 0;
}

static void close_cb_noop(uv_handle_t *h)
{
    (void)h;
}

static void begin_stop(mq_loop_t *lp)
{
    lp->stopping = true;
    for (size_t i = 0; i < lp->nlisteners; i++)
        if (!uv_is_closing((uv_handle_t *)&lp->listeners[i]))
            uv_close((uv_handle_t *)&lp->listeners[i], close_cb_noop);
    size_t n = mq__bk_objs(lp, true, &lp->scratch);
    mq_conn_t **v = (mq_conn_t **)(void *)lp->scratch.p;
    for (size_t i = 0; i < n; i++)
        if (v[i]->state != CS_CLOSING)
            mq__bk_conn_close(v[i], 0x8B, true); /* server shutting down */
    on_check(&lp->check);                        /* flush DISCONNECTs and batches */
    uv_close((uv_handle_t *)&lp->check, close_cb_noop);
    uv_close((uv_handle_t *)&lp->tick, close_cb_noop);
    uv_close((uv_handle_t *)&lp->sys_timer, close_cb_noop);
    uv_mutex_lock(&lp->inbox_mu);
    lp->inbox_closed = true;
    mq_item_t *it = lp->inbox.head;
    lp->inbox.head = lp->inbox.tail = NULL;
    uv_mutex_unlock(&lp->inbox_mu);
    while (it) {
        mq_item_t *nx = it->next;
        free_item(lp->b, it);
        it = nx;
    }
    uv_close((uv_handle_t *)&lp->async, close_cb_noop);
    uv_close((uv_handle_t *)&lp->dur_async, close_cb_noop);
}

static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, close_cb_noop);
}

void mq_broker_stop(mq_broker_t *b)
{
    if (!b || !b->started || b->stopped)
        return;
    b->stopped = true;
    if (b->o.store) /* no wake-up of a closing dur_async */
        mq_store_watch(b->o.store, NULL, NULL);
    for (unsigned i = 0; i < b->nloops; i++) {
        mq_loop_t *lp = &b->loops[i];
        if (!lp->thread_started)
            continue;
        mq_item_t *it = cn_calloc(1, sizeof *it);
        it->kind = IT_STOP;
        mq__bk_post_foreign(b, i, it);
    }
    for (unsigned i = 0; i < b->nloops; i++) {
        mq_loop_t *lp = &b->loops[i];
        if (lp->thread_started)
            uv_thread_join(&lp->thread);
    }
    /* Loops that never ran (start failed) still have handles. */
    for (unsigned i = 0; i < b->nloops; i++) {
        mq_loop_t *lp = &b->loops[i];
        if (!lp->b)
            continue;
        if (!lp->thread_started) {
            uv_walk(&lp->loop, walk_close, NULL);
            uv_run(&lp->loop, UV_RUN_DEFAULT);
        }
    }
}

static void loop_free(mq_loop_t *lp)
{
    if (!lp->b)
        return;
    lp->stopping = true; /* sessions stay in the store (mq__bk_sess_destroy) */
    size_t n = mq__bk_objs(lp, false, &lp->scratch);
    for (size_t i = 0; i < n; i++)
        mq__bk_sess_destroy(((mq_sess_t **)(void *)lp->scratch.p)[i], false);
    cn_free(lp->cid_tab);
    mq__bk_map_free(&lp->objs);
    for (unsigned i = 0; i < lp->b->nloops; i++) {
        for (mq_item_t *it = lp->outq[i].head, *nx; it; it = nx) {
            nx = it->next;
            free_item(lp->b, it);
        }
        lp->outq[i].head = lp->outq[i].tail = NULL;
    }
    cn_free(lp->outq);
    cn_free(lp->listeners);
    cn_free(lp->rbuf);
    cn_buf_free(&lp->scratch);
    cn_buf_free(&lp->scratch_blob);
    mq_router_res_free(&lp->res);
    uv_loop_close(&lp->loop);
    uv_mutex_destroy(&lp->inbox_mu);
}

void mq_broker_free(mq_broker_t *b)
{
    if (!b)
        return;
    mq_broker_stop(b);
    if (b->loops) {
        /* First drop every cross-loop reference (acks waiting for the
         * store post into other loops' inboxes), then free the loops. */
        for (unsigned i = 0; i < b->nloops; i++) {
            mq_loop_t *lp = &b->loops[i];
            if (!lp->b || !lp->outq)
                continue;
            mq__bk_waits_drop(lp);
            for (unsigned j = 0; j < b->nloops; j++) {
                for (mq_item_t *it = lp->outq[j].head, *nx; it; it = nx) {
                    nx = it->next;
                    free_item(b, it);
                }
                lp->outq[j].head = lp->outq[j].tail = NULL;
            }
        }
        for (unsigned i = 0; i < b->nloops; i++)
            loop_free(&b->loops[i]);
        cn_free(b->loops);
    }
    mq__bk_ret_free(b->retained);
    mq_router_free(b->router);
    for (size_t i = 0; i < b->o.nlisteners; i++)
        cn_free((char *)b->lst[i].host);
    cn_free(b->lst);
    cn_free(b->ports);
    cn_free(b);
}

/* ------------------------------------------------------ foreign threads */

static unsigned loop_of(const mq_broker_t *b, uint64_t id)
{
    unsigned l = (unsigned)(id >> MQ_LOOP_SHIFT);
    return l < b->nloops ? l : 0;
}

static void post_conn_item(mq_broker_t *b, uint8_t kind, uint64_t conn, uint16_t pid,
                           uint8_t reason)
{
    if (!b->loops)
        return;
    mq_item_t *it = cn_calloc(1, sizeof *it);
    it->kind = kind;
    it->target = conn;
    it->pid = pid;
    it->reason = reason;
    mq__bk_post_foreign(b, loop_of(b, conn), it);
}

void mq_broker_ack(mq_broker_t *b, const mq_ack_token_t *tok, uint8_t reason)
{
    post_conn_item(b, IT_ACK, tok->conn, tok->packet_id, reason);
}

void mq_broker_resume(mq_broker_t *b, const mq_ack_token_t *tok)
{
    post_conn_item(b, IT_RESUME, tok->conn, 0, 0);
}

void mq_broker_auth_done(mq_broker_t *b, uint64_t token, uint8_t reason)
{
    post_conn_item(b, IT_AUTH, token, 0, reason);
}

#define RD(lp, f) atomic_load_explicit(&(lp)->c.f, memory_order_relaxed)

void mq_broker_stats(mq_broker_t *b, mq_broker_stats_t *st)
{
    memset(st, 0, sizeof *st);
    for (unsigned i = 0; b->loops && i < b->nloops; i++) {
        mq_loop_t *lp = &b->loops[i];
        st->clients_connected += RD(lp, connected);
        st->clients_total += RD(lp, sessions);
        st->conns_accepted += RD(lp, accepted);
        st->conns_refused += RD(lp, refused);
        st->msgs_received += RD(lp, msgs_in);
        st->msgs_sent += RD(lp, msgs_out);
        st->bytes_received += RD(lp, bytes_in);
        st->bytes_sent += RD(lp, bytes_out);
        st->msgs_dropped += RD(lp, dropped);
        st->msgs_dropped_qos0 += RD(lp, dropped_qos0);
        st->msgs_expired += RD(lp, expired);
        st->publishers_paused += RD(lp, paused);
        st->protocol_errors += RD(lp, proto_errors);
    }
    st->subscriptions = mq_router_count(b->router);
    st->retained = mq__bk_ret_count(b->retained);
    if (b->o.store)
        st->retained += mq_store_retain_count(b->o.store);
}
