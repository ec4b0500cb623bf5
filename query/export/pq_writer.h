/* SPDX-License-Identifier: MIT */
/*
 * pq_writer.h - the writer's state, shared by parquet.c (buffering, pages,
 * file I/O) and meta.c (statistics and the Thrift footer).  Private to
 * query/export/.
 */
#ifndef QRY_PQ_WRITER_H
#define QRY_PQ_WRITER_H

#include "parquet.h"
#include "pq_int.h"

/* Parquet enums (parquet.thrift). */
enum { PQ_BOOLEAN = 0, PQ_INT64 = 2, PQ_DOUBLE = 5, PQ_BYTE_ARRAY = 6 };
enum {
    PQ_ENC_PLAIN = 0,
    PQ_ENC_RLE = 3,
    PQ_ENC_DELTA_BINARY_PACKED = 5,
    PQ_ENC_RLE_DICTIONARY = 8,
    PQ_ENC_BYTE_STREAM_SPLIT = 9,
};

/* One column's values buffered for the current row group. */
typedef struct qry__pq_col {
    char *name;
    int type; /* enum qry_pq_type */
    bool optional;
    bool is_time;
    cn_buf_t valid; /* one 0/1 byte per row (optional columns only) */
    cn_buf_t vals;  /* non-null values: int64/double/uint8, or string bytes */
    cn_buf_t offs;  /* strings: uint64 start offset of each value in vals */
    uint32_t nvals; /* non-null values buffered */
    /* statistics of the buffered row group */
    uint64_t nulls, nans;
    bool has_minmax;
    int64_t imin, imax;
    double dmin, dmax;
    uint32_t smin, smax; /* value index of the string min/max */
    uint8_t bmin, bmax;
} qry__pq_col_t;

/* A row group already written: its serialized ColumnChunk structs. */
typedef struct qry__pq_rg {
    cn_buf_t chunks;
    int64_t rows, offset, bytes, cbytes;
} qry__pq_rg_t;

struct qry_pq_writer {
    char *path, *tmp;
    int fd;
    bool use_sink; /* bytes go to sink, path and tmp are NULL */
    qry_sink_t sink;
    bool failed;
    bool renamed; /* PATH.tmp became PATH */
    qry_pq_opts_t o;
    qry_pq_kv_t *kv; /* owned copies */
    size_t ncols;    /* including time at [0] */
    qry__pq_col_t *cols;
    uint32_t rg_rows;
    size_t rg_bytes;
    qry__pq_rg_t *rgs;
    size_t nrgs, caprgs;
    uint64_t rows;
    int64_t tmin, tmax;
    uint64_t off; /* file offset of the next byte */
    cn_buf_t out; /* pending file bytes */
    cn_buf_t body, comp, hdr, trial, dict;
    uint32_t *idx;  /* dictionary index of each value of the chunk */
    uint32_t ndict; /* dictionary entries of the chunk being written */
    void *zctx;     /* ZSTD_CCtx */
};

static inline int qry__pq_physical(int type)
{
    return type == QRY_PQ_DOUBLE   ? PQ_DOUBLE
           : type == QRY_PQ_BOOL   ? PQ_BOOLEAN
           : type == QRY_PQ_STRING ? PQ_BYTE_ARRAY
                                   : PQ_INT64;
}

/* meta.c */
/* Serializes the column's Statistics struct as field 12 of ColumnMetaData. */
void qry__pq_stats(qry__tc_t *t, const qry__pq_col_t *c);
/* Resets the column's statistics for the next row group. */
void qry__pq_stats_reset(qry__pq_col_t *c);
/* Borrows string value i of a STRING column (valid until vals grows). */
void qry__pq_str(const qry__pq_col_t *c, uint32_t i, const uint8_t **p /* OUT */,
                 size_t *n /* OUT */);
/* Appends the whole footer (FileMetaData, length, magic) to w->out. */
void qry__pq_footer(qry_pq_writer_t *w);

#endif /* QRY_PQ_WRITER_H */
