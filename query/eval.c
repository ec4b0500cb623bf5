/* SPDX-License-Identifier: MIT */
/*
 * eval.c - compiling a rule into a row program and running it (eval.h).
 *
 * A program is a flat array of instructions for a small value stack,
 * emitted in postfix order from the tree once, at compile time: names are
 * resolved to slots of a shared symbol table (or to message metadata),
 * functions to table indices, regexes compiled, literals turned into
 * constants.  Running a program touches no strings by name: binding a
 * message (qry_row_bind) hashes each of its field and tag names once into
 * the slot array, for every rule compiled against the same table.
 *
 * NOTES
 * 1. Code layout: [WHERE code][output 0 code][output 1 code]...; each
 *    section leaves exactly one value on the stack.  A '*' output has an
 *    empty section and expands at run time.
 * 2. AND and OR short-circuit: OP_AND_JF jumps past the right operand and
 *    its OP_AND when the left value is FALSE (leaving it as the result),
 *    OP_OR_JT likewise for TRUE.  A NULL left value does not jump: SQL
 *    needs the right operand (NULL AND FALSE is FALSE).
 * 3. The stack depth each section needs is computed at compile time
 *    (max_stack); qry_prog_run grows the row's stack before running, so
 *    the interpreter never checks bounds.
 * 4. Slots are valid for the current bind only: slot_gen[i] == gen.  The
 *    generation wraps after 2^32 binds; slot_gen is cleared then.
 * 5. Fast paths, for the rules a deployment has by the hundred: a WHERE
 *    compiled to exactly [SLOT][CONST][BIN cmp] (or CONST first) is also
 *    kept as fw_slot fw_op fw_const, and qry_prog_run compares the bound
 *    value with the constant directly when the pair is one compare()
 *    accepts without error (numbers, strings, booleans under = / !=).
 *    Anything else (missing name, type error) runs the program, so
 *    verdicts, errors and messages are the interpreter's.  An output that
 *    is one OP_SLOT (slot1) is read without the interpreter, and
 *    qry_row_json renders such an output's JSON text once per bind
 *    (memo sj), shared by every rule that outputs the same name; template
 *    text of a slot likewise (memo stx).  A program whose outputs are all
 *    bare names, or a lone '*', has an output signature (sig1, interned in
 *    the table's sigs): its outputs cannot fail and depend on the row
 *    alone, so a passing run leaves them to be filled in by the first
 *    reader (pend), and programs of one signature share one JSON text per
 *    bind (memo jc).
 * 6. Binding by shape.  A device sends the same names in the same order
 *    message after message, so a row remembers the tag and field names of
 *    its last bind in order with their slots (bn, bnames): the j-th name
 *    of a message is compared with the remembered j-th name (its length,
 *    from the decoder when the message carries name_lens, else strlen;
 *    then word loads of the equal lengths, no call) and, when equal, takes its
 *    slot without hashing; only a name that differs is looked up, and the
 *    names remembered from it on are replaced by the new message's.  A
 *    missing, added, renamed or reordered name therefore rebinds exactly
 *    from where it differs, a changed type is read from the message every
 *    time (only the name-to-slot map is kept), and a change of the rule
 *    set makes a new symbol table and row, so nothing stale survives it.
 *    Unused names (no slot) cost the comparison only.  Measured with
 *    callgrind on rules_bench --size small --rules 10 (one tag and ten
 *    fields per message): qry_row_bind 1,321 -> 855 instructions a message.
 * 7. A slot bound from a tag (ctag_gen[i] == gen) holds the tag's value, a
 *    NUL-terminated string that lives as long as the message, so
 *    qry_row_slot_text hands it out as it is instead of copying it into
 *    the per-bind memo (the Kafka key "${device_id}" of every passing rule
 *    takes this path).
 * 8. Binding by block.  Decoders copy a message's field names one after
 *    the other into their arena, each with its NUL, so the names usually
 *    tile one block of memory.  When a per-name bind (NOTES 6) finds them
 *    so, the row keeps a copy of the block and each field's slot (fb,
 *    fb_slot, fb_n).  A later message with as many fields, whose names
 *    (by the decoder's name_lens) tile a block again, binds each field
 *    from the remembered slot while checking the tiling, and then
 *    compares its block with the kept one in one memcmp: equal bytes with
 *    the NULs at the same places are the same names in the same order.
 *    Anything else (another count, a name elsewhere, other bytes; no
 *    name_lens) binds name by name from scratch under a new generation,
 *    so what the block loop set is forgotten.  The fields go before the
 *    tags on this path, and a tag then leaves a slot a field has bound,
 *    which is what binding the field after the tag (overriding it) gives.
 *    Types are read from every message.  A field whose name has no slot
 *    is bound to the spare slot nslots (the arrays have one more entry),
 *    which no reader looks at, rather than skipped by a branch.
 *    cachegrind on rules_bench --size
 *    small --rules 10 (a tag and ten fields), per message: qry_row_bind
 *    with its name compares and the memos' start 697 -> 398 instructions
 *    (the block loop 287, the tags 90, memcmp 21), conditional
 *    mispredicts 14 -> 3.
 */
