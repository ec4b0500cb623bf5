/* SPDX-License-Identifier: MIT */
/*
 * test_csv.c - query/export/csv.c: exact bytes of the CSV writer (header,
 * RFC 4180 quoting, null versus empty string, every time format including
 * times before 1970, shortest round-trip doubles, NaN and infinities),
 * flushing over a large output, the required-column check and sink
 * errors; and the atomic file sink.
 */
#include "export/csv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* cmocka.h needs these first; keep clang-format from sorting them after it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

typedef struct memsink {
    cn_buf_t b;
    size_t calls;
    bool fail;
} memsink_t;

static int memsink_write(void *arg, const void *p, size_t n)
{
    memsink_t *m = arg;
    if (m->fail)
        return -EPIPE;
    cn_buf_put(&m->b, p, n);
    m->calls++;
    return 0;
}

static void assert_text(const cn_buf_t *b, const char *want)
{
    if (b->len != strlen(want) || memcmp(b->p, want, b->len) != 0) {
        fprintf(stderr, "got:\n%.*s\nwant:\n%s\n", (int)b->len, (const char *)b->p, want);
        fail();
    }
}

static const qry_pq_col_t COLS[5] = {
    {"device_id", QRY_PQ_STRING, true},
    {"note, \"x\"", QRY_PQ_STRING, false},
    {"temp", QRY_PQ_DOUBLE, false},
    {"n", QRY_PQ_INT64, false},
    {"ok", QRY_PQ_BOOL, false},
};

static void write_rows(qry_csv_writer_t *w)
{
    int64_t ts[4] = {INT64_C(1767225600123456789), 0, -1, INT64_C(951782400000000000)};
    eng_str_t dev[4] = {{"d1", 2}, {"d2", 2}, {"\xc3\xa9t\xc3\xa9", 5}, {"d 4 ", 4}};
    eng_str_t note[4] = {{"", 0}, {"a,b\r\nc", 6}, {"say \"hi\"", 8}, {"x", 1}};
    double temp[4] = {0.1, 1e300, NAN, -INFINITY};
    int64_t n[4] = {INT64_MIN, -1, 0, INT64_MAX};
    uint8_t ok[4] = {1, 0, 1, 0};
    uint8_t v_note[4] = {1, 1, 1, 0}, v_temp[4] = {1, 1, 1, 1}, v_n[4] = {1, 0, 1, 1},
            v_ok[4] = {1, 1, 0, 1};
    const void *vals[5] = {dev, note, temp, n, ok};
    const uint8_t *valid[5] = {NULL, v_note, v_temp, v_n, v_ok};
    qry_pq_batch_t b = {4, ts, vals, valid};
    assert_int_equal(qry_csv_write(w, &b), 0);
}

