/* SPDX-License-Identifier: MIT */
/*
 * record.c - the sink log's record format: encoding and the bounded
 * parser (also the fuzz target's entry point, tests/fuzz/fuzz_sink_log.c).
 *
 * Record layout, little endian (version 1, the segment header carries the
 * version; a new layout gets a new segment magic):
 *
 *   offset size meaning
 *   0      4    CRC-32C of bytes 4 .. end of record
 *   4      4    body length: bytes after this 32-byte header
 *                (key_len + topic_len + payload length)
 *   8      8    sequence number (log-wide, from 1, consecutive)
 *   16     8    timestamp, ns since the Unix epoch (signed)
 *   24     2    sink id
 *   26     2    key length
 *   28     2    topic length
 *   30     2    flags: MQ_SINK_REC_PACKED or 0 (readers reject other bits)
 *   32     ...  key bytes, topic bytes, payload bytes
 *
 * A record whose header or body extends past the input is a torn tail
 * (CN_ETRUNC); a wrong CRC, a body length below key+topic or above the
 * payload limit, or an unknown flag is CN_ECORRUPT.
 */
#include "sink.h"

int mq_sink_rec_parse(const uint8_t *p, size_t n, mq_sink_rec_t *rec, size_t *used)
{
    cn_rd_t r = cn_rd_make(p, n);
    uint32_t crc, body;
    uint64_t seq, ts;
    uint16_t sink, klen, tlen, flags;
    if (cn_rd_u32(&r, &crc) < 0 || cn_rd_u32(&r, &body) < 0 || cn_rd_u64(&r, &seq) < 0 ||
        cn_rd_u64(&r, &ts) < 0 || cn_rd_u16(&r, &sink) < 0 || cn_rd_u16(&r, &klen) < 0 ||
        cn_rd_u16(&r, &tlen) < 0 || cn_rd_u16(&r, &flags) < 0)
        return CN_ETRUNC;
    if ((flags & ~MQ_SINK_REC_PACKED) != 0 || (uint64_t)klen + tlen > body ||
        body > (uint64_t)MQ_SINK_MAX_PAYLOAD + 2u * MQ_SINK_MAX_KEY)
        return CN_CORRUPT();
    const uint8_t *b;
    if (cn_rd_bytes(&r, body, &b) < 0)
        return CN_ETRUNC;
    if (cn_crc32c(0, p + 4, (size_t)MQ_SINK_REC_HDR - 4 + body) != crc)
        return CN_CORRUPT();
    rec->seq = seq;
    rec->ts_ns = (int64_t)ts;
    rec->sink = sink;
    rec->key = b;
    rec->key_len = klen;
    rec->topic = b + klen;
    rec->topic_len = tlen;
    rec->payload = b + klen + tlen;
    rec->payload_len = body - klen - tlen;
    rec->flags = flags;
    *used = (size_t)MQ_SINK_REC_HDR + body;
    return 0;
}

void mq_sink_rec_encode(const mq_sink_rec_t *rec, cn_buf_t *out)
{
    size_t body = rec->key_len + rec->topic_len + rec->payload_len;
    size_t start = out->len;
    cn_buf_put_u32(out, 0);
    cn_buf_put_u32(out, (uint32_t)body);
    cn_buf_put_u64(out, rec->seq);
    cn_buf_put_u64(out, (uint64_t)rec->ts_ns);
    cn_buf_put_u16(out, rec->sink);
    cn_buf_put_u16(out, (uint16_t)rec->key_len);
    cn_buf_put_u16(out, (uint16_t)rec->topic_len);
    cn_buf_put_u16(out, rec->flags);
    if (rec->key_len)
        cn_buf_put(out, rec->key, rec->key_len);
    if (rec->topic_len)
        cn_buf_put(out, rec->topic, rec->topic_len);
    if (rec->payload_len)
        cn_buf_put(out, rec->payload, rec->payload_len);
    uint32_t crc = cn_crc32c(0, out->p + start + 4, out->len - start - 4);
    cn_st32(out->p + start, crc);
}
