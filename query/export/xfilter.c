/* SPDX-License-Identifier: MIT */
/*
 * xfilter.c - export's condition evaluator (see xfilter.h).
 *
 *   compile: the AST becomes a tree of node_t (names resolved to field
 *     index / tag key / time, constants folded where the parser left them
 *     as literals, regexes compiled); the top-level AND terms are split into
 *     tag predicates, time bounds and the residual terms[].
 *   qry_xf_series: binds the tag values, then evaluates each residual term
 *     three-valued (true, false, unknown = needs fields or time).
 *   qry_xf_rows: evaluates the unknown terms row by row (a tree walk; the
 *     export path spends its time in decoding and encoding, not here).
 */
#include "xfilter.h"

#include "rx.h"

#include <regex.h>
#include <stdio.h>
#include <strings.h>

enum { N_CONST, N_FIELD, N_TAG, N_TIME, N_BIN, N_NEG, N_MATCH };
enum { V_NULL = 0, V_F, V_I, V_B, V_S };

typedef struct val {
    int t;
    union {
        double f;
        int64_t i;
        bool b;
        struct {
            const char *p;
            size_t n;
        } s;
    } u;
} val_t;

typedef struct node node_t;
struct node {
    int kind;
    qry_op_t op; /* N_BIN, N_MATCH (EQREGEX / NEQREGEX) */
    node_t *l, *r;
    val_t c;          /* N_CONST */
    uint32_t field;   /* N_FIELD: index into the batch */
    int ftype;        /* N_FIELD: eng_type_t */
    const char *key;  /* N_TAG */
    const char *cur;  /* N_TAG: bound value, NULL when the series lacks it */
    regex_t re;       /* N_MATCH */
    bool re_live;
    cn_buf_t posix; /* N_MATCH: the pattern as POSIX text (qry_regex_posix) */
    int cflags;     /* N_MATCH: its regcomp flags */
};

enum { T_FALSE = 0, T_TRUE = 1, T_UNKNOWN = 2 };

struct qry_xf {
    node_t **terms; /* residual top-level AND terms */
    size_t nterms;
    uint8_t *tstate; /* per term after qry_xf_series: T_* */
    eng_tag_pred_t *preds;
    size_t npreds;
    int64_t tmin, tmax;
    const eng_tag_t *tags; /* bound series */
    uint32_t ntags;
    node_t **all; /* every node, for freeing */
    size_t nall, capall;
    cn_buf_t scratch; /* NUL-terminated copy of a string for regexec */
    char err[256];
};

/* --------------------------------------------------------------- compile */

static node_t *node_new(qry_xf_t *f, int kind)
{
    node_t *n = cn_calloc(1, sizeof *n);
    n->kind = kind;
    if (f->nall == f->capall) {
        f->capall = f->capall ? 2 * f->capall : 16;
        f->all = cn_realloc(f->all, f->capall * sizeof *f->all);
    }
    f->all[f->nall++] = n;
    return n;
}

/* The message is pre, a, post concatenated. */
static int fail(qry_xf_t *f, const char *pre, const char *a, const char *post)
{
    snprintf(f->err, sizeof f->err, "%s%s%s", pre, a, post);
    return CN_EINVAL;
}

