/* SPDX-License-Identifier: MIT */
/*
 * test_map.c - topic templates (ingest/map/map.c): the default template,
 * tag and measurement binding, precedence of tags (payload, topic,
 * constant, registry), store=false, '$' topics, '+'/'#', unmatched topics
 * (dropped, or stored when asked), format detection, binary frames through
 * a regmap file, per-template counters by reason, and every config error's
 * exact message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka.h needs these first; keep clang-format from sorting them after it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "decode/decode.h"
#include "ingest/decode_check.h"
#include "map/map.h"

#define NOW INT64_C(1767225600000000000)

static mq_map_t *parse_ok(const char *spec, unsigned flags)
{
    mq_map_t *m = NULL;
    char err[256];
    int rc = mq_map_parse(spec, flags, &m, err, sizeof err);
    if (rc != 0)
        fail_msg("parse '%s': %s", spec, err);
    return m;
}

static int decode(mq_map_t *m, mq_dec_batch_t *b, const char *topic, const char *payload,
                  mq_map_result_t *res)
{
    return mq_map_decode(m, topic, strlen(topic), payload, strlen(payload), NOW, NULL, NULL, b,
                         res);
}

static void test_default_template(void **state)
{
    (void)state;
    mq_map_t *m = parse_ok("devices/{device_id}/telemetry", 0);
    mq_dec_batch_t *b;
    mq_dec_batch_new(&b);
    mq_map_result_t r;
    assert_int_equal(decode(m, b, "devices/d-0042/telemetry",
                            "{\"ts\":1767225601000,\"temperature\":21.37,\"rpm\":1500}", &r),
                     1);
    assert_int_equal(r.tpl, 0);
    assert_int_equal(r.npoints, 1);
    assert_int_equal(r.nerrors, 0);
    size_t n;
    const eng_point_t *p = mq_dec_batch_points(b, &n);
    assert_int_equal(n, 1);
    assert_string_equal(p->measurement, "telemetry");
    assert_int_equal(p->ntags, 1);
    assert_string_equal(tag(p, "device_id"), "d-0042");
    assert_true(p->ts == INT64_C(1767225601000000000));
    expect_f(p, "temperature", 21.37);
    expect_i(p, "rpm", 1500);
    mq_map_stats_t st;
    mq_map_stats(m, 0, &st);
    assert_int_equal(st.msgs, 1);
    assert_int_equal(st.points, 1);
    /* Near misses are not stored: one level more or less, another root. */
    assert_int_equal(decode(m, b, "devices/d1/telemetry/x", "{\"a\":1.5}", &r), 0);
    assert_int_equal(r.tpl, -1);
    assert_int_equal(decode(m, b, "devices/d1", "{\"a\":1.5}", &r), 0);
    assert_int_equal(decode(m, b, "device/d1/telemetry", "{\"a\":1.5}", &r), 0);
    assert_int_equal(decode(m, b, "devices/d1/telemetry", "", &r), 0); /* retained clear */
    assert_int_equal(r.tpl, -1);
    assert_int_equal(r.nerrors, 0);
    assert_int_equal(mq_dec_batch_npoints(b), 1);
    mq_map_stats(m, 1, &st); /* unmatched are not counted unless stored */
    assert_int_equal(st.msgs, 0);
    mq_dec_batch_free(b);
    mq_map_free(m);
}

static void test_bind_measurement_and_tags(void **state)
{
    (void)state;
    mq_map_t *m =
        parse_ok("devices/{device_id}/telemetry ; factory/{site}/{line}/{device_id}/{measurement} "
                 "format=json precision=ms tags=fleet:north,model:p7",
                 0);
    assert_int_equal(mq_map_count(m), 2);
    assert_string_equal(mq_map_pattern(m, 1), "factory/{site}/{line}/{device_id}/{measurement}");
    mq_dec_batch_t *b;
    mq_dec_batch_new(&b);
    mq_map_result_t r;
    assert_int_equal(decode(m, b, "factory/berlin/l3/pump-7/vibration",
                            "{\"ts\":1767225602000,\"rms\":0.25,\"fleet\":\"x\"}", &r),
                     1);
    assert_int_equal(r.tpl, 1);
    const eng_point_t *p = mq_dec_batch_points(b, &(size_t){0});
    assert_string_equal(p->measurement, "vibration");
    assert_int_equal(p->ntags, 5);
    assert_string_equal(tag(p, "site"), "berlin");
    assert_string_equal(tag(p, "line"), "l3");
    assert_string_equal(tag(p, "device_id"), "pump-7");
    assert_string_equal(tag(p, "fleet"), "north");
    assert_string_equal(tag(p, "model"), "p7");
    assert_true(p->ts == INT64_C(1767225602000000000));
    expect_f(p, "rms", 0.25);
    expect_s(p, "fleet", "x", 1); /* a field may share a tag's name */
    mq_dec_batch_free(b);
    mq_map_free(m);
}

