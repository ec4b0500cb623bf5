/* SPDX-License-Identifier: MIT */
/*
 * pq_int.h - private helpers of the Parquet writer (query/export/): the
 * Thrift compact protocol encoder (thrift.c), the RLE/bit-packed hybrid and
 * DELTA_BINARY_PACKED encoders (rle.c) and a Snappy block compressor
 * (snappy.c).  Everything appends to a caller's cn_buf_t; nothing here does
 * I/O.  Exposed to tests/query/test_parquet.c so the byte layouts can be
 * checked against hand-computed bytes.
 */
#ifndef QRY_PQ_INT_H
#define QRY_PQ_INT_H

#include "base/base.h"

/* ------------------------------------------------------ thrift compact */

/* Compact protocol type ids (the low nibble of a field header). */
enum qry__tc_type {
    QRY__TC_TRUE = 1,
    QRY__TC_FALSE = 2,
    QRY__TC_BYTE = 3,
    QRY__TC_I16 = 4,
    QRY__TC_I32 = 5,
    QRY__TC_I64 = 6,
    QRY__TC_DOUBLE = 7,
    QRY__TC_BINARY = 8,
    QRY__TC_LIST = 9,
    QRY__TC_SET = 10,
    QRY__TC_MAP = 11,
    QRY__TC_STRUCT = 12,
};

#define QRY__TC_DEPTH 16

/*
 * A struct writer.  Field headers carry the id as a delta from the previous
 * field of the same struct (1..15 in the high nibble, else a zigzag varint
 * i16 after the type byte), so each nesting level remembers its last id.
 * Structs inside lists start with last id 0 like any nested struct.
 */
typedef struct qry__tc {
    cn_buf_t *b;
    int depth;
    int16_t last[QRY__TC_DEPTH];
} qry__tc_t;

void qry__tc_init(qry__tc_t *t, cn_buf_t *b);
void qry__tc_field(qry__tc_t *t, int16_t id, int type);
void qry__tc_i32(qry__tc_t *t, int16_t id, int32_t v);
void qry__tc_i64(qry__tc_t *t, int16_t id, int64_t v);
void qry__tc_bool(qry__tc_t *t, int16_t id, bool v);
void qry__tc_bin(qry__tc_t *t, int16_t id, const void *p, size_t n);
void qry__tc_str(qry__tc_t *t, int16_t id, const char *s);
/* Opens a struct-typed field; close it with qry__tc_end(). */
void qry__tc_struct(qry__tc_t *t, int16_t id);
/* Writes the stop byte of the current struct and returns to its parent. */
void qry__tc_end(qry__tc_t *t);
/* A list field header: element type and count; the elements follow. */
void qry__tc_list(qry__tc_t *t, int16_t id, int elem_type, size_t n);
/* List elements (no field header). */
void qry__tc_elem_struct(qry__tc_t *t); /* close with qry__tc_end() */
void qry__tc_elem_i32(qry__tc_t *t, int32_t v);
void qry__tc_elem_bin(qry__tc_t *t, const void *p, size_t n);

/* ---------------------------------------------------------- level/ints */

/* Bits needed for values up to max (0 for max == 0). */
int qry__bit_width(uint64_t max);
/*
 * RLE/bit-packed hybrid of n values, each < 2^bw (bw <= 32), without any
 * length prefix or bit-width byte (the caller adds what the context needs).
 * Runs of >= 8 equal values become RLE runs; the rest bit-packed groups of
 * 8 (the last group zero-padded; readers stop at the value count).
 */
void qry__rle_u32(cn_buf_t *out, const uint32_t *v, size_t n, int bw);
/* The same for definition levels given as 0/1 bytes (bw 1). */
void qry__rle_levels(cn_buf_t *out, const uint8_t *lv, size_t n);
/* DELTA_BINARY_PACKED: blocks of 128 values, 4 miniblocks of 32. */
void qry__delta_i64(cn_buf_t *out, const int64_t *v, size_t n);

/* -------------------------------------------------------------- snappy */

/* Appends the Snappy (raw block format) compression of p[0..n). */
void qry__snappy(cn_buf_t *out, const void *p, size_t n);

#endif /* QRY_PQ_INT_H */
