/* SPDX-License-Identifier: MIT */
/*
 * http.c - the HTTP/1.1 server: listener, connections, request parsing
 * (http-parser 2.9, the parser Node.js used for years), limits, timeouts,
 * response writing, routing of /ping and /health, and the parking lists
 * that let a /write wait for durability without blocking the loop.
 *
 * One loop on one thread.  Every connection handles one request at a time:
 * when a request is complete the parser is paused and the socket is no
 * longer read until the response is queued, so pipelined requests are
 * answered in order and a client whose write waits for the engine stops
 * being read (back-pressure through TCP).  A request handled on the worker
 * pool (job.h) is the exception: its socket stays read (pipelined bytes
 * are buffered, up to 64 KiB) so that a client that disconnects cancels
 * it.
 *
 * NOTES
 *  1. Received bytes are appended to c->in and parsed from there; the
 *     shared 64 KiB read buffer is free again when read_cb returns.
 *  2. A connection is freed only in the close callback of the second of its
 *     two handles (tcp, timer), after it left the parking lists.
 *  3. Rejected requests (413, 431, 400) are answered with Connection: close,
 *     then the socket is half-closed and drained for a moment ("lingering
 *     close") so that the client reads the response instead of a reset.
 *  4. Shutdown: srv_http_stop -> stop_async -> begin_shutdown closes the
 *     listener and idle connections; busy ones close after their response;
 *     drain_timer closes the rest; when the last connection is gone,
 *     final_close closes the loop's own handles and the thread returns.
 *  5. The listener has TCP_DEFER_ACCEPT (1 s): the kernel hands a
 *     connection to accept when its first bytes arrived, so the loop wakes
 *     once per new connection instead of twice (for the handshake, then
 *     for the request) - every HTTP client speaks first.  A connection that
 *     stays silent reaches accept after a second (one SYN-ACK resent) and
 *     is then timed out as any idle one.  Measured with curl, a new
 *     connection per request (bench/run query's client) on the 'medium'
 *     data: /ping 352 -> 337 us (median of 300), Q2 of bench/run query
 *     p50 -15 us in three rounds of 200, the server's context switches
 *     -35 %.
 *  6. The request of a new connection is therefore read in the accept
 *     callback itself (on_listener): waiting for the loop to report it
 *     cost a turn of the loop (epoll_ctl, an epoll_wait that returns at
 *     once, the loop's timers) before the request was even parsed.  Only
 *     bytes are taken there; EOF and errors reach on_read as before.  The
 *     listener has TCP_NODELAY, which accepted sockets inherit on Linux,
 *     so a connection needs no setsockopt of its own.
 *  7. The listening socket is cairn's own, watched by a uv_poll_t, and
 *     on_listener calls accept4 once per readiness: libuv's uv_listen
 *     accepts until EAGAIN, and an accept4 that finds nothing costs
 *     3.6 us here (the kernel sets up a socket before it looks at the
 *     queue) - on the path of every request, since the loop ran the
 *     request's job only after that second call.  More waiting
 *     connections keep the socket readable (level-triggered), so each
 *     turn of the loop takes the next.  Out of descriptors (EMFILE,
 *     ENFILE) the listener pauses SRV_HTTP_ACCEPT_PAUSE_MS instead of
 *     waking the loop again at once; clients wait in the backlog.
 */
#include "http.h"

#include "http_int.h"
#include "job.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define LINGER_MS 2000

static const http_parser_settings SETTINGS;
static void conn_process(srv_conn_t *c);
static void conn_close(srv_conn_t *c);
static void final_close(srv_http_t *h);
static void on_retry(uv_timer_t *t);
static void on_timer(uv_timer_t *t);
static void set_reading(srv_conn_t *c, bool on);

/* ------------------------------------------------------------- helpers */

bool srv_http_is_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "localhost") == 0;
}

void srv__json_escape(cn_buf_t *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            cn_buf_put_u8(out, '\\');
            cn_buf_put_u8(out, ch);
        } else if (ch == '\n') {
            cn_buf_put(out, "\\n", 2);
        } else if (ch == '\r') {
            cn_buf_put(out, "\\r", 2);
        } else if (ch == '\t') {
            cn_buf_put(out, "\\t", 2);
        } else if (ch < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            cn_buf_put(out, e, 6);
        } else {
            cn_buf_put_u8(out, ch);
        }
    }
}

int srv__query_value(const char *v, size_t len, char *out, size_t n)
{
    if (!v)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < n; i++) {
        int ch = (unsigned char)v[i], hi, lo;
        if (ch == '+') {
            ch = ' ';
        } else if (ch == '%' && i + 2 < len && (hi = cn_hexval(v[i + 1])) >= 0 &&
                   (lo = cn_hexval(v[i + 2])) >= 0) {
            ch = hi * 16 + lo;
            i += 2;
        }
        out[o++] = (char)ch;
    }
    if (n)
        out[o] = 0;
    return (int)o;
}

void srv__form_values(const char *s, size_t n, const char *const *keys, size_t nk,
                      const char **vals, size_t *lens)
{
    size_t left = nk;
    for (size_t k = 0; k < nk; k++) {
        vals[k] = NULL;
        lens[k] = 0;
    }
    const char *p = s, *stop = s ? s + n : NULL;
    while (p && p < stop && left) {
        const char *end = memchr(p, '&', (size_t)(stop - p));
        size_t len = end ? (size_t)(end - p) : (size_t)(stop - p);
        const char *eq = memchr(p, '=', len);
        if (!eq)
            eq = p + len; /* "q" alone: present and empty, as Go's ParseQuery */
        {
            size_t klen = (size_t)(eq - p);
            for (size_t k = 0; k < nk; k++) {
                /* (a body may hold NULs: compare whole keys, never past them) */
                if (!vals[k] && strlen(keys[k]) == klen && memcmp(p, keys[k], klen) == 0) {
                    vals[k] = klen < len ? eq + 1 : eq;
                    lens[k] = klen < len ? len - klen - 1 : 0;
                    left--;
                    break;
                }
            }
        }
        p = end ? end + 1 : NULL;
    }
}

const char *srv__trim_lws(const char *p, size_t *n)
{
    while (*n && (*p == ' ' || *p == '\t')) {
        p++;
        --*n;
    }
    while (*n && (p[*n - 1] == ' ' || p[*n - 1] == '\t'))
        --*n;
    return p;
}

