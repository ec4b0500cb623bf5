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
 */
#include "rules_int.h"

enum { PK_VERSION = 1 };
enum { PK_NULL = 0, PK_BOOL, PK_INT, PK_FLOAT, PK_STR };

/* Writes the type byte and value of v at w (room reserved); returns the
 * end. */
static inline uint8_t *put_val(uint8_t *w, const qry_val_t *v)
{
    switch (v->t) {
    case QRY_V_BOOL:
        *w++ = PK_BOOL;
        *w++ = v->u.b ? 1 : 0;
        return w;
    case QRY_V_INT:
        *w++ = PK_INT;
        cn_st64(w, (uint64_t)v->u.i);
        return w + 8;
    case QRY_V_FLOAT: {
        uint64_t bits;
        memcpy(&bits, &v->u.f, 8);
        *w++ = PK_FLOAT;
        cn_st64(w, bits);
        return w + 8;
    }
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
        pl->off[i] = (uint32_t)at;
        pl->n++;
    }
    if (pl->n != ast->nfields) {
        cn_buf_free(&skel);
        memset(pl, 0, sizeof *pl);
        return false;
    }
    pl->off[pl->n] = (uint32_t)skel.len;
    pl->skel = skel.p;
    pl->skel_len = skel.len;
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

/* n bytes from s to d (n >= 4; both hold n): word copies, no call (the
 * keys are short). */
static inline void copy_key(uint8_t *d, const uint8_t *s, size_t n)
{
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8)
            cn_st64(d + i, cn_ld64(s + i));
        cn_st64(d + n - 8, cn_ld64(s + n - 8));
    } else {
        cn_st32(d, cn_ld32(s));
        cn_st32(d + n - 4, cn_ld32(s + n - 4));
    }
}

void mq__plan_pack(const mq__plan_t *pl, const qry_row_t *row, cn_buf_t *out)
{
    qry_val_t v[MQ__PLAN_MAX];
    size_t need = 5 + pl->skel_len + pl->n * 13;
    /* an unbound slot reads NULL, as put_bare_outputs reads it */
    qry_row_slots(row, pl->slot, pl->n, v);
    for (uint32_t i = 0; i < pl->n; i++)
        if (v[i].t == QRY_V_STR)
            need += v[i].u.s.len;
    if (out->cap - out->len < need)
        cn_buf_reserve(out, need);
    uint8_t *w = out->p + out->len;
    *w++ = PK_VERSION;
    cn_st32(w, pl->n);
    w += 4;
    for (uint32_t i = 0; i < pl->n; i++) {
        uint32_t kl = pl->off[i + 1] - pl->off[i]; /* >= 4 + 3: length, "", ':' */
        copy_key(w, pl->skel + pl->off[i], kl);
        w += kl;
        w = put_val(w, &v[i]);
    }
    out->len = (size_t)(w - out->p);
}
