/* SPDX-License-Identifier: MIT */
/*
 * plan.c - compiles a SELECT for one measurement: wildcard and regex
 * expansion of the field list, column names as InfluxDB 1.x gives them
 * (mean, mean_1, mean_temperature, a_b), aggregate calls, the WHERE
 * clause split into tag-index predicates, a per-series tag condition and
 * a per-row field condition, and the GROUP BY tag keys.  The time range
 * is not part of the plan (select.c takes it from the WHERE clause once).
 */
#include "plan.h"

#include "parse_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR(...) (snprintf(msg, msglen, __VA_ARGS__), CN_EINVAL)

/* Name equality, the first bytes compared inline: the planner looks every
 * call and column up in lists of names, and a strcmp call for each entry
 * was a third of planning `SELECT last(*)` (callgrind). */
static inline bool name_eq(const char *a, const char *b)
{
    return a[0] == b[0] && strcmp(a, b) == 0;
}

static int field_index(const plan_t *p, const char *name)
{
    for (size_t i = 0; i < p->nfields; i++)
        if (name_eq(p->fields[i].name, name))
            return (int)i;
    return -1;
}

static int tag_index(const plan_t *p, const char *name)
{
    for (size_t i = 0; i < p->ntagkeys; i++)
        if (name_eq(p->tagkeys[i], name))
            return (int)i;
    return -1;
}

/* The scan column of field fi, added on first use. */
static int scan_col(plan_t *p, int fi)
{
    for (size_t i = 0; i < p->nscan; i++)
        if (p->scan_fid[i] == p->fields[fi].id)
            return (int)i;
    if (p->nscan == p->scap) {
        p->scap = p->scap ? 2 * p->scap : 8;
        p->scan_fid = cn_realloc(p->scan_fid, p->scap * sizeof *p->scan_fid);
        p->scan_type = cn_realloc(p->scan_type, p->scap * sizeof *p->scan_type);
    }
    p->scan_fid[p->nscan] = p->fields[fi].id;
    p->scan_type[p->nscan] = p->fields[fi].type;
    return (int)p->nscan++;
}

static cx_t *cx_new(plan_t *p, int k)
{
    cx_t *c = qry__ralloc(p->ar, sizeof *c);
    c->k = k;
    return c;
}

/* ------------------------------------------------------------ functions */

static const struct {
    const char *name;
    int fn;
    bool selector, collect;
} AGGS[] = {
    {"count", A_COUNT, false, false},      {"sum", A_SUM, false, false},
    {"mean", A_MEAN, false, false},        {"median", A_MEDIAN, false, true},
    {"mode", A_MODE, false, true},         {"min", A_MIN, true, false},
    {"max", A_MAX, true, false},           {"first", A_FIRST, true, false},
    {"last", A_LAST, true, false},         {"spread", A_SPREAD, false, false},
    {"stddev", A_STDDEV, false, true},     {"percentile", A_PERCENTILE, true, true},
    {"distinct", A_DISTINCT, false, true}, {"integral", A_INTEGRAL, false, true},
    {"top", A_TOP, true, true},            {"bottom", A_BOTTOM, true, true},
    {"sample", A_SAMPLE, true, true},
};

static int agg_lookup(const char *name)
{
    for (size_t i = 0; i < CN_ARRAY_LEN(AGGS); i++)
        if (name_eq(AGGS[i].name, name))
            return (int)i;
    return -1;
}

static const struct {
    const char *name;
    int tf;
} TFS[] = {
    {"derivative", TF_DERIV},
    {"non_negative_derivative", TF_NNDERIV},
    {"difference", TF_DIFF},
    {"non_negative_difference", TF_NNDIFF},
    {"moving_average", TF_MOVAVG},
    {"cumulative_sum", TF_CUMSUM},
    {"elapsed", TF_ELAPSED},
    {"exponential_moving_average", TF_EMA},
    {"double_exponential_moving_average", TF_DEMA},
    {"triple_exponential_moving_average", TF_TEMA},
    {"relative_strength_index", TF_RSI},
    {"chande_momentum_oscillator", TF_CMO},
    {"kaufmans_efficiency_ratio", TF_KER},
    {"triple_exponential_derivative", TF_TRIX},
};

static int tf_lookup(const char *name)
{
    for (size_t i = 0; i < CN_ARRAY_LEN(TFS); i++)
        if (name_eq(TFS[i].name, name))
            return TFS[i].tf;
    return TF_NONE;
}

static const struct {
    const char *name;
    int fn, nargs;
} MATHS[] = {
    {"abs", M_ABS, 1},     {"ceil", M_CEIL, 1}, {"floor", M_FLOOR, 1}, {"round", M_ROUND, 1},
    {"sqrt", M_SQRT, 1},   {"pow", M_POW, 2},   {"log", M_LOG, 2},     {"log2", M_LOG2, 1},
    {"log10", M_LOG10, 1}, {"ln", M_LN, 1},     {"exp", M_EXP, 1},     {"sin", M_SIN, 1},
    {"cos", M_COS, 1},     {"tan", M_TAN, 1},   {"asin", M_ASIN, 1},   {"acos", M_ACOS, 1},
    {"atan", M_ATAN, 1},   {"atan2", M_ATAN2, 2},
};

static int math_lookup(const char *name)
{
    for (size_t i = 0; i < CN_ARRAY_LEN(MATHS); i++)
        if (name_eq(MATHS[i].name, name))
            return (int)i;
    return -1;
}

/* Counts the aggregate calls in e; *selectors gets the selector ones. */
static void count_aggs(const qry_expr_t *e, size_t *n, size_t *selectors)
{
    switch (e->kind) {
    case QRY_EXPR_CALL: {
        int ai = agg_lookup(e->u.call.name);
        if (ai >= 0) {
            (*n)++;
            *selectors += AGGS[ai].selector;
            return;
        }
        for (size_t i = 0; i < e->u.call.nargs; i++)
            count_aggs(e->u.call.args[i], n, selectors);
        return;
    }
    case QRY_EXPR_BINARY:
        count_aggs(e->u.bin.lhs, n, selectors);
        count_aggs(e->u.bin.rhs, n, selectors);
        return;
    case QRY_EXPR_UNARY: count_aggs(e->u.unary.operand, n, selectors); return;
    default: return;
    }
}

/* The first top(), bottom() or sample() call in e (its name), or NULL. */
static const char *multi_call(const qry_expr_t *e)
{
    switch (e->kind) {
    case QRY_EXPR_CALL: {
        int ai = agg_lookup(e->u.call.name);
        if (ai >= 0)
            return AGGS[ai].fn == A_TOP || AGGS[ai].fn == A_BOTTOM || AGGS[ai].fn == A_SAMPLE
                       ? AGGS[ai].name
                       : NULL;
        for (size_t i = 0; i < e->u.call.nargs; i++) {
            const char *n = multi_call(e->u.call.args[i]);
            if (n)
                return n;
        }
        return NULL;
    }
    case QRY_EXPR_BINARY: {
        const char *n = multi_call(e->u.bin.lhs);
        return n ? n : multi_call(e->u.bin.rhs);
    }
    case QRY_EXPR_UNARY: return multi_call(e->u.unary.operand);
    default: return NULL;
    }
}

/* The first node of e, in pre-order, for which hit() holds, not looking
 * inside calls for which skip() holds (skip may be NULL), or NULL. */
static const qry_expr_t *find_node(const qry_expr_t *e, bool (*hit)(const qry_expr_t *),
                                   bool (*skip)(const qry_expr_t *))
{
    if (hit(e))
        return e;
    switch (e->kind) {
    case QRY_EXPR_CALL:
        if (skip && skip(e))
            return NULL;
        for (size_t i = 0; i < e->u.call.nargs; i++) {
            const qry_expr_t *n = find_node(e->u.call.args[i], hit, skip);
            if (n)
                return n;
        }
        return NULL;
    case QRY_EXPR_BINARY: {
        const qry_expr_t *n = find_node(e->u.bin.lhs, hit, skip);
        return n ? n : find_node(e->u.bin.rhs, hit, skip);
    }
    case QRY_EXPR_UNARY:
        return find_node(e->u.unary.operand, hit, skip);
    default:
        return NULL;
    }
}

static bool is_agg_call(const qry_expr_t *e)
{
    return e->kind == QRY_EXPR_CALL && agg_lookup(e->u.call.name) >= 0;
}

static bool is_tf_call(const qry_expr_t *e)
{
    return e->kind == QRY_EXPR_CALL && tf_lookup(e->u.call.name) != TF_NONE;
}

static bool is_multi(const qry_expr_t *e)
{
    return e->kind == QRY_EXPR_WILDCARD || e->kind == QRY_EXPR_REGEX;
}

static bool is_var_or_multi(const qry_expr_t *e)
{
    return e->kind == QRY_EXPR_VAR || is_multi(e);
}

/* Does the expression contain an aggregate call? */
static bool has_agg(const qry_expr_t *e)
{
    return find_node(e, is_agg_call, NULL) != NULL;
}

/* Does the expression contain a transformation call (derivative, ...)? */
static bool has_tf_call(const qry_expr_t *e)
{
    return find_node(e, is_tf_call, NULL) != NULL;
}

/* Does e read a field, tag or wildcard outside any transformation call? */
static bool var_outside_tf(const qry_expr_t *e)
{
    return find_node(e, is_var_or_multi, is_tf_call) != NULL;
}

/* The wildcard or regex standing for "each field" inside e, or NULL. */
static const qry_expr_t *find_multi(const qry_expr_t *e)
{
    return find_node(e, is_multi, NULL);
}

/* The call whose argument the wildcard or regex m is, inside e, or NULL. */
static const qry_expr_t *call_of_multi(const qry_expr_t *e, const qry_expr_t *m)
{
    switch (e->kind) {
    case QRY_EXPR_CALL:
        for (size_t i = 0; i < e->u.call.nargs; i++) {
            if (e->u.call.args[i] == m)
                return e;
            const qry_expr_t *c = call_of_multi(e->u.call.args[i], m);
            if (c)
                return c;
        }
        return NULL;
    case QRY_EXPR_BINARY: {
        const qry_expr_t *c = call_of_multi(e->u.bin.lhs, m);
        return c ? c : call_of_multi(e->u.bin.rhs, m);
    }
    case QRY_EXPR_UNARY:
        return call_of_multi(e->u.unary.operand, m);
    default:
        return NULL;
    }
}

