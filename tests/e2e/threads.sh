#!/usr/bin/env bash
# -j/--threads: scan, clean, check, index build/add and filter give
# byte-identical outputs (reports, cleaned files, diffs, indexes, filtered
# streams, messages on stderr, exit statuses) at -j 1, 2, 3 and 8, on the
# fixtures and on a generated corpus of a few hundred
# documents of very different sizes (so that workers finish out of order)
# with exact and near copies, repeated paragraphs, boilerplate and files
# that are not text. Documents are analysed on the workers and taken in
# input order: a consumer that took them in the order they finish would
# change which copy comes first, the clusters and the order of the
# messages, and fail here.
. "$(dirname "$0")/lib.sh"

G="$T/gen"
PYTHONPATH="$TESTS" python3 - "$FIXTURES/seeds" "$G" <<'EOF'
import os, sys
from gen_docs import Words, write_files
seeds, out = sys.argv[1], sys.argv[2]
g = Words(seeds, seed=15)
lines = [g.line() for _ in range(60)]  # lines that several documents quote
# Very different sizes; a shared paragraph, a repeat inside, boilerplate.
docs = g.documents(260, [2, 3, 5, 8, 13, 40, 200], lines, repeat_every=9)
# Copies of earlier documents, exact and edited (near-duplicates), placed
# after their originals.
for i in range(0, 240, 7):
    docs.append(g.edit_one_word(docs[i]) if i % 2 else list(docs[i]))
write_files(out, docs, "doc%03d.txt", parts=5)
# Files that are not text: Latin-1, and a NUL byte far into a file.
with open(os.path.join(out, "part2", "latin1.txt"), "wb") as f:
    f.write("Caf\u00e9 cr\u00e8me, d\u00e9j\u00e0 vu.\n".encode("latin-1"))
with open(os.path.join(out, "part3", "nul.txt"), "wb") as f:
    f.write(("\n".join(lines) + "\n").encode() + b"\0 tail\n")
EOF
n=$(find "$G" -type f | wc -l)
[ "$n" -gt 250 ] && ok "generated corpus: $n files" || not_ok "generated corpus: $n files"

# Many small documents, every third an exact copy of the one before and
# every fifth of those with a word changed: with threads, the report's
# records are formatted on the workers, parts of 64 documents named, 64
# parts at a time, and written in order (report.c): 4,500 documents are two
# windows of the tsv report and over a hundred clusters in the others.
M="$T/many"
python3 - "$M" <<'EOF'
import os, random, sys
out = sys.argv[1]
os.makedirs(out)
rng = random.Random(12)
words = ["w%d" % i for i in range(3000)]
prev = None
for i in range(4500):
    if prev and i % 3 == 2:
        doc = list(prev)
        if i % 5 == 0:
            doc[rng.randrange(len(doc))] = "changed"
    else:
        doc = [rng.choice(words) for _ in range(60)]
    prev = doc
    with open(os.path.join(out, "d%04d.txt" % i), "w") as f:
        f.write(" ".join(doc) + "\n")
EOF

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

# A tree of every shape the listing meets: with threads, the folders that
# hold no folder are read ahead on the workers while the calling thread
# takes those before them (io/input.c, take_folder): files between them, a
# folder that holds folders (it ends a run read ahead), one that holds
# none, a link to a folder, a link to nothing, a FIFO and a .git folder
# inside folders read ahead, an empty folder. The documents, their order
# and the messages must be those of -j 1 (same, below).
W="$T/tree"
mkdir -p "$W"
i=0
for d in a b c d e f; do
    mkdir -p "$W/$d"
    for k in 1 2 3; do
        cp "$(ls "$FIXTURES"/seeds/*.txt | sed -n "$((i % 5 + 1))p")" "$W/$d/f$k.txt"
        i=$((i + 1))
    done
    cp "$FIXTURES/variants/000_syndicated.txt" "$W/${d}0.txt"
