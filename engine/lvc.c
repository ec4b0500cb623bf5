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
 *
 * Memory (issue 2: ≤ 1 KB per series at 1 M series): a series is one
 * allocation - a 16-byte header, then 16 bytes (timestamp, value bits) and
 * one flag byte per field - reached from a table of 16-byte slots; the
 * seeded values live in a second block of the same shape, allocated only
 * when a reader seeds one of the series' fields.  A string value's bits point to a heap
 * copy that starts with its 4-byte length.  Ten float fields written: 32 B
 * of table + 192 B (jemalloc size class) per series.
 */
#include "engine_int.h"

#include <string.h>

/* a value with its timestamp; bits: the float's bits, the int, the bool
 * (0/1) or, for a string, a pointer to a heap copy {uint32 len, bytes} */
typedef struct tv {
    int64_t ts;
    uint64_t bits;
} tv_t;

enum { F_HAS = 1, F_VALID = 2, F_TSHIFT = 2 }; /* flag byte: bits 2.. = type */

/* A series' written values, or its seeded ones: nf values, then nf flag
 * bytes. */
typedef struct vals {
    struct vals *seed; /* written values: the seeded ones, NULL until a
                        * reader seeds a field; unused in a seed block */
    uint32_t nf;
    uint32_t pad;
    tv_t tv[];
} vals_t;
typedef vals_t ser_t;

typedef struct slotent {
    uint64_t sid; /* sid + 1; 0 = free */
    ser_t *s;
} slotent_t;

struct eng__lvc {
    pthread_mutex_t mu;
    slotent_t *tab; /* open addressing on sid */
    size_t cap, n;
    uint64_t gen;
};

static inline uint8_t *flags_of(vals_t *v)
{
    return (uint8_t *)&v->tv[v->nf];
}

static size_t vals_size(uint32_t nf)
{
    return sizeof(vals_t) + nf * (sizeof(tv_t) + 1);
}

eng__lvc_t *eng__lvc_new(void)
{
    eng__lvc_t *c = cn_calloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    c->gen = 1;
    return c;
}

static void vals_clear_strings(vals_t *v)
{
    const uint8_t *fl = flags_of(v);
    for (uint32_t f = 0; f < v->nf; f++)
        if ((fl[f] & F_HAS) && (fl[f] >> F_TSHIFT) == ENG_T_STRING)
            cn_free((void *)(uintptr_t)v->tv[f].bits);
}

static void ser_free(ser_t *s)
{
    vals_clear_strings(s);
    if (s->seed) {
        vals_clear_strings(s->seed);
        cn_free(s->seed);
    }
    cn_free(s);
}

