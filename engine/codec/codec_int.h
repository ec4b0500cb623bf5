/* SPDX-License-Identifier: MIT */
/*
 * codec_int.h - what the codec files share and nobody else sees: the codec
 * id space (the first byte of every encoding), a 64-bit little-endian bit
 * writer and bounded bit reader, fixed-width bit packing, the static rANS
 * coder and the integer pipeline that timestamps, decimal floats and string
 * lengths reuse.
 *
 * NOTES
 * 1. Codec ids are part of the on-disk format: never renumber one, only add.
 *    Each family owns a range of 16 ids so a decoder can reject an id of the
 *    wrong family with CN_ECORRUPT.
 * 2. Bit streams are LSB-first: the first value sits in the low bits of the
 *    first byte.  A bit reader never dereferences outside [p, p+len); bits
 *    read past the end are zeros, and the decoder checks eng__br_ok() once
 *    at the end instead of on every read (the output is bounded by n anyway).
 * 3. All integer arithmetic on values is done in uint64_t so that deltas of
 *    INT64_MIN/MAX wrap instead of overflowing (no UB, still lossless).
 */
#ifndef ENG_CODEC_INT_H
#define ENG_CODEC_INT_H

#include "codec.h"

#include <assert.h>
#include <math.h>

/* ------------------------------------------------------------ codec ids */

enum eng_codec_id {
    /* int64 (also timestamps, decimal-float mantissas, string lengths) */
    ENG_C_I_RAW = 0x10,
    ENG_C_I_CONST = 0x11,
    ENG_C_I_RLE = 0x12,
    ENG_C_I_FOR = 0x13,
    ENG_C_I_RANS = 0x14,
    ENG_C_I_RADIX = 0x15, /* segment format version 2 */
    /* timestamps; a timestamp column may also hold any int64 encoding */
    ENG_C_TS_STRIDE = 0x20,
    /* float64 */
    ENG_C_F_RAW = 0x30,
    ENG_C_F_CONST = 0x31,
    ENG_C_F_DEC = 0x32,
    ENG_C_F_XOR = 0x33,
    /* bool and presence bitmaps */
    ENG_C_B_ALL0 = 0x40,
    ENG_C_B_ALL1 = 0x41,
    ENG_C_B_RLE = 0x42,
    ENG_C_B_BITMAP = 0x43,
    /* strings */
    ENG_C_S_PLAIN = 0x50,
    ENG_C_S_DICT = 0x51,
};

/* Largest n any decoder accepts (a block never holds more rows; guards the
 * size arithmetic against absurd counts from a corrupt header). */
#define ENG_CODEC_MAX_N ((size_t)1 << 32)

/* ------------------------------------------------------------- bit I/O */

static inline uint64_t eng__mask(unsigned w)
{
    return w >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << w) - 1);
}

/* Bits needed for v (0 for 0). */
static inline unsigned eng__bits(uint64_t v)
{
    return v ? 64u - (unsigned)__builtin_clzll(v) : 0u;
}

/* Bytes cn_buf_put_uvarint(v) writes. */
static inline size_t eng__uvarint_len(uint64_t v)
{
    return v < 128 ? 1 : (eng__bits(v) + 6) / 7;
}

/* Bytes that n values of w bits occupy, without overflowing n * w. */
static inline size_t eng__bp_bytes(size_t n, unsigned w)
{
    return (n / 8) * w + ((n % 8) * w + 7) / 8;
}

typedef struct eng_bw {
    cn_buf_t *b;
    uint64_t acc; /* pending bits, low nb bits valid */
    unsigned nb;  /* 0..63 */
} eng_bw_t;

static inline void eng__bw_init(eng_bw_t *bw, cn_buf_t *b)
{
    bw->b = b;
    bw->acc = 0;
    bw->nb = 0;
}

/* Appends the low w bits of v (w 0..64; v must have no bits above w). */
static inline void eng__bw_put(eng_bw_t *bw, uint64_t v, unsigned w)
{
    bw->acc |= v << bw->nb; /* nb < 64 */
    if (bw->nb + w < 64) {
        bw->nb += w;
        return;
    }
    cn_buf_put_u64(bw->b, bw->acc);
    bw->acc = bw->nb ? v >> (64 - bw->nb) : 0;
    bw->nb = bw->nb + w - 64;
}

/* Writes the pending bits, padded with zeros to a whole byte. */
static inline void eng__bw_flush(eng_bw_t *bw)
{
    unsigned bytes = (bw->nb + 7) / 8;
    uint64_t a = bw->acc;
    memcpy(cn_buf_extend(bw->b, bytes), &a, bytes);
    bw->acc = 0;
    bw->nb = 0;
}

/* Loads 8 bytes at p+off, zero-filling whatever lies at or beyond len. */
static inline uint64_t eng__ld64_safe(const uint8_t *p, size_t len, size_t off)
{
    if (off + 8 <= len)
        return cn_ld64(p + off);
    uint64_t v = 0;
    if (off < len)
        memcpy(&v, p + off, len - off);
    return v;
}

typedef struct eng_br {
    const uint8_t *p;
    size_t len; /* bytes */
    size_t pos; /* bits consumed */
} eng_br_t;

static inline void eng__br_init(eng_br_t *br, const uint8_t *p, size_t len)
{
    br->p = p;
    br->len = len;
    br->pos = 0;
}

/* Reads w bits, w 0..56. */
static inline uint64_t eng__br_get(eng_br_t *br, unsigned w)
{
    uint64_t v = eng__ld64_safe(br->p, br->len, br->pos >> 3) >> (br->pos & 7);
    br->pos += w;
    return v & eng__mask(w);
}

