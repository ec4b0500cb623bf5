#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# crash_loop.sh - the long SIGKILL crash loop: runs the crash test binary
# (tests/engine/test_crash.c) for many rounds against one data directory.
# CI runs the short version through ctest; run this by hand before a release:
#
#   tests/engine/crash_loop.sh [ROUNDS] [SEED]
#
# ROUNDS defaults to 500.  SEED (default: the test's built-in seed) varies
# the per-round write counts and kill points.  CAIRN_BUILD selects the build
# directory (default build/debug).  Exit status is the test's.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${CAIRN_BUILD:-$root/build/debug}/tests/test_crash
if [[ ! -x $bin ]]; then
    echo "crash_loop.sh: $bin not built (cmake --build build/debug)" >&2
    exit 2
fi
export CAIRN_CRASH_ROUNDS=${1:-500}
[[ -n ${2:-} ]] && export CAIRN_CRASH_SEED=$2
export CAIRN_CRASH_VERBOSE=1
exec "$bin"
