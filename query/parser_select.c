/* SPDX-License-Identifier: MIT */
/*
 * parser_select.c - the SELECT statement and the measurement sources that
 * FROM (and SHOW, DROP SERIES, DELETE) name:
 *
 *   SELECT field [AS alias] {, ...} [INTO target] FROM source {, ...}
 *     [WHERE cond] [GROUP BY dim {, ...}] [fill(...)] [ORDER BY time ASC|DESC]
 *     [LIMIT n] [OFFSET n] [SLIMIT n] [SOFFSET n] [tz('zone')]
 *
 * A source is [db.[rp].]measurement, [db.[rp].]/regex/ or (SELECT ...); an
 * INTO target is [db.[rp].]measurement or [db.[rp].]:MEASUREMENT.  A
 * dimension is time(interval[, offset]), a tag, * or /regex/.
 */
#include "parse_int.h"

#include <stdio.h>

/* ---------------------------------------------------------------- sources */

enum seg_last { SEG_IDENT, SEG_REGEX, SEG_BACKREF };

typedef struct segs {
    const char *part[3];
    int n;
    enum seg_last last;
} segs_t;

/* ident {"." ident}, at most three parts, the middle one possibly empty
 * (db..m); the last may be a regex or :MEASUREMENT when allowed. */
static int parse_segments(qry__parser_t *p, bool allow_regex, bool allow_backref, segs_t *sg)
{
    sg->n = 0;
    sg->last = SEG_IDENT;
    for (;;) {
        if (allow_regex && (p->tok.kind == QRY_TK_SLASH || p->tok.kind == QRY_TK_REGEX)) {
            QRY__TRY(qry__p_regex(p, &sg->part[sg->n++]));
            sg->last = SEG_REGEX;
            return 0;
        }
        if (allow_backref && p->tok.kind == QRY_TK_COLON) {
            QRY__TRY(qry__p_advance(p));
            QRY__TRY(qry__p_expect(p, QRY_TK_MEASUREMENT, "MEASUREMENT"));
            sg->part[sg->n++] = NULL;
            sg->last = SEG_BACKREF;
            return 0;
        }
        if (sg->n == 1 && p->tok.kind == QRY_TK_DOT)
            sg->part[sg->n++] = "";
        else if (p->tok.kind == QRY_TK_IDENT)
            QRY__TRY(qry__p_ident(p, &sg->part[sg->n++]));
        else
            return qry__p_expected(p, allow_regex ? "identifier, regex" : "identifier");
        if (sg->n == 3 || p->tok.kind != QRY_TK_DOT)
            return 0;
        QRY__TRY(qry__p_advance(p));
    }
}

/* Splits 1-3 parts into db, rp and the last part. */
static void assign_segments(const segs_t *sg, const char **db, const char **rp, const char **name)
{
    *name = sg->part[sg->n - 1];
    *rp = sg->n >= 2 ? sg->part[sg->n - 2] : NULL;
    *db = sg->n == 3 ? sg->part[0] : NULL;
}

int qry__p_source(qry__parser_t *p, bool allow_sub, qry_source_t *out)
{
    memset(out, 0, sizeof *out);
    if (allow_sub && p->tok.kind == QRY_TK_LPAREN) {
        QRY__TRY(qry__p_advance(p));
        if (p->tok.kind != QRY_TK_SELECT)
            return qry__p_expected(p, "SELECT");
        out->kind = QRY_SRC_SUBQUERY;
        QRY__TRY(qry__p_select(p, &out->sub));
        return qry__p_expect(p, QRY_TK_RPAREN, ")");
    }
    segs_t sg;
    QRY__TRY(parse_segments(p, true, false, &sg));
    out->kind = sg.last == SEG_REGEX ? QRY_SRC_REGEX : QRY_SRC_MEASUREMENT;
    assign_segments(&sg, &out->db, &out->rp, &out->name);
    return 0;
}

