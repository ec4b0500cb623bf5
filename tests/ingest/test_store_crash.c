/* SPDX-License-Identifier: MIT */
/*
 * test_store_crash.c - crash safety of the metadata store: a forked child
 * writes retained messages and queued session messages as fast as it can
 * and reports through a pipe each sequence number it saw durable
 * (mq_store_sync); the parent SIGKILLs it at an arbitrary point, reopens
 * the database and checks that everything reported durable is there with
 * the exact bytes, and that nothing half-written is visible.  Runs with
 * synchronous=NORMAL and with FULL: both survive the death of the process.
 */
#include "store_check.h"

#include <signal.h>
#include <sys/wait.h>

#define CID "crash-client"

static void payload_of(int i, char *out, size_t cap)
{
    snprintf(out, cap, "payload-%d-%0*d", i, i % 40, 0);
}

/* The child: never returns. */
static void child(sfx_t *f, int wfd)
{
    mq_store_t *st = NULL;
    if (mq_store_open(&f->o, &st) < 0)
        _exit(2);
    mq_store_sess_t s = {CID, strlen(CID), 5, UINT32_MAX, 0};
    if (mq_store_session_put(st, &s) < 0)
        _exit(3);
    char topic[32], pl[64];
    for (int i = 0; i < 1000000; i++) {
        snprintf(topic, sizeof(topic), "crash/%d", i);
        payload_of(i, pl, sizeof(pl));
        mq_store_retain_t r = {topic, strlen(topic),       1,         0, NULL,
                               0,     (const uint8_t *)pl, strlen(pl)};
        int64_t seq;
        while ((seq = mq_store_retain_set(st, &r)) == CN_EFULL)
            mq_store_sync(st, mq_store_durable_seq(st) + 1);
        mq_store_smsg_t m = {.mid = (uint64_t)i,
                             .qos = 1,
                             .topic = topic,
                             .topic_len = strlen(topic),
                             .payload = (const uint8_t *)pl,
                             .payload_len = strlen(pl)};
        while ((seq = mq_store_msg_put(st, CID, strlen(CID), &m)) == CN_EFULL)
            mq_store_sync(st, mq_store_durable_seq(st) + 1);
        if (seq < 0)
            _exit(4);
        if (i % 25 == 24) {
            if (mq_store_sync(st, (uint64_t)seq) < 0)
                _exit(5);
            if (write(wfd, &i, sizeof(i)) != sizeof(i))
                _exit(6);
        }
    }
    _exit(0);
}

static int count_cb(void *arg, const mq_store_session_t *s)
{
    int acked = *(int *)arg;
    assert_int_equal(s->sess.client_id_len, strlen(CID));
    assert_true(s->nmsgs >= (size_t)acked + 1);
    char pl[64], topic[32];
    for (size_t k = 0; k < s->nmsgs; k++) {
        const mq_store_smsg_t *m = &s->msgs[k];
        assert_int_equal(m->mid, k); /* no gaps: transactions are all or nothing */
        payload_of((int)k, pl, sizeof(pl));
        snprintf(topic, sizeof(topic), "crash/%zu", k);
        assert_int_equal(m->payload_len, strlen(pl));
        assert_memory_equal(m->payload, pl, strlen(pl));
        assert_int_equal(m->topic_len, strlen(topic));
        assert_memory_equal(m->topic, topic, strlen(topic));
    }
    *(int *)arg = (int)s->nmsgs;
    return 0;
}

static void crash_once(sfx_t *f, int kill_after)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child(f, p[1]);
    }
    close(p[1]);
    int acked = -1, v;
    while (acked < kill_after && read(p[0], &v, sizeof(v)) == sizeof(v))
        acked = v;
    kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    close(p[0]);
    assert_true(acked >= kill_after);

    sfx_open(f);
    coll_t c;
    sfx_match(f, "crash/+", &c);
    assert_true(c.n >= (size_t)acked + 1);
    int stored = acked;
    assert_int_equal(mq_store_sessions_load(f->st, count_cb, &stored), 1);
    /* Every retained message present is intact; the acknowledged ones all are. */
    char pl[64];
    int present = 0;
    for (size_t k = 0; k < c.n; k++) {
        int i = atoi(c.v[k]->topic + 6);
        payload_of(i, pl, sizeof(pl));
        assert_int_equal(c.v[k]->payload_len, strlen(pl));
        assert_memory_equal(c.v[k]->payload, pl, strlen(pl));
        present += i <= acked;
    }
    assert_int_equal(present, acked + 1);
    /* The queue of the session and the retained set were written together. */
    assert_true(c.n == (size_t)stored || c.n == (size_t)stored + 1);
    coll_free(&c);
    sfx_close(f);
}

static void test_sigkill_normal(void **state)
{
    sfx_t *f = *state;
    crash_once(f, SLOW_BUILD ? 200 : 2000);
}

static void test_sigkill_fsync(void **state)
{
    sfx_t *f = *state;
    f->o.fsync = true;
    crash_once(f, SLOW_BUILD ? 100 : 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sigkill_normal, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_fsync, sfx_setup, sfx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
