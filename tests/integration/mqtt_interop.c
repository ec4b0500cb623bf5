/* SPDX-License-Identifier: MIT */
/*
 * mqtt_interop.c - cairn's broker driven by libmosquitto (the C client
 * library most devices embed), MQTT 5: QoS 2 exactly once and in order,
 * wills published after their Will Delay on DISCONNECT 0x04, retained
 * messages set/cleared, shared subscriptions alternating between members,
 * topic aliases from the client, message expiry (forwarded interval, and
 * an expired queued message never delivered), and a persistent session
 * whose queued messages arrive after a reconnect.
 *
 * usage: mqtt_interop PORT [CASE]     exit 0 when every (or the named) case passed
 *
 * Synchronisation is by protocol events only: mosquitto_loop() is stepped
 * until a condition holds or an iteration cap is hit.  The one wait on the
 * clock is the message-expiry case, which needs time to pass.
 */
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CAP 20000 /* loop iterations (10 ms each at most) before giving up */

static int g_port;

typedef struct rx {
    int n;
    char topics[256][64];
    char payloads[256][64];
    int qos[256];
    bool retain[256];
    int connected, subscribed, published, disconnected;
    int rc_connack, session_present;
} rx_t;

static void on_connect(struct mosquitto *m, void *arg, int rc, int flags,
                       const mosquitto_property *p)
{
    rx_t *r = arg;
    (void)m, (void)p;
    r->rc_connack = rc;
    r->session_present = flags & 1;
    r->connected++;
}

static void on_subscribe(struct mosquitto *m, void *arg, int mid, int n, const int *q,
                         const mosquitto_property *p)
{
    (void)m, (void)mid, (void)n, (void)q, (void)p;
    ((rx_t *)arg)->subscribed++;
}

static void on_publish(struct mosquitto *m, void *arg, int mid, int reason,
                       const mosquitto_property *p)
{
    (void)m, (void)mid, (void)reason, (void)p;
    ((rx_t *)arg)->published++;
}

static void on_disconnect(struct mosquitto *m, void *arg, int rc, const mosquitto_property *p)
{
    (void)m, (void)rc, (void)p;
    ((rx_t *)arg)->disconnected++;
}

static void on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg,
                       const mosquitto_property *p)
{
    rx_t *r = arg;
    (void)m, (void)p;
    if (r->n >= 256)
        return;
    snprintf(r->topics[r->n], 64, "%s", msg->topic);
    snprintf(r->payloads[r->n], 64, "%.*s", msg->payloadlen, (const char *)msg->payload);
    r->qos[r->n] = msg->qos;
    r->retain[r->n] = msg->retain;
    r->n++;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "FAIL %s:%d: ", __func__, __LINE__);                                       \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        return 1;                                                                                  \
    } while (0)

static struct mosquitto *client(const char *id, bool clean, rx_t *r)
{
    struct mosquitto *m = mosquitto_new(id, clean, r);
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_connect_v5_callback_set(m, on_connect);
    mosquitto_subscribe_v5_callback_set(m, on_subscribe);
    mosquitto_publish_v5_callback_set(m, on_publish);
    mosquitto_message_v5_callback_set(m, on_message);
    mosquitto_disconnect_v5_callback_set(m, on_disconnect);
    return m;
}

/* Steps every client until *counter >= want. */
static bool pump(struct mosquitto **ms, int nm, const int *counter, int want)
{
    for (int i = 0; i < CAP && *counter < want; i++)
        for (int j = 0; j < nm; j++)
            if (ms[j])
                mosquitto_loop(ms[j], 10, 1);
    return *counter >= want;
}

static bool conn(struct mosquitto *m, rx_t *r, mosquitto_property *props)
{
    int before = r->connected;
    if (mosquitto_connect_bind_v5(m, "127.0.0.1", g_port, 60, NULL, props) != MOSQ_ERR_SUCCESS)
        return false;
    return pump(&m, 1, &r->connected, before + 1) && r->rc_connack == 0;
}

static bool sub(struct mosquitto *m, rx_t *r, const char *filter, int qos)
{
    int before = r->subscribed;
    mosquitto_subscribe_v5(m, NULL, filter, qos, 0, NULL);
    return pump(&m, 1, &r->subscribed, before + 1);
}

