/* SPDX-License-Identifier: MIT */
/*
 * ast.h - the InfluxQL syntax tree, its parser and its printer.
 *
 * qry_parse() turns query text (one or more ';'-separated statements) into a
 * qry_query_t whose nodes all live in one arena: qry_query_free() releases
 * the whole tree at once, so the planner never frees nodes one by one.  The
 * printer renders any tree as canonical InfluxQL (keywords upper case,
 * function names lower case, identifiers quoted only when they must be,
 * durations in their largest exact unit, parentheses only where precedence
 * needs them); parse(print(tree)) prints the same text again, which the
 * fuzz target fuzz_influxql checks.
 *
 * The node structs are public on purpose (a deviation from STYLE.md's opaque
 * structs): the planner, the executor and the rules module walk them
 * directly.  Treat them as read-only; they stay valid until
 * qry_query_free().  Strings in the tree are NUL-terminated, already
 * unescaped, and never NULL unless the field's comment says so.
 *
 * The grammar follows InfluxDB 1.x's InfluxQL reference; the supported
 * statements are listed at qry_stmt_kind_t.  Parsing is pure and
 * thread-safe: it touches no global state.
 */
#ifndef QRY_AST_H
#define QRY_AST_H

#include "base/base.h"

/* ------------------------------------------------------------ expressions */

typedef enum qry_expr_kind {
    QRY_EXPR_BINARY,   /* u.bin: lhs op rhs (IN / NOT IN: rhs is a LIST) */
    QRY_EXPR_UNARY,    /* u.unary: -x (NEG), NOT x, x IS NULL, x IS NOT NULL */
    QRY_EXPR_CALL,     /* u.call: name(args...), name lower case */
    QRY_EXPR_VAR,      /* u.var: field or tag reference, optional ::type */
    QRY_EXPR_WILDCARD, /* u.wild: '*', optional ::field / ::tag */
    QRY_EXPR_INTEGER,  /* u.i */
    QRY_EXPR_NUMBER,   /* u.f (a float literal) */
    QRY_EXPR_STRING,   /* u.s: single-quoted literal, unescaped */
    QRY_EXPR_BOOL,     /* u.b */
    QRY_EXPR_DURATION, /* u.i: nanoseconds */
    QRY_EXPR_REGEX,    /* u.s: the pattern, '\/' already turned into '/' */
    QRY_EXPR_TIME,     /* u.i: ns since the epoch; a string compared with time */
    QRY_EXPR_PARAM,    /* u.s: bind parameter name, without the '$' */
    QRY_EXPR_LIST,     /* u.list: the parenthesised right side of IN */
} qry_expr_kind_t;

/* Operators, grouped by precedence (lowest first).  The unary ones are
 * QRY_OP_NEG, QRY_OP_NOT and the postfix QRY_OP_ISNULL / QRY_OP_ISNOTNULL.
 * QRY_OP_IN names SHOW TAG VALUES WITH KEY IN and, like NOTIN, LIKE and
 * NOTLIKE, a comparison in expressions (precedence 3).  NOT binds looser
 * than comparisons and tighter than AND, as in SQL: NOT a = 1 AND b is
 * (NOT (a = 1)) AND b.  The keywords NOT, LIKE, IS and NULL are contextual
 * (plain identifiers elsewhere), so InfluxQL names stay valid; the printer
 * quotes identifiers spelled like them. */
