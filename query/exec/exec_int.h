/* SPDX-License-Identifier: MIT */
/*
 * exec_int.h - private to query/exec/: the result arena, the result
 * builder, constant folding of WHERE time bounds and the regex helper.
 */
#ifndef QRY_EXEC_INT_H
#define QRY_EXEC_INT_H

#include "exec.h"
#include "rx.h"

#include <regex.h>

/* ------------------------------------------------------------ the arena */

/* Bump allocator for result strings and arrays.  Not thread-safe: each
 * worker thread has its own and qry__rarena_join moves one into another. */
qry__rarena_t *qry__rarena_new(void);
void qry__rarena_free(qry__rarena_t *a);
void *qry__ralloc(qry__rarena_t *a, size_t n); /* zeroed, 16-aligned */
char *qry__rstrndup(qry__rarena_t *a, const char *s, size_t n);
char *qry__rstrdup(qry__rarena_t *a, const char *s);
/* Moves every chunk of src into dst; src is freed. */
void qry__rarena_join(qry__rarena_t *dst, qry__rarena_t *src);

/* ------------------------------------------------------- result builder */

/* Growable list of series while a statement runs. */
typedef struct qry__rb {
    qry_result_t *r;
    size_t cap;
} qry__rb_t;

void qry__rb_init(qry__rb_t *b);
/* Appends a series with ncols columns (names copied); returns it. */
qry_series_t *qry__rb_series(qry__rb_t *b, const char *name, const char *const *cols, size_t ncols);
/* Appends a row (ncols values, strings copied) to the series. */
void qry__rb_row(qry__rb_t *b, qry_series_t *s, const qry_val_t *row);
/* Sets the statement error (printf style); series are dropped. */
void qry__rb_err(qry__rb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Row storage grows by doubling; rows_cap is kept in the series' hidden
 * tail, so qry__rb_row must be the only writer of s->vals. */

/* ------------------------------------------------------------ constants */

static inline qry_val_t qry__vnull(void)
{
    qry_val_t v = {.t = QRY_NULL};
    return v;
}
static inline qry_val_t qry__vf(double f)
{
    qry_val_t v = {.t = QRY_FLOAT, .u.f = f};
    return v;
}
static inline qry_val_t qry__vi(int64_t i)
{
    qry_val_t v = {.t = QRY_INT, .u.i = i};
    return v;
}
/* A float as Go's int64(x) gives it on amd64: truncated toward zero, and
 * INT64_MIN where it does not fit (x::integer of a float field). */
static inline int64_t qry__f64_to_i64(double x)
{
    return x > -9223372036854775808.0 && x < 9223372036854775808.0 ? (int64_t)x : INT64_MIN;
}
static inline qry_val_t qry__vb(bool b)
{
    qry_val_t v = {.t = QRY_BOOL, .u.b = b};
    return v;
}
static inline qry_val_t qry__vs(const char *p, size_t n)
{
    qry_val_t v = {.t = QRY_STR};
    v.u.s.p = p;
    v.u.s.len = (uint32_t)n;
    return v;
}
static inline qry_val_t qry__vtime(int64_t ns)
{
    qry_val_t v = {.t = QRY_TIME, .u.i = ns};
    return v;
}

/* Evaluates a constant time expression (time literal, integer ns,
 * duration, now(), + / - of those).  Returns 0 or CN_EINVAL. */
int qry__const_time(const qry_expr_t *e, int64_t now, int64_t *ns /* OUT */);

/* Compare two values for sorting/min/max: numbers numerically (int vs
 * float as double), strings bytewise, false < true; nulls first. */
int qry__vcmp(const qry_val_t *a, const qry_val_t *b);

/* Statement kinds other than SELECT (exec/show.c). */
int qry__exec_show(const qry_show_t *sh, const qry_exec_opts_t *o, qry__rb_t *b);
int qry__exec_ddl(const qry_stmt_t *st, const qry_exec_opts_t *o, qry__rb_t *b);
/* SELECT (exec/select.c). */
int qry__exec_select(const qry_select_t *sel, const qry_exec_opts_t *o, qry__rb_t *b);
/* Whether o's statement must stop (select.c): 0; CN_ECLOSED when the
 * client went away; CN_ELIMIT after KILL QUERY or past the deadline, with
 * InfluxDB's words in *why ("query interrupted", "query-timeout limit
 * exceeded"). */
int qry__stopped(const qry_exec_opts_t *o, const char **why /* OUT */);
/* SELECT ... INTO (into.c): runs sel without INTO and writes its rows. */
int qry__exec_into(const qry_select_t *sel, const qry_exec_opts_t *o, qry__rb_t *b);
/* What qry__write_rows did. */
typedef struct qry__wrote {
    uint64_t seq;       /* the last write's WAL sequence, 0: none */
    uint64_t written;   /* points stored */
    uint64_t dropped;   /* fields rejected */
    char conflict[512]; /* the first rejection in InfluxDB's words, "" */
} qry__wrote_t;
/* The tag key a subquery's rows get when a series has several at one
 * time (the second "1", the third "2", ...), so that each stays a point of
 * its own in the private engine; plans never see it (plan.c). */
#define QRY__ROW_TAG "\x01row"
/* Writes every row of r into db as one point (into.c): measurement meas
 * (NULL: the series' name), the series' non-empty tags, the row's time,
 * its other non-null columns as fields; a row without any is skipped.
 * Rows of a series at one time merge into one point, unless keep_rows:
 * then the second and later get QRY__ROW_TAG.  With o, stops between
 * batches when o's request is cancelled (CN_ECLOSED), killed or past its
 * deadline (1, the error set in b).  Returns 0, 1 or a negative code from
 * the engine. */
int qry__write_rows(eng_db_t *db, const qry_result_t *r, const char *meas, const qry_exec_opts_t *o,
                    bool keep_rows, qry__rb_t *b, qry__wrote_t *w /* OUT */);
/* INTO's target: 0 when database db exists and rp (NULL or "": its
 * default) is one of its policies, else -1 with the statement's error. */
int qry__cat_target(qry_catalog_t *c, const char *db, const char *rp, qry__rb_t *b);

/* [tmin, tmax) from the top-level AND of time comparisons in e. */
int qry__where_time(const qry_expr_t *e, int64_t now, int64_t *tmin, int64_t *tmax);
/* Go's time.Duration.String() ("168h0m0s"). */
void qry__go_duration(int64_t ns, cn_buf_t *out);

/* Time zones (exec/tz.c): a loaded zone answers the UTC offset at an
 * instant.  Returns 0 or CN_EINVAL ("unknown time zone"). */
typedef struct qry__tz qry__tz_t;
int qry__tz_load(const char *name, qry__tz_t **out /* OUT */);
/* The same from TZif bytes (the fuzz target). */
int qry__tz_parse(const uint8_t *d, size_t len, qry__tz_t **out /* OUT */);
void qry__tz_free(qry__tz_t *z);
int32_t qry__tz_offset(const qry__tz_t *z, int64_t ns); /* seconds east of UTC */

#endif /* QRY_EXEC_INT_H */
