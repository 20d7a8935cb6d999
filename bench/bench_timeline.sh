#!/bin/bash
# bench_timeline.sh DEDUP_BINARY ARGS...: where a run's threads wait for
# each other. Records the scheduler's events of one run (perf, system-wide:
# root or perf_event_paranoid -1) with DEDUP_RUN_PHASES set (the phases
# marked, without the figures of DEDUP_RUN_STATS, whose clocks would cost
# the run a system call an item), then prints, for each phase the run
# names, the CPU time of the calling thread and of the others, and of it
# the time each ran alone, the others asleep (the serial part:
# bench/timeline.py), the part of that when another thread was blocked in
# the kernel (D: the disk), and the time no thread ran. The load of other
# processes does not count as serial, so this can be measured on a busy
# machine (compare binaries in alternation: the load still slows the CPU).
# ALONE=K also lists the spans of phase K (from 0) where a thread ran
# alone. PROFILE=HZ also samples the CPU (cpu-clock, HZ a second, call
# chains by frame pointers) and lists, by phase, the call chains that ran
# alone: build the binary with frame pointers for its own frames, e.g.
# make CFLAGS='-O2 -g -fno-omit-frame-pointer' in a copy of the tree.
# STATS=1 sets DEDUP_RUN_STATS instead (all the figures, their cost too).
#   bench/bench_timeline.sh bin/dedup scan -q -j 2 -f jsonl /tmp/snn/docs
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,20s/^# \{0,1\}//p' "$0"; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
marks=DEDUP_RUN_PHASES
[ -z "${STATS:-}" ] || marks=DEDUP_RUN_STATS
samples=()
[ -z "${PROFILE:-}" ] || samples=(-e "cpu-clock/freq=$PROFILE,call-graph=fp/")
env "$marks=1" perf record -q -a -k mono -e sched:sched_switch -e sched:sched_wakeup \
    -e sched:sched_wakeup_new -e sched:sched_process_exit -e syscalls:sys_enter_getrusage \
    "${samples[@]}" -o "$tmp/perf.data" -- sh -c 'echo $$ > "$0"; exec "$@"' "$tmp/pid" "$@" \
    >/dev/null 2>"$tmp/stats" || true
fields=comm,pid,tid,cpu,time,event,trace
[ -z "${PROFILE:-}" ] || fields=$fields,ip,sym
perf script -i "$tmp/perf.data" -F $fields 2>/dev/null >"$tmp/events"
python3 "$here/timeline.py" "$tmp/events" "$(cat "$tmp/pid")" "$tmp/stats" ${ALONE:+"$ALONE"}
