#!/bin/sh
# Sanitizer step, three parts, one summary line each:
#
#  asan      the whole C and end-to-end ctest suite in an ASan + UBSan build
#            (gcc; build-asan). Leaks fail a test (LeakSanitizer), so does
#            any UBSan report (-fno-sanitize-recover). Tests that load the
#            Python extension (label python, or a PYTHONPATH into the build
#            tree) run in a second pass with
#            LD_PRELOAD of GCC's libasan (CPython itself is not instrumented;
#            leak checking off there, since CPython does not free everything
#            at exit; the C side's leaks are caught by the C tests and by
#            valgrind). python.pip_install, which builds the extension with
#            the compiler, is left out under ASan.
#  valgrind  memcheck over every C test executable of the regular build
#            ($BUILD_DIR, default build; configured here if absent) and
#            every test labelled "valgrind" (the bindings' owners register
#            their smoke tests so: lua.valgrind exists with the Lua
#            module): 0 bytes definitely or indirectly lost, no invalid
#            read or write (--error-exitcode).
#  tsan      a ThreadSanitizer build (build-tsan) of tests/hardening/
#            test_threads.c: 8 threads, each with its own handle and
#            virtual card, reading bootstraps at once. No report.
#
#   .ci/sanitize.sh [asan|valgrind|tsan ...]    (default: all three)
# Needs pcscd with the project's vpcd readers for the end-to-end tests
# (.ci/run starts one; the hardening e2e suites make their own when they can).
set -u
cd "$(dirname "$0")/.."
SRC=$(pwd)
JOBS=$(nproc 2>/dev/null || echo 2)
ASAN_DIR=${SAN_BUILD_DIR:-$SRC/build-asan}
TSAN_DIR=${TSAN_BUILD_DIR:-$SRC/build-tsan}
VG_DIR=${BUILD_DIR:-$SRC/build}
STEPS=${*:-asan valgrind tsan}
SUMMARY=""
FAILED=0

say() { printf '== sanitize: %s\n' "$*" >&2; }
note() {
    SUMMARY="$SUMMARY$1
"
    echo "$1"
}
LINE="" # what the step found, set by each step

configure_build() { # dir, cmake args...
    dir=$1
    shift
    cmake -S "$SRC" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$dir/configure.log" 2>&1 &&
        cmake --build "$dir" -j "$JOBS" >"$dir/build.log" 2>&1
}

