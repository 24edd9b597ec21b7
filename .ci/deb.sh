#!/bin/sh
# CI: the Debian packages, as a user meets them.
#  1. build them (./project.sh deb: dpkg-buildpackage -b -us -uc) and run
#     lintian over them: no errors;
#  2. install them with apt-get install ./*.deb;
#  3. use them from the installed files only: a clean environment (no
#     PYTHONPATH, LUA_PATH, LUA_CPATH, LD_LIBRARY_PATH), a scratch directory
#     as the current one, the build tree out of reach. scboot read --sim;
#     Python `import scboot` and a read from Card.sim(); lua5.4 with
#     require "scboot" and a read; python3 -m pytest --pyargs
#     scboot.conformance --scboot-sim (the plugin found through its entry
#     point); the man pages; scboot-provision; a pkg-config consumer;
#  4. purge them: every file dpkg -L listed is gone, and so is every
#     directory they brought that was not there before (byte-compiled
#     Python included).
# One line per step, then "deb: ok|FAILED ..."; exit status 0 only when all
# passed. Needs root (apt-get, dpkg).
set -u
cd "$(dirname "$0")/.."
SRC=$(pwd)
export DEB_DIR=${DEB_DIR:-$SRC/build-deb}
start=$(date +%s)
tmp=$(mktemp -d)
failed=""
trap 'rm -rf "$tmp"' EXIT
step() { printf 'deb: %s: %s\n' "$1" "$2"; }
fail() { step "$1" "FAILED: $2"; failed="$failed $1"; }
apt() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -q "$@"; }

# ---- 1. build, lintian ------------------------------------------------------
t0=$(date +%s)
if ! ./project.sh deb >"$tmp/deb.log" 2>&1; then
    tail -n 30 "$tmp/deb.log"
    fail build "./project.sh deb ($(( $(date +%s) - t0 )) s)"
    echo "deb: FAILED ($(( $(date +%s) - start )) s)"
    exit 1
