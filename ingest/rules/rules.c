/* SPDX-License-Identifier: MIT */
/*
 * rules.c - the rule set, its snapshots and the per-thread evaluators
 * (rules.h has the contract).
 *
 * NOTES
 * 1. The set keeps the definitions (entries, sorted by id) and one stats
 *    object per rule id.  Every change builds a complete new snapshot from
 *    the entries under rs->mu, then swaps rs->cur and bumps rs->gen
 *    (release).  The old snapshot loses the set's reference; workers hold
 *    their own until they notice the new generation.
 * 2. Snapshot lifetime: refs counts the set (while current) plus every
 *    worker using it.  A worker frees its router reader and row BEFORE
 *    dropping its reference, so the last unref can free the router (which
 *    requires that no reader is left) and the symbol table.
 * 3. A snapshot contains enabled rules only.  Rule i of a snapshot is
 *    subscribed to the snapshot's router as subscriber i, once per filter;
 *    the router merges overlapping filters of one rule into one route, so
 *    a rule runs at most once per row.
 * 4. Stats objects are shared by id between the entries and every snapshot
 *    that contains the rule (refcounted), so replacing a rule or toggling
 *    it keeps its counters; deleting it drops them.
 */
#include "router.h"
#include "rules_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#define READER_CACHE 4096

typedef struct snap {
    atomic_int refs;
    uint64_t gen;
    mq_router_t *router;
    qry_symtab_t *st;
    mq__crule_t *rules;
    size_t n;
} snap_t;

typedef struct entry {
    mq_rule_def_t *def; /* owned */
    mq__stats_t *stats; /* one reference */
} entry_t;

struct mq_rules {
    uv_mutex_t mu; /* guards everything below but gen */
    mq_rules_action_fn on_action;
    void *arg;
    entry_t *ents;
    size_t n, cap;
    snap_t *cur;
    atomic_uint_fast64_t gen;
};

struct mq_rules_worker {
    mq_rules_t *rs;
    uint64_t gen;
    snap_t *snap;
    mq_router_reader_t *rd;
    qry_row_t *row;
    mq_router_res_t res;
    uint32_t *cand; /* [cand_cap] candidate rule indices */
    uint8_t *mark;  /* [cand_cap] */
    size_t cand_cap;
    cn_buf_t json;
    mq__rendered_t rendered;
    cn_ratelimit_t log_rl;
};

/* ------------------------------------------------------------------ stats */

