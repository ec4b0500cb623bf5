/* SPDX-License-Identifier: MIT */
/*
 * show.c - SHOW statements, DDL (CREATE/DROP DATABASE, DROP MEASUREMENT,
 * DROP SERIES, DELETE, retention policies), the database catalog and the
 * statement dispatcher qry_exec_stmt.
 *
 * cairn keeps every database in one engine (README "Databases"): the
 * catalog only remembers database and retention-policy names so that
 * SHOW DATABASES / SHOW RETENTION POLICIES answer like InfluxDB.  Data
 * statements (DROP MEASUREMENT, DROP SERIES, DELETE) act on the shared
 * engine (a DELETE whose time range emptied a series drops it, as InfluxDB
 * 1.x does); DROP DATABASE of the last database forgets the name and deletes
 * every series, as InfluxDB deletes the database's data; while other
 * databases remain it only forgets the name, with a warning (deleting would
 * take their data too); an unknown name is no error, as in InfluxDB.
 *
 * Retention policies are kept per database (DATA-DIR/databases, fsynced
 * and renamed on every change) and drive the one engine's retention
 * (cat_retention): the engine keeps data for the longest duration any
 * database's default policy asks for, INF winning.  A policy whose
 * duration no statement set (the autogen of a database that was only
 * written to or created plainly) lasts the `retention` key.  The server
 * applies the same rule when it starts (qry_catalog_retention), so a
 * policy outlives restarts.
 */
#include "plan.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* -------------------------------------------------------------- catalog */

#define HOUR_NS (3600 * INT64_C(1000000000))

typedef struct rp {
    char *db, *name;
    int64_t duration, shard; /* ns; duration 0 = INF */
    int64_t repl;
    bool def;
    bool set; /* duration given by a statement; else it is the `retention` key */
} rp_t;

/* The longest continuous query kept (CREATE refuses longer ones; a longer
 * length in the file means the file is damaged). */
#define CQ_TEXT_MAX (16u << 20)

typedef struct cq_ent {
    char *db, *name;
    char *text; /* the CREATE CONTINUOUS QUERY statement as printed */
} cq_ent_t;

struct qry_catalog {
    pthread_mutex_t mu;
    cq_ent_t *cqs; /* in creation order */
    size_t ncqs;
    char *path;
    char **dbs;
    size_t ndbs;
    rp_t *rps; /* in creation order (SHOW RETENTION POLICIES lists them so) */
    size_t nrps;
    int64_t base; /* the `retention` key: duration of policies no statement set */
    bool dirty;   /* touched names not yet saved (saved by the next statement) */
};

static bool cat_has(const qry_catalog_t *c, const char *db)
{
    for (size_t i = 0; i < c->ndbs; i++)
        if (strcmp(c->dbs[i], db) == 0)
            return true;
    return false;
}

static void cat_add(qry_catalog_t *c, const char *db)
{
    if (cat_has(c, db))
        return;
    c->dbs = cn_realloc(c->dbs, (c->ndbs + 1) * sizeof *c->dbs);
    c->dbs[c->ndbs++] = cn_strdup(db);
}

static rp_t *rp_find(qry_catalog_t *c, const char *db, const char *name)
{
    for (size_t i = 0; i < c->nrps; i++)
        if (strcmp(c->rps[i].db, db) == 0 && strcmp(c->rps[i].name, name) == 0)
            return &c->rps[i];
    return NULL;
}

static bool db_has_rps(qry_catalog_t *c, const char *db)
{
    for (size_t i = 0; i < c->nrps; i++)
        if (strcmp(c->rps[i].db, db) == 0)
            return true;
    return false;
}

/* InfluxDB's shard group duration for a policy duration (0 = INF). */
static int64_t shard_for(int64_t d)
{
    if (d > 0 && d < 2 * 24 * HOUR_NS)
        return HOUR_NS;
    if (d > 0 && d < 180 * 24 * HOUR_NS)
        return 24 * HOUR_NS;
    return 7 * 24 * HOUR_NS;
}

static rp_t *rp_add(qry_catalog_t *c, const char *db, const char *name)
{
    rp_t *r = rp_find(c, db, name);
    if (r)
        return r;
    c->rps = cn_realloc(c->rps, (c->nrps + 1) * sizeof *c->rps);
    r = &c->rps[c->nrps++];
    memset(r, 0, sizeof *r);
    r->db = cn_strdup(db);
    r->name = cn_strdup(name);
    r->shard = 7 * 24 * HOUR_NS;
    r->repl = 1;
    return r;
}

static void rp_del(qry_catalog_t *c, size_t i)
{
    cn_free(c->rps[i].db);
    cn_free(c->rps[i].name);
    memmove(&c->rps[i], &c->rps[i + 1], (c->nrps - i - 1) * sizeof *c->rps);
    c->nrps--;
}

/* A database's implicit default policy, as InfluxDB creates with it. */
static void rp_autogen(qry_catalog_t *c, const char *db)
{
    if (db_has_rps(c, db))
        return;
    rp_t *r = rp_add(c, db, "autogen");
    r->def = true;
}

static int64_t rp_duration(const qry_catalog_t *c, const rp_t *r)
{
    return r->set ? r->duration : c->base;
}

/* The engine's retention (one store for every database): the longest
 * duration any database's default policy asks for, INF (0) winning; a
 * policy no statement set lasts the `retention` key.  A database without
 * a default policy (all dropped) holds no data in InfluxDB and asks for
 * nothing; with no default policy anywhere the `retention` key applies. */
static int64_t cat_retention(const qry_catalog_t *c)
{
    int64_t keep = -1;
    for (size_t i = 0; i < c->nrps; i++) {
        if (!c->rps[i].def || !cat_has(c, c->rps[i].db))
            continue;
        int64_t d = rp_duration(c, &c->rps[i]);
        if (d == 0)
            return 0;
        keep = CN_MAX(keep, d);
    }
    return keep < 0 ? c->base : keep;
}

/* A name in the catalog file: bytes up to a space, '%' and DEL as %XX, so
 * a name with a newline or a space (a quoted identifier may hold any) can
 * neither forge a line nor split one.  Older files wrote names raw: the
 * same bytes for any name without those. */
static void put_name(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p <= ' ' || *p == '%' || *p == 0x7f)
            fprintf(f, "%%%02X", *p);
        else
            fputc(*p, f);
    }
}

/* Persists: "db NAME" and "rp DB NAME DURATION SHARD REPL DEFAULT SET"
 * lines and the continuous queries ("cq LEN" and the statement's LEN bytes
 * on the next line), written to PATH.tmp, fsynced and renamed.  Called on a worker
 * thread with c->mu held. */
static void cat_save(qry_catalog_t *c)
{
    c->dirty = false;
    if (!c->path)
        return;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", c->path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        cn_warn("query: cannot write %s: %s", tmp, strerror(errno));
        return;
    }
    for (size_t i = 0; i < c->ndbs; i++) {
        fputs("db ", f);
        put_name(f, c->dbs[i]);
        fputs(" 1\n", f); /* 1: its policies follow (maybe none) */
    }
    for (size_t i = 0; i < c->nrps; i++) {
        fputs("rp ", f);
        put_name(f, c->rps[i].db);
        fputc(' ', f);
        put_name(f, c->rps[i].name);
        fprintf(f, " %lld %lld %lld %d %d\n", (long long)c->rps[i].duration,
                (long long)c->rps[i].shard, (long long)c->rps[i].repl, c->rps[i].def,
                c->rps[i].set);
    }
    for (size_t i = 0; i < c->ncqs; i++) /* "cq LEN", then the statement's bytes */
        fprintf(f, "cq %zu\n%s\n", strlen(c->cqs[i].text), c->cqs[i].text);
    bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    if (ok && rename(tmp, c->path) == 0)
        return;
    cn_warn("query: cannot replace %s: %s", c->path, strerror(errno));
}

static void cq_add(qry_catalog_t *c, const char *db, const char *name, const char *text)
{
    c->cqs = cn_realloc(c->cqs, (c->ncqs + 1) * sizeof *c->cqs);
    c->cqs[c->ncqs++] = (cq_ent_t){cn_strdup(db), cn_strdup(name), cn_strdup(text)};
}

