#!/usr/bin/env bash
# JSONL shards as documents: scan, clean, check and index build/add read
# files named *.jsonl, *.jsonl.gz and *.jsonl.zst as shards of records, one
# document a record, named by its id (--id-field, default id) or SHARD:LINE.
#   - the same texts as files and as records (plain, gzip, zstd) give the
#     same clusters, repeats and removals: the JSON reports are the same once
#     each document is called by its name;
#   - clean -o writes cleaned shards mirroring the inputs (name, compression,
#     kept records byte for byte and in order, the text field rewritten when
#     lines go), whose texts are those of clean -o of the files;
#   - a folder mixing files and shards; --whole-files;
#   - index build of a shard, then check --index of another;
#   - check on a shard prints SHARD:LINE: findings;
#   - bad input: a malformed record, a record without its text field, a
#     truncated .gz or .zst shard: messages naming shard and line, exit 2.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

# files/: the seeds and their syndicated variants, one file each; the same
# texts, in the same order, as records {"id": NAME, "text": TEXT} of
# all.jsonl (and, compressed, of all.jsonl.gz and all.jsonl.zst).
mkdir files
cp "$FIXTURES"/seeds/*.txt "$FIXTURES"/variants/*.txt files/
python3 - <<'EOF'
import json, os
with open("all.jsonl", "w", encoding="utf-8") as out:
    for name in sorted(os.listdir("files")):
        text = open(os.path.join("files", name), encoding="utf-8").read()
        out.write(json.dumps({"id": name[:-4], "text": text}, ensure_ascii=False) + "\n")
EOF
mkdir plain gz zst
cp all.jsonl plain/all.jsonl
gzip -c all.jsonl >gz/all.jsonl.gz
zstd -q -c all.jsonl >zst/all.jsonl.zst

# by_name REPORT: a JSON lines report with every document called by its
# name only (files/NAME.txt and the record NAME both become NAME; the
# shard and the record's line go), and the header's index setting dropped.
by_name() {
    python3 - "$1" <<'EOF'
import json, re, sys
def name(d):
    return re.sub(r"^files/(.*)\.txt$", r"\1", d)
def fix(o):
    if isinstance(o, dict):
        o.pop("shard", None); o.pop("shard_line", None)
        return {k: (name(v) if k in ("doc", "representative") else fix(v)) for k, v in o.items()}
    if isinstance(o, list):
        return [fix(v) for v in o]
    return o
for line in open(sys.argv[1], encoding="utf-8"):
    print(json.dumps(fix(json.loads(line)), sort_keys=True, ensure_ascii=False))
EOF
}

"$DEDUP" scan -q -f jsonl files >files.scan
st=$?
[ $st = 1 ] && grep -q '"type":"cluster"' files.scan && ok "scan of the files finds clusters (exit 1)" ||
    not_ok "scan of the files finds clusters (exit 1)" "exit $st"
by_name files.scan >files.named
for dir in plain gz zst; do
    shard=$(ls "$dir")
    expect_status "scan of $shard: one document a record, exit 1" 1 "$DEDUP" scan -q -f jsonl "$dir"
    by_name "$T/out" >"$dir.named"
    expect_same "... the same clusters, repeats and summary as the files, by name" files.named "$dir.named"
done
"$DEDUP" scan -q -f jsonl gz >gz.scan
expect_grep "a JSON report names the record: doc (its id), shard and shard_line" \
    '{"doc":"000_syndicated","shard":"gz/all.jsonl.gz","shard_line":2,' gz.scan

# The text report: SHARD:LINE: [ID] message, the line of the text in it.
expect_status "scan -f text of a shard (exit 1)" 1 "$DEDUP" scan -q -f text plain/all.jsonl
expect_grep "a near-duplicate record: SHARD:LINE: [ID] near-duplicate of SHARD:LINE [ID]" \
    "plain/all.jsonl:2: [000_syndicated] near-duplicate of plain/all.jsonl:1 [000_bd77016b1ff7f277] (jaccard 0.77, containment 0.89)" "$T/out"
expect_grep "a repeat inside a record: the lines of its text" \
    "plain/all.jsonl:4: [002_0b6d1692144c6f75] lines 9-11 repeat lines 6-8 (3 units, 151 words)" "$T/out"
expect_grep "a repeat of another record's line" \
    "plain/all.jsonl:6: [003_9004b0353d6ebc11] line 21 repeats plain/all.jsonl:1 [000_bd77016b1ff7f277] line 29 (1 unit, 4 words)" "$T/out"
cp "$T/out" plain.text

# The same with -j 1 and -j 2, and records without ids: named SHARD:LINE.
"$DEDUP" scan -q -f text -j 1 plain/all.jsonl >j1.text
"$DEDUP" scan -q -f text -j 2 plain/all.jsonl >j2.text
expect_same "-j 1 and -j 2 give the same report on a shard" j1.text j2.text
mkdir noid
sed 's/^{"id": "[^"]*", /{/' all.jsonl >noid/all.jsonl
expect_status "records without an id (exit 1)" 1 "$DEDUP" scan -q -f text noid/all.jsonl
expect_grep "... are named SHARD:LINE" \
    "noid/all.jsonl:2: near-duplicate of noid/all.jsonl:1 (jaccard 0.77, containment 0.89)" "$T/out"
mkdir nested
sed 's/^{"id": \("[^"]*"\), /{"meta": {"name": \1, "n": 7}, /' all.jsonl >nested/all.jsonl
expect_status "--id-field names records by another field, a dotted path (exit 1)" 1 \
    "$DEDUP" scan -q -f text --id-field meta.name nested/all.jsonl
expect_grep "... its value in brackets" \
    "nested/all.jsonl:2: [000_syndicated] near-duplicate of nested/all.jsonl:1 [000_bd77016b1ff7f277]" "$T/out"
expect_status "--id-field of a number" 1 "$DEDUP" scan -q -f text --id-field meta.n nested/all.jsonl
expect_grep "... is named by its JSON text" "nested/all.jsonl:2: [7] near-duplicate of nested/all.jsonl:1 [7]" "$T/out"

# clean -o: cleaned shards, and the same texts as clean -o of the files.
"$DEDUP" clean -q files -o files.out
for dir in plain gz zst; do
    shard=$(ls "$dir")
    expect_status "clean -o of $shard" 0 "$DEDUP" clean -q "$dir" -o "$dir.out"
    ls "$dir.out" >names
    echo "$shard" >want
    expect_same "... writes one shard of the same name" want names
    case $shard in
    *.gz) gzip -t "$dir.out/$shard" && cat_shard=(zcat) ;;
    *.zst) zstd -q -t "$dir.out/$shard" && cat_shard=(zstdcat) ;;
    *) cat_shard=(cat) ;;
    esac
    [ $? = 0 ] && ok "... with the same compression" || not_ok "... with the same compression"
    "${cat_shard[@]}" "$dir.out/$shard" >"$dir.cleaned"
    python3 - all.jsonl "$dir.cleaned" files files.out <<'EOF' >check.txt
import json, os, sys
inp, out, files, files_out = sys.argv[1:]
in_lines = open(inp, "rb").read().split(b"\n")[:-1]
out_lines = open(out, "rb").read().split(b"\n")[:-1]
ids = [json.loads(l)["id"] for l in in_lines]
kept_ids = [json.loads(l)["id"] for l in out_lines]
problems = []
# the records clean keeps are the files it keeps, in input order
want = [i for i in ids if os.path.exists(os.path.join(files_out, i + ".txt"))]
if kept_ids != want:
    problems.append("kept %s, want %s" % (kept_ids, want))
by_id = dict(zip(ids, in_lines))
for line in out_lines:
    rec = json.loads(line)
    text = open(os.path.join(files_out, rec["id"] + ".txt"), encoding="utf-8").read()
    if rec["text"] != text:
        problems.append("%s: text differs from the cleaned file" % rec["id"])
    orig = by_id[rec["id"]]
    if json.loads(orig)["text"] == text and line != orig:
        problems.append("%s: unchanged record not byte for byte" % rec["id"])
    if json.loads(orig)["text"] != text:
        # only the text value is rewritten: the bytes before it are the same
        head = orig[:orig.index(b'"text":')]
        if not line.startswith(head):
            problems.append("%s: bytes before the text changed" % rec["id"])
print("\n".join(problems) if problems else "fine")
EOF
    expect_grep "... kept records in order, byte for byte or with their text cleaned as the files" fine check.txt
done
grep -q '"id": "002_0b6d1692144c6f75"' plain.cleaned && ! cmp -s <(grep '"002_0b6d1692144c6f75"' all.jsonl) \
    <(grep '"002_0b6d1692144c6f75"' plain.cleaned) && ok "a record that loses lines is rewritten" ||
    not_ok "a record that loses lines is rewritten"
printf '{"id":"a","text":"x"}\n\n{"id":"b","text":"x"}' >last.jsonl
mkdir -p blank && mv last.jsonl blank/
expect_status "clean -o of a shard with a blank line and no newline at its end" 0 \
    "$DEDUP" clean -q blank -o blank.out
printf '{"id":"a","text":"x"}\n\n' >want
expect_same "... keeps the blank line and leaves out the copy" want blank.out/last.jsonl
expect_status "clean --dry-run -o on a shard: diffs, exit 1" 1 "$DEDUP" clean -q --dry-run plain -o dry.out
expect_grep "... the record named SHARD:LINE" "--- plain/all.jsonl:3" "$T/out"
expect_grep "... and where it would go" "+++ dry.out/all.jsonl:3" "$T/out"
grep -A1 -xF -- "--- plain/all.jsonl:2" "$T/out" | grep -qxF "+++ /dev/null" &&
    ok "... a copy goes to /dev/null" || not_ok "... a copy goes to /dev/null" "$(head -3 "$T/out")"
[ ! -e dry.out ] && ok "... nothing written" || not_ok "... nothing written"
# clean --in-place of shards: tests/e2e/shards_inplace.sh.

# A folder of files and shards: the records are documents beside the files.
mkdir mix
cp "$FIXTURES"/seeds/*.txt mix/
python3 - <<'EOF'
import json, os
with open("mix/variants.jsonl", "w", encoding="utf-8") as out:
    for name in ["000_syndicated", "002_near_identical"]:
        text = open("files/" + name + ".txt", encoding="utf-8").read()
        out.write(json.dumps({"id": name, "text": text}, ensure_ascii=False) + "\n")
EOF
gzip mix/variants.jsonl
expect_status "scan of a folder of files and a .jsonl.gz shard (exit 1)" 1 "$DEDUP" scan -q -f text mix
expect_grep "a record is a near-duplicate of a file" \
    "mix/variants.jsonl.gz:1: [000_syndicated] near-duplicate of mix/000_bd77016b1ff7f277.txt (jaccard 0.77, containment 0.89)" "$T/out"
expect_grep "... the other record too" \
    "mix/variants.jsonl.gz:2: [002_near_identical] near-duplicate of mix/002_0b6d1692144c6f75.txt (jaccard 0.96, containment 0.98)" "$T/out"
expect_grep "... and the files are still read as files" \
    "mix/002_0b6d1692144c6f75.txt:9: lines 9-11 repeat lines 6-8 (3 units, 151 words)" "$T/out"
"$DEDUP" scan -f text --whole-files mix >/dev/null 2>"$T/err"
expect_grep "--whole-files: the shard is one file (binary, as gzip is)" \
    "mix/variants.jsonl.gz: a binary file (a NUL byte in its first 8000 bytes), skipped" "$T/err"
expect_grep "... and the run counts 6 documents" "dedup scan: 6 documents" "$T/err"
expect_status "clean -o of the mixed folder" 0 "$DEDUP" clean -q mix -o mix.out
zcat mix.out/variants.jsonl.gz >mix.records
[ -f mix.out/000_bd77016b1ff7f277.txt ] && [ ! -s mix.records ] &&
    ok "... keeps the files and leaves out the two copies from the shard" ||
    not_ok "... keeps the files and leaves out the two copies from the shard" "$(ls mix.out; cat mix.records)"

# index build of a shard, then check --index of another.
sed -n '1p;3p;4p;6p;8p' all.jsonl | gzip >indexed.jsonl.gz # the seeds
sed -n '2p;5p;7p;9p' all.jsonl | zstd -q >new.jsonl.zst       # their variants
expect_status "index build of a .jsonl.gz shard" 0 "$DEDUP" index build -q indexed.jsonl.gz -o idx.ddx
"$DEDUP" index info idx.ddx >info
expect_grep "... indexes each record" "documents: 5" info
expect_status "check --index of a .jsonl.zst shard: findings (exit 1)" 1 \
    "$DEDUP" check -q --index idx.ddx new.jsonl.zst
expect_grep "... a record that copies an indexed one, by its id" \
    "new.jsonl.zst:2: [002_near_identical] near-duplicate of 002_0b6d1692144c6f75 (" "$T/out"
expect_grep "... a repeat inside a record, SHARD:LINE: [ID]" \
    "new.jsonl.zst:4: [004_truncated] lines 9-11 repeat new.jsonl.zst:4 [004_truncated] line 5 (4 words) (see new.jsonl.zst:4)" "$T/out"
expect_status "index add of the other shard" 0 "$DEDUP" index add -q idx.ddx new.jsonl.zst
"$DEDUP" index info idx.ddx >info
expect_grep "... adds its records" "documents: 9" info

# check on a shard, against the files of its folder.
mkdir -p repo/data
cp "$FIXTURES"/seeds/*.txt repo/data/
sed -n '2p;5p;7p;9p' all.jsonl >repo/data/new.jsonl
(cd repo && "$DEDUP" check data/new.jsonl >../check.out 2>../check.err)
st=$?
[ $st = 1 ] && ok "check of a shard among files: findings (exit 1)" || not_ok "check of a shard among files: findings (exit 1)" "exit $st"
expect_grep "... SHARD:LINE: [ID] near-duplicate of the file (see FILE:1)" \
    "data/new.jsonl:1: [000_syndicated] near-duplicate of data/000_bd77016b1ff7f277.txt (jaccard 0.77, containment 0.89) (see data/000_bd77016b1ff7f277.txt:1)" check.out
(cd repo && "$DEDUP" check -q --write-baseline .baseline data/new.jsonl && "$DEDUP" check --baseline .baseline data/new.jsonl >../check.out)
st=$?
[ $st = 0 ] && [ ! -s check.out ] && ok "... a baseline accepts them" || not_ok "... a baseline accepts them" "exit $st: $(cat check.out)"
expect_grep "... keyed by SHARD [ID]" "data/new.jsonl [000_syndicated]	duplicate	data/000_bd77016b1ff7f277.txt" repo/.baseline

# Bad input: named by shard and line, exit 2.
mkdir bad
{
    sed -n 1p all.jsonl
    echo '{"id": "x", "text": broken'
    echo '{"id": "y", "body": "no text field"}'
    echo '{"id": "z", "text": 42}'
    sed -n 2p all.jsonl
} >bad/mixed.jsonl
expect_status "a shard with malformed records: the others are compared, exit 2" 2 \
    "$DEDUP" scan -q -f text bad/mixed.jsonl
expect_grep "... a line that is not JSON, named SHARD:LINE" \
    "dedup: bad/mixed.jsonl:2: not JSON: invalid token near 'broken' at column 26; left out of the comparison" "$T/err"
expect_grep "... a record without the text field" \
    "dedup: bad/mixed.jsonl:3: no field 'text'; left out of the comparison" "$T/err"
expect_grep "... a text field that is not a string" \
    "dedup: bad/mixed.jsonl:4: field 'text' is a number, not a string; left out of the comparison" "$T/err"
expect_grep "... and the good records are still compared" \
    "bad/mixed.jsonl:5: [000_syndicated] near-duplicate of bad/mixed.jsonl:1 [000_bd77016b1ff7f277]" "$T/out"
expect_status "--on-error stop: the first malformed record ends the run" 2 \
    "$DEDUP" scan -q -f text --on-error stop bad/mixed.jsonl
expect_grep "... naming it" "dedup: bad/mixed.jsonl:2: not JSON: invalid token near 'broken' at column 26" "$T/err"
[ ! -s "$T/out" ] && ok "... and reporting nothing" || not_ok "... and reporting nothing" "$(cat "$T/out")"
expect_status "--id-field that a record lacks: malformed, exit 2" 2 \
    "$DEDUP" scan -q -f text --id-field uid bad/mixed.jsonl
expect_grep "... saying which field" "dedup: bad/mixed.jsonl:1: no field 'uid'; left out of the comparison" "$T/err"
expect_status "clean -o with malformed records (skip): exit 2" 2 "$DEDUP" clean -q bad -o bad.skip
sed -n '1,4p' bad/mixed.jsonl >want
expect_same "... copies them through unchanged, and leaves out the copy" want bad.skip/mixed.jsonl
expect_status "clean -o --on-error drop: exit 2" 2 "$DEDUP" clean -q --on-error drop bad -o bad.drop
sed -n 1p bad/mixed.jsonl >want
expect_same "... leaves them out" want bad.drop/mixed.jsonl

gzip -c all.jsonl >full.gz
head -c $(($(stat -c %s full.gz) / 2)) full.gz >bad/cut.jsonl.gz
expect_status "a truncated .jsonl.gz shard: exit 2" 2 "$DEDUP" scan -q -f text bad/cut.jsonl.gz
grep -qE '^dedup: bad/cut\.jsonl\.gz:[0-9]+: truncated gzip data; only the [0-9]+ lines? before it (is|are) read$' "$T/err" &&
    ok "... named, with the line where its data ends" || not_ok "... named, with the line where its data ends" "$(cat "$T/err")"
expect_status "clean -o of it writes nothing (exit 2)" 2 "$DEDUP" clean -q bad/cut.jsonl.gz -o cut.out
[ ! -e cut.out ] && ok "... no output folder" || not_ok "... no output folder"
zstd -q -c all.jsonl >full.zst
head -c $(($(stat -c %s full.zst) / 2)) full.zst >bad/cut.jsonl.zst
expect_status "a truncated .jsonl.zst shard: exit 2" 2 "$DEDUP" scan -q -f text bad/cut.jsonl.zst
expect_grep "... named" "dedup: bad/cut.jsonl.zst:1: truncated zstd data; no record of it is read" "$T/err"
expect_status "index build of a truncated shard: exit 2" 2 "$DEDUP" index build -q bad/cut.jsonl.gz -o cut.ddx
[ ! -e cut.ddx ] && ok "... no index made" || not_ok "... no index made"

# The scratch file of compressed shards: in $TMPDIR, gone after the run;
# a folder where it cannot be made, or a full one, is an error naming the
# shard and the folder.
mkdir scratch
TMPDIR=$T/scratch "$DEDUP" scan -q -f jsonl gz >/dev/null
[ -z "$(ls -A scratch)" ] && ok "the scratch file is gone after the run" || not_ok "the scratch file is gone after the run" "$(ls -A scratch)"
expect_status "a TMPDIR where no scratch file can be made: exit 2" 2 \
    env TMPDIR="$T/no-such-folder" "$DEDUP" scan -q -f text gz
expect_grep "... naming the shard and the folder" \
    "dedup: gz/all.jsonl.gz: cannot make a scratch file in $T/no-such-folder (TMPDIR) for its decompressed records: No such file or directory" "$T/err"
mkdir small
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=16k tmpfs small 2>/dev/null; then
    expect_status "a full scratch disk: exit 2" 2 env TMPDIR="$T/small" "$DEDUP" clean -q gz -o full.out
    expect_grep "... naming the shard and the folder" \
        "dedup: gz/all.jsonl.gz: writing its decompressed records to a scratch file in $T/small (TMPDIR): No space left on device; none of its records is read" "$T/err"
    [ ! -e full.out ] && [ -z "$(ls -A small)" ] && ok "... nothing written, the scratch disk empty" ||
        not_ok "... nothing written, the scratch disk empty"
    umount small
else
    echo "ok - a full scratch disk # skip: cannot mount a small tmpfs here"
fi

finish
