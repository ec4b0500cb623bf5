/* SPDX-License-Identifier: MIT */
/*
 * select.c - runs a SELECT: time range, series selection and grouping,
 * the parallel scan (work units = a group's series in slices of up to
 * UNIT_SERIES, pulled by up to opts.threads threads), aggregation per
 * GROUP BY time bucket (block stats where possible), fill, expressions,
 * transformations, ORDER BY / LIMIT / OFFSET, and the result series.
 *
 * NOTES
 *  1. Float sums: every series adds its rows in time order into sf_cur
 *     (a whole block adds its stored block sum); at the end of the series
 *     sf_cur is added into sf.  Units merge in series order.  Since a
 *     unit's size follows from the group's series count alone (a
 *     sixteenth of it, 1 to UNIT_SERIES), the result does not depend on
 *     the thread count.
 *  2. Windows follow InfluxDB's IteratorOptions.Window: the zone offset at
 *     the instant is added before truncation, and the start is moved by
 *     the offset change when a DST switch falls inside the window.
 *  3. A lone selector without GROUP BY time reports its point's time;
 *     otherwise rows carry the window start (the range start, or 0 when
 *     the query has no lower bound, without GROUP BY time).
 *  4. InfluxDB 1.6.7's technical analysis functions, as it answers them
 *     (holt_winters and kaufmans_adaptive_moving_average are not here).
 *     exponential_moving_average(x, N[, hold[, warmup]]) as InfluxDB
 *     answers it (found by asking it; checked against it to 1e-9
 *     relative, most answers to the bit): the k-th value x moves the
 *     average by a(x - avg), a = 2 / (min(k, N) + 1), the first value
 *     being the average itself ('exponential' warmup); with 'simple' the
 *     first N averages are plain means and a is 2 / (N + 1) after them.
 *     The double form is 2 e1 - e2 and the triple 3 e1 - 3 e2 + e3, each
 *     e fed the one below; under 'simple' an average is fed only once the
 *     one below has N values, and until then the answer is e1 (then 3 e1 -
 *     2 e2 for the triple).  The first hold values read are not answered.
 *     relative_strength_index and chande_momentum_oscillator start from a
 *     previous value of 0 and smooth the ups and the downs: a = 2 / (k + 1)
 *     for the first N + 1 ('exponential') or their plain mean ('simple'),
 *     then a = 1 / N; RSI = 100 - 100 / (1 + up / down), CMO = (up - down)
 *     / (up + down) x 100, 0 / 0 a null.  CMO's default warmup 'none' sums
 *     the last N changes instead (from the first value; 0 / 0 is 0).
 *     kaufmans_efficiency_ratio is |x - x(t - N)| over the sum of the last
 *     N changes, values before the first counting as 0, 0 / 0 as 0.
 *     triple_exponential_derivative is (e3 / e3' - 1) x 100 of the triple
 *     stack of averages (under 'simple', e3 is the highest average fed so
 *     far); x / 0 gives no point, 0 / 0 a null.  Each form's order of
 *     operations is the one that gave InfluxDB's bits.
 *  5. A transformation of an aggregate reads one window before the range
 *     (after it, descending: tf_lookback), and its aggregate takes that
 *     window's rows and the whole windows at the range's ends.  An
 *     aggregate of a column of its own beside it (agg_t.clip) takes only
 *     the rows inside the statement's range, as InfluxDB computes each
 *     call over its own range: SELECT derivative(max(v)), max(v) WHERE
 *     time >= 35s ... GROUP BY time(20s) has no max for the 20s window
 *     when no point lies in [35s, 40s).
 */
#include "plan.h"

#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNIT_SERIES 64
#define UNIT_MIN    16

__extension__ typedef __int128 i128_t;

/* ------------------------------------------------------------ the state */

typedef struct vrec {
    int64_t ts;
    qry_val_t v;
} vrec_t;

typedef struct ast {
    int64_t n;
    double sf, sf_cur;
    int64_t si;
    i128_t s128;
    bool ovf;
    qry_val_t v1, v2; /* min/max/first/last; spread: v1 min, v2 max */
    int64_t t1;
    size_t si1; /* aux_sel: the series (r->series index) of the point v1/t1 */
    /* min()/max() with the point's time whose v1 came from the stats of
     * the pend-th block offered in this series' scan: t1 is found by a
     * second pass over just that block (resolve_pend); 0 otherwise */
    uint32_t pend;
    vrec_t *vals;
    uint32_t nv, cv;
    uint32_t *vsi; /* top/bottom/sample: the series (r->series index) of vals[i] */
} ast_t;

/* A series to scan. */
typedef struct sref {
    uint64_t sid;
    const char **tags; /* by plan tag index */
    const char *key;   /* group key */
} sref_t;

typedef struct group {
    const char **gvals; /* by group key */
    const char *key;
    size_t s0, ns; /* range in the sorted series array */
} group_t;

/* Raw rows of one unit. */
typedef struct rows {
    int64_t *ts;
    uint32_t *seq; /* series order, for a stable merge */
    qry_val_t *v;  /* n * ncols */
    size_t n, cap;
} rows_t;

typedef struct unit {
    size_t g;      /* group */
    size_t s0, ns; /* series slice */
    ast_t *st;     /* nb * naggs (aggregate) */
    rows_t rows;   /* raw */
    int64_t min_ts;
} unit_t;

typedef struct run {
    const qry_select_t *sel;
    const qry_exec_opts_t *o;
    plan_t *p;
    eng_snap_t *snap;
    int64_t tmin, tmax; /* [tmin, tmax) */
    int64_t out_min, out_max; /* rows outside [min, max) are not output (tf_lookback) */
    int64_t qmin, qmax;       /* the statement's own range, [tmin, tmax) before
                               * tf_lookback widened it (NOTES 5) */
    bool has_lower;
    int64_t interval, offset;
    const qry__tz_t *tz;
    int64_t *wins; /* window starts */
    size_t nb;
    sref_t *series;
    size_t nseries;
    group_t *groups;
    size_t ngroups;
    unit_t *units;
    size_t nunits;
    atomic_size_t next;
    atomic_int err;
    atomic_uint_least64_t points;
    bool lvc;       /* last() answered from the engine's last-value cache */
    uint64_t lvc_gen;
    bool stats_ok;  /* every aggregate can fold block stats */
    bool prune_ok;  /* min/max can skip blocks by stats */
    qry__rarena_t **arenas;
    char errmsg[256];
    pthread_mutex_t mu;
} run_t;

/* ------------------------------------------------------------- windows */

