/* SPDX-License-Identifier: MIT */
/*
 * test_rule_eval.c - query/eval.c, eval_run.c, eval_fn.c and json.c: rules
 * run over one fixed message, each checked for its exact verdict and its
 * exact JSON output or error message: arithmetic and its types, NULL
 * logic, IN lists, LIKE escapes, regexes, every function, '*', json_field,
 * topic levels, and many programs sharing one symbol table and row.
 */
#include "eval.h"
#include "eval_int.h" /* qry_prog_t.fw: whether the fast WHERE path applies */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

static const eng_tag_t tags[] = {{"device_id", "d7"}, {"fleet", "f1"}};
static const char payload[] =
    "{\"temperature\":21.5,\"nested\":{\"x\":[1,2,{\"y\":\"z\\u00e9\"}]},\"n\":null,"
    "\"big\":12345678901234567890,\"i\":-3}";

static eng_field_t fields[] = {
    {"temperature", ENG_T_FLOAT, {.f = 21.5}},
    {"rpm", ENG_T_INT, {.i = 1500}},
    {"on", ENG_T_BOOL, {.b = 1}},
    {"fw", ENG_T_STRING, {.s = {"1.2.3", 5}}},
    {"a.b", ENG_T_INT, {.i = 7}},
    {"name", ENG_T_STRING, {.s = {"  Pump_50% \xC3\xA9t\xC3\xA9 ", 17}}},
    {"zero", ENG_T_INT, {.i = 0}},
    {"nan", ENG_T_FLOAT, {.f = NAN}},
    {"fleet", ENG_T_STRING, {.s = {"field-wins", 10}}},
};

static qry_msg_t msg(void)
{
    qry_msg_t m = {
        .topic = "sensors/f1/d7/telemetry",
        .clientid = "d7",
        .username = NULL,
        .qos = 1,
        .ts = INT64_C(1767225600123000000),
        .tags = tags,
        .ntags = 2,
        .fields = fields,
        .nfields = CN_ARRAY_LEN(fields),
        .payload = payload,
    };
    m.topic_len = strlen(m.topic);
    m.payload_len = strlen(payload);
    return m;
}

/* Runs sql over msg(): "PASS <json>", "SKIP" or "ERR <code name>: <message>". */
static char *run(const char *sql)
{
    qry_rule_t *r;
    qry_error_t err;
    if (qry_rule_parse(sql, strlen(sql), &r, &err) < 0)
        return cn_strndup(err.msg, strlen(err.msg));
    qry_symtab_t *st;
    qry_symtab_new(&st);
    qry_prog_t *p;
    if (qry_prog_compile(r, st, &p, &err) < 0) {
        qry_rule_free(r);
        qry_symtab_free(st);
        return cn_strndup(err.msg, strlen(err.msg));
    }
    qry_rule_free(r);
    qry_row_t *row;
    qry_row_new(st, &row);
    qry_msg_t m = msg();
    qry_row_bind(row, &m);
    int rc = qry_prog_run(p, row);
    cn_buf_t b;
    cn_buf_init(&b);
    char head[256];
    if (rc == 1) {
        cn_buf_put(&b, "PASS ", 5);
        qry_row_json(row, &b);
    } else if (rc == 0) {
        cn_buf_put(&b, "SKIP", 4);
    } else {
        int k = snprintf(head, sizeof head, "ERR %s: %s", cn_errname(rc), qry_row_error(row));
        cn_buf_put(&b, head, (size_t)k);
    }
    char *out = cn_strndup((const char *)b.p, b.len);
    cn_buf_free(&b);
    qry_row_free(row);
    qry_prog_free(p);
    qry_symtab_free(st);
    return out;
}

typedef struct ecase {
    const char *sql;
    const char *want;
} ecase_t;

static int check(const ecase_t *cs, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        char *got = run(cs[i].sql);
        if (strcmp(got, cs[i].want) != 0) {
            print_message("case %zu [%s]\n  want [%s]\n  got  [%s]\n", i, cs[i].sql, cs[i].want,
                          got);
            bad++;
        }
        cn_free(got);
    }
    return bad;
}

static const ecase_t basics[] = {
    {"SELECT temperature, rpm AS speed, on, fw, a.b FROM \"#\"",
     "PASS {\"temperature\":21.5,\"speed\":1500,\"on\":true,\"fw\":\"1.2.3\",\"a.b\":7}"},
    {"SELECT * FROM \"#\" WHERE rpm > 1000",
     "PASS {\"device_id\":\"d7\",\"fleet\":\"field-wins\",\"temperature\":21.5,\"rpm\":1500,"
     "\"on\":true,\"fw\":\"1.2.3\",\"a.b\":7,\"name\":\"  Pump_50% \xC3\xA9t\xC3\xA9 \","
     "\"zero\":0,\"nan\":null}"},
    {"SELECT device_id, fleet, payload.temperature AS t FROM \"#\"",
     "PASS {\"device_id\":\"d7\",\"fleet\":\"field-wins\",\"t\":21.5}"},
    {"SELECT topic, topic(1), topic(3) AS dev, topic(4), topic(5), topic(0), clientid, username, "
     "qos, timestamp FROM \"#\"",
     "PASS {\"topic\":\"sensors/f1/d7/telemetry\",\"topic(1)\":\"sensors\",\"dev\":\"d7\","
     "\"topic(4)\":\"telemetry\",\"topic(5)\":null,\"topic(0)\":null,\"clientid\":\"d7\","
     "\"username\":null,\"qos\":1,\"timestamp\":1767225600123000000}"},
    {"SELECT rpm FROM \"#\" WHERE rpm < 1000", "SKIP"},
    {"SELECT rpm, rpm * 2 AS rpm FROM \"#\"", "PASS {\"rpm\":3000}"},
    {"SELECT 1 + 2 * 3, 7 / 2, 7 % 3, -7 % 3, 7.5 % 2, 2 - 0.5, 6 & 3, 6 | 3, 6 ^ 3, -rpm, "
     "-temperature FROM \"#\"",
     "PASS {\"1 + 2 * 3\":7,\"7 / 2\":3.5,\"7 % 3\":1,\"-7 % 3\":-1,\"7.5 % 2\":1.5,"
     "\"2 - 0.5\":1.5,\"6 & 3\":2,\"6 | 3\":7,\"6 ^ 3\":5,\"-rpm\":-1500,"
     "\"-temperature\":-21.5}"},
    {"SELECT on & true AS x, on | false AS y, on ^ on AS z FROM \"#\"",
     "PASS {\"x\":true,\"y\":true,\"z\":false}"},
    {"SELECT 1 FROM \"#\" WHERE rpm = 1500.0 AND temperature > 21 AND temperature < 22 AND "
     "fw = '1.2.3' AND fw < '1.3' AND on = true AND on != false AND 3 >= 3 AND 2 <= 3",
     "PASS {\"1\":1}"},
    {"SELECT 9223372036854775807 = 9223372036854775807.0 AS a, 9007199254740993 > "
     "9007199254740992.0 AS b FROM \"#\"",
     "PASS {\"a\":false,\"b\":true}"},
    {"SELECT nan = nan AS a, nan != 1 AS b, nan < 1 AS c FROM \"#\"",
     "PASS {\"a\":false,\"b\":true,\"c\":false}"},
};

