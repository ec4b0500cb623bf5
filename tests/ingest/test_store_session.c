/* SPDX-License-Identifier: MIT */
/*
 * test_store_session.c - persistent sessions in the metadata store
 * (ingest/store/session.c, session_load.c): a full round trip through
 * close/reopen (header, subscriptions with every MQTT 5 option, messages in
 * each state, incoming QoS 2 ids), clean start by session_del, session and
 * message expiry at load, the per-session limits, durable_notify ordering
 * and argument checks.
 */
#include "store_check.h"

#include <sqlite3.h>

#define S_NS 1000000000LL

/* ------------------------------------------------------------ loading */

/* A deep copy of what the load callback saw, enough to assert on. */
typedef struct lsess {
    char cid[64];
    uint8_t proto;
    uint32_t expiry_s;
    int64_t disc;
    size_t nsubs, nmsgs, nq2;
    char filters[8][32];
    mq_sub_opts_t opts[8];
    mq_store_smsg_t msgs[8];
    char mtopic[8][32], mpayload[8][32], mprops[8][8];
    uint16_t q2[8];
} lsess_t;

typedef struct loaded {
    lsess_t s[16];
    size_t n;
} loaded_t;

static int load_cb(void *arg, const mq_store_session_t *s)
{
    loaded_t *l = arg;
    assert_true(l->n < 16);
    lsess_t *d = &l->s[l->n++];
    memset(d, 0, sizeof(*d));
    assert_true(s->sess.client_id_len < sizeof(d->cid));
    memcpy(d->cid, s->sess.client_id, s->sess.client_id_len);
    d->proto = s->sess.proto;
    d->expiry_s = s->sess.expiry_s;
    d->disc = s->sess.disconnect_ns;
    d->nsubs = s->nsubs;
    d->nmsgs = s->nmsgs;
    d->nq2 = s->nqos2;
    assert_true(s->nsubs <= 8 && s->nmsgs <= 8 && s->nqos2 <= 8);
    for (size_t i = 0; i < s->nsubs; i++) {
        memcpy(d->filters[i], s->sub_filters[i], s->sub_lens[i]);
        d->opts[i] = s->sub_opts[i];
    }
    for (size_t i = 0; i < s->nmsgs; i++) {
        d->msgs[i] = s->msgs[i];
        memcpy(d->mtopic[i], s->msgs[i].topic, s->msgs[i].topic_len);
        memcpy(d->mpayload[i], s->msgs[i].payload, s->msgs[i].payload_len);
        memcpy(d->mprops[i], s->msgs[i].props, s->msgs[i].props_len);
        d->msgs[i].topic = d->mtopic[i];
        d->msgs[i].payload = (const uint8_t *)d->mpayload[i];
        d->msgs[i].props = (const uint8_t *)d->mprops[i];
    }
    if (s->nqos2)
        memcpy(d->q2, s->qos2_pids, s->nqos2 * sizeof(uint16_t));
    return 0;
}

static void load(sfx_t *f, loaded_t *l)
{
    memset(l, 0, sizeof(*l));
    int n = mq_store_sessions_load(f->st, load_cb, l);
    assert_int_equal(n, (int)l->n);
}

static int64_t put_sess(sfx_t *f, const char *cid, uint8_t proto, uint32_t exp, int64_t disc)
{
    mq_store_sess_t s = {cid, strlen(cid), proto, exp, disc};
    return mq_store_session_put(f->st, &s);
}

static mq_store_smsg_t smsg(uint64_t mid, uint8_t state, uint8_t qos, uint16_t pid,
                            const char *topic, const char *payload)
{
    mq_store_smsg_t m = {
        .mid = mid,
        .state = state,
        .qos = qos,
        .pid = pid,
        .topic = topic,
        .topic_len = strlen(topic),
        .payload = (const uint8_t *)payload,
        .payload_len = strlen(payload),
    };
    return m;
}

