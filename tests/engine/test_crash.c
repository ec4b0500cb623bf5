/* SPDX-License-Identifier: MIT */
/*
 * test_crash.c - the durability promise under SIGKILL.
 *
 * Each round forks a child that opens the data directory (fsync durability,
 * a small memtable so flushes and compactions run during the round, the
 * background thread on) and writes deterministic points, one per index k.
 * It reports an index to the parent through a pipe only once the sequence
 * number of its write is durable.  The parent kills the child with SIGKILL
 * after a seeded, per-round number of acknowledgements (sometimes 0, which
 * kills the child while it is still opening and recovering), reopens the
 * directory and checks through snapshots and iterators that:
 *   - every acknowledged index is present with its exact value (floats
 *     bit-exact, NaN payloads included);
 *   - no row appears twice (timestamps strictly ascending per series);
 *   - every other row present is an index some child was allowed to write
 *     and carries exactly that index's value;
 *   - a row once seen after recovery never disappears in a later round.
 * The next round continues with higher indices in the same directory, so
 * recovered data is recovered again and again.
 *
 * The value of index k is a pure function of k (see point_of()), and so is
 * its series and timestamp; every 7th index is written 3.5 s back in time,
 * out of order, at a timestamp no other index uses.
 *
 * CAIRN_CRASH_ROUNDS overrides the number of rounds (default 24);
 * tests/engine/crash_loop.sh runs a long loop.  Nothing sleeps: the parent
 * blocks on the pipe and on waitpid().
 */
#include "engine.h"

#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first. */
#include <cmocka.h>

#define NDEV        50
#define BASE_TS     1700000000000000000LL
#define SEC         1000000000LL
#define OOO_BACK    3500000000LL /* out-of-order points go back 3.5 s */
#define MAX_TOTAL   (1u << 20)   /* cap on indices over all rounds */
#define DEF_ROUNDS  24
#define SEED        0x5eedc0ffee123457ULL
#define PENDING_MAX 512

/* ----------------------------------------------------------- determinism */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static bool is_ooo(uint64_t k)
{
    return k % 7 == 3;
}

static int64_t ts_of(uint64_t k)
{
    int64_t ts = BASE_TS + (int64_t)k * SEC;
    return is_ooo(k) ? ts - OOO_BACK : ts;
}

/* Inverse of ts_of(); false when ts belongs to no index. */
static bool k_of_ts(int64_t ts, uint64_t *k)
{
    int64_t d = ts - BASE_TS;
    if (d % SEC != 0) {
        d += OOO_BACK;
        if (d < 0 || d % SEC != 0 || !is_ooo((uint64_t)(d / SEC)))
            return false;
    } else if (d < 0 || is_ooo((uint64_t)(d / SEC))) {
        return false;
    }
    *k = (uint64_t)(d / SEC);
    return true;
}

static uint64_t f_bits(uint64_t k)
{
    double f;
    uint64_t u;
    if (k % 97 == 5)
        return 0x7ff8000000000000ULL | (k & 0xffffffffULL); /* NaN with payload */
    if (k % 89 == 7)
        f = -0.0;
    else if (k % 83 == 11)
        f = INFINITY;
    else if (k % 79 == 13)
        f = -INFINITY;
    else
        f = (double)((k * 2654435761ULL) % 1000003ULL) / 7.0 - 5000.0;
    memcpy(&u, &f, 8);
    return u;
}

static bool has_s(uint64_t k)
{
    return k % 5 == 2;
}

/* The string of index k: "s-<k>" padded with a k-dependent number of 'x'. */
static uint32_t s_of(uint64_t k, char *buf, size_t n)
{
    int len = snprintf(buf, n, "s-%llu-", (unsigned long long)k);
    size_t pad = (size_t)(k % 23);
    memset(buf + len, 'x', pad);
    buf[(size_t)len + pad] = 0;
    return (uint32_t)((size_t)len + pad);
}

typedef struct pointbuf {
    char dev[16];
    char s[64];
    eng_tag_t tag;
    eng_field_t fields[4];
    eng_point_t p;
} pointbuf_t;

