/* SPDX-License-Identifier: MIT */
/*
 * eval.c - evaluation of compiled expressions (plan.h) on one row:
 * arithmetic with InfluxQL's typing (integer op integer stays integer
 * except '/', which gives a float; a null operand gives null), comparisons
 * (numbers across int/float, strings bytewise, booleans for = and !=),
 * regex matches, AND/OR, and the math functions.
 */
#include "plan.h"

#include <math.h>
#include <string.h>

bool qry__truthy(qry_val_t v)
{
    return v.t == QRY_BOOL && v.u.b;
}

static bool is_num(const qry_val_t *v)
{
    return v->t == QRY_FLOAT || v->t == QRY_INT || v->t == QRY_TIME;
}

static double num(const qry_val_t *v)
{
    return v->t == QRY_FLOAT ? v->u.f : (double)v->u.i;
}

static qry_val_t compare(qry_op_t op, const qry_val_t *a, const qry_val_t *b)
{
    int c;
    if (is_num(a) && is_num(b)) {
        if (a->t != QRY_FLOAT && b->t != QRY_FLOAT)
            c = a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
        else {
            double x = num(a), y = num(b);
            if (isnan(x) || isnan(y))
                return qry__vb(op == QRY_OP_NEQ);
            c = x < y ? -1 : x > y;
        }
    } else if (a->t == QRY_STR && b->t == QRY_STR) {
        /* strings, tags as fields, only compare for (in)equality in
         * InfluxQL: an ordering is never true, as in InfluxDB 1.x */
        if (op != QRY_OP_EQ && op != QRY_OP_NEQ)
            return qry__vb(false);
        c = qry__vcmp(a, b);
    } else if (a->t == QRY_BOOL && b->t == QRY_BOOL) {
        if (op != QRY_OP_EQ && op != QRY_OP_NEQ)
            return qry__vb(false);
        c = (int)a->u.b - (int)b->u.b;
    } else {
        return qry__vb(false);
    }
    switch (op) {
    case QRY_OP_EQ: return qry__vb(c == 0);
    case QRY_OP_NEQ: return qry__vb(c != 0);
    case QRY_OP_LT: return qry__vb(c < 0);
    case QRY_OP_LTE: return qry__vb(c <= 0);
    case QRY_OP_GT: return qry__vb(c > 0);
    case QRY_OP_GTE: return qry__vb(c >= 0);
    default: return qry__vb(false);
    }
}

static qry_val_t arith(qry_op_t op, const qry_val_t *a, const qry_val_t *b)
{
    if (a->t == QRY_BOOL && b->t == QRY_BOOL) {
        switch (op) {
        case QRY_OP_BITAND: return qry__vb(a->u.b && b->u.b);
        case QRY_OP_BITOR: return qry__vb(a->u.b || b->u.b);
        case QRY_OP_BITXOR: return qry__vb(a->u.b != b->u.b);
        default: return qry__vnull();
        }
    }
    if (!is_num(a) || !is_num(b))
        return qry__vnull();
    if (a->t != QRY_FLOAT && b->t != QRY_FLOAT) {
        int64_t x = a->u.i, y = b->u.i, r;
        switch (op) {
        case QRY_OP_ADD: return qry__vi((int64_t)((uint64_t)x + (uint64_t)y));
        case QRY_OP_SUB: return qry__vi((int64_t)((uint64_t)x - (uint64_t)y));
        case QRY_OP_MUL: return qry__vi((int64_t)((uint64_t)x * (uint64_t)y));
        case QRY_OP_DIV: return y == 0 ? qry__vf(0) : qry__vf((double)x / (double)y);
        case QRY_OP_MOD:
            if (y == 0 || (x == INT64_MIN && y == -1))
                return qry__vi(0);
            r = x % y;
            return qry__vi(r);
        case QRY_OP_BITAND: return qry__vi(x & y);
        case QRY_OP_BITOR: return qry__vi(x | y);
        case QRY_OP_BITXOR: return qry__vi(x ^ y);
        default: return qry__vnull();
        }
    }
    double x = num(a), y = num(b);
    switch (op) {
    case QRY_OP_ADD: return qry__vf(x + y);
    case QRY_OP_SUB: return qry__vf(x - y);
    case QRY_OP_MUL: return qry__vf(x * y);
    case QRY_OP_DIV: return y == 0 ? qry__vf(0) : qry__vf(x / y);
    case QRY_OP_MOD: return y == 0 ? qry__vf(0) : qry__vf(fmod(x, y));
    default: return qry__vnull();
    }
}

static qry_val_t math1(int fn, const qry_val_t *a, const qry_val_t *b)
{
    if (!is_num(a) || (b && !is_num(b)))
        return qry__vnull();
    bool isint = a->t != QRY_FLOAT;
    double x = num(a), y = b ? num(b) : 0;
    switch (fn) {
    case M_ABS:
        if (isint)
            return qry__vi(a->u.i < 0 ? (int64_t)(0 - (uint64_t)a->u.i) : a->u.i);
        return qry__vf(fabs(x));
    case M_CEIL: return isint ? *a : qry__vf(ceil(x));
    case M_FLOOR: return isint ? *a : qry__vf(floor(x));
    case M_ROUND: return isint ? *a : qry__vf(round(x));
    case M_SQRT: return qry__vf(sqrt(x));
    case M_TO_INT:
        return isint ? *a : qry__vi(qry__f64_to_i64(x));
    case M_TO_FLOAT:
        return qry__vf(x);
    case M_POW: return qry__vf(pow(x, y));
    case M_LOG: return qry__vf(log(x) / log(y));
    case M_LOG2: return qry__vf(log2(x));
    case M_LOG10: return qry__vf(log10(x));
    case M_LN: return qry__vf(log(x));
    case M_EXP: return qry__vf(exp(x));
    case M_SIN: return qry__vf(sin(x));
    case M_COS: return qry__vf(cos(x));
    case M_TAN: return qry__vf(tan(x));
    case M_ASIN: return qry__vf(asin(x));
    case M_ACOS: return qry__vf(acos(x));
    case M_ATAN: return qry__vf(atan(x));
    case M_ATAN2: return qry__vf(atan2(x, y));
    default: return qry__vnull();
    }
}

