/* SPDX-License-Identifier: MIT */
/*
 * test_parser.c - query/lexer.c, parser.c, parser_stmt.c and ast.c: golden
 * tests (input -> canonical printed form, which must also print back to
 * itself), the shape of trees where precedence decides, every literal form
 * down to its value, the literal helpers, and syntax errors with their
 * exact InfluxDB-style message and position.
 */
#include "ast.h"
#include "rx.h"

#include <stdio.h>
#include <stdlib.h>

/* cmocka.h needs these first; keep clang-format from sorting them after it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

/* --------------------------------------------------------------- helpers */

/* Parses s and returns its canonical text (owned) or NULL on error, with
 * the message in *err. */
static char *canon(const char *s, qry_error_t *err)
{
    qry_query_t *q = NULL;
    if (qry_parse(s, strlen(s), &q, err) < 0)
        return NULL;
    cn_buf_t b;
    cn_buf_init(&b);
    qry_print_query(q, &b);
    char *out = cn_strndup((const char *)b.p, b.len);
    cn_buf_free(&b);
    qry_query_free(q);
    return out;
}

typedef int (*parse_fn)(const char *, size_t, qry_query_t **, qry_error_t *);

static qry_query_t *must(parse_fn parse, const char *s)
{
    qry_query_t *q = NULL;
    qry_error_t err;
    int rc = parse(s, strlen(s), &q, &err);
    if (rc < 0)
        print_message("parse of [%s] failed: %s\n", s, err.msg);
    assert_int_equal(rc, 0);
    return q;
}

#define must_parse(s)      must(qry_parse, s)
#define must_parse_expr(s) must(qry_parse_expr, s)

static qry_expr_t *cond_of(qry_query_t *q)
{
    assert_int_equal(q->nstmts, 1);
    assert_int_equal(q->stmts[0].kind, QRY_STMT_SELECT);
    return q->stmts[0].u.select->cond;
}

/* ---------------------------------------------------------------- goldens */

typedef struct golden {
    const char *in;
    const char *out; /* NULL: the input is already canonical */
} golden_t;

