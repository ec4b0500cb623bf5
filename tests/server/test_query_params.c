/* SPDX-License-Identifier: MIT */
/*
 * test_query_params.c - a URL's query string as the handlers read it
 * (srv__query_param, srv__query_values / srv__query_value in server/http.c)
 * and a form-encoded POST body (srv__form_values, bounded by its length):
 * the first "key=" segment wins, '+' is a space, %XX a byte (either case),
 * a malformed % stays as it is, values are cut to the buffer; and a
 * multipart/form-data body (srv__multipart_values, with the Content-Type's
 * boundary from srv__media_type / srv__mime_param).
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
    assert_int_equal(srv__query_param(q, "x", v, sizeof v), 0);  /* no '=': empty, as Go */
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
    /* "pretty" without '=' is there, empty (Go's ParseQuery) */
    assert_int_equal(srv__query_value(vals[3], lens[3], v, sizeof v), 0);
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
    srv__form_values(body, 1, keys, 3, vals, lens); /* "q": empty */
    assert_non_null(vals[0]);
    assert_int_equal(lens[0], 0);
    srv__form_values(NULL, 0, keys, 3, vals, lens);
    assert_null(vals[0]);
    /* NULs after a key's first byte: no key, nothing read past the keys */
    static const char nul[] = "q\0\0\0\0\0\0\0\0\0\0\0=x&db=d";
    srv__form_values(nul, sizeof nul - 1, keys, 3, vals, lens);
    assert_null(vals[0]);
    assert_int_equal(srv__query_value(vals[1], lens[1], v, sizeof v), 1);
    assert_string_equal(v, "d");
}

/* v (n bytes) equals the string s */
static void assert_bytes(const char *v, size_t n, const char *s)
{
    assert_non_null(v);
    assert_int_equal(n, strlen(s));
    assert_memory_equal(v, s, n);
}

static void test_mime_params(void **st)
{
    (void)st;
    const char ct[] = "Multipart/Form-Data ; charset=utf-8; boundary=\"a\\\"b\\c\" ;";
    const char *ps;
    size_t pl, tl = srv__media_type(ct, sizeof ct - 1, &ps, &pl);
    assert_int_equal(tl, 20); /* "Multipart/Form-Data " */
    char v[16];
    assert_int_equal(srv__mime_param(ps, pl, "BOUNDARY", v, sizeof v), 5);
    assert_string_equal(v, "a\"b\\c"); /* \ escapes only a tspecial */
    assert_int_equal(srv__mime_param(ps, pl, "charset", v, sizeof v), 5);
    assert_string_equal(v, "utf-8");
    assert_int_equal(srv__mime_param(ps, pl, "x", v, sizeof v), -1);   /* absent */
    assert_int_equal(srv__mime_param(ps, pl, "boundary", NULL, 0), 5); /* its length */
    /* malformed as Go's mime.ParseMediaType finds them: -2 */
    assert_int_equal(srv__mime_param("; x; b=1", 8, "b", v, sizeof v), -2);
    assert_int_equal(srv__mime_param("; b=1; B=2", 10, "b", v, sizeof v), -2);
    assert_int_equal(srv__mime_param("; b=\"a\nb\"", 10, "b", v, sizeof v), -2);
    assert_int_equal(srv__mime_param(ps, pl, "charset", v, 5), -1);  /* too long */
    assert_int_equal(srv__mime_param("b=\"open", 7, "b", v, sizeof v), -2);
    assert_int_equal(srv__media_type("text/plain", 10, NULL, NULL), 10);
}

