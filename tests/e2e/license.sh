#!/usr/bin/env bash
# End-to-end checks of the license: LICENSE at the top of the tree is the MIT
# license of "the dedup authors", the README and both man pages name it,
# `dedup --version` (also after a command) and `shingle --version` print it
# on a second line, and `make install` installs it beside the binaries and
# man pages, and nothing else (`make uninstall` removes all of it again).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

TOP=$(cd "$(dirname "$0")/../.." && pwd)

if head -1 "$TOP/LICENSE" 2>/dev/null | grep -qx 'MIT License' &&
    grep -qx 'Copyright (c) 2026 the dedup authors' "$TOP/LICENSE" &&
    grep -q 'THE SOFTWARE IS PROVIDED "AS IS"' "$TOP/LICENSE"; then
    ok "LICENSE is the MIT license of the dedup authors"
else
    not_ok "LICENSE is the MIT license of the dedup authors" \
        "$(head -3 "$TOP/LICENSE" 2>&1)"
fi
expect_grep "README.md names the license" "MIT: see [\`LICENSE\`](LICENSE)" "$TOP/README.md"
for page in dedup.1 shingle.1; do
    expect_grep "$page has a LICENSE section" ".SH LICENSE" "$TOP/man/$page"
done

# version_says NAME WANT_FIRST_LINE CMD...: CMD exits 0 and prints its
# version, then "License: MIT", and nothing else.
version_says() {
    local name=$1 first=$2
    shift 2
    "$@" >"$T/version" 2>"$T/version.err"
    local st=$?
    printf '%s\nLicense: MIT\n' "$first" >"$T/version.want"
    if [ "$st" = 0 ] && cmp -s "$T/version.want" "$T/version"; then ok "$name"
    else not_ok "$name" "exit $st; stdout: $(head -c 300 "$T/version"); stderr: $(head -c 300 "$T/version.err")"; fi
}
version=$("$DEDUP" --version | head -1 | sed 's/^dedup //')
version_says "dedup --version names the license" "dedup $version" "$DEDUP" --version
version_says "dedup -V names the license" "dedup $version" "$DEDUP" -V
version_says "dedup scan --version names the license" "dedup $version" "$DEDUP" scan --version
version_says "shingle --version names the license" "shingle $version" "$SHINGLE" --version

# make install into a scratch DESTDIR, with the binaries already built (-o
# all: nothing is rebuilt): exactly these files, LICENSE byte for byte.
if [ -x "$TOP/bin/dedup" ] && [ -x "$TOP/bin/shingle" ] && command -v make >/dev/null; then
    make -s -C "$TOP" -o all install DESTDIR="$T/root" PREFIX=/usr/local >"$T/install.out" 2>&1
    st=$?
    (cd "$T/root" && find . -type f | sort) >"$T/installed"
    printf '%s\n' ./usr/local/bin/dedup ./usr/local/bin/shingle \
        ./usr/local/share/doc/dedup/LICENSE \
        ./usr/local/share/man/man1/dedup.1 ./usr/local/share/man/man1/shingle.1 >"$T/installed.want"
    if [ "$st" = 0 ] && cmp -s "$T/installed.want" "$T/installed" &&
        cmp -s "$TOP/LICENSE" "$T/root/usr/local/share/doc/dedup/LICENSE"; then
        ok "make install installs the binaries, the man pages and LICENSE, nothing else"
    else
        not_ok "make install installs the binaries, the man pages and LICENSE, nothing else" \
            "exit $st: $(head -c 400 "$T/install.out"); $(diff "$T/installed.want" "$T/installed")"
    fi
    make -s -C "$TOP" uninstall DESTDIR="$T/root" PREFIX=/usr/local >"$T/uninstall.out" 2>&1
    st=$?
    left=$(cd "$T/root" && find . -type f -o -type d -path './usr/local/share/doc/*')
    if [ "$st" = 0 ] && [ -z "$left" ]; then ok "make uninstall removes all of it"
    else not_ok "make uninstall removes all of it" "exit $st: $(head -c 400 "$T/uninstall.out"); left: $left"; fi
else
    ok "make install installs LICENSE # SKIP no bin/dedup, bin/shingle or make in $TOP"
fi

finish
