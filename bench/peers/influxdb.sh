#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/peers/influxdb.sh - starts and stops a Debian InfluxDB 1.6.7 (package
# influxdb) as the /write and /query peer of bench/run ingest and query, the
# way shared/PEERS.md says is fair: a generated config with its RPC and HTTP
# ports on free 127.0.0.1 ports, meta, data and WAL under DIR, usage
# reporting, retention enforcement, continuous queries, subscriber and the
# _internal monitor store switched off; everything else (tsi/inmem index,
# cache and compaction settings, fsync of the WAL) keeps the package's
# defaults.  The database `iot` is created before the port is printed.
#
#   bench/peers/influxdb.sh start DIR   # prints "PID PORT" once /ping answers 204
#   bench/peers/influxdb.sh stop DIR    # stops that PID (TERM, then KILL)
#
# DIR (created if missing) receives influxdb.conf, influxdb.log, pid, port
# and the data.  `stop` signals only the PID that `start` wrote, and only
# while that PID is still an influxd.
set -euo pipefail

DB=iot

die() {
    echo "influxdb.sh: $*" >&2
    exit 1
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

is_influxd() {
    [[ -r /proc/$1/comm ]] && [[ $(cat "/proc/$1/comm" 2>/dev/null) == influxd ]]
}

start() {
    local dir=$1 port rpc pid try i code
    command -v influxd >/dev/null || die "influxd is not installed (tools/setup.sh installs influxdb)"
    command -v curl >/dev/null || die "curl is not installed"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    for try in 1 2 3; do
        port=$(free_port)
        rpc=$(free_port)
        cat >"$dir/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc"

[meta]
  dir = "$dir/meta"

[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"

[http]
  bind-address = "127.0.0.1:$port"

[retention]
  enabled = false

[continuous_queries]
  enabled = false

[subscriber]
  enabled = false

[monitor]
  store-enabled = false
CONF
        influxd run -config "$dir/influxdb.conf" >"$dir/influxdb.log" 2>&1 </dev/null &
        pid=$!
        for ((i = 0; i < 300; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ping" || true)
            if [[ $code == 204 ]]; then
                code=$(curl -s -o "$dir/create.out" -w '%{http_code}' -XPOST \
                    "http://127.0.0.1:$port/query" --data-urlencode "q=CREATE DATABASE $DB" || true)
                [[ $code == 200 ]] || { cat "$dir/create.out" >&2; break; }
                echo "$pid" >"$dir/pid"
                echo "$port" >"$dir/port"
                echo "$pid $port"
                return 0
            fi
            sleep 0.1
        done
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        echo "influxdb.sh: start on port $port failed (try $try):" >&2
        tail -n 3 "$dir/influxdb.log" >&2 || true
    done
    die "could not start influxd"
}

stop() {
    local dir=$1 pid i
    [[ -f $dir/pid ]] || return 0
    pid=$(cat "$dir/pid")
    rm -f "$dir/pid"
    is_influxd "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        is_influxd "$pid" || return 0
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
}

[[ $# == 2 ]] || die "usage: influxdb.sh start|stop DIR"
case $1 in
start) start "$2" ;;
stop) stop "$2" ;;
*) die "usage: influxdb.sh start|stop DIR" ;;
esac
