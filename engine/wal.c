/* SPDX-License-Identifier: MIT */
/*
 * wal.c - the write-ahead log: an in-memory group-commit buffer filled by
 * any thread, and one WAL thread that writes it to segmented files and
 * publishes the durable sequence.  Replay and verification (the reading
 * side) live in wal_scan.c.
 *
 * Appenders never do I/O.  eng__wal_append() copies the record into the
 * `front` buffer under `mu` and assigns its sequence number.  The WAL thread
 * swaps `front` with its private `back` buffer under `mu`, then writes `back`
 * with one write() per file touched (plus one fdatasync under ENG_DUR_FSYNC)
 * without holding the lock, then publishes durable_seq, wakes
 * eng__wal_wait() callers and calls notify().  That is the whole group
 * commit: the thread never sleeps to collect a batch, so an idle log commits
 * a lone record at once, and a busy one commits, in one go, whatever
 * accumulated while the previous write and fsync ran (and, after a batch
 * of several records, while it lingered: NOTES 8).  With ENG_DUR_FSYNC
 * and group_commit_us > 0 the thread also waits that long after the first
 * record of a batch, trading that much latency for fewer fsyncs.
 *
 * ON-DISK FORMAT (version 1, all integers little endian)
 *
 * A WAL directory holds files named wal-<first seq, 16 lowercase hex>.log;
 * sorting the names sorts the log.  Other names are ignored.
 *
 * File header, 32 bytes:
 *   offset size meaning
 *   0      8    magic "CAIRNWAL"
 *   8      4    format version = 1; a reader refuses a higher version
 *                (CN_EVERSION) without modifying the file
 *   12     4    reserved, written 0, ignored by version-1 readers
 *   16     8    first seq: the seq of the file's first record, equal to the
 *                number in the file name
 *   24     4    reserved, written 0, ignored by version-1 readers
 *   28     4    CRC-32C of bytes 0..27
 *
 * Records follow back to back (no padding), 17 + n bytes each:
 *   offset size meaning
 *   0      4    n: payload length, at most 64 MiB
 *   4      4    CRC-32C of the payload (bytes 17..17+n), continued over
 *                bytes 0..3 and then 8..16 (the payload comes first so
 *                appenders can checksum it before taking the lock)
 *   8      8    seq: the file's first seq for the first record, then +1 for
 *                each record (seqs are consecutive within a file and strictly
 *                increasing across files; gaps between files are allowed)
 *   16     1    type, chosen by the engine
 *   17     n    payload
 *
 * A record is valid when its header is complete, n is within limits and
 * within the file, seq is the expected one and the CRC matches.  The first
 * invalid record ends the log: replay truncates its file there and deletes
 * every later file.  An all-zero region (a zero-filled tail after a crash)
 * is never valid, because seq 0 is never expected.  Compatibility: a reader
 * accepts exactly version 1; a future format change bumps the version.
 *
 * STATE MACHINE OF A SEGMENT FILE
 *
 *      (none)
 *        | open_file(): WAL thread, first write after eng__wal_open(), after
 *        |   eng__wal_rotate() or when the file reached segment_bytes;
 *        v   O_EXCL create, header written, dir fsync at the next sync
 *     CURRENT ---- write_chunk(), write_batch(): records appended, synced
 *        |           (never deleted: eng__wal_drop_upto() skips it)
 *        | close_file(): next rotation, or eng__wal_close()
 *        v
 *     CLOSED  <--- eng__wal_scan_dir() at eng__wal_open(): replayed files
 *        |           (a corrupt one is truncated first), never appended to
 *        | eng__wal_drop_upto(seq) once every record has seq <= `seq`;
 *        | eng__wal_scan_dir() also deletes record-less and post-corruption
 *        v   files
 *     DELETED
 *
 * NOTES (invariants, enforced with assert())
 *  1. Sequence numbers are assigned under `mu` in append order, one per
 *     record, and `front` holds records next_seq - front_n .. next_seq - 1.
 *  2. backlog == front.len + the bytes of the batch the thread is writing;
 *     CN_EFULL is returned only when backlog is non-zero, so any single
 *     record can eventually be appended.
 *  3. durable_seq <= last_seq, and durable_seq only grows; notify() is
 *     called on the WAL thread only, with increasing values.
 *  4. A file is written only after its complete header; the records in it
 *     start at its first seq and are consecutive.
 *  5. The current file is always the last entry of files[] and drop_upto
 *     never deletes it; closed files are never reopened for writing.
 *  6. After a write or sync error (`err`, sticky) nothing more is written:
 *     later batches are discarded and their waiters get the error.
 *  7. Rotation cuts lie on record boundaries of `front`, in increasing
 *     order.
 *  8. Lingering.  After writing a batch of a stream (two or more records,
 *     or one that woke the thread within WAL_STREAM_GAP_NS of its going
 *     idle: appends arriving about as fast as the thread writes them),
 *     the thread waits
 *     WAL_LINGER_US in a timed wait, still counting as busy, before it
 *     looks for more and, finding none, goes idle.  Appenders signal only
 *     an idle thread, so a stream of appends costs its producer no futex
 *     wake-up per batch: perf of rules_bench showed the ingest thread
 *     spending about 15 % of its time in pthread_cond_signal's wake-up of
 *     this thread (one every few messages, as each batch drained the
 *     log), and more the slower each message.  The price: a record
 *     appended during the wait is written up to WAL_LINGER_US later.  A
 *     lone record after a longer quiet spell (e.g. from a client that
 *     waits for each acknowledgement: a loopback round trip is longer than
 *     the gap) starts no wait, so it is still written at once.  The gap
 *     is measured from going idle to the append that found the thread
 *     idle (stamped by that append, so the thread's own wake-up latency
 *     does not count).  With group commit (fsync and group_commit_us) the
 *     thread does not linger: the gather wait does that job.  Both timed
 *     waits run on CLOCK_MONOTONIC (work_cv's clock), so a step of the
 *     wall clock cannot hold the thread busy and the log unwritten.
 *     It is a timed sleep, not polling.
 */
