#!/usr/bin/env bash
# Times dedup scan beside wc -w on the same files, in the same run.
#
#   bench/bench_scan.sh [CORPUS_DIR] [-- DEDUP-SCAN-OPTIONS...]
#
# Without a folder it generates bench/.data/corpus-100mb (bench/gen_corpus.py)
# once; a folder that is named but missing is an error. Each command runs
# three times (RUNS=N to change); the best time counts, with the peak RSS of
# that run. Reports seconds, MB/s (corpus bytes / 10^6 / seconds) and peak RSS
# (GNU time, Debian package "time").
#
# DEDUP=PATH times another binary (default bin/dedup, built with make if
# missing). dedup scan exits 1 when it finds duplicates, which is normal; any
# other non-zero status (2: error) aborts the benchmark.
set -eu
cd "$(dirname "$0")/.."
corpus=${1:-bench/.data/corpus-100mb}
[ $# -gt 0 ] && shift
[ "${1:-}" = -- ] && shift
runs=${RUNS:-3}
dedup=${DEDUP:-bin/dedup}

die() { echo "bench_scan.sh: $*" >&2; exit 2; }

[ -x /usr/bin/time ] || die "needs GNU time as /usr/bin/time (Debian: apt-get install time)"
command -v bc >/dev/null || die "needs bc (Debian: apt-get install bc)"
if [ ! -d "$corpus" ]; then
    [ "$corpus" = bench/.data/corpus-100mb ] || die "$corpus: no such folder"
    echo "generating $corpus (bench/gen_corpus.py --mb 100 --seed 1)"
    python3 bench/gen_corpus.py "$corpus" --mb 100 --seed 1
fi
if [ -z "${DEDUP:-}" ] && [ ! -x "$dedup" ]; then make -s; fi
[ -x "$dedup" ] && [ ! -d "$dedup" ] || die "$dedup: not an executable file (set DEDUP=PATH)"

bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
files=$(find "$corpus" -type f | wc -l)
[ "$files" -gt 0 ] || die "$corpus: no files"
printf 'corpus: %s, %d files, %.1f MB (%d bytes)\n' "$corpus" "$files" \
    "$(echo "$bytes / 1000000" | bc -l)" "$bytes"
printf 'dedup:  %s; best of %d runs\n\n' "$dedup" "$runs"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# best MAXSTATUS LABEL COMMAND...: runs COMMAND $runs times and prints a table
# row for the fastest run. An exit status above MAXSTATUS, or a signal, aborts.
best() {
    local maxstatus=$1 label=$2 b="" r="" t m x i mbs
    shift 2
    for ((i = 0; i < runs; i++)); do
        /usr/bin/time -f '%e %M %x' -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" || true
        if grep -q 'terminated by signal' "$tmp/time"; then
            cat "$tmp/err" >&2
            die "$label: $(head -n 1 "$tmp/time")"
        fi
        read -r t m x < <(tail -n 1 "$tmp/time")
        if [ "$x" -gt "$maxstatus" ]; then
            tail -n 20 "$tmp/err" >&2
            die "$label: exit status $x"
        fi
        if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t r=$m; fi
    done
    if [ "$(echo "$b > 0" | bc -l)" = 1 ]; then
        mbs=$(printf '%.1f' "$(echo "$bytes / 1000000 / $b" | bc -l)")
    else
        mbs="-"    # under GNU time's 0.01 s resolution
    fi
    printf '%-36s %8.2f %9s %10.1f\n' "$label" "$b" "$mbs" "$(echo "$r / 1024" | bc -l)"
}

printf '%-36s %8s %9s %10s\n' command seconds MB/s "RSS (MB)"
printf '%-36s %8s %9s %10s\n' ------- ------- ---- --------
best 0 "wc -w" sh -c 'find "$1" -type f -print0 | xargs -0 cat | wc -w' sh "$corpus"
best 1 "dedup scan${*:+ $*}" "$dedup" scan --format jsonl "$@" "$corpus"
best 1 "dedup scan --no-near" "$dedup" scan --format jsonl --no-near "$corpus"
best 1 "dedup scan --verify estimate" "$dedup" scan --format jsonl --verify estimate "$corpus"
best 1 "dedup scan --method simhash" "$dedup" scan --format jsonl --method simhash "$corpus"
