#!/bin/sh
# CI: libscboot without PC/SC (-DSCB_WITH_PCSC=OFF, for gateways whose card
# sits in a modem): build that configuration (-Werror) and run all its tests (those
# needing pcscd are not registered there; build.no_pcsc checks that nothing
# links or includes pcsc-lite and that the PC/SC calls say why they fail).
# Then the library's size at -Os with and without PC/SC (size(1); the
# README's Footprint section has these numbers).
# One summary line: "nopcsc: ok|FAILED, ...".
set -u
cd "$(dirname "$0")/.."
dir=build-ci-nopcsc
start=$(date +%s)
log="$dir.log"
JOBS=$(nproc 2>/dev/null || echo 2)
if ! { cmake -S . -B "$dir" -DSCB_WITH_PCSC=OFF -DSCB_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
       cmake --build "$dir" -j "$JOBS"; } >"$log" 2>&1; then
    tail -n 30 "$log"
    echo "nopcsc: FAILED, the build without PC/SC ($(( $(date +%s) - start )) s; $log)"
    exit 1
fi
(cd "$dir" && ctest --output-on-failure -j "$JOBS" --timeout 600) >"$dir/ctest.log" 2>&1
rc=$?
result=$(grep -Eo '[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$dir/ctest.log" | tail -n 1)
if [ $rc -ne 0 ] || ! grep -q 'build.no_pcsc .*Passed' "$dir/ctest.log"; then
    grep -E '^\s+[0-9]+ - |\*\*\*Failed|FAILED' "$dir/ctest.log" | head -n 20
    echo "nopcsc: FAILED, ${result:-no ctest result} ($(( $(date +%s) - start )) s; $dir/ctest.log)"
    exit 1
fi

# .text of libscboot.so at -Os (MinSizeRel), the library alone.
sizes=""
for pcsc in ON OFF; do
    sdir="build-ci-size-$pcsc"
    cmake -S . -B "$sdir" -DCMAKE_BUILD_TYPE=MinSizeRel -DSCB_WITH_PCSC=$pcsc -DSCB_BUILD_SIM=OFF \
        -DSCB_BUILD_CLI=OFF -DSCB_BUILD_PYTHON=OFF -DSCB_BUILD_LUA=OFF -DSCB_BUILD_TESTS=OFF \
        -DSCB_BUILD_MAN=OFF >/dev/null 2>&1 && cmake --build "$sdir" -j "$JOBS" --target scboot >/dev/null 2>&1 ||
        { echo "nopcsc: FAILED, the -Os build with SCB_WITH_PCSC=$pcsc"; exit 1; }
    text=$(size -A "$sdir/core/libscboot.so" | awk '$1 == ".text" {print $2}')
    sizes="$sizes, .text at -Os with PC/SC $pcsc: $text bytes"
done
echo "nopcsc: ok, $result$sizes ($(( $(date +%s) - start )) s)"
