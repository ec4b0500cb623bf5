/* SPDX-License-Identifier: MIT */
/*
 * fuzz_regmap.c - libFuzzer target for the register-map decoder
 * (ingest/decode/regmap.c).  The input is a map text up to the first NUL
 * byte and a binary frame after it.  A map that fails to parse must yield
 * no map and an error whose line exists in the text and whose column lies
 * within that line (or just past its end).  A map that parses decodes the
 * frame: at most one point, well-formed (mq_dec_point_valid()), with no
 * more fields than the map, and no error at all when the frame covers
 * mq_regmap_frame_len() bytes, apart from u64 values beyond int64.  A
 * broken property aborts.
 */
#include "decode/decode.h"

#include <stdlib.h>
#include <string.h>

static void check(bool ok)
{
    if (!ok)
        abort();
}

/* Length of line `line` (1-based) of text, or SIZE_MAX when there is none. */
static size_t line_len(const char *s, size_t n, uint32_t line)
{
    const char *e = s + n;
    for (uint32_t l = 1; l < line; l++) {
        const char *nl = s < e ? memchr(s, '\n', (size_t)(e - s)) : NULL;
        if (!nl)
            return SIZE_MAX;
        s = nl + 1;
    }
    const char *nl = s < e ? memchr(s, '\n', (size_t)(e - s)) : NULL;
    return nl ? (size_t)(nl - s) : (size_t)(e - s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *sep = size ? memchr(data, 0, size) : NULL;
    size_t tlen = sep ? (size_t)(sep - data) : size;
    const uint8_t *frame = sep ? sep + 1 : NULL;
    size_t flen = sep ? size - tlen - 1 : 0;

    mq_regmap_t *m = NULL;
    mq_dec_err_t err;
    int rc = mq_regmap_parse((const char *)data, tlen, &m, &err);
    if (rc < 0) {
        check(m == NULL && err.code == rc && err.reason && err.line >= 1 && err.col >= 1);
        size_t ll = line_len((const char *)data, tlen, err.line);
        check(ll != SIZE_MAX && err.col - 1 <= ll);
        return 0;
    }
    check(rc == 0 && m && mq_regmap_nfields(m) >= 1 && mq_regmap_nfields(m) <= ENG_MAX_FIELDS);

    static const eng_tag_t tags[] = {{"device", "d1"}};
    mq_dec_batch_t *b = NULL;
    mq_dec_batch_new(&b);
    int np = mq_dec_regmap(b, m, frame, flen, "regs", tags, 1, 42);
    check(np == 0 || np == 1);
    size_t n = 0, ne = 0;
    const eng_point_t *pts = mq_dec_batch_points(b, &n);
    check(n == (size_t)np);
    const mq_dec_err_t *errs = mq_dec_batch_errors(b, &ne);
    for (size_t i = 0; i < ne; i++) {
        check(errs[i].line >= 1 && errs[i].line <= tlen + 1 && errs[i].col >= 1 && errs[i].reason);
        bool short_frame = strcmp(errs[i].reason, "frame too short for field") == 0;
        check(short_frame || strcmp(errs[i].reason, "u64 value beyond int64") == 0);
        check(!short_frame || flen < mq_regmap_frame_len(m));
    }
    if (np == 1) {
        check(mq_dec_point_valid(&pts[0]));
        check(pts[0].ts == 42 && pts[0].ntags == 1 && strcmp(pts[0].measurement, "regs") == 0);
        check(pts[0].nfields + mq_dec_batch_nerrors(b) == mq_regmap_nfields(m));
    } else {
        check(mq_dec_batch_nerrors(b) == mq_regmap_nfields(m));
    }
    mq_dec_batch_free(b);
    mq_regmap_free(m);
    return 0;
}