static mq__stats_t *stats_new(const char *id)
{
    mq__stats_t *s = cn_calloc(1, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", id);
    atomic_init(&s->refs, 1);
    return s;
}

static mq__stats_t *stats_ref(mq__stats_t *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

static void stats_unref(mq__stats_t *s)
{
    if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        cn_free(s);
}

static void bump(atomic_uint_fast64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* --------------------------------------------------------------- snapshots */

static void snap_free(snap_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        stats_unref(s->rules[i].stats);
        mq__crule_free(&s->rules[i]);
    }
    cn_free(s->rules);
    mq_router_free(s->router);
    qry_symtab_free(s->st);
    cn_free(s);
}

static void snap_unref(snap_t *s)
{
    if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        snap_free(s);
}

/* Compiles the enabled entries (NOTES 1, 3).  Definitions in entries were
 * validated when they were added, so only resource errors can fail. */
static int snap_build(const entry_t *ents, size_t n, snap_t **out)
{
    snap_t *s = cn_calloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    int rc = mq_router_new(&s->router);
    if (rc < 0) {
        cn_free(s);
        return rc;
    }
    qry_symtab_new(&s->st);
    s->rules = cn_calloc(n ? n : 1, sizeof *s->rules);
    for (size_t i = 0; i < n && rc >= 0; i++) {
        if (!ents[i].def->enabled)
            continue;
        mq_rules_err_t err;
        mq__crule_t *cr = &s->rules[s->n];
        rc = mq__crule_build(cr, ents[i].def, s->st, &err);
        if (rc < 0)
            break;
        cr->stats = stats_ref(ents[i].stats);
        s->n++;
        mq_sub_opts_t so = {.qos = 0};
        for (size_t f = 0; f < cr->ast->nfilters && rc >= 0; f++) {
            const char *filter = cr->ast->filters[f];
            rc = mq_router_subscribe(s->router, s->n - 1, filter, strlen(filter), &so);
        }
    }
    if (rc < 0) {
        snap_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Builds and publishes a snapshot of the current entries.  Called with
 * rs->mu held. */
static int publish(mq_rules_t *rs)
{
    snap_t *s;
    int rc = snap_build(rs->ents, rs->n, &s);
    if (rc < 0)
        return rc;
    snap_t *old = rs->cur;
    s->gen = atomic_load_explicit(&rs->gen, memory_order_relaxed) + 1;
    rs->cur = s;
    atomic_store_explicit(&rs->gen, s->gen, memory_order_release);
    snap_unref(old);
    return 0;
}

/* ----------------------------------------------------------------- the set */

int mq_rules_new(mq_rules_action_fn on_action, void *arg, mq_rules_t **out)
{
    mq_rules_t *rs = cn_calloc(1, sizeof *rs);
    int rc = cn_from_uv(uv_mutex_init(&rs->mu));
    if (rc < 0) {
        cn_free(rs);
        return rc;
    }
    rs->on_action = on_action;
    rs->arg = arg;
    atomic_init(&rs->gen, 0);
    uv_mutex_lock(&rs->mu);
    rc = publish(rs);
    uv_mutex_unlock(&rs->mu);
    if (rc < 0) {
        uv_mutex_destroy(&rs->mu);
        cn_free(rs);
        return rc;
    }
    *out = rs;
    return 0;
}

static void entries_free(entry_t *ents, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mq_rule_def_free(ents[i].def);
        stats_unref(ents[i].stats);
    }
    cn_free(ents);
}

void mq_rules_free(mq_rules_t *rs)
{
    if (!rs)
        return;
    snap_unref(rs->cur);
    entries_free(rs->ents, rs->n);
    uv_mutex_destroy(&rs->mu);
    cn_free(rs);
}

/* Index of id in the sorted entries, or -(insertion point) - 1. */
static long find(const mq_rules_t *rs, const char *id)
{
    size_t lo = 0, hi = rs->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(rs->ents[mid].def->id, id);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long)lo - 1;
}

int mq_rules_put(mq_rules_t *rs, const mq_rule_def_t *def, mq_rules_err_t *err)
{
    MQ__TRY(mq_rule_validate(def, err));
    uv_mutex_lock(&rs->mu);
    long at = find(rs, def->id);
    mq_rule_def_t *copy = mq__def_dup(def);
    mq_rule_def_t *old = NULL;
    if (at >= 0) {
        old = rs->ents[at].def;
        rs->ents[at].def = copy;
    } else {
        size_t pos = (size_t)(-at - 1);
        if (rs->n == rs->cap) {
            rs->cap = rs->cap ? rs->cap * 2 : 16;
            rs->ents = cn_realloc(rs->ents, rs->cap * sizeof *rs->ents);
        }
        memmove(&rs->ents[pos + 1], &rs->ents[pos], (rs->n - pos) * sizeof *rs->ents);
        rs->ents[pos] = (entry_t){.def = copy, .stats = stats_new(def->id)};
        rs->n++;
    }
    int rc = publish(rs);
    uv_mutex_unlock(&rs->mu);
    mq_rule_def_free(old);
    if (rc < 0) {
        memset(err, 0, sizeof *err);
        err->code = rc;
        snprintf(err->msg, sizeof err->msg, "rule set not updated: %s", cn_strerror(rc));
        return rc;
    }
    return at >= 0 ? 1 : 0;
}

int mq_rules_delete(mq_rules_t *rs, const char *id)
{
    uv_mutex_lock(&rs->mu);
    long at = find(rs, id);
    if (at < 0) {
        uv_mutex_unlock(&rs->mu);
        return CN_ENOTFOUND;
    }
    entry_t e = rs->ents[at];
    memmove(&rs->ents[at], &rs->ents[at + 1], (rs->n - (size_t)at - 1) * sizeof *rs->ents);
    rs->n--;
    int rc = publish(rs);
    uv_mutex_unlock(&rs->mu);
    mq_rule_def_free(e.def);
    stats_unref(e.stats);
    return rc;
}

int mq_rules_enable(mq_rules_t *rs, const char *id, bool enabled)
{
    uv_mutex_lock(&rs->mu);
    long at = find(rs, id);
    int rc = CN_ENOTFOUND;
    if (at >= 0) {
        rc = 0;
        if (rs->ents[at].def->enabled != enabled) {
            rs->ents[at].def->enabled = enabled;
            rc = publish(rs);
        }
    }
    uv_mutex_unlock(&rs->mu);
    return rc;
}

static int cmp_ent(const void *a, const void *b)
{
    return strcmp(((const entry_t *)a)->def->id, ((const entry_t *)b)->def->id);
}

int mq_rules_replace(mq_rules_t *rs, const mq_rule_def_t *defs, size_t n, mq_rules_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        if (mq_rule_validate(&defs[i], err) < 0) {
            char msg[sizeof err->msg];
            int k = snprintf(msg, sizeof msg, "rule %.64s: ", defs[i].id ? defs[i].id : "?");
            size_t len = CN_MIN(strlen(err->msg), sizeof msg - (size_t)k - 1);
            memcpy(msg + k, err->msg, len);
            msg[(size_t)k + len] = 0;
            memcpy(err->msg, msg, sizeof msg);
            return CN_EINVAL;
        }
    }
    entry_t *ents = cn_calloc(n ? n : 1, sizeof *ents);
    for (size_t i = 0; i < n; i++)
        ents[i] = (entry_t){.def = mq__def_dup(&defs[i]), .stats = NULL};
    qsort(ents, n, sizeof *ents, cmp_ent);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(ents[i - 1].def->id, ents[i].def->id) == 0) {
            memset(err, 0, sizeof *err);
            err->code = CN_EINVAL;
            snprintf(err->msg, sizeof err->msg, "rule %.64s: duplicate id", ents[i].def->id);
            entries_free(ents, n);
            return CN_EINVAL;
        }
    }
    uv_mutex_lock(&rs->mu);
    for (size_t i = 0; i < n; i++) {
        long at = find(rs, ents[i].def->id); /* keep the counters of kept ids */
        ents[i].stats = at >= 0 ? stats_ref(rs->ents[at].stats) : stats_new(ents[i].def->id);
    }
    entry_t *old = rs->ents;
    size_t oldn = rs->n;
    rs->ents = ents;
    rs->n = rs->cap = n;
    int rc = publish(rs);
    uv_mutex_unlock(&rs->mu);
    entries_free(old, oldn);
    if (rc < 0) {
        memset(err, 0, sizeof *err);
        err->code = rc;
        snprintf(err->msg, sizeof err->msg, "rule set not updated: %s", cn_strerror(rc));
    }
    return rc;
}

