/* SPDX-License-Identifier: MIT */
/*
 * parse_int.h - private to the InfluxQL front end (lexer.c, parser.c,
 * parser_select.c, parser_stmt.c, ast.c): the arena, the token kinds, the lexer and the
 * parser state the statement parsers share.
 */
#ifndef QRY_PARSE_INT_H
#define QRY_PARSE_INT_H

#include "ast.h"

/* ------------------------------------------------------------------ arena */

qry__arena_t *qry__arena_new(void);
void qry__arena_free(qry__arena_t *a);
/* Zeroed, 16-byte aligned; aborts on out of memory like cn_malloc. */
void *qry__arena_alloc(qry__arena_t *a, size_t n);
char *qry__arena_strndup(qry__arena_t *a, const char *s, size_t n);
qry_expr_t *qry__expr_new(qry__arena_t *a, qry_expr_kind_t kind, uint32_t off);
/* Binding strength of a binary operator: OR 1, AND 2, comparisons 3,
 * + - | ^ 4, * / % & 5. */
int qry__op_prec(qry_op_t op);

/* ----------------------------------------------------------------- tokens */

/* Keywords (InfluxQL's reserved words plus AND, OR, TRUE, FALSE).  fill,
 * tz, time and now are plain identifiers, as in InfluxDB. */
#define QRY__KEYWORDS(X)                                                                           \
    X(ALL)                                                                                         \
    X(ALTER)                                                                                       \
    X(AND)                                                                                         \
    X(ANY)                                                                                         \
    X(AS)                                                                                          \
    X(ASC) X(BEGIN) X(BY) X(CARDINALITY) X(CREATE) X(CONTINUOUS) X(DATABASE) X(DATABASES)          \
        X(DEFAULT) X(DELETE) X(DESC) X(DESTINATIONS) X(DIAGNOSTICS) X(DISTINCT) X(DROP)            \
            X(DURATION) X(END) X(EVERY) X(EXACT) X(EXPLAIN) X(FALSE) X(FIELD) X(FOR) X(FROM)       \
                X(GRANT) X(GRANTS) X(GROUP) X(GROUPS) X(IN) X(INF) X(INSERT) X(INTO) X(KEY)        \
                    X(KEYS) X(KILL) X(LIMIT) X(MEASUREMENT) X(MEASUREMENTS) X(NAME) X(OFFSET)      \
                        X(ON) X(OR) X(ORDER) X(PASSWORD) X(POLICY) X(POLICIES) X(PRIVILEGES)       \
                            X(QUERIES) X(QUERY) X(READ) X(REPLICATION) X(RESAMPLE) X(RETENTION)    \
                                X(REVOKE) X(SELECT) X(SERIES) X(SET) X(SHARD) X(SHARDS) X(SHOW)    \
                                    X(SLIMIT) X(SOFFSET) X(STATS) X(SUBSCRIPTION) X(SUBSCRIPTIONS) \
                                        X(TAG) X(TO) X(TRUE) X(USER) X(USERS) X(VALUES) X(WHERE)   \
                                            X(WITH) X(WRITE)

typedef enum qry__tk {
    QRY_TK_EOF = 0,
    QRY_TK_IDENT,   /* s: name (bare, or quoted with quoted = true) */
    QRY_TK_STRING,  /* s: unescaped contents */
    QRY_TK_INTEGER, /* text only; the parser converts with the sign */
    QRY_TK_NUMBER,  /* text only */
    QRY_TK_DUR,     /* i: ns (a duration literal) */
    QRY_TK_REGEX,   /* s: pattern (only from qry__lex_regex) */
    QRY_TK_PARAM,   /* s: name */
    QRY_TK_PLUS,
    QRY_TK_MINUS,
    QRY_TK_STAR,
    QRY_TK_SLASH,
    QRY_TK_PERCENT,
    QRY_TK_AMP,
    QRY_TK_PIPE,
    QRY_TK_CARET,
    QRY_TK_EQ,
    QRY_TK_NEQ,
    QRY_TK_LT,
    QRY_TK_LTE,
    QRY_TK_GT,
    QRY_TK_GTE,
    QRY_TK_EQREGEX,
    QRY_TK_NEQREGEX,
    QRY_TK_LPAREN,
    QRY_TK_RPAREN,
    QRY_TK_COMMA,
    QRY_TK_DOT,
    QRY_TK_COLON,
    QRY_TK_DCOLON,
    QRY_TK_SEMI,
#define QRY__KW_ENUM(k) QRY_TK_##k,
    QRY__KEYWORDS(QRY__KW_ENUM)
#undef QRY__KW_ENUM
        QRY_TK__COUNT
} qry__tk_t;

