#!/bin/sh
# A build configured with SCB_WITH_PCSC=OFF (gateways whose card is in a
# modem) has no pcsc-lite anywhere:
#  1. the configuration never looked for it and no compile line has its
#     headers (-I.../PCSC);
#  2. libscboot.so (and every other built ELF: the CLI, the bindings) has no
#     libpcsclite in its NEEDED entries, nor in what ldd resolves;
#  3. the PC/SC entry points still exist (same ABI as a PC/SC build) and say
#     what is missing: the CLI's readers and default reader fail with
#     SCB_E_UNSUPPORTED's one-line message while --sim reads as usual.
# usage: check_no_pcsc.sh BUILD_DIR LIBSCBOOT SCBOOT_CLI
set -eu
build=$(readlink -f "$1"); lib=$(readlink -f "$2"); cli=$(readlink -f "$3")
fail() { echo "FAILED: $*"; exit 1; }

if grep -E '^(PCSC_|pkgcfg_lib_PCSC)' "$build/CMakeCache.txt"; then
    fail "the configuration looked for pcsc-lite (CMakeCache entries above)"
fi
hits=$(find "$build" -name flags.make -exec grep -l -e '/PCSC' -e 'pcsclite' {} + || true)
[ -z "$hits" ] || fail "compile flags with PC/SC headers: $hits"
echo "configuration and compile flags: no pcsc-lite"

n=0
for elf in $(find "$build" -type f \( -name '*.so*' -o -perm -u+x \) ! -name '*.sh' ! -name '*.py'); do
    readelf -h "$elf" >/dev/null 2>&1 || continue
    n=$((n + 1))
    if readelf -d "$elf" | grep -i 'NEEDED.*pcsclite'; then fail "$elf needs pcsc-lite"; fi
done
[ "$n" -gt 0 ] || fail "no ELF files found under $build"
if ldd "$lib" | grep -i pcsclite; then fail "ldd $lib resolves pcsc-lite"; fi
echo "readelf NEEDED of $n ELF files and ldd $(basename "$lib"): no libpcsclite"
readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/  NEEDED \1/p'

for sym in scb_card_open_pcsc scb_readers_list scb_readers_count scb_readers_name \
           scb_readers_card_present scb_readers_free; do
    nm -D --defined-only "$lib" | grep -qE " T $sym(@|\$)" || fail "$sym is not exported"
done
echo "the PC/SC entry points are exported (same ABI)"

msg="this build of libscboot has no PC/SC support (built with SCB_WITH_PCSC=OFF): use the modem or another transport"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for args in "readers" "read --no-secure-channel" "apdu -r 0 --no-secure-channel 00A40000"; do
    # shellcheck disable=SC2086
    if "$cli" $args >"$tmp/out" 2>"$tmp/err"; then fail "scboot $args succeeded"; fi
    grep -qF "$msg" "$tmp/err" || { cat "$tmp/err"; fail "scboot $args: not the no-PC/SC message"; }
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || { cat "$tmp/err"; fail "scboot $args: more than one line"; }
    [ ! -s "$tmp/out" ] || fail "scboot $args printed on stdout"
done
echo "scboot readers / read / apdu -r 0: $(cat "$tmp/err")"
"$cli" read --sim --json >"$tmp/out" || fail "scboot read --sim failed"
grep -q '"lifetime"' "$tmp/out" || fail "scboot read --sim printed no accounts"
echo "scboot read --sim reads the virtual card"
