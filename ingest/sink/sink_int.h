/* SPDX-License-Identifier: MIT */
/*
 * sink_int.h - internals shared by the files of ingest/sink/: the log's
 * structure (log.c, log_gc.c, log_read.c) and the delivery machinery
 * (deliver.c, kafka.c, webhook.c, sys.c).
 */
#ifndef MQ_SINK_INT_H
#define MQ_SINK_INT_H

#include "sink.h"

#include <pthread.h>

/* One segment file; the last one is active (being appended to). */
typedef struct mq__seg {
    uint64_t base;    /* first seq inside (the file name) */
    uint64_t end_seq; /* seq after its last record (next segment's base once sealed) */
    uint64_t size;    /* bytes written */
    uint64_t durable; /* bytes fsynced, readable (NOTES 2 in log.c) */
    int64_t last_ts;  /* newest record ts (file mtime for segments found at open) */
} mq__seg_t;

typedef struct mq__cur {
    char *name;
    uint16_t id;
    bool live;        /* registered in this run */
    uint64_t next;    /* cursor: next record to deliver */
    uint64_t dropped; /* records skipped by drop-oldest since open */
} mq__cur_t;

struct mq_sink_log {
    mq_sink_log_opts_t o;
    char *dir;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* writer: work arrived */
    pthread_cond_t done; /* waiters: a writer cycle ended */
    cn_buf_t pend;       /* encoded records not yet written */
    uint64_t pend_n;
    int64_t pend_max_ts;
    uint64_t next_seq, durable_seq;
    mq__seg_t *segs;
    size_t nseg, segcap;
    mq__cur_t *curs;
    size_t ncur, curcap;
    unsigned next_id;
    bool started, stopping, exited, cursors_dirty, refusing, roll_req;
    uint64_t sync_req, sync_done;
    int err; /* sticky writer error */
    int fd;  /* active segment, writer thread only */
    pthread_t thr;
    mq_sink_durable_cb cb;
    void *cb_arg;
    mq_sink_log_stats_t st;
    cn_ratelimit_t rl;
};

void mq__seg_path(const mq_sink_log_t *log, uint64_t base, char *out, size_t n);
/* Writer thread, no lock held: deletes passed segments, applies the
 * retention policy.  Returns 0 or -errno. */
int mq__log_maintain(mq_sink_log_t *log);

#endif /* MQ_SINK_INT_H */