#include "eval_int.h"
#include "parse_int.h"
#include "rx.h"

#include <assert.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>

/* ------------------------------------------------------------ symbol table */

int qry_symtab_new(qry_symtab_t **out)
{
    qry_symtab_t *st = cn_calloc(1, sizeof *st);
    st->tcap = 64;
    st->tab = cn_calloc(st->tcap, sizeof *st->tab);
    *out = st;
    return 0;
}

void qry_symtab_free(qry_symtab_t *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++)
        cn_free(st->names[i]);
    cn_free(st->names);
    cn_free(st->tab);
    qry_symtab_free(st->sigs);
    cn_free(st);
}

size_t qry_symtab_count(const qry_symtab_t *st)
{
    return st->n;
}

static int sym_find(const qry_symtab_t *st, const char *name, size_t len)
{
    size_t mask = st->tcap - 1, i = cn_hash64(name, len) & mask;
    for (;; i = (i + 1) & mask) {
        uint32_t e = st->tab[i];
        if (!e)
            return -1;
        const char *s = st->names[e - 1];
        if (strncmp(s, name, len) == 0 && s[len] == 0)
            return (int)(e - 1);
    }
}

static void sym_insert(qry_symtab_t *st, uint32_t id)
{
    const char *s = st->names[id];
    size_t mask = st->tcap - 1, i = cn_hash64(s, strlen(s)) & mask;
    while (st->tab[i])
        i = (i + 1) & mask;
    st->tab[i] = id + 1;
}

uint32_t qry_symtab_add(qry_symtab_t *st, const char *name)
{
    int id = sym_find(st, name, strlen(name));
    if (id >= 0)
        return (uint32_t)id;
    if (st->n == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 16;
        st->names = cn_realloc(st->names, st->cap * sizeof *st->names);
    }
    st->names[st->n] = cn_strndup(name, strlen(name));
    if ((st->n + 1) * 2 > st->tcap) {
        cn_free(st->tab);
        st->tcap *= 2;
        st->tab = cn_calloc(st->tcap, sizeof *st->tab);
        for (uint32_t k = 0; k < st->n; k++)
            sym_insert(st, k);
    }
    sym_insert(st, (uint32_t)st->n);
    return (uint32_t)st->n++;
}

/* ------------------------------------------------------------------ program */

typedef struct comp {
    qry_prog_t *p;
    qry_symtab_t *st;
    qry_error_t *err;
    const qry_rule_t *rule; /* its source text gives error positions */
    uint32_t depth, max;
} comp_t;

