/* SPDX-License-Identifier: MIT */
/*
 * decode.h - payload decoders: bytes from a device or an HTTP client become
 * eng_point_t rows for eng_write().
 *
 * Three formats live here:
 *
 *   mq_dec_lp()      InfluxDB 1.x line protocol (MQTT payloads and /write)
 *   mq_dec_json()    JSON objects, arrays of objects and IoTDB tablets
 *   mq_dec_regmap()  binary frames (e.g. Modbus register dumps) through a
 *                    register map (mq_regmap_parse, syntax at the end)
 *
 * All append to an mq_dec_batch_t, a reusable arena that owns every string
 * and array the produced points refer to.  A server thread keeps one batch,
 * decodes one message (or several) into it, hands the points to eng_write()
 * and calls mq_dec_batch_reset(): in the steady state nothing is allocated.
 *
 * Errors.  A decoder keeps what it can, like InfluxDB: a bad line of line
 * protocol is skipped and the good ones are kept; a field whose value is out
 * of range (an `i`/`u` integer beyond int64, a float beyond double, a JSON
 * integer beyond int64) is dropped alone and the rest of its point is kept;
 * a point left without fields is dropped.  Every such problem is recorded as
 * an mq_dec_err_t with a 1-based line and byte column and a fixed reason
 * text, formatted by mq_dec_err_format() as "line 3 col 17: invalid boolean".
 * A JSON document that is not well-formed yields no points at all.
 *
 * Numbers are exact: a float64 is the correctly rounded value of its
 * decimal text (a Clinger fast path when the digits fit 53 bits and
 * |exp10| <= 22, glibc strtod otherwise; strtod needs LC_NUMERIC to stay
 * "C", which cairn never changes).
 *
 * Threads: a batch is used by one thread at a time; the decoders keep no
 * state of their own.
 */
#ifndef MQ_DECODE_H
#define MQ_DECODE_H

#include "engine.h"

/* ------------------------------------------------------------- options */

/* Time unit of a numeric timestamp.  MQ_DEC_AUTO (JSON only) picks the unit
 * by magnitude of the integer part |v|:
 *     |v| <  1e10 -> seconds       (up to year 2286)
 *     |v| <  1e13 -> milliseconds  (from 1970-04-26 on)
 *     |v| <  1e16 -> microseconds  (from 1970-04-26 on)
 *     otherwise   -> nanoseconds
 * so every plausible current time reads right whatever unit a device uses. */
typedef enum mq_dec_prec {
    MQ_DEC_NS = 0,
    MQ_DEC_US,
    MQ_DEC_MS,
    MQ_DEC_S,
    MQ_DEC_M, /* minutes */
    MQ_DEC_H, /* hours */
    MQ_DEC_AUTO,
} mq_dec_prec_t;

/* Parses InfluxDB's precision names: "ns" (or "n"), "u" / "us" / "µs", "ms",
 * "s", "m", "h", plus "auto".  Returns 0 or CN_EINVAL. */
int mq_dec_prec_parse(const char *s, mq_dec_prec_t *out /* OUT */);

/* JSON numbers without '.' or exponent: int64 (default) or float64.  The
 * default keeps counters such as rpm/battery/status integers and readings
 * printed with decimals (21.37) floats, which is what the standard workload
 * sends.  A device that prints a float reading without decimals ("21") then
 * sends an integer for that field, and the engine rejects it as a type
 * conflict: such devices should use MQ_DEC_JSON_FLOAT. */
enum mq_dec_json_nums { MQ_DEC_JSON_INT = 0, MQ_DEC_JSON_FLOAT = 1 };

#define MQ_DEC_MAX_TS_KEYS 4

