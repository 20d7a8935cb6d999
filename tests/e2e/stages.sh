#!/usr/bin/env bash
# The stages after sign in a work folder: group (candidate pairs of
# paragraphs across documents, a partition of band keys at a time) and
# verify (the pairs whose later paragraph is in each part), each split into
# tasks (--stage group|verify --task I --tasks N), then decide from the
# matches. Whether every stage runs in one process (the local executor) or
# stage by stage, task by task: the output of a run without a work folder,
# byte for byte (report, messages, exit status, cleaned files); each
# partition's file written once, with its marker and the plan's hashes; a
# damaged, cut off or missing file made again, never trusted. The group and
# verify stages make the files of near-duplicate documents too (group-docs,
# verify-docs: run/doc_stages.h), which decide sweeps instead of running
# the placer.
. "$(dirname "$0")/lib.sh"

G="$T/gen"
PYTHONPATH="$TESTS" python3 - "$FIXTURES/seeds" "$G" <<'EOF'
import os, sys
from gen_docs import Words, write_files
seeds, out = sys.argv[1], sys.argv[2]
g = Words(seeds, seed=17)
docs = g.documents(260, [2, 3, 5, 8, 13, 40, 120], [g.line() for _ in range(60)], repeat_every=7)
for i in range(0, 240, 9):  # copies, exact and edited
    docs.append(g.edit_one_word(docs[i]) if i % 2 else list(docs[i]))
write_files(out, docs, "doc%03d.txt", parts=4)
EOF

PS=16K # parts of 16 KB: a few dozen parts, as many partitions of group and verify
scan() { "$DEDUP" scan -q -f jsonl "$@" "$G"; }
scan -j 1 >"$T/want.out" 2>"$T/want.err"
echo $? >"$T/want.status"
grep -q '"type":"repeat"' "$T/want.out" && grep -q '"type":"cluster"' "$T/want.out" &&
    ok "the corpus has paragraphs repeated across documents, and copies" ||
    not_ok "the corpus has paragraphs repeated across documents" "$(head -c 400 "$T/want.out")"

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

# The local executor: every stage here, with 1 or 4 tasks a stage.
same "every stage here (--tasks 1): the output of the run without a work folder" "$T/w1" --tasks 1 -j 2
same "every stage here (--tasks 4, -j 3): the output of the run without" "$T/w4" --tasks 4 -j 3
nparts=$(sed -n 's/^parts //p' "$T/w1/plan")
for stage in group verify group-docs verify-docs; do
    files=$(ls "$T/w1/$stage" | grep -c '^part-[0-9]*$')
    marks=$(ls "$T/w1/$stage" | grep -c '^part-[0-9]*\.done$')
    [ "$nparts" -ge 8 ] && [ "$files" = "$nparts" ] && [ "$marks" = "$nparts" ] &&
        ok "$stage: one file a part ($nparts), each with its marker" ||
        not_ok "$stage: one file a part, each with its marker" "$nparts parts, $files files, $marks markers"
    diff -r "$T/w1/$stage" "$T/w4/$stage" >/dev/null &&
        ok "$stage: the files of --tasks 4 -j 3 are those of --tasks 1, byte for byte" ||
        not_ok "$stage: the files of --tasks 4 -j 3 are those of --tasks 1, byte for byte"
done

# Run again: nothing made again.
ls -li --time-style=full-iso "$T/w1/group" "$T/w1/verify" "$T/w1/group-docs" "$T/w1/verify-docs" >"$T/before"
same "run again on a complete folder: the same output" "$T/w1" -j 2
ls -li --time-style=full-iso "$T/w1/group" "$T/w1/verify" "$T/w1/group-docs" "$T/w1/verify-docs" >"$T/after"
expect_same "run again: no group or verify file written again" "$T/before" "$T/after"

# The plan's hashes in every header and marker.
python3 - "$T/w1" <<'EOF' >"$T/hashes" 2>&1
import os, re, struct, sys
w = sys.argv[1]
plan = open(os.path.join(w, "plan")).read()
settings = int(re.search(r"^settings ([0-9a-f]{16})$", plan, re.M).group(1), 16)
inputs = int(re.search(r"^inputs ([0-9a-f]{16})$", plan, re.M).group(1), 16)
bad = []
for stage, magic in (("group", b"DDGROUP2"), ("verify", b"DDVERIF1"), ("group-docs", b"DDGDOCS1"),
                     ("verify-docs", b"DDVERIF1")):
    for name in sorted(os.listdir(os.path.join(w, stage))):
        data = open(os.path.join(w, stage, name), "rb").read()
        if name.endswith(".done"):
            text = data.decode()
            if ("settings %016x" % settings) not in text or ("inputs %016x" % inputs) not in text:
                bad.append(stage + "/" + name)
        elif data[:8] != magic or struct.unpack("<QQ", data[8:24]) != (settings, inputs):
            bad.append(stage + "/" + name)
