#!/bin/sh
# scboot's two set-up commands (see README.md), for a fresh Debian 12 machine:
#
#   ./project.sh run [scboot read options]   install, build, read the bootstrap
#                                            data (built-in virtual card unless
#                                            -r/--reader is given)
#   ./project.sh test                        install, build, run every test
#
# Also: ./project.sh deps | build | bench
#       ./project.sh deb                     the Debian packages (debian/), built with
#                                            dpkg-buildpackage -b -us -uc into DEB_DIR
#                                            (default ./build-deb)
#       ./project.sh cross arm64             cross build (CROSS_BUILD_DIR, default
#                                            ./build-arm64), tests labelled `cross`
#                                            under qemu-aarch64 (cmake/cross.sh)
# Environment: BUILD_DIR (default ./build), SCB_CMAKE_ARGS (extra cmake args),
# SCB_PCSC=shared (test on the machine's pcscd even where a private
# namespace is possible).
set -eu

cd "$(dirname "$0")"
SRC=$(pwd)
BUILD_DIR=${BUILD_DIR:-$SRC/build}
JOBS=$(nproc 2>/dev/null || echo 2)

# Debian packages the build and the tests need (Debian's python3, not pip).
# postgresql + python3-psycopg: the job store's PostgreSQL backend; its tests
# run a server of their own (never the system's cluster). python3-wheel and
# python3-venv: the offline pip install into a venv; mypy: the type check
# of the package (python.mypy).
PACKAGES="cmake make gcc pkg-config libssl-dev libpcsclite-dev libjson-c-dev pcscd \
vsmartcard-vpcd swig python3 python3-dev python3-pytest python3-setuptools python3-pip \
python3-wheel python3-venv mypy \
python3-cryptography python3-pyscard liblua5.4-dev lua5.4 lua-busted clang \
libfuzzer-14-dev libclang-rt-14-dev valgrind opensc openssl procps postgresql python3-psycopg \
libp11-kit-dev p11-kit softhsm2 python3-pykcs11 scdoc man-db"

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

# Everything but the command's own output goes to stderr, so that
# `./project.sh run --json > out.json` is valid JSON.
build() {
    say "building in $BUILD_DIR"
    # shellcheck disable=SC2086
    cmake -S "$SRC" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${SCB_CMAKE_ARGS:-} >&2
    cmake --build "$BUILD_DIR" -j "$JOBS" >&2
}

# The tests' PC/SC world. Where the machine allows namespaces (root with
# CAP_SYS_ADMIN), tests and benchmarks run in a private one
# (tests/hardening/isolated.sh): a pcscd of their own serving the project's
# four vpcd readers, their own loopback, and the machine's pcscd (a system
# service, perhaps socket-activated, perhaps serving real readers) is never
# touched. Elsewhere they share the machine's pcscd, started here when none
# runs and then stopped (by PID) when this script ends.
PROJECT_READER="Virtual PCD B 00 01"   # the last of tests/pcsc/setup-readers.sh's four
PCSCD_PID=""
has_project_readers() {
    "$BUILD_DIR/tests/e2e/pcsc_probe" list 2>/dev/null | grep -q "^$PROJECT_READER	"
}
start_pcscd() {
    if ps -C pcscd -o stat= 2>/dev/null | grep -q '^[^Z]'; then
        say "using the running pcscd"
    else
        conf=$("$SRC/tests/pcsc/setup-readers.sh" "$BUILD_DIR/pcsc")
        pcscd -f -c "$conf" >"$BUILD_DIR/pcscd.log" 2>&1 &
        PCSCD_PID=$!
        trap stop_pcscd EXIT INT TERM
        say "started pcscd (pid $PCSCD_PID) with $conf"
    fi
    i=0
    while [ $i -lt 100 ] && ! has_project_readers; do sleep 0.1; i=$((i + 1)); done
    has_project_readers || say "WARNING: the pcscd in use does not serve the project's vpcd" \
        "readers (tests/pcsc/setup-readers.sh), so the PC/SC tests will fail: stop it" \
        "(systemctl stop pcscd.socket pcscd) or run as root (a private namespace)"
}
stop_pcscd() {
    if [ -n "$PCSCD_PID" ]; then
        kill "$PCSCD_PID" 2>/dev/null || true
        wait "$PCSCD_PID" 2>/dev/null || true
        PCSCD_PID=""
    fi
}
# Choose the tests' PC/SC world (once, outside any pipeline: the trap that
# stops a pcscd started here belongs to this shell); in_pcsc runs a command
# in it.
ISOLATE=0
prepare_pcsc() {
    if [ "${SCB_PCSC:-}" != shared ] && "$SRC/tests/hardening/isolated.sh" --check 2>/dev/null; then
        ISOLATE=1
        say "PC/SC: a private namespace with its own pcscd and the project's vpcd readers"
    else
        start_pcscd
    fi
}
in_pcsc() {
    if [ "$ISOLATE" = 1 ]; then
        SCB_BUILD_DIR="$BUILD_DIR" "$SRC/tests/hardening/isolated.sh" "$@"
    else
        "$@"
    fi
}

