#!/usr/bin/env bash
# dedup filter: JSONL, lines and NUL-separated documents through real pipes,
# plain and compressed, against what scan finds on the same documents as files.
. "$(dirname "$0")/lib.sh"
cd "$FIXTURES"

# The documents, in this order: the five seeds, their syndicated copies, and
# an exact copy of seed 001 (so a record is an exact duplicate too).
DOCS=(seeds/000_bd77016b1ff7f277.txt seeds/001_0546f77b3de22a26.txt seeds/002_0b6d1692144c6f75.txt
    seeds/003_9004b0353d6ebc11.txt seeds/004_e1f26045a6d7f475.txt variants/000_syndicated.txt
    variants/002_near_identical.txt variants/003_rewrapped.txt variants/004_truncated.txt
    seeds/001_0546f77b3de22a26.txt)

# As files, named so that sorted order is this order.
mkdir -p "$T/files"
i=0
for d in "${DOCS[@]}"; do
    i=$((i + 1))
    cp "$d" "$T/files/$(printf %02d "$i").txt"
done

# As JSONL: the text among other fields that must come out unchanged:
# numbers (one of 30 digits, past 64 bits), nested objects, unicode escapes,
# keys in no particular order, spaces after separators.
python3 - "$T/docs.jsonl" "${DOCS[@]}" <<'EOF'
import json, sys
out = open(sys.argv[1], "w", encoding="utf-8")
for n, path in enumerate(sys.argv[2:], 1):
    text = open(path, encoding="utf-8").read()
    big = "9" * 30
    meta = '{"source": "site-%d", "tags": ["a", "b\\u00e9"], "score": -1.5e-3}' % n
    if n % 2:
        line = '{"id": "doc-%02d", "meta": %s, "text": %s, "big": %s, "uni": "caf\\u00e9 \\ud83d\\ude00"}' % (
            n, meta, json.dumps(text), big)
    else:
        line = '{"big":%s,"text":%s,"id":"doc-%02d","meta":%s}' % (
            big, json.dumps(text, ensure_ascii=False), n, meta)
    out.write(line + "\n")
EOF

# What scan keeps: the first document of each cluster (tsv: doc, cluster).
"$DEDUP" scan -f tsv "$T/files" >"$T/scan.tsv"
awk -F'\t' '!seen[$2]++ { n = split($1, p, "/"); sub(/\.txt$/, "", p[n]); print "doc-" p[n] }' \
    "$T/scan.tsv" >"$T/scan-kept"

cat "$T/docs.jsonl" | "$DEDUP" filter --field text >"$T/out.jsonl" 2>"$T/err"
st=$?
[ $st = 0 ] && [ ! -s "$T/err" ] && ok "filter through a pipe exits 0, quietly" \
    || not_ok "filter through a pipe exits 0, quietly" "exit $st: $(cat "$T/err")"
python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    print(json.loads(line)["id"])' "$T/out.jsonl" >"$T/filter-kept"
expect_same "filter keeps the records scan keeps as files" "$T/scan-kept" "$T/filter-kept"
[ "$(wc -l <"$T/filter-kept")" = 5 ] && ok "five of the ten records are kept (the five seeds)" \
    || not_ok "five of the ten records are kept (the five seeds)" "$(cat "$T/filter-kept")"

# Kept records: byte for byte, except the text of those whose repeated
# paragraphs were removed; there, every other byte is unchanged and the
# text is the original minus whole lines.
python3 - "$T/docs.jsonl" "$T/out.jsonl" >"$T/check" <<'EOF'
import json, sys
inp = {json.loads(l)["id"]: l for l in open(sys.argv[1], encoding="utf-8")}
for line in open(sys.argv[2], encoding="utf-8"):
    rec = json.loads(line)
    orig = inp[rec["id"]]
    o = json.loads(orig)
    if line == orig:
        print(rec["id"], "unchanged")
        continue
    # the bytes before and after the text value are the same
    def text_span(l):
        key = l.index('"text":')
        start = key + len('"text":')
        while l[start] == " ":
            start += 1
        dec = json.JSONDecoder()
        _, end = dec.raw_decode(l, start)
        return start, end
    s1, e1 = text_span(orig)
    s2, e2 = text_span(line)
    same_outside = orig[:s1] == line[:s2] and orig[e1:] == line[e2:]
    kept_lines = rec["text"].splitlines(keepends=True)
    orig_lines = o["text"].splitlines(keepends=True)
    # kept lines are a subsequence of the original lines
    it = iter(orig_lines)
    subseq = all(any(k == x for x in it) for k in kept_lines)
    others = {k: v for k, v in rec.items() if k != "text"} == {k: v for k, v in o.items() if k != "text"}
    print(rec["id"], "cleaned", "outside-same" if same_outside else "OUTSIDE-CHANGED",
          "subsequence" if subseq else "NOT-SUBSEQUENCE", "fields-same" if others else "FIELDS-CHANGED",
          len(orig_lines) - len(kept_lines))
