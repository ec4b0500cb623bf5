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
 *    mq__stat_pool_t, by compare-and-swap) and adds with a relaxed load and
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
 *    one packing per row, as they would share one JSON text (a plan of
 *    one rule is packed without that memo: a rule runs once per row;
 *    813 instead of 831 instructions a message for mq_rules_eval on
 *    rules_bench --rules 10 under cachegrind).  The packed bytes of a row
 *    live in w->packed until the next bind (pointers are taken after
 *    packing, as the buffer may move).
 * 7. Finding the candidates of a topic.  A rule set with few distinct
 *    filters (DIRECT_FILTERS; most deployments put many rules on a filter
 *    or two) matches the topic against each filter as a string: a few
 *    dozen instructions on data that stays in cache, where any per-topic
 *    table costs a cache miss per message (perf: the memo's probe was a
 *    fifth of mq_rules_eval's own time with 10 rules on one filter).
 *    Topic memo, for the larger sets: a snapshot's candidate rules depend
 *    on the topic alone, and devices publish on the same topics over and
 *    over, so each worker
 *    remembers, per topic, what the router and candidates() made of it:
 *    the filter whose rule list is the candidate list (one route, the
 *    common case), no rule, or a merged list copied into the memo.  A hit
 *    costs a hash and a compare of the topic instead of the router's
 *    reader lock, its cache lookup, the conversion of its result and
 *    candidates().  The memo is an open-addressing table (linear probing,
 *    at most half full) over an arena holding the topics and merged
 *    lists; it grows to TMEMO_MAX entries and is then emptied whenever it
 *    would pass half of that or the arena TMEMO_ARENA bytes (a fleet of
 *    more topics than that is served by the router as before, at one
 *    store per miss).  Topics longer than TMEMO_TOPIC are not memoised.
 *    It is emptied with every new snapshot (worker_drop), so it never
 *    outlives the filters it describes.
 * 8. Once a rule passes, the quick path (packed mode, every action a
 *    Kafka or header-less webhook whose key and topic are plain text or
 *    one name) reads the rule's program, definition, plan and actions
 *    from s->qr and s->qa, two small arrays built with the snapshot,
 *    instead of following the compiled rule to its definition, its
 *    actions and their templates: perf showed each of those loads
 *    missing in cache after the engine's work on the message.  A key or
 *    topic that is a tag's value (the usual Kafka key ${device_id}) is
 *    read through the row's view (qry_row_view, taken once per bind) as
 *    the tag's own string, without a call (qry_row_slot_text 136 -> 31
 *    instructions a message on rules_bench --rules 10 under cachegrind).
 * 9. A PASS verdict (the WHERE holds, the outputs are bare names) is
 *    accepted on the row (qry_prog_accept) only when something reads the
 *    outputs from the row, which a direct rule (quick, with a plan) in
 *    packed mode does not: its packing and its keys read the slots.
 *    cachegrind on rules_bench --size small --rules 10: mq_rules_eval 867
 *    -> 833 and qry_prog_accept 28 -> 0 instructions a message.
 */
#include "router.h"
#include "rules_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

/* The router reader's own route cache, behind the worker's topic memo
 * (NOTES 7): it still serves a fleet of more topics than the memo holds. */
#define READER_CACHE 4096
/* Topic memo bounds (NOTES 7). */
#define TMEMO_MIN   64u
#define TMEMO_MAX   8192u
#define TMEMO_ARENA (4u << 20)
#define TMEMO_TOPIC 1024u
/* Up to this many distinct filters, a topic is matched against each
 * directly, without the memo (NOTES 7). */
#define DIRECT_FILTERS 4

/* What the evaluation of a rule reads once it passes (NOTES 8). */
typedef struct qact {
    const mq_rule_action_t *act;
    const char *key, *topic; /* literal texts; NULL: the slot's text */
    uint32_t key_len, topic_len;
    uint32_t key_slot, topic_slot;
    bool kafka; /* else a webhook: no topic */
} qact_t;

