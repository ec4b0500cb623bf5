/* SPDX-License-Identifier: MIT */
/*
 * mqtt_load.c - `mqtt_load`: an MQTT 3.1.1 / 5.0 load tool for benchmarking a
 * broker (cairn or a peer such as mosquitto) on the standard workload
 * (shared/WORKLOAD.md): topic `devices/<id>/telemetry`, JSON payloads from
 * bench/gen.  One process, one thread, non-blocking sockets on one epoll
 * instance; everything bounded, so it always exits by itself.
 *
 *   mqtt_load --port P [--host 127.0.0.1] [--mqtt 4|5] [--size small|medium]
 *     --mode throughput --pubs N --msgs M --qos 0|1 [--window W]
 *                       [--subs K --sub-qos 0|1] [--idle-ms 2000]
 *     --mode latency    [--msgs M] [--pubs 1 --window 1 --subs 0]
 *     --mode conns      --conns C [--src-addrs A] [--src-first 2] [--burst B]
 *                       [--hold S] [--rss-pid PID]
 *     --mode probe      (CONNECT, wait for CONNACK: exit 0 when accepted)
 *     [--timeout S]     (hard bound on a whole run, default 300)
 *
 * Measurements.
 *   throughput  K subscribers on `devices/+/telemetry` (SUBACKed first), then
 *               N publishers send M pre-encoded PUBLISH packets each.  At QoS 1
 *               at most W are unacknowledged per connection (capped by a 5.0
 *               CONNACK's Receive Maximum).  A QoS 0 publisher ends its stream
 *               with PINGREQ: its PINGRESP proves the broker has processed every
 *               PUBLISH before it (shared/PEERS.md); a QoS 1 publisher is done at
 *               its last PUBACK.  The clock starts at the first PUBLISH write.
 *               msgs_per_s = messages received per subscriber / (last message
 *               received - start); without subscribers it is messages / (last
 *               publisher done - start) and is also printed as pub_msgs_per_s.
 *               The run waits until every subscriber has all N x M messages, or
 *               until nothing has arrived for --idle-ms after the last
 *               publisher finished: a broker may drop messages, and then the
 *               rate is over what arrived and received_pct says how much.
 *               Subscribers check per-device order of the `ts` field
 *               (order_errors, duplicates).
 *   latency     The same with defaults 1 publisher, QoS 1, window 1, no
 *               subscriber: p50/p99 of publish -> PUBACK, stamped just before
 *               the write() that carries the PUBLISH.  (QoS 1 throughput runs
 *               print the same percentiles for their window.)
 *   conns       C idle connections (CONNECT, keepalive 60), at most B
 *               handshakes at a time, each bound to one of A source addresses
 *               127.0.0.<first..first+A-1> (IP_BIND_ADDRESS_NO_PORT, so every
 *               source address has the whole ephemeral port range).  After all
 *               are answered they are held for --hold seconds; `conns` is how
 *               many are still open then.  With --rss-pid the broker's VmRSS is
 *               read before the first connection and at the end of the hold:
 *               bytes_per_conn = (after - before) / conns.
 *
 * Output: human-readable lines, then one line per run
 *   MQTTLOAD mode=... msgs_per_s=... received_pct=... p50_us=... p99_us=... conns=...
 * with `na` where a figure does not apply.  Exit status 0 when the run
 * completed (dropped messages are reported, not an error), 1 when the broker
 * could not be reached or a publisher did not finish, 2 on usage errors.
 *
 * NOTES
 *  1. Publisher i gets the records of devices d with d mod N == i, in the
 *     generator's time-major order, so each device has exactly one publisher
 *     and per-device order is per-publisher order.  The generator runs for as
 *     many simulated points as M needs (beyond the size's hours if necessary).
 *  2. Message k of a publisher has packet id (k mod 65535) + 1.  Because at
 *     most W < 65535 messages are in flight, a PUBACK's id names exactly one
 *     message in [low, low + 65535), low being the oldest unacknowledged.
 *  3. All PUBLISH packets of a publisher are encoded before the clock starts
 *     into one buffer (plus the trailing PINGREQ at QoS 0): sending is
 *     write() of slices of it, so the tool costs little CPU per message.
 *  4. The tool never signals any process; it only reads /proc/<pid>/status.
 *  5. A subscriber only reads, so in a run longer than 1.5 x keepalive a
 *     broker would drop it (MQTT 3.1.1 3.1.2.10): every 30 s each subscriber
 *     and each finished publisher sends PINGREQ, as idle connections do.
 */
#include "base/base.h"
#include "gen.h"
#include "http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define TOPIC_FILTER   "devices/+/telemetry"
#define PID_MOD        65535u
#define KEEPALIVE_S    60
#define PING_NS        (30 * NS_PER_S) /* PINGREQ period of quiet connections */
#define RX_BIG         (256u * 1024)   /* publisher / subscriber read buffer */
#define RX_SMALL       256u            /* idle connections */
#define RX_MAX         (16u * 1024 * 1024)
#define WRITE_CHUNK    (256u * 1024)
#define MAX_EVENTS     512
#define STALL_NS       (10 * NS_PER_S) /* no progress at all: give up */
#define SETUP_NS       (10 * NS_PER_S) /* connect + subscribe phase */
#define NS_PER_S       INT64_C(1000000000)
#define MAX_ERR_PRINTS 5

enum mode { M_THROUGHPUT, M_LATENCY, M_CONNS, M_PROBE };
enum role { R_PUB, R_SUB, R_IDLE };
/*
 * Connection states.  conn_open -> CONNECTING --(writable, SO_ERROR 0)-->
 * CONNSENT --(CONNACK 0)--> READY (publisher, idle) or SUBSENT --(SUBACK)-->
 * READY (subscriber).  A publisher goes ACTIVE at the start signal and DONE at
 * its PINGRESP (QoS 0) or last PUBACK (QoS 1).  Any error or EOF -> CLOSED.
 */
enum state { S_CONNECTING, S_CONNSENT, S_SUBSENT, S_READY, S_ACTIVE, S_DONE, S_CLOSED };

typedef struct buf {
    uint8_t *p;
    size_t len, cap, off; /* off: bytes already consumed (tx) */
} buf_t;

