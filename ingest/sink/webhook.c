/* SPDX-License-Identifier: MIT */
/*
 * webhook.c - the webhook backend: HTTP POST (or PUT) of each record's payload as
 * a JSON body through one libcurl multi handle per sink, driven by the
 * delivery thread's libuv loop (the multi_socket pattern: libcurl tells
 * which sockets to watch through CURLMOPT_SOCKETFUNCTION -> uv_poll, and
 * when to call it back through CURLMOPT_TIMERFUNCTION -> uv_timer; both
 * call curl_multi_socket_action, finished transfers are read with
 * curl_multi_info_read).  The multi handle's connection cache is the
 * keep-alive pool: up to max_inflight connections to the endpoint, reused
 * across requests; easy handles are pooled too.
 *
 * Results (deliver.c NOTES 3): 2xx delivered; any other status refuses
 * the record (an attempt; dead letter after max_attempts); failures to
 * connect, send, receive or answer in time are transient (the sink backs
 * off and probes).  One request per key at a time (pipeline = false):
 * per-device order with many devices in parallel.  A record whose topic
 * field holds "Name: value" lines (rule actions with templated headers)
 * sends them after the sink's own headers.
 */
#include "sink_int.h"

#include <curl/curl.h>
#include <stdio.h>

typedef struct req {
    CURL *easy;
    mq__ent_t *e;
    struct curl_slist *extra; /* the sink's headers + the record's, when it has some */
    struct req *next; /* pool */
    char err[CURL_ERROR_SIZE];
} req_t;

typedef struct hook {
    CURLM *multi;
    uv_timer_t timer;
    struct curl_slist *headers;
    req_t *pool;
    req_t **live; /* requests in flight, for stop */
    uint32_t nlive;
    mq__sink_t *s;
    struct sock **byfd; /* poll handles by descriptor, kept across requests */
    size_t nfd;
} hook_t;

typedef struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    hook_t *h;
} sock_t;

static void check_done(hook_t *h);

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
    hook_t *h = sk->h;
    curl_multi_socket_action(h->multi, sk->fd, flags, &running);
    check_done(h);
}

static void on_sock_closed(uv_handle_t *hd)
{
    cn_free(hd->data);
}

/*
 * libcurl removes a socket from its watch list after every transfer and
 * adds it again for the next one on the same keep-alive connection.  The
 * uv_poll handle stays (stopped) in byfd[] meanwhile: initialising a new
 * one costs an fcntl and two epoll_ctl probes per request.  A descriptor
 * number curl hands us again is always a socket curl has open, so reusing
 * the handle of that number is safe even after curl closed and reopened
 * it (the kernel dropped the old epoll registration with the close).
 */
static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    hook_t *h = userp;
    sock_t *sk = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (sk) {
            uv_poll_stop(&sk->poll);
            curl_multi_assign(h->multi, fd, NULL);
        }
        return 0;
    }
    if (!sk && fd >= 0 && (size_t)fd < h->nfd)
        sk = h->byfd[fd];
    if (!sk) {
        if ((size_t)fd >= h->nfd) {
            size_t n = CN_MAX((size_t)fd + 1, h->nfd * 2);
            h->byfd = cn_realloc(h->byfd, n * sizeof *h->byfd);
            memset(h->byfd + h->nfd, 0, (n - h->nfd) * sizeof *h->byfd);
            h->nfd = n;
        }
        sk = cn_calloc(1, sizeof *sk);
        sk->fd = fd;
        sk->h = h;
        if (uv_poll_init_socket(&h->s->sys->loop, &sk->poll, fd) < 0) {
            cn_free(sk);
            return -1;
        }
        sk->poll.data = sk;
        h->byfd[fd] = sk;
    }
    curl_multi_assign(h->multi, fd, sk);
    int ev = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
    uv_poll_start(&sk->poll, ev, on_poll);
    return 0;
}

static void on_timeout(uv_timer_t *t)
{
    hook_t *h = t->data;
    int running;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(h);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    hook_t *h = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&h->timer);
    else
        uv_timer_start(&h->timer, on_timeout, (uint64_t)timeout_ms, 0);
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

static void live_remove(hook_t *h, req_t *r)
{
    for (uint32_t i = 0; i < h->nlive; i++) {
        if (h->live[i] == r) {
            h->live[i] = h->live[--h->nlive];
            return;
        }
    }
}

