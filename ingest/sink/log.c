/* SPDX-License-Identifier: MIT */
/*
 * log.c - the durable sink log: appends from any thread go to a pending
 * buffer; one writer thread writes them to the active segment, fsyncs
 * (group commit: everything appended during one fsync rides the next),
 * publishes the durable sequence number, persists the cursor file and
 * deletes or drops segments.  Readers (mq_sink_log_read, in log_read.c)
 * only see durable bytes.
 *
 * Directory <dir>/:
 *   <base seq, 16 hex digits>.seg   segments, base = first seq inside
 *   cursors                         cursor file, replaced atomically
 *
 * Segment header (16 bytes): magic "CNSKLOG1" (8), base seq u64 LE.
 * Records follow back to back (format in record.c).
 *
 * Cursor file (text, written with cn_file_write_atomic):
 *   cairn-sink-cursors 1 <next_id> <next_seq>
 *   <id> <cursor> <name>            one line per sink
 * next_seq keeps sequence numbers increasing when every segment was
 * deleted; next_id keeps ids of removed sinks from being reused (their
 * records could still be in the log).
 *
 * NOTES
 *  1. Sequence numbers increase by one inside a segment; a sealed
 *     segment's records lie in [base, next segment's base).  A gap between
 *     segments exists only after a cut tail whose seqs the cursor file had
 *     already announced.
 *  2. durable_seq only grows; every byte of segment i below segs[i].durable
 *     holds records with seq < durable_seq, fsynced (unless no_fsync).
 *  3. Only the writer thread touches segment files for writing, renames
 *     or deletes them; readers open segments read-only and tolerate
 *     ENOENT (a segment dropped by retention).
 *  4. A cursor (next record to deliver) only grows; drop-oldest moves
 *     lagging cursors to the base of the oldest kept segment and counts
 *     the records they skipped.
 *  5. Recovery (mq_sink_log_open): the last segment is scanned and cut at
 *     the first torn or corrupt record (a crash mid-write, duplicates are
 *     fine because cursors only advance over delivered records).
 *  6. A segment's age (max-age retention, mq__seg_t.last_ts) is the log's
 *     clock when its newest record was appended (the file's mtime for
 *     segments found at open), never the records' own timestamps: callers
 *     may stamp records with an event time that is long past (a backfill,
 *     a device clock), and such a record must not count as expired the
 *     moment it is appended.
 */
#include "sink_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char SEG_MAGIC[8] = {'C', 'N', 'S', 'K', 'L', 'O', 'G', '1'};

void mq__seg_path(const mq_sink_log_t *log, uint64_t base, char *out, size_t n)
{
    snprintf(out, n, "%s/%016" PRIx64 ".seg", log->dir, base);
}

/* ------------------------------------------------------------ segments */

