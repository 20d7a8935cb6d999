#!/usr/bin/env bash
# clean --in-place of JSONL shards (plain, gzip, zstd): each shard whose
# records lose lines is replaced atomically by its cleaned content, in the
# same compression, with its mode and times: every line kept in order
# (near-duplicate records stay, as near-duplicate files do), each text that
# loses lines rewritten as clean --in-place rewrites the same text as a
# file, every other byte as it was. Run again, it changes nothing; --dry-run
# shows the diffs; -j 1 and -j 3 write the same; a shard with another hard
# link is refused.
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
        out.write(json.dumps({"id": name[:-4], "text": text, "n": 1}, ensure_ascii=False) + "\n")
EOF
cp -r files files.inplace
expect_status "clean --in-place of the files" 0 "$DEDUP" clean -q --in-place files.inplace

# check SHARD_BEFORE SHARD_AFTER (decompressed): the same lines, each the
# same record but for its text, which is the cleaned file's.
cat >check.py <<'EOF'
import json, sys
before = open(sys.argv[1], "rb").read().split(b"\n")
after = open(sys.argv[2], "rb").read().split(b"\n")
problems = []
if len(before) != len(after):
    problems.append("%d lines, want %d" % (len(after), len(before)))
changed = 0
for b, a in zip(before, after):
    if not b:
        continue
    rb, ra = json.loads(b), json.loads(a)
    text = open("files.inplace/%s.txt" % rb["id"], encoding="utf-8").read()
    if ra["text"] != text:
        problems.append("%s: text is not the cleaned file's" % rb["id"])
    if rb["text"] == text and a != b:
        problems.append("%s: unchanged record not byte for byte" % rb["id"])
    if rb["text"] != text:
        changed += 1
        if not a.startswith(b[:b.index(b'"text":')]) or not a.endswith(b', "n": 1}'):
            problems.append("%s: bytes other than its text changed" % rb["id"])
if changed == 0:
    problems.append("no record changed")
print("\n".join(problems) if problems else "fine")
EOF

for kind in plain gz zst; do
    mkdir "$kind"
    case $kind in
    plain) cp all.jsonl plain/all.jsonl && shard=plain/all.jsonl && unpack=(cat) ;;
    gz) gzip -c all.jsonl >gz/all.jsonl.gz && shard=gz/all.jsonl.gz && unpack=(zcat) ;;
    zst) zstd -q -c all.jsonl >zst/all.jsonl.zst && shard=zst/all.jsonl.zst && unpack=(zstdcat) ;;
    esac
    chmod 640 "$shard"
    touch -d 2020-01-02T03:04:05 "$shard"
    cp -p "$shard" "$kind.before"
    expect_status "clean --in-place of a $kind shard" 0 "$DEDUP" clean -q --in-place "$kind"
    case $kind in
    gz) gzip -t "$shard" ;;
    zst) zstd -q -t "$shard" ;;
    *) ! gzip -t "$shard" 2>/dev/null ;;
    esac && ok "... the same compression" || not_ok "... the same compression"
    [ "$(stat -c '%a %Y' "$shard")" = "$(stat -c '%a %Y' "$kind.before")" ] &&
        ok "... its mode and modification time kept" || not_ok "... its mode and modification time kept" "$(stat -c '%a %Y' "$shard")"
    "${unpack[@]}" "$shard" >after.lines
    python3 check.py all.jsonl after.lines >check.txt
    expect_grep "... every record kept in order, texts as the files cleaned in place, other bytes as they were" fine check.txt
    cp -p "$shard" "$kind.once"
    expect_status "... run again: nothing to change (exit 0)" 0 "$DEDUP" clean --in-place "$kind"
    expect_grep "... 0 files changed" "0 files changed" "$T/err"
    expect_same "... the shard as it was" "$kind.once" "$shard"
done
[ -z "$(find . -name '.dedup-tmp*')" ] && ok "no temporary file left" || not_ok "no temporary file left"

mkdir j1 j3
gzip -c all.jsonl >j1/all.jsonl.gz
cp j1/all.jsonl.gz j3/
"$DEDUP" clean -q -j 1 --in-place j1
"$DEDUP" clean -q -j 3 --in-place j3
expect_same "-j 1 and -j 3 write the same shard" j1/all.jsonl.gz j3/all.jsonl.gz

mkdir dry
cp all.jsonl dry/
expect_status "clean --in-place --dry-run of a shard: diffs, exit 1" 1 "$DEDUP" clean -q --in-place --dry-run dry
expect_grep "... a record named SHARD:LINE" "--- dry/all.jsonl:4" "$T/out"
expect_grep "... where it stays" "+++ dry/all.jsonl:4" "$T/out"
expect_same "... nothing written" all.jsonl dry/all.jsonl

mkdir linked
cp all.jsonl linked/
ln linked/all.jsonl all.link
expect_status "a shard with another hard link: exit 2" 2 "$DEDUP" clean -q --in-place linked
expect_grep "... named, and why" "linked/all.jsonl: has 2 hard links; not cleaned in place" "$T/err"
expect_same "... left as it was" all.jsonl linked/all.jsonl

finish
