/* SPDX-License-Identifier: MIT */
/*
 * test_store_retained.c - retained messages in the metadata store
 * (ingest/store/retained.c, store.c): set/clear/match with the MQTT 4.7
 * examples and the '$' rule, message fields and properties round trip,
 * persistence across reopen, expiry (lookups and sweep), the bounded
 * cache with shared references, argument checks, a seeded randomized
 * comparison against a brute-force matcher (including a reopen midway) and
 * concurrent callers.
 */
#include "store_check.h"

/* ------------------------------------------------------------ helpers */

static void expect_topics(sfx_t *f, const char *filter, const char *want)
{
    coll_t c;
    char got[4096];
    sfx_match(f, filter, &c);
    coll_topics(&c, got, sizeof(got));
    if (strcmp(got, want) != 0)
        fail_msg("filter %s: got [%s] want [%s]", filter, got, want);
    coll_free(&c);
}

/* Independent matcher: MQTT 4.7 applied level by level. */
static bool bf_match(const char *f, const char *t)
{
    if ((f[0] == '+' || f[0] == '#') && t[0] == '$')
        return false;
    for (;;) {
        size_t fl = strcspn(f, "/"), tl = strcspn(t, "/");
        if (fl == 1 && f[0] == '#')
            return true;
        if (!(fl == 1 && f[0] == '+') && (fl != tl || memcmp(f, t, fl) != 0))
            return false;
        f += fl;
        t += tl;
        if (!*f && !*t)
            return true;
        if (!*f)
            return false;
        if (!*t)
            return strcmp(f, "/#") == 0;
        f++;
        t++;
    }
}

/* ------------------------------------------------------------- tests */

static void test_spec_examples(void **state)
{
    sfx_t *f = *state;
    sfx_open(f);
    const char *topics[] = {"sport/tennis/player1",
                            "sport/tennis/player1/ranking",
                            "sport/tennis/player1/score/wimbledon",
                            "sport",
                            "sport/",
                            "/finance",
                            "$SYS/monitor/Clients",
                            "$SYS/broker/uptime",
                            "a//b"};
    int64_t seq = 0;
    for (size_t i = 0; i < CN_ARRAY_LEN(topics); i++)
        seq = sfx_retain(f, topics[i], "v", 0, 0);
    sfx_sync(f, seq);
    assert_int_equal(mq_store_retain_count(f->st), CN_ARRAY_LEN(topics));

    expect_topics(f, "sport/tennis/player1/#",
                  "sport/tennis/player1,sport/tennis/player1/ranking,"
                  "sport/tennis/player1/score/wimbledon");
    expect_topics(f, "sport/#",
                  "sport,sport/,sport/tennis/player1,sport/tennis/player1/ranking,"
                  "sport/tennis/player1/score/wimbledon");
    expect_topics(f, "sport/tennis/+", "sport/tennis/player1");
    expect_topics(f, "sport/+", "sport/");
    expect_topics(f, "+", "sport");
    expect_topics(f, "+/+", "/finance,sport/");
    expect_topics(f, "/+", "/finance");
    expect_topics(f, "#",
                  "/finance,a//b,sport,sport/,sport/tennis/player1,"
                  "sport/tennis/player1/ranking,sport/tennis/player1/score/wimbledon");
    /* The '$' rule: wildcards at the first level never match $ topics. */
    expect_topics(f, "+/monitor/Clients", "");
    expect_topics(f, "$SYS/#", "$SYS/broker/uptime,$SYS/monitor/Clients");
    expect_topics(f, "$SYS/monitor/+", "$SYS/monitor/Clients");
    expect_topics(f, "a/+/b", "a//b");
    expect_topics(f, "a/#", "a//b");
    expect_topics(f, "nothing/#", "");
    expect_topics(f, "sport/tennis/player1", "sport/tennis/player1");

    /* Clear with an empty payload; a second clear is a no-op. */
    sfx_retain(f, "sport/tennis/player1", "", 0, 0);
    sfx_retain(f, "sport/tennis/player1", "", 0, 0);
    sfx_sync(f, sfx_retain(f, "sport/", "", 0, 0));
    expect_topics(f, "sport/#",
                  "sport,sport/tennis/player1/ranking,"
                  "sport/tennis/player1/score/wimbledon");
    assert_int_equal(mq_store_retain_count(f->st), CN_ARRAY_LEN(topics) - 2);

    /* A set replaces; the match sees the latest payload. */
    sfx_retain(f, "sport", "v2", 1, 0);
    coll_t c;
    sfx_match(f, "sport", &c);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.v[0]->payload_len, 2);
    assert_memory_equal(c.v[0]->payload, "v2", 2);
    assert_int_equal(c.v[0]->qos, 1);
    coll_free(&c);
}

