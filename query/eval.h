/* SPDX-License-Identifier: MIT */
/*
 * eval.h - the rule language: rule statements, compiled row programs and
 * their evaluation over one message at a time.  The rules module in
 * ingest/rules/ builds on this; it is the query language's expression
 * grammar (ast.h) with SQL's NULL logic, so there is one expression
 * language, not two.
 *
 * A rule reads
 *
 *   SELECT <expr> [AS name] {, <expr> [AS name]} | *
 *     FROM "<topic filter>" {, "<topic filter>"}
 *     [WHERE <condition>]
 *
 * and is evaluated over a message view (qry_msg_t).  Names in expressions
 * resolve, in this order, to:
 *   topic            the topic name (string)        topic(n)  its n-th level,
 *   clientid         publisher's client id          1-based; NULL past the end
 *   username         publisher's user name (NULL when anonymous)
 *   qos              0, 1 or 2
 *   timestamp, time  the row's time, int64 ns since the epoch
 *   payload          the raw payload bytes as a string
 *   payload.x.y      the decoded field "x.y" (EMQX spelling)
 *   anything else    a decoded field of that name (flattened JSON: a.b.c),
 *                    else a tag of that name (device_id ...), else NULL.
 * Quote names that are not plain identifiers: "temp-c", "a.b".
 *
 * Values are NULL, boolean, int64, float64 or string.  Semantics:
 *  - NULL propagates through arithmetic, comparisons, LIKE and functions
 *    (except coalesce / is_null); AND, OR and NOT use SQL's three-valued
 *    logic (FALSE AND NULL is FALSE, TRUE OR NULL is TRUE).
 *  - int op int stays int64 (overflow is an error) except '/', which always
 *    yields float64 as in InfluxQL; int op float is float.  '%' on ints is
 *    the C remainder, on floats fmod.  Division or remainder by zero is an
 *    error.  & | ^ need ints (or two booleans).
 *  - Comparisons: numbers with numbers (int and float compare exactly),
 *    strings with strings (bytewise), booleans with booleans (= and != only);
 *    any other pair is a type error.  IN compares like =.  =~ and !~ take a
 *    regex literal (POSIX extended syntax).
 *  - LIKE: '%' matches any run of characters, '_' exactly one UTF-8
 *    character, a backslash makes the next pattern character literal
 *    ('50\%'); case-sensitive; both sides strings.
 *  - A WHERE that comes out NULL passes nothing and counts as an
 *    evaluation failure when a name in it was missing (CN_ENOTFOUND,
 *    "field 'x' missing"); a WHERE of NULL from explicit NULL logic, or
 *    FALSE, just does not pass.
 *  - SELECT outputs take their AS name, else a name's spelling, else the
 *    canonical text of the expression ("abs(x)").  '*' outputs every tag
 *    and then every field of the row.  A later output of an existing name
 *    replaces the earlier value in its place.
 * Functions are listed at the table in eval_fn.c and in README.md.
 *
 * Threads: a compiled program (qry_prog_t) and its symbol table are
 * immutable once compiled and may be shared by any number of threads; a
 * row (qry_row_t) is per thread.
 */
#ifndef QRY_EVAL_H
#define QRY_EVAL_H

#include "ast.h"
#include "engine.h"

/* ------------------------------------------------------------ rule text */

typedef struct qry_rule {
    qry_field_t *fields; /* '*' is a field whose expr is QRY_EXPR_WILDCARD */
    size_t nfields;
    const char **filters;  /* topic filters as written (unescaped) */
    uint32_t *filter_offs; /* byte offset of each filter's literal */
    size_t nfilters;       /* >= 1 */
    qry_expr_t *cond;      /* WHERE, NULL without; time strings as in SELECT */
    const char *src;       /* a copy of the text (for compile error positions) */
    size_t src_len;
    qry__arena_t *arena;
} qry_rule_t;

/* Parses one rule (len bytes of src; a trailing ';' is allowed).  On
 * success *out is OWNED (qry_rule_free) and 0 is returned; on a syntax
 * error CN_EINVAL with *err filled: "error parsing rule: found X, expected
 * FROM at line 1, char 12" and its position.  CN_ELIMIT beyond 16 MiB.
 * Topic filters are not validated here (ingest/rules does that with the
 * router's rules and reports filter_offs). */
