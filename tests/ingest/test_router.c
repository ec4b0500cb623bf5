/* SPDX-License-Identifier: MIT */
/*
 * test_router.c - tests for the topic router (ingest/router.c,
 * router_cache.c): the matching examples of the MQTT specification (section
 * 4.7), filter syntax, option merging and no-local, shared-subscription
 * round robin, unsubscribe and remove_subscriber, route-cache invalidation,
 * a seeded randomized comparison of the trie (with and without the cache)
 * against an independent brute-force matcher, and a multi-threaded stress
 * where readers match while a writer subscribes and unsubscribes.
 *
 * Nothing sleeps: the stress threads run fixed iteration counts and the
 * readers stop on an atomic flag set by the writer.
 */
#include "router.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

/* cmocka.h needs these first; keep clang-format from sorting them after it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SLOW_BUILD 1
#else
#define SLOW_BUILD 0
#endif

/* ------------------------------------------------------------- helpers */

typedef struct fx {
    mq_router_t *r;
    mq_router_reader_t *rd;  /* no cache */
    mq_router_reader_t *rdc; /* with a cache */
    mq_router_res_t res;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    assert_int_equal(mq_router_new(&f->r), 0);
    assert_int_equal(mq_router_reader_new(f->r, 0, &f->rd), 0);
    assert_int_equal(mq_router_reader_new(f->r, 64, &f->rdc), 0);
    mq_router_res_init(&f->res);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    mq_router_res_free(&f->res);
    mq_router_reader_free(f->rd);
    mq_router_reader_free(f->rdc);
    mq_router_free(f->r);
    free(f);
    return 0;
}

static mq_sub_opts_t qos(uint8_t q)
{
    return (mq_sub_opts_t){.qos = q};
}

static int sub(fx_t *f, uint64_t id, const char *filter, uint8_t q)
{
    mq_sub_opts_t o = qos(q);
    return mq_router_subscribe(f->r, id, filter, strlen(filter), &o);
}

static int subo(fx_t *f, uint64_t id, const char *filter, mq_sub_opts_t o)
{
    return mq_router_subscribe(f->r, id, filter, strlen(filter), &o);
}

static int unsub(fx_t *f, uint64_t id, const char *filter)
{
    return mq_router_unsubscribe(f->r, id, filter, strlen(filter));
}

static int match_rd(fx_t *f, mq_router_reader_t *rd, const char *topic, uint64_t pub)
{
    int n = mq_router_match(rd, topic, strlen(topic), pub, &f->res);
    assert_true(n >= 0);
    return n;
}

/* Matches through both readers, checks they agree (ignoring order), and
 * returns the number of routes, leaving the uncached result in f->res. */
static int match(fx_t *f, const char *topic)
{
    int nc = match_rd(f, f->rdc, topic, MQ_ROUTER_NOBODY);
    uint64_t seen[64];
    assert_true(nc <= 64);
    for (int i = 0; i < nc; i++)
        seen[i] = f->res.v[i].sub;
    int n = match_rd(f, f->rd, topic, MQ_ROUTER_NOBODY);
    assert_int_equal(n, nc);
    for (int i = 0; i < n; i++) {
        if (f->res.v[i].flags & MQ_ROUTE_SHARED)
            continue; /* round robin: each match picks the next member */
        bool found = false;
        for (int j = 0; j < nc; j++)
            found |= seen[j] == f->res.v[i].sub;
        assert_true(found);
    }
    return n;
}

static const mq_route_t *route_of(const mq_router_res_t *res, uint64_t id)
{
    const mq_route_t *hit = NULL;
    for (size_t i = 0; i < res->n; i++) {
        if (res->v[i].sub == id) {
            assert_null(hit); /* each subscriber once */
            hit = &res->v[i];
        }
    }
    return hit;
}

static bool has(fx_t *f, const char *topic, uint64_t id)
{
    match(f, topic);
    return route_of(&f->res, id) != NULL;
}

static bool route_has_id(const mq_router_res_t *res, const mq_route_t *rt, uint32_t sid)
{
    for (uint32_t i = 0; i < rt->nids; i++)
        if (res->ids[rt->ids_off + i] == sid)
            return true;
    return false;
}

/* ------------------------------------------------------ spec examples */

static void test_spec_multilevel(void **state)
{
    fx_t *f = *state;
    assert_int_equal(sub(f, 1, "sport/tennis/player1/#", 0), MQ_ROUTER_NEW);
    assert_true(has(f, "sport/tennis/player1", 1));
    assert_true(has(f, "sport/tennis/player1/ranking", 1));
    assert_true(has(f, "sport/tennis/player1/score/wimbledon", 1));
    assert_false(has(f, "sport/tennis/player2", 1));
    assert_false(has(f, "sport/tennis", 1));
    assert_int_equal(sub(f, 2, "sport/#", 0), MQ_ROUTER_NEW);
    assert_true(has(f, "sport", 2));
    assert_true(has(f, "sport/", 2));
    assert_int_equal(sub(f, 3, "#", 0), MQ_ROUTER_NEW);
    assert_true(has(f, "anything/at/all", 3));
    assert_true(has(f, "/", 3));
    assert_int_equal(match(f, "sport/tennis/player1"), 3);
}