typedef enum qry_op {
    QRY_OP_NONE = 0,
    QRY_OP_OR,        /* precedence 1 */
    QRY_OP_AND,       /* 2 */
    QRY_OP_EQ,        /* 3: comparisons */
    QRY_OP_NEQ,       /*    (also written <>) */
    QRY_OP_LT,        /* */
    QRY_OP_LTE,       /* */
    QRY_OP_GT,        /* */
    QRY_OP_GTE,       /* */
    QRY_OP_EQREGEX,   /*    =~ */
    QRY_OP_NEQREGEX,  /*    !~ */
    QRY_OP_ADD,       /* 4 */
    QRY_OP_SUB,       /* */
    QRY_OP_BITOR,     /* */
    QRY_OP_BITXOR,    /* */
    QRY_OP_MUL,       /* 5 */
    QRY_OP_DIV,       /* */
    QRY_OP_MOD,       /* */
    QRY_OP_BITAND,    /* */
    QRY_OP_NEG,       /* unary minus */
    QRY_OP_IN,        /* WITH KEY IN (...); x IN (list) */
    QRY_OP_NOTIN,     /* x NOT IN (list) */
    QRY_OP_LIKE,      /* x LIKE pattern ('%' any run, '_' one character, '\\' escapes) */
    QRY_OP_NOTLIKE,   /* x NOT LIKE pattern */
    QRY_OP_NOT,       /* unary: NOT x */
    QRY_OP_ISNULL,    /* unary postfix: x IS NULL */
    QRY_OP_ISNOTNULL, /* unary postfix: x IS NOT NULL */
} qry_op_t;

/* The type named by a '::' cast on a variable or wildcard. */
typedef enum qry_vtype {
    QRY_VT_NONE = 0,
    QRY_VT_FLOAT,
    QRY_VT_INTEGER,
    QRY_VT_UNSIGNED,
    QRY_VT_STRING,
    QRY_VT_BOOLEAN,
    QRY_VT_FIELD,
    QRY_VT_TAG,
} qry_vtype_t;

typedef struct qry_expr qry_expr_t;
struct qry_expr {
    qry_expr_kind_t kind;
    uint32_t off;   /* byte offset of the node's first token in the source */
    uint32_t depth; /* 1 for leaves; parents are 1 + their deepest child */
    union {
        struct {
            qry_op_t op;
            qry_expr_t *lhs, *rhs;
        } bin;
        struct {
            qry_op_t op;
            qry_expr_t *operand;
        } unary;
        struct {
            const char *name;
            qry_expr_t **args;
            size_t nargs;
        } call;
        struct {
            const char *name;
            qry_vtype_t type;
        } var;
        struct {
            qry_vtype_t type;
        } wild;
        struct {
            qry_expr_t **items;
            size_t n; /* >= 1 */
        } list;
        int64_t i;
        double f;
        bool b;
        const char *s;
    } u;
};

/* ---------------------------------------------------------------- clauses */

typedef enum qry_src_kind {
    QRY_SRC_MEASUREMENT, /* name is the measurement */
    QRY_SRC_REGEX,       /* name is the pattern */
    QRY_SRC_SUBQUERY,    /* sub is the inner SELECT */
} qry_src_kind_t;

typedef struct qry_select qry_select_t;

/* One entry of FROM: [db.[rp].]name, [db.[rp].]/regex/ or (SELECT ...).
 * db and rp are NULL when not written; "" when written empty (db..m). */
typedef struct qry_source {
    qry_src_kind_t kind;
    const char *db;
    const char *rp;
    const char *name;
    qry_select_t *sub;
} qry_source_t;

typedef struct qry_field {
    qry_expr_t *expr;
    const char *alias; /* NULL without AS */
} qry_field_t;

typedef enum qry_dim_kind {
    QRY_DIM_TIME,     /* time(interval[, offset]) */
    QRY_DIM_TAG,      /* name */
    QRY_DIM_WILDCARD, /* * */
    QRY_DIM_REGEX,    /* name is the pattern */
} qry_dim_kind_t;

typedef struct qry_dim {
    qry_dim_kind_t kind;
    const char *name; /* TAG, REGEX; NULL otherwise */
    int64_t interval; /* TIME: ns, > 0 */
    int64_t offset;   /* TIME: ns, may be negative */
    bool has_offset;  /* TIME: the offset was written */
} qry_dim_t;