static void cq_del(qry_catalog_t *c, size_t i)
{
    cn_free(c->cqs[i].db);
    cn_free(c->cqs[i].name);
    cn_free(c->cqs[i].text);
    memmove(&c->cqs[i], &c->cqs[i + 1], (c->ncqs - i - 1) * sizeof *c->cqs);
    c->ncqs--;
}

static cq_ent_t *cq_find(qry_catalog_t *c, const char *db, const char *name)
{
    for (size_t i = 0; i < c->ncqs; i++)
        if (strcmp(c->cqs[i].db, db) == 0 && strcmp(c->cqs[i].name, name) == 0)
            return &c->cqs[i];
    return NULL;
}

/* A continuous query read back from the catalog file. */
static void cq_load(qry_catalog_t *c, const char *text)
{
    qry_query_t *q;
    qry_error_t err;
    if (qry_parse(text, strlen(text), &q, &err) < 0) {
        cn_warn("query: continuous query not loaded: %s: %s", err.msg, text);
        return;
    }
    if (q->nstmts == 1 && q->stmts[0].kind == QRY_STMT_CREATE_CQ)
        cq_add(c, q->stmts[0].u.ddl->db, q->stmts[0].u.ddl->name, text);
    qry_query_free(q);
}

static qry_select_t *sel_qualified(qry_catalog_t *c, const qry_select_t *s, const char *db,
                                   const char *rp);
static void sel_free(qry_select_t *q);

/* CREATE CONTINUOUS QUERY st as printed with its SELECT replaced by q (its
 * qualified copy), into t. */
static void print_cq(const qry_stmt_t *st, const qry_select_t *q, cn_buf_t *t)
{
    qry_ddl_t d = *st->u.ddl;
    qry_stmt_t s = *st;
    d.cq = (qry_select_t *)q;
    s.u.ddl = &d;
    qry_print_stmt(&s, t);
}

/* A continuous query kept by an older version, its names not qualified:
 * qualified as CREATE now keeps them, so that the same CREATE again is
 * still no error and SHOW shows what InfluxDB would. */
static void cq_qualify(qry_catalog_t *c, cq_ent_t *e)
{
    qry_query_t *q;
    qry_error_t err;
    if (qry_parse(e->text, strlen(e->text), &q, &err) < 0)
        return;
    const qry_stmt_t *st = &q->stmts[0]; /* (cq_load kept only CREATE CONTINUOUS QUERY) */
    qry_select_t *qs = sel_qualified(c, st->u.ddl->cq, st->u.ddl->db, NULL);
    cn_buf_t t;
    cn_buf_init(&t);
    print_cq(st, qs, &t);
    sel_free(qs);
    cn_buf_put_u8(&t, 0);
    if (strcmp((const char *)t.p, e->text) != 0) {
        cn_free(e->text);
        e->text = cn_strdup((const char *)t.p);
    }
    cn_buf_free(&t);
    qry_query_free(q);
}

char **qry_catalog_cqs(qry_catalog_t *c, size_t *n)
{
    pthread_mutex_lock(&c->mu);
    char **v = cn_malloc((c->ncqs + 1) * sizeof *v);
    for (size_t i = 0; i < c->ncqs; i++)
        v[i] = cn_strdup(c->cqs[i].text);
    *n = c->ncqs;
    pthread_mutex_unlock(&c->mu);
    return v;
}

int qry_catalog_open(const char *path, qry_catalog_t **out)
{
    qry_catalog_t *c = cn_calloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    if (path) {
        c->path = cn_strdup(path);
        FILE *f = fopen(path, "r");
        if (f) {
            char line[1024], a[300], b[300];
            long long d, s, r;
            int def, set, n;
            char **legacy = NULL; /* "db NAME" lines of older files: no policy lines */
            size_t nlegacy = 0;
            size_t len;
            while (fgets(line, sizeof line, f)) {
                if (sscanf(line, "cq %zu", &len) == 1) {
                    if (len > CQ_TEXT_MAX) { /* not a length this file holds */
                        cn_warn("query: %s: continuous query of %zu bytes not loaded, the "
                                "rest of the file skipped",
                                path, len);
                        break;
                    }
                    char *text = cn_malloc(len + 1);
                    if (fread(text, 1, len, f) == len && fgetc(f) == '\n') {
                        text[len] = 0;
                        cq_load(c, text);
                    }
                    cn_free(text);
                    continue;
                }
                if ((n = sscanf(line, "db %299s %d", a, &set)) >= 1) {
                    cn_pct_decode(a); /* put_name's %XX */
                    cat_add(c, a);
                    if (n == 1) {
                        legacy = cn_realloc(legacy, (nlegacy + 1) * sizeof *legacy);
                        legacy[nlegacy++] = cn_strdup(a);
                    }
                }
                else if ((n = sscanf(line, "rp %299s %299s %lld %lld %lld %d %d", a, b, &d, &s,
                                     &r, &def, &set)) >= 6) {
                    cn_pct_decode(a);
                    cn_pct_decode(b);
                    rp_t *p = rp_add(c, a, b);
                    p->duration = d;
                    p->shard = s;
                    p->repl = r;
                    p->def = def != 0;
                    /* files before the SET column: a duration was set */
                    p->set = n == 7 ? set != 0 : d != 0;
                }
            }
            fclose(f);
            for (size_t i = 0; i < nlegacy; i++) {
                rp_autogen(c, legacy[i]);
                cn_free(legacy[i]);
            }
            cn_free(legacy);
            for (size_t i = 0; i < c->ncqs; i++)
                cq_qualify(c, &c->cqs[i]);
        }
    }
    *out = c;
    return 0;
}

void qry_catalog_set_base_retention(qry_catalog_t *c, int64_t ns)
{
    pthread_mutex_lock(&c->mu);
    c->base = ns;
    pthread_mutex_unlock(&c->mu);
}

int64_t qry_catalog_retention(qry_catalog_t *c)
{
    pthread_mutex_lock(&c->mu);
    int64_t r = cat_retention(c);
    pthread_mutex_unlock(&c->mu);
    return r;
}

void qry_catalog_close(qry_catalog_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->ndbs; i++)
        cn_free(c->dbs[i]);
    for (size_t i = 0; i < c->nrps; i++) {
        cn_free(c->rps[i].db);
        cn_free(c->rps[i].name);
    }
    while (c->ncqs)
        cq_del(c, c->ncqs - 1);
    cn_free(c->cqs);
    cn_free(c->dbs);
    cn_free(c->rps);
    cn_free(c->path);
    pthread_mutex_destroy(&c->mu);
    cn_free(c);
}

void qry_catalog_touch(qry_catalog_t *c, const char *db)
{
    if (!c || !db || !*db)
        return;
    pthread_mutex_lock(&c->mu);
    if (!cat_has(c, db)) {
        cat_add(c, db);
        rp_autogen(c, db);
        c->dirty = true;
    }
    pthread_mutex_unlock(&c->mu);
}

/* ---------------------------------------------------------------- SHOW */

static int strpcmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Measurements named by sources (all when none), sorted, unique. */
static size_t source_meas(eng_snap_t *snap, const qry_source_t *src, size_t nsrc,
                          const char ***out)
{
    const char **all;
    size_t nall = eng_snap_measurements(snap, &all);
    const char **v = cn_malloc((nall + 1) * sizeof(char *));
    size_t n = 0;
    for (size_t k = 0; k < nall; k++) {
        bool want = nsrc == 0;
        for (size_t i = 0; i < nsrc && !want; i++) {
            if (src[i].kind == QRY_SRC_MEASUREMENT)
                want = strcmp(src[i].name, all[k]) == 0;
            else if (src[i].kind == QRY_SRC_REGEX) {
                regex_t re;
                if (qry_regcomp(&re, src[i].name, NULL) == 0) {
                    want = regexec(&re, all[k], 0, NULL, 0) == 0;
                    regfree(&re);
                }
            }
        }
        if (want)
            v[n++] = all[k];
    }
    if (n)
        qsort(v, n, sizeof *v, strpcmp);
    *out = v;
    return n;
}

