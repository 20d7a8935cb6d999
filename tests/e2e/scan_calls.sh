#!/usr/bin/env bash
# The system calls of scan that grow with the number of files: a file is
# read by one read(2) (its size is known: the short count says it ended,
# no second read of 0 bytes), and no document costs a system call to read
# a CPU clock (only DEDUP_RUN_STATS measures the run). The counts, from
# strace, do not depend on the machine's speed; the speed itself is
# measured in bench/ (bench/README.md, issue 15: one-thread speed).
. "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || { not_ok "strace is installed (make deps)"; finish; }
# valgrind makes its own calls through the run; they say nothing of dedup.
skip_under_valgrind "scan's system calls for each file" "valgrind's own calls" && finish

# calls DIR [ENV...]: "opens reads clock_reads" of `dedup scan -j 1 DIR`,
# as strace -c counts them (the files a scan opens: each once to analyse
# it, some again to verify a pair exactly). (LeakSanitizer cannot run
# under ptrace: the ASan build's leak check is left to the other tests.)
calls() {
    local dir=$1
    shift
    env "$@" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        strace -f -qq -c -e trace=openat,open,read,clock_gettime -o "$T/strace" \
        "$DEDUP" scan -q -j 1 "$dir" >"$T/scan.out" 2>"$T/scan.err"
    local st=$?
    if [ $st != 1 ]; then
        echo "dedup scan exit $st (want 1): $(head -c 400 "$T/scan.err")" >&2
        echo "0 0 0"
        return
    fi
    # % time, seconds, usecs/call, calls, [errors], syscall
    awk '$NF == "openat" || $NF == "open" { opens += $4 }
         $NF == "read" { reads += $4 }
         $NF == "clock_gettime" { clocks += $4 }
         END { print opens + 0, reads + 0, clocks + 0 }' "$T/strace"
}

seed_copies "$T/n" 60
seed_copies "$T/2n" 120
read -r opens_n reads_n clocks_n < <(calls "$T/n" 2>"$T/why")
read -r opens_2n reads_2n clocks_2n < <(calls "$T/2n" 2>>"$T/why")
cp "$T/scan.out" "$T/scan_2n.out"
more_opens=$((opens_2n - opens_n)) more_reads=$((reads_2n - reads_n))
more_clocks=$((clocks_2n - clocks_n))
# The 60 more files are opened at least 60 more times; each opening reads
# its file once (a read of 0 bytes for each would double the reads).
if [ "$more_opens" -ge 60 ] && [ "$more_reads" -le "$more_opens" ]; then
    ok "scan: one read(2) for each file opened ($more_reads more reads for $more_opens more opens)"
else
    not_ok "scan: one read(2) for each file opened" \
        "60 files: $opens_n opens, $reads_n reads; 120 files: $opens_2n opens, $reads_2n reads; $(cat "$T/why")"
fi
if [ "$more_opens" -ge 60 ] && [ "$more_clocks" -lt 10 ]; then
    ok "scan: no CPU clock read for each file ($clocks_n for 60 files, $clocks_2n for 120)"
else
    not_ok "scan: no CPU clock read for each file" \
        "$clocks_n clock_gettime calls for 60 files, $clocks_2n for 120; $(cat "$T/why")"
fi
# DEDUP_RUN_STATS still measures the run.
calls "$T/n" DEDUP_RUN_STATS=1 >/dev/null 2>>"$T/why"
expect_grep "scan with DEDUP_RUN_STATS: the run's CPU time is measured" "consume" "$T/scan.err"
# and the findings are those of the copies (each seed is 24 times there).
expect_grep "scan of 120 copies: the copies are reported" "/2n/0006.txt\"" "$T/scan_2n.out"
finish
