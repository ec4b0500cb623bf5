/* SPDX-License-Identifier: MIT */
/*
 * test_auth_acl.c - the ACL file (ingest/auth/acl.c): a decision matrix over
 * users, anonymous clients, %u/%c patterns, deny rules, wildcards and '$'
 * topics; every parse diagnostic with its FILE:LINE text; and a randomized
 * cross-check of the subscribe rule ("filter within a read rule, no overlap
 * with a deny rule") against brute force over a bounded topic universe.
 */
#include "auth/auth.h"

#include <stdio.h>
#include <stdlib.h>

/* cmocka.h needs these first; keep clang-format from sorting them after it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

static mq_auth_acl_t *parse_ok(const char *text)
{
    mq_auth_acl_t *acl = NULL;
    assert_int_equal(mq_auth_acl_parse("acl", text, strlen(text), stderr, &acl), 0);
    return acl;
}

static mq_auth_view_t *view(const mq_auth_acl_t *acl, const char *user, const char *client)
{
    mq_auth_view_t *v = NULL;
    assert_int_equal(
        mq_auth_view_new(acl, user, user ? strlen(user) : 0, client, strlen(client), &v), 0);
    return v;
}

static bool can(mq_auth_view_t *v, int access, const char *topic)
{
    return mq_auth_view_allows(v, access, topic, strlen(topic));
}

/* The view's answer, checked against the view-less mq_auth_acl_allows. */
static bool both(const mq_auth_acl_t *acl, mq_auth_view_t *v, const char *user, const char *client,
                 int access, const char *topic)
{
    bool a = can(v, access, topic);
    bool b = mq_auth_acl_allows(acl, user, user ? strlen(user) : 0, client, strlen(client), access,
                                topic, strlen(topic));
    if (a != b)
        fail_msg("view and direct check differ on '%s' (access %d): %d vs %d", topic, access, a, b);
    return a;
}

static const char ACL[] = "# anonymous section\n"
                          "topic read public/#\n"
                          "topic read $SYS/broker/uptime\n"
                          "\n"
                          "user alice\n"
                          "topic readwrite home/#\n"
                          "topic deny home/secret/#\n"
                          "topic write cmd/+/set\n"
                          "topic read #\n"
                          "\n"
                          "user bob\n"
                          "topic home/kitchen\n"
                          "pattern write devices/%u/%c/up\n"
                          "pattern read devices/%u/%c/down/#\n"
                          "pattern read clients/%c\n"
                          "pattern deny devices/%u/banned\n"
                          "user with space\n"
                          "topic read a b/c d\n"
                          "user alice\n"
                          "topic write extra/merged\n";

