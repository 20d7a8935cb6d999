#!/usr/bin/env bash
# End-to-end checks of the manual pages man/dedup.1 and man/shingle.1
# against the programs:
#   (a) each page is plain ASCII and formats without a single groff warning
#       (and, when man(1) is installed, `man -l` renders it without one);
#   (b) for every command of dedup, the options its --help lists are exactly
#       those of the page's OPTIONS subsections that name the command
#       (".SS "Paragraphs (scan, clean, check, filter)""), both ways; `dedup
#       help CMD` prints the same as `dedup CMD --help`; and the command
#       refuses, with exit 2, every option of the others that it does not
#       take. For shingle: every option of --help is in its page;
#   (c) every command that `dedup --help` lists is in the COMMANDS section;
#   (d) every exit status that --help, or the page's own text, mentions is
#       an entry of the page's EXIT STATUS section, and every entry of that
#       section is a status that --help mentions;
#   (e) the examples of dedup.1's EXAMPLES section run, one after the other
#       in one folder holding corpus/ (the seeds and their variants): every
#       dedup they run exits 0 or 1, and an example written as a transcript
#       ("$ command" then its output) prints exactly that output.
# One ok/not ok line per page, option, command, status and example, so that
# a failure names what is missing.
# The loops below split command output into words on purpose.
# shellcheck disable=SC2013
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

MANDIR="$(dirname "$0")/../../man"

# page_text PAGE: the roff source, without comments, with the escapes that
# hide option names undone: \- becomes -, font changes (\fB, \f(CW, \f[BI])
# and the zero-width \& and \% are removed.
page_text() {
    sed -e '/^[.'\'']\\"/d' -e 's/\\".*//' \
        -e 's/\\-/-/g' \
        -e 's/\\f\[[^]]*\]//g' -e 's/\\f([A-Za-z0-9][A-Za-z0-9]//g' \
        -e 's/\\f[A-Za-z0-9]//g' -e 's/\\[&%]//g' "$1"
}

