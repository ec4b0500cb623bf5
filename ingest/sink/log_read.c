/* SPDX-License-Identifier: MIT */
/*
 * log_read.c - reading a sink's records from the log: segment lookup under
 * the log's lock, file reads without it (pread on a cached descriptor), the
 * records of the asked sink copied into a batch.  Runs on worker threads
 * (uv_queue_work), never on an event loop.
 */
#include "rules/rules.h"
#include "sink_int.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

enum { READ_CHUNK = 1 << 20 };

void mq_sink_log_seek(mq_sink_pos_t *pos, uint64_t seq)
{
    if (pos->fd > 0)
        close(pos->fd);
    pos->seq = seq;
    pos->seg_base = 0;
    pos->off = 0;
    pos->fd = -1;
}

void mq_sink_pos_close(mq_sink_pos_t *pos)
{
    if (pos->fd >= 0)
        close(pos->fd);
    pos->fd = -1;
}

void mq_sink_batch_init(mq_sink_batch_t *b)
{
    memset(b, 0, sizeof *b);
    cn_buf_init(&b->data);
}

void mq_sink_batch_free(mq_sink_batch_t *b)
{
    cn_buf_free(&b->data);
    cn_free(b->recs);
    memset(b, 0, sizeof *b);
}

/* Where the reader stands, resolved under the lock. */
typedef struct view {
    uint64_t base, durable, next_base;
    bool sealed;
    bool found;
} view_t;

static view_t locate(mq_sink_log_t *log, mq_sink_pos_t *pos, uint64_t *skipped)
{
    view_t v = {0};
    pthread_mutex_lock(&log->mu);
    size_t i = 0;
    if (pos->seg_base) {
        while (i < log->nseg && log->segs[i].base != pos->seg_base)
            i++;
    } else {
        i = log->nseg;
        for (size_t j = log->nseg; j-- > 0;)
            if (log->segs[j].base <= pos->seq) {
                i = j;
                break;
            }
    }
    if (i == log->nseg && log->nseg && (pos->seg_base || pos->seq < log->segs[0].base)) {
        /* Our segment was dropped (or we are behind the oldest): jump. */
        if (log->segs[0].base > pos->seq)
            *skipped += log->segs[0].base - pos->seq;
        i = 0;
        pos->seq = CN_MAX(pos->seq, log->segs[0].base);
        if (pos->fd >= 0)
            close(pos->fd);
        pos->fd = -1;
        pos->seg_base = log->segs[0].base;
        pos->off = MQ_SINK_SEG_HDR;
    }
    if (i < log->nseg) {
        const mq__seg_t *s = &log->segs[i];
        v.found = true;
        v.base = s->base;
        v.durable = s->durable;
        v.sealed = i + 1 < log->nseg && log->segs[i + 1].durable > 0;
        v.next_base = i + 1 < log->nseg ? log->segs[i + 1].base : 0;
    }
    pthread_mutex_unlock(&log->mu);
    return v;
}

static void batch_add(mq_sink_batch_t *b, const mq_sink_rec_t *r)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        b->recs = cn_realloc(b->recs, b->cap * sizeof *b->recs);
    }
    /* Offsets now, pointers once data stops growing (fix_pointers). */
    mq_sink_rec_t *o = &b->recs[b->n++];
    *o = *r;
    size_t at = b->data.len;
    cn_buf_put(&b->data, r->key, r->key_len);
    cn_buf_put(&b->data, r->topic, r->topic_len);
    size_t pl = b->data.len;
    if (r->flags & MQ_SINK_REC_PACKED) {
        /* a rule's outputs: their JSON is what the sink delivers */
        if (mq_rules_packed_json(r->payload, r->payload_len, &b->data) == 0) {
            o->payload_len = b->data.len - pl;
        } else {
            cn_error("sink log: record %llu holds malformed rule outputs; delivering its bytes",
                     (unsigned long long)r->seq);
            cn_buf_put(&b->data, r->payload, r->payload_len);
        }
        o->flags = 0;
    } else {
        cn_buf_put(&b->data, r->payload, r->payload_len);
    }
    o->key = (const uint8_t *)(uintptr_t)at;
    o->topic = (const uint8_t *)(uintptr_t)(at + r->key_len);
    o->payload = (const uint8_t *)(uintptr_t)(at + r->key_len + r->topic_len);
}

