#!/usr/bin/env bash
# Terminal escapes in file names and document text never reach the terminal
# through a text report or a message: every C0 control (ESC, BEL, ...), DEL
# and C1 control (U+0080 to U+009F, e.g. U+009B, which a terminal takes as
# CSI) is written as \xHH (issue 14, item 6).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

# controls FILE: prints the offsets of the bytes of FILE a terminal would act
# on: below 0x20 other than newline, 0x7F, and C2 80 to C2 9F (C1 controls).
controls() {
    od -An -v -tx1 "$1" | tr -s ' ' '\n' | grep -v '^$' | awk '
        { b = $1 }
        (b < "20" && b != "0a") || b == "7f" { print NR - 1 ": " b }
        prev == "c2" && b >= "80" && b <= "9f" { print NR - 2 ": c2 " b }
        { prev = b }'
}

# expect_no_controls NAME FILE
expect_no_controls() {
    local found
    found=$(controls "$2" | head -5)
    if [ -s "$2" ] && [ -z "$found" ]; then ok "$1"; else
        not_ok "$1" "bytes at: ${found:-none; the file is empty}"
    fi
}

TITLE=$'\e]0;pwned\a'   # sets the terminal's title
CLEAR=$'\e[2J'          # clears the screen
CSI=$'\xc2\x9b'         # U+009B, CSI in one character
DEL=$'\x7f'
SNIPPET="Subscribe ${TITLE}now ${CLEAR}for ${CSI}31m daily news"
mkdir docs
for i in 1 2 3; do
    printf 'Article %s opens with a sentence of its own about subject number %s.\n%s\nArticle %s ends with its own closing remark, number %s.\n' \
        "$i" "$i" "$SNIPPET" "$i" "$i" >"docs/a${i}${TITLE}${CSI}${DEL}.txt"
done
printf 'The same paragraph, said twice in one file with enough words to count.\nThe same paragraph, said twice in one file with enough words to count.\n' \
    >"docs/twice${CLEAR}.txt"

expect_status "scan -f text finds the boilerplate and the repeat (exit 1)" 1 "$DEDUP" scan -f text docs
cp "$T/out" scan.out
cp "$T/err" scan.err
expect_grep "... the snippet, its controls escaped" \
    'boilerplate in 3 documents: "Subscribe \x1B]0;pwned\x07now \x1B[2Jfor \xC2\x9B31m daily news"' scan.out
expect_grep "... and the path too (ESC, BEL, U+009B and DEL)" \
    'docs/a1\x1B]0;pwned\x07\xC2\x9B\x7F.txt:2: boilerplate' scan.out
expect_grep "... a repeat in a file named with ESC [2J" 'docs/twice\x1B[2J.txt:2: line 2 repeats line 1' scan.out
expect_no_controls "the text report holds no control byte but newlines" scan.out

expect_status "check -f text on a named file (exit 1)" 1 "$DEDUP" check "docs/a2${TITLE}${CSI}${DEL}.txt"
cp "$T/out" check.out
expect_grep "... path:line: lines escaped" 'docs/a2\x1B]0;pwned\x07\xC2\x9B\x7F.txt:2: boilerplate, in 3 documents (see docs/a1\x1B]0;pwned\x07\xC2\x9B\x7F.txt:2)' check.out
expect_no_controls "... and hold no control byte but newlines" check.out

# The diff of --dry-run holds the lines as they are (as diff -u prints them),
# but its header names the files escaped.
"$DEDUP" clean --in-place --dry-run docs >dry.out 2>dry.err
grep '^[-+][-+][-+] ' dry.out >dry.headers
expect_no_controls "clean --dry-run: the diff's headers name the files escaped" dry.headers

# Messages on stderr: a file that is not text, named with its controls.
printf 'bad \xff byte\n' >"docs/bad${TITLE}${CSI}.txt"
expect_status "a file that is not text: exit 2" 2 "$DEDUP" scan -f text docs
expect_grep "... named escaped on stderr" 'docs/bad\x1B]0;pwned\x07\xC2\x9B.txt:1: invalid UTF-8' "$T/err"
expect_no_controls "... stderr holds no control byte but newlines" "$T/err"

finish