EOF
grep -q "OUTSIDE-CHANGED\|NOT-SUBSEQUENCE\|FIELDS-CHANGED" "$T/check" \
    && not_ok "cleaned records change the text value only" "$(cat "$T/check")" \
    || ok "cleaned records change the text value only"
grep -q "^doc-03 cleaned" "$T/check" && ok "002's repeated block is removed from its text" \
    || not_ok "002's repeated block is removed from its text" "$(cat "$T/check")"
grep -q "unchanged" "$T/check" && ok "records with nothing removed come out byte for byte" \
    || not_ok "records with nothing removed come out byte for byte" "$(cat "$T/check")"

# The text of a cleaned record is what clean writes for the same document
# when no boilerplate is involved: the repeats inside 002.
"$DEDUP" clean "$T/files" -o "$T/clean" >/dev/null 2>&1
python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    if r["id"] == "doc-03":
        sys.stdout.write(r["text"])' "$T/out.jsonl" >"$T/doc03.txt"
expect_same "cleaned text of 002 is what clean writes" "$T/clean/03.txt" "$T/doc03.txt"

# Compressed input, from files and from standard input.
gzip -c "$T/docs.jsonl" >"$T/docs.jsonl.gz"
zstd -q -c "$T/docs.jsonl" >"$T/docs.jsonl.zst"
"$DEDUP" filter "$T/docs.jsonl.gz" >"$T/gz.out" 2>"$T/err"
expect_same "gzip file: the same output" "$T/out.jsonl" "$T/gz.out"
"$DEDUP" filter <"$T/docs.jsonl.zst" >"$T/zst.out" 2>"$T/err"
expect_same "zstd on standard input: the same output" "$T/out.jsonl" "$T/zst.out"
cat "$T/docs.jsonl.gz" | "$DEDUP" filter >"$T/gzpipe.out" 2>"$T/err"
expect_same "gzip through a pipe: the same output" "$T/out.jsonl" "$T/gzpipe.out"

# Truncated compressed input is an error naming the file.
head -c 3000 "$T/docs.jsonl.gz" >"$T/cut.jsonl.gz"
"$DEDUP" filter "$T/cut.jsonl.gz" >"$T/out" 2>"$T/err"
st=$?
[ $st = 2 ] && grep -q "cut.jsonl.gz: truncated gzip data" "$T/err" \
    && ok "truncated .gz: exit 2 naming the file" || not_ok "truncated .gz: exit 2 naming the file" "exit $st: $(cat "$T/err")"
head -c 3000 "$T/docs.jsonl.zst" >"$T/cut.jsonl.zst"
"$DEDUP" filter "$T/cut.jsonl.zst" >"$T/out" 2>"$T/err"
st=$?
[ $st = 2 ] && grep -q "cut.jsonl.zst: truncated zstd data" "$T/err" \
    && ok "truncated .zst: exit 2 naming the file" || not_ok "truncated .zst: exit 2 naming the file" "exit $st: $(cat "$T/err")"

# --annotate keeps every record and says what was found, field by field.
"$DEDUP" filter --annotate --id-field id "$T/docs.jsonl" >"$T/ann.jsonl"
"$DEDUP" scan -f jsonl "$T/files" >"$T/scan.jsonl"
python3 - "$T/ann.jsonl" "$T/scan.jsonl" >"$T/ann-check" <<'EOF'
import json, sys
ann = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
print("records", len(ann))
sim = {}
for l in open(sys.argv[2], encoding="utf-8"):
    r = json.loads(l)
    if r["type"] == "cluster":
        rep = r["representative"].rsplit("/", 1)[1][:2]
        for m in r["members"][1:]:
            sim["doc-" + m["doc"].rsplit("/", 1)[1][:2]] = (
                "doc-" + rep, m["jaccard"], m["containment"], bool(m.get("exact")))
