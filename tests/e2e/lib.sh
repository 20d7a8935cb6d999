# Shared helpers for the end-to-end tests. Each test script sources this file,
# calls `ok NAME` / `not_ok NAME [why]` (or the helpers below) and ends with
# `finish`. tests/run.sh counts the "ok" and "not ok" lines of every script.
#
# Environment set by the Makefile: DEDUP and SHINGLE (the binaries under test),
# FIXTURES (the fixtures folder), TMPDIR_TEST (a scratch folder for this run).
set -u
: "${DEDUP:?}" "${SHINGLE:?}" "${FIXTURES:?}"
# The tests folder, for the corpus generator tests/gen_docs.py:
# `PYTHONPATH="$TESTS" python3 - ... <<'EOF'` with `from gen_docs import ...`.
TESTS=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/dedup-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
_failed=0

ok() { echo "ok - $1"; }
not_ok() {
    echo "not ok - $1"
    [ $# -gt 1 ] && printf '    %s\n' "$2" | head -c 4000
    _failed=1
}

# expect_status NAME WANT CMD...: run CMD, compare its exit status.
expect_status() {
    local name=$1 want=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" = "$want" ]; then ok "$name"; else
        not_ok "$name" "exit $got, want $want; stderr: $(head -c 600 "$T/err")"
    fi
}

# expect_same NAME EXPECTED_FILE ACTUAL_FILE: byte-identical files.
expect_same() {
    if cmp -s "$2" "$3"; then ok "$1"; else
        not_ok "$1" "$(diff -u "$2" "$3" | head -40)"
    fi
}

# expect_grep NAME PATTERN FILE: FILE has a line matching the fixed string.
expect_grep() {
    if grep -qF -- "$2" "$3"; then ok "$1"; else
        not_ok "$1" "no line with '$2' in: $(head -c 600 "$3")"
    fi
}

# skip_under_valgrind NAME WHY: under make check-valgrind (DEDUP_BUILD is
# valgrind) prints "ok - NAME # skip valgrind: WHY" and succeeds, so that the
# caller skips a test whose timing cannot hold when every run is 20 to 50
# times slower (kills at random moments within a measured run); otherwise
# fails, and the test runs.
skip_under_valgrind() {
    [ "${DEDUP_BUILD:-}" = valgrind ] || return 1
    echo "ok - $1 # skip valgrind: $2"
}

# golden FILE: an expected JSON lines report, printed with @VERSION@ and
# @NORMALIZER@ (in its header record) replaced by this build's version
# (dedup --version) and normaliser profile (shingle --profile), which change
# with releases and with ICU.
golden() {
    local version profile
    version=$("$DEDUP" --version | sed -n 's/^dedup //p')
    profile=$("$SHINGLE" --profile)
    sed -e "s|\"version\":\"@VERSION@\"|\"version\":\"$version\"|" \
        -e "s|\"normalizer\":\"@NORMALIZER@\"|\"normalizer\":\"$profile\"|" "$1"
}

# seed_copies DIR N: N files of real text in DIR, 0001.txt to N: the seed
# articles in turn, each copy with a first line of its own.
seed_copies() {
    local dir=$1 n=$2 i seeds
    mkdir -p "$dir"
    seeds=("$FIXTURES"/seeds/*.txt)
    for ((i = 1; i <= n; i++)); do
        { echo "نسخة رقم $i من المقال"; cat "${seeds[i % ${#seeds[@]}]}"; } \
            >"$dir/$(printf %04d "$i").txt"
    done
}

finish() { exit "$_failed"; }
