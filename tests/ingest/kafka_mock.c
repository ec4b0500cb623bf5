/* SPDX-License-Identifier: MIT */
/*
 * kafka_mock.c - runs librdkafka's mock Kafka cluster (rdkafka_mock.h) on
 * loopback ports for the integration tests and the benchmark:
 *
 *   kafka_mock [BROKERS]        (default 3)
 *
 * Prints "bootstrap HOST:PORT,..." and then obeys one command per stdin
 * line, answering "ok" (or "error ...") to each:
 *
 *   topic NAME PARTITIONS             create a topic (replication = brokers)
 *   leader TOPIC PARTITION BROKER     move a partition's leader (brokers are 1..N)
 *   produce-errors CNT ERRCODE        the next CNT Produce requests fail
 *   down BROKER / up BROKER           take a broker off / back on the network
 *   quit                              (or end of input) stop and exit 0
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { API_PRODUCE = 0 };

int main(int argc, char **argv)
{
    int nbrokers = argc > 1 ? atoi(argv[1]) : 3;
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "kafka_mock: %s\n", err);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, nbrokers);
    if (!mc) {
        fprintf(stderr, "kafka_mock: cannot create the mock cluster\n");
        return 1;
    }
    printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    char line[1024];
    while (fgets(line, sizeof line, stdin)) {
        char a[256];
        int x, y, z;
        rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
        if (sscanf(line, "topic %255s %d", a, &x) == 2) {
            e = rd_kafka_mock_topic_create(mc, a, x, nbrokers);
        } else if (sscanf(line, "leader %255s %d %d", a, &x, &y) == 3) {
            e = rd_kafka_mock_partition_set_leader(mc, a, x, y);
        } else if (sscanf(line, "produce-errors %d %d", &x, &z) == 2) {
            for (int i = 0; i < x; i++)
                rd_kafka_mock_push_request_errors(mc, API_PRODUCE, 1, (rd_kafka_resp_err_t)z);
        } else if (sscanf(line, "down %d", &x) == 1) {
            e = rd_kafka_mock_broker_set_down(mc, x);
        } else if (sscanf(line, "up %d", &x) == 1) {
            e = rd_kafka_mock_broker_set_up(mc, x);
        } else if (strncmp(line, "quit", 4) == 0) {
            break;
        } else {
            printf("error unknown command\n");
            fflush(stdout);
            continue;
        }
        if (e)
            printf("error %s\n", rd_kafka_err2str(e));
        else
            printf("ok\n");
        fflush(stdout);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
