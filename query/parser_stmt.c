/* SPDX-License-Identifier: MIT */
/*
 * parser_stmt.c - the InfluxQL statements other than SELECT:
 *
 *   SHOW DATABASES
 *   SHOW MEASUREMENTS [ON db] [WITH MEASUREMENT (= m | =~ /re/)] [WHERE] [LIMIT] [OFFSET]
 *   SHOW TAG KEYS [ON db] [FROM ...] [WHERE] [LIMIT] [OFFSET]
 *   SHOW TAG VALUES [ON db] [FROM ...] WITH KEY (= k | != k | =~ /re/ | !~ /re/ | IN (k, ...))
 *        [WHERE] [LIMIT] [OFFSET]
 *   SHOW FIELD KEYS [ON db] [FROM ...] [LIMIT] [OFFSET]
 *   SHOW SERIES [ON db] [FROM ...] [WHERE] [LIMIT] [OFFSET]
 *   SHOW SERIES [EXACT] CARDINALITY [ON db] [FROM ...] [WHERE] [GROUP BY tag, ...]
 *        [LIMIT] [OFFSET]
 *   SHOW MEASUREMENT [EXACT] CARDINALITY [ON db] [FROM ...] [WHERE] [LIMIT] [OFFSET]
 *   SHOW TAG KEY [EXACT] CARDINALITY, SHOW TAG VALUES [EXACT] CARDINALITY,
 *   SHOW FIELD KEY [EXACT] CARDINALITY: the clauses of TAG KEYS, TAG VALUES
 *        and FIELD KEYS
 *   SHOW RETENTION POLICIES [ON db]
 *   SHOW QUERIES   and   KILL QUERY qid [ON host]
 *   SHOW CONTINUOUS QUERIES
 *   CREATE CONTINUOUS QUERY name ON db [RESAMPLE [EVERY d] [FOR d]]
 *        BEGIN SELECT ... INTO ... GROUP BY time(...) ... END
 *   DROP CONTINUOUS QUERY name ON db
 *   CREATE DATABASE db [WITH [DURATION d] [REPLICATION n] [SHARD DURATION d] [NAME rp]]
 *   CREATE RETENTION POLICY rp ON db DURATION d REPLICATION n [SHARD DURATION d] [DEFAULT]
 *   ALTER RETENTION POLICY rp ON db option... (DURATION, REPLICATION, SHARD DURATION,
 *        DEFAULT; any order, each at most once, at least one)
 *   DROP DATABASE db | DROP MEASUREMENT m | DROP RETENTION POLICY rp ON db
 *   DROP SERIES [FROM ...] [WHERE]   and   DELETE [FROM ...] [WHERE]  (at least one)
 *
 * Each entry point starts at the statement's first keyword and fills st.
 */
#include "parse_int.h"

/* ------------------------------------------------------------ shared bits */

static int opt_on(qry__parser_t *p, const char **db)
{
    bool hit;
    QRY__TRY(qry__p_accept(p, QRY_TK_ON, &hit));
    return hit ? qry__p_ident(p, db) : 0;
}

static int opt_from(qry__parser_t *p, qry_source_t **src, size_t *n, bool *hit)
{
    QRY__TRY(qry__p_accept(p, QRY_TK_FROM, hit));
    return *hit ? qry__p_sources(p, false, src, n) : 0;
}

static int opt_where(qry__parser_t *p, qry_expr_t **cond, bool *hit)
{
    QRY__TRY(qry__p_accept(p, QRY_TK_WHERE, hit));
    return *hit ? qry__p_condition(p, cond) : 0;
}

static int opt_limits(qry__parser_t *p, qry_show_t *s)
{
    bool hit;
    QRY__TRY(qry__p_accept(p, QRY_TK_LIMIT, &hit));
    if (hit)
        QRY__TRY(qry__p_uint(p, &s->limit));
    QRY__TRY(qry__p_accept(p, QRY_TK_OFFSET, &hit));
    return hit ? qry__p_uint(p, &s->offset) : 0;
}

static qry_ddl_t *new_ddl(qry__parser_t *p, qry_stmt_t *st, qry_stmt_kind_t kind)
{
    st->kind = kind;
    st->u.ddl = qry__arena_alloc(p->arena, sizeof(qry_ddl_t));
    return st->u.ddl;
}

/* ------------------------------------------------------------------- SHOW */

