/* SPDX-License-Identifier: MIT */
/*
 * test_cfg.c - server/cfg.c: defaults, the config file parser, command-line
 * overrides and their precedence, exact diagnostics (key, line, expected
 * form), and the duration, size and address parsers down to exact values.
 * Diagnostics are captured with open_memstream and compared byte for byte.
 */
#include "cfg.h"

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

/* --------------------------------------------------------------- helpers */

typedef struct fx {
    char dir[64];
    srv_cfg_t cfg;
    char *diag_text;
    size_t diag_len;
    FILE *diag;
} fx_t;

static int setup(void **state)
{
    fx_t *fx = cn_calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/cairn-test-cfg-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    srv_cfg_init(&fx->cfg);
    fx->diag = open_memstream(&fx->diag_text, &fx->diag_len);
    *state = fx;
    return fx->diag ? 0 : -1;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    fclose(fx->diag);
    free(fx->diag_text); /* allocated by open_memstream, not cn_malloc */
    srv_cfg_free(&fx->cfg);
    cn_rmtree(fx->dir);
    cn_free(fx);
    return 0;
}

/* Everything written to the diagnostics stream so far. */
static const char *diag(fx_t *fx)
{
    fflush(fx->diag);
    return fx->diag_text ? fx->diag_text : "";
}

/* Forgets the diagnostics captured so far. */
static void reset_diag(fx_t *fx)
{
    fclose(fx->diag);
    free(fx->diag_text);
    fx->diag_text = NULL;
    fx->diag = open_memstream(&fx->diag_text, &fx->diag_len);
    assert_non_null(fx->diag);
}

static int parse(fx_t *fx, const char *text)
{
    return srv_cfg_parse(&fx->cfg, "test.conf", text, strlen(text), fx->diag);
}