int qry_rule_parse(const char *src, size_t len, qry_rule_t **out /* OUT */, qry_error_t *err);
void qry_rule_free(qry_rule_t *r); /* NULL is a no-op */
/* Canonical text: SELECT a, b AS c FROM "t/+" WHERE x > 1 (appended). */
void qry_print_rule(const qry_rule_t *r, cn_buf_t *out);

/* ---------------------------------------------------------------- values */

typedef enum qry_vkind {
    QRY_V_NULL = 0,
    QRY_V_BOOL,
    QRY_V_INT,
    QRY_V_FLOAT,
    QRY_V_STR,
} qry_vkind_t;

typedef struct qry_val {
    qry_vkind_t t;
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            const char *p; /* not NUL-terminated; may be NULL when len is 0 */
            size_t len;
        } s;
    } u;
} qry_val_t;

/* "null", "boolean", "integer", "float", "string". */
const char *qry_vkind_str(qry_vkind_t t);
/* The value as template text: strings raw, numbers as in JSON, booleans
 * true/false, NULL as nothing.  Appends to out. */
void qry_val_text(const qry_val_t *v, cn_buf_t *out);
/* The value as JSON (strings escaped, NaN/Inf as null).  Appends. */
void qry_val_json(const qry_val_t *v, cn_buf_t *out);
/* A JSON string literal for n bytes of s (invalid UTF-8 becomes U+FFFD). */
void qry_json_put_str(cn_buf_t *out, const char *s, size_t n);

/* ---------------------------------------------------------- message view */

/* One row to evaluate: a decoded point of a message plus the message's
 * metadata.  Everything is borrowed for the duration of a bind. */
typedef struct qry_msg {
    const char *topic; /* topic name, topic_len bytes */
    size_t topic_len;
    const char *clientid; /* NUL-terminated; NULL reads as NULL */
    const char *username; /* NUL-terminated; NULL reads as NULL */
    uint8_t qos;
    int64_t ts; /* ns since the epoch */
    const eng_tag_t *tags;
    uint32_t ntags;
    const eng_field_t *fields; /* decoded fields; none for undecoded payloads */
    uint32_t nfields;
    /* NULL, or strlen(fields[i].name) for each i; with them, names laid
     * out one after the other (as decoders do) bind as one block */
    const uint32_t *name_lens;
    const void *payload;
    size_t payload_len;
} qry_msg_t;

/* ------------------------------------------------------------- compiling */

/* The names (fields and tags) programs refer to, each with a slot number.
 * Programs compiled against one table share the per-message binding: a
 * row hashes each field name of a message once, whatever the number of
 * rules.  Not thread-safe while compiling; immutable afterwards. */
typedef struct qry_symtab qry_symtab_t;
int qry_symtab_new(qry_symtab_t **out /* OUT */);
void qry_symtab_free(qry_symtab_t *st); /* after every row and program using it */
size_t qry_symtab_count(const qry_symtab_t *st);
/* Adds a name (a field or tag other code reads through qry_row_slot, e.g.
 * a template placeholder) and returns its slot; an existing name keeps
 * its slot.  Compile time only. */
uint32_t qry_symtab_add(qry_symtab_t *st, const char *name);

typedef struct qry_prog qry_prog_t;

/*
 * Compiles a parsed rule (borrowed; the program keeps nothing of it) into
 * an evaluation program, adding its names to st.  Returns 0 and an OWNED
 * program, or CN_EINVAL with *err naming the position ("error in rule:
 * undefined function foo() at line 1, char 8"): unknown function,
 * wrong argument count, aggregate or InfluxQL-only constructs (bind
 * parameters, '::' casts, wildcards inside expressions, a regex outside
 * =~ / !~), a bad regex.
 */
int qry_prog_compile(const qry_rule_t *rule, qry_symtab_t *st, qry_prog_t **out /* OUT */,
                     qry_error_t *err);
void qry_prog_free(qry_prog_t *p); /* NULL is a no-op */
/* Whether the rule has a WHERE clause. */
bool qry_prog_has_where(const qry_prog_t *p);

