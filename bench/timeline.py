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

Of the time alone, the part where another thread was blocked in the kernel
uninterruptibly (state D: reading a file whose pages were not in memory, or
waiting for the address space's lock) is given apart ("of it, others in
D"): it is the disk's or the kernel's, not a thread waiting for another.
"idle" is the wall time when no thread of the process ran nor waited for a
core (all asleep: the disk, or each waiting for another): at -j 1 and -j 2
alike, time lost to both. The last lines give the serial fraction, alone /
CPU of all threads, and the speed-up Amdahl's law allows with it (the
serial part the same, the rest spread over 2, 16, 64 threads); then a line
`serial: ALONE CPU IDLE` for scripts (bench_threads.sh).

usage: timeline.py PERF_SCRIPT_OUTPUT PID STATS [ALONE_PHASE]
STATS: what the run wrote on stderr (its phases' names, in order; after the
last, to the exit, is "exit"). With ALONE_PHASE (an index), the spans where a thread ran alone
in that phase are listed too (start since the process started, length,
CPU, which thread)."""
import os
import re
import sys

LINE = re.compile(r'^\s*(.+?)\s+(\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)$')
DEPTH, TOP = 6, 6  # the frames of a call chain shown, the chains of a phase
FRAME = re.compile(r'^\s+([0-9a-f]+)\s+(\S+)')


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
        elif events and events[-1][3].startswith('cpu-clock'):
            frame = FRAME.match(line)  # a sample's call chain, a frame a line
            if frame and not frame.group(1).startswith('ffffffff'):  # not the kernel's
                events[-1] = events[-1][:4] + (events[-1][4] + [frame.group(2)],)
        if events and events[-1][3].startswith('cpu-clock') and isinstance(events[-1][4], str):
            events[-1] = events[-1][:4] + ([],)
    events.sort(key=lambda e: e[0])
    samples = {}  # (phase, call chain) -> samples taken while that thread ran alone
    mine = {tgid}  # the process's threads: made by its threads
    for t, pid, tid, ev, rest in events:
        if ev == 'sched:sched_wakeup_new' and pid == tgid:
            mine.add(int(re.search(r'pid=(\d+)', rest).group(1)))
    start = next(t for t, pid, *_ in events if pid == tgid)
    # 'run', 'ready' (waits for a core), 'sleep' (S: for another thread, a
    # lock, a timer), 'blocked' (D: the disk, the address space's lock), 'dead'
    state = {tgid: 'run'}
    phases = []  # (wall, {tid: [cpu, alone, alone with another blocked]}, [idle, idle blocked])
    cur, idle, spans = {}, [0.0, 0.0], []
    last = phase_start = start
    end = None
    for t, pid, tid, ev, rest in events:
        if t < start:
            continue
        dt = t - last
        if dt > 0:
            active = [x for x, s in state.items() if s in ('run', 'ready')]
            blocked = any(s == 'blocked' for s in state.values())
            if not active:
                idle[0] += dt
                idle[1] += dt if blocked else 0.0
            for x, s in state.items():
                if s == 'run':
                    v = cur.setdefault(x, [0.0, 0.0, 0.0])
                    v[0] += dt
                    if len(active) == 1:
                        v[1] += dt
                        v[2] += dt if blocked else 0.0
                        spans.append((last, dt, x, len(phases)))
        last = max(last, t)
        if ev.startswith('cpu-clock'):
            active = [x for x, s in state.items() if s in ('run', 'ready')]
            if tid in mine and active == [tid]:
                key = (len(phases), ' < '.join(rest[:DEPTH]) or '?')
                samples[key] = samples.get(key, 0) + 1
        elif ev == 'sched:sched_switch':
            prev = int(re.search(r'prev_pid=(\d+)', rest).group(1))
            prev_state = re.search(r'prev_state=(\S+)', rest).group(1)
            nxt = int(re.search(r'next_pid=(\d+)', rest).group(1))
            if prev in mine and state.get(prev) != 'dead':
                state[prev] = ('ready' if prev_state.startswith('R') else
                               'blocked' if prev_state.startswith('D') else 'sleep')
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
            phases.append((t - phase_start, cur, idle))
            cur, idle, phase_start = {}, [0.0, 0.0], t
    phases.append(((end or last) - phase_start, cur, idle))
    head = ('phase', 'wall', 'caller CPU', 'alone', 'others CPU', 'alone', 'of it, D', 'idle',
            'of it, D')
    form = '%-40s %6.3f %10.3f %6.3f %10.3f %6.3f %8.3f %6.3f %8.3f'
    print('%-40s %6s %10s %6s %10s %6s %8s %6s %8s' % head)
    sums = [0.0] * 8
    for k, (wall, d, (idle_all, idle_blocked)) in enumerate(phases):
        name = names[k] if k < len(names) else 'phase %d' % k
        cc, ca, cb = d.get(tgid, [0.0, 0.0, 0.0])
        oc = sum(v[0] for x, v in d.items() if x != tgid)
        oa = sum(v[1] for x, v in d.items() if x != tgid)
        ob = sum(v[2] for x, v in d.items() if x != tgid)
        row = [wall, cc, ca, oc, oa, cb + ob, idle_all, idle_blocked]
        sums = [a + b for a, b in zip(sums, row)]
        print(form % tuple([name[:40]] + row))
    print(form % tuple(['all'] + sums))
    alone, cpu, idle_all = sums[2] + sums[4], sums[1] + sums[3], sums[6]
    f = alone / cpu if cpu else 0.0
    print('alone in all: %.3f s CPU of %.3f (%.3f s of it with another thread in D); idle %.3f s '
          '(%.3f s with a thread in D)' % (alone, cpu, sums[5], idle_all, sums[7]))
    print('serial fraction %.3f: Amdahl speed-up at most %.2fx at 2 threads, %.2fx at 16, '
          '%.2fx at 64' % (f, 1 / (f + (1 - f) / 2), 1 / (f + (1 - f) / 16), 1 / (f + (1 - f) / 64)))
    print('serial: %.4f %.4f %.4f' % (alone, cpu, idle_all))
    if samples:  # bench_timeline.sh PROFILE=HZ: what ran alone, by call chain
        hz = float(os.environ.get('PROFILE', '0') or 0)
        print('what ran alone (samples at %g Hz, the innermost %d frames of our code and the '
              'libraries; at most %d a phase):' % (hz, DEPTH, TOP))
        for k in range(len(phases)):
            rows = sorted(((n, chain) for (ph, chain), n in samples.items() if ph == k), reverse=True)
            if not rows:
                continue
            name = names[k] if k < len(names) else 'phase %d' % k
            print('  %s: %d samples' % (name, sum(n for n, _ in rows)))
            for n, chain in rows[:TOP]:
                print('    %5d %s' % (n, chain))
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
        first = start + sum(p[0] for p in phases[:alone_phase])
        tenths = [0.0] * 10
        for t0, span, x, cpu in merged:
            tenths[min(9, max(0, int((t0 - first) / wall * 10)))] += cpu if wall > 0 else 0
        print('  CPU alone by tenth of the phase (ms): ' + ' '.join('%.1f' % (v * 1e3) for v in tenths))
        for t0, span, x, cpu in merged:
            if cpu >= 0.0005:
                print('  +%.4f s: %.1f ms, %.1f ms CPU alone, %s' %
                      (t0 - start, span * 1e3, cpu * 1e3, 'calling thread' if x == tgid else 'thread %d' % x))


main()
