/* SPDX-License-Identifier: MIT */
/*
 * lvc.c - the last-value cache: per series and field, the value with the
 * largest timestamp, so last() over many series needs no scan.
 *
 * Each entry holds two things:
 *   - `w`: the newest value written since the engine opened (eng_write
 *     updates it under wmu; ties go to the later write, like the store);
 *   - `valid`: set once a reader seeded the entry from a full scan of a
 *     snapshot (eng_last_seed): the entry is then max(seed, w), which is
 *     the series' true last value because every write after the snapshot
 *     went through `w`.
 * Deletes, series drops and retention bump `gen` and clear everything;
 * a seed carries the gen the reader saw before opening its snapshot and
 * is ignored when it changed meanwhile.  Replayed WAL records do not pass
 * through eng_write: until seeded, entries are simply not valid.
 *
 * Lock order: wmu, then lvc->mu.  Readers take lvc->mu only.
 */
#include "engine_int.h"

#include <string.h>

typedef struct ent {
    bool has_w, valid, has_v;
    uint8_t type_w, type_v;
    int64_t ts_w, ts_v;
    eng_value_t w, v; /* strings: owned copies */
} ent_t;

typedef struct ser {
    uint64_t sid;
    uint32_t nf;
    ent_t *f;
} ser_t;

struct eng__lvc {
    pthread_mutex_t mu;
    ser_t *tab; /* open addressing on sid (0 = empty slot) */
    size_t cap, n;
    uint64_t gen;
};

eng__lvc_t *eng__lvc_new(void)
{
    eng__lvc_t *c = cn_calloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    c->gen = 1;
    return c;
}

static void ent_clear(ent_t *e)
{
    if (e->has_w && e->type_w == ENG_T_STRING)
        cn_free((void *)e->w.s.p);
    if (e->has_v && e->type_v == ENG_T_STRING)
        cn_free((void *)e->v.s.p);
    memset(e, 0, sizeof *e);
}

static void clear_all(eng__lvc_t *c)
{
    for (size_t i = 0; i < c->cap; i++) {
        ser_t *s = &c->tab[i];
        for (uint32_t f = 0; f < s->nf; f++)
            ent_clear(&s->f[f]);
        cn_free(s->f);
    }
    cn_free(c->tab);
    c->tab = NULL;
    c->cap = c->n = 0;
}

void eng__lvc_free(eng__lvc_t *c)
{
    if (!c)
        return;
    clear_all(c);
    pthread_mutex_destroy(&c->mu);
    cn_free(c);
}

static size_t slot(const eng__lvc_t *c, uint64_t sid)
{
    return (size_t)((sid * UINT64_C(0x9E3779B97F4A7C15)) >> 20) & (c->cap - 1);
}

static ser_t *find(eng__lvc_t *c, uint64_t sid, bool create)
{
    if (c->cap) {
        for (size_t i = slot(c, sid);; i = (i + 1) & (c->cap - 1)) {
            if (c->tab[i].sid == sid)
                return &c->tab[i];
            if (c->tab[i].sid == 0)
                break;
        }
    }
    if (!create || sid == 0)
        return NULL;
    if ((c->n + 1) * 2 > c->cap) {
        size_t ocap = c->cap;
        ser_t *old = c->tab;
        c->cap = ocap ? 2 * ocap : 256;
        c->tab = cn_calloc(c->cap, sizeof *c->tab);
        for (size_t i = 0; i < ocap; i++)
            if (old[i].sid) {
                size_t j = slot(c, old[i].sid);
                while (c->tab[j].sid)
                    j = (j + 1) & (c->cap - 1);
                c->tab[j] = old[i];
            }
        cn_free(old);
    }
    size_t i = slot(c, sid);
    while (c->tab[i].sid)
        i = (i + 1) & (c->cap - 1);
    c->tab[i].sid = sid;
    c->n++;
    return &c->tab[i];
}

static ent_t *ent(ser_t *s, uint32_t fid)
{
    if (fid >= s->nf) {
        uint32_t n = fid + 1 < 8 ? 8 : fid + 1;
        s->f = cn_realloc(s->f, n * sizeof *s->f);
        memset(s->f + s->nf, 0, (n - s->nf) * sizeof *s->f);
        s->nf = n;
    }
    return &s->f[fid];
}

static eng_value_t copy_val(uint8_t type, eng_value_t v)
{
    if (type == ENG_T_STRING) {
        char *p = cn_malloc(v.s.len + 1);
        if (v.s.len)
            memcpy(p, v.s.p, v.s.len);
        p[v.s.len] = 0;
        v.s.p = p;
    }
    return v;
}

void eng__lvc_put(eng__lvc_t *c, uint64_t sid, int64_t ts, uint32_t m, const uint32_t *fids,
                  const uint8_t *types, const eng_value_t *vals)
{
    pthread_mutex_lock(&c->mu);
    ser_t *s = find(c, sid + 1, true); /* keys are sid + 1: 0 marks free slots */
    for (uint32_t i = 0; s && i < m; i++) {
        ent_t *e = ent(s, fids[i]);
        if (e->has_w && ts < e->ts_w)
            continue;
        if (e->has_w && e->type_w == ENG_T_STRING)
            cn_free((void *)e->w.s.p);
        e->has_w = true;
        e->ts_w = ts;
        e->type_w = types[i];
        e->w = copy_val(types[i], vals[i]);
    }
    pthread_mutex_unlock(&c->mu);
}

void eng__lvc_invalidate(eng__lvc_t *c)
{
    pthread_mutex_lock(&c->mu);
    c->gen++;
    clear_all(c);
    pthread_mutex_unlock(&c->mu);
}

uint64_t eng_last_gen(eng_db_t *db)
{
    pthread_mutex_lock(&db->lvc->mu);
    uint64_t g = db->lvc->gen;
    pthread_mutex_unlock(&db->lvc->mu);
    return g;
}

int eng_last_get(eng_db_t *db, uint64_t sid, uint32_t fid, int64_t *ts, eng_value_t *v,
                 cn_buf_t *str)
{
    eng__lvc_t *c = db->lvc;
    pthread_mutex_lock(&c->mu);
    ser_t *s = find(c, sid + 1, false);
    ent_t *e = s && fid < s->nf ? &s->f[fid] : NULL;
    int rc = 0;
    if (e && e->valid) {
        /* the newer of the seed and the writes since; ties: the write */
        bool use_w = e->has_w && (!e->has_v || e->ts_w >= e->ts_v);
        if (!use_w && !e->has_v) {
            rc = 2;
        } else {
            uint8_t t = use_w ? e->type_w : e->type_v;
            *ts = use_w ? e->ts_w : e->ts_v;
            *v = use_w ? e->w : e->v;
            if (t == ENG_T_STRING) {
                cn_buf_reset(str);
                cn_buf_put(str, v->s.p, v->s.len);
                v->s.p = (const char *)str->p;
            }
            rc = 1;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void eng_last_seed(eng_db_t *db, uint64_t sid, uint32_t fid, bool has, int64_t ts, eng_type_t type,
                   const eng_value_t *v, uint64_t gen)
{
    eng__lvc_t *c = db->lvc;
    pthread_mutex_lock(&c->mu);
    if (gen == c->gen) {
        ser_t *s = find(c, sid + 1, true);
        ent_t *e = s ? ent(s, fid) : NULL;
        if (e && !e->valid) {
            e->valid = true;
            e->has_v = has;
            if (has) {
                e->ts_v = ts;
                e->type_v = (uint8_t)type;
                e->v = copy_val((uint8_t)type, *v);
            }
        }
    }
    pthread_mutex_unlock(&c->mu);
}
