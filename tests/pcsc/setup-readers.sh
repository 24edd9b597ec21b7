#!/bin/sh
# Write a reader.conf.d for pcscd with four vpcd readers into DIR (default
# build/pcsc) and print its path:
#   "Virtual PCD 00 00"   <- card process on 127.0.0.1:35963
#   "Virtual PCD 00 01"   <- 35964
#   "Virtual PCD B 00 00" <- 35965
#   "Virtual PCD B 00 01" <- 35966
# The vpcd driver opens two slots per entry (port, port+1). It keeps its
# slot state in globals indexed by slot only, so two entries sharing one
# loaded driver clobber each other's slots; the second entry therefore loads
# a private copy of the driver (a different file is a different dlopen
# instance).
set -eu
dir=${1:-$(dirname "$0")/../../build/pcsc}
mkdir -p "$dir/reader.conf.d"
dir=$(cd "$dir" && pwd)
driver=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
[ -f "$driver" ] || { echo "missing $driver (apt-get install vsmartcard-vpcd)" >&2; exit 1; }
cp "$driver" "$dir/libifdvpcd-b.so"
cat > "$dir/reader.conf.d/scboot-vpcd" <<CONF
FRIENDLYNAME "Virtual PCD"
DEVICENAME   /dev/null:0x8C7B
LIBPATH      $driver
CHANNELID    0x8C7B

FRIENDLYNAME "Virtual PCD B"
DEVICENAME   /dev/null:0x8C7D
LIBPATH      $dir/libifdvpcd-b.so
CHANNELID    0x8C7D
CONF
echo "$dir/reader.conf.d"
