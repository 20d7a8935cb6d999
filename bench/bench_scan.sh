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
. bench/lib.sh
need /usr/bin/time bc
if [ ! -d "$corpus" ]; then
    [ "$corpus" = bench/.data/corpus-100mb ] || die "$corpus: no such folder"
    echo "generating $corpus (bench/gen_corpus.py --mb 100 --seed 1)"
    python3 bench/gen_corpus.py "$corpus" --mb 100 --seed 1
fi
use_dedup

bytes=$(corpus_bytes "$corpus")
files=$(find "$corpus" -type f | wc -l)
[ "$files" -gt 0 ] || die "$corpus: no files"
printf 'corpus: %s, %d files, %.1f MB (%d bytes)\n' "$corpus" "$files" \
    "$(echo "$bytes / 1000000" | bc -l)" "$bytes"
printf 'dedup:  %s; best of %d runs\n\n' "$dedup" "$runs"

# best MAXSTATUS LABEL COMMAND...: the fastest of $runs runs (best_run).
best() {
    best_run "$@"
    printf '%-36s %8.2f %9s %10.1f\n' "$2" "$best_seconds" "$(mb_per_s "$bytes" "$best_seconds")" \
        "$best_rss_mb"
}

printf '%-36s %8s %9s %10s\n' command seconds MB/s "RSS (MB)"
printf '%-36s %8s %9s %10s\n' ------- ------- ---- --------
best 0 "wc -w" sh -c "$wc_words" sh "$corpus"
best 1 "dedup scan${*:+ $*}" "$dedup" scan --format jsonl "$@" "$corpus"
best 1 "dedup scan --no-near" "$dedup" scan --format jsonl --no-near "$corpus"
best 1 "dedup scan --verify estimate" "$dedup" scan --format jsonl --verify estimate "$corpus"
best 1 "dedup scan --method simhash" "$dedup" scan --format jsonl --method simhash "$corpus"
