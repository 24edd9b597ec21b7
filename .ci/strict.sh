#!/bin/sh
# CI: warning-free builds (-Wall -Wextra -Wpedantic, -Werror here)
# with gcc and with clang, each in its own build directory; the clang build
# also runs the C unit tests (different compiler, same expectations).
set -eu
cd "$(dirname "$0")/.."
for cc in gcc clang; do
    dir="build-ci-$cc"
    echo "== strict build with $cc"
    CC=$cc cmake -S . -B "$dir" -DSCB_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$dir" -j "$(nproc)" >"$dir.log" 2>&1 || { tail -n 40 "$dir.log"; exit 1; }
done
(cd build-ci-clang && ctest -L '^c$' --output-on-failure -j "$(nproc)")