size_t srv__media_type(const char *v, size_t n, const char **param, size_t *plen)
{
    const char *semi = memchr(v, ';', n);
    size_t t = semi ? (size_t)(semi - v) : n;
    if (param) {
        *param = semi ? semi + 1 : v + n;
        *plen = semi ? n - t - 1 : 0;
    }
    return t;
}

/* Is c one of RFC 2045's tspecials (Go's mime.isTSpecial)? */
static bool tspecial(char c)
{
    return c && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

int srv__mime_param(const char *ps, size_t n, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = ps, *end = ps + n;
    int found = -1;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ';'))
            p++;
        if (p >= end)
            break;
        const char *k = p;
        while (p < end && *p != '=' && *p != ';')
            p++;
        size_t kl = (size_t)(p - k);
        k = srv__trim_lws(k, &kl);
        if (p >= end || *p != '=' || kl == 0)
            return -2; /* a parameter without a value (Go: "invalid media parameter") */
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        bool want = kl == nl && strncasecmp(k, name, nl) == 0, fits = true;
        if (want && found >= 0)
            return -2; /* twice (Go: "duplicate parameter name") */
        size_t o = 0;
        if (p < end && *p == '"') {
            /* quoted-string: \ escapes a tspecial, else it is kept (Go's
             * consumeValue); CR or LF inside is malformed */
            for (p++; p < end && *p != '"'; p++) {
                if (*p == '\r' || *p == '\n')
                    return -2;
                if (*p == '\\' && p + 1 < end && tspecial(p[1]))
                    p++;
                if (want && out && o + 1 < cap)
                    out[o] = *p;
                else if (want && out)
                    fits = false;
                o++;
            }
            if (p >= end)
                return -2; /* unterminated */
            p++;
        } else {
            const char *v = p;
            while (p < end && *p != ';')
                p++;
            size_t vl = (size_t)(p - v);
            v = srv__trim_lws(v, &vl);
            if (want && out && vl < cap)
                memcpy(out, v, vl);
            else if (want && out)
                fits = false;
            o = vl;
        }
        if (want) {
            if (out && (!fits || cap == 0))
                return -1;
            if (out)
                out[o] = 0;
            found = (int)o;
        }
    }
    return found;
}

/* The Content-Disposition of a multipart part, value v (n bytes): its
 * form field's name (nl its length: it may hold a NUL) and whether it is a
 * file (a non-empty filename, as Go's ReadForm decides).  false unless it
 * is form-data with a name. */
static bool part_disposition(const char *v, size_t n, char *name, size_t cap, size_t *nl,
                             bool *file)
{
    const char *ps;
    size_t pl, tl = srv__media_type(v, n, &ps, &pl);
    const char *t = srv__trim_lws(v, &tl);
    if (tl != 9 || strncasecmp(t, "form-data", 9) != 0)
        return false;
    int fl = srv__mime_param(ps, pl, "filename", NULL, 0);
    int r = srv__mime_param(ps, pl, "name", name, cap);
    if (fl < -1 || r < 0)
        return false;
    *file = fl > 0;
    *nl = (size_t)r;
    return true;
}

/* Does a delimiter's boundary end at p (end: the body's end): the close
 * "--", transport padding or a line break? */
static bool boundary_ends(const char *p, const char *end)
{
    return p >= end || (*p == '-' && p + 1 < end && p[1] == '-') || *p == ' ' || *p == '\t' ||
           *p == '\r' || *p == '\n';
}

int srv__multipart_values(const char *s, size_t n, const char *boundary, const char *const *keys,
                          size_t nk, const char **vals, size_t *lens, const char **files,
                          size_t *flens)
{
    for (size_t k = 0; k < nk; k++) {
        vals[k] = files[k] = NULL;
        lens[k] = flens[k] = 0;
    }
    size_t bl = strlen(boundary);
    if (bl == 0 || bl > SRV_MULTIPART_MAX_BOUNDARY)
        return -1;
    char delim[SRV_MULTIPART_MAX_BOUNDARY + 4]; /* "\r\n--" boundary */
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, bl);
    const char *end = s + n, *p;
    /* the first delimiter: at the start or after a line break */
    if (n >= bl + 2 && memcmp(s, delim + 2, bl + 2) == 0 && boundary_ends(s + bl + 2, end)) {
        p = s + bl + 2;
    } else {
        for (const char *q = s;; q = p - bl - 2) { /* "\n--" boundary */
            const char *d = memmem(q, (size_t)(end - q), delim + 1, bl + 3);
            if (!d)
                return -1;
            p = d + bl + 3;
            if (boundary_ends(p, end))
                break;
        }
    }
    /* lines end in CRLF, or in LF alone when the first delimiter's does */
    const char *nl = delim;
    size_t nll = 2;
    for (;;) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
            /* the close delimiter: padding, then a line break or the end */
            for (p += 2; p < end && (*p == ' ' || *p == '\t'); p++)
                ;
            if (p == end || *p == '\n' || (end - p >= 2 && p[0] == '\r' && p[1] == '\n'))
                return 0;
            goto bad;
        }
        while (p < end && (*p == ' ' || *p == '\t'))
            p++; /* transport padding */
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
            p += 2;
        } else if (p < end && *p == '\n' && nl == delim) {
            nl = delim + 1; /* LF mode */
            nll = 1;
            p++;
        } else {
            goto bad;
        }
        /* the part's header lines, up to an empty one; the first
         * Content-Disposition counts (Go's Header.Get) */
        char name[64];
        size_t namel = 0;
        bool named = false, file = false, seen = false;
        for (;;) {
            const char *eol = memmem(p, (size_t)(end - p), nl, nll);
            if (!eol)
                goto bad;
            size_t ll = (size_t)(eol - p);
            const char *line = p;
            if (nll == 1 && ll && line[ll - 1] == '\r')
                ll--; /* (LF mode takes a CR before the LF too) */
            p = eol + nll;
            if (ll == 0)
                break;
            const char *colon = memchr(line, ':', ll);
            if (!colon)
                goto bad; /* Go: "malformed MIME header line" */
            if (!seen && (size_t)(colon - line) == 19 &&
                strncasecmp(line, "content-disposition", 19) == 0) {
                seen = true;
                named = part_disposition(colon + 1, ll - 20, name, sizeof name, &namel, &file);
            }
        }
        /* the content: up to the line break before the next delimiter, or
         * none when the delimiter follows the header's empty line at once */
        const char *body = p, *next = NULL;
        size_t dl = bl + 2 + nll;
        if ((size_t)(end - p) >= bl + 2 && memcmp(p, delim + 2, bl + 2) == 0 &&
            boundary_ends(p + bl + 2, end)) {
            next = p;
            dl = bl + 2;
        }
        for (const char *q = p; !next;) {
            const char *d = memmem(q, (size_t)(end - q), nl, dl);
            if (!d)
                break;
            if (boundary_ends(d + dl, end))
                next = d;
            else
                q = d + 1; /* "--XYZ" is no delimiter of boundary XY */
        }
        if (!next)
            goto bad;
        size_t clen = (size_t)(next - body);
        for (size_t k = 0; named && k < nk; k++) {
            if (strlen(keys[k]) != namel || memcmp(keys[k], name, namel) != 0)
                continue;
            const char **v = file ? &files[k] : &vals[k];
            if (!*v) {
                *v = body;
                (file ? flens : lens)[k] = clen;
            }
            break;
        }
        p = next + dl;
    }
