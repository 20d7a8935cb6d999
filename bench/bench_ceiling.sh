#!/usr/bin/env bash
# What this machine's cores give when nothing is shared: the same
# one-thread command (dedup scan -j 1, and wc -w) run alone, then two (or
# N) copies of it at once, as independent processes. Their speed-up,
# N x (time alone) / (time of the N at once), is the most any -j N run can
# reach here: on a virtual machine two vCPUs may be two hyperthreads of one
# core, or share a memory bus and caches, and no program scales past that.
# bench_threads.sh's -j 2 figures are to be read against it.
#
#   bench/bench_ceiling.sh [CORPUS]
#
# CORPUS: a folder of documents (default bench/.data/corpus-1024mb).
# RUNS=N: best of N (default 3). N=K: copies at once (default: the online
# CPUs). DEDUP=PATH: another binary. Needs GNU time and bc.
set -eu
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
corpus=${1:-bench/.data/corpus-1024mb}
copies=${N:-$(nproc)}

. bench/lib.sh
need /usr/bin/time bc
[ -d "$corpus" ] || die "$corpus is missing (bench/gen_corpus.py makes it)"
use_dedup
bytes=$(corpus_bytes "$corpus")
find -L "$corpus" -type f | sort >"$tmp/files"
cat $(head -n 100 "$tmp/files") >/dev/null # warm the page cache for both
xargs cat <"$tmp/files" >/dev/null

# seconds_of COPIES COMMAND...: the best of $runs wall times of COPIES copies
# of COMMAND started at once (each its output to /dev/null).
seconds_of() {
    local n=$1 best="" t start i
    shift
    for ((i = 0; i < runs; i++)); do
        start=$(date +%s.%N)
        for ((k = 0; k < n; k++)); do "$@" >/dev/null 2>&1 & done
        wait
        t=$(echo "$(date +%s.%N) - $start" | bc -l)
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
    done
    echo "$best"
}

printf 'corpus %s: %.1f MB, %d copies at once, best of %d\n' "$corpus" \
    "$(echo "$bytes / 1000000" | bc -l)" "$copies" "$runs"
printf '%-22s %10s %12s %10s\n' command "alone (s)" "$copies at once (s)" speed-up
for name in wc dedup; do
    case $name in
    wc) cmd=(sh -c 'xargs wc -w <"$1"' sh "$tmp/files") ;;
    dedup) cmd=("$dedup" scan -q -j 1 -f jsonl "$corpus") ;;
    esac
    alone=$(seconds_of 1 "${cmd[@]}")
    many=$(seconds_of "$copies" "${cmd[@]}")
    printf '%-22s %10.2f %12.2f %9.2fx\n' "$name" "$alone" "$many" \
        "$(echo "$copies * $alone / $many" | bc -l)"
done
