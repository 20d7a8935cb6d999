#!/usr/bin/env bash
# A work folder (--work-dir) is a file format dedup reads back, in a folder
# others may write (a shared cluster folder): what was put in it never
# makes dedup wait for ever or write through a link. A FIFO in place of the
# plan is refused ("not a regular file", exit 2), in place of a marker or a
# part file it is not trusted (the part is signed again, the same report);
# a part file larger than its documents' facts can be is not read (by a
# sign task, bounded by its files' sizes; by the decide stage, by its
# documents', a compressed shard's too); a link
# planted at the name of dedup's temporary file is replaced, never
# written through (the file it names is left as it was); what a plan holds
# reaches messages escaped.
. "$(dirname "$0")/lib.sh"

S="$FIXTURES/seeds"
"$DEDUP" scan -q "$S" >"$T/want.out" 2>"$T/want.err"
echo $? >>"$T/want.out"

# scan_in NAME DIR: a run with the work folder DIR, stopped after 20 s.
scan_in() {
    timeout 20 "$DEDUP" scan -q --work-dir "$2" "$S" >"$T/got.out" 2>"$T/got.err"
    echo $? >>"$T/got.out"
}

mkdir -p "$T/fifo-plan"
mkfifo "$T/fifo-plan/plan"
scan_in "plan" "$T/fifo-plan"
[ "$(tail -1 "$T/got.out")" = 2 ] && grep -q "fifo-plan/plan: not a regular file" "$T/got.err" &&
    ok "a FIFO as the plan: refused at once, exit 2, saying so" ||
    not_ok "a FIFO as the plan: refused at once, exit 2, saying so" \
        "exit $(tail -1 "$T/got.out") (124: waited 20 s): $(cat "$T/got.err")"

scan_in "made" "$T/w"
expect_same "a work folder made: the report of a run without" "$T/want.out" "$T/got.out"

cp -r "$T/w" "$T/fifo-marker"
rm "$T/fifo-marker/sign/part-000000.done"
mkfifo "$T/fifo-marker/sign/part-000000.done"
scan_in "marker" "$T/fifo-marker"
expect_same "a FIFO as a part's marker: signed again, the same report (not waiting)" \
    "$T/want.out" "$T/got.out"

cp -r "$T/w" "$T/fifo-part"
rm "$T/fifo-part/sign/part-000000"
mkfifo "$T/fifo-part/sign/part-000000"
scan_in "part" "$T/fifo-part"
expect_same "a FIFO as a part file (its marker there): signed again, the same report" \
    "$T/want.out" "$T/got.out"
expect_grep "... saying why" "part-000000: not a regular file" "$T/got.err"

# A part file far larger than its documents' facts can take (2 GB, sparse),
# its marker saying so: not hashed nor read, signed again.
cp -r "$T/w" "$T/huge"
truncate -s 2G "$T/huge/sign/part-000000"
sed -i 's/^bytes .*/bytes 2147483648/' "$T/huge/sign/part-000000.done"
scan_in "huge" "$T/huge"
expect_same "a part file of 2 GB for 5 documents: signed again, the same report" \
    "$T/want.out" "$T/got.out"
expect_grep "... refused by its size alone" \
    "part-000000: damaged (2147483648 bytes, more than the facts of its documents can take)" \
    "$T/got.err"

# A sign task (--task) bounds a part file by its files' sizes as listed,
# before reading any of them: the same file is not read either.
cp -r "$T/w" "$T/huge-task"
truncate -s 2G "$T/huge-task/sign/part-000000"
sed -i 's/^bytes .*/bytes 2147483648/' "$T/huge-task/sign/part-000000.done"
timeout 20 "$DEDUP" scan -q --work-dir "$T/huge-task" --task 0 --tasks 1 "$S" >"$T/got.out" \
    2>"$T/got.err"
expect_grep "... by a sign task too, from its files' sizes" \
    "part-000000: damaged (2147483648 bytes, more than the facts of its documents can take)" \
    "$T/got.err"

# A compressed shard's records are known only once it is read: the decide
# stage, which has read them, bounds its part file by them.
mkdir -p "$T/gz"
python3 -c 'import json, sys
for f in sys.argv[1:]:
    print(json.dumps({"text": open(f, encoding="utf-8").read()}))' "$S"/*.txt |
    gzip >"$T/gz/seeds.jsonl.gz"
"$DEDUP" scan -q --work-dir "$T/gz-work" "$T/gz" >/dev/null 2>&1
size=$(stat -c %s "$T/gz-work/sign/part-000000")
truncate -s 2G "$T/gz-work/sign/part-000000"
sed -i 's/^bytes .*/bytes 2147483648/' "$T/gz-work/sign/part-000000.done"
timeout 20 "$DEDUP" scan -q --work-dir "$T/gz-work" --stage decide "$T/gz" >"$T/got.out" \
    2>"$T/got.err"
[ "$size" -lt 2147483648 ] && grep -qF \
    "part-000000: damaged (2147483648 bytes, more than the facts of its documents can take)" \
    "$T/got.err" &&
    ok "a part file of 2 GB for a compressed shard: refused by the decide stage, by its size" ||
    not_ok "a part file of 2 GB for a compressed shard: refused by the decide stage, by its size" \
        "$(cat "$T/got.err")"

# A plan of other settings whose value carries terminal escapes: refused,
# the value escaped in the message.
cp -r "$T/w" "$T/escape"
sed -i 's/^setting threshold 0.8$/setting threshold \x1b]0;pwned\x07\x1b[2J/' "$T/escape/plan"
grep -q $'\x1b' "$T/escape/plan" || not_ok "the plan of the next test has no escape"
scan_in "escape" "$T/escape"
[ "$(tail -1 "$T/got.out")" = 2 ] && ! grep -q $'[\x1b\x07]' "$T/got.err" &&
    grep -qF 'threshold: \x1B]0;pwned\x07\x1B[2J there, 0.8 here' "$T/got.err" &&
    ok "a plan value with terminal escapes: refused, the value escaped in the message" ||
    not_ok "a plan value with terminal escapes: refused, the value escaped in the message" \
        "exit $(tail -1 "$T/got.out"): $(cat -v "$T/got.err")"

# A link at the name of the plan's temporary file (NAME.tmp.HOST.PID: the
# run below keeps the shell's process number through exec).
host=$(hostname | tr './' '__')
echo "a file of someone else" >"$T/victim"
cp "$T/victim" "$T/victim.before"
mkdir -p "$T/linked"
bash -c 'ln -s "$1" "$2/plan.tmp.$3.$$" && exec "$4" scan -q --work-dir "$2" "$5"' _ \
    "$T/victim" "$T/linked" "$host" "$DEDUP" "$S" >"$T/got.out" 2>"$T/got.err"
echo $? >>"$T/got.out"
expect_same "a link planted at the temporary file's name: the file it names is untouched" \
    "$T/victim.before" "$T/victim"
expect_same "... and the run goes on, the same report" "$T/want.out" "$T/got.out"
[ -f "$T/linked/plan" ] && [ ! -L "$T/linked/plan" ] && ok "... the plan written in the folder" ||
    not_ok "... the plan written in the folder" "$(ls -l "$T/linked")"

finish
