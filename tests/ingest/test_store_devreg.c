/* SPDX-License-Identifier: MIT */
/*
 * test_store_devreg.c - the device registry of the metadata store
 * (ingest/store/devreg.c): put/replace/delete, snapshot lookups and
 * listing order, snapshot lifetime across swaps (a held snapshot stays
 * valid and unchanged), persistence across reopen, argument checks, and
 * reader threads acquiring snapshots while the registry changes.
 */
#include "store_check.h"

static mq_store_tag_t tag(const char *k, const char *v)
{
    return (mq_store_tag_t){k, strlen(k), v, strlen(v)};
}

static int64_t put(sfx_t *f, const char *id, const mq_store_tag_t *t, size_t n)
{
    return mq_store_device_put(f->st, id, strlen(id), t, n);
}

static void expect_tags(const mq_devsnap_t *s, const char *id, const char *want)
{
    const mq_store_tag_t *t;
    int n = mq_devsnap_get(s, id, strlen(id), &t);
    if (!want) {
        assert_int_equal(n, CN_ENOTFOUND);
        return;
    }
    char got[256] = "";
    for (int i = 0; i < n; i++) {
        char one[80];
        snprintf(one, sizeof(one), "%s%s=%s", i ? "," : "", t[i].key, t[i].val);
        assert_int_equal(strlen(t[i].key), t[i].key_len);
        assert_int_equal(strlen(t[i].val), t[i].val_len);
        strcat(got, one);
    }
    assert_string_equal(got, want);
}

static void test_put_get_list(void **state)
{
    sfx_t *f = *state;
    sfx_open(f);
    mq_devsnap_t *s0 = mq_store_devices_acquire(f->st, NULL);
    assert_int_equal(mq_devsnap_count(s0), 0);
    expect_tags(s0, "d1", NULL);

    mq_store_tag_t t1[] = {tag("model", "X200"), tag("fleet", "north"), tag("empty", "")};
    mq_store_tag_t t2[] = {tag("fleet", "south")};
    put(f, "d1", t1, 3);
    put(f, "d2", t2, 1);
    sfx_sync(f, put(f, "d0", NULL, 0)); /* registered without tags */

    /* The held snapshot is unchanged; acquiring again gives the new one. */
    assert_int_equal(mq_devsnap_count(s0), 0);
    mq_devsnap_t *s1 = mq_store_devices_acquire(f->st, s0); /* releases s0 */
    assert_int_equal(mq_devsnap_count(s1), 3);
    expect_tags(s1, "d1", "empty=,fleet=north,model=X200"); /* keys in byte order */
    expect_tags(s1, "d2", "fleet=south");
    expect_tags(s1, "d0", "");
    expect_tags(s1, "d3", NULL);
    assert_ptr_equal(mq_store_devices_acquire(f->st, s1), s1); /* still current */

    const char *id;
    size_t idl;
    const mq_store_tag_t *t;
    assert_int_equal(mq_devsnap_at(s1, 0, &id, &idl, &t), 0);
    assert_string_equal(id, "d0");
    assert_int_equal(mq_devsnap_at(s1, 1, &id, &idl, &t), 3);
    assert_string_equal(id, "d1");
    assert_int_equal(idl, 2);
    assert_int_equal(mq_devsnap_at(s1, 2, &id, &idl, &t), 1);
    assert_string_equal(id, "d2");
    assert_int_equal(mq_devsnap_at(s1, 3, &id, &idl, &t), CN_EINVAL);

    /* Replace and delete. */
    mq_store_tag_t t3[] = {tag("model", "X300")};
    put(f, "d1", t3, 1);
    mq_store_device_del(f->st, "d2", 2);
    sfx_sync(f, mq_store_device_del(f->st, "nope", 4));
    mq_devsnap_t *s2 = mq_store_devices_acquire(f->st, NULL);
    expect_tags(s1, "d1", "empty=,fleet=north,model=X200"); /* old view intact */
    expect_tags(s2, "d1", "model=X300");
    expect_tags(s2, "d2", NULL);
    assert_int_equal(mq_devsnap_count(s2), 2);
    mq_devsnap_release(s1);

    /* Persistence. */
    sfx_reopen(f);
    mq_devsnap_t *s3 = mq_store_devices_acquire(f->st, NULL);
    assert_int_equal(mq_devsnap_count(s3), 2);
    expect_tags(s3, "d0", "");
    expect_tags(s3, "d1", "model=X300");
    mq_devsnap_release(s3);
    mq_devsnap_release(s2); /* outlives the store that made it */
    mq_devsnap_release(NULL);
}

