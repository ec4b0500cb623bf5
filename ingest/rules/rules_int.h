/* SPDX-License-Identifier: MIT */
/*
 * rules_int.h - private to ingest/rules/: compiled rules and templates,
 * shared by the engine (rules.c), the dry run (dryrun.c), validation and
 * the JSON definitions (def.c).
 */
#ifndef MQ_RULES_INT_H
#define MQ_RULES_INT_H

#include "eval.h"
#include "rules.h"

#include <stdatomic.h>

#define MQ__TRY(x)                                                                                 \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_ < 0)                                                                               \
            return rc_;                                                                            \
    } while (0)

/* ---------------------------------------------------------------- templates */

enum { SEG_LIT, SEG_NAME };

typedef struct mq__seg {
    int kind;
    const char *s; /* LIT: the text; NAME: the name (NUL-terminated) */
    size_t len;
    int meta;      /* NAME: 1 + index of a message name (topic ...), else 0 */
    uint32_t slot; /* NAME: field/tag slot in the symbol table */
} mq__seg_t;

typedef struct mq__tmpl {
    mq__seg_t *segs;
    size_t n;
    char *text; /* owned copy the segments point into */
} mq__tmpl_t;

/* Checks template syntax: every "${" closes with "}" around a non-empty
 * name; "$$" is a literal '$'.  Returns 0 or CN_EINVAL with msg. */
int mq__tmpl_check(const char *text, char *msg, size_t msg_len);
/* Compiles text (NULL: an empty template) against st.  Aborts on OOM only;
 * text must have passed mq__tmpl_check. */
void mq__tmpl_compile(mq__tmpl_t *t, const char *text, qry_symtab_t *st);
void mq__tmpl_free(mq__tmpl_t *t);
/* Renders into out (appended) for the row bound to msg, after a passing
 * run (outputs first, then message names, then fields and tags). */
void mq__tmpl_render(const mq__tmpl_t *t, const qry_row_t *row, const qry_msg_t *msg,
                     cn_buf_t *out);

/* ------------------------------------------------------------ compiled rule */

typedef struct mq__stats {
    char id[MQ_RULE_ID_MAX + 1];
    atomic_int refs;
    atomic_uint_fast64_t matched, passed, failed, actions, action_errors;
} mq__stats_t;

typedef struct mq__cact {
    mq__tmpl_t body, key, topic;
    mq__tmpl_t *headers; /* [def->actions[i].nheaders] */
    bool has_body;
} mq__cact_t;

typedef struct mq__crule {
    mq_rule_def_t *def; /* owned copy */
    qry_rule_t *ast;
    qry_prog_t *prog;
    mq__cact_t *acts; /* [def->nactions] */
    mq__stats_t *stats;
} mq__crule_t;

/* Deep copy and free of definitions. */
mq_rule_def_t *mq__def_dup(const mq_rule_def_t *d);

/* Compiles def into cr against st (def is copied).  Returns 0 or
 * CN_EINVAL with *err (validation as mq_rule_validate). */
int mq__crule_build(mq__crule_t *cr, const mq_rule_def_t *def, qry_symtab_t *st,
                    mq_rules_err_t *err);
void mq__crule_free(mq__crule_t *cr);

/* The message view of one row: point p (NULL: none) of m. */
void mq__row_msg(const mq_rules_msg_t *m, const eng_point_t *p, qry_msg_t *out);

/* Rendered strings of one action (reused buffers). */
typedef struct mq__rendered {
    cn_buf_t body, key, topic, hdrs; /* hdrs: NUL-separated header values */
    const char **hv;                 /* header value pointers */
    size_t hv_cap;
} mq__rendered_t;

void mq__rendered_free(mq__rendered_t *r);
/* Renders action i of cr for the passing row into r and fills out. */
void mq__render_action(const mq__crule_t *cr, uint32_t i, const qry_row_t *row, const qry_msg_t *qm,
                       const cn_buf_t *json, mq__rendered_t *r, mq_rules_out_t *out);

#endif /* MQ_RULES_INT_H */