static int comp_fail(comp_t *c, uint32_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int comp_fail(comp_t *c, uint32_t off, const char *fmt, ...)
{
    if (!c->err)
        return CN_EINVAL;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    qry__error_at(c->err, c->rule->src, c->rule->src_len, off, "%s", what);
    qry__error_rename(c->err, "error in rule: ");
    return CN_EINVAL;
}

static uint32_t emit(comp_t *c, uint16_t op, uint16_t aux, uint32_t a, uint32_t n, int push)
{
    qry_prog_t *p = c->p;
    if (p->ncode == p->code_cap) {
        p->code_cap = p->code_cap ? p->code_cap * 2 : 32;
        p->code = cn_realloc(p->code, p->code_cap * sizeof *p->code);
    }
    p->code[p->ncode] = (ins_t){.op = op, .aux = aux, .a = a, .n = n};
    c->depth = (uint32_t)((int)c->depth + push);
    if (c->depth > c->max)
        c->max = c->depth;
    return (uint32_t)p->ncode++;
}

static uint32_t add_const(comp_t *c, qry_val_t v)
{
    qry_prog_t *p = c->p;
    if (p->nconsts == p->consts_cap) {
        p->consts_cap = p->consts_cap ? p->consts_cap * 2 : 8;
        p->consts = cn_realloc(p->consts, p->consts_cap * sizeof *p->consts);
    }
    if (v.t == QRY_V_STR)
        v.u.s.p = qry__arena_strndup(p->arena, v.u.s.p, v.u.s.len);
    p->consts[p->nconsts] = v;
    return (uint32_t)p->nconsts++;
}

static int comp_expr(comp_t *c, const qry_expr_t *e);

/* Names with a meaning of their own (eval.h). */
static int comp_var(comp_t *c, const qry_expr_t *e)
{
    static const struct {
        const char *name;
        uint16_t op;
    } meta[] = {{"topic", OP_TOPIC},    {"clientid", OP_CLIENTID}, {"username", OP_USERNAME},
                {"qos", OP_QOS},        {"timestamp", OP_TS},      {"time", OP_TS},
                {"payload", OP_PAYLOAD}};
    const char *name = e->u.var.name;
    if (e->u.var.type != QRY_VT_NONE)
        return comp_fail(c, e->off, "'::' casts are not supported in rules");
    for (size_t i = 0; i < CN_ARRAY_LEN(meta); i++) {
        if (strcmp(name, meta[i].name) == 0) {
            emit(c, meta[i].op, 0, 0, 0, 1);
            return 0;
        }
    }
    if (strncmp(name, "payload.", 8) == 0 && name[8])
        name += 8;
    emit(c, OP_SLOT, 0, qry_symtab_add(c->st, name), 0, 1);
    return 0;
}

static int comp_call(comp_t *c, const qry_expr_t *e)
{
    uint32_t idx;
    const qry__fn_def_t *f = qry__fn_find(e->u.call.name, &idx);
    if (!f) {
        if (qry__fn_is_aggregate(e->u.call.name))
            return comp_fail(c, e->off, "aggregate function %s() is not allowed in a rule",
                             e->u.call.name);
        return comp_fail(c, e->off, "undefined function %s()", e->u.call.name);
    }
    size_t n = e->u.call.nargs;
    if (n < f->min_args || (f->max_args != 255 && n > f->max_args)) {
        if (f->min_args == f->max_args)
            return comp_fail(c, e->off, "invalid number of arguments for %s, expected %u, got %zu",
                             f->name, f->min_args, n);
        return comp_fail(c, e->off,
                         "invalid number of arguments for %s, expected at least %u, got %zu",
                         f->name, f->min_args, n);
    }
    for (size_t i = 0; i < n; i++)
        QRY__TRY(comp_expr(c, e->u.call.args[i]));
    emit(c, OP_CALL, 0, idx, (uint32_t)n, 1 - (int)n);
    c->p->calls = true;
    return 0;
}

static int comp_regex(comp_t *c, const qry_expr_t *e)
{
    const qry_expr_t *re = e->u.bin.rhs;
    if (re->kind != QRY_EXPR_REGEX)
        return comp_fail(c, re->off, "%s needs a regex literal on its right",
                         qry_op_str(e->u.bin.op));
    QRY__TRY(comp_expr(c, e->u.bin.lhs));
    qry_prog_t *p = c->p;
    if (p->nres == p->res_cap) {
        p->res_cap = p->res_cap ? p->res_cap * 2 : 4;
        p->res = cn_realloc(p->res, p->res_cap * sizeof *p->res);
    }
    const char *why;
    if (qry_regcomp(&p->res[p->nres], re->u.s, &why) < 0)
        return comp_fail(c, re->off, "invalid regex: %s", why);
    emit(c, OP_REGEX, e->u.bin.op == QRY_OP_NEQREGEX, (uint32_t)p->nres++, 0, 0);
    return 0;
}

static int comp_binary(comp_t *c, const qry_expr_t *e)
{
    qry_op_t op = e->u.bin.op;
    if (op == QRY_OP_EQREGEX || op == QRY_OP_NEQREGEX)
        return comp_regex(c, e);
    QRY__TRY(comp_expr(c, e->u.bin.lhs));
    if (op == QRY_OP_AND || op == QRY_OP_OR) {
        uint32_t j = emit(c, op == QRY_OP_AND ? OP_AND_JF : OP_OR_JT, 0, 0, 0, 0);
        QRY__TRY(comp_expr(c, e->u.bin.rhs));
        emit(c, op == QRY_OP_AND ? OP_AND : OP_OR, 0, 0, 0, -1);
        c->p->code[j].a = (uint32_t)c->p->ncode;
        return 0;
    }
    if (op == QRY_OP_IN || op == QRY_OP_NOTIN) {
        const qry_expr_t *l = e->u.bin.rhs;
        for (size_t i = 0; i < l->u.list.n; i++)
            QRY__TRY(comp_expr(c, l->u.list.items[i]));
        emit(c, OP_IN, op == QRY_OP_NOTIN, 0, (uint32_t)l->u.list.n, -(int)l->u.list.n);
        return 0;
    }
    QRY__TRY(comp_expr(c, e->u.bin.rhs));
    emit(c, OP_BIN, (uint16_t)op, 0, 0, -1);
    return 0;
}

static int comp_const(comp_t *c, qry_val_t v)
{
    emit(c, OP_CONST, 0, add_const(c, v), 0, 1);
    return 0;
}

static int comp_expr(comp_t *c, const qry_expr_t *e)
{
    qry_val_t v = {0};
    switch (e->kind) {
    case QRY_EXPR_BINARY:
        return comp_binary(c, e);
    case QRY_EXPR_UNARY:
        QRY__TRY(comp_expr(c, e->u.unary.operand));
        if (e->u.unary.op == QRY_OP_NEG)
            emit(c, OP_NEG, 0, 0, 0, 0);
        else if (e->u.unary.op == QRY_OP_NOT)
            emit(c, OP_NOT, 0, 0, 0, 0);
        else
            emit(c, OP_ISNULL, e->u.unary.op == QRY_OP_ISNOTNULL, 0, 0, 0);
        return 0;
    case QRY_EXPR_CALL:
        return comp_call(c, e);
    case QRY_EXPR_VAR:
        return comp_var(c, e);
    case QRY_EXPR_INTEGER:
    case QRY_EXPR_DURATION:
    case QRY_EXPR_TIME:
        v.t = QRY_V_INT;
        v.u.i = e->u.i;
        return comp_const(c, v);
    case QRY_EXPR_NUMBER:
        v.t = QRY_V_FLOAT;
        v.u.f = e->u.f;
        return comp_const(c, v);
    case QRY_EXPR_STRING:
        v.t = QRY_V_STR;
        v.u.s.p = e->u.s;
        v.u.s.len = strlen(e->u.s);
        return comp_const(c, v);
    case QRY_EXPR_BOOL:
        v.t = QRY_V_BOOL;
        v.u.b = e->u.b;
        return comp_const(c, v);
    case QRY_EXPR_WILDCARD:
        return comp_fail(c, e->off, "* is only allowed as a whole output");
    case QRY_EXPR_REGEX:
        return comp_fail(c, e->off, "a regex is only allowed right of =~ or !~");
    case QRY_EXPR_PARAM:
        return comp_fail(c, e->off, "bind parameters are not supported in rules");
    case QRY_EXPR_LIST:
        return comp_fail(c, e->off, "a list is only allowed right of IN");
    }
    return comp_fail(c, e->off, "unsupported expression");
}

/* An output without AS: a name's spelling, else the expression's text. */
static const char *out_name(comp_t *c, const qry_field_t *f)
{
    if (f->alias)
        return qry__arena_strndup(c->p->arena, f->alias, strlen(f->alias));
    if (f->expr->kind == QRY_EXPR_VAR)
        return qry__arena_strndup(c->p->arena, f->expr->u.var.name, strlen(f->expr->u.var.name));
    cn_buf_t b;
    cn_buf_init(&b);
    qry_print_expr(f->expr, &b);
    const char *s = qry__arena_strndup(c->p->arena, (const char *)b.p, b.len);
    cn_buf_free(&b);
    return s;
}

void qry_prog_free(qry_prog_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nres; i++)
        regfree(&p->res[i]);
    cn_free(p->res);
    cn_free(p->code);
    cn_free(p->consts);
    cn_free(p->outs);
    qry__arena_free(p->arena);
    cn_free(p);
}

