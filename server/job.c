/* SPDX-License-Identifier: MIT */
/*
 * job.c - the worker pool and the job <-> loop hand-over (job.h).
 *
 * All shared job state is guarded by the pool's mutex: the output buffer,
 * the begun/done flags and the ready list the loop drains on job_async.
 * The loop alone touches c <-> job links.  Sockets are the loop's too, with
 * one exception that saves an answer the wake-up of the loop: a job whose
 * whole answer is ready before any of it went to the loop, on a connection
 * with nothing else queued, is written to the socket by its worker
 * (direct_answer), under the pool's mutex - the loop detaches a job under
 * that mutex before it closes the socket, and writes nothing to a busy
 * connection - and the loop then only ends the request (NOTES 1).
 * The loop's own thread may run a job too, after it left the loop; a job
 * that takes long gets the loop run by the sitter meanwhile (NOTES 2).
 * The loop is only ever run by one thread at a time, handed over under
 * the pool's mutex.
 *
 * NOTES
 * 1. The head is the one head_buf() would write, from the request's flags
 *    copied at srv__job_run.  Whatever the socket does not take at once
 *    goes to the loop, which queues it; a failed write closes the
 *    connection there.
 * 2. The loop's hand-off.  Between requests both virtual CPUs here go
 *    idle, and waking a thread on an idle one costs tens of microseconds:
 *    a job queued to a sleeping worker made a small query wait for two
 *    such wake-ups (the loop on the connection, then the worker) where a
 *    /ping waits for one.  So srv__job_run on the loop's own thread keeps
 *    the job for that thread and stops the loop; srv__pool_loop then runs
 *    the job itself - the thread already awake answers (direct_answer, as
 *    a worker would) - and nobody runs the loop meanwhile, unless the job
 *    still runs after SRV_POOL_FOLLOW_NS: then the sitter, a thread of its
 *    own asleep on a timerfd armed at the start of the job, takes the loop
 *    (follow) until the loop's thread asks it back (baton_async stops the
 *    loop in the sitter).  So loop events wait at most that long plus a
 *    wake-up while a job starts, and no job ever runs on a thread while
 *    that thread runs the loop.  Waking anyone at the start of the job
 *    was the expensive part: with an idle worker signalled to take the
 *    loop at once, the query paid about 55 us more (the futex wake of a
 *    thread on the other, idle virtual CPU).  Arming and disarming the
 *    timer are two syscalls without a wake-up (NOTES 3 on when it fires).
 *    While the sitter has the loop, jobs are queued as before.  Measured
 *    with `lat` (a new connection per request after a 2 ms pause, as curl
 *    leaves it in `bench/run query`; servers side by side, 3 rounds of
 *    400), each step against the one before in its own session: a
 *    worker woken at once to take the loop, Q1 p50 336/323/318 ->
 *    314/301/292 us, Q2 359/348/342 -> 352/347/335; the sitter instead,
 *    Q1 296/285/257 -> 252/241/221, Q2 350/340/307 -> 303/289/274.
 * 3. When the sitter looks.  A timer that expires before the CPU's next
 *    kernel tick makes the kernel reprogram the CPU's timer, which costs
 *    a virtual machine an exit: arming one 0.5 ms ahead took 14 us (p50
 *    of 400, 2 ms apart), disarming it again 15 us; at a tick, 3 and 2 us
 *    (ticks fall on multiples of the tick in CLOCK_MONOTONIC, whose
 *    length the coarse clock's resolution gives: 4 ms here).  So the
 *    timer is armed for the first tick after the job began; the sitter
 *    takes the loop then if the job ran SRV_POOL_FOLLOW_NS, else arms
 *    its timer for that moment itself (its CPU pays) and looks again.
 *    Loop events thus wait at least 0.5 ms and at most one tick (plus a
 *    wake-up) while a job starts, and a job that ends in time costs two
 *    cheap syscalls.  With curl (bench/run query's client, a new
 *    connection per request), servers side by side on freshly loaded
 *    'medium', p50 of 200: Q2 526/537/531 -> 500/477/505 us, Q1 493/500
 *    -> 415/354, SHOW DATABASES 406 -> 355; context switches per
 *    request 2.7 -> 2.1 (the timer fired less often into a sitter with
 *    nothing to do).  The price, /ping every 3 ms beside a stream of
 *    60 ms count(*) queries: p90 285-920 -> 661-1314 us, p99 4.7-5.3 ->
 *    5.0-6.8 ms (scheduling on two busy CPUs dominates either way).
 */
