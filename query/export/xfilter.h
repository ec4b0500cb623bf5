/* SPDX-License-Identifier: MIT */
/*
 * xfilter.h - the InfluxQL condition of `cairn export --where` and of
 * GET /api/v1/export?where= (issue 7), compiled against one measurement.
 *
 * This is export's own small evaluator, written while the general query
 * executor (query/exec/) was being built; the two should be unified once
 * the executor has a row-filter entry point.
 *
 * qry_xf_compile() splits the condition (parsed by qry_parse_expr) into
 *   - tag predicates: top-level AND terms `tag = 'v'`, `tag != 'v'`,
 *     `tag =~ /re/`, `tag !~ /re/` go to eng_snap_select (the tag index);
 *   - a time range: top-level AND terms comparing `time` with a constant
 *     (`time >= '2026-01-01' AND time < now() - 1h`, integers are ns)
 *     narrow [tmin, tmax);
 *   - the rest, evaluated per series (terms on tags only) and per row.
 * Semantics follow InfluxDB 1.x: a name is a field when the measurement has
 * a field of that name, else a tag (`::tag` / `::field` force either); a
 * missing tag reads as '' (and never matches a regex, as in the index); a
 * comparison with a null field (the row has no value) is false; integer and
 * float compare numerically; strings compare bytewise; integer / integer is
 * a float; +, -, *, /, %, &, |, ^ and unary minus work on numbers; now() is
 * the time of compilation.  Regular expressions are POSIX extended (like
 * the engine's tag index).
 *
 * Threading: a compiled filter is used by one thread at a time.
 */
#ifndef QRY_XFILTER_H
#define QRY_XFILTER_H

#include "ast.h"
#include "engine.h"

typedef struct qry_xf qry_xf_t;

/*
 * Compiles cond for a measurement with fields[0..nfields) (eng_snap_fields
 * order; batches passed to qry_xf_rows hold the fields in that order).
 * cond NULL means "every row".  Returns 0 with *out (OWNED, qry_xf_free) or
 * CN_EINVAL with a message in err (unsupported function, misplaced regex,
 * bad regex, bind parameter).
 */
int qry_xf_compile(const qry_expr_t *cond, const eng_field_info_t *fields, size_t nfields,
                   int64_t now_ns, qry_xf_t **out /* OUT */, char *err, size_t errlen);
void qry_xf_free(qry_xf_t *f);

/* The tag predicates for eng_snap_select (borrowed from f). */
size_t qry_xf_tag_preds(const qry_xf_t *f, const eng_tag_pred_t **preds /* OUT */);
/* Intersects [*tmin, *tmax) with the condition's time range; the result
 * may be empty (*tmin >= *tmax). */
void qry_xf_range(const qry_xf_t *f, int64_t *tmin /* IN/OUT */, int64_t *tmax /* IN/OUT */);

enum { QRY_XF_NONE = 0, QRY_XF_ALL = 1, QRY_XF_ROWS = 2 };
/*
 * Binds one series' tags (borrowed until the next call): returns
 * QRY_XF_NONE when no row of it can match (skip the series), QRY_XF_ALL
 * when every row matches, QRY_XF_ROWS when qry_xf_rows must decide.
 */
int qry_xf_series(qry_xf_t *f, const eng_tag_t *tags, uint32_t ntags);
/* For the bound series: sel[i] = 1 when row i of b matches, else 0.
 * Returns the number of matching rows. */
uint32_t qry_xf_rows(qry_xf_t *f, const eng_batch_t *b, uint8_t *sel /* OUT, b->n */);

#endif /* QRY_XFILTER_H */
