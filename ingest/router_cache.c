/* SPDX-License-Identifier: MIT */
/*
 * router_cache.c - the route cache: a bounded map from a topic name to the
 * router's serialised match result for it, one instance per reader (so per
 * event-loop thread, with no locking of its own: the reader's mutex covers
 * it, see router.h).
 *
 * Layout: `slots` holds up to `cap` entries, each with one buffer that keeps
 * the blob followed by the topic bytes; `ix` is an open-addressing index
 * (linear probing, backward-shift deletion, twice as many positions as
 * slots) of slot numbers + 1.  Eviction is CLOCK: a hit sets the slot's
 * reference bit, the hand clears bits until it finds an unreferenced slot.
 * A slot's buffer only grows and is reused by the next topic that lands in
 * the slot, so a warm cache never allocates.
 *
 * NOTES
 * 1. A live slot is in `ix` exactly once; a dead slot is not in `ix`.
 * 2. `live` counts live slots; live <= cap.
 * 3. Blobs larger than MAX_BLOB are not cached (huge fan-outs gain little
 *    from the cache and would pin memory).
 */
#include "router.h"

#include <assert.h>

#define MAX_BLOB (64u * 1024u)

typedef struct slot {
    uint64_t h;
    uint8_t *buf; /* blob, then topic */
    uint32_t bcap;
    uint32_t blen;
    uint32_t tlen;
    uint8_t used; /* live */
    uint8_t ref;  /* CLOCK reference bit */
} slot_t;

struct mq__rcache {
    slot_t *slots;
    uint32_t cap;  /* slots, a power of two */
    uint32_t live; /* NOTES 2 */
    uint32_t hand; /* CLOCK hand */
    uint32_t *ix;  /* slot + 1, 0 = empty */
    uint32_t mask; /* ix positions - 1 */
};

mq__rcache_t *mq__rcache_new(uint32_t entries)
{
    uint32_t cap = 1;
    while (cap < entries)
        cap <<= 1;
    mq__rcache_t *c = cn_calloc(1, sizeof *c);
    c->slots = cn_calloc(cap, sizeof *c->slots);
    c->cap = cap;
    c->ix = cn_calloc((size_t)cap * 2, sizeof *c->ix);
    c->mask = cap * 2 - 1;
    return c;
}

void mq__rcache_free(mq__rcache_t *c)
{
    if (!c)
        return;
    for (uint32_t i = 0; i < c->cap; i++)
        cn_free(c->slots[i].buf);
    cn_free(c->slots);
    cn_free(c->ix);
    cn_free(c);
}

size_t mq__rcache_count(const mq__rcache_t *c)
{
    return c->live;
}

/* Index position holding topic, or UINT32_MAX. */
static uint32_t find(const mq__rcache_t *c, const char *topic, size_t len, uint64_t h)
{
    for (uint32_t i = (uint32_t)h & c->mask;; i = (i + 1) & c->mask) {
        uint32_t s = c->ix[i];
        if (s == 0)
            return UINT32_MAX;
        const slot_t *sl = &c->slots[s - 1];
        if (sl->h == h && sl->tlen == len && memcmp(sl->buf + sl->blen, topic, len) == 0)
            return i;
    }
}

/* Removes index position i (backward-shift deletion) and kills its slot. */
static void unindex(mq__rcache_t *c, uint32_t i)
{
    slot_t *dead = &c->slots[c->ix[i] - 1];
    dead->used = 0;
    dead->ref = 0;
    c->live--;
    for (uint32_t j = i;;) {
        j = (j + 1) & c->mask;
        if (c->ix[j] == 0)
            break;
        uint32_t home = (uint32_t)c->slots[c->ix[j] - 1].h & c->mask;
        /* Move j back to i unless its home lies cyclically in (i, j]. */
        bool stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            c->ix[i] = c->ix[j];
            i = j;
        }
    }
    c->ix[i] = 0;
}

const void *mq__rcache_get(mq__rcache_t *c, const char *topic, size_t len, uint64_t h, size_t *size)
{
    uint32_t i = find(c, topic, len, h);
    if (i == UINT32_MAX)
        return NULL;
    slot_t *sl = &c->slots[c->ix[i] - 1];
    sl->ref = 1;
    *size = sl->blen;
    return sl->buf;
}

/* A free slot, evicting the CLOCK victim if all are live. */
static uint32_t victim(mq__rcache_t *c)
{
    for (;;) {
        uint32_t s = c->hand;
        c->hand = (c->hand + 1) & (c->cap - 1);
        slot_t *sl = &c->slots[s];
        if (!sl->used)
            return s;
        if (sl->ref) {
            sl->ref = 0;
            continue;
        }
        uint32_t i = find(c, (const char *)sl->buf + sl->blen, sl->tlen, sl->h);
        assert(i != UINT32_MAX); /* NOTES 1 */
        unindex(c, i);
        return s;
    }
}

void mq__rcache_put(mq__rcache_t *c, const char *topic, size_t len, uint64_t h, const void *blob,
                    size_t size)
{
    if (size > MAX_BLOB || len > MAX_BLOB) /* NOTES 3 */
        return;
    uint32_t i = find(c, topic, len, h);
    if (i != UINT32_MAX)
        unindex(c, i);
    uint32_t s = victim(c);
    slot_t *sl = &c->slots[s];
    size_t need = size + len;
    if (need > sl->bcap) {
        sl->buf = cn_realloc(sl->buf, need);
        sl->bcap = (uint32_t)need;
    }
    memcpy(sl->buf, blob, size);
    memcpy(sl->buf + size, topic, len);
    sl->h = h;
    sl->blen = (uint32_t)size;
    sl->tlen = (uint32_t)len;
    sl->used = 1;
    sl->ref = 0;
    uint32_t p = (uint32_t)h & c->mask;
    while (c->ix[p] != 0)
        p = (p + 1) & c->mask;
    c->ix[p] = s + 1;
    c->live++;
    assert(c->live <= c->cap);
}

void mq__rcache_drop(mq__rcache_t *c, const char *topic, size_t len, uint64_t h)
{
    uint32_t i = find(c, topic, len, h);
    if (i != UINT32_MAX)
        unindex(c, i);
}

size_t mq__rcache_drop_matching(mq__rcache_t *c, const char *filter, size_t len)
{
    size_t n = 0;
    for (uint32_t s = 0; s < c->cap && c->live > 0; s++) {
        slot_t *sl = &c->slots[s];
        if (!sl->used)
            continue;
        const char *t = (const char *)sl->buf + sl->blen;
        if (!mq_router_topic_matches(filter, len, t, sl->tlen))
            continue;
        uint32_t i = find(c, t, sl->tlen, sl->h);
        assert(i != UINT32_MAX);
        unindex(c, i);
        n++;
    }
    return n;
}
