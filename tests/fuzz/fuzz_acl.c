/* SPDX-License-Identifier: MIT */
/*
 * fuzz_acl.c - libFuzzer target for the ACL-file parser and the matchers
 * (ingest/auth/acl.c).  Any input is parsed (CN_ECONFIG or success); on
 * success, views are built for an anonymous client and two users, and every
 * input line is checked as a topic name and as a filter.  Property: a
 * wildcard-free topic a client may SUBSCRIBE to, it may also READ (a filter
 * within a read rule and clear of deny rules is a topic those rules allow).
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

static void probe(mq_auth_view_t *v, const char *t, size_t n)
{
    bool r = mq_auth_view_allows(v, MQ_ACL_READ, t, n);
    (void)mq_auth_view_allows(v, MQ_ACL_WRITE, t, n);
    bool s = mq_auth_view_allows(v, MQ_ACL_SUBSCRIBE, t, n);
    if (plain_topic(t, n))
        check(!s || r);
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
    check(mq_auth_view_new(acl, NULL, 0, "c1", 2, &v[0]) == 0);
    check(mq_auth_view_new(acl, "alice", 5, "dev/1", 5, &v[1]) == 0);
    check(mq_auth_view_new(acl, "bob", 3, "b", 1, &v[2]) == 0);
    mq_auth_acl_free(acl);
    const char *p = text, *end = text + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *sp = memchr(p, ' ', (size_t)(eol - p)); /* the last word too */
        for (int i = 0; i < 3; i++) {
            probe(v[i], p, (size_t)(eol - p));
            if (sp)
                probe(v[i], sp + 1, (size_t)(eol - sp - 1));
        }
        p = nl ? nl + 1 : end;
    }
    for (int i = 0; i < 3; i++)
        mq_auth_view_free(v[i]);
    return 0;
}