static void test_line_protocol_tags_win(void **state)
{
    (void)state;
    mq_map_t *m = parse_ok("gw/{device_id}/{site}/lp tags=model:m1", 0);
    mq_dec_batch_t *b;
    mq_dec_batch_new(&b);
    mq_map_result_t r;
    /* auto format: not '{' or '[' -> line protocol, its own measurement. */
    assert_int_equal(decode(m, b, "gw/d9/s1/lp",
                            "power,site=own v=1.5 1767225600000000001\n"
                            "power v=2.5 1767225600000000002\n",
                            &r),
                     2);
    size_t n;
    const eng_point_t *p = mq_dec_batch_points(b, &n);
    assert_int_equal(n, 2);
    assert_string_equal(p[0].measurement, "power");
    assert_string_equal(tag(&p[0], "site"), "own");
    assert_string_equal(tag(&p[0], "device_id"), "d9");
    assert_string_equal(tag(&p[0], "model"), "m1");
    assert_string_equal(tag(&p[1], "site"), "s1");
    assert_true(p[1].ts == INT64_C(1767225600000000002));
    mq_dec_batch_free(b);
    mq_map_free(m);
}

static const eng_tag_t REG_TAGS[] = {{"fleet", "south"}, {"model", "reg"}, {"device_id", "no"}};

static const eng_tag_t *registry(void *arg, const char *device_id, uint32_t *n)
{
    int *calls = arg;
    (*calls)++;
    if (strcmp(device_id, "known") != 0)
        return NULL;
    *n = 3;
    return REG_TAGS;
}

static void test_registry_tags(void **state)
{
    (void)state;
    mq_map_t *m = parse_ok("devices/{device_id}/telemetry tags=model:const", 0);
    mq_dec_batch_t *b;
    mq_dec_batch_new(&b);
    mq_map_result_t r;
    int calls = 0;
    const char *js = "{\"v\":1.5}";
    assert_int_equal(mq_map_decode(m, "devices/known/telemetry", 23, js, strlen(js), NOW, registry,
                                   &calls, b, &r),
                     1);
    assert_int_equal(mq_map_decode(m, "devices/other/telemetry", 23, js, strlen(js), NOW, registry,
                                   &calls, b, &r),
                     1);
    assert_int_equal(calls, 2);
    const eng_point_t *p = mq_dec_batch_points(b, &(size_t){0});
    assert_int_equal(p[0].ntags, 3);
    assert_string_equal(tag(&p[0], "device_id"), "known"); /* topic beats registry */
    assert_string_equal(tag(&p[0], "model"), "const");     /* constant beats registry */
    assert_string_equal(tag(&p[0], "fleet"), "south");
    assert_true(p[0].ts == NOW);
    assert_int_equal(p[1].ntags, 2);
    assert_null(tag(&p[1], "fleet"));
    mq_dec_batch_free(b);
    mq_map_free(m);
}

