/* SPDX-License-Identifier: MIT */
/*
 * test_sink_log.c - the durable sink log (ingest/sink/log*.c, record.c):
 * record encoding and parsing, append and read per sink, cursors across
 * reopen, sink ids, recovery from torn and corrupt tails, segment deletion
 * once every cursor passed, and both retention policies.
 *
 * Nothing sleeps: mq_sink_log_wait() and mq_sink_log_sync() return once
 * the writer thread finished the cycle that covers the call.
 */
#include "sink/sink.h"

#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct fx {
    char dir[64];
    mq_sink_log_opts_t o;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cairn-sinklog-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->o.dir = f->dir;
    f->o.no_fsync = false;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    cn_rmtree(f->dir);
    free(f);
    return 0;
}

static mq_sink_log_t *open_log(fx_t *f, const char *const *names, uint16_t *ids, int n)
{
    mq_sink_log_t *log = NULL;
    assert_int_equal(mq_sink_log_open(&f->o, &log), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(mq_sink_log_sink(log, names[i], &ids[i]), 0);
    assert_int_equal(mq_sink_log_start(log, NULL, NULL), 0);
    return log;
}

static uint64_t append(mq_sink_log_t *log, uint16_t sink, const char *key, const char *payload)
{
    mq_sink_rec_t r = {.sink = sink,
                       .ts_ns = 1000,
                       .key = (const uint8_t *)key,
                       .key_len = strlen(key),
                       .payload = (const uint8_t *)payload,
                       .payload_len = strlen(payload)};
    uint64_t seq = 0;
    assert_int_equal(mq_sink_log_append(log, &r, &seq), 0);
    return seq;
}

static void expect_rec(const mq_sink_rec_t *r, uint64_t seq, const char *key, const char *payload)
{
    assert_int_equal(r->seq, seq);
    assert_int_equal(r->key_len, strlen(key));
    assert_memory_equal(r->key, key, r->key_len);
    assert_int_equal(r->payload_len, strlen(payload));
    assert_memory_equal(r->payload, payload, r->payload_len);
}

/* Reads every durable record of `id` from `from`. */
static void read_all(mq_sink_log_t *log, uint16_t id, uint64_t from, mq_sink_batch_t *out)
{
    mq_sink_pos_t pos = {.fd = -1};
    mq_sink_log_seek(&pos, from);
    mq_sink_batch_t b;
    mq_sink_batch_init(&b);
    mq_sink_batch_init(out);
    for (;;) {
        int n = mq_sink_log_read(log, &pos, id, 4096, &b);
        assert_true(n >= 0);
        out->skipped += b.skipped;
        for (int i = 0; i < n; i++) {
            mq_sink_rec_t r = b.recs[i];
            /* re-home into out through the encoder/parser pair */
            if (out->n == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 64;
                out->recs = realloc(out->recs, out->cap * sizeof *out->recs);
            }
            cn_buf_t enc;
            cn_buf_init(&enc);
            mq_sink_rec_encode(&r, &enc);
            size_t used;
            uint8_t *copy = malloc(enc.len);
            memcpy(copy, enc.p, enc.len);
            assert_int_equal(mq_sink_rec_parse(copy, enc.len, &out->recs[out->n], &used), 0);
            assert_int_equal(used, enc.len);
            out->n++;
            cn_buf_free(&enc);
        }
        if (n == 0 && b.skipped == 0)
            break;
    }
    mq_sink_batch_free(&b);
    mq_sink_pos_close(&pos);
}

static void free_all(mq_sink_batch_t *b)
{
    for (uint32_t i = 0; i < b->n; i++)
        free((void *)(b->recs[i].key - MQ_SINK_REC_HDR));
    free(b->recs);
    cn_buf_free(&b->data);
}

static void test_record_roundtrip(void **state)
{
    (void)state;
    mq_sink_rec_t r = {.seq = 7,
                       .ts_ns = -5,
                       .sink = 3,
                       .key = (const uint8_t *)"dev1",
                       .key_len = 4,
                       .topic = (const uint8_t *)"t",
                       .topic_len = 1,
                       .payload = (const uint8_t *)"{\"a\":1}",
                       .payload_len = 7};
    cn_buf_t b;
    cn_buf_init(&b);
    mq_sink_rec_encode(&r, &b);
    assert_int_equal(b.len, MQ_SINK_REC_HDR + 12);
    mq_sink_rec_t o;
    size_t used;
    assert_int_equal(mq_sink_rec_parse(b.p, b.len, &o, &used), 0);
    assert_int_equal(used, b.len);
    assert_int_equal(o.seq, 7);
    assert_int_equal(o.ts_ns, -5);
    assert_int_equal(o.sink, 3);
    assert_memory_equal(o.topic, "t", 1);
    expect_rec(&o, 7, "dev1", "{\"a\":1}");
    for (size_t cut = 0; cut < b.len; cut++)
        assert_int_equal(mq_sink_rec_parse(b.p, cut, &o, &used), CN_ETRUNC);
    for (size_t i = 0; i < b.len; i++) {
        if (i >= 4 && i < 8)
            continue; /* the length field: a flip reads as truncation or corruption */
        b.p[i] ^= 0x40;
        assert_int_equal(mq_sink_rec_parse(b.p, b.len, &o, &used), CN_ECORRUPT);
        b.p[i] ^= 0x40;
    }
    cn_buf_free(&b);
}

static void test_append_read_two_sinks(void **state)
{
    fx_t *f = *state;
    const char *names[] = {"alerts", "lake"};
    uint16_t ids[2];
    mq_sink_log_t *log = open_log(f, names, ids, 2);
    assert_int_not_equal(ids[0], ids[1]);
    char key[16], pay[32];
    uint64_t last = 0;
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "d%d", i % 7);
        snprintf(pay, sizeof pay, "{\"i\":%d}", i);
        last = append(log, ids[i % 2], key, pay);
        assert_int_equal(last, (uint64_t)i + 1);
    }
    assert_int_equal(mq_sink_log_wait(log, last), 0);
    assert_int_equal(mq_sink_log_durable(log), 101);
    mq_sink_batch_t got;
    read_all(log, ids[1], 1, &got);
    assert_int_equal(got.n, 50);
    for (int i = 0; i < 50; i++) {
        int k = 2 * i + 1;
        snprintf(key, sizeof key, "d%d", k % 7);
        snprintf(pay, sizeof pay, "{\"i\":%d}", k);
        expect_rec(&got.recs[i], (uint64_t)k + 1, key, pay);
    }
    free_all(&got);
    /* Unknown sink id and oversize payload. */
    mq_sink_rec_t r = {.sink = 999};
    assert_int_equal(mq_sink_log_append(log, &r, NULL), CN_ENOTFOUND);
    r.sink = ids[0];
    r.payload_len = MQ_SINK_MAX_PAYLOAD + 1;
    assert_int_equal(mq_sink_log_append(log, &r, NULL), CN_ELIMIT);
    mq_sink_log_close(log);
}

