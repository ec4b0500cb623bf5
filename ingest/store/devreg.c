/* SPDX-License-Identifier: MIT */
/*
 * devreg.c - the device registry: device id -> tag set (fleet, model, ...)
 * that ingest attaches to a device's rows.
 *
 * mq_devices / mq_device_tags are the truth.  Readers (event loops, one
 * lookup per stored message) use an immutable snapshot: a sorted array of
 * devices with an open-addressing hash over it, every string in one arena.
 * The store thread rebuilds the snapshot from the tables after each commit
 * that changed a device and swaps the pointer; readers hold a reference
 * and notice a newer snapshot with one atomic load (acquire with `held`).
 * Rebuilding costs O(devices) per batch of changes, which is right for a
 * registry edited through an admin API and read on every message.
 *
 * NOTES
 *  1. st->dev_cur is never NULL while the store is open; it holds one
 *     reference of its own.
 *  2. A snapshot is freed by whoever drops its last reference.
 */
#include "store_int.h"

typedef struct devent {
    const char *id;
    size_t id_len;
    const mq_store_tag_t *tags;
    size_t ntags;
} devent_t;

struct mq_devsnap {
    atomic_uint refs;
    size_t n;
    devent_t *v; /* by id, bytewise */
    mq_store_tag_t *tags;
    uint32_t *ht; /* index + 1, 0 = empty; hcap slots */
    size_t hcap;
    char *arena;
};

static void snap_free(mq_devsnap_t *s)
{
    cn_free(s->v);
    cn_free(s->tags);
    cn_free(s->ht);
    cn_free(s->arena);
    cn_free(s);
}

void mq_devsnap_release(mq_devsnap_t *s)
{
    if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        snap_free(s);
}

/* ------------------------------------------------------------- building */

/* Offsets into the arena while it may still move. */
typedef struct rowoff {
    size_t id, id_len, k, k_len, v, v_len;
    bool has_tag;
} rowoff_t;

static size_t arena_put(cn_buf_t *a, const void *p, size_t n)
{
    size_t off = a->len;
    cn_buf_put(a, p, n);
    cn_buf_put_u8(a, 0);
    return off;
}

static void snap_index(mq_devsnap_t *s)
{
    s->hcap = 16;
    while (s->hcap < s->n * 2)
        s->hcap *= 2;
    s->ht = cn_calloc(s->hcap, sizeof(*s->ht));
    for (size_t i = 0; i < s->n; i++) {
        size_t j = cn_hash64(s->v[i].id, s->v[i].id_len) & (s->hcap - 1);
        while (s->ht[j])
            j = (j + 1) & (s->hcap - 1);
        s->ht[j] = (uint32_t)i + 1;
    }
}

/* Turns the rows (ordered by id, k) into a snapshot. */
static mq_devsnap_t *snap_build(rowoff_t *rows, size_t nrows, cn_buf_t *arena)
{
    mq_devsnap_t *s = cn_calloc(1, sizeof(*s));
    atomic_init(&s->refs, 1);
    s->arena = (char *)arena->p;
    s->v = cn_calloc(nrows ? nrows : 1, sizeof(*s->v));
    s->tags = cn_calloc(nrows ? nrows : 1, sizeof(*s->tags));
    size_t nt = 0;
    for (size_t i = 0; i < nrows; i++) {
        rowoff_t *r = &rows[i];
        devent_t *d = s->n ? &s->v[s->n - 1] : NULL;
        if (!d || d->id_len != r->id_len || memcmp(d->id, s->arena + r->id, r->id_len) != 0) {
            d = &s->v[s->n++];
            d->id = s->arena + r->id;
            d->id_len = r->id_len;
            d->tags = &s->tags[nt];
        }
        if (r->has_tag) {
            s->tags[nt++] = (mq_store_tag_t){s->arena + r->k, r->k_len, s->arena + r->v, r->v_len};
            d->ntags++;
        }
    }
    snap_index(s);
    return s;
}

int mq__st_dev_rebuild(mq_store_t *st)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(st->db,
                                "SELECT d.id, t.k, t.v FROM mq_devices d LEFT JOIN mq_device_tags"
                                " t ON t.id = d.id ORDER BY d.id, t.k",
                                -1, &q, NULL);
    if (rc != SQLITE_OK)
        return mq__st_sql_err(rc);
    cn_buf_t arena;
    cn_buf_init(&arena);
    cn_buf_put_u8(&arena, 0); /* a non-NULL arena even when empty */
    rowoff_t *rows = NULL;
    size_t n = 0, cap = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            rows = cn_realloc(rows, cap * sizeof(*rows));
        }
        rowoff_t *r = &rows[n++];
        memset(r, 0, sizeof(*r));
        r->id_len = (size_t)sqlite3_column_bytes(q, 0);
        r->id = arena_put(&arena, sqlite3_column_blob(q, 0), r->id_len);
        if (sqlite3_column_type(q, 1) != SQLITE_NULL) {
            r->has_tag = true;
            r->k_len = (size_t)sqlite3_column_bytes(q, 1);
            r->k = arena_put(&arena, sqlite3_column_blob(q, 1), r->k_len);
            r->v_len = (size_t)sqlite3_column_bytes(q, 2);
            r->v = arena_put(&arena, sqlite3_column_blob(q, 2), r->v_len);
        }
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        cn_free(rows);
        cn_buf_free(&arena);
        return mq__st_sql_err(rc);
    }
    mq_devsnap_t *s = snap_build(rows, n, &arena);
    cn_free(rows);
    pthread_mutex_lock(&st->dev_mu);
    mq_devsnap_t *old = atomic_load(&st->dev_cur);
    atomic_store_explicit(&st->dev_cur, s, memory_order_release);
    pthread_mutex_unlock(&st->dev_mu);
    mq_devsnap_release(old);
    return 0;
}

