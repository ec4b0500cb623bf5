/* SPDX-License-Identifier: MIT */
/*
 * auth.h - authentication and authorisation for the MQTT broker: password
 * hashes, the password file, the ACL file, and the connect-time auth service
 * (worker threads, a cache of recent verifications, an optional external
 * HTTP auth service).
 *
 * Layers, bottom up (each usable on its own; the broker uses the last two):
 *
 *   mq_auth_hash_*    one password hash: make, parse, verify (hash.c)
 *   mq_auth_pwfile_*  a parsed password file, `user:hash` lines (pwfile.c)
 *   mq_auth_acl_*     a parsed ACL file and per-client compiled views (acl.c)
 *   mq_auth_*         the service: owns the current password file and ACL,
 *                     swaps them on reload, verifies CONNECTs on its own
 *                     threads (auth.c, cache.c, http.c)
 *
 * PASSWORD HASHES (the text after "user:" in the password file)
 *
 *   $pbkdf2-sha512$i=<iterations>$<salt>$<hash>     written by cairn
 *       PBKDF2-HMAC-SHA512 (RFC 8018), salt 16 random bytes (8..64 read),
 *       hash 64 bytes; salt and hash in base64 (RFC 4648 alphabet, the '='
 *       padding optional).  This is the PHC string format, so the cost can
 *       be raised later: each line carries its own algorithm and iteration
 *       count, old lines keep verifying, `cairn passwd` writes new ones
 *       with the current default (MQ_AUTH_DEFAULT_ITERATIONS).
 *   $7$<iterations>$<salt>$<hash>                    mosquitto_passwd 2.x
 *       PBKDF2-HMAC-SHA512 as well (mosquitto uses 12-byte salts and 101
 *       iterations by default), read so a Mosquitto password file works
 *       unchanged.
 *   $6$<salt>$<hash>                                 mosquitto_passwd 1.x
 *       one SHA-512 over password || salt.  Read for compatibility only; it
 *       is fast to brute-force, so loading a file with such lines logs a
 *       warning naming them.
 *   Comparison of the derived hash is constant-time (CRYPTO_memcmp).
 *
 * The connect-time service, its threads and the HTTP backend are
 * documented further down, beside their functions.
 */
#ifndef MQ_AUTH_H
#define MQ_AUTH_H

#include "base/base.h"

#include <stdio.h>

typedef struct mq_auth mq_auth_t; /* the service (below) */

/* ------------------------------------------------------------ hashes */

/* OWASP's 2023 figure for PBKDF2-HMAC-SHA512: ~0.1-0.2 s per hash here. */
#define MQ_AUTH_DEFAULT_ITERATIONS 210000u
#define MQ_AUTH_MAX_ITERATIONS     100000000u
/* Longest hash text cairn writes or reads, NUL included. */
#define MQ_AUTH_HASH_TEXT_MAX 256

enum mq_auth_algo {
    MQ_AUTH_PBKDF2_SHA512 = 1, /* $pbkdf2-sha512$ */
    MQ_AUTH_MOSQ_PBKDF2 = 2,   /* $7$ */
    MQ_AUTH_MOSQ_SHA512 = 3,   /* $6$ */
};

/* A parsed hash: a plain value, copied freely. */
typedef struct mq_auth_hash {
    uint8_t algo; /* enum mq_auth_algo */
    uint8_t salt_len;
    uint8_t hash_len;
    uint32_t iterations; /* 1 for $6$ */
    uint8_t salt[64];
    uint8_t hash[64];
} mq_auth_hash_t;

/*
 * Hashes pw (n bytes, any bytes) with PBKDF2-HMAC-SHA512, a fresh random
 * 16-byte salt and `iterations` (1..MQ_AUTH_MAX_ITERATIONS), and writes the
 * NUL-terminated $pbkdf2-sha512$ text to out (outsz >= MQ_AUTH_HASH_TEXT_MAX).
 * Returns the text length, CN_EINVAL (bad iterations or outsz) or
 * CN_ELIMIT (the OpenSSL RNG or KDF failed).  Slow by design: call it on a
 * worker thread, never on an event loop.
 */
