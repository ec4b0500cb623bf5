/* SPDX-License-Identifier: MIT */
/*
 * fuzz_http.c - libFuzzer target for the HTTP/1.1 request handling of
 * server/http.c and server/write.c: header parsing and limits, chunked
 * bodies, gzip inflate (with max_body), Expect: 100-continue, query
 * strings (db, precision, verbose), routing, /write into a real engine and
 * every error response.  No socket and no running loop: the connection is
 * made with srv__conn_new_detached and fed through srv__conn_read, the
 * read callback's body; responses arrive in the server's sink.
 *
 * Input: byte 0 is a control byte, the rest is what the client sends.
 *   bits 0-3  split: 0 = one read, k = reads of 1 << (k - 1) bytes
 *   bit 4     the client sends EOF after its bytes
 *   bit 5     max_body 256 bytes (instead of 64 KiB): 413s, gzip bombs
 *
 * Properties (a broken one aborts):
 *   - every chunk the server writes is one response: "HTTP/1.1 ", a status
 *     the server knows, headers ending in CRLF CRLF, then a body of
 *     Content-Length bytes (or none, for HEAD), or exactly
 *     "HTTP/1.1 100 Continue\r\n\r\n";
 *   - nothing is written once the connection is C_CLOSING, and a response
 *     saying "Connection: close" leaves it C_CLOSING;
 *   - after every read the connection is settled: not parked, not busy,
 *     not inside conn_process; idle or reading with no unparsed bytes
 *     and a read armed (unless the peer sent EOF), and an idle one holds
 *     no request state.
 * A /write parked on durability or CN_EFULL (wal_buffer_max is 1 byte, so
 * a write while the WAL thread still holds a backlog meets it) is resumed
 * by the harness after eng_wait_durable / eng_wait_writable, as the loop's
 * durable notify and retry timer would.
 */
#include "http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENGINE_RUNS 4000 /* inputs per engine before it is recreated */

typedef struct fz {
    srv_http_t *h;
    eng_db_t *db;
    char dir[64];
    unsigned runs;
    srv_conn_t *c;
    unsigned nresp; /* responses written to c */
    bool closing_seen;
    bool trace;
} fz_t;

static fz_t F;

static void check(bool ok)
{
    if (!ok)
        abort();
}

static const int STATUSES[] = {200, 204, 400, 404, 405, 408, 413, 415, 431, 500, 503};

static bool known_status(int st)
{
    for (size_t i = 0; i < sizeof STATUSES / sizeof STATUSES[0]; i++)
        if (STATUSES[i] == st)
            return true;
    return false;
}

static const char *find(const char *p, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, needle, k) == 0)
            return p + i;
    return NULL;
}

/* One chunk written by queue_write: one whole response. */
static void on_sink(void *arg, srv_conn_t *c, const void *data, size_t n)
{
    fz_t *f = arg;
    const char *p = data;
    if (f->trace) /* FUZZ_HTTP_TRACE=1: print what the server answers */
        fprintf(stderr, "<<< %.*s\n", (int)n, p);
    check(c == f->c);
    check(c->state != C_CLOSING); /* nothing after the last response */
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (n == sizeof cont - 1 && memcmp(p, cont, n) == 0) {
        check(c->state == C_READING);
        return;
    }
    check(c->state == C_BUSY);
    check(n > 13 && memcmp(p, "HTTP/1.1 ", 9) == 0);
    check(p[9] >= '1' && p[9] <= '5' && p[10] >= '0' && p[10] <= '9' && p[11] >= '0' &&
          p[11] <= '9' && p[12] == ' ');
    int st = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    check(known_status(st));
    const char *end = find(p, n, "\r\n\r\n");
    check(end != NULL);
    size_t hlen = (size_t)(end - p) + 4, blen = n - hlen;
    const char *cl = find(p, hlen, "\r\nContent-Length: ");
    if (st == 204) {
        check(cl == NULL && blen == 0);
    } else {
        check(cl != NULL);
        unsigned long long want = strtoull(cl + 18, NULL, 10);
        check(blen == want || blen == 0); /* HEAD: no body */
    }
    /* Header lines are CRLF-terminated with no stray bytes. */
    for (size_t i = 0; i < hlen; i++)
        check(p[i] != '\n' || (i > 0 && p[i - 1] == '\r'));
    if (find(p, hlen, "\r\nConnection: close\r\n"))
        f->closing_seen = true;
    f->nresp++;
}

static void engine_close(void)
{
    if (!F.db)
        return;
    F.h->db = NULL;
    eng_close(F.db);
    F.db = NULL;
    cn_rmtree(F.dir);
}

