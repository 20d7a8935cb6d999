#!/usr/bin/env bash
# Bad input and edge cases: each is handled or is a one-line error and exit 2.
. "$(dirname "$0")/lib.sh"
S=$FIXTURES/seeds

# expect_error NAME PATTERN CMD...: exit 2 and a "dedup: " line matching PATTERN.
expect_error() {
    local name=$1 pat=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    local st=$?
    if [ $st = 2 ] && grep -qE -- "$pat" "$T/err"; then ok "$name"; else
        not_ok "$name" "exit $st; stderr: $(head -c 500 "$T/err")"
    fi
}

expect_error "missing path" '^dedup: /nonexistent/x\.txt: No such file or directory$' \
    "$DEDUP" scan -f text /nonexistent/x.txt

printf 'first line here is fine\nbad \xff byte on line two\n' >"$T/bad.txt"
expect_error "invalid UTF-8 names the file, line and byte, and leaves the file out" \
    "^dedup: $T/bad.txt:2: invalid UTF-8 at byte 28; left out of the comparison\$" "$DEDUP" scan -f text "$T/bad.txt"
expect_error "... with --on-error stop, the same error ends the run" \
    "^dedup: $T/bad.txt:2: invalid UTF-8 at byte 28\$" "$DEDUP" scan -f text --on-error stop "$T/bad.txt"
printf 'overlong \xc0\xaf slash\n' >"$T/overlong.txt"
expect_error "overlong UTF-8 form" "overlong.txt:1: invalid UTF-8 at byte 9" "$DEDUP" scan -f text "$T/overlong.txt"
printf 'surrogate \xed\xa0\x80 here\n' >"$T/surrogate.txt"
expect_error "UTF-8 surrogate" "surrogate.txt:1: invalid UTF-8 at byte 10" "$DEDUP" scan -f text "$T/surrogate.txt"
printf 'truncated at end \xd8' >"$T/trunc.txt"
expect_error "truncated UTF-8 sequence" "trunc.txt:1: invalid UTF-8 at byte 17" "$DEDUP" scan -f text "$T/trunc.txt"

# A NUL byte early on makes a binary file: skipped with a warning (see
# bad_input_classes.sh for one further on, an error).
printf 'text\nwith a NUL\0 byte\n' >"$T/nul.txt"
expect_status "NUL byte in the first 8000 bytes: a binary file, skipped" 0 "$DEDUP" scan -f text "$T/nul.txt"
expect_grep "... with a warning" "nul.txt: a binary file (a NUL byte in its first 8000 bytes), skipped" "$T/err"

: >"$T/empty.txt"
expect_status "empty file is fine" 0 "$DEDUP" scan -f text "$T/empty.txt"
[ -s "$T/out" ] && not_ok "empty file: no report" "$(cat "$T/out")" || ok "empty file: no report"

mkdir -p "$T/emptydir"
expect_status "empty directory is fine" 0 "$DEDUP" scan -f text "$T/emptydir"

# An error in one input does not hide the findings in the others.
"$DEDUP" scan -f text "$T/bad.txt" "$S" >"$T/out" 2>"$T/err"
st=$?
[ $st = 2 ] && ok "an error makes the exit status 2" || not_ok "an error makes the exit status 2" "exit $st"
grep -q 'lines 9-11 repeat lines 6-8' "$T/out" && ok "the other inputs are still reported" \
    || not_ok "the other inputs are still reported" "$(cat "$T/out")"

# A directory that cannot be read (as root, drop to nobody to test it).
mkdir -p "$T/locked/inner" && cp "$S/000_bd77016b1ff7f277.txt" "$T/locked/inner/" && chmod 000 "$T/locked/inner"
chmod 755 "$T" "$T/locked"
as_user=()
[ "$(id -u)" = 0 ] && as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
expect_error "unreadable directory" "^dedup: $T/locked/inner: Permission denied\$" \
    env ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 "${as_user[@]}" "$DEDUP" scan -f text "$T/locked"
chmod 755 "$T/locked/inner"

