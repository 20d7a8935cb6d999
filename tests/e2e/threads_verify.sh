#!/usr/bin/env bash
# -j N: candidate pairs verified ahead on the workers, a batch at a time
# (dedup/run/corpus.c; paragraphs across documents: run/near_across.c),
# decide as one thread does: scan, clean and check give
# byte-identical outputs at -j 1, 2, 3 and 8 on a generated corpus of 1,500
# documents, three batches and more, built so that the guesses of what will
# be verified are often wrong:
#   - near-copies of earlier documents at distances from 1 to 1,200 (in the
#     same batch as their original and in a later one),
#   - chains (B edits A, C edits B, D edits C), where a document is close
#     to one that joined a cluster but not to its representative, so that
#     what the workers verified is not what the placer asks next,
#   - documents that share a long passage but differ elsewhere: candidate
#     pairs that fail exact verification, some 70 a passage, more than an
#     LSH bucket lists (DD_BUCKET_CAP),
#   - a paragraph printed in 150 documents with a word changed each time,
#     more than a paragraph's LSH bucket lists (DD_NEAR_UNIT_MAX_BUCKET),
#   - paragraphs printed again in later documents with one word changed
#     (near-repeats across documents), nearby and far away, in four
#     documents of five (so in documents at every batch's edge), or
#     unchanged,
#   - exact copies, and paragraphs repeated inside a document.
# Threads that took pairs in the order they finish, or a decision that
# read a pair verified for another document, change the clusters or the
# repeats here.
. "$(dirname "$0")/lib.sh"

G="$T/gen"
PYTHONPATH="$TESTS" python3 - "$FIXTURES/seeds" "$G" <<'EOF'
import os, sys
from gen_docs import Words
seeds, out = sys.argv[1], sys.argv[2]
g = Words(seeds, seed=33, line_words=(10, 24))
rng, words, line = g.rng, g.words, g.line
def edit(body, rate):
    """body with about rate of its words replaced"""
    new = []
    for l in body:
        w = l.split()
        for i in range(len(w)):
            if rng.random() < rate:
                w[i] = rng.choice(words)
        new.append(" ".join(w))
    return new
N = 1500
docs = [None] * N
shared = [line() for _ in range(150)]  # paragraphs printed in several documents
passages = [[line() for _ in range(6)] for _ in range(3)]  # long shared passages
hot = line(20, 24)  # a paragraph printed 150 times, each time with a word changed
for i in range(N):
    body = [line() for _ in range(rng.randint(3, 9))]
    if i % 5 != 4:  # a shared paragraph with one word changed: a near-repeat
        w = rng.choice(shared).split()
        w[rng.randrange(len(w))] = rng.choice(words)
        body.insert(rng.randrange(len(body) + 1), " ".join(w))
    if i % 13 == 0:  # or unchanged: an exact repeat
        body.append(rng.choice(shared))
    if i % 7 == 0:  # a long passage shared with other documents
        body = rng.choice(passages) + body[:3]
    if i % 10 == 3:
        w = hot.split()
        w[rng.randrange(len(w))] = rng.choice(words)
        body.append(" ".join(w))
    if i % 11 == 0:  # a paragraph repeated inside the document
        body.append(body[0])
    docs[i] = body
# Near-copies at distances within and across batches.
for k, dist in enumerate([1, 2, 3, 5, 9, 17, 40, 130, 300, 511, 512, 600, 1000, 1200] * 6):
    i = (k * 97) % (N - dist)
    rate = [0.0, 0.02, 0.05, 0.12, 0.3][k % 5]  # 0.3: candidates that fail
    docs[i + dist] = edit(docs[i], rate) if rate else list(docs[i])
# Chains: each edits the one before it, a few documents later.
for k in range(30):
    i = (k * 389 + 11) % (N - 40)
    step = [1, 4, 13][k % 3]
    for j in range(1, 4):
        docs[i + j * step] = edit(docs[i + (j - 1) * step], 0.03)
