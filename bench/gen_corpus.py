#!/usr/bin/env python3
"""Generate a benchmark corpus: bench/gen_corpus.py OUTDIR [--mb 100] [--seed 1]

Documents of 2 to 20 kB in nested folders (OUTDIR/NN/NNNNNN.txt), one
paragraph per line, sometimes with blank lines between paragraphs. About 70%
of the text is Arabic: paragraphs of the seed articles (fixtures/seeds,
about a tenth of all paragraphs, so unrelated documents share some) and
generated Arabic words; the rest is generated text in Latin
with accents, Cyrillic, Greek, Chinese and Thai (the last two without spaces).
Some documents repeat a paragraph, some carry site boilerplate, and some are
edited copies of earlier documents. Deterministic for a given seed; nothing
is downloaded.
"""
import argparse
import glob
import os
import random

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = {
    "arabic": "ابتثجحخدذرزسشصضطظعغفقكلمنهويةىأإآ",
    "latin": "abcdefghijklmnopqrstuvwxyzéèêàçôüöäß",
    "cyrillic": "абвгдежзийклмнопрстуфхцчшщыэюя",
    "greek": "αβγδεζηθικλμνξοπρστυφχψω",
}
HAN = [chr(c) for c in range(0x4E00, 0x4E00 + 2000)]
THAI = [chr(c) for c in range(0x0E01, 0x0E2F)] + ["า", "ิ", "ี", "ุ", "ู", "เ", "แ", "่", "้"]
BOILERPLATE = ["زر الذهاب إلى الأعلى", "اترك تعليقاً", "Back to top", "جميع الحقوق محفوظة لموقع الأخبار"]


# words() and chars() make exactly the calls of rng.randint(2, 9) and
# rng.choice(alphabet) (random.Random._randbelow: getrandbits(n.bit_length())
# until below n), inlined because they are most of the running time; the
# corpus for a seed is the same as with those calls.
def chars(rng, alphabet, count):
    getrandbits, n = rng.getrandbits, len(alphabet)
    k = n.bit_length()
    out = []
    for _ in range(count):
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        out.append(alphabet[r])
    return "".join(out)


def words(rng, alphabet, n):
    getrandbits, m = rng.getrandbits, len(alphabet)
    k = m.bit_length()
    out = []
    for _ in range(n):
        length = getrandbits(4)  # rng.randint(2, 9)
        while length >= 8:
            length = getrandbits(4)
        w = []
        for _ in range(length + 2):
            r = getrandbits(k)
            while r >= m:
                r = getrandbits(k)
            w.append(alphabet[r])
        out.append("".join(w))
    return " ".join(out)


def paragraph(rng, seeds):
    r = rng.random()
    if r < 0.10:
        return rng.choice(seeds)
    if r < 0.70:
        return words(rng, SCRIPTS["arabic"], rng.randint(15, 80)) + "."
    if r < 0.82:
        return words(rng, SCRIPTS["latin"], rng.randint(15, 60)).capitalize() + "."
    if r < 0.88:
        return words(rng, SCRIPTS["cyrillic"], rng.randint(15, 60)) + "."
    if r < 0.92:
        return words(rng, SCRIPTS["greek"], rng.randint(15, 60)) + "."
    if r < 0.96:
        return chars(rng, HAN, rng.randint(30, 120)) + "。"
    return chars(rng, THAI, rng.randint(40, 150))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--mb", type=float, default=100)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    seeds = []
    for f in sorted(glob.glob(os.path.join(ROOT, "fixtures", "seeds", "*.txt"))):
        seeds += [l for l in open(f, encoding="utf-8").read().split("\n") if len(l.split()) > 3]
    target = int(args.mb * 1024 * 1024)
    total = n = 0
    recent = []
    while total < target:
        if recent and rng.random() < 0.1:  # an edited copy of a recent document
            doc = list(rng.choice(recent))
            if len(doc) > 3:
                del doc[rng.randrange(len(doc))]
            doc.insert(0, words(rng, SCRIPTS["arabic"], 6))
        else:
            doc, size, have = [], rng.randint(2000, 20000), 0
            while have < size:
                doc.append(paragraph(rng, seeds))
                have += len(doc[-1].encode())
            if rng.random() < 0.1:
                doc.append(rng.choice(doc))
            if rng.random() < 0.3:
                doc.append(rng.choice(BOILERPLATE))
        recent = (recent + [doc])[-50:]
        sep = "\n\n" if rng.random() < 0.3 else "\n"
        data = (sep.join(doc) + "\n").encode()
        folder = os.path.join(args.out, "%02d" % (n // 1000))
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "%06d.txt" % n), "wb") as f:
            f.write(data)
        total += len(data)
        n += 1
    print("%s: %d documents, %.1f MB" % (args.out, n, total / 1e6))


if __name__ == "__main__":
    main()