# A 50 MB line, twice: one repeat, found.
python3 -c '
import sys
w = "كلمة عربية طويلة وأخرى ".encode()
line = w * (50 * 1024 * 1024 // len(w))
sys.stdout.buffer.write(line + b"\n" + line + b"\n")' >"$T/long.txt"
"$DEDUP" scan -f text "$T/long.txt" >"$T/out" 2>"$T/err"
st=$?
[ $st = 1 ] && grep -q "long.txt:2: line 2 repeats line 1" "$T/out" && ok "a 50 MB line is handled" \
    || not_ok "a 50 MB line is handled" "exit $st: $(head -c 300 "$T/out") $(head -c 300 "$T/err")"
rm -f "$T/long.txt"

# Standard input.
"$DEDUP" scan -f text - <"$S/002_0b6d1692144c6f75.txt" >"$T/out"
expect_grep "stdin is read as -" "-:9: lines 9-11 repeat lines 6-8" "$T/out"

# Usage errors.
expect_error "unknown option" "unknown option '--bogus'" "$DEDUP" scan --bogus "$S"
expect_error "bad --unit" "--unit: 'para' is not line or block" "$DEDUP" scan --unit para "$S"
expect_error "bad --min-words" "--min-words: '0'" "$DEDUP" scan --min-words 0 "$S"
expect_error "bad --boilerplate-df" "--boilerplate-df: '1'" "$DEDUP" scan --boilerplate-df 1 "$S"
expect_error "bad --format" "--format: 'xml'" "$DEDUP" scan --format xml "$S"
expect_error "no path" "no PATH given" "$DEDUP" scan
expect_error "unknown command" "'frobnicate' is not a command" "$DEDUP" frobnicate
expect_error "clean without -o" "give -o DIR" "$DEDUP" clean "$S"
expect_error "clean of stdin" "cannot clean standard input" "$DEDUP" clean - -o "$T/x"
# Options that do not go together are usage errors as a bad option is: the
# command named, then where to read about it.
expect_error "clean with -o and --in-place: named as a usage error" \
    "^dedup clean: give -o DIR or --in-place, not both\$" "$DEDUP" clean -o "$T/x" --in-place "$S"
expect_error "... followed by where to read about it" "^Try 'dedup clean --help'\.\$" \
    "$DEDUP" clean -o "$T/x" --in-place "$S"
expect_error "index build without -o: the subcommand named" \
    "^dedup index build: -o DIR.ddx names the index to create\$" "$DEDUP" index build "$S"
expect_error "... and its help" "^Try 'dedup index build --help'\.\$" "$DEDUP" index build "$S"

# clean never writes into its inputs.
cp -r "$S" "$T/corpus"
expect_error "clean refuses an output inside an input directory" "is inside input directory" \
    "$DEDUP" clean "$T/corpus" -o "$T/corpus/cleaned"
[ -e "$T/corpus/cleaned" ] && not_ok "nothing created inside the input" || ok "nothing created inside the input"
expect_error "clean refuses an output holding an input directory" "contains input directory" \
    "$DEDUP" clean "$T/corpus" -o "$T"
expect_error "clean refuses to replace an input file" "would replace the input" \
    "$DEDUP" clean "$T/corpus/000_bd77016b1ff7f277.txt" -o "$T/corpus"
cp "$T/bad.txt" "$T/corpus/zz-bad.txt"
expect_error "clean --on-error stop writes nothing when an input is bad" "nothing written" \
    "$DEDUP" clean --on-error stop "$T/corpus" -o "$T/out-bad"
[ -e "$T/out-bad" ] && not_ok "no output folder after a failed clean" || ok "no output folder after a failed clean"
# (on_error.sh: without it, the bad file is copied through and the others cleaned.)
rm "$T/corpus/zz-bad.txt"
mkdir -p "$T/a" "$T/b" && echo "same name" >"$T/a/x.txt" && echo "other" >"$T/b/x.txt"
expect_error "clean refuses two inputs with one output name" "same output file x.txt" \
    "$DEDUP" clean "$T/a/x.txt" "$T/b/x.txt" -o "$T/collide"

# clean keeps the bytes of kept lines exactly: CRLF, BOM, trailing spaces.
printf '\xef\xbb\xbfA repeated heading line here\r\nkept line with trailing spaces   \r\n\r\nA repeated heading line here\r\nlast line, no newline' >"$T/crlf.txt"
"$DEDUP" clean "$T/crlf.txt" -o "$T/crlf-out"
printf '\xef\xbb\xbfA repeated heading line here\r\nkept line with trailing spaces   \r\n\r\nlast line, no newline' >"$T/crlf-want"
expect_same "clean keeps CRLF, BOM and trailing spaces" "$T/crlf-want" "$T/crlf-out/crlf.txt"
# The BOM stays when the first line itself is removed (cross-document repeat).
printf 'A repeated heading line here\n' >"$T/first.txt"
mkdir -p "$T/bom" && cp "$T/first.txt" "$T/bom/a.txt" && printf '\xef\xbb\xbfA repeated heading line here\nrest\n' >"$T/bom/b.txt"
"$DEDUP" clean "$T/bom" -o "$T/bom-out"
printf '\xef\xbb\xbfrest\n' >"$T/bom-want"
expect_same "clean keeps the BOM of a removed first line" "$T/bom-want" "$T/bom-out/b.txt"

# A directory argument is mirrored; nested folders are kept.
mkdir -p "$T/tree/x/y" && cp "$S/002_0b6d1692144c6f75.txt" "$T/tree/x/y/" && cp "$S/000_bd77016b1ff7f277.txt" "$T/tree/"
"$DEDUP" clean "$T/tree" -o "$T/tree-out"
[ -f "$T/tree-out/x/y/002_0b6d1692144c6f75.txt" ] && [ -f "$T/tree-out/000_bd77016b1ff7f277.txt" ] \
    && ok "clean mirrors the input tree" || not_ok "clean mirrors the input tree" "$(find "$T/tree-out")"
finish