static void test_matrix(void **state)
{
    (void)state;
    mq_auth_acl_t *acl = parse_ok(ACL);
    assert_int_equal(mq_auth_acl_count(acl), 13);
    static const struct {
        const char *user; /* NULL = anonymous */
        const char *client;
        int access;
        const char *topic;
        bool allowed;
    } m[] = {
        /* anonymous: its section plus patterns without %u */
        {NULL, "c1", MQ_AUTH_READ, "public/x", true},
        {NULL, "c1", MQ_AUTH_READ, "public", true}, /* '#' matches the parent */
        {NULL, "c1", MQ_AUTH_WRITE, "public/x", false},
        {NULL, "c1", MQ_AUTH_SUBSCRIBE, "public/#", true},
        {NULL, "c1", MQ_AUTH_SUBSCRIBE, "public/+/x", true},
        {NULL, "c1", MQ_AUTH_SUBSCRIBE, "#", false},
        {NULL, "c1", MQ_AUTH_SUBSCRIBE, "+/x", false},
        {NULL, "c1", MQ_AUTH_READ, "$SYS/broker/uptime", true},
        {NULL, "c1", MQ_AUTH_SUBSCRIBE, "$SYS/broker/uptime", true},
        {NULL, "c1", MQ_AUTH_SUBSCRIBE, "$SYS/broker/+", false},
        {NULL, "c1", MQ_AUTH_READ, "clients/c1", true}, /* %c pattern */
        {NULL, "c1", MQ_AUTH_READ, "clients/c2", false},
        {NULL, "c1", MQ_AUTH_WRITE, "devices//c1/up", false}, /* %u: no user, no pattern */
        {NULL, "c1", MQ_AUTH_READ, "home/x", false},
        /* alice: deny wins over readwrite and read # */
        {"alice", "a1", MQ_AUTH_WRITE, "home/lamp", true},
        {"alice", "a1", MQ_AUTH_READ, "home/lamp", true},
        {"alice", "a1", MQ_AUTH_WRITE, "home/secret", false},
        {"alice", "a1", MQ_AUTH_READ, "home/secret/key", false},
        {"alice", "a1", MQ_AUTH_READ, "anything/else", true},
        {"alice", "a1", MQ_AUTH_WRITE, "anything/else", false},
        {"alice", "a1", MQ_AUTH_READ, "$SYS/broker/uptime", false}, /* '#' skips '$' */
        {"alice", "a1", MQ_AUTH_READ, "public/x", true},            /* via "#" */
        {"alice", "a1", MQ_AUTH_WRITE, "cmd/fan/set", true},
        {"alice", "a1", MQ_AUTH_WRITE, "cmd/fan/get", false},
        {"alice", "a1", MQ_AUTH_WRITE, "cmd/set", false},
        {"alice", "a1", MQ_AUTH_WRITE, "extra/merged", true}, /* second section merged */
        {"alice", "a1", MQ_AUTH_SUBSCRIBE, "home/lamp/#", true},
        {"alice", "a1", MQ_AUTH_SUBSCRIBE, "home/#", false}, /* overlaps the deny */
        {"alice", "a1", MQ_AUTH_SUBSCRIBE, "home/+/key", false},
        {"alice", "a1", MQ_AUTH_SUBSCRIBE, "#", false},
        {"alice", "a1", MQ_AUTH_SUBSCRIBE, "x/#", true},
        {"alice", "a1", MQ_AUTH_SUBSCRIBE, "$share/g/x/#", true},
        {"alice", "a1", MQ_AUTH_SUBSCRIBE, "$share/g/home/#", false},
        {"alice", "a1", MQ_AUTH_SUBSCRIBE, "$share/g", false},
        {"alice", "a1", MQ_AUTH_SUBSCRIBE, "$SYS/#", false},
        {"alice", "a1", MQ_AUTH_READ, "clients/a1", true},
        /* bob: patterns with both substitutions */
        {"bob", "b1", MQ_AUTH_READ, "home/kitchen", true},
        {"bob", "b1", MQ_AUTH_WRITE, "home/kitchen", true},
        {"bob", "b1", MQ_AUTH_WRITE, "home/kitchen/x", false},
        {"bob", "b1", MQ_AUTH_WRITE, "devices/bob/b1/up", true},
        {"bob", "b1", MQ_AUTH_WRITE, "devices/bob/b2/up", false},
        {"bob", "b1", MQ_AUTH_WRITE, "devices/alice/b1/up", false},
        {"bob", "b1", MQ_AUTH_READ, "devices/bob/b1/up", false},
        {"bob", "b1", MQ_AUTH_SUBSCRIBE, "devices/bob/b1/down/#", true},
        {"bob", "b1", MQ_AUTH_SUBSCRIBE, "devices/bob/b1/down", true},
        {"bob", "b1", MQ_AUTH_SUBSCRIBE, "devices/bob/+/down/#", false},
        {"bob", "b1", MQ_AUTH_SUBSCRIBE, "devices/+/b1/down/#", false},
        {"bob", "b1", MQ_AUTH_WRITE, "devices/bob/banned", false},
        /* a user without a section: patterns only */
        {"carol", "k", MQ_AUTH_WRITE, "devices/carol/k/up", true},
        {"carol", "k", MQ_AUTH_READ, "public/x", false},
        /* substitutions are one literal level: no wildcard injection */
        {"+", "#", MQ_AUTH_SUBSCRIBE, "devices/+/#/down/#", false},
        {"+", "#", MQ_AUTH_SUBSCRIBE, "clients/#", false},
        {"+", "#", MQ_AUTH_SUBSCRIBE, "clients/+", false},
        {"a/b", "c", MQ_AUTH_WRITE, "devices/a/b/c/up", false},
        /* a user name with spaces and a filter with spaces */
        {"with space", "w", MQ_AUTH_READ, "a b/c d", true},
        {"with space", "w", MQ_AUTH_READ, "a b/c", false},
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(m); i++) {
        mq_auth_view_t *v = view(acl, m[i].user, m[i].client);
        if (both(acl, v, m[i].user, m[i].client, m[i].access, m[i].topic) != m[i].allowed)
            fail_msg("row %zu: user %s client %s access %d topic '%s': want %s", i,
                     m[i].user ? m[i].user : "(none)", m[i].client, m[i].access, m[i].topic,
                     m[i].allowed ? "allow" : "deny");
        mq_auth_view_free(v);
    }
    mq_auth_acl_free(acl);
}

