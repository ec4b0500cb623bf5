/* SPDX-License-Identifier: MIT */
/*
 * test_wal.c - tests for the write-ahead log (engine/wal.c, wal_scan.c):
 * append and replay across files and rotations, dropping covered files,
 * torn and bit-flipped tails at every offset, the fixture files in
 * tests/data/wal/ (written by an independent generator, gen.py), back-pressure,
 * sticky I/O errors, the durability callback and concurrent appenders.
 *
 * Nothing sleeps: tests synchronise through eng__wal_wait() and through a
 * gate inside the notify callback that holds the WAL thread still.
 */
#include "wal.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first. */
#include <cmocka.h>

#ifndef CN_TEST_DATA
#define CN_TEST_DATA "tests/data"
#endif

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SLOW_BUILD 1
#else
#define SLOW_BUILD 0
#endif

#define FHDR 32 /* file header size, see the format table in wal.c */
#define RHDR 17 /* record header size */

/* ------------------------------------------------------------- helpers */

typedef struct rec {
    uint64_t seq;
    uint8_t type;
    uint8_t *p;
    size_t n;
} rec_t;

typedef struct coll {
    rec_t *v;
    size_t n, cap;
} coll_t;

static int collect(void *arg, uint64_t seq, uint8_t type, const uint8_t *p, size_t n)
{
    coll_t *c = arg;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->v = realloc(c->v, c->cap * sizeof *c->v);
    }
    rec_t *r = &c->v[c->n++];
    r->seq = seq;
    r->type = type;
    r->n = n;
    r->p = malloc(n ? n : 1);
    memcpy(r->p, p, n);
    return 0;
}

static void coll_free(coll_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].p);
    free(c->v);
    memset(c, 0, sizeof *c);
}

/* The payload of record `s` in the fixtures; mirrors payload() in gen.py. */
static size_t fixture_payload(uint64_t s, uint8_t *out)
{
    size_t n = (size_t)sprintf((char *)out, "rec-%llu:", (unsigned long long)s);
    for (uint64_t i = 0; i < s * 7 % 40; i++)
        out[n++] = (uint8_t)(s + i);
    return n;
}

static uint8_t fixture_type(uint64_t s)
{
    return (uint8_t)(s % 5 + 1);
}

static void check_fixture_records(const coll_t *c, uint64_t first)
{
    uint8_t buf[128];
    for (size_t i = 0; i < c->n; i++) {
        uint64_t s = first + i;
        size_t n = fixture_payload(s, buf);
        assert_int_equal(c->v[i].seq, s);
        assert_int_equal(c->v[i].type, fixture_type(s));
        assert_int_equal(c->v[i].n, n);
        assert_memory_equal(c->v[i].p, buf, n);
    }
}

static void opts_init(eng__wal_opts_t *o, const char *dir, int durability)
{
    memset(o, 0, sizeof *o);
    o->dir = dir;
    o->durability = durability;
    o->segment_bytes = 1 << 20;
    o->buffer_max = 8 << 20;
    o->group_commit_us = 1000;
}

static eng__wal_t *open_os(const char *dir, coll_t *c)
{
    eng__wal_opts_t o;
    opts_init(&o, dir, ENG_DUR_OS);
    eng__wal_t *w = NULL;
    assert_int_equal(eng__wal_open(&o, c ? collect : NULL, c, &w), 0);
    assert_non_null(w);
    return w;
}

static uint64_t append_fixture(eng__wal_t *w, uint64_t expect_seq)
{
    uint8_t buf[128];
    uint64_t seq = 0;
    size_t n = fixture_payload(expect_seq, buf);
    assert_int_equal(eng__wal_append(w, fixture_type(expect_seq), buf, n, &seq), 0);
    assert_int_equal(seq, expect_seq);
    return seq;
}

static int count_wal_files(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "wal-", 4) == 0 && strlen(e->d_name) == 24)
            n++;
    closedir(d);
    return n;
}

static void wal_name(char *out, size_t cap, const char *dir, uint64_t first)
{
    int n = snprintf(out, cap, "%s/wal-%016llx.log", dir, (unsigned long long)first);
    assert_true(n > 0 && (size_t)n < cap);
}

static bool file_exists(const char *dir, uint64_t first)
{
    char path[PATH_MAX];
    wal_name(path, sizeof path, dir, first);
    return access(path, F_OK) == 0;
}

