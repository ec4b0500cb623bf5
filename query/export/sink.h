/* SPDX-License-Identifier: MIT */
/*
 * sink.h - where the export writers' bytes go (issue 7): a callback sink
 * (an HTTP response, a test buffer) or an atomic file (written as PATH.tmp,
 * fsynced, renamed over PATH, directory fsynced; a reader never sees a
 * partial file and a re-export replaces PATH atomically).
 *
 * Threading: a sink and an atomic file are used by one thread at a time.
 */
#ifndef QRY_SINK_H
#define QRY_SINK_H

#include "base/base.h"

/*
 * The writer calls write() with its bytes in file order, in pieces of up
 * to a few MiB, on the writer's thread.  write returns 0, or a negative
 * code that fails the writer (e.g. CN_ECLOSED when an HTTP client went
 * away).
 */
typedef struct qry_sink {
    int (*write)(void *arg, const void *p, size_t n);
    void *arg;
} qry_sink_t;

typedef struct qry_afile qry_afile_t;

/* Creates PATH.tmp (truncating a leftover one).  Returns 0 or -errno. */
int qry_afile_open(const char *path, qry_afile_t **out /* OUT */);
/* A sink appending to the temporary file (valid until commit/abort). */
qry_sink_t qry_afile_sink(qry_afile_t *f);
/* fsync, rename PATH.tmp -> PATH, fsync the directory; frees f.  On failure
 * the temporary file is removed and PATH is untouched.  0 or -errno. */
int qry_afile_commit(qry_afile_t *f);
/* Removes PATH.tmp and frees f.  NULL is a no-op. */
void qry_afile_abort(qry_afile_t *f);

#endif /* QRY_SINK_H */
