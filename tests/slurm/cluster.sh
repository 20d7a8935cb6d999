#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, for tests: as root,
# without systemd, everything it needs in one folder.
#
#   tests/slurm/cluster.sh start DIR   generate a munge key and a slurm.conf in
#                                      DIR, start munged, slurmctld and slurmd,
#                                      wait until the node is idle; prints the
#                                      line to eval for the client commands
#                                      (export SLURM_CONF=DIR/slurm.conf)
#   tests/slurm/cluster.sh stop DIR    cancel every job, stop every daemon it
#                                      started (by the process ids kept in
#                                      DIR/pids) and every process left of a
#                                      job, leaving nothing running
#   tests/slurm/cluster.sh selftest    start a cluster in a temporary folder,
#                                      run a job array and a job that depends
#                                      on it (--dependency=afterok), stop it
#
# Or source it and call slurm_cluster_start DIR / slurm_cluster_stop DIR
# (tests/e2e/slurm.sh does, with a trap that stops it however the test ends).
#
# The packages are Debian's slurm-wlm and munge (make deps installs them).
# The settings that work on Debian 12 without systemd or cgroups:
# proctrack/linuxproc, task/none, select/cons_tres with CR_Core,
# jobacct_gather/none, and a partition that shares the node's cores among
# up to 4 jobs each (OverSubscribe=FORCE:4), so that a job array of many
# tasks runs on a machine of 2 cores. Ports are free ones picked at start;
# munged listens on a socket in DIR, so nothing clashes with a cluster or a
# munged already on the machine.

# slurm_free_port: a TCP port nothing listens on now.
slurm_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# slurm_cluster_start DIR: DIR is created if needed (an absolute path is
# best: the daemons and jobs see it as written). Returns non-zero, with the
# daemons' logs on stderr, when the node does not become idle in 60 s.
slurm_cluster_start() {
    local dir=$1 node cpus mem ctld_port slurmd_port
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd)
    for prog in munged slurmctld slurmd sinfo; do
        command -v "$prog" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
        command -v "$prog" >/dev/null 2>&1 || {
            echo "slurm cluster: $prog not found (make deps installs slurm-wlm and munge)" >&2
            return 1
        }
    done
    mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
    chmod 700 "$dir/munge"
    : >"$dir/pids"

    # munge: a fresh key of 1024 random bytes, readable by root only.
    head -c 1024 /dev/urandom >"$dir/munge/munge.key"
    chmod 400 "$dir/munge/munge.key"
    munged -F --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
        --pid-file="$dir/munge/munged.pid" --seed-file="$dir/munge/munged.seed" \
        --log-file="$dir/log/munged.log" >>"$dir/log/munged.out" 2>&1 &
    echo "munged $!" >>"$dir/pids"
    local i
    for i in $(seq 100); do [ -S "$dir/munge/munge.socket" ] && break; sleep 0.1; done

    node=$(hostname -s)
    cpus=$(nproc)
    mem=$(awk '/^MemTotal:/ { print int($2 / 1024 / 2) }' /proc/meminfo)
    ctld_port=$(slurm_free_port)
    slurmd_port=$(slurm_free_port)
    while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(slurm_free_port); done
    cat >"$dir/slurm.conf" <<EOF