static int64_t clamp64(i128_t v)
{
    return v < INT64_MIN ? INT64_MIN : v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* win_start for times or offsets beyond +-2^62, where the int64 steps
 * below could overflow: the same in 128 bits, clamped to int64. */
static int64_t win_start_wide(const run_t *r, int64_t t0)
{
    i128_t I = r->interval;
    i128_t t = (i128_t)t0 - r->offset;
    i128_t zone = r->tz ? (i128_t)qry__tz_offset(r->tz, clamp64(t)) * 1000000000 : 0;
    i128_t dt = (t + zone) % I;
    if (dt < 0)
        dt += I;
    i128_t start = t - dt;
    if (r->tz) {
        i128_t o = zone - (i128_t)qry__tz_offset(r->tz, clamp64(start)) * 1000000000;
        if (o != 0 && (o < 0 ? -o : o) < I)
            start += o;
    }
    return clamp64(start + r->offset);
}

static int64_t win_start(const run_t *r, int64_t t)
{
    int64_t I = r->interval;
    if (I <= 0)
        return r->has_lower ? r->tmin : 0;
    const int64_t lim = INT64_C(1) << 62;
    if (t < -lim || t > lim || r->offset < -lim || r->offset > lim)
        return win_start_wide(r, t);
    t -= r->offset;
    int64_t zone = r->tz ? (int64_t)qry__tz_offset(r->tz, t) * 1000000000 : 0;
    /* t + zone may leave int64 only with a zone (a call of __modti3 else) */
    int64_t dt = zone ? (int64_t)(((i128_t)t + zone) % I) : t % I;
    if (dt < 0)
        dt += I;
    int64_t start = t - dt;
    if (r->tz) {
        int64_t so = (int64_t)qry__tz_offset(r->tz, start) * 1000000000;
        int64_t o = zone - so;
        if (o != 0 && (o < 0 ? -o : o) < I)
            start += o;
    }
    return start + r->offset;
}

/* ------------------------------------------------------------- helpers */

/* a - b as Go's int64 subtraction gives it (wrapping, never undefined),
 * as a double */
static double wrap_diff(int64_t a, int64_t b)
{
    return (double)(int64_t)((uint64_t)a - (uint64_t)b);
}

/* A double as Go's int64() converts it on x86-64: out of range (or NaN),
 * the minimum. */
static int64_t go_int64(double f)
{
    return f >= -9223372036854775808.0 && f < 9223372036854775808.0 ? (int64_t)f : INT64_MIN;
}

/* Does expression x read a field column that has a value in rowv? */
static bool reads_value(const cx_t *x, const qry_val_t *rowv)
{
    if (!x)
        return false;
    if (x->k == CX_COL)
        return rowv[x->idx].t != QRY_NULL;
    return reads_value(x->a, rowv) || reads_value(x->b, rowv);
}

static void run_fail(run_t *r, int code, const char *msg)
{
    pthread_mutex_lock(&r->mu);
    int z = 0;
    if (atomic_compare_exchange_strong(&r->err, &z, code) && msg)
        snprintf(r->errmsg, sizeof r->errmsg, "%s", msg);
    pthread_mutex_unlock(&r->mu);
}

int qry__stopped(const qry_exec_opts_t *o, const char **why)
{
    *why = NULL;
    if (o->cancel && atomic_load(o->cancel)) {
        *why = "query cancelled";
        return CN_ECLOSED;
    }
    if (o->kill && atomic_load(o->kill)) {
        *why = "query interrupted";
        return CN_ELIMIT;
    }
    if (o->deadline && cn_mono_ns() > o->deadline) {
        *why = "query-timeout limit exceeded";
        return CN_ELIMIT;
    }
    return 0;
}

static bool check_abort(run_t *r)
{
    if (atomic_load(&r->err))
        return true;
    const char *why;
    int rc = qry__stopped(r->o, &why);
    if (rc)
        run_fail(r, rc, why);
    return rc != 0;
}

static bool add_points(run_t *r, uint64_t n)
{
    uint64_t tot = atomic_fetch_add(&r->points, n) + n;
    if (r->o->max_points && tot > r->o->max_points) {
        char m[128];
        snprintf(m, sizeof m, "max-select-point limit exceeed: (%llu/%llu)",
                 (unsigned long long)tot, (unsigned long long)r->o->max_points);
        run_fail(r, CN_ELIMIT, m);
        return false;
    }
    return true;
}

static qry_val_t getv(eng_type_t t, const void *col, uint32_t i)
{
    switch (t) {
    case ENG_T_FLOAT: return qry__vf(((const double *)col)[i]);
    case ENG_T_INT: return qry__vi(((const int64_t *)col)[i]);
    case ENG_T_BOOL: return qry__vb(((const uint8_t *)col)[i] != 0);
    case ENG_T_STRING: {
        const eng_str_t *s = &((const eng_str_t *)col)[i];
        return qry__vs(s->p, s->len);
    }
    default: return qry__vnull();
    }
}

static qry_val_t own(qry__rarena_t *ar, qry_val_t v)
{
    if (v.t == QRY_STR)
        v.u.s.p = qry__rstrndup(ar, v.u.s.p, v.u.s.len);
    return v;
}

static void push_val(ast_t *s, int64_t ts, qry_val_t v)
{
    if (s->nv == s->cv) {
        s->cv = s->cv ? 2 * s->cv : 16;
        s->vals = cn_realloc(s->vals, s->cv * sizeof *s->vals);
    }
    s->vals[s->nv].ts = ts;
    s->vals[s->nv++].v = v;
}

/* --------------------------------------------------------- accumulation */

/* Folds rows [i0, i1) of one batch column into s. */
/* x::integer of a float field (agg_t.trunc): rows [i0, i1) of the
 * aggregate's column truncated, as a one-column batch for a copy of the
 * aggregate that reads integers (v: free it after). */
typedef struct {
    agg_t a;
    eng_batch_t b;
    const void *vals[1];
    const uint8_t *valid[1];
    int64_t *v;
} trunc_t;

static void trunc_batch(trunc_t *t, const agg_t *a, const eng_batch_t *b, uint32_t i0, uint32_t i1)
{
    const double *f = b->vals[a->col];
    const uint8_t *ok = b->valid[a->col];
    t->v = cn_malloc((i1 + 1) * sizeof *t->v);
    for (uint32_t i = i0; i < i1; i++)
        t->v[i] = ok[i] ? qry__f64_to_i64(f[i]) : 0;
    t->vals[0] = t->v;
    t->valid[0] = ok;
    t->b = (eng_batch_t){.n = b->n, .ts = b->ts, .vals = t->vals, .valid = t->valid};
    t->a = *a;
    t->a.col = 0;
    t->a.trunc = false;
}

static void acc(const agg_t *a, ast_t *s, const eng_batch_t *b, const uint8_t *mask, uint32_t i0,
                uint32_t i1, qry__rarena_t *ar)
{
    if (a->col < 0)
        return;
    if (a->trunc) {
        trunc_t t;
        trunc_batch(&t, a, b, i0, i1);
        acc(&t.a, s, &t.b, mask, i0, i1, ar);
        cn_free(t.v);
        return;
    }
    const void *col = b->vals[a->col];
    const uint8_t *ok = b->valid[a->col];
    const int64_t *ts = b->ts;
    eng_type_t t = a->type;
    switch (a->fn) {
    case A_COUNT:
        for (uint32_t i = i0; i < i1; i++)
            s->n += ok[i] && (!mask || mask[i]);
        return;
    case A_SUM:
    case A_MEAN:
        if (t == ENG_T_FLOAT) {
            const double *v = col;
            double acc_ = s->sf_cur;
            int64_t n = 0;
            for (uint32_t i = i0; i < i1; i++)
                if (ok[i] && (!mask || mask[i])) {
                    acc_ += v[i];
                    n++;
                }
            s->sf_cur = acc_;
            s->n += n;
        } else if (t == ENG_T_INT) {
            /* in locals: stores through s could alias v and would keep
             * the sums in memory */
            const int64_t *v = col;
            int64_t si = s->si, n = 0;
            i128_t s128 = s->s128;
            bool ovf = s->ovf;
            for (uint32_t i = i0; i < i1; i++)
                if (ok[i] && (!mask || mask[i])) {
                    ovf |= __builtin_add_overflow(si, v[i], &si);
                    s128 += v[i];
                    n++;
                }
            s->si = si;
            s->s128 = s128;
            s->ovf = ovf;
            s->n += n;
        }
        return;
    case A_MIN:
    case A_MAX:
    case A_SPREAD:
        if (t == ENG_T_FLOAT) {
            const double *v = col;
            for (uint32_t i = i0; i < i1; i++) {
                if (!ok[i] || (mask && !mask[i]))
                    continue;
                double x = v[i];
                if (a->fn != A_MAX) {
                    if (!s->n || x < s->v1.u.f) {
                        s->v1 = qry__vf(x);
                        s->t1 = ts[i];
                        s->pend = 0;
                    }
                }
                if (a->fn == A_MAX) {
                    if (!s->n || x > s->v1.u.f) {
                        s->v1 = qry__vf(x);
                        s->t1 = ts[i];
                        s->pend = 0;
                    }
                } else if (a->fn == A_SPREAD && (!s->n || x > s->v2.u.f)) {
                    s->v2 = qry__vf(x);
                }
                s->n++;
            }
        } else if (t == ENG_T_INT) {
            const int64_t *v = col;
            for (uint32_t i = i0; i < i1; i++) {
                if (!ok[i] || (mask && !mask[i]))
                    continue;
                int64_t x = v[i];
                if (a->fn != A_MAX && (!s->n || x < s->v1.u.i)) {
                    s->v1 = qry__vi(x);
                    s->t1 = ts[i];
                    s->pend = 0;
                }
                if (a->fn == A_MAX) {
                    if (!s->n || x > s->v1.u.i) {
                        s->v1 = qry__vi(x);
                        s->t1 = ts[i];
                        s->pend = 0;
                    }
                } else if (a->fn == A_SPREAD && (!s->n || x > s->v2.u.i)) {
                    s->v2 = qry__vi(x);
                }
                s->n++;
            }
        } else if (t == ENG_T_BOOL && a->fn != A_SPREAD) {
            for (uint32_t i = i0; i < i1; i++) {
                if (!ok[i] || (mask && !mask[i]))
                    continue;
                qry_val_t x = getv(t, col, i);
                int c = s->n ? qry__vcmp(&x, &s->v1) : 0;
                if (!s->n || (a->fn == A_MIN ? c < 0 : c > 0)) {
                    s->v1 = x;
                    s->t1 = ts[i];
                    s->pend = 0;
                }
                s->n++;
            }
        }
        return;
    case A_FIRST: {
        for (uint32_t i = i0; i < i1; i++) {
            if (!ok[i] || (mask && !mask[i]))
                continue;
            qry_val_t x = getv(t, col, i);
            if (!s->n || ts[i] < s->t1 ||
                (a->tie_max && ts[i] == s->t1 && qry__vcmp(&x, &s->v1) > 0)) {
                s->v1 = own(ar, x);
                s->t1 = ts[i];
            }
            s->n++;
            break;
        }
        return;
    }
    case A_LAST: {
        for (uint32_t i = i1; i-- > i0;) {
            if (!ok[i] || (mask && !mask[i]))
                continue;
            qry_val_t x = getv(t, col, i);
            if (!s->n || ts[i] > s->t1 ||
                (a->tie_max && ts[i] == s->t1 && qry__vcmp(&x, &s->v1) > 0)) {
                s->v1 = own(ar, x);
                s->t1 = ts[i];
            }
            s->n++;
            break;
        }
        return;
    }
    default: /* collecting aggregates */
        if ((a->fn == A_MEDIAN || a->fn == A_STDDEV || a->fn == A_PERCENTILE ||
             a->fn == A_INTEGRAL) &&
            t != ENG_T_FLOAT && t != ENG_T_INT)
            return;
        for (uint32_t i = i0; i < i1; i++) {
            if (!ok[i] || (mask && !mask[i]))
                continue;
            push_val(s, ts[i], own(ar, getv(t, col, i)));
            s->n++;
        }
        return;
    }
}

/* Is a an unmasked float sum/mean for acc_fsum4? */
static bool is_fsum(const agg_t *a)
{
    return (a->fn == A_SUM || a->fn == A_MEAN) && a->type == ENG_T_FLOAT && a->col >= 0 &&
           !a->aux_sel;
}

/* acc() of four float sum/mean aggregates (is_fsum) over rows [i0, i1)
 * without a mask, in one pass: the four chains of additions overlap, and
 * each still adds its rows in time order (the same bits as acc()). */
static void acc_fsum4(const agg_t *const *a, ast_t *const *s, const eng_batch_t *b, uint32_t i0,
                      uint32_t i1)
{
    const double *v0 = b->vals[a[0]->col], *v1 = b->vals[a[1]->col];
    const double *v2 = b->vals[a[2]->col], *v3 = b->vals[a[3]->col];
    const uint8_t *k0 = b->valid[a[0]->col], *k1 = b->valid[a[1]->col];
    const uint8_t *k2 = b->valid[a[2]->col], *k3 = b->valid[a[3]->col];
    double x0 = s[0]->sf_cur, x1 = s[1]->sf_cur, x2 = s[2]->sf_cur, x3 = s[3]->sf_cur;
    int64_t n0 = 0, n1 = 0, n2 = 0, n3 = 0;
    for (uint32_t i = i0; i < i1; i++) {
        if (k0[i]) {
            x0 += v0[i];
            n0++;
        }
        if (k1[i]) {
            x1 += v1[i];
            n1++;
        }
        if (k2[i]) {
            x2 += v2[i];
            n2++;
        }
        if (k3[i]) {
            x3 += v3[i];
            n3++;
        }
    }
    s[0]->sf_cur = x0, s[1]->sf_cur = x1, s[2]->sf_cur = x2, s[3]->sf_cur = x3;
    s[0]->n += n0, s[1]->n += n1, s[2]->n += n2, s[3]->n += n3;
}

/* Folds a whole block's stats (column c of stats) into s.  Only called
 * for the aggregates stats_ok admits. */
static void acc_stats(const agg_t *a, ast_t *s, const eng_stat_t *st)
{
    if (!st->count)
        return;
    eng_type_t t = a->type;
    switch (a->fn) {
    case A_COUNT: s->n += st->count; return;
    case A_SUM:
    case A_MEAN:
        if (t == ENG_T_FLOAT)
            s->sf_cur += st->sum_f;
        else {
            if (st->sum_overflow || __builtin_add_overflow(s->si, st->sum_i, &s->si))
                s->ovf = true;
            s->s128 += st->sum_i; /* exact: a block whose sum wrapped is decoded */
        }
        s->n += st->count;
        return;
    case A_MIN:
    case A_SPREAD:
        if (t == ENG_T_FLOAT) {
            if (!s->n || st->min.f < s->v1.u.f) {
                s->v1 = qry__vf(st->min.f);
                s->t1 = st->tmin; /* not used: stats path only without point time */
            }
            if (a->fn == A_SPREAD && (!s->n || st->max.f > s->v2.u.f))
                s->v2 = qry__vf(st->max.f);
        } else {
            if (!s->n || st->min.i < s->v1.u.i)
                s->v1 = qry__vi(st->min.i);
            if (a->fn == A_SPREAD && (!s->n || st->max.i > s->v2.u.i))
                s->v2 = qry__vi(st->max.i);
        }
        s->n += st->count;
        return;
    case A_MAX:
        if (t == ENG_T_FLOAT) {
            if (!s->n || st->max.f > s->v1.u.f)
                s->v1 = qry__vf(st->max.f);
        } else if (!s->n || st->max.i > s->v1.u.i) {
            s->v1 = qry__vi(st->max.i);
        }
        s->n += st->count;
        return;
    case A_FIRST: {
        qry_val_t x = t == ENG_T_FLOAT  ? qry__vf(st->first.f)
                      : t == ENG_T_BOOL ? qry__vb(st->first.b != 0)
                                        : qry__vi(st->first.i);
        if (!s->n || st->first_ts < s->t1 ||
            (a->tie_max && st->first_ts == s->t1 && qry__vcmp(&x, &s->v1) > 0)) {
            s->v1 = x;
            s->t1 = st->first_ts;
        }
        s->n += st->count;
        return;
    }
    case A_LAST: {
        qry_val_t x = t == ENG_T_FLOAT  ? qry__vf(st->last.f)
                      : t == ENG_T_BOOL ? qry__vb(st->last.b != 0)
                                        : qry__vi(st->last.i);
        if (!s->n || st->last_ts > s->t1 ||
            (a->tie_max && st->last_ts == s->t1 && qry__vcmp(&x, &s->v1) > 0)) {
            s->v1 = x;
            s->t1 = st->last_ts;
        }
        s->n += st->count;
        return;
    }
    default: return;
    }
}

static bool agg_stats_ok(const agg_t *a, bool point_time)
{
    if (a->col < 0)
        return true;
    if (a->aux_sel || a->trunc) /* every point is seen (the point's row is
                                 * read back; its value is converted) */
        return false;
    switch (a->fn) {
    case A_COUNT: return true;
    case A_SUM:
    case A_MEAN:
    case A_SPREAD: return a->type == ENG_T_FLOAT || a->type == ENG_T_INT;
    case A_MIN:
    case A_MAX: return !point_time && (a->type == ENG_T_FLOAT || a->type == ENG_T_INT);
    case A_FIRST:
    case A_LAST: return a->type != ENG_T_STRING;
    default: return false;
    }
}

/* Does the aggregate come out the same whatever order the rows come in?
 * Counts, and the integer sums, means and extremes without their point's
 * time (exact: a float sum's last bits, and a NaN's place among floats,
 * follow the order). */
static bool order_free(const agg_t *a, bool point_time)
{
    if (a->col < 0)
        return true;
    if (!agg_stats_ok(a, point_time))
        return false;
    switch (a->fn) {
    case A_COUNT:
        return true;
    case A_SUM:
    case A_MEAN:
    case A_MIN:
    case A_MAX:
    case A_SPREAD:
        return a->type == ENG_T_INT;
    default:
        return false;
    }
}

/* Can a block with these stats change s?  (min/max with point time) */
static bool stats_may_change(const agg_t *a, const ast_t *s, const eng_stat_t *st)
{
    if (!st->count)
        return false;
    if (!s->n)
        return true;
    if (a->type == ENG_T_FLOAT)
        return a->fn == A_MAX ? st->max.f > s->v1.u.f : st->min.f < s->v1.u.f;
    return a->fn == A_MAX ? st->max.i > s->v1.u.i : st->min.i < s->v1.u.i;
}

static void merge_multi(const agg_t *a, ast_t *d, ast_t *s);

static void merge_state(const agg_t *a, ast_t *d, ast_t *s)
{
    if (!s->n)
        goto out;
    if (!d->n) {
        ast_t keep = *d;
        *d = *s;
        d->vals = NULL;
        d->nv = d->cv = 0;
        if (s->nv) {
            d->vals = s->vals;
            d->nv = s->nv;
            d->cv = s->cv;
            s->vals = NULL;
            s->nv = s->cv = 0;
        }
        s->vsi = NULL; /* moved to d with the rest */
        (void)keep;
        return;
    }
    switch (a->fn) {
    case A_SUM:
    case A_MEAN:
        d->sf += s->sf;
        if (__builtin_add_overflow(d->si, s->si, &d->si) || s->ovf)
            d->ovf = true;
        d->s128 += s->s128;
        break;
    case A_MIN:
    case A_MAX:
    case A_SPREAD: {
        int c = qry__vcmp(&s->v1, &d->v1);
        if (a->fn == A_MAX ? (c > 0 || (c == 0 && s->t1 < d->t1))
                           : (c < 0 || (c == 0 && s->t1 < d->t1))) {
            d->v1 = s->v1;
            d->t1 = s->t1;
            d->si1 = s->si1;
        }
        if (a->fn == A_SPREAD && qry__vcmp(&s->v2, &d->v2) > 0)
            d->v2 = s->v2;
        break;
    }
    case A_FIRST:
        if (s->t1 < d->t1 || (a->tie_max && s->t1 == d->t1 && qry__vcmp(&s->v1, &d->v1) > 0)) {
            d->v1 = s->v1;
            d->t1 = s->t1;
            d->si1 = s->si1;
        }
        break;
    case A_LAST:
        if (s->t1 > d->t1 || (a->tie_max && s->t1 == d->t1 && qry__vcmp(&s->v1, &d->v1) > 0)) {
            d->v1 = s->v1;
            d->t1 = s->t1;
            d->si1 = s->si1;
        }
        break;
    case A_TOP:
    case A_BOTTOM:
    case A_SAMPLE:
        merge_multi(a, d, s);
        break;
    default:
        for (uint32_t i = 0; i < s->nv; i++)
            push_val(d, s->vals[i].ts, s->vals[i].v);
        break;
    }
    d->n += s->n;
out:
    cn_free(s->vals);
    cn_free(s->vsi);
    s->vals = NULL;
    s->vsi = NULL;
    s->nv = s->cv = 0;
}

/* ------------------------------------------------------------ finishing */

static int vrec_cmp_val(const void *x, const void *y)
{
    const vrec_t *a = x, *b = y;
    int c = qry__vcmp(&a->v, &b->v);
    if (c)
        return c;
    return a->ts < b->ts ? -1 : a->ts > b->ts;
}

static int vrec_cmp_ts_val(const void *x, const void *y)
{
    const vrec_t *a = x, *b = y;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return qry__vcmp(&a->v, &b->v);
}

static int vrec_cmp_ts(const void *x, const void *y)
{
    const vrec_t *a = x, *b = y;
    return a->ts < b->ts ? -1 : a->ts > b->ts;
}

static double vnum(const qry_val_t *v)
{
    return v->t == QRY_FLOAT ? v->u.f : (double)v->u.i;
}

/* The value of a finished state; *pt gets the selected point's time. */
static qry_val_t finish(run_t *r, const agg_t *a, ast_t *s, int64_t *pt)
{
    *pt = INT64_MIN;
    if ((a->fn == A_COUNT || a->fn == A_COUNT_DISTINCT) && a->col < 0)
        return qry__vnull(); /* a field this measurement lacks: no count (InfluxDB) */
    if (a->fn == A_COUNT)
        return qry__vi(s->n);
    if (a->fn == A_COUNT_DISTINCT) {
        if (!s->nv)
            return qry__vi(0);
        qsort(s->vals, s->nv, sizeof *s->vals, vrec_cmp_val);
        int64_t k = 1;
        for (uint32_t i = 1; i < s->nv; i++)
            k += qry__vcmp(&s->vals[i].v, &s->vals[i - 1].v) != 0;
        return qry__vi(k);
    }
    if (!s->n)
        return qry__vnull();
    switch (a->fn) {
    case A_SUM:
        if (a->type == ENG_T_FLOAT)
            return qry__vf(s->sf);
        /* s128 is exact (blocks whose stored sum wrapped are decoded), so
         * only a total outside int64 is an error, whatever the order */
        if (s->s128 > INT64_MAX || s->s128 < INT64_MIN) {
            run_fail(r, CN_ELIMIT, "integer overflow in sum()");
            return qry__vnull();
        }
        return qry__vi((int64_t)s->s128);
    case A_MEAN:
        if (a->type == ENG_T_FLOAT)
            return qry__vf(s->sf / (double)s->n);
        return qry__vf((double)s->s128 / (double)s->n);
    case A_MIN:
    case A_MAX:
    case A_FIRST:
    case A_LAST: *pt = s->t1; return s->v1;
    case A_SPREAD:
        if (a->type == ENG_T_FLOAT)
            return qry__vf(s->v2.u.f - s->v1.u.f);
        return qry__vi((int64_t)((uint64_t)s->v2.u.i - (uint64_t)s->v1.u.i));
    case A_MEDIAN: {
        qsort(s->vals, s->nv, sizeof *s->vals, vrec_cmp_val);
        uint32_t n = s->nv;
        if (n % 2)
            return qry__vf(vnum(&s->vals[n / 2].v));
        double lo = vnum(&s->vals[n / 2 - 1].v), hi = vnum(&s->vals[n / 2].v);
        return qry__vf(lo + (hi - lo) / 2);
    }
    case A_PERCENTILE: {
        qsort(s->vals, s->nv, sizeof *s->vals, vrec_cmp_val);
        int64_t i = (int64_t)floor((double)s->nv * a->p / 100.0 + 0.5) - 1;
        if (i < 0 || i >= (int64_t)s->nv)
            return qry__vnull();
        *pt = s->vals[i].ts;
        return s->vals[i].v;
    }
    case A_MODE: {
        /* the most frequent value; among equally frequent ones InfluxDB
         * 1.6.7's ModeReduceSlice decides: over the points in value order,
         * a later value's run replaces the best once it is as long, unless
         * the run began after the point where the best one last grew */
        if (s->vals[0].v.t == QRY_BOOL) { /* booleans: true unless false is more */
            uint32_t t = 0;
            for (uint32_t i = 0; i < s->nv; i++)
                t += s->vals[i].v.u.b;
            return qry__vb(2 * t >= s->nv);
        }
        qsort(s->vals, s->nv, sizeof *s->vals, vrec_cmp_val);
        uint32_t best = 0;
        int64_t best_n = 0, cur_n = 0, best_t = s->vals[0].ts, cur_t = s->vals[0].ts;
        const qry_val_t *cur = &s->vals[0].v;
        for (uint32_t i = 0; i < s->nv; i++) {
            if (qry__vcmp(&s->vals[i].v, cur) != 0) {
                cur = &s->vals[i].v;
                cur_n = 1;
                cur_t = s->vals[i].ts;
                continue;
            }
            cur_n++;
            if (best_n > cur_n || (best_n == cur_n && cur_t > best_t))
                continue;
            best_n = cur_n;
            best = i;
            best_t = s->vals[i].ts;
        }
        return s->vals[best].v;
    }
    case A_STDDEV: {
        if (s->nv < 2)
            return qry__vnull();
        double mean = 0;
        for (uint32_t i = 0; i < s->nv; i++)
            mean += vnum(&s->vals[i].v);
        mean /= (double)s->nv;
        double var = 0;
        for (uint32_t i = 0; i < s->nv; i++) {
            double d = vnum(&s->vals[i].v) - mean;
            var += d * d;
        }
        return qry__vf(sqrt(var / (double)(s->nv - 1)));
    }
    case A_INTEGRAL: {
        qsort(s->vals, s->nv, sizeof *s->vals, vrec_cmp_ts);
        double sum = 0;
        for (uint32_t i = 1; i < s->nv; i++) {
            double dt = (double)(s->vals[i].ts - s->vals[i - 1].ts) / (double)a->unit;
            sum += 0.5 * (vnum(&s->vals[i].v) + vnum(&s->vals[i - 1].v)) * dt;
        }
        return qry__vf(sum);
    }
    default: return qry__vnull();
    }
}

/* ------------------------------------------------------------- scanning */

static void series_end(run_t *r, ast_t *st)
{
    size_t n = r->nb * r->p->naggs;
    for (size_t i = 0; i < n; i++)
        if (st[i].sf_cur != 0 || st[i].n) {
            st[i].sf += st[i].sf_cur;
            st[i].sf_cur = 0;
        }
}

static void rows_push(rows_t *rw, size_t ncols, int64_t ts, uint32_t seq, const qry_val_t *v)
{
    if (rw->n == rw->cap) {
        rw->cap = rw->cap ? 2 * rw->cap : 64;
        rw->ts = cn_realloc(rw->ts, rw->cap * sizeof *rw->ts);
        rw->seq = cn_realloc(rw->seq, rw->cap * sizeof *rw->seq);
        rw->v = cn_realloc(rw->v, rw->cap * (ncols ? ncols : 1) * sizeof *rw->v);
    }
    rw->ts[rw->n] = ts;
    rw->seq[rw->n] = seq;
    if (ncols)
        memcpy(rw->v + rw->n * ncols, v, ncols * sizeof *v);
    rw->n++;
}

/* Index of the window holding t (wins ascending), from hint on. */
static size_t win_of(const run_t *r, int64_t t, size_t hint)
{
    size_t i = hint;
    while (i + 1 < r->nb && r->wins[i + 1] <= t)
        i++;
    return i;
}

/* min()/max() of a number with the selected point's time. */
static bool pt_minmax(const agg_t *a)
{
    return (a->fn == A_MIN || a->fn == A_MAX) && (a->type == ENG_T_FLOAT || a->type == ENG_T_INT);
}

/* The value min()/max() takes from a block's stats. */
static qry_val_t stat_minmax(const agg_t *a, const eng_stat_t *st)
{
    const eng_value_t *v = a->fn == A_MAX ? &st->max : &st->min;
    return a->type == ENG_T_FLOAT ? qry__vf(v->f) : qry__vi(v->i);
}

/* A min()/max() state waiting for its time: block ordinal, where the
 * iterator offered that block (eng_iter_tell), u->st index. */
typedef struct pend {
    uint32_t ord, at;
    size_t idx;
} pend_t;

/*
 * Second pass over series si for the min()/max() values the first pass
 * took from block stats (pd, in block order): goes back to each of those
 * blocks on the same iterator (eng_iter_seek: reopening it and walking the
 * stats of every block before was a tenth of bench/run query's Q3), reads
 * it alone and sets each state's time to the first row holding its value
 * (the first pass keeps the earliest point on ties, so does this).
 */
static int resolve_pend(run_t *r, unit_t *u, eng_iter_t *it, const pend_t *pd, size_t npd,
                        eng_stat_t *st)
{
    plan_t *p = r->p;
    size_t na = p->naggs, i = 0;
    int rc = 0;
    eng_batch_t b;
    for (;;) {
        while (i < npd && u->st[pd[i].idx].pend != pd[i].ord)
            i++;
        if (i == npd)
            break;
        uint32_t rows, ord = pd[i].ord;
        eng_iter_seek(it, pd[i].at);
        int pk = eng_iter_peek_stats(it, st, &rows);
        if (pk != 1) {
            rc = pk < 0 ? pk : CN_ECORRUPT; /* the block must be there */
            break;
        }
        for (uint32_t got = 0; got < rows;) {
            int nx = eng_iter_next(it, &b);
            if (nx <= 0) {
                rc = nx < 0 ? nx : CN_ECORRUPT;
                break;
            }
            for (size_t j = i; j < npd && pd[j].ord == ord; j++) {
                ast_t *as = &u->st[pd[j].idx];
                const agg_t *a = &p->aggs[pd[j].idx % na];
                const uint8_t *ok = b.valid[a->col];
                for (uint32_t k = 0; k < b.n && as->pend == ord; k++) {
                    if (!ok[k])
                        continue;
                    if (a->type == ENG_T_FLOAT ? ((const double *)b.vals[a->col])[k] == as->v1.u.f
                                               : ((const int64_t *)b.vals[a->col])[k] == as->v1.u.i) {
                        as->t1 = b.ts[k];
                        as->pend = 0;
                    }
                }
            }
            got += b.n;
        }
        /* every state waiting on this block found its row */
        for (; rc == 0 && i < npd && pd[i].ord == ord; i++)
            if (u->st[pd[i].idx].pend == ord)
                rc = CN_ECORRUPT;
        if (rc < 0)
            break;
    }
    return rc;
}

static void acc_multi(const agg_t *a, ast_t *s, const eng_batch_t *b, const uint8_t *mask,
                      uint32_t i0, uint32_t i1, uint32_t si, qry__rarena_t *ar);

static int scan_series(run_t *r, unit_t *u, size_t si, uint32_t seq, qry__rarena_t *ar)
{
    plan_t *p = r->p;
    sref_t *sr = &r->series[si];
    eng_iter_t *it;
    int rc = eng_iter_open(r->snap, sr->sid, p->scan_fid, p->nscan, r->tmin, r->tmax, &it);
    if (rc < 0)
        return rc == CN_ENOTFOUND ? 0 : rc;
    size_t na = p->naggs;
    eng_stat_t stk[16];
    eng_stat_t *st = p->nscan <= 16 ? stk : cn_malloc(p->nscan * sizeof *st);
    qry_val_t rowv_stk[32], outv_stk[32];
    qry_val_t *rowv = p->nscan <= 32 ? rowv_stk : cn_malloc(p->nscan * sizeof *rowv);
    qry_val_t *outv = p->ncols <= 32 ? outv_stk : cn_malloc((p->ncols + 1) * sizeof *outv);
    uint8_t *mask = NULL;
    bool use_stats = p->aggregate && !p->rowcond && (r->stats_ok || r->prune_ok);
    /* a lone min()/max() without windows: overlapping data is read only
     * where its stats allow a value beyond the one so far */
    bool ext = use_stats && r->nb == 1 && na == 1 && p->aggs[0].col >= 0 &&
               !p->aggs[0].aux_sel && pt_minmax(&p->aggs[0]);
    size_t hint = 0;
    uint32_t ord = 0; /* blocks offered so far */
    /* the range widened for a transformation, with other aggregates beside
     * it (NOTES 5) */
    bool widened = false;
    for (size_t k = 0; k < na && (r->qmin > r->tmin || r->qmax < r->tmax); k++)
        widened |= p->aggs[k].clip;
    /* one window of order-free aggregates: overlapping data's sources
     * that share no time are read apart, most from their stats (a lagging
     * writer's memtable chunks beside the tail of the stored rows) */
    bool unordered = use_stats && !ext && r->nb == 1 && !widened;
    for (size_t k = 0; k < na && unordered; k++)
        unordered = order_free(&p->aggs[k], p->point_time);
    if (unordered)
        eng_iter_any_order(it);
    pend_t *pd = NULL;
    size_t npd = 0, cpd = 0;
    for (;;) {
        if (check_abort(r)) {
            rc = atomic_load(&r->err);
            break;
        }
        if (use_stats) {
            uint32_t nrows, at = eng_iter_tell(it);
            int pk = eng_iter_peek_stats(it, st, &nrows);
            if (pk < 0) {
                rc = pk;
                break;
            }
            if (pk == 1) {
                ord++;
                /* the block's time span over the scanned columns */
                int64_t lo = INT64_MAX, hi = INT64_MIN;
                for (size_t c = 0; c < p->nscan; c++)
                    if (st[c].count) {
                        lo = CN_MIN(lo, st[c].tmin);
                        hi = CN_MAX(hi, st[c].tmax);
                    }
                size_t w = lo <= hi ? win_of(r, lo, 0) : 0;
                if (lo > hi || win_of(r, hi, w) == w) {
                    ast_t *row = u->st + w * na;
                    /* a block reaching outside the statement's range counts
                     * whole only for the aggregates under a transformation */
                    bool need = widened && lo <= hi && (lo < r->qmin || hi >= r->qmax);
                    for (size_t k = 0; k < na && !need; k++) {
                        const agg_t *a = &p->aggs[k];
                        if (a->col < 0)
                            continue;
                        if (agg_stats_ok(a, p->point_time)) {
                            /* a wrapped block sum is not exact: decode it */
                            need = (a->fn == A_SUM || a->fn == A_MEAN) &&
                                   a->type == ENG_T_INT && st[a->col].sum_overflow;
                            continue;
                        }
                        /* min/max with time: a block that may change the
                         * value gives it from its stats, the time later */
                        if (pt_minmax(a))
                            need = stats_may_change(a, &row[k], &st[a->col]) &&
                                   a->type == ENG_T_FLOAT &&
                                   isnan(stat_minmax(a, &st[a->col]).u.f);
                        else
                            need = true;
                    }
                    if (!need) {
                        for (size_t k = 0; k < na; k++) {
                            const agg_t *a = &p->aggs[k];
                            ast_t *as = &row[k];
                            if (a->col < 0)
                                continue;
                            if (agg_stats_ok(a, p->point_time)) {
                                acc_stats(a, as, &st[a->col]);
                            } else if (pt_minmax(a) && stats_may_change(a, as, &st[a->col])) {
                                as->v1 = stat_minmax(a, &st[a->col]);
                                as->t1 = st[a->col].tmin;
                                as->n += st[a->col].count;
                                as->pend = ord;
                                if (a->aux_sel)
                                    as->si1 = si;
                                if (npd == cpd) {
                                    cpd = cpd ? 2 * cpd : 16;
                                    pd = cn_realloc(pd, cpd * sizeof *pd);
                                }
                                pd[npd].ord = ord;
                                pd[npd].at = at;
                                pd[npd++].idx = w * na + k;
                            }
                        }
                        eng_iter_skip(it);
                        if (!add_points(r, nrows)) {
                            rc = CN_ELIMIT;
                            break;
                        }
                        continue;
                    }
                }
            }
        }
        if (ext && u->st[0].n) {
            /* overlapping data: only what may beat the value so far */
            const agg_t *a = &p->aggs[0];
            ast_t *as = &u->st[0];
            eng_value_t above, v;
            if (a->type == ENG_T_FLOAT)
                above.f = as->v1.u.f;
            else
                above.i = as->v1.u.i;
            int64_t ts;
            uint32_t nrows;
            int gx = eng_iter_group_extreme(it, (uint32_t)a->col, a->fn == A_MAX, &above, &ts, &v,
                                            &nrows);
            if (gx < 0) {
                rc = gx;
                break;
            }
            if (gx != 2) {
                if (gx == 1) {
                    as->v1 = a->type == ENG_T_FLOAT ? qry__vf(v.f) : qry__vi(v.i);
                    as->t1 = ts;
                    as->pend = 0;
                    as->n++;
                }
                if (!add_points(r, nrows)) {
                    rc = CN_ELIMIT;
                    break;
                }
                continue;
            }
        }
        eng_batch_t b;
        int nx = eng_iter_next(it, &b);
        if (nx < 0) {
            rc = nx;
            break;
        }
        if (nx == 0) {
            rc = 0;
            break;
        }
        if (!add_points(r, b.n)) {
            rc = CN_ELIMIT;
            break;
        }
        if (b.n && b.ts[0] < u->min_ts)
            u->min_ts = b.ts[0];
        if (p->rowcond) {
            mask = cn_realloc(mask, b.n);
            cx_env_t env = {.cols = rowv, .tags = sr->tags};
            for (uint32_t i = 0; i < b.n; i++) {
                for (size_t c = 0; c < p->nscan; c++)
                    rowv[c] = b.valid[c][i] ? getv(p->scan_type[c], b.vals[c], i) : qry__vnull();
                env.time = b.ts[i];
                mask[i] = qry__truthy(qry__cx_eval(p->rowcond, &env));
            }
        }
        if (p->aggregate) {
            uint32_t i = 0;
            while (i < b.n) {
                size_t w = win_of(r, b.ts[i], hint);
                hint = w;
                uint32_t j = i + 1;
                if (w + 1 < r->nb) {
                    int64_t end = r->wins[w + 1];
                    while (j < b.n && b.ts[j] < end)
                        j++;
                } else {
                    j = b.n;
                }
                ast_t *row = u->st + w * na;
                /* the rows inside the statement's range, for the aggregates
                 * not under a transformation (NOTES 5) */
                uint32_t ci = i, cj = j;
                while (widened && ci < cj && b.ts[ci] < r->qmin)
                    ci++;
                while (widened && cj > ci && b.ts[cj - 1] >= r->qmax)
                    cj--;
                bool cut = ci != i || cj != j;
                /* float sums/means four at a time (acc_fsum4), the rest
                 * one by one */
                const agg_t *fa[4];
                ast_t *fs[4];
                size_t nf = 0;
                for (size_t k = 0; k < na; k++) {
                    ast_t *as = &row[k];
                    if (cut && p->aggs[k].clip) {
                        if (ci < cj)
                            acc(&p->aggs[k], as, &b, p->rowcond ? mask : NULL, ci, cj, ar);
                        continue;
                    }
                    if (!p->multi && !p->rowcond && is_fsum(&p->aggs[k])) {
                        fa[nf] = &p->aggs[k];
                        fs[nf++] = as;
                        if (nf == 4) {
                            acc_fsum4(fa, fs, &b, i, j);
                            nf = 0;
                        }
                        continue;
                    }
                    if (p->multi) {
                        acc_multi(&p->aggs[k], as, &b, p->rowcond ? mask : NULL, i, j,
                                  (uint32_t)si, ar);
                        continue;
                    }
                    int64_t on = as->n, ot = as->t1;
                    qry_val_t ov = as->v1;
                    acc(&p->aggs[k], as, &b, p->rowcond ? mask : NULL, i, j, ar);
                    if (p->aggs[k].aux_sel && as->n != on &&
                        (on == 0 || as->t1 != ot || qry__vcmp(&as->v1, &ov) != 0))
                        as->si1 = si; /* the selected point is now this series' */
                }
                for (size_t f = 0; f < nf; f++)
                    acc(fa[f], fs[f], &b, NULL, i, j, ar);
                i = j;
            }
        } else {
            cx_env_t env = {.cols = rowv, .tags = sr->tags};
            for (uint32_t i = 0; i < b.n; i++) {
                if (mask && !mask[i])
                    continue;
                for (size_t c = 0; c < p->nscan; c++)
                    rowv[c] = b.valid[c][i] ? getv(p->scan_type[c], b.vals[c], i) : qry__vnull();
                env.time = b.ts[i];
                /* a row where a field a column reads has a value, even
                 * when the column's expression comes out null (fv * iv
                 * without iv), as InfluxDB's raw rows */
                bool any = false;
                for (size_t c = 0; c < p->ncols; c++) {
                    outv[c] = own(ar, qry__cx_eval(p->cols[c].e, &env));
                    any |= p->cols[c].field &&
                           (outv[c].t != QRY_NULL || reads_value(p->cols[c].e, rowv));
                }
                if (any)
                    rows_push(&u->rows, p->ncols, b.ts[i], seq, outv);
            }
        }
    }
    if (rc == 0 && npd)
        rc = resolve_pend(r, u, it, pd, npd, st);
    eng_iter_close(it);
    cn_free(pd);
    if (p->aggregate)
        series_end(r, u->st);
    cn_free(mask);
    if (st != stk)
        cn_free(st);
    if (rowv != rowv_stk)
        cn_free(rowv);
    if (outv != outv_stk)
        cn_free(outv);
    return rc;
}

typedef struct worker {
    run_t *r;
    qry__rarena_t *ar;
    cn_buf_t str; /* string values from the last-value cache */
} worker_t;

static eng_value_t to_eng(const qry_val_t *v)
{
    eng_value_t e;
    memset(&e, 0, sizeof e);
    switch (v->t) {
    case QRY_FLOAT: e.f = v->u.f; break;
    case QRY_BOOL: e.b = v->u.b; break;
    case QRY_STR:
        e.s.p = v->u.s.p;
        e.s.len = v->u.s.len;
        break;
    default: e.i = v->u.i; break;
    }
    return e;
}

static qry_val_t from_eng(eng_type_t t, const eng_value_t *v)
{
    switch (t) {
    case ENG_T_FLOAT: return qry__vf(v->f);
    case ENG_T_INT: return qry__vi(v->i);
    case ENG_T_BOOL: return qry__vb(v->b != 0);
    case ENG_T_STRING: return qry__vs(v->s.p, v->s.len);
    default: return qry__vnull();
    }
}

/* last() of one series from the last-value cache; on a miss, a scan of
 * [tmin, +inf) whose answer seeds the cache (engine.h protocol). */
static int lvc_series(run_t *r, unit_t *u, size_t si, worker_t *w)
{
    plan_t *p = r->p;
    uint64_t sid = r->series[si].sid;
    size_t na = p->naggs;
    bool known = true;
    for (size_t k = 0; k < na && known; k++) {
        int64_t ts;
        eng_value_t v;
        known = eng_last_get(r->o->db, sid, p->scan_fid[p->aggs[k].col], &ts, &v, &w->str) != 0;
    }
    if (known) {
        for (size_t k = 0; k < na; k++) {
            const agg_t *a = &p->aggs[k];
            int64_t ts;
            eng_value_t v;
            if (eng_last_get(r->o->db, sid, p->scan_fid[a->col], &ts, &v, &w->str) != 1 ||
                ts < r->tmin)
                continue;
            ast_t *s = &u->st[k];
            if (!s->n || ts > s->t1) {
                s->v1 = own(w->ar, from_eng(a->type, &v));
                s->t1 = ts;
            }
            s->n++;
        }
        return add_points(r, 1) ? 0 : CN_ELIMIT;
    }
    ast_t *tmp = cn_calloc(na + 1, sizeof *tmp);
    unit_t tu = {.st = tmp, .min_ts = INT64_MAX};
    int rc = scan_series(r, &tu, si, (uint32_t)si, w->ar);
    if (rc == 0) {
        for (size_t k = 0; k < na; k++) {
            const agg_t *a = &p->aggs[k];
            if (tmp[k].n) {
                eng_value_t v = to_eng(&tmp[k].v1);
                eng_last_seed(r->o->db, sid, p->scan_fid[a->col], true, tmp[k].t1, a->type, &v,
                              r->lvc_gen);
            } else if (!r->has_lower) {
                eng_last_seed(r->o->db, sid, p->scan_fid[a->col], false, 0, a->type, NULL,
                              r->lvc_gen);
            }
            merge_state(a, &u->st[k], &tmp[k]);
        }
    }
    for (size_t k = 0; k < na; k++)
        cn_free(tmp[k].vals);
    cn_free(tmp);
    return rc;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    run_t *r = w->r;
    for (;;) {
        size_t ui = atomic_fetch_add(&r->next, 1);
        if (ui >= r->nunits || check_abort(r))
            break;
        unit_t *u = &r->units[ui];
        u->min_ts = INT64_MAX;
        if (r->p->aggregate)
            u->st = cn_calloc(r->nb * r->p->naggs + 1, sizeof(ast_t));
        for (size_t s = 0; s < u->ns && !check_abort(r); s++) {
            int rc = r->lvc ? lvc_series(r, u, u->s0 + s, w)
                            : scan_series(r, u, u->s0 + s, (uint32_t)(u->s0 + s), w->ar);
            if (rc < 0) {
                if (!atomic_load(&r->err)) {
                    char m[128];
                    snprintf(m, sizeof m, "read error: %s", cn_strerror(rc));
                    run_fail(r, rc, m);
                }
                break;
            }
        }
    }
    return NULL;
}

static void run_units(run_t *r)
{
    uint32_t nt = r->o->threads ? r->o->threads : 1;
    if (nt > r->nunits)
        nt = (uint32_t)(r->nunits ? r->nunits : 1);
    worker_t *ws = cn_calloc(nt, sizeof *ws);
    pthread_t *th = cn_calloc(nt, sizeof *th);
    bool *started = cn_calloc(nt, sizeof *started);
    for (uint32_t i = 0; i < nt; i++) {
        ws[i].r = r;
        ws[i].ar = qry__rarena_new();
    }
    for (uint32_t i = 1; i < nt; i++)
        started[i] = pthread_create(&th[i], NULL, worker_main, &ws[i]) == 0;
    worker_main(&ws[0]);
    for (uint32_t i = 1; i < nt; i++)
        if (started[i])
            pthread_join(th[i], NULL);
    r->arenas = cn_calloc(nt + 1, sizeof *r->arenas);
    for (uint32_t i = 0; i < nt; i++) {
        r->arenas[i] = ws[i].ar;
        cn_buf_free(&ws[i].str);
    }
    cn_free(ws);
    cn_free(th);
    cn_free(started);
}

/* ------------------------------------------------------------- grouping */

typedef struct skey {
    const char *key;
    size_t idx;
    uint64_t sid;
} skey_t;

static int skey_cmp(const void *x, const void *y)
{
    const skey_t *a = x, *b = y;
    int c = strcmp(a->key, b->key);
    if (c)
        return c;
    return a->sid < b->sid ? -1 : a->sid > b->sid;
}

/* Selects the measurement's series, filters them by the tag condition and
 * sorts them by group key.  Returns 0 or a negative code. */
static int select_series(run_t *r, qry__rarena_t *ar)
{
    plan_t *p = r->p;
    uint64_t *ids = NULL;
    int n = eng_snap_select(r->snap, p->meas, p->preds, p->npreds, &ids);
    if (n < 0)
        return n;
    sref_t *ss = cn_calloc((size_t)n + 1, sizeof *ss);
    size_t m = 0;
    cn_buf_t kb;
    cn_buf_init(&kb);
    for (int i = 0; i < n; i++) {
        const eng_tag_t *tags;
        uint32_t nt;
        if (eng_snap_series_tags(r->snap, ids[i], &tags, &nt) < 0)
            continue;
        const char **tv = qry__ralloc(ar, (p->ntagkeys + 1) * sizeof(char *));
        for (size_t k = 0; k < p->ntagkeys; k++)
            tv[k] = r->o->absent_tags_empty ? "" : qry__tag_absent;
        uint32_t t = 0;
        for (size_t k = 0; k < p->ntagkeys && t < nt; k++) {
            while (t < nt && strcmp(tags[t].key, p->tagkeys[k]) < 0)
                t++;
            if (t < nt && strcmp(tags[t].key, p->tagkeys[k]) == 0)
                tv[k] = tags[t].val;
        }
        if (p->tagcond && qry__cx_tri(p->tagcond, tv) == 0)
            continue;
        cn_buf_reset(&kb);
        for (size_t g = 0; g < p->ngkeys; g++) {
            const char *v = p->gkeys[g] >= 0 ? tv[p->gkeys[g]] : "";
            cn_buf_put(&kb, v, strlen(v));
            cn_buf_put_u8(&kb, 0x1f);
        }
        ss[m].sid = ids[i];
        ss[m].tags = tv;
        ss[m].key = qry__rstrndup(ar, kb.p ? (const char *)kb.p : "", kb.len);
        m++;
    }
    cn_buf_free(&kb);
    cn_free(ids);
    skey_t *ks = cn_malloc((m + 1) * sizeof *ks);
    for (size_t i = 0; i < m; i++)
        ks[i] = (skey_t){ss[i].key, i, ss[i].sid};
    qsort(ks, m, sizeof *ks, skey_cmp);
    r->series = cn_malloc((m + 1) * sizeof *r->series);
    for (size_t i = 0; i < m; i++)
        r->series[i] = ss[ks[i].idx];
    r->nseries = m;
    cn_free(ks);
    cn_free(ss);
    /* groups */
    r->groups = cn_calloc(m + 1, sizeof *r->groups);
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        while (j < m && strcmp(r->series[j].key, r->series[i].key) == 0)
            j++;
        group_t *g = &r->groups[r->ngroups++];
        g->s0 = i;
        g->ns = j - i;
        g->key = r->series[i].key;
        g->gvals = qry__ralloc(ar, (p->ngkeys + 1) * sizeof(char *));
        for (size_t k = 0; k < p->ngkeys; k++)
            g->gvals[k] = p->gkeys[k] >= 0 ? r->series[i].tags[p->gkeys[k]] : "";
        i = j;
    }
    return 0;
}

