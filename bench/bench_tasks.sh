#!/usr/bin/env bash
# The local executor and the task count: dedup scan --work-dir (a new
# folder each time: every part signed, then decided) with --tasks 1, 2 and
# 4 (every task in this process, on the -j threads), beside wc -w, a scan
# without a work folder, and the same tasks as N processes (--task I
# --tasks N at once, -j J/N each, then the decision); and that every report
# is the same, byte for byte.
#
#   bench/bench_tasks.sh [CORPUS...]
#
# CORPUS: folders of documents or shards (default: bench/.data/snn/docs, SaudiNewsNet, and
# bench/.data/corpus-1024mb). J=N: -j (default 2, this machine's cores).
# RUNS=N: best of N runs (default 1). DEDUP=PATH: another binary. Needs GNU
# time (/usr/bin/time) and bc.
set -eu
cd "$(dirname "$0")/.."
j=${J:-2}
runs=${RUNS:-1}
[ $# -gt 0 ] || set -- bench/.data/snn/docs bench/.data/corpus-1024mb

. bench/lib.sh
need /usr/bin/time bc
use_dedup

# best LABEL SETUP COMMAND...: the fastest of $runs runs (SETUP, a shell
# command, runs before each, untimed), with its peak RSS; its standard
# output kept in $tmp/LABEL.out.
best() {
    local label=$1 setup=$2 # best_run runs $setup before each run
    shift 2
    best_run 1 "$label" "$@"
    mv "$tmp/out" "$tmp/$label.out"
    printf '%-28s %8.2f %9s %10.1f\n' "$label" "$best_seconds" "$(mb_per_s "$bytes" "$best_seconds")" \
        "$best_rss_mb"
}

for corpus in "$@"; do
    [ -d "$corpus" ] || die "$corpus is missing (bench/gen_corpus.py, bench/quality.py)"
    bytes=$(corpus_bytes "$corpus")
    printf '\n%s: %.1f MB, %d files; -j %d, best of %d; load %s\n' "$corpus" \
        "$(echo "$bytes / 1000000" | bc -l)" "$(find "$corpus" -type f | wc -l)" "$j" "$runs" \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%-28s %8s %9s %10s\n' run seconds MB/s "RSS (MB)"
    best "wc -w" true sh -c "$wc_words" sh "$corpus"
    best "scan" true "$dedup" scan -q -j "$j" "$corpus"
    for n in 1 2 4; do
        best "scan --work-dir --tasks $n" "rm -rf '$tmp/w'" \
            "$dedup" scan -q -j "$j" --work-dir "$tmp/w" --tasks $n "$corpus"
        cmp -s "$tmp/scan.out" "$tmp/scan --work-dir --tasks $n.out" ||
            die "--tasks $n: the report differs from the run without a work folder"
    done
    for n in 2 4; do
        each=$((j / n > 0 ? j / n : 1))
        best "$n processes --task I" "rm -rf '$tmp/p'" sh -c "
            for i in \$(seq 0 $((n - 1))); do
                '$dedup' scan -q -j $each --work-dir '$tmp/p' --task \$i --tasks $n '$corpus' &
            done
            wait
            '$dedup' scan -q -j $j --work-dir '$tmp/p' '$corpus'"
        cmp -s "$tmp/scan.out" "$tmp/$n processes --task I.out" ||
            die "$n processes: the report differs from the run without a work folder"
    done
    echo "every report: the same as without a work folder, byte for byte"
done
