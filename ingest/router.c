/* SPDX-License-Identifier: MIT */
/*
 * router.c - the topic trie behind mq_router_match, its subscriptions and
 * the per-reader locking (the contract is in router.h).
 *
 * Each trie node is one filter level.  Literal children sit in a small array
 * (up to SMALL_KIDS, compared by hash) that turns into an open-addressing
 * table keyed by the level's hash when it grows; `+` and `#` children have
 * their own pointers, so a match does at most one hash lookup per level per
 * live branch.  A node keeps the non-shared subscriptions of its filter in
 * an array and its shared groups in a list.
 *
 * Every subscriber ("client" here) has a record, found through a hash table
 * by its id, listing where its subscriptions sit (node, group, index); a
 * subscription points back to its place in that list.  That makes
 * unsubscribe and remove_subscriber O(1) per subscription with swap-removes,
 * and finding a client's subscription in a node scans the shorter of the two
 * lists.
 *
 * A match runs in two steps: the walk builds the "raw" result (rroute_t,
 * merged per subscriber, no-local kept apart, shared groups unresolved),
 * which is what the route cache stores; finish() turns raw routes into the
 * caller's mq_route_t, applying no-local for the publisher and picking the
 * shared members.
 *
 * NOTES
 * 1. A client has at most one subscription per (node, group); group NULL is
 *    the node's non-shared array.
 * 2. For every subscription s at index si of its array, the client's ref
 *    c->v[s.ci] names that array and si, and vice versa.
 * 3. A node other than the root exists only while it has subscriptions,
 *    groups or children (prune()); a group only while it has members.
 * 4. The trie, the clients and every reader's cache change only with the
 *    writer mutex and all reader mutexes held (lock_all()).
 * 5. Raw subscription identifiers carry NL_BIT when their subscription has
 *    no-local, so finish() can leave them out for the publisher.
 */
#include "router.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>

#define SMALL_KIDS 4
#define MAX_LEN    65535u
#define NL_BIT     0x80000000u
#define QOS_NONE   0xFF

typedef struct node node_t;
typedef struct group group_t;

typedef struct sub {
    uint64_t id;
    mq_sub_opts_t o;
    uint32_t ci; /* index in the client's ref list (NOTES 2) */
} sub_t;

typedef struct ref {
    node_t *node;
    group_t *grp; /* NULL: non-shared */
    uint32_t si;  /* index in node->subs or grp->m */
} ref_t;

typedef struct client {
    uint64_t id;
    ref_t *v;
    uint32_t n, cap;
} client_t;

/* Open-addressing table of (hash, pointer); v == NULL is an empty slot.
 * With cap <= SMALL_KIDS it is a plain array of n packed entries. */
typedef struct hent {
    uint64_t h;
    void *v;
} hent_t;
typedef struct htab {
    hent_t *e;
    uint32_t n, cap;
} htab_t;

struct group {
    group_t *next;
    _Atomic uint32_t rr; /* round-robin cursor, shared by all readers */
    sub_t *m;
    uint32_t n, cap;
    uint32_t nlen;
    char name[];
};

struct node {
    node_t *parent;
    node_t *plus, *hash;
    htab_t kids;
    sub_t *subs;
    uint32_t nsubs, scap;
    group_t *groups;
    uint64_t h;
    uint32_t len;
    char level[];
};

typedef struct rroute {
    uint64_t sub;
    group_t *grp; /* shared: member picked by finish() */
    uint8_t qos;
    uint8_t qos_nl; /* over subscriptions without no-local, or QOS_NONE */
    uint8_t rap;    /* bit 0: any subscription, bit 1: any without no-local */
    uint32_t ids_off, nids;
} rroute_t;

typedef struct level {
    const char *p;
    uint32_t len;
    uint64_t h;
} level_t;

typedef struct frame {
    node_t *n;
    uint32_t i;
} frame_t;

typedef struct idpair {
    uint32_t route, id;
} idpair_t;

typedef struct dset { /* subscriber id -> raw route index, cleared by stamp */
    uint64_t id;
    uint32_t stamp, idx;
} dset_t;

struct mq_router {
    pthread_mutex_t wlock;
    mq_router_reader_t **readers;
    uint32_t nreaders, rcap;
    node_t *root;
    htab_t clients;
    _Atomic size_t count;
    cn_buf_t fbuf; /* filter rebuilt from a node, for invalidation */
};

struct mq_router_reader {
    mq_router_t *r;
    pthread_mutex_t lk;
    mq__rcache_t *cache;
    mq_router_online_fn online;
    void *online_arg;
    uint64_t hits, misses;
    /* match scratch, grown on demand and kept */
    level_t *lv;
    uint32_t lvcap;
    frame_t *st;
    uint32_t stcap;
    rroute_t *raw;
    uint32_t nraw, rawcap;
    idpair_t *pairs;
    uint32_t npairs, paircap;
    uint32_t *ids;
    uint32_t idcap;
    dset_t *set;
    uint32_t setcap, stamp;
    int contrib; /* 0, 1 or 2+ nodes gave non-shared subscriptions */
    cn_buf_t blob;
};