static void at_exit(void)
{
    engine_close();
    srv_http_free(F.h);
    F.h = NULL;
}

static void setup(void)
{
    if (!F.h) {
        cn_log_set_level(CN_LOG_ERROR);
        F.trace = getenv("FUZZ_HTTP_TRACE") != NULL;
        srv_http_opts_t o = {0};
        o.host = "127.0.0.1";
        o.max_body = 64 * 1024;
        o.read_timeout_ns = INT64_C(3600) * 1000000000; /* timers never fire here */
        o.idle_timeout_ns = INT64_C(3600) * 1000000000;
        o.max_conns = 16;
        check(srv_http_new(&o, &F.h) == 0);
        F.h->sink = on_sink;
        F.h->sink_arg = &F;
        atexit(at_exit);
    }
    if (F.db && F.runs % ENGINE_RUNS == 0)
        engine_close();
    if (!F.db) {
        snprintf(F.dir, sizeof F.dir, "/tmp/cairn-fuzz-http-XXXXXX");
        check(mkdtemp(F.dir) != NULL);
        eng_opts_t eo;
        eng_opts_default(&eo);
        eo.dir = F.dir;
        eo.durability = ENG_DUR_OS;
        eo.background = false;
        eo.memtable_bytes = 8u << 20;
        eo.wal_buffer_max = 1; /* pipelined writes meet CN_EFULL and park */
        check(eng_open(&eo, &F.db) == 0);
        F.h->db = F.db;
    }
    F.runs++;
}

/* Resumes a parked /write until it responds, as on_durable / on_retry do. */
static void settle(srv_conn_t *c)
{
    for (int i = 0; c->parked && i < 1000; i++) {
        int why = c->parked;
        srv__unpark(F.h, c);
        if (why == PARK_WRITABLE) {
            eng_flush(F.db);
            check(eng_wait_writable(F.db) == 0);
        } else {
            /* CN_EINVAL: seq+1 was never appended, everything is durable
             * already (the WAL thread caught up since the write parked). */
            int rc = eng_wait_durable(F.db, eng_durable_seq(F.db) + 1);
            check(rc == 0 || rc == CN_EINVAL);
        }
        srv__write_resume(c);
    }
    check(!c->parked);
}

static void check_state(const fz_t *f, const srv_conn_t *c)
{
    check(!c->in_process && !c->parked && c->state != C_BUSY);
    check(c->in_off <= c->in.len);
    check(c->nwrites == 0);
    if (f->closing_seen)
        check(c->state == C_CLOSING);
    if (c->state == C_CLOSING) {
        check(c->close_after || c->linger);
        return;
    }
    check(c->in.len == 0 && c->in_off == 0); /* everything parsed */
    check(!c->close_after && !c->linger);
    check(c->reading == !c->peer_eof);
    if (c->state == C_IDLE) {
        const srv_req_t *r = &c->req;
        check(r->url.len == 0 && r->body.len == 0 && r->hname.len == 0 && r->hval.len == 0);
        check(!r->z_live && !r->gzip && !r->expect_continue && r->err_status == 0);
        check(r->hdr_bytes == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    setup();
    uint8_t ctl = data[0];
    data++, size--;
    size_t step = (ctl & 15) ? (size_t)1 << ((ctl & 15) - 1) : size;
    if (step == 0)
        step = 1;
    F.h->o.max_body = (ctl & 32) ? 256 : 64 * 1024;

    srv_conn_t *c = srv__conn_new_detached(F.h);
    check(c != NULL);
    F.c = c;
    F.nresp = 0;
    F.closing_seen = false;
    check_state(&F, c);
    for (size_t off = 0; off < size && c->state != C_CLOSING;) {
        size_t n = size - off < step ? size - off : step;
        srv__conn_read(c, (ssize_t)n, (const char *)data + off);
        settle(c);
        check_state(&F, c);
        off += n;
    }
    if (c->state == C_CLOSING) {
        /* A closing connection discards what it still receives. */
        unsigned before = F.nresp;
        srv__conn_read(c, 4, "GET ");
        check(F.nresp == before);
    }
    if ((ctl & 16) && c->state != C_CLOSING) {
        srv__conn_read(c, UV_EOF, NULL);
        /* EOF closes at once unless a request is being handled. */
        check(uv_is_closing((uv_handle_t *)&c->tcp));
    }
    srv__conn_close(c);
    uv_run(&F.h->loop, UV_RUN_NOWAIT); /* close callbacks free c */
    check(F.h->nconns == 0 && F.h->conns == NULL);
    F.c = NULL;
    return 0;
}
