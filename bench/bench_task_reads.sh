#!/usr/bin/env bash
# What each task of a work folder reads: the corpus split among N tasks,
# each run alone as an array task of a cluster runs it, stage after stage:
# the sign tasks (dedup scan --work-dir W --task I --tasks N), then the
# group tasks (--stage group --task I --tasks N), then the verify tasks
# (--stage verify --task I --tasks N); for each its wall and CPU time, peak
# RSS, the bytes it read (rchar of /proc/PID/io: every read(2) and pread(2):
# its shards, the scratch copy of decompressed records read again, the
# files of the work folder it reads) and wrote (wchar: the scratch copy,
# its files); then the decision from the tasks' files, compared byte for
# byte with the report of a run without a work folder.
#
#   bench/bench_task_reads.sh [SHARDS]
#
# SHARDS: a folder of JSONL shards or documents (default:
# bench/.data/snn-shards/gz, SaudiNewsNet, one gzip shard per day, as
# bench/bench_shards.sh makes it). TASKS=N (default 4). J=N: -j of each
# task (default 1). PART=SIZE: --part-size (default 1M: about one shard per
# part). STAGES="sign group verify" (default): the stages whose tasks are
# measured (the others are run, not shown). CHECK=0: no decision and no
# comparison at the end (for a large corpus). DEDUP=PATH: another binary
# (to compare with one before a change).
set -eu
cd "$(dirname "$0")/.."
tasks=${TASKS:-4}
j=${J:-1}
part=${PART:-1M}
shards=${1:-bench/.data/snn-shards/gz}
stages=${STAGES:-sign group verify}

. bench/lib.sh
[ -d "$shards" ] || die "$shards is missing: run bench/bench_shards.sh once, or name a folder"
use_dedup

bytes=$(corpus_bytes "$shards")

# measure LABEL COMMAND...: its wall and CPU time, peak RSS and the bytes it
# read and wrote (the counters of a process include its reaped children's;
# each run is the child of a new python, so the peak RSS is its own).
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
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print("%-20s %8.2f %8.2f %8.0f %10.1f %10.1f" % (label, t, c1 - c0, rss, (r1 - r0) / 1e6,
                                                (w1 - w0) / 1e6))
PY
}

printf '%s: %d shards, %.1f MB on disk; %d tasks, -j %d, --part-size %s\n' "$shards" \
    "$(find "$shards" -type f | wc -l)" "$(echo "$bytes / 1000000" | bc -l)" "$tasks" "$j" "$part"
printf '%-20s %8s %8s %8s %10s %10s\n' run seconds "CPU s" "RSS MB" "MB read" "MB written"
for stage in sign group verify; do
    for ((i = 0; i < tasks; i++)); do
        task=("$dedup" scan -q -j "$j" --work-dir "$tmp/w" --part-size "$part" --stage "$stage" \
            --task $i --tasks "$tasks" "$shards")
        case " $stages " in
        *" $stage "*) measure "$stage $i of $tasks" "${task[@]}" ;;
        *) "${task[@]}" >/dev/null ;;
        esac
    done
done
[ "${CHECK:-1}" = 0 ] && exit 0
measure "decide" "$dedup" scan -q -j "$j" -f jsonl --work-dir "$tmp/w" --part-size "$part" \
    --stage decide "$shards"
"$dedup" scan -q -j "$j" -f jsonl --work-dir "$tmp/w" --part-size "$part" --stage decide \
    "$shards" >"$tmp/decided" 2>&1 || true
"$dedup" scan -q -j "$j" -f jsonl "$shards" >"$tmp/plain" 2>&1 || true
cmp -s "$tmp/plain" "$tmp/decided" && echo "report decided from the tasks' parts: the same as without --work-dir" ||
    die "the report decided from the tasks' parts differs from the plain run's"