/* The first transformation call inside e (innermost first) whose argument
 * is no call, or NULL: under GROUP BY time() InfluxDB wants an aggregate
 * there. */
static const char *tf_raw_arg(const qry_expr_t *e)
{
    switch (e->kind) {
    case QRY_EXPR_CALL:
        for (size_t i = 0; i < e->u.call.nargs; i++) {
            const char *n = tf_raw_arg(e->u.call.args[i]);
            if (n)
                return n;
        }
        if (is_tf_call(e) && e->u.call.nargs && e->u.call.args[0]->kind != QRY_EXPR_CALL)
            return e->u.call.name;
        return NULL;
    case QRY_EXPR_BINARY: {
        const char *n = tf_raw_arg(e->u.bin.lhs);
        return n ? n : tf_raw_arg(e->u.bin.rhs);
    }
    case QRY_EXPR_UNARY:
        return tf_raw_arg(e->u.unary.operand);
    default:
        return NULL;
    }
}

/* The innermost aggregate's name in e (for type filtering of wildcards). */
static const char *inner_agg(const qry_expr_t *e)
{
    if (e->kind != QRY_EXPR_CALL)
        return NULL;
    for (size_t i = 0; i < e->u.call.nargs; i++) {
        const char *n = inner_agg(e->u.call.args[i]);
        if (n)
            return n;
    }
    return agg_lookup(e->u.call.name) >= 0 ? e->u.call.name : NULL;
}

static bool numeric_only(const char *agg)
{
    return agg && !name_eq(agg, "count") && !name_eq(agg, "first") && !name_eq(agg, "last") &&
           !name_eq(agg, "distinct") && !name_eq(agg, "mode") && !name_eq(agg, "sample");
}

/* ---------------------------------------------------------------- names */

static void expr_name(const qry_expr_t *e, cn_buf_t *out)
{
    switch (e->kind) {
    case QRY_EXPR_VAR: cn_buf_put(out, e->u.var.name, strlen(e->u.var.name)); break;
    case QRY_EXPR_CALL: cn_buf_put(out, e->u.call.name, strlen(e->u.call.name)); break;
    case QRY_EXPR_UNARY: expr_name(e->u.unary.operand, out); break;
    case QRY_EXPR_BINARY: {
        const qry_expr_t *l = e->u.bin.lhs, *r = e->u.bin.rhs;
        bool ll = l->kind != QRY_EXPR_VAR && l->kind != QRY_EXPR_CALL &&
                  l->kind != QRY_EXPR_BINARY && l->kind != QRY_EXPR_UNARY;
        bool rl = r->kind != QRY_EXPR_VAR && r->kind != QRY_EXPR_CALL &&
                  r->kind != QRY_EXPR_BINARY && r->kind != QRY_EXPR_UNARY;
        if (ll && !rl)
            expr_name(r, out);
        else if (rl && !ll)
            expr_name(l, out);
        else {
            expr_name(l, out);
            cn_buf_put_u8(out, '_');
            expr_name(r, out);
        }
        break;
    }
    default: break;
    }
}

/* ------------------------------------------------------------- compiling */

typedef struct cctx {
    plan_t *p;
    bool time_dim; /* the statement has GROUP BY time() */
    const char *subst; /* field standing for a wildcard / regex, or NULL */
    bool in_agg;       /* inside an aggregate's argument */
    bool where;
    int64_t limit; /* the statement's LIMIT (0: none) */
    /* top(x, tag..., N): the tag arguments, added as columns right after
     * the call's own column (InfluxDB appends them to the field list) */
    qry_expr_t *const *tb_args;
    size_t ntb_args;
    char *msg;
    size_t msglen;
    int depth_tf;
    bool under_tf; /* compiling a transformation's argument */
    bool post; /* compiling a post column: transformations become hidden columns */
    size_t added; /* the column add_col made last (after its hidden ones) */
} cctx_t;

static int compile(cctx_t *c, const qry_expr_t *e, cx_t **out);

/* The type field name has over all the statement's measurements
 * (wfields: InfluxDB's merged types, or this measurement's own fields);
 * ENG_T_NONE when none has it. */
static eng_type_t merged_type(const plan_t *p, const char *name)
{
    for (size_t k = 0; k < p->nwfields; k++)
        if (strcmp(p->wfields[k].name, name) == 0)
            return p->wfields[k].type;
    return ENG_T_NONE;
}

/* Is a field of type own read where the statement's merged type is mt?
 * When they are equal, or both numbers (an integer field where another
 * measurement's is a float: InfluxDB reads it as a number). */
static bool type_merges(eng_type_t own, eng_type_t mt)
{
    bool num = (own == ENG_T_FLOAT || own == ENG_T_INT) && (mt == ENG_T_FLOAT || mt == ENG_T_INT);
    return own == mt || num;
}

/* What x::vt reads of a field of type ft, as InfluxDB reads it: its
 * values, the values converted between integer and float, or nothing (a
 * string or boolean field cast to anything else, or another field cast
 * to one of those). */
enum { CAST_SAME, CAST_INT, CAST_FLOAT, CAST_NONE };

static int cast_of(qry_vtype_t vt, eng_type_t ft)
{
    switch (vt) {
    case QRY_VT_FLOAT:
        return ft == ENG_T_FLOAT ? CAST_SAME : ft == ENG_T_INT ? CAST_FLOAT : CAST_NONE;
    case QRY_VT_INTEGER:
        return ft == ENG_T_INT ? CAST_SAME : ft == ENG_T_FLOAT ? CAST_INT : CAST_NONE;
    case QRY_VT_UNSIGNED:
        return CAST_NONE; /* no unsigned fields here */
    case QRY_VT_STRING:
        return ft == ENG_T_STRING ? CAST_SAME : CAST_NONE;
    case QRY_VT_BOOLEAN:
        return ft == ENG_T_BOOL ? CAST_SAME : CAST_NONE;
    default:
        return CAST_SAME;
    }
}

static int compile_var(cctx_t *c, const char *name, qry_vtype_t vt, cx_t **out)
{
    plan_t *p = c->p;
    char *msg = c->msg;
    size_t msglen = c->msglen;
    if (name_eq(name, "time") && vt == QRY_VT_NONE) {
        *out = cx_new(p, CX_TIME);
        return 0;
    }
    int fi = vt == QRY_VT_TAG ? -1 : field_index(p, name);
    int cast = fi >= 0 ? cast_of(vt, p->fields[fi].type) : CAST_SAME;
    if (cast == CAST_NONE) { /* reads nothing, as a field no series has */
        *out = cx_new(p, CX_LIT);
        return 0;
    }
    if (fi >= 0 && !type_merges(p->fields[fi].type, merged_type(p, name))) {
        /* over several measurements, a field whose own type lost to
         * another's (InfluxDB merges them) reads as null here; an integer
         * where another measurement's field is a float is still read */
        *out = cx_new(p, CX_LIT);
        return 0;
    }
    if (fi >= 0) {
        if (c->p->aggregate && !c->p->aux && !c->p->multi && !c->in_agg && !c->where)
            return ERR("mixing aggregate and non-aggregate queries is not supported");
        cx_t *x = cx_new(p, CX_COL);
        x->idx = scan_col(p, fi);
        *out = x;
        if (cast != CAST_SAME) {
            *out = cx_new(p, CX_MATH);
            (*out)->idx = cast == CAST_INT ? M_TO_INT : M_TO_FLOAT;
            (*out)->a = x;
        }
        return 0;
    }
    if (vt == QRY_VT_FIELD || c->in_agg) {
        *out = cx_new(p, CX_LIT); /* unknown field: always null */
        return 0;
    }
    int ti = tag_index(p, name);
    if (ti < 0) {
        cx_t *x = cx_new(p, CX_LIT);
        if (c->where)
            x->lit = qry__vs("", 0); /* a missing tag compares as '' */
        *out = x;
        return 0;
    }
    if (c->p->aggregate && !c->p->aux && !c->p->multi && !c->where && !c->in_agg)
        return ERR("mixing aggregate and non-aggregate queries is not supported");
    cx_t *x = cx_new(p, CX_TAG);
    x->idx = ti;
    x->absent_null = !c->where; /* InfluxDB answers null there */
    *out = x;
    return 0;
}

/* An argument as InfluxDB prints it in its messages (a number with three
 * decimals, like Go's NumberLiteral.String). */
static void arg_str(const qry_expr_t *e, cn_buf_t *out)
{
    if (e->kind == QRY_EXPR_NUMBER) {
        char t[64];
        int n = snprintf(t, sizeof t, "%.3f", e->u.f);
        cn_buf_put(out, t, (size_t)n);
    } else {
        qry_print_expr(e, out);
    }
    cn_buf_put_u8(out, 0);
}

/* An integer literal, also written as a negated one (-1). */
static bool int_lit(const qry_expr_t *e, int64_t *v)
{
    if (e->kind == QRY_EXPR_INTEGER) {
        *v = e->u.i;
        return true;
    }
    if (e->kind == QRY_EXPR_UNARY && e->u.unary.op == QRY_OP_NEG &&
        e->u.unary.operand->kind == QRY_EXPR_INTEGER) {
        *v = -e->u.unary.operand->u.i;
        return true;
    }
    return false;
}

/*
 * The arguments of top(field[, tag...], N), bottom(...) and
 * sample(field, N), checked in InfluxDB 1.x's order with its messages.
 * Leaves the field argument as the only argument the caller looks at
 * (the tag arguments go to c->tb_args).
 */
