/* SPDX-License-Identifier: MIT */
/*
 * gen.c - the standard workload's generator (see gen.h and
 * shared/WORKLOAD.md).
 *
 * NOTES
 * 1. Every device has its own splitmix64 stream seeded from (seed, d), so a
 *    device's series does not depend on how many other devices there are or
 *    on the emission order.  Per record the draws are taken in this fixed
 *    order: the six stepped fields (temperature .. rpm), the position (one
 *    draw for "moves?", then the latitude and longitude steps when it moves),
 *    battery, status.  Changing this order changes every output byte: it is
 *    part of the workload's definition.
 * 2. Bounded draws use Lemire's multiply-shift on the top 32 bits of a draw
 *    without rejection; the bias (n / 2^32 for n <= 1000) is far below
 *    anything a benchmark can see, and the result stays exactly reproducible.
 * 3. A device's first record carries its start values; each later record is
 *    one step of every walk from the previous one.
 * 4. Battery: while discharging it drops 1 with p = 1/60; on reaching 15 or
 *    less it switches to charging and gains 1 with p = 1/6 until it is back at
 *    100, then discharges again.  Status: from 0 it jumps to 1..3 with
 *    p = 3/1000; from non-zero it returns to 0 with p = 1/10.
 * 5. Values never pass through floating point: printing writes the integer
 *    and fraction digits of the scaled value directly.
 */
#include "gen.h"

#include "base/base.h"

#include <string.h>

#define GOLDEN UINT64_C(0x9E3779B97F4A7C15)

/* How a field starts and walks.  Stepped fields move by uniform
 * [-step, step] each record and are clamped to [lo, hi]. */
typedef struct field_spec {
    bench_gen_field_t f;
    int64_t start_lo, start_hi; /* inclusive */
    int64_t step;
    int64_t lo, hi;
} field_spec_t;

static const field_spec_t SPECS[BENCH_GEN_NFIELDS] = {
    {{"temperature", 2, false}, 1800, 2799, 5, -2000, 6000},
    {{"humidity", 1, false}, 350, 649, 3, 0, 1000},
    {{"pressure", 1, false}, 10050, 10249, 1, 9500, 10500},
    {{"voltage", 3, false}, 11800, 12599, 4, 10500, 13500},
    {{"current", 3, false}, 500, 2499, 20, 0, 5000},
    {{"rpm", 0, true}, 800, 2799, 15, 0, 6000},
    {{"latitude", 6, false}, 48100000, 48299999, 30, INT64_MIN, INT64_MAX},
    {{"longitude", 6, false}, 11500000, 11699999, 30, INT64_MIN, INT64_MAX},
    {{"battery", 0, true}, 40, 100, 1, 0, 100},
    {{"status", 0, true}, 0, 0, 0, 0, 3},
};

#define NSTEPPED 6 /* temperature .. rpm walk every record */

static const char *const FLEETS[10] = {"fleet-0", "fleet-1", "fleet-2", "fleet-3", "fleet-4",
                                       "fleet-5", "fleet-6", "fleet-7", "fleet-8", "fleet-9"};
static const char *const MODELS[5] = {"th-100", "th-200", "mx-5", "mx-7", "gw-1"};

static const int64_t POW10[7] = {1, 10, 100, 1000, 10000, 100000, 1000000};

typedef struct dev_state {
    uint64_t rng;
    int64_t v[BENCH_GEN_NFIELDS];
    bool charging;
} dev_state_t;

struct bench_gen {
    bench_gen_cfg_t cfg;
    dev_state_t *devs;
    uint32_t next_dev; /* position of the next record */
    uint32_t next_pt;
};

/* ------------------------------------------------------------------ rng */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static uint64_t rng_next(uint64_t *s)
{
    *s += GOLDEN;
    return mix64(*s);
}

/* Uniform in [0, n) for 0 < n < 2^32 (NOTES 2). */
static int64_t rng_below(uint64_t *s, uint32_t n)
{
    return (int64_t)(((rng_next(s) >> 32) * (uint64_t)n) >> 32);
}

static int64_t rng_step(uint64_t *s, int64_t k)
{
    return rng_below(s, (uint32_t)(2 * k + 1)) - k;
}

/* ----------------------------------------------------------- the walks */

