/* SPDX-License-Identifier: MIT */
/*
 * fuzz_influxql.c - libFuzzer target for the InfluxQL lexer and parser
 * (query/lexer.c, parser*.c) and the printer (query/ast.c).
 *
 * Any input either fails with a well-formed error (code, a message in
 * InfluxDB's shape, a position inside the input) or parses; a parsed query
 * is printed, the text parsed again and printed again, and the two texts
 * must be identical (the canonical-form round trip).  The same holds for
 * the single-expression entry point.  A broken property aborts, which the
 * fuzzer reports like a crash.
 */
#include "query/ast.h"

#include <stdio.h>
#include <stdlib.h>

static void check(bool ok, const char *what, const cn_buf_t *a, const cn_buf_t *b)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_influxql: %s\n first: %.*s\n again: %.*s\n", what, a ? (int)a->len : 0,
            a ? (const char *)a->p : "", b ? (int)b->len : 0, b ? (const char *)b->p : "");
    abort();
}

static void check_error(int rc, const qry_error_t *err, size_t size)
{
    check(rc == CN_EINVAL || rc == CN_ELIMIT, "unexpected error code", NULL, NULL);
    check(err->code == rc, "error code not recorded", NULL, NULL);
    check(strncmp(err->msg, "error parsing query: ", 21) == 0, "message prefix", NULL, NULL);
    if (rc == CN_EINVAL)
        check(err->off <= size && err->line >= 1 && err->col >= 1, "error position", NULL, NULL);
}

typedef int (*parse_fn)(const char *, size_t, qry_query_t **, qry_error_t *);

static void round_trip(parse_fn parse, const uint8_t *data, size_t size)
{
    qry_query_t *q = NULL, *q2 = NULL;
    qry_error_t err;
    int rc = parse((const char *)data, size, &q, &err);
    if (rc < 0) {
        check(q == NULL, "output set on error", NULL, NULL);
        check_error(rc, &err, size);
        return;
    }
    cn_buf_t a, b;
    cn_buf_init(&a);
    cn_buf_init(&b);
    qry_print_query(q, &a);
    rc = parse((const char *)a.p, a.len, &q2, &err);
    if (rc < 0)
        fprintf(stderr, "fuzz_influxql: reparse: %s\n", err.msg);
    check(rc == 0, "printed text does not parse", &a, NULL);
    qry_print_query(q2, &b);
    check(a.len == b.len && memcmp(a.p, b.p, a.len) == 0, "print(parse(print)) differs", &a, &b);
    check(q->nstmts == q2->nstmts, "statement count differs", &a, &b);
    cn_buf_free(&a);
    cn_buf_free(&b);
    qry_query_free(q);
    qry_query_free(q2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0; /* long inputs only slow the search down */
    round_trip(qry_parse, data, size);
    round_trip(qry_parse_expr, data, size);
    return 0;
}
