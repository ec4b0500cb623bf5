/* SPDX-License-Identifier: MIT */
/*
 * test_engine_concurrent.c - writers, readers, flushes and compactions at
 * the same time (run under the tsan preset in CI).  Two writer threads
 * append ascending points to their own series; a reader thread takes
 * snapshots and iterates every series; the main thread forces flushes and
 * compactions.  Invariants checked by the reader: within a snapshot each
 * series is strictly ascending and dense from its first point (writers
 * write ts = k for k = 0, 1, 2, ... with value k), and a later snapshot
 * never sees fewer points of a series than an earlier one.  At the end
 * every point is there.
 */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include "engine.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define WRITERS 2
#define POINTS  20000
#define BATCH   50
#define NSERIES (WRITERS * 4)

typedef struct shared {
    eng_db_t *db;
    atomic_int writers_done;
    atomic_int reader_started; /* writers wait for it: the reader's passes overlap them */
    atomic_int reader_rounds;
    int reader_errors;
    uint64_t last_count[NSERIES];
} shared_t;

typedef struct wargs {
    shared_t *sh;
    int id;
} wargs_t;

static void *writer(void *arg)
{
    wargs_t *wa = arg;
    char dev[4][16];
    for (int s = 0; s < 4; s++)
        snprintf(dev[s], sizeof dev[s], "w%d-s%d", wa->id, s);
    while (!atomic_load(&wa->sh->reader_started))
        sched_yield();
    for (int k = 0; k < POINTS; k += BATCH) {
        eng_point_t pts[BATCH];
        eng_tag_t tags[BATCH];
        eng_field_t fl[BATCH];
        for (int b = 0; b < BATCH; b++) {
            int p = k + b, s = p % 4;
            tags[b] = (eng_tag_t){"device_id", dev[s]};
            fl[b] = (eng_field_t){"v", ENG_T_INT, {.i = p / 4}};
            pts[b] = (eng_point_t){"m", &tags[b], 1, p / 4, &fl[b], 1};
        }
        eng_write_res_t res;
        uint64_t seq;
        int rc;
        while ((rc = eng_write(wa->sh->db, pts, BATCH, &res, &seq)) == CN_EFULL)
            assert_int_equal(eng_wait_writable(wa->sh->db), 0);
        assert_int_equal(rc, 0);
        assert_int_equal(res.fields_rejected, 0);
    }
    atomic_fetch_add(&wa->sh->writers_done, 1);
    return NULL;
}

/* One pass over all series of a snapshot; returns 0 or -1 on a violation. */
static int read_pass(shared_t *sh)
{
    eng_snap_t *s;
    assert_int_equal(eng_snap_open(sh->db, &s), 0);
    uint64_t *ids = NULL;
    int n = eng_snap_select(s, "m", NULL, 0, &ids);
    const eng_field_info_t *fi;
    int bad = 0;
    if (n > 0 && eng_snap_fields(s, "m", &fi) == 1) {
        uint32_t fid = fi[0].id;
        for (int i = 0; i < n; i++) {
            eng_iter_t *it;
            assert_int_equal(eng_iter_open(s, ids[i], &fid, 1, INT64_MIN, INT64_MAX, &it), 0);
            eng_batch_t b;
            int64_t expect = 0;
            int rc;
            while ((rc = eng_iter_next(it, &b)) == 1) {
                const int64_t *v = b.vals[0];
                for (uint32_t k = 0; k < b.n; k++, expect++)
                    if (b.ts[k] != expect || v[k] != expect || !b.valid[0][k])
                        bad = 1;
            }
            if (rc < 0)
                bad = 1;
            eng_iter_close(it);
            if (ids[i] <= NSERIES) {
                if ((uint64_t)expect < sh->last_count[ids[i] - 1])
                    bad = 1; /* a later snapshot lost points */
                sh->last_count[ids[i] - 1] = (uint64_t)expect;
            }
        }
    }
    cn_free(ids);
    eng_snap_close(s);
    return bad ? -1 : 0;
}

static void *reader(void *arg)
{
    shared_t *sh = arg;
    atomic_store(&sh->reader_started, 1);
    do { /* at least one pass, started before any write */
        if (read_pass(sh) < 0)
            sh->reader_errors++;
        atomic_fetch_add(&sh->reader_rounds, 1);
    } while (atomic_load(&sh->writers_done) < WRITERS);
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    char dir[] = "/tmp/cairn-conc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    eng_opts_t o;
    eng_opts_default(&o);
    o.dir = dir;
    o.durability = ENG_DUR_OS;
    o.memtable_bytes = 64 << 10; /* flushes happen during the run */
    o.block_rows = 256;
    shared_t sh = {0};
    assert_int_equal(eng_open(&o, &sh.db), 0);
    pthread_t w[WRITERS], r;
    wargs_t wa[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        wa[i] = (wargs_t){&sh, i};
        assert_int_equal(pthread_create(&w[i], NULL, writer, &wa[i]), 0);
    }
    assert_int_equal(pthread_create(&r, NULL, reader, &sh), 0);
    /* Flush and compact from this thread while the others run. */
    while (atomic_load(&sh.writers_done) < WRITERS) {
        assert_int_equal(eng_flush(sh.db), 0);
        assert_int_equal(eng_compact(sh.db), 0);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(w[i], NULL);
    pthread_join(r, NULL);
    assert_int_equal(sh.reader_errors, 0);
    assert_true(atomic_load(&sh.reader_rounds) > 0);
    /* Everything is there, before and after a final flush and compaction. */
    memset(sh.last_count, 0, sizeof sh.last_count);
    assert_int_equal(read_pass(&sh), 0);
    for (int i = 0; i < NSERIES; i++)
        assert_int_equal(sh.last_count[i], POINTS / 4);
    assert_int_equal(eng_flush(sh.db), 0);
    assert_int_equal(eng_compact(sh.db), 0);
    assert_int_equal(read_pass(&sh), 0);
    for (int i = 0; i < NSERIES; i++)
        assert_int_equal(sh.last_count[i], POINTS / 4);
    eng_close(sh.db);
    cn_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
