/* SPDX-License-Identifier: MIT */
/*
 * base.h - the lowest layer every cairn module builds on: error codes,
 * allocation, logging, growable byte buffers, bounded read cursors, CRC32C
 * and an injectable clock.  Nothing here knows about storage, MQTT or HTTP.
 *
 * Errors follow STYLE.md: functions return int, 0 (or a count) on success
 * and a negative code on failure.  System errors are -errno; cairn's own
 * codes live at -1000 and below and come from the CN_ERRORS X-macro table.
 */
#ifndef CN_BASE_H
#define CN_BASE_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------- errors */

/* X(name, value, message).  Values are stable: they appear in logs. */
#define CN_ERRORS(X)                                                                               \
    X(CN_ECORRUPT, -1000, "data corrupt (checksum or structure)")                                  \
    X(CN_EPROTO, -1001, "protocol violation")                                                      \
    X(CN_ETYPE, -1002, "field type conflict")                                                      \
    X(CN_EVERSION, -1003, "unsupported format version")                                            \
    X(CN_ECONFIG, -1004, "invalid configuration")                                                  \
    X(CN_ECLOSED, -1005, "object is closed")                                                       \
    X(CN_EFULL, -1006, "buffer or queue full")                                                     \
    X(CN_ETRUNC, -1007, "truncated input")                                                         \
    X(CN_ELIMIT, -1008, "limit exceeded")                                                          \
    X(CN_EINVAL, -1009, "invalid argument")                                                        \
    X(CN_ENOTFOUND, -1010, "not found")                                                            \
    X(CN_EEXIST, -1011, "already exists")                                                          \
    X(CN_ECODEC, -1012, "no codec can encode the input")

enum cn_err {
#define CN__ERR_ENUM(name, val, msg) name = (val),
    CN_ERRORS(CN__ERR_ENUM)
#undef CN__ERR_ENUM
};

/* Human text for any code: ours, -errno, or 0 ("ok"). Never NULL. */
const char *cn_strerror(int code);
/* Symbolic name ("CN_ECORRUPT", "ENOENT"); "UNKNOWN" for unknown codes. */
const char *cn_errname(int code);
/* libuv error codes are already -errno on Unix; this documents the intent. */
static inline int cn_from_uv(int uv_rc)
{
    return uv_rc;
}

void cn__log_at(const char *file, int line, int code);
#ifdef CN_DEBUG
#define CN_CORRUPT() (cn__log_at(__FILE__, __LINE__, CN_ECORRUPT), CN_ECORRUPT)
#define CN_PROTO()   (cn__log_at(__FILE__, __LINE__, CN_EPROTO), CN_EPROTO)
#else
#define CN_CORRUPT() (CN_ECORRUPT)
#define CN_PROTO()   (CN_EPROTO)
#endif

/* ------------------------------------------------------------ allocation */

/*
 * jemalloc is linked as the process allocator, so these are thin wrappers.
 * Out of memory aborts the process with a message: every caller would
 * otherwise need a recovery path it cannot meaningfully take.
 */
void *cn_malloc(size_t n);
void *cn_calloc(size_t n, size_t size);
void *cn_realloc(void *p, size_t n);
char *cn_strdup(const char *s);
char *cn_strndup(const char *s, size_t n);
void cn_free(void *p);
/* Returns freed memory to the OS now (jemalloc's dirty pages would
 * otherwise linger for seconds); a no-op under other allocators.  Called
 * after a memtable flush frees hundreds of megabytes at once. */
void cn_mem_trim(void);

/* --------------------------------------------------------------- logging */

enum cn_log_level { CN_LOG_ERROR = 0, CN_LOG_WARN, CN_LOG_INFO, CN_LOG_DEBUG };

/* The level is process-wide (the one documented global besides srv_ctx). */
void cn_log_set_level(int level);
int cn_log_get_level(void);
/* Parses "error|warn|info|debug"; returns the level or CN_ECONFIG. */
int cn_log_parse_level(const char *s);
void cn_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define cn_error(...) cn_log(CN_LOG_ERROR, __VA_ARGS__)
#define cn_warn(...)  cn_log(CN_LOG_WARN, __VA_ARGS__)
#define cn_info(...)  cn_log(CN_LOG_INFO, __VA_ARGS__)
#define cn_debug(...) cn_log(CN_LOG_DEBUG, __VA_ARGS__)

/*
 * Rate limiter for noisy logs: allows `burst` messages per `period_ns`,
 * counts the suppressed ones.  Caller owns the struct (zero-initialise).
 * Returns true when a message may be logged; *suppressed (OUT) gets the
 * count dropped since the last allowed message.  Not thread-safe.
 */
typedef struct cn_ratelimit {
    int64_t window_start;
    uint32_t used;
    uint32_t dropped;
} cn_ratelimit_t;
bool cn_ratelimit_ok(cn_ratelimit_t *rl, int64_t now_ns, int64_t period_ns, uint32_t burst,
                     uint32_t *suppressed /* OUT */);

