#!/usr/bin/env python3
"""Detection quality of `dedup scan` on real syndicated news.

    bench/quality.py [--corpus DIR] [--work DIR] [-- DEDUP-OPTIONS...]
    bench/quality.py --generated [-- DEDUP-OPTIONS...]

1. Extract: every article's `content` of the SaudiNewsNet zips (default
   ../shared/corpora/saudinewsnet) becomes one file, work/docs/DAY/NNNNN.txt,
   so that sorted order is corpus order. Empty articles are skipped.
   --generated makes a synthetic corpus instead (edited copies of seed
   paragraphs), for machines without the corpus.
2. Ground truth, with OUR normaliser: `bin/shingle --shingles` gives each
   document's word 5-shingles; every pair of documents sharing a shingle
   (found through an inverted index; shingles in more than 300 documents
   are not used to find pairs, only to count intersections) gets its exact
   Jaccard J and containment C = |A n B| / min(|A|, |B|).
3. Evaluate `dedup scan --format jsonl` (extra options after --):
   - recall of pairs with J >= 0.8;
   - recall of pairs with C >= 0.9 and J >= 0.5;
   (a pair counts as found when both documents are in one cluster)
   - precision of the reported links (representative, member): a link is
     right when its exact pair meets the default rule, J >= 0.8 or
     (C >= 0.8 and the smaller set has >= 50 shingles);
   - the mean absolute error of the reported jaccard and containment;
   - time, MB/s and peak RSS of the dedup run.
Nothing of the corpus is written into the repository: the work folder is
bench/.data/ (git-ignored).
"""
import argparse
import glob
import io
import json
import os
import random
import subprocess
import sys
import time
import zipfile
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def extract(corpus, docs):
    if os.path.isdir(docs) and os.listdir(docs):
        return
    n = skipped = 0
    for z in sorted(glob.glob(os.path.join(corpus, "*.zip"))):
        day = os.path.splitext(os.path.basename(z))[0]
        os.makedirs(os.path.join(docs, day), exist_ok=True)
        with zipfile.ZipFile(z) as zf:
            for name in sorted(zf.namelist()):
                if not name.endswith(".json"):
                    continue
                articles = json.load(io.TextIOWrapper(zf.open(name), encoding="utf-8"))
                for i, a in enumerate(articles):
                    text = (a.get("content") or "").strip()
                    if not text:
                        skipped += 1
                        continue
                    with open(os.path.join(docs, day, "%05d.txt" % i), "w", encoding="utf-8") as f:
                        f.write(text + "\n")
                    n += 1
    print("extracted %d articles (%d empty skipped)" % (n, skipped))


def generate(docs, seed=1, ndocs=2000):
    """Synthetic corpus: seed paragraphs and random Arabic-like words, with
    edited copies (paragraphs dropped or added, words changed)."""
    if os.path.isdir(docs) and os.listdir(docs):
        return
    rng = random.Random(seed)
    paras = []
    for f in sorted(glob.glob(os.path.join(ROOT, "fixtures", "seeds", "*.txt"))):
        paras += [l for l in open(f, encoding="utf-8").read().split("\n") if len(l.split()) > 5]
    letters = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
    vocab = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 8))) for _ in range(5000)]
    made = []
    os.makedirs(os.path.join(docs, "gen"), exist_ok=True)
    for i in range(ndocs):
        if made and rng.random() < 0.25:
            base = list(rng.choice(made))
            if len(base) > 2 and rng.random() < 0.5:
                del base[rng.randrange(len(base))]
            if rng.random() < 0.5:
                base.insert(0, " ".join(rng.choice(vocab) for _ in range(8)))
            doc = base
        else:
            doc = [rng.choice(paras) if rng.random() < 0.2 else
                   " ".join(rng.choice(vocab) for _ in range(rng.randint(20, 60)))
                   for _ in range(rng.randint(3, 12))]
        made.append(doc)
        with open(os.path.join(docs, "gen", "%05d.txt" % i), "w", encoding="utf-8") as f:
            f.write("\n".join(doc) + "\n")
    print("generated %d documents" % ndocs)


def shingle_sets(shingle, paths, cache):
    if os.path.exists(cache):
        with open(cache) as f:
            data = json.load(f)
        if data.get("paths") == paths:
            return [set(s) for s in data["sets"]]

    def one(p):
        out = subprocess.run([shingle, "--shingles", p], check=True, capture_output=True).stdout
        return [int(h, 16) for h in out.split()]

    t = time.time()
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        lists = list(ex.map(one, paths, chunksize=64))
    print("shingled %d documents in %.0f s" % (len(paths), time.time() - t))
    with open(cache, "w") as f:
        json.dump({"paths": paths, "sets": lists}, f)
    return [set(l) for l in lists]


def ground_truth(sets, max_df=300):
    t = time.time()
    index = defaultdict(list)
    for d, s in enumerate(sets):
        for h in s:
            index[h].append(d)
    candidates = set()
    for docs in index.values():
        if 2 <= len(docs) <= max_df:
            for i in range(len(docs)):
                a = docs[i]
                for b in docs[i + 1:]:
                    candidates.add((a, b))
    pairs = {}
    for a, b in candidates:
        A, B = sets[a], sets[b]
        inter = len(A & B)
        small = min(len(A), len(B))
        j = inter / (len(A) + len(B) - inter)
        c = inter / small if small else 0.0
        if j >= 0.3 or c >= 0.5:
            pairs[(a, b)] = (j, c, small)
    print("ground truth: %d candidate pairs, %d with J >= 0.3 or C >= 0.5 (%.0f s)"
          % (len(candidates), len(pairs), time.time() - t))
    return pairs


