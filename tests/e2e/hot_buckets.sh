#!/usr/bin/env bash
# Hot LSH buckets are split, not truncated (near.h, DD_BUCKET_CAP): a band
# bucket that lists 32 representatives lists the later ones in sub-buckets,
# by a second key of theirs (other values of the signature), which a
# document whose bucket is full looks up as well.
#
# The corpus, with --bands 2 --rows 1 (each band one MinHash value, the
# second key of band b the value at position 2 + b): every document is a
# 200-word block printed in all of them, then 200 words of its own, kept
# only when its MinHash values 0 and 1 come from the block (so every
# document has the same two band keys: both buckets are hot) and:
#   - 60 families, an original and a copy of it with one word changed
#     (Jaccard 0.975, MinHash values 0 to 3 the original's), whose values 2
#     and 3 come from their own words: only the first 32 originals fit in
#     the two buckets, the other 28 go to sub-buckets of their own, where
#     their copies find them;
#   - 50 documents whose values 2 and 3 come from the block too, not copies
#     of anything (Jaccard about 1/3): all in one sub-bucket per band, which
#     fills after 32; the last 18 are left out of both bands.
# With the plain cap, the copies of originals 33 to 60 are not found (their
# originals are listed nowhere). Each document is one paragraph and
# --para-threshold 1 keeps the near-repeats of paragraphs from linking the
# copies to their originals: the document LSH alone finds them.
# The clusters and the summary's counts are the same at -j 1, 2 and 3 (the
# placer's two paths: one document at a time, and batches verified ahead)
# and with --tasks 1, 2 and 4; filter, which places records as they come,
# drops the same copies. Files are placed in name order, in batches
# of 512 at -j 2 and more: a000a to a039a (the first 40 originals and 32
# copies), then 450 documents of random words that share nothing, fill
# the first batch; the second has the copies of originals 33 to 40 (y032b
# to y039b: their originals are in sub-buckets the index lists before the
# batch), the last 20 families (y040a...) and the 50 others (zz000...).
. "$(dirname "$0")/lib.sh"

G="$T/gen"
PYTHONPATH="$TESTS" python3 - "$FIXTURES/seeds" "$SHINGLE" "$G" <<'EOF' || not_ok "generating the corpus"
import os, subprocess, sys
from gen_docs import Words
seeds, shingle, out = sys.argv[1], sys.argv[2], sys.argv[3]
g = Words(seeds, seed=17)
rng, words = g.rng, g.words
def text(n):
    return " ".join(rng.choice(words) for _ in range(n))
tmp = os.path.join(out, ".tmp")
os.makedirs(tmp)
def signatures(texts):
    """the MinHash signatures of texts (shingle -m: dedup's)"""
    paths = []
    for i, t in enumerate(texts):
        paths.append(os.path.join(tmp, "%05d.txt" % i))
        with open(paths[-1], "w", encoding="utf-8") as f:
            f.write(t)
    values = subprocess.run([shingle, "-m"] + paths, check=True, capture_output=True,
                            text=True).stdout.split()
    for p in paths:
        os.remove(p)
    return [values[i * 128:(i + 1) * 128] for i in range(len(texts))]
block = text(200)
[of_block] = signatures([block + "\n"])
pool = ["%s %s\n" % (block, text(200)) for _ in range(1500)]
sigs = signatures(pool)
def from_block(sig, positions):
    return [sig[j] == of_block[j] for j in positions]
originals = [(t, s) for t, s in zip(pool, sigs) if from_block(s, range(4)) == [True, True, False, False]]
crowd = [t for t, s in zip(pool, sigs) if from_block(s, range(4)) == [True] * 4]
made = 0
for original, sig in originals:
    if made == 60:
        break
    tries = []
    for _ in range(8):
        w = original.split()
        w[200 + rng.randrange(200)] = rng.choice(words)
        tries.append(" ".join(w) + "\n")
    copy = next((t for t, s in zip(tries, signatures(tries)) if s[:4] == sig[:4] and t != original),
                None)
    if copy is None:
        continue
    first = "a" if made < 40 else "y"  # the original's batch
    for name, t in (("%s%03da" % (first, made), original),
                    ("%s%03db" % ("a" if made < 32 else "y", made), copy)):
        with open(os.path.join(out, name + ".txt"), "w", encoding="utf-8") as f:
            f.write(t)
    made += 1
for i in range(450):
    with open(os.path.join(out, "m%03d.txt" % i), "w", encoding="utf-8") as f:
        f.write(text(400) + "\n")
for i, t in enumerate(crowd[:50]):
    with open(os.path.join(out, "zz%03d.txt" % i), "w", encoding="utf-8") as f:
        f.write(t)
os.rmdir(tmp)
if made != 60 or len(crowd) < 50:
    sys.exit("only %d families and %d others" % (made, len(crowd)))
EOF

HOT=(-f jsonl --bands 2 --rows 1 --para-threshold 1)
# clusters FILE: the clusters of a report, one line each: its documents'
# names, the representative first.
clusters() {
    python3 -c '
import json, os, sys
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    if r["type"] == "cluster":
        print(" ".join(os.path.basename(m["doc"]) for m in r["members"]))' "$1"
}
# counts FILE: the summary record's bucket counts.
counts() {
    python3 -c '
import json, sys
s = json.loads(open(sys.argv[1]).read().splitlines()[-1])
print(*(s.get(k, "none") for k in ("full_buckets", "bucket_entries_split", "full_sub_buckets",
                                    "bucket_entries_left_out")))' "$1"
}

for i in $(seq 0 59); do
    first=a second=a
    [ $i -ge 32 ] && second=y
    [ $i -ge 40 ] && first=y
    printf '%s%03da.txt %s%03db.txt\n' $first "$i" $second "$i"