static int compile_outputs(comp_t *c, const qry_rule_t *rule)
{
    qry_prog_t *p = c->p;
    p->outs = cn_calloc(rule->nfields, sizeof *p->outs);
    p->nouts = rule->nfields;
    for (size_t i = 0; i < rule->nfields; i++) {
        const qry_field_t *f = &rule->fields[i];
        out_def_t *o = &p->outs[i];
        o->start = (uint32_t)p->ncode;
        if (f->expr->kind == QRY_EXPR_WILDCARD && !f->alias) {
            if (f->expr->u.wild.type != QRY_VT_NONE)
                return comp_fail(c, f->expr->off, "'::' casts are not supported in rules");
            o->end = o->start;
            continue;
        }
        c->depth = 0;
        QRY__TRY(comp_expr(c, f->expr));
        o->end = (uint32_t)p->ncode;
        if (o->end == o->start + 1 && p->code[o->start].op == OP_SLOT)
            o->slot1 = p->code[o->start].a + 1;
        o->name = out_name(c, f);
        cn_buf_t k;
        cn_buf_init(&k);
        qry_json_put_str(&k, o->name, strlen(o->name));
        cn_buf_put_u8(&k, ':');
        o->jkey = qry__arena_strndup(c->p->arena, (const char *)k.p, k.len);
        o->jkey_len = (uint32_t)k.len;
        cn_buf_free(&k);
    }
    return 0;
}