#include "wal_int.h"

#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define WAL_DEFAULT_SEGMENT (64u << 20)
#define WAL_DEFAULT_BUFFER  (64u << 20)
/* How long the thread lingers after a batch of a stream, and the longest
 * idle spell that still counts as part of one (NOTES 8). */
#define WAL_LINGER_US     50
#define WAL_STREAM_GAP_NS INT64_C(20000)
/* A batch buffer grown larger than this is released after use. */
#define WAL_KEEP_BUFFER (8u << 20)

/* A rotation boundary inside a batch: a new file starts with `seq` at byte
 * `off` of the buffer. */
typedef struct wal_cut {
    size_t off;
    uint64_t seq;
} wal_cut_t;

typedef struct wal_batch {
    cn_buf_t buf;
    wal_cut_t *cuts;
    size_t ncuts, cuts_cap;
    uint64_t nrec;
} wal_batch_t;

struct eng__wal {
    eng__wal_opts_t o; /* o.dir points at `dir` */
    char *dir;
    pthread_t thread;

    pthread_mutex_t mu;     /* guards this block */
    pthread_cond_t work_cv; /* the WAL thread waits for appends or close */
    pthread_cond_t dur_cv;  /* eng__wal_wait() waits for durable_seq */
    wal_batch_t front;      /* appended, not yet taken by the WAL thread */
    uint64_t next_seq;
    size_t backlog;
    int err; /* sticky write/sync error, 0 if none */
    bool rotate_pending, idle, closing;
    int64_t idle_ns, wake_ns; /* NOTES 8: when the thread went idle, when an append found it so */
    uint64_t appended, commits;

    _Atomic uint64_t last_seq;    /* written under mu */
    _Atomic uint64_t durable_seq; /* written under mu */

    /* WAL thread only (and eng__wal_open/close while it is not running). */
    wal_batch_t back;
    int fd;
    uint64_t cur_size;
    bool need_new, fd_dirty, dir_dirty;

    pthread_mutex_t files_mu; /* guards files[] and cur_open */
    eng__wal_file_t *files;
    size_t nfiles, files_cap;
    bool cur_open; /* files[nfiles - 1] is the file being appended to */

    /* Set by eng__wal_open, read-only afterwards. */
    uint64_t replayed_records, replayed_bytes, truncated_bytes;
};

/* ------------------------------------------------------------ appending */

