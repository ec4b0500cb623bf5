/* SPDX-License-Identifier: MIT */
/*
 * fuzz_catalog.c - libFuzzer target for the series catalog's readers
 * (engine/catalog.c): the input is applied as catalog records (the form
 * they take in WAL records) to an empty catalog, then written as a whole
 * catalog.log and loaded, which must either succeed (truncating a torn
 * tail) or fail with CN_ECORRUPT / CN_EVERSION.  Every series the catalog
 * then holds must be reachable through its measurement's postings.
 */
#include "engine/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void check_series(eng__cat_t *c)
{
    for (uint64_t sid = 1; sid <= eng__cat_max_sid(c); sid++) {
        eng__series_t *s = eng__cat_series_get(c, sid);
        if (!s || s->dead)
            continue;
        eng__meas_t *m = eng__cat_meas_by_id(c, s->mid);
        check(m != NULL);
        for (uint32_t t = 0; t < s->ntags; t++) {
            size_t n;
            const uint64_t *ids = eng__cat_postings(c, m, s->tags[t].key, s->tags[t].val, &n);
            bool found = false;
            for (size_t i = 0; i < n; i++)
                found |= ids[i] == sid;
            check(found);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[] = "/tmp/cairn-fuzz-cat-XXXXXX";
    check(mkdtemp(dir) != NULL);
    eng__cat_t *c = NULL;
    check(eng__cat_open(dir, &c) == 0);
    int rc = eng__cat_apply(c, data, size, (size & 1) != 0);
    check(rc == 0 || rc == CN_ECORRUPT || rc == CN_ETRUNC);
    check_series(c);
    eng__cat_close(c);

    char path[600];
    snprintf(path, sizeof path, "%s/catalog.log", dir);
    FILE *f = fopen(path, "wb");
    check(f != NULL);
    check(size == 0 || fwrite(data, 1, size, f) == size);
    check(fclose(f) == 0);
    rc = eng__cat_open(dir, &c);
    check(rc == 0 || rc == CN_ECORRUPT || rc == CN_EVERSION);
    if (rc == 0) {
        check_series(c);
        eng__cat_close(c);
    }
    unlink(path);
    rmdir(dir);
    return 0;
}