static void test_spec_single_level(void **state)
{
    fx_t *f = *state;
    sub(f, 1, "sport/tennis/+", 0);
    assert_true(has(f, "sport/tennis/player1", 1));
    assert_true(has(f, "sport/tennis/player2", 1));
    assert_false(has(f, "sport/tennis/player1/ranking", 1));
    sub(f, 2, "sport/+", 0);
    assert_false(has(f, "sport", 2));
    assert_true(has(f, "sport/", 2));
    sub(f, 3, "+", 0);
    assert_true(has(f, "sport", 3));
    assert_false(has(f, "sport/x", 3));
    assert_false(has(f, "/finance", 3));
    sub(f, 4, "+/+", 0);
    sub(f, 5, "/+", 0);
    assert_true(has(f, "/finance", 4));
    assert_true(has(f, "/finance", 5));
    sub(f, 6, "+/tennis/#", 0);
    assert_true(has(f, "sport/tennis", 6));
    assert_true(has(f, "sport/tennis/x/y", 6));
    assert_false(has(f, "sport/golf", 6));
}

static void test_spec_dollar(void **state)
{
    fx_t *f = *state;
    sub(f, 1, "#", 0);
    sub(f, 2, "+/monitor/Clients", 0);
    sub(f, 3, "$SYS/#", 0);
    sub(f, 4, "$SYS/monitor/+", 0);
    sub(f, 5, "+", 0);
    sub(f, 6, "+/#", 0);
    assert_int_equal(match(f, "$SYS/monitor/Clients"), 2);
    assert_non_null(route_of(&f->res, 3));
    assert_non_null(route_of(&f->res, 4));
    assert_int_equal(match(f, "$SYS"), 1); /* "$SYS/#" matches its parent */
    assert_non_null(route_of(&f->res, 3));
    assert_int_equal(match(f, "$foo"), 0);
    /* '$' only matters as the topic's first character */
    assert_int_equal(match(f, "a/$SYS/monitor/Clients"), 2);
    assert_true(has(f, "x/monitor/Clients", 2));
}

static void test_empty_levels(void **state)
{
    fx_t *f = *state;
    sub(f, 1, "a//b", 0);
    sub(f, 2, "a/+/b", 0);
    sub(f, 3, "a/b", 0);
    sub(f, 4, "+/+/+", 0);
    sub(f, 5, "a/#", 0);
    sub(f, 6, "//", 0);
    assert_int_equal(match(f, "a//b"), 4);
    assert_null(route_of(&f->res, 3));
    assert_int_equal(match(f, "a/b"), 2);
    assert_non_null(route_of(&f->res, 3));
    assert_non_null(route_of(&f->res, 5));
    assert_int_equal(match(f, "//"), 2); /* "//" and "+/+/+" */
    assert_non_null(route_of(&f->res, 6));
    assert_non_null(route_of(&f->res, 4));
}

static void test_hash_parent(void **state)
{
    fx_t *f = *state;
    sub(f, 1, "a/#", 1);
    assert_int_equal(match(f, "a"), 1);
    assert_int_equal(match(f, "a/b/c"), 1);
    assert_int_equal(match(f, "ab"), 0);
    assert_int_equal(match(f, "b/a"), 0);
    sub(f, 2, "a/b/#", 1);
    assert_false(has(f, "a", 2));
    assert_true(has(f, "a/b", 2));
}

static void test_syntax(void **state)
{
    (void)state;
    static const char *good[] = {"#",          "+",     "a",   "/",      "a//b", "+/+",
                                 "a/+/b",      "a/#",   "+/#", "$SYS/#", "//#",  "$share/g/a/#",
                                 "$share/g/#", "$share"};
    static const char *bad[] = {"",          "a#",          "a/#/b",     "a+",      "+a/b",
                                "a/b#",      "#/a",         "$share/g",  "$share/", "$share//a",
                                "$share/g/", "$share/g+/a", "$share/#/a"};
    for (size_t i = 0; i < CN_ARRAY_LEN(good); i++)
        assert_true(mq_router_filter_valid(good[i], strlen(good[i])));
    for (size_t i = 0; i < CN_ARRAY_LEN(bad); i++)
        assert_false(mq_router_filter_valid(bad[i], strlen(bad[i])));
    assert_false(mq_router_filter_valid("a\0b", 3));
    assert_true(mq_router_topic_valid("a//b", 4));
    assert_true(mq_router_topic_valid("$SYS", 4));
    assert_false(mq_router_topic_valid("a/+", 3));
    assert_false(mq_router_topic_valid("#", 1));
    assert_false(mq_router_topic_valid("", 0));
}

static void test_bad_args(void **state)
{
    fx_t *f = *state;
    assert_int_equal(sub(f, 1, "a/#/b", 0), CN_EINVAL);
    assert_int_equal(sub(f, 1, "a", 3), CN_EINVAL);
    assert_int_equal(sub(f, MQ_ROUTER_NOBODY, "a", 0), CN_EINVAL);
    assert_int_equal(subo(f, 1, "a", (mq_sub_opts_t){.sub_id = MQ_SUB_ID_MAX + 1}), CN_EINVAL);
    assert_int_equal(subo(f, 1, "a", (mq_sub_opts_t){.retain_handling = 3}), CN_EINVAL);
    assert_int_equal(subo(f, 1, "$share/g/a", (mq_sub_opts_t){.no_local = true}), CN_EPROTO);
    assert_int_equal(unsub(f, 1, "a+"), CN_EINVAL);
    assert_int_equal(mq_router_match(f->rd, "", 0, MQ_ROUTER_NOBODY, &f->res), CN_EINVAL);
    assert_int_equal(mq_router_count(f->r), 0);
    /* a wildcard inside a topic name is literal, never a wildcard */
    sub(f, 2, "a/b", 0);
    assert_int_equal(match(f, "a/+"), 0);
    assert_int_equal(match(f, "#"), 0);
}