/* NOTES 5: a WHERE of one comparison between a name and a constant. */
static void find_fast_where(qry_prog_t *p)
{
    const ins_t *c = p->code;
    if (p->where_end != 3 || c[2].op != OP_BIN)
        return;
    qry_op_t op = (qry_op_t)c[2].aux;
    if (op < QRY_OP_EQ || op > QRY_OP_GTE)
        return;
    uint32_t slot, k;
    if (c[0].op == OP_SLOT && c[1].op == OP_CONST) {
        slot = c[0].a;
        k = c[1].a;
    } else if (c[0].op == OP_CONST && c[1].op == OP_SLOT) {
        /* k op x is x op' k with the order turned round */
        slot = c[1].a;
        k = c[0].a;
        op = op == QRY_OP_LT    ? QRY_OP_GT
             : op == QRY_OP_LTE ? QRY_OP_GTE
             : op == QRY_OP_GT  ? QRY_OP_LT
             : op == QRY_OP_GTE ? QRY_OP_LTE
                                : op;
    } else {
        return;
    }
    if (p->consts[k].t == QRY_V_NULL)
        return;
    p->fw = true;
    p->fw_op = op;
    /* the verdict for each result of compare(): -1, 0, 1, 2 (unordered) */
    bool lt = op == QRY_OP_LT || op == QRY_OP_LTE || op == QRY_OP_NEQ;
    bool eq = op == QRY_OP_EQ || op == QRY_OP_LTE || op == QRY_OP_GTE;
    bool gt = op == QRY_OP_GT || op == QRY_OP_GTE || op == QRY_OP_NEQ;
    bool un = op == QRY_OP_NEQ;
    p->fw_mask = (uint8_t)(lt | eq << 1 | gt << 2 | un << 3);
    p->fw_slot = slot;
    p->fw_const = p->consts[k];
    const qry_val_t *kv = &p->consts[k];
    if (kv->t == QRY_V_FLOAT) {
        p->fw_kf = true;
        p->fw_f = kv->u.f;
    } else if (kv->t == QRY_V_INT && kv->u.i >= -(INT64_C(1) << 53) &&
               kv->u.i <= (INT64_C(1) << 53)) {
        p->fw_kf = true; /* exact as a double: a float compares with it exactly */
        p->fw_f = (double)kv->u.i;
    }
}

int qry_prog_output_index(const qry_prog_t *p, const char *name, size_t len, uint32_t *slot1)
{
    *slot1 = 0;
    if (!p->distinct)
        return -2;
    for (size_t i = 0; i < p->nouts; i++) {
        if (strncmp(p->outs[i].name, name, len) == 0 && p->outs[i].name[len] == 0) {
            *slot1 = p->outs[i].slot1;
            return (int)i;
        }
    }
    return -1;
}

/* NOTES 5: names the output list when its JSON depends on the row alone:
 * every output a bare name (distinct), or a lone '*'. */
static void find_sig(qry_prog_t *p, qry_symtab_t *st)
{
    cn_buf_t b;
    cn_buf_init(&b);
    if (p->nouts == 1 && !p->outs[0].name) {
        cn_buf_put_u8(&b, '*');
    } else if (p->distinct) {
        for (size_t i = 0; i < p->nouts; i++) {
            const out_def_t *o = &p->outs[i];
            if (!o->slot1) {
                cn_buf_free(&b);
                return;
            }
            char tmp[16];
            int k = snprintf(tmp, sizeof tmp, "%u", o->slot1);
            cn_buf_put(&b, tmp, (size_t)k);
            cn_buf_put_u8(&b, ' ');
            cn_buf_put(&b, o->jkey, o->jkey_len); /* ends with ':', a JSON string before it */
        }
    } else {
        return;
    }
    cn_buf_put_u8(&b, 0);
    if (!st->sigs)
        qry_symtab_new(&st->sigs);
    p->sig1 = qry_symtab_add(st->sigs, (const char *)b.p) + 1;
    cn_buf_free(&b);
}

