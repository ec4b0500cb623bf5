/* SPDX-License-Identifier: MIT */
/*
 * into.c - SELECT ... INTO: a statement's rows written back as points, as
 * InfluxDB 1.x does for downsampling and backfills.
 *
 *   SELECT mean(temperature) INTO iot.autogen.telemetry_1h FROM telemetry
 *     WHERE time >= '2026-01-01' GROUP BY time(1h), *
 *
 * The SELECT runs as it would without INTO; then every row of every
 * output series becomes one point:
 *  - measurement: the INTO name, or with :MEASUREMENT the output series'
 *    name (the source measurement);
 *  - tags: the series' GROUP BY tags, those with an empty value left out
 *    (a tag the series does not have).  Without GROUP BY the tags are
 *    gone, and tag columns a raw SELECT names become string fields, as in
 *    InfluxDB; `GROUP BY *` keeps them all;
 *  - time: the row's time (a window's start with GROUP BY time());
 *  - fields: the other columns, by their output names (`mean`, the alias,
 *    `mean_temperature` for mean(*)), null values left out; a row with no
 *    value at all (fill(null) in an empty window) is not written.
 * The answer is InfluxDB's: one series "result" with columns time and
 * written, one row [0, points written].  It is sent once the points are
 * durable (the WAL's fsync with durability = fsync), like a /write's 204.
 *
 * The target database is INTO's, else the request's db=; it must exist
 * ("database not found: x") and a named policy must be one of its own
 * ("retention policy not found: x"); with neither the statement fails with
 * "database name required".  cairn stores every database in one namespace
 * (README), so the database only decides these checks.
 *
 * A field whose type differs from the one stored under that name is
 * dropped alone and the rest of the point is stored, as /write does; the
 * statement then fails with InfluxDB's "partial write: field type
 * conflict: ... dropped=N" (N fields dropped).  Points go to the engine in
 * batches of INTO_BATCH; a cancelled request (the client went away) stops
 * between batches with what was written so far kept, and KILL QUERY
 * answers "query interrupted" there.
 */
#include "exec_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define INTO_BATCH 1024

typedef struct writer {
    eng_db_t *db;
    const qry_exec_opts_t *o;
    qry__wrote_t *w;
    eng_point_t *pts;
    eng_field_t *flds; /* the batch's fields, fcap of them */
    size_t npts, nflds, fcap;
    size_t nmore; /* queued points that continue a wider row (not counted) */
    bool keep_rows; /* rows at one time stay apart (QRY__ROW_TAG) */
    void **scratch; /* the queued points' own tag arrays, freed by flush */
    size_t nscratch, scap;
} writer_t;

static void free_scratch(writer_t *wr)
{
    for (size_t i = 0; i < wr->nscratch; i++)
        cn_free(wr->scratch[i]);
    wr->nscratch = 0;
}

/* The tags of a row that is the occ-th (from 1) at its series' time: the
 * series' tags and QRY__ROW_TAG, alive until the next flush. */
static eng_tag_t *row_tags(writer_t *wr, const eng_tag_t *tags, uint32_t ntags, size_t occ)
{
    if (wr->nscratch == wr->scap) {
        wr->scap = wr->scap ? 2 * wr->scap : 64;
        wr->scratch = cn_realloc(wr->scratch, wr->scap * sizeof *wr->scratch);
    }
    eng_tag_t *t = cn_malloc((ntags + 1) * sizeof *t + 24);
    char *val = (char *)(t + ntags + 1);
    snprintf(val, 24, "%zu", occ);
    memcpy(t, tags, ntags * sizeof *t);
    t[ntags] = (eng_tag_t){.key = QRY__ROW_TAG, .val = val};
    wr->scratch[wr->nscratch++] = t;
    return t;
}

static void note_reject(writer_t *wr, const eng_write_res_t *res)
{
    qry__wrote_t *w = wr->w;
    w->dropped += res->fields_rejected;
    if (!w->conflict[0])
        eng_write_reject_text(wr->db, wr->pts, res, w->conflict, sizeof w->conflict);
}