static long file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (long)st.st_size;
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Copies the regular files of src into dst (created). */
static void copy_dir(const char *src, const char *dst)
{
    assert_int_equal(cn_mkdirs(dst, 0755), 0);
    DIR *d = opendir(src);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char a[PATH_MAX], b[PATH_MAX];
        if (e->d_name[0] == '.')
            continue;
        int na = snprintf(a, sizeof a, "%s/%s", src, e->d_name);
        int nb = snprintf(b, sizeof b, "%s/%s", dst, e->d_name);
        assert_true(na > 0 && na < (int)sizeof a && nb > 0 && nb < (int)sizeof b);
        uint8_t *p;
        size_t n;
        assert_int_equal(cn_file_read_all(a, &p, &n), 0);
        write_file(b, p, n);
        cn_free(p);
    }
    closedir(d);
}

/* ------------------------------------------------------------- fixture */

typedef struct fx {
    char dir[64];
} fx_t;

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/cairn-test-wal-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    int rc = cn_rmtree(fx->dir);
    free(fx);
    return rc;
}

/* ---------------------------------------------------------------- tests */

static void test_append_replay_rotations(void **state)
{
    fx_t *fx = *state;
    eng__wal_t *w = open_os(fx->dir, NULL);
    assert_int_equal(eng__wal_last_seq(w), 0);
    assert_int_equal(eng__wal_rotate(w), 0);
    for (uint64_t s = 1; s <= 30; s++) {
        append_fixture(w, s);
        if (s == 10 || s == 20)
            assert_int_equal(eng__wal_rotate(w), s);
    }
    /* A zero-length payload is a valid record too. */
    uint64_t seq;
    assert_int_equal(eng__wal_append(w, 9, NULL, 0, &seq), 0);
    assert_int_equal(seq, 31);
    assert_int_equal(eng__wal_wait(w, 31), 0);
    assert_int_equal(eng__wal_durable_seq(w), 31);
    eng__wal_stats_t st;
    eng__wal_stats(w, &st);
    assert_int_equal(st.files, 3);
    assert_int_equal(st.appended_records, 31);
    eng__wal_close(w);
    assert_int_equal(count_wal_files(fx->dir), 3);
    assert_true(file_exists(fx->dir, 1) && file_exists(fx->dir, 11) && file_exists(fx->dir, 21));

    coll_t c = {0};
    w = open_os(fx->dir, &c);
    assert_int_equal(c.n, 31);
    c.n = 30;
    check_fixture_records(&c, 1);
    assert_int_equal(c.v[30].seq, 31);
    assert_int_equal(c.v[30].n, 0);
    assert_int_equal(c.v[30].type, 9);
    c.n = 31;
    eng__wal_stats(w, &st);
    assert_int_equal(st.replayed_records, 31);
    assert_int_equal(st.truncated_bytes, 0);
    assert_int_equal(st.files, 3);
    assert_int_equal(eng__wal_last_seq(w), 31);
    assert_int_equal(eng__wal_durable_seq(w), 31);
    /* Appends after a replay go to a new file. */
    append_fixture(w, 32);
    assert_int_equal(eng__wal_wait(w, 32), 0);
    eng__wal_close(w);
    coll_free(&c);
    assert_true(file_exists(fx->dir, 32));
    assert_int_equal(count_wal_files(fx->dir), 4);

    w = open_os(fx->dir, &c);
    assert_int_equal(c.n, 32);
    assert_int_equal(c.v[31].seq, 32);
    assert_int_equal(c.v[31].type, fixture_type(32));
    c.n = 30;
    check_fixture_records(&c, 1);
    c.n = 32;
    eng__wal_close(w);
    coll_free(&c);
}

static void test_segment_size_rotation(void **state)
{
    fx_t *fx = *state;
    eng__wal_opts_t o;
    opts_init(&o, fx->dir, ENG_DUR_FSYNC);
    o.segment_bytes = 200;
    eng__wal_t *w;
    assert_int_equal(eng__wal_open(&o, NULL, NULL, &w), 0);
    for (uint64_t s = 1; s <= 40; s++) {
        append_fixture(w, s);
        assert_int_equal(eng__wal_wait(w, s), 0); /* one batch per record */
    }
    eng__wal_stats_t st;
    eng__wal_stats(w, &st);
    assert_true(st.files > 5);
    assert_int_equal(st.commits, 40);
    eng__wal_close(w);
    assert_int_equal(count_wal_files(fx->dir), (int)st.files);

    coll_t c = {0};
    assert_int_equal(eng__wal_open(&o, collect, &c, &w), 0);
    assert_int_equal(c.n, 40);
    check_fixture_records(&c, 1);
    eng__wal_close(w);
    coll_free(&c);
}

