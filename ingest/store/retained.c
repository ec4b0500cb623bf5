/* SPDX-License-Identifier: MIT */
/*
 * retained.c - the retained-message index and payload cache (store thread).
 *
 * Every retained topic is a path in a trie of topic levels.  A node knows
 * only its level name, its children (inline when there is one, else an
 * open-addressing table with linear probing), whether a message is
 * retained exactly here, and its cache entry if the payload is cached;
 * the rare expiry deadlines live in a side table keyed by node.  Wildcard
 * lookups walk the trie (`+` visits every child, `#` a whole subtree, a
 * literal level one hash probe) and never touch SQLite for topics that do
 * not match.  Payloads are read from mq_retained on a miss and enter an
 * LRU cache bounded by opts.cache_bytes; a message bigger than the whole
 * budget is delivered but not cached.
 *
 * Memory: 32 bytes + the level name per node (jemalloc's 48-byte class for
 * a typical level) plus a child slot in its parent.  1 M topics of the
 * shape fleet/F/devD/state (two private levels each) index in about 125 MB
 * (bench/micro_retained); payloads cost nothing unless cached.
 *
 * NOTES
 *  1. A node with no retained message and no children is removed at once,
 *     so the trie holds exactly the retained topics and their prefixes.
 *  2. node->cent is non-NULL iff the node's current message is cached;
 *     setting or clearing a topic drops the old cache entry first.
 *  5. N_EXP is set iff st->exp holds the node's deadline; a node is
 *     removed from st->exp before it is freed (index_clear).
 *  3. The root has no name and never holds a message (topics are >= 1 byte).
 *  4. MQTT-4.7.2-1: at the root, `+` and `#` skip children starting with '$'.
 */
#include "store_int.h"

#include <assert.h>

#define MATCH_CHUNK 256

struct mq__st_rnode {
    mq__st_rnode_t *parent;
    void *kids; /* kbits == 0: the only child itself (or NULL); else 1 << kbits slots */
    mq__st_rcent_t *cent;
    uint32_t nkids;
    uint16_t nlen;
    uint8_t kbits;
    uint8_t flags; /* N_HAS, N_EXP */
    char name[];
};
/* 32 bytes + the level name: a typical level lands in jemalloc's 48-byte
 * class.  Expiry deadlines are rare and live in a side table (st->exp). */
#define N_HAS 1 /* a message is retained at exactly this topic */
#define N_EXP 2 /* ... with a deadline in st->exp */

struct mq__st_rcent {
    mq__st_rcent_t *prev, *next; /* LRU list, most recent first */
    mq__st_rnode_t *node;
    mq_store_msg_t *msg; /* the cache's reference */
};

/* ---------------------------------------------------------------- trie */

static uint64_t hname(const char *p, size_t n)
{
    return cn_hash64(p, n);
}

static mq__st_rnode_t *node_new(mq__st_rnode_t *parent, const char *name, size_t n)
{
    mq__st_rnode_t *nd = cn_calloc(1, sizeof(*nd) + n);
    nd->parent = parent;
    nd->nlen = (uint16_t)n;
    memcpy(nd->name, name, n);
    return nd;
}

/* Number of child slots to scan, and slot i (NULL = empty). */
static size_t kid_slots(const mq__st_rnode_t *nd)
{
    return nd->kbits ? (size_t)1 << nd->kbits : (nd->kids ? 1 : 0);
}

static mq__st_rnode_t *kid_at(const mq__st_rnode_t *nd, size_t i)
{
    return nd->kbits ? ((mq__st_rnode_t **)nd->kids)[i] : (mq__st_rnode_t *)nd->kids;
}

static mq__st_rnode_t *kid_get(const mq__st_rnode_t *nd, const char *name, size_t n)
{
    if (!nd->kbits) {
        mq__st_rnode_t *k = nd->kids;
        return k && k->nlen == n && memcmp(k->name, name, n) == 0 ? k : NULL;
    }
    mq__st_rnode_t **t = nd->kids;
    size_t mask = ((size_t)1 << nd->kbits) - 1;
    for (size_t i = hname(name, n) & mask;; i = (i + 1) & mask) {
        mq__st_rnode_t *k = t[i];
        if (!k)
            return NULL;
        if (k->nlen == n && memcmp(k->name, name, n) == 0)
            return k;
    }
}