typedef enum qry_fill {
    QRY_FILL_DEFAULT = 0, /* no fill(): behaves as null */
    QRY_FILL_NULL,
    QRY_FILL_NONE,
    QRY_FILL_PREVIOUS,
    QRY_FILL_LINEAR,
    QRY_FILL_VALUE, /* fill_value is an INTEGER or NUMBER literal */
} qry_fill_t;

/* INTO [db.[rp].]name or [db.[rp].]:MEASUREMENT (backref: name is NULL). */
typedef struct qry_into {
    const char *db;
    const char *rp;
    const char *name;
    bool backref;
} qry_into_t;

struct qry_select {
    qry_field_t *fields;
    size_t nfields;
    qry_into_t *into; /* NULL without INTO */
    qry_source_t *sources;
    size_t nsources;
    qry_expr_t *cond; /* WHERE, NULL without; time strings are QRY_EXPR_TIME */
    qry_dim_t *dims;
    size_t ndims;
    const qry_dim_t *time_dim; /* the time() entry of dims, or NULL */
    qry_fill_t fill;
    qry_expr_t *fill_value; /* QRY_FILL_VALUE only */
    bool order_desc;        /* ORDER BY time DESC */
    int64_t limit, offset;  /* 0 = not given */
    int64_t slimit, soffset;
    const char *tz; /* tz('...') argument, NULL without */
};

/* ------------------------------------------------------------- statements */

typedef enum qry_show_kind {
    QRY_SHOW_DATABASES,
    QRY_SHOW_MEASUREMENTS,
    QRY_SHOW_TAG_KEYS,
    QRY_SHOW_TAG_VALUES,
    QRY_SHOW_FIELD_KEYS,
    QRY_SHOW_SERIES,
    QRY_SHOW_RETENTION_POLICIES,
    QRY_SHOW_QUERIES,
    QRY_SHOW_CONTINUOUS_QUERIES,
} qry_show_kind_t;

typedef struct qry_show {
    qry_show_kind_t kind;
    const char *db; /* ON db, NULL without */
    qry_source_t *sources;
    size_t nsources;
    /* SHOW MEASUREMENTS WITH MEASUREMENT: with_op is QRY_OP_EQ (a
     * measurement source) or QRY_OP_EQREGEX (a regex source); else NONE. */
    qry_op_t with_op;
    qry_source_t *with_meas;
    /* SHOW TAG VALUES WITH KEY: EQ / NEQ (keys[0]), EQREGEX / NEQREGEX
     * (keys[0] is the pattern) or IN (keys[0..nkeys)). */
    qry_op_t key_op;
    const char **keys;
    size_t nkeys;
    qry_expr_t *cond;
    int64_t limit, offset; /* 0 = not given */
    /* SHOW SERIES | MEASUREMENT | TAG KEY | TAG VALUES | FIELD KEY [EXACT]
     * CARDINALITY: counts instead of the lists; SERIES may GROUP BY tags */
    bool cardinality, exact;
    const char **group;
    size_t ngroup;
} qry_show_t;

/* What SHOW ... CARDINALITY names the kind: "SERIES", "MEASUREMENT",
 * "TAG KEY", "TAG VALUES", "FIELD KEY" ("" for the others). */
const char *qry_show_cardinality_of(qry_show_kind_t k);

/* Retention-policy options of CREATE DATABASE ... WITH and of
 * CREATE / ALTER RETENTION POLICY.  A duration of 0 means INF. */
typedef struct qry_rp_opts {
    bool has_duration, has_replication, has_shard, is_default;
    int64_t duration;       /* ns */
    int64_t replication;    /* >= 1 */
    int64_t shard_duration; /* ns */
    const char *name;       /* CREATE DATABASE ... NAME rp, else NULL */
} qry_rp_opts_t;

/* CREATE/DROP DATABASE, DROP MEASUREMENT, DROP SERIES, DELETE, KILL QUERY
 * and the retention-policy statements share this shape; unused members are
 * NULL / 0. */