static void test_min_seq_and_args(void **state)
{
    fx_t *fx = *state;
    eng__wal_opts_t o;
    opts_init(&o, fx->dir, ENG_DUR_OS);
    o.min_seq = 100;
    eng__wal_t *w;
    assert_int_equal(eng__wal_open(&o, NULL, NULL, &w), 0);
    assert_int_equal(eng__wal_last_seq(w), 100);
    assert_int_equal(eng__wal_wait(w, 100), 0);
    assert_int_equal(eng__wal_wait(w, 101), CN_EINVAL); /* never appended */
    uint64_t seq = 0;
    assert_int_equal(eng__wal_append(w, 1, "x", (size_t)(64u << 20) + 1, &seq), CN_EINVAL);
    assert_int_equal(eng__wal_append(w, 1, "x", 1, &seq), 0);
    assert_int_equal(seq, 101);
    assert_int_equal(eng__wal_wait(w, 101), 0);
    eng__wal_close(w);
    assert_true(file_exists(fx->dir, 101));

    /* min_seq below the log's last seq does not lower it. */
    o.min_seq = 5;
    assert_int_equal(eng__wal_open(&o, NULL, NULL, &w), 0);
    assert_int_equal(eng__wal_last_seq(w), 101);
    eng__wal_close(w);

    assert_int_equal(eng__wal_open(NULL, NULL, NULL, &w), CN_EINVAL);
    eng__wal_close(NULL);
}

static int fail_replay(void *arg, uint64_t seq, uint8_t type, const uint8_t *p, size_t n)
{
    (void)arg, (void)seq, (void)type, (void)p, (void)n;
    return CN_ETYPE;
}

static void test_replay_abort(void **state)
{
    fx_t *fx = *state;
    eng__wal_t *w = open_os(fx->dir, NULL);
    append_fixture(w, 1);
    eng__wal_close(w);
    eng__wal_opts_t o;
    opts_init(&o, fx->dir, ENG_DUR_OS);
    w = (eng__wal_t *)1;
    assert_int_equal(eng__wal_open(&o, fail_replay, NULL, &w), CN_ETYPE);
    assert_null(w);
}

static void test_drop_upto(void **state)
{
    fx_t *fx = *state;
    eng__wal_t *w = open_os(fx->dir, NULL);
    for (uint64_t s = 1; s <= 9; s++) {
        append_fixture(w, s);
        if (s % 3 == 0 && s < 9)
            assert_int_equal(eng__wal_rotate(w), s);
    }
    assert_int_equal(eng__wal_wait(w, 9), 0);
    assert_int_equal(count_wal_files(fx->dir), 3);

    assert_int_equal(eng__wal_drop_upto(w, 2), 0); /* 1..3 not all covered */
    assert_int_equal(count_wal_files(fx->dir), 3);
    assert_int_equal(eng__wal_drop_upto(w, 5), 0);
    assert_false(file_exists(fx->dir, 1));
    assert_true(file_exists(fx->dir, 4));
    assert_int_equal(eng__wal_drop_upto(w, 6), 0);
    assert_false(file_exists(fx->dir, 4));
    /* The file being appended to survives even when fully covered. */
    assert_int_equal(eng__wal_drop_upto(w, 1000), 0);
    assert_true(file_exists(fx->dir, 7));
    eng__wal_stats_t st;
    eng__wal_stats(w, &st);
    assert_int_equal(st.files, 1);
    append_fixture(w, 10);
    assert_int_equal(eng__wal_wait(w, 10), 0);
    eng__wal_close(w);

    /* After reopening nothing is current: every covered file can go. */
    coll_t c = {0};
    w = open_os(fx->dir, &c);
    assert_int_equal(c.n, 4);
    check_fixture_records(&c, 7);
    assert_int_equal(eng__wal_drop_upto(w, 9), 0); /* 7..10 not covered */
    assert_true(file_exists(fx->dir, 7));
    assert_int_equal(eng__wal_drop_upto(w, 10), 0);
    assert_int_equal(count_wal_files(fx->dir), 0);
    append_fixture(w, 11);
    eng__wal_close(w);
    coll_free(&c);
    w = open_os(fx->dir, &c);
    assert_int_equal(c.n, 1);
    check_fixture_records(&c, 11);
    eng__wal_close(w);
    coll_free(&c);
}

/* Writes records 1..n into dir/src in one file; returns the last record's
 * size in *last_len. */
static void make_log(const char *dir, uint64_t n, size_t *last_len)
{
    eng__wal_t *w = open_os(dir, NULL);
    for (uint64_t s = 1; s <= n; s++)
        append_fixture(w, s);
    eng__wal_close(w);
    uint8_t buf[128];
    *last_len = RHDR + fixture_payload(n, buf);
}