static const golden_t goldens[] = {
    /* SELECT basics, from the InfluxDB "explore data" examples */
    {"SELECT * FROM h2o_feet", NULL},
    {"select * from h2o_feet limit 10", "SELECT * FROM h2o_feet LIMIT 10"},
    {"SELECT \"level description\",\"location\",\"water_level\" FROM \"h2o_feet\"",
     "SELECT \"level description\", location, water_level FROM h2o_feet"},
    {"SELECT \"level description\"::field,\"location\"::tag,\"water_level\"::field FROM "
     "\"h2o_feet\"",
     "SELECT \"level description\"::field, location::tag, water_level::field FROM h2o_feet"},
    {"SELECT *::field FROM \"h2o_feet\"", "SELECT *::field FROM h2o_feet"},
    {"SELECT (\"water_level\" * 2) + 4 FROM \"h2o_feet\"",
     "SELECT water_level * 2 + 4 FROM h2o_feet"},
    {"SELECT \"water_level\" * (2 + 4) FROM \"h2o_feet\"",
     "SELECT water_level * (2 + 4) FROM h2o_feet"},
    {"SELECT * FROM \"NOAA_water_database\".\"autogen\".\"h2o_feet\"",
     "SELECT * FROM NOAA_water_database.autogen.h2o_feet"},
    {"SELECT * FROM \"NOAA_water_database\"..\"h2o_feet\"",
     "SELECT * FROM NOAA_water_database..h2o_feet"},
    {"SELECT * FROM autogen.h2o_feet", NULL},
    {"SELECT * FROM \"h2o_feet\",\"h2o_pH\"", "SELECT * FROM h2o_feet, h2o_pH"},
    {"SELECT * FROM \"h2o_feet\" WHERE \"water_level\" > 8",
     "SELECT * FROM h2o_feet WHERE water_level > 8"},
    {"SELECT * FROM \"h2o_feet\" WHERE \"level description\" = 'below 3 feet'",
     "SELECT * FROM h2o_feet WHERE \"level description\" = 'below 3 feet'"},
    {"SELECT * FROM \"h2o_feet\" WHERE \"water_level\" + 2 > 11.9",
     "SELECT * FROM h2o_feet WHERE water_level + 2 > 11.9"},
    {"SELECT \"water_level\" FROM \"h2o_feet\" WHERE \"location\" <> 'santa_monica' AND "
     "(water_level < -0.59 OR water_level > 9.95)",
     "SELECT water_level FROM h2o_feet WHERE location != 'santa_monica' AND (water_level < -0.59 "
     "OR water_level > 9.95)"},
    {"SELECT * FROM \"h2o_feet\" WHERE time > now() - 7d",
     "SELECT * FROM h2o_feet WHERE time > now() - 1w"},
    {"SELECT MEAN(\"water_level\") FROM \"h2o_feet\" GROUP BY \"location\"",
     "SELECT mean(water_level) FROM h2o_feet GROUP BY location"},
    {"SELECT MEAN(\"index\") FROM \"h2o_quality\" GROUP BY location,randtag",
     "SELECT mean(index) FROM h2o_quality GROUP BY location, randtag"},
    {"SELECT MEAN(\"index\") FROM \"h2o_quality\" GROUP BY *",
     "SELECT mean(index) FROM h2o_quality GROUP BY *"},
    {"SELECT COUNT(\"water_level\") FROM \"h2o_feet\" WHERE \"location\"='coyote_creek' AND time "
     ">= '2015-08-18T00:00:00Z' AND time <= '2015-08-18T00:30:00Z' GROUP BY time(12m)",
     "SELECT count(water_level) FROM h2o_feet WHERE location = 'coyote_creek' AND time >= "
     "'2015-08-18T00:00:00Z' AND time <= '2015-08-18T00:30:00Z' GROUP BY time(12m)"},
    {"SELECT COUNT(\"water_level\") FROM \"h2o_feet\" WHERE time >= '2015-08-18T00:00:00Z' AND "
     "time <= '2015-08-18T00:30:00Z' GROUP BY time(12m),\"location\"",
     "SELECT count(water_level) FROM h2o_feet WHERE time >= '2015-08-18T00:00:00Z' AND time <= "
     "'2015-08-18T00:30:00Z' GROUP BY time(12m), location"},
    {"SELECT MEAN(\"water_level\") FROM \"h2o_feet\" WHERE \"location\"='coyote_creek' AND time "
     ">= '2015-08-18T00:06:00Z' AND time <= '2015-08-18T00:54:00Z' GROUP BY time(18m,6m)",
     "SELECT mean(water_level) FROM h2o_feet WHERE location = 'coyote_creek' AND time >= "
     "'2015-08-18T00:06:00Z' AND time <= '2015-08-18T00:54:00Z' GROUP BY time(18m, 6m)"},
    {"SELECT mean(water_level) FROM h2o_feet GROUP BY time(18m, -12m)", NULL},
    {"SELECT MAX(\"water_level\") FROM \"h2o_feet\" WHERE \"location\"='coyote_creek' AND time "
     ">= '2015-09-18T16:00:00Z' AND time <= '2015-09-18T16:42:00Z' GROUP BY time(12m) fill(100)",
     "SELECT max(water_level) FROM h2o_feet WHERE location = 'coyote_creek' AND time >= "
     "'2015-09-18T16:00:00Z' AND time <= '2015-09-18T16:42:00Z' GROUP BY time(12m) fill(100)"},
    {"SELECT max(x) FROM m GROUP BY time(1h) fill(linear)", NULL},
    {"SELECT max(x) FROM m GROUP BY time(1h) FILL(None)",
     "SELECT max(x) FROM m GROUP BY time(1h) fill(none)"},
    {"SELECT max(x) FROM m GROUP BY time(1h) fill(null)", NULL},
    {"SELECT max(x) FROM m GROUP BY time(1h) fill(previous)", NULL},
    {"SELECT max(x) FROM m GROUP BY time(1h) fill(-1.5)", NULL},
    {"SELECT max(x) FROM m GROUP BY time(1h) fill(-3)", NULL},
    {"SELECT MEAN(\"water_level\") INTO \"where_else\".\"autogen\".\"h2o_feet_copy\" FROM "
     "\"h2o_feet\" WHERE time >= '2015-08-18T00:00:00Z' GROUP BY time(12m)",
     "SELECT mean(water_level) INTO where_else.autogen.h2o_feet_copy FROM h2o_feet WHERE time >= "
     "'2015-08-18T00:00:00Z' GROUP BY time(12m)"},
    {"SELECT * INTO \"copy_NOAA_water_database\".\"autogen\".:MEASUREMENT FROM "
     "\"NOAA_water_database\".\"autogen\"./.*/ GROUP BY *",
     "SELECT * INTO copy_NOAA_water_database.autogen.:MEASUREMENT FROM "
     "NOAA_water_database.autogen./.*/ GROUP BY *"},
    {"SELECT mean(\"value\") INTO \"cpu_1h\".:MEASUREMENT FROM /cpu.*/",
     "SELECT mean(value) INTO cpu_1h.:MEASUREMENT FROM /cpu.*/"},
    {"SELECT \"water_level\" FROM \"h2o_feet\" WHERE \"location\" = 'santa_monica' ORDER BY time "
     "DESC",
     "SELECT water_level FROM h2o_feet WHERE location = 'santa_monica' ORDER BY time DESC"},
    {"SELECT x FROM m ORDER BY time ASC", "SELECT x FROM m"},
    {"SELECT x FROM m ORDER BY desc", "SELECT x FROM m ORDER BY time DESC"},
    {"SELECT \"water_level\",\"location\" FROM \"h2o_feet\" LIMIT 3 OFFSET 3",
     "SELECT water_level, location FROM h2o_feet LIMIT 3 OFFSET 3"},
    {"SELECT \"water_level\" FROM \"h2o_feet\" GROUP BY * SLIMIT 1 SOFFSET 1",
     "SELECT water_level FROM h2o_feet GROUP BY * SLIMIT 1 SOFFSET 1"},
    {"SELECT x FROM m LIMIT 2 OFFSET 1 SLIMIT 3 SOFFSET 4 tz('Europe/Berlin')", NULL},
    {"SELECT \"water_level\" FROM \"h2o_feet\" WHERE \"location\" = 'santa_monica' AND time >= "
     "'2015-08-18T00:00:00Z' AND time <= '2015-08-18T00:18:00Z' tz('America/Chicago')",
     "SELECT water_level FROM h2o_feet WHERE location = 'santa_monica' AND time >= "
     "'2015-08-18T00:00:00Z' AND time <= '2015-08-18T00:18:00Z' tz('America/Chicago')"},
    {"SELECT mean(\"value\") FROM \"cpu\" GROUP BY region, time(1d) fill(0) tz('America/Chicago')",
     "SELECT mean(value) FROM cpu GROUP BY region, time(1d) fill(0) tz('America/Chicago')"},
    {"SELECT SUM(\"max\") FROM (SELECT MAX(\"water_level\") FROM \"h2o_feet\" GROUP BY "
     "\"location\")",
     "SELECT sum(max) FROM (SELECT max(water_level) FROM h2o_feet GROUP BY location)"},
    {"SELECT MEAN(\"difference\") FROM (SELECT \"cats\" - \"dogs\" AS \"difference\" FROM "
     "\"pet_daycare\")",
     "SELECT mean(difference) FROM (SELECT cats - dogs AS difference FROM pet_daycare)"},
    {"SELECT a FROM (SELECT b AS a FROM (SELECT c AS b FROM m)), n", NULL},
    {"SELECT derivative(mean(x), 1s) FROM m WHERE time > now() - 1h GROUP BY time(10s)", NULL},
    {"SELECT non_negative_derivative(max(bytes), 1m) AS rate FROM net GROUP BY time(1m), host",
     NULL},
    {"SELECT percentile(v, 95), moving_average(mean(v), 3) FROM m GROUP BY time(5m)", NULL},
    {"SELECT COUNT(DISTINCT(\"level description\")) FROM \"h2o_feet\"",
     "SELECT count(distinct(\"level description\")) FROM h2o_feet"},
    {"SELECT DISTINCT \"level description\" FROM \"h2o_feet\"",
     "SELECT distinct(\"level description\") FROM h2o_feet"},
    {"SELECT count(*) FROM m", NULL},
    {"SELECT mean(/temp.*/) FROM m", NULL},
    {"SELECT /l/ FROM \"h2o_feet\" LIMIT 1", "SELECT /l/ FROM h2o_feet LIMIT 1"},
    {"SELECT top(\"water_level\",\"location\",2) FROM \"h2o_feet\"",
     "SELECT top(water_level, location, 2) FROM h2o_feet"},
    {"SELECT TOP(\"water_level\",3), \"location\" FROM \"h2o_feet\" GROUP BY time(24m) ORDER BY "
     "time DESC",
     "SELECT top(water_level, 3), location FROM h2o_feet GROUP BY time(24m) ORDER BY time DESC"},
    {"SELECT BOTTOM(\"water_level\", \"location\", \"fleet\", 2) FROM \"h2o_feet\"",
     "SELECT bottom(water_level, location, fleet, 2) FROM h2o_feet"},
    {"SELECT SAMPLE(\"water_level\",2) FROM \"h2o_feet\"",
     "SELECT sample(water_level, 2) FROM h2o_feet"},
    {"SELECT sample(*, 2) FROM m", NULL},
    {"SELECT top(v, -1) FROM m", NULL},
    {"SELECT \"water_level\"::float, \"water_level\"::integer, x::string, y::boolean, "
     "z::unsigned FROM \"h2o_feet\"",
     "SELECT water_level::float, water_level::integer, x::string, y::boolean, z::unsigned FROM "
     "h2o_feet"},
    {"SELECT x AS \"my alias\" FROM m", NULL},
    {"SELECT \"select\", \"from\" AS \"where\" FROM \"order\"", NULL},
    {"SELECT \"a \\\"quoted\\\" name\" FROM \"m\\\\x\"", NULL},
    {"SELECT \"1h\", \"anything really\", \"1_Crazy-1337.identifier>NAME\" FROM _cpu_stats", NULL},
    /* WHERE forms */
    {"SELECT * FROM m WHERE host = 'a' AND region =~ /us-.*/", NULL},
    {"SELECT * FROM m WHERE host !~ /^web\\/[0-9]+$/", NULL},
    {"SELECT * FROM m WHERE time > 1439856000000000000", NULL},
    {"SELECT * FROM m WHERE time > 1439856000s", "SELECT * FROM m WHERE time > 16665d"},
    {"SELECT * FROM m WHERE time >= '2015-08-18 00:00:00.000' AND time < '2015-08-19'",
     "SELECT * FROM m WHERE time >= '2015-08-18T00:00:00Z' AND time < '2015-08-19T00:00:00Z'"},
    {"SELECT * FROM m WHERE time > '2015-09-18T21:24:00Z' + 6m",
     "SELECT * FROM m WHERE time > '2015-09-18T21:24:00Z' + 6m"},
    {"SELECT * FROM m WHERE time > '2015-09-18T23:24:00+02:00'",
     "SELECT * FROM m WHERE time > '2015-09-18T21:24:00Z'"},
    {"SELECT * FROM m WHERE time = '2015-09-18T21:24:00.123456789Z'", NULL},
    {"SELECT * FROM m WHERE time > now() - 1h30m AND time < now() + 5m",
     "SELECT * FROM m WHERE time > now() - 90m AND time < now() + 5m"},
    {"SELECT * FROM m WHERE t = 'not a time'", NULL},
    {"SELECT * FROM m WHERE \"on\" = true OR off = FALSE",
     "SELECT * FROM m WHERE \"on\" = true OR off = false"},
    {"SELECT * FROM m WHERE host = $host AND time > $from", NULL},
    {"SELECT * FROM m WHERE (a = 1 OR b = 2) AND c = 3", NULL},
    {"SELECT * FROM m WHERE a = 1 OR b = 2 AND c = 3", NULL},
    {"SELECT * FROM m WHERE ((a = 1))", "SELECT * FROM m WHERE a = 1"},
    {"SELECT a - (b - c), (a - b) - c, a / (b * c), a % b & c | d ^ e FROM m",
     "SELECT a - (b - c), a - b - c, a / (b * c), a % b & c | d ^ e FROM m"},
    {"SELECT a | (b ^ c), (a | b) ^ c, a * (b % c) FROM m WHERE a = (b = c)",
     "SELECT a | (b ^ c), a | b ^ c, a * (b % c) FROM m WHERE a = (b = c)"},
    {"SELECT 1e20, 1.5e-300, 123456.789, 0.000123, -0.0, 1e16, 1e17 FROM m",
     "SELECT 1e+20, 1.5e-300, 123456.789, 0.000123, -0.0, 10000000000000000.0, 1e+17 FROM m"},
    {"SELECT -x, -(a + b), - -5, -(-x), 3 - -2 FROM m",
     "SELECT -x, -(a + b), -(-5), -(-x), 3 - -2 FROM m"},
    {"SELECT - -0, -(0), -(0s), -(0.0), - -0.0, -(5) FROM m",
     "SELECT -(0), -(0), -(0s), -0.0, -(-0.0), -5 FROM m"},
    {"SELECT 1.5e3, .5, 2.50, 1E-7, 10.0, 9223372036854775807, -9223372036854775808 FROM m",
     "SELECT 1500.0, 0.5, 2.5, 1e-07, 10.0, 9223372036854775807, -9223372036854775808 FROM m"},
    {"SELECT x FROM m WHERE s = 'it\\'s a \\\\ \\n test'", NULL},
    {"SELECT x FROM m -- a comment\nWHERE /* block\ncomment */ y > 1",
     "SELECT x FROM m WHERE y > 1"},
    {"SELECT x FROM m WHERE d > 1ns + 1u + 1µ + 1ms + 1s + 1m + 1h + 1d + 1w",
     "SELECT x FROM m WHERE d > 1ns + 1u + 1u + 1ms + 1s + 1m + 1h + 1d + 1w"},
    {"SELECT x FROM m WHERE d > 1h30m AND e < 1d12h AND f = 2h1s AND g = 60s AND h = 1500ms",
     "SELECT x FROM m WHERE d > 90m AND e < 36h AND f = 7201s AND g = 1m AND h = 1500ms"},
    {"SELECT x FROM m WHERE host =~ /a\\/b/ AND path =~ /\\d+\\.\\d+/", NULL},
    /* several statements */
    {"SELECT a FROM m; SELECT b FROM n", NULL},
    {";;SELECT a FROM m;;", "SELECT a FROM m"},
    {"", ""},
    {"SHOW DATABASES; SHOW MEASUREMENTS", NULL},
    /* SHOW */
    {"show databases", "SHOW DATABASES"},
    {"SHOW MEASUREMENTS ON \"NOAA_water_database\"", "SHOW MEASUREMENTS ON NOAA_water_database"},
    {"SHOW MEASUREMENTS WHERE \"region\" = 'uswest' AND \"host\" = 'serverA'",
     "SHOW MEASUREMENTS WHERE region = 'uswest' AND host = 'serverA'"},
    {"SHOW MEASUREMENTS WITH MEASUREMENT =~ /h2o.*/", NULL},
    {"SHOW MEASUREMENTS ON db WITH MEASUREMENT = cpu WHERE a = 'b' LIMIT 2 OFFSET 1", NULL},
    {"SHOW TAG KEYS", NULL},
    {"SHOW TAG KEYS FROM \"cpu\"", "SHOW TAG KEYS FROM cpu"},
    /* 1.6.7 takes SLIMIT / SOFFSET here and ignores them */
    {"SHOW TAG KEYS FROM cpu LIMIT 2 SLIMIT 1 SOFFSET 3", "SHOW TAG KEYS FROM cpu LIMIT 2"},
    /* a cast on a GROUP BY tag is taken (Grafana writes "host"::tag) */
    {"SELECT mean(v) FROM m GROUP BY time(1m), \"host\"::tag, zone::field",
     "SELECT mean(v) FROM m GROUP BY time(1m), host, zone"},
    {"SHOW TAG KEYS FROM \"cpu\" WHERE \"region\" = 'uswest'",
     "SHOW TAG KEYS FROM cpu WHERE region = 'uswest'"},
    {"SHOW TAG KEYS ON \"NOAA_water_database\" FROM \"h2o_quality\" LIMIT 1 OFFSET 1",
     "SHOW TAG KEYS ON NOAA_water_database FROM h2o_quality LIMIT 1 OFFSET 1"},
    {"SHOW TAG VALUES WITH KEY = \"region\"", "SHOW TAG VALUES WITH KEY = region"},
    {"SHOW TAG VALUES FROM \"cpu\" WITH KEY = \"region\"",
     "SHOW TAG VALUES FROM cpu WITH KEY = region"},
    {"SHOW TAG VALUES WITH KEY !~ /.*c.*/", NULL},
    {"SHOW TAG VALUES WITH KEY != host", NULL},
    {"SHOW TAG VALUES WITH KEY =~ /^dev/ LIMIT 10", NULL},
    {"SHOW TAG VALUES FROM \"cpu\" WITH KEY IN (\"region\", \"host\") WHERE \"service\" = "
     "'redis'",
     "SHOW TAG VALUES FROM cpu WITH KEY IN (region, host) WHERE service = 'redis'"},
    {"SHOW FIELD KEYS", NULL},
    {"SHOW FIELD KEYS FROM \"cpu\"", "SHOW FIELD KEYS FROM cpu"},
    {"SHOW FIELD KEYS ON db FROM /h2o.*/", NULL},
    {"SHOW SERIES", NULL},
    {"SHOW SERIES FROM \"telegraf\".\"autogen\".\"cpu\" WHERE cpu = 'cpu8'",
     "SHOW SERIES FROM telegraf.autogen.cpu WHERE cpu = 'cpu8'"},
    {"SHOW SERIES ON db FROM m WHERE a = 'b' LIMIT 5 OFFSET 10", NULL},
    {"SHOW SERIES CARDINALITY", NULL},
    {"SHOW SERIES EXACT CARDINALITY ON db FROM m, /c.*/ WHERE a = 'b' GROUP BY \"host\", dc "
     "LIMIT 1 OFFSET 2",
     "SHOW SERIES EXACT CARDINALITY ON db FROM m, /c.*/ WHERE a = 'b' GROUP BY host, dc LIMIT 1 "
     "OFFSET 2"},
    {"SHOW MEASUREMENT CARDINALITY", NULL},
    {"SHOW MEASUREMENT EXACT CARDINALITY ON db FROM /m/ WHERE a = 'b'", NULL},
    {"SHOW TAG KEY CARDINALITY FROM cpu WHERE a = 'b'", NULL},
    {"SHOW TAG KEY EXACT CARDINALITY", NULL},
    {"SHOW TAG VALUES CARDINALITY WITH KEY = host", NULL},
    {"SHOW TAG VALUES EXACT CARDINALITY FROM cpu WITH KEY IN (host, dc) WHERE a = 'b'", NULL},
    {"SHOW FIELD KEY CARDINALITY", NULL},
    {"SHOW FIELD KEY EXACT CARDINALITY ON db FROM cpu", NULL},
    {"SHOW RETENTION POLICIES", NULL},
    {"SHOW RETENTION POLICIES ON \"mydb\"", "SHOW RETENTION POLICIES ON mydb"},
    {"SHOW CONTINUOUS QUERIES", NULL},
    {"CREATE CONTINUOUS QUERY cq1 ON iot BEGIN SELECT mean(v) INTO m_1m FROM m GROUP BY time(1m) "
     "END",
     NULL},
    {"CREATE CONTINUOUS QUERY \"cq 2\" ON \"iot\" RESAMPLE EVERY 30s FOR 2m BEGIN SELECT mean(v) "
     "INTO iot.autogen.:MEASUREMENT FROM /m/ WHERE host = 'a' GROUP BY time(1m, 15s), * fill(0) "
     "END",
     "CREATE CONTINUOUS QUERY \"cq 2\" ON iot RESAMPLE EVERY 30s FOR 2m BEGIN SELECT mean(v) "
     "INTO iot.autogen.:MEASUREMENT FROM /m/ WHERE host = 'a' GROUP BY time(1m, 15s), * fill(0) "
     "END"},
    {"CREATE CONTINUOUS QUERY c ON d RESAMPLE FOR 1h BEGIN SELECT count(v) INTO x FROM (SELECT v "
     "FROM m) GROUP BY time(1h) END",
     NULL},
    {"DROP CONTINUOUS QUERY \"cq 2\" ON iot", NULL},
    /* data definition */
    {"CREATE DATABASE \"foo\"", "CREATE DATABASE foo"},
    {"CREATE DATABASE \"bar\" WITH DURATION 1d REPLICATION 1 SHARD DURATION 30m NAME \"myrp\"",
     "CREATE DATABASE bar WITH DURATION 1d REPLICATION 1 SHARD DURATION 30m NAME myrp"},
    {"CREATE DATABASE \"mydb\" WITH NAME \"myrp\"", "CREATE DATABASE mydb WITH NAME myrp"},
    {"CREATE DATABASE db WITH DURATION INF", NULL},
    {"DROP DATABASE \"mydb\"", "DROP DATABASE mydb"},
    {"DROP MEASUREMENT \"cpu\"", "DROP MEASUREMENT cpu"},
    {"DROP SERIES FROM \"telegraf\".\"autogen\".\"cpu\" WHERE cpu = 'cpu8'",
     "DROP SERIES FROM telegraf.autogen.cpu WHERE cpu = 'cpu8'"},
    {"DROP SERIES WHERE host = 'a'", NULL},
    {"DROP SERIES FROM m1, m2", NULL},
    {"DELETE FROM \"cpu\"", "DELETE FROM cpu"},
    {"DELETE FROM \"cpu\" WHERE time < '2000-01-01T00:00:00Z'",
     "DELETE FROM cpu WHERE time < '2000-01-01T00:00:00Z'"},
    {"DELETE WHERE time < '2000-01-01T00:00:00Z'", NULL},
    {"DELETE FROM /cpu.*/ WHERE host = 'a' AND time > now() - 1d", NULL},
    {"CREATE RETENTION POLICY \"10m.events\" ON \"somedb\" DURATION 60m REPLICATION 2",
     "CREATE RETENTION POLICY \"10m.events\" ON somedb DURATION 1h REPLICATION 2"},
    {"CREATE RETENTION POLICY \"10m.events\" ON \"somedb\" DURATION 60m REPLICATION 2 DEFAULT",
     "CREATE RETENTION POLICY \"10m.events\" ON somedb DURATION 1h REPLICATION 2 DEFAULT"},
    {"CREATE RETENTION POLICY \"10m.events\" ON \"somedb\" DURATION 60m REPLICATION 2 SHARD "
     "DURATION 30m",
     "CREATE RETENTION POLICY \"10m.events\" ON somedb DURATION 1h REPLICATION 2 SHARD DURATION "
     "30m"},
    {"CREATE RETENTION POLICY rp ON db DURATION INF REPLICATION 1 SHARD DURATION 1w DEFAULT", NULL},
    {"ALTER RETENTION POLICY \"1h.cpu\" ON \"mydb\" DEFAULT",
     "ALTER RETENTION POLICY \"1h.cpu\" ON mydb DEFAULT"},
    {"ALTER RETENTION POLICY \"policy1\" ON \"somedb\" DURATION 1h REPLICATION 4",
     "ALTER RETENTION POLICY policy1 ON somedb DURATION 1h REPLICATION 4"},
    {"ALTER RETENTION POLICY rp ON db DEFAULT SHARD DURATION 2h DURATION 3d",
     "ALTER RETENTION POLICY rp ON db DURATION 3d SHARD DURATION 2h DEFAULT"},
    {"DROP RETENTION POLICY \"1h.cpu\" ON \"mydb\"", "DROP RETENTION POLICY \"1h.cpu\" ON mydb"},
    /* query management */
    {"SHOW QUERIES", NULL},
    {"show queries; kill query 36", "SHOW QUERIES; KILL QUERY 36"},
    {"KILL QUERY 0", NULL},
    {"KILL QUERY 36 ON \"host-1\"", NULL},
    {"KILL QUERY 9223372036854775807 ON h1", NULL},
    /* the rule language's SQL operators (contextual words, parser.c NOTES 5) */
    {"SELECT a FROM m WHERE host in ('a','b') and not x > 1",
     "SELECT a FROM m WHERE host IN ('a', 'b') AND NOT x > 1"},
    {"SELECT a FROM m WHERE host NOT IN (1) OR nm not like 'ab\\\\%'",
     "SELECT a FROM m WHERE host NOT IN (1) OR nm NOT LIKE 'ab\\\\%'"},
    {"SELECT a FROM m WHERE x is null AND y Is Not Null",
     "SELECT a FROM m WHERE x IS NULL AND y IS NOT NULL"},
    {"SELECT a FROM m WHERE NOT (a AND b) OR NOT NOT c", NULL},
    {"SELECT a FROM m WHERE (NOT a) = b AND b = (NOT c)", NULL},
    {"SELECT a FROM m WHERE a + b IS NULL = (c IS NULL)", NULL},
    {"SELECT a FROM m WHERE (a = b) IN (true, false)",
     "SELECT a FROM m WHERE a = b IN (true, false)"},
    {"SELECT a FROM m WHERE NOT (a IS NULL)", "SELECT a FROM m WHERE NOT a IS NULL"},
    {"SELECT a FROM m WHERE x LIKE 'a' + 'b' AND -(x IS NULL)", NULL},
    {"SELECT \"not\", \"is\", \"like\", \"NULL\" FROM m", NULL},
    {"SELECT not, is FROM m WHERE not = 1", "SELECT \"not\", \"is\" FROM m WHERE \"not\" = 1"},
    {"SELECT a.b.c, x.key + 1 FROM m", "SELECT \"a.b.c\", \"x.key\" + 1 FROM m"},
};

