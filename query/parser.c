/* SPDX-License-Identifier: MIT */
/*
 * parser.c - recursive-descent InfluxQL parser: the statement loop, the
 * token helpers every statement parser uses and expressions (precedence
 * climbing).  SELECT and sources are in parser_select.c, SHOW and the
 * data-definition statements in parser_stmt.c.
 *
 * Errors read like InfluxDB's: "found X, expected Y at line L, char C",
 * where X is the offending token (keywords upper case, literals as
 * written, EOF at the end) and C is its 1-based character column.
 *
 * NOTES
 * 1. p->tok is the current, unconsumed token.  At most one token of
 *    lookahead (qry__p_peek) is ever lexed, and never while the current
 *    token is a '/' that might open a regex: rescanning it as a regex
 *    (relex_regex) resets the lexer to that byte.
 * 2. Nesting (parentheses, unary operators, calls, subqueries) is capped
 *    at QRY__MAX_NEST levels and trees at QRY__MAX_DEPTH, so neither the
 *    parser nor the recursive printer can exhaust the stack.
 * 3. Unary minus directly before a number or duration folds into the
 *    literal (so INT64_MIN is expressible); before anything else it makes
 *    a QRY_EXPR_UNARY node.
 * 4. A string compared with `time` that reads as a time literal becomes a
 *    QRY_EXPR_TIME (also inside + and - on that side), so the planner sees
 *    nanoseconds; strings that do not parse stay strings.
 * 5. NOT, LIKE, IS and NULL are contextual words (the rule language's SQL
 *    operators), recognised only unquoted and only where an operator can
 *    stand: NOT before an operand (NOT x, its operand parsed at comparison
 *    precedence), and after an operand IS [NOT] NULL, [NOT] LIKE and
 *    [NOT] IN (list).  Everywhere else they are plain identifiers, so
 *    InfluxQL names such as a field "is" still parse; the printer quotes
 *    them (qry__is_ctx_word).
 * 6. With kw_vars (the rule language, whose names are device fields such
 *    as "on" or "name"), a keyword where an operand is expected is a
 *    variable spelled as written, except the words a rule needs
 *    (kw_var_ok).  It prints quoted, which reads back the same.
 * 7. A variable may be dotted (a.b.c, a flattened JSON field): the parts
 *    join into one name "a.b.c", which prints quoted and reads back as the
 *    same single name.
 */
#include "parse_int.h"
#include "rx.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_QUERY_BYTES (16u << 20)

/* ---------------------------------------------------------- token helpers */

int qry__p_advance(qry__parser_t *p)
{
    p->prev = p->tok;
    if (p->has_ahead) {
        p->tok = p->ahead;
        p->has_ahead = false;
        return 0;
    }
    return qry__lex_next(&p->lx, &p->tok);
}

int qry__p_peek(qry__parser_t *p, const qry__tok_t **t)
{
    assert(p->tok.kind != QRY_TK_SLASH);
    if (!p->has_ahead) {
        QRY__TRY(qry__lex_next(&p->lx, &p->ahead));
        p->has_ahead = true;
    }
    *t = &p->ahead;
    return 0;
}

int qry__p_accept(qry__parser_t *p, qry__tk_t kind, bool *ok)
{
    bool hit = p->tok.kind == kind;
    if (ok)
        *ok = hit;
    return hit ? qry__p_advance(p) : 0;
}

int qry__p_expected(qry__parser_t *p, const char *what)
{
    return qry__p_expected_at(p, &p->tok, what);
}

int qry__p_expected_at(qry__parser_t *p, const qry__tok_t *t, const char *what)
{
    const char *kw = qry__kw_name(t->kind);
    const char *text = t->s;
    int n = -1;
    if (t->kind == QRY_TK_EOF)
        text = "EOF";
    else if (kw)
        text = kw;
    else if (t->kind != QRY_TK_IDENT && t->kind != QRY_TK_STRING) {
        text = p->lx.src + t->off;
        n = (int)(t->end - t->off);
    }
    if (n < 0)
        n = (int)strlen(text);
    /* InfluxDB 1.x places a 'string' one byte before its quote (a bound
     * $param at its $) */
    uint32_t off = t->off;
    if (t->kind == QRY_TK_STRING && off && p->lx.src[off] == '\'')
        off--;
    return qry__error_at(p->err, p->lx.src, p->lx.len, off, "found %.*s%s, expected %s",
                         CN_MIN(n, 100), text, n > 100 ? "..." : "", what);
}

