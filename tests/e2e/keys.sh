#!/usr/bin/env bash
# End-to-end tests of keyed hashing: dedup keygen, --key-file and
# DEDUP_KEY_FILE, indexes that record the key's fingerprint and refuse
# another key, and the build without libsodium. fixtures/keys/ holds two
# published (not secret) keys, so that fingerprints are known in advance.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

KEY=$FIXTURES/keys/test.key
OTHER=$FIXTURES/keys/other.key
KEY_FP=4edc6780154ee32270d391c53c1e6ce9
OTHER_FP=56067eff0abbbcab423abdafeef3148a
CORPUS=("$FIXTURES/seeds" "$FIXTURES/variants")
unset DEDUP_KEY_FILE

# --- keygen ---------------------------------------------------------------
(umask 022 && "$DEDUP" keygen "$T/new.key") >"$T/out" 2>"$T/err"
st=$?
mode=$(stat -c %a "$T/new.key" 2>/dev/null)
if [ "$st" = 0 ] && [ "$mode" = 600 ] && grep -qxE '[0-9a-f]{64}' "$T/new.key" &&
    [ "$(wc -c <"$T/new.key")" = 65 ] &&
    grep -qE "^$T/new.key: key fingerprint [0-9a-f]{32}\$" "$T/out"; then
    ok "keygen writes 64 hex digits with mode 0600 (umask 022) and prints the fingerprint"
else
    not_ok "keygen writes 64 hex digits with mode 0600 (umask 022) and prints the fingerprint" \
        "exit $st, mode $mode, out: $(cat "$T/out") err: $(cat "$T/err")"
fi
fp_new=$(sed -n 's/.*key fingerprint //p' "$T/out")

cp "$T/new.key" "$T/new.key.before"
expect_status "keygen refuses to overwrite an existing key" 2 "$DEDUP" keygen "$T/new.key"
expect_grep "... and says why" "new.key: already exists; not overwriting it" "$T/err"
expect_same "... and leaves the key as it was" "$T/new.key.before" "$T/new.key"

"$DEDUP" keygen "$T/second.key" >"$T/out2" 2>&1
if ! cmp -s "$T/new.key" "$T/second.key" && ! grep -q "$fp_new" "$T/out2"; then
    ok "two keygen runs give two different keys and fingerprints"
else
    not_ok "two keygen runs give two different keys and fingerprints" "$(cat "$T/out2")"
fi
expect_status "keygen without FILE is a usage error" 2 "$DEDUP" keygen

# --- scan with a key --------------------------------------------------------
# Exact verification decides on exact shingle sets, so the clusters are the
# same with or without a key: the key changes the hashes, not the results.
"$DEDUP" scan -f text "${CORPUS[@]}" >"$T/plain.txt" 2>"$T/err"
"$DEDUP" scan -f text --key-file "$KEY" "${CORPUS[@]}" >"$T/keyed.txt" 2>"$T/err"
st=$?
if [ "$st" = 1 ] && [ -s "$T/keyed.txt" ]; then
    expect_same "keyed scan finds the same copies, with the same exact scores" \
        "$T/plain.txt" "$T/keyed.txt"
else
    not_ok "keyed scan finds the same copies, with the same exact scores" \
        "exit $st: $(cat "$T/err")"
fi
expect_grep "... among them the syndicated copy of 000" \
    "000_syndicated.txt: near-duplicate of $FIXTURES/seeds/000_bd77016b1ff7f277.txt (jaccard 0.77, containment 0.89)" \
    "$T/keyed.txt"

# Estimates come from the MinHash permutations, which the key chooses: they
# differ between keys, and are the same for the same key every time.
"$DEDUP" scan -f jsonl --verify estimate "${CORPUS[@]}" >"$T/est-plain" 2>/dev/null
"$DEDUP" scan -f jsonl --verify estimate --key-file "$KEY" "${CORPUS[@]}" >"$T/est-k1" 2>/dev/null
"$DEDUP" scan -f jsonl --verify estimate --key-file "$KEY" "${CORPUS[@]}" >"$T/est-k1b" 2>/dev/null
DEDUP_KEY_FILE=$KEY "$DEDUP" scan -f jsonl --verify estimate "${CORPUS[@]}" >"$T/est-env" 2>/dev/null
"$DEDUP" scan -f jsonl --verify estimate --key-file "$OTHER" "${CORPUS[@]}" >"$T/est-k2" 2>/dev/null
# (the header records, which name the key, left out of the comparison)
for f in est-plain est-k1 est-k2; do grep -v '^{"type":"header",' "$T/$f" >"$T/$f.records"; done
if [ -s "$T/est-k1.records" ] && ! cmp -s "$T/est-plain.records" "$T/est-k1.records" &&
    ! cmp -s "$T/est-k1.records" "$T/est-k2.records"; then
    ok "signature estimates depend on the key (plain, key 1 and key 2 differ)"
else
    not_ok "signature estimates depend on the key (plain, key 1 and key 2 differ)" \
        "$(diff "$T/est-plain.records" "$T/est-k1.records" | head -5)"
