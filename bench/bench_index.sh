#!/usr/bin/env bash
# The persistent index at 100,000 documents: index build throughput beside
# dedup scan on the same files, and dedup check --index on 10 changed files.
#
#   bench/bench_index.sh
#
# Makes, once, bench/.data/index-100k/: the SaudiNewsNet articles (from
# bench/.data/snn/docs, made by bench/quality.py) written 7 times (pass k > 0
# with a first line "نسخة k" added), cut at 100,000 files. RUNS=N (default 3)
# runs of check; build and scan run once each (they take seconds).
set -eu
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
data=bench/.data
corpus=$data/index-100k
ddx=$data/index-100k.ddx

. bench/lib.sh
need /usr/bin/time
[ -d "$data/snn/docs" ] || die "$data/snn/docs is missing: run bench/quality.py once"
use_dedup
if [ ! -d "$corpus" ]; then
    echo "writing $corpus (100,000 files)"
    python3 - "$data/snn/docs" "$corpus" <<'EOF'
import os, sys
src, dst = sys.argv[1], sys.argv[2]
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(src) for f in fs)
n = 0
for k in range(7):
    os.makedirs(os.path.join(dst, "p%d" % k), exist_ok=True)
    for i, p in enumerate(files):
        if n == 100000:
            break
        text = open(p, encoding="utf-8").read()
        if k:
            text = "نسخة %d\n" % k + text
        with open(os.path.join(dst, "p%d" % k, "%05d.txt" % i), "w", encoding="utf-8") as out:
            out.write(text)
        n += 1
EOF
fi
bytes=$(corpus_bytes "$corpus")
files=$(find "$corpus" -type f | wc -l)
printf 'corpus: %s, %d files, %.1f MB\n\n' "$corpus" "$files" "$(echo "$bytes / 1000000" | bc -l)"

timed() { # LABEL COMMAND...: one run; prints seconds, MB/s over the corpus, peak RSS
    local label=$1 t m x
    shift
    /usr/bin/time -f '%e %M %x' -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" || true
    read -r t m x < <(tail -n 1 "$tmp/time")
    [ "$x" -le 1 ] || { cat "$tmp/err" >&2; die "$label: exit $x"; }
    printf '%-48s %8.2f s %9.1f MB/s %8.1f MB\n' "$label" "$t" "$(echo "$bytes / 1000000 / $t" | bc -l)" \
        "$(echo "$m / 1024" | bc -l)"
}

rm -rf "$ddx"
timed "dedup index build (100,000 files)" "$dedup" index build "$corpus" -o "$ddx"
timed "dedup scan --format jsonl (the same files)" "$dedup" scan --format jsonl "$corpus"
"$dedup" index info "$ddx" | sed 's/^/  /'

# 10 changed files: a line added to each.
mkdir -p "$tmp/changed"
for f in $(find "$corpus/p3" -type f | sort | awk 'NR % 1500 == 1' | head -n 10); do
    cp "$f" "$tmp/changed/$(basename "$f")"
    echo "سطر جديد أضيف إلى هذا المقال للاختبار" >>"$tmp/changed/$(basename "$f")"
done
best=""
for ((i = 0; i < runs; i++)); do
    /usr/bin/time -f '%e %M' -o "$tmp/time" "$dedup" check --index "$ddx" "$tmp"/changed/*.txt \
        >"$tmp/check.out" 2>"$tmp/err" || true
    read -r t m < <(tail -n 1 "$tmp/time")
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t rss=$m; fi
done
printf '\n%-48s %8.2f s (best of %d), peak RSS %.1f MB, %d findings\n' \
    "dedup check --index on 10 changed files" "$best" "$runs" "$(echo "$rss / 1024" | bc -l)" \
    "$(wc -l <"$tmp/check.out")"
