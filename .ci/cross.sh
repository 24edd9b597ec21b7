#!/bin/sh
# CI: ./project.sh cross arm64 (cmake/cross.sh): the arm64 build with
# Debian's cross compiler and its tests labelled `cross` under qemu-aarch64.
# When the archive gives no arm64 libraries at all the step cannot run here:
# it prints one "cross: passed with note" line and exits 77, which .ci/run
# counts as passed (the rest of CI still counts).
set -u
cd "$(dirname "$0")/.."
start=$(date +%s)
log=build-ci-cross.log
CROSS_BUILD_DIR="$PWD/build-ci-arm64" ./project.sh cross arm64 >"$log" 2>&1
rc=$?
took="$(( $(date +%s) - start )) s"
line=$(grep -E '^cross arm64: (ok|FAILED|NOTE)' "$log" | tail -n 1)
case $rc in
    0)  # and the sysroot line, when the archive's arm64 libraries did not match
        grep '^cross arm64: the archive' "$log" | sed 's/^cross arm64: /cross: /'
        echo "cross: ok, ${line#cross arm64: ok, } ($took)" ;;
    77) echo "cross: passed with note: ${line#cross arm64: NOTE: } ($took)"; exit 77 ;;
    *) tail -n 30 "$log"; echo "cross: FAILED${line:+, ${line#cross arm64: }} ($took; $log)"; exit 1 ;;
esac