typedef struct pub {
    uint8_t *data;   /* every PUBLISH, then PINGREQ at QoS 0 */
    size_t len, wr;  /* bytes in data, bytes written */
    uint32_t *off;   /* off[k]: start of message k; off[nmsg] = end of PUBLISHes */
    uint32_t nmsg;   /* M */
    uint32_t acked;  /* PUBACKs received */
    uint32_t low;    /* oldest unacknowledged message (NOTES 2) */
    uint32_t sent;   /* messages whose first byte was written (stamped) */
    uint8_t *ackd;   /* per message: PUBACK seen (QoS 1) */
    int64_t *stamp;  /* per message: time of the write() that began it (QoS 1) */
    uint32_t window; /* effective in-flight limit */
    int64_t t_done;
} pub_t;

typedef struct conn {
    int fd;
    uint8_t role, state;
    uint32_t events; /* registered epoll interest */
    buf_t rx, tx;
    pub_t *pub;       /* R_PUB */
    int64_t *last_ts; /* R_SUB: last ts per device */
    uint64_t received, order_err, dups;
    int64_t t_last_rx;
    uint16_t recv_max; /* from a 5.0 CONNACK; 65535 otherwise */
} conn_t;

typedef struct opts {
    int mode;
    const char *host;
    uint16_t port;
    int proto; /* 4 = 3.1.1, 5 = 5.0 */
    const char *size;
    uint32_t pubs, msgs, window, subs;
    int qos, sub_qos;
    uint32_t idle_ms, timeout_s;
    uint32_t conns, src_addrs, src_first, burst;
    double hold_s;
    long rss_pid;
} opts_t;

typedef struct ml {
    opts_t o;
    int ep;
    struct sockaddr_in dst;
    conn_t *c;
    uint32_t nconn;
    uint32_t devices;
    int64_t t_start, t_progress, t_deadline;
    int64_t *lat; /* publish -> PUBACK, ns */
    size_t nlat;
    uint64_t closed, pubs_closed, proto_err, refused, connect_err;
    uint32_t n_ready, n_done, err_prints;
    bool teardown;
} ml_t;

/* ------------------------------------------------------------- helpers */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void buf_reserve(buf_t *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return;
    size_t cap = b->cap ? b->cap * 2 : 64;
    while (cap < b->len + extra)
        cap *= 2;
    b->p = cn_realloc(b->p, cap);
    b->cap = cap;
}

static void buf_free(buf_t *b)
{
    cn_free(b->p);
    memset(b, 0, sizeof(*b));
}

static void put_u8(buf_t *b, uint8_t v)
{
    buf_reserve(b, 1);
    b->p[b->len++] = v;
}

static void put_u16(buf_t *b, uint16_t v)
{
    put_u8(b, (uint8_t)(v >> 8));
    put_u8(b, (uint8_t)v);
}

static void put_bytes(buf_t *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void put_str(buf_t *b, const char *s)
{
    size_t n = strlen(s);
    put_u16(b, (uint16_t)n);
    put_bytes(b, s, n);
}

static void put_varint(buf_t *b, uint32_t v)
{
    do {
        uint8_t d = v & 0x7f;
        v >>= 7;
        put_u8(b, (uint8_t)(v ? d | 0x80 : d));
    } while (v);
}

/* Decodes a variable byte integer: bytes used, 0 if incomplete, -1 if bad. */
static int get_varint(const uint8_t *p, size_t n, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        if ((size_t)i >= n)
            return 0;
        v |= (uint32_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *out = v;
            return i + 1;
        }
    }
    return -1;
}

static uint16_t rd_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * 5.0 property identifiers by the size of their value: 1, 2 or 4 bytes, 'v' a
 * variable byte integer, 's' a two-byte length and data (UTF-8 string or
 * binary), 'p' a string pair.  0: not a property.
 */
static const uint8_t PROP_KIND[0x2b] = {
    [0x01] = 1,   [0x02] = 4,   [0x03] = 's', [0x08] = 's', [0x09] = 's', [0x0b] = 'v', [0x11] = 4,
    [0x12] = 's', [0x13] = 2,   [0x15] = 's', [0x16] = 's', [0x17] = 1,   [0x18] = 4,   [0x19] = 1,
    [0x1a] = 's', [0x1c] = 's', [0x1f] = 's', [0x21] = 2,   [0x22] = 2,   [0x23] = 2,   [0x24] = 1,
    [0x25] = 1,   [0x26] = 'p', [0x27] = 4,   [0x28] = 1,   [0x29] = 1,   [0x2a] = 1,
};

/* Bytes of the value of a property of kind k at p[0..n), or 0 if malformed. */
static size_t prop_len(uint8_t k, const uint8_t *p, size_t n)
{
    uint32_t v = 0;
    int used = 0;
    switch (k) {
    case 1:
    case 2:
    case 4:
        return k;
    case 'v':
        used = get_varint(p, n, &v);
        return used > 0 ? (size_t)used : 0;
    case 's':
        return n >= 2 ? 2 + (size_t)rd_u16(p) : 0;
    case 'p':
        if (n < 2 || n < 4 + (size_t)rd_u16(p))
            return 0;
        return 4 + (size_t)rd_u16(p) + rd_u16(p + 2 + rd_u16(p));
    default:
        return 0;
    }
}

/*
 * Walks 5.0 properties p[0..n) and picks Receive Maximum (0x21).  Returns 0,
 * or -1 when malformed or an unknown identifier makes the walk impossible.
 */
static int props_walk(const uint8_t *p, size_t n, uint16_t *recv_max)
{
    size_t i = 0;
    while (i < n) {
        uint8_t id = p[i++];
        size_t len = id < sizeof PROP_KIND ? prop_len(PROP_KIND[id], p + i, n - i) : 0;
        if (len == 0 || i + len > n)
            return -1;
        if (id == 0x21)
            *recv_max = rd_u16(p + i);
        i += len;
    }
    return 0;
}

static long read_rss_kb(long pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

/* Raises RLIMIT_NOFILE towards want (the hard limit too, when allowed). */
static rlim_t raise_nofile(rlim_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur >= want)
        return rl.rlim_cur;
    if (rl.rlim_max < want) {
        struct rlimit up = {want, want};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            return want;
    }
    rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        getrlimit(RLIMIT_NOFILE, &rl);
    return rl.rlim_cur;
}

/* ----------------------------------------------------------- packets out */

