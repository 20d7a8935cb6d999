#!/usr/bin/env bash
# One-thread speed of dedup scan beside wc -w, and beside another binary
# (issue 15: one-thread speed does not fall), in the same minutes.
#
#   [RUNS=7] [BASE=PATH] bench/bench_one_thread.sh CORPUS_DIR [-- DEDUP-SCAN-OPTIONS...]
#
# Runs, RUNS times in turn, wc -w over the files (find | xargs cat | wc -w),
# dedup scan -q -j 1 --format jsonl CORPUS_DIR with DEDUP (default
# bin/dedup), and the same with BASE when it is given (e.g. main's binary).
# Prints for each the best and median wall-clock seconds, the MB/s of the
# best, the median CPU seconds (user + system, GNU time), and the ratio of
# the median CPU seconds of wc -w to each (CPU time is what a loaded
# machine changes least: wall time waits for other processes). Also checks
# that BASE and DEDUP write the same report (the header aside).
set -eu
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bench/bench_one_thread.sh CORPUS_DIR [-- OPTIONS]" >&2; exit 2; }
corpus=$1
shift
[ "${1:-}" = -- ] && shift
runs=${RUNS:-7}
base=${BASE:-}
. bench/lib.sh
need /usr/bin/time
[ -d "$corpus" ] || die "$corpus: no such folder"
use_dedup
[ -z "$base" ] || [ -x "$base" ] || die "$base: not an executable file"

bytes=$(corpus_bytes "$corpus")
files=$(find "$corpus" -type f | wc -l)
printf 'corpus: %s, %d files, %.1f MB; %d runs each, in turn; %s CPUs online, load %s\n\n' \
    "$corpus" "$files" "$(awk -v b="$bytes" 'BEGIN {print b / 1e6}')" "$runs" \
    "$(getconf _NPROCESSORS_ONLN)" "$(cut -d' ' -f1-3 /proc/loadavg)"

names=("wc -w" "dedup scan -j 1")
[ -z "$base" ] || names+=("base scan -j 1")
for ((r = 0; r < runs; r++)); do
    time_once "wc -w" sh -c "$wc_words" sh "$corpus"
    time_once "dedup scan -j 1" "$dedup" scan -q -j 1 --format jsonl "$@" "$corpus"
    [ -z "$base" ] || time_once "base scan -j 1" "$base" scan -q -j 1 --format jsonl "$@" "$corpus"
done

# median FILE COLUMN: of the runs' "wall cpu" (time_once's "wall user sys")
median() {
    awk '{print $1, $2 + $3}' "$1" | sort -n -k"$2","$2" |
        awk -v c="$2" '{v[NR] = $c} END {print v[int((NR + 1) / 2)]}'
}
wc_cpu=$(median "$tmp/wc -w" 2)
printf '| command | best | median | MB/s (best) | CPU (median) | wc -w CPU / CPU |\n'
printf '|---|---|---|---|---|---|\n'
for name in "${names[@]}"; do
    f="$tmp/$name"
    best=$(sort -n "$f" | head -1 | cut -d' ' -f1)
    printf '| %s | %.2f s | %.2f s | %.1f | %.3f s | %.2f |\n' "$name" "$best" "$(median "$f" 1)" \
        "$(awk -v b="$bytes" -v t="$best" 'BEGIN {print b / 1e6 / t}')" "$(median "$f" 2)" \
        "$(awk -v w="$wc_cpu" -v c="$(median "$f" 2)" 'BEGIN {print w / c}')"
done
if [ -n "$base" ]; then
    if cmp -s <(tail -n +2 "$tmp/dedup scan -j 1.out") <(tail -n +2 "$tmp/base scan -j 1.out"); then
        echo; echo "the same report from both binaries"
    else
        echo; echo "REPORTS DIFFER between $dedup and $base"
    fi
fi