static void test_fields_roundtrip(void **state)
{
    sfx_t *f = *state;
    sfx_open(f);
    const uint8_t props[] = {0x03, 0x00, 0x04, 't', 'e', 'x', 't', 0x26, 0, 1, 'k', 0, 1, 'v'};
    const uint8_t payload[] = {0, 1, 2, 0xff, 0};
    int64_t exp = atomic_load(&f->now) + (int64_t)3600 * 1000000000;
    mq_store_retain_t r = {"dev/1/state",  11, 2, exp, props, sizeof(props), payload,
                           sizeof(payload)};
    sfx_sync(f, mq_store_retain_set(f->st, &r));
    for (int round = 0; round < 2; round++) {
        coll_t c;
        sfx_match(f, "dev/+/state", &c);
        assert_int_equal(c.n, 1);
        mq_store_msg_t *m = c.v[0];
        assert_int_equal(m->topic_len, 11);
        assert_memory_equal(m->topic, "dev/1/state", 11);
        assert_int_equal(m->qos, 2);
        assert_int_equal(m->expiry_ns, exp);
        assert_int_equal(m->props_len, sizeof(props));
        assert_memory_equal(m->props, props, sizeof(props));
        assert_int_equal(m->payload_len, sizeof(payload));
        assert_memory_equal(m->payload, payload, sizeof(payload));
        coll_free(&c);
        sfx_reopen(f); /* second round reads it back from SQLite */
    }
    mq_store_stats_t s;
    mq_store_stats(f->st, &s);
    assert_int_equal(s.cache_hits, 0);
    assert_int_equal(s.cache_misses, 0);
}

static void test_order_with_match(void **state)
{
    sfx_t *f = *state;
    sfx_open(f);
    /* Queued in order: a match sees exactly what was queued before it. */
    coll_t c1 = {0}, c2 = {0}, c3 = {0};
    pthread_mutex_init(&c1.mu, NULL);
    pthread_mutex_init(&c2.mu, NULL);
    pthread_mutex_init(&c3.mu, NULL);
    sfx_retain(f, "x/1", "a", 0, 0);
    mq_store_retain_match(f->st, "x/#", 3, coll_cb, &c1);
    sfx_retain(f, "x/2", "b", 0, 0);
    mq_store_retain_match(f->st, "x/#", 3, coll_cb, &c2);
    sfx_retain(f, "x/1", "", 0, 0);
    int64_t seq = mq_store_retain_match(f->st, "x/#", 3, coll_cb, &c3);
    sfx_sync(f, seq);
    assert_int_equal(c1.n, 1);
    assert_int_equal(c2.n, 2);
    assert_int_equal(c3.n, 1);
    assert_memory_equal(c3.v[0]->topic, "x/2", 3);
    coll_free(&c1);
    coll_free(&c2);
    coll_free(&c3);
}

static void test_expiry(void **state)
{
    sfx_t *f = *state;
    sfx_open(f);
    int64_t now = atomic_load(&f->now), s = 1000000000;
    sfx_retain(f, "e/short", "1", 0, now + 10 * s);
    sfx_retain(f, "e/long", "2", 0, now + 100 * s);
    sfx_sync(f, sfx_retain(f, "e/never", "3", 0, 0));
    expect_topics(f, "e/#", "e/long,e/never,e/short");
    atomic_store(&f->now, now + 10 * s); /* the deadline itself is expired */
    expect_topics(f, "e/#", "e/long,e/never");
    assert_int_equal(mq_store_retain_count(f->st), 3); /* not swept yet */
    sfx_sync(f, mq_store_sweep(f->st));
    assert_int_equal(mq_store_retain_count(f->st), 2);
    mq_store_stats_t st;
    mq_store_stats(f->st, &st);
    assert_int_equal(st.expired, 1);
    /* Opening sweeps too. */
    atomic_store(&f->now, now + 200 * s);
    sfx_reopen(f);
    assert_int_equal(mq_store_retain_count(f->st), 1);
    expect_topics(f, "#", "e/never");
}

