/* SPDX-License-Identifier: MIT */
/*
 * router.h - the MQTT topic router: which subscribers receive a PUBLISH.
 *
 * A trie keyed by topic levels holds every subscription (filter, subscriber,
 * options) including shared ones ($share/<group>/<filter>).  Matching a topic
 * walks the trie once, following at each level the literal child (a hash
 * lookup), the `+` child and the `#` child, so its cost depends on the
 * topic's depth and on the matching subscriptions, not on how many
 * subscriptions do not match.  A per-thread route cache keeps the merged
 * result of hot topics; every subscribe/unsubscribe drops exactly the cached
 * topics its filter matches (an exact-topic lookup for filters without
 * wildcards, a scan of that cache for wildcard filters).
 *
 * Matching rules (MQTT 3.1.1 section 4.7, MQTT 5.0 section 4.7):
 *  - levels are separated by '/', empty levels are real levels ("a//b");
 *  - `+` matches exactly one level, an empty one included;
 *  - `#` matches the rest of the topic and also its parent ("a/#" matches "a");
 *  - a filter starting with a wildcard never matches a topic starting with
 *    '$' (MQTT-4.7.2-1): "#" and "+/x" do not match "$SYS/x".
 *
 * Delivery (MQTT 5.0 section 3.3.4 leaves the choice to the server): cairn
 * sends ONE message per subscriber for its non-shared subscriptions, with the
 * maximum QoS over the overlapping subscriptions that match, ALL their
 * subscription identifiers, and the retain flag kept when any of them asked
 * for retain-as-published.  No-local is applied per subscription: when the
 * publisher itself is a subscriber, only its subscriptions without no-local
 * count.  Shared subscriptions are separate deliveries (MQTT 5.0 4.8.2): each
 * matching (group, filter) yields one route to one member, chosen round robin.
 *
 * Input validation: subscribe/unsubscribe validate the filter themselves
 * (mq_router_filter_valid; UTF-8 well-formedness is the codec's job).
 * mq_router_match takes a topic NAME the codec already validated
 * (mq_router_topic_valid); a stray '+' or '#' in it is matched literally, so
 * it can never match more than it should.
 *
 * Concurrency contract:
 *  - Every thread that matches owns one mq_router_reader_t (one per event
 *    loop): it carries the thread's route cache, its match scratch space and
 *    a mutex.  mq_router_match locks only its own reader's mutex, so event
 *    loops never write a shared cache line to route a message.
 *  - Subscribe, unsubscribe and remove_subscriber may be called from any
 *    thread.  They serialise on the router's writer mutex and then take every
 *    registered reader's mutex (always in registration order, so they cannot
 *    deadlock), change the trie and invalidate every reader's cache.  A write
 *    therefore costs O(readers) lock operations and briefly stalls matching;
 *    writes are rare next to matches (one per SUBSCRIBE filter or session end
 *    vs one per PUBLISH).
 *  - Why not a rwlock: its read side does an atomic add on one shared word,
 *    which bounces a cache line between cores on every PUBLISH, and glibc's
 *    default rwlock lets a steady stream of readers starve writers.  Why not
 *    RCU snapshots: copying the trie per change is O(subscriptions) and
 *    per-node RCU needs deferred reclamation we do not otherwise have; the
 *    per-reader locks ("big-reader lock") give the same uncontended read path.
 *  - The round-robin cursor of a shared group is an atomic counter, so two
 *    loops routing to the same group still alternate members.
 *  - A reader is used by one thread at a time.  Readers must be freed before
 *    the router.
 */
#ifndef MQ_ROUTER_H
#define MQ_ROUTER_H

#include "base/base.h"

typedef struct mq_router mq_router_t;
typedef struct mq_router_reader mq_router_reader_t;

/* Subscription options (MQTT 5.0 section 3.8.3.1; 3.1.1 uses qos only). */
typedef struct mq_sub_opts {
    uint8_t qos;   /* maximum QoS, 0..2 */
    bool no_local; /* never deliver the subscriber's own PUBLISHes */
    bool retain_as_published;
    uint8_t retain_handling; /* 0..2, stored for the broker; not used by matching */
    uint32_t sub_id;         /* subscription identifier, 0 = none, max 268435455 */
} mq_sub_opts_t;

/* Reserved subscriber id: "no publisher" for mq_router_match (rejected by
 * mq_router_subscribe).  Any other u64 (a pointer, a session index) is fine. */
#define MQ_ROUTER_NOBODY UINT64_MAX
#define MQ_SUB_ID_MAX    268435455u

/* mq_router_subscribe's non-negative results. */
#define MQ_ROUTER_NEW      0 /* the subscription did not exist */
#define MQ_ROUTER_REPLACED 1 /* it existed; its options were replaced */

/* Route flags. */
#define MQ_ROUTE_RAP     0x01 /* keep the PUBLISH's retain flag (retain-as-published) */
#define MQ_ROUTE_SHARED  0x02 /* delivery for a shared subscription group */
#define MQ_ROUTE_OFFLINE 0x04 /* shared: no member was online, this is the round-robin pick */

/* One delivery: send the message once to `sub` at min(publish QoS, qos). */
typedef struct mq_route {
    uint64_t sub;
    uint8_t qos;
    uint8_t flags;    /* MQ_ROUTE_* */
    uint32_t ids_off; /* subscription identifiers: res->ids[ids_off .. ids_off + nids) */
    uint32_t nids;
} mq_route_t;

/*
 * A caller-owned, reusable match result.  mq_router_match overwrites it;
 * its arrays grow as needed and are kept, so matching into the same result
 * again allocates nothing once it is large enough.  Zero-initialise (or
 * mq_router_res_init) before first use, mq_router_res_free at the end.
 */