typedef struct qrule {
    const qry_prog_t *prog;
    const mq_rule_def_t *def;
    int32_t plan;   /* its packing plan in plans[], or -1 (NOTES 6) */
    uint32_t qa;    /* its actions: qa[qa, + nact) when quick */
    uint32_t nact;
    bool quick;     /* mq__crule_t's */
    bool direct;    /* quick with a plan: in packed mode, reads nothing of its run (NOTES 9) */
    bool shared;    /* its plan is other rules' too: packed once per row (NOTES 6) */
} qrule_t;

typedef struct snap {
    atomic_int refs;
    uint64_t gen;
    mq_router_t *router;
    qry_symtab_t *st;
    mq__crule_t *rules;
    const qry_prog_t **progs; /* [n] rules[i].prog */
    qry_prefilter_t *pf;      /* the fast WHEREs of progs */
    size_t n;
    uint32_t *fstart; /* [nfilters + 1] (NOTES 3) */
    uint32_t *frules; /* rule indices by filter */
    size_t nfilters;
    mq__filter_t *fc; /* [nfilters] when nfilters <= DIRECT_FILTERS, else NULL (NOTES 7) */
    mq__plan_t *plans; /* [nplans] distinct packing plans (NOTES 6) */
    size_t nplans;
    qrule_t *qr;        /* [n] (NOTES 8) */
    qact_t *qa;         /* the quick rules' actions */
} snap_t;

/* A topic memo entry (NOTES 7): the topic's bytes at arena[off, + tlen);
 * f >= 0: filter f's rule list is the candidate list; f == -1: no rule;
 * f == -2: nc candidates at arena[cand, ...). */
typedef struct tmemo_ent {
    uint64_t h; /* 0: empty (a hash of 0 is stored as 1) */
    uint32_t off, tlen;
    int32_t f;
    uint32_t nc, cand;
} tmemo_ent_t;

typedef struct entry {
    mq_rule_def_t *def; /* owned */
    mq__stats_t *stats; /* one reference */
} entry_t;

/* Which stats shards workers own, and the slabs of counters (NOTES 5). */
struct mq__stat_pool {
    atomic_uint refs;
    atomic_uint bits; /* bit i: shard i taken */
    uv_mutex_t mu;    /* guards the members below */
    atomic_uint_fast64_t **slab; /* [nslabs] MQ__STAT_SHARDS * MQ__C_N * MQ__STAT_CELLS each */
    size_t nslabs;
    uint32_t *free_cells; /* [nfree] cells to hand out again, zeroed */
    size_t nfree, free_cap;
};

static int pool_new(mq__stat_pool_t **out)
{
    mq__stat_pool_t *p = cn_calloc(1, sizeof *p);
    int rc = cn_from_uv(uv_mutex_init(&p->mu));
    if (rc < 0) {
        cn_free(p);
        return rc;
    }
    atomic_init(&p->refs, 1);
    atomic_init(&p->bits, 1u); /* shard 0 is everybody's */
    *out = p;
    return 0;
}

static void pool_unref(mq__stat_pool_t *p)
{
    if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < p->nslabs; i++)
        cn_free(p->slab[i]);
    cn_free(p->slab);
    cn_free(p->free_cells);
    uv_mutex_destroy(&p->mu);
    cn_free(p);
}

#define SLAB_COUNTERS ((size_t)MQ__STAT_SHARDS * MQ__C_N * MQ__STAT_CELLS)

/* Counter 0 of shard 0 of cell c (rules_int.h has the layout); p->mu held. */
static atomic_uint_fast64_t *cell_base(const mq__stat_pool_t *p, uint32_t c)
{
    return p->slab[c / MQ__STAT_CELLS] + c % MQ__STAT_CELLS;
}