static void pkt_connect(const ml_t *ml, buf_t *b, const char *client_id)
{
    buf_t body = {0};
    put_str(&body, "MQTT");
    put_u8(&body, (uint8_t)ml->o.proto);
    put_u8(&body, 0x02); /* clean session / clean start */
    put_u16(&body, KEEPALIVE_S);
    if (ml->o.proto == 5)
        put_u8(&body, 0); /* no properties */
    put_str(&body, client_id);
    put_u8(b, 0x10);
    put_varint(b, (uint32_t)body.len);
    put_bytes(b, body.p, body.len);
    buf_free(&body);
}

static void pkt_subscribe(const ml_t *ml, buf_t *b)
{
    size_t n = 2 + (ml->o.proto == 5) + 2 + strlen(TOPIC_FILTER) + 1;
    put_u8(b, 0x82);
    put_varint(b, (uint32_t)n);
    put_u16(b, 1);
    if (ml->o.proto == 5)
        put_u8(b, 0);
    put_str(b, TOPIC_FILTER);
    put_u8(b, (uint8_t)ml->o.sub_qos);
}

static void pkt_publish(const ml_t *ml, buf_t *b, const char *topic, const char *payload,
                        size_t plen, uint16_t pid)
{
    size_t tlen = strlen(topic);
    size_t n = 2 + tlen + (ml->o.qos ? 2 : 0) + (ml->o.proto == 5) + plen;
    put_u8(b, (uint8_t)(0x30 | ml->o.qos << 1));
    put_varint(b, (uint32_t)n);
    put_u16(b, (uint16_t)tlen);
    put_bytes(b, topic, tlen);
    if (ml->o.qos)
        put_u16(b, pid);
    if (ml->o.proto == 5)
        put_u8(b, 0);
    put_bytes(b, payload, plen);
}

/* ------------------------------------------------------------ connections */

static void report_err(ml_t *ml, const conn_t *c, const char *what, int err)
{
    if (ml->err_prints++ >= MAX_ERR_PRINTS)
        return;
    fprintf(stderr, "mqtt_load: connection %td: %s%s%s\n", c - ml->c, what, err ? ": " : "",
            err ? strerror(err) : "");
}

static void conn_close(ml_t *ml, conn_t *c, const char *why, int err)
{
    if (c->fd < 0)
        return;
    close(c->fd);
    c->fd = -1;
    if (c->state < S_READY)
        ml->connect_err++;
    else if (!ml->teardown && !(c->role == R_PUB && c->state == S_DONE)) {
        ml->closed++;
        ml->pubs_closed += c->role == R_PUB;
    }
    if (why && !ml->teardown)
        report_err(ml, c, why, err);
    c->state = S_CLOSED;
    buf_free(&c->rx);
    buf_free(&c->tx);
}

static bool pub_can_send(const ml_t *ml, const conn_t *c)
{
    const pub_t *p = c->pub;
    if (c->state != S_ACTIVE || p->wr >= p->len)
        return false;
    if (ml->o.qos == 0)
        return true;
    uint32_t lim = p->acked + p->window;
    return p->wr < p->off[lim < p->nmsg ? lim : p->nmsg];
}

static void conn_arm(ml_t *ml, conn_t *c)
{
    if (c->fd < 0)
        return;
    uint32_t ev = EPOLLIN;
    if (c->state == S_CONNECTING || c->tx.off < c->tx.len || (c->pub && pub_can_send(ml, c)))
        ev |= EPOLLOUT;
    if (ev == c->events)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    if (epoll_ctl(ml->ep, EPOLL_CTL_MOD, c->fd, &e) == 0)
        c->events = ev;
}

static int conn_open(ml_t *ml, conn_t *c, int src)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -errno;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (src > 0) {
        struct sockaddr_in sa = {.sin_family = AF_INET};
        sa.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)src);
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            goto fail;
    }
    if (connect(c->fd, (struct sockaddr *)&ml->dst, sizeof ml->dst) != 0 && errno != EINPROGRESS)
        goto fail;
    c->state = S_CONNECTING;
    c->events = EPOLLIN | EPOLLOUT;
    struct epoll_event e = {.events = c->events, .data.ptr = c};
    if (epoll_ctl(ml->ep, EPOLL_CTL_ADD, c->fd, &e) != 0)
        goto fail;
    return 0;
fail:;
    int rc = -errno;
    close(c->fd);
    c->fd = -1;
    c->state = S_CLOSED;
    return rc;
}

/* Writes pending control bytes, then (active publisher) PUBLISH data. */
static void conn_write(ml_t *ml, conn_t *c)
{
    while (c->tx.off < c->tx.len) {
        ssize_t n = write(c->fd, c->tx.p + c->tx.off, c->tx.len - c->tx.off);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                conn_close(ml, c, "write", errno);
            return;
        }
        c->tx.off += (size_t)n;
        ml->t_progress = now_ns();
    }
    c->tx.len = c->tx.off = 0;
    if (!c->pub || !pub_can_send(ml, c))
        return;
    pub_t *p = c->pub;
    size_t lim = p->len;
    if (ml->o.qos) {
        uint32_t k = p->acked + p->window;
        lim = p->off[k < p->nmsg ? k : p->nmsg];
    }
    size_t n = lim - p->wr < WRITE_CHUNK ? lim - p->wr : WRITE_CHUNK;
    int64_t t = now_ns();
    if (!ml->t_start)
        ml->t_start = t;
    ssize_t w = write(c->fd, p->data + p->wr, n);
    if (w < 0) {
        if (errno != EAGAIN && errno != EINTR)
            conn_close(ml, c, "write", errno);
        return;
    }
    p->wr += (size_t)w;
    ml->t_progress = t;
    while (p->sent < p->nmsg && p->off[p->sent] < p->wr) {
        if (p->stamp)
            p->stamp[p->sent] = t;
        p->sent++;
    }
}

static void conn_send_connect(ml_t *ml, conn_t *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err) {
        if (err == ECONNREFUSED)
            ml->refused++;
        conn_close(ml, c, "connect", err);
        return;
    }
    char id[64];
    snprintf(id, sizeof id, "mqttload-%ld-%td", (long)getpid(), c - ml->c);
    pkt_connect(ml, &c->tx, id);
    c->state = S_CONNSENT;
    conn_write(ml, c);
}

/* ------------------------------------------------------------ packets in */