typedef struct mq_router_res {
    mq_route_t *v;
    size_t n, cap;
    uint32_t *ids;
    size_t nids, ids_cap;
} mq_router_res_t;

void mq_router_res_init(mq_router_res_t *res);
void mq_router_res_free(mq_router_res_t *res);

/* Shared-subscription member filter: return false to skip `sub` (offline)
 * and have the router try the group's next member.  Called with the
 * reader's lock held: it must be quick and must not call the router. */
typedef bool (*mq_router_online_fn)(void *arg, uint64_t sub);

/* Creates an empty router.  Returns 0 or a negative code. */
int mq_router_new(mq_router_t **out /* OUT */);
/* Frees the router and every subscription; all readers must be freed first.
 * NULL is a no-op. */
void mq_router_free(mq_router_t *r);

/*
 * Creates a reader for the calling thread with a route cache of
 * `cache_entries` topics (0 = no cache; rounded up to a power of two).
 * Thread-safe.  Returns 0, CN_EINVAL (cache_entries above 1 << 20).
 */
int mq_router_reader_new(mq_router_t *r, uint32_t cache_entries,
                         mq_router_reader_t **out /* OUT */);
/* Unregisters and frees the reader.  Thread-safe.  NULL is a no-op. */
void mq_router_reader_free(mq_router_reader_t *rd);
/* Installs the shared-subscription member filter (NULL = every member is
 * online).  Owner thread only. */
void mq_router_reader_set_online(mq_router_reader_t *rd, mq_router_online_fn fn, void *arg);
/* Route cache counters since the reader was created.  Owner thread only. */
void mq_router_reader_stats(mq_router_reader_t *rd, uint64_t *hits /* OUT */,
                            uint64_t *misses /* OUT */);

/*
 * Adds or replaces subscriber `sub`'s subscription to `filter` (len bytes,
 * not NUL-terminated; "$share/<group>/<filter>" for a shared one).
 * Thread-safe.  Returns MQ_ROUTER_NEW or MQ_ROUTER_REPLACED (the broker
 * needs the difference for retain-handling 1), or CN_EINVAL (bad filter,
 * options or sub == MQ_ROUTER_NOBODY), CN_EPROTO (no-local on a shared
 * subscription: a protocol error by MQTT-3.8.3-4).
 */
int mq_router_subscribe(mq_router_t *r, uint64_t sub, const char *filter, size_t len,
                        const mq_sub_opts_t *opts);
/* Removes one subscription.  Thread-safe.  Returns 0, CN_ENOTFOUND (no such
 * subscription: UNSUBACK reason 0x11) or CN_EINVAL (bad filter). */
int mq_router_unsubscribe(mq_router_t *r, uint64_t sub, const char *filter, size_t len);
/* Removes every subscription of `sub` (session end).  Thread-safe.  Returns
 * how many were removed (0 when it had none). */
int mq_router_remove_subscriber(mq_router_t *r, uint64_t sub);
/* Subscriptions held, shared ones included (for $SYS).  Thread-safe. */
size_t mq_router_count(const mq_router_t *r);

/*
 * Routes a PUBLISH to `topic` (a validated topic name, len bytes): fills
 * *res with one route per receiving subscriber (see "Delivery" above).
 * `publisher` is the publishing client's subscriber id, for no-local, or
 * MQ_ROUTER_NOBODY.  Call from the reader's owner thread.  Returns the
 * number of routes, or CN_EINVAL (empty or longer than 65535 bytes).
 * Allocates nothing in the steady state (cache warm, result large enough).
 */
int mq_router_match(mq_router_reader_t *rd, const char *topic, size_t len, uint64_t publisher,
                    mq_router_res_t *res);

/* Syntax checks: a topic filter (wildcards allowed, "$share/g/f" accepted)
 * and a topic name (no wildcards).  Both: 1..65535 bytes, no NUL. */
bool mq_router_filter_valid(const char *filter, size_t len);
bool mq_router_topic_valid(const char *topic, size_t len);
/* Does a (non-shared, valid) filter match a topic name?  The plain string
 * matcher behind cache invalidation. */
bool mq_router_topic_matches(const char *filter, size_t flen, const char *topic, size_t tlen);

/* ------------------------------------------------------------ internal */
/* The route cache (router_cache.c), used by router.c only: a bounded map
 * from topic to an opaque blob (the serialised merged routes), evicted by
 * CLOCK.  Not thread-safe: each instance belongs to one reader. */
typedef struct mq__rcache mq__rcache_t;
mq__rcache_t *mq__rcache_new(uint32_t entries);
void mq__rcache_free(mq__rcache_t *c);
/* The cached blob for topic (h = cn_hash64 of it), borrowed until the next
 * call on c, or NULL; *size (OUT) gets its length. */
const void *mq__rcache_get(mq__rcache_t *c, const char *topic, size_t len, uint64_t h,
                           size_t *size /* OUT */);
/* Stores a copy of blob for topic (replacing, or evicting the CLOCK victim). */
void mq__rcache_put(mq__rcache_t *c, const char *topic, size_t len, uint64_t h, const void *blob,
                    size_t size);
/* Drops topic if cached. */
void mq__rcache_drop(mq__rcache_t *c, const char *topic, size_t len, uint64_t h);
/* Drops every cached topic the filter matches; returns how many. */
size_t mq__rcache_drop_matching(mq__rcache_t *c, const char *filter, size_t len);
size_t mq__rcache_count(const mq__rcache_t *c);

#endif /* MQ_ROUTER_H */
