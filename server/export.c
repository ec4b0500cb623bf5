/* SPDX-License-Identifier: MIT */
/*
 * export.c - `cairn export` (see export.h for the layout it writes).
 *
 *   srv_export_run: eng_open (no background threads; -EBUSY when a server
 *   holds the directory) -> snapshot -> per measurement:
 *     series selected and sorted by (device_id, other tags, id); the tag keys
 *     of all of them become STRING columns (required when every series has
 *     the key), the fields typed columns;
 *     pass 1: the measurement's time range, from block statistics where a
 *       block can be skipped undecoded, else from the decoded batches;
 *     pass 2: per UTC day in range, per series in order, the engine's
 *       batches (fields aligned on the series' ts, valid per field) become
 *       one qry_pq_batch_t with the tag columns filled in; the writer is
 *       opened at the first row of the day, so empty days make no file.
 *   Each file closed (tmp, fsync, rename) is read back for its CRC-32C and
 *   listed in the manifest, written last with cn_file_write_atomic.
 *
 * NOTES
 *  1. eng_close() flushes the memtable rebuilt from the WAL into a segment:
 *     exporting a directory a server left with an unflushed WAL writes to it,
 *     as any eng_open would.
 *  2. Days are walked from the measurement's first to last point, so a
 *     sparse measurement spanning years opens (cheap, empty) iterators for
 *     every day in between.
 */
#include "export.h"

#include "engine.h"
#include "export/parquet.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DAY_NS (INT64_C(86400) * 1000000000)

typedef struct ser {
    uint64_t sid;
    const eng_tag_t *tags;
    uint32_t ntags;
    const char *dev; /* device_id value or NULL */
} ser_t;

typedef struct xp {
    const srv_export_opts_t *o;
    srv_export_summary_t *sum;
    cn_buf_t manifest; /* the "files" array entries */
    int64_t t0;
} xp_t;

/* ------------------------------------------------------------ arguments */

static int usage(FILE *diag, const char *what, const char *arg)
{
    if (diag)
        fprintf(diag, "cairn: export: %s%s%s (see cairn --help)\n", what, arg ? " " : "",
                arg ? arg : "");
    return CN_ECONFIG;
}

/* Integer ns, or RFC 3339 / a bare date (UTC). */
static int parse_time(const char *s, int64_t *ns)
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
    return cn_time_parse(s, strlen(s), 0, ns);
}

int srv_export_cli(int argc, char **argv, srv_export_opts_t *o, FILE *diag)
{
    static const char *const NAMES[] = {"--data-dir",    "--out",         "--from",  "--to",
                                        "--measurement", "--compression", "--format"};
    memset(o, 0, sizeof *o);
    o->tmin = INT64_MIN;
    o->tmax = INT64_MAX;
    o->codec = QRY_PQ_ZSTD;
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
            rc = parse_time(val, &o->tmin);
            break;
        case 3:
            rc = parse_time(val, &o->tmax);
            break;
        case 4:
            o->measurement = val;
            break;
        case 5:
            rc = qry_pq_codec_parse(val);
            if (rc >= 0) {
                o->codec = rc;
                rc = 0;
            }
            break;
        default:
            if (strcmp(val, "parquet") != 0)
                return usage(diag, "unsupported --format (only parquet):", val);
            break;
        }
        if (rc < 0)
            return usage(diag, "bad value for", NAMES[k]);
    }
    if (!o->data_dir || !o->data_dir[0])
        return usage(diag, "--data-dir DIR is required", NULL);
    if (!o->out_dir || !o->out_dir[0])
        return usage(diag, "--out DIR is required", NULL);
    if (o->tmin >= o->tmax)
        return usage(diag, "--from must be before --to", NULL);
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
static void hive_escape(const char *s, cn_buf_t *b)
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

typedef struct meas {
    const char *name;
    const eng_field_info_t *fields;
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
} meas_t;

static void meas_free(meas_t *m)
{
    for (size_t i = 0; m->names && i < m->nkeys + m->nfields; i++)
        cn_free(m->names[i]);
    cn_free(m->names);
    cn_free(m->fids);
    cn_free(m->ser);
    cn_free(m->keys);
    cn_free(m->cols);
    cn_free(m->tagvals);
    cn_free(m->vals);
    cn_free(m->valid);
    cn_free(m->zeros);
}