typedef struct mq_dec_opts {
    /* JSON: measurement of every point (required).  Line protocol names its
     * own and ignores this. */
    const char *measurement;
    /* Base tags (from the topic mapping / device registry), borrowed: JSON
     * points point at this array, so keep it alive as long as the points.
     * Line protocol copies them into each point after the line's own tags,
     * skipping keys the line already has. */
    const eng_tag_t *tags;
    uint32_t ntags;
    /* Timestamp of points that carry none, ns since the epoch. */
    int64_t now_ns;
    /* Line protocol: unit of the timestamps (default ns; AUTO acts as ns).
     * JSON: unit of numeric timestamps (default AUTO). */
    mq_dec_prec_t prec;
    /* JSON: top-level keys holding the timestamp, first match by name;
     * default "ts", "time", "timestamp".  Unused slots are NULL. */
    const char *ts_keys[MQ_DEC_MAX_TS_KEYS];
    int json_nums;         /* enum mq_dec_json_nums */
    uint32_t max_depth;    /* JSON nesting limit, default 32, at most 256 */
    uint32_t max_str;      /* longest string value in bytes, default 64 KiB */
    size_t max_bytes;      /* largest payload, default 64 MiB (< 4 GiB) */
    const char *iotdb_tag; /* IoTDB tablets: tag the "device" goes into,
                              default "device_id" (replaces a base tag of
                              that key) */
} mq_dec_opts_t;

/* Fills the defaults above (measurement NULL, no tags, now_ns 0). */
void mq_dec_opts_default(mq_dec_opts_t *o /* OUT */);

/* --------------------------------------------------------------- errors */

typedef struct mq_dec_err {
    uint32_t line;      /* 1-based; line protocol: the line the bad one starts on */
    uint32_t col;       /* 1-based byte column within that line */
    int code;           /* CN_EPROTO (syntax), CN_ELIMIT, CN_EINVAL (value range) */
    const char *reason; /* static text, e.g. "invalid boolean" */
} mq_dec_err_t;

/* "line 3 col 17: invalid boolean" into buf (always NUL-terminated when
 * n > 0).  Returns what snprintf returns. */
int mq_dec_err_format(const mq_dec_err_t *e, char *buf, size_t n);

/* Errors kept per batch; more are counted but not stored. */
#define MQ_DEC_MAX_ERRS 64

/* ---------------------------------------------------------------- batch */

typedef struct mq_dec_batch mq_dec_batch_t;

/* Returns 0 (allocation failure aborts, as cn_malloc does). */
int mq_dec_batch_new(mq_dec_batch_t **out /* OUT */);
void mq_dec_batch_free(mq_dec_batch_t *b); /* NULL is a no-op */
/* Forgets every point and error and keeps the memory for reuse. */
void mq_dec_batch_reset(mq_dec_batch_t *b);

/* The points decoded since the last reset, in input order.  Borrowed: valid
 * until the next call that adds to, resets or frees the batch. */
const eng_point_t *mq_dec_batch_points(mq_dec_batch_t *b, size_t *n /* OUT */);
size_t mq_dec_batch_npoints(const mq_dec_batch_t *b);
/* The length (strlen) of every field name of the batch's points: the points'
 * fields all lie in one array, *base (OUT), and the returned array is
 * aligned with it, so point p's lengths start at [p->fields - *base].
 * Borrowed like the points; lets consumers that compare names (the rules'
 * binding) skip strlen. */
const uint32_t *mq_dec_batch_name_lens(const mq_dec_batch_t *b, const eng_field_t **base /* OUT */);
/* Stored errors (at most MQ_DEC_MAX_ERRS), borrowed like the points. */
const mq_dec_err_t *mq_dec_batch_errors(const mq_dec_batch_t *b, size_t *n /* OUT */);
/* Every error since the last reset, stored or not. */
size_t mq_dec_batch_nerrors(const mq_dec_batch_t *b);

/* What every decoder promises of the points it yields: a measurement, tag
 * keys and values and field names that are non-empty, valid UTF-8 C
 * strings; 1..ENG_MAX_FIELDS fields with distinct names; known types; bools
 * 0 or 1; valid UTF-8 string values.  For tests, fuzz targets and asserts:
 * O(fields^2). */
bool mq_dec_point_valid(const eng_point_t *p);

/* ------------------------------------------------------------- decoders */

