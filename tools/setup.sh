#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# setup.sh - cairn's installer and builder (fresh Debian 12, run as root from
# anywhere inside the repository).
#
#   tools/setup.sh start [cairn options...]
#       Installs the missing Debian packages, builds the release preset and
#       execs build/release/cairn (data in ./cairn-data unless overridden).
#   tools/setup.sh test
#       Installs the missing packages, then runs every test suite CI runs:
#       release build with -Werror + ctest, asan + ctest, tsan + ctest, fuzz
#       preset (clang) replaying each target's corpus, and the bounded
#       benchmark.  Ends with "N passed, M failed" (test suites; a failed
#       build counts as one failed suite) and exits non-zero on any failure.
#       CAIRN_TEST_STAGES limits the stages ("release asan tsan fuzz bench").
#
# Packages are checked with dpkg-query (installed, or provided by an
# installed package); apt-get update/install run only when one is missing.
set -uo pipefail

# Debian packages cairn needs to build, test and benchmark.  Later issues
# append here (libsqlite3-dev, libcurl4-openssl-dev, librdkafka-dev,
# mosquitto, ...).
PACKAGES="build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
  liblz4-dev libzstd-dev libuv1-dev libjemalloc-dev libcmocka-dev libxxhash-dev
  nodejs npm python3 mosquitto mosquitto-clients libhttp-parser-dev zlib1g-dev curl"
PACKAGES+=" libssl-dev libcurl4-openssl-dev" # issue 3: password hashes (OpenSSL), HTTP auth client
PACKAGES+=" libsqlite3-dev" # issue 7: scheduled export state (data-dir/meta.db)
PACKAGES+=" influxdb influxdb-client victoria-metrics" # issues 4, 5: bench/run ingest, query peers
PACKAGES+=" librdkafka-dev kcat libcurl4-openssl-dev"  # issue 6: Kafka and webhook sinks
PACKAGES+=" python3-paho-mqtt libmosquitto-dev" # issue 3: MQTT interop tests (paho, libmosquitto)
PACKAGES+=" libsqlite3-dev"  # issue 3: the broker's metadata store (ingest/store/)
PACKAGES+=" libsnappy-dev"   # issue 7: Parquet's snappy codec

# Stages `test` runs, and the bounds that keep it under ~20 minutes on 2 cores.
STAGES=${CAIRN_TEST_STAGES:-"release asan tsan fuzz bench"}
CTEST_TIMEOUT=900 # per test, seconds (tests may set lower ones)
FUZZ_TIMEOUT=60   # per input, seconds
BENCH_TIMEOUT=300 # whole bounded benchmark, seconds

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
JOBS=$(nproc 2>/dev/null || echo 2)

say() {
    printf '\n=== setup: %s\n' "$*"
}

# Names of installed packages and of what they provide (for example
# NodeSource's nodejs provides npm and conflicts with Debian's npm).
installed_names() {
    dpkg-query -W -f='${Status}\t${Package}\t${Provides}\n' 2>/dev/null |
        awk -F'\t' '$1 == "install ok installed" {
            print $2
            n = split($3, p, ",")
            for (i = 1; i <= n; i++) { sub(/^ +/, "", p[i]); sub(/ .*/, "", p[i]); print p[i] }
        }' | sort -u
}

install_deps() {
    local p have missing=()
    have=$(installed_names)
    for p in $PACKAGES; do
        if ! grep -qxF -- "$p" <<<"$have"; then
            missing+=("$p")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        echo "setup: all required packages are installed"
        return 0
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "setup: missing packages: ${missing[*]}; run as root (or install them)" >&2
        exit 1
    fi
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q || exit 1
    apt-get install -y -q --no-install-recommends "${missing[@]}" || exit 1
}

# build PRESET [cmake -D options...]: configure and build one preset.
build() {
    local preset=$1
    shift
    say "build $preset $*"
    cmake --preset "$preset" "$@" && cmake --build "build/$preset" -j"$JOBS"
}

cmd_start() {
    install_deps
    build release -DCAIRN_SERVER_BIN=ON || exit 1
    say "starting build/release/cairn $*"
    exec build/release/cairn "$@"
}

# ------------------------------------------------------------------- test

PASSED=0
FAILED=0
FAILED_NAMES=()

suite() { # suite NAME RC: counts one test suite
    if [ "$2" = 0 ]; then
        PASSED=$((PASSED + 1))
    else
        FAILED=$((FAILED + 1))
        FAILED_NAMES+=("$1")
    fi
}

