#!/usr/bin/env bash
# Times dedup filter on JSONL beside zstdcat | wc -l on the same data, in the
# same run, and shows how its memory grows with the stream.
#
#   bench/bench_filter.sh
#
# Data (under bench/.data/, git-ignored; made once):
#   snn.jsonl[.zst]  SaudiNewsNet as JSONL, from bench/.data/snn/docs
#                    (made by bench/quality.py, step 1)
#   big.jsonl[.zst]  the generated corpus (bench/gen_corpus.py) written
#                    REPEAT times (default 10, about 1 GB) by bench/make_jsonl.py,
#                    later passes edited into near-duplicates of the first
# RUNS=N runs each command N times (default 3; the best counts); DEDUP=PATH
# times another binary. Needs GNU time (/usr/bin/time), bc and zstd.
set -eu
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
repeat=${REPEAT:-10}
data=bench/.data

. bench/lib.sh
need /usr/bin/time bc zstd
use_dedup
[ -d "$data/snn/docs" ] || die "$data/snn/docs is missing: run bench/quality.py once (it extracts SaudiNewsNet there)"
if [ ! -d "$data/corpus-100mb" ]; then
    python3 bench/gen_corpus.py "$data/corpus-100mb" --mb 100 --seed 1
fi
if [ ! -f "$data/snn.jsonl.zst" ]; then
    python3 bench/make_jsonl.py "$data/snn/docs" --out "$data/snn.jsonl"
    zstd -q -f -3 -T0 "$data/snn.jsonl" -o "$data/snn.jsonl.zst"
fi
if [ ! -f "$data/big.jsonl.zst" ]; then
    echo "writing $data/big.jsonl ($repeat passes of the generated corpus)"
    python3 bench/make_jsonl.py "$data/corpus-100mb" --out "$data/big.jsonl" --repeat "$repeat"
    zstd -q -f -3 -T0 "$data/big.jsonl" -o "$data/big.jsonl.zst"
fi

# best BYTES LABEL COMMAND...: the fastest of $runs runs, its MB/s over BYTES
# and its peak RSS. dedup scan's status 1 (found) is fine; anything else stops.
best() {
    local bytes=$1
    shift
    best_run 1 "$@"
    printf '%-44s %8.2f %9s %10.1f\n' "$1" "$best_seconds" "$(mb_per_s "$bytes" "$best_seconds")" \
        "$best_rss_mb"
}

size() { stat -c %s "$1"; }
header() {
    printf '\n%s: %.1f MB uncompressed, %d records; best of %d\n' "$1" \
        "$(echo "$(size "$2") / 1000000" | bc -l)" "$(wc -l <"$2")" "$runs"
    printf '%-44s %8s %9s %10s\n' command seconds MB/s "RSS (MB)"
}

snn=$data/snn.jsonl
header "SaudiNewsNet as JSONL" "$snn"
best "$(size "$snn")" "zstdcat snn.jsonl.zst | wc -l" sh -c 'zstdcat "$1" | wc -l' sh "$snn.zst"
best "$(size "$snn")" "dedup filter snn.jsonl" "$dedup" filter "$snn"
best "$(size "$snn")" "dedup filter snn.jsonl.zst" "$dedup" filter "$snn.zst"
best "$(size "$snn")" "zstdcat snn.jsonl.zst | dedup filter" sh -c 'zstdcat "$1" | "$2" filter' sh "$snn.zst" "$dedup"
snn_text=$(corpus_bytes "$data/snn/docs")
best "$snn_text" "dedup scan (the same texts as files)" "$dedup" scan --format jsonl "$data/snn/docs"

big=$data/big.jsonl
runs_saved=$runs
runs=${BIG_RUNS:-1}
header "Generated stream" "$big"
best "$(size "$big")" "zstdcat big.jsonl.zst | wc -l" sh -c 'zstdcat "$1" | wc -l' sh "$big.zst"
best "$(size "$big")" "dedup filter big.jsonl" "$dedup" filter "$big"
best "$(size "$big")" "dedup filter big.jsonl.zst" "$dedup" filter "$big.zst"
runs=$runs_saved

# Memory as the stream grows: the first quarter, half and all of it.
lines=$(wc -l <"$big")
printf '\nmemory as the stream grows (dedup filter --stats on the first records of big.jsonl)\n'
printf '%-10s %12s %10s %14s\n' records "MB in" "RSS (MB)" "remembered (MB)"
prev_rss="" prev_n=""
for q in 4 2 1; do
    n=$((lines / q))
    head -n "$n" "$big" >"$tmp/part.jsonl"
    /usr/bin/time -f '%M' -o "$tmp/time" "$dedup" filter --stats "$tmp/part.jsonl" >/dev/null 2>"$tmp/stats"
    rss=$(tail -n 1 "$tmp/time")
    rem=$(sed -n 's/.*remembered: \([0-9.]*\) MB.*/\1/p' "$tmp/stats")
    printf '%-10d %12.1f %10.1f %14s\n' "$n" "$(echo "$(size "$tmp/part.jsonl") / 1000000" | bc -l)" \
        "$(echo "$rss / 1024" | bc -l)" "$rem"
    if [ -n "$prev_rss" ]; then
        printf '           growth: %.0f bytes of RSS per record\n' \
            "$(echo "($rss - $prev_rss) * 1024 / ($n - $prev_n)" | bc -l)"
    fi
    prev_rss=$rss prev_n=$n
done