typedef struct qry_ddl {
    const char *name; /* database, measurement or policy name */
    const char *db;   /* ON db of the retention-policy statements */
    qry_rp_opts_t rp;
    qry_source_t *sources; /* DROP SERIES / DELETE FROM */
    size_t nsources;
    qry_expr_t *cond; /* DROP SERIES / DELETE WHERE */
    int64_t qid;      /* KILL QUERY qid [ON name] */
    /* CREATE CONTINUOUS QUERY name ON db [RESAMPLE [EVERY d] [FOR d]]
     * BEGIN cq END: the SELECT (with INTO and GROUP BY time()); 0: not given */
    qry_select_t *cq;
    int64_t cq_every, cq_for;
} qry_ddl_t;

typedef enum qry_stmt_kind {
    QRY_STMT_SELECT,
    QRY_STMT_SHOW,
    QRY_STMT_CREATE_DATABASE,
    QRY_STMT_DROP_DATABASE,
    QRY_STMT_DROP_MEASUREMENT,
    QRY_STMT_DROP_SERIES,
    QRY_STMT_DELETE,
    QRY_STMT_CREATE_RP,
    QRY_STMT_ALTER_RP,
    QRY_STMT_DROP_RP,
    QRY_STMT_KILL_QUERY,
    QRY_STMT_CREATE_CQ,
    QRY_STMT_DROP_CQ,
} qry_stmt_kind_t;

typedef struct qry_stmt {
    qry_stmt_kind_t kind;
    uint32_t off; /* byte offset of the statement's first token */
    union {
        qry_select_t *select;
        qry_show_t *show;
        qry_ddl_t *ddl;
    } u;
} qry_stmt_t;

typedef struct qry__arena qry__arena_t;

/* A parsed query.  Owns every node below it through its arena. */
typedef struct qry_query {
    qry_stmt_t *stmts;
    size_t nstmts;
    qry_expr_t *expr; /* qry_parse_expr() only */
    qry__arena_t *arena;
} qry_query_t;

/* ------------------------------------------------------------------ errors */

/* Where and why parsing failed.  msg is InfluxDB's wording, e.g.
 * "error parsing query: found FROMM, expected FROM at line 1, char 10";
 * line and col are 1-based, col counts characters (not bytes). */
typedef struct qry_error {
    int code;     /* CN_EINVAL for syntax errors */
    uint32_t off; /* byte offset of the offending token */
    uint32_t line;
    uint32_t col;
    char msg[384];
} qry_error_t;

/* --------------------------------------------------------------------- api */

/*
 * Parses len bytes of src (no NUL needed) as ';'-separated statements.
 * On success *out (OWNED, release with qry_query_free) holds nstmts >= 0
 * statements and 0 is returned.  On a syntax error returns CN_EINVAL,
 * fills *err (may be NULL) and sets *out to NULL.  Inputs longer than
 * 16 MiB are rejected with CN_ELIMIT.
 */
int qry_parse(const char *src, size_t len, qry_query_t **out /* OUT */, qry_error_t *err);

/* Parses a single expression (the rules module's filters): the result's
 * expr holds it and nstmts is 0.  Errors as qry_parse. */
int qry_parse_expr(const char *src, size_t len, qry_query_t **out /* OUT */, qry_error_t *err);

/* Bound parameters ($name in the query text), as InfluxDB 1.8's /query
 * `params=` JSON object gives them.  An entry of kind QRY_PARAM_INVALID
 * carries its error text in s, reported only if the query uses it. */
typedef enum qry_param_kind {
    QRY_PARAM_INVALID = 0,
    QRY_PARAM_IDENT,    /* s: an identifier (measurement, field, tag) */
    QRY_PARAM_STRING,   /* s: a string literal (a time literal next to time) */
    QRY_PARAM_INTEGER,  /* i */
    QRY_PARAM_NUMBER,   /* f */
    QRY_PARAM_BOOL,     /* b */
    QRY_PARAM_REGEX,    /* s: the pattern */
    QRY_PARAM_DURATION, /* i: ns */
} qry_param_kind_t;