#include "job.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

struct srv_pool {
    srv_http_t *h;
    pthread_mutex_t mu;
    pthread_cond_t work; /* a job was queued, or stopping */
    pthread_cond_t room; /* a job's pending output shrank */
    srv_job_t *qhead, *qtail;
    srv_job_t *ready; /* jobs with news for the loop */
    srv_job_t *running; /* jobs inside fn (through next_run) */
    bool stop;
    bool live; /* the loop still listens on job_async */
    uint32_t n;
    pthread_t *th;
    /* the loop's hand-off (NOTES 2) */
    bool lf_enabled;       /* srv__pool_loop runs the loop: hand-offs may happen */
    srv_job_t *inline_job; /* srv__job_run: for the loop's own thread to run */
    int lf_tfd;            /* the sitter's timer (timerfd), -1: no hand-offs */
    pthread_t sitter;      /* runs the loop while the loop's thread runs a job */
    bool sitter_started;
    bool lf_want;          /* the sitter should run the loop when its timer fires */
    int64_t lf_start;      /* when the loop's thread began its job (cn_mono_ns) */
    int64_t tick_ns;       /* the kernel's tick (NOTES 3), 0: unknown */
    bool lf_running;       /* the sitter runs it */
    bool lf_done, lf_alive; /* it gave the loop back; the loop still has handles */
    pthread_cond_t lf_cv;   /* lf_done */
    atomic_bool lf_ask;     /* the loop's thread wants it back (srv__pool_baton) */
};

struct srv_job {
    srv_pool_t *pool;
    srv_conn_t *c; /* loop only: NULL once detached */
    srv_job_fn fn;
    void *arg;
    void (*free_fn)(void *);
    atomic_int cancel;
    bool http10;
    /* copied at srv__job_run for direct_answer */
    bool direct_ok; /* no socket writes pending, fd valid */
    bool close, head_req;
    int fd;
    /* under pool->mu; freed once both sides are done and it is off the
     * ready list */
    bool worker_done, loop_done;
    cn_buf_t out;
    bool begun, done, queued_ready;
    bool failed; /* srv_job_fail */
    bool notified; /* the loop heard of this job before it ended */
    int direct;    /* direct_answer: 1 written, 2 the rest in out, -1 failed */
    int status;
    char ctype[96];
    char *extra;
    srv_job_t *next_q, *next_ready, *next_run, **prev_run;
    /* loop only */
    bool head_sent, chunked;
};

static bool freeable(const srv_job_t *j)
{
    return j->worker_done && j->loop_done && !j->queued_ready;
}

static void job_free(srv_job_t *j)
{
    if (j->free_fn)
        j->free_fn(j->arg);
    cn_buf_free(&j->out);
    cn_free(j->extra);
    cn_free(j);
}

/* Tells the loop about j (pool->mu held). */
static void notify_locked(srv_pool_t *p, srv_job_t *j)
{
    j->notified = true;
    if (!j->queued_ready) {
        j->queued_ready = true;
        j->next_ready = p->ready;
        p->ready = j;
    }
    if (p->live)
        uv_async_send(&p->h->job_async);
}

/* The worker writes a finished job's answer itself (pool->mu held; see
 * the file comment). */
