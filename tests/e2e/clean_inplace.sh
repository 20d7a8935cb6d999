#!/usr/bin/env bash
# End-to-end tests of dedup clean --in-place and --dry-run, and of what
# clean promises about data: every file is, at every moment, its old or its
# new content (200 SIGKILLs at random moments), a full disk or a file size
# limit leaves the inputs as they were and no temporary file behind, and
# SIGINT/SIGTERM remove the temporary file and exit 130/143.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

# A folder like a user's: the seeds and their syndicated copies (several of
# which repeat lines or a block), one with unusual permissions and an old
# modification time.
make_folder() { # DIR
    mkdir -p "$1"
    cp "$FIXTURES"/seeds/*.txt "$FIXTURES"/variants/*.txt "$1"/
    chmod 644 "$1"/*.txt
    chmod 640 "$1"/001_0546f77b3de22a26.txt
    touch -d '2020-01-02 03:04:05' "$1"/*.txt
}
make_folder orig

# --- --dry-run ------------------------------------------------------------------
cp -a orig dry
expect_status "clean --in-place --dry-run exits 1 when something would change" 1 \
    "$DEDUP" clean --in-place --dry-run dry
cp "$T/out" dry.diff
if diff -r orig dry >/dev/null && [ "$(stat -c %Y dry/002_0b6d1692144c6f75.txt)" = \
    "$(stat -c %Y orig/002_0b6d1692144c6f75.txt)" ] && [ -z "$(ls -A dry | grep -v '\.txt$')" ]; then
    ok "... and writes nothing"
else
    not_ok "... and writes nothing"
fi

# --- --in-place -------------------------------------------------------------------
cp -a orig ip
ino_unchanged=$(stat -c %i ip/000_bd77016b1ff7f277.txt)
expect_status "clean --in-place succeeds" 0 "$DEDUP" clean --in-place ip
expect_grep "... and says that near-duplicate files stay" \
    "dedup clean: 9 documents, 4 clusters: 4 copies left in place (--in-place removes lines, never files; dedup scan lists them)" "$T/err"

# The dry run's diff is exactly what diff -u says of the real change (diff's
# header lines carry timestamps, which ours leave out).
for f in orig/*.txt; do
    b=$(basename "$f")
    diff -u "$f" "ip/$b" | sed -e "1s|^--- .*|--- dry/$b|" -e "2s|^+++ .*|+++ dry/$b|"
done >real.diff
expect_same "the dry run's diff is diff -u of the files before and after" real.diff dry.diff
grep -c '^--- ' dry.diff >ndiff
if [ "$(cat ndiff)" = 4 ]; then ok "... for the 4 files that change"; else
    not_ok "... for the 4 files that change" "$(cat ndiff) files in the diff"
fi

# What --in-place leaves is what -o writes, for every file that -o writes.
"$DEDUP" clean orig -o copies 2>/dev/null
same=0 differ=0
for f in copies/*; do
    if cmp -s "$f" "ip/$(basename "$f")"; then same=$((same + 1)); else differ=$((differ + 1)); fi
done
if [ "$same" = 5 ] && [ "$differ" = 0 ]; then
    ok "each file cleaned in place equals its copy from clean -o (5 files)"
else
    not_ok "each file cleaned in place equals its copy from clean -o (5 files)" "same $same, differ $differ"
fi
if [ -f ip/000_syndicated.txt ] && [ "$(ls ip | wc -l)" = 9 ]; then
    ok "near-duplicate files are not removed in place"
else
    not_ok "near-duplicate files are not removed in place" "$(ls ip)"
fi
if [ "$(stat -c '%a %Y' ip/001_0546f77b3de22a26.txt)" = "640 $(stat -c %Y orig/001_0546f77b3de22a26.txt)" ] &&
    ! cmp -s ip/001_0546f77b3de22a26.txt orig/001_0546f77b3de22a26.txt; then
    ok "a cleaned file keeps its permissions (640) and modification time"
else
    not_ok "a cleaned file keeps its permissions (640) and modification time" \
        "$(stat -c '%a %y' ip/001_0546f77b3de22a26.txt)"
fi
if [ "$(stat -c %i ip/000_bd77016b1ff7f277.txt)" = "$ino_unchanged" ] &&
    [ "$(stat -c %Y ip/000_bd77016b1ff7f277.txt)" = "$(stat -c %Y orig/000_bd77016b1ff7f277.txt)" ]; then
    ok "a file with nothing to remove is not rewritten"
else
    not_ok "a file with nothing to remove is not rewritten"
fi
if [ "$(id -u)" = 0 ]; then
    cp -a orig owned && chown nobody:nogroup owned/002_0b6d1692144c6f75.txt
    "$DEDUP" clean --in-place owned 2>/dev/null
    if [ "$(stat -c %U:%G owned/002_0b6d1692144c6f75.txt)" = nobody:nogroup ] &&
        ! cmp -s owned/002_0b6d1692144c6f75.txt orig/002_0b6d1692144c6f75.txt; then
        ok "run as root, a cleaned file keeps its owner and group"
    else
        not_ok "run as root, a cleaned file keeps its owner and group" \
            "$(stat -c %U:%G owned/002_0b6d1692144c6f75.txt)"
    fi
else
    ok "run as root, a cleaned file keeps its owner and group # skip not root"
fi
expect_status "a second --dry-run finds nothing more to change" 0 "$DEDUP" clean --in-place --dry-run ip
if [ ! -s "$T/out" ]; then ok "... and prints no diff"; else not_ok "... and prints no diff"; fi

# Links: a symbolic link's target is cleaned and the link stays; a file
# with two hard links is refused (the other name would keep the old text).
mkdir links && cp orig/002_0b6d1692144c6f75.txt links/target.txt && ln -s target.txt links/link.txt
"$DEDUP" clean --in-place links/link.txt 2>/dev/null
if [ -L links/link.txt ] && ! cmp -s links/target.txt orig/002_0b6d1692144c6f75.txt &&
    cmp -s links/target.txt ip/002_0b6d1692144c6f75.txt; then
    ok "through a symbolic link, the target is cleaned and the link stays"
else
    not_ok "through a symbolic link, the target is cleaned and the link stays" "$(ls -l links)"
fi
mkdir hard && cp orig/002_0b6d1692144c6f75.txt hard/a.txt && ln hard/a.txt hard/b.txt
expect_status "a file with two hard links is refused" 2 "$DEDUP" clean --in-place hard/a.txt
expect_grep "... saying why" "hard/a.txt: has 2 hard links; not cleaned in place" "$T/err"
if cmp -s hard/a.txt orig/002_0b6d1692144c6f75.txt; then ok "... and left as it was"; else
    not_ok "... and left as it was"
fi

# Usage.
expect_status "-o and --in-place together are refused" 2 "$DEDUP" clean --in-place ip -o x
expect_status "clean without -o or --in-place is refused" 2 "$DEDUP" clean ip
expect_grep "... saying what to give" "give -o DIR (cleaned copies) or --in-place" "$T/err"
expect_status "--in-place is an option of clean only" 2 "$DEDUP" scan --in-place ip

# --dry-run with -o: the files it would write differently, and the copies
# it would leave out as removed wholly.
expect_status "clean -o DIR --dry-run exits 1" 1 "$DEDUP" clean --dry-run orig -o drycopies
if [ ! -e drycopies ] && grep -q '^+++ /dev/null$' "$T/out" &&
    grep -q '^+++ drycopies/001_0546f77b3de22a26.txt$' "$T/out"; then
    ok "... writes nothing, and shows cleaned files and copies left out (+++ /dev/null)"
else
    not_ok "... writes nothing, and shows cleaned files and copies left out (+++ /dev/null)" \
        "$(grep '^+++' "$T/out")"
fi

# --- write errors ------------------------------------------------------------------
# A file size limit (ulimit -f, in KiB here): writing the cleaned 001 (4 KB)
# fails with EFBIG, like a full disk. dedup ignores SIGXFSZ so that it can
# report it.
cp -a orig limited
(ulimit -f 2 && "$DEDUP" clean --in-place limited/001_0546f77b3de22a26.txt) >"$T/out" 2>"$T/err"
st=$?
if [ "$st" = 2 ] && grep -q "limited/001_0546f77b3de22a26.txt: cannot write: File too large; left as it was" "$T/err" &&
    cmp -s limited/001_0546f77b3de22a26.txt orig/001_0546f77b3de22a26.txt &&
    [ -z "$(ls -A limited | grep dedup-tmp)" ]; then
    ok "a file size limit: exit 2, the file named, left as it was, no temporary file"
else
    not_ok "a file size limit: exit 2, the file named, left as it was, no temporary file" \
        "exit $st: $(cat "$T/err"); $(ls -A limited)"
fi
# A full disk: a 64 KiB tmpfs filled up but for a few KB.
mkdir full
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=64k tmpfs full 2>/dev/null; then
    cp orig/002_0b6d1692144c6f75.txt full/a.txt
    head -c 100000 /dev/zero >full/filler 2>/dev/null
    "$DEDUP" clean --in-place full/a.txt >"$T/out" 2>"$T/err"
    st=$?
    if [ "$st" = 2 ] && grep -q "full/a.txt: cannot write: No space left on device; left as it was" "$T/err" &&
        cmp -s full/a.txt orig/002_0b6d1692144c6f75.txt && [ -z "$(ls -A full | grep dedup-tmp)" ]; then
        ok "a full disk (tmpfs): exit 2, the file named, left as it was, no temporary file"
    else
        not_ok "a full disk (tmpfs): exit 2, the file named, left as it was, no temporary file" \
            "exit $st: $(cat "$T/err"); $(ls -A full)"
    fi
    umount full
else
    ok "a full disk (tmpfs) # skip cannot mount a tmpfs here"
fi

# --- one run at a time on a tree ----------------------------------------------------------
# A run locks its folders exclusively and the folders above them shared
# (flock); flock(1) plays a run on lk/a: SH on lk, EX on lk/a.
mkdir -p lk/a/sub lk/b
for d in lk/a lk/a/sub lk/b; do cp orig/001_0546f77b3de22a26.txt orig/002_0b6d1692144c6f75.txt $d/; done
cp -a lk lk.before
flock -s lk flock -x lk/a sh -c 'while [ ! -e release ]; do sleep 0.05; done' &
holder=$!
for _ in $(seq 50); do flock -n -s lk/a true 2>/dev/null || break; sleep 0.1; done
for target in lk/a lk/a/sub lk lk/a/001_0546f77b3de22a26.txt; do
    expect_status "while another run holds lk/a, clean --in-place $target is refused" 2 \
        "$DEDUP" clean --in-place "$target"
    expect_grep "... saying another run is rewriting it" \
        "another dedup clean --in-place is rewriting this folder" "$T/err"
done
if diff -r lk.before/a lk/a >/dev/null; then ok "... and lk/a is untouched"
else not_ok "... and lk/a is untouched" "$(diff -r lk.before/a lk/a | head -5)"; fi
expect_status "a run beside it (lk/b) goes on" 0 "$DEDUP" clean --in-place lk/b
touch release
wait $holder
expect_status "once it has ended, lk/a and lk/a/sub named together are cleaned" 0 \
    "$DEDUP" clean --in-place lk/a lk/a/sub
# Two real runs: the first also names a FIFO, which it reads only once a
# writer comes, so it holds its locks until the test writes to it; the
# second, started meanwhile, is refused.
mkdir lk2
for i in $(seq 1 40); do
    { echo "document $i"; cat "$FIXTURES"/seeds/00$((i % 5))_*.txt; } >lk2/$i.txt
done
mkfifo lk2.fifo
"$DEDUP" clean --in-place lk2 lk2.fifo >/dev/null 2>"$T/first.err" &
first=$!
# Wait until it holds its lock on lk2, read from /proc/locks (probing with
# flock(1) would take a lock that the first run could meet and be refused by).
lk2_inode=$(stat -c %i lk2)
for _ in $(seq 500); do
    grep -qE "FLOCK +ADVISORY +WRITE +$first +[0-9a-f]+:[0-9a-f]+:$lk2_inode " /proc/locks && break
    sleep 0.02
done
"$DEDUP" clean --in-place lk2 >/dev/null 2>"$T/err"
st=$?
# Never wait for ever on the FIFO, should the first run have ended.
timeout 20 sh -c 'echo "the words of the fifo, enough of them" >lk2.fifo'
wait $first
first_st=$?
if [ $st = 2 ] && grep -q "another dedup clean --in-place" "$T/err"; then
    ok "a second clean --in-place started during a first is refused"
else
    not_ok "a second clean --in-place started during a first is refused" \
        "exit $st: $(cat "$T/err"); the first: exit $first_st: $(head -c 600 "$T/first.err")"
fi

# A temporary file of a live process is not called a leftover.
mkdir tmpnames && cp orig/001_0546f77b3de22a26.txt tmpnames/
sleep 30 &
live=$!
sleep 0 &
dead=$!
wait $dead
echo x >"tmpnames/.dedup-tmp.$live.1.a.txt"
echo x >"tmpnames/.dedup-tmp.$dead.1.b.txt"
"$DEDUP" scan tmpnames >/dev/null 2>"$T/err"
expect_grep "a live run's temporary file is named as such" \
    ".dedup-tmp.$live.1.a.txt: a temporary file of a dedup clean running now, skipped" "$T/err"
expect_grep "... and a dead one's as a leftover" \
    ".dedup-tmp.$dead.1.b.txt: a temporary file left by an interrupted dedup clean" "$T/err"
kill $live 2>/dev/null
wait $live 2>/dev/null

if ! skip_under_valgrind "signals and 200 SIGKILLs during clean --in-place" "kills timed within a run"; then
# --- signals -----------------------------------------------------------------------
# A folder big enough that clean runs for a while: 1000 files, each with a
# repeated paragraph. The signal comes at half of what a whole run takes.
mkdir big
for i in $(seq 1 1000); do
    { echo "document $i"; cat "$FIXTURES"/seeds/00$((i % 5))_*.txt; echo; sed -n 3p "$FIXTURES"/seeds/00$((i % 5))_*.txt; } >big/$i.txt
done
cp -a big big.orig
"$DEDUP" clean big.orig -o big.new 2>/dev/null
cp -a big.orig timing
t0=$(date +%s%N)
"$DEDUP" clean --in-place timing 2>/dev/null
half=$(awk -v ns=$(($(date +%s%N) - t0)) 'BEGIN { printf "%.3f", ns / 2e9 }')
for sig in INT TERM; do
    # The signal must land while the run goes on: on a loaded machine a run
    # can take less than half of the timing run, so when it has already
    # ended, try again from the original folder with half the delay.
    delay=$half
    for attempt in 1 2 3 4 5; do
        rm -rf sig && cp -a big.orig sig
        "$DEDUP" clean --in-place sig 2>/dev/null &
        pid=$!
        sleep "$delay"
        kill -s $sig $pid 2>/dev/null && landed=1 || landed=0
        wait $pid
        st=$?
        [ $landed = 1 ] && break
        delay=$(awk -v d="$delay" 'BEGIN { printf "%.3f", d / 2 }')
    done
    want=$([ $sig = INT ] && echo 130 || echo 143)
    bad=0
    for f in big.orig/*.txt; do
        b=$(basename "$f")
        cmp -s "$f" "sig/$b" || cmp -s "big.new/$b" "sig/$b" || bad=$((bad + 1))
    done
    if [ "$st" = "$want" ] && [ $bad = 0 ] && [ -z "$(ls -A sig | grep dedup-tmp)" ]; then
        ok "SIG$sig: exit $want, no temporary file left, every file old or new"
    else
        not_ok "SIG$sig: exit $want, no temporary file left, every file old or new" \
            "exit $st, $bad bad files, $(ls -A sig | grep -c dedup-tmp) temporary files"
    fi
done

# --- SIGKILL, 200 times ---------------------------------------------------------------
# 12 files that all change. The kills come at random moments within 1.5
# times what a whole run takes; after each, every file must be its old or
# its new content, none missing. The test also wants kills seen to land
# while files were being replaced (some old and some new).
mkdir small
for i in $(seq 1 12); do cp big.orig/$i.txt small/; done
"$DEDUP" clean small -o small.new 2>/dev/null
cp -a small k
t0=$(date +%s%N)
"$DEDUP" clean --in-place k 2>/dev/null
run_us=$((($(date +%s%N) - t0) * 15 / 10000 + 1))
all_old=0 all_new=0 mixed=0 bad=0 leftovers=0
for round in $(seq 1 200); do
    rm -rf k && cp -a small k
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:log_path=stderr" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=stderr" \
        "$DEDUP" clean --in-place k 2>/dev/null &
    pid=$!
    sleep "$(awk -v us=$((RANDOM * 32768 % run_us + RANDOM % run_us)) 'BEGIN { printf "%.6f", (us % 1e9) / 1e6 }')"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    o=0 n=0
    for f in small/*.txt; do
        b=$(basename "$f")
        if cmp -s "$f" "k/$b"; then o=$((o + 1))
        elif cmp -s "small.new/$b" "k/$b"; then n=$((n + 1))
        else bad=$((bad + 1)); echo "round $round: k/$b is neither" >>kill.log
        fi
    done
    leftovers=$((leftovers + $(ls -A k | grep -c dedup-tmp)))
    if [ $o = 12 ]; then all_old=$((all_old + 1)); elif [ $n = 12 ]; then all_new=$((all_new + 1)); else mixed=$((mixed + 1)); fi
done
if [ $bad = 0 ] && [ $((all_old + all_new + mixed)) = 200 ] && [ $mixed -ge 1 ]; then
    ok "SIGKILL 200 times: every file old or new, never anything else ($all_old runs all old, $mixed mixed, $all_new all new; $leftovers temporary files left)"
else
    not_ok "SIGKILL 200 times: every file old or new, never anything else" \
        "all old $all_old, mixed $mixed, all new $all_new, bad files $bad: $(head -5 kill.log 2>/dev/null)"
fi
fi
# What a kill may leave: a temporary file, which the next run skips, naming it.
rm -rf left && cp -a orig left
cp orig/001_0546f77b3de22a26.txt "left/.dedup-tmp.99999.0.001_0546f77b3de22a26.txt"
"$DEDUP" scan left >/dev/null 2>"$T/err"
expect_grep "a leftover temporary file is skipped with a warning naming it" \
    "left/.dedup-tmp.99999.0.001_0546f77b3de22a26.txt: a temporary file left by an interrupted dedup clean, skipped" "$T/err"
finish
