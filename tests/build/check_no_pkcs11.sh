#!/bin/sh
# -DSCB_WITH_PKCS11=OFF: the library builds without p11-kit, depends on
# libcrypto and pcsc-lite only, and a key set in a token is refused with a
# clear message (SCB_E_UNSUPPORTED, exit 1) while everything else works.
# usage: check_no_pkcs11.sh SOURCE_DIR [CMAKE_ARGS...] (the outer build's other
# choices, e.g. -DSCB_WITH_PCSC=OFF)
set -eu
src=$(readlink -f "$1"); shift
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake -S "$src" -B "$tmp" -DSCB_WITH_PKCS11=OFF -DSCB_BUILD_TESTS=OFF -DSCB_BUILD_PYTHON=OFF \
      -DSCB_BUILD_LUA=OFF "$@" >/dev/null
cmake --build "$tmp" -j 2 --target scboot scboot_cli >/dev/null
"$src/tests/build/check_needed.sh" "$tmp/core/libscboot.so" OFF
"$tmp/core/cli/scboot" read --sim >/dev/null
set +e
msg=$("$tmp/core/cli/scboot" read --sim --keys "pkcs11:token=t;object=k" 2>&1)
rc=$?
set -e
echo "$msg"
[ $rc -eq 1 ] && echo "$msg" | grep -q "built without PKCS#11 support (-DSCB_WITH_PKCS11=OFF)"
echo "built and ran without PKCS#11"
