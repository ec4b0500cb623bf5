/* SPDX-License-Identifier: MIT */
/*
 * test_memchunk.c - the memtable's chunks (engine/memtable.c): a full chunk
 * is put in time order and carries stats that eng_iter_peek_stats() offers
 * like a stored block's.  Checked by hand against expected rows: late rows
 * (concurrent writers), duplicates (last write wins per field, no stats
 * offered over them), deletes (no stats over rows a tombstone may hit), and
 * an iterator opened before a seal permutes the rows it reads, and a
 * max() reads only the overlapping chunks that may change it.
 * test_engine_model.c covers the same paths with random operations.
 */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define T0    1767225600000000000LL
#define STEP  1000000000LL
#define CHUNK 32
#define MAXR  256

typedef struct fixture {
    char dir[64];
    eng_db_t *db;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-test-mc-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    eng_opts_t o;
    eng_opts_default(&o);
    o.dir = f->dir;
    o.durability = ENG_DUR_OS;
    o.background = false;
    o.memtable_chunk_rows = CHUNK;
    assert_int_equal(eng_open(&o, &f->db), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    eng_close(f->db);
    cn_rmtree(f->dir);
    free(f);
    return 0;
}

/* Writes one row of dev-1 at slot k: i = v, and x = v / 4.0 unless only_i. */
static void put(eng_db_t *db, int k, int64_t v, bool only_i)
{
    eng_tag_t tag = {"device_id", "dev-1"};
    eng_field_t fl[2] = {{"i", ENG_T_INT, {.i = v}}, {"x", ENG_T_FLOAT, {.f = (double)v / 4.0}}};
    eng_point_t p = {"m", &tag, 1, T0 + k * STEP, fl, only_i ? 1u : 2u};
    eng_write_res_t res;
    uint64_t seq;
    assert_int_equal(eng_write(db, &p, 1, &res, &seq), 0);
    assert_int_equal(res.fields_ok, only_i ? 1 : 2);
}

/* The expected series: per slot, whether a row exists and its i / x. */
typedef struct want {
    bool has[MAXR], has_x[MAXR];
    int64_t i[MAXR];
    double x[MAXR];
} want_t;

static void want_put(want_t *w, int k, int64_t v, bool only_i)
{
    w->has[k] = true;
    w->i[k] = v;
    if (!only_i) {
        w->has_x[k] = true;
        w->x[k] = (double)v / 4.0;
    }
}

static void both_put(eng_db_t *db, want_t *w, int k, int64_t v, bool only_i)
{
    put(db, k, v, only_i);
    want_put(w, k, v, only_i);
}

typedef struct seen {
    uint32_t peeked;  /* blocks offered with stats */
    uint32_t skipped; /* of those, consumed through their stats */
} seen_t;

/* Reads dev-1 over [lo, hi) slots through it (skipping every offered block
 * when skip is set, after checking its stats) and compares with w. */
static void check_iter(eng_iter_t *it, const want_t *w, int lo, int hi, bool skip, seen_t *sn)
{
    int k = lo;
    for (;;) {
        eng_stat_t st[2];
        uint32_t rows;
        int pk = eng_iter_peek_stats(it, st, &rows);
        assert_true(pk == 0 || pk == 1);
        if (pk == 1) {
            sn->peeked++;
            /* the block is the next `rows` rows of w: exact stats */
            while (k < hi && !w->has[k])
                k++;
            int n = 0, first = -1, last = -1, cx = 0;
            int64_t sum = 0, mn = INT64_MAX, mx = INT64_MIN;
            double sx = 0;
            int j = k;
            for (; j < hi && n < (int)rows; j++) {
                if (!w->has[j])
                    continue;
                if (first < 0)
                    first = j;
                last = j;
                n++;
                sum += w->i[j];
                mn = w->i[j] < mn ? w->i[j] : mn;
                mx = w->i[j] > mx ? w->i[j] : mx;
                if (w->has_x[j]) {
                    sx += w->x[j];
                    cx++;
                }
            }
            assert_int_equal(n, rows);
            assert_int_equal(st[0].count, rows);
            assert_int_equal(st[0].tmin, T0 + first * STEP);
            assert_int_equal(st[0].tmax, T0 + last * STEP);
            assert_int_equal(st[0].first_ts, T0 + first * STEP);
            assert_int_equal(st[0].last_ts, T0 + last * STEP);
            assert_int_equal(st[0].sum_i, sum);
            assert_int_equal(st[0].min.i, mn);
            assert_int_equal(st[0].max.i, mx);
            assert_int_equal(st[0].first.i, w->i[first]);
            assert_int_equal(st[0].last.i, w->i[last]);
            assert_int_equal(st[1].count, cx);
            if (cx)
                assert_true(st[1].sum_f == sx);
            if (skip) {
                sn->skipped++;
                eng_iter_skip(it);
                k = j;
                continue;
            }
        }
        eng_batch_t b;
        int rc = eng_iter_next(it, &b);
        assert_true(rc >= 0);
        if (rc == 0)
            break;
        for (uint32_t r = 0; r < b.n; r++) {
            while (k < hi && !w->has[k])
                k++;
            assert_true(k < hi);
            assert_int_equal(b.ts[r], T0 + k * STEP);
            assert_true(b.valid[0][r]);
            assert_int_equal(((const int64_t *)b.vals[0])[r], w->i[k]);
            assert_int_equal(b.valid[1][r], w->has_x[k]);
            if (w->has_x[k])
                assert_true(((const double *)b.vals[1])[r] == w->x[k]);
            k++;
        }
    }
    while (k < hi && !w->has[k])
        k++;
    assert_int_equal(k, hi);
}

static uint64_t dev1(eng_snap_t *s)
{
    uint64_t *ids;
    assert_int_equal(eng_snap_select(s, "m", NULL, 0, &ids), 1);
    uint64_t sid = ids[0];
    cn_free(ids);
    return sid;
}

static void check_all(eng_db_t *db, const want_t *w, int lo, int hi, seen_t *sn)
{
    eng_snap_t *s;
    assert_int_equal(eng_snap_open(db, &s), 0);
    uint64_t sid = dev1(s);
    uint32_t fids[2] = {0, 1};
    for (int skip = 0; skip < 2; skip++) {
        eng_iter_t *it;
        assert_int_equal(eng_iter_open(s, sid, fids, 2, T0 + lo * STEP, T0 + hi * STEP, &it), 0);
        check_iter(it, w, lo, hi, skip, sn);
        eng_iter_close(it);
    }
    eng_snap_close(s);
}

/* Rows arrive in runs of 3 with neighbouring runs swapped (two writers):
 * every full chunk is sorted when sealed and offered with exact stats. */
static void test_late_rows(void **state)
{
    fixture_t *f = *state;
    want_t *w = calloc(1, sizeof *w);
    int order[96];
    for (int k = 0; k < 96; k++) {
        int run = k / 3, pos = k % 3;
        int swapped = run % 2 ? run - 1 : (run + 1 < 32 ? run + 1 : run);
        order[k] = swapped * 3 + pos;
    }
    for (int k = 0; k < 96; k++)
        both_put(f->db, w, order[k], 1000 + order[k] * 7 % 13, false);
    seen_t sn = {0};
    check_all(f->db, w, 0, 96, &sn);
    /* 96 rows in 32-row chunks (the newest 4 stay open at a seal): three
     * sealed chunks, each offered in both passes */
    assert_true(sn.peeked >= 6);
    assert_true(sn.skipped >= 3);
    /* a sub-range cuts chunks: the cut ones are read, not offered */
    seen_t sub = {0};
    check_all(f->db, w, 13, 70, &sub);
    assert_true(sub.peeked > 0 && sub.peeked < sn.peeked);
    /* after a flush the same answers come from stored blocks */
    assert_int_equal(eng_flush(f->db), 0);
    check_all(f->db, w, 0, 96, &sn);
    free(w);
}

/* Rewrites of a timestamp override the fields they carry (last write
 * wins), inside one chunk and across chunks; stats are never offered over
 * a chunk holding two rows of one timestamp, so every answer is exact. */
static void test_duplicates(void **state)
{
    fixture_t *f = *state;
    want_t *w = calloc(1, sizeof *w);
    for (int k = 0; k < 40; k++)
        both_put(f->db, w, k, k, false);
    /* inside the open chunk (rows 40..47 arrive next) */
    both_put(f->db, w, 41, 500, false);
    both_put(f->db, w, 41, 501, true); /* keeps x of 500 */
    /* a row of an already sealed chunk */
    both_put(f->db, w, 3, 900, true);
    for (int k = 42; k < 64; k++)
        both_put(f->db, w, k, k, false);
    /* late rewrite of a row sealed long ago, and a row written again with
     * the same value */
    both_put(f->db, w, 20, -5, false);
    both_put(f->db, w, 63, 63, false);
    /* later chunks overlap none of that: offered with stats */
    for (int k = 64; k < 192; k++)
        both_put(f->db, w, k, k % 17, k % 3 == 0);
    seen_t sn = {0};
    check_all(f->db, w, 0, 192, &sn);
    assert_true(sn.peeked > 0);
    assert_int_equal(eng_flush(f->db), 0);
    check_all(f->db, w, 0, 192, &sn);
    free(w);
}

/* A delete hides rows of sealed chunks: the chunks it overlaps are read
 * (tombstone applied), the others still offered. */
static void test_delete(void **state)
{
    fixture_t *f = *state;
    want_t *w = calloc(1, sizeof *w);
    for (int k = 0; k < 64; k++)
        both_put(f->db, w, k, 3 * k, false);
    uint64_t seq;
    assert_int_equal(eng_delete(f->db, "m", NULL, 0, T0 + 10 * STEP, T0 + 21 * STEP, &seq), 0);
    for (int k = 10; k < 21; k++)
        w->has[k] = w->has_x[k] = false;
    /* rows written after the delete inside its range stay */
    both_put(f->db, w, 12, 77, false);
    for (int k = 64; k < 160; k++)
        both_put(f->db, w, k, 3 * k, false);
    /* a delete that hits nothing written before it but covers later rows */
    assert_int_equal(eng_delete(f->db, "m", NULL, 0, T0 + 200 * STEP, T0 + 210 * STEP, &seq), 0);
    seen_t sn = {0};
    check_all(f->db, w, 0, 160, &sn);
    assert_true(sn.peeked > 0);
    /* sub-ranges starting inside the deleted span */
    check_all(f->db, w, 15, 100, &sn);
    assert_int_equal(eng_flush(f->db), 0);
    check_all(f->db, w, 0, 160, &sn);
    free(w);
}

/* An iterator (and a snapshot) opened while a chunk is open reads exactly
 * the rows it saw, after later writes sealed that chunk (permuting its rows
 * and moving the newest to the next chunk). */
static void test_seal_under_reader(void **state)
{
    fixture_t *f = *state;
    want_t *w = calloc(1, sizeof *w);
    int first[6] = {95, 93, 94, 90, 92, 91};
    for (int k = 0; k < 6; k++)
        both_put(f->db, w, first[k], 10 + first[k], false);
    want_t *before = calloc(1, sizeof *before);
    *before = *w;
    eng_snap_t *s;
    assert_int_equal(eng_snap_open(f->db, &s), 0);
    uint64_t sid = dev1(s);
    uint32_t fids[2] = {0, 1};
    eng_iter_t *it;
    assert_int_equal(eng_iter_open(s, sid, fids, 2, T0, T0 + 100 * STEP, &it), 0);
    /* seal that chunk: sorted, its first rows (the reader's) become the
     * newest and move to the next chunk; rewrite a row the reader saw */
    for (int k = 80; k > 46; k--)
        both_put(f->db, w, k, 100 + k, false);
    both_put(f->db, w, 92, 999, false);
    seen_t sn = {0};
    check_iter(it, before, 0, 100, false, &sn);
    eng_iter_close(it);
    /* a new iterator on the old snapshot: the same rows */
    assert_int_equal(eng_iter_open(s, sid, fids, 2, T0, T0 + 100 * STEP, &it), 0);
    check_iter(it, before, 0, 100, true, &sn);
    eng_iter_close(it);
    eng_snap_close(s);
    check_all(f->db, w, 0, 100, &sn);
    free(before);
    free(w);
}

/* Chunks whose spans overlap without sharing a timestamp (writers far
 * apart) are not read for a max() their stats rule out; a chunk that
 * rewrites a timestamp of an earlier one still is (memtable.c NOTES 6). */
static void test_extreme_overlap(void **state)
{
    fixture_t *f = *state;
    want_t *w = calloc(1, sizeof *w);
    /* A: even slots 0..54 (56..62 stay open at its seal); 1000 at 10 */
    for (int k = 0; k < 64; k += 2)
        both_put(f->db, w, k, k == 10 ? 1000 : k % 7, false);
    /* B: odd slots 1..55, inside A's span, no timestamp of A's */
    for (int k = 1; k < 56; k += 2)
        both_put(f->db, w, k, k % 5, false);
    /* C: slot 10 again (1 now), 56..62 and 100..122; 123..126 stay open */
    both_put(f->db, w, 10, 1, false);
    for (int k = 100; k < 127; k++)
        both_put(f->db, w, k, k % 7, false);
    eng_snap_t *s;
    assert_int_equal(eng_snap_open(f->db, &s), 0);
    uint64_t sid = dev1(s);
    uint32_t fids[2] = {0, 1};
    eng_iter_t *it;
    assert_int_equal(eng_iter_open(s, sid, fids, 2, T0, T0 + 130 * STEP, &it), 0);
    /* nothing beyond 100 is left: A holds 1000 by its stats, C rewrote it
     * and is read with A; B (28 rows) is not read */
    eng_value_t above = {.i = 100}, v;
    int64_t ts;
    uint32_t rows;
    assert_int_equal(eng_iter_group_extreme(it, 0, true, &above, &ts, &v, &rows), 0);
    assert_int_equal(rows, 56);
    /* the next group, the open chunk: 126 % 7 = 0 ... 125 % 7 = 6 */
    above.i = 5;
    assert_int_equal(eng_iter_group_extreme(it, 0, true, &above, &ts, &v, &rows), 1);
    assert_int_equal(rows, 4);
    assert_int_equal(v.i, 6);
    assert_int_equal(ts, T0 + 125 * STEP);
    eng_iter_close(it);
    eng_snap_close(s);
    seen_t sn = {0};
    check_all(f->db, w, 0, 130, &sn);
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_late_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seal_under_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extreme_overlap, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