static int multi_args(cctx_t *c, const qry_expr_t *e, agg_t *a)
{
    plan_t *p = c->p;
    char *msg = c->msg;
    size_t msglen = c->msglen;
    const char *name = e->u.call.name;
    size_t na = e->u.call.nargs;
    qry_expr_t *const *args = e->u.call.args;
    cn_buf_t b;
    cn_buf_init(&b);
    int rc = 0;
    if (a->fn == A_SAMPLE) {
        if (na != 2)
            return ERR("invalid number of arguments for sample, expected 2, got %zu", na);
        if (!int_lit(args[1], &a->nsel))
            return ERR("expected integer argument in sample()");
        if (a->nsel <= 0)
            return ERR("sample window must be greater than 1, got %lld", (long long)a->nsel);
        return 0;
    }
    if (na < 2)
        return ERR("invalid number of arguments for %s, expected at least 2, got %zu", name, na);
    if (!int_lit(args[na - 1], &a->nsel)) {
        arg_str(args[na - 1], &b);
        rc = ERR("expected integer as last argument in %s(), found %s", name, (char *)b.p);
    } else if (a->nsel <= 0) {
        rc = ERR("limit (%lld) in %s function must be at least 1", (long long)a->nsel, name);
    } else if (c->limit > 0 && a->nsel > c->limit) {
        rc = ERR("limit (%lld) in %s function can not be larger than the LIMIT (%lld) in the "
                 "select statement",
                 (long long)a->nsel, name, (long long)c->limit);
    } else if (args[0]->kind != QRY_EXPR_VAR) {
        arg_str(args[0], &b);
        rc = ERR("expected first argument to be a field in %s(), found %s", name, (char *)b.p);
    }
    for (size_t i = 1; rc == 0 && i + 1 < na; i++)
        if (args[i]->kind != QRY_EXPR_VAR) {
            arg_str(args[i], &b);
            rc = ERR("only fields or tags are allowed in %s(), found %s", name, (char *)b.p);
        }
    cn_buf_free(&b);
    if (rc < 0)
        return rc;
    a->nby = na - 2;
    a->by = qry__ralloc(p->ar, (a->nby + 1) * sizeof(int));
    for (size_t i = 0; i < a->nby; i++)
        a->by[i] = tag_index(p, args[i + 1]->u.var.name);
    c->tb_args = args + 1;
    c->ntb_args = a->nby;
    return 0;
}

/* Do a and b print alike (InfluxDB tells calls apart by their text:
 * percentile(x, 90) is not percentile(x, 90.0))? */
static bool same_text(const qry_expr_t *a, const qry_expr_t *b)
{
    cn_buf_t x, y;
    cn_buf_init(&x);
    cn_buf_init(&y);
    qry_print_expr(a, &x);
    qry_print_expr(b, &y);
    bool same = x.len == y.len && (x.len == 0 || memcmp(x.p, y.p, x.len) == 0);
    cn_buf_free(&x);
    cn_buf_free(&y);
    return same;
}

/* InfluxDB's error for a duration argument <= 0 (derivative(x, 0s)). */
static int nonpositive_duration(cctx_t *c, int64_t d)
{
    char *msg = c->msg;
    size_t msglen = c->msglen;
    cn_buf_t db;
    cn_buf_init(&db);
    qry_format_duration(d, &db);
    cn_buf_put_u8(&db, 0);
    int rc = ERR("duration argument must be positive, got %s", (const char *)db.p);
    cn_buf_free(&db);
    return rc;
}

/* The Go type name InfluxDB's errors give an argument of e's kind. */
static const char *go_node_name(const qry_expr_t *e)
{
    switch (e->kind) {
    case QRY_EXPR_INTEGER:
        return "IntegerLiteral";
    case QRY_EXPR_NUMBER:
        return "NumberLiteral";
    case QRY_EXPR_STRING:
        return "StringLiteral";
    case QRY_EXPR_DURATION:
        return "DurationLiteral";
    case QRY_EXPR_BOOL:
        return "BooleanLiteral";
    case QRY_EXPR_REGEX:
        return "RegexLiteral";
    case QRY_EXPR_VAR:
        return "VarRef";
    case QRY_EXPR_CALL:
        return "Call";
    case QRY_EXPR_BINARY:
        return "BinaryExpr";
    case QRY_EXPR_WILDCARD:
        return "Wildcard";
    default:
        return "ParenExpr";
    }
}

static int compile_agg(cctx_t *c, const qry_expr_t *e, int ai, cx_t **out)
{
    plan_t *p = c->p;
    char *msg = c->msg;
    size_t msglen = c->msglen;
    const char *name = e->u.call.name;
    agg_t a = {.fn = AGGS[ai].fn, .selector = AGGS[ai].selector, .collect = AGGS[ai].collect};
    a.tie_max = c->time_dim && (a.fn == A_FIRST || a.fn == A_LAST);
    size_t na = e->u.call.nargs;
    const qry_expr_t *arg = na ? e->u.call.args[0] : NULL;
    if (a.fn == A_PERCENTILE) {
        if (na != 2)
            return ERR("invalid number of arguments for percentile, expected 2, got %zu", na);
        const qry_expr_t *q = e->u.call.args[1];
        if (q->kind == QRY_EXPR_INTEGER)
            a.p = (double)q->u.i;
        else if (q->kind == QRY_EXPR_NUMBER)
            a.p = q->u.f;
        else
            return ERR("expected float argument in percentile()");
    } else if (a.fn == A_INTEGRAL) {
        if (na < 1 || na > 2)
            return ERR("invalid number of arguments for integral, expected at least 1 but no "
                       "more than 2, got %zu",
                       na);
        a.unit = 1000000000;
        if (na == 2 && e->u.call.args[1]->kind != QRY_EXPR_DURATION)
            return ERR("second argument must be a duration");
        if (na == 2 && (a.unit = e->u.call.args[1]->u.i) <= 0)
            return nonpositive_duration(c, a.unit);
    } else if (a.fn == A_TOP || a.fn == A_BOTTOM || a.fn == A_SAMPLE) {
        int rc = multi_args(c, e, &a);
        if (rc < 0)
            return rc;
    } else if (na != 1) {
        return ERR("invalid number of arguments for %s, expected 1, got %zu", name, na);
    }
    /* count(distinct(x)) */
    if (a.fn == A_COUNT && arg && arg->kind == QRY_EXPR_CALL &&
        strcmp(arg->u.call.name, "distinct") == 0) {
        a.fn = A_COUNT_DISTINCT;
        a.collect = true;
        if (arg->u.call.nargs != 1)
            return ERR("distinct function requires at least one argument");
        arg = arg->u.call.args[0];
    }
    const char *fname = NULL;
    if (arg && (arg->kind == QRY_EXPR_WILDCARD || arg->kind == QRY_EXPR_REGEX))
        fname = c->subst;
    else if (arg && arg->kind == QRY_EXPR_VAR)
        fname = arg->u.var.name;
    else
        return ERR("expected field argument in %s()", name);
    if (!fname)
        return ERR("expected field argument in %s()", name);
    int fi = field_index(p, fname);
    if (p->naggs == p->acap) {
        p->acap = p->acap ? 2 * p->acap : 8;
        p->aggs = cn_realloc(p->aggs, p->acap * sizeof *p->aggs);
    }
    /* the field's type over all the statement's measurements (InfluxDB
     * merges them: float over integer over string over boolean); a field
     * of this measurement whose own type lost is not read here, unless
     * both are numbers */
    eng_type_t mt = merged_type(p, fname);
    /* x::integer of a float field: truncated values; x::float of an
     * integer field aggregates the same numbers (a float sum would print
     * the same); a cast that reads nothing: nothing to aggregate */
    int cast = fi >= 0 && arg->kind == QRY_EXPR_VAR ? cast_of(arg->u.var.type, p->fields[fi].type)
                                                    : CAST_SAME;
    if (fi < 0 || !type_merges(p->fields[fi].type, mt) || cast == CAST_NONE) {
        a.col = -1;
        a.type = ENG_T_NONE;
    } else {
        a.col = scan_col(p, fi);
        a.type = cast == CAST_INT ? ENG_T_INT : p->fields[fi].type;
        a.trunc = cast == CAST_INT; /* (the column itself holds floats) */
    }
    /* a numeric function of a field named outright that holds strings or
     * booleans (a wildcard leaves such fields out): InfluxDB's error */
    bool str = mt == ENG_T_STRING, bln = mt == ENG_T_BOOL;
    bool any_type = a.fn == A_COUNT || a.fn == A_COUNT_DISTINCT || a.fn == A_FIRST ||
                    a.fn == A_LAST || a.fn == A_MODE || a.fn == A_DISTINCT || a.fn == A_SAMPLE;
    bool ordered = a.fn == A_MIN || a.fn == A_MAX; /* booleans order, strings do not */
    if (arg->kind == QRY_EXPR_VAR && cast != CAST_NONE && !any_type && (str || (bln && !ordered)))
        return ERR("unsupported %s iterator type: *query.%sInterruptIterator", name,
                   str ? "string" : "boolean");
    if (a.fn == A_DISTINCT)
        p->distinct = true;
    /* the same call again (max(x), max(x) * 2) is the same aggregate: one
     * selector then still answers its point's time, as in InfluxDB */
    a.call = e;
    a.clip = !c->under_tf;
    for (size_t k = 0; k < p->naggs && a.col >= 0 && a.fn < A_TOP && a.fn != A_DISTINCT; k++) {
        const agg_t *o = &p->aggs[k];
        if (o->fn == a.fn && o->col == a.col && o->p == a.p && o->unit == a.unit &&
            o->clip == a.clip && same_text(o->call, e)) {
            cx_t *x = cx_new(p, CX_AGG);
            x->idx = (int)k;
            *out = x;
            return 0;
        }
    }
    p->aggs[p->naggs] = a;
    cx_t *x = cx_new(p, CX_AGG);
    x->idx = (int)p->naggs++;
    *out = x;
    return 0;
}

static int add_col(cctx_t *c, const qry_expr_t *e, const char *name);
static bool has_variable(const qry_expr_t *e);

/* In a post column: e (a transformation call, or an operand without one
 * that reads data) as a hidden column, read back by a CX_OUT node. */
static int add_hidden(cctx_t *c, const qry_expr_t *e, cx_t **out)
{
    plan_t *p = c->p;
    c->post = false;
    int rc = add_col(c, e, "");
    c->post = true;
    if (rc < 0)
        return rc;
    size_t idx = c->added; /* (its own hidden columns come before it) */
    p->cols[idx].hidden = true;
    cx_t *x = cx_new(p, CX_OUT);
    x->idx = (int)idx;
    *out = x;
    return 0;
}

