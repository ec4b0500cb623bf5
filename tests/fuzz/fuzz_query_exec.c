/* SPDX-License-Identifier: MIT */
/*
 * fuzz_query_exec.c - libFuzzer target for the InfluxQL planner and
 * executor (query/exec/plan.c, select.c, eval.c, show.c, result.c) and the
 * result renderers (query/exec/format.c).
 *
 * On the first call a private engine is opened in a temporary directory
 * and filled with a fixed data set: four measurements with series of
 * different tag sets (some lacking a tag), float, integer, string and
 * boolean fields, shared timestamps, gaps, rows both in stored segments
 * and in the memtable (some overwritten), and a measurement with points
 * near the extreme times.  Each input (at most 4 KiB) is parsed as query
 * text; every SELECT (without INTO, at any depth) and SHOW statement runs
 * against that engine with small limits and a deadline, and its result is
 * rendered as JSON (RFC 3339 and epoch times, pretty, chunked series) and
 * CSV.  Statements that write or delete are skipped, so the data never
 * changes.  A JSON answer to valid UTF-8 text must parse as JSON; a
 * broken property aborts, which the fuzzer reports like a crash.
 * FUZZ_QUERY_EXEC_PRINT=1 in the environment prints each JSON answer.
 */
#include "query/exec.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* query/eval.h's JSON DOM (the checker); eval.h itself cannot be included
 * beside exec.h, both define qry_val_t. */
typedef struct qry_jdoc qry_jdoc_t;
typedef struct qry_json qry_json_t;
int qry_jdoc_new(qry_jdoc_t **out);
void qry_jdoc_free(qry_jdoc_t *d);
int qry_jdoc_parse(qry_jdoc_t *d, const char *p, size_t n, const qry_json_t **root,
                   size_t *err_off);

#define MAX_TEXT 4096
#define T0       INT64_C(1704067200000000000) /* 2024-01-01T00:00:00Z */
#define SEC      INT64_C(1000000000)

static eng_db_t *g_db;
static qry_catalog_t *g_cat;
static qry_jdoc_t *g_jdoc;
static char g_dir[512];
static bool g_print; /* FUZZ_QUERY_EXEC_PRINT set: answers to stderr */

static void check(bool ok, const char *what, const cn_buf_t *b)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_query_exec: %s\n%.*s\n", what, b ? (int)b->len : 0,
            b ? (const char *)b->p : "");
    abort();
}

/* ------------------------------------------------------------- data set */

static void put(const eng_point_t *p, size_t n)
{
    eng_write_res_t res;
    uint64_t seq;
    int rc;
    while ((rc = eng_write(g_db, p, n, &res, &seq)) == CN_EFULL)
        check(eng_wait_writable(g_db) == 0, "eng_wait_writable", NULL);
    check(rc == 0, "eng_write", NULL);
}

/* A deterministic pseudo-random sequence (xorshift). */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* host=d has no region, the last series no host */
static const eng_tag_t cpu_tags[5][2] = {
    {{"host", "a"}, {"region", "eu"}}, {{"host", "b"}, {"region", "eu"}},
    {{"host", "c"}, {"region", "us"}}, {{"host", "d"}, {NULL, NULL}},
    {{"region", "us"}, {NULL, NULL}},
};
static const uint32_t cpu_ntags[5] = {2, 2, 2, 1, 1};
static const char *const states[] = {"idle", "busy", "", "x\"y<z>", "down"};

/* cpu: 5 series, a row every 10 s over 10 minutes with series-dependent
 * gaps; pass 1 rows are flushed to a segment, pass 2 rows (the second
 * half, and every 7th row of the first again with other values) stay in
 * the memtable. */