/* --------------------------------------------------------------- output */

static int row_cmp_stable(const rows_t *rw, size_t a, size_t b)
{
    if (rw->ts[a] != rw->ts[b])
        return rw->ts[a] < rw->ts[b] ? -1 : 1;
    if (rw->seq[a] != rw->seq[b])
        return rw->seq[a] < rw->seq[b] ? -1 : 1;
    return a < b ? -1 : a > b;
}

/* Sorting raw rows uses an index array and a merge sort with context. */
static void msort(size_t *idx, size_t *tmp, size_t n, const rows_t *rw)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    msort(idx, tmp, h, rw);
    msort(idx + h, tmp, n - h, rw);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = row_cmp_stable(rw, idx[i], idx[j]) <= 0 ? idx[i++] : idx[j++];
    while (i < h)
        tmp[k++] = idx[i++];
    while (j < n)
        tmp[k++] = idx[j++];
    memcpy(idx, tmp, n * sizeof *idx);
}

/* Applies transformation oc over column c of the rows (time order). */
/* Reverses n rows: times ts[], values v[] (nc per row). */
static void reverse_rows(int64_t *ts, qry_val_t *v, size_t nc, size_t n)
{
    for (size_t i = 0, j = n; i + 1 < j; i++, j--) {
        int64_t t = ts[i];
        ts[i] = ts[j - 1];
        ts[j - 1] = t;
        for (size_t c = 0; c < nc; c++) {
            qry_val_t x = v[i * nc + c];
            v[i * nc + c] = v[(j - 1) * nc + c];
            v[(j - 1) * nc + c] = x;
        }
    }
}