/* A zeroed cell: a freed one, else the lowest of a new slab. */
static uint32_t cell_take(mq__stat_pool_t *p)
{
    uv_mutex_lock(&p->mu);
    if (p->nfree == 0) {
        p->slab = cn_realloc(p->slab, (p->nslabs + 1) * sizeof *p->slab);
        atomic_uint_fast64_t *sl = cn_malloc(SLAB_COUNTERS * sizeof *sl);
        for (size_t i = 0; i < SLAB_COUNTERS; i++)
            atomic_init(&sl[i], 0);
        p->slab[p->nslabs++] = sl;
        if (p->free_cap < MQ__STAT_CELLS) {
            p->free_cap = MQ__STAT_CELLS;
            p->free_cells = cn_realloc(p->free_cells, p->free_cap * sizeof *p->free_cells);
        }
        /* taken from the end: lowest first, so rules made together sit together */
        for (uint32_t i = 0; i < MQ__STAT_CELLS; i++)
            p->free_cells[p->nfree++] = (uint32_t)(p->nslabs * MQ__STAT_CELLS - 1 - i);
    }
    uint32_t c = p->free_cells[--p->nfree];
    uv_mutex_unlock(&p->mu);
    return c;
}

/* Gives cell c back, zeroed: called when its stats object goes, so no
 * snapshot and no worker counts in it any more. */
static void cell_give(mq__stat_pool_t *p, uint32_t c)
{
    uv_mutex_lock(&p->mu);
    atomic_uint_fast64_t *b = cell_base(p, c);
    for (size_t k = 0; k < (size_t)MQ__STAT_SHARDS * MQ__C_N; k++)
        atomic_store_explicit(&b[k * MQ__STAT_CELLS], 0, memory_order_relaxed);
    if (p->nfree == p->free_cap) {
        p->free_cap = p->free_cap ? p->free_cap * 2 : MQ__STAT_CELLS;
        p->free_cells = cn_realloc(p->free_cells, p->free_cap * sizeof *p->free_cells);
    }
    p->free_cells[p->nfree++] = c;
    uv_mutex_unlock(&p->mu);
}

struct mq_rules {
    uv_mutex_t mu; /* guards everything below but gen */
    mq_rules_action_fn on_action;
    void *arg;
    entry_t *ents;
    size_t n, cap;
    snap_t *cur;
    mq__stat_pool_t *pool; /* one reference */
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
    atomic_uint_fast64_t **ctr; /* [cand_cap] rule i's counters in w's shard (NOTES 5) */
    size_t cand_cap;
    mq__rendered_t rendered;
    cn_buf_t packed;       /* outputs packed for the bound row (NOTES 6) */
    qry_row_view_t view;   /* of the bound row */
    uint64_t binds;        /* rows bound, from 1 */
    struct pmemo {
        uint64_t bind;     /* the bind plan k was packed in, at */
        uint32_t off, len; /* packed[off, + len) */
    } * pm;                /* [plan_cap] */
    size_t plan_cap;
    cn_ratelimit_t log_rl;
    mq__stat_pool_t *pool; /* one reference */
    unsigned shard;     /* stats shard; 0: shared (NOTES 5) */
    tmemo_ent_t *tm;    /* [tm_cap] topic memo of w->snap (NOTES 7) */
    uint32_t *fl;       /* [fl_cap] the filters a topic matched */
    size_t fl_cap;
    uint32_t tm_cap, tm_n;
    cn_buf_t tm_arena;
};

/* ------------------------------------------------------------------ stats */

