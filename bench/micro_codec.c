/* SPDX-License-Identifier: MIT */
/*
 * micro_codec.c - compression and speed of the column codecs on the
 * standard workload (WORKLOAD.md, "medium": 1000 devices x 2160 rows, from
 * the project's generator bench/gen.h), one block per device and field as
 * the engine stores them.  The generator is time-major, so the whole run is
 * first transposed into device-major scaled integers (int32 fits them all).  Prints bytes per
 * value for every field, the timestamps and overall, with and without an
 * extra zstd pass (eng__pack), and single-core encode and decode rates, then
 * one machine-readable RESULT line.  The per-column decode rates repeat each
 * column's decode HOT_REPS times with the block in cache; the overall decode
 * rate is one cold pass over all columns.  Rates use the thread's CPU time.  Bytes per value counts
 * all bytes, timestamps included, over the ten field values per row.
 *
 * usage: micro_codec [size]   (a bench_gen_size name, default "medium")
 */
#include "codec/codec.h"
#include "gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NF   BENCH_GEN_NFIELDS
#define NCOL (NF + 1) /* fields, then timestamps */
/* Extra decode passes per column for the per-column rates: the block and
 * its encoding are then in cache, as in a scan that decodes block by block. */
#ifndef HOT_REPS
#define HOT_REPS 4
#endif

typedef struct col {
    double *f;
    int64_t *i;
} col_t;

typedef struct totals {
    size_t bytes[NCOL], packed[NCOL];
    int64_t enc_ns, dec_ns;
    int64_t col_ns[NCOL]; /* per-column decode time over HOT_REPS passes */
    double checksum;      /* keeps the decode loop honest */
} totals_t;

typedef struct data {
    bench_gen_cfg_t cfg;
    int32_t *v; /* [device][row][field] */
} data_t;

static int load(const char *size, data_t *d)
{
    if (bench_gen_size(size, &d->cfg) < 0)
        return -1;
    bench_gen_t *g = bench_gen_new(&d->cfg);
    if (!g)
        return -1;
    size_t rows = d->cfg.points;
    d->v = cn_malloc((size_t)d->cfg.devices * rows * NF * sizeof *d->v);
    bench_gen_rec_t r;
    for (size_t k = 0; bench_gen_next(g, &r) == 1; k++)
        for (int f = 0; f < NF; f++)
            d->v[((size_t)r.dev * rows + k / d->cfg.devices) * NF + f] = (int32_t)r.v[f];
    bench_gen_free(g);
    return 0;
}

static void gen_device(const data_t *data, unsigned d, col_t *cols)
{
    size_t rows = data->cfg.points;
    const int32_t *v = data->v + (size_t)d * rows * NF;
    for (size_t r = 0; r < rows; r++) {
        for (int f = 0; f < NF; f++) {
            if (bench_gen_field(f)->is_int)
                cols[f].i[r] = v[r * NF + f];
            else
                cols[f].f[r] = bench_gen_value_f64(f, v[r * NF + f]);
        }
        int64_t ms = data->cfg.start_ms + (int64_t)r * data->cfg.interval_s * 1000;
        cols[NF].i[r] = ms * 1000000;
    }
}

/* CPU time of this thread: the machine running benchmarks is often shared,
 * and a per-core rate should not count time spent descheduled. */
static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int encode_col(int c, const col_t *col, size_t rows, cn_buf_t *out)
{
    if (c == NF)
        return eng__ts_encode(col->i, rows, out);
    if (bench_gen_field(c)->is_int)
        return eng__i64_encode(col->i, rows, out);
    return eng__f64_encode(col->f, rows, out);
}

static int decode_col(int c, cn_rd_t *rd, size_t rows, col_t *col)
{
    if (c == NF)
        return eng__ts_decode(rd, rows, col->i);
    if (bench_gen_field(c)->is_int)
        return eng__i64_decode(rd, rows, col->i);
    return eng__f64_decode(rd, rows, col->f);
}

