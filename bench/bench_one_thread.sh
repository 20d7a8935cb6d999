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
dedup=${DEDUP:-bin/dedup}
base=${BASE:-}
die() { echo "bench_one_thread.sh: $*" >&2; exit 2; }
[ -x /usr/bin/time ] || die "needs GNU time as /usr/bin/time (Debian: apt-get install time)"
[ -d "$corpus" ] || die "$corpus: no such folder"
[ -x "$dedup" ] || die "$dedup: not an executable file"
[ -z "$base" ] || [ -x "$base" ] || die "$base: not an executable file"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
files=$(find "$corpus" -type f | wc -l)
printf 'corpus: %s, %d files, %.1f MB; %d runs each, in turn; %s CPUs online, load %s\n\n' \
    "$corpus" "$files" "$(awk -v b="$bytes" 'BEGIN {print b / 1e6}')" "$runs" \
    "$(getconf _NPROCESSORS_ONLN)" "$(cut -d' ' -f1-3 /proc/loadavg)"

# one NAME CMD...: runs CMD once, appends "wall cpu" to $tmp/NAME.
one() {
    local name=$1
    shift
    /usr/bin/time -f '%e %U %S %x' -o "$tmp/time" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || true
    read -r wall user sys status < <(tail -n 1 "$tmp/time") # after "Command exited with ..."
    [ "$status" = 0 ] || [ "$status" = 1 ] || die "$name: exit $status: $(head -c 300 "$tmp/$name.err")"
    echo "$wall $(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}')" >>"$tmp/$name.times"
}
wc_words() { find "$corpus" -type f -print0 | xargs -0 cat | wc -w; }
export -f wc_words
export corpus

names=("wc -w" "dedup scan -j 1")
[ -z "$base" ] || names+=("base scan -j 1")
for ((r = 0; r < runs; r++)); do
    one "wc -w" bash -c wc_words
    one "dedup scan -j 1" "$dedup" scan -q -j 1 --format jsonl "$@" "$corpus"
    [ -z "$base" ] || one "base scan -j 1" "$base" scan -q -j 1 --format jsonl "$@" "$corpus"
done

# median FILE COLUMN
median() { sort -n -k"$2","$2" "$1" | awk -v c="$2" '{v[NR] = $c} END {print v[int((NR + 1) / 2)]}'; }
wc_cpu=$(median "$tmp/wc -w.times" 2)
printf '| command | best | median | MB/s (best) | CPU (median) | wc -w CPU / CPU |\n'
printf '|---|---|---|---|---|---|\n'
for name in "${names[@]}"; do
    f="$tmp/$name.times"
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