static mq__seg_t *seg_push(mq_sink_log_t *log, uint64_t base)
{
    if (log->nseg == log->segcap) {
        log->segcap = log->segcap ? log->segcap * 2 : 16;
        log->segs = cn_realloc(log->segs, log->segcap * sizeof *log->segs);
    }
    mq__seg_t *s = &log->segs[log->nseg++];
    memset(s, 0, sizeof *s);
    s->base = base;
    s->end_seq = base;
    return s;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Scans the last segment: finds its end and cuts a torn tail (NOTES 5). */
static int recover_tail(mq_sink_log_t *log, mq__seg_t *s)
{
    char path[PATH_MAX];
    mq__seg_path(log, s->base, path, sizeof path);
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = cn_file_read_all(path, &data, &len);
    if (rc < 0)
        return rc;
    size_t off = 0;
    uint64_t want = s->base;
    if (len >= MQ_SINK_SEG_HDR && memcmp(data, SEG_MAGIC, 8) == 0 && cn_ld64(data + 8) == s->base) {
        off = MQ_SINK_SEG_HDR;
        mq_sink_rec_t r;
        size_t used;
        while (mq_sink_rec_parse(data + off, len - off, &r, &used) == 0 && r.seq == want) {
            off += used;
            want++;
        }
    }
    cn_free(data);
    if (off < len) {
        cn_warn("sink log: %s: cutting %zu bytes of torn or corrupt tail at offset %zu", path,
                len - off, off);
        log->st.truncated += len - off;
        if (off < MQ_SINK_SEG_HDR) {
            /* Not even a header: the segment was being created. */
            if (unlink(path) < 0)
                return -errno;
            log->nseg--;
            return cn_fsync_dir(log->dir);
        }
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        rc = ftruncate(fd, (off_t)off) < 0 || fsync(fd) < 0 ? -errno : 0;
        close(fd);
        if (rc < 0)
            return rc;
    }
    s->size = s->durable = off;
    s->end_seq = want;
    return 0;
}

static int list_segments(mq_sink_log_t *log)
{
    DIR *d = opendir(log->dir);
    if (!d)
        return -errno;
    uint64_t *bases = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        if (strlen(e->d_name) != 20 || strcmp(e->d_name + 16, ".seg") != 0)
            continue;
        uint64_t b = strtoull(e->d_name, &end, 16);
        if (end != e->d_name + 16 || b == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            bases = cn_realloc(bases, cap * sizeof *bases);
        }
        bases[n++] = b;
    }
    closedir(d);
    if (n)
        qsort(bases, n, sizeof *bases, cmp_u64);
    for (size_t i = 0; i < n; i++) {
        mq__seg_t *s = seg_push(log, bases[i]);
        char path[PATH_MAX];
        struct stat st;
        mq__seg_path(log, s->base, path, sizeof path);
        if (stat(path, &st) < 0) {
            cn_free(bases);
            return -errno;
        }
        s->size = s->durable = (uint64_t)st.st_size;
        s->last_ts = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        if (i > 0)
            log->segs[i - 1].end_seq = s->base;
    }
    cn_free(bases);
    if (log->nseg == 0)
        return 0;
    return recover_tail(log, &log->segs[log->nseg - 1]);
}

/* ------------------------------------------------------------- cursors */

static mq__cur_t *cur_find(mq_sink_log_t *log, uint16_t id)
{
    for (size_t i = 0; i < log->ncur; i++)
        if (log->curs[i].id == id)
            return &log->curs[i];
    return NULL;
}

static mq__cur_t *cur_add(mq_sink_log_t *log, const char *name, uint16_t id, uint64_t next)
{
    if (log->ncur == log->curcap) {
        log->curcap = log->curcap ? log->curcap * 2 : 8;
        log->curs = cn_realloc(log->curs, log->curcap * sizeof *log->curs);
    }
    mq__cur_t *c = &log->curs[log->ncur++];
    memset(c, 0, sizeof *c);
    c->name = cn_strdup(name);
    c->id = id;
    c->next = next;
    return c;
}

static bool name_ok(const char *s)
{
    if (!*s || strlen(s) > 200)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return false;
    return true;
}

static int read_cursors(mq_sink_log_t *log, uint64_t *seq_hint)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/cursors", log->dir);
    uint8_t *data;
    size_t len;
    int rc = cn_file_read_all(path, &data, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    char *text = cn_strndup((const char *)data, len);
    cn_free(data);
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    unsigned ver, next_id;
    unsigned long long nseq;
    rc = 0;
    if (!line || sscanf(line, "cairn-sink-cursors %u %u %llu", &ver, &next_id, &nseq) != 3 ||
        ver != 1 || next_id > 65536) {
        rc = CN_CORRUPT();
        goto out;
    }
    log->next_id = next_id;
    *seq_hint = nseq;
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        unsigned id;
        unsigned long long cur;
        char name[256];
        if (sscanf(line, "%u %llu %255s", &id, &cur, name) != 3 || id >= next_id ||
            !name_ok(name)) {
            rc = CN_CORRUPT();
            goto out;
        }
        cur_add(log, name, (uint16_t)id, cur);
    }
out:
    cn_free(text);
    return rc;
}

