/* SPDX-License-Identifier: MIT */
/*
 * test_mtstats.c - a sealed memtable chunk's stats (engine/memtable.c,
 * chunk_seal) equal, bit for bit, what eng__rows_stats computes over the
 * chunk's rows read back in column form.  Rows that all repeat the series'
 * field set take a per-type path straight from the row buffer; rows with
 * differing fields take the column-form path.  Random rows cover NaN,
 * infinities, -0.0, int64 extremes (sum overflow), bools, strings, late
 * rows and duplicate timestamps.  A series past 64 KiB of rows (a mapped,
 * mremap-grown buffer) reads back whole.
 */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include "memtable.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 32
#define NF    5

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static double rnd_float(void)
{
    switch (rnd() % 10) {
    case 0:
        return NAN;
    case 1:
        return rnd() % 2 ? INFINITY : -INFINITY;
    case 2:
        return -0.0;
    case 3:
        return 0.0;
    default:
        return ((double)(int64_t)(rnd() % 2000001) - 1000000.0) / 7.0;
    }
}

static int64_t rnd_int(void)
{
    switch (rnd() % 6) {
    case 0:
        return INT64_MAX - (int64_t)(rnd() % 3);
    case 1:
        return INT64_MIN + (int64_t)(rnd() % 3);
    default:
        return (int64_t)(rnd() % 2001) - 1000;
    }
}

static const char *const STRS[] = {"a", "bb", "", "ccc"};

static void same_bits(const void *a, const void *b)
{
    assert_memory_equal(a, b, 8);
}

/* Every sealed chunk of sid: stats == eng__rows_stats over its rows. */
static uint32_t check_series(eng__mt_t *mt, uint64_t sid)
{
    eng__mtchunk_t *ch;
    uint32_t n = eng__mt_chunks(mt, sid, INT64_MIN, INT64_MAX, UINT64_MAX, &ch);
    uint32_t checked = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!ch[i].st)
            continue;
        eng__rows_t r;
        eng__rows_init(&r, ch[i].nst, ch[i].st_fids, ch[i].st_types);
        eng__mt_chunk_rows(&ch[i], INT64_MIN, INT64_MAX, UINT64_MAX, &r);
        assert_int_equal(r.n, ch[i].rows);
        for (uint32_t c = 0; c < ch[i].nst; c++) {
            const eng_stat_t *got = &ch[i].st[c];
            eng_stat_t want;
            eng__rows_stats(&r, c, 0, r.n, &want);
            assert_int_equal(got->count, want.count);
            assert_int_equal(got->tmin, want.tmin);
            assert_int_equal(got->tmax, want.tmax);
            if (want.count == 0)
                continue;
            assert_int_equal(got->first_ts, want.first_ts);
            assert_int_equal(got->last_ts, want.last_ts);
            switch (ch[i].st_types[c]) {
            case ENG_T_FLOAT:
                same_bits(&got->min.f, &want.min.f);
                same_bits(&got->max.f, &want.max.f);
                same_bits(&got->first.f, &want.first.f);
                same_bits(&got->last.f, &want.last.f);
                /* a NaN sum is NaN; its sign bit depends on which operand
                 * the compiler puts first (inf + -inf gives -NaN on x86),
                 * and answers print NaN either way */
                if (isnan(want.sum_f))
                    assert_true(isnan(got->sum_f));
                else
                    same_bits(&got->sum_f, &want.sum_f);
                break;
            case ENG_T_INT:
            case ENG_T_BOOL:
                assert_int_equal(got->min.i, want.min.i);
                assert_int_equal(got->max.i, want.max.i);
                assert_int_equal(got->first.i, want.first.i);
                assert_int_equal(got->last.i, want.last.i);
                assert_int_equal(got->sum_i, want.sum_i);
                assert_int_equal(got->sum_overflow, want.sum_overflow);
                break;
            default: {
                /* strings carry no values in stats */
                eng_value_t zero;
                memset(&zero, 0, sizeof zero);
                assert_memory_equal(&got->min, &zero, sizeof zero);
                assert_memory_equal(&got->max, &zero, sizeof zero);
                assert_memory_equal(&got->first, &zero, sizeof zero);
                assert_memory_equal(&got->last, &zero, sizeof zero);
                break;
            }
            }
        }
        eng__rows_free(&r);
        checked++;
    }
    free(ch);
    return checked;
}