/* ------------------------------------------------------------ evaluating */

typedef struct qry_row qry_row_t;

/* A per-thread evaluation context for programs compiled against st (which
 * must not change afterwards).  Returns 0 and an OWNED row. */
int qry_row_new(const qry_symtab_t *st, qry_row_t **out /* OUT */);
void qry_row_free(qry_row_t *r); /* NULL is a no-op */

/* Makes m the current row (borrowed until the next bind): resolves its
 * tags and fields to slots.  O(tags + fields), allocates nothing in the
 * steady state. */
void qry_row_bind(qry_row_t *r, const qry_msg_t *m);

/*
 * Runs p on the bound row: the WHERE, then (when it holds) the SELECT
 * list.  Returns 1 when the row passed (outputs available), 0 when the
 * WHERE was FALSE or NULL, or a negative code when evaluation failed
 * (message in qry_row_error): CN_ETYPE (type error), CN_EINVAL (division
 * by zero, bad function argument, malformed JSON for json_field),
 * CN_ELIMIT (integer overflow, string too long), CN_ENOTFOUND (the WHERE
 * was NULL because a field was missing).
 */
int qry_prog_run(const qry_prog_t *p, qry_row_t *r);

/* The fast path of many runs at once (eval.c NOTES 5), for callers that
 * evaluate a rule set per row: for each i, the program progs[idx[i]] on
 * the bound row gets verdict[i] =
 *   QRY_PRE_FAIL  its WHERE is FALSE: qry_prog_run would return 0;
 *   QRY_PRE_PASS  its WHERE holds and its outputs are bare names:
 *                 qry_prog_accept(p, r) does what qry_prog_run would do
 *                 (and it would return 1);
 *   QRY_PRE_RUN   anything else: call qry_prog_run.
 * Reads the row only. */
enum { QRY_PRE_FAIL = 0, QRY_PRE_PASS = 1, QRY_PRE_RUN = 2 };
void qry_prog_prefilter(const qry_prog_t *const *progs, const uint32_t *idx, size_t n,
                        const qry_row_t *r, uint8_t *verdict /* OUT: [n] */);
/* The same verdicts from a table built once for a rule set: the fast
 * WHEREs of progs[0..n) laid out side by side (24 bytes a program) so a
 * row is judged without visiting the programs (eval_run.c NOTES 1).  The
 * programs must outlive the table; immutable, so threads may share it. */
typedef struct qry_prefilter qry_prefilter_t;
int qry_prefilter_new(const qry_prog_t *const *progs, size_t n, qry_prefilter_t **out /* OUT */);
void qry_prefilter_free(qry_prefilter_t *pf);
/* verdict[i] for program idx[i] of pf, as qry_prog_prefilter gives. */
void qry_prefilter_run(const qry_prefilter_t *pf, const uint32_t *idx, size_t n,
                       const qry_row_t *r, uint8_t *verdict /* OUT: [n] */);
/* Makes p's run on r passed, for a verdict of QRY_PRE_PASS on the row as
 * bound now; returns 1 like the qry_prog_run it stands for. */
int qry_prog_accept(const qry_prog_t *p, qry_row_t *r);

/* One output of the last passing run. */
typedef struct qry_out {
    const char *name; /* NUL-terminated */
    qry_val_t v;
    const char *jkey; /* the name as a JSON key with its ':', or NULL */
    uint32_t jkey_len;
    uint32_t slot1; /* 1 + the slot when v is a bare field/tag read, else 0 */
} qry_out_t;

/* The outputs of the last run that returned 1.  Borrowed: names and
 * string values stay valid until the next run or bind on r. */
size_t qry_row_outputs(const qry_row_t *r, const qry_out_t **outs /* OUT */);
/* The output called name, or NULL. */
const qry_val_t *qry_row_get(const qry_row_t *r, const char *name, size_t len);
/* The outputs as one JSON object {"name":value,...}, appended to out.
 * The JSON text of a bare field or tag output is rendered once per bind
 * and reused by every program run on the row (hence r is not const). */
void qry_row_json(qry_row_t *r, cn_buf_t *out);
/* The same JSON, NUL-terminated, borrowed until the next run or bind on r:
 * programs whose outputs are bare names (or '*') share one rendering per
 * bind when their output lists are the same. */