bad:
    for (size_t k = 0; k < nk; k++) {
        vals[k] = files[k] = NULL;
        lens[k] = flens[k] = 0;
    }
    return -1;
}

void srv__query_values(const char *query, const char *const *keys, size_t nk, const char **vals,
                       size_t *lens)
{
    srv__form_values(query, query ? strlen(query) : 0, keys, nk, vals, lens);
}

int srv__query_param(const char *query, const char *key, char *out, size_t n)
{
    const char *v;
    size_t len;
    srv__query_values(query, &key, 1, &v, &len);
    return srv__query_value(v, len, out, n);
}

static const char *status_text(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Request Entity Too Large";
    case 415:
        return "Unsupported Media Type";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

/* --------------------------------------------------------------- parking */

void srv__park(srv_http_t *h, srv_conn_t *c, int why)
{
    assert(!c->parked);
    srv_park_t *q = why == PARK_DURABLE ? &h->wait_durable : &h->wait_writable;
    c->parked = why;
    c->park_next = NULL;
    if (q->tail)
        q->tail->park_next = c;
    else
        q->head = c;
    q->tail = c;
    if (why == PARK_WRITABLE && !uv_is_active((uv_handle_t *)&h->retry_timer))
        uv_timer_start(&h->retry_timer, on_retry, 5, 0);
}

void srv__unpark(srv_http_t *h, srv_conn_t *c)
{
    if (!c->parked)
        return;
    srv_park_t *q = c->parked == PARK_DURABLE ? &h->wait_durable : &h->wait_writable;
    srv_conn_t *prev = NULL;
    for (srv_conn_t *it = q->head; it; prev = it, it = it->park_next) {
        if (it != c)
            continue;
        if (prev)
            prev->park_next = c->park_next;
        else
            q->head = c->park_next;
        if (q->tail == c)
            q->tail = prev;
        break;
    }
    c->parked = 0;
    c->park_next = NULL;
}

/* Resumes every connection of q once, in FIFO order.  A resumed write may
 * park again: it then goes to the end of a list, and only the snapshot
 * taken here is walked. */
static void resume_all(srv_http_t *h, srv_park_t *q)
{
    srv_conn_t *list = q->head;
    q->head = q->tail = NULL;
    while (list) {
        srv_conn_t *c = list;
        list = c->park_next;
        c->parked = 0;
        c->park_next = NULL;
        srv__write_resume(c);
    }
    (void)h;
}

/* Durable writes complete in seq order, so the durable list is walked
 * whole; the engine is asked again by each write. */
static void on_durable(uv_async_t *a)
{
    srv_http_t *h = a->data;
    resume_all(h, &h->wait_writable);
    resume_all(h, &h->wait_durable);
}

/* CN_EFULL can also clear without the durable seq moving (a memtable flush
 * ends), so writers waiting for room are retried on a short timer too. */
static void on_retry(uv_timer_t *t)
{
    srv_http_t *h = t->data;
    resume_all(h, &h->wait_writable);
    if (h->wait_writable.head)
        uv_timer_start(&h->retry_timer, on_retry, 5, 0);
}

void srv_http_durable_notify(void *arg, uint64_t durable_seq)
{
    srv_http_t *h = arg;
    (void)durable_seq;
    uv_mutex_lock(&h->notify_mu);
    if (h->notify_live)
        uv_async_send(&h->durable_async);
    uv_mutex_unlock(&h->notify_mu);
}

/* ------------------------------------------------------------- responses */

typedef struct wr {
    uv_write_t req;
    srv_conn_t *c;
    cn_buf_t buf;
} wr_t;

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)req;
    (void)status;
}

static void on_write(uv_write_t *req, int status)
{
    wr_t *w = (wr_t *)req;
    srv_conn_t *c = w->c;
    cn_buf_free(&w->buf);
    cn_free(w);
    c->nwrites--;
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->state != C_CLOSING || c->nwrites || uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    if (!c->linger || c->peer_eof) {
        conn_close(c);
        return;
    }
    /* NOTES 3: half-close, keep reading (and discarding) until EOF. */
    if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, on_timer, LINGER_MS, 0);
    set_reading(c, true);
}

