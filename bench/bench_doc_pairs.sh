#!/usr/bin/env bash
# The clustering of documents by stages (engine/doc_pairs.h: candidate pairs
# of sorted band keys, verified ahead, swept in rank order) beside the
# placer: for each corpus, `scan -q -j J -f jsonl` once as it is (the
# placer) and once with DEDUP_CLUSTER_BY_PAIRS=1 (dd_cluster_by_pairs, in
# memory, in the first round of decisions), both with DEDUP_RUN_STATS=1;
# says whether the two reports are byte for byte the same, and prints what
# the clustering holds per document (the placer's bytes, the sweep's), the
# pairs verified (per document, on the exact sets), what the sweep verified
# itself (pairs of hot buckets not verified ahead) and the clustering
# phase's CPU seconds.
#
#   bench/bench_doc_pairs.sh [CORPUS...]
#
# CORPUS: folders of documents (default: bench/.data/corpus-100mb). J=N:
# -j (default 2). DEDUP=PATH: another binary.
set -eu
cd "$(dirname "$0")/.."
j=${J:-2}
. bench/lib.sh
use_dedup
[ $# -gt 0 ] || set -- bench/.data/corpus-100mb

for corpus; do
    [ -d "$corpus" ] || die "$corpus is missing (bench/gen_corpus.py)"
    DEDUP_RUN_STATS=1 "$dedup" scan -q -j "$j" -f jsonl "$corpus" >"$tmp/placer.out" \
        2>"$tmp/placer.err" || [ $? -eq 1 ] || die "scan of $corpus failed"
    DEDUP_CLUSTER_BY_PAIRS=1 DEDUP_RUN_STATS=1 "$dedup" scan -q -j "$j" -f jsonl "$corpus" \
        >"$tmp/pairs.out" 2>"$tmp/pairs.err" || [ $? -eq 1 ] || die "scan of $corpus failed"
    if cmp -s "$tmp/placer.out" "$tmp/pairs.out"; then same="the same reports, byte for byte"; else
        same="REPORTS DIFFER"; fi
    echo "$corpus ($(grep -c '"type":"cluster"' "$tmp/placer.out") clusters): $same"
    # the first round's placer (the first such line), then the stages' figures
    grep -m1 'the placer holds' "$tmp/placer.err" | sed 's/.*the placer holds/  placer: holds/'
    grep -m1 'pairs computed ahead in all' "$tmp/placer.err" |
        sed 's/.*documents: /  placer: /; s/ pairs computed ahead in all/ pairs verified on the exact sets/'
    grep 'clustering by pairs' "$tmp/pairs.err" | sed 's/^dedup: clustering by pairs: /  by pairs: /'
    for run in placer pairs; do
        grep 'phase clustering' "$tmp/$run.err" | sed "s/^dedup: phase clustering:/  $run: clustering phase/"
    done
done
