/* SPDX-License-Identifier: MIT */
/*
 * gen.h - the deterministic generator of the standard workload
 * (shared/WORKLOAD.md): an IoT fleet of D devices, each reporting ten fields
 * every I seconds of simulated time.
 *
 * Contract.  The same configuration (sizes and seed) yields the same records
 * and therefore the same bytes in every format, on every run and machine: the
 * walks use only integer arithmetic on a splitmix64 stream per device.
 * Records come time-major (all devices for t0, then all for t0 + I, ...).
 * Values are kept as scaled integers (temperature 2137 means 21.37) and printed
 * with exact decimals, so no float formatting is involved anywhere.
 *
 * Nothing here allocates except bench_gen_new(); the formatters write into a
 * caller's buffer of at least BENCH_GEN_LINE_MAX bytes.  Single-threaded: one
 * generator is used by one thread at a time.
 */
#ifndef BENCH_GEN_H
#define BENCH_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_GEN_NFIELDS     10
#define BENCH_GEN_START_MS    INT64_C(1767225600000) /* 2026-01-01T00:00:00Z */
#define BENCH_GEN_SEED        UINT64_C(1)
#define BENCH_GEN_LINE_MAX    512 /* any one formatted record, with newline */
#define BENCH_GEN_ID_MAX      16  /* "dev-000000" and NUL; ids have >= 6 digits */
#define BENCH_GEN_MEASUREMENT "telemetry"

/* Field indexes, in the order of WORKLOAD.md and of every output format. */
enum bench_gen_field_idx {
    BENCH_GEN_TEMPERATURE = 0,
    BENCH_GEN_HUMIDITY,
    BENCH_GEN_PRESSURE,
    BENCH_GEN_VOLTAGE,
    BENCH_GEN_CURRENT,
    BENCH_GEN_RPM,
    BENCH_GEN_LATITUDE,
    BENCH_GEN_LONGITUDE,
    BENCH_GEN_BATTERY,
    BENCH_GEN_STATUS,
};

typedef struct bench_gen_field {
    const char *name;
    int decimals; /* 0 for integer fields */
    bool is_int;  /* printed with an `i` suffix in line protocol */
} bench_gen_field_t;

/* Static description of field i (0 <= i < BENCH_GEN_NFIELDS). */
const bench_gen_field_t *bench_gen_field(int i);

typedef struct bench_gen_cfg {
    uint32_t devices;    /* D */
    uint32_t points;     /* records per device */
    uint32_t interval_s; /* I */
    uint64_t seed;
    int64_t start_ms;
} bench_gen_cfg_t;

/*
 * Fills *cfg for a named size: "small" (100 devices x 1 h), "medium"
 * (1000 x 6 h), "day" (1000 x 24 h) or "cardinality" (1,000,000 x 10 points),
 * all at I = 10 s, default seed and start.  Returns 0 or -1 for an unknown
 * name (cfg untouched).
 */
int bench_gen_size(const char *name, bench_gen_cfg_t *cfg /* OUT */);
/* Records the configuration yields: devices * points. */
uint64_t bench_gen_records(const bench_gen_cfg_t *cfg);

/* One record.  v[] holds the scaled integers of the ten fields. */
typedef struct bench_gen_rec {
    uint32_t dev;  /* device index d */
    int64_t ts_ms; /* start_ms + k * interval_s * 1000 */
    int64_t v[BENCH_GEN_NFIELDS];
} bench_gen_rec_t;

typedef struct bench_gen bench_gen_t;

/* Creates a generator positioned before the first record (owned; free with
 * bench_gen_free; memory comes from cn_calloc, which aborts when out of memory).
 * Returns NULL when devices, points or interval is 0. */
bench_gen_t *bench_gen_new(const bench_gen_cfg_t *cfg);
void bench_gen_free(bench_gen_t *g); /* NULL is a no-op */
/* Advances to the next record: returns 1 with *rec filled, 0 at the end. */
int bench_gen_next(bench_gen_t *g, bench_gen_rec_t *rec /* OUT */);

/* Tags of device d.  Ids are written into buf (BENCH_GEN_ID_MAX bytes);
 * fleet and model strings are static. */
const char *bench_gen_device_id(uint32_t d, char *buf /* OUT */);
const char *bench_gen_fleet(uint32_t d);
const char *bench_gen_model(uint32_t d);

/* Writes the exact decimal text of scaled value v of field i ("21.37",
 * "-0.05", "1200") into buf (at least 32 bytes), NUL-terminated; returns its
 * length. */
size_t bench_gen_fmt_value(int i, int64_t v, char *buf /* OUT */);
/* The value as the double nearest to its decimal text (what strtod of the
 * text returns): integers exactly, decimals as v / 10^decimals, which IEEE
 * division rounds correctly because both operands are exact. */
double bench_gen_value_f64(int i, int64_t v);

/*
 * Formatters.  Each writes one record as a line ending in '\n' into buf (at
 * least BENCH_GEN_LINE_MAX bytes), NUL-terminated, and returns its length.
 *   lp:   telemetry,device_id=dev-000000,fleet=fleet-0,model=mx-7
 *         temperature=21.37,...,rpm=1200i,...,status=0i 1767225600000
 *   json: devices/dev-000000/telemetry<TAB>{"ts":1767225600000,"temperature":21.37,...}
 *         (bench_gen_fmt_json_payload writes the payload alone, no newline)
 *   csv:  1767225600000,dev-000000,fleet-0,mx-7,21.37,...
 */
size_t bench_gen_fmt_lp(const bench_gen_rec_t *r, char *buf /* OUT */);
size_t bench_gen_fmt_json(const bench_gen_rec_t *r, char *buf /* OUT */);
size_t bench_gen_fmt_json_payload(const bench_gen_rec_t *r, char *buf /* OUT */);
size_t bench_gen_fmt_csv(const bench_gen_rec_t *r, char *buf /* OUT */);
/* "ts,device_id,fleet,model,temperature,...,status\n" */
size_t bench_gen_csv_header(char *buf /* OUT */);

#endif /* BENCH_GEN_H */
