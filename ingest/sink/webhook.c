/* SPDX-License-Identifier: MIT */
/*
 * webhook.c - the webhook backend: HTTP POST (or PUT) of each record's
 * payload as a JSON body through libcurl's multi interface driven by libuv
 * (the multi_socket pattern: libcurl tells which sockets to watch through
 * CURLMOPT_SOCKETFUNCTION -> uv_poll, and when to call it back through
 * CURLMOPT_TIMERFUNCTION -> uv_timer; both call curl_multi_socket_action,
 * finished transfers are read with curl_multi_info_read).
 *
 * Lanes: the HTTP work of a sink (libcurl's request building, parsing,
 * the socket system calls: most of a request's CPU) runs on `threads`
 * lanes, each a thread with its own libuv loop and curl multi handle, whose
 * connection cache is that lane's share of the keep-alive pool (up to
 * max_inflight / lanes connections, reused across requests).  The delivery
 * machine (deliver.c) stays on the sink system's loop: hook_send hands a
 * request to the least busy lane through its queue (uv_async), the lane
 * hands the finished request back through the sink's done queue (one
 * uv_async for the sink), where mq__sink_done runs.  Order is unaffected:
 * the machine sends one request per key at a time (pipeline = false), so
 * per-device order holds whichever lane carries a request; many devices go
 * in parallel.
 *
 * Results (deliver.c NOTES 3): 2xx delivered; any other status refuses
 * the record (an attempt; dead letter after max_attempts); failures to
 * connect, send, receive or answer in time are transient (the sink backs
 * off and probes).  A record whose topic field holds "Name: value" lines
 * (rule actions with templated headers) sends them after the sink's own
 * headers.
 *
 * NOTES
 *  1. Ownership of a req_t: the delivery loop (pool, building) -> the
 *     lane's queue (under h->mu) -> the lane thread (in its multi) -> the
 *     done queue (under h->mu) -> the delivery loop.  The easy handle and
 *     the record it borrows (the window keeps it alive until done) are used
 *     by one thread at a time, handed over under the mutex.
 *  2. Stop (delivery loop, hook_stop): each lane is told to stop; it drops
 *     what it holds (delivered again after a restart), closes its handles,
 *     ends its loop and reports on the done queue; when every lane has
 *     reported, the done handle is closed and the backend reports closed.
 *     hook_free (after the system's loop ended) joins the lane threads.
 *     Lanes send to the done handle only while it is open (h->done_open,
 *     under h->mu).
 *  3. libcurl removes a keep-alive connection's socket from its watch list
 *     after each transfer and adds it back for the next one.  The poll is
 *     left running meanwhile (sock.idle) instead of two epoll_ctl calls per
 *     request: an event on an idle socket (the server closed it) stops the
 *     poll and is left to curl's liveness check at reuse.  curl's close of
 *     a socket goes through closesocket_cb, which closes the poll handle
 *     while the descriptor is still open: a handle left behind would, at
 *     shutdown, deregister a descriptor number another thread may have
 *     reused meanwhile (found by TSan).  curl reports CURL_POLL_REMOVE
 *     before it closes a socket, so it never hands that handle back.
 *  4. Per request libcurl would look up http_proxy / no_proxy & co. in the
 *     environment and parse the URL again; both are done once per sink
 *     (the same proxy rules as curl's, CURLOPT_CURLU for the URL).
 */
#include "sink_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct lane lane_t;
typedef struct hook hook_t;

typedef struct req {
    CURL *easy;
    CURLU *url; /* parsed once (CURLOPT_CURLU), not per request */
    mq__ent_t *e;
    lane_t *lane;
    struct curl_slist *extra; /* the sink's headers + the record's, when it has some */
    struct req *next;         /* pool / queue link */
    int result;               /* enum mq__result, set by the lane */
    char err[CURL_ERROR_SIZE];
    char why[CURL_ERROR_SIZE + 64];
} req_t;

typedef struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    lane_t *lane;
    bool idle;  /* curl does not watch it (NOTES 3) */
    int events; /* UV_READABLE | UV_WRITABLE polled now, 0 = stopped */
} sock_t;

