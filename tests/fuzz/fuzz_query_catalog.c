/* SPDX-License-Identifier: MIT */
/*
 * fuzz_query_catalog.c - libFuzzer target for the query catalog's file
 * (query/exec/show.c, DATA-DIR/databases: "db", "rp" and "cq" records,
 * names %XX-escaped, continuous queries length-prefixed).  The input is
 * written as that file and opened; whatever loads must answer SHOW
 * DATABASES, SHOW RETENTION POLICIES and SHOW CONTINUOUS QUERIES, every
 * continuous query it lists must parse for running, and the catalog must
 * save (a CREATE DATABASE) and load again with the same continuous queries.
 */
#include "query/exec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void run(qry_catalog_t *cat, const char *q)
{
    qry_query_t *pq;
    qry_error_t err;
    check(qry_parse(q, strlen(q), &pq, &err) == 0);
    qry_exec_opts_t o = {.cat = cat, .dbname = "db", .threads = 1};
    qry_result_t *r = NULL;
    check(qry_exec_stmt(&pq->stmts[0], &o, &r) == 0);
    qry_result_free(r);
    qry_query_free(pq);
}

static size_t cq_count(qry_catalog_t *cat, bool parse)
{
    size_t n;
    char **t = qry_catalog_cqs(cat, &n);
    for (size_t i = 0; i < n; i++) {
        if (parse) {
            qry_cq_t *cq;
            qry_error_t err;
            check(qry_cq_parse(t[i], &cq, &err) == 0);
            qry_cq_free(cq);
        }
        cn_free(t[i]);
    }
    cn_free(t);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz_qcat.%d", (int)getpid());
    FILE *f = fopen(path, "w");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    qry_catalog_t *cat;
    check(qry_catalog_open(path, &cat) == 0);
    run(cat, "SHOW DATABASES");
    run(cat, "SHOW RETENTION POLICIES ON db");
    run(cat, "SHOW CONTINUOUS QUERIES");
    size_t n = cq_count(cat, true);
    run(cat, "CREATE DATABASE \"fuzz\\n%db\"");
    qry_catalog_close(cat);
    check(qry_catalog_open(path, &cat) == 0);
    check(cq_count(cat, false) == n);
    qry_catalog_close(cat);
    unlink(path);
    char tmp[80];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    return 0;
}
