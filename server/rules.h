/* SPDX-License-Identifier: MIT */
/*
 * rules.h - the server side of the rule engine: the live rule set
 * (ingest/rules/rules.h), its persistence and its HTTP API.
 *
 * Sources of rules, merged at startup into one set:
 *   rules-file   a JSON array of definitions (the schema of
 *                mq_rule_doc_parse); these are read-only through the API
 *                (409) and change by editing the file and restarting.
 *   meta.db      <data-dir>/meta.db, table `rules` (SQLite, WAL mode): the
 *                rules created through /api/v1/rules, one row per rule
 *                holding its definition as JSON.  An id that is also in
 *                the file is skipped with a warning (the file wins).
 *
 * API (server/rules_api.c), JSON in and out:
 *   GET    /api/v1/rules              {"rules":[rule...]}
 *   POST   /api/v1/rules              create -> 201 rule (409 if the id exists)
 *   GET    /api/v1/rules/ID           rule, 404
 *   PUT    /api/v1/rules/ID           replace -> 200 rule, 404
 *   DELETE /api/v1/rules/ID           204, 404
 *   POST   /api/v1/rules/ID/enable    200 rule;  .../disable likewise
 *   POST   /api/v1/rules/test         {"rule":{..}|"sql":..,"actions":[..],
 *                                      "message":{..}} -> what each action
 *                                      would receive (mq_rules_test)
 * A bad rule is 400 {"error":MSG,"line":L,"col":C,"offset":O} (position in
 * the sql; 0 when the problem is elsewhere).  Changes are written to
 * meta.db before they go live and are live when the response is sent.
 *
 * Threads: srv_rules_open/close on the main thread.  The store functions
 * do SQLite I/O and run on libuv's thread pool (uv_queue_work from the
 * HTTP loop), serialised by the store's mutex; the rule set itself is
 * thread-safe.
 */
#ifndef SRV_RULES_H
#define SRV_RULES_H

#include "cfg.h"
#include "rules/rules.h"

#include <stdio.h>

typedef struct srv_rules srv_rules_t;

/* Opens <data-dir>/meta.db (created, WAL mode), loads rules-file and the
 * stored rules into a new set whose actions go to on_action(arg, ...).
 * Problems are written to diag ("cairn: rules-file x: [1].sql: ...") and
 * returned: CN_ECONFIG (bad file or rule), or the SQLite / I/O error. */
int srv_rules_open(const srv_cfg_t *cfg, mq_rules_action_fn on_action, void *arg,
                   srv_rules_t **out /* OUT */, FILE *diag);
void srv_rules_close(srv_rules_t *r); /* NULL is a no-op; after every worker */

/* The live set (borrowed until srv_rules_close): evaluating threads make
 * their mq_rules_worker_t from it. */
mq_rules_t *srv_rules_set(srv_rules_t *r);
/* Calls fn with (a copy of) each rule loaded by srv_rules_open that still
 * exists, in load order: the rules-file's, then meta.db's.  Main thread,
 * at startup (rule actions' sinks are registered before the sink system
 * starts). */
void srv_rules_each(srv_rules_t *r, void (*fn)(void *arg, const mq_rule_def_t *def), void *arg);

/* Store operations (blocking: thread pool only).  Each updates meta.db and
 * then the live set, under the store mutex.  Return 0, CN_ENOTFOUND,
 * CN_EEXIST (create of an existing id), CN_EINVAL (*err), -EPERM (a rule
 * of the rules file), or a storage error (negative). */
enum srv_rules_op {
    SRV_RULES_CREATE,
    SRV_RULES_UPDATE,
    SRV_RULES_DELETE,
    SRV_RULES_ENABLE,
    SRV_RULES_DISABLE
};
int srv_rules_apply(srv_rules_t *r, int op, const char *id, const mq_rule_def_t *def,
                    char *new_id /* OUT, MQ_RULE_ID_MAX + 1, CREATE without id */,
                    mq_rules_err_t *err /* OUT */);

#endif /* SRV_RULES_H */
