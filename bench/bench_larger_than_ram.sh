#!/usr/bin/env bash
# A corpus larger than the memory the run may take: `dedup clean -o` of a
# folder of shards, inside a control group whose memory limit (LIMIT) is
# below the corpus's size (the machine's RAM as the run sees it: a
# container, a Slurm job), at the default --memory (half of the limit).
#
#   1. the uninterrupted run, one command, no work folder;
#   2. the same with a work folder, killed with SIGKILL after KILL_AT
#      seconds (default: half of run 1's time), then the same command again,
#      which resumes from the work folder;
#
# and checks that the cleaned shards and the clusters file of 2 are run 1's
# byte for byte. For each run: wall time, peak RSS of the process, and the
# most the control group was charged (memory.max_usage_in_bytes, page cache
# included: the kernel reclaims it at the limit) and how often it reached
# the limit (memory.failcnt).
#
#   bench/bench_larger_than_ram.sh CORPUS [LIMIT]
#
# CORPUS: a folder of JSONL shards (for example bench/.data/corpus-10240mb-shards,
# 10.7 GB of text in 4.4 GB of zstd shards). LIMIT: bytes, or with K, M, G
# (default 2G). J=N: -j (default 2). DEDUP=PATH: another binary. Needs root
# and cgroup v1's memory controller at /sys/fs/cgroup/memory (this machine),
# GNU time and bc. Writes two copies of the cleaned corpus and a work folder
# under $TMPDIR (else /tmp): make room.
set -eu
cd "$(dirname "$0")/.."
j=${J:-2}
corpus=${1:?usage: bench/bench_larger_than_ram.sh CORPUS [LIMIT]}
limit=${2:-2G}

. bench/lib.sh
need /usr/bin/time bc
[ -d "$corpus" ] || die "$corpus is not a folder"
[ "$(id -u)" = 0 ] && [ -w /sys/fs/cgroup/memory ] ||
    die "needs root and cgroup v1's memory controller at /sys/fs/cgroup/memory"
use_dedup
case $limit in
*K) limit_bytes=$((${limit%K} << 10)) ;;
*M) limit_bytes=$((${limit%M} << 20)) ;;
*G) limit_bytes=$((${limit%G} << 30)) ;;
*) limit_bytes=$limit ;;
esac
bytes=$(corpus_bytes "$corpus")
work=$(mktemp -d "${TMPDIR:-/tmp}/dedup-larger.XXXXXX")
group=/sys/fs/cgroup/memory/dedup-bench-$$
trap 'rmdir "$group" 2>/dev/null; rm -rf "$work"' EXIT

# in_group LABEL COMMAND...: runs COMMAND in a new group of the limit, in
# the background; $pid is GNU time's, which waits for it.
in_group() {
    rmdir "$group" 2>/dev/null || true
    mkdir "$group"
    echo "$limit_bytes" >"$group/memory.limit_in_bytes"
    shift
    sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$group" \
        /usr/bin/time -f '%e %M %x' -o "$work/time" "$@" >"$work/out" 2>"$work/err" &
    pid=$!
}
# report LABEL: what the run in the group took, once it ended.
report() {
    local t m x
    read -r t m x < <(tail -n 1 "$work/time")
    grep -q 'terminated by signal 9' "$work/time" && x="killed"
    printf '%-34s %8s s  peak RSS %6.0f MB  group charged at most %6.0f MB, at its limit %s times, exit %s\n' \
        "$1" "$t" "$(echo "$m / 1024" | bc -l)" \
        "$(echo "$(cat "$group/memory.max_usage_in_bytes") / 1000000" | bc -l)" \
        "$(cat "$group/memory.failcnt")" "$x"
}

echo "corpus $corpus: $(echo "$bytes / 1000000" | bc) MB on disk; cgroup limit $limit ($((limit_bytes / 1000000)) MB); -j $j"

DEDUP_RUN_STATS=1 in_group one "$dedup" clean -q -j "$j" -o "$work/one" --clusters "$work/one.clusters" "$corpus"
wait "$pid" || true
report "one command"
grep -h '^dedup: memory budget' "$work/err" || true
one_seconds=$(awk '{print $1}' "$work/time")
grep -q 'terminated by signal' "$work/time" && { tail "$work/err" >&2; die "the uninterrupted run was killed"; }

kill_at=${KILL_AT:-$(echo "$one_seconds / 2" | bc)}
resumed=("$dedup" clean -q -j "$j" --work-dir "$work/wd" -o "$work/two" --clusters "$work/two.clusters" "$corpus")
in_group killed "${resumed[@]}"
sleep "$kill_at"
pkill -KILL -P "$pid" || true
wait "$pid" || true
report "work folder, killed at ${kill_at} s"
in_group resumed "${resumed[@]}"
wait "$pid" || true
report "the same command again (resumed)"

if diff -r "$work/one" "$work/two" >/dev/null && cmp -s "$work/one.clusters" "$work/two.clusters"; then
    echo "cleaned shards and clusters: the same byte for byte ($(du -sm "$work/one" | cut -f1) MB of shards, $(wc -l <"$work/one.clusters") clustered documents)"
else
    die "the resumed run's output differs from the uninterrupted run's"
fi