static void test_cursor_persists(void **state)
{
    fx_t *f = *state;
    const char *names[] = {"a", "b"};
    uint16_t ids[2], ids2[3];
    mq_sink_log_t *log = open_log(f, names, ids, 2);
    for (int i = 0; i < 10; i++)
        append(log, ids[0], "k", "v");
    mq_sink_log_commit(log, ids[0], 6);
    mq_sink_log_commit(log, ids[0], 4); /* ignored: cursors only grow */
    assert_int_equal(mq_sink_log_cursor(log, ids[0]), 6);
    mq_sink_log_close(log);

    const char *names2[] = {"b", "a", "c"};
    log = open_log(f, names2, ids2, 3);
    assert_int_equal(ids2[0], ids[1]);
    assert_int_equal(ids2[1], ids[0]);
    assert_int_equal(ids2[2], 2);
    assert_int_equal(mq_sink_log_cursor(log, ids[0]), 6);
    assert_int_equal(append(log, ids[0], "k", "after"), 11);
    mq_sink_log_close(log);

    /* "b" and "c" are dropped when not registered; ids are never reused. */
    const char *names3[] = {"d"};
    uint16_t id3;
    log = open_log(f, names3, &id3, 1);
    assert_int_equal(id3, 3);
    assert_int_equal(mq_sink_log_cursor(log, ids[1]), 0);
    mq_sink_log_close(log);
}