struct lane {
    hook_t *h;
    uv_thread_t thr;
    bool thr_ok, loop_ok;
    uv_loop_t loop;
    uv_async_t wake; /* queue or stop */
    uv_timer_t timer;
    CURLM *multi;
    sock_t **byfd; /* poll handles by descriptor, kept across requests */
    size_t nfd;
    req_t **live; /* requests in the multi (lane thread) */
    uint32_t nlive, cap;
    uint32_t load; /* handed over and not yet back (delivery loop) */
    /* under h->mu */
    req_t *q, *q_tail;
    bool stop;
};

struct hook {
    mq__sink_t *s;
    struct curl_slist *headers;
    char *proxy, *noproxy; /* from the environment, read once (NOTES 4) */
    req_t *pool;           /* delivery loop */
    uint32_t nlive;        /* handed to lanes, not yet back (delivery loop) */
    lane_t *lanes;
    uint32_t nlanes;
    uv_async_t done; /* on the system's loop: finished requests, lane exits */
    pthread_mutex_t mu;
    req_t *out, *out_tail; /* under mu: finished requests */
    uint32_t exited;       /* under mu: lanes whose loop ended */
    bool done_open;        /* under mu (NOTES 2) */
    bool stopping;         /* delivery loop */
};

/* ------------------------------------------------------------ lane side */

static void lane_check_done(lane_t *l);

static void on_poll(uv_poll_t *p, int status, int events)
{
    sock_t *sk = p->data;
    int flags = 0, running;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    lane_t *l = sk->lane;
    if (sk->idle) { /* NOTES 3 */
        uv_poll_stop(&sk->poll);
        sk->events = 0;
        return;
    }
    curl_multi_socket_action(l->multi, sk->fd, flags, &running);
    lane_check_done(l);
}

static void on_sock_closed(uv_handle_t *hd)
{
    cn_free(hd->data);
}

/*
 * libcurl removes a socket from its watch list after every transfer and
 * adds it again for the next one on the same keep-alive connection.  The
 * uv_poll handle stays in byfd[] meanwhile: initialising a new one costs
 * an fcntl and two epoll_ctl probes per request.  It leaves byfd[] only
 * when curl closes the socket (closesocket_cb).
 */
static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    lane_t *l = userp;
    sock_t *sk = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (sk) {
            sk->idle = true; /* NOTES 3: the poll stays */
            curl_multi_assign(l->multi, fd, NULL);
        }
        return 0;
    }
    if (!sk && fd >= 0 && (size_t)fd < l->nfd)
        sk = l->byfd[fd];
    if (!sk) {
        if ((size_t)fd >= l->nfd) {
            size_t n = CN_MAX((size_t)fd + 1, l->nfd * 2);
            l->byfd = cn_realloc(l->byfd, n * sizeof *l->byfd);
            memset(l->byfd + l->nfd, 0, (n - l->nfd) * sizeof *l->byfd);
            l->nfd = n;
        }
        sk = cn_calloc(1, sizeof *sk);
        sk->fd = fd;
        sk->lane = l;
        if (uv_poll_init_socket(&l->loop, &sk->poll, fd) < 0) {
            cn_free(sk);
            return -1;
        }
        sk->poll.data = sk;
        l->byfd[fd] = sk;
    }
    sk->idle = false;
    curl_multi_assign(l->multi, fd, sk);
    int ev = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
    if (ev != sk->events) { /* uv_poll_start costs two epoll_ctl calls */
        uv_poll_start(&sk->poll, ev, on_poll);
        sk->events = ev;
    }
    return 0;
}

/* libcurl closes a connection's socket (lane thread): the poll handle is
 * closed while the descriptor is still open (NOTES 3). */
static int closesocket_cb(void *clientp, curl_socket_t fd)
{
    lane_t *l = clientp;
    if (fd >= 0 && (size_t)fd < l->nfd && l->byfd[fd]) {
        sock_t *sk = l->byfd[fd];
        l->byfd[fd] = NULL;
        uv_close((uv_handle_t *)&sk->poll, on_sock_closed);
    }
    return close(fd);
}

