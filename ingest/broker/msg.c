/* SPDX-License-Identifier: MIT */
/*
 * msg.c - published messages (one refcounted copy shared by every
 * subscriber, queue and the retained store), the loop-local u64 map, and
 * the retained-message store.
 *
 * NOTES
 *  1. A message is one allocation: header, topic bytes, then a copy of the
 *     PUBLISH body; mq_publish_rebase moves the decoded pointers into it.
 *  2. The retained store is a hash table under one mutex, shared by all
 *     loops.  Exact-topic subscribes are one lookup; a wildcard subscribe
 *     walks the table with the router's matcher.  The lock is held only to
 *     take references, never while sending.
 */
#include "broker_int.h"

#include <assert.h>
#include <stdlib.h>

/* ------------------------------------------------------------- messages */

mq_msg_t *mq__bk_msg_new(const uint8_t *topic, size_t tlen, const mq_publish_t *pub,
                         const uint8_t *body, size_t body_len, int64_t now_ns)
{
    mq_msg_t *m = cn_malloc(sizeof *m + tlen + body_len + 1);
    atomic_init(&m->ref, 1);
    m->qos = pub->qos;
    m->retain = pub->retain;
    m->publisher = MQ_ROUTER_NOBODY;
    m->size = sizeof *m + tlen + body_len;
    m->pub = *pub;
    memcpy(m->data, topic, tlen);
    m->data[tlen] = 0;
    uint8_t *copy = m->data + tlen + 1;
    if (body_len)
        memcpy(copy, body, body_len);
    if (body)
        mq_publish_rebase(&m->pub, body, body_len, copy);
    m->pub.topic = (mq_bin_t){m->data, tlen};
    m->pub.packet_id = 0;
    m->pub.dup = false;
    m->pub.props.has &= ~(MQ_HAS(MQ_P_TOPIC_ALIAS) | MQ_HAS(MQ_P_SUB_ID) | MQ_HAS(MQ_P_WILL_DELAY));
    m->pub.props.topic_alias = 0;
    m->pub.props.n_sub_id = 0;
    m->expire_at = 0;
    if (pub->props.has & MQ_HAS(MQ_P_MESSAGE_EXPIRY))
        m->expire_at = now_ns + (int64_t)pub->props.message_expiry * 1000000000LL;
    return m;
}

void mq__bk_msg_unref(mq_msg_t *m)
{
    if (m && atomic_fetch_sub_explicit(&m->ref, 1, memory_order_acq_rel) == 1)
        cn_free(m);
}

/* ------------------------------------------------------------------ map */

static size_t slot(const mq_map_t *m, uint64_t k)
{
    uint64_t h = k * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 7) & (m->cap - 1);
}

void *mq__bk_map_get(const mq_map_t *m, uint64_t k)
{
    if (!m->cap)
        return NULL;
    for (size_t i = slot(m, k);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == k)
            return m->vals[i];
        if (m->keys[i] == 0)
            return NULL;
    }
}

static void map_grow(mq_map_t *m)
{
    mq_map_t n = {0};
    n.cap = m->cap ? m->cap * 2 : 64;
    n.keys = cn_calloc(n.cap, sizeof *n.keys);
    n.vals = cn_calloc(n.cap, sizeof *n.vals);
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i])
            mq__bk_map_put(&n, m->keys[i], m->vals[i]);
    cn_free(m->keys);
    cn_free(m->vals);
    *m = n;
}

void mq__bk_map_put(mq_map_t *m, uint64_t k, void *v)
{
    assert(k != 0);
    if ((m->n + 1) * 4 >= m->cap * 3)
        map_grow(m);
    size_t i = slot(m, k);
    while (m->keys[i] && m->keys[i] != k)
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i])
        m->n++;
    m->keys[i] = k;
    m->vals[i] = v;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