static void test_goldens(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < CN_ARRAY_LEN(goldens); i++) {
        const golden_t *g = &goldens[i];
        const char *want = g->out ? g->out : g->in;
        qry_error_t err;
        char *got = canon(g->in, &err);
        if (!got) {
            print_message("golden %zu [%s]: %s\n", i, g->in, err.msg);
            failed++;
            continue;
        }
        char *again = canon(got, &err);
        if (strcmp(got, want) != 0) {
            print_message("golden %zu [%s]\n  want [%s]\n  got  [%s]\n", i, g->in, want, got);
            failed++;
        } else if (!again || strcmp(again, got) != 0) {
            print_message("golden %zu [%s] does not print back to itself: [%s]\n", i, got,
                          again ? again : err.msg);
            failed++;
        }
        cn_free(got);
        cn_free(again);
    }
    assert_int_equal(failed, 0);
}

/* ------------------------------------------------------------- precedence */

typedef struct prec_case {
    const char *in;
    const char *tree; /* fully parenthesised */
} prec_case_t;

/* Renders e with every binary node in parentheses. */
static void tree(const qry_expr_t *e, cn_buf_t *b)
{
    if (e->kind != QRY_EXPR_BINARY) {
        qry_print_expr(e, b);
        return;
    }
    cn_buf_put_u8(b, '(');
    tree(e->u.bin.lhs, b);
    cn_buf_put_u8(b, ' ');
    cn_buf_put(b, qry_op_str(e->u.bin.op), strlen(qry_op_str(e->u.bin.op)));
    cn_buf_put_u8(b, ' ');
    tree(e->u.bin.rhs, b);
    cn_buf_put_u8(b, ')');
    cn_buf_put_u8(b, 0);
    b->len--;
}