static void point_of(uint64_t k, pointbuf_t *pb)
{
    snprintf(pb->dev, sizeof pb->dev, "dev-%llu", (unsigned long long)(k % NDEV));
    pb->tag.key = "device_id";
    pb->tag.val = pb->dev;
    uint32_t n = 0;
    uint64_t fb = f_bits(k);
    pb->fields[n].name = "f";
    pb->fields[n].type = ENG_T_FLOAT;
    memcpy(&pb->fields[n++].v.f, &fb, 8);
    pb->fields[n].name = "i";
    pb->fields[n].type = ENG_T_INT;
    pb->fields[n++].v.i = (int64_t)k;
    if (has_s(k)) {
        pb->fields[n].name = "s";
        pb->fields[n].type = ENG_T_STRING;
        pb->fields[n].v.s.len = s_of(k, pb->s, sizeof pb->s);
        pb->fields[n++].v.s.p = pb->s;
    }
    pb->fields[n].name = "b";
    pb->fields[n].type = ENG_T_BOOL;
    pb->fields[n++].v.b = (uint8_t)((k / 3) & 1);
    pb->p.measurement = "m";
    pb->p.tags = &pb->tag;
    pb->p.ntags = 1;
    pb->p.ts = ts_of(k);
    pb->p.fields = pb->fields;
    pb->p.nfields = n;
}

static void opts_for(eng_opts_t *o, const char *dir, bool background)
{
    eng_opts_default(o);
    o->dir = dir;
    o->durability = ENG_DUR_FSYNC;
    o->group_commit_us = 200;
    o->memtable_bytes = 64u << 10;
    o->wal_segment_bytes = 256u << 10;
    o->partition_ns = 6LL * 3600 * SEC;
    o->block_rows = 256;
    o->background = background;
}

/* ----------------------------------------------------------------- child */

static void write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(10);
        b += w;
        n -= (size_t)w;
    }
}

typedef struct pending {
    uint64_t k[PENDING_MAX], seq[PENDING_MAX];
    size_t n;
} pending_t;

/* Reports (in order) every pending index whose write is durable. */
static void report(pending_t *pq, uint64_t durable, int fd)
{
    size_t i = 0;
    while (i < pq->n && pq->seq[i] <= durable)
        i++;
    if (i == 0)
        return;
    write_all(fd, pq->k, i * sizeof(uint64_t));
    memmove(pq->k, pq->k + i, (pq->n - i) * sizeof(uint64_t));
    memmove(pq->seq, pq->seq + i, (pq->n - i) * sizeof(uint64_t));
    pq->n -= i;
}

/* Never returns: writes [k0, k0 + cap), then waits for SIGKILL. */
static void child_run(const char *dir, uint64_t k0, uint64_t cap, int fd)
{
    eng_opts_t o;
    opts_for(&o, dir, true);
    eng_db_t *db = NULL;
    if (eng_open(&o, &db) < 0)
        _exit(3);
    static pending_t pq;
    pointbuf_t pb;
    uint64_t last = 0;
    for (uint64_t k = k0; k < k0 + cap; k++) {
        point_of(k, &pb);
        eng_write_res_t res;
        uint64_t seq = 0;
        int rc;
        while ((rc = eng_write(db, &pb.p, 1, &res, &seq)) == CN_EFULL)
            if (eng_wait_durable(db, last) < 0)
                _exit(4);
        if (rc < 0 || res.fields_ok != pb.p.nfields || seq == 0)
            _exit(5);
        last = seq;
        pq.k[pq.n] = k;
        pq.seq[pq.n++] = seq;
        /* Mostly pipelined (poll the durable sequence); wait now and then
         * so the pending queue stays bounded. */
        if (pq.n == PENDING_MAX || k % 61 == 0)
            if (eng_wait_durable(db, seq) < 0)
                _exit(6);
        report(&pq, eng_durable_seq(db), fd);
    }
    if (last && eng_wait_durable(db, last) < 0)
        _exit(7);
    report(&pq, UINT64_MAX, fd);
    for (;;)
        pause(); /* the parent's SIGKILL ends us */
}

/* ---------------------------------------------------------------- parent */

typedef struct crash {
    char dir[64];
    uint8_t *acked;   /* per index: acknowledged as durable */
    uint8_t *present; /* per index: seen after a recovery */
    uint64_t next_k;  /* first index of the next round */
    uint64_t issued;  /* indices below this may have been written */
    uint64_t nacked, nextra;
} crash_t;

