/* SPDX-License-Identifier: MIT */
/*
 * ingest.c - MQTT PUBLISH -> rows (ingest.h).
 */
#include "ingest.h"

#include "map/map.h"

#include <stdarg.h>
#include <string.h>

struct srv_ingest {
    mq_map_t *map;
    eng_db_t *db;
    bool republish;
    srv_ingest_registry_fn reg;
    void *reg_arg;
};

struct srv_ingest_worker {
    srv_ingest_t *in;
    mq_dec_batch_t *batch;
    cn_buf_t report;   /* the error JSON */
    cn_ratelimit_t rl; /* decode-error log lines of this thread */
};

/* Log at most LOG_BURST decode-error lines per LOG_PERIOD per thread. */
#define LOG_PERIOD (10 * INT64_C(1000000000))
#define LOG_BURST  10

int srv_ingest_new(const srv_cfg_t *cfg, srv_ingest_t **out, FILE *diag)
{
    *out = NULL;
    char err[512];
    mq_map_t *map = NULL;
    int rc = mq_map_parse(cfg->topic_templates, cfg->ingest_unmatched ? MQ_MAP_STORE_UNMATCHED : 0,
                          &map, err, sizeof err);
    if (rc < 0) {
        if (diag)
            fprintf(diag, "cairn: topic-templates: %s\n", err);
        return CN_ECONFIG;
    }
    srv_ingest_t *in = cn_calloc(1, sizeof *in);
    in->map = map;
    in->republish = cfg->ingest_republish_errors != 0;
    *out = in;
    return 0;
}

void srv_ingest_set_db(srv_ingest_t *in, eng_db_t *db)
{
    in->db = db;
}

void srv_ingest_set_registry(srv_ingest_t *in, srv_ingest_registry_fn fn, void *arg)
{
    in->reg = fn;
    in->reg_arg = arg;
}

void srv_ingest_free(srv_ingest_t *in)
{
    if (!in)
        return;
    mq_map_free(in->map);
    cn_free(in);
}

srv_ingest_worker_t *srv_ingest_worker_new(srv_ingest_t *in)
{
    srv_ingest_worker_t *w = cn_calloc(1, sizeof *w);
    w->in = in;
    mq_dec_batch_new(&w->batch);
    cn_buf_init(&w->report);
    return w;
}

void srv_ingest_worker_free(srv_ingest_worker_t *w)
{
    if (!w)
        return;
    mq_dec_batch_free(w->batch);
    cn_buf_free(&w->report);
    cn_free(w);
}

/* ------------------------------------------------------------ helpers */

static void put_str(cn_buf_t *b, const char *s)
{
    cn_buf_put(b, s, strlen(s));
}

/* Appends s (n bytes, valid UTF-8) as a JSON string. */
static void put_json_str(cn_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    cn_buf_put_u8(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            cn_buf_put_u8(b, '\\');
            cn_buf_put_u8(b, c);
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            cn_buf_put(b, e, sizeof e);
        } else {
            cn_buf_put_u8(b, c);
        }
    }
    cn_buf_put_u8(b, '"');
}

/* Prometheus label values escape \, " and newline. */
static void put_label(cn_buf_t *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            cn_buf_put_u8(b, '\\');
        if (*s == '\n') {
            put_str(b, "\\n");
            continue;
        }
        cn_buf_put_u8(b, (uint8_t)*s);
    }
}

static void put_u64(cn_buf_t *b, uint64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    cn_buf_put(b, t, (size_t)n);
}

/* The report published to $cairn/errors/<client id>:
 *   {"topic":"...","template":"...","reason":"syntax","errors":2,
 *    "first":"line 1 col 9: invalid number"} */
static void build_report(srv_ingest_worker_t *w, const char *topic, size_t tlen,
                         const mq_map_result_t *r, const char *first)
{
    cn_buf_t *b = &w->report;
    cn_buf_reset(b);
    put_str(b, "{\"topic\":");
    put_json_str(b, topic, tlen);
    put_str(b, ",\"template\":");
    const char *pat = mq_map_pattern(w->in->map, (uint32_t)r->tpl);
    put_json_str(b, pat, strlen(pat));
    put_str(b, ",\"reason\":\"");
    put_str(b, mq_map_reason_name(r->reason));
    put_str(b, "\",\"errors\":");
    put_u64(b, r->nerrors);
    put_str(b, ",\"first\":");
    put_json_str(b, first, strlen(first));
    put_str(b, "}");
}

