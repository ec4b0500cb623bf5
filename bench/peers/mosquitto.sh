#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/peers/mosquitto.sh - starts and stops a Debian mosquitto (2.0.x) as the
# MQTT peer of bench/run mqtt, the way shared/PEERS.md says is fair: one
# listener on a free 127.0.0.1 port, anonymous clients allowed, `user root`
# when run as root (it would otherwise drop to the `mosquitto` user), and
# nothing else: max_inflight_messages, max_queued_messages and the rest keep
# the package's defaults.  Persistence stays off (its default).
#
#   bench/peers/mosquitto.sh start DIR   # prints "PID PORT" once it accepts TCP
#   bench/peers/mosquitto.sh stop DIR    # stops that PID (TERM, then KILL)
#
# DIR (created if missing) receives mosquitto.conf, mosquitto.log, pid and
# port.  The open-file limit is raised as far as allowed before the start so
# that the broker can hold 50k connections.  `stop` signals only the PID that
# `start` wrote, and only while that PID is still a mosquitto process.
set -euo pipefail

die() {
    echo "mosquitto.sh: $*" >&2
    exit 1
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# is_mosquitto PID: true while PID is alive and is a mosquitto.
is_mosquitto() {
    [[ -r /proc/$1/comm ]] && [[ $(cat "/proc/$1/comm" 2>/dev/null) == mosquitto ]]
}

start() {
    local dir=$1 port pid try i
    command -v mosquitto >/dev/null || die "mosquitto is not installed (tools/setup.sh installs it)"
    mkdir -p "$dir"
    for try in 1 2 3; do
        port=$(free_port)
        {
            echo "listener $port 127.0.0.1"
            echo "allow_anonymous true"
            if [[ $(id -u) == 0 ]]; then echo "user root"; fi
        } >"$dir/mosquitto.conf"
        (
            ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
            exec mosquitto -c "$dir/mosquitto.conf"
        ) >"$dir/mosquitto.log" 2>&1 </dev/null &
        pid=$!
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            if (: >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
                echo "$pid" >"$dir/pid"
                echo "$port" >"$dir/port"
                echo "$pid $port"
                return 0
            fi
            sleep 0.05
        done
        # Lost the port to someone else (or failed): clean up and try again.
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        echo "mosquitto.sh: start on port $port failed (try $try):" >&2
        tail -n 3 "$dir/mosquitto.log" >&2 || true
    done
    die "could not start mosquitto"
}

stop() {
    local dir=$1 pid i
    [[ -f $dir/pid ]] || return 0
    pid=$(cat "$dir/pid")
    rm -f "$dir/pid"
    is_mosquitto "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        is_mosquitto "$pid" || return 0
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
}

[[ $# == 2 ]] || die "usage: mosquitto.sh start|stop DIR"
case $1 in
start) start "$2" ;;
stop) stop "$2" ;;
*) die "usage: mosquitto.sh start|stop DIR" ;;
esac