static int run_device(const data_t *data, unsigned d, col_t *cols, col_t *back, totals_t *t)
{
    size_t rows = data->cfg.points;
    cn_buf_t enc, packed;
    cn_buf_init(&enc);
    cn_buf_init(&packed);
    gen_device(data, d, cols);
    size_t off[NCOL + 1];
    int64_t t0 = cpu_ns();
    for (int c = 0; c < NCOL; c++) {
        off[c] = enc.len;
        encode_col(c, &cols[c], rows, &enc);
    }
    off[NCOL] = enc.len;
    int64_t t1 = cpu_ns();
    cn_rd_t rd = cn_rd_make(enc.p, enc.len);
    int rc = 0;
    for (int c = 0; c < NCOL && rc == 0; c++)
        rc = decode_col(c, &rd, rows, &back[c]);
    int64_t t2 = cpu_ns();
    t->enc_ns += t1 - t0;
    t->dec_ns += t2 - t1;
    for (int c = 0; c < NCOL && rc == 0; c++) {
        size_t sz = off[c + 1] - off[c];
        t->bytes[c] += sz;
        cn_buf_reset(&packed);
        eng__pack(enc.p + off[c], sz, ENG_COMP_ZSTD, 3, &packed);
        t->packed[c] += CN_MIN(packed.len, sz);
        bool isf = c < NF && !bench_gen_field(c)->is_int;
        if (isf ? memcmp(back[c].f, cols[c].f, rows * 8) : memcmp(back[c].i, cols[c].i, rows * 8))
            rc = CN_ECORRUPT;
        t->checksum += isf ? back[c].f[rows - 1] : (double)back[c].i[rows - 1];
    }
    for (int c = 0; c < NCOL && rc == 0; c++) {
        int64_t c0 = cpu_ns();
        for (int r = 0; r < HOT_REPS && rc == 0; r++) {
            cn_rd_t cr = cn_rd_make(enc.p + off[c], off[c + 1] - off[c]);
            rc = decode_col(c, &cr, rows, &back[c]);
        }
        t->col_ns[c] += cpu_ns() - c0;
    }
    cn_buf_free(&packed);
    cn_buf_free(&enc);
    return rc;
}

int main(int argc, char **argv)
{
    data_t data;
    if (load(argc > 1 ? argv[1] : "medium", &data) < 0) {
        fprintf(stderr, "usage: micro_codec [small|medium|day]\n");
        return 2;
    }
    unsigned devices = data.cfg.devices;
    size_t rows = data.cfg.points;
    col_t cols[NCOL], back[NCOL];
    for (int c = 0; c < NCOL; c++) {
        cols[c].f = cn_malloc(rows * 8), cols[c].i = cn_malloc(rows * 8);
        back[c].f = cn_malloc(rows * 8), back[c].i = cn_malloc(rows * 8);
    }
    totals_t t;
    memset(&t, 0, sizeof t);
    for (unsigned d = 0; d < devices; d++) {
        int rc = run_device(&data, d, cols, back, &t);
        if (rc < 0) {
            fprintf(stderr, "device %u: round trip failed: %s\n", d, cn_strerror(rc));
            return 1;
        }
    }
    double nvals = (double)devices * (double)rows;
    size_t total = 0, ptotal = 0;
    for (int c = 0; c < NCOL; c++) {
        total += t.bytes[c];
        ptotal += t.packed[c];
        printf("%-12s %.4f bytes/value  (zstd-packed %.4f)  decode %7.1f M values/s\n",
               c < NF ? bench_gen_field(c)->name : "timestamps", (double)t.bytes[c] / nvals,
               (double)t.packed[c] / nvals, nvals * HOT_REPS / ((double)t.col_ns[c] / 1e9) / 1e6);
    }
    double fields = nvals * NF;
    double bpv = (double)total / fields;
    double enc_rate = fields / ((double)t.enc_ns / 1e9);
    double dec_rate = fields / ((double)t.dec_ns / 1e9);
    printf("overall      %.4f bytes/field value, %.4f with zstd pack (%u devices x %zu rows)\n",
           bpv, (double)ptotal / fields, devices, rows);
    printf("encode       %.1f M values/s (single core, timestamps included in the time)\n",
           enc_rate / 1e6);
    printf("decode       %.1f M values/s (checksum %.3f)\n", dec_rate / 1e6, t.checksum);
    printf("RESULT name=micro_codec bytes_per_value=%.4f encode_values_per_s=%.0f "
           "decode_values_per_s=%.0f\n",
           bpv, enc_rate, dec_rate);
    for (int c = 0; c < NCOL; c++) {
        cn_free(cols[c].f), cn_free(cols[c].i);
        cn_free(back[c].f), cn_free(back[c].i);
    }
    cn_free(data.v);
    return 0;
}