static void kid_place(mq__st_rnode_t **t, size_t cap, mq__st_rnode_t *k)
{
    size_t mask = cap - 1;
    size_t i = hname(k->name, k->nlen) & mask;
    while (t[i])
        i = (i + 1) & mask;
    t[i] = k;
}

/* Rebuilds nd's children as a table of 1 << bits slots (bits >= 2). */
static void kid_rehash(mq__st_rnode_t *nd, uint8_t bits)
{
    size_t cap = (size_t)1 << bits;
    mq__st_rnode_t **t = cn_calloc(cap, sizeof(*t));
    for (size_t i = 0, n = kid_slots(nd); i < n; i++)
        if (kid_at(nd, i))
            kid_place(t, cap, kid_at(nd, i));
    if (nd->kbits)
        cn_free(nd->kids);
    nd->kids = t;
    nd->kbits = bits;
}

static void kid_add(mq__st_rnode_t *nd, mq__st_rnode_t *k)
{
    if (!nd->kids) { /* first child: held inline, no table */
        nd->kids = k;
        nd->nkids = 1;
        return;
    }
    size_t cap = nd->kbits ? (size_t)1 << nd->kbits : 0;
    if ((nd->nkids + 1) * 4 > cap * 3)
        kid_rehash(nd, nd->kbits ? (uint8_t)(nd->kbits + 1) : 2);
    kid_place(nd->kids, (size_t)1 << nd->kbits, k);
    nd->nkids++;
}

/* Linear-probing delete with backward shift (no tombstones). */
static void kid_del(mq__st_rnode_t *nd, mq__st_rnode_t *k)
{
    if (!nd->kbits) {
        assert(nd->kids == k);
        nd->kids = NULL;
        nd->nkids = 0;
        return;
    }
    mq__st_rnode_t **t = nd->kids;
    size_t mask = ((size_t)1 << nd->kbits) - 1;
    size_t i = hname(k->name, k->nlen) & mask;
    while (t[i] != k)
        i = (i + 1) & mask;
    t[i] = NULL;
    for (size_t j = (i + 1) & mask; t[j]; j = (j + 1) & mask) {
        mq__st_rnode_t *m = t[j];
        size_t home = hname(m->name, m->nlen) & mask;
        /* m may move to the hole i if its home is not in (i, j]. */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            t[i] = m;
            t[j] = NULL;
            i = j;
        }
    }
    if (--nd->nkids <= 1) { /* back to inline */
        mq__st_rnode_t *only = NULL;
        for (size_t j = 0; j <= mask; j++)
            only = t[j] ? t[j] : only;
        cn_free(t);
        nd->kids = only;
        nd->kbits = 0;
    }
}

/* The node of `topic`, created with its path when `create`. */
static mq__st_rnode_t *trie_find(mq__st_rnode_t *root, const char *t, size_t len, bool create)
{
    mq__st_rnode_t *nd = root;
    size_t i = 0;
    for (;;) {
        size_t j = i;
        while (j < len && t[j] != '/')
            j++;
        mq__st_rnode_t *k = kid_get(nd, t + i, j - i);
        if (!k) {
            if (!create)
                return NULL;
            k = node_new(nd, t + i, j - i);
            kid_add(nd, k);
        }
        nd = k;
        if (j == len)
            return nd;
        i = j + 1;
    }
}

/* Removes empty nodes from nd upwards (NOTES 1). */
static void trie_prune(mq__st_rnode_t *nd)
{
    while (nd->parent && !(nd->flags & N_HAS) && nd->nkids == 0) {
        mq__st_rnode_t *p = nd->parent;
        kid_del(p, nd);
        cn_free(nd);
        nd = p;
    }
}

/* Frees the whole trie (iterative: a topic may have 32k levels). */
static void trie_free(mq__st_rnode_t *root)
{
    cn_buf_t stack;
    cn_buf_init(&stack);
    if (root)
        cn_buf_put(&stack, &root, sizeof(root));
    while (stack.len) {
        mq__st_rnode_t *nd;
        stack.len -= sizeof(nd);
        memcpy(&nd, stack.p + stack.len, sizeof(nd));
        for (size_t i = 0, n = kid_slots(nd); i < n; i++) {
            mq__st_rnode_t *k = kid_at(nd, i);
            if (k)
                cn_buf_put(&stack, &k, sizeof(k));
        }
        if (nd->kbits)
            cn_free(nd->kids);
        cn_free(nd);
    }
    cn_buf_free(&stack);
}