/* Writer thread, without the lock: `snap` is a copy of the cursor lines. */
static int write_cursors(mq_sink_log_t *log, const cn_buf_t *snap)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/cursors", log->dir);
    if (log->o.no_fsync) {
        FILE *f = fopen(path, "w");
        if (!f)
            return -errno;
        size_t w = fwrite(snap->p, 1, snap->len, f);
        int rc = fclose(f) != 0 || w != snap->len ? -EIO : 0;
        return rc;
    }
    return cn_file_write_atomic(path, snap->p, snap->len);
}

/* Under the lock. */
static void snapshot_cursors(mq_sink_log_t *log, cn_buf_t *out)
{
    char line[320];
    cn_buf_reset(out);
    int n = snprintf(line, sizeof line, "cairn-sink-cursors 1 %u %" PRIu64 "\n",
                     (unsigned)log->next_id, log->next_seq);
    cn_buf_put(out, line, (size_t)n);
    for (size_t i = 0; i < log->ncur; i++) {
        const mq__cur_t *c = &log->curs[i];
        n = snprintf(line, sizeof line, "%u %" PRIu64 " %s\n", (unsigned)c->id, c->next, c->name);
        cn_buf_put(out, line, (size_t)n);
    }
}

/* ---------------------------------------------------------------- open */

int mq_sink_log_open(const mq_sink_log_opts_t *opts, mq_sink_log_t **out)
{
    if (!opts->dir || !*opts->dir)
        return CN_EINVAL;
    int rc = cn_mkdirs(opts->dir, 0755);
    if (rc < 0)
        return rc;
    mq_sink_log_t *log = cn_calloc(1, sizeof *log);
    log->o = *opts;
    log->dir = cn_strdup(opts->dir);
    log->o.dir = log->dir;
    if (!log->o.segment_bytes)
        log->o.segment_bytes = 64u << 20;
    if (!log->o.max_pending)
        log->o.max_pending = 64u << 20;
    if (!log->o.cursor_every_ns)
        log->o.cursor_every_ns = 100 * 1000000LL;
    if (!log->o.clock.now_ns)
        log->o.clock = cn_clock_system();
    log->fd = -1;
    cn_buf_init(&log->pend);
    cn_buf_init(&log->dl_pend);
    pthread_mutex_init(&log->mu, NULL);
    pthread_cond_init(&log->wake, NULL);
    pthread_cond_init(&log->done, NULL);
    uint64_t hint = 1;
    rc = read_cursors(log, &hint);
    if (rc == 0)
        rc = list_segments(log);
    if (rc < 0) {
        mq_sink_log_close(log);
        return rc;
    }
    uint64_t next = CN_MAX(hint, 1);
    if (log->nseg)
        next = CN_MAX(next, log->segs[log->nseg - 1].end_seq);
    for (size_t i = 0; i < log->ncur; i++)
        next = CN_MAX(next, log->curs[i].next);
    /* A cut tail below the hint leaves a gap: start a new segment so that
     * seqs stay consecutive inside each segment (NOTES 1, 5). */
    if (log->nseg && next != log->segs[log->nseg - 1].end_seq)
        log->roll_req = true;
    log->next_seq = log->durable_seq = next;
    *out = log;
    return 0;
}

int mq_sink_log_sink(mq_sink_log_t *log, const char *name, uint16_t *id)
{
    if (!name_ok(name))
        return CN_EINVAL;
    pthread_mutex_lock(&log->mu);
    int rc = 0;
    mq__cur_t *c = NULL;
    for (size_t i = 0; i < log->ncur && !c; i++)
        if (strcmp(log->curs[i].name, name) == 0)
            c = &log->curs[i];
    if (!c && log->next_id >= 65535) {
        rc = CN_ELIMIT;
    } else {
        if (!c) {
            c = cur_add(log, name, (uint16_t)log->next_id++, log->next_seq);
            log->cursors_dirty = log->started;
        }
        c->live = true;
        *id = c->id;
    }
    pthread_mutex_unlock(&log->mu);
    return rc;
}

