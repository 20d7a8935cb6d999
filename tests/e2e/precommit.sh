#!/usr/bin/env bash
# dedup check as a pre-commit hook, through the real pre-commit tool (Debian's
# pre-commit package) in a temporary git repository holding the seed articles.
. "$(dirname "$0")/lib.sh"
root=$(cd "$FIXTURES/.." && pwd)
command -v pre-commit >/dev/null || { not_ok "pre-commit is installed (make deps)"; finish; }
command -v git >/dev/null || { not_ok "git is installed (make deps)"; finish; }

# The hook runs `dedup` from PATH (language: system): the binary under test,
# through a script that writes each run's arguments, one line a run, to
# $T/dedup-runs.
mkdir -p "$T/bin"
cat >"$T/bin/dedup" <<SH
#!/bin/sh
printf '%s\\n' "\$*" >>"$T/dedup-runs"
exec "$DEDUP" "\$@"
SH
chmod +x "$T/bin/dedup"
export PATH="$T/bin:$PATH" PRE_COMMIT_HOME="$T/pre-commit-home" HOME="$T"
# pre-commit runs a hook that does not ask for require_serial in as many
# parallel parts as the machine has processors, and in 2 when TRAVIS is set
# (pre_commit/languages/helpers.py): set, so that a hook without it is split
# on a machine of one processor too.
export TRAVIS=1
export GIT_AUTHOR_NAME=test GIT_AUTHOR_EMAIL=test@example.com
export GIT_COMMITTER_NAME=test GIT_COMMITTER_EMAIL=test@example.com

# The hook definition comes from this repository's .pre-commit-hooks.yaml,
# as a user's config would name it, from a snapshot of the working tree.
mkdir -p "$T/hookrepo"
cp "$root/.pre-commit-hooks.yaml" "$T/hookrepo/"
git -C "$T/hookrepo" init -q && git -C "$T/hookrepo" add . && git -C "$T/hookrepo" commit -qm hooks
rev=$(git -C "$T/hookrepo" rev-parse HEAD)

