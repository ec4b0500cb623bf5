/* SPDX-License-Identifier: MIT */
/*
 * fuzz_regex.c - libFuzzer target for the translation of Go's regular
 * expressions to POSIX ones (query/rx.c).
 *
 * The input is a pattern, then (after the first newline) a text to match.
 * Properties, each an abort when broken:
 * - qry_regex_posix either refuses the pattern with a reason or writes a
 *   NUL-terminated POSIX pattern with no NUL inside;
 * - qry_regex_check refuses exactly what the translation or the regcomp
 *   guard refuses, with a message in Go's shape;
 * - whatever passes both compiles with glibc's regcomp (the translation
 *   only ever writes valid POSIX), and qry_regcomp agrees; the text is
 *   then matched.
 */
#include "query/rx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(bool ok, const char *what, const char *pat, const char *posix)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_regex: %s\n pattern: %s\n posix: %s\n", what, pat, posix ? posix : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t np = nl ? (size_t)(nl - data) : size;
    if (memchr(data, 0, np)) /* a pattern is a C string */
        return 0;
    char *pat = malloc(np + 1);
    memcpy(pat, data, np);
    pat[np] = 0;
    size_t ns = nl ? size - np - 1 : 0;
    char *text = malloc(ns + 1);
    if (ns)
        memcpy(text, nl + 1, ns);
    text[ns] = 0;

    cn_buf_t b;
    cn_buf_init(&b);
    int cflags = -1;
    const char *why = qry_regex_posix(pat, &b, &cflags);
    const char *posix = (const char *)b.p;
    check(cflags == 0 || cflags == REG_NEWLINE, "flags", pat, posix);
    if (!why) {
        check(posix && strlen(posix) == b.len, "translation not one C string", pat, posix);
        why = qry_regex_refused(posix);
    }
    char msg[192];
    const char *m = qry_regex_check(pat, msg, sizeof msg);
    check((m == NULL) == (why == NULL), "qry_regex_check disagrees", pat, posix);
    if (m)
        check(strncmp(m, "error parsing regexp: ", 22) == 0, "message shape", pat, posix);
    if (!why) {
        regex_t re, re2;
        int rc = regcomp(&re, posix, REG_EXTENDED | REG_NOSUB | cflags);
        check(rc == 0, "the translation does not compile", pat, posix);
        const char *why2 = "?";
        check(qry_regcomp(&re2, pat, &why2) == 0 && why2 == NULL, "qry_regcomp disagrees", pat,
              posix);
        bool hit = regexec(&re, text, 0, NULL, 0) == 0;
        bool hit2 = regexec(&re2, text, 0, NULL, 0) == 0;
        check(hit == hit2, "two compilations match differently", pat, posix);
        regfree(&re);
        regfree(&re2);
    }
    cn_buf_free(&b);
    free(pat);
    free(text);
    return 0;
}