/*
 * Series 1: every row holds the same NF fields (the per-type path).
 * Series 2: the same, but now and then a row leaves fields out, adds a
 * new one or lists them in another order (the column-form path).
 * Timestamps mostly ascend, with late rows and duplicates.
 */
static void run(uint64_t seed, bool sparse)
{
    rng_state = seed;
    eng__mt_t *mt = eng__mt_new(CHUNK);
    static const uint8_t types[NF] = {ENG_T_FLOAT, ENG_T_INT, ENG_T_BOOL, ENG_T_STRING,
                                      ENG_T_FLOAT};
    int64_t ts = 1000;
    uint64_t seq = 1;
    eng__mt_begin(mt);
    for (int row = 0; row < 40 * CHUNK; row++) {
        uint32_t fids[NF + 1];
        uint8_t ty[NF + 1];
        eng_value_t v[NF + 1];
        uint32_t nf = NF;
        for (uint32_t f = 0; f < NF; f++) {
            fids[f] = f;
            ty[f] = types[f];
        }
        if (sparse && rnd() % 8 == 0) {
            switch (rnd() % 3) {
            case 0:
                nf = 1 + (uint32_t)(rnd() % (NF - 1)); /* a prefix only */
                break;
            case 1: /* swap two fields */
                fids[0] = 4;
                fids[4] = 0;
                ty[0] = types[4];
                ty[4] = types[0];
                break;
            default: /* an extra field */
                fids[NF] = NF + (uint32_t)(rnd() % 2);
                ty[NF] = ENG_T_INT;
                nf = NF + 1;
                break;
            }
        }
        for (uint32_t f = 0; f < nf; f++) {
            switch (ty[f]) {
            case ENG_T_FLOAT:
                v[f].f = rnd_float();
                break;
            case ENG_T_INT:
                v[f].i = rnd_int();
                break;
            case ENG_T_BOOL:
                v[f].b = (uint8_t)(rnd() % 2);
                break;
            default: {
                const char *s = STRS[rnd() % 4];
                v[f].s.p = s;
                v[f].s.len = (uint32_t)strlen(s);
                break;
            }
            }
        }
        /* steps of 100; late rows fall between them, duplicates only in
         * every fourth stretch of rows (a chunk with one has no stats to
         * offer, so most chunks get none) */
        int64_t t = ts;
        uint64_t k = rnd() % 16;
        if (k == 0)
            t = ts - 50 - 100 * (int64_t)(rnd() % 40) + (int64_t)(rnd() % 2); /* late */
        else if (k == 1 && (row / CHUNK) % 4 == 0)
            t = ts - 100; /* duplicate of an earlier row */
        else
            ts += 100 * (1 + (int64_t)(rnd() % 3));
        eng__mt_put(mt, sparse ? 2 : 1, t, seq++, nf, fids, ty, v);
    }
    eng__mt_end(mt);
    assert_true(check_series(mt, sparse ? 2 : 1) >= 20);
    eng__mt_unref(mt);
}

static void test_uniform_rows(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++)
        run(seed * 7919, false);
}

static void test_mixed_rows(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++)
        run(seed * 104729, true);
}

/* A chunk whose rows all lack a field the series gained later still has a
 * stat for it: count 0, the chunk's times. */
