/* SPDX-License-Identifier: MIT */
/*
 * test_rule_eval.c - query/eval.c, eval_run.c, eval_fn.c and json.c: rules
 * run over one fixed message, each checked for its exact verdict and its
 * exact JSON output or error message: arithmetic and its types, NULL
 * logic, IN lists, LIKE escapes, regexes, every function, '*', json_field,
 * topic levels, and many programs sharing one symbol table and row.
 */
#include "eval.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics),    cmocka_unit_test(test_errors),
        cmocka_unit_test(test_nulls),     cmocka_unit_test(test_in_like_regex),
        cmocka_unit_test(test_functions), cmocka_unit_test(test_shared_row),
        cmocka_unit_test(test_val_text),  cmocka_unit_test(test_json_dom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
