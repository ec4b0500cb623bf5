/* SPDX-License-Identifier: MIT */
/*
 * engine_bench.c - `engine_bench`: the storage engine on the standard
 * workload (shared/WORKLOAD.md), through the public API only (engine.h).
 *
 *   engine_bench --size small|medium|day|cardinality [--devices N]
 *                [--hours H | --points N] [--interval S] [--seed N]
 *                [--dir DIR] [--batch N] [--no-recovery] [--keep]
 *
 * Phases, each printed as it completes, then one `BENCH ...` summary line
 * that bench/run turns into its RESULT line:
 *
 *   ingest    A single writer thread builds points straight from the
 *             generator and calls eng_write() in batches (durability OS: a
 *             bulk load; every byte still goes through the WAL).  The rate
 *             counts field values over the time spent inside eng_write()
 *             plus the final wait for the WAL to have written everything;
 *             generating the points is timed apart and excluded.
 *   size      eng_flush() + eng_compact(), then every file and directory in
 *             the data dir (segments, catalog, WAL, ...) is summed, both as
 *             allocated blocks (st_blocks * 512) and as apparent size.  The
 *             figure reported is the allocated one.
 *   scan      sum(temperature) over all series, single thread, three runs
 *             each (median): "stats" uses block statistics where the engine
 *             offers them (eng_iter_peek_stats + eng_iter_skip); "decode"
 *             forces eng_iter_next on every block and adds every decoded
 *             value (four partial sums, see sum_rows); as a sum needs no
 *             times, it calls eng_iter_no_times.  scan_values_per_s_core
 *             is the decode variant.  Rates are per core: values over the
 *             scanning thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so that
 *             other load on a shared machine does not count; the decode
 *             scan's wall time is printed beside it.  Each of the three runs
 *             repeats its scan for at least SCAN_MIN_S of CPU time (a
 *             medium scan takes milliseconds) and counts the mean.
 *   hourly    hourly means of all ten fields per device (decode path), per
 *             thread CPU time as well.
 *   recovery  In a second directory the data is written again with a
 *             memtable larger than the data, so nothing is flushed, and the
 *             WAL is waited on.  The directory is then copied aside while the
 *             engine is idle (the copy is what a crash would leave: WAL and
 *             catalog, no segments), the original is closed and removed, and
 *             eng_open() on the copy is timed: that is WAL replay.  Rate =
 *             WAL bytes (eng_stats before the copy) / open time, in 10^6 B/s.
 *             The copy is in the page cache: this measures replay, not the
 *             disk.
 *   rss       For every size, VmRSS after eng_open (generator and buffers
 *             already allocated and touched), after the load, and after
 *             flush + compaction; series_rss_bytes = (after flush - base) /
 *             series.  The allocator may keep freed pages, so this is an
 *             upper bound.
 *
 * Correctness: the generator's own count and exact sum of temperature (as
 * scaled integers) must equal what the engine returns through both scan
 * variants, after recovery and after a close and reopen; the hourly means
 * must match the generator's to 1e-9.  Any mismatch prints MISMATCH and the
 * exit status is 1.
 */
#include "engine.h"
#include "gen.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NF           BENCH_GEN_NFIELDS
#define NTAGS        3
#define RUNS         3
#define HOUR_NS      INT64_C(3600000000000)
#define MS_NS        INT64_C(1000000)
#define MEAN_TOL     1e-9
#define SCAN_MIN_S   0.2 /* CPU seconds each timed scan run repeats for */
#define BIG_MEMTABLE ((size_t)1 << 40)

typedef struct opts {
    const char *size;
    bench_gen_cfg_t cfg;
    const char *dir; /* NULL: a mkdtemp dir, removed at the end */
    uint32_t batch;
    bool recovery;
    bool keep;
} opts_t;

/* What the generator says the engine must return. */
typedef struct ref {
    uint64_t count;   /* records (= temperature values) */
    int64_t temp_sum; /* scaled by 100 */
    uint32_t nhours;
    int64_t *hour_sum; /* [dev][hour][field], scaled */
    uint32_t *hour_n;  /* [dev][hour] */
} ref_t;

/* A batch of points built from generator records, reused across batches. */
typedef struct batch {
    uint32_t cap, n;
    eng_point_t *pts;
    eng_field_t *fields; /* cap * NF */
    eng_tag_t *tags;     /* cap * NTAGS */
    char (*ids)[BENCH_GEN_ID_MAX];
} batch_t;

typedef struct load_res {
    uint64_t records;
    double write_s; /* inside eng_write + final durability wait */
    double wall_s;  /* the whole loop, generation included */
    uint32_t full_retries;
} load_res_t;

typedef struct scan_res {
    uint64_t count;
    double sum;
    int64_t exact_sum; /* scaled by 100; decode check only */
    uint64_t blocks_skipped;
} scan_res_t;