static int field_id(const eng_field_info_t *fi, size_t n, const char *name, eng_type_t t)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(fi[i].name, name) == 0) {
            assert_int_equal(fi[i].type, t);
            return (int)fi[i].id;
        }
    }
    return -1;
}

/* Checks one row against index k's deterministic value.  col[] gives the
 * batch column of f, i, s, b (-1 when the field does not exist yet). */
static void check_row(uint64_t k, const eng_batch_t *b, uint32_t r, const int *col)
{
    char sbuf[64];
    const uint8_t *const *valid = b->valid;
    uint64_t u;
    assert_true(col[0] >= 0 && valid[col[0]][r]);
    memcpy(&u, &((const double *)b->vals[col[0]])[r], 8);
    if (u != f_bits(k))
        fail_msg("index %llu: f bits %016llx, want %016llx", (unsigned long long)k,
                 (unsigned long long)u, (unsigned long long)f_bits(k));
    assert_true(col[1] >= 0 && valid[col[1]][r]);
    assert_int_equal(((const int64_t *)b->vals[col[1]])[r], (int64_t)k);
    if (has_s(k)) {
        assert_true(col[2] >= 0 && valid[col[2]][r]);
        const eng_str_t *s = &((const eng_str_t *)b->vals[col[2]])[r];
        uint32_t n = s_of(k, sbuf, sizeof sbuf);
        if (s->len != n || memcmp(s->p, sbuf, n) != 0)
            fail_msg("index %llu: s \"%.*s\", want \"%s\" (whole_block %d, row %u of %u)",
                     (unsigned long long)k, (int)s->len, s->p, sbuf, b->whole_block, r, b->n);
    } else if (col[2] >= 0) {
        assert_false(valid[col[2]][r]);
    }
    assert_true(col[3] >= 0 && valid[col[3]][r]);
    assert_int_equal(((const uint8_t *)b->vals[col[3]])[r], (k / 3) & 1);
}

static void verify_series(crash_t *c, eng_snap_t *s, uint64_t sid, const int *col,
                          const uint32_t *ids, size_t nids, uint8_t *seen)
{
    const eng_tag_t *tags;
    uint32_t ntags;
    assert_int_equal(eng_snap_series_tags(s, sid, &tags, &ntags), 0);
    assert_int_equal(ntags, 1);
    assert_string_equal(tags[0].key, "device_id");
    unsigned dev = 0;
    assert_int_equal(sscanf(tags[0].val, "dev-%u", &dev), 1);
    assert_true(dev < NDEV);
    assert_false(seen[dev]); /* one series per tag set */
    seen[dev] = 1;
    eng_iter_t *it;
    assert_int_equal(eng_iter_open(s, sid, ids, nids, INT64_MIN, INT64_MAX, &it), 0);
    eng_batch_t b;
    int64_t prev = INT64_MIN;
    bool first = true;
    int rc;
    while ((rc = eng_iter_next(it, &b)) == 1) {
        for (uint32_t r = 0; r < b.n; r++) {
            uint64_t k = 0;
            if (!first && b.ts[r] <= prev)
                fail_msg("series dev-%u: ts %lld after %lld (duplicate or disorder)", dev,
                         (long long)b.ts[r], (long long)prev);
            first = false;
            prev = b.ts[r];
            if (!k_of_ts(b.ts[r], &k))
                fail_msg("series dev-%u: ts %lld belongs to no index", dev, (long long)b.ts[r]);
            if (k >= c->issued)
                fail_msg("index %llu present but never written", (unsigned long long)k);
            assert_int_equal(k % NDEV, dev);
            check_row(k, &b, r, col);
            if (!c->present[k] && !c->acked[k])
                c->nextra++;
            c->present[k] = 2; /* 2: seen in this verification */
        }
    }
    assert_int_equal(rc, 0);
    eng_iter_close(it);
}

