/* SPDX-License-Identifier: MIT */
/*
 * test_sink_defs.c - the sinks file parser (ingest/sink/defs.c): every
 * key, defaults left zero, repeated headers and kafka.* properties, and
 * each error message with its line number.
 */
#include "sink/sink.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

static void test_full_file(void **state)
{
    (void)state;
    static const char text[] = "# sinks\n"
                               "[sink alerts]\n"
                               "type = webhook\n"
                               "url = https://hooks.example/x\n"
                               "header = Authorization: Bearer t\n"
                               "header = X-Source: cairn\n"
                               "timeout = 5s\n"
                               "method = PUT\n"
                               "threads = 3\n"
                               "max-inflight = 32\n"
                               "\n"
                               "[sink lake]\r\n"
                               "  type=kafka  \n"
                               "brokers = k1:9092,k2:9092\n"
                               "topic = telemetry\n"
                               "compression = zstd\n"
                               "kafka.linger.ms = 10\n"
                               "kafka.batch.size = 1000000\n"
                               "max-attempts = 3\n"
                               "backoff-min = 250ms\n"
                               "backoff-max = 1.5m\n";
    mq_sink_defs_t d;
    char err[256];
    assert_int_equal(mq_sink_defs_parse("s.conf", text, sizeof text - 1, &d, err, sizeof err), 0);
    assert_int_equal(d.n, 2);
    const mq_sink_def_t *a = &d.v[0], *k = &d.v[1];
    assert_string_equal(a->name, "alerts");
    assert_int_equal(a->type, MQ_SINK_WEBHOOK);
    assert_string_equal(a->url, "https://hooks.example/x");
    assert_string_equal(a->headers[0], "Authorization: Bearer t");
    assert_string_equal(a->headers[1], "X-Source: cairn");
    assert_null(a->headers[2]);
    assert_int_equal(a->timeout_ns, 5000000000LL);
    assert_string_equal(a->method, "PUT");
    assert_int_equal(a->threads, 3);
    assert_int_equal(a->max_inflight, 32);
    assert_int_equal(a->max_attempts, 0);
    assert_null(k->method);
    assert_int_equal(k->threads, 0);
    assert_string_equal(k->name, "lake");
    assert_int_equal(k->type, MQ_SINK_KAFKA);
    assert_string_equal(k->brokers, "k1:9092,k2:9092");
    assert_string_equal(k->topic, "telemetry");
    assert_string_equal(k->compression, "zstd");
    assert_string_equal(k->kafka_props[0], "linger.ms=10");
    assert_string_equal(k->kafka_props[1], "batch.size=1000000");
    assert_null(k->kafka_props[2]);
    assert_int_equal(k->max_attempts, 3);
    assert_int_equal(k->backoff_min_ns, 250000000LL);
    assert_int_equal(k->backoff_max_ns, 90000000000LL);
    mq_sink_defs_free(&d);
}

static void expect_error(const char *text, const char *msg)
{
    mq_sink_defs_t d;
    char err[256];
    assert_int_equal(mq_sink_defs_parse("f", text, strlen(text), &d, err, sizeof err), CN_ECONFIG);
    assert_string_equal(err, msg);
    assert_int_equal(d.n, 0);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("type = kafka\n", "f:1: key outside a [sink NAME] section");
    expect_error("[sink a]\ntype = mqtt\n", "f:2: bad value 'mqtt' for 'type'");
    expect_error("[sink a]\ntype = webhook\nmethod = GET\n", "f:3: bad value 'GET' for 'method'");
    expect_error("[sink a]\ntype = webhook\nurl = http://x\ncolour = red\n",
                 "f:4: unknown key 'colour'");
    expect_error("[sink a]\ntype = webhook\n", "f:1: sink 'a' (webhook) has no url");
    expect_error("[sink a]\ntype = kafka\n[sink b]\n", "f:1: sink 'a' (kafka) has no brokers");
    expect_error("[sink a]\nurl = http://x\n", "f:1: sink 'a' has no type");
    expect_error("[sinks a]\n", "f:1: expected [sink NAME]");
    expect_error("[sink a b]\n", "f:1: expected [sink NAME]");
    expect_error("[sink a]\ntype = kafka\nbrokers = b\n[sink a]\n", "f:4: sink 'a' defined twice");
    expect_error("[sink a]\ntimeout = 5\n", "f:2: bad value '5' for 'timeout'");
    expect_error("[sink a]\nmax-attempts = 0\n", "f:2: bad value '0' for 'max-attempts'");
    expect_error("[sink a]\nheader = nocolon\n", "f:2: bad value 'nocolon' for 'header'");
    expect_error("[sink a]\ncompression = brotli\n", "f:2: bad value 'brotli' for 'compression'");
    expect_error("[sink a]\nurl\n", "f:2: expected key = value");
    expect_error("[sink a]\nurl =\n", "f:2: bad value '' for 'url'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
