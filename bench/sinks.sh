# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# bench/sinks.sh - sourced by bench/run: `bench/run sinks` prints the sink
# throughput figures of issue 6 on their own RESULT line.  The measuring
# lives in bench/rules_sinks.sh, which `bench/run rules` also runs for the
# kafka_msgs_per_s and webhook_per_s keys of its RESULT line.

run_sinks() {
    local line
    line=$(SIZE=$SIZE WORK=$WORK BUILD=$BUILD bash "$BENCH/rules_sinks.sh" | grep '^SINKS ') ||
        die "bench/rules_sinks.sh failed"
    echo "RESULT name=sinks size=$SIZE kafka_msgs_per_s=$(kv kafka_msgs_per_s "$line")" \
        "webhook_per_s=$(kv webhook_per_s "$line")"
}
