#!/usr/bin/env python3
"""Generate streams of documents that share paragraphs, the worst case of candidate search.

    bench/gen_shared.py KIND --mb MB [--seed 1] (--jsonl FILE | --files DIR)
    bench/gen_shared.py KIND --records N [--seed 1] (--jsonl FILE | --files DIR)

KIND is one of:
  one   two-paragraph records: the first paragraph is the same in every record,
        the second is the record's own (about 650 bytes a JSONL record);
  pool  records of 4 to 8 paragraphs, half of them drawn from a pool of 150
        paragraphs, the other half the record's own (about 1.9 kB a record);
With --own, every paragraph is the record's own (pool paragraphs, and the
first paragraph of "one", drawn afresh): records of the same shapes and sizes
that share nothing, for comparison.

Every pair of records is similar enough to share LSH bands (Jaccard about 1/3
for "one") but none is a near-duplicate of another: a candidate search that
compares each record with every earlier record sharing a band costs time
quadratic in the number of records. With --copy-every K, every K-th record is
instead a near-duplicate of an earlier one (drawn at random, often from the
start of the stream): a copy whose last word is replaced (Jaccard above 0.9),
which a bounded candidate search must still find (its id is "copy-N-of-M").

Paragraphs are 20 to 30 words drawn from a vocabulary of 60,000 generated
Arabic words, so two records' own paragraphs share no 5-shingle. --jsonl
writes {"id": N, "text": "..."} lines; --files writes DIR/NNN/NNNNNNN.txt, one
paragraph per line. Stops after the record that reaches --mb MB (10^6 bytes)
of output, or after --records N records. Deterministic for a seed; standard
library only.
"""

import argparse
import json
import os
import random

LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"


def vocabulary(rng, n):
    seen = set()
    out = []
    while len(out) < n:
        w = "".join(rng.choice(LETTERS) for _ in range(rng.randint(3, 8)))
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("kind", choices=["one", "pool"])
    size = ap.add_mutually_exclusive_group(required=True)
    size.add_argument("--mb", type=float)
    size.add_argument("--records", type=int)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--copy-every", type=int, default=0)
    ap.add_argument("--own", action="store_true")
    out = ap.add_mutually_exclusive_group(required=True)
    out.add_argument("--jsonl")
    out.add_argument("--files")
    a = ap.parse_args()

    rng = random.Random(a.seed)
    vocab = vocabulary(rng, 60000)

    def paragraph():
        return " ".join(rng.choices(vocab, k=rng.randint(20, 30)))

    shared = paragraph()
    pool = [paragraph() for _ in range(150)]

    def record():
        if a.kind == "one":
            return [paragraph() if a.own else shared, paragraph()]
        n = rng.randint(2, 4)
        shared_paras = [paragraph() for _ in range(n)] if a.own else rng.sample(pool, n)
        paras = shared_paras + [paragraph() for _ in range(n)]
        rng.shuffle(paras)
        return paras

    originals = []  # (record number, paragraphs) of the records that are not copies

    def next_record(i):
        if a.copy_every and i % a.copy_every == a.copy_every - 1 and originals:
            k, paras = rng.choice(originals)
            last = paras[-1].split(" ")
            last[-1] = rng.choice(vocab)
            return "copy-%d-of-%d" % (i, k), paras[:-1] + [" ".join(last)]
        paras = record()
        originals.append((i, paras))
        return i, paras

    limit = a.mb * 1e6 if a.mb is not None else None
    written = 0
    i = 0
    sink = open(a.jsonl, "w", encoding="utf-8") if a.jsonl else None
    if a.files:
        os.makedirs(a.files, exist_ok=True)
    try:
        while (limit is None and i < a.records) or (limit is not None and written < limit):
            rid, paras = next_record(i)
            text = "\n".join(paras) + "\n"
            if sink:
                line = json.dumps({"id": rid, "text": text}, ensure_ascii=False) + "\n"
                sink.write(line)
                written += len(line.encode("utf-8"))
            else:
                folder = os.path.join(a.files, "%03d" % (i // 1000))
                if i % 1000 == 0:
                    os.makedirs(folder, exist_ok=True)
                with open(os.path.join(folder, "%07d.txt" % i), "w", encoding="utf-8") as f:
                    f.write(text)
                written += len(text.encode("utf-8"))
            i += 1
    finally:
        if sink:
            sink.close()


if __name__ == "__main__":
    main()
