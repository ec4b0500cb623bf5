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
 * 3. A snapshot contains enabled rules only.  Its router holds each
 *    distinct topic filter of those rules once, as subscriber f (filter f),
 *    and filter f lists its rules, ascending, in frules[fstart[f],
 *    fstart[f + 1]).  Deployments have many rules on few filters, so a
 *    match returns a route or two, not one per rule: when one filter
 *    matches, its list is the candidate list as it stands; when several
 *    do, their lists are merged without duplicates (a rule whose filters
 *    overlap runs once per row), in rule order.
 * 4. Stats objects are shared by id between the entries and every snapshot
 *    that contains the rule (refcounted), so replacing a rule or toggling
 *    it keeps its counters; deleting it drops them.
 * 5. Counting on the ingest path: a relaxed atomic read-modify-write per
 *    counter per rule per row is a locked instruction each (three per
 *    passing rule), which at 100 rules costs more than the evaluation.  So
 *    each stats object has MQ__STAT_SHARDS shards; a worker takes shard
 *    1..MQ__STAT_SHARDS-1 for itself at creation (a bit of the shared
 *    shard_pool_t, by compare-and-swap) and adds with a relaxed load and
 *    store, which only it performs on that shard; workers beyond those
 *    share shard 0 with atomic adds.  A freed worker's shard is taken over
 *    with its counts (release on freeing the bit, acquire on taking it
 *    order the two owners).  The pool is refcounted apart from the set
 *    because the server frees its ingest workers after the rule set.
 *    Readers sum the shards with relaxed loads.
 * 6. Packed mode (rules.h): for a passing rule with a webhook or Kafka
 *    action whose body is the outputs' JSON, the outputs are packed once
 *    (packed.c: key bytes and raw typed values, a few copies) into the
 *    worker's buffer and every such action receives those bytes; the JSON
 *    text (numbers formatted shortest-round-trip, strings escaped) is made
 *    where the sink delivers.  The JSON is still built when a republish
 *    action of the rule needs it now.  Rules whose outputs are all bare
 *    names have a plan (packed.c: the output slots and the keys laid out
 *    at snapshot build); rules of equal plans (the same outputs) share
 *    one packing per row, as they would share one JSON text.  The packed
 *    bytes of a row live in w->packed until the next bind (pointers are
 *    taken after packing, as the buffer may move).
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
    const qry_prog_t **progs; /* [n] rules[i].prog, for qry_prog_prefilter */
    size_t n;
    uint32_t *fstart; /* [nfilters + 1] (NOTES 3) */
    uint32_t *frules; /* rule indices by filter */
    size_t nfilters;
    mq__plan_t *plans; /* [nplans] distinct packing plans (NOTES 6) */
    size_t nplans;
    int32_t *rule_plan; /* [n] the rule's plan, or -1 */
} snap_t;

typedef struct entry {
    mq_rule_def_t *def; /* owned */
    mq__stats_t *stats; /* one reference */
} entry_t;

/* Which stats shards workers own (NOTES 5). */
typedef struct shard_pool {
    atomic_uint refs;
    atomic_uint bits; /* bit i: shard i taken */
} shard_pool_t;