static const ecase_t errors[] = {
    {"SELECT fw + 1 FROM \"#\"",
     "ERR CN_ETYPE: type error: cannot do arithmetic on string and integer"},
    {"SELECT 1 FROM \"#\" WHERE fw > 1",
     "ERR CN_ETYPE: type error: cannot compare string and integer"},
    {"SELECT 1 FROM \"#\" WHERE on > false",
     "ERR CN_ETYPE: type error: cannot compare boolean and boolean"},
    {"SELECT rpm / zero FROM \"#\"", "ERR CN_EINVAL: division by zero"},
    {"SELECT rpm % zero FROM \"#\"", "ERR CN_EINVAL: division by zero"},
    {"SELECT temperature / 0.0 FROM \"#\"", "ERR CN_EINVAL: division by zero"},
    {"SELECT 9223372036854775807 + 1 FROM \"#\"", "ERR CN_ELIMIT: integer overflow"},
    {"SELECT -(-9223372036854775808) FROM \"#\"", "ERR CN_ELIMIT: integer overflow"},
    {"SELECT 1 FROM \"#\" WHERE rpm",
     "ERR CN_ETYPE: type error: WHERE needs a boolean, got integer"},
    {"SELECT 1 FROM \"#\" WHERE rpm AND on",
     "ERR CN_ETYPE: type error: cannot apply AND to integer"},
    {"SELECT 1 FROM \"#\" WHERE NOT fw", "ERR CN_ETYPE: type error: cannot apply NOT to string"},
    {"SELECT 1 FROM \"#\" WHERE missing > 3", "ERR CN_ENOTFOUND: field 'missing' missing"},
    {"SELECT 1 FROM \"#\" WHERE rpm > 3 AND missing > 3 AND other = 1",
     "ERR CN_ENOTFOUND: field 'missing' missing"},
    {"SELECT 1 FROM \"#\" WHERE 1.5 & 1",
     "ERR CN_ETYPE: type error: cannot apply a bitwise operator to float and integer"},
    {"SELECT fw IN (1, 2) FROM \"#\"",
     "ERR CN_ETYPE: type error: cannot compare string and integer"},
};

static const ecase_t nulls[] = {
    /* a missing field is NULL; NULL propagates; SQL three-valued logic */
    {"SELECT missing, missing + 1 AS a, missing = 1 AS b, -missing AS c, NOT missing AS d, "
     "abs(missing) AS e FROM \"#\"",
     "PASS {\"missing\":null,\"a\":null,\"b\":null,\"c\":null,\"d\":null,\"e\":null}"},
    {"SELECT missing AND false AS a, missing AND true AS b, missing OR true AS c, missing OR "
     "false AS d, false AND missing AS e, true OR missing AS f FROM \"#\"",
     "PASS {\"a\":false,\"b\":null,\"c\":true,\"d\":null,\"e\":false,\"f\":true}"},
    {"SELECT 1 FROM \"#\" WHERE missing IS NULL AND rpm IS NOT NULL", "PASS {\"1\":1}"},
    {"SELECT 1 FROM \"#\" WHERE missing > 3 OR rpm > 3", "PASS {\"1\":1}"},
    {"SELECT 1 FROM \"#\" WHERE rpm < 3 AND missing > 3", "SKIP"},
    {"SELECT 1 FROM \"#\" WHERE missing IS NULL OR missing > 3", "PASS {\"1\":1}"},
    {"SELECT 1 FROM \"#\" WHERE username = 'x'", "SKIP"},
    {"SELECT coalesce(missing, username, rpm) AS a, coalesce(missing) AS b FROM \"#\"",
     "PASS {\"a\":1500,\"b\":null}"},
    {"SELECT concat('a', missing, 1, 2.5, true, 'z') AS c FROM \"#\"",
     "PASS {\"c\":\"a12.5truez\"}"},
};

static const ecase_t lists[] = {
    {"SELECT fw IN ('1.2.3', 'x') AS a, rpm IN (1, 1500.0) AS b, rpm NOT IN (1, 2) AS c, "
     "rpm IN (1, missing) AS d, rpm IN (1500, missing) AS e, rpm NOT IN (1, missing) AS f, "
     "missing IN (1) AS g, on IN (true) AS h FROM \"#\"",
     "PASS {\"a\":true,\"b\":true,\"c\":true,\"d\":null,\"e\":true,\"f\":null,\"g\":null,"
     "\"h\":true}"},
    {"SELECT 1 FROM \"#\" WHERE device_id IN ('d1', 'd7') AND topic(2) NOT IN ('f2')",
     "PASS {\"1\":1}"},
};

static const ecase_t likes[] = {
    {"SELECT fw LIKE '1.%' AS a, fw LIKE '1._.3' AS b, fw LIKE '1.2' AS c, fw LIKE '%3' AS d, "
     "fw LIKE '%' AS e, fw NOT LIKE '2%' AS f, '' LIKE '' AS g, '' LIKE '_' AS h FROM \"#\"",
     "PASS {\"a\":true,\"b\":true,\"c\":false,\"d\":true,\"e\":true,\"f\":true,\"g\":true,"
     "\"h\":false}"},
    {"SELECT name LIKE '%50\\\\%%' AS a, name LIKE '%50\\\\%' AS b, 'a_c' LIKE 'a\\\\_c' AS c, "
     "'abc' LIKE 'a\\\\_c' AS d, 'a\\\\b' LIKE 'a\\\\\\\\b' AS e, name LIKE '%\xC3\xA9t_ ' AS f, "
     "'aXbXc' LIKE 'a%b%c' AS g, 'ab' LIKE 'a%b%c' AS h FROM \"#\"",
     "PASS {\"a\":true,\"b\":false,\"c\":true,\"d\":false,\"e\":true,\"f\":true,\"g\":true,"
     "\"h\":false}"},
    {"SELECT rpm LIKE '1%' FROM \"#\"",
     "ERR CN_ETYPE: type error: cannot apply LIKE to integer and string"},
    {"SELECT fw =~ /^1\\.2/ AS a, fw !~ /^1\\.2/ AS b, topic =~ /telemetry$/ AS c, missing =~ /x/ "
     "AS d FROM \"#\"",
     "PASS {\"a\":true,\"b\":false,\"c\":true,\"d\":null}"},
    /* Go's syntax, as in queries (query/rx.c) */
    {"SELECT fw =~ /^\\d+\\.\\d/ AS a, topic =~ /(?i)TELEMETRY$/ AS b, topic =~ /(?:x|y)z/ AS c, "
     "fw =~ /\\Q1.2\\E/ AS d FROM \"#\"",
     "PASS {\"a\":true,\"b\":true,\"c\":false,\"d\":true}"},
};

