#!/usr/bin/env bash
# Times dedup clean -o on a real disk beside cp -r of the same files.
#
#   bench/bench_clean.sh [CORPUS_DIR]
#
# Without a folder it makes, once, bench/.data/clean-snn: the articles of the
# first SaudiNewsNet zip (../shared/corpora/saudinewsnet/2015-07-21.zip, one
# file each, as bench/quality.py extracts them; SNN_ZIP=PATH names another),
# or, without it, a generated corpus of about 3,000 files (bench/gen_corpus.py
# --mb 32).
# The copies go to folders OUT.N (OUT: default bench/.data/clean-out, beside
# the tree: a real disk, not a tmpfs; the file system is printed), a new one
# for each run, so that no run pays for deleting the files of the one before;
# all are removed at the end. Each run starts after a sync, so that none pays
# for writing back what the one before left in the page cache. Each command
# runs three times (RUNS=N to change); the best time counts.
set -eu
cd "$(dirname "$0")/.."
corpus=${1:-bench/.data/clean-snn}
runs=${RUNS:-3}
out=${OUT:-bench/.data/clean-out}
zip=${SNN_ZIP:-../shared/corpora/saudinewsnet/2015-07-21.zip}

. bench/lib.sh

need /usr/bin/time
command -v bc >/dev/null || die "needs bc (Debian: apt-get install bc)"
if [ ! -d "$corpus" ]; then
    [ "$corpus" = bench/.data/clean-snn ] || die "$corpus: no such folder"
    if [ -f "$zip" ]; then
        echo "extracting $corpus from $zip"
        python3 - "$zip" "$corpus" <<'PY'
import json, os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst + ".tmp")
pos = 0
with zipfile.ZipFile(src) as zf:
    for name in sorted(n for n in zf.namelist() if n.endswith(".json")):
        for a in json.loads(zf.read(name).decode("utf-8")):
            pos += 1
            text = a.get("content") or ""
            if text.strip():
                with open(os.path.join(dst + ".tmp", "%05d.txt" % pos), "wb") as f:
                    f.write(text.encode("utf-8", "replace"))
os.rename(dst + ".tmp", dst)
PY
    else
        echo "no $zip: generating $corpus (bench/gen_corpus.py --mb 32 --seed 1)"
        python3 bench/gen_corpus.py "$corpus" --mb 32 --seed 1
    fi
fi
use_dedup

bytes=$(corpus_bytes "$corpus")
files=$(find "$corpus" -type f | wc -l)
[ "$files" -gt 0 ] || die "$corpus: no files"
mkdir -p "$(dirname "$out")"
rm -rf "$out".*
printf 'corpus: %s, %d files, %.1f MB\n' "$corpus" "$files" "$(echo "$bytes / 1000000" | bc -l)"
printf 'output: %s, on %s (%s)\n' "$out" "$(df --output=source "$(dirname "$out")" | tail -1)" \
    "$(df --output=fstype "$(dirname "$out")" 2>/dev/null | tail -1 || stat -f -c %T "$(dirname "$out")")"
printf 'dedup:  %s; best of %d runs\n\n' "$dedup" "$runs"

trap 'rm -rf "$tmp" "$out".*' EXIT # bench/lib.sh's $tmp, and the copies

# best MAXSTATUS LABEL COMMAND...: runs COMMAND $runs times and prints the
# best time. In COMMAND, OUT stands for a new output folder $out.N (N counts
# the runs). An exit status above MAXSTATUS, or a signal, aborts.
n=0
best() {
    local maxstatus=$1 label=$2 b="" t x i arg
    shift 2
    for ((i = 0; i < runs; i++)); do
        local cmd=()
        for arg in "$@"; do
            case $arg in
            OUT) cmd+=("$out.$((n + 1))") ;;
            *) cmd+=("$arg") ;;
            esac
        done
        sync
        /usr/bin/time -f '%e %x' -o "$tmp/time" "${cmd[@]}" >/dev/null 2>"$tmp/err" || true
        if grep -q 'terminated by signal' "$tmp/time"; then
            cat "$tmp/err" >&2
            die "$label: $(head -n 1 "$tmp/time")"
        fi
        read -r t x < <(tail -n 1 "$tmp/time")
        if [ "$x" -gt "$maxstatus" ]; then
            tail -n 20 "$tmp/err" >&2
            die "$label: exit status $x"
        fi
        if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
        n=$((n + 1))
    done
    printf '%-44s %8.2f\n' "$label" "$b"
}

printf '%-44s %8s\n' command seconds
printf '%-44s %8s\n' ------- -------
best 0 "cp -r (no sync)" cp -r "$corpus" OUT
best 0 "cp -r, then sync -f (one syncfs)" sh -c 'cp -r "$1" "$2" && sync -f "$2"' sh "$corpus" OUT
best 1 "dedup scan (the analysis clean does too)" "$dedup" scan --format jsonl "$corpus"
best 0 "dedup clean -o OUT (a new folder)" "$dedup" clean "$corpus" -o OUT
last=$out.$n
written=$(find "$last" -type f | wc -l)
# Into the folder of the last run: every file there is replaced.
best 0 "cp -r into that folder (files overwritten)" cp -rT "$corpus" "$last"
best 0 "dedup clean -o into that folder" "$dedup" clean "$corpus" -o "$last"
echo
echo "$written files written by dedup clean -o"