static void on_timeout(uv_timer_t *t)
{
    lane_t *l = t->data;
    int running;
    curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    lane_check_done(l);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    lane_t *l = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&l->timer);
    else
        uv_timer_start(&l->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

static bool transient(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

static void live_remove(lane_t *l, req_t *r)
{
    for (uint32_t i = 0; i < l->nlive; i++) {
        if (l->live[i] == r) {
            l->live[i] = l->live[--l->nlive];
            return;
        }
    }
}

/* Lane thread: finished transfers go back to the delivery loop at once. */
static void lane_check_done(lane_t *l)
{
    hook_t *h = l->h;
    req_t *head = NULL, *tail = NULL;
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(l->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        req_t *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode code = m->data.result;
        long status = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle(l->multi, m->easy_handle);
        live_remove(l, r);
        if (code == CURLE_OK && status >= 200 && status < 300) {
            r->result = MQ__OK;
        } else if (code == CURLE_OK) {
            snprintf(r->why, sizeof r->why, "HTTP status %ld", status);
            r->result = MQ__REJECTED;
        } else {
            snprintf(r->why, sizeof r->why, "%s", r->err[0] ? r->err : curl_easy_strerror(code));
            r->result = transient(code) ? MQ__TRANSIENT : MQ__REJECTED;
        }
        r->next = NULL;
        if (tail)
            tail->next = r;
        else
            head = r;
        tail = r;
    }
    if (!head)
        return;
    pthread_mutex_lock(&h->mu);
    if (h->out_tail)
        h->out_tail->next = head;
    else
        h->out = head;
    h->out_tail = tail;
    if (h->done_open)
        uv_async_send(&h->done);
    pthread_mutex_unlock(&h->mu);
}

static void req_free(req_t *r)
{
    curl_easy_cleanup(r->easy);
    curl_url_cleanup(r->url);
    curl_slist_free_all(r->extra);
    cn_free(r);
}

static void lane_close_walk(uv_handle_t *hd, void *arg)
{
    (void)arg;
    if (!uv_is_closing(hd))
        uv_close(hd, hd->type == UV_POLL ? on_sock_closed : NULL);
}

/* Lane thread: drops what it holds, closes its handles (NOTES 2). */
static void lane_shutdown(lane_t *l)
{
    for (uint32_t i = 0; i < l->nlive; i++) {
        curl_multi_remove_handle(l->multi, l->live[i]->easy);
        req_free(l->live[i]);
    }
    l->nlive = 0;
    curl_multi_cleanup(l->multi); /* closes the cached connections */
    l->multi = NULL;
    pthread_mutex_lock(&l->h->mu);
    req_t *q = l->q;
    l->q = l->q_tail = NULL;
    pthread_mutex_unlock(&l->h->mu);
    while (q) {
        req_t *nx = q->next;
        req_free(q);
        q = nx;
    }
    uv_walk(&l->loop, lane_close_walk, NULL); /* polls, timer, wake */
}

static void on_lane_wake(uv_async_t *a)
{
    lane_t *l = a->data;
    pthread_mutex_lock(&l->h->mu);
    req_t *q = l->q;
    l->q = l->q_tail = NULL;
    bool stop = l->stop;
    pthread_mutex_unlock(&l->h->mu);
    if (stop) {
        while (q) { /* the delivery loop abandoned them */
            req_t *nx = q->next;
            req_free(q);
            q = nx;
        }
        lane_shutdown(l);
        return;
    }
    for (req_t *nx; q; q = nx) {
        nx = q->next;
        if (curl_multi_add_handle(l->multi, q->easy) == CURLM_OK) {
            l->live[l->nlive++] = q;
            continue;
        }
        /* Not expected with a removed handle: the record is refused. */
        q->result = MQ__REJECTED;
        snprintf(q->why, sizeof q->why, "curl_multi_add_handle failed");
        q->next = NULL;
        pthread_mutex_lock(&l->h->mu);
        if (l->h->out_tail)
            l->h->out_tail->next = q;
        else
            l->h->out = q;
        l->h->out_tail = q;
        if (l->h->done_open)
            uv_async_send(&l->h->done);
        pthread_mutex_unlock(&l->h->mu);
    }
    /* libcurl starts the added transfers from its timer (timer_cb). */
}

static void lane_main(void *arg)
{
    lane_t *l = arg;
    uv_run(&l->loop, UV_RUN_DEFAULT);
    hook_t *h = l->h;
    pthread_mutex_lock(&h->mu);
    h->exited++;
    if (h->done_open)
        uv_async_send(&h->done);
    pthread_mutex_unlock(&h->mu);
}

/* ------------------------------------------------- delivery loop side */

static void on_done_closed(uv_handle_t *hd)
{
    hook_t *h = hd->data;
    mq__sink_backend_closed(h->s);
}

static void on_done(uv_async_t *a)
{
    hook_t *h = a->data;
    mq__sink_t *s = h->s;
    pthread_mutex_lock(&h->mu);
    req_t *r = h->out;
    h->out = h->out_tail = NULL;
    bool all_exited = h->exited == h->nlanes;
    if (h->stopping && all_exited)
        h->done_open = false;
    pthread_mutex_unlock(&h->mu);
    bool any = false;
    while (r) {
        req_t *nx = r->next;
        mq__ent_t *e = r->e;
        r->e = NULL;
        r->lane->load--;
        h->nlive--;
        if (r->extra) {
            curl_slist_free_all(r->extra);
            r->extra = NULL;
            curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, h->headers);
        }
        int result = r->result;
        if (!h->stopping) {
            /* copy the reason: mq__sink_done may log it after r is reused */
            char why[sizeof r->why];
            if (result != MQ__OK)
                memcpy(why, r->why, sizeof why);
            r->next = h->pool;
            h->pool = r;
            mq__sink_done(s, e, result, result == MQ__OK ? NULL : why);
            any = true;
        } else {
            req_free(r);
        }
        r = nx;
    }
    if (h->stopping && all_exited) {
        uv_close((uv_handle_t *)&h->done, on_done_closed);
        return;
    }
    if (any)
        mq__sink_pump(s);
}

int mq__webhook_create(mq__sink_t *s)
{
    if (!s->def.url ||
        (strncmp(s->def.url, "http://", 7) != 0 && strncmp(s->def.url, "https://", 8) != 0)) {
        cn_error("sink %s: webhook url must start with http:// or https://", s->def.name);
        return CN_ECONFIG;
    }
    if (strcmp(s->def.method, "POST") != 0 && strcmp(s->def.method, "PUT") != 0) {
        cn_error("sink %s: webhook method must be POST or PUT", s->def.name);
        return CN_ECONFIG;
    }
    hook_t *h = cn_calloc(1, sizeof *h);
    s->impl = h;
    h->s = s;
    pthread_mutex_init(&h->mu, NULL);
    h->headers = curl_slist_append(NULL, "Content-Type: application/json");
    h->headers = curl_slist_append(h->headers, "Expect:"); /* no 100-continue round trip */
    for (size_t i = 0; s->def.headers && s->def.headers[i]; i++) {
        if (!strchr(s->def.headers[i], ':')) {
            cn_error("sink %s: header '%s' is not 'Name: value'", s->def.name, s->def.headers[i]);
            return CN_ECONFIG;
        }
        h->headers = curl_slist_append(h->headers, s->def.headers[i]);
    }
    /* NOTES 4: curl's rules (lib/url.c detect_proxy): http_proxy (lower
     * case only) or HTTPS_PROXY / https_proxy by scheme, else ALL_PROXY /
     * all_proxy; no_proxy / NO_PROXY. */
    bool tls = strncmp(s->def.url, "https://", 8) == 0;
    const char *px = tls ? getenv("https_proxy") : getenv("http_proxy");
    if (!px && tls)
        px = getenv("HTTPS_PROXY");
    if (!px)
        px = getenv("all_proxy");
    if (!px)
        px = getenv("ALL_PROXY");
    const char *np = getenv("no_proxy");
    if (!np)
        np = getenv("NO_PROXY");
    h->proxy = cn_strdup(px ? px : "");
    h->noproxy = cn_strdup(np ? np : "");
    h->nlanes = CN_MIN(s->def.threads, s->def.max_inflight);
    h->lanes = cn_calloc(h->nlanes, sizeof *h->lanes);
    for (uint32_t i = 0; i < h->nlanes; i++) {
        lane_t *l = &h->lanes[i];
        l->h = h;
        /* this lane's share of max_inflight (connections and requests) */
        l->cap = s->def.max_inflight / h->nlanes + (i < s->def.max_inflight % h->nlanes);
        l->live = cn_calloc(l->cap, sizeof *l->live);
        l->multi = curl_multi_init();
        if (!l->multi)
            return -ENOMEM;
        curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
        curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
        curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
        curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
        curl_multi_setopt(l->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)l->cap);
        curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, (long)l->cap);
    }
    return 0;
}