static void bye(struct mosquitto *m)
{
    mosquitto_disconnect(m);
    mosquitto_loop(m, 10, 1);
    mosquitto_destroy(m);
}

/* ---------------------------------------------------------------- cases */

static int case_qos2(void)
{
    rx_t rs = {0}, rp = {0};
    struct mosquitto *s = client("i-q2-sub", true, &rs), *p = client("i-q2-pub", true, &rp);
    if (!conn(s, &rs, NULL) || !conn(p, &rp, NULL) || !sub(s, &rs, "i/q2/#", 2))
        FAIL("setup");
    for (int i = 0; i < 100; i++) {
        char b[16];
        snprintf(b, sizeof b, "%d", i);
        mosquitto_publish_v5(p, NULL, "i/q2/x", (int)strlen(b), b, 2, false, NULL);
    }
    struct mosquitto *both[] = {s, p};
    if (!pump(both, 2, &rs.n, 100) || !pump(both, 2, &rp.published, 100))
        FAIL("got %d messages, %d completed", rs.n, rp.published);
    for (int j = 0; j < 20; j++) /* anything extra (a duplicate) would arrive now */
        mosquitto_loop(s, 10, 1);
    if (rs.n != 100)
        FAIL("%d messages, want exactly 100", rs.n);
    for (int i = 0; i < 100; i++) {
        char b[16];
        snprintf(b, sizeof b, "%d", i);
        if (strcmp(rs.payloads[i], b) || rs.qos[i] != 2)
            FAIL("message %d is '%s' qos %d", i, rs.payloads[i], rs.qos[i]);
    }
    bye(s);
    bye(p);
    return 0;
}

static int case_will(void)
{
    rx_t rs = {0}, rw = {0};
    struct mosquitto *s = client("i-will-sub", true, &rs), *w = client("i-will", true, &rw);
    mosquitto_property *wp = NULL, *cp = NULL;
    mosquitto_property_add_int32(&wp, MQTT_PROP_WILL_DELAY_INTERVAL, 1);
    mosquitto_property_add_int32(&cp, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 60);
    mosquitto_will_set_v5(w, "i/will", 4, "gone", 1, false, wp);
    if (!conn(s, &rs, NULL) || !sub(s, &rs, "i/will", 1) || !conn(w, &rw, cp))
        FAIL("setup");
    mosquitto_property_free_all(&cp);
    /* Reason 0x04: "disconnect with will message". */
    mosquitto_disconnect_v5(w, MQTT_RC_DISCONNECT_WITH_WILL_MSG, NULL);
    mosquitto_loop(w, 10, 1);
    if (!pump(&s, 1, &rs.n, 1))
        FAIL("will not published after its delay");
    if (strcmp(rs.topics[0], "i/will") || strcmp(rs.payloads[0], "gone"))
        FAIL("will %s '%s'", rs.topics[0], rs.payloads[0]);
    mosquitto_destroy(w);
    bye(s);
    return 0;
}

static int case_retained(void)
{
    rx_t rp = {0}, rs = {0};
    struct mosquitto *p = client("i-ret-pub", true, &rp);
    if (!conn(p, &rp, NULL))
        FAIL("connect");
    mosquitto_publish_v5(p, NULL, "i/ret/a", 1, "A", 1, true, NULL);
    mosquitto_publish_v5(p, NULL, "i/ret/b", 1, "B", 1, true, NULL);
    mosquitto_publish_v5(p, NULL, "i/ret/b", 0, NULL, 1, true, NULL); /* clears b */
    if (!pump(&p, 1, &rp.published, 3))
        FAIL("publish");
    struct mosquitto *s = client("i-ret-sub", true, &rs);
    if (!conn(s, &rs, NULL) || !sub(s, &rs, "i/ret/+", 1) || !pump(&s, 1, &rs.n, 1))
        FAIL("no retained message");
    for (int j = 0; j < 20; j++)
        mosquitto_loop(s, 10, 1);
    if (rs.n != 1 || strcmp(rs.topics[0], "i/ret/a") || !rs.retain[0])
        FAIL("%d retained, first %s retain %d", rs.n, rs.topics[0], rs.retain[0]);
    mosquitto_publish_v5(p, NULL, "i/ret/a", 1, "L", 1, true, NULL);
    struct mosquitto *both[] = {s, p};
    if (!pump(both, 2, &rs.n, 2) || rs.retain[1])
        FAIL("live copy of a retained PUBLISH keeps the retain flag");
    mosquitto_publish_v5(p, NULL, "i/ret/a", 0, NULL, 1, true, NULL);
    pump(both, 2, &rp.published, 5);
    bye(s);
    bye(p);
    return 0;
}