static void write_cpu(int pass)
{
    uint64_t s = 0x9e3779b97f4a7c15ULL + (uint64_t)pass;
    for (int k = 0; k < 5; k++)
        for (int i = 0; i < 60; i++) {
            bool first_half = i < 30;
            if (pass == 1 ? !first_half : first_half && i % 7 != 0)
                continue;
            if (i % (k + 3) == 1)
                continue; /* gaps */
            eng_field_t f[6];
            uint32_t n = 0;
            double u = (double)(rnd(&s) % 10000) / 100.0 - (k == 4 ? 50.0 : 0.0);
            f[n++] = (eng_field_t){"usage_user", ENG_T_FLOAT, {.f = u}};
            if (i % 4 != 3)
                f[n++] = (eng_field_t){"usage_idle", ENG_T_FLOAT, {.f = 100.0 - u}};
            int64_t c = k == 2 && i == 5 ? INT64_C(1) << 61 : (int64_t)(rnd(&s) % 200) - 100;
            f[n++] = (eng_field_t){"n", ENG_T_INT, {.i = c + i}};
            if (i % 3 == 0) {
                const char *st = states[(i / 3 + k) % 5];
                f[n++] = (eng_field_t){"state", ENG_T_STRING, {.s = {st, (uint32_t)strlen(st)}}};
            }
            if (k != 1)
                f[n++] = (eng_field_t){"ok", ENG_T_BOOL, {.b = (uint8_t)((i + k) % 2)}};
            if (k == 0 && i % 10 == 0)
                f[n++] = (eng_field_t){"value", ENG_T_FLOAT, {.f = i == 0 ? -0.0 : 1e300 * i}};
            eng_point_t p = {"cpu", cpu_tags[k], cpu_ntags[k], T0 + i * 10 * SEC, f, n};
            put(&p, 1);
        }
}

/* mem: 2 series every 15 s (times shared with cpu every 30 s), a 2 min gap. */
static void write_mem(void)
{
    static const eng_tag_t tags[2][1] = {{{"host", "a"}}, {{"host", "b"}}};
    uint64_t s = 12345;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 40; i++) {
            if (i >= 16 && i < 24)
                continue;
            eng_field_t f[4];
            uint32_t n = 0;
            int64_t total = INT64_C(8) << 30;
            int64_t used = (int64_t)(rnd(&s) % (uint64_t)total);
            f[n++] = (eng_field_t){"free", ENG_T_INT, {.i = total - used}};
            f[n++] = (eng_field_t){
                "used_percent", ENG_T_FLOAT, {.f = 100.0 * (double)used / (double)total}};
            f[n++] = (eng_field_t){"total", ENG_T_INT, {.i = total}};
            f[n++] = (eng_field_t){"value", ENG_T_INT, {.i = i * (k ? -3 : 5)}};
            eng_point_t p = {"mem", tags[k], 1, T0 + i * 15 * SEC, f, n};
            put(&p, 1);
        }
}

/* h2o feet-like: two locations, a point every minute, a description string. */
static void write_h2o(void)
{
    static const eng_tag_t tags[2][1] = {{{"location", "coyote_creek"}},
                                         {{"location", "santa monica"}}};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 11; i++) {
            double lvl = k ? 2.0 + i * 0.25 : 8.5 - i * 0.5;
            const char *d = lvl > 6 ? "between 6 and 9 feet" : "below 3 feet";
            eng_field_t f[2] = {
                {"water_level", ENG_T_FLOAT, {.f = lvl}},
                {"level description", ENG_T_STRING, {.s = {d, (uint32_t)strlen(d)}}},
            };
            eng_point_t p = {"h2o_feet", tags[k], 1, T0 + i * 60 * SEC, f, 2};
            put(&p, 1);
        }
}

/* edge: one series with points near the ends of time and around 0, some
 * flushed into segments (the partitions before 1677 and after 2262), some
 * left in the memtable. */