static char *only_segment(fx_t *f)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls %s/*.seg", f->dir);
    FILE *p = popen(cmd, "r");
    static char path[PATH_MAX];
    assert_non_null(fgets(path, sizeof path, p));
    path[strcspn(path, "\n")] = 0;
    char extra[PATH_MAX];
    assert_null(fgets(extra, sizeof extra, p));
    pclose(p);
    return path;
}

static void damage_tail(void **state, int how)
{
    fx_t *f = *state;
    const char *names[] = {"a"};
    uint16_t id;
    mq_sink_log_t *log = open_log(f, names, &id, 1);
    for (int i = 0; i < 10; i++)
        append(log, id, "key", "payload-0123456789");
    mq_sink_log_close(log);
    char *path = only_segment(f);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    size_t rec = MQ_SINK_REC_HDR + 3 + 18;
    assert_int_equal(st.st_size, MQ_SINK_SEG_HDR + 10 * rec);
    int fd = open(path, O_RDWR);
    if (how == 0) {
        assert_int_equal(ftruncate(fd, st.st_size - 5), 0); /* torn write */
    } else {
        uint8_t b = 0xff; /* bit rot in the last payload byte */
        assert_int_equal(pwrite(fd, &b, 1, st.st_size - 1), 1);
    }
    close(fd);

    log = open_log(f, names, &id, 1);
    mq_sink_log_stats_t s;
    mq_sink_log_stats(log, &s);
    assert_int_equal(s.truncated, how == 0 ? rec - 5 : rec);
    /* The cursor file announced seq 11 at close: the lost seq 10 is not
     * reused, the next record starts a new segment. */
    assert_int_equal(s.next_seq, 11);
    assert_int_equal(append(log, id, "key", "new"), 11);
    assert_int_equal(mq_sink_log_wait(log, 11), 0);
    mq_sink_batch_t got;
    read_all(log, id, 1, &got);
    assert_int_equal(got.n, 10);
    expect_rec(&got.recs[8], 9, "key", "payload-0123456789");
    expect_rec(&got.recs[9], 11, "key", "new");
    free_all(&got);
    mq_sink_log_close(log);
}

static void test_torn_tail(void **state)
{
    damage_tail(state, 0);
}

static void test_corrupt_tail(void **state)
{
    damage_tail(state, 1);
}

static void test_segments_deleted_when_passed(void **state)
{
    fx_t *f = *state;
    f->o.segment_bytes = 512;
    const char *names[] = {"a", "b"};
    uint16_t ids[2];
    mq_sink_log_t *log = open_log(f, names, ids, 2);
    uint64_t last = 0;
    for (int i = 0; i < 60; i++) {
        last = append(log, ids[i % 2], "k", "0123456789012345678901234567890123456789");
        assert_int_equal(mq_sink_log_wait(log, last), 0); /* one batch each: rolls */
    }
    mq_sink_log_stats_t s;
    mq_sink_log_stats(log, &s);
    uint64_t segs = s.segments;
    assert_true(segs > 5);
    mq_sink_log_commit(log, ids[0], last + 1);
    assert_int_equal(mq_sink_log_sync(log), 0);
    mq_sink_log_stats(log, &s);
    assert_int_equal(s.segments, segs); /* b has delivered nothing */
    mq_sink_log_commit(log, ids[1], last + 1);
    assert_int_equal(mq_sink_log_sync(log), 0);
    mq_sink_log_stats(log, &s);
    assert_int_equal(s.segments, 1); /* only the active one stays */
    assert_int_equal(s.dropped, 0);
    mq_sink_log_close(log);
}

