/* SPDX-License-Identifier: MIT */
/*
 * segment.c - writer and reader of immutable columnar segment files.
 *
 * A segment holds, for one time partition, blocks of rows of many series.
 * A block is one series' rows over a time span: one timestamp column shared
 * by the series' fields, then one column per field with a presence bitmap.
 * Segments are written once (to NAME.tmp, fsync, rename) and never changed;
 * compaction writes a new one and retires the old.
 *
 * File format, version 3 (all integers little endian; "uv" = LEB128
 * unsigned varint, "sv" = zigzag varint; "packed" = an eng__pack unit:
 * u8 method (0 raw, 1 lz4, 2 zstd), uv raw length, bytes):
 *
 *   header (32 bytes)
 *   | off | size | meaning                                   |
 *   |   0 |    8 | magic "CAIRNSEG"                          |
 *   |   8 |    4 | format version (3; 1 and 2 read as well)  |
 *   |  12 |    4 | CRC-32C of bytes 0..11 and 16..31         |
 *   |  16 |    8 | segment id                                |
 *   |  24 |    8 | partition start, ns since the epoch       |
 *
 *   blocks, back to back from offset 32, each:
 *     uv rows, uv ncols,
 *     packed(timestamp column, eng__ts_encode),
 *     ncols x (uv field id, u8 type, uv unit length, packed(valid bitmap ++ values))
 *       where the bitmap is eng__valid_encode over the rows and the values
 *       are the present values only, in the type's codec
 *     u32 CRC-32C of the block bytes before it
 *
 *   index: packed (zstd) bytes of
 *     uv nblocks, then per block (ascending sid, then tmin):
 *       uv sid delta from the previous block's sid, sv tmin, uv tmax - tmin,
 *       uv rows, uv offset, uv length (including the CRC), uv ncols,
 *       u8 flags (bit 0: the columns carry stats; small blocks do not),
 *       ncols x column entries:
 *         uv fid, u8 type, then only with stats:
 *         uv count, then if count > 0: uv first_ts - tmin, uv last_ts - tmin,
 *         float:  f64 min, max, first, last, sum (8 bytes each)
 *         int/bool: sv min, max, first, last, sum, u8 sum_overflow
 *         string: nothing more
 *         and then uv offset of the column's packed unit from the block
 *         start, uv its length (the column directory)
 *     uv nreplaces, nreplaces x uv segment id (segments this one replaces)
 *
 *   footer (40 bytes, at the end)
 *   | off | size | meaning                                   |
 *   |   0 |    8 | index offset                              |
 *   |   8 |    8 | index length                              |
 *   |  16 |    8 | seq_max: every row is from a WAL record   |
 *   |     |      | with seq <= this (tombstone ordering)     |
 *   |  24 |    4 | CRC-32C of the index bytes                |
 *   |  28 |    4 | CRC-32C of footer bytes 0..27             |
 *   |  32 |    8 | magic "CSEGEND1"                          |
 *
 * Compatibility: readers accept versions SEG_VERSION_MIN..SEG_VERSION and
 * reject others with CN_EVERSION.  New codecs are new codec ids inside
 * columns, readable by newer readers only, so adding one bumps the version;
 * the layout above is the same in every version.
 *   1  the first format.
 *   2  adds the radix integer codec (ENG_C_I_RADIX, codec/int.c), which
 *      any column may use; version 1 files never contain it.
 *   3  adds the "fix" mode of decimal floats (flag 0x40 of ENG_C_F_DEC,
 *      codec/f64.c); earlier files never set it.
 *
 * NOTES
 * 1. Blocks in the index are sorted by (sid, tmin) and a series' blocks in
 *    one segment never overlap in time.
 * 2. Within a block ts is strictly ascending (rows merged before writing).
 * 3. eng__seg_open verifies every checksum; decode re-checks nothing, so a
 *    segment that opened is structurally trusted except for codec payloads,
 *    which decoders bound-check anyway.
 */