static void write_file(fx_t *fx, const char *name, const char *text, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", fx->dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int cli(fx_t *fx, srv_cli_t *c, int argc, const char *const *argv)
{
    return srv_cfg_cli(&fx->cfg, argc, (char **)(uintptr_t)argv, c, fx->diag);
}

/* ----------------------------------------------------------------- tests */

static void test_defaults(void **state)
{
    fx_t *fx = *state;
    srv_cfg_t *c = &fx->cfg;
    assert_string_equal(c->data_dir, "./cairn-data");
    assert_string_equal(c->mqtt_listen, "127.0.0.1:1883");
    assert_string_equal(c->http_listen.host, "127.0.0.1");
    assert_int_equal(c->http_listen.port, 8086);
    assert_int_equal(c->durability, SRV_DUR_FSYNC);
    assert_int_equal(c->log_level, CN_LOG_INFO);
    assert_string_equal(c->log_file, "");
    assert_string_equal(c->pid_file, "");
    assert_int_equal(c->partition_ns, 86400LL * 1000000000LL);
    assert_int_equal(c->retention_ns, 0);
    assert_int_equal(c->memtable_bytes, 256ULL << 20);
    assert_int_equal(c->wal_segment_bytes, 64ULL << 20);
    assert_int_equal(c->compression, SRV_COMP_ZSTD);
    assert_int_equal(c->zstd_level, 3);
    assert_int_equal(c->group_commit_ns, 0);
    assert_int_equal(c->event_loops, 0);
}

static void test_valid_file(void **state)
{
    fx_t *fx = *state;
    const char *text = "# cairn test config\n"
                       "\n"
                       "data-dir = /var/lib/cairn\n"
                       "  durability=os\r\n"
                       "log-level = debug   # trailing comment\n"
                       "\t# indented comment\n"
                       "pid-file = \"/run/cairn #1.pid\"\n"
                       "mqtt-listen = 0.0.0.0:1884\n"
                       "http-listen = [::1]:0\n"
                       "partition-duration = 2h\n"
                       "retention = 30d\n"
                       "memtable-size = 64M\n"
                       "wal-segment-size = 1G\n"
                       "compression = lz4\n"
                       "zstd-level = 19\n"
                       "group-commit = 500us\n"
                       "event-loops = 4"; /* no final newline */
    assert_int_equal(parse(fx, text), 0);
    assert_string_equal(diag(fx), "");
    srv_cfg_t *c = &fx->cfg;
    assert_string_equal(c->data_dir, "/var/lib/cairn");
    assert_int_equal(c->durability, SRV_DUR_OS);
    assert_int_equal(c->log_level, CN_LOG_DEBUG);
    assert_string_equal(c->pid_file, "/run/cairn #1.pid");
    assert_string_equal(c->mqtt_listen, "0.0.0.0:1884");
    assert_string_equal(c->http_listen.host, "::1");
    assert_int_equal(c->http_listen.port, 0);
    assert_int_equal(c->partition_ns, 7200LL * 1000000000LL);
    assert_int_equal(c->retention_ns, 30LL * 86400 * 1000000000LL);
    assert_int_equal(c->memtable_bytes, 64ULL << 20);
    assert_int_equal(c->wal_segment_bytes, 1ULL << 30);
    assert_int_equal(c->compression, SRV_COMP_LZ4);
    assert_int_equal(c->zstd_level, 19);
    assert_int_equal(c->group_commit_ns, 500000);
    assert_int_equal(c->event_loops, 4);
}

static void test_unknown_key_names_line(void **state)
{
    fx_t *fx = *state;
    const char *text = "data-dir = /tmp/x\n"
                       "# comment\n"
                       "\n"
                       "foo = bar\n"
                       "durability = os\n";
    assert_int_equal(parse(fx, text), CN_ECONFIG);
    assert_string_equal(diag(fx), "cairn: config test.conf:4: unknown key 'foo'\n");
    /* Parsing stops at the error: the later line was not applied. */
    assert_int_equal(fx->cfg.durability, SRV_DUR_FSYNC);
}

static void test_unknown_key_suggestion(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(parse(fx, "data_dir = x\n"), CN_ECONFIG);
    assert_string_equal(diag(fx), "cairn: config test.conf:1: unknown key 'data_dir' (did you mean "
                                  "'data-dir'?)\n");
}

static void test_line_without_equals(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(parse(fx, "\n\ndata-dir /tmp\n"), CN_ECONFIG);
    assert_string_equal(diag(fx), "cairn: config test.conf:3: expected 'key = value'\n");
}

static void test_bad_value_message(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(parse(fx, "log-level = info\ndurability = sometimes\n"), CN_ECONFIG);
    assert_string_equal(diag(fx), "cairn: config test.conf:2: bad value 'sometimes' for "
                                  "'durability': expected fsync or os\n");
}

static void test_bad_values_rejected(void **state)
{
    fx_t *fx = *state;
    static const char *const bad[][2] = {
        {"data-dir", ""},
        {"mqtt-listen", "127.0.0.1"},
        {"mqtt-listen", ":1883"},
        {"mqtt-listen", "127.0.0.1:65536"},
        {"mqtt-listen", "::1:1883"},
        {"mqtt-listen", "127.0.0.1:1883,"},
        {"mqtt-listen", "127.0.0.1:1883,,[::1]:1883"},
        {"mqtt-max-inflight", "0"},
        {"mqtt-max-packet-size", "100"},
        {"mqtt-sys-interval", "10ms"},
        {"http-listen", "a b:80"},
        {"http-listen", "[::1]80"},
        {"durability", "FSYNC"},
        {"log-level", "verbose"},
        {"partition-duration", "30s"},
        {"partition-duration", "1"},
        {"retention", "59s"},
        {"retention", "-1d"},
        {"memtable-size", "1k"},
        {"memtable-size", "1.5G"},
        {"wal-segment-size", "lots"},
        {"compression", "gzip"},
        {"zstd-level", "0"},
        {"zstd-level", "23"},
        {"zstd-level", "3x"},
        {"group-commit", "2s"},
        {"group-commit", "1"},
        {"event-loops", "-1"},
        {"event-loops", "257"},
    };
    char before[4096], after[4096];
    FILE *f = fmemopen(before, sizeof before, "w");
    srv_cfg_print(&fx->cfg, f);
    fclose(f);
    for (size_t i = 0; i < CN_ARRAY_LEN(bad); i++) {
        int rc = srv_cfg_set(&fx->cfg, bad[i][0], bad[i][1], "test", fx->diag);
        if (rc != CN_ECONFIG)
            fail_msg("%s = '%s' was accepted", bad[i][0], bad[i][1]);
    }
    /* A rejected value leaves the previous one in place. */
    f = fmemopen(after, sizeof after, "w");
    srv_cfg_print(&fx->cfg, f);
    fclose(f);
    assert_string_equal(before, after);
    assert_non_null(strstr(diag(fx), "cairn: test: bad value '23' for 'zstd-level': expected "
                                     "an integer from 1 to 22\n"));
}

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t ns;
    } ok[] = {
        {"0", 0},
        {"0s", 0},
        {"10s", 10000000000LL},
        {"5m", 300000000000LL},
        {"2h", 7200000000000LL},
        {"1d", 86400000000000LL},
        {"1w", 604800000000000LL},
        {"1ms", 1000000LL},
        {"500us", 500000LL},
        {"7ns", 7},
        {"1h30m", 5400000000000LL},
        {"1d12h", 129600000000000LL},
        {"15250w", 15250LL * 604800000000000LL},
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(ok); i++) {
        int64_t ns = -1;
        assert_int_equal(srv_cfg_parse_duration(ok[i].s, &ns), 0);
        assert_int_equal(ns, ok[i].ns);
    }
    static const char *const bad[] = {"",       "10",  "s",   "1x",   "-1s",
                                      "1.5h",   "1 h", "1h ", "1H",   "1m30",
                                      "15251w", "h1",  "1s-", "0x1s", "99999999999999999999s"};
    for (size_t i = 0; i < CN_ARRAY_LEN(bad); i++) {
        int64_t ns = 0;
        if (srv_cfg_parse_duration(bad[i], &ns) != CN_ECONFIG)
            fail_msg("duration '%s' was accepted", bad[i]);
    }
}