static void pub_done(ml_t *ml, conn_t *c, int64_t t)
{
    c->state = S_DONE;
    c->pub->t_done = t;
    ml->n_done++;
}

static void on_puback(ml_t *ml, conn_t *c, uint16_t id, int64_t t)
{
    pub_t *p = c->pub;
    if (!p || !p->ackd || id == 0) {
        ml->proto_err++;
        return;
    }
    uint32_t k = p->low + ((id - 1u) + PID_MOD - p->low % PID_MOD) % PID_MOD;
    if (k >= p->sent || p->ackd[k]) {
        ml->proto_err++;
        return;
    }
    p->ackd[k] = 1;
    p->acked++;
    ml->lat[ml->nlat++] = t - p->stamp[k];
    while (p->low < p->nmsg && p->ackd[p->low])
        p->low++;
    if (p->acked == p->nmsg && c->state == S_ACTIVE)
        pub_done(ml, c, t);
}

/* Order check: ts must grow per device (one publisher per device). */
static void sub_check(ml_t *ml, conn_t *c, const uint8_t *topic, size_t tlen, const uint8_t *pl,
                      size_t plen)
{
    static const char pre[] = "devices/dev-";
    static const char tsk[] = "{\"ts\":";
    if (tlen < sizeof pre || memcmp(topic, pre, sizeof pre - 1) != 0 || plen < sizeof tsk ||
        memcmp(pl, tsk, sizeof tsk - 1) != 0)
        return;
    uint64_t d = 0, ts = 0;
    for (size_t i = sizeof pre - 1; i < tlen && topic[i] >= '0' && topic[i] <= '9'; i++)
        d = d * 10 + (topic[i] - '0');
    for (size_t i = sizeof tsk - 1; i < plen && pl[i] >= '0' && pl[i] <= '9'; i++)
        ts = ts * 10 + (pl[i] - '0');
    if (d >= ml->devices)
        return;
    if ((int64_t)ts == c->last_ts[d])
        c->dups++;
    else if ((int64_t)ts < c->last_ts[d])
        c->order_err++;
    else
        c->last_ts[d] = (int64_t)ts;
}

static void on_publish(ml_t *ml, conn_t *c, uint8_t h, const uint8_t *b, size_t n, int64_t t)
{
    int qos = (h >> 1) & 3;
    if (c->role != R_SUB || n < 2 || qos > 1)
        goto bad;
    size_t tlen = rd_u16(b), i = 2 + tlen;
    uint16_t id = 0;
    if (qos) {
        if (i + 2 > n)
            goto bad;
        id = rd_u16(b + i);
        i += 2;
    }
    if (ml->o.proto == 5) {
        uint32_t plen = 0;
        int k = i <= n ? get_varint(b + i, n - i, &plen) : -1;
        if (k <= 0 || i + (size_t)k + plen > n)
            goto bad;
        i += (size_t)k + plen;
    }
    if (i > n)
        goto bad;
    sub_check(ml, c, b + 2, tlen, b + i, n - i);
    c->received++;
    c->t_last_rx = t;
    if (qos) {
        uint8_t ack[4] = {0x40, 0x02, (uint8_t)(id >> 8), (uint8_t)id};
        put_bytes(&c->tx, ack, sizeof ack);
    }
    return;
bad:
    ml->proto_err++;
}

static void on_connack(ml_t *ml, conn_t *c, const uint8_t *b, size_t n)
{
    if (n < 2 || b[1] != 0) {
        conn_close(ml, c, n < 2 ? "short CONNACK" : "CONNACK refused", 0);
        return;
    }
    if (ml->o.proto == 5 && n > 2) {
        uint32_t plen = 0;
        int k = get_varint(b + 2, n - 2, &plen);
        if (k > 0 && 2 + (size_t)k + plen <= n)
            props_walk(b + 2 + k, plen, &c->recv_max);
    }
    if (c->role == R_SUB) {
        pkt_subscribe(ml, &c->tx);
        c->state = S_SUBSENT;
        return;
    }
    c->state = S_READY;
    ml->n_ready++;
}

static void on_suback(ml_t *ml, conn_t *c, const uint8_t *b, size_t n)
{
    size_t i = 2;
    if (ml->o.proto == 5 && n > 2) {
        uint32_t plen = 0;
        int k = get_varint(b + 2, n - 2, &plen);
        i = k > 0 ? 2 + (size_t)k + plen : n;
    }
    if (c->state != S_SUBSENT || i >= n || b[i] >= 0x80) {
        conn_close(ml, c, "SUBACK refused", 0);
        return;
    }
    c->state = S_READY;
    ml->n_ready++;
}

static void on_packet(ml_t *ml, conn_t *c, uint8_t h, const uint8_t *b, size_t n, int64_t t)
{
    switch (h >> 4) {
    case 2:
        on_connack(ml, c, b, n);
        break;
    case 3:
        on_publish(ml, c, h, b, n, t);
        break;
    case 4:
        if (n >= 2)
            on_puback(ml, c, rd_u16(b), t);
        else
            ml->proto_err++;
        break;
    case 9:
        on_suback(ml, c, b, n);
        break;
    case 13: /* PINGRESP: the broker has handled all we sent before PINGREQ */
        if (c->pub && c->state == S_ACTIVE && ml->o.qos == 0 && c->pub->wr == c->pub->len)
            pub_done(ml, c, t);
        break;
    case 14:
        conn_close(ml, c, "DISCONNECT from broker", 0);
        break;
    default:
        ml->proto_err++;
    }
}

