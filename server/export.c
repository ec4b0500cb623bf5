/* SPDX-License-Identifier: MIT */
/*
 * export.c - the export core (see export.h for the layout it writes).
 *
 *   setup (xp_begin): snapshot -> the condition parsed once -> per selected
 *     measurement (meas_setup): the condition compiled against its fields
 *     (qry_xf_compile), series selected through the tag index with the
 *     condition's tag terms, then per series the tag-only terms decide
 *     (skip / every row / row filter); series sorted by (device_id, other
 *     tags, id); the tag keys of the kept series become STRING columns
 *     (required when every series has the key), the fields typed columns;
 *     pass 1 (meas_range): the time range and the row count (for the
 *     progress bar's ETA), from block statistics where a block can be
 *     skipped undecoded, else from the decoded batches.
 *   pass 2 (export_rows): per UTC day in range, per series in order, the
 *     engine's batches (fields aligned on the series' ts, valid per field),
 *     row-filtered when the series needs it, become qry_pq_batch_t with the
 *     tag columns filled in, for the day's writer (fw_t: Parquet or CSV,
 *     into an atomic file or a sink).  A directory export opens the file at
 *     the day's first row, so empty days make no file; each file closed is
 *     read back for its CRC-32C and listed in the manifest, written last
 *     with cn_file_write_atomic.
 *
 * NOTES
 *  1. eng_close() flushes the memtable rebuilt from the WAL into a segment:
 *     exporting a directory a server left with an unflushed WAL writes to it,
 *     as any eng_open would.
 *  2. Days are walked from the measurement's first to last point, so a
 *     sparse measurement spanning years opens (cheap, empty) iterators for
 *     every day in between.
 */
#include "export_int.h"

#include "ast.h"
#include "export/csv.h"
#include "export/parquet.h"
#include "export/xfilter.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DAY_NS         (INT64_C(86400) * 1000000000)
#define PROGRESS_EVERY (INT64_C(200) * 1000000) /* ns between progress lines */

typedef struct ser {
    uint64_t sid;
    const eng_tag_t *tags;
    uint32_t ntags;
    const char *dev; /* device_id value or NULL */
    uint8_t xf;      /* QRY_XF_ALL or QRY_XF_ROWS */
} ser_t;

typedef struct meas {
    const char *name;
    eng_field_info_t *fields; /* owned copy: eng_snap_fields reuses its array */
    size_t nfields;
    uint32_t *fids;
    ser_t *ser;
    size_t nser;
    const char **keys; /* tag keys, sorted */
    size_t nkeys;
    qry_pq_col_t *cols; /* keys then fields */
    char **names;
    eng_str_t *tagvals; /* nkeys x ENG_BATCH */
    const void **vals;
    const uint8_t **valid;
    uint8_t *zeros; /* ENG_BATCH */
    qry_xf_t *xf;
    int64_t tmin, tmax; /* the export range narrowed by the condition */
    int64_t lo, hi;     /* first and last point in range (lo > hi: none) */
    uint64_t nrows;     /* rows in range (pass 1) */
} meas_t;

typedef struct xp {
    const srv_export_opts_t *o;
    srv_export_summary_t *sum;
    eng_snap_t *snap;
    qry_query_t *cond;
    int64_t now_ns;
    meas_t *ms;
    size_t nms;
    cn_buf_t manifest; /* the "files" array entries */
    int64_t t0, last_progress;
    uint64_t total;     /* rows to scan (pass 1) */
    uint64_t cur_bytes; /* bytes of the file being written */
    /* row filter output: ENG_BATCH rows of ts and per field */
    int64_t *fts;
    uint8_t *sel;
    uint8_t **fvals;
    uint8_t **fvalid;
    size_t ffields;
} xp_t;

/* One output file (or stream): Parquet or CSV, to a path or a sink. */
typedef struct fw {
    int format;
    qry_pq_writer_t *pq;
    qry_csv_writer_t *csv;
    qry_afile_t *af;
} fw_t;

/* ------------------------------------------------------------ arguments */

void srv_export_opts_default(srv_export_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->tmin = INT64_MIN;
    o->tmax = INT64_MAX;
    o->format = SRV_XFMT_PARQUET;
    o->codec = QRY_PQ_ZSTD;
    o->time_format = QRY_PQ_MICROS;
}

int srv_export_parse_time(const char *s, int64_t *ns)
{
    const char *p = s + (s[0] == '-');
    if (*p && strspn(p, "0123456789") == strlen(p)) {
        errno = 0;
        char *end = NULL;
        long long v = strtoll(s, &end, 10);
        if (errno || *end)
            return CN_EINVAL;
        *ns = (int64_t)v;
        return 0;
    }
    return cn_time_parse(s, strlen(s), 0, ns) < 0 ? CN_EINVAL : 0;
}

int srv_export_format_parse(const char *s)
{
    if (strcmp(s, "parquet") == 0)
        return SRV_XFMT_PARQUET;
    if (strcmp(s, "csv") == 0)
        return SRV_XFMT_CSV;
    return CN_EINVAL;
}

int srv_export_time_parse(int format, const char *s)
{
    if (format == SRV_XFMT_CSV)
        return qry_csv_time_parse(s);
    if (strcmp(s, "us") == 0)
        return QRY_PQ_MICROS;
    if (strcmp(s, "ns") == 0)
        return QRY_PQ_NANOS;
    return CN_EINVAL;
}

static int usage(FILE *diag, const char *what, const char *arg)
{
    if (diag)
        fprintf(diag, "cairn: export: %s%s%s (see cairn --help)\n", what, arg ? " " : "",
                arg ? arg : "");
    return CN_ECONFIG;
}

