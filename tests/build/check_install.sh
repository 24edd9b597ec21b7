#!/bin/sh
# Install into a scratch prefix, then build a user
# program with `pkg-config scboot` and with CMake's find_package(scboot),
# and run both against the installed shared library.
set -eu
build=$(readlink -f "$1"); src=$(readlink -f "$2")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(ls -d "$tmp"/prefix/lib*/ | head -n 1)
test -f "$tmp/prefix/include/scboot.h"
ls "$libdir"libscboot.so.0* >/dev/null
export PKG_CONFIG_PATH="${libdir}pkgconfig"
cc -Wall -Wextra -Werror -o "$tmp/by-pkgconfig" "$src/tests/build/consumer/main.c" \
   $(pkg-config --cflags --libs scboot)
LD_LIBRARY_PATH="$libdir" "$tmp/by-pkgconfig"
cmake -S "$src/tests/build/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
LD_LIBRARY_PATH="$libdir" "$tmp/consumer/consumer"
echo "pkg-config and find_package consumers built and ran"
