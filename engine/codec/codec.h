/* SPDX-License-Identifier: MIT */
/*
 * codec.h - column codecs of the storage engine (internal to engine/).
 *
 * Every encoder takes only the present (non-null) values of one column of
 * one block and APPENDS a self-describing encoding to `out`: the first byte
 * is the codec id, the rest is that codec's format (documented in the .c
 * file that implements it).  Encoders try several candidate codecs on the
 * data and keep the smallest.  Decoders are told the value count n (the
 * block header stores it) and read exactly one encoding from the cursor,
 * advancing it; they return 0, CN_ETRUNC or CN_ECORRUPT and never read
 * outside the cursor or write more than n values.
 *
 * All codecs are lossless bit for bit: NaN payloads, +-Inf, -0.0,
 * subnormals, INT64_MIN/MAX, empty and long strings.
 *
 * Thread-safety: all functions are reentrant; no shared state.
 */
#ifndef ENG_CODEC_H
#define ENG_CODEC_H

#include "../engine.h"

/* Timestamps (int64 ns, usually ascending and regular). */
int eng__ts_encode(const int64_t *v, size_t n, cn_buf_t *out);
int eng__ts_decode(cn_rd_t *rd, size_t n, int64_t *out /* OUT [n] */);

/* float64 columns. */
int eng__f64_encode(const double *v, size_t n, cn_buf_t *out);
int eng__f64_decode(cn_rd_t *rd, size_t n, double *out /* OUT [n] */);

/* int64 columns. */
int eng__i64_encode(const int64_t *v, size_t n, cn_buf_t *out);
int eng__i64_decode(cn_rd_t *rd, size_t n, int64_t *out /* OUT [n] */);

/* bool columns, one byte per value holding 0 or 1. */
int eng__bool_encode(const uint8_t *v, size_t n, cn_buf_t *out);
int eng__bool_decode(cn_rd_t *rd, size_t n, uint8_t *out /* OUT [n] */);

/* string columns.  Decoded strings point into `arena`, which the decoder
 * grows once before filling; they stay valid until the arena is reset or
 * freed by the caller. */
int eng__str_encode(const eng_str_t *v, size_t n, cn_buf_t *out);
int eng__str_decode(cn_rd_t *rd, size_t n, eng_str_t *out /* OUT [n] */, cn_buf_t *arena);

/* Presence bitmaps: v[i] is 0 or 1 for each of the block's n rows.
 * Encoded compactly (all-present costs one byte).  The decoder returns the
 * number of present values (>= 0) instead of 0 on success; n must be below
 * 2^31. */
int eng__valid_encode(const uint8_t *v, size_t n, cn_buf_t *out);
int eng__valid_decode(cn_rd_t *rd, size_t n, uint8_t *out /* OUT [n] */);

/*
 * Optional general-purpose compression over an already encoded column:
 * eng__pack appends to `out` a one-byte method (0 raw, 1 lz4, 2 zstd), the
 * raw length as a uvarint, then the bytes; it tries the method `compress`
 * (ENG_COMP_*) and keeps raw when that is not smaller.  eng__unpack reads
 * one packed unit and returns a cursor over its raw bytes, decompressing
 * into `scratch` when needed (the cursor borrows scratch or the input).
 * Raw lengths above 1 GiB are rejected as corrupt.
 */
int eng__pack(const uint8_t *p, size_t n, int compress, int level, cn_buf_t *out);
int eng__unpack(cn_rd_t *rd, cn_buf_t *scratch, cn_rd_t *raw /* OUT */);

#endif /* ENG_CODEC_H */