static mq__stats_t *stats_new(mq__stat_pool_t *pool, const char *id)
{
    mq__stats_t *s = cn_calloc(1, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", id);
    atomic_init(&s->refs, 1);
    s->pool = pool;
    atomic_fetch_add_explicit(&pool->refs, 1, memory_order_relaxed);
    s->cell = cell_take(pool);
    uv_mutex_lock(&pool->mu); /* the slab table may be growing */
    s->base = cell_base(pool, s->cell);
    uv_mutex_unlock(&pool->mu);
    return s;
}

static mq__stats_t *stats_ref(mq__stats_t *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

static void stats_unref(mq__stats_t *s)
{
    if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
        cell_give(s->pool, s->cell);
        pool_unref(s->pool);
        cn_free(s);
    }
}

/* Adds 1 to counter k of a rule whose counters in a worker's shard start
 * at sh (w->ctr[ri]); own: the worker owns the shard (w->shard != 0,
 * NOTES 5). */
static inline void bump(bool own, atomic_uint_fast64_t *sh, int k)
{
    atomic_uint_fast64_t *c = sh + (size_t)k * MQ__STAT_CELLS;
    if (own)
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
    cn_free(s->qr);
    cn_free(s->qa);
    cn_free(s->rules);
    qry_prefilter_free(s->pf);
    cn_free(s->progs);
    cn_free(s->fstart);
    cn_free(s->frules);
    for (size_t f = 0; s->fc && f < s->nfilters; f++)
        mq__filter_free(&s->fc[f]);
    cn_free(s->fc);
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
    if (rc >= 0 && s->nfilters <= DIRECT_FILTERS) { /* NOTES 7; the ASTs keep the texts */
        s->fc = cn_calloc(s->nfilters ? s->nfilters : 1, sizeof *s->fc);
        for (size_t f = 0, i = 0; i < np; i++)
            if (i == 0 || strcmp(pv[i].filter, pv[i - 1].filter) != 0) {
                mq__filter_compile(pv[i].filter, strlen(pv[i].filter), &s->fc[f]);
                f++;
            }
    }
    cn_free(pv);
    return rc < 0 ? rc : 0;
}

/* A quick template's literal text, or NULL with its slot (mq__cact_t). */
static const char *quick_text(const mq__tmpl_t *t, uint32_t *len, uint32_t *slot)
{
    *len = 0;
    *slot = 0;
    if (!t->lit) {
        *slot = t->tslot1 - 1;
        return NULL;
    }
    *len = (uint32_t)t->lit_len;
    return t->text ? t->text : "";
}

/* s->qr and s->qa from the compiled rules (NOTES 8); snap_plans sets the plans. */
static void snap_quick(snap_t *s)
{
    size_t na = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->rules[i].quick)
            na += s->rules[i].def->nactions;
    s->qr = cn_calloc(s->n ? s->n : 1, sizeof *s->qr);
    s->qa = cn_calloc(na ? na : 1, sizeof *s->qa);
    na = 0;
    for (size_t i = 0; i < s->n; i++) {
        const mq__crule_t *cr = &s->rules[i];
        qrule_t *q = &s->qr[i];
        *q = (qrule_t){.prog = cr->prog, .def = cr->def, .plan = -1,
                       .qa = (uint32_t)na, .nact = cr->def->nactions, .quick = cr->quick};
        if (!cr->quick)
            continue;
        for (uint32_t k = 0; k < cr->def->nactions; k++) {
            qact_t *a = &s->qa[na++];
            a->act = &cr->def->actions[k];
            a->kafka = a->act->kind == MQ_ACT_KAFKA;
            a->key = quick_text(&cr->acts[k].key, &a->key_len, &a->key_slot);
            a->topic = NULL;
            if (a->kafka)
                a->topic = quick_text(&cr->acts[k].topic, &a->topic_len, &a->topic_slot);
        }
    }
}

/* The packing plans of the rules whose JSON body may be packed, one per
 * distinct plan (NOTES 6), each rule's in s->qr[i].plan (snap_quick made
 * them -1). */