#include "segment.h"

#include "codec/codec.h"

#include <assert.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEG_MAGIC       "CAIRNSEG"
#define SEG_END_MAGIC   "CSEGEND1"
#define SEG_VERSION     3 /* written */
#define SEG_VERSION_MIN 1 /* oldest read */
#define SEG_HDR         32
#define SEG_FTR         40

struct eng__segw {
    char path[PATH_MAX];
    char tmp[PATH_MAX];
    int fd;
    uint64_t id;
    int64_t part_start;
    int compress, level;
    uint32_t stats_min;
    uint64_t off;
    uint64_t last_sid;
    uint32_t nblocks;
    cn_buf_t blk, col, enc, index, replaces;
    uint32_t nreplaces;
    /* per-column scratch of present values */
    uint8_t *pv;
    size_t pv_cap;
};

int eng__segw_open(const char *path, uint64_t seg_id, int64_t part_start, int compress, int level,
                   eng__segw_t **out)
{
    eng__segw_t *w = cn_calloc(1, sizeof *w);
    snprintf(w->path, sizeof w->path, "%s", path);
    snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path);
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        int rc = -errno;
        cn_free(w);
        return rc;
    }
    w->id = seg_id;
    w->part_start = part_start;
    w->compress = compress;
    w->level = level;
    w->stats_min = 16;
    uint8_t hdr[SEG_HDR];
    memcpy(hdr, SEG_MAGIC, 8);
    cn_st32(hdr + 8, SEG_VERSION);
    cn_st64(hdr + 16, seg_id);
    cn_st64(hdr + 24, (uint64_t)part_start);
    uint32_t crc = cn_crc32c(0, hdr, 12);
    crc = cn_crc32c(crc, hdr + 16, 16);
    cn_st32(hdr + 12, crc);
    int rc = cn_write_all(w->fd, hdr, SEG_HDR);
    if (rc < 0) {
        eng__segw_abort(w);
        return rc;
    }
    w->off = SEG_HDR;
    *out = w;
    return 0;
}

void eng__segw_stats_min(eng__segw_t *w, uint32_t n)
{
    w->stats_min = n;
}

void eng__segw_replaces(eng__segw_t *w, uint64_t seg_id)
{
    cn_buf_put_uvarint(&w->replaces, seg_id);
    w->nreplaces++;
}

uint32_t eng__segw_blocks(eng__segw_t *w)
{
    return w->nblocks;
}

static void put_f64(cn_buf_t *b, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    cn_buf_put_u64(b, u);
}

static void index_put_stats(cn_buf_t *ix, uint32_t fid, uint8_t type, const eng_stat_t *st,
                            int64_t tmin, bool with_stats)
{
    cn_buf_put_uvarint(ix, fid);
    cn_buf_put_u8(ix, type);
    if (!with_stats)
        return;
    cn_buf_put_uvarint(ix, st->count);
    if (st->count == 0)
        return;
    cn_buf_put_uvarint(ix, (uint64_t)(st->first_ts - tmin));
    cn_buf_put_uvarint(ix, (uint64_t)(st->last_ts - tmin));
    if (type == ENG_T_FLOAT) {
        put_f64(ix, st->min.f);
        put_f64(ix, st->max.f);
        put_f64(ix, st->first.f);
        put_f64(ix, st->last.f);
        put_f64(ix, st->sum_f);
    } else if (type == ENG_T_INT || type == ENG_T_BOOL) {
        cn_buf_put_svarint(ix, st->min.i);
        cn_buf_put_svarint(ix, st->max.i);
        cn_buf_put_svarint(ix, st->first.i);
        cn_buf_put_svarint(ix, st->last.i);
        cn_buf_put_svarint(ix, st->sum_i);
        cn_buf_put_u8(ix, st->sum_overflow);
    }
}

