#!/usr/bin/env bash
# A FIFO named on the command line is read once, and its bytes are kept:
# nothing opens it a second time (exact verification of a near-duplicate,
# a report's excerpt, clean), which would wait forever for a writer that
# is gone (issue 14, item 5). clean --in-place cannot rewrite a FIFO: it
# says so and leaves it. Every run is under timeout: a hang fails.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
S=$FIXTURES/seeds
V=$FIXTURES/variants
SEED=$S/002_0b6d1692144c6f75.txt

# writer FIFO FILE: writes FILE into the FIFO FIFO in the background (for
# at most 30 s, so that a run that never opens it leaves nothing behind).
writer() {
    rm -f "$1"
    mkfifo "$1"
    timeout 30 sh -c 'cat "$1" >"$2"' sh "$2" "$1" &
}

# run NAME WANT CMD...: CMD under timeout 30; its exit status must be WANT
# (124: it hung).
run() {
    local name=$1 want=$2
    shift 2
    timeout 30 "$@" >"$T/out" 2>"$T/err"
    local st=$?
    if [ "$st" = "$want" ]; then ok "$name"; else
        not_ok "$name" "exit $st, want $want$([ "$st" = 124 ] && echo ' (it hung)'); stderr: $(head -c 400 "$T/err")"
    fi
}

# A near-duplicate in a FIFO: verified on exact shingle sets, from the kept bytes.
writer copy.fifo "$V/002_near_identical.txt"
run "scan: a FIFO holding a near-duplicate (exit 1, no hang)" 1 "$DEDUP" scan -f text "$SEED" copy.fifo
expect_grep "... clustered with its original, on exact sets" \
    "copy.fifo: near-duplicate of $SEED (jaccard 0.96, containment 0.98)" "$T/out"
wait

# A paragraph first seen in a FIFO, repeated in two files: the boilerplate
# excerpt is taken from the FIFO's kept bytes.
P='Subscribe to our newsletter for the stories of the day'
printf 'First story, with words of its own about the harbour.\n%s\n' "$P" >b.txt
printf 'Second story, with words of its own about the market.\n%s\n' "$P" >c.txt
printf 'Third story, with words of its own about the railway.\n%s\n' "$P" >a.txt
writer a.fifo a.txt
run "scan: boilerplate first seen in a FIFO (exit 1)" 1 "$DEDUP" scan -f text a.fifo b.txt c.txt
expect_grep "... its excerpt read from the kept bytes" \
    "a.fifo:2: boilerplate in 3 documents: \"$P\"" "$T/out"
wait

# scan --index: the FIFO's own set is computed from its kept bytes.
mkdir idx
cp "$SEED" idx/seed.txt
"$DEDUP" index build idx -o idx.ddx 2>/dev/null
writer copy.fifo "$V/002_near_identical.txt"
run "scan --index: a FIFO holding a near-duplicate of an indexed file (exit 1)" 1 \
    "$DEDUP" scan -f text --index idx.ddx copy.fifo
expect_grep "... verified on exact sets, not estimated" \
    "copy.fifo: near-duplicate of idx/seed.txt (in the index; jaccard 0.96, containment 0.98)" "$T/out"
wait

# clean -o: the cleaned copy of a FIFO, from its kept bytes.
cp "$SEED" want.txt
"$DEDUP" clean want.txt -o want.out 2>/dev/null
writer seed.fifo "$SEED"
run "clean -o: a FIFO is cleaned like a file (exit 0, no hang)" 0 "$DEDUP" clean seed.fifo -o cleaned
expect_same "... its copy is the file's cleaned copy" want.out/want.txt cleaned/seed.fifo
wait

# clean --in-place: a FIFO cannot be rewritten; the run says so, leaves it
# a FIFO, cleans the others and ends with 2.
mkdir inplace
cp "$S/004_e1f26045a6d7f475.txt" inplace/other.txt
"$DEDUP" clean inplace/other.txt -o other.out 2>/dev/null
writer seed.fifo "$SEED"
run "clean --in-place: a FIFO with lines to remove (exit 2, no hang)" 2 \
    "$DEDUP" clean --in-place seed.fifo inplace/other.txt
expect_grep "... saying why" "dedup: seed.fifo: not a regular file (a FIFO); cannot be cleaned in place" "$T/err"
[ -p seed.fifo ] && ok "... the FIFO is still a FIFO" || not_ok "... the FIFO is still a FIFO" "$(ls -l seed.fifo)"
expect_same "... and the other file is cleaned" other.out/other.txt inplace/other.txt
wait

# check, with the FIFO named: read once, compared with its folder.
mkdir folder
cp "$SEED" folder/original.txt
writer folder/new.fifo "$V/002_near_identical.txt"
run "check: a named FIFO holding a near-duplicate (exit 1, no hang)" 1 "$DEDUP" check folder/new.fifo
expect_grep "... found against its folder" "folder/new.fifo:1: near-duplicate of folder/original.txt" "$T/out"
wait

# A file that the walk found regular and that became a FIFO before it was
# read (replaced by whoever writes in the folder) is refused, never waited
# on: the writer of first.fifo swaps swap/b.txt for a FIFO before it ends.
# With -j 1, as the timing needs: with more threads a worker may read
# swap/b.txt while first.fifo is still being written, before the swap.
mkdir swap
cp "$SEED" swap/b.txt
rm -f first.fifo
mkfifo first.fifo
timeout 30 sh -c 'exec 3>first.fifo; cat "$1" >&3; rm swap/b.txt; mkfifo swap/b.txt; exec 3>&-' \
    sh "$S/000_bd77016b1ff7f277.txt" &
run "scan: a file turned into a FIFO after the walk is refused (exit 2, no hang)" 2 \
    "$DEDUP" scan -j 1 -f text first.fifo swap
expect_grep "... naming it" "dedup: swap/b.txt: no longer a regular file; not read" "$T/err"
wait

# A file read at the size the walk found is read in one read(2), without
# its status; one that grew or shrank since is still read whole, to its
# end: the writer of first.fifo rewrites changed/grows.txt (listed with
# 300 bytes; it grows past the buffer it is read into) and
# changed/shrinks.txt (listed longer) as copies of changed/z.txt (the
# article 40 times, ~240 KB), read after them, before it ends.
mkdir changed
for _ in $(seq 40); do cat "$SEED"; done >changed/z.txt
head -c 300 "$S/003_9004b0353d6ebc11.txt" >changed/grows.txt
cat changed/z.txt "$S/004_e1f26045a6d7f475.txt" >changed/shrinks.txt
rm -f first.fifo
mkfifo first.fifo
timeout 30 sh -c 'exec 3>first.fifo; cat "$1" >&3; cat changed/z.txt >changed/grows.txt;
    cat changed/z.txt >changed/shrinks.txt; exec 3>&-' sh "$S/000_bd77016b1ff7f277.txt" &
run "scan: files that grew or shrank after the walk are read whole (exit 1)" 1 \
    "$DEDUP" scan -j 1 -f text first.fifo changed
expect_grep "... the one that shrank" "changed/shrinks.txt: exact duplicate of changed/grows.txt" \
    "$T/out"
expect_grep "... the one that grew" "changed/z.txt: exact duplicate of changed/grows.txt" "$T/out"
wait

finish
