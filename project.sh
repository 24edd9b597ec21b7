#!/bin/sh
# scboot's two set-up commands (see README.md), for a fresh Debian 12 machine:
#
#   ./project.sh run [scboot read options]   install, build, read the bootstrap
#                                            data (built-in virtual card unless
#                                            -r/--reader is given)
#   ./project.sh test                        install, build, run every test
#
# Also: ./project.sh deps | build | bench
# Environment: BUILD_DIR (default ./build), SCB_CMAKE_ARGS (extra cmake args).
set -eu

cd "$(dirname "$0")"
SRC=$(pwd)
BUILD_DIR=${BUILD_DIR:-$SRC/build}
JOBS=$(nproc 2>/dev/null || echo 2)

# Debian packages the build and the tests need (Debian's python3, not pip).
PACKAGES="cmake make gcc pkg-config libssl-dev libpcsclite-dev libjson-c-dev pcscd \
vsmartcard-vpcd swig python3 python3-dev python3-pytest python3-setuptools python3-pip \
python3-cryptography python3-pyscard liblua5.4-dev lua5.4 lua-busted clang \
libfuzzer-14-dev libclang-rt-14-dev valgrind opensc procps"

say() { printf '== %s\n' "$*" >&2; }

deps() {
    missing=""
    for p in $PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    say "installing:$missing"
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

build() {
    say "building in $BUILD_DIR"
    # shellcheck disable=SC2086
    cmake -S "$SRC" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${SCB_CMAKE_ARGS:-} >/dev/null
    cmake --build "$BUILD_DIR" -j "$JOBS"
}

# pcscd with the project's four vpcd readers; started only when none runs,
# and then stopped (by PID) when this script ends.
PCSCD_PID=""
start_pcscd() {
    if ps -C pcscd -o stat= 2>/dev/null | grep -q '^[^Z]'; then
        say "using the running pcscd"
        return 0
    fi
    conf=$("$SRC/tests/pcsc/setup-readers.sh" "$BUILD_DIR/pcsc")
    pcscd -f -c "$conf" >"$BUILD_DIR/pcscd.log" 2>&1 &
    PCSCD_PID=$!
    trap stop_pcscd EXIT INT TERM
    i=0
    while [ $i -lt 100 ] && [ ! -S /run/pcscd/pcscd.comm ]; do sleep 0.1; i=$((i + 1)); done
    say "started pcscd (pid $PCSCD_PID) with $conf"
}
stop_pcscd() {
    if [ -n "$PCSCD_PID" ]; then
        kill "$PCSCD_PID" 2>/dev/null || true
        wait "$PCSCD_PID" 2>/dev/null || true
        PCSCD_PID=""
    fi
}

run_tests() {
    start_pcscd
    log="$BUILD_DIR/ctest.log"
    set +e
    (cd "$BUILD_DIR" && ctest --output-on-failure -j "$JOBS" --timeout 600) 2>&1 | tee "$log"
    set -e
    total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -n 1)
    failed=$(sed -n 's/.* \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -n 1)
    total=${total:-0}; failed=${failed:-$total}
    echo "tests: $((total - failed)) passed, $failed failed (of $total)"
    [ "$total" -gt 0 ] && [ "$failed" -eq 0 ]
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
    deps) deps ;;
    build) deps; build ;;
    run)
        deps; build
        case " $* " in
            *" -r "*|*" --reader"*|*" --modem"*) exec "$BUILD_DIR/core/cli/scboot" read "$@" ;;
            *) exec "$BUILD_DIR/core/cli/scboot" read --sim "$@" ;;
        esac ;;
    test) deps; build; run_tests ;;
    bench) deps; build; start_pcscd; "$SRC/bench/run.sh" "$BUILD_DIR" ;;
    *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 64 ;;
esac