/* ------------------------------------------------------------- tests */

static void test_roundtrip(void **state)
{
    sfx_t *f = *state;
    sfx_open(f);
    put_sess(f, "dev-1", 5, 3600, 0);
    mq_sub_opts_t o1 = {.qos = 2,
                        .no_local = true,
                        .retain_as_published = true,
                        .retain_handling = 2,
                        .sub_id = 268435455};
    mq_sub_opts_t o2 = {.qos = 1, .retain_handling = 1, .sub_id = 7};
    mq_sub_opts_t o3 = {.qos = 0};
    mq_store_sub_put(f->st, "dev-1", 5, "a/+/c", 5, &o1);
    mq_store_sub_put(f->st, "dev-1", 5, "$share/g/x/#", 12, &o2);
    mq_store_sub_put(f->st, "dev-1", 5, "gone", 4, &o3);
    mq_store_sub_del(f->st, "dev-1", 5, "gone", 4);
    mq_store_sub_put(f->st, "dev-1", 5, "a/+/c", 5, &o2); /* replace */
    mq_store_sub_put(f->st, "dev-1", 5, "a/+/c", 5, &o1); /* and back */

    mq_store_smsg_t m1 = smsg(10, MQ_SMSG_QUEUED, 1, 0, "t/1", "p1");
    const uint8_t props[] = {0x01, 0x01};
    m1.props = props;
    m1.props_len = 2;
    m1.retain = true;
    m1.expiry_ns = atomic_load(&f->now) + 3600 * S_NS;
    mq_store_smsg_t m2 = smsg(11, MQ_SMSG_QUEUED, 2, 0, "t/2", "p2");
    mq_store_smsg_t m3 = smsg(12, MQ_SMSG_QUEUED, 2, 0, "t/3", "p3");
    mq_store_smsg_t m4 = smsg(13, MQ_SMSG_PUBLISH_SENT, 1, 9, "t/4", "p4");
    mq_store_smsg_t m5 = smsg(14, MQ_SMSG_QUEUED, 1, 0, "t/5", "p5");
    mq_store_msg_put(f->st, "dev-1", 5, &m1);
    mq_store_msg_put(f->st, "dev-1", 5, &m2);
    mq_store_msg_put(f->st, "dev-1", 5, &m3);
    mq_store_msg_put(f->st, "dev-1", 5, &m4);
    mq_store_msg_put(f->st, "dev-1", 5, &m5);
    mq_store_msg_state(f->st, "dev-1", 5, 11, MQ_SMSG_PUBLISH_SENT, 3);
    mq_store_msg_state(f->st, "dev-1", 5, 12, MQ_SMSG_PUBLISH_SENT, 4);
    mq_store_msg_state(f->st, "dev-1", 5, 12, MQ_SMSG_PUBREL_SENT, 4);
    mq_store_msg_del(f->st, "dev-1", 5, 14, mq_store_smsg_bytes(&m5));
    mq_store_qos2_add(f->st, "dev-1", 5, 300);
    mq_store_qos2_add(f->st, "dev-1", 5, 2);
    mq_store_qos2_add(f->st, "dev-1", 5, 2); /* duplicate PUBLISH: once */
    mq_store_qos2_add(f->st, "dev-1", 5, 65535);
    mq_store_qos2_del(f->st, "dev-1", 5, 300);
    put_sess(f, "old-v311", 4, UINT32_MAX, atomic_load(&f->now));
    int64_t seq = put_sess(f, "dev-1", 5, 7200, atomic_load(&f->now) - S_NS); /* disconnect */
    sfx_sync(f, seq);

    uint32_t nm;
    uint64_t nb;
    mq_store_msg_usage(f->st, "dev-1", 5, &nm, &nb);
    assert_int_equal(nm, 4);
    assert_int_equal(nb, 4 * 5 + 2);

    sfx_reopen(f);
    loaded_t l;
    load(f, &l);
    assert_int_equal(l.n, 2);
    lsess_t *d = &l.s[0]; /* by client id: "dev-1" < "old-v311" */
    assert_string_equal(d->cid, "dev-1");
    assert_int_equal(d->proto, 5);
    assert_int_equal(d->expiry_s, 7200);
    assert_int_equal(d->disc, atomic_load(&f->now) - S_NS);
    assert_int_equal(d->nsubs, 2);
    assert_string_equal(d->filters[0], "$share/g/x/#");
    assert_int_equal(d->opts[0].qos, 1);
    assert_int_equal(d->opts[0].retain_handling, 1);
    assert_int_equal(d->opts[0].sub_id, 7);
    assert_false(d->opts[0].no_local);
    assert_string_equal(d->filters[1], "a/+/c");
    assert_int_equal(d->opts[1].qos, 2);
    assert_true(d->opts[1].no_local);
    assert_true(d->opts[1].retain_as_published);
    assert_int_equal(d->opts[1].retain_handling, 2);
    assert_int_equal(d->opts[1].sub_id, 268435455);

    assert_int_equal(d->nmsgs, 4);
    assert_int_equal(d->msgs[0].mid, 10);
    assert_int_equal(d->msgs[0].state, MQ_SMSG_QUEUED);
    assert_int_equal(d->msgs[0].pid, 0);
    assert_int_equal(d->msgs[0].qos, 1);
    assert_true(d->msgs[0].retain);
    assert_int_equal(d->msgs[0].expiry_ns, m1.expiry_ns);
    assert_string_equal(d->mtopic[0], "t/1");
    assert_string_equal(d->mpayload[0], "p1");
    assert_int_equal(d->msgs[0].props_len, 2);
    assert_memory_equal(d->mprops[0], props, 2);
    assert_int_equal(d->msgs[1].mid, 11);
    assert_int_equal(d->msgs[1].state, MQ_SMSG_PUBLISH_SENT);
    assert_int_equal(d->msgs[1].pid, 3);
    assert_int_equal(d->msgs[1].qos, 2);
    assert_false(d->msgs[1].retain);
    assert_string_equal(d->mpayload[1], "p2");
    assert_int_equal(d->msgs[2].mid, 12);
    assert_int_equal(d->msgs[2].state, MQ_SMSG_PUBREL_SENT);
    assert_int_equal(d->msgs[2].pid, 4);
    assert_int_equal(d->msgs[2].topic_len, 0); /* dropped in PUBREL_SENT */
    assert_int_equal(d->msgs[2].payload_len, 0);
    assert_int_equal(d->msgs[3].mid, 13);
    assert_int_equal(d->msgs[3].state, MQ_SMSG_PUBLISH_SENT);
    assert_int_equal(d->msgs[3].pid, 9);
    assert_int_equal(d->nq2, 2);
    assert_int_equal(d->q2[0], 2);
    assert_int_equal(d->q2[1], 65535);

    d = &l.s[1];
    assert_string_equal(d->cid, "old-v311");
    assert_int_equal(d->proto, 4);
    assert_int_equal(d->expiry_s, UINT32_MAX);
    assert_int_equal(d->nsubs + d->nmsgs + d->nq2, 0);

    /* The accounting is rebuilt from what was loaded. */
    mq_store_msg_usage(f->st, "dev-1", 5, &nm, &nb);
    assert_int_equal(nm, 4);
    assert_int_equal(nb, 3 * 5 + 2);

    /* Clean start: everything of the session goes. */
    sfx_sync(f, mq_store_session_del(f->st, "dev-1", 5));
    mq_store_msg_usage(f->st, "dev-1", 5, &nm, &nb);
    assert_int_equal(nm, 0);
    sfx_reopen(f);
    load(f, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.s[0].cid, "old-v311");
}