static const ecase_t funcs[] = {
    {"SELECT abs(-3), abs(-2.5), ceil(2.1), floor(-2.1), round(2.5), round(7), round(3.14159, 2), "
     "ceil(4), sqrt(16), pow(2, 10), exp(0), log(1), log10(1000), log2(8) FROM \"#\"",
     "PASS {\"abs(-3)\":3,\"abs(-2.5)\":2.5,\"ceil(2.1)\":3.0,\"floor(-2.1)\":-3.0,"
     "\"round(2.5)\":3.0,\"round(7)\":7,\"round(3.14159, 2)\":3.14,\"ceil(4)\":4,"
     "\"sqrt(16)\":4.0,\"pow(2, 10)\":1024.0,\"exp(0)\":1.0,\"log(1)\":0.0,"
     "\"log10(1000)\":3.0,\"log2(8)\":3.0}"},
    {"SELECT sin(0) AS a, cos(0) AS b, atan2(0, 1) AS c, sqrt(-1) AS d FROM \"#\"",
     "PASS {\"a\":0.0,\"b\":1.0,\"c\":0.0,\"d\":null}"},
    {"SELECT lower('AbC'), upper(fw || 'x') FROM \"#\"",
     "error parsing rule: found |, expected identifier, string, number, bool at line 1, char 32"},
    {"SELECT lower('AbC') AS l, upper('a\xC3\xA9z') AS u, trim(name) AS t, ltrim(name) AS lt, "
     "rtrim(name) AS rt, length(name) AS n, length('') AS e FROM \"#\"",
     "PASS {\"l\":\"abc\",\"u\":\"A\xC3\xA9Z\",\"t\":\"Pump_50% \xC3\xA9t\xC3\xA9\","
     "\"lt\":\"Pump_50% \xC3\xA9t\xC3\xA9 \",\"rt\":\"  Pump_50% \xC3\xA9t\xC3\xA9\","
     "\"n\":15,\"e\":0}"},
    {"SELECT substr(fw, 2) AS a, substr(fw, 0, 3) AS b, substr(fw, 10) AS c, substr(trim(name), "
     "9, 2) AS d, substr(fw, 4, 100) AS e FROM \"#\"",
     "PASS {\"a\":\"2.3\",\"b\":\"1.2\",\"c\":\"\",\"d\":\"\xC3\xA9t\",\"e\":\"3\"}"},
    {"SELECT substr(fw, -1) FROM \"#\"", "ERR CN_EINVAL: substr(): negative start or length"},
    {"SELECT replace(fw, '.', '::') AS a, replace(fw, '', 'x') AS b, replace(fw, '9', 'x') AS c "
     "FROM \"#\"",
     "PASS {\"a\":\"1::2::3\",\"b\":\"1.2.3\",\"c\":\"1.2.3\"}"},
    {"SELECT contains(fw, '.2.') AS a, startswith(fw, '1.') AS b, endswith(fw, '.3') AS c, "
     "contains(fw, 'x') AS d, startswith(fw, '') AS e, endswith('a', 'ba') AS f FROM \"#\"",
     "PASS {\"a\":true,\"b\":true,\"c\":true,\"d\":false,\"e\":true,\"f\":false}"},
    {"SELECT str(rpm) AS a, str(temperature) AS b, str(on) AS c, int('42') AS d, int(21.9) AS e, "
     "int(on) AS f, float('2.5') AS g, float(3) AS h, float('7') AS i FROM \"#\"",
     "PASS {\"a\":\"1500\",\"b\":\"21.5\",\"c\":\"true\",\"d\":42,\"e\":21,\"f\":1,\"g\":2.5,"
     "\"h\":3.0,\"i\":7.0}"},
    {"SELECT int('4x') FROM \"#\"", "ERR CN_EINVAL: int(): '4x' is not a number"},
    {"SELECT upper(rpm) FROM \"#\"", "ERR CN_ETYPE: type error: upper() needs string, got integer"},
    {"SELECT format_time(timestamp, 'RFC3339') AS a, format_time(timestamp, '%Y-%m-%d %H:%M:%S') "
     "AS b, format_time(0, '%Y') AS c, format_time(-1, 'RFC3339') AS d FROM \"#\"",
     "PASS {\"a\":\"2026-01-01T00:00:00.123Z\",\"b\":\"2026-01-01 00:00:00\",\"c\":\"1970\","
     "\"d\":\"1969-12-31T23:59:59.999999999Z\"}"},
    {"SELECT 1 FROM \"#\" WHERE time > '2025-12-31T00:00:00Z' AND timestamp < now()",
     "PASS {\"1\":1}"},
};

static const ecase_t json[] = {
    {"SELECT json_field(payload, 'temperature') AS t, json_field(payload, 'nested.x[1]') AS a, "
     "json_field(payload, 'nested.x[2].y') AS b, json_field(payload, 'nested.x') AS c, "
     "json_field(payload, 'n') AS d, json_field(payload, 'nope') AS e, json_field(payload, "
     "'big') AS f, json_field(payload, 'i') AS g, json_field(payload, 'nested.x[9]') AS h FROM "
     "\"#\"",
     "PASS {\"t\":21.5,\"a\":2,\"b\":\"z\xC3\xA9\",\"c\":\"[1,2,{\\\"y\\\":\\\"z\\\\u00e9\\\"}]\","
     "\"d\":null,\"e\":null,\"f\":1.2345678901234567e+19,\"g\":-3,\"h\":null}"},
    {"SELECT json_field('{\"k\":[true]}', 'k[0]') AS a, json_field(fw, 'x') AS b FROM \"#\"",
     "ERR CN_EINVAL: json_field(): payload is not valid JSON"},
    {"SELECT json_field('{\"k\":[true]}', 'k[0]') AS a FROM \"#\" WHERE json_field(payload, "
     "'temperature') > 20",
     "PASS {\"a\":true}"},
};

static void test_basics(void **state)
{
    (void)state;
    assert_int_equal(check(basics, CN_ARRAY_LEN(basics)), 0);
}

static void test_errors(void **state)
{
    (void)state;
    assert_int_equal(check(errors, CN_ARRAY_LEN(errors)), 0);
}

static void test_nulls(void **state)
{
    (void)state;
    assert_int_equal(check(nulls, CN_ARRAY_LEN(nulls)), 0);
}

static void test_in_like_regex(void **state)
{
    (void)state;
    assert_int_equal(check(lists, CN_ARRAY_LEN(lists)), 0);
    assert_int_equal(check(likes, CN_ARRAY_LEN(likes)), 0);
}

static void test_functions(void **state)
{
    (void)state;
    assert_int_equal(check(funcs, CN_ARRAY_LEN(funcs)), 0);
    assert_int_equal(check(json, CN_ARRAY_LEN(json)), 0);
}

/* Several programs over one symbol table and one row, rebinding between
 * messages: each sees its own message's fields and nothing of the last. */
static void test_shared_row(void **state)
{
    (void)state;
    const char *rules[] = {
        "SELECT a FROM \"#\" WHERE a > 1",
        "SELECT b, a FROM \"#\" WHERE b = 'x' OR a IS NULL",
    };
    qry_symtab_t *st;
    qry_symtab_new(&st);
    qry_prog_t *p[2];
    for (int i = 0; i < 2; i++) {
        qry_rule_t *r;
        qry_error_t err;
        assert_int_equal(qry_rule_parse(rules[i], strlen(rules[i]), &r, &err), 0);
        assert_int_equal(qry_prog_compile(r, st, &p[i], &err), 0);
        qry_rule_free(r);
    }
    assert_int_equal(qry_symtab_count(st), 2);
    qry_row_t *row;
    qry_row_new(st, &row);
    eng_field_t f1[] = {{"a", ENG_T_INT, {.i = 5}}};
    eng_field_t f2[] = {{"b", ENG_T_STRING, {.s = {"x", 1}}}};
    qry_msg_t m1 = {.topic = "t", .topic_len = 1, .fields = f1, .nfields = 1};
    qry_msg_t m2 = {.topic = "t", .topic_len = 1, .fields = f2, .nfields = 1};
    cn_buf_t b;
    cn_buf_init(&b);
    for (int round = 0; round < 3; round++) {
        qry_row_bind(row, &m1);
        assert_int_equal(qry_prog_run(p[0], row), 1);
        assert_int_equal(qry_prog_run(p[1], row), CN_ENOTFOUND);
        assert_string_equal(qry_row_error(row), "field 'b' missing");
        const qry_out_t *outs;
        assert_int_equal(qry_row_outputs(row, &outs), 0);
        qry_row_bind(row, &m2);
        assert_int_equal(qry_prog_run(p[0], row), CN_ENOTFOUND);
        assert_string_equal(qry_row_error(row), "field 'a' missing");
        assert_int_equal(qry_prog_run(p[1], row), 1);
        b.len = 0;
        qry_row_json(row, &b);
        assert_int_equal(b.len, strlen("{\"b\":\"x\",\"a\":null}"));
        assert_memory_equal(b.p, "{\"b\":\"x\",\"a\":null}", b.len);
        const qry_val_t *v = qry_row_get(row, "b", 1);
        assert_non_null(v);
        assert_int_equal(v->t, QRY_V_STR);
        assert_null(qry_row_get(row, "c", 1));
    }
    cn_buf_free(&b);
    qry_row_free(row);
    qry_prog_free(p[0]);
    qry_prog_free(p[1]);
    qry_symtab_free(st);
}