/* One smoothed average (NOTES 4): the k-th value x moves it by a(x - avg),
 * a = 2 / (k + 1) while k <= w, then a; with simple, the first w averages
 * are plain means instead.  The exponential averages take w = N and a =
 * 2 / (N + 1), relative_strength_index and chande_momentum_oscillator w =
 * N + 1 and a = 1 / N. */
typedef struct ema {
    int64_t k; /* values added */
    double v, sum;
} ema_t;

static double avg_add(ema_t *e, int64_t w, double a, bool simple, double x)
{
    e->k++;
    if (simple && e->k <= w) {
        e->sum += x;
        e->v = e->sum / (double)e->k;
    } else if (e->k == 1) {
        e->v = x;
    } else {
        e->v += (e->k <= w ? 2.0 / (double)(e->k + 1) : a) * (x - e->v);
    }
    return e->v;
}

/* An exponential average of period n. */
static double ema_add(ema_t *e, int64_t n, bool simple, double x)
{
    return avg_add(e, n, 2.0 / (double)(n + 1), simple, x);
}

/* exponential_moving_average and its double and triple forms of x, the
 * next value, over the averages em[] (NOTES 4). */
static double ema_stack(ema_t *em, int stack, int64_t n, bool simple, double x)
{
    double e[3];
    int ne = 0;
    for (int j = 0; j < stack; j++) {
        if (j && simple && em[j - 1].k < n)
            break; /* the average below still warms up */
        x = ema_add(&em[j], n, simple, x);
        e[ne++] = x;
    }
    if (ne == 1)
        return e[0];
    if (stack == 2)
        return 2 * e[0] - e[1];
    return ne == 2 ? 3 * e[0] - 2 * e[1] : 3 * e[0] - 3 * e[1] + e[2];
}

/* The state of one technical analysis function over a column (NOTES 4). */
typedef struct ta {
    ema_t em[3];
    double last;  /* the previous value (relative_strength_index and
                   * chande_momentum_oscillator start from 0) */
    bool have;    /* a previous value (the window form, the derivative) */
    double *ring; /* the last n (chande: changes up and down) or n + 1
                   * (kaufmans) values, 0 before any */
    int64_t pos, cnt;
    double su, sd;
    bool wide; /* kaufmans: the period reaches before the first value */
} ta_t;

/* The next value of technical analysis function oc over x: NAN where
 * InfluxDB answers null, INFINITY where it answers no point. */
