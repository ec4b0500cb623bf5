/* SPDX-License-Identifier: MIT */
/*
 * catalog.c - measurements, fields, series and the tag index, plus their
 * persistence in catalog.log.
 *
 * catalog.log format (version 1), little endian:
 *
 *   file header (16 bytes)
 *   | off | size | meaning                          |
 *   |   0 |    8 | magic "CNCATLG1"                 |
 *   |   8 |    4 | format version (1)               |
 *   |  12 |    4 | CRC-32C of bytes 0..11           |
 *
 *   then records, each:
 *   | off | size | meaning                          |
 *   |   0 |    4 | payload length n                 |
 *   |   4 |    4 | CRC-32C of the payload           |
 *   |   8 |    n | payload: one catalog record      |
 *
 *   catalog record payload (the same bytes travel in WAL records of type
 *   CATALOG, where several may follow each other):
 *     u8 kind, then
 *     kind 1 MEAS:   uvarint id, uvarint len, name bytes
 *     kind 2 FIELD:  uvarint meas id, uvarint field id, u8 type, uvarint len, name
 *     kind 3 SERIES: uvarint sid, uvarint meas id, uvarint ntags,
 *                    ntags x (uvarint klen, key, uvarint vlen, val)
 *     kind 4 DROP:   uvarint sid
 *
 * A torn tail (crash while appending) is truncated at open: whatever it
 * held is still in the WAL, which is only dropped after catalog.log is
 * fsynced (see engine.c, flush protocol).
 *
 * NOTES
 * 1. Series ids are dense from 1 and never reused; series[sid] is the entry.
 * 2. Field ids of a measurement are dense from 0; fields[fid].id == fid.
 * 3. Postings lists are ascending because sids are assigned ascending and
 *    apply() of an old record for an existing sid is a no-op.
 * 4. Records are applied in creation order, so a record's id is at most a
 *    little past the largest known one; apply() rejects ids far beyond it
 *    as corrupt instead of sizing arrays by them.
 */
#include "catalog.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

enum { REC_MEAS = 1, REC_FIELD = 2, REC_SERIES = 3, REC_DROP = 4 };
#define CAT_MAGIC "CNCATLG1"

typedef struct eng__posting {
    char *val;
    uint64_t *ids;
    uint32_t n, cap;
} posting_t;

typedef struct eng__tagkey {
    char *key;
    posting_t *vals; /* hash table by value */
    uint32_t nvals, cap;
} tagkey_t;

struct idlist {
    uint64_t *ids;
    size_t n, cap;
};

struct eng__cat {
    pthread_rwlock_t lock;
    char path[4096];
    int fd;
    uint64_t disk_bytes;
    eng__meas_t **meas;
    uint32_t nmeas, capmeas;
    eng__series_t **series; /* index sid */
    uint64_t maxsid, capseries, nlive;
    uint64_t *shash; /* series hash: sid, 0 empty */
    uint64_t shash_cap;
    /* all-series list per measurement */
    struct idlist *mseries;
    cn_buf_t journal; /* records (len-prefixed) not yet in catalog.log */
};

/* -------------------------------------------------------------- helpers */

static uint64_t series_hash(const char *key, uint32_t len)
{
    return cn_hash64(key, len) | 1;
}

static void shash_insert(eng__cat_t *c, eng__series_t *s);

static void shash_grow(eng__cat_t *c)
{
    uint64_t ncap = c->shash_cap ? c->shash_cap * 2 : 1024;
    cn_free(c->shash);
    c->shash = cn_calloc(ncap, sizeof(uint64_t));
    c->shash_cap = ncap;
    for (uint64_t sid = 1; sid <= c->maxsid; sid++)
        if (c->series[sid])
            shash_insert(c, c->series[sid]);
}

static void shash_insert(eng__cat_t *c, eng__series_t *s)
{
    uint64_t mask = c->shash_cap - 1;
    uint64_t i = series_hash(s->key, s->keylen) & mask;
    while (c->shash[i])
        i = (i + 1) & mask;
    c->shash[i] = s->sid;
}

