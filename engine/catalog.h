/* SPDX-License-Identifier: MIT */
/*
 * catalog.h - the series catalog (internal to engine/): measurements, their
 * typed fields, series (measurement + sorted tag set) and the tag index
 * (measurement, tag key, tag value) -> sorted series-id postings.
 *
 * Locking: all mutations happen under the engine's write mutex AND the
 * catalog's rwlock held for writing; lookups made by the writer need no lock
 * (only writers mutate), lookups by readers take the rwlock for reading via
 * eng__cat_rdlock()/unlock.  Entries are never freed before the catalog is
 * (a dropped series is marked dead), so borrowed strings stay valid.
 *
 * Persistence: every definition is encoded as a catalog record (format in
 * catalog.c).  New records are appended to an in-memory journal; the engine
 * puts them in the WAL before the data that uses them, and at flush appends
 * the journal to catalog.log (eng__cat_persist) before WAL files are dropped.
 */
#ifndef ENG_CATALOG_H
#define ENG_CATALOG_H

#include "engine.h"

#include <pthread.h>

typedef struct eng__cat eng__cat_t;

typedef struct eng__meas {
    uint32_t id;
    char *name;
    uint32_t nfields, capfields;
    eng_field_info_t *fields; /* index = field id */
    /* field name -> id hash (open addressing, ids+1, 0 empty) */
    uint32_t *fhash;
    uint32_t fhash_cap;
    /* tag index: key -> value -> postings */
    struct eng__tagkey *tagkeys;
    uint32_t ntagkeys, captagkeys;
    uint64_t nseries;
} eng__meas_t;

typedef struct eng__series {
    uint64_t sid;
    uint32_t mid;
    uint32_t ntags;
    bool dead;
    uint64_t wmark;  /* engine write mutex: bound (> any earlier WAL seq) set
                      * by its newest write; 0 = none since open */
    eng_tag_t *tags; /* sorted by key; strings live in `key` */
    char *key;       /* "meas\0k\0v\0k\0v\0" */
    uint32_t keylen;
} eng__series_t;

int eng__cat_open(const char *dir, eng__cat_t **out /* OUT */);
void eng__cat_close(eng__cat_t *c);

void eng__cat_rdlock(eng__cat_t *c);
void eng__cat_unlock(eng__cat_t *c);

/* Writer-side resolution (call under the engine write mutex).  Creating
 * entries appends catalog records to `defs` (for the WAL) and to the
 * journal.  Returns 0 or a negative code. */
int eng__cat_measurement(eng__cat_t *c, const char *name, cn_buf_t *defs,
                         eng__meas_t **out /* OUT */);
/* `mark` becomes the series' wmark (eng_drop_series_unwritten). */
int eng__cat_series(eng__cat_t *c, eng__meas_t *m, const eng_tag_t *tags, uint32_t ntags,
                    uint64_t mark, cn_buf_t *defs, uint64_t *sid /* OUT */);
/* Field id for name with type t: creates it if new; CN_ETYPE if the
 * measurement fixed another type for the name. */
int eng__cat_field(eng__cat_t *c, eng__meas_t *m, const char *name, eng_type_t t, cn_buf_t *defs,
                   uint32_t *fid /* OUT */);

/* Applies catalog records (from the WAL or catalog.log); idempotent.  With
 * journal (WAL replay), records that were new are journaled for catalog.log,
 * as if just created: the WAL holding them is dropped after the next flush. */
int eng__cat_apply(eng__cat_t *c, const uint8_t *p, size_t n, bool journal);
/* Marks series dead and journals the drop. */
void eng__cat_drop(eng__cat_t *c, uint64_t sid, cn_buf_t *defs);

/* Lookups (borrowed pointers, valid until eng__cat_close). */
eng__meas_t *eng__cat_meas_by_name(eng__cat_t *c, const char *name);
eng__meas_t *eng__cat_meas_by_id(eng__cat_t *c, uint32_t id);
eng__series_t *eng__cat_series_get(eng__cat_t *c, uint64_t sid);
uint64_t eng__cat_max_sid(eng__cat_t *c);
uint32_t eng__cat_nmeas(eng__cat_t *c);
uint64_t eng__cat_nseries(eng__cat_t *c);

/* Tag index: postings of (m, key, val); borrowed, count in *n. */
const uint64_t *eng__cat_postings(eng__cat_t *c, eng__meas_t *m, const char *key, const char *val,
                                  size_t *n /* OUT */);
/* Calls fn for each (value, postings) of a tag key in m. */
/* Tag keys of m that at least one live series carries, unsorted, into
 * keys (room for m->ntagkeys); returns their count.  Strings borrowed (the
 * catalog never frees a key before it closes). */
uint32_t eng__cat_tag_keys(eng__cat_t *c, eng__meas_t *m, const char **keys);
void eng__cat_tag_each(eng__cat_t *c, eng__meas_t *m, const char *key,
                       void (*fn)(void *arg, const char *val, const uint64_t *ids, size_t n),
                       void *arg);
/* All live series of m, ascending. */
const uint64_t *eng__cat_meas_series(eng__cat_t *c, eng__meas_t *m, size_t *n /* OUT */);

/* Moves the journal (records not yet in catalog.log) to the end of dst.
 * Call under the engine write mutex. */
void eng__cat_journal_take(eng__cat_t *c, cn_buf_t *dst);
/* Appends journal bytes (from eng__cat_journal_take) to catalog.log and
 * fsyncs.  Called from the flush thread.  Returns 0 or -errno. */
int eng__cat_persist(eng__cat_t *c, const cn_buf_t *recs);
uint64_t eng__cat_disk_bytes(eng__cat_t *c);

#endif /* ENG_CATALOG_H */
