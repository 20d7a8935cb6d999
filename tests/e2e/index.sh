#!/usr/bin/env bash
# dedup index: build, add, remove, info round trip; settings that do not
# match; damaged index files (writes refused, reads never crash); a full
# disk; output that cannot be written; and SIGKILL during add, 50 times.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 2
cp -r "$FIXTURES/seeds" seeds
cp -r "$FIXTURES/variants" variants
rm -f variants/README.md

expect_status "build an index of the seeds" 0 "$DEDUP" index build seeds -o seeds.ddx
"$DEDUP" index info seeds.ddx >info 2>&1
expect_grep "info: documents" "documents: 5" info
expect_grep "info: settings" "bands x rows: 64 x 2" info
expect_grep "info: normaliser profile" "normaliser: sh-norm/1 nfkc_cf+marks+format+arabic+digits+punct+space icu/" info
expect_grep "info: signature scheme" "signatures: minhash/oph1" info
expect_status "add the variants" 0 "$DEDUP" index add seeds.ddx variants
"$DEDUP" index info seeds.ddx >info 2>&1
expect_grep "now nine documents" "documents: 9" info
"$DEDUP" index add seeds.ddx seeds variants 2>add.err
expect_grep "unchanged files are not signed again" "0 documents signed, 9 unchanged" add.err
expect_status "remove one" 0 "$DEDUP" index remove seeds.ddx variants/004_truncated.txt
"$DEDUP" index info seeds.ddx >info 2>&1
expect_grep "eight left" "documents: 8" info
expect_status "removing an id that is not there is an error" 2 "$DEDUP" index remove seeds.ddx nothere.txt
expect_grep "and names it" "nothere.txt: not in the index seeds.ddx" "$T/err"

# Other settings: a clear error naming the option.
expect_status "add with another --ngram fails" 2 "$DEDUP" index add --ngram 4 seeds.ddx seeds
expect_grep "naming the mismatch" "seeds.ddx: built with --ngram 5, not 4" "$T/err"
expect_status "add with another --num-perm fails" 2 "$DEDUP" index add --num-perm 64 seeds.ddx seeds
expect_grep "naming it" "seeds.ddx: built with --num-perm 128, not 64" "$T/err"
expect_status "build over an existing index fails" 2 "$DEDUP" index build seeds -o seeds.ddx

# An index made before the MinHash scheme was recorded (its profile ends at
# the Unicode version; classic MinHash): refused, saying to build it again.
"$DEDUP" index build seeds -o old.ddx 2>/dev/null
python3 - old.ddx/data.mdb <<'PY'
import sys
p = sys.argv[1]
b = open(p, "rb").read()
tag = b" minhash/oph1"
assert b.count(tag) >= 1  # LMDB may keep older copies of the page: all go
open(p, "wb").write(b.replace(tag, b"\0" * len(tag)))
PY
expect_status "add to an index of classic MinHash signatures fails" 2 "$DEDUP" index add old.ddx seeds
expect_grep "saying what to do" \
    "old.ddx: signatures made with minhash/k1, this build makes minhash/oph1: build the index again with dedup index build" "$T/err"
