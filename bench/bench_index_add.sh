#!/usr/bin/env bash
# What the check of the whole store before each write costs (dd_ddx_begin,
# dedup/store/lmdb_check.h): `dedup index add` on an index of 16,000 SaudiNewsNet
# articles, of 10 new files and of 10 files already indexed (then the add
# does little but the check).
#
#   bench/bench_index_add.sh                    # bin/dedup
#   DEDUP=/path/to/other/dedup bench/bench_index_add.sh   # e.g. a build before the check
#
# Makes, once, bench/.data/add-16000/ (16,000 articles of the corpus, the
# first ones of at least 200 bytes, one file each) and bench/.data/add-new/
# (the 10 articles after them). Builds the index with the binary under test,
# then times each add RUNS (default 5) times on a fresh copy of it: the best
# wall time and the best CPU time (user + system; GNU time counts in 10 ms).
set -eu
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
corpus_zips=${CORPUS:-../../shared/corpora/saudinewsnet}
[ -d "$corpus_zips" ] || corpus_zips=/work/shared/corpora/saudinewsnet
data=bench/.data
docs=$data/add-16000
new=$data/add-new

. bench/lib.sh
need /usr/bin/time
use_dedup
if [ ! -d "$docs" ] || [ ! -d "$new" ]; then
    echo "writing $docs and $new from $corpus_zips"
    python3 - "$corpus_zips" "$docs" "$new" <<'EOF'
import json, os, sys, zipfile
src, docs, new = sys.argv[1:4]
os.makedirs(docs, exist_ok=True)
os.makedirs(new, exist_ok=True)
n = 0
for name in sorted(os.listdir(src)):
    if not name.endswith(".zip"):
        continue
    with zipfile.ZipFile(os.path.join(src, name)) as z:
        for member in z.namelist():
            for a in json.loads(z.read(member)):
                text = (a.get("content") or "").strip()
                if not text:
                    continue
                dest = docs if n < 16000 else new
                with open(os.path.join(dest, "%05d.txt" % n), "w", encoding="utf-8") as f:
                    f.write(text + "\n")
                n += 1
                if n == 16010:
                    sys.exit(0)
sys.exit("only %d articles" % n)
EOF
fi
"$dedup" index build "$docs" -o "$tmp/base.ddx" 2>/dev/null
mb=$(du -m "$tmp/base.ddx/data.mdb" | cut -f1)
echo "index: 16,000 articles, data.mdb $mb MB; $dedup"

best_of() { # LABEL PATHS...: index add of PATHS on a fresh copy, RUNS times
    local label=$1 best="" cpu="" t c i t0
    shift
    for ((i = 0; i < runs; i++)); do
        rm -rf "$tmp/run.ddx"
        cp -r "$tmp/base.ddx" "$tmp/run.ddx"
        sync # the copy's pages are written back, not by the add's commit
        t0=$(date +%s%N)
        /usr/bin/time -f '%U %S' -o "$tmp/time" "$dedup" index add "$tmp/run.ddx" "$@" \
            >/dev/null 2>"$tmp/err" || die "$label: $(cat "$tmp/err")"
        t=$(echo "($(date +%s%N) - $t0) / 1000000000" | bc -l)
        c=$(awk '{ print $1 + $2 }' "$tmp/time")
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
        if [ -z "$cpu" ] || [ "$(echo "$c < $cpu" | bc -l)" = 1 ]; then cpu=$c; fi
    done
    printf '%-40s %6.3f s wall, %5.2f s CPU (best of %d)\n' "$label" "$best" "$cpu" "$runs"
}
best_of "index add, 10 new files" "$new"/*.txt
best_of "index add, 10 files already indexed" $(ls "$docs"/*.txt | head -n 10)
