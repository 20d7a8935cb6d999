#!/usr/bin/env bash
# dedup check costs what scan costs: the work of checking N named files
# grows linearly with N. The work is measured as the file system calls
# (open, stat, ...) that strace counts, which do not depend on the machine's
# speed: a check that stat()ed every named file for every file of its folder
# made N^2 calls (issue 13: 2,972 files took 20.7 s, scan 0.64 s).
. "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || { not_ok "strace is installed (make deps)"; finish; }
# valgrind makes its own calls through the run; they say nothing of dedup.
skip_under_valgrind "check's file system calls grow linearly" "valgrind's own calls" && finish

# file_calls DIR: the file system calls of `dedup check` on every file of DIR
# (named as a pre-commit hook names them), as strace -c totals them.
# (LeakSanitizer cannot run under ptrace: the ASan build's leak check is
# left to the other tests.)
file_calls() {
    (cd "$1" && ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        strace -f -qq -c -e trace=%file,%stat -o "$T/strace" "$DEDUP" check ./*.txt \
        >"$T/check.out" 2>"$T/check.err")
    local st=$?
    if [ $st != 1 ]; then
        echo "dedup check exit $st (want 1): $(head -c 400 "$T/check.err")" >&2
        echo 0
        return
    fi
    awk '$NF == "total" { print $(NF - 2) }' "$T/strace"
}

seed_copies "$T/n" 60
seed_copies "$T/2n" 120
calls_n=$(file_calls "$T/n" 2>"$T/why")
calls_2n=$(file_calls "$T/2n" 2>>"$T/why")
# Linear work a + b*N gives calls(2N) = 2*calls(N) - a <= 2*calls(N); work
# that grows as N^2 breaks that bound as soon as N^2 outweighs a.
if [ "$calls_n" -gt 0 ] && [ "$calls_2n" -gt 0 ] && [ "$calls_2n" -le $((2 * calls_n)) ]; then
    ok "check: file system calls grow linearly ($calls_n for 60 files, $calls_2n for 120)"
else
    not_ok "check: file system calls grow linearly" \
        "$calls_n calls for 60 files, $calls_2n for 120 (more than twice as many); $(cat "$T/why")"
fi
# and the findings are those of the copies (each seed is 24 times there).
expect_grep "check of 120 copies: the copies are reported" \
    "./0006.txt:1: near-duplicate of ./0001.txt" "$T/check.out"
finish