repo="$T/repo"
mkdir -p "$repo/data"
cp "$FIXTURES"/seeds/*.txt "$repo/data/"
cd "$repo" || exit 2
git init -q
cat >.pre-commit-config.yaml <<CFG
repos:
  - repo: $T/hookrepo
    rev: $rev
    hooks:
      - id: dedup-check
CFG
git add . && git commit -qm "the seed articles"

# A syndicated copy of a seed: refused, with the finding.
cp "$FIXTURES/variants/000_syndicated.txt" data/copy.txt
git add data/copy.txt
pre-commit run >"$T/run1" 2>&1
st=$?
[ $st = 1 ] && ok "pre-commit refuses a syndicated copy (exit 1)" || not_ok "pre-commit refuses a syndicated copy (exit 1)" "exit $st: $(cat "$T/run1")"
expect_grep "and prints the finding" "data/copy.txt:1: near-duplicate of data/000_bd77016b1ff7f277.txt" "$T/run1"
git rm -q --cached data/copy.txt
rm data/copy.txt

# An unrelated new article passes.
cat >data/new.txt <<'TXT'
The harbour authority opened a new container terminal on Monday, doubling the port's capacity.
Officials said the expansion took four years and employed more than two thousand workers.
The first ship to dock was a cargo vessel carrying machinery for a nearby steel plant.
TXT
git add data/new.txt
pre-commit run >"$T/run2" 2>&1
st=$?
[ $st = 0 ] && ok "pre-commit passes an unrelated article" || not_ok "pre-commit passes an unrelated article" "exit $st: $(cat "$T/run2")"
git commit -qm "an article" >/dev/null 2>&1

# A baseline accepts an old finding: 002 repeats a block of paragraphs; once
# accepted, touching 002 passes, while a new finding still fails.
dedup check --write-baseline .dedup-baseline data/002_0b6d1692144c6f75.txt >"$T/wb" 2>&1
st=$?
[ $st = 0 ] && grep -q "002_0b6d1692144c6f75.txt	repeat" .dedup-baseline \
    && ok "--write-baseline records the accepted finding" || not_ok "--write-baseline records the accepted finding" "exit $st: $(cat "$T/wb") $(cat .dedup-baseline)"
# Writing it again replaces it atomically (safe_write.c): its mode stays, and
# a baseline that cannot be written leaves the old one whole.
chmod 640 .dedup-baseline
cp .dedup-baseline "$T/baseline.before"
dedup check --write-baseline .dedup-baseline data/002_0b6d1692144c6f75.txt >/dev/null 2>&1
if [ "$(stat -c %a .dedup-baseline)" = 640 ] && cmp -s .dedup-baseline "$T/baseline.before" &&
    [ -z "$(ls -A | grep dedup-tmp)" ]; then
    ok "--write-baseline again: the same file, its mode kept, no temporary file left"
else
    not_ok "--write-baseline again: the same file, its mode kept, no temporary file left" "$(ls -la)"
fi
# (the messages go through a pipe, which the file size limit does not touch;
# under valgrind the limit stops valgrind itself, so the test is skipped)
# (dedup itself: the PATH script that logs runs would be stopped by the limit)
if ! skip_under_valgrind "a baseline that cannot be written" "ulimit -f 0 stops valgrind"; then
(ulimit -f 0 && "$DEDUP" check --write-baseline .dedup-baseline data/002_0b6d1692144c6f75.txt 2>&1) |
    cat >"$T/wb2"
st=${PIPESTATUS[0]}
if [ $st = 2 ] && grep -q ".dedup-baseline: cannot write: File too large; left as it was" "$T/wb2" &&
    cmp -s .dedup-baseline "$T/baseline.before"; then
    ok "a baseline that cannot be written: exit 2, the old one left whole"
else
    not_ok "a baseline that cannot be written: exit 2, the old one left whole" "exit $st: $(cat "$T/wb2")"
fi
fi
cat >.pre-commit-config.yaml <<CFG
repos:
  - repo: $T/hookrepo
    rev: $rev
    hooks:
      - id: dedup-check
        args: [--baseline, .dedup-baseline]
CFG
git add .pre-commit-config.yaml .dedup-baseline
printf '\n%s\n' "A line added at the end of the article, long enough to count as a paragraph here." \
    >>data/002_0b6d1692144c6f75.txt
git add data/002_0b6d1692144c6f75.txt
pre-commit run >"$T/run3" 2>&1
st=$?
[ $st = 0 ] && ok "with --baseline the accepted finding passes" || not_ok "with --baseline the accepted finding passes" "exit $st: $(cat "$T/run3")"
cp "$FIXTURES/variants/004_truncated.txt" data/part.txt
git add data/part.txt
pre-commit run >"$T/run4" 2>&1
st=$?
[ $st = 1 ] && grep -q "data/part.txt:1: near-duplicate of data/004_e1f26045a6d7f475.txt" "$T/run4" \
    && ok "while a new finding still fails" || not_ok "while a new finding still fails" "exit $st: $(cat "$T/run4")"

# A baseline accepts copies whichever of them is named: the named files come
# after the others, so editing the original of an accepted copy makes the
# original the copy. Three copies of 000 (copy_a, copy_b) and of 003
# (copy_c); 000 and copy_a are edited: they are now compared after copy_b,
# and "copy_a near-duplicate of copy_b" is accepted through the group the
# baseline holds (copy_a and copy_b both copy 000).
g="$T/group"
mkdir -p "$g/data"
cp "$FIXTURES"/seeds/*.txt "$g/data/"
cp "$FIXTURES/variants/000_syndicated.txt" "$g/data/copy_a.txt"
head -n -2 "$FIXTURES/seeds/000_bd77016b1ff7f277.txt" >"$g/data/copy_b.txt"
cp "$FIXTURES/variants/003_rewrapped.txt" "$g/data/copy_c.txt"
(cd "$g" && dedup check --write-baseline .dedup-baseline data/*.txt) >"$T/wb3" 2>&1
printf '%s\n' "سطر أضيف في آخر المقال بعد قبول النسخ" >>"$g/data/000_bd77016b1ff7f277.txt"
printf '%s\n' "سطر أضيف في آخر النسخة بعد قبولها" >>"$g/data/copy_a.txt"
(cd "$g" && dedup check data/000_bd77016b1ff7f277.txt data/copy_a.txt) >"$T/edited" 2>&1
expect_grep "editing an original makes it the copy of a file already there" \
    "data/copy_a.txt:1: near-duplicate of data/copy_b.txt" "$T/edited"
(cd "$g" && dedup check --baseline .dedup-baseline data/000_bd77016b1ff7f277.txt data/copy_a.txt) \
    >"$T/edited" 2>&1
st=$?
[ $st = 0 ] && [ ! -s "$T/edited" ] && ok "with the baseline, the edited original and copy are accepted" ||
    not_ok "with the baseline, the edited original and copy are accepted" "exit $st: $(cat "$T/edited")"
cp "$FIXTURES/variants/004_truncated.txt" "$g/data/copy_d.txt"
(cd "$g" && dedup check --baseline .dedup-baseline data/copy_d.txt data/copy_a.txt) >"$T/edited" 2>"$T/edited.err"
st=$?
[ $st = 1 ] && [ "$(cat "$T/edited")" = "$(printf '%s' "data/copy_d.txt:1: near-duplicate of data/004_e1f26045a6d7f475.txt (jaccard 0.56, containment 1.00) (see data/004_e1f26045a6d7f475.txt:1)")" ] &&
    [ "$(cat "$T/edited.err")" = "dedup check: 2 files checked, against the 7 other files of their folders: 1 finding, 1 more accepted by the baseline" ] &&
    ok "while a new copy beside them is reported, alone" ||
    not_ok "while a new copy beside them is reported, alone" "exit $st: $(cat "$T/edited" "$T/edited.err")"

# A baseline is UTF-8 text, as the files it speaks of: the key of a
# boilerplate line (its first 80 bytes) does not cut an Arabic letter in two
# (the 80th byte of this line falls inside a letter).
b="$T/boilerplate"
mkdir -p "$b"
for f in "$FIXTURES"/seeds/*.txt; do
    { cat "$f"; printf "\n%s\n" "جميع الحقوق محفوظة، لصحيفة الأخبار اليومية، ولا يجوز النقل أو الاقتباس دون إذن مسبق"; } \
        >"$b/$(basename "$f")"
done
(cd "$b" && dedup check --write-baseline .dedup-baseline ./*.txt) >"$T/wb4" 2>&1
if grep -q "	boilerplate	" "$b/.dedup-baseline" && iconv -f UTF-8 -t UTF-8 "$b/.dedup-baseline" >/dev/null 2>&1; then
    ok "a baseline of boilerplate is valid UTF-8"
else
    not_ok "a baseline of boilerplate is valid UTF-8" "$(cat "$T/wb4") $(grep boilerplate "$b/.dedup-baseline" | head -3)"
fi
expect_status "and accepts that boilerplate" 0 sh -c 'cd "$1" && dedup check --baseline .dedup-baseline ./*.txt' sh "$b"

# dedup check itself: quiet and 0 when clean, 2 on a missing file.
cd "$repo" && dedup check data/new.txt >"$T/out" 2>&1
st=$?
[ $st = 0 ] && [ ! -s "$T/out" ] && ok "check is quiet and exits 0 when clean" || not_ok "check is quiet and exits 0 when clean" "exit $st: $(cat "$T/out")"
expect_status "check: a missing file is exit 2" 2 dedup check data/missing.txt

# ---------------------------------------------------------------------------
# The README's example, as written, on a repository of several hundred
# articles, with a Python file, a CMakeLists.txt and a README.md beside them.

# The example of the README and the man page, and the hook of
# .pre-commit-hooks.yaml: the same settings.
awk '/^## As a pre-commit hook/ { s = 1 } s && /^```yaml/ { p = 1; next } p && /^```/ { exit } p' \
    "$root/README.md" >"$T/readme-config.yaml"
awk '/^As a hook of/ { s = 1 } s && /^\.nf/ { p = 1; next } p && /^\.fi/ { exit } p' \
    "$root/man/dedup.1" | sed 's/\\-/-/g; s/\\(ha/^/g; s/\\e/\\/g' >"$T/man-config.yaml"
expect_same "the man page's pre-commit example is the README's" "$T/readme-config.yaml" "$T/man-config.yaml"
if python3 - "$T/readme-config.yaml" "$root/.pre-commit-hooks.yaml" >"$T/same" 2>&1 <<'PY'; then
import sys, yaml
local = yaml.safe_load(open(sys.argv[1]))["repos"][0]["hooks"][0]
hook = yaml.safe_load(open(sys.argv[2]))[0]
for k in sorted(set(local) | set(hook)):
    if k != "description" and local.get(k) != hook.get(k):
        print("%s: README %r, .pre-commit-hooks.yaml %r" % (k, local.get(k), hook.get(k)))
        sys.exit(1)
PY
    ok "the README's local hook has the settings of .pre-commit-hooks.yaml"
else
    not_ok "the README's local hook has the settings of .pre-commit-hooks.yaml" "$(cat "$T/same")"
fi

if ! skip_under_valgrind "pre-commit on several hundred articles" "minutes under valgrind"; then
big="$T/big"
mkdir -p "$big/data" "$big/src"
# 600 real articles: SaudiNewsNet when it is there (several papers printed
# the same agency stories), else generated text (bench/gen_corpus.py: seed
# paragraphs, edited copies of earlier documents, boilerplate).
snn=${SAUDINEWSNET:-$root/../shared/corpora/saudinewsnet}
if ls "$snn"/*.zip >/dev/null 2>&1; then
    corpus="600 SaudiNewsNet articles"
    python3 - "$snn" "$big/data" 600 <<'PY'
import glob, json, os, sys, zipfile
corpus, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
texts = []
for z in sorted(glob.glob(os.path.join(corpus, "*.zip"))):
    with zipfile.ZipFile(z) as zf:
        for name in sorted(zf.namelist()):
            if name.endswith(".json"):
                texts += [a.get("content") or "" for a in json.loads(zf.read(name))]
    texts = [t for t in texts if t.strip()]
    if len(texts) >= n:
        break
for i, t in enumerate(texts[:n]):
    with open(os.path.join(out, "%05d.txt" % (i + 1)), "w", encoding="utf-8") as f:
        f.write(t)
PY
else
    corpus="600 generated documents"
    python3 "$root/bench/gen_corpus.py" "$T/gen" --mb 7 --seed 1 >/dev/null
    i=0
    for f in $(find "$T/gen" -name '*.txt' | sort | head -n 600); do
        i=$((i + 1))
        cp "$f" "$big/data/$(printf %05d $i).txt"
    done
fi
# Three planted copies: another paper's lead-in, the last paragraph dropped.
for k in 7 123 345; do
    { echo "نقلاً عن وكالة الأنباء"; head -n -1 "$big/data/$(printf %05d $k).txt"; } >"$big/data/planted_$k.txt"
done
cat >"$big/src/tool.py" <<'PY'
"""Read the articles of a crawl and print their titles and authors."""
import json
import sys


def read_titles(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            print(record["title"].strip().lower().replace("  ", " "), record["source"].strip())


def read_authors(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            print(record["author"].strip().lower().replace("  ", " "), record["source"].strip())


if __name__ == "__main__":
    read_titles(sys.argv[1])
    read_authors(sys.argv[1])
PY
printf '%s\n' "cmake_minimum_required(VERSION 3.13)" "project(corpus_tools C)" \
    "add_executable(read_titles src/read_titles.c src/common.c src/json.c)" \
    "add_executable(read_authors src/read_authors.c src/common.c src/json.c)" >"$big/CMakeLists.txt"
printf '%s\n\n%s\n' "# Corpus" "Articles of Saudi newspapers, one file per article, in data/." >"$big/README.md"
cp "$T/readme-config.yaml" "$big/.pre-commit-config.yaml"
cd "$big" || exit 2
git init -q && git add . && git commit -qm "articles" || exit 2
git ls-files 'data/*.txt' >"$T/data-files"

# precommit_all CONFIG: pre-commit run --all-files with CONFIG as the
# repository's config; its output in $T/pc.out, its findings (sorted) in
# $T/pc.findings, dedup's runs in $T/dedup-runs, its exit status in pc_st.
precommit_all() {
    cp "$1" .pre-commit-config.yaml
    : >"$T/dedup-runs"
    pre-commit run --all-files >"$T/pc.out" 2>&1
    pc_st=$?
    grep -v '^\(dedup check (duplicated text)\.*\(Passed\|Failed\)\|- hook id: \|- exit code: \|\[INFO\] \|$\)' \
        "$T/pc.out" | sort >"$T/pc.findings"
    git checkout -q .pre-commit-config.yaml
}

# What the hook checks: the documents, not the code beside them.
"$DEDUP" check src/tool.py >"$T/tool" 2>&1
expect_grep "dedup check src/tool.py finds similar lines in the code" \
    "src/tool.py:14: lines 14-16 repeat src/tool.py:7" "$T/tool"
precommit_all "$T/readme-config.yaml"
ndata=$(wc -l <"$T/data-files")
if grep -qE '(^| )(src/tool\.py|README\.md|CMakeLists\.txt|\.pre-commit-config\.yaml)( |$)' "$T/dedup-runs" ||
    [ "$(tr ' ' '\n' <"$T/dedup-runs" | grep -c '^data/')" != "$ndata" ]; then
    not_ok "the hook names the $ndata articles, not the code, README.md or CMakeLists.txt" \
        "$(cut -c1-300 "$T/dedup-runs")"
else
    ok "the hook names the $ndata articles, not the code, README.md or CMakeLists.txt"
fi

# --all-files: one run, and what dedup check says of the same files directly.
"$DEDUP" check $(cat "$T/data-files") 2>&1 | sort >"$T/direct.findings"
runs=$(wc -l <"$T/dedup-runs")
[ "$runs" = 1 ] && ok "pre-commit run --all-files: one run of dedup check" ||
    not_ok "pre-commit run --all-files: one run of dedup check" "$runs runs"
[ "$pc_st" = 1 ] && ok "pre-commit run --all-files fails on $corpus and 3 planted copies" ||
    not_ok "pre-commit run --all-files fails on $corpus and 3 planted copies" \
        "exit $pc_st: $(head -c 600 "$T/pc.out")"
expect_same "pre-commit run --all-files: the $(wc -l <"$T/direct.findings") findings of dedup check run directly" \
    "$T/direct.findings" "$T/pc.findings"
expect_grep "among them the planted copies" "data/planted_123.txt:1: near-duplicate of data/00123.txt" \
    "$T/pc.findings"

# With a baseline written directly: nothing to report, in one run.
"$DEDUP" check --write-baseline .dedup-baseline $(cat "$T/data-files") 2>"$T/wb5"
git add .dedup-baseline && git commit -qm baseline
cp "$T/readme-config.yaml" "$T/readme-baseline.yaml"
echo "        args: [--baseline, .dedup-baseline]" >>"$T/readme-baseline.yaml"
expect_status "dedup check --baseline of the articles: nothing" 0 \
    "$DEDUP" check --baseline .dedup-baseline $(cat "$T/data-files")
precommit_all "$T/readme-baseline.yaml"
runs=$(wc -l <"$T/dedup-runs")
[ "$pc_st" = 0 ] && [ ! -s "$T/pc.findings" ] && [ "$runs" = 1 ] &&
    ok "pre-commit run --all-files with the baseline: nothing, as directly" ||
    not_ok "pre-commit run --all-files with the baseline: nothing, as directly" \
        "exit $pc_st, $runs runs: $(head -c 1500 "$T/pc.findings")"

# The same through .pre-commit-hooks.yaml, as repo: and rev: name it.
cat >"$T/remote-baseline.yaml" <<CFG
repos:
  - repo: $T/hookrepo
    rev: $rev
    hooks:
      - id: dedup-check
        args: [--baseline, .dedup-baseline]
CFG
precommit_all "$T/remote-baseline.yaml"
runs=$(wc -l <"$T/dedup-runs")
[ "$pc_st" = 0 ] && [ ! -s "$T/pc.findings" ] && [ "$runs" = 1 ] &&
    ok "the same through .pre-commit-hooks.yaml" ||
    not_ok "the same through .pre-commit-hooks.yaml" \
        "exit $pc_st, $runs runs: $(head -c 1500 "$T/pc.findings")"

# A new copy in a commit is still refused, with the baseline.
{ echo "تقرير خاص"; cat data/00200.txt; } >data/new_copy.txt
cp "$T/readme-baseline.yaml" .pre-commit-config.yaml
git add data/new_copy.txt .pre-commit-config.yaml
pre-commit run >"$T/pc.out" 2>&1
st=$?
git reset -q .pre-commit-config.yaml && git checkout -q .pre-commit-config.yaml
[ $st = 1 ] && grep -q "^data/new_copy.txt:1: near-duplicate of data/00200.txt" "$T/pc.out" &&
    ok "a new copy in a commit is refused, with the baseline" ||
    not_ok "a new copy in a commit is refused, with the baseline" "exit $st: $(head -c 600 "$T/pc.out")"
git rm -q --cached data/new_copy.txt && rm data/new_copy.txt
fi
finish
