/* SPDX-License-Identifier: MIT */
/*
 * eval_int.h - private to the rule evaluator (eval.c, eval_fn.c, json.c):
 * the row state functions see and the built-in function table.
 */
#ifndef QRY_EVAL_INT_H
#define QRY_EVAL_INT_H

#include "eval.h"
#include "parse_int.h"

#include <regex.h>

/* ------------------------------------------------------------- programs */

struct qry_symtab {
    char **names;
    size_t n, cap;
    uint32_t *tab;         /* open addressing: 0 empty, else id + 1 */
    size_t tcap;           /* power of two */
    struct qry_symtab *sigs; /* output signatures (eval.c NOTES 5), or NULL */
};

/* Texts rendered once per bind, entry i valid iff gen[i] is the row's
 * generation: buf.p[off[i], +len[i]), followed by a NUL. */
typedef struct qry__memo {
    uint32_t *gen, *off, *len; /* [n] */
    size_t n;
    cn_buf_t buf;
} qry__memo_t;

enum {
    OP_CONST,    /* a: constant */
    OP_SLOT,     /* a: slot */
    OP_TOPIC,    /* topic name */
    OP_CLIENTID, /* */
    OP_USERNAME, /* */
    OP_QOS,      /* */
    OP_TS,       /* */
    OP_PAYLOAD,  /* */
    OP_BIN,      /* aux: qry_op_t */
    OP_NEG,      /* */
    OP_NOT,      /* */
    OP_ISNULL,   /* aux: 1 for IS NOT NULL */
    OP_AND_JF,   /* a: target */
    OP_AND,      /* */
    OP_OR_JT,    /* a: target */
    OP_OR,       /* */
    OP_IN,       /* n: list length; aux: 1 for NOT IN */
    OP_REGEX,    /* a: regex; aux: 1 for !~ */
    OP_CALL,     /* a: function; n: argument count */
};

typedef struct ins {
    uint16_t op;
    uint16_t aux;
    uint32_t a;
    uint32_t n;
} ins_t;

typedef struct out_def {
    uint32_t start, end; /* code range */
    uint32_t slot1;      /* 1 + slot when the output is a bare name (one OP_SLOT), else 0 */
    const char *name;    /* NULL for '*' */
    const char *jkey;    /* "name": as JSON, for qry_row_json */
    uint32_t jkey_len;
} out_def_t;

struct qry_prog {
    const qry_symtab_t *st;
    ins_t *code;
    size_t ncode, code_cap;
    size_t where_end; /* 0: no WHERE */
    bool has_where;
    out_def_t *outs;
    size_t nouts;
    qry_val_t *consts;
    size_t nconsts, consts_cap;
    regex_t *res;
    size_t nres, res_cap;
    uint32_t max_stack;
    bool calls;          /* has OP_CALL: functions may use the row's scratch */
    bool distinct;       /* no '*' and no repeated output name: outputs append */
    /* The WHERE is one comparison of a name with a constant (eval.c NOTES
     * 5), kept as <slot> fw_op <fw_const> with the name on the left. */
    bool fw;
    qry_op_t fw_op;
    uint32_t fw_slot;
    qry_val_t fw_const;
    uint8_t fw_mask; /* bit c + 1: the verdict when compare() gives c (-1..2) */
    bool fw_kf;  /* fw_const is a number exactly equal to the double fw_f */
    double fw_f;
    /* 1 + the id of the output list among the table's signatures when the
     * outputs' JSON depends on the bound row alone (bare names, or '*'),
     * else 0 (eval.c NOTES 5) */
    uint32_t sig1;
    qry__arena_t *arena; /* names and string constants */
};

/* Longest string a function may build (CN_ELIMIT beyond). */
#define QRY__MAX_STR (16u << 20)