static eng__series_t *shash_find(eng__cat_t *c, const char *key, uint32_t len)
{
    if (!c->shash_cap)
        return NULL;
    uint64_t mask = c->shash_cap - 1;
    uint64_t i = series_hash(key, len) & mask;
    while (c->shash[i]) {
        eng__series_t *s = c->series[c->shash[i]];
        /* A dropped series keeps its slot (probe chains stay intact) but a
         * write of the same tag set creates a new series. */
        if (!s->dead && s->keylen == len && memcmp(s->key, key, len) == 0)
            return s;
        i = (i + 1) & mask;
    }
    return NULL;
}

static uint32_t str_hash32(const char *s)
{
    return (uint32_t)cn_hash64(s, strlen(s));
}

/* Finds or creates the posting list for val in tk. */
static posting_t *tk_posting(tagkey_t *tk, const char *val, bool create)
{
    if (tk->cap == 0) {
        if (!create)
            return NULL;
        tk->cap = 8;
        tk->vals = cn_calloc(tk->cap, sizeof(posting_t));
    }
    if (create && (tk->nvals + 1) * 4 > tk->cap * 3) {
        uint32_t ocap = tk->cap;
        posting_t *old = tk->vals;
        tk->cap *= 2;
        tk->vals = cn_calloc(tk->cap, sizeof(posting_t));
        for (uint32_t j = 0; j < ocap; j++) {
            if (!old[j].val)
                continue;
            uint32_t i = str_hash32(old[j].val) & (tk->cap - 1);
            while (tk->vals[i].val)
                i = (i + 1) & (tk->cap - 1);
            tk->vals[i] = old[j];
        }
        cn_free(old);
    }
    uint32_t i = str_hash32(val) & (tk->cap - 1);
    while (tk->vals[i].val) {
        if (strcmp(tk->vals[i].val, val) == 0)
            return &tk->vals[i];
        i = (i + 1) & (tk->cap - 1);
    }
    if (!create)
        return NULL;
    tk->vals[i].val = cn_strdup(val);
    tk->nvals++;
    return &tk->vals[i];
}

static tagkey_t *meas_tagkey(eng__meas_t *m, const char *key, bool create)
{
    for (uint32_t i = 0; i < m->ntagkeys; i++)
        if (strcmp(m->tagkeys[i].key, key) == 0)
            return &m->tagkeys[i];
    if (!create)
        return NULL;
    if (m->ntagkeys == m->captagkeys) {
        m->captagkeys = m->captagkeys ? m->captagkeys * 2 : 4;
        m->tagkeys = cn_realloc(m->tagkeys, m->captagkeys * sizeof(tagkey_t));
    }
    tagkey_t *tk = &m->tagkeys[m->ntagkeys++];
    memset(tk, 0, sizeof *tk);
    tk->key = cn_strdup(key);
    return tk;
}

static void ids_push(uint64_t **ids, uint32_t *n, uint32_t *cap, uint64_t v)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 1;
        *ids = cn_realloc(*ids, *cap * sizeof(uint64_t));
    }
    (*ids)[(*n)++] = v;
}

static void journal_add(eng__cat_t *c, const cn_buf_t *rec, cn_buf_t *defs)
{
    cn_buf_put_u32(&c->journal, (uint32_t)rec->len);
    cn_buf_put_u32(&c->journal, cn_crc32c(0, rec->p, rec->len));
    cn_buf_put(&c->journal, rec->p, rec->len);
    if (defs)
        cn_buf_put(defs, rec->p, rec->len);
}

/* --------------------------------------------------- creating entries */