static void test_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint64_t n;
    } ok[] = {
        {"0", 0},           {"1024", 1024},      {"64k", 65536},
        {"64K", 65536},     {"256M", 268435456}, {"256m", 268435456},
        {"1G", 1073741824}, {"2T", 2ULL << 40},  {"1KiB", 1024},
        {"2MB", 2 << 20},   {"100B", 100},       {"16777215T", 16777215ULL << 40},
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(ok); i++) {
        uint64_t n = 1;
        assert_int_equal(srv_cfg_parse_size(ok[i].s, &n), 0);
        assert_int_equal(n, ok[i].n);
    }
    static const char *const bad[] = {"",    "k",   "1.5G", "-1",        "1X",
                                      "1 k", "1kx", "1iB",  "16777216T", "18446744073709551616"};
    for (size_t i = 0; i < CN_ARRAY_LEN(bad); i++) {
        uint64_t n = 0;
        if (srv_cfg_parse_size(bad[i], &n) != CN_ECONFIG)
            fail_msg("size '%s' was accepted", bad[i]);
    }
}

static void test_addresses(void **state)
{
    (void)state;
    srv_addr_t a;
    assert_int_equal(srv_cfg_parse_addr("localhost:65535", &a), 0);
    assert_string_equal(a.host, "localhost");
    assert_int_equal(a.port, 65535);
    assert_int_equal(srv_cfg_parse_addr("[fe80::1%eth0]:1883", &a), 0);
    assert_string_equal(a.host, "fe80::1%eth0");
    assert_int_equal(a.port, 1883);
    assert_int_equal(srv_cfg_parse_addr("[::1]", &a), CN_ECONFIG);
    assert_int_equal(srv_cfg_parse_addr("[]:1", &a), CN_ECONFIG);
    assert_int_equal(srv_cfg_parse_addr("host:", &a), CN_ECONFIG);
    assert_int_equal(srv_cfg_parse_addr("host:1x", &a), CN_ECONFIG);
    srv_addr_t v[2];
    assert_int_equal(srv_cfg_parse_addrs("127.0.0.1:1883, [::1]:0", v, 2), 2);
    assert_string_equal(v[0].host, "127.0.0.1");
    assert_int_equal(v[0].port, 1883);
    assert_string_equal(v[1].host, "::1");
    assert_int_equal(v[1].port, 0);
    assert_int_equal(srv_cfg_parse_addrs("a:1,b:2,c:3", v, 2), CN_ECONFIG);
    assert_int_equal(srv_cfg_parse_addrs("", v, 2), CN_ECONFIG);
}

