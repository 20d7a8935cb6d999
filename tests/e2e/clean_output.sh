#!/usr/bin/env bash
# End-to-end tests of how dedup clean -o DIR writes its output folder: as
# safe as one file at a time with a sync each, but with a constant number of
# syncs, so that it runs at about the speed of cp -r.
#   - syncs: fsync/fdatasync/syncfs/sync calls (strace) are a few, not two a
#     file as before (100 for 50 files);
#   - a new DIR appears complete or not at all: after SIGKILL at random
#     moments, DIR is absent or holds exactly what a whole run writes;
#   - SIGINT/SIGTERM while the files are synced (strace delivers the signal at
#     syncfs) end the run with 130/143 and leave nothing, DIR absent;
#   - into an existing DIR, the cleaned copies replace files of the same
#     name, and nothing else there changes; a run that fails, or is stopped,
#     changes nothing there;
#   - a full disk (a small tmpfs, as root) leaves nothing behind.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

# The corpus: every distinct non-blank line of the seed articles as a file of
# its own (62 real paragraphs, in three folders): all different, so that
# every file is written.
awk 'NF && !seen[$0]++' "$FIXTURES"/seeds/*.txt >paragraphs
n=0
while IFS= read -r line; do
    n=$((n + 1))
    mkdir -p "corpus/part$((n % 3))"
    printf '%s\n' "$line" >"corpus/part$((n % 3))/$n.txt"
done <paragraphs
"$DEDUP" clean corpus -o ref 2>"$T/err"
st=$?
written=$(find ref -type f | wc -l)
if [ "$st" = 0 ] && [ "$written" -ge 50 ]; then
    ok "clean -o writes a new folder ($written files of $n)"
else
    not_ok "clean -o writes a new folder" "exit $st, $written files: $(head -c 600 "$T/err")"
fi

# no_temporaries DIR...: no .dedup-tmp.* file or folder anywhere in them.
no_temporaries() {
    [ -z "$(find "$@" -name '.dedup-tmp.*' 2>/dev/null | head -1)" ]
}

# --- syncs: a few, whatever the number of files ----------------------------------
# fsync, fdatasync, syncfs, sync and sync_file_range, as strace -f sees them.
count_syncs() { # OUTPUT_OF_STRACE
    grep -cE '(^|[^a-z_])(fsync|fdatasync|syncfs|sync|sync_file_range)\(' "$1"
}
if ! command -v strace >/dev/null; then
    not_ok "strace is installed (make deps)"
elif ! strace -f -o /dev/null true 2>/dev/null; then
    ok "syncs of clean -o # SKIP strace cannot trace here (ptrace not permitted)"
else
    head -50 <(find corpus -type f | sort) | while IFS= read -r f; do
        mkdir -p "fifty/$(dirname "$f")" && cp "$f" "fifty/$f"
    done
    # LeakSanitizer cannot run under ptrace: the traced runs of the ASan
    # build go without it (the other runs check for leaks).
    asan_options=${ASAN_OPTIONS-}
    export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
    traced=(strace -f -o "$T/strace" -e trace=fsync,fdatasync,syncfs,sync,sync_file_range)
    "${traced[@]}" "$DEDUP" clean fifty -o fifty.out 2>"$T/err"
    st=$?
    files=$(find fifty.out -type f | wc -l)
    syncs=$(count_syncs "$T/strace")
    if [ "$st" = 0 ] && [ "$files" -ge 40 ] && [ "$syncs" -le 4 ]; then
        ok "clean -o into a new folder: $syncs syncs for $files files"
    else
        not_ok "clean -o into a new folder: at most 4 syncs, not two a file" \
            "exit $st, $syncs syncs for $files files: $(grep -E 'sync' "$T/strace" | head -5)"
    fi
    "${traced[@]}" "$DEDUP" clean fifty -o fifty.out 2>"$T/err"
    st=$?
    syncs=$(count_syncs "$T/strace")
    if [ "$st" = 0 ] && [ "$syncs" -le 4 ] && no_temporaries fifty.out; then
        ok "clean -o into an existing folder: $syncs syncs for $files files"
    else
        not_ok "clean -o into an existing folder: at most 4 syncs, not two a file" \
            "exit $st, $syncs syncs for $files files: $(grep -E 'sync' "$T/strace" | head -5)"
    fi

    # A signal while the files are synced (delivered by strace as syncfs
    # starts): the run ends with 128 + the signal, and nothing is written.
    for sig in INT TERM; do
        want=$([ $sig = INT ] && echo 130 || echo 143)
        rm -rf sig.out
        strace -f -o /dev/null -e trace=syncfs -e inject=syncfs:signal=SIG$sig:when=1 \
            "$DEDUP" clean fifty -o sig.out 2>"$T/err"
        st=$?
        if [ "$st" = "$want" ] && [ ! -e sig.out ] && no_temporaries .; then
            ok "SIG$sig while syncing a new folder: exit $want, no folder, nothing left"
        else
            not_ok "SIG$sig while syncing a new folder: exit $want, no folder, nothing left" \
                "exit $st; $(ls -A | grep -E 'sig.out|dedup-tmp'); $(head -c 400 "$T/err")"
        fi
    done
    rm -rf old.out && mkdir old.out && echo "old" >old.out/keep.txt
    cp -a old.out old.before
    strace -f -o /dev/null -e trace=syncfs -e inject=syncfs:signal=SIGINT:when=1 \
        "$DEDUP" clean fifty -o old.out 2>"$T/err"
    st=$?
    if [ "$st" = 130 ] && diff -r old.before old.out >/dev/null && no_temporaries old.out; then
        ok "SIGINT while syncing into an existing folder: exit 130, the folder as it was"
    else
        not_ok "SIGINT while syncing into an existing folder: exit 130, the folder as it was" \
            "exit $st; $(diff -r old.before old.out | head -5)"
    fi
    export ASAN_OPTIONS=$asan_options
fi

# --- into an existing folder ----------------------------------------------------------
mkdir -p into/part1
echo "a file of the user's" >into/keep.txt
echo "an old copy" >into/part1/1.txt
mkdir into/part2
cp -a into into.before
"$DEDUP" clean corpus -o into 2>"$T/err"
st=$?
rm -f into/keep.txt.check
if [ "$st" = 0 ] && cmp -s into.before/keep.txt into/keep.txt &&
    diff -r ref into | grep -qx 'Only in into: keep.txt' &&
    [ "$(diff -r ref into | wc -l)" = 1 ] && no_temporaries into; then
    ok "clean -o into an existing folder: copies replaced, the user's file untouched"
else
    not_ok "clean -o into an existing folder: copies replaced, the user's file untouched" \
        "exit $st: $(diff -r ref into | head -5)"
fi

# A run that fails on its way (a folder where a cleaned copy must go) writes
# nothing into an existing folder.
rm -rf into2 && mkdir -p into2/part1 && echo "old" >into2/keep.txt
first=$(cd ref && find . -type f | sort | sed -n 10p)
mkdir -p "into2/$first"
cp -a into2 into2.before
expect_status "a folder in the way of a copy: exit 2" 2 "$DEDUP" clean corpus -o into2
expect_grep "... naming it" "into2/${first#./}: cannot replace it: Is a directory" "$T/err"
if diff -r into2.before into2 >/dev/null && no_temporaries into2; then
    ok "... and the existing folder is as it was"
else
    not_ok "... and the existing folder is as it was" "$(diff -r into2.before into2 | head -5)"
fi

# -o naming a file, or a folder whose parent is missing.
echo "not a folder" >afile
expect_status "-o naming a file: exit 2" 2 "$DEDUP" clean corpus -o afile
expect_grep "... saying so" "afile: Not a directory" "$T/err"
expect_status "-o in a missing folder: exit 2" 2 "$DEDUP" clean corpus -o missing/out
expect_grep "... saying so" "missing/out: No such file or directory" "$T/err"
if [ "$(cat afile)" = "not a folder" ] && [ ! -e missing ] && no_temporaries .; then
    ok "... and nothing is written"
else
    not_ok "... and nothing is written" "$(ls -A)"
fi

# --- a full disk ------------------------------------------------------------------
mkdir -p full
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=64k tmpfs full 2>/dev/null; then
    "$DEDUP" clean corpus -o full/out >"$T/out" 2>"$T/err"
    st=$?
    if [ "$st" = 2 ] && grep -q "No space left on device" "$T/err" &&
        grep -q "nothing written to full/out" "$T/err" && [ -z "$(ls -A full)" ]; then
        ok "a full disk (tmpfs): exit 2, saying why, nothing left behind"
    else
        not_ok "a full disk (tmpfs): exit 2, saying why, nothing left behind" \
            "exit $st: $(head -c 600 "$T/err"); $(ls -A full)"
    fi
    umount full
else
    ok "a full disk (tmpfs) # skip cannot mount a tmpfs here"
fi

# --- SIGKILL at random moments ---------------------------------------------------------
# The kills come at random moments within 1.5 times what a whole run takes
# (a window that then follows the machine's speed);
# after each, the new folder must be absent or exactly what a whole run
# writes. Some kills must land before the end and some after, or the test
# proved nothing.
if ! skip_under_valgrind "SIGKILL during clean -o" "kills timed within a run"; then
    t0=$(date +%s%N)
    "$DEDUP" clean corpus -o timing 2>/dev/null
    run_us=$((($(date +%s%N) - t0) * 15 / 10000 + 1))
    absent=0 complete=0 partial=0 leftovers=0
    for round in $(seq 1 100); do
        rm -rf k k.parent && mkdir k.parent
        ASAN_OPTIONS="${ASAN_OPTIONS:-}:log_path=stderr" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=stderr" \
            "$DEDUP" clean corpus -o k.parent/out 2>/dev/null &
        pid=$!
        sleep "$(awk -v us=$((RANDOM * 32768 % run_us + RANDOM % run_us)) 'BEGIN { printf "%.6f", (us % 1e9) / 1e6 }')"
        kill -9 $pid 2>/dev/null
        wait $pid 2>/dev/null
        # The window follows the machine's speed: a kill after the end
        # narrows it, one before the end widens it, so that both keep coming
        # however loaded the machine is.
        if [ ! -e k.parent/out ]; then absent=$((absent + 1)); run_us=$((run_us * 11 / 10 + 1))
        elif diff -r ref k.parent/out >/dev/null; then complete=$((complete + 1)); run_us=$((run_us * 9 / 10 + 1))
        else partial=$((partial + 1)); echo "round $round: $(diff -r ref k.parent/out | head -3)" >>kill.log
        fi
        leftovers=$((leftovers + $(ls -A k.parent | grep -c '^\.dedup-tmp\.')))
    done
    if [ $partial = 0 ] && [ $absent -ge 1 ] && [ $complete -ge 1 ]; then
        ok "SIGKILL 100 times: the new folder absent ($absent) or complete ($complete), never partial ($leftovers temporary folders left beside it)"
    else
        not_ok "SIGKILL 100 times: the new folder absent or complete, never partial" \
            "absent $absent, complete $complete, partial $partial: $(head -5 kill.log 2>/dev/null)"
    fi
fi

# What a kill may leave beside the folder: a temporary folder, which a scan
# of the folder above skips, naming it.
mkdir -p left/docs && cp corpus/part0/3.txt left/docs/
mkdir -p left/.dedup-tmp.99999.0.out && cp corpus/part0/3.txt left/.dedup-tmp.99999.0.out/
"$DEDUP" scan left >/dev/null 2>"$T/err"
expect_grep "a leftover temporary folder is skipped with a warning naming it" \
    "left/.dedup-tmp.99999.0.out: a temporary folder left by an interrupted dedup clean, skipped" "$T/err"
finish
