# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# bench/ingest.sh - `bench/run ingest` (issue 4), sourced by bench/run, which
# provides die, build, kv, kvna, median, ratio, free_port, untrack, the
# mq_* broker helpers, WORK, BUILD, BENCH, SIZE and PIDS.  Also the HTTP
# peer helpers (hp_*) and workload shape that bench/query.sh uses.
#
# In one run, on the workload of --size:
#   MQTT   mqtt_load, 8 publishers x (records / 8) JSON messages at QoS 1
#          (window 64) with one QoS 0 subscriber on devices/+/telemetry,
#          against cairn (durability fsync, a fresh data directory per round;
#          the stored rows are counted with cairn_dump after a clean stop)
#          and mosquitto (routing only).  Rounds alternate the order.
#   /write write_load, the workload as line protocol in 5000-line batches
#          from 2 keep-alive writers, against cairn, VictoriaMetrics and
#          InfluxDB, each fresh per round; every system's stored field
#          values are counted before its rate is kept.
# A figure whose system part is missing (cairn's MQTT listener, MQTT into
# storage) or whose check fails is `na`, with the reason on stderr.

# ------------------------------------------------------ workload shape
# wl_shape: G_DEVICES, G_HOURS, G_RECORDS, G_VALUES, G_START_S, G_END_S
# (end exclusive, epoch seconds) of $SIZE (bench/gen.c's sizes).
wl_shape() {
    case $SIZE in
    small) G_DEVICES=100 G_HOURS=1 ;;
    medium) G_DEVICES=1000 G_HOURS=6 ;;
    day) G_DEVICES=1000 G_HOURS=24 ;;
    *) die "$NAME runs --size small, medium or day" ;;
    esac
    G_RECORDS=$((G_DEVICES * G_HOURS * 360))
    G_VALUES=$((G_RECORDS * 10))
    G_START_S=1767225600
    G_END_S=$((G_START_S + G_HOURS * 3600))
}

# ------------------------------------------------------- HTTP systems
# cairn (its /write and /query), VictoriaMetrics and InfluxDB, each on a
# free 127.0.0.1 port with a private data directory $WORK/SYS.TAG.
declare -A HP_PID=() HP_PORT=()
declare -A HP_WRITE=([cairn]="/write?db=iot&precision=ms" [influx]="/write?db=iot&precision=ms"
    [vm]="/write?precision=ms")
declare -A HP_LABEL=([cairn]=cairn [influx]="InfluxDB" [vm]="VictoriaMetrics")

# hp_start SYS TAG: a fresh server; 1 when cairn's executable is missing or
# its HTTP API does not come up.
hp_start() {
    local sys=$1 dir="$WORK/$1.$2" out
    case $sys in
    influx | vm)
        local script=influxdb.sh
        [[ $sys == vm ]] && script=victoriametrics.sh
        out=$("$BENCH/peers/$script" start "$dir") || die "$sys did not start"
        HP_PID[$sys]=${out% *}
        HP_PORT[$sys]=${out#* }
        PIDS+=("${HP_PID[$sys]}")
        return 0
        ;;
    esac
    local exe=${CAIRN_BENCH_SERVER:-$BUILD/cairn} port mport pid end
    [[ -x $exe ]] || return 1
    mkdir -p "$dir"
    port=$(free_port)
    mport=$(free_port)
    "$exe" --data-dir="$dir/data" --http-listen="127.0.0.1:$port" \
        --mqtt-listen="127.0.0.1:$mport" --durability=fsync >"$dir/cairn.log" 2>&1 </dev/null &
    pid=$!
    PIDS+=("$pid")
    HP_PID[$sys]=$pid
    end=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < end)); do
        if [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ping" || true) == 204 ]]; then
            HP_PORT[$sys]=$port
            return 0
        fi
        sleep 0.1
    done
    echo "bench/run: cairn's HTTP API did not answer /ping; log:" >&2
    tail -n 5 "$dir/cairn.log" >&2 || true
    hp_stop "$sys" "$2"
    return 1
}