static void dev_init(dev_state_t *ds, uint64_t seed, uint32_t d)
{
    ds->rng = mix64(mix64(seed) + GOLDEN * ((uint64_t)d + 1));
    for (int i = 0; i < BENCH_GEN_NFIELDS; i++) {
        const field_spec_t *sp = &SPECS[i];
        uint32_t span = (uint32_t)(sp->start_hi - sp->start_lo + 1);
        ds->v[i] = span > 1 ? sp->start_lo + rng_below(&ds->rng, span) : sp->start_lo;
    }
    ds->charging = false;
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static void step_battery(dev_state_t *ds)
{
    int64_t *b = &ds->v[BENCH_GEN_BATTERY];
    if (ds->charging) {
        if (rng_below(&ds->rng, 6) == 0)
            *b += 1;
        if (*b >= 100) {
            *b = 100;
            ds->charging = false;
        }
        return;
    }
    if (rng_below(&ds->rng, 60) == 0 && *b > 0)
        *b -= 1;
    if (*b <= 15)
        ds->charging = true;
}

static void step_status(dev_state_t *ds)
{
    int64_t *st = &ds->v[BENCH_GEN_STATUS];
    if (*st == 0) {
        if (rng_below(&ds->rng, 1000) < 3)
            *st = 1 + rng_below(&ds->rng, 3);
    } else if (rng_below(&ds->rng, 10) == 0) {
        *st = 0;
    }
}

static void dev_step(dev_state_t *ds)
{
    for (int i = 0; i < NSTEPPED; i++) {
        const field_spec_t *sp = &SPECS[i];
        ds->v[i] = clamp(ds->v[i] + rng_step(&ds->rng, sp->step), sp->lo, sp->hi);
    }
    if (rng_below(&ds->rng, 8) == 0) {
        ds->v[BENCH_GEN_LATITUDE] += rng_step(&ds->rng, SPECS[BENCH_GEN_LATITUDE].step);
        ds->v[BENCH_GEN_LONGITUDE] += rng_step(&ds->rng, SPECS[BENCH_GEN_LONGITUDE].step);
    }
    step_battery(ds);
    step_status(ds);
}

/* ------------------------------------------------------------ generator */

const bench_gen_field_t *bench_gen_field(int i)
{
    return &SPECS[i].f;
}

int bench_gen_size(const char *name, bench_gen_cfg_t *cfg)
{
    static const struct {
        const char *name;
        uint32_t devices, points;
    } SIZES[] = {
        {"small", 100, 360},
        {"medium", 1000, 6 * 360},
        {"day", 1000, 24 * 360},
        {"cardinality", 1000000, 10},
    };
    for (size_t i = 0; i < sizeof(SIZES) / sizeof(SIZES[0]); i++) {
        if (strcmp(name, SIZES[i].name) != 0)
            continue;
        cfg->devices = SIZES[i].devices;
        cfg->points = SIZES[i].points;
        cfg->interval_s = 10;
        cfg->seed = BENCH_GEN_SEED;
        cfg->start_ms = BENCH_GEN_START_MS;
        return 0;
    }
    return -1;
}

uint64_t bench_gen_records(const bench_gen_cfg_t *cfg)
{
    return (uint64_t)cfg->devices * cfg->points;
}

bench_gen_t *bench_gen_new(const bench_gen_cfg_t *cfg)
{
    if (cfg->devices == 0 || cfg->points == 0 || cfg->interval_s == 0)
        return NULL;
    bench_gen_t *g = cn_calloc(1, sizeof(*g));
    g->cfg = *cfg;
    g->devs = cn_calloc(cfg->devices, sizeof(*g->devs));
    for (uint32_t d = 0; d < cfg->devices; d++)
        dev_init(&g->devs[d], cfg->seed, d);
    return g;
}

void bench_gen_free(bench_gen_t *g)
{
    if (!g)
        return;
    cn_free(g->devs);
    cn_free(g);
}

int bench_gen_next(bench_gen_t *g, bench_gen_rec_t *rec)
{
    if (g->next_pt >= g->cfg.points)
        return 0;
    uint32_t d = g->next_dev;
    dev_state_t *ds = &g->devs[d];
    if (g->next_pt > 0)
        dev_step(ds); /* NOTES 3 */
    rec->dev = d;
    rec->ts_ms = g->cfg.start_ms + (int64_t)g->next_pt * g->cfg.interval_s * 1000;
    memcpy(rec->v, ds->v, sizeof(rec->v));
    if (++g->next_dev == g->cfg.devices) {
        g->next_dev = 0;
        g->next_pt++;
    }
    return 1;
}

/* ----------------------------------------------------------------- tags */

const char *bench_gen_device_id(uint32_t d, char *buf)
{
    char digits[12];
    int n = 0;
    do {
        digits[n++] = (char)('0' + d % 10);
        d /= 10;
    } while (d > 0);
    while (n < 6)
        digits[n++] = '0';
    memcpy(buf, "dev-", 4);
    for (int i = 0; i < n; i++)
        buf[4 + i] = digits[n - 1 - i];
    buf[4 + n] = '\0';
    return buf;
}

const char *bench_gen_fleet(uint32_t d)
{
    return FLEETS[d % 10];
}

const char *bench_gen_model(uint32_t d)
{
    return MODELS[((uint64_t)d * 7 + 3) % 5];
}

/* ----------------------------------------------------------- formatting */

static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

static char *put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

/* The exact decimal of v / 10^dec (NOTES 5). */
static char *put_scaled(char *p, int64_t v, int dec)
{
    if (dec == 0)
        return put_i64(p, v);
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (v < 0)
        *p++ = '-';
    uint64_t scale = (uint64_t)POW10[dec];
    p = put_u64(p, a / scale);
    *p++ = '.';
    uint64_t frac = a % scale;
    for (int i = dec - 1; i >= 0; i--) {
        p[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    return p + dec;
}

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static size_t finish(char *buf, char *p)
{
    *p = '\0';
    return (size_t)(p - buf);
}

size_t bench_gen_fmt_value(int i, int64_t v, char *buf)
{
    return finish(buf, put_scaled(buf, v, SPECS[i].f.decimals));
}

double bench_gen_value_f64(int i, int64_t v)
{
    int dec = SPECS[i].f.decimals;
    return dec == 0 ? (double)v : (double)v / (double)POW10[dec];
}

size_t bench_gen_fmt_lp(const bench_gen_rec_t *r, char *buf)
{
    char id[BENCH_GEN_ID_MAX];
    char *p = put_str(buf, BENCH_GEN_MEASUREMENT ",device_id=");
    p = put_str(p, bench_gen_device_id(r->dev, id));
    p = put_str(p, ",fleet=");
    p = put_str(p, bench_gen_fleet(r->dev));
    p = put_str(p, ",model=");
    p = put_str(p, bench_gen_model(r->dev));
    for (int i = 0; i < BENCH_GEN_NFIELDS; i++) {
        *p++ = i == 0 ? ' ' : ',';
        p = put_str(p, SPECS[i].f.name);
        *p++ = '=';
        p = put_scaled(p, r->v[i], SPECS[i].f.decimals);
        if (SPECS[i].f.is_int)
            *p++ = 'i';
    }
    *p++ = ' ';
    p = put_i64(p, r->ts_ms);
    *p++ = '\n';
    return finish(buf, p);
}

size_t bench_gen_fmt_json_payload(const bench_gen_rec_t *r, char *buf)
{
    char *p = put_str(buf, "{\"ts\":");
    p = put_i64(p, r->ts_ms);
    for (int i = 0; i < BENCH_GEN_NFIELDS; i++) {
        p = put_str(p, ",\"");
        p = put_str(p, SPECS[i].f.name);
        p = put_str(p, "\":");
        p = put_scaled(p, r->v[i], SPECS[i].f.decimals);
    }
    *p++ = '}';
    return finish(buf, p);
}

size_t bench_gen_fmt_json(const bench_gen_rec_t *r, char *buf)
{
    char id[BENCH_GEN_ID_MAX];
    char *p = put_str(buf, "devices/");
    p = put_str(p, bench_gen_device_id(r->dev, id));
    p = put_str(p, "/telemetry\t");
    p += bench_gen_fmt_json_payload(r, p);
    *p++ = '\n';
    return finish(buf, p);
}

size_t bench_gen_fmt_csv(const bench_gen_rec_t *r, char *buf)
{
    char id[BENCH_GEN_ID_MAX];
    char *p = put_i64(buf, r->ts_ms);
    *p++ = ',';
    p = put_str(p, bench_gen_device_id(r->dev, id));
    *p++ = ',';
    p = put_str(p, bench_gen_fleet(r->dev));
    *p++ = ',';
    p = put_str(p, bench_gen_model(r->dev));
    for (int i = 0; i < BENCH_GEN_NFIELDS; i++) {
        *p++ = ',';
        p = put_scaled(p, r->v[i], SPECS[i].f.decimals);
    }
    *p++ = '\n';
    return finish(buf, p);
}

size_t bench_gen_csv_header(char *buf)
{
    char *p = put_str(buf, "ts,device_id,fleet,model");
    for (int i = 0; i < BENCH_GEN_NFIELDS; i++) {
        *p++ = ',';
        p = put_str(p, SPECS[i].f.name);
    }
    *p++ = '\n';
    return finish(buf, p);
}