# section TEXTFILE NAME: the lines of section NAME (.SH NAME up to the next
# .SH) of a page_text output; NAME in capitals, as in "EXIT STATUS".
section() {
    awk -v want="$2" '
        /^\.SH([ \t]|$)/ {
            t = $0; sub(/^\.SH[ \t]*/, "", t); gsub(/"/, "", t)
            sub(/[ \t]+$/, "", t); on = (toupper(t) == want); next
        }
        on { print }' "$1"
}

# entries: read section lines on stdin, print the first word of each entry
# tag (the line after .TP, the argument of .IP) and of each .SS heading.
entries() {
    awk '
        function first(s) {
            sub(/^\.[A-Za-z]+[ \t]*/, "", s); gsub(/"/, "", s)
            split(s, w, /[ \t]+/); return w[1]
        }
        tp { print first($0); tp = 0; next }
        /^\.TP([ \t]|$)/ { tp = 1; next }
        /^\.(IP|SS)[ \t]/ { print first($0) }'
}

# word_in FILE WORD: FILE holds WORD, not as part of a longer option/name.
word_in() {
    grep -qE -- "(^|[^A-Za-z0-9_-])$2([^A-Za-z0-9_-]|\$)" "$1"
}

# long_options / short_options FILE: the options named in a help text.
long_options() {
    grep -oE -- '(^|[^A-Za-z0-9-])--[A-Za-z0-9][A-Za-z0-9-]*' "$1" |
        sed -E 's/^[^-]//' | sort -u
}
short_options() {
    grep -oE -- '(^|[[:space:],[(|])-[A-Za-z0-9]([][:space:],|)]|$)' "$1" |
        sed -E 's/^.*(-[A-Za-z0-9]).*$/\1/' | sort -u
}

# exit_statuses FILE: the numbers of the "Exit status:" paragraph of a
# help text (not the 8 of "UTF-8").
exit_statuses() {
    awk 'tolower($0) ~ /exit status/ { on = 1 } on && !NF { on = 0 } on' "$1" |
        grep -oE '(^|[[:space:],:;(])[0-9]+([[:space:]]|$)' |
        tr -dc '0-9\n' | sort -un
}

# get_help NAME OUTFILE CMD...: run CMD, which must exit 0 and print help.
get_help() {
    local name=$1 out=$2
    shift 2
    "$@" >"$out" 2>"$T/help.err"
    local rc=$?
    if [ "$rc" = 0 ] && [ -s "$out" ]; then ok "$name exits 0 and prints help"
    else
        not_ok "$name exits 0 and prints help" \
            "exit $rc, $(wc -c <"$out") bytes; stderr: $(head -c 600 "$T/help.err")"
        return 1
    fi
}

# check_format PAGE: (a).
check_format() {
    local page=$1 name out rc dev bad
    name=$(basename "$page")
    bad=$(LC_ALL=C grep -n '[^[:print:][:blank:]]' "$page" | head -5)
    if [ -z "$bad" ]; then ok "$name is plain ASCII"
    else not_ok "$name is plain ASCII" "write other characters as \\[uXXXX]: $bad"; fi

    if ! command -v groff >/dev/null; then
        not_ok "$name formats without warnings" "groff is not installed"
        return
    fi
    for dev in "" -Tutf8; do
        out=$(groff -man -ww -z $dev "$page" 2>&1)
        rc=$?
        if [ "$rc" = 0 ] && [ -z "$out" ]; then
            ok "$name: groff -man -ww -z${dev:+ $dev} prints nothing"
        else
            not_ok "$name: groff -man -ww -z${dev:+ $dev} prints nothing" \
                "exit $rc: $(printf '%s' "$out" | head -c 1500 | sed '2,$s/^/    /')"
        fi
    done

    if command -v man >/dev/null; then
        out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >"$T/man.out")
        rc=$?
        if [ "$rc" = 0 ] && [ -z "$out" ] && [ -s "$T/man.out" ]; then
            ok "$name: man -l renders it without warnings"
        else
            not_ok "$name: man -l renders it without warnings" \
                "exit $rc: $(printf '%s' "$out" | head -c 1500 | sed '2,$s/^/    /')"
        fi
    else
        ok "$name: man -l renders it without warnings # SKIP man not installed"
    fi

    for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" "SEE ALSO"; do
        if grep -qE "^\.SH[ \t]+\"?$s\"?[ \t]*\$" "$page"; then
            ok "$name has section $s"
        else not_ok "$name has section $s"; fi
    done
}

# check_options PAGETEXT NAME HELPFILE: (b).
check_options() {
    local text=$1 name=$2 help=$3 opt n=0
    for opt in $(long_options "$help") $(short_options "$help"); do
        n=$((n + 1))
        if word_in "$text" "$opt"; then ok "$name documents $opt"
        else not_ok "$name documents $opt" "$opt is in --help but not in $name"; fi
    done
    if [ "$n" -gt 0 ]; then ok "--help names options for $name"
    else not_ok "--help names options for $name" "no options found in: $(head -c 600 "$help")"; fi
}

# help_options HELPFILE: the options a command's --help lists as its own,
# from the synopsis lines of its groups ("  -u, --unit line|block  ...",
# "      --recall R  ..."), not from the prose.
help_options() {
    grep -E -- '^  (-[A-Za-z0-9], --|    --)[A-Za-z0-9]' "$1" |
        sed -E 's/^ +//; s/  .*//' |
        grep -oE -- '(^|[ ,])--?[A-Za-z0-9][A-Za-z0-9-]*' | sed -E 's/^[ ,]*//' | sort -u
}

# page_options_of PAGETEXT CMD: the options of the OPTIONS subsections whose
# title names CMD in its parenthesised list of commands.
page_options_of() {
    section "$1" OPTIONS | awk -v cmd="$2" '
        /^\.SS/ {
            on = 0
            if (match($0, /\(.*\)/)) {
                n = split(substr($0, RSTART + 1, RLENGTH - 2), c, /, */)
                for (i = 1; i <= n; i++) if (c[i] == cmd) on = 1
            }
            next
        }
        /^\.T[PQ]([ \t]|$)/ { tag = 1; next }
        tag { tag = 0; if (on) print }' |
        grep -oE -- '(^|[^A-Za-z0-9-])--?[A-Za-z0-9][A-Za-z0-9-]*' |
        sed -E 's/^[^-]//' | sort -u
}

# check_command_options PAGETEXT CMD...: (b) for one command of dedup.
check_command_options() {
    local text=$1 opt
    shift
    local cmd="$*" f=$T/help.${*// /_}
    get_help "dedup $cmd --help" "$f" "$DEDUP" "$@" --help || return
    "$DEDUP" help "$@" >"$f.help" 2>&1
    if cmp -s "$f" "$f.help"; then ok "dedup help $cmd prints dedup $cmd --help"
    else not_ok "dedup help $cmd prints dedup $cmd --help" "$(diff "$f" "$f.help" | head -20)"; fi
    help_options "$f" >"$f.opts"
    page_options_of "$text" "$cmd" >"$f.page"
    if [ -s "$f.opts" ]; then ok "dedup $cmd --help lists options"
    else not_ok "dedup $cmd --help lists options" "none in: $(head -c 600 "$f")"; fi
    for opt in $(comm -23 "$f.opts" "$f.page"); do
        not_ok "dedup.1 documents $opt for $cmd" \
            "$cmd --help lists $opt; no OPTIONS subsection naming $cmd has it"
    done
    for opt in $(comm -13 "$f.opts" "$f.page"); do
        not_ok "dedup $cmd --help lists $opt" \
            "dedup.1 gives $opt to $cmd; $cmd --help does not list it"
    done
    for opt in $(comm -12 "$f.opts" "$f.page"); do
        ok "dedup.1 and dedup $cmd --help agree on $opt"
    done
    cat "$f.opts" >>"$T/all.opts"
}

# check_refused CMD...: (b) every option of another command that CMD does
# not take is refused: exit 2 and "OPT is not an option of CMD".
check_refused() {
    local cmd="$*" f=$T/help.${*// /_} opt n=0 bad=""
    for opt in $(sort -u "$T/all.opts" | comm -23 - "$f.opts"); do
        n=$((n + 1))
        "$DEDUP" "$@" "$opt" x >/dev/null 2>"$T/refused.err"
        local st=$?
        if [ "$st" != 2 ] || ! grep -q -- "is not an option of $cmd" "$T/refused.err"; then
            bad="$bad $opt (exit $st: $(head -c 200 "$T/refused.err"))"
        fi
    done
    if [ -z "$bad" ]; then ok "dedup $cmd refuses the $n options of other commands"
    else not_ok "dedup $cmd refuses the $n options of other commands" "accepted:$bad"; fi
}

# run_examples PAGE: (e).
run_examples() {
    local page=$1 ex=$T/examples work=$T/examples/work shim=$T/examples/bin b
    mkdir -p "$work/corpus" "$work/one" "$work/two" "$shim"
    cp "$FIXTURES"/seeds/*.txt "$work/corpus/"
    cp "$FIXTURES"/variants/*.txt "$work/corpus/"
    cp "$FIXTURES/seeds/002_0b6d1692144c6f75.txt" "$work/notes.txt"
    cp "$FIXTURES/seeds/000_bd77016b1ff7f277.txt" "$work/one/x.txt"
    cp "$FIXTURES/variants/000_syndicated.txt" "$work/two/y.txt"
    # dedup, as the examples call it, logs each run's exit status.
    printf '#!/bin/sh\n"%s" "$@"\nst=$?\necho "$st dedup $*" >>"%s"\nexit $st\n' \
        "$DEDUP" "$ex/runs" >"$shim/dedup"
    chmod +x "$shim/dedup"
    # Each .nf/.fi block of EXAMPLES, unescaped, in ex/N.
    awk -v dir="$ex" '
        /^\.SH/ { on = ($0 ~ /^\.SH[ \t]+"?EXAMPLES/); next }
        on && /^\.nf/ { n++; b = 1; next }
        on && /^\.fi/ { b = 0; next }
        on && b { print > (dir "/" n) }' "$page"
    local nblocks
    nblocks=$(find "$ex" -maxdepth 1 -name '[0-9]*' | wc -l)
    if [ "$nblocks" -gt 0 ]; then ok "dedup.1 EXAMPLES has $nblocks examples"
    else not_ok "dedup.1 EXAMPLES has examples"; fi
    for b in $(seq 1 "$nblocks"); do
        sed -i -e 's/\\-/-/g' -e "s/\\\\(aq/'/g" "$ex/$b"
        local first name tool missing=""
        first=$(head -1 "$ex/$b")
        name="dedup.1 example $b ($first)"
        for tool in pdftotext jq; do
            grep -qw "$tool" "$ex/$b" && ! command -v "$tool" >/dev/null && missing=$tool
        done
        if [ -n "$missing" ]; then
            ok "$name # SKIP $missing is not installed"
            continue
        fi
        : >"$ex/runs"
        if [ "${first#\$ }" != "$first" ]; then
            # A transcript: each "$ command" and the lines after it, its output.
            awk -v dir="$ex" -v b="$b" '
                /^\$ / { n++; print substr($0, 3) > (dir "/" b ".cmd" n); next }
                { print > (dir "/" b ".out" n) }' "$ex/$b"
            local k=1 bad=""
            while [ -f "$ex/$b.cmd$k" ]; do
                touch "$ex/$b.out$k"
                (cd "$work" && PATH=$shim:$PATH bash "$ex/$b.cmd$k") >"$ex/$b.got$k" 2>"$ex/err"
                cmp -s "$ex/$b.out$k" "$ex/$b.got$k" ||
                    bad="$bad$(diff -u "$ex/$b.out$k" "$ex/$b.got$k" | head -20)"
                k=$((k + 1))
            done
            if [ -z "$bad" ]; then ok "$name prints what the page shows"
            else not_ok "$name prints what the page shows" "$bad"; fi
        else
            (cd "$work" && PATH=$shim:$PATH bash "$ex/$b") >"$ex/out" 2>"$ex/err"
        fi
        if [ ! -s "$ex/runs" ] && grep -qw dedup "$ex/$b"; then
            not_ok "$name runs dedup" "no dedup ran; stderr: $(head -c 400 "$ex/err")"
        elif awk '$1 > 1 { bad = 1 } END { exit !bad }' "$ex/runs"; then
            not_ok "$name: every dedup exits 0 or 1" \
                "$(cat "$ex/runs"); stderr: $(head -c 600 "$ex/err")"
        else
            ok "$name: every dedup exits 0 or 1"
        fi
    done
}

# check_commands PAGETEXT NAME HELPFILE: (c).
check_commands() {
    local text=$1 name=$2 help=$3 cmd n=0
    section "$text" COMMANDS >"$T/commands"
    if [ -s "$T/commands" ]; then ok "$name has a COMMANDS section"
    else not_ok "$name has a COMMANDS section"; fi
    entries <"$T/commands" >"$T/command.entries"
    for cmd in $(awk '/^Commands:/ { on = 1; next }
                      on && /^[^ \t]/ { on = 0 }
                      on && /^  [^ \t]/ { print $1 }' "$help"); do
        n=$((n + 1))
        if word_in "$T/command.entries" "$cmd"; then
            ok "$name COMMANDS documents $cmd"
        else
            not_ok "$name COMMANDS documents $cmd" \
                "no .TP/.IP/.SS entry for $cmd in COMMANDS; entries: $(tr '\n' ' ' <"$T/command.entries")"
        fi
    done
    if [ "$n" -gt 0 ]; then ok "--help lists commands for $name"
    else not_ok "--help lists commands for $name" "no Commands: list in: $(head -c 600 "$help")"; fi
}

# check_statuses PAGETEXT NAME HELPFILE: (d).
check_statuses() {
    local text=$1 name=$2 help=$3 st
    section "$text" "EXIT STATUS" | entries | grep -E '^[0-9]+$' | sort -un >"$T/st.page"
    exit_statuses "$help" >"$T/st.help"
    # statuses the page mentions outside its EXIT STATUS section
    awk '/^\.SH([ \t]|$)/ { skip = ($0 ~ /EXIT STATUS/) } !skip' "$text" |
        grep -oiE '(exit|exits|status)( with| of)?( status)? [0-9]+' |
        grep -oE '[0-9]+$' | sort -un >"$T/st.text"

    if [ -s "$T/st.page" ]; then ok "$name EXIT STATUS has entries"
    else not_ok "$name EXIT STATUS has entries" "no .TP entries with a number"; fi
    if [ -s "$T/st.help" ]; then ok "--help mentions exit statuses for $name"
    else not_ok "--help mentions exit statuses for $name" "no 'Exit status' paragraph"; fi

    for st in $(sort -un "$T/st.help" "$T/st.text"); do
        if grep -qx "$st" "$T/st.page"; then ok "$name EXIT STATUS lists $st"
        else not_ok "$name EXIT STATUS lists $st" \
            "status $st is mentioned but has no entry in EXIT STATUS"; fi
    done
    if [ -s "$T/st.help" ]; then
        for st in $(cat "$T/st.page"); do
            if grep -qx "$st" "$T/st.help"; then ok "$name status $st is in --help"
            else not_ok "$name status $st is in --help" \
                "EXIT STATUS lists $st, --help does not mention it"; fi
        done
    fi
}

# ---- dedup ----------------------------------------------------------------
page="$MANDIR/dedup.1"
if [ -f "$page" ]; then
    ok "dedup.1 exists"
    check_format "$page"
    page_text "$page" >"$T/dedup.txt"
    get_help "dedup --help" "$T/dedup.main.help" "$DEDUP" --help
    : >"$T/all.opts"
    commands=(scan clean check filter "index build" "index add" "index info" "index remove")
    for cmd in "${commands[@]}"; do
        # shellcheck disable=SC2086
        check_command_options "$T/dedup.txt" $cmd
    done
    for cmd in "${commands[@]}"; do
        # shellcheck disable=SC2086
        check_refused $cmd
    done
    cat "$T/dedup.main.help" "$T"/help.* >"$T/dedup.help"
    check_commands "$T/dedup.txt" dedup.1 "$T/dedup.main.help"
    check_statuses "$T/dedup.txt" dedup.1 "$T/dedup.help"
    run_examples "$page"
else
    not_ok "dedup.1 exists" "no file $page"
fi

# ---- shingle --------------------------------------------------------------
page="$MANDIR/shingle.1"
if [ -f "$page" ]; then
    ok "shingle.1 exists"
    check_format "$page"
    page_text "$page" >"$T/shingle.txt"
    get_help "shingle --help" "$T/shingle.help" "$SHINGLE" --help
    check_options "$T/shingle.txt" shingle.1 "$T/shingle.help"
    check_statuses "$T/shingle.txt" shingle.1 "$T/shingle.help"
else
    not_ok "shingle.1 exists" "no file $page"
fi

finish
