/* SPDX-License-Identifier: MIT */
/*
 * hash.c - password hashes: PBKDF2-HMAC-SHA512 through OpenSSL, the
 * self-describing text form cairn writes ($pbkdf2-sha512$i=N$salt$hash),
 * and the two mosquitto_passwd forms it reads ($7$ and $6$).  The formats
 * are documented in auth.h.
 *
 * NOTES
 *  1. Base64 here is RFC 4648 section 4 (A-Z a-z 0-9 + /).  cairn writes it
 *     without '=' padding (PHC strings); the decoder accepts padding only
 *     at the end and only as much as the length needs, so each text has
 *     exactly one reading.
 *  2. Verification always derives the full hash length and compares with
 *     CRYPTO_memcmp, so the time taken does not depend on where the first
 *     differing byte is.
 */
#include "auth.h"

#include <assert.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encodes n bytes without padding into out (room for 4*ceil(n/3)+1). */
static size_t b64_encode(const uint8_t *p, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = B64[v >> 18];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = B64[(v >> 6) & 63];
        out[o++] = B64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = B64[v >> 18];
        out[o++] = B64[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = B64[v >> 18];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = B64[(v >> 6) & 63];
    }
    out[o] = 0;
    return o;
}

static int b64_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes s (n chars, NOTES 1) into out (cap bytes).  Returns the byte
 * count or CN_EINVAL. */
static int b64_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
    size_t pad = 0;
    while (n && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if (n % 4 == 1 || (pad && (n + pad) % 4 != 0))
        return CN_EINVAL;
    size_t len = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (len > cap)
        return CN_EINVAL;
    uint32_t acc = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_val(s[i]);
        if (v < 0)
            return CN_EINVAL;
        acc = acc << 6 | (uint32_t)v;
        if (i % 4 == 3) {
            out[o++] = (uint8_t)(acc >> 16);
            out[o++] = (uint8_t)(acc >> 8);
            out[o++] = (uint8_t)acc;
            acc = 0;
        }
    }
    if (n % 4 == 2) {
        if (acc & 0xf) /* non-zero trailing bits: not the canonical text */
            return CN_EINVAL;
        out[o++] = (uint8_t)(acc >> 4);
    } else if (n % 4 == 3) {
        if (acc & 0x3)
            return CN_EINVAL;
        out[o++] = (uint8_t)(acc >> 10);
        out[o++] = (uint8_t)(acc >> 2);
    }
    assert(o == len);
    return (int)len;
}

static bool derive(const mq_auth_hash_t *h, const uint8_t *pw, size_t n, uint8_t *out)
{
    static const uint8_t empty = 0;
    const char *pass = n ? (const char *)pw : (const char *)&empty;
    if (n > INT32_MAX)
        return false;
    if (h->algo == MQ_AUTH_MOSQ_SHA512) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned len = 0;
        bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) == 1 &&
                  EVP_DigestUpdate(ctx, pass, n) == 1 &&
                  EVP_DigestUpdate(ctx, h->salt, h->salt_len) == 1 &&
                  EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == 64;
        EVP_MD_CTX_free(ctx);
        return ok;
    }
    return PKCS5_PBKDF2_HMAC(pass, (int)n, h->salt, h->salt_len, (int)h->iterations, EVP_sha512(),
                             h->hash_len, out) == 1;
}

bool mq_auth_hash_verify(const mq_auth_hash_t *h, const uint8_t *pw, size_t n)
{
    uint8_t got[64];
    if (h->hash_len == 0 || h->hash_len > sizeof got || !derive(h, pw, n, got))
        return false;
    bool same = CRYPTO_memcmp(got, h->hash, h->hash_len) == 0; /* NOTES 2 */
    OPENSSL_cleanse(got, sizeof got);
    return same;
}

int mq_auth_hash_make(const uint8_t *pw, size_t n, uint32_t iterations, char *out, size_t outsz)
{
    if (iterations < 1 || iterations > MQ_AUTH_MAX_ITERATIONS || outsz < MQ_AUTH_HASH_TEXT_MAX)
        return CN_EINVAL;
    mq_auth_hash_t h = {
        .algo = MQ_AUTH_PBKDF2_SHA512, .salt_len = 16, .hash_len = 64, .iterations = iterations};
    if (RAND_bytes(h.salt, h.salt_len) != 1 || !derive(&h, pw, n, h.hash))
        return CN_ELIMIT;
    char salt[32], hash[96];
    b64_encode(h.salt, h.salt_len, salt);
    b64_encode(h.hash, h.hash_len, hash);
    OPENSSL_cleanse(&h, sizeof h);
    return snprintf(out, outsz, "$pbkdf2-sha512$i=%u$%s$%s", (unsigned)iterations, salt, hash);
}

/* Splits s at '$' into at most `max` fields after the leading '$'.  Returns
 * the field count or CN_EINVAL. */
static int split(const char *s, size_t n, const char **f, size_t *flen, int max)
{
    if (n == 0 || s[0] != '$')
        return CN_EINVAL;
    int k = 0;
    size_t start = 1;
    for (size_t i = 1; i <= n; i++) {
        if (i < n && s[i] != '$')
            continue;
        if (k == max)
            return CN_EINVAL;
        f[k] = s + start;
        flen[k++] = i - start;
        start = i + 1;
    }
    return k;
}

/* A decimal count in 1..MQ_AUTH_MAX_ITERATIONS without leading zeros. */
static int parse_iter(const char *s, size_t n, uint32_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 9 || s[0] == '0')
        return CN_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return CN_EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > MQ_AUTH_MAX_ITERATIONS)
        return CN_EINVAL;
    *out = (uint32_t)v;
    return 0;
}

/* Fills salt and hash from their base64 fields with the allowed sizes. */
static int salt_hash(mq_auth_hash_t *h, const char *const *f, const size_t *flen)
{
    int s = b64_decode(f[0], flen[0], h->salt, sizeof h->salt);
    int d = b64_decode(f[1], flen[1], h->hash, sizeof h->hash);
    if (s < 8 || d != 64)
        return CN_EINVAL;
    h->salt_len = (uint8_t)s;
    h->hash_len = (uint8_t)d;
    return 0;
}

int mq_auth_hash_parse(const char *s, size_t n, mq_auth_hash_t *out)
{
    const char *f[5];
    size_t flen[5];
    mq_auth_hash_t h;
    memset(&h, 0, sizeof h);
    int k = split(s, n, f, flen, 5);
    if (k == 4 && flen[0] == 13 && memcmp(f[0], "pbkdf2-sha512", 13) == 0) {
        h.algo = MQ_AUTH_PBKDF2_SHA512;
        if (flen[1] < 3 || memcmp(f[1], "i=", 2) != 0 ||
            parse_iter(f[1] + 2, flen[1] - 2, &h.iterations) < 0 || salt_hash(&h, f + 2, flen + 2))
            return CN_EINVAL;
    } else if (k == 4 && flen[0] == 1 && f[0][0] == '7') {
        h.algo = MQ_AUTH_MOSQ_PBKDF2;
        if (parse_iter(f[1], flen[1], &h.iterations) < 0 || salt_hash(&h, f + 2, flen + 2))
            return CN_EINVAL;
    } else if (k == 3 && flen[0] == 1 && f[0][0] == '6') {
        h.algo = MQ_AUTH_MOSQ_SHA512;
        h.iterations = 1;
        if (salt_hash(&h, f + 1, flen + 1))
            return CN_EINVAL;
    } else {
        return CN_EINVAL;
    }
    *out = h;
    return 0;
}
