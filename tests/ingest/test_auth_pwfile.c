/* SPDX-License-Identifier: MIT */
/*
 * test_auth_pwfile.c - password hashes (ingest/auth/hash.c) and the
 * password file (ingest/auth/pwfile.c): our PBKDF2 text against a vector
 * computed independently (Python's hashlib), lines written by Debian's
 * mosquitto_passwd ($7$ and $6$), wrong passwords, malformed hashes, and
 * every password-file diagnostic with its exact FILE:LINE text.
 */
#include "auth/auth.h"

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

/* hashlib.pbkdf2_hmac('sha512', b'password', bytes(range(16)), 1000) */
static const char PY_VECTOR[] =
    "$pbkdf2-sha512$i=1000$AAECAwQFBgcICQoLDA0ODw$x05AgND7tB/uWGjA/2D9dayuJjghWYfl/"
    "1T46uIRM5ta0a9uOHvBLdOnC7blqQEIFBxfCONToumEQ5pDM8Qtbg";
/* mosquitto_passwd -c -b F alice 's3cret pass' (mosquitto 2.0.11) */
static const char MOSQ7[] = "$7$101$tiB5upJnnju1A2Ak$Vf49RBuAk+0plkPRQDEBP6QFWwUgARt3txEYqx5tZz8M3"
                            "3jmvJQkytJ8ihgF3tn380jrdeSqFaLvMmePFIOEjQ==";
/* mosquitto_passwd -H sha512 -b F bob hunter2 */
static const char MOSQ6[] = "$6$1c5ik3rmXeUqCggL$jxP7HNEIRJ6VjEgop9b+PUIUawqjOYLo2cQhtF/"
                            "jGCImjIJJN9SJgqHfucywyxHnUuAPZxiyM0NobYqCBmTBTA==";

static bool verify_text(const char *text, const char *pw)
{
    mq_auth_hash_t h;
    assert_int_equal(mq_auth_hash_parse(text, strlen(text), &h), 0);
    return mq_auth_hash_verify(&h, (const uint8_t *)pw, strlen(pw));
}

static void test_vector(void **state)
{
    (void)state;
    mq_auth_hash_t h;
    assert_int_equal(mq_auth_hash_parse(PY_VECTOR, strlen(PY_VECTOR), &h), 0);
    assert_int_equal(h.algo, MQ_AUTH_PBKDF2_SHA512);
    assert_int_equal(h.iterations, 1000);
    assert_int_equal(h.salt_len, 16);
    assert_int_equal(h.hash_len, 64);
    for (int i = 0; i < 16; i++)
        assert_int_equal(h.salt[i], i);
    assert_true(verify_text(PY_VECTOR, "password"));
    assert_false(verify_text(PY_VECTOR, "Password"));
    assert_false(verify_text(PY_VECTOR, "password "));
    assert_false(verify_text(PY_VECTOR, ""));
}

static void test_mosquitto(void **state)
{
    (void)state;
    mq_auth_hash_t h;
    assert_int_equal(mq_auth_hash_parse(MOSQ7, strlen(MOSQ7), &h), 0);
    assert_int_equal(h.algo, MQ_AUTH_MOSQ_PBKDF2);
    assert_int_equal(h.iterations, 101);
    assert_int_equal(h.salt_len, 12);
    assert_true(verify_text(MOSQ7, "s3cret pass"));
    assert_false(verify_text(MOSQ7, "s3cret pas"));
    assert_int_equal(mq_auth_hash_parse(MOSQ6, strlen(MOSQ6), &h), 0);
    assert_int_equal(h.algo, MQ_AUTH_MOSQ_SHA512);
    assert_true(verify_text(MOSQ6, "hunter2"));
    assert_false(verify_text(MOSQ6, "hunter3"));
}