/* Grows *p (elements of size sz, capacity *cap) to hold at least need. */
static void grow(void **p, uint32_t *cap, uint32_t need, size_t sz)
{
    if (need <= *cap)
        return;
    uint32_t c = *cap ? *cap : 8;
    while (c < need)
        c *= 2;
    *p = cn_realloc(*p, (size_t)c * sz);
    *cap = c;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* ------------------------------------------------------------ hash table */

static void htab_put(htab_t *t, uint64_t h, void *v);

static void htab_rehash(htab_t *t, uint32_t cap)
{
    hent_t *old = t->e;
    uint32_t ocap = t->cap, on = t->n;
    t->e = cn_calloc(cap, sizeof *t->e);
    t->cap = cap;
    t->n = 0;
    for (uint32_t i = 0; i < (ocap <= SMALL_KIDS ? on : ocap); i++)
        if (old[i].v)
            htab_put(t, old[i].h, old[i].v);
    cn_free(old);
}

static void htab_put(htab_t *t, uint64_t h, void *v)
{
    if (t->cap <= SMALL_KIDS) {
        if (t->n < SMALL_KIDS) {
            if (t->cap == 0) {
                t->e = cn_malloc(SMALL_KIDS * sizeof *t->e);
                t->cap = SMALL_KIDS;
            }
            t->e[t->n].h = h;
            t->e[t->n++].v = v;
            return;
        }
        htab_rehash(t, 16);
    } else if ((t->n + 1) * 4 > t->cap * 3) {
        htab_rehash(t, t->cap * 2);
    }
    uint32_t m = t->cap - 1, i = (uint32_t)h & m;
    while (t->e[i].v)
        i = (i + 1) & m;
    t->e[i].h = h;
    t->e[i].v = v;
    t->n++;
}

static void htab_del(htab_t *t, uint64_t h, const void *v)
{
    if (t->cap <= SMALL_KIDS) {
        for (uint32_t i = 0; i < t->n; i++) {
            if (t->e[i].v == v) {
                t->e[i] = t->e[--t->n];
                return;
            }
        }
        assert(0);
        return;
    }
    uint32_t m = t->cap - 1, i = (uint32_t)h & m;
    while (t->e[i].v != v) {
        assert(t->e[i].v);
        i = (i + 1) & m;
    }
    for (uint32_t j = i;;) { /* backward-shift deletion */
        j = (j + 1) & m;
        if (!t->e[j].v)
            break;
        uint32_t home = (uint32_t)t->e[j].h & m;
        bool stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            t->e[i] = t->e[j];
            i = j;
        }
    }
    t->e[i].v = NULL;
    t->n--;
}

static node_t *kid_find(const node_t *n, const char *p, uint32_t len, uint64_t h)
{
    const htab_t *t = &n->kids;
    if (t->cap <= SMALL_KIDS) {
        for (uint32_t i = 0; i < t->n; i++) {
            node_t *k = t->e[i].v;
            if (t->e[i].h == h && k->len == len && memcmp(k->level, p, len) == 0)
                return k;
        }
        return NULL;
    }
    uint32_t m = t->cap - 1;
    for (uint32_t i = (uint32_t)h & m; t->e[i].v; i = (i + 1) & m) {
        node_t *k = t->e[i].v;
        if (t->e[i].h == h && k->len == len && memcmp(k->level, p, len) == 0)
            return k;
    }
    return NULL;
}

static client_t *client_find(const mq_router_t *r, uint64_t id)
{
    const htab_t *t = &r->clients;
    if (t->cap == 0)
        return NULL;
    if (t->cap <= SMALL_KIDS) {
        for (uint32_t i = 0; i < t->n; i++)
            if (((client_t *)t->e[i].v)->id == id)
                return t->e[i].v;
        return NULL;
    }
    uint32_t m = t->cap - 1;
    for (uint32_t i = (uint32_t)mix64(id) & m; t->e[i].v; i = (i + 1) & m)
        if (((client_t *)t->e[i].v)->id == id)
            return t->e[i].v;
    return NULL;
}

/* ---------------------------------------------------------------- syntax */

bool mq_router_topic_valid(const char *t, size_t len)
{
    if (len == 0 || len > MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (t[i] == '+' || t[i] == '#' || t[i] == '\0')
            return false;
    return true;
}

static bool plain_filter_valid(const char *f, size_t len)
{
    if (len == 0 || len > MAX_LEN)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && f[i] == '\0')
            return false;
        if (i < len && f[i] != '/')
            continue;
        for (size_t k = start; k < i; k++) {
            if (f[k] == '+' && i - start != 1)
                return false;
            if (f[k] == '#' && (i - start != 1 || i != len))
                return false;
        }
        start = i + 1;
    }
    return true;
}

/* Splits "$share/<group>/<filter>"; returns false when malformed.  A
 * non-shared filter gives *glen == 0. */