/* Many deadlines: the expiry side table grows, shrinks and rehashes. */
static void test_expiry_many(void **state)
{
    sfx_t *f = *state;
    sfx_open(f);
    int64_t now = atomic_load(&f->now), s = 1000000000;
    char topic[32];
    int64_t seq = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(topic, sizeof(topic), "x/%d/%d", i % 7, i);
        /* Odd ones expire at now + i s, even ones never; every third is
         * then reset without a deadline, every fifth cleared. */
        seq = sfx_retain(f, topic, "v", 0, i % 2 ? now + i * s : 0);
        if (i % 3 == 0)
            seq = sfx_retain(f, topic, "w", 0, 0);
        if (i % 5 == 0)
            seq = sfx_retain(f, topic, "", 0, 0);
    }
    sfx_sync(f, seq);
    size_t live = 0, expiring = 0;
    for (int i = 0; i < 1000; i++) {
        if (i % 5 == 0)
            continue;
        live++;
        expiring += i % 2 && i % 3 != 0 && i >= 1 && i <= 500; /* due by now + 500 s */
    }
    assert_int_equal(mq_store_retain_count(f->st), live);
    atomic_store(&f->now, now + 500 * s);
    coll_t c;
    sfx_match(f, "x/#", &c);
    assert_int_equal(c.n, live - expiring);
    coll_free(&c);
    sfx_sync(f, mq_store_sweep(f->st));
    assert_int_equal(mq_store_retain_count(f->st), live - expiring);
    sfx_reopen(f);
    assert_int_equal(mq_store_retain_count(f->st), live - expiring);
    atomic_store(&f->now, now + 2000 * s);
    sfx_sync(f, mq_store_sweep(f->st));
    size_t forever = 0;
    for (int i = 0; i < 1000; i++)
        forever += i % 5 != 0 && (i % 2 == 0 || i % 3 == 0);
    assert_int_equal(mq_store_retain_count(f->st), forever);
    sfx_match(f, "+/+/+", &c);
    assert_int_equal(c.n, forever);
    coll_free(&c);
}

static void test_cache_bounded_shared(void **state)
{
    sfx_t *f = *state;
    f->o.cache_bytes = 4096;
    sfx_open(f);
    char topic[32], payload[200];
    int64_t seq = 0;
    for (int i = 0; i < 100; i++) {
        snprintf(topic, sizeof(topic), "c/%03d", i);
        memset(payload, 'a' + i % 26, sizeof(payload) - 1);
        payload[sizeof(payload) - 1] = 0;
        seq = sfx_retain(f, topic, payload, 1, 0);
    }
    sfx_sync(f, seq);
    mq_store_stats_t s;
    mq_store_stats(f->st, &s);
    assert_true(s.cache_bytes <= 4096);
    assert_true(s.cache_msgs > 0 && s.cache_msgs < 100);

    coll_t c;
    sfx_match(f, "c/#", &c);
    assert_int_equal(c.n, 100);
    for (int i = 0; i < 100; i++) {
        snprintf(topic, sizeof(topic), "c/%03d", i);
        assert_int_equal(c.v[i]->topic_len, 5);
        assert_memory_equal(c.v[i]->topic, topic, 5);
        assert_int_equal(c.v[i]->payload_len, 199);
        assert_int_equal(c.v[i]->payload[0], 'a' + i % 26);
        assert_int_equal(c.v[i]->payload[198], 'a' + i % 26);
    }
    coll_free(&c);
    mq_store_stats(f->st, &s);
    assert_true(s.cache_bytes <= 4096);
    assert_int_equal(s.cache_hits + s.cache_misses, 100);
    assert_true(s.cache_misses >= 100 - s.cache_msgs);

    /* A cached message is one object shared by every delivery. */
    coll_t a, b;
    sfx_match(f, "c/007", &a);
    sfx_match(f, "c/007", &b);
    assert_int_equal(a.n, 1);
    assert_int_equal(b.n, 1);
    assert_ptr_equal(a.v[0], b.v[0]);
    assert_int_equal(atomic_load(&a.v[0]->refs_), 3); /* cache + two deliveries */
    coll_free(&a);
    coll_free(&b);

    /* A message larger than the whole budget is delivered but not cached. */
    char *big = malloc(8192);
    memset(big, 'z', 8191);
    big[8191] = 0;
    sfx_retain(f, "big", big, 0, 0);
    free(big);
    sfx_match(f, "big", &a);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.v[0]->payload_len, 8191);
    assert_int_equal(atomic_load(&a.v[0]->refs_), 1);
    coll_free(&a);
    mq_store_stats(f->st, &s);
    assert_true(s.cache_bytes <= 4096);
}