static void test_expiry_at_load(void **state)
{
    sfx_t *f = *state;
    sfx_open(f);
    int64_t now = atomic_load(&f->now);
    put_sess(f, "zero", 5, 0, now - S_NS);          /* ended at disconnect */
    put_sess(f, "short", 5, 10, now - 5 * S_NS);    /* 5 s left */
    put_sess(f, "expired", 5, 10, now - 10 * S_NS); /* exactly due */
    put_sess(f, "forever", 4, UINT32_MAX, now - 1000000 * S_NS);
    put_sess(f, "online", 5, 60, 0); /* server died under it */
    put_sess(f, "online0", 5, 0, 0);
    mq_store_smsg_t q1 = smsg(1, MQ_SMSG_QUEUED, 1, 0, "m/1", "x");
    q1.expiry_ns = now + 2 * S_NS;
    mq_store_smsg_t q2 = smsg(2, MQ_SMSG_PUBLISH_SENT, 1, 5, "m/2", "y");
    q2.expiry_ns = now + 2 * S_NS; /* in flight: delivery started, kept */
    mq_store_smsg_t q3 = smsg(3, MQ_SMSG_QUEUED, 1, 0, "m/3", "z");
    mq_store_msg_put(f->st, "forever", 7, &q1);
    mq_store_msg_put(f->st, "forever", 7, &q2);
    mq_store_msg_put(f->st, "forever", 7, &q3);
    mq_store_sub_put(f->st, "ghost", 5, "a", 1, &(mq_sub_opts_t){.qos = 1}); /* orphan */
    sfx_sync(f, mq_store_qos2_add(f->st, "expired", 7, 5));
    sfx_reopen(f);

    atomic_store(&f->now, now + 3 * S_NS);
    loaded_t l;
    load(f, &l);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.s[0].cid, "forever");
    assert_int_equal(l.s[0].nmsgs, 2);
    assert_int_equal(l.s[0].msgs[0].mid, 2);
    assert_int_equal(l.s[0].msgs[1].mid, 3);
    assert_string_equal(l.s[1].cid, "online");
    assert_int_equal(l.s[1].disc, now + 3 * S_NS); /* counts as disconnected at load */
    assert_string_equal(l.s[2].cid, "short");

    /* 60 s after the load the "online" session is gone, "short" long before. */
    atomic_store(&f->now, now + 63 * S_NS);
    load(f, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.s[0].cid, "forever");
}