static int with_measurement(qry__parser_t *p, qry_show_t *s)
{
    bool hit;
    QRY__TRY(qry__p_accept(p, QRY_TK_WITH, &hit));
    if (!hit)
        return 0;
    QRY__TRY(qry__p_expect(p, QRY_TK_MEASUREMENT, "MEASUREMENT"));
    if (p->tok.kind != QRY_TK_EQ && p->tok.kind != QRY_TK_EQREGEX)
        return qry__p_expected(p, "=, =~");
    s->with_op = p->tok.kind == QRY_TK_EQ ? QRY_OP_EQ : QRY_OP_EQREGEX;
    QRY__TRY(qry__p_advance(p));
    if (s->with_op == QRY_OP_EQREGEX && p->tok.kind != QRY_TK_SLASH && p->tok.kind != QRY_TK_REGEX)
        return qry__p_expected(p, "regex");
    s->with_meas = qry__arena_alloc(p->arena, sizeof(qry_source_t));
    return qry__p_source(p, false, s->with_meas);
}

static int key_list(qry__parser_t *p, qry_show_t *s)
{
    qry__vec_t v = {.elem = sizeof(const char *)};
    bool more = true;
    QRY__TRY(qry__p_expect(p, QRY_TK_LPAREN, "("));
    while (more) {
        QRY__TRY(qry__p_ident(p, qry__vec_push(p->arena, &v)));
        QRY__TRY(qry__p_accept(p, QRY_TK_COMMA, &more));
    }
    s->keys = v.items;
    s->nkeys = v.n;
    return qry__p_expect(p, QRY_TK_RPAREN, ")");
}

static int with_key(qry__parser_t *p, qry_show_t *s)
{
    static const struct {
        qry__tk_t tk;
        qry_op_t op;
    } ops[] = {{QRY_TK_EQ, QRY_OP_EQ},
               {QRY_TK_NEQ, QRY_OP_NEQ},
               {QRY_TK_EQREGEX, QRY_OP_EQREGEX},
               {QRY_TK_NEQREGEX, QRY_OP_NEQREGEX},
               {QRY_TK_IN, QRY_OP_IN}};
    QRY__TRY(qry__p_expect(p, QRY_TK_WITH, "WITH"));
    QRY__TRY(qry__p_expect(p, QRY_TK_KEY, "KEY"));
    for (size_t i = 0; i < CN_ARRAY_LEN(ops) && s->key_op == QRY_OP_NONE; i++)
        if (p->tok.kind == ops[i].tk)
            s->key_op = ops[i].op;
    if (s->key_op == QRY_OP_NONE)
        return qry__p_expected(p, "=, !=, =~, !~, IN");
    QRY__TRY(qry__p_advance(p));
    if (s->key_op == QRY_OP_IN)
        return key_list(p, s);
    s->keys = qry__arena_alloc(p->arena, sizeof(const char *));
    s->nkeys = 1;
    if (s->key_op == QRY_OP_EQ || s->key_op == QRY_OP_NEQ)
        return qry__p_ident(p, &s->keys[0]);
    if (p->tok.kind != QRY_TK_SLASH && p->tok.kind != QRY_TK_REGEX)
        return qry__p_expected(p, "regex");
    qry_source_t re;
    QRY__TRY(qry__p_source(p, false, &re));
    if (re.kind != QRY_SRC_REGEX || re.rp)
        return qry__p_expected(p, "regex");
    s->keys[0] = re.name;
    return 0;
}

/* SHOW SERIES CARDINALITY's GROUP BY tag, ... */
static int opt_group_tags(qry__parser_t *p, qry_show_t *s)
{
    bool hit, more = true;
    QRY__TRY(qry__p_accept(p, QRY_TK_GROUP, &hit));
    if (!hit)
        return 0;
    QRY__TRY(qry__p_expect(p, QRY_TK_BY, "BY"));
    qry__vec_t v = {.elem = sizeof(const char *)};
    while (more) {
        QRY__TRY(qry__p_ident(p, qry__vec_push(p->arena, &v)));
        QRY__TRY(qry__p_accept(p, QRY_TK_COMMA, &more));
    }
    s->group = v.items;
    s->ngroup = v.n;
    return 0;
}