void mq__bk_map_del(mq_map_t *m, uint64_t k)
{
    if (!m->cap)
        return;
    size_t i = slot(m, k);
    while (m->keys[i] != k) {
        if (!m->keys[i])
            return;
        i = (i + 1) & (m->cap - 1);
    }
    m->n--;
    for (size_t j = (i + 1) & (m->cap - 1); m->keys[j]; j = (j + 1) & (m->cap - 1)) {
        size_t want = slot(m, m->keys[j]);
        /* j's entry may move to i when i lies cyclically in [want, j). */
        bool move = (i <= j) ? (want <= i || want > j) : (want <= i && want > j);
        if (move) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->keys[i] = 0;
    m->vals[i] = NULL;
}

size_t mq__bk_objs(mq_loop_t *lp, bool conns, cn_buf_t *out)
{
    const mq_map_t *m = &lp->objs;
    out->len = 0;
    for (size_t i = 0; i < m->cap; i++) {
        uintptr_t v = (uintptr_t)m->vals[i];
        if (!m->keys[i] || (bool)(v & 1) != conns)
            continue;
        void *p = (void *)(v & ~(uintptr_t)1);
        cn_buf_put(out, &p, sizeof p);
    }
    return out->len / sizeof(void *);
}

void mq__bk_map_free(mq_map_t *m)
{
    cn_free(m->keys);
    cn_free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------- retained */

typedef struct rnode {
    struct rnode *next;
    uint64_t h;
    mq_msg_t *msg;
} rnode_t;

struct mq_retained {
    uv_mutex_t mu;
    rnode_t **tab;
    size_t cap, n;
};

mq_retained_t *mq__bk_ret_new(void)
{
    mq_retained_t *r = cn_calloc(1, sizeof *r);
    uv_mutex_init(&r->mu);
    r->cap = 1024;
    r->tab = cn_calloc(r->cap, sizeof *r->tab);
    return r;
}

void mq__bk_ret_free(mq_retained_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->cap; i++) {
        for (rnode_t *n = r->tab[i], *nx; n; n = nx) {
            nx = n->next;
            mq__bk_msg_unref(n->msg);
            cn_free(n);
        }
    }
    cn_free(r->tab);
    uv_mutex_destroy(&r->mu);
    cn_free(r);
}

static void ret_grow(mq_retained_t *r)
{
    size_t cap = r->cap * 2;
    rnode_t **tab = cn_calloc(cap, sizeof *tab);
    for (size_t i = 0; i < r->cap; i++) {
        for (rnode_t *n = r->tab[i], *nx; n; n = nx) {
            nx = n->next;
            n->next = tab[n->h & (cap - 1)];
            tab[n->h & (cap - 1)] = n;
        }
    }
    cn_free(r->tab);
    r->tab = tab;
    r->cap = cap;
}

void mq__bk_ret_set(mq_retained_t *r, mq_msg_t *m)
{
    const mq_bin_t t = m->pub.topic;
    uint64_t h = cn_hash64(t.p, t.len);
    bool clear = m->pub.payload.len == 0;
    mq_msg_t *old = NULL;
    uv_mutex_lock(&r->mu);
    rnode_t **pp = &r->tab[h & (r->cap - 1)];
    for (; *pp; pp = &(*pp)->next) {
        rnode_t *n = *pp;
        if (n->h == h && n->msg->pub.topic.len == t.len && !memcmp(n->msg->pub.topic.p, t.p, t.len))
            break;
    }
    if (*pp) {
        old = (*pp)->msg;
        if (clear) {
            rnode_t *n = *pp;
            *pp = n->next;
            cn_free(n);
            r->n--;
        } else {
            (*pp)->msg = mq__bk_msg_ref(m);
        }
    } else if (!clear) {
        rnode_t *n = cn_malloc(sizeof *n);
        n->h = h;
        n->msg = mq__bk_msg_ref(m);
        n->next = r->tab[h & (r->cap - 1)];
        r->tab[h & (r->cap - 1)] = n;
        if (++r->n > r->cap)
            ret_grow(r);
    }
    uv_mutex_unlock(&r->mu);
    mq__bk_msg_unref(old);
}

static bool has_wildcard(const char *f, size_t n)
{
    return memchr(f, '+', n) || memchr(f, '#', n);
}

size_t mq__bk_ret_match(mq_retained_t *r, const char *filter, size_t flen, cn_buf_t *out)
{
    size_t found = 0;
    uv_mutex_lock(&r->mu);
    if (!has_wildcard(filter, flen)) {
        uint64_t h = cn_hash64(filter, flen);
        for (rnode_t *n = r->tab[h & (r->cap - 1)]; n; n = n->next) {
            if (n->h == h && n->msg->pub.topic.len == flen &&
                !memcmp(n->msg->pub.topic.p, filter, flen)) {
                mq_msg_t *m = mq__bk_msg_ref(n->msg);
                cn_buf_put(out, &m, sizeof m);
                found++;
            }
        }
    } else if (r->n) {
        for (size_t i = 0; i < r->cap; i++) {
            for (rnode_t *n = r->tab[i]; n; n = n->next) {
                const mq_bin_t t = n->msg->pub.topic;
                if (!mq_router_topic_matches(filter, flen, (const char *)t.p, t.len))
                    continue;
                mq_msg_t *m = mq__bk_msg_ref(n->msg);
                cn_buf_put(out, &m, sizeof m);
                found++;
            }
        }
    }
    uv_mutex_unlock(&r->mu);
    return found;
}

size_t mq__bk_ret_count(mq_retained_t *r)
{
    uv_mutex_lock(&r->mu);
    size_t n = r->n;
    uv_mutex_unlock(&r->mu);
    return n;
}