int eng__wal_append(eng__wal_t *w, uint8_t type, const void *p, size_t n, uint64_t *seq)
{
    if (n > WAL_MAX_PAYLOAD || (n > 0 && p == NULL))
        return CN_EINVAL;
    uint32_t pcrc = cn_crc32c(0, p, n);
    size_t rec = WAL_RHDR + n;

    pthread_mutex_lock(&w->mu);
    int rc = w->err ? w->err : w->closing ? CN_ECLOSED : 0;
    if (rc == 0 && w->backlog > 0 && w->backlog + rec > w->o.buffer_max)
        rc = CN_EFULL;
    if (rc < 0) {
        pthread_mutex_unlock(&w->mu);
        return rc;
    }
    uint64_t s = w->next_seq++;
    wal_batch_t *b = &w->front;
    if (w->rotate_pending) {
        if (b->ncuts == b->cuts_cap) {
            b->cuts_cap = b->cuts_cap ? b->cuts_cap * 2 : 4;
            b->cuts = cn_realloc(b->cuts, b->cuts_cap * sizeof *b->cuts);
        }
        assert(b->ncuts == 0 || b->cuts[b->ncuts - 1].off < b->buf.len); /* NOTES 7 */
        b->cuts[b->ncuts++] = (wal_cut_t){b->buf.len, s};
        w->rotate_pending = false;
    }
    uint8_t *d = cn_buf_extend(&b->buf, rec);
    cn_st32(d, (uint32_t)n);
    cn_st64(d + 8, s);
    d[16] = type;
    cn_st32(d + 4, eng__wal_rec_crc(pcrc, d));
    if (n)
        memcpy(d + WAL_RHDR, p, n);
    b->nrec++;
    w->backlog += rec;
    w->appended++;
    atomic_store_explicit(&w->last_seq, s, memory_order_release);
    /* Wake the thread only on the idle -> busy edge: while it writes, the
     * records it will pick up next need no signal. */
    bool wake = w->idle;
    w->idle = false;
    if (wake)
        w->wake_ns = cn_mono_ns(); /* NOTES 8 */
    pthread_mutex_unlock(&w->mu);
    if (wake)
        pthread_cond_signal(&w->work_cv);
    if (seq)
        *seq = s;
    return 0;
}

uint64_t eng__wal_rotate(eng__wal_t *w)
{
    pthread_mutex_lock(&w->mu);
    w->rotate_pending = true;
    uint64_t last = w->next_seq - 1;
    pthread_mutex_unlock(&w->mu);
    return last;
}

uint64_t eng__wal_last_seq(eng__wal_t *w)
{
    return atomic_load_explicit(&w->last_seq, memory_order_acquire);
}

uint64_t eng__wal_durable_seq(eng__wal_t *w)
{
    return atomic_load_explicit(&w->durable_seq, memory_order_acquire);
}

size_t eng__wal_backlog(eng__wal_t *w)
{
    pthread_mutex_lock(&w->mu);
    size_t n = w->backlog;
    pthread_mutex_unlock(&w->mu);
    return n;
}