done
mkdir -p "$W/c/inner/deeper" "$W/empty" "$W/b/.git"
cp "$FIXTURES"/seeds/*.txt "$W/c/inner/"
cp "$FIXTURES"/variants/*.txt "$W/c/inner/deeper/"
ln -s nowhere "$W/b/dangling"
ln -s ../a "$W/d/link-to-a"
mkfifo "$W/e/fifo"
echo 'not data' >"$W/b/.git/config"

cd "$T" || exit 2
cp -r "$FIXTURES/seeds" "$FIXTURES/variants" .
for j in 1 2 3 8; do
    run fixtures-jsonl "$j" scan -f jsonl seeds variants
    run fixtures-text "$j" scan -f text seeds variants
    run gen-jsonl "$j" scan -f jsonl gen
    run gen-text "$j" scan -f text gen
    run gen-tsv "$j" scan -f tsv --keep longest gen
    run many-tsv "$j" scan -f tsv many
    run many-jsonl "$j" scan -f jsonl many
    run many-text "$j" scan -f text many
    run gen-block "$j" scan -f jsonl -u block --method simhash gen
    run gen-stdin "$j" scan -f jsonl - gen <gen/part0/doc000.txt
    run tree-jsonl "$j" scan -f jsonl tree
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
for name in fixtures-jsonl fixtures-text gen-jsonl gen-text gen-tsv many-tsv many-jsonl many-text \
    gen-block gen-stdin gen-stop tree-jsonl \
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

grep -q 'tree/b/dangling: No such file' tree-jsonl.1.err && grep -q 'tree/e/fifo: not a regular' tree-jsonl.1.err &&
    grep -q 'tree/d/link-to-a: symbolic link to a directory' tree-jsonl.1.err &&
    grep -q '"tree/c/inner/deeper/' tree-jsonl.1.out && grep -q '"tree/f/f3.txt"' tree-jsonl.1.out &&
    ! grep -q '\.git' tree-jsonl.1.out &&
    ok "the tree: its folders walked, its links and FIFO said" ||
    not_ok "the tree" "$(cat tree-jsonl.1.err; head -c 600 tree-jsonl.1.out)"

[ "$(wc -l <many-tsv.1.out)" = 4500 ] && [ "$(grep -c '"type":"cluster"' many-jsonl.1.out)" -gt 100 ] &&
    ok "many documents: 4,500 lines of tsv, over 100 clusters" ||
    not_ok "many documents" "$(wc -l <many-tsv.1.out) lines, $(grep -c '"type":"cluster"' many-jsonl.1.out) clusters"

# The default (one thread per online CPU) gives the same report as -j 1.
"$DEDUP" scan -f jsonl gen >default.out 2>default.err
expect_same "the default -j gives the -j 1 report" gen-jsonl.1.out default.out

# -j takes a number from 1.
expect_status "-j 0 is refused" 2 "$DEDUP" scan -j 0 seeds
expect_grep "-j 0: says why" "--threads: '0' is not a number from 1 to 1024" "$T/err"
expect_status "filter -j 0 is refused" 2 "$DEDUP" filter -j 0 seeds/000_bd77016b1ff7f277.txt
expect_grep "filter -j 0: says why" "--threads: '0' is not a number from 1 to 1024" "$T/err"

# ---- filter ------------------------------------------------------------------
# Records are read by the calling thread, parsed and analysed on the workers,
# decided and written in stream order: the same output, messages and statuses
# at every -j, on the fixtures and on streams made of the generated corpus
# (copies after their originals, documents of very different sizes) with
# malformed records of every kind among them: not JSON, not an object, no
# text field, a text that is not a string, invalid UTF-8, no id, blank lines;
# as JSONL, lines and NUL-separated documents, plain, gzip and zstd, from
# files and standard input, with --annotate and --index.
S=$T/streams
python3 - "$G" "$FIXTURES" "$S" <<'EOF'
import json, os, sys
gen, fixtures, out = sys.argv[1:]
os.makedirs(out)
names = []
for d, _, files in os.walk(gen):
    names += [os.path.join(d, f) for f in files if f.startswith("doc")]
names.sort(key=os.path.basename)  # doc000, doc001, ...: copies after their originals
gen_docs = [open(p, encoding="utf-8").read() for p in names]
bad = [b'{"id": "bad-%d", "text": "unfinished',
       b'["an", "array", %d]',
       b'{"id": "bad-%d", "body": "no text field"}',
       b'{"id": "bad-%d", "text": 42}',
       b'{"id": "bad-%d", "text": "invalid \xff byte"}',
       b'{"text": "a record without its id, %d"}',
       b'   ']
with open(os.path.join(out, "gen.jsonl"), "wb") as f:
    for i, text in enumerate(gen_docs):
        if i % 23 == 11:
            b = bad[(i // 23) % len(bad)]
            f.write((b % i if b"%d" in b else b) + b"\n")
        rid = i if i % 5 == 0 else "g-%03d" % i  # ids as numbers and as strings
        rec = {"id": rid, "n": i, "text": text}
        f.write(json.dumps(rec, ensure_ascii=i % 2 == 0).encode() + b"\n")
    f.write(b'{"id": "last", "text": "no newline at the end"}')
# The fixtures: the seeds, then their variants (copies of them).
fx = [os.path.join(fixtures, d, n) for d in ("seeds", "variants")
      for n in sorted(os.listdir(os.path.join(fixtures, d)))]
with open(os.path.join(out, "fixtures.jsonl"), "w", encoding="utf-8") as f:
    for p in fx:
        rec = {"id": os.path.relpath(p, fixtures), "text": open(p, encoding="utf-8").read()}
        f.write(json.dumps(rec, ensure_ascii=False) + "\n")
# Lines: every line of the corpus, a line that is not UTF-8 now and then.
with open(os.path.join(out, "gen.lines"), "wb") as f:
    for i, text in enumerate(gen_docs):
        f.write(text.encode())
        if i % 29 == 3:
            f.write(b"caf\xe9 au lait, line %d\n" % i)
# NUL-separated documents, one of them not UTF-8.
with open(os.path.join(out, "gen.nul"), "wb") as f:
    for i, text in enumerate(gen_docs):
        f.write((b"\xff" if i == 40 else b"") + text.encode() + b"\0")
EOF
gzip -c "$S/gen.jsonl" >"$S/gen.jsonl.gz"
zstd -q -c "$S/gen.jsonl" >"$S/gen.jsonl.zst"
head -c 60000 "$S/gen.jsonl.gz" >"$S/cut.jsonl.gz"
"$DEDUP" index build -j 1 gen/part0 gen/part1 -o "$S/parts.ddx" 2>/dev/null
for j in 1 2 3 8; do
    run filter-fixtures "$j" filter --annotate --id-field id "$S/fixtures.jsonl"
    run filter-skip "$j" filter --annotate --id-field id --on-error skip "$S/gen.jsonl"
    run filter-drop "$j" filter --on-error drop "$S/gen.jsonl"
    run filter-stop "$j" filter "$S/gen.jsonl"
    run filter-gz "$j" filter --on-error skip "$S/gen.jsonl.gz"
    run filter-zst-stdin "$j" filter --on-error drop --annotate <"$S/gen.jsonl.zst"
    run filter-cut "$j" filter --on-error skip "$S/fixtures.jsonl" "$S/cut.jsonl.gz" "$S/gen.jsonl"
    run filter-lines "$j" filter --lines --on-error skip "$S/gen.lines"
    run filter-nul "$j" filter -z --on-error drop "$S/gen.nul"
    run filter-simhash "$j" filter -u block --method simhash --on-error skip "$S/gen.jsonl"
    run filter-index "$j" filter --index "$S/parts.ddx" --annotate --on-error skip "$S/gen.jsonl"
    # --stats, but for its line of speed, which is measured
    run filter-stats "$j" filter --stats --on-error drop "$S/gen.jsonl.gz"
    sed -i '/ MB in .* s: /d' "$T/filter-stats.$j.err"
done
for name in filter-fixtures filter-skip filter-drop filter-stop filter-gz filter-zst-stdin \
    filter-cut filter-lines filter-nul filter-simhash filter-index filter-stats; do
    same "$name"
done

# The runs did what the streams call for, so the comparisons above compare
# something: copies found and paragraphs removed, every malformed record
# named in order, the statuses of --on-error stop and of a truncated input.
"$DEDUP" filter --annotate --id-field id --on-error skip "$S/gen.jsonl" >default.out 2>default.err
expect_same "filter: the default -j gives the -j 1 output" filter-skip.1.out default.out
expect_same "filter: ... and the -j 1 messages" filter-skip.1.err default.err
[ "$(cat filter-skip.1.st)" = 0 ] && grep -q '"kept":false' filter-skip.1.out &&
    grep -q '"kind":"boilerplate"' filter-skip.1.out && grep -q '"kind":"repeat"' filter-skip.1.out &&
    grep -q '"kept":false' filter-fixtures.1.out &&
    ok "filter: copies found, repeats and boilerplate removed, exit 0" ||
    not_ok "filter: copies found, repeats and boilerplate removed, exit 0" \
        "exit $(cat filter-skip.1.st): $(head -c 600 filter-skip.1.err)"
kinds="not JSON|not a JSON object|no field 'text'|field 'text' is a number|no field 'id'"
lines=$(sed -n 's/^dedup: warning: [^:]*:\([0-9]*\): .*/\1/p' filter-skip.1.err)
[ "$(grep -cE "$kinds" filter-skip.1.err)" -ge 10 ] &&
    grep -q 'gen.jsonl:12: not JSON.*written through unchanged' filter-skip.1.err &&
    [ "$lines" = "$(sort -n <<<"$lines")" ] &&
    ok "filter: every malformed record named, in record order" ||
    not_ok "filter: every malformed record named, in record order" "$(head -c 1200 filter-skip.1.err)"