int qry__p_expect(qry__parser_t *p, qry__tk_t kind, const char *what)
{
    if (p->tok.kind != kind)
        return qry__p_expected(p, what);
    return qry__p_advance(p);
}

int qry__p_ident(qry__parser_t *p, const char **out)
{
    if (p->tok.kind != QRY_TK_IDENT)
        return qry__p_expected(p, "identifier");
    *out = p->tok.s;
    return qry__p_advance(p);
}

int qry__p_uint(qry__parser_t *p, int64_t *out)
{
    const char *s = p->lx.src;
    int64_t v = 0;
    if (p->tok.kind != QRY_TK_INTEGER)
        return qry__p_expected(p, "integer");
    if (p->tok.bound) {
        if (p->tok.i < 0)
            return qry__p_expected(p, "integer");
        *out = p->tok.i;
        return qry__p_advance(p);
    }
    for (uint32_t i = p->tok.off; i < p->tok.end; i++) {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[i] - '0', &v))
            return qry__error_at(p->err, s, p->lx.len, p->tok.off, "integer out of range");
    }
    *out = v;
    return qry__p_advance(p);
}

int qry__p_duration(qry__parser_t *p, bool allow_inf, int64_t *out)
{
    if (allow_inf && p->tok.kind == QRY_TK_INF) {
        *out = 0;
        return qry__p_advance(p);
    }
    if (p->tok.kind != QRY_TK_DUR)
        return qry__p_expected(p, "duration");
    *out = p->tok.i;
    return qry__p_advance(p);
}

bool qry__ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        int x = *a >= 'A' && *a <= 'Z' ? *a + 32 : *a;
        int y = *b >= 'A' && *b <= 'Z' ? *b + 32 : *b;
        if (x != y)
            return false;
    }
    return *a == *b;
}

int qry__p_at_call(qry__parser_t *p, const char *name, bool *yes)
{
    *yes = false;
    if (p->tok.kind != QRY_TK_IDENT || p->tok.quoted || !qry__ieq(p->tok.s, name))
        return 0;
    const qry__tok_t *next;
    QRY__TRY(qry__p_peek(p, &next));
    *yes = next->kind == QRY_TK_LPAREN;
    return 0;
}

/* The regex literal at the current '/'.  InfluxQL statements have its
 * pattern checked here, as InfluxDB's parser compiles it: Go's words, at
 * the '/' (InfluxDB counts that column from 0). */
static int relex_regex(qry__parser_t *p)
{
    assert(p->tok.kind == QRY_TK_SLASH);
    p->has_ahead = false;
    uint32_t off = p->tok.off;
    QRY__TRY(qry__lex_regex(&p->lx, off, &p->tok));
    char msg[192];
    if (p->stmts && qry_regex_check(p->tok.s, msg, sizeof msg))
        return qry__error_at(p->err, p->lx.src, p->lx.len, off ? off - 1 : 0, "%s", msg);
    return 0;
}

int qry__p_regex(qry__parser_t *p, const char **out)
{
    if (p->tok.kind != QRY_TK_SLASH && p->tok.kind != QRY_TK_REGEX) /* REGEX: bound */
        return qry__p_expected(p, "regex");
    if (p->tok.kind == QRY_TK_SLASH)
        QRY__TRY(relex_regex(p));
    *out = p->tok.s;
    return qry__p_advance(p);
}

int qry__p_nest_in(qry__parser_t *p)
{
    if (++p->nest > QRY__MAX_NEST)
        return qry__error_at(p->err, p->lx.src, p->lx.len, p->tok.off, "query nested too deeply");
    return 0;
}

/* ------------------------------------------------------------ expressions */