static void test_wildcards_store_false_and_dollar(void **state)
{
    (void)state;
    mq_map_t *m = parse_ok("plant/+/{device_id}/secret/# store=false\n"
                           "plant/+/{device_id}/# measurement=plant\n"
                           "{device_id}/up",
                           0);
    mq_dec_batch_t *b;
    mq_dec_batch_new(&b);
    mq_map_result_t r;
    assert_int_equal(decode(m, b, "plant/a/d1/secret", "{\"v\":1.5}", &r), 0);
    assert_int_equal(r.tpl, -1);
    assert_int_equal(decode(m, b, "plant/a/d1/secret/x/y", "{\"v\":1.5}", &r), 0);
    assert_int_equal(decode(m, b, "plant/a/d1", "{\"v\":1.5}", &r), 1); /* '#' matches none */
    assert_int_equal(r.tpl, 1);
    assert_int_equal(decode(m, b, "plant//d2/x/y", "{\"v\":2.5}", &r), 1); /* '+' empty */
    assert_int_equal(decode(m, b, "$SYS/up", "{\"v\":1.5}", &r), 0);
    assert_int_equal(r.tpl, -1);
    assert_int_equal(decode(m, b, "dev/up", "{\"v\":1.5}", &r), 1);
    assert_int_equal(r.tpl, 2);
    const eng_point_t *p = mq_dec_batch_points(b, &(size_t){0});
    assert_string_equal(p[1].measurement, "plant");
    assert_string_equal(tag(&p[1], "device_id"), "d2");
    assert_string_equal(p[2].measurement, "up");
    mq_dec_batch_free(b);
    mq_map_free(m);
}

static void test_empty_level_and_errors_counted(void **state)
{
    (void)state;
    mq_map_t *m = parse_ok("devices/{device_id}/telemetry", 0);
    mq_dec_batch_t *b;
    mq_dec_batch_new(&b);
    mq_map_result_t r;
    assert_int_equal(decode(m, b, "devices//telemetry", "{\"v\":1.5}", &r), 0);
    assert_int_equal(r.tpl, 0);
    assert_int_equal(r.nerrors, 1);
    assert_int_equal(r.reason, MQ_MAP_R_TOPIC);
    expect_one_err(b, "line 1 col 9: empty topic level bound to a name");
    mq_dec_batch_reset(b);
    assert_int_equal(decode(m, b, "devices/d1/telemetry", "{\"v\":1.5,", &r), 0);
    assert_int_equal(r.status, CN_EPROTO);
    assert_int_equal(r.reason, MQ_MAP_R_SYNTAX);
    mq_dec_batch_reset(b);
    /* A bad field is dropped alone; the rest is stored. */
    assert_int_equal(
        decode(m, b, "devices/d1/telemetry", "{\"v\":1.5,\"big\":99999999999999999999}", &r), 1);
    assert_int_equal(r.nerrors, 1);
    assert_int_equal(r.reason, MQ_MAP_R_VALUE);
    /* A message refused by the engine is taken back, to be counted when
     * offered again. */
    mq_dec_batch_reset(b);
    assert_int_equal(decode(m, b, "devices/d1/telemetry", "{\"v\":1.5,\"x\":1e999}", &r), 1);
    assert_int_equal(r.reason, MQ_MAP_R_VALUE);
    mq_map_forget(m, &r, b);
    mq_map_count_error(m, 0, MQ_MAP_R_CONFLICT, 2);
    mq_map_stats_t st;
    mq_map_stats(m, 0, &st);
    assert_int_equal(st.msgs, 3);
    assert_int_equal(st.points, 1);
    assert_int_equal(st.errors[MQ_MAP_R_TOPIC], 1);
    assert_int_equal(st.errors[MQ_MAP_R_SYNTAX], 1);
    assert_int_equal(st.errors[MQ_MAP_R_VALUE], 1);
    assert_int_equal(st.errors[MQ_MAP_R_LIMIT], 0);
    assert_int_equal(st.errors[MQ_MAP_R_CONFLICT], 2);
    assert_string_equal(mq_map_reason_name(MQ_MAP_R_CONFLICT), "type_conflict");
    mq_dec_batch_free(b);
    mq_map_free(m);
}

static void test_unmatched_stored(void **state)
{
    (void)state;
    mq_map_t *m = parse_ok("devices/{device_id}/telemetry", MQ_MAP_STORE_UNMATCHED);
    mq_dec_batch_t *b;
    mq_dec_batch_new(&b);
    mq_map_result_t r;
    assert_int_equal(decode(m, b, "misc/thing", "[{\"a\":1},{\"a\":2}]", &r), 2);
    assert_int_equal(r.tpl, 1);
    const eng_point_t *p = mq_dec_batch_points(b, &(size_t){0});
    assert_string_equal(p[0].measurement, "mqtt");
    assert_string_equal(tag(&p[0], "topic"), "misc/thing");
    expect_i(&p[1], "a", 2);
    mq_map_stats_t st;
    mq_map_stats(m, 1, &st);
    assert_int_equal(st.msgs, 1);
    assert_int_equal(st.points, 2);
    assert_string_equal(mq_map_pattern(m, 1), "unmatched");
    mq_dec_batch_free(b);
    mq_map_free(m);
}