enum scan_mode { SCAN_STATS, SCAN_DECODE, SCAN_CHECK };

/* Allocated and apparent bytes of a directory tree. */
typedef struct tree_sum {
    uint64_t alloc, apparent;
} tree_sum_t;

/* Everything the phases find out, for the summary line. */
typedef struct results {
    uint64_t values;
    double ingest_vps;
    tree_sum_t bytes, closed;
    double scan_stats_vps, scan_decode_vps, hourly_vps;
    double recovery_mbps;
    uint64_t series;
    int64_t rss_base, rss_loaded, rss_flushed;
    int mismatches;
} results_t;

/* ---------------------------------------------------------------- utils */

static double now_s(void)
{
    return (double)cn_mono_ns() / 1e9;
}

/* CPU time of the calling thread: the scans' "per core" rates divide by it,
 * so other processes on a shared machine do not count against the scan. */
static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void check(results_t *r, bool ok, const char *what)
{
    printf("check %-28s %s\n", what, ok ? "OK" : "MISMATCH");
    if (!ok)
        r->mismatches++;
}

static int64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int64_t kb = -1;
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtoll(line + 6, NULL, 10);
            break;
        }
    }
    if (f)
        fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

static int copy_file(const char *src, const char *dst, mode_t mode)
{
    int in = open(src, O_RDONLY);
    if (in < 0)
        return -errno;
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, mode & 0777);
    if (out < 0) {
        close(in);
        return -errno;
    }
    char buf[1 << 16];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof(buf))) > 0) {
        if (write(out, buf, (size_t)n) != n) {
            rc = -EIO;
            break;
        }
    }
    if (n < 0)
        rc = -errno;
    close(in);
    close(out);
    return rc;
}

/* Walks the tree at path (like `du -s` and `du -s --apparent-size`): adds
 * every entry's allocated blocks (st_blocks * 512) and apparent size to *sum
 * and, when copy_to is not NULL, recreates the entry there (regular files
 * and directories: all a data dir holds). */
static int walk_tree(const char *path, const char *copy_to, tree_sum_t *sum)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return -errno;
    sum->alloc += (uint64_t)st.st_blocks * 512;
    sum->apparent += (uint64_t)st.st_size;
    if (!S_ISDIR(st.st_mode))
        return copy_to && S_ISREG(st.st_mode) ? copy_file(path, copy_to, st.st_mode) : 0;
    if (copy_to && mkdir(copy_to, 0755) < 0 && errno != EEXIST)
        return -errno;
    DIR *d = opendir(path);
    if (!d)
        return -errno;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[4096], to[4096];
        snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
        if (copy_to)
            snprintf(to, sizeof(to), "%s/%s", copy_to, e->d_name);
        rc = walk_tree(sub, copy_to ? to : NULL, sum);
    }
    closedir(d);
    return rc;
}

/* 10^decimals of field i, the divisor from scaled integer to value. */
static double scale_of(int i)
{
    double s = 1.0;
    for (int d = 0; d < bench_gen_field(i)->decimals; d++)
        s *= 10.0;
    return s;
}

static double median3(double a[RUNS])
{
    double lo = CN_MIN(a[0], CN_MIN(a[1], a[2]));
    double hi = CN_MAX(a[0], CN_MAX(a[1], a[2]));
    return a[0] + a[1] + a[2] - lo - hi;
}

/* ----------------------------------------------------------------- load */

static void batch_init(batch_t *b, uint32_t cap)
{
    b->cap = cap;
    b->n = 0;
    b->pts = cn_calloc(cap, sizeof(*b->pts));
    b->fields = cn_calloc((size_t)cap * NF, sizeof(*b->fields));
    b->tags = cn_calloc((size_t)cap * NTAGS, sizeof(*b->tags));
    b->ids = cn_calloc(cap, sizeof(*b->ids));
    for (uint32_t p = 0; p < cap; p++) {
        for (int i = 0; i < NF; i++) {
            const bench_gen_field_t *f = bench_gen_field(i);
            b->fields[(size_t)p * NF + i].name = f->name;
            b->fields[(size_t)p * NF + i].type = f->is_int ? ENG_T_INT : ENG_T_FLOAT;
        }
        b->tags[(size_t)p * NTAGS + 0].key = "device_id";
        b->tags[(size_t)p * NTAGS + 1].key = "fleet";
        b->tags[(size_t)p * NTAGS + 2].key = "model";
    }
}

static void batch_free(batch_t *b)
{
    cn_free(b->pts);
    cn_free(b->fields);
    cn_free(b->tags);
    cn_free(b->ids);
}

