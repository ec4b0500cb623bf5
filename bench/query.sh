# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# bench/query.sh - `bench/run query` (issue 5), sourced by bench/run after
# bench/ingest.sh (wl_shape, hp_start, hp_stop, hp_load, influx_values,
# vm_values).
#
# The workload of --size goes through /write (write_load: 5000-line batches,
# 2 writers) into cairn, VictoriaMetrics and InfluxDB, each counted.  Then
# each system answers each of Q1-Q6 once, unmeasured (the answer is kept
# and checked); after the machine is quiet again (wait_quiet) each query is
# measured 5 times on each system; the median of the 5 is reported,
# in ms, as curl's time_total of one HTTP request on a new connection (the
# same client cost for every system; the measured answers go to /dev/null:
# curl creates its output file when the first bytes arrive, and creating a
# file here costs about 0.3 ms, more than a small answer itself).  cairn and InfluxDB get the same
# InfluxQL (epoch=ms); VictoriaMetrics the nearest MetricsQL (nocache=1):
#
#   Q1 last value of every field, one device
#      SELECT last(*) FROM telemetry WHERE device_id = 'dev-000042'
#      VM /api/v1/query  last_over_time({__name__=~"telemetry_.*",device_id="dev-000042"}[Hh]) at end-1s
#   Q2 1-minute mean of temperature, one device, the last hour
#      SELECT mean(temperature) FROM telemetry WHERE device_id = 'dev-000042'
#        AND time >= 'end-1h' AND time < 'end' GROUP BY time(1m)
#      VM /api/v1/query_range  avg_over_time(telemetry_temperature{device_id="dev-000042"}[1m]),
#        step 60 s from end-1h+59s to end-1s
#   Q3 max(temperature) per device over the whole range
#      SELECT max(temperature) FROM telemetry GROUP BY device_id
#      VM /api/v1/query  max_over_time(telemetry_temperature[Hh]) at end-1s
#   Q4 hourly mean of all ten fields over fleet-3 (100 devices), the first
#      min(6, H) hours
#      SELECT mean(*) FROM telemetry WHERE fleet = 'fleet-3' AND time >= 'start'
#        AND time < 'start+6h' GROUP BY time(1h)
#      VM /api/v1/query_range  avg by (__name__) (avg_over_time({__name__=~"telemetry_.*",
#        fleet="fleet-3"}[1h]) keep_metric_names), step 3600 s from start+1h-1s
#   Q5 count of all field values
#      SELECT count(*) FROM telemetry
#      VM /api/v1/query  sum by (__name__) (count_over_time({__name__=~"telemetry_.*"}[Hh])
#        keep_metric_names) at end-1s
#   Q6 the latest temperature of every device
#      SELECT last(temperature) FROM telemetry GROUP BY device_id
#      VM /api/v1/query  last_over_time(telemetry_temperature[Hh]) at end-1s
#
# PromQL windows are left-open (t - w, t]: evaluating at a bucket's end - 1 s
# covers the same points as InfluxQL's [start, end) (timestamps are whole
# multiples of 10 s).  Q4's average of per-series averages is the mean over
# the fleet because every series has the same number of points per hour.
#
# Q0 times a request that asks nothing (GET /ping; VictoriaMetrics GET
# /health) the same way, after the queries: the floor under every figure -
# curl's own work, a new connection, the server's HTTP - against which Q1
# and Q2 are small.
#
# Beside them, informational only: Q1, Q2 and Q0 as a client that keeps its
# connection asks them (Grafana's InfluxDB data source, the influx CLI) -
# one curl sends q_once's request 6 times on one kept-alive connection, the
# first (with the connect) is not counted, the median of the other 5 is the
# figure (na if curl made a new connection for any of them).  It runs after
# Q0, on each system after wait_quiet, and goes into a second summary table
# and the q*_ka_* keys at the end of the RESULT line.  The issue's figures
# remain the fresh-connection ones above.
#
# Also informational: Q1, Q2 and Q0 on a new connection each, as above, but
# asked by one process (query_lat: 5 runs 5 ms apart, the median) instead
# of a new curl per request - curl's start costs about 0.1 ms of every
# figure above and leaves the server's CPU caches cold (query_lat.c NOTES
# 1).  A third summary table and the q*_direct_* keys at the very end.
#
# Checks: cairn's answer must equal InfluxDB's (query_check.py influx: same
# series, columns and rows, floats within 1e-9 relative): MATCH / MISMATCH /
# na per query.  VictoriaMetrics' answer must carry InfluxDB's values
# (query_check.py vm), so the MetricsQL really is the same question.  cairn
# is `na` while its /query is missing (issue 5) or for a query it refuses.