static void test_field_added_later(void **state)
{
    (void)state;
    eng__mt_t *mt = eng__mt_new(CHUNK);
    eng__mt_begin(mt);
    for (int row = 0; row < 3 * CHUNK; row++) {
        uint32_t fids[2] = {0, 1};
        uint8_t ty[2] = {ENG_T_FLOAT, ENG_T_INT};
        eng_value_t v[2];
        v[0].f = row * 0.5;
        v[1].i = row;
        eng__mt_put(mt, 3, 100 + row, (uint64_t)row + 1, row < CHUNK + 10 ? 1 : 2, fids, ty, v);
    }
    eng__mt_end(mt);
    assert_true(check_series(mt, 3) >= 2);
    eng__mtchunk_t *ch;
    uint32_t n = eng__mt_chunks(mt, 3, INT64_MIN, INT64_MAX, UINT64_MAX, &ch);
    assert_true(n >= 3);
    /* the first chunk: 28 rows (CHUNK - CHUNK/8), field 0 only */
    assert_non_null(ch[0].st);
    assert_int_equal(ch[0].rows, CHUNK - CHUNK / 8);
    assert_int_equal(ch[0].nst, 1);
    assert_int_equal(ch[0].st[0].count, CHUNK - CHUNK / 8);
    assert_true(ch[0].st[0].sum_f == 0.5 * (27 * 28 / 2));
    /* the second holds rows 28..55; field 1 from row 42 on */
    assert_non_null(ch[1].st);
    assert_int_equal(ch[1].nst, 2);
    assert_int_equal(ch[1].st[0].count, 28);
    assert_int_equal(ch[1].st[1].count, 56 - 42);
    assert_int_equal(ch[1].st[1].first.i, 42);
    assert_int_equal(ch[1].st[1].first_ts, 142);
    assert_int_equal(ch[1].st[1].tmin, 128);
    free(ch);
    eng__mt_unref(mt);
}

/* A series whose buffer grows past 64 KiB (an anonymous mapping, grown
 * with mremap) keeps every row: all of them read back, in order, with the
 * right values, and its chunks' stats still match. */
static void test_big_series(void **state)
{
    (void)state;
    eng__mt_t *mt = eng__mt_new(CHUNK);
    enum { ROWS = 6000 };
    uint32_t fids[3] = {0, 1, 2};
    uint8_t ty[3] = {ENG_T_FLOAT, ENG_T_INT, ENG_T_STRING};
    eng__mt_begin(mt);
    for (int row = 0; row < ROWS; row++) {
        eng_value_t v[3];
        v[0].f = row * 0.25;
        v[1].i = -row;
        v[2].s.p = STRS[row % 4];
        v[2].s.len = (uint32_t)strlen(STRS[row % 4]);
        eng__mt_put(mt, 7, 1000 + row, (uint64_t)row + 1, 3, fids, ty, v);
    }
    eng__mt_end(mt);
    assert_true(eng__mt_bytes(mt) > 64 * 1024);
    assert_true(check_series(mt, 7) >= ROWS / CHUNK);
    eng__rows_t r;
    eng__rows_init(&r, 3, fids, ty);
    eng__mt_extract(mt, 7, INT64_MIN, INT64_MAX, UINT64_MAX, &r);
    assert_int_equal(r.n, ROWS);
    for (uint32_t i = 0; i < r.n; i++) {
        assert_int_equal(r.ts[i], 1000 + (int64_t)i);
        assert_true(((const double *)r.vals[0])[i] == i * 0.25);
        assert_int_equal(((const int64_t *)r.vals[1])[i], -(int64_t)i);
        const eng_str_t *str = &((const eng_str_t *)r.vals[2])[i];
        assert_int_equal(str->len, strlen(STRS[i % 4]));
        assert_memory_equal(str->p, STRS[i % 4], str->len);
        assert_true(r.valid[0][i] && r.valid[1][i] && r.valid[2][i]);
    }
    eng__rows_free(&r);
    eng__mt_unref(mt);
}

/*
 * eng__rows_sort_merge against a reference: rows laid out as several
 * ascending runs (blocks, sealed chunks) with late rows and duplicate
 * timestamps across and within runs (equal seq too: the later position
 * wins), in every fourth case no duplicates at all (the permutation
 * path), and in every eighth the runs alone, with and without repeated
 * timestamps (merge_runs and its fallback).  Per distinct ts the
 * reference takes, per column, the valid value of the greatest (seq,
 * position) and the greatest seq.
 */
