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
    int meta;        /* NAME: 1 + index of a message name (topic ...), else 0 */
    uint32_t slot;   /* NAME: field/tag slot in the symbol table */
    int out;         /* NAME: index among the rule's outputs, -1: not an output,
                        -2: positions vary, look it up (qry_prog_output_index) */
    uint32_t tslot1; /* NAME: 1 + the slot whose value the name renders (a bare
                        field/tag output, or no output and no message name) */
} mq__seg_t;

typedef struct mq__tmpl {
    mq__seg_t *segs;
    size_t n;
    char *text;      /* owned copy the segments point into */
    bool lit;        /* no placeholder: the rendering is text (NUL-terminated) */
    size_t lit_len;  /* its length */
    uint32_t tslot1; /* one ${name} and nothing else, with segs[0].tslot1: the
                        rendering is the slot's text (qry_row_slot_text) */
} mq__tmpl_t;

/* Checks template syntax: every "${" closes with "}" around a non-empty
 * name; "$$" is a literal '$'.  Returns 0 or CN_EINVAL with msg. */
int mq__tmpl_check(const char *text, char *msg, size_t msg_len);
/* Compiles text (NULL: an empty template) against st and the outputs of
 * prog (the rule's program).  Aborts on OOM only; text must have passed
 * mq__tmpl_check. */
void mq__tmpl_compile(mq__tmpl_t *t, const char *text, qry_symtab_t *st, const qry_prog_t *prog);
void mq__tmpl_free(mq__tmpl_t *t);
/* Renders into out (appended) for the row bound to msg, after a passing
 * run (outputs first, then message names, then fields and tags). */
void mq__tmpl_render(const mq__tmpl_t *t, qry_row_t *row, const qry_msg_t *msg, cn_buf_t *out);

/* ------------------------------------------------------------ compiled rule */

/* Per-rule counters (rules.c NOTES 5): one shard per evaluating worker so
 * that counting on the ingest path is a plain add to a counter only that
 * worker writes; shard 0 is shared (atomic adds) by workers beyond the
 * first MQ__STAT_SHARDS - 1.  A metric is the sum over the shards.  The
 * counters live in slabs of MQ__STAT_CELLS rules (rules.c NOTES 5): a
 * rule has a cell, and counter k of shard s of the rule whose cell starts
 * at base is base[(s * MQ__C_N + k) * MQ__STAT_CELLS]. */
enum { MQ__C_MATCHED, MQ__C_PASSED, MQ__C_FAILED, MQ__C_ACTIONS, MQ__C_ACTION_ERRORS, MQ__C_N };
#define MQ__STAT_SHARDS 8
#define MQ__STAT_CELLS  256

typedef struct mq__stat_pool mq__stat_pool_t; /* rules.c */

typedef struct mq__stats {
    char id[MQ_RULE_ID_MAX + 1];
    atomic_int refs;
    mq__stat_pool_t *pool;      /* one reference: the slabs */
    uint32_t cell;
    atomic_uint_fast64_t *base; /* the cell's first counter in its slab */
} mq__stats_t;

typedef struct mq__cact {
    mq__tmpl_t body, key, topic;
    mq__tmpl_t *headers; /* [def->actions[i].nheaders] */
    bool has_body;
    /* packed fast path (rules.c dispatch): a Kafka action, or a webhook
     * without headers, with no body template, whose key (and topic) is
     * plain text or one bare name (t->lit or t->tslot1): rules.c
     * dispatch_quick renders them as mq__render_action would, the text or
     * the slot's text ("" when the row has none) */
    bool quick;
} mq__cact_t;

typedef struct mq__crule {
    mq_rule_def_t *def; /* owned copy */
    qry_rule_t *ast;
    qry_prog_t *prog;
    mq__cact_t *acts; /* [def->nactions] */
    mq__stats_t *stats;
    bool needs_json;     /* an action has no body template: its body is the outputs' JSON */
    bool json_republish; /* such an action is a republish (never packed) */
    bool quick;          /* every action is quick (mq__cact_t) */
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

/* Renders action i of cr for the passing row into r and fills out; json
 * (json_len bytes, NUL-terminated) is the outputs' JSON, or NULL when the
 * caller did not build it (allowed only when !cr->needs_json: out->json is
 * then NULL).  The strings are borrowed from r, row and cr until the next
 * render, run or bind. */
void mq__render_action(const mq__crule_t *cr, uint32_t i, qry_row_t *row, const qry_msg_t *qm,
                       const char *json, size_t json_len, mq__rendered_t *r, mq_rules_out_t *out);

/* Appends the outputs of the row's last passing run in the packed form
 * (packed.c) to out. */
void mq__pack_outputs(qry_row_t *row, cn_buf_t *out);

/* A packing plan: a rule whose outputs are all bare field/tag names packs
 * from the slots with its keys laid out once (packed.c); rules.c shares
 * one plan among the rules of equal plans, packed once per row. */
#define MQ__PLAN_MAX 16
typedef struct mq__plan {
    uint32_t n;                     /* outputs */
    uint32_t slot[MQ__PLAN_MAX];    /* the slot output i reads */
    uint32_t klen[MQ__PLAN_MAX];    /* key chunk i's bytes: the chunks follow each other */
    uint8_t *skel; /* the header (version, n), then per output: u32 key length, key bytes */
    size_t skel_len;
    size_t need; /* room a packing takes but for strings over 16 bytes (packed.c NOTES 1) */
} mq__plan_t;

/* Fills *pl for the rule (ast, prog) and returns true, or false when its
 * outputs are not all bare names (then *pl is empty). */
bool mq__plan_build(const qry_rule_t *ast, const qry_prog_t *prog, mq__plan_t *pl);
void mq__plan_free(mq__plan_t *pl);
bool mq__plan_eq(const mq__plan_t *a, const mq__plan_t *b);
/* Appends what mq__pack_outputs would after a passing run of a rule of
 * this plan on the bound row, whose view (qry_row_view) is rv. */
void mq__plan_pack(const mq__plan_t *pl, const qry_row_view_t *rv, cn_buf_t *out);

/* ----------------------------------------------------------- topic filters */

/* A valid, non-shared topic filter split into its levels, for matching
 * topic names without the router (rules.c NOTES 7).  Borrows the filter's
 * text. */
typedef struct mq__flevel {
    const char *p; /* a literal level's bytes */
    uint32_t len;
    uint8_t kind; /* MQ__FL_LIT, MQ__FL_PLUS, MQ__FL_HASH */
} mq__flevel_t;
enum { MQ__FL_LIT, MQ__FL_PLUS, MQ__FL_HASH };

typedef struct mq__filter {
    mq__flevel_t *lev; /* [n] */
    uint32_t n;
    /* one '+' level and no '#' (crule.c NOTES 1): the filter's text
     * before the '+' (with its '/') and after it (with its '/') */
    bool plus1;
    uint32_t pre_len, suf_len;
    const char *pre, *suf;
} mq__filter_t;

void mq__filter_compile(const char *f, size_t len, mq__filter_t *out /* OUT */);
void mq__filter_free(mq__filter_t *f);
/* Whether f matches topic name t (tl bytes, 1..65535): exactly what
 * mq_router_topic_matches says (test_rules checks it). */
bool mq__filter_matches(const mq__filter_t *f, const char *t, size_t tl);

#endif /* MQ_RULES_INT_H */