fi
expect_same "the same key gives byte-identical output" "$T/est-k1" "$T/est-k1b"
expect_same "DEDUP_KEY_FILE works as --key-file" "$T/est-k1" "$T/est-env"

# --- bad key files ------------------------------------------------------------
printf 'not a key\n' >"$T/bad.key"
expect_status "a file that is not a key is refused" 2 \
    "$DEDUP" scan --key-file "$T/bad.key" "$FIXTURES/seeds"
expect_grep "... naming the file and the format" \
    "bad.key: not a dedup key (64 hexadecimal digits, as dedup keygen writes)" "$T/err"
head -c 62 "$KEY" >"$T/short.key"
expect_status "a key two digits short is refused" 2 \
    "$DEDUP" scan --key-file "$T/short.key" "$FIXTURES/seeds"
{ cat "$KEY"; echo extra; } >"$T/long.key"
expect_status "a key followed by more text is refused" 2 \
    "$DEDUP" scan --key-file "$T/long.key" "$FIXTURES/seeds"
expect_status "a missing key file is an error" 2 \
    "$DEDUP" scan --key-file "$T/missing.key" "$FIXTURES/seeds"
expect_grep "... naming it" "missing.key: No such file or directory" "$T/err"
expect_status "DEDUP_KEY_FILE naming a missing file is an error too" 2 \
    env DEDUP_KEY_FILE="$T/missing.key" "$DEDUP" scan "$FIXTURES/seeds"

# --- indexes record the fingerprint -------------------------------------------
"$DEDUP" index build --key-file "$KEY" -o "$T/k.ddx" "$FIXTURES/seeds" >/dev/null 2>&1
"$DEDUP" index info "$T/k.ddx" >"$T/info" 2>&1
expect_grep "index info shows the key's fingerprint" "key fingerprint: $KEY_FP" "$T/info"
if ! grep -qi "$(cut -c1-16 "$KEY")" "$T/info" && ! grep -qr "$(head -c 64 "$KEY")" "$T/k.ddx"; then
    ok "the key itself is not in index info nor in the index files"
else
    not_ok "the key itself is not in index info nor in the index files"
fi
SYN=$FIXTURES/variants/000_syndicated.txt
expect_status "check --index without the key is refused" 2 "$DEDUP" check --index "$T/k.ddx" "$SYN"
expect_grep "... saying the index was built with a key" \
    "k.ddx: built with key fingerprint $KEY_FP, but no --key-file was given" "$T/err"
expect_status "check --index with another key is refused" 2 \
    "$DEDUP" check --key-file "$OTHER" --index "$T/k.ddx" "$SYN"
expect_grep "... naming both fingerprints" \
    "k.ddx: built with key fingerprint $KEY_FP, not $OTHER_FP" "$T/err"
expect_status "index add with another key is refused" 2 \
    "$DEDUP" index add --key-file "$OTHER" "$T/k.ddx" "$SYN"
expect_status "check --index with the key finds the copy" 1 \
    "$DEDUP" check --key-file "$KEY" --index "$T/k.ddx" "$SYN"
expect_grep "... as a near-duplicate of the indexed original" \
    "000_syndicated.txt:1: near-duplicate of $FIXTURES/seeds/000_bd77016b1ff7f277.txt" "$T/out"
"$DEDUP" index build -o "$T/plain.ddx" "$FIXTURES/seeds" >/dev/null 2>&1
expect_status "an index built without a key refuses a key" 2 \
    "$DEDUP" check --key-file "$KEY" --index "$T/plain.ddx" "$SYN"
expect_grep "... saying so" "plain.ddx: built without a key, but --key-file was given" "$T/err"
# index remove needs no signature, but a keyed index is changed only with its key
SEED0=$FIXTURES/seeds/000_bd77016b1ff7f277.txt
expect_status "index remove without the key is refused" 2 "$DEDUP" index remove "$T/k.ddx" "$SEED0"
expect_grep "... saying the index was built with a key" \
    "k.ddx: built with key fingerprint $KEY_FP, but no --key-file was given" "$T/err"
expect_status "index remove with another key is refused" 2 \
    "$DEDUP" index remove --key-file "$OTHER" "$T/k.ddx" "$SEED0"
"$DEDUP" index info "$T/k.ddx" >"$T/info" 2>&1
expect_grep "... and removed nothing" "documents: 5" "$T/info"
expect_status "index remove with the key removes" 0 \
    "$DEDUP" index remove --key-file "$KEY" "$T/k.ddx" "$SEED0"
"$DEDUP" index info "$T/k.ddx" >"$T/info" 2>&1
expect_grep "... the document" "documents: 4" "$T/info"
expect_status "an index built without a key: remove with a key is refused" 2 \
    "$DEDUP" index remove --key-file "$KEY" "$T/plain.ddx" "$SEED0"

# --- what a key does not protect (SECURITY.md) ------------------------------------
# Two documents planted beside a victim's, each holding one of its paragraphs,
# make that paragraph boilerplate with a key as without one, and clean removes
# it from the victim's own file; check, given the planted files, names them.
mkdir -p "$T/shared"
cp "$FIXTURES/seeds/000_bd77016b1ff7f277.txt" "$T/shared/victim.txt"
para=$(sed -n 3p "$T/shared/victim.txt")
for i in 1 2; do
    { head -4 "$FIXTURES"/seeds/00${i}_*.txt; echo "$para"; } >"$T/shared/planted$i.txt"
