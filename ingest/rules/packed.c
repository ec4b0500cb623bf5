/* SPDX-License-Identifier: MIT */
/*
 * packed.c - a rule's outputs packed as typed values (rules.h, "Packed
 * outputs"), and their rendering into the exact JSON object that
 * qry_row_json makes of the same outputs.
 *
 * Layout, little endian:
 *
 *   size  meaning
 *   1     version, 1
 *   4     number of outputs n
 *   n times:
 *     4   key length k
 *     k   the output's name as a JSON key with its ':' ("\"t\":")
 *     1   value type: 0 null, 1 boolean, 2 integer, 3 float, 4 string
 *     ..  boolean: 1 byte (0/1); integer: 8 (two's complement); float: 8
 *         (IEEE 754 bits); string: 4 (length m) + m bytes; null: nothing
 *
 * Packing copies bytes (no number formatting, no string escaping): the
 * ingest path pays for that, the sink's reader renders.  Rendering writes
 * '{', the members joined by ',', '}', each member being its key bytes and
 * qry_val_json of the value -- what qry_row_json writes for each output
 * (eval_run.c build_json: the key is the output's jkey, or its name as a
 * JSON string and ':'; the value is qry_val_json of the output's value,
 * whether it was read from a slot or computed), so the bytes are the same.
 *
 * NOTES
 * 1. A plan packs in one pass over its outputs (mq__plan_pack), for the
 *    rules by the hundred whose outputs are bare names: the skeleton holds
 *    the header and the key chunks one after the other, padded so that a
 *    chunk of up to KEY_COPY bytes moves in two 16-byte copies; the
 *    values are read through the row's view (qry_row_view: no call, no
 *    copy into a temporary array); room for the skeleton and 21 bytes a
 *    value (a number, or a string of up to 16 bytes copied as two words)
 *    is reserved once, with no sizing pass, and the loop calls nothing;
 *    a plan meeting another value (NULL, a boolean, a shorter or longer
 *    string) or short of room packs again in plan_pack_any, which takes
 *    everything through put_val.  The type byte is the qry_vkind_t.  The bytes
 *    are mq__pack_outputs' (test_rules_packed).  cachegrind on rules_bench
 *    --size small --rules 10 (four packings of two outputs a message):
 *    mq__plan_pack with qry_row_slots 705 -> 436 instructions a message,
 *    conditional mispredicts 4 -> 2.
 */
#include "rules_int.h"

enum { PK_VERSION = 1 };
enum { PK_NULL = 0, PK_BOOL, PK_INT, PK_FLOAT, PK_STR };

/* Key chunk bytes one plan copy moves at once: a chunk up to this long is
 * copied whole, with what follows it in skel (the plan's skeleton is
 * padded to allow it) over bytes of out that the packing writes next or
 * leaves past its end (the plan's need has room for it). */
#define KEY_COPY 32

_Static_assert((int)PK_NULL == (int)QRY_V_NULL && (int)PK_BOOL == (int)QRY_V_BOOL &&
                   (int)PK_INT == (int)QRY_V_INT && (int)PK_FLOAT == (int)QRY_V_FLOAT &&
                   (int)PK_STR == (int)QRY_V_STR,
               "a packed type byte is the qry_vkind_t");

/* Writes the type byte and value of v at w (room reserved); returns the
 * end.  A number, the common value, takes one branch: its type byte and
 * its 8 bytes (the double's bits read through the union). */
static inline uint8_t *put_val(uint8_t *w, const qry_val_t *v)
{
    qry_vkind_t t = v->t;
    if (t == QRY_V_INT || t == QRY_V_FLOAT) {
        *w = (uint8_t)t;
        cn_st64(w + 1, (uint64_t)v->u.i);
        return w + 9;
    }
    switch (t) {
    case QRY_V_BOOL:
        *w++ = PK_BOOL;
        *w++ = v->u.b ? 1 : 0;
        return w;
    case QRY_V_STR: {
        size_t n = v->u.s.len;
        const char *s = v->u.s.p;
        *w++ = PK_STR;
        cn_st32(w, (uint32_t)n);
        w += 4;
        if (n >= 8 && n <= 16) { /* short strings (ids) without a call */
            cn_st64(w, cn_ld64(s));
            cn_st64(w + n - 8, cn_ld64(s + n - 8));
        } else if (n) {
            memcpy(w, s, n);
        }
        return w + n;
    }
    default:
        *w++ = PK_NULL;
        return w;
    }
}