/* ------------------------------------------------------------ options */

static void test_merge_options(void **state)
{
    fx_t *f = *state;
    subo(f, 1, "a/+", (mq_sub_opts_t){.qos = 1, .sub_id = 5});
    subo(f, 1, "a/#", (mq_sub_opts_t){.qos = 2, .sub_id = 7});
    subo(f, 1, "a/b", (mq_sub_opts_t){.qos = 0, .retain_as_published = true});
    subo(f, 2, "a/b", (mq_sub_opts_t){.qos = 1, .sub_id = 9});
    assert_int_equal(mq_router_count(f->r), 4);
    assert_int_equal(match(f, "a/b"), 2);
    const mq_route_t *r1 = route_of(&f->res, 1);
    assert_int_equal(r1->qos, 2);
    assert_int_equal(r1->nids, 2);
    assert_true(route_has_id(&f->res, r1, 5));
    assert_true(route_has_id(&f->res, r1, 7));
    assert_true(r1->flags & MQ_ROUTE_RAP);
    const mq_route_t *r2 = route_of(&f->res, 2);
    assert_int_equal(r2->qos, 1);
    assert_int_equal(r2->nids, 1);
    assert_true(route_has_id(&f->res, r2, 9));
    assert_false(r2->flags & (MQ_ROUTE_RAP | MQ_ROUTE_SHARED));
    assert_int_equal(match(f, "a/c"), 1);
    r1 = route_of(&f->res, 1);
    assert_int_equal(r1->qos, 2);
    assert_false(r1->flags & MQ_ROUTE_RAP);
    assert_int_equal(match(f, "a"), 1);
    assert_int_equal(f->res.v[0].nids, 1);
    assert_int_equal(f->res.ids[f->res.v[0].ids_off], 7);
}

static void test_resubscribe_replaces(void **state)
{
    fx_t *f = *state;
    assert_int_equal(subo(f, 1, "a/+", (mq_sub_opts_t){.qos = 2, .sub_id = 3}), MQ_ROUTER_NEW);
    assert_int_equal(match(f, "a/x"), 1);
    assert_int_equal(f->res.v[0].qos, 2);
    assert_int_equal(subo(f, 1, "a/+", (mq_sub_opts_t){.qos = 0}), MQ_ROUTER_REPLACED);
    assert_int_equal(mq_router_count(f->r), 1);
    assert_int_equal(match(f, "a/x"), 1);
    assert_int_equal(f->res.v[0].qos, 0);
    assert_int_equal(f->res.v[0].nids, 0);
    /* the same filter shared is a different subscription */
    assert_int_equal(sub(f, 1, "$share/g/a/+", 1), MQ_ROUTER_NEW);
    assert_int_equal(sub(f, 1, "$share/g/a/+", 1), MQ_ROUTER_REPLACED);
    assert_int_equal(mq_router_count(f->r), 2);
}

static void test_no_local(void **state)
{
    fx_t *f = *state;
    subo(f, 1, "a/b", (mq_sub_opts_t){.qos = 2, .no_local = true, .sub_id = 3});
    subo(f, 1, "a/+", (mq_sub_opts_t){.qos = 1, .sub_id = 4});
    subo(f, 2, "a/b", (mq_sub_opts_t){.qos = 1, .no_local = true});
    for (int pass = 0; pass < 2; pass++) { /* the second pass hits the cache */
        mq_router_reader_t *rd = pass ? f->rdc : f->rd;
        for (int k = 0; k < 2; k++) {
            assert_int_equal(match_rd(f, rd, "a/b", 1), 2);
            const mq_route_t *r1 = route_of(&f->res, 1);
            assert_int_equal(r1->qos, 1);
            assert_int_equal(r1->nids, 1);
            assert_true(route_has_id(&f->res, r1, 4));
            assert_int_equal(match_rd(f, rd, "a/b", 7), 2);
            r1 = route_of(&f->res, 1);
            assert_int_equal(r1->qos, 2);
            assert_int_equal(r1->nids, 2);
            assert_int_equal(match_rd(f, rd, "a/b", 2), 1); /* 2 only has no-local */
            assert_null(route_of(&f->res, 2));
        }
    }
}

/* ------------------------------------------------------------- shared */

typedef struct online {
    uint64_t off[4];
    int noff;
} online_t;

static bool is_online(void *arg, uint64_t id)
{
    online_t *o = arg;
    for (int i = 0; i < o->noff; i++)
        if (o->off[i] == id)
            return false;
    return true;
}

static void count_shared(fx_t *f, mq_router_reader_t *rd, const char *topic, int rounds,
                         int *counts /* [10], by subscriber id */, int *plain)
{
    for (int k = 0; k < rounds; k++) {
        int n = match_rd(f, rd, topic, MQ_ROUTER_NOBODY);
        for (int i = 0; i < n; i++) {
            const mq_route_t *rt = &f->res.v[i];
            assert_true(rt->sub < 10);
            if (rt->flags & MQ_ROUTE_SHARED)
                counts[rt->sub]++;
            else
                (*plain)++;
        }
    }
}