for a in ann:
    d = a["dedup"]
    if d["kept"]:
        print(a["id"], "kept", "cluster", d["cluster"], "removed" if "removed" in d else "")
    else:
        want = sim.get(a["id"])
        got = (d["duplicate_of"], d["jaccard"], d["containment"], d["exact"])
        print(a["id"], "dropped", "as-scan" if want == got else "DIFFERS %r %r" % (want, got))
for a in ann:
    for r in a["dedup"].get("removed", []):
        print(a["id"], "removed", r["kind"], r["lines"], "of", r["of"]["record"], r["of"]["lines"])
EOF
expect_grep "--annotate keeps all ten records" "records 10" "$T/ann-check"
grep -q "DIFFERS" "$T/ann-check" && not_ok "annotations of the copies match scan's clusters" "$(cat "$T/ann-check")" \
    || ok "annotations of the copies match scan's clusters"
expect_grep "the syndicated 000 names its original" "doc-06 dropped as-scan" "$T/ann-check"
expect_grep "the exact copy of 001 names its original" "doc-10 dropped as-scan" "$T/ann-check"
expect_grep "002's repeated block is listed with the lines it repeats" "doc-03 removed repeat" "$T/ann-check"
expect_grep "001's pull-quote is a near-repeat of line 8" "doc-02 removed near-repeat [19, 19] of doc-02 [8, 8]" "$T/ann-check"

# --lines: each line a document; exact and near copies of earlier lines go.
printf '%s\n' "the first line has enough words to be a document" "another line, quite different from the first one" \
    "the first line has enough words to be a document" "The FIRST line has enough words, to be a document!" \
    "a last line" >"$T/lines.txt"
"$DEDUP" filter --lines "$T/lines.txt" >"$T/lines.out"
printf '%s\n' "the first line has enough words to be a document" "another line, quite different from the first one" \
    "a last line" >"$T/lines.want"
expect_same "--lines drops copies of earlier lines, normalised" "$T/lines.want" "$T/lines.out"
"$DEDUP" filter <"$T/lines.txt" >"$T/lines-auto.out"
expect_same "lines are the default when the first record is not an object" "$T/lines.want" "$T/lines-auto.out"

# -z: documents separated by NUL bytes.
for d in "${DOCS[@]}"; do cat "$d"; printf '\0'; done >"$T/docs.z"
"$DEDUP" filter -z "$T/docs.z" | tr '\0' '\n' | grep -c . >"$T/z-lines"
"$DEDUP" filter -z --no-clean-paragraphs "$T/docs.z" >"$T/z.out"
python3 -c '
import sys
docs = open(sys.argv[1], "rb").read().split(b"\0")[:-1]
print(len(docs))' "$T/z.out" >"$T/z-count"
expect_grep "-z keeps five of ten documents" "5" "$T/z-count"
for i in 0 1 2 3 4; do cat "${DOCS[$i]}"; printf '\0'; done >"$T/z.want"
expect_same "-z --no-clean-paragraphs: the seeds as they were" "$T/z.want" "$T/z.out"

# | head: a quiet end, exit 0, no error text.
python3 -c '
import json
for i in range(30000):
    print(json.dumps({"text": "record %d about %s" % (i, " ".join(str(i * k) for k in range(1, 12)))}))' >"$T/big.jsonl"
"$DEDUP" filter "$T/big.jsonl" 2>"$T/head-err" | head -n 5 >"$T/head-out"
st=${PIPESTATUS[0]}
[ "$st" = 0 ] && [ ! -s "$T/head-err" ] && [ "$(wc -l <"$T/head-out")" = 5 ] \
    && ok "filter | head -n 5: exit 0, nothing on stderr" \
    || not_ok "filter | head -n 5: exit 0, nothing on stderr" "exit $st: $(cat "$T/head-err")"