/* Encodes column c's present values of rows [from, from+n) into w->enc. */
static int encode_col(eng__segw_t *w, const eng__rows_t *r, uint32_t c, uint32_t from, uint32_t n)
{
    size_t sz = eng__type_size(r->types[c]);
    if (w->pv_cap < (size_t)n * sz) {
        w->pv_cap = (size_t)n * sz;
        w->pv = cn_realloc(w->pv, w->pv_cap);
    }
    const uint8_t *valid = r->valid[c] + from;
    const uint8_t *src = (const uint8_t *)r->vals[c] + (size_t)from * sz;
    size_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (valid[i])
            memcpy(w->pv + (k++) * sz, src + (size_t)i * sz, sz);
    cn_buf_reset(&w->enc);
    int rc = eng__valid_encode(valid, n, &w->enc);
    if (rc < 0)
        return rc;
    switch (r->types[c]) {
    case ENG_T_FLOAT:
        return eng__f64_encode((const double *)w->pv, k, &w->enc);
    case ENG_T_INT:
        return eng__i64_encode((const int64_t *)w->pv, k, &w->enc);
    case ENG_T_BOOL:
        return eng__bool_encode(w->pv, k, &w->enc);
    case ENG_T_STRING:
        return eng__str_encode((const eng_str_t *)w->pv, k, &w->enc);
    default:
        return CN_EINVAL;
    }
}

int eng__segw_add(eng__segw_t *w, uint64_t sid, const eng__rows_t *r, uint32_t from, uint32_t n)
{
    assert(n > 0);
    assert(sid >= w->last_sid);
    cn_buf_t *b = &w->blk;
    cn_buf_reset(b);
    /* Only columns with at least one value in the range are stored. */
    uint32_t ncols = 0;
    uint8_t present[1024];
    for (uint32_t c = 0; c < r->ncols && c < 1024; c++) {
        present[c] = memchr(r->valid[c] + from, 1, n) != NULL;
        ncols += present[c];
    }
    cn_buf_put_uvarint(b, n);
    cn_buf_put_uvarint(b, ncols);
    cn_buf_reset(&w->enc);
    int rc = eng__ts_encode(r->ts + from, n, &w->enc);
    if (rc < 0)
        return rc;
    if ((rc = eng__pack(w->enc.p, w->enc.len, w->compress, w->level, b)) < 0)
        return rc;
    cn_buf_t *ix = &w->index;
    int64_t tmin = r->ts[from], tmax = r->ts[from + n - 1];
    cn_buf_t stats;
    cn_buf_init(&stats);
    for (uint32_t c = 0; c < r->ncols && c < 1024; c++) {
        if (!present[c])
            continue;
        if ((rc = encode_col(w, r, c, from, n)) < 0)
            goto out;
        cn_buf_put_uvarint(b, r->fids[c]);
        cn_buf_put_u8(b, r->types[c]);
        cn_buf_reset(&w->col);
        if ((rc = eng__pack(w->enc.p, w->enc.len, w->compress, w->level, &w->col)) < 0)
            goto out;
        cn_buf_put_uvarint(b, w->col.len);
        size_t unit_off = b->len;
        cn_buf_put(b, w->col.p, w->col.len);
        eng_stat_t st;
        bool with_stats = n >= w->stats_min;
        if (with_stats)
            eng__rows_stats(r, c, from, n, &st);
        index_put_stats(&stats, r->fids[c], r->types[c], &st, tmin, with_stats);
        /* Where the column's packed unit sits in the block, so a reader
         * that wants one column goes straight to it. */
        cn_buf_put_uvarint(&stats, unit_off);
        cn_buf_put_uvarint(&stats, w->col.len);
    }
    cn_buf_put_u32(b, cn_crc32c(0, b->p, b->len));
    if ((rc = cn_write_all(w->fd, b->p, b->len)) < 0)
        goto out;
    cn_buf_put_uvarint(ix, sid - w->last_sid);
    cn_buf_put_svarint(ix, tmin);
    cn_buf_put_uvarint(ix, (uint64_t)(tmax - tmin));
    cn_buf_put_uvarint(ix, n);
    cn_buf_put_uvarint(ix, w->off);
    cn_buf_put_uvarint(ix, b->len);
    cn_buf_put_uvarint(ix, ncols);
    cn_buf_put_u8(ix, n >= w->stats_min ? 1 : 0);
    cn_buf_put(ix, stats.p, stats.len);
    w->off += b->len;
    w->last_sid = sid;
    w->nblocks++;
out:
    cn_buf_free(&stats);
    return rc;
}