/* Tells lane l to stop (any thread but the lane's); only the first call
 * wakes it: the lane closes its wake handle once it saw the flag. */
static void lane_stop(lane_t *l)
{
    pthread_mutex_lock(&l->h->mu);
    if (!l->stop) {
        l->stop = true;
        uv_async_send(&l->wake);
    }
    pthread_mutex_unlock(&l->h->mu);
}

int mq__webhook_attach(mq__sink_t *s)
{
    hook_t *h = s->impl;
    int rc = cn_from_uv(uv_async_init(&s->sys->loop, &h->done, on_done));
    if (rc < 0)
        return rc;
    h->done.data = h;
    pthread_mutex_lock(&h->mu);
    h->done_open = true;
    pthread_mutex_unlock(&h->mu);
    for (uint32_t i = 0; i < h->nlanes && rc == 0; i++) {
        lane_t *l = &h->lanes[i];
        rc = cn_from_uv(uv_loop_init(&l->loop));
        if (rc < 0)
            break;
        l->loop_ok = true;
        rc = cn_from_uv(uv_async_init(&l->loop, &l->wake, on_lane_wake));
        if (rc == 0)
            rc = cn_from_uv(uv_timer_init(&l->loop, &l->timer));
        if (rc < 0)
            break;
        l->wake.data = l->timer.data = l;
        rc = cn_from_uv(uv_thread_create(&l->thr, lane_main, l));
        l->thr_ok = rc == 0;
    }
    if (rc < 0) {
        /* Not attached: nothing will stop us; undo (hook_free joins). */
        pthread_mutex_lock(&h->mu);
        h->done_open = false;
        pthread_mutex_unlock(&h->mu);
        uv_close((uv_handle_t *)&h->done, NULL);
        for (uint32_t i = 0; i < h->nlanes; i++)
            if (h->lanes[i].thr_ok)
                lane_stop(&h->lanes[i]);
    }
    return rc;
}

