/* SPDX-License-Identifier: MIT */
/*
 * rules.c - the rule set's persistence (rules.h): rules-file at startup,
 * API-created rules in <data-dir>/meta.db.
 *
 * meta.db, table rules (schema version 1, PRAGMA user_version unused by
 * this table; other modules may add their own tables to the file):
 *
 *   column      type     meaning
 *   id          TEXT     the rule id, primary key
 *   def         TEXT     the definition as mq_rule_def_json writes it
 *   updated_ns  INTEGER  last change, ns since the epoch
 *
 * NOTES
 * 1. Every change writes meta.db first (one transaction, synchronous =
 *    FULL) and then updates the live set, both under r->mu, so the live
 *    set never holds a rule that a restart would lose, and concurrent API
 *    calls apply in one order.
 * 2. The connection is opened with SQLITE_OPEN_FULLMUTEX and used only
 *    under r->mu, from thread-pool threads after startup.
 */
#include "rules.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <uv.h>

struct srv_rules {
    mq_rules_t *set;
    sqlite3 *db;
    uv_mutex_t mu;
    uint64_t next_id; /* generated ids: rule-<n> */
    char **loaded;    /* ids loaded at open (srv_rules_each) */
    size_t nloaded;
};

static int sql_err(sqlite3 *db, const char *what, int rc)
{
    cn_error("rules: meta.db: %s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    return rc == SQLITE_FULL ? -ENOSPC : rc == SQLITE_CANTOPEN ? -EACCES : -EIO;
}

static int exec(sqlite3 *db, const char *sql)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sql_err(db, sql, rc);
}

static int open_db(const char *dir, sqlite3 **out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/meta.db", dir);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(
        path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        int e = sql_err(db, path, rc);
        sqlite3_close(db);
        return e;
    }
    sqlite3_busy_timeout(db, 5000);
    rc = exec(db, "PRAGMA journal_mode=WAL");
    if (rc == 0)
        rc = exec(db, "PRAGMA synchronous=FULL");
    if (rc == 0)
        rc = exec(db, "CREATE TABLE IF NOT EXISTS rules (id TEXT PRIMARY KEY, def TEXT NOT NULL, "
                      "updated_ns INTEGER NOT NULL)");
    if (rc < 0) {
        sqlite3_close(db);
        return rc;
    }
    *out = db;
    return 0;
}

/* ------------------------------------------------------------------ loading */

typedef struct defs {
    mq_rule_def_t *v;
    size_t n, cap;
    mq_rule_doc_t **docs;
    size_t ndocs;
} defs_t;

static void defs_add(defs_t *d, const mq_rule_def_t *def, bool from_file)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->v = cn_realloc(d->v, d->cap * sizeof *d->v);
    }
    d->v[d->n] = *def;
    d->v[d->n++].from_file = from_file;
}

static void defs_keep(defs_t *d, mq_rule_doc_t *doc)
{
    d->docs = cn_realloc(d->docs, (d->ndocs + 1) * sizeof *d->docs);
    d->docs[d->ndocs++] = doc;
}

static void defs_free(defs_t *d)
{
    for (size_t i = 0; i < d->ndocs; i++)
        mq_rule_doc_free(d->docs[i]);
    cn_free(d->docs);
    cn_free(d->v);
}

static int load_file(const char *path, defs_t *d, FILE *diag)
{
    uint8_t *text;
    size_t len;
    int rc = cn_file_read_all(path, &text, &len);
    if (rc < 0) {
        fprintf(diag, "cairn: rules-file %s: %s\n", path, cn_strerror(rc));
        return CN_ECONFIG;
    }
    mq_rule_doc_t *doc;
    const mq_rule_def_t *defs;
    size_t n;
    mq_rules_err_t err;
    rc = mq_rule_doc_parse((const char *)text, len, false, &doc, &defs, &n, &err);
    cn_free(text);
    if (rc < 0) {
        fprintf(diag, "cairn: rules-file %s: %s\n", path, err.msg);
        return CN_ECONFIG;
    }
    defs_keep(d, doc);
    for (size_t i = 0; i < n; i++) {
        if (mq_rule_validate(&defs[i], &err) < 0) {
            fprintf(diag, "cairn: rules-file %s: rule %s: %s\n", path, defs[i].id, err.msg);
            return CN_ECONFIG;
        }
        defs_add(d, &defs[i], true);
    }
    return 0;
}

static bool has_id(const defs_t *d, const char *id)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->v[i].id, id) == 0)
            return true;
    return false;
}

static int load_db(sqlite3 *db, defs_t *d, FILE *diag)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "SELECT id, def FROM rules ORDER BY id", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sql_err(db, "load", rc);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *text = (const char *)sqlite3_column_text(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        if (has_id(d, id)) {
            cn_warn("rules: stored rule %s is also in rules-file; the file's definition wins", id);
            continue;
        }
        mq_rule_doc_t *doc;
        const mq_rule_def_t *defs;
        size_t n;
        mq_rules_err_t err;
        if (mq_rule_doc_parse(text, len, false, &doc, &defs, &n, &err) < 0 || n != 1 ||
            mq_rule_validate(&defs[0], &err) < 0) {
            if (diag)
                fprintf(diag, "cairn: meta.db: stored rule %s: %s\n", id, err.msg);
            sqlite3_finalize(st);
            return CN_ECONFIG;
        }
        defs_keep(d, doc);
        defs_add(d, &defs[0], false);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : sql_err(db, "load", rc);
}