/* Opens a log expected to hold records 1..keep plus `dropped` bad bytes,
 * checks it, appends one more record and checks that it survives. */
static void check_repaired(const char *dir, uint64_t keep, uint64_t dropped)
{
    coll_t c = {0};
    eng__wal_t *w = open_os(dir, &c);
    assert_int_equal(c.n, keep);
    check_fixture_records(&c, 1);
    eng__wal_stats_t st;
    eng__wal_stats(w, &st);
    assert_int_equal(st.truncated_bytes, dropped);
    assert_int_equal(st.replayed_records, keep);
    uint64_t recs, bytes, bad = 1;
    assert_int_equal(eng__wal_verify(dir, &recs, &bytes, &bad), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(recs, keep);
    append_fixture(w, keep + 1);
    assert_int_equal(eng__wal_wait(w, keep + 1), 0);
    eng__wal_close(w);
    coll_free(&c);
    assert_true(file_exists(dir, keep + 1)); /* a new file, not the repaired one */
    w = open_os(dir, &c);
    assert_int_equal(c.n, keep + 1);
    check_fixture_records(&c, 1);
    eng__wal_stats(w, &st);
    assert_int_equal(st.truncated_bytes, 0);
    eng__wal_close(w);
    coll_free(&c);
}

/*
 * Writes records 1..4, then for every byte i of the last record builds a
 * damaged copy of the log (cut after i bytes of it, or bit-flipped at byte
 * i) and checks that verify reports it and replay keeps exactly 1..3.
 */
static void damage_last_record(fx_t *fx, bool flip)
{
    char src[PATH_MAX], path[PATH_MAX];
    snprintf(src, sizeof src, "%s/src", fx->dir);
    size_t last_len;
    make_log(src, 4, &last_len);
    wal_name(path, sizeof path, src, 1);
    uint8_t *img;
    size_t n;
    assert_int_equal(cn_file_read_all(path, &img, &n), 0);
    size_t good = n - last_len;
    for (size_t i = 0; i < last_len; i++) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/case%zu", fx->dir, i);
        assert_int_equal(cn_mkdirs(dir, 0755), 0);
        wal_name(path, sizeof path, dir, 1);
        uint8_t bit = (uint8_t)(1u << (i % 8));
        if (flip)
            img[good + i] ^= bit;
        write_file(path, img, flip ? n : good + i);
        if (flip)
            img[good + i] ^= bit;
        uint64_t dropped = flip ? last_len : i, recs, bytes, bad;
        assert_int_equal(eng__wal_verify(dir, &recs, &bytes, &bad), dropped ? CN_ECORRUPT : 0);
        assert_int_equal(recs, 3);
        assert_int_equal(bytes, good);
        assert_int_equal(bad, dropped);
        check_repaired(dir, 3, dropped);
        assert_int_equal(file_size(path), (long)good);
        assert_int_equal(cn_rmtree(dir), 0);
    }
    cn_free(img);
}

static void test_torn_tail_every_offset(void **state)
{
    damage_last_record(*state, false);
}

static void test_bitflip_last_every_byte(void **state)
{
    damage_last_record(*state, true);
}

static void test_bitflip_middle(void **state)
{
    fx_t *fx = *state;
    eng__wal_t *w = open_os(fx->dir, NULL);
    for (uint64_t s = 1; s <= 15; s++) {
        append_fixture(w, s);
        if (s == 5 || s == 10)
            eng__wal_rotate(w);
    }
    eng__wal_close(w);
    /* Flip a payload byte of record 7, the second record of the middle file. */
    char mid[PATH_MAX], last[PATH_MAX];
    wal_name(mid, sizeof mid, fx->dir, 6);
    wal_name(last, sizeof last, fx->dir, 11);
    uint8_t buf[128];
    size_t off7 = FHDR + RHDR + fixture_payload(6, buf);
    long mid_size = file_size(mid), last_size = file_size(last);
    uint8_t *img;
    size_t n;
    assert_int_equal(cn_file_read_all(mid, &img, &n), 0);
    img[off7 + RHDR + 2] ^= 0x10;
    write_file(mid, img, n);
    cn_free(img);

    uint64_t recs, bytes, bad;
    assert_int_equal(eng__wal_verify(fx->dir, &recs, &bytes, &bad), CN_ECORRUPT);
    assert_int_equal(recs, 6);
    assert_int_equal(bad, (uint64_t)(mid_size - (long)off7 + last_size));
    assert_int_equal(file_size(mid), mid_size); /* verify is read-only */

    check_repaired(fx->dir, 6, (uint64_t)(mid_size - (long)off7 + last_size));
    assert_false(file_exists(fx->dir, 11));
    assert_int_equal(file_size(mid), (long)off7);
}