static void test_format_round_trip(void **state)
{
    fx_t *fx = *state;
    char buf[64];
    srv_cfg_fmt_duration(86400LL * 1000000000LL, buf, sizeof buf);
    assert_string_equal(buf, "1d");
    srv_cfg_fmt_duration(90LL * 1000000000LL, buf, sizeof buf);
    assert_string_equal(buf, "90s");
    srv_cfg_fmt_duration(1000000, buf, sizeof buf);
    assert_string_equal(buf, "1ms");
    srv_cfg_fmt_size(256ULL << 20, buf, sizeof buf);
    assert_string_equal(buf, "256M");
    srv_cfg_fmt_size(1000, buf, sizeof buf);
    assert_string_equal(buf, "1000");

    /* --print-config output is a config file that reproduces the config. */
    assert_int_equal(parse(fx, "retention = 1h30m\npid-file = \"a b\"\nhttp-listen = [::1]:9\n"),
                     0);
    char *out = NULL, *out2 = NULL;
    size_t len = 0, len2 = 0;
    FILE *f = open_memstream(&out, &len);
    srv_cfg_print(&fx->cfg, f);
    fclose(f);
    srv_cfg_t c2;
    srv_cfg_init(&c2);
    assert_int_equal(srv_cfg_parse(&c2, "printed", out, len, fx->diag), 0);
    f = open_memstream(&out2, &len2);
    srv_cfg_print(&c2, f);
    fclose(f);
    assert_string_equal(out, out2);
    assert_non_null(strstr(out, "\nretention = 90m\n"));
    assert_non_null(strstr(out, "\npid-file = \"a b\"\n"));
    assert_non_null(strstr(out, "\nhttp-listen = [::1]:9\n"));
    srv_cfg_free(&c2);
    free(out);
    free(out2);
}

static void test_cli_overrides_file(void **state)
{
    fx_t *fx = *state;
    char path[128];
    write_file(fx, "c.conf", "durability = os\nlog-level = warn\nzstd-level = 9\n", path,
               sizeof path);
    /* The override comes before -c on the command line and still wins. */
    const char *argv[] = {"cairn", "--log-level=debug", "-c", path, "--zstd-level",
                          "12",    "--data-dir=/d",     NULL};
    srv_cli_t c;
    assert_int_equal(cli(fx, &c, 7, argv), 0);
    assert_string_equal(diag(fx), "");
    assert_int_equal(c.action, SRV_ACT_RUN);
    assert_string_equal(c.config_path, path);
    assert_int_equal(fx->cfg.durability, SRV_DUR_OS);     /* from the file */
    assert_int_equal(fx->cfg.log_level, CN_LOG_DEBUG);    /* override */
    assert_int_equal(fx->cfg.zstd_level, 12);             /* --key value form */
    assert_string_equal(fx->cfg.data_dir, "/d");          /* override only */
    assert_int_equal(fx->cfg.compression, SRV_COMP_ZSTD); /* default */
}

static void test_cli_config_file_errors(void **state)
{
    fx_t *fx = *state;
    char path[128], msg[256];
    write_file(fx, "bad.conf", "# one\n\n\n\n\n\n\n\n\n\n\nfoo = 1\n", path, sizeof path);
    const char *argv[] = {"cairn", "-c", path, NULL};
    srv_cli_t c;
    assert_int_equal(cli(fx, &c, 3, argv), CN_ECONFIG);
    snprintf(msg, sizeof msg, "cairn: config %s:12: unknown key 'foo'\n", path);
    assert_string_equal(diag(fx), msg);

    reset_diag(fx);
    const char *argv2[] = {"cairn", "--config=/nonexistent/cairn.conf", NULL};
    assert_int_equal(cli(fx, &c, 2, argv2), CN_ECONFIG);
    assert_string_equal(diag(fx),
                        "cairn: config /nonexistent/cairn.conf: No such file or directory\n");
}