/* ------------------------------------------------------ expiry side table */

/* Open addressing over node pointers; st->exp_cap slots (power of two). */
typedef struct expent {
    mq__st_rnode_t *nd;
    int64_t at;
} expent_t;

static size_t exp_home(const mq_store_t *st, const mq__st_rnode_t *nd)
{
    uint64_t h = (uint64_t)(uintptr_t)nd * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 20) & (st->exp_cap - 1);
}

static expent_t *exp_slot(const mq_store_t *st, const mq__st_rnode_t *nd)
{
    expent_t *t = st->exp;
    for (size_t i = exp_home(st, nd);; i = (i + 1) & (st->exp_cap - 1))
        if (t[i].nd == nd || !t[i].nd)
            return &t[i];
}

static void exp_put(mq_store_t *st, mq__st_rnode_t *nd, int64_t at)
{
    if ((st->exp_n + 1) * 4 > st->exp_cap * 3) {
        expent_t *old = st->exp;
        size_t ocap = st->exp_cap;
        st->exp_cap = ocap ? ocap * 2 : 64;
        st->exp = cn_calloc(st->exp_cap, sizeof(expent_t));
        for (size_t i = 0; i < ocap; i++)
            if (old[i].nd)
                *exp_slot(st, old[i].nd) = old[i];
        cn_free(old);
    }
    expent_t *e = exp_slot(st, nd);
    if (!e->nd)
        st->exp_n++;
    e->nd = nd;
    e->at = at;
}

static int64_t exp_get(const mq_store_t *st, const mq__st_rnode_t *nd)
{
    return (nd->flags & N_EXP) ? exp_slot(st, nd)->at : 0;
}

static void exp_del(mq_store_t *st, mq__st_rnode_t *nd)
{
    if (!(nd->flags & N_EXP))
        return;
    nd->flags &= (uint8_t)~N_EXP;
    expent_t *t = st->exp;
    size_t mask = st->exp_cap - 1;
    size_t i = (size_t)(exp_slot(st, nd) - t);
    t[i].nd = NULL;
    st->exp_n--;
    for (size_t j = (i + 1) & mask; t[j].nd; j = (j + 1) & mask) {
        size_t home = exp_home(st, t[j].nd);
        if (((j - home) & mask) >= ((j - i) & mask)) {
            t[i] = t[j];
            t[j].nd = NULL;
            i = j;
        }
    }
}

/* Writes nd's full topic into b. */
static void node_topic(const mq__st_rnode_t *nd, cn_buf_t *b)
{
    size_t len = 0;
    for (const mq__st_rnode_t *n = nd; n->parent; n = n->parent)
        len += n->nlen + (n->parent->parent ? 1 : 0);
    cn_buf_reset(b);
    uint8_t *p = cn_buf_extend(b, len) + len;
    for (const mq__st_rnode_t *n = nd; n->parent; n = n->parent) {
        p -= n->nlen;
        memcpy(p, n->name, n->nlen);
        if (n->parent->parent)
            *--p = '/';
    }
}

/* --------------------------------------------------------------- cache */