/* ---------------------------------------------------------------- clock */

/* Injectable clock: tests replace now_ns to make time deterministic. */
typedef struct cn_clock {
    int64_t (*now_ns)(void *arg); /* wall clock, ns since the Unix epoch */
    void *arg;
} cn_clock_t;
int64_t cn_now_ns(void);  /* CLOCK_REALTIME */
int64_t cn_mono_ns(void); /* CLOCK_MONOTONIC */
cn_clock_t cn_clock_system(void);
static inline int64_t cn_clock_now(const cn_clock_t *c)
{
    return c->now_ns(c->arg);
}

/* --------------------------------------------------------------- buffers */

/* A growable byte buffer.  Owns p; release with cn_buf_free(). */
typedef struct cn_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
} cn_buf_t;

void cn_buf_init(cn_buf_t *b);
void cn_buf_free(cn_buf_t *b);
void cn_buf_reserve(cn_buf_t *b, size_t extra); /* ensures cap >= len + extra */
static inline void cn_buf_reset(cn_buf_t *b)
{
    b->len = 0;
}
void cn_buf_put_slow(cn_buf_t *b, const void *p, size_t n); /* cn_buf_put's growing path */
/* Appends n bytes (inline while they fit: JSON and text answers append a
 * few bytes at a time). */
static inline void cn_buf_put(cn_buf_t *b, const void *p, size_t n)
{
    if (b->cap - b->len >= n) {
        if (n)
            memcpy(b->p + b->len, p, n);
        b->len += n;
    } else {
        cn_buf_put_slow(b, p, n);
    }
}
static inline void cn_buf_put_u8(cn_buf_t *b, uint8_t v)
{
    if (b->cap > b->len)
        b->p[b->len++] = v;
    else
        cn_buf_put_slow(b, &v, 1);
}
void cn_buf_put_u16(cn_buf_t *b, uint16_t v); /* little endian */
void cn_buf_put_u32(cn_buf_t *b, uint32_t v); /* little endian */
void cn_buf_put_u64(cn_buf_t *b, uint64_t v); /* little endian */
void cn_buf_put_uvarint(cn_buf_t *b, uint64_t v);
void cn_buf_put_svarint(cn_buf_t *b, int64_t v); /* zigzag */
/* 10^0 .. 10^19 */
extern const uint64_t cn_p10[20];
/* The number of decimal digits of u (1 for 0). */
int cn_dec_len(uint64_t u);
/* v in decimal, '-' first when negative (no other bytes). */
void cn_buf_put_dec(cn_buf_t *b, int64_t v);
/* Writes code point cp (at most U+10FFFF) as UTF-8 to o (room for 4 bytes);
 * returns the bytes written. */
size_t cn_utf8_put(char *o, uint32_t cp);
/* Writes v (< 10^nd) as exactly nd decimal digits, leading zeros included,
 * into d[0..nd); two digits a step. */
void cn_dec_digits(uint64_t v, int nd, char *d);

/* A hex digit's value (either case), -1 for any other character. */
static inline int cn_hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch |= 0x20; /* 'A'-'F' to 'a'-'f'; nothing else lands there */
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}
/* Turns every %XX (two hex digits) of the string s into its byte, in
 * place; a '%' not followed by two hex digits stays. */
void cn_pct_decode(char *s);
/* Reserve n bytes at the end and return a pointer to them (len += n). */
uint8_t *cn_buf_extend(cn_buf_t *b, size_t n);

static inline uint64_t cn_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int64_t cn_unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Little-endian loads/stores on unaligned memory. */
static inline uint16_t cn_ld16(const void *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}
static inline uint32_t cn_ld32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline uint64_t cn_ld64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static inline void cn_st32(void *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static inline void cn_st64(void *p, uint64_t v)
{
    memcpy(p, &v, 8);
}
/* n bytes at a and b are equal (both hold n): word loads within the n bytes
 * and no call, for the short names and topic levels compared per message. */
static inline bool cn_eq_short(const void *pa, const void *pb, size_t n)
{
    const char *a = pa, *b = pb;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8)
            if (cn_ld64(a + i) != cn_ld64(b + i))
                return false;
        return cn_ld64(a + n - 8) == cn_ld64(b + n - 8);
    }
    if (n >= 4)
        return cn_ld32(a) == cn_ld32(b) && cn_ld32(a + n - 4) == cn_ld32(b + n - 4);
    if (n >= 2)
        return cn_ld16(a) == cn_ld16(b) && a[n - 1] == b[n - 1];
    return n == 0 || a[0] == b[0];
}

/* ---------------------------------------------------------- read cursor */