static void test_sort_merge_runs(void **state)
{
    (void)state;
    uint32_t fids[2] = {0, 1};
    uint8_t ty[2] = {ENG_T_FLOAT, ENG_T_INT};
    for (int iter = 0; iter < 400; iter++) {
        rng_state = 0x9e3779b97f4a7c15ULL + (uint64_t)iter;
        uint32_t n = 1 + (uint32_t)(rnd() % 700);
        uint32_t nruns = 1 + (uint32_t)(rnd() % (iter % 3 == 0 ? 40 : 4));
        eng__rows_t r;
        eng__rows_init(&r, 2, fids, ty);
        eng__rows_reserve(&r, n);
        int64_t span = 1 + (int64_t)(rnd() % 400);
        for (uint32_t i = 0; i < n; i++) {
            /* run i * nruns / n: ascending from a random start */
            uint32_t run = (uint32_t)((uint64_t)i * nruns / n);
            uint32_t first = (uint32_t)(((uint64_t)run * n + nruns - 1) / nruns);
            int64_t base = (int64_t)((uint64_t)run * 7919 % (uint64_t)span);
            int64_t ts = base + (int64_t)(i - first) * (1 + (int64_t)(rnd() % 2));
            /* iter % 8 == 1 and 5: only the runs, no late rows (at most
             * 4 runs when iter % 3 != 0: merge_runs' path); 5 with
             * timestamps repeated across runs and, now and then, within
             * one (merge_runs must give up on both) */
            bool runs_only = iter % 8 == 1 || iter % 8 == 5;
            if (!runs_only && rnd() % 10 == 0) /* a late row */
                ts -= (int64_t)(rnd() % 50);
            if (iter % 8 == 5 && i > first && rnd() % 20 == 0)
                ts = r.ts[i - 1];
            if (iter % 8 == 1 || iter % 8 == 3) /* no two rows share a timestamp (n < 1024) */
                ts = ts * 1024 + (int64_t)i;
            r.ts[i] = ts;
            r.seq[i] = 1 + rnd() % 30;
            ((double *)r.vals[0])[i] = (double)i;
            ((int64_t *)r.vals[1])[i] = -(int64_t)i;
            r.valid[0][i] = rnd() % 4 != 0;
            r.valid[1][i] = rnd() % 3 != 0;
            r.n++;
        }
        /* the reference, by brute force over the input */
        int64_t *ets = malloc(n * sizeof *ets);
        uint32_t ne = 0;
        for (uint32_t i = 0; i < n; i++) {
            bool seen = false;
            for (uint32_t j = 0; j < ne && !seen; j++)
                seen = ets[j] == r.ts[i];
            if (!seen)
                ets[ne++] = r.ts[i];
        }
        for (uint32_t a = 1; a < ne; a++) /* insertion sort of distinct ts */
            for (uint32_t b = a; b > 0 && ets[b - 1] > ets[b]; b--) {
                int64_t t = ets[b];
                ets[b] = ets[b - 1];
                ets[b - 1] = t;
            }
        uint64_t *eseq = calloc(ne, sizeof *eseq);
        int64_t *win[2];
        uint64_t *wseq[2];
        for (int c = 0; c < 2; c++) {
            win[c] = malloc(ne * sizeof *win[c]);
            wseq[c] = calloc(ne, sizeof *wseq[c]);
            for (uint32_t e = 0; e < ne; e++)
                win[c][e] = -1;
        }
        for (uint32_t e = 0; e < ne; e++)
            for (uint32_t i = 0; i < n; i++) {
                if (r.ts[i] != ets[e])
                    continue;
                if (r.seq[i] > eseq[e])
                    eseq[e] = r.seq[i];
                for (int c = 0; c < 2; c++)
                    if (r.valid[c][i] && (win[c][e] < 0 || r.seq[i] >= wseq[c][e])) {
                        win[c][e] = i; /* a later position wins an equal seq */
                        wseq[c][e] = r.seq[i];
                    }
            }
        eng__rows_sort_merge(&r);
        assert_int_equal(r.n, ne);
        for (uint32_t e = 0; e < ne; e++) {
            assert_int_equal(r.ts[e], ets[e]);
            assert_int_equal(r.seq[e], eseq[e]);
            for (int c = 0; c < 2; c++) {
                assert_int_equal(r.valid[c][e], win[c][e] >= 0);
                if (win[c][e] < 0)
                    continue;
                if (c == 0)
                    assert_true(((const double *)r.vals[0])[e] == (double)win[0][e]);
                else
                    assert_int_equal(((const int64_t *)r.vals[1])[e], -win[1][e]);
            }
        }
        for (int c = 0; c < 2; c++) {
            free(win[c]);
            free(wseq[c]);
        }
        free(eseq);
        free(ets);
        eng__rows_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform_rows),
        cmocka_unit_test(test_mixed_rows),
        cmocka_unit_test(test_field_added_later),
        cmocka_unit_test(test_big_series),
        cmocka_unit_test(test_sort_merge_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
