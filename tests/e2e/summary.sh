#!/usr/bin/env bash
# What a run says about itself: the one-line summary on stderr of scan,
# clean, check and index build/add (silenced by -q), the progress line on a
# terminal (script(1) gives stderr one), and the header and summary records
# that open and end a JSON lines report.
. "$(dirname "$0")/lib.sh"
cd "$FIXTURES"
V=(variants/000_syndicated.txt variants/002_near_identical.txt variants/003_rewrapped.txt variants/004_truncated.txt)

# on_tty FILE CMD: runs the shell command CMD with a terminal as its stderr
# (and stdout, which CMD redirects); what the terminal received goes to
# FILE, its line ends ("\r\n") turned back into "\n".
on_tty() {
    local out=$1
    shift
    script -qfec "$*" /dev/null </dev/null |
        python3 -c 'import sys; sys.stdout.buffer.write(sys.stdin.buffer.read().replace(b"\r\n", b"\n"))' >"$out"
}
have_script=false
command -v script >/dev/null && have_script=true

# --- scan ---------------------------------------------------------------------------
"$DEDUP" scan -f text seeds "${V[@]}" >"$T/out" 2>"$T/err"
echo "dedup scan: 9 documents, 4 clusters, 4 copies, 6 repeats, 0 boilerplate; clean -o would remove 9 paragraphs and 18299 of 37045 bytes" >"$T/want"
expect_same "scan: the summary of the seeds and variants" "$T/want" "$T/err"
"$DEDUP" scan -q -f text seeds "${V[@]}" >"$T/out-q" 2>"$T/err"
[ ! -s "$T/err" ] && cmp -s "$T/out" "$T/out-q" && ok "scan -q: nothing on stderr, the same report" \
    || not_ok "scan -q: nothing on stderr, the same report" "$(cat "$T/err")"