static void test_limits(void **state)
{
    sfx_t *f = *state;
    f->o.session_max_msgs = 3;
    f->o.session_max_bytes = 40;
    sfx_open(f);
    put_sess(f, "c", 5, UINT32_MAX, 0);
    mq_store_smsg_t m = smsg(1, MQ_SMSG_QUEUED, 1, 0, "q/x", "0123456"); /* 10 bytes */
    for (uint64_t i = 1; i <= 3; i++) {
        m.mid = i;
        assert_true(mq_store_msg_put(f->st, "c", 1, &m) > 0);
    }
    m.mid = 4;
    assert_int_equal(mq_store_msg_put(f->st, "c", 1, &m), CN_EFULL);
    /* Another session has its own budget. */
    assert_true(mq_store_msg_put(f->st, "d", 1, &m) > 0);
    /* Acknowledge one: room for one more. */
    assert_true(mq_store_msg_del(f->st, "c", 1, 1, mq_store_smsg_bytes(&m)) > 0);
    assert_true(mq_store_msg_put(f->st, "c", 1, &m) > 0);
    m.mid = 5;
    assert_int_equal(mq_store_msg_put(f->st, "c", 1, &m), CN_EFULL);
    /* Bytes: 2 x 10 stored after this del; 21 more would exceed 40. */
    mq_store_msg_del(f->st, "c", 1, 2, 10);
    mq_store_smsg_t big = smsg(6, MQ_SMSG_QUEUED, 1, 0, "q/x", "012345678901234567"); /* 21 */
    assert_int_equal(mq_store_msg_put(f->st, "c", 1, &big), CN_EFULL);
    big.payload_len = 17; /* 20 bytes: 20 + 20 = 40 fits */
    int64_t seq = mq_store_msg_put(f->st, "c", 1, &big);
    assert_true(seq > 0);
    sfx_sync(f, seq);
    uint32_t nm;
    uint64_t nb;
    mq_store_msg_usage(f->st, "c", 1, &nm, &nb);
    assert_int_equal(nm, 3);
    assert_int_equal(nb, 40);
    /* The limits survive a restart through the loaded accounting. */
    sfx_reopen(f);
    loaded_t l;
    load(f, &l);
    assert_int_equal(l.n, 1); /* "d" has no session header: orphan, removed */
    assert_int_equal(l.s[0].nmsgs, 3);
    assert_int_equal(l.s[0].msgs[0].mid, 3);
    assert_int_equal(l.s[0].msgs[1].mid, 4);
    assert_int_equal(l.s[0].msgs[2].mid, 6);
    m.mid = 7;
    assert_int_equal(mq_store_msg_put(f->st, "c", 1, &m), CN_EFULL);
}