def meets_rule(j, c, small):
    return j >= 0.8 or (c >= 0.8 and small >= 50)


def evaluate(dedup, docs_dir, paths, sets, pairs, extra):
    cmd = ["/usr/bin/time", "-f", "%e %M", dedup, "scan", "--format", "jsonl"] + extra + [docs_dir]
    if not os.path.exists("/usr/bin/time"):
        cmd = cmd[3:]
    t = time.time()
    r = subprocess.run(cmd, capture_output=True)
    wall = time.time() - t
    if r.returncode not in (0, 1):
        sys.exit("dedup failed (%d): %s" % (r.returncode, r.stderr.decode()[-2000:]))
    rss = None
    if cmd[0] == "/usr/bin/time":
        last = r.stderr.decode().strip().split("\n")[-1].split()
        wall, rss = float(last[0]), int(last[1])
    doc_of = {p: i for i, p in enumerate(paths)}
    cluster_of = {}
    links = []
    nclusters = 0
    for line in r.stdout.decode().split("\n"):
        if '"type":"cluster"' not in line:
            continue
        rec = json.loads(line)
        nclusters += 1
        members = rec["members"]
        rep = doc_of[members[0]["doc"]]
        for m in members:
            cluster_of[doc_of[m["doc"]]] = rec["id"]
        for m in members[1:]:
            links.append((rep, doc_of[m["doc"]], m.get("jaccard"), m.get("containment")))

    def recall(pred):
        want = [k for k, v in pairs.items() if pred(*v)]
        found = sum(1 for a, b in want if a in cluster_of and cluster_of.get(a) == cluster_of.get(b))
        return found, len(want)

    f1, n1 = recall(lambda j, c, s: j >= 0.8)
    f2, n2 = recall(lambda j, c, s: c >= 0.9 and j >= 0.5)
    wrong = []
    err_j = err_c = 0.0
    for rep, m, rj, rc in links:
        a, b = min(rep, m), max(rep, m)
        if (a, b) in pairs:
            j, c, small = pairs[(a, b)]
        else:  # no shared rare shingle: compute exactly
            A, B = sets[a], sets[b]
            inter = len(A & B)
            small = min(len(A), len(B))
            j = inter / max(1, len(A) + len(B) - inter)
            c = inter / small if small else 0.0
        if rj is not None:
            err_j += abs(rj - j)
            err_c += abs(rc - c)
        if not meets_rule(j, c, small):
            wrong.append((j, c, len(sets[rep]), len(sets[m]), rj, rc, paths[rep], paths[m]))
    size = sum(os.path.getsize(p) for p in paths)
    print("dedup scan %s: %.2f s, %.1f MB/s, peak RSS %s KB"
          % (" ".join(extra), wall, size / 1e6 / wall, rss))
    print("clusters: %d, documents in clusters: %d, links: %d" % (nclusters, len(cluster_of), len(links)))
    print("recall J >= 0.8:             %d / %d = %.4f" % (f1, n1, f1 / max(1, n1)))
    print("recall C >= 0.9 and J >= 0.5: %d / %d = %.4f" % (f2, n2, f2 / max(1, n2)))
    print("precision of links:          %d / %d = %.4f"
          % (len(links) - len(wrong), len(links), (len(links) - len(wrong)) / max(1, len(links))))
    if links and links[0][2] is not None:
        print("mean |error|: jaccard %.4f, containment %.4f" % (err_j / len(links), err_c / len(links)))
    for w in sorted(wrong)[:10]:
        print("  wrong link: J %.3f C %.3f sizes %d/%d, reported %s/%s  %s  %s" % w)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=os.path.join(ROOT, "..", "shared", "corpora", "saudinewsnet"))
    ap.add_argument("--work", default=os.path.join(ROOT, "bench", ".data"))
    ap.add_argument("--generated", action="store_true")
    ap.add_argument("--dedup", default=os.path.join(ROOT, "bin", "dedup"))
    ap.add_argument("--shingle", default=os.path.join(ROOT, "bin", "shingle"))
    ap.add_argument("extra", nargs="*")
    args = ap.parse_args()
    name = "generated" if args.generated else "snn"
    work = os.path.join(args.work, name)
    docs = os.path.join(work, "docs")
    os.makedirs(work, exist_ok=True)
    if args.generated:
        generate(docs)
    else:
        if not glob.glob(os.path.join(args.corpus, "*.zip")):
            sys.exit("no corpus at %s (use --generated)" % args.corpus)
        extract(args.corpus, docs)
    paths = sorted(glob.glob(os.path.join(docs, "*", "*.txt")))
    sets = shingle_sets(args.shingle, paths, os.path.join(work, "shingles.json"))
    pairs = ground_truth(sets)
    n1 = sum(1 for v in pairs.values() if v[0] >= 0.8)
    n2 = sum(1 for v in pairs.values() if v[1] >= 0.9 and v[0] >= 0.5)
    n3 = sum(1 for v in pairs.values() if meets_rule(*v))
    print("pairs: J >= 0.8: %d; C >= 0.9 and J >= 0.5: %d; default rule: %d" % (n1, n2, n3))
    evaluate(args.dedup, docs, paths, sets, pairs, args.extra)


if __name__ == "__main__":
    main()