static double ta_add(const ocol_t *oc, ta_t *t, double x)
{
    int64_t n = oc->n;
    switch (oc->tf) {
    case TF_RSI:
    case TF_CMO: {
        if (oc->none) { /* the last n changes' sums, kept running */
            if (!t->have) {
                t->have = true;
                t->last = x;
                return 0;
            }
            double up = x > t->last ? x - t->last : 0, dn = x < t->last ? t->last - x : 0;
            t->last = x;
            t->su += up;
            t->sd += dn;
            int64_t at = t->pos;
            if (t->cnt == n) {
                t->su -= t->ring[2 * at];
                t->sd -= t->ring[2 * at + 1];
            } else {
                t->cnt++;
            }
            t->ring[2 * at] = up;
            t->ring[2 * at + 1] = dn;
            t->pos = (at + 1) % n;
            return t->su + t->sd == 0 ? 0 : (t->su - t->sd) / (t->su + t->sd) * 100;
        }
        double up = x > t->last ? x - t->last : 0, dn = x < t->last ? t->last - x : 0;
        t->last = x;
        double u = avg_add(&t->em[0], n + 1, 1.0 / (double)n, oc->simple, up);
        double d = avg_add(&t->em[1], n + 1, 1.0 / (double)n, oc->simple, dn);
        if (oc->tf == TF_RSI)
            return d == 0 ? (u == 0 ? NAN : 100) : 100 - 100 / (1 + u / d);
        return u + d == 0 ? NAN : (u - d) / (u + d) * 100;
    }
    case TF_KER: {
        if (t->wide) { /* x(t - n) is one of the zeros before the first value */
            t->su += fabs(x - t->last);
            t->last = x;
            return t->su == 0 ? 0 : fabs(x) / t->su;
        }
        t->ring[t->pos] = x; /* the newest of n + 1 */
        t->pos = (t->pos + 1) % (n + 1);
        double num = fabs(x - t->ring[t->pos]), den = 0;
        for (int64_t i = 1; i <= n; i++)
            den += fabs(t->ring[(t->pos + i) % (n + 1)] - t->ring[(t->pos + i - 1) % (n + 1)]);
        return den == 0 ? 0 : num / den;
    }
    case TF_TRIX: {
        double y = x;
        for (int j = 0; j < 3; j++) {
            if (j && oc->simple && t->em[j - 1].k < n)
                break; /* the average below still warms up */
            y = ema_add(&t->em[j], n, oc->simple, y);
        }
        bool had = t->have;
        double prev = t->last;
        t->have = true;
        t->last = y;
        if (!had)
            return INFINITY;
        return (y / prev - 1) * 100; /* 0 / 0: NaN (null), y / 0: no point */
    }
    default: {
        int stack = oc->tf == TF_EMA ? 1 : oc->tf == TF_DEMA ? 2 : 3;
        return ema_stack(t->em, stack, n, oc->simple, x);
    }
    }
}

static void transform(const ocol_t *oc, int64_t default_unit, int64_t out_min, int64_t out_max,
                      bool desc, const int64_t *ts, qry_val_t *v, size_t stride, size_t n)
{
    int64_t unit = oc->unit ? oc->unit : default_unit;
    qry_val_t prev = qry__vnull();
    int64_t pts = 0;
    bool have = false;
    /* moving average window, summed as InfluxDB's MovingAverageReducer
     * sums it (the oldest value taken off, then the new one added; an
     * integer column in int64), so the averages agree to the last bit */
    /* (a window longer than the rows never fills: nothing to keep) */
    bool ma = oc->tf == TF_MOVAVG && oc->n <= (int64_t)n;
    double *win = ma ? cn_malloc((size_t)oc->n * sizeof(double)) : NULL;
    int64_t *iwin = ma ? cn_malloc((size_t)oc->n * sizeof(int64_t)) : NULL;
    double fsum = 0;
    uint64_t isum = 0;
    bool all_int = true;
    int64_t wn = 0;
    qry_val_t cum = qry__vnull();
    ta_t ta = {0};
    /* a period past the rows never fills its window: room for the rows */
    int64_t cap = oc->n < (int64_t)n ? oc->n : (int64_t)n;
    if (oc->tf == TF_CMO || oc->tf == TF_KER)
        ta.ring = cn_calloc((size_t)cap * 2 + 2, sizeof(double));
    ta.wide = oc->n >= (int64_t)n;
    int64_t nin = 0; /* values read (a technical analysis function's hold) */
    for (size_t i = 0; i < n; i++) {
        qry_val_t *x = &v[i * stride];
        qry_val_t in = *x;
        *x = qry__vnull();
        if (oc->tf == TF_CUMSUM && (ts[i] < out_min || ts[i] >= out_max))
            continue; /* the window read beside the range (another column's) */
        if (in.t != QRY_FLOAT && in.t != QRY_INT) {
            if (oc->tf == TF_ELAPSED && in.t != QRY_NULL) {
                /* elapsed works on any type */
            } else {
                continue;
            }
        }
        if (have && ts[i] == pts &&
            (oc->tf == TF_DERIV || oc->tf == TF_NNDERIV || oc->tf == TF_DIFF ||
             oc->tf == TF_NNDIFF))
            continue; /* InfluxDB's reducers keep the first point of a time
                       * (series merged without GROUP BY) and skip the rest */
        switch (oc->tf) {
        case TF_DERIV:
        case TF_NNDERIV:
            if (have) {
                /* (newest first, the elapsed time still counts forward) */
                double el = desc ? wrap_diff(pts, ts[i]) : wrap_diff(ts[i], pts);
                double d = (vnum(&in) - vnum(&prev)) / (el / (double)unit);
                if (oc->tf == TF_DERIV || d >= 0)
                    *x = qry__vf(d);
            }
            break;
        case TF_DIFF:
        case TF_NNDIFF:
            if (have) {
                qry_val_t d;
                if (in.t == QRY_INT && prev.t == QRY_INT)
                    d = qry__vi((int64_t)((uint64_t)in.u.i - (uint64_t)prev.u.i));
                else
                    d = qry__vf(vnum(&in) - vnum(&prev));
                if (oc->tf == TF_DIFF || vnum(&d) >= 0)
                    *x = d;
            }
            break;
        case TF_MOVAVG: {
            if (!ma)
                break;
            int64_t pos = wn % oc->n;
            if (wn >= oc->n) {
                fsum -= win[pos];
                isum -= (uint64_t)iwin[pos];
            }
            win[pos] = vnum(&in);
            iwin[pos] = in.t == QRY_INT ? in.u.i : 0;
            all_int &= in.t == QRY_INT;
            fsum += win[pos];
            isum += (uint64_t)iwin[pos];
            wn++;
            if (wn >= oc->n)
                *x = qry__vf((all_int ? (double)(int64_t)isum : fsum) / (double)oc->n);
            break;
        }
        case TF_CUMSUM:
            if (cum.t == QRY_NULL)
                cum = in;
            else if (cum.t == QRY_INT && in.t == QRY_INT)
                cum = qry__vi((int64_t)((uint64_t)cum.u.i + (uint64_t)in.u.i));
            else
                cum = qry__vf(vnum(&cum) + vnum(&in));
            *x = cum;
            break;
        case TF_ELAPSED:
            if (have)
                *x = qry__vi((ts[i] - pts) / (oc->unit ? oc->unit : 1));
            break;
        case TF_EMA:
        case TF_DEMA:
        case TF_TEMA:
        case TF_RSI:
        case TF_CMO:
        case TF_KER:
        case TF_TRIX: {
            double r = ta_add(oc, &ta, vnum(&in));
            if (nin++ >= oc->hold && !isinf(r))
                *x = qry__vf(r);
            break;
        }
        default: break;
        }
        prev = in;
        pts = ts[i];
        have = true;
    }
    cn_free(win);
    cn_free(iwin);
    cn_free(ta.ring);
}

/* Does a GROUP BY time() query's transformation read the interval before
 * its time range, as InfluxDB 1.6.7 moves the start back by one interval
 * for derivative, difference, elapsed and moving_average (whatever its N;
 * cumulative_sum reads nothing before)? */
static bool tf_lookback(const plan_t *p)
{
    for (size_t c = 0; p->has_tf && c < p->ncols; c++)
        if (p->cols[c].tf != TF_NONE && p->cols[c].tf != TF_CUMSUM)
            return true;
    return false;
}

/* Emits one output series from rows (ts[], v[] with ncols per row). */
static void emit(run_t *r, qry__rb_t *b, const group_t *g, int64_t *ts, qry_val_t *v, size_t n)
{
    const plan_t *p = r->p;
    const qry_select_t *sel = r->sel;
    size_t nc = p->ncols;
    /* transformations */
    if (p->has_tf) {
        int64_t du = p->aggregate && r->interval > 0 ? r->interval : 1000000000;
        /* ORDER BY time DESC: over the rows newest first, as InfluxDB
         * computes them (a difference is the earlier point's minus the
         * later one's, at the earlier point) */
        if (sel->order_desc)
            reverse_rows(ts, v, nc, n);
        for (size_t c = 0; c < nc; c++) {
            /* a column over hidden ones (plan.h, ocol_t.post) once they
             * are computed: hidden columns come before theirs.  A row
             * stays when any hidden operand has a value there, though
             * the expression be null, as InfluxDB joins the operands'
             * points. */
            if (p->cols[c].post)
                for (size_t i = 0; i < n; i++) {
                    cx_env_t env = {.outs = v + i * nc, .time = ts[i]};
                    v[i * nc + c] = qry__cx_eval(p->cols[c].e, &env);
                }
            if (p->cols[c].tf != TF_NONE)
                transform(&p->cols[c], du, r->out_min, r->out_max, sel->order_desc, ts, v + c, nc,
                          n);
        }
        if (sel->order_desc)
            reverse_rows(ts, v, nc, n);
        /* a window's row stays when a transformation has a value there,
         * or when a column without one has the window at all: an empty
         * window's mean(x) is a null point of InfluxDB's (fill(null)) where
         * the group has x at all, a derivative's is no point */
        bool *held = cn_calloc(nc + 1, sizeof *held);
        for (size_t c = 0; c < nc; c++) {
            const ocol_t *oc = &p->cols[c];
            if (!p->aggregate || oc->tf != TF_NONE || oc->post || oc->quiet ||
                sel->fill == QRY_FILL_NONE)
                continue;
            for (size_t i = 0; i < n && !held[c]; i++)
                held[c] = ts[i] >= r->out_min && ts[i] < r->out_max && v[i * nc + c].t != QRY_NULL;
        }
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            bool any = false, in = ts[i] >= r->out_min && ts[i] < r->out_max;
            /* outside the range only a technical analysis function's value
             * keeps a row: InfluxDB answers those of the window it read
             * before the range (after it, descending) when the hold allows */
            for (size_t c = 0; c < nc && !any; c++)
                any = !p->cols[c].quiet &&
                      (in ? v[i * nc + c].t != QRY_NULL || held[c]
                          : TF_IS_TA(p->cols[c].tf) && v[i * nc + c].t != QRY_NULL);
            if (!any)
                continue;
            for (size_t c = 0; c < nc && !in; c++)
                if (!TF_IS_TA(p->cols[c].tf)) /* the other columns have no such row */
                    v[i * nc + c] = qry__vnull();
            /* fill(<value>): a row's missing transformation (and, outside
             * the range, any missing column) takes the value, as InfluxDB
             * fills the points it joins into a row */
            for (size_t c = 0; c < nc && sel->fill == QRY_FILL_VALUE; c++) {
                const qry_expr_t *fv = sel->fill_value;
                qry_val_t *cv = &v[i * nc + c];
                if (!p->cols[c].quiet && cv->t == QRY_NULL && (p->cols[c].tf != TF_NONE || !in))
                    *cv = fv->kind == QRY_EXPR_INTEGER ? qry__vi(fv->u.i) : qry__vf(fv->u.f);
            }
            ts[k] = ts[i];
            if (k != i)
                memmove(v + k * nc, v + i * nc, nc * sizeof *v);
            k++;
        }
        n = k;
        cn_free(held);
    }
    size_t off = sel->offset > 0 ? (size_t)sel->offset : 0;
    if (off >= n)
        return;
    size_t lim = sel->limit > 0 ? (size_t)sel->limit : n;
    size_t cnt = CN_MIN(lim, n - off);
    const char **cols = cn_malloc((nc + 2) * sizeof(char *));
    cols[0] = "time";
    size_t nvis = 0;
    for (size_t c = 0; c < nc; c++)
        if (!p->cols[c].hidden)
            cols[++nvis] = p->cols[c].name;
    qry_series_t *s = qry__rb_series(b, p->meas, cols, nvis + 1);
    cn_free(cols);
    if (p->ngkeys) {
        s->tags = qry__ralloc(b->r->arena, p->ngkeys * sizeof(eng_tag_t));
        for (size_t k = 0; k < p->ngkeys; k++) {
            s->tags[k].key = qry__rstrdup(b->r->arena, p->gnames[k]);
            s->tags[k].val = qry__rstrdup(b->r->arena, g->gvals[k]);
        }
        s->ntags = p->ngkeys;
    }
    qry_val_t *row = cn_malloc((nc + 1) * sizeof *row);
    /* top() / bottom() / sample() without GROUP BY time() keep their
     * points in time order under ORDER BY time DESC (InfluxDB 1.6.7) */
    bool desc = sel->order_desc && !(p->multi && r->interval <= 0);
    for (size_t k = 0; k < cnt; k++) {
        size_t i = desc ? n - 1 - (off + k) : off + k;
        row[0] = qry__vtime(ts[i]);
        if (nvis == nc) {
            memcpy(row + 1, v + i * nc, nc * sizeof *row);
        } else {
            for (size_t c = 0, o = 1; c < nc; c++)
                if (!p->cols[c].hidden)
                    row[o++] = v[i * nc + c];
        }
        qry__rb_row(b, s, row);
    }
    cn_free(row);
}

/* Reads the scan columns of series si at time t into rowv (nulls where
 * absent).  Returns whether the series has a row at t. */
static bool read_point(run_t *r, size_t si, int64_t t, qry_val_t *rowv, qry__rarena_t *ar)
{
    const plan_t *p = r->p;
    for (size_t c = 0; c < p->nscan; c++)
        rowv[c] = qry__vnull();
    eng_iter_t *it;
    if (t == INT64_MAX ||
        eng_iter_open(r->snap, r->series[si].sid, p->scan_fid, p->nscan, t, t + 1, &it) < 0)
        return false;
    bool found = false;
    eng_batch_t bt;
    while (!found && eng_iter_next(it, &bt) > 0)
        for (uint32_t i = 0; i < bt.n && !found; i++) {
            if (bt.ts[i] != t)
                continue;
            found = true;
            for (size_t c = 0; c < p->nscan; c++)
                rowv[c] = bt.valid[c][i] ? own(ar, getv(p->scan_type[c], bt.vals[c], i))
                                         : qry__vnull();
        }
    eng_iter_close(it);
    return found;
}

/* The aux columns (plan.h) of one window: the row of the point the
 * selector s chose (value v at time t).  min/max/first/last know the
 * point's series (si1); percentile's is the group series whose value at
 * t is v.  Returns the series index, or SIZE_MAX. */
static size_t aux_point(run_t *r, const group_t *g, const ast_t *s, qry_val_t v, int64_t t,
                        qry_val_t *rowv, qry__rarena_t *ar)
{
    const agg_t *a = &r->p->aggs[r->p->aux_agg];
    if (a->fn != A_PERCENTILE)
        return read_point(r, s->si1, t, rowv, ar) ? s->si1 : SIZE_MAX;
    for (size_t si = g->s0; si < g->s0 + g->ns; si++) {
        if (!read_point(r, si, t, rowv, ar) || a->col < 0)
            continue;
        qry_val_t pv = rowv[a->col]; /* x::integer: the value it was chosen as */
        if (a->trunc && pv.t == QRY_FLOAT)
            pv = qry__vi(qry__f64_to_i64(pv.u.f));
        if (qry__vcmp(&pv, &v) == 0)
            return si;
    }
    return SIZE_MAX;
}

static bool cx_has_agg(const cx_t *e)
{
    return e && (e->k == CX_AGG || cx_has_agg(e->a) || cx_has_agg(e->b));
}

/* One output row of an aux plan into out: the selector's columns from
 * env->aggs, the others at the selected point, or, in a window without
 * one, filled as InfluxDB fills them (null; fill(value): the value;
 * fill(previous): the previous row's, prev). */
