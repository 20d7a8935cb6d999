#!/usr/bin/env bash
# Times dedup filter and dedup scan, per MB, on streams whose records share
# paragraphs (bench/gen_shared.py) at several sizes: the candidate search
# must cost about the same per record whatever the length of the stream, so
# the time per MB must stay flat (within 1.5x from the smallest size to the
# largest). Before the caps of near.h it grew with the stream (issue 14,
# item 2).
#
#   bench/bench_candidates.sh [SIZE_MB...]     (default: 16 64 256)
#
# Streams (made once under bench/.data/, git-ignored; a size's data is made
# the first time that size is asked for):
#   one   two-paragraph records, the first paragraph the same in all of them
#   pool  4 to 8 paragraphs a record, half of them from a pool of 150
# each as JSONL (shared-KIND-SIZE.jsonl) for filter and as files, one record
# a file (shared-KIND-SIZE/), for scan. Every 50th record is a near-duplicate
# of an earlier one; the script checks that filter drops all of them.
# KINDS="one pool" chooses the streams; OWN=1 times instead streams of the
# same shapes and sizes that share nothing (gen_shared.py --own, data
# shared-KIND-own-SIZE): what the growth of the tables alone costs. SCAN=0
# skips scan, RUNS=N takes the best of N runs (default 1), DEDUP=PATH times
# another binary. Needs GNU time (/usr/bin/time) and bc.
set -eu
cd "$(dirname "$0")/.."
runs=${RUNS:-1}
kinds=${KINDS:-one pool}
scan=${SCAN:-1}
own=${OWN:-0}
data=bench/.data
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(16 64 256)

. bench/lib.sh
need /usr/bin/time
command -v bc >/dev/null || die "needs bc"
use_dedup
mkdir -p "$data"

# base KIND MB: where the data of that stream lie (without .jsonl).
base() {
    if [ "$own" = 1 ]; then echo "$data/shared-$1-own-$2"; else echo "$data/shared-$1-$2"; fi
}

# make_data KIND MB: the JSONL stream and, unless SCAN=0, the same texts as files.
make_data() {
    local base flags=(--mb "$2" --copy-every 50)
    base=$(base "$1" "$2")
    [ "$own" = 1 ] && flags+=(--own)
    if [ ! -f "$base.jsonl" ]; then
        echo "writing $base.jsonl" >&2
        python3 bench/gen_shared.py "$1" "${flags[@]}" --jsonl "$base.jsonl.part"
        mv "$base.jsonl.part" "$base.jsonl"
    fi
    if [ "$scan" = 1 ] && [ ! -d "$base" ]; then
        echo "writing $base/" >&2
        rm -rf "$base.part"
        python3 bench/gen_shared.py "$1" "${flags[@]}" --files "$base.part"
        mv "$base.part" "$base"
    fi
}

# timed BYTES LABEL COMMAND...: the best of $runs runs (by CPU time, user +
# system, which other work on the machine disturbs less than the wall clock);
# prints wall seconds, MB/s, CPU seconds, CPU seconds per MB and peak RSS, and
# leaves the CPU seconds per MB in $per_mb. Exit status 1 (duplicates found)
# is fine; anything else stops.
timed() {
    local bytes=$1 label=$2 b="" w="" r="" t u s m x i
    shift 2
    for ((i = 0; i < runs; i++)); do
        /usr/bin/time -f '%e %U %S %M %x' -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" || true
        read -r t u s m x < <(tail -n 1 "$tmp/time")
        if grep -q 'terminated by signal' "$tmp/time" || [ "$x" -gt 1 ]; then
            tail -n 5 "$tmp/err" >&2
            die "$label: $(tail -n 1 "$tmp/time")"
        fi
        local cpu
        cpu=$(echo "$u + $s" | bc -l)
        if [ -z "$b" ] || [ "$(echo "$cpu < $b" | bc -l)" = 1 ]; then b=$cpu w=$t r=$m; fi
    done
    per_mb=$(echo "$b / ($bytes / 1000000)" | bc -l)
    printf '%-6s %-7s %8.1f %8.2f %8.1f %8.2f %11.4f %9.1f\n' "$kind" "$label" \
        "$(echo "$bytes / 1000000" | bc -l)" "$w" "$(echo "$bytes / 1000000 / $w" | bc -l)" "$b" \
        "$per_mb" "$(echo "$r / 1024" | bc -l)"
}

printf '%-6s %-7s %8s %8s %8s %8s %11s %9s\n' stream command MB wall MB/s CPU "CPU per MB" \
    "RSS (MB)"
for kind in $kinds; do
    declare -A first=()
    for mb in "${sizes[@]}"; do
        make_data "$kind" "$mb"
        base=$(base "$kind" "$mb")
        timed "$(stat -L -c %s "$base.jsonl")" filter "$dedup" filter --stats "$base.jsonl"
        # every planted copy found (and nothing else dropped); a copy whose
        # new last word is the old one is exact
        copies=$(grep -c '"id": "copy-' "$base.jsonl" || true)
        "$dedup" filter --stats "$base.jsonl" 2>"$tmp/stats" >/dev/null || true
        dropped=$(sed -n 's/.*duplicates: \([0-9]*\) exact, \([0-9]*\) near.*/\1 + \2/p' "$tmp/stats")
        [ -n "$dropped" ] && [ "$((dropped))" = "$copies" ] ||
            echo "  filter did not drop exactly the $copies copies: $(grep duplicates "$tmp/stats")"
        grep 'candidate pairs compared' "$tmp/stats" | sed 's/^ */  filter: /'
        [ -n "${first[filter]:-}" ] || first[filter]=$per_mb
        last_filter=$per_mb
        if [ "$scan" = 1 ]; then
            bytes=$(corpus_bytes "$base")
            timed "$bytes" scan "$dedup" scan --format jsonl "$base"
            [ -n "${first[scan]:-}" ] || first[scan]=$per_mb
            last_scan=$per_mb
        fi
    done
    printf '%s: CPU time per MB, largest size / smallest: filter %.2f' "$kind" \
        "$(echo "$last_filter / ${first[filter]}" | bc -l)"
    [ "$scan" = 1 ] && printf ', scan %.2f' "$(echo "$last_scan / ${first[scan]}" | bc -l)"
    printf ' (want at most 1.5)\n'
    unset first
done