static int meas_setup(eng_snap_t *snap, const char *name, meas_t *m)
{
    memset(m, 0, sizeof *m);
    m->name = name;
    m->nfields = eng_snap_fields(snap, name, &m->fields);
    uint64_t *ids = NULL;
    int n = eng_snap_select(snap, name, NULL, 0, &ids);
    if (n < 0)
        return n;
    m->nser = (size_t)n;
    m->ser = cn_calloc(m->nser ? m->nser : 1, sizeof *m->ser);
    size_t kcap = 0;
    int rc = 0;
    for (size_t i = 0; i < m->nser; i++) {
        ser_t *s = &m->ser[i];
        s->sid = ids[i];
        rc = eng_snap_series_tags(snap, s->sid, &s->tags, &s->ntags);
        if (rc < 0)
            break;
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

/* Pass 1: first and last timestamp of the measurement within [tmin, tmax). */
static int meas_range(eng_snap_t *snap, const meas_t *m, int64_t tmin, int64_t tmax, int64_t *lo,
                      int64_t *hi)
{
    eng_stat_t *st = cn_calloc(m->nfields + 1, sizeof *st);
    int rc = 0;
    for (size_t i = 0; rc >= 0 && i < m->nser; i++) {
        eng_iter_t *it = NULL;
        rc = eng_iter_open(snap, m->ser[i].sid, m->fids, m->nfields, tmin, tmax, &it);
        while (rc >= 0) {
            uint32_t rows = 0;
            rc = eng_iter_peek_stats(it, st, &rows);
            if (rc == 1) {
                for (size_t f = 0; f < m->nfields; f++) {
                    if (st[f].count) {
                        *lo = CN_MIN(*lo, st[f].tmin);
                        *hi = CN_MAX(*hi, st[f].tmax);
                    }
                }
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
                *lo = CN_MIN(*lo, b.ts[0]);
                *hi = CN_MAX(*hi, b.ts[b.n - 1]);
            }
        }
        eng_iter_close(it);
    }
    cn_free(st);
    return rc < 0 ? rc : 0;
}

static void progress(xp_t *x, const char *m, const char *date)
{
    if (!x->o->progress)
        return;
    double s = (double)(cn_mono_ns() - x->t0) / 1e9;
    fprintf(x->o->progress, "\r\033[Kexport: %s %s  %llu rows, %llu files, %.1f MB/s", m, date,
            (unsigned long long)x->sum->rows, (unsigned long long)x->sum->files,
            s > 0 ? (double)x->sum->bytes / 1e6 / s : 0.0);
    fflush(x->o->progress);
}

/* Closes the day's file and lists it in the manifest. */
static int finish_file(xp_t *x, qry_pq_writer_t *w, const char *path, const char *rel,
                       const meas_t *m, const char *date)
{
    qry_pq_summary_t ps;
    int rc = qry_pq_close(w, &ps);
    if (rc < 0)
        return rc;
    uint32_t crc = 0;
    rc = file_crc32c(path, &crc);
    if (rc < 0)
        return rc;
    cn_buf_t *b = &x->manifest;
    char num[96];
    put_str(b, x->sum->files ? ",\n    {\"path\": " : "\n    {\"path\": ");
    json_str(b, rel);
    put_str(b, ", \"measurement\": ");
    json_str(b, m->name);
    put_str(b, ", \"date\": ");
    json_str(b, date);
    snprintf(num, sizeof num,
             ", \"rows\": %llu, \"bytes\": %llu, \"tmin\": ", (unsigned long long)ps.rows,
             (unsigned long long)ps.bytes);
    put_str(b, num);
    json_time(b, ps.tmin);
    put_str(b, ", \"tmax\": ");
    json_time(b, ps.tmax);
    snprintf(num, sizeof num, ", \"tmin_ns\": %lld, \"tmax_ns\": %lld, \"crc32c\": \"%08x\"}",
             (long long)ps.tmin, (long long)ps.tmax, crc);
    put_str(b, num);
    x->sum->rows += ps.rows;
    x->sum->bytes += ps.bytes;
    x->sum->files++;
    progress(x, m->name, date);
    return 0;
}

static int export_day(xp_t *x, eng_snap_t *snap, meas_t *m, int64_t day, const qry_pq_opts_t *po)
{
    const srv_export_opts_t *o = x->o;
    int64_t lo = day <= INT64_MIN / DAY_NS ? o->tmin : CN_MAX(day * DAY_NS, o->tmin);
    int64_t hi = day >= INT64_MAX / DAY_NS - 1 ? o->tmax : CN_MIN((day + 1) * DAY_NS, o->tmax);
    char date[16];
    day_str(day, date);
    cn_buf_t rel, path;
    cn_buf_init(&rel);
    cn_buf_init(&path);
    put_str(&rel, "measurement=");
    hive_escape(m->name, &rel);
    put_str(&rel, "/date=");
    put_str(&rel, date);
    put_str(&path, o->out_dir);
    cn_buf_put_u8(&path, '/');
    cn_buf_put(&path, rel.p, rel.len);
    size_t dirlen = path.len;
    put_str(&rel, "/part-0.parquet");
    cn_buf_put_u8(&rel, 0);
    put_str(&path, "/part-0.parquet");
    cn_buf_put_u8(&path, 0);
    int rc = 0;

    qry_pq_writer_t *w = NULL;
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
        eng_iter_t *it = NULL;
        rc = eng_iter_open(snap, s->sid, m->fids, m->nfields, lo, hi, &it);
        while (rc >= 0) {
            eng_batch_t b;
            rc = eng_iter_next(it, &b);
            if (rc <= 0)
                break;
            if (!b.n)
                continue;
            if (!w) { /* the directory only for a day with rows */
                path.p[dirlen] = 0;
                rc = cn_mkdirs((const char *)path.p, 0755);
                path.p[dirlen] = '/';
                if (rc < 0)
                    break;
                rc = qry_pq_open((const char *)path.p, m->cols, m->nkeys + m->nfields, po, &w);
                if (rc < 0)
                    break;
            }
            for (size_t f = 0; f < m->nfields; f++) {
                m->vals[m->nkeys + f] = b.vals[f];
                m->valid[m->nkeys + f] = b.valid[f];
            }
            qry_pq_batch_t pb = {.n = b.n, .ts = b.ts, .vals = m->vals, .valid = m->valid};
            rc = qry_pq_write(w, &pb);
        }
        eng_iter_close(it);
    }
    if (rc >= 0 && w)
        rc = finish_file(x, w, (const char *)path.p, (const char *)rel.p, m, date);
    else
        qry_pq_abort(w);
    if (rc < 0)
        cn_error("export: %s: %s", (const char *)path.p, cn_strerror(rc));
    cn_buf_free(&rel);
    cn_buf_free(&path);
    return rc < 0 ? rc : 0;
}

static int export_meas(xp_t *x, eng_snap_t *snap, const char *name)
{
    meas_t m;
    int rc = meas_setup(snap, name, &m);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    if (rc >= 0)
        rc = meas_range(snap, &m, x->o->tmin, x->o->tmax, &lo, &hi);
    qry_pq_opts_t po;
    qry_pq_opts_default(&po);
    po.codec = x->o->codec;
    qry_pq_kv_t kv[] = {{"cairn.measurement", name}, {"cairn.version", CAIRN_VERSION}};
    po.kv = kv;
    po.nkv = CN_ARRAY_LEN(kv);
    for (int64_t d = day_of(lo); rc >= 0 && lo <= hi && d <= day_of(hi); d++)
        rc = export_day(x, snap, &m, d, &po);
    meas_free(&m);
    return rc;
}

/* ------------------------------------------------------------------ run */

static int write_manifest(xp_t *x, int64_t start_ns)
{
    const srv_export_opts_t *o = x->o;
    time_t t = (time_t)(start_ns / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    int n = snprintf(x->sum->manifest, sizeof x->sum->manifest, "%s/_manifest-%s.json", o->out_dir,
                     stamp);
    if (n < 0 || (size_t)n >= sizeof x->sum->manifest)
        return -ENAMETOOLONG;

    cn_buf_t b;
    cn_buf_init(&b);
    char num[160];
    put_str(&b, "{\n  \"format\": \"parquet\",\n  \"compression\": ");
    json_str(&b, qry_pq_codec_name(o->codec));
    put_str(&b, ",\n  \"cairn_version\": ");
    json_str(&b, CAIRN_VERSION);
    put_str(&b, ",\n  \"started\": ");
    json_time(&b, start_ns);
    put_str(&b, ",\n  \"data_dir\": ");
    json_str(&b, o->data_dir);
    put_str(&b, ",\n  \"measurement\": ");
    if (o->measurement)
        json_str(&b, o->measurement);
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
             (unsigned long long)x->sum->rows, (unsigned long long)x->sum->bytes);
    put_str(&b, num);
    cn_buf_put(&b, x->manifest.p, x->manifest.len);
    put_str(&b, x->sum->files ? "\n  ]\n}\n" : "]\n}\n");
    int rc = cn_file_write_atomic(x->sum->manifest, b.p, b.len);
    cn_buf_free(&b);
    return rc;
}

int srv_export_run(const srv_export_opts_t *o, srv_export_summary_t *sum)
{
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
    xp_t x = {.o = o, .sum = sum, .t0 = cn_mono_ns()};
    cn_buf_init(&x.manifest);
    int64_t start_ns = cn_now_ns();

    eng_opts_t eo;
    eng_opts_default(&eo);
    eo.dir = o->data_dir;
    eo.durability = ENG_DUR_OS;
    eo.background = false;
    eng_db_t *db = NULL;
    eng_snap_t *snap = NULL;
    int rc = eng_open(&eo, &db);
    if (rc == 0)
        rc = eng_snap_open(db, &snap);
    if (rc == 0)
        rc = cn_mkdirs(o->out_dir, 0755);
    const char **names = NULL;
    size_t nm = rc == 0 ? eng_snap_measurements(snap, &names) : 0;
    for (size_t i = 0; rc >= 0 && i < nm; i++)
        if (!o->measurement || strcmp(o->measurement, names[i]) == 0)
            rc = export_meas(&x, snap, names[i]);
    if (rc >= 0)
        rc = write_manifest(&x, start_ns);
    if (o->progress && sum->files)
        fputs("\r\033[K", o->progress);
    if (snap)
        eng_snap_close(snap);
    eng_close(db);
    cn_buf_free(&x.manifest);
    sum->elapsed_ns = cn_mono_ns() - x.t0;
    return rc < 0 ? rc : 0;
}
