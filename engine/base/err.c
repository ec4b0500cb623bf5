/* SPDX-License-Identifier: MIT */
/*
 * err.c - error names and messages generated from the CN_ERRORS table, plus
 * allocation wrappers and stderr logging.  These are small enough to share
 * one file and are needed by everything else.
 */
#include "base.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

const char *cn_strerror(int code)
{
    if (code == 0)
        return "ok";
    switch (code) {
#define CN__ERR_MSG(name, val, msg)                                                                \
    case val:                                                                                      \
        return msg;
        CN_ERRORS(CN__ERR_MSG)
#undef CN__ERR_MSG
    default:
        break;
    }
    if (code < 0 && code > -4096)
        return strerror(-code);
    return "unknown error";
}

const char *cn_errname(int code)
{
    switch (code) {
#define CN__ERR_NAME(name, val, msg)                                                               \
    case val:                                                                                      \
        return #name;
        CN_ERRORS(CN__ERR_NAME)
#undef CN__ERR_NAME
    case 0:
        return "OK";
    case -ENOENT:
        return "ENOENT";
    case -EIO:
        return "EIO";
    case -ENOMEM:
        return "ENOMEM";
    case -EINVAL:
        return "EINVAL";
    case -EEXIST:
        return "EEXIST";
    case -EAGAIN:
        return "EAGAIN";
    case -ENOSPC:
        return "ENOSPC";
    case -EACCES:
        return "EACCES";
    default:
        return "UNKNOWN";
    }
}

void cn__log_at(const char *file, int line, int code)
{
    cn_log(CN_LOG_DEBUG, "%s at %s:%d", cn_errname(code), file, line);
}

/* ------------------------------------------------------------ allocation */

static void oom(size_t n)
{
    fprintf(stderr, "cairn: out of memory allocating %zu bytes\n", n);
    abort();
}

void *cn_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *cn_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *cn_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *cn_strdup(const char *s)
{
    return cn_strndup(s, strlen(s));
}

char *cn_strndup(const char *s, size_t n)
{
    char *p = cn_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void cn_free(void *p)
{
    free(p);
}

/* jemalloc's control interface, resolved at link time only when jemalloc
 * is the allocator (release builds); sanitizer builds leave it NULL. */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
    __attribute__((weak));

void cn_mem_trim(void)
{
    /* 4096 is MALLCTL_ARENAS_ALL: purge every arena. */
    if (mallctl)
        mallctl("arena.4096.purge", NULL, NULL, NULL, 0);
}

/* --------------------------------------------------------------- logging */

/* The one process-wide mutable: the log threshold.  Atomic so any thread
 * may read it while the server changes it. */
static _Atomic int g_log_level = CN_LOG_INFO;

void cn_log_set_level(int level)
{
    atomic_store(&g_log_level, level);
}

int cn_log_get_level(void)
{
    return atomic_load(&g_log_level);
}

int cn_log_parse_level(const char *s)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    if (strcmp(s, "warning") == 0)
        return CN_LOG_WARN;
    return CN_ECONFIG;
}

void cn_log(int level, const char *fmt, ...)
{
    static const char *const tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    if (level > atomic_load(&g_log_level))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    /* One fprintf per line so lines from different threads do not interleave. */
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            tags[level < 0   ? 0
                 : level > 3 ? 3
                             : level],
            msg);
}

bool cn_ratelimit_ok(cn_ratelimit_t *rl, int64_t now_ns, int64_t period_ns, uint32_t burst,
                     uint32_t *suppressed)
{
    if (now_ns - rl->window_start >= period_ns) {
        rl->window_start = now_ns;
        rl->used = 0;
    }
    if (rl->used < burst) {
        rl->used++;
        *suppressed = rl->dropped;
        rl->dropped = 0;
        return true;
    }
    rl->dropped++;
    *suppressed = 0;
    return false;
}

/* ----------------------------------------------------------------- clock */

int64_t cn_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t cn_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t system_now(void *arg)
{
    (void)arg;
    return cn_now_ns();
}

cn_clock_t cn_clock_system(void)
{
    cn_clock_t c = {system_now, NULL};
    return c;
}