/* Whether sql's WHERE compiled to the fast comparison (eval.c NOTES 5). */
static bool is_fast(const char *sql)
{
    qry_rule_t *r;
    qry_error_t err;
    assert_int_equal(qry_rule_parse(sql, strlen(sql), &r, &err), 0);
    qry_symtab_t *st;
    qry_symtab_new(&st);
    qry_prog_t *p;
    assert_int_equal(qry_prog_compile(r, st, &p, &err), 0);
    bool fw = p->fw;
    qry_prog_free(p);
    qry_rule_free(r);
    qry_symtab_free(st);
    return fw;
}

/* The fast WHERE path gives exactly the interpreter's verdicts, outputs
 * and errors: every name of msg() (float, int, bool, string, NaN, a tag, a
 * missing name) against constants of every kind, with every comparison,
 * name left and right.  The reference is the same comparison under
 * "AND true", which the fast path does not take and which cannot change a
 * verdict, a NULL or an error. */
static void test_fast_where(void **state)
{
    (void)state;
    static const char *const names[] = {"temperature", "rpm", "on",   "fw",        "nan",
                                        "zero",        "nope", "fleet", "device_id", "payload.rpm"};
    static const char *const consts[] = {"21.5",     "21",   "22",    "1500",  "1500.0",
                                         "1499.5",   "-1000000", "0", "'d7'", "'1.2.3'",
                                         "true",     "false", "9007199254740993", "1e300",
                                         "-9223372036854775808"};
    static const char *const ops[] = {"=", "!=", "<", "<=", ">", ">="};
    int bad = 0, fast = 0;
    for (size_t n = 0; n < CN_ARRAY_LEN(names); n++) {
        for (size_t k = 0; k < CN_ARRAY_LEN(consts); k++) {
            for (size_t o = 0; o < CN_ARRAY_LEN(ops); o++) {
                for (int swap = 0; swap < 2; swap++) {
                    const char *l = swap ? consts[k] : names[n], *rt = swap ? names[n] : consts[k];
                    char a[256], b[256];
                    snprintf(a, sizeof a, "SELECT %s, rpm AS r FROM \"#\" WHERE %s %s %s",
                             names[n], l, ops[o], rt);
                    snprintf(b, sizeof b, "SELECT %s, rpm AS r FROM \"#\" WHERE (%s %s %s) AND true",
                             names[n], l, ops[o], rt);
                    assert_true(is_fast(a));
                    assert_false(is_fast(b));
                    fast++;
                    char *ga = run(a), *gb = run(b);
                    if (strcmp(ga, gb) != 0) {
                        print_message("[%s]\n  fast   [%s]\n  interp [%s]\n", a, ga, gb);
                        bad++;
                    }
                    cn_free(ga);
                    cn_free(gb);
                }
            }
        }
    }
    assert_int_equal(bad, 0);
    assert_int_equal(fast, 10 * 15 * 6 * 2);
    /* spot checks of the exact results, so both paths are not wrong alike */
    static const ecase_t spot[] = {
        {"SELECT rpm FROM \"#\" WHERE temperature > -1000000", "PASS {\"rpm\":1500}"},
        {"SELECT rpm FROM \"#\" WHERE -1000000 > temperature", "SKIP"},
        {"SELECT rpm FROM \"#\" WHERE rpm = 1500.0", "PASS {\"rpm\":1500}"},
        {"SELECT rpm FROM \"#\" WHERE nan != 1", "PASS {\"rpm\":1500}"},
        {"SELECT rpm FROM \"#\" WHERE nan < 1", "SKIP"},
        {"SELECT rpm FROM \"#\" WHERE device_id = 'd7'", "PASS {\"rpm\":1500}"},
        {"SELECT rpm FROM \"#\" WHERE nope > 1", "ERR CN_ENOTFOUND: field 'nope' missing"},
        {"SELECT rpm FROM \"#\" WHERE fw > 1",
         "ERR CN_ETYPE: type error: cannot compare string and integer"},
        {"SELECT rpm FROM \"#\" WHERE on < true",
         "ERR CN_ETYPE: type error: cannot compare boolean and boolean"},
        {"SELECT rpm FROM \"#\" WHERE on = true", "PASS {\"rpm\":1500}"},
        {"SELECT rpm FROM \"#\" WHERE rpm < 9007199254740993", "PASS {\"rpm\":1500}"},
    };
    assert_int_equal(check(spot, CN_ARRAY_LEN(spot)), 0);
    /* not a name against a constant: the interpreter */
    assert_false(is_fast("SELECT rpm FROM \"#\" WHERE rpm > rpm"));
    assert_false(is_fast("SELECT rpm FROM \"#\" WHERE rpm + 1 > 2"));
    assert_false(is_fast("SELECT rpm FROM \"#\" WHERE rpm > 1 AND rpm < 9"));
    assert_false(is_fast("SELECT rpm FROM \"#\" WHERE qos > 0"));
    assert_false(is_fast("SELECT rpm FROM \"#\""));
}

/* Bare-name outputs render their JSON once per bind for every program on
 * the row, and a rebind renders the new values. */