# What scan says clean would remove is what clean -o removes: the bytes
# (wc -c of the inputs and of the cleaned copies) and the paragraphs (here
# one a line: the non-blank lines that are gone).
"$DEDUP" clean seeds "${V[@]}" -o "$T/cleaned" >/dev/null 2>"$T/err"
echo "dedup clean: 9 documents, 4 clusters: 4 copies left out, 9 paragraphs and 18299 of 37045 bytes removed; 5 files written under $T/cleaned" >"$T/want"
expect_same "clean -o: the summary" "$T/want" "$T/err"
bytes_in=$(cat seeds/*.txt "${V[@]}" | wc -c)
bytes_out=$(find "$T/cleaned" -type f -exec cat {} + | wc -c)
[ "$bytes_in" = 37045 ] && [ $((bytes_in - bytes_out)) = 18299 ] \
    && ok "... its bytes are what the cleaned copies lack (wc -c)" \
    || not_ok "... its bytes are what the cleaned copies lack (wc -c)" "in $bytes_in, out $bytes_out"
lines_in=$(grep -h '[^[:space:]]' seeds/*.txt | wc -l)
lines_out=$(grep -h '[^[:space:]]' "$T/cleaned"/*.txt | wc -l)
[ $((lines_in - lines_out)) = 9 ] && ok "... and its paragraphs the non-blank lines they lack" \
    || not_ok "... and its paragraphs the non-blank lines they lack" "$lines_in before, $lines_out after"
rm -rf "$T/cleaned"
"$DEDUP" clean -q seeds "${V[@]}" -o "$T/cleaned" >"$T/out" 2>"$T/err"
[ $? = 0 ] && [ ! -s "$T/err" ] && [ ! -s "$T/out" ] && [ "$(ls "$T/cleaned" | wc -l)" = 5 ] \
    && ok "clean -q: nothing on stderr, the copies written" || not_ok "clean -q: nothing on stderr, the copies written" "$(cat "$T/err")"

mkdir "$T/ip"
cp seeds/*.txt "${V[@]}" "$T/ip/"
"$DEDUP" clean --in-place --dry-run "$T/ip" >/dev/null 2>"$T/err"
echo "dedup clean: 9 documents, 4 clusters: 4 copies would be left in place (--in-place removes lines, never files; dedup scan lists them), 9 paragraphs and 2864 of 37045 bytes would be removed; 4 files would change; nothing written" >"$T/want"
expect_same "clean --in-place --dry-run: the summary" "$T/want" "$T/err"
"$DEDUP" clean --in-place "$T/ip" >/dev/null 2>"$T/err"
echo "dedup clean: 9 documents, 4 clusters: 4 copies left in place (--in-place removes lines, never files; dedup scan lists them), 9 paragraphs and 2864 of 37045 bytes removed; 4 files changed" >"$T/want"
expect_same "clean --in-place: the summary" "$T/want" "$T/err"
[ "$(cat "$T/ip"/* | wc -c)" = $((37045 - 2864)) ] && ok "... its bytes are what the files lost (wc -c)" \
    || not_ok "... its bytes are what the files lost (wc -c)" "$(cat "$T/ip"/* | wc -c)"

# A byte-order mark stays when the first line goes; "\r\n" and a last line
# without a line end are counted as clean removes them.
mkdir "$T/bom"
printf 'shared paragraph with quite a few words in it\n' >"$T/bom/a.txt"
printf '\xef\xbb\xbfshared paragraph with quite a few words in it\r\nunique other line of b with several words\r\n\r\nshared paragraph with quite a few words in it\r' >"$T/bom/b.txt"
for unit in line block; do
    "$DEDUP" scan -f text --unit $unit "$T/bom" 2>&1 >/dev/null | tail -n 1 >"$T/bom-summary"
    "$DEDUP" clean -q --unit $unit "$T/bom" -o "$T/bom-$unit"
    want=$(($(cat "$T/bom"/* | wc -c) - $(cat "$T/bom-$unit"/* | wc -c)))
    got=$(sed -n 's/^dedup scan: .* and \([0-9]*\) of [0-9]* bytes$/\1/p' "$T/bom-summary")
    [ "$got" = "$want" ] && ok "--unit $unit: the bytes scan says clean removes, with a BOM and CRLF lines, are what it removes ($want)" \
        || not_ok "--unit $unit: the bytes scan says clean removes, with a BOM and CRLF lines, are what it removes" "$got, want $want"
done

# --- check ------------------------------------------------------------------------
mkdir -p "$T/repo/data"
cp seeds/*.txt variants/0*.txt "$T/repo/data/"
printf 'A new article about something else entirely, with its own words.\nAnd a second paragraph that no other file has in it at all.\n' >"$T/repo/data/new.txt"
cd "$T/repo"
"$DEDUP" check data/000_syndicated.txt data/002_near_identical.txt >"$T/out" 2>"$T/err"
st=$?
echo "dedup check: 2 files checked, against the 8 other files of their folders: 2 findings" >"$T/want"
[ $st = 1 ] && ok "check with findings: exit 1" || not_ok "check with findings: exit 1" "exit $st"
expect_same "... and its summary" "$T/want" "$T/err"
[ "$(wc -l <"$T/out")" = 2 ] && ok "... after the two findings on stdout" || not_ok "... after the two findings on stdout" "$(cat "$T/out")"
"$DEDUP" check -q data/000_syndicated.txt data/002_near_identical.txt >"$T/out-q" 2>"$T/err"
st=$?
[ $st = 1 ] && [ ! -s "$T/err" ] && cmp -s "$T/out" "$T/out-q" && ok "check -q: the same findings and exit 1, nothing on stderr" \
    || not_ok "check -q: the same findings and exit 1, nothing on stderr" "exit $st: $(cat "$T/err")"
expect_status "check of a file with nothing found: exit 0" 0 "$DEDUP" check data/new.txt
[ ! -s "$T/out" ] && [ ! -s "$T/err" ] && ok "... quiet: nothing on stdout or stderr (pre-commit: fast, quiet when clean)" \
    || not_ok "... quiet: nothing on stdout or stderr" "$(cat "$T/out" "$T/err")"
"$DEDUP" check --write-baseline "$T/baseline" data/000_syndicated.txt >/dev/null 2>"$T/err"
echo "dedup check: 1 file checked, against the 9 other files of their folders: 1 finding written to $T/baseline as accepted" >"$T/want"
expect_same "check --write-baseline: the summary" "$T/want" "$T/err"
"$DEDUP" check --baseline "$T/baseline" data/000_syndicated.txt data/002_near_identical.txt >/dev/null 2>"$T/err"
echo "dedup check: 2 files checked, against the 8 other files of their folders: 1 finding, 1 more accepted by the baseline" >"$T/want"
expect_same "check --baseline: the summary counts the accepted ones" "$T/want" "$T/err"
cd "$FIXTURES"

# --- index build and add ------------------------------------------------------------
"$DEDUP" index build seeds -o "$T/x.ddx" 2>"$T/err"
echo "dedup index build: $T/x.ddx: 5 documents signed, 0 unchanged; 5 in the index; 21610 bytes read" >"$T/want"
expect_same "index build: the summary" "$T/want" "$T/err"
"$DEDUP" index add "$T/x.ddx" seeds "${V[@]}" 2>"$T/err"
echo "dedup index add: $T/x.ddx: 4 documents signed, 5 unchanged; 9 in the index; 15435 bytes read" >"$T/want"
expect_same "index add: the summary" "$T/want" "$T/err"
"$DEDUP" index build -q seeds -o "$T/q.ddx" 2>"$T/err"
[ $? = 0 ] && [ ! -s "$T/err" ] && [ -d "$T/q.ddx" ] && ok "index build -q: nothing on stderr" \
    || not_ok "index build -q: nothing on stderr" "$(cat "$T/err")"

# --- JSON lines: header and summary records -------------------------------------------
# check_report FILE DEDUP-VERSION PROFILE SETTINGS-JSON: the first record
# is the header (this version and profile, the settings given: the listed
# ones must have these values, and every decision option is there), the
# last the summary, whose counts are those of the records between them.
check_report() {
    python3 - "$@" <<'EOF'
import json, sys
path, version, profile, want = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
recs = [json.loads(l) for l in open(path, encoding="utf-8")]
head, summ, body = recs[0], recs[-1], recs[1:-1]
assert head["type"] == "header" and list(head) == ["type", "version", "normalizer", "signatures", "settings"], head
assert head["version"] == version and head["normalizer"] == profile, (head["version"], head["normalizer"])
assert head["signatures"].startswith("minhash/"), head["signatures"]
keys = ["unit", "min_words", "boilerplate_df", "para_threshold", "near", "method", "threshold",
        "containment", "min_shingles", "size_ratio", "recall", "ngram", "num_perm", "bands", "rows",
        "hamming", "keep", "verify", "max_record", "key", "index", "whole_files", "field",
        "id_field"]
assert list(head["settings"]) == keys, list(head["settings"])
for k, v in want.items():
    assert head["settings"][k] == v, (k, head["settings"][k], v)
assert summ["type"] == "summary", summ
assert all(r["type"] in ("cluster", "repeat", "boilerplate", "index") for r in body), body
count = lambda t: sum(r["type"] == t for r in body)
assert summ["clusters"] == count("cluster"), summ
assert summ["repeats"] == count("repeat"), summ
assert summ["boilerplate"] == count("boilerplate"), summ
assert summ["index"] == count("index"), summ
assert summ["copies"] == sum(len(r["members"]) - 1 for r in body if r["type"] == "cluster"), summ
print("documents %(documents)d bytes %(bytes)d errors %(errors)d clusters %(clusters)d copies %(copies)d "
      "repeats %(repeats)d boilerplate %(boilerplate)d index %(index)d paragraphs_removed "
      "%(paragraphs_removed)d bytes_removed %(bytes_removed)d" % summ)
EOF
}
version=$("$DEDUP" --version | sed -n 's/^dedup //p')
profile=$("$SHINGLE" --profile)

"$DEDUP" scan -f jsonl seeds "${V[@]}" >"$T/r.jsonl" 2>"$T/err"
got=$(check_report "$T/r.jsonl" "$version" "$profile" \
    '{"unit":"line","threshold":0.8,"bands":64,"rows":2,"verify":"exact","key":null,"index":null,"whole_files":false,"field":"text","id_field":null}' 2>&1)
[ "$got" = "documents 9 bytes 37045 errors 0 clusters 4 copies 4 repeats 6 boilerplate 0 index 0 paragraphs_removed 9 bytes_removed 18299" ] \
    && ok "jsonl: header, then the records, then a summary that counts them" \
    || not_ok "jsonl: header, then the records, then a summary that counts them" "$got"

opts=(--unit block --threshold 0.7 --boilerplate-df 2 --keep longest --no-near --key-file keys/test.key
    --field body --id-field meta.id --whole-files)
"$DEDUP" scan -f jsonl "${opts[@]}" seeds >"$T/r.jsonl" 2>/dev/null
"$DEDUP" clean -q "${opts[@]}" seeds -o "$T/cleaned-block"
removed=$((21610 - $(cat "$T/cleaned-block"/* | wc -c)))
"$DEDUP" index build -q --key-file keys/test.key seeds -o "$T/k.ddx"
fingerprint=$("$DEDUP" index info "$T/k.ddx" | sed -n 's/^key fingerprint: //p')
got=$(check_report "$T/r.jsonl" "$version" "$profile" \
    "{\"unit\":\"block\",\"threshold\":0.7,\"boilerplate_df\":2,\"keep\":\"longest\",\"near\":false,\"key\":\"$fingerprint\",\"whole_files\":true,\"field\":\"body\",\"id_field\":\"meta.id\"}" 2>&1)
[ -n "$fingerprint" ] && [ "$got" = "documents 5 bytes 21610 errors 0 clusters 0 copies 0 repeats 2 boilerplate 1 index 0 paragraphs_removed 5 bytes_removed $removed" ] \
    && ok "jsonl: the header's settings are the options given (the key by its fingerprint)" \
    || not_ok "jsonl: the header's settings are the options given (the key by its fingerprint)" "$fingerprint: $got"

mkdir "$T/incoming"
cp variants/000_syndicated.txt "$T/incoming/new.txt"
"$DEDUP" scan -f jsonl --index "$T/x.ddx" "$T/incoming" >"$T/r.jsonl" 2>"$T/err"
got=$(check_report "$T/r.jsonl" "$version" "$profile" "{\"index\":\"$T/x.ddx\"}" 2>&1)
[ "$got" = "documents 1 bytes 3696 errors 0 clusters 0 copies 0 repeats 0 boilerplate 0 index 1 paragraphs_removed 0 bytes_removed 0" ] \
    && ok "jsonl with --index: the index records counted, the index named in the settings" \
    || not_ok "jsonl with --index: the index records counted, the index named in the settings" "$got"
echo "dedup scan: 1 document, 0 clusters, 0 copies, 0 repeats, 0 boilerplate, 1 finding in the index; clean -o would remove 0 paragraphs and 0 of 3696 bytes" >"$T/want"
expect_same "... and the summary line says so" "$T/want" "$T/err"

"$DEDUP" scan -f jsonl "$T/no-such-dir" seeds/000_bd77016b1ff7f277.txt >"$T/r.jsonl" 2>"$T/err"
got=$(check_report "$T/r.jsonl" "$version" "$profile" '{}' 2>&1)
[ "$got" = "documents 1 bytes 3910 errors 1 clusters 0 copies 0 repeats 0 boilerplate 0 index 0 paragraphs_removed 0 bytes_removed 0" ] \
    && ok "jsonl: an input error is counted in the summary" || not_ok "jsonl: an input error is counted in the summary" "$got"

# --- LSH buckets that reach their cap ------------------------------------------------
# Documents that share one long line and differ in the rest are not copies,
# but share band keys: past 32 representatives in a bucket (near.h's
# DD_BUCKET_CAP), later ones are listed in its sub-buckets, by a second key
# (tests/e2e/hot_buckets.sh has the copies this finds). The summaries say
# how many buckets were full, how many entries went to sub-buckets, how many
# sub-buckets were full and how many entries were left out (none here: the
# rest of these documents differ), the same at every -j (the threads'
# batches count as the one thread does); with 32 documents no bucket can be
# full, and nothing is said.
hot() { # hot DIR N: N such documents
    PYTHONPATH="$TESTS" python3 - "$FIXTURES/seeds" "$1" "$2" <<'EOF2'
import sys
from gen_docs import Words, write_files
g = Words(sys.argv[1], seed=17)
word = lambda: g.rng.choice(g.words)
shared = " ".join(word() for _ in range(40))
docs = [[shared] + [" ".join(word() for _ in range(20)) for _ in range(4)] for _ in range(int(sys.argv[3]))]
write_files(sys.argv[2], docs, "doc%03d.txt")
EOF2
}
hot "$T/hot60" 60
hot "$T/hot32" 32
for j in 1 2 3; do
    "$DEDUP" scan -j $j -f jsonl "$T/hot60" >"$T/hot$j.jsonl" 2>"$T/hot$j.err"
    python3 -c '
import json, sys
s = json.loads(open(sys.argv[1]).read().splitlines()[-1])
print(*(s.get(k, "none") for k in ("full_buckets", "bucket_entries_split", "full_sub_buckets",
                                    "bucket_entries_left_out")))' "$T/hot$j.jsonl" >"$T/hot$j.counts"
done
read -r full split full_sub left <"$T/hot1.counts"
[ "$full" != none ] && [ "$full" -ge 1 ] && [ "$split" -ge 1 ] && [ "$full_sub" = 0 ] &&
    [ "$left" = 0 ] &&
    ok "jsonl summary: $full LSH buckets full, $split entries split, none left out" ||
    not_ok "jsonl summary: LSH buckets full, entries split, none left out" "$(tail -1 "$T/hot1.jsonl")"
cmp -s "$T/hot1.counts" "$T/hot2.counts" && cmp -s "$T/hot1.counts" "$T/hot3.counts" &&
    ok "... the same counts at -j 1, 2 and 3" ||
    not_ok "... the same counts at -j 1, 2 and 3" "$(cat "$T/hot1.counts" "$T/hot2.counts" "$T/hot3.counts")"
bucket_words="buckets"
[ "$full" = 1 ] && bucket_words="bucket"
entry_words="entries"
[ "$split" = 1 ] && entry_words="entry"
expect_grep "... and the summary line: the same counts" \
    "; $full LSH $bucket_words full (32 documents), split: $split $entry_words in sub-buckets, 0 left out" "$T/hot1.err"
"$DEDUP" clean "$T/hot60" -o "$T/hot-cleaned" >/dev/null 2>"$T/err"
expect_grep "clean's summary line: the same counts" \
    "written under $T/hot-cleaned; $full LSH $bucket_words full (32 documents), split: $split $entry_words in sub-buckets, 0 left out" "$T/err"
"$DEDUP" scan -f jsonl "$T/hot32" >"$T/r.jsonl" 2>"$T/err"
! grep -q 'full_buckets\|bucket_entries' "$T/r.jsonl" && ! grep -q 'LSH bucket' "$T/err" &&
    ok "32 documents: no bucket full, nothing said" ||
    not_ok "32 documents: no bucket full, nothing said" "$(tail -1 "$T/r.jsonl") $(cat "$T/err")"

# --- progress on a terminal ---------------------------------------------------------
if $have_script; then
    # progress_seen NAME FILE START: FILE (what a terminal received) has
    # the progress line from its first update, START ("dedup scan: 1 file,
    # 0.0 MB, "), then the line erased: "\r", spaces, "\r".
    progress_seen() {
        if grep -qF "$(printf '\r')$3" "$2" && grep -q "$(printf '\r') *$(printf '\r')" "$2"; then
            ok "$1"
        else
            not_ok "$1" "$(cat -A "$2" | head -c 600)"
        fi
    }
    on_tty "$T/tty" "$DEDUP scan -f text seeds ${V[*]} >/dev/null"
    progress_seen "scan: a progress line on a terminal, erased at the end" "$T/tty" "dedup scan: 1 file, 0.0 MB, "
    # the share read (3910 of 37045 bytes after the first seed), then the
    # phase of the decisions
    grep -qF "$(printf '\r')dedup scan: 1 file, 0.0 MB, " "$T/tty" &&
        grep -q "$(printf '\r')dedup scan: 1 file, 0.0 MB, [0-9.]* MB/s, 10%" "$T/tty" &&
        grep -qF "$(printf '\r')dedup scan: deciding" "$T/tty" &&
        ok "scan: the share read, then the phase 'deciding'" ||
        not_ok "scan: the share read, then the phase 'deciding'" "$(cat -A "$T/tty" | head -c 600)"
    tail -n 1 "$T/tty" | sed 's/^.*\r//' >"$T/last"
    echo "dedup scan: 9 documents, 4 clusters, 4 copies, 6 repeats, 0 boilerplate; clean -o would remove 9 paragraphs and 18299 of 37045 bytes" >"$T/want"
    expect_same "... and then the summary" "$T/want" "$T/last"
    on_tty "$T/tty" "$DEDUP clean seeds -o $T/tty-clean >/dev/null"
    progress_seen "clean: a progress line on a terminal" "$T/tty" "dedup clean: 1 file, 0.0 MB, "
    grep -qF "$(printf '\r')dedup clean: writing: 1 file, 0.0 MB, " "$T/tty" && ok "... and one while it writes" \
        || not_ok "... and one while it writes" "$(cat -A "$T/tty" | head -c 600)"
    # filter: the share of a plain file; none for a compressed one, whose
    # records hold more bytes than the file
    on_tty "$T/tty" "$DEDUP filter --lines seeds/000_bd77016b1ff7f277.txt >/dev/null"
    grep -q "dedup filter: [0-9]* records, 0.0 MB, [0-9.]* MB/s, 100%" "$T/tty" \
        && ok "filter: the share of a plain file read" || not_ok "filter: the share of a plain file read" "$(cat -A "$T/tty" | head -c 600)"
    gzip -c seeds/000_bd77016b1ff7f277.txt >"$T/seed.gz"
    on_tty "$T/tty" "$DEDUP filter --lines $T/seed.gz >/dev/null"
    grep -q "dedup filter: [0-9]* records, 0.0 MB, [0-9.]* MB/s" "$T/tty" && ! grep -q '%' "$T/tty" \
        && ok "filter: no share of a compressed input" || not_ok "filter: no share of a compressed input" "$(cat -A "$T/tty" | head -c 600)"
    on_tty "$T/tty" "cd $T/repo && $DEDUP check data/new.txt >/dev/null"
    progress_seen "check: a progress line on a terminal" "$T/tty" "dedup check: 1 file, 0.0 MB, "
    # no line written: only the progress line, ending erased ("\r")
    [ "$(tr -cd '\n' <"$T/tty" | wc -c)" = 0 ] && [ "$(tail -c 1 "$T/tty")" = "$(printf '\r')" ] \
        && ok "... erased, and nothing else when nothing is found" \
        || not_ok "... erased, and nothing else when nothing is found" "$(cat -A "$T/tty")"
    on_tty "$T/tty" "$DEDUP index build seeds -o $T/tty.ddx"
    progress_seen "index build: a progress line on a terminal" "$T/tty" "dedup index build: 0 files, 0.0 MB, "
    on_tty "$T/tty" "$DEDUP index add $T/tty.ddx ${V[*]}"
    progress_seen "index add: a progress line on a terminal" "$T/tty" "dedup index add: 0 files, 0.0 MB, "
    for cmd in "scan -f text seeds" "clean seeds -o $T/tty-q" "check $T/repo/data/000_syndicated.txt" \
        "index build seeds -o $T/tty-q.ddx" "index add $T/tty-q.ddx ${V[*]}" "filter --lines seeds/000_bd77016b1ff7f277.txt"; do
        name=$(echo "$cmd" | cut -d' ' -f1)
        [ "$name" = index ] && name=$(echo "$cmd" | cut -d' ' -f1-2)
        on_tty "$T/tty" "$DEDUP $cmd -q >/dev/null"
        [ ! -s "$T/tty" ] && ok "$name -q: nothing on a terminal" || not_ok "$name -q: nothing on a terminal" "$(cat -A "$T/tty")"
    done
fi
# Without a terminal: no progress line, only the summary (compared exactly
# above); here on a long enough run that a line would have been drawn.
mkdir "$T/many"
for i in $(seq 1 300); do cp seeds/00$((i % 5))_*.txt "$T/many/$i.txt"; done
"$DEDUP" scan -f text "$T/many" >/dev/null 2>"$T/err"
[ "$(wc -l <"$T/err")" = 1 ] && ! grep -q "$(printf '\r')" "$T/err" && grep -q '^dedup scan: 300 documents, ' "$T/err" \
    && ok "no progress line when stderr is a file" || not_ok "no progress line when stderr is a file" "$(cat -A "$T/err" | head -c 600)"
finish
