/* SPDX-License-Identifier: MIT */
/*
 * ast.c - the syntax tree's arena and the printer that renders a tree as
 * canonical InfluxQL text.
 *
 * Canonical means one spelling per tree: keywords upper case; function
 * names as stored (lower case); identifiers double-quoted only when they
 * are not [A-Za-z_][A-Za-z0-9_]* or are keywords; strings single-quoted with
 * \\ \' \n escapes; floats in the shortest form that reads back to the same
 * double (always with a '.' or an exponent, so they stay floats); durations
 * in the largest unit that divides them; time literals as RFC 3339 UTC;
 * single spaces around binary operators; parentheses only where operator
 * precedence (or left associativity) needs them.
 *
 * NOTES
 * 1. The printer never emits "--" or a slash followed by a star (they would
 *    start comments): binary operators are surrounded by spaces and a
 *    negation of something that prints with a leading '-' is parenthesised.
 * 2. Every allocation of a parse lives in one arena: chunks growing from
 *    ARENA_FIRST to ARENA_CHUNK bytes, freed together by qry_query_free();
 *    each allocation is zeroed when it is handed out (a tiny query touches
 *    a few hundred bytes, not a zeroed 64 KiB chunk).
 */
#include "parse_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ------------------------------------------------------------------ arena */

#define ARENA_FIRST (4 * 1024)
#define ARENA_CHUNK (64 * 1024)
#define ARENA_ALIGN 16

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(ARENA_ALIGN) unsigned char data[];
} chunk_t;

struct qry__arena {
    chunk_t *head;
};

qry__arena_t *qry__arena_new(void)
{
    return cn_calloc(1, sizeof(qry__arena_t));
}

void qry__arena_free(qry__arena_t *a)
{
    if (!a)
        return;
    chunk_t *c = a->head;
    while (c) {
        chunk_t *next = c->next;
        cn_free(c);
        c = next;
    }
    cn_free(a);
}