static void test_bad_args(void **state)
{
    sfx_t *f = *state;
    sfx_open(f);
    char longid[300];
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = 0;
    mq_store_tag_t dup[] = {tag("a", "1"), tag("a", "2")};
    mq_store_tag_t nokey[] = {tag("", "1")};
    mq_store_tag_t longv[] = {tag("k", longid)};
    assert_int_equal(put(f, "", NULL, 0), CN_EINVAL);
    assert_int_equal(put(f, longid, NULL, 0), CN_EINVAL);
    assert_int_equal(put(f, "d", dup, 2), CN_EINVAL);
    assert_int_equal(put(f, "d", nokey, 1), CN_EINVAL);
    assert_int_equal(put(f, "d", longv, 1), CN_EINVAL);
    assert_int_equal(put(f, "d", NULL, 1), CN_EINVAL);
    assert_int_equal(put(f, "d", dup, MQ_DEV_TAGS + 1), CN_EINVAL);
    assert_int_equal(mq_store_device_del(f->st, "", 0), CN_EINVAL);
    /* Binary ids and values are kept as bytes. */
    mq_store_tag_t bin[] = {{"k\xff", 2, "v\x01", 2}};
    sfx_sync(f, mq_store_device_put(f->st, "\x01\x02", 2, bin, 1));
    mq_devsnap_t *s = mq_store_devices_acquire(f->st, NULL);
    const mq_store_tag_t *t;
    assert_int_equal(mq_devsnap_get(s, "\x01\x02", 2, &t), 1);
    assert_memory_equal(t[0].key, "k\xff", 2);
    assert_memory_equal(t[0].val, "v\x01", 2);
    mq_devsnap_release(s);
}

/* Readers keep acquiring and looking up while the registry changes. */
typedef struct rd_arg {
    sfx_t *f;
    atomic_bool *stop;
    long lookups;
} rd_arg_t;

static void *reader(void *p)
{
    rd_arg_t *a = p;
    mq_devsnap_t *s = NULL;
    while (!atomic_load(a->stop)) {
        s = mq_store_devices_acquire(a->f->st, s);
        const mq_store_tag_t *t;
        int n = mq_devsnap_get(s, "dev-7", 5, &t);
        if (n >= 0) {
            /* A device's tags are always a consistent set: gen=N, twice=N. */
            assert_int_equal(n, 2);
            assert_string_equal(t[0].val, t[1].val);
        }
        a->lookups++;
    }
    mq_devsnap_release(s);
    return NULL;
}

static void test_readers(void **state)
{
    sfx_t *f = *state;
    sfx_open(f);
    atomic_bool stop = false;
    pthread_t t[2];
    rd_arg_t a[2];
    for (int i = 0; i < 2; i++) {
        a[i] = (rd_arg_t){f, &stop, 0};
        assert_int_equal(pthread_create(&t[i], NULL, reader, &a[i]), 0);
    }
    int64_t seq = 0;
    char v[16];
    for (int g = 0; g < (SLOW_BUILD ? 50 : 300); g++) {
        snprintf(v, sizeof(v), "%d", g);
        mq_store_tag_t tags[] = {tag("gen", v), tag("twice", v)};
        char id[16];
        snprintf(id, sizeof(id), "dev-%d", g % 10);
        seq = g % 5 == 4 ? mq_store_device_del(f->st, id, strlen(id)) : put(f, id, tags, 2);
        assert_true(seq > 0);
        if (g % 10 == 0)
            sfx_sync(f, seq);
    }
    sfx_sync(f, seq);
    atomic_store(&stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    mq_devsnap_t *s = mq_store_devices_acquire(f->st, NULL);
    /* Last writes: g = N-10..N-1 for dev-0..9; g%5==4 deleted (dev-4, dev-9). */
    assert_int_equal(mq_devsnap_count(s), 8);
    mq_devsnap_release(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_list, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_args, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_readers, sfx_setup, sfx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
