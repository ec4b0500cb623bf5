/* SPDX-License-Identifier: MIT */
/*
 * fuzz_map.c - libFuzzer target for topic templates (ingest/map/map.c).
 * The input is a template list up to the first NUL byte, a topic up to the
 * second, and a payload after it.  A list that fails to parse must yield no
 * map and a non-empty message.  A list that parses maps the topic: every
 * point is well-formed (mq_dec_point_valid()), the result names a template
 * that exists (or -1), and the template's counters add up.  Inputs naming a
 * regmap file are skipped (the fuzzer must not read arbitrary files).  A
 * broken property aborts.
 */
#include "map/map.h"

#include <stdlib.h>
#include <string.h>

static void check(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *s1 = size ? memchr(data, 0, size) : NULL;
    if (!s1)
        return 0;
    size_t slen = (size_t)(s1 - data);
    const uint8_t *topic = s1 + 1;
    size_t rest = size - slen - 1;
    const uint8_t *s2 = rest ? memchr(topic, 0, rest) : NULL;
    size_t tlen = s2 ? (size_t)(s2 - topic) : rest;
    const uint8_t *payload = s2 ? s2 + 1 : NULL;
    size_t plen = s2 ? rest - tlen - 1 : 0;

    char *spec = malloc(slen + 1);
    memcpy(spec, data, slen);
    spec[slen] = '\0';
    if (strstr(spec, "regmap=")) {
        free(spec);
        return 0;
    }
    mq_map_t *m = NULL;
    char err[256];
    int rc = mq_map_parse(spec, (size & 1) ? MQ_MAP_STORE_UNMATCHED : 0, &m, err, sizeof err);
    free(spec);
    if (rc < 0) {
        check(m == NULL && err[0] != '\0');
        return 0;
    }
    check(rc == 0 && m != NULL);
    /* Topics reach the map validated by the MQTT codec: UTF-8, no NUL, no
     * wildcards; give it the same. */
    bool ok = tlen > 0 && mq_dec__utf8_ok(topic, tlen);
    for (size_t i = 0; ok && i < tlen; i++)
        ok = topic[i] != '+' && topic[i] != '#';
    if (ok) {
        mq_dec_batch_t *b = NULL;
        mq_dec_batch_new(&b);
        mq_map_result_t res;
        int np =
            mq_map_decode(m, (const char *)topic, tlen, payload, plen, 42, NULL, NULL, b, &res);
        check(np >= 0 && np == res.npoints);
        check(res.tpl >= -1 && res.tpl <= (int32_t)mq_map_count(m));
        size_t n = 0;
        const eng_point_t *p = mq_dec_batch_points(b, &n);
        check(n == (size_t)np);
        for (size_t i = 0; i < n; i++)
            check(mq_dec_point_valid(&p[i]));
        if (res.tpl >= 0) {
            mq_map_stats_t st;
            mq_map_stats(m, (uint32_t)res.tpl, &st);
            check(st.msgs == 1 && st.points == (uint64_t)np);
        }
        mq_dec_batch_free(b);
    }
    mq_map_free(m);
    return 0;
}
