/* SPDX-License-Identifier: MIT */
/*
 * sys.c - $SYS/broker/... statistics, published by loop 0 every
 * sys_interval as retained QoS 0 messages (the topics mosquitto users
 * already watch).  Wildcard subscriptions starting with '#' or '+' do not
 * see them (MQTT-4.7.2-1); subscribe to "$SYS/#".
 *
 *   $SYS/broker/version                    "cairn <version>"
 *   $SYS/broker/uptime                     "<seconds> seconds"
 *   $SYS/broker/clients/connected          gauge
 *   $SYS/broker/clients/total              sessions held (connected or not)
 *   $SYS/broker/messages/received|sent     PUBLISH packets since start
 *   $SYS/broker/messages/dropped           QoS 1/2 dropped (queue full, too large)
 *   $SYS/broker/messages/dropped_qos0      QoS 0 dropped (slow connection)
 *   $SYS/broker/messages/expired           message expiry passed while queued
 *   $SYS/broker/publishers/paused          times a publisher was paused (backpressure)
 *   $SYS/broker/bytes/received|sent        bytes since start
 *   $SYS/broker/subscriptions/count        subscriptions held
 *   $SYS/broker/retained messages/count    retained messages held
 */
#include "broker_int.h"

#include <stdio.h>

#ifndef CAIRN_VERSION
#define CAIRN_VERSION "dev"
#endif

int mq_broker_publish(mq_broker_t *b, unsigned loop, const char *topic, size_t tlen,
                      const void *payload, size_t n, uint8_t qos, bool retain)
{
    mq_err_t e;
    if (!b->loops || loop >= b->nloops || qos > 2 || tlen == 0 || tlen > 65535 ||
        mq_topic_name_check((const uint8_t *)topic, tlen, &e) < 0 ||
        mq_utf8_check((const uint8_t *)topic, tlen, &e) < 0)
        return CN_EINVAL;
    mq_publish_t p;
    memset(&p, 0, sizeof p);
    p.qos = qos;
    p.retain = retain;
    p.payload = (mq_bin_t){payload, n};
    mq_msg_t *m = mq__bk_msg_new((const uint8_t *)topic, tlen, &p, payload, n, 0);
    if (retain)
        mq__bk_retain(b, m);
    mq__bk_route(&b->loops[loop], m, NULL);
    mq__bk_msg_unref(m);
    return 0;
}

static void sys_put(mq_loop_t *lp, const char *topic, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void sys_put(mq_loop_t *lp, const char *topic, const char *fmt, ...)
{
    char val[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(val, sizeof val, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    mq_broker_publish(lp->b, lp->idx, topic, strlen(topic), val, (size_t)n, 0, true);
}

void mq__bk_sys_publish(mq_loop_t *lp)
{
    mq_broker_stats_t st;
    mq_broker_stats(lp->b, &st);
    unsigned long long up = (unsigned long long)((cn_mono_ns() - lp->b->started_mono) / 1000000000);
    sys_put(lp, "$SYS/broker/version", "cairn %s", CAIRN_VERSION);
    sys_put(lp, "$SYS/broker/uptime", "%llu seconds", up);
#define U(x) (unsigned long long)(x)
    sys_put(lp, "$SYS/broker/clients/connected", "%llu", U(st.clients_connected));
    sys_put(lp, "$SYS/broker/clients/total", "%llu", U(st.clients_total));
    sys_put(lp, "$SYS/broker/messages/received", "%llu", U(st.msgs_received));
    sys_put(lp, "$SYS/broker/messages/sent", "%llu", U(st.msgs_sent));
    sys_put(lp, "$SYS/broker/messages/dropped", "%llu", U(st.msgs_dropped));
    sys_put(lp, "$SYS/broker/messages/dropped_qos0", "%llu", U(st.msgs_dropped_qos0));
    sys_put(lp, "$SYS/broker/messages/expired", "%llu", U(st.msgs_expired));
    sys_put(lp, "$SYS/broker/publishers/paused", "%llu", U(st.publishers_paused));
    sys_put(lp, "$SYS/broker/bytes/received", "%llu", U(st.bytes_received));
    sys_put(lp, "$SYS/broker/bytes/sent", "%llu", U(st.bytes_sent));
    sys_put(lp, "$SYS/broker/subscriptions/count", "%llu", U(st.subscriptions));
    sys_put(lp, "$SYS/broker/retained messages/count", "%llu", U(st.retained));
#undef U
}