static void conn_read(ml_t *ml, conn_t *c)
{
    size_t want = c->role == R_IDLE ? RX_SMALL : RX_BIG;
    if (c->rx.cap - c->rx.len < want / 2)
        buf_reserve(&c->rx, c->rx.cap >= want ? c->rx.cap : want);
    ssize_t r = read(c->fd, c->rx.p + c->rx.len, c->rx.cap - c->rx.len);
    if (r <= 0) {
        if (r == 0 || (errno != EAGAIN && errno != EINTR))
            conn_close(ml, c, r == 0 ? "closed by broker" : "read", r == 0 ? 0 : errno);
        return;
    }
    int64_t t = now_ns();
    ml->t_progress = t;
    c->rx.len += (size_t)r;
    size_t i = 0;
    while (c->fd >= 0 && c->rx.len - i >= 2) {
        uint32_t rl = 0;
        int k = get_varint(c->rx.p + i + 1, c->rx.len - i - 1, &rl);
        if (k < 0 || rl > RX_MAX) {
            conn_close(ml, c, "malformed packet from broker", 0);
            return;
        }
        if (k == 0 || c->rx.len - i - 1 - (size_t)k < rl) {
            if (k && 1 + (size_t)k + rl > c->rx.cap)
                buf_reserve(&c->rx, 1 + (size_t)k + rl);
            break;
        }
        on_packet(ml, c, c->rx.p[i], c->rx.p + i + 1 + k, rl, t);
        i += 1 + (size_t)k + rl;
    }
    if (c->fd < 0)
        return;
    memmove(c->rx.p, c->rx.p + i, c->rx.len - i);
    c->rx.len -= i;
}

static void conn_event(ml_t *ml, conn_t *c, uint32_t ev)
{
    if (c->fd < 0)
        return;
    if (c->state == S_CONNECTING) {
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            conn_send_connect(ml, c);
        conn_arm(ml, c);
        return;
    }
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
        conn_read(ml, c);
    /* PUBACKs just read may have opened the window: write without waiting
     * for another epoll round. */
    if (c->fd >= 0 && (ev & EPOLLOUT || c->tx.len || (c->pub && pub_can_send(ml, c))))
        conn_write(ml, c);
    conn_arm(ml, c);
}

/* One epoll round; timeout in ms. */
static void ml_poll(ml_t *ml, int timeout_ms)
{
    struct epoll_event ev[MAX_EVENTS];
    int n = epoll_wait(ml->ep, ev, MAX_EVENTS, timeout_ms);
    for (int i = 0; i < n; i++)
        conn_event(ml, ev[i].data.ptr, ev[i].events);
}

static void ml_teardown(ml_t *ml)
{
    static const uint8_t disc[2] = {0xe0, 0x00};
    ml->teardown = true;
    for (uint32_t i = 0; i < ml->nconn; i++) {
        conn_t *c = &ml->c[i];
        if (c->fd >= 0 && c->state >= S_READY) {
            ssize_t w = write(c->fd, disc, sizeof disc);
            (void)w; /* best effort: the socket closes next either way */
        }
        conn_close(ml, c, NULL, 0);
    }
}

/* ------------------------------------------------------------- workload */

/* Pre-encodes every publisher's messages (NOTES 1 and 3). */
static int build_payloads(ml_t *ml)
{
    bench_gen_cfg_t cfg;
    if (bench_gen_size(ml->o.size, &cfg) != 0)
        return -1;
    uint32_t n = ml->o.pubs, per = cfg.devices / n;
    if (per == 0) {
        fprintf(stderr, "mqtt_load: more publishers (%u) than devices (%u)\n", n, cfg.devices);
        return -1;
    }
    ml->devices = cfg.devices;
    cfg.points = (ml->o.msgs + per - 1) / per + 1;
    if (cfg.points == 0)
        return -1;
    bench_gen_t *g = bench_gen_new(&cfg);
    buf_t *b = cn_calloc(n, sizeof(*b));
    for (uint32_t i = 0; i < n; i++) {
        conn_t *c = &ml->c[ml->o.subs + i];
        c->pub = cn_calloc(1, sizeof(*c->pub));
        c->pub->nmsg = ml->o.msgs;
        c->pub->off = cn_calloc((size_t)ml->o.msgs + 1, sizeof(uint32_t));
        buf_reserve(&b[i], (size_t)ml->o.msgs * 240);
    }
    bench_gen_rec_t rec;
    char payload[BENCH_GEN_LINE_MAX], id[BENCH_GEN_ID_MAX], topic[64];
    uint32_t full = 0;
    while (full < n && bench_gen_next(g, &rec) == 1) {
        pub_t *p = ml->c[ml->o.subs + rec.dev % n].pub;
        if (p->sent == p->nmsg)
            continue;
        buf_t *pb = &b[rec.dev % n];
        size_t plen = bench_gen_fmt_json_payload(&rec, payload);
        snprintf(topic, sizeof topic, "devices/%s/telemetry", bench_gen_device_id(rec.dev, id));
        p->off[p->sent] = (uint32_t)pb->len;
        pkt_publish(ml, pb, topic, payload, plen, (uint16_t)(p->sent % PID_MOD + 1));
        if (++p->sent == p->nmsg)
            full++;
    }
    bench_gen_free(g);
    for (uint32_t i = 0; i < n; i++) {
        pub_t *p = ml->c[ml->o.subs + i].pub;
        if (b[i].len > UINT32_MAX - 2 || p->sent != p->nmsg)
            return -1;
        p->off[p->nmsg] = (uint32_t)b[i].len;
        if (ml->o.qos == 0) {
            put_u8(&b[i], 0xc0); /* PINGREQ */
            put_u8(&b[i], 0x00);
        } else {
            p->ackd = cn_calloc(p->nmsg, 1);
            p->stamp = cn_calloc(p->nmsg, sizeof(int64_t));
        }
        p->data = b[i].p;
        p->len = b[i].len;
        p->sent = 0;
    }
    cn_free(b);
    return 0;
}

/* ------------------------------------------------------------------ modes */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void fmt_pct(char *out, size_t n, const int64_t *v, size_t cnt, double q)
{
    if (cnt == 0) {
        snprintf(out, n, "na");
        return;
    }
    size_t k = (size_t)(q * (double)(cnt - 1) + 0.5);
    snprintf(out, n, "%.1f", (double)v[k] / 1e3);
}

/* Connects subscribers and publishers; every subscriber SUBACKed. */
static int setup_pubsub(ml_t *ml)
{
    for (uint32_t i = 0; i < ml->nconn; i++) {
        int rc = conn_open(ml, &ml->c[i], 0);
        if (rc < 0) {
            fprintf(stderr, "mqtt_load: connect: %s\n", strerror(-rc));
            return -1;
        }
    }
    int64_t end = now_ns() + SETUP_NS;
    while (ml->n_ready < ml->nconn && now_ns() < end && ml->connect_err == 0)
        ml_poll(ml, 50);
    if (ml->n_ready == ml->nconn)
        return 0;
    fprintf(stderr, "mqtt_load: %u of %u connections ready at %s:%u (%" PRIu64 " refused)\n",
            ml->n_ready, ml->nconn, ml->o.host, ml->o.port, ml->refused);
    return -1;
}