/* Series of meas passing cond's tag part: ids (owned) and count; *tv gets
 * per-series tag value arrays in p's arena. */
static int where_series(eng_snap_t *snap, plan_t *p, uint64_t **ids_out, const char ****tvs)
{
    uint64_t *ids = NULL;
    int n = eng_snap_select(snap, p->meas, p->preds, p->npreds, &ids);
    if (n < 0)
        return n;
    const char ***tv = qry__ralloc(p->ar, ((size_t)n + 1) * sizeof(char **));
    int m = 0;
    for (int i = 0; i < n; i++) {
        const eng_tag_t *tags;
        uint32_t nt;
        if (eng_snap_series_tags(snap, ids[i], &tags, &nt) < 0)
            continue;
        const char **v = qry__ralloc(p->ar, (p->ntagkeys + 1) * sizeof(char *));
        for (size_t k = 0; k < p->ntagkeys; k++) {
            v[k] = "";
            for (uint32_t t = 0; t < nt; t++)
                if (strcmp(tags[t].key, p->tagkeys[k]) == 0)
                    v[k] = tags[t].val;
        }
        if (p->tagcond && qry__cx_tri(p->tagcond, v) == 0)
            continue;
        ids[m] = ids[i];
        tv[m++] = v;
    }
    *ids_out = ids;
    if (tvs)
        *tvs = tv;
    return m;
}

/* How many of n rows LIMIT and OFFSET leave: a series left without any is
 * not output (InfluxDB). */
static size_t n_limited(size_t n, int64_t limit, int64_t offset)
{
    size_t off = offset > 0 ? (size_t)offset : 0;
    size_t left = n > off ? n - off : 0;
    return limit > 0 && (size_t)limit < left ? (size_t)limit : left;
}

static void put_rows_limited(qry__rb_t *b, qry_series_t *s, qry_val_t *rows, size_t n,
                             size_t ncols, int64_t limit, int64_t offset)
{
    size_t off = offset > 0 ? (size_t)offset : 0, cnt = n_limited(n, limit, offset);
    for (size_t i = off; i < off + cnt; i++)
        qry__rb_row(b, s, rows + i * ncols);
}

typedef struct kv {
    const char *k, *v;
} kv_t;

static int kv_cmp(const void *a, const void *b)
{
    const kv_t *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

void qry_task_infos_free(qry_task_info_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cn_free(v[i].query);
        cn_free(v[i].db);
    }
    cn_free(v);
}

void qry_task_duration(int64_t ns, cn_buf_t *out)
{
    char t[32];
    int n;
    if (ns >= 1000000000) {
        qry__go_duration(ns - ns % 1000000000, out);
        return;
    }
    if (ns >= 1000000)
        n = snprintf(t, sizeof t, "%lldms", (long long)(ns / 1000000));
    else if (ns >= 1000)
        n = snprintf(t, sizeof t, "%lld\xc2\xb5s", (long long)(ns / 1000)); /* µs */
    else if (ns > 0)
        n = snprintf(t, sizeof t, "%lldns", (long long)ns);
    else
        n = snprintf(t, sizeof t, "0s");
    cn_buf_put(out, t, (size_t)n);
}

/* ---------------------------------------------------------- cardinality */

/* SHOW ... CARDINALITY's count: one series (name NULL: none) with the
 * column "count", or InfluxDB's "cardinality estimation" for the forms it
 * estimates (cairn's count is exact either way); LIMIT and OFFSET apply to
 * its one row, as InfluxDB's rewritten SELECT applies them. */
static qry_series_t *put_count(qry__rb_t *b, const qry_show_t *sh, const char *name, uint64_t n,
                               bool estimate)
{
    if (sh->offset > 0)
        return NULL;
    const char *col = estimate ? "cardinality estimation" : "count";
    qry_series_t *s = qry__rb_series(b, name, &col, 1);
    qry_val_t v = qry__vi((int64_t)n);
    qry__rb_row(b, s, &v);
    return s;
}

/* Does e compare anything with time? */
static bool mentions_time(const qry_expr_t *e)
{
    if (!e)
        return false;
    if (e->kind == QRY_EXPR_VAR)
        return strcmp(e->u.var.name, "time") == 0;
    if (e->kind == QRY_EXPR_BINARY)
        return mentions_time(e->u.bin.lhs) || mentions_time(e->u.bin.rhs);
    if (e->kind == QRY_EXPR_UNARY)
        return mentions_time(e->u.unary.operand);
    return false;
}

/* Does e order a tag against a string (host > 'b')?  A metadata query's
 * WHERE is InfluxDB's "invalid tag comparison operator" then. */
static bool orders_tag(const qry_expr_t *e)
{
    if (!e)
        return false;
    if (e->kind == QRY_EXPR_UNARY)
        return orders_tag(e->u.unary.operand);
    if (e->kind != QRY_EXPR_BINARY)
        return false;
    qry_op_t op = e->u.bin.op;
    if (op == QRY_OP_LT || op == QRY_OP_LTE || op == QRY_OP_GT || op == QRY_OP_GTE) {
        const qry_expr_t *l = e->u.bin.lhs, *r = e->u.bin.rhs;
        return (l->kind == QRY_EXPR_STRING && r->kind == QRY_EXPR_VAR &&
                strcmp(r->u.var.name, "time") != 0) ||
               (r->kind == QRY_EXPR_STRING && l->kind == QRY_EXPR_VAR &&
                strcmp(l->u.var.name, "time") != 0);
    }
    return orders_tag(e->u.bin.lhs) || orders_tag(e->u.bin.rhs);
}

/* An estimate (InfluxDB's sketch) is what SHOW SERIES / MEASUREMENT
 * CARDINALITY answer over a whole database; any narrowing makes them
 * exact counts per measurement. */
static bool is_estimate(const qry_show_t *sh)
{
    return sh->cardinality && !sh->exact && !sh->nsources && !sh->cond && !sh->ngroup &&
           !sh->limit && !sh->offset &&
           (sh->kind == QRY_SHOW_SERIES || sh->kind == QRY_SHOW_MEASUREMENTS);
}

typedef struct grp {
    const char **v; /* values of the GROUP BY keys */
} grp_t;

static _Thread_local size_t grp_n; /* grp_cmp's key count (qsort has no context) */

static int grp_cmp(const void *a, const void *b)
{
    const grp_t *x = a, *y = b;
    for (size_t k = 0; k < grp_n; k++) {
        int c = strcmp(x->v[k], y->v[k]);
        if (c)
            return c;
    }
    return 0;
}

/* SHOW SERIES CARDINALITY ... GROUP BY tags: the series of meas counted
 * per distinct value of the keys (sorted, "" for a key a series lacks). */
static void count_groups(qry__rb_t *b, const qry_show_t *sh, const char *meas, const plan_t *p,
                         const char ***tv, int ns)
{
    const char **keys = cn_malloc((sh->ngroup + 1) * sizeof *keys);
    size_t nk = 0;
    for (size_t i = 0; i < sh->ngroup; i++) { /* sorted, each once */
        size_t j = 0;
        while (j < nk && strcmp(keys[j], sh->group[i]) < 0)
            j++;
        if (j < nk && strcmp(keys[j], sh->group[i]) == 0)
            continue;
        memmove(keys + j + 1, keys + j, (nk - j) * sizeof *keys);
        keys[j] = sh->group[i];
        nk++;
    }
    grp_t *g = cn_malloc(((size_t)ns + 1) * sizeof *g);
    const char **vals = cn_malloc(((size_t)ns * nk + 1) * sizeof *vals);
    for (int s = 0; s < ns; s++) {
        g[s].v = vals + (size_t)s * nk;
        for (size_t k = 0; k < nk; k++) {
            g[s].v[k] = "";
            for (size_t t = 0; t < p->ntagkeys; t++)
                if (strcmp(p->tagkeys[t], keys[k]) == 0)
                    g[s].v[k] = tv[s][t];
        }
    }
    grp_n = nk;
    qsort(g, (size_t)ns, sizeof *g, grp_cmp);
    for (int s = 0; s < ns;) {
        int e = s + 1;
        while (e < ns && grp_cmp(&g[s], &g[e]) == 0)
            e++;
        qry_series_t *out = put_count(b, sh, meas, (uint64_t)(e - s), false);
        if (out) {
            out->tags = qry__ralloc(b->r->arena, nk * sizeof(eng_tag_t));
            for (size_t k = 0; k < nk; k++) {
                out->tags[k].key = qry__rstrdup(b->r->arena, keys[k]);
                out->tags[k].val = qry__rstrdup(b->r->arena, g[s].v[k]);
            }
            out->ntags = nk;
        }
        s = e;
    }
    cn_free(vals);
    cn_free(g);
    cn_free(keys);
}