run_tests() {
    prepare_pcsc
    log="$BUILD_DIR/ctest.log"
    set +e
    in_pcsc sh -c 'cd "$1" && ctest --output-on-failure -j "$2" --timeout 600' ctest \
        "$BUILD_DIR" "$JOBS" 2>&1 | tee "$log"
    set -e
    total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -n 1)
    failed=$(sed -n 's/.* \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -n 1)
    total=${total:-0}; failed=${failed:-$total}
    echo "tests: $((total - failed)) passed, $failed failed (of $total)"
    [ "$total" -gt 0 ] && [ "$failed" -eq 0 ]
}

# The Debian packages, from a copy of the tree (tracked and untracked but not
# ignored files: what a clean clone would hold) so that dpkg-buildpackage's
# products (../*.deb, obj-*, debian/tmp) never land in or beside the checkout.
deb() {
    out=${DEB_DIR:-$SRC/build-deb}
    if ! command -v dpkg-buildpackage >/dev/null || ! command -v dh >/dev/null ||
        ! (cd "$SRC" && dpkg-checkbuilddeps) 2>/dev/null; then
        say "installing the packages' build dependencies (debian/control)"
        if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
            dpkg-dev debhelper fakeroot lintian >/dev/null
        DEBIAN_FRONTEND=noninteractive $sudo apt-get build-dep -y -qq "$SRC" >/dev/null
    fi
    version=$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version)
    rm -rf "$out"
    tree="$out/src/scboot-$version"
    mkdir -p "$tree"
    if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git -C "$SRC" ls-files -z --cached --others --exclude-standard |
            tar -C "$SRC" --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -C "$tree" -xf -
    else
        tar -C "$SRC" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$tree" -xf -
    fi
    say "building the Debian packages in $tree (log: $out/build.log)"
    if ! (cd "$tree" && DEB_BUILD_OPTIONS="parallel=$JOBS ${DEB_BUILD_OPTIONS:-}" \
            dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1; then
        tail -n 40 "$out/build.log" >&2
        say "dpkg-buildpackage failed (whole log: $out/build.log)"
        return 1
    fi
    # the five packages in $out (apt-get install ./*.deb), debug symbols beside
    mkdir -p "$out/dbgsym"
    mv "$out"/src/*-dbgsym_*.deb "$out/dbgsym/" 2>/dev/null || true
    mv "$out"/src/*.deb "$out"/src/*.buildinfo "$out"/src/*.changes "$out"/
    rm -rf "$out/src"
    say "packages in $out:"
    ls "$out"/*.deb
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
    bench) deps; build; prepare_pcsc; in_pcsc "$SRC/bench/run.sh" "$BUILD_DIR" ;;
    deb) deps; deb ;;
    cross) deps; exec "$SRC/cmake/cross.sh" "${1:-}" "$SRC" "${CROSS_BUILD_DIR:-$SRC/build-${1:-}}" ;;
    *) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 64 ;;
esac