static void test_cli_usage_errors(void **state)
{
    fx_t *fx = *state;
    srv_cli_t c;
    const char *a1[] = {"cairn", "--foo=1", NULL};
    assert_int_equal(cli(fx, &c, 2, a1), CN_ECONFIG);
    assert_string_equal(diag(fx), "cairn: unknown option '--foo=1' (see cairn --help)\n");

    reset_diag(fx);
    const char *a2[] = {"cairn", "--durability=maybe", NULL};
    assert_int_equal(cli(fx, &c, 2, a2), CN_ECONFIG);
    assert_string_equal(diag(fx), "cairn: option --durability: bad value 'maybe' for "
                                  "'durability': expected fsync or os\n");

    static const char *const bad[][3] = {
        {"cairn", "-c", NULL}, {"cairn", "--data-dir", NULL}, {"cairn", "extra", NULL},
        {"cairn", "-x", NULL}, {"cairn", "inspect", NULL},    {"cairn", "inspect", "--all"},
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(bad); i++) {
        int argc = bad[i][2] ? 3 : 2;
        if (cli(fx, &c, argc, bad[i]) != CN_ECONFIG)
            fail_msg("argv %zu was accepted", i);
    }
}

static void test_cli_actions(void **state)
{
    fx_t *fx = *state;
    srv_cli_t c;
    const char *a1[] = {"cairn", "--bogus", "--help", NULL};
    /* Unknown options before --help are still reported. */
    assert_int_equal(cli(fx, &c, 3, a1), CN_ECONFIG);
    const char *a2[] = {"cairn", "-h", "--bogus", NULL};
    assert_int_equal(cli(fx, &c, 3, a2), 0);
    assert_int_equal(c.action, SRV_ACT_HELP);
    const char *a3[] = {"cairn", "--version", NULL};
    assert_int_equal(cli(fx, &c, 2, a3), 0);
    assert_int_equal(c.action, SRV_ACT_VERSION);
    const char *a4[] = {"cairn", "--print-config", "--retention=2w", NULL};
    assert_int_equal(cli(fx, &c, 3, a4), 0);
    assert_int_equal(c.action, SRV_ACT_PRINT_CONFIG);
    assert_int_equal(fx->cfg.retention_ns, 14LL * 86400 * 1000000000LL);
    const char *a5[] = {"cairn", "inspect", "--verbose", "/data", NULL};
    assert_int_equal(cli(fx, &c, 4, a5), 0);
    assert_int_equal(c.action, SRV_ACT_INSPECT);
    assert_true(c.inspect_verbose);
    assert_string_equal(c.inspect_dir, "/data");
    const char *a6[] = {"cairn", "inspect", "/data", NULL};
    assert_int_equal(cli(fx, &c, 3, a6), 0);
    assert_false(c.inspect_verbose);
}

static void test_help_lists_every_key(void **state)
{
    (void)state;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    srv_cfg_help(f);
    fclose(f);
    for (size_t i = 0; srv_cfg_key(i); i++) {
        char want[96];
        snprintf(want, sizeof want, "\n  --%s=", srv_cfg_key(i));
        if (!strstr(out, want))
            fail_msg("--help does not list %s", srv_cfg_key(i));
    }
    assert_non_null(strstr(out, "--durability=fsync|os\n"));
    assert_non_null(strstr(out, "(default: ./cairn-data)"));
    assert_non_null(strstr(out, "(default: 256M)"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_valid_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key_names_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key_suggestion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_without_equals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_value_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_values_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_durations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_addresses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_overrides_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_config_file_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_usage_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_actions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_help_lists_every_key, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
