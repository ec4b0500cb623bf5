/* SPDX-License-Identifier: MIT */
/*
 * fuzz_query_params.c - libFuzzer target for /query's bound parameters:
 * the params= JSON reader (query/params.c) and the lexer's binding of
 * $name tokens (query/lexer.c, qry_parse_bound).
 *
 * The input is "PARAMS-JSON\nQUERY".  The JSON either fails with a message
 * in InfluxDB's shape or yields a parameter set; the query then either
 * fails with an "error parsing query: " message or parses into a tree
 * without parameter nodes, which prints.  A broken property aborts.
 */
#include "query/ast.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(bool ok, const char *what)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_query_params: %s\n", what);
    abort();
}

static bool has_param(const qry_expr_t *e)
{
    if (!e)
        return false;
    switch (e->kind) {
    case QRY_EXPR_PARAM:
        return true;
    case QRY_EXPR_BINARY:
        return has_param(e->u.bin.lhs) || has_param(e->u.bin.rhs);
    case QRY_EXPR_UNARY:
        return has_param(e->u.unary.operand);
    case QRY_EXPR_CALL:
        for (size_t i = 0; i < e->u.call.nargs; i++)
            if (has_param(e->u.call.args[i]))
                return true;
        return false;
    case QRY_EXPR_LIST:
        for (size_t i = 0; i < e->u.list.n; i++)
            if (has_param(e->u.list.items[i]))
                return true;
        return false;
    default:
        return false;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    size_t jlen = nl ? (size_t)(nl - s) : size;
    const char *q = nl ? nl + 1 : s + size;
    size_t qlen = size - (nl ? jlen + 1 : jlen);
    qry_params_t *ps = NULL;
    char msg[384] = "";
    if (qry_params_json(s, jlen, &ps, msg, sizeof msg) < 0) {
        check(ps == NULL, "params set on error");
        check(strncmp(msg, "error parsing", 13) == 0, "params message prefix");
        return 0;
    }
    qry_query_t *out = NULL;
    qry_error_t err;
    int rc = qry_parse_bound(q, qlen, ps, &out, &err);
    if (rc < 0) {
        check(out == NULL, "output set on error");
        check(strncmp(err.msg, "error parsing query: ", 21) == 0, "query message prefix");
    } else {
        for (size_t i = 0; i < out->nstmts; i++) {
            const qry_stmt_t *st = &out->stmts[i];
            if (st->kind != QRY_STMT_SELECT)
                continue;
            const qry_select_t *sel = st->u.select;
            check(!has_param(sel->cond), "a parameter left in WHERE");
            for (size_t f = 0; f < sel->nfields; f++)
                check(!has_param(sel->fields[f].expr), "a parameter left in a field");
        }
        cn_buf_t b;
        cn_buf_init(&b);
        qry_print_query(out, &b);
        cn_buf_free(&b);
        qry_query_free(out);
    }
    qry_params_free(ps);
    return 0;
}
