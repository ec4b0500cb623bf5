/* SPDX-License-Identifier: MIT */
/*
 * plan.h - private to query/exec/: the compiled form of a SELECT over one
 * measurement (plan.c builds it, select.c runs it).
 *
 *   cx_t      an expression with its references resolved: scan column
 *             (a field read from the engine), tag (index into the
 *             measurement's tag keys), aggregate (index into aggs), time
 *   agg_t     one aggregate call over one scan column
 *   ocol_t    one output column: an expression, optionally wrapped in a
 *             transformation (derivative, difference, ...) applied over
 *             the rows of a group in time order
 */
#ifndef QRY_PLAN_H
#define QRY_PLAN_H

#include "exec_int.h"

enum cx_kind {
    CX_LIT,
    CX_COL,
    CX_TAG,
    CX_AGG,
    CX_TIME,
    CX_BIN,
    CX_NEG,
    CX_MATH,
    CX_REGEX,
    CX_OUT, /* a hidden output column's value after transformations (ocol_t.post) */
};

enum math_fn {
    M_ABS,
    M_CEIL,
    M_FLOOR,
    M_ROUND,
    M_SQRT,
    M_POW,
    M_LOG,
    M_LOG2,
    M_LOG10,
    M_LN,
    M_EXP,
    M_SIN,
    M_COS,
    M_TAN,
    M_ASIN,
    M_ACOS,
    M_ATAN,
    M_ATAN2,
    M_TO_INT,   /* x::integer of a float field (truncated, as Go converts) */
    M_TO_FLOAT, /* x::float of an integer field */
};

typedef struct cx cx_t;
struct cx {
    int k;
    int idx; /* CX_COL scan column, CX_TAG tag index, CX_AGG agg index, CX_MATH fn,
              * CX_OUT output column */
    qry_op_t op;
    qry_val_t lit;
    cx_t *a, *b;
    regex_t *re; /* CX_REGEX (rhs of =~ / !~) */
    bool absent_null; /* CX_TAG in the field list: a series without the tag
                       * answers null (in a condition it compares as '') */
};

enum agg_fn {
    A_COUNT, A_SUM, A_MEAN, A_MEDIAN, A_MODE, A_MIN, A_MAX, A_FIRST, A_LAST, A_SPREAD,
    A_STDDEV, A_PERCENTILE, A_DISTINCT, A_COUNT_DISTINCT, A_INTEGRAL,
    A_TOP, A_BOTTOM, A_SAMPLE, /* multi-point selectors (select.c) */
};

typedef struct agg {
    const qry_expr_t *call; /* as written (the statement's; borrowed) */
    int fn;
    int col;         /* scan column */
    eng_type_t type; /* of the column */
    double p;        /* percentile */
    int64_t unit;    /* integral unit, ns */
    bool collect;    /* keeps every value (median, mode, ...) */
    bool selector;   /* first, last, min, max, percentile */
    bool aux_sel;    /* its point feeds the plan's aux columns: no stats */
    bool trunc;      /* x::integer of a float field: values truncated, no stats */
    bool clip;       /* not under a transformation: reads the statement's own
                      * range only, not the window a transformation beside
                      * it reads before (after) the range (select.c NOTES 5) */
    bool tie_max;    /* first/last with GROUP BY time(): of points at the same
                      * time (other series) the greatest value wins, as in
                      * InfluxDB; otherwise the first series' */
    /* top / bottom / sample: up to nsel points per window (and, for
     * top/bottom with tag arguments, per distinct value of the by[] tags:
     * indexes into tagkeys, -1 for a key no series has) */
    int64_t nsel;
    int *by;
    size_t nby;
} agg_t;

enum tf_fn {
    TF_NONE,
    TF_DERIV,
    TF_NNDERIV,
    TF_DIFF,
    TF_NNDIFF,
    TF_MOVAVG,
    TF_CUMSUM,
    TF_ELAPSED,
    TF_EMA,  /* exponential_moving_average */
    TF_DEMA, /* double_exponential_moving_average */
    TF_TEMA, /* triple_exponential_moving_average */
    TF_RSI,  /* relative_strength_index */
    TF_CMO,  /* chande_momentum_oscillator */
    TF_KER,  /* kaufmans_efficiency_ratio */
    TF_TRIX  /* triple_exponential_derivative */
};

/* InfluxDB's technical analysis functions (select.c NOTES 4). */
#define TF_IS_TA(tf) ((tf) >= TF_EMA && (tf) <= TF_TRIX)