static void test_shared_round_robin(void **state)
{
    fx_t *f = *state;
    for (uint64_t id = 1; id <= 3; id++)
        subo(f, id, "$share/g/s/+", (mq_sub_opts_t){.qos = 1, .sub_id = (uint32_t)id});
    for (uint64_t id = 4; id <= 5; id++)
        sub(f, id, "$share/h/s/#", 2);
    sub(f, 1, "$share/h/s/#", 0); /* 1 is in both groups */
    sub(f, 9, "s/x", 0);          /* non-shared: always delivered */
    assert_int_equal(mq_router_count(f->r), 7);
    for (int pass = 0; pass < 2; pass++) {
        int c[10] = {0}, plain = 0;
        count_shared(f, pass ? f->rdc : f->rd, "s/x", 6, c, &plain);
        assert_int_equal(plain, 6);
        /* g: 1,2,3 twice each; h: 1,4,5 twice each */
        assert_int_equal(c[1], 4);
        assert_int_equal(c[2], 2);
        assert_int_equal(c[3], 2);
        assert_int_equal(c[4], 2);
        assert_int_equal(c[5], 2);
    }
    assert_int_equal(match(f, "s/x"), 3);
    for (size_t i = 0; i < f->res.n; i++) {
        const mq_route_t *rt = &f->res.v[i];
        if (rt->sub == 2 || rt->sub == 3) {
            assert_int_equal(rt->qos, 1);
            assert_int_equal(rt->nids, 1);
            assert_int_equal(f->res.ids[rt->ids_off], rt->sub);
        }
    }
    /* skip offline members */
    online_t on = {{2, 3}, 2};
    mq_router_reader_set_online(f->rd, is_online, &on);
    int c[10] = {0}, plain = 0;
    count_shared(f, f->rd, "s/x", 6, c, &plain);
    assert_int_equal(c[1], 6 + 2);
    assert_int_equal(c[2] + c[3], 0);
    /* every member offline: the round-robin pick, flagged */
    on = (online_t){{1, 2, 3}, 3};
    match_rd(f, f->rd, "s/x", MQ_ROUTER_NOBODY);
    int offline = 0;
    for (size_t i = 0; i < f->res.n; i++)
        offline += (f->res.v[i].flags & MQ_ROUTE_OFFLINE) != 0;
    assert_int_equal(offline, 1);
    mq_router_reader_set_online(f->rd, NULL, NULL);
    /* leaving a group */
    assert_int_equal(unsub(f, 1, "$share/g/s/+"), 0);
    assert_int_equal(unsub(f, 1, "$share/g/s/+"), CN_ENOTFOUND);
    assert_int_equal(unsub(f, 1, "$share/zz/s/+"), CN_ENOTFOUND);
    memset(c, 0, sizeof c);
    count_shared(f, f->rdc, "s/x", 4, c, &plain);
    assert_int_equal(c[2], 2);
    assert_int_equal(c[3], 2);
}

/* ------------------------------------------------------ unsubscribe */

static void test_unsubscribe(void **state)
{
    fx_t *f = *state;
    sub(f, 1, "a/b/c", 0);
    sub(f, 1, "a/+/c", 0);
    sub(f, 2, "a/b/c", 0);
    assert_int_equal(unsub(f, 1, "a/b"), CN_ENOTFOUND);
    assert_int_equal(unsub(f, 3, "a/b/c"), CN_ENOTFOUND);
    assert_int_equal(unsub(f, 1, "a/b/c"), 0);
    assert_int_equal(unsub(f, 1, "a/b/c"), CN_ENOTFOUND);
    assert_int_equal(mq_router_count(f->r), 2);
    assert_int_equal(match(f, "a/b/c"), 2); /* 1 still via a/+/c */
    assert_int_equal(unsub(f, 1, "a/+/c"), 0);
    assert_int_equal(match(f, "a/b/c"), 1);
    assert_int_equal(unsub(f, 2, "a/b/c"), 0);
    assert_int_equal(match(f, "a/b/c"), 0);
    assert_int_equal(mq_router_count(f->r), 0);
    /* the pruned path can be rebuilt */
    sub(f, 2, "a/b/c", 0);
    assert_int_equal(match(f, "a/b/c"), 1);
}

static void test_remove_subscriber(void **state)
{
    fx_t *f = *state;
    sub(f, 1, "a/#", 0);
    sub(f, 1, "a/b", 1);
    sub(f, 1, "$share/g/a/b", 1);
    sub(f, 1, "x", 1);
    sub(f, 2, "a/b", 0);
    sub(f, 2, "$share/g/a/b", 0);
    assert_int_equal(match(f, "a/b"), 3);
    assert_int_equal(mq_router_remove_subscriber(f->r, 1), 4);
    assert_int_equal(mq_router_remove_subscriber(f->r, 1), 0);
    assert_int_equal(mq_router_count(f->r), 2);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(match(f, "a/b"), 2);
        for (size_t i = 0; i < f->res.n; i++)
            assert_int_equal(f->res.v[i].sub, 2);
    }
    assert_int_equal(match(f, "x"), 0);
    assert_int_equal(mq_router_remove_subscriber(f->r, 2), 2);
    assert_int_equal(mq_router_count(f->r), 0);
    assert_int_equal(match(f, "a/b"), 0);
}