static int queue_write(srv_conn_t *c, cn_buf_t *buf)
{
    if (c->srv->sink) {
        c->srv->sink(c->srv->sink_arg, c, buf->p, buf->len);
        cn_buf_free(buf);
        return 0;
    }
    wr_t *w = cn_calloc(1, sizeof *w);
    w->c = c;
    w->buf = *buf;
    cn_buf_init(buf);
    uv_buf_t b = uv_buf_init((char *)w->buf.p, (unsigned)w->buf.len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (rc < 0) {
        cn_buf_free(&w->buf);
        cn_free(w);
        return cn_from_uv(rc);
    }
    c->nwrites++;
    return 0;
}

static void req_reset(srv_req_t *r)
{
    if (r->z_live)
        inflateEnd(&r->z);
    cn_buf_reset(&r->url);
    if (r->body.cap > (1u << 20))
        cn_buf_free(&r->body);
    cn_buf_reset(&r->body);
    cn_buf_reset(&r->hname);
    cn_buf_reset(&r->hval);
    cn_buf_reset(&r->ctype);
    cn_buf_t url = r->url, body = r->body, hn = r->hname, hv = r->hval, ct = r->ctype;
    memset(r, 0, sizeof *r);
    r->url = url, r->body = body, r->hname = hn, r->hval = hv, r->ctype = ct;
}

static void buf_puts(cn_buf_t *b, const char *s)
{
    cn_buf_put(b, s, strlen(s));
}

/* Status line and headers into out (the close decision included), without
 * printf: the head of every answer, 9 format calls were 7 k instructions. */
static void head_fmt(int status, const char *ctype, const char *extra, bool chunked, bool http10,
                     bool close, size_t len, cn_buf_t *out)
{
    assert(status >= 100 && status <= 599);
    cn_buf_put(out, "HTTP/1.1 ", 9);
    cn_buf_put_dec(out, status);
    cn_buf_put_u8(out, ' ');
    buf_puts(out, status_text(status));
    cn_buf_put(out, "\r\n", 2);
    if (ctype) {
        cn_buf_put(out, "Content-Type: ", 14);
        buf_puts(out, ctype);
        cn_buf_put(out, "\r\n", 2);
    }
    buf_puts(out, "X-Influxdb-Build: OSS\r\nX-Influxdb-Version: " SRV_HTTP_INFLUX_VERSION "\r\n");
    if (extra)
        buf_puts(out, extra);
    if (chunked && !http10) {
        buf_puts(out, "Transfer-Encoding: chunked\r\n");
    } else if (status != 204 && !chunked) {
        cn_buf_put(out, "Content-Length: ", 16);
        cn_buf_put_dec(out, (int64_t)len);
        cn_buf_put(out, "\r\n", 2);
    }
    if (close)
        buf_puts(out, "Connection: close\r\n");
    else if (http10)
        buf_puts(out, "Connection: keep-alive\r\n");
    cn_buf_put(out, "\r\n", 2);
}

static void head_buf(srv_conn_t *c, int status, const char *ctype, const char *extra, bool chunked,
                     size_t len, cn_buf_t *out)
{
    srv_http_t *h = c->srv;
    assert(c->state == C_BUSY);
    if (!c->req.keep_alive || h->stopping || (c->peer_eof && !srv__conn_pipelined(c)) ||
        (chunked && c->req.http10))
        c->close_after = true;
    head_fmt(status, ctype, extra, chunked, c->req.http10, c->close_after, len, out);
}

void srv__http_head_fmt(int status, const char *ctype, const char *extra, bool http10, bool close,
                        size_t len, cn_buf_t *out)
{
    head_fmt(status, ctype, extra, false, http10, close, len, out);
}

void srv__http_answered(srv_conn_t *c, cn_buf_t *rest)
{
    if (!c->req.keep_alive || c->srv->stopping || (c->peer_eof && !srv__conn_pipelined(c)))
        c->close_after = true;
    if (rest->len && queue_write(c, rest) < 0) {
        conn_close(c);
        return;
    }
    srv__http_end(c);
}

void srv__http_head(srv_conn_t *c, int status, const char *ctype, const char *extra, bool chunked,
                    size_t len)
{
    cn_buf_t out;
    cn_buf_init(&out);
    head_buf(c, status, ctype, extra, chunked, len, &out);
    if (queue_write(c, &out) < 0) {
        cn_buf_free(&out);
        conn_close(c);
    }
}

void srv__http_body(srv_conn_t *c, const void *p, size_t n)
{
    if (!n || c->req.head || uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    cn_buf_t out;
    cn_buf_init(&out);
    cn_buf_put(&out, p, n);
    if (queue_write(c, &out) < 0) {
        cn_buf_free(&out);
        conn_close(c);
    }
}

void srv__http_end(srv_conn_t *c)
{
    srv_http_t *h = c->srv;
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    req_reset(&c->req);
    if (c->close_after) {
        c->state = C_CLOSING;
        if (c->nwrites == 0 && !c->srv->sink)
            conn_close(c);
        return;
    }
    c->state = C_IDLE;
    uv_timer_start(&c->timer, on_timer, (uint64_t)(h->o.idle_timeout_ns / 1000000), 0);
    conn_process(c);
}

void srv__http_respond(srv_conn_t *c, int status, const char *ctype, const char *extra,
                       const void *body, size_t len)
{
    srv_http_t *h = c->srv;
    cn_buf_t out;
    cn_buf_init(&out);
    head_buf(c, status, ctype, extra, false, len, &out);
    if (len && !c->req.head)
        cn_buf_put(&out, body, len);
    if (queue_write(c, &out) < 0) {
        cn_buf_free(&out);
        conn_close(c);
        return;
    }
    req_reset(&c->req);
    if (c->close_after) {
        c->state = C_CLOSING;
        return;
    }
    c->state = C_IDLE;
    uv_timer_start(&c->timer, on_timer, (uint64_t)(h->o.idle_timeout_ns / 1000000), 0);
    conn_process(c);
}

void srv__http_error(srv_conn_t *c, int status, const char *msg)
{
    cn_buf_t body, extra;
    cn_buf_init(&body);
    cn_buf_init(&extra);
    cn_buf_put(&body, "{\"error\":\"", 10);
    srv__json_escape(&body, msg, strlen(msg));
    cn_buf_put(&body, "\"}\n", 3);
    /* The header carries the first line only, without control bytes. */
    cn_buf_put(&extra, "X-Influxdb-Error: ", 18);
    for (size_t i = 0; msg[i] && msg[i] != '\n' && i < 1024; i++)
        cn_buf_put_u8(&extra, (unsigned char)msg[i] < 0x20 ? ' ' : (uint8_t)msg[i]);
    cn_buf_put(&extra, "\r\n", 2);
    cn_buf_put_u8(&extra, 0);
    srv__http_respond(c, status, "application/json", (const char *)extra.p, body.p, body.len);
    cn_buf_free(&body);
    cn_buf_free(&extra);
}

/* Rejects the request being received: answers, then closes (NOTES 3). */
static void reject(srv_conn_t *c, int status, const char *msg)
{
    c->state = C_BUSY;
    c->req.keep_alive = false;
    c->linger = true;
    uv_timer_stop(&c->timer);
    srv__http_error(c, status, msg);
}

/* ------------------------------------------------------------ connections */

static void on_conn_closed(uv_handle_t *hd)
{
    srv_conn_t *c = hd->data;
    if (++c->nclosed < 2)
        return;
    srv_http_t *h = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    h->nconns--;
    srv__write_free(c->w);
    if (c->rules_req)
        srv__rules_detach(c->rules_req);
    req_reset(&c->req);
    cn_buf_free(&c->req.url);
    cn_buf_free(&c->req.body);
    cn_buf_free(&c->req.hname);
    cn_buf_free(&c->req.hval);
    cn_buf_free(&c->req.ctype);
    cn_buf_free(&c->in);
    cn_free(c);
    if (h->stopping && h->nconns == 0)
        final_close(h);
}

static void conn_close(srv_conn_t *c)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    srv__unpark(c->srv, c);
    if (c->job)
        srv__job_detach(c); /* cancels a handler still running on the pool */
    c->state = C_CLOSING;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

void srv__conn_close(srv_conn_t *c)
{
    conn_close(c);
}

/* Read timeout (C_READING: 408), idle timeout (C_IDLE) or the end of a
 * lingering close (C_CLOSING). */
static void on_timer(uv_timer_t *t)
{
    srv_conn_t *c = t->data;
    if (c->state == C_READING) {
        reject(c, 408, "request timeout");
        return;
    }
    if (c->state != C_BUSY)
        conn_close(c);
}

static void on_alloc(uv_handle_t *hd, size_t hint, uv_buf_t *buf)
{
    srv_conn_t *c = hd->data;
    (void)hint;
    *buf = uv_buf_init(c->srv->rbuf, sizeof c->srv->rbuf);
}

void srv__conn_read(srv_conn_t *c, ssize_t nread, const char *p)
{
    if (nread < 0) {
        c->peer_eof = true;
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
        /* A request being handled still gets its answer (it may already
         * be durable); everything else closes now, and so does a query
         * whose client went away (the close cancels it) - unless requests
         * pipelined after it wait: a client that half-closed after them
         * still reads their answers (InfluxDB answers them too). */
        if (c->state != C_BUSY || nread != UV_EOF || (c->job && !srv__conn_pipelined(c)))
            if (!(c->state == C_CLOSING && c->nwrites))
                conn_close(c);
        return;
    }
    if (nread == 0)
        return;
    if (c->state == C_CLOSING)
        return; /* lingering: discard */
    cn_buf_put(&c->in, p, (size_t)nread);
    conn_process(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    srv__conn_read(s->data, nread, buf->base);
}

static void set_reading(srv_conn_t *c, bool on)
{
    if (on == c->reading || c->peer_eof)
        return;
    if (c->srv->sink) {
        c->reading = on; /* no socket */
        return;
    }
    if (on) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
            conn_close(c);
            return;
        }
    } else {
        uv_read_stop((uv_stream_t *)&c->tcp);
    }
    c->reading = on;
}

/* --------------------------------------------------------------- routing */

/* GET /metrics (Prometheus text format 0.0.4) and GET /api/v1/sinks. */
static void respond_text(srv_conn_t *c, srv_http_text_fn fn, void *arg, const char *ctype)
{
    cn_buf_t b;
    cn_buf_init(&b);
    fn(arg, &b);
    srv__http_respond(c, 200, ctype, NULL, b.p, b.len);
    cn_buf_free(&b);
}

static void metrics_all(void *arg, cn_buf_t *out)
{
    srv_http_t *h = arg;
    srv__query_metrics(h, out);
    for (uint32_t i = 0; i < h->nmetrics; i++)
        h->metrics[i].fn(h->metrics[i].arg, out);
}

static void route(srv_conn_t *c)
{
    char *url = (char *)c->req.url.p;
    char *q = strchr(url, '?');
    const char *query = "";
    if (q) {
        *q = 0;
        query = q + 1;
    }
    int m = c->parser.method;
    bool get = m == HTTP_GET || m == HTTP_HEAD;
    char v[16];
    if (strcmp(url, "/ping") == 0 && get) {
        if (srv__query_param(query, "verbose", v, sizeof v) >= 0 && strcmp(v, "true") == 0) {
            static const char body[] = "{\"version\":\"" SRV_HTTP_INFLUX_VERSION "\"}\n";
            srv__http_respond(c, 200, "application/json", NULL, body, sizeof body - 1);
        } else {
            srv__http_respond(c, 204, NULL, NULL, NULL, 0);
        }
    } else if (strcmp(url, "/health") == 0 && get) {
        static const char body[] =
            "{\"name\":\"cairn\",\"message\":\"ready for queries and writes\",\"status\":"
            "\"pass\",\"checks\":[],\"version\":\"" SRV_HTTP_INFLUX_VERSION "\"}\n";
        srv__http_respond(c, 200, "application/json", NULL, body, sizeof body - 1);
    } else if (strcmp(url, "/write") == 0 && m == HTTP_POST) {
        srv__write_handle(c, query);
    } else if (strcmp(url, "/query") == 0 && (get || m == HTTP_POST)) {
        srv__query_handle(c, query);
    } else if (strncmp(url, "/api/v1/devices", 15) == 0 && (url[15] == '\0' || url[15] == '/')) {
        srv__devices_handle(c, url);
    } else if (strncmp(url, "/api/v1/export", 14) == 0 && (!url[14] || url[14] == '/')) {
        srv__export_handle(c, url, query);
    } else if (strcmp(url, "/metrics") == 0 && get) {
        respond_text(c, metrics_all, c->srv, "text/plain; version=0.0.4; charset=utf-8");
    } else if (strcmp(url, "/api/v1/sinks") == 0 && get && c->srv->sinks_json.fn) {
        respond_text(c, c->srv->sinks_json.fn, c->srv->sinks_json.arg, "application/json");
    } else if (strncmp(url, "/api/v1/rules", 13) == 0 && (url[13] == 0 || url[13] == '/')) {
        srv__rules_handle(c, url);
    } else if (strcmp(url, "/ping") == 0 || strcmp(url, "/health") == 0 ||
               strcmp(url, "/write") == 0 || strcmp(url, "/query") == 0) {
        srv__http_respond(c, 405, "text/plain; charset=utf-8", "Allow: GET, HEAD, POST\r\n",
                          "Method Not Allowed\n", 19);
    } else {
        srv__http_respond(c, 404, "text/plain; charset=utf-8", NULL, "404 page not found\n", 19);
    }
}

static void dispatch(srv_conn_t *c)
{
    c->state = C_BUSY;
    uv_timer_stop(&c->timer);
    srv_req_t *r = &c->req;
    r->head = c->parser.method == HTTP_HEAD;
    r->keep_alive = http_should_keep_alive(&c->parser) != 0;
    r->http10 = c->parser.http_major == 1 && c->parser.http_minor == 0;
    if (r->z_live) {
        /* The body ended before the gzip stream did. */
        srv__http_error(c, 400, "gzip: unexpected EOF");
        return;
    }
    cn_buf_put_u8(&r->url, 0);
    route(c);
}

/* Runs the parser over buffered input until it needs more bytes or a
 * request is being handled (NOTES 1). */
static void conn_process(srv_conn_t *c)
{
    if (c->in_process)
        return;
    c->in_process = true;
    while ((c->state == C_IDLE || c->state == C_READING) && c->in_off < c->in.len) {
        size_t n = c->in.len - c->in_off;
        size_t used =
            http_parser_execute(&c->parser, &SETTINGS, (const char *)c->in.p + c->in_off, n);
        c->in_off += used;
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
            dispatch(c);
        } else if (e != HPE_OK) {
            if (c->req.err_status)
                reject(c, c->req.err_status, c->req.err_msg);
            else if (e == HPE_HEADER_OVERFLOW)
                reject(c, 431, "request header fields too large");
            else
                reject(c, 400, http_errno_description(e));
        }
    }
    if (c->in_off == c->in.len) {
        c->in.len = c->in_off = 0;
    } else if (c->in_off > 65536 || c->in_off * 2 > c->in.len) {
        memmove(c->in.p, c->in.p + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in_off = 0;
    }
    c->in_process = false;
    /* A request handled on the pool keeps the socket read (up to 64 KiB
     * of pipelined bytes wait in c->in): the client's EOF or reset closes
     * the connection, which cancels the job (a long query stops instead
     * of running to its end for nobody). */
    bool job_watch = c->state == C_BUSY && c->job && c->in.len - c->in_off < 65536;
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        set_reading(c, c->state == C_IDLE || c->state == C_READING || c->linger || job_watch);
}

/* ------------------------------------------------------- parser callbacks */

static int fail_req(http_parser *p, int status, const char *msg)
{
    srv_conn_t *c = p->data;
    if (!c->req.err_status) {
        c->req.err_status = status;
        c->req.err_msg = msg;
    }
    return -1;
}

static int count_header(http_parser *p, size_t n)
{
    srv_conn_t *c = p->data;
    c->req.hdr_bytes += n;
    if (c->req.hdr_bytes > SRV_HTTP_MAX_HEADER)
        return fail_req(p, 431, "request header fields too large");
    return 0;
}

static int on_message_begin(http_parser *p)
{
    srv_conn_t *c = p->data;
    c->state = C_READING;
    uv_timer_start(&c->timer, on_timer, (uint64_t)(c->srv->o.read_timeout_ns / 1000000), 0);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    srv_conn_t *c = p->data;
    if (count_header(p, n))
        return -1;
    cn_buf_put(&c->req.url, at, n);
    return 0;
}

static bool hname_is(const srv_req_t *r, const char *name)
{
    size_t n = strlen(name);
    return r->hname.len == n && strncasecmp((const char *)r->hname.p, name, n) == 0;
}

static bool hval_has(const srv_req_t *r, const char *token)
{
    size_t n = strlen(token);
    const char *v = (const char *)r->hval.p;
    for (size_t i = 0; i + n <= r->hval.len; i++)
        if (strncasecmp(v + i, token, n) == 0)
            return true;
    return false;
}

/* One complete header (name and value) is in hname/hval. */
static int header_done(http_parser *p)
{
    srv_conn_t *c = p->data;
    srv_req_t *r = &c->req;
    if (hname_is(r, "expect") && hval_has(r, "100-continue")) {
        r->expect_continue = true;
    } else if (hname_is(r, "accept")) {
        if (hval_has(r, "application/csv") || hval_has(r, "text/csv"))
            r->accept_csv = true;
    } else if (hname_is(r, "accept-encoding")) {
        if (hval_has(r, "gzip"))
            r->accept_gzip = true;
    } else if (hname_is(r, "content-type")) {
        if (!r->ctype.len) /* the first one, as Go's Header.Get */
            cn_buf_put(&r->ctype, r->hval.p, r->hval.len);
    } else if (hname_is(r, "content-encoding")) {
        if (hval_has(r, "gzip"))
            r->gzip = true;
        else if (!hval_has(r, "identity"))
            return fail_req(p, 415, "unsupported Content-Encoding");
    }
    cn_buf_reset(&r->hname);
    cn_buf_reset(&r->hval);
    r->in_value = false;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    srv_conn_t *c = p->data;
    if (count_header(p, n))
        return -1;
    if (c->req.in_value && header_done(p))
        return -1;
    cn_buf_put(&c->req.hname, at, n);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    srv_conn_t *c = p->data;
    if (count_header(p, n))
        return -1;
    c->req.in_value = true;
    cn_buf_put(&c->req.hval, at, n);
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    srv_conn_t *c = p->data;
    srv_req_t *r = &c->req;
    if (r->in_value && header_done(p))
        return -1;
    size_t max = c->srv->o.max_body;
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > max)
        return fail_req(p, 413, "Request Entity Too Large");
    if (r->gzip) {
        memset(&r->z, 0, sizeof r->z);
        if (inflateInit2(&r->z, 16 + MAX_WBITS) != Z_OK)
            return fail_req(p, 500, "gzip: out of memory");
        r->z_live = true;
    }
    if (r->expect_continue && p->http_minor >= 1) {
        cn_buf_t b;
        cn_buf_init(&b);
        cn_buf_put(&b, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        if (queue_write(c, &b) < 0)
            cn_buf_free(&b);
    }
    return 0;
}

static int inflate_body(http_parser *p, const char *at, size_t n)
{
    srv_conn_t *c = p->data;
    srv_req_t *r = &c->req;
    size_t max = c->srv->o.max_body;
    r->z.next_in = (Bytef *)(uintptr_t)at;
    r->z.avail_in = (uInt)n;
    while (r->z.avail_in) {
        if (r->body.len >= max)
            return fail_req(p, 413, "Request Entity Too Large");
        size_t room = r->body.len < 65536 ? 65536 : r->body.len;
        if (room > max + 1 - r->body.len)
            room = max + 1 - r->body.len;
        cn_buf_reserve(&r->body, room);
        r->z.next_out = r->body.p + r->body.len;
        r->z.avail_out = (uInt)room;
        int zrc = inflate(&r->z, Z_NO_FLUSH);
        r->body.len += room - r->z.avail_out;
        if (r->body.len > max)
            return fail_req(p, 413, "Request Entity Too Large");
        if (zrc == Z_STREAM_END) {
            inflateEnd(&r->z);
            r->z_live = false;
            return 0; /* trailing bytes after the gzip member are ignored */
        }
        if (zrc != Z_OK && zrc != Z_BUF_ERROR)
            return fail_req(p, 400, r->z.msg ? "gzip: invalid data" : "gzip: error");
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    srv_conn_t *c = p->data;
    srv_req_t *r = &c->req;
    if (r->gzip) {
        if (!r->z_live)
            return 0;
        return inflate_body(p, at, n);
    }
    if (r->body.len + n > c->srv->o.max_body)
        return fail_req(p, 413, "Request Entity Too Large");
    cn_buf_put(&r->body, at, n);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    http_parser_pause(p, 1); /* dispatch() runs when execute returns */
    return 0;
}

static const http_parser_settings SETTINGS = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* -------------------------------------------------------------- listener */

/* A new connection in C_IDLE, linked into h->conns, its tcp handle
 * initialised but not yet accepted or reading.  NULL if uv_tcp_init fails. */
static srv_conn_t *conn_new(srv_http_t *h)
{
    srv_conn_t *c = cn_calloc(1, sizeof *c);
    c->srv = h;
    if (uv_tcp_init(&h->loop, &c->tcp) < 0) {
        cn_free(c);
        return NULL;
    }
    uv_timer_init(&h->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->next = h->conns;
    if (h->conns)
        h->conns->prev = c;
    h->conns = c;
    h->nconns++;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    return c;
}

/* Starts the idle timeout and reading. */
static void conn_start(srv_conn_t *c)
{
    uv_timer_start(&c->timer, on_timer, (uint64_t)(c->srv->o.idle_timeout_ns / 1000000), 0);
    set_reading(c, true);
}

srv_conn_t *srv__conn_new_detached(srv_http_t *h)
{
    assert(h->sink);
    srv_conn_t *c = conn_new(h);
    if (c)
        conn_start(c);
    return c;
}

static void on_listener(uv_poll_t *p, int status, int events);

static void on_accept_timer(uv_timer_t *t)
{
    srv_http_t *h = t->data;
    if (!h->stopping && h->lfd >= 0)
        uv_poll_start(&h->listener, UV_READABLE, on_listener);
}

/* One connection per readiness of the listening socket (NOTES 7). */
static void on_listener(uv_poll_t *p, int status, int events)
{
    srv_http_t *h = p->data;
    (void)events;
    if (status < 0 || h->stopping || h->lfd < 0)
        return;
    int fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* out of descriptors: clients wait in the backlog meanwhile */
            uint32_t supp = 0;
            int err = errno;
            if (cn_ratelimit_ok(&h->accept_rl, cn_now_ns(), 10000000000LL, 1, &supp))
                cn_warn("http: accept: %s; new connections wait, retried every %d ms (%u "
                        "such retries not logged)",
                        strerror(err), SRV_HTTP_ACCEPT_PAUSE_MS, supp);
            uv_poll_stop(&h->listener);
            uv_timer_start(&h->accept_timer, on_accept_timer, SRV_HTTP_ACCEPT_PAUSE_MS, 0);
        }
        return; /* EAGAIN, EINTR, ECONNABORTED ...: the next readiness */
    }
    srv_conn_t *c = conn_new(h);
    if (!c) {
        close(fd);
        return;
    }
    if (uv_tcp_open(&c->tcp, fd) < 0) {
        close(fd);
        conn_close(c);
        return;
    }
    if (h->nconns > h->o.max_conns) {
        conn_close(c);
        return;
    }
    if (!h->nodelay)
        uv_tcp_nodelay(&c->tcp, 1);
    conn_start(c);
    /* the request came with the connection (TCP_DEFER_ACCEPT): read it now,
     * not one turn of the loop later (NOTES 6) */
    if (h->deferred) {
        ssize_t n;
        do
            n = recv(fd, h->rbuf, sizeof h->rbuf, MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n > 0)
            srv__conn_read(c, n, h->rbuf);
    }
}

static void on_baton(uv_async_t *a)
{
    srv_http_t *h = a->data;
    srv__pool_baton(h->pool);
}

static void on_job(uv_async_t *a)
{
    srv__job_pump(a->data);
}

static void on_loop_handle_closed(uv_handle_t *hd)
{
    (void)hd;
}

/* Closes the listening socket and its poll handle (once). */
static void listener_close(srv_http_t *h)
{
    if (h->listener.loop && !uv_is_closing((uv_handle_t *)&h->listener))
        uv_close((uv_handle_t *)&h->listener, on_loop_handle_closed);
    if (h->lfd >= 0) {
        close(h->lfd);
        h->lfd = -1;
    }
}

static void final_close(srv_http_t *h)
{
    if (h->efull_waits)
        cn_info("http: writes waited %llu time(s) for room in the engine (back-pressure)",
                (unsigned long long)h->efull_waits);
    uv_mutex_lock(&h->notify_mu);
    h->notify_live = false;
    uv_mutex_unlock(&h->notify_mu);
    srv__job_shutdown(h);
    uv_handle_t *hs[] = {(uv_handle_t *)&h->durable_async, (uv_handle_t *)&h->stop_async,
                         (uv_handle_t *)&h->job_async,     (uv_handle_t *)&h->baton_async,
                         (uv_handle_t *)&h->retry_timer,   (uv_handle_t *)&h->drain_timer,
                         (uv_handle_t *)&h->accept_timer};
    listener_close(h);
    for (size_t i = 0; i < CN_ARRAY_LEN(hs); i++)
        if (hs[i]->loop && !uv_is_closing(hs[i]))
            uv_close(hs[i], on_loop_handle_closed);
}

static void on_drain_timeout(uv_timer_t *t)
{
    srv_http_t *h = t->data;
    cn_warn("http: %u connection(s) still open after %d ms; closing them", h->nconns,
            SRV_HTTP_DRAIN_MS);
    for (srv_conn_t *c = h->conns; c; c = c->next)
        conn_close(c);
}

static void begin_shutdown(uv_async_t *a)
{
    srv_http_t *h = a->data;
    if (h->stopping)
        return;
    h->stopping = true;
    listener_close(h);
    for (srv_conn_t *c = h->conns; c; c = c->next) {
        if (c->state == C_IDLE && c->in.len == 0)
            conn_close(c);
        else
            c->close_after = true;
    }
    if (h->nconns == 0) {
        final_close(h);
        return;
    }
    uv_timer_start(&h->drain_timer, on_drain_timeout, SRV_HTTP_DRAIN_MS, 0);
}

/* ------------------------------------------------------------- lifecycle */

int srv_http_new(const srv_http_opts_t *opts, srv_http_t **out)
{
    srv_http_t *h = cn_calloc(1, sizeof *h);
    h->o = *opts;
    snprintf(h->host, sizeof h->host, "%s", opts->host ? opts->host : "127.0.0.1");
    h->o.host = h->host;
    int rc = cn_from_uv(uv_loop_init(&h->loop));
    if (rc < 0) {
        cn_free(h);
        return rc;
    }
    h->loop_ready = true;
    uv_mutex_init(&h->notify_mu);
    uv_mutex_init(&h->store_mu);
    uv_mutex_init(&h->tasks_mu);
    uv_async_init(&h->loop, &h->durable_async, on_durable);
    uv_async_init(&h->loop, &h->stop_async, begin_shutdown);
    uv_async_init(&h->loop, &h->job_async, on_job);
    h->job_async.data = h;
    uv_async_init(&h->loop, &h->baton_async, on_baton);
    h->baton_async.data = h;
    uv_timer_init(&h->loop, &h->retry_timer);
    uv_timer_init(&h->loop, &h->drain_timer);
    uv_timer_init(&h->loop, &h->accept_timer);
    h->durable_async.data = h->stop_async.data = h;
    h->retry_timer.data = h->drain_timer.data = h->accept_timer.data = h;
    h->lfd = -1;
    h->notify_live = true;
    *out = h;
    return 0;
}

static int bind_listener(srv_http_t *h)
{
    struct sockaddr_storage ss;
    const char *host = strcmp(h->host, "localhost") == 0 ? "127.0.0.1" : h->host;
    int rc = strchr(host, ':') ? uv_ip6_addr(host, h->o.port, (struct sockaddr_in6 *)&ss)
                               : uv_ip4_addr(host, h->o.port, (struct sockaddr_in *)&ss);
    if (rc < 0)
        return cn_from_uv(rc);
    socklen_t slen = ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return cn_from_uv(-errno);
    int one = 1, secs = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (const struct sockaddr *)&ss, slen) < 0) {
        rc = cn_from_uv(-errno);
        close(fd);
        return rc;
    }
    /* connections reach accept with their request (NOTES 5) */
    if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs) < 0)
        cn_warn("http: TCP_DEFER_ACCEPT: %s (each connection costs a wake-up more)",
                strerror(errno));
    else
        h->deferred = true;
    /* accepted sockets inherit it: no setsockopt per connection (NOTES 6) */
    h->nodelay = setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0;
    slen = sizeof ss;
    if (listen(fd, 511) < 0 || getsockname(fd, (struct sockaddr *)&ss, &slen) < 0) {
        rc = cn_from_uv(-errno);
        close(fd);
        return rc;
    }
    h->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    h->lfd = fd;
    rc = uv_poll_init_socket(&h->loop, &h->listener, fd);
    if (rc == 0) {
        h->listener.data = h;
        rc = uv_poll_start(&h->listener, UV_READABLE, on_listener);
    }
    if (rc < 0) {
        listener_close(h);
        return cn_from_uv(rc);
    }
    return 0;
}