static const prec_case_t precs[] = {
    {"a OR b AND c", "(a OR (b AND c))"},
    {"a AND b OR c", "((a AND b) OR c)"},
    {"a = 1 AND b = 2", "((a = 1) AND (b = 2))"},
    {"a + b * c", "(a + (b * c))"},
    {"a * b + c", "((a * b) + c)"},
    {"a - b - c", "((a - b) - c)"},
    {"a / b / c", "((a / b) / c)"},
    {"a + b > c * d", "((a + b) > (c * d))"},
    {"a | b & c", "(a | (b & c))"},
    {"a ^ b % c", "(a ^ (b % c))"},
    {"a & b | c ^ d", "(((a & b) | c) ^ d)"},
    {"(a + b) * c", "((a + b) * c)"},
    {"a < b = c", "((a < b) = c)"},
    {"a =~ /x/ OR b !~ /y/ AND c <> 'z'", "((a =~ /x/) OR ((b !~ /y/) AND (c != 'z')))"},
    {"time > now() - 1h AND time < now()", "((time > (now() - 1h)) AND (time < now()))"},
    {"-a * b", "(-a * b)"},
    {"-2 * 3 + 4", "((-2 * 3) + 4)"},
    {"NOT_A_KEYWORD or x", "(NOT_A_KEYWORD OR x)"},
};

static void test_precedence(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < CN_ARRAY_LEN(precs); i++) {
        qry_query_t *q = must_parse_expr(precs[i].in);
        cn_buf_t b;
        cn_buf_init(&b);
        tree(q->expr, &b);
        cn_buf_put_u8(&b, 0);
        if (strcmp((char *)b.p, precs[i].tree) != 0) {
            print_message("[%s]: want %s got %s\n", precs[i].in, precs[i].tree, (char *)b.p);
            failed++;
        }
        cn_buf_free(&b);
        qry_query_free(q);
    }
    assert_int_equal(failed, 0);
}

/* --------------------------------------------------------------- literals */

static void test_literal_values(void **state)
{
    (void)state;
    const char *src = "f(1h30m, -5s, 10u, 3µ, 2w, 42, -7, 2.5e-1, 'a\\'b', /a\\/b\\d/, true, $p1, "
                      "\"we\\\"ird\"::tag, *::field)";
    qry_query_t *q = must_parse_expr(src);
    const qry_expr_t *c = q->expr;
    assert_int_equal(c->kind, QRY_EXPR_CALL);
    assert_string_equal(c->u.call.name, "f");
    assert_int_equal(c->u.call.nargs, 14);
    qry_expr_t **a = c->u.call.args;
    assert_int_equal(a[0]->kind, QRY_EXPR_DURATION);
    assert_true(a[0]->u.i == INT64_C(5400000000000));
    assert_true(a[1]->u.i == INT64_C(-5000000000));
    assert_true(a[2]->u.i == 10000);
    assert_true(a[3]->u.i == 3000);
    assert_true(a[4]->u.i == INT64_C(1209600000000000));
    assert_int_equal(a[5]->kind, QRY_EXPR_INTEGER);
    assert_true(a[5]->u.i == 42);
    assert_true(a[6]->u.i == -7);
    assert_int_equal(a[7]->kind, QRY_EXPR_NUMBER);
    assert_true(a[7]->u.f == 0.25);
    assert_int_equal(a[8]->kind, QRY_EXPR_STRING);
    assert_string_equal(a[8]->u.s, "a'b");
    assert_int_equal(a[9]->kind, QRY_EXPR_REGEX);
    assert_string_equal(a[9]->u.s, "a/b\\d");
    assert_int_equal(a[10]->kind, QRY_EXPR_BOOL);
    assert_true(a[10]->u.b);
    assert_int_equal(a[11]->kind, QRY_EXPR_PARAM);
    assert_string_equal(a[11]->u.s, "p1");
    assert_int_equal(a[12]->kind, QRY_EXPR_VAR);
    assert_string_equal(a[12]->u.var.name, "we\"ird");
    assert_int_equal(a[12]->u.var.type, QRY_VT_TAG);
    assert_int_equal(a[13]->kind, QRY_EXPR_WILDCARD);
    assert_int_equal(a[13]->u.wild.type, QRY_VT_FIELD);
    assert_int_equal(a[13]->off, strstr(src, "*::field") - src);
    qry_query_free(q);
}