static int build(qry_xf_t *f, const qry_expr_t *e, const eng_field_info_t *fields, size_t nfields,
                 int64_t now_ns, node_t **out)
{
    node_t *n = NULL;
    int rc = 0;
    switch (e->kind) {
    case QRY_EXPR_INTEGER:
    case QRY_EXPR_DURATION:
    case QRY_EXPR_TIME:
        n = node_new(f, N_CONST);
        n->c = (val_t){.t = V_I, .u.i = e->u.i};
        break;
    case QRY_EXPR_NUMBER:
        n = node_new(f, N_CONST);
        n->c = (val_t){.t = V_F, .u.f = e->u.f};
        break;
    case QRY_EXPR_BOOL:
        n = node_new(f, N_CONST);
        n->c = (val_t){.t = V_B, .u.b = e->u.b};
        break;
    case QRY_EXPR_STRING:
        n = node_new(f, N_CONST);
        n->c = (val_t){.t = V_S, .u.s = {e->u.s, strlen(e->u.s)}};
        break;
    case QRY_EXPR_CALL:
        if (strcmp(e->u.call.name, "now") != 0 || e->u.call.nargs)
            return fail(f, "function ", e->u.call.name,
                        "() is not supported in an export condition");
        n = node_new(f, N_CONST);
        n->c = (val_t){.t = V_I, .u.i = now_ns};
        break;
    case QRY_EXPR_VAR: {
        const char *name = e->u.var.name;
        qry_vtype_t vt = e->u.var.type;
        if (vt == QRY_VT_NONE && strcasecmp(name, "time") == 0) {
            n = node_new(f, N_TIME);
            break;
        }
        size_t i = 0;
        while (vt != QRY_VT_TAG && i < nfields && strcmp(fields[i].name, name) != 0)
            i++;
        if (vt != QRY_VT_TAG && i < nfields) {
            n = node_new(f, N_FIELD);
            n->field = (uint32_t)i;
            n->ftype = fields[i].type;
        } else if (vt == QRY_VT_NONE || vt == QRY_VT_TAG) {
            n = node_new(f, N_TAG);
            n->key = name;
        } else {
            n = node_new(f, N_CONST); /* a field this measurement lacks: null */
        }
        break;
    }
    case QRY_EXPR_UNARY:
        n = node_new(f, N_NEG);
        rc = build(f, e->u.unary.operand, fields, nfields, now_ns, &n->l);
        break;
    case QRY_EXPR_BINARY: {
        qry_op_t op = e->u.bin.op;
        bool match = op == QRY_OP_EQREGEX || op == QRY_OP_NEQREGEX;
        if (match != (e->u.bin.rhs->kind == QRY_EXPR_REGEX))
            return fail(f, "a regular expression goes only on the right of =~ or !~", "", "");
        n = node_new(f, match ? N_MATCH : N_BIN);
        n->op = op;
        rc = build(f, e->u.bin.lhs, fields, nfields, now_ns, &n->l);
        if (rc == 0 && !match)
            rc = build(f, e->u.bin.rhs, fields, nfields, now_ns, &n->r);
        if (rc == 0 && match) {
            if (qry_regcomp_posix(&n->re, e->u.bin.rhs->u.s, &n->posix, &n->cflags, NULL) < 0)
                return fail(f, "bad regular expression /", e->u.bin.rhs->u.s, "/");
            n->re_live = true;
            n->c = (val_t){.t = V_S, .u.s = {e->u.bin.rhs->u.s, strlen(e->u.bin.rhs->u.s)}};
        }
        break;
    }
    case QRY_EXPR_REGEX:
        return fail(f, "a regular expression goes only on the right of =~ or !~", "", "");
    case QRY_EXPR_PARAM:
        return fail(f, "bind parameter $", e->u.s, " has no value in an export condition");
    default:
        return fail(f, "a wildcard is not a condition", "", "");
    }
    *out = n;
    return rc;
}

/* ------------------------------------------------------------ evaluation */

typedef struct row {
    const eng_batch_t *b;
    uint32_t r;
    bool known; /* false: fields and time are unknown (series binding) */
} row_t;

static bool numeric(const val_t *v)
{
    return v->t == V_F || v->t == V_I;
}

static double as_f(const val_t *v)
{
    return v->t == V_I ? (double)v->u.i : v->u.f;
}