/*
 * Line protocol, InfluxDB 1.x:
 *
 *   measurement[,tag=val...] field=val[,field=val...] [timestamp]
 *
 * one point per line; '\n' or "\r\n" ends a line (except inside a quoted
 * string field); blank lines and lines starting with '#' are skipped.
 * Escapes: "\," and "\ " in the measurement, additionally "\=" in tag keys,
 * tag values and field keys, "\"" in string fields, and "\\" (one
 * backslash) everywhere, as InfluxDB 2 documents it; a backslash before any
 * other byte is literal.  Field values: 1.5 / 1. / .5 / -1e-3 (float),
 * 42i (int64), 42u (stored as int64 when <= INT64_MAX, else the field is
 * rejected), "text", t/T/true/True/TRUE/f/F/false/False/FALSE.  A repeated
 * field or tag key: the last one wins.  Names and strings must be valid
 * UTF-8 and names must not contain NUL.
 *
 * Appends the good points to b and records one error per bad line.
 * Returns the number of points added, CN_ELIMIT when n > o->max_bytes, or
 * CN_EINVAL for bad options.
 */
int mq_dec_lp(mq_dec_batch_t *b, const mq_dec_opts_t *o, const void *p, size_t n);

/*
 * JSON (RFC 8259, strict: UTF-8 validated, no comments, no trailing commas,
 * nesting at most o->max_depth).  The document is one of:
 *
 *   {"ts":1767225600000,"temperature":21.37,"rpm":1500,"on":true,"fw":"1.2"}
 *       one point: numbers (int64 or float64, see mq_dec_json_nums), bools,
 *       strings; null means "no value"; nested objects are flattened with
 *       '.' ({"a":{"b":1}} is field "a.b"); arrays inside a record are
 *       rejected field by field.  The timestamp key (o->ts_keys, top level
 *       only) holds a number in o->prec (AUTO: by magnitude; fractions are
 *       kept to the nanosecond) or an RFC 3339 string
 *       ("2026-01-01T00:00:00.5+01:00"); without it the point gets o->now_ns.
 *   [ {...}, {...} ]
 *       one point per element (elements may be any of these objects).
 *   {"device":"d1","timestamps":[t0,t1],"measurements":["s1","s2"],
 *    "data_types":["DOUBLE","INT64"],"values":[[s1@t0,s1@t1],[s2@t0,s2@t1]]}
 *       an IoTDB REST v2 insertTablet: values is column-major, values[i]
 *       holds measurements[i] at every timestamp (null = absent), one point
 *       per timestamp.  data_types is optional; when given, INT32/INT64,
 *       FLOAT/DOUBLE, BOOLEAN and TEXT/STRING fix each column's type.
 *       "device" goes into the tag o->iotdb_tag.  Detected by the presence
 *       of "timestamps" and "values" keys.
 *
 * Duplicate keys: the last one wins (also between "a.b" and {"a":{"b"}}).
 * Returns the number of points added; CN_EPROTO when the document is not
 * well-formed JSON or not one of the shapes above; CN_ELIMIT for a size or
 * depth limit; CN_EINVAL for bad options (no measurement).  On a negative
 * return nothing was added and the reason is recorded as an error.
 */
int mq_dec_json(mq_dec_batch_t *b, const mq_dec_opts_t *o, const void *p, size_t n);

/* Appends points as line protocol (ns timestamps, one line each, names and
 * strings escaped so that mq_dec_lp() reads them back identically; floats
 * in the shortest of %.15g/%.16g/%.17g that round-trips). */
void mq_dec_lp_format(cn_buf_t *out, const eng_point_t *pts, size_t n);

/* ------------------------------------------------- builder (for decoders)
 *
 * The decoders in this folder (and the register-map decoder) build points
 * through these.  A point is open between _begin and _end; its fields and
 * tags are kept in the batch until mq_dec_batch_points() fixes up the
 * pointers.  Strings are copied into the batch's arena, which never moves
 * what it handed out.
 */

