#!/usr/bin/env bash
# \u0000 is valid JSON (common in crawls): filter accepts it in any string of
# a record (issue 14, item 7). In the text it is a character like another
# control: a separator between words, so "a\u0000b" and "a b" are the same
# words. Kept records are written back byte for byte; a cleaned text keeps
# its NUL (as \u0000); an id holding one is written back as it was.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

P1='The minister opened the new hospital in the northern district on Sunday morning'
P2='Doctors said the wards would take their first patients before the end of the month'
P3='A different story about the harvest, the rain and the price of wheat this season'
# 1: a NUL between two words of the text, another in a field that is not the text
# 2: the same words with a space: an exact duplicate of 1
# 3: another story whose id holds a NUL, and whose text holds a NUL and a
#    paragraph said twice: the repeat is removed, the NUL stays
# 4: an exact copy of 3, which --annotate says it copies by its id
cat >in.jsonl <<EOF2
{"id":"one","text":"${P1% the*}\u0000the northern district on Sunday morning\n${P2}","meta":{"note":"x\u0000y"}}
{"id":"two","text":"${P1}\n${P2}"}
{"id":"th\u0000ree","text":"${P3}\u0000\n${P3}\u0000\nA closing line of its own with a few more words"}
{"id":"four","text":"${P3}\u0000\n${P3}\u0000\nA closing line of its own with a few more words"}
EOF2

expect_status "filter accepts \\u0000 in the text, in another field and in the id (exit 0)" 0 \
    "$DEDUP" filter --field text in.jsonl
cp "$T/out" out.jsonl
[ ! -s "$T/err" ] && ok "... quietly" || not_ok "... quietly" "$(cat "$T/err")"
sed -n 1p in.jsonl >want1
sed -n 1p out.jsonl >got1
expect_same "... record 1 is kept byte for byte, its \\u0000 as in the input" want1 got1
if grep -q '"id":"one"' out.jsonl && ! grep -q '"id":"two"' out.jsonl; then
    ok "... record 2 is an exact duplicate of 1 (the NUL separates words like a space)"
else
    not_ok "... record 2 is an exact duplicate of 1 (the NUL separates words like a space)" "$(cat out.jsonl)"
fi
printf '%s\n' "{\"id\":\"th\\u0000ree\",\"text\":\"${P3}\\u0000\\nA closing line of its own with a few more words\"}" >want3
grep -F '"id":"th\u0000ree"' out.jsonl >got3
expect_same "... record 3 loses its repeated line and keeps its NUL" want3 got3

expect_status "--annotate --id-field id with \\u0000 in an id (exit 0)" 0 \
    "$DEDUP" filter --annotate --id-field id in.jsonl
expect_grep "... the duplicate names the record it copies" '"duplicate_of":"one"' "$T/out"
expect_grep "... record 3 is kept and annotated" '"id":"th\u0000ree"' "$T/out"
expect_grep "... and record 4 is its copy, named by the id with its \\u0000" \
    '"duplicate_of":"th\u0000ree"' "$T/out"

# --lines: a NUL byte inside a line is a separator there too.
printf '%s\0%s\n%s %s\n' "$P1" "$P2" "$P1" "$P2" >lines.txt
expect_status "--lines: a NUL byte inside a line" 0 "$DEDUP" filter --lines lines.txt
[ "$(wc -l <"$T/out")" = 1 ] && ok "... the line with a space instead is its exact duplicate" \
    || not_ok "... the line with a space instead is its exact duplicate" "$(od -c "$T/out" | head)"

# A key holding \u0000 cannot be represented by jansson: a malformed record,
# named as such, never a message about a library flag.
printf '{"te\\u0000xt":"x","text":"%s"}\n' "$P1" >key.jsonl
expect_status "a key holding \\u0000 is a malformed record (exit 2)" 2 "$DEDUP" filter key.jsonl
if grep -q 'JSON_' "$T/err"; then not_ok "... the message names no jansson flag" "$(cat "$T/err")"; else
    ok "... the message names no jansson flag"; fi

finish