static void fix_pointers(mq_sink_batch_t *b, uint32_t from)
{
    for (uint32_t i = from; i < b->n; i++) {
        mq_sink_rec_t *r = &b->recs[i];
        r->key = b->data.p + (uintptr_t)r->key;
        r->topic = b->data.p + (uintptr_t)r->topic;
        r->payload = b->data.p + (uintptr_t)r->payload;
    }
}

/* Parses chunk[0..n) read at pos->off; returns bytes consumed, or a
 * negative code for corruption.  *need (OUT) is set when a record is larger
 * than the chunk. */
static int64_t parse_chunk(mq_sink_pos_t *pos, uint16_t id, const uint8_t *p, size_t n,
                           mq_sink_batch_t *b, size_t *need)
{
    size_t off = 0, used;
    mq_sink_rec_t r;
    while (off < n) {
        int rc = mq_sink_rec_parse(p + off, n - off, &r, &used);
        if (rc == CN_ETRUNC) {
            if (off == 0)
                *need = n - off >= 8 ? MQ_SINK_REC_HDR + (size_t)cn_ld32(p + 4) : MQ_SINK_REC_HDR;
            break;
        }
        if (rc < 0)
            return rc;
        if (r.seq >= pos->seq) {
            if (r.sink == id)
                batch_add(b, &r);
            pos->seq = r.seq + 1;
        }
        off += used;
    }
    return (int64_t)off;
}

int mq_sink_log_read(mq_sink_log_t *log, mq_sink_pos_t *pos, uint16_t id, size_t max_bytes,
                     mq_sink_batch_t *b)
{
    b->n = 0;
    b->skipped = 0;
    cn_buf_reset(&b->data);
    uint32_t first = 0;
    size_t scanned = 0;
    uint8_t *chunk = NULL;
    size_t chunk_cap = 0;
    int rc = 0;
    while (scanned < max_bytes) {
        view_t v = locate(log, pos, &b->skipped);
        if (!v.found)
            break;
        if (pos->seg_base != v.base) {
            mq_sink_pos_close(pos);
            pos->seg_base = v.base;
            pos->off = MQ_SINK_SEG_HDR;
        }
        if (pos->off >= v.durable) {
            if (!v.sealed)
                break;
            mq_sink_pos_close(pos);
            pos->seg_base = v.next_base;
            pos->off = MQ_SINK_SEG_HDR;
            continue;
        }
        if (pos->fd < 0) {
            char path[PATH_MAX];
            mq__seg_path(log, v.base, path, sizeof path);
            pos->fd = open(path, O_RDONLY | O_CLOEXEC);
            if (pos->fd < 0 && errno == ENOENT)
                continue; /* dropped meanwhile; locate() jumps */
            if (pos->fd < 0) {
                rc = -errno;
                break;
            }
        }
        size_t want = (size_t)CN_MIN(v.durable - pos->off, (uint64_t)READ_CHUNK);
        size_t need = 0;
        for (;;) {
            if (want > chunk_cap) {
                chunk_cap = want;
                chunk = cn_realloc(chunk, chunk_cap);
            }
            ssize_t got = pread(pos->fd, chunk, want, (off_t)pos->off);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0) {
                rc = -errno;
                goto out;
            }
            int64_t used = parse_chunk(pos, id, chunk, (size_t)got, b, &need);
            if (used < 0) {
                cn_error("sink log: corrupt record in segment %016llx at offset %llu; skipping "
                         "the rest of the segment",
                         (unsigned long long)v.base, (unsigned long long)pos->off);
                pos->off = v.durable;
                if (!v.sealed) {
                    rc = (int)used;
                    goto out;
                }
                break;
            }
            pos->off += (uint64_t)used;
            scanned += (size_t)used;
            if (used == 0 && need > want && need <= v.durable - pos->off) {
                want = need;
                continue;
            }
            if (used == 0) {
                rc = CN_CORRUPT(); /* a durable record that does not fit: impossible */
                goto out;
            }
            break;
        }
    }
out:
    cn_free(chunk);
    fix_pointers(b, first);
    if (rc < 0)
        return rc;
    return (int)(b->n - first);
}