static void test_bytes(void **state)
{
    (void)state;
    static const char *const want[] = {
        /* rfc3339 */
        "time,device_id,\"note, \"\"x\"\"\",temp,n,ok\r\n"
        "2026-01-01T00:00:00.123456789Z,d1,\"\",0.1,-9223372036854775808,true\r\n"
        "1970-01-01T00:00:00.000000000Z,d2,\"a,b\r\nc\",1e+300,,false\r\n"
        "1969-12-31T23:59:59.999999999Z,\xc3\xa9t\xc3\xa9,\"say \"\"hi\"\"\",NaN,0,\r\n"
        "2000-02-29T00:00:00.000000000Z,\"d 4 \",,-Infinity,9223372036854775807,false\r\n",
        /* s */
        "time,device_id,\"note, \"\"x\"\"\",temp,n,ok\r\n"
        "1767225600,d1,\"\",0.1,-9223372036854775808,true\r\n"
        "0,d2,\"a,b\r\nc\",1e+300,,false\r\n"
        "-1,\xc3\xa9t\xc3\xa9,\"say \"\"hi\"\"\",NaN,0,\r\n"
        "951782400,\"d 4 \",,-Infinity,9223372036854775807,false\r\n",
    };
    const int fmts[] = {QRY_CSV_RFC3339, QRY_CSV_S};
    for (size_t i = 0; i < 2; i++) {
        memsink_t m = {0};
        qry_sink_t sink = {memsink_write, &m};
        qry_csv_opts_t o = {.time_name = "time", .time_format = fmts[i]};
        qry_csv_writer_t *w = NULL;
        assert_int_equal(qry_csv_open(&sink, COLS, 5, &o, &w), 0);
        write_rows(w);
        qry_pq_summary_t sum;
        assert_int_equal(qry_csv_close(w, &sum), 0);
        assert_text(&m.b, want[i]);
        assert_int_equal(sum.rows, 4);
        assert_int_equal(sum.bytes, m.b.len);
        assert_int_equal(sum.tmin, -1);
        assert_int_equal(sum.tmax, INT64_C(1767225600123456789));
        cn_buf_free(&m.b);
    }
    /* ms, us, ns of the pre-1970 row floor toward minus infinity. */
    const int more[] = {QRY_CSV_MS, QRY_CSV_US, QRY_CSV_NS};
    const char *const third[] = {"-1,", "-1,", "-1,"};
    const char *const first[] = {"1767225600123,", "1767225600123456,", "1767225600123456789,"};
    for (size_t i = 0; i < 3; i++) {
        memsink_t m = {0};
        qry_sink_t sink = {memsink_write, &m};
        qry_csv_opts_t o = {.time_format = more[i]};
        qry_csv_writer_t *w = NULL;
        assert_int_equal(qry_csv_open(&sink, COLS, 5, &o, &w), 0);
        write_rows(w);
        assert_int_equal(qry_csv_close(w, NULL), 0);
        cn_buf_put_u8(&m.b, 0);
        char *l2 = strstr((char *)m.b.p, "\r\n") + 2;
        assert_memory_equal(l2, first[i], strlen(first[i]));
        assert_non_null(strstr((char *)m.b.p, third[i]));
        cn_buf_free(&m.b);
    }
}

/* Shortest text that reads back as the same double. */
static void test_doubles(void **state)
{
    (void)state;
    const double v[] = {0.1, 1.0 / 3, 2.5, 100, 1e21, 5e-324, -0.0, 123456789.125, 0.30000000000000004};
    const qry_pq_col_t col = {"x", QRY_PQ_DOUBLE, false};
    memsink_t m = {0};
    qry_sink_t sink = {memsink_write, &m};
    qry_csv_opts_t o = {.time_format = QRY_CSV_NS};
    qry_csv_writer_t *w = NULL;
    assert_int_equal(qry_csv_open(&sink, &col, 1, &o, &w), 0);
    int64_t ts[9] = {0};
    const void *vals[1] = {v};
    qry_pq_batch_t b = {9, ts, vals, NULL};
    assert_int_equal(qry_csv_write(w, &b), 0);
    assert_int_equal(qry_csv_close(w, NULL), 0);
    cn_buf_put_u8(&m.b, 0);
    m.b.len--;
    /* Every value reads back bit for bit. */
    const char *p = strstr((const char *)m.b.p, "\r\n") + 2;
    for (size_t i = 0; i < 9; i++) {
        p = strchr(p, ',') + 1;
        char *end = NULL;
        double back = strtod(p, &end);
        assert_memory_equal(&back, &v[i], sizeof back);
        p = end + 2;
    }
    assert_non_null(strstr((const char *)m.b.p, "\r\n0,0.1\r\n0,0.3333333333333333\r\n0,2.5\r\n0,100\r\n0,1e+21\r\n"));
    cn_buf_free(&m.b);
}