static void direct_answer(srv_job_t *j)
{
    cn_buf_t m;
    cn_buf_init(&m);
    cn_buf_reserve(&m, 512 + (j->head_req ? 0 : j->out.len));
    srv__http_head_fmt(j->status, j->ctype[0] ? j->ctype : NULL, j->extra, j->http10, j->close,
                       j->out.len, &m);
    if (!j->head_req)
        cn_buf_put(&m, j->out.p, j->out.len);
    size_t off = 0;
    int err = 0;
    while (off < m.len) {
        ssize_t n = send(j->fd, m.p + off, m.len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            err = n < 0 && errno != EAGAIN && errno != EWOULDBLOCK ? -1 : 0;
            break;
        }
    }
    cn_buf_reset(&j->out);
    if (err) {
        j->direct = -1;
    } else {
        j->direct = off == m.len ? 1 : 2;
        cn_buf_put(&j->out, m.p + off, m.len - off);
    }
    cn_buf_free(&m);
}

/* Runs j, which has just left the queue (pool->mu held on entry and exit). */
static void run_job_locked(srv_pool_t *p, srv_job_t *j)
{
    j->next_run = p->running;
    if (p->running)
        p->running->prev_run = &j->next_run;
    j->prev_run = &p->running;
    p->running = j;
    pthread_mutex_unlock(&p->mu);
    if (!atomic_load(&j->cancel))
        j->fn(j, j->arg);
    pthread_mutex_lock(&p->mu);
    *j->prev_run = j->next_run;
    if (j->next_run)
        j->next_run->prev_run = j->prev_run;
    j->done = true;
    j->worker_done = true;
    if (j->direct_ok && !j->notified && j->begun && !j->failed && !atomic_load(&j->cancel) &&
        p->live && !j->loop_done)
        direct_answer(j);
    if (freeable(j)) {
        pthread_mutex_unlock(&p->mu);
        job_free(j);
        pthread_mutex_lock(&p->mu);
    } else {
        notify_locked(p, j);
    }
}

/* The sitter runs the loop until its thread asks for it back or it ends
 * (pool->mu held on entry and exit; NOTES 2). */
static void follow(srv_pool_t *p)
{
    p->lf_want = false;
    p->lf_running = true;
    pthread_mutex_unlock(&p->mu);
    int r = uv_run(&p->h->loop, UV_RUN_DEFAULT);
    pthread_mutex_lock(&p->mu);
    p->lf_running = false;
    p->lf_done = true;
    p->lf_alive = r != 0;
    pthread_cond_broadcast(&p->lf_cv);
}

static void enqueue_locked(srv_pool_t *p, srv_job_t *j)
{
    if (p->qtail)
        p->qtail->next_q = j;
    else
        p->qhead = j;
    p->qtail = j;
}

static void *worker(void *arg)
{
    srv_pool_t *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->qhead && !p->stop)
            pthread_cond_wait(&p->work, &p->mu);
        if (!p->qhead)
            break;
        srv_job_t *j = p->qhead;
        p->qhead = j->next_q;
        if (!p->qhead)
            p->qtail = NULL;
        run_job_locked(p, j);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Arms the sitter's timer to fire at the monotonic time at (ns; 0 disarms
 * it). */
static void sitter_arm(srv_pool_t *p, int64_t at)
{
    struct itimerspec it = {.it_value = {.tv_sec = at / 1000000000, .tv_nsec = at % 1000000000}};
    timerfd_settime(p->lf_tfd, TFD_TIMER_ABSTIME, &it, NULL);
}

/* The first time the sitter looks at a job begun at start: the kernel's
 * first tick after it, or start + SRV_POOL_FOLLOW_NS when the tick is
 * unknown (NOTES 3). */
static int64_t sitter_first(const srv_pool_t *p, int64_t start)
{
    if (!p->tick_ns)
        return start + SRV_POOL_FOLLOW_NS;
    return (start / p->tick_ns + 1) * p->tick_ns;
}

/* Sleeps until its timer fires; then takes the loop if the loop's thread
 * still runs a job (NOTES 2). */