static eng__meas_t *meas_new(eng__cat_t *c, uint32_t id, const char *name, size_t len)
{
    if (id >= c->capmeas) {
        uint32_t ncap = CN_MAX(id + 1, c->capmeas * 2);
        c->meas = cn_realloc(c->meas, ncap * sizeof *c->meas);
        c->mseries = cn_realloc(c->mseries, ncap * sizeof *c->mseries);
        for (uint32_t i = c->capmeas; i < ncap; i++) {
            c->meas[i] = NULL;
            memset(&c->mseries[i], 0, sizeof c->mseries[i]);
        }
        c->capmeas = ncap;
    }
    eng__meas_t *m = cn_calloc(1, sizeof *m);
    m->id = id;
    m->name = cn_strndup(name, len);
    c->meas[id] = m;
    if (id >= c->nmeas)
        c->nmeas = id + 1;
    return m;
}

static int field_lookup(const eng__meas_t *m, const char *name)
{
    if (!m->fhash_cap)
        return -1;
    uint32_t i = str_hash32(name) & (m->fhash_cap - 1);
    while (m->fhash[i]) {
        uint32_t fid = m->fhash[i] - 1;
        if (strcmp(m->fields[fid].name, name) == 0)
            return (int)fid;
        i = (i + 1) & (m->fhash_cap - 1);
    }
    return -1;
}

static void fhash_rebuild(eng__meas_t *m)
{
    uint32_t ncap = 16;
    while (ncap < m->nfields * 2 + 2)
        ncap *= 2;
    cn_free(m->fhash);
    m->fhash = cn_calloc(ncap, sizeof(uint32_t));
    m->fhash_cap = ncap;
    for (uint32_t f = 0; f < m->nfields; f++) {
        if (!m->fields[f].name)
            continue;
        uint32_t i = str_hash32(m->fields[f].name) & (ncap - 1);
        while (m->fhash[i])
            i = (i + 1) & (ncap - 1);
        m->fhash[i] = f + 1;
    }
}

static void field_new(eng__meas_t *m, uint32_t fid, const char *name, size_t len, eng_type_t t)
{
    if (fid >= m->capfields) {
        uint32_t ncap = CN_MAX(fid + 1, m->capfields * 2);
        m->fields = cn_realloc(m->fields, ncap * sizeof *m->fields);
        memset(m->fields + m->capfields, 0, (ncap - m->capfields) * sizeof *m->fields);
        m->capfields = ncap;
    }
    m->fields[fid].name = cn_strndup(name, len);
    m->fields[fid].type = t;
    m->fields[fid].id = fid;
    if (fid >= m->nfields)
        m->nfields = fid + 1;
    if (m->nfields * 2 + 2 > m->fhash_cap)
        fhash_rebuild(m);
    else {
        uint32_t i = str_hash32(m->fields[fid].name) & (m->fhash_cap - 1);
        while (m->fhash[i])
            i = (i + 1) & (m->fhash_cap - 1);
        m->fhash[i] = fid + 1;
    }
}

/* Builds the canonical key "meas\0k\0v\0..." from tags sorted by key. */
static uint32_t build_key(cn_buf_t *kb, const char *meas, const eng_tag_t **sorted, uint32_t n)
{
    cn_buf_reset(kb);
    cn_buf_put(kb, meas, strlen(meas) + 1);
    for (uint32_t i = 0; i < n; i++) {
        cn_buf_put(kb, sorted[i]->key, strlen(sorted[i]->key) + 1);
        cn_buf_put(kb, sorted[i]->val, strlen(sorted[i]->val) + 1);
    }
    return (uint32_t)kb->len;
}