static void print_pubsub(ml_t *ml, bool timed_out)
{
    const opts_t *o = &ml->o;
    uint64_t recv = 0, order = 0, dups = 0;
    int64_t t_rx = 0, t_pub = 0;
    for (uint32_t i = 0; i < ml->nconn; i++) {
        const conn_t *c = &ml->c[i];
        recv += c->received;
        order += c->order_err;
        dups += c->dups;
        t_rx = c->t_last_rx > t_rx ? c->t_last_rx : t_rx;
        if (c->pub && c->pub->t_done > t_pub)
            t_pub = c->pub->t_done;
    }
    uint64_t total = (uint64_t)o->pubs * o->msgs;
    double pub_s = t_pub ? (double)(t_pub - ml->t_start) / 1e9 : 0;
    double sub_s = t_rx ? (double)(t_rx - ml->t_start) / 1e9 : 0;
    double pub_rate = pub_s > 0 && ml->n_done == o->pubs ? (double)total / pub_s : 0;
    double sub_rate = sub_s > 0 && o->subs ? (double)recv / o->subs / sub_s : 0;
    double rate = o->subs ? sub_rate : pub_rate;
    char pct[32] = "na", p50[32], p99[32], r[32] = "na", pr[32] = "na";
    if (o->subs)
        snprintf(pct, sizeof pct, "%.2f", 100.0 * (double)recv / ((double)total * o->subs));
    if (rate > 0)
        snprintf(r, sizeof r, "%.0f", rate);
    if (pub_rate > 0)
        snprintf(pr, sizeof pr, "%.0f", pub_rate);
    qsort(ml->lat, ml->nlat, sizeof(int64_t), cmp_i64);
    fmt_pct(p50, sizeof p50, ml->lat, ml->nlat, 0.50);
    fmt_pct(p99, sizeof p99, ml->lat, ml->nlat, 0.99);
    const char *mode = o->mode == M_LATENCY ? "latency" : "throughput";
    printf("%s: %u publishers x %u msgs, QoS %d, window %u, %u subscriber(s) QoS %d, "
           "MQTT %s\n",
           mode, o->pubs, o->msgs, o->qos, o->window, o->subs, o->sub_qos,
           o->proto == 5 ? "5.0" : "3.1.1");
    printf("  publishers done: %u/%u in %.3f s (%s msg/s into the broker)\n", ml->n_done, o->pubs,
           pub_s, pr);
    if (o->subs)
        printf("  subscribers: %" PRIu64 " of %" PRIu64 " received (%s %%), last at %.3f s: %s "
               "msg/s end to end; order errors %" PRIu64 ", duplicates %" PRIu64 "\n",
               recv, total * o->subs, pct, sub_s, r, order, dups);
    if (o->qos)
        printf("  publish->PUBACK: p50 %s us, p99 %s us (%zu samples)\n", p50, p99, ml->nlat);
    if (ml->closed || ml->proto_err || timed_out)
        printf("  problems: %" PRIu64 " connections closed early, %" PRIu64 " protocol errors%s\n",
               ml->closed, ml->proto_err, timed_out ? ", stopped by --timeout or stall" : "");
    printf("MQTTLOAD mode=%s qos=%d sub_qos=%d pubs=%u msgs=%u window=%u subs=%u msgs_per_s=%s "
           "pub_msgs_per_s=%s received_pct=%s p50_us=%s p99_us=%s conns=na order_errors=%" PRIu64
           " duplicates=%" PRIu64 " closed=%" PRIu64 " proto_errors=%" PRIu64 "\n",
           mode, o->qos, o->sub_qos, o->pubs, o->msgs, o->window, o->subs, r, pr, pct, p50, p99,
           order, dups, ml->closed, ml->proto_err);
}

static void ping_all(ml_t *ml);

static bool subs_complete(const ml_t *ml)
{
    uint64_t total = (uint64_t)ml->o.pubs * ml->o.msgs;
    for (uint32_t i = 0; i < ml->o.subs; i++)
        if (ml->c[i].fd >= 0 && ml->c[i].received < total)
            return false;
    return true;
}

static int run_pubsub(ml_t *ml)
{
    opts_t *o = &ml->o;
    ml->nconn = o->subs + o->pubs;
    ml->c = cn_calloc(ml->nconn, sizeof(conn_t));
    for (uint32_t i = 0; i < ml->nconn; i++) {
        ml->c[i].fd = -1;
        ml->c[i].recv_max = 65535;
        ml->c[i].role = i < o->subs ? R_SUB : R_PUB;
    }
    if (build_payloads(ml) != 0) {
        fprintf(stderr, "mqtt_load: cannot build the workload\n");
        return 1;
    }
    for (uint32_t i = 0; i < o->subs; i++) {
        ml->c[i].last_ts = cn_malloc(ml->devices * sizeof(int64_t));
        for (uint32_t d = 0; d < ml->devices; d++)
            ml->c[i].last_ts[d] = INT64_MIN;
    }
    ml->lat = cn_malloc(((size_t)o->pubs * o->msgs + 1) * sizeof(int64_t));
    if (setup_pubsub(ml) != 0) {
        ml_teardown(ml);
        print_pubsub(ml, true); /* the MQTTLOAD line, with na */
        return 1;
    }
    for (uint32_t i = o->subs; i < ml->nconn; i++) {
        conn_t *c = &ml->c[i];
        c->pub->window = o->window < c->recv_max ? o->window : c->recv_max;
        if (c->pub->window < o->window && i == o->subs)
            printf("  note: broker's Receive Maximum %u caps the window\n", c->recv_max);
        c->state = S_ACTIVE;
        conn_arm(ml, c);
    }
    ml->t_progress = now_ns();
    bool stopped = false;
    int64_t next_ping = ml->t_progress + PING_NS;
    for (;;) {
        ml_poll(ml, 20);
        int64_t t = now_ns();
        if (t >= next_ping) { /* subscribers only read: keep them alive (NOTES 5) */
            ping_all(ml);
            next_ping += PING_NS;
        }
        if (ml->n_done + ml->pubs_closed >= o->pubs) {
            int64_t last = ml->t_progress;
            if (subs_complete(ml) || t - last >= (int64_t)o->idle_ms * 1000000)
                break;
        } else if (t - ml->t_progress > STALL_NS) {
            stopped = true;
            break;
        }
        if (t > ml->t_deadline) {
            stopped = true;
            break;
        }
    }
    ml_teardown(ml);
    print_pubsub(ml, stopped);
    return ml->n_done == o->pubs && !stopped ? 0 : 1;
}