static void test_make(void **state)
{
    (void)state;
    char a[MQ_AUTH_HASH_TEXT_MAX], b[MQ_AUTH_HASH_TEXT_MAX];
    /* Binary passwords: MQTT's password field is bytes, NUL included. */
    static const uint8_t pw[] = {'p', 0, 'w', 0xff};
    int n = mq_auth_hash_make(pw, sizeof pw, 1234, a, sizeof a);
    assert_int_equal(n, (int)strlen(a));
    /* "$pbkdf2-sha512$i=1234$" + 22 salt chars + '$' + 86 hash chars */
    assert_int_equal(n, 22 + 22 + 1 + 86);
    assert_memory_equal(a, "$pbkdf2-sha512$i=1234$", 22);
    assert_int_equal(mq_auth_hash_make(pw, sizeof pw, 1234, b, sizeof b), n);
    assert_string_not_equal(a, b); /* fresh salt each time */
    mq_auth_hash_t h;
    assert_int_equal(mq_auth_hash_parse(a, (size_t)n, &h), 0);
    assert_int_equal(h.iterations, 1234);
    assert_true(mq_auth_hash_verify(&h, pw, sizeof pw));
    assert_false(mq_auth_hash_verify(&h, pw, sizeof pw - 1));
    assert_false(mq_auth_hash_verify(&h, (const uint8_t *)"p", 1));
    assert_int_equal(mq_auth_hash_make(pw, 1, 0, a, sizeof a), CN_EINVAL);
    assert_int_equal(mq_auth_hash_make(pw, 1, MQ_AUTH_MAX_ITERATIONS + 1, a, sizeof a), CN_EINVAL);
    assert_int_equal(mq_auth_hash_make(pw, 1, 1000, a, 100), CN_EINVAL);
}

static void test_bad_hashes(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "plain",
        "$pbkdf2-sha512$i=1000$AAECAwQFBgcICQoLDA0ODw", /* no hash */
        "$pbkdf2-sha512$1000$AAECAwQFBgcICQoLDA0ODw$x05AgND7tB/uWGjA/2D9dayuJjghWYfl/"
        "1T46uIRM5ta0a9uOHvBLdOnC7blqQEIFBxfCONToumEQ5pDM8Qtbg", /* no i= */
        "$pbkdf2-sha512$i=0$AAECAwQFBgcICQoLDA0ODw$x05AgND7tB/uWGjA/2D9dayuJjghWYfl/"
        "1T46uIRM5ta0a9uOHvBLdOnC7blqQEIFBxfCONToumEQ5pDM8Qtbg", /* zero cost */
        "$pbkdf2-sha512$i=01000$AAECAwQFBgcICQoLDA0ODw$x05AgND7tB/uWGjA/2D9dayuJjghWYfl/"
        "1T46uIRM5ta0a9uOHvBLdOnC7blqQEIFBxfCONToumEQ5pDM8Qtbg", /* leading zero */
        "$pbkdf2-sha512$i=1000$AAECAwQFBgcICQoLDA0ODw$x05AgND7tB/uWGjA/2D9dayuJjghWYfl/"
        "1T46uIRM5ta0a9uOHvBLdOnC7blqQEIFBxfCONToumEQ5pDM8Qtb", /* 63.x bytes */
        "$pbkdf2-sha512$i=1000$AAECAw$x05AgND7tB/uWGjA/2D9dayuJjghWYfl/"
        "1T46uIRM5ta0a9uOHvBLdOnC7blqQEIFBxfCONToumEQ5pDM8Qtbg", /* 4-byte salt */
        "$pbkdf2-sha512$i=1000$AAECAwQFBgcICQoLDA0ODw$x05AgND7tB/uWGjA/2D9dayuJjghWYfl/"
        "1T46uIRM5ta0a9uOHvBLdOnC7blqQEIFBxfCONToumEQ5pDM8Qtbh", /* non-canonical tail bits */
        "$pbkdf2-sha256$i=1000$AAECAwQFBgcICQoLDA0ODw$x05AgND7tB/uWGjA/2D9dayuJjghWYfl/"
        "1T46uIRM5ta0a9uOHvBLdOnC7blqQEIFBxfCONToumEQ5pDM8Qtbg", /* other algorithm */
        "$7$101$tiB5upJnnju1A2Ak$Vf49RBuAk+0plkPRQDEBP6QFWwUgARt3txEYqx5tZz8M33jmvJQkytJ8ihgF3t"
        "n380jrdeSqFaLvMmePFIOEjQ=", /* wrong padding */
        "$7$101$tiB5upJnnju1A2Ak$Vf49RBuAk*0plkPRQDEBP6QFWwUgARt3txEYqx5tZz8M33jmvJQkytJ8ihgF3t"
        "n380jrdeSqFaLvMmePFIOEjQ==", /* bad character */
        "$6$1c5ik3rmXeUqCggL$jxP7HNEIRJ6VjEgop9b+PUIUawqjOYLo2cQhtF/"
        "jGCImjIJJN9SJgqHfucywyxHnUuAPZxiyM0NobYqCBmTBTA==$", /* extra field */
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(bad); i++) {
        mq_auth_hash_t h;
        if (mq_auth_hash_parse(bad[i], strlen(bad[i]), &h) != CN_EINVAL)
            fail_msg("accepted bad hash #%zu: %s", i, bad[i]);
    }
}