int srv_rules_open(const srv_cfg_t *cfg, mq_rules_action_fn on_action, void *arg, srv_rules_t **out,
                   FILE *diag)
{
    *out = NULL;
    srv_rules_t *r = cn_calloc(1, sizeof *r);
    defs_t d = {0};
    int rc = cn_from_uv(uv_mutex_init(&r->mu));
    if (rc < 0) {
        cn_free(r);
        return rc;
    }
    rc = mq_rules_new(on_action, arg, &r->set);
    if (rc == 0)
        rc = open_db(cfg->data_dir, &r->db);
    if (rc == 0 && cfg->rules_file && cfg->rules_file[0])
        rc = load_file(cfg->rules_file, &d, diag);
    if (rc == 0)
        rc = load_db(r->db, &d, diag);
    mq_rules_err_t err;
    if (rc == 0 && mq_rules_replace(r->set, d.v, d.n, &err) < 0) {
        fprintf(diag, "cairn: rules: %s\n", err.msg);
        rc = CN_ECONFIG;
    }
    if (rc == 0) {
        r->loaded = cn_calloc(d.n ? d.n : 1, sizeof *r->loaded);
        for (size_t i = 0; i < d.n; i++)
            r->loaded[r->nloaded++] = cn_strdup(d.v[i].id);
    }
    defs_free(&d);
    if (rc < 0) {
        srv_rules_close(r);
        return rc;
    }
    cn_info("rules: %zu rule(s) loaded", mq_rules_count(r->set));
    *out = r;
    return 0;
}

void srv_rules_close(srv_rules_t *r)
{
    if (!r)
        return;
    mq_rules_free(r->set);
    for (size_t i = 0; i < r->nloaded; i++)
        cn_free(r->loaded[i]);
    cn_free(r->loaded);
    sqlite3_close(r->db);
    uv_mutex_destroy(&r->mu);
    cn_free(r);
}

mq_rules_t *srv_rules_set(srv_rules_t *r)
{
    return r->set;
}

void srv_rules_each(srv_rules_t *r, void (*fn)(void *arg, const mq_rule_def_t *def), void *arg)
{
    for (size_t i = 0; i < r->nloaded; i++) {
        mq_rule_def_t *def;
        if (mq_rules_get(r->set, r->loaded[i], &def) < 0)
            continue; /* deleted since */
        fn(arg, def);
        mq_rule_def_free(def);
    }
}

/* ------------------------------------------------------------------- writes */

static int store_put(sqlite3 *db, const mq_rule_def_t *def)
{
    cn_buf_t b;
    cn_buf_init(&b);
    mq_rule_def_json(def, &b);
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        db, "INSERT OR REPLACE INTO rules (id, def, updated_ns) VALUES (?1, ?2, ?3)", -1, &st,
        NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, def->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, (const char *)b.p, (int)b.len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, cn_now_ns());
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
    }
    cn_buf_free(&b);
    return rc == SQLITE_DONE ? 0 : sql_err(db, "store rule", rc);
}

static int store_delete(sqlite3 *db, const char *id)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "DELETE FROM rules WHERE id = ?1", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
    }
    return rc == SQLITE_DONE ? 0 : sql_err(db, "delete rule", rc);
}

/* An unused id rule-<n> for a create without one. */
static void gen_id(srv_rules_t *r, char *out)
{
    for (;;) {
        snprintf(out, MQ_RULE_ID_MAX + 1, "rule-%llu", (unsigned long long)++r->next_id);
        mq_rule_def_t *have;
        if (mq_rules_get(r->set, out, &have) < 0)
            return;
        mq_rule_def_free(have);
    }
}

static int do_put(srv_rules_t *r, const mq_rule_def_t *def, mq_rules_err_t *err)
{
    int rc = mq_rule_validate(def, err);
    if (rc == 0)
        rc = store_put(r->db, def);
    if (rc == 0 && mq_rules_put(r->set, def, err) < 0)
        rc = err->code;
    return rc;
}

static int apply_locked(srv_rules_t *r, int op, const char *id, const mq_rule_def_t *def,
                        char *new_id, mq_rules_err_t *err)
{
    mq_rule_def_t *have = NULL;
    if (op == SRV_RULES_CREATE && !id) {
        gen_id(r, new_id);
        id = new_id;
    }
    bool exists = mq_rules_get(r->set, id, &have) == 0;
    int rc = 0;
    if (op == SRV_RULES_CREATE && exists)
        rc = CN_EEXIST;
    else if (op != SRV_RULES_CREATE && !exists)
        rc = CN_ENOTFOUND;
    else if (exists && have->from_file)
        rc = -EPERM;
    if (rc < 0) {
        mq_rule_def_free(have);
        return rc;
    }
    mq_rule_def_t copy;
    switch (op) {
    case SRV_RULES_CREATE:
    case SRV_RULES_UPDATE:
        copy = *def;
        copy.id = id;
        copy.from_file = false;
        rc = do_put(r, &copy, err);
        break;
    case SRV_RULES_DELETE:
        rc = store_delete(r->db, id);
        if (rc == 0)
            rc = mq_rules_delete(r->set, id);
        break;
    default:
        have->enabled = op == SRV_RULES_ENABLE;
        rc = do_put(r, have, err);
        break;
    }
    mq_rule_def_free(have);
    return rc;
}

int srv_rules_apply(srv_rules_t *r, int op, const char *id, const mq_rule_def_t *def, char *new_id,
                    mq_rules_err_t *err)
{
    memset(err, 0, sizeof *err);
    uv_mutex_lock(&r->mu);
    int rc = apply_locked(r, op, id, def, new_id, err);
    uv_mutex_unlock(&r->mu);
    return rc;
}
