#!/usr/bin/env python3
"""Damages a real index at random and runs `dedup index add` and `index remove` on it.

    tests/fuzz/damage_index.py [--dedup BIN] [--trials N] [--docs N] [--seed S]

Builds an index of --docs (300) SaudiNewsNet articles (read from
../shared/corpora/saudinewsnet, or --corpus), then, on a fresh copy each time:
  1. every page 2-16 of data.mdb filled with 0xFF, 0x00, 'A' and 0x01, then
     `index add` of 10 other articles, and `index remove` of one indexed id;
  2. --trials random damages (a whole page filled with one of those bytes, 1-16
     random bytes overwritten, or a random run of up to 256 random bytes, at a
     random place of the used pages), each followed by `add` or `remove`.
A run that dies of a signal, or that prints a sanitizer report (an ASan build
given as --dedup), is a crash; exit 0 (the damage missed everything a write
reads) and exit 2 with a message are not. Prints the counts, and the first
crashes' damage and output. Exit status 1 when anything crashed.

Used for issue 14 item 1 (bench/README.md has no figures of it: this is not a
timing; tests/fuzz/README.md has them).
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import zipfile

FILLS = [b"\xff", b"\x00", b"A", b"\x01"]


def articles(corpus, n):
    out = []
    for name in sorted(os.listdir(corpus)):
        if not name.endswith(".zip"):
            continue
        with zipfile.ZipFile(os.path.join(corpus, name)) as z:
            for member in z.namelist():
                for a in json.loads(z.read(member)):
                    text = (a.get("content") or "").strip()
                    if len(text) > 200:
                        out.append(text + "\n")
                    if len(out) == n:
                        return out
    return out


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
    err = p.stderr.decode("utf-8", "replace")
    crashed = p.returncode < 0 or "Sanitizer" in err or "double free" in err or \
        "invalid pointer" in err or "corrupted" in err
    return crashed, p.returncode, err


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap.add_argument("--dedup", default=os.path.join(root, "bin", "dedup"))
    ap.add_argument("--corpus", default=os.path.join(root, "..", "..", "shared", "corpora",
                                                     "saudinewsnet"))
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--docs", type=int, default=300)
    ap.add_argument("--seed", type=int, default=14)
    a = ap.parse_args()
    if not os.path.isdir(a.corpus):
        a.corpus = "/work/shared/corpora/saudinewsnet"
    rng = random.Random(a.seed)
    tmp = tempfile.mkdtemp(prefix="damage-index.")
    try:
        texts = articles(a.corpus, a.docs + 10)
        docs, new = os.path.join(tmp, "docs"), os.path.join(tmp, "new")
        os.makedirs(docs)
        os.makedirs(new)
        for i, t in enumerate(texts):
            d = docs if i < a.docs else new
            with open(os.path.join(d, "%05d.txt" % i), "w", encoding="utf-8") as f:
                f.write(t)
        pristine = os.path.join(tmp, "pristine.ddx")
        subprocess.run([a.dedup, "index", "build", docs, "-o", pristine], check=True,
                       stderr=subprocess.DEVNULL)
        size = os.path.getsize(os.path.join(pristine, "data.mdb"))
        psize = 4096
        pages = size // psize
        victim = os.path.join(docs, "00007.txt")
        work = os.path.join(tmp, "work.ddx")

        def trial(damage, op):
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(pristine, work)
            with open(os.path.join(work, "data.mdb"), "r+b") as f:
                for at, data in damage:
                    f.seek(at)
                    f.write(data)
            cmd = [a.dedup, "index", op, work] + ([new] if op == "add" else [victim])
            return run(cmd)

        crashes = {"pages add": 0, "pages remove": 0, "random add": 0, "random remove": 0}
        runs = dict.fromkeys(crashes, 0)
        refused = 0
        shown = 0

        def record(kind, damage_text, result):
            nonlocal refused, shown
            crashed, rc, err = result
            runs[kind] += 1
            if rc == 2 and not crashed:
                refused += 1
            if crashed:
                crashes[kind] += 1
                if shown < 5:
                    shown += 1
                    print("CRASH (%s) %s: exit %d\n  %s" % (kind, damage_text, rc,
                          "\n  ".join(err.strip().splitlines()[:6])))

        for page in range(2, min(17, pages)):
            for fill in FILLS:
                damage = [(page * psize, fill * psize)]
                for op in ("add", "remove"):
                    record("pages " + op, "page %d filled with %r" % (page, fill),
                           trial(damage, op))
        for _ in range(a.trials):
            kind = rng.randrange(3)
            page = rng.randrange(2, pages)
            if kind == 0:
                fill = rng.choice(FILLS)
                damage, text = [(page * psize, fill * psize)], "page %d filled with %r" % (page, fill)
            elif kind == 1:
                damage = [(rng.randrange(2 * psize, size), bytes([rng.randrange(256)]))
                          for _ in range(rng.randrange(1, 17))]
                text = "%d random bytes" % len(damage)
            else:
                n = rng.randrange(1, 257)
                at = rng.randrange(2 * psize, size - n)
                damage, text = [(at, bytes(rng.randrange(256) for _ in range(n)))], \
                    "%d random bytes at %d" % (n, at)
            op = rng.choice(("add", "remove"))
            record("random " + op, text, trial(damage, op))
        total = sum(crashes.values())
        print("index of %d documents, %d pages; %s" % (a.docs, pages, a.dedup))
        for k in crashes:
            print("  %-14s %4d runs, %3d crashed" % (k, runs[k], crashes[k]))
        print("  refused with exit 2: %d of %d" % (refused, sum(runs.values())))
        return 1 if total else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