static void test_time_literals(void **state)
{
    (void)state;
    qry_query_t *q = must_parse("SELECT v FROM m WHERE time >= '2015-08-18T00:00:00Z' AND "
                                "'1970-01-01 00:00:01.5' < time AND t2 > '2015-08-18'");
    const qry_expr_t *c = cond_of(q);
    const qry_expr_t *l = c->u.bin.lhs->u.bin.lhs, *r = c->u.bin.lhs->u.bin.rhs;
    assert_int_equal(l->u.bin.rhs->kind, QRY_EXPR_TIME);
    assert_true(l->u.bin.rhs->u.i == INT64_C(1439856000000000000));
    assert_int_equal(r->u.bin.lhs->kind, QRY_EXPR_TIME);
    assert_true(r->u.bin.lhs->u.i == INT64_C(1500000000));
    assert_int_equal(c->u.bin.rhs->u.bin.rhs->kind, QRY_EXPR_STRING); /* not time */
    qry_query_free(q);

    int64_t ns = 0;
    assert_int_equal(qry_parse_time("1969-12-31T23:59:59.999999999Z", 30, &ns), 0);
    assert_true(ns == -1);
    assert_int_equal(qry_parse_time("2000-02-29", 10, &ns), 0);
    assert_int_equal(qry_parse_time("2001-02-29", 10, &ns), CN_EINVAL);
    assert_int_equal(qry_parse_time("2015-08-18T25:00:00Z", 20, &ns), CN_EINVAL);
    assert_int_equal(qry_parse_time("2300-01-01T00:00:00Z", 20, &ns), CN_EINVAL); /* > int64 */
    cn_buf_t b;
    cn_buf_init(&b);
    qry_format_time(-1, &b);
    cn_buf_put_u8(&b, 0);
    assert_string_equal((char *)b.p, "1969-12-31T23:59:59.999999999Z");
    /* every field's digits, trailing zeros of the fraction dropped, the
     * extremes of int64 (years 1677 and 2262) */
    static const struct {
        int64_t ns;
        const char *s;
    } tf[] = {
        {0, "1970-01-01T00:00:00Z"},
        {INT64_C(1767225600000000000), "2026-01-01T00:00:00Z"},
        {INT64_C(1767229199500000000), "2026-01-01T00:59:59.5Z"},
        {INT64_C(951782400123000000), "2000-02-29T00:00:00.123Z"},
        {INT64_C(1439856000000000001), "2015-08-18T00:00:00.000000001Z"},
        {INT64_C(1700000000010200300), "2023-11-14T22:13:20.0102003Z"},
        {INT64_MAX, "2262-04-11T23:47:16.854775807Z"},
        {INT64_MIN, "1677-09-21T00:12:43.145224192Z"},
        {INT64_C(-62135596800000000), "1968-01-12T20:06:43.2Z"},
    };
    for (size_t i = 0; i < sizeof tf / sizeof tf[0]; i++) {
        cn_buf_reset(&b);
        qry_format_time(tf[i].ns, &b);
        cn_buf_put_u8(&b, 0);
        assert_string_equal((char *)b.p, tf[i].s);
    }
    cn_buf_free(&b);
}

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t ns;
        const char *canon;
    } d[] = {
        {"1ns", 1, "1ns"},
        {"1500ms", 1500000000, "1500ms"},
        {"1h30m", INT64_C(5400000000000), "90m"},
        {"2d", INT64_C(172800000000000), "2d"},
        {"7d", INT64_C(604800000000000), "1w"},
        {"1m1s", 61000000000, "61s"},
        {"0s", 0, "0s"},
        {"1µ", 1000, "1u"},
        {"1u500ns", 1500, "1500ns"},
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(d); i++) {
        int64_t ns = -1;
        assert_int_equal(qry_parse_duration(d[i].in, strlen(d[i].in), &ns), 0);
        assert_true(ns == d[i].ns);
        cn_buf_t b;
        cn_buf_init(&b);
        qry_format_duration(ns, &b);
        cn_buf_put_u8(&b, 0);
        assert_string_equal((char *)b.p, d[i].canon);
        cn_buf_free(&b);
    }
    int64_t ns;
    assert_int_equal(qry_parse_duration("1x", 2, &ns), CN_EINVAL);
    assert_int_equal(qry_parse_duration("1h30", 4, &ns), CN_EINVAL);
    assert_int_equal(qry_parse_duration("", 0, &ns), CN_EINVAL);
    assert_int_equal(qry_parse_duration("99999999999w", 12, &ns), CN_ELIMIT);
}

static void test_select_struct(void **state)
{
    (void)state;
    const char *src =
        "SELECT mean(v) AS m, max(v) INTO db..out FROM db.rp.cpu, /mem.*/, (SELECT v FROM x) "
        "WHERE host = 'a' GROUP BY host, time(1h, -15m), /re/ fill(7) ORDER BY time DESC "
        "LIMIT 1 OFFSET 2 SLIMIT 3 SOFFSET 4 tz('UTC'); SHOW TAG VALUES WITH KEY IN (a, b)";
    qry_query_t *q = must_parse(src);
    assert_int_equal(q->nstmts, 2);
    const qry_select_t *s = q->stmts[0].u.select;
    assert_int_equal(s->nfields, 2);
    assert_string_equal(s->fields[0].alias, "m");
    assert_null(s->fields[1].alias);
    assert_string_equal(s->into->db, "db");
    assert_string_equal(s->into->rp, "");
    assert_string_equal(s->into->name, "out");
    assert_int_equal(s->nsources, 3);
    assert_string_equal(s->sources[0].db, "db");
    assert_string_equal(s->sources[0].rp, "rp");
    assert_string_equal(s->sources[0].name, "cpu");
    assert_int_equal(s->sources[1].kind, QRY_SRC_REGEX);
    assert_null(s->sources[1].db);
    assert_string_equal(s->sources[1].name, "mem.*");
    assert_int_equal(s->sources[2].kind, QRY_SRC_SUBQUERY);
    assert_int_equal(s->sources[2].sub->nfields, 1);
    assert_int_equal(s->ndims, 3);
    assert_ptr_equal(s->time_dim, &s->dims[1]);
    assert_true(s->time_dim->interval == INT64_C(3600000000000));
    assert_true(s->time_dim->offset == INT64_C(-900000000000));
    assert_int_equal(s->dims[0].kind, QRY_DIM_TAG);
    assert_int_equal(s->dims[2].kind, QRY_DIM_REGEX);
    assert_int_equal(s->fill, QRY_FILL_VALUE);
    assert_true(s->fill_value->u.i == 7);
    assert_true(s->order_desc);
    assert_true(s->limit == 1 && s->offset == 2 && s->slimit == 3 && s->soffset == 4);
    assert_string_equal(s->tz, "UTC");
    assert_int_equal(q->stmts[1].off, strstr(src, "SHOW") - src);
    const qry_show_t *sh = q->stmts[1].u.show;
    assert_int_equal(sh->kind, QRY_SHOW_TAG_VALUES);
    assert_int_equal(sh->key_op, QRY_OP_IN);
    assert_int_equal(sh->nkeys, 2);
    assert_string_equal(sh->keys[1], "b");
    qry_query_free(q);
}

