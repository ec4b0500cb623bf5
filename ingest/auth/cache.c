/* SPDX-License-Identifier: MIT */
/*
 * cache.c - the auth service's decision cache: a fixed-size, 4-way
 * set-associative table of (32-byte keyed hash -> reason, expiry).  Keys
 * are SHA-256 over a random secret drawn at creation and the request's
 * length-prefixed parts, so the table holds no password and a key cannot
 * be predicted from outside the process.
 *
 * NOTES
 *  1. Bounded: the table never grows.  An insert takes an empty or expired
 *     way of its set, else the way that expires first.
 *  2. One mutex guards the table; a lookup is a hash plus four 32-byte
 *     compares, so the critical section is tiny next to the CONNECT it
 *     serves.
 */
#include "auth_int.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#define WAYS 4

typedef struct entry {
    uint8_t key[32];
    int64_t expires;
    uint32_t gen;
    uint8_t kind; /* 0 = empty */
    uint8_t reason;
} entry_t;

struct mq_auth__cache {
    pthread_mutex_t mu;
    entry_t *e;
    size_t nsets; /* power of two */
    uint8_t secret[32];
};

mq_auth__cache_t *mq_auth__cache_new(uint32_t entries)
{
    mq_auth__cache_t *c = cn_calloc(1, sizeof *c);
    size_t n = WAYS;
    while (n < entries)
        n *= 2;
    c->nsets = n / WAYS;
    c->e = cn_calloc(n, sizeof *c->e);
    if (RAND_bytes(c->secret, sizeof c->secret) != 1) {
        /* Without a secret, keys would still be unique; only guessable. */
        uint64_t t = (uint64_t)cn_now_ns() ^ (uint64_t)(uintptr_t)c;
        memcpy(c->secret, &t, sizeof t);
    }
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void mq_auth__cache_free(mq_auth__cache_t *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    memset(c->e, 0, c->nsets * WAYS * sizeof *c->e);
    cn_free(c->e);
    cn_free(c);
}

void mq_auth__cache_key(const mq_auth__cache_t *c, uint8_t kind, const void *const *parts,
                        const size_t *lens, int nparts, uint8_t key[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned len = 0;
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(ctx, c->secret, sizeof c->secret) == 1 &&
              EVP_DigestUpdate(ctx, &kind, 1) == 1;
    for (int i = 0; ok && i < nparts; i++) {
        uint8_t hdr[9];
        uint64_t n = parts[i] ? (uint64_t)lens[i] : 0;
        hdr[0] = parts[i] != NULL;
        memcpy(hdr + 1, &n, 8);
        ok = EVP_DigestUpdate(ctx, hdr, sizeof hdr) == 1 &&
             (n == 0 || EVP_DigestUpdate(ctx, parts[i], (size_t)n) == 1);
    }
    ok = ok && EVP_DigestFinal_ex(ctx, key, &len) == 1 && len == 32;
    EVP_MD_CTX_free(ctx);
    if (!ok) /* never matches a stored key: all-zero keys are never stored */
        memset(key, 0, 32);
}

static bool zero_key(const uint8_t key[32])
{
    uint8_t acc = 0;
    for (int i = 0; i < 32; i++)
        acc |= key[i];
    return acc == 0;
}

static entry_t *set_of(mq_auth__cache_t *c, const uint8_t key[32])
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    return &c->e[(h & (c->nsets - 1)) * WAYS];
}

bool mq_auth__cache_get(mq_auth__cache_t *c, const uint8_t key[32], int64_t now, uint32_t gen,
                        uint8_t *reason)
{
    if (zero_key(key))
        return false;
    bool hit = false;
    pthread_mutex_lock(&c->mu);
    entry_t *s = set_of(c, key);
    for (int w = 0; w < WAYS; w++) {
        if (s[w].kind && s[w].expires > now && s[w].gen == gen && memcmp(s[w].key, key, 32) == 0) {
            *reason = s[w].reason;
            hit = true;
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

void mq_auth__cache_put(mq_auth__cache_t *c, const uint8_t key[32], uint8_t kind, uint32_t gen,
                        uint8_t reason, int64_t expires)
{
    if (zero_key(key))
        return;
    pthread_mutex_lock(&c->mu);
    entry_t *s = set_of(c, key), *victim = &s[0];
    for (int w = 0; w < WAYS; w++) { /* NOTES 1 */
        if (!s[w].kind || memcmp(s[w].key, key, 32) == 0) {
            victim = &s[w];
            break;
        }
        if (s[w].expires < victim->expires)
            victim = &s[w];
    }
    memcpy(victim->key, key, 32);
    victim->expires = expires;
    victim->gen = gen;
    victim->kind = kind;
    victim->reason = reason;
    pthread_mutex_unlock(&c->mu);
}

void mq_auth__cache_drop(mq_auth__cache_t *c, uint8_t kind)
{
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->nsets * WAYS; i++)
        if (c->e[i].kind == kind)
            memset(&c->e[i], 0, sizeof c->e[i]);
    pthread_mutex_unlock(&c->mu);
}