static void thread_main(void *arg)
{
    srv_http_t *h = arg;
    srv__pool_loop(h->pool); /* uv_run, with hand-offs (job.c NOTES 2) */
}

int srv_http_start(srv_http_t *h, eng_db_t *db)
{
    h->db = db;
    int rc = bind_listener(h);
    if (rc < 0)
        return rc;
    rc = srv__pool_new(h, h->o.query_workers ? h->o.query_workers : 1, &h->pool);
    if (rc < 0)
        return rc;
    rc = cn_from_uv(uv_thread_create(&h->thread, thread_main, h));
    if (rc < 0)
        return rc;
    h->started = true;
    return 0;
}

uint16_t srv_http_port(const srv_http_t *h)
{
    return h->port;
}

void srv_http_stop(srv_http_t *h)
{
    if (!h || !h->started || h->stopped)
        return;
    h->stopped = true;
    uv_async_send(&h->stop_async);
    uv_thread_join(&h->thread);
    /* before the caller closes the engine: queries still running see the
     * loop gone (cancelled) and return */
    srv__pool_free(h->pool);
    h->pool = NULL;
}

void srv_http_set_store(srv_http_t *h, struct mq_store *st)
{
    uv_mutex_lock(&h->store_mu); /* waits out a handler that holds the old one */
    h->store = st;
    uv_mutex_unlock(&h->store_mu);
}