# ... also when the input stays open upstream: dedup does not wait for it
# (it ends within 5 s, while its input stays open for 6; under valgrind,
# where starting alone takes seconds, within 35 s while it stays open 40).
hold=6 bound=5
[ "${DEDUP_BUILD:-}" = valgrind ] && hold=40 bound=35
start=$(date +%s)
(cat "$T/big.jsonl"; sleep $hold) | ("$DEDUP" filter 2>"$T/head-err"; echo "$? $(date +%s)" >"$T/head-end") |
    head -n 5 >"$T/head-out"
read -r st end <"$T/head-end"
[ "$st" = 0 ] && [ $((end - start)) -lt $bound ] && [ ! -s "$T/head-err" ] \
    && ok "filter | head with the input still open: exits at once" \
    || not_ok "filter | head with the input still open: exits at once" "exit $st after $((end - start)) s: $(cat "$T/head-err")"

# Malformed records: exit 2 naming the file and line, after every record
# before it was written whole.
bad() { # name line expected-message
    head -n 3 "$T/docs.jsonl" >"$T/bad.jsonl"
    printf '%s\n' "$2" >>"$T/bad.jsonl"
    tail -n 2 "$T/docs.jsonl" >>"$T/bad.jsonl"
    "$DEDUP" filter --no-clean-paragraphs "$T/bad.jsonl" >"$T/bad.out" 2>"$T/bad.err"
    local st=$?
    if [ $st = 2 ] && grep -qF "dedup: $T/bad.jsonl:4: $3" "$T/bad.err" && [ "$(wc -l <"$T/bad.out")" = 3 ] &&
        cmp -s <(head -n 3 "$T/docs.jsonl") "$T/bad.out"; then
        ok "malformed: $1"
    else
        not_ok "malformed: $1" "exit $st: $(cat "$T/bad.err"); $(wc -l <"$T/bad.out") lines out"
    fi
}
bad "not JSON" '{"text": "unfinished' "not JSON"
bad "not an object" '["text", "an array"]' "not a JSON object (an array)"
bad "field missing" '{"body": "no text field here"}' "no field 'text'"
bad "field not a string" '{"text": 42}' "field 'text' is a number, not a string"
printf '{"text": "bad \xff byte"}\n' >"$T/badutf8-line"
bad "invalid UTF-8 inside a string" "$(cat "$T/badutf8-line")" "not JSON"

# --on-error skip writes the line through, drop drops it; both warn.
head -n 2 "$T/docs.jsonl" >"$T/bad.jsonl"
echo '{"body": "no text"}' >>"$T/bad.jsonl"
"$DEDUP" filter --no-clean-paragraphs --on-error skip --stats "$T/bad.jsonl" >"$T/skip.out" 2>"$T/skip.err"
st=$?
[ $st = 0 ] && grep -q "warning: $T/bad.jsonl:3: no field 'text'; written through unchanged" "$T/skip.err" &&
    cmp -s "$T/bad.jsonl" "$T/skip.out" && ok "--on-error skip: written through with a warning" \
    || not_ok "--on-error skip: written through with a warning" "exit $st: $(cat "$T/skip.err")"
expect_grep "--stats counts the malformed record" "malformed records: 1 written through, 0 dropped" "$T/skip.err"
"$DEDUP" filter --no-clean-paragraphs --on-error drop "$T/bad.jsonl" >"$T/drop.out" 2>"$T/drop.err"
st=$?
[ $st = 0 ] && grep -q "dropped" "$T/drop.err" && cmp -s <(head -n 2 "$T/docs.jsonl") "$T/drop.out" \
    && ok "--on-error drop: dropped with a warning" || not_ok "--on-error drop: dropped with a warning" "exit $st: $(cat "$T/drop.err")"

# --stats: counts at the end, on standard error.
"$DEDUP" filter --stats "$T/docs.jsonl" >/dev/null 2>"$T/stats"
expect_grep "--stats: records in and out" "dedup filter: 10 records in, 5 out" "$T/stats"
expect_grep "--stats: duplicates by kind" "duplicates: 1 exact, 4 near" "$T/stats"

# --index: records are checked against an earlier corpus too.
"$DEDUP" index build seeds -o "$T/seeds.ddx" 2>/dev/null
tail -n 5 "$T/docs.jsonl" >"$T/later.jsonl" # the copies and the exact copy of 001
"$DEDUP" filter --index "$T/seeds.ddx" --stats "$T/later.jsonl" >"$T/later.out" 2>"$T/later.err"
st=$?
[ $st = 0 ] && [ ! -s "$T/later.out" ] && ok "--index: copies of indexed documents are dropped" \
    || not_ok "--index: copies of indexed documents are dropped" "exit $st: $(cat "$T/later.err") $(head -c 300 "$T/later.out")"