static bool rx_match(const cx_t *r, const qry_val_t *v)
{
    if (v->t != QRY_STR || !r->re)
        return false;
    char small[256];
    char *s = v->u.s.len < sizeof small ? small : cn_malloc(v->u.s.len + 1);
    memcpy(s, v->u.s.p, v->u.s.len);
    s[v->u.s.len] = 0;
    bool m = regexec(r->re, s, 0, NULL, 0) == 0;
    if (s != small)
        cn_free(s);
    return m;
}

const char qry__tag_absent[1] = "";

qry_val_t qry__cx_eval(const cx_t *e, const cx_env_t *env)
{
    switch (e->k) {
    case CX_LIT: return e->lit;
    case CX_COL: return env->cols ? env->cols[e->idx] : qry__vnull();
    case CX_TAG: {
        const char *t = env->tags ? env->tags[e->idx] : "";
        if (t == qry__tag_absent && e->absent_null)
            return qry__vnull();
        return qry__vs(t, strlen(t));
    }
    case CX_AGG: return env->aggs ? env->aggs[e->idx] : qry__vnull();
    case CX_TIME: return qry__vi(env->time);
    case CX_REGEX: return qry__vnull();
    case CX_OUT:
        return env->outs ? env->outs[e->idx] : qry__vnull();
    case CX_NEG: {
        qry_val_t v = qry__cx_eval(e->a, env);
        if (v.t == QRY_FLOAT)
            return qry__vf(-v.u.f);
        if (v.t == QRY_INT)
            return qry__vi((int64_t)(0 - (uint64_t)v.u.i));
        return qry__vnull();
    }
    case CX_MATH: {
        qry_val_t a = qry__cx_eval(e->a, env);
        if (e->b) {
            qry_val_t b = qry__cx_eval(e->b, env);
            return math1(e->idx, &a, &b);
        }
        return math1(e->idx, &a, NULL);
    }
    case CX_BIN: {
        qry_op_t op = e->op;
        if (op == QRY_OP_AND) {
            if (!qry__truthy(qry__cx_eval(e->a, env)))
                return qry__vb(false);
            return qry__vb(qry__truthy(qry__cx_eval(e->b, env)));
        }
        if (op == QRY_OP_OR) {
            if (qry__truthy(qry__cx_eval(e->a, env)))
                return qry__vb(true);
            return qry__vb(qry__truthy(qry__cx_eval(e->b, env)));
        }
        qry_val_t a = qry__cx_eval(e->a, env);
        if (op == QRY_OP_EQREGEX || op == QRY_OP_NEQREGEX) {
            if (e->b->k != CX_REGEX)
                return qry__vb(false);
            if (a.t == QRY_NULL)
                return qry__vb(false);
            bool m = rx_match(e->b, &a);
            return qry__vb(op == QRY_OP_EQREGEX ? m : !m);
        }
        qry_val_t b = qry__cx_eval(e->b, env);
        if (op == QRY_OP_BITAND || op == QRY_OP_BITOR || op == QRY_OP_BITXOR) {
            /* InfluxDB 1.6.7: a null beside a boolean is false, and a
             * boolean & | ^ anything but a boolean is false (its type
             * check lets a boolean on the left through: bv & 1).  Not
             * beside a literal: InfluxDB keeps a row only where a field
             * has a point, which a value made from nothing would undo */
            if (a.t == QRY_NULL && b.t == QRY_BOOL && e->b->k != CX_LIT)
                a = qry__vb(false);
            else if (b.t == QRY_NULL && a.t == QRY_BOOL && e->a->k != CX_LIT)
                b = qry__vb(false);
            if (a.t == QRY_BOOL && b.t != QRY_BOOL)
                return qry__vb(false);
        }
        if (a.t == QRY_NULL || b.t == QRY_NULL)
            return op >= QRY_OP_EQ && op <= QRY_OP_GTE ? qry__vb(false) : qry__vnull();
        if (op >= QRY_OP_EQ && op <= QRY_OP_GTE)
            return compare(op, &a, &b);
        return arith(op, &a, &b);
    }
    }
    return qry__vnull();
}

static bool refs_col(const cx_t *x)
{
    if (!x)
        return false;
    if (x->k == CX_COL)
        return true;
    return refs_col(x->a) || refs_col(x->b);
}

int qry__cx_tri(const cx_t *e, const char *const *tags)
{
    if (!e)
        return 1;
    if (e->k == CX_BIN && (e->op == QRY_OP_AND || e->op == QRY_OP_OR)) {
        int a = qry__cx_tri(e->a, tags), b = qry__cx_tri(e->b, tags);
        if (e->op == QRY_OP_AND)
            return a == 0 || b == 0 ? 0 : (a == 1 && b == 1 ? 1 : 2);
        return a == 1 || b == 1 ? 1 : (a == 0 && b == 0 ? 0 : 2);
    }
    if (refs_col(e))
        return 2;
    cx_env_t env = {.tags = tags};
    return qry__truthy(qry__cx_eval(e, &env)) ? 1 : 0;
}