static void snap_plans(snap_t *s)
{
    s->plans = cn_calloc(s->n ? s->n : 1, sizeof *s->plans);
    for (size_t i = 0; i < s->n; i++) {
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
        s->qr[i].plan = (int32_t)k;
        s->qr[i].direct = s->qr[i].quick;
    }
    uint32_t *uses = cn_calloc(s->nplans ? s->nplans : 1, sizeof *uses);
    for (size_t i = 0; i < s->n; i++)
        if (s->qr[i].plan >= 0)
            uses[s->qr[i].plan]++;
    for (size_t i = 0; i < s->n; i++)
        s->qr[i].shared = s->qr[i].plan >= 0 && uses[s->qr[i].plan] > 1;
    cn_free(uses);
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
        rc = qry_prefilter_new(s->progs, s->n, &s->pf);
    }
    if (rc == 0) {
        snap_quick(s);
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
    rc = pool_new(&rs->pool);
    if (rc < 0) {
        uv_mutex_destroy(&rs->mu);
        cn_free(rs);
        return rc;
    }
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
        rs->ents[pos] = (entry_t){.def = copy, .stats = stats_new(rs->pool, def->id)};
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
        ents[i].stats = at >= 0 ? stats_ref(rs->ents[at].stats) : stats_new(rs->pool, ents[i].def->id);
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
            v[k] += atomic_load_explicit(&s->base[((size_t)i * MQ__C_N + k) * MQ__STAT_CELLS],
                                         memory_order_relaxed);
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

/* ------------------------------------------------------ topic memo (NOTES 7) */

static void tmemo_clear(mq_rules_worker_t *w)
{
    if (w->tm_n)
        memset(w->tm, 0, w->tm_cap * sizeof *w->tm);
    w->tm_n = 0;
    w->tm_arena.len = 0;
}

static inline uint64_t tmemo_hash(const char *t, size_t n)
{
    uint64_t h = cn_hash64(t, n);
    return h ? h : 1;
}

/* The entry of topic t (n bytes, hash h), or NULL. */
static inline const tmemo_ent_t *tmemo_get(const mq_rules_worker_t *w, const char *t, size_t n,
                                           uint64_t h)
{
    if (!w->tm_cap)
        return NULL;
    uint32_t mask = w->tm_cap - 1;
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
        const tmemo_ent_t *e = &w->tm[i];
        if (e->h == 0)
            return NULL;
        if (e->h == h && e->tlen == n && memcmp(w->tm_arena.p + e->off, t, n) == 0)
            return e;
    }
}

static void tmemo_insert(tmemo_ent_t *tab, uint32_t cap, const tmemo_ent_t *e)
{
    uint32_t mask = cap - 1, i = (uint32_t)e->h & mask;
    while (tab[i].h)
        i = (i + 1) & mask;
    tab[i] = *e;
}

/* Remembers topic t (n bytes, hash h) with what the router made of it. */
static void tmemo_put(mq_rules_worker_t *w, const char *t, size_t n, uint64_t h, int32_t f,
                      const uint32_t *cand, size_t nc)
{
    if (n > TMEMO_TOPIC)
        return;
    size_t extra = n + 3 + (f == -2 ? nc * sizeof *cand : 0);
    if ((w->tm_n + 1) * 2 > w->tm_cap) {
        if (w->tm_cap >= TMEMO_MAX) {
            tmemo_clear(w);
        } else {
            uint32_t cap = w->tm_cap ? w->tm_cap * 2 : TMEMO_MIN;
            tmemo_ent_t *tab = cn_calloc(cap, sizeof *tab);
            for (uint32_t i = 0; i < w->tm_cap; i++)
                if (w->tm[i].h)
                    tmemo_insert(tab, cap, &w->tm[i]);
            cn_free(w->tm);
            w->tm = tab;
            w->tm_cap = cap;
        }
    }
    if (w->tm_arena.len + extra > TMEMO_ARENA)
        tmemo_clear(w);
    tmemo_ent_t e = {.h = h, .off = (uint32_t)w->tm_arena.len, .tlen = (uint32_t)n, .f = f};
    cn_buf_put(&w->tm_arena, t, n);
    if (f == -2) {
        while (w->tm_arena.len % sizeof *cand)
            cn_buf_put_u8(&w->tm_arena, 0);
        e.cand = (uint32_t)w->tm_arena.len;
        e.nc = (uint32_t)nc;
        cn_buf_put(&w->tm_arena, cand, nc * sizeof *cand);
    }
    tmemo_insert(w->tm, w->tm_cap, &e);
    w->tm_n++;
}

static const uint32_t *candidates(mq_rules_worker_t *w, const uint32_t *fl, size_t nf, size_t *nc);

/* The candidate rules of topic t (n bytes) in w's snapshot: 1 with *cand
 * and *nc set (nc > 0), 0 when no rule's filter matches, or the router's
 * error (NOTES 7). */
