/* SPDX-License-Identifier: MIT */
/*
 * map.h - topic -> series mapping: which MQTT PUBLISHes are stored, into
 * which measurement, with which tags, decoded by which payload format.
 *
 * A map is a list of templates, tried in order; the first whose pattern
 * matches the topic wins.  The config key `topic-templates` holds them,
 * separated by ';' or newlines:
 *
 *   devices/{device_id}/telemetry
 *   factory/{site}/{line}/{device_id}/{measurement} format=json precision=ms
 *   plant/+/{device_id}/regs format=binary regmap=/etc/cairn/pump.map
 *        measurement=pump tags=fleet:north,model:p7
 *   gw/{device_id}/# format=lp store=false
 *
 * Pattern: topic levels separated by '/', each one of
 *   literal      must equal the topic's level
 *   {name}       binds the level's value to tag `name` (the level must be
 *                non-empty: "devices//telemetry" is a decode error, counted)
 *   {measurement} binds the level to the measurement name
 *   +            any one level, not stored
 *   #            (last level only) the rest of the topic, zero levels too
 * As for subscriptions (MQTT-4.7.2-1), a pattern whose first level is not
 * a literal never matches a topic starting with '$'.  A tag may be bound
 * once per pattern.
 *
 * Options (KEY=VALUE after the pattern, separated by blanks):
 *   format=auto|json|lp|binary   default auto: JSON when the payload's first
 *                non-blank byte is '{' or '[', line protocol otherwise
 *   measurement=NAME   the measurement when the pattern binds none; default:
 *                the pattern's last literal level ("telemetry" above).  A
 *                template with neither is an error.  Line protocol names
 *                its own measurement and ignores this.
 *   precision=auto|ns|us|ms|s   numeric timestamps (JSON default auto, by
 *                magnitude; line protocol default ns)
 *   regmap=PATH  the register map file of format=binary (required there;
 *                syntax in decode.h).  Read when the map is parsed.
 *   tags=K:V[,K:V...]  constant tags added to every point
 *   store=true|false   false: matching topics are routed, not stored (a
 *                way to exclude a sub-tree before a broader template)
 *
 * Tags of a point, when keys collide, by precedence: the payload's own (line
 * protocol tags; IoTDB "device"), then topic-bound tags, then the
 * template's constant tags, then the device registry's tags (looked up by
 * the bound `device_id`, see mq_map_registry_fn).
 *
 * An empty payload (how MQTT clears a retained message) is never stored
 * and is not an error.
 *
 * Topics that match no template are routed to subscribers but not stored,
 * unless the map was built with MQ_MAP_STORE_UNMATCHED: then they are
 * stored in measurement "mqtt" with tag `topic` = the whole topic, format
 * auto.
 *
 * Counters.  Each template (and the unmatched pseudo-template, index
 * mq_map_count(m)) counts messages, points and decode errors by reason, with
 * relaxed atomics so every event loop may decode concurrently.
 *
 * Threads: a parsed map is immutable (apart from its counters) and may be
 * used by any number of threads at once; each thread brings its own
 * mq_dec_batch_t.
 */
#ifndef MQ_MAP_H
#define MQ_MAP_H

#include "decode/decode.h"

#include <stdatomic.h>

typedef struct mq_map mq_map_t;

enum mq_map_fmt { MQ_MAP_AUTO = 0, MQ_MAP_JSON, MQ_MAP_LP, MQ_MAP_BINARY };

enum mq_map_flags {
    MQ_MAP_STORE_UNMATCHED = 1u << 0,
};

/* Why a message produced errors (counters and logs). */
enum mq_map_reason {
    MQ_MAP_R_SYNTAX = 0, /* payload not well-formed (CN_EPROTO) */
    MQ_MAP_R_LIMIT,      /* size or nesting limit (CN_ELIMIT) */
    MQ_MAP_R_VALUE,      /* a value out of range, dropped alone (CN_EINVAL) */
    MQ_MAP_R_TOPIC,      /* a bound topic level is empty */
    MQ_MAP_R_CONFLICT,   /* a field's type conflicts with the stored one */
    MQ_MAP_R_COUNT
};

/* Counters of one template (a snapshot). */
typedef struct mq_map_stats {
    uint64_t msgs;   /* messages that matched and were decoded */
    uint64_t points; /* points they yielded */
    uint64_t errors[MQ_MAP_R_COUNT];
} mq_map_stats_t;

/* Parses the template list.  On failure returns CN_ECONFIG (bad template,
 * message in err: "template 2: unknown option 'fmt'"), or the error of
 * reading a regmap file (message in err too).  *out is owned (mq_map_free). */
int mq_map_parse(const char *spec, unsigned flags, mq_map_t **out /* OUT */, char *err,
                 size_t errn);
void mq_map_free(mq_map_t *m); /* NULL is a no-op */

/* Number of templates; stats index mq_map_count() is "unmatched". */
uint32_t mq_map_count(const mq_map_t *m);
/* The pattern text of template i ("unmatched" for i == count). */
const char *mq_map_pattern(const mq_map_t *m, uint32_t i);
void mq_map_stats(const mq_map_t *m, uint32_t i, mq_map_stats_t *out /* OUT */);
/* Adds n to a reason counter of template i (the caller's conflicts). */
void mq_map_count_error(mq_map_t *m, uint32_t i, enum mq_map_reason r, uint64_t n);
/* Reason names: "syntax", "limit", "value", "topic", "type_conflict". */
const char *mq_map_reason_name(enum mq_map_reason r);

/* Device registry lookup: the tags registered for device_id, or NULL.  The
 * returned array need only stay valid until the call returns to
 * mq_map_decode (it is copied into the batch). */
typedef const eng_tag_t *(*mq_map_registry_fn)(void *arg, const char *device_id,
                                               uint32_t *ntags /* OUT */);

/* What mq_map_decode did. */
typedef struct mq_map_result {
    int32_t tpl;               /* template index; -1: not stored (no match or
                                  store=false); count: the unmatched pseudo-template */
    int npoints;               /* points appended to the batch */
    int status;                /* 0, or the decoder's negative code (nothing stored) */
    uint32_t nerrors;          /* decode errors recorded for this message */
    enum mq_map_reason reason; /* the first error's reason when nerrors > 0 */
} mq_map_result_t;

/*
 * Maps one PUBLISH: finds the template, binds the topic levels and decodes
 * the payload into b (appending; points and their strings live in b).
 * now_ns stamps points without a timestamp.  reg may be NULL.  Counts the
 * message, its points and its errors on the template.  Returns the number
 * of points appended (0 when the topic is not stored), never fails
 * otherwise: decode problems are in *res and in b's errors.
 */
int mq_map_decode(mq_map_t *m, const char *topic, size_t tlen, const void *payload, size_t n,
                  int64_t now_ns, mq_map_registry_fn reg, void *reg_arg, mq_dec_batch_t *b,
                  mq_map_result_t *res /* OUT */);

/* Takes back what mq_map_decode counted for one message (res) decoded
 * alone into b (reset before it): for a message the engine refused
 * (CN_EFULL) that will be offered again. */
void mq_map_forget(mq_map_t *m, const mq_map_result_t *res, mq_dec_batch_t *b);

#endif /* MQ_MAP_H */
