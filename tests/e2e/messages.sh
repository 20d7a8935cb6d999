#!/usr/bin/env bash
# Messages that say the right thing at once (issue 14, Lower): a device
# that streams binary data is skipped after its first bytes, not after
# 256 MB; scan and filter give the --max-record limit in the same words;
# an out-of-range -b names the range.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

# /dev/zero: binary from its first byte. Skipped at once, with the binary
# file's warning; memory stays small (it used to be read up to 256 MB).
if skip_under_valgrind "scan /dev/zero is skipped at once" "peak memory under valgrind is not the program's"; then :; else
    /usr/bin/time -f '%M' -o rss timeout 60 "$DEDUP" scan -f text /dev/zero >"$T/out" 2>"$T/err"
    st=$?
    kb=$(tail -1 rss)
    if [ "$st" = 0 ] && [ "$kb" -lt 100000 ]; then ok "scan /dev/zero: skipped at once (exit 0, peak $kb KB)"; else
        not_ok "scan /dev/zero: skipped at once (exit 0, peak under 100 MB)" "exit $st, peak $kb KB; $(head -c 300 "$T/err")"
    fi
    expect_grep "... as a binary file" \
        "dedup: warning: /dev/zero: a binary file (a NUL byte in its first 8000 bytes), skipped" "$T/err"
fi
# The same through a pipe: the reader stops after the first bytes, and the
# writer, cut off, is not waited for.
expect_status "a binary stream on standard input (1 GB of zeros) is skipped (exit 0)" 0 \
    timeout 60 sh -c 'head -c 1000000000 /dev/zero | "$0" scan -f text -' "$DEDUP"
expect_grep "... as a binary file" "dedup: warning: -: a binary file" "$T/err"
# clean -o would copy a binary file unchanged: of a stream only the start
# was kept, so it says so instead of writing a truncated copy.
expect_status "clean -o of /dev/zero: exit 2" 2 timeout 60 "$DEDUP" clean /dev/zero -o zero.out
expect_grep "... saying why" "dedup: /dev/zero: a binary stream, of which only the start was read; cannot be read again" "$T/err"
[ ! -e zero.out/zero ] && ok "... and writing no truncated copy" || not_ok "... and writing no truncated copy" "$(ls -l zero.out)"

# A text stream is still read to its end, or to the limit.
expect_status "a text stream longer than --max-record: exit 2" 2 \
    sh -c 'head -c 3000000 /dev/zero | tr "\\0" a | "$0" scan --max-record 1 -' "$DEDUP"
expect_grep "... the limit in MB, named by its option" "dedup: -: longer than 1 MB (--max-record); not read" "$T/err"

# filter gives the limit in the same words as scan.
{ printf '{"text":"'; head -c 1200000 /dev/zero | tr '\0' a; printf '"}\n'; } >big.jsonl
expect_status "filter: a record longer than --max-record: exit 2" 2 "$DEDUP" filter --max-record 1 big.jsonl
expect_grep "... the limit in MB, named by its option, as scan says it" \
    "dedup: big.jsonl: record 1 is longer than 1 MB (--max-record)" "$T/err"

# -b out of range: the message says the range.
expect_status "-b 4294967298: a usage error (exit 2)" 2 "$DEDUP" scan -b 4294967298 big.jsonl
expect_grep "... naming the range" "dedup scan: --boilerplate-df: '4294967298' is not a number from 2 to 4294967295" "$T/err"
expect_status "-b 1: the same" 2 "$DEDUP" filter -b 1 big.jsonl
expect_grep "... naming the range" "dedup filter: --boilerplate-df: '1' is not a number from 2 to 4294967295" "$T/err"

finish