void qry_row_json_view(qry_row_t *r, const char **p /* OUT */, size_t *n /* OUT */);
/* Where output `name` sits in the outputs of every passing run of p: its
 * index, -1 when p has no such output, -2 when positions vary (a '*' or a
 * repeated name; use qry_row_get).  With an index, *slot1 is 1 + the slot
 * the output reads when it is a bare field/tag name, else 0. */
int qry_prog_output_index(const qry_prog_t *p, const char *name, size_t len,
                          uint32_t *slot1 /* OUT */);
/* The bound row's value of slot as template text (qry_val_text), rendered
 * once per bind, NUL-terminated and borrowed until the next bind; false
 * when the row has none. */
bool qry_row_slot_text(qry_row_t *r, uint32_t slot, const char **p /* OUT */,
                       size_t *n /* OUT */);
/* The bound row's value of slot (a field, else a tag); false when the
 * row has none. */
bool qry_row_slot(const qry_row_t *r, uint32_t slot, qry_val_t *out /* OUT */);
/* Read access to the bound row's slots without a call per read, for code
 * that reads many per bind (the rules' packing): filled by qry_row_view,
 * valid until the row's next bind or its free. */
typedef struct qry_row_view {
    const qry_val_t *val;  /* [n] a slot's value, when bound */
    const uint32_t *bound; /* [n] slot i is bound iff bound[i] == gen */
    const uint32_t *tag;   /* [n] tag[i] == gen: slot i is bound to a tag's
                            * value, a NUL-terminated string, which is what
                            * qry_row_slot_text gives for it */
    uint32_t gen, n;
} qry_row_view_t;
void qry_row_view(const qry_row_t *r, qry_row_view_t *out /* OUT */);
/* Slot's value in view v as qry_row_slot reads it, or NULL when unbound. */
static inline const qry_val_t *qry_view_slot(const qry_row_view_t *v, uint32_t slot)
{
    return slot < v->n && v->bound[slot] == v->gen ? &v->val[slot] : NULL;
}
/* The last run's error message ("" after success). */
const char *qry_row_error(const qry_row_t *r);

/* ------------------------------------------------------------------ JSON */

/* A small JSON DOM (RFC 8259, UTF-8 checked, depth <= 64) for request
 * bodies, rule files and json_field().  A document owns every node and
 * string; parsing into a document again reuses its memory. */
typedef enum qry_jkind {
    QRY_J_NULL = 0,
    QRY_J_BOOL,
    QRY_J_NUM,
    QRY_J_STR,
    QRY_J_ARR,
    QRY_J_OBJ,
} qry_jkind_t;

typedef struct qry_json qry_json_t;
struct qry_json {
    qry_jkind_t kind;
    bool b;
    bool is_int; /* NUM written without fraction/exponent and within int64 */
    int64_t i;
    double f;
    const char *s; /* STR: unescaped, NUL-terminated (slen excludes it) */
    size_t slen;
    const char **keys; /* OBJ: member names, parallel to items */
    qry_json_t **items;
    size_t n;
    const char *raw; /* the value's bytes in the parsed input */
    size_t raw_len;
};

typedef struct qry_jdoc qry_jdoc_t;
int qry_jdoc_new(qry_jdoc_t **out /* OUT */);
void qry_jdoc_free(qry_jdoc_t *d); /* NULL is a no-op */
/* Parses n bytes into d (forgetting what it held); *root borrowed until
 * the next parse or free.  Returns 0, or CN_EPROTO with *err_off (may be
 * NULL) the byte offset of the error, CN_ELIMIT past the depth limit. */
int qry_jdoc_parse(qry_jdoc_t *d, const char *p, size_t n, const qry_json_t **root /* OUT */,
                   size_t *err_off /* OUT */);
/* Member of an object (last one of a repeated key), or NULL. */
const qry_json_t *qry_json_get(const qry_json_t *obj, const char *key);
/* Follows a path of '.'-separated keys and [n] indices ("a.b[2].c") from
 * v; NULL when any step is missing. */
const qry_json_t *qry_json_path(const qry_json_t *v, const char *path, size_t len);

#endif /* QRY_EVAL_H */
