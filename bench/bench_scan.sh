#!/usr/bin/env bash
# Times dedup scan beside wc -w on the same files, in the same run.
#
#   bench/bench_scan.sh [CORPUS_DIR] [-- DEDUP-SCAN-OPTIONS...]
#
# Without a folder it generates bench/.data/corpus-100mb (bench/gen_corpus.py)
# once. Each command runs three times; the best time counts. Reports seconds,
# MB/s and peak RSS (GNU time, Debian package "time").
set -eu
cd "$(dirname "$0")/.."
corpus=${1:-bench/.data/corpus-100mb}
[ $# -gt 0 ] && shift
[ "${1:-}" = -- ] && shift
if [ ! -d "$corpus" ]; then
    if [ "$corpus" != bench/.data/corpus-100mb ]; then
        echo "bench_scan.sh: $corpus: no such folder" >&2
        exit 2
    fi
    python3 bench/gen_corpus.py "$corpus" --mb 100
fi
[ -x /usr/bin/time ] || { echo "bench_scan.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
[ -x bin/dedup ] || make -s
bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
files=$(find "$corpus" -type f | wc -l)
printf 'corpus: %s, %d files, %.1f MB\n' "$corpus" "$files" "$(echo "$bytes / 1000000" | bc -l)"

best() { # label command...: best of three runs -> "seconds rss_kb"
    local label=$1 b="" r=""
    shift
    for _ in 1 2 3; do
        /usr/bin/time -f '%e %M' -o /tmp/bench_scan.$$ "$@" >/dev/null 2>/dev/null || true
        read -r t m < <(tail -n 1 /tmp/bench_scan.$$)
        if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t r=$m; fi
    done
    rm -f /tmp/bench_scan.$$
    printf '%-34s %7.2f s %8.1f MB/s %9d KB peak RSS\n' "$label" "$b" \
        "$(echo "$bytes / 1000000 / $b" | bc -l)" "$r"
}
best "wc -w" sh -c "find '$corpus' -type f -print0 | xargs -0 cat | wc -w"
best "dedup scan $*" bin/dedup scan --format jsonl "$@" "$corpus"
best "dedup scan --no-near" bin/dedup scan --format jsonl --no-near "$corpus"
best "dedup scan --verify estimate" bin/dedup scan --format jsonl --verify estimate "$corpus"
best "dedup scan --method simhash" bin/dedup scan --format jsonl --method simhash "$corpus"
