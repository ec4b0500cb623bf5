/* SPDX-License-Identifier: MIT */
/*
 * export_client.c - `cairn export --server URL`: the same dataset as an
 * export of a data directory, fetched from a running server over its HTTP
 * API (a running server holds its data directory's lock, so the CLI cannot
 * open it):
 *
 *   GET URL/api/v1/export/partitions?<filters>   "<measurement>\t<date>" lines
 *   per line: GET URL/api/v1/export?measurement=..&from=<day or --from>
 *             &to=<next day or --to>&<filters>&format=..  streamed into
 *             OUT/measurement=M/date=D/part-0.<ext> (atomic file), then
 *             listed in the manifest: rows and time range read back from
 *             the Parquet footer (qry_pq_read_summary) or counted in the
 *             CSV, CRC-32C from the file.
 *
 * <filters> are where=, plus format=, compression=, time_format=; times go
 * as integer ns.  A failed request or transfer removes the temporary file
 * and ends the export with the server's message.
 */
#include "export/csv.h"
#include "export_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DAY_NS (INT64_C(86400) * 1000000000)

/* Streaming state of one response. */
typedef struct fetch {
    qry_sink_t sink; /* body bytes go here when status is 200 */
    cn_buf_t err;    /* body of a non-200 answer */
    long status;
    int sink_rc;
    /* CSV: records (lines outside quotes) and the first field of each */
    bool csv, in_quote, at_start, header_done;
    uint64_t records;
    cn_buf_t first;
    int64_t tmin, tmax;
    int tfmt;
} fetch_t;

static int64_t csv_time(const fetch_t *f, const cn_buf_t *t)
{
    char s[64];
    size_t n = CN_MIN(t->len, sizeof s - 1);
    memcpy(s, t->p, n);
    s[n] = 0;
    int64_t ns = 0;
    if (f->tfmt == QRY_CSV_RFC3339) {
        if (cn_time_parse(s, n, CN_TIME_NEED_CLOCK | CN_TIME_NEED_ZONE, &ns) < 0)
            return INT64_MIN;
        return ns;
    }
    static const int64_t mul[] = {0, 1000000000, 1000000, 1000, 1};
    long long v = strtoll(s, NULL, 10);
    return (int64_t)v * mul[f->tfmt];
}

/* Counts CSV records and tracks the time range (the first field). */
static void csv_scan(fetch_t *f, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = p[i];
        if (f->in_quote) {
            if (ch == '"')
                f->in_quote = false; /* "" re-enters at once */
            continue;
        }
        if (ch == '"') {
            f->in_quote = true;
        } else if (ch == '\n') {
            if (f->header_done) {
                int64_t t = csv_time(f, &f->first);
                f->tmin = CN_MIN(f->tmin, t);
                f->tmax = CN_MAX(f->tmax, t);
                f->records++;
            }
            f->header_done = true;
            f->at_start = true;
            cn_buf_reset(&f->first);
            continue;
        } else if (ch == ',') {
            f->at_start = false;
        } else if (f->at_start && ch != '\r' && f->first.len < 63) {
            cn_buf_put_u8(&f->first, ch);
        }
    }
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    fetch_t *f = arg;
    size_t n = size * nmemb;
    if (f->status != 200) {
        if (f->err.len < 4096)
            cn_buf_put(&f->err, p, CN_MIN(n, 4096 - f->err.len));
        return n;
    }
    if (f->csv)
        csv_scan(f, (const uint8_t *)p, n);
    f->sink_rc = f->sink.write(f->sink.arg, p, n);
    return f->sink_rc < 0 ? 0 : n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
    fetch_t *f = arg;
    size_t n = size * nmemb;
    if (n > 9 && memcmp(p, "HTTP/", 5) == 0) {
        const char *sp = memchr(p, ' ', n);
        if (sp)
            f->status = strtol(sp + 1, NULL, 10);
    }
    return n;
}

static int null_write(void *arg, const void *p, size_t n)
{
    (void)p;
    (void)n;
    cn_buf_put(arg, p, n);
    return 0;
}

/* The "error" of a JSON error body, else the body itself, into msg. */
static void error_text(const fetch_t *f, char *msg, size_t n)
{
    const char *b = (const char *)f->err.p;
    size_t len = f->err.len;
    const char *k = len ? strstr(b, "\"error\":\"") : NULL;
    if (k) {
        k += 9;
        const char *e = strchr(k, '"');
        snprintf(msg, n, "HTTP %ld: %.*s", f->status, (int)(e ? e - k : (long)strlen(k)), k);
    } else {
        snprintf(msg, n, "HTTP %ld: %.*s", f->status, (int)CN_MIN(len, 300), len ? b : "");
    }
    for (char *c = msg; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
}

/* GET url into f (f->sink for a 200 body).  0, or CN_EPROTO with msg. */
static int get(CURL *h, const char *url, fetch_t *f, char *msg, size_t n)
{
    f->status = 0;
    cn_buf_init(&f->err);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, f);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL);
    CURLcode cc = curl_easy_perform(h);
    int rc = 0;
    if (f->sink_rc < 0) {
        snprintf(msg, n, "writing the file: %s", cn_strerror(f->sink_rc));
        rc = f->sink_rc;
    } else if (cc != CURLE_OK) {
        snprintf(msg, n, "GET %s: %s", url, curl_easy_strerror(cc));
        rc = CN_EPROTO;
    } else if (f->status != 200) {
        error_text(f, msg, n);
        rc = f->status == 400 ? CN_EINVAL : CN_EPROTO;
    }
    cn_buf_free(&f->err);
    return rc;
}