static void test_ddl_struct(void **state)
{
    (void)state;
    qry_query_t *q = must_parse("CREATE RETENTION POLICY r ON d DURATION INF REPLICATION 3 "
                                "SHARD DURATION 2h DEFAULT; ALTER RETENTION POLICY r ON d "
                                "REPLICATION 2");
    const qry_ddl_t *c = q->stmts[0].u.ddl, *a = q->stmts[1].u.ddl;
    assert_int_equal(q->stmts[0].kind, QRY_STMT_CREATE_RP);
    assert_string_equal(c->name, "r");
    assert_string_equal(c->db, "d");
    assert_true(c->rp.has_duration && c->rp.duration == 0);
    assert_true(c->rp.replication == 3 && c->rp.is_default);
    assert_true(c->rp.has_shard && c->rp.shard_duration == INT64_C(7200000000000));
    assert_int_equal(q->stmts[1].kind, QRY_STMT_ALTER_RP);
    assert_false(a->rp.has_duration);
    assert_true(a->rp.has_replication && a->rp.replication == 2);
    qry_query_free(q);
    q = must_parse("KILL QUERY 42 ON \"h1\"; KILL QUERY 7; SHOW QUERIES");
    assert_int_equal(q->nstmts, 3);
    assert_int_equal(q->stmts[0].kind, QRY_STMT_KILL_QUERY);
    assert_int_equal(q->stmts[0].u.ddl->qid, 42);
    assert_string_equal(q->stmts[0].u.ddl->name, "h1");
    assert_int_equal(q->stmts[1].u.ddl->qid, 7);
    assert_null(q->stmts[1].u.ddl->name);
    assert_int_equal(q->stmts[2].kind, QRY_STMT_SHOW);
    assert_int_equal(q->stmts[2].u.show->kind, QRY_SHOW_QUERIES);
    qry_query_free(q);
}

/* ----------------------------------------------------------------- errors */

typedef struct err_case {
    const char *in;
    const char *msg;
} err_case_t;

#define EP "error parsing query: "

static const err_case_t errors[] = {
    {"SELECT x FROMM m", EP "found FROMM, expected FROM at line 1, char 10"},
    {"SELECT", EP "found EOF, expected identifier, string, number, bool at line 1, char 7"},
    {"select name from m", EP "found NAME, expected identifier, string, number, bool at line 1, "
                              "char 8"},
    {"SELECT * FROM", EP "found EOF, expected identifier, regex at line 1, char 14"},
    {"SELECT * FROM 'Measurement'", EP "found Measurement, expected identifier, regex at line 1, "
                                       "char 14"},
    {"SELECT * FROM Measurement", EP "found MEASUREMENT, expected identifier, regex at line 1, "
                                     "char 15"},
    {"SELEC * FROM m",
     EP "found SELEC, expected SELECT, DELETE, SHOW, CREATE, DROP, ALTER, KILL at "
        "line 1, char 1"},
    {"SELECT * FROM m WHERE", EP "found EOF, expected identifier, string, number, bool at line 1, "
                                 "char 22"},
    {"SELECT * FROM m WHERE (a = 1", EP "found EOF, expected ) at line 1, char 29"},
    {"SELECT x FROM m\nWHERE y = 'abc", EP "unterminated string at line 2, char 11"},
    {"SELECT \"x FROM m", EP "unterminated quoted identifier at line 1, char 8"},
    {"SELECT 'a\\q' FROM m", EP "bad escape in string at line 1, char 10"},
    {"SELECT x FROM m WHERE host =~ /abc", EP "unterminated regex at line 1, char 31"},
    /* comparisons and AND/OR belong in WHERE (InfluxDB's words; the last
     * one found, at the start of its field) */
    {"SELECT fv = 1 FROM m",
     EP "invalid operator = in SELECT clause at line 1, char 8; operator is "
        "intended for WHERE clause"},
    {"SELECT a, 1 + (b < 2) + (c AND d) FROM m",
     EP "invalid operator AND in SELECT clause at line 1, "
        "char 11; operator is intended for WHERE clause"},
    {"SELECT mean(x =~ /a/) FROM m", EP "invalid operator =~ in SELECT clause at line 1, char 8; "
                                        "operator is intended for WHERE clause"},
    /* the pattern compiles at parse time, as in InfluxDB: Go's words, the
     * part of the pattern they are about, the column of the '/' from 0 */
    {"SELECT x FROM m WHERE host =~ /a(b/", EP "error parsing regexp: missing closing ): `a(b` at "
                                               "line 1, char 30"},
    {"SELECT x FROM /[x/", EP "error parsing regexp: missing closing ]: `[x` at line 1, char 14"},
    {"SELECT x FROM m WHERE h !~ /x++/", EP "error parsing regexp: invalid nested repetition "
                                            "operator: `++` at line 1, char 27"},
    {"SELECT x FROM m /* never closed", EP "unterminated comment at line 1, char 17"},
    {"SELECT 10x FROM m", EP "invalid duration 10x at line 1, char 8"},
    {"SELECT x FROM m WHERE t > 1h30", EP "invalid duration 1h30 at line 1, char 27"},
    {"SELECT 9999999999999999w FROM m", EP "duration out of range at line 1, char 8"},
    {"SELECT 9223372036854775808 FROM m", EP "integer out of range at line 1, char 8"},
    {"SELECT 1e999 FROM m", EP "number out of range at line 1, char 8"},
    {"SELECT x FROM m # y", EP "illegal character '#' at line 1, char 17"},
    {"SELECT $ FROM m", EP "invalid bind parameter at line 1, char 8"},
    {"SELECT x FROM m LIMIT -1", EP "found -, expected integer at line 1, char 23"},
    {"SELECT x FROM m LIMIT 'a'", EP "found a, expected integer at line 1, char 22"},
    {"SELECT x FROM m GROUP time(1h)", EP "found time, expected BY at line 1, char 23"},
    {"SELECT x FROM m GROUP BY time(1h), time(2h)", EP "multiple time dimensions at line 1, char "
                                                       "36"},
    {"SELECT x FROM m GROUP BY time(10)", EP "found 10, expected duration at line 1, char 31"},
    {"SELECT x FROM m GROUP BY time(0s)", EP "time interval must be positive at line 1, char 26"},
    {"SELECT x FROM m GROUP BY 'a'", EP "found a, expected time(), identifier, regex, * at line 1, "
                                        "char 25"},
    {"SELECT x FROM m GROUP BY time(1h) fill(zero)",
     EP "found zero, expected null, none, "
        "previous, linear, number at line 1, char 40"},
    {"SELECT x FROM m ORDER BY host", EP "only ORDER BY time supported at this time at line 1, "
                                         "char 26"},
    {"SELECT x FROM m ORDER BY time DESC, host", EP "only ORDER BY time supported at this time "
                                                    "at line 1, char 35"},
    {"SELECT x::int FROM m", EP "found int, expected float, integer, unsigned, string, boolean, "
                                "field, tag at line 1, char 11"},
    {"SELECT *::float FROM m", EP "found float, expected field, tag at line 1, char 11"},
    {"SELECT mean(x FROM m", EP "found FROM, expected , or ) at line 1, char 15"},
    {"SELECT x FROM m extra", EP "found extra, expected ; at line 1, char 17"},
    {"SELECT x FROM m tz(Europe)", EP "found Europe, expected string at line 1, char 20"},
    {"SELECT x FROM (SHOW DATABASES)", EP "found SHOW, expected SELECT at line 1, char 16"},
    {"SELECT x FROM a.b.c.d", EP "found ., expected ; at line 1, char 20"},
    {"SHOW", EP "found EOF, expected CONTINUOUS, DATABASES, FIELD, MEASUREMENT, MEASUREMENTS, "
                "QUERIES, RETENTION, SERIES, TAG at line 1, char 5"},
    {"SHOW CONTINUOUS", EP "found EOF, expected QUERIES at line 1, char 16"},
    {"CREATE CONTINUOUS QUERY cq5 ON iot BEGIN SELECT mean(v) FROM m GROUP BY time(1m) END",
     EP "found FROM, expected INTO at line 1, char 57"},
    {"CREATE CONTINUOUS QUERY cq4 ON iot BEGIN SELECT mean(v) INTO m_1m FROM m END",
     EP "found m, expected GROUP BY time(...) at line 1, char 72"},
    {"CREATE CONTINUOUS QUERY cq4 ON iot BEGIN SELECT mean(v) INTO m_1m FROM m GROUP BY host END",
     EP "found host, expected GROUP BY time(...) at line 1, char 83"},
    /* InfluxDB 1.6.7 names the SELECT's last token, a keyword or a literal too */
    {"CREATE CONTINUOUS QUERY c ON iot BEGIN SELECT mean(v) INTO x FROM m WHERE a = 'b c' END",
     EP "found b c, expected GROUP BY time(...) at line 1, char 78"},
    {"SELECT * FROM m WHERE a = 'x' 'y'", EP "found y, expected ; at line 1, char 30"},
    {"SELECT * FROM m WHERE a = 'x' \"y\"", EP "found y, expected ; at line 1, char 31"},
    {"CREATE CONTINUOUS QUERY c ON iot BEGIN SELECT mean(v) INTO x FROM m fill(none) END",
     EP "found ), expected GROUP BY time(...) at line 1, char 78"},
    {"CREATE CONTINUOUS QUERY cq8 ON iot RESAMPLE FOR 30s BEGIN SELECT mean(v) INTO x FROM m "
     "GROUP BY time(1m) END",
     EP "FOR duration must be >= GROUP BY time duration: must be a minimum of 1m, got 30s at line "
        "1, char 45"},
    {"CREATE CONTINUOUS QUERY c ON iot RESAMPLE EVERY 10s FOR 5s BEGIN SELECT mean(v) INTO x "
     "FROM m GROUP BY time(5s) END",
     EP "FOR duration must be >= GROUP BY time duration: must be a minimum of 10s, got 5s at line "
        "1, char 53"},
    {"SELECT v FROM (SELECT v INTO x FROM m)",
     EP "INTO is not allowed in a subquery at line 1, char 25"},
    {"CREATE CONTINUOUS QUERY cq9 ON iot RESAMPLE BEGIN SELECT mean(v) INTO x FROM m GROUP BY "
     "time(1m) END",
     EP "found BEGIN, expected EVERY, FOR at line 1, char 45"},
    {"CREATE CONTINUOUS QUERY cq ON iot BEGIN SELECT mean(v) INTO x FROM m GROUP BY time(1m)",
     EP "found EOF, expected END at line 1, char 87"},
    {"CREATE CONTINUOUS QUERY cq ON iot BEGIN SHOW DATABASES END",
     EP "found SHOW, expected SELECT at line 1, char 41"},
    {"DROP CONTINUOUS QUERY cq1", EP "found EOF, expected ON at line 1, char 26"},
    {"SHOW TAG", EP "found EOF, expected KEY, KEYS, VALUES at line 1, char 9"},
    {"SHOW FIELD KEY FROM m", EP "found FROM, expected EXACT, CARDINALITY at line 1, char 16"},
    {"SHOW SERIES EXACT FROM m", EP "found FROM, expected CARDINALITY at line 1, char 19"},
    {"SHOW MEASUREMENT CARDINALITY WITH MEASUREMENT = m",
     EP "found WITH, expected ; at line 1, char 30"},
    {"SHOW TAG KEY CARDINALITY GROUP BY host", EP "found GROUP, expected ; at line 1, char 26"},
    {"SHOW SERIES CARDINALITY GROUP BY time(1h)", EP "found (, expected ; at line 1, char 38"},
    {"SELECT cardinality FROM m", EP "found CARDINALITY, expected identifier, string, number, "
                                     "bool at line 1, char 8"},
    {"SHOW TAG VALUES FROM cpu", EP "found EOF, expected WITH at line 1, char 25"},
    {"SHOW TAG VALUES WITH KEY region", EP "found region, expected =, !=, =~, !~, IN at line 1, "
                                           "char 26"},
    {"SHOW TAG VALUES WITH KEY =~ 'x'", EP "found x, expected regex at line 1, char 28"},
    {"SHOW MEASUREMENTS WITH MEASUREMENT =~ cpu", EP "found cpu, expected regex at line 1, char "
                                                     "39"},
    {"SHOW FIELD KEYS WHERE a = 1", EP "found WHERE, expected ; at line 1, char 17"},
    {"CREATE TABLE x", EP "found TABLE, expected CONTINUOUS, DATABASE, RETENTION at line 1, char "
                          "8"},
    {"CREATE DATABASE", EP "found EOF, expected identifier at line 1, char 16"},
    {"CREATE DATABASE d WITH", EP "found EOF, expected DURATION, REPLICATION, SHARD, NAME at line "
                                  "1, char 23"},
    {"CREATE RETENTION POLICY r ON d DURATION 1d", EP "found EOF, expected REPLICATION at line 1, "
                                                      "char 43"},
    {"CREATE RETENTION POLICY r ON d DURATION 1d REPLICATION 0", EP "invalid value 0: must be 1 "
                                                                    "<= n <= 2147483647 at line 1, "
                                                                    "char 56"},
    {"CREATE RETENTION POLICY r d DURATION 1d REPLICATION 1", EP "found d, expected ON at line 1, "
                                                                 "char 27"},
    {"ALTER RETENTION POLICY r ON d", EP "found EOF, expected DURATION, REPLICATION, SHARD, "
                                         "DEFAULT at line 1, char 30"},
    {"ALTER RETENTION POLICY r ON d DEFAULT DEFAULT", EP "found DEFAULT, expected ; at line 1, "
                                                         "char 39"},
    {"DROP SERIES", EP "found EOF, expected FROM, WHERE at line 1, char 12"},
    {"DELETE", EP "found EOF, expected FROM, WHERE at line 1, char 7"},
    {"KILL QUERY abc", EP "found abc, expected integer at line 1, char 12"},
    {"KILL 5", EP "found 5, expected QUERY at line 1, char 6"},
    {"KILL QUERY", EP "found EOF, expected integer at line 1, char 11"},
    {"KILL QUERY -1", EP "found -, expected integer at line 1, char 12"},
    {"KILL QUERY 1 ON", EP "found EOF, expected identifier at line 1, char 16"},
    {"KILL QUERY 1 2", EP "found 2, expected ; at line 1, char 14"},
    {"SHOW QUERIES ON db", EP "found ON, expected ; at line 1, char 14"},
    {"DROP TABLE t", EP "found TABLE, expected CONTINUOUS, DATABASE, MEASUREMENT, RETENTION, "
                        "SERIES at line 1, char 6"},
    {"SELECT x\n  FROM m\n  WHERE µ > 1", EP "illegal character 0xc2 at line 3, char 9"},
    {"SELECT \"é\" FROM m WHERE y = 'ü' AND", EP "found EOF, expected identifier, string, number, "
                                                 "bool at line 1, char 36"},
};