static req_t *req_get(hook_t *h)
{
    req_t *r = h->pool;
    if (r) {
        h->pool = r->next;
        return r;
    }
    r = cn_calloc(1, sizeof *r);
    r->easy = curl_easy_init();
    if (!r->easy) {
        cn_free(r);
        return NULL;
    }
    const mq_sink_def_t *d = &h->s->def;
    r->url = curl_url();
    if (r->url && curl_url_set(r->url, CURLUPART_URL, d->url, 0) == CURLUE_OK) {
        curl_easy_setopt(r->easy, CURLOPT_CURLU, r->url);
    } else { /* curl will report what is wrong with it */
        curl_url_cleanup(r->url);
        r->url = NULL;
        curl_easy_setopt(r->easy, CURLOPT_URL, d->url);
    }
    curl_easy_setopt(r->easy, CURLOPT_PROXY, h->proxy);
    curl_easy_setopt(r->easy, CURLOPT_NOPROXY, h->noproxy);
    curl_easy_setopt(r->easy, CURLOPT_CLOSESOCKETFUNCTION, closesocket_cb);
    curl_easy_setopt(r->easy, CURLOPT_POST, 1L);
    if (strcmp(d->method, "POST") != 0)
        curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, d->method); /* PUT, body as POST's */
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, h->headers);
    curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)(d->timeout_ns / 1000000));
    curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->err);
    curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
    curl_easy_setopt(r->easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(r->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    return r;
}

/* Per-record headers: "Name: value" lines in the record's topic field. */
static void set_record_headers(hook_t *h, req_t *r, const mq_sink_rec_t *rec)
{
    for (const struct curl_slist *l = h->headers; l; l = l->next)
        r->extra = curl_slist_append(r->extra, l->data);
    const char *p = (const char *)rec->topic, *end = p + rec->topic_len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        if (n && memchr(p, ':', n) && !memchr(p, '\r', n) && !memchr(p, 0, n)) {
            char *line = cn_strndup(p, n);
            r->extra = curl_slist_append(r->extra, line);
            cn_free(line);
        }
        p += n + 1;
    }
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->extra);
}