static bool split_share(const char *f, size_t len, const char **g, size_t *glen,
                        const char **pf /* OUT */, size_t *pflen /* OUT */)
{
    *g = NULL;
    *glen = 0;
    *pf = f;
    *pflen = len;
    if (len < 7 || memcmp(f, "$share/", 7) != 0)
        return plain_filter_valid(f, len);
    size_t i = 7;
    while (i < len && f[i] != '/') {
        if (f[i] == '+' || f[i] == '#' || f[i] == '\0')
            return false;
        i++;
    }
    if (i == 7 || i >= len)
        return false;
    *g = f + 7;
    *glen = i - 7;
    *pf = f + i + 1;
    *pflen = len - i - 1;
    return plain_filter_valid(*pf, *pflen);
}

bool mq_router_filter_valid(const char *f, size_t len)
{
    const char *g, *pf;
    size_t glen, pflen;
    return split_share(f, len, &g, &glen, &pf, &pflen);
}

bool mq_router_topic_matches(const char *f, size_t fl, const char *t, size_t tl)
{
    if (tl > 0 && t[0] == '$' && fl > 0 && (f[0] == '+' || f[0] == '#'))
        return false; /* MQTT-4.7.2-1 */
    size_t fi = 0, ti = 0;
    bool tend = false; /* every topic level consumed */
    for (;;) {
        size_t fe = fi;
        while (fe < fl && f[fe] != '/')
            fe++;
        if (fe - fi == 1 && f[fi] == '#')
            return true; /* the rest, or nothing: "a/#" matches "a" */
        if (tend)
            return false;
        size_t te = ti;
        while (te < tl && t[te] != '/')
            te++;
        bool plus = fe - fi == 1 && f[fi] == '+';
        if (!plus && (fe - fi != te - ti || memcmp(f + fi, t + ti, fe - fi) != 0))
            return false;
        if (fe == fl)
            return te == tl;
        fi = fe + 1;
        if (te == tl)
            tend = true;
        else
            ti = te + 1;
    }
}

/* ------------------------------------------------------------------ trie */

static node_t *node_new(node_t *parent, const char *p, uint32_t len, uint64_t h)
{
    node_t *n = cn_calloc(1, sizeof *n + len + 1);
    n->parent = parent;
    n->h = h;
    n->len = len;
    memcpy(n->level, p, len);
    return n;
}

/* The node for a valid plain filter, created with its path if missing. */
static node_t *trie_insert(mq_router_t *r, const char *f, size_t len)
{
    node_t *n = r->root;
    size_t i = 0;
    for (;;) {
        size_t e = i;
        while (e < len && f[e] != '/')
            e++;
        uint32_t ll = (uint32_t)(e - i);
        node_t **wild = NULL;
        if (ll == 1 && f[i] == '+')
            wild = &n->plus;
        else if (ll == 1 && f[i] == '#')
            wild = &n->hash;
        if (wild) {
            if (!*wild)
                *wild = node_new(n, f + i, 1, 0);
            n = *wild;
        } else {
            uint64_t h = cn_hash64(f + i, ll);
            node_t *k = kid_find(n, f + i, ll, h);
            if (!k) {
                k = node_new(n, f + i, ll, h);
                htab_put(&n->kids, h, k);
            }
            n = k;
        }
        if (e == len)
            return n;
        i = e + 1;
    }
}

/* The node for a valid plain filter, or NULL. */
static node_t *trie_find(const mq_router_t *r, const char *f, size_t len)
{
    node_t *n = r->root;
    size_t i = 0;
    while (n) {
        size_t e = i;
        while (e < len && f[e] != '/')
            e++;
        uint32_t ll = (uint32_t)(e - i);
        if (ll == 1 && f[i] == '+')
            n = n->plus;
        else if (ll == 1 && f[i] == '#')
            n = n->hash;
        else
            n = kid_find(n, f + i, ll, cn_hash64(f + i, ll));
        if (e == len)
            return n;
        i = e + 1;
    }
    return NULL;
}

static bool node_empty(const node_t *n)
{
    return n->nsubs == 0 && !n->groups && n->kids.n == 0 && !n->plus && !n->hash;
}

static void node_free(node_t *n)
{
    cn_free(n->kids.e);
    cn_free(n->subs);
    cn_free(n);
}

/* Frees n and its empty ancestors (NOTES 3). */
static void prune(node_t *n)
{
    while (n->parent && node_empty(n)) {
        node_t *p = n->parent;
        if (p->plus == n)
            p->plus = NULL;
        else if (p->hash == n)
            p->hash = NULL;
        else
            htab_del(&p->kids, n->h, n);
        node_free(n);
        n = p;
    }
}

/* Rebuilds n's filter into r->fbuf. */
static void node_filter(mq_router_t *r, const node_t *n)
{
    size_t len = 0;
    for (const node_t *k = n; k->parent; k = k->parent)
        len += k->len + (k->parent->parent ? 1 : 0);
    cn_buf_reset(&r->fbuf);
    char *out = (char *)cn_buf_extend(&r->fbuf, len);
    size_t at = len;
    for (const node_t *k = n; k->parent; k = k->parent) {
        at -= k->len;
        memcpy(out + at, k->level, k->len);
        if (k->parent->parent)
            out[--at] = '/';
    }
    assert(at == 0);
}