static void lru_unlink(mq_store_t *st, mq__st_rcent_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        st->lru_head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        st->lru_tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push(mq_store_t *st, mq__st_rcent_t *e)
{
    e->prev = NULL;
    e->next = st->lru_head;
    if (st->lru_head)
        st->lru_head->prev = e;
    else
        st->lru_tail = e;
    st->lru_head = e;
}

static void cache_drop(mq_store_t *st, mq__st_rnode_t *nd)
{
    mq__st_rcent_t *e = nd->cent;
    if (!e)
        return;
    lru_unlink(st, e);
    st->cache_bytes -= mq__st_msg_bytes(e->msg);
    mq_store_msg_unref(e->msg);
    cn_free(e);
    nd->cent = NULL;
    atomic_store_explicit(&st->st_cache_bytes, st->cache_bytes, memory_order_relaxed);
    atomic_fetch_sub_explicit(&st->st_cache_msgs, 1, memory_order_relaxed);
}

/* Caches msg for nd, taking the caller's reference. */
static void cache_put(mq_store_t *st, mq__st_rnode_t *nd, mq_store_msg_t *msg)
{
    size_t sz = mq__st_msg_bytes(msg);
    cache_drop(st, nd);
    if (sz > st->o.cache_bytes) {
        mq_store_msg_unref(msg);
        return;
    }
    /* Attachments of live messages (the broker's form of delivered ones)
     * share the budget. */
    while (st->cache_bytes + atomic_load_explicit(&st->ext_bytes, memory_order_relaxed) + sz >
               st->o.cache_bytes &&
           st->lru_tail)
        cache_drop(st, st->lru_tail->node);
    mq__st_rcent_t *e = cn_malloc(sizeof(*e));
    e->node = nd;
    e->msg = msg;
    lru_push(st, e);
    nd->cent = e;
    st->cache_bytes += sz;
    atomic_store_explicit(&st->st_cache_bytes, st->cache_bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->st_cache_msgs, 1, memory_order_relaxed);
}

/* --------------------------------------------------------- index updates */

int mq__st_ret_init(mq_store_t *st)
{
    st->root = node_new(NULL, "", 0);
    return 0;
}

void mq__st_ret_free(mq_store_t *st)
{
    while (st->lru_head)
        cache_drop(st, st->lru_head->node);
    trie_free(st->root);
    st->root = NULL;
    cn_free(st->exp);
    st->exp = NULL;
    st->exp_n = st->exp_cap = 0;
}

static void index_set(mq_store_t *st, const char *topic, size_t len, int64_t exp)
{
    mq__st_rnode_t *nd = trie_find(st->root, topic, len, true);
    if (!(nd->flags & N_HAS))
        atomic_fetch_add_explicit(&st->ret_count, 1, memory_order_relaxed);
    nd->flags |= N_HAS;
    exp_del(st, nd);
    if (exp) {
        exp_put(st, nd, exp);
        nd->flags |= N_EXP;
    }
    cache_drop(st, nd);
}

static void index_clear(mq_store_t *st, const char *topic, size_t len)
{
    mq__st_rnode_t *nd = trie_find(st->root, topic, len, false);
    if (!nd || !(nd->flags & N_HAS))
        return;
    cache_drop(st, nd);
    exp_del(st, nd);
    nd->flags &= (uint8_t)~N_HAS;
    atomic_fetch_sub_explicit(&st->ret_count, 1, memory_order_relaxed);
    trie_prune(nd);
}

int mq__st_ret_load(mq_store_t *st)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, "SELECT topic, qos, expiry FROM mq_retained", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return mq__st_sql_err(rc);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *t = sqlite3_column_blob(s, 0);
        size_t n = (size_t)sqlite3_column_bytes(s, 0);
        if (!t || !mq_router_topic_valid(t, n)) {
            cn_warn("store: skipping a retained message with an invalid topic");
            continue;
        }
        index_set(st, t, n, sqlite3_column_int64(s, 2));
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return mq__st_sql_err(rc);
    return mq__st_ret_sweep(st);
}

int mq__st_ret_apply_set(mq_store_t *st, mq__st_op_t *op)
{
    mq_store_msg_t *m = op->msg;
    sqlite3_stmt *s = st->stmt[S_RET_PUT];
    sqlite3_bind_blob(s, 1, m->topic, (int)m->topic_len, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, m->qos);
    sqlite3_bind_int64(s, 3, m->expiry_ns);
    sqlite3_bind_blob(s, 4, m->props, (int)m->props_len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 5, m->payload, (int)m->payload_len, SQLITE_STATIC);
    int rc = mq__st_step_done(st, s);
    if (rc < 0)
        return rc;
    index_set(st, m->topic, m->topic_len, m->expiry_ns);
    mq__st_rnode_t *nd = trie_find(st->root, m->topic, m->topic_len, false);
    op->msg = NULL;
    cache_put(st, nd, m); /* a just-set message is hot: subscribers will want it */
    return 0;
}

int mq__st_ret_apply_clear(mq_store_t *st, mq__st_op_t *op)
{
    sqlite3_stmt *s = st->stmt[S_RET_DEL];
    sqlite3_bind_blob(s, 1, op->a, (int)op->alen, SQLITE_STATIC);
    int rc = mq__st_step_done(st, s);
    if (rc < 0)
        return rc;
    index_clear(st, op->a, op->alen);
    return 0;
}