declare -A QI=() QV=() QV_API=() QV_ARGS=()
declare -A QR=() QMATCH=() QVMCHK=() QK=() QD=()

rfc3339() {
    date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ
}

q_define() {
    local dev=dev-000042 fleet=fleet-3 last=$((G_END_S - 1)) h=${G_HOURS}h
    local q2s=$((G_END_S - 3600)) q4h=$((G_HOURS < 6 ? G_HOURS : 6))
    local q4e=$((G_START_S + q4h * 3600))
    QI[1]="SELECT last(*) FROM telemetry WHERE device_id = '$dev'"
    QV[1]="last_over_time({__name__=~\"telemetry_.*\",device_id=\"$dev\"}[$h])"
    QV_API[1]=query QV_ARGS[1]="time=$last"
    QI[2]="SELECT mean(temperature) FROM telemetry WHERE device_id = '$dev' AND time >= '$(rfc3339 $q2s)' AND time < '$(rfc3339 "$G_END_S")' GROUP BY time(1m)"
    QV[2]="avg_over_time(telemetry_temperature{device_id=\"$dev\"}[1m])"
    QV_API[2]=query_range QV_ARGS[2]="start=$((q2s + 59)) end=$last step=60"
    QI[3]="SELECT max(temperature) FROM telemetry GROUP BY device_id"
    QV[3]="max_over_time(telemetry_temperature[$h])"
    QV_API[3]=query QV_ARGS[3]="time=$last"
    QI[4]="SELECT mean(*) FROM telemetry WHERE fleet = '$fleet' AND time >= '$(rfc3339 "$G_START_S")' AND time < '$(rfc3339 $q4e)' GROUP BY time(1h)"
    QV[4]="avg by (__name__) (avg_over_time({__name__=~\"telemetry_.*\",fleet=\"$fleet\"}[1h]) keep_metric_names)"
    QV_API[4]=query_range QV_ARGS[4]="start=$((G_START_S + 3599)) end=$((q4e - 1)) step=3600"
    QI[5]="SELECT count(*) FROM telemetry"
    QV[5]="sum by (__name__) (count_over_time({__name__=~\"telemetry_.*\"}[$h]) keep_metric_names)"
    QV_API[5]=query QV_ARGS[5]="time=$last"
    QI[6]="SELECT last(temperature) FROM telemetry GROUP BY device_id"
    QV[6]="last_over_time(telemetry_temperature[$h])"
    QV_API[6]=query QV_ARGS[6]="time=$last"
}

# wait_quiet: waits (up to CAIRN_BENCH_QUIET_MAX s, default 60; CI's bounded
# run sets 10) until the machine's CPUs were at most
# 10 % busy over two 1-second samples in a row.  Each system may go on with
# background work after a load or its queries (InfluxDB works at 1-2 cores
# for 3-5 s after its answers to small queries here, VictoriaMetrics merges
# parts, cairn flushes); timed beside it, a small query measures that work
# instead of its own latency - whichever system is asked.  Prints the wait.
wait_quiet() {
    local t0=$SECONDS a b busy=100 calm=0 max=${CAIRN_BENCH_QUIET_MAX:-60}
    read -r -a a < <(head -1 /proc/stat)
    while ((SECONDS - t0 < max)); do
        sleep 1
        read -r -a b < <(head -1 /proc/stat)
        # fields: cpu user nice system idle iowait irq softirq steal
        local dt=0 di i
        for i in 1 2 3 4 5 6 7 8; do dt=$((dt + b[i] - a[i])); done
        di=$((b[4] + b[5] - a[4] - a[5]))
        busy=$((dt > 0 ? 100 * (dt - di) / dt : 100))
        a=("${b[@]}")
        if ((busy <= 10)); then
            calm=$((calm + 1))
            ((calm >= 2)) && break
        else
            calm=0
        fi
    done
    echo "== quiet: waited $((SECONDS - t0)) s (CPU ${busy} % busy in the last second)"
}

