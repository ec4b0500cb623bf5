/* SPDX-License-Identifier: MIT */
/*
 * auth_int.h - what the auth service's files share inside ingest/auth/:
 * the decision cache (cache.c), the HTTP client thread (http.c) and the
 * HTTP service's JSON answer parser (also fuzzed).
 */
#ifndef MQ_AUTH_INT_H
#define MQ_AUTH_INT_H

#include "auth.h"

#include <pthread.h>

/* ----------------------------------------------------------- pwfile.c */

/* Copies some user's hash (the cost template for unknown users). */
int mq_auth__pwfile_any(const mq_auth_pwfile_t *pf, mq_auth_hash_t *out /* OUT */);

/* ------------------------------------------------------------ cache.c */

enum { MQ_AUTH__KIND_PW = 1, MQ_AUTH__KIND_HTTP = 2 };

typedef struct mq_auth__cache mq_auth__cache_t;

/* entries is rounded up to a power of two >= 4.  Thread-safe (one mutex). */
mq_auth__cache_t *mq_auth__cache_new(uint32_t entries);
void mq_auth__cache_free(mq_auth__cache_t *c);
/* The lookup key: SHA-256 over the cache's secret, the kind byte and each
 * part length-prefixed (parts[i], lens[i]; a NULL part hashes as absent). */
void mq_auth__cache_key(const mq_auth__cache_t *c, uint8_t kind, const void *const *parts,
                        const size_t *lens, int nparts, uint8_t key[32] /* OUT */);
/* True (and *reason, OUT) when key is present, unexpired at now and was
 * stored with generation gen (the password file's: a decision made with an
 * older file never answers for a newer one; HTTP entries use 0). */
bool mq_auth__cache_get(mq_auth__cache_t *c, const uint8_t key[32], int64_t now, uint32_t gen,
                        uint8_t *reason /* OUT */);
void mq_auth__cache_put(mq_auth__cache_t *c, const uint8_t key[32], uint8_t kind, uint32_t gen,
                        uint8_t reason, int64_t expires);
/* Drops every entry of one kind (a reload drops the password entries). */
void mq_auth__cache_drop(mq_auth__cache_t *c, uint8_t kind);

/* ------------------------------------------------------------- http.c */

/* The HTTP service's verdicts before they become CONNACK reasons. */
enum { MQ_AUTH__HTTP_ALLOW = 0, MQ_AUTH__HTTP_DENY, MQ_AUTH__HTTP_IGNORE, MQ_AUTH__HTTP_FAIL };

typedef struct mq_auth__http mq_auth__http_t;
/* Called once per request on the HTTP thread with a MQ_AUTH__HTTP_* verdict. */
typedef void (*mq_auth__http_cb)(void *arg, int verdict);

/* Starts the HTTP thread.  0 or CN_EINVAL (curl refused the URL) / -errno. */
int mq_auth__http_new(const char *url, int64_t timeout_ns, uint32_t max_conns,
                      mq_auth__http_t **out /* OUT */);
/* Fails what is pending (verdict FAIL), joins the thread, frees. NULL ok. */
void mq_auth__http_free(mq_auth__http_t *h);
/* Queues a POST of body (taken: cn_malloc'ed, freed by the HTTP thread);
 * cb(arg, verdict) follows exactly once, on the HTTP thread. */
void mq_auth__http_post_take(mq_auth__http_t *h, char *body, size_t len, mq_auth__http_cb cb,
                             void *arg);
/* Appends the request JSON for creds c to out (see auth.h). */
void mq_auth__http_body(const mq_auth_creds_t *c, cn_buf_t *out);
/* The host part of "host:port" / "[v6]:port" (borrowed slice of peer). */
const char *mq_auth__peer_host(const char *peer, size_t *n /* OUT */);

/*
 * Parses the service's 200 body: a JSON object whose member "result" is
 * the string "allow", "deny" or "ignore" (other members are skipped; the
 * first "result" counts).  Returns MQ_AUTH__HTTP_ALLOW/DENY/IGNORE, or
 * MQ_AUTH__HTTP_FAIL for anything else (not JSON, no result, another
 * value, nesting deeper than 32).
 */
int mq_auth__http_verdict(const char *body, size_t n);

#endif /* MQ_AUTH_INT_H */