static int case_shared(void)
{
    rx_t r1 = {0}, r2 = {0}, rp = {0};
    struct mosquitto *a = client("i-sh-a", true, &r1), *b = client("i-sh-b", true, &r2);
    struct mosquitto *p = client("i-sh-p", true, &rp);
    if (!conn(a, &r1, NULL) || !conn(b, &r2, NULL) || !conn(p, &rp, NULL) ||
        !sub(a, &r1, "$share/g/i/sh/#", 1) || !sub(b, &r2, "$share/g/i/sh/#", 1))
        FAIL("setup");
    for (int i = 0; i < 10; i++)
        mosquitto_publish_v5(p, NULL, "i/sh/x", 1, "s", 1, false, NULL);
    struct mosquitto *all[] = {a, b, p};
    int total = 0;
    for (int i = 0; i < CAP && total < 10; i++) {
        for (int j = 0; j < 3; j++)
            mosquitto_loop(all[j], 10, 1);
        total = r1.n + r2.n;
    }
    if (r1.n != 5 || r2.n != 5)
        FAIL("shared group split %d/%d, want 5/5", r1.n, r2.n);
    bye(a);
    bye(b);
    bye(p);
    return 0;
}

static int case_alias(void)
{
    rx_t rs = {0}, rp = {0};
    struct mosquitto *s = client("i-al-sub", true, &rs), *p = client("i-al-pub", true, &rp);
    if (!conn(s, &rs, NULL) || !conn(p, &rp, NULL) || !sub(s, &rs, "i/al/#", 1))
        FAIL("setup");
    mosquitto_property *a1 = NULL, *a2 = NULL;
    mosquitto_property_add_int16(&a1, MQTT_PROP_TOPIC_ALIAS, 3);
    mosquitto_property_add_int16(&a2, MQTT_PROP_TOPIC_ALIAS, 3);
    mosquitto_publish_v5(p, NULL, "i/al/long/topic", 1, "1", 1, false, a1);
    mosquitto_publish_v5(p, NULL, NULL, 1, "2", 1, false, a2); /* topic from the alias */
    struct mosquitto *both[] = {s, p};
    if (!pump(both, 2, &rs.n, 2))
        FAIL("got %d of 2", rs.n);
    if (strcmp(rs.topics[1], "i/al/long/topic") || strcmp(rs.payloads[1], "2"))
        FAIL("aliased message arrived as %s '%s'", rs.topics[1], rs.payloads[1]);
    mosquitto_property_free_all(&a1);
    mosquitto_property_free_all(&a2);
    bye(s);
    bye(p);
    return 0;
}

static int case_expiry_and_session(void)
{
    rx_t rs = {0}, rp = {0};
    mosquitto_property *cp = NULL;
    mosquitto_property_add_int32(&cp, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 300);
    struct mosquitto *s = client("i-exp-sub", false, &rs);
    if (!conn(s, &rs, cp) || !sub(s, &rs, "i/exp/#", 1))
        FAIL("setup");
    bye(s);
    struct mosquitto *p = client("i-exp-pub", true, &rp);
    if (!conn(p, &rp, NULL))
        FAIL("publisher");
    mosquitto_property *e1 = NULL;
    mosquitto_property_add_int32(&e1, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, 1);
    mosquitto_publish_v5(p, NULL, "i/exp/short", 4, "dies", 1, false, e1);
    mosquitto_publish_v5(p, NULL, "i/exp/plain", 5, "stays", 1, false, NULL);
    if (!pump(&p, 1, &rp.published, 2))
        FAIL("publish");
    mosquitto_property_free_all(&e1);
    bye(p);
    /* Let the 1 s expiry pass while the session is offline. */
    struct timespec ts = {2, 100000000};
    nanosleep(&ts, NULL);
    rs = (rx_t){0};
    s = client("i-exp-sub", false, &rs);
    if (!conn(s, &rs, cp) || !pump(&s, 1, &rs.n, 1))
        FAIL("queued message not delivered after reconnect");
    for (int j = 0; j < 20; j++)
        mosquitto_loop(s, 10, 1);
    if (rs.n != 1 || strcmp(rs.payloads[0], "stays"))
        FAIL("%d messages after reconnect, first '%s' (the expired one must not come)", rs.n,
             rs.payloads[0]);
    mosquitto_property_free_all(&cp);
    bye(s);
    return 0;
}