/* SHOW CONTINUOUS QUERIES: a series per database (sorted as SHOW DATABASES
 * lists them, one without queries too), its queries in creation order. */
static void show_cqs(qry_catalog_t *c, qry__rb_t *b)
{
    static const char *const cols[] = {"name", "query"};
    pthread_mutex_lock(&c->mu);
    char **v = cn_malloc((c->ndbs + 1) * sizeof(char *));
    if (c->ndbs) /* (dbs is NULL before the first) */
        memcpy(v, c->dbs, c->ndbs * sizeof(char *));
    qsort(v, c->ndbs, sizeof *v, strpcmp);
    for (size_t i = 0; i < c->ndbs; i++) {
        qry_series_t *s = qry__rb_series(b, v[i], cols, 2);
        for (size_t k = 0; k < c->ncqs; k++) {
            if (strcmp(c->cqs[k].db, v[i]) != 0)
                continue;
            qry_val_t row[2] = {qry__vs(c->cqs[k].name, strlen(c->cqs[k].name)),
                                qry__vs(c->cqs[k].text, strlen(c->cqs[k].text))};
            qry__rb_row(b, s, row);
        }
    }
    cn_free(v);
    pthread_mutex_unlock(&c->mu);
}

/* SHOW QUERIES: one series without a name, as InfluxDB 1.6 answers. */
static void show_queries(const qry_exec_opts_t *o, qry__rb_t *b)
{
    const char *cols[] = {"qid", "query", "database", "duration", "status"};
    qry_task_info_t *v = NULL;
    size_t n = o->tasks ? o->tasks->list(o->tasks->ctx, &v) : 0;
    qry_series_t *s = n ? qry__rb_series(b, NULL, cols, CN_ARRAY_LEN(cols)) : NULL;
    cn_buf_t d;
    cn_buf_init(&d);
    for (size_t i = 0; i < n; i++) {
        cn_buf_reset(&d);
        qry_task_duration(v[i].ns, &d);
        const char *st = v[i].killed ? "killed" : "running";
        qry_val_t row[] = {qry__vi((int64_t)v[i].qid), qry__vs(v[i].query, strlen(v[i].query)),
                           qry__vs(v[i].db, strlen(v[i].db)), qry__vs((const char *)d.p, d.len),
                           qry__vs(st, strlen(st))};
        qry__rb_row(b, s, row);
    }
    cn_buf_free(&d);
    qry_task_infos_free(v, n);
}

/* s into a series key as line protocol escapes it (InfluxDB's keys):
 * a backslash before each byte of esc. */
static void put_key_part(cn_buf_t *b, const char *s, const char *esc)
{
    for (; *s; s++) {
        if (strchr(esc, *s))
            cn_buf_put_u8(b, '\\');
        cn_buf_put_u8(b, (uint8_t)*s);
    }
}