static int show_rest(qry__parser_t *p, qry_show_t *s)
{
    bool hit;
    QRY__TRY(opt_on(p, &s->db));
    switch (s->kind) {
    case QRY_SHOW_MEASUREMENTS:
        if (s->cardinality)
            QRY__TRY(opt_from(p, &s->sources, &s->nsources, &hit));
        else
            QRY__TRY(with_measurement(p, s));
        QRY__TRY(opt_where(p, &s->cond, &hit));
        return opt_limits(p, s);
    case QRY_SHOW_TAG_KEYS:
    case QRY_SHOW_SERIES:
        QRY__TRY(opt_from(p, &s->sources, &s->nsources, &hit));
        QRY__TRY(opt_where(p, &s->cond, &hit));
        if (s->kind == QRY_SHOW_SERIES && s->cardinality)
            QRY__TRY(opt_group_tags(p, s));
        QRY__TRY(opt_limits(p, s));
        if (s->kind == QRY_SHOW_TAG_KEYS && !s->cardinality) {
            /* SLIMIT / SOFFSET: InfluxDB 1.6.7 takes and ignores them */
            int64_t ignored;
            QRY__TRY(qry__p_accept(p, QRY_TK_SLIMIT, &hit));
            if (hit)
                QRY__TRY(qry__p_uint(p, &ignored));
            QRY__TRY(qry__p_accept(p, QRY_TK_SOFFSET, &hit));
            if (hit)
                QRY__TRY(qry__p_uint(p, &ignored));
        }
        return 0;
    case QRY_SHOW_TAG_VALUES:
        QRY__TRY(opt_from(p, &s->sources, &s->nsources, &hit));
        QRY__TRY(with_key(p, s));
        QRY__TRY(opt_where(p, &s->cond, &hit));
        return opt_limits(p, s);
    case QRY_SHOW_FIELD_KEYS:
        QRY__TRY(opt_from(p, &s->sources, &s->nsources, &hit));
        return opt_limits(p, s);
    default:
        return 0;
    }
}

/* The words after SHOW: one keyword, or two (TAG KEYS, RETENTION POLICIES),
 * then [EXACT] CARDINALITY where a count may be asked for (the singular
 * forms, MEASUREMENT, TAG KEY and FIELD KEY, ask for nothing else). */
static int show_kind(qry__parser_t *p, qry_show_t *s)
{
    enum { NO, MAY, MUST }; /* [EXACT] CARDINALITY */
    static const struct {
        qry__tk_t first, second;
        qry_show_kind_t kind;
        int card;
    } forms[] = {{QRY_TK_CONTINUOUS, QRY_TK_QUERIES, QRY_SHOW_CONTINUOUS_QUERIES, NO},
                 {QRY_TK_DATABASES, QRY_TK_EOF, QRY_SHOW_DATABASES, NO},
                 {QRY_TK_MEASUREMENT, QRY_TK_EOF, QRY_SHOW_MEASUREMENTS, MUST},
                 {QRY_TK_MEASUREMENTS, QRY_TK_EOF, QRY_SHOW_MEASUREMENTS, NO},
                 {QRY_TK_QUERIES, QRY_TK_EOF, QRY_SHOW_QUERIES, NO},
                 {QRY_TK_SERIES, QRY_TK_EOF, QRY_SHOW_SERIES, MAY},
                 {QRY_TK_FIELD, QRY_TK_KEY, QRY_SHOW_FIELD_KEYS, MUST},
                 {QRY_TK_FIELD, QRY_TK_KEYS, QRY_SHOW_FIELD_KEYS, NO},
                 {QRY_TK_RETENTION, QRY_TK_POLICIES, QRY_SHOW_RETENTION_POLICIES, NO},
                 {QRY_TK_TAG, QRY_TK_KEY, QRY_SHOW_TAG_KEYS, MUST},
                 {QRY_TK_TAG, QRY_TK_KEYS, QRY_SHOW_TAG_KEYS, NO},
                 {QRY_TK_TAG, QRY_TK_VALUES, QRY_SHOW_TAG_VALUES, MAY}};
    qry__tk_t first = p->tok.kind;
    size_t i = 0;
    while (i < CN_ARRAY_LEN(forms) && forms[i].first != first)
        i++;
    if (i == CN_ARRAY_LEN(forms))
        return qry__p_expected(
            p, "CONTINUOUS, DATABASES, FIELD, MEASUREMENT, MEASUREMENTS, QUERIES, RETENTION, "
               "SERIES, TAG");
    QRY__TRY(qry__p_advance(p));
    if (forms[i].second != QRY_TK_EOF) {
        while (i < CN_ARRAY_LEN(forms) && forms[i].first == first && p->tok.kind != forms[i].second)
            i++;
        if (i == CN_ARRAY_LEN(forms) || forms[i].first != first) {
            if (first == QRY_TK_TAG)
                return qry__p_expected(p, "KEY, KEYS, VALUES");
            if (first == QRY_TK_CONTINUOUS)
                return qry__p_expected(p, "QUERIES");
            return qry__p_expected(p, first == QRY_TK_FIELD ? "KEY, KEYS" : "POLICIES");
        }
        QRY__TRY(qry__p_advance(p));
    }
    s->kind = forms[i].kind;
    if (forms[i].card == NO)
        return 0;
    QRY__TRY(qry__p_accept(p, QRY_TK_EXACT, &s->exact));
    if (s->exact || forms[i].card == MUST) {
        s->cardinality = true;
        return qry__p_expect(p, QRY_TK_CARDINALITY,
                             s->exact ? "CARDINALITY" : "EXACT, CARDINALITY");
    }
    return qry__p_accept(p, QRY_TK_CARDINALITY, &s->cardinality);
}