static void aux_row(run_t *r, const group_t *g, const ast_t *s, qry_val_t sv, int64_t t, size_t n,
                    cx_env_t *env, qry_val_t *out, const qry_val_t *prev)
{
    const plan_t *p = r->p;
    size_t nc = p->ncols;
    qry__rarena_t *ar = r->arenas[0];
    qry_val_t stk[32];
    qry_val_t *rowv = p->nscan <= 32 ? stk : cn_malloc(p->nscan * sizeof *rowv);
    size_t si = s->n && t != INT64_MIN ? aux_point(r, g, s, sv, t, rowv, ar) : SIZE_MAX;
    if (si != SIZE_MAX) {
        env->cols = rowv;
        env->tags = r->series[si].tags;
    }
    for (size_t c = 0; c < nc; c++) {
        if (si != SIZE_MAX || cx_has_agg(p->cols[c].e)) {
            out[c] = own(ar, qry__cx_eval(p->cols[c].e, env));
            continue;
        }
        out[c] = qry__vnull();
        const qry_expr_t *fv = r->sel->fill_value;
        if (r->sel->fill == QRY_FILL_VALUE)
            out[c] = fv->kind == QRY_EXPR_INTEGER ? qry__vi(fv->u.i) : qry__vf(fv->u.f);
        else if (r->sel->fill == QRY_FILL_PREVIOUS && prev && n)
            out[c] = prev[c];
    }
    if (rowv != stk)
        cn_free(rowv);
}

static void finish_multi(run_t *r, qry__rb_t *b, const group_t *g, ast_t *st);

/* Are all of p's aggregates integral()? */
static bool only_integral(const plan_t *p)
{
    bool only = p->naggs > 0;
    for (size_t k = 0; k < p->naggs; k++)
        only &= p->aggs[k].fn == A_INTEGRAL;
    return only;
}

/* integral() over GROUP BY time() windows, as InfluxDB 1.6.7's
 * IntegralReducer sums them: a window also takes the area from its last
 * point to its end, the value there interpolated toward the next point
 * (in a later window), and that point's window the area from that end on,
 * in InfluxDB's order of operations.  st / av: the
 * windows' states and values of this aggregate, na apart (finish sorted
 * each window's points by time). */
static void integral_edges(const run_t *r, const agg_t *a, ast_t *st, size_t na, qry_val_t *av)
{
    double unit = (double)a->unit;
    bool carry = false;
    int64_t ct = 0; /* the carried point: the previous window's end */
    double cv = 0;
    for (size_t w = 0; w < r->nb; w++) {
        const ast_t *s = &st[w * na];
        if (!s->nv)
            continue;
        double sum = 0;
        const vrec_t *v = s->vals;
        if (carry)
            sum += 0.5 * (vnum(&v[0].v) + cv) * (wrap_diff(v[0].ts, ct) / unit);
        for (uint32_t i = 1; i < s->nv; i++)
            sum += 0.5 * (vnum(&v[i].v) + vnum(&v[i - 1].v)) *
                   (wrap_diff(v[i].ts, v[i - 1].ts) / unit);
        size_t w2 = w + 1;
        while (w2 < r->nb && !st[w2 * na].nv)
            w2++;
        carry = w2 < r->nb;
        if (carry) {
            const vrec_t *last = &v[s->nv - 1], *next = &st[w2 * na].vals[0];
            int64_t end = r->wins[w + 1];
            double y0 = vnum(&last->v), y1 = vnum(&next->v);
            cv = y0 + (y1 - y0) * wrap_diff(end, last->ts) / wrap_diff(next->ts, last->ts);
            ct = end;
            sum += 0.5 * (cv + y0) * (wrap_diff(end, last->ts) / unit);
        }
        av[w * na] = qry__vf(sum);
    }
}

static void finish_aggregate(run_t *r, qry__rb_t *b, const group_t *g, ast_t *st)
{
    const plan_t *p = r->p;
    if (p->multi) {
        finish_multi(r, b, g, st);
        return;
    }
    size_t na = p->naggs, nb = r->nb, nc = p->ncols;
    qry_val_t *av = cn_calloc(nb * na + 1, sizeof *av);
    int64_t *pt = cn_malloc((nb + 1) * sizeof *pt);
    int64_t *apt = p->aux ? cn_malloc((nb + 1) * sizeof *apt) : NULL;
    bool *present = cn_calloc(nb + 1, 1);
    for (size_t w = 0; w < nb; w++) {
        pt[w] = r->wins[w];
        for (size_t k = 0; k < na; k++) {
            int64_t t;
            ast_t *s = &st[w * na + k];
            if (s->n)
                present[w] = true;
            if (p->aggs[k].fn == A_DISTINCT)
                continue;
            av[w * na + k] = finish(r, &p->aggs[k], s, &t);
            if (p->point_time && t != INT64_MIN)
                pt[w] = t;
            if (p->aux && (int)k == p->aux_agg)
                apt[w] = t; /* the selected point, whatever the row's time */
        }
    }
    if (r->interval > 0)
        for (size_t k = 0; k < na; k++)
            if (p->aggs[k].fn == A_INTEGRAL)
                integral_edges(r, &p->aggs[k], st + k, na, av + k);
    /* a group without any point in range is no series at all (InfluxDB
     * fills windows only inside series that have data), nor is one whose
     * percentile() alone selected no point (percentile(x, 0)) */
    bool any_point = false;
    for (size_t w = 0; w < nb && !any_point; w++)
        any_point = present[w];
    bool none = na > 0;
    for (size_t k = 0; k < na; k++)
        for (size_t w = 0; w < nb && none; w++)
            none = p->aggs[k].fn == A_PERCENTILE && av[w * na + k].t == QRY_NULL;
    if (none)
        any_point = false;
    if (!any_point)
        goto out;
    /* distinct: one row per distinct value, in the order of their first
     * points (InfluxDB) */
    if (p->distinct) {
        /* (its one column; with a transformation in an expression, that
         * hidden column and the post one, null until emit computes it) */
        size_t cap = 16, n = 0;
        int64_t *ts = cn_malloc(cap * sizeof *ts);
        qry_val_t *v = cn_malloc(cap * nc * sizeof *v);
        for (size_t w = 0; w < nb; w++) {
            ast_t *s = &st[w * na]; /* (distinct() is the only aggregate) */
            if (!s->nv)
                continue;
            /* each value's first point, then those in time order */
            qsort(s->vals, s->nv, sizeof *s->vals, vrec_cmp_val);
            uint32_t u = 0;
            for (uint32_t i = 0; i < s->nv; i++)
                if (!i || qry__vcmp(&s->vals[i].v, &s->vals[u - 1].v) != 0)
                    s->vals[u++] = s->vals[i];
            s->nv = u;
            qsort(s->vals, s->nv, sizeof *s->vals, vrec_cmp_ts_val);
            for (uint32_t i = 0; i < s->nv; i++) {
                if (n == cap) {
                    cap *= 2;
                    ts = cn_realloc(ts, cap * sizeof *ts);
                    v = cn_realloc(v, cap * nc * sizeof *v);
                }
                ts[n] = r->wins[w];
                for (size_t c = 0; c < nc; c++)
                    v[n * nc + c] = p->cols[c].post ? qry__vnull() : s->vals[i].v;
                n++;
            }
        }
        emit(r, b, g, ts, v, n);
        cn_free(ts);
        cn_free(v);
        goto out;
    }
    /* fill, per aggregate */
    qry_fill_t fill = r->sel->fill;
    bool timed = r->interval > 0;
    if (timed) {
        for (size_t k = 0; k < na; k++) {
            const agg_t *a = &p->aggs[k];
            /* (a count of a field the measurement lacks stays null) */
            bool iscount = (a->fn == A_COUNT || a->fn == A_COUNT_DISTINCT) && a->col >= 0;
            qry_val_t prev = qry__vnull();
            size_t prev_w = 0; /* window of prev (an aggregated, not filled, value) */
            for (size_t w = 0; w < nb; w++) {
                qry_val_t *x = &av[w * na + k];
                bool empty = !st[w * na + k].n;
                if (iscount && empty)
                    *x = qry__vnull();
                if (x->t != QRY_NULL) {
                    prev = *x;
                    prev_w = w;
                    continue;
                }
                switch (fill) {
                case QRY_FILL_DEFAULT:
                case QRY_FILL_NULL:
                    if (iscount)
                        *x = qry__vi(0);
                    break;
                case QRY_FILL_PREVIOUS: *x = prev; break;
                case QRY_FILL_VALUE: {
                    const qry_expr_t *fv = r->sel->fill_value;
                    /* the value takes the aggregate's type, as InfluxDB
                     * casts it: fill(0) of a mean is the float 0 (which
                     * INTO and subqueries store as a float field) */
                    bool fl = a->type == ENG_T_FLOAT || a->fn == A_MEAN || a->fn == A_MEDIAN ||
                              a->fn == A_STDDEV || a->fn == A_INTEGRAL;
                    if ((a->type == ENG_T_BOOL || a->type == ENG_T_STRING) && a->fn != A_COUNT &&
                        a->fn != A_COUNT_DISTINCT)
                        /* a number cast to a boolean or string aggregate's
                         * type: its zero value, as InfluxDB gives */
                        *x = a->type == ENG_T_BOOL ? qry__vb(false) : qry__vs("", 0);
                    else if (fv->kind == QRY_EXPR_INTEGER)
                        *x = fl && !iscount ? qry__vf((double)fv->u.i) : qry__vi(fv->u.i);
                    else if (fl && !iscount)
                        *x = qry__vf(fv->u.f);
                    else /* an integer aggregate: truncated, as InfluxDB casts */
                        *x = qry__vi(go_int64(fv->u.f));
                    break;
                }
                case QRY_FILL_LINEAR: {
                    /* the next window with a value (a count's empty
                     * windows have none, though they hold 0 until the loop
                     * reaches them) */
                    size_t nx = w + 1;
                    while (nx < nb &&
                           (av[nx * na + k].t == QRY_NULL || (iscount && !st[nx * na + k].n)))
                        nx++;
                    if (prev.t == QRY_NULL || nx >= nb)
                        break;
                    qry_val_t nv = av[nx * na + k];
                    /* y0 + (y1 - y0) * dx / dt in float64 over ns
                     * differences, an integer truncated at the end: what
                     * influxd 1.6.7 answered to the last bit in the cases
                     * checked (some others differ in the last bit) */
                    double dt = wrap_diff(r->wins[nx], r->wins[prev_w]);
                    double dx = wrap_diff(r->wins[w], r->wins[prev_w]);
                    if (prev.t == QRY_INT && nv.t == QRY_INT) {
                        double y0 = (double)prev.u.i, dy = wrap_diff(nv.u.i, prev.u.i);
                        *x = qry__vi(go_int64(y0 + dy * dx / dt));
                    } else {
                        double y0 = vnum(&prev), y1 = vnum(&nv);
                        *x = qry__vf(y0 + (y1 - y0) * dx / dt);
                    }
                    break;
                }
                case QRY_FILL_NONE: break;
                }
            }
        }
    }
    /* rows; integral() alone is never filled: InfluxDB's IntegralReducer
     * emits only the windows it saw points in */
    bool integral_only = only_integral(p);
    int64_t *ts = cn_malloc((nb + 1) * sizeof *ts);
    qry_val_t *v = cn_malloc((nb * nc + 1) * sizeof *v);
    size_t n = 0;
    for (size_t w = 0; w < nb; w++) {
        if (!timed && !present[w]) {
            /* no GROUP BY time and no points: no row (count is still 0?) */
            bool allcount = true;
            for (size_t k = 0; k < na; k++)
                allcount &= p->aggs[k].fn == A_COUNT || p->aggs[k].fn == A_COUNT_DISTINCT;
            (void)allcount;
            continue;
        }
        if (timed && (fill == QRY_FILL_NONE || integral_only)) {
            bool any = false;
            for (size_t k = 0; k < na && !any; k++)
                any = st[w * na + k].n != 0;
            if (!any)
                continue;
        }
        cx_env_t env = {.aggs = av + w * na, .time = r->wins[w]};
        if (p->aux) {
            aux_row(r, g, &st[w * na + p->aux_agg], av[w * na + p->aux_agg], apt[w], w ? n : 0,
                    &env, v + n * nc, n ? v + (n - 1) * nc : NULL);
        } else {
            for (size_t c = 0; c < nc; c++)
                v[n * nc + c] = qry__cx_eval(p->cols[c].e, &env);
        }
        ts[n++] = pt[w];
    }
    emit(r, b, g, ts, v, n);
    cn_free(ts);
    cn_free(v);
out:
    cn_free(av);
    cn_free(pt);
    cn_free(apt);
    cn_free(present);
}

/* ------------------------------------------- top(), bottom(), sample() */

/*
 * The multi-point selectors keep every candidate point of a window with
 * its series (ast_t.vsi) and choose at the end (finish_multi):
 *
 *  - top / bottom rank points by value (top: larger first, bottom: smaller
 *    first), equal values by time (earlier first), then by series order,
 *    and return the first N.  With tag arguments each distinct tag tuple
 *    first keeps its best point (InfluxDB runs max()/min() grouped by those
 *    tags), and the best N of those are returned.  Without tag arguments a
 *    state is cut back to its best N whenever it holds twice as many (the
 *    ranking is a total order, so this never changes the answer).
 *  - sample(x, N) is InfluxDB's reservoir sampling over the window's points
 *    in series order, time order within a series, with a fixed-seed
 *    SplitMix64 generator instead of a time-seeded one: the same data gives
 *    the same sample (InfluxDB's differs run to run).
 *
 * Each chosen point is a row at its own time (also with GROUP BY time);
 * rows of a window are in time order, equal times in rank order, and the
 * windows in time order (ORDER BY time DESC reverses all).  Empty windows
 * give no rows (no fill).  Other columns (fields, tags, the tag arguments)
 * take their values at the chosen point.
 */

#define SAMPLE_SEED UINT64_C(0x636169726e5eed01)

typedef struct mrec {
    int64_t ts;
    qry_val_t v;
    uint32_t si;  /* series */
    uint32_t ord; /* position among the state's points */
} mrec_t;

/* Ranks by a->fn: the better point first. */
static int mrec_rank(const mrec_t *x, const mrec_t *y, int fn)
{
    int c = qry__vcmp(&x->v, &y->v);
    if (c)
        return fn == A_TOP ? -c : c;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    if (x->si != y->si)
        return x->si < y->si ? -1 : 1;
    return x->ord < y->ord ? -1 : x->ord > y->ord;
}

static int mrec_top(const void *x, const void *y)
{
    return mrec_rank(x, y, A_TOP);
}

static int mrec_bottom(const void *x, const void *y)
{
    return mrec_rank(x, y, A_BOTTOM);
}

/* Output order inside a window: time, then the given order. */
static int mrec_time(const void *x, const void *y)
{
    const mrec_t *a = x, *b = y;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return a->ord < b->ord ? -1 : a->ord > b->ord;
}

static void push_multi(ast_t *s, int64_t ts, qry_val_t v, uint32_t si)
{
    if (s->nv == s->cv) {
        s->cv = s->cv ? 2 * s->cv : 16;
        s->vals = cn_realloc(s->vals, s->cv * sizeof *s->vals);
        s->vsi = cn_realloc(s->vsi, s->cv * sizeof *s->vsi);
    }
    s->vals[s->nv].ts = ts;
    s->vals[s->nv].v = v;
    s->vsi[s->nv++] = si;
}

/* The state's points as mrecs (OWNED), ord = position. */
static mrec_t *multi_recs(const ast_t *s)
{
    mrec_t *m = cn_malloc((s->nv + 1) * sizeof *m);
    for (uint32_t i = 0; i < s->nv; i++) {
        m[i].ts = s->vals[i].ts;
        m[i].v = s->vals[i].v;
        m[i].si = s->vsi[i];
        m[i].ord = i;
    }
    return m;
}

/* top/bottom without tag arguments: keeps the best nsel points. */
static void multi_prune(const agg_t *a, ast_t *s)
{
    mrec_t *m = multi_recs(s);
    qsort(m, s->nv, sizeof *m, a->fn == A_TOP ? mrec_top : mrec_bottom);
    uint32_t keep = (uint32_t)CN_MIN((int64_t)s->nv, a->nsel);
    for (uint32_t i = 0; i < keep; i++) {
        s->vals[i].ts = m[i].ts;
        s->vals[i].v = m[i].v;
        s->vsi[i] = m[i].si;
    }
    s->nv = keep;
    cn_free(m);
}

