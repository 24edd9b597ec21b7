#!/bin/sh
# libscboot.so exports only scb_* (never internal scb__*),
# and the library has no writable static data of its own: no archive
# member has a non-empty .data/.bss/.tdata/.tbss section. (.data.rel.ro holds
# const tables with pointers; it is read-only after relocation.)
set -eu
so=$(readlink -f "$1"); ar=$(readlink -f "$2")
bad=$(nm -D --defined-only "$so" | awk '$2 != "A" {print $3}' | sed 's/@.*//' | grep -v -E '^scb_[a-z0-9]' || true)
if [ -n "$bad" ]; then echo "exported non-API symbols:"; echo "$bad"; exit 1; fi
n=$(nm -D --defined-only "$so" | awk '$2 == "T"' | wc -l)
echo "exported: $n functions, all scb_*"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && ar x "$ar")
fail=0
for o in "$tmp"/*.o; do
  readelf -S -W "$o" | awk -v obj="$(basename "$o")" '
    { for (i = 1; i <= NF; i++) if ($i ~ /^\.(data|bss|tdata|tbss)(\.|$)/ && $i !~ /^\.data\.rel\.ro/) {
        if ($(i + 4) ~ /[1-9a-fA-F]/) { print obj ": " $i " has 0x" $(i + 4) " bytes"; bad = 1 } } }
    END { exit bad }' || fail=1
done
[ $fail -eq 0 ] || { echo "writable static data found"; exit 1; }
echo "no writable static data in $(ls "$tmp" | wc -l) objects"