static void *sitter(void *arg)
{
    srv_pool_t *p = arg;
    for (;;) {
        uint64_t n;
        ssize_t r = read(p->lf_tfd, &n, sizeof n);
        if (r < 0 && errno != EINTR && errno != EAGAIN) {
            cn_error("http: the loop's sitter cannot read its timer: %s; queries run on the "
                     "worker pool from now on",
                     strerror(errno));
            pthread_mutex_lock(&p->mu);
            p->lf_enabled = false;
            pthread_mutex_unlock(&p->mu);
            break;
        }
        pthread_mutex_lock(&p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        if (p->lf_want) {
            int64_t due = p->lf_start + SRV_POOL_FOLLOW_NS;
            if (cn_mono_ns() < due) /* a tick early in the job: look again when due */
                sitter_arm(p, due);
            else
                follow(p);
        }
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

void srv__pool_loop(srv_pool_t *p)
{
    uv_loop_t *loop = &p->h->loop;
    pthread_mutex_lock(&p->mu);
    p->lf_enabled = p->sitter_started; /* no timer, no sitter: no hand-offs */
    pthread_mutex_unlock(&p->mu);
    for (;;) {
        uv_run(loop, UV_RUN_DEFAULT);
        pthread_mutex_lock(&p->mu);
        srv_job_t *j = p->inline_job;
        p->inline_job = NULL;
        if (!j) { /* the loop ended */
            p->lf_enabled = false;
            pthread_mutex_unlock(&p->mu);
            return;
        }
        p->lf_want = true;
        p->lf_done = false;
        atomic_store(&p->lf_ask, false);
        p->lf_start = cn_mono_ns();
        sitter_arm(p, sitter_first(p, p->lf_start));
        run_job_locked(p, j);
        if (p->lf_want) { /* the sitter did not take the loop: it is still ours */
            p->lf_want = false;
            sitter_arm(p, 0);
            pthread_mutex_unlock(&p->mu);
            continue;
        }
        atomic_store(&p->lf_ask, true);
        if (!p->lf_done)
            uv_async_send(&p->h->baton_async);
        while (!p->lf_done)
            pthread_cond_wait(&p->lf_cv, &p->mu);
        bool alive = p->lf_alive;
        p->lf_done = false;
        atomic_store(&p->lf_ask, false);
        pthread_mutex_unlock(&p->mu);
        if (!alive)
            return; /* it ended while the sitter ran it */
    }
}

void srv__pool_baton(srv_pool_t *p)
{
    if (p && atomic_load(&p->lf_ask))
        uv_stop(&p->h->loop);
}

int srv__pool_new(srv_http_t *h, uint32_t nthreads, srv_pool_t **out)
{
    srv_pool_t *p = cn_calloc(1, sizeof *p);
    p->h = h;
    p->live = true;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->room, NULL);
    pthread_cond_init(&p->lf_cv, NULL);
    p->lf_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    struct timespec res; /* a coarse clock ticks with the kernel */
    if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0 && res.tv_sec == 0 &&
        res.tv_nsec >= 100000 && res.tv_nsec <= 10000000)
        p->tick_ns = res.tv_nsec;
    if (p->lf_tfd < 0)
        cn_warn("http: no timerfd (%s): queries always run on the worker pool",
                strerror(errno));
    else
        p->sitter_started = pthread_create(&p->sitter, NULL, sitter, p) == 0;
    if (nthreads < 1)
        nthreads = 1;
    p->th = cn_calloc(nthreads, sizeof *p->th);
    for (uint32_t i = 0; i < nthreads; i++) {
        int rc = pthread_create(&p->th[i], NULL, worker, p);
        if (rc) {
            p->n = i;
            srv__pool_free(p);
            return -rc;
        }
        p->n = i + 1;
    }
    *out = p;
    return 0;
}

void srv__pool_free(srv_pool_t *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    p->live = false;
    for (srv_job_t *j = p->qhead; j; j = j->next_q)
        atomic_store(&j->cancel, 1);
    for (srv_job_t *j = p->running; j; j = j->next_run)
        atomic_store(&j->cancel, 1);
    pthread_cond_broadcast(&p->work);
    pthread_cond_broadcast(&p->room);
    if (p->sitter_started)
        sitter_arm(p, 1); /* long past: it wakes at once and sees stop */
    pthread_mutex_unlock(&p->mu);
    for (uint32_t i = 0; i < p->n; i++)
        pthread_join(p->th[i], NULL);
    if (p->sitter_started)
        pthread_join(p->sitter, NULL);
    if (p->lf_tfd >= 0)
        close(p->lf_tfd);
    /* jobs the loop never released (it stopped first) */
    for (srv_job_t *j = p->ready, *n; j; j = n) {
        n = j->next_ready;
        j->queued_ready = false;
        j->loop_done = true;
        if (freeable(j))
            job_free(j);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->room);
    pthread_cond_destroy(&p->lf_cv);
    cn_free(p->th);
    cn_free(p);
}

void srv__job_run(srv_conn_t *c, srv_job_fn fn, void *arg, void (*free_fn)(void *))
{
    srv_pool_t *p = c->srv->pool;
    srv_job_t *j = cn_calloc(1, sizeof *j);
    j->pool = p;
    j->c = c;
    j->fn = fn;
    j->arg = arg;
    j->free_fn = free_fn;
    j->http10 = c->req.http10;
    j->head_req = c->req.head;
    j->close = !c->req.keep_alive || c->srv->stopping || (c->peer_eof && !srv__conn_pipelined(c));
    j->direct_ok = !c->srv->sink && c->nwrites == 0 &&
                   uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0 &&
                   uv_fileno((uv_handle_t *)&c->tcp, &j->fd) == 0;
    cn_buf_init(&j->out);
    c->job = j;
    pthread_mutex_lock(&p->mu);
    if (p->lf_enabled && !p->lf_running && !p->inline_job) {
        /* this thread runs it once it left the loop to a worker (NOTES 2) */
        p->inline_job = j;
        pthread_mutex_unlock(&p->mu);
        uv_stop(&c->srv->loop);
        return;
    }
    enqueue_locked(p, j);
    pthread_mutex_unlock(&p->mu);
    /* signalled after the unlock: a worker woken while the loop still held
     * the mutex went back to sleep on it and needed a second wake-up
     * (futex) - 44 against 12 us from queue to run at p50 for a small
     * query here */
    pthread_cond_signal(&p->work);
}

void srv__job_detach(srv_conn_t *c)
{
    srv_job_t *j = c->job;
    c->job = NULL;
    j->c = NULL;
    atomic_store(&j->cancel, 1);
    srv_pool_t *p = j->pool;
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->room);
    j->loop_done = true;
    bool f = freeable(j); /* else the worker or the pump frees it */
    pthread_mutex_unlock(&p->mu);
    if (f)
        job_free(j);
}

