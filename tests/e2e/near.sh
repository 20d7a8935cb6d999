#!/usr/bin/env bash
# Near-duplicate documents: the seed articles and their syndicated copies
# (fixtures/variants, made by tests/make_variants.py).
. "$(dirname "$0")/lib.sh"
cd "$FIXTURES"
E=expected
V=(variants/000_syndicated.txt variants/002_near_identical.txt variants/003_rewrapped.txt variants/004_truncated.txt)

"$DEDUP" scan -f text seeds "${V[@]}" >"$T/scan.txt" 2>"$T/err"
st=$?
[ $st = 1 ] && ok "scan exits 1 on near-duplicates" || not_ok "scan exits 1 on near-duplicates" "exit $st $(cat "$T/err")"
expect_same "text report: clusters, then paragraphs" "$E/near-scan.txt" "$T/scan.txt"
"$DEDUP" scan -f jsonl seeds "${V[@]}" >"$T/scan.jsonl"
golden "$E/near-scan.jsonl" >"$T/want.jsonl"
expect_same "jsonl report" "$T/want.jsonl" "$T/scan.jsonl"
"$DEDUP" scan -f tsv seeds "${V[@]}" >"$T/scan.tsv"
expect_same "tsv: doc and cluster for every document" "$E/near.tsv" "$T/scan.tsv"

# Each copy clusters with its original.
for pair in "000_syndicated 000_bd77016b1ff7f277" "003_rewrapped 003_9004b0353d6ebc11" \
    "004_truncated 004_e1f26045a6d7f475" "002_near_identical 002_0b6d1692144c6f75"; do
    set -- $pair
    expect_grep "$1 is a near-duplicate of its original" "variants/$1.txt: near-duplicate of seeds/$2.txt" "$T/scan.txt"
done
# The syndicated copy is found through containment, the truncated one too.
expect_grep "004_truncated: jaccard below 0.8, containment 1" '{"doc":"variants/004_truncated.txt","jaccard":0.5553,"containment":1.0}' "$T/scan.jsonl"

# --verify exact reports the exact similarity of the shingle sets that
# shingle --shingles prints: count them with sort and comm.
"$SHINGLE" --shingles seeds/000_bd77016b1ff7f277.txt | sort -u >"$T/a.sh"
"$SHINGLE" --shingles variants/000_syndicated.txt | sort -u >"$T/b.sh"
inter=$(comm -12 "$T/a.sh" "$T/b.sh" | wc -l)
na=$(wc -l <"$T/a.sh")
nb=$(wc -l <"$T/b.sh")
want=$(python3 -c "i,a,b=$inter,$na,$nb; print('\"jaccard\":%s,\"containment\":%s' % (round(i/(a+b-i),4), round(i/min(a,b),4)))")
expect_grep "exact verification agrees with shingle --shingles ($inter shared of $na and $nb)" \
    "{\"doc\":\"variants/000_syndicated.txt\",$want}" "$T/scan.jsonl"

# --verify estimate: the same clusters, similarities estimated from signatures.
"$DEDUP" scan -f jsonl --verify estimate seeds "${V[@]}" >"$T/estimate.jsonl"
golden "$E/near-scan-estimate.jsonl" >"$T/want.jsonl"
expect_same "--verify estimate report" "$T/want.jsonl" "$T/estimate.jsonl"
diff <(grep -o '"doc":"[^"]*"' "$T/scan.jsonl") <(grep -o '"doc":"[^"]*"' "$T/estimate.jsonl") >/dev/null \
    && ok "estimate and exact verification give the same clusters here" \
    || not_ok "estimate and exact verification give the same clusters here"

# The five seeds are different articles: never clustered together.
for t in 0.8 0.5; do
    "$DEDUP" scan -f jsonl --threshold "$t" seeds >"$T/seeds.jsonl"
    if grep -q '"type":"cluster"' "$T/seeds.jsonl"; then
        not_ok "no two seeds clustered at --threshold $t" "$(grep cluster "$T/seeds.jsonl")"
    else ok "no two seeds clustered at --threshold $t"; fi