/* Drops every cached topic `filter` matches, in every reader. */
static void invalidate(mq_router_t *r, const char *f, size_t len)
{
    bool wild = memchr(f, '+', len) || memchr(f, '#', len);
    uint64_t h = wild ? 0 : cn_hash64(f, len);
    for (uint32_t i = 0; i < r->nreaders; i++) {
        mq__rcache_t *c = r->readers[i]->cache;
        if (!c || mq__rcache_count(c) == 0)
            continue;
        if (wild)
            mq__rcache_drop_matching(c, f, len);
        else
            mq__rcache_drop(c, f, len, h);
    }
}

/* ------------------------------------------------------------- locking */

static void lock_all(mq_router_t *r)
{
    pthread_mutex_lock(&r->wlock);
    for (uint32_t i = 0; i < r->nreaders; i++)
        pthread_mutex_lock(&r->readers[i]->lk);
}

static void unlock_all(mq_router_t *r)
{
    for (uint32_t i = r->nreaders; i-- > 0;)
        pthread_mutex_unlock(&r->readers[i]->lk);
    pthread_mutex_unlock(&r->wlock);
}

/* -------------------------------------------------------- subscriptions */

static void sub_array(node_t *n, group_t *g, sub_t **arr, uint32_t **cnt)
{
    if (g) {
        *arr = g->m;
        *cnt = &g->n;
    } else {
        *arr = n->subs;
        *cnt = &n->nsubs;
    }
}

/* Index of client c's subscription in (n, g), or -1: scans the shorter of
 * the client's refs and the subscription array. */
static int64_t sub_find(const client_t *c, node_t *n, group_t *g)
{
    if (!c)
        return -1;
    sub_t *arr;
    uint32_t *cnt;
    sub_array(n, g, &arr, &cnt);
    if (c->n <= *cnt) {
        for (uint32_t i = 0; i < c->n; i++)
            if (c->v[i].node == n && c->v[i].grp == g)
                return c->v[i].si;
        return -1;
    }
    for (uint32_t i = 0; i < *cnt; i++)
        if (arr[i].id == c->id)
            return i;
    return -1;
}

static client_t *client_get(mq_router_t *r, uint64_t id)
{
    client_t *c = client_find(r, id);
    if (!c) {
        c = cn_calloc(1, sizeof *c);
        c->id = id;
        htab_put(&r->clients, mix64(id), c);
    }
    return c;
}

static void sub_add(mq_router_t *r, client_t *c, node_t *n, group_t *g, const mq_sub_opts_t *o)
{
    uint32_t si;
    if (g) {
        grow((void **)&g->m, &g->cap, g->n + 1, sizeof *g->m);
        si = g->n++;
        g->m[si] = (sub_t){c->id, *o, c->n};
    } else {
        grow((void **)&n->subs, &n->scap, n->nsubs + 1, sizeof *n->subs);
        si = n->nsubs++;
        n->subs[si] = (sub_t){c->id, *o, c->n};
    }
    grow((void **)&c->v, &c->cap, c->n + 1, sizeof *c->v);
    c->v[c->n++] = (ref_t){n, g, si};
    atomic_fetch_add_explicit(&r->count, 1, memory_order_relaxed);
}

static group_t *group_get(node_t *n, const char *name, size_t len, bool create)
{
    for (group_t *g = n->groups; g; g = g->next)
        if (g->nlen == len && memcmp(g->name, name, len) == 0)
            return g;
    if (!create)
        return NULL;
    group_t *g = cn_calloc(1, sizeof *g + len + 1);
    memcpy(g->name, name, len);
    g->nlen = (uint32_t)len;
    atomic_init(&g->rr, 0);
    g->next = n->groups;
    n->groups = g;
    return g;
}

static void group_unlink(node_t *n, group_t *g)
{
    group_t **pp = &n->groups;
    while (*pp != g)
        pp = &(*pp)->next;
    *pp = g->next;
    cn_free(g->m);
    cn_free(g);
}

/* Removes the subscription at index si of (n, g); frees what becomes empty.
 * The caller invalidates caches first (the node may be freed here). */
static void sub_remove(mq_router_t *r, node_t *n, group_t *g, uint32_t si)
{
    sub_t *arr;
    uint32_t *cnt;
    sub_array(n, g, &arr, &cnt);
    sub_t s = arr[si];
    client_t *c = client_find(r, s.id);
    assert(c && s.ci < c->n && c->v[s.ci].node == n && c->v[s.ci].grp == g);
    uint32_t last = c->n - 1;
    if (s.ci != last) { /* swap-remove the ref, repoint its subscription */
        ref_t mv = c->v[last];
        c->v[s.ci] = mv;
        sub_t *marr;
        uint32_t *mcnt;
        sub_array(mv.node, mv.grp, &marr, &mcnt);
        marr[mv.si].ci = s.ci;
    }
    c->n--;
    if (si != *cnt - 1) { /* swap-remove the subscription, repoint its ref */
        arr[si] = arr[*cnt - 1];
        client_t *mc = client_find(r, arr[si].id);
        mc->v[arr[si].ci].si = si;
    }
    (*cnt)--;
    atomic_fetch_sub_explicit(&r->count, 1, memory_order_relaxed);
    if (c->n == 0) {
        htab_del(&r->clients, mix64(c->id), c);
        cn_free(c->v);
        cn_free(c);
    }
    if (g && g->n == 0)
        group_unlink(n, g);
    prune(n);
}

