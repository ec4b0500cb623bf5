/* SPDX-License-Identifier: MIT */
/*
 * http.c - the client of the external HTTP auth service: one thread
 * driving libcurl's multi interface, so any number of CONNECTs in flight
 * share a small pool of keep-alive connections; plus the request body
 * writer and the answer parser (request and answer formats in auth.h).
 *
 * Why the multi interface: the connection cache lives in the multi handle
 * and is shared by every transfer added to it, so consecutive requests
 * reuse an idle connection instead of opening a new one per CONNECT (each
 * closed connection would leave a socket in TIME_WAIT; a reconnect storm
 * of 10k devices would exhaust the ephemeral ports).  At most
 * `max_conns` connections are opened (CURLMOPT_MAX_HOST_CONNECTIONS);
 * further requests wait in curl's queue for a free one.
 *
 * NOTES
 *  1. Only the HTTP thread touches the multi and easy handles.  Other
 *     threads append to `pending` under mu and wake the thread with
 *     curl_multi_wakeup (thread-safe by libcurl's contract).
 *  2. Every request gets its callback exactly once: on completion, or with
 *     FAIL when it could not be started or when the client is freed.
 */
#include "auth_int.h"

#include <curl/curl.h>

#define MAX_ANSWER 65536 /* bytes of answer body read; more is a failure */

typedef struct req {
    struct req *next;   /* pending list */
    struct req *active; /* in-flight list (HTTP thread only) */
    char *body;
    size_t len;
    cn_buf_t answer;
    bool too_big;
    mq_auth__http_cb cb;
    void *arg;
    CURL *easy;
} req_t;

struct mq_auth__http {
    char *url;
    long timeout_ms;
    CURLM *multi;
    struct curl_slist *headers;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    req_t *pending; /* NOTES 1 (LIFO here; reversed when taken) */
    bool stop;
    req_t *active; /* transfers in the multi handle (HTTP thread only) */
};

static void finish(req_t *r, int verdict)
{
    r->cb(r->arg, verdict);
    cn_free(r->body);
    cn_buf_free(&r->answer);
    cn_free(r);
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    req_t *r = arg;
    size_t len = size * n;
    if (r->answer.len + len > MAX_ANSWER) {
        r->too_big = true;
        return 0; /* aborts the transfer */
    }
    cn_buf_put(&r->answer, p, len);
    return len;
}

static void start(mq_auth__http_t *h, req_t *r)
{
    r->easy = curl_easy_init();
    CURL *e = r->easy;
    if (!e || curl_easy_setopt(e, CURLOPT_URL, h->url) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, h->timeout_ms) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEDATA, r) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PRIVATE, r) != CURLE_OK ||
        curl_multi_add_handle(h->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        finish(r, MQ_AUTH__HTTP_FAIL);
        return;
    }
    r->active = h->active;
    h->active = r;
}

static void done(mq_auth__http_t *h, CURL *e, CURLcode res)
{
    req_t *r = NULL;
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(h->multi, e);
    curl_easy_cleanup(e);
    for (req_t **pp = &h->active; *pp; pp = &(*pp)->active) {
        if (*pp == r) {
            *pp = r->active;
            break;
        }
    }
    int verdict = MQ_AUTH__HTTP_FAIL;
    if (res == CURLE_OK && status == 204)
        verdict = MQ_AUTH__HTTP_ALLOW;
    else if (res == CURLE_OK && status == 200 && !r->too_big)
        verdict = mq_auth__http_verdict((const char *)r->answer.p, r->answer.len);
    if (verdict == MQ_AUTH__HTTP_FAIL)
        cn_warn("auth-http: request failed: %s, HTTP status %ld",
                res == CURLE_OK ? "bad answer" : curl_easy_strerror(res), status);
    finish(r, verdict);
}

/* Takes the pending list in arrival order. */
static req_t *take_pending(mq_auth__http_t *h, bool *stop)
{
    pthread_mutex_lock(&h->mu);
    req_t *lifo = h->pending, *fifo = NULL;
    h->pending = NULL;
    *stop = h->stop;
    pthread_mutex_unlock(&h->mu);
    while (lifo) {
        req_t *n = lifo->next;
        lifo->next = fifo;
        fifo = lifo;
        lifo = n;
    }
    return fifo;
}

static void *run(void *arg)
{
    mq_auth__http_t *h = arg;
    for (;;) {
        bool stop;
        req_t *r = take_pending(h, &stop);
        while (r) {
            req_t *n = r->next;
            if (stop)
                finish(r, MQ_AUTH__HTTP_FAIL);
            else
                start(h, r);
            r = n;
        }
        if (stop)
            break;
        int running = 0, left;
        curl_multi_perform(h->multi, &running);
        CURLMsg *m;
        while ((m = curl_multi_info_read(h->multi, &left)) != NULL)
            if (m->msg == CURLMSG_DONE)
                done(h, m->easy_handle, m->data.result);
        curl_multi_poll(h->multi, NULL, 0, 1000, NULL);
    }
    /* Stopping: fail the transfers in flight (NOTES 2). */
    while (h->active)
        done(h, h->active->easy, CURLE_ABORTED_BY_CALLBACK);
    return NULL;
}

