#!/bin/sh
# The benchmarks, one command (./project.sh bench calls it):
#
#   bench/run.sh BUILD_DIR
#
# Prints "name: value unit" lines; a benchmark whose program is absent says
# "name: not built (why)" instead of a number:
#   scp03_apdu_ns, scp03_handshake_us, scp03_allocs_per_apdu   bench/bench_scp03
#   bootstrap_read_apdus_cold, bootstrap_read_apdus_warm       bench/bench_bootstrap
#     (in-process virtual card; and bootstrap_read_us_inprocess)
#   bootstrap_read_ms_pcsc        bench/bench_bootstrap --pcsc: cold reads through
#     pcscd + vpcd from `scboot sim --vpcd`, wall time per read, handle opened once
#     (median; p90 and APDUs beside it). Runs with a pcscd of its own when the
#     machine allows namespaces (tests/hardening/isolated.sh), else on the
#     running one (reader "Virtual PCD B 00 01").
#   python_transmit_overhead_ns   bench/bench_python.py (the Python binding)
#   lua_transmit_overhead_ns      bench/bench_lua.lua (the Lua binding)
#   scp03_handshake_us_file/_token, scp03_handshake_token_extra_us,
#   bootstrap_read_us_inprocess_file/_token, secured_apdu_ns_file/_token,
#   secured_apdu_token_vs_file    bench/bench_p11: token keys (a SoftHSM2 token
#     made here in a temporary directory, keys imported with `scboot keys
#     import`) against the same keys from a file, in one run
#   provision_cards_per_min_1/_2/_4, provision_speedup_4
#                                 bench/bench_provision.py --quick (four vpcd
#     readers of the running pcscd; the full 3.2x check runs without --quick)
#   provision_store_cards_per_min_pg_1/_2/_3, provision_store_speedup_pg_3,
#   provision_store_ms_per_card_pg_1/_3, provision_file_job_cards_per_min_1,
#   provision_store_cards_per_min_sqlite_1, provision_store_sqlite_vs_file,
#   provision_store_ms_per_card_sqlite_1
#                                 bench/bench_provision.py --stations --quick:
#     stations of four readers, each in a PC/SC world of its own, on a
#     PostgreSQL of its own and on SQLite (the targets are checked without
#     --quick)
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$SRC/build}" 2>/dev/null && pwd) || { echo "bench/run.sh: no build directory ${1:-}" >&2; exit 2; }
READER="Virtual PCD B 00 01"
PORT=35966
status=0

absent() { echo "$1: not built ($2)"; }

# Cold reads through pcscd + vpcd: start the card, measure, stop the card.
pcsc_bench() {
    "$B/core/cli/scboot" sim --vpcd "127.0.0.1:$PORT" >/dev/null 2>&1 &
    card=$!
    i=0
    until "$B/tests/e2e/pcsc_probe" list 2>/dev/null | grep -q "^$READER	1"; do
        i=$((i + 1))
        if [ $i -gt 100 ]; then
            echo "bootstrap_read_ms_pcsc: not measured (no card appeared in \"$READER\")"
            kill "$card" 2>/dev/null
            return 1
        fi
        sleep 0.1
    done
    "$B/bench/bench_bootstrap" --pcsc "$READER" 50
    rc=$?
    kill "$card" 2>/dev/null
    wait "$card" 2>/dev/null
    return $rc
}
if [ "${2:-}" = "--pcsc-only" ]; then # (inside isolated.sh)
    pcsc_bench
    exit $?
fi

# ---- SCP03 host cost
if [ -x "$B/bench/bench_scp03" ]; then
    out=$("$B/bench/bench_scp03") || status=1
    for name in scp03_apdu_ns scp03_handshake_us scp03_allocs_per_apdu; do
        echo "$out" | grep "^$name:" || { echo "$name: missing from bench_scp03"; status=1; }
    done
else
    for name in scp03_apdu_ns scp03_handshake_us scp03_allocs_per_apdu; do
        absent "$name" "$B/bench/bench_scp03 missing"
    done
fi

# ---- the bootstrap read
if [ -x "$B/bench/bench_bootstrap" ]; then
    "$B/bench/bench_bootstrap" || status=1
else
    absent bootstrap_read_apdus_cold "$B/bench/bench_bootstrap missing (needs the virtual card)"
    absent bootstrap_read_apdus_warm "$B/bench/bench_bootstrap missing"
fi

# ---- through pcscd + vpcd
if [ ! -x "$B/bench/bench_bootstrap" ] || [ ! -x "$B/core/cli/scboot" ] || [ ! -x "$B/tests/e2e/pcsc_probe" ]; then
    absent bootstrap_read_ms_pcsc "needs bench_bootstrap, the scboot command and tests/e2e/pcsc_probe"