int mq_auth_hash_make(const uint8_t *pw, size_t n, uint32_t iterations, char *out, size_t outsz);
/* Parses one hash text (n bytes, no NUL needed).  Returns 0 or CN_EINVAL. */
int mq_auth_hash_parse(const char *s, size_t n, mq_auth_hash_t *out /* OUT */);
/* True when pw derives to h's hash.  Slow (runs the KDF); any thread. */
bool mq_auth_hash_verify(const mq_auth_hash_t *h, const uint8_t *pw, size_t n);

/* ----------------------------------------------------- password file */

/*
 * PASSWORD FILE FORMAT
 *   One `username:hash` per line; the user name is everything before the
 *   FIRST ':' (so it cannot contain one), the hash everything after it.
 *   Blank lines and lines whose first non-blank character is '#' are
 *   ignored; a trailing "\r" is dropped.  A user name is 1..65535 bytes of
 *   valid UTF-8 without control characters (MQTT's rules for the user name
 *   field).  Any other line is an error: the whole file is refused (at
 *   startup cairn does not start, on reload the running file stays) and
 *   the diagnostic names FILE:LINE:
 *     "cairn: password-file F:3: expected 'username:hash'"
 *     "cairn: password-file F:3: bad user name"
 *     "cairn: password-file F:3: unrecognised password hash for user 'bob'"
 *     "cairn: password-file F:7: duplicate user 'bob' (first on line 3)"
 */
typedef struct mq_auth_pwfile mq_auth_pwfile_t;

/* Parses password-file text; `name` appears in diagnostics (diag may be
 * NULL).  Returns 0 with *out owned, or CN_ECONFIG. */
int mq_auth_pwfile_parse(const char *name, const char *text, size_t len, FILE *diag,
                         mq_auth_pwfile_t **out /* OUT */);
/* Reads and parses a file; unreadable files are CN_ECONFIG with
 * "cairn: password-file F: <strerror>". */
int mq_auth_pwfile_load(const char *path, FILE *diag, mq_auth_pwfile_t **out /* OUT */);
void mq_auth_pwfile_free(mq_auth_pwfile_t *pf); /* NULL is a no-op */
size_t mq_auth_pwfile_count(const mq_auth_pwfile_t *pf);
/* Copies user's hash into *out.  Returns 0 or CN_ENOTFOUND.  Read-only:
 * any number of threads may look up at once. */
int mq_auth_pwfile_lookup(const mq_auth_pwfile_t *pf, const char *user, size_t ulen,
                          mq_auth_hash_t *out /* OUT */);
/* True when s (n bytes) is a user name the file format can hold. */
bool mq_auth_user_valid(const char *s, size_t n);

/* --------------------------------------------------------------- ACL */

/*
 * ACL FILE FORMAT (mosquitto's acl_file)
 *   Lines, each trimmed; blank lines and lines starting with '#' are
 *   ignored.
 *     user <name>                    following `topic` lines are <name>'s
 *                                    (the rest of the line, trimmed; may
 *                                    repeat: sections of one name merge)
 *     topic [ACCESS] <filter>        a rule of the current section
 *     pattern [ACCESS] <filter>      a rule for EVERY client, wherever it
 *                                    stands in the file
 *   ACCESS is read, write, readwrite (the default) or deny.  The filter is
 *   the rest of the line (it may contain spaces) and must be a valid MQTT
 *   topic filter ('+' and '#' alone in their level, '#' last).  `topic`
 *   lines before the first `user` line form the anonymous section.  In a
 *   `pattern` filter, a level that is exactly %u or %c stands for the
 *   client's user name or client id; %u/%c mixed with other text in a level
 *   is an error.  Errors name FILE:LINE and refuse the whole file:
 *     "cairn: acl-file F:4: unknown keyword 'topics' (expected user, topic or pattern)"
 *     "cairn: acl-file F:5: missing topic filter"
 *     "cairn: acl-file F:6: bad topic filter 'a/#/b'"
 *     "cairn: acl-file F:7: %u and %c must be a whole topic level"
 *     "cairn: acl-file F:8: bad user name"
 *
 * RULES THAT APPLY to a client:
 *   - a client WITH a user name: the `topic` lines of its `user` section (if
 *     any; a user without a section gets none), plus every pattern;
 *   - a client WITHOUT a user name: the anonymous section, plus the
 *     patterns that do not use %u;
 *   - %u / %c are replaced by the user name / client id as ONE literal
 *     level: a name containing '/', '+' or '#' never matches a topic level
 *     and never acts as a wildcard (mosquitto's CVE-2017-7650 fix has the
 *     same effect: such a client gains nothing through patterns).
 *
 * DECISION (deny wins, default deny):
 *   PUBLISH to topic name T (MQ_AUTH_WRITE) / receive a message on T
 *   (MQ_AUTH_READ):  refused if any applicable `deny` rule matches T;
 *   otherwise allowed if an applicable rule with write (read) access
 *   matches T; otherwise refused.
 *   SUBSCRIBE to filter F (MQ_AUTH_SUBSCRIBE; a "$share/<group>/" prefix is
 *   removed first):  refused if any applicable `deny` rule OVERLAPS F (some
 *   topic matches both); otherwise allowed if F lies WITHIN one applicable
 *   read rule R (every topic F matches, R matches: "a/+/c" is within
 *   "a/#" and "a/+/+", not within "a/b/+"); otherwise refused.  A filter
 *   covered only by the union of several rules is refused.  cairn decides
 *   at SUBSCRIBE time so delivery needs no per-message check: mosquitto
 *   accepts a SUBSCRIBE that overlaps a deny rule and then drops the denied
 *   messages at delivery; cairn refuses it (SUBACK 0x80 / 0x87).
 *   Matching follows MQTT 4.7: '+' is one level, '#' the rest including the
 *   parent ("a/#" matches "a"), and a rule starting with '+' or '#' never
 *   matches a topic starting with '$' ("topic read #" does not grant
 *   $SYS/...; write "topic read $SYS/#" for that).
 *   With no ACL file configured everything is allowed (mosquitto's rule).
 */