int qry__exec_show(const qry_show_t *sh, const qry_exec_opts_t *o, qry__rb_t *b)
{
    if (sh->kind == QRY_SHOW_QUERIES) {
        show_queries(o, b);
        return 0;
    }
    if (sh->kind == QRY_SHOW_CONTINUOUS_QUERIES) {
        if (o->cat)
            show_cqs(o->cat, b);
        return 0;
    }
    if (sh->kind == QRY_SHOW_DATABASES) {
        const char *col = "name";
        qry_series_t *s = qry__rb_series(b, "databases", &col, 1);
        if (o->cat) {
            pthread_mutex_lock(&o->cat->mu);
            char **v = cn_malloc((o->cat->ndbs + 1) * sizeof(char *));
            if (o->cat->ndbs) /* (dbs is NULL before the first) */
                memcpy(v, o->cat->dbs, o->cat->ndbs * sizeof(char *));
            size_t n = o->cat->ndbs;
            qsort(v, n, sizeof *v, strpcmp);
            for (size_t i = 0; i < n; i++) {
                qry_val_t x = qry__vs(v[i], strlen(v[i]));
                qry__rb_row(b, s, &x);
            }
            cn_free(v);
            pthread_mutex_unlock(&o->cat->mu);
        }
        return 0;
    }
    if (sh->kind == QRY_SHOW_RETENTION_POLICIES) {
        const char *db = sh->db ? sh->db : o->dbname;
        if (!db || !*db) {
            qry__rb_err(b, "database name required");
            return 0;
        }
        const char *cols[] = {"name", "duration", "shardGroupDuration", "replicaN", "default"};
        if (o->cat) {
            pthread_mutex_lock(&o->cat->mu);
            bool known = cat_has(o->cat, db);
            pthread_mutex_unlock(&o->cat->mu);
            if (!known) {
                qry__rb_err(b, "database not found: %s", db);
                return 0;
            }
        }
        qry_series_t *s = qry__rb_series(b, NULL, cols, 5);
        bool any = false;
        cn_buf_t d1, d2;
        cn_buf_init(&d1);
        cn_buf_init(&d2);
        if (o->cat) {
            pthread_mutex_lock(&o->cat->mu);
            for (size_t i = 0; i < o->cat->nrps; i++) {
                rp_t *r = &o->cat->rps[i];
                if (strcmp(r->db, db) != 0)
                    continue;
                any = true;
                cn_buf_reset(&d1);
                cn_buf_reset(&d2);
                int64_t dur = rp_duration(o->cat, r);
                qry__go_duration(dur, &d1);
                qry__go_duration(r->set || r->shard != 7 * 24 * HOUR_NS ? r->shard : shard_for(dur),
                                 &d2);
                qry_val_t row[5] = {qry__vs(r->name, strlen(r->name)),
                                    qry__vs((const char *)d1.p, d1.len),
                                    qry__vs((const char *)d2.p, d2.len), qry__vi(r->repl),
                                    qry__vb(r->def)};
                qry__rb_row(b, s, row);
            }
            any = true; /* a database whose policies were all dropped has none */
            pthread_mutex_unlock(&o->cat->mu);
        }
        if (!any) {
            qry_val_t row[5] = {qry__vs("autogen", 7), qry__vs("0s", 2),
                                qry__vs("168h0m0s", 8), qry__vi(1), qry__vb(true)};
            qry__rb_row(b, s, row);
        }
        cn_buf_free(&d1);
        cn_buf_free(&d2);
        return 0;
    }
    if (!sh->cardinality && orders_tag(sh->cond)) { /* tags: (in)equality only */
        qry__rb_err(b, "invalid tag comparison operator");
        return 0;
    }
    if (sh->cardinality && mentions_time(sh->cond)) { /* InfluxDB's words */
        qry__rb_err(b, "SHOW %s EXACT CARDINALITY doesn't support time in WHERE clause",
                    qry_show_cardinality_of(sh->kind));
        return 0;
    }
    eng_snap_t *snap;
    int rc = eng_snap_open(o->db, &snap);
    if (rc < 0) {
        qry__rb_err(b, "%s", cn_strerror(rc));
        return 0;
    }
    const char **ms = NULL;
    size_t nm;
    char msg[256] = "";
    uint64_t total = 0; /* SHOW SERIES CARDINALITY's estimate */
    if (sh->kind == QRY_SHOW_MEASUREMENTS) {
        /* WITH MEASUREMENT narrows like a FROM (CARDINALITY has FROM) */
        if (sh->cardinality)
            nm = source_meas(snap, sh->sources, sh->nsources, &ms);
        else
            nm = source_meas(snap, sh->with_meas, sh->with_meas ? 1 : 0, &ms);
        const char *col = "name";
        qry_val_t *rows = cn_malloc((nm + 1) * sizeof *rows);
        size_t n = 0;
        for (size_t i = 0; i < nm; i++) {
            if (sh->cond) {
                plan_t p;
                if (qry__plan_where(snap, ms[i], sh->cond, &p, msg, sizeof msg) < 0) {
                    qry__plan_free(&p);
                    qry__rb_err(b, "%s", msg);
                    goto out;
                }
                uint64_t *ids = NULL;
                int k = where_series(snap, &p, &ids, NULL);
                cn_free(ids);
                qry__plan_free(&p);
                if (k <= 0)
                    continue;
            }
            rows[n++] = qry__vs(ms[i], strlen(ms[i]));
        }
        if (sh->cardinality) {
            if (n || is_estimate(sh))
                put_count(b, sh, NULL, n, is_estimate(sh));
        } else if (n_limited(n, sh->limit, sh->offset)) {
            qry_series_t *s = qry__rb_series(b, "measurements", &col, 1);
            put_rows_limited(b, s, rows, n, 1, sh->limit, sh->offset);
        }
        cn_free(rows);
        goto out;
    }
    nm = source_meas(snap, sh->sources, sh->nsources, &ms);
    for (size_t i = 0; i < nm; i++) {
        if (sh->kind == QRY_SHOW_FIELD_KEYS) {
            const eng_field_info_t *fi;
            size_t nf = eng_snap_fields(snap, ms[i], &fi);
            if (sh->cardinality) {
                if (nf)
                    put_count(b, sh, ms[i], nf, false);
                continue;
            }
            const char *names[2] = {"fieldKey", "fieldType"};
            kv_t *kv = cn_malloc((nf + 1) * sizeof *kv);
            for (size_t f = 0; f < nf; f++)
                kv[f] = (kv_t){fi[f].name, eng_type_name(fi[f].type)};
            qsort(kv, nf, sizeof *kv, kv_cmp);
            qry_val_t *rows = cn_malloc((2 * nf + 1) * sizeof *rows);
            for (size_t f = 0; f < nf; f++) {
                rows[2 * f] = qry__vs(kv[f].k, strlen(kv[f].k));
                rows[2 * f + 1] = qry__vs(kv[f].v, strlen(kv[f].v));
            }
            if (n_limited(nf, sh->limit, sh->offset)) {
                qry_series_t *s = qry__rb_series(b, ms[i], names, 2);
                put_rows_limited(b, s, rows, nf, 2, sh->limit, sh->offset);
            }
            cn_free(rows);
            cn_free(kv);
            continue;
        }
        plan_t p;
        if (qry__plan_where(snap, ms[i], sh->cond, &p, msg, sizeof msg) < 0) {
            qry__plan_free(&p);
            qry__rb_err(b, "%s", msg);
            goto out;
        }
        uint64_t *ids = NULL;
        const char ***tv = NULL;
        int ns = where_series(snap, &p, &ids, &tv);
        if (ns < 0) {
            qry__plan_free(&p);
            qry__rb_err(b, "%s", cn_strerror(ns));
            goto out;
        }
        if (sh->kind == QRY_SHOW_TAG_KEYS) {
            const char *col = "tagKey";
            qry_val_t *rows = cn_malloc((p.ntagkeys + 1) * sizeof *rows);
            size_t n = 0;
            for (size_t k = 0; k < p.ntagkeys; k++) {
                bool used = false; /* some selected series has the key */
                for (int s = 0; s < ns && !used; s++)
                    used = tv[s][k][0] != 0;
                if (used)
                    rows[n++] = qry__vs(p.tagkeys[k], strlen(p.tagkeys[k]));
            }
            if (n && sh->cardinality) {
                put_count(b, sh, ms[i], n, false);
            } else if (n_limited(n, sh->limit, sh->offset)) {
                qry_series_t *s = qry__rb_series(b, ms[i], &col, 1);
                put_rows_limited(b, s, rows, n, 1, sh->limit, sh->offset);
            }
            cn_free(rows);
        } else if (sh->kind == QRY_SHOW_TAG_VALUES) {
            kv_t *kv = cn_malloc(((size_t)ns * (p.ntagkeys + 1) + 1) * sizeof *kv);
            size_t n = 0;
            regex_t re;
            bool rx = sh->key_op == QRY_OP_EQREGEX || sh->key_op == QRY_OP_NEQREGEX;
            if (rx && qry_regcomp(&re, sh->keys[0], NULL) < 0) {
                cn_free(kv);
                cn_free(ids);
                qry__plan_free(&p);
                qry__rb_err(b, "error parsing regex /%s/", sh->keys[0]);
                goto out;
            }
            for (size_t k = 0; k < p.ntagkeys; k++) {
                const char *key = p.tagkeys[k];
                bool want = false;
                switch (sh->key_op) {
                case QRY_OP_EQ: want = strcmp(key, sh->keys[0]) == 0; break;
                case QRY_OP_NEQ: want = strcmp(key, sh->keys[0]) != 0; break;
                case QRY_OP_EQREGEX: want = regexec(&re, key, 0, NULL, 0) == 0; break;
                case QRY_OP_NEQREGEX: want = regexec(&re, key, 0, NULL, 0) != 0; break;
                case QRY_OP_IN:
                    for (size_t j = 0; j < sh->nkeys && !want; j++)
                        want = strcmp(key, sh->keys[j]) == 0;
                    break;
                default: break;
                }
                if (!want)
                    continue;
                for (int s = 0; s < ns; s++)
                    if (tv[s][k][0])
                        kv[n++] = (kv_t){key, tv[s][k]};
            }
            if (rx)
                regfree(&re);
            qsort(kv, n, sizeof *kv, kv_cmp);
            size_t u = 0;
            for (size_t j = 0; j < n; j++)
                if (!u || kv_cmp(&kv[u - 1], &kv[j]) != 0)
                    kv[u++] = kv[j];
            if (u && sh->cardinality) {
                put_count(b, sh, ms[i], u, false);
            } else if (n_limited(u, sh->limit, sh->offset)) {
                const char *cols[2] = {"key", "value"};
                qry_series_t *s = qry__rb_series(b, ms[i], cols, 2);
                qry_val_t *rows = cn_malloc(2 * u * sizeof *rows);
                for (size_t j = 0; j < u; j++) {
                    rows[2 * j] = qry__vs(kv[j].k, strlen(kv[j].k));
                    rows[2 * j + 1] = qry__vs(kv[j].v, strlen(kv[j].v));
                }
                put_rows_limited(b, s, rows, u, 2, sh->limit, sh->offset);
                cn_free(rows);
            }
            cn_free(kv);
        } else if (sh->kind == QRY_SHOW_SERIES && sh->cardinality) {
            if (is_estimate(sh))
                total += (uint64_t)ns;
            else if (sh->ngroup)
                count_groups(b, sh, ms[i], &p, tv, ns);
            else if (ns)
                put_count(b, sh, ms[i], (uint64_t)ns, false);
        } else if (sh->kind == QRY_SHOW_SERIES) {
            /* one "key" series for all measurements: collected below */
            char **keys = cn_malloc(((size_t)ns + 1) * sizeof(char *));
            cn_buf_t kb;
            cn_buf_init(&kb);
            for (int s = 0; s < ns; s++) {
                cn_buf_reset(&kb);
                put_key_part(&kb, ms[i], ", ");
                for (size_t k = 0; k < p.ntagkeys; k++)
                    if (tv[s][k][0]) {
                        cn_buf_put_u8(&kb, ',');
                        put_key_part(&kb, p.tagkeys[k], ", =");
                        cn_buf_put_u8(&kb, '=');
                        put_key_part(&kb, tv[s][k], ", =");
                    }
                keys[s] = qry__rstrndup(b->r->arena, (const char *)kb.p, kb.len);
            }
            cn_buf_free(&kb);
            qsort(keys, (size_t)ns, sizeof *keys, strpcmp);
            qry_series_t *s = NULL;
            if (b->r->nseries && b->r->series[b->r->nseries - 1].name == NULL)
                s = &b->r->series[b->r->nseries - 1];
            else if (ns) {
                const char *col = "key";
                s = qry__rb_series(b, NULL, &col, 1);
            }
            for (int k = 0; k < ns; k++) {
                qry_val_t x = qry__vs(keys[k], strlen(keys[k]));
                qry__rb_row(b, s, &x);
            }
            cn_free(keys);
        }
        cn_free(ids);
        qry__plan_free(&p);
    }
    if (sh->kind == QRY_SHOW_SERIES && is_estimate(sh))
        put_count(b, sh, NULL, total, true);
    /* SHOW SERIES: LIMIT / OFFSET over the one key list */
    if (sh->kind == QRY_SHOW_SERIES && !sh->cardinality && b->r->nseries == 1 &&
        (sh->limit > 0 || sh->offset > 0)) {
        qry_series_t *s = &b->r->series[0];
        size_t off = sh->offset > 0 ? CN_MIN((size_t)sh->offset, s->nrows) : 0;
        size_t lim = sh->limit > 0 ? (size_t)sh->limit : s->nrows;
        size_t n = CN_MIN(lim, s->nrows - off);
        memmove(s->vals, s->vals + off, n * sizeof *s->vals);
        s->nrows = n;
        if (n == 0) {
            cn_free(s->vals);
            b->r->nseries = 0;
        }
    }
out:
    cn_free(ms);
    eng_snap_close(snap);
    return 0;
}