/* Sends PINGREQ on every held connection (keepalive): idle ones, subscribers
 * and publishers that are done. */
static void ping_all(ml_t *ml)
{
    for (uint32_t i = 0; i < ml->nconn; i++) {
        conn_t *c = &ml->c[i];
        if (c->fd >= 0 && (c->state == S_READY || c->state == S_DONE)) {
            put_u8(&c->tx, 0xc0);
            put_u8(&c->tx, 0x00);
            conn_write(ml, c);
            conn_arm(ml, c);
        }
    }
}

static int run_conns(ml_t *ml)
{
    opts_t *o = &ml->o;
    uint32_t asked = o->conns;
    rlim_t lim = raise_nofile((rlim_t)o->conns + 64);
    if (lim < (rlim_t)o->conns + 64) {
        fprintf(stderr, "mqtt_load: RLIMIT_NOFILE is %llu: opening %llu connections at most\n",
                (unsigned long long)lim, (unsigned long long)(lim > 64 ? lim - 64 : 0));
        o->conns = lim > 64 ? (uint32_t)(lim - 64) : 0;
    }
    ml->nconn = o->conns;
    ml->c = cn_calloc(ml->nconn ? ml->nconn : 1, sizeof(conn_t));
    long rss0 = o->rss_pid > 0 ? read_rss_kb(o->rss_pid) : -1;
    int64_t t0 = now_ns();
    uint32_t opened = 0;
    ml->t_progress = t0;
    while (ml->n_ready + ml->connect_err < ml->nconn && now_ns() < ml->t_deadline) {
        while (opened < ml->nconn && opened - ml->n_ready - ml->connect_err < o->burst) {
            conn_t *c = &ml->c[opened];
            c->role = R_IDLE;
            int src = (int)(o->src_first + opened % o->src_addrs);
            int rc = conn_open(ml, c, src);
            opened++;
            if (rc < 0) {
                ml->connect_err++;
                report_err(ml, c, "socket/connect", -rc);
            }
        }
        ml_poll(ml, 50);
        if (now_ns() - ml->t_progress > STALL_NS)
            break;
    }
    double t_conn = (double)(now_ns() - t0) / 1e9;
    printf("conns: %u of %u connected in %.2f s (%" PRIu64 " failed), holding %.1f s\n",
           ml->n_ready, ml->nconn, t_conn, ml->connect_err, o->hold_s);
    int64_t hold_end = now_ns() + (ml->n_ready ? (int64_t)(o->hold_s * 1e9) : 0),
            next_ping = now_ns() + PING_NS;
    while (now_ns() < hold_end) {
        ml_poll(ml, 100);
        if (now_ns() >= next_ping) {
            ping_all(ml);
            next_ping += PING_NS;
        }
    }
    uint32_t held = 0;
    for (uint32_t i = 0; i < ml->nconn; i++)
        held += ml->c[i].fd >= 0 && ml->c[i].state == S_READY;
    long rss1 = o->rss_pid > 0 ? read_rss_kb(o->rss_pid) : -1;
    char bpc[32] = "na", r0[32] = "na", r1[32] = "na";
    if (rss0 >= 0 && rss1 >= 0) {
        snprintf(r0, sizeof r0, "%ld", rss0);
        snprintf(r1, sizeof r1, "%ld", rss1);
        if (held)
            snprintf(bpc, sizeof bpc, "%.0f", (double)(rss1 - rss0) * 1024.0 / held);
        printf("  broker pid %ld VmRSS %ld kB -> %ld kB: %s bytes per idle connection\n",
               o->rss_pid, rss0, rss1, bpc);
    }
    printf("  held %u connections after the hold (%" PRIu64 " closed by the broker)\n", held,
           ml->closed);
    printf("MQTTLOAD mode=conns msgs_per_s=na received_pct=na p50_us=na p99_us=na conns=%u "
           "requested=%u nofile=%llu failed=%" PRIu64 " closed=%" PRIu64 " connect_s=%.2f "
           "rss_before_kb=%s rss_after_kb=%s bytes_per_conn=%s\n",
           held, asked, (unsigned long long)lim, ml->connect_err, ml->closed, t_conn, r0, r1, bpc);
    ml_teardown(ml);
    return held == asked ? 0 : 1;
}

static int run_probe(ml_t *ml)
{
    ml->nconn = 1;
    ml->c = cn_calloc(1, sizeof(conn_t));
    ml->c[0].role = R_IDLE;
    int rc = conn_open(ml, &ml->c[0], 0);
    ml->err_prints = MAX_ERR_PRINTS; /* a failed probe is an answer, not an error */
    while (rc == 0 && ml->n_ready == 0 && ml->c[0].fd >= 0 && now_ns() < ml->t_deadline)
        ml_poll(ml, 20);
    bool ok = ml->n_ready == 1;
    ml_teardown(ml);
    printf("MQTTLOAD mode=probe ok=%d msgs_per_s=na received_pct=na p50_us=na p99_us=na "
           "conns=%d\n",
           ok, ok);
    return ok ? 0 : 1;
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *f)
{
    fprintf(f, "usage: mqtt_load --port P [--host 127.0.0.1] [--mqtt 4|5] [--size small|medium]\n"
               "                 [--timeout S] --mode MODE [options]\n"
               "  throughput  --pubs N --msgs M --qos 0|1 [--window W] [--subs K] [--sub-qos 0|1]\n"
               "              [--idle-ms MS]\n"
               "  latency     [--msgs M] (1 publisher, QoS 1, window 1, no subscriber)\n"
               "  conns       --conns C [--src-addrs A] [--src-first F] [--burst B] [--hold S]\n"
               "              [--rss-pid PID]\n"
               "  probe       CONNECT and wait for CONNACK (exit 0 if accepted)\n"
               "Prints one 'MQTTLOAD mode=...' line per run.  See bench/README.md.\n");
}