/* Large output reaches the sink in several pieces; errors fail the writer. */
static void test_flush_and_errors(void **state)
{
    (void)state;
    const qry_pq_col_t col = {"s", QRY_PQ_STRING, true};
    enum { N = 1024 };
    static char big[2000];
    memset(big, 'x', sizeof big);
    eng_str_t s[N];
    int64_t ts[N];
    for (int i = 0; i < N; i++) {
        s[i] = (eng_str_t){big, sizeof big};
        ts[i] = i;
    }
    const void *vals[1] = {s};
    memsink_t m = {0};
    qry_sink_t sink = {memsink_write, &m};
    qry_csv_writer_t *w = NULL;
    assert_int_equal(qry_csv_open(&sink, &col, 1, NULL, &w), 0);
    qry_pq_batch_t b = {N, ts, vals, NULL};
    assert_int_equal(qry_csv_write(w, &b), 0);
    assert_true(m.calls >= 2);
    assert_int_equal(qry_csv_bytes(w), m.b.len + (qry_csv_bytes(w) - m.b.len));
    qry_pq_summary_t sum;
    assert_int_equal(qry_csv_close(w, &sum), 0);
    assert_int_equal(sum.bytes, m.b.len);
    assert_int_equal(sum.rows, N);
    cn_buf_free(&m.b);

    /* A null in a required column: nothing of the batch is written. */
    memsink_t m2 = {0};
    qry_sink_t sink2 = {memsink_write, &m2};
    assert_int_equal(qry_csv_open(&sink2, &col, 1, NULL, &w), 0);
    uint8_t v[2] = {1, 0};
    const uint8_t *valid[1] = {v};
    qry_pq_batch_t nb = {2, ts, vals, valid};
    assert_int_equal(qry_csv_write(w, &nb), CN_EINVAL);
    assert_int_equal(qry_csv_close(w, &sum), 0);
    assert_int_equal(sum.rows, 0);
    assert_text(&m2.b, "time,s\r\n");
    cn_buf_free(&m2.b);

    /* A failing sink: open fails with its code. */
    memsink_t m3 = {.fail = true};
    qry_sink_t sink3 = {memsink_write, &m3};
    assert_int_equal(qry_csv_open(&sink3, &col, 1, NULL, &w), -EPIPE);
    /* Bad schemas. */
    const qry_pq_col_t dup[2] = {{"a", QRY_PQ_INT64, false}, {"a", QRY_PQ_INT64, false}};
    assert_int_equal(qry_csv_open(&sink, dup, 2, NULL, &w), CN_EINVAL);
    const qry_pq_col_t clash = {"time", QRY_PQ_INT64, false};
    assert_int_equal(qry_csv_open(&sink, &clash, 1, NULL, &w), CN_EINVAL);
    assert_int_equal(qry_csv_time_parse("rfc3339"), QRY_CSV_RFC3339);
    assert_int_equal(qry_csv_time_parse("ms"), QRY_CSV_MS);
    assert_int_equal(qry_csv_time_parse("hours"), CN_EINVAL);
    qry_csv_abort(NULL);
}

/* The atomic file: PATH appears only at commit; abort leaves nothing. */
static void test_afile(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_csv.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], tmp[140];
    snprintf(path, sizeof path, "%s/a.csv", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    qry_afile_t *f = NULL;
    assert_int_equal(qry_afile_open(path, &f), 0);
    qry_sink_t s = qry_afile_sink(f);
    assert_int_equal(s.write(s.arg, "hello", 5), 0);
    assert_int_equal(access(tmp, F_OK), 0);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(qry_afile_commit(f), 0);
    assert_int_not_equal(access(tmp, F_OK), 0);
    uint8_t *p = NULL;
    size_t n = 0;
    assert_int_equal(cn_file_read_all(path, &p, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(p, "hello", 5);
    cn_free(p);
    assert_int_equal(qry_afile_open(path, &f), 0);
    s = qry_afile_sink(f);
    assert_int_equal(s.write(s.arg, "x", 1), 0);
    qry_afile_abort(f);
    assert_int_not_equal(access(tmp, F_OK), 0);
    assert_int_equal(cn_file_read_all(path, &p, &n), 0);
    assert_int_equal(n, 5); /* the committed file is untouched */
    cn_free(p);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/no/such/dir/x.csv", dir);
    assert_int_equal(qry_afile_open(missing, &f), -ENOENT);
    qry_afile_abort(NULL);
    cn_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_doubles),
        cmocka_unit_test(test_flush_and_errors),
        cmocka_unit_test(test_afile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
