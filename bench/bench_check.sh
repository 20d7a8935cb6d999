#!/usr/bin/env bash
# dedup check beside dedup scan on the same folder: what a project pays when
# it adopts the pre-commit hook (pre-commit run --all-files, or
# dedup check --write-baseline on every file), which names every file.
#
#   bench/bench_check.sh [N...]        (default: 3000 16000)
#
# Makes, once for each N, bench/.data/check-N/: the first N non-empty
# SaudiNewsNet articles (../shared/corpora/saudinewsnet, or CORPUS=DIR), in
# the order of the zips, as NNNNN.txt in one folder. Then times, best of
# RUNS (default 3): `dedup scan DIR` and `dedup check DIR/*.txt` (run in the
# folder, as a hook runs it: ./NNNNN.txt), and prints seconds, MB/s and peak
# RSS (GNU time, Debian package "time"; bc). DEDUP=PATH times another
# binary (default bin/dedup). Both commands exit 1 on this corpus (it holds
# syndicated copies); any other status aborts the benchmark.
set -eu
cd "$(dirname "$0")/.."
root=$PWD
runs=${RUNS:-3}
corpus=${CORPUS:-$root/../shared/corpora/saudinewsnet}
data=bench/.data
[ $# -gt 0 ] || set -- 3000 16000

. bench/lib.sh
need /usr/bin/time bc
use_dedup

# best LABEL DIR COMMAND...: runs COMMAND in DIR $runs times; prints the
# fastest run's seconds, MB/s over the folder and peak RSS.
best() {
    local label=$1 dir=$2
    shift 2
    best_run 1 "$label" env -C "$dir" "$@"
    printf '%-34s %8.2f %9s %10.1f\n' "$label" "$best_seconds" "$(mb_per_s "$bytes" "$best_seconds")" \
        "$best_rss_mb"
}

printf 'dedup: %s; best of %d runs\n' "$dedup" "$runs"
for n in "$@"; do
    folder=$data/check-$n
    if [ ! -d "$folder" ]; then
        [ -d "$corpus" ] || die "$corpus: no such folder (CORPUS=DIR of the SaudiNewsNet zips)"
        echo "writing $folder ($n articles)"
        python3 - "$corpus" "$folder.tmp" "$n" <<'EOF'
import glob, json, os, sys, zipfile
corpus, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(out, exist_ok=True)
written = 0
for z in sorted(glob.glob(os.path.join(corpus, "*.zip"))):
    with zipfile.ZipFile(z) as zf:
        for name in sorted(zf.namelist()):
            if not name.endswith(".json"):
                continue
            for article in json.loads(zf.read(name)):
                text = article.get("content") or ""
                if not text.strip() or written == n:
                    continue
                written += 1
                with open(os.path.join(out, "%05d.txt" % written), "w", encoding="utf-8") as f:
                    f.write(text)
if written < n:
    sys.exit("only %d articles in %s" % (written, corpus))
EOF
        mv "$folder.tmp" "$folder"
    fi
    bytes=$(corpus_bytes "$folder")
    printf '\n%s: %d files, %.1f MB\n' "$folder" "$(find "$folder" -type f | wc -l)" \
        "$(echo "$bytes / 1000000" | bc -l)"
    printf '%-34s %8s %9s %10s\n' command seconds MB/s "RSS (MB)"
    best "dedup scan ." "$folder" "$dedup" scan .
    # the file names come from the shell's glob, as pre-commit gives them
    best "dedup check ./*.txt" "$folder" sh -c 'exec "$0" check ./*.txt' "$dedup"
done
