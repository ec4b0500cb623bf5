/* SPDX-License-Identifier: MIT */
/*
 * csv.c - the CSV writer (see csv.h): rows are formatted into one buffer
 * that goes to the sink whenever it passes FLUSH_BYTES.
 */
#include "csv.h"

#include "ast.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define FLUSH_BYTES (64u << 10) /* small pieces: an HTTP stream starts early */

typedef struct ccol {
    int type;
    bool required;
} ccol_t;

struct qry_csv_writer {
    qry_sink_t sink;
    int tfmt;
    size_t ncols;
    ccol_t *cols;
    cn_buf_t out;
    uint64_t bytes; /* passed to the sink */
    uint64_t rows;
    int64_t tmin, tmax;
    bool failed;
    int64_t sec_cached; /* second whose "YYYY-MM-DDTHH:MM:SS" is in sec_txt */
    char sec_txt[32];
};

int qry_csv_time_parse(const char *s)
{
    static const char *const N[] = {"rfc3339", "s", "ms", "us", "ns"};
    for (int i = 0; i < (int)CN_ARRAY_LEN(N); i++)
        if (strcmp(s, N[i]) == 0)
            return i;
    return CN_EINVAL;
}

const char *qry_csv_time_name(int fmt)
{
    static const char *const N[] = {"rfc3339", "s", "ms", "us", "ns"};
    return fmt >= 0 && fmt < (int)CN_ARRAY_LEN(N) ? N[fmt] : "?";
}

/* ------------------------------------------------------------ formatting */

static bool needs_quote(const char *p, size_t n)
{
    if (n == 0 || p[0] == ' ' || p[n - 1] == ' ')
        return true;
    for (size_t i = 0; i < n; i++)
        if (p[i] == ',' || p[i] == '"' || p[i] == '\r' || p[i] == '\n')
            return true;
    return false;
}

static void put_text(cn_buf_t *b, const char *p, size_t n)
{
    if (!needs_quote(p, n)) {
        cn_buf_put(b, p, n);
        return;
    }
    cn_buf_put_u8(b, '"');
    for (;;) {
        const char *q = memchr(p, '"', n);
        if (!q) {
            cn_buf_put(b, p, n);
            break;
        }
        size_t k = (size_t)(q - p) + 1;
        cn_buf_put(b, p, k);
        cn_buf_put_u8(b, '"');
        p += k;
        n -= k;
    }
    cn_buf_put_u8(b, '"');
}

/* The shortest %.Ng text (N = 1..17) that strtod reads back exactly. */
static void put_double(cn_buf_t *b, double v)
{
    if (isnan(v)) {
        cn_buf_put(b, "NaN", 3);
        return;
    }
    if (isinf(v)) {
        if (v < 0)
            cn_buf_put(b, "-Infinity", 9);
        else
            cn_buf_put(b, "Infinity", 8);
        return;
    }
    char t[40];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(t, sizeof t, "%.*g", prec, v);
        if (prec == 17 || strtod(t, NULL) == v)
            break;
    }
    cn_buf_put(b, t, (size_t)n);
}

static int64_t floor_div(int64_t a, int64_t d)
{
    return a / d - (a % d < 0);
}