typedef struct notes {
    pthread_mutex_t mu;
    uint64_t last;
    int calls;
    bool monotonic;
} notes_t;

static void on_durable(void *arg, uint64_t seq)
{
    notes_t *n = arg;
    pthread_mutex_lock(&n->mu);
    if (seq < n->last)
        n->monotonic = false;
    n->last = seq;
    n->calls++;
    pthread_mutex_unlock(&n->mu);
}

static void test_durable_notify(void **state)
{
    sfx_t *f = *state;
    notes_t n = {.monotonic = true};
    pthread_mutex_init(&n.mu, NULL);
    f->o.durable_notify = on_durable;
    f->o.durable_arg = &n;
    f->o.fsync = true;
    sfx_open(f);
    int64_t seq = 0;
    for (int i = 0; i < 100; i++) {
        int64_t s = put_sess(f, "n", 5, 10, 0);
        assert_int_equal(s, seq + 1);
        seq = s;
    }
    sfx_sync(f, seq);
    pthread_mutex_lock(&n.mu);
    assert_true(n.monotonic);
    assert_int_equal(n.last, (uint64_t)seq);
    assert_true(n.calls >= 1 && n.calls <= 100);
    pthread_mutex_unlock(&n.mu);
    sfx_close(f);
    /* After close nothing is accepted: the store object is gone, a new one
     * continues the sequence from 1 (sequence numbers are per open). */
    sfx_open(f);
    assert_int_equal(put_sess(f, "n", 5, 10, 0), 1);
    sfx_close(f); /* n lives on this stack */
    pthread_mutex_destroy(&n.mu);
}

/* mq_store_watch: the watcher sees each commit with durable_seq already
 * published (the broker's Dekker pair relies on it), and nothing after it
 * was removed. */
typedef struct wnotes {
    notes_t n;
    mq_store_t *st;
    bool published; /* durable_seq >= the seq reported, every call */
} wnotes_t;

static void on_watch(void *arg, uint64_t seq)
{
    wnotes_t *w = arg;
    if (mq_store_durable_seq(w->st) < seq)
        w->published = false;
    on_durable(&w->n, seq);
}

static void test_watch(void **state)
{
    sfx_t *f = *state;
    sfx_open(f);
    wnotes_t w = {.n = {.monotonic = true}, .st = f->st, .published = true};
    pthread_mutex_init(&w.n.mu, NULL);
    mq_store_watch(f->st, on_watch, &w);
    int64_t seq = 0;
    for (int i = 0; i < 50; i++)
        seq = put_sess(f, "w", 5, 10, 0);
    sfx_sync(f, seq);
    pthread_mutex_lock(&w.n.mu);
    assert_true(w.published);
    assert_true(w.n.monotonic);
    assert_int_equal(w.n.last, (uint64_t)seq);
    int calls = w.n.calls;
    assert_true(calls >= 1 && calls <= 50);
    pthread_mutex_unlock(&w.n.mu);
    mq_store_watch(f->st, NULL, NULL);
    sfx_sync(f, put_sess(f, "w", 5, 10, 0));
    pthread_mutex_lock(&w.n.mu);
    assert_int_equal(w.n.calls, calls);
    pthread_mutex_unlock(&w.n.mu);
    sfx_close(f);
    pthread_mutex_destroy(&w.n.mu);
}