static void test_json_cache(void **state)
{
    (void)state;
    const char *rules[] = {
        "SELECT t, device_id AS d FROM \"#\" WHERE t > 0",
        "SELECT t AS temp, s, t FROM \"#\"",
        "SELECT *, t AS t FROM \"#\"",
        "SELECT t, device_id AS d FROM \"#\" WHERE t < 100", /* p[0]'s outputs */
        "SELECT * FROM \"#\"",
        "SELECT t + 0 AS t, device_id AS d FROM \"#\"", /* not bare: no signature */
    };
    qry_symtab_t *st;
    qry_symtab_new(&st);
    qry_prog_t *p[6];
    for (int i = 0; i < 6; i++) {
        qry_rule_t *r;
        qry_error_t err;
        assert_int_equal(qry_rule_parse(rules[i], strlen(rules[i]), &r, &err), 0);
        assert_int_equal(qry_prog_compile(r, st, &p[i], &err), 0);
        qry_rule_free(r);
    }
    uint32_t s1, s2;
    assert_int_equal(qry_prog_output_index(p[0], "d", 1, &s1), 1);
    assert_int_equal(qry_prog_output_index(p[0], "t", 1, &s2), 0);
    assert_true(s1 && s2 && s1 != s2);
    assert_int_equal(qry_prog_output_index(p[0], "device_id", 9, &s1), -1);
    assert_int_equal(s1, 0);
    assert_int_equal(qry_prog_output_index(p[1], "t", 1, &s1), 2);
    assert_int_equal(s1, s2);
    assert_int_equal(qry_prog_output_index(p[2], "t", 1, &s1), -2);
    assert_int_equal(qry_prog_output_index(p[5], "t", 1, &s1), 0);
    assert_int_equal(s1, 0);
    assert_true(p[0]->sig1 && p[0]->sig1 == p[3]->sig1);
    assert_true(p[1]->sig1 && p[1]->sig1 != p[0]->sig1);
    assert_true(p[4]->sig1 && p[4]->sig1 != p[0]->sig1 && p[4]->sig1 != p[1]->sig1);
    assert_int_equal(p[2]->sig1, 0);
    assert_int_equal(p[5]->sig1, 0);
    qry_row_t *row;
    qry_row_new(st, &row);
    eng_tag_t tg1[] = {{"device_id", "dev\"1"}};
    eng_field_t f1[] = {{"t", ENG_T_FLOAT, {.f = 21.25}}, {"s", ENG_T_STRING, {.s = {"a\nb", 3}}}};
    eng_tag_t tg2[] = {{"device_id", "dev2"}};
    eng_field_t f2[] = {{"t", ENG_T_INT, {.i = -7}}, {"s", ENG_T_BOOL, {.b = 0}}};
    qry_msg_t m1 = {.topic = "t", .topic_len = 1, .tags = tg1, .ntags = 1, .fields = f1, .nfields = 2};
    qry_msg_t m2 = {.topic = "t", .topic_len = 1, .tags = tg2, .ntags = 1, .fields = f2, .nfields = 2};
    static const char *const want1[] = {
        "{\"t\":21.25,\"d\":\"dev\\\"1\"}",
        "{\"temp\":21.25,\"s\":\"a\\nb\",\"t\":21.25}",
        "{\"device_id\":\"dev\\\"1\",\"t\":21.25,\"s\":\"a\\nb\"}",
    };
    static const char *const want2[] = {
        NULL,
        "{\"temp\":-7,\"s\":false,\"t\":-7}",
        "{\"device_id\":\"dev2\",\"t\":-7,\"s\":false}",
    };
    cn_buf_t b;
    cn_buf_init(&b);
    for (int round = 0; round < 3; round++) {
        qry_row_bind(row, &m1);
        const char *tx;
        size_t tn;
        assert_true(qry_row_slot_text(row, s2 - 1, &tx, &tn));
        assert_int_equal(tn, 5);
        assert_string_equal(tx, "21.25");
        assert_int_equal(qry_prog_output_index(p[0], "d", 1, &s1), 1);
        assert_true(qry_row_slot_text(row, s1 - 1, &tx, &tn));
        assert_string_equal(tx, "dev\"1");
        assert_ptr_equal(tx, tg1[0].val); /* a tag's text is its own string */
        /* programs with the same output list share one JSON per bind */
        const char *j0, *j3;
        size_t n0, n3;
        assert_int_equal(qry_prog_run(p[0], row), 1);
        qry_row_json_view(row, &j0, &n0);
        assert_int_equal(qry_prog_run(p[3], row), 1);
        qry_row_json_view(row, &j3, &n3);
        assert_ptr_equal(j0, j3);
        assert_string_equal(j3, want1[0]);
        assert_int_equal(n3, strlen(want1[0]));
        assert_int_equal(qry_prog_run(p[5], row), 1);
        qry_row_json_view(row, &j3, &n3);
        assert_string_equal(j3, "{\"t\":21.25,\"d\":\"dev\\\"1\"}");
        assert_int_equal(qry_prog_run(p[4], row), 1);
        qry_row_json_view(row, &j3, &n3);
        assert_string_equal(j3, "{\"device_id\":\"dev\\\"1\",\"t\":21.25,\"s\":\"a\\nb\"}");
        for (int i = 0; i < 3; i++) {
            assert_int_equal(qry_prog_run(p[i], row), 1);
            for (int twice = 0; twice < 2; twice++) {
                b.len = 0;
                qry_row_json(row, &b);
                assert_int_equal(b.len, strlen(want1[i]));
                assert_memory_equal(b.p, want1[i], b.len);
            }
        }
        qry_row_bind(row, &m2);
        assert_true(qry_row_slot_text(row, s2 - 1, &tx, &tn));
        assert_string_equal(tx, "-7");
        assert_int_equal(qry_prog_run(p[3], row), 1);
        qry_row_json_view(row, &j3, &n3);
        assert_string_equal(j3, "{\"t\":-7,\"d\":\"dev2\"}");
        assert_int_equal(qry_prog_run(p[0], row), 0);
        for (int i = 1; i < 3; i++) {
            assert_int_equal(qry_prog_run(p[i], row), 1);
            b.len = 0;
            qry_row_json(row, &b);
            assert_int_equal(b.len, strlen(want2[i]));
            assert_memory_equal(b.p, want2[i], b.len);
        }
    }
    cn_buf_free(&b);
    qry_row_free(row);
    for (int i = 0; i < 6; i++)
        qry_prog_free(p[i]);
    qry_symtab_free(st);
}

/* qry_prog_prefilter's verdicts agree with qry_prog_run on the same row,
 * and qry_prog_accept leaves the row as the run would (same JSON). */
static void test_prefilter(void **state)
{
    (void)state;
    static const char *const conds[] = {
        "temperature > 21",  "temperature < 21", "rpm = 1500",  "nope > 1",  "fw > 1",
        "fw = '1.2.3'",      "nan < 1",          "on = false",  "on < true", "rpm > 1 AND rpm < 2",
        "1500.5 > rpm",      "device_id != 'd7'",
        /* integers past 2^53: not exact as doubles */
        "rpm < 9007199254740993", "temperature < 9007199254740993",
    };
    static const char *const sels[] = {"rpm, device_id", "*", "rpm + 1 AS x"};
    enum { N = CN_ARRAY_LEN(conds) * CN_ARRAY_LEN(sels) };
    qry_symtab_t *st;
    qry_symtab_new(&st);
    const qry_prog_t *p[N];
    size_t n = 0;
    for (size_t c = 0; c < CN_ARRAY_LEN(conds); c++) {
        for (size_t k = 0; k < CN_ARRAY_LEN(sels); k++) {
            char sql[256];
            snprintf(sql, sizeof sql, "SELECT %s FROM \"#\" WHERE %s", sels[k], conds[c]);
            qry_rule_t *r;
            qry_error_t err;
            assert_int_equal(qry_rule_parse(sql, strlen(sql), &r, &err), 0);
            qry_prog_t *q;
            assert_int_equal(qry_prog_compile(r, st, &q, &err), 0);
            qry_rule_free(r);
            p[n++] = q;
        }
    }
    uint32_t idx[N];
    for (uint32_t i = 0; i < N; i++)
        idx[i] = N - 1 - i;
    qry_row_t *row;
    qry_row_new(st, &row);
    qry_msg_t m = msg();
    uint8_t v[N];
    int seen[3] = {0};
    cn_buf_t a, b;
    cn_buf_init(&a);
    cn_buf_init(&b);
    qry_row_bind(row, &m);
    qry_prog_prefilter(p, idx, N, row, v);
    /* the rule set's table gives the same verdicts */
    qry_prefilter_t *pf;
    assert_int_equal(qry_prefilter_new(p, N, &pf), 0);
    uint8_t v2[N];
    memset(v2, 0xee, sizeof v2);
    qry_prefilter_run(pf, idx, N, row, v2);
    assert_memory_equal(v, v2, N);
    qry_prefilter_free(pf);
    for (size_t i = 0; i < N; i++) {
        const qry_prog_t *q = p[idx[i]];
        seen[v[i]]++;
        int rc = qry_prog_run(q, row);
        a.len = 0;
        if (rc == 1)
            qry_row_json(row, &a);
        if (v[i] == QRY_PRE_FAIL) {
            assert_int_equal(rc, 0);
        } else if (v[i] == QRY_PRE_PASS) {
            assert_int_equal(rc, 1);
            assert_int_equal(qry_prog_accept(q, row), 1);
            b.len = 0;
            qry_row_json(row, &b);
            assert_int_equal(a.len, b.len);
            assert_memory_equal(a.p, b.p, a.len);
            const qry_out_t *outs;
            assert_true(qry_row_outputs(row, &outs) >= 2);
        }
    }
    /* each verdict occurs: FAIL (temperature < 21 ...), PASS (bare
     * outputs, a fast WHERE that holds), RUN (the rest) */
    assert_int_equal(seen[QRY_PRE_FAIL], 4 * 3);
    assert_int_equal(seen[QRY_PRE_PASS], 6 * 2);
    assert_int_equal(seen[QRY_PRE_RUN], N - 12 - 12);
    cn_buf_free(&a);
    cn_buf_free(&b);
    qry_row_free(row);
    for (size_t i = 0; i < n; i++)
        qry_prog_free((qry_prog_t *)p[i]);
    qry_symtab_free(st);
}