/* Attachments: converted once, shared by later deliveries, freed once. */
static atomic_int ext_freed;

static void ext_free(void *ext)
{
    atomic_fetch_add(&ext_freed, 1);
    free(ext);
}

static void test_msg_ext(void **state)
{
    sfx_t *f = *state;
    atomic_store(&ext_freed, 0);
    f->o.msg_ext_free = ext_free;
    sfx_open(f);
    sfx_retain(f, "x/1", "a", 0, 0);
    coll_t a, b;
    sfx_match(f, "x/1", &a);
    assert_int_equal(a.n, 1);
    assert_null(mq_store_msg_ext(a.v[0]));
    int *mine = malloc(sizeof(int)), *late = malloc(sizeof(int));
    assert_ptr_equal(mq_store_msg_ext_set(a.v[0], mine, sizeof *mine), mine);
    sfx_match(f, "x/+", &b); /* the cached message: the attachment is there */
    assert_int_equal(b.n, 1);
    assert_ptr_equal(b.v[0], a.v[0]);
    assert_ptr_equal(mq_store_msg_ext(b.v[0]), mine);
    assert_ptr_equal(mq_store_msg_ext_set(b.v[0], late, sizeof *late), mine); /* the first one wins */
    free(late);
    assert_null(mq_store_msg_ext_set(b.v[0], NULL, 0));
    coll_free(&a);
    coll_free(&b);
    assert_int_equal(atomic_load(&ext_freed), 0); /* the cache still holds it */
    sfx_sync(f, sfx_retain(f, "x/1", "", 0, 0));  /* clear: the cache lets go */
    assert_int_equal(atomic_load(&ext_freed), 1);
    sfx_close(f);
    /* Without a destructor nothing can be attached. */
    f->o.msg_ext_free = NULL;
    sfx_open(f);
    sfx_retain(f, "y", "b", 0, 0);
    sfx_match(f, "y", &a);
    int dummy;
    assert_null(mq_store_msg_ext_set(a.v[0], &dummy, sizeof dummy));
    assert_null(mq_store_msg_ext(a.v[0]));
    coll_free(&a);
}

/* An attachment's bytes count against cache_bytes while its message
 * lives: the cache evicts to make room for them. */
static void test_msg_ext_budget(void **state)
{
    sfx_t *f = *state;
    atomic_store(&ext_freed, 0);
    f->o.msg_ext_free = ext_free;
    f->o.cache_bytes = 2048;
    sfx_open(f);
    sfx_retain(f, "e/1", "a", 0, 0);
    coll_t a, b, c;
    sfx_match(f, "e/1", &a); /* cached, and held by a */
    assert_int_equal(a.n, 1);
    assert_non_null(mq_store_msg_ext_set(a.v[0], malloc(8), 1900));
    sfx_retain(f, "e/2", "b", 0, 0);
    sfx_match(f, "e/2", &b); /* no room beside e/1 and its 1900 bytes */
    mq_store_stats_t st;
    mq_store_stats(f->st, &st);
    assert_int_equal(st.cache_msgs, 1);
    coll_free(&a); /* e/1 was evicted: this was its last reference */
    assert_int_equal(atomic_load(&ext_freed), 1);
    sfx_retain(f, "e/3", "c", 0, 0);
    sfx_match(f, "e/3", &c); /* the 1900 bytes are free again */
    mq_store_stats(f->st, &st);
    assert_int_equal(st.cache_msgs, 2);
    coll_free(&b);
    coll_free(&c);
}