int qry__p_show(qry__parser_t *p, qry_stmt_t *st)
{
    qry_show_t *s = qry__arena_alloc(p->arena, sizeof *s);
    st->kind = QRY_STMT_SHOW;
    st->u.show = s;
    QRY__TRY(qry__p_advance(p));
    QRY__TRY(show_kind(p, s));
    if (s->kind == QRY_SHOW_DATABASES || s->kind == QRY_SHOW_QUERIES ||
        s->kind == QRY_SHOW_CONTINUOUS_QUERIES)
        return 0;
    return show_rest(p, s);
}

/* -------------------------------------------------------------- DDL, DML */

static int replication(qry__parser_t *p, qry_rp_opts_t *o)
{
    uint32_t off = p->tok.off;
    QRY__TRY(qry__p_uint(p, &o->replication));
    if (o->replication < 1 || o->replication > INT32_MAX)
        return qry__error_at(p->err, p->lx.src, p->lx.len, off,
                             "invalid value %lld: must be 1 <= n <= 2147483647",
                             (long long)o->replication);
    o->has_replication = true;
    return 0;
}

static int shard_duration(qry__parser_t *p, qry_rp_opts_t *o)
{
    QRY__TRY(qry__p_expect(p, QRY_TK_DURATION, "DURATION"));
    o->has_shard = true;
    return qry__p_duration(p, true, &o->shard_duration);
}

/* CREATE DATABASE name [WITH options in their fixed order]. */
static int create_database(qry__parser_t *p, qry_ddl_t *d)
{
    qry_rp_opts_t *o = &d->rp;
    bool with, hit;
    QRY__TRY(qry__p_ident(p, &d->name));
    QRY__TRY(qry__p_accept(p, QRY_TK_WITH, &with));
    if (!with)
        return 0;
    QRY__TRY(qry__p_accept(p, QRY_TK_DURATION, &o->has_duration));
    if (o->has_duration)
        QRY__TRY(qry__p_duration(p, true, &o->duration));
    QRY__TRY(qry__p_accept(p, QRY_TK_REPLICATION, &hit));
    if (hit)
        QRY__TRY(replication(p, o));
    QRY__TRY(qry__p_accept(p, QRY_TK_SHARD, &hit));
    if (hit)
        QRY__TRY(shard_duration(p, o));
    QRY__TRY(qry__p_accept(p, QRY_TK_NAME, &hit));
    if (hit)
        QRY__TRY(qry__p_ident(p, &o->name));
    if (!o->has_duration && !o->has_replication && !o->has_shard && !o->name)
        return qry__p_expected(p, "DURATION, REPLICATION, SHARD, NAME");
    return 0;
}

/* RETENTION POLICY name ON db, shared by CREATE, ALTER and DROP. */
static int rp_head(qry__parser_t *p, qry_ddl_t *d)
{
    QRY__TRY(qry__p_expect(p, QRY_TK_RETENTION, "RETENTION"));
    QRY__TRY(qry__p_expect(p, QRY_TK_POLICY, "POLICY"));
    QRY__TRY(qry__p_ident(p, &d->name));
    QRY__TRY(qry__p_expect(p, QRY_TK_ON, "ON"));
    return qry__p_ident(p, &d->db);
}