static int parse_mode(const char *s)
{
    static const char *const names[] = {"throughput", "latency", "conns", "probe"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

enum { O_IDLE = 256, O_SUBQOS, O_SRCN, O_SRC1, O_RSS };

static int parse_opt(opts_t *o, int ch, const char *a, bool *set_defaults)
{
    uint32_t v = 0;
    switch (ch) {
    case 'm':
        return (o->mode = parse_mode(a)) < 0 ? -1 : 0;
    case 'h':
        o->host = a;
        return 0;
    case 'p':
        return bench_parse_u32(a, 1, 65535, &v) ? -1 : (o->port = (uint16_t)v, 0);
    case 'V':
        return bench_parse_u32(a, 4, 5, &v) ? -1 : (o->proto = (int)v, 0);
    case 's':
        o->size = a;
        return 0;
    case 'n':
        set_defaults[0] = true;
        return bench_parse_u32(a, 1, 10000, &o->pubs);
    case 'M':
        return bench_parse_u32(a, 1, 50000000, &o->msgs);
    case 'q':
        set_defaults[1] = true;
        return bench_parse_u32(a, 0, 1, &v) ? -1 : (o->qos = (int)v, 0);
    case 'w':
        set_defaults[2] = true;
        return bench_parse_u32(a, 1, 65534, &o->window);
    case 'k':
        set_defaults[3] = true;
        return bench_parse_u32(a, 0, 1000, &o->subs);
    case O_SUBQOS:
        return bench_parse_u32(a, 0, 1, &v) ? -1 : (o->sub_qos = (int)v, 0);
    case O_IDLE:
        return bench_parse_u32(a, 1, 600000, &o->idle_ms);
    case 't':
        return bench_parse_u32(a, 1, 86400, &o->timeout_s);
    case 'c':
        return bench_parse_u32(a, 1, 1000000, &o->conns);
    case O_SRCN:
        return bench_parse_u32(a, 1, 250, &o->src_addrs);
    case O_SRC1:
        return bench_parse_u32(a, 1, 254, &o->src_first);
    case 'b':
        return bench_parse_u32(a, 1, 100000, &o->burst);
    case 'H':
        return bench_parse_u32(a, 0, 3600, &v) ? -1 : (o->hold_s = v, 0);
    case O_RSS:
        return bench_parse_u32(a, 1, INT32_MAX, &v) ? -1 : (o->rss_pid = (long)v, 0);
    default:
        return -1;
    }
}

static int parse_args(int argc, char **argv, opts_t *o)
{
    static const struct option lo[] = {{"mode", 1, NULL, 'm'},
                                       {"host", 1, NULL, 'h'},
                                       {"port", 1, NULL, 'p'},
                                       {"mqtt", 1, NULL, 'V'},
                                       {"size", 1, NULL, 's'},
                                       {"pubs", 1, NULL, 'n'},
                                       {"msgs", 1, NULL, 'M'},
                                       {"qos", 1, NULL, 'q'},
                                       {"window", 1, NULL, 'w'},
                                       {"subs", 1, NULL, 'k'},
                                       {"sub-qos", 1, NULL, O_SUBQOS},
                                       {"idle-ms", 1, NULL, O_IDLE},
                                       {"timeout", 1, NULL, 't'},
                                       {"conns", 1, NULL, 'c'},
                                       {"src-addrs", 1, NULL, O_SRCN},
                                       {"src-first", 1, NULL, O_SRC1},
                                       {"burst", 1, NULL, 'b'},
                                       {"hold", 1, NULL, 'H'},
                                       {"rss-pid", 1, NULL, O_RSS},
                                       {"help", 0, NULL, '?'},
                                       {NULL, 0, NULL, 0}};
    *o = (opts_t){.mode = -1,
                  .host = "127.0.0.1",
                  .proto = 4,
                  .size = "small",
                  .pubs = 8,
                  .msgs = 5000,
                  .window = 64,
                  .subs = 1,
                  .idle_ms = 2000,
                  .timeout_s = 300,
                  .conns = 1000,
                  .src_addrs = 8,
                  .src_first = 2,
                  .burst = 256,
                  .hold_s = 2};
    bool set[4] = {false, false, false, false}; /* pubs, qos, window, subs given */
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (ch == '?' || parse_opt(o, ch, optarg, set) != 0) {
            if (ch != '?')
                fprintf(stderr, "mqtt_load: bad value for --%s: '%s'\n", argv[optind - 1] + 2,
                        optarg);
            return -1;
        }
    }
    if (optind != argc || o->mode < 0 || o->port == 0)
        return -1;
    if (o->mode == M_LATENCY) {
        o->pubs = set[0] ? o->pubs : 1;
        o->qos = set[1] ? o->qos : 1;
        o->window = set[2] ? o->window : 1;
        o->subs = set[3] ? o->subs : 0;
        if (o->qos != 1)
            return -1;
    }
    if (o->src_first + o->src_addrs > 255)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    ml_t ml = {0};
    if (parse_args(argc, argv, &ml.o) != 0) {
        usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* a broker that closes on us is an error code, not a death */
    ml.dst.sin_family = AF_INET;
    ml.dst.sin_port = htons(ml.o.port);
    if (inet_pton(AF_INET, ml.o.host, &ml.dst.sin_addr) != 1) {
        fprintf(stderr, "mqtt_load: --host must be an IPv4 address\n");
        return 2;
    }
    ml.ep = epoll_create1(EPOLL_CLOEXEC);
    if (ml.ep < 0) {
        perror("mqtt_load: epoll_create1");
        return 1;
    }
    ml.t_deadline = now_ns() + (int64_t)ml.o.timeout_s * NS_PER_S;
    int rc;
    if (ml.o.mode == M_CONNS)
        rc = run_conns(&ml);
    else if (ml.o.mode == M_PROBE)
        rc = run_probe(&ml);
    else
        rc = run_pubsub(&ml);
    for (uint32_t i = 0; i < ml.nconn; i++) {
        conn_t *c = &ml.c[i];
        if (c->pub) {
            cn_free(c->pub->data);
            cn_free(c->pub->off);
            cn_free(c->pub->ackd);
            cn_free(c->pub->stamp);
            cn_free(c->pub);
        }
        cn_free(c->last_ts);
    }
    cn_free(ml.c);
    cn_free(ml.lat);
    close(ml.ep);
    return rc;
}
