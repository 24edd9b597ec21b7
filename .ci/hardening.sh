#!/bin/sh
# Hardening steps for CI, after the README test command (which already ran
# the fault-injection, secret-hygiene and key-wiping tests):
#
#   fuzz       .ci/fuzz.sh      every libFuzzer harness, ASan + UBSan, 20 s each
#                               (FUZZ_SECONDS; a smoke run: campaigns are longer)
#   asan       .ci/sanitize.sh  the whole ctest suite in an ASan + UBSan build
#   valgrind   .ci/sanitize.sh  memcheck over every C test executable
#   tsan       .ci/sanitize.sh  8 threads reading bootstraps under TSan
#
# One summary line per step, then "hardening: N of M steps passed (T s)";
# exit status 0 only when every step passed. Budget: about 9 minutes on
# 2 cores (fuzz ~2.5, asan ~5, valgrind ~1.5, tsan ~0.2).
#   .ci/hardening.sh [fuzz] [sanitize]      (default: both)
set -u
cd "$(dirname "$0")/.."
SRC=$(pwd)
export BUILD_DIR=${BUILD_DIR:-$SRC/build}
LOGDIR=${HARDENING_LOG_DIR:-$SRC/build-hardening-logs}
mkdir -p "$LOGDIR"
STEPS=${*:-fuzz sanitize}
start=$(date +%s)
lines=""
pass=0
total=0

for step in $STEPS; do
    t0=$(date +%s)
    case $step in
        fuzz)
            FUZZ_SECONDS=${FUZZ_SECONDS:-20} .ci/fuzz.sh >"$LOGDIR/fuzz.log" 2>&1
            rc=$?
            total=$((total + 1))
            [ $rc -eq 0 ] && pass=$((pass + 1))
            summary=$(grep '^fuzz: ' "$LOGDIR/fuzz.log" | tail -n 1)
            lines="${lines}fuzz: $( [ $rc -eq 0 ] && echo ok || echo FAILED), ${summary#fuzz: }
"
            [ $rc -eq 0 ] || grep -E '^fuzz_.*FAILED|^    ' "$LOGDIR/fuzz.log" | head -n 20
            ;;
        sanitize)
            .ci/sanitize.sh >"$LOGDIR/sanitize.log" 2>&1
            for part in asan valgrind tsan; do
                line=$(sed -n '/^== sanitize summary/,$p' "$LOGDIR/sanitize.log" | grep "^$part: " | tail -n 1)
                total=$((total + 1))
                case $line in "$part: ok,"*) pass=$((pass + 1)) ;; esac
                lines="${lines}${line:-$part: FAILED, no result (see $LOGDIR/sanitize.log)}
"
            done
            grep -E '^    |^FAIL ' "$LOGDIR/sanitize.log" | head -n 30
            ;;
        *) echo "hardening.sh: unknown step $step" >&2; exit 2 ;;
    esac
done
printf '%s' "$lines"
echo "hardening: $pass of $total steps passed ($(( $(date +%s) - start )) s; logs in $LOGDIR)"
[ "$pass" -eq "$total" ]
