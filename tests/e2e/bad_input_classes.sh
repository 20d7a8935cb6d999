#!/usr/bin/env bash
# Bad input, class by class (issue 6): each gives the correct result, or a
# "dedup: ..." line and exit status 2; never a crash or a hang. Where memory
# matters, peak memory is measured (GNU time) against the bound that the
# manual states (Memory): 8 to 11 times the longest document for scan, 13 to
# 18 for filter, which --max-record (default 256 MB) caps.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
S=$FIXTURES/seeds
LINE="a line long enough to count, repeated on purpose here"

# run NAME WANT_STATUS CMD...: like expect_status, but also fails on death
# by a signal (status > 128) and on a hang (60 s).
run() {
    local name=$1 want=$2
    shift 2
    timeout 60 "$@" >"$T/out" 2>"$T/err"
    local st=$?
    if [ "$st" = "$want" ]; then ok "$name"; else
        not_ok "$name" "exit $st, want $want; stderr: $(head -c 600 "$T/err")"
    fi
}

# peak_kb CMD...: runs CMD (output to out/err) and prints its peak RSS in KB.
peak_kb() {
    /usr/bin/time -f '%M' -o "$T/rss" "$@" >"$T/out" 2>"$T/err"
    echo $? >"$T/status"
    tail -1 "$T/rss"
}

# --- invalid UTF-8, NUL bytes, byte-order marks, line ends ---------------------------
printf 'fine first line\nbyte \xfe here\n' >fe.txt
run "byte 0xFE is invalid UTF-8: exit 2" 2 "$DEDUP" scan -f text fe.txt
expect_grep "... naming file, line and byte" "fe.txt:2: invalid UTF-8 at byte 21" "$T/err"

mkdir bin
cp "$S/002_0b6d1692144c6f75.txt" bin/article.txt
head -c 4000 "$(command -v ls)" >bin/program
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR' >bin/image.png
run "a binary file in a text folder is skipped: the scan still reports (exit 1)" 1 \
    "$DEDUP" scan -f text bin
expect_grep "... with a warning naming it and the rule" \
    "dedup: warning: bin/image.png: a binary file (a NUL byte in its first 8000 bytes), skipped" "$T/err"
expect_grep "... (the other binary file too)" "bin/program: a binary file" "$T/err"
expect_grep "... and the text file's repeat is found" "bin/article.txt:9: lines 9-11 repeat lines 6-8" "$T/out"
"$DEDUP" clean bin -o bin.clean 2>/dev/null
if cmp -s bin/image.png bin.clean/image.png; then ok "clean copies a skipped binary file unchanged"; else
    not_ok "clean copies a skipped binary file unchanged"; fi
{ head -c 9000 /dev/zero | tr '\0' 'x'; printf '\nthen a NUL \0 byte\n'; } >late-nul.txt
run "a NUL byte after the first 8000 bytes is an error (not text), exit 2" 2 "$DEDUP" scan late-nul.txt
expect_grep "... naming line and byte" "late-nul.txt:2: NUL byte at byte 9012 (not a text file)" "$T/err"

printf '%s\n\xef\xbb\xbf%s\n' "$LINE" "$LINE" >bom-middle.txt
run "a byte-order mark in the middle of a file is ignored in comparisons" 1 "$DEDUP" scan -f text bom-middle.txt
expect_grep "... so the line it starts repeats the first" "bom-middle.txt:2: line 2 repeats line 1" "$T/out"

printf '%s\r%s\r%s\r' "$LINE" "other words entirely" "$LINE" >cr-only.txt
run "CR-only line ends: one line (a CR alone does not end a line), nothing repeated" 0 \
    "$DEDUP" scan -f text cr-only.txt
[ ! -s "$T/out" ] && ok "... and nothing reported" || not_ok "... and nothing reported" "$(cat "$T/out")"
printf '%s\r\n%s\r\n' "$LINE" "$LINE" >crlf.txt
run "CRLF line ends are line ends" 1 "$DEDUP" scan -f text crlf.txt
expect_grep "... and the repeat is found" "crlf.txt:2: line 2 repeats line 1" "$T/out"

