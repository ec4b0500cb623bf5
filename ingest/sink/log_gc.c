/* SPDX-License-Identifier: MIT */
/*
 * log_gc.c - the sink log's housekeeping on the writer thread: deleting
 * segments every cursor has passed, and the retention policy once the
 * undelivered log exceeds its size or age limit.
 *
 *   drop-oldest  the oldest segment is deleted although some sink has not
 *                delivered it; the records each lagging sink loses are
 *                counted (mq_sink_log_dropped, the dropped metric), the
 *                cursors jump to the next segment and a warning is logged.
 *                A single (active) segment is first sealed by asking the
 *                writer to roll at its next write.
 *   stop         appends fail with CN_EFULL (counted as rejected) until
 *                delivery brings the log back under the limits; the
 *                transitions are logged.
 *
 * Age is the newest record of the oldest segment that still holds
 * undelivered records, so a segment is dropped only when all of it is
 * older than the limit.
 */
#include "sink_int.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

typedef struct cur_snap {
    uint16_t id;
    uint64_t next;
    uint64_t lost;
} cur_snap_t;

/* Counts, per sink, the records of the segment at `path` it has not
 * delivered yet.  Unreadable bytes count nothing (they were cut at open). */
static void count_lost(const char *path, cur_snap_t *cs, size_t n)
{
    uint8_t *data;
    size_t len;
    if (cn_file_read_all(path, &data, &len) < 0)
        return;
    size_t off = MQ_SINK_SEG_HDR, used;
    mq_sink_rec_t r;
    while (off < len && mq_sink_rec_parse(data + off, len - off, &r, &used) == 0) {
        for (size_t i = 0; i < n; i++)
            if (cs[i].id == r.sink && r.seq >= cs[i].next)
                cs[i].lost++;
        off += used;
    }
    cn_free(data);
}

/* Under the lock: decides what to do with the oldest segment.  Returns 1
 * to delete it as passed, 2 to drop it by policy, 0 for nothing. */
static int decide(mq_sink_log_t *log)
{
    uint64_t minc = UINT64_MAX;
    for (size_t i = 0; i < log->ncur; i++)
        if (log->curs[i].live)
            minc = CN_MIN(minc, log->curs[i].next);
    if (log->nseg > 1 && log->segs[0].end_seq <= minc)
        return 1;
    uint64_t total = 0;
    for (size_t i = 0; i < log->nseg; i++)
        total += log->segs[i].size;
    int64_t now = cn_clock_now(&log->o.clock);
    bool over_size = log->o.max_bytes && total > log->o.max_bytes;
    uint64_t end0 = log->nseg == 1 ? log->next_seq : log->nseg ? log->segs[0].end_seq : 0;
    bool over_age = log->o.max_age_ns && log->nseg && minc < end0 &&
                    log->segs[0].last_ts < now - log->o.max_age_ns;
    bool over = over_size || over_age;
    if (log->o.policy == MQ_SINK_STOP) {
        if (over != log->refusing) {
            log->refusing = over;
            if (over)
                cn_warn("sink log: undelivered log over its %s limit (%llu bytes); refusing "
                        "appends (policy stop)",
                        over_size ? "size" : "age", (unsigned long long)total);
            else
                cn_info("sink log: back under the retention limits; accepting appends");
        }
        return 0;
    }
    if (!over)
        return 0;
    if (log->nseg <= 1) {
        if (log->nseg == 1 && log->segs[0].size > MQ_SINK_SEG_HDR)
            log->roll_req = true;
        return 0;
    }
    return 2;
}

int mq__log_maintain(mq_sink_log_t *log)
{
    for (;;) {
        pthread_mutex_lock(&log->mu);
        int what = decide(log);
        if (what == 0) {
            pthread_mutex_unlock(&log->mu);
            return 0;
        }
        uint64_t base = log->segs[0].base, end = log->segs[0].end_seq;
        size_t n = log->ncur;
        cur_snap_t *cs = cn_calloc(n ? n : 1, sizeof *cs);
        for (size_t i = 0; i < n; i++) {
            cs[i].id = log->curs[i].id;
            cs[i].next = log->curs[i].next;
        }
        pthread_mutex_unlock(&log->mu);

        char path[PATH_MAX];
        mq__seg_path(log, base, path, sizeof path);
        if (what == 2)
            count_lost(path, cs, n);
        if (unlink(path) < 0 && errno != ENOENT) {
            int rc = -errno;
            cn_free(cs);
            return rc;
        }
        pthread_mutex_lock(&log->mu);
        memmove(log->segs, log->segs + 1, (log->nseg - 1) * sizeof *log->segs);
        log->nseg--;
        uint64_t lost = 0;
        for (size_t i = 0; i < n && what == 2; i++) {
            for (size_t j = 0; j < log->ncur; j++) {
                mq__cur_t *c = &log->curs[j];
                if (c->id != cs[i].id || c->next >= end)
                    continue;
                c->dropped += cs[i].lost;
                c->next = end;
                log->cursors_dirty = true;
            }
            lost += cs[i].lost;
        }
        if (what == 2) {
            log->st.dropped += lost;
            uint32_t sup;
            if (cn_ratelimit_ok(&log->rl, cn_mono_ns(), 10000000000LL, 5, &sup))
                cn_warn("sink log: retention limit reached (policy drop-oldest): dropped "
                        "segment %016llx with %llu undelivered records (%u warnings "
                        "suppressed)",
                        (unsigned long long)base, (unsigned long long)lost, sup);
        }
        pthread_mutex_unlock(&log->mu);
        cn_free(cs);
    }
}