/* Another module keeps its own table in the same file through its own
 * connection, also while it holds the write lock for a while. */
static void test_shared_file(void **state)
{
    sfx_t *f = *state;
    sfx_open(f);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE other_rules(id INTEGER PRIMARY KEY, v TEXT)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE; INSERT INTO other_rules VALUES(1, 'a')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    /* The store's writes wait for the lock; they are not lost. */
    int64_t seq = put_sess(f, "shared", 5, 60, 0);
    assert_true(seq > 0);
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sfx_sync(f, seq);
    assert_int_equal(mq_store_error(f->st), 0);
    sfx_sync(f, put_sess(f, "shared2", 5, 60, 0));
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM mq_sessions", -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 2);
    sqlite3_finalize(q);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    sfx_reopen(f);
    loaded_t l;
    load(f, &l);
    assert_int_equal(l.n, 2);
}

static void test_bad_args(void **state)
{
    sfx_t *f = *state;
    sfx_open(f);
    mq_sub_opts_t o = {.qos = 1};
    mq_store_smsg_t m = smsg(1, MQ_SMSG_QUEUED, 1, 0, "a", "b");
    assert_int_equal(put_sess(f, "", 5, 0, 0), CN_EINVAL);
    assert_int_equal(put_sess(f, "x", 6, 0, 0), CN_EINVAL);
    assert_int_equal(put_sess(f, "x", 2, 0, 0), CN_EINVAL);
    assert_int_equal(mq_store_sub_put(f->st, "x", 1, "a/#/b", 5, &o), CN_EINVAL);
    o.qos = 3;
    assert_int_equal(mq_store_sub_put(f->st, "x", 1, "a", 1, &o), CN_EINVAL);
    o.qos = 0;
    o.sub_id = MQ_SUB_ID_MAX + 1;
    assert_int_equal(mq_store_sub_put(f->st, "x", 1, "a", 1, &o), CN_EINVAL);
    m.qos = 0;
    assert_int_equal(mq_store_msg_put(f->st, "x", 1, &m), CN_EINVAL);
    m.qos = 1;
    m.state = MQ_SMSG_PUBLISH_SENT; /* needs a packet id */
    assert_int_equal(mq_store_msg_put(f->st, "x", 1, &m), CN_EINVAL);
    m.pid = 1;
    m.state = MQ_SMSG_PUBREL_SENT; /* QoS 1 has no PUBREL */
    assert_int_equal(mq_store_msg_put(f->st, "x", 1, &m), CN_EINVAL);
    m.state = MQ_SMSG_QUEUED;
    m.topic = "a/+";
    m.topic_len = 3;
    assert_int_equal(mq_store_msg_put(f->st, "x", 1, &m), CN_EINVAL);
    assert_int_equal(mq_store_msg_state(f->st, "x", 1, 1, MQ_SMSG_QUEUED, 1), CN_EINVAL);
    assert_int_equal(mq_store_msg_state(f->st, "x", 1, 1, MQ_SMSG_PUBLISH_SENT, 0), CN_EINVAL);
    assert_int_equal(mq_store_qos2_add(f->st, "x", 1, 0), CN_EINVAL);
    assert_int_equal(mq_store_sessions_load(f->st, NULL, NULL), CN_EINVAL);
    assert_int_equal(mq_store_durable_seq(f->st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_expiry_at_load, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_limits, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_durable_notify, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_watch, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_shared_file, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_args, sfx_setup, sfx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