/*
 * Bounded read cursor.  Every parser in cairn reads through these: each
 * getter checks the remaining length and returns CN_ETRUNC instead of
 * reading past the end.  The cursor borrows the memory it reads.
 */
typedef struct cn_rd {
    const uint8_t *p;
    const uint8_t *end;
} cn_rd_t;

static inline cn_rd_t cn_rd_make(const void *p, size_t n)
{
    cn_rd_t r = {(const uint8_t *)p, (const uint8_t *)p + n};
    return r;
}
static inline size_t cn_rd_left(const cn_rd_t *r)
{
    return (size_t)(r->end - r->p);
}
int cn_rd_u8(cn_rd_t *r, uint8_t *v /* OUT */);
int cn_rd_u16(cn_rd_t *r, uint16_t *v /* OUT */);
int cn_rd_u32(cn_rd_t *r, uint32_t *v /* OUT */);
int cn_rd_u64(cn_rd_t *r, uint64_t *v /* OUT */);
int cn__rd_uvarint_slow(cn_rd_t *r, uint64_t *v /* OUT */);
/* LEB128 varints; inline for the one-byte case that dominates hot loops
 * (WAL replay, segment index parsing), and for up to nine bytes when ten
 * are left (no bounds check per byte; a tenth byte and the errors are the
 * slow path's). */
static inline int cn_rd_uvarint(cn_rd_t *r, uint64_t *v /* OUT */)
{
    const uint8_t *p = r->p;
    if (p < r->end && *p < 0x80) {
        *v = *p;
        r->p = p + 1;
        return 0;
    }
    if (r->end - p >= 10) {
        uint64_t x = 0;
        for (unsigned i = 0; i < 9; i++) {
            x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
            if (p[i] < 0x80) {
                *v = x;
                r->p = p + i + 1;
                return 0;
            }
        }
    }
    return cn__rd_uvarint_slow(r, v);
}
static inline int cn_rd_svarint(cn_rd_t *r, int64_t *v /* OUT */)
{
    uint64_t u;
    int rc = cn_rd_uvarint(r, &u);
    if (rc < 0)
        return rc;
    *v = cn_unzigzag(u);
    return 0;
}
/* Borrow n bytes: *p (OUT) points into the input. */
int cn_rd_bytes(cn_rd_t *r, size_t n, const uint8_t **p /* OUT */);
int cn_rd_skip(cn_rd_t *r, size_t n);

/* ------------------------------------------------------------- checksum */

/* CRC-32C (Castagnoli).  Hardware instruction when the CPU has SSE4.2. */
uint32_t cn_crc32c(uint32_t crc, const void *p, size_t n);

/* 64-bit hash for hash tables (not persisted; may change between versions). */
uint64_t cn_hash64(const void *p, size_t n);

/* ------------------------------------------------------------------ time */

enum {
    CN_TIME_NEED_CLOCK = 1, /* a bare date ("2026-01-01") is not enough */
    CN_TIME_NEED_ZONE = 2,  /* Z or +-HH:MM required (otherwise UTC) */
    CN_TIME_FRAC_ANY = 4,   /* accept more than 9 fraction digits (cut to ns) */
};
/* "YYYY-MM-DD[(T|t| )HH:MM:SS[.frac][Z|z|+-HH:MM]]" to ns since the epoch.
 * Flags 0 is InfluxQL's time literal; NEED_CLOCK|NEED_ZONE is strict
 * RFC 3339.  Returns 0, CN_EINVAL (syntax, calendar) or CN_ELIMIT (outside
 * the int64 ns range). */
int cn_time_parse(const char *s, size_t n, unsigned flags, int64_t *ns /* OUT */);
/* ns as RFC 3339 UTC with the fraction trimmed ("2026-01-01T00:00:00.5Z"). */
void cn_time_format(int64_t ns, cn_buf_t *out);

/* ----------------------------------------------------------------- misc */

#define CN_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define CN_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define CN_MAX(a, b)    ((a) > (b) ? (a) : (b))

/* Write a whole file atomically: tmp file, fsync, rename, fsync dir. */
int cn_file_write_atomic(const char *path, const void *p, size_t n);
/* Read a whole file into *out (owned, cn_free).  */
int cn_file_read_all(const char *path, uint8_t **out /* OUT */, size_t *len /* OUT */);
/* Opens path read-only; returns the fd and its size in *size, or -errno. */
int cn_open_ro(const char *path, uint64_t *size /* OUT */);
/* write() until all n bytes are written (EINTR retried); 0 or -errno. */
int cn_write_all(int fd, const void *p, size_t n);
/* fsync a directory so renames and creates inside it are durable. */
int cn_fsync_dir(const char *dir);
/* mkdir -p */
int cn_mkdirs(const char *path, int mode);
/* rm -rf of a directory we own (used by retention and tests). */
int cn_rmtree(const char *path);

#endif /* CN_BASE_H */