size_t mq_rules_count(mq_rules_t *rs)
{
    uv_mutex_lock(&rs->mu);
    size_t n = rs->n;
    uv_mutex_unlock(&rs->mu);
    return n;
}

int mq_rules_get(mq_rules_t *rs, const char *id, mq_rule_def_t **out)
{
    uv_mutex_lock(&rs->mu);
    long at = find(rs, id);
    *out = at >= 0 ? mq__def_dup(rs->ents[at].def) : NULL;
    uv_mutex_unlock(&rs->mu);
    return at >= 0 ? 0 : CN_ENOTFOUND;
}

static void read_stats(const mq__stats_t *s, mq_rule_metrics_t *m)
{
    m->matched = atomic_load_explicit(&s->matched, memory_order_relaxed);
    m->passed = atomic_load_explicit(&s->passed, memory_order_relaxed);
    m->failed = atomic_load_explicit(&s->failed, memory_order_relaxed);
    m->actions = atomic_load_explicit(&s->actions, memory_order_relaxed);
    m->action_errors = atomic_load_explicit(&s->action_errors, memory_order_relaxed);
}

int mq_rules_metrics(mq_rules_t *rs, const char *id, mq_rule_metrics_t *m)
{
    uv_mutex_lock(&rs->mu);
    long at = find(rs, id);
    if (at >= 0)
        read_stats(rs->ents[at].stats, m);
    uv_mutex_unlock(&rs->mu);
    return at >= 0 ? 0 : CN_ENOTFOUND;
}

