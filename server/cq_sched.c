/* SPDX-License-Identifier: MIT */
/*
 * cq_sched.c - the continuous-query thread (cq_sched.h).
 */
#include "cq_sched.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SEC_NS INT64_C(1000000000)

typedef struct ent {
    char *text;
    qry_cq_t *cq;
    int64_t next;   /* its next run */
    int64_t warned; /* when a failure was last logged */
    bool seen;      /* still in the catalog */
} ent_t;

struct srv_cqs {
    srv_cqs_opts_t o;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* stop */
    bool stop;
    atomic_int cancel; /* set by stop: a running query ends */
    ent_t *ents;
    size_t n;
    atomic_uint_fast64_t runs, failures, written;
};

/* Brings the list in line with the catalog; new queries run first at
 * their next run time after now. */
static void sync_list(srv_cqs_t *s, int64_t now)
{
    size_t nt;
    char **texts = qry_catalog_cqs(s->o.catalog, &nt);
    for (size_t i = 0; i < s->n; i++)
        s->ents[i].seen = false;
    for (size_t k = 0; k < nt; k++) {
        size_t i = 0;
        while (i < s->n && strcmp(s->ents[i].text, texts[k]) != 0)
            i++;
        if (i < s->n) {
            s->ents[i].seen = true;
            cn_free(texts[k]);
            continue;
        }
        qry_cq_t *cq;
        qry_error_t err;
        if (qry_cq_parse(texts[k], &cq, &err) < 0) { /* the catalog parsed it once */
            cn_warn("cq: cannot run %s: %s", texts[k], err.msg);
            cn_free(texts[k]);
            continue;
        }
        s->ents = cn_realloc(s->ents, (s->n + 1) * sizeof *s->ents);
        s->ents[s->n++] =
            (ent_t){.text = texts[k], .cq = cq, .next = qry_cq_next_run(cq, now), .seen = true};
    }
    cn_free(texts);
    for (size_t i = 0; i < s->n;) {
        if (s->ents[i].seen) {
            i++;
            continue;
        }
        qry_cq_free(s->ents[i].cq);
        cn_free(s->ents[i].text);
        s->ents[i] = s->ents[--s->n];
    }
}

static void run_one(srv_cqs_t *s, ent_t *e, int64_t t)
{
    qry_exec_opts_t o = {
        .db = s->o.db,
        .cat = s->o.catalog,
        .max_series = s->o.max_series,
        .max_points = s->o.max_points,
        .threads = s->o.threads ? s->o.threads : 1,
        .cancel = &s->cancel,
    };
    if (s->o.timeout_ns > 0)
        o.deadline = cn_mono_ns() + s->o.timeout_ns;
    int64_t start, end, t0 = cn_mono_ns();
    qry_cq_window(e->cq, t, &start, &end);
    qry_result_t *r = NULL;
    if (qry_cq_run(e->cq, t, &o, &r) < 0)
        return; /* cancelled: the server stops */
    atomic_fetch_add(&s->runs, 1);
    if (r->err) {
        atomic_fetch_add(&s->failures, 1);
        int64_t now = cn_mono_ns();
        if (!e->warned || now - e->warned >= 60 * SEC_NS) {
            e->warned = now;
            cn_warn("cq: %s on %s failed for [%lld, %lld): %s", qry_cq_name(e->cq),
                    qry_cq_db(e->cq), (long long)start, (long long)end, r->err);
        }
    } else if (r->nseries == 1 && r->series[0].nrows == 1 && r->series[0].ncols == 2) {
        int64_t n = r->series[0].vals[1].u.i;
        atomic_fetch_add(&s->written, (uint64_t)n);
        cn_debug("cq: %s on %s wrote %lld points for [%lld, %lld) in %lld us", qry_cq_name(e->cq),
                 qry_cq_db(e->cq), (long long)n, (long long)start, (long long)end,
                 (long long)((cn_mono_ns() - t0) / 1000));
    }
    qry_result_free(r);
}

static void *cq_main(void *arg)
{
    srv_cqs_t *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        pthread_mutex_unlock(&s->mu);
        int64_t now = cn_now_ns();
        sync_list(s, now);
        int64_t wake = now + SEC_NS; /* the catalog is looked at again by then */
        for (size_t i = 0; i < s->n && !atomic_load(&s->cancel); i++) {
            ent_t *e = &s->ents[i];
            if (e->next <= now) {
                int64_t t = qry_cq_last_run(e->cq, now); /* the latest due run only */
                run_one(s, e, t);
                e->next = qry_cq_next_run(e->cq, t);
            }
            wake = CN_MIN(wake, e->next);
        }
        pthread_mutex_lock(&s->mu);
        if (s->stop)
            break;
        struct timespec ts = {.tv_sec = (time_t)(wake / SEC_NS), .tv_nsec = (long)(wake % SEC_NS)};
        pthread_cond_timedwait(&s->cv, &s->mu, &ts); /* CLOCK_REALTIME: runs are wall times */
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int srv_cqs_start(const srv_cqs_opts_t *o, srv_cqs_t **out)
{
    srv_cqs_t *s = cn_calloc(1, sizeof *s);
    s->o = *o;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    atomic_init(&s->cancel, 0);
    int rc = pthread_create(&s->th, NULL, cq_main, s);
    if (rc != 0) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        cn_free(s);
        return -rc;
    }
    *out = s;
    return 0;
}

void srv_cqs_stop(srv_cqs_t *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    atomic_store(&s->cancel, 1);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->th, NULL);
    for (size_t i = 0; i < s->n; i++) {
        qry_cq_free(s->ents[i].cq);
        cn_free(s->ents[i].text);
    }
    cn_free(s->ents);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    cn_free(s);
}

void srv_cqs_metrics(void *arg, cn_buf_t *out)
{
    srv_cqs_t *s = arg;
    char t[640];
    int n = snprintf(t, sizeof t,
                     "# HELP cairn_cq_runs_total Continuous-query runs.\n"
                     "# TYPE cairn_cq_runs_total counter\n"
                     "cairn_cq_runs_total %llu\n"
                     "# HELP cairn_cq_failures_total Continuous-query runs that failed.\n"
                     "# TYPE cairn_cq_failures_total counter\n"
                     "cairn_cq_failures_total %llu\n"
                     "# HELP cairn_cq_points_written_total Points continuous queries wrote.\n"
                     "# TYPE cairn_cq_points_written_total counter\n"
                     "cairn_cq_points_written_total %llu\n",
                     (unsigned long long)atomic_load(&s->runs),
                     (unsigned long long)atomic_load(&s->failures),
                     (unsigned long long)atomic_load(&s->written));
    cn_buf_put(out, t, (size_t)n);
}