int mq__st_ret_sweep(mq_store_t *st)
{
    int64_t now = mq__st_now(st);
    sqlite3_stmt *s = st->stmt[S_RET_EXPIRED];
    sqlite3_bind_int64(s, 1, now);
    int rc;
    uint64_t n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        index_clear(st, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));
        n++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return mq__st_sql_err(rc);
    if (n == 0)
        return 0;
    s = st->stmt[S_RET_DEL_EXPIRED];
    sqlite3_bind_int64(s, 1, now);
    rc = mq__st_step_done(st, s);
    if (rc == 0)
        atomic_fetch_add_explicit(&st->st_expired, n, memory_order_relaxed);
    return rc;
}

/* --------------------------------------------------------------- match */

typedef struct match {
    mq_store_t *st;
    mq__st_op_t *op;
    int64_t now;
    cn_buf_t topic;
    mq_store_msg_t *out[MATCH_CHUNK];
    size_t n;
    int rc;
} match_t;

static void flush_out(match_t *m, bool last)
{
    m->op->cb(m->op->cb_arg, m->out, m->n, last);
    m->n = 0;
}

static mq_store_msg_t *read_msg(match_t *m, mq__st_rnode_t *nd)
{
    mq_store_t *st = m->st;
    node_topic(nd, &m->topic);
    sqlite3_stmt *s = st->stmt[S_RET_GET];
    sqlite3_bind_blob(s, 1, m->topic.p, (int)m->topic.len, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    mq_store_msg_t *msg = NULL;
    if (rc == SQLITE_ROW) {
        msg = mq__st_msg_new(st, (const char *)m->topic.p, m->topic.len, sqlite3_column_blob(s, 2),
                             (size_t)sqlite3_column_bytes(s, 2), sqlite3_column_blob(s, 3),
                             (size_t)sqlite3_column_bytes(s, 3), (uint8_t)sqlite3_column_int(s, 0),
                             sqlite3_column_int64(s, 1));
    } else if (rc != SQLITE_DONE) {
        m->rc = mq__st_sql_err(rc);
    } else {
        cn_error("store: retained index and table disagree on a topic");
        m->rc = CN_ECORRUPT;
    }
    sqlite3_reset(s);
    return msg;
}

static void emit(match_t *m, mq__st_rnode_t *nd)
{
    if (!(nd->flags & N_HAS) || m->rc < 0)
        return;
    int64_t exp = exp_get(m->st, nd);
    if (exp && exp <= m->now)
        return;
    mq_store_msg_t *msg;
    if (nd->cent) {
        msg = nd->cent->msg;
        mq_store_msg_ref(msg);
        lru_unlink(m->st, nd->cent);
        lru_push(m->st, nd->cent);
        atomic_fetch_add_explicit(&m->st->st_hits, 1, memory_order_relaxed);
    } else {
        msg = read_msg(m, nd);
        if (!msg)
            return;
        atomic_fetch_add_explicit(&m->st->st_misses, 1, memory_order_relaxed);
        mq_store_msg_ref(msg);
        cache_put(m->st, nd, msg);
    }
    m->out[m->n++] = msg;
    if (m->n == MATCH_CHUNK)
        flush_out(m, false);
}

static bool skip_dollar(const mq__st_rnode_t *nd, const mq__st_rnode_t *kid)
{
    return !nd->parent && kid->nlen > 0 && kid->name[0] == '$';
}

/* Emits nd's whole subtree, nd included (iterative: topics may be deep). */
static void emit_subtree(match_t *m, mq__st_rnode_t *top)
{
    cn_buf_t stack;
    cn_buf_init(&stack);
    cn_buf_put(&stack, &top, sizeof(top));
    while (stack.len && m->rc == 0) {
        mq__st_rnode_t *nd;
        stack.len -= sizeof(nd);
        memcpy(&nd, stack.p + stack.len, sizeof(nd));
        emit(m, nd);
        for (size_t i = 0, n = kid_slots(nd); i < n; i++) {
            mq__st_rnode_t *k = kid_at(nd, i);
            if (k && !skip_dollar(nd, k))
                cn_buf_put(&stack, &k, sizeof(k));
        }
    }
    cn_buf_free(&stack);
}

/* Walks the filter's levels from nd; f points at the current level. */
typedef struct frame {
    mq__st_rnode_t *nd;
    size_t off; /* offset of the level in the filter; SIZE_MAX = past the end */
} frame_t;

static void walk(match_t *m, const char *f, size_t flen)
{
    cn_buf_t stack;
    cn_buf_init(&stack);
    frame_t fr = {m->st->root, 0};
    cn_buf_put(&stack, &fr, sizeof(fr));
    while (stack.len && m->rc == 0) {
        stack.len -= sizeof(fr);
        memcpy(&fr, stack.p + stack.len, sizeof(fr));
        if (fr.off == SIZE_MAX) {
            emit(m, fr.nd);
            continue;
        }
        size_t j = fr.off;
        while (j < flen && f[j] != '/')
            j++;
        size_t next = j == flen ? SIZE_MAX : j + 1;
        const char *lvl = f + fr.off;
        size_t ln = j - fr.off;
        if (ln == 1 && lvl[0] == '#') {
            if (fr.nd->parent)
                emit(m, fr.nd); /* "a/#" matches "a" */
            for (size_t i = 0, n = kid_slots(fr.nd); i < n; i++) {
                mq__st_rnode_t *k = kid_at(fr.nd, i);
                if (k && !skip_dollar(fr.nd, k))
                    emit_subtree(m, k);
            }
        } else if (ln == 1 && lvl[0] == '+') {
            for (size_t i = 0, n = kid_slots(fr.nd); i < n; i++) {
                mq__st_rnode_t *k = kid_at(fr.nd, i);
                if (k && !skip_dollar(fr.nd, k)) {
                    frame_t nf = {k, next};
                    cn_buf_put(&stack, &nf, sizeof(nf));
                }
            }
        } else {
            mq__st_rnode_t *k = kid_get(fr.nd, lvl, ln);
            if (k) {
                frame_t nf = {k, next};
                cn_buf_put(&stack, &nf, sizeof(nf));
            }
        }
    }
    cn_buf_free(&stack);
}

int mq__st_ret_match(mq_store_t *st, mq__st_op_t *op)
{
    match_t *m = cn_calloc(1, sizeof(*m));
    m->st = st;
    m->op = op;
    m->now = mq__st_now(st);
    cn_buf_init(&m->topic);
    walk(m, op->a, op->alen);
    int rc = m->rc;
    if (rc < 0) {
        for (size_t i = 0; i < m->n; i++)
            mq_store_msg_unref(m->out[i]);
        m->n = 0;
    }
    flush_out(m, true);
    cn_buf_free(&m->topic);
    cn_free(m);
    return rc;
}

/* ------------------------------------------------------------- public API */

int64_t mq_store_retain_set(mq_store_t *st, const mq_store_retain_t *r)
{
    if (!r || !mq_router_topic_valid(r->topic, r->topic_len) || r->qos > 2 ||
        r->props_len > UINT32_MAX || r->payload_len > UINT32_MAX)
        return CN_EINVAL;
    mq__st_op_t *op;
    if (r->payload_len == 0) {
        op = mq__st_op_new(OP_RET_CLEAR, r->topic, r->topic_len, NULL, 0, NULL, 0, NULL, 0);
    } else {
        op = mq__st_op_new(OP_RET_SET, NULL, 0, NULL, 0, NULL, 0, NULL, 0);
        op->msg = mq__st_msg_new(st, r->topic, r->topic_len, r->props, r->props_len, r->payload,
                                 r->payload_len, r->qos, r->expiry_ns);
        op->bytes += mq__st_msg_bytes(op->msg);
    }
    return mq__st_enqueue(st, op);
}

int64_t mq_store_retain_match(mq_store_t *st, const char *filter, size_t len, mq_store_match_cb cb,
                              void *arg)
{
    if (!cb || !mq_router_filter_valid(filter, len) ||
        (len >= 7 && memcmp(filter, "$share/", 7) == 0))
        return CN_EINVAL;
    mq__st_op_t *op = mq__st_op_new(OP_RET_MATCH, filter, len, NULL, 0, NULL, 0, NULL, 0);
    op->cb = cb;
    op->cb_arg = arg;
    return mq__st_enqueue(st, op);
}

int64_t mq_store_sweep(mq_store_t *st)
{
    return mq__st_enqueue(st, mq__st_op_new(OP_SWEEP, NULL, 0, NULL, 0, NULL, 0, NULL, 0));
}

size_t mq_store_retain_count(const mq_store_t *st)
{
    return atomic_load_explicit(&((mq_store_t *)st)->ret_count, memory_order_relaxed);
}
