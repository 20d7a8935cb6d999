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
dedup=${DEDUP:-bin/dedup}
corpus=${1:-bench/.data/snn/docs}

die() { echo "bench_resume.sh: $*" >&2; exit 2; }
[ -x /usr/bin/time ] || die "needs GNU time as /usr/bin/time (Debian: apt-get install time)"
[ -d "$corpus" ] || die "$corpus is missing: run bench/quality.py once, or name a corpus"
if [ -z "${DEDUP:-}" ] && [ ! -x "$dedup" ]; then make -s; fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{s += $1} END {print s}')

# best LABEL SETUP COMMAND...: the fastest of $runs runs (SETUP, a shell
# command, runs before each, untimed), with its peak RSS; the report is
# kept in $tmp/LABEL.out.
best() {
    local label=$1 setup=$2 b="" r="" t m x i
    shift 2
    for ((i = 0; i < runs; i++)); do
        sh -c "$setup"
        /usr/bin/time -f '%e %M %x' -o "$tmp/time" "$@" >"$tmp/$label.out" 2>"$tmp/err" || true
        read -r t m x < <(tail -n 1 "$tmp/time")
        if grep -q 'terminated by signal' "$tmp/time" || [ "$x" -gt 1 ]; then
            tail -n 5 "$tmp/err" >&2
            die "$label: $(tail -n 1 "$tmp/time")"
        fi
        if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t r=$m; fi
    done
    printf '%-34s %8.2f %9.1f %10.1f\n' "$label" "$b" "$(echo "$bytes / 1000000 / $b" | bc -l)" \
        "$(echo "$r / 1024" | bc -l)"
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
