/* SPDX-License-Identifier: MIT */
/*
 * inspect.c - read-only verification and summary of a data directory for
 * `cairn inspect`: every segment's checksums and structure, every block
 * decoded once, the WAL's records, MANIFEST and catalog presence.
 */
#include "engine_int.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>

static int inspect_segment(const char *path, bool verbose, FILE *f, uint64_t *nrows,
                           uint64_t *bytes)
{
    eng__seg_t *s;
    int rc = eng__seg_open(path, &s);
    if (rc < 0) {
        fprintf(f, "segment %s: FAILED: %s\n", path, cn_strerror(rc));
        return rc;
    }
    uint64_t r = 0;
    eng__scratch_t sc = {0};
    for (uint32_t i = 0; i < s->nblocks && rc == 0; i++) {
        const eng__blkmeta_t *b = &s->blocks[i];
        uint32_t *fids = cn_malloc((b->ncols + 1) * sizeof *fids);
        uint8_t *types = cn_malloc(b->ncols + 1);
        for (uint32_t c = 0; c < b->ncols; c++) {
            fids[c] = b->cols[c].fid;
            types[c] = b->cols[c].type;
        }
        eng__rows_t rows;
        eng__rows_init(&rows, b->ncols, fids, types);
        rc = eng__seg_check_layout(s, b);
        if (rc == 0)
            rc = eng__seg_decode(s, b, &rows, &sc, 0);
        for (uint32_t k = 1; rc == 0 && k < rows.n; k++)
            if (rows.ts[k] <= rows.ts[k - 1])
                rc = CN_CORRUPT();
        if (rc == 0 && rows.n && (rows.ts[0] != b->tmin || rows.ts[rows.n - 1] != b->tmax))
            rc = CN_CORRUPT();
        if (verbose)
            fprintf(f, "  block sid=%llu rows=%u cols=%u tmin=%lld tmax=%lld bytes=%llu %s\n",
                    (unsigned long long)b->sid, b->rows, b->ncols, (long long)b->tmin,
                    (long long)b->tmax, (unsigned long long)b->len, rc == 0 ? "ok" : "BAD");
        r += b->rows;
        eng__rows_free(&rows);
        cn_free(fids);
        cn_free(types);
    }
    eng__scratch_free(&sc);
    fprintf(f, "segment %s: id=%llu seq_max=%llu blocks=%u rows=%llu bytes=%llu %s\n", path,
            (unsigned long long)s->id, (unsigned long long)s->seq_max, s->nblocks,
            (unsigned long long)r, (unsigned long long)s->size, rc == 0 ? "ok" : "CORRUPT");
    *nrows += r;
    *bytes += s->size;
    eng__seg_unref(s);
    return rc;
}

int eng_inspect(const char *dir, bool verbose, void *out)
{
    FILE *f = out;
    char path[PATH_MAX / 2];
    snprintf(path, sizeof path, "%s/data", dir);
    DIR *d = opendir(path);
    if (!d) {
        fprintf(f, "%s: not a cairn data directory (%s)\n", dir, cn_strerror(-errno));
        return CN_ECORRUPT;
    }
    int bad = 0;
    uint64_t rows = 0, bytes = 0, nseg = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "p-", 2) != 0)
            continue;
        char pdir[PATH_MAX];
        snprintf(pdir, sizeof pdir, "%s/%s", path, e->d_name);
        DIR *pd = opendir(pdir);
        if (!pd)
            continue;
        struct dirent *se;
        while ((se = readdir(pd)) != NULL) {
            size_t len = strlen(se->d_name);
            if (len < 5 || strcmp(se->d_name + len - 5, ".cseg") != 0)
                continue;
            char sp[PATH_MAX + 300];
            snprintf(sp, sizeof sp, "%s/%s", pdir, se->d_name);
            nseg++;
            if (inspect_segment(sp, verbose, f, &rows, &bytes) < 0)
                bad++;
        }
        closedir(pd);
    }
    closedir(d);
    snprintf(path, sizeof path, "%s/wal", dir);
    uint64_t wrec = 0, wbytes = 0, wbad = 0;
    int rc = eng__wal_verify(path, &wrec, &wbytes, &wbad);
    fprintf(f, "wal %s: records=%llu bytes=%llu torn_tail_bytes=%llu %s\n", path,
            (unsigned long long)wrec, (unsigned long long)wbytes, (unsigned long long)wbad,
            rc == 0 ? "ok" : cn_strerror(rc));
    fprintf(f, "summary: segments=%llu rows=%llu segment_bytes=%llu corrupt_segments=%d\n",
            (unsigned long long)nseg, (unsigned long long)rows, (unsigned long long)bytes, bad);
    return bad ? CN_ECORRUPT : 0;
}
