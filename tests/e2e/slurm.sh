#!/usr/bin/env bash
# The Slurm executor on a real cluster: tests/slurm/cluster.sh starts a
# single-node Slurm on this machine (munged, slurmctld, slurmd, as root,
# without systemd), and the pipeline runs through it: scan and clean
# --executor slurm --tasks 4 submit the sign, group and verify stages as job
# arrays of 4 tasks each, each after the one before, and the decide stage
# after them (--dependency=afterok). Their outputs must be those of the
# local run, byte for byte. Then one task is stopped in the middle of its
# work (its first part or partition made, its second about to be written):
# a sign task's process killed (kill -9), a group task's job cancelled
# (scancel), a verify task's process killed, in its paragraphs' partitions
# and in its documents' (verify-docs: the group and verify tasks make the
# partitions of the near-duplicate documents too, run/doc_stages.h). `dedup status` must show the
# task failed, with its log, and the later stages waiting. The same command
# run while the task runs must submit nothing (what is queued stays
# queued); once it has failed, the same command must submit that task only,
# cancel the later jobs still queued and submit them again, keep every file
# already made, and give the same output again.
# Every daemon the test started is stopped by its process id, also when
# the test fails (a trap), and nothing of the cluster is left running.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/slurm/cluster.sh
. "$here/../slurm/cluster.sh"

# Under valgrind, the dedup a job would run is the wrapper's valgrind, not
# dedup (the executor names the program it runs as); and every job would
# be 20 to 50 times slower.
skip_under_valgrind "slurm executor" "jobs run the program itself" && exit 0

PATH=$PATH:/usr/sbin:/sbin
for prog in munged slurmctld slurmd sbatch squeue scancel; do
    if ! command -v "$prog" >/dev/null; then
        not_ok "Slurm is installed" "$prog not found: make deps installs slurm-wlm and munge"
        finish
    fi
done
if [ "$(id -u)" != 0 ]; then
    not_ok "the test runs as root" "slurmd runs jobs as any user only as root (make check as root)"
    finish
fi

CLUSTER=$T/cluster
# A failed run keeps the daemons' logs and every run's slurm/ folder (its
# jobs and their logs) in $DEDUP_BUILD/slurm-test-logs (else $TMPDIR), as
# the test's folder goes: a failure seen once under load can be read.
keep_logs_if_failed() {
    [ "$_failed" = 0 ] && return 0
    local to="${DEDUP_BUILD:-${TMPDIR:-/tmp}}/slurm-test-logs" w
    rm -rf "$to" && mkdir -p "$to" || return 0
    cp -r "$CLUSTER/log" "$to/cluster" 2>/dev/null
    for w in "$T"/work*; do
        [ -d "$w/slurm" ] && cp -r "$w/slurm" "$to/$(basename "$w")" 2>/dev/null
    done
    echo "# slurm.sh failed: the cluster's and the runs' logs are kept in $to" >&2
}
trap 'keep_logs_if_failed; slurm_cluster_stop "$CLUSTER" >/dev/null 2>&1; rm -rf "$T"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP
cd "$T" || exit 2
if slurm_cluster_start "$CLUSTER" 2>cluster.err; then
    ok "a single-node Slurm cluster starts (munged, slurmctld, slurmd) and its node is idle"
else
    not_ok "a single-node Slurm cluster starts" "$(cat cluster.err)"
    finish
fi

# A corpus of about 130 documents, about 250 KB: exact and near copies,
# repeated paragraphs, boilerplate. With --part-size 16K it is cut into
# about 16 parts: 4 or more for each of the 4 sign tasks.
PYTHONPATH="$TESTS" python3 - "$FIXTURES/seeds" corpus <<'EOF'
import sys
from gen_docs import Words, write_files
g = Words(sys.argv[1], seed=17)
docs = g.documents(110, [3, 5, 8, 13, 21], [g.line() for _ in range(30)], repeat_every=7)
for i in range(0, 100, 5):  # copies, exact and edited, after their originals
    copy = list(docs[i])
    if i % 10 == 0:
        copy[g.rng.randrange(len(copy))] = g.line()
    docs.append(copy)
write_files(sys.argv[2], docs, "doc%03d.txt")
EOF

"$DEDUP" scan -q --format jsonl corpus >local.jsonl 2>local.err
[ $? = 1 ] && [ -s local.jsonl ] && ok "the local run finds duplicates (exit 1)" ||
    not_ok "the local run finds duplicates (exit 1)" "$(cat local.err)"
"$DEDUP" clean -q corpus -o local.clean 2>local.err ||
    not_ok "the local clean -o succeeds" "$(cat local.err)"

