/* SPDX-License-Identifier: MIT */
/*
 * fuzz_acl.c - libFuzzer target for the ACL-file parser and the matchers
 * (ingest/auth/acl.c).  Any input is parsed (CN_ECONFIG or success); on
 * success, views are built for an anonymous client and two users, and every
 * input line is checked as a topic name and as a filter.  Property: a
 * wildcard-free topic a client may SUBSCRIBE to, it may also READ (a filter
 * within a read rule and clear of deny rules is a topic those rules allow),
 * and a client's compiled view answers exactly as mq_auth_acl_allows.
 */
#include "auth/auth.h"

#include <stdlib.h>

static void check(bool ok)
{
    if (!ok)
        abort();
}

static bool plain_topic(const char *t, size_t n)
{
    return n && !memchr(t, '+', n) && !memchr(t, '#', n) &&
           !(n >= 7 && memcmp(t, "$share/", 7) == 0);
}

static const struct {
    const char *user, *client;
} WHO[3] = {{NULL, "c1"}, {"alice", "dev/1"}, {"bob", "b"}};

/* The view and the view-less check agree; SUBSCRIBE implies READ. */
static void probe(const mq_auth_acl_t *acl, mq_auth_view_t *v, int who, const char *t, size_t n)
{
    const char *u = WHO[who].user, *c = WHO[who].client;
    bool got[4];
    for (int a = MQ_AUTH_READ; a <= MQ_AUTH_SUBSCRIBE; a++) {
        got[a] = mq_auth_view_allows(v, a, t, n);
        check(got[a] == mq_auth_acl_allows(acl, u, u ? strlen(u) : 0, c, strlen(c), a, t, n));
    }
    if (plain_topic(t, n))
        check(!got[MQ_AUTH_SUBSCRIBE] || got[MQ_AUTH_READ]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    mq_auth_acl_t *acl = NULL;
    int rc = mq_auth_acl_parse("fuzz", text, size, NULL, &acl);
    check(rc == 0 || rc == CN_ECONFIG);
    if (rc < 0)
        return 0;
    mq_auth_view_t *v[3];
    for (int i = 0; i < 3; i++) {
        const char *u = WHO[i].user, *c = WHO[i].client;
        check(mq_auth_view_new(acl, u, u ? strlen(u) : 0, c, strlen(c), &v[i]) == 0);
    }
    const char *p = text, *end = text + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *sp = memchr(p, ' ', (size_t)(eol - p)); /* the last word too */
        for (int i = 0; i < 3; i++) {
            probe(acl, v[i], i, p, (size_t)(eol - p));
            if (sp)
                probe(acl, v[i], i, sp + 1, (size_t)(eol - sp - 1));
        }
        p = nl ? nl + 1 : end;
    }
    for (int i = 0; i < 3; i++)
        mq_auth_view_free(v[i]);
    mq_auth_acl_free(acl);
    return 0;
}