/* Writes the batched points: 0, or a negative code. */
static int flush(writer_t *wr)
{
    if (!wr->npts)
        return 0;
    eng_write_res_t res;
    uint64_t seq = 0;
    int rc;
    while ((rc = eng_write(wr->db, wr->pts, wr->npts, &res, &seq)) == CN_EFULL) {
        rc = eng_wait_writable(wr->db);
        if (rc < 0)
            return rc;
    }
    if (rc < 0)
        return rc;
    if (seq)
        wr->w->seq = seq;
    /* a row is one point written, however many parts it went in */
    wr->w->written += res.points_ok - CN_MIN((size_t)res.points_ok, wr->nmore);
    if (res.fields_rejected)
        note_reject(wr, &res);
    wr->npts = wr->nflds = wr->nmore = 0;
    free_scratch(wr);
    return 0;
}

/* Between batches: CN_ECLOSED when the client went away, 1 after KILL
 * QUERY or past the deadline (with the statement's error set), else 0. */
static int check_stop(const qry_exec_opts_t *o, qry__rb_t *b)
{
    const char *why;
    int rc = qry__stopped(o, &why);
    if (rc == CN_ELIMIT) {
        qry__rb_err(b, "%s", why);
        return 1;
    }
    return rc;
}

/* The series' tags without the empty ones, in tags (room for s->ntags). */
static uint32_t point_tags(const qry_series_t *s, eng_tag_t *tags)
{
    uint32_t n = 0;
    for (size_t i = 0; i < s->ntags; i++)
        if (s->tags[i].val && *s->tags[i].val)
            tags[n++] = s->tags[i];
    return n;
}

/* One value of a row as a field; false for null, and for NaN (a null in
 * the answer: relative_strength_index's 0 / 0) unless nan_ok - INTO leaves
 * it out as InfluxDB does, a subquery keeps it, as InfluxDB's max() of it
 * is null. */
static bool as_field(const char *name, const qry_val_t *v, bool nan_ok, eng_field_t *f)
{
    f->name = name;
    switch (v->t) {
    case QRY_FLOAT:
        if (isnan(v->u.f) && !nan_ok)
            return false;
        f->type = ENG_T_FLOAT;
        f->v.f = v->u.f;
        return true;
    case QRY_INT:
    case QRY_TIME:
        f->type = ENG_T_INT;
        f->v.i = v->u.i;
        return true;
    case QRY_BOOL:
        f->type = ENG_T_BOOL;
        f->v.b = v->u.b;
        return true;
    case QRY_STR:
        f->type = ENG_T_STRING;
        f->v.s.p = v->u.s.p;
        f->v.s.len = v->u.s.len;
        return true;
    default:
        return false;
    }
}

/* Writes the rows of s as points of measurement meas. */
static int write_series(writer_t *wr, const qry_series_t *s, const char *meas, qry__rb_t *b)
{
    eng_tag_t *tags = cn_malloc((s->ntags + 1) * sizeof *tags);
    uint32_t ntags = point_tags(s, tags);
    size_t tcol = s->ncols;
    for (size_t c = 0; c < s->ncols; c++)
        if (strcmp(s->cols[c], "time") == 0) {
            tcol = c;
            break;
        }
    size_t room = CN_MIN(s->ncols, (size_t)ENG_MAX_FIELDS);
    int rc = 0;
    size_t occ = 0; /* rows before this one at its time (rows are in time order) */
    int64_t prev_ts = 0;
    for (size_t k = 0; k < s->nrows && rc == 0; k++) {
        const qry_val_t *row = s->vals + k * s->ncols;
        int64_t ts = tcol < s->ncols && row[tcol].t == QRY_TIME ? row[tcol].u.i : 0;
        occ = k && ts == prev_ts ? occ + 1 : 0;
        prev_ts = ts;
        /* a point holds at most ENG_MAX_FIELDS: a wider row goes as several
         * points of the same series and time, which the engine merges */
        size_t c = 0;
        bool more = false; /* a part after the row's first */
        while (c < s->ncols) {
            if (wr->npts == INTO_BATCH || wr->fcap - wr->nflds < room) {
                rc = flush(wr);
                if (rc == 0 && wr->o)
                    rc = check_stop(wr->o, b);
                if (rc)
                    break;
            }
            eng_field_t *f = wr->flds + wr->nflds;
            uint32_t nf = 0;
            for (; c < s->ncols && nf < ENG_MAX_FIELDS; c++)
                if (c != tcol && as_field(s->cols[c], &row[c], wr->keep_rows, &f[nf]))
                    nf++;
            if (!nf)
                break; /* nothing (more) to write of this row */
            /* (each part its own copy: a flush between parts frees them) */
            bool own = wr->keep_rows && occ > 0;
            const eng_tag_t *ptags = own ? row_tags(wr, tags, ntags, occ) : tags;
            uint32_t pntags = ntags + own;
            eng_point_t *p = &wr->pts[wr->npts++];
            *p = (eng_point_t){.measurement = meas,
                               .tags = ptags,
                               .ntags = pntags,
                               .ts = ts,
                               .fields = f,
                               .nfields = nf};
            wr->nflds += nf;
            wr->nmore += more;
            more = true;
        }
    }
    /* the queued points point at tags: written before they go */
    if (rc == 0)
        rc = flush(wr);
    cn_free(tags);
    return rc;
}

