#!/usr/bin/env bash
# scan --jsonl -: standard input read as a shard of JSON records (plain,
# gzip or zstd), each record a document named by its id or -:LINE, with the
# same findings as the same records in a file; without --jsonl standard
# input stays one document.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

mkdir files
cp "$FIXTURES"/seeds/*.txt "$FIXTURES"/variants/*.txt files/
python3 - <<'EOF'
import json, os
with open("all.jsonl", "w", encoding="utf-8") as out:
    for name in sorted(os.listdir("files")):
        text = open(os.path.join("files", name), encoding="utf-8").read()
        out.write(json.dumps({"id": name[:-4], "text": text}, ensure_ascii=False) + "\n")
EOF

# The report of the file, its shard named - instead of all.jsonl.
"$DEDUP" scan -f text all.jsonl >file.text 2>&1
sed 's/all\.jsonl/-/g' file.text >want
for how in cat "gzip -c" "zstd -q -c"; do
    $how all.jsonl | "$DEDUP" scan -f text --jsonl - >got 2>&1
    expect_same "$how | scan --jsonl -: the findings and summary of the same records in a file" want got
done
expect_grep "... a record named by its id and -:LINE" \
    "-:2: [000_syndicated] near-duplicate of -:1 [000_bd77016b1ff7f277] (jaccard 0.77, containment 0.89)" got
zstd -q -c all.jsonl | "$DEDUP" scan -q -f jsonl --jsonl - >stdin.jsonl
expect_grep "the JSON report: shard \"-\" and shard_line" '{"doc":"000_syndicated","shard":"-","shard_line":2,' stdin.jsonl
zstd -q -c all.jsonl | "$DEDUP" scan -q -f jsonl -j 1 --jsonl - >j1.jsonl
zstd -q -c all.jsonl | "$DEDUP" scan -q -f jsonl -j 3 --jsonl - >j3.jsonl
expect_same "-j 1 and -j 3 give the same report" j1.jsonl j3.jsonl
sed -n 1,4p all.jsonl >first.jsonl
cat first.jsonl | "$DEDUP" scan -q -f text --jsonl - files/000_syndicated.txt >got
expect_grep "records of standard input beside a file" \
    "files/000_syndicated.txt: near-duplicate of -:1 [000_bd77016b1ff7f277] (jaccard 0.77, containment 0.89)" got
sed 's/^{"id": "[^"]*", /{/' all.jsonl | "$DEDUP" scan -q -f text --jsonl - >got
expect_grep "records without an id: -:LINE" "-:2: near-duplicate of -:1 (jaccard 0.77, containment 0.89)" got

# Without --jsonl: one document, as before.
"$DEDUP" scan -f text - <all.jsonl >/dev/null 2>err
expect_grep "without --jsonl standard input is one document" "dedup scan: 1 document," err

# Bad input.
{
    sed -n 1p all.jsonl
    echo '{"id": "x", "text": broken'
    sed -n 2p all.jsonl
} | "$DEDUP" scan -q -f text --jsonl - >got 2>err
st=$?
[ $st = 2 ] && ok "a malformed record on standard input: exit 2" || not_ok "a malformed record on standard input: exit 2" "exit $st"
expect_grep "... named -:LINE" "dedup: -:2: not JSON: invalid token near 'broken' at column 26; left out of the comparison" err
expect_grep "... the others compared" "-:3: [000_syndicated] near-duplicate of -:1 [000_bd77016b1ff7f277]" got
gzip -c all.jsonl >full.gz
head -c $(($(stat -c %s full.gz) / 2)) full.gz | "$DEDUP" scan -q -f text --jsonl - >/dev/null 2>err
st=$?
[ $st = 2 ] && grep -qE '^dedup: -:[0-9]+: truncated gzip data; only the [0-9]+ lines? before it (is|are) read$' err &&
    ok "truncated gzip on standard input: exit 2, naming the line" ||
    not_ok "truncated gzip on standard input: exit 2, naming the line" "exit $st: $(cat err)"
mkdir scratch
zstd -q -c all.jsonl | TMPDIR=$T/scratch "$DEDUP" scan -q -f jsonl --jsonl - >/dev/null
[ -z "$(ls -A scratch)" ] && ok "the scratch file is gone after the run" || not_ok "the scratch file is gone after the run" "$(ls -A scratch)"
expect_status "--jsonl with --whole-files: exit 2" 2 "$DEDUP" scan --jsonl --whole-files - </dev/null
expect_grep "... saying why" "give one of them" "$T/err"
expect_status "--jsonl is not an option of clean" 2 "$DEDUP" clean --jsonl files -o out

finish