typedef struct fixture_case {
    const char *name;
    int rc;             /* of eng__wal_open */
    uint64_t records;   /* replayed, seqs 1..records */
    uint64_t truncated; /* stats.truncated_bytes */
    int files_after;    /* WAL files left after the repair */
} fixture_case_t;

static const fixture_case_t fixtures[] = {
    {"clean", 0, 10, 0, 2},
    {"torn_tail", 0, 5, 13, 1},
    {"torn_header", 0, 4, 10, 1},
    {"bitflip_last", 0, 5, 25, 1},
    {"bitflip_middle", 0, 2, 381, 1},
    {"header_only", 0, 3, 0, 1},
    {"empty", 0, 0, 0, 0},
    {"zero_tail", 0, 4, 4096, 1},
    {"seq_gap", 0, 3, 58, 1},
    {"newer_version", CN_EVERSION, 0, 0, 1},
    {"bad_length", 0, 2, 44, 1},
    {"name_mismatch", 0, 3, 166, 1},
};

static void test_fixtures(void **state)
{
    fx_t *fx = *state;
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        const fixture_case_t *f = &fixtures[i];
        char src[PATH_MAX], dir[PATH_MAX];
        snprintf(src, sizeof src, "%s/wal/%s", CN_TEST_DATA, f->name);
        snprintf(dir, sizeof dir, "%s/%s", fx->dir, f->name);
        copy_dir(src, dir);
        uint64_t recs = 0, bytes = 0, bad = 0;
        int vrc = eng__wal_verify(dir, &recs, &bytes, &bad);
        if (f->rc == 0) {
            print_message("fixture %s: verify %d, %llu records, %llu bad bytes\n", f->name, vrc,
                          (unsigned long long)recs, (unsigned long long)bad);
            assert_int_equal(vrc, f->truncated ? CN_ECORRUPT : 0);
            assert_int_equal(recs, f->records);
            assert_int_equal(bad, f->truncated);
        } else {
            assert_int_equal(vrc, f->rc);
        }
        coll_t c = {0};
        eng__wal_opts_t o;
        opts_init(&o, dir, ENG_DUR_FSYNC);
        eng__wal_t *w = NULL;
        assert_int_equal(eng__wal_open(&o, collect, &c, &w), f->rc);
        assert_int_equal(count_wal_files(dir), f->files_after);
        if (f->rc == 0) {
            assert_int_equal(c.n, f->records);
            check_fixture_records(&c, 1);
            eng__wal_stats_t st;
            eng__wal_stats(w, &st);
            assert_int_equal(st.truncated_bytes, f->truncated);
            eng__wal_close(w);
            coll_free(&c);
            check_repaired(dir, f->records, 0);
        }
        coll_free(&c);
    }
}

static void test_empty_dir_no_files(void **state)
{
    fx_t *fx = *state;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/a/b", fx->dir); /* created if missing */
    eng__wal_t *w = open_os(dir, NULL);
    assert_int_equal(eng__wal_rotate(w), 0);
    assert_int_equal(eng__wal_backlog(w), 0);
    eng__wal_close(w);
    assert_int_equal(count_wal_files(dir), 0);
    uint64_t recs = 1, bytes = 1, bad = 1;
    assert_int_equal(eng__wal_verify(dir, &recs, &bytes, &bad), 0);
    assert_int_equal(recs + bytes + bad, 0);
    assert_int_equal(eng__wal_verify(fx->dir, NULL, NULL, NULL), 0);
    snprintf(dir, sizeof dir, "%s/missing", fx->dir);
    assert_int_equal(eng__wal_verify(dir, NULL, NULL, NULL), -ENOENT);
}

