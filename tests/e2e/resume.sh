#!/usr/bin/env bash
# --work-dir: a run kept in a work folder (sign: parts of facts; group,
# verify: the paragraphs repeated across documents; decide)
# gives the output of a run without one, byte for byte (report, messages,
# exit status, cleaned files), at any -j and any split into tasks; run
# again after kill -9 at any moment, it reuses the parts completed and
# still gives the same output; a folder of other settings or inputs is
# refused with the reason; its files carry the settings' hash; a part file
# cut off or damaged is never trusted.
. "$(dirname "$0")/lib.sh"

G="$T/gen"
PYTHONPATH="$TESTS" python3 - "$FIXTURES/seeds" "$G" <<'EOF'
import gzip, json, os, sys
from gen_docs import Words, write_files
seeds, out = sys.argv[1], sys.argv[2]
g = Words(seeds, seed=16)
docs = g.documents(240, [2, 3, 5, 8, 13, 40, 120], [g.line() for _ in range(60)], repeat_every=9)
for i in range(0, 220, 7):  # copies, exact and edited
    docs.append(g.edit_one_word(docs[i]) if i % 2 else list(docs[i]))
write_files(out, docs[:200], "doc%03d.txt", parts=4)
# The rest as records of two shards, one gzip: records are documents too.
os.makedirs(os.path.join(out, "shards"), exist_ok=True)
rest = docs[200:]
with open(os.path.join(out, "shards", "a.jsonl"), "w", encoding="utf-8") as f:
    for i, body in enumerate(rest[: len(rest) // 2]):
        f.write(json.dumps({"id": "a%d" % i, "text": "\n".join(body)}, ensure_ascii=False) + "\n")
with gzip.open(os.path.join(out, "shards", "b.jsonl.gz"), "wt", encoding="utf-8") as f:
    for i, body in enumerate(rest[len(rest) // 2 :]):
        f.write(json.dumps({"id": "b%d" % i, "text": "\n".join(body)}, ensure_ascii=False) + "\n")
    f.write('{"id": "broken", "text": 7}\n')  # malformed: named, left out
# Files that are not text: their messages come from the analysis.
with open(os.path.join(out, "part2", "latin1.txt"), "wb") as f:
    f.write("Caf\u00e9 cr\u00e8me, d\u00e9j\u00e0 vu.\n".encode("latin-1"))
with open(os.path.join(out, "part3", "zbinary.bin"), "wb") as f:
    f.write(b"\0\1\2binary\n")
EOF

PS=16K # parts of 16 KB: a few dozen parts
scan() { "$DEDUP" scan -q -f jsonl "$@" "$G"; }

scan -j 1 >"$T/want.out" 2>"$T/want.err"
echo $? >"$T/want.status"
grep -q '"type":"cluster"' "$T/want.out" && grep -q 'latin1.txt' "$T/want.err" &&
    grep -q "b.jsonl.gz:37: field" "$T/want.err" && ok "the corpus has clusters and messages" ||
    not_ok "the corpus has clusters and messages" "$(head -c 600 "$T/want.err")"

# same NAME DIR ARGS...: a scan kept in DIR gives the run's output.
same() {
    local name=$1 dir=$2
    shift 2
    scan --work-dir "$dir" --part-size $PS "$@" >"$T/got.out" 2>"$T/got.err"
    echo $? >"$T/got.status"
    if cmp -s "$T/want.out" "$T/got.out" && cmp -s "$T/want.err" "$T/got.err" &&
        cmp -s "$T/want.status" "$T/got.status"; then ok "$name"; else
        not_ok "$name" "status $(cat "$T/got.status"), want $(cat "$T/want.status"); $(diff "$T/want.out" "$T/got.out" | head -5) $(diff "$T/want.err" "$T/got.err" | head -5)"
    fi
}

for j in 1 2 3; do
    same "-j $j with --work-dir: the output of the run without" "$T/w$j" -j $j
done
nparts=$(ls "$T/w1/sign" | grep -c '^part-[0-9]*$')
nmarks=$(ls "$T/w1/sign" | grep -c '^part-[0-9]*\.done$')
[ "$nparts" -ge 8 ] && [ "$nparts" = "$nmarks" ] && ok "$nparts parts, each with its marker" ||
    not_ok "parts and markers" "$nparts parts, $nmarks markers"
for j in 2 3; do
    if diff -r "$T/w1/sign" "$T/w$j/sign" >/dev/null && cmp -s "$T/w1/plan" "$T/w$j/plan"; then
        ok "the parts of -j $j are those of -j 1, byte for byte"
    else
        not_ok "the parts of -j $j are those of -j 1, byte for byte"
    fi
done

# Run again: every part reused, none written again.
ls -li --time-style=full-iso "$T/w1/sign" >"$T/before"
same "run again on a complete folder: the same output" "$T/w1" -j 2
ls -li --time-style=full-iso "$T/w1/sign" >"$T/after"
expect_same "run again: no part written again" "$T/before" "$T/after"

# Killed while signing a part, after its keys file (written before its
# facts' marker) and some of another's: the part without its marker is
# signed again, the keys file of a part whose marker is there but whose
# keys file was lost or damaged is made again from its facts, a dead
# process's temporary file removed; the parts and keys files of one run.
cp -r "$T/w1" "$T/killed"
rm "$T/killed/sign/part-000001" "$T/killed/sign/part-000001.done"
rm "$T/killed/sign/part-000002.keys"
truncate -s 200 "$T/killed/sign/part-000003.keys"
host=$(hostname | tr './' '__')
head -c 300 "$T/w1/sign/part-000004.keys" >"$T/killed/sign/part-000004.keys.tmp.$host.999999999"
rm -rf "$T/killed/group" "$T/killed/verify"
scan --work-dir "$T/killed" --part-size $PS -j 2 >"$T/got.out" 2>"$T/got.err"
echo $? >"$T/got.status"
cmp -s "$T/want.out" "$T/got.out" && cmp -s "$T/want.status" "$T/got.status" &&
    ok "killed inside sign (a part without its marker, keys files lost, cut off, a temporary left): the same report" ||
    not_ok "killed inside sign: the same report" "$(diff "$T/want.out" "$T/got.out" | head -5)"
expect_grep "... the keys file cut off, said" "part-000003.keys: cut off" "$T/got.err"
diff -r "$T/w1/sign" "$T/killed/sign" >/dev/null &&
    ok "... every part and keys file made again as in one run, no temporary left" ||
    not_ok "... every part and keys file made again as in one run, no temporary left" \
        "$(diff -r "$T/w1/sign" "$T/killed/sign" | head -5)"

# Killed inside the stages of the near-duplicate documents (group-docs,
# verify-docs: made by the group and verify tasks after their paragraphs'
# partitions): partitions without their markers, a file cut off under its
# temporary name by a dead process, the docs file of a part lost: made
# again, the same report, the files of one run, no temporary left.
cp -r "$T/w1" "$T/killdocs"
rm "$T/killdocs/group-docs/part-000001.done" "$T/killdocs/verify-docs/part-000002.done"
rm "$T/killdocs/verify-docs/part-000004" "$T/killdocs/verify-docs/part-000004.done"
rm -f "$T/killdocs/verify-docs/part-00000"[5-9]*
head -c 100 "$T/w1/verify-docs/part-000005" >"$T/killdocs/verify-docs/part-000005.tmp.$host.999999999"
rm "$T/killdocs/sign/part-000003.docs"
scan --work-dir "$T/killdocs" --part-size $PS -j 2 >"$T/got.out" 2>"$T/got.err"
echo $? >"$T/got.status"
cmp -s "$T/want.out" "$T/got.out" && cmp -s "$T/want.status" "$T/got.status" &&
    ok "killed inside the documents' stages: the same report" ||
    not_ok "killed inside the documents' stages: the same report" "$(diff "$T/want.out" "$T/got.out" | head -5)"
for d in sign group-docs verify-docs; do
    diff -r "$T/w1/$d" "$T/killdocs/$d" >/dev/null &&
        ok "... $d: the files of one run, no temporary left" ||
        not_ok "... $d: the files of one run, no temporary left" "$(diff -r "$T/w1/$d" "$T/killdocs/$d" | head -5)"
done

# The settings' hash is in the plan, in every part's header (its facts and
# its keys file), in every marker.
python3 - "$T/w1" <<'EOF' >"$T/hashes" 2>&1
import os, re, struct, sys
w = sys.argv[1]
plan = open(os.path.join(w, "plan")).read()
h = int(re.search(r"^settings ([0-9a-f]{16})$", plan, re.M).group(1), 16)
sign = os.path.join(w, "sign")
bad = []
for name in sorted(os.listdir(sign)):
    data = open(os.path.join(sign, name), "rb").read()
    if name.endswith(".done"):
        if ("settings %016x" % h) not in data.decode():
            bad.append(name)
    elif data[:8] != {".keys": b"DDKEYS01", ".docs": b"DDDOCS01"}.get(name[-5:], b"DDSIGN02") or \
            struct.unpack("<Q", data[8:16])[0] != h:
        bad.append(name)
print("bad:", " ".join(bad) if bad else "none")
EOF
expect_grep "every part file, keys file, docs file and marker carries the plan's settings hash" "bad: none" \
    "$T/hashes"

# Tasks: four tasks run separately, each signing its parts only, then the
# decision from them.
for i in 0 1 2 3; do
    "$DEDUP" scan -q -j $((i % 2 ? 3 : 1)) --work-dir "$T/tasks" --part-size $PS --task $i --tasks 4 "$G" \
        >"$T/task$i.out" 2>"$T/task$i.err"
    s=$?
    if [ $i = 0 ]; then
        mine=$(ls "$T/tasks/sign" | grep -c '^part-[0-9]*\.done$')
        others=$(ls "$T/tasks/sign" | grep '^part-[0-9]*\.done$' |
            sed 's/part-0*\([0-9][0-9]*\)\.done/\1/;s/^$/0/' | awk '$1 % 4 != 0' | wc -l)
        [ "$mine" -ge 2 ] && [ "$others" = 0 ] && ok "task 0 of 4 signs parts 0, 4, 8... only" ||
            not_ok "task 0 of 4 signs parts 0, 4, 8... only" "$mine parts, $others of other tasks"
    fi
    [ $s = 0 ] && [ ! -s "$T/task$i.out" ] && [ ! -s "$T/task$i.err" ] &&
        ok "task $i of 4: exit 0, no report, nothing said" ||
        not_ok "task $i of 4: exit 0, no report, nothing said" "exit $s: $(head -c 300 "$T/task$i.err")"
done
diff -r "$T/w1/sign" "$T/tasks/sign" >/dev/null && ok "four tasks sign the parts of one run" ||
    not_ok "four tasks sign the parts of one run"
same "--stage decide after four tasks (at -j 1 and 3): the output of the run without" "$T/tasks" --stage decide -j 2

# The local executor: --tasks N without --task runs every sign task in this
# process, then decides: the output of the run without a work folder, and
# the parts of --tasks 1, whatever N is.
for n in 1 2 4; do
    same "--tasks $n (local, every task here): the output of the run without" "$T/local$n" --tasks $n -j 2
    diff -r "$T/w1/sign" "$T/local$n/sign" >/dev/null && cmp -s "$T/w1/plan" "$T/local$n/plan" &&
        ok "--tasks $n (local): the parts of the run without tasks" ||
        not_ok "--tasks $n (local): the parts of the run without tasks"
done
"$DEDUP" scan -q --work-dir "$T/local_sign" --part-size $PS --tasks 4 --stage sign "$G" >"$T/out" 2>"$T/err"
s=$?
[ $s = 0 ] && [ ! -s "$T/out" ] && [ ! -s "$T/err" ] && diff -r "$T/w1/sign" "$T/local_sign/sign" >/dev/null &&
    ok "--tasks 4 --stage sign: every task signed here, exit 0, nothing said" ||
    not_ok "--tasks 4 --stage sign: every task signed here, exit 0, nothing said" "exit $s: $(head -c 300 "$T/err")"

# A task reads the files of its own parts only: the parts are planned from
# the walk of the folder and stat(2) alone (whole shards), so N tasks read
# the corpus once between them, not N times each.
python3 - "$G" "$T/sh" <<'EOF'
import glob, json, os, sys
g, out = sys.argv[1], sys.argv[2]
os.makedirs(out)
files = sorted(glob.glob(os.path.join(g, "part*", "doc*.txt")))
for k in range(8):
    with open(os.path.join(out, "s%d.jsonl" % k), "w", encoding="utf-8") as f:
        for name in files[k::8]:
            text = open(name, encoding="utf-8").read()
            f.write(json.dumps({"id": os.path.basename(name), "text": text}, ensure_ascii=False) + "\n")
        if k == 7:  # copies of documents of the other shards
            f.write(open(os.path.join(g, "shards", "a.jsonl"), encoding="utf-8").read())
EOF
gzip "$T/sh/s1.jsonl" "$T/sh/s5.jsonl"
zstd -q --rm "$T/sh/s2.jsonl" "$T/sh/s6.jsonl" 2>/dev/null || true
shards=$(cd "$T/sh" && ls | LC_ALL=C sort)
"$DEDUP" scan -q -f jsonl "$T/sh" >"$T/sh.want" 2>"$T/sh.want.err"
echo $? >>"$T/sh.want"
if command -v strace >/dev/null; then
    for i in 0 1 2 3; do
        # (LeakSanitizer cannot run under ptrace: the leaks of these
        # commands are looked for in the runs above, not here.)
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
            strace -f -qq -e trace=openat -o "$T/trace$i" \
            "$DEDUP" scan -q --work-dir "$T/wsh" --part-size 1 --task $i --tasks 4 "$T/sh" 2>&1
        opened=$(grep -o "$T/sh/s[^\"]*" "$T/trace$i" | sed 's|.*/||' | LC_ALL=C sort -u | tr '\n' ' ')
        want=$(echo "$shards" | awk -v i=$i '(NR - 1) % 4 == i' | tr '\n' ' ')
        [ "$opened" = "$want" ] && ok "task $i of 4 over 8 shards opens its own two only ($want)" ||
            not_ok "task $i of 4 over 8 shards opens its own two only" "opened: $opened; want: $want"
    done
else
    for i in 0 1 2 3; do
        "$DEDUP" scan -q --work-dir "$T/wsh" --part-size 1 --task $i --tasks 4 "$T/sh"
    done
    ok "tasks open their own shards only # skip: no strace"
fi
"$DEDUP" scan -q -f jsonl --work-dir "$T/wsh" --part-size 1 --stage decide "$T/sh" >"$T/sh.got" \
    2>"$T/sh.got.err"
echo $? >>"$T/sh.got"
cmp -s "$T/sh.want" "$T/sh.got" && cmp -s "$T/sh.want.err" "$T/sh.got.err" &&
    grep -q '"type":"repeat"' "$T/sh.want" &&
    ok "decided from the tasks' parts: the report of a run without --work-dir" ||
    not_ok "decided from the tasks' parts: the report of a run without --work-dir" \
        "$(diff "$T/sh.want" "$T/sh.got" | head -5) $(diff "$T/sh.want.err" "$T/sh.got.err" | head -5)"
touch -d '2003-03-03' "$T/sh/s3.jsonl"
"$DEDUP" scan -q --work-dir "$T/wsh" --part-size 1 --task 0 --tasks 4 "$T/sh" >"$T/out" 2>"$T/err"
[ $? = 2 ] && grep -q "made for other inputs (8 files there, 8 here; the first that differ are in part 3, from $T/sh/s3.jsonl" "$T/err" &&
    ok "a shard touched since: a task refuses the folder, naming it" ||
    not_ok "a shard touched since: a task refuses the folder, naming it" "$(cat "$T/err")"

# A decision with a part missing is refused; a full run signs it.
rm "$T/tasks/sign/part-000003.done"
expect_status "--stage decide with a part not signed: exit 2" 2 \
    "$DEDUP" scan -q --work-dir "$T/tasks" --part-size $PS --stage decide "$G"
expect_grep "... naming the part" "part-000003: not signed" "$T/err"
"$DEDUP" scan -q --work-dir "$T/tasks" --part-size $PS --stage sign "$G" >"$T/out" 2>"$T/err"
[ $? = 0 ] && [ -f "$T/tasks/sign/part-000003.done" ] && [ ! -s "$T/out" ] &&
    ok "--stage sign signs the part missing, no report" || not_ok "--stage sign signs the part missing"

# kill -9 at random moments, then the same command: the same output.
if ! skip_under_valgrind "killed at random moments" "kills within a measured run"; then
    start=$(date +%s%N)
    scan -j 2 --work-dir "$T/timing" --part-size $PS >/dev/null 2>&1
    run_ms=$((($(date +%s%N) - start) / 1000000))
    killed=0 fails=0
    for round in $(seq 1 24); do
        dir="$T/k$round"
        # Half the rounds kill twice in the same folder before finishing; a
        # third kill a task of two instead of a whole run. A quarter start
        # from the parts all signed, so that the kills land in the stages
        # after sign (group, verify, decide); of those, one round in two
        # kills a group task, then a verify task. Another quarter start from
        # the paragraphs' group and verify files made, so that the kills land
        # in the documents' stages (group-docs, verify-docs) and decide.
        stage=()
        if [ $((round % 4)) = 1 ]; then
            mkdir -p "$dir" && cp -r "$T/w1/plan" "$T/w1/sign" "$dir/"
            [ $((round % 8)) = 1 ] && stage=(--stage group)
        elif [ $((round % 4)) = 3 ]; then
            mkdir -p "$dir" && cp -r "$T/w1/plan" "$T/w1/sign" "$T/w1/group" "$T/w1/verify" "$dir/"
        fi
        for kill in 1 $((round % 2 ? 2 : 1)); do
            task=()
            [ $((round % 3)) = 0 ] && task=(--task $((kill % 2)) --tasks 2)
            [ ${#stage[@]} -gt 0 ] && task=(--task $((kill % 2)) --tasks 2 "${stage[@]}") &&
                stage=(--stage verify)
            # dedup itself in the background, not the function scan: kill -9
            # of the subshell running a function left dedup running on, still
            # writing while the next run began (a flaky "temporary files left").
            "$DEDUP" scan -q -f jsonl -j 2 --work-dir "$dir" --part-size $PS "${task[@]}" "$G" \
                >/dev/null 2>&1 &
            pid=$!
            ms=$((RANDOM % (run_ms + 1)))
            sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
            kill -9 $pid 2>/dev/null && killed=$((killed + 1))
            wait $pid 2>/dev/null
        done
        scan -j 2 --work-dir "$dir" --part-size $PS >"$T/got.out" 2>"$T/got.err"
        echo $? >"$T/got.status"
        if ! cmp -s "$T/want.out" "$T/got.out" || ! cmp -s "$T/want.err" "$T/got.err" ||
            ! cmp -s "$T/want.status" "$T/got.status"; then
            fails=$((fails + 1))
            echo "round $round: $(diff "$T/want.err" "$T/got.err" | head -3)" >>"$T/kill.log"
        fi
        if find "$dir" -name '*.tmp.*' | grep -q .; then
            fails=$((fails + 1))
            echo "round $round: temporary files left" >>"$T/kill.log"
        fi
    done
    [ $fails = 0 ] && ok "24 rounds killed at random moments ($killed kills in a run of ${run_ms} ms), then run again: the same output" ||
        not_ok "killed at random moments, then run again: the same output" "$(head -20 "$T/kill.log")"
fi

# A part file cut off, or damaged inside, is not trusted: signed again.
cp -r "$T/w1" "$T/cut"
p="$T/cut/sign/part-000002"
truncate -s $(($(stat -c %s "$p") / 2)) "$p"
expect_status "--stage decide on a part cut off: exit 2" 2 \
    "$DEDUP" scan -q --work-dir "$T/cut" --part-size $PS --stage decide "$G"
expect_grep "... saying so" "part-000002: cut off (" "$T/err"
scan --work-dir "$T/cut" --part-size $PS >"$T/got.out" 2>"$T/got.err"
expect_same "a part cut off is signed again: the same report" "$T/want.out" "$T/got.out"
expect_grep "... with a warning" "bytes); signing it again" "$T/got.err"
cmp -s "$T/w1/sign/part-000002" "$p" && ok "... and the part is whole again" ||
    not_ok "... and the part is whole again"
cp -r "$T/w1" "$T/flip"
p="$T/flip/sign/part-000001"
python3 - "$p" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x20
open(p, "wb").write(bytes(b))
EOF
scan --work-dir "$T/flip" --part-size $PS >"$T/got.out" 2>"$T/got.err"
expect_same "a part with one byte changed is signed again: the same report" "$T/want.out" "$T/got.out"
expect_grep "... with a warning" "part-000001: damaged" "$T/got.err"

# Other settings, inputs or part size: refused, saying which, before any
# output (-f jsonl: not even the header record).
refused() {
    local name=$1 want=$2
    shift 2
    "$DEDUP" scan -q -f jsonl --work-dir "$T/w1" "$@" >"$T/out" 2>"$T/err"
    local s=$?
    if [ $s = 2 ] && grep -qF -- "$want" "$T/err" && [ ! -s "$T/out" ]; then ok "$name"; else
        not_ok "$name" "exit $s: $(head -c 400 "$T/err"), $(wc -c <"$T/out") bytes on stdout"
    fi
}
refused "other threshold: refused, named" "made with other settings (threshold: 0.8 there, 0.7 here)" \
    --part-size $PS -t 0.7 "$G"
refused "other unit: refused, named" "(unit: line there, block here)" --part-size $PS -u block "$G"
refused "other inputs: refused" "made for other inputs" --part-size $PS "$G/part0" "$G/part1"
echo "one more document, with enough words to be one" >"$T/extra.txt"
refused "one more input: refused" "made for other inputs" --part-size $PS "$G" "$T/extra.txt"
refused "other part size: refused" "made with another --part-size" --part-size 8K "$G"
cp -rp "$G" "$T/edited"
"$DEDUP" scan -q --work-dir "$T/we" --part-size $PS "$T/edited" >/dev/null 2>&1
sed -i "s/^/x/" "$T/edited/part2/doc006.txt" # edited
touch -d '2001-01-01' "$T/edited/part3/doc007.txt" # the same bytes, changed since
"$DEDUP" scan -q --work-dir "$T/we" --part-size $PS "$T/edited" >"$T/out" 2>"$T/err"
s=$?
[ $s = 2 ] && grep -q "made for other inputs (.*; the first that differ are in part [0-9]*, from $T/edited/part" "$T/err" &&
    ok "inputs changed since: refused, naming the first part that differs" ||
    not_ok "inputs changed since: refused, naming the first part that differs" "exit $s: $(cat "$T/err")"
rm -rf "$T/we"
"$DEDUP" scan -q --work-dir "$T/we" --part-size $PS "$T/edited" >/dev/null 2>&1
touch -d '2002-02-02' "$T/edited/part3/doc007.txt"
expect_status "a file touched since (same bytes): refused" 2 \
    "$DEDUP" scan -q --work-dir "$T/we" --part-size $PS "$T/edited"
same "after the refusals, the folder still serves" "$T/w1"

# clean and check from a work folder: the same outputs.
"$DEDUP" clean -q -o "$T/clean.want" "$G" >"$T/cw.out" 2>"$T/cw.err"
echo $? >>"$T/cw.out"
"$DEDUP" clean -q -o "$T/clean.got" --work-dir "$T/wc" --part-size $PS "$G" >"$T/cg.out" 2>"$T/cg.err"
echo $? >>"$T/cg.out"
if diff -r "$T/clean.want" "$T/clean.got" >/dev/null && cmp -s "$T/cw.out" "$T/cg.out" &&
    cmp -s "$T/cw.err" "$T/cg.err"; then ok "clean -o with --work-dir: the same cleaned files"; else
    not_ok "clean -o with --work-dir: the same cleaned files" "$(diff "$T/cw.err" "$T/cg.err" | head -5)"
fi
"$DEDUP" check -q "$G/part1/doc001.txt" >"$T/kw.out" 2>"$T/kw.err"
echo $? >>"$T/kw.out"
"$DEDUP" check -q --work-dir "$T/wk" --part-size 4K "$G/part1/doc001.txt" >"$T/kg.out" 2>"$T/kg.err"
echo $? >>"$T/kg.out"
cmp -s "$T/kw.out" "$T/kg.out" && cmp -s "$T/kw.err" "$T/kg.err" &&
    ok "check with --work-dir: the same findings" || not_ok "check with --work-dir: the same findings"

# A full disk: an error naming the file, no temporary file left, the parts
# done kept; with room again, the run goes on from them. (A small tmpfs:
# only as root, where mount works.)
mkdir -p "$T/small"
if mount -t tmpfs -o size=192k tmpfs "$T/small" 2>/dev/null; then
    trap 'umount "$T/small" 2>/dev/null; rm -rf "$T"' EXIT
    scan --work-dir "$T/small/w" --part-size $PS >"$T/out" 2>"$T/err"
    s=$?
    done_parts=$(ls "$T/small/w/sign" | grep -c '\.done$')
    left=$(ls "$T/small/w/sign" | grep -c '\.tmp\.')
    [ $s = 2 ] && grep -q "/small/w/sign/part-[0-9]*\(\.keys\)\?\.tmp\..*: No space left on device" "$T/err" &&
        [ "$left" = 0 ] && [ "$done_parts" -ge 1 ] &&
        ok "a full disk: exit 2 naming the file, no temporary left, the parts done kept ($done_parts)" ||
        not_ok "a full disk: exit 2 naming the file, no temporary left, parts kept" \
            "exit $s, $left temporaries, $done_parts parts: $(cat "$T/err")"
    cp -a "$T/small/w" "$T/roomy"
    umount "$T/small"
    same "with room again: the run goes on, the same output" "$T/roomy"
else
    ok "a full disk # skip: cannot mount a small tmpfs here"
fi

# What cannot be kept, and usage.
echo "a document on standard input" | "$DEDUP" scan -q --work-dir "$T/stdin" - >"$T/out" 2>"$T/err"
[ $? = 2 ] && grep -q "stream is read once" "$T/err" && ok "standard input: refused" ||
    not_ok "standard input: refused" "$(cat "$T/err")"
expect_status "--task without --work-dir: usage error" 2 "$DEDUP" scan --task 0 --tasks 2 "$G"
expect_status "--tasks without --work-dir: usage error" 2 "$DEDUP" scan --tasks 2 "$G"
expect_status "--task without --tasks: usage error" 2 "$DEDUP" scan --work-dir "$T/u" --task 0 "$G"
expect_status "--task 2 --tasks 2: usage error" 2 "$DEDUP" scan --work-dir "$T/u" --task 2 --tasks 2 "$G"
expect_status "--stage without --work-dir: usage error" 2 "$DEDUP" scan --stage sign "$G"
expect_status "--part-size without --work-dir: usage error" 2 "$DEDUP" scan --part-size 1M "$G"

finish
