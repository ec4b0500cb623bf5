/* SPDX-License-Identifier: MIT */
/*
 * test_buf.c - growable buffers (engine/base/buf.c, base.h): appends that
 * fit (the inline path) and appends that grow the buffer give the same
 * bytes, and decimals are exact at every power-of-ten boundary.
 */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include "base/base.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* cn_dec_len and cn_buf_put_dec at 10^k - 1, 10^k and 10^k + 1 for every
 * k, and at the ends of the ranges, against snprintf. */
static void test_dec(void **state)
{
    (void)state;
    assert_int_equal(cn_dec_len(0), 1);
    assert_int_equal(cn_dec_len(UINT64_MAX), 20);
    uint64_t p = 1;
    for (int k = 0; k < 20; k++) {
        uint64_t vs[3] = {p - 1, p, p + 1};
        for (int i = 0; i < 3; i++) {
            char want[32];
            int n = snprintf(want, sizeof want, "%" PRIu64, vs[i]);
            assert_int_equal(cn_dec_len(vs[i]), n);
        }
        assert_int_equal(cn_dec_len(p), k + 1);
        if (p > 1)
            assert_int_equal(cn_dec_len(p - 1), k);
        if (k < 19)
            p *= 10;
    }
    const int64_t iv[] = {0, 7, -7, 10, -10, 1767225600000, -1767225600000, INT64_MAX, INT64_MIN};
    cn_buf_t b;
    cn_buf_init(&b);
    for (size_t i = 0; i < sizeof iv / sizeof iv[0]; i++) {
        char want[32];
        int n = snprintf(want, sizeof want, "%" PRId64, iv[i]);
        cn_buf_reset(&b);
        cn_buf_put_dec(&b, iv[i]);
        assert_int_equal(b.len, n);
        assert_memory_equal(b.p, want, (size_t)n);
    }
    cn_buf_free(&b);
}

static void check_digits(uint64_t v, int nd)
{
    char want[32], got[32];
    snprintf(want, sizeof want, "%0*" PRIu64, nd, v);
    memset(got, 'x', sizeof got);
    cn_dec_digits(v, nd, got);
    assert_memory_equal(got, want, (size_t)nd);
    assert_int_equal(got[nd], 'x'); /* nothing written past nd */
}

/* cn_dec_digits: every value below 2 x 10^6, a stride through 10^8 and
 * beyond, each side of every power of ten, with leading zeros. */
static void test_digits(void **state)
{
    (void)state;
    for (uint64_t v = 0; v < 2000000; v++)
        check_digits(v, 8);
    for (uint64_t v = 0; v < 100000000; v += 9973)
        check_digits(v, 8);
    for (uint64_t v = 99999999 - 100000; v < 100000000; v++)
        check_digits(v, 8);
    uint64_t p = 1;
    for (int k = 1; k <= 20; k++) {
        if (k < 20)
            p = k == 1 ? 10 : p * 10; /* 10^k */
        for (int d = -3; d <= 3; d++) {
            uint64_t v = k < 20 ? p + (uint64_t)(int64_t)d : UINT64_MAX - (uint64_t)(d + 3);
            int nd = cn_dec_len(v);
            check_digits(v, nd);
            if (nd < 20)
                check_digits(v, nd + 1);
        }
    }
    for (uint64_t v = 1; v < UINT64_MAX / 7; v = v * 7 + 3)
        check_digits(v, 20);
    check_digits(1767225600000, 13);
    check_digits(5, 1);
}

/* Byte and block appends across the buffer's growth: the result is the
 * concatenation, whatever fit where. */
static void test_put_grow(void **state)
{
    (void)state;
    char want[5000];
    size_t wn = 0;
    cn_buf_t b;
    cn_buf_init(&b);
    cn_buf_put(&b, NULL, 0);
    assert_int_equal(b.len, 0);
    for (int i = 0; wn < 4900; i++) {
        if (i % 3 == 0) {
            uint8_t c = (uint8_t)('a' + i % 26);
            cn_buf_put_u8(&b, c);
            want[wn++] = (char)c;
        } else {
            char blk[40];
            size_t n = (size_t)(i % 37);
            for (size_t j = 0; j < n; j++)
                blk[j] = (char)('A' + (i + (int)j) % 26);
            cn_buf_put(&b, blk, n);
            memcpy(want + wn, blk, n);
            wn += n;
        }
        assert_true(b.len <= b.cap);
    }
    assert_int_equal(b.len, wn);
    assert_memory_equal(b.p, want, wn);
    cn_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dec),
        cmocka_unit_test(test_digits),
        cmocka_unit_test(test_put_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
