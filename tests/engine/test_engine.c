/* SPDX-License-Identifier: MIT */
/*
 * test_engine.c - end-to-end checks of the engine API: write, read back
 * from memtable, after flush, after compaction and after reopen; WAL
 * replay; type conflicts; stats pushdown; inspect.
 */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include "engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NDEV  20
#define NROWS 3000
#define T0    1767225600000000000LL
#define STEP  10000000000LL

typedef struct fixture {
    char dir[64];
    eng_db_t *db;
} fixture_t;

static eng_opts_t opts_for(const char *dir)
{
    eng_opts_t o;
    eng_opts_default(&o);
    o.dir = dir;
    o.durability = ENG_DUR_OS;
    o.background = false;
    o.block_rows = 1000;
    return o;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    eng_opts_t o = opts_for(f->dir);
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

static double temp_of(int d, int r)
{
    return 20.0 + d * 0.5 + (r % 37) * 0.01;
}

static void write_all(eng_db_t *db)
{
    char dev[32];
    for (int r = 0; r < NROWS; r++) {
        for (int d = 0; d < NDEV; d++) {
            snprintf(dev, sizeof dev, "dev-%06d", d);
            eng_tag_t tags[2] = {{"fleet", d % 2 ? "odd" : "even"}, {"device_id", dev}};
            eng_field_t fl[3] = {
                {"temperature", ENG_T_FLOAT, {.f = temp_of(d, r)}},
                {"rpm", ENG_T_INT, {.i = 1000 + r}},
                {"ok", ENG_T_BOOL, {.b = (uint8_t)(r % 3 == 0)}},
            };
            eng_point_t p = {"telemetry", tags, 2, T0 + (int64_t)r * STEP, fl, r % 5 ? 3u : 2u};
            eng_write_res_t res;
            uint64_t seq;
            assert_int_equal(eng_write(db, &p, 1, &res, &seq), 0);
            assert_int_equal(res.fields_rejected, 0);
            assert_true(seq > 0);
        }
    }
}

/* Sums temperature and rpm of all series by decoding. */
static void check_all(eng_db_t *db, bool use_stats)
{
    eng_snap_t *s;
    assert_int_equal(eng_snap_open(db, &s), 0);
    const eng_field_info_t *fi;
    size_t nf = eng_snap_fields(s, "telemetry", &fi);
    assert_int_equal(nf, 3);
    uint32_t fids[3] = {0, 1, 2};
    assert_string_equal(fi[0].name, "temperature");
    assert_int_equal(fi[1].type, ENG_T_INT);
    uint64_t *ids;
    int n = eng_snap_select(s, "telemetry", NULL, 0, &ids);
    assert_int_equal(n, NDEV);
    for (int i = 0; i < n; i++) {
        const eng_tag_t *tags;
        uint32_t nt;
        assert_int_equal(eng_snap_series_tags(s, ids[i], &tags, &nt), 0);
        assert_int_equal(nt, 2);
        assert_string_equal(tags[0].key, "device_id");
        int d = atoi(tags[0].val + 4);
        eng_iter_t *it;
        assert_int_equal(eng_iter_open(s, ids[i], fids, 3, INT64_MIN, INT64_MAX, &it), 0);
        int r = 0;
        int64_t rpm_sum = 0, expect_rpm = 0;
        uint32_t bools = 0;
        for (;;) {
            eng_stat_t st[3];
            uint32_t rows;
            if (use_stats && eng_iter_peek_stats(it, st, &rows) == 1) {
                assert_int_equal(st[1].count, rows);
                rpm_sum += st[1].sum_i;
                r += (int)rows;
                eng_iter_skip(it);
                continue;
            }
            eng_batch_t b;
            int rc = eng_iter_next(it, &b);
            assert_true(rc >= 0);
            if (rc == 0)
                break;
            const double *t = b.vals[0];
            const int64_t *rp = b.vals[1];
            const uint8_t *ok = b.vals[2];
            for (uint32_t k = 0; k < b.n; k++, r++) {
                assert_int_equal(b.ts[k], T0 + (int64_t)r * STEP);
                assert_true(b.valid[0][k]);
                assert_true(t[k] == temp_of(d, r));
                rpm_sum += rp[k];
                assert_int_equal(b.valid[2][k], r % 5 ? 1 : 0);
                if (b.valid[2][k]) {
                    assert_int_equal(ok[k], r % 3 == 0);
                    bools++;
                }
            }
        }
        for (int k = 0; k < NROWS; k++)
            expect_rpm += 1000 + k;
        assert_int_equal(r, NROWS);
        assert_int_equal(rpm_sum, expect_rpm);
        (void)bools;
        eng_iter_close(it);
    }
    cn_free(ids);
    eng_tag_pred_t pr = {"fleet", ENG_TAG_EQ, "odd", 0};
    n = eng_snap_select(s, "telemetry", &pr, 1, &ids);
    assert_int_equal(n, NDEV / 2);
    cn_free(ids);
    eng_tag_pred_t rx = {"device_id", ENG_TAG_REGEX, "^dev-00000[0-4]$", 0};
    n = eng_snap_select(s, "telemetry", &rx, 1, &ids);
    assert_int_equal(n, 5);
    cn_free(ids);
    eng_snap_close(s);
}

static void test_memtable_flush_compact_reopen(void **state)
{
    fixture_t *f = *state;
    write_all(f->db);
    check_all(f->db, false);
    assert_int_equal(eng_flush(f->db), 0);
    check_all(f->db, false);
    check_all(f->db, true);
    write_all(f->db); /* same points again: duplicates, last write wins */
    assert_int_equal(eng_flush(f->db), 0);
    check_all(f->db, false);
    assert_int_equal(eng_compact(f->db), 0);
    check_all(f->db, true);
    eng_stats_t st;
    eng_get_stats(f->db, &st);
    assert_int_equal(st.segments, 1);
    assert_int_equal(st.series, NDEV);
    eng_close(f->db);
    f->db = NULL;
    FILE *devnull = fopen("/dev/null", "w");
    assert_int_equal(eng_inspect(f->dir, true, devnull), 0);
    fclose(devnull);
    eng_opts_t o = opts_for(f->dir);
    assert_int_equal(eng_open(&o, &f->db), 0);
    check_all(f->db, true);
}

static void test_wal_replay(void **state)
{
    fixture_t *f = *state;
    write_all(f->db);
    uint64_t seq = eng_durable_seq(f->db);
    (void)seq;
    /* Reopen without flushing through the public API: close flushes, so
     * simulate a crash by copying the directory while open. */
    char cmd[256], copy[80];
    snprintf(copy, sizeof copy, "%s-copy", f->dir);
    eng_stats_t st;
    eng_get_stats(f->db, &st);
    assert_int_equal(st.segments, 0);
    uint64_t last;
    {
        eng_write_res_t res;
        eng_tag_t tag = {"device_id", "x"};
        eng_field_t fl = {"temperature", ENG_T_FLOAT, {.f = 1.5}};
        eng_point_t p = {"telemetry", &tag, 1, T0, &fl, 1};
        assert_int_equal(eng_write(f->db, &p, 1, &res, &last), 0);
        assert_int_equal(eng_wait_durable(f->db, last), 0);
    }
    snprintf(cmd, sizeof cmd, "cp -r %s %s", f->dir, copy);
    assert_int_equal(system(cmd), 0);
    eng_opts_t o = opts_for(copy);
    eng_db_t *db2;
    assert_int_equal(eng_open(&o, &db2), 0);
    eng_get_stats(db2, &st);
    assert_true(st.wal_replayed_records > 0);
    assert_int_equal(st.series, NDEV + 1);
    eng_close(db2);
    cn_rmtree(copy);
}

static void test_type_conflict(void **state)
{
    fixture_t *f = *state;
    eng_tag_t tag = {"device_id", "a"};
    eng_field_t f1[2] = {{"x", ENG_T_FLOAT, {.f = 1}}, {"y", ENG_T_INT, {.i = 2}}};
    eng_point_t p = {"m", &tag, 1, T0, f1, 2};
    eng_write_res_t res;
    uint64_t seq;
    assert_int_equal(eng_write(f->db, &p, 1, &res, &seq), 0);
    eng_field_t f2[2] = {{"x", ENG_T_INT, {.i = 5}}, {"y", ENG_T_INT, {.i = 3}}};
    p.fields = f2;
    p.ts = T0 + 1;
    assert_int_equal(eng_write(f->db, &p, 1, &res, &seq), 0);
    assert_int_equal(res.fields_rejected, 1);
    assert_int_equal(res.fields_ok, 1);
    assert_int_equal(res.first_error, CN_ETYPE);
    assert_string_equal(res.first_error_field, "x");
    eng_point_t bad = {"m", &tag, 1, T0, f2, 0};
    assert_int_equal(eng_write(f->db, &bad, 1, &res, &seq), CN_EINVAL);
}

/* A second open of a directory in use is refused, and works once the
 * first one is closed. */
static void test_dir_lock(void **state)
{
    fixture_t *f = *state;
    eng_opts_t o = opts_for(f->dir);
    eng_db_t *db2 = NULL;
    assert_int_equal(eng_open(&o, &db2), -EBUSY);
    assert_null(db2);
    eng_close(f->db);
    f->db = NULL;
    assert_int_equal(eng_open(&o, &db2), 0);
    f->db = db2;
}

/* Sum of temperature over [tmin, tmax) of every series with
 * eng_iter_no_times: batches of whole stored blocks come without times,
 * all others with them.  Counts the batches of each kind. */
static double sum_no_times(eng_db_t *db, int64_t tmin, int64_t tmax, uint64_t *count, int *untimed,
                           int *timed)
{
    eng_snap_t *s;
    assert_int_equal(eng_snap_open(db, &s), 0);
    uint64_t *ids;
    int n = eng_snap_select(s, "telemetry", NULL, 0, &ids);
    uint32_t fid = 0;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        eng_iter_t *it;
        assert_int_equal(eng_iter_open(s, ids[i], &fid, 1, tmin, tmax, &it), 0);
        eng_iter_no_times(it);
        eng_batch_t b;
        int rc;
        while ((rc = eng_iter_next(it, &b)) > 0) {
            assert_true(b.whole_block == (b.ts == NULL));
            *(b.ts ? timed : untimed) += 1;
            for (uint32_t k = 0; k < b.n; k++) {
                assert_true(b.valid[0][k]);
                assert_true(b.ts == NULL || (b.ts[k] >= tmin && b.ts[k] < tmax));
                sum += ((const double *)b.vals[0])[k];
                (*count)++;
            }
        }
        assert_int_equal(rc, 0);
        eng_iter_close(it);
    }
    cn_free(ids);
    eng_snap_close(s);
    return sum;
}