static void test_multipart(void **st)
{
    (void)st;
    static const char *const keys[] = {"q", "db", "epoch"};
    const char *vals[3], *files[3];
    size_t lens[3], flens[3];
    /* as curl -F sends it: a preamble is allowed, names are matched whole,
     * the first part of a name wins, a part with a filename is a file */
    const char body[] =
        "preamble\r\n--XY\r\n"
        "Content-Disposition: form-data; name=\"qq\"\r\n\r\nnot q\r\n--XY\r\n"
        "content-disposition: form-data; name=\"q\"; filename=\"f.txt\"\r\n"
        "Content-Type: text/plain\r\n\r\nSHOW DATABASES;\nSHOW DATABASES\n\r\n--XY  \r\n"
        "Content-Disposition: form-data; name=db\r\n\r\na&b=%41+\r\n--XY\r\n"
        "Content-Disposition: form-data; name=\"db\"\r\n\r\nsecond\r\n--XY\r\n"
        "Content-Disposition: form-data; name=\"epoch\"\r\n\r\n\r\n--XY--\r\n";
    assert_int_equal(
        srv__multipart_values(body, sizeof body - 1, "XY", keys, 3, vals, lens, files, flens), 0);
    assert_null(vals[0]);
    assert_bytes(files[0], flens[0], "SHOW DATABASES;\nSHOW DATABASES\n");
    assert_bytes(vals[1], lens[1], "a&b=%41+"); /* raw: nothing decoded */
    assert_bytes(vals[2], lens[2], "");
    assert_null(files[1]);
    /* lines ending in LF alone, as Go's reader also takes them */
    const char lf[] = "--bb\n--b\nContent-Disposition: form-data; name=\"q\"\n\nSELECT 1\n--bc\n"
                      "--b--\n";
    assert_int_equal(
        srv__multipart_values(lf, sizeof lf - 1, "b", keys, 3, vals, lens, files, flens), 0);
    assert_bytes(vals[0], lens[0], "SELECT 1\n--bc"); /* "--bc" is no delimiter of b */
    /* a body without its closing delimiter, or not multipart at all, gives
     * nothing, even the parts before the damage (as Go's ReadForm) */
    const char cut[] = "--b\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\nx\r\n--b\r\n"
                       "Content-Disposition: form-data; name=\"db\"\r\n\r\ny";
    assert_int_equal(
        srv__multipart_values(cut, sizeof cut - 1, "b", keys, 3, vals, lens, files, flens), -1);
    assert_null(vals[0]);
    assert_null(vals[1]);
    assert_int_equal(srv__multipart_values("q=1", 3, "b", keys, 3, vals, lens, files, flens), -1);
    assert_int_equal(srv__multipart_values("--b", 3, "b", keys, 3, vals, lens, files, flens), -1);
    assert_int_equal(srv__multipart_values("--b--", 5, "b", keys, 3, vals, lens, files, flens), 0);
    assert_null(vals[0]);
}

/* Where Go's mime/multipart decides otherwise than a first reading would
 * (each checked against InfluxDB 1.6.7 through curl). */
static void test_multipart_edges(void **st)
{
    (void)st;
    static const char *const keys[] = {"q", "db", "epoch"};
    const char *vals[3], *files[3];
    size_t lens[3], flens[3];
#define MP(body)                                                                                   \
    srv__multipart_values(body, sizeof body - 1, "XY", keys, 3, vals, lens, files, flens)
    /* an empty value: the delimiter right after the header's empty line;
     * "--XY-x" inside a value is no delimiter; an empty filename is a
     * value, and so is a part whose other parameter says "filename"; the
     * first Content-Disposition counts */
    const char a[] = "--XY\r\nContent-Disposition: form-data; name=\"db\"; filename=\"\"\r\n\r\n"
                     "--XY\r\nContent-Disposition: form-data; x=\"filename\"; name=q\r\n"
                     "Content-Disposition: form-data; name=epoch\r\n\r\nSHOW\r\n--XY-x\r\n"
                     "--XY--\r\nepilogue";
    assert_int_equal(MP(a), 0);
    assert_bytes(vals[1], lens[1], "");
    assert_bytes(vals[0], lens[0], "SHOW\r\n--XY-x");
    assert_null(vals[2]);
    assert_null(files[0]);
    /* the whole form fails on a header line without a colon, or on
     * anything but padding after the close delimiter */
    const char b[] = "--XY\r\nContent-Disposition: form-data; name=q\r\nnocolon\r\n\r\nx\r\n--XY--";
    assert_int_equal(MP(b), -1);
    const char c[] = "--XY\r\nContent-Disposition: form-data; name=q\r\n\r\nx\r\n--XY--garbage";
    assert_int_equal(MP(c), -1);
    assert_null(vals[0]);
    /* a malformed disposition (a parameter without a value) or a name with
     * a NUL leaves the part out, not the form */
    const char d[] = "--XY\r\nContent-Disposition: form-data; oops; name=q\r\n\r\nx\r\n--XY\r\n"
                     "Content-Disposition: form-data; name=\"db\\0\"\r\n\r\ny\r\n--XY\r\n"
                     "Content-Disposition: form-data; name=\"q\"\r\n\r\nz\r\n--XY--";
    char dn[sizeof d];
    memcpy(dn, d, sizeof d);
    *strstr(dn, "\\0") = '\0'; /* the name: 'd', 'b', NUL, '0' */
    assert_int_equal(
        srv__multipart_values(dn, sizeof d - 1, "XY", keys, 3, vals, lens, files, flens), 0);
    assert_bytes(vals[0], lens[0], "z");
    assert_null(vals[1]);
#undef MP
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_key),   cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_form_body), cmocka_unit_test(test_mime_params),
        cmocka_unit_test(test_multipart), cmocka_unit_test(test_multipart_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