done
"$DEDUP" scan -f tsv --threshold 0.5 seeds | cut -f2 | sort -u | wc -l >"$T/n"
[ "$(cat "$T/n")" = 5 ] && ok "five seeds, five clusters in tsv" || not_ok "five seeds, five clusters in tsv" "$(cat "$T/n")"

# SimHash finds the near-identical copy, and only pairs within --hamming bits.
"$DEDUP" scan -f jsonl --method simhash seeds "${V[@]}" >"$T/sim.jsonl"
expect_grep "simhash: near-identical copy clustered" \
    '{"type":"cluster","id":3,"representative":"seeds/002_0b6d1692144c6f75.txt","members":[{"doc":"seeds/002_0b6d1692144c6f75.txt","hamming":0,"similarity":1.0},{"doc":"variants/002_near_identical.txt","hamming":2,"similarity":0.9688}]}' "$T/sim.jsonl"
[ "$(grep -c '"type":"cluster"' "$T/sim.jsonl")" = 1 ] && ok "simhash: the edited copies (6+ bits away) are not clustered at --hamming 3" \
    || not_ok "simhash: the edited copies (6+ bits away) are not clustered at --hamming 3" "$(grep cluster "$T/sim.jsonl")"
"$DEDUP" scan -f jsonl --method simhash --hamming 0 seeds variants/002_near_identical.txt >"$T/sim0.jsonl"
grep -q '"type":"cluster"' "$T/sim0.jsonl" && not_ok "simhash --hamming 0 needs identical fingerprints" || ok "simhash --hamming 0 needs identical fingerprints"

# --containment 0: the rule is Jaccard alone, so the truncated copy (0.59) is out.
"$DEDUP" scan -f text --containment 0 seeds variants/004_truncated.txt >"$T/noc.txt"
grep -q near-duplicate "$T/noc.txt" && not_ok "--containment 0 turns containment off" "$(cat "$T/noc.txt")" \
    || ok "--containment 0 turns containment off"

# --keep: which copy represents the cluster.
"$DEDUP" scan -f text variants/004_truncated.txt seeds/004_e1f26045a6d7f475.txt >"$T/first.txt"
expect_grep "--keep first: the first named is the representative" "seeds/004_e1f26045a6d7f475.txt: near-duplicate of variants/004_truncated.txt" "$T/first.txt"
"$DEDUP" scan -f text --keep longest variants/004_truncated.txt seeds/004_e1f26045a6d7f475.txt >"$T/longest.txt"
expect_grep "--keep longest: the longer is the representative" "variants/004_truncated.txt: near-duplicate of seeds/004_e1f26045a6d7f475.txt" "$T/longest.txt"

# Exact duplicates cluster first, marked exact.
cp seeds/003_9004b0353d6ebc11.txt "$T/copy-a.txt"
printf '\n\n' >>"$T/copy-a.txt"
"$DEDUP" scan -f jsonl seeds/003_9004b0353d6ebc11.txt "$T/copy-a.txt" >"$T/exact.jsonl"
expect_grep "exact duplicate (extra blank lines) is marked exact" '"jaccard":1.0,"containment":1.0,"exact":true}' "$T/exact.jsonl"