# run_ctest PRESET [wrapper...]: runs ctest in build/PRESET and counts each
# ctest test as one suite (each is a cmocka executable or a script).
run_ctest() {
    local preset=$1 log="build/$1/ctest.log" rc=0 line total failed name
    shift
    say "ctest $preset"
    "$@" ctest --test-dir "build/$preset" --output-on-failure -j"$JOBS" \
        --timeout "$CTEST_TIMEOUT" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    line=$(grep -Eo '[0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        # No summary: either no tests at all (fine) or ctest itself failed.
        suite "ctest $preset" "$rc"
        return
    fi
    failed=${line%% *}
    total=${line##* }
    PASSED=$((PASSED + total - failed))
    FAILED=$((FAILED + failed))
    while read -r name; do
        FAILED_NAMES+=("$preset:$name")
    done < <(sed -n '/The following tests FAILED:/,$p' "$log" | sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\).*/\1/p')
}

# stage PRESET [wrapper...]: build with -Werror, then ctest.
stage() {
    local preset=$1
    shift
    if build "$preset" -DCAIRN_WERROR=ON; then
        run_ctest "$preset" "$@"
    else
        suite "build $preset" 1
    fi
}

# Builds the fuzz preset (clang, libFuzzer) and runs each target over its
# corpus once: with a corpus directory and -runs=0 libFuzzer only executes
# the inputs (seeds and saved crashes) and exits.
stage_fuzz() {
    local f name corpus rc
    if ! build fuzz -DCAIRN_WERROR=ON; then
        suite "build fuzz" 1
        return
    fi
    for f in build/fuzz/tests/fuzz/fuzz_*; do
        if [ ! -f "$f" ] || [ ! -x "$f" ]; then
            continue
        fi
        name=${f##*/fuzz_}
        corpus=tests/fuzz/corpus/$name
        say "fuzz replay $name"
        if [ ! -d "$corpus" ]; then
            echo "setup: $corpus missing; the target runs on an empty corpus"
            corpus=$(mktemp -d)
        fi
        rc=0
        "$f" -runs=0 -timeout="$FUZZ_TIMEOUT" "$corpus" || rc=$?
        suite "fuzz $name" "$rc"
    done
}

# CI-bounded benchmark (bench/run is owned by the benchmark issue).
stage_bench() {
    if [ ! -x bench/run ]; then
        echo "setup: bench/run not present yet; skipping the bounded benchmark"
        return
    fi
    say "bench/run engine --size small (bounded to ${BENCH_TIMEOUT}s)"
    local rc=0
    timeout "$BENCH_TIMEOUT" bench/run engine --size small || rc=$?
    suite "bench engine small" "$rc"
    # ingest (one round) and query against the peers, ~20 s each; parts of
    # cairn that have not landed print `na` and do not fail them.
    say "bench/run ingest --size small, one round (bounded to ${BENCH_TIMEOUT}s)"
    rc=0
    CAIRN_BENCH_ROUNDS=1 timeout "$BENCH_TIMEOUT" bench/run ingest --size small || rc=$?
    suite "bench ingest small" "$rc"
    say "bench/run query --size small (bounded to ${BENCH_TIMEOUT}s)"
    rc=0
    CAIRN_BENCH_QUIET_MAX=10 timeout "$BENCH_TIMEOUT" bench/run query --size small || rc=$?
    suite "bench query small" "$rc"
}

# Node packages the tests use (DuckDB reads the Parquet the writer makes),
# from the lock file, installed only when missing.
npm_deps() {
    local d
    for d in tests/query; do
        if [ ! -d "$d/node_modules" ]; then
            say "npm ci in $d"
            npm ci --no-audit --no-fund --prefix "$d" || exit 1
        fi
    done
}

cmd_test() {
    install_deps
    npm_deps
    local started=$SECONDS s
    for s in $STAGES; do
        case $s in
        release | asan) stage "$s" ;;
        # Older TSan runtimes cannot map their shadow memory under the
        # high-entropy ASLR of recent kernels; without ASLR they always can.
        tsan) stage tsan setarch "$(uname -m)" -R ;;
        fuzz) stage_fuzz ;;
        bench) stage_bench ;;
        *)
            echo "setup: unknown stage '$s'" >&2
            suite "stage $s" 1
            ;;
        esac
    done
    say "finished in $((SECONDS - started))s"
    if [ ${#FAILED_NAMES[@]} -gt 0 ]; then
        printf 'failed: %s\n' "${FAILED_NAMES[@]}"
    fi
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" = 0 ]
}

case ${1:-} in
start)
    shift
    cmd_start "$@"
    ;;
test)
    cmd_test
    ;;
*)
    echo "usage: tools/setup.sh start [cairn options...] | tools/setup.sh test" >&2
    exit 2
    ;;
esac