static void test_no_acl(void **state)
{
    (void)state;
    mq_auth_view_t *v = view(NULL, NULL, "c");
    assert_true(can(v, MQ_AUTH_WRITE, "any/topic"));
    assert_true(can(v, MQ_AUTH_SUBSCRIBE, "#"));
    mq_auth_view_free(v);
    /* An empty ACL file denies everything. */
    mq_auth_acl_t *acl = parse_ok("# nothing\n");
    v = view(acl, "u", "c");
    mq_auth_acl_free(acl); /* the view copies what it needs */
    assert_false(can(v, MQ_AUTH_WRITE, "any/topic"));
    assert_false(can(v, MQ_AUTH_READ, "any/topic"));
    mq_auth_view_free(v);
    mq_auth_view_free(NULL);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *diag;
    } cases[] = {
        {"topic a\ntopics b\n",
         "cairn: acl-file acl:2: unknown keyword 'topics' (expected user, topic or pattern)\n"},
        {"topic\n", "cairn: acl-file acl:1: missing topic filter\n"},
        {"\n\ntopic read\n", "cairn: acl-file acl:3: missing topic filter\n"},
        {"topic deny   \r\n", "cairn: acl-file acl:1: missing topic filter\n"},
        {"topic a/#/b\n", "cairn: acl-file acl:1: bad topic filter 'a/#/b'\n"},
        {"topic a/b+\n", "cairn: acl-file acl:1: bad topic filter 'a/b+'\n"},
        {"topic read a#\n", "cairn: acl-file acl:1: bad topic filter 'a#'\n"},
        {"pattern read x/dev-%c\n",
         "cairn: acl-file acl:1: %u and %c must be a whole topic level\n"},
        {"user\n", "cairn: acl-file acl:1: missing user name\n"},
        {"user a:b\n", "cairn: acl-file acl:1: bad user name\n"},
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++) {
        char *diag;
        size_t len;
        FILE *d = open_memstream(&diag, &len);
        mq_auth_acl_t *acl = NULL;
        int rc = mq_auth_acl_parse("acl", cases[i].text, strlen(cases[i].text), d, &acl);
        fclose(d);
        assert_int_equal(rc, CN_ECONFIG);
        assert_null(acl);
        assert_string_equal(diag, cases[i].diag);
        free(diag);
    }
    /* %u inside a `topic` line is a literal level, as in mosquitto. */
    mq_auth_acl_t *acl = parse_ok("topic read x/%u\n");
    mq_auth_view_t *v = view(acl, NULL, "c");
    assert_true(can(v, MQ_AUTH_READ, "x/%u"));
    mq_auth_view_free(v);
    mq_auth_acl_free(acl);
}

static void test_load(void **state)
{
    (void)state;
    char dir[] = "/tmp/cairn-test-acl.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/acl", dir);
    mq_auth_acl_t *acl = NULL;
    assert_int_equal(mq_auth_acl_load(path, NULL, &acl), CN_ECONFIG);
    assert_int_equal(cn_file_write_atomic(path, ACL, strlen(ACL)), 0);
    assert_int_equal(mq_auth_acl_load(path, NULL, &acl), 0);
    assert_int_equal(mq_auth_acl_count(acl), 13);
    mq_auth_acl_free(acl);
    assert_int_equal(cn_rmtree(dir), 0);
}

/* ---------------------------------------------- brute-force cross-check */