/* Sends what the job produced to its connection. */
static void deliver(srv_job_t *j, cn_buf_t *data, bool done, bool begun, bool failed,
                    int status, const char *ctype, const char *extra, int direct)
{
    srv_conn_t *c = j->c;
    if (!c)
        return;
    if (done && direct) { /* the worker wrote the answer (direct_answer) */
        c->job = NULL;
        j->c = NULL;
        if (direct < 0)
            srv__conn_close(c);
        else
            srv__http_answered(c, data);
        return;
    }
    if (done && failed && j->head_sent) {
        c->job = NULL;
        j->c = NULL;
        srv__conn_close(c);
        return;
    }
    if (!j->head_sent) {
        if (!begun && !done)
            return;
        if (!begun || failed) {
            status = 500;
            ctype = "application/json";
            extra = NULL;
            cn_buf_reset(data);
            if (failed)
                cn_buf_put(data, "{\"error\":\"the answer failed while it was produced\"}\n", 52);
            else
                cn_buf_put(data, "{\"error\":\"query handler ended without an answer\"}\n", 51);
        }
        if (done) {
            /* the whole answer at once: one write with Content-Length */
            c->job = NULL;
            j->c = NULL;
            srv__http_respond(c, status, ctype[0] ? ctype : NULL, extra, data->p, data->len);
            return;
        }
        j->chunked = true;
        srv__http_head(c, status, ctype[0] ? ctype : NULL, extra, j->chunked, data->len);
        j->head_sent = true;
        if (!j->c)
            return; /* the write failed and closed the connection */
    }
    if (data->len) {
        if (j->chunked && !j->http10) {
            char hdr[24];
            int n = snprintf(hdr, sizeof hdr, "%zx\r\n", data->len);
            srv__http_body(c, hdr, (size_t)n);
            if (!j->c)
                return;
            cn_buf_put(data, "\r\n", 2);
        }
        srv__http_body(c, data->p, data->len);
        if (!j->c)
            return;
    }
    if (done) {
        if (j->chunked && !j->http10)
            srv__http_body(c, "0\r\n\r\n", 5);
        if (!j->c)
            return;
        c->job = NULL;
        j->c = NULL;
        if (j->chunked && j->http10)
            c->close_after = true;
        srv__http_end(c);
    }
}

