#!/usr/bin/env bash
# dedup filter --annotate --id-field: every id in the "dedup" member
# (duplicate_of, and removed[].of.record) is the id as the input spelled it,
# byte for byte, whatever its JSON type and size, so that joining the output
# back on the id always works. (jansson reads every integer as a real: 42
# came back as 42.0, 1234567890123456789 as 1.23456789e18, "s\u00e9" as "se".)
#
# The records: the first and second halves of the five seed articles (ten
# different texts, some repeating paragraphs of others), each with an id of
# another kind, then an exact copy of each, with ids "copy-0" to "copy-9".
. "$(dirname "$0")/lib.sh"
cd "$FIXTURES"

# The ids as written, one a line.
cat >"$T/ids" <<'EOF_IDS'
42
1234567890123456789
123456789012345678901234567890
1.50
1e3
-0
"s\u00e9"
{"a": [1, 2.0], "b":"x\"y"}
-7
"plain"
EOF_IDS

# make_input LAYOUT OUT: the twenty records. LAYOUT top: "id" at the top,
# every other record with spaces around the value; nested: "meta.id".
make_input() {
    python3 - "$1" "$T/ids" "$2" seeds/*.txt <<'EOF_PY'
import json, sys
layout, ids = sys.argv[1], open(sys.argv[2], encoding="utf-8").read().splitlines()
texts = []
for path in sys.argv[4:]:
    lines = open(path, encoding="utf-8").read().splitlines(keepends=True)
    half = len(lines) // 2
    texts += ["".join(lines[:half]), "".join(lines[half:])]
assert len(texts) == len(ids) == 10
def record(i, t, n):
    t = json.dumps(t, ensure_ascii=False)
    if layout == "nested":
        return '{"meta":{"source":"seeds","id":%s},"text":%s}\n' % (i, t)
    if n % 2:
        return '{"text":%s, "id" :  %s ,"n":%d}\n' % (t, i, n)
    return '{"id":%s,"text":%s}\n' % (i, t)
with open(sys.argv[3], "w", encoding="utf-8") as out:
    for n, (i, t) in enumerate(zip(ids, texts)):
        out.write(record(i, t, n))
    for n, t in enumerate(texts):
        out.write(record('"copy-%d"' % n, t, n))
EOF_PY
}

# ids_in OUTPUT: one line per record: its id and each id of its "dedup"
# member ("duplicate_of=ID", "record=ID"), all as the bytes of the output,
# cut where the value ends (raw_decode says where).
ids_in() {
    python3 - "$1" <<'EOF_PY'
import json, re, sys
dec = json.JSONDecoder()
def raw(s, at):
    return s[at:dec.raw_decode(s, at)[1]]
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.rstrip("\n")
    at = line.rindex(',"dedup":') + len(',"dedup":')
    member = raw(line, at)
    found = ["%s=%s" % (m.group(1), raw(member, m.end()))
             for m in re.finditer(r'"(duplicate_of|record)":', member)]
    m = re.search(r'"id" *: *', line)
    print(raw(line, m.end()), *found)
EOF_PY
}

# The copies' lines must be these: each names its original by its id.
paste -d' ' <(seq 0 9 | sed 's/.*/"copy-&"/') <(sed 's/^/duplicate_of=/' "$T/ids") >"$T/copies.want"

for layout in top nested; do
    field=id
    [ "$layout" = nested ] && field=meta.id
    make_input "$layout" "$T/in.jsonl"
    name="filter --annotate --id-field $field"
    "$DEDUP" filter --annotate --id-field "$field" "$T/in.jsonl" >"$T/out.jsonl" 2>"$T/err"
    st=$?
    if [ "$st" = 0 ] && [ "$(wc -l <"$T/out.jsonl")" = 20 ] && [ ! -s "$T/err" ]; then
        ok "$name: 20 records out"
    else
        not_ok "$name: 20 records out" "exit $st: $(head -c 600 "$T/err")"
    fi
    ids_in "$T/out.jsonl" >"$T/found"
    tail -n 10 "$T/found" >"$T/copies"
    expect_same "$name: duplicate_of is each original's id, byte for byte" \
        "$T/copies.want" "$T/copies"
    # The paragraphs a kept record repeats name the record they repeat:
    # some do here, and each name is one of the ids as written.
    head -n 10 "$T/found" | tr ' ' '\n' | sed -n 's/^record=//p' >"$T/records"
    bad=$(grep -vxF -f "$T/ids" "$T/records")
    if [ -s "$T/records" ] && [ -z "$bad" ]; then
        ok "$name: removed[].of.record is an id as written ($(sort -u "$T/records" | tr '\n' ' '))"
    else
        not_ok "$name: removed[].of.record is an id as written" \
            "$(wc -l <"$T/records") references; not as written: $bad"
    fi
done

finish