STAGES=(--part-size 16K --tasks 4 --executor slurm)

# expect_status_of NAME WANT GOT: a submission's exit status.
expect_status_of() {
    if [ "$3" = "$2" ]; then ok "$1"; else not_ok "$1" "exit $3; $(cat submit.out submit.err)"; fi
}

# expect_line NAME REGEX FILE: FILE has a line that REGEX (extended) matches.
expect_line() {
    if grep -qE -- "$2" "$3"; then ok "$1"; else
        not_ok "$1" "no line matching '$2' in: $(head -c 900 "$3")"
    fi
}

# wait_for WORK SECONDS: waits until dedup status --work-dir WORK says
# every stage is done (exit 0), or that in a stage no task is pending or
# running and one failed (exit 1); its last output in status.out.
wait_for() {
    local i st
    for i in $(seq $(($2 * 2))); do
        "$DEDUP" status --work-dir "$1" >status.out 2>&1
        st=$?
        [ "$st" = 0 ] && return 0
        [ "$st" = 2 ] && return 2
        grep -Eq '^(sign|group|verify): .* 0 running, 0 pending, [1-9][0-9]* failed' status.out &&
            return 1
        sleep 0.5
    done
    return 1
}

# pid_wait FILE SECONDS: waits until FILE is there, not empty.
pid_wait() {
    local i
    for i in $(seq $(($2 * 10))); do
        [ -s "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

# inodes FILE...: the name and inode of each file (a part signed again is
# written under a temporary name and renamed: another inode).
inodes() {
    stat -c '%n %i' "$@" 2>&1
}

# ---- scan and clean through Slurm -----------------------------------------
"$DEDUP" scan -q --format jsonl corpus --work-dir work1 "${STAGES[@]}" >submit.out 2>submit.err
expect_status_of "scan --executor slurm submits (exit 0)" 0 $?
expect_grep "... the sign stage as an array of 4 tasks" "sign: 4 tasks submitted as job array" submit.out
for stage in group verify; do
    expect_line "... the $stage stage as an array of 4 tasks, after the stages before" \
        "^$stage: 4 tasks submitted as job array [0-9]*, after the stages before \(afterok\)" submit.out
done
expect_line "... and the decide stage after them" \
    "^decide: submitted as job [0-9]*, after the stages before \(afterok\)" submit.out
parts=$(sed -n 's/^parts //p' work1/plan)
if [ "${parts:-0}" -ge 16 ]; then ok "... the corpus is cut into $parts parts (4 or more a task)"
else not_ok "... the corpus is cut into 16 parts or more" "parts: ${parts:-none}"; fi
if wait_for work1 120; then ok "... every task ends well"; else
    not_ok "... every task ends well" "$(cat status.out; tail -n 20 work1/slurm/logs/*)"
fi
expect_same "... the report is the local run's, byte for byte" local.jsonl work1/slurm/decide.out
expect_line "... dedup status: the 4 sign tasks done, every part signed" \
    "sign: 4 tasks: 4 done, 0 running, .*; $parts parts, $parts done" status.out
for stage in group verify; do
    expect_line "... dedup status: the 4 $stage tasks done, every partition made" \
        "$stage: 4 tasks: 4 done, 0 running, .*; $parts partitions, $parts done" status.out
    expect_line "... and every partition of the near-duplicate documents" \
        "$stage: 4 tasks: .*, $parts done \(of near-duplicate documents: $parts done\)" status.out
    # Each task made its partitions in its own job (the decide job makes
    # only those missing): its log is there, and says nothing wrong.
    logs=$(ls work1/slurm/logs/"$stage"-[0-3].*.log 2>/dev/null | wc -l)
    if [ "$logs" = 4 ] && ! grep -q . work1/slurm/logs/"$stage"-*.log; then
        ok "... each $stage task ran as a task of the array, its log empty"
    else
        not_ok "... each $stage task ran as a task of the array, its log empty" \
            "$(ls work1/slurm/logs; cat work1/slurm/logs/"$stage"-*.log)"
    fi
done
expect_grep "... dedup status: the decide stage done" "decide: 1 task: 1 done" status.out
expect_grep "... dedup status: its exit status (1: duplicates found)" "decide ended with exit 1" status.out
njobs=$(wc -l <work1/slurm/jobs)
"$DEDUP" scan -q --format jsonl corpus --work-dir work1 "${STAGES[@]}" >submit.out 2>submit.err
expect_status_of "the same command again: exit 0" 0 $?
expect_grep "... it submits nothing" "every stage is done: nothing to submit" submit.out
[ "$(wc -l <work1/slurm/jobs)" = "$njobs" ] && ok "... no job recorded" ||
    not_ok "... no job recorded" "$(cat work1/slurm/jobs)"

"$DEDUP" clean -q corpus -o slurm.clean --work-dir work2 "${STAGES[@]}" >submit.out 2>submit.err
expect_status_of "clean --executor slurm submits (exit 0)" 0 $?
if wait_for work2 120; then ok "... every task ends well"; else
    not_ok "... every task ends well" "$(cat status.out; tail -n 20 work2/slurm/logs/*)"
fi
if diff -r local.clean slurm.clean >diff.out 2>&1; then
    ok "... the cleaned corpus is the local run's, byte for byte"
else
    not_ok "... the cleaned corpus is the local run's, byte for byte" "$(head -20 diff.out)"
fi

# ---- a task stopped in the middle, then resumed ---------------------------
if ! ${CC:-cc} -shared -fPIC -o hold.so "$here/hold_at_open.c" -ldl 2>cc.err; then
    not_ok "build the hold helper" "$(cat cc.err)"
    finish
fi

# stop_task HOW STAGE LATER WORK COMMAND...: submits COMMAND (scan or
# clean) with the helper preloaded in its jobs, so that task 2 of STAGE
# (parts or partitions 2, 6, 10...) stops as it starts writing its file 6,
# its file 2 made; runs the same command (which must submit nothing); then
# ends the task (HOW: kill, its process killed;
# scancel, its job cancelled), checks what status says, submits the same
# command again (without the helper) and waits for the run to end. LATER:
# the stages submitted as arrays after STAGE, whose tasks wait. With HOLD
# set (group-docs, verify-docs), the task stops at that folder's file 6
# instead (the documents' partitions, made by STAGE's tasks).
stop_task() {
    local how=$1 stage=$2 later=$3 work=$4
    shift 4
    local hold=${HOLD:-$stage}
    local what="$how in $hold" l
    rm -f stop.pid
    env LD_PRELOAD="$T/hold.so" DEDUP_TEST_HOLD_AT="/$hold/part-000006.tmp." \
        DEDUP_TEST_HOLD_PID="$T/stop.pid" \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
        "$DEDUP" "$@" --work-dir "$work" "${STAGES[@]}" >submit.out 2>submit.err
    expect_status_of "$what: submitted (exit 0)" 0 $?
    local array
    array=$(sed -n "s/^$stage: 4 tasks submitted as job array \([0-9]*\).*/\1/p" submit.out)
    if ! pid_wait stop.pid 180; then
        not_ok "$what: $stage task 2 stops before its file 6" "$("$DEDUP" status --work-dir "$work" 2>&1)"
        return 1
    fi
    ok "$what: $stage task 2 stops before its file 6, its process running"
    if [ -f "$work/$hold/part-000002.done" ] && [ ! -f "$work/$hold/part-000006.done" ]; then
        ok "$what: ... its file 2 made, 6 not"
    else
        not_ok "$what: ... its file 2 made, 6 not" "$(ls "$work/$hold")"
    fi
    # The same command while the task runs: what is queued stays queued.
    local njobs
    njobs=$(wc -l <"$work/slurm/jobs")
    "$DEDUP" "$@" --work-dir "$work" "${STAGES[@]}" >submit.out 2>submit.err
    expect_status_of "$what: the same command while it runs: exit 0" 0 $?
    expect_line "$what: ... leaves its task queued" \
        "^$stage: [1-4] tasks? still queued or running from an earlier submission" submit.out
    for l in $later; do
        expect_line "$what: ... and the $l tasks" \
            "^$l: 4 tasks still queued or running from an earlier submission" submit.out
    done
    expect_line "$what: ... and the decide job" "^decide: job [0-9]+ is still queued" submit.out
    if [ "$(wc -l <"$work/slurm/jobs")" = "$njobs" ] && ! grep -q "submitted as job" submit.out; then
        ok "$what: ... it submits nothing"
    else
        not_ok "$what: ... it submits nothing" "$(cat submit.out "$work/slurm/jobs")"
    fi
    if [ "$how" = kill ]; then
        kill -KILL "$(cat stop.pid)"
    else
        scancel "${array}_2"
    fi
    wait_for "$work" 120
    # Slurm gives a pending job the reason None until its scheduler has
    # looked at it again after the failure (seen under load: the group tasks
    # "wait: None" a moment after the sign task died), so status is read
    # again until every waiting stage has its reason, for 30 s at most.
    local tries
    for tries in $(seq 60); do
        grep -Eq "wait: None|waits: None" status.out || break
        sleep 0.5
        "$DEDUP" status --work-dir "$work" >status.out 2>&1
    done
    local made before after
    made=$(ls "$work"/sign/part-?????? "$work"/group/part-?????? "$work"/verify/part-?????? \
        "$work"/group-docs/part-?????? "$work"/verify-docs/part-?????? 2>/dev/null)
    # shellcheck disable=SC2086
    before=$(inodes $made)
    expect_grep "$what: dedup status says the task failed" "  task 2 failed" status.out
    expect_grep "$what: ... and shows its log" "its log, $work/slurm/logs/$stage-2.$array.log" status.out
    if [ "$how" = kill ]; then
        expect_grep "$what: ... which says how it ended" "| $stage task 2: dedup ended on signal 9" status.out
    else
        expect_grep "$what: ... which says how it ended" "CANCELLED" status.out
    fi
    expect_line "$what: ... the other three done" \
        "^$stage: 4 tasks: 3 done, 0 running, 0 pending, 1 failed" status.out
    for l in $later; do
        expect_line "$what: ... the $l tasks waiting" "^$l: 4 tasks: 0 done, 0 running, 4 pending" status.out
        expect_grep "$what: ... on their dependency, as it says" "  the $l tasks wait: Dependency" status.out
    done
    expect_grep "$what: ... the decide stage waiting" "decide: 1 task: 0 done, 0 running, 1 pending" status.out
    # (Dependency, then DependencyNeverSatisfied once the scheduler has
    # looked at it again)
    expect_grep "$what: ... on its dependency, as it says" "  the decide job waits: Dependency" status.out
    "$DEDUP" "$@" --work-dir "$work" "${STAGES[@]}" >submit.out 2>submit.err
    expect_status_of "$what: the same command again: exit 0" 0 $?
    expect_line "$what: ... submits the failed task only" "^$stage: 1 task submitted as job array" submit.out
    for l in $later; do
        expect_line "$what: ... cancels the $l tasks that waited for it" \
            "^$l: 4 queued tasks cancelled \(they waited for a task that failed\)" submit.out
        expect_line "$what: ... and submits them again after it" \
            "^$l: 4 tasks submitted as job array [0-9]*, after the stages before \(afterok\)" submit.out
    done
    expect_grep "$what: ... cancels the decide job that waited for it" \
        "cancelled (it waited for a task that failed)" submit.out
    expect_line "$what: ... and submits another after it" \
        "^decide: submitted as job [0-9]*, after the stages before \(afterok\)" submit.out
    if wait_for "$work" 120; then ok "$what: the run resumed ends well"; else
        not_ok "$what: the run resumed ends well" "$(cat status.out; tail -n 20 "$work"/slurm/logs/*)"
    fi
    # shellcheck disable=SC2086
    after=$(inodes $made)
    if [ "$before" = "$after" ] && [ "$(echo "$made" | wc -l)" -ge 12 ]; then
        ok "$what: ... the $(echo "$made" | wc -l) files made before were not made again"
    else
        not_ok "$what: ... the files made before were not made again" "$before / $after"
    fi
}

stop_task kill sign "group verify" work3 scan -q --format jsonl corpus
expect_same "kill in sign: the report is the local run's, byte for byte" local.jsonl work3/slurm/decide.out

stop_task scancel group verify work4 clean -q corpus -o resumed.clean
if diff -r local.clean resumed.clean >diff.out 2>&1; then
    ok "scancel in group: the cleaned corpus is the local run's, byte for byte"
else
    not_ok "scancel in group: the cleaned corpus is the local run's, byte for byte" "$(head -20 diff.out)"
fi

stop_task kill verify "" work5 scan -q --format jsonl corpus
expect_same "kill in verify: the report is the local run's, byte for byte" local.jsonl work5/slurm/decide.out

HOLD=verify-docs stop_task kill verify "" work6 scan -q --format jsonl corpus
expect_same "kill in verify-docs: the report is the local run's, byte for byte" local.jsonl \
    work6/slurm/decide.out

# ---- nothing left running -------------------------------------------------
pids=$(awk '{ print $2 }' "$CLUSTER/pids")
if slurm_cluster_stop "$CLUSTER" 2>stop.err; then
    ok "the cluster stops: every daemon it started, by process id"
else
    not_ok "the cluster stops: every daemon it started, by process id" "$(cat stop.err)"
fi
left=""
for p in $pids $(slurm_owned_pids "$CLUSTER"); do kill -0 "$p" 2>/dev/null && left="$left $p"; done
[ -z "$left" ] && ok "... nothing of it is left running" || not_ok "... nothing of it is left running" "$left"
finish