static void batch_add(batch_t *b, const bench_gen_rec_t *r)
{
    uint32_t p = b->n++;
    eng_field_t *f = &b->fields[(size_t)p * NF];
    eng_tag_t *t = &b->tags[(size_t)p * NTAGS];
    for (int i = 0; i < NF; i++) {
        if (f[i].type == ENG_T_INT)
            f[i].v.i = r->v[i];
        else
            f[i].v.f = bench_gen_value_f64(i, r->v[i]);
    }
    t[0].val = bench_gen_device_id(r->dev, b->ids[p]);
    t[1].val = bench_gen_fleet(r->dev);
    t[2].val = bench_gen_model(r->dev);
    b->pts[p] = (eng_point_t){.measurement = BENCH_GEN_MEASUREMENT,
                              .tags = t,
                              .ntags = NTAGS,
                              .ts = r->ts_ms * MS_NS,
                              .fields = f,
                              .nfields = NF};
}

static void ref_add(ref_t *ref, const bench_gen_cfg_t *cfg, const bench_gen_rec_t *r)
{
    ref->count++;
    ref->temp_sum += r->v[BENCH_GEN_TEMPERATURE];
    uint32_t h = (uint32_t)((r->ts_ms - cfg->start_ms) / 3600000);
    size_t cell = (size_t)r->dev * ref->nhours + h;
    ref->hour_n[cell]++;
    for (int i = 0; i < NF; i++)
        ref->hour_sum[cell * NF + i] += r->v[i];
}

/* Writes the batch, waiting for the WAL when it pushes back (CN_EFULL). */
static int batch_write(eng_db_t *db, batch_t *b, uint64_t *last_seq, load_res_t *lr)
{
    eng_write_res_t res;
    uint64_t seq = 0;
    double t0 = now_s();
    int rc;
    while ((rc = eng_write(db, b->pts, b->n, &res, &seq)) == CN_EFULL) {
        lr->full_retries++;
        rc = eng_wait_writable(db);
        if (rc < 0)
            break;
    }
    lr->write_s += now_s() - t0;
    if (rc < 0) {
        fprintf(stderr, "engine_bench: eng_write: %s\n", cn_strerror(rc));
        return rc;
    }
    if (res.fields_rejected) {
        fprintf(stderr, "engine_bench: %u fields rejected (first: %s on '%s')\n",
                res.fields_rejected, cn_strerror(res.first_error), res.first_error_field);
        return CN_EINVAL;
    }
    if (seq > *last_seq)
        *last_seq = seq;
    lr->records += b->n;
    b->n = 0;
    return 0;
}

/* Loads the whole configuration; fills ref when not NULL. */
static int load(eng_db_t *db, const bench_gen_cfg_t *cfg, batch_t *b, ref_t *ref,
                load_res_t *lr /* OUT */)
{
    memset(lr, 0, sizeof(*lr));
    bench_gen_t *g = bench_gen_new(cfg);
    bench_gen_rec_t r;
    uint64_t last_seq = 0;
    int rc = 0;
    double t0 = now_s();
    while (rc == 0 && bench_gen_next(g, &r) == 1) {
        if (ref)
            ref_add(ref, cfg, &r);
        batch_add(b, &r);
        if (b->n == b->cap)
            rc = batch_write(db, b, &last_seq, lr);
    }
    if (rc == 0 && b->n > 0)
        rc = batch_write(db, b, &last_seq, lr);
    if (rc == 0) {
        double tw = now_s();
        rc = eng_wait_durable(db, last_seq);
        lr->write_s += now_s() - tw;
    }
    lr->wall_s = now_s() - t0;
    bench_gen_free(g);
    return rc;
}

/* ----------------------------------------------------------------- read */

/* Series ids and, for each, its device index (from the device_id tag). */
typedef struct series_map {
    uint64_t *sids;
    uint32_t *dev;
    size_t n;
    uint32_t fid[NF];
} series_map_t;

static int series_map(eng_snap_t *s, series_map_t *m /* OUT */)
{
    memset(m, 0, sizeof(*m));
    const eng_field_info_t *fi;
    size_t nf = eng_snap_fields(s, BENCH_GEN_MEASUREMENT, &fi);
    for (int i = 0; i < NF; i++) {
        size_t k = 0;
        while (k < nf && strcmp(fi[k].name, bench_gen_field(i)->name) != 0)
            k++;
        if (k == nf) {
            fprintf(stderr, "engine_bench: field %s missing\n", bench_gen_field(i)->name);
            return CN_ENOTFOUND;
        }
        m->fid[i] = fi[k].id;
    }
    int n = eng_snap_select(s, BENCH_GEN_MEASUREMENT, NULL, 0, &m->sids);
    if (n < 0)
        return n;
    m->n = (size_t)n;
    m->dev = cn_calloc(m->n ? m->n : 1, sizeof(*m->dev));
    for (size_t k = 0; k < m->n; k++) {
        const eng_tag_t *tags;
        uint32_t nt;
        int rc = eng_snap_series_tags(s, m->sids[k], &tags, &nt);
        if (rc < 0)
            return rc;
        m->dev[k] = UINT32_MAX;
        for (uint32_t t = 0; t < nt; t++) {
            if (strcmp(tags[t].key, "device_id") == 0 && strncmp(tags[t].val, "dev-", 4) == 0)
                m->dev[k] = (uint32_t)strtoul(tags[t].val + 4, NULL, 10);
        }
    }
    return 0;
}