static val_t arith(qry_op_t op, val_t a, val_t b)
{
    val_t z = {0};
    if (a.t == V_I && b.t == V_I) {
        uint64_t x = (uint64_t)a.u.i, y = (uint64_t)b.u.i;
        z.t = V_I;
        switch (op) {
        case QRY_OP_ADD:
            z.u.i = (int64_t)(x + y);
            return z;
        case QRY_OP_SUB:
            z.u.i = (int64_t)(x - y);
            return z;
        case QRY_OP_MUL:
            z.u.i = (int64_t)(x * y);
            return z;
        case QRY_OP_MOD:
            if (b.u.i == 0 || (b.u.i == -1))
                return (val_t){.t = b.u.i ? V_I : V_NULL, .u.i = 0};
            z.u.i = a.u.i % b.u.i;
            return z;
        case QRY_OP_BITAND:
            z.u.i = (int64_t)(x & y);
            return z;
        case QRY_OP_BITOR:
            z.u.i = (int64_t)(x | y);
            return z;
        case QRY_OP_BITXOR:
            z.u.i = (int64_t)(x ^ y);
            return z;
        default:
            break; /* DIV: float */
        }
    }
    if (a.t == V_B && b.t == V_B &&
        (op == QRY_OP_BITAND || op == QRY_OP_BITOR || op == QRY_OP_BITXOR)) {
        z.t = V_B;
        z.u.b = op == QRY_OP_BITAND ? (a.u.b && b.u.b)
                : op == QRY_OP_BITOR ? (a.u.b || b.u.b)
                                     : (a.u.b != b.u.b);
        return z;
    }
    if (!numeric(&a) || !numeric(&b))
        return z;
    double x = as_f(&a), y = as_f(&b);
    z.t = V_F;
    switch (op) {
    case QRY_OP_ADD:
        z.u.f = x + y;
        break;
    case QRY_OP_SUB:
        z.u.f = x - y;
        break;
    case QRY_OP_MUL:
        z.u.f = x * y;
        break;
    case QRY_OP_DIV:
        if (y == 0)
            return (val_t){0};
        z.u.f = x / y;
        break;
    default:
        return (val_t){0};
    }
    return z;
}

static bool compare(qry_op_t op, const val_t *a, const val_t *b)
{
    int c;
    if (a->t == V_I && b->t == V_I) {
        c = (a->u.i > b->u.i) - (a->u.i < b->u.i);
    } else if (numeric(a) && numeric(b)) {
        double x = as_f(a), y = as_f(b);
        if (x != x || y != y) /* NaN: only != holds */
            return op == QRY_OP_NEQ;
        c = (x > y) - (x < y);
    } else if (a->t == V_S && b->t == V_S) {
        size_t n = CN_MIN(a->u.s.n, b->u.s.n);
        c = n ? memcmp(a->u.s.p, b->u.s.p, n) : 0;
        if (!c)
            c = (a->u.s.n > b->u.s.n) - (a->u.s.n < b->u.s.n);
        c = (c > 0) - (c < 0);
    } else if (a->t == V_B && b->t == V_B) {
        if (op != QRY_OP_EQ && op != QRY_OP_NEQ)
            return false;
        c = a->u.b != b->u.b;
    } else {
        return false; /* null or mismatched types */
    }
    switch (op) {
    case QRY_OP_EQ:
        return c == 0;
    case QRY_OP_NEQ:
        return c != 0;
    case QRY_OP_LT:
        return c < 0;
    case QRY_OP_LTE:
        return c <= 0;
    case QRY_OP_GT:
        return c > 0;
    default:
        return c >= 0;
    }
}

static bool truthy(const val_t *v)
{
    return v->t == V_B && v->u.b;
}

/* The node's value; *unknown is set when it needs what the row lacks. */
static val_t eval(qry_xf_t *f, const node_t *n, const row_t *row, bool *unknown);

static val_t bval(bool b)
{
    return (val_t){.t = V_B, .u.b = b};
}

static val_t eval_logic(qry_xf_t *f, const node_t *n, const row_t *row, bool *unknown)
{
    bool is_and = n->op == QRY_OP_AND;
    bool ul = false, ur = false;
    val_t a = eval(f, n->l, row, &ul);
    if (!ul && truthy(&a) != is_and)
        return bval(!is_and); /* short circuit */
    val_t b = eval(f, n->r, row, &ur);
    if (!ur && truthy(&b) != is_and)
        return bval(!is_and);
    if (ul || ur) {
        *unknown = true;
        return (val_t){0};
    }
    return bval(is_and);
}