# --- size ------------------------------------------------------------------------------
# A 1 GiB file with no newline (sparse: it takes no disk space). Refused by
# its size before a byte is read; with a higher --max-record it is read,
# and here it is binary (zeros), so skipped.
truncate -s 1G huge.txt
run "a 1 GiB file with no newline is refused by its size (exit 2)" 2 "$DEDUP" scan huge.txt
expect_grep "... naming it and the option" "huge.txt: longer than 256 MB (--max-record); not read" "$T/err"
kb=$(peak_kb "$DEDUP" scan huge.txt)
if [ "$kb" -lt 200000 ]; then ok "... without reading it (peak RSS $kb KB)"; else
    not_ok "... without reading it" "peak RSS $kb KB"; fi
if [ "${DEDUP_BUILD:-normal}" = normal ]; then
    kb=$(peak_kb "$DEDUP" scan --max-record 2048 huge.txt)
    if [ "$(cat "$T/status")" = 0 ] && grep -q "huge.txt: a binary file" "$T/err" && [ "$kb" -lt 1300000 ]; then
        ok "with --max-record 2048 it is read (peak RSS $kb KB for 1 GiB) and skipped as binary"
    else
        not_ok "with --max-record 2048 it is read and skipped as binary" \
            "exit $(cat "$T/status"), peak $kb KB: $(head -c 300 "$T/err")"
    fi
else
    ok "with --max-record 2048 it is read and skipped as binary # skip in the sanitizer build (1 GiB)"
fi
# A stream longer than --max-record: stopped once the limit is passed.
run "a stream longer than --max-record stops with exit 2" 2 \
    sh -c "head -c 3000000 /dev/zero | tr '\\0' 'a' | '$DEDUP' scan --max-record 1 -"
expect_grep "... naming standard input" "dedup: -: longer than 1 MB (--max-record); not read" "$T/err"

# --- files that vanish, shrink or are not files -----------------------------------
mkdir special && cp "$S/001_0546f77b3de22a26.txt" special/article.txt
mkfifo special/fifo
ln -s /dev/zero special/zero
ln -s . special/self
ln -s loop-b special/loop-a && ln -s loop-a special/loop-b
run "a folder with a FIFO, a device, a link to itself and a symlink loop: no hang (exit 2)" 2 \
    "$DEDUP" scan -f text special
expect_grep "the FIFO is skipped, named" "dedup: warning: special/fifo: not a regular file, skipped" "$T/err"
expect_grep "the device is skipped, named" "dedup: warning: special/zero: not a regular file, skipped" "$T/err"
expect_grep "the link to a directory is not followed" \
    "dedup: warning: special/self: symbolic link to a directory, not followed" "$T/err"
expect_grep "the symlink loop is an error naming it" \
    "dedup: special/loop-a: Too many levels of symbolic links" "$T/err"
expect_grep "... and the article is still analysed" "special/article.txt:13: line 13 repeats line 12" "$T/out"

mkdir locked && cp "$S/002_0b6d1692144c6f75.txt" locked/a.txt && cp "$S/003_9004b0353d6ebc11.txt" locked/b.txt
chmod 000 locked/b.txt
chmod 755 "$T" locked
as_user=()
[ "$(id -u)" = 0 ] && as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
run "an unreadable file: exit 2" 2 "${as_user[@]}" "$DEDUP" scan -f text locked
expect_grep "... naming it" "dedup: locked/b.txt: Permission denied" "$T/err"
expect_grep "... and the readable one is analysed" "locked/a.txt:9: lines 9-11 repeat lines 6-8" "$T/out"

