#!/usr/bin/env bash
# --memory SIZE and --tmp-dir DIR: a budget small enough to move the units
# (paragraphs) of every document (run/units.h), the near-repeats of
# paragraphs found (run/corpus.h), the paragraphs' sets and band keys of
# the search across documents (run/near_across.h, which then works in
# several parts) and the MinHash values of the document signatures
# (engine/near.h) to scratch files, and to build the rounds' tables (the
# distinct paragraphs, engine/paragraphs.h; the keys of the documents whose
# text changed, run/rounds.c) in more parts than threads, changes no output: scan
# reports and clean -o copies are byte-identical at the default budget and
# at --memory 1M, at -j 1 and 3 (and check's findings), and DEDUP_RUN_STATS
# shows that each really went to its scratch file, and left memory, and
# that the rounds' tables were built in parts, each part smaller, and that
# their findings were made holding a document's near-repeats at a time.
# Scratch files go to --tmp-dir
# and nothing is left there, after a run that succeeds and after one that
# fails. A full scratch folder (a tmpfs of one page, when this runs as root)
# stops the run with an error naming the folder and exit status 2, and
# clean -o then writes nothing.
. "$(dirname "$0")/lib.sh"

G="$T/gen"
PYTHONPATH="$TESTS" python3 - "$FIXTURES/seeds" "$G" <<'EOF'
import sys
from gen_docs import Words, write_files
g = Words(sys.argv[1], seed=16, line_words=(5, 14))
shared = [g.line() for _ in range(80)]  # lines that several documents quote
docs = g.documents(700, (10, 60), shared, repeat_every=11)
for i in range(0, 680, 9):  # exact and edited copies, after their originals
    copy = list(docs[i])
    if i % 2:
        copy[len(copy) // 2] = g.line()
    docs.insert(i + 5, copy)
write_files(sys.argv[2], docs, "d%04d.txt")
EOF

mkdir -p "$T/scratch"
units_spilled() { # the MB of units DEDUP_RUN_STATS says went to a scratch file
    sed -n 's/^dedup: units kept in a scratch file: \([0-9.]*\) MB$/\1/p' "$1"
}
near_spilled() { # the same for the near-repeats of paragraphs
    sed -n 's/^dedup: near-repeats of paragraphs kept in a scratch file: \([0-9.]*\) MB$/\1/p' "$1"
}
across_spilled() { # the MB of paragraphs' sets and band keys in scratch files
    sed -n "s/^dedup: paragraphs' sets and band keys kept in scratch files: \([0-9.]*\) MB\$/\1/p" "$1"
}
across_parts() { # the parts of band keys and of pairs of the search across documents
    sed -n 's/^dedup: paragraphs across documents: .* in \([0-9]*\) parts of band keys and \([0-9]*\) of pairs.*/\1 \2/p' "$1"
}
near_in_memory() { # the bytes a document of near-repeats left in memory after reading
    sed -n 's/^dedup: memory after reading: near-repeats of paragraphs found.*(\([0-9]*\) bytes a document)$/\1/p' "$1"
}
signatures_spilled() { # the MB of MinHash values that went to a scratch file
    sed -n 's/^dedup: document signatures kept in a scratch file: \([0-9.]*\) MB$/\1/p' "$1"
}
signatures_in_memory() { # the bytes a document of signatures left in memory after reading
    sed -n 's/^dedup: memory after reading: document signatures.*(\([0-9]*\) bytes a document)$/\1/p' "$1"
}
inputs_in_memory() { # the bytes a document of the input list after reading
    sed -n 's/^dedup: memory after reading: input list.*(\([0-9]*\) bytes a document)$/\1/p' "$1"
}

table_parts() { # round 1's paragraph table: its parts and the MB a part held at most
    sed -n 's/^dedup: memory at round 1, its paragraph table made: paragraph table: .* built in \([0-9]*\) parts, \([0-9.]*\) MB a part at most$/\1 \2/p' "$1"
}
round_near() { # round 1's near-repeats: MB in memory and MB in a scratch file
    sed -n 's/^dedup: memory at round 1, its paragraph table made: near-repeats of the round: \([0-9.]*\) MB (\([0-9.]*\) MB in a scratch file).*/\1 \2/p' "$1"
}
findings_held() { # round 1's findings: the bytes a unit making them held beside the table,
    # the most near-repeats held at once, and the round's near-repeats
    sed -n 's/^dedup: memory at round 1, its findings made: .*making the findings [0-9.]* MB more (\([0-9.]*\) bytes a unit), \([0-9]*\) near-repeats held at once at most of the round.s \([0-9]*\)$/\1 \2 \3/p' "$1"
}
table_read() { # round 1's paragraph table: MB read handing its units out to its parts and building them
    awk '/^dedup: phase round 1, its paragraphs handed out to the table.s parts:/ ||
         /^dedup: phase round 1, its paragraph table built:/ {
             for (i = 1; i < NF; i++) if ($i == "read") { mb += $(i + 1); n++ } }
         END { if (n == 2) print mb }' "$1"
}
findings_read() { # MB round 1 read listing its near-repeats (with their units' lines) and deciding
    awk '/^dedup: phase round 1, its documents placed:/ ||
         /^dedup: phase round 1, its paragraphs decided:/ {
             for (i = 1; i < NF; i++) if ($i == "read") { mb += $(i + 1); n++ } }
         END { if (n == 2) print mb }' "$1"
}
again_window() { # round 1's documents analysed again: their KB, the most KB at once, the window's KB
    sed -n 's/^dedup: round 1: [0-9]* documents analysed again, \([0-9.]*\) KB, at most \([0-9.]*\) KB of them at once (a window of \([0-9.]*\) KB)$/\1 \2 \3/p' "$1"
}
changed_key_parts() { # round 2's parts of the keys of the documents changed
    sed -n 's/^dedup: round 2: the keys of the [0-9]* documents changed, in \([0-9]*\) parts.*/\1/p' "$1"
}

# scan: the same report whatever the budget, at -j 1, 2 and 3.
DEDUP_RUN_STATS=1 "$DEDUP" scan -q -f jsonl -j 1 "$G" >"$T/scan.ref" 2>"$T/stats.ref"
[ "$(units_spilled "$T/stats.ref")" = "0.0" ] && [ -s "$T/scan.ref" ] &&
    ok "default budget: the units stay in memory" ||
    not_ok "default budget: the units stay in memory" "$(grep units "$T/stats.ref")"
near_ref=$(near_in_memory "$T/stats.ref")
[ "$(near_spilled "$T/stats.ref")" = "0.0" ] && [ "${near_ref:-0}" -gt 0 ] &&
    ok "default budget: the near-repeats stay in memory ($near_ref bytes a document)" ||
    not_ok "default budget: the near-repeats stay in memory" "$(grep near-repeats "$T/stats.ref")"
sigs_ref=$(signatures_in_memory "$T/stats.ref")
# 128 values of 4 bytes a document, and its key and sizes
[ "$(signatures_spilled "$T/stats.ref")" = "0.0" ] && [ "${sigs_ref:-0}" -gt 512 ] &&
    ok "default budget: the signatures stay in memory ($sigs_ref bytes a document)" ||
    not_ok "default budget: the signatures stay in memory" "$(grep signatures "$T/stats.ref")"
# The input list: a record of 40 bytes a document, and its path, kept once
# (its id and output name are places in it), in large blocks: "$G/d0001.txt"
# and its NUL.
inputs_ref=$(inputs_in_memory "$T/stats.ref") most=$((40 + ${#G} + 12 + 1))
[ -n "$inputs_ref" ] && [ "$inputs_ref" -le "$most" ] &&
    ok "default budget: the input list holds $inputs_ref bytes a document (at most $most)" ||
    not_ok "default budget: the input list holds at most $most bytes a document" \
        "$(grep 'input list' "$T/stats.ref")"
[ "$(across_spilled "$T/stats.ref")" = "0.0" ] && [ "$(across_parts "$T/stats.ref")" = "7 1" ] &&
    ok "default budget: the search across documents in memory, one part a band" ||
    not_ok "default budget: the search across documents in memory, one part a band" \
        "$(grep paragraph "$T/stats.ref")"
table_ref=$(table_parts "$T/stats.ref")
[ "${table_ref% *}" = 1 ] && [ "$(changed_key_parts "$T/stats.ref")" = 1 ] &&
    ok "default budget -j 1: the rounds' tables in one part ($table_ref MB)" ||
    not_ok "default budget -j 1: the rounds' tables in one part" "$(grep -E 'table|round 2' "$T/stats.ref")"
near=$(round_near "$T/stats.ref")
[ "${near#* }" = "0.0" ] && [ "${near% *}" != "0.0" ] &&
    ok "default budget: the near-repeats of a round in memory ($near)" ||
    not_ok "default budget: the near-repeats of a round in memory" "$(grep 'round 1' "$T/stats.ref")"
for j in 1 2 3; do
    DEDUP_RUN_STATS=1 "$DEDUP" scan -q -f jsonl -j $j --memory 1M --tmp-dir "$T/scratch" "$G" \
        >"$T/scan.$j" 2>"$T/stats.$j"
    table=$(table_parts "$T/stats.$j") keys=$(changed_key_parts "$T/stats.$j")
    # 1M / 4 for the parts built at once: 13 parts or more, each a fraction of the one part's
    if [ -n "$table" ] && [ "${table% *}" -gt 8 ] && [ "${keys:-0}" -gt 1 ] &&
        awk -v a="${table#* }" -v b="${table_ref#* }" 'BEGIN { exit !(a * 4 < b) }'; then
        ok "--memory 1M -j $j: the rounds' tables in parts ($table MB; keys in $keys parts)"
    else
        not_ok "--memory 1M -j $j: the rounds' tables in parts" \
            "$(grep -E 'table|round 2' "$T/stats.$j")"
    fi
    near=$(round_near "$T/stats.$j")
    [ "${near% *}" = "0.0" ] && [ -n "${near#* }" ] && [ "${near#* }" != "0.0" ] &&
        ok "--memory 1M -j $j: the near-repeats of a round in a scratch file ($near)" ||
        not_ok "--memory 1M -j $j: the near-repeats of a round in a scratch file" \
            "$(grep 'round 1' "$T/stats.$j")"
    # Making the findings holds two bits a unit, the buffers that read the
    # later occurrences back (56 bytes each, at most 128 KiB; here all 395,
    # 0.9 bytes a unit), the near-repeats of one document (read back from
    # the scratch file), not the round's (104 bytes each, 8 bytes a unit),
    # and a block of the lines they remove and the buffers that read them
    # back merged (15 KB at most: 0.4 bytes a unit here), not the round's.
    held=$(findings_held "$T/stats.$j")
    if [ -n "$held" ] && awk -v h="$held" 'BEGIN { split(h, v, " ");
            exit !(v[1] < 2 && v[3] > 100 && v[2] * 10 < v[3]) }'; then
        ok "--memory 1M -j $j: the findings made holding one document's near-repeats ($held)"
    else
        not_ok "--memory 1M -j $j: the findings made holding one document's near-repeats" \
            "$(grep -E 'findings|round 1' "$T/stats.$j")"
    fi
    # Round 1 analyses the documents it changed again a window at a time,
    # the window's bytes within the rounds' quarter (1M / 4: 262 KB), but
    # for the next document to take: many windows' worth of documents, at
    # most a window and a document at once (one at a time at -j 1), and
    # the report of the default budget (below).
    window=$(again_window "$T/stats.$j") largest=$(wc -c "$G"/*.txt | sort -n | tail -2 | head -1)
    if [ -n "$window" ] && awk -v w="$window" -v big="${largest% *}" -v j=$j 'BEGIN { split(w, v, " ");
            most = j == 1 ? big / 1000 : v[3] + big / 1000;
            exit !(v[1] > 4 * v[3] && v[2] <= most && v[3] < 300) }'; then
        ok "--memory 1M -j $j: round 1 analysed its documents again a window at a time (KB: $window)"
    else
        not_ok "--memory 1M -j $j: round 1 analysed its documents again a window at a time" \
            "$(grep 'analysed again' "$T/stats.$j"); largest document: $largest"
    fi
    mb=$(across_spilled "$T/stats.$j") parts=$(across_parts "$T/stats.$j")
    if [ -n "$mb" ] && [ "$mb" != "0.0" ] && [ "${parts% *}" -gt 7 ]; then
        ok "--memory 1M -j $j: the search across documents from scratch files, in parts ($mb MB; $parts)"
    else
        not_ok "--memory 1M -j $j: the search across documents from scratch files, in parts" \
            "$(grep paragraph "$T/stats.$j")"
    fi
    mb=$(units_spilled "$T/stats.$j")
    if [ -n "$mb" ] && [ "$mb" != "0.0" ]; then ok "--memory 1M -j $j: units in a scratch file ($mb MB)"; else
        not_ok "--memory 1M -j $j: units in a scratch file" "$(head -c 600 "$T/stats.$j")"
    fi
    # The table's parts read their units once between them (handed out to
    # them in one pass, 48 bytes each, the 64 of the units' scratch file
    # read once), not the whole file each: under twice that file.
    read=$(table_read "$T/stats.$j")
    if [ -n "$read" ] && [ -n "$mb" ] && [ "$mb" != "0.0" ] &&
        awk -v r="$read" -v u="$mb" 'BEGIN { exit !(r < 2 * u) }'; then
        ok "--memory 1M -j $j: the rounds' table read its units once ($read MB, the units $mb MB)"
    else
        not_ok "--memory 1M -j $j: the rounds' table read its units once" \
            "$(grep -E 'units kept|phase round 1' "$T/stats.$j")"
    fi
    # The findings read the lines of their paragraphs where the table's
    # later occurrences and the round's near-repeats carry them, the latter
    # read once as the round lists them (a span of a document's units), not
    # from the units' scratch file a 16 KB block at a time in each pass
    # (main 29b002f read 6.9 MB there, 6.7 of it deciding, for a file of
    # 1.8 MB):
    # under half that file.
    read=$(findings_read "$T/stats.$j")
    if [ -n "$read" ] && [ -n "$mb" ] && [ "$mb" != "0.0" ] &&
        awk -v r="$read" -v u="$mb" 'BEGIN { exit !(r < u / 2) }'; then
        ok "--memory 1M -j $j: round 1's findings read no paragraph back ($read MB, the units $mb MB)"
    else
        not_ok "--memory 1M -j $j: round 1's findings read no paragraph back" \
            "$(grep -E 'units kept|phase round 1' "$T/stats.$j")"
    fi
    mb=$(near_spilled "$T/stats.$j") held=$(near_in_memory "$T/stats.$j")
    if [ -n "$mb" ] && [ "$mb" != "0.0" ] && [ -n "$held" ] && [ "$held" -lt "${near_ref:-0}" ]; then
        ok "--memory 1M -j $j: near-repeats in a scratch file ($mb MB; $held bytes a document left)"
    else
        not_ok "--memory 1M -j $j: near-repeats in a scratch file" "$(grep near-repeats "$T/stats.$j")"
    fi
    # 1M / 16 keeps the values of 128 documents of the 775 (84.6 bytes a
    # document); every one keeps its key and sizes, 24 bytes, in an array
    # sized to the documents listed (not the next doubling, 1024: 116)
    mb=$(signatures_spilled "$T/stats.$j") held=$(signatures_in_memory "$T/stats.$j")
    if [ -n "$mb" ] && [ "$mb" != "0.0" ] && [ -n "$held" ] && [ "$held" -le 109 ]; then
        ok "--memory 1M -j $j: signatures in a scratch file ($mb MB; $held bytes a document left)"
    else
        not_ok "--memory 1M -j $j: signatures in a scratch file" "$(grep signatures "$T/stats.$j")"
    fi
    expect_same "scan -j $j --memory 1M: the report of the default budget" "$T/scan.ref" "$T/scan.$j"
done
# The rounds keep the later occurrences of paragraphs (each a unit and the
# first occurrence of its key: engine/paragraphs.h) in a scratch array, not
# 8 bytes a unit: documents that quote lines of a pool give some 12,000 of
# them (190 KB), past their share at --memory 1M (1M / 16), and the same
# report; the paragraph table holds less than 4 bytes a unit (its records
# of boilerplate, the documents added; it held 8 a unit more before).
Q="$T/quotes"
PYTHONPATH="$TESTS" python3 - "$FIXTURES/seeds" "$Q" <<'EOF2'
import sys
from gen_docs import Words, write_files
g = Words(sys.argv[1], seed=61, line_words=(6, 14))
pool = [g.line() for _ in range(2000)]
docs = []
for _ in range(1200):
    doc = [g.line() for _ in range(20)]
    for _ in range(12):
        doc.insert(g.rng.randrange(len(doc) + 1), g.rng.choice(pool))
    docs.append(doc)
write_files(sys.argv[2], docs, "q%04d.txt")
EOF2
later() { # round 1's later occurrences of paragraphs: how many, MB in memory, MB in a scratch file
    sed -n 's/^dedup: memory at round 1, its paragraph table made: later occurrences of paragraphs: \([0-9]*\) of [0-9]* units, \([0-9.]*\) MB (\([0-9.]*\) MB in a scratch file)$/\1 \2 \3/p' "$1"
}
records_spilled() { # how many of the input list's records are in a scratch file
    sed -n 's/^dedup: records of the input list kept in a scratch file: [0-9.]* MB (\([0-9]*\) of [0-9]*)$/\1/p' "$1"
}
digests_spilled() { # how many of the documents' digests and sizes are in a scratch file
    sed -n "s/^dedup: documents' digests and sizes kept in a scratch file: [0-9.]* MB (\([0-9]*\) of [0-9]*)\$/\1/p" "$1"
}
table_bytes() { # round 1's paragraph table, in bytes a unit
    sed -n 's/^dedup: memory at round 1, its paragraph table made: paragraph table: [0-9.]* MB (\([0-9.]*\) bytes a unit).*/\1/p' "$1"
}
DEDUP_RUN_STATS=1 "$DEDUP" scan -q -f jsonl -j 1 "$Q" >"$T/quotes.ref" 2>"$T/quotes.stats.ref"
held=$(later "$T/quotes.stats.ref")
if [ -n "$held" ] && awk -v h="$held" 'BEGIN { split(h, v, " "); exit !(v[1] > 10000 && v[2] > 0.1 && v[3] == 0) }'; then
    ok "default budget: the later occurrences of paragraphs in memory ($held)"
else
    not_ok "default budget: the later occurrences of paragraphs in memory" "$(grep 'round 1' "$T/quotes.stats.ref")"
fi
for j in 1 3; do
    DEDUP_RUN_STATS=1 "$DEDUP" scan -q -f jsonl -j $j --memory 1M --tmp-dir "$T/scratch" "$Q" \
        >"$T/quotes.$j" 2>"$T/quotes.stats.$j"
    held=$(later "$T/quotes.stats.$j") table=$(table_bytes "$T/quotes.stats.$j")
    if [ -n "$held" ] && [ -n "$table" ] && awk -v h="$held" -v t="$table" 'BEGIN { split(h, v, " ");
            exit !(v[1] > 10000 && v[2] < 0.1 && v[3] > 0.1 && t < 4) }'; then
        ok "--memory 1M -j $j: the later occurrences of paragraphs in a scratch file ($held; table: $table bytes a unit)"
    else
        not_ok "--memory 1M -j $j: the later occurrences of paragraphs in a scratch file" \
            "$(grep 'round 1' "$T/quotes.stats.$j")"
    fi
    expect_same "scan -j $j --memory 1M, quoted lines: the report of the default budget" \
        "$T/quotes.ref" "$T/quotes.$j"
    # The input list's records (1M / 64 keeps 409 of the 1,200) and the
    # documents' digests and sizes (1M / 64 keeps 1,024) past their shares
    # are read back from scratch files: the same report (ids, sizes in the
    # summary), and no document found changed (a digest read back for
    # another document would say so, and verify nothing).
    records=$(records_spilled "$T/quotes.stats.$j") digests=$(digests_spilled "$T/quotes.stats.$j")
    if [ "${records:-0}" -gt 700 ] && [ "${digests:-0}" -gt 100 ] &&
        ! grep -q "changed while dedup was running" "$T/quotes.stats.$j"; then
        ok "--memory 1M -j $j: records and digests in scratch files ($records and $digests of 1,200)"
    else
        not_ok "--memory 1M -j $j: records and digests in scratch files" \
            "$(grep -E 'records|digests|changed' "$T/quotes.stats.$j")"
    fi
done
[ "$(records_spilled "$T/quotes.stats.ref")" = 0 ] &&
    [ "$(digests_spilled "$T/quotes.stats.ref")" = 0 ] &&
    ok "default budget: records and digests in memory" ||
    not_ok "default budget: records and digests in memory" \
        "$(grep -E 'records|digests' "$T/quotes.stats.ref")"
# A round's drops (the ranges of lines it removes, 24 bytes each) past
# their share (1M / 64: 682 of them) go to a scratch file as its findings
# are made, in runs (each pass of the findings one, in order) merged back
# as they are read: the reports above are the default budget's, where they
# stay in memory.
drops_out() { # round 1's ranges found, their runs, and the MB of them in a scratch file
    sed -n 's/^dedup: memory at round 1, its lines removed taken in: \([0-9]*\) ranges found in \([0-9]*\) runs, [0-9.]* MB (\([0-9.]*\) MB in a scratch file)$/\1 \2 \3/p' "$1"
}
drops_ref=$(drops_out "$T/quotes.stats.ref")
for j in 1 3; do
    drops=$(drops_out "$T/quotes.stats.$j")
    if [ -n "$drops" ] && [ "${drops% *}" = "${drops_ref% *}" ] && [ "${drops_ref##* }" = 0.0 ] &&
        awk -v d="$drops" 'BEGIN { split(d, v, " "); exit !(v[1] > 682 && v[2] >= 2 && v[3] > 0.01) }'; then
        ok "--memory 1M -j $j: round 1's drops in a scratch file, in runs merged ($drops; default: $drops_ref)"
    else
        not_ok "--memory 1M -j $j: round 1's drops in a scratch file" \
            "$(grep 'lines removed taken in' "$T/quotes.stats.ref" "$T/quotes.stats.$j")"
    fi
done
# clean -o reads every document again and checks it against its digest.
"$DEDUP" clean -q -j 2 -o "$T/quotes.clean.ref" "$Q" >/dev/null 2>&1
"$DEDUP" clean -q -j 2 --memory 1M --tmp-dir "$T/scratch" -o "$T/quotes.clean" "$Q" \
    >"$T/quotes.clean.err" 2>&1
if [ -d "$T/quotes.clean" ] && [ ! -s "$T/quotes.clean.err" ] &&
    diff -r "$T/quotes.clean.ref" "$T/quotes.clean" >"$T/diff" 2>&1; then
    ok "clean -o --memory 1M, quoted lines: the copies of the default budget"
else
    not_ok "clean -o --memory 1M, quoted lines: the copies of the default budget" \
        "$(head -20 "$T/quotes.clean.err" "$T/diff")"
fi
# What the rounds find (the lines removed, the places of the boilerplate:
# run/rounds.c) past their share (1M / 64: 682 of either) goes to scratch
# files: the quoted lines give 9,481 ranges of lines removed and 14,320
# places, read back for the report (json and text), check's findings and
# clean -o's copies (above), as at the default budget, where they stay in
# memory.
found_out() { # the MB of what the rounds found in scratch files, and the places, at round 2
    sed -n 's/^dedup: memory at round 2, its paragraph table made: .*findings so far: [0-9.]* MB (\([0-9.]*\) MB in scratch files: [0-9]* repeats, [0-9]* boilerplate records naming \([0-9]*\) places, \([0-9]*\) ranges.*/\1 \2 \3/p' "$1"
}
found_ref=$(found_out "$T/quotes.stats.ref") found_small=$(found_out "$T/quotes.stats.3")
if [ "${found_ref%% *}" = "0.0" ] && [ -n "$found_small" ] && [ "${found_small#* }" = "${found_ref#* }" ] &&
    awk -v f="$found_small" 'BEGIN { split(f, v, " "); exit !(v[1] > 0.1 && v[2] > 682 && v[3] > 682) }'; then
    ok "--memory 1M: what the rounds found in scratch files ($found_small; default: $found_ref)"
else
    not_ok "--memory 1M: what the rounds found in scratch files" \
        "$(grep 'findings so far' "$T/quotes.stats.ref" "$T/quotes.stats.3")"
fi
"$DEDUP" scan -q -j 2 "$Q" >"$T/quotes.text.ref" 2>&1
"$DEDUP" scan -q -j 2 --memory 1M --tmp-dir "$T/scratch" "$Q" >"$T/quotes.text" 2>&1
expect_same "scan -j 2 --memory 1M, quoted lines: the text report of the default budget" \
    "$T/quotes.text.ref" "$T/quotes.text"
for m in "" "--memory 1M"; do
    st=0
    "$DEDUP" check -j 2 $m --tmp-dir "$T/scratch" "$Q" >"$T/quotes.check.${m:+small}" 2>&1 || st=$?
    echo "exit $st" >>"$T/quotes.check.${m:+small}"
done
expect_same "check --memory 1M, quoted lines: the findings of the default budget" \
    "$T/quotes.check." "$T/quotes.check.small"
expect_grep "check, quoted lines: finds boilerplate" "boilerplate, in" "$T/quotes.check."
if [ -z "$(ls -A "$T/scratch")" ]; then ok "scan: nothing left in --tmp-dir"; else
    not_ok "scan: nothing left in --tmp-dir" "$(ls -A "$T/scratch")"
fi

# The names of the inputs past their share (1M / 16: 64 KB) are read from
# a scratch file: 775 paths of some 200 bytes (a folder of a long name)
# give the same report and the same clean -o copies, and the input list
# then holds less a document than at the default budget.
long="$T/long/$(printf 'a-folder-whose-name-is-long-%.0s' 1 2 3 4 5 6)"
mkdir -p "$long"
cp "$G"/*.txt "$long/"
DEDUP_RUN_STATS=1 "$DEDUP" scan -q -f jsonl -j 1 "$T/long" >"$T/long.ref" 2>"$T/long.stats.ref"
names_spilled() { # the MB of the names of the inputs in a scratch file
    sed -n 's/^dedup: names of the inputs kept in a scratch file: \([0-9.]*\) MB$/\1/p' "$1"
}
inputs_long_ref=$(inputs_in_memory "$T/long.stats.ref")
for j in 1 3; do
    DEDUP_RUN_STATS=1 "$DEDUP" scan -q -f jsonl -j $j --memory 1M --tmp-dir "$T/scratch" "$T/long" \
        >"$T/long.$j" 2>"$T/long.stats.$j"
    mb=$(names_spilled "$T/long.stats.$j") held=$(inputs_in_memory "$T/long.stats.$j")
    if [ -n "$mb" ] && [ "$mb" != "0.0" ] && [ -n "$held" ] && [ "$held" -lt "${inputs_long_ref:-0}" ]; then
        ok "--memory 1M -j $j: names in a scratch file ($mb MB; $held bytes a document left, $inputs_long_ref at the default)"
    else
        not_ok "--memory 1M -j $j: names in a scratch file" "$(grep -i 'names\|input list' "$T/long.stats.$j")"
    fi
    expect_same "scan -j $j --memory 1M, long names: the report of the default budget" \
        "$T/long.ref" "$T/long.$j"
done
"$DEDUP" scan -q -j 2 --memory 1M --tmp-dir "$T/scratch" "$T/long" >"$T/long.text" 2>&1
"$DEDUP" scan -q -j 2 "$T/long" >"$T/long.text.ref" 2>&1
expect_same "scan -j 2 --memory 1M, long names: the text report of the default budget" \
    "$T/long.text.ref" "$T/long.text"
"$DEDUP" clean -q -j 2 -o "$T/long.clean.ref" "$T/long" >/dev/null 2>&1
"$DEDUP" clean -q -j 2 --memory 1M --tmp-dir "$T/scratch" -o "$T/long.clean" "$T/long" >/dev/null 2>&1
if [ -d "$T/long.clean" ] && diff -r "$T/long.clean.ref" "$T/long.clean" >"$T/diff" 2>&1; then
    ok "clean -o --memory 1M, long names: the copies of the default budget"
else
    not_ok "clean -o --memory 1M, long names: the copies of the default budget" "$(head -20 "$T/diff")"
fi

# clean -o: the same copies whatever the budget.
"$DEDUP" clean -q -j 1 -o "$T/clean.ref" "$G" >/dev/null 2>&1
for j in 1 3; do
    "$DEDUP" clean -q -j $j --memory 1M --tmp-dir "$T/scratch" -o "$T/clean.$j" "$G" >/dev/null 2>&1
    if [ -d "$T/clean.$j" ] && diff -r "$T/clean.ref" "$T/clean.$j" >"$T/diff" 2>&1; then
        ok "clean -o -j $j --memory 1M: the copies of the default budget"
    else
        not_ok "clean -o -j $j --memory 1M: the copies of the default budget" "$(head -20 "$T/diff")"
    fi
done

# check: the same findings and status whatever the budget.
for m in "" "--memory 1M"; do
    st=0
    "$DEDUP" check $m --tmp-dir "$T/scratch" "$G/d0005.txt" "$G/d0100.txt" >"$T/check.${m:+small}" \
        2>&1 || st=$?
    echo "exit $st" >>"$T/check.${m:+small}"
done
expect_same "check --memory 1M: the findings of the default budget" "$T/check." "$T/check.small"
expect_grep "check: finds the copy" "d0005.txt" "$T/check."

# filter and index build take --tmp-dir too: the same output, nothing left there.
cat "$G"/d00*.txt >"$T/lines"
"$DEDUP" filter --lines -q <"$T/lines" >"$T/filter.ref" 2>&1
"$DEDUP" filter --lines -q --tmp-dir "$T/scratch" <"$T/lines" >"$T/filter.tmp" 2>&1
expect_same "filter --tmp-dir: the same output" "$T/filter.ref" "$T/filter.tmp"
expect_status "index build --tmp-dir" 0 "$DEDUP" index build -q --tmp-dir "$T/scratch" \
    -o "$T/ix.ddx" "$G"
if [ -z "$(ls -A "$T/scratch")" ]; then ok "filter, index build: nothing left in --tmp-dir"; else
    not_ok "filter, index build: nothing left in --tmp-dir" "$(ls -A "$T/scratch")"
fi

# A run that fails (an input that does not exist): nothing left either.
expect_status "a run with an error exits 2" 2 \
    "$DEDUP" scan -q -f jsonl --memory 1M --tmp-dir "$T/scratch" "$G" "$T/no-such-file"
if [ -z "$(ls -A "$T/scratch")" ]; then ok "after an error: nothing left in --tmp-dir"; else
    not_ok "after an error: nothing left in --tmp-dir" "$(ls -A "$T/scratch")"
fi

expect_status "--tmp-dir that is not a folder" 2 "$DEDUP" scan -q --tmp-dir "$T/none" "$G"
expect_grep "--tmp-dir that is not a folder: said" "--tmp-dir: '$T/none' is not a folder" "$T/err"
expect_status "--memory below 1M" 2 "$DEDUP" scan -q --memory 100K "$G"
expect_grep "--memory below 1M: said" "--memory: '100K' is not a size from 1M to 1T" "$T/err"

# A full scratch folder: a tmpfs of one page (root only).
full="$T/full"
mkdir -p "$full"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=4k tmpfs "$full" 2>/dev/null; then
    trap 'umount "$full" 2>/dev/null; rm -rf "$T"' EXIT
    expect_status "full scratch folder: scan exits 2" 2 \
        "$DEDUP" scan -q -f jsonl --memory 1M --tmp-dir "$full" "$G"
    expect_grep "full scratch folder: named" "scratch file in $full: No space left on device" "$T/err"
    [ -s "$T/out" ] && not_ok "full scratch folder: no report" "$(head -c 300 "$T/out")" ||
        ok "full scratch folder: no report"
    # a compressed shard's records, decompressed to --tmp-dir: the message says which option
    python3 -c 'import json,os,sys
for n in sorted(os.listdir(sys.argv[1]))[:200]:
    print(json.dumps({"id": n, "text": open(os.path.join(sys.argv[1], n), encoding="utf-8").read()}))' \
        "$G" | gzip >"$T/docs.jsonl.gz"
    expect_status "full scratch folder: a gzip shard, exit 2" 2 \
        "$DEDUP" scan -q -f jsonl --tmp-dir "$full" "$T/docs.jsonl.gz"
    expect_grep "full scratch folder: the shard's message names --tmp-dir" \
        "a scratch file in $full (--tmp-dir): No space left on device" "$T/err"
    expect_status "full scratch folder: clean -o exits 2" 2 \
        "$DEDUP" clean -q --memory 1M --tmp-dir "$full" -o "$T/clean.full" "$G"
    [ -e "$T/clean.full" ] && not_ok "full scratch folder: clean -o writes nothing" \
        "$(ls "$T/clean.full" | head)" || ok "full scratch folder: clean -o writes nothing"
    umount "$full"
else
    echo "ok - full scratch folder # skip: needs root to mount a small tmpfs"
fi

# The default budget inside a control group with a memory limit (a
# container, a Slurm job): half of the limit, not of the machine's
# MemAvailable, and the same report (root only, cgroup v1 or v2).
group=""
if [ "$(id -u)" = 0 ] && [ -w /sys/fs/cgroup/memory ] && mkdir /sys/fs/cgroup/memory/dedup-test-$$ 2>/dev/null; then
    group=/sys/fs/cgroup/memory/dedup-test-$$
    echo $((512 << 20)) >"$group/memory.limit_in_bytes"
elif [ "$(id -u)" = 0 ] && grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null &&
    mkdir /sys/fs/cgroup/dedup-test-$$ 2>/dev/null; then
    group=/sys/fs/cgroup/dedup-test-$$
    echo $((512 << 20)) >"$group/memory.max"
fi
if [ -n "$group" ]; then
    DEDUP_RUN_STATS=1 sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$group" \
        "$DEDUP" scan -q -f jsonl -j 1 "$G" >"$T/scan.cgroup" 2>"$T/stats.cgroup"
    rmdir "$group"
    expect_grep "in a cgroup of 512 MiB: the default budget is half of it" \
        "dedup: memory budget: 268.4 MB (the default)" "$T/stats.cgroup"
    cmp -s "$T/scan.ref" "$T/scan.cgroup" && ok "in a cgroup of 512 MiB: the same report" ||
        not_ok "in a cgroup of 512 MiB: the same report" "$(head -c 300 "$T/stats.cgroup")"
else
    echo "ok - the default budget in a cgroup # skip: needs root and a writable memory cgroup"
fi

# The bound at a small budget: what the process holds at most (VmHWM, the
# last "at most" of DEDUP_RUN_STATS) stays within --memory plus what the man
# page says the process holds beyond it: 10 MiB of its own (code,
# libraries, ICU's data), 2 MiB a thread, and what grows with the documents
# (the man page says about 64 bytes each, what the clustering of the 1 GB
# corpus by the sweep holds included; the same 64 here: 80 in session 22,
# 96 in session 18). On 3,000 generated documents (18 MB) at --memory 4M
# -j 2 that is 19.1 MB (19.2 at 96 bytes a document, 19.3 at 128, session
# 17); the run peaks at 14.7 to 16.5 MB (eight runs: the threads' timing, and what
# malloc keeps in each thread's heap once freed, move it by about 2 MB,
# hence the room left), main 5f9c76e at 31 to 32 MB (a hundred scratch
# files' buffers of 1 MiB each). Normal build only: ASan's shadow memory
# is not the program's.
if [ "${DEDUP_BUILD:-normal}" = normal ]; then
    B="$T/bound"
    PYTHONPATH="$TESTS" python3 - "$FIXTURES/seeds" "$B" <<'PY'
import sys
from gen_docs import Words, write_files
g = Words(sys.argv[1], seed=16, line_words=(5, 14))
shared = [g.line() for _ in range(80)]
write_files(sys.argv[2], g.documents(3000, (10, 60), shared, repeat_every=11), "d%05d.txt")
PY
    st=0
    DEDUP_RUN_STATS=1 "$DEDUP" scan -q -f jsonl -j 2 --memory 4M --tmp-dir "$T/scratch" "$B" \
        >/dev/null 2>"$T/bound.err" || st=$?
    peak=$(sed -n 's/^dedup: memory at .*, at most \([0-9.]*\) MB so far$/\1/p' "$T/bound.err" | tail -1)
    docs=$(find "$B" -type f | wc -l)
    bound=$(awk -v d="$docs" 'BEGIN { printf "%.1f", (4 * 2^20 + 10 * 2^20 + 2 * 2 * 2^20 + 64 * d) / 1e6 }')
    if [ "$st" -le 1 ] && [ -n "$peak" ] && awk -v p="$peak" -v b="$bound" 'BEGIN { exit !(p <= b) }'; then
        ok "--memory 4M -j 2 on $docs documents: at most $peak MB held, within $bound MB"
    else
        not_ok "--memory 4M -j 2 on $docs documents: at most ${peak:-?} MB held, past $bound MB" \
            "exit $st; $(grep 'process holds' "$T/bound.err" | tail -3)"
    fi
    # The clustering within the budget: at --memory 1M the placer and its
    # filter of shared keys (about 190 and 128 to 256 bytes a document, in
    # no share) do not fit the clustering's quarter, so the documents are
    # clustered by the sweep of sorted band keys (run/cluster_sweep.h): its
    # keys in parts and a scratch file, the placer holding 39 bytes a
    # document of the corpus (main dc2418a's placer: 190 and more), in both
    # rounds; the report is the default budget's (where the placer fits).
    "$DEDUP" scan -q -f jsonl -j 2 "$B" >"$T/bound.ref" 2>/dev/null || true
    st=0
    DEDUP_RUN_STATS=1 "$DEDUP" scan -q -f jsonl -j 2 --memory 1M --tmp-dir "$T/scratch" "$B" \
        >"$T/bound.1m" 2>"$T/bound1m.err" || st=$?
    per_doc=$(sed -n 's/^dedup: near-duplicate documents.*the placer holds [0-9]* bytes, \([0-9]*\) a document$/\1/p' \
        "$T/bound1m.err")
    swept=$(grep -c '^dedup: near-duplicate documents by the sweep: .* in [1-9][0-9]* parts (0\.[1-9]\|[1-9][0-9.]* MB in a scratch file' \
        "$T/bound1m.err")
    if [ "$st" -le 1 ] && cmp -s "$T/bound.ref" "$T/bound.1m" && [ -n "$per_doc" ] &&
        [ "$swept" -ge 1 ] && ! echo "$per_doc" | awk '$1 > 64 { bad = 1 } END { exit !bad }'; then
        ok "--memory 1M -j 2: the documents clustered by the sweep, its keys in a scratch file, the placer holding $(echo $per_doc) bytes a document; the same report"
    else
        not_ok "--memory 1M -j 2: the clustering within the budget" \
            "exit $st; placer bytes a document: ${per_doc:-?}; $(grep 'near-duplicate documents' "$T/bound1m.err")"
    fi
    # The sweep within its share (a quarter of --memory: 262,144 bytes
    # here): the keys of a part, the chunks' buffers and places, the pairs
    # pending, the runs' read buffers, a batch's pairs and what verifying
    # them ahead holds, each sized from the share and counted as allocated
    # (main e9c998e held 6.4 MB of its 4.2 at 1 GB and --memory 16M, the
    # part of keys doubling past its room, a chunk read whole, qsort's copy
    # of the pairs). Both rounds' sweeps, with more than one part of keys.
    held=$(sed -n 's/^dedup: near-duplicate documents by the sweep: .* in \([0-9]*\) parts .* \([0-9]*\) bytes held at once at most of a share of \([0-9]*\) (.*/\1 \2 \3/p' \
        "$T/bound1m.err")
    if [ -n "$held" ] && echo "$held" | awk '$3 != 262144 || $1 < 2 || $2 > $3 || $2 < $3 / 2 { bad = 1 } END { exit bad }'; then
        ok "--memory 1M -j 2: the sweep held at most its share (parts, bytes held, share: $(echo $held))"
    else
        not_ok "--memory 1M -j 2: the sweep within its share" \
            "parts, bytes held, share: ${held:-?}; $(grep 'near-duplicate documents by the sweep' "$T/bound1m.err")"
    fi
else
    echo "ok - the bound at a small budget # skip: the normal build only"
fi

finish
