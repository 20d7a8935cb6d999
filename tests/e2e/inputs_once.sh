#!/usr/bin/env bash
# Each file is read once, however often it is reached: named twice, inside
# a folder named as well, through a hard link, or in a folder named twice.
# Files are told apart by (device, inode) in the program's table of exact
# keys (key_table.h); 700 files make that table double on the way.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

mkdir docs other
for i in $(seq 1 700); do
    echo "document $i has words of its own: alpha$i beta$i gamma$i delta$i epsilon$i" \
        >"docs/f$i.txt"
done
ln docs/f1.txt other/link-to-f1.txt
ln docs/f700.txt other/link-to-f700.txt
echo "a file of its own in the other folder, with words no other file has" >other/own.txt

# summary_documents FILE: the documents the summary record counts.
summary_documents() { sed -n 's/.*"type":"summary","documents":\([0-9]*\),.*/\1/p' "$1"; }

expect_status "scan of folders, links and files named again: no copies" 0 \
    "$DEDUP" scan -f jsonl docs other docs/f2.txt docs/f2.txt docs/f699.txt docs
cp "$T/out" scan.out
cp "$T/err" scan.err
n=$(summary_documents scan.out)
# (a hard link is the same file: read as the first path that reached it)
[ "$n" = 701 ] && ok "701 documents read (700, and other/own.txt), each once" ||
    not_ok "701 documents read, each once" "the summary counts ${n:-none}: $(tail -1 scan.out)"
expect_grep "a file named twice is said once" "docs/f2.txt: named twice, read once" scan.err
[ "$(grep -c 'named twice' scan.err)" = 3 ] &&
    ok "three warnings: docs/f2.txt named again twice, docs/f699.txt once; none for the folders" ||
    not_ok "three warnings" "$(cat scan.err)"

finish
