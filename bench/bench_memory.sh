#!/usr/bin/env bash
# Peak memory and wall time of dedup scan at several --memory budgets, beside
# wc -w, and where the memory goes (DEDUP_RUN_STATS, dedup/run/memory.c).
#
#   bench/bench_memory.sh CORPUS_DIR... [-- BUDGET...]
#
# For each corpus: wc -w over its files, then dedup scan -q -f jsonl -j J
# (J=JOBS or J, default 2) at the default budget and at each BUDGET (default
# 256M 64M), once each. Prints, per run, the peak resident memory (GNU
# time's maximum RSS), the wall-clock seconds, how many MB of units, of
# near-repeats of paragraphs and of document signatures (MinHash values)
# went to scratch files, and whether the report is byte-identical to that of the
# default budget (it must be: any difference aborts the benchmark). Then,
# for the default budget, the table of what the structures that grow with
# the corpus hold after the documents are read, in MB and bytes a document.
#
#   bench/bench_memory.sh --bound [CORPUS_DIR [BUDGET]]
#
# The bound of issue 16: one dedup scan -q -f jsonl -j J --memory BUDGET of
# CORPUS_DIR (default bench/.data/corpus-10240mb, the 10 GB corpus, and 1G:
# about 7 minutes of both cores; nothing is run, status 0, when the corpus
# is not there) must peak (GNU time's maximum RSS) at most at BUDGET plus
# what the man page (--memory) says the process holds beyond it: OWN bytes
# of its own (default 10 MiB: code, libraries, ICU's data), PER_THREAD
# bytes a thread (default 2 MiB), what the malloc heaps may keep free (a
# 64th of BUDGET, at least 128 KiB a heap) and PER_DOC bytes a document
# (default 64); prints the peak, the bound and what DEDUP_RUN_STATS says the
# process held at each step (and, of it, malloc's blocks in use and freed
# but kept), and exits 1 when the peak is past the bound. STATS=FILE keeps
# all that DEDUP_RUN_STATS wrote there.
#
# DEDUP=PATH times another binary (default bin/dedup, built with make if
# missing). dedup scan exits 1 when it finds duplicates; any other non-zero
# status aborts the benchmark.
set -eu
cd "$(dirname "$0")/.."
if [ "${1:-}" = --bound ]; then
    corpus=${2:-bench/.data/corpus-10240mb} budget=${3:-1G} per_doc=${PER_DOC:-64}
    own=${OWN:-$((10 << 20))} per_thread=${PER_THREAD:-$((2 << 20))}
    jobs=${JOBS:-${J:-2}}
    . bench/lib.sh
    need /usr/bin/time
    use_dedup
    if [ ! -d "$corpus" ]; then
        echo "$corpus: not there, the bound is not checked"
        exit 0
    fi
    case $budget in
    *K) budget_bytes=$((${budget%K} << 10)) ;;
    *M) budget_bytes=$((${budget%M} << 20)) ;;
    *G) budget_bytes=$((${budget%G} << 30)) ;;
    *) budget_bytes=$budget ;;
    esac
    docs=$(find "$corpus" -type f | wc -l)
    st=0
    DEDUP_RUN_STATS=1 /usr/bin/time -f '%e %M %U %S' -o "$tmp/time" \
        "$dedup" scan -q -f jsonl -j "$jobs" --memory "$budget" "$corpus" >"$tmp/out" \
        2>"$tmp/err" || st=$?
    [ "$st" -le 1 ] || die "scan --memory $budget exited $st: $(tail -3 "$tmp/err")"
    [ -z "${STATS:-}" ] || cp "$tmp/err" "$STATS"
    read -r wall rss user sys < <(tail -1 "$tmp/time")
    # What the malloc heaps may keep free to use again (dd_memory_hold_to_budget):
    # a 64th of the budget among them, at least 128 KiB a heap (one a thread
    # and the calling thread's).
    heaps=$((budget_bytes / 64))
    [ "$heaps" -ge $(((jobs + 1) << 17)) ] || heaps=$(((jobs + 1) << 17))
    peak=$((rss * 1024)) bound=$((budget_bytes + own + per_thread * jobs + heaps + per_doc * docs))
    grep '^dedup: memory at' "$tmp/err" | grep -E 'the process holds|malloc:' |
        sed 's/^dedup: memory at /  /'
    printf '%s: %d files, --memory %s -j %s: peak %.1f MB, bound %.1f MB (%.1f MB + %.1f MB of its own + %.1f MB a thread + %.1f MB the heaps keep + %d bytes a document); %s s, %s + %s s CPU; load %s\n' \
        "$corpus" "$docs" "$budget" "$jobs" "$(awk -v b="$peak" 'BEGIN {print b / 1e6}')" \
        "$(awk -v b="$bound" 'BEGIN {print b / 1e6}')" \
        "$(awk -v b="$budget_bytes" 'BEGIN {print b / 1e6}')" \
        "$(awk -v b="$own" 'BEGIN {print b / 1e6}')" "$(awk -v b="$per_thread" 'BEGIN {print b / 1e6}')" \
        "$(awk -v b="$heaps" 'BEGIN {print b / 1e6}')" \
        "$per_doc" "$wall" "$user" "$sys" "$(cut -d' ' -f1-3 /proc/loadavg)"
    if [ "$peak" -gt "$bound" ]; then
        echo "past the bound: peak RSS above --memory $budget plus the process's own, a thread's, the heaps' and $per_doc bytes a document"
        exit 1
    fi
    echo "within the bound"
    exit 0