static val_t eval(qry_xf_t *f, const node_t *n, const row_t *row, bool *unknown)
{
    switch (n->kind) {
    case N_CONST:
        return n->c;
    case N_TIME:
        if (!row->known) {
            *unknown = true;
            return (val_t){0};
        }
        return (val_t){.t = V_I, .u.i = row->b->ts[row->r]};
    case N_TAG:
        if (!n->cur)
            return (val_t){.t = V_S, .u.s = {"", 0}};
        return (val_t){.t = V_S, .u.s = {n->cur, strlen(n->cur)}};
    case N_FIELD: {
        if (!row->known) {
            *unknown = true;
            return (val_t){0};
        }
        const eng_batch_t *b = row->b;
        uint32_t r = row->r;
        if (b->valid && b->valid[n->field] && !b->valid[n->field][r])
            return (val_t){0};
        const void *v = b->vals[n->field];
        switch (n->ftype) {
        case ENG_T_FLOAT:
            return (val_t){.t = V_F, .u.f = ((const double *)v)[r]};
        case ENG_T_INT:
            return (val_t){.t = V_I, .u.i = ((const int64_t *)v)[r]};
        case ENG_T_BOOL:
            return bval(((const uint8_t *)v)[r] != 0);
        default: {
            const eng_str_t *s = &((const eng_str_t *)v)[r];
            return (val_t){.t = V_S, .u.s = {s->p, s->len}};
        }
        }
    }
    case N_NEG: {
        val_t a = eval(f, n->l, row, unknown);
        if (a.t == V_I)
            a.u.i = (int64_t)(0 - (uint64_t)a.u.i);
        else if (a.t == V_F)
            a.u.f = -a.u.f;
        else
            a.t = V_NULL;
        return a;
    }
    case N_MATCH: {
        bool neg = n->op == QRY_OP_NEQREGEX;
        if (n->l->kind == N_TAG && !n->l->cur)
            return bval(neg); /* the tag index never matches a missing tag */
        val_t a = eval(f, n->l, row, unknown);
        if (*unknown || a.t != V_S)
            return bval(false);
        cn_buf_reset(&f->scratch);
        cn_buf_put(&f->scratch, a.u.s.p, a.u.s.n);
        cn_buf_put_u8(&f->scratch, 0);
        bool m = regexec(&n->re, (const char *)f->scratch.p, 0, NULL, 0) == 0;
        return bval(m != neg);
    }
    default:
        break;
    }
    if (n->op == QRY_OP_AND || n->op == QRY_OP_OR)
        return eval_logic(f, n, row, unknown);
    bool u = false;
    val_t a = eval(f, n->l, row, &u);
    val_t b = eval(f, n->r, row, &u);
    if (u) {
        *unknown = true;
        return (val_t){0};
    }
    if (n->op >= QRY_OP_EQ && n->op <= QRY_OP_GTE)
        return bval(compare(n->op, &a, &b));
    return arith(n->op, a, b);
}

/* ------------------------------------------------------------ splitting */

static bool is_const(const node_t *n)
{
    if (n->kind == N_CONST)
        return true;
    if (n->kind == N_NEG)
        return is_const(n->l);
    if (n->kind == N_BIN)
        return is_const(n->l) && is_const(n->r);
    return false;
}

static qry_op_t flip(qry_op_t op)
{
    switch (op) {
    case QRY_OP_LT:
        return QRY_OP_GT;
    case QRY_OP_LTE:
        return QRY_OP_GTE;
    case QRY_OP_GT:
        return QRY_OP_LT;
    case QRY_OP_GTE:
        return QRY_OP_LTE;
    default:
        return op;
    }
}

