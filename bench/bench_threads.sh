#!/usr/bin/env bash
# Thread scaling of dedup scan, and of dedup filter: -j 1 and -j 2 beside
# wc -w, in the same run.
#
#   [JSONL=FILE] bench/bench_threads.sh CORPUS_DIR [-- DEDUP-SCAN-OPTIONS...]
#
# Runs, RUNS times (default 5), in alternating order (wc -w, -j 1, -j 2,
# then wc -w, -j 2, -j 1, ...), so that a change of the machine's load
# hits both thread counts alike: wc -w over the files and dedup scan
# --format jsonl -q at -j 1 and -j 2. Prints, per command, the best and
# median wall-clock seconds, and the user and system CPU seconds of the
# best run (GNU time); then the speed-up of -j 2 (wall at -j 1 / wall at
# -j 2, best and median), and the serial part of a run at -j 2, with the
# speed-up Amdahl's law allows with it at 2, 16 and 64 threads. The serial
# part is measured (where perf may record the scheduler's events of the
# whole machine: root, or perf_event_paranoid -1) as the CPU time a thread
# of the run ran alone, no other thread of it running or waiting for a core
# (bench/bench_timeline.sh, bench/timeline.py), the least of SERIAL_RUNS
# runs; it is given with the part of it when another thread was blocked in
# the kernel (state D: the disk), and the time no thread ran. Before it,
# dedup's own accounting (DEDUP_RUN_STATS, dedup/run/run.h: the run's CPU
# less the work figures of its maps and pools; its lines for the ordered
# maps are printed, with how long the consumer and the workers waited),
# which is not the serial part: it counts as serial the consumer taking
# results beside the workers, and as parallel a loop's last items run while
# the other threads wait. Also checks that both thread counts write the
# same report. Then what one run costs the kernel at -j 1 and -j 2: its
# page faults and (perf, where allowed) its TLB flushes.
#
# With JSONL=FILE (the same texts as JSON lines, e.g. bench/.data/snn.jsonl,
# made by bench/make_jsonl.py), dedup filter -q at -j 1 and -j 2 on FILE
# take part in the same alternation, and the serial part of filter is
# measured the same way (its reading of the records counts as serial: it is
# done by the thread that decides).
#
# DEDUP=PATH times another binary (default bin/dedup, built with make if
# missing). dedup scan exits 1 when it finds duplicates; any other non-zero
# status aborts the benchmark.
set -eu
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bench/bench_threads.sh CORPUS_DIR [-- OPTIONS]" >&2; exit 2; }
corpus=$1
shift
[ "${1:-}" = -- ] && shift
runs=${RUNS:-5}
. bench/lib.sh
need /usr/bin/time
[ -d "$corpus" ] || die "$corpus: no such folder"
jsonl=${JSONL:-}
[ -z "$jsonl" ] || [ -f "$jsonl" ] || die "$jsonl: no such file"
use_dedup

bytes=$(corpus_bytes "$corpus")
files=$(find "$corpus" -type f | wc -l)
printf 'corpus: %s, %d files, %.1f MB; %s; %d runs each, alternating; %s CPUs online, load %s\n\n' \
    "$corpus" "$files" "$(awk -v b="$bytes" 'BEGIN {print b / 1e6}')" "$dedup" "$runs" \
    "$(getconf _NPROCESSORS_ONLN)" "$(cut -d' ' -f1-3 /proc/loadavg)"

for r in $(seq 1 "$runs"); do
    time_once wc sh -c "$wc_words" sh "$corpus"
    if [ $((r % 2)) = 1 ]; then
        time_once j1 "$dedup" scan -q -f jsonl -j 1 "$@" "$corpus"
        time_once j2 "$dedup" scan -q -f jsonl -j 2 "$@" "$corpus"
        if [ -n "$jsonl" ]; then
            time_once f1 "$dedup" filter -q -j 1 "$jsonl"
            time_once f2 "$dedup" filter -q -j 2 "$jsonl"
        fi
    else
        if [ -n "$jsonl" ]; then
            time_once f2 "$dedup" filter -q -j 2 "$jsonl"
            time_once f1 "$dedup" filter -q -j 1 "$jsonl"
        fi
        time_once j2 "$dedup" scan -q -f jsonl -j 2 "$@" "$corpus"
        time_once j1 "$dedup" scan -q -f jsonl -j 1 "$@" "$corpus"
    fi
done
cmp -s "$tmp/j1.out" "$tmp/j2.out" || die "-j 1 and -j 2 wrote different reports"
[ -z "$jsonl" ] || cmp -s "$tmp/f1.out" "$tmp/f2.out" || die "filter -j 1 and -j 2 wrote different output"