# hp_stop SYS TAG: stops the server started by hp_start (cairn: TERM, then
# KILL after 60 s; the data directory stays for the checks).
hp_stop() {
    local sys=$1 pid=${HP_PID[$1]:-} i
    [[ -n $pid ]] || return 0
    case $sys in
    influx) "$BENCH/peers/influxdb.sh" stop "$WORK/$1.$2" ;;
    vm) "$BENCH/peers/victoriametrics.sh" stop "$WORK/$1.$2" ;;
    *)
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 1200; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        ;;
    esac
    untrack "$pid"
    HP_PID[$sys]=""
}

# hp_load SYS TAG: write_load of the whole workload into SYS; its WRITELOAD
# line in HP_LAST ("" when it failed).
hp_load() {
    local sys=$1 out="$WORK/$1.$2.write.out"
    HP_LAST=""
    if "$BUILD/bench/write_load" --port "${HP_PORT[$sys]}" --path "${HP_WRITE[$sys]}" \
        --size "$SIZE" --batch 5000 --writers 2 >"$out" 2>&1; then
        HP_LAST=$(grep '^WRITELOAD ' "$out" | tail -n 1) || HP_LAST=""
    else
        echo "bench/run: write_load into $sys failed:" >&2
        tail -n 6 "$out" >&2
    fi
    sed "s/^/  [$sys] /" "$out"
}

# cairn_stored DIR: "ROWS VALUES" stored in a stopped cairn's data
# directory, read through the engine (tests/integration/dump.c): every row
# printed, values = the fields of each row.
cairn_stored() {
    [[ -x $BUILD/tests/cairn_dump ]] || {
        echo "na na"
        return 0
    }
    "$BUILD/tests/cairn_dump" "$1" 2>"$WORK/dump.err" |
        awk '{ rows++; vals += gsub(/,/, ",", $2) + 1 } END { printf "%d %d\n", rows, vals }' ||
        echo "na na"
}

# influx_values PORT: the field values in iot.telemetry (SELECT count(*)).
influx_values() {
    curl -s -G "http://127.0.0.1:$1/query" --data-urlencode db=iot \
        --data-urlencode 'q=SELECT count(*) FROM telemetry' |
        python3 -c 'import json, sys
try:
    r = json.load(sys.stdin)["results"][0]
    print(sum(v for s in r.get("series", []) for v in s["values"][0][1:]))
except Exception:
    print("na")'
}