int qry__p_sources(qry__parser_t *p, bool allow_sub, qry_source_t **out, size_t *n)
{
    qry__vec_t v = {.elem = sizeof(qry_source_t)};
    bool more = true;
    while (more) {
        QRY__TRY(qry__p_source(p, allow_sub, qry__vec_push(p->arena, &v)));
        QRY__TRY(qry__p_accept(p, QRY_TK_COMMA, &more));
    }
    *out = v.items;
    *n = v.n;
    return 0;
}

/* ----------------------------------------------------------------- SELECT */

/* The operator that InfluxDB refuses in a field (a comparison, AND, OR):
 * the last one a walk finds, node before operands, without looking under
 * one it found (as InfluxDB's validateField visitor does). */
static void where_op(const qry_expr_t *e, const char **bad)
{
    switch (e->kind) {
    case QRY_EXPR_BINARY:
        if (e->u.bin.op >= QRY_OP_OR && e->u.bin.op <= QRY_OP_NEQREGEX) {
            *bad = qry_op_str(e->u.bin.op);
            return;
        }
        where_op(e->u.bin.lhs, bad);
        where_op(e->u.bin.rhs, bad);
        break;
    case QRY_EXPR_UNARY:
        where_op(e->u.unary.operand, bad);
        break;
    case QRY_EXPR_CALL:
        for (size_t i = 0; i < e->u.call.nargs; i++)
            where_op(e->u.call.args[i], bad);
        break;
    default:
        break;
    }
}

static int parse_fields(qry__parser_t *p, qry_select_t *s)
{
    qry__vec_t v = {.elem = sizeof(qry_field_t)};
    bool more = true;
    while (more) {
        qry_field_t *f = qry__vec_push(p->arena, &v);
        bool alias;
        uint32_t foff = p->tok.off;
        if (p->tok.kind == QRY_TK_SLASH || p->tok.kind == QRY_TK_REGEX)
            QRY__TRY(qry__p_regex_field(p, &f->expr));
        else
            QRY__TRY(qry__p_expr(p, &f->expr));
        const char *bad = NULL;
        if (p->stmts)
            where_op(f->expr, &bad);
        if (bad) {
            qry__error_at(p->err, p->lx.src, p->lx.len, foff,
                          "invalid operator %s in SELECT clause", bad);
            size_t n = strlen(p->err->msg);
            snprintf(p->err->msg + n, sizeof p->err->msg - n,
                     "; operator is intended for WHERE clause");
            return CN_EINVAL;
        }
        QRY__TRY(qry__p_accept(p, QRY_TK_AS, &alias));
        if (alias)
            QRY__TRY(qry__p_ident(p, &f->alias));
        QRY__TRY(qry__p_accept(p, QRY_TK_COMMA, &more));
    }
    s->fields = v.items;
    s->nfields = v.n;
    return 0;
}

static int parse_into(qry__parser_t *p, qry_select_t *s)
{
    segs_t sg;
    qry_into_t *in = qry__arena_alloc(p->arena, sizeof *in);
    QRY__TRY(parse_segments(p, false, true, &sg));
    in->backref = sg.last == SEG_BACKREF;
    assign_segments(&sg, &in->db, &in->rp, &in->name);
    s->into = in;
    return 0;
}

/* time(interval[, offset]) with the current token at "time". */
static int parse_time_dim(qry__parser_t *p, qry_dim_t *d)
{
    uint32_t off = p->tok.off;
    d->kind = QRY_DIM_TIME;
    QRY__TRY(qry__p_advance(p));
    QRY__TRY(qry__p_advance(p));
    QRY__TRY(qry__p_duration(p, false, &d->interval));
    if (d->interval <= 0)
        return qry__error_at(p->err, p->lx.src, p->lx.len, off, "time interval must be positive");
    QRY__TRY(qry__p_accept(p, QRY_TK_COMMA, &d->has_offset));
    if (d->has_offset) {
        bool neg;
        QRY__TRY(qry__p_accept(p, QRY_TK_MINUS, &neg));
        QRY__TRY(qry__p_duration(p, false, &d->offset));
        if (neg)
            d->offset = -d->offset;
    }
    return qry__p_expect(p, QRY_TK_RPAREN, ")");
}