struct qry_row {
    const qry_symtab_t *st;
    const qry_msg_t *m;
    uint32_t gen;        /* bind generation: slot i is bound iff slot_gen[i] == gen */
    uint32_t *slot_gen;  /* [nslots] */
    uint32_t *ctag_gen;  /* [nslots] == gen: the slot holds a tag value, a C string (NOTES 7) */
    qry_val_t *slot_val; /* [nslots] */
    size_t nslots;
    /* per-bind texts (eval.c NOTES 5): slot values as JSON and as template
     * text, and the outputs' JSON per output signature */
    qry__memo_t sj, stx, jc;
    const qry_prog_t *last; /* program of the last passing run */
    const qry_prog_t *pend; /* its outputs are still to be filled in (NOTES 5) */
    /* the tag then field names of recent binds, in order, with their slots
     * (-1: none): a message of the same schema skips the hashing */
    struct qry__bname {
        uint32_t off, len; /* in bnames */
        int32_t slot;
    } *bn;
    size_t nbn, bn_cap;
    cn_buf_t bnames;
    /* the field names of the last per-name bind when they lay in one block
     * (eval.c NOTES 8): the block's bytes, NULs included, and each field's
     * slot (nslots, the spare slot: none); fb_n 0: no block remembered */
    cn_buf_t fb;
    int32_t *fb_slot; /* [fb_cap] */
    uint32_t fb_n;
    size_t fb_cap;
    cn_buf_t jtmp;          /* outputs' JSON without a signature */
    qry_val_t *stack;
    size_t stack_cap;
    qry_out_t *outs;
    size_t nouts, outs_cap;
    /* topic levels of the bound message, split on first use */
    uint32_t *lvl_off, *lvl_len;
    size_t nlvl, lvl_cap;
    bool lvl_done;
    /* json_field(payload, ...): the payload parsed once per bind */
    qry_jdoc_t *pdoc;
    const qry_json_t *proot;
    int prc;
    bool pdone;
    qry_jdoc_t *adoc;    /* json_field over other strings */
    qry_jdoc_t *scratch; /* strings built by functions, reset per run */
    const char *missing; /* first unbound name read by the WHERE */
    bool in_where;
    char err[192];
};

/* "error parsing query: " at the start of err->msg becomes `to`. */
void qry__error_rename(qry_error_t *err, const char *to);

/* Records an evaluation error message and returns code. */
int qry__eval_fail(qry_row_t *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* n bytes of per-run scratch (16-byte aligned). */
void *qry__scratch(qry_row_t *r, size_t n);
/* A string value copied into scratch. */
qry_val_t qry__str_copy(qry_row_t *r, const char *p, size_t n);
void qry__memo_init(qry__memo_t *m, size_t n);
void qry__memo_free(qry__memo_t *m);
/* Starts a bind (gen is the row's new generation; 1 after a wrap). */
static inline void qry__memo_bind(qry__memo_t *m, uint32_t gen)
{
    if (gen == 1) /* the generation wrapped (or the first bind) */
        memset(m->gen, 0, m->n * sizeof *m->gen);
    m->buf.len = 0;
}
/* Splits the topic into levels (once per bind). */
void qry__row_levels(qry_row_t *r);

/* Arena helpers of json.c, also used as the row's scratch allocator. */
void *qry__jdoc_alloc(qry_jdoc_t *d, size_t n);
void qry__jdoc_reset(qry_jdoc_t *d);

/* A built-in function: args[0..n) (NULLs already filtered when the entry
 * says null_in), result in *out.  Returns 0 or a negative code with the
 * message recorded through qry__eval_fail. */
typedef int (*qry__fn_t)(qry_row_t *r, const qry_val_t *args, uint32_t n, qry_val_t *out);

typedef struct qry__fn_def {
    const char *name;
    uint8_t min_args, max_args; /* max 255 = variadic */
    bool null_in;               /* any NULL argument makes the result NULL */
    qry__fn_t fn;
} qry__fn_def_t;

/* The function called name, or NULL; *idx its table index. */
const qry__fn_def_t *qry__fn_find(const char *name, uint32_t *idx /* OUT */);
const qry__fn_def_t *qry__fn_at(uint32_t idx);
/* Whether name is an InfluxQL aggregate or selector (rejected in rules). */
bool qry__fn_is_aggregate(const char *name);

/* x LIKE pattern (eval.h semantics). */
bool qry__like(const char *s, size_t n, const char *pat, size_t pn);

#endif /* QRY_EVAL_INT_H */