int srv_export_cli(int argc, char **argv, srv_export_opts_t *o, FILE *diag)
{
    static const char *const NAMES[] = {"--data-dir",    "--out",         "--from",
                                        "--to",          "--measurement", "--compression",
                                        "--format",      "--where",       "--time-format",
                                        "--server"};
    srv_export_opts_default(o);
    const char *codec = NULL, *tfmt = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        size_t k = 0;
        for (; k < CN_ARRAY_LEN(NAMES); k++) {
            size_t n = strlen(NAMES[k]);
            if (strncmp(a, NAMES[k], n) == 0 && (a[n] == 0 || a[n] == '=')) {
                val = a[n] == '=' ? a + n + 1 : NULL;
                break;
            }
        }
        if (k == CN_ARRAY_LEN(NAMES))
            return usage(diag, a[0] == '-' ? "unknown option" : "unexpected argument", a);
        if (!val) {
            if (i + 1 >= argc)
                return usage(diag, "missing value for", a);
            val = argv[++i];
        }
        int rc = 0;
        switch (k) {
        case 0:
            o->data_dir = val;
            break;
        case 1:
            o->out_dir = val;
            break;
        case 2:
            rc = srv_export_parse_time(val, &o->tmin);
            break;
        case 3:
            rc = srv_export_parse_time(val, &o->tmax);
            break;
        case 4:
            o->measurement = val;
            break;
        case 5:
            codec = val;
            break;
        case 6:
            rc = srv_export_format_parse(val);
            if (rc < 0)
                return usage(diag, "--format must be parquet or csv, not", val);
            o->format = rc;
            break;
        case 7:
            o->where = val;
            break;
        case 8:
            tfmt = val;
            break;
        default:
            o->server = val;
            break;
        }
        if (rc < 0)
            return usage(diag, "bad value for", NAMES[k]);
    }
    if (codec) {
        if (o->format != SRV_XFMT_PARQUET)
            return usage(diag, "--compression applies to --format parquet only", NULL);
        int rc = qry_pq_codec_parse(codec);
        if (rc < 0)
            return usage(diag, "--compression must be zstd, lz4_raw, snappy or none, not", codec);
        o->codec = rc;
    }
    o->time_format = o->format == SRV_XFMT_CSV ? QRY_CSV_RFC3339 : QRY_PQ_MICROS;
    if (tfmt) {
        int rc = srv_export_time_parse(o->format, tfmt);
        if (rc < 0)
            return usage(diag,
                         o->format == SRV_XFMT_CSV
                             ? "--time-format for csv must be rfc3339, s, ms, us or ns, not"
                             : "--time-format for parquet must be us or ns, not",
                         tfmt);
        o->time_format = rc;
    }
    if (o->data_dir && o->server)
        return usage(diag, "give either --data-dir or --server, not both", NULL);
    if ((!o->data_dir || !o->data_dir[0]) && (!o->server || !o->server[0]))
        return usage(diag, "--data-dir DIR (or --server URL) is required", NULL);
    if (!o->out_dir || !o->out_dir[0])
        return usage(diag, "--out DIR is required", NULL);
    if (o->tmin >= o->tmax)
        return usage(diag, "--from must be before --to", NULL);
    if (o->where) {
        qry_query_t *q = NULL;
        qry_error_t err;
        if (qry_parse_expr(o->where, strlen(o->where), &q, &err) < 0)
            return usage(diag, "--where:", err.msg);
        qry_query_free(q);
    }
    return 0;
}
/* ---------------------------------------------------------------- helpers */

static int64_t day_of(int64_t ts)
{
    return ts / DAY_NS - (ts % DAY_NS < 0);
}

static void day_str(int64_t day, char out[16])
{
    time_t t = (time_t)(day * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(out, 16, "%Y-%m-%d", &tm) == 0)
        out[0] = 0;
}

/* Hive-style escaping of a partition value. */
void srv__hive_escape(const char *s, cn_buf_t *b)
{
    static const char HEX[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '.' || *p == '-' || *p == '_') {
            cn_buf_put_u8(b, *p);
        } else {
            uint8_t e[3] = {'%', (uint8_t)HEX[*p >> 4], (uint8_t)HEX[*p & 15]};
            cn_buf_put(b, e, 3);
        }
    }
}

static void put_str(cn_buf_t *b, const char *s)
{
    cn_buf_put(b, s, strlen(s));
}

static void json_str(cn_buf_t *b, const char *s)
{
    cn_buf_put_u8(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e[8];
        if (*p == '"' || *p == '\\') {
            e[0] = '\\';
            e[1] = (char)*p;
            cn_buf_put(b, e, 2);
        } else if (*p < 0x20) {
            snprintf(e, sizeof e, "\\u%04x", *p);
            cn_buf_put(b, e, 6);
        } else {
            cn_buf_put_u8(b, *p);
        }
    }
    cn_buf_put_u8(b, '"');
}

static void json_time(cn_buf_t *b, int64_t ns)
{
    cn_buf_t t;
    cn_buf_init(&t);
    cn_time_format(ns, &t);
    cn_buf_put_u8(&t, 0);
    json_str(b, (const char *)t.p);
    cn_buf_free(&t);
}

static int file_crc32c(const char *path, uint32_t *crc)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    uint8_t *buf = cn_malloc(1 << 20);
    uint32_t c = 0;
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf, 1 << 20);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = -errno;
        if (n <= 0)
            break;
        c = cn_crc32c(c, buf, (size_t)n);
    }
    cn_free(buf);
    close(fd);
    *crc = c;
    return rc;
}

