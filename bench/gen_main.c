/* SPDX-License-Identifier: MIT */
/*
 * gen_main.c - `cairn-gen`: writes the standard workload (shared/WORKLOAD.md)
 * to stdout as line protocol, JSON (topic TAB payload per line) or CSV.
 *
 *   cairn-gen --size small --format lp|json|csv
 *             [--devices N] [--hours H | --points N] [--interval S] [--seed N]
 *
 * The output is a pure function of the arguments (gen.h), so
 * `cairn-gen --size small --format csv | sha256sum` is stable across runs.
 */
#include "gen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUT_BUF (1u << 20)

typedef size_t (*fmt_fn)(const bench_gen_rec_t *r, char *buf);

static void usage(FILE *f)
{
    fprintf(f, "usage: cairn-gen --size small|medium|day|cardinality --format lp|json|csv\n"
               "                 [--devices N] [--hours H | --points N] [--interval S]"
               " [--seed N]\n"
               "Writes the standard workload to stdout (json: topic TAB payload per line).\n");
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        return -1;
    *out = v;
    return 0;
}

typedef struct args {
    bench_gen_cfg_t cfg;
    fmt_fn fmt;
    bool csv;
    uint64_t hours; /* 0: not given */
    uint64_t points;
} args_t;

static int parse_format(const char *s, args_t *a)
{
    if (strcmp(s, "lp") == 0)
        a->fmt = bench_gen_fmt_lp;
    else if (strcmp(s, "json") == 0)
        a->fmt = bench_gen_fmt_json;
    else if (strcmp(s, "csv") == 0)
        a->fmt = bench_gen_fmt_csv;
    else
        return -1;
    a->csv = a->fmt == bench_gen_fmt_csv;
    return 0;
}

static int parse_opt(const char *opt, const char *val, args_t *a)
{
    uint64_t v;
    if (strcmp(opt, "--format") == 0)
        return parse_format(val, a);
    if (strcmp(opt, "--seed") == 0)
        return parse_u64(val, UINT64_MAX, &a->cfg.seed);
    if (parse_u64(val, UINT32_MAX, &v) < 0 || v == 0)
        return -1;
    if (strcmp(opt, "--devices") == 0)
        a->cfg.devices = (uint32_t)v;
    else if (strcmp(opt, "--hours") == 0)
        a->hours = v;
    else if (strcmp(opt, "--points") == 0)
        a->points = v;
    else if (strcmp(opt, "--interval") == 0)
        a->cfg.interval_s = (uint32_t)v;
    else
        return -1;
    return 0;
}

static int parse_args(int argc, char **argv, args_t *a)
{
    memset(a, 0, sizeof(*a));
    bench_gen_size("small", &a->cfg);
    /* --size first, wherever it stands, so the other options refine it. */
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--size") == 0 && bench_gen_size(argv[i + 1], &a->cfg) < 0) {
            fprintf(stderr, "cairn-gen: unknown size '%s'\n", argv[i + 1]);
            return -1;
        }
    }
    for (int i = 1; i < argc; i += 2) {
        bool is_size = i + 1 < argc && strcmp(argv[i], "--size") == 0;
        if (!is_size && (i + 1 >= argc || parse_opt(argv[i], argv[i + 1], a) < 0)) {
            fprintf(stderr, "cairn-gen: bad or incomplete option '%s'\n", argv[i]);
            return -1;
        }
    }
    if (!a->fmt) {
        fprintf(stderr, "cairn-gen: --format is required\n");
        return -1;
    }
    if (a->hours && a->points) {
        fprintf(stderr, "cairn-gen: give --hours or --points, not both\n");
        return -1;
    }
    if (a->hours)
        a->points = a->hours * 3600 / a->cfg.interval_s;
    if (a->points) {
        if (a->points > UINT32_MAX)
            return -1;
        a->cfg.points = (uint32_t)a->points;
    }
    return 0;
}

static int emit(const args_t *a)
{
    bench_gen_t *g = bench_gen_new(&a->cfg);
    char *out = malloc(OUT_BUF);
    if (!g || !out) {
        fprintf(stderr, "cairn-gen: empty configuration or out of memory\n");
        bench_gen_free(g);
        free(out);
        return 1;
    }
    size_t len = a->csv ? bench_gen_csv_header(out) : 0;
    bench_gen_rec_t r;
    int rc = 0;
    while (bench_gen_next(g, &r) == 1) {
        len += a->fmt(&r, out + len);
        if (len + BENCH_GEN_LINE_MAX > OUT_BUF) {
            if (fwrite(out, 1, len, stdout) != len) {
                rc = 1;
                break;
            }
            len = 0;
        }
    }
    if (rc == 0 && (fwrite(out, 1, len, stdout) != len || fflush(stdout) != 0))
        rc = 1;
    if (rc)
        fprintf(stderr, "cairn-gen: write error: %s\n", strerror(errno));
    bench_gen_free(g);
    free(out);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    args_t a;
    if (parse_args(argc, argv, &a) < 0) {
        usage(stderr);
        return 2;
    }
    return emit(&a);
}