static void put_param(CURL *h, cn_buf_t *b, const char *key, const char *val)
{
    char *e = curl_easy_escape(h, val, 0);
    cn_buf_put_u8(b, '&');
    cn_buf_put(b, key, strlen(key));
    cn_buf_put_u8(b, '=');
    cn_buf_put(b, e, strlen(e));
    curl_free(e);
}

static void put_ns(cn_buf_t *b, const char *key, int64_t ns)
{
    char t[64];
    snprintf(t, sizeof t, "&%s=%lld", key, (long long)ns);
    cn_buf_put(b, t, strlen(t));
}

static const char *time_name(const srv_export_opts_t *o)
{
    if (o->format == SRV_XFMT_CSV)
        return qry_csv_time_name(o->time_format);
    return o->time_format == QRY_PQ_NANOS ? "ns" : "us";
}

/* The query string every request shares (without the leading '&'s
 * meaning: starts with '&'). */
static void filters(CURL *h, const srv_export_opts_t *o, cn_buf_t *b)
{
    put_param(h, b, "format", o->format == SRV_XFMT_CSV ? "csv" : "parquet");
    if (o->format == SRV_XFMT_PARQUET)
        put_param(h, b, "compression", qry_pq_codec_name(o->codec));
    put_param(h, b, "time_format", time_name(o));
    if (o->where && o->where[0])
        put_param(h, b, "where", o->where);
}

/* The measurement name of a percent-encoded layout value (owned). */
static char *unescape(const char *s)
{
    char *out = cn_strdup(s);
    cn_pct_decode(out);
    return out;
}

static int64_t parse_date(const char *d)
{
    int64_t ns = 0;
    return cn_time_parse(d, strlen(d), 0, &ns) < 0 ? INT64_MIN : ns;
}

/* One partition: measurement (percent-encoded) and date. */
static int fetch_one(CURL *h, const srv_export_opts_t *o, const char *base, const char *mesc,
                     const char *date, cn_buf_t *entries, srv_export_summary_t *sum)
{
    int64_t day = parse_date(date);
    if (day == INT64_MIN) {
        snprintf(sum->err, sizeof sum->err, "server listed a bad date '%s'", date);
        return CN_EPROTO;
    }
    int64_t lo = CN_MAX(day, o->tmin), hi = o->tmax;
    if (day <= INT64_MAX - DAY_NS)
        hi = CN_MIN(day + DAY_NS, o->tmax);
    cn_buf_t url, rel, path;
    cn_buf_init(&url);
    cn_buf_init(&rel);
    cn_buf_init(&path);
    cn_buf_put(&url, base, strlen(base));
    cn_buf_put(&url, "/api/v1/export?measurement=", 27);
    cn_buf_put(&url, mesc, strlen(mesc)); /* already percent-encoded */
    put_ns(&url, "from", lo);
    put_ns(&url, "to", hi);
    filters(h, o, &url);
    cn_buf_put_u8(&url, 0);
    const char *ext = o->format == SRV_XFMT_CSV ? ".csv" : ".parquet";
    char tail[160];
    snprintf(tail, sizeof tail, "/part-0%s", ext);
    cn_buf_put(&rel, "measurement=", 12);
    cn_buf_put(&rel, mesc, strlen(mesc));
    cn_buf_put(&rel, "/date=", 6);
    cn_buf_put(&rel, date, strlen(date));
    cn_buf_put(&path, o->out_dir, strlen(o->out_dir));
    cn_buf_put_u8(&path, '/');
    cn_buf_put(&path, rel.p, rel.len);
    cn_buf_put_u8(&path, 0);
    int rc = cn_mkdirs((const char *)path.p, 0755);
    path.len--;
    cn_buf_put(&path, tail, strlen(tail));
    cn_buf_put_u8(&path, 0);
    cn_buf_put(&rel, tail, strlen(tail));
    cn_buf_put_u8(&rel, 0);

    qry_afile_t *af = NULL;
    if (rc >= 0)
        rc = qry_afile_open((const char *)path.p, &af);
    fetch_t f;
    memset(&f, 0, sizeof f);
    cn_buf_init(&f.first);
    f.csv = o->format == SRV_XFMT_CSV;
    f.tfmt = o->time_format;
    f.tmin = INT64_MAX;
    f.tmax = INT64_MIN;
    if (rc >= 0) {
        f.sink = qry_afile_sink(af);
        rc = get(h, (const char *)url.p, &f, sum->err, sizeof sum->err);
    }
    if (rc >= 0) {
        rc = qry_afile_commit(af);
        af = NULL;
    }
    qry_afile_abort(af);
    qry_pq_summary_t ps = {0};
    if (rc >= 0 && !f.csv) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        rc = cn_file_read_all((const char *)path.p, &bytes, &len);
        if (rc >= 0 && qry_pq_read_summary(bytes, len, o->time_format, &ps) < 0) {
            snprintf(sum->err, sizeof sum->err, "%s: the server sent an unreadable Parquet file",
                     (const char *)path.p);
            rc = CN_EPROTO;
        }
        cn_free(bytes);
    } else if (rc >= 0) {
        struct stat st;
        rc = stat((const char *)path.p, &st) < 0 ? -errno : 0;
        ps.rows = f.records;
        ps.bytes = (uint64_t)st.st_size;
        ps.tmin = f.records ? f.tmin : 0;
        ps.tmax = f.records ? f.tmax : -1;
    }
    if (rc >= 0 && ps.rows) {
        char *mname = unescape(mesc);
        rc = srv__xp_list_file(entries, sum, (const char *)path.p, (const char *)rel.p, mname,
                               date, &ps);
        cn_free(mname);
        sum->rows += ps.rows;
        sum->scanned += ps.rows;
    } else if (rc >= 0) {
        /* The row filter left nothing this day (or the rows went away since
         * the listing): no file, as in an export of a data directory. */
        unlink((const char *)path.p);
        char *slash = strrchr((char *)path.p, '/');
        for (int up = 0; slash && up < 2; up++) {
            *slash = 0;
            if (rmdir((const char *)path.p) < 0)
                break;
            slash = strrchr((char *)path.p, '/');
        }
    }
    if (rc >= 0 && o->progress) {
        fprintf(o->progress, "\r\033[Kexport %llu rows, %llu files, %.1f MB  %s %s",
                (unsigned long long)sum->rows, (unsigned long long)sum->files,
                (double)sum->bytes / 1e6, mesc, date);
        fflush(o->progress);
    }
    cn_buf_free(&f.first);
    cn_buf_free(&url);
    cn_buf_free(&rel);
    cn_buf_free(&path);
    return rc;
}