static eng__series_t *series_new(eng__cat_t *c, uint64_t sid, eng__meas_t *m, const char *key,
                                 uint32_t keylen, uint32_t ntags)
{
    if (sid >= c->capseries) {
        uint64_t ncap = CN_MAX(sid + 1, c->capseries * 2);
        c->series = cn_realloc(c->series, ncap * sizeof *c->series);
        memset(c->series + c->capseries, 0, (ncap - c->capseries) * sizeof *c->series);
        c->capseries = ncap;
    }
    eng__series_t *s = cn_calloc(1, sizeof *s);
    s->sid = sid;
    s->mid = m->id;
    s->key = cn_malloc(keylen);
    memcpy(s->key, key, keylen);
    s->keylen = keylen;
    s->ntags = ntags;
    s->tags = cn_calloc(ntags ? ntags : 1, sizeof(eng_tag_t));
    const char *p = s->key + strlen(s->key) + 1;
    for (uint32_t i = 0; i < ntags; i++) {
        s->tags[i].key = p;
        p += strlen(p) + 1;
        s->tags[i].val = p;
        p += strlen(p) + 1;
    }
    c->series[sid] = s;
    if (sid > c->maxsid)
        c->maxsid = sid;
    c->nlive++;
    m->nseries++;
    if ((c->nlive + 1) * 2 > c->shash_cap)
        shash_grow(c);
    else
        shash_insert(c, s);
    for (uint32_t i = 0; i < ntags; i++) {
        tagkey_t *tk = meas_tagkey(m, s->tags[i].key, true);
        posting_t *pl = tk_posting(tk, s->tags[i].val, true);
        ids_push(&pl->ids, &pl->n, &pl->cap, sid);
    }
    struct idlist *ms = &c->mseries[m->id];
    if (ms->n == ms->cap) {
        ms->cap = ms->cap ? ms->cap * 2 : 16;
        ms->ids = cn_realloc(ms->ids, ms->cap * sizeof(uint64_t));
    }
    ms->ids[ms->n++] = sid;
    return s;
}

/* ------------------------------------------------------------ public */

int eng__cat_measurement(eng__cat_t *c, const char *name, cn_buf_t *defs, eng__meas_t **out)
{
    eng__meas_t *m = eng__cat_meas_by_name(c, name);
    if (m) {
        *out = m;
        return 0;
    }
    size_t len = strlen(name);
    if (len == 0 || len > 65535)
        return CN_EINVAL;
    pthread_rwlock_wrlock(&c->lock);
    m = meas_new(c, c->nmeas, name, len);
    pthread_rwlock_unlock(&c->lock);
    cn_buf_t rec;
    cn_buf_init(&rec);
    cn_buf_put_u8(&rec, REC_MEAS);
    cn_buf_put_uvarint(&rec, m->id);
    cn_buf_put_uvarint(&rec, len);
    cn_buf_put(&rec, name, len);
    journal_add(c, &rec, defs);
    cn_buf_free(&rec);
    *out = m;
    return 0;
}

int eng__cat_field(eng__cat_t *c, eng__meas_t *m, const char *name, eng_type_t t, cn_buf_t *defs,
                   uint32_t *fid)
{
    int f = field_lookup(m, name);
    if (f >= 0) {
        if (m->fields[f].type != t)
            return CN_ETYPE;
        *fid = (uint32_t)f;
        return 0;
    }
    size_t len = strlen(name);
    if (len == 0 || len > 65535 || t < ENG_T_FLOAT || t > ENG_T_STRING)
        return CN_EINVAL;
    pthread_rwlock_wrlock(&c->lock);
    uint32_t id = m->nfields;
    field_new(m, id, name, len, t);
    pthread_rwlock_unlock(&c->lock);
    cn_buf_t rec;
    cn_buf_init(&rec);
    cn_buf_put_u8(&rec, REC_FIELD);
    cn_buf_put_uvarint(&rec, m->id);
    cn_buf_put_uvarint(&rec, id);
    cn_buf_put_u8(&rec, (uint8_t)t);
    cn_buf_put_uvarint(&rec, len);
    cn_buf_put(&rec, name, len);
    journal_add(c, &rec, defs);
    cn_buf_free(&rec);
    *fid = id;
    return 0;
}