# vm_values PORT: samples of telemetry_* over the workload's range (a window
# of H + 2 hours ending an hour after it: PromQL windows are left-open), after
# /internal/force_flush (retried for up to 10 s: ingestion is asynchronous).
vm_values() {
    local port=$1 i n=na
    for ((i = 0; i < 20; i++)); do
        curl -s "http://127.0.0.1:$port/internal/force_flush" >/dev/null || true
        n=$(curl -s "http://127.0.0.1:$port/api/v1/query" -d nocache=1 \
            --data-urlencode "query=sum(count_over_time({__name__=~\"telemetry_.*\"}[$((G_HOURS + 2))h]))" \
            --data-urlencode "time=$((G_END_S + 3600))" |
            python3 -c 'import json, sys
try:
    r = json.load(sys.stdin)["data"]["result"]
    print(r[0]["value"][1] if r else 0)
except Exception:
    print("na")')
        [[ $n == "$G_VALUES" ]] && break
        sleep 0.5
    done
    echo "$n"
}

# ----------------------------------------------------------- the rounds
declare -A IN_VALS=()
IN_NO_MQTT="" # set once cairn's MQTT listener did not answer
IN_FAIL=""    # set when cairn acknowledged data it did not store
in_add() {
    IN_VALS[$1.$2]+="$3 "
}
in_med() {
    # shellcheck disable=SC2086 # a space-separated list
    median ${IN_VALS[$1.$2]:-}
}

# in_mqtt_round SYS R MSGS: one QoS 1 run into a fresh broker.
in_mqtt_round() {
    local sys=$1 r=$2 msgs=$3 tag="mqtt$2" total=$((8 * $3))
    if [[ $sys == cairn && -n $IN_NO_MQTT ]] || ! mq_start "$sys" "$tag"; then
        [[ -n $IN_NO_MQTT ]] ||
            echo "cairn: mqtt listener not available yet (issue 3); MQTT figures na" >&2
        IN_NO_MQTT=1
        in_add "$sys" mqtt na
        return 0
    fi
    echo "== round $r: MQTT QoS 1 into $sys (8 publishers x $msgs, window 64, one QoS 0 subscriber)"
    mq_load "$sys" "$tag" --mode throughput --pubs 8 --msgs "$msgs" --qos 1 --window 64 \
        --subs 1 --sub-qos 0 --timeout 1800
    local sub pub rate pct
    sub=$(kvna msgs_per_s "$MQ_LAST")
    pub=$(kvna pub_msgs_per_s "$MQ_LAST")
    pct=$(kvna received_pct "$MQ_LAST")
    # Stored (PUBACKed) and delivered: the slower of the two rates.
    rate=$(awk -v a="$sub" -v b="$pub" 'BEGIN {
        if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/) print (a + 0 < b + 0 ? a : b); else print "na" }')
    mq_stop "$sys" "$tag"
    if [[ $sys == cairn && $rate != na ]]; then
        local rows vals
        read -r rows vals < <(cairn_stored "$WORK/$sys.$tag/data")
        echo "  [cairn] stored: $rows rows, $vals field values (expected $total rows, $((total * 10)) values)"
        if [[ $rows == 0 ]]; then
            echo "cairn: MQTT messages are routed but not stored yet (MQTT into storage, issue 4); MQTT figure na" >&2
            rate=na
        elif [[ $rows != "$total" || $vals != $((total * 10)) ]]; then
            echo "bench/run: cairn acknowledged $total MQTT messages but stored $rows rows, $vals values; MQTT figure na" >&2
            rate=na
            IN_FAIL=1
        fi
    fi
    [[ $rate == na ]] || echo "  [$sys] $rate records/s, $((${rate%.*} * 10)) field values/s, subscriber received $pct %"
    in_add "$sys" mqtt "$rate"
    in_add "$sys" mqtt_pct "$pct"
    rm -rf "${WORK:?}/$sys.$tag"
}

# in_write_round SYS R: the workload through /write into a fresh SYS.
in_write_round() {
    local sys=$1 r=$2 tag="write$2"
    if ! hp_start "$sys" "$tag"; then
        echo "cairn: not available for /write; its figures na" >&2
        in_add "$sys" write na
        return 0
    fi
    echo "== round $r: /write into ${HP_LABEL[$sys]} (5000-line batches, 2 writers)"
    hp_load "$sys" "$tag"
    local vps=na got=na
    if [[ -n $HP_LAST && $(kvna errors "$HP_LAST") == 0 ]]; then
        vps=$(kvna values_per_s "$HP_LAST")
    fi
    case $sys in
    influx) got=$(influx_values "${HP_PORT[$sys]}") ;;
    vm) got=$(vm_values "${HP_PORT[$sys]}") ;;
    esac
    hp_stop "$sys" "$tag"
    if [[ $sys == cairn ]]; then
        local rows
        read -r rows got < <(cairn_stored "$WORK/$sys.$tag/data")
    fi
    echo "  [$sys] stored field values: $got (expected $G_VALUES)"
    if [[ $got != "$G_VALUES" ]]; then
        echo "bench/run: ${HP_LABEL[$sys]} stored $got of $G_VALUES field values; its /write figure na" >&2
        vps=na
        # A peer's loss is reported; cairn's own is a failure of the run.
        [[ $sys != cairn || -z $HP_LAST || $(kvna errors "$HP_LAST") != 0 ]] || IN_FAIL=1
    fi
    in_add "$sys" write "$vps"
    rm -rf "${WORK:?}/$sys.$tag"
}