/* A notify callback that records what it sees and, while the gate is shut,
 * holds the WAL thread inside it so tests can build up a backlog. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool shut;
    uint64_t entered;
    uint64_t last;
    uint64_t calls;
    bool monotonic;
} gate_t;

static void gate_init(gate_t *g, bool shut)
{
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->shut = shut;
    g->monotonic = true;
}

static void gate_destroy(gate_t *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

static void gate_notify(void *arg, uint64_t durable)
{
    gate_t *g = arg;
    pthread_mutex_lock(&g->mu);
    if (durable <= g->last)
        g->monotonic = false;
    g->last = durable;
    g->calls++;
    g->entered = durable;
    pthread_cond_broadcast(&g->cv);
    while (g->shut)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_wait_entered(gate_t *g, uint64_t seq)
{
    pthread_mutex_lock(&g->mu);
    while (g->entered < seq)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_open(gate_t *g)
{
    pthread_mutex_lock(&g->mu);
    g->shut = false;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void test_efull_backpressure(void **state)
{
    fx_t *fx = *state;
    gate_t g;
    gate_init(&g, true);
    eng__wal_opts_t o;
    opts_init(&o, fx->dir, ENG_DUR_OS);
    o.buffer_max = 1000;
    o.notify = gate_notify;
    o.notify_arg = &g;
    eng__wal_t *w;
    assert_int_equal(eng__wal_open(&o, NULL, NULL, &w), 0);
    uint8_t payload[100] = {0};
    uint64_t seq;
    /* A record larger than buffer_max still goes when the backlog is empty. */
    uint8_t big[2000] = {0};
    assert_int_equal(eng__wal_append(w, 1, big, sizeof big, &seq), 0);
    gate_wait_entered(&g, 1); /* the thread is now parked in notify */
    assert_int_equal(eng__wal_backlog(w), 0);
    for (uint64_t s = 2; s <= 9; s++) {
        assert_int_equal(eng__wal_append(w, 1, payload, sizeof payload, &seq), 0);
        assert_int_equal(seq, s);
    }
    assert_int_equal(eng__wal_backlog(w), 8 * (RHDR + 100));
    seq = 77;
    assert_int_equal(eng__wal_append(w, 1, payload, sizeof payload, &seq), CN_EFULL);
    assert_int_equal(seq, 77);
    assert_int_equal(eng__wal_last_seq(w), 9);
    assert_int_equal(eng__wal_durable_seq(w), 1);
    gate_open(&g);
    assert_int_equal(eng__wal_wait(w, 9), 0);
    assert_int_equal(eng__wal_backlog(w), 0);
    assert_int_equal(eng__wal_append(w, 1, payload, sizeof payload, &seq), 0);
    assert_int_equal(seq, 10);
    eng__wal_close(w);
    assert_true(g.monotonic);
    assert_int_equal(g.last, 10);
    gate_destroy(&g);

    coll_t c = {0};
    w = open_os(fx->dir, &c);
    assert_int_equal(c.n, 10);
    assert_int_equal(c.v[0].n, sizeof big);
    assert_int_equal(c.v[9].seq, 10);
    eng__wal_close(w);
    coll_free(&c);
}

static void test_sticky_error_create(void **state)
{
    fx_t *fx = *state;
    eng__wal_t *w = open_os(fx->dir, NULL);
    append_fixture(w, 1);
    assert_int_equal(eng__wal_wait(w, 1), 0);
    assert_int_equal(eng__wal_rotate(w), 1);
    /* Occupy the name of the next file so that creating it fails. */
    char path[PATH_MAX];
    wal_name(path, sizeof path, fx->dir, 2);
    assert_int_equal(mkdir(path, 0755), 0);
    append_fixture(w, 2);
    assert_int_equal(eng__wal_wait(w, 2), -EEXIST);
    assert_int_equal(eng__wal_wait(w, 1), 0); /* already durable */
    uint64_t seq;
    assert_int_equal(eng__wal_append(w, 1, "x", 1, &seq), -EEXIST);
    assert_int_equal(eng__wal_wait(w, 2), -EEXIST);
    assert_int_equal(eng__wal_durable_seq(w), 1);
    eng__wal_close(w);

    /* The directory is ignored by replay; record 1 survives, 2 never did. */
    coll_t c = {0};
    eng__wal_opts_t o;
    opts_init(&o, fx->dir, ENG_DUR_OS);
    assert_int_equal(eng__wal_open(&o, collect, &c, &w), 0);
    assert_int_equal(c.n, 1);
    check_fixture_records(&c, 1);
    eng__wal_close(w);
    coll_free(&c);
    assert_int_equal(rmdir(path), 0);
}

/* Finds our process's descriptor for `path` through /proc/self/fd. */
static int find_fd(const char *path)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int found = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && found < 0) {
        char link[PATH_MAX], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = 0;
        if (strcmp(target, path) == 0)
            found = atoi(e->d_name);
    }
    closedir(d);
    return found;
}