int eng__cat_series(eng__cat_t *c, eng__meas_t *m, const eng_tag_t *tags, uint32_t ntags,
                    uint64_t mark, cn_buf_t *defs, uint64_t *sid)
{
    const eng_tag_t *sorted[64];
    if (ntags > 64)
        return CN_ELIMIT;
    for (uint32_t i = 0; i < ntags; i++) {
        sorted[i] = &tags[i];
        if (!tags[i].key || !tags[i].val || !tags[i].key[0])
            return CN_EINVAL;
    }
    /* Insertion sort: tag sets are small. */
    for (uint32_t i = 1; i < ntags; i++) {
        const eng_tag_t *t = sorted[i];
        uint32_t j = i;
        while (j > 0 && strcmp(sorted[j - 1]->key, t->key) > 0) {
            sorted[j] = sorted[j - 1];
            j--;
        }
        sorted[j] = t;
    }
    for (uint32_t i = 1; i < ntags; i++)
        if (strcmp(sorted[i - 1]->key, sorted[i]->key) == 0)
            return CN_EINVAL; /* duplicate tag key */
    char stackkey[512];
    cn_buf_t kb = {(uint8_t *)stackkey, 0, sizeof stackkey};
    uint32_t klen = build_key(&kb, m->name, sorted, ntags);
    eng__series_t *s = shash_find(c, (const char *)kb.p, klen);
    if (s && !s->dead) {
        s->wmark = mark;
        *sid = s->sid;
        if (kb.p != (uint8_t *)stackkey)
            cn_free(kb.p);
        return 0;
    }
    pthread_rwlock_wrlock(&c->lock);
    s = series_new(c, c->maxsid + 1, m, (const char *)kb.p, klen, ntags);
    pthread_rwlock_unlock(&c->lock);
    if (kb.p != (uint8_t *)stackkey)
        cn_free(kb.p);
    cn_buf_t rec;
    cn_buf_init(&rec);
    cn_buf_put_u8(&rec, REC_SERIES);
    cn_buf_put_uvarint(&rec, s->sid);
    cn_buf_put_uvarint(&rec, m->id);
    cn_buf_put_uvarint(&rec, ntags);
    for (uint32_t i = 0; i < ntags; i++) {
        size_t kl = strlen(s->tags[i].key), vl = strlen(s->tags[i].val);
        cn_buf_put_uvarint(&rec, kl);
        cn_buf_put(&rec, s->tags[i].key, kl);
        cn_buf_put_uvarint(&rec, vl);
        cn_buf_put(&rec, s->tags[i].val, vl);
    }
    journal_add(c, &rec, defs);
    cn_buf_free(&rec);
    s->wmark = mark;
    *sid = s->sid;
    return 0;
}

static void remove_id(uint64_t *ids, uint32_t *n, uint64_t sid)
{
    for (uint32_t i = 0; i < *n; i++) {
        if (ids[i] == sid) {
            memmove(ids + i, ids + i + 1, (*n - i - 1) * sizeof *ids);
            (*n)--;
            return;
        }
    }
}

static void drop_locked(eng__cat_t *c, uint64_t sid)
{
    eng__series_t *s = eng__cat_series_get(c, sid);
    if (!s || s->dead)
        return;
    s->dead = true;
    c->nlive--;
    eng__meas_t *m = c->meas[s->mid];
    m->nseries--;
    for (uint32_t i = 0; i < s->ntags; i++) {
        tagkey_t *tk = meas_tagkey(m, s->tags[i].key, false);
        posting_t *pl = tk ? tk_posting(tk, s->tags[i].val, false) : NULL;
        if (pl)
            remove_id(pl->ids, &pl->n, sid);
    }
    struct idlist *ms = &c->mseries[m->id];
    uint32_t n = (uint32_t)ms->n;
    remove_id(ms->ids, &n, sid);
    ms->n = n;
}

void eng__cat_drop(eng__cat_t *c, uint64_t sid, cn_buf_t *defs)
{
    eng__series_t *s = eng__cat_series_get(c, sid);
    if (!s || s->dead)
        return;
    pthread_rwlock_wrlock(&c->lock);
    drop_locked(c, sid);
    pthread_rwlock_unlock(&c->lock);
    cn_buf_t rec;
    cn_buf_init(&rec);
    cn_buf_put_u8(&rec, REC_DROP);
    cn_buf_put_uvarint(&rec, sid);
    journal_add(c, &rec, defs);
    cn_buf_free(&rec);
}