static void test_val_text(void **state)
{
    (void)state;
    qry_val_t vs[] = {
        {.t = QRY_V_NULL},
        {.t = QRY_V_BOOL, .u.b = true},
        {.t = QRY_V_INT, .u.i = -42},
        {.t = QRY_V_FLOAT, .u.f = 0.1},
        {.t = QRY_V_FLOAT, .u.f = 1e21},
        {.t = QRY_V_FLOAT, .u.f = INFINITY},
        {.t = QRY_V_STR, .u.s = {"a\"b\n\x01\xff", 6}},
        {.t = QRY_V_FLOAT, .u.f = 21.37},
        {.t = QRY_V_FLOAT, .u.f = -0.5},
        {.t = QRY_V_FLOAT, .u.f = 1e15},
        {.t = QRY_V_FLOAT, .u.f = 0.1 + 0.2},
        {.t = QRY_V_FLOAT, .u.f = -0.0},
        {.t = QRY_V_FLOAT, .u.f = 123456.789},
        {.t = QRY_V_FLOAT, .u.f = 48.123456},
        {.t = QRY_V_FLOAT, .u.f = -20.0},
    };
    static const char *const nums[] = {
        "21.37", "-0.5",       "1000000000000000.0", "0.30000000000000004",
        "-0.0",  "123456.789", "48.123456",          "-20.0"};
    const char *text[15] = {"", "true", "-42", "0.1", "1e+21", "+Inf", "a\"b\n\x01\xff"};
    const char *js[15] = {
        "null", "true", "-42", "0.1", "1e+21", "null", "\"a\\\"b\\n\\u0001\xEF\xBF\xBD\""};
    for (size_t i = 0; i < CN_ARRAY_LEN(nums); i++)
        text[7 + i] = js[7 + i] = nums[i];
    for (size_t i = 0; i < CN_ARRAY_LEN(vs); i++) {
        cn_buf_t b;
        cn_buf_init(&b);
        qry_val_text(&vs[i], &b);
        assert_int_equal(b.len, strlen(text[i]));
        assert_memory_equal(b.p, text[i], b.len);
        b.len = 0;
        qry_val_json(&vs[i], &b);
        assert_int_equal(b.len, strlen(js[i]));
        assert_memory_equal(b.p, js[i], b.len);
        cn_buf_free(&b);
    }
}

static void test_json_dom(void **state)
{
    (void)state;
    qry_jdoc_t *d;
    qry_jdoc_new(&d);
    const qry_json_t *root;
    size_t off;
    const char *ok = " {\"a\": [1, -2.5e1, \"\\ud83d\\ude00\", {}], \"a\": 3, \"b\": false} ";
    assert_int_equal(qry_jdoc_parse(d, ok, strlen(ok), &root, &off), 0);
    assert_int_equal(root->kind, QRY_J_OBJ);
    assert_int_equal(root->n, 3);
    const qry_json_t *a = qry_json_get(root, "a");
    assert_true(a->kind == QRY_J_NUM && a->is_int && a->i == 3);
    const qry_json_t *e = qry_json_path(root->items[0], "[2]", 3);
    assert_string_equal(e->s, "\xF0\x9F\x98\x80");
    e = qry_json_path(root->items[0], "[1]", 3);
    assert_true(e->kind == QRY_J_NUM && !e->is_int && e->f == -25.0);
    static const struct {
        const char *in;
        size_t off;
    } bad[] = {{"", 0},         {"{", 1},           {"[1,]", 3},      {"01", 1},
               {"\"\\x\"", 3},  {"\"\\udc00\"", 7}, {"{\"a\" 1}", 5}, {"[1] x", 4},
               {"\"\x01\"", 1}, {"\"\xc3\"", 1},    {"tru", 0},       {"-", 1}};
    for (size_t i = 0; i < CN_ARRAY_LEN(bad); i++) {
        int rc = qry_jdoc_parse(d, bad[i].in, strlen(bad[i].in), &root, &off);
        if (rc != CN_EPROTO || off != bad[i].off)
            print_message("bad %zu [%s]: rc %d off %zu\n", i, bad[i].in, rc, off);
        assert_int_equal(rc, CN_EPROTO);
        assert_int_equal(off, bad[i].off);
    }
    char deep[200];
    memset(deep, '[', sizeof deep);
    assert_int_equal(qry_jdoc_parse(d, deep, sizeof deep, &root, &off), CN_ELIMIT);
    qry_jdoc_free(d);
}

/* ------------------------------------------------- binding by shape */

/* The JSON of p's outputs on row after binding m (p passes: no WHERE). */
static void bind_json(qry_row_t *row, const qry_prog_t *p, const qry_msg_t *m, cn_buf_t *b)
{
    qry_row_bind(row, m);
    assert_int_equal(qry_prog_run(p, row), 1);
    b->len = 0;
    qry_row_json(row, b);
    cn_buf_put_u8(b, 0);
}

static qry_prog_t *compile1(qry_symtab_t *st, const char *sql)
{
    qry_rule_t *r;
    qry_error_t err;
    assert_int_equal(qry_rule_parse(sql, strlen(sql), &r, &err), 0);
    qry_prog_t *p;
    assert_int_equal(qry_prog_compile(r, st, &p, &err), 0);
    qry_rule_free(r);
    return p;
}

/* eval.c NOTES 6: a row remembers the names of its last bind in order;
 * a message of the same shape reuses the slots, any other shape (a name
 * changed, missing, added, moved; a type changed) binds exactly what it
 * has.  Names live in fresh buffers each time, as decoders make them. */