static int create_rp(qry__parser_t *p, qry_ddl_t *d)
{
    qry_rp_opts_t *o = &d->rp;
    bool hit;
    QRY__TRY(rp_head(p, d));
    QRY__TRY(qry__p_expect(p, QRY_TK_DURATION, "DURATION"));
    QRY__TRY(qry__p_duration(p, true, &o->duration));
    o->has_duration = true;
    QRY__TRY(qry__p_expect(p, QRY_TK_REPLICATION, "REPLICATION"));
    QRY__TRY(replication(p, o));
    QRY__TRY(qry__p_accept(p, QRY_TK_SHARD, &hit));
    if (hit)
        QRY__TRY(shard_duration(p, o));
    return qry__p_accept(p, QRY_TK_DEFAULT, &o->is_default);
}

/* name ON db, after CONTINUOUS QUERY */
static int cq_head(qry__parser_t *p, qry_ddl_t *d)
{
    QRY__TRY(qry__p_advance(p));
    QRY__TRY(qry__p_expect(p, QRY_TK_QUERY, "QUERY"));
    QRY__TRY(qry__p_ident(p, &d->name));
    QRY__TRY(qry__p_expect(p, QRY_TK_ON, "ON"));
    return qry__p_ident(p, &d->db);
}

/* CREATE CONTINUOUS QUERY, at CONTINUOUS: the SELECT must write (INTO)
 * and have a GROUP BY time() whose interval a FOR may not undercut. */
static int create_cq(qry__parser_t *p, qry_ddl_t *d)
{
    bool hit;
    uint32_t for_off = 0;
    QRY__TRY(cq_head(p, d));
    QRY__TRY(qry__p_accept(p, QRY_TK_RESAMPLE, &hit));
    if (hit) {
        bool every, for_;
        QRY__TRY(qry__p_accept(p, QRY_TK_EVERY, &every));
        if (every)
            QRY__TRY(qry__p_duration(p, false, &d->cq_every));
        for_off = p->tok.off;
        QRY__TRY(qry__p_accept(p, QRY_TK_FOR, &for_));
        if (for_)
            QRY__TRY(qry__p_duration(p, false, &d->cq_for));
        if (!every && !for_)
            return qry__p_expected(p, "EVERY, FOR");
    }
    QRY__TRY(qry__p_expect(p, QRY_TK_BEGIN, "BEGIN"));
    if (p->tok.kind != QRY_TK_SELECT)
        return qry__p_expected(p, "SELECT");
    p->need_into = true;
    QRY__TRY(qry__p_select(p, &d->cq));
    int64_t interval = 0;
    for (size_t i = 0; i < d->cq->ndims; i++)
        if (d->cq->dims[i].kind == QRY_DIM_TIME)
            interval = d->cq->dims[i].interval;
    if (!interval) /* at the SELECT's last token, as InfluxDB */
        return qry__p_expected_at(p, &p->prev, "GROUP BY time(...)");
    int64_t min_for = CN_MAX(interval, d->cq_every); /* each run covers its EVERY */
    if (d->cq_for && d->cq_for < min_for) {
        cn_buf_t a, b;
        cn_buf_init(&a);
        cn_buf_init(&b);
        qry_format_duration(min_for, &a);
        qry_format_duration(d->cq_for, &b);
        cn_buf_put_u8(&a, 0);
        cn_buf_put_u8(&b, 0);
        int rc = qry__error_at(p->err, p->lx.src, p->lx.len, for_off,
                               "FOR duration must be >= GROUP BY time duration: must be a "
                               "minimum of %s, got %s",
                               (const char *)a.p, (const char *)b.p);
        cn_buf_free(&a);
        cn_buf_free(&b);
        return rc;
    }
    return qry__p_expect(p, QRY_TK_END, "END");
}