static int parse_dim(qry__parser_t *p, qry_select_t *s, qry_dim_t *d)
{
    bool is_time;
    QRY__TRY(qry__p_at_call(p, "time", &is_time));
    if (is_time) {
        if (s->time_dim)
            return qry__error_at(p->err, p->lx.src, p->lx.len, p->tok.off,
                                 "multiple time dimensions");
        s->time_dim = d; /* fixed up once the vector stops moving */
        return parse_time_dim(p, d);
    }
    switch (p->tok.kind) {
    case QRY_TK_IDENT: {
        /* "host"::tag (Grafana writes it): InfluxDB takes any cast there
         * and groups by the tag */
        qry_vtype_t cast;
        d->kind = QRY_DIM_TAG;
        QRY__TRY(qry__p_ident(p, &d->name));
        return qry__p_cast(p, false, &cast);
    }
    case QRY_TK_STAR:
        d->kind = QRY_DIM_WILDCARD;
        return qry__p_advance(p);
    case QRY_TK_SLASH:
    case QRY_TK_REGEX: /* a bound parameter */
        d->kind = QRY_DIM_REGEX;
        return qry__p_regex(p, &d->name);
    default:
        return qry__p_expected(p, "time(), identifier, regex, *");
    }
}

static int parse_dims(qry__parser_t *p, qry_select_t *s)
{
    qry__vec_t v = {.elem = sizeof(qry_dim_t)};
    bool more = true;
    while (more) {
        qry_dim_t *d = qry__vec_push(p->arena, &v);
        QRY__TRY(parse_dim(p, s, d));
        QRY__TRY(qry__p_accept(p, QRY_TK_COMMA, &more));
    }
    s->dims = v.items;
    s->ndims = v.n;
    s->time_dim = NULL;
    for (size_t i = 0; i < v.n; i++)
        if (s->dims[i].kind == QRY_DIM_TIME)
            s->time_dim = &s->dims[i];
    return 0;
}

static int parse_fill(qry__parser_t *p, qry_select_t *s)
{
    static const char *const names[] = {"null", "none", "previous", "linear"};
    QRY__TRY(qry__p_advance(p));
    QRY__TRY(qry__p_advance(p));
    bool neg = false;
    if (p->tok.kind == QRY_TK_IDENT && !p->tok.quoted) {
        for (size_t i = 0; i < CN_ARRAY_LEN(names); i++) {
            if (qry__ieq(p->tok.s, names[i])) {
                s->fill = (qry_fill_t)(QRY_FILL_NULL + i);
                QRY__TRY(qry__p_advance(p));
                return qry__p_expect(p, QRY_TK_RPAREN, ")");
            }
        }
    }
    uint32_t off = p->tok.off;
    QRY__TRY(qry__p_accept(p, QRY_TK_MINUS, &neg));
    if (p->tok.kind == QRY_TK_INTEGER)
        QRY__TRY(qry__p_int_literal(p, neg, off, &s->fill_value));
    else if (p->tok.kind == QRY_TK_NUMBER)
        QRY__TRY(qry__p_float_literal(p, neg, off, &s->fill_value));
    else
        return qry__p_expected(p, "null, none, previous, linear, number");
    s->fill = QRY_FILL_VALUE;
    return qry__p_expect(p, QRY_TK_RPAREN, ")");
}

static int order_error(qry__parser_t *p)
{
    return qry__error_at(p->err, p->lx.src, p->lx.len, p->tok.off,
                         "only ORDER BY time supported at this time");
}