static void check_done(hook_t *h)
{
    mq__sink_t *s = h->s;
    CURLMsg *m;
    int left;
    bool any = false;
    while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        req_t *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode code = m->data.result;
        long status = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle(h->multi, m->easy_handle);
        live_remove(h, r);
        mq__ent_t *e = r->e;
        r->e = NULL;
        if (r->extra) {
            curl_slist_free_all(r->extra);
            r->extra = NULL;
            curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, h->headers);
        }
        r->next = h->pool;
        h->pool = r;
        char why[CURL_ERROR_SIZE + 64];
        int result;
        if (code == CURLE_OK && status >= 200 && status < 300) {
            result = MQ__OK;
        } else if (code == CURLE_OK) {
            snprintf(why, sizeof why, "HTTP status %ld", status);
            result = MQ__REJECTED;
        } else {
            snprintf(why, sizeof why, "%s", r->err[0] ? r->err : curl_easy_strerror(code));
            result = transient(code) ? MQ__TRANSIENT : MQ__REJECTED;
        }
        mq__sink_done(s, e, result, result == MQ__OK ? NULL : why);
        any = true;
    }
    if (any)
        mq__sink_pump(s);
}

int mq__webhook_create(mq__sink_t *s)
{
    if (!s->def.url || (strncmp(s->def.url, "http://", 7) != 0 &&
                        strncmp(s->def.url, "https://", 8) != 0)) {
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
    h->headers = curl_slist_append(NULL, "Content-Type: application/json");
    h->headers = curl_slist_append(h->headers, "Expect:"); /* no 100-continue round trip */
    for (size_t i = 0; s->def.headers && s->def.headers[i]; i++) {
        if (!strchr(s->def.headers[i], ':')) {
            cn_error("sink %s: header '%s' is not 'Name: value'", s->def.name, s->def.headers[i]);
            return CN_ECONFIG;
        }
        h->headers = curl_slist_append(h->headers, s->def.headers[i]);
    }
    h->multi = curl_multi_init();
    if (!h->multi)
        return -ENOMEM;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)s->def.max_inflight);
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)s->def.max_inflight);
    h->live = cn_calloc(s->def.max_inflight, sizeof *h->live);
    return 0;
}

int mq__webhook_attach(mq__sink_t *s)
{
    hook_t *h = s->impl;
    int rc = cn_from_uv(uv_timer_init(&s->sys->loop, &h->timer));
    if (rc == 0)
        h->timer.data = h;
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
    curl_easy_setopt(r->easy, CURLOPT_URL, d->url);
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
    if (h->nlive >= s->def.max_inflight)
        return CN_EFULL;
    req_t *r = req_get(h);
    if (!r)
        return -ENOMEM;
    r->e = e;
    r->err[0] = 0;
    if (e->rec.topic_len)
        set_record_headers(h, r, &e->rec);
    /* The body is borrowed from the window (alive until the record is done). */
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)e->rec.payload_len);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, (const char *)e->rec.payload);
    if (curl_multi_add_handle(h->multi, r->easy) != CURLM_OK) {
        r->e = NULL;
        curl_slist_free_all(r->extra);
        r->extra = NULL;
        curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, h->headers);
        r->next = h->pool;
        h->pool = r;
        return CN_EINVAL;
    }
    h->live[h->nlive++] = r;
    return 0;
}

static void on_timer_closed(uv_handle_t *hd)
{
    hook_t *h = hd->data;
    mq__sink_backend_closed(h->s);
}

static void req_free(req_t *r)
{
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->extra);
    cn_free(r);
}

static void hook_stop(mq__sink_t *s)
{
    hook_t *h = s->impl;
    /* Abandon what is in flight (delivered again after a restart), close
     * the cached connections now, while the loop can close their polls. */
    for (uint32_t i = 0; i < h->nlive; i++) {
        curl_multi_remove_handle(h->multi, h->live[i]->easy);
        req_free(h->live[i]);
    }
    h->nlive = 0;
    curl_multi_cleanup(h->multi);
    h->multi = NULL;
    for (size_t i = 0; i < h->nfd; i++) {
        if (h->byfd[i])
            uv_close((uv_handle_t *)&h->byfd[i]->poll, on_sock_closed);
        h->byfd[i] = NULL;
    }
    uv_close((uv_handle_t *)&h->timer, on_timer_closed);
}

static void hook_free(mq__sink_t *s)
{
    hook_t *h = s->impl;
    if (!h)
        return;
    for (uint32_t i = 0; i < h->nlive; i++)
        req_free(h->live[i]);
    while (h->pool) {
        req_t *r = h->pool;
        h->pool = r->next;
        req_free(r);
    }
    if (h->multi)
        curl_multi_cleanup(h->multi);
    curl_slist_free_all(h->headers);
    cn_free(h->byfd);
    cn_free(h->live);
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