int qry_prog_compile(const qry_rule_t *rule, qry_symtab_t *st, qry_prog_t **out, qry_error_t *err)
{
    *out = NULL;
    qry_prog_t *p = cn_calloc(1, sizeof *p);
    p->st = st;
    p->arena = qry__arena_new();
    comp_t c = {.p = p, .st = st, .err = err, .rule = rule};
    int rc = 0;
    if (rule->cond) {
        rc = comp_expr(&c, rule->cond);
        p->where_end = p->ncode;
        p->has_where = true;
    }
    if (rc == 0)
        rc = compile_outputs(&c, rule);
    if (rc < 0) {
        qry_prog_free(p);
        return rc;
    }
    p->max_stack = c.max + 1;
    find_fast_where(p);
    p->distinct = true;
    for (size_t i = 0; i < p->nouts; i++)
        for (size_t j = 0; j <= i && p->distinct; j++)
            p->distinct = p->outs[i].name && (j == i || strcmp(p->outs[i].name, p->outs[j].name));
    find_sig(p, st);
    *out = p;
    return 0;
}

bool qry_prog_has_where(const qry_prog_t *p)
{
    return p->has_where;
}

/* ---------------------------------------------------------------------- row */

int qry_row_new(const qry_symtab_t *st, qry_row_t **out)
{
    qry_row_t *r = cn_calloc(1, sizeof *r);
    r->st = st;
    r->nslots = st->n;
    /* + 1: the spare slot nslots (NOTES 8) */
    r->slot_gen = cn_calloc(r->nslots + 1, sizeof *r->slot_gen);
    r->ctag_gen = cn_calloc(r->nslots + 1, sizeof *r->ctag_gen);
    r->slot_val = cn_calloc(r->nslots + 1, sizeof *r->slot_val);
    qry__memo_init(&r->sj, r->nslots);
    qry__memo_init(&r->stx, r->nslots);
    qry__memo_init(&r->jc, st->sigs ? st->sigs->n : 0);
    cn_buf_init(&r->jtmp);
    cn_buf_init(&r->bnames);
    cn_buf_init(&r->fb);
    qry_jdoc_new(&r->pdoc);
    qry_jdoc_new(&r->adoc);
    qry_jdoc_new(&r->scratch);
    *out = r;
    return 0;
}

void qry_row_free(qry_row_t *r)
{
    if (!r)
        return;
    cn_free(r->slot_gen);
    cn_free(r->ctag_gen);
    cn_free(r->slot_val);
    cn_free(r->bn);
    cn_buf_free(&r->bnames);
    cn_buf_free(&r->fb);
    cn_free(r->fb_slot);
    qry__memo_free(&r->sj);
    qry__memo_free(&r->stx);
    qry__memo_free(&r->jc);
    cn_buf_free(&r->jtmp);
    cn_free(r->stack);
    cn_free(r->outs);
    cn_free(r->lvl_off);
    cn_free(r->lvl_len);
    qry_jdoc_free(r->pdoc);
    qry_jdoc_free(r->adoc);
    qry_jdoc_free(r->scratch);
    cn_free(r);
}

/* The slot of the j-th name of the message (tags first, then fields), len
 * bytes, when it is not the remembered j-th name: looked up, and
 * remembered from j on (NOTES 6). */
static __attribute__((noinline)) int rebind_name(qry_row_t *r, size_t j, const char *name,
                                                 size_t len)
{
    int id = sym_find(r->st, name, len);
    if (id >= 0 && (size_t)id >= r->nslots)
        id = -1;
    if (j < r->nbn) { /* another schema from here on: forget the rest */
        r->bnames.len = r->bn[j].off;
        r->nbn = j;
    }
    if (j == r->nbn && len <= UINT32_MAX && r->bnames.len + len <= UINT32_MAX) {
        if (r->nbn == r->bn_cap) {
            r->bn_cap = r->bn_cap ? r->bn_cap * 2 : 16;
            r->bn = cn_realloc(r->bn, r->bn_cap * sizeof *r->bn);
        }
        r->bn[r->nbn++] = (struct qry__bname){(uint32_t)r->bnames.len, (uint32_t)len, id};
        cn_buf_put(&r->bnames, name, len);
    }
    return id;
}

/* The slot of the j-th name: the remembered one when the name is the same
 * as in the last binds, else looked up. */
