#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/peers/victoriametrics.sh - starts and stops a Debian VictoriaMetrics
# 1.79 (package victoria-metrics, single node) as the /write and query peer of
# bench/run ingest and query, the way shared/PEERS.md says is fair:
#
#   victoria-metrics -storageDataPath=DIR/data -httpListenAddr=127.0.0.1:PORT
#                    -retentionPeriod=5y -loggerLevel=WARN
#
# on a free port.  The retention flag matters: VictoriaMetrics silently drops
# samples older than now - retention, and the workload starts on 2026-01-01.
# Nothing else is tuned.  It takes line protocol at POST /write?precision=ms
# and stores each field as the series telemetry_<field>{tags}.
#
#   bench/peers/victoriametrics.sh start DIR   # prints "PID PORT" once /health answers
#   bench/peers/victoriametrics.sh stop DIR    # stops that PID (TERM, then KILL)
#
# DIR (created if missing) receives victoria-metrics.log, pid, port and the
# data.  `stop` signals only the PID that `start` wrote, and only while that
# PID is still a victoria-metrics process.
set -euo pipefail

die() {
    echo "victoriametrics.sh: $*" >&2
    exit 1
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# /proc/PID/comm is cut to 15 characters: "victoria-metric".
is_vm() {
    [[ -r /proc/$1/comm ]] && [[ $(cat "/proc/$1/comm" 2>/dev/null) == victoria-metric* ]]
}

start() {
    local dir=$1 port pid try i code
    command -v victoria-metrics >/dev/null ||
        die "victoria-metrics is not installed (tools/setup.sh installs it)"
    command -v curl >/dev/null || die "curl is not installed"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    for try in 1 2 3; do
        port=$(free_port)
        victoria-metrics -storageDataPath="$dir/data" -httpListenAddr="127.0.0.1:$port" \
            -retentionPeriod=5y -loggerLevel=WARN >"$dir/victoria-metrics.log" 2>&1 </dev/null &
        pid=$!
        for ((i = 0; i < 300; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health" || true)
            if [[ $code == 200 ]]; then
                echo "$pid" >"$dir/pid"
                echo "$port" >"$dir/port"
                echo "$pid $port"
                return 0
            fi
            sleep 0.1
        done
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        echo "victoriametrics.sh: start on port $port failed (try $try):" >&2
        tail -n 3 "$dir/victoria-metrics.log" >&2 || true
    done
    die "could not start victoria-metrics"
}

stop() {
    local dir=$1 pid i
    [[ -f $dir/pid ]] || return 0
    pid=$(cat "$dir/pid")
    rm -f "$dir/pid"
    is_vm "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        is_vm "$pid" || return 0
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
}

[[ $# == 2 ]] || die "usage: victoriametrics.sh start|stop DIR"
case $1 in
start) start "$2" ;;
stop) stop "$2" ;;
*) die "usage: victoriametrics.sh start|stop DIR" ;;
esac