void mq_sink_log_forget(mq_sink_log_t *log, uint16_t id)
{
    pthread_mutex_lock(&log->mu);
    for (size_t i = 0; i < log->ncur; i++) {
        if (log->curs[i].id != id)
            continue;
        cn_free(log->curs[i].name);
        log->curs[i] = log->curs[--log->ncur];
        log->cursors_dirty = true;
        pthread_cond_signal(&log->wake);
        break;
    }
    pthread_mutex_unlock(&log->mu);
}

/* ---------------------------------------------------------------- append */

int mq_sink_log_append(mq_sink_log_t *log, const mq_sink_rec_t *rec, uint64_t *seq)
{
    if (rec->key_len > MQ_SINK_MAX_KEY || rec->topic_len > MQ_SINK_MAX_KEY ||
        rec->payload_len > MQ_SINK_MAX_PAYLOAD)
        return CN_ELIMIT;
    mq_sink_rec_t r = *rec;
    int64_t now = cn_clock_now(&log->o.clock);
    if (r.ts_ns == 0)
        r.ts_ns = now;
    pthread_mutex_lock(&log->mu);
    int rc = 0;
    mq__cur_t *c = cur_find(log, r.sink);
    if (log->err)
        rc = log->err;
    else if (log->stopping)
        rc = CN_ECLOSED;
    else if (!c || !c->live)
        rc = CN_ENOTFOUND;
    else if (log->refusing || log->pend.len > log->o.max_pending)
        rc = CN_EFULL;
    if (rc < 0) {
        if (rc == CN_EFULL)
            log->st.rejected++;
        pthread_mutex_unlock(&log->mu);
        return rc;
    }
    r.seq = log->next_seq++;
    mq_sink_rec_encode(&r, &log->pend);
    log->pend_max_ts = CN_MAX(log->pend_max_ts, now); /* age: NOTES 6 */
    log->st.appended++;
    log->pend_n++;
    bool was_idle = log->pend.len == MQ_SINK_REC_HDR + r.key_len + r.topic_len + r.payload_len;
    pthread_mutex_unlock(&log->mu);
    if (was_idle)
        pthread_cond_signal(&log->wake);
    if (seq)
        *seq = r.seq;
    return 0;
}

uint64_t mq_sink_log_durable(mq_sink_log_t *log)
{
    pthread_mutex_lock(&log->mu);
    uint64_t d = log->durable_seq;
    pthread_mutex_unlock(&log->mu);
    return d;
}

int mq_sink_log_wait(mq_sink_log_t *log, uint64_t seq)
{
    pthread_mutex_lock(&log->mu);
    while (log->durable_seq <= seq && !log->err && log->started && !log->exited)
        pthread_cond_wait(&log->done, &log->mu);
    int rc = log->durable_seq > seq ? 0 : log->err ? log->err : CN_ECLOSED;
    pthread_mutex_unlock(&log->mu);
    return rc;
}

void mq_sink_log_commit(mq_sink_log_t *log, uint16_t id, uint64_t next)
{
    pthread_mutex_lock(&log->mu);
    mq__cur_t *c = cur_find(log, id);
    if (c && next > c->next) {
        c->next = next;
        if (!log->cursors_dirty) {
            log->cursors_dirty = true;
            pthread_cond_signal(&log->wake);
        }
    }
    pthread_mutex_unlock(&log->mu);
}

uint64_t mq_sink_log_cursor(mq_sink_log_t *log, uint16_t id)
{
    pthread_mutex_lock(&log->mu);
    mq__cur_t *c = cur_find(log, id);
    uint64_t v = c ? c->next : 0;
    pthread_mutex_unlock(&log->mu);
    return v;
}

uint64_t mq_sink_log_dropped(mq_sink_log_t *log, uint16_t id)
{
    pthread_mutex_lock(&log->mu);
    mq__cur_t *c = cur_find(log, id);
    uint64_t v = c ? c->dropped : 0;
    pthread_mutex_unlock(&log->mu);
    return v;
}