static bool opts_valid(const mq_sub_opts_t *o)
{
    return o->qos <= 2 && o->retain_handling <= 2 && o->sub_id <= MQ_SUB_ID_MAX;
}

int mq_router_subscribe(mq_router_t *r, uint64_t sub, const char *filter, size_t len,
                        const mq_sub_opts_t *o)
{
    const char *gname, *f;
    size_t glen, flen;
    if (sub == MQ_ROUTER_NOBODY || !opts_valid(o) ||
        !split_share(filter, len, &gname, &glen, &f, &flen))
        return CN_EINVAL;
    if (glen && o->no_local)
        return CN_EPROTO;
    int rc = MQ_ROUTER_NEW;
    lock_all(r);
    node_t *n = trie_insert(r, f, flen);
    group_t *g = glen ? group_get(n, gname, glen, true) : NULL;
    client_t *c = client_get(r, sub);
    int64_t si = sub_find(c, n, g);
    bool changed = true;
    if (si >= 0) {
        sub_t *arr;
        uint32_t *cnt;
        sub_array(n, g, &arr, &cnt);
        mq_sub_opts_t *cur = &arr[si].o;
        changed = memcmp(cur, o, sizeof *o) != 0;
        *cur = *o;
        rc = MQ_ROUTER_REPLACED;
    } else {
        sub_add(r, c, n, g, o);
    }
    if (changed)
        invalidate(r, f, flen);
    unlock_all(r);
    return rc;
}

int mq_router_unsubscribe(mq_router_t *r, uint64_t sub, const char *filter, size_t len)
{
    const char *gname, *f;
    size_t glen, flen;
    if (!split_share(filter, len, &gname, &glen, &f, &flen))
        return CN_EINVAL;
    int rc = CN_ENOTFOUND;
    lock_all(r);
    node_t *n = trie_find(r, f, flen);
    group_t *g = n && glen ? group_get(n, gname, glen, false) : NULL;
    if (n && (g || !glen)) {
        int64_t si = sub_find(client_find(r, sub), n, g);
        if (si >= 0) {
            invalidate(r, f, flen);
            sub_remove(r, n, g, (uint32_t)si);
            rc = 0;
        }
    }
    unlock_all(r);
    return rc;
}

int mq_router_remove_subscriber(mq_router_t *r, uint64_t sub)
{
    int removed = 0;
    lock_all(r);
    client_t *c = client_find(r, sub);
    uint32_t left = c ? c->n : 0;
    while (left-- > 0) { /* the last sub_remove frees c */
        ref_t ref = c->v[c->n - 1];
        node_filter(r, ref.node);
        invalidate(r, (const char *)r->fbuf.p, r->fbuf.len);
        sub_remove(r, ref.node, ref.grp, ref.si);
        removed++;
    }
    unlock_all(r);
    return removed;
}

size_t mq_router_count(const mq_router_t *r)
{
    return atomic_load_explicit(&r->count, memory_order_relaxed);
}

/* -------------------------------------------------------------- lifecycle */

int mq_router_new(mq_router_t **out)
{
    mq_router_t *r = cn_calloc(1, sizeof *r);
    int rc = -pthread_mutex_init(&r->wlock, NULL);
    if (rc < 0) {
        cn_free(r);
        return rc;
    }
    r->root = node_new(NULL, "", 0, 0);
    atomic_init(&r->count, 0);
    cn_buf_init(&r->fbuf);
    *out = r;
    return 0;
}

/* Frees the whole trie in O(nodes), with an explicit stack of nodes. */
static void trie_free(node_t *root)
{
    cn_buf_t st;
    cn_buf_init(&st);
    cn_buf_put(&st, &root, sizeof root);
    while (st.len) {
        node_t *n;
        st.len -= sizeof n;
        memcpy(&n, st.p + st.len, sizeof n);
        if (n->plus)
            cn_buf_put(&st, &n->plus, sizeof n->plus);
        if (n->hash)
            cn_buf_put(&st, &n->hash, sizeof n->hash);
        uint32_t slots = n->kids.cap <= SMALL_KIDS ? n->kids.n : n->kids.cap;
        for (uint32_t i = 0; i < slots; i++)
            if (n->kids.e[i].v)
                cn_buf_put(&st, &n->kids.e[i].v, sizeof(void *));
        while (n->groups)
            group_unlink(n, n->groups);
        node_free(n);
    }
    cn_buf_free(&st);
}

void mq_router_free(mq_router_t *r)
{
    if (!r)
        return;
    assert(r->nreaders == 0);
    trie_free(r->root);
    htab_t *t = &r->clients;
    for (uint32_t i = 0; i < (t->cap <= SMALL_KIDS ? t->n : t->cap); i++) {
        client_t *c = t->e[i].v;
        if (c) {
            cn_free(c->v);
            cn_free(c);
        }
    }
    cn_free(t->e);
    cn_free(r->readers);
    cn_buf_free(&r->fbuf);
    pthread_mutex_destroy(&r->wlock);
    cn_free(r);
}

