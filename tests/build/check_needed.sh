#!/bin/sh
# At run time libscboot needs libcrypto, pcsc-lite and, when built with
# PKCS#11 (ON or OFF as $2 says), libp11-kit: nothing else (readelf NEEDED).
set -eu
so=$(readlink -f "$1"); with=$2
needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
echo "NEEDED: $needed"
allowed="libc.so.6 libcrypto.so.3 libpcsclite.so.1"
[ "$with" = ON ] && allowed="$allowed libp11-kit.so.0"
for lib in $needed; do
    case " $allowed " in *" $lib "*) ;; *) echo "unexpected run-time dependency: $lib"; exit 1 ;; esac
done
case " $needed " in
    *" libp11-kit.so.0 "*) [ "$with" = ON ] || { echo "libp11-kit without SCB_WITH_PKCS11"; exit 1; } ;;
    *) [ "$with" != ON ] || { echo "SCB_WITH_PKCS11=ON but no libp11-kit"; exit 1; } ;;
esac