static inline __attribute__((always_inline)) int name_slot(qry_row_t *r, size_t j,
                                                           const char *name, size_t len)
{
    if (j < r->nbn) {
        const struct qry__bname *b = &r->bn[j];
        if (b->len == len && cn_eq_short(r->bnames.p + b->off, name, len))
            return b->slot;
    }
    return rebind_name(r, j, name, len);
}

/* Starts a bind of m: a new generation (slots, tags and memos of the last
 * one read as unset). */
static inline void bind_begin(qry_row_t *r, const qry_msg_t *m)
{
    r->m = m;
    if (++r->gen == 0) {
        memset(r->slot_gen, 0, r->nslots * sizeof *r->slot_gen);
        memset(r->ctag_gen, 0, r->nslots * sizeof *r->ctag_gen);
        r->gen = 1;
    }
    qry__memo_bind(&r->sj, r->gen);
    qry__memo_bind(&r->stx, r->gen);
    qry__memo_bind(&r->jc, r->gen);
    r->last = NULL;
    r->pend = NULL;
    r->lvl_done = false;
    r->pdone = false;
    r->nouts = 0;
}

/* The tags of m; after: the fields are bound already (NOTES 8), and a tag
 * leaves a field of its name as it is, as a field bound after it replaces
 * it. */
static void bind_tags(qry_row_t *r, const qry_msg_t *m, bool after)
{
    uint32_t gen = r->gen;
    for (uint32_t i = 0; i < m->ntags; i++) {
        int id = name_slot(r, i, m->tags[i].key, strlen(m->tags[i].key));
        if (id < 0 || (after && r->slot_gen[id] == gen))
            continue;
        qry_val_t *v = &r->slot_val[id];
        v->t = QRY_V_STR;
        v->u.s.p = m->tags[i].val;
        v->u.s.len = strlen(m->tags[i].val);
        r->slot_gen[id] = gen;
        r->ctag_gen[id] = gen; /* NOTES 7 */
    }
}

/* Binds field f to slot id (>= 0) for generation gen (sv, sg, ctg: the
 * row's slot_val, slot_gen, ctag_gen; ctg NULL: no tag is bound yet): a
 * field without a value (ENG_T_NONE) stays unbound; a field wins over a
 * tag of its name.  A
 * float or an integer, nearly every field, takes one branch: eng's FLOAT
 * (1) and INT (2) are QRY_V_FLOAT (3) and QRY_V_INT (2) as 4 - type, and
 * their 8 bytes are copied as they are. */
static inline __attribute__((always_inline)) void
bind_field(qry_val_t *sv, uint32_t *sg, uint32_t *ctg, uint32_t gen, int id, const eng_field_t *f)
{
    if (ctg && sg[id] == gen) /* names are distinct: a tag's, which the field overrides */
        ctg[id] = 0;
    _Static_assert(ENG_T_FLOAT == 1 && ENG_T_INT == 2 && QRY_V_FLOAT == 3 && QRY_V_INT == 2,
                   "bind_field maps the numeric types as 4 - type");
    qry_val_t *v = &sv[id];
    unsigned t = f->type;
    if (t - 1u < 2u) {
        v->t = (qry_vkind_t)(4 - t);
        v->u.i = f->v.i; /* the double's bits too: both are 8 bytes */
    } else if (t == ENG_T_BOOL) {
        v->t = QRY_V_BOOL, v->u.b = f->v.b != 0;
    } else if (t == ENG_T_STRING) {
        v->t = QRY_V_STR, v->u.s.p = f->v.s.p, v->u.s.len = f->v.s.len;
    } else {
        return;
    }
    sg[id] = gen;
}

/* The fields of m name by name (NOTES 6); remembers their slots, and their
 * names when they lie in one block (NOTES 8). */
static void bind_fields_named(qry_row_t *r, const qry_msg_t *m)
{
    uint32_t gen = r->gen, nf = m->nfields;
    const eng_field_t *f = m->fields;
    const uint32_t *nl = m->name_lens;
    if (nl && r->fb_cap < nf) {
        r->fb_cap = nf;
        r->fb_slot = cn_realloc(r->fb_slot, nf * sizeof *r->fb_slot);
    }
    r->fb_n = 0;
    for (uint32_t i = 0; i < nf; i++, f++) {
        assert(!nl || nl[i] == strlen(f->name));
        int id = name_slot(r, m->ntags + i, f->name, nl ? nl[i] : strlen(f->name));
        if (nl) /* a name without a slot binds the spare slot nslots (NOTES 8) */
            r->fb_slot[i] = id >= 0 ? id : (int32_t)r->nslots;
        if (id >= 0)
            bind_field(r->slot_val, r->slot_gen, r->ctag_gen, gen, id, f);
    }
    if (!nl || nf == 0)
        return;
    /* one block: each name (and its NUL) right after the one before */
    uintptr_t p = (uintptr_t)m->fields[0].name;
    for (uint32_t i = 0; i < nf; i++) {
        if ((uintptr_t)m->fields[i].name != p)
            return;
        p += (uintptr_t)nl[i] + 1;
    }
    size_t len = (size_t)(p - (uintptr_t)m->fields[0].name);
    if (len > UINT32_MAX)
        return;
    r->fb.len = 0;
    cn_buf_put(&r->fb, m->fields[0].name, len);
    r->fb_n = nf;
}