# A single-node cluster for tests (tests/slurm/cluster.sh).
ClusterName=dedup-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
MinJobAge=300
# Timeouts well above Slurm's defaults: on a test machine loaded by other
# work, a batch job slow to start (BatchStartTimeout, 10 s by default), a
# message slow to be answered or a daemon slow to ping would fail a task
# that runs well, and the test would read it as dedup's failure.
KillWait=5
SlurmctldTimeout=120
SlurmdTimeout=300
MessageTimeout=60
BatchStartTimeout=120
InactiveLimit=0
Waittime=0
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
    export SLURM_CONF="$dir/slurm.conf"
    # -D: in the foreground, so that $! is the daemon's own process id.
    # -i: slurmctld ignores state saved by an earlier run (there is none).
    slurmctld -D -i -f "$SLURM_CONF" >>"$dir/log/slurmctld.out" 2>&1 &
    echo "slurmctld $!" >>"$dir/pids"
    slurmd -D -N "$node" -f "$SLURM_CONF" >>"$dir/log/slurmd.out" 2>&1 &
    echo "slurmd $!" >>"$dir/pids"

    local state=""
    for i in $(seq 120); do
        state=$(sinfo -h -N -o '%T' 2>/dev/null | head -1)
        [ "$state" = idle ] && return 0
        sleep 0.5
    done
    echo "slurm cluster: the node is not idle after 60 s (state: ${state:-none}); logs:" >&2
    tail -n 20 "$dir"/log/* >&2
    return 1
}

# slurm_owned_pids DIR: the processes left of this cluster's jobs
# (slurmstepd and the jobs' own processes): every process whose
# environment names this cluster's slurm.conf, except this shell and its
# parents.
slurm_owned_pids() {
    local conf="SLURM_CONF=$1/slurm.conf" p pid
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [ "$pid" = $$ ] && continue
        [ "$pid" = "${BASHPID:-$$}" ] && continue
        { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qxF "$conf" || continue
        # Not an ancestor of this shell (a test that runs with SLURM_CONF set).
        if ! slurm_is_ancestor "$pid"; then echo "$pid"; fi
    done
}

slurm_is_ancestor() { # PID: is it this shell or one of its parents?
    local p=${BASHPID:-$$}
    while [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != 1 ]; do
        [ "$p" = "$1" ] && return 0
        p=$(awk '{ print $4 }' "/proc/$p/stat" 2>/dev/null)
    done
    return 1
}

# slurm_cluster_stop DIR: cancels every job, stops the daemons by their
# process ids (TERM, then KILL after 10 s) and any process left of a job.
# Safe to call twice, or after a start that failed half way.
slurm_cluster_stop() {
    local dir=$1 name pid i left
    [ -f "$dir/pids" ] || return 0
    dir=$(cd "$dir" && pwd)
    if [ -f "$dir/slurm.conf" ]; then
        SLURM_CONF="$dir/slurm.conf" scancel --quiet --user=root 2>/dev/null
        for i in $(seq 20); do
            [ -z "$(SLURM_CONF="$dir/slurm.conf" squeue -h -t R,CG,PD 2>/dev/null)" ] && break
            sleep 0.5
        done
    fi
    # slurmd first (no new job steps), then slurmctld, then munged.
    for name in slurmd slurmctld munged; do
        pid=$(awk -v n="$name" '$1 == n { print $2 }' "$dir/pids")
        [ -n "$pid" ] || continue
        kill -TERM "$pid" 2>/dev/null
        for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    for pid in $(slurm_owned_pids "$dir"); do kill -TERM "$pid" 2>/dev/null; done
    sleep 0.2
    for pid in $(slurm_owned_pids "$dir"); do kill -KILL "$pid" 2>/dev/null; done
    left=$(slurm_owned_pids "$dir")
    for name in slurmd slurmctld munged; do
        pid=$(awk -v n="$name" '$1 == n { print $2 }' "$dir/pids")
        [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && left="$left $pid"
    done
    rm -f "$dir/pids"
    if [ -n "${left// /}" ]; then
        echo "slurm cluster: processes still running: $left" >&2
        return 1
    fi
    return 0
}

# slurm_wait_job JOBID [SECONDS]: waits until the job (every task of an
# array) has left the queue; non-zero after SECONDS (default 120).
slurm_wait_job() {
    local job=$1 limit=${2:-120} i
    for i in $(seq $((limit * 2))); do
        [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && return 0
        sleep 0.5
    done
    return 1
}

slurm_selftest() {
    local dir st=0 array after
    dir=$(mktemp -d "${TMPDIR:-/tmp}/dedup-slurm.XXXXXX")
    SLURM_SELFTEST_DIR=$dir
    trap 'slurm_cluster_stop "$SLURM_SELFTEST_DIR"; rm -rf "$SLURM_SELFTEST_DIR"' EXIT
    slurm_cluster_start "$dir" || return 1
    mkdir "$dir/out"
    array=$(sbatch --parsable --array=0-3 -o "$dir/out/task-%a.log" \
        --wrap "echo task \$SLURM_ARRAY_TASK_ID > $dir/out/task-\$SLURM_ARRAY_TASK_ID.done")
    after=$(sbatch --parsable --dependency=afterok:"$array" -o "$dir/out/after.log" \
        --wrap "cat $dir/out/task-*.done > $dir/out/all")
    slurm_wait_job "$array" && slurm_wait_job "$after" || st=1
    if [ "$(cat "$dir/out/all" 2>/dev/null)" = "$(printf 'task %s\n' 0 1 2 3)" ]; then
        echo "slurm cluster: a job array of 4 tasks and a job after it (afterok) ran"
    else
        echo "slurm cluster: the jobs did not run as expected; logs:" >&2
        tail -n 20 "$dir"/log/* "$dir"/out/* >&2
        st=1
    fi
    return $st
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case "${1:-}" in
    start)
        [ -n "${2:-}" ] || { echo "usage: $0 start DIR" >&2; exit 2; }
        slurm_cluster_start "$2" || { slurm_cluster_stop "$2"; exit 1; }
        echo "export SLURM_CONF=$(cd "$2" && pwd)/slurm.conf"
        ;;
    stop)
        [ -n "${2:-}" ] || { echo "usage: $0 stop DIR" >&2; exit 2; }
        slurm_cluster_stop "$2"
        ;;
    selftest) slurm_selftest ;;
    *)
        echo "usage: $0 start DIR | stop DIR | selftest" >&2
        exit 2
        ;;
    esac
fi