static void test_bind_shape(void **state)
{
    (void)state;
    qry_symtab_t *st;
    qry_symtab_new(&st);
    qry_prog_t *p = compile1(st, "SELECT t, a, bb, ccc, temperature FROM \"#\"");
    qry_row_t *row;
    qry_row_new(st, &row);
    cn_buf_t b;
    cn_buf_init(&b);
    char nm[8][32]; /* names copied per message */
    eng_tag_t tg[1];
    eng_field_t f[6];
    qry_msg_t m = {.topic = "t", .topic_len = 1, .tags = tg, .fields = f};
#define NAME(i, s) (snprintf(nm[i], sizeof nm[i], "%s", s), nm[i])
    struct {
        const char *names[5]; /* tag "t" first when given, then fields */
        bool tag;
        const char *want;
    } steps[] = {
        {{"t", "a", "bb", "ccc", "temperature"}, true,
         "{\"t\":\"v\",\"a\":0,\"bb\":1,\"ccc\":2,\"temperature\":3}"},
        {{"t", "a", "bb", "ccc", "temperature"}, true, /* same shape again */
         "{\"t\":\"v\",\"a\":0,\"bb\":1,\"ccc\":2,\"temperature\":3}"},
        {{"t", "a", "bx", "ccc", "temperature"}, true, /* renamed, same length */
         "{\"t\":\"v\",\"a\":0,\"bb\":null,\"ccc\":2,\"temperature\":3}"},
        {{"t", "a", "bb", "ccc", "temperaturE"}, true, /* last byte differs */
         "{\"t\":\"v\",\"a\":0,\"bb\":1,\"ccc\":2,\"temperature\":null}"},
        {{"t", "ccc", "a", "temperature", "bb"}, true, /* reordered */
         "{\"t\":\"v\",\"a\":1,\"bb\":3,\"ccc\":0,\"temperature\":2}"},
        {{"t", "a", "bb", NULL}, true, /* fields missing */
         "{\"t\":\"v\",\"a\":0,\"bb\":1,\"ccc\":null,\"temperature\":null}"},
        {{"t", "a", "bb", "ccc", "temperature"}, true, /* extra fields again */
         "{\"t\":\"v\",\"a\":0,\"bb\":1,\"ccc\":2,\"temperature\":3}"},
        {{"a", "bb", "ccc", "temperature", "t"}, false, /* no tag: "t" a field */
         "{\"t\":4,\"a\":0,\"bb\":1,\"ccc\":2,\"temperature\":3}"},
        {{"t", "temperature", "a", "x", "ccc"}, true, /* unknown name between */
         "{\"t\":\"v\",\"a\":1,\"bb\":null,\"ccc\":3,\"temperature\":0}"},
        {{"t", "a", "bb", "ccc", "temperature"}, true,
         "{\"t\":\"v\",\"a\":0,\"bb\":1,\"ccc\":2,\"temperature\":3}"},
    };
    for (size_t k = 0; k < CN_ARRAY_LEN(steps); k++) {
        size_t i = 0, n = 0;
        m.ntags = 0;
        if (steps[k].tag) {
            tg[0] = (eng_tag_t){NAME(0, steps[k].names[0]), "v"};
            m.ntags = 1;
            i = 1;
        }
        for (; i < 5 && steps[k].names[i]; i++, n++)
            f[n] = (eng_field_t){NAME(i, steps[k].names[i]), ENG_T_INT, {.i = (int64_t)n}};
        m.nfields = (uint32_t)n;
        bind_json(row, p, &m, &b);
        if (strcmp((const char *)b.p, steps[k].want) != 0)
            print_message("step %zu: %s\n", k, (const char *)b.p);
        assert_string_equal((const char *)b.p, steps[k].want);
    }
    /* the same names with another type: the value is read every time */
    m.ntags = 0;
    m.nfields = 2;
    f[0] = (eng_field_t){NAME(0, "a"), ENG_T_STRING, {.s = {"s", 1}}};
    f[1] = (eng_field_t){NAME(1, "bb"), ENG_T_FLOAT, {.f = 0.5}};
    bind_json(row, p, &m, &b);
    assert_string_equal((const char *)b.p,
                        "{\"t\":null,\"a\":\"s\",\"bb\":0.5,\"ccc\":null,\"temperature\":null}");
    f[0] = (eng_field_t){NAME(0, "a"), ENG_T_BOOL, {.b = 1}};
    f[1] = (eng_field_t){NAME(1, "bb"), ENG_T_NONE, {.i = 9}}; /* no value: not bound */
    bind_json(row, p, &m, &b);
    assert_string_equal((const char *)b.p,
                        "{\"t\":null,\"a\":true,\"bb\":null,\"ccc\":null,\"temperature\":null}");
#undef NAME
    qry_prog_free(p);
    qry_row_free(row);
    qry_symtab_free(st);

    /* Names of every length 1..20, each changed at every byte in turn
     * (the word compares' edges): the changed one reads NULL, the others
     * their values, and the original message reads right afterwards. */
    static const char base[] = "qwertyuiopasdfghjklz";
    enum { L = 20 };
    qry_symtab_new(&st);
    cn_buf_t sql;
    cn_buf_init(&sql);
    cn_buf_put(&sql, "SELECT ", 7);
    for (int l = 1; l <= L; l++) {
        if (l > 1)
            cn_buf_put(&sql, ", ", 2);
        cn_buf_put(&sql, base, (size_t)l);
    }
    cn_buf_put(&sql, " FROM \"#\"", 9);
    cn_buf_put_u8(&sql, 0);
    p = compile1(st, (const char *)sql.p);
    qry_row_new(st, &row);
    char names[L][L + 1];
    eng_field_t g[L];
    qry_msg_t mm = {.topic = "t", .topic_len = 1, .fields = g, .nfields = L};
    for (int l = 1; l <= L; l++) {
        memcpy(names[l - 1], base, (size_t)l);
        names[l - 1][l] = 0;
        g[l - 1] = (eng_field_t){names[l - 1], ENG_T_INT, {.i = l}};
    }
    for (int l = 1; l <= L; l++) {
        for (int at = -1; at < l; at++) {
            if (at >= 0)
                names[l - 1][at] = 'Z';
            for (int rep = 0; rep < 2; rep++) {
                qry_row_bind(row, &mm);
                assert_int_equal(qry_prog_run(p, row), 1);
                const qry_out_t *o;
                assert_int_equal(qry_row_outputs(row, &o), L);
                for (int k = 0; k < L; k++) {
                    if (k == l - 1 && at >= 0) {
                        assert_int_equal(o[k].v.t, QRY_V_NULL);
                    } else {
                        assert_int_equal(o[k].v.t, QRY_V_INT);
                        assert_int_equal(o[k].v.u.i, k + 1);
                    }
                }
            }
            if (at >= 0)
                names[l - 1][at] = base[at];
        }
    }
    cn_buf_free(&sql);
    cn_buf_free(&b);
    qry_prog_free(p);
    qry_row_free(row);
    qry_symtab_free(st);
}

/* A message for test_bind_block: fields named by the space-separated
 * names, of the types in types ('i' integer n, 'f' float n + 0.5, 's'
 * string "sN", 'b' boolean, '-' no value), field n holding n; laid out
 * one after the other in blk (with their NULs) as a decoder's arena does,
 * or, with apart, each in its own slot of blk 32 bytes apart. */
typedef struct bmsg {
    char blk[512];
    char sv[8][8];
    eng_field_t f[8];
    uint32_t nl[8];
    eng_tag_t tg[1];
    qry_msg_t m;
} bmsg_t;

static void bmsg_make(bmsg_t *b, const char *names, const char *types, bool apart, bool tag)
{
    memset(b, 0, sizeof *b);
    size_t at = 0, n = 0;
    for (const char *s = names; *s; n++) {
        size_t k = strcspn(s, " ");
        if (apart)
            at = n * 32;
        memcpy(b->blk + at, s, k);
        b->blk[at + k] = 0;
        eng_field_t *f = &b->f[n];
        f->name = b->blk + at;
        b->nl[n] = (uint32_t)k;
        switch (types[n]) {
        case 'i':
            f->type = ENG_T_INT, f->v.i = (int64_t)n;
            break;
        case 'f':
            f->type = ENG_T_FLOAT, f->v.f = (double)n + 0.5;
            break;
        case 's':
            snprintf(b->sv[n], sizeof b->sv[n], "s%zu", n);
            f->type = ENG_T_STRING, f->v.s.p = b->sv[n], f->v.s.len = (uint32_t)strlen(b->sv[n]);
            break;
        case 'b':
            f->type = ENG_T_BOOL, f->v.b = 1;
            break;
        default:
            f->type = ENG_T_NONE, f->v.i = 9;
            break;
        }
        at += k + 1;
        s += k + (s[k] == ' ');
    }
    b->tg[0] = (eng_tag_t){"t", "tv"};
    b->m = (qry_msg_t){.topic = "t",
                       .topic_len = 1,
                       .tags = b->tg,
                       .ntags = tag ? 1 : 0,
                       .fields = b->f,
                       .nfields = (uint32_t)n,
                       .name_lens = b->nl};
}

/* eval.c NOTES 8: fields whose names lie in one block, as the decoders
 * lay them out, are bound from the slots remembered with the block when
 * the block is the same; any difference (a name, the count, the layout)
 * binds name by name, and a type is read from every message.  Each step
 * is also checked against a row that binds it without name lengths (name
 * by name only). */
