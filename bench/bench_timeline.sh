#!/bin/bash
# bench_timeline.sh DEDUP_BINARY ARGS...: where a run's threads wait for
# each other. Records the scheduler's events of one run (perf, system-wide:
# root or perf_event_paranoid -1) with DEDUP_RUN_STATS set, then prints, for
# each phase the run names, the CPU time of the calling thread and of the
# others, and of it the time each ran alone, the others asleep (the serial
# part: bench/timeline.py). The load of other processes does not count as
# serial, so this can be measured on a busy machine (compare binaries in
# alternation: the load still slows the CPU). ALONE=K also lists the spans
# of phase K (from 0) where a thread ran alone.
#   bench/bench_timeline.sh bin/dedup scan -q -j 2 -f jsonl /tmp/snn/docs
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,12s/^# \{0,1\}//p' "$0"; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
DEDUP_RUN_STATS=1 perf record -q -a -k mono -e sched:sched_switch -e sched:sched_wakeup \
    -e sched:sched_wakeup_new -e sched:sched_process_exit -e syscalls:sys_enter_getrusage \
    -o "$tmp/perf.data" -- sh -c 'echo $$ > "$0"; exec "$@"' "$tmp/pid" "$@" \
    >/dev/null 2>"$tmp/stats" || true
perf script -i "$tmp/perf.data" -F comm,pid,tid,cpu,time,event,trace 2>/dev/null >"$tmp/events"
python3 "$here/timeline.py" "$tmp/events" "$(cat "$tmp/pid")" "$tmp/stats" ${ALONE:+"$ALONE"}