static int parse_order(qry__parser_t *p, qry_select_t *s)
{
    bool any = false;
    QRY__TRY(qry__p_expect(p, QRY_TK_BY, "BY"));
    if (p->tok.kind == QRY_TK_IDENT) {
        if (!qry__ieq(p->tok.s, "time"))
            return order_error(p);
        QRY__TRY(qry__p_advance(p));
        any = true;
    }
    if (p->tok.kind == QRY_TK_ASC || p->tok.kind == QRY_TK_DESC) {
        s->order_desc = p->tok.kind == QRY_TK_DESC;
        QRY__TRY(qry__p_advance(p));
        any = true;
    }
    if (!any)
        return qry__p_expected(p, "identifier, ASC, DESC");
    return p->tok.kind == QRY_TK_COMMA ? order_error(p) : 0;
}

static int parse_tz(qry__parser_t *p, qry_select_t *s)
{
    QRY__TRY(qry__p_advance(p));
    QRY__TRY(qry__p_advance(p));
    if (p->tok.kind != QRY_TK_STRING)
        return qry__p_expected(p, "string");
    s->tz = p->tok.s;
    QRY__TRY(qry__p_advance(p));
    return qry__p_expect(p, QRY_TK_RPAREN, ")");
}

/* The optional "KW n" clauses in their fixed order. */
static int parse_limits(qry__parser_t *p, qry_select_t *s)
{
    const struct {
        qry__tk_t kw;
        int64_t *v;
    } cl[] = {{QRY_TK_LIMIT, &s->limit},
              {QRY_TK_OFFSET, &s->offset},
              {QRY_TK_SLIMIT, &s->slimit},
              {QRY_TK_SOFFSET, &s->soffset}};
    for (size_t i = 0; i < CN_ARRAY_LEN(cl); i++) {
        bool hit;
        QRY__TRY(qry__p_accept(p, cl[i].kw, &hit));
        if (hit)
            QRY__TRY(qry__p_uint(p, cl[i].v));
    }
    return 0;
}

static int select_body(qry__parser_t *p, qry_select_t *s)
{
    bool hit;
    QRY__TRY(qry__p_advance(p));
    QRY__TRY(parse_fields(p, s));
    bool need_into = p->need_into; /* (not its subqueries) */
    p->need_into = false;
    uint32_t into_off = p->tok.off;
    QRY__TRY(qry__p_accept(p, QRY_TK_INTO, &hit));
    if (hit && p->nest > 1) /* a subquery's rows are read, never written */
        return qry__error_at(p->err, p->lx.src, p->lx.len, into_off,
                             "INTO is not allowed in a subquery");
    if (hit)
        QRY__TRY(parse_into(p, s));
    else if (need_into)
        return qry__p_expected(p, "INTO");
    QRY__TRY(qry__p_expect(p, QRY_TK_FROM, "FROM"));
    QRY__TRY(qry__p_sources(p, true, &s->sources, &s->nsources));
    QRY__TRY(qry__p_accept(p, QRY_TK_WHERE, &hit));
    if (hit)
        QRY__TRY(qry__p_condition(p, &s->cond));
    QRY__TRY(qry__p_accept(p, QRY_TK_GROUP, &hit));
    if (hit) {
        QRY__TRY(qry__p_expect(p, QRY_TK_BY, "BY"));
        QRY__TRY(parse_dims(p, s));
    }
    QRY__TRY(qry__p_at_call(p, "fill", &hit));
    if (hit)
        QRY__TRY(parse_fill(p, s));
    QRY__TRY(qry__p_accept(p, QRY_TK_ORDER, &hit));
    if (hit)
        QRY__TRY(parse_order(p, s));
    QRY__TRY(parse_limits(p, s));
    QRY__TRY(qry__p_at_call(p, "tz", &hit));
    return hit ? parse_tz(p, s) : 0;
}

int qry__p_select(qry__parser_t *p, qry_select_t **out)
{
    QRY__TRY(qry__p_nest_in(p));
    qry_select_t *s = qry__arena_alloc(p->arena, sizeof *s);
    QRY__TRY(select_body(p, s));
    p->nest--;
    *out = s;
    return 0;
}
