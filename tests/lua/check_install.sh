#!/bin/sh
# The installed Lua module.
#  1. Where it goes: under the configured prefix, the directories are ones
#     lua5.4 searches by default when that prefix is /usr or /usr/local.
#  2. `cmake --install` into a scratch prefix puts scboot/core.so and
#     scboot.lua there; lua5.4 loads them with nothing from the build tree
#     on its paths and reads the virtual card.
#  3. The module exports nothing but its luaopen_ function.
# usage: check_install.sh BUILD_DIR PREFIX CMOD_DIR LMOD_DIR (as configured)
set -eu
unset LUA_PATH LUA_CPATH LUA_PATH_5_4 LUA_CPATH_5_4 LUA_INIT LUA_INIT_5_4   # lua5.4's defaults only
build=$(readlink -f "$1"); configured=$2; cmod=$3; lmod=$4
case "$configured" in
/usr|/usr/local)
  lua5.4 -e 'print(package.cpath)' | tr ';' '\n' | grep -qxF "$configured/$cmod/?.so"
  lua5.4 -e 'print(package.path)' | tr ';' '\n' | grep -qxF "$configured/$lmod/?.lua"
  echo "lua5.4 searches $configured/$cmod and $configured/$lmod" ;;
esac
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
case "$cmod" in /*) ;; *) cmod="$prefix/$cmod" ;; esac
case "$lmod" in /*) ;; *) lmod="$prefix/$lmod" ;; esac
test -f "$cmod/scboot/core.so"
test -f "$lmod/scboot.lua"
exported=$(nm -D --defined-only "$cmod/scboot/core.so" | awk '{print $3}')
test "$exported" = "luaopen_scboot_core"
PREFIX="$prefix" LUA_CPATH="$cmod/?.so" LUA_PATH="$lmod/?.lua" lua5.4 -e '
  local scboot = require "scboot"
  assert(package.searchpath("scboot", package.path):find(os.getenv("PREFIX"), 1, true) == 1)
  local K = "404142434445464748494A4B4C4D4E4F"
  local card <close> = assert(scboot.sim())
  local t = assert(card:read_bootstrap{keys = assert(scboot.keys{enc = K, mac = K, kvn = 0x30})})
  assert(t.servers[1].lifetime == 86400)
  print("the installed module read the virtual card: " .. t.digest)'
