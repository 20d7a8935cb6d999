#!/usr/bin/env bash
# What clean writes is a fixed point (issue 15, item 6). On the seed
# articles with their syndicated copies, and on 240 news-like documents
# built from the seeds' paragraphs by tests/make_fixed_point.py (short lines
# repeated together with boilerplate between them, an article printed after
# paragraphs of another, a paragraph first printed in a copy, light edits):
#   - clean -o of clean -o's output writes the same files;
#   - scan of that output finds nothing (exit 0), and the pre-commit check of
#     every file of it finds nothing (exit 0);
#   - a second clean --in-place changes nothing (--dry-run exit 0);
#   - the same with the generated documents as records of a JSONL shard
#     (clean -o only);
#   - the rounds of decisions on threads decide as one thread does.
# Before, one pass of the rule decided on the text as read, and a second
# pass acted on what the first made of it (lines brought together, a
# document left a copy, a paragraph whose match was in a copy left out).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

python3 "$FIXTURES/../tests/make_fixed_point.py" generated || not_ok "make_fixed_point.py runs"
[ "$(find generated -type f | wc -l)" = 240 ] && ok "a generated corpus of 240 documents" ||
    not_ok "a generated corpus of 240 documents" "$(ls generated | head)"
mkdir -p news
cp -r "$FIXTURES/seeds" "$FIXTURES/variants" news/
rm -f news/variants/README.md

# fixed_point NAME DIR: the checks above on the documents of DIR.
fixed_point() {
    local name=$1 dir=$2
    rm -rf once twice inplace
    expect_status "$name: clean -o" 0 "$DEDUP" clean -q "$dir" -o once
    local removed
    removed=$("$DEDUP" scan -q -f jsonl "$dir" | sed -n 's/.*"paragraphs_removed":\([0-9]*\).*/\1/p')
    [ "${removed:-0}" -gt 0 ] && ok "$name: ... which has paragraphs to remove ($removed)" ||
        not_ok "$name: ... which has paragraphs to remove" "scan says ${removed:-nothing}"
    expect_status "$name: clean -o of its output" 0 "$DEDUP" clean -q once -o twice
    if diff -r once twice >"$T/diff"; then
        ok "$name: ... writes the same files"
    else
        not_ok "$name: ... writes the same files" "$(head -c 1500 "$T/diff")"
    fi
    expect_status "$name: scan of the output finds nothing (exit 0)" 0 "$DEDUP" scan -q -f text once
    [ ! -s "$T/out" ] || not_ok "$name: ... and reports nothing" "$(head -c 1500 "$T/out")"
    local files=()
    mapfile -t files < <(find once -type f | LC_ALL=C sort)
    expect_status "$name: check of every file of the output finds nothing (exit 0)" 0 \
        "$DEDUP" check -q "${files[@]}"
    [ ! -s "$T/out" ] || not_ok "$name: ... and prints nothing" "$(head -c 1500 "$T/out")"

    cp -r "$dir" inplace
    expect_status "$name: clean --in-place" 0 "$DEDUP" clean -q --in-place inplace
    cp -r inplace inplace.first
    expect_status "$name: a second clean --in-place would change nothing (exit 0)" 0 \
        "$DEDUP" clean -q --in-place --dry-run inplace
    [ ! -s "$T/out" ] || not_ok "$name: ... and shows no change" "$(head -c 1500 "$T/out")"
    expect_status "$name: a second clean --in-place" 0 "$DEDUP" clean -q --in-place inplace
    if diff -r inplace.first inplace >"$T/diff"; then
        ok "$name: ... changes nothing"
    else
        not_ok "$name: ... changes nothing" "$(head -c 1500 "$T/diff")"
    fi
    rm -rf inplace.first
}
fixed_point seeds news
fixed_point generated generated

# The same documents as records of a JSONL shard (clean writes cleaned
# shards with -o only): the records read again for a later round are read
# from the shard.
mkdir -p shard
python3 - <<'EOF'
import json, os
with open("shard/generated.jsonl", "w", encoding="utf-8") as out:
    for root, dirs, files in sorted(os.walk("generated")):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            out.write(json.dumps({"id": os.path.relpath(path, "generated"), "text": text},
                                 ensure_ascii=False) + "\n")
EOF
rm -rf once twice
expect_status "shard: clean -o" 0 "$DEDUP" clean -q shard -o once
expect_status "shard: clean -o of its output" 0 "$DEDUP" clean -q once -o twice
if cmp once/generated.jsonl twice/generated.jsonl >"$T/diff" 2>&1; then
    ok "shard: ... writes the same shard"
else
    not_ok "shard: ... writes the same shard" "$(head -c 1500 "$T/diff")"
fi
expect_status "shard: scan of the output finds nothing (exit 0)" 0 "$DEDUP" scan -q -f text once
[ ! -s "$T/out" ] || not_ok "shard: ... and reports nothing" "$(head -c 1500 "$T/out")"
expect_status "shard: check of the output finds nothing (exit 0)" 0 \
    "$DEDUP" check -q once/generated.jsonl
[ ! -s "$T/out" ] || not_ok "shard: ... and prints nothing" "$(head -c 1500 "$T/out")"

# The rounds analyse documents again on -j threads: the same decisions.
"$DEDUP" scan -q -j 1 -f jsonl generated >one.jsonl
"$DEDUP" scan -q -j 3 -f jsonl generated >three.jsonl
expect_same "generated: scan -j 3 reports what -j 1 does" one.jsonl three.jsonl
finish