/* ------------------------------------------------------------------ DDL */

/* Go's time.Duration.String(): "168h0m0s", "0s", "1h30m0s", "1.5s". */
void qry__go_duration(int64_t ns, cn_buf_t *out)
{
    char tmp[64];
    if (ns == 0) {
        cn_buf_put(out, "0s", 2);
        return;
    }
    int64_t h = ns / 3600000000000, rem = ns % 3600000000000;
    int64_t m = rem / 60000000000;
    rem %= 60000000000;
    int64_t s = rem / 1000000000, frac = rem % 1000000000;
    int n;
    if (h)
        n = snprintf(tmp, sizeof tmp, "%lldh%lldm", (long long)h, (long long)m);
    else if (m)
        n = snprintf(tmp, sizeof tmp, "%lldm", (long long)m);
    else
        n = 0;
    cn_buf_put(out, tmp, (size_t)n);
    if (frac) {
        n = snprintf(tmp, sizeof tmp, "%lld.%09lld", (long long)s, (long long)frac);
        while (tmp[n - 1] == '0')
            n--;
    } else {
        n = snprintf(tmp, sizeof tmp, "%llds", (long long)s);
        n--;
    }
    cn_buf_put(out, tmp, (size_t)n);
    cn_buf_put_u8(out, 's');
}

/*
 * After a DELETE with time bounds: drops the series among ids[0..n) that
 * have no point left, as InfluxDB 1.x does (its engine removes a series
 * from the index when a ranged delete emptied it, so SHOW SERIES, SHOW TAG
 * VALUES and, once no series remain, SHOW MEASUREMENTS stop listing it).
 * A point written to such a series after the check keeps it: the engine
 * drops only series no write reached since the snapshot that found them
 * empty (eng_drop_series_unwritten).  Returns 0 or a negative code.
 */
static int drop_emptied(const qry_exec_opts_t *o, const char *meas, const uint64_t *ids,
                        size_t n)
{
    eng_snap_t *snap;
    int rc = eng_snap_open(o->db, &snap);
    if (rc < 0)
        return rc;
    const eng_field_info_t *fi;
    size_t nf = eng_snap_fields(snap, meas, &fi);
    uint32_t *fids = cn_malloc((nf + 1) * sizeof *fids);
    for (size_t k = 0; k < nf; k++)
        fids[k] = fi[k].id;
    uint64_t *empty = cn_malloc((n + 1) * sizeof *empty);
    size_t ne = 0;
    for (size_t i = 0; i < n && rc >= 0; i++) {
        eng_iter_t *it;
        int orc = eng_iter_open(snap, ids[i], fids, nf, INT64_MIN + 1, INT64_MAX, &it);
        if (orc == CN_ENOTFOUND)
            continue; /* gone already */
        if (orc < 0) {
            rc = orc;
            break;
        }
        bool any = false;
        eng_batch_t bt;
        int nx;
        while (!any && (nx = eng_iter_next(it, &bt)) > 0)
            any = bt.n > 0;
        eng_iter_close(it);
        if (nx < 0 && !any)
            rc = nx;
        else if (!any)
            empty[ne++] = ids[i];
    }
    uint64_t since = eng_snap_seq(snap);
    eng_snap_close(snap);
    cn_free(fids);
    uint64_t seq = 0;
    size_t ndropped = 0;
    if (rc >= 0 && ne)
        rc = eng_drop_series_unwritten(o->db, empty, ne, since, &seq, &ndropped);
    if (rc >= 0 && seq)
        rc = eng_wait_durable(o->db, seq);
    cn_free(empty);
    return rc < 0 ? rc : 0;
}

static int drop_where(const qry_exec_opts_t *o, const qry_source_t *src, size_t nsrc,
                      const qry_expr_t *cond, bool delete_time, qry__rb_t *b)
{
    int64_t tmin = INT64_MIN + 1, tmax = INT64_MAX;
    /* time bounds: only for DELETE */
    if (cond && delete_time) {
        if (qry__where_time(cond, o->now, &tmin, &tmax) < 0) {
            qry__rb_err(b, "invalid time condition");
            return 0;
        }
    }
    /* a DELETE without time bounds removes the series themselves, as in
     * InfluxDB (SHOW SERIES / MEASUREMENTS no longer list them) */
    if (delete_time && tmin == INT64_MIN + 1 && tmax == INT64_MAX)
        delete_time = false;
    eng_snap_t *snap;
    int rc = eng_snap_open(o->db, &snap);
    if (rc < 0) {
        qry__rb_err(b, "%s", cn_strerror(rc));
        return 0;
    }
    const char **ms;
    size_t nm = source_meas(snap, src, nsrc, &ms);
    char msg[256];
    for (size_t i = 0; i < nm && rc >= 0; i++) {
        plan_t p;
        if (qry__plan_where(snap, ms[i], cond, &p, msg, sizeof msg) < 0) {
            qry__plan_free(&p);
            qry__rb_err(b, "%s", msg);
            break;
        }
        if (p.rowcond) {
            qry__plan_free(&p);
            qry__rb_err(b, "fields not supported in WHERE clause during deletion");
            break;
        }
        uint64_t *ids = NULL;
        int n = where_series(snap, &p, &ids, NULL);
        uint64_t seq = 0;
        if (n > 0) {
            if (delete_time)
                rc = eng_delete(o->db, ms[i], ids, (size_t)n, tmin, tmax, &seq);
            else
                rc = eng_drop_series(o->db, ids, (size_t)n, &seq);
            if (rc == 0 && seq)
                rc = eng_wait_durable(o->db, seq);
            if (rc == 0 && delete_time)
                rc = drop_emptied(o, ms[i], ids, (size_t)n);
            if (rc < 0)
                qry__rb_err(b, "%s", cn_strerror(rc));
        }
        cn_free(ids);
        qry__plan_free(&p);
    }
    cn_free(ms);
    eng_snap_close(snap);
    return 0;
}

/* InfluxDB's checks of a policy's duration against its shard duration
 * (shard: the stored one when the statement gives none; 0 none).
 * Returns 0, or 1 with the statement error set. */
static int rp_check(const qry_rp_opts_t *ro, int64_t shard, qry__rb_t *b)
{
    if (ro->has_duration && ro->duration != 0 && ro->duration < HOUR_NS) {
        qry__rb_err(b, "retention policy duration must be at least 1h0m0s");
        return 1;
    }
    int64_t sh = ro->has_shard ? ro->shard_duration : shard;
    if (ro->has_duration && ro->duration != 0 && sh > ro->duration) {
        qry__rb_err(b, "retention policy duration must be greater than the shard duration");
        return 1;
    }
    return 0;
}

