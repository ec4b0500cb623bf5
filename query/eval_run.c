/* SPDX-License-Identifier: MIT */
/*
 * eval_run.c - the interpreter of compiled rule programs (eval.c builds
 * them): operators with SQL's NULL logic, the WHERE verdict, the output
 * list and its JSON rendering.  Semantics are documented in eval.h.
 *
 * NOTES
 * 1. qry_prefilter_t keeps, per program, what fast_where reads of it (the
 *    slot, the verdict mask, the constant as a double or an integer) in
 *    one 24-byte entry, with the verdict a passing WHERE gives (PASS for
 *    bare outputs, else RUN) folded in.  Judging a rule set then reads a
 *    contiguous array instead of a program struct each, and the common
 *    pairs (a float reading against a number, an integer against an
 *    integer) take two compares; every other pair goes through
 *    fast_where on the program itself, so the verdicts are
 *    qry_prog_prefilter's exactly (test_rule_eval checks them against
 *    each other and against qry_prog_run).  rules_bench --rules 100
 *    under callgrind: about 40 -> 20 instructions per rule and row.
 *    The other pairs' path is a function apart (prefilter_other), so the
 *    loop keeps its values in registers instead of spilling them for a
 *    call it rarely makes: 383 -> 369 instructions a message with 10
 *    rules under cachegrind.
 */
#include "eval_int.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

const char *qry_vkind_str(qry_vkind_t t)
{
    static const char *const s[] = {"null", "boolean", "integer", "float", "string"};
    return (size_t)t < CN_ARRAY_LEN(s) ? s[t] : "unknown";
}

/* ------------------------------------------------------------- formatting */

/* Shortest text that reads back to the same double, with ".0" on
 * integral values so it stays a float. */
/* Fast path of put_double: v as m / 10^k with the fewest decimals k <= 15
 * and |m| < 2^53, checked to read back exactly (IEEE division by an exact
 * power of ten is correctly rounded, so m / 10^k == v means the decimal
 * text m*10^-k parses to v).  Readings such as 21.37 take this path;
 * returns false for the rest. */