/* Parses text as password file "pw"; returns rc and the diagnostics. */
static int parse(const char *text, mq_auth_pwfile_t **pf, char **diag)
{
    size_t len;
    FILE *d = open_memstream(diag, &len);
    int rc = mq_auth_pwfile_parse("pw", text, strlen(text), d, pf);
    fclose(d);
    return rc;
}

static void test_pwfile(void **state)
{
    (void)state;
    char text[2048];
    snprintf(text, sizeof text,
             "# cairn password file\n\n  # indented comment\r\nalice:%s\r\nbob:%s\ncarl:%s", MOSQ7,
             MOSQ6, PY_VECTOR);
    mq_auth_pwfile_t *pf;
    char *diag;
    assert_int_equal(parse(text, &pf, &diag), 0);
    assert_string_equal(diag, "cairn: password-file pw:5: warning: user 'bob' has a $6$ (single "
                              "SHA-512) hash, which is fast to brute-force; set the password "
                              "again with cairn passwd\n");
    free(diag);
    assert_int_equal(mq_auth_pwfile_count(pf), 3);
    mq_auth_hash_t h;
    assert_int_equal(mq_auth_pwfile_lookup(pf, "alice", 5, &h), 0);
    assert_true(mq_auth_hash_verify(&h, (const uint8_t *)"s3cret pass", 11));
    assert_int_equal(mq_auth_pwfile_lookup(pf, "carl", 4, &h), 0);
    assert_true(mq_auth_hash_verify(&h, (const uint8_t *)"password", 8));
    assert_int_equal(mq_auth_pwfile_lookup(pf, "bob", 3, &h), 0);
    assert_int_equal(h.algo, MQ_AUTH_MOSQ_SHA512);
    assert_int_equal(mq_auth_pwfile_lookup(pf, "ALICE", 5, &h), CN_ENOTFOUND);
    assert_int_equal(mq_auth_pwfile_lookup(pf, "alic", 4, &h), CN_ENOTFOUND);
    assert_int_equal(mq_auth_pwfile_lookup(pf, "", 0, &h), CN_ENOTFOUND);
    mq_auth_pwfile_free(pf);

    assert_int_equal(parse("", &pf, &diag), 0);
    assert_string_equal(diag, "");
    free(diag);
    assert_int_equal(mq_auth_pwfile_count(pf), 0);
    mq_auth_pwfile_free(pf);
}