run_ingest() {
    wl_shape
    local rounds=${CAIRN_BENCH_ROUNDS:-3} msgs=$((G_RECORDS / 8)) r sys
    # shellcheck disable=SC2034 # read by mq_start (bench/run)
    MQ_DURABILITY=fsync
    build write_load mqtt_load cairn_dump
    echo "== build (optional): cairn"
    cmake --build "$BUILD" -j2 --target cairn >"$WORK/build-cairn.log" 2>&1 ||
        echo "bench/run: cairn did not build (see --keep $WORK/build-cairn.log); its figures na" >&2
    command -v mosquitto >/dev/null || die "mosquitto is not installed (tools/setup.sh installs it)"
    command -v influxd >/dev/null || die "influxd is not installed (tools/setup.sh installs influxdb)"
    command -v victoria-metrics >/dev/null || die "victoria-metrics is not installed (tools/setup.sh)"
    command -v curl >/dev/null || die "curl is not installed"
    echo "== workload '$SIZE': $G_RECORDS records, $G_VALUES field values; $rounds rounds, order alternating"
    echo "== $(mosquitto -h 2>/dev/null | head -n 1); $(influxd version 2>/dev/null);" \
        "VictoriaMetrics $(dpkg-query -W -f='${Version}' victoria-metrics 2>/dev/null)"

    local mq=(cairn mosquitto) wr=(cairn vm influx) order
    for ((r = 1; r <= rounds; r++)); do
        order=("${mq[@]}")
        ((r % 2 == 0)) && order=(mosquitto cairn)
        for sys in "${order[@]}"; do in_mqtt_round "$sys" "$r" "$msgs"; done
    done
    for ((r = 1; r <= rounds; r++)); do
        order=("${wr[@]}")
        ((r % 2 == 0)) && order=(influx vm cairn)
        for sys in "${order[@]}"; do in_write_round "$sys" "$r"; done
    done

    local c p v
    echo "== summary: medians of $rounds rounds"
    printf '  %-34s %14s %16s\n' "" "records/s" "field values/s"
    for sys in cairn mosquitto; do
        c=$(in_med "$sys" mqtt)
        printf '  %-34s %14s %16s  (subscriber received %s %%)\n' "MQTT QoS 1 $sys" "$c" \
            "$(awk -v a="$c" 'BEGIN { if (a ~ /^[0-9.]+$/) printf "%.0f", a * 10; else print "na" }')" \
            "$(in_med "$sys" mqtt_pct)"
    done
    for sys in cairn vm influx; do
        v=$(in_med "$sys" write)
        printf '  %-34s %14s %16s\n' "/write ${HP_LABEL[$sys]}" \
            "$(awk -v a="$v" 'BEGIN { if (a ~ /^[0-9.]+$/) printf "%.0f", a / 10; else print "na" }')" "$v"
    done
    echo "== bench/run $NAME --size $SIZE took ${SECONDS} s"
    c=$(in_med cairn mqtt)
    p=$(in_med mosquitto mqtt)
    v=$(in_med cairn write)
    local vm influx
    vm=$(in_med vm write)
    influx=$(in_med influx write)
    local line="RESULT name=ingest size=$SIZE mqtt_qos1_msgs_per_s=$c mqtt_peer_msgs_per_s=$p"
    line+=" mqtt_ratio=$(ratio "$c" "$p") write_values_per_s=$v write_vm_values_per_s=$vm"
    line+=" write_vm_ratio=$(ratio "$v" "$vm") write_influx_values_per_s=$influx"
    line+=" write_influx_ratio=$(ratio "$v" "$influx")"
    line+=" mqtt_received_pct=$(in_med cairn mqtt_pct) mqtt_peer_received_pct=$(in_med mosquitto mqtt_pct)"
    echo "$line"
    [[ -z $IN_FAIL ]] || die "cairn lost acknowledged data (see above)"
}
