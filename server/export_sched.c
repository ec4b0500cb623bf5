/* SPDX-License-Identifier: MIT */
/*
 * export_sched.c - the scheduled-export thread (see export_sched.h).
 *
 *   thread: run_once() -> wait (condition variable) until the next
 *   interval closes, at most RECHECK_NS, or a kick, or stop -> run_once() ...
 *   run_once: W from meta.db -> C -> srv_export_db([W, C), part-<W>) ->
 *   UPDATE export_state to C -> log.
 *
 * State (data-dir/meta.db, SQLite in WAL mode, synchronous=FULL):
 *   CREATE TABLE export_state(dir TEXT PRIMARY KEY, exported_to INTEGER,
 *                             updated_at TEXT)
 * keyed by export-dir, so pointing exports at another directory starts it
 * from the beginning.  The connection is this module's own; other modules
 * may keep their tables in the same file.
 */
#include "export_sched.h"

#include "export.h"

#include <sqlite3.h>
#include <stdio.h>
#include <time.h>
#include <uv.h>

#define RECHECK_NS (INT64_C(60) * 1000000000) /* wake at least this often */

struct srv_xsched {
    eng_db_t *db;
    char *dir;
    char *meta_path;
    int64_t every_ns, delay_ns;
    int format, codec;
    sqlite3 *meta;
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cv;
    bool kicked, stop; /* guarded by mu */
};

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b < 0);
}

static void stamp(int64_t ns, char *out, size_t n)
{
    time_t t = (time_t)floor_div(ns, 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y%m%dT%H%M%SZ", &tm);
}

static void rfc3339(int64_t ns, char *out, size_t n)
{
    cn_buf_t b;
    cn_buf_init(&b);
    cn_time_format(ns, &b);
    snprintf(out, n, "%.*s", (int)b.len, (const char *)b.p);
    cn_buf_free(&b);
}

/* ------------------------------------------------------------------ state */

static int meta_open(srv_xsched_t *s)
{
    int rc = sqlite3_open_v2(s->meta_path, &s->meta,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(s->meta, 10000);
    const char *sql = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                      "CREATE TABLE IF NOT EXISTS export_state(dir TEXT PRIMARY KEY,"
                      " exported_to INTEGER NOT NULL, updated_at TEXT NOT NULL);";
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->meta, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        cn_error("export schedule: %s: %s", s->meta_path,
                 s->meta ? sqlite3_errmsg(s->meta) : sqlite3_errstr(rc));
        return CN_ECORRUPT;
    }
    return 0;
}

/* The watermark, or INT64_MIN when nothing was exported yet. */
static int meta_get(srv_xsched_t *s, int64_t *w)
{
    sqlite3_stmt *st = NULL;
    *w = INT64_MIN;
    int rc = sqlite3_prepare_v2(s->meta, "SELECT exported_to FROM export_state WHERE dir = ?1",
                                -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, s->dir, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *w = sqlite3_column_int64(st, 0);
            rc = SQLITE_DONE;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        cn_error("export schedule: reading %s: %s", s->meta_path, sqlite3_errmsg(s->meta));
        return CN_ECORRUPT;
    }
    return 0;
}

static int meta_set(srv_xsched_t *s, int64_t w)
{
    char now[64];
    rfc3339(cn_now_ns(), now, sizeof now);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->meta,
                                "INSERT INTO export_state(dir, exported_to, updated_at) "
                                "VALUES(?1, ?2, ?3) ON CONFLICT(dir) DO UPDATE SET "
                                "exported_to = excluded.exported_to, "
                                "updated_at = excluded.updated_at",
                                -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, s->dir, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, w);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 3, now, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        cn_error("export schedule: writing %s: %s", s->meta_path, sqlite3_errmsg(s->meta));
        return CN_ECORRUPT;
    }
    return 0;
}

/* -------------------------------------------------------------------- run */