static void entry_json(const entry_t *e, cn_buf_t *out)
{
    cn_buf_t def;
    cn_buf_init(&def);
    mq_rule_def_json(e->def, &def);
    /* def is {...}: splice source and metrics in before its '}' */
    cn_buf_put(out, def.p, def.len - 1);
    mq_rule_metrics_t m;
    read_stats(e->stats, &m);
    char tmp[320];
    int k = snprintf(tmp, sizeof tmp,
                     ",\"source\":\"%s\",\"metrics\":{\"matched\":%llu,\"passed\":%llu,"
                     "\"failed\":%llu,\"actions\":%llu,\"action_errors\":%llu}}",
                     e->def->from_file ? "file" : "api", (unsigned long long)m.matched,
                     (unsigned long long)m.passed, (unsigned long long)m.failed,
                     (unsigned long long)m.actions, (unsigned long long)m.action_errors);
    cn_buf_put(out, tmp, (size_t)k);
    cn_buf_free(&def);
}

int mq_rules_json(mq_rules_t *rs, const char *id, cn_buf_t *out)
{
    uv_mutex_lock(&rs->mu);
    int rc = 0;
    if (id) {
        long at = find(rs, id);
        if (at >= 0)
            entry_json(&rs->ents[at], out);
        else
            rc = CN_ENOTFOUND;
    } else {
        cn_buf_put(out, "{\"rules\":[", 10);
        for (size_t i = 0; i < rs->n; i++) {
            if (i)
                cn_buf_put_u8(out, ',');
            entry_json(&rs->ents[i], out);
        }
        cn_buf_put(out, "]}", 2);
    }
    uv_mutex_unlock(&rs->mu);
    return rc;
}

void mq_rules_prometheus(mq_rules_t *rs, cn_buf_t *out)
{
    static const char *const names[] = {"matched", "passed", "failed", "actions", "action_errors"};
    static const char *const help[] = {
        "Rows of messages whose topic matched the rule",
        "Rows that passed the rule's WHERE",
        "Rows whose evaluation failed (type error, missing field, ...)",
        "Actions handed to the sinks",
        "Actions the sinks refused",
    };
    uv_mutex_lock(&rs->mu);
    for (size_t k = 0; k < CN_ARRAY_LEN(names); k++) {
        char tmp[256];
        int w = snprintf(tmp, sizeof tmp,
                         "# HELP cairn_rule_%s_total %s.\n# TYPE cairn_rule_%s_total counter\n",
                         names[k], help[k], names[k]);
        cn_buf_put(out, tmp, (size_t)w);
        for (size_t i = 0; i < rs->n; i++) {
            mq_rule_metrics_t m;
            read_stats(rs->ents[i].stats, &m);
            uint64_t v[] = {m.matched, m.passed, m.failed, m.actions, m.action_errors};
            w = snprintf(tmp, sizeof tmp, "cairn_rule_%s_total{rule=\"%s\"} %llu\n", names[k],
                         rs->ents[i].def->id, (unsigned long long)v[k]);
            cn_buf_put(out, tmp, (size_t)w);
        }
    }
    uv_mutex_unlock(&rs->mu);
}

/* ----------------------------------------------------------------- workers */

int mq_rules_worker_new(mq_rules_t *rs, mq_rules_worker_t **out)
{
    mq_rules_worker_t *w = cn_calloc(1, sizeof *w);
    w->rs = rs;
    mq_router_res_init(&w->res);
    cn_buf_init(&w->json);
    *out = w;
    return 0;
}

static void worker_drop(mq_rules_worker_t *w)
{
    /* NOTES 2: the reader goes before the snapshot reference */
    mq_router_reader_free(w->rd);
    qry_row_free(w->row);
    w->rd = NULL;
    w->row = NULL;
    snap_unref(w->snap);
    w->snap = NULL;
}

void mq_rules_worker_free(mq_rules_worker_t *w)
{
    if (!w)
        return;
    worker_drop(w);
    mq_router_res_free(&w->res);
    cn_buf_free(&w->json);
    mq__rendered_free(&w->rendered);
    cn_free(w->cand);
    cn_free(w->mark);
    cn_free(w);
}

