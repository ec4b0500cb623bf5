/* SPDX-License-Identifier: MIT */
/*
 * thrift.c - the Thrift compact protocol, write side only, as much of it as
 * Parquet's footer and page headers need (parquet.thrift).
 *
 * Wire format (Thrift compact protocol specification):
 *   field header  1 byte (delta << 4) | type when 1 <= delta <= 15, where
 *                 delta is the id minus the previous id in the same struct;
 *                 else 1 byte type then the id as a zigzag varint (i16)
 *   bool field    the value lives in the header type: 1 true, 2 false
 *   i16/i32/i64   zigzag varint (enums are i32)
 *   binary/string varint length, then the bytes
 *   list          1 byte (n << 4) | elem type when n < 15, else
 *                 0xF0 | elem type then varint n; elements follow bare
 *   struct        its fields, then a stop byte 0x00
 *
 * NOTES
 *  1. Nesting depth is bounded by QRY__TC_DEPTH; Parquet metadata nests at
 *     most 6 deep (FileMetaData > RowGroup > ColumnChunk > ColumnMetaData >
 *     Statistics), asserted on every push.
 */
#include "pq_int.h"

#include <assert.h>

void qry__tc_init(qry__tc_t *t, cn_buf_t *b)
{
    t->b = b;
    t->depth = 0;
    t->last[0] = 0;
}

void qry__tc_field(qry__tc_t *t, int16_t id, int type)
{
    int delta = id - t->last[t->depth];
    if (delta > 0 && delta <= 15) {
        cn_buf_put_u8(t->b, (uint8_t)((delta << 4) | type));
    } else {
        cn_buf_put_u8(t->b, (uint8_t)type);
        cn_buf_put_svarint(t->b, id);
    }
    t->last[t->depth] = id;
}

void qry__tc_i32(qry__tc_t *t, int16_t id, int32_t v)
{
    qry__tc_field(t, id, QRY__TC_I32);
    cn_buf_put_svarint(t->b, v);
}

void qry__tc_i64(qry__tc_t *t, int16_t id, int64_t v)
{
    qry__tc_field(t, id, QRY__TC_I64);
    cn_buf_put_svarint(t->b, v);
}

void qry__tc_bool(qry__tc_t *t, int16_t id, bool v)
{
    qry__tc_field(t, id, v ? QRY__TC_TRUE : QRY__TC_FALSE);
}

void qry__tc_bin(qry__tc_t *t, int16_t id, const void *p, size_t n)
{
    qry__tc_field(t, id, QRY__TC_BINARY);
    qry__tc_elem_bin(t, p, n);
}

void qry__tc_str(qry__tc_t *t, int16_t id, const char *s)
{
    qry__tc_bin(t, id, s, strlen(s));
}

static void push(qry__tc_t *t)
{
    assert(t->depth + 1 < QRY__TC_DEPTH);
    t->last[++t->depth] = 0;
}

void qry__tc_struct(qry__tc_t *t, int16_t id)
{
    qry__tc_field(t, id, QRY__TC_STRUCT);
    push(t);
}

void qry__tc_end(qry__tc_t *t)
{
    cn_buf_put_u8(t->b, 0);
    if (t->depth > 0)
        t->depth--;
}

void qry__tc_list(qry__tc_t *t, int16_t id, int elem_type, size_t n)
{
    qry__tc_field(t, id, QRY__TC_LIST);
    if (n < 15) {
        cn_buf_put_u8(t->b, (uint8_t)((n << 4) | (size_t)elem_type));
    } else {
        cn_buf_put_u8(t->b, (uint8_t)(0xF0 | elem_type));
        cn_buf_put_uvarint(t->b, n);
    }
}

void qry__tc_elem_struct(qry__tc_t *t)
{
    push(t);
}

void qry__tc_elem_i32(qry__tc_t *t, int32_t v)
{
    cn_buf_put_svarint(t->b, v);
}

void qry__tc_elem_bin(qry__tc_t *t, const void *p, size_t n)
{
    cn_buf_put_uvarint(t->b, n);
    cn_buf_put(t->b, p, n);
}