int mq_router_reader_new(mq_router_t *r, uint32_t cache_entries, mq_router_reader_t **out)
{
    if (cache_entries > (1u << 20))
        return CN_EINVAL;
    mq_router_reader_t *rd = cn_calloc(1, sizeof *rd);
    int rc = -pthread_mutex_init(&rd->lk, NULL);
    if (rc < 0) {
        cn_free(rd);
        return rc;
    }
    rd->r = r;
    rd->cache = cache_entries ? mq__rcache_new(cache_entries) : NULL;
    cn_buf_init(&rd->blob);
    pthread_mutex_lock(&r->wlock);
    grow((void **)&r->readers, &r->rcap, r->nreaders + 1, sizeof *r->readers);
    r->readers[r->nreaders++] = rd;
    pthread_mutex_unlock(&r->wlock);
    *out = rd;
    return 0;
}

void mq_router_reader_free(mq_router_reader_t *rd)
{
    if (!rd)
        return;
    mq_router_t *r = rd->r;
    pthread_mutex_lock(&r->wlock);
    for (uint32_t i = 0; i < r->nreaders; i++) {
        if (r->readers[i] == rd) {
            memmove(&r->readers[i], &r->readers[i + 1], (r->nreaders - i - 1) * sizeof *r->readers);
            r->nreaders--;
            break;
        }
    }
    pthread_mutex_unlock(&r->wlock);
    mq__rcache_free(rd->cache);
    cn_free(rd->lv);
    cn_free(rd->st);
    cn_free(rd->raw);
    cn_free(rd->pairs);
    cn_free(rd->ids);
    cn_free(rd->set);
    cn_buf_free(&rd->blob);
    pthread_mutex_destroy(&rd->lk);
    cn_free(rd);
}

void mq_router_reader_set_online(mq_router_reader_t *rd, mq_router_online_fn fn, void *arg)
{
    pthread_mutex_lock(&rd->lk);
    rd->online = fn;
    rd->online_arg = arg;
    pthread_mutex_unlock(&rd->lk);
}

void mq_router_reader_stats(mq_router_reader_t *rd, uint64_t *hits, uint64_t *misses)
{
    pthread_mutex_lock(&rd->lk);
    *hits = rd->hits;
    *misses = rd->misses;
    pthread_mutex_unlock(&rd->lk);
}

void mq_router_res_init(mq_router_res_t *res)
{
    memset(res, 0, sizeof *res);
}

void mq_router_res_free(mq_router_res_t *res)
{
    if (!res)
        return;
    cn_free(res->v);
    cn_free(res->ids);
    memset(res, 0, sizeof *res);
}

/* ---------------------------------------------------------------- match */

/* Splits the topic into rd->lv (pointer, length, hash per level). */
static uint32_t split_levels(mq_router_reader_t *rd, const char *t, size_t len)
{
    uint32_t n = 0;
    size_t i = 0;
    for (;;) {
        const char *s = memchr(t + i, '/', len - i);
        size_t e = s ? (size_t)(s - t) : len;
        grow((void **)&rd->lv, &rd->lvcap, n + 1, sizeof *rd->lv);
        rd->lv[n++] = (level_t){t + i, (uint32_t)(e - i), cn_hash64(t + i, e - i)};
        if (!s)
            return n;
        i = e + 1;
    }
}

static void add_id(mq_router_reader_t *rd, uint32_t route, const sub_t *s)
{
    if (!s->o.sub_id)
        return;
    grow((void **)&rd->pairs, &rd->paircap, rd->npairs + 1, sizeof *rd->pairs);
    rd->pairs[rd->npairs++] = (idpair_t){route, s->o.sub_id | (s->o.no_local ? NL_BIT : 0)};
}

static void route_init(rroute_t *rr, const sub_t *s)
{
    const mq_sub_opts_t *o = &s->o;
    *rr = (rroute_t){.sub = s->id,
                     .qos = o->qos,
                     .qos_nl = o->no_local ? QOS_NONE : o->qos,
                     .rap = (uint8_t)(o->retain_as_published ? (o->no_local ? 1 : 3) : 0)};
}

static void route_merge(rroute_t *rr, const sub_t *s)
{
    const mq_sub_opts_t *o = &s->o;
    if (o->qos > rr->qos)
        rr->qos = o->qos;
    if (!o->no_local && (rr->qos_nl == QOS_NONE || o->qos > rr->qos_nl))
        rr->qos_nl = o->qos;
    if (o->retain_as_published)
        rr->rap |= o->no_local ? 1 : 3;
}

/* Rebuilds the subscriber -> raw route set for at least `need` entries. */
static void set_rebuild(mq_router_reader_t *rd, uint32_t need)
{
    uint32_t cap = 64;
    while (cap < need * 2)
        cap *= 2;
    if (cap > rd->setcap) {
        cn_free(rd->set);
        rd->set = cn_calloc(cap, sizeof *rd->set);
        rd->setcap = cap;
        rd->stamp = 0;
    }
    if (++rd->stamp == 0) { /* wrapped: clear for real */
        memset(rd->set, 0, (size_t)rd->setcap * sizeof *rd->set);
        rd->stamp = 1;
    }
    uint32_t m = rd->setcap - 1;
    for (uint32_t k = 0; k < rd->nraw; k++) {
        if (rd->raw[k].grp)
            continue;
        uint32_t i = (uint32_t)mix64(rd->raw[k].sub) & m;
        while (rd->set[i].stamp == rd->stamp)
            i = (i + 1) & m;
        rd->set[i] = (dset_t){rd->raw[k].sub, rd->stamp, k};
    }
}