/* Applies one record; returns bytes consumed or a negative code. */
static int apply_one(eng__cat_t *c, cn_rd_t *r)
{
    uint8_t kind;
    uint64_t a, b, len;
    const uint8_t *name;
    int rc;
    if ((rc = cn_rd_u8(r, &kind)) < 0)
        return rc;
    switch (kind) {
    case REC_MEAS:
        if ((rc = cn_rd_uvarint(r, &a)) < 0 || (rc = cn_rd_uvarint(r, &len)) < 0 ||
            (rc = cn_rd_bytes(r, len, &name)) < 0)
            return rc;
        /* Ids are dense and records come in creation order, so an id far
         * beyond the last one is corruption (and would size arrays by it). */
        if (a > (uint64_t)c->nmeas + 4096 || len == 0)
            return CN_CORRUPT();
        if (a < c->nmeas && c->meas[a])
            return 0;
        meas_new(c, (uint32_t)a, (const char *)name, len);
        return 1;
    case REC_FIELD: {
        uint8_t t;
        if ((rc = cn_rd_uvarint(r, &a)) < 0 || (rc = cn_rd_uvarint(r, &b)) < 0 ||
            (rc = cn_rd_u8(r, &t)) < 0 || (rc = cn_rd_uvarint(r, &len)) < 0 ||
            (rc = cn_rd_bytes(r, len, &name)) < 0)
            return rc;
        eng__meas_t *m = eng__cat_meas_by_id(c, (uint32_t)a);
        if (!m || b > (uint64_t)m->nfields + 4096 || t < ENG_T_FLOAT || t > ENG_T_STRING ||
            len == 0)
            return CN_CORRUPT();
        if (b < m->nfields && m->fields[b].name)
            return 0;
        field_new(m, (uint32_t)b, (const char *)name, len, (eng_type_t)t);
        return 1;
    }
    case REC_SERIES: {
        uint64_t ntags;
        if ((rc = cn_rd_uvarint(r, &a)) < 0 || (rc = cn_rd_uvarint(r, &b)) < 0 ||
            (rc = cn_rd_uvarint(r, &ntags)) < 0)
            return rc;
        eng__meas_t *m = eng__cat_meas_by_id(c, (uint32_t)b);
        if (!m || a == 0 || a > c->maxsid + (1u << 20) || ntags > 64)
            return CN_CORRUPT();
        cn_buf_t kb;
        cn_buf_init(&kb);
        cn_buf_put(&kb, m->name, strlen(m->name) + 1);
        for (uint64_t i = 0; i < ntags * 2; i++) {
            if ((rc = cn_rd_uvarint(r, &len)) < 0 || (rc = cn_rd_bytes(r, len, &name)) < 0 ||
                memchr(name, 0, len)) {
                cn_buf_free(&kb);
                return rc < 0 ? rc : CN_CORRUPT();
            }
            cn_buf_put(&kb, name, len);
            cn_buf_put_u8(&kb, 0);
        }
        bool fresh = !(a < c->capseries && c->series[a]);
        if (fresh)
            series_new(c, a, m, (const char *)kb.p, (uint32_t)kb.len, (uint32_t)ntags);
        cn_buf_free(&kb);
        return fresh;
    }
    case REC_DROP: {
        if ((rc = cn_rd_uvarint(r, &a)) < 0)
            return rc;
        eng__series_t *s = eng__cat_series_get(c, a);
        bool live = s && !s->dead;
        drop_locked(c, a);
        return live;
    }
    default:
        return CN_CORRUPT();
    }
}