static void test_bad_args(void **state)
{
    sfx_t *f = *state;
    sfx_open(f);
    coll_t c = {0};
    assert_int_equal(sfx_retain(f, "a/+", "x", 0, 0), CN_EINVAL);
    assert_int_equal(sfx_retain(f, "a/#", "x", 0, 0), CN_EINVAL);
    assert_int_equal(sfx_retain(f, "", "x", 0, 0), CN_EINVAL);
    assert_int_equal(sfx_retain(f, "a", "x", 3, 0), CN_EINVAL);
    assert_int_equal(mq_store_retain_match(f->st, "a/#/b", 5, coll_cb, &c), CN_EINVAL);
    assert_int_equal(mq_store_retain_match(f->st, "a+", 2, coll_cb, &c), CN_EINVAL);
    assert_int_equal(mq_store_retain_match(f->st, "", 0, coll_cb, &c), CN_EINVAL);
    assert_int_equal(mq_store_retain_match(f->st, "$share/g/a", 10, coll_cb, &c), CN_EINVAL);
    assert_int_equal(mq_store_retain_match(f->st, "a", 1, NULL, &c), CN_EINVAL);
    assert_int_equal(c.calls, 0);
    /* Sequence numbers are consecutive for accepted operations only. */
    int64_t s1 = sfx_retain(f, "a", "x", 0, 0);
    int64_t s2 = sfx_retain(f, "b", "x", 0, 0);
    assert_int_equal(s2, s1 + 1);
    sfx_sync(f, s2);
    assert_int_equal(mq_store_durable_seq(f->st), (uint64_t)s2);
    assert_int_equal(mq_store_sync(f->st, (uint64_t)s2 + 100), CN_EINVAL);
    /* A non-database file is refused. */
    sfx_close(f);
    FILE *fp = fopen(f->path, "w");
    fputs("this is not an sqlite database, not at all, definitely not", fp);
    fclose(fp);
    char wal[128];
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    unlink(wal);
    mq_store_t *st = NULL;
    assert_int_equal(mq_store_open(&f->o, &st), CN_ECORRUPT);
    assert_null(st);
    mq_store_opts_t o = f->o;
    o.path = NULL;
    assert_int_equal(mq_store_open(&o, &st), CN_EINVAL);
}

static void test_random_vs_bruteforce(void **state)
{
    sfx_t *f = *state;
    f->o.cache_bytes = 2048; /* mostly misses: exercise the SQLite path */
    sfx_open(f);
    static const char *lv[] = {"a", "b", "c", "", "$s", "dd"};
    static const char *fl[] = {"a", "b", "c", "", "$s", "dd", "+", "+"};
    enum { NT = 64, OPS = 600, FILTERS = 300 };
    char topics[NT][40];
    char value[NT][24];
    uint64_t seed = 42;
    for (int i = 0; i < NT; i++) {
        bool dup;
        do { /* distinct topics, so value[i] is the model of topics[i] */
            int depth = 1 + (int)(srnd(&seed) % 4);
            topics[i][0] = 0;
            for (int d = 0; d < depth; d++) {
                if (d)
                    strcat(topics[i], "/");
                strcat(topics[i], lv[srnd(&seed) % CN_ARRAY_LEN(lv)]);
            }
            dup = topics[i][0] == 0; /* "" is not a topic name */
            for (int j = 0; j < i; j++)
                dup |= strcmp(topics[i], topics[j]) == 0;
        } while (dup);
        value[i][0] = 0;
    }
    int64_t seq = 0;
    size_t total = 0;
    for (int round = 0; round < 2; round++) {
        for (int k = 0; k < OPS / 2; k++) {
            int i = (int)(srnd(&seed) % NT);
            if (srnd(&seed) % 4 == 0)
                value[i][0] = 0;
            else
                snprintf(value[i], sizeof(value[i]), "v%d.%d", round, k);
            seq = sfx_retain(f, topics[i], value[i], 0, 0);
            if (seq < 0)
                fail_msg("set %s: %s", topics[i], cn_strerror((int)seq));
        }
        sfx_sync(f, seq);
        if (round == 1)
            sfx_reopen(f);
        for (int k = 0; k < FILTERS; k++) {
            char filter[64] = "";
            int depth = 1 + (int)(srnd(&seed) % 4);
            for (int d = 0; d < depth; d++) {
                if (d)
                    strcat(filter, "/");
                strcat(filter, fl[srnd(&seed) % CN_ARRAY_LEN(fl)]);
            }
            if (srnd(&seed) % 3 == 0)
                strcat(filter, "/#");
            if (srnd(&seed) % 8 == 0)
                strcpy(filter, "#");
            if (!filter[0]) /* "" is not a filter */
                strcpy(filter, "+");
            coll_t c;
            sfx_match(f, filter, &c);
            size_t want = 0;
            for (int i = 0; i < NT; i++) {
                if (!value[i][0] || !bf_match(filter, topics[i]))
                    continue;
                want++;
                bool found = false;
                for (size_t g = 0; g < c.n; g++) {
                    if (c.v[g]->topic_len == strlen(topics[i]) &&
                        memcmp(c.v[g]->topic, topics[i], c.v[g]->topic_len) == 0) {
                        assert_false(found);
                        found = true;
                        assert_int_equal(c.v[g]->payload_len, strlen(value[i]));
                        assert_memory_equal(c.v[g]->payload, value[i], strlen(value[i]));
                    }
                }
                if (!found)
                    fail_msg("filter %s: missing %s", filter, topics[i]);
            }
            if (c.n != want)
                fail_msg("filter %s: got %zu messages, want %zu", filter, c.n, want);
            total += want;
            coll_free(&c);
        }
    }
    assert_true(total > 500); /* the filters are not all trivially empty */
}

