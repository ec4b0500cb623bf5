/* SPDX-License-Identifier: MIT */
/*
 * codec_int.h - what the MQTT codec's files (codec.c, props.c, encode.c)
 * share and nobody else uses: the error helper, big-endian field readers
 * and writers, and the property block decoder/encoder.
 */
#ifndef MQ_CODEC_INT_H
#define MQ_CODEC_INT_H

#include "mqtt/codec.h"

/* Fills *err for `rule` and evaluates to CN_EPROTO (logging the call site
 * in debug builds, like CN_PROTO()). */
void mq__set_err(mq_err_t *err, int rule);
#define MQ_FAIL(err, rule) (mq__set_err((err), (rule)), CN_PROTO())

/* Reads a big-endian u16 (MQTT's Two Byte Integer). */
int mq__rd_u16(cn_rd_t *r, uint16_t *v /* OUT */, mq_err_t *err /* OUT */);
/* Reads a big-endian u32 (Four Byte Integer). */
int mq__rd_u32(cn_rd_t *r, uint32_t *v /* OUT */, mq_err_t *err /* OUT */);
/* Reads a length-prefixed Binary Data field (borrowed). */
int mq__rd_bin(cn_rd_t *r, mq_bin_t *v /* OUT */, mq_err_t *err /* OUT */);
/* Reads a length-prefixed UTF-8 Encoded String and validates it. */
int mq__rd_str(cn_rd_t *r, mq_bin_t *v /* OUT */, mq_err_t *err /* OUT */);

void mq__put_u16(cn_buf_t *b, uint16_t v);
void mq__put_u32(cn_buf_t *b, uint32_t v);
/* Length-prefixed string/binary; CN_EINVAL above 65535 bytes. */
int mq__put_bin(cn_buf_t *b, mq_bin_t v);

/* Pseudo packet type for the will properties inside CONNECT. */
#define MQ__WILL 0

/*
 * Reads a Property Length and the properties after it into *pr (zeroed
 * first), checking each id is allowed in packet type `ptype` (or MQ__WILL),
 * duplicates and values.  `dir` is the sender (for PUBLISH's Subscription
 * Identifier).  Leaves the cursor after the block.
 */
int mq__props_decode(cn_rd_t *r, unsigned ptype, unsigned dir, mq_props_t *pr /* OUT */,
                     mq_err_t *err /* OUT */);
/* Appends Property Length and the properties of *pr; CN_EINVAL for an
 * over-long string. */
int mq__props_encode(cn_buf_t *b, const mq_props_t *pr);
bool mq__props_eq(const mq_props_t *a, const mq_props_t *b);
bool mq__bin_eq(mq_bin_t a, mq_bin_t b);

#endif /* MQ_CODEC_INT_H */