static void test_retention_drop_oldest(void **state)
{
    fx_t *f = *state;
    f->o.segment_bytes = 600;
    f->o.max_bytes = 2000;
    f->o.policy = MQ_SINK_DROP_OLDEST;
    const char *names[] = {"slow"};
    uint16_t id;
    mq_sink_log_t *log = open_log(f, names, &id, 1);
    uint64_t last = 0;
    char pay[64];
    for (int i = 0; i < 100; i++) {
        snprintf(pay, sizeof pay, "payload-%03d-0123456789012345678901234567", i);
        last = append(log, id, "k", pay);
        assert_int_equal(mq_sink_log_wait(log, last), 0);
    }
    assert_int_equal(mq_sink_log_sync(log), 0);
    mq_sink_log_stats_t s;
    mq_sink_log_stats(log, &s);
    assert_true(s.bytes <= 2000 + 600);
    assert_true(s.dropped > 0);
    assert_int_equal(mq_sink_log_dropped(log, id), s.dropped);
    /* The cursor jumped over exactly the dropped records. */
    assert_int_equal(mq_sink_log_cursor(log, id), s.dropped + 1);
    mq_sink_batch_t got;
    read_all(log, id, 1, &got);
    assert_int_equal(got.skipped, s.dropped);
    assert_int_equal(got.n, 100 - s.dropped);
    snprintf(pay, sizeof pay, "payload-%03d-0123456789012345678901234567", (int)s.dropped);
    expect_rec(&got.recs[0], s.dropped + 1, "k", pay);
    expect_rec(&got.recs[got.n - 1], 100, "k",
               "payload-099-0123456789012345678901234567");
    free_all(&got);
    mq_sink_log_close(log);
}

static void test_retention_stop(void **state)
{
    fx_t *f = *state;
    f->o.segment_bytes = 600;
    f->o.max_bytes = 1500;
    f->o.policy = MQ_SINK_STOP;
    const char *names[] = {"slow"};
    uint16_t id;
    mq_sink_log_t *log = open_log(f, names, &id, 1);
    mq_sink_rec_t r = {.sink = id,
                       .key = (const uint8_t *)"k",
                       .key_len = 1,
                       .payload = (const uint8_t *)"0123456789012345678901234567890123456789",
                       .payload_len = 40};
    uint64_t seq = 0, ok = 0;
    int rc;
    while ((rc = mq_sink_log_append(log, &r, &seq)) == 0) {
        ok++;
        assert_int_equal(mq_sink_log_wait(log, seq), 0);
        assert_true(ok < 1000);
    }
    assert_int_equal(rc, CN_EFULL);
    mq_sink_log_stats_t s;
    mq_sink_log_stats(log, &s);
    assert_true(s.refusing);
    assert_int_equal(s.rejected, 1);
    assert_int_equal(s.dropped, 0);
    assert_true(s.bytes > 1500);
    assert_int_equal(mq_sink_log_append(log, &r, NULL), CN_EFULL);
    /* Delivery catches up: appends are accepted again, nothing was lost. */
    mq_sink_log_commit(log, id, seq + 1);
    assert_int_equal(mq_sink_log_sync(log), 0);
    mq_sink_log_stats(log, &s);
    assert_false(s.refusing);
    assert_int_equal(s.rejected, 2);
    assert_int_equal(mq_sink_log_append(log, &r, &seq), 0);
    assert_int_equal(seq, ok + 1);
    mq_sink_log_close(log);
}

static void test_reopen_continues_seq_after_full_delete(void **state)
{
    fx_t *f = *state;
    f->o.segment_bytes = 200;
    const char *names[] = {"a"};
    uint16_t id;
    mq_sink_log_t *log = open_log(f, names, &id, 1);
    uint64_t last = 0;
    for (int i = 0; i < 20; i++) {
        last = append(log, id, "k", "0123456789012345678901234567890123456789");
        assert_int_equal(mq_sink_log_wait(log, last), 0);
    }
    mq_sink_log_commit(log, id, last + 1);
    mq_sink_log_close(log);
    log = open_log(f, names, &id, 1);
    assert_int_equal(mq_sink_log_cursor(log, id), 21);
    assert_int_equal(append(log, id, "k", "x"), 21);
    assert_int_equal(mq_sink_log_wait(log, 21), 0);
    mq_sink_batch_t got;
    read_all(log, id, 21, &got);
    assert_int_equal(got.n, 1);
    expect_rec(&got.recs[0], 21, "k", "x");
    free_all(&got);
    mq_sink_log_close(log);
}