static int compile(cctx_t *c, const qry_expr_t *e, cx_t **out)
{
    plan_t *p = c->p;
    char *msg = c->msg;
    size_t msglen = c->msglen;
    if (c->post && (is_tf_call(e) || (!has_tf_call(e) && has_variable(e))))
        return add_hidden(c, e, out);
    switch (e->kind) {
    case QRY_EXPR_INTEGER: {
        cx_t *x = cx_new(p, CX_LIT);
        x->lit = qry__vi(e->u.i);
        *out = x;
        return 0;
    }
    case QRY_EXPR_DURATION:
    case QRY_EXPR_TIME: {
        cx_t *x = cx_new(p, CX_LIT);
        x->lit = qry__vi(e->u.i);
        *out = x;
        return 0;
    }
    case QRY_EXPR_NUMBER: {
        cx_t *x = cx_new(p, CX_LIT);
        x->lit = qry__vf(e->u.f);
        *out = x;
        return 0;
    }
    case QRY_EXPR_STRING: {
        cx_t *x = cx_new(p, CX_LIT);
        x->lit = qry__vs(e->u.s, strlen(e->u.s));
        *out = x;
        return 0;
    }
    case QRY_EXPR_BOOL: {
        cx_t *x = cx_new(p, CX_LIT);
        x->lit = qry__vb(e->u.b);
        *out = x;
        return 0;
    }
    case QRY_EXPR_REGEX: {
        if (!c->where) {
            if (c->subst)
                return compile_var(c, c->subst, QRY_VT_NONE, out);
            return ERR("invalid use of regex %s", e->u.s);
        }
        cx_t *x = cx_new(p, CX_REGEX);
        x->re = qry__ralloc(p->ar, sizeof(regex_t));
        if (qry_regcomp(x->re, e->u.s, NULL) < 0) {
            x->re = NULL;
            return ERR("error parsing regex /%s/", e->u.s);
        }
        if (p->nres == p->rescap) {
            p->rescap = p->rescap ? 2 * p->rescap : 4;
            p->res = cn_realloc(p->res, p->rescap * sizeof *p->res);
        }
        p->res[p->nres++] = x->re;
        *out = x;
        return 0;
    }
    case QRY_EXPR_WILDCARD:
        if (c->subst)
            return compile_var(c, c->subst, QRY_VT_NONE, out);
        return ERR("unsupported use of wildcard");
    case QRY_EXPR_VAR: return compile_var(c, e->u.var.name, e->u.var.type, out);
    case QRY_EXPR_PARAM: return ERR("missing parameter: %s", e->u.s);
    case QRY_EXPR_LIST: return ERR("IN lists are not supported in queries yet");
    case QRY_EXPR_UNARY: {
        if (e->u.unary.op != QRY_OP_NEG) /* NOT, IS [NOT] NULL: the rule language's */
            return ERR("%s is not supported in queries yet", qry_op_str(e->u.unary.op));
        cx_t *x = cx_new(p, CX_NEG);
        *out = x;
        return compile(c, e->u.unary.operand, &x->a);
    }
    case QRY_EXPR_BINARY: {
        if (e->u.bin.op >= QRY_OP_IN) /* IN, LIKE and their NOTs: the rule language's */
            return ERR("%s is not supported in queries yet", qry_op_str(e->u.bin.op));
        cx_t *x = cx_new(p, CX_BIN);
        x->op = e->u.bin.op;
        *out = x;
        int rc = compile(c, e->u.bin.lhs, &x->a);
        if (rc == 0)
            rc = compile(c, e->u.bin.rhs, &x->b);
        return rc;
    }
    case QRY_EXPR_CALL: {
        const char *name = e->u.call.name;
        int ai = agg_lookup(name);
        if (ai >= 0) {
            if (c->where)
                return ERR("invalid function call in condition: %s", name);
            if (c->in_agg)
                return ERR("aggregate function required inside the call to %s", name);
            bool was = c->in_agg, post = c->post;
            c->in_agg = true;
            c->post = false;
            int rc = compile_agg(c, e, ai, out);
            c->in_agg = was;
            c->post = post;
            return rc;
        }
        int mi = math_lookup(name);
        if (mi >= 0) {
            size_t na = e->u.call.nargs;
            if ((int)na != MATHS[mi].nargs)
                return ERR("invalid number of arguments for %s, expected %d, got %zu", name,
                           MATHS[mi].nargs, na);
            cx_t *x = cx_new(p, CX_MATH);
            x->idx = MATHS[mi].fn;
            *out = x;
            int rc = compile(c, e->u.call.args[0], &x->a);
            if (rc == 0 && na == 2)
                rc = compile(c, e->u.call.args[1], &x->b);
            return rc;
        }
        if (strcmp(name, "now") == 0)
            return ERR("now() is only allowed in the WHERE clause's time condition");
        if (tf_lookup(name) != TF_NONE)
            return ERR("%s() may only be used on its own in the field list", name);
        return ERR("undefined function %s()", name);
    }
    }
    return ERR("unsupported expression");
}

static void push_col(plan_t *p, const ocol_t *oc)
{
    if (p->ncols == p->ccap) {
        p->ccap = p->ccap ? 2 * p->ccap : 8;
        p->cols = cn_realloc(p->cols, p->ccap * sizeof *p->cols);
    }
    p->cols[p->ncols++] = *oc;
}

/* A column whose transformations sit inside an expression (plan.h,
 * ocol_t.post), as InfluxDB takes non_negative_derivative(mean(x), 1s) * 8
 * or abs(difference(x)). */
static int add_post_col(cctx_t *c, const qry_expr_t *e, const char *name)
{
    plan_t *p = c->p;
    char *msg = c->msg;
    size_t msglen = c->msglen;
    if (!p->aggregate && var_outside_tf(e))
        return ERR("mixing aggregate and non-aggregate queries is not supported");
    cx_t *x;
    c->post = true;
    int rc = compile(c, e, &x);
    c->post = false;
    if (rc < 0)
        return rc;
    ocol_t oc = {.name = name, .e = x, .post = true};
    c->added = p->ncols;
    push_col(p, &oc);
    p->has_post = true;
    return 0;
}

/* The arguments of a technical analysis function, f(x, period[, hold[,
 * warmup]]) (kaufmans_efficiency_ratio without the warmup), into oc, with
 * InfluxDB 1.6.7's checks and messages in its order.  A hold of -1 (the
 * default) becomes the number of values InfluxDB reads before its first
 * answer (select.c NOTES 4). */
static int ta_args(cctx_t *c, const qry_expr_t *e, ocol_t *oc)
{
    char *msg = c->msg;
    size_t msglen = c->msglen;
    const char *fn = e->u.call.name;
    size_t na = e->u.call.nargs, max = oc->tf == TF_KER ? 3 : 4;
    qry_expr_t *const *a = e->u.call.args;
    if (na < 2 || na > max)
        return ERR("invalid number of arguments for %s, expected at least 2 but no more than %zu, "
                   "got %zu",
                   fn, max, na);
    if (a[1]->kind != QRY_EXPR_INTEGER)
        return ERR("%s period must be an integer", fn);
    if (a[1]->u.i < 1)
        return ERR("%s period must be greater than or equal to 1", fn);
    oc->n = a[1]->u.i;
    oc->hold = -1;
    if (na >= 3) {
        if (a[2]->kind != QRY_EXPR_INTEGER)
            return ERR("%s hold period must be an integer", fn);
        oc->hold = a[2]->u.i;
        if (oc->tf == TF_TRIX && oc->hold < 1 && oc->hold != -1)
            return ERR("%s hold period must be greater than or equal to 1", fn);
        if (oc->hold < -1)
            return ERR("%s hold period must be greater than or equal to 0", fn);
    }
    oc->none = oc->tf == TF_CMO; /* its default warmup */
    if (na == 4) {
        const char *w = a[3]->kind == QRY_EXPR_STRING ? a[3]->u.s : NULL;
        if (!w)
            return ERR("%s warmup type must be a string", fn);
        bool cmo = oc->tf == TF_CMO;
        if (strcmp(w, "simple") != 0 && strcmp(w, "exponential") != 0 &&
            !(cmo && strcmp(w, "none") == 0))
            return ERR("%s warmup type must be one of: %s'exponential' 'simple'", fn,
                       cmo ? "'none' " : "");
        oc->simple = strcmp(w, "simple") == 0;
        oc->none = strcmp(w, "none") == 0;
    }
    if (oc->hold == -1) {
        int64_t n = oc->n;
        switch (oc->tf) {
        case TF_EMA:
            oc->hold = n - 1;
            break;
        case TF_DEMA:
            oc->hold = oc->simple ? 2 * (n - 1) : n - 1;
            break;
        case TF_TEMA:
            oc->hold = oc->simple ? 3 * (n - 1) : n - 1;
            break;
        case TF_CMO:
            oc->hold = oc->none ? n - 1 : n;
            break;
        case TF_TRIX:
            oc->hold = oc->simple ? 3 * (n - 1) + 1 : n;
            break;
        default:
            oc->hold = n;
            break; /* relative_strength_index, kaufmans_efficiency_ratio */
        }
    }
    return 0;
}

