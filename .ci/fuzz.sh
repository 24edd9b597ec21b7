#!/bin/sh
# Fuzzing step: build every libFuzzer harness (fuzz/fuzz_*.c) with clang,
# ASan and UBSan in its own build directory, then run each for a fixed time
# from its seed corpus (fuzz/corpus/<name>, copied: the repository's seeds
# stay as they are). A crash, a leak, a UBSan report or a timeout fails the
# step; the input that did it is kept in $FUZZ_BUILD_DIR/artifacts.
#
#   .ci/fuzz.sh [HARNESS...]          (default: all)
#
# Environment:
#   FUZZ_BUILD_DIR  build directory (default build-fuzz)
#   FUZZ_SECONDS    run time per harness (default 45)
#   FUZZ_PARALLEL   harnesses run at once (default: the number of cores)
#   FUZZ_KEEP_WORK  1: go on from the inputs found by the last run (long
#                   campaigns); default: start from the seeds
# Budget: 12 harnesses x 45 s on 2 cores ~ 4.5 min, plus ~1.5 min to build.
# Prints one line per harness (executions, time, coverage) and a summary.
set -u
cd "$(dirname "$0")/.."
SRC=$(pwd)
B=${FUZZ_BUILD_DIR:-$SRC/build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-45}
PARALLEL=${FUZZ_PARALLEL:-$(nproc 2>/dev/null || echo 2)}

if [ $# -gt 0 ]; then
    HARNESSES="$*"
else
    HARNESSES=$(cd fuzz && ls fuzz_*.c | sed 's/\.c$//' | tr '\n' ' ')
fi

say() { printf '== fuzz: %s\n' "$*" >&2; }

start=$(date +%s)
say "building $HARNESSES in $B"
# -fsanitize=fuzzer-no-link on everything: the virtual card that
# fuzz_sim_apdu links is instrumented for coverage too.
mkdir -p "$B"
CC=clang cmake -S "$SRC" -B "$B" -DSCB_BUILD_FUZZ=ON -DSCB_BUILD_PYTHON=OFF -DSCB_BUILD_LUA=OFF \
    -DSCB_BUILD_CLI=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link,address,undefined" >"$B/configure.log" 2>&1 ||
    { cat "$B/configure.log"; echo "fuzz: FAILED (configure)"; exit 1; }
# shellcheck disable=SC2086
if ! cmake --build "$B" -j "$PARALLEL" --target $HARNESSES >"$B/build.log" 2>&1; then
    tail -n 40 "$B/build.log"
    echo "fuzz: FAILED (build)"
    exit 1
fi
built=$(date +%s)

mkdir -p "$B/artifacts" "$B/work" "$B/logs"
run_one() {
    name=$1
    corpus=${name#fuzz_}
    work="$B/work/$corpus"
    [ "${FUZZ_KEEP_WORK:-0}" = 1 ] || rm -rf "$work"
    mkdir -p "$work"
    dict=""
    [ -f "$SRC/fuzz/$corpus.dict" ] && dict="-dict=$SRC/fuzz/$corpus.dict"
    # new inputs go to work/, the seeds are read from the repository
    t0=$(date +%s)
    # shellcheck disable=SC2086
    "$B/fuzz/$name" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$B/artifacts/$name-" $dict \
        "$work" "$SRC/fuzz/corpus/$corpus" >"$B/logs/$name.log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - t0 ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$B/logs/$name.log" | tail -n 1)
    cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$B/logs/$name.log" | tail -n 1)
    if [ $rc -eq 0 ]; then
        echo "$name: ok, ${execs:-?} execs in ${secs:-?} s, $cov"
    else
        echo "$name: FAILED (exit $rc), ${execs:-?} execs; see $B/logs/$name.log"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|artifact_prefix|Test unit written)' \
            "$B/logs/$name.log" | head -n 8 | sed 's/^/    /'
    fi
    return $rc
}

results="$B/results.txt"
: >"$results"
running=0
for h in $HARNESSES; do
    ( run_one "$h" >>"$results" ) &
    running=$((running + 1))
    if [ "$running" -ge "$PARALLEL" ]; then
        wait # a batch: every harness runs equally long
        running=0
    fi
done
wait
cat "$results"
failed=$(grep -c '^fuzz_[a-z0-9_]*: FAILED' "$results")
total=$(grep -c '^fuzz_[a-z0-9_]*: ' "$results")
end=$(date +%s)
echo "fuzz: $((total - failed)) of $total harnesses clean, ${SECONDS_EACH} s each," \
    "build $((built - start)) s, total $((end - start)) s"
[ "$failed" -eq 0 ] && [ "$total" -gt 0 ]