typedef struct mq_auth_acl mq_auth_acl_t;
typedef struct mq_auth_view mq_auth_view_t;

enum mq_auth_access {
    MQ_AUTH_READ = 1,      /* receive a PUBLISH on a topic name */
    MQ_AUTH_WRITE = 2,     /* send a PUBLISH to a topic name */
    MQ_AUTH_SUBSCRIBE = 3, /* SUBSCRIBE with a topic filter */
};

/* Parses ACL text; `name` appears in diagnostics (diag may be NULL).
 * Returns 0 with *out owned, or CN_ECONFIG. */
int mq_auth_acl_parse(const char *name, const char *text, size_t len, FILE *diag,
                      mq_auth_acl_t **out /* OUT */);
/* Reads and parses a file ("cairn: acl-file F: <strerror>" if unreadable). */
int mq_auth_acl_load(const char *path, FILE *diag, mq_auth_acl_t **out /* OUT */);
void mq_auth_acl_free(mq_auth_acl_t *acl); /* NULL is a no-op */
/* Rule count (topic + pattern lines), for logs and tests. */
size_t mq_auth_acl_count(const mq_auth_acl_t *acl);

/*
 * A client's compiled view: the rules that apply to it with %u/%c already
 * substituted, deny rules first, in one allocation.  acl NULL means "no ACL
 * file": the view allows everything.  user NULL = no user name (empty is a
 * name); client is the client id (the assigned one for an empty id).  The
 * view copies what it needs: acl may be freed while the view lives, and
 * the view is a snapshot (after a reload, build new views; the broker uses
 * mq_auth_allows, which always reads the ACL in force).
 * Build it once per connection (after CONNECT is accepted), free it with
 * the connection.  Returns 0 with *out owned.
 */
int mq_auth_view_new(const mq_auth_acl_t *acl, const char *user, size_t ulen, const char *client,
                     size_t clen, mq_auth_view_t **out /* OUT */);
void mq_auth_view_free(mq_auth_view_t *v); /* NULL is a no-op */

/*
 * The check, for the event-loop hot path: no allocation, no lock, no
 * syscall; cost linear in the view's rule count and the topic length.
 * `access` is an enum mq_auth_access; topic is a topic name (READ, WRITE)
 * or a filter (SUBSCRIBE), n bytes, validated by the codec.  True when
 * allowed.  A view is used by one thread at a time.
 */
bool mq_auth_view_allows(mq_auth_view_t *v, int access, const char *topic, size_t n);

/*
 * The same decision straight from the parsed ACL, for callers without a
 * per-client object (the broker's ACL hook gets client id and user name per
 * call): the user's section is found by binary search and %u/%c compare
 * against user/client in place.  No allocation, no lock; acl is read-only,
 * so any number of threads may check at once.  acl NULL allows everything;
 * user NULL = no user name.
 */
