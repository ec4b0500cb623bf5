/* SPDX-License-Identifier: MIT */
/*
 * fuzz_form.c - libFuzzer target for /query's form-encoded parameters
 * (server/http.c: srv__form_values over a POST body, which holds no NUL
 * after it and may hold NULs inside, and srv__query_value's decoding).
 * The input is copied into a buffer of exactly its size, so a read past
 * the body is an ASan error.  Each value found must lie inside the body,
 * start right after "key=" (or be the empty value of a "key" alone), and
 * decode to at most its own length.
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
    static const char *const keys[] = {"q", "db", "params", "epoch", "pretty", "chunked",
                                       "chunk_size"};
    enum { NK = sizeof keys / sizeof keys[0] };
    char *body = malloc(size ? size : 1);
    if (!body)
        return 0;
    if (size)
        memcpy(body, data, size);
    const char *vals[NK];
    size_t lens[NK];
    srv__form_values(body, size, keys, NK, vals, lens);
    for (int k = 0; k < NK; k++) {
        if (!vals[k])
            continue;
        size_t kl = strlen(keys[k]);
        check(vals[k] >= body + kl && vals[k] + lens[k] <= body + size);
        if (vals[k][-1] == '=') /* "key=value" */
            check(vals[k] >= body + kl + 1 && memcmp(vals[k] - kl - 1, keys[k], kl) == 0);
        else /* "key" alone, at a segment's end: present and empty */
            check(lens[k] == 0 && memcmp(vals[k] - kl, keys[k], kl) == 0 &&
                  (vals[k] == body + size || *vals[k] == '&'));
        char out[64];
        int n = srv__query_value(vals[k], lens[k], out, sizeof out);
        check(n >= 0 && (size_t)n <= lens[k] && (size_t)n < sizeof out && out[n] == 0);
    }
    free(body);
    return 0;
}