static void note_errors(srv_ingest_worker_t *w, const char *client_id, const char *topic,
                        size_t tlen, const mq_map_result_t *r, srv_ingest_res_t *res)
{
    char first[160] = "";
    size_t ne = 0;
    const mq_dec_err_t *e = mq_dec_batch_errors(w->batch, &ne);
    if (ne)
        mq_dec_err_format(&e[0], first, sizeof first);
    uint32_t supp = 0;
    if (cn_ratelimit_ok(&w->rl, cn_now_ns(), LOG_PERIOD, LOG_BURST, &supp))
        cn_warn("ingest: client '%s' topic '%.*s': %u bad value(s) (%s), first: %s%s", client_id,
                (int)(tlen > 200 ? 200 : tlen), topic, r->nerrors, mq_map_reason_name(r->reason),
                first, supp ? " (more suppressed)" : "");
    if (w->in->republish) {
        build_report(w, topic, tlen, r, first);
        res->error_json = (const char *)w->report.p;
        res->error_len = w->report.len;
    }
}

int srv_ingest_publish(srv_ingest_worker_t *w, const char *client_id, const char *topic,
                       size_t tlen, const void *payload, size_t n, srv_ingest_res_t *res)
{
    memset(res, 0, sizeof *res);
    srv_ingest_t *in = w->in;
    mq_dec_batch_reset(w->batch);
    mq_map_result_t r;
    int np = mq_map_decode(in->map, topic, tlen, payload, n, cn_now_ns(), in->reg, in->reg_arg,
                           w->batch, &r);
    if (r.nerrors)
        note_errors(w, client_id, topic, tlen, &r, res);
    if (np <= 0)
        return 0;
    size_t npts = 0;
    const eng_point_t *pts = mq_dec_batch_points(w->batch, &npts);
    eng_write_res_t wr;
    uint64_t seq = 0;
    int rc = eng_write(in->db, pts, npts, &wr, &seq);
    if (rc < 0) {
        /* CN_EFULL and CN_ECLOSED wrote nothing: the caller offers the same
         * message again (or gives up at shutdown); count nothing yet. */
        res->status = rc;
        res->error_json = NULL;
        return rc;
    }
    if (wr.fields_rejected) {
        mq_map_count_error(in->map, (uint32_t)r.tpl, MQ_MAP_R_CONFLICT, wr.fields_rejected);
        uint32_t supp = 0;
        if (cn_ratelimit_ok(&w->rl, cn_now_ns(), LOG_PERIOD, LOG_BURST, &supp))
            cn_warn("ingest: client '%s' topic '%.*s': %u field(s) rejected, first '%s': %s",
                    client_id, (int)(tlen > 200 ? 200 : tlen), topic, wr.fields_rejected,
                    wr.first_error_field, cn_strerror(wr.first_error));
        if (in->republish && !res->error_json) {
            char first[128];
            snprintf(first, sizeof first, "field '%s': %s", wr.first_error_field,
                     cn_strerror(wr.first_error));
            mq_map_result_t c = r;
            c.nerrors = wr.fields_rejected;
            c.reason = MQ_MAP_R_CONFLICT;
            build_report(w, topic, tlen, &c, first);
            res->error_json = (const char *)w->report.p;
            res->error_len = w->report.len;
        }
    }
    res->stored = wr.points_ok > 0;
    res->seq = seq;
    res->npoints = wr.points_ok;
    return 0;
}

void srv_ingest_metrics(srv_ingest_t *in, cn_buf_t *out)
{
    uint32_t nt = mq_map_count(in->map);
    static const char *const names[] = {"cairn_ingest_messages_total", "cairn_ingest_points_total"};
    static const char *const help[] = {"MQTT messages matched by a topic template and decoded.",
                                       "Points decoded from those messages."};
    for (int k = 0; k < 2; k++) {
        put_str(out, "# HELP ");
        put_str(out, names[k]);
        put_str(out, " ");
        put_str(out, help[k]);
        put_str(out, "\n# TYPE ");
        put_str(out, names[k]);
        put_str(out, " counter\n");
        for (uint32_t i = 0; i <= nt; i++) {
            mq_map_stats_t st;
            mq_map_stats(in->map, i, &st);
            put_str(out, names[k]);
            put_str(out, "{template=\"");
            put_label(out, mq_map_pattern(in->map, i));
            put_str(out, "\"} ");
            put_u64(out, k == 0 ? st.msgs : st.points);
            put_str(out, "\n");
        }
    }
    put_str(out, "# HELP cairn_ingest_errors_total Payload problems by topic template and "
                 "reason; the rest of the message is stored.\n"
                 "# TYPE cairn_ingest_errors_total counter\n");
    for (uint32_t i = 0; i <= nt; i++) {
        mq_map_stats_t st;
        mq_map_stats(in->map, i, &st);
        for (int r = 0; r < MQ_MAP_R_COUNT; r++) {
            put_str(out, "cairn_ingest_errors_total{template=\"");
            put_label(out, mq_map_pattern(in->map, i));
            put_str(out, "\",reason=\"");
            put_str(out, mq_map_reason_name((enum mq_map_reason)r));
            put_str(out, "\"} ");
            put_u64(out, st.errors[r]);
            put_str(out, "\n");
        }
    }
}