done
for k in "" "$KEY"; do
    label=${k:+with a key}
    label=${label:-without a key}
    rm -rf "$T/planted.out"
    "$DEDUP" clean ${k:+--key-file "$k"} "$T/shared" -o "$T/planted.out" 2>"$T/err"
    if grep -qxF -- "$para" "$T/shared/victim.txt" &&
        ! grep -qxF -- "$para" "$T/planted.out/victim.txt" &&
        [ "$(wc -l <"$T/planted.out/victim.txt")" = $(($(wc -l <"$T/shared/victim.txt") - 1)) ]; then
        ok "$label, two planted copies of a paragraph remove it from the victim's file"
    else
        not_ok "$label, two planted copies of a paragraph remove it from the victim's file" \
            "$(diff "$T/shared/victim.txt" "$T/planted.out/victim.txt" | head -5)"
    fi
done
"$DEDUP" check --key-file "$KEY" "$T/shared/planted1.txt" "$T/shared/planted2.txt" >"$T/out" 2>&1
st=$?
if [ $st = 1 ] && grep -q "planted1.txt:5: " "$T/out" && grep -q "planted2.txt:5: " "$T/out" &&
    ! grep -q "^[^:]*victim.txt:" "$T/out"; then
    ok "check of the planted files reports them, not the victim"
else
    not_ok "check of the planted files reports them, not the victim" "exit $st: $(cat "$T/out")"
fi
# A baseline written with a key holds keyed paragraph keys (SECURITY.md: keep
# it as private as the key).
mkdir -p "$T/pair"
cp "$T/shared/victim.txt" "$T/shared/planted1.txt" "$T/pair/"
"$DEDUP" check --write-baseline "$T/plain.base" "$T/pair/planted1.txt" >/dev/null 2>&1
"$DEDUP" check --key-file "$KEY" --write-baseline "$T/keyed.base" "$T/pair/planted1.txt" \
    >/dev/null 2>&1
plain_keys=$(grep -v '^#' "$T/plain.base" | cut -f4 | grep -E '^[0-9a-f]{32}$' | sort)
keyed_keys=$(grep -v '^#' "$T/keyed.base" | cut -f4 | grep -E '^[0-9a-f]{32}$' | sort)
if [ -n "$plain_keys" ] && [ -n "$keyed_keys" ] &&
    [ "$(cut -f1-3 "$T/plain.base")" = "$(cut -f1-3 "$T/keyed.base")" ] &&
    [ -z "$(comm -12 <(echo "$plain_keys") <(echo "$keyed_keys"))" ]; then
    ok "a baseline written with a key holds keyed paragraph keys, none of the unkeyed ones"
else
    not_ok "a baseline written with a key holds keyed paragraph keys, none of the unkeyed ones" \
        "plain: $(cat "$T/plain.base"); keyed: $(cat "$T/keyed.base")"
fi

# A baseline's boilerplate entries hold the first 80 bytes of the text, cut
# at a character's end (the Arabic paragraph planted above has a two-byte
# letter across byte 80); one written before, cut inside the letter, still
# accepts the finding.
"$DEDUP" check --write-baseline "$T/bp.base" "$T/shared/planted1.txt" >/dev/null 2>&1
if grep -q $'\tboilerplate\t' "$T/bp.base" && iconv -f UTF-8 -t UTF-8 "$T/bp.base" >/dev/null 2>&1
then ok "a baseline's boilerplate entry is valid UTF-8"
else not_ok "a baseline's boilerplate entry is valid UTF-8" "$(od -c "$T/bp.base" | tail -5)"; fi
{ echo "# dedup check baseline: accepted findings, one per line"
  printf '%s\tboilerplate\t' "$T/shared/planted1.txt"; printf '%s' "$para" | head -c 80; echo
} >"$T/old.base"
expect_status "a baseline cut inside a character still accepts its boilerplate" 0 \
    "$DEDUP" check --baseline "$T/old.base" "$T/shared/planted1.txt"

# --- a build without libsodium ---------------------------------------------------
NOSODIUM=$(dirname "$0")/../../build/nosodium/bin/dedup
if [ -x "$NOSODIUM" ]; then
    expect_status "without libsodium, --key-file is an error" 2 \
        "$NOSODIUM" scan --key-file "$KEY" "$FIXTURES/seeds"
    expect_grep "... that says the build lacks it" \
        "built without libsodium, so it cannot hash with a key" "$T/err"
    expect_status "without libsodium, keygen is an error" 2 "$NOSODIUM" keygen "$T/nosodium.key"
    if [ ! -e "$T/nosodium.key" ]; then ok "... and writes no file"; else not_ok "... and writes no file"; fi
    expect_status "without libsodium, plain scans work" 1 "$NOSODIUM" scan "${CORPUS[@]}"
else
    not_ok "build/nosodium/bin/dedup exists (make test-build makes it)"
fi
finish
