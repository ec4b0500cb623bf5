/* SPDX-License-Identifier: MIT */
/*
 * rules.h - the rule engine: SQL-like rules over live messages (the
 * language is query/eval.h's), selected per topic through a router trie,
 * evaluated on the ingest path, and their actions handed to a dispatch
 * callback that the server wires to the sinks (ingest/sink/).
 *
 * A rule set holds definitions (mq_rule_def_t: id, name, sql, enabled,
 * actions).  Every change (mq_rules_put, _delete, _enable, _replace)
 * compiles the whole enabled set into a new immutable snapshot:
 *
 *   snapshot = { router trie: topic filter -> rule index,
 *                symbol table + one compiled program per rule,
 *                compiled action templates }
 *
 * and publishes it by bumping a generation counter.  Evaluating threads
 * each own an mq_rules_worker_t; at the start of mq_rules_eval a worker
 * compares the generation (one atomic load) and, only when it changed,
 * takes a reference on the new snapshot under the set's mutex and drops
 * its old one (with its router reader and row).  A snapshot is freed when
 * the last worker has moved off it, so changes take effect without a
 * restart and never wait for, or stall, the ingest path.
 *
 * Per-rule metrics (matched, passed, failed, actions) live in objects
 * keyed by rule id that survive snapshot swaps and updates of the rule;
 * they are counted with relaxed atomics.
 *
 * Evaluation: mq_rules_eval(worker, msg) matches the topic against the
 * rules' filters and, for each decoded point of the message (or once for
 * a message without points: undecoded payload), binds the row once and
 * runs every candidate rule.  A rule that passes renders its outputs as
 * one JSON object and calls on_action once per action, in action order,
 * on the calling thread (see mq_rules_out_t).  A rule whose evaluation
 * fails (type error, division by zero, a WHERE left unknown by a missing
 * field) counts `failed` and the message goes on to the other rules.
 *
 * Threads: mq_rules_new/_free and the definition changes may run on any
 * thread (they serialise on the set's mutex); a worker is used by one
 * thread at a time and must be freed before the set.
 */
#ifndef MQ_RULES_H
#define MQ_RULES_H

#include "engine.h"

/* ------------------------------------------------------------ definitions */

typedef enum mq_action_kind {
    MQ_ACT_WEBHOOK = 1, /* HTTP(S) POST */
    MQ_ACT_KAFKA = 2,   /* produce to a Kafka topic */
    MQ_ACT_REPUBLISH = 3,
} mq_action_kind_t;

typedef struct mq_kv {
    const char *name;
    const char *value;
} mq_kv_t;

/* One action.  Templates use ${name} placeholders: a name is looked up
 * among the rule's outputs first, then topic / clientid / username / qos /
 * timestamp / payload, then the message's fields and tags; a name found
 * nowhere renders as nothing.  Values render as text (strings raw,
 * numbers as in JSON).  "$$" is a literal '$'. */
typedef struct mq_rule_action {
    mq_action_kind_t kind;
    /* webhook */
    const char *url;        /* http:// or https:// */
    const char *method;     /* POST (default), PUT */
    const mq_kv_t *headers; /* values may be templates */
    uint32_t nheaders;
    uint32_t timeout_ms; /* default 5000 */
    /* kafka and republish */
    const char *topic; /* template, required */
    /* kafka */
    const char *key; /* template; default "${device_id}" */
    /* republish */
    uint8_t qos; /* 0..2 */
    bool retain;
    /* webhook body / kafka value / republish payload: a template, or NULL
     * for the rule's outputs as one JSON object */
    const char *body;
} mq_rule_action_t;

/* Ids: 1..64 characters of [A-Za-z0-9_.-]. */
#define MQ_RULE_ID_MAX 64
/* Actions per rule, at most. */
#define MQ_RULE_MAX_ACTIONS 16

typedef struct mq_rule_def {
    const char *id;
    const char *name; /* free text, may be NULL */
    const char *sql;
    bool enabled;
    const mq_rule_action_t *actions;
    uint32_t nactions;
    bool from_file; /* defined in the rules file (the API refuses to change it) */
} mq_rule_def_t;

/* Why a definition was refused.  For SQL errors line/col/off locate it in
 * the sql text (1-based line and character column, byte offset); else 0. */
typedef struct mq_rules_err {
    int code;
    uint32_t line, col, off;
    char msg[448];
} mq_rules_err_t;

/* Checks a definition without adding it: id syntax, SQL (parse, compile,
 * topic filters), actions (required members, URL scheme, QoS, template
 * syntax).  Returns 0 or CN_EINVAL with *err filled. */
int mq_rule_validate(const mq_rule_def_t *def, mq_rules_err_t *err /* OUT */);

/* ------------------------------------------------------------ dispatching */