expect_status "so does check --index" 2 "$DEDUP" check --index old.ddx seeds/*
expect_grep "with the same message" "build the index again with dedup index build" "$T/err"
"$DEDUP" index info old.ddx >info 2>&1
expect_grep "info names the old scheme" "signatures: minhash/k1" info

# An index is input like any other (it may come from anyone): the strings of
# its settings that index info and the messages show are escaped as every
# other text output is. hostile.ddx's normaliser profile holds escape
# sequences that set a terminal's title and clear its screen; forged.ddx's
# key fingerprint a C1 control (U+009B, a terminal's CSI) and a newline that
# would forge a line of the output. Each settings record is patched in
# place, every copy LMDB keeps of it.
patch_settings() { # INDEX FIELD BYTES (python literal): FIELD is profile or fingerprint
    python3 - "$1/data.mdb" "$2" "$3" <<'PY'
import ast, sys
path, field, value = sys.argv[1], sys.argv[2], ast.literal_eval(sys.argv[3])
b = bytearray(open(path, "rb").read())
start, found = 0, 0
while (i := b.find(b"sh-norm/", start)) >= 0:  # the profile, after the format (4 bytes)
    # profile (192 bytes), unit, ngram, num-perm, bands, rows (4 each), seed (8)
    at = i + 10 if field == "profile" else i + 192 + 28
    b[at:at + len(value)] = value
    start, found = i + 1, found + 1
assert found >= 1
open(path, "wb").write(bytes(b))
PY
}
"$DEDUP" index build seeds -o hostile.ddx 2>/dev/null
patch_settings hostile.ddx profile 'b"\x1b]0;owned\x07\x1b[2J"'
"$DEDUP" index build seeds -o forged.ddx 2>/dev/null
patch_settings forged.ddx fingerprint 'b"\xc2\x9b2J\nforged: line\x00"'
raw_controls() { LC_ALL=C grep -c "$(printf '[\033\007]\|\302\233')" "$1"; }
expect_status "index info of a profile holding escape sequences: exit 0" 0 "$DEDUP" index info hostile.ddx
expect_grep "... the profile is shown escaped" 'normaliser: sh-norm/1 \x1B]0;owned\x07\x1B[2J' "$T/out"
[ "$(raw_controls "$T/out")" = 0 ] && ok "... no control byte reaches the terminal" \
    || not_ok "... no control byte reaches the terminal" "$(od -c "$T/out" | head -20)"
expect_status "index add to it: refused (exit 2)" 2 "$DEDUP" index add hostile.ddx seeds
expect_grep "... naming the profile escaped" \
    "hostile.ddx: normaliser profile differs: index 'sh-norm/1 \x1B]0;owned\x07\x1B[2J" "$T/err"
[ "$(raw_controls "$T/err")" = 0 ] && ok "... no control byte in the message" \
    || not_ok "... no control byte in the message" "$(od -c "$T/err" | head -20)"
expect_status "index info of a fingerprint holding a C1 control and a newline: exit 0" 0 \
    "$DEDUP" index info forged.ddx
expect_grep "... the fingerprint is shown escaped, on its line" \
    'key fingerprint: \xC2\x9B2J\x0Aforged: line' "$T/out"
if grep -q '^forged' "$T/out" || [ "$(raw_controls "$T/out")" != 0 ]; then
    not_ok "... no forged line, no control byte" "$(od -c "$T/out" | head -20)"
else ok "... no forged line, no control byte"; fi
expect_status "check --index with it: refused (exit 2)" 2 "$DEDUP" check --index forged.ddx seeds/000_bd77016b1ff7f277.txt
expect_grep "... naming the fingerprint escaped" \
    'forged.ddx: built with key fingerprint \xC2\x9B2J\x0Aforged: line, but no --key-file was given' "$T/err"
if grep -q '^forged' "$T/err" || [ "$(raw_controls "$T/err")" != 0 ]; then
    not_ok "... no forged line, no control byte in the message" "$(od -c "$T/err" | head -20)"
else ok "... no forged line, no control byte in the message"; fi

# A build killed before it publishes its index leaves DIR.ddx.part-PID (it
# cannot remove it itself). The next build or add of DIR.ddx removes those
# whose process no longer runs, with one line each, and leaves alone one
# whose process runs (a build going on now). The build killed here waits on
# a FIFO named last, which nobody writes, once its folder is made.
rm -f build.fifo && mkfifo build.fifo
"$DEDUP" index build seeds build.fifo -o killed.ddx 2>/dev/null &
builder=$!
for _ in $(seq 300); do [ -f killed.ddx.part-$builder/data.mdb ] && break; sleep 0.1; done
kill -9 $builder 2>/dev/null
wait $builder 2>/dev/null
if [ -f killed.ddx.part-$builder/data.mdb ] && [ ! -e killed.ddx ]; then
    ok "a killed build leaves killed.ddx.part-PID, and no index"
else not_ok "a killed build leaves killed.ddx.part-PID, and no index" "$(ls -d killed.ddx*)"; fi
sleep 600 &
sleeper=$! # a process that runs: a build going on now, as far as its folder says
mkdir killed.ddx.part-$sleeper && cp seeds.ddx/data.mdb killed.ddx.part-$sleeper/
expect_status "the next build of killed.ddx: exit 0" 0 "$DEDUP" index build seeds -o killed.ddx
[ ! -e killed.ddx.part-$builder ] && ok "... removes what the killed build left" \
    || not_ok "... removes what the killed build left" "$(ls -d killed.ddx*)"
expect_grep "... saying so" \
    "dedup index build: killed.ddx.part-$builder: removed, left by an index build that was killed (process $builder no longer runs)" "$T/err"
[ "$(grep -c 'part-' "$T/err")" = 1 ] && ok "... in one line" || not_ok "... in one line" "$(cat "$T/err")"
[ -f killed.ddx.part-$sleeper/data.mdb ] && ok "... and leaves the folder of a process that runs" \
    || not_ok "... and leaves the folder of a process that runs" "$(ls -d killed.ddx*)"
kill $sleeper
wait $sleeper 2>/dev/null
# index add does the same; a folder that holds other files is only named.
dead=$(sh -c 'echo $$') # the PID of a process that has ended
mkdir killed.ddx.part-$dead && cp seeds.ddx/data.mdb killed.ddx.part-$dead/
dead2=$(sh -c 'echo $$')
mkdir killed.ddx.part-$dead2 && echo "someone's notes" >killed.ddx.part-$dead2/notes.txt
expect_status "index add of killed.ddx: exit 0" 0 "$DEDUP" index add killed.ddx variants
[ ! -e killed.ddx.part-$dead ] && ok "... removes what a killed build left" \
    || not_ok "... removes what a killed build left" "$(ls -d killed.ddx*)"
expect_grep "... saying so" \
    "dedup index add: killed.ddx.part-$dead: removed, left by an index build that was killed (process $dead no longer runs)" "$T/err"
[ -f killed.ddx.part-$dead2/notes.txt ] && ok "... leaves a folder that holds other files" \
    || not_ok "... leaves a folder that holds other files" "$(ls -d killed.ddx*)"
expect_grep "... naming it" \
    "dedup: warning: killed.ddx.part-$dead2: left by an index build that was killed (process $dead2 no longer runs), but not removed: it holds other files" "$T/err"
rm -rf killed.ddx.part-$sleeper killed.ddx.part-$dead2

# dedup check --index: the named files against the index.
"$DEDUP" index build seeds -o check.ddx 2>/dev/null
cp variants/000_syndicated.txt new.txt
"$DEDUP" check --index check.ddx new.txt >out 2>"$T/err"
st=$?
[ $st = 1 ] && ok "check --index: a syndicated copy of an indexed article is found (exit 1)" \
    || not_ok "check --index: a syndicated copy of an indexed article is found (exit 1)" "exit $st: $(cat out "$T/err")"
echo "dedup check: 1 file checked, against the index check.ddx: 1 finding" >"$T/want-err"
expect_same "... and its summary says so on stderr" "$T/want-err" "$T/err"
expect_grep "with exact similarities (the indexed file is there)" \
    "new.txt:1: near-duplicate of seeds/000_bd77016b1ff7f277.txt (jaccard 0.77, containment 0.89) (see seeds/000_bd77016b1ff7f277.txt:1)" out
[ "$(wc -l <out)" = 1 ] && ok "a copy's paragraphs are not listed one by one" || not_ok "a copy's paragraphs are not listed one by one" "$(cat out)"
printf 'A paragraph written for this test, found in no article at all.\n' >para.txt
sed -n 3p seeds/000_bd77016b1ff7f277.txt >>para.txt
"$DEDUP" check --index check.ddx para.txt >out 2>&1
expect_grep "a paragraph copied from an indexed article" \
    "para.txt:2: line 2 repeats seeds/000_bd77016b1ff7f277.txt:3 (12 words) (see seeds/000_bd77016b1ff7f277.txt:3)" out
"$DEDUP" check --index check.ddx seeds/001_0546f77b3de22a26.txt >out 2>&1
expect_grep "an indexed file is not a copy of its own entry" \
    "seeds/001_0546f77b3de22a26.txt:13: line 13 repeats seeds/001_0546f77b3de22a26.txt:12" out
grep -q "near-duplicate\|exact duplicate" out && not_ok "and is not a duplicate of itself" "$(cat out)" \
    || ok "and is not a duplicate of itself"
expect_status "check --index with another --ngram fails" 2 "$DEDUP" check --index check.ddx --ngram 4 new.txt
expect_grep "naming it" "check.ddx: built with --ngram 5, not 4" "$T/err"

# scan --index: what the scanned documents share with the index.
mkdir -p incoming
cp new.txt para.txt incoming/
"$DEDUP" scan -f text --index check.ddx incoming >out 2>&1
st=$?
[ $st = 1 ] && ok "scan --index exits 1 on matches" || not_ok "scan --index exits 1 on matches" "exit $st: $(cat out)"
expect_grep "scan --index: a copy of an indexed article" \
    "incoming/new.txt: near-duplicate of seeds/000_bd77016b1ff7f277.txt (in the index; jaccard 0.77, containment 0.89)" out
expect_grep "scan --index: a paragraph of an indexed article" \
    "incoming/para.txt:2: line 2 repeats seeds/000_bd77016b1ff7f277.txt:3 (in the index, 2 documents)" out
"$DEDUP" scan -f jsonl --index check.ddx incoming >out 2>&1
expect_grep "scan --index: JSON records of type index" \
    '{"type":"index","kind":"duplicate","doc":"incoming/new.txt","exact":false,"jaccard":0.7672,"containment":0.8864,"of":{"doc":"seeds/000_bd77016b1ff7f277.txt"}}' out
"$DEDUP" scan -f text --index check.ddx --ngram 4 incoming >out 2>"$T/err"
st=$?
[ $st = 2 ] && [ ! -s out ] && grep -q "check.ddx: built with --ngram 5, not 4" "$T/err" \
    && ok "scan --index with other settings: exit 2 before any report" \
    || not_ok "scan --index with other settings: exit 2 before any report" "exit $st: $(cat out "$T/err")"
expect_status "clean refuses --index" 2 "$DEDUP" clean --index check.ddx incoming -o cleaned

# Two checks read the index while an add writes to it.
mkdir -p bulk
awk -v dir=bulk 'BEGIN { for (i = 1; i <= 400; i++) { line = "bulk document " i ":"
    for (k = i; k < i + 80; k++) line = line " w" k; print line > (dir "/" i ".txt") } }'
"$DEDUP" index add check.ddx bulk 2>/dev/null &
adder=$!
"$DEDUP" check --index check.ddx new.txt >c1 2>&1 &
c1=$!
"$DEDUP" check --index check.ddx new.txt >c2 2>&1
s2=$?
wait $c1
s1=$?
wait $adder
sa=$?
[ $s1 = 1 ] && [ $s2 = 1 ] && [ $sa = 0 ] && grep -q "near-duplicate of seeds/000" c1 && grep -q "near-duplicate of seeds/000" c2 \
    && ok "two checks read the index while an add writes" \
    || not_ok "two checks read the index while an add writes" "check $s1 $s2, add $sa: $(cat c1 c2)"

# Damaged index files: errors, not crashes.
echo garbage >file.ddx
expect_status "a file instead of an index" 2 "$DEDUP" index info file.ddx
expect_grep "is not an index" "file.ddx: not a dedup index" "$T/err"
mkdir junk.ddx && head -c 20000 /dev/urandom >junk.ddx/data.mdb
expect_status "random bytes" 2 "$DEDUP" index info junk.ddx
expect_grep "are not an index" "junk.ddx: not a dedup index" "$T/err"
mkdir cut.ddx && head -c 9000 seeds.ddx/data.mdb >cut.ddx/data.mdb
expect_status "a truncated index" 2 "$DEDUP" index info cut.ddx
expect_grep "is reported truncated" "cut.ddx: not a dedup index (data.mdb is truncated)" "$T/err"
mkdir empty.ddx
expect_status "an empty folder" 2 "$DEDUP" index info empty.ddx

# A damaged page (the audit's case: page 7 of an index of the seeds filled
# with 0xFF) made index add and remove corrupt memory (SIGSEGV, double
# free). Writes are refused before LMDB touches the file, which stays as it
# was; reads fail or answer, never crash.
"$DEDUP" index build seeds -o page7.ddx 2>/dev/null
python3 - page7.ddx/data.mdb <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(7 * 4096)
    f.write(b"\xff" * 4096)
PY
cp page7.ddx/data.mdb page7.before
expect_status "a damaged index: index add is refused" 2 "$DEDUP" index add page7.ddx variants
expect_grep "... as damaged" "page7.ddx: the index is damaged (" "$T/err"
expect_status "a damaged index: index remove is refused" 2 \
    "$DEDUP" index remove page7.ddx seeds/000_bd77016b1ff7f277.txt
expect_grep "... as damaged" "page7.ddx: the index is damaged (" "$T/err"
cmp -s page7.ddx/data.mdb page7.before && ok "... and its data file is unchanged" \
    || not_ok "... and its data file is unchanged"
for cmd in "index info page7.ddx" "check --index page7.ddx new.txt" "scan --index page7.ddx incoming"; do
    # shellcheck disable=SC2086
    "$DEDUP" $cmd >/dev/null 2>"$T/err"
    st=$?
    [ $st -le 2 ] && ok "a damaged index: $cmd ends (exit $st)" \
        || not_ok "a damaged index: $cmd ends" "exit $st: $(head -c 600 "$T/err")"
done
# scan --index on a page whose read faults: exit 2, and (ASan build) nothing
# leaked on that error path
"$DEDUP" scan --index page7.ddx variants >/dev/null 2>"$T/err"
st=$?
[ $st = 2 ] && grep -q "page7.ddx: the index is damaged" "$T/err" \
    && ok "scan --index over a damaged index: exit 2, the index named" \
    || not_ok "scan --index over a damaged index: exit 2, the index named" "exit $st: $(head -c 600 "$T/err")"

# index info whose output cannot be written: an error, exit 2.
if [ -w /dev/full ]; then
    expect_status "index info > /dev/full: exit 2" 2 sh -c '"$0" index info seeds.ddx >/dev/full' "$DEDUP"
    expect_grep "... saying why" "dedup: writing standard output: No space left on device" "$T/err"
else
    echo "ok - index info > /dev/full # skip: no writable /dev/full"
fi

# index build on a full disk (a 200 KB tmpfs): the error names it, and no
# index is left that check --index would take for complete.
mkdir -p small
if mount -t tmpfs -o size=200k tmpfs small 2>/dev/null; then
    mkdir -p big
    awk 'BEGIN { for (i = 1; i <= 300; i++) { line = "full disk document " i ":"
        for (k = i; k < i + 120; k++) line = line " w" k; print line > ("big/" i ".txt") } }'
    expect_status "index build on a full disk fails" 2 "$DEDUP" index build big -o small/full.ddx
    expect_grep "... naming the full disk" "No space left on device" "$T/err"
    expect_grep "... saying no index was made" "small/full.ddx: no index made" "$T/err"
    [ -z "$(ls -A small)" ] && ok "... and leaving nothing behind" \
        || not_ok "... and leaving nothing behind" "$(ls -la small)"
    expect_status "check --index finds no index there" 2 "$DEDUP" check --index small/full.ddx new.txt
    umount small
else
    echo "ok - index build on a full disk # skip: cannot mount a tmpfs (not root, or no mount permission)"
fi

if ! skip_under_valgrind "SIGKILL during add, 50 times" "kills timed within a run"; then
# SIGKILL during add, 50 times: the index always opens, with the documents
# of before or of after the add, never something else. Each round adds 150
# new files, so before and after differ; the kill comes at a random moment
# within 1.6 times what an add takes, and the test wants both outcomes seen.
"$DEDUP" index build seeds -o kill.ddx 2>/dev/null
# How long one add takes here: the kills come at random moments within it.
mkdir -p many/trial
awk 'BEGIN { for (i = 1; i <= 150; i++) { line = "trial " i ":"
    for (k = i; k < i + 60; k++) line = line " " k; print line > ("many/trial/" i ".txt") } }'
"$DEDUP" index build seeds -o trial.ddx 2>/dev/null
t0=$(date +%s%N)
"$DEDUP" index add trial.ddx many/trial 2>/dev/null
add_ms=$((($(date +%s%N) - t0) * 16 / 10000000 + 1)) # 1.6 times it
bad=0 old=0 new=0
for round in $(seq 1 50); do
    mkdir -p "many/$round"
    awk -v r="$round" -v dir="many/$round" 'BEGIN {
        for (i = 1; i <= 150; i++) {
            line = "round " r " document " i ":"
            for (k = i; k < i + 60; k++) line = line " " k
            print line > (dir "/" i ".txt")
        }
    }'
    before=$("$DEDUP" index info kill.ddx 2>/dev/null | sed -n 's/^documents: //p')
    # (a sanitizer build killed at random may leave an empty log file: the
    # killed process logs to its stderr, discarded, instead)
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:log_path=stderr" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=stderr" \
        "$DEDUP" index add kill.ddx "many/$round" 2>/dev/null &
    pid=$!
    sleep "$(awk -v ms=$((RANDOM % add_ms)) 'BEGIN { printf "%.3f", ms / 1000 }')"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    after=$("$DEDUP" index info kill.ddx 2>"$T/kill.err" | sed -n 's/^documents: //p')
    if [ "$after" = "$before" ]; then
        old=$((old + 1))
    elif [ "$after" = $((before + 150)) ]; then
        new=$((new + 1))
    else
        bad=$((bad + 1))
        echo "round $round: before $before, after '$after': $(cat "$T/kill.err")" >>kill.log
    fi
done
[ $bad = 0 ] && [ $old -ge 3 ] && [ $new -ge 3 ] \
    && ok "SIGKILL during add, 50 times: the index opens with the documents of before ($old) or after ($new)" \
    || not_ok "SIGKILL during add, 50 times: the index opens with the documents of before or after" \
        "before $old, after $new, other $bad: $(cat kill.log 2>/dev/null)"
# every write checks the whole store first: after 50 kills it still passes
mkdir -p many/last && echo "one more document after the kills, long enough to index" >many/last/1.txt
expect_status "after the kills, the store passes the write's check" 0 "$DEDUP" index add kill.ddx many/last
fi
finish