/* Adds one output column for expression e (after wildcard substitution). */
static int add_col(cctx_t *c, const qry_expr_t *e, const char *name)
{
    plan_t *p = c->p;
    char *msg = c->msg;
    size_t msglen = c->msglen;
    ocol_t oc = {.name = name};
    if (!is_tf_call(e) && has_tf_call(e))
        return add_post_col(c, e, name);
    const qry_expr_t *inner = e;
    if (e->kind == QRY_EXPR_CALL && (oc.tf = tf_lookup(e->u.call.name)) != TF_NONE) {
        size_t na = e->u.call.nargs;
        const char *fn = e->u.call.name;
        if (na < 1)
            return ERR("invalid number of arguments for %s, expected at least 1, got 0", fn);
        inner = e->u.call.args[0];
        /* difference(derivative(mean(x))): the inner one is a hidden
         * column, this one post (plan.h) */
        oc.post = has_tf_call(inner);
        if (oc.post && !c->time_dim)
            return ERR("%s aggregate requires a GROUP BY interval", fn);
        if (inner->kind == QRY_EXPR_WILDCARD || inner->kind == QRY_EXPR_REGEX) {
            if (p->aggregate)
                return ERR("%s aggregate requires a GROUP BY interval", fn);
        }
        oc.unit = 0;
        if (oc.tf == TF_MOVAVG) {
            if (na != 2)
                return ERR("invalid number of arguments for moving_average, expected 2, got %zu",
                           na);
            const qry_expr_t *w = e->u.call.args[1];
            if (w->kind != QRY_EXPR_INTEGER)
                return ERR("second argument for moving_average must be an integer, got "
                           "*influxql.%s",
                           go_node_name(w));
            oc.n = w->u.i;
            if (oc.n < 2)
                return ERR("moving_average window must be greater than 1, got %lld",
                           (long long)oc.n);
        } else if (TF_IS_TA(oc.tf)) {
            int erc = ta_args(c, e, &oc);
            if (erc < 0)
                return erc;
        } else if (oc.tf == TF_DERIV || oc.tf == TF_NNDERIV || oc.tf == TF_ELAPSED) {
            if (na > 2)
                return ERR("invalid number of arguments for %s, expected at least 1 but no "
                           "more than 2, got %zu",
                           fn, na);
            if (na == 2) {
                const qry_expr_t *d = e->u.call.args[1];
                if (d->kind == QRY_EXPR_DURATION && d->u.i <= 0)
                    return nonpositive_duration(c, d->u.i);
                if (d->kind != QRY_EXPR_DURATION)
                    return ERR("second argument to %s must be a duration, got %s", fn,
                               "a non-duration");
                oc.unit = e->u.call.args[1]->u.i;
            }
        } else if (na != 1) {
            return ERR("invalid number of arguments for %s, expected 1, got %zu", fn, na);
        }
        if (p->aggregate && !has_agg(inner))
            return ERR("aggregate function required inside the call to %s", fn);
        if (has_agg(inner) && !c->time_dim)
            return ERR("%s aggregate requires a GROUP BY interval", fn);
        if (inner->kind == QRY_EXPR_VAR && oc.tf != TF_ELAPSED) {
            /* of raw strings or booleans: InfluxDB's error */
            int fi = field_index(p, inner->u.var.name);
            eng_type_t t = fi < 0 ? ENG_T_NONE : p->fields[fi].type;
            static const char *const what[] = {[TF_DERIV] = "derivative",
                                               [TF_NNDERIV] = "derivative",
                                               [TF_DIFF] = "difference",
                                               [TF_NNDIFF] = "difference",
                                               [TF_MOVAVG] = "moving average",
                                               [TF_CUMSUM] = "cumulative sum",
                                               [TF_EMA] = "exponential moving average",
                                               [TF_DEMA] = "double exponential moving average",
                                               [TF_TEMA] = "triple exponential moving average",
                                               [TF_RSI] = "relative strength index",
                                               [TF_CMO] = "chande momentum oscillator",
                                               [TF_KER] = "kaufmans efficiency ratio",
                                               [TF_TRIX] = "triple exponential derivative"};
            if (t == ENG_T_STRING || t == ENG_T_BOOL)
                return ERR("unsupported %s iterator type: *query.%sInterruptIterator", what[oc.tf],
                           t == ENG_T_STRING ? "string" : "boolean");
        }
        p->has_tf = true;
    }
    size_t first = p->ncols;
    c->post = oc.post;
    bool under = c->under_tf;
    c->under_tf = oc.tf != TF_NONE;
    int rc = compile(c, inner, &oc.e);
    c->under_tf = under;
    c->post = false;
    if (rc < 0)
        return rc;
    p->has_post |= oc.post;
    if (oc.tf != TF_NONE) /* its rows are its own values' */
        for (size_t i = first; i < p->ncols; i++)
            p->cols[i].quiet = true;
    oc.field = find_multi(e) != NULL || has_agg(e);
    if (!oc.field) {
        /* a column referring to a field (not only tags and literals) */
        const cx_t *stack[64];
        int sp = 0;
        stack[sp++] = oc.e;
        while (sp) {
            const cx_t *x = stack[--sp];
            if (x->k == CX_COL || x->k == CX_AGG)
                oc.field = true;
            if (x->a && sp < 63)
                stack[sp++] = x->a;
            if (x->b && sp < 63)
                stack[sp++] = x->b;
        }
        /* an unknown field is still a field column (null) */
        if (inner->kind == QRY_EXPR_VAR && inner->u.var.type != QRY_VT_TAG &&
            tag_index(p, inner->u.var.name) < 0)
            oc.field = true;
    }
    size_t me = p->ncols;
    push_col(p, &oc);
    /* top(x, tag, N): the tags follow as columns of their own */
    qry_expr_t *const *tb = c->tb_args;
    size_t ntb = c->ntb_args;
    c->tb_args = NULL;
    c->ntb_args = 0;
    for (size_t i = 0; i < ntb && rc == 0; i++)
        rc = add_col(c, tb[i], tb[i]->u.var.name);
    c->added = me;
    return rc;
}

/* ------------------------------------------------------------- the WHERE */

static bool is_time_var(const qry_expr_t *e)
{
    return e->kind == QRY_EXPR_VAR && name_eq(e->u.var.name, "time");
}

/* A conjunct of the top-level AND that constrains time only. */
bool qry__is_time_cond(const qry_expr_t *e)
{
    if (e->kind != QRY_EXPR_BINARY)
        return false;
    qry_op_t op = e->u.bin.op;
    if (op < QRY_OP_EQ || op > QRY_OP_GTE)
        return false;
    return is_time_var(e->u.bin.lhs) || is_time_var(e->u.bin.rhs);
}

static cx_t *and_cx(plan_t *p, cx_t *a, cx_t *b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    cx_t *x = cx_new(p, CX_BIN);
    x->op = QRY_OP_AND;
    x->a = a;
    x->b = b;
    return x;
}

static bool refs_fields(const cx_t *x)
{
    if (!x)
        return false;
    if (x->k == CX_COL)
        return true;
    return refs_fields(x->a) || refs_fields(x->b);
}

static void add_pred(plan_t *p, const char *key, eng_tag_op_t op, const char *val, int cflags)
{
    p->preds = cn_realloc(p->preds, (p->npreds + 1) * sizeof *p->preds);
    p->preds[p->npreds++] = (eng_tag_pred_t){.key = key, .op = op, .val = val, .cflags = cflags};
}

/* The bare name e is, or one side of its ORs is (WHERE bv), or NULL:
 * InfluxDB takes no such condition. */
static const qry_expr_t *bare_var(const qry_expr_t *e)
{
    if (e->kind == QRY_EXPR_VAR)
        return e;
    if (e->kind != QRY_EXPR_BINARY || e->u.bin.op != QRY_OP_OR)
        return NULL;
    const qry_expr_t *l = bare_var(e->u.bin.lhs);
    return l ? l : bare_var(e->u.bin.rhs);
}

/* Does a field expression read a field, a tag or a wildcard?  InfluxDB
 * refuses one of literals alone (SELECT 1). */
static bool has_variable(const qry_expr_t *e)
{
    switch (e->kind) {
    case QRY_EXPR_VAR:
    case QRY_EXPR_WILDCARD:
    case QRY_EXPR_REGEX:
        return true;
    case QRY_EXPR_CALL:
        for (size_t i = 0; i < e->u.call.nargs; i++)
            if (has_variable(e->u.call.args[i]))
                return true;
        return false;
    case QRY_EXPR_BINARY:
        return has_variable(e->u.bin.lhs) || has_variable(e->u.bin.rhs);
    case QRY_EXPR_UNARY:
        return has_variable(e->u.unary.operand);
    default:
        return false;
    }
}