print("bad:", " ".join(bad) if bad else "none")
EOF
expect_grep "every group and verify file and marker carries the plan's hashes" "bad: none" "$T/hashes"

# Stage by stage, task by task (4 tasks a stage, at -j 1 and 3), then decide.
quiet_task() { # NAME ARGS...: a task exits 0 and says nothing
    local name=$1
    shift
    "$DEDUP" scan -q --work-dir "$T/tasks" --part-size $PS "$@" "$G" >"$T/out" 2>"$T/err"
    local s=$?
    [ $s = 0 ] && [ ! -s "$T/out" ] && [ ! -s "$T/err" ] && ok "$name" ||
        not_ok "$name" "exit $s: $(head -c 300 "$T/err")"
}
for i in 0 1 2 3; do
    "$DEDUP" scan -q --work-dir "$T/tasks" --part-size $PS --task $i --tasks 4 "$G" >/dev/null 2>&1
done
expect_status "--stage verify before group: exit 2" 2 \
    "$DEDUP" scan -q --work-dir "$T/tasks" --part-size $PS --stage verify "$G"
expect_grep "... naming the partition not grouped" "group/part-000000: not grouped" "$T/err"
for stage in group verify; do
    for i in 0 1 2 3; do
        quiet_task "$stage task $i of 4: exit 0, no report, nothing said" \
            -j $((i % 2 ? 3 : 1)) --stage $stage --task $i --tasks 4
        if [ $stage = group ] && [ $i = 0 ]; then
            others=$(ls "$T/tasks/group" | grep '^part-[0-9]*\.done$' |
                sed 's/part-0*\([0-9][0-9]*\)\.done/\1/;s/^$/0/' | awk '$1 % 4 != 0' | wc -l)
            mine=$(ls "$T/tasks/group" | grep -c '^part-[0-9]*\.done$')
            [ "$mine" -ge 2 ] && [ "$others" = 0 ] &&
                ok "group task 0 of 4 makes partitions 0, 4, 8... only" ||
                not_ok "group task 0 of 4 makes partitions 0, 4, 8... only" "$mine, $others of others"
        fi
    done
    diff -r "$T/w1/$stage" "$T/tasks/$stage" >/dev/null &&
        diff -r "$T/w1/$stage-docs" "$T/tasks/$stage-docs" >/dev/null &&
        ok "four $stage tasks make the files of one run (and of the documents: $stage-docs)" ||
        not_ok "four $stage tasks make the files of one run (and of the documents: $stage-docs)"
done
ls -li --time-style=full-iso "$T/tasks/"{group,verify,group-docs,verify-docs} >"$T/before"
same "--stage decide after the tasks of every stage: the output of the run without" "$T/tasks" \
    --stage decide -j 2
ls -li --time-style=full-iso "$T/tasks/"{group,verify,group-docs,verify-docs} >"$T/after"
expect_same "... reading their files, making none again" "$T/before" "$T/after"

damage() { # FILE: one byte changed in the middle
    python3 - "$1" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x20
open(p, "wb").write(bytes(b))
EOF
}

# A task reads its share: each sign part's band keys are written beside it
# cut by group partition (part-NNNNNN.keys), so a group task reads its
# partitions' sections of them, not the facts; a verify task reads its
# section of each group file and each paragraph's set by one pread (the
# table of the keys file says where), not whole documents' facts. Bytes
# read by each task (rchar of /proc: every read and pread), against the
# bytes of the facts (which each task read at least once, whole, before).
# A group task reads its share of the documents' band keys too (its
# section of each docs file: 64 keys of 20 bytes a document), a verify task
# its section of each group-docs file and each signature by one pread; on
# these short documents (7 KB of facts each) in parts of 16 KB, that and
# each section's and marker's read weigh as much as the paragraphs': a half
# of the facts' bytes at most, then (a task of 4 read twice the facts
# before the keys were cut by partition).
for i in 0 1 2 3; do
    "$DEDUP" scan -q --work-dir "$T/io" --part-size $PS --task $i --tasks 4 "$G" >/dev/null 2>&1