static bool put_decimal(cn_buf_t *b, double v)
{
    static const double p10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    if (!(v > -9e15 && v < 9e15) || (v == 0 && signbit(v)))
        return false;
    for (int k = 0; k < 16; k++) {
        double x = v * p10[k];
        if (!(x > -9007199254740992.0 && x < 9007199254740992.0))
            return false;
        int64_t m = (int64_t)x; /* llround(x), inline: x - m is exact here */
        double frac = x - (double)m;
        m += frac >= 0.5 ? 1 : frac <= -0.5 ? -1 : 0;
        if ((double)m / p10[k] != v)
            continue;
        char tmp[48], *end = tmp + sizeof tmp, *q = end;
        uint64_t u = m < 0 ? (uint64_t)0 - (uint64_t)m : (uint64_t)m;
        for (int d = 0; d < k; d++) {
            *--q = (char)('0' + u % 10);
            u /= 10;
        }
        if (k > 0)
            *--q = '.';
        do {
            *--q = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (m < 0)
            *--q = '-';
        cn_buf_put(b, q, (size_t)(end - q));
        if (k == 0)
            cn_buf_put(b, ".0", 2);
        return true;
    }
    return false;
}

static void put_double(cn_buf_t *b, double v)
{
    if (!put_decimal(b, v))
        qry_put_float(b, v);
}

static void put_num(cn_buf_t *b, const qry_val_t *v)
{
    if (v->t == QRY_V_INT) {
        cn_buf_put_dec(b, v->u.i);
    } else {
        put_double(b, v->u.f);
    }
}

void qry_val_json(const qry_val_t *v, cn_buf_t *out)
{
    switch (v->t) {
    case QRY_V_BOOL:
        cn_buf_put(out, v->u.b ? "true" : "false", v->u.b ? 4 : 5);
        break;
    case QRY_V_INT:
        put_num(out, v);
        break;
    case QRY_V_FLOAT:
        if (isfinite(v->u.f))
            put_num(out, v);
        else
            cn_buf_put(out, "null", 4);
        break;
    case QRY_V_STR:
        qry_json_put_str(out, v->u.s.p, v->u.s.len);
        break;
    default:
        cn_buf_put(out, "null", 4);
        break;
    }
}

void qry_val_text(const qry_val_t *v, cn_buf_t *out)
{
    if (v->t == QRY_V_STR) {
        if (v->u.s.len)
            cn_buf_put(out, v->u.s.p, v->u.s.len);
    } else if (v->t == QRY_V_FLOAT && !isfinite(v->u.f)) {
        const char *s = isnan(v->u.f) ? "NaN" : v->u.f > 0 ? "+Inf" : "-Inf";
        cn_buf_put(out, s, strlen(s));
    } else if (v->t != QRY_V_NULL) {
        qry_val_json(v, out);
    }
}

/* -------------------------------------------------------------- operators */

static bool is_num(const qry_val_t *v)
{
    return v->t == QRY_V_INT || v->t == QRY_V_FLOAT;
}

static double as_f(const qry_val_t *v)
{
    return v->t == QRY_V_INT ? (double)v->u.i : v->u.f;
}

static int type_err(qry_row_t *r, const char *what, const qry_val_t *a, const qry_val_t *b)
{
    if (b)
        return qry__eval_fail(r, CN_ETYPE, "type error: cannot %s %s and %s", what,
                              qry_vkind_str(a->t), qry_vkind_str(b->t));
    return qry__eval_fail(r, CN_ETYPE, "type error: cannot %s %s", what, qry_vkind_str(a->t));
}

static int int_arith(qry_row_t *r, qry_op_t op, int64_t x, int64_t y, qry_val_t *o)
{
    bool ovf = false;
    o->t = QRY_V_INT;
    switch (op) {
    case QRY_OP_ADD:
        ovf = __builtin_add_overflow(x, y, &o->u.i);
        break;
    case QRY_OP_SUB:
        ovf = __builtin_sub_overflow(x, y, &o->u.i);
        break;
    case QRY_OP_MUL:
        ovf = __builtin_mul_overflow(x, y, &o->u.i);
        break;
    case QRY_OP_DIV:
        if (y == 0)
            return qry__eval_fail(r, CN_EINVAL, "division by zero");
        o->t = QRY_V_FLOAT;
        o->u.f = (double)x / (double)y;
        break;
    case QRY_OP_MOD:
        if (y == 0)
            return qry__eval_fail(r, CN_EINVAL, "division by zero");
        o->u.i = y == -1 ? 0 : x % y;
        break;
    case QRY_OP_BITAND:
        o->u.i = x & y;
        break;
    case QRY_OP_BITOR:
        o->u.i = x | y;
        break;
    default: /* QRY_OP_BITXOR */
        o->u.i = x ^ y;
        break;
    }
    if (ovf)
        return qry__eval_fail(r, CN_ELIMIT, "integer overflow");
    return 0;
}

static int arith(qry_row_t *r, qry_op_t op, const qry_val_t *a, const qry_val_t *b, qry_val_t *o)
{
    bool bit = op == QRY_OP_BITAND || op == QRY_OP_BITOR || op == QRY_OP_BITXOR;
    if (a->t == QRY_V_INT && b->t == QRY_V_INT)
        return int_arith(r, op, a->u.i, b->u.i, o);
    if (bit && a->t == QRY_V_BOOL && b->t == QRY_V_BOOL) {
        o->t = QRY_V_BOOL;
        o->u.b = op == QRY_OP_BITAND  ? a->u.b && b->u.b
                 : op == QRY_OP_BITOR ? a->u.b || b->u.b
                                      : a->u.b != b->u.b;
        return 0;
    }
    if (bit || !is_num(a) || !is_num(b))
        return type_err(r, bit ? "apply a bitwise operator to" : "do arithmetic on", a, b);
    double x = as_f(a), y = as_f(b);
    o->t = QRY_V_FLOAT;
    switch (op) {
    case QRY_OP_ADD:
        o->u.f = x + y;
        return 0;
    case QRY_OP_SUB:
        o->u.f = x - y;
        return 0;
    case QRY_OP_MUL:
        o->u.f = x * y;
        return 0;
    default: /* DIV, MOD */
        if (y == 0)
            return qry__eval_fail(r, CN_EINVAL, "division by zero");
        o->u.f = op == QRY_OP_DIV ? x / y : fmod(x, y);
        return 0;
    }
}

/* -1, 0, 1 comparing an int64 with a double exactly; 2 when f is NaN. */
static int cmp_int_float(int64_t i, double f)
{
    if (isnan(f))
        return 2;
    if (f >= 9223372036854775808.0)
        return -1;
    if (f < -9223372036854775808.0)
        return 1;
    double t = trunc(f);
    int64_t ti = (int64_t)t;
    if (i != ti)
        return i < ti ? -1 : 1;
    return f > t ? -1 : f < t ? 1 : 0;
}

/* Three-way comparison of two non-NULL values: -1/0/1, 2 for unordered
 * (NaN), or a negative error code via *rc. */
static int compare(qry_row_t *r, const qry_val_t *a, const qry_val_t *b, bool eq_only, int *rc)
{
    *rc = 0;
    if (a->t == QRY_V_INT && b->t == QRY_V_INT)
        return a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
    if (a->t == QRY_V_INT && b->t == QRY_V_FLOAT)
        return cmp_int_float(a->u.i, b->u.f);
    if (a->t == QRY_V_FLOAT && b->t == QRY_V_INT) {
        int c = cmp_int_float(b->u.i, a->u.f);
        return c == 2 ? 2 : -c;
    }
    if (a->t == QRY_V_FLOAT && b->t == QRY_V_FLOAT) {
        if (isnan(a->u.f) || isnan(b->u.f))
            return 2;
        return a->u.f < b->u.f ? -1 : a->u.f > b->u.f;
    }
    if (a->t == QRY_V_STR && b->t == QRY_V_STR) {
        size_t n = CN_MIN(a->u.s.len, b->u.s.len);
        int c = n ? memcmp(a->u.s.p, b->u.s.p, n) : 0;
        if (c)
            return c < 0 ? -1 : 1;
        return a->u.s.len < b->u.s.len ? -1 : a->u.s.len > b->u.s.len;
    }
    if (a->t == QRY_V_BOOL && b->t == QRY_V_BOOL && eq_only)
        return a->u.b != b->u.b;
    *rc = type_err(r, "compare", a, b);
    return 0;
}

/* The verdict of comparison op from compare()'s result c. */
static inline bool cmp_verdict(qry_op_t op, int c)
{
    switch (op) {
    case QRY_OP_EQ:
        return c == 0;
    case QRY_OP_NEQ:
        return c != 0;
    case QRY_OP_LT:
        return c == -1;
    case QRY_OP_LTE:
        return c == -1 || c == 0;
    case QRY_OP_GT:
        return c == 1;
    default: /* GTE */
        return c == 1 || c == 0;
    }
}

static int comparison(qry_row_t *r, qry_op_t op, const qry_val_t *a, const qry_val_t *b,
                      qry_val_t *o)
{
    int rc, c = compare(r, a, b, op == QRY_OP_EQ || op == QRY_OP_NEQ, &rc);
    if (rc < 0)
        return rc;
    o->t = QRY_V_BOOL;
    o->u.b = cmp_verdict(op, c);
    return 0;
}

static int binary(qry_row_t *r, qry_op_t op, const qry_val_t *a, const qry_val_t *b, qry_val_t *o)
{
    if (a->t == QRY_V_NULL || b->t == QRY_V_NULL) {
        o->t = QRY_V_NULL;
        return 0;
    }
    if (op >= QRY_OP_EQ && op <= QRY_OP_GTE)
        return comparison(r, op, a, b, o);
    if (op == QRY_OP_LIKE || op == QRY_OP_NOTLIKE) {
        if (a->t != QRY_V_STR || b->t != QRY_V_STR)
            return type_err(r, "apply LIKE to", a, b);
        o->t = QRY_V_BOOL;
        o->u.b = qry__like(a->u.s.p, a->u.s.len, b->u.s.p, b->u.s.len) == (op == QRY_OP_LIKE);
        return 0;
    }
    return arith(r, op, a, b, o);
}

static int in_list(qry_row_t *r, qry_val_t *lhs, uint32_t n, bool neg)
{
    if (lhs->t == QRY_V_NULL)
        return 0;
    bool found = false, saw_null = false;
    for (uint32_t i = 1; i <= n && !found; i++) {
        if (lhs[i].t == QRY_V_NULL) {
            saw_null = true;
            continue;
        }
        int rc, c = compare(r, lhs, &lhs[i], true, &rc);
        if (rc < 0)
            return rc;
        found = c == 0;
    }
    if (!found && saw_null) {
        lhs->t = QRY_V_NULL;
        return 0;
    }
    lhs->t = QRY_V_BOOL;
    lhs->u.b = found != neg;
    return 0;
}

static int regex_match(qry_row_t *r, const regex_t *re, qry_val_t *v, bool neg)
{
    if (v->t == QRY_V_NULL)
        return 0;
    if (v->t != QRY_V_STR)
        return type_err(r, "match a regex against", v, NULL);
    regmatch_t m = {.rm_so = 0, .rm_eo = (regoff_t)v->u.s.len};
    const char *s = v->u.s.len ? v->u.s.p : "";
    int rc = regexec(re, s, 1, &m, REG_STARTEND);
    v->t = QRY_V_BOOL;
    v->u.b = (rc == 0) != neg;
    return 0;
}

/* Kleene logic: l op r with both BOOL or NULL. */
static int logic(qry_row_t *r, bool is_and, qry_val_t *l, const qry_val_t *rv)
{
    if ((l->t != QRY_V_BOOL && l->t != QRY_V_NULL) || (rv->t != QRY_V_BOOL && rv->t != QRY_V_NULL))
        return type_err(r, is_and ? "apply AND to" : "apply OR to", l, rv);
    bool dominant = !is_and; /* FALSE decides AND, TRUE decides OR */
    if ((l->t == QRY_V_BOOL && l->u.b == dominant) ||
        (rv->t == QRY_V_BOOL && rv->u.b == dominant)) {
        l->t = QRY_V_BOOL;
        l->u.b = dominant;
    } else if (l->t == QRY_V_NULL || rv->t == QRY_V_NULL) {
        l->t = QRY_V_NULL;
    } else {
        l->u.b = !dominant;
    }
    return 0;
}

static int unary(qry_row_t *r, const ins_t *in, qry_val_t *v)
{
    if (in->op == OP_ISNULL) {
        bool null = v->t == QRY_V_NULL;
        v->t = QRY_V_BOOL;
        v->u.b = null != (in->aux != 0);
        return 0;
    }
    if (v->t == QRY_V_NULL)
        return 0;
    if (in->op == OP_NOT) {
        if (v->t != QRY_V_BOOL)
            return type_err(r, "apply NOT to", v, NULL);
        v->u.b = !v->u.b;
        return 0;
    }
    if (v->t == QRY_V_FLOAT) {
        v->u.f = -v->u.f;
        return 0;
    }
    if (v->t != QRY_V_INT)
        return type_err(r, "negate", v, NULL);
    if (v->u.i == INT64_MIN)
        return qry__eval_fail(r, CN_ELIMIT, "integer overflow");
    v->u.i = -v->u.i;
    return 0;
}

static void load_str(qry_val_t *v, const char *s, size_t n)
{
    if (!s) {
        v->t = QRY_V_NULL;
        return;
    }
    v->t = QRY_V_STR;
    v->u.s.p = s;
    v->u.s.len = n;
}

static void load_slot(const qry_prog_t *p, qry_row_t *r, uint32_t id, qry_val_t *v)
{
    if (id < r->nslots && r->slot_gen[id] == r->gen) {
        *v = r->slot_val[id];
        return;
    }
    v->t = QRY_V_NULL;
    if (r->in_where && !r->missing)
        r->missing = p->st->names[id];
}

static int call(const qry_prog_t *p, qry_row_t *r, const ins_t *in, qry_val_t *args)
{
    (void)p;
    const qry__fn_def_t *f = qry__fn_at(in->a);
    if (f->null_in) {
        for (uint32_t i = 0; i < in->n; i++) {
            if (args[i].t == QRY_V_NULL) {
                args[0].t = QRY_V_NULL;
                return 0;
            }
        }
    }
    qry_val_t out = {0};
    int rc = f->fn(r, args, in->n, &out);
    if (rc < 0)
        return rc;
    args[0] = out;
    return 0;
}

/* Runs code[pc, end) leaving one value in *res. */
static int exec(const qry_prog_t *p, qry_row_t *r, uint32_t pc, uint32_t end, qry_val_t *res)
{
    qry_val_t *sp = r->stack; /* next free entry */
    const qry_msg_t *m = r->m;
    int rc = 0;
    while (pc < end && rc == 0) {
        const ins_t *in = &p->code[pc++];
        switch (in->op) {
        case OP_CONST:
            *sp++ = p->consts[in->a];
            break;
        case OP_SLOT:
            load_slot(p, r, in->a, sp++);
            break;
        case OP_TOPIC:
            load_str(sp++, m->topic ? m->topic : "", m->topic_len);
            break;
        case OP_CLIENTID:
            load_str(sp++, m->clientid, m->clientid ? strlen(m->clientid) : 0);
            break;
        case OP_USERNAME:
            load_str(sp++, m->username, m->username ? strlen(m->username) : 0);
            break;
        case OP_QOS:
        case OP_TS:
            sp->t = QRY_V_INT;
            sp->u.i = in->op == OP_QOS ? m->qos : m->ts;
            sp++;
            break;
        case OP_PAYLOAD:
            load_str(sp++, m->payload ? (const char *)m->payload : "", m->payload_len);
            break;
        case OP_BIN:
            sp--;
            rc = binary(r, (qry_op_t)in->aux, &sp[-1], &sp[0], &sp[-1]);
            break;
        case OP_NEG:
        case OP_NOT:
        case OP_ISNULL:
            rc = unary(r, in, &sp[-1]);
            break;
        case OP_AND_JF:
        case OP_OR_JT: {
            const qry_val_t *t = &sp[-1];
            if (t->t != QRY_V_BOOL && t->t != QRY_V_NULL)
                rc = type_err(r, in->op == OP_AND_JF ? "apply AND to" : "apply OR to", t, NULL);
            else if (t->t == QRY_V_BOOL && t->u.b == (in->op == OP_OR_JT))
                pc = in->a;
            break;
        }
        case OP_AND:
        case OP_OR:
            sp--;
            rc = logic(r, in->op == OP_AND, &sp[-1], &sp[0]);
            break;
        case OP_IN:
            sp -= in->n;
            rc = in_list(r, &sp[-1], in->n, in->aux != 0);
            break;
        case OP_REGEX:
            rc = regex_match(r, &p->res[in->a], &sp[-1], in->aux != 0);
            break;
        case OP_CALL:
            sp -= in->n;
            rc = call(p, r, in, sp);
            sp++;
            break;
        }
    }
    *res = r->stack[0];
    return rc;
}

/* ----------------------------------------------------------------- outputs */

static void add_out(qry_row_t *r, const char *name, const out_def_t *o, const qry_val_t *v,
                    bool append)
{
    for (size_t i = 0; !append && i < r->nouts; i++) {
        if (strcmp(r->outs[i].name, name) == 0) {
            r->outs[i].v = *v;
            r->outs[i].jkey = o ? o->jkey : NULL;
            r->outs[i].jkey_len = o ? o->jkey_len : 0;
            r->outs[i].slot1 = o ? o->slot1 : 0;
            return;
        }
    }
    if (r->nouts == r->outs_cap) {
        r->outs_cap = r->outs_cap ? r->outs_cap * 2 : 16;
        r->outs = cn_realloc(r->outs, r->outs_cap * sizeof *r->outs);
    }
    qry_out_t *out = &r->outs[r->nouts++];
    out->name = name;
    out->v = *v;
    out->jkey = o ? o->jkey : NULL;
    out->jkey_len = o ? o->jkey_len : 0;
    out->slot1 = o ? o->slot1 : 0;
}

static void add_star(qry_row_t *r)
{
    const qry_msg_t *m = r->m;
    for (uint32_t i = 0; i < m->ntags; i++) {
        qry_val_t v;
        load_str(&v, m->tags[i].val, strlen(m->tags[i].val));
        add_out(r, m->tags[i].key, NULL, &v, false);
    }
    for (uint32_t i = 0; i < m->nfields; i++) {
        const eng_field_t *f = &m->fields[i];
        qry_val_t v = {0};
        if (f->type == ENG_T_FLOAT)
            v.t = QRY_V_FLOAT, v.u.f = f->v.f;
        else if (f->type == ENG_T_INT)
            v.t = QRY_V_INT, v.u.i = f->v.i;
        else if (f->type == ENG_T_BOOL)
            v.t = QRY_V_BOOL, v.u.b = f->v.b != 0;
        else if (f->type == ENG_T_STRING)
            load_str(&v, f->v.s.p ? f->v.s.p : "", f->v.s.len);
        else
            continue;
        add_out(r, f->name, NULL, &v, false);
    }
}

static int run_where(const qry_prog_t *p, qry_row_t *r)
{
    qry_val_t v;
    r->in_where = true;
    r->missing = NULL;
    int rc = exec(p, r, 0, (uint32_t)p->where_end, &v);
    r->in_where = false;
    if (rc < 0)
        return rc;
    if (v.t == QRY_V_BOOL)
        return v.u.b ? 1 : 0;
    if (v.t == QRY_V_NULL) {
        if (r->missing)
            return qry__eval_fail(r, CN_ENOTFOUND, "field '%s' missing", r->missing);
        return 0;
    }
    return qry__eval_fail(r, CN_ETYPE, "type error: WHERE needs a boolean, got %s",
                          qry_vkind_str(v.t));
}

/* eval.c NOTES 5: 1 or 0 when the WHERE's one comparison can be decided
 * without the interpreter, else -1 (run the program). */
static inline int fast_where(const qry_prog_t *p, const qry_row_t *r)
{
    uint32_t id = p->fw_slot;
    if (id >= r->nslots || r->slot_gen[id] != r->gen)
        return -1; /* missing: the interpreter names it */
    const qry_val_t *v = &r->slot_val[id], *k = &p->fw_const;
    int c; /* compare()'s result */
    if (v->t == QRY_V_FLOAT && p->fw_kf) {
        double x = v->u.f, y = p->fw_f;
        c = x < y ? -1 : x > y ? 1 : x == y ? 0 : 2;
    } else if (v->t == QRY_V_INT && k->t == QRY_V_INT) {
        c = v->u.i < k->u.i ? -1 : v->u.i > k->u.i;
    } else {
        bool ok = (is_num(v) && is_num(k)) || (v->t == QRY_V_STR && k->t == QRY_V_STR) ||
                  (v->t == QRY_V_BOOL && k->t == QRY_V_BOOL &&
                   (p->fw_op == QRY_OP_EQ || p->fw_op == QRY_OP_NEQ));
        if (!ok)
            return -1;
        int rc;
        c = compare((qry_row_t *)r, v, k, true, &rc); /* cannot fail (ok above): r untouched */
        (void)rc;
    }
    return (p->fw_mask >> (c + 1)) & 1;
}

/* The outputs of a passing run of p, whose outputs are bare names or a
 * lone '*' (p->sig1): they cannot fail, so qry_prog_run leaves them to
 * the first reader (eval.c NOTES 5). */
static void put_bare_outputs(const qry_prog_t *p, qry_row_t *r)
{
    if (r->outs_cap < p->nouts) {
        r->outs_cap = p->nouts;
        r->outs = cn_realloc(r->outs, r->outs_cap * sizeof *r->outs);
    }
    for (size_t i = 0; i < p->nouts; i++) {
        const out_def_t *o = &p->outs[i];
        if (!o->name) {
            add_star(r);
            continue;
        }
        uint32_t id = o->slot1 - 1;
        qry_out_t *out = &r->outs[r->nouts++];
        if (id < r->nslots && r->slot_gen[id] == r->gen)
            out->v = r->slot_val[id];
        else
            out->v.t = QRY_V_NULL;
        out->name = o->name;
        out->jkey = o->jkey;
        out->jkey_len = o->jkey_len;
        out->slot1 = o->slot1;
    }
}

/* Makes the outputs of the last run readable.  r is the caller's own row
 * (qry_row_new never makes a const one), so the readers that take a const
 * row may fill it: the outputs are a cache of the run's result. */
static void materialize(const qry_row_t *cr)
{
    if (!cr->pend)
        return;
    qry_row_t *r = (qry_row_t *)cr;
    const qry_prog_t *p = r->pend;
    r->pend = NULL;
    put_bare_outputs(p, r);
}

/* qry_prog_run past a fast verdict: fw is fast_where's (1, or -1 to run
 * the WHERE). */
static __attribute__((noinline)) int run_full(const qry_prog_t *p, qry_row_t *r, int fw)
{
    if (p->calls)
        qry__jdoc_reset(r->scratch);
    if (r->stack_cap < p->max_stack) {
        r->stack_cap = p->max_stack;
        r->stack = cn_realloc(r->stack, r->stack_cap * sizeof *r->stack);
    }
    if (p->has_where && fw < 0) {
        int rc = run_where(p, r);
        if (rc <= 0)
            return rc;
    }
    r->last = p;
    if (p->sig1) {
        r->pend = p;
        return 1;
    }
    for (size_t i = 0; i < p->nouts; i++) {
        const out_def_t *o = &p->outs[i];
        if (!o->name) {
            add_star(r);
            continue;
        }
        qry_val_t v;
        int rc = exec(p, r, o->start, o->end, &v);
        if (rc < 0) {
            r->nouts = 0;
            r->last = NULL;
            return rc;
        }
        add_out(r, o->name, o, &v, p->distinct);
    }
    return 1;
}

void qry_prog_prefilter(const qry_prog_t *const *progs, const uint32_t *idx, size_t n,
                        const qry_row_t *r, uint8_t *verdict)
{
    for (size_t i = 0; i < n; i++) {
        const qry_prog_t *p = progs[idx[i]];
        int fw = p->fw ? fast_where(p, r) : -1;
        verdict[i] = fw == 0 ? QRY_PRE_FAIL : fw == 1 && p->sig1 ? QRY_PRE_PASS : QRY_PRE_RUN;
    }
}

/* pf_ent_t kind: bits; 0 is no fast WHERE */
enum { PF_FAST = 1, PF_F = 2, PF_I = 4 };

typedef struct pf_ent {
    uint32_t slot;
    uint8_t kind; /* PF_FAST, with PF_F: a float value compares with f; PF_I: an int with i */
    uint8_t mask; /* fw_mask */
    uint8_t pass; /* the verdict of a WHERE that holds */
    uint8_t pad;
    double f; /* fw_f */
    int64_t i; /* an integer constant */
} pf_ent_t;

struct qry_prefilter {
    pf_ent_t *e;
    const qry_prog_t **progs;
    size_t n;
};

int qry_prefilter_new(const qry_prog_t *const *progs, size_t n, qry_prefilter_t **out)
{
    qry_prefilter_t *pf = cn_calloc(1, sizeof *pf);
    pf->n = n;
    pf->e = cn_calloc(n ? n : 1, sizeof *pf->e);
    pf->progs = cn_calloc(n ? n : 1, sizeof *pf->progs);
    for (size_t i = 0; i < n; i++) {
        const qry_prog_t *p = progs[i];
        pf_ent_t *e = &pf->e[i];
        pf->progs[i] = p;
        e->slot = UINT32_MAX; /* never bound: RUN */
        if (!p->fw)
            continue;
        e->kind = PF_FAST;
        e->slot = p->fw_slot;
        e->mask = p->fw_mask;
        e->pass = p->sig1 ? QRY_PRE_PASS : QRY_PRE_RUN;
        if (p->fw_kf) {
            e->kind |= PF_F;
            e->f = p->fw_f;
        }
        if (p->fw_const.t == QRY_V_INT) {
            e->kind |= PF_I;
            e->i = p->fw_const.u.i;
        }
    }
    *out = pf;
    return 0;
}

void qry_prefilter_free(qry_prefilter_t *pf)
{
    if (!pf)
        return;
    cn_free(pf->e);
    cn_free(pf->progs);
    cn_free(pf);
}

/* qry_prefilter_run's verdict for a pair other than a float or integer
 * value against a number (pass: the entry's); apart, so that the loop
 * keeps its values in registers. */
static __attribute__((noinline)) uint8_t prefilter_other(const qry_prog_t *p, const qry_row_t *r,
                                                         uint8_t pass)
{
    int fw = fast_where(p, r);
    return fw == 0 ? QRY_PRE_FAIL : fw == 1 ? pass : QRY_PRE_RUN;
}

void qry_prefilter_run(const qry_prefilter_t *pf, const uint32_t *idx, size_t n,
                       const qry_row_t *r, uint8_t *verdict)
{
    const pf_ent_t *ent = pf->e;
    const uint32_t *sg = r->slot_gen;
    const qry_val_t *sv = r->slot_val;
    uint32_t gen = r->gen, nslots = (uint32_t)r->nslots;
    for (size_t i = 0; i < n; i++) {
        const pf_ent_t *e = &ent[idx[i]];
        uint32_t id = e->slot; /* UINT32_MAX without a fast WHERE */
        uint8_t v = QRY_PRE_RUN;
        if (id < nslots && sg[id] == gen) {
            const qry_val_t *x = &sv[id];
            int c; /* compare()'s result */
            if (x->t == QRY_V_FLOAT && (e->kind & PF_F)) {
                double a = x->u.f, b = e->f;
                c = a < b ? -1 : a > b ? 1 : a == b ? 0 : 2;
            } else if (x->t == QRY_V_INT && (e->kind & PF_I)) {
                c = x->u.i < e->i ? -1 : x->u.i > e->i;
            } else {
                verdict[i] = prefilter_other(pf->progs[idx[i]], r, e->pass);
                continue;
            }
            v = (e->mask >> (c + 1)) & 1 ? e->pass : QRY_PRE_FAIL;
        }
        verdict[i] = v;
    }
}

int qry_prog_accept(const qry_prog_t *p, qry_row_t *r)
{
    assert(r->m && p->st == r->st && p->sig1);
    r->err[0] = 0;
    r->nouts = 0;
    r->last = p;
    r->pend = p;
    return 1;
}

int qry_prog_run(const qry_prog_t *p, qry_row_t *r)
{
    assert(r->m && p->st == r->st);
    r->err[0] = 0;
    r->nouts = 0;
    r->last = NULL;
    r->pend = NULL;
    int fw = p->fw ? fast_where(p, r) : -1;
    if (fw == 0)
        return 0;
    if (fw == 1 && p->sig1) {
        r->last = p;
        r->pend = p;
        return 1;
    }
    return run_full(p, r, fw);
}

size_t qry_row_outputs(const qry_row_t *r, const qry_out_t **outs)
{
    materialize(r);
    *outs = r->outs;
    return r->nouts;
}

const qry_val_t *qry_row_get(const qry_row_t *r, const char *name, size_t len)
{
    materialize(r);
    for (size_t i = 0; i < r->nouts; i++) {
        const char *n = r->outs[i].name;
        if (strncmp(n, name, len) == 0 && n[len] == 0)
            return &r->outs[i].v;
    }
    return NULL;
}

/* ------------------------------------------------------ per-bind texts */

void qry__memo_init(qry__memo_t *m, size_t n)
{
    m->n = n;
    m->gen = cn_calloc(n + 1, sizeof *m->gen);
    m->off = cn_calloc(n + 1, sizeof *m->off);
    m->len = cn_calloc(n + 1, sizeof *m->len);
    cn_buf_init(&m->buf);
}

void qry__memo_free(qry__memo_t *m)
{
    cn_free(m->gen);
    cn_free(m->off);
    cn_free(m->len);
    cn_buf_free(&m->buf);
}

static bool memo_get(const qry__memo_t *m, uint32_t gen, uint32_t i, const char **p, size_t *n)
{
    if (m->gen[i] != gen)
        return false;
    *p = (const char *)m->buf.p + m->off[i];
    *n = m->len[i];
    return true;
}

/* Records buf[off, len) as entry i and NUL-terminates it. */
static void memo_set(qry__memo_t *m, uint32_t gen, uint32_t i, size_t off, const char **p,
                     size_t *n)
{
    m->gen[i] = gen;
    m->off[i] = (uint32_t)off;
    m->len[i] = (uint32_t)(m->buf.len - off);
    cn_buf_put_u8(&m->buf, 0);
    memo_get(m, gen, i, p, n);
}

/* The JSON text of slot id's value v (non-NULL), from the per-bind memo. */
static void slot_json(qry_row_t *r, uint32_t id, const qry_val_t *v, const char **p, size_t *n)
{
    if (!memo_get(&r->sj, r->gen, id, p, n)) {
        size_t off = r->sj.buf.len;
        qry_val_json(v, &r->sj.buf);
        memo_set(&r->sj, r->gen, id, off, p, n);
    }
}

/* The JSON text of a bare field/tag output, rendered once per bind
 * (eval.c NOTES 5). */
static void put_slot_json(qry_row_t *r, uint32_t id, const qry_val_t *v, cn_buf_t *out)
{
    if (v->t == QRY_V_NULL || id >= r->nslots) {
        qry_val_json(v, out);
        return;
    }
    const char *p;
    size_t n;
    slot_json(r, id, v, &p, &n);
    cn_buf_put(out, p, n);
}

bool qry_row_slot_text(qry_row_t *r, uint32_t slot, const char **p, size_t *n)
{
    if (slot >= r->nslots || r->slot_gen[slot] != r->gen)
        return false;
    if (r->ctag_gen[slot] == r->gen) { /* eval.c NOTES 7: the tag's own C string */
        *p = r->slot_val[slot].u.s.p;
        *n = r->slot_val[slot].u.s.len;
        return true;
    }
    if (!memo_get(&r->stx, r->gen, slot, p, n)) {
        size_t off = r->stx.buf.len;
        qry_val_text(&r->slot_val[slot], &r->stx.buf);
        memo_set(&r->stx, r->gen, slot, off, p, n);
    }
    return true;
}

/* build_json for a program of bare-name outputs (p->sig1, no '*'), read
 * from its output list and the slots: one reservation, then copies. */
static void build_json_bare(qry_row_t *r, const qry_prog_t *p, cn_buf_t *out)
{
    enum { MAXO = 32 };
    const char *vp[MAXO];
    size_t vn[MAXO], need = 2 + p->nouts;
    const uint8_t *memo = r->sj.buf.p;
    for (size_t i = 0; i < p->nouts; i++) {
        const out_def_t *o = &p->outs[i];
        uint32_t id = o->slot1 - 1;
        if (id < r->nslots && r->slot_gen[id] == r->gen) {
            slot_json(r, id, &r->slot_val[id], &vp[i], &vn[i]);
        } else {
            vp[i] = "null";
            vn[i] = 4;
        }
        need += o->jkey_len + vn[i];
    }
    if (r->sj.buf.p != memo) { /* the memo grew and moved: point into it again */
        for (size_t i = 0; i < p->nouts; i++) {
            uint32_t id = p->outs[i].slot1 - 1;
            if (id < r->nslots && r->slot_gen[id] == r->gen)
                memo_get(&r->sj, r->gen, id, &vp[i], &vn[i]);
        }
    }
    cn_buf_reserve(out, need);
    uint8_t *w = out->p + out->len;
    *w++ = '{';
    for (size_t i = 0; i < p->nouts; i++) {
        const out_def_t *o = &p->outs[i];
        if (i)
            *w++ = ',';
        memcpy(w, o->jkey, o->jkey_len);
        w += o->jkey_len;
        memcpy(w, vp[i], vn[i]);
        w += vn[i];
    }
    *w++ = '}';
    out->len = (size_t)(w - out->p);
}

static void build_json(qry_row_t *r, cn_buf_t *out)
{
    const qry_prog_t *last = r->last;
    if (r->pend && last->sig1 && last->nouts <= 32 && last->outs[0].name) {
        build_json_bare(r, last, out);
        return;
    }
    materialize(r);
    cn_buf_put_u8(out, '{');
    for (size_t i = 0; i < r->nouts; i++) {
        const qry_out_t *o = &r->outs[i];
        if (i)
            cn_buf_put_u8(out, ',');
        if (o->jkey) {
            cn_buf_put(out, o->jkey, o->jkey_len);
        } else {
            qry_json_put_str(out, o->name, strlen(o->name));
            cn_buf_put_u8(out, ':');
        }
        if (o->slot1)
            put_slot_json(r, o->slot1 - 1, &o->v, out);
        else
            qry_val_json(&o->v, out);
    }
    cn_buf_put_u8(out, '}');
}

void qry_row_json_view(qry_row_t *r, const char **p, size_t *n)
{
    const qry_prog_t *last = r->last;
    if (last && last->sig1 && last->sig1 - 1 < r->jc.n) {
        uint32_t id = last->sig1 - 1;
        if (!memo_get(&r->jc, r->gen, id, p, n)) {
            size_t off = r->jc.buf.len;
            build_json(r, &r->jc.buf);
            memo_set(&r->jc, r->gen, id, off, p, n);
        }
        return;
    }
    r->jtmp.len = 0;
    build_json(r, &r->jtmp);
    cn_buf_put_u8(&r->jtmp, 0);
    *p = (const char *)r->jtmp.p;
    *n = r->jtmp.len - 1;
}

void qry_row_json(qry_row_t *r, cn_buf_t *out)
{
    const char *p;
    size_t n;
    qry_row_json_view(r, &p, &n);
    cn_buf_put(out, p, n);
}