bool mq_auth_acl_allows(const mq_auth_acl_t *acl, const char *user, size_t ulen, const char *client,
                        size_t clen, int access, const char *topic, size_t n);

/* ----------------------------------------------------------- service */

/*
 * THE AUTH SERVICE (auth.c, cache.c, http.c)
 *
 * Owns the current password file and ACL (both optional), a pool of worker
 * threads that run the slow hashes, a cache of recent successful
 * verifications, and optionally one HTTP thread that asks an external auth
 * service (EMQX-style).  Nothing slow ever runs on the caller's thread.
 *
 * CONNECT DECISION (mq_auth_connect), in this order — the first backend
 * that knows the client decides (EMQX's authenticator chain, mosquitto-go-
 * auth's backend list):
 *   1. No user name: accepted when the listener allows anonymous clients
 *      (creds.anonymous_ok, mosquitto's allow_anonymous); otherwise the
 *      HTTP service decides if configured, else 0x87 Not authorized.
 *   2. No backend configured (no password file, no HTTP service): accepted
 *      when anonymous_ok, else 0x86 (mosquitto without password_file).
 *   3. Password file: a user listed there is decided by it alone: right
 *      password -> accepted, wrong or missing password -> 0x86 Bad user
 *      name or password.  An unlisted user costs one KDF run as well (so
 *      timing does not reveal which names exist) and goes on to 4.
 *   4. HTTP service (auth-http-url): POST with a JSON body
 *        {"clientid":"c","username":"u"|null,"password":"p"|null,
 *         "peerhost":"127.0.0.1","protocol":4}
 *      (protocol = the CONNECT's protocol level: 3, 4 = 3.1.1, 5).  Answer
 *      200 with {"result":"allow"} -> accepted, {"result":"deny"} -> 0x87,
 *      {"result":"ignore"} -> 5; 204 -> accepted; any other status, a body
 *      without a valid result, a timeout or a connection error -> 0x88
 *      Server unavailable (not cached: the next CONNECT asks again).
 *   5. Nobody decided: 0x86 for a client with a user name, else 0x87.
 * Reasons are MQTT 5 CONNACK codes; the broker maps them to 3.1.1's
 * (0x86 -> 4, 0x87 -> 5, 0x88/0x89 -> 3).
 *
 * CACHE: a successful password-file verification is remembered for
 * cache_ttl_ns under a keyed hash (SHA-256 over a random per-process secret
 * and the length-prefixed user name and password, so the table holds no
 * password), so a reconnect storm costs one KDF per user and password, not
 * one per CONNECT.  HTTP decisions are cached the same way under (client
 * id, user name, password, peer host, protocol) for http_allow_ttl_ns
 * (accepted) or http_deny_ttl_ns (0x87).  The table is bounded
 * (cache_entries, 4-way set-associative, the entry closest to expiry is
 * replaced).  A reload drops the password entries.
 *
 * THREADS AND THE CALLBACK CONTRACT
 *  - mq_auth_connect() may be called from any thread (the broker calls it
 *    on its loop threads); it copies what it needs and never blocks on a
 *    KDF or the network.  It answers exactly once through opts.done(
 *    done_arg, token, reason):
 *      * synchronously, before mq_auth_connect returns, on the caller's
 *        thread, when no slow work is needed (anonymous, no backend, cache
 *        hit, queue full -> 0x89 Server busy);
 *      * otherwise later, on an auth worker thread (password file) or on
 *        the HTTP thread (HTTP service).
 *    done must be quick and thread-safe (mq_broker_auth_done is).
 *  - mq_auth_allows() is the ACL check, synchronous, from any thread, no
 *    allocation and no lock (see NOTES in auth.c for how a reload swaps
 *    the ACL under running readers).
 *  - mq_auth_reload() (the SIGHUP path, main thread) and mq_auth_free()
 *    must not run concurrently with each other.  mq_auth_free() stops the
 *    threads after answering every queued request with 0x88; no done call
 *    happens after it returns.
 */