typedef struct ocol {
    const char *name;
    cx_t *e;
    int tf;
    int64_t unit; /* derivative / elapsed unit, ns */
    int64_t n;    /* moving_average window; a technical analysis function's period */
    int64_t hold; /* technical analysis: values read before the first answered */
    bool simple;  /* technical analysis: warm up with a plain mean */
    bool none;    /* chande_momentum_oscillator: no smoothing, a window of changes */
    bool field;   /* refers to a field (raw rows with only null fields are dropped) */
    bool aliased; /* named by AS: kept as given, even twice (InfluxDB) */
    /* A transformation inside an expression (derivative(mean(x)) * 8,
     * abs(difference(x))): each transformation call, and each operand
     * beside it that reads data (mean(y)), is a hidden column computed as
     * any other; the visible column (post) is evaluated over the hidden
     * columns' values (CX_OUT) once the transformations have run. */
    bool hidden; /* computed, not answered */
    bool quiet;  /* hidden under a transformation: keeps no row of its own */
    bool post;   /* evaluated after the transformations */
} ocol_t;

typedef struct plan {
    qry__rarena_t *ar; /* every node below */
    const char *meas;
    eng_field_info_t *fields; /* the measurement's fields (copy) */
    size_t nfields;
    const char **tagkeys; /* every tag key of the measurement's series, sorted */
    size_t ntagkeys;
    /* what a wildcard expands over: fields[] and tagkeys[], or for a
     * statement over several measurements its qry__wild_t (borrowed) */
    const eng_field_info_t *wfields;
    size_t nwfields;
    const char *const *wtagkeys;
    size_t nwtagkeys;
    /* scan columns: fields read from the engine */
    uint32_t *scan_fid;
    eng_type_t *scan_type;
    size_t nscan, scap;
    ocol_t *cols;
    size_t ncols, ccap;
    agg_t *aggs;
    size_t naggs, acap;
    bool aggregate;
    bool has_tf;
    bool has_post;    /* some column is post (then has_tf too) */
    bool distinct;    /* the one column is distinct(): many rows per bucket */
    bool point_time;  /* a lone selector: rows carry the selected point's time */
    bool multi;       /* top/bottom/sample: many rows per window, each at its
                       * point's time (select.c) */
    /* one selector next to plain fields / tags (SELECT max(x), y, tag):
     * those columns take their values at the selected point (aux_agg) */
    bool aux;
    int aux_agg;
    cx_t *rowcond;    /* condition on fields (and tags) per row, or NULL */
    cx_t *tagcond;    /* condition evaluated per series, or NULL */
    eng_tag_pred_t *preds; /* pushed to the tag index */
    size_t npreds;
    regex_t **res; /* every regex compiled for it (freed with it) */
    size_t nres, rescap;
    int *gkeys; /* group-by tag key indexes into tagkeys (-1: key absent) */
    const char **gnames;
    size_t ngkeys;
} plan_t;

/* Builds the plan of sel over measurement meas.  Returns 0, or a negative
 * code with msg set (InfluxDB's wording). */
int qry__plan(const qry_select_t *sel, eng_snap_t *snap, const char *meas, plan_t *p,
              char *msg, size_t msglen);
/* What a wildcard in the field list of a statement over several
 * measurements expands over (as InfluxDB expands it): the fields of all of
 * them, each once with InfluxDB's merged type (float over integer over
 * string over boolean), and their tag keys; both sorted by name. */
typedef struct qry__wild {
    eng_field_info_t *fields;
    size_t nfields;
    const char **tagkeys;
    size_t ntagkeys;
    char *names; /* the strings above point into it */
} qry__wild_t;
/* Fills w for sel over measurements ms (n of them) when n > 1; else leaves
 * w empty (zeroed). */
void qry__wild_build(const qry_select_t *sel, eng_snap_t *snap, const char *const *ms, size_t n,
                     qry__wild_t *w);
void qry__wild_free(qry__wild_t *w);
/* qry__plan for one of several measurements a statement reads: with w
 * (built, not empty) a wildcard expands over w, the fields meas lacks as
 * null columns. */
int qry__plan_among(const qry_select_t *sel, eng_snap_t *snap, const char *meas,
                    const qry__wild_t *w, plan_t *p, char *msg, size_t msglen);
void qry__plan_free(plan_t *p);
/* Only the fields, tag keys and WHERE split (SHOW, DELETE, DROP SERIES). */
int qry__plan_where(eng_snap_t *snap, const char *meas, const qry_expr_t *cond, plan_t *p,
                    char *msg, size_t msglen);
/* Is e a comparison of `time` with a value? */
bool qry__is_time_cond(const qry_expr_t *e);

/* Evaluation context of one row. */
typedef struct cx_env {
    const qry_val_t *cols;  /* scan column values of the row */
    const char *const *tags; /* tag values by tag index ("" when absent) */
    const qry_val_t *aggs;  /* aggregate values of the bucket */
    const qry_val_t *outs;  /* output column values of the row (CX_OUT) */
    int64_t time;
} cx_env_t;

/* The value of a tag a series lacks in cx_env_t.tags: "", told apart by
 * its address. */
extern const char qry__tag_absent[1];

qry_val_t qry__cx_eval(const cx_t *e, const cx_env_t *env);
/* Series-level truth of a condition with fields unknown: 0 false,
 * 1 true, 2 depends on the row. */
int qry__cx_tri(const cx_t *e, const char *const *tags);
bool qry__truthy(qry_val_t v);

#endif /* QRY_PLAN_H */