void mq_sink_log_stats(mq_sink_log_t *log, mq_sink_log_stats_t *st)
{
    pthread_mutex_lock(&log->mu);
    *st = log->st;
    st->next_seq = log->next_seq;
    st->durable_seq = log->durable_seq;
    st->segments = log->nseg;
    st->bytes = 0;
    for (size_t i = 0; i < log->nseg; i++)
        st->bytes += log->segs[i].size;
    st->oldest_ts_ns = log->nseg ? log->segs[0].last_ts : 0;
    st->refusing = log->refusing;
    pthread_mutex_unlock(&log->mu);
}

int mq_sink_log_sync(mq_sink_log_t *log)
{
    pthread_mutex_lock(&log->mu);
    uint64_t gen = ++log->sync_req;
    pthread_cond_signal(&log->wake);
    while (log->sync_done < gen && !log->exited && log->started)
        pthread_cond_wait(&log->done, &log->mu);
    int rc = log->err;
    pthread_mutex_unlock(&log->mu);
    return rc;
}

/* ---------------------------------------------------------------- close */

void mq_sink_log_close(mq_sink_log_t *log)
{
    if (!log)
        return;
    if (log->started) {
        pthread_mutex_lock(&log->mu);
        log->stopping = true;
        pthread_cond_signal(&log->wake);
        pthread_mutex_unlock(&log->mu);
        pthread_join(log->thr, NULL);
    }
    if (log->fd >= 0)
        close(log->fd);
    for (size_t i = 0; i < log->ncur; i++)
        cn_free(log->curs[i].name);
    cn_free(log->curs);
    cn_free(log->segs);
    cn_buf_free(&log->pend);
    cn_buf_free(&log->dl_pend);
    pthread_cond_destroy(&log->wake);
    pthread_cond_destroy(&log->done);
    pthread_mutex_destroy(&log->mu);
    cn_free(log->dir);
    cn_free(log);
}

/* ------------------------------------------------------------- writer */