static void test_errors(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < CN_ARRAY_LEN(errors); i++) {
        qry_query_t *q = (qry_query_t *)1;
        qry_error_t err;
        int rc = qry_parse(errors[i].in, strlen(errors[i].in), &q, &err);
        if (rc != CN_EINVAL || q != NULL) {
            print_message("[%s] parsed (rc %d)\n", errors[i].in, rc);
            failed++;
            qry_query_free(rc == 0 ? q : NULL);
        } else if (strcmp(err.msg, errors[i].msg) != 0) {
            print_message("[%s]\n  want %s\n  got  %s\n", errors[i].in, errors[i].msg, err.msg);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

static void test_error_position(void **state)
{
    (void)state;
    qry_error_t err;
    qry_query_t *q = NULL;
    const char *s = "SELECT a FROM m;\nSELECT b\nFROM n WHERE";
    assert_int_equal(qry_parse(s, strlen(s), &q, &err), CN_EINVAL);
    assert_null(q);
    assert_int_equal(err.code, CN_EINVAL);
    assert_int_equal(err.off, strlen(s));
    assert_int_equal(err.line, 3);
    assert_int_equal(err.col, 13);
    /* a NULL error struct is allowed */
    assert_int_equal(qry_parse("SELECT", 6, &q, NULL), CN_EINVAL);
    /* the text need not be NUL-terminated: only len bytes are read */
    assert_int_equal(qry_parse("SHOW DATABASESxyz", 14, &q, &err), 0);
    assert_int_equal(q->nstmts, 1);
    qry_query_free(q);
}

static void test_limits(void **state)
{
    (void)state;
    size_t n = 5000;
    char *s = cn_malloc(n * 2 + 64);
    size_t k = (size_t)sprintf(s, "SELECT ");
    for (size_t i = 0; i < n; i++)
        s[k++] = '(';
    s[k++] = 'x';
    for (size_t i = 0; i < n; i++)
        s[k++] = ')';
    k += (size_t)sprintf(s + k, " FROM m");
    qry_query_t *q = NULL;
    qry_error_t err;
    assert_int_equal(qry_parse(s, k, &q, &err), CN_EINVAL);
    assert_non_null(strstr(err.msg, "nested too deeply"));
    /* a long flat chain is fine up to the depth cap, then refused */
    k = (size_t)sprintf(s, "SELECT x");
    for (size_t i = 0; i < 900; i++)
        k += (size_t)sprintf(s + k, "+x");
    k += (size_t)sprintf(s + k, " FROM m");
    assert_int_equal(qry_parse(s, k, &q, &err), 0);
    qry_query_free(q);
    k = (size_t)sprintf(s, "SELECT x");
    for (size_t i = 0; i < 1200; i++)
        k += (size_t)sprintf(s + k, "+x");
    k += (size_t)sprintf(s + k, " FROM m");
    assert_int_equal(qry_parse(s, k, &q, &err), CN_EINVAL);
    assert_non_null(strstr(err.msg, "expression nested too deeply"));
    cn_free(s);
    assert_int_equal(qry_parse("", (size_t)17 << 20, &q, &err), CN_ELIMIT);
}

static void test_expr_api(void **state)
{
    (void)state;
    qry_query_t *q = must_parse_expr("temperature > 30 AND device =~ /^dev-1/");
    assert_int_equal(q->nstmts, 0);
    assert_int_equal(q->expr->kind, QRY_EXPR_BINARY);
    assert_int_equal(q->expr->u.bin.op, QRY_OP_AND);
    assert_int_equal(q->expr->u.bin.rhs->off, 21);
    assert_int_equal(q->expr->depth, 3);
    cn_buf_t b;
    cn_buf_init(&b);
    qry_print_query(q, &b);
    assert_string_equal((char *)b.p, "temperature > 30 AND device =~ /^dev-1/");
    cn_buf_free(&b);
    qry_query_free(q);
    qry_error_t err;
    assert_int_equal(qry_parse_expr("a > 1 b", 7, &q, &err), CN_EINVAL);
    assert_string_equal(err.msg, EP "found b, expected EOF at line 1, char 7");
    qry_query_free(NULL);
}

/* ------------------------------------------------------ bound parameters */

/* Parses q with params (JSON) bound and returns the canonical text, or
 * the error message (both owned). */
static char *bound(const char *json, const char *q)
{
    qry_params_t *ps = NULL;
    qry_error_t err;
    if (json && qry_params_json(json, strlen(json), &ps, err.msg, sizeof err.msg) < 0)
        return cn_strdup(err.msg);
    qry_query_t *out = NULL;
    int rc = qry_parse_bound(q, strlen(q), ps, &out, &err);
    qry_params_free(ps);
    if (rc < 0)
        return cn_strdup(err.msg);
    cn_buf_t b;
    cn_buf_init(&b);
    qry_print_query(out, &b);
    char *text = cn_strndup((const char *)b.p, b.len);
    cn_buf_free(&b);
    qry_query_free(out);
    return text;
}

static void test_bound_params(void **state)
{
    (void)state;
    static const struct {
        const char *json, *q, *want;
    } cases[] = {
        /* bare JSON values: string, integer, float (a '.'), boolean */
        {"{\"d\":\"dev 1\",\"r\":2500,\"f\":2.5,\"b\":true}",
         "SELECT v FROM m WHERE d = $d AND r > $r AND f < $f AND b = $b",
         "SELECT v FROM m WHERE d = 'dev 1' AND r > 2500 AND f < 2.5 AND b = true"},
        {"{\"r\":2500}", "SELECT v FROM m WHERE r > -$r", "SELECT v FROM m WHERE r > -2500"},
        /* typed objects: identifiers anywhere a name stands, regex, duration */
        {"{\"m\":{\"identifier\":\"my m\"},\"f\":{\"identifier\":\"rpm\"},\"t\":{\"identifier\":"
         "\"fleet\"},\"re\":{\"regex\":\"^a/b\"},\"i\":{\"duration\":\"90m\"}}",
         "SELECT count($f) FROM $m WHERE dev =~ $re AND time > now() - $i GROUP BY time($i), $t",
         "SELECT count(rpm) FROM \"my m\" WHERE dev =~ /^a\\/b/ AND time > now() - 90m GROUP BY "
         "time(90m), fleet"},
        {"{\"i\":{\"integer\":7},\"n\":{\"number\":7},\"s\":{\"string\":\"x\"},\"b\":{\"boolean\":"
         "false}}",
         "SELECT v FROM m WHERE a = $i AND b = $n AND c = $s AND d = $b LIMIT $i",
         "SELECT v FROM m WHERE a = 7 AND b = 7.0 AND c = 'x' AND d = false LIMIT 7"},
        /* a string next to time is a time literal */
        {"{\"t\":\"2026-01-01T00:00:00Z\"}", "SELECT v FROM m WHERE time >= $t",
         "SELECT v FROM m WHERE time >= '2026-01-01T00:00:00Z'"},
        {"{\"k\":{\"identifier\":\"fleet\"}}", "SHOW TAG VALUES WITH KEY = $k",
         "SHOW TAG VALUES WITH KEY = fleet"},
        /* errors, in InfluxDB's words */
        {NULL, "SELECT v FROM m WHERE a = $a", "error parsing query: missing parameter: a"},
        {"{}", "SELECT v FROM m WHERE a = $a", "error parsing query: missing parameter: a"},
        {"{\"a\":null}", "SELECT v FROM m WHERE a = $a",
         "error parsing query: missing parameter: unable to bind parameter with type <nil>"},
        {"{\"a\":[1]}", "SELECT v FROM m WHERE a = $a",
         "error parsing query: missing parameter: unable to bind parameter with type []interface "
         "{}"},
        {"{\"a\":{\"bogus\":1}}", "SELECT v FROM m WHERE a = $a",
         "error parsing query: missing parameter: unknown bind object type: bogus"},
        {"{\"a\":{\"integer\":\"x\"}}", "SELECT v FROM m WHERE a = $a",
         "error parsing query: missing parameter: integer literal must be an integer value"},
        /* an unusable parameter the query does not use is no error */
        {"{\"x\":null,\"a\":1}", "SELECT v FROM m WHERE a = $a", "SELECT v FROM m WHERE a = 1"},
        {"{\"a\":1e3}", "SELECT v FROM m WHERE a = $a",
         "error parsing json value: strconv.ParseInt: parsing \"1e3\": invalid syntax"},
        {"{\"a\":99999999999999999999}", "SELECT v FROM m WHERE a = $a",
         "error parsing json value: strconv.ParseInt: parsing \"99999999999999999999\": value out "
         "of range"},
        {"[]", "SELECT v FROM m",
         "error parsing query parameters: json: cannot unmarshal array into Go value of type "
         "map[string]interface {}"},
        {"{\"a\":-1}", "SELECT v FROM m LIMIT $a",
         "error parsing query: found $a, expected integer at line 1, char 23"},
        {"{\"a\":\"x\"}", "SELECT v FROM m WHERE d =~ $a",
         "error parsing query: found x, expected regex at line 1, char 28"},
        {NULL, "SELECT v FROM m WHERE d =~ 'x'",
         "error parsing query: found x, expected regex at line 1, char 27"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = bound(cases[i].json, cases[i].q);
        if (strcmp(got, cases[i].want) != 0)
            print_message("case %zu: [%s]\n  got  [%s]\n  want [%s]\n", i, cases[i].q, got,
                          cases[i].want);
        assert_string_equal(got, cases[i].want);
        cn_free(got);
    }
    /* without binding, $name stays a parameter node */
    qry_query_t *q = must_parse("SELECT v FROM m WHERE a = $a");
    assert_int_equal(cond_of(q)->u.bin.rhs->kind, QRY_EXPR_PARAM);
    qry_query_free(q);
}

/* Patterns glibc's regcomp would take gigabytes for are refused first. */
static void test_regex_guard(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "^cpu$",
        "a+?",
        "a*?b",
        "(a*)*",
        "a{1000}",
        "[a{2}{3}]",
        "x{",
        "a{,3}",
        "(a|bb){10}",
        "((a{10}){10}){10}",
        "\\++",
        "\\{2}{3}",
        "[[:alpha:]]+",
        "",
        "(",
        "(a?){1000}",
        "(a?){100,}",
        "((a{100}){100}){10}",
        "((a|){10}){50}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        assert_null(qry_regex_refused(ok[i]));
    static const struct {
        const char *pat, *why;
    } bad[] = {
        {"a++", "invalid nested repetition operator"},
        {"a**", "invalid nested repetition operator"},
        {"a+??", "invalid nested repetition operator"},
        {"a{2}{3}", "invalid nested repetition operator"},
        {"[\\]++", "invalid nested repetition operator"}, /* POSIX: no escapes in [] */
        {"a{1001}", "invalid repeat count"},
        {"a{2,1001}", "invalid repeat count"},
        {"((a{100}){100}){100}", "expression too large"},
        {"(x|(a{1000}){1000})", "expression too large"},
        /* copies that may match nothing: regcomp's memory is their square */
        {"((a?){100}){30}", "expression too large"},
        {"((a|){100}){100}", "expression too large"},
        {"((a\\{100upper|){100}){100}", "expression too large"},
        {"((ab*){100}){21}", "expression too large"},
        {"((\\B){100}){100}", "expression too large"},
        {"((a{0}){100}){100}", "expression too large"},
        {"(){1000,}", "expression too large"},
        {"((a?){10}){100,}", "expression too large"},
        {"(a|||||||||||||||||||||||||||||||||||||||||||||||||||){100}", "expression too large"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *why = qry_regex_refused(bad[i].pat);
        assert_non_null(why);
        assert_string_equal(why, bad[i].why);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regex_guard),   cmocka_unit_test(test_goldens),
        cmocka_unit_test(test_precedence),    cmocka_unit_test(test_literal_values),
        cmocka_unit_test(test_time_literals), cmocka_unit_test(test_durations),
        cmocka_unit_test(test_select_struct), cmocka_unit_test(test_ddl_struct),
        cmocka_unit_test(test_errors),        cmocka_unit_test(test_error_position),
        cmocka_unit_test(test_limits),        cmocka_unit_test(test_expr_api),
        cmocka_unit_test(test_bound_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