void mq__st_dev_free(mq_store_t *st)
{
    mq_devsnap_release(atomic_load(&st->dev_cur));
    atomic_store(&st->dev_cur, NULL);
}

/* -------------------------------------------------------------- readers */

mq_devsnap_t *mq_store_devices_acquire(mq_store_t *st, mq_devsnap_t *held)
{
    mq_devsnap_t *cur = atomic_load_explicit(&st->dev_cur, memory_order_acquire);
    if (held && held == cur)
        return held;
    pthread_mutex_lock(&st->dev_mu);
    cur = atomic_load_explicit(&st->dev_cur, memory_order_acquire);
    atomic_fetch_add_explicit(&cur->refs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&st->dev_mu);
    mq_devsnap_release(held);
    return cur;
}

int mq_devsnap_get(const mq_devsnap_t *s, const char *id, size_t id_len,
                   const mq_store_tag_t **tags)
{
    size_t j = cn_hash64(id, id_len) & (s->hcap - 1);
    for (; s->ht[j]; j = (j + 1) & (s->hcap - 1)) {
        const devent_t *d = &s->v[s->ht[j] - 1];
        if (d->id_len == id_len && memcmp(d->id, id, id_len) == 0) {
            *tags = d->tags;
            return (int)d->ntags;
        }
    }
    *tags = NULL;
    return CN_ENOTFOUND;
}

size_t mq_devsnap_count(const mq_devsnap_t *s)
{
    return s->n;
}

int mq_devsnap_at(const mq_devsnap_t *s, size_t i, const char **id, size_t *id_len,
                  const mq_store_tag_t **tags)
{
    if (i >= s->n)
        return CN_EINVAL;
    *id = s->v[i].id;
    *id_len = s->v[i].id_len;
    *tags = s->v[i].tags;
    return (int)s->v[i].ntags;
}

/* -------------------------------------------------------------- writers */

int mq__st_dev_apply(mq_store_t *st, mq__st_op_t *op)
{
    sqlite3_stmt *s = st->stmt[S_DEVTAG_DEL];
    sqlite3_bind_blob(s, 1, op->a, (int)op->alen, SQLITE_STATIC);
    int rc = mq__st_step_done(st, s);
    if (rc < 0)
        return rc;
    s = st->stmt[op->kind == OP_DEV_PUT ? S_DEV_PUT : S_DEV_DEL];
    sqlite3_bind_blob(s, 1, op->a, (int)op->alen, SQLITE_STATIC);
    rc = mq__st_step_done(st, s);
    /* Packed tags (built by mq_store_device_put): u8 klen, key, u8 vlen, val. */
    cn_rd_t rd = cn_rd_make(op->c, op->clen);
    for (uint32_t i = 0; rc == 0 && i < op->ntags; i++) {
        uint8_t kl, vl;
        const uint8_t *k, *v;
        if (cn_rd_u8(&rd, &kl) < 0 || cn_rd_bytes(&rd, kl, &k) < 0 || cn_rd_u8(&rd, &vl) < 0 ||
            cn_rd_bytes(&rd, vl, &v) < 0)
            return CN_EINVAL;
        s = st->stmt[S_DEVTAG_PUT];
        sqlite3_bind_blob(s, 1, op->a, (int)op->alen, SQLITE_STATIC);
        sqlite3_bind_blob(s, 2, k, kl, SQLITE_STATIC);
        sqlite3_bind_blob(s, 3, vl ? (const void *)v : "", vl, SQLITE_STATIC);
        rc = mq__st_step_done(st, s);
    }
    return rc;
}

int64_t mq_store_device_put(mq_store_t *st, const char *id, size_t id_len,
                            const mq_store_tag_t *tags, size_t n)
{
    if (!id || id_len == 0 || id_len > MQ_DEV_ID_MAX || n > MQ_DEV_TAGS || (n && !tags))
        return CN_EINVAL;
    cn_buf_t b;
    cn_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        const mq_store_tag_t *t = &tags[i];
        bool bad = !t->key || t->key_len == 0 || t->key_len > MQ_DEV_TAG_MAX ||
                   t->val_len > MQ_DEV_TAG_MAX || (t->val_len && !t->val);
        for (size_t j = 0; !bad && j < i; j++)
            bad = tags[j].key_len == t->key_len && memcmp(tags[j].key, t->key, t->key_len) == 0;
        if (bad) {
            cn_buf_free(&b);
            return CN_EINVAL;
        }
        cn_buf_put_u8(&b, (uint8_t)t->key_len);
        cn_buf_put(&b, t->key, t->key_len);
        cn_buf_put_u8(&b, (uint8_t)t->val_len);
        if (t->val_len)
            cn_buf_put(&b, t->val, t->val_len);
    }
    mq__st_op_t *op = mq__st_op_new(OP_DEV_PUT, id, id_len, NULL, 0, b.p, b.len, NULL, 0);
    op->ntags = (uint32_t)n;
    cn_buf_free(&b);
    return mq__st_enqueue(st, op);
}

int64_t mq_store_device_del(mq_store_t *st, const char *id, size_t id_len)
{
    if (!id || id_len == 0 || id_len > MQ_DEV_ID_MAX)
        return CN_EINVAL;
    return mq__st_enqueue(st, mq__st_op_new(OP_DEV_DEL, id, id_len, NULL, 0, NULL, 0, NULL, 0));
}