int eng__cat_apply(eng__cat_t *c, const uint8_t *p, size_t n, bool journal)
{
    cn_rd_t r = cn_rd_make(p, n);
    int rc = 0;
    pthread_rwlock_wrlock(&c->lock);
    while (cn_rd_left(&r) > 0 && rc >= 0) {
        const uint8_t *start = r.p;
        rc = apply_one(c, &r);
        if (rc > 0 && journal) {
            /* New to catalog.log: it must get there before the WAL record
             * that brought it is dropped (the next flush writes the
             * journal, then checkpoints the WAL). */
            cn_buf_t rec = {(uint8_t *)(uintptr_t)start, (size_t)(r.p - start), 0};
            journal_add(c, &rec, NULL);
        }
    }
    pthread_rwlock_unlock(&c->lock);
    return rc < 0 ? rc : 0;
}

/* Loads catalog.log, truncating a torn tail. */
static int cat_load(eng__cat_t *c)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = cn_file_read_all(c->path, &data, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    size_t good = 0;
    if (len >= 16) {
        if (memcmp(data, CAT_MAGIC, 8) != 0 || cn_ld32(data + 12) != cn_crc32c(0, data, 12)) {
            cn_free(data);
            cn_error("catalog: %s has a bad header", c->path);
            return CN_CORRUPT();
        }
        if (cn_ld32(data + 8) != 1) {
            cn_free(data);
            return CN_EVERSION;
        }
        good = 16;
        while (len - good >= 8) {
            uint32_t n = cn_ld32(data + good), crc = cn_ld32(data + good + 4);
            if (n > len - good - 8 || cn_crc32c(0, data + good + 8, n) != crc)
                break;
            rc = eng__cat_apply(c, data + good + 8, n, false);
            if (rc < 0)
                break;
            good += 8 + n;
        }
    }
    cn_free(data);
    if (good < len) {
        cn_warn("catalog: truncating %zu bytes of torn tail in %s", len - good, c->path);
        if (truncate(c->path, (off_t)good) < 0)
            return -errno;
    }
    c->disk_bytes = good;
    return 0;
}