static void test_sticky_error_write(void **state)
{
    fx_t *fx = *state;
    gate_t g;
    gate_init(&g, false);
    eng__wal_opts_t o;
    opts_init(&o, fx->dir, ENG_DUR_FSYNC);
    o.notify = gate_notify;
    o.notify_arg = &g;
    eng__wal_t *w;
    assert_int_equal(eng__wal_open(&o, NULL, NULL, &w), 0);
    append_fixture(w, 1);
    assert_int_equal(eng__wal_wait(w, 1), 0);
    /* Swap the WAL's file descriptor for a read-only one: the next write
     * fails with EBADF as a failing disk would fail it with EIO. */
    char path[PATH_MAX], real[PATH_MAX];
    wal_name(path, sizeof path, fx->dir, 1);
    assert_non_null(realpath(path, real));
    int fd = find_fd(real);
    assert_true(fd >= 0);
    int ro = open("/dev/null", O_RDONLY);
    assert_true(ro >= 0);
    assert_int_equal(dup2(ro, fd), fd);
    close(ro);

    append_fixture(w, 2);
    assert_int_equal(eng__wal_wait(w, 2), -EBADF);
    uint64_t seq;
    assert_int_equal(eng__wal_append(w, 1, "x", 1, &seq), -EBADF);
    assert_int_equal(eng__wal_durable_seq(w), 1);
    eng__wal_close(w);
    assert_int_equal(g.calls, 1); /* no notify for the failed batch */
    gate_destroy(&g);

    coll_t c = {0};
    w = open_os(fx->dir, &c);
    assert_int_equal(c.n, 1);
    eng__wal_close(w);
    coll_free(&c);
}

/* ------------------------------------------------------------ threading */

#define NTHREADS 4

typedef struct worker {
    eng__wal_t *w;
    uint32_t id;
    uint32_t count;
    uint64_t efull;
    uint64_t failures; /* checked by the main thread: cmocka asserts only there */
} worker_t;

static void *append_worker(void *arg)
{
    worker_t *k = arg;
    uint8_t payload[48];
    memset(payload, (int)k->id, sizeof payload);
    for (uint32_t i = 0; i < k->count; i++) {
        memcpy(payload, &k->id, 4);
        memcpy(payload + 4, &i, 4);
        uint64_t seq;
        int rc;
        while ((rc = eng__wal_append(k->w, (uint8_t)k->id, payload, 8 + i % 40, &seq)) ==
               CN_EFULL) {
            k->efull++;
            /* Back-pressure: block until what is buffered is written. */
            k->failures += eng__wal_wait(k->w, eng__wal_last_seq(k->w)) != 0;
        }
        k->failures += rc != 0;
    }
    return NULL;
}

typedef struct chaos {
    eng__wal_t *w;
    _Atomic bool stop;
    uint64_t rotations;
    uint64_t failures;
} chaos_t;

/* Rotates, waits, reads stats and drops nothing-yet-covered files while the
 * appenders run. */
static void *chaos_worker(void *arg)
{
    chaos_t *ch = arg;
    for (int i = 0; i < 100000 && !atomic_load(&ch->stop); i++) {
        uint64_t last = eng__wal_rotate(ch->w);
        ch->failures += eng__wal_wait(ch->w, last) != 0;
        eng__wal_stats_t st;
        eng__wal_stats(ch->w, &st);
        ch->failures += eng__wal_durable_seq(ch->w) > eng__wal_last_seq(ch->w);
        ch->failures += eng__wal_drop_upto(ch->w, 0) != 0;
        (void)eng__wal_backlog(ch->w);
        ch->rotations++;
    }
    return NULL;
}