/* Writer thread, no lock held: creates the segment file for `base`. */
static int create_segment(mq_sink_log_t *log, uint64_t base)
{
    char path[PATH_MAX];
    mq__seg_path(log, base, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    uint8_t hdr[MQ_SINK_SEG_HDR];
    memcpy(hdr, SEG_MAGIC, 8);
    cn_st64(hdr + 8, base);
    int rc = cn_write_all(fd, hdr, sizeof hdr);
    if (rc == 0 && !log->o.no_fsync)
        rc = fsync(fd) < 0 ? -errno : cn_fsync_dir(log->dir);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

/*
 * Writer thread: writes buf (records first..) to the active segment,
 * rolling first when it would pass segment_bytes.  Segment metadata
 * changes under the lock; the I/O happens outside it.
 */
static int write_batch(mq_sink_log_t *log, const cn_buf_t *buf, uint64_t first, int64_t max_ts)
{
    pthread_mutex_lock(&log->mu);
    mq__seg_t *act = log->nseg ? &log->segs[log->nseg - 1] : NULL;
    bool roll = !act || log->fd < 0 || log->roll_req ||
                (act->size > MQ_SINK_SEG_HDR && act->size + buf->len > log->o.segment_bytes);
    uint64_t off = act ? act->size : 0;
    pthread_mutex_unlock(&log->mu);
    if (roll && act && act->size <= MQ_SINK_SEG_HDR && log->fd >= 0)
        roll = false; /* an empty active segment takes the batch */
    if (roll) {
        int fd = create_segment(log, first);
        if (fd < 0)
            return fd;
        if (log->fd >= 0)
            close(log->fd);
        log->fd = fd;
        off = MQ_SINK_SEG_HDR;
        pthread_mutex_lock(&log->mu);
        if (log->nseg)
            log->segs[log->nseg - 1].end_seq = first;
        mq__seg_t *s = seg_push(log, first);
        s->size = s->durable = MQ_SINK_SEG_HDR;
        log->roll_req = false;
        pthread_mutex_unlock(&log->mu);
    }
    const uint8_t *p = buf->p;
    size_t n = buf->len;
    while (n) {
        ssize_t w = pwrite(log->fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    pthread_mutex_lock(&log->mu);
    log->segs[log->nseg - 1].size = off;
    pthread_mutex_unlock(&log->mu);
    if (!log->o.no_fsync && fdatasync(log->fd) < 0)
        return -errno;
    pthread_mutex_lock(&log->mu);
    mq__seg_t *s = &log->segs[log->nseg - 1];
    s->durable = off;
    s->last_ts = CN_MAX(s->last_ts, max_ts);
    (void)first;
    pthread_mutex_unlock(&log->mu);
    return 0;
}

/* Writer thread: appends dead-letter lines (deadletter.jsonl, JSON lines). */
static int write_deadletters(mq_sink_log_t *log, const cn_buf_t *dl)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/deadletter.jsonl", log->dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = cn_write_all(fd, dl->p, dl->len);
    if (rc == 0 && !log->o.no_fsync && fdatasync(fd) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

void mq__log_deadletter(mq_sink_log_t *log, const char *sink, const mq_sink_rec_t *rec,
                        uint32_t attempts, const char *error)
{
    cn_buf_t line;
    cn_buf_init(&line);
    char num[96];
    cn_buf_put(&line, "{\"sink\":", 8);
    mq__json_str(&line, sink, strlen(sink));
    int n = snprintf(num, sizeof num, ",\"seq\":%" PRIu64 ",\"ts\":%" PRId64 ",\"attempts\":%u,",
                     rec->seq, rec->ts_ns, attempts);
    cn_buf_put(&line, num, (size_t)n);
    cn_buf_put(&line, "\"key\":", 6);
    mq__json_str(&line, rec->key, rec->key_len);
    cn_buf_put(&line, ",\"topic\":", 9);
    mq__json_str(&line, rec->topic, rec->topic_len);
    cn_buf_put(&line, ",\"error\":", 9);
    mq__json_str(&line, error, strlen(error));
    cn_buf_put(&line, ",\"payload\":", 11);
    mq__json_str(&line, rec->payload, rec->payload_len);
    cn_buf_put(&line, "}\n", 2);
    pthread_mutex_lock(&log->mu);
    cn_buf_put(&log->dl_pend, line.p, line.len);
    pthread_mutex_unlock(&log->mu);
    pthread_cond_signal(&log->wake);
    cn_buf_free(&line);
}

static void timespec_after(struct timespec *ts, int64_t ns)
{
    clock_gettime(CLOCK_REALTIME, ts);
    int64_t t = (int64_t)ts->tv_nsec + ns;
    ts->tv_sec += (time_t)(t / 1000000000);
    ts->tv_nsec = (long)(t % 1000000000);
}

static void *writer_main(void *arg)
{
    mq_sink_log_t *log = arg;
    cn_buf_t local, snap, dl;
    cn_buf_init(&local);
    cn_buf_init(&dl);
    cn_buf_init(&snap);
    int64_t last_cursor_write = 0;
    pthread_mutex_lock(&log->mu);
    for (;;) {
        int64_t now = cn_mono_ns();
        bool cursor_due = log->cursors_dirty && now - last_cursor_write >= log->o.cursor_every_ns;
        if (!log->stopping && log->pend.len == 0 && log->dl_pend.len == 0 &&
            log->sync_req == log->sync_done && !cursor_due) {
            struct timespec ts;
            int64_t wait = log->cursors_dirty
                               ? log->o.cursor_every_ns - (now - last_cursor_write)
                               : 1000000000LL; /* age retention is checked every second */
            timespec_after(&ts, wait);
            pthread_cond_timedwait(&log->wake, &log->mu, &ts);
            if (log->pend.len == 0 && log->dl_pend.len == 0 && !log->stopping &&
                log->sync_req == log->sync_done &&
                !(log->cursors_dirty &&
                  cn_mono_ns() - last_cursor_write >= log->o.cursor_every_ns)) {
                pthread_mutex_unlock(&log->mu);
                mq__log_maintain(log);
                pthread_mutex_lock(&log->mu);
                continue;
            }
        }
        cn_buf_t tmp = log->pend;
        log->pend = local;
        local = tmp;
        tmp = log->dl_pend;
        log->dl_pend = dl;
        dl = tmp;
        uint64_t first = log->next_seq - log->pend_n;
        uint64_t end = log->next_seq;
        log->pend_n = 0;
        int64_t max_ts = log->pend_max_ts;
        log->pend_max_ts = 0;
        uint64_t sync_gen = log->sync_req;
        bool stopping = log->stopping;
        bool want_cursor = log->cursors_dirty || stopping; /* final write: next_seq hint */
        if (want_cursor) {
            log->cursors_dirty = false;
            snapshot_cursors(log, &snap);
        }
        pthread_mutex_unlock(&log->mu);

        int rc = 0;
        if (local.len)
            rc = write_batch(log, &local, first, max_ts);
        cn_buf_reset(&local);
        if (rc == 0 && dl.len)
            rc = write_deadletters(log, &dl);
        cn_buf_reset(&dl);
        if (rc == 0 && want_cursor) {
            rc = write_cursors(log, &snap);
            last_cursor_write = cn_mono_ns();
        }
        if (rc == 0)
            rc = mq__log_maintain(log);

        pthread_mutex_lock(&log->mu);
        if (rc < 0 && !log->err) {
            cn_error("sink log %s: %s; appends fail from now on", log->dir, cn_strerror(rc));
            log->err = rc;
        }
        if (rc == 0)
            log->durable_seq = end;
        log->sync_done = sync_gen;
        pthread_cond_broadcast(&log->done);
        mq_sink_durable_cb cb = log->cb;
        void *cb_arg = log->cb_arg;
        uint64_t durable = log->durable_seq;
        if (stopping && log->pend.len == 0 && log->dl_pend.len == 0 && !log->cursors_dirty)
            break;
        if (log->err && stopping)
            break;
        pthread_mutex_unlock(&log->mu);
        if (cb)
            cb(cb_arg, durable);
        pthread_mutex_lock(&log->mu);
    }
    log->exited = true;
    pthread_cond_broadcast(&log->done);
    pthread_mutex_unlock(&log->mu);
    cn_buf_free(&local);
    cn_buf_free(&snap);
    cn_buf_free(&dl);
    return NULL;
}

int mq_sink_log_start(mq_sink_log_t *log, mq_sink_durable_cb cb, void *arg)
{
    pthread_mutex_lock(&log->mu);
    if (log->started) {
        pthread_mutex_unlock(&log->mu);
        return CN_EINVAL;
    }
    /* Forget sinks that were not registered (their backlog is dropped). */
    size_t w = 0;
    for (size_t i = 0; i < log->ncur; i++) {
        if (log->curs[i].live) {
            log->curs[w++] = log->curs[i];
            continue;
        }
        cn_warn("sink log: sink '%s' is no longer configured; its undelivered records are "
                "dropped",
                log->curs[i].name);
        cn_free(log->curs[i].name);
    }
    log->ncur = w;
    log->cursors_dirty = true;
    log->cb = cb;
    log->cb_arg = arg;
    log->started = true;
    /* Reopen the active segment for appending. */
    if (log->nseg) {
        char path[PATH_MAX];
        mq__seg_path(log, log->segs[log->nseg - 1].base, path, sizeof path);
        log->fd = open(path, O_WRONLY | O_CLOEXEC);
        if (log->fd < 0) {
            int rc = -errno;
            log->started = false;
            pthread_mutex_unlock(&log->mu);
            return rc;
        }
    }
    int rc = pthread_create(&log->thr, NULL, writer_main, log);
    if (rc != 0)
        log->started = false;
    pthread_mutex_unlock(&log->mu);
    return -rc;
}