/* Opens the directory and checks everything listed in the file comment. */
static void verify(crash_t *c, uint64_t *seed)
{
    eng_opts_t o;
    opts_for(&o, c->dir, false);
    eng_db_t *db;
    int rc = eng_open(&o, &db);
    if (rc < 0)
        fail_msg("recovery failed: eng_open: %s", cn_strerror(rc));
    eng_snap_t *s;
    assert_int_equal(eng_snap_open(db, &s), 0);
    const eng_field_info_t *fi;
    size_t nf = eng_snap_fields(s, "m", &fi);
    int fid[4] = {field_id(fi, nf, "f", ENG_T_FLOAT), field_id(fi, nf, "i", ENG_T_INT),
                  field_id(fi, nf, "s", ENG_T_STRING), field_id(fi, nf, "b", ENG_T_BOOL)};
    uint32_t ids[4];
    int col[4];
    size_t nids = 0;
    for (int f = 0; f < 4; f++) {
        col[f] = fid[f] >= 0 ? (int)nids : -1;
        if (fid[f] >= 0)
            ids[nids++] = (uint32_t)fid[f];
    }
    uint64_t *sids = NULL;
    int ns = eng_snap_select(s, "m", NULL, 0, &sids);
    assert_true(ns >= 0 && ns <= NDEV);
    uint8_t seen[NDEV] = {0};
    for (int i = 0; i < ns; i++)
        verify_series(c, s, sids[i], col, ids, nids, seen);
    cn_free(sids);
    for (uint64_t k = 0; k < c->issued; k++) {
        if (c->acked[k] && c->present[k] != 2)
            fail_msg("acknowledged index %llu (series dev-%llu, ts %lld) lost after crash",
                     (unsigned long long)k, (unsigned long long)(k % NDEV), (long long)ts_of(k));
        if (c->present[k] == 1)
            fail_msg("index %llu was recovered before but is gone now", (unsigned long long)k);
        if (c->present[k] == 2)
            c->present[k] = 1;
    }
    eng_snap_close(s);
    /* Sometimes compact before closing, so later rounds recover merged
     * segments as well as fresh flushes. */
    if (splitmix(seed) % 3 == 0)
        assert_int_equal(eng_compact(db), 0);
    eng_close(db);
    FILE *devnull = fopen("/dev/null", "w");
    assert_non_null(devnull);
    rc = eng_inspect(c->dir, false, devnull);
    fclose(devnull);
    if (rc != 0)
        fail_msg("eng_inspect after recovery + close: %s", cn_strerror(rc));
}

/* Reads acknowledgements until `target` arrived (or the child is done). */
static void read_acks(crash_t *c, int fd, uint64_t target, uint64_t cap)
{
    uint64_t got = 0, buf[512];
    size_t have = 0; /* bytes of a partial u64 in buf */
    while (got < target) {
        ssize_t r = read(fd, (uint8_t *)buf + have, sizeof buf - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            fail_msg("child stopped after %llu of %llu acknowledgements", (unsigned long long)got,
                     (unsigned long long)target);
        have += (size_t)r;
        size_t n = have / 8;
        for (size_t i = 0; i < n; i++) {
            uint64_t k = buf[i];
            assert_true(k >= c->next_k && k < c->next_k + cap);
            assert_false(c->acked[k]);
            c->acked[k] = 1;
            c->nacked++;
            got++;
        }
        memmove(buf, (uint8_t *)buf + n * 8, have - n * 8);
        have -= n * 8;
    }
}

static void one_round(crash_t *c, uint64_t *seed)
{
    /* Per-round shape: how many points the child may write and after how
     * many acknowledgements it dies. */
    uint64_t r = splitmix(seed), cap, target;
    switch (r % 5) {
    case 0:
        cap = splitmix(seed) % 50;
        target = 0;
        break;
    case 1:
        cap = 1 + splitmix(seed) % 20;
        target = splitmix(seed) % (cap + 1);
        break;
    case 2:
        cap = 200 + splitmix(seed) % 800;
        target = splitmix(seed) % (cap + 1);
        break;
    default:
        cap = 2000 + splitmix(seed) % 4000;
        target = cap / 2 + splitmix(seed) % (cap / 2 + 1);
        break;
    }
    if (c->next_k + cap > MAX_TOTAL)
        cap = MAX_TOTAL - c->next_k;
    target = CN_MIN(target, cap);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    c->issued = c->next_k + cap;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        signal(SIGPIPE, SIG_DFL);
        child_run(c->dir, c->next_k, cap, pfd[1]);
    }
    close(pfd[1]);
    read_acks(c, pfd[0], target, cap);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    close(pfd[0]);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
        fail_msg("child ended on its own (status %#x) instead of by SIGKILL", st);
    verify(c, seed);
    /* Continue past everything that could be in the directory. */
    c->next_k = c->issued;
}

