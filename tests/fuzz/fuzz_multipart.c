/* SPDX-License-Identifier: MIT */
/*
 * fuzz_multipart.c - libFuzzer target for /query's multipart/form-data
 * bodies and Content-Type parameters (server/http.c: srv__media_type,
 * srv__mime_param, srv__multipart_values).  The input's first line is a
 * Content-Type value, the rest the body, copied into a buffer of exactly
 * its size, so a read past either is an ASan error.  Every value found
 * must lie inside the body, and a failed body must give none.
 */
#include "http_int.h"

#include <stdlib.h>
#include <string.h>

static void check(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {"q",      "db",      "params",    "epoch",
                                       "pretty", "chunked", "chunk_size"};
    enum { NK = sizeof keys / sizeof keys[0] };
    const uint8_t *eol = memchr(data, '\n', size);
    size_t cl = eol ? (size_t)(eol - data) : size, bl = eol ? size - cl - 1 : 0;
    char *ct = malloc(cl ? cl : 1), *body = malloc(bl ? bl : 1);
    if (!ct || !body) {
        free(ct);
        free(body);
        return 0;
    }
    memcpy(ct, data, cl);
    if (bl)
        memcpy(body, eol + 1, bl);
    const char *ps;
    size_t pl, tl = srv__media_type(ct, cl, &ps, &pl);
    check(tl <= cl && ps >= ct && ps + pl == ct + cl);
    char bnd[256];
    int n = srv__mime_param(ps, pl, "boundary", bnd, sizeof bnd);
    check(n < (int)sizeof bnd && (n < 0 || (strlen(bnd) <= (size_t)n && (size_t)n <= pl)));
    if (n > 0) {
        const char *vals[NK], *files[NK];
        size_t lens[NK], flens[NK];
        int rc = srv__multipart_values(body, bl, bnd, keys, NK, vals, lens, files, flens);
        for (int k = 0; k < NK; k++) {
            if (rc < 0)
                check(!vals[k] && !files[k]);
            if (vals[k])
                check(vals[k] >= body && vals[k] + lens[k] <= body + bl);
            if (files[k])
                check(files[k] >= body && files[k] + flens[k] <= body + bl);
        }
    }
    free(ct);
    free(body);
    return 0;
}
