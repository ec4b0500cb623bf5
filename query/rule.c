/* SPDX-License-Identifier: MIT */
/*
 * rule.c - the rule statement of eval.h:
 *
 *   SELECT field [AS alias] {, ...} FROM filter {, filter} [WHERE cond] [;]
 *
 * parsed with the InfluxQL front end's tokens and expression parser, so a
 * rule's expressions are exactly the query language's.  A filter is a
 * double- or single-quoted MQTT topic filter ("sensors/+/temp"); a bare
 * identifier is accepted too (FROM telemetry).  Errors read like the
 * query parser's, with "rule" in place of "query".
 */
#include "eval_int.h"

#include <stdio.h>

#define MAX_RULE_BYTES (16u << 20)

static int parse_fields(qry__parser_t *p, qry_rule_t *r)
{
    qry__vec_t v = {.elem = sizeof(qry_field_t)};
    bool more = true;
    while (more) {
        qry_field_t *f = qry__vec_push(p->arena, &v);
        bool alias;
        QRY__TRY(qry__p_expr(p, &f->expr));
        QRY__TRY(qry__p_accept(p, QRY_TK_AS, &alias));
        if (alias) {
            if (p->tok.kind == QRY_TK_STRING) {
                f->alias = p->tok.s;
                QRY__TRY(qry__p_advance(p));
            } else {
                QRY__TRY(qry__p_ident(p, &f->alias));
            }
            if (!f->alias[0])
                return qry__error_at(p->err, p->lx.src, p->lx.len, p->tok.off, "empty output name");
        }
        QRY__TRY(qry__p_accept(p, QRY_TK_COMMA, &more));
    }
    r->fields = v.items;
    r->nfields = v.n;
    return 0;
}

static int parse_filters(qry__parser_t *p, qry_rule_t *r)
{
    qry__vec_t v = {.elem = sizeof(const char *)}, offs = {.elem = sizeof(uint32_t)};
    bool more = true;
    while (more) {
        if (p->tok.kind != QRY_TK_IDENT && p->tok.kind != QRY_TK_STRING)
            return qry__p_expected(p, "topic filter");
        *(const char **)qry__vec_push(p->arena, &v) = p->tok.s;
        *(uint32_t *)qry__vec_push(p->arena, &offs) = p->tok.off;
        QRY__TRY(qry__p_advance(p));
        QRY__TRY(qry__p_accept(p, QRY_TK_COMMA, &more));
    }
    r->filters = v.items;
    r->filter_offs = offs.items;
    r->nfilters = v.n;
    return 0;
}

static int parse_rule(qry__parser_t *p, qry_rule_t *r)
{
    QRY__TRY(qry__p_expect(p, QRY_TK_SELECT, "SELECT"));
    QRY__TRY(parse_fields(p, r));
    QRY__TRY(qry__p_expect(p, QRY_TK_FROM, "FROM"));
    QRY__TRY(parse_filters(p, r));
    bool where, semi;
    QRY__TRY(qry__p_accept(p, QRY_TK_WHERE, &where));
    if (where)
        QRY__TRY(qry__p_condition(p, &r->cond));
    QRY__TRY(qry__p_accept(p, QRY_TK_SEMI, &semi));
    if (p->tok.kind != QRY_TK_EOF)
        return qry__p_expected(p, where ? "EOF" : "WHERE, EOF");
    return 0;
}

void qry__error_rename(qry_error_t *err, const char *to)
{
    static const char from[] = "error parsing query: ";
    if (!err || strncmp(err->msg, from, sizeof from - 1) != 0)
        return;
    char tmp[sizeof err->msg];
    snprintf(tmp, sizeof tmp, "%s%s", to, err->msg + sizeof from - 1);
    memcpy(err->msg, tmp, sizeof tmp);
}

int qry_rule_parse(const char *src, size_t len, qry_rule_t **out, qry_error_t *err)
{
    *out = NULL;
    if (err)
        memset(err, 0, sizeof *err);
    if (len > MAX_RULE_BYTES) {
        if (err) {
            err->code = CN_ELIMIT;
            snprintf(err->msg, sizeof err->msg, "error parsing rule: rule longer than %u bytes",
                     MAX_RULE_BYTES);
        }
        return CN_ELIMIT;
    }
    qry__arena_t *a = qry__arena_new();
    qry_rule_t *r = qry__arena_alloc(a, sizeof *r);
    r->arena = a;
    r->src = qry__arena_strndup(a, src, len);
    r->src_len = len;
    qry__parser_t p = {.lx = {.src = src, .len = len, .arena = a, .err = err},
                       .arena = a,
                       .err = err,
                       .kw_vars = true};
    int rc = qry__p_advance(&p);
    if (rc == 0)
        rc = parse_rule(&p, r);
    if (rc < 0) {
        qry__error_rename(err, "error parsing rule: ");
        qry__arena_free(a);
        return rc;
    }
    *out = r;
    return 0;
}

void qry_rule_free(qry_rule_t *r)
{
    if (r)
        qry__arena_free(r->arena); /* r lives in its arena */
}

static void put_dq(cn_buf_t *b, const char *s)
{
    cn_buf_put_u8(b, '"');
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            cn_buf_put_u8(b, '\\');
        if (*s == '\n')
            cn_buf_put(b, "\\n", 2);
        else
            cn_buf_put_u8(b, (uint8_t)*s);
    }
    cn_buf_put_u8(b, '"');
}

void qry_print_rule(const qry_rule_t *r, cn_buf_t *b)
{
    cn_buf_put(b, "SELECT ", 7);
    for (size_t i = 0; i < r->nfields; i++) {
        if (i)
            cn_buf_put(b, ", ", 2);
        qry_print_expr(r->fields[i].expr, b);
        if (r->fields[i].alias) {
            cn_buf_put(b, " AS ", 4);
            /* an alias prints like a variable of that name */
            qry_expr_t v = {.kind = QRY_EXPR_VAR, .u.var.name = r->fields[i].alias};
            qry_print_expr(&v, b);
        }
    }
    cn_buf_put(b, " FROM ", 6);
    for (size_t i = 0; i < r->nfilters; i++) {
        if (i)
            cn_buf_put(b, ", ", 2);
        put_dq(b, r->filters[i]);
    }
    if (r->cond) {
        cn_buf_put(b, " WHERE ", 7);
        qry_print_expr(r->cond, b);
    }
    cn_buf_reserve(b, 1);
    b->p[b->len] = 0;
}