typedef struct qry__tok {
    qry__tk_t kind;
    uint32_t off; /* first byte */
    uint32_t end; /* one past the last byte */
    bool quoted;  /* IDENT written in double quotes */
    bool bound;   /* INTEGER / NUMBER from a bound parameter: value in i / f */
    const char *s;
    int64_t i;
    double f;
} qry__tok_t;

typedef struct qry__lexer {
    const char *src;
    size_t len;
    size_t pos;
    qry__arena_t *arena;
    qry_error_t *err;
    const qry_params_t *params; /* bind $name tokens (bind is true) */
    bool bind;
} qry__lexer_t;

/* The parameter name in params (params.c), or NULL. */
const qry_param_t *qry__param_find(const qry_params_t *ps, const char *name);

/* Next token from lx->pos (comments and white space skipped).  Returns 0,
 * or CN_EINVAL with lx->err filled (bad string, escape, duration...). */
int qry__lex_next(qry__lexer_t *lx, qry__tok_t *t /* OUT */);
/* Scans a regex literal starting at the '/' at byte at. */
int qry__lex_regex(qry__lexer_t *lx, size_t at, qry__tok_t *t /* OUT */);
/* Upper-case spelling of a keyword token, or NULL for other kinds. */
const char *qry__kw_name(qry__tk_t kind);
/* Whether s (case-insensitively) is a keyword: such identifiers print quoted. */
bool qry__is_keyword(const char *s, size_t n);
/* Whether s is one of the contextual words NOT, LIKE, IS, NULL (any case):
 * plain identifiers to the lexer, operators where the parser expects one;
 * such identifiers print quoted too. */
bool qry__is_ctx_word(const char *s);

/* Fills err for the byte offset off of src: line and column, then
 * "error parsing query: <fmt> at line L, char C".  Returns CN_EINVAL. */
int qry__error_at(qry_error_t *err, const char *src, size_t len, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ----------------------------------------------------------------- parser */

#define QRY__MAX_NEST  128  /* parentheses, calls, subqueries */
#define QRY__MAX_DEPTH 1000 /* expression tree depth */

typedef struct qry__parser {
    qry__lexer_t lx;
    qry__tok_t tok; /* current, not yet consumed */
    qry__tok_t prev; /* the one consumed last */
    qry__tok_t ahead;
    bool has_ahead;
    qry__arena_t *arena;
    qry_error_t *err;
    int nest;
    bool kw_vars; /* rules: keywords other than the rule's own are names */
    bool stmts;   /* qry_parse: InfluxQL statements (=~ needs a regex literal) */
    bool need_into; /* the next SELECT must have INTO (a continuous query's) */
} qry__parser_t;

/* Evaluates an int-returning call and returns its error from the caller. */
#define QRY__TRY(x)                                                                                \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_ < 0)                                                                               \
            return rc_;                                                                            \
    } while (0)

int qry__p_advance(qry__parser_t *p);
/* "::type" after a variable (any type) or a wildcard (field or tag) into
 * *out, when there is one. */
