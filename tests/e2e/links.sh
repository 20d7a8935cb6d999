#!/usr/bin/env bash
# Planted symbolic links (issue 14, item 3). Whoever can write in a shared
# folder can put there a link to a file elsewhere; dedup clean --in-place,
# run by root say, must not rewrite that file through it: it says so and
# leaves it. A link to a file inside the named trees is followed (the file
# is cleaned once, the link stays). clean -o gives each copy its source's
# permission bits: a file readable by its owner only stays so.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
cd "$T" || exit 1

# doc N: a document of its own (words that name N), whose line 4 repeats
# its line 2: clean removes line 4.
doc() {
    local n=$1 k
    for k in 1 2 3 2; do
        echo "Report $n part $k: the council of town$n voted on item$k$n after a debate$n lasting hours$k$n"
    done
}

# cleaned N: what clean -o makes of doc N.
cleaned() {
    local n=$1 k
    for k in 1 2 3; do
        echo "Report $n part $k: the council of town$n voted on item$k$n after a debate$n lasting hours$k$n"
    done
}
for n in 1 2 3 4 5 6 7 8; do
    doc $n >doc$n.txt
    cleaned $n >want$n.txt
done
rm -rf check.in check.out && mkdir check.in && cp doc1.txt doc2.txt check.in/
"$DEDUP" clean check.in -o check.out 2>/dev/null
if cmp -s check.out/doc1.txt want1.txt && cmp -s check.out/doc2.txt want2.txt; then
    ok "clean -o removes each document's repeated line, and nothing else"
else
    not_ok "clean -o removes each document's repeated line, and nothing else" "$(diff check.out/doc1.txt want1.txt)"
fi

# setup: tree/ with a file of its own, a link planted to a file outside, a
# link to a file inside (sorted before it), and links to directories.
setup() {
    rm -rf tree outside
    mkdir -p tree/sub outside
    cp doc1.txt tree/own.txt
    cp doc2.txt outside/victim.txt
    ln -s ../outside/victim.txt tree/planted.txt
    cp doc3.txt tree/sub/inner.txt
    ln -s sub/inner.txt tree/alias.txt
    ln -s ../outside tree/outdir
    ln -s . tree/loop
}

setup
expect_status "clean --in-place with a link planted to a file outside: exit 2" 2 "$DEDUP" clean --in-place tree
expect_grep "... saying so" \
    "dedup: tree/planted.txt: a symbolic link to $T/outside/victim.txt, outside the named folders; not cleaned in place" "$T/err"
expect_same "... the file outside is untouched" doc2.txt outside/victim.txt
[ -L tree/planted.txt ] && ok "... the link stays a link" || not_ok "... the link stays a link"
expect_same "... the tree's own file is cleaned" want1.txt tree/own.txt
expect_same "... a link to a file inside the tree: the file is cleaned, once" want3.txt tree/sub/inner.txt
[ -L tree/alias.txt ] && ok "... and that link stays a link" || not_ok "... and that link stays a link"
expect_grep "... a link to a directory is not followed" "tree/outdir: symbolic link to a directory, not followed" "$T/err"
expect_grep "... nor a link loop" "tree/loop: symbolic link to a directory, not followed" "$T/err"

setup
expect_status "--dry-run refuses it too (exit 2)" 2 "$DEDUP" clean --in-place --dry-run tree
expect_grep "... saying so" "dedup: tree/planted.txt: a symbolic link to" "$T/err"
if grep -q '^--- tree/planted.txt' "$T/out"; then not_ok "... and shows no change for it" "$(head -3 "$T/out")"; else
    ok "... and shows no change for it"; fi
expect_grep "... while it shows the others" "--- tree/own.txt" "$T/out"

# Named one by one (a shell glob names the planted link too): the same.
setup
expect_status "clean --in-place tree/*.txt: the planted link refused (exit 2)" 2 \
    "$DEDUP" clean --in-place tree/alias.txt tree/own.txt tree/planted.txt
expect_same "... the file outside is untouched" doc2.txt outside/victim.txt
expect_same "... the others are cleaned" want1.txt tree/own.txt