# stats NAME: "best median user sys" (user and sys of the best run).
stats() {
    sort -n "$tmp/$1" | awk '{w[NR] = $1; u[NR] = $2; s[NR] = $3}
        END {m = (NR % 2) ? w[(NR + 1) / 2] : (w[NR / 2] + w[NR / 2 + 1]) / 2;
             print w[1], m, u[1], s[1]}'
}
printf '%-22s %9s %9s %9s %9s %9s\n' command best median 'MB/s' user sys
names="wc j1 j2"
[ -n "$jsonl" ] && names="$names f1 f2"
for name in $names; do
    read -r best median user sys <<<"$(stats $name)"
    label=$name
    [ $name = wc ] && label='wc -w'
    [ $name = j1 ] && label='dedup scan -j 1'
    [ $name = j2 ] && label='dedup scan -j 2'
    [ $name = f1 ] && label='dedup filter -j 1'
    [ $name = f2 ] && label='dedup filter -j 2'
    printf '%-22s %8.2fs %8.2fs %9.1f %8.2fs %8.2fs\n' "$label" "$best" "$median" \
        "$(awk -v b="$bytes" -v t="$best" 'BEGIN {print b / 1e6 / t}')" "$user" "$sys"
done
read -r b1 m1 _ <<<"$(stats j1)"
read -r b2 m2 _ <<<"$(stats j2)"
printf '\nspeed-up of -j 2: %.2fx (best), %.2fx (median)\n' \
    "$(awk -v a="$b1" -v b="$b2" 'BEGIN {print a / b}')" "$(awk -v a="$m1" -v b="$m2" 'BEGIN {print a / b}')"
if [ -n "$jsonl" ]; then
    read -r b1 m1 _ <<<"$(stats f1)"
    read -r b2 m2 _ <<<"$(stats f2)"
    printf 'speed-up of filter -j 2: %.2fx (best), %.2fx (median)\n' \
        "$(awk -v a="$b1" -v b="$b2" 'BEGIN {print a / b}')" "$(awk -v a="$m1" -v b="$m2" 'BEGIN {print a / b}')"
fi

# CPU outside the parallel work, at -j 2: the run's CPU time (user + sys)
# less the work done in parallel, as dedup itself reports it
# (DEDUP_RUN_STATS: the analysis on the workers, the loops of pairs
# verified ahead and of index entries, on the workers and the calling
# thread). Not the serial part (measured below): the calling thread takes
# results and decides beside the workers, and a loop's last items run while
# the other threads wait. Best (least) of SERIAL_RUNS (default 3).
best=""
for r in $(seq 1 "${SERIAL_RUNS:-3}"); do
    DEDUP_RUN_STATS=1 /usr/bin/time -f '%e %U %S' -o "$tmp/time" "$dedup" scan -q -f jsonl -j 2 \
        "$@" "$corpus" >/dev/null 2>"$tmp/stats" || true
    read -r _ user sys < <(tail -1 "$tmp/time")
    line=$(awk -v u="$user" -v s="$sys" '
        /^dedup: run:/ { for (i = 1; i < NF; i++) if ($i == "work") analysis += $(i + 1) }
        /^dedup: pool/ { for (i = 1; i < NF; i++) if ($i == "work") pool += $(i + 1) }
        END { total = u + s; printf "%.3f %.3f %.3f %.3f", total, analysis, pool, total - analysis - pool }' \
        "$tmp/stats")
    if [ -z "$best" ] || awk -v a="${line##* }" -v b="${best##* }" 'BEGIN {exit !(a < b)}'; then
        best=$line
        cp "$tmp/stats" "$tmp/best-stats"
    fi
done
read -r total analysis pool serial <<<"$best"
sed -n 's/^dedup: \(.*pairs verified ahead.*\)/  \1/p; s/^dedup: \(run: .*\)/  \1/p' "$tmp/best-stats"
awk -v total="$total" -v analysis="$analysis" -v pool="$pool" -v serial="$serial" 'BEGIN {
    f = serial / total
    printf "at -j 2: %.2f s CPU in all: first pass on its workers %.2f s (analysis, paragraph pairs), clustering on the pool %.2f s (document pairs, index), the rest %.2f s (%.2f of the CPU; not the serial part)\n", total, analysis, pool, serial, serial / total
}'
# The serial part, measured: the CPU a thread ran alone (bench_timeline.sh),
# the least of SERIAL_RUNS runs, and the Amdahl line of that run.
if command -v perf >/dev/null &&
    { [ "$(id -u)" = 0 ] || [ "$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null)" = -1 ]; }; then
    best=""
    for r in $(seq 1 "${SERIAL_RUNS:-3}"); do
        bench/bench_timeline.sh "$dedup" scan -q -f jsonl -j 2 "$@" "$corpus" >"$tmp/timeline"
        line=$(sed -n 's/^serial: //p' "$tmp/timeline")
        [ -n "$line" ] || die "bench_timeline.sh: no serial line"
        if [ -z "$best" ] || awk -v a="${line%% *}" -v b="${best%% *}" 'BEGIN {exit !(a < b)}'; then
            best=$line
            cp "$tmp/timeline" "$tmp/best-timeline"
        fi
    done
    echo "at -j 2, the serial part measured (bench/bench_timeline.sh, least of ${SERIAL_RUNS:-3} runs):"
    sed -n 's/^alone in all/  alone in all/p; s/^serial fraction/  serial fraction/p' \
        "$tmp/best-timeline"
