/* SPDX-License-Identifier: MIT */
/*
 * fuzz_json.c - libFuzzer target for the JSON payload decoder
 * (ingest/decode/json.c).  Any input is decoded twice, into a fresh batch
 * and appended to a batch that already holds a point; both must agree.  A
 * negative return must add no point; every point must be well-formed
 * (mq_dec_point_valid(), and floats finite) and every error must carry a
 * line, column and reason.  A broken property aborts.
 */
#include "decode/decode.h"

#include <math.h>
#include <stdlib.h>

static void check(bool ok)
{
    if (!ok)
        abort();
}

/* The decoder's promises, plus finite floats (text never yields Inf/NaN). */
static void check_point(const eng_point_t *p)
{
    check(mq_dec_point_valid(p));
    for (uint32_t i = 0; i < p->nfields; i++)
        check(p->fields[i].type != ENG_T_FLOAT || isfinite(p->fields[i].v.f));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const eng_tag_t base[] = {{"device_id", "dev-000001"}, {"fleet", "fleet-1"}};
    mq_dec_opts_t o;
    mq_dec_opts_default(&o);
    o.measurement = "telemetry";
    o.tags = base;
    o.ntags = 2;
    o.prec = MQ_DEC_AUTO;
    o.now_ns = INT64_C(1767225600000000000);
    mq_dec_batch_t *b, *b2;
    mq_dec_batch_new(&b);
    mq_dec_batch_new(&b2);

    int rc = mq_dec_json(b, &o, data, size);
    size_t n, ne;
    const eng_point_t *pts = mq_dec_batch_points(b, &n);
    check(rc >= 0 ? n == (size_t)rc : n == 0 && mq_dec_batch_nerrors(b) >= 1);
    check(rc >= 0 || rc == CN_EPROTO || rc == CN_ELIMIT);
    const mq_dec_err_t *errs = mq_dec_batch_errors(b, &ne);
    for (size_t i = 0; i < ne; i++)
        check(errs[i].line >= 1 && errs[i].col >= 1 && errs[i].reason && errs[i].code < 0);
    for (size_t i = 0; i < n; i++)
        check_point(&pts[i]);

    /* Appending to a non-empty batch gives the same points after it. */
    check(mq_dec_json(b2, &o, "{\"x\":1}", 7) == 1);
    check(mq_dec_json(b2, &o, data, size) == rc);
    size_t n2;
    const eng_point_t *pts2 = mq_dec_batch_points(b2, &n2);
    check(n2 == n + 1);
    for (size_t i = 0; i < n; i++) {
        check(pts2[i + 1].ts == pts[i].ts && pts2[i + 1].nfields == pts[i].nfields);
        for (uint32_t f = 0; f < pts[i].nfields; f++)
            check(strcmp(pts2[i + 1].fields[f].name, pts[i].fields[f].name) == 0);
    }

    mq_dec_batch_free(b2);
    mq_dec_batch_free(b);
    return 0;
}
