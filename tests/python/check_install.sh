#!/bin/sh
# The installed Python package: `cmake --install` into a scratch prefix puts
# scboot (its SWIG module included) and its dist-info under the configured
# directory; from there, with nothing of the build tree on the path and from
# another directory, python3 imports it, reads the virtual card, and pytest
# finds the plugin through its entry point (no -p) to run the conformance
# suite against the virtual card; the scboot-provision command runs.
# usage: check_install.sh BUILD_DIR PYTHON_INSTALL_DIR (as configured)
set -eu
build=$(readlink -f "$1"); pydir=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
case "$pydir" in /*) site="$tmp/prefix$pydir" ;; *) site="$tmp/prefix/$pydir" ;; esac
test -f "$site/scboot/__init__.py"
ls "$site"/scboot/_scboot*.so >/dev/null
grep -qx 'scboot.pytest_plugin = scboot.pytest_plugin' "$site"/scboot-*.dist-info/entry_points.txt
cd "$tmp"
export PYTHONPATH="$site" PYTHONDONTWRITEBYTECODE=1
/usr/bin/python3 - <<'PY'
import os
import scboot
assert scboot.__file__.startswith(os.environ["PYTHONPATH"]), scboot.__file__
K = "404142434445464748494A4B4C4D4E4F"
with scboot.Card.sim() as card:
    bs = card.read_bootstrap(scboot.Keys(enc=K, mac=K, dek=K, kvn=0x30))
    assert bs.servers[0]["lifetime"] == 86400, bs.servers
print("the installed package read the virtual card:", bs.digest.hex())
PY
/usr/bin/python3 -m pytest -q -p no:cacheprovider --pyargs scboot.conformance --scboot-sim
"$tmp/prefix/bin/scboot-provision" --help | grep -q "^Exit status: 0"
echo "scboot-provision --help works"