/* One run; returns when the next interval closes (ns, wall clock). */
static int64_t run_once(srv_xsched_t *s)
{
    int64_t now = cn_now_ns();
    int64_t closed = floor_div(now - s->delay_ns, s->every_ns) * s->every_ns;
    int64_t next = closed + s->every_ns + s->delay_ns;
    int64_t w;
    if (meta_get(s, &w) < 0)
        return next;
    int64_t lo, hi;
    int rc = srv_export_extent(s->db, w, closed, &lo, &hi);
    if (rc < 0) {
        cn_error("export schedule: scanning the data: %s", cn_strerror(rc));
        return next;
    }
    if (lo > hi) {
        char a[64];
        rfc3339(closed, a, sizeof a);
        cn_debug("export schedule: no new points in intervals closed by %s", a);
        return next;
    }
    int64_t start = w != INT64_MIN ? w : floor_div(lo, s->every_ns) * s->every_ns;
    int64_t end = floor_div(hi, s->every_ns) * s->every_ns + s->every_ns;
    end = CN_MIN(end, closed);

    char part[80], a[64], b[64];
    stamp(start, a, sizeof a);
    snprintf(part, sizeof part, "part-%s", a);
    srv_export_opts_t o;
    srv_export_opts_default(&o);
    o.out_dir = s->dir;
    o.tmin = start;
    o.tmax = end;
    o.format = s->format;
    o.codec = s->codec;
    o.time_format = 0; /* Parquet MICROS, CSV RFC 3339 */
    o.part = part;
    srv_export_summary_t sum;
    rc = srv_export_db(s->db, &o, &sum);
    rfc3339(start, a, sizeof a);
    rfc3339(end, b, sizeof b);
    if (rc < 0) {
        cn_error("export schedule: exporting [%s, %s) to %s: %s; retrying later", a, b, s->dir,
                 cn_strerror(rc));
        return CN_MIN(next, cn_now_ns() + RECHECK_NS);
    }
    if (meta_set(s, end) < 0)
        return next;
    cn_info("export schedule: [%s, %s): %llu rows in %llu files (%llu bytes) to %s, manifest "
            "%s; exported through %s",
            a, b, (unsigned long long)sum.rows, (unsigned long long)sum.files,
            (unsigned long long)sum.bytes, s->dir, sum.manifest, b);
    return next;
}

static void thread_main(void *arg)
{
    srv_xsched_t *s = arg;
    for (;;) {
        int64_t next = run_once(s);
        uv_mutex_lock(&s->mu);
        while (!s->stop && !s->kicked) {
            int64_t wait = CN_MIN(next - cn_now_ns(), RECHECK_NS);
            if (wait <= 0)
                break;
            if (uv_cond_timedwait(&s->cv, &s->mu, (uint64_t)wait) == UV_ETIMEDOUT)
                break;
        }
        bool stop = s->stop;
        s->kicked = false;
        uv_mutex_unlock(&s->mu);
        if (stop)
            return;
    }
}

/* ------------------------------------------------------------------- api */

static void sched_free(srv_xsched_t *s)
{
    if (s->meta)
        sqlite3_close(s->meta);
    uv_cond_destroy(&s->cv);
    uv_mutex_destroy(&s->mu);
    cn_free(s->dir);
    cn_free(s->meta_path);
    cn_free(s);
}

int srv_xsched_start(const srv_cfg_t *cfg, eng_db_t *db, srv_xsched_t **out)
{
    *out = NULL;
    if (!cfg->export_dir[0])
        return 0;
    srv_xsched_t *s = cn_calloc(1, sizeof *s);
    s->db = db;
    s->dir = cn_strdup(cfg->export_dir);
    size_t n = strlen(cfg->data_dir) + 16;
    s->meta_path = cn_malloc(n);
    snprintf(s->meta_path, n, "%s/meta.db", cfg->data_dir);
    s->delay_ns = cfg->export_delay_ns;
    s->format = cfg->export_format;
    s->codec = cfg->export_compression;
    if (strcmp(cfg->export_every, "partition") == 0)
        s->every_ns = cfg->partition_ns;
    else if (srv_cfg_parse_duration(cfg->export_every, &s->every_ns) < 0 || s->every_ns <= 0)
        s->every_ns = 0;
    uv_mutex_init(&s->mu);
    uv_cond_init(&s->cv);
    if (s->every_ns <= 0) {
        sched_free(s);
        return CN_ECONFIG;
    }
    int rc = meta_open(s);
    if (rc == 0)
        rc = cn_from_uv(uv_thread_create(&s->thread, thread_main, s));
    if (rc < 0) {
        sched_free(s);
        return rc;
    }
    cn_info("export schedule: every %s to %s (%s), state in %s", cfg->export_every, s->dir,
            s->format == SRV_XFMT_CSV ? "csv" : "parquet", s->meta_path);
    *out = s;
    return 0;
}

void srv_xsched_kick(srv_xsched_t *s)
{
    if (!s)
        return;
    uv_mutex_lock(&s->mu);
    s->kicked = true;
    uv_cond_signal(&s->cv);
    uv_mutex_unlock(&s->mu);
}

void srv_xsched_stop(srv_xsched_t *s)
{
    if (!s)
        return;
    uv_mutex_lock(&s->mu);
    s->stop = true;
    uv_cond_signal(&s->cv);
    uv_mutex_unlock(&s->mu);
    uv_thread_join(&s->thread);
    sched_free(s);
}
