#!/usr/bin/env bash
# dedup filter gives the same output, byte for byte, every time it runs on
# the same input with the same options, and that output is what the input
# calls for (issue 13, item 9: on 14,700 news records, eight runs gave three
# different outputs).
#
# The stream: 3,000 generated news records of words of the seed articles,
# each opening with the same four header lines and ending with the same two
# footer lines (boilerplate), with ten body lines no other record has; every
# 40th record is an exact copy of an earlier one, every 40th (another) an
# earlier one with a line added. The table of paragraphs that filter keeps
# grows half way through some records, after their header lines were looked
# up: what it decides on those lines must not depend on where the table, whose
# slots are salted per process, put them.
. "$(dirname "$0")/lib.sh"

# Under make check-valgrind a run takes about a minute: two runs still compare.
RUNS=5
[ "${DEDUP_BUILD:-}" = valgrind ] && RUNS=2

python3 - "$FIXTURES/seeds" "$T/news.jsonl" "$T/expected.jsonl" <<'EOF'
import json, os, random, sys

seeds, out_path, expected_path = sys.argv[1:]
words = sorted({w for name in sorted(os.listdir(seeds))
                for w in open(os.path.join(seeds, name), encoding="utf-8").read().split()
                if any(c.isalpha() for c in w)})
rng = random.Random(9)
HEADER = ["صحيفة الوطن السعودية اليومية الإلكترونية",
          "الرئيسية محليات اقتصاد رياضة ثقافة آراء",
          "تابعونا على تويتر وفيسبوك وإنستغرام لآخر الأخبار",
          "نشر في يوم الثلاثاء من شهر يوليو"]
FOOTER = ["جميع الحقوق محفوظة لصحيفة الوطن السعودية 2015",
          "زر الذهاب إلى الأعلى في الصفحة الرئيسية"]

def body_line():
    return " ".join(rng.choice(words) for _ in range(rng.randint(10, 16)))

records = []   # (id, text lines, original index or None, exact copy)
kept = []      # the indexes of the records that are not copies
for i in range(3000):
    rid = "news-%04d" % i
    if i % 40 == 20:
        k = rng.choice(kept)
        records.append((rid, list(records[k][1]), k, True))
    elif i % 40 == 39:
        k = rng.choice(kept)
        lines = list(records[k][1])
        lines.insert(len(HEADER) + 5, body_line())
        records.append((rid, lines, k, False))
    else:
        body = [body_line() for _ in range(10)]
        kept.append(i)
        records.append((rid, HEADER + body + FOOTER, None, False))

# What filter must say of each record (--boilerplate-df 3, --min-words 4):
# the first kept record loses nothing; in the second, the header and the
# footer each repeat the first's (runs of lines); from the third on, each of
# their lines is in three kept records or more: boilerplate, first seen in
# the first record. Body lines are never removed.
first = records[0]
n0 = len(first[1])
header = list(range(1, len(HEADER) + 1))
kept_before = 0
with open(out_path, "w", encoding="utf-8") as out, \
        open(expected_path, "w", encoding="utf-8") as exp:
    for rid, lines, orig, exact in records:
        out.write(json.dumps({"id": rid, "text": "\n".join(lines) + "\n"},
                             ensure_ascii=False) + "\n")
        if orig is not None:
            want = {"kept": False, "duplicate_of": records[orig][0], "exact": exact}
        else:
            n = len(lines)
            footer = list(range(n - len(FOOTER) + 1, n + 1))
            footer0 = list(range(n0 - len(FOOTER) + 1, n0 + 1))
            if kept_before == 0:
                removed = []
            elif kept_before == 1:
                removed = [["repeat", [1, len(HEADER)], [1, len(HEADER)]],
                           ["repeat", [footer[0], n], [footer0[0], n0]]]
            else:
                removed = [["boilerplate", [l, l], [l, l]] for l in header] + \
                          [["boilerplate", [l, l], [l0, l0]] for l, l0 in zip(footer, footer0)]
            want = {"kept": True, "removed": [
                {"kind": k, "lines": at, "of": {"record": first[0], "lines": of}}
                for k, at, of in removed]}
            kept_before += 1
        exp.write(json.dumps(dict(want, id=rid), ensure_ascii=False) + "\n")
EOF
[ -s "$T/news.jsonl" ] && ok "3,000 news records with boilerplate generated" \
    || not_ok "3,000 news records with boilerplate generated"

status=ok
for i in $(seq "$RUNS"); do
    "$DEDUP" filter --annotate --id-field id "$T/news.jsonl" >"$T/out$i.jsonl" 2>"$T/err$i" \
        || status="run $i: exit $?: $(head -c 600 "$T/err$i")"
done
[ "$status" = ok ] && ok "filter --annotate runs $RUNS times, exit 0" \
    || not_ok "filter --annotate runs $RUNS times, exit 0" "$status"

differ=""
for i in $(seq 2 "$RUNS"); do
    cmp -s "$T/out1.jsonl" "$T/out$i.jsonl" || differ="$differ $i"
done
[ -z "$differ" ] && ok "$RUNS runs give byte-identical output" \
    || not_ok "$RUNS runs give byte-identical output" \
        "runs differing from run 1:$differ; $(diff "$T/out1.jsonl" "$T/out${differ##* }.jsonl" |
            head -c 1500)"

# Each run's annotations are what the input calls for.
for i in $(seq "$RUNS"); do
    python3 - "$T/expected.jsonl" "$T/out$i.jsonl" >"$T/check$i" <<'EOF'
import json, sys
bad = []
expected = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
got = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
if len(got) != len(expected):
    bad.append("%d records out, %d in" % (len(got), len(expected)))
for want, rec in zip(expected, got):
    d = rec.get("dedup", {})
    if want["kept"]:
        have = {"kept": d.get("kept"), "removed": [
            {"kind": r["kind"], "lines": r["lines"], "of": r["of"]} for r in d.get("removed", [])]}
    else:
        have = {"kept": d.get("kept"), "duplicate_of": d.get("duplicate_of"),
                "exact": d.get("exact")}
    if rec.get("id") != want.pop("id"):
        bad.append("record %s where %s was expected" % (rec.get("id"), want))
    elif have != want:
        bad.append("%s: %s, want %s" % (rec.get("id"), json.dumps(have, ensure_ascii=False),
                                        json.dumps(want, ensure_ascii=False)))
print("%d records differ from what is expected" % len(bad))
for b in bad[:5]:
    print(b)
EOF
done
if grep -q '^0 records differ' "$T/check1"; then
    ok "every record is annotated as expected (copies, repeats, boilerplate)"
else
    not_ok "every record is annotated as expected (copies, repeats, boilerplate)" \
        "$(head -c 1500 "$T/check1")"
fi
wrong=""
for i in $(seq "$RUNS"); do
    grep -q '^0 records differ' "$T/check$i" || wrong="$wrong $i"
done
[ -z "$wrong" ] && ok "every run is annotated as expected" \
    || not_ok "every run is annotated as expected" "runs:$wrong; $(head -c 1500 "$T/check${wrong##* }")"

finish