void *qry__arena_alloc(qry__arena_t *a, size_t n)
{
    n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (n == 0)
        n = ARENA_ALIGN;
    chunk_t *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = !c ? ARENA_FIRST : c->cap >= ARENA_CHUNK / 2 ? ARENA_CHUNK : 2 * c->cap;
        if (cap < n)
            cap = n;
        c = cn_malloc(sizeof(chunk_t) + cap);
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *qry__arena_strndup(qry__arena_t *a, const char *s, size_t n)
{
    char *d = qry__arena_alloc(a, n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

qry_expr_t *qry__expr_new(qry__arena_t *a, qry_expr_kind_t kind, uint32_t off)
{
    qry_expr_t *e = qry__arena_alloc(a, sizeof *e);
    e->kind = kind;
    e->off = off;
    e->depth = 1;
    return e;
}

void *qry__vec_push(qry__arena_t *a, qry__vec_t *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        void *p = qry__arena_alloc(a, cap * v->elem);
        if (v->n)
            memcpy(p, v->items, v->n * v->elem);
        v->items = p;
        v->cap = cap;
    }
    return (char *)v->items + v->n++ * v->elem;
}

void qry_query_free(qry_query_t *q)
{
    if (q)
        qry__arena_free(q->arena); /* q itself lives in its arena */
}

/* ---------------------------------------------------------------- strings */

const char *qry_op_str(qry_op_t op)
{
    static const char *const s[] = {
        [QRY_OP_NONE] = "",        [QRY_OP_OR] = "OR",          [QRY_OP_AND] = "AND",
        [QRY_OP_EQ] = "=",         [QRY_OP_NEQ] = "!=",         [QRY_OP_LT] = "<",
        [QRY_OP_LTE] = "<=",       [QRY_OP_GT] = ">",           [QRY_OP_GTE] = ">=",
        [QRY_OP_EQREGEX] = "=~",   [QRY_OP_NEQREGEX] = "!~",    [QRY_OP_ADD] = "+",
        [QRY_OP_SUB] = "-",        [QRY_OP_BITOR] = "|",        [QRY_OP_BITXOR] = "^",
        [QRY_OP_MUL] = "*",        [QRY_OP_DIV] = "/",          [QRY_OP_MOD] = "%",
        [QRY_OP_BITAND] = "&",     [QRY_OP_NEG] = "-",          [QRY_OP_IN] = "IN",
        [QRY_OP_NOTIN] = "NOT IN", [QRY_OP_LIKE] = "LIKE",      [QRY_OP_NOTLIKE] = "NOT LIKE",
        [QRY_OP_NOT] = "NOT",      [QRY_OP_ISNULL] = "IS NULL", [QRY_OP_ISNOTNULL] = "IS NOT NULL",
    };
    return (size_t)op < CN_ARRAY_LEN(s) && s[op] ? s[op] : "";
}

const char *qry_vtype_str(qry_vtype_t t)
{
    static const char *const s[] = {"",       "float",   "integer", "unsigned",
                                    "string", "boolean", "field",   "tag"};
    return (size_t)t < CN_ARRAY_LEN(s) ? s[t] : "";
}

static void put(cn_buf_t *b, const char *s)
{
    cn_buf_put(b, s, strlen(s));
}

static void terminate(cn_buf_t *b)
{
    cn_buf_reserve(b, 1);
    b->p[b->len] = 0;
}

static bool bare_ident(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return !qry__is_keyword(s, n) && !qry__is_ctx_word(s);
}

/* Quoted with escapes for \, the quote character and newline. */
static void put_quoted(cn_buf_t *b, const char *s, char q)
{
    cn_buf_put_u8(b, (uint8_t)q);
    for (; *s; s++) {
        if (*s == '\\' || *s == q) {
            cn_buf_put_u8(b, '\\');
            cn_buf_put_u8(b, (uint8_t)*s);
        } else if (*s == '\n') {
            cn_buf_put(b, "\\n", 2);
        } else {
            cn_buf_put_u8(b, (uint8_t)*s);
        }
    }
    cn_buf_put_u8(b, (uint8_t)q);
}

static void put_ident(cn_buf_t *b, const char *s)
{
    if (bare_ident(s))
        put(b, s);
    else
        put_quoted(b, s, '"');
}

/* Mirrors qry__lex_regex: backslash pairs are kept, a bare '/' escaped. */
static void put_regex(cn_buf_t *b, const char *s)
{
    cn_buf_put_u8(b, '/');
    for (; *s; s++) {
        if (*s == '\\' && s[1]) {
            cn_buf_put(b, s, 2);
            s++;
        } else if (*s == '/') {
            cn_buf_put(b, "\\/", 2);
        } else {
            cn_buf_put_u8(b, (uint8_t)*s);
        }
    }
    cn_buf_put_u8(b, '/');
}

static void put_int(cn_buf_t *b, int64_t v)
{
    char tmp[32];
    int k = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    cn_buf_put(b, tmp, (size_t)k);
}

/* ast.h */
void qry_put_int(cn_buf_t *b, int64_t v)
{
    cn_buf_put_dec(b, v);
}

void qry_put_float(cn_buf_t *b, double v)
{
    char tmp[64];
    int k = 0, prec = 1;
    for (; prec <= 17; prec++) {
        k = snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    int exp = atoi(strchr(tmp, 'e') + 1);
    if (exp >= -5 && exp <= 16)
        k = snprintf(tmp, sizeof tmp, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, v);
    else
        k = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    if (!strpbrk(tmp, ".eEn"))
        k += snprintf(tmp + k, sizeof tmp - (size_t)k, ".0");
    cn_buf_put(b, tmp, (size_t)k);
}

/* ------------------------------------------------------------ expressions */

int qry__op_prec(qry_op_t op)
{
    if (op == QRY_OP_OR)
        return 1;
    if (op == QRY_OP_AND)
        return 2;
    if (op >= QRY_OP_EQ && op <= QRY_OP_NEQREGEX)
        return 3;
    if (op >= QRY_OP_ADD && op <= QRY_OP_BITXOR)
        return 4;
    if (op >= QRY_OP_MUL && op <= QRY_OP_BITAND)
        return 5;
    if (op == QRY_OP_IN || op == QRY_OP_NOTIN || op == QRY_OP_LIKE || op == QRY_OP_NOTLIKE ||
        op == QRY_OP_ISNULL || op == QRY_OP_ISNOTNULL)
        return 3;
    return 6;
}

static bool is_postfix(const qry_expr_t *e)
{
    return e->kind == QRY_EXPR_UNARY &&
           (e->u.unary.op == QRY_OP_ISNULL || e->u.unary.op == QRY_OP_ISNOTNULL);
}

static void print_operand(const qry_expr_t *e, cn_buf_t *b, int parent, bool right)
{
    bool paren = false;
    if (e->kind == QRY_EXPR_BINARY || is_postfix(e)) {
        int p = qry__op_prec(e->kind == QRY_EXPR_BINARY ? e->u.bin.op : e->u.unary.op);
        paren = p < parent || (right && p == parent);
    } else if (e->kind == QRY_EXPR_UNARY && e->u.unary.op == QRY_OP_NOT) {
        paren = parent >= 3; /* NOT would swallow the comparison around it */
    }
    if (paren)
        cn_buf_put_u8(b, '(');
    qry_print_expr(e, b);
    if (paren)
        cn_buf_put_u8(b, ')');
}

/* Whether -e needs parentheses to read back as a negation of e: e prints
 * with a leading '-', is an operator expression, or is a zero literal. */
static bool needs_paren_after_neg(const qry_expr_t *e)
{
    switch (e->kind) {
    case QRY_EXPR_BINARY:
    case QRY_EXPR_UNARY:
        return true;
    case QRY_EXPR_INTEGER:
    case QRY_EXPR_DURATION:
        return e->u.i <= 0; /* "-0" would read back as the literal 0 */
    case QRY_EXPR_NUMBER:
        return signbit(e->u.f) != 0;
    default:
        return false;
    }
}

static void print_typed(cn_buf_t *b, qry_vtype_t t)
{
    if (t != QRY_VT_NONE) {
        cn_buf_put(b, "::", 2);
        put(b, qry_vtype_str(t));
    }
}

void qry_print_expr(const qry_expr_t *e, cn_buf_t *b)
{
    switch (e->kind) {
    case QRY_EXPR_BINARY:
        print_operand(e->u.bin.lhs, b, qry__op_prec(e->u.bin.op), false);
        cn_buf_put_u8(b, ' ');
        put(b, qry_op_str(e->u.bin.op));
        cn_buf_put_u8(b, ' ');
        print_operand(e->u.bin.rhs, b, qry__op_prec(e->u.bin.op), true);
        break;
    case QRY_EXPR_UNARY: {
        if (e->u.unary.op == QRY_OP_NOT) {
            const qry_expr_t *o = e->u.unary.operand;
            put(b, "NOT ");
            if (o->kind == QRY_EXPR_UNARY && o->u.unary.op == QRY_OP_NOT)
                qry_print_expr(o, b);
            else
                print_operand(o, b, 3, false);
            break;
        }
        if (is_postfix(e)) {
            print_operand(e->u.unary.operand, b, 3, false);
            cn_buf_put_u8(b, ' ');
            put(b, qry_op_str(e->u.unary.op));
            break;
        }
        bool paren = needs_paren_after_neg(e->u.unary.operand);
        put(b, paren ? "-(" : "-");
        qry_print_expr(e->u.unary.operand, b);
        if (paren)
            cn_buf_put_u8(b, ')');
        break;
    }
    case QRY_EXPR_CALL:
        put(b, e->u.call.name);
        cn_buf_put_u8(b, '(');
        for (size_t i = 0; i < e->u.call.nargs; i++) {
            if (i)
                cn_buf_put(b, ", ", 2);
            qry_print_expr(e->u.call.args[i], b);
        }
        cn_buf_put_u8(b, ')');
        break;
    case QRY_EXPR_VAR:
        put_ident(b, e->u.var.name);
        print_typed(b, e->u.var.type);
        break;
    case QRY_EXPR_WILDCARD:
        cn_buf_put_u8(b, '*');
        print_typed(b, e->u.wild.type);
        break;
    case QRY_EXPR_INTEGER:
        put_int(b, e->u.i);
        break;
    case QRY_EXPR_NUMBER:
        qry_put_float(b, e->u.f);
        break;
    case QRY_EXPR_STRING:
        put_quoted(b, e->u.s, '\'');
        break;
    case QRY_EXPR_BOOL:
        put(b, e->u.b ? "true" : "false");
        break;
    case QRY_EXPR_DURATION:
        qry_format_duration(e->u.i, b);
        break;
    case QRY_EXPR_REGEX:
        put_regex(b, e->u.s);
        break;
    case QRY_EXPR_TIME:
        cn_buf_put_u8(b, '\'');
        qry_format_time(e->u.i, b);
        cn_buf_put_u8(b, '\'');
        break;
    case QRY_EXPR_PARAM:
        cn_buf_put_u8(b, '$');
        put(b, e->u.s);
        break;
    case QRY_EXPR_LIST:
        cn_buf_put_u8(b, '(');
        for (size_t i = 0; i < e->u.list.n; i++) {
            if (i)
                cn_buf_put(b, ", ", 2);
            qry_print_expr(e->u.list.items[i], b);
        }
        cn_buf_put_u8(b, ')');
        break;
    }
    terminate(b);
}

/* ---------------------------------------------------------------- clauses */

/* [db.[rp].]name or [rp.]name; rp is empty in db..name. */
static void print_qualified(cn_buf_t *b, const char *db, const char *rp)
{
    if (db) {
        put_ident(b, db);
        cn_buf_put_u8(b, '.');
        if (rp && *rp)
            put_ident(b, rp);
        cn_buf_put_u8(b, '.');
    } else if (rp) {
        put_ident(b, rp);
        cn_buf_put_u8(b, '.');
    }
}

static void print_sources(cn_buf_t *b, const qry_source_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            cn_buf_put(b, ", ", 2);
        if (src[i].kind == QRY_SRC_SUBQUERY) {
            cn_buf_put_u8(b, '(');
            qry_print_select(src[i].sub, b);
            cn_buf_put_u8(b, ')');
            continue;
        }
        print_qualified(b, src[i].db, src[i].rp);
        if (src[i].kind == QRY_SRC_REGEX)
            put_regex(b, src[i].name);
        else
            put_ident(b, src[i].name);
    }
}

static void print_dims(cn_buf_t *b, const qry_dim_t *d, size_t n)
{
    put(b, " GROUP BY ");
    for (size_t i = 0; i < n; i++) {
        if (i)
            cn_buf_put(b, ", ", 2);
        switch (d[i].kind) {
        case QRY_DIM_TIME:
            put(b, "time(");
            qry_format_duration(d[i].interval, b);
            if (d[i].has_offset) {
                cn_buf_put(b, ", ", 2);
                qry_format_duration(d[i].offset, b);
            }
            cn_buf_put_u8(b, ')');
            break;
        case QRY_DIM_TAG:
            put_ident(b, d[i].name);
            break;
        case QRY_DIM_WILDCARD:
            cn_buf_put_u8(b, '*');
            break;
        case QRY_DIM_REGEX:
            put_regex(b, d[i].name);
            break;
        }
    }
}

static void print_fill(cn_buf_t *b, const qry_select_t *s)
{
    static const char *const names[] = {"", "null", "none", "previous", "linear"};
    if (s->fill == QRY_FILL_DEFAULT)
        return;
    put(b, " fill(");
    if (s->fill == QRY_FILL_VALUE)
        qry_print_expr(s->fill_value, b);
    else
        put(b, names[s->fill]);
    cn_buf_put_u8(b, ')');
}

static void print_kw_int(cn_buf_t *b, const char *kw, int64_t v)
{
    if (v > 0) {
        put(b, kw);
        put_int(b, v);
    }
}

void qry_print_select(const qry_select_t *s, cn_buf_t *b)
{
    put(b, "SELECT ");
    for (size_t i = 0; i < s->nfields; i++) {
        if (i)
            cn_buf_put(b, ", ", 2);
        qry_print_expr(s->fields[i].expr, b);
        if (s->fields[i].alias) {
            put(b, " AS ");
            put_ident(b, s->fields[i].alias);
        }
    }
    if (s->into) {
        put(b, " INTO ");
        print_qualified(b, s->into->db, s->into->rp);
        if (s->into->backref)
            put(b, ":MEASUREMENT");
        else
            put_ident(b, s->into->name);
    }
    put(b, " FROM ");
    print_sources(b, s->sources, s->nsources);
    if (s->cond) {
        put(b, " WHERE ");
        qry_print_expr(s->cond, b);
    }
    if (s->ndims)
        print_dims(b, s->dims, s->ndims);
    print_fill(b, s);
    if (s->order_desc)
        put(b, " ORDER BY time DESC");
    print_kw_int(b, " LIMIT ", s->limit);
    print_kw_int(b, " OFFSET ", s->offset);
    print_kw_int(b, " SLIMIT ", s->slimit);
    print_kw_int(b, " SOFFSET ", s->soffset);
    if (s->tz) {
        put(b, " tz(");
        put_quoted(b, s->tz, '\'');
        cn_buf_put_u8(b, ')');
    }
    terminate(b);
}

/* ------------------------------------------------------------- statements */

static void print_with_key(cn_buf_t *b, const qry_show_t *s)
{
    put(b, " WITH KEY ");
    put(b, qry_op_str(s->key_op));
    cn_buf_put_u8(b, ' ');
    if (s->key_op == QRY_OP_IN) {
        cn_buf_put_u8(b, '(');
        for (size_t i = 0; i < s->nkeys; i++) {
            if (i)
                cn_buf_put(b, ", ", 2);
            put_ident(b, s->keys[i]);
        }
        cn_buf_put_u8(b, ')');
    } else if (s->key_op == QRY_OP_EQREGEX || s->key_op == QRY_OP_NEQREGEX) {
        put_regex(b, s->keys[0]);
    } else {
        put_ident(b, s->keys[0]);
    }
}

const char *qry_show_cardinality_of(qry_show_kind_t k)
{
    switch (k) {
    case QRY_SHOW_MEASUREMENTS:
        return "MEASUREMENT";
    case QRY_SHOW_TAG_KEYS:
        return "TAG KEY";
    case QRY_SHOW_TAG_VALUES:
        return "TAG VALUES";
    case QRY_SHOW_FIELD_KEYS:
        return "FIELD KEY";
    case QRY_SHOW_SERIES:
        return "SERIES";
    default:
        return "";
    }
}

static void print_show(cn_buf_t *b, const qry_show_t *s)
{
    static const char *const what[] = {
        [QRY_SHOW_DATABASES] = "DATABASES",
        [QRY_SHOW_MEASUREMENTS] = "MEASUREMENTS",
        [QRY_SHOW_TAG_KEYS] = "TAG KEYS",
        [QRY_SHOW_TAG_VALUES] = "TAG VALUES",
        [QRY_SHOW_FIELD_KEYS] = "FIELD KEYS",
        [QRY_SHOW_SERIES] = "SERIES",
        [QRY_SHOW_RETENTION_POLICIES] = "RETENTION POLICIES",
        [QRY_SHOW_QUERIES] = "QUERIES",
        [QRY_SHOW_CONTINUOUS_QUERIES] = "CONTINUOUS QUERIES",
    };
    put(b, "SHOW ");
    put(b, s->cardinality ? qry_show_cardinality_of(s->kind) : what[s->kind]);
    if (s->cardinality)
        put(b, s->exact ? " EXACT CARDINALITY" : " CARDINALITY");
    if (s->db) {
        put(b, " ON ");
        put_ident(b, s->db);
    }
    if (s->nsources) {
        put(b, " FROM ");
        print_sources(b, s->sources, s->nsources);
    }
    if (s->with_op != QRY_OP_NONE) {
        put(b, " WITH MEASUREMENT ");
        put(b, qry_op_str(s->with_op));
        cn_buf_put_u8(b, ' ');
        print_sources(b, s->with_meas, 1);
    }
    if (s->key_op != QRY_OP_NONE)
        print_with_key(b, s);
    if (s->cond) {
        put(b, " WHERE ");
        qry_print_expr(s->cond, b);
    }
    for (size_t i = 0; i < s->ngroup; i++) {
        put(b, i ? ", " : " GROUP BY ");
        put_ident(b, s->group[i]);
    }
    print_kw_int(b, " LIMIT ", s->limit);
    print_kw_int(b, " OFFSET ", s->offset);
}

static void print_rp_duration(cn_buf_t *b, const char *kw, int64_t ns)
{
    put(b, kw);
    if (ns == 0)
        put(b, "INF");
    else
        qry_format_duration(ns, b);
}

static void print_rp_opts(cn_buf_t *b, const qry_rp_opts_t *o)
{
    if (o->has_duration)
        print_rp_duration(b, " DURATION ", o->duration);
    if (o->has_replication)
        print_kw_int(b, " REPLICATION ", o->replication);
    if (o->has_shard)
        print_rp_duration(b, " SHARD DURATION ", o->shard_duration);
    if (o->name) {
        put(b, " NAME ");
        put_ident(b, o->name);
    }
    if (o->is_default)
        put(b, " DEFAULT");
}

static void print_rp_stmt(cn_buf_t *b, const char *verb, const qry_ddl_t *d)
{
    put(b, verb);
    put(b, " RETENTION POLICY ");
    put_ident(b, d->name);
    put(b, " ON ");
    put_ident(b, d->db);
    print_rp_opts(b, &d->rp);
}

static void print_filter(cn_buf_t *b, const char *verb, const qry_ddl_t *d)
{
    put(b, verb);
    if (d->nsources) {
        put(b, " FROM ");
        print_sources(b, d->sources, d->nsources);
    }
    if (d->cond) {
        put(b, " WHERE ");
        qry_print_expr(d->cond, b);
    }
}

static void print_named(cn_buf_t *b, const char *verb, const char *name)
{
    put(b, verb);
    put_ident(b, name);
}

void qry_print_stmt(const qry_stmt_t *s, cn_buf_t *b)
{
    const qry_ddl_t *d = s->u.ddl;
    switch (s->kind) {
    case QRY_STMT_SELECT:
        qry_print_select(s->u.select, b);
        break;
    case QRY_STMT_SHOW:
        print_show(b, s->u.show);
        break;
    case QRY_STMT_CREATE_DATABASE: {
        const qry_rp_opts_t *o = &d->rp;
        print_named(b, "CREATE DATABASE ", d->name);
        if (o->has_duration || o->has_replication || o->has_shard || o->name)
            put(b, " WITH");
        print_rp_opts(b, o);
        break;
    }
    case QRY_STMT_DROP_DATABASE:
        print_named(b, "DROP DATABASE ", d->name);
        break;
    case QRY_STMT_DROP_MEASUREMENT:
        print_named(b, "DROP MEASUREMENT ", d->name);
        break;
    case QRY_STMT_DROP_SERIES:
        print_filter(b, "DROP SERIES", d);
        break;
    case QRY_STMT_DELETE:
        print_filter(b, "DELETE", d);
        break;
    case QRY_STMT_CREATE_RP:
        print_rp_stmt(b, "CREATE", d);
        break;
    case QRY_STMT_ALTER_RP:
        print_rp_stmt(b, "ALTER", d);
        break;
    case QRY_STMT_DROP_RP:
        print_rp_stmt(b, "DROP", d);
        break;
    case QRY_STMT_CREATE_CQ:
    case QRY_STMT_DROP_CQ:
        put(b, s->kind == QRY_STMT_CREATE_CQ ? "CREATE" : "DROP");
        print_named(b, " CONTINUOUS QUERY ", d->name);
        print_named(b, " ON ", d->db);
        if (s->kind == QRY_STMT_DROP_CQ)
            break;
        if (d->cq_every || d->cq_for)
            put(b, " RESAMPLE");
        if (d->cq_every) {
            put(b, " EVERY ");
            qry_format_duration(d->cq_every, b);
        }
        if (d->cq_for) {
            put(b, " FOR ");
            qry_format_duration(d->cq_for, b);
        }
        put(b, " BEGIN ");
        qry_print_select(d->cq, b);
        put(b, " END");
        break;
    case QRY_STMT_KILL_QUERY:
        put(b, "KILL QUERY ");
        put_int(b, d->qid);
        if (d->name) {
            put(b, " ON ");
            put_ident(b, d->name);
        }
        break;
    }
    terminate(b);
}

void qry_print_query(const qry_query_t *q, cn_buf_t *b)
{
    for (size_t i = 0; i < q->nstmts; i++) {
        if (i)
            cn_buf_put(b, "; ", 2);
        qry_print_stmt(&q->stmts[i], b);
    }
    if (q->expr)
        qry_print_expr(q->expr, b);
    terminate(b);
}