/* The source message of an evaluation.  Borrowed for the call. */
typedef struct mq_rules_msg {
    const char *topic;
    size_t topic_len;
    const char *clientid; /* NUL-terminated or NULL */
    const char *username; /* NUL-terminated or NULL */
    uint8_t qos;
    int64_t ts;                /* receive time, ns; rows without points use it */
    const eng_point_t *points; /* decoded rows, may be none */
    size_t npoints;
    /* Optional (NULL): name_lens[i] is strlen(fields_base[i].name) and the
     * points' fields lie in fields_base (mq_dec_batch_name_lens gives
     * both); spares the binding a strlen per name. */
    const eng_field_t *fields_base;
    const uint32_t *name_lens;
    const void *payload;
    size_t payload_len;
} mq_rules_msg_t;

/*
 * What one action of a passing rule receives (all borrowed for the call;
 * copy what must outlive it):
 *   rule, action   the definition and the index of the action in it
 *   json           the rule's outputs as one JSON object, e.g.
 *                  {"device_id":"dev-000001","temperature":31.2}; built
 *                  only for rules with an action whose body is that JSON
 *                  (no body template), else NULL with json_len 0
 *   body           the action's body template rendered, or json itself
 *                  when it has none (webhook body, Kafka value,
 *                  republish payload)
 *   key            the key template rendered (Kafka; for other kinds the
 *                  default "${device_id}" rendered, a per-device ordering
 *                  key for the sinks); may be empty
 *   topic          kafka / republish: the topic template rendered; NULL
 *                  for webhooks
 *   headers        webhook: header values rendered, parallel to
 *                  act->headers (nheaders entries); NULL otherwise
 *   msg, ts        the source message and the row's time (ns)
 *   packed         true when body holds the outputs packed instead of
 *                  their JSON (a set in packed mode, see
 *                  mq_rules_set_packed): mq_rules_packed_json renders
 *                  exactly the JSON body would otherwise have held
 * The callback runs on the evaluating thread inside mq_rules_eval: it must
 * not block (append to the sink's log/queue and return).  Its return value
 * is counted: < 0 counts the action as failed in the rule's metrics.
 */
typedef struct mq_rules_out {
    const mq_rule_def_t *rule;
    uint32_t action;
    const mq_rule_action_t *act;
    const char *json;
    size_t json_len;
    const char *body;
    size_t body_len;
    const char *key;
    size_t key_len;
    const char *topic;
    size_t topic_len;
    const char *const *headers;
    const mq_rules_msg_t *msg;
    int64_t ts;
    bool packed;
} mq_rules_out_t;

typedef int (*mq_rules_action_fn)(void *arg, const mq_rules_out_t *out);

/* ----------------------------------------------------------------- rule set */

typedef struct mq_rules mq_rules_t;
typedef struct mq_rules_worker mq_rules_worker_t;

/* on_action may be NULL (rules are evaluated and counted, nothing is
 * dispatched).  Returns 0 and an OWNED set. */
int mq_rules_new(mq_rules_action_fn on_action, void *arg, mq_rules_t **out /* OUT */);
void mq_rules_free(mq_rules_t *rs); /* after every worker; NULL is a no-op */

/*
 * Packed outputs: in packed mode, a webhook or Kafka action whose body is
 * the outputs' JSON (no body template) receives the outputs packed as
 * typed values (packed.c has the layout) in body, with packed set and json
 * NULL, so the ingest path formats no numbers and escapes no strings; the
 * receiver stores them (the server: a sink log record flagged
 * MQ_SINK_REC_PACKED) and renders the JSON when it delivers, with
 * mq_rules_packed_json: the same bytes.  Republish actions and bodies
 * from templates are rendered as before.  Off by default; set it before
 * the first mq_rules_eval.
 */
void mq_rules_set_packed(mq_rules_t *rs, bool on);
/* Appends the JSON object of packed outputs (p, n bytes) to out: exactly
 * what json would have held.  Returns 0, or CN_ECORRUPT (out unchanged)
 * for bytes that are not packed outputs.  Any thread. */
int mq_rules_packed_json(const void *p, size_t n, cn_buf_t *out);
/* Appends packed outputs of n (name, value) pairs, what a rule selecting
 * those names would pack (for tools: bench/sink_bench).  vals are
 * query/eval.h's qry_val_t. */
struct qry_val;
void mq_rules_pack_values(const char *const *names, const struct qry_val *vals, size_t n,
                          cn_buf_t *out);

/* Adds a rule or replaces the one with the same id (deep copy of def).
 * Returns 0 (added) or 1 (replaced), or CN_EINVAL with *err (see
 * mq_rule_validate).  The new set is live when it returns. */
int mq_rules_put(mq_rules_t *rs, const mq_rule_def_t *def, mq_rules_err_t *err /* OUT */);
/* Returns 0 or CN_ENOTFOUND. */
int mq_rules_delete(mq_rules_t *rs, const char *id);
int mq_rules_enable(mq_rules_t *rs, const char *id, bool enabled);
/* Replaces every rule at once (startup: file + stored rules).  All or
 * nothing: on CN_EINVAL *err names the failing rule's id in msg. */