void mq__pack_outputs(qry_row_t *row, cn_buf_t *out)
{
    const qry_out_t *o;
    size_t n = qry_row_outputs(row, &o);
    size_t need = 5;
    for (size_t i = 0; i < n; i++) {
        need += 4 + (o[i].jkey ? o[i].jkey_len : 0) + 1 + 8;
        if (o[i].v.t == QRY_V_STR)
            need += o[i].v.u.s.len;
    }
    cn_buf_reserve(out, need);
    uint8_t *w = out->p + out->len;
    *w++ = PK_VERSION;
    cn_st32(w, (uint32_t)n);
    w += 4;
    for (size_t i = 0; i < n; i++) {
        const qry_out_t *x = &o[i];
        if (x->jkey) {
            cn_st32(w, x->jkey_len);
            memcpy(w + 4, x->jkey, x->jkey_len);
            w += 4 + x->jkey_len;
        } else { /* a name without a compiled key ('*' members): rendered here */
            out->len = (size_t)(w - out->p);
            size_t at = out->len;
            cn_buf_put_u32(out, 0);
            qry_json_put_str(out, x->name, strlen(x->name));
            cn_buf_put_u8(out, ':');
            cn_st32(out->p + at, (uint32_t)(out->len - at - 4));
            cn_buf_reserve(out, need); /* need still bounds what is left */
            w = out->p + out->len;
        }
        w = put_val(w, &x->v);
    }
    out->len = (size_t)(w - out->p);
}

void mq_rules_pack_values(const char *const *names, const qry_val_t *vals, size_t n, cn_buf_t *out)
{
    cn_buf_put_u8(out, PK_VERSION);
    cn_buf_put_u32(out, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        size_t at = out->len;
        cn_buf_put_u32(out, 0);
        qry_json_put_str(out, names[i], strlen(names[i]));
        cn_buf_put_u8(out, ':');
        cn_st32(out->p + at, (uint32_t)(out->len - at - 4));
        cn_buf_reserve(out, 13 + (vals[i].t == QRY_V_STR ? vals[i].u.s.len : 0));
        out->len = (size_t)(put_val(out->p + out->len, &vals[i]) - out->p);
    }
}

int mq_rules_packed_json(const void *p, size_t n, cn_buf_t *out)
{
    size_t start = out->len;
    cn_rd_t r = cn_rd_make(p, n);
    uint8_t ver, t;
    uint32_t count, k;
    const uint8_t *b;
    if (cn_rd_u8(&r, &ver) < 0 || ver != PK_VERSION || cn_rd_u32(&r, &count) < 0)
        return CN_CORRUPT();
    cn_buf_put_u8(out, '{');
    for (uint32_t i = 0; i < count; i++) {
        if (cn_rd_u32(&r, &k) < 0 || cn_rd_bytes(&r, k, &b) < 0 || cn_rd_u8(&r, &t) < 0)
            goto bad;
        if (i)
            cn_buf_put_u8(out, ',');
        cn_buf_put(out, b, k);
        qry_val_t v = {.t = QRY_V_NULL};
        uint64_t u;
        switch (t) {
        case PK_NULL:
            break;
        case PK_BOOL:
            if (cn_rd_u8(&r, &ver) < 0 || ver > 1)
                goto bad;
            v.t = QRY_V_BOOL;
            v.u.b = ver != 0;
            break;
        case PK_INT:
            if (cn_rd_u64(&r, &u) < 0)
                goto bad;
            v.t = QRY_V_INT;
            v.u.i = (int64_t)u;
            break;
        case PK_FLOAT:
            if (cn_rd_u64(&r, &u) < 0)
                goto bad;
            v.t = QRY_V_FLOAT;
            memcpy(&v.u.f, &u, 8);
            break;
        case PK_STR:
            if (cn_rd_u32(&r, &k) < 0 || cn_rd_bytes(&r, k, &b) < 0)
                goto bad;
            v.t = QRY_V_STR;
            v.u.s.p = (const char *)b;
            v.u.s.len = k;
            break;
        default:
            goto bad;
        }
        qry_val_json(&v, out);
    }
    if (cn_rd_left(&r) != 0)
        goto bad;
    cn_buf_put_u8(out, '}');
    return 0;
bad:
    out->len = start;
    return CN_CORRUPT();
}

/* ------------------------------------------------------------------ plans */

bool mq__plan_build(const qry_rule_t *ast, const qry_prog_t *prog, mq__plan_t *pl)
{
    memset(pl, 0, sizeof *pl);
    if (ast->nfields == 0 || ast->nfields > MQ__PLAN_MAX)
        return false;
    cn_buf_t skel;
    cn_buf_init(&skel);
    cn_buf_put_u8(&skel, PK_VERSION); /* the header goes with key chunk 0 */
    cn_buf_put_u32(&skel, (uint32_t)ast->nfields);
    for (size_t i = 0; i < ast->nfields; i++) {
        const qry_field_t *f = &ast->fields[i];
        if (f->expr->kind != QRY_EXPR_VAR)
            break;
        const char *name = f->alias ? f->alias : f->expr->u.var.name;
        uint32_t slot1;
        /* the compiler's own view: output i is this name, read from a slot */
        if (qry_prog_output_index(prog, name, strlen(name), &slot1) != (int)i || !slot1)
            break;
        size_t at = skel.len;
        cn_buf_put_u32(&skel, 0);
        qry_json_put_str(&skel, name, strlen(name)); /* the output's jkey (eval.c) */
        cn_buf_put_u8(&skel, ':');
        cn_st32(skel.p + at, (uint32_t)(skel.len - at - 4));
        pl->slot[i] = slot1 - 1;
        pl->klen[i] = (uint32_t)(skel.len - (i ? at : 0)); /* chunk 0 with the header */
        pl->n++;
    }
    if (pl->n != ast->nfields) {
        cn_buf_free(&skel);
        memset(pl, 0, sizeof *pl);
        return false;
    }
    pl->skel_len = skel.len;
    for (int i = 0; i < KEY_COPY; i++) /* what copy_key reads past a chunk */
        cn_buf_put_u8(&skel, 0);
    pl->skel = skel.p;
    /* the header and keys, per value its type and 20 bytes (a number, or
     * a string's length and up to 16 bytes), and what copy_key writes past
     * the last key; a longer string reserves its own (plan_put_slow) */
    pl->need = pl->skel_len + pl->n * 21 + KEY_COPY;
    return true;
}