/* MQTT 5 CONNACK reason codes the service answers with. */
enum mq_auth_reason {
    MQ_AUTH_OK = 0x00,
    MQ_AUTH_BAD_CREDENTIALS = 0x86,
    MQ_AUTH_NOT_AUTHORIZED = 0x87,
    MQ_AUTH_UNAVAILABLE = 0x88,
    MQ_AUTH_BUSY = 0x89,
};

typedef void (*mq_auth_done_fn)(void *arg, uint64_t token, uint8_t reason);

typedef struct mq_auth_opts {
    const char *password_file; /* NULL or "" = none */
    const char *acl_file;      /* NULL or "" = none: everything allowed */
    const char *http_url;      /* NULL or "" = no HTTP service */
    int64_t http_timeout_ns;   /* whole request, default 5 s */
    int64_t cache_ttl_ns;      /* password-file successes; 0 = no cache; default 2 min */
    int64_t http_allow_ttl_ns; /* default 2 min; 0 = not cached */
    int64_t http_deny_ttl_ns;  /* default 10 s; 0 = not cached */
    uint32_t cache_entries;    /* default 16384 (rounded up to a power of two) */
    uint32_t workers;          /* KDF threads, default 2 */
    uint32_t queue_max;        /* requests waiting for a worker, default 10000 */
    uint32_t http_max_conns;   /* keep-alive connections to the service, default 8 */
    mq_auth_done_fn done;      /* required */
    void *done_arg;
    cn_clock_t clock; /* for TTLs; .now_ns NULL = system clock */
} mq_auth_opts_t;

void mq_auth_opts_default(mq_auth_opts_t *o /* OUT */);

/*
 * Loads the files, starts the workers (and the HTTP thread when http_url is
 * set).  Strings in o are copied.  Returns 0 with *out owned, CN_ECONFIG
 * (a file is bad: the reason went to diag), CN_EINVAL (bad options) or
 * -errno (threads).
 */
int mq_auth_new(const mq_auth_opts_t *o, FILE *diag, mq_auth_t **out /* OUT */);
/* Answers what is queued with 0x88, joins the threads, frees.  NULL ok. */
void mq_auth_free(mq_auth_t *a);
/*
 * Re-reads the password file and the ACL file (same paths) and swaps them
 * in atomically; connects already past the lookup finish with the old
 * file.  On any error both old ones stay and CN_ECONFIG is returned (the
 * reason went to diag).
 */
int mq_auth_reload(mq_auth_t *a, FILE *diag);
/* True when a password file or an HTTP service is configured. */
bool mq_auth_has_backend(const mq_auth_t *a);

/* A CONNECT's credentials (borrowed for the call). */
typedef struct mq_auth_creds {
    const char *client_id; /* the client id in force (assigned if it was empty) */
    size_t client_id_len;
    const uint8_t *username; /* NULL = no user name */
    size_t username_len;
    const uint8_t *password; /* NULL = no password */
    size_t password_len;
    const char *peer;  /* "host:port" or "[v6]:port"; the host goes to the HTTP service */
    uint8_t level;     /* protocol level 3, 4 or 5 */
    bool anonymous_ok; /* the listener accepts clients without a user name */
} mq_auth_creds_t;

/* Decides a CONNECT; answers through opts.done exactly once (see above). */
void mq_auth_connect(mq_auth_t *a, const mq_auth_creds_t *c, uint64_t token);

/*
 * ACL check against the current ACL file (mq_auth_acl_allows semantics);
 * user NULL = no user name.  Any thread, no allocation, no lock.
 */
bool mq_auth_allows(mq_auth_t *a, const char *user, size_t ulen, const char *client, size_t clen,
                    int access, const char *topic, size_t n);

typedef struct mq_auth_stats {
    uint64_t connects;      /* mq_auth_connect calls */
    uint64_t accepted;      /* answered MQ_AUTH_OK */
    uint64_t refused;       /* answered anything else */
    uint64_t kdf_runs;      /* slow hashes computed */
    uint64_t cache_hits;    /* password or HTTP decisions from the cache */
    uint64_t http_requests; /* requests sent to the HTTP service */
    uint64_t http_failures; /* timeouts, connection errors, bad answers */
    uint64_t reloads;       /* successful mq_auth_reload calls */
} mq_auth_stats_t;
void mq_auth_get_stats(mq_auth_t *a, mq_auth_stats_t *st /* OUT */);

#endif /* MQ_AUTH_H */