static void series_map_free(series_map_t *m)
{
    cn_free(m->sids);
    cn_free(m->dev);
}

/* Two doubles in one SSE2 register (GCC/clang vector extension). */
typedef double v2d_t __attribute__((vector_size(16)));

/* Adds the present values of one batch to r.  Partial sums: a single
 * running sum is a chain of dependent additions (one per FP-add latency,
 * 3-4 cycles), which would time this loop rather than the engine.  Every
 * value is still read; a batch without nulls (memchr finds no 0 in valid)
 * skips the per-row test and adds eight values per step in four two-lane
 * vectors, as a vectorised aggregate would. */
static void sum_rows(const double *v, const uint8_t *ok, uint32_t n, scan_res_t *r)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    uint64_t c = 0;
    uint32_t k = 0;
    if (n && !memchr(ok, 0, n)) {
        v2d_t a0 = {0, 0}, a1 = {0, 0}, a2 = {0, 0}, a3 = {0, 0};
        for (; k + 8 <= n; k += 8) {
            v2d_t x0, x1, x2, x3;
            memcpy(&x0, v + k, 16);
            memcpy(&x1, v + k + 2, 16);
            memcpy(&x2, v + k + 4, 16);
            memcpy(&x3, v + k + 6, 16);
            a0 += x0;
            a1 += x1;
            a2 += x2;
            a3 += x3;
        }
        v2d_t a = (a0 + a1) + (a2 + a3);
        s0 = a[0];
        s1 = a[1];
        for (; k < n; k++)
            s2 += v[k];
        r->count += n;
        r->sum += (s0 + s1) + s2;
        return;
    }
    for (; k + 4 <= n; k += 4) {
        s0 += ok[k] ? v[k] : 0.0;
        s1 += ok[k + 1] ? v[k + 1] : 0.0;
        s2 += ok[k + 2] ? v[k + 2] : 0.0;
        s3 += ok[k + 3] ? v[k + 3] : 0.0;
        c += (uint64_t)(ok[k] != 0) + (ok[k + 1] != 0) + (ok[k + 2] != 0) + (ok[k + 3] != 0);
    }
    for (; k < n; k++) {
        s0 += ok[k] ? v[k] : 0.0;
        c += ok[k] != 0;
    }
    r->count += c;
    r->sum += (s0 + s1) + (s2 + s3);
}

static int scan_one(eng_iter_t *it, enum scan_mode mode, scan_res_t *r)
{
    eng_stat_t st;
    uint32_t rows;
    eng_batch_t b;
    int rc;
    for (;;) {
        if (mode == SCAN_STATS && (rc = eng_iter_peek_stats(it, &st, &rows)) != 0) {
            if (rc < 0)
                return rc;
            r->count += st.count;
            r->sum += st.sum_f;
            /* Exact per block: a block's float sum is far closer than 0.005
             * to its true value, so rounding it recovers the scaled sum. */
            r->exact_sum += llround(st.sum_f * 100.0);
            r->blocks_skipped++;
            eng_iter_skip(it);
            continue;
        }
        if ((rc = eng_iter_next(it, &b)) <= 0)
            return rc;
        const double *v = b.vals[0];
        const uint8_t *ok = b.valid[0];
        if (mode == SCAN_DECODE) {
            sum_rows(v, ok, b.n, r);
            continue;
        }
        for (uint32_t k = 0; k < b.n; k++) {
            if (!ok[k])
                continue;
            r->count++;
            r->exact_sum += llround(v[k] * 100.0);
            if (mode != SCAN_CHECK)
                r->sum += v[k];
        }
    }
}