for i, body in enumerate(docs):
    d = os.path.join(out, "p%d" % (i // 300))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "d%04d.txt" % i), "w", encoding="utf-8") as f:
        f.write("\n".join(body) + "\n")
EOF
n=$(find "$G" -type f | wc -l)
[ "$n" = 1500 ] && ok "generated corpus: $n files" || not_ok "generated corpus: $n files"

# run NAME J CMD...: dedup CMD at -j J, stdout, stderr and status kept in
# $T/NAME.J.{out,err,st}.
run() {
    local name=$1 j=$2
    shift 2
    "$DEDUP" "$1" -j "$j" "${@:2}" >"$T/$name.$j.out" 2>"$T/$name.$j.err"
    echo $? >"$T/$name.$j.st"
}

same() {
    local name=$1 j bad=""
    for j in 2 3 8; do
        for part in out err st; do
            cmp -s "$T/$name.1.$part" "$T/$name.$j.$part" ||
                bad="$bad -j $j $part: $(diff "$T/$name.1.$part" "$T/$name.$j.$part" | head -6)"
        done
    done
    [ -z "$bad" ] && ok "$name: the same at -j 1, 2, 3 and 8" || not_ok "$name: differs" "$bad"
}

cd "$T" || exit 2
for j in 1 2 3 8; do
    run scan "$j" scan -f jsonl gen
    run longest "$j" scan -f jsonl --keep longest gen
    run estimate "$j" scan -f text --verify estimate gen
    run clean "$j" clean -o out gen
    mv out "out$j"
    run check "$j" check $(find gen/p4 -name '*.txt' | sort | head -60)
done
for name in scan longest estimate clean check; do
    same "$name"
done
for j in 2 3 8; do
    if diff -r out1 "out$j" >"$T/tree.diff"; then ok "clean -o -j $j: the same files, byte for byte"; else
        not_ok "clean -o -j $j: the same files" "$(head -20 "$T/tree.diff")"
    fi
done

# The corpus holds what the comparisons are about: clusters, near-repeats
# across documents, and near-duplicates that fail verification (pairs
# compared, fewer joined).
clusters=$(grep -c '"type":"cluster"' scan.1.out)
near=$(grep '"type":"repeat"' scan.1.out | grep -c '"exact":false')
[ "$clusters" -ge 40 ] && [ "$near" -ge 20 ] &&
    ok "the corpus has clusters ($clusters) and near-repeats across documents ($near)" ||
    not_ok "the corpus has clusters and near-repeats" "clusters $clusters, near-repeats $near"

# At -j 2 the pairs of documents are verified on the workers, most of them
# ahead, some when asked (the guesses missed them): both paths ran; the
# pairs of paragraphs across documents, all known before any is verified
# (run/near_across.h), on a pool of two threads, in several items.
DEDUP_RUN_STATS=1 "$DEDUP" scan -q -f jsonl -j 2 gen >stats.out 2>stats.err
docs_line=$(grep -m1 'near-duplicate documents:' stats.err)
units_line=$(grep 'paragraphs across documents:' stats.err)
pool_line=$(grep 'pool (paragraphs across):' stats.err)
ahead() { sed -n 's/.*: \([0-9]*\) pairs verified ahead, \([0-9]*\) when asked.*/\1 \2/p' <<<"$1"; }
read -r docs_ahead docs_asked <<<"$(ahead "$docs_line")"
units_pairs=$(sed -n 's/.* units, \([0-9]*\) pairs verified.*/\1/p' <<<"$units_line")
units_items=$(sed -n 's/.*: 1 loops, \([0-9]*\) items, 1 threads and the caller.*/\1/p' <<<"$pool_line")
[ "${docs_ahead:-0}" -gt 0 ] && [ "${docs_asked:-0}" -gt 0 ] && [ "${units_pairs:-0}" -gt 0 ] &&
    [ "${units_items:-0}" -gt 1 ] &&
    ok "-j 2 verified pairs ahead and when asked ($docs_line; $units_line; $pool_line)" ||
    not_ok "-j 2 verified pairs ahead and when asked" "$(cat stats.err)"
# ... and says how many document pairs were computed ahead in all, asked
# for or not (the guesses here are often wrong: some were computed for
# nothing).
in_all() { sed -n "s/.*$1: \([0-9]*\) pairs computed ahead in all.*/\1/p" stats.err | head -1; }
docs_all=$(in_all 'near-duplicate documents')
[ "${docs_all:-0}" -ge "${docs_ahead:-1}" ] &&
    ok "-j 2 computed $docs_all document pairs ahead for $docs_ahead asked" ||
    not_ok "-j 2 says how many pairs it computed ahead in all" "$(cat stats.err)"
cmp -s stats.out scan.1.out && ok "... and wrote the -j 1 report" ||
    not_ok "... and wrote the -j 1 report" "$(diff scan.1.out stats.out | head -6)"

# filter decides records a batch at a time at -j 2 and more, with the
# candidate lookups and exact verification done ahead on the workers
# (history.h): the same corpus as JSON lines, in the order scan reads it,
# gives the same output at -j 1, 2, 3 and 8 (--annotate: every decision,
# its representative and similarity, and every paragraph removed), with
# --verify estimate too; at -j 2 pairs were verified ahead and some when
# asked (both paths ran).
python3 - gen >gen.jsonl <<'EOF'
import json, os, sys
for d in sorted(os.listdir(sys.argv[1])):
    for name in sorted(os.listdir(os.path.join(sys.argv[1], d))):
        with open(os.path.join(sys.argv[1], d, name), encoding="utf-8") as f:
            print(json.dumps({"id": name, "text": f.read()}, ensure_ascii=False))
EOF
for j in 1 2 3 8; do
    run filter "$j" filter --annotate --id-field id gen.jsonl
    run festimate "$j" filter --verify estimate gen.jsonl
done
same filter
same festimate
copies=$(grep -c '"kept":false' filter.1.out)
near=$(grep '"kept":false' filter.1.out | grep -c '"exact":false')
[ "$copies" -ge 60 ] && [ "$near" -ge 40 ] &&
    ok "filter: the stream has copies ($copies, $near of them near)" ||
    not_ok "filter: the stream has copies" "copies $copies, near $near"
DEDUP_RUN_STATS=1 "$DEDUP" filter -j 2 --annotate --id-field id gen.jsonl >fstats.out 2>fstats.err
records_line=$(grep 'near-duplicate records:' fstats.err)
read -r records_ahead records_asked <<<"$(ahead "$records_line")"
[ "${records_ahead:-0}" -gt 0 ] && [ "${records_asked:-0}" -gt 0 ] &&
    ok "filter -j 2 verified pairs ahead and when asked ($records_line)" ||
    not_ok "filter -j 2 verified pairs ahead and when asked" "$(cat fstats.err)"
cmp -s fstats.out filter.1.out && ok "... and wrote the -j 1 output" ||
    not_ok "... and wrote the -j 1 output" "$(diff filter.1.out fstats.out | head -6)"
finish