static void test_no_times(void **state)
{
    fixture_t *f = *state;
    write_all(f->db);
    assert_int_equal(eng_flush(f->db), 0);
    double want = 0;
    for (int d = 0; d < NDEV; d++)
        for (int r = 0; r < NROWS; r++)
            want += temp_of(d, r);
    uint64_t count = 0;
    int untimed = 0, timed = 0;
    double got = sum_no_times(f->db, INT64_MIN, INT64_MAX, &count, &untimed, &timed);
    assert_int_equal(count, (uint64_t)NDEV * NROWS);
    assert_true(fabs(got - want) < 1e-6 * want);
    assert_int_equal(timed, 0);
    assert_int_equal(untimed, NDEV * (NROWS / 1000)); /* block_rows = 1000 */
    /* A range that cuts blocks: the cut ones are clipped with their times. */
    count = 0;
    untimed = timed = 0;
    sum_no_times(f->db, T0 + 500 * STEP, T0 + 2500 * STEP, &count, &untimed, &timed);
    assert_int_equal(count, (uint64_t)NDEV * 2000);
    assert_int_equal(untimed, NDEV);
    assert_int_equal(timed, 2 * NDEV);
}

/* Points at the ends of time (line protocol takes any int64 timestamp):
 * flushed into the partitions before 1677 and after 2262 and read back,
 * without signed overflow in the partition arithmetic (UBSan). */