static void segw_free(eng__segw_t *w)
{
    cn_buf_free(&w->blk);
    cn_buf_free(&w->col);
    cn_buf_free(&w->enc);
    cn_buf_free(&w->index);
    cn_buf_free(&w->replaces);
    cn_free(w->pv);
    cn_free(w);
}

void eng__segw_abort(eng__segw_t *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    unlink(w->tmp);
    segw_free(w);
}

int64_t eng__segw_finish(eng__segw_t *w, uint64_t seq_max)
{
    cn_buf_t raw, packed;
    cn_buf_init(&raw);
    cn_buf_init(&packed);
    cn_buf_put_uvarint(&raw, w->nblocks);
    cn_buf_put(&raw, w->index.p, w->index.len);
    cn_buf_put_uvarint(&raw, w->nreplaces);
    cn_buf_put(&raw, w->replaces.p, w->replaces.len);
    int rc = eng__pack(raw.p, raw.len, ENG_COMP_ZSTD, 9, &packed);
    uint8_t ftr[SEG_FTR];
    cn_st64(ftr, w->off);
    cn_st64(ftr + 8, packed.len);
    cn_st64(ftr + 16, seq_max);
    cn_st32(ftr + 24, cn_crc32c(0, packed.p, packed.len));
    cn_st32(ftr + 28, cn_crc32c(0, ftr, 28));
    memcpy(ftr + 32, SEG_END_MAGIC, 8);
    if (rc >= 0)
        rc = cn_write_all(w->fd, packed.p, packed.len);
    if (rc >= 0)
        rc = cn_write_all(w->fd, ftr, SEG_FTR);
    if (rc >= 0 && fdatasync(w->fd) < 0)
        rc = -errno;
    int64_t size = (int64_t)(w->off + packed.len + SEG_FTR);
    cn_buf_free(&raw);
    cn_buf_free(&packed);
    if (rc >= 0) {
        close(w->fd);
        w->fd = -1;
        if (rename(w->tmp, w->path) < 0)
            rc = -errno;
    }
    if (rc < 0) {
        eng__segw_abort(w);
        return rc;
    }
    segw_free(w);
    return size;
}

/* --------------------------------------------------------------- reader */