int qry__p_create(qry__parser_t *p, qry_stmt_t *st)
{
    QRY__TRY(qry__p_advance(p));
    if (p->tok.kind == QRY_TK_CONTINUOUS)
        return create_cq(p, new_ddl(p, st, QRY_STMT_CREATE_CQ));
    if (p->tok.kind == QRY_TK_DATABASE) {
        QRY__TRY(qry__p_advance(p));
        return create_database(p, new_ddl(p, st, QRY_STMT_CREATE_DATABASE));
    }
    if (p->tok.kind == QRY_TK_RETENTION)
        return create_rp(p, new_ddl(p, st, QRY_STMT_CREATE_RP));
    return qry__p_expected(p, "CONTINUOUS, DATABASE, RETENTION");
}

int qry__p_alter(qry__parser_t *p, qry_stmt_t *st)
{
    qry_ddl_t *d = new_ddl(p, st, QRY_STMT_ALTER_RP);
    qry_rp_opts_t *o = &d->rp;
    QRY__TRY(qry__p_advance(p));
    QRY__TRY(rp_head(p, d));
    for (;;) {
        qry__tk_t k = p->tok.kind;
        if (k == QRY_TK_DURATION && !o->has_duration) {
            QRY__TRY(qry__p_advance(p));
            QRY__TRY(qry__p_duration(p, true, &o->duration));
            o->has_duration = true;
        } else if (k == QRY_TK_REPLICATION && !o->has_replication) {
            QRY__TRY(qry__p_advance(p));
            QRY__TRY(replication(p, o));
        } else if (k == QRY_TK_SHARD && !o->has_shard) {
            QRY__TRY(qry__p_advance(p));
            QRY__TRY(shard_duration(p, o));
        } else if (k == QRY_TK_DEFAULT && !o->is_default) {
            QRY__TRY(qry__p_advance(p));
            o->is_default = true;
        } else {
            break;
        }
    }
    if (!o->has_duration && !o->has_replication && !o->has_shard && !o->is_default)
        return qry__p_expected(p, "DURATION, REPLICATION, SHARD, DEFAULT");
    return 0;
}

/* [FROM sources] [WHERE cond], at least one of them. */
static int filter(qry__parser_t *p, qry_ddl_t *d)
{
    bool from, where;
    QRY__TRY(opt_from(p, &d->sources, &d->nsources, &from));
    QRY__TRY(opt_where(p, &d->cond, &where));
    if (!from && !where)
        return qry__p_expected(p, "FROM, WHERE");
    return 0;
}

int qry__p_drop(qry__parser_t *p, qry_stmt_t *st)
{
    QRY__TRY(qry__p_advance(p));
    switch (p->tok.kind) {
    case QRY_TK_DATABASE:
        QRY__TRY(qry__p_advance(p));
        return qry__p_ident(p, &new_ddl(p, st, QRY_STMT_DROP_DATABASE)->name);
    case QRY_TK_MEASUREMENT:
        QRY__TRY(qry__p_advance(p));
        return qry__p_ident(p, &new_ddl(p, st, QRY_STMT_DROP_MEASUREMENT)->name);
    case QRY_TK_SERIES:
        QRY__TRY(qry__p_advance(p));
        return filter(p, new_ddl(p, st, QRY_STMT_DROP_SERIES));
    case QRY_TK_RETENTION:
        return rp_head(p, new_ddl(p, st, QRY_STMT_DROP_RP));
    case QRY_TK_CONTINUOUS:
        return cq_head(p, new_ddl(p, st, QRY_STMT_DROP_CQ));
    default:
        return qry__p_expected(p, "CONTINUOUS, DATABASE, MEASUREMENT, RETENTION, SERIES");
    }
}

/* KILL QUERY qid [ON host]: the host (InfluxDB Enterprise's data node) is
 * kept and ignored - there is one. */
int qry__p_kill(qry__parser_t *p, qry_stmt_t *st)
{
    qry_ddl_t *d = new_ddl(p, st, QRY_STMT_KILL_QUERY);
    bool on;
    QRY__TRY(qry__p_advance(p));
    QRY__TRY(qry__p_expect(p, QRY_TK_QUERY, "QUERY"));
    QRY__TRY(qry__p_uint(p, &d->qid));
    QRY__TRY(qry__p_accept(p, QRY_TK_ON, &on));
    if (on)
        QRY__TRY(qry__p_ident(p, &d->name));
    return 0;
}

int qry__p_delete(qry__parser_t *p, qry_stmt_t *st)
{
    QRY__TRY(qry__p_advance(p));
    return filter(p, new_ddl(p, st, QRY_STMT_DELETE));
}