int eng__cat_open(const char *dir, eng__cat_t **out)
{
    eng__cat_t *c = cn_calloc(1, sizeof *c);
    pthread_rwlock_init(&c->lock, NULL);
    snprintf(c->path, sizeof c->path, "%s/catalog.log", dir);
    c->fd = -1;
    cn_buf_init(&c->journal);
    shash_grow(c);
    int rc = cat_load(c);
    if (rc < 0) {
        eng__cat_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void eng__cat_journal_take(eng__cat_t *c, cn_buf_t *dst)
{
    cn_buf_put(dst, c->journal.p, c->journal.len);
    cn_buf_reset(&c->journal);
}

int eng__cat_persist(eng__cat_t *c, const cn_buf_t *recs)
{
    if (recs->len == 0)
        return 0;
    if (c->fd < 0) {
        c->fd = open(c->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (c->fd < 0)
            return -errno;
        if (c->disk_bytes == 0) {
            uint8_t hdr[16];
            memcpy(hdr, CAT_MAGIC, 8);
            cn_st32(hdr + 8, 1);
            cn_st32(hdr + 12, cn_crc32c(0, hdr, 12));
            if (ftruncate(c->fd, 0) < 0 || write(c->fd, hdr, 16) != 16)
                return -errno;
            c->disk_bytes = 16;
        }
    }
    size_t off = 0;
    while (off < recs->len) {
        ssize_t w = write(c->fd, recs->p + off, recs->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        off += (size_t)w;
    }
    if (fdatasync(c->fd) < 0)
        return -errno;
    c->disk_bytes += recs->len;
    return 0;
}

uint64_t eng__cat_disk_bytes(eng__cat_t *c)
{
    return c->disk_bytes;
}

void eng__cat_close(eng__cat_t *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    for (uint32_t i = 0; i < c->nmeas; i++) {
        eng__meas_t *m = c->meas[i];
        if (!m)
            continue;
        for (uint32_t f = 0; f < m->nfields; f++)
            cn_free((char *)m->fields[f].name);
        cn_free(m->fields);
        cn_free(m->fhash);
        for (uint32_t k = 0; k < m->ntagkeys; k++) {
            tagkey_t *tk = &m->tagkeys[k];
            for (uint32_t j = 0; j < tk->cap; j++) {
                cn_free(tk->vals[j].val);
                cn_free(tk->vals[j].ids);
            }
            cn_free(tk->vals);
            cn_free(tk->key);
        }
        cn_free(m->tagkeys);
        cn_free(m->name);
        cn_free(m);
        cn_free(c->mseries[i].ids);
    }
    cn_free(c->meas);
    cn_free(c->mseries);
    for (uint64_t s = 0; s < c->capseries; s++) {
        if (!c->series[s])
            continue;
        cn_free(c->series[s]->key);
        cn_free(c->series[s]->tags);
        cn_free(c->series[s]);
    }
    cn_free(c->series);
    cn_free(c->shash);
    cn_buf_free(&c->journal);
    pthread_rwlock_destroy(&c->lock);
    cn_free(c);
}

void eng__cat_rdlock(eng__cat_t *c)
{
    pthread_rwlock_rdlock(&c->lock);
}

void eng__cat_unlock(eng__cat_t *c)
{
    pthread_rwlock_unlock(&c->lock);
}

eng__meas_t *eng__cat_meas_by_name(eng__cat_t *c, const char *name)
{
    for (uint32_t i = 0; i < c->nmeas; i++)
        if (c->meas[i] && strcmp(c->meas[i]->name, name) == 0)
            return c->meas[i];
    return NULL;
}

eng__meas_t *eng__cat_meas_by_id(eng__cat_t *c, uint32_t id)
{
    return id < c->nmeas ? c->meas[id] : NULL;
}

eng__series_t *eng__cat_series_get(eng__cat_t *c, uint64_t sid)
{
    return sid < c->capseries ? c->series[sid] : NULL;
}

uint64_t eng__cat_max_sid(eng__cat_t *c)
{
    return c->maxsid;
}

uint32_t eng__cat_nmeas(eng__cat_t *c)
{
    return c->nmeas;
}

uint64_t eng__cat_nseries(eng__cat_t *c)
{
    return c->nlive;
}

const uint64_t *eng__cat_postings(eng__cat_t *c, eng__meas_t *m, const char *key, const char *val,
                                  size_t *n)
{
    (void)c;
    tagkey_t *tk = meas_tagkey(m, key, false);
    posting_t *pl = tk ? tk_posting(tk, val, false) : NULL;
    *n = pl ? pl->n : 0;
    return pl ? pl->ids : NULL;
}

uint32_t eng__cat_tag_keys(eng__cat_t *c, eng__meas_t *m, const char **keys)
{
    (void)c;
    uint32_t n = 0;
    for (uint32_t k = 0; k < m->ntagkeys; k++) {
        const tagkey_t *tk = &m->tagkeys[k];
        for (uint32_t i = 0; i < tk->cap; i++) {
            if (tk->vals[i].val && tk->vals[i].n) {
                keys[n++] = tk->key;
                break;
            }
        }
    }
    return n;
}

void eng__cat_tag_each(eng__cat_t *c, eng__meas_t *m, const char *key,
                       void (*fn)(void *arg, const char *val, const uint64_t *ids, size_t n),
                       void *arg)
{
    (void)c;
    tagkey_t *tk = meas_tagkey(m, key, false);
    if (!tk)
        return;
    for (uint32_t i = 0; i < tk->cap; i++)
        if (tk->vals[i].val && tk->vals[i].n)
            fn(arg, tk->vals[i].val, tk->vals[i].ids, tk->vals[i].n);
}

const uint64_t *eng__cat_meas_series(eng__cat_t *c, eng__meas_t *m, size_t *n)
{
    *n = c->mseries[m->id].n;
    return c->mseries[m->id].ids;
}