static void write_edge(bool flushed)
{
    static const int64_t a[] = {
        INT64_MIN, INT64_MIN + 1,   -(INT64_C(1) << 62), -SEC,          -1,       0, 1,
        T0 - 1,    T0 + 3600 * SEC, INT64_C(1) << 62,    INT64_MAX - 1, INT64_MAX};
    static const int64_t b[] = {INT64_MIN + 2,          INT64_MIN + 3, -(INT64_C(1) << 62) + 1,
                                (INT64_C(1) << 62) + 1, INT64_MAX - 3, INT64_MAX - 2};
    static const eng_tag_t tags[1] = {{"kind", "edge"}};
    const int64_t *t = flushed ? a : b;
    size_t n = flushed ? sizeof a / sizeof a[0] : sizeof b / sizeof b[0];
    for (size_t i = 0; i < n; i++) {
        eng_field_t f[2] = {
            {"v", ENG_T_INT, {.i = i % 2 ? INT64_MAX - (int64_t)i : INT64_MIN + (int64_t)i}},
            {"value", ENG_T_FLOAT, {.f = (double)i - 5.5}},
        };
        eng_point_t p = {"edge", tags, 1, t[i], f, 2};
        put(&p, 1);
    }
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    eng_close(g_db);
    qry_catalog_close(g_cat);
    qry_jdoc_free(g_jdoc);
    nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The directories of runs that died (a crash, out of memory, a timeout:
 * no exit handler ran) - named by their process, which no longer exists. */
static void remove_stale(const char *base)
{
    DIR *d = opendir(base);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid;
        char path[1024];
        if (sscanf(e->d_name, "fuzz_query_exec.%ld.", &pid) != 1 || pid <= 0 ||
            kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        snprintf(path, sizeof path, "%s/%s", base, e->d_name);
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    closedir(d);
}

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    const char *base = tmp && *tmp ? tmp : "/tmp";
    remove_stale(base);
    snprintf(g_dir, sizeof g_dir, "%s/fuzz_query_exec.%ld.XXXXXX", base, (long)getpid());
    check(mkdtemp(g_dir) != NULL, "mkdtemp", NULL);
    cn_log_set_level(CN_LOG_WARN); /* every subquery opens an engine */
    g_print = getenv("FUZZ_QUERY_EXEC_PRINT") != NULL;
    eng_opts_t eo;
    eng_opts_default(&eo);
    eo.dir = g_dir;
    eo.durability = ENG_DUR_OS;
    eo.background = false;
    eo.block_rows = 32;          /* several blocks per series */
    eo.stats_min_rows = 4;       /* and stats on most of them */
    eo.memtable_chunk_rows = 16; /* sealed memtable chunks with stats */
    check(eng_open(&eo, &g_db) == 0, "eng_open", NULL);
    write_cpu(1);
    write_mem();
    write_edge(true);
    check(eng_flush(g_db) == 0, "eng_flush", NULL);
    write_cpu(2);
    write_edge(false);
    write_h2o();
    check(qry_catalog_open(NULL, &g_cat) == 0, "qry_catalog_open", NULL);
    qry_catalog_touch(g_cat, "db");
    check(qry_jdoc_new(&g_jdoc) == 0, "qry_jdoc_new", NULL);
    atexit(teardown);
}

/* ------------------------------------------------------------ statements */

/* A SELECT that writes nowhere, at any depth of subqueries. */
static bool select_reads_only(const qry_select_t *sel)
{
    if (sel->into)
        return false;
    for (size_t i = 0; i < sel->nsources; i++)
        if (sel->sources[i].kind == QRY_SRC_SUBQUERY && sel->sources[i].sub &&
            !select_reads_only(sel->sources[i].sub))
            return false;
    return true;
}

static bool read_only(const qry_stmt_t *st)
{
    if (st->kind == QRY_STMT_SHOW)
        return true;
    return st->kind == QRY_STMT_SELECT && select_reads_only(st->u.select);
}

/* Valid UTF-8 (names from the query text reach the JSON unchanged). */
static bool utf8_ok(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        size_t len = c < 0x80             ? 1
                     : (c & 0xe0) == 0xc0 ? 2
                     : (c & 0xf0) == 0xe0 ? 3
                     : (c & 0xf8) == 0xf0 ? 4
                                          : 0;
        if (len == 0 || i + len > n || (len == 2 && c < 0xc2) || (len == 4 && c > 0xf4))
            return false;
        for (size_t k = 1; k < len; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
        if (len == 3 && ((c == 0xe0 && p[i + 1] < 0xa0) || (c == 0xed && p[i + 1] >= 0xa0)))
            return false;
        if (len == 4 && ((c == 0xf0 && p[i + 1] < 0x90) || (c == 0xf4 && p[i + 1] >= 0x90)))
            return false;
        i += len;
    }
    return true;
}

static size_t total_rows(const qry_result_t *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nseries; i++)
        n += r->series[i].nrows;
    return n;
}