static void test_many_siblings(void **state)
{
    fx_t *f = *state;
    char buf[64];
    for (int i = 0; i < 2000; i++) {
        snprintf(buf, sizeof buf, "d/%d/cmd", i);
        assert_int_equal(sub(f, (uint64_t)i, buf, 0), MQ_ROUTER_NEW);
    }
    for (int i = 0; i < 2000; i += 7) {
        snprintf(buf, sizeof buf, "d/%d/cmd", i);
        assert_int_equal(match(f, buf), 1);
        assert_int_equal(f->res.v[0].sub, (uint64_t)i);
    }
    for (int i = 0; i < 2000; i += 2) {
        snprintf(buf, sizeof buf, "d/%d/cmd", i);
        assert_int_equal(unsub(f, (uint64_t)i, buf), 0);
    }
    for (int i = 0; i < 2000; i++) {
        snprintf(buf, sizeof buf, "d/%d/cmd", i);
        assert_int_equal(match(f, buf), i % 2);
    }
    assert_int_equal(mq_router_count(f->r), 1000);
}

/* ------------------------------------------------------------- cache */

static void test_cache_invalidation(void **state)
{
    fx_t *f = *state;
    mq_router_reader_t *c = f->rdc;
    uint64_t hits, misses;
    /* subscribe after a cached miss: exact and wildcard filters */
    assert_int_equal(match_rd(f, c, "x/y", MQ_ROUTER_NOBODY), 0);
    assert_int_equal(match_rd(f, c, "x/y", MQ_ROUTER_NOBODY), 0);
    mq_router_reader_stats(c, &hits, &misses);
    assert_int_equal(hits, 1);
    assert_int_equal(misses, 1);
    sub(f, 1, "x/y", 0);
    assert_int_equal(match_rd(f, c, "x/y", MQ_ROUTER_NOBODY), 1);
    sub(f, 2, "x/+", 0);
    assert_int_equal(match_rd(f, c, "x/y", MQ_ROUTER_NOBODY), 2);
    sub(f, 3, "#", 0);
    assert_int_equal(match_rd(f, c, "x/y", MQ_ROUTER_NOBODY), 3);
    /* unrelated changes keep the entry */
    mq_router_reader_stats(c, &hits, &misses);
    sub(f, 4, "z/+", 0);
    sub(f, 4, "x/y/z", 0);
    assert_int_equal(match_rd(f, c, "x/y", MQ_ROUTER_NOBODY), 3);
    uint64_t hits2, misses2;
    mq_router_reader_stats(c, &hits2, &misses2);
    assert_int_equal(hits2, hits + 1);
    /* option changes */
    sub(f, 2, "x/+", 2);
    assert_int_equal(match_rd(f, c, "x/y", MQ_ROUTER_NOBODY), 3);
    assert_int_equal(route_of(&f->res, 2)->qos, 2);
    /* unsubscribe after a cached hit */
    unsub(f, 1, "x/y");
    assert_int_equal(match_rd(f, c, "x/y", MQ_ROUTER_NOBODY), 2);
    assert_null(route_of(&f->res, 1));
    unsub(f, 3, "#");
    assert_int_equal(match_rd(f, c, "x/y", MQ_ROUTER_NOBODY), 1);
    mq_router_remove_subscriber(f->r, 2);
    assert_int_equal(match_rd(f, c, "x/y", MQ_ROUTER_NOBODY), 0);
    /* shared groups: creation, a new member, deletion */
    sub(f, 5, "$share/g/x/#", 1);
    assert_int_equal(match_rd(f, c, "x/y", MQ_ROUTER_NOBODY), 1);
    assert_int_equal(f->res.v[0].sub, 5);
    sub(f, 6, "$share/g/x/#", 1);
    int c5 = 0, c6 = 0;
    for (int k = 0; k < 4; k++) {
        assert_int_equal(match_rd(f, c, "x/y", MQ_ROUTER_NOBODY), 1);
        c5 += f->res.v[0].sub == 5;
        c6 += f->res.v[0].sub == 6;
    }
    assert_int_equal(c5, 2);
    assert_int_equal(c6, 2);
    unsub(f, 5, "$share/g/x/#");
    mq_router_remove_subscriber(f->r, 6);
    assert_int_equal(match_rd(f, c, "x/y", MQ_ROUTER_NOBODY), 0);
    /* a '$' topic and a wildcard filter that must not drop it */
    sub(f, 7, "$SYS/x", 0);
    assert_int_equal(match_rd(f, c, "$SYS/x", MQ_ROUTER_NOBODY), 1);
    sub(f, 8, "#", 0);
    assert_int_equal(match_rd(f, c, "$SYS/x", MQ_ROUTER_NOBODY), 1);
}

static void test_cache_eviction(void **state)
{
    fx_t *f = *state;
    char buf[32];
    sub(f, 1, "t/+", 0);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 500; i++) { /* far more topics than the 64 entries */
            snprintf(buf, sizeof buf, "t/%d", i);
            assert_int_equal(match_rd(f, f->rdc, buf, MQ_ROUTER_NOBODY), 1);
            snprintf(buf, sizeof buf, "u/%d", i);
            assert_int_equal(match_rd(f, f->rdc, buf, MQ_ROUTER_NOBODY), 0);
        }
        sub(f, 2, "u/#", 0);
        for (int i = 0; i < 500; i += 3) {
            snprintf(buf, sizeof buf, "u/%d", i);
            assert_int_equal(match_rd(f, f->rdc, buf, MQ_ROUTER_NOBODY), 1);
        }
        unsub(f, 2, "u/#");
    }
}

