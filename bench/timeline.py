#!/usr/bin/env python3
"""The timeline of one dedup run's threads, from `perf script` of its
scheduler events (bench_timeline.sh records them): for each phase that
DEDUP_RUN_STATS names (each ends with a getrusage call of the calling
thread, dd_run_phase_done), the CPU time the calling thread and the other
threads ran, and of it the time each ran *alone*: while no other thread of
the process was running or waiting for a core. That is the serial part of
the run, the time one thread works while the others wait for it; the load
of other processes does not inflate it into the measure (a thread that
waits for a core is not waiting for the other threads), though it does
slow the CPU itself (caches shared), so compare runs made side by side.

usage: timeline.py PERF_SCRIPT_OUTPUT PID STATS [ALONE_PHASE]
STATS: what the run wrote on stderr (its phases' names, in order; after the
last, to the exit, is "exit"). With ALONE_PHASE (an index), the spans where a thread ran alone
in that phase are listed too (start since the process started, length,
CPU, which thread)."""
import re
import sys

LINE = re.compile(r'^\s*(.+?)\s+(\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)$')


def main():
    path, tgid = sys.argv[1], int(sys.argv[2])
    phase = re.compile(r'^dedup: phase (.*?): [0-9.]+ s')
    names = [m.group(1) for m in map(phase.match, open(sys.argv[3])) if m] + ['exit']
    alone_phase = int(sys.argv[4]) if len(sys.argv) > 4 else None
    events = []
    for line in open(path):
        m = LINE.match(line)
        if m:
            _, pid, tid, _, t, ev, rest = m.groups()
            events.append((float(t), int(pid), int(tid), ev, rest))
    events.sort(key=lambda e: e[0])
    mine = {tgid}  # the process's threads: made by its threads
    for t, pid, tid, ev, rest in events:
        if ev == 'sched:sched_wakeup_new' and pid == tgid:
            mine.add(int(re.search(r'pid=(\d+)', rest).group(1)))
    start = next(t for t, pid, *_ in events if pid == tgid)
    state = {tgid: 'run'}  # 'run', 'ready' (waits for a core), 'sleep', 'dead'
    phases = []  # (wall, {tid: [cpu, alone]})
    cur, spans = {}, []
    last = phase_start = start
    end = None
    for t, pid, tid, ev, rest in events:
        if t < start:
            continue
        dt = t - last
        if dt > 0:
            active = [x for x, s in state.items() if s in ('run', 'ready')]
            for x, s in state.items():
                if s == 'run':
                    v = cur.setdefault(x, [0.0, 0.0])
                    v[0] += dt
                    if len(active) == 1:
                        v[1] += dt
                        spans.append((last, dt, x, len(phases)))
        last = max(last, t)
        if ev == 'sched:sched_switch':
            prev = int(re.search(r'prev_pid=(\d+)', rest).group(1))
            prev_state = re.search(r'prev_state=(\S+)', rest).group(1)
            nxt = int(re.search(r'next_pid=(\d+)', rest).group(1))
            if prev in mine and state.get(prev) != 'dead':
                state[prev] = 'ready' if prev_state.startswith('R') else 'sleep'
            if nxt in mine:
                state[nxt] = 'run'
        elif ev in ('sched:sched_wakeup', 'sched:sched_wakeup_new'):
            x = int(re.search(r'(?:^|\s)pid=(\d+)', rest).group(1))
            if x in mine and state.get(x) != 'run':
                state[x] = 'ready'
        elif ev == 'sched:sched_process_exit':
            x = int(re.search(r'(?:^|\s)pid=(\d+)', rest).group(1))
            if x in mine:
                state[x] = 'dead'
                if x == tgid:
                    end = t
                    break
        elif ev == 'syscalls:sys_enter_getrusage' and pid == tgid:
            phases.append((t - phase_start, cur))
            cur, phase_start = {}, t
    phases.append(((end or last) - phase_start, cur))
    head = ('phase', 'wall', 'caller CPU', 'alone', 'others CPU', 'alone')
    print('%-46s %7s %10s %7s %10s %7s' % head)
    sums = [0.0] * 5
    for k, (wall, d) in enumerate(phases):
        name = names[k] if k < len(names) else 'phase %d' % k
        cc, ca = d.get(tgid, [0.0, 0.0])
        oc = sum(v[0] for x, v in d.items() if x != tgid)
        oa = sum(v[1] for x, v in d.items() if x != tgid)
        row = [wall, cc, ca, oc, oa]
        sums = [a + b for a, b in zip(sums, row)]
        print('%-46s %7.3f %10.3f %7.3f %10.3f %7.3f' % tuple([name[:46]] + row))
    print('%-46s %7.3f %10.3f %7.3f %10.3f %7.3f' % tuple(['all'] + sums))
    print('alone in all: %.3f s CPU of %.3f' % (sums[2] + sums[4], sums[1] + sums[3]))
    if alone_phase is not None:
        merged = []  # consecutive spans of one thread, gaps under 0.5 ms
        for t0, dt, x, ph in spans:
            if ph != alone_phase:
                continue
            if merged and merged[-1][2] == x and t0 - (merged[-1][0] + merged[-1][1]) < 0.0005:
                merged[-1][1] = t0 + dt - merged[-1][0]
                merged[-1][3] += dt
            else:
                merged.append([t0, dt, x, dt])
        wall = phases[alone_phase][0]
        first = start + sum(w for w, _ in phases[:alone_phase])
        tenths = [0.0] * 10
        for t0, span, x, cpu in merged:
            tenths[min(9, max(0, int((t0 - first) / wall * 10)))] += cpu if wall > 0 else 0
        print('  CPU alone by tenth of the phase (ms): ' + ' '.join('%.1f' % (v * 1e3) for v in tenths))
        for t0, span, x, cpu in merged:
            if cpu >= 0.0005:
                print('  +%.4f s: %.1f ms, %.1f ms CPU alone, %s' %
                      (t0 - start, span * 1e3, cpu * 1e3, 'calling thread' if x == tgid else 'thread %d' % x))


main()