int mq_rules_replace(mq_rules_t *rs, const mq_rule_def_t *defs, size_t n,
                     mq_rules_err_t *err /* OUT */);
size_t mq_rules_count(mq_rules_t *rs);

/* A copy of rule id's definition (OWNED: mq_rule_def_free), or
 * CN_ENOTFOUND. */
int mq_rules_get(mq_rules_t *rs, const char *id, mq_rule_def_t **out /* OUT */);
void mq_rule_def_free(mq_rule_def_t *def); /* NULL is a no-op */

typedef struct mq_rule_metrics {
    uint64_t matched;       /* rows of messages whose topic matched an enabled rule */
    uint64_t passed;        /* rows whose WHERE held (outputs produced) */
    uint64_t failed;        /* rows whose evaluation failed */
    uint64_t actions;       /* on_action calls */
    uint64_t action_errors; /* on_action calls that returned < 0 */
} mq_rule_metrics_t;

/* Metrics of rule id, or CN_ENOTFOUND. */
int mq_rules_metrics(mq_rules_t *rs, const char *id, mq_rule_metrics_t *m /* OUT */);

/* Appends JSON: one rule ({"id":..,"name":..,"sql":..,"enabled":..,
 * "source":"api"|"file","actions":[..],"metrics":{..}}), or with id NULL
 * {"rules":[...]} sorted by id.  Returns 0 or CN_ENOTFOUND. */
int mq_rules_json(mq_rules_t *rs, const char *id, cn_buf_t *out);
/* A definition alone as JSON (the form mq_rule_def_parse reads), for
 * persistence. */
void mq_rule_def_json(const mq_rule_def_t *def, cn_buf_t *out);

/* Prometheus text for every rule: cairn_rule_{matched,passed,failed,
 * actions,action_errors}_total{rule="id"}.  Appends. */
void mq_rules_prometheus(mq_rules_t *rs, cn_buf_t *out);

/* -------------------------------------------------------------- evaluation */

/* A per-thread evaluator.  Returns 0 and an OWNED worker. */
int mq_rules_worker_new(mq_rules_t *rs, mq_rules_worker_t **out /* OUT */);
void mq_rules_worker_free(mq_rules_worker_t *w); /* NULL is a no-op */

/* Evaluates every enabled rule whose filters match m->topic (a valid topic
 * name).  Returns the number of on_action calls made (>= 0), or CN_EINVAL
 * for an empty / over-long topic.  Allocates nothing in the steady state
 * apart from what actions' outputs need to grow. */
int mq_rules_eval(mq_rules_worker_t *w, const mq_rules_msg_t *m);

/* --------------------------------------------------- JSON definitions (def.c) */

/* A parsed definition and the memory behind it. */
typedef struct mq_rule_doc mq_rule_doc_t;

/*
 * Reads rule definitions from JSON: one object, or an array of objects
 * (the rules file), each
 *
 *   {"id":"hot", "name":"...", "sql":"SELECT ...", "enabled":true,
 *    "actions":[{"type":"webhook","url":"http://...","method":"POST",
 *                "headers":{"X-Token":"t"},"body":"...","timeout_ms":5000},
 *               {"type":"kafka","topic":"t-${topic(2)}","key":"${device_id}",
 *                "value":"..."},
 *               {"type":"republish","topic":"alerts/${device_id}","qos":1,
 *                "retain":false,"payload":"..."}]}
 *
 * id may be left out when allow_no_id (the API generates one); enabled
 * defaults to true.  Returns 0 with *out OWNED (mq_rule_doc_free) and its
 * definitions in *defs / *n, or CN_EINVAL / CN_EPROTO with err->msg naming
 * the problem ("actions[1].qos: must be 0, 1 or 2", "invalid JSON at byte
 * 17").  Semantic checks are mq_rule_validate's.
 */
int mq_rule_doc_parse(const char *json, size_t len, bool allow_no_id, mq_rule_doc_t **out /* OUT */,
                      const mq_rule_def_t **defs /* OUT */, size_t *n /* OUT */,
                      mq_rules_err_t *err /* OUT */);
void mq_rule_doc_free(mq_rule_doc_t *d); /* NULL is a no-op */

/* ----------------------------------------------------------------- testing */

/*
 * Runs def (validated, not added anywhere) over the message m and appends
 * what it would produce as JSON:
 *   {"matched":bool,"passed":bool,"error":null|"msg",
 *    "rows":[{"outputs":{...},"actions":[{"type":"webhook","url":..,
 *      "headers":{..},"body":"..."} | {"type":"kafka","topic":..,"key":..,
 *      "value":".."} | {"type":"republish","topic":..,"qos":..,
 *      "retain":..,"payload":".."}]}]}
 * one "rows" entry per point that passed.  Returns 0, or CN_EINVAL with
 * *err for a bad definition.
 */
int mq_rules_test(const mq_rule_def_t *def, const mq_rules_msg_t *m, cn_buf_t *out,
                  mq_rules_err_t *err /* OUT */);

#endif /* MQ_RULES_H */
