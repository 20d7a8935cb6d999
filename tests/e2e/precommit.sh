#!/usr/bin/env bash
# dedup check as a pre-commit hook, through the real pre-commit tool (Debian's
# pre-commit package) in a temporary git repository holding the seed articles.
. "$(dirname "$0")/lib.sh"
root=$(cd "$FIXTURES/.." && pwd)
command -v pre-commit >/dev/null || { not_ok "pre-commit is installed (make deps)"; finish; }
command -v git >/dev/null || { not_ok "git is installed (make deps)"; finish; }

# The hook runs `dedup` from PATH (language: system): the binary under test.
mkdir -p "$T/bin"
ln -s "$DEDUP" "$T/bin/dedup"
export PATH="$T/bin:$PATH" PRE_COMMIT_HOME="$T/pre-commit-home" HOME="$T"
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
if ! skip_under_valgrind "a baseline that cannot be written" "ulimit -f 0 stops valgrind"; then
(ulimit -f 0 && dedup check --write-baseline .dedup-baseline data/002_0b6d1692144c6f75.txt 2>&1) |
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
(cd "$g" && dedup check --baseline .dedup-baseline data/copy_d.txt data/copy_a.txt) >"$T/edited" 2>&1
st=$?
[ $st = 1 ] && [ "$(cat "$T/edited")" = "$(printf '%s' "data/copy_d.txt:1: near-duplicate of data/004_e1f26045a6d7f475.txt (jaccard 0.56, containment 1.00) (see data/004_e1f26045a6d7f475.txt:1)")" ] &&
    ok "while a new copy beside them is reported, alone" ||
    not_ok "while a new copy beside them is reported, alone" "exit $st: $(cat "$T/edited")"

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
finish
