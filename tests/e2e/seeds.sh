#!/usr/bin/env bash
# The five seed articles: repeated paragraphs found, reported and cleaned.
. "$(dirname "$0")/lib.sh"
cd "$FIXTURES"
E=expected

"$DEDUP" scan --format text seeds >"$T/scan.txt" 2>"$T/err"
st=$?
[ $st = 1 ] && ok "scan exits 1 when it finds repeats" || not_ok "scan exits 1 when it finds repeats" "exit $st: $(cat "$T/err")"
echo "dedup scan: 5 documents, 0 clusters, 0 copies, 6 repeats, 0 boilerplate; clean -o would remove 9 paragraphs and 2864 of 21610 bytes" >"$T/want-err"
expect_same "scan writes its summary, and nothing else, to stderr" "$T/want-err" "$T/err"
expect_same "text report of the seeds" "$E/seeds-scan.txt" "$T/scan.txt"
"$DEDUP" scan -q --format text seeds >"$T/quiet.txt" 2>"$T/err"
[ -s "$T/err" ] && not_ok "scan -q writes nothing to stderr" "$(cat "$T/err")" || ok "scan -q writes nothing to stderr"
expect_same "... and the same report" "$E/seeds-scan.txt" "$T/quiet.txt"

"$DEDUP" scan --format jsonl seeds >"$T/scan.jsonl" 2>/dev/null
golden "$E/seeds-scan.jsonl" >"$T/want.jsonl"
expect_same "jsonl report of the seeds" "$T/want.jsonl" "$T/scan.jsonl"

# What the issue asks for, checked on the report itself.
expect_grep "002: the three-paragraph block is one repeat with both ranges" \
    '"doc":"seeds/002_0b6d1692144c6f75.txt","lines":[9,11],"of":{"doc":"seeds/002_0b6d1692144c6f75.txt","lines":[6,8]}' "$T/scan.jsonl"
if grep -q '"lines":\[4,4\]' "$T/scan.jsonl"; then not_ok "002: the repeated 0 counter is not reported"; else ok "002: the repeated 0 counter is not reported"; fi
expect_grep "001: line 13 repeats line 12" "seeds/001_0546f77b3de22a26.txt:13: line 13 repeats line 12" "$T/scan.txt"
expect_grep "001: line 20 repeats line 19" "seeds/001_0546f77b3de22a26.txt:20: line 20 repeats line 19" "$T/scan.txt"
expect_grep "001: the pull-quote (line 19) is found as contained in line 8" \
    '"doc":"seeds/001_0546f77b3de22a26.txt","lines":[19,19],"of":{"doc":"seeds/001_0546f77b3de22a26.txt","lines":[8,8]},"exact":false,"similarity":0.8929,"jaccard":0.5556,"containment":0.8929}' "$T/scan.jsonl"
expect_grep "004: the masthead is one block repeat" "seeds/004_e1f26045a6d7f475.txt:9: lines 9-11 repeat lines 5-7" "$T/scan.txt"
expect_grep "003 shares 'back to top' with 000" "seeds/003_9004b0353d6ebc11.txt:21: line 21 repeats seeds/000_bd77016b1ff7f277.txt:29" "$T/scan.txt"
[ "$(grep -c '^{"type":"repeat",' "$T/scan.jsonl")" = 6 ] && [ "$(wc -l <"$T/scan.jsonl")" = 8 ] \
    && ok "exactly six findings, between the header and the summary" \
    || not_ok "exactly six findings, between the header and the summary" "$(cat "$T/scan.jsonl")"

# The same paragraph in two documents becomes boilerplate at --boilerplate-df 2.
"$DEDUP" scan --format jsonl --boilerplate-df 2 seeds >"$T/bp.jsonl"
expect_grep "boilerplate record at --boilerplate-df 2" \
    '{"type":"boilerplate","text":"زر الذهاب إلى الأعلى","docs":2,"occurrences":[{"doc":"seeds/000_bd77016b1ff7f277.txt","line":29},{"doc":"seeds/003_9004b0353d6ebc11.txt","line":21}]}' "$T/bp.jsonl"

# clean writes exactly the expected files.
"$DEDUP" clean seeds -o "$T/clean" >"$T/out" 2>"$T/err"
st=$?
[ $st = 0 ] && ok "clean exits 0" || not_ok "clean exits 0" "exit $st: $(cat "$T/err")"
[ -s "$T/out" ] && not_ok "clean prints nothing" "$(cat "$T/out")" || ok "clean prints nothing"
for f in seeds/*.txt; do
    b=$(basename "$f")
    expect_same "clean: $b" "$E/seeds-clean/$b" "$T/clean/$b"
done
# The cleaned 002 is the article before its block was pasted again: lines 1-8.
head -n 8 seeds/002_0b6d1692144c6f75.txt >"$T/002-first8"
expect_same "clean: 002 reads as before the duplication" "$T/002-first8" "$T/clean/002_0b6d1692144c6f75.txt"
[ "$(ls "$T/clean" | wc -l)" = 5 ] && ok "clean writes one file per input" || not_ok "clean writes one file per input" "$(ls "$T/clean")"

# A cleaned corpus has nothing left to report.
"$DEDUP" scan --format text "$T/clean" >"$T/rescan" 2>&1
st=$?
[ $st = 0 ] && ok "scan of the cleaned seeds finds nothing" || not_ok "scan of the cleaned seeds finds nothing" "exit $st: $(cat "$T/rescan")"

# --unit block on the seeds: 000, 003 and 004 separate paragraphs by blank lines.
"$DEDUP" scan --format text --unit block seeds >"$T/block.txt"
expect_grep "--unit block: 004 masthead still one repeat" "seeds/004_e1f26045a6d7f475.txt:9: lines 9-11 repeat lines 5-7" "$T/block.txt"
expect_grep "--unit block: 003 'back to top' still found" "seeds/003_9004b0353d6ebc11.txt:21: line 21 repeats seeds/000_bd77016b1ff7f277.txt:29" "$T/block.txt"

# Deterministic: byte-identical output on a second run.
"$DEDUP" scan --format jsonl seeds >"$T/again.jsonl" 2>/dev/null
expect_same "second run is byte-identical" "$T/scan.jsonl" "$T/again.jsonl"
finish
