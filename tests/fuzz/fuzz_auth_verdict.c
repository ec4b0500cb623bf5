/* SPDX-License-Identifier: MIT */
/*
 * fuzz_auth_verdict.c - libFuzzer target for the HTTP auth service's answer
 * parser (ingest/auth/verdict.c).  Any input yields one of the four
 * verdicts; an input that parses as allow/deny/ignore must keep its
 * verdict when wrapped in whitespace, and must be refused when cut before
 * its closing brace or followed by a stray character.
 */
#include "auth/auth_int.h"

#include <stdlib.h>

static void check(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    int v = mq_auth__http_verdict(s, size);
    check(v >= MQ_AUTH__HTTP_ALLOW && v <= MQ_AUTH__HTTP_FAIL);
    if (v == MQ_AUTH__HTTP_FAIL || size > 4096)
        return 0;
    char *w = malloc(size + 2);
    w[0] = ' ';
    memcpy(w + 1, s, size);
    w[size + 1] = '\n';
    check(mq_auth__http_verdict(w, size + 2) == v);
    w[size + 1] = 'x';
    check(mq_auth__http_verdict(w, size + 2) == MQ_AUTH__HTTP_FAIL);
    size_t end = size; /* the closing '}' is the last non-blank byte */
    while (end &&
           (s[end - 1] == ' ' || s[end - 1] == '\t' || s[end - 1] == '\n' || s[end - 1] == '\r'))
        end--;
    check(end && s[end - 1] == '}' && mq_auth__http_verdict(s, end - 1) == MQ_AUTH__HTTP_FAIL);
    free(w);
    return 0;
}