static int rounds(void)
{
    const char *e = getenv("CAIRN_CRASH_ROUNDS");
    int n = e ? atoi(e) : DEF_ROUNDS;
    return n > 0 ? n : DEF_ROUNDS;
}

static void test_crash_recovery(void **state)
{
    (void)state;
    crash_t c = {0};
    snprintf(c.dir, sizeof c.dir, "/tmp/cairn-test-crash-XXXXXX");
    assert_non_null(mkdtemp(c.dir));
    c.acked = calloc(MAX_TOTAL, 1);
    c.present = calloc(MAX_TOTAL, 1);
    assert_true(c.acked && c.present);
    uint64_t seed = SEED;
    const char *es = getenv("CAIRN_CRASH_SEED");
    if (es)
        seed = strtoull(es, NULL, 0);
    int n = rounds();
    for (int i = 0; i < n && c.next_k < MAX_TOTAL; i++) {
        uint64_t before = c.nacked;
        one_round(&c, &seed);
        if (getenv("CAIRN_CRASH_VERBOSE"))
            fprintf(stderr, "round %d: %llu acked, %llu indices issued, %llu extra so far\n", i,
                    (unsigned long long)(c.nacked - before), (unsigned long long)c.issued,
                    (unsigned long long)c.nextra);
    }
    assert_true(c.nacked > 0);
    free(c.acked);
    free(c.present);
    assert_int_equal(cn_rmtree(c.dir), 0);
}

/* Series created only in the WAL (no flush before the crash) must reach
 * catalog.log when the recovered data is flushed: the flush drops the WAL
 * that held their catalog records.  Crash, recover + close (flush), reopen:
 * both series and their rows are still there. */
static void test_catalog_replayed_then_flushed(void **state)
{
    (void)state;
    char dir[] = "/tmp/cairn-test-crash-cat-XXXXXX";
    assert_non_null(mkdtemp(dir));
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        eng_opts_t o;
        opts_for(&o, dir, false);
        o.memtable_bytes = 64u << 20; /* nothing is flushed before the kill */
        eng_db_t *db = NULL;
        if (eng_open(&o, &db) < 0)
            _exit(3);
        static const eng_tag_t ta[] = {{"dev", "a"}}, tb[] = {{"dev", "b"}};
        eng_field_t f = {"v", ENG_T_FLOAT, {.f = 1.5}};
        eng_point_t pts[] = {{"m", ta, 1, 1000, &f, 1}, {"m", tb, 1, 2000, &f, 1}};
        eng_write_res_t wr;
        uint64_t seq = 0;
        if (eng_write(db, pts, 2, &wr, &seq) < 0 || eng_wait_durable(db, seq) < 0)
            _exit(4);
        write_all(pfd[1], "k", 1);
        for (;;)
            pause(); /* the parent's SIGKILL ends us */
    }
    close(pfd[1]);
    char ch = 0;
    assert_int_equal(read(pfd[0], &ch, 1), 1);
    close(pfd[0]);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    eng_opts_t o;
    opts_for(&o, dir, false);
    for (int round = 0; round < 2; round++) { /* recover + flush, then reopen */
        eng_db_t *db = NULL;
        assert_int_equal(eng_open(&o, &db), 0);
        eng_snap_t *s = NULL;
        assert_int_equal(eng_snap_open(db, &s), 0);
        uint64_t *ids = NULL;
        assert_int_equal(eng_snap_select(s, "m", NULL, 0, &ids), 2);
        for (int i = 0; i < 2; i++) {
            uint32_t fid = 0;
            eng_iter_t *it = NULL;
            assert_int_equal(eng_iter_open(s, ids[i], &fid, 1, INT64_MIN, INT64_MAX, &it), 0);
            eng_batch_t b;
            assert_int_equal(eng_iter_next(it, &b), 1);
            assert_int_equal(b.n, 1);
            assert_true(b.ts[0] == (i == 0 ? 1000 : 2000));
            assert_true(((const double *)b.vals[0])[0] == 1.5);
            eng_iter_close(it);
        }
        cn_free(ids);
        eng_snap_close(s);
        eng_close(db);
    }
    assert_int_equal(cn_rmtree(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalog_replayed_then_flushed),
        cmocka_unit_test(test_crash_recovery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