/* Index of sub's raw route; inserts *idx for it when absent (returns false). */
static bool set_get(mq_router_reader_t *rd, uint64_t sub, uint32_t *idx)
{
    uint32_t m = rd->setcap - 1;
    for (uint32_t i = (uint32_t)mix64(sub) & m;; i = (i + 1) & m) {
        dset_t *e = &rd->set[i];
        if (e->stamp != rd->stamp) {
            *e = (dset_t){sub, rd->stamp, *idx};
            return false;
        }
        if (e->id == sub) {
            *idx = e->idx;
            return true;
        }
    }
}

/* Adds node n's subscriptions to the raw result, one route per subscriber
 * for the non-shared ones.  The first contributing node needs no merging:
 * a node holds at most one subscription per client (NOTES 1). */
static void collect(mq_router_reader_t *rd, const node_t *n)
{
    if (n->nsubs) {
        grow((void **)&rd->raw, &rd->rawcap, rd->nraw + n->nsubs, sizeof *rd->raw);
        if (rd->contrib == 0) {
            for (uint32_t k = 0; k < n->nsubs; k++) {
                route_init(&rd->raw[rd->nraw], &n->subs[k]);
                add_id(rd, rd->nraw++, &n->subs[k]);
            }
            rd->contrib = 1;
        } else {
            if (rd->contrib == 1 || (rd->nraw + n->nsubs) * 2 > rd->setcap)
                set_rebuild(rd, rd->nraw + n->nsubs);
            rd->contrib = 2;
            for (uint32_t k = 0; k < n->nsubs; k++) {
                const sub_t *s = &n->subs[k];
                uint32_t idx = rd->nraw;
                if (set_get(rd, s->id, &idx))
                    route_merge(&rd->raw[idx], s);
                else
                    route_init(&rd->raw[rd->nraw++], s);
                add_id(rd, idx, s);
            }
        }
    }
    for (group_t *g = n->groups; g; g = g->next) {
        grow((void **)&rd->raw, &rd->rawcap, rd->nraw + 1, sizeof *rd->raw);
        rd->raw[rd->nraw++] = (rroute_t){.grp = g};
    }
}

/* Gathers the subscription identifiers of each raw route into rd->ids. */
static void compact_ids(mq_router_reader_t *rd)
{
    if (rd->npairs == 0)
        return;
    grow((void **)&rd->ids, &rd->idcap, rd->npairs, sizeof *rd->ids);
    for (uint32_t k = 0; k < rd->npairs; k++)
        rd->raw[rd->pairs[k].route].nids++;
    uint32_t off = 0;
    for (uint32_t k = 0; k < rd->nraw; k++) {
        rd->raw[k].ids_off = off;
        off += rd->raw[k].nids;
        rd->raw[k].nids = 0;
    }
    for (uint32_t k = 0; k < rd->npairs; k++) {
        rroute_t *rr = &rd->raw[rd->pairs[k].route];
        rd->ids[rr->ids_off + rr->nids++] = rd->pairs[k].id;
    }
}

/* The trie walk: fills rd->raw (and rd->ids) for the topic. */
static void walk(mq_router_reader_t *rd, const char *topic, size_t len)
{
    uint32_t nl = split_levels(rd, topic, len);
    grow((void **)&rd->st, &rd->stcap, 2 * nl + 2, sizeof *rd->st);
    rd->nraw = 0;
    rd->npairs = 0;
    rd->contrib = 0;
    bool dollar = topic[0] == '$';
    uint32_t sp = 0;
    rd->st[sp++] = (frame_t){rd->r->root, 0};
    while (sp) {
        frame_t f = rd->st[--sp];
        const node_t *n = f.n;
        if (f.i == nl) {
            collect(rd, n);
            if (n->hash) /* "a/#" matches "a" */
                collect(rd, n->hash);
            continue;
        }
        if (f.i > 0 || !dollar) { /* MQTT-4.7.2-1 */
            if (n->hash)
                collect(rd, n->hash);
            if (n->plus)
                rd->st[sp++] = (frame_t){n->plus, f.i + 1};
        }
        const level_t *l = &rd->lv[f.i];
        node_t *k = kid_find(n, l->p, l->len, l->h);
        if (k)
            rd->st[sp++] = (frame_t){k, f.i + 1};
        assert(sp <= rd->stcap);
    }
    compact_ids(rd);
}

/* grow() for the caller's result, whose capacities are size_t. */
static void grow_res(void **p, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap)
        return;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    *p = cn_realloc(*p, c * sz);
    *cap = c;
}

static void res_reserve(mq_router_res_t *res, size_t routes, size_t ids)
{
    grow_res((void **)&res->v, &res->cap, routes, sizeof *res->v);
    grow_res((void **)&res->ids, &res->ids_cap, ids, sizeof *res->ids);
}