# ---------------------------------------------------------------- ASan + UBSan
step_asan() {
    t0=$(date +%s)
    say "ASan + UBSan build in $ASAN_DIR"
    mkdir -p "$ASAN_DIR"
    if ! configure_build "$ASAN_DIR" "-DSCB_SANITIZE=address;undefined"; then
        tail -n 30 "$ASAN_DIR/build.log" "$ASAN_DIR/configure.log" 2>/dev/null
        LINE="FAILED to build"
        return 1
    fi
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
    log="$ASAN_DIR/ctest-asan.log"
    # Tests that load the Python extension: label python, or a PYTHONPATH
    # into the build tree (e.g. modem.pty_sim's round trip through Python).
    pyre=$( (cd "$ASAN_DIR" && ctest --show-only=json-v1) | /usr/bin/python3 -c '
import json, re, sys
names = []
for t in json.load(sys.stdin)["tests"]:
    props = {p["name"]: p["value"] for p in t.get("properties", [])}
    env = props.get("ENVIRONMENT", [])
    env = env if isinstance(env, list) else [env]
    if "python" in props.get("LABELS", []) or any(e.startswith("PYTHONPATH=") for e in env):
        names.append(re.escape(t["name"]))
print("^(" + "|".join(names) + ")$" if names else "")
')
    if [ -n "$pyre" ]; then
        (cd "$ASAN_DIR" && ctest --output-on-failure -j "$JOBS" --timeout 900 -E "$pyre") >"$log" 2>&1
    else
        (cd "$ASAN_DIR" && ctest --output-on-failure -j "$JOBS" --timeout 900) >"$log" 2>&1
    fi
    rc=$?
    passed=$(sed -n 's/^\([0-9]*\)% tests passed, \([0-9]*\) tests failed out of \([0-9]*\)/\3 \2/p' "$log" | tail -n 1)
    total=${passed% *}
    fails=${passed#* }
    py=""
    if [ -n "$pyre" ]; then
        libasan=$(gcc -print-file-name=libasan.so)
        (cd "$ASAN_DIR" && LD_PRELOAD="$libasan" ASAN_OPTIONS=detect_leaks=0 \
            ctest --output-on-failure -j "$JOBS" --timeout 900 -R "$pyre" -E pip_install) >"$log.python" 2>&1
        prc=$?
        py=", python pass (LD_PRELOAD libasan): $(grep -Eo '[0-9]+ tests failed out of [0-9]+' "$log.python" | tail -n 1)"
        [ $prc -eq 0 ] || rc=1
    fi
    if [ $rc -ne 0 ]; then
        grep -E '^\s+[0-9]+ - ' "$log" "$log.python" 2>/dev/null | sed 's/^/    /' | head -n 20
    fi
    reports=$(grep -cE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log" "$log.python" 2>/dev/null |
        awk -F: '{s += $NF} END {print s + 0}')
    LINE="${fails:-?} of ${total:-?} tests failed, $reports sanitizer report(s)$py, $(( $(date +%s) - t0 )) s ($log)"
    [ $rc -eq 0 ] && [ "$reports" -eq 0 ]
}

# ---------------------------------------------------------------- valgrind
step_valgrind() {
    t0=$(date +%s)
    if [ ! -f "$VG_DIR/CMakeCache.txt" ] || grep -q '^SCB_SANITIZE:STRING=.\+' "$VG_DIR/CMakeCache.txt"; then
        VG_DIR=$SRC/build-valgrind
        say "regular build for valgrind in $VG_DIR"
        mkdir -p "$VG_DIR"
        configure_build "$VG_DIR" || { LINE="FAILED to build"; return 1; }
    else
        say "valgrind over the regular build in $VG_DIR"
        cmake --build "$VG_DIR" -j "$JOBS" >"$VG_DIR/valgrind-build.log" 2>&1 ||
            { LINE="FAILED to build"; return 1; }
    fi
    log="$VG_DIR/valgrind.log"
    # Every test whose command is an executable of the build tree (not a
    # script), under memcheck, as many at a time as there are cores.
    result=$( (cd "$VG_DIR" && ctest --show-only=json-v1) | /usr/bin/python3 -c '
import concurrent.futures, json, os, subprocess, sys
build, log, jobs = os.path.realpath(sys.argv[1]), sys.argv[2], int(sys.argv[3])
vg = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
      "--show-leak-kinds=definite,indirect", "--errors-for-leak-kinds=definite,indirect"]
tests = []
for t in json.load(sys.stdin)["tests"]:
    cmd = t.get("command") or []
    props = {p["name"]: p["value"] for p in t.get("properties", [])}
    if not cmd or not os.path.realpath(cmd[0]).startswith(build + "/"):
        continue
    with open(cmd[0], "rb") as f:
        if f.read(4) != b"\x7fELF":
            continue
    env = dict(os.environ)
    e = props.get("ENVIRONMENT", [])
    env.update(v.split("=", 1) for v in (e if isinstance(e, list) else [e]))
    env["SCB_THREAD_READS"] = "8"  # threads run one at a time under valgrind
    tests.append((t["name"], cmd, env, props.get("WORKING_DIRECTORY", build)))
def run(t):
    name, cmd, env, wd = t
    p = subprocess.run(vg + cmd, env=env, cwd=wd, capture_output=True, text=True, timeout=1800)
    return name, p.returncode, p.stdout[-3000:] + p.stderr[-6000:]
bad = 0
with open(log, "w") as out, concurrent.futures.ThreadPoolExecutor(jobs) as pool:
    for name, rc, text in pool.map(run, tests):
        out.write(("ok   " if rc == 0 else "FAIL ") + name + "\n")
        if rc != 0:
            bad += 1
            out.write("".join("    " + l + "\n" for l in text.splitlines()))
print(len(tests), bad)
' "$VG_DIR" "$log" "$JOBS")
    n=${result% *}
    bad=${result#* }
    # the bindings' own valgrind tests (label valgrind), when they exist
    extra=""
    if (cd "$VG_DIR" && ctest -N -L valgrind 2>/dev/null | grep -q "Test *#"); then
        (cd "$VG_DIR" && ctest --output-on-failure --timeout 900 -L valgrind) >"$log.labelled" 2>&1 ||
            bad=$((bad + 1))
        extra=", label valgrind: $(grep -Eo '[0-9]+ tests failed out of [0-9]+' "$log.labelled" | tail -n 1)"
    else
        extra=", no binding smoke test registered (label valgrind)"
    fi
    grep -A 30 '^FAIL ' "$log" | head -n 60
    LINE="$((n - bad)) of $n C test executables clean (0 definitely/indirectly lost, no invalid access)$extra, $(( $(date +%s) - t0 )) s ($log)"
    [ "$bad" -eq 0 ] && [ "$n" -gt 0 ]
}

# ---------------------------------------------------------------- TSan
step_tsan() {
    t0=$(date +%s)
    say "TSan build of test_threads in $TSAN_DIR"
    mkdir -p "$TSAN_DIR"
    if ! cmake -S "$SRC" -B "$TSAN_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCB_SANITIZE=thread \
            -DSCB_BUILD_PYTHON=OFF -DSCB_BUILD_LUA=OFF -DSCB_BUILD_CLI=OFF >"$TSAN_DIR/configure.log" 2>&1 ||
        ! cmake --build "$TSAN_DIR" -j "$JOBS" --target test_threads >"$TSAN_DIR/build.log" 2>&1; then
        tail -n 30 "$TSAN_DIR/build.log"
        LINE="FAILED to build"
        return 1
    fi
    log="$TSAN_DIR/tsan.log"
    TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 exitcode=66" \
        "$TSAN_DIR/tests/hardening/test_threads" >"$log" 2>&1
    rc=$?
    reports=$(grep -c 'WARNING: ThreadSanitizer' "$log")
    reads=$(sed -n 's/^ *\([0-9]* threads, [0-9]* cold reads each, [0-9]* good\)/\1/p' "$log")
    LINE="$reports report(s), ${reads:-no result}, exit $rc, $(( $(date +%s) - t0 )) s ($log)"
    [ $rc -eq 0 ] && [ "$reports" -eq 0 ]
}

start=$(date +%s)
for s in $STEPS; do
    case $s in
        asan | valgrind | tsan) ;;
        *) echo "sanitize.sh: unknown step $s" >&2; exit 2 ;;
    esac
    LINE=""
    if "step_$s"; then
        note "$s: ok, $LINE"
    else
        FAILED=$((FAILED + 1))
        note "$s: FAILED, $LINE"
    fi
done
echo "== sanitize summary ($(( $(date +%s) - start )) s):"
printf '%s' "$SUMMARY"
[ "$FAILED" -eq 0 ]