else
    echo "at -j 2, the serial part: not measured (bench/bench_timeline.sh needs perf recording" \
        "the whole machine: root or perf_event_paranoid -1)"
fi

# What a run costs the kernel at -j 1 and at -j 2: its page faults (first
# touches of memory, GNU time's minor faults) and, where perf can count the
# tlb:tlb_flush tracepoint (root, or a low perf_event_paranoid), its TLB
# flushes. A table probed before it is written, left to calloc, is first
# mapped to the kernel's shared zero page, and the copy-on-write at its
# first store flushes the TLB of every CPU running a thread of the process:
# at -j 2 that is an interrupt of the other core each time.
for j in 1 2; do
    /usr/bin/time -f '%R' -o "$tmp/time" "$dedup" scan -q -f jsonl -j $j "$@" "$corpus" \
        >/dev/null 2>&1 || true
    flushes=n/a
    if command -v perf >/dev/null; then
        perf stat -x, -e tlb:tlb_flush -o "$tmp/perf" "$dedup" scan -q -f jsonl -j $j "$@" \
            "$corpus" >/dev/null 2>&1 || true
        flushes=$(awk -F, '$3 == "tlb:tlb_flush" && $1 ~ /^[0-9]+$/ {print $1}' "$tmp/perf" 2>/dev/null)
        [ -n "$flushes" ] || flushes=n/a
    fi
    printf 'scan -j %d: %s page faults, %s TLB flushes\n' $j "$(tail -1 "$tmp/time")" "$flushes"
done

# The same for filter, at -j 2 too: its reading of the records (on the
# thread that decides) is serial; what the calling thread does in the
# loops it shares with the workers (the batches' candidate lookups and
# pairs verified ahead, the band index) counts as work, as DEDUP_RUN_STATS
# reports it. Its consumer runs beside the workers, so besides Amdahl's
# bound (nothing serial overlapping) the pipeline's is given: the wall time
# is at least the serial part, and at least all the CPU time spread over
# the threads. Best (least serial) of SERIAL_RUNS.
[ -n "$jsonl" ] || exit 0
best=""
for r in $(seq 1 "${SERIAL_RUNS:-3}"); do
    DEDUP_RUN_STATS=1 /usr/bin/time -f '%e %U %S' -o "$tmp/time" "$dedup" filter -q -j 2 "$jsonl" \
        >/dev/null 2>"$tmp/stats" || true
    read -r _ user sys < <(tail -1 "$tmp/time")
    run_line=$(grep '^dedup: run:' "$tmp/stats" | tail -1)
    line=$(awk -v u="$user" -v s="$sys" \
        -v rd="$(sed -n 's/.*read \([0-9.]*\) s CPU.*/\1/p' <<<"$run_line")" \
        -v work="$(sed -n 's/.*work \([0-9.]*\) s CPU.*/\1/p' <<<"$run_line")" \
        -v consume="$(sed -n 's/.*consume \([0-9.]*\) s CPU.*/\1/p' <<<"$run_line")" \
        'BEGIN { total = u + s; printf "%.3f %.3f %.3f %.3f %.3f", total, work, rd, consume, total - work }')
    if [ -z "$best" ] || awk -v a="${line##* }" -v b="${best##* }" 'BEGIN {exit !(a < b)}'; then
        best=$line
        cp "$tmp/stats" "$tmp/best-stats"
    fi
done
read -r total work rd consume serial <<<"$best"
sed -n 's/^dedup: \(.*pairs verified ahead.*\)/  \1/p; s/^dedup: \(run: .*\)/  \1/p; s/^dedup: \(loops of consume: .*\)/  \1/p' "$tmp/best-stats"
awk -v total="$total" -v work="$work" -v consume="$consume" -v rd="$rd" -v serial="$serial" 'BEGIN {
    f = serial / total
    printf "filter at -j 2: %.2f s CPU in all: on the workers and in the shared loops %.2f s (analysis, lookups and pairs ahead, band index), reading records %.2f s, deciding and writing in order %.2f s, the rest of the run %.2f s\n", total, work, rd, consume, serial - consume - rd
    printf "serial fraction %.2f: Amdahl speed-up at most %.2fx at 2 threads, %.2fx at 16, %.2fx at 64;", f, 1 / (f + (1 - f) / 2), 1 / (f + (1 - f) / 16), 1 / (f + (1 - f) / 64)
    printf " as a pipeline (serial part beside the workers) at most %.2fx, %.2fx, %.2fx\n", total / (serial > total / 2 ? serial : total / 2), total / (serial > total / 16 ? serial : total / 16), total / (serial > total / 64 ? serial : total / 64)
}'
