#!/bin/sh
# ./project.sh cross arm64: build scboot for arm64 with Debian's cross
# compiler (cmake/toolchain-aarch64-linux-gnu.cmake) and run the tests
# labelled `cross` under qemu-aarch64. The Python and Lua bindings are not
# part of the cross build.
#
# The arm64 libraries: Debian multiarch packages (libssl-dev:arm64,
# libpcsclite-dev:arm64, libjson-c-dev:arm64, libp11-kit-dev:arm64), installed here (as root) when
# missing, at the versions of this machine's amd64 packages: Multi-Arch:
# same packages must match, and the host's packages are never upgraded or
# removed for a cross build. When the archive has other versions for arm64
# than the machine has for amd64 (they drift apart), one line says so and
# the archive's arm64 packages are unpacked into BUILD_DIR/sysroot instead
# (apt-get download, dpkg-deb -x; nothing installed).
#
# usage: cross.sh ARCH SOURCE_DIR BUILD_DIR
# exit status: 0 the tests passed, 1 a build or a test failed, 77 nothing
# could be built here (the archive gives no arm64 libraries: the one line
# printed says why), 64 usage.
set -eu
arch=${1:-}; src=$2; dir=$3
case "$arch" in
    arm64) triplet=aarch64-linux-gnu ;;
    *) echo "usage: ./project.sh cross arm64 (no cross build for '$arch')" >&2; exit 64 ;;
esac
JOBS=$(nproc 2>/dev/null || echo 2)
say() { printf '== %s\n' "$*" >&2; }
note() { echo "cross $arch: NOTE: $*"; exit 77; }
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
apt() { DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=300 -y -qq "$@"; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }

# 1. The cross compiler, its libc and the emulator (packages of the host).
missing=""
for p in gcc-$triplet libc6-dev-$arch-cross qemu-user; do installed "$p" || missing="$missing $p"; done
if [ -n "$missing" ]; then
    say "installing$missing"
    apt update >/dev/null || true
    # shellcheck disable=SC2086
    apt install --no-install-recommends $missing >/dev/null
fi

# 2. The arm64 libraries.
DEV="libssl-dev libpcsclite-dev libjson-c-dev libp11-kit-dev"
RUNTIME="libssl3 libpcsclite1 libjson-c5 libp11-kit0 libffi8"
sysroot=""
have=1
for p in $DEV; do installed "$p:$arch" || have=0; done
if [ $have = 0 ]; then
    if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
        say "dpkg --add-architecture $arch"
        $sudo dpkg --add-architecture "$arch"
    fi
    apt update >/dev/null 2>&1 || note "apt-get update failed: no $arch package lists, so no $arch libraries (not built)"
    pins="" drift=""
    for p in $DEV $RUNTIME; do
        host=$(dpkg-query -W -f='${Version}' "$p:amd64" 2>/dev/null || true)
        if [ -n "$host" ]; then
            pins="$pins $p:$arch=$host"
            cand=$(apt-cache policy "$p:$arch" 2>/dev/null | sed -n 's/^ *Candidate: //p')
            [ -n "$drift" ] || [ "$cand" = "$host" ] || drift="$p is $host here (amd64), ${cand:-not available} for $arch"
        else
            pins="$pins $p:$arch"
        fi
    done
    # A trial run first: nothing of the host may be upgraded or removed.
    # shellcheck disable=SC2086
    if [ -z "$drift" ] && trial=$(LC_ALL=C apt-get -s install --no-install-recommends $pins 2>&1) &&
        ! printf '%s\n' "$trial" | grep -Eq '^(Remv |Inst [^ ]+ \[)'; then
        say "installing$pins"
        # shellcheck disable=SC2086
        apt install --no-install-recommends $pins >/dev/null
    else
        [ -n "$drift" ] || drift="installing them would change this machine's packages"
        sysroot="$dir/sysroot"
        echo "cross $arch: the archive's $arch libraries do not match this machine's amd64 ones ($drift): not installed; using them unpacked in $sysroot"
        rm -rf "$dir/debs" "$sysroot"
        mkdir -p "$dir/debs" "$sysroot"
        # shellcheck disable=SC2046
        (cd "$dir/debs" && apt-get download -q $(for p in $DEV $RUNTIME; do echo "$p:$arch"; done)) \
            >"$dir/debs/download.log" 2>&1 ||
            note "the archive gives no $arch libraries ($(grep -m1 '^E:' "$dir/debs/download.log" || echo 'apt-get download failed')): not built"
        for d in "$dir"/debs/*.deb; do dpkg-deb -x "$d" "$sysroot"; done
        # .pc files point into the sysroot (their prefix is /usr); the cross
        # libc beside the libraries for qemu's -L prefix
        for pc in "$sysroot"/usr/lib/$triplet/pkgconfig/*.pc; do
            sed -i "s|^\([A-Za-z_]*\)=/usr|\1=$sysroot/usr|" "$pc"
        done
        mkdir -p "$sysroot/lib"
        ln -s /usr/$triplet/lib/* "$sysroot/lib/"
    fi
fi

# 3. Configure, build, and run the tests labelled `cross` under qemu.
say "cross build for $arch in $dir${sysroot:+ (sysroot $sysroot)}"
mkdir -p "$dir"
cmake -S "$src" -B "$dir" -DCMAKE_TOOLCHAIN_FILE="$src/cmake/toolchain-$triplet.cmake" \
    -DSCB_CROSS_SYSROOT="$sysroot" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSCB_BUILD_PYTHON=OFF -DSCB_BUILD_LUA=OFF >"$dir/cross-configure.log" 2>&1 ||
    { tail -n 30 "$dir/cross-configure.log"; echo "cross $arch: FAILED to configure ($dir/cross-configure.log)"; exit 1; }
cmake --build "$dir" -j "$JOBS" >"$dir/cross-build.log" 2>&1 ||
    { tail -n 30 "$dir/cross-build.log"; echo "cross $arch: FAILED to build ($dir/cross-build.log)"; exit 1; }
machine=$(readelf -h "$dir/core/libscboot.so" | sed -n 's/^ *Machine: *//p')
[ "$machine" = AArch64 ] || { echo "cross $arch: FAILED: libscboot.so is for '$machine'"; exit 1; }
set +e
(cd "$dir" && ctest -L '^cross$' --output-on-failure -j "$JOBS" --timeout 900) >"$dir/cross-ctest.log" 2>&1
rc=$?
set -e
total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$dir/cross-ctest.log" | tail -n 1)
failed=$(sed -n 's/.* \([0-9]*\) tests failed out of.*/\1/p' "$dir/cross-ctest.log" | tail -n 1)
total=${total:-0}; failed=${failed:-$total}
if [ $rc -ne 0 ] || [ "$total" -eq 0 ]; then
    grep -E '^\s+[0-9]+ - |\*\*\*Failed|Timeout' "$dir/cross-ctest.log" | head -n 20
    echo "cross $arch: FAILED, $((total - failed)) of $total tests labelled cross passed under qemu-aarch64 ($dir/cross-ctest.log)"
    exit 1
fi
echo "cross $arch: ok, $total tests labelled cross passed under qemu-aarch64 ($machine build${sysroot:+, libraries from the sysroot})"