int qry__p_cast(qry__parser_t *p, bool wildcard, qry_vtype_t *out);
/* The token after the current one (lexed once, cached). */
int qry__p_peek(qry__parser_t *p, const qry__tok_t **t /* OUT */);
/* Consumes the current token if it is kind; *ok (OUT, may be NULL) says so. */
int qry__p_accept(qry__parser_t *p, qry__tk_t kind, bool *ok);
/* "found X, expected <what>" at the current token. */
int qry__p_expected(qry__parser_t *p, const char *what);
/* The same about token t (InfluxDB names the last token of a continuous
 * query's SELECT when it lacks GROUP BY time()). */
int qry__p_expected_at(qry__parser_t *p, const qry__tok_t *t, const char *what);
/* Consumes kind or fails with "expected <what>". */
int qry__p_expect(qry__parser_t *p, qry__tk_t kind, const char *what);
/* An identifier (bare or quoted): *out points into the arena. */
int qry__p_ident(qry__parser_t *p, const char **out /* OUT */);
/* A non-negative integer literal (LIMIT, REPLICATION ...). */
int qry__p_uint(qry__parser_t *p, int64_t *out /* OUT */);
/* A duration literal, or INF (0) when allow_inf. */
int qry__p_duration(qry__parser_t *p, bool allow_inf, int64_t *out /* OUT */);
/* ASCII case-insensitive equality. */
bool qry__ieq(const char *a, const char *b);
/* Whether the current token is the bare identifier name followed by '('
 * (fill(...), tz(...), time(...)). */
int qry__p_at_call(qry__parser_t *p, const char *name, bool *yes /* OUT */);
/* A regex literal at the current token (a '/'), consumed. */
int qry__p_regex(qry__parser_t *p, const char **out /* OUT */);
/* Enters one nesting level (QRY__MAX_NEST); the caller decrements p->nest. */
int qry__p_nest_in(qry__parser_t *p);
/* The INTEGER / NUMBER literal at the current token, negated when neg; the
 * node gets offset off (where a leading '-' was). */
int qry__p_int_literal(qry__parser_t *p, bool neg, uint32_t off, qry_expr_t **out /* OUT */);
int qry__p_float_literal(qry__parser_t *p, bool neg, uint32_t off, qry_expr_t **out /* OUT */);
int qry__p_expr(qry__parser_t *p, qry_expr_t **out /* OUT */);
/* A field that starts with a regex is that regex alone (SELECT /re/ + 1
 * is an error at the '+', as in InfluxDB); the token is "/" or a bound
 * REGEX. */
int qry__p_regex_field(qry__parser_t *p, qry_expr_t **out /* OUT */);
/* WHERE expression with time strings turned into QRY_EXPR_TIME. */
int qry__p_condition(qry__parser_t *p, qry_expr_t **out /* OUT */);
/* source {"," source} */
int qry__p_sources(qry__parser_t *p, bool allow_sub, qry_source_t **out /* OUT */,
                   size_t *n /* OUT */);
int qry__p_source(qry__parser_t *p, bool allow_sub, qry_source_t *out /* OUT */);
int qry__p_select(qry__parser_t *p, qry_select_t **out /* OUT */);
/* SHOW, CREATE, DROP, DELETE, ALTER (parser_stmt.c); the current token is
 * the statement's first keyword. */
int qry__p_show(qry__parser_t *p, qry_stmt_t *st);
int qry__p_create(qry__parser_t *p, qry_stmt_t *st);
int qry__p_drop(qry__parser_t *p, qry_stmt_t *st);
int qry__p_kill(qry__parser_t *p, qry_stmt_t *st);
int qry__p_delete(qry__parser_t *p, qry_stmt_t *st);
int qry__p_alter(qry__parser_t *p, qry_stmt_t *st);

/* A growable pointer-sized vector in the arena (grown by doubling; the old
 * block is simply abandoned to the arena). */
typedef struct qry__vec {
    void *items;
    size_t n, cap, elem;
} qry__vec_t;
void *qry__vec_push(qry__arena_t *a, qry__vec_t *v);

#endif /* QRY_PARSE_INT_H */