/* Civil date of a day count since 1970-01-01 (proleptic Gregorian). */
static void civil(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t z = days + 719468;
    int64_t era = floor_div(z, 146097);
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void put_time(qry_csv_writer_t *w, int64_t ns)
{
    cn_buf_t *b = &w->out;
    switch (w->tfmt) {
    case QRY_CSV_S:
        qry_put_int(b, floor_div(ns, 1000000000));
        return;
    case QRY_CSV_MS:
        qry_put_int(b, floor_div(ns, 1000000));
        return;
    case QRY_CSV_US:
        qry_put_int(b, floor_div(ns, 1000));
        return;
    case QRY_CSV_NS:
        qry_put_int(b, ns);
        return;
    default:
        break;
    }
    int64_t sec = floor_div(ns, 1000000000);
    int64_t frac = ns - sec * 1000000000;
    if (sec != w->sec_cached || !w->sec_txt[0]) {
        int64_t days = floor_div(sec, 86400), sod = sec - days * 86400, y;
        unsigned m, d;
        civil(days, &y, &m, &d);
        snprintf(w->sec_txt, sizeof w->sec_txt, "%04lld-%02u-%02uT%02u:%02u:%02u", (long long)y,
                 m, d, (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60), (unsigned)(sod % 60));
        w->sec_cached = sec;
    }
    char t[16];
    t[0] = '.';
    for (int i = 9; i >= 1; i--) {
        t[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    t[10] = 'Z';
    cn_buf_put(b, w->sec_txt, strlen(w->sec_txt));
    cn_buf_put(b, t, 11);
}

/* ------------------------------------------------------------------ api */

static int flush_out(qry_csv_writer_t *w)
{
    if (!w->out.len)
        return 0;
    int rc = w->sink.write(w->sink.arg, w->out.p, w->out.len);
    w->bytes += w->out.len;
    cn_buf_reset(&w->out);
    if (rc < 0)
        w->failed = true;
    return rc;
}

int qry_csv_open(const qry_sink_t *sink, const qry_pq_col_t *cols, size_t ncols,
                 const qry_csv_opts_t *opts, qry_csv_writer_t **out)
{
    const char *tname = opts && opts->time_name ? opts->time_name : "time";
    int tfmt = opts ? opts->time_format : QRY_CSV_RFC3339;
    if (!sink || !sink->write || (ncols && !cols) || tfmt < 0 || tfmt > QRY_CSV_NS)
        return CN_EINVAL;
    for (size_t i = 0; i < ncols; i++) {
        if (!cols[i].name || strcmp(cols[i].name, tname) == 0 || cols[i].type < QRY_PQ_DOUBLE ||
            cols[i].type > QRY_PQ_STRING)
            return CN_EINVAL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(cols[i].name, cols[j].name) == 0)
                return CN_EINVAL;
    }
    qry_csv_writer_t *w = cn_calloc(1, sizeof *w);
    w->sink = *sink;
    w->tfmt = tfmt;
    w->ncols = ncols;
    w->cols = cn_calloc(ncols + 1, sizeof *w->cols);
    w->tmin = INT64_MAX;
    w->tmax = INT64_MIN;
    put_text(&w->out, tname, strlen(tname));
    for (size_t i = 0; i < ncols; i++) {
        w->cols[i] = (ccol_t){.type = cols[i].type, .required = cols[i].required};
        cn_buf_put_u8(&w->out, ',');
        put_text(&w->out, cols[i].name, strlen(cols[i].name));
    }
    cn_buf_put(&w->out, "\r\n", 2);
    int rc = flush_out(w);
    if (rc < 0) {
        qry_csv_abort(w);
        return rc;
    }
    *out = w;
    return 0;
}

int qry_csv_write(qry_csv_writer_t *w, const qry_pq_batch_t *b)
{
    if (w->failed)
        return CN_ECLOSED;
    for (size_t c = 0; c < w->ncols; c++) {
        if (!w->cols[c].required || !b->valid || !b->valid[c])
            continue;
        for (uint32_t r = 0; r < b->n; r++)
            if (!b->valid[c][r])
                return CN_EINVAL;
    }
    cn_buf_t *o = &w->out;
    for (uint32_t r = 0; r < b->n; r++) {
        put_time(w, b->ts[r]);
        for (size_t c = 0; c < w->ncols; c++) {
            cn_buf_put_u8(o, ',');
            if (b->valid && b->valid[c] && !b->valid[c][r])
                continue;
            const void *v = b->vals[c];
            switch (w->cols[c].type) {
            case QRY_PQ_DOUBLE:
                put_double(o, ((const double *)v)[r]);
                break;
            case QRY_PQ_INT64:
                qry_put_int(o, ((const int64_t *)v)[r]);
                break;
            case QRY_PQ_BOOL:
                if (((const uint8_t *)v)[r])
                    cn_buf_put(o, "true", 4);
                else
                    cn_buf_put(o, "false", 5);
                break;
            default: {
                const eng_str_t *s = &((const eng_str_t *)v)[r];
                put_text(o, s->p, s->len);
            }
            }
        }
        cn_buf_put(o, "\r\n", 2);
        if (o->len >= FLUSH_BYTES) {
            int rc = flush_out(w);
            if (rc < 0)
                return rc;
        }
    }
    if (b->n) {
        w->rows += b->n;
        for (uint32_t r = 0; r < b->n; r++) {
            w->tmin = CN_MIN(w->tmin, b->ts[r]);
            w->tmax = CN_MAX(w->tmax, b->ts[r]);
        }
    }
    return 0;
}

int qry_csv_close(qry_csv_writer_t *w, qry_pq_summary_t *sum)
{
    int rc = w->failed ? CN_ECLOSED : flush_out(w);
    if (sum) {
        sum->rows = w->rows;
        sum->bytes = w->bytes;
        sum->row_groups = 0;
        sum->tmin = w->rows ? w->tmin : 0;
        sum->tmax = w->rows ? w->tmax : -1;
    }
    qry_csv_abort(w);
    return rc;
}

void qry_csv_abort(qry_csv_writer_t *w)
{
    if (!w)
        return;
    cn_buf_free(&w->out);
    cn_free(w->cols);
    cn_free(w);
}

uint64_t qry_csv_bytes(const qry_csv_writer_t *w)
{
    return w->bytes + w->out.len;
}