int eng__wal_wait(eng__wal_t *w, uint64_t seq)
{
    if (eng__wal_durable_seq(w) >= seq)
        return 0;
    pthread_mutex_lock(&w->mu);
    while (eng__wal_durable_seq(w) < seq && w->err == 0 && seq < w->next_seq)
        pthread_cond_wait(&w->dur_cv, &w->mu);
    int rc = 0;
    if (eng__wal_durable_seq(w) < seq)
        rc = w->err ? w->err : CN_EINVAL; /* failed, or seq never appended */
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* ------------------------------------------------------- the WAL thread */

static int sync_fd(eng__wal_t *w, bool always)
{
    if (w->fd < 0 || !w->fd_dirty || (!always && w->o.durability != ENG_DUR_FSYNC))
        return 0;
    if (fdatasync(w->fd) < 0)
        return -errno;
    w->fd_dirty = false;
    return 0;
}

static int close_file(eng__wal_t *w, bool sync)
{
    if (w->fd < 0)
        return 0;
    int rc = sync_fd(w, sync);
    close(w->fd);
    w->fd = -1;
    pthread_mutex_lock(&w->files_mu);
    w->cur_open = false;
    pthread_mutex_unlock(&w->files_mu);
    return rc;
}

static int open_file(eng__wal_t *w, uint64_t first_seq)
{
    char path[PATH_MAX];
    uint8_t hdr[WAL_FHDR];
    int rc = close_file(w, false);
    if (rc == 0)
        rc = eng__wal_path(path, sizeof path, w->dir, first_seq);
    if (rc < 0)
        return rc;
    /* O_EXCL: a name can only exist already if something else wrote it. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    eng__wal_fhdr_encode(hdr, first_seq);
    rc = cn_write_all(fd, hdr, sizeof hdr);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    w->fd = fd;
    w->cur_size = WAL_FHDR;
    w->fd_dirty = w->dir_dirty = true;
    w->need_new = false;
    pthread_mutex_lock(&w->files_mu);
    if (w->nfiles == w->files_cap) {
        w->files_cap = w->files_cap ? w->files_cap * 2 : 16;
        w->files = cn_realloc(w->files, w->files_cap * sizeof *w->files);
    }
    w->files[w->nfiles++] = (eng__wal_file_t){first_seq, first_seq - 1, WAL_FHDR};
    w->cur_open = true;
    pthread_mutex_unlock(&w->files_mu);
    return 0;
}

/* Appends records first..last (the bytes p[0..n)) to the current file,
 * starting a new one first when a rotation or the size limit asks for it. */
static int write_chunk(eng__wal_t *w, const uint8_t *p, size_t n, uint64_t first, uint64_t last)
{
    assert(n >= WAL_RHDR && cn_ld64(p + 8) == first); /* NOTES 4 */
    int rc = 0;
    if (w->fd < 0 || w->need_new || w->cur_size >= w->o.segment_bytes)
        rc = open_file(w, first);
    if (rc == 0)
        rc = cn_write_all(w->fd, p, n);
    if (rc < 0)
        return rc;
    w->cur_size += n;
    w->fd_dirty = true;
    pthread_mutex_lock(&w->files_mu);
    eng__wal_file_t *f = &w->files[w->nfiles - 1];
    assert(w->cur_open && f->last_seq + 1 == first); /* NOTES 4, 5 */
    f->last_seq = last;
    f->bytes = w->cur_size;
    pthread_mutex_unlock(&w->files_mu);
    return 0;
}

/* Writes batch b (records first..last) split at its rotation cuts, then
 * makes it durable as the policy asks. */
static int write_batch(eng__wal_t *w, const wal_batch_t *b, uint64_t first, uint64_t last)
{
    size_t off = 0;
    uint64_t seq = first;
    for (size_t i = 0; i <= b->ncuts; i++) {
        size_t end = i < b->ncuts ? b->cuts[i].off : b->buf.len;
        uint64_t end_seq = i < b->ncuts ? b->cuts[i].seq : last + 1;
        if (end > off) {
            int rc = write_chunk(w, b->buf.p + off, end - off, seq, end_seq - 1);
            if (rc < 0)
                return rc;
        }
        if (i < b->ncuts)
            w->need_new = true;
        off = end;
        seq = end_seq;
    }
    int rc = sync_fd(w, false);
    if (rc == 0 && w->dir_dirty && w->o.durability == ENG_DUR_FSYNC) {
        rc = cn_fsync_dir(w->dir);
        w->dir_dirty = rc < 0;
    }
    return rc;
}

static void batch_reset(wal_batch_t *b)
{
    if (b->buf.cap > WAL_KEEP_BUFFER)
        cn_buf_free(&b->buf);
    cn_buf_reset(&b->buf);
    b->ncuts = 0;
    b->nrec = 0;
}

static void batch_free(wal_batch_t *b)
{
    cn_buf_free(&b->buf);
    cn_free(b->cuts);
    memset(b, 0, sizeof *b);
}

/* Publishes the outcome of a batch; called and returns with mu held. */
static void publish(eng__wal_t *w, size_t bytes, uint64_t last, int rc)
{
    assert(w->backlog >= bytes); /* NOTES 2 */
    w->backlog -= bytes;
    if (rc < 0 && w->err == 0) {
        cn_error("wal: %s: write failed, refusing further appends: %s", w->dir, cn_strerror(rc));
        w->err = rc;
    }
    if (rc == 0) {
        assert(last >= eng__wal_durable_seq(w) && last < w->next_seq); /* NOTES 3 */
        atomic_store_explicit(&w->durable_seq, last, memory_order_release);
        w->commits++;
    }
    pthread_cond_broadcast(&w->dur_cv);
    if (rc == 0 && w->o.notify) {
        pthread_mutex_unlock(&w->mu);
        w->o.notify(w->o.notify_arg, last);
        pthread_mutex_lock(&w->mu);
    }
}

/* Waits us microseconds (or until close) while the thread counts as busy:
 * appenders do not signal it then, so this is a plain timed wait; close
 * signals it.  Called with mu held.  Used to let more records join a batch
 * (group_commit_us) and to linger after one (NOTES 8). */
static void busy_wait_us(eng__wal_t *w, uint32_t us)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* work_cv's clock: a step of the wall clock cannot stretch it */
    uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)us * 1000;
    ts.tv_sec += (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    while (!w->closing && pthread_cond_timedwait(&w->work_cv, &w->mu, &ts) == 0)
        ;
}

/* Whether batches wait group_commit_us for more records (then the thread
 * does not linger as well: NOTES 8). */
static bool gathering(const eng__wal_t *w)
{
    return w->o.group_commit_us && w->o.durability == ENG_DUR_FSYNC;
}

static void *wal_thread(void *arg)
{
    eng__wal_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        bool stream = false; /* NOTES 8: appended to within WAL_STREAM_GAP_NS of going idle */
        if (w->front.buf.len == 0 && !w->closing) {
            w->idle_ns = cn_mono_ns();
            w->wake_ns = 0;
            while (w->front.buf.len == 0 && !w->closing) {
                w->idle = true;
                pthread_cond_wait(&w->work_cv, &w->mu);
            }
            stream = w->wake_ns && w->wake_ns - w->idle_ns < WAL_STREAM_GAP_NS;
        }
        w->idle = false;
        if (w->front.buf.len == 0)
            break; /* closing and drained */
        if (gathering(w) && !w->closing)
            busy_wait_us(w, w->o.group_commit_us);
        wal_batch_t tmp = w->back;
        w->back = w->front;
        w->front = tmp;
        uint64_t last = w->next_seq - 1;
        uint64_t first = last + 1 - w->back.nrec;
        assert(cn_ld64(w->back.buf.p + 8) == first); /* NOTES 1 */
        int err = w->err;
        pthread_mutex_unlock(&w->mu);

        /* NOTES 6: after a failure the batch is dropped, not written. */
        int rc = err ? err : write_batch(w, &w->back, first, last);
        size_t bytes = w->back.buf.len;
        batch_reset(&w->back);

        pthread_mutex_lock(&w->mu);
        publish(w, bytes, last, rc);
        if ((last > first || stream) && w->front.buf.len == 0 && !w->closing && !gathering(w))
            busy_wait_us(w, WAL_LINGER_US); /* NOTES 8: a stream, not a lone record */
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---------------------------------------------------------- open, close */

static int replay_into(eng__wal_t *w, eng__wal_replay_fn fn, void *arg)
{
    eng__wal_scan_t s;
    int rc = eng__wal_scan_dir(w->dir, true, fn, arg, &s);
    if (rc < 0)
        return rc;
    w->files = s.files;
    w->nfiles = w->files_cap = s.nfiles;
    w->replayed_records = s.records;
    w->replayed_bytes = s.record_bytes;
    w->truncated_bytes = s.bad_bytes;
    uint64_t last = CN_MAX(w->o.min_seq, s.last_seq);
    w->next_seq = last + 1;
    atomic_store(&w->last_seq, last);
    atomic_store(&w->durable_seq, last);
    if (s.records || s.bad_bytes)
        cn_info("wal: %s: replayed %" PRIu64 " records in %zu files, dropped %" PRIu64
                " bytes, next seq %" PRIu64,
                w->dir, s.records, s.nfiles, s.bad_bytes, w->next_seq);
    return 0;
}

/* Frees w; its thread is not running. */
static void wal_free(eng__wal_t *w)
{
    batch_free(&w->front);
    batch_free(&w->back);
    pthread_cond_destroy(&w->dur_cv);
    pthread_cond_destroy(&w->work_cv);
    pthread_mutex_destroy(&w->files_mu);
    pthread_mutex_destroy(&w->mu);
    cn_free(w->files);
    cn_free(w->dir);
    cn_free(w);
}

int eng__wal_open(const eng__wal_opts_t *o, eng__wal_replay_fn replay, void *replay_arg,
                  eng__wal_t **out)
{
    *out = NULL;
    if (!o || !o->dir || !o->dir[0])
        return CN_EINVAL;
    int rc = cn_mkdirs(o->dir, 0755);
    if (rc < 0)
        return rc;
    eng__wal_t *w = cn_calloc(1, sizeof *w);
    w->o = *o;
    w->dir = cn_strdup(o->dir);
    w->o.dir = w->dir;
    if (w->o.segment_bytes == 0)
        w->o.segment_bytes = WAL_DEFAULT_SEGMENT;
    if (w->o.buffer_max == 0)
        w->o.buffer_max = WAL_DEFAULT_BUFFER;
    w->fd = -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->files_mu, NULL);
    pthread_condattr_t ca; /* timed waits on work_cv run on the monotonic clock */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->work_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&w->dur_cv, NULL);
    rc = replay_into(w, replay, replay_arg);
    if (rc == 0)
        rc = -pthread_create(&w->thread, NULL, wal_thread, w);
    if (rc < 0) {
        wal_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

void eng__wal_close(eng__wal_t *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->closing = true;
    pthread_mutex_unlock(&w->mu);
    pthread_cond_signal(&w->work_cv);
    pthread_join(w->thread, NULL);
    /* The thread drained everything; sync even under ENG_DUR_OS so that a
     * clean shutdown leaves nothing in the page cache only. */
    int rc = w->err ? 0 : close_file(w, true);
    if (rc == 0 && w->dir_dirty && !w->err)
        rc = cn_fsync_dir(w->dir);
    if (rc < 0)
        cn_error("wal: %s: sync at close failed: %s", w->dir, cn_strerror(rc));
    if (w->fd >= 0)
        close(w->fd);
    wal_free(w);
}

/* ------------------------------------------------------ dropping, stats */

int eng__wal_drop_upto(eng__wal_t *w, uint64_t upto)
{
    pthread_mutex_lock(&w->files_mu);
    /* Seqs grow with the file order, so the covered files are a prefix. */
    size_t k = 0;
    size_t closed = w->cur_open ? w->nfiles - 1 : w->nfiles; /* NOTES 5 */
    while (k < closed && w->files[k].last_seq <= upto)
        k++;
    uint64_t *firsts = k ? cn_malloc(k * sizeof *firsts) : NULL;
    for (size_t i = 0; i < k; i++)
        firsts[i] = w->files[i].first_seq;
    if (k > 0) {
        memmove(w->files, w->files + k, (w->nfiles - k) * sizeof *w->files);
        w->nfiles -= k;
    }
    pthread_mutex_unlock(&w->files_mu);

    /* The names are gone from files[], and new files get higher seqs, so
     * unlinking outside the lock races with nothing. */
    int rc = 0;
    for (size_t i = 0; i < k; i++) {
        char path[PATH_MAX];
        int r = eng__wal_path(path, sizeof path, w->dir, firsts[i]);
        if (r == 0 && unlink(path) < 0 && errno != ENOENT)
            r = -errno;
        if (r < 0 && rc == 0)
            rc = r;
    }
    if (k > 0 && rc == 0 && w->o.durability == ENG_DUR_FSYNC)
        rc = cn_fsync_dir(w->dir);
    cn_free(firsts);
    return rc;
}

void eng__wal_stats(eng__wal_t *w, eng__wal_stats_t *st)
{
    memset(st, 0, sizeof *st);
    pthread_mutex_lock(&w->files_mu);
    for (size_t i = 0; i < w->nfiles; i++)
        st->bytes += w->files[i].bytes;
    st->files = w->nfiles;
    pthread_mutex_unlock(&w->files_mu);
    pthread_mutex_lock(&w->mu);
    st->appended_records = w->appended;
    st->commits = w->commits;
    pthread_mutex_unlock(&w->mu);
    st->replayed_records = w->replayed_records;
    st->replayed_bytes = w->replayed_bytes;
    st->truncated_bytes = w->truncated_bytes;
}