/* NOTES 8: binds the fields of m, before its tags, from the remembered
 * slots when their names are the remembered block: 1 done, 0 not tried
 * (nothing bound), -1 tried and not the same block (slots of this
 * generation may have been set: the caller starts again). */
static int bind_fields_block(qry_row_t *r, const qry_msg_t *m)
{
    uint32_t nf = m->nfields;
    const uint32_t *nl = m->name_lens;
    if (nf != r->fb_n || nf == 0 || !nl)
        return 0;
    uint32_t gen = r->gen, *sg = r->slot_gen;
    qry_val_t *sv = r->slot_val;
    const eng_field_t *f = m->fields;
    const int32_t *slot = r->fb_slot;
    uintptr_t p0 = (uintptr_t)f->name, p = p0;
    for (uint32_t i = 0; i < nf; i++, f++) {
        if ((uintptr_t)f->name != p)
            return -1;
        p += (uintptr_t)nl[i] + 1;
        bind_field(sv, sg, NULL, gen, slot[i], f);
    }
    /* the names tile [p0, p): that block equal to the remembered one is
     * the same names in the same order */
    if (p - p0 != r->fb.len || memcmp((const void *)p0, r->fb.p, r->fb.len) != 0)
        return -1;
    return 1;
}

void qry_row_bind(qry_row_t *r, const qry_msg_t *m)
{
    bind_begin(r, m);
    if (r->nslots == 0)
        return;
    int rc = bind_fields_block(r, m);
    if (rc > 0) {
        bind_tags(r, m, true);
        return;
    }
    if (rc < 0) /* not the remembered names: forget what the block bound */
        bind_begin(r, m);
    bind_tags(r, m, false);
    bind_fields_named(r, m);
}

void qry__row_levels(qry_row_t *r)
{
    if (r->lvl_done)
        return;
    r->lvl_done = true;
    r->nlvl = 0;
    const char *t = r->m->topic;
    size_t n = r->m->topic_len, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && t[i] != '/')
            continue;
        if (r->nlvl == r->lvl_cap) {
            r->lvl_cap = r->lvl_cap ? r->lvl_cap * 2 : 16;
            r->lvl_off = cn_realloc(r->lvl_off, r->lvl_cap * sizeof *r->lvl_off);
            r->lvl_len = cn_realloc(r->lvl_len, r->lvl_cap * sizeof *r->lvl_len);
        }
        r->lvl_off[r->nlvl] = (uint32_t)start;
        r->lvl_len[r->nlvl++] = (uint32_t)(i - start);
        start = i + 1;
    }
}

int qry__eval_fail(qry_row_t *r, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    return code;
}

void *qry__scratch(qry_row_t *r, size_t n)
{
    return qry__jdoc_alloc(r->scratch, n);
}

qry_val_t qry__str_copy(qry_row_t *r, const char *p, size_t n)
{
    qry_val_t v = {.t = QRY_V_STR};
    char *d = qry__scratch(r, n + 1);
    if (n)
        memcpy(d, p, n);
    d[n] = 0;
    v.u.s.p = d;
    v.u.s.len = n;
    return v;
}

bool qry_row_slot(const qry_row_t *r, uint32_t slot, qry_val_t *out)
{
    if (slot >= r->nslots || r->slot_gen[slot] != r->gen)
        return false;
    *out = r->slot_val[slot];
    return true;
}

void qry_row_view(const qry_row_t *r, qry_row_view_t *out)
{
    out->val = r->slot_val;
    out->bound = r->slot_gen;
    out->tag = r->ctag_gen;
    out->gen = r->gen;
    out->n = (uint32_t)r->nslots;
}

const char *qry_row_error(const qry_row_t *r)
{
    return r->err;
}
