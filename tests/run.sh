#!/usr/bin/env bash
# Runs every test suite and prints one summary line: "N passed, N failed".
#
#   tests/run.sh            the normal build, then the ASan+UBSan build
#   tests/run.sh asan       the ASan+UBSan build only
#   tests/run.sh valgrind   the end-to-end scripts only, with the normal
#                           build run under valgrind memcheck (make
#                           check-valgrind): any memcheck error or definite
#                           or indirect leak fails the suite
#
# Suites: the cmocka unit tests (build/tests/test_*), the fuzz targets
# replayed on their corpora and regression inputs (build/tests/fuzz_*), and
# the end-to-end scripts (tests/e2e/*.sh, which print "ok - NAME" /
# "not ok - NAME").
# A sanitizer report makes the test that triggered it fail: the sanitizer
# builds abort on the first report and the scripts check exit statuses and
# stderr.
set -u
cd "$(dirname "$0")/.."
root=$PWD
passed=0
failed=0
failures=()

run_unit() { # binary label
    local out
    out=$("$1" 2>&1)
    local st=$?
    local p f
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' | tail -1)
    p=${p:-0}
    f=${f:-0}
    if [ "$st" != 0 ] && [ "$f" = 0 ]; then f=1; fi # crashed or sanitizer abort
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$f" != 0 ]; then
        failures+=("$2")
        printf '%s\n' "$out" | grep -v '^\[ \(RUN\|      OK\) ' | sed 's/^/    /' | head -60
    fi
    echo "$2: $p passed, $f failed"
}

# tally_ok_lines LABEL STATUS OUTPUT: counts the "ok - " and "not ok - "
# lines of a suite's OUTPUT; a STATUS other than 0 with no failed line (a
# crash, a sanitizer abort, a fuzz target's broken promise) counts as one
# failure. Prints the suite's line, and what was not ok when it failed.
tally_ok_lines() {
    local label=$1 st=$2 out=$3 p f
    p=$(printf '%s\n' "$out" | grep -c '^ok - ')
    f=$(printf '%s\n' "$out" | grep -c '^not ok - ')
    if [ "$st" != 0 ] && [ "$f" = 0 ]; then f=1; fi
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$f" != 0 ]; then
        failures+=("$label")
        printf '%s\n' "$out" | grep -v '^ok - ' | sed 's/^/    /' | head -80
    fi
    echo "$label: $p passed, $f failed"
}

run_e2e() { # script label dedup shingle build
    local out
    out=$(DEDUP=$3 SHINGLE=$4 FIXTURES=$root/fixtures DEDUP_BUILD=$5 bash "$1" 2>&1)
    tally_ok_lines "$2" $? "$out"
}

run_replay() { # binary label inputs...
    local out bin=$1 label=$2
    shift 2
    out=$("$bin" "$@" 2>&1)
    tally_ok_lines "$label" $? "$out"
}

builds=(normal asan)
[ "${1:-}" = asan ] && builds=(asan)
[ "${1:-}" = valgrind ] && builds=(valgrind)
# Sanitizer reports go to files as well as stderr, so a report is seen even
# where a test does not look at stderr.
sanlogs=$(mktemp -d "${TMPDIR:-/tmp}/dedup-san.XXXXXX")
trap 'rm -rf "$sanlogs"' EXIT
export ASAN_OPTIONS=detect_leaks=1:exitcode=99:log_path=$sanlogs/asan
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=99:log_path=$sanlogs/ubsan

# Under valgrind, the binaries are wrappers that run the normal build under
# memcheck and log to files in $sanlogs: a non-empty log is a report.
if [ "${1:-}" = valgrind ]; then
    vgbin="$sanlogs/bin"
    mkdir -p "$vgbin"
    # Some tests run dedup as another user (nobody): it must reach the
    # wrappers and write its log.
    chmod 1777 "$sanlogs"
    chmod 755 "$vgbin"
    for prog in dedup shingle; do
        printf '%s\n' '#!/bin/sh' \
            "exec valgrind -q --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \\" \
            "    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \\" \
            "    --suppressions='$root/tests/valgrind.supp' --log-file='$sanlogs/vg-$prog.%p' \\" \
            "    '$root/bin/$prog' \"\$@\"" >"$vgbin/$prog"
        chmod +x "$vgbin/$prog"
    done
fi

# Counts a failure for every sanitizer log written since the last call.
check_sanitizer_logs() { # label
    local logs
    logs=$(find "$sanlogs" -type f -size +0 -not -path "$sanlogs/bin/*" 2>/dev/null)
    [ -z "$logs" ] && return
    failed=$((failed + 1))
    failures+=("$1 (sanitizer)")
    echo "$1: sanitizer report:"
    cat $logs | head -40 | sed 's/^/    /'
    rm -f $logs
}
for b in "${builds[@]}"; do
    if [ "$b" = normal ]; then
        units=build/tests; dedup=$root/bin/dedup; shingle=$root/bin/shingle
    elif [ "$b" = valgrind ]; then
        units=/nonexistent; dedup=$vgbin/dedup; shingle=$vgbin/shingle
    else
        units=build/asan/tests; dedup=$root/build/asan/bin/dedup; shingle=$root/build/asan/bin/shingle
    fi
    for t in "$units"/test_*; do
        [ -x "$t" ] || continue
        run_unit "$t" "$b $(basename "$t")"
        check_sanitizer_logs "$b $(basename "$t")"
    done
    # The fuzz targets, replayed without libFuzzer (tests/fuzz/driver.c) on
    # their seed corpora and on every input a fuzzer found a bug with.
    for t in "$units"/fuzz_*; do
        [ -x "$t" ] || continue
        name=$(basename "$t")
        inputs=("tests/fuzz/corpus/$name")
        [ -d "tests/fuzz/regressions/$name" ] && inputs+=("tests/fuzz/regressions/$name")
        LSAN_OPTIONS=suppressions=$root/tests/fuzz/lsan.supp:print_suppressions=0 run_replay "$t" "$b $name" "${inputs[@]}"
        check_sanitizer_logs "$b $name"
    done
    for s in tests/e2e/*.sh; do
        [ "$(basename "$s")" = lib.sh ] && continue
        run_e2e "$s" "$b $(basename "$s" .sh)" "$dedup" "$shingle" "$b"
        check_sanitizer_logs "$b $(basename "$s" .sh)"
    done
done
if [ ${#failures[@]} -gt 0 ]; then
    echo "failed suites: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