/* Reads w bits, w 0..64. */
static inline uint64_t eng__br_get64(eng_br_t *br, unsigned w)
{
    if (w <= 56)
        return eng__br_get(br, w);
    uint64_t lo = eng__br_get(br, 32);
    return lo | (eng__br_get(br, w - 32) << 32);
}

/* True when no bit was read past the end of the stream. */
static inline bool eng__br_ok(const eng_br_t *br)
{
    return br->pos <= br->len * 8;
}

/* --------------------------------------------------------- bit packing */

/* Appends n values of w bits each (values must fit in w bits). */
void eng__bp_put(cn_buf_t *out, const uint64_t *v, size_t n, unsigned w);
/* Reads n values of w bits from p (len >= eng__bp_bytes(n, w)) and stores
 * base + value (wrapping) into out. */
void eng__bp_get(const uint8_t *p, size_t len, size_t n, unsigned w, uint64_t base, uint64_t *out);

/* Borrows the eng__bp_bytes(n, w) bytes of a packed array from rd. */
int eng__rd_packed(cn_rd_t *rd, size_t n, unsigned w, const uint8_t **p /* OUT */);

/* ----------------------------------------------------------------- rANS */

/* rANS over symbols 0..K-1 (K <= 256); see rans.c for the format. */
#define ENG_RANS_MAX_SYMS 256

/* Appends the table and the coded stream of syms[0..n) to out.  cnt[s] is
 * the number of occurrences of s in syms (cnt may be quantised, but every
 * symbol that occurs must have cnt > 0). */
void eng__rans_encode(const uint8_t *syms, size_t n, const uint32_t *cnt, unsigned k,
                      cn_buf_t *out);
/* Decodes n symbols from rd into syms (n bytes); *k (OUT) the alphabet size.
 * simd selects the AVX2 decoder (only when eng__simd() said yes); both
 * decoders give the same result on every input, valid or not. */
int eng__rans_decode(cn_rd_t *rd, size_t n, uint8_t *syms /* OUT [n] */, unsigned *k /* OUT */,
                     bool simd);
/* Fixed bytes an encoding adds besides the coded bits: table and states. */
size_t eng__rans_overhead(unsigned k);

/* True when this CPU runs the AVX2 decoders (x86-64 with AVX2 and FMA).  The public
 * decoders ask once per call; tests call the _simd variants with both
 * answers to check that the two paths agree bit for bit. */
bool eng__simd(void);

/* ------------------------------------------------------- int pipeline */

/* Decodes an int64 encoding whose id byte was already read. */
int eng__i64_decode_id(cn_rd_t *rd, uint8_t id, size_t n, int64_t *out /* OUT [n] */, bool simd);

/* Largest K^g of a radix encoding (int.c): codes of at most 12 bits. */
#define ENG_RADIX_MAX_CODES 4096

/* Appends the ENG_C_I_RADIX encoding of v (transform t 0..2, g digits per
 * code) whatever its size; false (nothing appended) when the transformed
 * values span more than 256 or K^g > ENG_RADIX_MAX_CODES.  The encoder
 * picks this codec on size by itself; tests use this to force it. */
bool eng__i64_encode_radix(const int64_t *v, size_t n, int t, unsigned g, cn_buf_t *out);

/* How a decimal mantissa m becomes its double (f64.c, ENG_C_F_DEC), with
 * p = 10^e (exact) and r = the double nearest 10^-e:
 *   DIV  x / p, the correctly rounded quotient;
 *   MUL  x * r, one multiplication;
 *   FIX  q = x * r corrected by the exact remainder, fma(fma(-q, p, x), r, q):
 *        three pipelined operations instead of a division.
 * (x = (double)m, exact.)  The encoder picks MUL or FIX only when the
 * expression gives every value's bits.  C's fma() and the FMA instructions
 * round once alike, so every decoder path gives the same bits. */
enum eng_ds_mode { ENG_DS_DIV, ENG_DS_MUL, ENG_DS_FIX };
typedef struct eng_dscale {
    int mode;
    double p, r;
} eng_dscale_t;

static inline double eng__dscale(int64_t m, const eng_dscale_t *d)
{
    double x = (double)m;
    if (d->mode == ENG_DS_MUL)
        return x * d->r;
    if (d->mode == ENG_DS_DIV)
        return x / d->p;
    double q = x * d->r;
    return fma(fma(-q, d->p, x), d->r, q);
}

/* Decodes an int64 encoding (id byte included) of n decimal mantissas m and
 * stores eng__dscale(m, ds) into out, without an int64 buffer for the
 * common shapes (rANS without escapes, or radix, over deltas). */
int eng__i64_decode_f64(cn_rd_t *rd, size_t n, double *out /* OUT [n] */, const eng_dscale_t *ds,
                        bool simd);

/* eng__f64_decode with the decoder path chosen by the caller. */
int eng__f64_decode_simd(cn_rd_t *rd, size_t n, double *out /* OUT [n] */, bool simd);

/* Copies n raw 64-bit little-endian words (RAW codecs) into out. */
int eng__rd_words(cn_rd_t *rd, size_t n, void *out /* OUT [n] */);

/* Reads an encoding's byte length (uvarint) and borrows those bytes. */
int eng__rd_blob(cn_rd_t *rd, const uint8_t **p /* OUT */, size_t *len /* OUT */);

#endif /* ENG_CODEC_INT_H */