# q_once SYS N OUT: one request (N 0: GET /ping, VictoriaMetrics /health);
# prints "HTTP_CODE SECONDS".
q_once() {
    local sys=$1 n=$2 out=$3 port=${HP_PORT[$1]} a args=()
    if [[ $n == 0 ]]; then
        curl -s -o "$out" -w '%{http_code} %{time_total}\n' \
            "http://127.0.0.1:$port/$([[ $sys == vm ]] && echo health || echo ping)" || echo "000 0"
    elif [[ $sys == vm ]]; then
        for a in ${QV_ARGS[$n]}; do args+=(--data-urlencode "$a"); done
        curl -s -G -o "$out" -w '%{http_code} %{time_total}\n' \
            "http://127.0.0.1:$port/api/v1/${QV_API[$n]}" --data-urlencode "query=${QV[$n]}" \
            -d nocache=1 "${args[@]}" || echo "000 0"
    else
        curl -s -G -o "$out" -w '%{http_code} %{time_total}\n' "http://127.0.0.1:$port/query" \
            --data-urlencode db=iot --data-urlencode epoch=ms --data-urlencode "q=${QI[$n]}" ||
            echo "000 0"
    fi
}

# q_check SYS N: the first answer, unmeasured, checked and kept in
# $WORK/qN.SYS.json; QR[SYS.N] becomes na if it failed.
q_check() {
    local sys=$1 n=$2 out="$WORK/q$2.$1.json" code secs why
    read -r code secs < <(q_once "$sys" "$n" "$out")
    if [[ $code != 200 ]] || ! why=$(python3 "$BENCH/query_check.py" ok "$out"); then
        [[ $code == 200 ]] || why="HTTP $code: $(head -c 300 "$out" 2>/dev/null)"
        echo "bench/run: Q$n on ${HP_LABEL[$sys]}: $why; its figure na" >&2
        QR[$sys.$n]=na
        rm -f "$out"
    fi
}

# q_time SYS N: the median of 5 timed runs in QR[SYS.N] (ms), or na.
q_time() {
    local sys=$1 n=$2 code secs i times=()
    [[ ${QR[$sys.$n]:-} == na ]] && return 0
    for ((i = 0; i < 5; i++)); do
        read -r code secs < <(q_once "$sys" "$n" /dev/null)
        [[ $code == 200 || ($n == 0 && $code == 204) ]] || {
            echo "bench/run: Q$n on ${HP_LABEL[$sys]}: HTTP $code in a timed run; its figure na" >&2
            QR[$sys.$n]=na
            return 0
        }
        times+=("$(awk -v s="$secs" 'BEGIN { printf "%.3f", s * 1000 }')")
    done
    QR[$sys.$n]=$(median "${times[@]}")
    printf '  Q%s %-16s %9s ms  (runs: %s)\n' "$n" "${HP_LABEL[$sys]}" "${QR[$sys.$n]}" "${times[*]}"
}