int srv_export_remote(const srv_export_opts_t *o, srv_export_summary_t *sum)
{
    memset(sum, 0, sizeof *sum);
    sum->tmin = INT64_MAX;
    sum->tmax = INT64_MIN;
    int64_t t0 = cn_mono_ns(), start_ns = cn_now_ns();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return CN_EPROTO;
    CURL *h = curl_easy_init();
    if (!h) {
        curl_global_cleanup();
        return CN_EPROTO;
    }
    char base[1024];
    snprintf(base, sizeof base, "%s", o->server);
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        base[--bl] = 0;

    cn_buf_t url, list, entries;
    cn_buf_init(&url);
    cn_buf_init(&list);
    cn_buf_init(&entries);
    cn_buf_put(&url, base, bl);
    cn_buf_put(&url, "/api/v1/export/partitions?", 26);
    if (o->tmin != INT64_MIN)
        put_ns(&url, "from", o->tmin);
    if (o->tmax != INT64_MAX)
        put_ns(&url, "to", o->tmax);
    if (o->measurement)
        put_param(h, &url, "measurement", o->measurement);
    filters(h, o, &url);
    cn_buf_put_u8(&url, 0);
    fetch_t f;
    memset(&f, 0, sizeof f);
    f.sink = (qry_sink_t){null_write, &list};
    int rc = get(h, (const char *)url.p, &f, sum->err, sizeof sum->err);
    if (rc >= 0)
        rc = cn_mkdirs(o->out_dir, 0755);
    cn_buf_put_u8(&list, 0);
    char *save = NULL;
    for (char *line = rc >= 0 ? strtok_r((char *)list.p, "\n", &save) : NULL; line && rc >= 0;
         line = strtok_r(NULL, "\n", &save)) {
        char *tab = strchr(line, '\t');
        if (!tab) {
            snprintf(sum->err, sizeof sum->err, "server listed a bad partition line");
            rc = CN_EPROTO;
            break;
        }
        *tab = 0;
        sum->elapsed_ns = cn_mono_ns() - t0;
        rc = fetch_one(h, o, base, line, tab + 1, &entries, sum);
    }
    if (rc >= 0)
        rc = srv__xp_write_manifest(o, sum, &entries, start_ns, base);
    if (o->progress && sum->files)
        fputs("\r\033[K", o->progress);
    cn_buf_free(&url);
    cn_buf_free(&list);
    cn_buf_free(&entries);
    curl_easy_cleanup(h);
    curl_global_cleanup();
    sum->elapsed_ns = cn_mono_ns() - t0;
    return rc < 0 ? rc : 0;
}