# Files removed and truncated while a scan runs: each is an error naming it
# or is read as it was; the run ends normally (0, 1 or 2), never by a signal.
mkdir churn
for i in $(seq 1 400); do cp "$S/00$((i % 5))_"*.txt "churn/$i.txt"; done
( sleep 0.05; for i in $(seq 1 400 | shuf); do
    if [ $((i % 2)) = 0 ]; then rm -f "churn/$i.txt"; else : >"churn/$i.txt"; fi
done ) &
churner=$!
timeout 60 "$DEDUP" scan -q -f jsonl churn >"$T/out" 2>"$T/err"
st=$?
wait $churner
if [ "$st" -le 2 ] && ! grep -qv '^dedup: ' "$T/err"; then
    ok "files removed and emptied during a scan: exit $st, every message a dedup: line"
else
    not_ok "files removed and emptied during a scan" "exit $st: $(grep -v '^dedup: ' "$T/err" | head -3)"
fi

# --- names --------------------------------------------------------------------------
mkdir names
printf '%s\n%s\n' "$LINE" "$LINE" >"names/new
line.txt"
printf '%s\n%s\n' "other text of the second file, long enough" "other text of the second file, long enough" \
    >"$(printf 'names/bad\xff.txt')"
run "paths with a newline and a non-UTF-8 byte" 1 "$DEDUP" scan -f text names
expect_grep "... are reported escaped: the newline as \\x0A" 'names/new\x0Aline.txt:2: line 2 repeats line 1' "$T/out"
expect_grep "... and the byte as \\xFF" 'names/bad\xFF.txt:2: line 2 repeats line 1' "$T/out"
if [ "$(wc -l <"$T/out")" = 2 ]; then ok "... one report line each"; else
    not_ok "... one report line each" "$(cat -A "$T/out")"; fi
"$DEDUP" scan -f jsonl names >"$T/j" 2>/dev/null
if python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$T/j" 2>/dev/null &&
    grep -qF '"doc":"names/bad\\xFF.txt"' "$T/j" && grep -qF '"doc":"names/new\nline.txt"' "$T/j"; then
    ok "... and the JSON report stays valid JSON (\\n, and \\xFF as text)"
else
    not_ok "... and the JSON report stays valid JSON" "$(cat "$T/j")"
fi

# Index reports in JSON: a path that is not UTF-8 is escaped there too (it
# once made scan --index -f jsonl exit 2 with no message).
mkdir idx && cp "$S/000_bd77016b1ff7f277.txt" "$(printf 'idx/copy\xff.txt')"
"$DEDUP" index build "$S" -o seeds.ddx >/dev/null 2>&1
run "scan --index -f jsonl with a non-UTF-8 path finds the copy (exit 1)" 1 \
    "$DEDUP" scan -f jsonl --index seeds.ddx idx
if python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$T/out" 2>/dev/null &&
    grep -qF '"type":"index","kind":"duplicate","doc":"idx/copy\\xFF.txt"' "$T/out"; then
    ok "... as valid JSON with the path escaped"
else
    not_ok "... as valid JSON with the path escaped" "$(cat "$T/out")"
fi

# --- JSON ---------------------------------------------------------------------------
python3 -c 'print("{\"text\":\"a b c d e\",\"x\":" + "[" * 10000 + "]" * 10000 + "}")' >deep.jsonl
run "JSON nested 10,000 deep: a malformed record, exit 2" 2 "$DEDUP" filter deep.jsonl
expect_grep "... naming file, line and jansson's reason" "dedup: deep.jsonl:1: not JSON: maximum parsing depth reached" "$T/err"
run "... or, with --on-error skip, written through unchanged" 0 "$DEDUP" filter --on-error skip deep.jsonl
if cmp -s deep.jsonl "$T/out"; then ok "... byte for byte"; else not_ok "... byte for byte"; fi

python3 -c 'print("{\"text\":\"one two three four five\",\"n\":" + "7" * 1000 + "}")' >digits.jsonl
run "a number of 1,000 digits: beyond a double, jansson refuses it (exit 2)" 2 "$DEDUP" filter digits.jsonl
expect_grep "... naming the record" "dedup: digits.jsonl:1: not JSON:" "$T/err"
run "... or, with --on-error skip, the record goes through unchanged" 0 "$DEDUP" filter --on-error skip digits.jsonl
if cmp -s digits.jsonl "$T/out"; then ok "... byte for byte"; else not_ok "... byte for byte"; fi