# Naming the file itself is how to clean it.
setup
expect_status "clean --in-place outside/victim.txt: cleaned (exit 0)" 0 "$DEDUP" clean --in-place outside/victim.txt
expect_same "... as named" want2.txt outside/victim.txt

# A file turned into a link after the walk, its target's text the same (so
# that only the link gives it away): the check is made just before writing.
# The writer of a FIFO named last swaps it before the run goes on.
setup
rm tree/planted.txt
cp doc4.txt tree/late.txt
cp doc4.txt outside/late-victim.txt
rm -f last.fifo
mkfifo last.fifo
timeout 60 sh -c 'exec 3>last.fifo; echo "a line of its own in the FIFO" >&3;
    rm tree/late.txt; ln -s ../outside/late-victim.txt tree/late.txt; exec 3>&-' &
expect_status "a file swapped for a link to outside after the walk: refused (exit 2)" 2 \
    timeout 60 "$DEDUP" clean --in-place tree last.fifo
wait
expect_grep "... saying so" "dedup: tree/late.txt: a symbolic link to $T/outside/late-victim.txt" "$T/err"
expect_same "... its target is untouched" doc4.txt outside/late-victim.txt

# The same with a folder: tree/sub swapped for a link to a folder outside
# holding a file of the same text, while dedup waits on the FIFO.
rm -rf tree outside last.fifo
mkdir -p tree/sub outside
cp doc4.txt tree/sub/inner.txt
cp doc4.txt outside/inner.txt
mkfifo last.fifo
timeout 60 sh -c 'exec 3>last.fifo; echo "a line of its own in the FIFO" >&3;
    mv tree/sub tree/sub.moved; ln -s ../outside tree/sub; exec 3>&-' &
expect_status "a folder swapped for a link to outside after the walk: refused (exit 2)" 2 \
    timeout 60 "$DEDUP" clean --in-place tree last.fifo
wait
expect_grep "... saying so" "dedup: tree/sub/inner.txt: a symbolic link to $T/outside/inner.txt" "$T/err"
expect_same "... the file outside is untouched" doc4.txt outside/inner.txt

# The instant between the last check and the write: a folder on the way
# swapped for a link to a folder outside once dedup has checked the file,
# just before it creates the temporary file. No planter can count on
# winning that instant, but one can try as often as dedup runs; here
# hold_at_open.c (preloaded) holds dedup exactly there while the folder is
# swapped. The write must follow no link: the file outside is untouched
# (it would get the cleaned text of the file in the tree), the file is
# named, and the run exits 2.
if ${CC:-cc} -shared -fPIC -o hold.so "$here/hold_at_open.c" -ldl 2>cc.err; then
    rm -rf tree outside pause.fifo
    mkdir -p tree/sub outside
    cp doc1.txt tree/sub/inner.txt
    cp doc2.txt tree/top.txt
    echo "a file the planter cannot write" >outside/inner.txt
    cp outside/inner.txt victim.before
    mkfifo pause.fifo
    timeout 60 sh -c 'exec 3>pause.fifo; mv tree/sub tree/sub.moved; ln -s ../outside tree/sub;
        exec 3>&-' &
    swapper=$!
    expect_status "a folder swapped for a link between the check and the write: exit 2" 2 \
        env DEDUP_TEST_HOLD_AT=.dedup-tmp. DEDUP_TEST_HOLD_FIFO="$T/pause.fifo" \
        LD_PRELOAD="$T/hold.so" \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
        timeout 60 "$DEDUP" clean --in-place tree
    kill "$swapper" 2>/dev/null
    wait "$swapper" 2>/dev/null
    [ -L tree/sub ] && ok "... (the folder was swapped while dedup waited)" \
        || not_ok "... (the folder was swapped while dedup waited)" "$(ls -l tree)"
    expect_same "... the file outside is untouched" victim.before outside/inner.txt
    expect_grep "... the file is named" \
        "dedup: tree/sub/inner.txt: its folder was moved, or a folder on its way replaced by a symbolic link, while dedup was running; left as it was" "$T/err"
    expect_same "... and left as it was" doc1.txt tree/sub.moved/inner.txt
    left=$(ls -A tree/sub.moved outside | grep -c dedup-tmp)
    [ "$left" = 0 ] && ok "... no temporary file left" || not_ok "... no temporary file left" "$(ls -A tree/sub.moved outside)"
    expect_same "... the other files are cleaned" want2.txt tree/top.txt