/* Copies the options a statement gave into r. */
static void rp_apply(rp_t *r, const qry_rp_opts_t *ro)
{
    if (ro->has_duration) {
        r->duration = ro->duration;
        r->set = true;
        if (!ro->has_shard)
            r->shard = shard_for(ro->duration);
    }
    if (ro->has_shard)
        r->shard = ro->shard_duration ? ro->shard_duration : shard_for(r->duration);
    if (ro->has_replication)
        r->repl = ro->replication;
}

/* The engine's retention follows the policies (cat_retention).  c->mu held. */
static void apply_retention(qry_catalog_t *c, const qry_exec_opts_t *o)
{
    int64_t want = cat_retention(c);
    if (o->db && eng_get_retention(o->db) != want) {
        eng_set_retention(o->db, want);
        cn_info("query: retention is now %lld s (the retention policies' longest default)",
                (long long)(want / 1000000000));
    }
}

/* qry__cat_target with c->mu held; a policy not found is named "db.rp"
 * when qualify (CREATE CONTINUOUS QUERY's words), else "rp" (INTO's). */
static int cat_target(qry_catalog_t *c, const char *db, const char *rp, bool qualify, qry__rb_t *b)
{
    if (!cat_has(c, db)) {
        qry__rb_err(b, "database not found: %s", db);
        return -1;
    }
    if (rp && *rp && !rp_find(c, db, rp) && !(strcmp(rp, "autogen") == 0 && !db_has_rps(c, db))) {
        /* (a database only written to has its autogen) */
        if (qualify)
            qry__rb_err(b, "retention policy not found: %s.%s", db, rp);
        else
            qry__rb_err(b, "retention policy not found: %s", rp);
        return -1;
    }
    return 0;
}