elif "$SRC/tests/hardening/isolated.sh" --check 2>/dev/null; then
    SCB_BUILD_DIR="$B" "$SRC/tests/hardening/isolated.sh" "$0" "$B" --pcsc-only || status=1
elif "$B/tests/e2e/pcsc_probe" list >/dev/null 2>&1; then
    pcsc_bench || status=1
else
    echo "bootstrap_read_ms_pcsc: not measured (pcscd is not running; ./project.sh bench starts it)"
fi

# ---- token keys (SoftHSM2) against file keys
SOFTHSM=/usr/lib/softhsm/libsofthsm2.so
if [ ! -x "$B/bench/bench_p11" ] || [ ! -x "$B/core/cli/scboot" ]; then
    absent scp03_handshake_us_token "needs bench_p11 and the scboot command"
elif [ ! -f "$SOFTHSM" ] || ! command -v softhsm2-util >/dev/null; then
    absent scp03_handshake_us_token "SoftHSM2 is not installed (Debian's softhsm2)"
else
    tok=$(mktemp -d)
    printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$tok" \
        >"$tok/softhsm2.conf"
    (umask 077 && echo 5678 >"$tok/pin")
    query="module-path=$SOFTHSM&pin-source=file:$tok/pin"
    if SOFTHSM2_CONF="$tok/softhsm2.conf" softhsm2-util --init-token --free --label bench \
            --so-pin 87654321 --pin 5678 >/dev/null &&
        /usr/bin/python3 -c 'import json, sys
v = [e for e in json.load(open(sys.argv[1])) if e["name"] == "samsung_aes128_s8_sl33"][0]
json.dump(v["keys"], open(sys.argv[2], "w"))
json.dump({"enc": "40414243444546474849" "4A4B4C4D4E4F", "mac": "404142434445464748494A4B4C4D4E4F",
           "dek": "404142434445464748494A4B4C4D4E4F", "kvn": 48}, open(sys.argv[3], "w"))' \
            "$SRC/tests/vectors/scp03.json" "$tok/samsung.json" "$tok/gp.json" &&
        SOFTHSM2_CONF="$tok/softhsm2.conf" "$B/core/cli/scboot" keys import --keys "$tok/samsung.json" \
            --to "pkcs11:token=bench;object=samsung?$query" >/dev/null &&
        SOFTHSM2_CONF="$tok/softhsm2.conf" "$B/core/cli/scboot" keys import --keys "$tok/gp.json" \
            --to "pkcs11:token=bench;object=gp?$query" >/dev/null; then
        SOFTHSM2_CONF="$tok/softhsm2.conf" "$B/bench/bench_p11" "pkcs11:token=bench" "$query" || status=1
    else
        echo "scp03_handshake_us_token: not measured (the SoftHSM2 token could not be set up)"
        status=1
    fi
    rm -rf "$tok"
fi

# ---- the bindings (their owners' programs, when present)
if [ ! -f "$SRC/bench/bench_python.py" ]; then
    absent python_transmit_overhead_ns "bench/bench_python.py absent"
elif ! ls "$B"/python/scboot/_scboot*.so >/dev/null 2>&1 && ! ls "$B"/python/*.so >/dev/null 2>&1; then
    absent python_transmit_overhead_ns "the Python module is not built in $B"
else
    /usr/bin/python3 "$SRC/bench/bench_python.py" "$B" | grep "^python_transmit_overhead_ns:" || status=1
fi
if [ ! -f "$SRC/bench/bench_lua.lua" ]; then
    absent lua_transmit_overhead_ns "bench/bench_lua.lua absent"
elif [ -z "$(find "$B/lua" -name "*.so" 2>/dev/null | head -n 1)" ]; then
    absent lua_transmit_overhead_ns "the Lua module is not built in $B"
else
    LUA_CPATH="$B/lua/?.so;;" LUA_PATH="$B/lua/?.lua;;" lua5.4 "$SRC/bench/bench_lua.lua" |
        grep "^lua_transmit_overhead_ns:" || status=1
fi

# ---- provisioning throughput, 1/2/4 readers (needs pcscd with the four vpcd readers)
if ! ls "$B"/python/scboot/_scboot*.so >/dev/null 2>&1 && ! ls "$B"/python/*.so >/dev/null 2>&1; then
    absent provision_cards_per_min_4 "the Python module is not built in $B"
elif ! "$B/tests/e2e/pcsc_probe" list >/dev/null 2>&1; then
    echo "provision_cards_per_min_4: not measured (pcscd is not running; ./project.sh bench starts it)"
else
    /usr/bin/python3 "$SRC/bench/bench_provision.py" "$B" --quick || status=1
fi
if ls "$B"/python/scboot/_scboot*.so >/dev/null 2>&1; then
    /usr/bin/python3 "$SRC/bench/bench_provision.py" "$B" --stations --quick || status=1
else
    absent provision_store_cards_per_min_pg_3 "the Python module is not built in $B"
fi
exit $status