static qry_op_t binop(qry__tk_t k)
{
    switch (k) {
    case QRY_TK_OR:
        return QRY_OP_OR;
    case QRY_TK_AND:
        return QRY_OP_AND;
    case QRY_TK_EQ:
        return QRY_OP_EQ;
    case QRY_TK_NEQ:
        return QRY_OP_NEQ;
    case QRY_TK_LT:
        return QRY_OP_LT;
    case QRY_TK_LTE:
        return QRY_OP_LTE;
    case QRY_TK_GT:
        return QRY_OP_GT;
    case QRY_TK_GTE:
        return QRY_OP_GTE;
    case QRY_TK_EQREGEX:
        return QRY_OP_EQREGEX;
    case QRY_TK_NEQREGEX:
        return QRY_OP_NEQREGEX;
    case QRY_TK_PLUS:
        return QRY_OP_ADD;
    case QRY_TK_MINUS:
        return QRY_OP_SUB;
    case QRY_TK_PIPE:
        return QRY_OP_BITOR;
    case QRY_TK_CARET:
        return QRY_OP_BITXOR;
    case QRY_TK_STAR:
        return QRY_OP_MUL;
    case QRY_TK_SLASH:
        return QRY_OP_DIV;
    case QRY_TK_PERCENT:
        return QRY_OP_MOD;
    case QRY_TK_AMP:
        return QRY_OP_BITAND;
    default:
        return QRY_OP_NONE;
    }
}

/* Sets e's depth from a child's and enforces QRY__MAX_DEPTH. */
static int grow(qry__parser_t *p, qry_expr_t *e, const qry_expr_t *child)
{
    if (child->depth + 1 > e->depth)
        e->depth = child->depth + 1;
    if (e->depth > QRY__MAX_DEPTH)
        return qry__error_at(p->err, p->lx.src, p->lx.len, e->off, "expression nested too deeply");
    return 0;
}