static bool multi_prunable(const agg_t *a, const ast_t *s)
{
    if (a->fn == A_SAMPLE || a->nby)
        return false;
    int64_t lim = a->nsel < 256 ? 512 : 2 * a->nsel;
    return (int64_t)s->nv >= lim;
}

static void acc_multi(const agg_t *a, ast_t *s, const eng_batch_t *b, const uint8_t *mask,
                      uint32_t i0, uint32_t i1, uint32_t si, qry__rarena_t *ar)
{
    if (a->col < 0)
        return;
    if (a->trunc) {
        trunc_t t;
        trunc_batch(&t, a, b, i0, i1);
        acc_multi(&t.a, s, &t.b, mask, i0, i1, si, ar);
        cn_free(t.v);
        return;
    }
    eng_type_t t = a->type;
    if (a->fn != A_SAMPLE && t != ENG_T_FLOAT && t != ENG_T_INT)
        return; /* top() and bottom() take numbers only */
    const void *col = b->vals[a->col];
    const uint8_t *ok = b->valid[a->col];
    for (uint32_t i = i0; i < i1; i++) {
        if (!ok[i] || (mask && !mask[i]))
            continue;
        push_multi(s, b->ts[i], own(ar, getv(t, col, i)), si);
        s->n++;
        if (multi_prunable(a, s))
            multi_prune(a, s);
    }
}

static void merge_multi(const agg_t *a, ast_t *d, ast_t *s)
{
    for (uint32_t i = 0; i < s->nv; i++) {
        push_multi(d, s->vals[i].ts, s->vals[i].v, s->vsi[i]);
        if (multi_prunable(a, d))
            multi_prune(a, d);
    }
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

typedef struct kent {
    const char *key;
    uint32_t pos; /* rank */
} kent_t;

static int kent_cmp(const void *x, const void *y)
{
    const kent_t *a = x, *b = y;
    int c = strcmp(a->key, b->key);
    if (c)
        return c;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static int kent_pos(const void *x, const void *y)
{
    const kent_t *a = x, *b = y;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* The tag-argument key of series si (cached in keys[], arena strings). */
static const char *by_key(run_t *r, const agg_t *a, uint32_t si, const char **keys, cn_buf_t *kb)
{
    if (keys[si])
        return keys[si];
    cn_buf_reset(kb);
    for (size_t j = 0; j < a->nby; j++) {
        const char *v = a->by[j] >= 0 ? r->series[si].tags[a->by[j]] : "";
        cn_buf_put(kb, v, strlen(v));
        cn_buf_put_u8(kb, 0x1f);
    }
    keys[si] = qry__rstrndup(r->arenas[0], kb->p ? (const char *)kb->p : "", kb->len);
    return keys[si];
}

/* Chooses the points of one state into out (OWNED, *n of them), in output
 * order (time, then rank / sample order). */
static mrec_t *multi_choose(run_t *r, const agg_t *a, const ast_t *s, const char **keys,
                            cn_buf_t *kb, size_t *n)
{
    *n = 0;
    if (!s->nv)
        return NULL;
    mrec_t *m = multi_recs(s);
    size_t k = 0;
    if (a->fn == A_SAMPLE) {
        /* reservoir: the first N, then point i replaces slot j < N with
         * probability N/(i+1) */
        uint64_t st = SAMPLE_SEED;
        size_t cap = (size_t)CN_MIN((int64_t)s->nv, a->nsel);
        uint32_t *res = cn_malloc((cap + 1) * sizeof *res);
        for (uint32_t i = 0; i < s->nv; i++) {
            if (i < cap) {
                res[i] = i;
                continue;
            }
            uint64_t j = splitmix64(&st) % ((uint64_t)i + 1);
            if (j < cap)
                res[j] = i;
        }
        mrec_t *o = cn_malloc((cap + 1) * sizeof *o);
        for (size_t i = 0; i < cap; i++)
            o[i] = m[res[i]];
        k = cap;
        cn_free(res);
        cn_free(m);
        m = o;
    } else {
        qsort(m, s->nv, sizeof *m, a->fn == A_TOP ? mrec_top : mrec_bottom);
        if (a->nby) {
            /* the best point of each tag tuple, then the best N of those */
            kent_t *ke = cn_malloc((s->nv + 1) * sizeof *ke);
            for (uint32_t i = 0; i < s->nv; i++) {
                ke[i].key = by_key(r, a, m[i].si, keys, kb);
                ke[i].pos = i;
            }
            qsort(ke, s->nv, sizeof *ke, kent_cmp);
            size_t nk = 0;
            for (uint32_t i = 0; i < s->nv; i++)
                if (i == 0 || strcmp(ke[i].key, ke[i - 1].key) != 0)
                    ke[nk++] = ke[i];
            qsort(ke, nk, sizeof *ke, kent_pos);
            k = (size_t)CN_MIN((int64_t)nk, a->nsel);
            mrec_t *o = cn_malloc((k + 1) * sizeof *o);
            for (size_t i = 0; i < k; i++)
                o[i] = m[ke[i].pos];
            cn_free(ke);
            cn_free(m);
            m = o;
        } else {
            k = (size_t)CN_MIN((int64_t)s->nv, a->nsel);
        }
        for (size_t i = 0; i < k; i++)
            m[i].ord = (uint32_t)i; /* rank breaks ties of time */
    }
    qsort(m, k, sizeof *m, mrec_time);
    *n = k;
    return m;
}

static bool cx_has_col(const cx_t *e)
{
    return e && e->k != CX_AGG && (e->k == CX_COL || cx_has_col(e->a) || cx_has_col(e->b));
}

static void finish_multi(run_t *r, qry__rb_t *b, const group_t *g, ast_t *st)
{
    const plan_t *p = r->p;
    size_t na = p->naggs, nc = p->ncols;
    qry__rarena_t *ar = r->arenas[0];
    bool need_point = false; /* a column reads other fields at the point */
    for (size_t c = 0; c < nc; c++)
        need_point |= cx_has_col(p->cols[c].e);
    const char **keys = NULL;
    for (size_t k = 0; k < na && !keys; k++)
        if (p->aggs[k].nby)
            keys = cn_calloc(r->nseries + 1, sizeof *keys);
    cn_buf_t kb;
    cn_buf_init(&kb);
    size_t cap = 16, n = 0;
    int64_t *ts = cn_malloc(cap * sizeof *ts);
    qry_val_t *v = cn_malloc(cap * (nc + 1) * sizeof *v);
    qry_val_t *av = cn_calloc(na + 1, sizeof *av);
    qry_val_t stk[32];
    qry_val_t *rowv = p->nscan <= 32 ? stk : cn_malloc(p->nscan * sizeof *rowv);
    for (size_t w = 0; w < r->nb; w++) {
        /* the chosen points of every aggregate of the window, merged by
         * time: points of different aggregates at one time share a row */
        mrec_t *all = NULL;
        uint32_t *agg_of = NULL;
        size_t nall = 0;
        for (size_t k = 0; k < na; k++) {
            size_t m;
            mrec_t *ch = multi_choose(r, &p->aggs[k], &st[w * na + k], keys, &kb, &m);
            all = cn_realloc(all, (nall + m + 1) * sizeof *all);
            agg_of = cn_realloc(agg_of, (nall + m + 1) * sizeof *agg_of);
            for (size_t i = 0; i < m; i++) {
                all[nall] = ch[i];
                all[nall].ord = (uint32_t)nall; /* keeps each list's order */
                agg_of[nall++] = (uint32_t)k;
            }
            cn_free(ch);
        }
        if (na > 1) {
            /* stable by time: tag each with its index, sort, remap aggs */
            uint32_t *ko = cn_malloc((nall + 1) * sizeof *ko);
            memcpy(ko, agg_of, nall * sizeof *ko);
            qsort(all, nall, sizeof *all, mrec_time);
            for (size_t i = 0; i < nall; i++)
                agg_of[i] = ko[all[i].ord];
            cn_free(ko);
        }
        for (size_t i = 0; i < nall;) {
            size_t j = i;
            for (size_t k = 0; k < na; k++)
                av[k] = qry__vnull();
            /* one row: this point and points of other aggregates at its time */
            uint32_t used = 0;
            while (j < nall && all[j].ts == all[i].ts && agg_of[j] < 32 &&
                   !(used & (UINT32_C(1) << agg_of[j]))) {
                used |= UINT32_C(1) << agg_of[j];
                av[agg_of[j]] = all[j].v;
                j++;
                if (na == 1)
                    break;
            }
            if (j == i) { /* more than 32 aggregates: one point per row */
                av[agg_of[i]] = all[i].v;
                j = i + 1;
            }
            const mrec_t *pt = &all[i];
            cx_env_t env = {.aggs = av, .time = pt->ts, .tags = r->series[pt->si].tags};
            for (size_t c = 0; c < p->nscan; c++)
                rowv[c] = qry__vnull();
            if (need_point)
                read_point(r, pt->si, pt->ts, rowv, ar);
            env.cols = rowv;
            if (n == cap) {
                cap *= 2;
                ts = cn_realloc(ts, cap * sizeof *ts);
                v = cn_realloc(v, cap * (nc + 1) * sizeof *v);
            }
            for (size_t c = 0; c < nc; c++)
                v[n * nc + c] = own(ar, qry__cx_eval(p->cols[c].e, &env));
            ts[n++] = pt->ts;
            i = j;
        }
        cn_free(all);
        cn_free(agg_of);
    }
    (void)g;
    emit(r, b, g, ts, v, n);
    if (rowv != stk)
        cn_free(rowv);
    cn_free(av);
    cn_free(ts);
    cn_free(v);
    cn_free(keys);
    cn_buf_free(&kb);
}

/* ---------------------------------------------------------------- entry */

/* Extracts [tmin, tmax) from the top-level AND of the condition. */
static int time_range(const qry_expr_t *e, int64_t now, int64_t *tmin, int64_t *tmax,
                      bool *lower, bool *upper)
{
    if (!e)
        return 0;
    if (e->kind == QRY_EXPR_BINARY && e->u.bin.op == QRY_OP_AND) {
        int rc = time_range(e->u.bin.lhs, now, tmin, tmax, lower, upper);
        return rc < 0 ? rc : time_range(e->u.bin.rhs, now, tmin, tmax, lower, upper);
    }
    if (!qry__is_time_cond(e))
        return 0;
    qry_op_t op = e->u.bin.op;
    const qry_expr_t *val = e->u.bin.rhs;
    if (e->u.bin.rhs->kind == QRY_EXPR_VAR && strcmp(e->u.bin.rhs->u.var.name, "time") == 0) {
        val = e->u.bin.lhs;
        switch (op) { /* mirror: 5 < time is time > 5 */
        case QRY_OP_LT: op = QRY_OP_GT; break;
        case QRY_OP_LTE: op = QRY_OP_GTE; break;
        case QRY_OP_GT: op = QRY_OP_LT; break;
        case QRY_OP_GTE: op = QRY_OP_LTE; break;
        default: break;
        }
    }
    int64_t t;
    if (qry__const_time(val, now, &t) < 0)
        return CN_EINVAL;
    switch (op) {
    case QRY_OP_GT:
        if (t != INT64_MAX && t + 1 > *tmin)
            *tmin = t + 1;
        *lower = true;
        break;
    case QRY_OP_GTE:
        if (t > *tmin)
            *tmin = t;
        *lower = true;
        break;
    case QRY_OP_LT:
        if (t < *tmax)
            *tmax = t;
        *upper = true;
        break;
    case QRY_OP_LTE:
        if (t != INT64_MAX && t + 1 < *tmax)
            *tmax = t + 1;
        *upper = true;
        break;
    case QRY_OP_EQ:
        if (t > *tmin)
            *tmin = t;
        if (t != INT64_MAX && t + 1 < *tmax)
            *tmax = t + 1;
        *lower = *upper = true;
        break;
    default: return CN_EINVAL;
    }
    return 0;
}

int qry__where_time(const qry_expr_t *e, int64_t now, int64_t *tmin, int64_t *tmax)
{
    bool lo = false, hi = false;
    return time_range(e, now, tmin, tmax, &lo, &hi);
}

static void run_free(run_t *r)
{
    for (size_t u = 0; u < r->nunits; u++) {
        unit_t *un = &r->units[u];
        if (un->st) {
            size_t n = r->nb * r->p->naggs;
            for (size_t i = 0; i < n; i++) /* most windows collected nothing */
                if (un->st[i].vals || un->st[i].vsi) {
                    cn_free(un->st[i].vals);
                    cn_free(un->st[i].vsi);
                }
            cn_free(un->st);
        }
        cn_free(un->rows.ts);
        cn_free(un->rows.seq);
        cn_free(un->rows.v);
    }
    cn_free(r->units);
    cn_free(r->series);
    cn_free(r->groups);
    cn_free(r->wins);
    if (r->arenas)
        for (size_t i = 0; r->arenas[i]; i++)
            qry__rarena_free(r->arenas[i]);
    cn_free(r->arenas);
    pthread_mutex_destroy(&r->mu);
}

/* Earliest point of the selected series (GROUP BY time without a lower
 * bound). */
static int64_t data_min(run_t *r)
{
    int64_t m = INT64_MAX;
    for (size_t i = 0; i < r->nseries; i++) {
        eng_iter_t *it;
        if (eng_iter_open(r->snap, r->series[i].sid, r->p->scan_fid, r->p->nscan, r->tmin,
                          r->tmax, &it) < 0)
            continue;
        eng_batch_t b;
        eng_stat_t st[16];
        uint32_t rows;
        if (r->p->nscan <= 16 && eng_iter_peek_stats(it, st, &rows) == 1) {
            for (size_t c = 0; c < r->p->nscan; c++)
                if (st[c].count && st[c].tmin < m)
                    m = st[c].tmin;
        } else if (eng_iter_next(it, &b) == 1 && b.n && b.ts[0] < m) {
            m = b.ts[0];
        }
        eng_iter_close(it);
    }
    return m;
}

static int run_measurement(const qry_select_t *sel, const qry_exec_opts_t *o, eng_snap_t *snap,
                           const char *meas, const qry__wild_t *wild, const qry__tz_t *tz,
                           int64_t tmin, int64_t tmax, bool lower, uint64_t lvc_gen, qry__rb_t *b,
                           uint64_t *nseries_total)
{
    plan_t p;
    char msg[256] = "";
    size_t first_series = b->r->nseries;
    int rc = qry__plan_among(sel, snap, meas, wild, &p, msg, sizeof msg);
    if (rc < 0) {
        qry__rb_err(b, "%s", msg);
        qry__plan_free(&p);
        return rc;
    }
    run_t r;
    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.mu, NULL);
    r.sel = sel;
    r.o = o;
    r.p = &p;
    r.snap = snap;
    r.tmin = tmin;
    r.out_min = INT64_MIN;
    r.out_max = INT64_MAX;
    r.tmax = tmax;
    r.qmin = tmin;
    r.qmax = tmax;
    r.has_lower = lower;
    r.tz = tz;
    if (sel->time_dim) {
        r.interval = sel->time_dim->interval;
        r.offset = sel->time_dim->offset % r.interval;
    }
    if (p.ncols == 0) {
        run_free(&r);
        qry__plan_free(&p);
        return 0;
    }
    if (p.nscan == 0 && !p.aggregate) {
        run_free(&r);
        qry__plan_free(&p);
        return 0;
    }
    rc = select_series(&r, p.ar);
    if (rc < 0) {
        qry__rb_err(b, "%s", rc == CN_EINVAL ? "invalid regular expression" : cn_strerror(rc));
        goto done;
    }
    /* SLIMIT / SOFFSET on the groups */
    {
        size_t so = sel->soffset > 0 ? (size_t)sel->soffset : 0;
        if (so >= r.ngroups)
            r.ngroups = 0;
        else {
            memmove(r.groups, r.groups + so, (r.ngroups - so) * sizeof *r.groups);
            r.ngroups -= so;
        }
        if (sel->slimit > 0 && (size_t)sel->slimit < r.ngroups)
            r.ngroups = (size_t)sel->slimit;
    }
    size_t nsel = 0;
    for (size_t g = 0; g < r.ngroups; g++)
        nsel += r.groups[g].ns;
    *nseries_total += nsel;
    if (o->max_series && *nseries_total > o->max_series) {
        qry__rb_err(b, "max-select-series limit exceeded: (%llu/%llu)",
                    (unsigned long long)*nseries_total, (unsigned long long)o->max_series);
        rc = CN_ELIMIT;
        goto done;
    }
    if (r.ngroups == 0 || p.nscan == 0)
        goto done;
    /* windows */
    if (p.aggregate) {
        if (r.interval > 0) {
            if (!lower) {
                int64_t m = data_min(&r);
                if (m == INT64_MAX)
                    goto done;
                r.tmin = m;
            }
            int64_t first = win_start(&r, r.tmin);
            if (sel->order_desc && tf_lookback(&p) && r.tmax < INT64_MAX - r.interval) {
                /* descending, the last window needs the one after it */
                r.out_max = r.tmax;
                r.tmax += r.interval;
            } else if (!sel->order_desc && lower && tf_lookback(&p) &&
                       r.tmin > INT64_MIN + r.interval) {
                /* a transformation's first window needs the one before:
                 * read from an interval earlier, output from the first */
                r.out_min = first;
                r.tmin -= r.interval;
                first = win_start(&r, r.tmin);
            }
            size_t cap = 64;
            r.wins = cn_malloc(cap * sizeof *r.wins);
            int64_t w = first;
            while (w < r.tmax) {
                if (r.nb == cap) {
                    cap *= 2;
                    r.wins = cn_realloc(r.wins, cap * sizeof *r.wins);
                }
                r.wins[r.nb++] = w;
                uint64_t lim = o->max_points ? o->max_points : 100000000;
                if (r.nb > lim || r.nb > 100000000) {
                    qry__rb_err(b, "max-select-buckets limit exceeded: (%zu/%llu)", r.nb,
                                (unsigned long long)lim);
                    rc = CN_ELIMIT;
                    goto done;
                }
                int64_t nx;
                if (__builtin_add_overflow(w, r.interval, &nx))
                    break;
                /* a window the clocks go back in lasts longer, by the
                 * offsets' difference (InfluxDB's Window(): its end moves
                 * by zone(start) - zone(end) when that is positive and
                 * shorter than the interval) */
                int64_t d = r.tz ? ((int64_t)qry__tz_offset(r.tz, w - r.offset) -
                                    (int64_t)qry__tz_offset(r.tz, nx - r.offset)) *
                                       1000000000
                                 : 0;
                if (d > 0 && d < r.interval && nx <= INT64_MAX - d) {
                    w = nx + d;
                } else {
                    int64_t ws = win_start(&r, nx);
                    w = ws > w ? ws : nx;
                }
            }
        } else {
            r.nb = 1;
            r.wins = cn_malloc(sizeof *r.wins);
            /* the row's time: the range's start, but 0 for integral()
             * alone (InfluxDB's IntegralReducer emits its empty window) */
            r.wins[0] = lower && !only_integral(&p) ? tmin : 0;
        }
        r.stats_ok = true;
        r.prune_ok = true;
        /* last() of fields, no field filter, no windows, open upper end */
        r.lvc = p.naggs > 0 && !p.rowcond && !p.aux && r.interval == 0 && tmax == INT64_MAX;
        for (size_t k = 0; k < p.naggs; k++)
            r.lvc &= p.aggs[k].fn == A_LAST && p.aggs[k].col >= 0 && !p.aggs[k].trunc;
        r.lvc_gen = lvc_gen;
        for (size_t k = 0; k < p.naggs; k++) {
            const agg_t *a = &p.aggs[k];
            if (!agg_stats_ok(a, p.point_time)) {
                r.stats_ok = false;
                if (a->trunc || !((a->fn == A_MIN || a->fn == A_MAX) &&
                                  (a->type == ENG_T_FLOAT || a->type == ENG_T_INT)))
                    r.prune_ok = false;
            }
        }
    }
    /* units */
    r.units = cn_calloc(r.nseries + r.ngroups + 1, sizeof *r.units);
    for (size_t g = 0; g < r.ngroups; g++) {
        group_t *gr = &r.groups[g];
        /* at least UNIT_MIN units where there are as many series, so
         * that threads share a group's series by pulling small units (two
         * of 64 and 36 series finished one after the other whenever the
         * second thread started late: bench/run query's Q4 took 5 or
         * 10-12 ms) */
        size_t step = p.aggregate ? CN_MIN((size_t)UNIT_SERIES, (gr->ns + UNIT_MIN - 1) / UNIT_MIN)
                                  : gr->ns;
        for (size_t s = 0; s < gr->ns; s += step) {
            unit_t *u = &r.units[r.nunits++];
            u->g = g;
            u->s0 = gr->s0 + s;
            u->ns = CN_MIN(step, gr->ns - s);
        }
    }
    run_units(&r);
    rc = atomic_load(&r.err);
    if (rc) {
        if (rc == CN_ECLOSED)
            goto done;
        qry__rb_err(b, "%s", r.errmsg);
        goto done;
    }
    /* merge and emit, group by group */
    for (size_t ui = 0; ui < r.nunits;) {
        size_t g = r.units[ui].g, uj = ui + 1;
        while (uj < r.nunits && r.units[uj].g == g)
            uj++;
        if (p.aggregate) {
            ast_t *d = r.units[ui].st;
            size_t n = r.nb * p.naggs;
            for (size_t u = ui + 1; u < uj; u++)
                for (size_t i = 0; i < n; i++)
                    merge_state(&p.aggs[i % p.naggs], &d[i], &r.units[u].st[i]);
            finish_aggregate(&r, b, &r.groups[g], d);
            rc = atomic_load(&r.err);
            if (rc) {
                qry__rb_err(b, "%s", r.errmsg);
                goto done;
            }
        } else {
            rows_t *rw = &r.units[ui].rows;
            size_t n = rw->n;
            if (n) {
                size_t *idx = cn_malloc(n * sizeof *idx), *tmp = cn_malloc(n * sizeof *tmp);
                for (size_t i = 0; i < n; i++)
                    idx[i] = i;
                msort(idx, tmp, n, rw);
                int64_t *ts = cn_malloc(n * sizeof *ts);
                qry_val_t *v = cn_malloc(n * p.ncols * sizeof *v + 1);
                for (size_t i = 0; i < n; i++) {
                    ts[i] = rw->ts[idx[i]];
                    memcpy(v + i * p.ncols, rw->v + idx[i] * p.ncols, p.ncols * sizeof *v);
                }
                emit(&r, b, &r.groups[g], ts, v, n);
                cn_free(ts);
                cn_free(v);
                cn_free(idx);
                cn_free(tmp);
            }
        }
        ui = uj;
    }
    rc = 0;
    /* ORDER BY time DESC lists the measurement's series in reverse too
     * (after SLIMIT / SOFFSET chose them), as InfluxDB 1.6.7 does */
    if (sel->order_desc)
        for (size_t i = first_series, j = b->r->nseries; i + 1 < j; i++, j--) {
            qry_series_t t = b->r->series[i];
            b->r->series[i] = b->r->series[j - 1];
            b->r->series[j - 1] = t;
        }
done:
    run_free(&r);
    qry__plan_free(&p);
    return rc;
}

static int strpcmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ------------------------------------------------------------ subqueries */

static int subquery(const qry_select_t *sel, const qry_exec_opts_t *o, qry__rb_t *b);

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 ? 0 : 0;
}

/* The inner statement of a subquery with the outer one's GROUP BY tags
 * added to its own, as InfluxDB pushes them down: SELECT count(m) FROM
 * (SELECT max(x) AS m FROM cpu GROUP BY time(1m)) GROUP BY host takes the
 * maxima per host, and an inner LIMIT counts per host.  *buf receives the
 * dimensions' array (NULL when unchanged), for the caller to free. */
static qry_select_t push_dims(const qry_select_t *in, const qry_select_t *out, qry_dim_t **buf)
{
    qry_select_t s = *in;
    *buf = NULL;
    if (out->ndims == 0 || (out->ndims == 1 && out->time_dim))
        return s;
    qry_dim_t *d = cn_malloc((in->ndims + out->ndims) * sizeof *d);
    size_t n = 0;
    for (size_t i = 0; i < in->ndims; i++) {
        d[n] = in->dims[i];
        if (&in->dims[i] == in->time_dim)
            s.time_dim = &d[n];
        n++;
    }
    for (size_t i = 0; i < out->ndims; i++) {
        const qry_dim_t *o = &out->dims[i];
        bool dup = o->kind == QRY_DIM_TIME;
        for (size_t k = 0; k < n && !dup; k++)
            dup = d[k].kind == o->kind &&
                  (o->kind == QRY_DIM_WILDCARD || strcmp(d[k].name, o->name) == 0);
        if (!dup)
            d[n++] = *o;
    }
    s.dims = d;
    s.ndims = n;
    *buf = d;
    return s;
}

/* SELECT ... FROM (SELECT ...): the inner statements run first (with the
 * outer GROUP BY tags, push_dims); their rows become series of a private
 * in-memory engine (a temporary directory, removed afterwards) that the
 * outer statement then reads like any data: inner column names are its
 * fields, inner group-by tags its tags (qry__write_rows, as SELECT INTO
 * writes them).  Rows of one inner series at one time (several series'
 * raw rows, distinct()'s values) each stay a point there (QRY__ROW_TAG),
 * as InfluxDB streams each. */
static int subquery(const qry_select_t *sel, const qry_exec_opts_t *o, qry__rb_t *b)
{
    for (size_t i = 0; i < sel->nsources; i++)
        if (sel->sources[i].kind != QRY_SRC_SUBQUERY) {
            qry__rb_err(b, "cannot mix subqueries and measurements in FROM");
            return 0;
        }
    const char *tmpdir = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/cairn-subquery.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(dir)) {
        qry__rb_err(b, "subquery: cannot create a temporary directory");
        return 0;
    }
    eng_opts_t eo;
    eng_opts_default(&eo);
    eo.dir = dir;
    eo.durability = ENG_DUR_OS;
    eo.background = false;
    eng_db_t *tdb = NULL;
    int rc = eng_open(&eo, &tdb);
    if (rc < 0) {
        qry__rb_err(b, "subquery: %s", cn_strerror(rc));
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        return 0;
    }
    for (size_t i = 0; i < sel->nsources && rc == 0; i++) {
        qry__rb_t ib;
        qry__rb_init(&ib);
        qry_dim_t *dims;
        qry_select_t inner = push_dims(sel->sources[i].sub, sel, &dims);
        rc = qry__exec_select(&inner, o, &ib);
        cn_free(dims);
        if (rc == 0 && ib.r->err)
            qry__rb_err(b, "%s", ib.r->err);
        else if (rc == 0) {
            qry__wrote_t w; /* a type conflict drops the field, unreported */
            rc = qry__write_rows(tdb, ib.r, NULL, o, true, b, &w);
            if (rc < 0 && rc != CN_ECLOSED)
                qry__rb_err(b, "subquery: %s", cn_strerror(rc));
        }
        bool failed = ib.r->err != NULL;
        qry_result_free(ib.r);
        if (failed) {
            rc = 1;
            break;
        }
    }
    if (rc == 0) {
        /* the outer statement over every measurement of the private engine */
        qry_select_t outer = *sel;
        qry_source_t all = {.kind = QRY_SRC_REGEX, .name = ""};
        outer.sources = &all;
        outer.nsources = 1;
        qry_exec_opts_t io = *o;
        io.db = tdb;
        io.absent_tags_empty = true;
        rc = qry__exec_select(&outer, &io, b);
    }
    eng_close(tdb);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc == CN_ECLOSED ? rc : 0;
}

