#!/usr/bin/env bash
# -j/--threads: scan, clean, check and index build/add give byte-identical
# outputs (reports, cleaned files, diffs, indexes, messages on stderr, exit
# statuses) at -j 1, 2, 3 and 8, on the fixtures and on a generated corpus of a few hundred
# documents of very different sizes (so that workers finish out of order)
# with exact and near copies, repeated paragraphs, boilerplate and files
# that are not text. Documents are analysed on the workers and taken in
# input order: a consumer that took them in the order they finish would
# change which copy comes first, the clusters and the order of the
# messages, and fail here.
. "$(dirname "$0")/lib.sh"

G="$T/gen"
python3 - "$FIXTURES/seeds" "$G" <<'EOF'
import os, random, sys
seeds, out = sys.argv[1], sys.argv[2]
random.seed(15)
words = []
for name in sorted(os.listdir(seeds)):
    with open(os.path.join(seeds, name), encoding="utf-8") as f:
        words += f.read().split()
def line():
    return " ".join(random.choice(words) for _ in range(random.randint(8, 25)))
lines = [line() for _ in range(60)]  # lines that several documents quote
nav = "الرئيسية | أخبار | رياضة | اقتصاد | اتصل بنا"
docs = []
for i in range(260):
    n = random.choice([2, 3, 5, 8, 13, 40, 200])  # very different sizes
    body = [line() for _ in range(n)]
    if i % 3 == 0:
        body.insert(random.randrange(len(body) + 1), random.choice(lines))  # shared paragraph
    if i % 9 == 0:
        body.insert(random.randrange(len(body) + 1), random.choice(body))  # repeat inside
    if i % 4 == 0:
        body = [nav] + body  # boilerplate
    docs.append(body)
# Copies of earlier documents, exact and edited (near-duplicates), placed
# after their originals.
for i in range(0, 240, 7):
    copy = list(docs[i])
    if i % 2:
        k = random.randrange(len(copy))
        w = copy[k].split()
        w[random.randrange(len(w))] = "تعديل"
        copy[k] = " ".join(w)
    docs.append(copy)
for i, body in enumerate(docs):
    d = os.path.join(out, "part%d" % (i % 5))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "doc%03d.txt" % i), "w", encoding="utf-8") as f:
        f.write("\n".join(body) + "\n")
# Files that are not text: Latin-1, and a NUL byte far into a file.
with open(os.path.join(out, "part2", "latin1.txt"), "wb") as f:
    f.write("Caf\u00e9 cr\u00e8me, d\u00e9j\u00e0 vu.\n".encode("latin-1"))
with open(os.path.join(out, "part3", "nul.txt"), "wb") as f:
    f.write(("\n".join(lines) + "\n").encode() + b"\0 tail\n")
EOF
n=$(find "$G" -type f | wc -l)
[ "$n" -gt 250 ] && ok "generated corpus: $n files" || not_ok "generated corpus: $n files"

# run NAME J CMD...: runs dedup CMD at -j J (after the command's name:
# "index build" is two words), keeping stdout, stderr and the exit status
# in $T/NAME.J.{out,err,st}.
run() {
    local name=$1 j=$2
    shift 2
    local words=1
    [ "$1" = index ] && words=2
    "$DEDUP" "${@:1:$words}" -j "$j" "${@:$((words + 1))}" >"$T/$name.$j.out" 2>"$T/$name.$j.err"
    echo $? >"$T/$name.$j.st"
}

# same NAME: the outputs at -j 2, 3 and 8 are those at -j 1.
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
cp -r "$FIXTURES/seeds" "$FIXTURES/variants" .
for j in 1 2 3 8; do
    run fixtures-jsonl "$j" scan -f jsonl seeds variants
    run fixtures-text "$j" scan -f text seeds variants
    run gen-jsonl "$j" scan -f jsonl gen
    run gen-text "$j" scan -f text gen
    run gen-tsv "$j" scan -f tsv --keep longest gen
    run gen-block "$j" scan -f jsonl -u block --method simhash gen
    run gen-stdin "$j" scan -f jsonl - gen <gen/part0/doc000.txt
    run gen-stop "$j" scan -f jsonl --on-error stop gen
    run gen-clean "$j" clean -o out gen
    mv out "out$j"
    run gen-dry-run "$j" clean --in-place --dry-run gen
    run gen-check "$j" check $(find gen/part1 gen/part2 -name '*.txt' | sort | head -40)
    run fixtures-check "$j" check seeds/*.txt variants/000_syndicated.txt
    # index build, then add of the same files (unchanged: skipped) and of
    # the fixtures, the index read back by info and by scan --index.
    run index-build "$j" index build gen -o idx.ddx
    run index-add "$j" index add idx.ddx gen seeds variants
    "$DEDUP" index info idx.ddx >"index-info.$j.out" 2>"index-info.$j.err"
    echo $? >"index-info.$j.st"
    run index-scan "$j" scan -f jsonl --index idx.ddx variants
    mv idx.ddx "idx$j.ddx"
done
for name in fixtures-jsonl fixtures-text gen-jsonl gen-text gen-tsv gen-block gen-stdin gen-stop \
    gen-clean gen-dry-run gen-check fixtures-check index-build index-add index-info index-scan; do
    same "$name"
done
for j in 2 3 8; do
    if diff -r out1 "out$j" >"$T/tree.diff"; then ok "clean -o -j $j: the same files, byte for byte"; else
        not_ok "clean -o -j $j: the same files" "$(head -20 "$T/tree.diff")"
    fi
done

# The runs found what the corpus holds, so the comparisons above compare
# something: clusters, repeats, boilerplate, and both files that are not text.
grep -q '"type":"cluster"' gen-jsonl.1.out && grep -q '"type":"boilerplate"' gen-jsonl.1.out &&
    grep -q '"type":"repeat"' gen-jsonl.1.out && ok "the corpus has clusters, repeats, boilerplate" ||
    not_ok "the corpus has clusters, repeats, boilerplate" "$(head -c 400 gen-jsonl.1.out)"
grep -q '"type":"index_duplicate"\|"index"' index-scan.1.out && grep -q 'signed' index-add.1.err &&
    ok "the index holds the documents: scan --index finds them" ||
    not_ok "the index holds the documents" "$(head -c 600 index-scan.1.out; cat index-add.1.err)"
grep -q 'latin1.txt:1: invalid UTF-8' gen-jsonl.1.err && grep -q 'nul.txt:.*NUL byte' gen-jsonl.1.err &&
    ok "both files that are not text are named on stderr" ||
    not_ok "both files that are not text are named on stderr" "$(cat gen-jsonl.1.err)"
[ "$(cat gen-jsonl.1.st)" = 2 ] && [ "$(cat gen-stop.1.st)" = 2 ] &&
    ! grep -q '"type":"cluster"' gen-stop.1.out &&
    ok "statuses: 2 with files left out, --on-error stop reports nothing" ||
    not_ok "statuses" "jsonl $(cat gen-jsonl.1.st), stop $(cat gen-stop.1.st)"

# The default (one thread per online CPU) gives the same report as -j 1.
"$DEDUP" scan -f jsonl gen >default.out 2>default.err
expect_same "the default -j gives the -j 1 report" gen-jsonl.1.out default.out

# -j takes a number from 1.
expect_status "-j 0 is refused" 2 "$DEDUP" scan -j 0 seeds
expect_grep "-j 0: says why" "--threads: '0' is not a number from 1 to 1024" "$T/err"
expect_status "filter does not take -j" 2 "$DEDUP" filter -j 2 seeds/000_bd77016b1ff7f277.txt
finish