expect_grep "--index: --stats counts them" "duplicates: 1 exact, 4 near (5 of them of indexed documents)" "$T/later.err"
"$DEDUP" filter --index "$T/seeds.ddx" --annotate --id-field id "$T/later.jsonl" >"$T/later-ann" 2>&1
python3 -c '
import json, sys
for l in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(l); d = r["dedup"]
    print(r["id"], d["kept"], d["duplicate_of"], d.get("in_index"), d["exact"])' "$T/later-ann" >"$T/later-check"
expect_grep "--annotate names the indexed document" "doc-06 False seeds/000_bd77016b1ff7f277.txt True False" "$T/later-check"
expect_grep "and an exact copy as exact" "doc-10 False seeds/001_0546f77b3de22a26.txt True True" "$T/later-check"
expect_status "--index with other settings fails" 2 "$DEDUP" filter --index "$T/seeds.ddx" --ngram 4 "$T/later.jsonl"
expect_grep "naming the option" "seeds.ddx: built with --ngram 5, not 4" "$T/err"

# A progress line on a terminal (script(1) gives stderr one), none otherwise.
if command -v script >/dev/null; then
    script -qc "$DEDUP filter $T/docs.jsonl >/dev/null" /dev/null | tr '\r' '\n' >"$T/tty" 2>&1
    expect_grep "progress on a terminal" "dedup filter: 10 records, 0.1 MB," "$T/tty"
fi
"$DEDUP" filter "$T/docs.jsonl" 2>"$T/notty" >/dev/null
[ ! -s "$T/notty" ] && ok "no progress when stderr is not a terminal" || not_ok "no progress when stderr is not a terminal" "$(cat "$T/notty")"

# Options that do not fit.
expect_status "--annotate with --lines is refused" 2 "$DEDUP" filter --annotate --lines "$T/lines.txt"
expect_status "--keep longest is refused by filter" 2 "$DEDUP" filter --keep longest "$T/lines.txt"
expect_status "scan refuses a filter option" 2 "$DEDUP" scan --annotate seeds
expect_grep "and names it" "dedup scan: --annotate is not an option of scan" "$T/err"
expect_status "a missing input file: exit 2" 2 "$DEDUP" filter "$T/no-such-file.jsonl"

# Ids from records are data, never paths: ids that look like paths out of
# the folder come back only as JSON strings, escaped, and no file appears.
mkdir -p "$T/ids/work" && cd "$T/ids/work" || exit 1
printf '%s\n' '{"id":"../../evil","text":"one two three four five six seven eight nine ten"}' \
    '{"id":"/tmp/dedup-abs\nx","text":"one two three four five six seven eight nine ten"}' \
    >in.jsonl
"$DEDUP" filter --id-field id --annotate in.jsonl >out.jsonl 2>"$T/err"
if grep -qF '"duplicate_of":"../../evil"' out.jsonl && [ "$(find "$T/ids" -type f | wc -l)" = 2 ] &&
    [ ! -e /tmp/dedup-abs ] && [ ! -e "/tmp/dedup-abs
x" ]; then
    ok "ids like ../../evil and /tmp/... are written back as JSON strings and never become files"
else
    not_ok "ids like ../../evil and /tmp/... are written back as JSON strings and never become files" \
        "$(cat out.jsonl; find "$T/ids" -type f)"
fi
cd "$T" || exit 1

# The scratch file of earlier records' sets: made in TMPDIR and deleted at
# once, so a run that is killed leaves nothing behind; a TMPDIR where no
# file can be made is an error before any record is read.
mkdir "$T/scratch"
mkfifo "$T/feed"
TMPDIR=$T/scratch "$DEDUP" filter <"$T/feed" >"$T/fed.jsonl" 2>"$T/err" &
pid=$!
exec 9>"$T/feed"
head -n 3 "$T/docs.jsonl" >&9
open_deleted=""
# (between mkstemp and unlink the file is open under its name: wait until
# it is deleted, or 10 s)
for _ in $(seq 100); do
    open_deleted=$(ls -l "/proc/$pid/fd" 2>/dev/null | grep -F "$T/scratch/dedup-scratch-")
    case $open_deleted in *"(deleted)") break ;; esac
    sleep 0.1
