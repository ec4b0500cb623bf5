/* SPDX-License-Identifier: MIT */
/*
 * params.c - bound parameters of /query (`params=`, InfluxDB 1.8): the
 * JSON object read into typed values the lexer substitutes for $name
 * tokens (lexer.c bind_param).
 *
 * The typing follows InfluxDB: a JSON string is a string literal, a
 * number containing '.' a float and any other number an int64 (so 1e3 is
 * refused, as Go's strconv.ParseInt refuses it), true/false a boolean,
 * and a one-member object names the type explicitly.  A value that cannot
 * be bound (null, an array, an unknown type name, a wrongly typed member)
 * is kept with its error text and fails the parse only if the query uses
 * it, as in InfluxDB.
 */
#include "eval_int.h"
#include "parse_int.h"

#include <stdio.h>
#include <string.h>

struct qry_params {
    qry_jdoc_t *doc; /* owns every string below */
    qry_param_t *v;
    size_t n;
};

void qry_params_free(qry_params_t *ps)
{
    if (!ps)
        return;
    qry_jdoc_free(ps->doc);
    cn_free(ps->v);
    cn_free(ps);
}

const qry_param_t *qry__param_find(const qry_params_t *ps, const char *name)
{
    if (!ps)
        return NULL;
    for (size_t i = ps->n; i-- > 0;) /* the last of a repeated key wins */
        if (strcmp(ps->v[i].name, name) == 0)
            return &ps->v[i];
    return NULL;
}

static void invalid(qry_param_t *p, const char *why)
{
    p->kind = QRY_PARAM_INVALID;
    p->s = why;
}

/* A bare JSON number: int64 unless its text has a '.'. */
static int bare_number(const qry_json_t *j, qry_param_t *p, char *msg, size_t msglen)
{
    if (memchr(j->raw, '.', j->raw_len)) {
        p->kind = QRY_PARAM_NUMBER;
        p->f = j->f;
        return 0;
    }
    if (j->is_int) {
        p->kind = QRY_PARAM_INTEGER;
        p->i = j->i;
        return 0;
    }
    bool range = !memchr(j->raw, 'e', j->raw_len) && !memchr(j->raw, 'E', j->raw_len);
    snprintf(msg, msglen, "error parsing json value: strconv.ParseInt: parsing \"%.*s\": %s",
             (int)CN_MIN(j->raw_len, 64), j->raw, range ? "value out of range" : "invalid syntax");
    return CN_EINVAL;
}

/* {"type": value} */
static void typed(qry_jdoc_t *doc, const qry_json_t *o, qry_param_t *p)
{
    if (o->n != 1) {
        invalid(p, "unable to bind parameter with type map[string]interface {}");
        return;
    }
    const char *t = o->keys[0];
    const qry_json_t *v = o->items[0];
    bool str = v->kind == QRY_J_STR;
    if (strcmp(t, "identifier") == 0) {
        if (!str) {
            invalid(p, "identifier literal must be a string value");
            return;
        }
        p->kind = QRY_PARAM_IDENT;
        p->s = v->s;
    } else if (strcmp(t, "string") == 0) {
        if (!str) {
            invalid(p, "string literal must be a string value");
            return;
        }
        p->kind = QRY_PARAM_STRING;
        p->s = v->s;
    } else if (strcmp(t, "regex") == 0) {
        if (!str) {
            invalid(p, "regex literal must be a string value");
            return;
        }
        p->kind = QRY_PARAM_REGEX;
        p->s = v->s;
    } else if (strcmp(t, "duration") == 0) {
        if (!str) {
            invalid(p, "duration literal must be a string value");
            return;
        }
        if (qry_parse_duration(v->s, v->slen, &p->i) < 0) {
            invalid(p, "invalid duration literal");
            return;
        }
        p->kind = QRY_PARAM_DURATION;
    } else if (strcmp(t, "integer") == 0) {
        if (v->kind != QRY_J_NUM || !v->is_int) {
            invalid(p, "integer literal must be an integer value");
            return;
        }
        p->kind = QRY_PARAM_INTEGER;
        p->i = v->i;
    } else if (strcmp(t, "number") == 0) {
        if (v->kind != QRY_J_NUM) {
            invalid(p, "number literal must be a float value");
            return;
        }
        p->kind = QRY_PARAM_NUMBER;
        p->f = v->f;
    } else if (strcmp(t, "boolean") == 0) {
        if (v->kind != QRY_J_BOOL) {
            invalid(p, "boolean literal must be a boolean value");
            return;
        }
        p->kind = QRY_PARAM_BOOL;
        p->b = v->b;
    } else {
        /* the type name is user text: the message lives in the document */
        size_t n = strlen(t);
        char *m = qry__jdoc_alloc(doc, n + 27);
        memcpy(m, "unknown bind object type: ", 26);
        memcpy(m + 26, t, n + 1);
        invalid(p, m);
    }
}

int qry_params_json(const char *src, size_t len, qry_params_t **out, char *msg, size_t msglen)
{
    *out = NULL;
    qry_params_t *ps = cn_calloc(1, sizeof *ps);
    qry_jdoc_new(&ps->doc);
    const qry_json_t *root;
    size_t at = 0;
    int rc = qry_jdoc_parse(ps->doc, src, len, &root, &at);
    if (rc < 0) {
        snprintf(msg, msglen, "error parsing query parameters: invalid JSON at offset %zu", at);
        qry_params_free(ps);
        return CN_EINVAL;
    }
    if (root->kind != QRY_J_OBJ) {
        static const char *const names[] = {"null", "bool", "number", "string", "array"};
        snprintf(msg, msglen,
                 "error parsing query parameters: json: cannot unmarshal %s into Go value of type "
                 "map[string]interface {}",
                 root->kind < QRY_J_OBJ ? names[root->kind] : "object");
        qry_params_free(ps);
        return CN_EINVAL;
    }
    ps->v = cn_calloc(root->n + 1, sizeof *ps->v);
    for (size_t k = 0; k < root->n; k++) {
        const qry_json_t *j = root->items[k];
        qry_param_t *p = &ps->v[ps->n++];
        p->name = root->keys[k];
        switch (j->kind) {
        case QRY_J_STR:
            p->kind = QRY_PARAM_STRING;
            p->s = j->s;
            break;
        case QRY_J_BOOL:
            p->kind = QRY_PARAM_BOOL;
            p->b = j->b;
            break;
        case QRY_J_NUM:
            if (bare_number(j, p, msg, msglen) < 0) {
                qry_params_free(ps);
                return CN_EINVAL;
            }
            break;
        case QRY_J_OBJ:
            typed(ps->doc, j, p);
            break;
        case QRY_J_ARR:
            invalid(p, "unable to bind parameter with type []interface {}");
            break;
        case QRY_J_NULL:
            invalid(p, "unable to bind parameter with type <nil>");
            break;
        }
    }
    *out = ps;
    return 0;
}
