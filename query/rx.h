/* SPDX-License-Identifier: MIT */
/*
 * rx.h - regular expressions as InfluxQL writes them (Go's RE2 syntax),
 * compiled by glibc's POSIX engine.  Queries, the rules' WHERE and export
 * filters all go through qry_regcomp, so one pattern means one thing
 * everywhere.
 */
#ifndef CAIRN_QUERY_RX_H
#define CAIRN_QUERY_RX_H

#include "base/base.h"

#include <regex.h>
#include <stddef.h>

/* Translates the Go pattern pat into a POSIX extended one in out (NUL-
 * terminated) and the regcomp flags it needs besides REG_EXTENDED in
 * *cflags (REG_NEWLINE for (?m), else 0).  Returns NULL, or why it cannot
 * (Go's words where Go's regexp refuses the pattern too). */
const char *qry_regex_posix(const char *pat, cn_buf_t *out, int *cflags);

/* Checks the Go pattern pat as InfluxDB's parser does: NULL when it may
 * be compiled, else msg holding Go's words for why, with the part of the
 * pattern they are about ("error parsing regexp: missing closing ]: `[b`"). */
const char *qry_regex_check(const char *pat, char *msg, size_t cap);

/* NULL when the POSIX regex pattern may go to regcomp, else why not (Go's words
 * where Go's regexp also refuses it): a repetition of a repetition, a
 * count over 1000, or counted repetitions that multiply past 100,000
 * atoms - which glibc's regcomp would take gigabytes and seconds for. */
const char *qry_regex_refused(const char *pat);

/* Compiles the Go pattern pat (translated, checked by qry_regex_refused)
 * with REG_EXTENDED | REG_NOSUB.  0, or CN_EINVAL with the reason in *why
 * (a static string; may be NULL). */
int qry_regcomp(regex_t *re, const char *pat, const char **why);
/* qry_regcomp that also leaves the POSIX text in posix and its flags
 * besides REG_EXTENDED | REG_NOSUB in *cflags (for the engine's tag
 * predicates, which compile it again). */
int qry_regcomp_posix(regex_t *re, const char *pat, cn_buf_t *posix, int *cflags, const char **why);

#endif
