/* SPDX-License-Identifier: MIT */
/*
 * test_query_params.c - a URL's query string as the handlers read it
 * (srv__query_param, srv__query_values / srv__query_value in server/http.c)
 * and a form-encoded POST body (srv__form_values, bounded by its length):
 * the first "key=" segment wins, '+' is a space, %XX a byte (either case),
 * a malformed % stays as it is, values are cut to the buffer.
 */
#include "http_int.h"

#include <string.h>

/* cmocka.h needs these first; keep clang-format from sorting them after it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

static void test_one_key(void **st)
{
    (void)st;
    char v[32];
    const char *q = "db=iot&q=SELECT+*+FROM+%22m%22+WHERE+x+%3d+%3D%41&db=other&e=&x";
    assert_int_equal(srv__query_param(q, "db", v, sizeof v), 3);
    assert_string_equal(v, "iot"); /* the first one */
    assert_int_equal(srv__query_param(q, "q", v, sizeof v), 30);
    assert_string_equal(v, "SELECT * FROM \"m\" WHERE x = =A");
    assert_int_equal(srv__query_param(q, "e", v, sizeof v), 0);
    assert_string_equal(v, "");
    assert_int_equal(srv__query_param(q, "x", v, sizeof v), -1); /* no '=' */
    assert_int_equal(srv__query_param(q, "d", v, sizeof v), -1); /* a prefix of a key */
    assert_int_equal(srv__query_param(q, "dbx", v, sizeof v), -1);
    assert_int_equal(srv__query_param("", "q", v, sizeof v), -1);
    /* malformed escapes stay; a value cut to the buffer */
    assert_int_equal(srv__query_param("a=%zz%4%%41%", "a", v, sizeof v), 8);
    assert_string_equal(v, "%zz%4%A%");
    assert_int_equal(srv__query_param("a=abcdef", "a", v, 4), 3);
    assert_string_equal(v, "abc");
    assert_int_equal(srv__query_param("a=b=c", "a", v, sizeof v), 3);
    assert_string_equal(v, "b=c");
}

static void test_many_keys(void **st)
{
    (void)st;
    static const char *const keys[] = {"q", "db", "epoch", "pretty", "chunk_size"};
    const char *vals[5];
    size_t lens[5];
    const char *q = "pretty&epoch=ms&q=x%20y&q=second&db=&chunk_size=10";
    srv__query_values(q, keys, 5, vals, lens);
    char v[16];
    assert_int_equal(srv__query_value(vals[0], lens[0], v, sizeof v), 3);
    assert_string_equal(v, "x y");
    assert_int_equal(srv__query_value(vals[1], lens[1], v, sizeof v), 0);
    assert_int_equal(srv__query_value(vals[2], lens[2], v, sizeof v), 2);
    assert_string_equal(v, "ms");
    assert_null(vals[3]); /* "pretty" without '=' is no value */
    assert_int_equal(srv__query_value(vals[3], lens[3], v, sizeof v), -1);
    assert_int_equal(srv__query_value(vals[4], lens[4], v, sizeof v), 2);
    assert_string_equal(v, "10");
    /* nothing matches: every value NULL */
    srv__query_values("a=1&b=2", keys, 5, vals, lens);
    for (int i = 0; i < 5; i++)
        assert_null(vals[i]);
}

/* A form-encoded POST body: bounded by its length, no NUL after it. */
static void test_form_body(void **st)
{
    (void)st;
    static const char *const keys[] = {"q", "db", "epoch"};
    const char *vals[3];
    size_t lens[3];
    /* the body ends inside "epoch=msXX": only "ms" is its value */
    const char body[] = "q=SELECT+1&db=iot&epoch=msXX";
    srv__form_values(body, sizeof body - 3, keys, 3, vals, lens);
    char v[16];
    assert_int_equal(srv__query_value(vals[0], lens[0], v, sizeof v), 8);
    assert_string_equal(v, "SELECT 1");
    assert_int_equal(srv__query_value(vals[1], lens[1], v, sizeof v), 3);
    assert_string_equal(v, "iot");
    assert_int_equal(srv__query_value(vals[2], lens[2], v, sizeof v), 2);
    assert_string_equal(v, "ms");
    /* a body cut before a key's '=' gives no value; an empty body none */
    srv__form_values(body, 4, keys, 3, vals, lens);
    assert_int_equal(srv__query_value(vals[0], lens[0], v, sizeof v), 2);
    assert_string_equal(v, "SE");
    assert_null(vals[1]);
    srv__form_values(body, 1, keys, 3, vals, lens);
    assert_null(vals[0]);
    srv__form_values(NULL, 0, keys, 3, vals, lens);
    assert_null(vals[0]);
    /* NULs after a key's first byte: no key, nothing read past the keys */
    static const char nul[] = "q\0\0\0\0\0\0\0\0\0\0\0=x&db=d";
    srv__form_values(nul, sizeof nul - 1, keys, 3, vals, lens);
    assert_null(vals[0]);
    assert_int_equal(srv__query_value(vals[1], lens[1], v, sizeof v), 1);
    assert_string_equal(v, "d");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_key),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_form_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