static void test_pwfile_errors(void **state)
{
    (void)state;
    char good[512];
    snprintf(good, sizeof good, "alice:%s\n", PY_VECTOR);
    static const struct {
        const char *text; /* @ = a good line for alice */
        const char *diag;
    } cases[] = {
        {"@\nno colon here\n", "cairn: password-file pw:3: expected 'username:hash'\n"},
        {"@:@", "cairn: password-file pw:2: bad user name\n"},
        {"@bad\x01user:x\n", "cairn: password-file pw:2: bad user name\n"},
        {"@bad\xc3(:x\n", "cairn: password-file pw:2: bad user name\n"},
        {"@\n\nbob:$pbkdf2-sha512$i=1000$AA$AA\n",
         "cairn: password-file pw:4: unrecognised password hash for user 'bob'\n"},
        {"@bob:plaintext\n",
         "cairn: password-file pw:2: unrecognised password hash for user 'bob'\n"},
        {"@#\n@", "cairn: password-file pw:3: duplicate user 'alice' (first on line 1)\n"},
    };
    for (size_t i = 0; i < CN_ARRAY_LEN(cases); i++) {
        char text[2048];
        size_t o = 0;
        for (const char *c = cases[i].text; *c; c++) {
            size_t n = *c == '@' ? strlen(good) : 1;
            memcpy(text + o, *c == '@' ? good : c, n);
            o += n;
        }
        text[o] = 0;
        mq_auth_pwfile_t *pf = NULL;
        char *diag;
        assert_int_equal(parse(text, &pf, &diag), CN_ECONFIG);
        assert_null(pf);
        assert_string_equal(diag, cases[i].diag);
        free(diag);
    }
}

static void test_pwfile_load(void **state)
{
    (void)state;
    char dir[] = "/tmp/cairn-test-pw.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], *diag;
    size_t len;
    snprintf(path, sizeof path, "%s/missing", dir);
    mq_auth_pwfile_t *pf = NULL;
    FILE *d = open_memstream(&diag, &len);
    assert_int_equal(mq_auth_pwfile_load(path, d, &pf), CN_ECONFIG);
    fclose(d);
    char want[512];
    snprintf(want, sizeof want, "cairn: password-file %s: No such file or directory\n", path);
    assert_string_equal(diag, want);
    free(diag);
    snprintf(path, sizeof path, "%s/pw", dir);
    char text[512];
    int n = snprintf(text, sizeof text, "u1:%s\n", PY_VECTOR);
    assert_int_equal(cn_file_write_atomic(path, text, (size_t)n), 0);
    assert_int_equal(mq_auth_pwfile_load(path, NULL, &pf), 0);
    assert_int_equal(mq_auth_pwfile_count(pf), 1);
    mq_auth_pwfile_free(pf);
    mq_auth_pwfile_free(NULL);
    assert_int_equal(cn_rmtree(dir), 0);
}

static void test_user_valid(void **state)
{
    (void)state;
    assert_true(mq_auth_user_valid("a", 1));
    assert_true(mq_auth_user_valid("J\xc3\xbcrgen", 7));
    assert_true(mq_auth_user_valid("with space", 10));
    assert_true(mq_auth_user_valid("\xf0\x9f\x98\x80", 4));
    assert_false(mq_auth_user_valid("", 0));
    assert_false(mq_auth_user_valid("a:b", 3));
    assert_false(mq_auth_user_valid("a\nb", 3));
    assert_false(mq_auth_user_valid("a\x7f", 2));
    assert_false(mq_auth_user_valid("\xc0\x80", 2));     /* overlong NUL */
    assert_false(mq_auth_user_valid("\xed\xa0\x80", 3)); /* surrogate */
    assert_false(mq_auth_user_valid("\xe2\x82", 2));     /* truncated */
    assert_false(mq_auth_user_valid("\xf4\x90\x80\x80", 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),      cmocka_unit_test(test_mosquitto),
        cmocka_unit_test(test_make),        cmocka_unit_test(test_bad_hashes),
        cmocka_unit_test(test_pwfile),      cmocka_unit_test(test_pwfile_errors),
        cmocka_unit_test(test_pwfile_load), cmocka_unit_test(test_user_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
