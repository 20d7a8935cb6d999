"""The generated corpora of the end-to-end tests, in one place.

A test script builds its corpus from these parts, in an inline script run
with this folder on PYTHONPATH ($TESTS in tests/e2e/lib.sh):

    PYTHONPATH="$TESTS" python3 - "$FIXTURES/seeds" "$G" <<'EOF'
    import sys
    from gen_docs import Words, write_files
    g = Words(sys.argv[1], seed=15)
    shared = [g.line() for _ in range(60)]
    docs = g.documents(260, [2, 3, 5, 8, 13, 40, 200], shared, repeat_every=9)
    ...
    write_files(sys.argv[2], docs, "doc%03d.txt", parts=5)
    EOF

Lines are words drawn from the seed articles (fixtures/seeds: real Arabic
news). Everything is deterministic for a seed: every draw goes through one
random.Random, in the order the calls are made, so a corpus changes only
when its script does. Standard library only.
"""
import os
import random

# Site navigation printed at the top of some documents: boilerplate.
NAV = "الرئيسية | أخبار | رياضة | اقتصاد | اتصل بنا"
# The word an edited copy gets in place of one of its words.
EDITED = "تعديل"


class Words:
    """Random lines of the seed articles' words, and documents made of them."""

    def __init__(self, seeds, seed, line_words=(8, 25)):
        self.rng = random.Random(seed)
        self.line_words = line_words
        self.words = []
        for name in sorted(os.listdir(seeds)):
            with open(os.path.join(seeds, name), encoding="utf-8") as f:
                self.words += f.read().split()

    def line(self, lo=None, hi=None):
        """A line of between lo and hi words (default: line_words)."""
        lo = self.line_words[0] if lo is None else lo
        hi = self.line_words[1] if hi is None else hi
        return " ".join(self.rng.choice(self.words) for _ in range(self.rng.randint(lo, hi)))

    def documents(self, n, sizes, shared, repeat_every, shared_every=3, nav_every=4):
        """n documents of random lines, each a list of lines. A document has
        rng.choice(sizes) lines (sizes a list) or rng.randint(*sizes) (sizes
        a pair); every shared_every-th gets one of the shared lines (quoted by
        several documents) at a random place, every repeat_every-th one of
        its own lines again (a repeat inside), every nav_every-th NAV first."""
        rng = self.rng
        docs = []
        for i in range(n):
            count = rng.randint(*sizes) if isinstance(sizes, tuple) else rng.choice(sizes)
            body = [self.line() for _ in range(count)]
            if i % shared_every == 0:
                body.insert(rng.randrange(len(body) + 1), rng.choice(shared))
            if i % repeat_every == 0:
                body.insert(rng.randrange(len(body) + 1), rng.choice(body))
            if i % nav_every == 0:
                body = [NAV] + body
            docs.append(body)
        return docs

    def edit_one_word(self, body):
        """A copy of body with one word of a random line replaced by EDITED:
        a near-duplicate."""
        copy = list(body)
        k = self.rng.randrange(len(copy))
        w = copy[k].split()
        w[self.rng.randrange(len(w))] = EDITED
        copy[k] = " ".join(w)
        return copy


def write_files(out, docs, name, parts=None):
    """Writes document i to out/name % i, one line a paragraph; with parts,
    in out/part{i % parts}/ instead."""
    for i, body in enumerate(docs):
        d = os.path.join(out, "part%d" % (i % parts)) if parts else out
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name % i), "w", encoding="utf-8") as f:
            f.write("\n".join(body) + "\n")