void srv__job_pump(srv_http_t *h)
{
    srv_pool_t *p = h->pool;
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    srv_job_t *list = p->ready;
    p->ready = NULL;
    pthread_mutex_unlock(&p->mu);
    while (list) {
        srv_job_t *j = list;
        list = j->next_ready;
        cn_buf_t data;
        pthread_mutex_lock(&p->mu);
        j->queued_ready = false;
        data = j->out;
        cn_buf_init(&j->out);
        bool done = j->done, begun = j->begun, failed = j->failed;
        int status = j->status, direct = j->direct;
        char ctype[96];
        memcpy(ctype, j->ctype, sizeof ctype);
        char *extra = j->extra;
        j->extra = NULL;
        pthread_cond_broadcast(&p->room);
        pthread_mutex_unlock(&p->mu);
        if (j->c)
            deliver(j, &data, done, begun, failed, status, ctype, extra, direct);
        cn_free(extra);
        cn_buf_free(&data);
        pthread_mutex_lock(&p->mu);
        if (!j->c)
            j->loop_done = true;
        bool f = freeable(j);
        pthread_mutex_unlock(&p->mu);
        if (f)
            job_free(j);
    }
}

void srv__job_shutdown(srv_http_t *h)
{
    srv_pool_t *p = h->pool;
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->live = false;
    pthread_mutex_unlock(&p->mu);
}

void srv_job_begin(srv_job_t *j, int status, const char *ctype, const char *extra)
{
    srv_pool_t *p = j->pool;
    pthread_mutex_lock(&p->mu);
    j->begun = true;
    j->status = status;
    snprintf(j->ctype, sizeof j->ctype, "%s", ctype ? ctype : "");
    cn_free(j->extra);
    j->extra = extra ? cn_strdup(extra) : NULL;
    pthread_mutex_unlock(&p->mu);
}

int srv_job_write(srv_job_t *j, const void *data, size_t n)
{
    srv_pool_t *p = j->pool;
    pthread_mutex_lock(&p->mu);
    while (j->out.len > SRV_JOB_MAX_PENDING && !atomic_load(&j->cancel) && p->live)
        pthread_cond_wait(&p->room, &p->mu);
    if (atomic_load(&j->cancel) || !p->live) {
        pthread_mutex_unlock(&p->mu);
        return CN_ECLOSED;
    }
    cn_buf_put(&j->out, data, n);
    /* the first bytes wait for the end of the job when it is quick: the
     * loop then answers with Content-Length */
    if (j->out.len > 65536 || j->head_sent)
        notify_locked(p, j);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void srv_job_fail(srv_job_t *j)
{
    srv_pool_t *p = j->pool;
    pthread_mutex_lock(&p->mu);
    j->failed = true;
    pthread_mutex_unlock(&p->mu);
}

const atomic_int *srv_job_cancel_flag(const srv_job_t *j)
{
    return &j->cancel;
}

bool srv_job_http10(const srv_job_t *j)
{
    return j->http10;
}