done
left=$(ls -A "$T/scratch")
kill -9 $pid 2>/dev/null
{ wait $pid; } 2>/dev/null
exec 9>&-
case $open_deleted in
*"(deleted)") [ -z "$left" ] && [ -z "$(ls -A "$T/scratch")" ] ;;
*) false ;;
esac && ok "the scratch file is in TMPDIR, open but deleted, and nothing is left after kill -9" ||
    not_ok "the scratch file is in TMPDIR, open but deleted, and nothing is left after kill -9" \
        "open: ${open_deleted:-none}; in the folder: $left $(ls -A "$T/scratch")"
# A scratch file that cannot grow (a file size limit here, a full disk
# elsewhere): the run stops with status 2 and says why.
python3 - >"$T/many.jsonl" <<'EOF'
import json, random
rng = random.Random(3)
words = ["w%d" % i for i in range(5000)]
for i in range(1500):
    print(json.dumps({"text": " ".join(rng.choice(words) for _ in range(120))}))
EOF
(ulimit -f 1024 && trap '' XFSZ && TMPDIR=$T/scratch exec "$DEDUP" filter "$T/many.jsonl") 2>"$T/err" |
    wc -l >"$T/count"
st=${PIPESTATUS[0]}
[ $st = 2 ] && [ "$(cat "$T/count")" -gt 0 ] && [ "$(cat "$T/count")" -lt 1500 ] &&
    grep -qF "dedup: scratch file in $T/scratch: File too large" "$T/err" &&
    ok "a scratch file that cannot grow stops the run: exit 2, saying so" ||
    not_ok "a scratch file that cannot grow stops the run: exit 2, saying so" \
        "exit $st, $(cat "$T/count") records out: $(cat "$T/err")"
TMPDIR=$T/no-such-folder "$DEDUP" filter "$T/docs.jsonl" >"$T/out" 2>"$T/err"
st=$?
[ $st = 2 ] && [ ! -s "$T/out" ] &&
    grep -qF "dedup: cannot make a scratch file in $T/no-such-folder: No such file or directory" "$T/err" &&
    ok "a TMPDIR that does not exist: exit 2, saying so, nothing written" ||
    not_ok "a TMPDIR that does not exist: exit 2, saying so, nothing written" "exit $st: $(cat "$T/err")"

# A kept record every line of which repeats earlier records: its text comes
# out empty, the rest of its line unchanged, at -j 1 and -j 2 (the first
# such record of a run once crashed filter: its cleaned text had no buffer).
python3 - "$T/emptied.jsonl" "$T/emptied-want.jsonl" "$FIXTURES"/seeds/*.txt <<'EOF'
import json, sys
paras = [l.strip() for p in sys.argv[3:] for l in open(p, encoding="utf-8") if len(l.split()) >= 20]
p1, p2, x, y = paras[0], paras[5], paras[10], paras[15]
texts = [p1 + "\n" + x + "\n", y + "\n" + p2 + "\n", p1 + "\n" + p2 + "\n"]
with open(sys.argv[1], "w", encoding="utf-8") as f, open(sys.argv[2], "w", encoding="utf-8") as want:
    for n, t in enumerate(texts, 1):
        f.write('{"id": %d, "text": %s, "n": [1, 2]}\n' % (n, json.dumps(t, ensure_ascii=False)))
        t = "" if n == 3 else t
        want.write('{"id": %d, "text": %s, "n": [1, 2]}\n' % (n, json.dumps(t, ensure_ascii=False)))
EOF
for j in 1 2; do
    "$DEDUP" filter -j $j "$T/emptied.jsonl" >"$T/emptied-out-$j" 2>"$T/err"
    st=$?
    [ $st = 0 ] && cmp -s "$T/emptied-out-$j" "$T/emptied-want.jsonl" &&
        ok "-j $j: a kept record whose every line repeats earlier records is written with an empty text" ||
        not_ok "-j $j: a kept record whose every line repeats earlier records is written with an empty text" \
            "exit $st: $(cat "$T/err"); $(head -c 300 "$T/emptied-out-$j")"
done
finish
