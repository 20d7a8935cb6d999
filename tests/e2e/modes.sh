#!/usr/bin/env bash
# One join rule in every mode. The same documents go through scan, clean,
# check and filter, and through the index paths (filter --index, check
# --index, scan --index, with an index of the earlier documents): each must
# call the same documents copies. Above all, a document that holds an indexed
# article and two others (3.45 times its size) is not a copy of it: its text
# is kept, and only the paragraphs it shares are repeats (the size-ratio guard
# of --size-ratio, which the index paths once lacked).
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 2
S=$FIXTURES/seeds
V=$FIXTURES/variants

# to_jsonl FILE...: one record per file, {"id": its name without .txt, "text"}.
to_jsonl() {
    python3 -c '
import json, os, sys
for path in sys.argv[1:]:
    text = open(path, encoding="utf-8").read()
    print(json.dumps({"id": os.path.basename(path)[:-4], "text": text}, ensure_ascii=False))' "$@"
}

# filter_copies: the ids of the records that filter --annotate left out.
filter_copies() {
    python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    if not r["dedup"]["kept"]:
        print(r["id"])' | sort
}

# report_copies: the documents a text report (scan, check) calls
# near-duplicates or exact duplicates, by name without folder and .txt.
report_copies() {
    sed -n 's,^\([^:]*/\)\{0\,1\}\([0-9]*\)\.txt:\(1:\)\{0\,1\} \(near-duplicate\|exact duplicate\) of .*,\2,p' |
        sort -u
}

# ---- 1. The reproduction: one article indexed, a round-up holding it.
mkdir one
cp "$S"/000_*.txt one/000.txt
"$DEDUP" index build one -o one.ddx 2>/dev/null
mkdir new
cat "$S"/000_*.txt "$S"/001_*.txt "$S"/002_*.txt >new/roundup.txt
to_jsonl new/roundup.txt >roundup.jsonl

"$DEDUP" filter --index one.ddx --annotate --id-field id roundup.jsonl >ann.jsonl 2>err
filter_copies <ann.jsonl >copies
[ -s ann.jsonl ] && [ ! -s copies ] && ok "filter --index keeps a record 3.45 times larger than the indexed article it holds" ||
    not_ok "filter --index keeps a record 3.45 times larger than the indexed article it holds" \
        "left out: $(cat copies) $(cat err)"

