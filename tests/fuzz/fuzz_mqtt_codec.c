/* SPDX-License-Identifier: MIT */
/*
 * fuzz_mqtt_codec.c - libFuzzer target for the MQTT codec (ingest/mqtt/).
 *
 * The input is a byte stream as a socket would deliver it.  Frames are cut
 * with mq_split (also against a 64-byte limit, which must say CN_ELIMIT
 * exactly for larger frames), and every frame is decoded at protocol levels
 * 4 and 5, as sent by a client and by a server.  Any result code other than
 * 0 or CN_EPROTO with a known rule and its reason code aborts.  A packet
 * that decodes is re-encoded; the encoding must split as one whole frame,
 * decode again, compare equal (mq_pkt_eq), and encode to the same bytes a
 * second time; a PUBLISH's header-only encoding plus its payload must equal
 * the full encoding.
 */
#include "mqtt/codec.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void check_err(int rc, const mq_err_t *err)
{
    check(rc == CN_EPROTO && err->rule > MQ_R_OK && err->rule < MQ_R_COUNT);
    check(err->reason >= 0x81);
}

static void check_publish_header(const mq_publish_t *pub, unsigned level, const cn_buf_t *full)
{
    cn_buf_t h;
    cn_buf_init(&h);
    check(mq_publish_encode_header(&h, level, pub) == 0);
    check(h.len + pub->payload.len == full->len);
    check(memcmp(h.p, full->p, h.len) == 0);
    cn_buf_free(&h);
}

static void roundtrip(const mq_frame_t *f, unsigned level, unsigned dir)
{
    mq_pkt_t pkt, again;
    mq_err_t err = {0, 0};
    int rc = mq_decode(f, level, dir, &pkt, &err);
    if (rc != 0) {
        check_err(rc, &err);
        return;
    }
    unsigned elevel = pkt.type == MQ_CONNECT ? pkt.u.connect.level : level;
    cn_buf_t b1, b2;
    cn_buf_init(&b1);
    cn_buf_init(&b2);
    check(mq_encode(&b1, elevel, &pkt) == 0);
    mq_frame_t f2;
    check(mq_split(b1.p, b1.len, 0, &f2, &err) == 1 && f2.total == b1.len);
    check(mq_decode(&f2, level, dir, &again, &err) == 0);
    check(mq_pkt_eq(&pkt, &again));
    check(mq_encode(&b2, elevel, &again) == 0);
    check(b1.len == b2.len && memcmp(b1.p, b2.p, b1.len) == 0);
    if (pkt.type == MQ_PUBLISH)
        check_publish_header(&pkt.u.publish, level, &b1);
    cn_buf_free(&b1);
    cn_buf_free(&b2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        mq_frame_t f, small;
        mq_err_t err = {0, 0};
        int rc = mq_split(data + off, size - off, 0, &f, &err);
        if (rc <= 0) {
            if (rc < 0)
                check_err(rc, &err);
            break;
        }
        rc = mq_split(data + off, size - off, 64, &small, &err);
        check(f.total > 64 ? rc == CN_ELIMIT && err.reason == MQ_RC_PACKET_TOO_LARGE : rc == 1);
        for (unsigned level = 4; level <= 5; level++) {
            roundtrip(&f, level, MQ_FROM_CLIENT);
            roundtrip(&f, level, MQ_FROM_SERVER);
        }
        off += f.total;
    }
    return 0;
}