int qry__write_rows(eng_db_t *db, const qry_result_t *r, const char *meas, const qry_exec_opts_t *o,
                    bool keep_rows, qry__rb_t *b, qry__wrote_t *w)
{
    memset(w, 0, sizeof *w);
    size_t width = 1;
    for (size_t i = 0; i < r->nseries; i++)
        width = CN_MAX(width, r->series[i].ncols);
    writer_t wr = {.db = db, .o = o, .w = w, .keep_rows = keep_rows};
    /* room for a batch of narrow rows, or for at least one full point */
    wr.fcap = CN_MAX(CN_MIN(INTO_BATCH * width, (size_t)65536), (size_t)ENG_MAX_FIELDS);
    wr.pts = cn_malloc(INTO_BATCH * sizeof *wr.pts);
    wr.flds = cn_malloc(wr.fcap * sizeof *wr.flds);
    int rc = 0;
    for (size_t i = 0; i < r->nseries && rc == 0; i++) {
        const qry_series_t *s = &r->series[i];
        const char *m = meas ? meas : s->name;
        rc = write_series(&wr, s, m && *m ? m : "result", b);
    }
    free_scratch(&wr);
    cn_free(wr.scratch);
    cn_free(wr.pts);
    cn_free(wr.flds);
    return rc;
}

int qry__exec_into(const qry_select_t *sel, const qry_exec_opts_t *o, qry__rb_t *b)
{
    const qry_into_t *in = sel->into;
    const char *db = in->db && *in->db ? in->db : o->dbname;
    if (!db || !*db) {
        qry__rb_err(b, "database name required");
        return 0;
    }
    if (o->cat && qry__cat_target(o->cat, db, in->rp, b) != 0)
        return 0;
    qry_select_t plain = *sel;
    plain.into = NULL;
    qry__rb_t rb;
    qry__rb_init(&rb);
    int rc = qry__exec_select(&plain, o, &rb);
    if (rc == 0 && rb.r->err)
        qry__rb_err(b, "%s", rb.r->err);
    if (rc < 0 || rb.r->err) {
        qry_result_free(rb.r);
        return rc;
    }
    qry__wrote_t w;
    rc = qry__write_rows(o->db, rb.r, in->backref ? NULL : in->name, o, false, b, &w);
    if (rc == 0 && w.seq)
        rc = eng_wait_durable(o->db, w.seq);
    if (rc < 0 && rc != CN_ECLOSED) {
        qry__rb_err(b, "%s", cn_strerror(rc));
    } else if (rc == 0 && w.conflict[0]) {
        qry__rb_err(b, "partial write: %s dropped=%llu", w.conflict, (unsigned long long)w.dropped);
    } else if (rc == 0) {
        static const char *const cols[] = {"time", "written"};
        qry_series_t *s = qry__rb_series(b, "result", cols, 2);
        qry_val_t row[2] = {qry__vtime(0), qry__vi((int64_t)w.written)};
        qry__rb_row(b, s, row);
    }
    qry_result_free(rb.r);
    return rc == CN_ECLOSED ? rc : 0;
}