static void pool_unref(shard_pool_t *p)
{
    if (p && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
        cn_free(p);
}

struct mq_rules {
    uv_mutex_t mu; /* guards everything below but gen */
    mq_rules_action_fn on_action;
    void *arg;
    entry_t *ents;
    size_t n, cap;
    snap_t *cur;
    shard_pool_t *pool; /* one reference */
    atomic_uint_fast64_t gen;
    atomic_bool packed; /* mq_rules_set_packed (NOTES 6) */
};

struct mq_rules_worker {
    mq_rules_t *rs;
    uint64_t gen;
    snap_t *snap;
    mq_router_reader_t *rd;
    qry_row_t *row;
    mq_router_res_t res;
    uint32_t *cand;   /* [cand_cap] candidate rule indices */
    uint8_t *mark;    /* [cand_cap] */
    uint8_t *verdict; /* [cand_cap] qry_prog_prefilter's */
    mq__stat_shard_t **ctr; /* [cand_cap] rule i's counters in w's shard (NOTES 5) */
    size_t cand_cap;
    mq__rendered_t rendered;
    cn_buf_t packed;       /* outputs packed for the bound row (NOTES 6) */
    uint64_t binds;        /* rows bound, from 1 */
    uint64_t *pbind;       /* [plan_cap] the bind plan k was packed in, at */
    uint32_t *poff, *plen; /* packed[poff[k], + plen[k]) */
    size_t plan_cap;
    cn_ratelimit_t log_rl;
    shard_pool_t *pool; /* one reference */
    unsigned shard;     /* stats shard; 0: shared (NOTES 5) */
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

/* Adds 1 to counter k of a rule's counters sh in w's shard (w->ctr[ri],
 * NOTES 5). */
static inline void bump(const mq_rules_worker_t *w, mq__stat_shard_t *sh, int k)
{
    atomic_uint_fast64_t *c = &sh->c[k];
    if (w->shard)
        atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    else
        atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* --------------------------------------------------------------- snapshots */

static void snap_free(snap_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        stats_unref(s->rules[i].stats);
        mq__crule_free(&s->rules[i]);
    }
    for (size_t i = 0; i < s->nplans; i++)
        mq__plan_free(&s->plans[i]);
    cn_free(s->plans);
    cn_free(s->rule_plan);
    cn_free(s->rules);
    cn_free(s->progs);
    cn_free(s->fstart);
    cn_free(s->frules);
    mq_router_free(s->router);
    qry_symtab_free(s->st);
    cn_free(s);
}

static void snap_unref(snap_t *s)
{
    if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        snap_free(s);
}

typedef struct fpair {
    const char *filter;
    uint32_t rule;
} fpair_t;

static int cmp_fpair(const void *a, const void *b)
{
    const fpair_t *x = a, *y = b;
    int c = strcmp(x->filter, y->filter);
    return c ? c : (x->rule > y->rule) - (x->rule < y->rule);
}

/* Groups the rules by distinct filter and subscribes each filter once
 * (NOTES 3). */
static int snap_filters(snap_t *s)
{
    size_t np = 0;
    for (size_t i = 0; i < s->n; i++)
        np += s->rules[i].ast->nfilters;
    fpair_t *pv = cn_calloc(np ? np : 1, sizeof *pv);
    np = 0;
    for (size_t i = 0; i < s->n; i++)
        for (size_t f = 0; f < s->rules[i].ast->nfilters; f++)
            pv[np++] = (fpair_t){s->rules[i].ast->filters[f], (uint32_t)i};
    qsort(pv, np, sizeof *pv, cmp_fpair);
    s->fstart = cn_calloc(np + 1, sizeof *s->fstart);
    s->frules = cn_calloc(np ? np : 1, sizeof *s->frules);
    size_t nr = 0;
    int rc = 0;
    mq_sub_opts_t so = {.qos = 0};
    for (size_t i = 0; i < np && rc >= 0; i++) {
        bool new_filter = i == 0 || strcmp(pv[i].filter, pv[i - 1].filter) != 0;
        if (new_filter) {
            s->fstart[s->nfilters] = (uint32_t)nr;
            rc = mq_router_subscribe(s->router, s->nfilters, pv[i].filter, strlen(pv[i].filter),
                                     &so);
            s->nfilters++;
        } else if (pv[i].rule == pv[i - 1].rule) {
            continue; /* a rule naming one filter twice */
        }
        s->frules[nr++] = pv[i].rule;
    }
    s->fstart[s->nfilters] = (uint32_t)nr;
    cn_free(pv);
    return rc < 0 ? rc : 0;
}

/* The packing plans of the rules whose JSON body may be packed, one per
 * distinct plan (NOTES 6). */
static void snap_plans(snap_t *s)
{
    s->rule_plan = cn_calloc(s->n ? s->n : 1, sizeof *s->rule_plan);
    s->plans = cn_calloc(s->n ? s->n : 1, sizeof *s->plans);
    for (size_t i = 0; i < s->n; i++) {
        s->rule_plan[i] = -1;
        mq__plan_t pl;
        if (!s->rules[i].needs_json || !mq__plan_build(s->rules[i].ast, s->rules[i].prog, &pl))
            continue;
        size_t k = 0;
        while (k < s->nplans && !mq__plan_eq(&s->plans[k], &pl))
            k++;
        if (k == s->nplans)
            s->plans[s->nplans++] = pl;
        else
            mq__plan_free(&pl);
        s->rule_plan[i] = (int32_t)k;
    }
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
    }
    if (rc == 0) {
        s->progs = cn_calloc(s->n ? s->n : 1, sizeof *s->progs);
        for (size_t i = 0; i < s->n; i++)
            s->progs[i] = s->rules[i].prog;
        snap_plans(s);
        rc = snap_filters(s);
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
    rs->pool = cn_calloc(1, sizeof *rs->pool);
    atomic_init(&rs->pool->refs, 1);
    atomic_init(&rs->pool->bits, 1u); /* shard 0 is everybody's */
    atomic_init(&rs->gen, 0);
    atomic_init(&rs->packed, false);
    uv_mutex_lock(&rs->mu);
    rc = publish(rs);
    uv_mutex_unlock(&rs->mu);
    if (rc < 0) {
        uv_mutex_destroy(&rs->mu);
        pool_unref(rs->pool);
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
    pool_unref(rs->pool);
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

void mq_rules_set_packed(mq_rules_t *rs, bool on)
{
    atomic_store_explicit(&rs->packed, on, memory_order_relaxed);
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
    uint64_t v[MQ__C_N] = {0};
    for (int i = 0; i < MQ__STAT_SHARDS; i++)
        for (int k = 0; k < MQ__C_N; k++)
            v[k] += atomic_load_explicit(&s->shard[i].c[k], memory_order_relaxed);
    m->matched = v[MQ__C_MATCHED];
    m->passed = v[MQ__C_PASSED];
    m->failed = v[MQ__C_FAILED];
    m->actions = v[MQ__C_ACTIONS];
    m->action_errors = v[MQ__C_ACTION_ERRORS];
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
    w->pool = rs->pool;
    atomic_fetch_add_explicit(&w->pool->refs, 1, memory_order_relaxed);
    unsigned bits = atomic_load_explicit(&w->pool->bits, memory_order_relaxed);
    for (unsigned i = 1; i < MQ__STAT_SHARDS;) {
        if (bits & (1u << i)) {
            i++;
            continue;
        }
        if (atomic_compare_exchange_weak_explicit(&w->pool->bits, &bits, bits | (1u << i),
                                                  memory_order_acquire, memory_order_relaxed)) {
            w->shard = i;
            break;
        } /* bits reloaded: look again from i */
    }
    mq_router_res_init(&w->res);
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
    if (w->shard)
        atomic_fetch_and_explicit(&w->pool->bits, ~(1u << w->shard), memory_order_release);
    pool_unref(w->pool);
    mq_router_res_free(&w->res);
    mq__rendered_free(&w->rendered);
    cn_buf_free(&w->packed);
    cn_free(w->pbind);
    cn_free(w->poff);
    cn_free(w->plen);
    cn_free(w->cand);
    cn_free(w->mark);
    cn_free(w->verdict);
    cn_free(w->ctr);
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
        w->verdict = cn_realloc(w->verdict, w->cand_cap);
        w->ctr = cn_realloc(w->ctr, w->cand_cap * sizeof *w->ctr);
    }
    /* the snapshot's reference keeps every stats object alive */
    for (size_t i = 0; i < s->n; i++)
        w->ctr[i] = &s->rules[i].stats->shard[w->shard];
    if (w->plan_cap < s->nplans) {
        w->plan_cap = s->nplans;
        w->pbind = cn_realloc(w->pbind, w->plan_cap * sizeof *w->pbind);
        w->poff = cn_realloc(w->poff, w->plan_cap * sizeof *w->poff);
        w->plen = cn_realloc(w->plen, w->plan_cap * sizeof *w->plen);
    }
    if (s->nplans) /* no plan was packed for the rows to come */
        memset(w->pbind, 0, s->nplans * sizeof *w->pbind);
    int rc = mq_router_reader_new(s->router, READER_CACHE, &w->rd);
    if (rc == 0)
        rc = qry_row_new(s->st, &w->row);
    if (rc < 0)
        worker_drop(w);
    return rc;
}

/* The candidate rules of the matched filters in rule (id) order, without
 * duplicates (NOTES 3): one filter's list as it is; else a mark-and-scan
 * over all rules when many match (O(rules)), or an insertion sort
 * (O(matches^2)). */
static const uint32_t *candidates(mq_rules_worker_t *w, size_t nroutes, size_t *nc)
{
    const snap_t *s = w->snap;
    size_t n = 0, nrules = s->n, total = 0;
    if (nroutes == 1) {
        size_t f = (size_t)w->res.v[0].sub;
        *nc = s->fstart[f + 1] - s->fstart[f];
        return s->frules + s->fstart[f];
    }
    for (size_t i = 0; i < nroutes; i++) {
        size_t f = (size_t)w->res.v[i].sub;
        total += s->fstart[f + 1] - s->fstart[f];
    }
    if (total * 8 >= nrules) {
        memset(w->mark, 0, nrules);
        for (size_t i = 0; i < nroutes; i++) {
            size_t f = (size_t)w->res.v[i].sub;
            for (uint32_t k = s->fstart[f]; k < s->fstart[f + 1]; k++)
                w->mark[s->frules[k]] = 1;
        }
        for (size_t i = 0; i < nrules; i++)
            if (w->mark[i])
                w->cand[n++] = (uint32_t)i;
        *nc = n;
        return w->cand;
    }
    for (size_t i = 0; i < nroutes; i++) {
        size_t f = (size_t)w->res.v[i].sub;
        for (uint32_t k = s->fstart[f]; k < s->fstart[f + 1]; k++) {
            uint32_t v = s->frules[k], j = (uint32_t)n;
            while (j > 0 && w->cand[j - 1] > v)
                j--;
            if (j > 0 && w->cand[j - 1] == v)
                continue; /* overlapping filters of one rule */
            memmove(&w->cand[j + 1], &w->cand[j], (n - j) * sizeof *w->cand);
            w->cand[j] = v;
            n++;
        }
    }
    *nc = n;
    return w->cand;
}

/* The packed outputs of the passing rule cr (index ri) on the bound row:
 * a shared plan's bytes packed once per row, else packed now (NOTES 6). */
static inline __attribute__((always_inline)) void pack(mq_rules_worker_t *w, size_t ri,
                                                      const char **p, size_t *n)
{
    int32_t k = w->snap->rule_plan[ri];
    if (k < 0) {
        size_t at = w->packed.len;
        mq__pack_outputs(w->row, &w->packed);
        *p = (const char *)w->packed.p + at;
        *n = w->packed.len - at;
        return;
    }
    if (w->pbind[k] != w->binds) {
        w->pbind[k] = w->binds;
        w->poff[k] = (uint32_t)w->packed.len;
        mq__plan_pack(&w->snap->plans[k], w->row, &w->packed);
        w->plen[k] = (uint32_t)(w->packed.len - w->poff[k]);
    }
    *p = (const char *)w->packed.p + w->poff[k];
    *n = w->plen[k];
}

/* dispatch() of a rule whose actions are all quick (rules_int.h) in
 * packed mode: what mq__render_action and the packed body make of them,
 * into qo, whose message-wide members (msg, ts, json, headers, packed)
 * the caller set. */
static int dispatch_quick(mq_rules_worker_t *w, size_t ri, const mq__crule_t *cr,
                          mq__stat_shard_t *sh, mq_rules_action_fn on_action, mq_rules_out_t *qo)
{
    pack(w, ri, &qo->body, &qo->body_len);
    qo->rule = cr->def;
    uint32_t n = cr->def->nactions;
    for (uint32_t i = 0; i < n; i++) {
        const mq__cact_t *c = &cr->acts[i];
        const mq_rule_action_t *a = &cr->def->actions[i];
        qo->action = i;
        qo->act = a;
        mq__tmpl_quick(&c->key, w->row, &qo->key, &qo->key_len);
        if (a->kind == MQ_ACT_KAFKA) {
            mq__tmpl_quick(&c->topic, w->row, &qo->topic, &qo->topic_len);
            /* the topic's slot text may have moved the key's: again (memoized) */
            if (!c->key.lit && !c->topic.lit)
                mq__tmpl_quick(&c->key, w->row, &qo->key, &qo->key_len);
        } else {
            qo->topic = NULL;
            qo->topic_len = 0;
        }
        int rc = on_action(w->rs->arg, qo);
        bump(w, sh, MQ__C_ACTIONS);
        if (rc < 0)
            bump(w, sh, MQ__C_ACTION_ERRORS);
    }
    return (int)n;
}

/* The actions of the passing rule ri; packed is rs->packed, on_action
 * rs->on_action (not NULL), both read once per message; qo as for
 * dispatch_quick. */
static int dispatch(mq_rules_worker_t *w, size_t ri, const qry_msg_t *qm, const mq_rules_msg_t *m,
                    bool packed, mq_rules_action_fn on_action, mq_rules_out_t *qo)
{
    const mq__crule_t *cr = &w->snap->rules[ri];
    mq__stat_shard_t *sh = w->ctr[ri];
    if (packed && cr->quick)
        return dispatch_quick(w, ri, cr, sh, on_action, qo);
    const char *json = NULL;
    size_t json_len = 0;
    packed = packed && cr->needs_json;
    if (cr->needs_json && (!packed || cr->json_republish))
        qry_row_json_view(w->row, &json, &json_len); /* an action's body is the JSON */
    const char *pk = NULL;
    size_t pk_len = 0;
    if (packed) /* NOTES 6 */
        pack(w, ri, &pk, &pk_len);
    int calls = 0;
    for (uint32_t i = 0; i < cr->def->nactions; i++) {
        mq_rules_out_t out;
        mq__render_action(cr, i, w->row, qm, json, json_len, &w->rendered, &out);
        if (packed && !cr->acts[i].has_body && cr->def->actions[i].kind != MQ_ACT_REPUBLISH) {
            out.json = NULL;
            out.json_len = 0;
            out.body = pk;
            out.body_len = pk_len;
            out.packed = true;
        }
        out.msg = m;
        int rc = on_action(w->rs->arg, &out);
        bump(w, sh, MQ__C_ACTIONS);
        if (rc < 0)
            bump(w, sh, MQ__C_ACTION_ERRORS);
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
    size_t nc;
    const uint32_t *cand = candidates(w, (size_t)nr, &nc);
    size_t rows = m->npoints ? m->npoints : 1;
    int calls = 0;
    mq_rules_action_fn on_action = w->rs->on_action;
    bool packed = atomic_load_explicit(&w->rs->packed, memory_order_relaxed);
    mq__stat_shard_t **ctr = w->ctr;
    for (size_t p = 0; p < rows; p++) {
        qry_msg_t qm;
        mq__row_msg(m, m->npoints ? &m->points[p] : NULL, &qm);
        qry_row_bind(w->row, &qm);
        w->binds++;
        w->packed.len = 0;
        qry_prog_prefilter(s->progs, cand, nc, w->row, w->verdict);
        mq_rules_out_t qo = {.json = NULL, .headers = NULL, .msg = m, .ts = qm.ts, .packed = true};
        for (size_t c = 0; c < nc; c++) {
            mq__stat_shard_t *sh = ctr[cand[c]];
            bump(w, sh, MQ__C_MATCHED);
            uint8_t v = w->verdict[c];
            if (v == QRY_PRE_FAIL)
                continue;
            const mq__crule_t *cr = &s->rules[cand[c]];
            int rc = v == QRY_PRE_PASS ? qry_prog_accept(cr->prog, w->row)
                                       : qry_prog_run(cr->prog, w->row);
            if (rc < 0) {
                bump(w, sh, MQ__C_FAILED);
                log_failure(w, cr, rc);
                continue;
            }
            if (rc == 0)
                continue;
            bump(w, sh, MQ__C_PASSED);
            if (on_action)
                calls += dispatch(w, cand[c], &qm, m, packed, on_action, &qo);
        }
    }
    return calls;
}