/* Reference matcher: topic name t against filter f, recursive by level. */
static bool ref_match(const char *f, const char *t)
{
    if (t[0] == '$' && (f[0] == '+' || f[0] == '#'))
        return false;
    for (;;) {
        const char *fe = strchr(f, '/'), *te = strchr(t, '/');
        size_t fl = fe ? (size_t)(fe - f) : strlen(f), tl = te ? (size_t)(te - t) : strlen(t);
        if (fl == 1 && f[0] == '#')
            return true;
        if (!(fl == 1 && f[0] == '+') && (fl != tl || memcmp(f, t, fl) != 0))
            return false;
        if (!fe && !te)
            return true;
        if (!te) /* topic ended: only a trailing "/#" still matches */
            return strcmp(fe, "/#") == 0;
        if (!fe)
            return false;
        f = fe + 1;
        t = te + 1;
    }
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* A random filter of 1..3 levels from {a, b, $s, +, #(last)}. */
static void rand_filter(char *out)
{
    static const char *const lv[] = {"a", "b", "$s", "+", "#"};
    int depth = 1 + (int)rnd(3);
    out[0] = 0;
    for (int i = 0; i < depth; i++) {
        const char *l = lv[rnd(i == depth - 1 ? 5 : 4)];
        if (l[0] == '$' && i > 0)
            l = "a";
        strcat(out, i ? "/" : "");
        strcat(out, l);
    }
}

/* Every topic of 1..4 levels over {a, b, c, "", $s (first level only)}. */
static size_t universe(char topics[][16])
{
    static const char *const lv[] = {"a", "b", "c", "", "$s"};
    size_t n = 0;
    for (int depth = 1; depth <= 4; depth++) {
        unsigned total = 1;
        for (int i = 0; i < depth; i++)
            total *= 5;
        for (unsigned code = 0; code < total; code++) {
            char t[16] = "";
            unsigned c = code;
            bool skip = false;
            for (int i = 0; i < depth; i++, c /= 5) {
                if (c % 5 == 4 && i > 0)
                    skip = true;
                strcat(t, i ? "/" : "");
                strcat(t, lv[c % 5]);
            }
            if (!skip && t[0]) /* "" is not a topic name */
                strcpy(topics[n++], t);
        }
    }
    return n;
}

static void test_random_subscribe(void **state)
{
    (void)state;
    static char topics[1024][16];
    size_t nt = universe(topics);
    for (int iter = 0; iter < 3000; iter++) {
        char r[32], d[32], f[32], text[128];
        rand_filter(r);
        rand_filter(d);
        rand_filter(f);
        bool with_deny = rnd(2);
        snprintf(text, sizeof text, "topic read %s\n%s%s\n", r, with_deny ? "topic deny " : "#",
                 with_deny ? d : "");
        mq_auth_acl_t *acl = parse_ok(text);
        mq_auth_view_t *v = view(acl, NULL, "c");
        bool within = true, overlap = false;
        for (size_t i = 0; i < nt; i++) {
            bool in_f = ref_match(f, topics[i]);
            if (in_f && !ref_match(r, topics[i]))
                within = false;
            if (in_f && with_deny && ref_match(d, topics[i]))
                overlap = true;
            /* topic names: READ is "matches r and not d" */
            bool want = ref_match(r, topics[i]) && !(with_deny && ref_match(d, topics[i]));
            if (both(acl, v, NULL, "c", MQ_AUTH_READ, topics[i]) != want)
                fail_msg("read '%s' with rules [%s] deny [%s]: want %d", topics[i], r,
                         with_deny ? d : "-", want);
        }
        bool want = within && !overlap;
        if (both(acl, v, NULL, "c", MQ_AUTH_SUBSCRIBE, f) != want)
            fail_msg("subscribe '%s' with read [%s] deny [%s]: want %d (within %d overlap %d)", f,
                     r, with_deny ? d : "-", want, within, overlap);
        mq_auth_view_free(v);
        mq_auth_acl_free(acl);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix),           cmocka_unit_test(test_no_acl),
        cmocka_unit_test(test_errors),           cmocka_unit_test(test_load),
        cmocka_unit_test(test_random_subscribe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