done >"$T/want.clusters"
for j in 1 2 3; do
    "$DEDUP" scan -j $j "${HOT[@]}" "$G" >"$T/r$j.jsonl" 2>"$T/r$j.err"
    echo $? >"$T/r$j.status"
done
clusters "$T/r1.jsonl" >"$T/got.clusters"
expect_same "hot buckets: every copy found, the 28 past the buckets' cap too (60 clusters)" \
    "$T/want.clusters" "$T/got.clusters"
[ "$(cat "$T/r1.status")" = 1 ] && ok "... exit 1" || not_ok "... exit 1" "exit $(cat "$T/r1.status")"
# 2 bands x (28 originals + 32 of the others) in sub-buckets; 2 x 18 left out.
counts "$T/r1.jsonl" >"$T/got.counts"
echo "2 120 2 36" >"$T/want.counts"
expect_same "the summary record: 2 buckets full, 120 entries split, 2 sub-buckets full, 36 left out" \
    "$T/want.counts" "$T/got.counts"
expect_grep "... and the summary line" \
    "; 2 LSH buckets full (32 documents), split: 120 entries in sub-buckets, 36 left out" "$T/r1.err"
for j in 2 3; do
    cmp -s "$T/r1.jsonl" "$T/r$j.jsonl" && cmp -s "$T/r1.err" "$T/r$j.err" &&
        ok "-j $j: the report and summary line of -j 1, byte for byte" ||
        not_ok "-j $j: the report and summary line of -j 1, byte for byte" \
            "$(diff "$T/r1.jsonl" "$T/r$j.jsonl" | head -5)"
done
# With the MinHash values of most documents in a scratch file (--memory
# 1M: a sixteenth, 128 documents' values), the second keys are taken from
# there too: the same report.
for j in 1 2; do
    "$DEDUP" scan -j $j --memory 1M --tmp-dir "$T" "${HOT[@]}" "$G" >"$T/m$j.jsonl" 2>"$T/m$j.err"
    cmp -s "$T/r1.jsonl" "$T/m$j.jsonl" &&
        ok "--memory 1M -j $j: the report of the default budget" ||
        not_ok "--memory 1M -j $j: the report of the default budget" \
            "$(diff "$T/r1.jsonl" "$T/m$j.jsonl" | head -5) $(head -c 300 "$T/m$j.err")"
done
# The clustering the work folder's stages are to run (engine/doc_pairs.h:
# candidate pairs from sorted band keys, the hot buckets left to a sweep in
# rank order), run in memory in place of the placer while it is measured
# (DEDUP_CLUSTER_BY_PAIRS=1): the same report and summary, the hot buckets'
# counts too, at -j 1 and 3, and with --memory 1M.
for run in "-j 1" "-j 3" "-j 2 --memory 1M --tmp-dir $T"; do
    DEDUP_CLUSTER_BY_PAIRS=1 "$DEDUP" scan $run "${HOT[@]}" "$G" >"$T/p.jsonl" 2>"$T/p.err"
    cmp -s "$T/r1.jsonl" "$T/p.jsonl" && cmp -s "$T/r1.err" "$T/p.err" &&
        ok "clustered by pairs, $run: the placer's report and summary line" ||
        not_ok "clustered by pairs, $run: the placer's report and summary line" \
            "$(diff "$T/r1.jsonl" "$T/p.jsonl" | head -5) $(diff "$T/r1.err" "$T/p.err" | head -4)"
done
for n in 1 2 4; do
    "$DEDUP" scan -j 2 --work-dir "$T/w$n" --part-size 64K --tasks $n "${HOT[@]}" "$G" \
        >"$T/t$n.jsonl" 2>"$T/t$n.err"
    cmp -s "$T/r1.jsonl" "$T/t$n.jsonl" &&
        ok "--tasks $n: the report of the run without tasks" ||
        not_ok "--tasks $n: the report of the run without tasks" \
            "$(diff "$T/r1.jsonl" "$T/t$n.jsonl" | head -5) $(head -c 300 "$T/t$n.err")"
done

# clean drops the copies past the cap too: 60 of 620 documents.
"$DEDUP" clean -j 2 --bands 2 --rows 1 --para-threshold 1 "$G" -o "$T/cleaned" >/dev/null 2>"$T/err"
[ "$(ls "$T/cleaned" | wc -l)" = 560 ] && [ ! -e "$T/cleaned/y059b.txt" ] &&
    [ -e "$T/cleaned/y059a.txt" ] && ok "clean -o: the 60 copies dropped, 560 documents written" ||
    not_ok "clean -o: the 60 copies dropped, 560 documents written" \
        "$(ls "$T/cleaned" | wc -l) written; $(head -c 300 "$T/err")"

# filter decides each record against those before it (dd_placer_place, in
# the order they come): the same 60 copies dropped, the 560 others kept.
python3 - "$G" >"$T/hot.jsonl" <<'EOF'
import json, os, sys
for name in sorted(os.listdir(sys.argv[1])):
    with open(os.path.join(sys.argv[1], name), encoding="utf-8") as f:
        print(json.dumps({"id": name, "text": f.read()}, ensure_ascii=False))
EOF
"$DEDUP" filter --bands 2 --rows 1 --para-threshold 1 <"$T/hot.jsonl" >"$T/kept.jsonl" 2>"$T/err"
python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    print(json.loads(line)["id"])' "$T/kept.jsonl" >"$T/got.kept"
ls "$G" | grep -vxF -f <(cut -d" " -f2 "$T/want.clusters") >"$T/want.kept"
expect_same "filter: the 60 copies dropped, the 560 others kept" "$T/want.kept" "$T/got.kept"

finish