static int hook_send(mq__sink_t *s, mq__ent_t *e)
{
    hook_t *h = s->impl;
    if (h->stopping || h->nlive >= s->def.max_inflight)
        return CN_EFULL;
    lane_t *l = NULL; /* the least busy lane with room */
    for (uint32_t i = 0; i < h->nlanes; i++)
        if (h->lanes[i].load < h->lanes[i].cap && (!l || h->lanes[i].load < l->load))
            l = &h->lanes[i];
    if (!l)
        return CN_EFULL;
    req_t *r = req_get(h);
    if (!r)
        return -ENOMEM;
    r->e = e;
    r->lane = l;
    /* connections this transfer opens belong to l's multi: closed there */
    curl_easy_setopt(r->easy, CURLOPT_CLOSESOCKETDATA, l);
    r->err[0] = 0;
    r->next = NULL;
    if (e->rec.topic_len)
        set_record_headers(h, r, &e->rec);
    /* The body is borrowed from the window (alive until the record is done). */
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)e->rec.payload_len);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, (const char *)e->rec.payload);
    l->load++;
    h->nlive++;
    pthread_mutex_lock(&h->mu);
    bool was_empty = !l->q;
    if (l->q_tail)
        l->q_tail->next = r;
    else
        l->q = r;
    l->q_tail = r;
    pthread_mutex_unlock(&h->mu);
    if (was_empty)
        uv_async_send(&l->wake);
    return 0;
}

static void hook_stop(mq__sink_t *s)
{
    hook_t *h = s->impl;
    /* Abandon what is in flight (delivered again after a restart); the
     * lanes close their connections and report (NOTES 2). */
    h->stopping = true;
    for (uint32_t i = 0; i < h->nlanes; i++)
        lane_stop(&h->lanes[i]);
}

static void hook_free(mq__sink_t *s)
{
    hook_t *h = s->impl;
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->done_open = false; /* the system's loop is gone */
    pthread_mutex_unlock(&h->mu);
    for (uint32_t i = 0; i < h->nlanes; i++) {
        lane_t *l = &h->lanes[i];
        if (l->thr_ok) {
            lane_stop(l); /* a no-op when it was stopped */
            uv_thread_join(&l->thr);
        } else if (l->loop_ok) {
            uv_walk(&l->loop, lane_close_walk, NULL);
            uv_run(&l->loop, UV_RUN_DEFAULT);
        }
        if (l->loop_ok)
            uv_loop_close(&l->loop);
        for (uint32_t j = 0; j < l->nlive; j++)
            req_free(l->live[j]);
        for (req_t *q = l->q, *nx; q; q = nx) {
            nx = q->next;
            req_free(q);
        }
        if (l->multi)
            curl_multi_cleanup(l->multi);
        cn_free(l->byfd);
        cn_free(l->live);
    }
    for (req_t *r = h->out, *nx; r; r = nx) {
        nx = r->next;
        req_free(r);
    }
    while (h->pool) {
        req_t *r = h->pool;
        h->pool = r->next;
        req_free(r);
    }
    cn_free(h->lanes);
    cn_free(h->proxy);
    cn_free(h->noproxy);
    curl_slist_free_all(h->headers);
    pthread_mutex_destroy(&h->mu);
    cn_free(h);
    s->impl = NULL;
}

const mq__backend_t mq__webhook_backend = {
    .name = "webhook",
    .pipeline = false,
    .send = hook_send,
    .stop = hook_stop,
    .free = hook_free,
};