done
facts=$(find "$T/io/sign" -name 'part-[0-9]*[0-9]' -printf '%s\n' | awk '{s += $1} END {print s}')
for stage in group verify; do
    for i in 0 1 2 3; do
        read=$(python3 - "$DEDUP" scan -q --work-dir "$T/io" --part-size $PS --stage $stage \
            --task $i --tasks 4 "$G" <<'EOF'
import subprocess, sys
def rchar():
    return int(dict(l.split(":") for l in open("/proc/self/io"))["rchar"])
r0 = rchar()
st = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(rchar() - r0 if st.returncode == 0 else "exit %d" % st.returncode)
EOF
        )
        most=$((facts / 2))
        [ "$read" -lt $most ] 2>/dev/null &&
            ok "$stage task $i of 4 reads $most bytes at most ($read of the facts' $facts)" ||
            not_ok "$stage task $i of 4 reads $most bytes at most" "$read of the facts' $facts"
    done
done
diff -r "$T/w1/group" "$T/io/group" >/dev/null && diff -r "$T/w1/verify" "$T/io/verify" >/dev/null &&
    diff -r "$T/w1/verify-docs" "$T/io/verify-docs" >/dev/null &&
    ok "... and the tasks make the files of one run" ||
    not_ok "... and the tasks make the files of one run"

# A keys file damaged in one section, or missing: made again from its
# part's facts by the group task that reads it (said when damaged), as it
# was; the same group files and report.
cp -r "$T/io" "$T/keys"
rm -f "$T/keys/group/"* "$T/keys/verify/"* "$T/keys/group-docs/"* "$T/keys/verify-docs/"*
damage "$T/keys/sign/part-000002.keys"
rm "$T/keys/sign/part-000005.keys"
damage "$T/keys/sign/part-000004.docs"
rm "$T/keys/sign/part-000007.docs"
for i in 0 1 2 3; do
    "$DEDUP" scan -q --work-dir "$T/keys" --part-size $PS --stage group --task $i --tasks 4 "$G" \
        >/dev/null 2>>"$T/keys.err" || echo "group task $i: exit $?" >>"$T/keys.err"
done
expect_grep "a keys file damaged: said by the group task that reads it" \
    "sign/part-000002.keys: damaged" "$T/keys.err"
expect_grep "a docs file damaged: said by the group task that reads it" \
    "sign/part-000004.docs: damaged" "$T/keys.err"
expect_grep "a docs file missing: said by the group task that reads it" \
    "sign/part-000007.docs: not there; making it again" "$T/keys.err"
grep -q "exit" "$T/keys.err" && not_ok "... every group task exits 0" "$(cat "$T/keys.err")" ||
    ok "... every group task exits 0"
diff -r "$T/io/sign" "$T/keys/sign" >/dev/null && ok "... the keys and docs files made again as they were" ||
    not_ok "... the keys and docs files made again as they were"
diff -r "$T/w1/group" "$T/keys/group" >/dev/null && diff -r "$T/w1/group-docs" "$T/keys/group-docs" >/dev/null &&
    ok "... the group and group-docs files of one run" ||
    not_ok "... the group and group-docs files of one run"
damage "$T/keys/sign/part-000001.keys"
same "a keys file damaged, then --stage decide: the output of the run without" "$T/keys" \
    --stage decide
damage "$T/keys/sign/part-000003.keys"
"$DEDUP" scan -q --work-dir "$T/keys" --part-size $PS --stage sign "$G" >/dev/null 2>"$T/err"
expect_grep "--stage sign: a keys file damaged, said" "sign/part-000003.keys: damaged" "$T/err"
diff -r "$T/io/sign" "$T/keys/sign" >/dev/null && ok "... and made again as it was" ||
    not_ok "... and made again as it was"

# A group stage before every part is signed is refused.
"$DEDUP" scan -q --work-dir "$T/early" --part-size $PS --task 0 --tasks 2 "$G" >/dev/null 2>&1
expect_status "--stage group with parts not signed: exit 2" 2 \
    "$DEDUP" scan -q --work-dir "$T/early" --part-size $PS --stage group "$G"
expect_grep "... naming the part" "sign/part-000001: not signed" "$T/err"