int qry__cat_target(qry_catalog_t *c, const char *db, const char *rp, qry__rb_t *b)
{
    pthread_mutex_lock(&c->mu);
    int rc = cat_target(c, db, rp, false, b);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* The default retention policy of db (c->mu held); "autogen" for a
 * database only written to, and for one whose default was dropped (InfluxDB
 * keeps the dropped default's name, and then finds no such policy). */
static const char *rp_default(qry_catalog_t *c, const char *db)
{
    for (size_t i = 0; i < c->nrps; i++)
        if (c->rps[i].def && strcmp(c->rps[i].db, db) == 0)
            return c->rps[i].name;
    return "autogen";
}

/* A copy of s whose INTO and measurements (in subqueries too) name their
 * database (db where they leave it out; none when db is NULL) and its
 * default policy (rp, when given, for names that leave the database out)
 * where they leave that out, as InfluxDB stores a continuous query; c->mu
 * held.  Only the copied sources, INTO and SELECTs are new (sel_free). */
static qry_select_t *sel_qualified(qry_catalog_t *c, const qry_select_t *s, const char *db,
                                   const char *rp)
{
    if (rp && !*rp)
        rp = NULL;
    qry_select_t *q = cn_malloc(sizeof *q);
    *q = *s;
    qry_source_t *src = cn_calloc(s->nsources + 1, sizeof *src);
    for (size_t i = 0; i < s->nsources; i++) {
        src[i] = s->sources[i];
        if (src[i].kind == QRY_SRC_SUBQUERY) {
            src[i].sub = sel_qualified(c, src[i].sub, db, rp);
        } else if (!src[i].db) {
            src[i].db = db;
            if (db && !src[i].rp)
                src[i].rp = rp ? rp : rp_default(c, db);
        } else if (!src[i].rp || !*src[i].rp) {
            src[i].rp = rp_default(c, src[i].db);
        }
    }
    q->sources = src;
    if (s->into) {
        qry_into_t *in = cn_malloc(sizeof *in);
        *in = *s->into;
        bool dflt = !in->db || !*in->db;
        if (dflt)
            in->db = db;
        if (in->db && (!in->rp || !*in->rp))
            in->rp = dflt && rp ? rp : rp_default(c, in->db);
        q->into = in;
    }
    return q;
}

/* Do the databases and policies q's measurements name (in subqueries
 * too) exist?  c->mu held. */
static int sel_check(qry_catalog_t *c, const qry_select_t *q, qry__rb_t *b)
{
    for (size_t i = 0; i < q->nsources; i++) {
        const qry_source_t *src = &q->sources[i];
        if (src->kind == QRY_SRC_SUBQUERY ? sel_check(c, src->sub, b) != 0
                                          : cat_target(c, src->db, src->rp, true, b) != 0)
            return -1;
    }
    return 0;
}

static void sel_free(qry_select_t *q)
{
    for (size_t i = 0; i < q->nsources; i++)
        if (q->sources[i].kind == QRY_SRC_SUBQUERY)
            sel_free(q->sources[i].sub);
    cn_free((void *)q->sources);
    cn_free((void *)q->into);
    cn_free(q);
}

void qry_print_qualified(const qry_stmt_t *st, qry_catalog_t *c, const char *db, const char *rp,
                         cn_buf_t *b)
{
    if (!c || st->kind != QRY_STMT_SELECT) {
        qry_print_stmt(st, b);
        return;
    }
    pthread_mutex_lock(&c->mu);
    qry_select_t *q = sel_qualified(c, st->u.select, db && *db ? db : NULL, rp);
    qry_print_select(q, b);
    sel_free(q);
    pthread_mutex_unlock(&c->mu);
}

/* CREATE / DROP CONTINUOUS QUERY, c->mu held.  As in InfluxDB: the
 * database must exist, the same statement again is no error, another one
 * under a taken name is, dropping nothing is none. */
static void cq_ddl(qry_catalog_t *c, const qry_stmt_t *st, const char *rp, qry__rb_t *b)
{
    const qry_ddl_t *d = st->u.ddl;
    cq_ent_t *e = cq_find(c, d->db, d->name);
    if (st->kind == QRY_STMT_DROP_CQ) {
        if (e) {
            cq_del(c, (size_t)(e - c->cqs));
            cat_save(c);
        }
        return;
    }
    if (!cat_has(c, d->db)) {
        qry__rb_err(b, "database not found: %s", d->db);
        return;
    }
    /* kept (and shown) with every name qualified, as InfluxDB keeps it;
     * INTO's and every measurement's database and policy must exist now */
    qry_select_t *qs = sel_qualified(c, d->cq, d->db, rp);
    if (cat_target(c, qs->into->db, qs->into->rp, true, b) != 0 || sel_check(c, qs, b) != 0) {
        sel_free(qs);
        return;
    }
    cn_buf_t t;
    cn_buf_init(&t);
    print_cq(st, qs, &t);
    sel_free(qs);
    if (t.len > CQ_TEXT_MAX)
        qry__rb_err(b, "continuous query too long: %zu bytes (at most %u)", t.len, CQ_TEXT_MAX);
    else if (!e) {
        cq_add(c, d->db, d->name, (const char *)t.p);
        cat_save(c);
    } else if (strcmp(e->text, (const char *)t.p) != 0) {
        qry__rb_err(b, "continuous query already exists");
    }
    cn_buf_free(&t);
}

/* CREATE / ALTER / DROP RETENTION POLICY on db, c->mu held. */
static void rp_ddl(qry_catalog_t *c, qry_stmt_kind_t kind, const char *db, const qry_ddl_t *d,
                   qry__rb_t *b)
{
    if (kind == QRY_STMT_DROP_RP) { /* InfluxDB: dropping nothing is no error */
        for (size_t i = 0; i < c->nrps; i++)
            if (strcmp(c->rps[i].db, db) == 0 && strcmp(c->rps[i].name, d->name) == 0) {
                rp_del(c, i);
                break;
            }
        return;
    }
    if (!cat_has(c, db)) {
        qry__rb_err(b, "database not found: %s", db);
        return;
    }
    rp_autogen(c, db); /* a database only written to has its autogen */
    rp_t *r = rp_find(c, db, d->name);
    if (kind == QRY_STMT_ALTER_RP) {
        if (!r) {
            qry__rb_err(b, "retention policy not found: %s", d->name);
            return;
        }
        if (rp_check(&d->rp, r->shard, b) != 0)
            return;
    } else {
        if (rp_check(&d->rp, 0, b) != 0)
            return;
        if (r) { /* the same options again is no error */
            rp_t want = *r;
            rp_apply(&want, &d->rp);
            if (want.duration != r->duration || want.shard != r->shard ||
                want.repl != r->repl || (d->rp.is_default && !r->def)) {
                qry__rb_err(b, "retention policy already exists");
            }
            return;
        }
        r = rp_add(c, db, d->name);
    }
    rp_apply(r, &d->rp);
    if (d->rp.is_default) {
        for (size_t i = 0; i < c->nrps; i++)
            if (strcmp(c->rps[i].db, db) == 0)
                c->rps[i].def = false;
        r = rp_find(c, db, d->name);
        r->def = true;
    }
}

int qry__exec_ddl(const qry_stmt_t *st, const qry_exec_opts_t *o, qry__rb_t *b)
{
    const qry_ddl_t *d = st->u.ddl;
    qry_catalog_t *c = o->cat;
    switch (st->kind) {
    case QRY_STMT_CREATE_DATABASE:
        if (rp_check(&d->rp, 0, b) != 0)
            return 0;
        if (c) {
            pthread_mutex_lock(&c->mu);
            if (!cat_has(c, d->name)) { /* an existing database stays as it is */
                cat_add(c, d->name);
                const char *rpn = d->rp.name ? d->rp.name : "autogen";
                rp_t *r = rp_add(c, d->name, rpn);
                rp_apply(r, &d->rp);
                r->def = true;
            }
            cat_save(c);
            apply_retention(c, o);
            pthread_mutex_unlock(&c->mu);
        }
        return 0;
    case QRY_STMT_DROP_DATABASE:
        if (c) {
            pthread_mutex_lock(&c->mu);
            if (!cat_has(c, d->name)) { /* InfluxDB: dropping nothing is no error */
                pthread_mutex_unlock(&c->mu);
                return 0;
            }
            for (size_t i = 0; i < c->ndbs; i++)
                if (strcmp(c->dbs[i], d->name) == 0) {
                    cn_free(c->dbs[i]);
                    c->dbs[i] = c->dbs[--c->ndbs];
                    break;
                }
            for (size_t i = 0; i < c->nrps;)
                if (strcmp(c->rps[i].db, d->name) == 0)
                    rp_del(c, i);
                else
                    i++;
            for (size_t i = 0; i < c->ncqs;)
                if (strcmp(c->cqs[i].db, d->name) == 0)
                    cq_del(c, i);
                else
                    i++;
            size_t left = c->ndbs;
            cat_save(c);
            apply_retention(c, o);
            pthread_mutex_unlock(&c->mu);
            if (left > 0) { /* one store: deleting would take the others' data */
                char w[320];
                snprintf(w, sizeof w,
                         "database %s forgotten, its data kept: every database's data is in "
                         "one store, deleted when the last database is dropped (or use DROP "
                         "MEASUREMENT, DROP SERIES, DELETE)",
                         d->name);
                b->r->msg = cn_strdup(w);
                return 0;
            }
        }
        return drop_where(o, NULL, 0, NULL, false, b);
    case QRY_STMT_DROP_MEASUREMENT: {
        qry_source_t src = {.kind = QRY_SRC_MEASUREMENT, .name = d->name};
        return drop_where(o, &src, 1, NULL, false, b);
    }
    case QRY_STMT_DROP_SERIES: return drop_where(o, d->sources, d->nsources, d->cond, false, b);
    case QRY_STMT_DELETE: return drop_where(o, d->sources, d->nsources, d->cond, true, b);
    case QRY_STMT_CREATE_RP:
    case QRY_STMT_ALTER_RP:
    case QRY_STMT_DROP_RP: {
        const char *db = d->db ? d->db : o->dbname;
        if (!db || !*db) {
            qry__rb_err(b, "database name required");
            return 0;
        }
        if (!c) { /* no catalog: the policy is the engine's retention */
            if (st->kind != QRY_STMT_DROP_RP && d->rp.has_duration &&
                rp_check(&d->rp, 0, b) == 0)
                eng_set_retention(o->db, d->rp.duration);
            return 0;
        }
        pthread_mutex_lock(&c->mu);
        rp_ddl(c, st->kind, db, d, b);
        cat_save(c);
        apply_retention(c, o);
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    case QRY_STMT_CREATE_CQ:
    case QRY_STMT_DROP_CQ:
        if (c) {
            pthread_mutex_lock(&c->mu);
            cq_ddl(c, st, o->rpname, b);
            pthread_mutex_unlock(&c->mu);
        } else {
            qry__rb_err(b, "continuous queries need the server's catalog");
        }
        return 0;
    default: qry__rb_err(b, "statement not supported"); return 0;
    }
}

/* ----------------------------------------------------------- dispatcher */

/* Does a measurement of sel (or of its subqueries) name no policy? */
static bool names_no_rp(const qry_select_t *sel)
{
    for (size_t i = 0; i < sel->nsources; i++) {
        const qry_source_t *src = &sel->sources[i];
        if (src->kind == QRY_SRC_SUBQUERY ? names_no_rp(src->sub) : !src->rp || !*src->rp)
            return true;
    }
    return false;
}

int qry_exec_stmt(const qry_stmt_t *st, const qry_exec_opts_t *o, qry_result_t **out)
{
    qry__rb_t b;
    qry__rb_init(&b);
    int rc = 0;
    if (o->cat) { /* names /write added: persisted here, off the event loop */
        pthread_mutex_lock(&o->cat->mu);
        if (o->cat->dirty)
            cat_save(o->cat);
        pthread_mutex_unlock(&o->cat->mu);
    }
    if (o->kill && atomic_load(o->kill)) { /* KILL QUERY of this very query */
        qry__rb_err(&b, "query interrupted");
        *out = b.r;
        return 0;
    }
    bool needs_db =
        st->kind == QRY_STMT_SELECT ||
        (st->kind == QRY_STMT_SHOW && st->u.show->kind != QRY_SHOW_DATABASES &&
         st->u.show->kind != QRY_SHOW_RETENTION_POLICIES && st->u.show->kind != QRY_SHOW_QUERIES &&
         st->u.show->kind != QRY_SHOW_CONTINUOUS_QUERIES && !st->u.show->db) ||
        st->kind == QRY_STMT_DROP_SERIES || st->kind == QRY_STMT_DELETE ||
        st->kind == QRY_STMT_DROP_MEASUREMENT;
    bool has_db = o->dbname && *o->dbname;
    if (st->kind == QRY_STMT_SELECT) {
        /* FROM db..m names the database itself */
        for (size_t i = 0; i < st->u.select->nsources && !has_db; i++)
            has_db = st->u.select->sources[i].db && *st->u.select->sources[i].db;
    }
    if (needs_db && !has_db) {
        qry__rb_err(&b, "database name required");
        *out = b.r;
        return 0;
    }
    /* rp= names a policy of db= for a SELECT's names without one: it must
     * exist (the data is read from the one store all the same) */
    if (st->kind == QRY_STMT_SELECT && o->rpname && *o->rpname && o->cat && o->dbname &&
        *o->dbname && names_no_rp(st->u.select) &&
        qry__cat_target(o->cat, o->dbname, o->rpname, &b) != 0) {
        *out = b.r;
        return 0;
    }
    switch (st->kind) {
    case QRY_STMT_SELECT: rc = qry__exec_select(st->u.select, o, &b); break;
    case QRY_STMT_SHOW: rc = qry__exec_show(st->u.show, o, &b); break;
    case QRY_STMT_KILL_QUERY: {
        /* InfluxDB: an unknown qid is the statement's error; a known one
         * answers nothing (the query stops at its next check) */
        uint64_t qid = (uint64_t)st->u.ddl->qid;
        int kr = o->tasks ? o->tasks->kill(o->tasks->ctx, qid) : CN_ENOTFOUND;
        if (kr == CN_EEXIST)
            qry__rb_err(&b, "already killed");
        else if (kr < 0)
            qry__rb_err(&b, "no such query id: %llu", (unsigned long long)qid);
        break;
    }
    default: rc = qry__exec_ddl(st, o, &b); break;
    }
    if (rc == CN_ECLOSED) {
        qry_result_free(b.r);
        *out = NULL;
        return rc;
    }
    *out = b.r;
    return 0;
}