static void json_must_parse(const cn_buf_t *b, const char *what)
{
    const qry_json_t *root;
    size_t off = 0;
    int rc = qry_jdoc_parse(g_jdoc, (const char *)b->p, b->len, &root, &off);
    if (rc != 0)
        fprintf(stderr, "fuzz_query_exec: JSON error at byte %zu\n", off);
    check(rc == 0, what, b);
}

/* Renders every result the ways server/query.c does. */
static void render(qry_result_t **res, size_t n, bool strict)
{
    cn_buf_t body, pretty, csv, chunk;
    cn_buf_init(&body);
    cn_buf_init(&pretty);
    cn_buf_init(&csv);
    cn_buf_init(&chunk);
    qry_fmt_opts_t rfc = {.epoch_div = 0}, ms = {.epoch_div = 1000000};
    bool csv_header = false;
    const char **csv_cols = NULL;
    size_t csv_ncols = 0;
    cn_buf_put(&body, "{\"results\":[", 12);
    for (size_t i = 0; i < n; i++) {
        if (i)
            cn_buf_put_u8(&body, ',');
        qry_result_json(res[i], (int)i, i % 2 ? &ms : &rfc, &body);
        if (!res[i]->err)
            qry_result_csv(res[i], (int)i, &ms, &csv_header, &csv_cols, &csv_ncols, &csv);
        /* chunked: 3 rows a chunk, RFC 3339 times */
        for (size_t s = 0; s < res[i]->nseries; s++) {
            const qry_series_t *se = &res[i]->series[s];
            size_t row = 0;
            do {
                size_t k = se->nrows - row < 3 ? se->nrows - row : 3;
                cn_buf_reset(&chunk);
                qry_result_json_series(res[i], se, row, k, row + k < se->nrows, &rfc, &chunk);
                if (strict)
                    json_must_parse(&chunk, "chunked series is not JSON");
                row += k;
            } while (row < se->nrows);
        }
    }
    cn_buf_put(&body, "]}", 2);
    if (g_print)
        fprintf(stderr, "%.*s\n", (int)body.len, (const char *)body.p);
    if (strict)
        json_must_parse(&body, "result is not JSON");
    qry_json_pretty(body.p, body.len, &pretty);
    if (strict)
        json_must_parse(&pretty, "pretty result is not JSON");
    cn_buf_free(&body);
    cn_buf_free(&pretty);
    cn_buf_free(&csv);
    cn_buf_free(&chunk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_db)
        setup();
    if (size > MAX_TEXT)
        return 0; /* long inputs only slow the search down */
    qry_query_t *q = NULL;
    qry_error_t err;
    if (qry_parse((const char *)data, size, &q, &err) < 0)
        return 0;
    qry_exec_opts_t o = {
        .db = g_db,
        .cat = g_cat,
        .dbname = "db",
        .now = T0 + 3600 * SEC,
        .deadline = cn_mono_ns() + SEC,
        .max_series = 64,
        .max_points = 20000,
        .threads = 1,
    };
    qry_result_t **res = cn_calloc(q->nstmts + 1, sizeof *res);
    size_t nres = 0, rows = 0;
    for (size_t i = 0; i < q->nstmts; i++) {
        if (!read_only(&q->stmts[i]))
            continue;
        qry_result_t *r = NULL;
        int rc = qry_exec_stmt(&q->stmts[i], &o, &r);
        check(rc == 0 && r != NULL, "qry_exec_stmt failed without cancellation", NULL);
        rows += total_rows(r);
        res[nres++] = r;
    }
    if (rows <= 200000) /* the limits allow more; rendering them is slow */
        render(res, nres, utf8_ok(data, size));
    for (size_t i = 0; i < nres; i++)
        qry_result_free(res[i]);
    cn_free(res);
    qry_query_free(q);
    return 0;
}