/* Copies n bytes plus a NUL into the arena; the copy lives until reset. */
char *mq_dec_strdup(mq_dec_batch_t *b, const void *p, size_t n);
/* n bytes of arena space (uninitialised, not NUL-terminated). */
char *mq_dec_alloc(mq_dec_batch_t *b, size_t n);

/* Starts a point; meas must live until reset (arena copy or the caller's). */
void mq_dec_point_begin(mq_dec_batch_t *b, const char *meas, int64_t ts);
void mq_dec_point_set_ts(mq_dec_batch_t *b, int64_t ts);
/* Uses an external tag array (borrowed until the points are consumed)
 * instead of tags added with mq_dec_point_tag. */
void mq_dec_point_ext_tags(mq_dec_batch_t *b, const eng_tag_t *tags, uint32_t n);
/* Adds a tag (strings must live until reset).  A key the point already
 * has is replaced when `replace`, else the new tag is ignored. */
void mq_dec_point_tag(mq_dec_batch_t *b, const char *key, const char *val, bool replace);
/* Adds a field; name (NUL-terminated, nlen = strlen) must live until reset.
 * A field of the same name is replaced in place.  Returns 0, or CN_ELIMIT
 * past ENG_MAX_FIELDS (the field is not added). */
int mq_dec_point_field(mq_dec_batch_t *b, const char *name, size_t nlen, eng_type_t t,
                       eng_value_t v);
uint32_t mq_dec_point_nfields(const mq_dec_batch_t *b);
/* Closes the point: kept (returns 1) when it has at least one field,
 * otherwise discarded (returns 0).  */
int mq_dec_point_end(mq_dec_batch_t *b);

/* A save point: everything added after it can be dropped with _rollback
 * (a bad line, a malformed document).  Errors are not rolled back. */
typedef struct mq_dec_mark {
    size_t npts, nfields, ntags, chunk, used;
} mq_dec_mark_t;
mq_dec_mark_t mq_dec_mark(const mq_dec_batch_t *b);
void mq_dec_rollback(mq_dec_batch_t *b, mq_dec_mark_t m);

/* Records an error (line, col 1-based). */
void mq_dec_error(mq_dec_batch_t *b, uint32_t line, uint32_t col, int code, const char *reason);

/* Reusable scratch memory for a decoder (JSON token tape); contents are
 * undefined after any other batch call except the point builders. */
cn_buf_t *mq_dec_scratch(mq_dec_batch_t *b);

/* ---------------------------------------------------- shared number code */

/* Exact decimal -> double: mant (up to 19 significant digits) * 10^exp10,
 * with `text` (len bytes, the full decimal as written) used for the slow
 * path when the fast one cannot guarantee correct rounding (inexact set
 * when digits beyond the mantissa were dropped).  Returns 0, or CN_EINVAL
 * when the value overflows to infinity. */
int mq_dec__to_double(uint64_t mant, int32_t exp10, bool neg, bool inexact, const char *text,
                      size_t len, double *out /* OUT */);

/* Validates UTF-8 (RFC 3629: no overlongs, surrogates or > U+10FFFF). */
bool mq_dec__utf8_ok(const uint8_t *p, size_t n);

/* ns per unit for a precision (AUTO -> 1). */
int64_t mq_dec__prec_ns(mq_dec_prec_t p);