fi
debs=$(ls "$DEB_DIR"/*.deb)
pkgs=$(for d in $debs; do dpkg-deb -f "$d" Package; done | tr '\n' ' ')
step build "ok, $(echo "$debs" | wc -l) packages ($pkgs) in $DEB_DIR ($(( $(date +%s) - t0 )) s)"

t0=$(date +%s)
command -v lintian >/dev/null || apt install --no-install-recommends lintian >/dev/null 2>&1
# Every package, the debug symbols (dbgsym/) included; lintian exits
# non-zero on an error tag or when it cannot run.
lintian --pedantic -I --tag-display-limit 0 --fail-on error $debs "$DEB_DIR"/dbgsym/*.deb \
    >"$DEB_DIR/lintian.txt" 2>&1
lrc=$?
tags=$(grep -E '^[EWIPX]: ' "$DEB_DIR/lintian.txt" || true)
count() { printf '%s\n' "$tags" | grep -c "^$1: " || true; }
summary="$(count E) errors, $(count W) warnings, $(count I) info, $(count P) pedantic ($(( $(date +%s) - t0 )) s)"
[ -z "$tags" ] || printf '%s\n' "$tags" | sed 's/^/    /'
if [ "$lrc" -eq 0 ] && [ "$(count E)" -eq 0 ]; then
    step lintian "ok, $summary"
else
    fail lintian "$summary (lintian exit status $lrc, see $DEB_DIR/lintian.txt)"
fi

# ---- 2. install ---------------------------------------------------------------
# Left over from an interrupted run: purge first, so that the check below
# sees what these packages bring.
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' $pkgs 2>/dev/null |
            awk '$2 != "not-installed" {print $1}')
[ -z "$installed" ] || apt purge $installed >/dev/null 2>&1
# What the packages hold, and which of their directories exist beforehand.
for d in $debs; do dpkg-deb -c "$d"; done | awk '{print $6}' | sed 's|^\./|/|; s|/$||' |
    grep -v '^$' | sort -u >"$tmp/contents"
while read -r p; do
    if [ -d "$p" ] && [ ! -L "$p" ]; then echo "$p"; fi
done <"$tmp/contents" >"$tmp/dirs-before"
t0=$(date +%s)
if (cd "$DEB_DIR" && apt install ./*.deb) >"$tmp/install.log" 2>&1; then
    step install "ok, apt-get install ./*.deb ($(( $(date +%s) - t0 )) s)"
else
    tail -n 20 "$tmp/install.log"
    fail install "apt-get install ./*.deb"
fi
for p in $pkgs; do dpkg -L "$p"; done | grep -vx '/\.' | sort -u >"$tmp/listed"

# ---- 3. from the installed files only ----------------------------------------
run() {  # run NAME SCRIPT: the script in a clean environment, in a scratch directory
    mkdir -p "$tmp/run"
    (cd "$tmp/run" && env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$tmp/run" LANG=C.UTF-8 \
        MULTIARCH="$(dpkg-architecture -qDEB_HOST_MULTIARCH)" CONSUMER="$SRC/tests/build/consumer/main.c" \
        sh -eu -c "$2") >"$tmp/$1.log" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        step "$1" "ok, $(tail -n 1 "$tmp/$1.log")"
    else
        sed 's/^/    /' "$tmp/$1.log" | tail -n 20
        fail "$1" "exit status $rc"
    fi
}
t0=$(date +%s)
run cli '
test "$(command -v scboot)" = /usr/bin/scboot
scboot read --sim >out.txt
grep -q "^Server accounts (object 1): 1" out.txt
scboot read --sim --json | grep -Eq "\"lifetime\": ?86400"
echo "/usr/bin/scboot read --sim: $(grep -c . out.txt) lines, the server account read"'
run python '
python3 - <<PY
import scboot
assert scboot.__file__.startswith("/usr/lib/python3/dist-packages/scboot/"), scboot.__file__
assert scboot._scboot.__file__.startswith("/usr/lib/python3/dist-packages/scboot/")
K = "404142434445464748494A4B4C4D4E4F"
with scboot.Card.sim() as card:
    bs = card.read_bootstrap(scboot.Keys(enc=K, mac=K, dek=K, kvn=0x30))
    assert bs.servers[0]["lifetime"] == 86400
print("import scboot from", scboot.__file__, "read Card.sim(): digest", bs.digest.hex()[:16])
PY'
run lua '
lua5.4 -e "
local scboot = require \"scboot\"
local lmod = package.searchpath(\"scboot\", package.path)
local cmod = package.searchpath(\"scboot.core\", package.cpath)
assert(lmod == \"/usr/share/lua/5.4/scboot.lua\", lmod)
assert(cmod == \"/usr/lib/$MULTIARCH/lua/5.4/scboot/core.so\", cmod)
local K = \"404142434445464748494A4B4C4D4E4F\"
local card <close> = assert(scboot.sim())
local bs = assert(card:read_bootstrap{keys = assert(scboot.keys{enc = K, mac = K, kvn = 0x30})})
assert(bs.servers[1].lifetime == 86400)
print(\"require scboot from \" .. lmod .. \" and \" .. cmod .. \": digest \" .. bs.digest:sub(1, 16))"'
run conformance '
python3 -m pytest --pyargs scboot.conformance --scboot-sim >out.txt || { cat out.txt; exit 1; }
grep -Eq "^[0-9]+ passed" out.txt || tail -n 1 out.txt | grep -q " passed"
echo "python3 -m pytest --pyargs scboot.conformance --scboot-sim: $(tail -n 1 out.txt | tr -d =)"'
run man '
for page in scboot scboot-provision scboot-profile libscboot; do man -w "$page" >/dev/null; done
man scboot 2>/dev/null | grep -q "scboot read"
test "$(command -v scboot-provision)" = /usr/bin/scboot-provision
scboot-provision --help | grep -q "^Exit status: 0"
echo "man scboot, scboot-provision(1), scboot-profile(5), libscboot(3) found; scboot-provision runs"'
run dev '
cp "$CONSUMER" main.c
cc -Wall -Wextra -Werror -o consumer main.c $(pkg-config --cflags --libs scboot)
./consumer >/dev/null
lib=$(ldd ./consumer | sed -n "s/^.*libscboot.so.0 => \([^ ]*\) .*/\1/p")
case "$(readlink -f "$lib")" in "/usr/lib/$MULTIARCH/libscboot.so.0."*) ;; *) exit 1 ;; esac
echo "a pkg-config consumer built against the installed libscboot-dev and ran"'
step use "$(( $(date +%s) - t0 )) s"

# ---- 4. purge ------------------------------------------------------------------
t0=$(date +%s)
if apt purge $pkgs >"$tmp/purge.log" 2>&1; then
    left=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' $pkgs 2>/dev/null |
           awk '$2 != "not-installed" {print $1 " (" $2 ")"}')
    files=0 stale=""
    while read -r p; do
        [ -d "$p" ] && [ ! -L "$p" ] && continue
        files=$((files + 1))
        if [ -e "$p" ] || [ -L "$p" ]; then stale="$stale $p"; fi
    done <"$tmp/listed"
    while read -r p; do
        if [ -d "$p" ] && ! grep -qxF "$p" "$tmp/dirs-before"; then stale="$stale $p/"; fi
    done <"$tmp/listed"
    if [ -z "$left" ] && [ -z "$stale" ] && [ "$files" -gt 0 ]; then
        step purge "ok, $files files and the directories the packages made are gone ($(( $(date +%s) - t0 )) s)"
    else
        fail purge "left behind:${left:+ packages $left}${stale}"
    fi
else
    tail -n 20 "$tmp/purge.log"
    fail purge "apt-get purge"
fi

if [ -z "$failed" ]; then
    echo "deb: ok ($(( $(date +%s) - start )) s)"
else
    echo "deb: FAILED:$failed ($(( $(date +%s) - start )) s)"
    exit 1
fi