else
    not_ok "build the hold helper" "$(cat cc.err)"
fi

# clean -o: each copy has its source's permission bits, whatever the umask.
rm -rf modes modes.out
mkdir modes
cp doc5.txt modes/secret.txt && chmod 600 modes/secret.txt
cp doc6.txt modes/group.txt && chmod 640 modes/group.txt
cp doc7.txt modes/public.txt && chmod 644 modes/public.txt
printf 'not \xff text\n' >modes/latin1.txt && chmod 600 modes/latin1.txt
cp doc8.txt modes/private.txt && chmod 600 modes/private.txt
ln -s ../modes/private.txt modes/a-link.txt
cp doc1.txt modes/setuid.txt && chmod 4755 modes/setuid.txt
(umask 000 && "$DEDUP" clean modes -o modes.out 2>/dev/null)
modes_of() { for f in secret group public latin1 a-link setuid; do printf '%s %s\n' $f "$(stat -c %a "$1/$f.txt" 2>&1)"; done; }
printf '%s\n' "secret 600" "group 640" "public 644" "latin1 600" "a-link 600" "setuid 755" >want-modes
modes_of modes.out >got-modes
expect_same "clean -o (umask 000): each copy has its source's bits, never wider, no set-id bit" want-modes got-modes
rm -rf modes.out
(umask 077 && "$DEDUP" clean modes -o modes.out 2>/dev/null)
modes_of modes.out >got-modes
expect_same "clean -o (umask 077): the same" want-modes got-modes

# ... and each folder it makes has its source folder's bits: a folder
# readable by its owner only (0700) is not copied world-readable, whatever
# the umask; a folder that was there is left as it is. Inputs merged into
# one output folder give it the bits common to theirs.
rm -rf folders folders.out folders.there other
mkdir -p folders/private/inner folders/group folders/public folders/shared other/shared
n=2
for d in private private/inner group public shared; do
    n=$((n + 1))
    cp doc$n.txt folders/$d/a.txt # another document in each folder: none is a copy
done
cp doc8.txt other/shared/b.txt
chmod 700 folders/private && chmod 750 folders/private/inner folders/group
chmod 755 folders/public folders/shared && chmod 711 folders
chmod 755 other && chmod 700 other/shared
folder_modes() {
    for d in "" /private /private/inner /group /public /shared; do
        printf '%s %s\n' "${d:-/}" "$(stat -c %a "$1$d" 2>&1)"
    done
}
printf '%s\n' "/ 711" "/private 700" "/private/inner 750" "/group 750" "/public 755" \
    "/shared 755" >want-folders
(umask 000 && "$DEDUP" clean folders -o folders.out 2>/dev/null)
folder_modes folders.out >got-folders
expect_same "clean -o (umask 000): each folder it makes has its source folder's bits" \
    want-folders got-folders
mkdir folders.there && chmod 750 folders.there
(umask 077 && "$DEDUP" clean folders -o folders.there 2>/dev/null)
folder_modes folders.there >got-folders
sed 's|^/ 711$|/ 750|' want-folders >want-there
expect_same "clean -o into a folder that exists (umask 077): the same, that folder left as it is" \
    want-there got-folders
rm -rf folders.out
(umask 022 && "$DEDUP" clean folders other -o folders.out 2>/dev/null)
printf '%s\n' "/ 711" "/shared 700" >want-merged
printf '%s %s\n' / "$(stat -c %a folders.out)" /shared "$(stat -c %a folders.out/shared)" >got-merged
expect_same "clean -o of two folders into one: the bits common to their sources (0711 & 0755, 0755 & 0700)" \
    want-merged got-merged

finish