/* Concurrent callers: 4 threads set, clear and match their own subtree. */
typedef struct thr_arg {
    sfx_t *f;
    int id;
    int64_t last;
} thr_arg_t;

static void *thr_main(void *p)
{
    thr_arg_t *a = p;
    char topic[32], val[16];
    coll_t c = {0};
    pthread_mutex_init(&c.mu, NULL);
    int n = SLOW_BUILD ? 300 : 2000;
    for (int i = 0; i < n; i++) {
        snprintf(topic, sizeof(topic), "t%d/%d", a->id, i % 50);
        snprintf(val, sizeof(val), "%d", i);
        int64_t s = sfx_retain(a->f, topic, i % 7 == 0 ? "" : val, 0, 0);
        assert_true(s > 0);
        if (i % 100 == 0) {
            snprintf(topic, sizeof(topic), "t%d/#", a->id);
            a->last = mq_store_retain_match(a->f->st, topic, strlen(topic), coll_cb, &c);
            assert_true(a->last > 0);
        }
    }
    a->last = mq_store_retain_match(a->f->st, "#", 1, coll_cb, &c);
    assert_int_equal(mq_store_sync(a->f->st, (uint64_t)a->last), 0);
    pthread_mutex_lock(&c.mu);
    assert_int_equal(c.lasts, n / 100 + 1);
    pthread_mutex_unlock(&c.mu);
    coll_free(&c);
    return NULL;
}

static void test_threads(void **state)
{
    sfx_t *f = *state;
    f->o.cache_bytes = 8192;
    sfx_open(f);
    pthread_t t[4];
    thr_arg_t a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (thr_arg_t){f, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, thr_main, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    /* Final state: topic i%50 holds the last i written to it. */
    int n = SLOW_BUILD ? 300 : 2000;
    sfx_reopen(f);
    for (int id = 0; id < 4; id++) {
        char filter[16];
        snprintf(filter, sizeof(filter), "t%d/+", id);
        coll_t c;
        sfx_match(f, filter, &c);
        size_t want = 0;
        for (int k = 0; k < 50; k++) {
            int last = n - 50 + k;
            if (last % 7 != 0)
                want++;
        }
        assert_int_equal(c.n, want);
        coll_free(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spec_examples, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_fields_roundtrip, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_order_with_match, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_expiry, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_expiry_many, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_cache_bounded_shared, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_msg_ext, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_msg_ext_budget, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_args, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_random_vs_bruteforce, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_threads, sfx_setup, sfx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