/* ------------------------------------------------------ randomized */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static unsigned rnd(uint64_t *s, unsigned n)
{
    return (unsigned)(rng_next(s) % n);
}

/* Brute force, written independently of the router: split both into levels
 * first, then compare level by level. */
static int split(const char *s, const char *lv[], size_t len[], int max)
{
    int n = 0;
    const char *p = s;
    for (;;) {
        const char *e = strchr(p, '/');
        assert_true(n < max);
        lv[n] = p;
        len[n] = e ? (size_t)(e - p) : strlen(p);
        n++;
        if (!e)
            return n;
        p = e + 1;
    }
}

static bool brute_match(const char *filter, const char *topic)
{
    const char *fl[32], *tl[32];
    size_t fn[32], tn[32];
    int nf = split(filter, fl, fn, 32), nt = split(topic, tl, tn, 32);
    if (topic[0] == '$' && (filter[0] == '#' || filter[0] == '+'))
        return false;
    for (int i = 0; i < nf; i++) {
        bool hash = fn[i] == 1 && fl[i][0] == '#';
        if (hash)
            return true;
        if (i >= nt)
            return false;
        bool plus = fn[i] == 1 && fl[i][0] == '+';
        if (!plus && (fn[i] != tn[i] || memcmp(fl[i], tl[i], fn[i]) != 0))
            return false;
    }
    return nf == nt;
}

static const char *const WORDS[] = {"a", "b", "c", "", "dev", "$x", "telemetry"};

static void rand_name(uint64_t *s, char *out, size_t cap, bool filter)
{
    unsigned depth = 1 + rnd(s, 5);
    out[0] = '\0';
    for (unsigned i = 0; i < depth; i++) {
        const char *w = WORDS[rnd(s, CN_ARRAY_LEN(WORDS))];
        if (i > 0 && w[0] == '$')
            w = "x$"; /* '$' matters only first; keep it in other spots too */
        if (filter && rnd(s, 4) == 0)
            w = "+";
        if (filter && i == depth - 1 && rnd(s, 5) == 0)
            w = "#";
        if (i > 0)
            strncat(out, "/", cap - strlen(out) - 1);
        strncat(out, w, cap - strlen(out) - 1);
    }
    if (out[0] == '\0') /* one empty level: neither a valid filter nor topic */
        strcpy(out, "c");
}

typedef struct msub {
    uint64_t id;
    char filter[64];
    char group[4]; /* "" = non-shared */
    mq_sub_opts_t o;
    bool live;
} msub_t;

typedef struct model {
    msub_t *v;
    size_t n;
} model_t;

static msub_t *model_find(model_t *m, uint64_t id, const char *filter, const char *group)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].live && m->v[i].id == id && strcmp(m->v[i].filter, filter) == 0 &&
            strcmp(m->v[i].group, group) == 0)
            return &m->v[i];
    return NULL;
}

static void full_filter(const msub_t *s, char *out, size_t cap)
{
    if (s->group[0])
        snprintf(out, cap, "$share/%s/%s", s->group, s->filter);
    else
        snprintf(out, cap, "%s", s->filter);
}

/* The live subscriptions matching the topic that count for this publisher
 * (no-local), by brute force; returns how many indices went to hit[]. */
static size_t model_hits(const model_t *m, const char *topic, uint64_t pub, size_t *hit)
{
    size_t nhit = 0;
    for (size_t i = 0; i < m->n; i++) {
        const msub_t *s = &m->v[i];
        if (s->live && brute_match(s->filter, topic) &&
            !(s->id == pub && s->o.no_local && !s->group[0]))
            hit[nhit++] = i;
    }
    return nhit;
}

/* Checks one match result against the model's hits (subscriber ids are
 * below NIDS in the randomized test). */
#define NIDS 300
static void check_against_model(const model_t *m, const size_t *hit, size_t nhit,
                                const mq_router_res_t *res)
{
    int qmax[NIDS], nids[NIDS], seen[NIDS];
    bool present[NIDS] = {false};
    size_t expect_routes = 0, shared_routes = 0;
    for (size_t a = 0; a < nhit; a++) {
        const msub_t *s = &m->v[hit[a]];
        if (s->group[0]) { /* one route per distinct (group, filter) */
            bool first = true;
            for (size_t b = 0; b < a && first; b++) {
                const msub_t *t = &m->v[hit[b]];
                first = strcmp(t->group, s->group) != 0 || strcmp(t->filter, s->filter) != 0;
            }
            shared_routes += first;
            continue;
        }
        assert_true(s->id < NIDS);
        if (!present[s->id]) {
            present[s->id] = true;
            qmax[s->id] = nids[s->id] = seen[s->id] = 0;
            expect_routes++;
        }
        qmax[s->id] = s->o.qos > qmax[s->id] ? s->o.qos : qmax[s->id];
        nids[s->id] += s->o.sub_id != 0;
    }
    size_t got_shared = 0;
    for (size_t k = 0; k < res->n; k++) {
        const mq_route_t *rt = &res->v[k];
        if (rt->flags & MQ_ROUTE_SHARED) {
            got_shared++;
            continue;
        }
        assert_true(rt->sub < NIDS && present[rt->sub]);
        assert_int_equal(seen[rt->sub]++, 0);
        assert_int_equal(rt->qos, qmax[rt->sub]);
        assert_int_equal(rt->nids, nids[rt->sub]);
    }
    assert_int_equal(got_shared, shared_routes);
    assert_int_equal(res->n, expect_routes + shared_routes);
}