static int cmp_tags(const ser_t *a, const ser_t *b)
{
    if (!a->dev != !b->dev)
        return a->dev ? 1 : -1;
    int c = a->dev ? strcmp(a->dev, b->dev) : 0;
    for (uint32_t i = 0; !c && i < a->ntags && i < b->ntags; i++) {
        c = strcmp(a->tags[i].key, b->tags[i].key);
        if (!c)
            c = strcmp(a->tags[i].val, b->tags[i].val);
    }
    if (!c && a->ntags != b->ntags)
        c = a->ntags < b->ntags ? -1 : 1;
    return c;
}

static int cmp_ser(const void *pa, const void *pb)
{
    const ser_t *a = pa, *b = pb;
    int c = cmp_tags(a, b);
    if (c)
        return c;
    return a->sid < b->sid ? -1 : a->sid > b->sid;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A column name not yet in names[0..n) nor "time": base, else base_1, ... */
static char *uniq_name(char **names, size_t n, const char *base)
{
    cn_buf_t b;
    cn_buf_init(&b);
    for (unsigned k = 0;; k++) {
        cn_buf_reset(&b);
        put_str(&b, base);
        if (k) {
            char suf[16];
            snprintf(suf, sizeof suf, "_%u", k);
            put_str(&b, suf);
        }
        cn_buf_put_u8(&b, 0);
        bool used = strcmp((const char *)b.p, "time") == 0;
        for (size_t i = 0; !used && i < n; i++)
            used = strcmp(names[i], (const char *)b.p) == 0;
        if (!used)
            break;
    }
    char *s = cn_strdup((const char *)b.p);
    cn_buf_free(&b);
    return s;
}


/* -------------------------------------------------------- one measurement */

static void meas_free(meas_t *m)
{
    for (size_t i = 0; m->names && i < m->nkeys + m->nfields; i++)
        cn_free(m->names[i]);
    cn_free(m->names);
    cn_free(m->fids);
    cn_free(m->fields);
    cn_free(m->ser);
    cn_free(m->keys);
    cn_free(m->cols);
    cn_free(m->tagvals);
    cn_free(m->vals);
    cn_free(m->valid);
    cn_free(m->zeros);
    qry_xf_free(m->xf);
    memset(m, 0, sizeof *m);
}

/* Schema, condition and the series to export, sorted. */
static int meas_setup(xp_t *x, const char *name, meas_t *m)
{
    eng_snap_t *snap = x->snap;
    memset(m, 0, sizeof *m);
    m->name = name;
    m->lo = INT64_MAX;
    m->hi = INT64_MIN;
    const eng_field_info_t *fi = NULL;
    m->nfields = eng_snap_fields(snap, name, &fi);
    m->fields = cn_calloc(m->nfields + 1, sizeof *m->fields);
    if (m->nfields)
        memcpy(m->fields, fi, m->nfields * sizeof *m->fields);
    char err[256] = "";
    int rc = qry_xf_compile(x->cond ? x->cond->expr : NULL, m->fields, m->nfields, x->now_ns,
                            &m->xf, err, sizeof err);
    if (rc < 0) {
        snprintf(x->sum->err, sizeof x->sum->err, "where: %s", err);
        return rc;
    }
    m->tmin = x->o->tmin;
    m->tmax = x->o->tmax;
    qry_xf_range(m->xf, &m->tmin, &m->tmax);
    const eng_tag_pred_t *preds = NULL;
    size_t npreds = qry_xf_tag_preds(m->xf, &preds);
    uint64_t *ids = NULL;
    int n = m->tmin < m->tmax ? eng_snap_select(snap, name, preds, npreds, &ids) : 0;
    if (n < 0) {
        snprintf(x->sum->err, sizeof x->sum->err, "where: bad regular expression on a tag");
        return n == CN_EINVAL ? n : n;
    }
    m->ser = cn_calloc(n ? (size_t)n : 1, sizeof *m->ser);
    size_t kcap = 0;
    for (int i = 0; i < n; i++) {
        ser_t *s = &m->ser[m->nser];
        s->sid = ids[i];
        rc = eng_snap_series_tags(snap, s->sid, &s->tags, &s->ntags);
        if (rc < 0)
            break;
        int xs = qry_xf_series(m->xf, s->tags, s->ntags);
        if (xs == QRY_XF_NONE)
            continue;
        s->xf = (uint8_t)xs;
        m->nser++;
        for (uint32_t t = 0; t < s->ntags; t++) {
            if (strcmp(s->tags[t].key, "device_id") == 0)
                s->dev = s->tags[t].val;
            size_t k = 0;
            while (k < m->nkeys && strcmp(m->keys[k], s->tags[t].key) != 0)
                k++;
            if (k < m->nkeys)
                continue;
            if (m->nkeys == kcap) {
                kcap = kcap ? 2 * kcap : 8;
                m->keys = cn_realloc(m->keys, kcap * sizeof *m->keys);
            }
            m->keys[m->nkeys++] = s->tags[t].key;
        }
    }
    cn_free(ids);
    if (rc < 0)
        return rc;
    if (m->nkeys)
        qsort(m->keys, m->nkeys, sizeof *m->keys, cmp_str);
    if (m->nser)
        qsort(m->ser, m->nser, sizeof *m->ser, cmp_ser);

    size_t ncols = m->nkeys + m->nfields;
    m->cols = cn_calloc(ncols + 1, sizeof *m->cols);
    m->names = cn_calloc(ncols + 1, sizeof *m->names);
    m->fids = cn_calloc(m->nfields + 1, sizeof *m->fids);
    m->tagvals = cn_calloc((m->nkeys ? m->nkeys : 1) * ENG_BATCH, sizeof *m->tagvals);
    m->vals = cn_calloc(ncols + 1, sizeof *m->vals);
    m->valid = cn_calloc(ncols + 1, sizeof *m->valid);
    m->zeros = cn_calloc(ENG_BATCH, 1);
    for (size_t k = 0; k < m->nkeys; k++) {
        bool all = true;
        for (size_t i = 0; all && i < m->nser; i++) {
            bool has = false;
            for (uint32_t t = 0; !has && t < m->ser[i].ntags; t++)
                has = strcmp(m->ser[i].tags[t].key, m->keys[k]) == 0;
            all = has;
        }
        m->names[k] = uniq_name(m->names, k, m->keys[k]);
        m->cols[k] = (qry_pq_col_t){.name = m->names[k], .type = QRY_PQ_STRING, .required = all};
        m->vals[k] = m->tagvals + k * ENG_BATCH;
    }
    for (size_t f = 0; f < m->nfields; f++) {
        size_t c = m->nkeys + f;
        int type = 0;
        switch (m->fields[f].type) {
        case ENG_T_FLOAT:
            type = QRY_PQ_DOUBLE;
            break;
        case ENG_T_INT:
            type = QRY_PQ_INT64;
            break;
        case ENG_T_BOOL:
            type = QRY_PQ_BOOL;
            break;
        case ENG_T_STRING:
            type = QRY_PQ_STRING;
            break;
        default:
            return CN_ECORRUPT;
        }
        m->fids[f] = m->fields[f].id;
        m->names[c] = uniq_name(m->names, c, m->fields[f].name);
        m->cols[c] = (qry_pq_col_t){.name = m->names[c], .type = type, .required = false};
    }
    return 0;
}

/* Pass 1: first and last timestamp and the row count within the range. */
static int meas_range(xp_t *x, meas_t *m)
{
    eng_stat_t *st = cn_calloc(m->nfields + 1, sizeof *st);
    int rc = 0;
    for (size_t i = 0; rc >= 0 && i < m->nser; i++) {
        eng_iter_t *it = NULL;
        rc = eng_iter_open(x->snap, m->ser[i].sid, m->fids, m->nfields, m->tmin, m->tmax, &it);
        while (rc >= 0) {
            uint32_t rows = 0;
            rc = eng_iter_peek_stats(it, st, &rows);
            if (rc == 1) {
                for (size_t f = 0; f < m->nfields; f++) {
                    if (st[f].count) {
                        m->lo = CN_MIN(m->lo, st[f].tmin);
                        m->hi = CN_MAX(m->hi, st[f].tmax);
                    }
                }
                m->nrows += rows;
                eng_iter_skip(it);
                continue;
            }
            if (rc < 0)
                break;
            eng_batch_t b;
            rc = eng_iter_next(it, &b);
            if (rc <= 0)
                break;
            if (b.n) {
                m->lo = CN_MIN(m->lo, b.ts[0]);
                m->hi = CN_MAX(m->hi, b.ts[b.n - 1]);
                m->nrows += b.n;
            }
        }
        eng_iter_close(it);
    }
    cn_free(st);
    return rc < 0 ? rc : 0;
}

/* ------------------------------------------------------------- writers */

static int fw_open(xp_t *x, const meas_t *m, const char *path, const qry_sink_t *sink, fw_t *w)
{
    const srv_export_opts_t *o = x->o;
    memset(w, 0, sizeof *w);
    w->format = o->format;
    size_t ncols = m->nkeys + m->nfields;
    int rc;
    if (o->format == SRV_XFMT_PARQUET) {
        qry_pq_opts_t po;
        qry_pq_opts_default(&po);
        po.codec = o->codec;
        po.unit = o->time_format;
        qry_pq_kv_t kv[] = {{"cairn.measurement", m->name}, {"cairn.version", CAIRN_VERSION}};
        po.kv = kv;
        po.nkv = CN_ARRAY_LEN(kv);
        rc = path ? qry_pq_open(path, m->cols, ncols, &po, &w->pq)
                  : qry_pq_open_sink(sink, m->cols, ncols, &po, &w->pq);
        return rc;
    }
    qry_sink_t fs;
    if (path) {
        rc = qry_afile_open(path, &w->af);
        if (rc < 0)
            return rc;
        fs = qry_afile_sink(w->af);
        sink = &fs;
    }
    qry_csv_opts_t co = {.time_name = "time", .time_format = o->time_format};
    rc = qry_csv_open(sink, m->cols, ncols, &co, &w->csv);
    if (rc < 0) {
        qry_afile_abort(w->af);
        w->af = NULL;
    }
    return rc;
}

static bool fw_live(const fw_t *w)
{
    return w->pq || w->csv;
}

static int fw_write(fw_t *w, const qry_pq_batch_t *b)
{
    return w->pq ? qry_pq_write(w->pq, b) : qry_csv_write(w->csv, b);
}

static uint64_t fw_bytes(const fw_t *w)
{
    return w->pq ? qry_pq_bytes(w->pq) : w->csv ? qry_csv_bytes(w->csv) : 0;
}

static void fw_abort(fw_t *w)
{
    qry_pq_abort(w->pq);
    qry_csv_abort(w->csv);
    qry_afile_abort(w->af);
    memset(w, 0, sizeof *w);
}

static int fw_close(fw_t *w, qry_pq_summary_t *ps)
{
    int rc;
    if (w->pq) {
        rc = qry_pq_close(w->pq, ps);
    } else {
        rc = qry_csv_close(w->csv, ps);
        if (w->af) {
            if (rc < 0)
                qry_afile_abort(w->af);
            else
                rc = qry_afile_commit(w->af);
        }
    }
    memset(w, 0, sizeof *w);
    return rc;
}

static const char *fmt_ext(int format)
{
    return format == SRV_XFMT_CSV ? ".csv" : ".parquet";
}

/* ------------------------------------------------------------- progress */

static void progress(xp_t *x, const char *m, const char *date, bool force)
{
    if (!x->o->progress)
        return;
    int64_t now = cn_mono_ns();
    if (!force && now - x->last_progress < PROGRESS_EVERY)
        return;
    x->last_progress = now;
    double s = (double)(now - x->t0) / 1e9;
    uint64_t done = x->sum->scanned, bytes = x->sum->bytes + x->cur_bytes;
    char eta[32] = "--:--";
    if (done && x->total >= done && s > 0) {
        double left = s * (double)(x->total - done) / (double)done;
        long l = (long)(left + 0.5);
        snprintf(eta, sizeof eta, "%ld:%02ld:%02ld", l / 3600, l / 60 % 60, l % 60);
    }
    fprintf(x->o->progress,
            "\r\033[Kexport %3.0f%% %llu/%llu rows read, %llu written, %.1f MB/s, ETA %s  %s %s",
            x->total ? 100.0 * (double)CN_MIN(done, x->total) / (double)x->total : 100.0,
            (unsigned long long)done, (unsigned long long)x->total,
            (unsigned long long)x->sum->rows, s > 0 ? (double)bytes / 1e6 / s : 0.0, eta, m,
            date);
    fflush(x->o->progress);
}

/* ------------------------------------------------------------------ rows */

/* The rows of b that pass the filter, packed into x's arrays; NULL valid
 * arrays stay NULL.  Returns the packed batch's row count. */
static uint32_t pack(xp_t *x, const meas_t *m, const eng_batch_t *b, const void **vals,
                     const uint8_t **valid)
{
    if (x->ffields < m->nfields) {
        for (size_t f = 0; f < x->ffields; f++) {
            cn_free(x->fvals[f]);
            cn_free(x->fvalid[f]);
        }
        cn_free(x->fvals);
        cn_free(x->fvalid);
        x->ffields = m->nfields;
        x->fvals = cn_calloc(x->ffields, sizeof *x->fvals);
        x->fvalid = cn_calloc(x->ffields, sizeof *x->fvalid);
        for (size_t f = 0; f < x->ffields; f++) {
            x->fvals[f] = cn_malloc(ENG_BATCH * sizeof(eng_str_t));
            x->fvalid[f] = cn_malloc(ENG_BATCH);
        }
    }
    uint32_t k = 0;
    for (uint32_t r = 0; r < b->n; r++)
        if (x->sel[r])
            x->fts[k++] = b->ts[r];
    for (size_t f = 0; f < m->nfields; f++) {
        size_t sz = m->fields[f].type == ENG_T_STRING ? sizeof(eng_str_t)
                    : m->fields[f].type == ENG_T_BOOL ? 1
                                                      : 8;
        const uint8_t *src = b->vals[f];
        const uint8_t *sv = b->valid ? b->valid[f] : NULL;
        uint32_t j = 0;
        for (uint32_t r = 0; r < b->n; r++) {
            if (!x->sel[r])
                continue;
            memcpy(x->fvals[f] + (size_t)j * sz, src + (size_t)r * sz, sz);
            if (sv)
                x->fvalid[f][j] = sv[r];
            j++;
        }
        vals[f] = x->fvals[f];
        valid[f] = sv ? x->fvalid[f] : NULL;
    }
    return k;
}

/*
 * Pass 2 for [lo, hi): every kept series' rows into w.  With open_path set
 * (directory exports) the file is opened at the first row; otherwise w is
 * already open.
 */
static int export_rows(xp_t *x, meas_t *m, int64_t lo, int64_t hi, fw_t *w, const char *open_path,
                       const char *date)
{
    int rc = 0;
    for (size_t i = 0; rc >= 0 && i < m->nser; i++) {
        const ser_t *s = &m->ser[i];
        for (size_t k = 0; k < m->nkeys; k++) {
            const char *v = NULL;
            for (uint32_t t = 0; !v && t < s->ntags; t++)
                if (strcmp(s->tags[t].key, m->keys[k]) == 0)
                    v = s->tags[t].val;
            eng_str_t *tv = m->tagvals + k * ENG_BATCH;
            eng_str_t sv = {.p = v ? v : "", .len = v ? (uint32_t)strlen(v) : 0};
            for (size_t r = 0; r < ENG_BATCH; r++)
                tv[r] = sv;
            m->valid[k] = v ? NULL : m->zeros;
        }
        if (s->xf == QRY_XF_ROWS)
            qry_xf_series(m->xf, s->tags, s->ntags); /* binds the tags */
        eng_iter_t *it = NULL;
        rc = eng_iter_open(x->snap, s->sid, m->fids, m->nfields, lo, hi, &it);
        while (rc >= 0) {
            if (x->o->cancelled && x->o->cancelled(x->o->cancel_arg)) {
                rc = CN_ECLOSED;
                break;
            }
            eng_batch_t b;
            rc = eng_iter_next(it, &b);
            if (rc <= 0)
                break;
            if (!b.n)
                continue;
            x->sum->scanned += b.n;
            uint32_t n = b.n;
            const int64_t *ts = b.ts;
            if (s->xf == QRY_XF_ROWS) {
                n = qry_xf_rows(m->xf, &b, x->sel);
                if (n && n < b.n) {
                    n = pack(x, m, &b, m->vals + m->nkeys, m->valid + m->nkeys);
                    ts = x->fts;
                } else {
                    for (size_t f = 0; f < m->nfields; f++) {
                        m->vals[m->nkeys + f] = b.vals[f];
                        m->valid[m->nkeys + f] = b.valid ? b.valid[f] : NULL;
                    }
                }
            } else {
                for (size_t f = 0; f < m->nfields; f++) {
                    m->vals[m->nkeys + f] = b.vals[f];
                    m->valid[m->nkeys + f] = b.valid ? b.valid[f] : NULL;
                }
            }
            if (n && !fw_live(w) && open_path) {
                /* the day's directory only once it has a row */
                char *dir = cn_strdup(open_path);
                char *slash = strrchr(dir, '/');
                if (slash)
                    *slash = 0;
                rc = slash ? cn_mkdirs(dir, 0755) : 0;
                cn_free(dir);
                if (rc >= 0)
                    rc = fw_open(x, m, open_path, NULL, w);
            }
            if (n && rc >= 0) {
                qry_pq_batch_t pb = {.n = n, .ts = ts, .vals = m->vals, .valid = m->valid};
                rc = fw_write(w, &pb);
                x->sum->rows += n;
                x->cur_bytes = fw_bytes(w);
            }
            progress(x, m->name, date, false);
        }
        eng_iter_close(it);
    }
    return rc < 0 ? rc : 0;
}

/* ----------------------------------------------------------------- files */

static void day_bounds(const meas_t *m, int64_t day, int64_t *lo, int64_t *hi)
{
    *lo = day <= INT64_MIN / DAY_NS ? m->tmin : CN_MAX(day * DAY_NS, m->tmin);
    *hi = day >= INT64_MAX / DAY_NS - 1 ? m->tmax : CN_MIN((day + 1) * DAY_NS, m->tmax);
}

int srv__xp_list_file(cn_buf_t *entries, srv_export_summary_t *sum, const char *path,
                      const char *rel, const char *mname, const char *date,
                      const qry_pq_summary_t *ps)
{
    uint32_t crc = 0;
    int rc = file_crc32c(path, &crc);
    if (rc < 0)
        return rc;
    cn_buf_t *b = entries;
    char num[96];
    put_str(b, sum->files ? ",\n    {\"path\": " : "\n    {\"path\": ");
    json_str(b, rel);
    put_str(b, ", \"measurement\": ");
    json_str(b, mname);
    put_str(b, ", \"date\": ");
    json_str(b, date);
    snprintf(num, sizeof num,
             ", \"rows\": %llu, \"bytes\": %llu, \"tmin\": ", (unsigned long long)ps->rows,
             (unsigned long long)ps->bytes);
    put_str(b, num);
    json_time(b, ps->tmin);
    put_str(b, ", \"tmax\": ");
    json_time(b, ps->tmax);
    snprintf(num, sizeof num, ", \"tmin_ns\": %lld, \"tmax_ns\": %lld, \"crc32c\": \"%08x\"}",
             (long long)ps->tmin, (long long)ps->tmax, crc);
    put_str(b, num);
    sum->bytes += ps->bytes;
    sum->files++;
    sum->tmin = CN_MIN(sum->tmin, ps->tmin);
    sum->tmax = CN_MAX(sum->tmax, ps->tmax);
    return 0;
}

/* Closes the day's file and lists it in the manifest. */
static int finish_file(xp_t *x, fw_t *w, const char *path, const char *rel, const meas_t *m,
                       const char *date)
{
    qry_pq_summary_t ps;
    int rc = fw_close(w, &ps);
    x->cur_bytes = 0;
    if (rc < 0)
        return rc;
    rc = srv__xp_list_file(&x->manifest, x->sum, path, rel, m->name, date, &ps);
    if (rc < 0)
        return rc;
    progress(x, m->name, date, true);
    return 0;
}

static void rel_dir(const meas_t *m, const char *date, cn_buf_t *rel)
{
    put_str(rel, "measurement=");
    srv__hive_escape(m->name, rel);
    put_str(rel, "/date=");
    put_str(rel, date);
}

static int export_day(xp_t *x, meas_t *m, int64_t day)
{
    const srv_export_opts_t *o = x->o;
    int64_t lo, hi;
    day_bounds(m, day, &lo, &hi);
    char date[16];
    day_str(day, date);
    cn_buf_t rel, path;
    cn_buf_init(&rel);
    cn_buf_init(&path);
    rel_dir(m, date, &rel);
    put_str(&path, o->out_dir);
    cn_buf_put_u8(&path, '/');
    cn_buf_put(&path, rel.p, rel.len);
    const char *part = o->part ? o->part : "part-0";
    cn_buf_put_u8(&rel, '/');
    put_str(&rel, part);
    put_str(&rel, fmt_ext(o->format));
    cn_buf_put_u8(&rel, 0);
    cn_buf_put_u8(&path, '/');
    put_str(&path, part);
    put_str(&path, fmt_ext(o->format));
    cn_buf_put_u8(&path, 0);

    fw_t w;
    memset(&w, 0, sizeof w);
    int rc = export_rows(x, m, lo, hi, &w, (const char *)path.p, date);
    if (rc >= 0 && fw_live(&w))
        rc = finish_file(x, &w, (const char *)path.p, (const char *)rel.p, m, date);
    else
        fw_abort(&w);
    if (rc < 0)
        cn_error("export: %s: %s", (const char *)path.p, cn_strerror(rc));
    cn_buf_free(&rel);
    cn_buf_free(&path);
    return rc < 0 ? rc : 0;
}

/* ------------------------------------------------------------------ setup */

static void xp_end(xp_t *x)
{
    for (size_t i = 0; i < x->nms; i++)
        meas_free(&x->ms[i]);
    cn_free(x->ms);
    for (size_t f = 0; f < x->ffields; f++) {
        cn_free(x->fvals[f]);
        cn_free(x->fvalid[f]);
    }
    cn_free(x->fvals);
    cn_free(x->fvalid);
    cn_free(x->fts);
    cn_free(x->sel);
    qry_query_free(x->cond);
    if (x->snap)
        eng_snap_close(x->snap);
    cn_buf_free(&x->manifest);
    x->sum->elapsed_ns = cn_mono_ns() - x->t0;
}

/* Snapshot, condition, measurements set up and counted (pass 1). */
static int xp_begin(xp_t *x, eng_db_t *db, const srv_export_opts_t *o, srv_export_summary_t *sum)
{
    memset(sum, 0, sizeof *sum);
    memset(x, 0, sizeof *x);
    sum->tmin = INT64_MAX;
    sum->tmax = INT64_MIN;
    x->o = o;
    x->sum = sum;
    x->t0 = cn_mono_ns();
    x->now_ns = o->now_ns ? o->now_ns : cn_now_ns();
    x->fts = cn_malloc(ENG_BATCH * sizeof *x->fts);
    x->sel = cn_malloc(ENG_BATCH);
    cn_buf_init(&x->manifest);
    if (o->where && o->where[0]) {
        qry_error_t err;
        int rc = qry_parse_expr(o->where, strlen(o->where), &x->cond, &err);
        if (rc < 0) {
            snprintf(sum->err, sizeof sum->err, "where: %s", err.msg);
            return CN_EINVAL;
        }
    }
    int rc = eng_snap_open(db, &x->snap);
    if (rc < 0)
        return rc;
    const char **names = NULL;
    size_t nm = eng_snap_measurements(x->snap, &names);
    x->ms = cn_calloc(nm + 1, sizeof *x->ms);
    for (size_t i = 0; rc >= 0 && i < nm; i++) {
        if (o->measurement && strcmp(o->measurement, names[i]) != 0)
            continue;
        meas_t *m = &x->ms[x->nms++];
        rc = meas_setup(x, names[i], m);
        if (rc >= 0)
            rc = meas_range(x, m);
        x->total += m->nrows;
    }
    return rc;
}

/* ------------------------------------------------------------- manifest */

int srv__xp_write_manifest(const srv_export_opts_t *o, srv_export_summary_t *sum,
                           const cn_buf_t *entries, int64_t start_ns, const char *source)
{
    time_t t = (time_t)(start_ns / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    int n = snprintf(sum->manifest, sizeof sum->manifest, "%s/_manifest-%s%s%s.json",
                     o->out_dir, stamp, o->part ? "-" : "", o->part ? o->part : "");
    if (n < 0 || (size_t)n >= sizeof sum->manifest)
        return -ENAMETOOLONG;

    cn_buf_t b;
    cn_buf_init(&b);
    char num[160];
    put_str(&b, "{\n  \"format\": ");
    json_str(&b, o->format == SRV_XFMT_CSV ? "csv" : "parquet");
    put_str(&b, ",\n  \"compression\": ");
    json_str(&b, o->format == SRV_XFMT_CSV ? "none" : qry_pq_codec_name(o->codec));
    put_str(&b, ",\n  \"time_format\": ");
    json_str(&b, o->format == SRV_XFMT_CSV ? qry_csv_time_name(o->time_format)
                 : o->time_format == QRY_PQ_NANOS ? "ns"
                                                  : "us");
    put_str(&b, ",\n  \"cairn_version\": ");
    json_str(&b, CAIRN_VERSION);
    put_str(&b, ",\n  \"started\": ");
    json_time(&b, start_ns);
    put_str(&b, ",\n  \"source\": ");
    json_str(&b, source);
    put_str(&b, ",\n  \"measurement\": ");
    if (o->measurement)
        json_str(&b, o->measurement);
    else
        put_str(&b, "null");
    put_str(&b, ",\n  \"where\": ");
    if (o->where && o->where[0])
        json_str(&b, o->where);
    else
        put_str(&b, "null");
    put_str(&b, ",\n  \"from\": ");
    if (o->tmin == INT64_MIN)
        put_str(&b, "null");
    else
        json_time(&b, o->tmin);
    put_str(&b, ",\n  \"to\": ");
    if (o->tmax == INT64_MAX)
        put_str(&b, "null");
    else
        json_time(&b, o->tmax);
    snprintf(num, sizeof num, ",\n  \"rows\": %llu,\n  \"bytes\": %llu,\n  \"files\": [",
             (unsigned long long)sum->rows, (unsigned long long)sum->bytes);
    put_str(&b, num);
    cn_buf_put(&b, entries->p, entries->len);
    put_str(&b, sum->files ? "\n  ]\n}\n" : "]\n}\n");
    int rc = cn_file_write_atomic(sum->manifest, b.p, b.len);
    cn_buf_free(&b);
    return rc;
}

/* ------------------------------------------------------------------ api */

static int export_dir(eng_db_t *db, const srv_export_opts_t *o, srv_export_summary_t *sum,
                      const char *source)
{
    int64_t start_ns = cn_now_ns();
    xp_t x;
    int rc = xp_begin(&x, db, o, sum);
    if (rc >= 0)
        rc = cn_mkdirs(o->out_dir, 0755);
    for (size_t i = 0; rc >= 0 && i < x.nms; i++) {
        meas_t *m = &x.ms[i];
        for (int64_t d = day_of(m->lo); rc >= 0 && m->lo <= m->hi && d <= day_of(m->hi); d++)
            rc = export_day(&x, m, d);
    }
    if (rc >= 0)
        rc = srv__xp_write_manifest(o, sum, &x.manifest, start_ns, source);
    if (o->progress && sum->files)
        fputs("\r\033[K", o->progress);
    xp_end(&x);
    return rc < 0 ? rc : 0;
}

int srv_export_db(eng_db_t *db, const srv_export_opts_t *o, srv_export_summary_t *sum)
{
    return export_dir(db, o, sum, "server");
}

int srv_export_stream(eng_db_t *db, const srv_export_opts_t *o, const qry_sink_t *sink,
                      srv_export_summary_t *sum)
{
    xp_t x;
    int rc = xp_begin(&x, db, o, sum);
    meas_t *m = NULL;
    if (rc >= 0 && x.nms == 1) {
        m = &x.ms[0];
    } else if (rc >= 0 && o->measurement) {
        snprintf(sum->err, sizeof sum->err, "measurement \"%s\" not found", o->measurement);
        rc = CN_ENOTFOUND;
    } else if (rc >= 0) {
        snprintf(sum->err, sizeof sum->err,
                 "measurement is required: one export is one file of one measurement, and "
                 "there are %zu",
                 x.nms);
        rc = CN_EINVAL;
    }
    fw_t w;
    memset(&w, 0, sizeof w);
    if (rc >= 0)
        rc = fw_open(&x, m, NULL, sink, &w);
    for (int64_t d = m ? day_of(m->lo) : 0; rc >= 0 && m->lo <= m->hi && d <= day_of(m->hi);
         d++) {
        int64_t lo, hi;
        char date[16];
        day_bounds(m, d, &lo, &hi);
        day_str(d, date);
        rc = export_rows(&x, m, lo, hi, &w, NULL, date);
    }
    if (rc >= 0) {
        qry_pq_summary_t ps;
        rc = fw_close(&w, &ps);
        if (rc >= 0) {
            sum->files = 1;
            sum->bytes = ps.bytes;
            sum->tmin = ps.tmin;
            sum->tmax = ps.tmax;
        }
    } else {
        fw_abort(&w);
    }
    xp_end(&x);
    return rc < 0 ? rc : 0;
}

int srv_export_plan(eng_db_t *db, const srv_export_opts_t *o, cn_buf_t *out,
                    srv_export_summary_t *sum)
{
    xp_t x;
    int rc = xp_begin(&x, db, o, sum);
    for (size_t i = 0; rc >= 0 && i < x.nms; i++) {
        const meas_t *m = &x.ms[i];
        for (int64_t d = day_of(m->lo); m->lo <= m->hi && d <= day_of(m->hi); d++) {
            char date[16];
            day_str(d, date);
            srv__hive_escape(m->name, out);
            cn_buf_put_u8(out, '\t');
            put_str(out, date);
            cn_buf_put_u8(out, '\n');
        }
    }
    xp_end(&x);
    return rc < 0 ? rc : 0;
}

int srv_export_extent(eng_db_t *db, int64_t tmin, int64_t tmax, int64_t *lo, int64_t *hi)
{
    *lo = INT64_MAX;
    *hi = INT64_MIN;
    if (tmin >= tmax)
        return 0;
    srv_export_opts_t o;
    srv_export_opts_default(&o);
    o.tmin = tmin;
    o.tmax = tmax;
    srv_export_summary_t sum;
    xp_t x;
    int rc = xp_begin(&x, db, &o, &sum);
    for (size_t i = 0; rc >= 0 && i < x.nms; i++) {
        if (x.ms[i].lo <= x.ms[i].hi) {
            *lo = CN_MIN(*lo, x.ms[i].lo);
            *hi = CN_MAX(*hi, x.ms[i].hi);
        }
    }
    xp_end(&x);
    return rc < 0 ? rc : 0;
}

int srv_export_run(const srv_export_opts_t *o, srv_export_summary_t *sum)
{
    if (o->server)
        return srv_export_remote(o, sum);
    memset(sum, 0, sizeof *sum);
    struct stat st;
    if (stat(o->data_dir, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    /* eng_open would create a data directory anywhere: only open one that
     * a server has used (it always has wal/). */
    char wal[4096];
    int n = snprintf(wal, sizeof wal, "%s/wal", o->data_dir);
    if (n < 0 || (size_t)n >= sizeof wal)
        return -ENAMETOOLONG;
    if (stat(wal, &st) < 0 || !S_ISDIR(st.st_mode))
        return CN_ENOTFOUND;

    eng_opts_t eo;
    eng_opts_default(&eo);
    eo.dir = o->data_dir;
    eo.durability = ENG_DUR_OS;
    eo.background = false;
    eng_db_t *db = NULL;
    int rc = eng_open(&eo, &db);
    if (rc == 0)
        rc = export_dir(db, o, sum, o->data_dir);
    eng_close(db);
    return rc < 0 ? rc : 0;
}