[ "$(cat filter-stop.1.st)" = 2 ] && [ "$(wc -l <filter-stop.1.out)" -ge 5 ] &&
    grep -q 'gen.jsonl:12: not JSON' filter-stop.1.err && [ "$(wc -l <filter-stop.1.err)" = 1 ] &&
    ok "filter --on-error stop: the records before the first error out, exit 2" ||
    not_ok "filter --on-error stop: the records before the first error out, exit 2" \
        "exit $(cat filter-stop.1.st), $(wc -l <filter-stop.1.out) lines: $(cat filter-stop.1.err)"
[ "$(cat filter-cut.1.st)" = 2 ] && tail -1 filter-cut.1.err | grep -q 'cut.jsonl.gz: truncated gzip data' &&
    [ -s filter-cut.1.out ] &&
    ok "filter: a truncated .gz among the inputs ends the run after its records, exit 2" ||
    not_ok "filter: a truncated .gz among the inputs ends the run after its records, exit 2" \
        "exit $(cat filter-cut.1.st): $(cat filter-cut.1.err)"
# -j 1 starts no thread; -j 3 runs on three threads in all: two workers and
# the calling thread, which decides, writes, and works on records when it
# would wait for them (counted while filter waits for more of its input,
# its scratch file open).
threads_of() { # J: the threads of filter -j J once it has read its first records
    local j=$1 pid n=0 _
    rm -f feed && mkfifo feed
    "$DEDUP" filter -j "$j" <feed >/dev/null 2>&1 &
    pid=$!
    exec 9>feed
    head -n 3 "$S/fixtures.jsonl" >&9
    for _ in $(seq 100); do
        sleep 0.1
        ls -l "/proc/$pid/fd" 2>/dev/null | grep -q dedup-scratch || continue
        sleep 0.2 # in the run: its threads, if any, started
        n=$(ls "/proc/$pid/task" | wc -l)
        [ "$n" -ge "$j" ] && break
    done
    exec 9>&-
    wait $pid
    echo "$n"
}
n1=$(threads_of 1) n3=$(threads_of 3)
# (ThreadSanitizer's runtime adds a thread of its own once a thread starts.)
tsan=0
grep -qa __tsan_init "$DEDUP" && tsan=1
[ "$n1" = 1 ] && [ "$n3" = $((3 + tsan)) ] && ok "filter -j 1 runs on one thread, -j 3 on three" ||
    not_ok "filter -j 1 runs on one thread, -j 3 on three" "-j 1: $n1 threads, -j 3: $n3"
grep -q 'invalid UTF-8' filter-lines.1.err && grep -q 'invalid UTF-8' filter-nul.1.err &&
    grep -q '"in_index":true' filter-index.1.out && grep -q 'duplicates: [1-9]' filter-stats.1.err &&
    ok "filter: lines, NUL documents, --index and --stats did their work" ||
    not_ok "filter: lines, NUL documents, --index and --stats did their work" \
        "$(head -3 filter-lines.1.err filter-nul.1.err filter-stats.1.err)"
finish