typedef struct qry_param {
    const char *name; /* without the '$' */
    qry_param_kind_t kind;
    const char *s;
    int64_t i;
    double f;
    bool b;
} qry_param_t;

/* A set of parameters read from JSON (query/params.c). */
typedef struct qry_params qry_params_t;

/*
 * Reads InfluxDB's params= object: {"name": value, ...} where a JSON
 * string is a string literal, a number with a '.' a float, other numbers
 * an integer, true/false a boolean, and a one-member object
 * {"identifier"|"string"|"integer"|"number"|"boolean"|"regex"|"duration":
 * v} names the type.  Returns 0 with *out (OWNED, qry_params_free), or
 * CN_EINVAL with msg (InfluxDB's wording, e.g. "error parsing query
 * parameters: ...") filled.
 */
int qry_params_json(const char *src, size_t len, qry_params_t **out /* OUT */, char *msg,
                    size_t msglen);
void qry_params_free(qry_params_t *ps); /* NULL is a no-op */

/* qry_parse with every $name bound from params (NULL: none given): a
 * parameter becomes the literal or identifier it names, so the tree holds
 * no QRY_EXPR_PARAM.  A $name params lacks fails with "error parsing
 * query: missing parameter: name" (no position, as InfluxDB). */
int qry_parse_bound(const char *src, size_t len, const qry_params_t *params,
                    qry_query_t **out /* OUT */, qry_error_t *err);

/* Frees the query and every node in it.  NULL is a no-op. */
void qry_query_free(qry_query_t *q);

/* Canonical InfluxQL text, appended to out (which stays NUL-terminated
 * just past len).  Statements are joined with "; ". */
/* Appends v with the fewest significant digits that read back to the same
 * double (plain decimal for exponents -5..16, %e form beyond), always with
 * a '.' or an exponent so that it lexes as a float again. */
void qry_put_float(cn_buf_t *b, double v);
/* Appends v in decimal (no snprintf). */
void qry_put_int(cn_buf_t *b, int64_t v);
void qry_print_query(const qry_query_t *q, cn_buf_t *out);

void qry_print_stmt(const qry_stmt_t *s, cn_buf_t *out);
void qry_print_select(const qry_select_t *s, cn_buf_t *out);
void qry_print_expr(const qry_expr_t *e, cn_buf_t *out);

/* "=", "AND", "-" ...; "" for QRY_OP_NONE. */
const char *qry_op_str(qry_op_t op);
/* "float", "tag" ...; "" for QRY_VT_NONE. */
const char *qry_vtype_str(qry_vtype_t t);

/* Literal helpers the planner and the HTTP layer share with the parser. */

/* Duration text ("1h30m", "10s", "-5m" is not accepted: no sign) to ns.
 * Returns 0 or CN_EINVAL (bad unit or syntax) / CN_ELIMIT (overflow). */
int qry_parse_duration(const char *s, size_t n, int64_t *ns /* OUT */);
/* ns to the canonical literal: the largest unit that divides it exactly
 * ("90m", "1w", "0s", "-15m").  Appends to out. */
void qry_format_duration(int64_t ns, cn_buf_t *out);
/* InfluxQL time literal: RFC 3339 with optional fraction and zone offset,
 * "YYYY-MM-DD HH:MM:SS[.f]" or "YYYY-MM-DD" (UTC).  Returns 0 or
 * CN_EINVAL (bad syntax or out of int64 ns range). */
int qry_parse_time(const char *s, size_t n, int64_t *ns /* OUT */);
/* ns since the epoch as RFC 3339 UTC, fraction trimmed; appends to out. */
void qry_format_time(int64_t ns, cn_buf_t *out);

#endif /* QRY_AST_H */
