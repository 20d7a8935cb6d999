#!/usr/bin/env bash
# What a work folder (--work-dir) costs and saves: dedup scan of a corpus
# without one, with a new one (sign every part, then decide), and again on
# the complete folder (decide only: what a run resumed after its last part
# was signed costs); the bytes of facts per MB of text; and that the three
# reports are the same, byte for byte.
#
#   bench/bench_resume.sh [CORPUS]
#
# CORPUS: a folder of documents or shards (default: bench/.data/snn/docs,
# SaudiNewsNet, which bench/quality.py extracts). RUNS=N: best of N runs
# (default 3). J=N: -j (default 2). DEDUP=PATH: another binary. Needs GNU
# time (/usr/bin/time) and bc.
set -eu
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
j=${J:-2}
corpus=${1:-bench/.data/snn/docs}

. bench/lib.sh
need /usr/bin/time bc
[ -d "$corpus" ] || die "$corpus is missing: run bench/quality.py once, or name a corpus"
use_dedup
bytes=$(corpus_bytes "$corpus")

# best LABEL SETUP COMMAND...: the fastest of $runs runs (SETUP, a shell
# command, runs before each, untimed), with its peak RSS; the report is
# kept in $tmp/LABEL.out.
best() {
    local label=$1 setup=$2 # best_run runs $setup before each run
    shift 2
    best_run 1 "$label" "$@"
    mv "$tmp/out" "$tmp/$label.out"
    printf '%-34s %8.2f %9s %10.1f\n' "$label" "$best_seconds" "$(mb_per_s "$bytes" "$best_seconds")" \
        "$best_rss_mb"
}

printf '%s: %.1f MB, %d files; -j %d, best of %d\n' "$corpus" \
    "$(echo "$bytes / 1000000" | bc -l)" "$(find "$corpus" -type f | wc -l)" "$j" "$runs"
printf '%-34s %8s %9s %10s\n' run seconds MB/s "RSS (MB)"
best plain true "$dedup" scan -q -j "$j" -f jsonl "$corpus"
best signed-and-decided "rm -rf '$tmp/w'" "$dedup" scan -q -j "$j" -f jsonl --work-dir "$tmp/w" "$corpus"
best decided-only true "$dedup" scan -q -j "$j" -f jsonl --work-dir "$tmp/w" "$corpus"
best 4-tasks-sequential "rm -rf '$tmp/t'" sh -c "for i in 0 1 2 3; do '$dedup' scan -q -j '$j' \
    --work-dir '$tmp/t' --task \$i --tasks 4 '$corpus'; done"
facts=$(du -bc "$tmp/w/sign"/part-* | tail -1 | cut -f1)
printf 'parts: %d; facts %.1f MB, %.2f bytes per byte of text\n' \
    "$(ls "$tmp/w/sign" | grep -c '^part-[0-9]*$')" "$(echo "$facts / 1000000" | bc -l)" \
    "$(echo "$facts / $bytes" | bc -l)"
cmp -s "$tmp/plain.out" "$tmp/signed-and-decided.out" &&
    cmp -s "$tmp/plain.out" "$tmp/decided-only.out" && echo "reports: identical" ||
    die "the reports differ"
