/* SPDX-License-Identifier: MIT */
/*
 * fuzz_passwd.c - libFuzzer target for the password-file parser and the
 * hash-text parser (ingest/auth/pwfile.c, hash.c).  Any input is parsed as
 * a password file (CN_ECONFIG or success, nothing else; a success must
 * parse again to the same user count), and its first line as one hash
 * text; a cheap hash that parses is verified against a fixed password.
 */
#include "auth/auth.h"

#include <stdlib.h>

static void check(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    mq_auth_pwfile_t *pf = NULL, *again = NULL;
    int rc = mq_auth_pwfile_parse("fuzz", text, size, NULL, &pf);
    check(rc == 0 || rc == CN_ECONFIG);
    if (rc == 0) {
        check(mq_auth_pwfile_parse("fuzz", text, size, NULL, &again) == 0);
        check(mq_auth_pwfile_count(pf) == mq_auth_pwfile_count(again));
        mq_auth_hash_t h;
        int found = mq_auth_pwfile_lookup(pf, "alice", 5, &h);
        check(found == 0 || found == CN_ENOTFOUND);
    }
    mq_auth_pwfile_free(again);
    mq_auth_pwfile_free(pf);

    const uint8_t *nl = memchr(data, '\n', size);
    size_t n = nl ? (size_t)(nl - data) : size;
    mq_auth_hash_t h;
    rc = mq_auth_hash_parse(text, n, &h);
    check(rc == 0 || rc == CN_EINVAL);
    if (rc == 0) {
        check(h.salt_len >= 8 && h.salt_len <= 64 && h.hash_len == 64 && h.iterations >= 1);
        if (h.iterations <= 64)
            (void)mq_auth_hash_verify(&h, (const uint8_t *)"password", 8);
    }
    return 0;
}
