/* SPDX-License-Identifier: MIT */
/*
 * fuzz_xfilter.c - libFuzzer target for export's condition evaluator
 * (query/export/xfilter.c) behind the InfluxQL expression parser: any
 * input that parses is compiled against a fixed schema (float, integer,
 * boolean and string fields) and, when it compiles, evaluated for two
 * series and a batch with nulls.  Compile errors must carry a message;
 * row results must be 0/1 and their count must match; nothing may crash.
 */
#include "query/export/xfilter.h"

#include <stdlib.h>

static const eng_field_info_t FIELDS[4] = {
    {"temp", ENG_T_FLOAT, 1}, {"n", ENG_T_INT, 2}, {"ok", ENG_T_BOOL, 3}, {"msg", ENG_T_STRING, 4}};
static const eng_tag_t TAGS[2][2] = {{{"device_id", "d1"}, {"site", "north"}},
                                     {{"device_id", "d2"}, {"zone", ""}}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qry_query_t *q = NULL;
    qry_error_t err;
    if (qry_parse_expr((const char *)data, size, &q, &err) < 0)
        return 0;
    qry_xf_t *f = NULL;
    char msg[256] = "";
    int rc = qry_xf_compile(q->expr, FIELDS, 4, 1767225600000000000, &f, msg, sizeof msg);
    if (rc < 0) {
        if (rc != CN_EINVAL || !msg[0])
            abort();
        qry_query_free(q);
        return 0;
    }
    int64_t ts[4] = {INT64_MIN, -1, 0, INT64_MAX};
    double temp[4] = {0.5, -0.0, 1e308, -1e308};
    int64_t n[4] = {INT64_MIN, -1, 0, INT64_MAX};
    uint8_t ok[4] = {1, 0, 1, 0};
    eng_str_t s[4] = {{"", 0}, {"a", 1}, {"m1", 2}, {"\xff", 1}};
    uint8_t v[4][4] = {{1, 0, 1, 1}, {1, 1, 0, 1}, {0, 1, 1, 1}, {1, 1, 1, 0}};
    const void *vals[4] = {temp, n, ok, s};
    const uint8_t *valid[4] = {v[0], v[1], v[2], v[3]};
    eng_batch_t b = {.n = 4, .ts = ts, .vals = vals, .valid = valid};
    const eng_tag_pred_t *preds = NULL;
    size_t np = qry_xf_tag_preds(f, &preds);
    for (size_t i = 0; i < np; i++)
        if (!preds[i].key || !preds[i].val)
            abort();
    int64_t lo = INT64_MIN, hi = INT64_MAX;
    qry_xf_range(f, &lo, &hi);
    for (int t = 0; t < 2; t++) {
        int sres = qry_xf_series(f, TAGS[t], 2);
        if (sres != QRY_XF_ROWS)
            continue;
        uint8_t sel[4];
        uint32_t k = qry_xf_rows(f, &b, sel);
        uint32_t c = 0;
        for (int i = 0; i < 4; i++) {
            if (sel[i] > 1)
                abort();
            c += sel[i];
        }
        if (c != k)
            abort();
    }
    qry_xf_free(f);
    qry_query_free(q);
    return 0;
}
