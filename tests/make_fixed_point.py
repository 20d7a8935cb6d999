#!/usr/bin/env python3
"""Write a corpus on which one pass of cleaning is not enough unless clean
decides on the text as it will be after removal (tests/e2e/fixed_point.sh):

    python3 tests/make_fixed_point.py OUTDIR [--docs 240] [--seed 1]

Documents OUTDIR/NNN.txt, one paragraph per line, built from the paragraphs
of the seed articles (fixtures/seeds: real Arabic news), deterministic for a
seed, standard library only. Among them, in random places, the patterns
that a second clean used to act on:

- short lines repeated together, with boilerplate lines between them: once
  the boilerplate is gone they are consecutive, a run of enough words;
- part of an article printed after paragraphs it repeats from another one:
  once those are gone, the rest is a copy of the article;
- a paragraph first printed in a copy (left out), printed unchanged in a
  later article that is kept, and lightly edited in a third one: the edited
  one is a near-repeat of the paragraph that is kept;
- lightly edited copies, paragraphs shared between unrelated articles, a
  paragraph repeated inside an article.
"""
import argparse
import glob
import os
import random

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Site furniture, in at least --boilerplate-df documents each.
BOILERPLATE = ["جميع الحقوق محفوظة لموقع الأخبار", "زر الذهاب إلى الأعلى"]
# Pairs of short lines printed together (a decree's number and its heading),
# each line under --min-words words, the two together above.
SHORT_PAIRS = [("الرقم : أ / 267", "بعون الله تعالى"), ("المرجع : ق / 41", "بسم الله وحده")]


def seed_paragraphs():
    """The lines of the seed articles of at least 8 words, in file order."""
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, "fixtures", "seeds", "*.txt"))):
        with open(path, encoding="utf-8") as f:
            out += [line.strip() for line in f if len(line.split()) >= 8]
    return out


def edit(rng, paragraph, share):
    """The paragraph with about share of its words swapped with a neighbour's
    or dropped: a light edit, as another site makes."""
    words = paragraph.split()
    for _ in range(max(1, int(len(words) * share))):
        i = rng.randrange(len(words))
        if rng.random() < 0.5 and len(words) > 8:
            del words[i]
        else:
            j = min(len(words) - 1, i + 1)
            words[i], words[j] = words[j], words[i]
    return " ".join(words)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--docs", type=int, default=240)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    pool = seed_paragraphs()
    docs = []  # each a list of lines
    stories = []  # indexes of documents that are original articles

    def story():
        return [edit(rng, p, 0.1) if rng.random() < 0.5 else p
                for p in rng.sample(pool, rng.randint(4, 8))]

    while len(docs) < args.docs:
        kind = rng.random()
        if kind < 0.45 or len(stories) < 3:
            lines = story()
            if rng.random() < 0.15:  # a paragraph repeated inside it
                lines.insert(rng.randrange(len(lines)), rng.choice(lines))
            stories.append(len(docs))
        elif kind < 0.6:  # a light copy of an earlier article
            lines = [edit(rng, p, 0.05) for p in docs[rng.choice(stories)]]
        elif kind < 0.75:  # part of an article, after paragraphs of another
            base = docs[rng.choice(stories)]
            other = docs[rng.choice(stories)]
            lines = [p for p in other[:3] if p not in base] + base[: max(2, len(base) * 2 // 3)]
        elif kind < 0.9:  # short lines together, furniture between them
            first, second = rng.choice(SHORT_PAIRS)
            lines = story()
            at = rng.randrange(len(lines) + 1)
            lines[at:at] = [first, BOILERPLATE[0], second, BOILERPLATE[1]]
        else:  # first printed in a copy, then unchanged, then edited
            base = stories[-1]
            extra = rng.choice(pool)
            docs.append([extra] + [edit(rng, p, 0.02) for p in docs[base]])
            lines = story() + [extra]
            docs.append(lines)
            lines = story() + [edit(rng, extra, 0.02)]
        if rng.random() < 0.3:
            lines.append(rng.choice(BOILERPLATE))
        docs.append(lines)
    os.makedirs(args.outdir, exist_ok=True)
    for i, lines in enumerate(docs):
        with open(os.path.join(args.outdir, "%03d.txt" % i), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
