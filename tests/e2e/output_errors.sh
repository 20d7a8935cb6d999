#!/usr/bin/env bash
# A failed write to standard output (here /dev/full: ENOSPC) fails every
# command with status 2 and one message, "dedup: writing standard output:
# No space left on device", whatever the command found (issue 14: clean
# --dry-run, index info and scan --explain-params used to exit as if their
# output had been written).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
[ -w /dev/full ] || { echo "ok - no /dev/full here # skip"; finish; }
S=$FIXTURES/seeds
mkdir docs
cp "$S"/*.txt docs/
"$DEDUP" index build docs -o docs.ddx 2>/dev/null

WHY="dedup: writing standard output: No space left on device"

# full NAME CMD...: CMD with its standard output on /dev/full exits 2 and
# says why, once.
full() {
    local name=$1
    shift
    "$@" >/dev/full 2>"$T/err"
    local st=$? said
    said=$(grep -cF -- "$WHY" "$T/err")
    if [ "$st" = 2 ] && [ "$said" = 1 ]; then ok "$name"; else
        not_ok "$name" "exit $st (want 2), the message $said times (want 1); stderr: $(head -c 400 "$T/err")"
    fi
}

full "scan --explain-params" "$DEDUP" scan --explain-params
full "scan -f text (findings: 1 would be masked)" "$DEDUP" scan -f text docs
full "scan -f jsonl" "$DEDUP" scan -f jsonl docs
full "scan -f tsv" "$DEDUP" scan -f tsv docs
full "scan --index" "$DEDUP" scan -f text --index docs.ddx docs/000_bd77016b1ff7f277.txt
full "clean --in-place --dry-run (changes: 1 would be masked)" "$DEDUP" clean --in-place --dry-run docs
full "clean -o --dry-run" "$DEDUP" clean --dry-run docs -o out
full "check" "$DEDUP" check docs/002_0b6d1692144c6f75.txt
full "index info" "$DEDUP" index info docs.ddx
# Every command's --help, whatever its length: a write that fails while
# the text is written (a full buffer flushed) is said with its errno, not
# left for a final flush that has nothing left to write.
for c in scan clean filter check "index build" keygen; do
    # shellcheck disable=SC2086
    full "$c --help" "$DEDUP" $c --help
done
full "dedup --version" "$DEDUP" --version

# A report far larger than the output buffer: it fails mid-way, and is
# still said once.
mkdir many
for i in $(seq -w 1 300); do cp "$S/002_0b6d1692144c6f75.txt" "many/copy-$i.txt"; done
full "scan of 300 copies (a long report)" "$DEDUP" scan -f text many

# The same commands with room to write: unchanged.
expect_status "index info with room to write: exit 0" 0 "$DEDUP" index info docs.ddx
expect_grep "... and its listing" "documents: 5" "$T/out"
expect_status "clean --in-place --dry-run with room to write: exit 1" 1 "$DEDUP" clean --in-place --dry-run docs

finish