static void clear_all(eng__lvc_t *c)
{
    for (size_t i = 0; i < c->cap; i++)
        if (c->tab[i].sid)
            ser_free(c->tab[i].s);
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

static size_t slot(const eng__lvc_t *c, uint64_t key)
{
    return (size_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> 20) & (c->cap - 1);
}

/* The table entry of key (sid + 1), or NULL; with create, a new entry with
 * an empty series (nf 0) is made. */
static slotent_t *find(eng__lvc_t *c, uint64_t key, bool create)
{
    if (c->cap) {
        for (size_t i = slot(c, key);; i = (i + 1) & (c->cap - 1)) {
            if (c->tab[i].sid == key)
                return &c->tab[i];
            if (c->tab[i].sid == 0)
                break;
        }
    }
    if (!create || key == 0)
        return NULL;
    if ((c->n + 1) * 2 > c->cap) {
        size_t ocap = c->cap;
        slotent_t *old = c->tab;
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
    size_t i = slot(c, key);
    while (c->tab[i].sid)
        i = (i + 1) & (c->cap - 1);
    c->tab[i].sid = key;
    c->tab[i].s = cn_calloc(1, vals_size(0));
    c->n++;
    return &c->tab[i];
}

/* A copy of v with room for nf fields (the new ones empty); frees v. */
static vals_t *vals_grow(vals_t *v, uint32_t nf)
{
    vals_t *n = cn_calloc(1, vals_size(nf));
    n->nf = nf;
    if (v) {
        n->seed = v->seed;
        memcpy(n->tv, v->tv, v->nf * sizeof(tv_t));
        memcpy(flags_of(n), flags_of(v), v->nf);
        cn_free(v);
    }
    return n;
}

/* Makes the written values of e's series hold field fid (and the seeded
 * ones, if any). */
static ser_t *ser_room(slotent_t *e, uint32_t fid)
{
    if (fid >= e->s->nf)
        e->s = vals_grow(e->s, fid + 1);
    return e->s;
}

static uint64_t to_bits(uint8_t type, eng_value_t v)
{
    uint64_t b = 0;
    switch (type) {
    case ENG_T_FLOAT:
        memcpy(&b, &v.f, 8);
        break;
    case ENG_T_INT:
        b = (uint64_t)v.i;
        break;
    case ENG_T_BOOL:
        b = v.b ? 1 : 0;
        break;
    default: {
        uint8_t *p = cn_malloc(4 + (size_t)v.s.len + 1);
        memcpy(p, &v.s.len, 4);
        if (v.s.len)
            memcpy(p + 4, v.s.p, v.s.len);
        p[4 + v.s.len] = 0;
        b = (uint64_t)(uintptr_t)p;
        break;
    }
    }
    return b;
}

static eng_value_t from_bits(uint8_t type, uint64_t b)
{
    eng_value_t v;
    memset(&v, 0, sizeof v);
    switch (type) {
    case ENG_T_FLOAT:
        memcpy(&v.f, &b, 8);
        break;
    case ENG_T_INT:
        v.i = (int64_t)b;
        break;
    case ENG_T_BOOL:
        v.b = (uint8_t)b;
        break;
    default: {
        const uint8_t *p = (const uint8_t *)(uintptr_t)b;
        memcpy(&v.s.len, p, 4);
        v.s.p = (const char *)p + 4;
        break;
    }
    }
    return v;
}

void eng__lvc_put(eng__lvc_t *c, uint64_t sid, int64_t ts, uint32_t m, const uint32_t *fids,
                  const uint8_t *types, const eng_value_t *vals)
{
    if (m == 0)
        return;
    uint32_t maxf = 0;
    for (uint32_t i = 0; i < m; i++)
        maxf = fids[i] > maxf ? fids[i] : maxf;
    pthread_mutex_lock(&c->mu);
    slotent_t *e = find(c, sid + 1, true); /* keys are sid + 1: 0 marks free slots */
    ser_t *s = e ? ser_room(e, maxf) : NULL;
    uint8_t *fl = s ? flags_of(s) : NULL;
    for (uint32_t i = 0; s && i < m; i++) {
        uint32_t f = fids[i];
        tv_t *t = &s->tv[f];
        if ((fl[f] & F_HAS) && ts < t->ts)
            continue;
        if ((fl[f] & F_HAS) && (fl[f] >> F_TSHIFT) == ENG_T_STRING)
            cn_free((void *)(uintptr_t)t->bits);
        fl[f] = (uint8_t)(F_HAS | (types[i] << F_TSHIFT));
        t->ts = ts;
        t->bits = to_bits(types[i], vals[i]);
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
    slotent_t *e = find(c, sid + 1, false);
    vals_t *sd = e ? e->s->seed : NULL;
    uint8_t sf = sd && fid < sd->nf ? flags_of(sd)[fid] : 0;
    int rc = 0;
    if (sf & F_VALID) {
        vals_t *w = e->s;
        uint8_t wf = fid < w->nf ? flags_of(w)[fid] : 0;
        bool has_w = wf & F_HAS, has_v = sf & F_HAS;
        /* the newer of the seed and the writes since; ties: the write */
        bool use_w = has_w && (!has_v || w->tv[fid].ts >= sd->tv[fid].ts);
        if (!use_w && !has_v) {
            rc = 2;
        } else {
            const tv_t *t = use_w ? &w->tv[fid] : &sd->tv[fid];
            uint8_t type = (uint8_t)((use_w ? wf : sf) >> F_TSHIFT);
            *ts = t->ts;
            *v = from_bits(type, t->bits);
            if (type == ENG_T_STRING) {
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
        slotent_t *e = find(c, sid + 1, true);
        if (e) {
            ser_t *s = e->s;
            if (!s->seed || fid >= s->seed->nf)
                s->seed = vals_grow(s->seed, fid + 1 > s->nf ? fid + 1 : s->nf);
            uint8_t *fl = flags_of(s->seed);
            if (!(fl[fid] & F_VALID)) {
                fl[fid] = F_VALID;
                if (has) {
                    fl[fid] |= (uint8_t)(F_HAS | ((uint8_t)type << F_TSHIFT));
                    s->seed->tv[fid].ts = ts;
                    s->seed->tv[fid].bits = to_bits((uint8_t)type, *v);
                }
            }
        }
    }
    pthread_mutex_unlock(&c->mu);
}