# clean keeps each cluster's representative and drops the rest.
"$DEDUP" clean seeds "${V[@]}" -o "$T/clean" 2>"$T/err"
st=$?
[ $st = 0 ] && ok "clean exits 0" || not_ok "clean exits 0" "exit $st $(cat "$T/err")"
(cd "$T/clean" && ls) >"$T/ls"
printf '%s\n' 000_bd77016b1ff7f277.txt 001_0546f77b3de22a26.txt 002_0b6d1692144c6f75.txt 003_9004b0353d6ebc11.txt 004_e1f26045a6d7f475.txt >"$T/want-ls"
expect_same "clean writes the representatives only" "$T/want-ls" "$T/ls"
for f in seeds/*.txt; do
    expect_same "clean with copies present: $(basename "$f") as without" "$E/seeds-clean/$(basename "$f")" "$T/clean/$(basename "$f")"
done

# A paragraph of one article, lightly edited, inside another article: a
# near-repeat across documents, removed from the later one by clean.
mkdir -p "$T/para"
cp seeds/000_bd77016b1ff7f277.txt "$T/para/a.txt"
{
    sed -n '1,9p' seeds/003_9004b0353d6ebc11.txt
    sed -n '13p' seeds/000_bd77016b1ff7f277.txt | sed 's/^[^ ]* //; s/$/ وفق ما أعلنت الوزارة./'
    sed -n '10,18p' seeds/003_9004b0353d6ebc11.txt
} >"$T/para/b.txt"
(cd "$T/para" && "$DEDUP" scan -f jsonl a.txt b.txt) >"$T/para.jsonl"
expect_grep "an edited paragraph from another document is a near-repeat" \
    '{"type":"repeat","doc":"b.txt","lines":[10,10],"of":{"doc":"a.txt","lines":[13,13]},"exact":false' "$T/para.jsonl"
grep -q '"type":"cluster"' "$T/para.jsonl" && not_ok "the two articles are not near-duplicates" || ok "the two articles are not near-duplicates"
"$DEDUP" clean "$T/para/a.txt" "$T/para/b.txt" -o "$T/para-out"
sed '10d' "$T/para/b.txt" >"$T/para-want"
expect_same "clean removes the near-repeat from the later document" "$T/para-want" "$T/para-out/b.txt"
cmp -s "$T/para/a.txt" "$T/para-out/a.txt" && ok "and keeps the first" || not_ok "and keeps the first"

# --explain-params prints the bands and probabilities and exits.
"$DEDUP" scan --explain-params >"$T/explain" 2>&1
expect_same "--explain-params (defaults)" "$E/explain-params.txt" "$T/explain"
"$DEDUP" scan --explain-params --containment 0 >"$T/explain0" 2>&1
expect_same "--explain-params --containment 0" "$E/explain-params-no-containment.txt" "$T/explain0"

"$DEDUP" scan --explain-params --size-ratio 8 >"$T/explain8" 2>&1
expect_same "--explain-params --size-ratio 8" "$E/explain-params-size-ratio-8.txt" "$T/explain8"
"$DEDUP" scan --explain-params --size-ratio 40 >"$T/explain40" 2>"$T/err40"
[ $? = 0 ] && grep -q "no bands reach --recall 0.99 at the candidate target jaccard 0.020" "$T/err40" \
    && ok "--size-ratio 40 warns that no bands reach the recall" \
    || not_ok "--size-ratio 40 warns that no bands reach the recall" "$(cat "$T/err40")"

# A short text inside one 20 times its size (the first 8 lines of 000, 74
# shingles, in all five seeds, 1,489): Jaccard 0.05 and containment 1.00,
# below the default candidate target (0.296). 64 bands of 2 rows make such a
# pair a candidate by chance only (probability 1 - (1 - 0.05^2)^64, about
# 0.15); with the default seed's signatures it is not one;
# --size-ratio 8 (128 bands of 1 row) finds it. The short text's lines are
# joined into one, so that no paragraph of it is a paragraph of the long one
# (a shared paragraph would make the pair a candidate: see the round-up
# below).
mkdir -p "$T/ratio"
cat "$FIXTURES"/seeds/*.txt >"$T/ratio/all.txt"
head -n 8 "$FIXTURES"/seeds/000_*.txt | tr '\n' ' ' >"$T/ratio/part.txt"
echo >>"$T/ratio/part.txt"
(cd "$T/ratio" && "$DEDUP" scan -f text all.txt part.txt) >"$T/ratio/default.out" 2>&1
if grep -q "near-duplicate" "$T/ratio/default.out"; then
    not_ok "default bands miss a pair 20 times apart in size" "$(cat "$T/ratio/default.out")"
else
    ok "default bands miss a pair 20 times apart in size"
fi
(cd "$T/ratio" && "$DEDUP" scan -f text --size-ratio 8 all.txt part.txt) >"$T/ratio/r8.out" 2>&1
grep -qx "part.txt: near-duplicate of all.txt (jaccard 0.05, containment 1.00)" "$T/ratio/r8.out" \
    && ok "--size-ratio 8 finds it" || not_ok "--size-ratio 8 finds it" "$(cat "$T/ratio/r8.out")"

# Options out of range name the option.
expect_opt() {
    "$DEDUP" scan "$@" seeds >"$T/out" 2>"$T/err"
    local st=$?
    if [ $st = 2 ] && grep -q -- "$1" "$T/err"; then ok "rejects $*"; else not_ok "rejects $*" "exit $st: $(cat "$T/err")"; fi
}
expect_opt --threshold 1.5
expect_opt --threshold 0
expect_opt --num-perm 0
expect_opt --num-perm 5000
expect_opt --containment -0.1
expect_opt --recall 1
expect_opt --size-ratio 0.5
expect_opt --ngram 0
expect_opt --method lsh
expect_opt --keep last
expect_opt --hamming 64
expect_opt --verify maybe
"$DEDUP" scan --bands 100 --rows 2 seeds >"$T/out" 2>"$T/err"
[ $? = 2 ] && grep -q -- "--bands 100 x --rows 2 = 200 is more than --num-perm 128" "$T/err" \
    && ok "rejects bands x rows above num-perm" || not_ok "rejects bands x rows above num-perm" "$(cat "$T/err")"

# Edge cases: too short for a shingle, empty, one document, many identical.
mkdir -p "$T/edge"
printf 'three words only\n' >"$T/edge/short1.txt"
printf 'three words only\n' >"$T/edge/short2.txt"
printf 'two words\n' >"$T/edge/short3.txt"
: >"$T/edge/empty1.txt"
: >"$T/edge/empty2.txt"
"$DEDUP" scan -f jsonl "$T/edge" >"$T/edge.jsonl" 2>"$T/err"
st=$?
[ $st = 1 ] && ok "short and empty documents: exit 1 (the two short ones are copies)" || not_ok "short and empty documents: exit 1" "exit $st $(cat "$T/err")"
[ "$(grep -c '"type":"cluster"' "$T/edge.jsonl")" = 1 ] && grep -q '"doc":"'"$T"'/edge/short2.txt","jaccard":1.0,"containment":1.0,"exact":true' "$T/edge.jsonl" \
    && ok "identical short documents cluster; empty ones do not" || not_ok "identical short documents cluster; empty ones do not" "$(cat "$T/edge.jsonl")"
expect_status "a corpus of one document" 0 "$DEDUP" scan -f text seeds/000_bd77016b1ff7f277.txt
mkdir -p "$T/many"
for i in $(seq -w 1 10000); do printf 'x%s\n' "$i"; done | (cd "$T/many" && xargs -n 500 sh -c 'for f; do cp "'"$FIXTURES"'/seeds/003_9004b0353d6ebc11.txt" "$f.txt"; done' sh)
"$DEDUP" scan -f tsv "$T/many" >"$T/many.tsv" 2>"$T/err"
st=$?
[ $st = 1 ] && [ "$(wc -l <"$T/many.tsv")" = 10000 ] && [ "$(cut -f2 "$T/many.tsv" | sort -u)" = 1 ] \
    && ok "ten thousand identical documents: one cluster" || not_ok "ten thousand identical documents: one cluster" "exit $st $(head -3 "$T/many.tsv") $(head -c 300 "$T/err")"
rm -rf "$T/many"
python3 -c '
import sys
paras = open(sys.argv[1], encoding="utf-8").read().split("\n")
out = []
i = size = 0
while size < 50 * 1024 * 1024:
    out.append("%d %s" % (i, paras[i % len(paras)]))
    size += len(out[-1].encode()) + 1
    i += 1
open(sys.argv[2], "w", encoding="utf-8").write("\n".join(out) + "\n")' seeds/002_0b6d1692144c6f75.txt "$T/big.txt"
cp "$T/big.txt" "$T/big-copy.txt"
"$DEDUP" scan -f text --no-near "$T/big.txt" >/dev/null 2>"$T/err"
[ $? -le 1 ] && ok "a 50 MB document is handled" || not_ok "a 50 MB document is handled" "$(cat "$T/err")"
"$DEDUP" scan -f jsonl "$T/big.txt" "$T/big-copy.txt" 2>"$T/err" | grep '"type":"cluster"' >"$T/big.jsonl"
grep -q '"exact":true' "$T/big.jsonl" && ok "two 50 MB documents: exact duplicates" || not_ok "two 50 MB documents: exact duplicates" "$(cat "$T/err")"
rm -f "$T/big.txt" "$T/big-copy.txt"

# A short story printed whole inside a round-up 19 times its size (Jaccard
# 0.06: the LSH bands alone miss the pair). The paragraph they share makes
# them a candidate pair. Round-up first: the story joins its cluster.
# Story first: the round-up, more than --size-ratio times larger, does not
# join the story's cluster (clean would drop its other 1,300 words); its copy
# of the story's paragraph is removed as a repeat instead. --keep longest
# puts the round-up first.
mkdir -p "$T/story-first" "$T/roundup-first"
sed -n 22p seeds/004_e1f26045a6d7f475.txt >"$T/story-first/a_story.txt"
cat seeds/00[0-3]*.txt "$T/story-first/a_story.txt" >"$T/story-first/b_roundup.txt"
cp "$T/story-first/b_roundup.txt" "$T/roundup-first/a_roundup.txt"
cp "$T/story-first/a_story.txt" "$T/roundup-first/b_story.txt"
(cd "$T/roundup-first" && "$DEDUP" scan -f text .) >"$T/rf.txt" 2>&1
expect_grep "a story inside a round-up 19 times its size joins the round-up's cluster" \
    "./b_story.txt: near-duplicate of ./a_roundup.txt (jaccard 0.06, containment 0.99)" "$T/rf.txt"
(cd "$T/story-first" && "$DEDUP" scan -f text .) >"$T/sf.txt" 2>&1
if grep -q "near-duplicate of" "$T/sf.txt"; then
    not_ok "a round-up 19 times larger than the story before it stays out of its cluster" "$(cat "$T/sf.txt")"
else
    ok "a round-up 19 times larger than the story before it stays out of its cluster"
fi
expect_grep "... and its copy of the story's paragraph is a repeat" \
    "./b_roundup.txt:80: line 80 is a near-repeat of ./a_story.txt:1" "$T/sf.txt"
(cd "$T/story-first" && "$DEDUP" clean -o "$T/sf-clean" .) 2>"$T/err"
if [ -s "$T/sf-clean/a_story.txt" ] && [ "$(wc -l <"$T/sf-clean/b_roundup.txt")" -gt 70 ] &&
    ! grep -qFf "$T/story-first/a_story.txt" "$T/sf-clean/b_roundup.txt"; then
    ok "clean keeps both, the round-up without the story's paragraph"
else
    not_ok "clean keeps both, the round-up without the story's paragraph" "$(ls -l "$T/sf-clean") $(cat "$T/err")"
fi
(cd "$T/story-first" && "$DEDUP" scan -f text --keep longest .) >"$T/sfl.txt" 2>&1
expect_grep "--keep longest: the story joins the round-up's cluster" \
    "./a_story.txt: near-duplicate of ./b_roundup.txt (jaccard 0.06, containment 0.99)" "$T/sfl.txt"

# Deterministic.
"$DEDUP" scan -f jsonl seeds "${V[@]}" >"$T/again.jsonl"
expect_same "second run byte-identical" "$T/scan.jsonl" "$T/again.jsonl"
finish
