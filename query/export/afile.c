/* SPDX-License-Identifier: MIT */
/*
 * afile.c - the atomic file sink of sink.h: PATH.tmp, fsync, rename.
 */
#include "sink.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

struct qry_afile {
    int fd;
    char *path, *tmp;
};

static int afile_write(void *arg, const void *p, size_t n)
{
    qry_afile_t *f = arg;
    return cn_write_all(f->fd, p, n);
}

int qry_afile_open(const char *path, qry_afile_t **out)
{
    qry_afile_t *f = cn_calloc(1, sizeof *f);
    f->path = cn_strdup(path);
    size_t n = strlen(path) + 5;
    f->tmp = cn_malloc(n);
    snprintf(f->tmp, n, "%s.tmp", path);
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        int rc = -errno;
        cn_free(f->path);
        cn_free(f->tmp);
        cn_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

qry_sink_t qry_afile_sink(qry_afile_t *f)
{
    return (qry_sink_t){.write = afile_write, .arg = f};
}

static void afile_free(qry_afile_t *f)
{
    if (f->fd >= 0)
        close(f->fd);
    cn_free(f->path);
    cn_free(f->tmp);
    cn_free(f);
}

int qry_afile_commit(qry_afile_t *f)
{
    int rc = fsync(f->fd) < 0 ? -errno : 0;
    if (close(f->fd) < 0 && rc == 0)
        rc = -errno;
    f->fd = -1;
    if (rc == 0 && rename(f->tmp, f->path) < 0)
        rc = -errno;
    if (rc < 0) {
        unlink(f->tmp);
        afile_free(f);
        return rc;
    }
    char *slash = strrchr(f->path, '/');
    if (slash)
        *(slash == f->path ? slash + 1 : slash) = '\0';
    rc = cn_fsync_dir(slash ? f->path : ".");
    afile_free(f);
    return rc;
}

void qry_afile_abort(qry_afile_t *f)
{
    if (!f)
        return;
    unlink(f->tmp);
    afile_free(f);
}