static int worker_refresh(mq_rules_worker_t *w)
{
    worker_drop(w);
    mq_rules_t *rs = w->rs;
    uv_mutex_lock(&rs->mu);
    snap_t *s = rs->cur;
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    uv_mutex_unlock(&rs->mu);
    w->snap = s;
    w->gen = s->gen;
    if (w->cand_cap < s->n) {
        w->cand_cap = s->n;
        w->cand = cn_realloc(w->cand, w->cand_cap * sizeof *w->cand);
        w->mark = cn_realloc(w->mark, w->cand_cap);
    }
    int rc = mq_router_reader_new(s->router, READER_CACHE, &w->rd);
    if (rc == 0)
        rc = qry_row_new(s->st, &w->row);
    if (rc < 0)
        worker_drop(w);
    return rc;
}

/* The candidate rules in rule (id) order: a mark-and-scan over all rules
 * when many match (O(rules)), else an insertion sort (O(matches^2)). */
static size_t candidates(mq_rules_worker_t *w, size_t nroutes)
{
    size_t n = 0, nrules = w->snap->n;
    if (nroutes * 8 >= nrules) {
        memset(w->mark, 0, nrules);
        for (size_t i = 0; i < nroutes; i++)
            w->mark[w->res.v[i].sub] = 1;
        for (size_t i = 0; i < nrules; i++)
            if (w->mark[i])
                w->cand[n++] = (uint32_t)i;
        return n;
    }
    for (size_t i = 0; i < nroutes; i++) {
        uint32_t v = (uint32_t)w->res.v[i].sub, j = (uint32_t)n++;
        while (j > 0 && w->cand[j - 1] > v) {
            w->cand[j] = w->cand[j - 1];
            j--;
        }
        w->cand[j] = v;
    }
    return n;
}

static int dispatch(mq_rules_worker_t *w, const mq__crule_t *cr, const qry_msg_t *qm,
                    const mq_rules_msg_t *m)
{
    w->json.len = 0;
    qry_row_json(w->row, &w->json);
    cn_buf_reserve(&w->json, 1);
    w->json.p[w->json.len] = 0;
    int calls = 0;
    for (uint32_t i = 0; i < cr->def->nactions; i++) {
        mq_rules_out_t out;
        mq__render_action(cr, i, w->row, qm, &w->json, &w->rendered, &out);
        out.msg = m;
        if (!w->rs->on_action)
            continue;
        int rc = w->rs->on_action(w->rs->arg, &out);
        bump(&cr->stats->actions);
        if (rc < 0)
            bump(&cr->stats->action_errors);
        calls++;
    }
    return calls;
}

static void log_failure(mq_rules_worker_t *w, const mq__crule_t *cr, int rc)
{
    uint32_t suppressed = 0;
    if (!cn_ratelimit_ok(&w->log_rl, cn_mono_ns(), INT64_C(10000000000), 10, &suppressed))
        return;
    cn_debug("rule %s: %s (%s)%s", cr->def->id, qry_row_error(w->row), cn_errname(rc),
             suppressed ? " (more suppressed)" : "");
}

int mq_rules_eval(mq_rules_worker_t *w, const mq_rules_msg_t *m)
{
    uint64_t gen = atomic_load_explicit(&w->rs->gen, memory_order_acquire);
    if (gen != w->gen || !w->snap)
        MQ__TRY(worker_refresh(w));
    snap_t *s = w->snap;
    if (s->n == 0)
        return 0;
    int nr = mq_router_match(w->rd, m->topic, m->topic_len, MQ_ROUTER_NOBODY, &w->res);
    if (nr <= 0)
        return nr;
    size_t nc = candidates(w, (size_t)nr);
    size_t rows = m->npoints ? m->npoints : 1;
    int calls = 0;
    for (size_t p = 0; p < rows; p++) {
        qry_msg_t qm;
        mq__row_msg(m, m->npoints ? &m->points[p] : NULL, &qm);
        qry_row_bind(w->row, &qm);
        for (size_t c = 0; c < nc; c++) {
            const mq__crule_t *cr = &s->rules[w->cand[c]];
            bump(&cr->stats->matched);
            int rc = qry_prog_run(cr->prog, w->row);
            if (rc < 0) {
                bump(&cr->stats->failed);
                log_failure(w, cr, rc);
                continue;
            }
            if (rc == 0)
                continue;
            bump(&cr->stats->passed);
            calls += dispatch(w, cr, &qm, m);
        }
    }
    return calls;
}