int qry__exec_select(const qry_select_t *sel, const qry_exec_opts_t *o, qry__rb_t *b)
{
    if (sel->into)
        return qry__exec_into(sel, o, b);
    int64_t tmin = INT64_MIN + 1, tmax = INT64_MAX;
    bool lower = false, upper = false;
    if (time_range(sel->cond, o->now, &tmin, &tmax, &lower, &upper) < 0) {
        qry__rb_err(b, "invalid time condition");
        return 0;
    }
    bool agg = false;
    for (size_t i = 0; i < sel->nfields; i++) {
        const qry_expr_t *e = sel->fields[i].expr;
        agg |= e->kind == QRY_EXPR_CALL; /* refined by the plan */
    }
    if (sel->time_dim && !upper)
        tmax = o->now + 1; /* GROUP BY time without an upper bound ends at now() */
    (void)agg;
    qry__tz_t *tz = NULL;
    if (sel->tz) {
        if (qry__tz_load(sel->tz, &tz) < 0) {
            qry__rb_err(b, "unable to find time zone %s", sel->tz);
            return 0;
        }
    }
    for (size_t i = 0; i < sel->nsources; i++)
        if (sel->sources[i].kind == QRY_SRC_SUBQUERY) {
            qry__tz_free(tz);
            return subquery(sel, o, b);
        }
    uint64_t lvc_gen = eng_last_gen(o->db); /* before the snapshot (engine.h) */
    eng_snap_t *snap;
    int rc = eng_snap_open(o->db, &snap);
    if (rc < 0) {
        qry__tz_free(tz);
        qry__rb_err(b, "%s", cn_strerror(rc));
        return 0;
    }
    /* measurement names, each once, sorted */
    const char **all;
    size_t nall = eng_snap_measurements(snap, &all);
    const char **names = cn_malloc((nall + sel->nsources + 1) * sizeof(char *));
    size_t nn = 0;
    for (size_t i = 0; i < sel->nsources; i++) {
        const qry_source_t *src = &sel->sources[i];
        if (src->kind == QRY_SRC_MEASUREMENT) {
            for (size_t k = 0; k < nall; k++)
                if (strcmp(all[k], src->name) == 0)
                    names[nn++] = all[k];
        } else if (src->kind == QRY_SRC_REGEX) {
            regex_t re;
            if (qry_regcomp(&re, src->name, NULL) < 0) {
                qry__rb_err(b, "error parsing regex /%s/", src->name);
                goto out;
            }
            for (size_t k = 0; k < nall; k++)
                if (regexec(&re, all[k], 0, NULL, 0) == 0)
                    names[nn++] = all[k];
            regfree(&re);
        }
    }
    if (nn)
        qsort(names, nn, sizeof *names, strpcmp);
    size_t u = 0; /* each once */
    for (size_t i = 0; i < nn; i++)
        if (!u || strcmp(names[i], names[u - 1]) != 0)
            names[u++] = names[i];
    nn = u;
    qry__wild_t wild;
    qry__wild_build(sel, snap, names, nn, &wild);
    uint64_t nser = 0;
    for (size_t k = 0; k < nn; k++) {
        /* ORDER BY time DESC: the measurements in reverse too (InfluxDB) */
        size_t i = sel->order_desc ? nn - 1 - k : k;
        rc = run_measurement(sel, o, snap, names[i], &wild, tz, tmin, tmax, lower, lvc_gen, b,
                             &nser);
        if (rc == CN_ECLOSED || b->r->err)
            break;
    }
    qry__wild_free(&wild);
    b->r->tz = tz;
    tz = NULL;
out:
    qry__tz_free(tz);
    cn_free(names);
    eng_snap_close(snap);
    return rc == CN_ECLOSED ? rc : 0;
}
