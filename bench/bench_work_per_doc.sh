#!/usr/bin/env bash
# Work per document as the corpus grows (issue 16, item 5): dedup scan -j 2
# on generated corpora of several sizes (bench/gen_corpus.py, the same seed),
# and per document: candidate pairs verified exactly (documents, and
# paragraphs across documents; DEDUP_RUN_STATS, dedup/run/run.h), bytes read
# per byte of the corpus (the kernel's count of bytes read, /proc/PID/io
# rchar: 1.0 is reading each file once, the rest is reading again to verify
# and for the later rounds), CPU seconds per MB and peak RSS per document.
# Flat from the smallest size to the largest is the goal.
#
#   bench/bench_work_per_doc.sh [SIZE_MB...]     (default: 100 1024)
#
# Corpora are made once under bench/.data/corpus-SIZEmb (git-ignored).
# DEDUP=PATH measures another binary. Needs GNU time (/usr/bin/time).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
dedup=${DEDUP:-bin/dedup}
[ -x /usr/bin/time ] || { echo "bench_work_per_doc.sh: needs GNU time as /usr/bin/time" >&2; exit 2; }
if [ -z "${DEDUP:-}" ] && [ ! -x "$dedup" ]; then make -s; fi
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100 1024)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%s; load %s\n\n' "$dedup" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%8s %8s %9s %12s %12s %10s %9s %10s %10s\n' size docs MB "doc pairs/d" "para pairs/d" \
    "read/byte" "CPU s/MB" "RSS MB" "RSS KB/d"
for mb in "${sizes[@]}"; do
    dir=bench/.data/corpus-${mb}mb
    [ -d "$dir" ] || python3 bench/gen_corpus.py "$dir" --mb "$mb" >/dev/null
    docs=$(find "$dir" -type f | wc -l)
    bytes=$(corpus_bytes "$dir")
    # The shell reaps dedup, so its /proc/PID/io then holds dedup's counts too.
    /usr/bin/time -f '%U %S %M' -o "$tmp/time" bash -c \
        'DEDUP_RUN_STATS=1 "$1" scan -j 2 -q -f jsonl "$2" >/dev/null 2>"$3/stats"; st=$?;
         cat /proc/$$/io >"$3/io"; [ $st -le 1 ]' _ "$dedup" "$dir" "$tmp" ||
        { echo "bench_work_per_doc.sh: dedup scan failed on $dir:" >&2; cat "$tmp/stats" >&2; exit 2; }
    doc_pairs=$(awk '/near-duplicate documents:/ {print $4 + $9}' "$tmp/stats")
    para_pairs=$(awk '/paragraphs across documents:/ {print $7}' "$tmp/stats")
    rchar=$(awk '/^rchar:/ {print $2}' "$tmp/io")
    read -r user sys rss <"$tmp/time"
    awk -v mb="$mb" -v d="$docs" -v b="$bytes" -v dp="${doc_pairs:-0}" -v pp="${para_pairs:-0}" \
        -v r="$rchar" -v u="$user" -v s="$sys" -v rss="$rss" 'BEGIN {
        printf "%8s %8d %9.1f %12.3f %12.2f %10.2f %9.4f %10.0f %10.2f\n", mb, d, b / 1e6, dp / d,
            pp / d, r / b, (u + s) / (b / 1e6), rss / 1024, rss / d }'
done
