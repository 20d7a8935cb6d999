# bench/lib.sh - what the benchmark scripts share. A script starts with
#
#     set -eu
#     cd "$(dirname "$0")/.."
#     runs=${RUNS:-3}
#     . bench/lib.sh
#
# and then has:
#   die MESSAGE...      prints "SCRIPT: MESSAGE" on stderr and exits 2
#   need COMMAND...     dies unless each command is installed (GNU time is
#                       /usr/bin/time, Debian package "time")
#   use_dedup           sets $dedup: $DEDUP, or bin/dedup (built with make
#                       when missing), as an absolute path; dies unless it is
#                       an executable file
#   $tmp                a scratch folder, removed when the script exits
#   corpus_bytes DIR    the bytes of the files under DIR
#   best_run MAX LABEL COMMAND...
#                       runs COMMAND $runs times (the shell command in $setup,
#                       when set, before each run, untimed), its standard
#                       output to $tmp/out and its errors to $tmp/err; dies,
#                       naming LABEL, on a signal or an exit status above MAX
#                       (dedup scan exits 1 when it finds duplicates); sets
#                       best_seconds (wall clock) and best_rss_mb (peak RSS) of
#                       the fastest run
#   mb_per_s BYTES SECONDS
#                       BYTES / SECONDS in MB/s, "-" under GNU time's 0.01 s
#   time_once NAME COMMAND...
#                       runs COMMAND once, its output to $tmp/NAME.out and its
#                       errors to $tmp/NAME.err; dies unless it exits 0 or 1;
#                       appends "wall user sys" (seconds, GNU time) to $tmp/NAME
#   $wc_words           the command to compare with, wc -w over the files
#                       under a folder: sh -c "$wc_words" sh DIR

bench_script=$(basename "$0")
die() {
    echo "$bench_script: $*" >&2
    exit 2
}

need() {
    local c
    for c; do
        command -v "$c" >/dev/null || die "needs $c (make deps)"
    done
}

use_dedup() {
    dedup=${DEDUP:-bin/dedup}
    if [ -z "${DEDUP:-}" ] && [ ! -x "$dedup" ]; then make -s; fi
    [ -x "$dedup" ] && [ ! -d "$dedup" ] || die "$dedup: not an executable file (set DEDUP=PATH)"
    dedup=$(cd "$(dirname "$dedup")" && pwd)/$(basename "$dedup")
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

corpus_bytes() { find -L "$1" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f\n", s}'; } # %.0f: mawk prints past 2^31 as 4.7e+09

best_run() {
    local max=$1 label=$2 t m x i
    shift 2
    best_seconds="" best_rss_mb=""
    for ((i = 0; i < runs; i++)); do
        [ -z "${setup:-}" ] || sh -c "$setup"
        /usr/bin/time -f '%e %M %x' -o "$tmp/time" "$@" >"$tmp/out" 2>"$tmp/err" || true
        if grep -q 'terminated by signal' "$tmp/time"; then
            tail -n 20 "$tmp/err" >&2
            die "$label: $(head -n 1 "$tmp/time")"
        fi
        read -r t m x < <(tail -n 1 "$tmp/time")
        if [ "$x" -gt "$max" ]; then
            tail -n 20 "$tmp/err" >&2
            die "$label: exit status $x"
        fi
        if [ -z "$best_seconds" ] || [ "$(echo "$t < $best_seconds" | bc -l)" = 1 ]; then
            best_seconds=$t
            best_rss_mb=$(echo "$m / 1024" | bc -l)
        fi
    done
}

mb_per_s() {
    if [ "$(echo "$2 > 0" | bc -l)" = 1 ]; then
        printf '%.1f' "$(echo "$1 / 1000000 / $2" | bc -l)"
    else
        echo -
    fi
}

time_once() {
    local name=$1 wall user sys status
    shift
    /usr/bin/time -f '%e %U %S %x' -o "$tmp/time" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || true
    read -r wall user sys status < <(tail -n 1 "$tmp/time") # after "Command exited with ..."
    [ "$status" = 0 ] || [ "$status" = 1 ] || die "$name: exit $status: $(tail -n 3 "$tmp/$name.err")"
    echo "$wall $user $sys" >>"$tmp/$name"
}

wc_words='find "$1" -type f -print0 | xargs -0 cat | wc -w'