/* `time OP const` (either side): narrows the range and returns true. */
static bool take_time(qry_xf_t *f, const node_t *n)
{
    if (n->kind != N_BIN || n->op < QRY_OP_EQ || n->op > QRY_OP_GTE || n->op == QRY_OP_NEQ)
        return false;
    qry_op_t op = n->op;
    const node_t *c;
    if (n->l->kind == N_TIME && is_const(n->r)) {
        c = n->r;
    } else if (n->r->kind == N_TIME && is_const(n->l)) {
        c = n->l;
        op = flip(op);
    } else {
        return false;
    }
    row_t none = {0};
    bool u = false;
    val_t v = eval(f, c, &none, &u);
    if (v.t == V_F) {
        /* Bounds of a float: the integers on the right side of it. */
        double x = v.u.f;
        if (x != x)
            return false;
        bool lower = op == QRY_OP_GT || op == QRY_OP_GTE;
        double r = x < -9.2e18 ? -9.2e18 : x > 9.2e18 ? 9.2e18 : x;
        int64_t i = (int64_t)r;
        if ((double)i == x) {
            v = (val_t){.t = V_I, .u.i = i};
        } else if (op == QRY_OP_EQ) {
            f->tmin = 0, f->tmax = 0; /* no integer time equals it */
            return true;
        } else {
            /* time > 1.5 == time >= 2, time < 1.5 == time <= 1 */
            int64_t up = i + (r > 0), down = i - (r < 0);
            v = (val_t){.t = V_I, .u.i = lower ? up : down};
            op = lower ? QRY_OP_GTE : QRY_OP_LTE;
        }
    }
    if (v.t != V_I)
        return false;
    int64_t x = v.u.i;
    switch (op) {
    case QRY_OP_EQ:
        f->tmin = CN_MAX(f->tmin, x);
        f->tmax = x == INT64_MAX ? f->tmax : CN_MIN(f->tmax, x + 1);
        break;
    case QRY_OP_GT:
        if (x == INT64_MAX)
            f->tmax = f->tmin; /* empty */
        else
            f->tmin = CN_MAX(f->tmin, x + 1);
        break;
    case QRY_OP_GTE:
        f->tmin = CN_MAX(f->tmin, x);
        break;
    case QRY_OP_LT:
        f->tmax = CN_MIN(f->tmax, x);
        break;
    default: /* LTE */
        if (x != INT64_MAX)
            f->tmax = CN_MIN(f->tmax, x + 1);
        break;
    }
    return true;
}

/* `tag OP 'v'` / `tag =~ /re/`: becomes an index predicate. */
static bool take_tag(qry_xf_t *f, const node_t *n)
{
    eng_tag_pred_t p;
    if (n->kind == N_MATCH && n->l->kind == N_TAG) {
        p = (eng_tag_pred_t){.key = n->l->key,
                             .op = n->op == QRY_OP_EQREGEX ? ENG_TAG_REGEX : ENG_TAG_NREGEX,
                             .val = (const char *)n->posix.p,
                             .cflags = n->cflags};
    } else if (n->kind == N_BIN && (n->op == QRY_OP_EQ || n->op == QRY_OP_NEQ)) {
        const node_t *t = n->l, *c = n->r;
        if (t->kind != N_TAG) {
            t = n->r;
            c = n->l;
        }
        if (t->kind != N_TAG || c->kind != N_CONST || c->c.t != V_S ||
            strlen(c->c.u.s.p) != c->c.u.s.n)
            return false;
        p = (eng_tag_pred_t){.key = t->key,
                             .op = n->op == QRY_OP_EQ ? ENG_TAG_EQ : ENG_TAG_NE,
                             .val = c->c.u.s.p};
    } else {
        return false;
    }
    f->preds = cn_realloc(f->preds, (f->npreds + 1) * sizeof *f->preds);
    f->preds[f->npreds++] = p;
    return true;
}