# q_time_ka SYS N: N on one kept-alive connection (informational): one curl
# sends q_once's request (the same URL and query string, -G applying them to
# every URL given) 6 times - curl keeps the connection between them - and the
# median of the 5 after the first (which includes the connect) goes to
# QK[SYS.N] (ms); na when QR[SYS.N] is, on any other HTTP code than q_time
# takes, or when curl made a new connection for any of the 5.
q_time_ka() {
    local sys=$1 n=$2 port=${HP_PORT[$1]:-} a i=0 url out code secs conns got first="" why=""
    local data=() args=() times=()
    QK[$sys.$n]=na
    [[ ${QR[$sys.$n]:-na} == na ]] && return 0
    if [[ $n == 0 ]]; then
        url="http://127.0.0.1:$port/$([[ $sys == vm ]] && echo health || echo ping)"
    elif [[ $sys == vm ]]; then
        url="http://127.0.0.1:$port/api/v1/${QV_API[$n]}"
        data=(-G --data-urlencode "query=${QV[$n]}" -d nocache=1)
        for a in ${QV_ARGS[$n]}; do data+=(--data-urlencode "$a"); done
    else
        url="http://127.0.0.1:$port/query"
        data=(-G --data-urlencode db=iot --data-urlencode epoch=ms --data-urlencode "q=${QI[$n]}")
    fi
    for ((i = 0; i < 6; i++)); do args+=(-o /dev/null "$url"); done
    out=$(curl -s -w '%{http_code} %{time_total} %{num_connects} %{url_effective}\n' \
        "${data[@]}" "${args[@]}") || true
    i=0
    while read -r code secs conns got; do
        i=$((i + 1))
        if [[ $code != 200 && ! ($n == 0 && $code == 204) ]]; then
            why="HTTP ${code:-000} in request $i"
            break
        fi
        if ((i == 1)); then
            first=$got
            continue
        fi
        if [[ $got != "$first" ]]; then
            why="request $i asked $got, not $first"
            break
        fi
        if [[ $conns != 0 ]]; then
            why="curl made a new connection for request $i (num_connects $conns)"
            break
        fi
        times+=("$(awk -v s="$secs" 'BEGIN { printf "%.3f", s * 1000 }')")
    done <<<"$out"
    [[ -n $why || ${#times[@]} == 5 ]] || why="$i of 6 requests answered"
    if [[ -n $why ]]; then
        echo "bench/run: Q$n on ${HP_LABEL[$sys]} kept alive: $why; its figure na" >&2
        return 0
    fi
    QK[$sys.$n]=$(median "${times[@]}")
    printf '  Q%s %-16s %9s ms  (runs: %s)\n' "$n" "${HP_LABEL[$sys]}" "${QK[$sys.$n]}" "${times[*]}"
}

# q_path SYS N: the path and query string q_once asks for, URL-encoded as
# curl's --data-urlencode encodes them.
q_path() {
    local sys=$1 n=$2
    if [[ $n == 0 ]]; then
        [[ $sys == vm ]] && echo /health || echo /ping
    elif [[ $sys == vm ]]; then
        # shellcheck disable=SC2086 # QV_ARGS holds k=v words
        python3 "$BENCH/query_check.py" url "/api/v1/${QV_API[$n]}" "query=${QV[$n]}" nocache=1 \
            ${QV_ARGS[$n]}
    else
        python3 "$BENCH/query_check.py" url /query db=iot epoch=ms "q=${QI[$n]}"
    fi
}

# q_time_direct SYS N: N on a new connection each, 5 times from one
# process (query_lat), informational: the median in QD[SYS.N] (ms); na when
# QR[SYS.N] is or an answer was not 2xx.
q_time_direct() {
    local sys=$1 n=$2 path out ms med
    QD[$sys.$n]=na
    [[ ${QR[$sys.$n]:-na} == na ]] && return 0
    path=$(q_path "$sys" "$n") || return 0
    if ! out=$("$BUILD/bench/query_lat" --port "${HP_PORT[$sys]}" --path "$path" --runs 5 \
        --pause-ms 5); then
        echo "bench/run: Q$n on ${HP_LABEL[$sys]} from query_lat failed; its figure na" >&2
        return 0
    fi
    ms=${out##* ms=}
    ms=${ms%% *}
    med=${out##* median=}
    # shellcheck disable=SC2034 # read through info_table's nameref
    QD[$sys.$n]=$med
    printf '  Q%s %-16s %9s ms  (runs: %s)\n' "$n" "${HP_LABEL[$sys]}" "$med" "${ms//,/ }"
}

# info_run FN: FN SYS N for Q1, Q2 and Q0 on each system whose timed figure
# is not na, each after wait_quiet (the figures it leaves out print na).
info_run() {
    local fn=$1 n sys
    for n in 1 2 0; do
        for sys in cairn vm influx; do
            [[ ${QR[$sys.$n]:-na} == na ]] && continue
            wait_quiet >/dev/null
            "$fn" "$sys" "$n"
        done
    done
}

# info_table ARRAY TAG: the summary table of an informational section (Q1,
# Q2, Q0 from ARRAY, keyed SYS.N) and, in INFO_KEYS, its RESULT keys
# (q<N>_TAG_ms, q<N>_TAG_vm_ms, q<N>_TAG_influx_ms, then the ratios).
info_table() {
    local -n fig=$1
    local tag=$2 n c vmv inf keys="" ratios=""
    printf '  %-3s %10s %10s %10s %9s %9s\n' "" cairn VM InfluxDB "vs VM" "vs Influx"
    for n in 1 2 0; do
        c=${fig[cairn.$n]:-na} vmv=${fig[vm.$n]:-na} inf=${fig[influx.$n]:-na}
        printf '  Q%-2s %10s %10s %10s %9s %9s\n' "$n" "$c" "$vmv" "$inf" "$(ratio "$c" "$vmv")" \
            "$(ratio "$c" "$inf")"
        keys+=" q${n}_${tag}_ms=$c q${n}_${tag}_vm_ms=$vmv q${n}_${tag}_influx_ms=$inf"
        [[ $n == 0 ]] ||
            ratios+=" q${n}_${tag}_vm_ratio=$(ratio "$c" "$vmv") q${n}_${tag}_influx_ratio=$(ratio "$c" "$inf")"
    done
    INFO_KEYS="$keys$ratios"
}

run_query() {
    wl_shape
    q_define
    build write_load query_lat
    echo "== build (optional): cairn"
    cmake --build "$BUILD" -j2 --target cairn >"$WORK/build-cairn.log" 2>&1 ||
        echo "bench/run: cairn did not build (see --keep $WORK/build-cairn.log); its figures na" >&2
    command -v influxd >/dev/null || die "influxd is not installed (tools/setup.sh installs influxdb)"
    command -v victoria-metrics >/dev/null || die "victoria-metrics is not installed (tools/setup.sh)"
    command -v curl >/dev/null || die "curl is not installed"
    echo "== workload '$SIZE': $G_RECORDS records, $G_VALUES field values"
    echo "== $(influxd version 2>/dev/null); VictoriaMetrics" \
        "$(dpkg-query -W -f='${Version}' victoria-metrics 2>/dev/null)"

    local systems=() sys n got
    for sys in cairn vm influx; do
        if ! hp_start "$sys" q; then
            echo "cairn: not available; its figures na" >&2
            continue
        fi
        echo "== load ${HP_LABEL[$sys]} (/write, 5000-line batches, 2 writers)"
        hp_load "$sys" q
        if [[ -z $HP_LAST || $(kvna errors "$HP_LAST") != 0 ]]; then
            [[ $sys == cairn ]] || die "loading ${HP_LABEL[$sys]} failed"
            echo "bench/run: loading cairn failed; its figures na" >&2
            hp_stop cairn q
            continue
        fi
        got=""
        case $sys in
        influx) got=$(influx_values "${HP_PORT[$sys]}") ;;
        vm) got=$(vm_values "${HP_PORT[$sys]}") ;;
        esac
        if [[ -n $got ]]; then
            echo "  [$sys] stored field values: $got (expected $G_VALUES)"
            [[ $got == "$G_VALUES" ]] ||
                echo "bench/run: ${HP_LABEL[$sys]} shows $got of $G_VALUES field values; its answers may differ" >&2
        fi
        systems+=("$sys")
    done
    wait_quiet
    local cairn_q=""
    if [[ -n ${HP_PORT[cairn]:-} && -n ${HP_PID[cairn]:-} ]]; then
        local code
        code=$(curl -s -G -o "$WORK/probe.json" -w '%{http_code}' \
            "http://127.0.0.1:${HP_PORT[cairn]}/query" --data-urlencode 'q=SHOW DATABASES' || true)
        if [[ $code == 200 ]]; then
            cairn_q=1
        else
            echo "cairn: /query not available yet (issue 5; HTTP $code); cairn's figures na" >&2
        fi
    fi

    # every answer first, unmeasured (and checked), then each system's
    # timed runs of each query on a quiet machine: what a system's queries
    # set off (InfluxDB works at 1-2 cores for 3-5 s after its answers to
    # Q1 and Q2 here - Go's collector over its heap, as far as top shows)
    # must not be timed into the queries of whichever system is next
    echo "== answers (each query once on each system, unmeasured)"
    for n in 1 2 3 4 5 6; do
        for sys in cairn vm influx; do
            if [[ $sys == cairn && -z $cairn_q ]]; then
                QR[cairn.$n]=na
                continue
            fi
            q_check "$sys" "$n"
        done
        local a="$WORK/q$n.cairn.json" b="$WORK/q$n.influx.json" v="$WORK/q$n.vm.json"
        QMATCH[$n]=na
        if [[ -f $a && -f $b ]]; then
            QMATCH[$n]=$(python3 "$BENCH/query_check.py" influx "$a" "$b")
            echo "  Q$n cairn vs InfluxDB answer: ${QMATCH[$n]}"
        fi
        QVMCHK[$n]=na
        if [[ -f $v && -f $b ]]; then
            QVMCHK[$n]=$(python3 "$BENCH/query_check.py" vm "q$n" "$v" "$b")
            echo "  Q$n VictoriaMetrics vs InfluxDB values: ${QVMCHK[$n]}"
        fi
    done
    wait_quiet
    for n in 1 2 3 4 5 6; do
        echo "== Q$n: ${QI[$n]}"
        echo "   VM (/api/v1/${QV_API[$n]} ${QV_ARGS[$n]}): ${QV[$n]}"
        for sys in cairn vm influx; do
            [[ $sys == cairn && -z $cairn_q ]] && continue
            wait_quiet >/dev/null # the previous system's work is over
            q_time "$sys" "$n"
        done
    done
    # the floor under Q1 and Q2: one request that asks nothing, timed the
    # same way (curl's own work, the connection, the server's HTTP)
    echo "== Q0 (the request alone): GET /ping, VictoriaMetrics GET /health"
    for sys in cairn vm influx; do
        [[ -n ${HP_PID[$sys]:-} ]] || { QR[$sys.0]=na; continue; }
        wait_quiet >/dev/null
        q_time "$sys" 0
    done
    # informational, beside the figures above: Q1, Q2 and Q0 as a client
    # that keeps its connection (Grafana, the influx CLI) asks them
    echo "== Q1, Q2, Q0 on one kept-alive connection (informational: one curl, 6 requests, the first not counted)"
    info_run q_time_ka
    # informational: the same requests on a new connection each from one
    # process (query_lat), without a curl started per request
    echo "== Q1, Q2, Q0 from one process, a new connection per request (informational: query_lat, 5 runs 5 ms apart)"
    info_run q_time_direct
    for sys in "${systems[@]}"; do hp_stop "$sys" q; done

    echo "== bench/run $NAME --size $SIZE took ${SECONDS} s"
    echo "== summary (ms, median of 5; ratio = cairn / peer)"
    printf '  %-3s %10s %10s %10s %9s %9s  %s\n' "" cairn VM InfluxDB "vs VM" "vs Influx" "cairn = InfluxDB"
    local line="RESULT name=query size=$SIZE" ratios="" matches=""
    for n in 1 2 3 4 5 6; do
        local c=${QR[cairn.$n]:-na} vmv=${QR[vm.$n]:-na} inf=${QR[influx.$n]:-na}
        printf '  Q%-2s %10s %10s %10s %9s %9s  %s\n' "$n" "$c" "$vmv" "$inf" "$(ratio "$c" "$vmv")" \
            "$(ratio "$c" "$inf")" "${QMATCH[$n]%%:*}"
        line+=" q${n}_ms=$c q${n}_vm_ms=$vmv q${n}_influx_ms=$inf"
        ratios+=" q${n}_vm_ratio=$(ratio "$c" "$vmv") q${n}_influx_ratio=$(ratio "$c" "$inf")"
        matches+=" q${n}_match=${QMATCH[$n]%%:*}"
    done
    local c0=${QR[cairn.0]:-na} v0=${QR[vm.0]:-na} i0=${QR[influx.0]:-na}
    printf '  %-3s %10s %10s %10s %9s %9s  %s\n' Q0 "$c0" "$v0" "$i0" "$(ratio "$c0" "$v0")" \
        "$(ratio "$c0" "$i0")" "(the request alone: /ping, /health)"
    line+=" q0_ms=$c0 q0_vm_ms=$v0 q0_influx_ms=$i0"
    echo "== kept alive (informational; ms, median of 5 requests on one connection after a first one not counted)"
    info_table QK ka
    local kline=$INFO_KEYS
    echo "== one process, a new connection per request (informational; ms, median of 5; query_lat)"
    info_table QD direct
    echo "$line$ratios$matches$kline$INFO_KEYS"
}