static int where_split(cctx_t *c, const qry_expr_t *e)
{
    plan_t *p = c->p;
    if (e->kind == QRY_EXPR_BINARY && e->u.bin.op == QRY_OP_AND) {
        int rc = where_split(c, e->u.bin.lhs);
        return rc < 0 ? rc : where_split(c, e->u.bin.rhs);
    }
    if (qry__is_time_cond(e))
        return 0; /* select.c took the bounds */
    const qry_expr_t *bare = bare_var(e);
    if (bare) { /* WHERE flag: InfluxDB's words */
        cn_buf_t nb;
        cn_buf_init(&nb);
        qry_print_expr(bare, &nb);
        cn_buf_put_u8(&nb, 0);
        int rc =
            (snprintf(c->msg, c->msglen, "invalid condition expression: %s", (const char *)nb.p),
             CN_EINVAL);
        cn_buf_free(&nb);
        return rc;
    }
    cx_t *x;
    int rc = compile(c, e, &x);
    if (rc < 0)
        return rc;
    if (refs_fields(x)) {
        p->rowcond = and_cx(p, p->rowcond, x);
        return 0;
    }
    p->tagcond = and_cx(p, p->tagcond, x);
    /* tag = 'v' (non-empty) and tag =~ /re/ narrow through the index */
    if (e->kind == QRY_EXPR_BINARY && x->k == CX_BIN && x->a->k == CX_TAG) {
        const char *key = p->tagkeys[x->a->idx];
        const qry_expr_t *r = e->u.bin.rhs;
        if (x->op == QRY_OP_EQ && r->kind == QRY_EXPR_STRING && r->u.s[0])
            add_pred(p, key, ENG_TAG_EQ, r->u.s, 0);
        else if (x->op == QRY_OP_EQREGEX && r->kind == QRY_EXPR_REGEX) {
            /* only patterns that cannot match the empty string */
            regex_t re;
            if (qry_regcomp(&re, r->u.s, NULL) == 0) {
                bool empty = regexec(&re, "", 0, NULL, 0) == 0;
                regfree(&re);
                if (!empty) {
                    cn_buf_t b;
                    cn_buf_init(&b);
                    int cflags;
                    qry_regex_posix(r->u.s, &b, &cflags);
                    add_pred(p, key, ENG_TAG_REGEX, qry__rstrdup(p->ar, (const char *)b.p), cflags);
                    cn_buf_free(&b);
                }
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ plan */

void qry__plan_free(plan_t *p)
{
    /* every regex compiled, in the plan's expressions or in one a failed
     * compile left */
    for (size_t i = 0; i < p->nres; i++)
        regfree(p->res[i]);
    cn_free(p->res);
    cn_free(p->fields);
    cn_free(p->scan_fid);
    cn_free(p->scan_type);
    cn_free(p->cols);
    cn_free(p->aggs);
    cn_free(p->preds);
    cn_free(p->gkeys);
    qry__rarena_free(p->ar);
    memset(p, 0, sizeof *p);
}

static void collect_tagkeys(plan_t *p, eng_snap_t *snap)
{
    const char **keys = NULL;
    int nk = eng_snap_tag_keys(snap, p->meas, &keys);
    p->tagkeys = qry__ralloc(p->ar, ((size_t)nk + 1) * sizeof(char *));
    p->ntagkeys = 0;
    for (int k = 0; k < nk; k++)
        if (strcmp(keys[k], QRY__ROW_TAG) != 0) /* a subquery's own (exec_int.h) */
            p->tagkeys[p->ntagkeys++] = qry__rstrdup(p->ar, keys[k]);
    cn_free(keys);
}

static bool type_ok_for(const char *agg, eng_type_t t)
{
    if (!agg)
        return true;
    if (name_eq(agg, "min") || name_eq(agg, "max")) /* booleans order (InfluxDB) */
        return t == ENG_T_FLOAT || t == ENG_T_INT || t == ENG_T_BOOL;
    if (numeric_only(agg))
        return t == ENG_T_FLOAT || t == ENG_T_INT;
    return true;
}

int qry__plan(const qry_select_t *sel, eng_snap_t *snap, const char *meas, plan_t *p, char *msg,
              size_t msglen)
{
    return qry__plan_among(sel, snap, meas, NULL, p, msg, msglen);
}

/* InfluxDB's precedence when one field name has several types across
 * measurements: float, then integer, then string, then boolean. */
static int type_rank(eng_type_t t)
{
    return t == ENG_T_FLOAT ? 4 : t == ENG_T_INT ? 3 : t == ENG_T_STRING ? 2 : 1;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int field_cmp(const void *a, const void *b)
{
    const eng_field_info_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : type_rank(y->type) - type_rank(x->type); /* the winning type first */
}

void qry__wild_build(const qry_select_t *sel, eng_snap_t *snap, const char *const *ms, size_t n,
                     qry__wild_t *w)
{
    memset(w, 0, sizeof *w);
    (void)sel;
    if (n < 2)
        return;
    /* every (name, type) and tag key of every measurement, then sorted and
     * each kept once: O(total log total) */
    size_t nf = 0, nt = 0, bytes = 0, fcap = 64, tcap = 64;
    eng_field_info_t *f = cn_malloc(fcap * sizeof *f);
    const char **t = cn_malloc(tcap * sizeof *t);
    char **tfree = cn_malloc((n + 1) * sizeof *tfree); /* eng_snap_tag_keys' arrays */
    for (size_t m = 0; m < n; m++) {
        const eng_field_info_t *fi;
        size_t k = eng_snap_fields(snap, ms[m], &fi);
        for (size_t i = 0; i < k; i++) {
            if (nf == fcap)
                f = cn_realloc(f, (fcap *= 2) * sizeof *f);
            f[nf++] = fi[i];
            bytes += strlen(fi[i].name) + 1;
        }
        const char **keys = NULL;
        int nk = eng_snap_tag_keys(snap, ms[m], &keys);
        for (int i = 0; i < nk; i++) {
            if (strcmp(keys[i], QRY__ROW_TAG) == 0)
                continue;
            if (nt == tcap)
                t = cn_realloc(t, (tcap *= 2) * sizeof *t);
            t[nt++] = keys[i];
            bytes += strlen(keys[i]) + 1;
        }
        tfree[m] = (char *)keys;
    }
    qsort(f, nf, sizeof *f, field_cmp);
    qsort(t, nt, sizeof *t, str_cmp);
    w->names = cn_malloc(bytes + 1);
    char *o = w->names;
    w->fields = cn_malloc((nf + 1) * sizeof *w->fields);
    for (size_t i = 0; i < nf; i++) {
        if (i && strcmp(f[i].name, f[i - 1].name) == 0)
            continue; /* (the first of a name has the winning type) */
        size_t l = strlen(f[i].name) + 1;
        memcpy(o, f[i].name, l);
        w->fields[w->nfields] = f[i];
        w->fields[w->nfields++].name = o;
        o += l;
    }
    w->tagkeys = cn_malloc((nt + 1) * sizeof *w->tagkeys);
    for (size_t i = 0; i < nt; i++) {
        if (i && strcmp(t[i], t[i - 1]) == 0)
            continue;
        size_t l = strlen(t[i]) + 1;
        memcpy(o, t[i], l);
        w->tagkeys[w->ntagkeys++] = o;
        o += l;
    }
    for (size_t m = 0; m < n; m++)
        cn_free(tfree[m]);
    cn_free(tfree);
    cn_free(f);
    cn_free(t);
}

void qry__wild_free(qry__wild_t *w)
{
    cn_free(w->fields);
    cn_free(w->tagkeys);
    cn_free(w->names);
    memset(w, 0, sizeof *w);
}

/* A wildcard or regex under an operator (mean(*) * 2, * + 1): InfluxDB's
 * errors. */
static int wild_under_operator(cctx_t *c, const qry_select_t *sel)
{
    char *msg = c->msg;
    size_t msglen = c->msglen;
    for (size_t i = 0; i < sel->nfields; i++) {
        const qry_expr_t *e = sel->fields[i].expr;
        const qry_expr_t *m =
            e->kind == QRY_EXPR_BINARY || e->kind == QRY_EXPR_UNARY ? find_multi(e) : NULL;
        if (!m)
            continue;
        const qry_expr_t *call = call_of_multi(e, m);
        bool wild = m->kind == QRY_EXPR_WILDCARD;
        if (call && is_agg_call(call))
            return ERR("unsupported expression with %s: %s()", wild ? "wildcard" : "regex field",
                       call->u.call.name);
        return ERR("unable to use %s in a binary expression", wild ? "wildcard" : "regex");
    }
    return 0;
}

/* ----------------------------------------------------------- type errors */

/*
 * InfluxDB checks the types of the field list's operators before it reads
 * anything: both sides of + - * / % numbers, of & | ^ the same integer or
 * boolean type.  A side whose type is unknown (a field no measurement
 * has, a math function, last() of one) takes the other's, and is never an
 * error.  The message shows the expression with each field's type
 * ("type error: sv::string + 'x': incompatible types: string and
 * string").  Parentheses are printed where precedence needs them (InfluxDB
 * keeps the ones written).
 */
static qry_vtype_t vt_of_eng(eng_type_t t)
{
    switch (t) {
    case ENG_T_FLOAT:
        return QRY_VT_FLOAT;
    case ENG_T_INT:
        return QRY_VT_INTEGER;
    case ENG_T_BOOL:
        return QRY_VT_BOOLEAN;
    case ENG_T_STRING:
        return QRY_VT_STRING;
    default:
        return QRY_VT_NONE;
    }
}

static bool vt_number(qry_vtype_t t)
{
    return t == QRY_VT_FLOAT || t == QRY_VT_INTEGER || t == QRY_VT_UNSIGNED;
}

/* A name's type as InfluxDB maps it (QRY_VT_NONE: unknown) */
static qry_vtype_t var_vtype(const plan_t *p, const qry_expr_t *e)
{
    const char *name = e->u.var.name;
    qry_vtype_t cast = e->u.var.type;
    if (cast == QRY_VT_TAG)
        return QRY_VT_TAG;
    qry_vtype_t ft = vt_of_eng(merged_type(p, name));
    if (ft == QRY_VT_NONE)
        return cast == QRY_VT_NONE && tag_index(p, name) >= 0 ? QRY_VT_TAG : QRY_VT_NONE;
    if (cast == QRY_VT_NONE || cast == QRY_VT_FIELD)
        return ft;
    if (vt_number(cast)) /* a number from a string or a boolean: nothing */
        return vt_number(ft) ? cast : QRY_VT_NONE;
    return cast;
}

/* e as InfluxDB prints it in a type error */
static void ty_render(const plan_t *p, const qry_expr_t *e, cn_buf_t *out)
{
    switch (e->kind) {
    case QRY_EXPR_BINARY: {
        int prec = qry__op_prec(e->u.bin.op);
        for (int side = 0; side < 2; side++) {
            const qry_expr_t *o = side ? e->u.bin.rhs : e->u.bin.lhs;
            int op = o->kind == QRY_EXPR_BINARY ? qry__op_prec(o->u.bin.op) : 99;
            bool paren = op < prec || (side && op == prec);
            if (side) {
                const char *os = qry_op_str(e->u.bin.op);
                cn_buf_put_u8(out, ' ');
                cn_buf_put(out, os, strlen(os));
                cn_buf_put_u8(out, ' ');
            }
            if (paren)
                cn_buf_put_u8(out, '(');
            ty_render(p, o, out);
            if (paren)
                cn_buf_put_u8(out, ')');
        }
        break;
    }
    case QRY_EXPR_UNARY:
        if (e->u.unary.op != QRY_OP_NEG) {
            qry_print_expr(e, out);
            break;
        }
        cn_buf_put(out, "-1 * ", 5); /* InfluxDB's parser writes -x so */
        ty_render(p, e->u.unary.operand, out);
        break;
    case QRY_EXPR_CALL:
        cn_buf_put(out, e->u.call.name, strlen(e->u.call.name));
        cn_buf_put_u8(out, '(');
        for (size_t i = 0; i < e->u.call.nargs; i++) {
            if (i)
                cn_buf_put(out, ", ", 2);
            ty_render(p, e->u.call.args[i], out);
        }
        cn_buf_put_u8(out, ')');
        break;
    case QRY_EXPR_VAR: {
        qry_expr_t v = *e;
        v.u.var.type = var_vtype(p, e);
        qry_print_expr(&v, out);
        break;
    }
    case QRY_EXPR_NUMBER: {
        char t[64];
        int n = snprintf(t, sizeof t, "%.3f", e->u.f);
        cn_buf_put(out, t, (size_t)n);
        break;
    }
    default:
        qry_print_expr(e, out);
        break;
    }
}

static int ty_fail(cctx_t *c, const qry_expr_t *e, qry_vtype_t l, qry_vtype_t r)
{
    char *msg = c->msg;
    size_t msglen = c->msglen;
    cn_buf_t b;
    cn_buf_init(&b);
    ty_render(c->p, e, &b);
    int rc = ERR("type error: %.*s: incompatible types: %s and %s", (int)b.len, (const char *)b.p,
                 qry_vtype_str(l), qry_vtype_str(r));
    cn_buf_free(&b);
    return rc;
}

/* The type of e (QRY_VT_NONE: unknown), or InfluxDB's type error. */
static int ty_check(cctx_t *c, const qry_expr_t *e, qry_vtype_t *out)
{
    *out = QRY_VT_NONE;
    qry_vtype_t l, r;
    switch (e->kind) {
    case QRY_EXPR_VAR:
        *out = var_vtype(c->p, e);
        return 0;
    case QRY_EXPR_INTEGER:
        *out = QRY_VT_INTEGER;
        return 0;
    case QRY_EXPR_NUMBER:
        *out = QRY_VT_FLOAT;
        return 0;
    case QRY_EXPR_STRING:
        *out = QRY_VT_STRING;
        return 0;
    case QRY_EXPR_BOOL:
        *out = QRY_VT_BOOLEAN;
        return 0;
    case QRY_EXPR_UNARY:
        if (e->u.unary.op != QRY_OP_NEG)
            return 0;
        QRY__TRY(ty_check(c, e->u.unary.operand, &r));
        if (r != QRY_VT_NONE && !vt_number(r))
            return ty_fail(c, e, QRY_VT_INTEGER, r); /* -1 * x */
        *out = r;
        return 0;
    case QRY_EXPR_CALL: {
        const char *f = e->u.call.name;
        qry_vtype_t a = QRY_VT_NONE;
        for (size_t i = 0; i < e->u.call.nargs; i++)
            QRY__TRY(ty_check(c, e->u.call.args[i], i ? &r : &a));
        static const char *const fl[] = {
            "mean",           "median",       "stddev",
            "integral",       "derivative",   "non_negative_derivative",
            "moving_average", "holt_winters", "holt_winters_with_fit"};
        static const char *const same[] = {"sum",
                                           "spread",
                                           "percentile",
                                           "difference",
                                           "non_negative_difference",
                                           "cumulative_sum",
                                           "max",
                                           "min",
                                           "first",
                                           "last",
                                           "mode",
                                           "distinct",
                                           "sample",
                                           "top",
                                           "bottom"};
        for (size_t i = 0; i < sizeof fl / sizeof *fl; i++)
            if (strcmp(f, fl[i]) == 0)
                *out = QRY_VT_FLOAT;
        if (TF_IS_TA(tf_lookup(f))) /* the technical analysis functions */
            *out = QRY_VT_FLOAT;
        for (size_t i = 0; i < sizeof same / sizeof *same; i++)
            if (strcmp(f, same[i]) == 0)
                *out = a;
        if (strcmp(f, "count") == 0 || strcmp(f, "elapsed") == 0)
            *out = QRY_VT_INTEGER;
        return 0;
    }
    case QRY_EXPR_BINARY: {
        qry_op_t op = e->u.bin.op;
        bool bits = op == QRY_OP_BITAND || op == QRY_OP_BITOR || op == QRY_OP_BITXOR;
        bool arith = op == QRY_OP_ADD || op == QRY_OP_SUB || op == QRY_OP_MUL || op == QRY_OP_DIV ||
                     op == QRY_OP_MOD;
        if (!bits && !arith)
            return 0;
        QRY__TRY(ty_check(c, e->u.bin.lhs, &l));
        QRY__TRY(ty_check(c, e->u.bin.rhs, &r));
        if (l == QRY_VT_NONE || r == QRY_VT_NONE) {
            *out = l == QRY_VT_NONE ? r : l;
            return 0;
        }
        /* (1.6.7 takes any right side after a boolean: bv & 1) */
        bool ok =
            bits ? l == QRY_VT_BOOLEAN || (l == r && (l == QRY_VT_INTEGER || l == QRY_VT_UNSIGNED))
                 : vt_number(l) && vt_number(r);
        if (!ok)
            return ty_fail(c, e, l, r);
        *out = l == QRY_VT_FLOAT || r == QRY_VT_FLOAT ? QRY_VT_FLOAT : l;
        return 0;
    }
    default:
        return 0;
    }
}

static int type_errors(cctx_t *c, const qry_select_t *sel)
{
    for (size_t i = 0; i < sel->nfields; i++) {
        const qry_expr_t *e = sel->fields[i].expr;
        /* an aggregate beside a bare field (count(sv) + sv): InfluxDB's
         * mixing error comes first, from the compile below */
        if (has_agg(e) && find_node(e, is_var_or_multi, is_agg_call))
            continue;
        qry_vtype_t t;
        QRY__TRY(ty_check(c, e, &t));
    }
    return 0;
}

/* A statement without aggregates: a transformation beside a raw field
 * (difference(x), x), which InfluxDB takes for an aggregate beside a
 * field, and GROUP BY time() (InfluxDB's errors). */
static int raw_tf_errors(cctx_t *c, const qry_select_t *sel)
{
    char *msg = c->msg;
    size_t msglen = c->msglen;
    bool raw_tf = false, raw_var = false;
    for (size_t i = 0; i < sel->nfields; i++) {
        const qry_expr_t *e = sel->fields[i].expr;
        if (is_time_var(e))
            continue;
        raw_tf |= has_tf_call(e);
        raw_var |= var_outside_tf(e);
    }
    if (raw_tf && raw_var)
        return ERR("mixing aggregate and non-aggregate queries is not supported");
    if (!sel->time_dim)
        return 0;
    for (size_t i = 0; i < sel->nfields; i++) {
        const char *tf = tf_raw_arg(sel->fields[i].expr);
        if (tf)
            return ERR("aggregate function required inside the call to %s", tf);
    }
    return ERR("GROUP BY requires at least one aggregate function");
}

int qry__plan_among(const qry_select_t *sel, eng_snap_t *snap, const char *meas,
                    const qry__wild_t *w, plan_t *p, char *msg, size_t msglen)
{
    memset(p, 0, sizeof *p);
    p->ar = qry__rarena_new();
    p->meas = qry__rstrdup(p->ar, meas);
    const eng_field_info_t *fi;
    p->nfields = eng_snap_fields(snap, meas, &fi);
    p->fields = cn_malloc((p->nfields + 1) * sizeof *p->fields);
    for (size_t i = 0; i < p->nfields; i++) {
        p->fields[i] = fi[i];
        p->fields[i].name = qry__rstrdup(p->ar, fi[i].name);
    }
    collect_tagkeys(p, snap);
    bool union_ok = w && (w->nfields || w->ntagkeys);
    p->wfields = union_ok ? w->fields : p->fields;
    p->nwfields = union_ok ? w->nfields : p->nfields;
    p->wtagkeys = union_ok ? w->tagkeys : p->tagkeys;
    p->nwtagkeys = union_ok ? w->ntagkeys : p->ntagkeys;
    cctx_t c = {.p = p,
                .msg = msg,
                .msglen = msglen,
                .time_dim = sel->time_dim != NULL,
                .limit = sel->limit};

    int rc = wild_under_operator(&c, sel);
    if (rc == 0)
        rc = type_errors(&c, sel);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < sel->nfields; i++)
        if (has_agg(sel->fields[i].expr))
            p->aggregate = true;
    /* InfluxDB: a single selector may stand next to plain fields and tags,
     * which then answer their values at the selected point */
    if (p->aggregate) {
        size_t ncalls = 0, nsel = 0;
        bool plain = false;
        for (size_t i = 0; i < sel->nfields; i++) {
            const qry_expr_t *e = sel->fields[i].expr;
            count_aggs(e, &ncalls, &nsel);
            plain |= !has_agg(e) && !is_time_var(e);
        }
        /* top/bottom: alone (InfluxDB's check comes before the others) */
        for (size_t i = 0; i < sel->nfields; i++) {
            const char *tb = multi_call(sel->fields[i].expr);
            if (tb && (ncalls > 1 || has_tf_call(sel->fields[i].expr))) {
                if (strcmp(tb, "sample") == 0)
                    return ERR("sample() cannot be combined with other functions");
                return ERR("selector function %s() cannot be combined with other functions", tb);
            }
            if (tb)
                p->multi = true;
        }
        p->aux = plain && ncalls == 1 && nsel == 1 && !p->multi;
        if (plain && nsel > 1 && nsel == ncalls)
            return ERR("mixing multiple selector functions with tags or fields is not supported");
    }

    /* GROUP BY tag keys (a wildcard: every key) */
    bool gall = false;
    for (size_t d = 0; d < sel->ndims; d++)
        if (sel->dims[d].kind == QRY_DIM_WILDCARD)
            gall = true;
    p->gkeys = cn_malloc((p->ntagkeys + sel->ndims + 1) * sizeof(int));
    p->gnames = qry__ralloc(p->ar, (p->ntagkeys + sel->ndims + 1) * sizeof(char *));
    for (size_t k = 0; k < p->ntagkeys; k++) {
        bool want = gall;
        for (size_t d = 0; d < sel->ndims && !want; d++) {
            const qry_dim_t *dm = &sel->dims[d];
            if (dm->kind == QRY_DIM_TAG)
                want = name_eq(dm->name, p->tagkeys[k]);
            else if (dm->kind == QRY_DIM_REGEX) {
                regex_t re;
                if (qry_regcomp(&re, dm->name, NULL) == 0) {
                    want = regexec(&re, p->tagkeys[k], 0, NULL, 0) == 0;
                    regfree(&re);
                }
            }
        }
        if (want) {
            p->gkeys[p->ngkeys] = (int)k;
            p->gnames[p->ngkeys++] = p->tagkeys[k];
        }
    }
    /* GROUP BY keys no series has: still in the output tags, value "" */
    for (size_t d = 0; d < sel->ndims; d++) {
        const qry_dim_t *dm = &sel->dims[d];
        if (dm->kind != QRY_DIM_TAG || tag_index(p, dm->name) >= 0)
            continue;
        bool dup = false;
        for (size_t g = 0; g < p->ngkeys && !dup; g++)
            dup = name_eq(p->gnames[g], dm->name);
        if (dup)
            continue;
        p->gkeys[p->ngkeys] = -1;
        p->gnames[p->ngkeys++] = qry__rstrdup(p->ar, dm->name);
    }
    /* keep the group keys sorted by name (the output's tag order) */
    for (size_t a = 1; a < p->ngkeys; a++)
        for (size_t b = a; b > 0 && strcmp(p->gnames[b - 1], p->gnames[b]) > 0; b--) {
            const char *tn = p->gnames[b];
            p->gnames[b] = p->gnames[b - 1];
            p->gnames[b - 1] = tn;
            int ti = p->gkeys[b];
            p->gkeys[b] = p->gkeys[b - 1];
            p->gkeys[b - 1] = ti;
        }

    if (!p->aggregate) {
        rc = raw_tf_errors(&c, sel);
        if (rc < 0)
            return rc;
    }

    /* the field list */
    rc = 0;
    for (size_t i = 0; i < sel->nfields && rc == 0; i++) {
        const qry_field_t *f = &sel->fields[i];
        const qry_expr_t *e = f->expr;
        if (is_time_var(e))
            continue;
        if (e->kind == QRY_EXPR_WILDCARD || e->kind == QRY_EXPR_REGEX) {
            /* raw: every field and tag (not grouped by), sorted together */
            if (p->aggregate && !p->aux && !p->multi)
                return ERR("mixing aggregate and non-aggregate queries is not supported");
            regex_t re;
            bool rx = e->kind == QRY_EXPR_REGEX;
            if (rx && qry_regcomp(&re, e->u.s, NULL) < 0)
                return ERR("error parsing regex /%s/", e->u.s);
            qry_vtype_t wt = e->kind == QRY_EXPR_WILDCARD ? e->u.wild.type : QRY_VT_NONE;
            const char **names = cn_malloc((p->nwfields + p->nwtagkeys + 1) * sizeof(char *));
            bool *istag = cn_malloc(p->nwfields + p->nwtagkeys + 1);
            size_t nn = 0;
            for (size_t k = 0; k < p->nwfields; k++)
                if (wt != QRY_VT_TAG && (!rx || regexec(&re, p->wfields[k].name, 0, NULL, 0) == 0))
                    names[nn++] = p->wfields[k].name;
            size_t nfld = nn;
            for (size_t k = 0; k < p->nwtagkeys; k++) {
                bool grouped = false;
                for (size_t g = 0; g < p->ngkeys && !grouped; g++)
                    grouped = name_eq(p->gnames[g], p->wtagkeys[k]);
                /* (a tag named like a field stays: its column gets the
                 * name's next free suffix, x_1, as in InfluxDB) */
                if (wt != QRY_VT_FIELD && !grouped &&
                    (!rx || regexec(&re, p->wtagkeys[k], 0, NULL, 0) == 0))
                    names[nn++] = p->wtagkeys[k];
            }
            for (size_t k = 0; k < nn; k++)
                istag[k] = k >= nfld;
            /* insertion sort keeps field/tag flags aligned */
            for (size_t a = 1; a < nn; a++)
                for (size_t b = a; b > 0 && strcmp(names[b - 1], names[b]) > 0; b--) {
                    const char *tn = names[b];
                    names[b] = names[b - 1];
                    names[b - 1] = tn;
                    bool tt = istag[b];
                    istag[b] = istag[b - 1];
                    istag[b - 1] = tt;
                }
            for (size_t k = 0; k < nn && rc == 0; k++) {
                qry_expr_t v = {.kind = QRY_EXPR_VAR, .depth = 1};
                v.u.var.name = names[k];
                v.u.var.type = istag[k] ? QRY_VT_TAG : QRY_VT_FIELD;
                rc = add_col(&c, &v, names[k]);
            }
            cn_free(names);
            cn_free(istag);
            if (rx)
                regfree(&re);
            continue;
        }
        const qry_expr_t *m = find_multi(e);
        if (m) {
            /* mean(*), max(/re/), derivative(mean(*)) ...: once per field */
            regex_t re;
            bool rx = m->kind == QRY_EXPR_REGEX;
            if (rx && qry_regcomp(&re, m->u.s, NULL) < 0)
                return ERR("error parsing regex /%s/", m->u.s);
            const char *agg = inner_agg(e);
            /* a transformation of raw fields (difference(*)) takes the
             * numeric ones, elapsed() every one, as InfluxDB */
            int rtf = !agg && e->kind == QRY_EXPR_CALL ? tf_lookup(e->u.call.name) : TF_NONE;
            bool raw_numeric = rtf != TF_NONE && rtf != TF_ELAPSED;
            cn_buf_t nb;
            cn_buf_init(&nb);
            /* fields in name order, as InfluxDB expands wildcards */
            const eng_field_info_t *wf = p->wfields;
            size_t *ord = cn_malloc((p->nwfields + 1) * sizeof *ord);
            for (size_t k = 0; k < p->nwfields; k++)
                ord[k] = k;
            for (size_t a = 1; a < p->nwfields; a++)
                for (size_t b = a; b > 0 && strcmp(wf[ord[b - 1]].name, wf[ord[b]].name) > 0; b--) {
                    size_t t = ord[b];
                    ord[b] = ord[b - 1];
                    ord[b - 1] = t;
                }
            for (size_t oi = 0; oi < p->nwfields && rc == 0; oi++) {
                size_t k = ord[oi];
                if (rx && regexec(&re, wf[k].name, 0, NULL, 0) != 0)
                    continue;
                if (!type_ok_for(agg, wf[k].type) ||
                    (raw_numeric && wf[k].type != ENG_T_FLOAT && wf[k].type != ENG_T_INT))
                    continue;
                c.subst = wf[k].name;
                cn_buf_reset(&nb);
                if (f->alias)
                    cn_buf_put(&nb, f->alias, strlen(f->alias));
                else
                    expr_name(e, &nb);
                cn_buf_put_u8(&nb, '_');
                cn_buf_put(&nb, c.subst, strlen(c.subst));
                rc = add_col(&c, e, qry__rstrndup(p->ar, (const char *)nb.p, nb.len));
            }
            c.subst = NULL;
            cn_free(ord);
            cn_buf_free(&nb);
            if (rx)
                regfree(&re);
            continue;
        }
        cn_buf_t nb;
        cn_buf_init(&nb);
        if (f->alias)
            cn_buf_put(&nb, f->alias, strlen(f->alias));
        else
            expr_name(e, &nb);
        rc = add_col(&c, e, qry__rstrndup(p->ar, nb.p ? (const char *)nb.p : "", nb.len));
        if (rc == 0 && f->alias)
            p->cols[c.added].aliased = true;
        cn_buf_free(&nb);
        if (rc == 0 && !has_variable(e)) /* (after the call's own checks) */
            return ERR("field must contain at least one variable");
    }
    if (rc < 0)
        return rc;
    if (p->ncols == 0) {
        /* nothing to select (a wildcard over a measurement without fields)
         * or only `time` */
        bool only_time = sel->nfields > 0;
        for (size_t i = 0; i < sel->nfields; i++)
            only_time &= is_time_var(sel->fields[i].expr);
        if (only_time)
            return ERR("at least 1 non-time field must be queried");
    }
    if (p->multi && p->naggs > 1) {
        /* sample(*, N): one column per field, nothing else */
        for (size_t i = 0; i < p->ncols; i++)
            if (p->cols[i].e->k != CX_AGG)
                return ERR("mixing aggregate and non-aggregate queries is not supported");
    }
    size_t nvis = 0;
    for (size_t i = 0; i < p->ncols; i++)
        nvis += !p->cols[i].hidden;
    if (p->distinct && (nvis > 1 || p->naggs > 1))
        return ERR("aggregate function distinct() cannot be combined with other functions or "
                   "fields");
    /* duplicate column names get _1, _2 ... (names given by AS stay) */
    for (size_t i = 1; i < p->ncols; i++) {
        bool dup = false;
        if (p->cols[i].aliased || p->cols[i].hidden)
            continue;
        for (size_t j = 0; j < i && !dup; j++)
            dup = !p->cols[j].hidden && name_eq(p->cols[j].name, p->cols[i].name);
        for (int k = 1; dup; k++) {
            char tmp[512];
            snprintf(tmp, sizeof tmp, "%s_%d", p->cols[i].name, k);
            bool clash = false;
            for (size_t t = 0; t < p->ncols && !clash; t++)
                clash = t != i && !p->cols[t].hidden && name_eq(p->cols[t].name, tmp);
            if (!clash) {
                p->cols[i].name = qry__rstrdup(p->ar, tmp);
                dup = false;
            }
        }
    }
    /* a lone selector (alone, or with aux columns) reports its point's time */
    if (p->aggregate && p->naggs == 1 && p->aggs[0].selector && !sel->time_dim && !p->has_tf)
        p->point_time = true;
    if (p->aux) {
        if (p->naggs != 1 || p->has_tf || p->distinct)
            return ERR("mixing aggregate and non-aggregate queries is not supported");
        p->aux_agg = 0;
        p->aggs[0].aux_sel = true;
    }

    if (sel->cond) {
        c.where = true;
        rc = where_split(&c, sel->cond);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int qry__plan_where(eng_snap_t *snap, const char *meas, const qry_expr_t *cond, plan_t *p,
                    char *msg, size_t msglen)
{
    memset(p, 0, sizeof *p);
    p->ar = qry__rarena_new();
    p->meas = qry__rstrdup(p->ar, meas);
    const eng_field_info_t *fi;
    p->nfields = eng_snap_fields(snap, meas, &fi);
    p->fields = cn_malloc((p->nfields + 1) * sizeof *p->fields);
    for (size_t i = 0; i < p->nfields; i++) {
        p->fields[i] = fi[i];
        p->fields[i].name = qry__rstrdup(p->ar, fi[i].name);
    }
    collect_tagkeys(p, snap);
    if (!cond)
        return 0;
    cctx_t c = {.p = p, .msg = msg, .msglen = msglen, .where = true};
    return where_split(&c, cond);
}