static double get_f64(cn_rd_t *r, int *rc)
{
    uint64_t u = 0;
    if (*rc == 0)
        *rc = cn_rd_u64(r, &u);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static int64_t get_sv(cn_rd_t *r, int *rc)
{
    int64_t v = 0;
    if (*rc == 0)
        *rc = cn_rd_svarint(r, &v);
    return v;
}

static uint64_t get_uv(cn_rd_t *r, int *rc)
{
    uint64_t v = 0;
    if (*rc == 0)
        *rc = cn_rd_uvarint(r, &v);
    return v;
}

static int read_stats(cn_rd_t *r, eng_stat_t *st, uint8_t type, int64_t tmin, int64_t tmax)
{
    int rc = 0;
    memset(st, 0, sizeof *st);
    st->count = (uint32_t)get_uv(r, &rc);
    st->tmin = tmin;
    st->tmax = tmax;
    if (rc < 0 || st->count == 0)
        return rc;
    st->first_ts = tmin + (int64_t)get_uv(r, &rc);
    st->last_ts = tmin + (int64_t)get_uv(r, &rc);
    if (type == ENG_T_FLOAT) {
        st->min.f = get_f64(r, &rc);
        st->max.f = get_f64(r, &rc);
        st->first.f = get_f64(r, &rc);
        st->last.f = get_f64(r, &rc);
        st->sum_f = get_f64(r, &rc);
    } else if (type != ENG_T_STRING) {
        st->min.i = get_sv(r, &rc);
        st->max.i = get_sv(r, &rc);
        st->first.i = get_sv(r, &rc);
        st->last.i = get_sv(r, &rc);
        st->sum_i = get_sv(r, &rc);
        uint8_t ov = 0;
        if (rc == 0)
            rc = cn_rd_u8(r, &ov);
        st->sum_overflow = ov != 0;
    }
    return rc;
}

static int read_colmeta(eng__seg_t *s, cn_rd_t *r, eng__colmeta_t *cm, const eng__blkmeta_t *b,
                        uint32_t *nstats, uint32_t *capstats)
{
    int rc = 0;
    uint8_t type = 0;
    cm->fid = (uint32_t)get_uv(r, &rc);
    if (rc == 0)
        rc = cn_rd_u8(r, &type);
    cm->type = type;
    cm->stat = UINT32_MAX;
    if (rc < 0 || type < ENG_T_FLOAT || type > ENG_T_STRING)
        return rc < 0 ? rc : CN_CORRUPT();
    if (!b->has_stats)
        return 0;
    if (*nstats == *capstats) {
        *capstats = *capstats ? *capstats * 2 : 64;
        s->stats = cn_realloc(s->stats, *capstats * sizeof *s->stats);
    }
    cm->stat = (*nstats)++;
    return read_stats(r, &s->stats[cm->stat], type, b->tmin, b->tmax);
}

static int read_coldir(cn_rd_t *r, eng__colmeta_t *cm, const eng__blkmeta_t *b)
{
    int rc = 0;
    uint64_t off = get_uv(r, &rc), len = get_uv(r, &rc);
    if (rc == 0 && (off > b->len - 4 || len > b->len - 4 - off))
        rc = CN_CORRUPT();
    cm->off = (uint32_t)off;
    cm->len = (uint32_t)len;
    return rc;
}

static int parse_index(eng__seg_t *s, cn_rd_t *r)
{
    int rc = 0;
    uint64_t nb = get_uv(r, &rc);
    if (rc < 0 || nb > cn_rd_left(r))
        return rc < 0 ? rc : CN_CORRUPT();
    s->nblocks = (uint32_t)nb;
    s->blocks = cn_calloc(nb ? nb : 1, sizeof *s->blocks);
    size_t capcols = nb * 4 + 16, ncols = 0;
    s->cols = cn_malloc(capcols * sizeof *s->cols);
    uint64_t sid = 0;
    uint32_t nstats = 0, capstats = 0;
    size_t *colstart = cn_malloc((nb ? nb : 1) * sizeof(size_t));
    for (uint32_t i = 0; i < nb && rc == 0; i++) {
        eng__blkmeta_t *b = &s->blocks[i];
        sid += get_uv(r, &rc);
        b->sid = sid;
        b->tmin = get_sv(r, &rc);
        b->tmax = b->tmin + (int64_t)get_uv(r, &rc);
        b->rows = (uint32_t)get_uv(r, &rc);
        b->off = get_uv(r, &rc);
        b->len = get_uv(r, &rc);
        b->ncols = (uint32_t)get_uv(r, &rc);
        uint8_t flags = 0;
        if (rc == 0)
            rc = cn_rd_u8(r, &flags);
        if (rc < 0)
            break;
        b->has_stats = flags & 1;
        if (b->off < SEG_HDR || b->len < 4 || b->off + b->len > s->size - SEG_FTR ||
            b->ncols > 65536 || b->rows == 0 || b->tmax < b->tmin ||
            (i > 0 && (b->sid < s->blocks[i - 1].sid)))
            rc = CN_CORRUPT();
        colstart[i] = ncols;
        for (uint32_t c = 0; c < b->ncols && rc == 0; c++) {
            if (ncols == capcols) {
                capcols *= 2;
                s->cols = cn_realloc(s->cols, capcols * sizeof *s->cols);
            }
            rc = read_colmeta(s, r, &s->cols[ncols], b, &nstats, &capstats);
            if (rc == 0)
                rc = read_coldir(r, &s->cols[ncols], b);
            ncols++;
        }
    }
    for (uint32_t i = 0; i < s->nblocks && rc == 0; i++)
        s->blocks[i].cols = s->cols + colstart[i];
    cn_free(colstart);
    uint64_t nrep = get_uv(r, &rc);
    if (rc == 0 && nrep > cn_rd_left(r))
        rc = CN_CORRUPT();
    if (rc == 0) {
        s->nreplaces = (uint32_t)nrep;
        s->replaces = cn_malloc((nrep ? nrep : 1) * sizeof(uint64_t));
        for (uint64_t i = 0; i < nrep; i++)
            s->replaces[i] = get_uv(r, &rc);
    }
    return rc;
}

static int verify_map(eng__seg_t *s)
{
    const uint8_t *m = s->map;
    if (s->size < SEG_HDR + SEG_FTR || memcmp(m, SEG_MAGIC, 8) != 0)
        return CN_CORRUPT();
    uint32_t crc = cn_crc32c(0, m, 12);
    crc = cn_crc32c(crc, m + 16, 16);
    if (crc != cn_ld32(m + 12))
        return CN_CORRUPT();
    if (cn_ld32(m + 8) < SEG_VERSION_MIN || cn_ld32(m + 8) > SEG_VERSION)
        return CN_EVERSION;
    s->id = cn_ld64(m + 16);
    s->part_start = (int64_t)cn_ld64(m + 24);
    const uint8_t *f = m + s->size - SEG_FTR;
    if (memcmp(f + 32, SEG_END_MAGIC, 8) != 0 || cn_crc32c(0, f, 28) != cn_ld32(f + 28))
        return CN_CORRUPT();
    uint64_t ioff = cn_ld64(f), ilen = cn_ld64(f + 8);
    s->seq_max = cn_ld64(f + 16);
    if (ioff < SEG_HDR || ilen > s->size || ioff + ilen != s->size - SEG_FTR)
        return CN_CORRUPT();
    if (cn_crc32c(0, m + ioff, ilen) != cn_ld32(f + 24))
        return CN_CORRUPT();
    cn_rd_t r = cn_rd_make(m + ioff, ilen), raw;
    cn_buf_t scratch;
    cn_buf_init(&scratch);
    int rc = eng__unpack(&r, &scratch, &raw);
    if (rc == 0)
        rc = parse_index(s, &raw);
    cn_buf_free(&scratch);
    if (rc < 0)
        return rc == CN_ETRUNC ? CN_CORRUPT() : rc;
    for (uint32_t i = 0; i < s->nblocks; i++) {
        const eng__blkmeta_t *b = &s->blocks[i];
        if (cn_crc32c(0, m + b->off, b->len - 4) != cn_ld32(m + b->off + b->len - 4))
            return CN_CORRUPT();
    }
    return 0;
}

static void seg_free(eng__seg_t *s)
{
    if (s->map)
        munmap((void *)s->map, s->size);
    if (s->unlink_on_free)
        unlink(s->path);
    cn_free(s->path);
    cn_free(s->blocks);
    cn_free(s->cols);
    cn_free(s->stats);
    cn_free(s->replaces);
    cn_free(s);
}

int eng__seg_open(const char *path, eng__seg_t **out)
{
    uint64_t fsize;
    int fd = cn_open_ro(path, &fsize);
    if (fd < 0)
        return fd;
    eng__seg_t *s = cn_calloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    s->path = cn_strdup(path);
    s->size = fsize;
    int rc = 0;
    if (s->size < SEG_HDR + SEG_FTR) {
        rc = CN_CORRUPT();
    } else {
        void *m = mmap(NULL, s->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED)
            rc = -errno;
        else
            s->map = m;
    }
    close(fd);
    if (rc == 0)
        rc = verify_map(s);
    /* Verification read every page; hand them back so resident memory
     * counts only what queries touch (they stay in the page cache). */
    if (rc == 0)
        madvise((void *)s->map, s->size, MADV_DONTNEED);
    if (rc < 0) {
        seg_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void eng__seg_ref(eng__seg_t *s)
{
    atomic_fetch_add(&s->refs, 1);
}

void eng__seg_unref(eng__seg_t *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        seg_free(s);
}

uint32_t eng__seg_find(const eng__seg_t *s, uint64_t sid, uint32_t *first)
{
    uint32_t lo = 0, hi = s->nblocks;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->blocks[mid].sid < sid)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint32_t e = lo;
    while (e < s->nblocks && s->blocks[e].sid == sid)
        e++;
    *first = lo;
    return e - lo;
}

void eng__scratch_reset(eng__scratch_t *sc)
{
    for (uint32_t i = 0; i < sc->nstrings; i++)
        cn_buf_free(&sc->strings[i]);
    sc->nstrings = 0;
}

/* A fresh arena for one string column: the decoder may grow (move) it while
 * filling, but it is never touched again until reset, so the strings of
 * earlier columns and blocks decoded through the same scratch stay put. */
static cn_buf_t *string_arena(eng__scratch_t *sc)
{
    if (sc->nstrings == sc->capstrings) {
        sc->capstrings = sc->capstrings ? sc->capstrings * 2 : 8;
        sc->strings = cn_realloc(sc->strings, sc->capstrings * sizeof(cn_buf_t));
    }
    cn_buf_t *b = &sc->strings[sc->nstrings++];
    cn_buf_init(b);
    return b;
}

void eng__scratch_free(eng__scratch_t *sc)
{
    cn_buf_free(&sc->unpack);
    for (uint32_t i = 0; i < sc->nstrings; i++)
        cn_buf_free(&sc->strings[i]);
    cn_free(sc->strings);
    cn_free(sc->valid);
    memset(sc, 0, sizeof *sc);
}

/* Scatters k present values (packed at the front of dst) to their rows. */
static void scatter(uint8_t *dst, size_t sz, const uint8_t *valid, uint32_t n, uint32_t k)
{
    if (k == n)
        return;
    uint32_t j = k;
    for (uint32_t i = n; i-- > 0;) {
        if (valid[i]) {
            j--;
            if (j != i)
                memcpy(dst + (size_t)i * sz, dst + (size_t)j * sz, sz);
        }
    }
}

static int decode_col(const uint8_t type, cn_rd_t *raw, uint32_t n, uint8_t *valid, void *dst,
                      cn_buf_t *strings)
{
    int rc = eng__valid_decode(raw, n, valid);
    if (rc < 0)
        return rc;
    uint32_t k = (uint32_t)rc;
    switch (type) {
    case ENG_T_FLOAT:
        rc = eng__f64_decode(raw, k, dst);
        break;
    case ENG_T_INT:
        rc = eng__i64_decode(raw, k, dst);
        break;
    case ENG_T_BOOL:
        rc = eng__bool_decode(raw, k, dst);
        break;
    case ENG_T_STRING:
        rc = eng__str_decode(raw, k, dst, strings);
        break;
    default:
        return CN_CORRUPT();
    }
    if (rc < 0)
        return rc;
    scatter(dst, eng__type_size(type), valid, n, k);
    return 0;
}

int eng__seg_check_layout(const eng__seg_t *s, const eng__blkmeta_t *b)
{
    cn_rd_t r = cn_rd_make(s->map + b->off, b->len - 4);
    uint64_t rows, ncols, len;
    uint8_t method;
    if (cn_rd_uvarint(&r, &rows) < 0 || cn_rd_uvarint(&r, &ncols) < 0 || rows != b->rows ||
        ncols != b->ncols)
        return CN_CORRUPT();
    /* The timestamp unit: method, raw length, [compressed length], bytes. */
    if (cn_rd_u8(&r, &method) < 0 || cn_rd_uvarint(&r, &len) < 0)
        return CN_CORRUPT();
    if (method != 0 && cn_rd_uvarint(&r, &len) < 0)
        return CN_CORRUPT();
    if (cn_rd_skip(&r, len) < 0)
        return CN_CORRUPT();
    for (uint32_t c = 0; c < b->ncols; c++) {
        uint64_t fid;
        uint8_t type;
        if (cn_rd_uvarint(&r, &fid) < 0 || cn_rd_u8(&r, &type) < 0 || cn_rd_uvarint(&r, &len) < 0)
            return CN_CORRUPT();
        const eng__colmeta_t *cm = &b->cols[c];
        if (fid != cm->fid || type != cm->type || len != cm->len ||
            (size_t)(r.p - (s->map + b->off)) != cm->off || cn_rd_skip(&r, len) < 0)
            return CN_CORRUPT();
    }
    return cn_rd_left(&r) == 0 ? 0 : CN_CORRUPT();
}

int eng__seg_decode(const eng__seg_t *s, const eng__blkmeta_t *b, eng__rows_t *out,
                    eng__scratch_t *sc, unsigned flags)
{
    cn_rd_t r = cn_rd_make(s->map + b->off, b->len - 4), raw;
    uint64_t rows, ncols;
    int rc;
    if ((rc = cn_rd_uvarint(&r, &rows)) < 0 || (rc = cn_rd_uvarint(&r, &ncols)) < 0)
        return CN_CORRUPT();
    if (rows != b->rows || ncols != b->ncols)
        return CN_CORRUPT();
    uint32_t n = (uint32_t)rows, base = out->n;
    eng__rows_reserve(out, n);
    if (!(flags & ENG__DEC_NO_TS) && ((rc = eng__unpack(&r, &sc->unpack, &raw)) < 0 ||
                                      (rc = eng__ts_decode(&raw, n, out->ts + base)) < 0))
        return rc == CN_ETRUNC ? CN_CORRUPT() : rc;
    for (uint32_t i = 0; (flags & ENG__DEC_SEQ) && i < n; i++)
        out->seq[base + i] = s->seq_max;
    /* Each requested column comes straight from the column directory;
     * columns the block lacks are all null. */
    for (uint32_t oc = 0; oc < out->ncols && rc == 0; oc++) {
        const eng__colmeta_t *cm = NULL;
        for (uint32_t c = 0; c < b->ncols && !cm; c++)
            if (b->cols[c].fid == out->fids[oc] && b->cols[c].type == out->types[oc])
                cm = &b->cols[c];
        if (!cm) {
            memset(out->valid[oc] + base, 0, n);
            continue;
        }
        cn_rd_t unit = cn_rd_make(s->map + b->off + cm->off, cm->len);
        size_t sz = eng__type_size(cm->type);
        if ((rc = eng__unpack(&unit, &sc->unpack, &raw)) == 0)
            rc = decode_col(cm->type, &raw, n, out->valid[oc] + base,
                            (uint8_t *)out->vals[oc] + (size_t)base * sz,
                            cm->type == ENG_T_STRING ? string_arena(sc) : NULL);
    }
    if (rc < 0)
        return rc == CN_ETRUNC ? CN_CORRUPT() : rc;
    out->n += n;
    return 0;
}