static void test_bind_block(void **state)
{
    (void)state;
    qry_symtab_t *st;
    qry_symtab_new(&st);
    qry_prog_t *p = compile1(st, "SELECT t, a, bb, ccc, temperature FROM \"#\"");
    uint32_t tslot = qry_symtab_add(st, "t");
    qry_row_t *row, *ref;
    qry_row_new(st, &row);
    qry_row_new(st, &ref);
    cn_buf_t b, rb;
    cn_buf_init(&b);
    cn_buf_init(&rb);
    static const struct {
        const char *names, *types;
        bool apart, tag;
        const char *want;
    } steps[] = {
        {"a bb ccc temperature", "iiii", false, true,
         "{\"t\":\"tv\",\"a\":0,\"bb\":1,\"ccc\":2,\"temperature\":3}"},
        {"a bb ccc temperature", "iiii", false, true, /* the same block: remembered slots */
         "{\"t\":\"tv\",\"a\":0,\"bb\":1,\"ccc\":2,\"temperature\":3}"},
        {"a bb ccc temperature", "fsb-", false, true, /* same block, other types */
         "{\"t\":\"tv\",\"a\":0.5,\"bb\":\"s1\",\"ccc\":true,\"temperature\":null}"},
        {"a bb cxc temperature", "iiii", false, true, /* a name changed in the middle */
         "{\"t\":\"tv\",\"a\":0,\"bb\":1,\"ccc\":null,\"temperature\":3}"},
        {"a bb cxc temperature", "ifii", false, true, /* that block, remembered */
         "{\"t\":\"tv\",\"a\":0,\"bb\":1.5,\"ccc\":null,\"temperature\":3}"},
        {"a bb cxc", "iii", false, true, /* a field fewer */
         "{\"t\":\"tv\",\"a\":0,\"bb\":1,\"ccc\":null,\"temperature\":null}"},
        {"a bb cxc temperature", "iiii", false, true, /* a field more */
         "{\"t\":\"tv\",\"a\":0,\"bb\":1,\"ccc\":null,\"temperature\":3}"},
        {"a bb cxc temperaturE", "iiii", false, true, /* the last byte */
         "{\"t\":\"tv\",\"a\":0,\"bb\":1,\"ccc\":null,\"temperature\":null}"},
        {"ab b ccc temperature", "iiii", false, true, /* same bytes but one NUL moved */
         "{\"t\":\"tv\",\"a\":null,\"bb\":null,\"ccc\":2,\"temperature\":3}"},
        {"a bb ccc temperature", "iiii", false, true,
         "{\"t\":\"tv\",\"a\":0,\"bb\":1,\"ccc\":2,\"temperature\":3}"},
        {"a bb ccc temperature", "iiii", true, true, /* the same names, apart */
         "{\"t\":\"tv\",\"a\":0,\"bb\":1,\"ccc\":2,\"temperature\":3}"},
        {"a bb ccc temperature", "iiii", true, true, /* apart again: name by name */
         "{\"t\":\"tv\",\"a\":0,\"bb\":1,\"ccc\":2,\"temperature\":3}"},
        {"a bb ccc temperature", "iiii", false, true,
         "{\"t\":\"tv\",\"a\":0,\"bb\":1,\"ccc\":2,\"temperature\":3}"},
        {"a bb ccc temperature", "iiii", false, false, /* no tag, the same block */
         "{\"t\":null,\"a\":0,\"bb\":1,\"ccc\":2,\"temperature\":3}"},
        {"a bb t temperature", "iisi", false, true, /* a field named as the tag wins */
         "{\"t\":\"s2\",\"a\":0,\"bb\":1,\"ccc\":null,\"temperature\":3}"},
        {"a bb t temperature", "iifi", false, true, /* again, from the block */
         "{\"t\":2.5,\"a\":0,\"bb\":1,\"ccc\":null,\"temperature\":3}"},
        {"a bb t temperature", "ii-i", false, true, /* no value: the tag's */
         "{\"t\":\"tv\",\"a\":0,\"bb\":1,\"ccc\":null,\"temperature\":3}"},
    };
    bmsg_t *m = cn_calloc(1, sizeof *m), *mr = cn_calloc(1, sizeof *mr);
    for (size_t k = 0; k < CN_ARRAY_LEN(steps); k++) {
        bmsg_make(m, steps[k].names, steps[k].types, steps[k].apart, steps[k].tag);
        bind_json(row, p, &m->m, &b);
        if (strcmp((const char *)b.p, steps[k].want) != 0)
            print_message("step %zu: %s\n", k, (const char *)b.p);
        assert_string_equal((const char *)b.p, steps[k].want);
        /* the tag's text is the tag's own string unless a field took the slot */
        const char *tx;
        size_t tn;
        bool bound = qry_row_slot_text(row, tslot, &tx, &tn);
        assert_int_equal(bound, strstr(steps[k].want, "\"t\":null") == NULL);
        if (strstr(steps[k].want, "\"t\":\"tv\""))
            assert_ptr_equal(tx, m->tg[0].val);
        else if (bound)
            assert_ptr_not_equal(tx, m->tg[0].val);
        *mr = *m; /* the same message without name lengths */
        mr->m.name_lens = NULL;
        bind_json(ref, p, &mr->m, &rb);
        assert_string_equal((const char *)rb.p, steps[k].want);
    }
    cn_free(m);
    cn_free(mr);
    cn_buf_free(&b);
    cn_buf_free(&rb);
    qry_prog_free(p);
    qry_row_free(row);
    qry_row_free(ref);
    qry_symtab_free(st);
}

/* A slot's template text: a tag's value as it is, a field of the same name
 * wins over the tag (eval.c NOTES 7), and the next bind's tag is read anew. */
static void test_slot_text_tags(void **state)
{
    (void)state;
    qry_symtab_t *st;
    qry_symtab_new(&st);
    uint32_t fleet = qry_symtab_add(st, "fleet"), dev = qry_symtab_add(st, "device_id");
    qry_row_t *row;
    qry_row_new(st, &row);
    qry_msg_t m = msg(); /* tag fleet "f1", field fleet "field-wins" */
    const char *tx;
    size_t tn;
    for (int round = 0; round < 2; round++) {
        qry_row_bind(row, &m);
        assert_true(qry_row_slot_text(row, fleet, &tx, &tn));
        assert_int_equal(tn, 10);
        assert_string_equal(tx, "field-wins");
        assert_true(qry_row_slot_text(row, dev, &tx, &tn));
        assert_ptr_equal(tx, tags[0].val);
        assert_int_equal(tn, 2);
        eng_tag_t tg[] = {{"fleet", "only-tag"}};
        qry_msg_t m2 = {.topic = "t", .topic_len = 1, .tags = tg, .ntags = 1};
        qry_row_bind(row, &m2);
        assert_true(qry_row_slot_text(row, fleet, &tx, &tn));
        assert_string_equal(tx, "only-tag");
        assert_int_equal(tn, 8);
        assert_false(qry_row_slot_text(row, dev, &tx, &tn));
    }
    qry_row_free(row);
    qry_symtab_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics),     cmocka_unit_test(test_errors),
        cmocka_unit_test(test_nulls),      cmocka_unit_test(test_in_like_regex),
        cmocka_unit_test(test_functions),  cmocka_unit_test(test_shared_row),
        cmocka_unit_test(test_val_text),   cmocka_unit_test(test_json_dom),
        cmocka_unit_test(test_fast_where), cmocka_unit_test(test_json_cache),
        cmocka_unit_test(test_prefilter),  cmocka_unit_test(test_bind_shape),
        cmocka_unit_test(test_bind_block), cmocka_unit_test(test_slot_text_tags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