# Damaged, cut off or missing files: made again, with a warning; the same
# output, and the files as they were.
cp -r "$T/w1" "$T/bad"
damage "$T/bad/group/part-000002"
truncate -s 100 "$T/bad/verify/part-000003"
rm "$T/bad/verify/part-000005"
rm "$T/bad/group/part-000006.done" "$T/bad/verify/part-000007.done"
damage "$T/bad/group-docs/part-000002"
truncate -s 60 "$T/bad/verify-docs/part-000003"
rm "$T/bad/verify-docs/part-000005" "$T/bad/group-docs/part-000006.done"
scan --work-dir "$T/bad" --part-size $PS >"$T/got.out" 2>"$T/got.err"
expect_same "damaged, cut off and missing files: the same report" "$T/want.out" "$T/got.out"
expect_grep "... a damaged group file, said" "group/part-000002: damaged" "$T/got.err"
expect_grep "... a verify file cut off, said" "verify/part-000003: cut off (100 of its" "$T/got.err"
expect_grep "... a verify file missing, said" "verify/part-000005: No such file" "$T/got.err"
expect_grep "... a damaged group-docs file, said" "group-docs/part-000002: damaged" "$T/got.err"
expect_grep "... a verify-docs file cut off, said" "verify-docs/part-000003: cut off (60 of its" "$T/got.err"
expect_grep "... a verify-docs file missing, said" "verify-docs/part-000005: No such file" "$T/got.err"
diff -r "$T/w1/group" "$T/bad/group" >/dev/null && diff -r "$T/w1/verify" "$T/bad/verify" >/dev/null &&
    diff -r "$T/w1/group-docs" "$T/bad/group-docs" >/dev/null &&
    diff -r "$T/w1/verify-docs" "$T/bad/verify-docs" >/dev/null &&
    ok "... every file made again as it was" || not_ok "... every file made again as it was"

# decide sweeps the verified pairs of the documents: the placer's index of
# every representative's band keys is not made (DEDUP_RUN_STATS says what
# the sweep held, a few bytes a document).
DEDUP_RUN_STATS=1 scan --work-dir "$T/w1" --part-size $PS -j 2 >/dev/null 2>"$T/stats.err"
expect_grep "decide clusters by the sweep of the verify-docs files" \
    "near-duplicate documents from the work folder: " "$T/stats.err"
cp -r "$T/w1" "$T/bad2"
damage "$T/bad2/verify/part-000001"
expect_status "--stage verify --task 1 --tasks 4 makes a damaged verify file again: exit 0" 0 \
    "$DEDUP" scan -q --work-dir "$T/bad2" --part-size $PS --stage verify --task 1 --tasks 4 "$G"
cmp -s "$T/w1/verify/part-000001" "$T/bad2/verify/part-000001" && ok "... as it was" ||
    not_ok "... as it was"
damage "$T/bad2/group/part-000004"
scan --work-dir "$T/bad2" --part-size $PS --stage decide >"$T/got.out" 2>"$T/got.err"
expect_same "--stage decide with a group file damaged: the same report" "$T/want.out" "$T/got.out"
# (The verify files made, decide reads no group file: the group stage,
# which checks its own files whole, finds it.)
"$DEDUP" scan -q --work-dir "$T/bad2" --part-size $PS --stage group "$G" >/dev/null 2>"$T/got.err"
expect_grep "--stage group: the damaged group file made again, said" "group/part-000004: damaged" \
    "$T/got.err"
cmp -s "$T/w1/group/part-000004" "$T/bad2/group/part-000004" && ok "... as it was" ||
    not_ok "... as it was"

# clean from a work folder made stage by stage: the same cleaned files.
"$DEDUP" clean -q -o "$T/clean.want" "$G" >"$T/cw.out" 2>"$T/cw.err"
echo $? >>"$T/cw.out"
for stage in sign group verify; do
    "$DEDUP" clean -q -o "$T/clean.got" --work-dir "$T/wc" --part-size $PS --stage $stage --tasks 2 "$G" \
        >/dev/null 2>&1
done
"$DEDUP" clean -q -o "$T/clean.got" --work-dir "$T/wc" --part-size $PS --stage decide "$G" \
    >"$T/cg.out" 2>"$T/cg.err"
echo $? >>"$T/cg.out"
if diff -r "$T/clean.want" "$T/clean.got" >/dev/null && cmp -s "$T/cw.out" "$T/cg.out" &&
    cmp -s "$T/cw.err" "$T/cg.err"; then ok "clean -o, stage by stage: the same cleaned files"; else
    not_ok "clean -o, stage by stage: the same cleaned files" "$(diff "$T/cw.err" "$T/cg.err" | head -5)"
fi

expect_status "--task with --stage decide: usage error" 2 \
    "$DEDUP" scan --work-dir "$T/u" --stage decide --task 0 --tasks 2 "$G"
expect_status "--stage other: usage error" 2 "$DEDUP" scan --work-dir "$T/u" --stage cluster "$G"
expect_grep "... naming the stages" "is not sign, group, verify or decide" "$T/err"

finish