static void test_ends_of_time(void **state)
{
    fixture_t *f = *state;
    const int64_t ts[] = {INT64_MIN, INT64_MIN + 1,         -9000000000000000000LL,
                          0,         9000000000000000000LL, INT64_MAX - 1,
                          INT64_MAX};
    const size_t n = sizeof ts / sizeof *ts;
    for (size_t i = 0; i < n; i++) {
        eng_tag_t tags[1] = {{"device_id", "edge"}};
        eng_field_t fl[1] = {{"temperature", ENG_T_FLOAT, {.f = (double)i}}};
        eng_point_t p = {"telemetry", tags, 1, ts[i], fl, 1};
        eng_write_res_t res;
        uint64_t seq;
        assert_int_equal(eng_write(f->db, &p, 1, &res, &seq), 0);
    }
    for (int round = 0; round < 2; round++) {
        if (round == 1)
            assert_int_equal(eng_flush(f->db), 0);
        eng_snap_t *s;
        assert_int_equal(eng_snap_open(f->db, &s), 0);
        uint64_t *ids;
        assert_int_equal(eng_snap_select(s, "telemetry", NULL, 0, &ids), 1);
        uint32_t fid = 0;
        eng_iter_t *it;
        assert_int_equal(eng_iter_open(s, ids[0], &fid, 1, INT64_MIN, INT64_MAX, &it), 0);
        eng_batch_t b;
        size_t got = 0;
        int rc;
        while ((rc = eng_iter_next(it, &b)) > 0)
            for (uint32_t k = 0; k < b.n; k++, got++) {
                assert_true(got < n);
                assert_int_equal(b.ts[k], ts[got]);
                assert_true(((const double *)b.vals[0])[k] == (double)got);
            }
        assert_int_equal(rc, 0);
        /* [tmin, tmax) leaves INT64_MAX out */
        assert_int_equal(got, n - 1);
        eng_iter_close(it);
        /* the last partition's own range */
        assert_int_equal(eng_iter_open(s, ids[0], &fid, 1, INT64_MAX - 1, INT64_MAX, &it), 0);
        got = 0;
        while ((rc = eng_iter_next(it, &b)) > 0)
            got += b.n;
        assert_int_equal(got, 1);
        eng_iter_close(it);
        cn_free(ids);
        eng_snap_close(s);
    }
}