fi
corpora=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
    corpora+=("$1")
    shift
done
[ "${1:-}" = -- ] && shift
budgets=("$@")
[ ${#budgets[@]} -gt 0 ] || budgets=(256M 64M)
[ ${#corpora[@]} -gt 0 ] || {
    echo "usage: bench/bench_memory.sh CORPUS_DIR... [-- BUDGET...]" >&2
    exit 2
}
jobs=${JOBS:-${J:-2}}
. bench/lib.sh
need /usr/bin/time
use_dedup

for corpus in "${corpora[@]}"; do
    [ -d "$corpus" ] || die "$corpus: no such folder"
    bytes=$(corpus_bytes "$corpus")
    files=$(find "$corpus" -type f | wc -l)
    printf 'corpus: %s, %d files, %.1f MB; %s -j %s; load %s\n' "$corpus" "$files" \
        "$(awk -v b="$bytes" 'BEGIN {print b / 1e6}')" "$dedup" "$jobs" \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
    /usr/bin/time -f '%e %M' -o "$tmp/time" sh -c "$wc_words" \
        sh "$corpus" >/dev/null
    read -r wall rss < <(tail -1 "$tmp/time")
    printf '  %-16s %8s MB peak %8s s\n' "wc -w" "$((rss / 1024))" "$wall"
    for budget in default "${budgets[@]}"; do
        opt=()
        [ "$budget" = default ] || opt=(--memory "$budget")
        st=0
        DEDUP_RUN_STATS=1 /usr/bin/time -f '%e %M' -o "$tmp/time" \
            "$dedup" scan -q -f jsonl -j "$jobs" "${opt[@]}" "$corpus" >"$tmp/out.$budget" \
            2>"$tmp/err.$budget" || st=$?
        [ "$st" -le 1 ] || die "scan ${opt[*]} exited $st: $(tail -3 "$tmp/err.$budget")"
        read -r wall rss < <(tail -1 "$tmp/time")
        spilled=$(sed -n 's/^dedup: units kept in a scratch file: \([0-9.]*\) MB$/\1/p' \
            "$tmp/err.$budget")
        near=$(sed -n \
            's/^dedup: near-repeats of paragraphs kept in a scratch file: \([0-9.]*\) MB$/\1/p' \
            "$tmp/err.$budget")
        sigs=$(sed -n 's/^dedup: document signatures kept in a scratch file: \([0-9.]*\) MB$/\1/p' \
            "$tmp/err.$budget")
        same=same
        if ! cmp -s "$tmp/out.default" "$tmp/out.$budget"; then
            die "--memory $budget: the report differs from the default budget's"
        fi
        printf '  %-16s %8s MB peak %8s s   in scratch files: units %s MB, near-repeats %s MB, signatures %s MB; %s\n' \
            "scan $budget" "$((rss / 1024))" "$wall" "${spilled:-?}" "${near:-?}" "${sigs:-?}" \
            "report: $same"
    done
    echo "  where the memory goes (default budget, after reading):"
    sed -n 's/^dedup: memory after reading: /    /p' "$tmp/err.default"
    echo
done