static inline int route(mq_rules_worker_t *w, const char *t, size_t n, const uint32_t **cand,
                        size_t *nc)
{
    const snap_t *s = w->snap;
    if (s->fc) { /* NOTES 7: no memo */
        if (n == 0 || n > 65535)
            return CN_EINVAL; /* as mq_router_match */
        uint32_t fl[DIRECT_FILTERS];
        size_t nf = 0;
        for (uint32_t f = 0; f < s->nfilters; f++)
            if (mq__filter_matches(&s->fc[f], t, n))
                fl[nf++] = f;
        if (nf == 0)
            return 0;
        if (nf == 1) {
            *nc = s->fstart[fl[0] + 1] - s->fstart[fl[0]];
            *cand = s->frules + s->fstart[fl[0]];
        } else {
            *cand = candidates(w, fl, nf, nc);
        }
        return 1;
    }
    uint64_t h = tmemo_hash(t, n);
    const tmemo_ent_t *e = tmemo_get(w, t, n, h);
    if (e) {
        if (e->f >= 0) {
            *nc = s->fstart[e->f + 1] - s->fstart[e->f];
            *cand = s->frules + s->fstart[e->f];
            return 1;
        }
        if (e->f == -1)
            return 0;
        *nc = e->nc;
        *cand = (const uint32_t *)(const void *)(w->tm_arena.p + e->cand);
        return 1;
    }
    int nr = mq_router_match(w->rd, t, n, MQ_ROUTER_NOBODY, &w->res);
    if (nr < 0)
        return nr;
    if (nr == 0) {
        tmemo_put(w, t, n, h, -1, NULL, 0);
        return 0;
    }
    if (w->fl_cap < (size_t)nr) {
        w->fl_cap = (size_t)nr;
        w->fl = cn_realloc(w->fl, w->fl_cap * sizeof *w->fl);
    }
    for (int i = 0; i < nr; i++)
        w->fl[i] = (uint32_t)w->res.v[i].sub;
    *cand = candidates(w, w->fl, (size_t)nr, nc);
    int32_t f = nr == 1 ? (int32_t)w->fl[0] : -2;
    tmemo_put(w, t, n, h, f, *cand, *nc);
    return *nc > 0;
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
    tmemo_clear(w);
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
    cn_free(w->tm);
    cn_free(w->fl);
    cn_buf_free(&w->tm_arena);
    mq__rendered_free(&w->rendered);
    cn_buf_free(&w->packed);
    cn_free(w->pm);
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
        w->ctr[i] = s->rules[i].stats->base + (size_t)w->shard * MQ__C_N * MQ__STAT_CELLS;
    if (w->plan_cap < s->nplans) {
        w->plan_cap = s->nplans;
        w->pm = cn_realloc(w->pm, w->plan_cap * sizeof *w->pm);
    }
    if (s->nplans) /* no plan was packed for the rows to come */
        memset(w->pm, 0, s->nplans * sizeof *w->pm);
    int rc = mq_router_reader_new(s->router, READER_CACHE, &w->rd);
    if (rc == 0)
        rc = qry_row_new(s->st, &w->row);
    if (rc < 0)
        worker_drop(w);
    return rc;
}

/* The candidate rules of the nf matched filters fl[] in rule (id) order,
 * without duplicates (NOTES 3): one filter's list as it is; else a
 * mark-and-scan over all rules when many match (O(rules)), or an insertion
 * sort (O(matches^2)). */
