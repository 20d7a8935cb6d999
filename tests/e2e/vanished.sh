#!/usr/bin/env bash
# Files that vanish after the first reading: each is named once on stderr,
# however often the run would read it again, and the run ends with status 2
# (issue 14: 100 near-duplicate files removed mid-run gave 6,868 lines, and
# scan still exited 1).
#
# To remove them at a known moment, a FIFO is named last: the run reads the
# files first, and the FIFO's writer removes them before it ends the FIFO,
# so they are gone before any file is read again to verify a near-duplicate.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
S=$FIXTURES/seeds
N=40

# make_copies DIR: N near-duplicates of one article, each with a line of its own.
make_copies() {
    mkdir -p "$1"
    for i in $(seq -w 1 $N); do
        { sed -n 1,12p "$S/000_bd77016b1ff7f277.txt"; echo "Copy number $i was printed by paper $i on page $i."; } >"$1/d$i.txt"
    done
}

# vanishing_run DIR CMD...: runs CMD (files of DIR, then last.fifo) while
# the FIFO's writer removes DIR's files; output in out and err.
vanishing_run() {
    local dir=$1
    shift
    rm -f last.fifo
    mkfifo last.fifo
    timeout 60 sh -c 'exec 3>last.fifo; cat "$1" >&3; rm -f "$2"/d*.txt; exec 3>&-' \
        sh "$S/001_0546f77b3de22a26.txt" "$dir" &
    timeout 60 "$@" >"$T/out" 2>"$T/err"
    echo $? >"$T/status"
    wait
}

# expect_once NAME: every file named in err is named once, at least one is,
# and none more than there were files.
expect_once() {
    local lines distinct
    lines=$(grep -c 'No such file or directory' "$T/err")
    distinct=$(grep 'No such file or directory' "$T/err" | sort -u | wc -l)
    if [ "$lines" -ge 1 ] && [ "$lines" = "$distinct" ] && [ "$lines" -le $N ]; then ok "$1 ($lines files)"; else
        not_ok "$1" "$lines lines for $distinct files: $(sort "$T/err" | uniq -c | sort -rn | head -3)"
    fi
}

make_copies a
vanishing_run a "$DEDUP" scan -f text a last.fifo
[ "$(cat "$T/status")" = 2 ] && ok "scan: files vanished mid-run: exit 2" \
    || not_ok "scan: files vanished mid-run: exit 2" "exit $(cat "$T/status")"
expect_once "... each vanished file named once"
expect_grep "... naming the file and why" "dedup: a/d02.txt: No such file or directory" "$T/err"

make_copies b
vanishing_run b "$DEDUP" clean b last.fifo -o cleaned
[ "$(cat "$T/status")" = 2 ] && ok "clean -o: files vanished mid-run: exit 2" \
    || not_ok "clean -o: files vanished mid-run: exit 2" "exit $(cat "$T/status")"
expect_once "... each vanished file named once"
expect_grep "... and nothing written" "clean: nothing written because of the errors above" "$T/err"

finish
