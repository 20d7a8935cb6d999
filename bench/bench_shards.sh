#!/usr/bin/env bash
# Times dedup scan on the same texts as files and as JSONL shards (plain,
# gzip, zstd), beside wc -w, in the same run; checks that the four give the
# same summary; and counts how often records are read again (pread64 calls),
# to weigh the scratch copy of compressed shards against decompressing a
# shard again from its start for each record read again.
#
#   bench/bench_shards.sh
#
# Data (under bench/.data/, git-ignored; made once):
#   snn/docs/DAY/NNNNN.txt   SaudiNewsNet, one file per article (bench/quality.py,
#                            step 1, extracts it)
#   snn-shards/{plain,gz,zst}/DAY.jsonl[.gz|.zst]  the same, one shard per day,
#                            records {"id": "NNNNN.txt", "text": ...} in file order
# RUNS=N runs each command N times (default 3; the best counts); DEDUP=PATH
# times another binary. Needs GNU time (/usr/bin/time), bc, gzip, zstd, strace.
set -eu
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
data=bench/.data

. bench/lib.sh
need /usr/bin/time bc gzip zstd strace
use_dedup
docs=$data/snn/docs
[ -d "$docs" ] || die "$docs is missing: run bench/quality.py once (it extracts SaudiNewsNet there)"
shards=$data/snn-shards
if [ ! -d "$shards/zst" ]; then
    rm -rf "$shards" && mkdir -p "$shards/plain" "$shards/gz" "$shards/zst"
    for day in "$docs"/*/; do
        d=$(basename "$day")
        python3 bench/make_jsonl.py "$day" --out "$shards/plain/$d.jsonl"
        gzip -c "$shards/plain/$d.jsonl" >"$shards/gz/$d.jsonl.gz"
        zstd -q -3 -c "$shards/plain/$d.jsonl" >"$shards/zst/$d.jsonl.zst"
    done
fi

bytes=$(corpus_bytes "$docs")

# best LABEL COMMAND...: the fastest of $runs runs, its MB/s over the texts'
# bytes and its peak RSS. dedup scan's status 1 (found) is fine.
best() {
    best_run 1 "$@"
    printf '%-40s %8.2f %9s %10.1f\n' "$1" "$best_seconds" "$(mb_per_s "$bytes" "$best_seconds")" \
        "$best_rss_mb"
}

printf 'SaudiNewsNet: %.1f MB of text, %d articles; best of %d\n' \
    "$(echo "$bytes / 1000000" | bc -l)" "$(find "$docs" -type f | wc -l)" "$runs"
printf 'shards: plain %.1f MB, gzip %.1f MB, zstd %.1f MB\n' \
    "$(du -bc "$shards"/plain/* | tail -1 | awk '{print $1 / 1e6}')" \
    "$(du -bc "$shards"/gz/* | tail -1 | awk '{print $1 / 1e6}')" \
    "$(du -bc "$shards"/zst/* | tail -1 | awk '{print $1 / 1e6}')"
printf '%-40s %8s %9s %10s\n' command seconds MB/s "RSS (MB)"
best "wc -w (files)" sh -c "$wc_words" sh "$docs"
best "zcat gzip shards" sh -c 'cat "$1"/* | zcat | wc -c' sh "$shards/gz"
best "dedup scan (files)" "$dedup" scan -q -f jsonl "$docs"
best "dedup scan (plain shards)" "$dedup" scan -q -f jsonl "$shards/plain"
best "dedup scan (gzip shards)" "$dedup" scan -q -f jsonl "$shards/gz"
best "dedup scan (zstd shards)" "$dedup" scan -q -f jsonl "$shards/zst"

echo
echo "summaries (documents, clusters, copies, repeats, boilerplate, bytes removed):"
for what in "$docs" "$shards/plain" "$shards/gz" "$shards/zst"; do
    "$dedup" scan -q -f jsonl "$what" | tail -1 |
        sed -E 's/.*"documents":([0-9]+).*"clusters":([0-9]+),"copies":([0-9]+),"repeats":([0-9]+),"boilerplate":([0-9]+).*"bytes_removed":([0-9]+).*/\1 \2 \3 \4 \5 \6/' |
        sed "s|^|  $what: |"
done

echo
# Every reading of a record after the first pass is one pread64 of its
# line (the first pass reads each once).
strace -f -c -e trace=pread64 -o "$tmp/strace" "$dedup" scan -q -f jsonl "$shards/gz" >/dev/null || true
preads=$(awk '$NF == "pread64" {print $4}' "$tmp/strace")
records=$(cat "$shards"/plain/* | wc -l)
again=$((preads - records))
zcat_s=$( { /usr/bin/time -f '%e' sh -c 'cat "$1"/* | zcat >/dev/null' sh "$shards/gz"; } 2>&1 | tail -1)
ndays=$(ls "$shards/gz" | wc -l)
echo "records: $records; read again after the first pass: $again (pread64 calls: $preads)"
echo "scratch file: $(du -bc "$shards"/plain/* | tail -1 | awk '{print $1}') bytes (the shards decompressed)"
printf 'decompressing a shard again from its start for each (half a shard on average,\n'
printf '%s s to decompress all %d shards): about %.0f s\n' "$zcat_s" "$ndays" \
    "$(echo "$again * $zcat_s / $ndays / 2" | bc -l)"