int qry__p_int_literal(qry__parser_t *p, bool neg, uint32_t off, qry_expr_t **out)
{
    const char *s = p->lx.src;
    if (p->tok.bound) { /* a bound parameter */
        if (neg && p->tok.i == INT64_MIN)
            return qry__error_at(p->err, s, p->lx.len, p->tok.off, "integer out of range");
        qry_expr_t *e = qry__expr_new(p->arena, QRY_EXPR_INTEGER, off);
        e->u.i = neg ? -p->tok.i : p->tok.i;
        *out = e;
        return qry__p_advance(p);
    }
    uint64_t v = 0, lim = neg ? UINT64_C(1) << 63 : (UINT64_C(1) << 63) - 1;
    for (uint32_t i = p->tok.off; i < p->tok.end; i++) {
        if (v > (lim - (uint64_t)(s[i] - '0')) / 10)
            return qry__error_at(p->err, s, p->lx.len, p->tok.off, "integer out of range");
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    qry_expr_t *e = qry__expr_new(p->arena, QRY_EXPR_INTEGER, off);
    e->u.i = neg ? (int64_t)(0 - v) : (int64_t)v;
    *out = e;
    return qry__p_advance(p);
}

int qry__p_float_literal(qry__parser_t *p, bool neg, uint32_t off, qry_expr_t **out)
{
    double v = p->tok.f; /* a bound parameter */
    if (!p->tok.bound) {
        char *text = qry__arena_strndup(p->arena, p->lx.src + p->tok.off, p->tok.end - p->tok.off);
        v = strtod(text, NULL);
    }
    if (isinf(v))
        return qry__error_at(p->err, p->lx.src, p->lx.len, p->tok.off, "number out of range");
    qry_expr_t *e = qry__expr_new(p->arena, QRY_EXPR_NUMBER, off);
    e->u.f = neg ? -v : v;
    *out = e;
    return qry__p_advance(p);
}

static int parse_unary(qry__parser_t *p, qry_expr_t **out);

static int parse_neg(qry__parser_t *p, qry_expr_t **out)
{
    uint32_t off = p->tok.off;
    QRY__TRY(qry__p_advance(p));
    if (p->tok.kind == QRY_TK_INTEGER)
        return qry__p_int_literal(p, true, off, out);
    if (p->tok.kind == QRY_TK_NUMBER)
        return qry__p_float_literal(p, true, off, out);
    if (p->tok.kind == QRY_TK_DUR) {
        qry_expr_t *e = qry__expr_new(p->arena, QRY_EXPR_DURATION, off);
        e->u.i = -p->tok.i;
        *out = e;
        return qry__p_advance(p);
    }
    qry_expr_t *operand, *e = qry__expr_new(p->arena, QRY_EXPR_UNARY, off);
    QRY__TRY(parse_unary(p, &operand));
    e->u.unary.op = QRY_OP_NEG;
    e->u.unary.operand = operand;
    *out = e;
    return grow(p, e, operand);
}

/* name(args...) with the name already known to be followed by '('. */
static int parse_call(qry__parser_t *p, qry_expr_t **out)
{
    qry_expr_t *e = qry__expr_new(p->arena, QRY_EXPR_CALL, p->tok.off);
    char *name = qry__arena_strndup(p->arena, p->tok.s, strlen(p->tok.s));
    for (char *c = name; *c; c++)
        *c = *c >= 'A' && *c <= 'Z' ? (char)(*c + 32) : *c;
    e->u.call.name = name;
    QRY__TRY(qry__p_advance(p));
    QRY__TRY(qry__p_advance(p));
    qry__vec_t args = {.elem = sizeof(qry_expr_t *)};
    bool done;
    QRY__TRY(qry__p_accept(p, QRY_TK_RPAREN, &done));
    while (!done) {
        qry_expr_t *a;
        QRY__TRY(qry__p_expr(p, &a));
        *(qry_expr_t **)qry__vec_push(p->arena, &args) = a;
        QRY__TRY(grow(p, e, a));
        if (p->tok.kind == QRY_TK_RPAREN)
            break;
        QRY__TRY(qry__p_expect(p, QRY_TK_COMMA, ", or )"));
    }
    if (!done)
        QRY__TRY(qry__p_advance(p));
    e->u.call.args = args.items;
    e->u.call.nargs = args.n;
    *out = e;
    return 0;
}

/* "::type" after a variable (any type) or a wildcard (field or tag). */
int qry__p_cast(qry__parser_t *p, bool wildcard, qry_vtype_t *out)
{
    static const char *const names[] = {"float", "integer", "unsigned", "string", "boolean"};
    bool cast;
    QRY__TRY(qry__p_accept(p, QRY_TK_DCOLON, &cast));
    if (!cast)
        return 0;
    const char *what =
        wildcard ? "field, tag" : "float, integer, unsigned, string, boolean, field, tag";
    if (p->tok.kind == QRY_TK_FIELD || p->tok.kind == QRY_TK_TAG) {
        *out = p->tok.kind == QRY_TK_FIELD ? QRY_VT_FIELD : QRY_VT_TAG;
        return qry__p_advance(p);
    }
    if (!wildcard && p->tok.kind == QRY_TK_IDENT && !p->tok.quoted) {
        for (size_t i = 0; i < CN_ARRAY_LEN(names); i++) {
            if (qry__ieq(p->tok.s, names[i])) {
                *out = (qry_vtype_t)(QRY_VT_FLOAT + i);
                return qry__p_advance(p);
            }
        }
    }
    return qry__p_expected(p, what);
}

/* The current token is the unquoted identifier w (case-insensitive). */
static bool at_word(const qry__parser_t *p, const qry__tok_t *t, const char *w)
{
    (void)p;
    return t->kind == QRY_TK_IDENT && !t->quoted && qry__ieq(t->s, w);
}

/* ".part" after a variable name: identifiers or keywords, joined with '.'. */
static int parse_dotted(qry__parser_t *p, qry_expr_t *e)
{
    while (p->tok.kind == QRY_TK_DOT) {
        QRY__TRY(qry__p_advance(p));
        const char *part;
        size_t n;
        if (p->tok.kind == QRY_TK_IDENT) {
            part = p->tok.s;
            n = strlen(part);
        } else if (qry__kw_name(p->tok.kind)) {
            part = p->lx.src + p->tok.off;
            n = p->tok.end - p->tok.off;
        } else {
            return qry__p_expected(p, "identifier");
        }
        size_t have = strlen(e->u.var.name);
        char *name = qry__arena_alloc(p->arena, have + n + 2);
        memcpy(name, e->u.var.name, have);
        name[have] = '.';
        memcpy(name + have + 1, part, n);
        e->u.var.name = name;
        QRY__TRY(qry__p_advance(p));
    }
    return 0;
}

static int parse_var(qry__parser_t *p, qry_expr_t **out)
{
    bool call = false;
    if (!p->tok.quoted) {
        const qry__tok_t *next;
        QRY__TRY(qry__p_peek(p, &next));
        call = next->kind == QRY_TK_LPAREN;
    }
    if (call)
        return parse_call(p, out);
    qry_expr_t *e = qry__expr_new(p->arena, QRY_EXPR_VAR, p->tok.off);
    e->u.var.name = p->tok.s;
    QRY__TRY(qry__p_advance(p));
    *out = e;
    QRY__TRY(parse_dotted(p, e));
    return qry__p_cast(p, false, &e->u.var.type);
}

/* DISTINCT x (or DISTINCT(x)) is distinct(x), as in InfluxDB. */
static int parse_distinct(qry__parser_t *p, qry_expr_t **out)
{
    qry_expr_t *e = qry__expr_new(p->arena, QRY_EXPR_CALL, p->tok.off);
    QRY__TRY(qry__p_advance(p));
    bool paren;
    QRY__TRY(qry__p_accept(p, QRY_TK_LPAREN, &paren));
    qry_expr_t *v = qry__expr_new(p->arena, QRY_EXPR_VAR, p->tok.off);
    QRY__TRY(qry__p_ident(p, &v->u.var.name));
    if (paren)
        QRY__TRY(qry__p_expect(p, QRY_TK_RPAREN, ")"));
    e->u.call.name = "distinct";
    e->u.call.args = qry__arena_alloc(p->arena, sizeof(qry_expr_t *));
    e->u.call.args[0] = v;
    e->u.call.nargs = 1;
    e->depth = 2;
    *out = e;
    return 0;
}

/* A leaf whose value sits in the current token (string, regex, ...). */
static int parse_leaf(qry__parser_t *p, qry_expr_kind_t kind, qry_expr_t **out)
{
    qry_expr_t *e = qry__expr_new(p->arena, kind, p->tok.off);
    if (kind == QRY_EXPR_DURATION)
        e->u.i = p->tok.i;
    else if (kind == QRY_EXPR_BOOL)
        e->u.b = p->tok.kind == QRY_TK_TRUE;
    else if (kind != QRY_EXPR_WILDCARD)
        e->u.s = p->tok.s;
    *out = e;
    QRY__TRY(qry__p_advance(p));
    return kind == QRY_EXPR_WILDCARD ? qry__p_cast(p, true, &e->u.wild.type) : 0;
}

int qry__p_regex_field(qry__parser_t *p, qry_expr_t **out)
{
    if (p->tok.kind == QRY_TK_SLASH)
        QRY__TRY(relex_regex(p));
    return parse_leaf(p, QRY_EXPR_REGEX, out);
}

static int parse_binary(qry__parser_t *p, int min_prec, qry_expr_t **out);

static bool kw_var_ok(const qry__parser_t *p, qry__tk_t k)
{
    if (!p->kw_vars || !qry__kw_name(k))
        return false;
    switch (k) {
    case QRY_TK_SELECT:
    case QRY_TK_FROM:
    case QRY_TK_WHERE:
    case QRY_TK_AS:
    case QRY_TK_AND:
    case QRY_TK_OR:
    case QRY_TK_IN:
    case QRY_TK_TRUE:
    case QRY_TK_FALSE:
    case QRY_TK_DISTINCT:
        return false;
    default:
        return true;
    }
}

/* A keyword used as a name (NOTES 6). */
static int parse_kw_var(qry__parser_t *p, qry_expr_t **out)
{
    qry_expr_t *e = qry__expr_new(p->arena, QRY_EXPR_VAR, p->tok.off);
    e->u.var.name = qry__arena_strndup(p->arena, p->lx.src + p->tok.off, p->tok.end - p->tok.off);
    QRY__TRY(qry__p_advance(p));
    *out = e;
    QRY__TRY(parse_dotted(p, e));
    return qry__p_cast(p, false, &e->u.var.type);
}

/* Whether an unquoted NOT at the current token is the operator: it is when
 * an operand follows (NOTES 5). */
static int at_not_op(qry__parser_t *p, bool *yes)
{
    *yes = false;
    if (!at_word(p, &p->tok, "not"))
        return 0;
    const qry__tok_t *next;
    QRY__TRY(qry__p_peek(p, &next));
    switch (next->kind) {
    case QRY_TK_IDENT:
    case QRY_TK_STRING:
    case QRY_TK_INTEGER:
    case QRY_TK_NUMBER:
    case QRY_TK_DUR:
    case QRY_TK_TRUE:
    case QRY_TK_FALSE:
    case QRY_TK_PARAM:
    case QRY_TK_LPAREN:
        *yes = true;
        break;
    default:
        *yes = kw_var_ok(p, next->kind);
        break;
    }
    return 0;
}

static int parse_not(qry__parser_t *p, qry_expr_t **out)
{
    qry_expr_t *operand, *e = qry__expr_new(p->arena, QRY_EXPR_UNARY, p->tok.off);
    QRY__TRY(qry__p_advance(p));
    QRY__TRY(parse_binary(p, 3, &operand));
    e->u.unary.op = QRY_OP_NOT;
    e->u.unary.operand = operand;
    *out = e;
    return grow(p, e, operand);
}

static int unary_inner(qry__parser_t *p, qry_expr_t **out)
{
    bool is_not;
    QRY__TRY(at_not_op(p, &is_not));
    if (is_not)
        return parse_not(p, out);
    switch (p->tok.kind) {
    case QRY_TK_LPAREN:
        QRY__TRY(qry__p_advance(p));
        QRY__TRY(qry__p_expr(p, out));
        return qry__p_expect(p, QRY_TK_RPAREN, ")");
    case QRY_TK_MINUS:
        return parse_neg(p, out);
    case QRY_TK_IDENT:
        return parse_var(p, out);
    case QRY_TK_DISTINCT:
        return parse_distinct(p, out);
    case QRY_TK_INTEGER:
        return qry__p_int_literal(p, false, p->tok.off, out);
    case QRY_TK_NUMBER:
        return qry__p_float_literal(p, false, p->tok.off, out);
    case QRY_TK_SLASH:
        QRY__TRY(relex_regex(p));
        return parse_leaf(p, QRY_EXPR_REGEX, out);
    case QRY_TK_REGEX: /* a bound parameter */
        return parse_leaf(p, QRY_EXPR_REGEX, out);
    case QRY_TK_STAR:
        return parse_leaf(p, QRY_EXPR_WILDCARD, out);
    case QRY_TK_STRING:
        return parse_leaf(p, QRY_EXPR_STRING, out);
    case QRY_TK_DUR:
        return parse_leaf(p, QRY_EXPR_DURATION, out);
    case QRY_TK_TRUE:
    case QRY_TK_FALSE:
        return parse_leaf(p, QRY_EXPR_BOOL, out);
    case QRY_TK_PARAM:
        return parse_leaf(p, QRY_EXPR_PARAM, out);
    default:
        if (kw_var_ok(p, p->tok.kind))
            return parse_kw_var(p, out);
        return qry__p_expected(p, "identifier, string, number, bool");
    }
}

static int parse_unary(qry__parser_t *p, qry_expr_t **out)
{
    QRY__TRY(qry__p_nest_in(p));
    int rc = unary_inner(p, out);
    p->nest--;
    return rc;
}

/* The contextual operator after an operand (NOTES 5): IS [NOT] NULL,
 * [NOT] LIKE, [NOT] IN; QRY_OP_NONE when the current token starts none.
 * Looks ahead only past an unquoted NOT. */
static int ctx_op(qry__parser_t *p, qry_op_t *op)
{
    *op = QRY_OP_NONE;
    if (p->tok.kind == QRY_TK_IN)
        *op = QRY_OP_IN;
    else if (at_word(p, &p->tok, "like"))
        *op = QRY_OP_LIKE;
    else if (at_word(p, &p->tok, "is"))
        *op = QRY_OP_ISNULL;
    else if (at_word(p, &p->tok, "not")) {
        const qry__tok_t *next;
        QRY__TRY(qry__p_peek(p, &next));
        if (next->kind == QRY_TK_IN)
            *op = QRY_OP_NOTIN;
        else if (at_word(p, next, "like"))
            *op = QRY_OP_NOTLIKE;
    }
    return 0;
}

/* IS [NOT] NULL after lhs, the current token at IS. */
static int parse_is_null(qry__parser_t *p, qry_expr_t *lhs, qry_expr_t **out)
{
    qry_expr_t *e = qry__expr_new(p->arena, QRY_EXPR_UNARY, lhs->off);
    QRY__TRY(qry__p_advance(p));
    e->u.unary.op = QRY_OP_ISNULL;
    if (at_word(p, &p->tok, "not")) {
        e->u.unary.op = QRY_OP_ISNOTNULL;
        QRY__TRY(qry__p_advance(p));
    }
    if (!at_word(p, &p->tok, "null"))
        return qry__p_expected(p, e->u.unary.op == QRY_OP_ISNULL ? "NOT, NULL" : "NULL");
    QRY__TRY(qry__p_advance(p));
    e->u.unary.operand = lhs;
    *out = e;
    return grow(p, e, lhs);
}

/* "(" expr {"," expr} ")" after IN. */
static int parse_list(qry__parser_t *p, qry_expr_t **out)
{
    qry_expr_t *e = qry__expr_new(p->arena, QRY_EXPR_LIST, p->tok.off);
    QRY__TRY(qry__p_expect(p, QRY_TK_LPAREN, "("));
    QRY__TRY(qry__p_nest_in(p));
    qry__vec_t v = {.elem = sizeof(qry_expr_t *)};
    for (;;) {
        qry_expr_t *a;
        QRY__TRY(qry__p_expr(p, &a));
        *(qry_expr_t **)qry__vec_push(p->arena, &v) = a;
        QRY__TRY(grow(p, e, a));
        if (p->tok.kind == QRY_TK_RPAREN)
            break;
        QRY__TRY(qry__p_expect(p, QRY_TK_COMMA, ", or )"));
    }
    p->nest--;
    e->u.list.items = v.items;
    e->u.list.n = v.n;
    *out = e;
    return qry__p_advance(p);
}

/* Precedence climbing: operators binding at least min_prec, left
 * associative. */
static int parse_binary(qry__parser_t *p, int min_prec, qry_expr_t **out)
{
    qry_expr_t *lhs;
    QRY__TRY(parse_unary(p, &lhs));
    for (;;) {
        qry_op_t op = binop(p->tok.kind), cop = QRY_OP_NONE;
        if (op == QRY_OP_NONE)
            QRY__TRY(ctx_op(p, &cop));
        if (cop != QRY_OP_NONE && min_prec <= 3) {
            if (cop == QRY_OP_ISNULL) {
                QRY__TRY(parse_is_null(p, lhs, &lhs));
                continue;
            }
            if (cop == QRY_OP_NOTIN || cop == QRY_OP_NOTLIKE)
                QRY__TRY(qry__p_advance(p));
            QRY__TRY(qry__p_advance(p));
            qry_expr_t *rhs, *e = qry__expr_new(p->arena, QRY_EXPR_BINARY, lhs->off);
            if (cop == QRY_OP_IN || cop == QRY_OP_NOTIN)
                QRY__TRY(parse_list(p, &rhs));
            else
                QRY__TRY(parse_binary(p, 4, &rhs));
            e->u.bin.op = cop;
            e->u.bin.lhs = lhs;
            e->u.bin.rhs = rhs;
            QRY__TRY(grow(p, e, lhs));
            QRY__TRY(grow(p, e, rhs));
            lhs = e;
            continue;
        }
        if (op == QRY_OP_NONE || qry__op_prec(op) < min_prec)
            break;
        QRY__TRY(qry__p_advance(p));
        if ((op == QRY_OP_EQREGEX || op == QRY_OP_NEQREGEX) && p->stmts &&
            p->tok.kind != QRY_TK_SLASH && p->tok.kind != QRY_TK_REGEX &&
            p->tok.kind != QRY_TK_PARAM) /* InfluxQL: a regex literal only */
            return qry__p_expected(p, "regex");
        qry_expr_t *rhs, *e = qry__expr_new(p->arena, QRY_EXPR_BINARY, lhs->off);
        QRY__TRY(parse_binary(p, qry__op_prec(op) + 1, &rhs));
        e->u.bin.op = op;
        e->u.bin.lhs = lhs;
        e->u.bin.rhs = rhs;
        QRY__TRY(grow(p, e, lhs));
        QRY__TRY(grow(p, e, rhs));
        lhs = e;
    }
    *out = lhs;
    return 0;
}

int qry__p_expr(qry__parser_t *p, qry_expr_t **out)
{
    return parse_binary(p, 1, out);
}

static bool is_time_ref(const qry_expr_t *e)
{
    return e->kind == QRY_EXPR_VAR && e->u.var.type == QRY_VT_NONE &&
           qry__ieq(e->u.var.name, "time");
}

static void to_time(qry_expr_t *e)
{
    int64_t ns;
    if (e->kind == QRY_EXPR_STRING && qry_parse_time(e->u.s, strlen(e->u.s), &ns) == 0) {
        e->kind = QRY_EXPR_TIME;
        e->u.i = ns;
    } else if (e->kind == QRY_EXPR_BINARY &&
               (e->u.bin.op == QRY_OP_ADD || e->u.bin.op == QRY_OP_SUB)) {
        to_time(e->u.bin.lhs);
        to_time(e->u.bin.rhs);
    }
}

static void timeify(qry_expr_t *e)
{
    if (e->kind != QRY_EXPR_BINARY)
        return;
    qry_op_t op = e->u.bin.op;
    if (op >= QRY_OP_EQ && op <= QRY_OP_GTE) {
        if (is_time_ref(e->u.bin.lhs))
            to_time(e->u.bin.rhs);
        if (is_time_ref(e->u.bin.rhs))
            to_time(e->u.bin.lhs);
        return;
    }
    timeify(e->u.bin.lhs);
    timeify(e->u.bin.rhs);
}

int qry__p_condition(qry__parser_t *p, qry_expr_t **out)
{
    QRY__TRY(qry__p_expr(p, out));
    timeify(*out);
    return 0;
}

/* ------------------------------------------------------------------ query */

static int parse_stmt(qry__parser_t *p, qry_stmt_t *st)
{
    st->off = p->tok.off;
    switch (p->tok.kind) {
    case QRY_TK_SELECT:
        st->kind = QRY_STMT_SELECT;
        return qry__p_select(p, &st->u.select);
    case QRY_TK_SHOW:
        return qry__p_show(p, st);
    case QRY_TK_CREATE:
        return qry__p_create(p, st);
    case QRY_TK_DROP:
        return qry__p_drop(p, st);
    case QRY_TK_DELETE:
        return qry__p_delete(p, st);
    case QRY_TK_ALTER:
        return qry__p_alter(p, st);
    case QRY_TK_KILL:
        return qry__p_kill(p, st);
    default:
        return qry__p_expected(p, "SELECT, DELETE, SHOW, CREATE, DROP, ALTER, KILL");
    }
}

static int parse_stmts(qry__parser_t *p, qry_query_t *q)
{
    qry__vec_t v = {.elem = sizeof(qry_stmt_t)};
    bool need_sep = false;
    while (p->tok.kind != QRY_TK_EOF) {
        bool semi;
        QRY__TRY(qry__p_accept(p, QRY_TK_SEMI, &semi));
        if (semi) {
            need_sep = false;
            continue;
        }
        if (need_sep)
            return qry__p_expected(p, ";");
        QRY__TRY(parse_stmt(p, qry__vec_push(p->arena, &v)));
        need_sep = true;
    }
    q->stmts = v.items;
    q->nstmts = v.n;
    return 0;
}

static int parse_one_expr(qry__parser_t *p, qry_query_t *q)
{
    QRY__TRY(qry__p_condition(p, &q->expr));
    return p->tok.kind == QRY_TK_EOF ? 0 : qry__p_expected(p, "EOF");
}

static int run(const char *src, size_t len, qry_query_t **out, qry_error_t *err,
               int (*body)(qry__parser_t *, qry_query_t *), const qry_params_t *params,
               bool bind)
{
    *out = NULL;
    if (err)
        memset(err, 0, sizeof *err);
    if (len > MAX_QUERY_BYTES) {
        if (err) {
            err->code = CN_ELIMIT;
            snprintf(err->msg, sizeof err->msg, "error parsing query: query longer than %u bytes",
                     MAX_QUERY_BYTES);
        }
        return CN_ELIMIT;
    }
    qry__arena_t *a = qry__arena_new();
    qry_query_t *q = qry__arena_alloc(a, sizeof *q);
    q->arena = a;
    qry__parser_t p = {
        .lx = {.src = src, .len = len, .arena = a, .err = err, .params = params, .bind = bind},
        .arena = a,
        .err = err,
        .stmts = body == parse_stmts};
    int rc = qry__p_advance(&p);
    if (rc == 0)
        rc = body(&p, q);
    if (rc < 0) {
        qry__arena_free(a);
        return rc;
    }
    *out = q;
    return 0;
}

int qry_parse(const char *src, size_t len, qry_query_t **out, qry_error_t *err)
{
    return run(src, len, out, err, parse_stmts, NULL, false);
}

int qry_parse_bound(const char *src, size_t len, const qry_params_t *params, qry_query_t **out,
                    qry_error_t *err)
{
    return run(src, len, out, err, parse_stmts, params, true);
}

int qry_parse_expr(const char *src, size_t len, qry_query_t **out, qry_error_t *err)
{
    return run(src, len, out, err, parse_one_expr, NULL, false);
}