int mq_auth__http_new(const char *url, int64_t timeout_ns, uint32_t max_conns,
                      mq_auth__http_t **out)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return CN_EINVAL;
    mq_auth__http_t *h = cn_calloc(1, sizeof *h);
    h->url = cn_strdup(url);
    h->timeout_ms = (long)CN_MAX(1, timeout_ns / 1000000);
    pthread_mutex_init(&h->mu, NULL);
    h->multi = curl_multi_init();
    h->headers = curl_slist_append(NULL, "Content-Type: application/json");
    h->headers = curl_slist_append(h->headers, "Expect:"); /* no 100-continue round trip */
    CURLU *u = curl_url();
    bool ok = h->multi && h->headers && u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK;
    curl_url_cleanup(u);
    ok = ok &&
         curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)max_conns) == CURLM_OK &&
         curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)max_conns) == CURLM_OK;
    int rc = ok ? 0 : CN_EINVAL;
    if (rc == 0) {
        rc = -pthread_create(&h->thread, NULL, run, h);
        h->started = rc == 0;
    }
    if (rc < 0) {
        mq_auth__http_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

void mq_auth__http_free(mq_auth__http_t *h)
{
    if (!h)
        return;
    if (h->started) {
        pthread_mutex_lock(&h->mu);
        h->stop = true;
        pthread_mutex_unlock(&h->mu);
        curl_multi_wakeup(h->multi);
        pthread_join(h->thread, NULL);
    }
    bool stop;
    for (req_t *r = take_pending(h, &stop), *n; r; r = n) {
        n = r->next;
        finish(r, MQ_AUTH__HTTP_FAIL);
    }
    if (h->multi)
        curl_multi_cleanup(h->multi);
    curl_slist_free_all(h->headers);
    pthread_mutex_destroy(&h->mu);
    cn_free(h->url);
    cn_free(h);
    curl_global_cleanup();
}

void mq_auth__http_post_take(mq_auth__http_t *h, char *body, size_t len, mq_auth__http_cb cb,
                             void *arg)
{
    req_t *r = cn_calloc(1, sizeof *r);
    r->body = body;
    r->len = len;
    r->cb = cb;
    r->arg = arg;
    cn_buf_init(&r->answer);
    pthread_mutex_lock(&h->mu);
    bool stop = h->stop;
    if (!stop) {
        r->next = h->pending;
        h->pending = r;
    }
    pthread_mutex_unlock(&h->mu);
    if (stop)
        finish(r, MQ_AUTH__HTTP_FAIL);
    else
        curl_multi_wakeup(h->multi);
}

/* ------------------------------------------------------------- JSON out */

/* Appends s as a JSON string.  Valid UTF-8 is copied; every other byte
 * becomes \u00XX (its Latin-1 reading), so the body is always valid JSON. */
static void put_str(cn_buf_t *b, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    cn_buf_put_u8(b, '"');
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t len = c < 0x80                 ? 1
                     : c >= 0xc2 && c <= 0xdf ? 2
                     : c >= 0xe0 && c <= 0xef ? 3
                     : c >= 0xf0 && c <= 0xf4 ? 4
                                              : 0;
        if (len > 1 && i + len <= n && mq_auth_user_valid((const char *)s + i, len)) {
            cn_buf_put(b, s + i, len);
            i += len;
            continue;
        }
        if (c == '"' || c == '\\') {
            cn_buf_put_u8(b, '\\');
            cn_buf_put_u8(b, c);
        } else if (c < 0x20 || c >= 0x7f) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            cn_buf_put(b, esc, 6);
        } else {
            cn_buf_put_u8(b, c);
        }
        i++;
    }
    cn_buf_put_u8(b, '"');
}

const char *mq_auth__peer_host(const char *peer, size_t *n)
{
    const char *p = peer ? peer : "";
    if (p[0] == '[') {
        const char *close = strchr(p, ']');
        *n = close ? (size_t)(close - p - 1) : strlen(p);
        return close ? p + 1 : p;
    }
    const char *colon = strrchr(p, ':');
    *n = colon ? (size_t)(colon - p) : strlen(p);
    return p;
}

void mq_auth__http_body(const mq_auth_creds_t *c, cn_buf_t *out)
{
    static const char nul[] = "null";
    cn_buf_put(out, "{\"clientid\":", 12);
    put_str(out, (const uint8_t *)c->client_id, c->client_id_len);
    cn_buf_put(out, ",\"username\":", 12);
    if (c->username)
        put_str(out, c->username, c->username_len);
    else
        cn_buf_put(out, nul, 4);
    cn_buf_put(out, ",\"password\":", 12);
    if (c->password)
        put_str(out, c->password, c->password_len);
    else
        cn_buf_put(out, nul, 4);
    size_t hlen;
    const char *host = mq_auth__peer_host(c->peer, &hlen);
    cn_buf_put(out, ",\"peerhost\":", 12);
    put_str(out, (const uint8_t *)host, hlen);
    char tail[32];
    int n = snprintf(tail, sizeof tail, ",\"protocol\":%u}", (unsigned)c->level);
    cn_buf_put(out, tail, (size_t)n);
    cn_buf_put_u8(out, 0); /* NUL for curl's POSTFIELDS, not counted */
    out->len--;
}
