#!/usr/bin/env bash
# Records without words (blank lines, punctuation, empty text fields) are
# kept by dedup filter and cost it nothing to remember (issue 14, item 4):
# each used to keep a 524-byte signature and more, so 20 MB of blank lines
# through `filter --lines` took 11.3 GB, and 2,000,000 lines of "..." (a
# 698-byte .zst) 1.18 GB. What filter remembers is counted by --stats
# ("remembered: N MB"), which this test reads: deterministic, not timed.
. "$(dirname "$0")/lib.sh"

# 200,000 lines without a word, of a few kinds.
python3 - "$T/wordless.txt" "$T/wordless.jsonl" <<'EOF'
import json, sys
kinds = ["", "...", "   ", "— — —", "!?", "«»", "***", "\t"]
with open(sys.argv[1], "w", encoding="utf-8") as lines, \
        open(sys.argv[2], "w", encoding="utf-8") as records:
    for i in range(200000):
        lines.write(kinds[i % len(kinds)] + "\n")
        records.write(json.dumps({"id": i, "text": kinds[i % len(kinds)]}) + "\n")
EOF

# remembered NAME FILE OPTIONS...: filter keeps every record as it came, and
# remembers less than 1 MB (it was 107 MB and more for these 200,000 records).
remembered() {
    local name=$1 file=$2
    shift 2
    "$DEDUP" filter --stats "$@" "$file" >"$T/out" 2>"$T/stats"
    expect_same "$name: every record kept as it came" "$file" "$T/out"
    local mb
    mb=$(sed -n 's/.*remembered: \([0-9.]*\) MB.*/\1/p' "$T/stats")
    if [ -n "$mb" ] && awk -v mb="$mb" 'BEGIN { exit !(mb < 1.0) }'; then
        ok "$name: 200,000 records without words remembered in under 1 MB ($mb MB)"
    else
        not_ok "$name: 200,000 records without words remembered in under 1 MB" \
            "remembered: ${mb:-?} MB; $(head -c 600 "$T/stats")"
    fi
}
remembered "filter --lines" "$T/wordless.txt" --lines
remembered "filter (JSONL)" "$T/wordless.jsonl"

# Between records with words, records without them change no decision and
# no number: d copies a (record 3), f repeats a's second line, and the
# records without words are kept, each a cluster of its own.
W="صحيفة الوطن السعودية اليومية تنشر أخبار المملكة والعالم كل يوم من الرياض وجدة والدمام ومكة المكرمة والمدينة المنورة"
P="يتابع المواطنون الأخبار على الموقع الرسمي للصحيفة وعلى حساباتها في مواقع التواصل الاجتماعي"
python3 - "$W" "$P" "$T/mixed.jsonl" <<'EOF'
import json, sys
w, p, out = sys.argv[1:]
records = [("b", "..."), ("c", ""), ("a", w + "\n" + p), ("e", "— — —"),
           ("d", w + "\n" + p.rsplit(" ", 1)[0] + " اليومي"),
           ("f", "خبر جديد عن الطقس في الرياض اليوم مع رياح وغبار\n" + p)]
with open(out, "w", encoding="utf-8") as f:
    for rid, text in records:
        f.write(json.dumps({"id": rid, "text": text}, ensure_ascii=False) + "\n")
EOF
cat >"$T/mixed.want" <<'EOF'
b {"kept":true,"cluster":1}
c {"kept":true,"cluster":2}
a {"kept":true,"cluster":3}
e {"kept":true,"cluster":4}
d {"kept":false,"cluster":3,"duplicate_of":"a","exact":false,"jaccard":0.9286,"containment":0.963}
f {"kept":true,"cluster":6,"removed":[{"kind":"repeat","lines":[2,2],"of":{"record":"a","lines":[2,2]}}]}
EOF
"$DEDUP" filter --annotate --id-field id "$T/mixed.jsonl" >"$T/mixed.out" 2>"$T/err"
python3 - "$T/mixed.out" >"$T/mixed.got" <<'EOF'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    print(r["id"], json.dumps(r["dedup"], separators=(",", ":"), ensure_ascii=False))
EOF
expect_same "filter --annotate: records without words between a record and its copy" \
    "$T/mixed.want" "$T/mixed.got"

finish
