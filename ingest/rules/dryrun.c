/* SPDX-License-Identifier: MIT */
/*
 * dryrun.c - mq_rules_test: one rule over one sample message, reporting
 * what each action would receive (POST /api/v1/rules/test).  Uses the
 * same compilation and rendering as the live engine (crule.c), so what
 * the test shows is what the sinks get.
 */
#include "router.h"
#include "rules_int.h"

#include <stdio.h>

static void put_str(cn_buf_t *b, const char *s, size_t n)
{
    qry_json_put_str(b, s ? s : "", s ? n : 0);
}

static void put_lit(cn_buf_t *b, const char *s)
{
    cn_buf_put(b, s, strlen(s));
}

static void action_json(const mq_rules_out_t *o, cn_buf_t *b)
{
    const mq_rule_action_t *a = o->act;
    char tmp[64];
    switch (a->kind) {
    case MQ_ACT_WEBHOOK:
        put_lit(b, "{\"type\":\"webhook\",\"url\":");
        put_str(b, a->url, strlen(a->url));
        put_lit(b, ",\"method\":");
        put_lit(b, a->method && strcmp(a->method, "PUT") == 0 ? "\"PUT\"" : "\"POST\"");
        put_lit(b, ",\"headers\":{");
        for (uint32_t k = 0; k < a->nheaders; k++) {
            if (k)
                cn_buf_put_u8(b, ',');
            put_str(b, a->headers[k].name, strlen(a->headers[k].name));
            cn_buf_put_u8(b, ':');
            put_str(b, o->headers[k], strlen(o->headers[k]));
        }
        put_lit(b, "},\"body\":");
        put_str(b, o->body, o->body_len);
        break;
    case MQ_ACT_KAFKA:
        put_lit(b, "{\"type\":\"kafka\",\"topic\":");
        put_str(b, o->topic, o->topic_len);
        put_lit(b, ",\"key\":");
        put_str(b, o->key, o->key_len);
        put_lit(b, ",\"value\":");
        put_str(b, o->body, o->body_len);
        break;
    default:
        put_lit(b, "{\"type\":\"republish\",\"topic\":");
        put_str(b, o->topic, o->topic_len);
        snprintf(tmp, sizeof tmp, ",\"qos\":%u,\"retain\":%s,\"payload\":", a->qos,
                 a->retain ? "true" : "false");
        put_lit(b, tmp);
        put_str(b, o->body, o->body_len);
        break;
    }
    cn_buf_put_u8(b, '}');
}

static bool topic_matches(const qry_rule_t *r, const mq_rules_msg_t *m)
{
    for (size_t i = 0; i < r->nfilters; i++)
        if (mq_router_topic_matches(r->filters[i], strlen(r->filters[i]), m->topic, m->topic_len))
            return true;
    return false;
}

/* Runs cr over every row of m, appending the "rows" entries; returns the
 * first evaluation error (message in row) or 0, with *passed set. */
static int run_rows(const mq__crule_t *cr, qry_row_t *row, const mq_rules_msg_t *m, cn_buf_t *out,
                    bool *passed)
{
    size_t rows = m->npoints ? m->npoints : 1, nout = 0;
    mq__rendered_t rd = {0};
    cn_buf_t json;
    cn_buf_init(&json);
    int err = 0;
    for (size_t p = 0; p < rows; p++) {
        qry_msg_t qm;
        mq__row_msg(m, m->npoints ? &m->points[p] : NULL, &qm);
        qry_row_bind(row, &qm);
        int rc = qry_prog_run(cr->prog, row);
        if (rc < 0) {
            err = rc;
            break;
        }
        if (rc == 0)
            continue;
        *passed = true;
        json.len = 0;
        qry_row_json(row, &json);
        cn_buf_reserve(&json, 1);
        json.p[json.len] = 0;
        put_lit(out, nout++ ? ",{\"outputs\":" : "{\"outputs\":");
        cn_buf_put(out, json.p, json.len);
        put_lit(out, ",\"actions\":[");
        for (uint32_t i = 0; i < cr->def->nactions; i++) {
            mq_rules_out_t o;
            mq__render_action(cr, i, row, &qm, (const char *)json.p, json.len, &rd, &o);
            if (i)
                cn_buf_put_u8(out, ',');
            action_json(&o, out);
        }
        put_lit(out, "]}");
    }
    mq__rendered_free(&rd);
    cn_buf_free(&json);
    return err;
}

int mq_rules_test(const mq_rule_def_t *def, const mq_rules_msg_t *m, cn_buf_t *out,
                  mq_rules_err_t *err)
{
    qry_symtab_t *st;
    qry_symtab_new(&st);
    mq__crule_t cr;
    int rc = mq__crule_build(&cr, def, st, err);
    if (rc < 0) {
        qry_symtab_free(st);
        return rc;
    }
    qry_row_t *row;
    qry_row_new(st, &row);
    bool matched = topic_matches(cr.ast, m), passed = false;
    cn_buf_t rows;
    cn_buf_init(&rows);
    int erc = matched ? run_rows(&cr, row, m, &rows, &passed) : 0;
    put_lit(out, matched ? "{\"matched\":true" : "{\"matched\":false");
    put_lit(out,
            passed && erc == 0 ? ",\"passed\":true,\"error\":" : ",\"passed\":false,\"error\":");
    if (erc < 0)
        put_str(out, qry_row_error(row), strlen(qry_row_error(row)));
    else
        put_lit(out, "null");
    put_lit(out, ",\"rows\":[");
    if (erc == 0)
        cn_buf_put(out, rows.p, rows.len);
    put_lit(out, "]}");
    cn_buf_free(&rows);
    qry_row_free(row);
    mq__crule_free(&cr);
    qry_symtab_free(st);
    return 0;
}