static const uint32_t *candidates(mq_rules_worker_t *w, const uint32_t *fl, size_t nf, size_t *nc)
{
    const snap_t *s = w->snap;
    size_t n = 0, nrules = s->n, total = 0;
    if (nf == 1) {
        *nc = s->fstart[fl[0] + 1] - s->fstart[fl[0]];
        return s->frules + s->fstart[fl[0]];
    }
    for (size_t i = 0; i < nf; i++)
        total += s->fstart[fl[i] + 1] - s->fstart[fl[i]];
    if (total * 8 >= nrules) {
        memset(w->mark, 0, nrules);
        for (size_t i = 0; i < nf; i++)
            for (uint32_t k = s->fstart[fl[i]]; k < s->fstart[fl[i] + 1]; k++)
                w->mark[s->frules[k]] = 1;
        for (size_t i = 0; i < nrules; i++)
            if (w->mark[i])
                w->cand[n++] = (uint32_t)i;
        *nc = n;
        return w->cand;
    }
    for (size_t i = 0; i < nf; i++) {
        for (uint32_t k = s->fstart[fl[i]]; k < s->fstart[fl[i] + 1]; k++) {
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

/* The packed outputs of a passing rule of plan k (qrule_t plan, -1: none;
 * shared: qrule_t shared) on the bound row: a plan's bytes from the row's
 * view, a shared plan's once per row; without a plan, packed from the
 * rule's run, which must be the row's last (NOTES 6). */
static inline __attribute__((always_inline)) void pack(mq_rules_worker_t *w, int32_t k, bool shared,
                                                       const char **p, size_t *n)
{
    if (k < 0) {
        size_t at = w->packed.len;
        mq__pack_outputs(w->row, &w->packed);
        *p = (const char *)w->packed.p + at;
        *n = w->packed.len - at;
        return;
    }
    if (!shared) { /* packed once per row anyway: a rule runs once per row */
        size_t at = w->packed.len;
        mq__plan_pack(&w->snap->plans[k], &w->view, &w->packed);
        *p = (const char *)w->packed.p + at;
        *n = w->packed.len - at;
        return;
    }
    struct pmemo *pm = &w->pm[k];
    if (pm->bind != w->binds) {
        size_t at = w->packed.len;
        pm->bind = w->binds;
        pm->off = (uint32_t)at;
        mq__plan_pack(&w->snap->plans[k], &w->view, &w->packed);
        pm->len = (uint32_t)(w->packed.len - at);
    }
    *p = (const char *)w->packed.p + pm->off;
    *n = pm->len;
}

/* dispatch() of a rule whose actions are all quick (rules_int.h) in
 * packed mode: what mq__render_action and the packed body make of them,
 * into qo, whose message-wide members (msg, ts, json, headers, packed)
 * the caller set. */
/* The text of a quick template: literal (lit, len), else the slot's text,
 * "" when the row has none (mq__cact_t). */
static inline void quick_render(mq_rules_worker_t *w, const char *lit, uint32_t len, uint32_t slot,
                                const char **p, size_t *n)
{
    const qry_row_view_t *v = &w->view;
    if (lit) {
        *p = lit;
        *n = len;
    } else if (slot < v->n && v->tag[slot] == v->gen) { /* a tag's own string, as it is */
        *p = v->val[slot].u.s.p;
        *n = v->val[slot].u.s.len;
    } else if (!qry_row_slot_text(w->row, slot, p, n)) {
        *p = "";
        *n = 0;
    }
}

static int dispatch_quick(mq_rules_worker_t *w, const qrule_t *q, atomic_uint_fast64_t *sh,
                          bool own, mq_rules_action_fn on_action, mq_rules_out_t *qo)
{
    pack(w, q->plan, q->shared, &qo->body, &qo->body_len);
    qo->rule = q->def;
    uint32_t n = q->nact;
    const qact_t *a = &w->snap->qa[q->qa];
    for (uint32_t i = 0; i < n; i++, a++) {
        qo->action = i;
        qo->act = a->act;
        quick_render(w, a->key, a->key_len, a->key_slot, &qo->key, &qo->key_len);
        if (a->kafka) {
            quick_render(w, a->topic, a->topic_len, a->topic_slot, &qo->topic, &qo->topic_len);
            /* the topic's slot text may have moved the key's: again (memoized) */
            if (!a->key && !a->topic)
                quick_render(w, NULL, 0, a->key_slot, &qo->key, &qo->key_len);
        } else {
            qo->topic = NULL;
            qo->topic_len = 0;
        }
        int rc = on_action(w->rs->arg, qo);
        bump(own, sh, MQ__C_ACTIONS);
        if (rc < 0)
            bump(own, sh, MQ__C_ACTION_ERRORS);
    }
    return (int)n;
}

/* The actions of the passing rule ri that is not quick (or not in packed
 * mode); packed is rs->packed, on_action rs->on_action (not NULL), both
 * read once per message. */
static int dispatch(mq_rules_worker_t *w, size_t ri, const qry_msg_t *qm, const mq_rules_msg_t *m,
                    bool packed, mq_rules_action_fn on_action)
{
    const mq__crule_t *cr = &w->snap->rules[ri];
    atomic_uint_fast64_t *sh = w->ctr[ri];
    bool own = w->shard != 0;
    const char *json = NULL;
    size_t json_len = 0;
    packed = packed && cr->needs_json;
    if (cr->needs_json && (!packed || cr->json_republish))
        qry_row_json_view(w->row, &json, &json_len); /* an action's body is the JSON */
    const char *pk = NULL;
    size_t pk_len = 0;
    if (packed) /* NOTES 6 */
        pack(w, w->snap->qr[ri].plan, w->snap->qr[ri].shared, &pk, &pk_len);
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
        bump(own, sh, MQ__C_ACTIONS);
        if (rc < 0)
            bump(own, sh, MQ__C_ACTION_ERRORS);
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

/* mq_rules_eval's rows against the nc candidates cand; own: w->shard != 0
 * (NOTES 5). */
static inline __attribute__((always_inline)) int eval_rows(mq_rules_worker_t *w,
                                                           const mq_rules_msg_t *m,
                                                           const uint32_t *cand, size_t nc,
                                                           bool own)
{
    const snap_t *s = w->snap;
    size_t rows = m->npoints ? m->npoints : 1;
    int calls = 0;
    mq_rules_action_fn on_action = w->rs->on_action;
    bool packed = atomic_load_explicit(&w->rs->packed, memory_order_relaxed);
    atomic_uint_fast64_t **ctr = w->ctr;
    for (size_t p = 0; p < rows; p++) {
        qry_msg_t qm;
        mq__row_msg(m, m->npoints ? &m->points[p] : NULL, &qm);
        qry_row_bind(w->row, &qm);
        qry_row_view(w->row, &w->view);
        w->binds++;
        w->packed.len = 0;
        qry_prefilter_run(s->pf, cand, nc, w->row, w->verdict);
        /* member by member: an initialiser zero-fills with rep stos, which
         * perf showed at 5 % of this function's time */
        mq_rules_out_t qo;
        qo.rule = NULL, qo.action = 0, qo.act = NULL;
        qo.json = NULL, qo.json_len = 0, qo.body = NULL, qo.body_len = 0;
        qo.key = NULL, qo.key_len = 0, qo.topic = NULL, qo.topic_len = 0;
        qo.headers = NULL, qo.msg = m, qo.ts = qm.ts, qo.packed = true;
        for (size_t c = 0; c < nc; c++) {
            atomic_uint_fast64_t *sh = ctr[cand[c]];
            bump(own, sh, MQ__C_MATCHED);
            uint8_t v = w->verdict[c];
            if (v == QRY_PRE_FAIL)
                continue;
            const qrule_t *q = &s->qr[cand[c]]; /* NOTES 8 */
            int rc = v == QRY_PRE_PASS ? 1 : qry_prog_run(q->prog, w->row);
            if (rc < 0) {
                bump(own, sh, MQ__C_FAILED);
                log_failure(w, &s->rules[cand[c]], rc);
                continue;
            }
            if (rc == 0)
                continue;
            bump(own, sh, MQ__C_PASSED);
            if (!on_action)
                continue;
            if (v == QRY_PRE_PASS && !(packed && q->direct)) /* NOTES 9 */
                qry_prog_accept(q->prog, w->row);
            if (packed && q->quick)
                calls += dispatch_quick(w, q, sh, own, on_action, &qo);
            else
                calls += dispatch(w, cand[c], &qm, m, packed, on_action);
        }
    }
    return calls;
}

int mq_rules_eval(mq_rules_worker_t *w, const mq_rules_msg_t *m)
{
    uint64_t gen = atomic_load_explicit(&w->rs->gen, memory_order_acquire);
    if (gen != w->gen || !w->snap)
        MQ__TRY(worker_refresh(w));
    if (w->snap->n == 0)
        return 0;
    size_t nc;
    const uint32_t *cand;
    int nr = route(w, m->topic, m->topic_len, &cand, &nc);
    if (nr <= 0)
        return nr;
    return eval_rows(w, m, cand, nc, w->shard != 0);
}