static void test_binary_regmap(void **state)
{
    (void)state;
    char path[] = "/tmp/cairn-test-map-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *map = "units=registers\ntemperature i16 @0 scale=0.1\nstatus u16 @1\n";
    assert_int_equal(write(fd, map, strlen(map)), (ssize_t)strlen(map));
    close(fd);
    char spec[256];
    snprintf(spec, sizeof spec, "plc/{device_id}/regs format=binary regmap=%s measurement=plc",
             path);
    mq_map_t *m = parse_ok(spec, 0);
    mq_dec_batch_t *b;
    mq_dec_batch_new(&b);
    mq_map_result_t r;
    /* Two holding registers, big endian: -12.3 (raw -123 = 0xFF85) and 7. */
    const uint8_t frame[] = {0xFF, 0x85, 0x00, 0x07};
    assert_int_equal(
        mq_map_decode(m, "plc/p1/regs", 11, frame, sizeof frame, NOW, NULL, NULL, b, &r), 1);
    const eng_point_t *p = mq_dec_batch_points(b, &(size_t){0});
    assert_string_equal(p->measurement, "plc");
    assert_string_equal(tag(p, "device_id"), "p1");
    expect_f(p, "temperature", -12.3);
    expect_i(p, "status", 7);
    assert_true(p->ts == NOW);
    mq_dec_batch_free(b);
    mq_map_free(m);
    unlink(path);
}

static void expect_parse_err(const char *spec, const char *want)
{
    mq_map_t *m = (mq_map_t *)(uintptr_t)1;
    char err[256];
    int rc = mq_map_parse(spec, 0, &m, err, sizeof err);
    if (rc >= 0)
        fail_msg("spec '%s' parsed", spec);
    assert_null(m);
    if (strcmp(err, want) != 0)
        fail_msg("spec '%s': got \"%s\", want \"%s\"", spec, err, want);
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_parse_err("{x}/+/#", "template 1: no measurement (bind {measurement}, give "
                                "measurement=, or end with a literal level)");
    expect_parse_err("ok/m; a/#/b", "template 2: '#' must be the last level");
    expect_parse_err("a/{x}/{x}/m", "template 1: tag 'x' bound twice");
    expect_parse_err("a/{}/m", "template 1: bad name in '{}'");
    expect_parse_err("a/b+c/m", "template 1: bad level 'b+c'");
    expect_parse_err("a/m fmt=json", "template 1: unknown option 'fmt'");
    expect_parse_err("a/m format=xml", "template 1: format must be auto, json, lp or binary");
    expect_parse_err("a/m json", "template 1: expected key=value, got 'json'");
    expect_parse_err("a/m tags=fleet", "template 1: bad tag 'fleet' (want key:value)");
    expect_parse_err("a/m format=binary", "template 1: format=binary needs regmap=PATH");
    expect_parse_err("a/m regmap=/x", "template 1: regmap= needs format=binary");
    expect_parse_err("a/{measurement} measurement=x",
                     "template 1: measurement= and {measurement} both given");
    expect_parse_err("a/m store=maybe", "template 1: store must be true or false");
    expect_parse_err("a/m precision=d", "template 1: precision must be auto, ns, us, ms or s");
    expect_parse_err("a/m format=binary regmap=/nonexistent/cairn.map",
                     "template 1: regmap /nonexistent/cairn.map: No such file or directory");
    /* Empty specs are fine: nothing is stored. */
    mq_map_t *m = parse_ok(" ; \n ;", 0);
    assert_int_equal(mq_map_count(m), 0);
    mq_map_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_template),
        cmocka_unit_test(test_bind_measurement_and_tags),
        cmocka_unit_test(test_line_protocol_tags_win),
        cmocka_unit_test(test_registry_tags),
        cmocka_unit_test(test_wildcards_store_false_and_dollar),
        cmocka_unit_test(test_empty_level_and_errors_counted),
        cmocka_unit_test(test_unmatched_stored),
        cmocka_unit_test(test_binary_regmap),
        cmocka_unit_test(test_parse_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