static void random_round(uint64_t seed)
{
    uint64_t s = seed;
    mq_router_t *r;
    mq_router_reader_t *plain, *cached;
    assert_int_equal(mq_router_new(&r), 0);
    assert_int_equal(mq_router_reader_new(r, 0, &plain), 0);
    assert_int_equal(mq_router_reader_new(r, 128, &cached), 0);
    mq_router_res_t res;
    mq_router_res_init(&res);
    const size_t nsubs = SLOW_BUILD ? 1500 : 3000, ntopics = SLOW_BUILD ? 500 : 1000;
    model_t m = {calloc(nsubs, sizeof(msub_t)), 0};
    size_t *hit = calloc(nsubs, sizeof *hit);
    char(*topics)[64] = calloc(ntopics, 64);
    for (size_t i = 0; i < ntopics; i++)
        rand_name(&s, topics[i], 64, false);
    char full[80];
    for (size_t i = 0; i < nsubs; i++) {
        msub_t *x = &m.v[m.n];
        memset(x, 0, sizeof *x); /* the slot may hold a replaced draw */
        x->id = rnd(&s, NIDS);
        rand_name(&s, x->filter, sizeof x->filter, true);
        if (rnd(&s, 10) == 0)
            snprintf(x->group, sizeof x->group, "g%u", rnd(&s, 3));
        x->o = (mq_sub_opts_t){.qos = (uint8_t)rnd(&s, 3),
                               .no_local = !x->group[0] && rnd(&s, 4) == 0,
                               .sub_id = rnd(&s, 2) ? 1 + rnd(&s, 1000) : 0};
        x->live = true;
        full_filter(x, full, sizeof full);
        msub_t *old = model_find(&m, x->id, x->filter, x->group);
        int rc = mq_router_subscribe(r, x->id, full, strlen(full), &x->o);
        assert_int_equal(rc, old ? MQ_ROUTER_REPLACED : MQ_ROUTER_NEW);
        if (old)
            old->o = x->o;
        else
            m.n++;
    }
    size_t live = m.n;
    for (int phase = 0; phase < 4; phase++) {
        assert_int_equal(mq_router_count(r), live);
        for (size_t t = 0; t < ntopics; t++) {
            uint64_t pub = rnd(&s, 2) ? rnd(&s, NIDS) : MQ_ROUTER_NOBODY;
            size_t nhit = model_hits(&m, topics[t], pub, hit);
            for (int k = 0; k < 3; k++) {
                mq_router_reader_t *rd = k == 0 ? plain : cached; /* cached twice: hit */
                int n = mq_router_match(rd, topics[t], strlen(topics[t]), pub, &res);
                assert_int_equal((size_t)n, res.n);
                check_against_model(&m, hit, nhit, &res);
            }
        }
        /* mutate: unsubscribe some, remove some subscribers, add new ones */
        for (size_t k = 0; k < m.n / 8; k++) {
            msub_t *x = &m.v[rnd(&s, (unsigned)m.n)];
            full_filter(x, full, sizeof full);
            int rc = mq_router_unsubscribe(r, x->id, full, strlen(full));
            assert_int_equal(rc, x->live ? 0 : CN_ENOTFOUND);
            live -= x->live;
            x->live = false;
        }
        for (int k = 0; k < 10; k++) {
            uint64_t id = rnd(&s, NIDS);
            int expect = 0;
            for (size_t i = 0; i < m.n; i++) {
                expect += m.v[i].live && m.v[i].id == id;
                m.v[i].live &= m.v[i].id != id;
            }
            assert_int_equal(mq_router_remove_subscriber(r, id), expect);
            live -= (size_t)expect;
        }
        for (size_t k = 0; k < m.n / 8; k++) {
            msub_t *x = &m.v[rnd(&s, (unsigned)m.n)];
            if (x->live || model_find(&m, x->id, x->filter, x->group))
                continue;
            full_filter(x, full, sizeof full);
            assert_int_equal(mq_router_subscribe(r, x->id, full, strlen(full), &x->o), 0);
            x->live = true;
            live++;
        }
    }
    uint64_t hits, misses;
    mq_router_reader_stats(cached, &hits, &misses);
    assert_true(hits >= ntopics * 4);
    free(topics);
    free(hit);
    free(m.v);
    mq_router_res_free(&res);
    mq_router_reader_free(plain);
    mq_router_reader_free(cached);
    mq_router_free(r);
}

static void test_randomized(void **state)
{
    (void)state;
    static const uint64_t seeds[] = {1, 2, 42, 0xdeadbeef, 20260101};
    for (size_t i = 0; i < CN_ARRAY_LEN(seeds); i++)
        random_round(seeds[i]);
}

/* ----------------------------------------------------------- threads */

#define STABLE   8
#define CHURN    64
#define NTOPICS  16
#define NREADERS 2

typedef struct stress {
    mq_router_t *r;
    atomic_bool done;
    atomic_long matches;
    char churn_filter[CHURN][32];
    char topics[NTOPICS][32];
} stress_t;

