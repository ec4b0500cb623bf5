/* SPDX-License-Identifier: MIT */
/*
 * dump.c - test helper: opens a data directory (of a server that is not
 * running) through the engine API and prints every stored row as one line
 *
 *   measurement,tag=val,... field=value,... ts
 *
 * series in id order, rows in time order, fields in catalog order; floats
 * with %.17g, integers with an `i` suffix, bools as true/false, strings
 * quoted.  The integration tests sort it and compare it with what they
 * wrote.  Usage: cairn_dump DIR.  Exit 0, or 1 with a message.
 */
#include "engine.h"

#include <inttypes.h>
#include <stdio.h>

static void print_value(eng_type_t t, const void *vals, uint32_t row)
{
    switch (t) {
    case ENG_T_FLOAT:
        printf("%.17g", ((const double *)vals)[row]);
        break;
    case ENG_T_INT:
        printf("%" PRId64 "i", ((const int64_t *)vals)[row]);
        break;
    case ENG_T_BOOL:
        printf("%s", ((const uint8_t *)vals)[row] ? "true" : "false");
        break;
    default: {
        const eng_str_t *s = &((const eng_str_t *)vals)[row];
        printf("\"%.*s\"", (int)s->len, s->p);
    }
    }
}

static int dump_series(eng_snap_t *s, const char *meas, uint64_t sid, const eng_field_info_t *fi,
                       size_t nf)
{
    const eng_tag_t *tags;
    uint32_t ntags;
    int rc = eng_snap_series_tags(s, sid, &tags, &ntags);
    if (rc < 0)
        return rc;
    uint32_t ids[ENG_MAX_FIELDS];
    for (size_t i = 0; i < nf; i++)
        ids[i] = fi[i].id;
    eng_iter_t *it;
    rc = eng_iter_open(s, sid, ids, nf, INT64_MIN, INT64_MAX, &it);
    if (rc < 0)
        return rc;
    eng_batch_t b;
    while ((rc = eng_iter_next(it, &b)) > 0) {
        for (uint32_t r = 0; r < b.n; r++) {
            bool any = false;
            for (size_t f = 0; f < nf; f++)
                any = any || b.valid[f][r];
            if (!any)
                continue;
            printf("%s", meas);
            for (uint32_t t = 0; t < ntags; t++)
                printf(",%s=%s", tags[t].key, tags[t].val);
            bool first = true;
            for (size_t f = 0; f < nf; f++) {
                if (!b.valid[f][r])
                    continue;
                printf("%c%s=", first ? ' ' : ',', fi[f].name);
                first = false;
                print_value(fi[f].type, b.vals[f], r);
            }
            printf(" %" PRId64 "\n", b.ts[r]);
        }
    }
    eng_iter_close(it);
    return rc;
}

static int dump(eng_db_t *db)
{
    eng_snap_t *s;
    int rc = eng_snap_open(db, &s);
    if (rc < 0)
        return rc;
    const char **meas;
    size_t nm = eng_snap_measurements(s, &meas);
    for (size_t m = 0; m < nm && rc >= 0; m++) {
        const eng_field_info_t *fi;
        size_t nf = eng_snap_fields(s, meas[m], &fi);
        uint64_t *sids = NULL;
        int ns = eng_snap_select(s, meas[m], NULL, 0, &sids);
        rc = ns < 0 ? ns : 0;
        for (int i = 0; i < ns && rc >= 0; i++)
            rc = dump_series(s, meas[m], sids[i], fi, nf);
        cn_free(sids);
    }
    eng_snap_close(s);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: cairn_dump DIR\n");
        return 1;
    }
    eng_opts_t o;
    eng_opts_default(&o);
    o.dir = argv[1];
    o.durability = ENG_DUR_OS;
    o.background = false;
    eng_db_t *db;
    int rc = eng_open(&o, &db);
    if (rc < 0) {
        fprintf(stderr, "cairn_dump: %s: %s\n", argv[1], cn_strerror(rc));
        return 1;
    }
    rc = dump(db);
    fflush(stdout);
    eng_close(db);
    if (rc < 0) {
        fprintf(stderr, "cairn_dump: %s\n", cn_strerror(rc));
        return 1;
    }
    return 0;
}