/* A settable wall clock for the age limit. */
static int64_t fake_now(void *arg)
{
    return *(const int64_t *)arg;
}

/*
 * Age retention counts from when a record entered the log, not from the
 * record's own timestamp: rule actions and the stream carry the message's
 * event time, which may be months old (backfill, device clocks).  Such a
 * record must not be dropped as "older than sink-log-max-age" the moment
 * the writer's housekeeping runs before the sink delivered it.
 */
static void test_retention_age_counts_from_append(void **state)
{
    fx_t *f = *state;
    const int64_t day = 86400LL * 1000000000LL;
    int64_t now = 1795651200LL * 1000000000LL; /* 2026-11-26 */
    f->o.clock = (cn_clock_t){.now_ns = fake_now, .arg = &now};
    f->o.max_age_ns = 7 * day;
    f->o.policy = MQ_SINK_DROP_OLDEST;
    const char *names[] = {"slow"};
    uint16_t id;
    mq_sink_log_t *log = open_log(f, names, &id, 1);
    mq_sink_rec_t r = {.sink = id,
                       .ts_ns = now - 329 * day, /* event time: 2026-01-01 */
                       .key = (const uint8_t *)"d7",
                       .key_len = 2,
                       .payload = (const uint8_t *)"first",
                       .payload_len = 5};
    uint64_t s1 = 0, s2 = 0, s3 = 0;
    assert_int_equal(mq_sink_log_append(log, &r, &s1), 0);
    assert_int_equal(mq_sink_log_wait(log, s1), 0);
    assert_int_equal(mq_sink_log_sync(log), 0); /* housekeeping ran */
    r.payload = (const uint8_t *)"second";
    r.payload_len = 6;
    assert_int_equal(mq_sink_log_append(log, &r, &s2), 0);
    assert_int_equal(mq_sink_log_wait(log, s2), 0);
    assert_int_equal(mq_sink_log_sync(log), 0);
    mq_sink_log_stats_t st;
    mq_sink_log_stats(log, &st);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(mq_sink_log_cursor(log, id), s1);
    mq_sink_batch_t got;
    read_all(log, id, s1, &got);
    assert_int_equal(got.skipped, 0);
    assert_int_equal(got.n, 2);
    expect_rec(&got.recs[0], s1, "d7", "first");
    expect_rec(&got.recs[1], s2, "d7", "second");
    assert_int_equal(got.recs[0].ts_ns, now - 329 * day); /* the caller's ts is kept */
    free_all(&got);

    /* Eight days later both are past the limit by the log's clock: the
     * segment is sealed at the next write and then dropped. */
    now += 8 * day;
    assert_int_equal(mq_sink_log_sync(log), 0);
    r.payload = (const uint8_t *)"third";
    r.payload_len = 5;
    assert_int_equal(mq_sink_log_append(log, &r, &s3), 0);
    assert_int_equal(mq_sink_log_wait(log, s3), 0);
    assert_int_equal(mq_sink_log_sync(log), 0);
    mq_sink_log_stats(log, &st);
    assert_int_equal(st.dropped, 2);
    assert_int_equal(mq_sink_log_dropped(log, id), 2);
    assert_int_equal(mq_sink_log_cursor(log, id), s3);
    mq_sink_log_close(log);
}

int main(void)
{
    cn_log_set_level(CN_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_roundtrip),
        cmocka_unit_test_setup_teardown(test_append_read_two_sinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cursor_persists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segments_deleted_when_passed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_drop_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_age_counts_from_append, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_continues_seq_after_full_delete, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
