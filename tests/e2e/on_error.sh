#!/usr/bin/env bash
# Files that are not text (invalid UTF-8, a NUL byte past the first 8000
# bytes) in a folder of real articles: --on-error skip (the default of scan,
# clean, check and index) names each on stderr with its line, byte and why,
# leaves it out of the comparison, copies it through unchanged for clean -o,
# finishes the run, and exits 2; --on-error drop does the same but clean -o
# does not copy it; --on-error stop ends the run at the first one and writes
# nothing. check reports a named bad file as a finding (a baseline accepts
# it) and is not failed by a bad file it was not asked about.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
S=$FIXTURES/seeds

# ref: the five seed articles. data: the same, plus two bad files that sort
# first and hold seed articles' text: were they compared, the seeds would
# be their copies and be cleaned otherwise.
mkdir ref data
cp "$S"/*.txt ref/
cp "$S"/*.txt data/
{ cat "$S/002_0b6d1692144c6f75.txt"; printf 'Caf\xe9 de la Paix, a line in latin-1\n'; } >data/00-latin1.txt
{ cat "$S/000_bd77016b1ff7f277.txt" "$S/004_e1f26045a6d7f475.txt"; printf 'a stray \0 byte\n'; } >data/00-nul.txt
latin1_at=$(($(stat -c %s "$S/002_0b6d1692144c6f75.txt") + 3)) # the byte 0xE9 of "Caf\xe9"
latin1_line=$(($(wc -l <"$S/002_0b6d1692144c6f75.txt") + 1))
nul_at=$(($(stat -c %s "$S/000_bd77016b1ff7f277.txt") + $(stat -c %s "$S/004_e1f26045a6d7f475.txt") + 8))
nul_line=$(($(wc -l <"$S/000_bd77016b1ff7f277.txt") + $(wc -l <"$S/004_e1f26045a6d7f475.txt") + 1))
LATIN1_WHY="data/00-latin1.txt:$latin1_line: invalid UTF-8 at byte $latin1_at"
NUL_WHY="data/00-nul.txt:$nul_line: NUL byte at byte $nul_at (not a text file)"
[ "$nul_at" -gt 8000 ] && ok "the NUL byte lies past the binary probe" || not_ok "the NUL byte lies past the binary probe" "$nul_at"

# --- scan -----------------------------------------------------------------------------
"$DEDUP" scan -f text ref >ref.scan 2>/dev/null
expect_status "scan: a folder with two bad files completes, exit 2" 2 "$DEDUP" scan -f text data
expect_grep "... naming the latin-1 file, its line, byte and why" \
    "dedup: $LATIN1_WHY; left out of the comparison" "$T/err"
expect_grep "... and the file with a NUL byte" "dedup: $NUL_WHY; left out of the comparison" "$T/err"
sed 's#^data/#ref/#; s# data/# ref/#g' "$T/out" >data.scan
expect_same "... and reports the others as without them" ref.scan data.scan
expect_status "scan --on-error skip is the default" 2 "$DEDUP" scan -f text --on-error skip data
sed 's#^data/#ref/#; s# data/# ref/#g' "$T/out" >data.scan
expect_same "... (the same report)" ref.scan data.scan
expect_status "scan --on-error stop: exit 2" 2 "$DEDUP" scan -f text --on-error stop data
expect_grep "... at the first bad file, named" "dedup: data/00-latin1.txt:$latin1_line: invalid UTF-8 at byte $latin1_at" "$T/err"
[ ! -s "$T/out" ] && ok "... reporting nothing" || not_ok "... reporting nothing" "$(head -5 "$T/out")"
expect_status "scan --on-error drop: as skip, exit 2" 2 "$DEDUP" scan -f text --on-error drop data
expect_status "--on-error takes stop, skip or drop only" 2 "$DEDUP" scan --on-error ignore data
expect_grep "... and says so" "--on-error: 'ignore' is not stop, skip or drop" "$T/err"

# --- clean -o -------------------------------------------------------------------------
"$DEDUP" clean ref -o ref.out 2>/dev/null
expect_status "clean -o: the run completes, exit 2" 2 "$DEDUP" clean data -o data.out
expect_grep "... naming the bad file, and that it is copied unchanged" \
    "dedup: $LATIN1_WHY; left out of the comparison, copied unchanged" "$T/err"
expect_same "... the latin-1 file copied byte for byte" data/00-latin1.txt data.out/00-latin1.txt
expect_same "... the file with a NUL byte copied byte for byte" data/00-nul.txt data.out/00-nul.txt
for f in ref/*.txt; do
    expect_same "... $(basename "$f") cleaned as without the bad files" "ref.out/${f#ref/}" "data.out/${f#ref/}"
done
expect_status "clean -o --on-error drop: exit 2" 2 "$DEDUP" clean --on-error drop data -o drop.out
expect_grep "... saying the bad file is not copied" "dedup: $LATIN1_WHY; left out of the comparison, not copied" "$T/err"
if [ ! -e drop.out/00-latin1.txt ] && [ ! -e drop.out/00-nul.txt ] && diff -r ref.out drop.out >/dev/null; then
    ok "... the bad files not copied, the others cleaned as without them"
else
    not_ok "... the bad files not copied, the others cleaned as without them" "$(diff -r ref.out drop.out | head -5)"
fi
expect_status "clean -o --on-error stop: exit 2" 2 "$DEDUP" clean --on-error stop data -o stop.out
expect_grep "... naming the bad file" "dedup: data/00-latin1.txt:$latin1_line: invalid UTF-8 at byte $latin1_at" "$T/err"
[ ! -e stop.out ] && ok "... and writing nothing" || not_ok "... and writing nothing" "$(ls -R stop.out)"

# --- clean --in-place -----------------------------------------------------------------
cp -r ref ref.inplace && "$DEDUP" clean --in-place ref.inplace 2>/dev/null
cp -r data data.inplace
expect_status "clean --in-place: the run completes, exit 2" 2 "$DEDUP" clean --in-place data.inplace
expect_grep "... naming the bad file, left unchanged" \
    "dedup: data.inplace/00-latin1.txt:$latin1_line: invalid UTF-8 at byte $latin1_at; left out of the comparison, left unchanged" "$T/err"
expect_same "... the latin-1 file untouched" data/00-latin1.txt data.inplace/00-latin1.txt
expect_same "... the file with a NUL byte untouched" data/00-nul.txt data.inplace/00-nul.txt
for f in ref/*.txt; do
    expect_same "... $(basename "$f") cleaned as without the bad files" "ref.inplace/${f#ref/}" "data.inplace/${f#ref/}"
done
rm -rf data.inplace && cp -r data data.inplace
expect_status "clean --in-place --on-error stop: exit 2" 2 "$DEDUP" clean --in-place --on-error stop data.inplace
if diff -r data data.inplace >/dev/null; then ok "... and nothing changed"; else
    not_ok "... and nothing changed" "$(diff -r data data.inplace | head -5)"; fi

# --- check ----------------------------------------------------------------------------
cat >data/new.txt <<'TXT'
The harbour authority opened a new container terminal on Monday, doubling the port's capacity.
Officials said the expansion took four years and employed more than two thousand workers.
TXT
expect_status "check: a bad file in the folder, not named, does not fail the check (exit 0)" 0 \
    "$DEDUP" check data/new.txt
expect_grep "... it is named in a warning" "dedup: warning: $LATIN1_WHY; left out of the comparison" "$T/err"
[ ! -s "$T/out" ] && ok "... and nothing is reported" || not_ok "... and nothing is reported" "$(cat "$T/out")"
cp "$S/001_0546f77b3de22a26.txt" data/copy.txt
expect_status "check: a copy of a seed next to the bad files is still found (exit 1)" 1 "$DEDUP" check data/copy.txt
expect_grep "... as an exact duplicate" "data/copy.txt:1: exact duplicate of data/001_0546f77b3de22a26.txt" "$T/out"
rm data/copy.txt
expect_status "check: a named bad file is a finding (exit 1)" 1 "$DEDUP" check data/new.txt data/00-latin1.txt
expect_same "... reported as path:line: why" <(echo "$LATIN1_WHY; left out of the comparison") "$T/out"
expect_status "check --write-baseline records it" 0 "$DEDUP" check --write-baseline baseline data/00-latin1.txt
expect_grep "... as the file's key" "$(printf 'data/00-latin1.txt\tnot-text')" baseline
expect_status "check --baseline accepts it (exit 0)" 0 "$DEDUP" check --baseline baseline data/new.txt data/00-latin1.txt
expect_status "... but not the other bad file (exit 1)" 1 "$DEDUP" check --baseline baseline data/00-nul.txt
expect_grep "... which is reported" "$NUL_WHY; left out of the comparison" "$T/out"
expect_status "check --on-error stop: a bad file in the folder is an error (exit 2)" 2 \
    "$DEDUP" check --on-error stop data/new.txt
expect_grep "... naming it" "dedup: data/00-latin1.txt:$latin1_line: invalid UTF-8 at byte $latin1_at" "$T/err"
rm data/new.txt baseline

# --- index build and add --------------------------------------------------------------
expect_status "index build: the run completes, exit 2" 2 "$DEDUP" index build data -o data.ddx
expect_grep "... naming the bad file, not indexed" "dedup: $LATIN1_WHY; not indexed" "$T/err"
expect_grep "... the others are indexed" "5 documents signed, 0 unchanged; 5 in the index" "$T/err"
"$DEDUP" index info data.ddx >info 2>&1
expect_grep "... and the index holds them" "documents: 5" info
"$DEDUP" check --index data.ddx ref/002_0b6d1692144c6f75.txt >"$T/out" 2>&1
expect_grep "... and is usable" "ref/002_0b6d1692144c6f75.txt:1: exact duplicate of data/002_0b6d1692144c6f75.txt" "$T/out"
expect_status "index build --on-error stop: exit 2" 2 "$DEDUP" index build --on-error stop data -o stop.ddx
expect_grep "... naming the bad file" "dedup: data/00-latin1.txt:$latin1_line: invalid UTF-8 at byte $latin1_at" "$T/err"
expect_grep "... and nothing is indexed" "stop.ddx: nothing changed" "$T/err"
"$DEDUP" index build ref/000_bd77016b1ff7f277.txt -o add.ddx 2>/dev/null
expect_status "index add with a bad file: exit 2" 2 "$DEDUP" index add add.ddx data/00-nul.txt data/001_0546f77b3de22a26.txt
expect_grep "... naming it" "dedup: $NUL_WHY; not indexed" "$T/err"
"$DEDUP" index info add.ddx >info 2>&1
expect_grep "... and the good one is added" "documents: 2" info
expect_status "index add --on-error stop: exit 2" 2 "$DEDUP" index add --on-error stop add.ddx data/00-latin1.txt data/002_0b6d1692144c6f75.txt
"$DEDUP" index info add.ddx >info 2>&1
expect_grep "... and nothing is added" "documents: 2" info

# --- filter keeps its own default -----------------------------------------------------
printf '{"text":"fine record, long enough"}\n{"text": "unfinished\n' >bad.jsonl
expect_status "filter: --on-error stop stays its default (exit 2)" 2 "$DEDUP" filter bad.jsonl
finish