# Its text: what plain filter keeps of it after the article as a record
# (the two other articles whole, their own repeats removed), with the
# article's lines removed as repeats of the indexed document.
"$DEDUP" filter --index one.ddx roundup.jsonl >index.jsonl 2>err
st=$?
to_jsonl one/000.txt | cat - roundup.jsonl | "$DEDUP" filter | sed -n 2p >plain.jsonl
python3 - index.jsonl plain.jsonl one/000.txt >text.diff <<'EOF'
import json, sys
article = set(open(sys.argv[3], encoding="utf-8").read().split("\n"))
def others(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    if not lines[0]:
        return []
    return [l for l in json.loads(lines[0])["text"].split("\n") if l not in article]
got, want = others(sys.argv[1]), others(sys.argv[2])
words = lambda lines: sum(len(l.split()) for l in lines)
if got != want or words(want) < 400:
    print("%d lines (%d words) beside the article's, want %d (%d words) as plain filter keeps them"
          % (len(got), words(got), len(want), words(want)))
EOF
[ $st = 0 ] && [ ! -s text.diff ] && ok "and the text of the two other articles in it, as plain filter keeps it" ||
    not_ok "and the text of the two other articles in it, as plain filter keeps it" "exit $st: $(cat text.diff err)"

"$DEDUP" check --index one.ddx new/roundup.txt >out 2>&1
if grep -q "duplicate of" out; then
    not_ok "check --index: the round-up is not a near-duplicate of the article it holds" "$(cat out)"
else
    ok "check --index: the round-up is not a near-duplicate of the article it holds"
fi
expect_grep "check --index: the article's paragraphs in it are repeats of the indexed one" \
    "new/roundup.txt:3: line 3 repeats one/000.txt:3 (12 words) (see one/000.txt:3)" out
"$DEDUP" scan -f text --index one.ddx new >out 2>&1
if grep -q "duplicate of" out; then
    not_ok "scan --index: the round-up is not a near-duplicate either" "$(cat out)"
else
    ok "scan --index: the round-up is not a near-duplicate either"
fi

# ---- 2. Every mode calls the same documents copies.
# In sorted (input) order: the earlier documents 01-03, two seeds and a
# round-up of the three others; then copies of them (variants, a seed inside
# the round-up: a smaller document joins a larger one at any ratio), the
# round-up of 1 above (01 inside a document 3.45 times its size: no copy)
# and an exact copy of it.
mkdir all
cp "$S"/000_*.txt all/01.txt
cp "$S"/001_*.txt all/02.txt
cat "$S"/002_*.txt "$S"/003_*.txt "$S"/004_*.txt >all/03.txt
cp "$V"/000_syndicated.txt all/04.txt
cp "$S"/003_*.txt all/05.txt
cp "$V"/002_near_identical.txt all/06.txt
cp "$V"/004_truncated.txt all/07.txt
cp new/roundup.txt all/08.txt
cp new/roundup.txt all/09.txt
cp "$V"/003_rewrapped.txt all/10.txt
mkdir earlier later
cp all/0[1-3].txt earlier/
cp all/0[4-9].txt all/10.txt later/
"$DEDUP" index build earlier -o earlier.ddx 2>/dev/null
to_jsonl all/*.txt >all.jsonl
to_jsonl later/*.txt >later.jsonl
printf '%s\n' 04 05 06 07 09 10 >want

"$DEDUP" scan -f text all | report_copies >scan.copies
"$DEDUP" clean all -o cleaned 2>/dev/null
for f in all/*.txt; do [ -e "cleaned/${f#all/}" ] || basename "$f" .txt; done >clean.copies
(cd all && "$DEDUP" check 0[4-9].txt 10.txt) | report_copies >check.copies
"$DEDUP" filter --annotate --id-field id all.jsonl | filter_copies >filter.copies
"$DEDUP" filter --index earlier.ddx --annotate --id-field id later.jsonl | filter_copies >filter-index.copies
"$DEDUP" check --index earlier.ddx later/*.txt | report_copies >check-index.copies
"$DEDUP" scan -f text --index earlier.ddx later | report_copies >scan-index.copies
# The index paths decide on signature estimates where scan has exact sets
# (see "The index" in the man page); none of these pairs is near enough to
# the thresholds for that to change a decision.
for mode in scan clean check filter filter-index check-index scan-index; do
    expect_same "$mode calls the same documents copies" want "$mode.copies"
done

# ---- 3. filter and scan on a long stream: copies far from their originals.
# 5,600 generated records (random words of Arabic letters, so the exact
# similarity below, over whitespace words, is what dedup computes); 260 of
# the first 1,000 are originals, and their copies come 4,200 records or more
# after them, beyond any window of recent records:
#   - 120 edited records of the same size, half of them just above the
#     containment threshold (0.81-0.86), half just below it (0.74-0.79):
#     only exact sets decide those (signature estimates err by about 0.03
#     either way);
#   - 70 records of 5 lines of a record 12 times their size: contained,
#     so copies, found through their shared lines (their Jaccard, about
#     0.08, makes them LSH candidates by chance only);
#   - 70 records 12 times the size of an earlier record they contain:
#     not copies (the size-ratio guard).
# The copies are those the rule calls copies on exact shingle sets, computed
# here; scan and filter must both call exactly those.
python3 - gen <<'EOF'
import os, random, sys
rng = random.Random(15)
letters = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
vocab = sorted({"".join(rng.choice(letters) for _ in range(rng.randint(3, 7))) for _ in range(40000)})
word = lambda: rng.choice(vocab)
line = lambda: [word() for _ in range(rng.randint(12, 20))]
def record(nwords):
    lines = []
    while sum(map(len, lines)) < nwords:
        lines.append(line())
    return lines
def shingles(lines):
    w = [x for l in lines for x in l]
    return {tuple(w[i:i + 5]) for i in range(len(w) - 4)}
def joins(member, rep):
    a, b = shingles(member), shingles(rep)
    inter = len(a & b)
    j, c = inter / len(a | b), inter / min(len(a), len(b))
    return j >= 0.8 or (c >= 0.8 and min(len(a), len(b)) >= 50 and len(a) <= 2.5 * len(b))
def edited(lines, lo, hi):  # a copy with words replaced: containment in [lo, hi]
    for _ in range(1000):
        copy = [list(l) for l in lines]
        for _ in range(rng.randint(4, 16)):
            l = rng.choice(copy)
            l[rng.randrange(len(l))] = word()
        a, b = shingles(copy), shingles(lines)
        if lo <= len(a & b) / min(len(a), len(b)) <= hi:
            return copy
    sys.exit("no edit in range")
N = 5600
docs = [None] * N
originals = rng.sample(range(1000), 260)
later = sorted(rng.sample(range(5200, N), 260))  # every one 4,200 or more after any original
for n, (o, at) in enumerate(zip(originals, later)):
    if n < 120:
        docs[o] = record(150)
        docs[at] = edited(docs[o], 0.81, 0.86) if n % 2 else edited(docs[o], 0.74, 0.79)
    elif n < 190:
        docs[o] = record(1000)
        first = rng.randrange(len(docs[o]) - 5)
        docs[at] = [list(l) for l in docs[o][first:first + 5]]
    else:
        docs[o] = record(85)
        docs[at] = record(450) + [list(l) for l in docs[o]] + record(450)
for i in range(N):
    if docs[i] is None:
        docs[i] = record(rng.randint(60, 300))
os.makedirs(sys.argv[1])
for i in range(N):
    with open(os.path.join(sys.argv[1], "%05d.txt" % i), "w", encoding="utf-8") as f:
        f.write("".join(" ".join(l) + "\n" for l in docs[i]))
want = sorted("%05d" % at for o, at in zip(originals, later) if joins(docs[at], docs[o]))
with open("gen.want", "w") as f:
    f.write("".join(w + "\n" for w in want))
EOF
to_jsonl gen/*.txt >gen.jsonl
n=$(wc -l <gen.want)
[ "$n" -ge 90 ] && [ "$n" -le 160 ] && ok "the generated stream has $n copies far from their originals" ||
    not_ok "the generated stream has about 130 copies far from their originals" "$n"
"$DEDUP" scan -f text gen | report_copies >gen-scan.copies
expect_same "scan calls the copies of the long stream copies, and only those" gen.want gen-scan.copies
"$DEDUP" filter --annotate --id-field id gen.jsonl | filter_copies >gen-filter.copies
expect_same "filter calls the same records copies as scan, 4,200 records and more apart" \
    gen-scan.copies gen-filter.copies

# --- 4. the difference streaming forces in grouping repeats (man: "Streaming forces three
# differences"): boilerplate between repeated paragraphs parts filter's block, not scan's.
mkdir runs
bp="Follow us on social media for more news today"
for i in 1 2 3; do printf 'unique opening line number %s here now\n\n%s\n\nother closing words for doc %s only\n' \
    "$i" "$bp" "$i" >"runs/d$i.txt"; done
printf 'alpha beta gamma delta epsilon\nzeta eta theta iota kappa\n%s\nlambda mu nu xi omicron\n' "$bp" >runs/block
cat runs/block runs/block >runs/d4.txt
rm runs/block
"$DEDUP" scan -f text runs/d1.txt runs/d2.txt runs/d3.txt runs/d4.txt 2>/dev/null | grep 'repeat' >runs.scan
echo "runs/d4.txt:5: lines 5-8 repeat lines 1-4 (3 units, 15 words)" >runs.want
expect_same "scan: one block of repeats across the boilerplate (lines 5-8)" runs.want runs.scan
to_jsonl runs/d1.txt runs/d2.txt runs/d3.txt runs/d4.txt >runs.jsonl
"$DEDUP" filter --annotate --id-field id runs.jsonl | tail -n 1 | python3 -c '
import json, sys
print(" ".join("%s:%d-%d" % (r["kind"], r["lines"][0], r["lines"][1]) for r in json.loads(sys.stdin.read())["dedup"]["removed"]))' >runs.filter
echo "boilerplate:3-3 repeat:5-6 boilerplate:7-7 repeat:8-8" >runs.want
expect_same "filter: the boilerplate parts the block in two (lines 5-6, 8), as the man page says" runs.want runs.filter

finish