/* Rewrites the format version of every segment file under dir (and the
 * header CRC over bytes 0..11 and 16..31); returns the files changed. */
static int set_seg_version(const char *dir, uint32_t version)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "find %s -name '*.cseg'", dir);
    FILE *ls = popen(cmd, "r");
    assert_non_null(ls);
    char path[512];
    int files = 0;
    while (fgets(path, sizeof path, ls)) {
        path[strcspn(path, "\n")] = 0;
        FILE *fp = fopen(path, "r+b");
        assert_non_null(fp);
        uint8_t hdr[32];
        assert_int_equal(fread(hdr, 1, 32, fp), 32);
        assert_memory_equal(hdr, "CAIRNSEG", 8);
        cn_st32(hdr + 8, version);
        cn_st32(hdr + 12, cn_crc32c(cn_crc32c(0, hdr, 12), hdr + 16, 16));
        assert_int_equal(fseek(fp, 0, SEEK_SET), 0);
        assert_int_equal(fwrite(hdr, 1, 32, fp), 32);
        assert_int_equal(fclose(fp), 0);
        files++;
    }
    pclose(ls);
    return files;
}

/* Segments carry format version 3 (radix codec, corrected decimals); files of version
 * 1 (same layout, a subset of the codecs) still open and read, a version
 * from the future is refused. */
static void test_segment_versions(void **state)
{
    fixture_t *f = *state;
    write_all(f->db);
    assert_int_equal(eng_flush(f->db), 0);
    eng_close(f->db);
    f->db = NULL;
    eng_opts_t o = opts_for(f->dir);
    assert_true(set_seg_version(f->dir, 4) > 0);
    assert_int_equal(eng_open(&o, &f->db), CN_EVERSION);
    f->db = NULL;
    assert_true(set_seg_version(f->dir, 1) > 0);
    assert_int_equal(eng_open(&o, &f->db), 0);
    check_all(f->db, false);
    check_all(f->db, true);
    FILE *devnull = fopen("/dev/null", "w");
    assert_int_equal(eng_inspect(f->dir, true, devnull), 0);
    fclose(devnull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_memtable_flush_compact_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_times, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ends_of_time, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