/* cmocka's asserts longjmp into the test: not from another thread. */
#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #x);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Stable subscribers 1..STABLE hold "t/#" at QoS 1 for the whole run;
 * churn subscriber 100 + j only ever uses churn_filter[j]. */
static void *reader_main(void *arg)
{
    stress_t *st = arg;
    mq_router_reader_t *rd;
    CHECK(mq_router_reader_new(st->r, 8, &rd) == 0);
    mq_router_res_t res;
    mq_router_res_init(&res);
    long n = 0;
    for (bool stop = false; !stop; n++) {
        stop = atomic_load(&st->done) && n >= 1000;
        const char *t = st->topics[n % NTOPICS];
        int got = mq_router_match(rd, t, strlen(t), MQ_ROUTER_NOBODY, &res);
        CHECK(got >= STABLE);
        int stable = 0;
        for (int i = 0; i < got; i++) {
            const mq_route_t *rt = &res.v[i];
            for (int j = 0; j < i; j++)
                CHECK(res.v[j].sub != rt->sub);
            if (rt->sub >= 1 && rt->sub <= STABLE) {
                stable++;
                CHECK(rt->qos >= 1);
                continue;
            }
            CHECK(rt->sub >= 100 && rt->sub < 100 + CHURN);
            CHECK(brute_match(st->churn_filter[rt->sub - 100], t));
        }
        CHECK(stable == STABLE);
    }
    atomic_fetch_add(&st->matches, n);
    mq_router_res_free(&res);
    mq_router_reader_free(rd);
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    stress_t st;
    memset(&st, 0, sizeof st);
    atomic_init(&st.done, false);
    atomic_init(&st.matches, 0);
    assert_int_equal(mq_router_new(&st.r), 0);
    for (int i = 0; i < NTOPICS; i++)
        snprintf(st.topics[i], sizeof st.topics[i], "t/%d/%s", i % 4, i % 2 ? "x" : "y");
    static const char *shapes[] = {"t/%/x", "t/%/+", "t/+/x", "t/#", "+/%/#", "t/%"};
    for (int j = 0; j < CHURN; j++) { /* '%' becomes the digit j % 4 */
        char *o = st.churn_filter[j];
        for (const char *p = shapes[j % 6]; *p; p++)
            *o++ = *p == '%' ? (char)('0' + j % 4) : *p;
        *o = '\0';
    }
    for (uint64_t id = 1; id <= STABLE; id++)
        assert_true(mq_router_subscribe(st.r, id, "t/#", 3, &(mq_sub_opts_t){.qos = 1}) >= 0);
    pthread_t th[NREADERS];
    for (int i = 0; i < NREADERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader_main, &st), 0);
    uint64_t s = 7;
    bool on[CHURN] = {0};
    const int iters = SLOW_BUILD ? 3000 : 20000;
    for (int k = 0; k < iters; k++) {
        int j = (int)rnd(&s, CHURN);
        const char *f = st.churn_filter[j];
        uint64_t id = 100 + (uint64_t)j;
        if (rnd(&s, 16) == 0) {
            assert_int_equal(mq_router_remove_subscriber(st.r, id), on[j] ? 1 : 0);
            on[j] = false;
        } else if (on[j]) {
            assert_int_equal(mq_router_unsubscribe(st.r, id, f, strlen(f)), 0);
            on[j] = false;
        } else {
            mq_sub_opts_t o = {.qos = (uint8_t)rnd(&s, 3)};
            assert_int_equal(mq_router_subscribe(st.r, id, f, strlen(f), &o), MQ_ROUTER_NEW);
            on[j] = true;
        }
        /* a stable subscriber re-subscribes: replaced, never missing */
        if (k % 64 == 0)
            assert_int_equal(mq_router_subscribe(st.r, 1, "t/#", 3, &(mq_sub_opts_t){.qos = 2}),
                             MQ_ROUTER_REPLACED);
    }
    atomic_store(&st.done, true);
    for (int i = 0; i < NREADERS; i++)
        pthread_join(th[i], NULL);
    assert_true(atomic_load(&st.matches) >= NREADERS * 1000);
    /* the final state, through a fresh cached reader */
    mq_router_reader_t *rd;
    assert_int_equal(mq_router_reader_new(st.r, 8, &rd), 0);
    mq_router_res_t res;
    mq_router_res_init(&res);
    size_t live = STABLE;
    for (int j = 0; j < CHURN; j++)
        live += on[j];
    assert_int_equal(mq_router_count(st.r), live);
    for (int i = 0; i < NTOPICS; i++) {
        int expect = STABLE;
        for (int j = 0; j < CHURN; j++)
            expect += on[j] && brute_match(st.churn_filter[j], st.topics[i]);
        const char *t = st.topics[i];
        assert_int_equal(mq_router_match(rd, t, strlen(t), MQ_ROUTER_NOBODY, &res), expect);
    }
    mq_router_res_free(&res);
    mq_router_reader_free(rd);
    mq_router_free(st.r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spec_multilevel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spec_single_level, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spec_dollar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_parent, setup, teardown),
        cmocka_unit_test(test_syntax),
        cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resubscribe_replaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_local, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_round_robin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsubscribe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_subscriber, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_siblings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_invalidation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_eviction, setup, teardown),
        cmocka_unit_test(test_randomized),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