/* One route for a shared group: the next member round robin, skipping
 * members the online filter rejects. */
static void finish_shared(mq_router_reader_t *rd, const group_t *g, mq_router_res_t *res)
{
    assert(g->n > 0); /* NOTES 3 */
    uint32_t start =
        atomic_fetch_add_explicit((_Atomic uint32_t *)&g->rr, 1, memory_order_relaxed) % g->n;
    uint32_t pick = start;
    uint8_t flags = MQ_ROUTE_SHARED;
    if (rd->online) {
        flags |= MQ_ROUTE_OFFLINE;
        for (uint32_t k = 0; k < g->n; k++) {
            uint32_t i = (start + k) % g->n;
            if (rd->online(rd->online_arg, g->m[i].id)) {
                pick = i;
                flags &= (uint8_t)~MQ_ROUTE_OFFLINE;
                break;
            }
        }
    }
    const sub_t *m = &g->m[pick];
    mq_route_t *o = &res->v[res->n++];
    *o = (mq_route_t){.sub = m->id,
                      .qos = m->o.qos,
                      .flags = (uint8_t)(flags | (m->o.retain_as_published ? MQ_ROUTE_RAP : 0)),
                      .ids_off = (uint32_t)res->nids};
    if (m->o.sub_id) {
        res->ids[res->nids++] = m->o.sub_id;
        o->nids = 1;
    }
}

/* Raw routes -> the caller's result: no-local for the publisher, shared
 * members picked, identifiers copied without NL_BIT. */
static void finish(mq_router_reader_t *rd, const rroute_t *raw, uint32_t n, const uint32_t *ids,
                   uint32_t nids, uint64_t publisher, mq_router_res_t *res)
{
    res_reserve(res, n, (size_t)nids + n);
    for (uint32_t k = 0; k < n; k++) {
        const rroute_t *rr = &raw[k];
        if (rr->grp) {
            finish_shared(rd, rr->grp, res);
            continue;
        }
        bool self = rr->sub == publisher;
        if (self && rr->qos_nl == QOS_NONE)
            continue;
        mq_route_t *o = &res->v[res->n++];
        *o = (mq_route_t){.sub = rr->sub,
                          .qos = self ? rr->qos_nl : rr->qos,
                          .flags = (rr->rap & (self ? 2 : 1)) ? MQ_ROUTE_RAP : 0,
                          .ids_off = (uint32_t)res->nids};
        for (uint32_t j = 0; j < rr->nids; j++) {
            uint32_t id = ids[rr->ids_off + j];
            if (!(self && (id & NL_BIT)))
                res->ids[res->nids++] = id & ~NL_BIT;
        }
        o->nids = (uint32_t)(res->nids - o->ids_off);
    }
}

/* Cached blob: this header, the raw routes, then the identifiers. */
typedef struct blob_hdr {
    uint32_t nraw, nids;
    uint64_t pad; /* keeps the routes 16-byte aligned */
} blob_hdr_t;

static void cache_store(mq_router_reader_t *rd, const char *topic, size_t len, uint64_t h)
{
    blob_hdr_t hdr = {rd->nraw, rd->npairs, 0};
    size_t rsz = (size_t)rd->nraw * sizeof *rd->raw, isz = (size_t)rd->npairs * sizeof *rd->ids;
    cn_buf_reset(&rd->blob);
    cn_buf_put(&rd->blob, &hdr, sizeof hdr);
    if (rsz)
        cn_buf_put(&rd->blob, rd->raw, rsz);
    if (isz)
        cn_buf_put(&rd->blob, rd->ids, isz);
    mq__rcache_put(rd->cache, topic, len, h, rd->blob.p, rd->blob.len);
}

int mq_router_match(mq_router_reader_t *rd, const char *topic, size_t len, uint64_t publisher,
                    mq_router_res_t *res)
{
    res->n = 0;
    res->nids = 0;
    if (len == 0 || len > MAX_LEN)
        return CN_EINVAL;
    pthread_mutex_lock(&rd->lk);
    if (rd->cache) {
        uint64_t h = cn_hash64(topic, len);
        size_t size = 0;
        const uint8_t *b = mq__rcache_get(rd->cache, topic, len, h, &size);
        if (b) {
            blob_hdr_t hdr;
            memcpy(&hdr, b, sizeof hdr);
            const rroute_t *raw = (const rroute_t *)(const void *)(b + sizeof hdr);
            const uint32_t *ids = (const uint32_t *)(const void *)(raw + hdr.nraw);
            assert(size == sizeof hdr + hdr.nraw * sizeof *raw + hdr.nids * sizeof *ids);
            rd->hits++;
            finish(rd, raw, hdr.nraw, ids, hdr.nids, publisher, res);
            pthread_mutex_unlock(&rd->lk);
            return (int)res->n;
        }
        rd->misses++;
        walk(rd, topic, len);
        cache_store(rd, topic, len, h);
    } else {
        walk(rd, topic, len);
    }
    finish(rd, rd->raw, rd->nraw, rd->ids, rd->npairs, publisher, res);
    pthread_mutex_unlock(&rd->lk);
    return (int)res->n;
}
