#!/usr/bin/env bash
# What each sign task of a work folder reads: the corpus split among N
# tasks (dedup scan --work-dir W --task I --tasks N), each run alone, and
# for each its wall and CPU time, the bytes it read (rchar of
# /proc/PID/io: every read(2) and pread(2): its shards, the scratch copy of
# decompressed records read again, its part files read back to check them)
# and wrote (wchar: the scratch copy, its part files); then the decision from the tasks' parts, compared byte
# for byte with the report of a run without a work folder.
#
#   bench/bench_task_reads.sh [SHARDS]
#
# SHARDS: a folder of JSONL shards (default: bench/.data/snn-shards/gz,
# SaudiNewsNet, one gzip shard per day, as bench/bench_shards.sh makes it).
# TASKS=N (default 4). J=N: -j of each task (default 1). PART=SIZE:
# --part-size (default 1M: about one shard per part). DEDUP=PATH: another
# binary (to compare with one before tasks read their own shards only).
set -eu
cd "$(dirname "$0")/.."
tasks=${TASKS:-4}
j=${J:-1}
part=${PART:-1M}
shards=${1:-bench/.data/snn-shards/gz}

. bench/lib.sh
[ -d "$shards" ] || die "$shards is missing: run bench/bench_shards.sh once, or name a folder"
use_dedup

bytes=$(corpus_bytes "$shards")

# measure LABEL COMMAND...: its wall and CPU time and the bytes it read and
# wrote (the counters of a process include its reaped children's).
measure() {
    local label=$1
    shift
    python3 - "$label" "$@" <<'PY'
import resource, subprocess, sys, time
def counters():
    io = dict(line.split(":") for line in open("/proc/self/io"))
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return int(io["rchar"]), int(io["wchar"]), ru.ru_utime + ru.ru_stime
label, cmd = sys.argv[1], sys.argv[2:]
(r0, w0, c0), t0 = counters(), time.monotonic()
st = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
t = time.monotonic() - t0
r1, w1, c1 = counters()
if st.returncode > 1:
    sys.exit("%s: exit %d: %s" % (label, st.returncode, st.stderr.decode()[-400:]))
print("%-16s %8.2f %8.2f %10.1f %10.1f" % (label, t, c1 - c0, (r1 - r0) / 1e6, (w1 - w0) / 1e6))
PY
}

printf '%s: %d shards, %.1f MB on disk; %d tasks, -j %d, --part-size %s\n' "$shards" \
    "$(find "$shards" -type f | wc -l)" "$(echo "$bytes / 1000000" | bc -l)" "$tasks" "$j" "$part"
printf '%-16s %8s %8s %10s %10s\n' run seconds "CPU s" "MB read" "MB written"
for ((i = 0; i < tasks; i++)); do
    measure "task $i of $tasks" "$dedup" scan -q -j "$j" --work-dir "$tmp/w" --part-size "$part" \
        --task $i --tasks "$tasks" "$shards"
done
measure "decide" "$dedup" scan -q -j "$j" -f jsonl --work-dir "$tmp/w" --part-size "$part" \
    --stage decide "$shards"
"$dedup" scan -q -j "$j" -f jsonl --work-dir "$tmp/w" --part-size "$part" --stage decide \
    "$shards" >"$tmp/decided" 2>&1 || true
"$dedup" scan -q -j "$j" -f jsonl "$shards" >"$tmp/plain" 2>&1 || true
cmp -s "$tmp/plain" "$tmp/decided" && echo "report decided from the tasks' parts: the same as without --work-dir" ||
    die "the report decided from the tasks' parts differs from the plain run's"