static int split(qry_xf_t *f, const qry_expr_t *e, const eng_field_info_t *fields, size_t nfields,
                 int64_t now_ns)
{
    if (e->kind == QRY_EXPR_BINARY && e->u.bin.op == QRY_OP_AND) {
        int rc = split(f, e->u.bin.lhs, fields, nfields, now_ns);
        return rc < 0 ? rc : split(f, e->u.bin.rhs, fields, nfields, now_ns);
    }
    node_t *n = NULL;
    int rc = build(f, e, fields, nfields, now_ns, &n);
    if (rc < 0)
        return rc;
    if (take_time(f, n) || take_tag(f, n))
        return 0;
    f->terms = cn_realloc(f->terms, (f->nterms + 1) * sizeof *f->terms);
    f->terms[f->nterms++] = n;
    return 0;
}

/* ------------------------------------------------------------------ api */

void qry_xf_free(qry_xf_t *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->nall; i++) {
        if (f->all[i]->re_live)
            regfree(&f->all[i]->re);
        cn_buf_free(&f->all[i]->posix);
        cn_free(f->all[i]);
    }
    cn_free(f->all);
    cn_free(f->terms);
    cn_free(f->tstate);
    cn_free(f->preds);
    cn_buf_free(&f->scratch);
    cn_free(f);
}

int qry_xf_compile(const qry_expr_t *cond, const eng_field_info_t *fields, size_t nfields,
                   int64_t now_ns, qry_xf_t **out, char *err, size_t errlen)
{
    qry_xf_t *f = cn_calloc(1, sizeof *f);
    f->tmin = INT64_MIN;
    f->tmax = INT64_MAX;
    int rc = cond ? split(f, cond, fields, nfields, now_ns) : 0;
    if (rc < 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s", f->err);
        qry_xf_free(f);
        return rc;
    }
    f->tstate = cn_calloc(f->nterms + 1, 1);
    *out = f;
    return 0;
}

size_t qry_xf_tag_preds(const qry_xf_t *f, const eng_tag_pred_t **preds)
{
    *preds = f->preds;
    return f->npreds;
}

void qry_xf_range(const qry_xf_t *f, int64_t *tmin, int64_t *tmax)
{
    *tmin = CN_MAX(*tmin, f->tmin);
    *tmax = CN_MIN(*tmax, f->tmax);
}

static void bind_tags(qry_xf_t *f, node_t *n)
{
    if (!n)
        return;
    if (n->kind == N_TAG) {
        n->cur = NULL;
        for (uint32_t i = 0; i < f->ntags; i++)
            if (strcmp(f->tags[i].key, n->key) == 0)
                n->cur = f->tags[i].val;
    }
    bind_tags(f, n->l);
    bind_tags(f, n->r);
}

int qry_xf_series(qry_xf_t *f, const eng_tag_t *tags, uint32_t ntags)
{
    f->tags = tags;
    f->ntags = ntags;
    int res = QRY_XF_ALL;
    row_t none = {0};
    for (size_t i = 0; i < f->nterms; i++) {
        bind_tags(f, f->terms[i]);
        bool u = false;
        val_t v = eval(f, f->terms[i], &none, &u);
        f->tstate[i] = u ? T_UNKNOWN : truthy(&v) ? T_TRUE : T_FALSE;
        if (f->tstate[i] == T_FALSE)
            return QRY_XF_NONE;
        if (u)
            res = QRY_XF_ROWS;
    }
    return res;
}

uint32_t qry_xf_rows(qry_xf_t *f, const eng_batch_t *b, uint8_t *sel)
{
    uint32_t k = 0;
    for (uint32_t r = 0; r < b->n; r++) {
        row_t row = {.b = b, .r = r, .known = true};
        bool ok = true;
        for (size_t i = 0; ok && i < f->nterms; i++) {
            if (f->tstate[i] != T_UNKNOWN)
                continue;
            bool u = false;
            val_t v = eval(f, f->terms[i], &row, &u);
            ok = truthy(&v);
        }
        sel[r] = ok;
        k += ok;
    }
    return k;
}
