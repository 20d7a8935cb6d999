#!/usr/bin/env bash
# What clean -o leaves out leaves a trace, in the same run:
#   - --clusters FILE: one JSON line per member of a cluster, the same
#     clusters (ids, members, representatives, similarities) as the report
#     of scan on the same inputs; scan --clusters writes the same file;
#   - --removed DIR2: what -o leaves out, mirroring the inputs: the copies'
#     files byte for byte, and for every shard (gzip, zstd, plain) a shard
#     of the same name and compression holding its records left out, so
#     that kept records + removed records = the input's records, each in
#     input order, byte for byte (a kept record whose text lost lines:
#     that value only rewritten); with --on-error drop, malformed records
#     and files that are not text go there too;
#   - the same outputs, byte for byte, at -j 1 and -j 3;
#   - errors (a --removed folder that cannot be made, a write that fails in
#     the middle, folders that overlap, a --clusters FILE that cannot be
#     written) end with status 2, and nothing is put in place: no -o
#     folder, no clusters file, no removed file, no temporary file left.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

# files/: the seeds and their syndicated variants. shards/: the same texts
# as records {"id", "text"}: a.jsonl.gz holds the first five, sub/b.jsonl.zst
# the other four (a blank line among them, no newline after the last), and
# c.jsonl (plain) a copy of a record of a.jsonl.gz and a record of its own.
mkdir files
cp "$FIXTURES"/seeds/*.txt "$FIXTURES"/variants/*.txt files/
mkdir -p shards/sub
python3 - <<'EOF'
import json, os
recs = []
for name in sorted(os.listdir("files")):
    text = open(os.path.join("files", name), encoding="utf-8").read()
    recs.append(json.dumps({"id": name[:-4], "text": text}, ensure_ascii=False))
open("a.jsonl", "w", encoding="utf-8").write("\n".join(recs[:5]) + "\n")
open("b.jsonl", "w", encoding="utf-8").write("\n".join(recs[5:7]) + "\n\n" + "\n".join(recs[7:]))
first = json.loads(recs[0])
own = "A record of its own, with words that no other document holds, about the weather in a small town by the sea.\n"
open("shards/c.jsonl", "w", encoding="utf-8").write(
    json.dumps({"id": "copy", "meta": 7, "text": first["text"]}, ensure_ascii=False) + "\n" +
    json.dumps({"text": own, "id": "own"}, ensure_ascii=False) + "\n")
EOF
gzip -c a.jsonl >shards/a.jsonl.gz
zstd -q -c b.jsonl >shards/sub/b.jsonl.zst

# check_clusters SCAN_REPORT CLUSTERS_FILE: the clusters file is the report's
# clusters, one line per member (doc, shard, shard_line, cluster,
# cluster_size, representative, then the member's similarity and the rest),
# in the report's order, with the same keys in the same order and the same
# numbers. Prints "fine" or what differs.
cat >check_clusters.py <<'EOF'
import json, sys
def pairs(line):
    return json.loads(line, object_pairs_hook=lambda kv: kv)
want = []
for line in open(sys.argv[1], encoding="utf-8"):
    rec = dict(json.loads(line))
    if rec.get("type") != "cluster":
        continue
    members = pairs(line)
    members = dict(members)["members"]
    for m in members:
        head = [kv for kv in m if kv[0] in ("doc", "shard", "shard_line")]
        rest = [kv for kv in m if kv[0] not in ("doc", "shard", "shard_line")]
        want.append(head + [("cluster", rec["id"]), ("cluster_size", len(members)),
                            ("representative", rec["representative"])] + rest)
got = [pairs(line) for line in open(sys.argv[2], encoding="utf-8")]
if not want:
    print("no clusters in the report")
elif got != want:
    print("got:\n%s\nwant:\n%s" % ("\n".join(map(str, got)), "\n".join(map(str, want))))
else:
    print("fine")
EOF

# check_shard INPUT KEPT REMOVED (decompressed): every line of INPUT is, in
# order, either the next line of REMOVED (byte for byte) or the next line of
# KEPT (byte for byte, or the same record with only its text changed), and
# nothing is left over. Prints "fine" or the first difference.
cat >check_shard.py <<'EOF'
import json, sys
def lines(path):
    data = open(path, "rb").read()
    return data.split(b"\n")[:-1] + ([data.split(b"\n")[-1]] if not data.endswith(b"\n") and data else [])
inp, kept, removed = (lines(p) for p in sys.argv[1:4])
k = r = 0
problems = []
for n, line in enumerate(inp, 1):
    if r < len(removed) and removed[r] == line:
        r += 1
    elif k < len(kept) and kept[k] == line:
        k += 1
    elif k < len(kept) and line.strip():
        a, b = json.loads(line), json.loads(kept[k])
        a.pop("text"); b.pop("text")
        if a != b:
            problems.append("line %d: neither the next kept nor the next removed record" % n)
            break
        k += 1
    else:
        problems.append("line %d: neither the next kept nor the next removed record" % n)
        break
if not problems and (k, r) != (len(kept), len(removed)):
    problems.append("left over: %d kept, %d removed" % (len(kept) - k, len(removed) - r))
print("\n".join(problems) if problems else "fine")
EOF

# unpack FILE: its content, decompressed as its name says.
unpack() {
    case $1 in
    *.gz) zcat "$1" ;;
    *.zst) zstdcat "$1" ;;
    *) cat "$1" ;;
    esac
}

# --- shards
"$DEDUP" scan -q -f jsonl shards >shards.scan
expect_status "clean -o --removed --clusters of gzip, zstd and plain shards" 0 \
    "$DEDUP" clean -q shards -o kept --removed rem --clusters clusters.jsonl
python3 check_clusters.py shards.scan clusters.jsonl >check.txt
expect_grep "... the clusters file holds the report's clusters, member by member" fine check.txt
expect_status "scan --clusters writes the same file" 1 "$DEDUP" scan -q shards --clusters scan.clusters
expect_same "... byte for byte" clusters.jsonl scan.clusters
grep -q '"doc":"copy","shard":"shards/c.jsonl","shard_line":1,"cluster":1,"cluster_size":3,"representative":"000_bd77016b1ff7f277","jaccard":1.0,"containment":1.0,"exact":true' clusters.jsonl &&
    ok "... a record named by its id, shard and line, its cluster, size, representative and similarity" ||
    not_ok "... a record named by its id, shard and line, its cluster, size, representative and similarity" "$(cat clusters.jsonl)"
(cd shards && find . -type f | sort) >in.names
(cd rem && find . -type f | sort) >rem.names
expect_same "--removed mirrors every shard, by name" in.names rem.names
gzip -t rem/a.jsonl.gz && zstd -q -t rem/sub/b.jsonl.zst && ! gzip -t rem/c.jsonl 2>/dev/null &&
    ok "... with its compression" || not_ok "... with its compression"
for s in a.jsonl.gz sub/b.jsonl.zst c.jsonl; do
    unpack "shards/$s" >in.lines
    unpack "kept/$s" >kept.lines
    unpack "rem/$s" >rem.lines
    python3 check_shard.py in.lines kept.lines rem.lines >check.txt
    expect_grep "$s: kept + removed records = its records, each in input order, byte for byte" fine check.txt
done
# The records removed are the members of clusters that are not their
# representatives (the first line of each cluster).
python3 - clusters.jsonl rem <<'EOF' >check.txt
import gzip, json, os, sys, subprocess
copies, seen = [], set()
for line in open(sys.argv[1], encoding="utf-8"):
    m = json.loads(line)
    if m["cluster"] in seen:
        copies.append((m["shard"][len("shards/"):], m["shard_line"], m["doc"]))
    seen.add(m["cluster"])
removed = []
for shard in ["a.jsonl.gz", "c.jsonl", "sub/b.jsonl.zst"]:
    path = os.path.join(sys.argv[2], shard)
    data = gzip.open(path).read() if shard.endswith(".gz") else \
        subprocess.run(["zstdcat", path], capture_output=True).stdout if shard.endswith(".zst") else open(path, "rb").read()
    removed += [json.loads(l)["id"] for l in data.decode().split("\n") if l.strip()]
want = [doc for shard, line, doc in sorted(copies)]
print("fine" if removed == want and len(removed) == 5 else "removed %s, want %s" % (removed, want))
EOF
expect_grep "... the records removed are the copies of the clusters file" fine check.txt
[ -z "$(find . -name '.dedup-tmp*')" ] &&
    ok "... no temporary file left" || not_ok "... no temporary file left"

# -j 1 and -j 3: the same files, byte for byte.
"$DEDUP" clean -q -j 1 shards -o out1 --removed rem1 --clusters clusters1.jsonl
"$DEDUP" clean -q -j 3 shards -o out3 --removed rem3 --clusters clusters3.jsonl
diff -r out1 out3 >/dev/null && diff -r rem1 rem3 >/dev/null && diff -r kept out1 >/dev/null &&
    diff -r rem rem1 >/dev/null && ok "-j 1 and -j 3 write the same cleaned and removed shards" ||
    not_ok "-j 1 and -j 3 write the same cleaned and removed shards" "$(diff -r rem1 rem3 | head -5)"
expect_same "... and the same clusters file" clusters1.jsonl clusters3.jsonl

# --- a folder of files
"$DEDUP" scan -q -f jsonl files >files.scan
expect_status "clean -o --removed --clusters of a folder of files" 0 \
    "$DEDUP" clean -q files -o fout --removed frem --clusters fclusters.jsonl
python3 check_clusters.py files.scan fclusters.jsonl >check.txt
expect_grep "... the clusters file holds the report's clusters" fine check.txt
ls frem >got
printf '%s\n' 000_syndicated.txt 002_near_identical.txt 003_rewrapped.txt 004_truncated.txt >want
expect_same "... --removed holds the four copies" want got
bad=
for f in files/*.txt; do
    name=${f#files/}
    if [ -e "frem/$name" ]; then
        cmp -s "$f" "frem/$name" || bad="$bad $name differs"
        [ -e "fout/$name" ] && bad="$bad $name in both"
    else
        [ -e "fout/$name" ] || bad="$bad $name in neither"
    fi
done
[ -z "$bad" ] && ok "... byte for byte; every file is in one of the two folders" ||
    not_ok "... byte for byte; every file is in one of the two folders" "$bad"
"$DEDUP" clean -q -j 3 files -o fout3 --removed frem3 --clusters fclusters3.jsonl
diff -r fout fout3 >/dev/null && diff -r frem frem3 >/dev/null && cmp -s fclusters.jsonl fclusters3.jsonl &&
    ok "... the same at -j 3" || not_ok "... the same at -j 3"
"$DEDUP" clean files -o fout4 --removed frem4 2>err >/dev/null
expect_grep "the summary counts the files under --removed" "5 files written under fout4, 4 under frem4" err

# --on-error drop: what -o does not copy goes to --removed; skip: to -o.
mkdir bad
cp files/001_0546f77b3de22a26.txt bad/
printf 'caf\xe9 au lait, a Latin-1 line\n' >bad/latin1.txt
{
    sed -n 1p a.jsonl
    echo '{"id": "x", "text": broken'
    sed -n 2p a.jsonl
} >bad/mixed.jsonl
expect_status "clean --on-error drop --removed: exit 2 (inputs left out)" 2 \
    "$DEDUP" clean -q --on-error drop bad -o dout --removed drem
cmp -s bad/latin1.txt drem/latin1.txt && [ ! -e dout/latin1.txt ] &&
    ok "... a file that is not text goes to --removed" || not_ok "... a file that is not text goes to --removed" "$(ls dout drem)"
python3 check_shard.py bad/mixed.jsonl dout/mixed.jsonl drem/mixed.jsonl >check.txt
expect_grep "... a malformed record too: kept + removed = the shard's records" fine check.txt
sed -n 2,3p bad/mixed.jsonl >want
expect_same "... the malformed record and the copy, in order" want drem/mixed.jsonl
expect_status "clean --on-error skip --removed: exit 2" 2 "$DEDUP" clean -q bad -o sout --removed srem
[ -e sout/latin1.txt ] && [ ! -e srem/latin1.txt ] && sed -n 3p bad/mixed.jsonl | cmp -s - srem/mixed.jsonl &&
    ok "... the inputs left out are copied by -o, not removed" || not_ok "... the inputs left out are copied by -o, not removed"

# --- errors: status 2, nothing put in place.
nothing_left() { # NAME PATH...: none of the paths exists, and no temporary file is left
    local name=$1 p
    shift
    for p in "$@"; do
        if [ -e "$p" ]; then
            not_ok "$name" "$p exists"
            return
        fi
    done
    if [ -n "$(find . -name '.dedup-tmp*')" ]; then
        not_ok "$name" "$(find . -name '.dedup-tmp*')"
        return
    fi
    ok "$name"
}
touch afile
expect_status "a --removed folder that cannot be made (its parent is a file): exit 2" 2 \
    "$DEDUP" clean -q shards -o e1.out --removed afile/rem --clusters e1.jsonl
expect_grep "... naming it" "dedup: afile/rem: Not a directory" "$T/err"
nothing_left "... nothing written: no -o folder, no clusters file" e1.out e1.jsonl
mkdir -p e2.rem/a.jsonl.gz e2.rem/sub
echo old >e2.rem/sub/keep.txt
expect_status "a removed shard that cannot be written (a folder in its place): exit 2" 2 \
    "$DEDUP" clean -q shards -o e2.out --removed e2.rem --clusters e2.jsonl
expect_grep "... naming it" "e2.rem/a.jsonl.gz: cannot replace it: Is a directory" "$T/err"
nothing_left "... nothing written: no -o folder, no clusters file" e2.out e2.jsonl e2.rem/c.jsonl e2.rem/sub/b.jsonl.zst
[ "$(cat e2.rem/sub/keep.txt)" = old ] && ok "... the folder's other files as they were" || not_ok "... the folder's other files as they were"
mkdir e3.out
echo old >e3.clusters
mkdir -p e3.rem/c.jsonl
expect_status "the same into an existing -o folder" 2 \
    "$DEDUP" clean -q shards -o e3.out --removed e3.rem --clusters e3.clusters
[ -z "$(ls -A e3.out)" ] && [ "$(cat e3.clusters)" = old ] && [ -z "$(find . -name '.dedup-tmp*')" ] &&
    ok "... leaves it empty, and the clusters file as it was" || not_ok "... leaves it empty, and the clusters file as it was" "$(ls -A e3.out)"
expect_status "a --clusters FILE in a folder that does not exist: exit 2" 2 \
    "$DEDUP" clean -q shards -o e4.out --removed e4.rem --clusters no/such/c.jsonl
expect_grep "... naming it" "dedup: no/such/c.jsonl: cannot create a temporary file beside it: No such file or directory" "$T/err"
nothing_left "... nothing written" e4.out e4.rem
mkdir e5.dir
expect_status "a --clusters FILE that is a folder: exit 2" 2 "$DEDUP" clean -q shards -o e5.out --clusters e5.dir
nothing_left "... nothing written" e5.out
expect_status "scan --clusters into a folder that does not exist: exit 2" 2 \
    "$DEDUP" scan -q shards --clusters no/such/c.jsonl
[ ! -s "$T/out" ] && ok "... before any report" || not_ok "... before any report" "$(head -c 300 "$T/out")"
expect_status "--removed inside the -o folder: exit 2" 2 "$DEDUP" clean -q shards -o e6.out --removed e6.out/rem
expect_grep "... saying why" "e6.out/rem: --removed is inside the output directory e6.out" "$T/err"
expect_status "--removed the -o folder itself: exit 2" 2 "$DEDUP" clean -q shards -o e7 --removed e7
expect_status "--removed inside an input folder: exit 2" 2 "$DEDUP" clean -q shards -o e8.out --removed shards/rem
nothing_left "... nothing written by the three" e6.out e7 e8.out shards/rem
expect_status "--removed without -o (--in-place): exit 2" 2 "$DEDUP" clean -q --in-place files --removed e9
expect_grep "... saying it goes with -o" "clean: --removed DIR2 goes with -o DIR" "$T/err"
cp -r files inplace
expect_status "clean --in-place --clusters" 0 "$DEDUP" clean -q --in-place inplace --clusters inplace.jsonl
# In place the copies stay and are cleaned too: found again in a later
# round, with the similarity of then; the same members in the same clusters.
members() { sed 's|"doc":"[a-z]*/|"doc":"|; s|"representative":"[a-z]*/|"representative":"|; s|,"jaccard".*||' "$1"; }
members fclusters.jsonl >want
members inplace.jsonl >got
expect_same "... the same clusters as clean -o, member by member" want got
grep -q '"doc":"inplace/003_rewrapped.txt","cluster":4,"cluster_size":2,"representative":"inplace/003_9004b0353d6ebc11.txt","jaccard":0.8222,"containment":0.9907,"round":2' inplace.jsonl &&
    ok "... a copy found again on the cleaned text: its similarity then, and its round" ||
    not_ok "... a copy found again on the cleaned text: its similarity then, and its round" "$(cat inplace.jsonl)"
expect_status "--dry-run with --clusters: exit 2" 2 "$DEDUP" clean -q --dry-run shards -o e10 --clusters e10.jsonl
nothing_left "... nothing written" e10 e10.jsonl
expect_status "--clusters is not an option of check" 2 "$DEDUP" check -q files/000_syndicated.txt --clusters x

finish