# A 100 MB JSON string (20 million words): filtered, in bounded memory.
python3 -c '
import sys
sys.stdout.write("{\"id\":1,\"text\":\"" + "كلمة " * 10000000 + "\"}\n")
sys.stdout.write("{\"id\":2,\"text\":\"short\"}\n")' >big.jsonl
run "a record over --max-record stops with exit 2" 2 "$DEDUP" filter --max-record 50 big.jsonl
expect_grep "... naming it" "dedup: big.jsonl: record 1 is longer than 50 MB (--max-record)" "$T/err"
if [ "${DEDUP_BUILD:-normal}" = normal ]; then
    kb=$(peak_kb "$DEDUP" filter big.jsonl)
    size_kb=$(($(stat -c %s big.jsonl) / 1024))
    if [ "$(cat "$T/status")" = 0 ] && [ "$(wc -l <"$T/out")" = 2 ] && [ "$kb" -lt $((size_kb * 8)) ]; then
        ok "a 100 MB JSON string is filtered (peak RSS $kb KB for $size_kb KB: within 8 times)"
    else
        not_ok "a 100 MB JSON string is filtered within 8 times its size" \
            "exit $(cat "$T/status"), $(wc -l <"$T/out") lines, peak $kb KB for $size_kb KB"
    fi
else
    ok "a 100 MB JSON string is filtered in bounded memory # skip in the sanitizer build"
fi

# One long document of ordinary lines (12 MB, 8 to 30 words a line, words of
# the seeds in a seeded random order): the man page (Memory) says what its
# analysis costs, 8.4 times its size for scan and 13.2 for filter on real
# news; here within 9 and 14 times (it was 9.7 and 14.5, with the paragraph
# shingle table sized to powers of two; filter's 13 became 14 when it came to
# look for the record's paragraphs among earlier ones as scan does, with
# their band keys and the index of paragraphs).
if [ "${DEDUP_BUILD:-normal}" = normal ]; then
    python3 -c '
import glob, random, sys, json
words = []
for p in sorted(glob.glob(sys.argv[1] + "/*.txt")):
    words += open(p, encoding="utf-8").read().split()
r = random.Random(7)
lines, size = [], 0
while size < 12000000:
    line = " ".join(r.choice(words) for _ in range(r.randint(8, 30)))
    lines.append(line)
    size += len(line.encode()) + 1
text = "\n".join(lines) + "\n"
open("long.txt", "w", encoding="utf-8").write(text)
open("long.jsonl", "w", encoding="utf-8").write(json.dumps({"id": 1, "text": text}, ensure_ascii=False) + "\n")
' "$S"
    size_kb=$(($(stat -c %s long.txt) / 1024))
    kb=$(peak_kb "$DEDUP" scan -f jsonl long.txt)
    if [ "$(cat "$T/status")" -le 1 ] && [ "$kb" -lt $((size_kb * 9)) ]; then
        ok "scan of a 12 MB document peaks within 9 times its size ($kb KB for $size_kb KB)"
    else
        not_ok "scan of a 12 MB document peaks within 9 times its size" \
            "exit $(cat "$T/status"), peak $kb KB for $size_kb KB"
    fi
    kb=$(peak_kb "$DEDUP" filter long.jsonl)
    if [ "$(cat "$T/status")" = 0 ] && [ "$kb" -lt $((size_kb * 14)) ]; then
        ok "filter of a 12 MB record peaks within 14 times its size ($kb KB for $size_kb KB)"
    else
        not_ok "filter of a 12 MB record peaks within 14 times its size" \
            "exit $(cat "$T/status"), peak $kb KB for $size_kb KB"
    fi
else
    ok "a 12 MB document is analysed within the stated memory # skip in the sanitizer build"
fi
finish