/* sum(temperature) over every series. */
static int scan_sum(eng_snap_t *s, const series_map_t *m, enum scan_mode mode,
                    scan_res_t *r /* OUT */)
{
    memset(r, 0, sizeof(*r));
    const uint32_t *fid = &m->fid[BENCH_GEN_TEMPERATURE];
    for (size_t k = 0; k < m->n; k++) {
        eng_iter_t *it;
        int rc = eng_iter_open(s, m->sids[k], fid, 1, INT64_MIN, INT64_MAX, &it);
        if (rc < 0)
            return rc;
        if (mode == SCAN_DECODE)
            eng_iter_no_times(it); /* a sum needs no timestamps */
        rc = scan_one(it, mode, r);
        eng_iter_close(it);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Open/close a snapshot around an exact sum check (untimed). */
static int check_db(eng_db_t *db, const ref_t *ref, results_t *res, const char *what)
{
    eng_snap_t *s;
    series_map_t m;
    scan_res_t r;
    int rc = eng_snap_open(db, &s);
    if (rc < 0)
        return rc;
    rc = series_map(s, &m);
    if (rc == 0)
        rc = scan_sum(s, &m, SCAN_CHECK, &r);
    if (rc == 0) {
        printf("%-10s count=%" PRIu64 " sum(temperature)=%" PRId64 ".%02" PRId64 "\n", what,
               r.count, r.exact_sum / 100, (r.exact_sum % 100) * (r.exact_sum < 0 ? -1 : 1));
        check(res, r.count == ref->count && r.exact_sum == ref->temp_sum, what);
    }
    series_map_free(&m);
    eng_snap_close(s);
    return rc;
}

/* ------------------------------------------------------------- hourly */

typedef struct hourly {
    const ref_t *ref;
    const bench_gen_cfg_t *cfg;
    int64_t bucket; /* hour since the epoch; -1: none open */
    double sum[NF];
    uint32_t n[NF];
    uint64_t values;
    uint64_t buckets;
    uint64_t bad;
    double checksum; /* sum of all means: keeps the work observable */
} hourly_t;

/* Closes the open bucket: computes the ten means, compares with ref. */
static void hourly_emit(hourly_t *h, uint32_t dev)
{
    if (h->bucket < 0)
        return;
    int64_t hour = h->bucket - h->cfg->start_ms / 3600000;
    bool in_ref = dev < h->cfg->devices && hour >= 0 && hour < (int64_t)h->ref->nhours;
    size_t cell = in_ref ? (size_t)dev * h->ref->nhours + (size_t)hour : 0;
    for (int i = 0; i < NF; i++) {
        double mean = h->n[i] ? h->sum[i] / h->n[i] : 0.0;
        h->checksum += mean;
        if (!in_ref || h->n[i] != h->ref->hour_n[cell]) {
            h->bad++;
            continue;
        }
        double want = (double)h->ref->hour_sum[cell * NF + i] / scale_of(i) / h->n[i];
        if (fabs(mean - want) > MEAN_TOL * CN_MAX(1.0, fabs(want)))
            h->bad++;
    }
    h->buckets++;
    memset(h->sum, 0, sizeof(h->sum));
    memset(h->n, 0, sizeof(h->n));
}

static void hourly_rows(hourly_t *h, const eng_batch_t *b, uint32_t dev)
{
    for (uint32_t r = 0; r < b->n; r++) {
        int64_t bucket = b->ts[r] / HOUR_NS;
        if (bucket != h->bucket) {
            hourly_emit(h, dev);
            h->bucket = bucket;
        }
        for (int i = 0; i < NF; i++) {
            if (!b->valid[i][r])
                continue;
            h->sum[i] += bench_gen_field(i)->is_int ? (double)((const int64_t *)b->vals[i])[r]
                                                    : ((const double *)b->vals[i])[r];
            h->n[i]++;
            h->values++;
        }
    }
}

/* Hourly means of all ten fields for every series (decode path). */
static int hourly_all(eng_snap_t *s, const series_map_t *m, hourly_t *h)
{
    for (size_t k = 0; k < m->n; k++) {
        eng_iter_t *it;
        eng_batch_t b;
        int rc = eng_iter_open(s, m->sids[k], m->fid, NF, INT64_MIN, INT64_MAX, &it);
        if (rc < 0)
            return rc;
        h->bucket = -1;
        while ((rc = eng_iter_next(it, &b)) > 0)
            hourly_rows(h, &b, m->dev[k]);
        hourly_emit(h, m->dev[k]);
        eng_iter_close(it);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------- phases */

static void db_opts(eng_opts_t *o, const char *dir, size_t memtable_bytes)
{
    eng_opts_default(o);
    o->dir = dir;
    o->durability = ENG_DUR_OS;
    if (memtable_bytes)
        o->memtable_bytes = memtable_bytes;
}

/* The three timed scans and the hourly means, on one snapshot. */
static int phase_read(eng_db_t *db, const ref_t *ref, const bench_gen_cfg_t *cfg, results_t *res)
{
    eng_snap_t *s;
    series_map_t m;
    int rc = eng_snap_open(db, &s);
    if (rc < 0)
        return rc;
    if ((rc = series_map(s, &m)) < 0)
        goto out;
    double t_stats[RUNS], t_dec[RUNS], w_dec[RUNS];
    scan_res_t rs, rd;
    for (int k = 0; k < RUNS && rc == 0; k++) {
        /* A medium scan takes milliseconds: each run repeats it until
         * SCAN_MIN_S of CPU time have passed and reports the mean. */
        int n = 0;
        double t0 = cpu_s(), t1 = t0;
        while (rc == 0 && t1 - t0 < SCAN_MIN_S) {
            rc = scan_sum(s, &m, SCAN_STATS, &rs);
            n++;
            t1 = cpu_s();
        }
        t_stats[k] = (t1 - t0) / CN_MAX(n, 1);
        n = 0;
        double w1 = now_s(), t2 = t1;
        while (rc == 0 && t2 - t1 < SCAN_MIN_S) {
            rc = scan_sum(s, &m, SCAN_DECODE, &rd);
            n++;
            t2 = cpu_s();
        }
        t_dec[k] = (t2 - t1) / CN_MAX(n, 1);
        w_dec[k] = (now_s() - w1) / CN_MAX(n, 1);
    }
    if (rc < 0)
        goto out;
    double want = (double)ref->temp_sum / 100.0;
    res->scan_stats_vps = (double)rs.count / median3(t_stats);
    res->scan_decode_vps = (double)rd.count / median3(t_dec);
    printf("scan       sum(temperature) over %zu series, 1 thread, median of %d, thread CPU "
           "time:\n",
           m.n, RUNS);
    printf("             stats+skip %.3f s  %.1f M values/s  (%" PRIu64 " blocks from stats)\n",
           median3(t_stats), res->scan_stats_vps / 1e6, rs.blocks_skipped);
    printf("             decode     %.3f s  %.1f M values/s  (wall %.3f s)\n", median3(t_dec),
           res->scan_decode_vps / 1e6, median3(w_dec));
    check(res,
          rs.count == ref->count && rs.exact_sum == ref->temp_sum &&
              fabs(rs.sum - want) <= 1e-9 * fabs(want),
          "scan stats count/sum");
    check(res, rd.count == ref->count && fabs(rd.sum - want) <= 1e-9 * fabs(want),
          "scan decode count/sum");

    hourly_t h = {.ref = ref, .cfg = cfg, .bucket = -1};
    double t0 = cpu_s();
    if ((rc = hourly_all(s, &m, &h)) < 0)
        goto out;
    double th = cpu_s() - t0;
    res->hourly_vps = (double)h.values / th;
    printf("hourly     means of %d fields per device: %" PRIu64 " buckets, %.3f s, "
           "%.1f M values/s (checksum %.6e)\n",
           NF, h.buckets, th, res->hourly_vps / 1e6, h.checksum);
    check(res, h.bad == 0 && h.buckets == (uint64_t)cfg->devices * ref->nhours, "hourly means");
out:
    series_map_free(&m);
    eng_snap_close(s);
    return rc;
}

static int phase_main(const opts_t *o, const char *dir, batch_t *b, ref_t *ref, results_t *res)
{
    eng_opts_t eo;
    eng_db_t *db = NULL;
    load_res_t lr;
    eng_stats_t st;
    db_opts(&eo, dir, 0);
    int rc = eng_open(&eo, &db);
    if (rc < 0)
        goto fail;
    res->rss_base = rss_bytes();
    if ((rc = load(db, &o->cfg, b, ref, &lr)) < 0)
        goto fail;
    res->rss_loaded = rss_bytes();
    res->ingest_vps = (double)lr.records * NF / lr.write_s;
    printf("ingest     %" PRIu64 " records, %" PRIu64 " field values, durability=os, batch=%u:\n"
           "             engine %.3f s  %.2f M values/s   (wall incl. generation %.3f s, "
           "%u CN_EFULL waits)\n",
           lr.records, lr.records * NF, b->cap, lr.write_s, res->ingest_vps / 1e6, lr.wall_s,
           lr.full_retries);
    double t0 = now_s();
    if ((rc = eng_flush(db)) < 0)
        goto fail;
    double t1 = now_s();
    if ((rc = eng_compact(db)) < 0)
        goto fail;
    printf("flush      %.3f s, compact %.3f s\n", t1 - t0, now_s() - t1);
    res->rss_flushed = rss_bytes();
    eng_get_stats(db, &st);
    res->series = st.series;
    if ((rc = walk_tree(dir, NULL, &res->bytes)) < 0)
        goto fail;
    printf("size       %" PRIu64 " B allocated (%.4f B/value), %" PRIu64
           " B apparent (%.4f B/value); segments=%" PRIu64 " segment_bytes=%" PRIu64
           " wal_bytes=%" PRIu64 "\n",
           res->bytes.alloc, (double)res->bytes.alloc / (double)res->values, res->bytes.apparent,
           (double)res->bytes.apparent / (double)res->values, st.segments, st.segment_bytes,
           st.wal_bytes);
    printf("rss        base %.1f MiB, loaded %.1f MiB, flushed %.1f MiB; %" PRIu64
           " series -> %.0f B/series\n",
           res->rss_base / 1048576.0, res->rss_loaded / 1048576.0, res->rss_flushed / 1048576.0,
           st.series, (double)(res->rss_flushed - res->rss_base) / (double)CN_MAX(st.series, 1));
    if ((rc = phase_read(db, ref, &o->cfg, res)) < 0)
        goto fail;
    eng_close(db);
    db = NULL;
    if ((rc = walk_tree(dir, NULL, &res->closed)) < 0)
        goto fail;
    printf("closed     %" PRIu64 " B allocated (%.4f B/value) after eng_close\n", res->closed.alloc,
           (double)res->closed.alloc / (double)res->values);
    if ((rc = eng_open(&eo, &db)) < 0)
        goto fail;
    rc = check_db(db, ref, res, "reopened");
fail:
    if (rc < 0)
        fprintf(stderr, "engine_bench: main phase: %s\n", cn_strerror(rc));
    eng_close(db);
    return rc;
}

/* WAL replay rate (see the file comment for the method). */
static int phase_recovery(const opts_t *o, const char *base /* < 2048 B */, batch_t *b,
                          const ref_t *ref, results_t *res)
{
    char src[4096], dst[4096];
    snprintf(src, sizeof(src), "%s/wal-src", base);
    snprintf(dst, sizeof(dst), "%s/wal-copy", base);
    eng_opts_t eo;
    eng_db_t *db = NULL;
    load_res_t lr;
    eng_stats_t st;
    db_opts(&eo, src, BIG_MEMTABLE);
    int rc = eng_open(&eo, &db);
    if (rc < 0)
        goto fail;
    if ((rc = load(db, &o->cfg, b, NULL, &lr)) < 0)
        goto fail;
    eng_get_stats(db, &st);
    uint64_t wal_bytes = st.wal_bytes;
    if (st.flushes != 0 || st.segments != 0)
        fprintf(stderr, "engine_bench: warning: %" PRIu64 " flushes during the WAL load\n",
                st.flushes);
    tree_sum_t copied = {0, 0};
    if ((rc = walk_tree(src, dst, &copied)) < 0)
        goto fail;
    eng_close(db);
    db = NULL;
    cn_rmtree(src);
    eo.dir = dst;
    double t0 = now_s();
    if ((rc = eng_open(&eo, &db)) < 0)
        goto fail;
    double t = now_s() - t0;
    eng_get_stats(db, &st);
    res->recovery_mbps = (double)wal_bytes / 1e6 / t;
    printf("recovery   eng_open replayed %" PRIu64 " records, %" PRIu64
           " WAL bytes (dir copy %" PRIu64 " B) in %.3f s: %.1f MB/s\n",
           st.wal_replayed_records, wal_bytes, copied.apparent, t, res->recovery_mbps);
    rc = check_db(db, ref, res, "recovered");
fail:
    if (rc < 0)
        fprintf(stderr, "engine_bench: recovery phase: %s\n", cn_strerror(rc));
    eng_close(db);
    cn_rmtree(src);
    cn_rmtree(dst);
    return rc;
}

/* --------------------------------------------------------------- main */

static void ref_init(ref_t *ref, const bench_gen_cfg_t *cfg)
{
    memset(ref, 0, sizeof(*ref));
    uint64_t span_ms = (uint64_t)cfg->points * cfg->interval_s * 1000;
    ref->nhours = (uint32_t)((span_ms + 3599999) / 3600000);
    size_t cells = (size_t)cfg->devices * ref->nhours;
    ref->hour_sum = cn_malloc(cells * NF * sizeof(*ref->hour_sum));
    ref->hour_n = cn_malloc(cells * sizeof(*ref->hour_n));
    /* Touched now so that the RSS base already includes them. */
    memset(ref->hour_sum, 0, cells * NF * sizeof(*ref->hour_sum));
    memset(ref->hour_n, 0, cells * sizeof(*ref->hour_n));
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v == 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_opt(opts_t *o, const char *k, const char *v, uint64_t *hours, uint64_t *points)
{
    uint64_t n;
    if (strcmp(k, "--dir") == 0) {
        o->dir = v;
        return 0;
    }
    if (parse_u64(v, strcmp(k, "--seed") == 0 ? UINT64_MAX : UINT32_MAX, &n) < 0)
        return -1;
    if (strcmp(k, "--devices") == 0)
        o->cfg.devices = (uint32_t)n;
    else if (strcmp(k, "--hours") == 0)
        *hours = n;
    else if (strcmp(k, "--points") == 0)
        *points = n;
    else if (strcmp(k, "--interval") == 0)
        o->cfg.interval_s = (uint32_t)n;
    else if (strcmp(k, "--seed") == 0)
        o->cfg.seed = n;
    else if (strcmp(k, "--batch") == 0)
        o->batch = (uint32_t)n;
    else
        return -1;
    return 0;
}

static int parse_args(int argc, char **argv, opts_t *o)
{
    uint64_t hours = 0, points = 0;
    memset(o, 0, sizeof(*o));
    o->size = "small";
    o->batch = 5000;
    o->recovery = true;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--size") == 0)
            o->size = argv[i + 1];
    }
    if (bench_gen_size(o->size, &o->cfg) < 0) {
        fprintf(stderr, "engine_bench: unknown size '%s'\n", o->size);
        return -1;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-recovery") == 0) {
            o->recovery = false;
        } else if (strcmp(argv[i], "--keep") == 0) {
            o->keep = true;
        } else if (i + 1 < argc && (strcmp(argv[i], "--size") == 0 ||
                                    parse_opt(o, argv[i], argv[i + 1], &hours, &points) == 0)) {
            i++;
        } else {
            fprintf(stderr, "engine_bench: bad or incomplete option '%s'\n", argv[i]);
            return -1;
        }
    }
    if (hours)
        points = hours * 3600 / o->cfg.interval_s;
    if (points)
        o->cfg.points = (uint32_t)CN_MIN(points, UINT32_MAX);
    return 0;
}

static void print_summary(const opts_t *o, const results_t *r)
{
    printf("BENCH name=engine size=%s records=%" PRIu64 " field_values=%" PRIu64
           " durability=os bytes_per_value=%.4f bytes_basis=allocated"
           " apparent_bytes_per_value=%.4f closed_bytes_per_value=%.4f"
           " ingest_values_per_s=%.0f scan_values_per_s_core=%.0f"
           " scan_stats_values_per_s_core=%.0f hourly_values_per_s_core=%.0f",
           o->size, bench_gen_records(&o->cfg), r->values, (double)r->bytes.alloc / r->values,
           (double)r->bytes.apparent / r->values, (double)r->closed.alloc / r->values,
           r->ingest_vps, r->scan_decode_vps, r->scan_stats_vps, r->hourly_vps);
    if (o->recovery)
        printf(" recovery_mb_per_s=%.1f", r->recovery_mbps);
    else
        printf(" recovery_mb_per_s=skipped");
    printf(" series=%" PRIu64 " series_rss_bytes=%.0f check=%s\n", r->series,
           (double)(r->rss_flushed - r->rss_base) / (double)CN_MAX(r->series, 1),
           r->mismatches ? "MISMATCH" : "OK");
}

int main(int argc, char **argv)
{
    opts_t o;
    if (parse_args(argc, argv, &o) < 0) {
        fprintf(stderr, "usage: engine_bench --size small|medium|day|cardinality [--devices N]"
                        " [--hours H | --points N]\n"
                        "         [--interval S] [--seed N] [--dir DIR] [--batch N]"
                        " [--no-recovery] [--keep]\n");
        return 2;
    }
    cn_log_set_level(CN_LOG_WARN);
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress shows through bench/run's tee */
    char base[2048], maindir[4096];
    if (o.dir) {
        snprintf(base, sizeof(base), "%s", o.dir);
        if (cn_mkdirs(base, 0755) < 0) {
            fprintf(stderr, "engine_bench: cannot create %s\n", base);
            return 1;
        }
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(base, sizeof(base), "%s/engine_bench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(base)) {
            perror("engine_bench: mkdtemp");
            return 1;
        }
    }
    snprintf(maindir, sizeof(maindir), "%s/main", base);
    printf("engine_bench size=%s devices=%u points=%u interval=%us seed=%" PRIu64 " dir=%s\n",
           o.size, o.cfg.devices, o.cfg.points, o.cfg.interval_s, o.cfg.seed, base);

    results_t res = {.values = bench_gen_records(&o.cfg) * NF};
    ref_t ref;
    batch_t b;
    ref_init(&ref, &o.cfg);
    batch_init(&b, o.batch);
    int rc = phase_main(&o, maindir, &b, &ref, &res);
    if (rc == 0 && o.recovery)
        rc = phase_recovery(&o, base, &b, &ref, &res);
    if (rc == 0)
        print_summary(&o, &res);
    if (!o.keep)
        cn_rmtree(o.dir ? maindir : base);
    batch_free(&b);
    cn_free(ref.hour_sum);
    cn_free(ref.hour_n);
    if (rc < 0)
        return 1;
    return res.mismatches ? 1 : 0;
}
