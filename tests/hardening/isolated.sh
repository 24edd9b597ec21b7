#!/bin/sh
# Run a command in a private PC/SC world: its own mount namespace (an empty
# /run/pcscd, where pcscd and its clients meet) and network namespace (its
# own loopback, where the vpcd readers listen), with a pcscd of its own
# serving the project's four vpcd readers on the usual ports. Nothing there
# meets the machine's pcscd or the cards of other test runs, and the
# command may stop and restart that pcscd:
#   SCB_ISOLATED_PCSCD_CONF  the reader configuration (pcscd -f -c CONF)
#   SCB_ISOLATED_PCSCD_PID   the pid of the pcscd started here (a restarted
#                            one writes its own to /run/pcscd/pcscd.pid there)
#
#   tests/hardening/isolated.sh [--or-shared] CMD [ARGS...]
#   tests/hardening/isolated.sh --check      (exit 0 when isolation works)
#
# Without namespaces (not root, a container without CAP_SYS_ADMIN) it exits
# 77, or with --or-shared runs CMD as it is, on the shared pcscd.
# The reader configuration goes to $SCB_BUILD_DIR/pcsc-isolated/<pid>,
# removed afterwards (never to the directory of a pcscd that may be
# running: setup-readers.sh copies the driver file, which a running pcscd
# has mapped).
set -u
here=$(cd "$(dirname "$0")" && pwd)
shared=0
if [ "${1:-}" = "--or-shared" ]; then
    shared=1
    shift
fi
if ! unshare --mount --net --propagation private true 2>/dev/null; then
    if [ "$shared" = 1 ]; then
        echo "isolated.sh: no private namespaces here: running on the shared pcscd" >&2
        exec "$@"
    fi
    echo "isolated.sh: no private namespaces here (needs root / CAP_SYS_ADMIN)" >&2
    exit 77
fi
[ "${1:-}" = "--check" ] && exit 0
build=${SCB_BUILD_DIR:-$here/../../build}
# a directory of its own per run: two isolated runs may overlap
dir="$build/pcsc-isolated/$$"
conf=$("$here/../pcsc/setup-readers.sh" "$dir") || exit 1
mkdir -p /run/pcscd
export SCB_ISOLATED_PCSCD_CONF="$conf"
unshare --mount --net --propagation private -- sh -c '
    ip link set lo up && mount -t tmpfs -o mode=0755 tmpfs /run/pcscd || exit 77
    pcscd -f -c "$SCB_ISOLATED_PCSCD_CONF" >/dev/null 2>&1 &
    SCB_ISOLATED_PCSCD_PID=$!
    export SCB_ISOLATED_PCSCD_PID
    i=0
    while [ $i -lt 100 ] && [ ! -S /run/pcscd/pcscd.comm ]; do sleep 0.1; i=$((i + 1)); done
    "$@"
    rc=$?
    # the command may have restarted it: stop the pcscd this namespace has
    # now, by the pid in its own (private) /run/pcscd
    pid=$( (tr -dc 0-9 </run/pcscd/pcscd.pid) 2>/dev/null)
    [ -n "$pid" ] || pid=$SCB_ISOLATED_PCSCD_PID
    kill "$pid" 2>/dev/null
    i=0
    while [ $i -lt 50 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
    exit $rc' isolated "$@"
rc=$?
rm -rf "$dir"
exit $rc