static void test_concurrent_appenders(void **state)
{
    fx_t *fx = *state;
    const uint32_t per = SLOW_BUILD ? 5000 : 50000;
    gate_t g;
    gate_init(&g, false);
    eng__wal_opts_t o;
    opts_init(&o, fx->dir, ENG_DUR_OS);
    o.segment_bytes = 256 << 10;
    o.buffer_max = 64 << 10; /* small enough to hit CN_EFULL now and then */
    o.notify = gate_notify;
    o.notify_arg = &g;
    eng__wal_t *w;
    assert_int_equal(eng__wal_open(&o, NULL, NULL, &w), 0);

    pthread_t th[NTHREADS], cth;
    worker_t k[NTHREADS];
    chaos_t ch = {.w = w};
    atomic_init(&ch.stop, false);
    assert_int_equal(pthread_create(&cth, NULL, chaos_worker, &ch), 0);
    for (uint32_t i = 0; i < NTHREADS; i++) {
        k[i] = (worker_t){.w = w, .id = i, .count = per};
        assert_int_equal(pthread_create(&th[i], NULL, append_worker, &k[i]), 0);
    }
    for (uint32_t i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(k[i].failures, 0);
    }
    atomic_store(&ch.stop, true);
    pthread_join(cth, NULL);
    assert_int_equal(ch.failures, 0);
    uint64_t total = (uint64_t)per * NTHREADS;
    assert_int_equal(eng__wal_last_seq(w), total);
    assert_int_equal(eng__wal_wait(w, total), 0);
    eng__wal_close(w);
    assert_true(g.monotonic);
    assert_int_equal(g.last, total);
    gate_destroy(&g);
    print_message("concurrent: %llu records, %llu rotations, %llu EFULL retries\n",
                  (unsigned long long)total, (unsigned long long)ch.rotations,
                  (unsigned long long)(k[0].efull + k[1].efull + k[2].efull + k[3].efull));

    coll_t c = {0};
    w = open_os(fx->dir, &c);
    assert_int_equal(c.n, total);
    uint32_t next[NTHREADS] = {0};
    for (size_t i = 0; i < c.n; i++) {
        uint32_t id, idx;
        assert_int_equal(c.v[i].seq, i + 1);
        memcpy(&id, c.v[i].p, 4);
        memcpy(&idx, c.v[i].p + 4, 4);
        assert_true(id < NTHREADS);
        assert_int_equal(c.v[i].type, id);
        assert_int_equal(idx, next[id]); /* each once, in each thread's order */
        assert_int_equal(c.v[i].n, 8 + idx % 40);
        next[id]++;
    }
    for (uint32_t i = 0; i < NTHREADS; i++)
        assert_int_equal(next[i], per);
    eng__wal_close(w);
    coll_free(&c);
}

/* ---------------------------------------------------------- throughput */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count_only(void *arg, uint64_t seq, uint8_t type, const uint8_t *p, size_t n)
{
    (void)seq, (void)type, (void)p;
    *(uint64_t *)arg += n;
    return 0;
}

/* Appends n 100-byte records from one thread and waits for the last. */
static void bench_append(const char *dir, int durability, uint64_t n)
{
    eng__wal_opts_t o;
    opts_init(&o, dir, durability);
    o.segment_bytes = 64 << 20;
    o.buffer_max = 64 << 20;
    eng__wal_t *w;
    assert_int_equal(eng__wal_open(&o, NULL, NULL, &w), 0);
    uint8_t payload[100];
    memset(payload, 0xab, sizeof payload);
    uint64_t efull = 0, seq = 0;
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        int rc;
        while ((rc = eng__wal_append(w, 1, payload, sizeof payload, &seq)) == CN_EFULL) {
            efull++;
            assert_int_equal(eng__wal_wait(w, eng__wal_last_seq(w)), 0);
        }
        assert_int_equal(rc, 0);
    }
    double t1 = now_s();
    assert_int_equal(eng__wal_wait(w, seq), 0);
    double t2 = now_s();
    eng__wal_stats_t st;
    eng__wal_stats(w, &st);
    eng__wal_close(w);
    print_message("append %s: %.0f records/s appended (%.0f MB/s), %.0f records/s durable; "
                  "%llu commits, %llu EFULL waits\n",
                  durability == ENG_DUR_OS ? "os" : "fsync", (double)n / (t1 - t0),
                  (double)n * (100 + RHDR) / (t1 - t0) / 1e6, (double)n / (t2 - t0),
                  (unsigned long long)st.commits, (unsigned long long)efull);

    uint64_t bytes = 0;
    t0 = now_s();
    assert_int_equal(eng__wal_open(&o, count_only, &bytes, &w), 0);
    t1 = now_s();
    eng__wal_stats(w, &st);
    assert_int_equal(st.replayed_records, n);
    assert_int_equal(bytes, n * 100);
    eng__wal_close(w);
    print_message("replay: %llu records in %.3f s, %.0f MB/s of log\n", (unsigned long long)n,
                  t1 - t0, (double)n * (100 + RHDR) / (t1 - t0) / 1e6);
}

static void test_throughput(void **state)
{
    fx_t *fx = *state;
    const char *env = getenv("CN_WAL_BENCH_N");
    uint64_t n = env ? strtoull(env, NULL, 10) : SLOW_BUILD ? 20000 : 300000;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/os", fx->dir);
    bench_append(dir, ENG_DUR_OS, n);
    snprintf(dir, sizeof dir, "%s/fsync", fx->dir);
    bench_append(dir, ENG_DUR_FSYNC, n);
}

int main(void)
{
    cn_log_set_level(CN_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_replay_rotations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment_size_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_min_seq_and_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_upto, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_every_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bitflip_last_every_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bitflip_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fixtures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_dir_no_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_efull_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sticky_error_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sticky_error_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_appenders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throughput, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
