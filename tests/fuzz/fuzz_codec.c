/* SPDX-License-Identifier: MIT */
/*
 * fuzz_codec.c - libFuzzer target for the column codecs (engine/codec/).
 *
 * Input layout: byte 0 selects the mode (low 3 bits) and the high bits of n,
 * byte 1 the low bits of n, the rest is the payload.
 *   modes 0-5  decode the payload as a ts / i64 / f64 / bool / valid / str
 *              encoding of n values into buffers of exactly n elements, so
 *              ASan sees any write past them; any result code is fine, a
 *              crash or an unexpected code is not.
 *   mode 6     eng__unpack the payload.
 *   mode 7     round trip: the payload bytes become values of every type,
 *              get encoded, decoded and compared bit for bit (abort on any
 *              difference), then packed with lz4 and zstd and unpacked.
 */
#include "engine/codec/codec.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void check_rc(int rc)
{
    check(rc == 0 || rc == CN_ETRUNC || rc == CN_ECORRUPT);
}

static void decode_one(int mode, const uint8_t *p, size_t len, size_t n)
{
    cn_rd_t rd = cn_rd_make(p, len);
    void *out = cn_malloc(n * (mode >= 3 && mode <= 4 ? 1 : mode == 5 ? sizeof(eng_str_t) : 8) + 1);
    cn_buf_t arena, scratch;
    cn_buf_init(&arena);
    cn_buf_init(&scratch);
    cn_rd_t raw;
    switch (mode) {
    case 0:
        check_rc(eng__ts_decode(&rd, n, out));
        break;
    case 1:
        check_rc(eng__i64_decode(&rd, n, out));
        break;
    case 2:
        check_rc(eng__f64_decode(&rd, n, out));
        break;
    case 3:
        check_rc(eng__bool_decode(&rd, n, out));
        break;
    case 4:
        check_rc(CN_MIN(eng__valid_decode(&rd, n, out), 0));
        break;
    case 5:
        check_rc(eng__str_decode(&rd, n, out, &arena));
        break;
    default:
        check_rc(eng__unpack(&rd, &scratch, &raw));
        break;
    }
    check(rd.p >= p && rd.p <= p + len);
    cn_buf_free(&scratch);
    cn_buf_free(&arena);
    cn_free(out);
}

static void rt_words(const uint8_t *p, size_t len)
{
    size_t n = len / 8;
    int64_t *v = cn_malloc(n * 8 + 8), *back = cn_malloc(n * 8 + 8);
    memcpy(v, p, n * 8);
    cn_buf_t b;
    cn_buf_init(&b);
    for (int kind = 0; kind < 3; kind++) {
        cn_buf_reset(&b);
        if (kind == 0)
            eng__i64_encode(v, n, &b);
        else if (kind == 1)
            eng__ts_encode(v, n, &b);
        else
            eng__f64_encode((const double *)v, n, &b);
        cn_rd_t rd = cn_rd_make(b.p, b.len);
        int rc = kind == 0   ? eng__i64_decode(&rd, n, back)
                 : kind == 1 ? eng__ts_decode(&rd, n, back)
                             : eng__f64_decode(&rd, n, (double *)back);
        check(rc == 0 && cn_rd_left(&rd) == 0 && memcmp(v, back, n * 8) == 0);
    }
    cn_buf_free(&b);
    cn_free(back);
    cn_free(v);
}

static void rt_bytes(const uint8_t *p, size_t len)
{
    uint8_t *bits = cn_malloc(len + 1), *back = cn_malloc(len + 1);
    eng_str_t *s = cn_malloc((len + 1) * sizeof *s), *sb = cn_malloc((len + 1) * sizeof *sb);
    size_t ns = 0;
    for (size_t i = 0, start = 0; i <= len; i++) {
        if (i < len)
            bits[i] = p[i] & 1;
        if (i == len || p[i] == ',') {
            s[ns++] = (eng_str_t){(const char *)p + start, (uint32_t)(i - start)};
            start = i + 1;
        }
    }
    cn_buf_t b, arena;
    cn_buf_init(&b);
    cn_buf_init(&arena);
    eng__bool_encode(bits, len, &b);
    cn_rd_t rd = cn_rd_make(b.p, b.len);
    check(eng__bool_decode(&rd, len, back) == 0 && memcmp(bits, back, len) == 0);
    cn_buf_reset(&b);
    eng__str_encode(s, ns, &b);
    rd = cn_rd_make(b.p, b.len);
    check(eng__str_decode(&rd, ns, sb, &arena) == 0 && cn_rd_left(&rd) == 0);
    for (size_t i = 0; i < ns; i++)
        check(sb[i].len == s[i].len && memcmp(sb[i].p, s[i].p, s[i].len) == 0);
    for (int m = ENG_COMP_NONE; m <= ENG_COMP_ZSTD; m++) {
        cn_buf_reset(&b);
        check(eng__pack(p, len, m, 1, &b) == 0);
        cn_rd_t raw;
        rd = cn_rd_make(b.p, b.len);
        check(eng__unpack(&rd, &arena, &raw) == 0 && cn_rd_left(&raw) == len);
        check(len == 0 || memcmp(raw.p, p, len) == 0);
    }
    cn_buf_free(&arena);
    cn_buf_free(&b);
    cn_free(sb);
    cn_free(s);
    cn_free(back);
    cn_free(bits);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int mode = data[0] & 7;
    size_t n = (size_t)(data[0] >> 3) << 8 | data[1]; /* 0..8191 */
    if (mode == 7) {
        rt_words(data + 2, size - 2);
        rt_bytes(data + 2, size - 2);
    } else {
        decode_one(mode, data + 2, size - 2, n);
    }
    return 0;
}