/* Persistent session across a cairn restart, in two runs of this program
 * (test_mqtt_interop.sh restarts cairn in between): "restart-before"
 * leaves a session with a subscription, a QoS 1 and a QoS 2 message queued
 * for it and a retained message; "restart-after" finds the session present
 * with both messages in order and the retained message. */
static int case_restart_before(void)
{
    rx_t rs = {0}, rp = {0};
    mosquitto_property *cp = NULL;
    mosquitto_property_add_int32(&cp, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 3600);
    struct mosquitto *s = client("i-rs-sub", false, &rs);
    if (!conn(s, &rs, cp) || !sub(s, &rs, "i/rs/#", 2))
        FAIL("setup");
    mosquitto_property_free_all(&cp);
    bye(s);
    struct mosquitto *p = client("i-rs-pub", true, &rp);
    if (!conn(p, &rp, NULL))
        FAIL("publisher");
    mosquitto_publish_v5(p, NULL, "i/rs/1", 3, "one", 1, false, NULL);
    mosquitto_publish_v5(p, NULL, "i/rs/2", 3, "two", 2, false, NULL);
    mosquitto_publish_v5(p, NULL, "i/rs-ret/x", 4, "kept", 1, true, NULL);
    if (!pump(&p, 1, &rp.published, 3))
        FAIL("publish");
    bye(p);
    return 0;
}

static int case_restart_after(void)
{
    rx_t rs = {0};
    mosquitto_property *cp = NULL;
    mosquitto_property_add_int32(&cp, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 3600);
    struct mosquitto *s = client("i-rs-sub", false, &rs);
    if (!conn(s, &rs, cp))
        FAIL("reconnect");
    mosquitto_property_free_all(&cp);
    if (!rs.session_present)
        FAIL("session present 0 after the restart");
    if (!pump(&s, 1, &rs.n, 2))
        FAIL("%d queued messages after the restart, want 2", rs.n);
    if (strcmp(rs.payloads[0], "one") || rs.qos[0] != 1 || strcmp(rs.payloads[1], "two") ||
        rs.qos[1] != 2)
        FAIL("got %s/%d %s/%d", rs.payloads[0], rs.qos[0], rs.payloads[1], rs.qos[1]);
    if (!sub(s, &rs, "i/rs-ret/#", 1) || !pump(&s, 1, &rs.n, 3))
        FAIL("no retained message after the restart");
    if (strcmp(rs.topics[2], "i/rs-ret/x") || strcmp(rs.payloads[2], "kept") || !rs.retain[2])
        FAIL("retained %s %s %d", rs.topics[2], rs.payloads[2], rs.retain[2]);
    bye(s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    g_port = atoi(argv[1]);
    mosquitto_lib_init();
    static const struct {
        const char *name;
        int (*fn)(void);
    } cases[] = {{"qos2", case_qos2},         {"will", case_will},
                 {"retained", case_retained}, {"shared", case_shared},
                 {"alias", case_alias},       {"expiry", case_expiry_and_session},
                 {"restart-before", case_restart_before},
                 {"restart-after", case_restart_after}};
    int failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (argc > 2 ? strcmp(argv[2], cases[i].name) != 0
                     : strncmp(cases[i].name, "restart", 7) == 0) /* only when named */
            continue;
        int rc = cases[i].fn();
        printf("%s %s\n", rc ? "FAIL" : "ok  ", cases[i].name);
        failed += rc != 0;
    }
    mosquitto_lib_cleanup();
    return failed ? 1 : 0;
}