void mq__plan_free(mq__plan_t *pl)
{
    cn_free(pl->skel);
    memset(pl, 0, sizeof *pl);
}

bool mq__plan_eq(const mq__plan_t *a, const mq__plan_t *b)
{
    return a->n == b->n && a->skel_len == b->skel_len &&
           memcmp(a->slot, b->slot, a->n * sizeof a->slot[0]) == 0 &&
           memcmp(a->skel, b->skel, a->skel_len) == 0;
}

/* n bytes of key chunk from s to d, where both hold KEY_COPY bytes at
 * least: two 16-byte moves for the usual short key, no call. */
static inline void copy_key(uint8_t *d, const uint8_t *s, size_t n)
{
    if (n <= KEY_COPY) {
        memcpy(d, s, KEY_COPY);
        return;
    }
    for (size_t i = 0; i + 8 < n; i += 8)
        cn_st64(d + i, cn_ld64(s + i));
    cn_st64(d + n - 8, cn_ld64(s + n - 8));
}

/* mq__plan_pack for any values: what mq__plan_pack does, with the
 * values it does not pack itself (NULL, booleans, strings not of 8 to 16
 * bytes) through put_val, a string reserving its bytes. */
static __attribute__((noinline)) void plan_pack_any(const mq__plan_t *pl, const qry_row_view_t *rv,
                                                    cn_buf_t *out)
{
    static const qry_val_t null_val = {.t = QRY_V_NULL};
    cn_buf_reserve(out, pl->need);
    uint8_t *w = out->p + out->len;
    const uint8_t *k = pl->skel;
    for (uint32_t i = 0; i < pl->n; i++) {
        const qry_val_t *v = qry_view_slot(rv, pl->slot[i]);
        if (!v) { /* an unbound slot reads NULL, as put_bare_outputs reads it */
            v = &null_val;
        } else if (v->t == QRY_V_STR) {
            size_t at = (size_t)(w - out->p);
            out->len = at;
            cn_buf_reserve(out, pl->need + v->u.s.len);
            w = out->p + at;
        }
        copy_key(w, k, pl->klen[i]);
        w += pl->klen[i];
        k += pl->klen[i];
        w = put_val(w, v);
    }
    out->len = (size_t)(w - out->p);
}

void mq__plan_pack(const mq__plan_t *pl, const qry_row_view_t *rv, cn_buf_t *out)
{
    size_t need = pl->need;
    if (out->cap - out->len < need) {
        plan_pack_any(pl, rv, out);
        return;
    }
    /* in locals: the byte stores below may alias anything */
    const uint32_t *slot = pl->slot, *klen = pl->klen, *bound = rv->bound;
    const qry_val_t *val = rv->val;
    uint32_t n = pl->n, gen = rv->gen, nslots = rv->n;
    uint8_t *w = out->p + out->len;
    const uint8_t *k = pl->skel; /* key chunk i follows chunk i - 1 */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t kl = klen[i], s = slot[i];
        if (s >= nslots || bound[s] != gen)
            goto any;
        const qry_val_t *v = &val[s];
        qry_vkind_t t = v->t;
        size_t sl = v->u.s.len;
        copy_key(w, k, kl);
        w += kl;
        k += kl;
        if (t == QRY_V_INT || t == QRY_V_FLOAT) {
            uint64_t bits = (uint64_t)v->u.i;
            *w = (uint8_t)t;
            cn_st64(w + 1, bits);
            w += 9;
        } else if (t == QRY_V_STR && sl - 8 <= 8) { /* as put_val, in room reserved */
            const char *sp = v->u.s.p;
            uint64_t a = cn_ld64(sp), b = cn_ld64(sp + sl - 8);
            *w = PK_STR;
            cn_st32(w + 1, (uint32_t)sl);
            cn_st64(w + 5, a);
            cn_st64(w + 5 + sl - 8, b);
            w += 5 + sl;
        } else {
            goto any;
        }
    }
    out->len = (size_t)(w - out->p);
    return;
any: /* out->len is as it was: pack it all again the general way */
    plan_pack_any(pl, rv, out);
}
