#!/bin/sh
# Install into a scratch prefix, then build a user
# program with `pkg-config scboot` and with CMake's find_package(scboot),
# and run both against the installed shared library.
# A cross build sets SCB_CC (its compiler), SCB_LDFLAGS, SCB_EMULATOR (runs
# the programs) and SCB_CONSUMER_CMAKE_ARGS (its toolchain file).
set -eu
build=$(readlink -f "$1"); src=$(readlink -f "$2")
cc=${SCB_CC:-cc}; emulator=${SCB_EMULATOR:-}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(ls -d "$tmp"/prefix/lib*/ | head -n 1)
test -f "$tmp/prefix/include/scboot.h"
ls "$libdir"libscboot.so.0* >/dev/null
export PKG_CONFIG_PATH="${libdir}pkgconfig"
# shellcheck disable=SC2046,SC2086
"$cc" -Wall -Wextra -Werror -o "$tmp/by-pkgconfig" "$src/tests/build/consumer/main.c" \
   $(pkg-config --cflags --libs scboot) ${SCB_LDFLAGS:-}
# shellcheck disable=SC2086
LD_LIBRARY_PATH="$libdir" $emulator "$tmp/by-pkgconfig"
# shellcheck disable=SC2086
cmake -S "$src/tests/build/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
    ${SCB_CONSUMER_CMAKE_ARGS:-} >/dev/null
cmake --build "$tmp/consumer" >/dev/null
# shellcheck disable=SC2086
LD_LIBRARY_PATH="$libdir" $emulator "$tmp/consumer/consumer"
echo "pkg-config and find_package consumers built and ran"