struct mq_store *srv__http_store_acquire(srv_http_t *h)
{
    uv_mutex_lock(&h->store_mu);
    if (!h->store)
        uv_mutex_unlock(&h->store_mu);
    return h->store;
}

void srv__http_store_release(srv_http_t *h)
{
    uv_mutex_unlock(&h->store_mu);
}

void srv_http_set_rules(srv_http_t *h, struct srv_rules *r)
{
    h->rules = r;
}

int srv_http_add_metrics(srv_http_t *h, srv_http_text_fn fn, void *arg)
{
    if (h->nmetrics == SRV_HTTP_MAX_METRICS)
        return CN_ELIMIT;
    h->metrics[h->nmetrics].fn = fn;
    h->metrics[h->nmetrics++].arg = arg;
    return 0;
}

void srv_http_set_sinks(srv_http_t *h, srv_http_text_fn fn, void *arg)
{
    h->sinks_json.fn = fn;
    h->sinks_json.arg = arg;
}

void srv_http_free(srv_http_t *h)
{
    if (!h)
        return;
    srv_http_stop(h);
    if (!h->started) {
        /* The thread never ran: close the handles on this thread. */
        h->stopping = true;
        final_close(h);
        uv_run(&h->loop, UV_RUN_DEFAULT);
    }
    srv__pool_free(h->pool); /* the loop has stopped: workers see no listener */
    h->pool = NULL;
    int rc = cn_from_uv(uv_loop_close(&h->loop));
    if (rc < 0)
        cn_warn("http: loop closed with handles open: %s", cn_strerror(rc));
    uv_mutex_destroy(&h->notify_mu);
    uv_mutex_destroy(&h->store_mu);
    uv_mutex_destroy(&h->tasks_mu);
    cn_free(h);
}