/* ======================================================================
 * Binary register maps (regmap.c)
 *
 * A register map names the fields of a fixed-layout binary frame, such as
 * a raw Modbus holding-register dump relayed by a gateway.  It is parsed
 * once from text (config or a file it names) and then decodes any number
 * of frames, one point per frame.
 *
 * Syntax, one statement per line; '#' starts a comment to the end of the
 * line; blank lines are ignored; tokens are separated by spaces or tabs:
 *
 *   units=registers          # map options: a line of key=value tokens
 *   word=CDAB                # (units only before the first field)
 *   temperature u16 @0 scale=0.1
 *   pressure    f32 @2 word=ABCD
 *   level       i16 @0x10 scale=0.5 offset=-40
 *   alarm       bit @4.3
 *
 *   field line:  NAME TYPE @OFFSET[.BIT] [KEY=VALUE ...]
 *   NAME     letters, digits, '_', '.', '-', '/', ':' and non-ASCII UTF-8;
 *            at most 255 bytes; unique within the map
 *   TYPE     bit u8 i8 u16 i16 u32 i32 u64 i64 f32 f64
 *   OFFSET   decimal or 0x hex, 0..65535, in the map's units: bytes
 *            (default) or 16-bit registers (offset * 2 bytes)
 *   BIT      bit fields only, and required there: 0 is the least
 *            significant bit of the byte (units=bytes, 0..7) or of the
 *            16-bit register read in the field's byte order
 *            (units=registers, 0..15)
 *   order=big|little     byte order (default big).  Not on u8/i8 or on
 *                        bits in byte units.
 *   word=ABCD|CDAB|BADC|DCBA   32/64-bit types only: A is the most
 *            significant byte, and the letters give the order in the
 *            frame; ABCD = big endian, DCBA = little endian, CDAB = big-
 *            endian registers with the low register first, BADC = bytes
 *            swapped inside big-endian-ordered registers.  For 64-bit
 *            values the same rule holds per 16-bit register (CDAB puts
 *            the four registers in reverse order).  order=big is ABCD and
 *            order=little is DCBA; a field may not give both.
 *   scale=NUM offset=NUM  value = raw * scale + offset (finite decimals,
 *            not on bit fields).  A scale of exactly 10^-k (0.1, 0.01,
 *            1e-3) divides by 10^k instead, so 221 with scale=0.1 is the
 *            double nearest 22.1.
 *   Map options order= and word= set defaults for the fields after them
 *   (word= applies to 32/64-bit fields only); a field's own order= or
 *   word= replaces both defaults.
 *
 * Stored types: bit -> boolean; integers -> int64 (a u64 above INT64_MAX
 * is rejected alone); f32 (widened exactly) and f64 -> float64, NaN and
 * infinities as they are; any field with a scale or offset that is not
 * the identity -> float64.
 */

typedef struct mq_regmap mq_regmap_t;

/* Largest map text accepted (CN_ELIMIT above). */
#define MQ_REGMAP_MAX_TEXT (1u << 20)

/* Parses a map (n bytes, need not be NUL-terminated).  On success returns
 * 0 and an owned map in *out (release with mq_regmap_free).  On failure
 * *out is NULL, *err holds the first error (1-based line and byte column
 * of the offending token, a static reason such as "unknown type") and the
 * return is CN_EPROTO (syntax), CN_ELIMIT (text or field count) or
 * CN_EINVAL (NULL arguments). */
int mq_regmap_parse(const char *text, size_t n, mq_regmap_t **out /* OUT */,
                    mq_dec_err_t *err /* OUT */);
void mq_regmap_free(mq_regmap_t *m); /* NULL is a no-op */
uint32_t mq_regmap_nfields(const mq_regmap_t *m);
/* Bytes a frame needs for every field to decode. */
size_t mq_regmap_frame_len(const mq_regmap_t *m);

/*
 * Decodes one frame (n bytes) into one point: measurement (copied), the
 * base tags (borrowed, as in mq_dec_opts_t) and timestamp ts (ns), with
 * one field per map field, in map order.  A field that ends beyond the
 * frame, or a u64 above INT64_MAX, is left out and recorded as an error
 * whose line is the field's line in the map text and whose col is 1 + the
 * field's byte offset in the frame ("frame too short for field",
 * CN_EPROTO; "u64 value beyond int64", CN_EINVAL); the other fields are
 * stored.  Field names are borrowed from the map: keep it alive until the
 * batch is reset.  Returns the number of points added (1, or 0 when no
 * field could be decoded), or CN_EINVAL for bad arguments.
 */
int mq_dec_regmap(mq_dec_batch_t *b, const mq_regmap_t *m, const void *frame, size_t n,
                  const char *measurement, const eng_tag_t *tags, uint32_t ntags, int64_t ts);

#endif /* MQ_DECODE_H */
