#!/usr/bin/env python3
"""Detection quality of `dedup scan` against exact ground truth.

    bench/quality.py [OPTIONS] [-- DEDUP-SCAN-OPTIONS...]
    bench/quality.py --generated [OPTIONS] [-- DEDUP-SCAN-OPTIONS...]

Steps (see bench/quality.md for the exact definitions):

1. Extract: the `content` of every article of the SaudiNewsNet zips (--corpus,
   default ../shared/corpora/saudinewsnet) is written as is (UTF-8) to
   WORK/docs/DAY/NNNNN.txt, NNNNN = 1-based position in the zip's array, so
   sorted order is corpus order. Articles whose content is empty after
   stripping are skipped and counted. --generated writes a synthetic corpus
   instead (WORK/docs/gen/NNNNN.txt). Cached: redone only when the input changes.
2. Ground truth with our normaliser: `shingle -s -k K FILE` once per document
   (--jobs in parallel) gives its set of distinct word K-shingle hashes
   (cached in WORK/shingles-kK.bin). An inverted index then finds every pair
   of documents with J >= 0.3 or C >= 0.5, exactly: see `ground_truth`.
   The pairs are written to WORK/truth-kK.tsv.
3. Evaluate `dedup scan --format jsonl DOCS [DEDUP-SCAN-OPTIONS]`: recall of
   pairs with J >= 0.8 and of pairs with C >= 0.9 and J >= 0.5 (found = both
   documents in one cluster), precision of the cluster links (representative,
   or the member named in "of", -> member) against the default rule J >= 0.8
   or (C >= 0.8 and the smaller set has >= 50 shingles), on the documents as
   read, the worst wrong links, the mean absolute error of
   the reported jaccard/containment, clusters, time, MB/s and peak RSS.
   The scan's output is kept in WORK/scan.jsonl.

J = |A n B| / |A u B|; C = |A n B| / min(|A|, |B|) (containment of the
smaller in the larger). Python 3 standard library only. Nothing is written
into the repository except under bench/.data/ (git-ignored).
"""
import argparse
import bisect
import glob
import hashlib
import itertools
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from array import array
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CORPUS = os.path.join(os.path.dirname(ROOT), "shared", "corpora", "saudinewsnet")

# Pairs kept in the ground truth.
KEEP_J, KEEP_C = 0.3, 0.5
# The default rule of `dedup scan` (--threshold, --containment, --min-shingles).
RULE_J, RULE_C, RULE_MIN = 0.8, 0.8, 50


def log(msg):
    print(msg, flush=True)


def rule(j, c, small):
    return j >= RULE_J or (c >= RULE_C and small >= RULE_MIN)


def kind1(j, c, small):
    return j >= 0.8


def kind2(j, c, small):
    return c >= 0.9 and j >= 0.5


KINDS = [("J >= 0.8", kind1), ("C >= 0.9 and J >= 0.5", kind2),
         ("default rule", rule)]  # J >= 0.8, or C >= 0.8 and min(|A|, |B|) >= 50


def sim(A, B):
    """Exact (J, C, smaller size) of two shingle sets."""
    inter = len(A & B) if len(A) <= len(B) else len(B & A)
    small = min(len(A), len(B))
    union = len(A) + len(B) - inter
    return (inter / union if union else 0.0), (inter / small if small else 0.0), small


# ---------------------------------------------------------------- step 1

def _write_marker(path, data):
    with open(path + ".tmp", "w") as f:
        json.dump(data, f, indent=1)
    os.replace(path + ".tmp", path)


def _read_marker(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _install(tmp, docs):
    """Replace the folder docs by the finished folder tmp."""
    if os.path.exists(docs):
        old = docs + ".old"
        shutil.rmtree(old, ignore_errors=True)
        os.rename(docs, old)
        os.rename(tmp, docs)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, docs)


def extract(corpus, work, refresh=False):
    """Step 1 on the real corpus. Returns the marker (counts)."""
    docs = os.path.join(work, "docs")
    marker_path = os.path.join(work, "extract.json")
    zips = sorted(glob.glob(os.path.join(corpus, "*.zip")))
    if not zips:
        sys.exit("quality.py: no *.zip in %s (give --corpus DIR, or use --generated)" % corpus)
    fingerprint = [[os.path.basename(z), os.path.getsize(z), int(os.stat(z).st_mtime)] for z in zips]
    marker = _read_marker(marker_path)
    if (not refresh and marker and marker.get("version") == 2 and marker.get("zips") == fingerprint
            and os.path.isdir(docs)):
        marker["cached"] = True
        return marker
    tmp = docs + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    ndocs = empty = nbytes = bad_utf8 = 0
    for z in zips:
        day = os.path.splitext(os.path.basename(z))[0]
        os.makedirs(os.path.join(tmp, day))
        pos = 0
        with zipfile.ZipFile(z) as zf:
            for name in sorted(n for n in zf.namelist() if n.endswith(".json")):
                with zf.open(name) as f:
                    articles = json.loads(f.read().decode("utf-8"))
                for a in articles:
                    pos += 1
                    if pos > 99999:
                        sys.exit("quality.py: more than 99999 articles in %s" % z)
                    text = a.get("content") or ""
                    if not text.strip():
                        empty += 1
                        continue
                    try:
                        data = text.encode("utf-8")
                    except UnicodeEncodeError:  # lone surrogates in the JSON
                        data = text.encode("utf-8", "replace")
                        bad_utf8 += 1
                    with open(os.path.join(tmp, day, "%05d.txt" % pos), "wb") as out:
                        out.write(data)
                    ndocs += 1
                    nbytes += len(data)
    _install(tmp, docs)
    marker = {"version": 2, "corpus": os.path.abspath(corpus), "zips": fingerprint,
              "articles": ndocs + empty, "docs": ndocs, "empty": empty, "bytes": nbytes,
              "bad_utf8": bad_utf8}
    _write_marker(marker_path, marker)
    marker["cached"] = False
    return marker


GEN_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهويةىأإآ"
GEN_VERSION = 2


def generate(work, ndocs=2000, seed=1, refresh=False):
    """Step 1 without the corpus: a synthetic corpus of news-like documents,
    about a third of them edited copies of earlier ones (new headline or
    byline, paragraphs dropped, added, merged or cut off, words changed), so
    the true pairs spread over the whole similarity range."""
    docs = os.path.join(work, "docs")
    marker_path = os.path.join(work, "extract.json")
    seeds_files = sorted(glob.glob(os.path.join(ROOT, "fixtures", "seeds", "*.txt")))
    params = {"version": GEN_VERSION, "generated": ndocs, "seed": seed,
              "seeds": [[os.path.basename(f), os.path.getsize(f)] for f in seeds_files]}
    marker = _read_marker(marker_path)
    if not refresh and marker and marker.get("params") == params and os.path.isdir(docs):
        marker["cached"] = True
        return marker
    rng = random.Random(seed)
    paras = []
    for f in seeds_files:
        with open(f, encoding="utf-8") as fh:
            paras += [l.strip() for l in fh if len(l.split()) >= 6]
    # Zipf-like vocabulary: frequent words make shingles shared by chance.
    vocab = sorted({"".join(rng.choice(GEN_LETTERS) for _ in range(rng.randint(2, 8)))
                    for _ in range(20000)})
    rng.shuffle(vocab)
    weights = list(itertools.accumulate(1.0 / (r + 10) for r in range(len(vocab))))

    def words(n):
        return rng.choices(vocab, cum_weights=weights, k=n)

    def sentence_para():
        return " ".join(words(rng.randint(12, 70))) + "."

    boiler = [" ".join(words(rng.randint(4, 9))) for _ in range(6)]
    made = []
    tmp = docs + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "gen"))
    nbytes = ncopies = 0
    for i in range(ndocs):
        if made and rng.random() < 0.35:
            ncopies += 1
            # copies of recent documents, like a news day
            base = [list(p) for p in made[max(0, len(made) - 300) + rng.randrange(min(300, len(made)))]]
            ops = rng.sample(["headline", "byline", "drop", "add", "merge", "cut", "words", "words2",
                              "exact"], rng.randint(1, 4))
            if "exact" in ops:
                ops = ["exact"]
            if "headline" in ops and base:
                base[0] = words(rng.randint(5, 12))
            if "byline" in ops:
                base.insert(1 if base else 0, words(rng.randint(3, 6)))
            if "drop" in ops and len(base) > 2:
                del base[rng.randrange(len(base))]
            if "add" in ops:
                base.insert(rng.randint(0, len(base)), sentence_para().split())
            if "merge" in ops and len(base) > 2:
                k = rng.randrange(len(base) - 1)
                base[k:k + 2] = [base[k] + base[k + 1]]
            if "cut" in ops and len(base) > 3:
                base = base[:rng.randint(2, len(base) - 1)]
            for op, rate in (("words", 0.02), ("words2", 0.08)):
                if op in ops:
                    for p in base:
                        for k in range(len(p)):
                            if rng.random() < rate:
                                p[k] = words(1)[0]
            doc = base
        else:
            doc = [words(rng.randint(5, 12))]  # headline
            for _ in range(rng.randint(2, 12)):
                doc.append((rng.choice(paras) if rng.random() < 0.15 else sentence_para()).split())
            if rng.random() < 0.3:
                doc.append(rng.choice(boiler).split())
        made.append(doc)
        data = ("\n".join(" ".join(p) for p in doc) + "\n").encode("utf-8")
        with open(os.path.join(tmp, "gen", "%05d.txt" % (i + 1)), "wb") as out:
            out.write(data)
        nbytes += len(data)
    _install(tmp, docs)
    marker = {"params": params, "docs": ndocs, "empty": 0, "copies": ncopies, "bytes": nbytes}
    _write_marker(marker_path, marker)
    marker["cached"] = False
    return marker


def list_docs(docs):
    paths = []
    for d, sub, files in os.walk(docs):
        sub.sort()
        paths += [os.path.join(d, f) for f in sorted(files)]
    return sorted(paths)


# ---------------------------------------------------------------- step 2

MAGIC = b"DDQSHINGLES2\n"


def _file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def shingle_sets(shingle, k, docs, paths, cache, jobs, refresh=False):
    """Step 2a: the set of distinct shingle hashes of every document, as
    sorted uint64 arrays, cached in one binary file. The cache is used when
    the documents (names, sizes, mtimes), K, the shingle binary and its
    normaliser profile are the same."""
    profile = subprocess.run([shingle, "--profile"], capture_output=True, text=True).stdout.strip()
    key = {"k": k, "profile": profile, "shingle_sha256": _file_sha256(shingle),
           "docs": [[os.path.relpath(p, docs), os.path.getsize(p), int(os.stat(p).st_mtime)]
                    for p in paths]}
    key_bytes = json.dumps(key, sort_keys=True).encode()
    if not refresh and os.path.exists(cache):
        with open(cache, "rb") as f:
            if f.read(len(MAGIC)) == MAGIC:
                (klen,) = struct.unpack("<Q", f.read(8))
                if f.read(klen) == key_bytes:
                    arrays = []
                    for _ in paths:
                        (n,) = struct.unpack("<Q", f.read(8))
                        a = array("Q")
                        a.frombytes(f.read(8 * n))
                        arrays.append(a)
                    return arrays, True

    def one(p):
        r = subprocess.run([shingle, "-s", "-k", str(k), p], capture_output=True)
        if r.returncode != 0:
            raise RuntimeError("%s -s %s: exit %d: %s" % (shingle, p, r.returncode,
                                                          r.stderr.decode(errors="replace").strip()))
        return array("Q", sorted({int(h, 16) for h in r.stdout.split()}))

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        arrays = list(ex.map(one, paths))
    with open(cache + ".tmp", "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<Q", len(key_bytes)))
        f.write(key_bytes)
        for a in arrays:
            f.write(struct.pack("<Q", len(a)))
            f.write(a.tobytes())
    os.replace(cache + ".tmp", cache)
    return arrays, False


def ground_truth(sets, max_df):
    """Step 2b: every pair (a, b), a < b, with J >= 0.3 or C >= 0.5, exactly.

    A kept pair with |S| <= |L| shares at least ceil(0.6 |S| / 1.3) shingles
    (J >= 0.3 means |S n L| >= 0.3 (|S| + |L|) / 1.3 >= 0.6 |S| / 1.3, and
    C >= 0.5 means |S n L| >= |S| / 2). Candidates come from the inverted
    index over the shingles found in at most max_df documents ("rare"); for
    each candidate the shared rare shingles are counted at once, and the
    exact intersection of the two sets (all shingles) is computed only when
    that count plus the common ("frequent") shingles the two could still
    share can reach the bound. A kept pair sharing no rare shingle at all
    must have a smaller document of which at least 0.6/1.3 of the shingles
    are frequent; every such "frequent-heavy" document is compared with all
    documents sharing any shingle with it, through the full index. So no
    pair is lost: max_df only bounds the work of candidate generation.
    Returns ({(a, b): (J, C, smaller size)}, statistics)."""
    n = len(sets)
    df = Counter(itertools.chain.from_iterable(sets))
    post = {h: [] for h, c in df.items() if c >= 2}
    for d, s in enumerate(sets):
        for h in s:
            p = post.get(h)
            if p is not None:
                p.append(d)
    frequent = {h for h, c in df.items() if c > max_df}
    freq_count = [sum(1 for h in s if h in frequent) for s in sets] if frequent else [0] * n
    pysets = [frozenset(s) for s in sets]
    need_factor = 0.6 / 1.3  # of the smaller size, minus rounding slack below

    def need(small):
        return need_factor * small - 1e-9

    pairs = {}
    sharing = 0  # pairs sharing >= 1 rare shingle
    exact = 0
    for a in range(n):
        A = sets[a]
        if not A:
            continue
        lists = []
        for h in A:
            c = df[h]
            if 2 <= c <= max_df:
                p = post[h]
                if p[-1] > a:
                    lists.append(p[bisect.bisect_right(p, a):])
        if not lists:
            continue
        shared = Counter(itertools.chain.from_iterable(lists))
        sharing += len(shared)
        la, fa = len(A), freq_count[a]
        for b, cnt in shared.items():
            lb = len(sets[b])
            if cnt + min(fa, freq_count[b]) < need(min(la, lb)):
                continue
            exact += 1
            j, c, small = sim(pysets[a], pysets[b])
            if j >= KEEP_J or c >= KEEP_C:
                pairs[(a, b)] = (j, c, small)
    heavy = [d for d in range(n) if sets[d] and freq_count[d] >= need(len(sets[d]))]
    for x in heavy:
        lx = len(sets[x])
        shared = Counter(itertools.chain.from_iterable(post[h] for h in sets[x] if h in post))
        for y, cnt in shared.items():
            if y == x or len(sets[y]) < lx or cnt < need(lx):
                continue
            key = (x, y) if x < y else (y, x)
            if key in pairs:
                continue
            exact += 1
            j, c, small = sim(pysets[x], pysets[y])
            if j >= KEEP_J or c >= KEEP_C:
                pairs[key] = (j, c, small)
    stats = {"docs": n, "empty_sets": sum(1 for s in sets if not s), "shingles": len(df),
             "shingles_shared": len(post), "frequent_shingles": len(frequent),
             "max_df": max(df.values()) if df else 0, "frequent_heavy_docs": len(heavy),
             "pairs_sharing_rare": sharing, "exact_intersections": exact,
             "pair_work_all_shingles": sum(c * (c - 1) // 2 for c in df.values()),
             "pair_work_rare_shingles": sum(c * (c - 1) // 2 for c in df.values() if c <= max_df)}
    return pairs, stats, pysets


def components(pairs, pred):
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for (a, b), v in pairs.items():
        if pred(*v):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[ra] = rb
    return len({find(x) for x in parent}), len(parent)


def truth_summary(pairs):
    out = []
    for name, pred in KINDS:
        npairs = sum(1 for v in pairs.values() if pred(*v))
        ncomp, ndocs = components(pairs, pred)
        out.append({"kind": name, "pairs": npairs, "docs": ndocs, "groups": ncomp})
    return out


def write_truth(path, pairs, rel, sizes):
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write("doc_a\tdoc_b\tjaccard\tcontainment\tsize_a\tsize_b\n")
        for (a, b) in sorted(pairs):
            j, c, _ = pairs[(a, b)]
            f.write("%s\t%s\t%.6f\t%.6f\t%d\t%d\n" % (rel[a], rel[b], j, c, sizes[a], sizes[b]))
    os.replace(path + ".tmp", path)


# ---------------------------------------------------------------- step 3

RSS_HELPER = """import resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.run(sys.argv[2:]).returncode
t = time.perf_counter() - t
open(sys.argv[1], "w").write("%f %d\\n" % (t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(rc)
"""


def write_jsonl(paths, out_path):
    """The documents as JSONL for dedup filter, in corpus order: {"id": absolute path, "text":
    content}."""
    with open(out_path, "w", encoding="utf-8") as out:
        for p in paths:
            with open(p, encoding="utf-8") as f:
                out.write(json.dumps({"id": os.path.abspath(p), "text": f.read()},
                                     ensure_ascii=False) + "\n")


def run_scan(dedup, docs, extra, out_path, jsonl=None):
    """Runs dedup scan (or, given jsonl, dedup filter --annotate on it), its output going to
    out_path. Peak RSS from GNU time
    (/usr/bin/time -f %M, Debian package `time`) when there is one, else from
    getrusage() in a small python3 started in between (a child's ru_maxrss
    also covers the process it was started from, kept over exec, so the scan
    must not be started from this big one). Returns (wall, rss_kb, how,
    stderr, exit status, command)."""
    try:
        arg = os.path.relpath(docs, ROOT)
        if arg.startswith(".."):
            arg = os.path.abspath(docs)
    except ValueError:
        arg = os.path.abspath(docs)
    cmd = [dedup, "scan", "--format", "jsonl"] + extra + [arg]
    if jsonl:
        cmd = [dedup, "filter", "--annotate", "--id-field", "id"] + extra + [jsonl]
    gnu_time = shutil.which("time", path="/usr/bin:/bin")
    fd, aux = tempfile.mkstemp(prefix="quality-")
    os.close(fd)
    err_path = aux + ".err"
    rss, how = None, None
    try:
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            if gnu_time:
                t = time.perf_counter()
                rc = subprocess.run([gnu_time, "-f", "%M", "-o", aux] + cmd, cwd=ROOT,
                                    stdout=out, stderr=err).returncode
                wall = time.perf_counter() - t
            else:
                rc = subprocess.run([sys.executable, "-c", RSS_HELPER, aux] + cmd, cwd=ROOT,
                                    stdout=out, stderr=err).returncode
        try:
            with open(aux) as f:
                fields = f.read().split()
            if gnu_time:
                rss, how = int(fields[-1]), "GNU time"
            else:
                wall, rss, how = float(fields[0]), int(fields[1]), "getrusage, via python3 -c"
        except (OSError, ValueError, IndexError):
            if not gnu_time:
                wall = float("nan")
        with open(err_path, "rb") as f:
            stderr = f.read().decode(errors="replace")
    finally:
        for p in (aux, err_path):
            if os.path.exists(p):
                os.unlink(p)
    if rc not in (0, 1):
        sys.exit("quality.py: %s exited with %d:\n%s" % (" ".join(cmd), rc, stderr[-3000:]))
    return wall, rss, how, stderr, rc, cmd


def read_filter_output(out_path, index):
    """dedup filter --annotate's records as clusters: each record left out is a link from the
    record it copies (duplicate_of) to it. Returns (cluster_of, links, clusters, unknown ids)."""
    cluster_of, links, unknown = {}, [], 0
    reps = {}
    with open(out_path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            d = rec.get("dedup", {})
            if d.get("kept", True) or d.get("in_index"):
                continue
            i, rep = index.get(rec["id"]), index.get(d.get("duplicate_of"))
            if i is None or rep is None:
                unknown += 1
                continue
            reps.setdefault(rep, len(reps) + 1)
            cluster_of[rep] = cluster_of[i] = reps[rep]
            links.append((rep, i, d.get("jaccard"), d.get("containment"), 1))
    return cluster_of, links, len(reps), unknown


def evaluate(args, docs, paths, sets, pairs, nbytes, extra, work):
    out_path = os.path.join(work, "filter.jsonl" if args.filter else "scan.jsonl")
    jsonl = None
    if args.filter:
        jsonl = os.path.join(work, "docs.jsonl")
        write_jsonl(paths, jsonl)
    wall, rss, how, stderr, rc, cmd = run_scan(args.dedup, docs, extra, out_path, jsonl)
    index = {os.path.abspath(p): i for i, p in enumerate(paths)}
    cluster_of = {}
    links = []
    nclusters = unknown = twice = 0
    other = Counter()
    if args.filter:
        cluster_of, links, nclusters, unknown = read_filter_output(out_path, index)
    with open(out_path if not args.filter else os.devnull, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                other["(not JSON)"] += 1
                continue
            if not isinstance(rec, dict) or rec.get("type") != "cluster":
                other[str(rec.get("type") if isinstance(rec, dict) else "(not an object)")] += 1
                continue
            nclusters += 1
            ids = []
            for m in rec["members"]:
                i = index.get(os.path.abspath(os.path.join(ROOT, m["doc"])))
                if i is None:
                    unknown += 1
                ids.append(i)
            rep = index.get(os.path.abspath(os.path.join(ROOT, rec["representative"])))
            if rep is None:
                unknown += 1
                continue
            for i in {i for i in ids if i is not None} | {rep}:  # the representative belongs too
                if i in cluster_of:
                    twice += 1
                cluster_of[i] = nclusters
            for m, i in zip(rec["members"], ids):
                if i is not None and i != rep:
                    # a copy of another member names it in "of": its similarity is to that one
                    of = index.get(os.path.abspath(os.path.join(ROOT, m["of"]))) if "of" in m else rep
                    links.append((rep if of is None else of, i, m.get("jaccard"),
                                  m.get("containment"), m.get("round", 1)))

    res = {"command": cmd[cmd.index(args.dedup):], "exit": rc, "wall_s": wall, "bytes": nbytes,
           "mb_per_s": nbytes / 1e6 / wall if wall else None, "peak_rss_kb": rss, "rss_by": how,
           "clusters": nclusters, "docs_in_clusters": len(cluster_of), "links": len(links),
           "other_records": dict(other), "unknown_docs": unknown, "docs_in_two_clusters": twice}
    for name, pred in KINDS:
        want = [(a, b) for (a, b), v in pairs.items() if pred(*v)]
        found = sum(1 for a, b in want if a in cluster_of and cluster_of.get(b) == cluster_of[a])
        res.setdefault("recall", []).append({"kind": name, "found": found, "pairs": len(want)})

    wrong = []
    err_j = err_c = 0.0
    max_j = max_c = 0.0
    nrep = 0
    later = later_right = 0  # links found by a later round of clean, on the text it leaves
    for rep, m, rj, rc_, rnd in links:
        a, b = min(rep, m), max(rep, m)
        v = pairs.get((a, b))
        j, c, small = v if v else sim(sets[a], sets[b])  # below the kept range
        if rnd > 1:
            later += 1
            later_right += rule(j, c, small)
            continue
        if rj is not None and rc_ is not None:
            nrep += 1
            err_j += abs(rj - j)
            err_c += abs(rc_ - c)
            max_j, max_c = max(max_j, abs(rj - j)), max(max_c, abs(rc_ - c))
        if not rule(j, c, small):
            wrong.append((max(j, c), j, c, len(sets[rep]), len(sets[m]), rj, rc_,
                          os.path.relpath(paths[rep], docs), os.path.relpath(paths[m], docs)))
    wrong.sort()
    near = sum(1 for w in wrong if w[0] >= 0.75 and not (w[2] >= RULE_C))
    size_only = sum(1 for w in wrong if w[2] >= RULE_C)
    res.update({"correct_links": len(links) - later - len(wrong), "wrong_links": len(wrong),
                "later_links": later, "later_links_meeting_rule": later_right,
                "wrong_near_threshold": near, "wrong_small_set": size_only,
                "wrong_far": len(wrong) - near - size_only,
                "mae_jaccard": err_j / nrep if nrep else None,
                "mae_containment": err_c / nrep if nrep else None,
                "max_err_jaccard": max_j if nrep else None,
                "max_err_containment": max_c if nrep else None,
                "worst": [{"true_j": w[1], "true_c": w[2], "size_rep": w[3], "size_member": w[4],
                           "reported_j": w[5], "reported_c": w[6], "rep": w[7], "member": w[8]}
                          for w in wrong[:args.worst]]})
    return res, stderr


def print_eval(res, ndocs):
    def frac(a, b):
        return "%d / %d = %.4f" % (a, b, a / b) if b else "%d / 0 = n/a" % a

    log("dedup run: %s (exit %d)" % (" ".join(res["command"]), res["exit"]))
    log("  time %.2f s, %.1f MB/s (%.1f MB of content), peak RSS %s (%s)"
        % (res["wall_s"], res["mb_per_s"] or 0, res["bytes"] / 1e6,
           "%.1f MB" % (res["peak_rss_kb"] / 1024) if res["peak_rss_kb"] else "n/a", res["rss_by"]))
    log("  clusters %d, documents in clusters %d, singletons %d, links %d; other records %s"
        % (res["clusters"], res["docs_in_clusters"], ndocs - res["docs_in_clusters"], res["links"],
           ", ".join("%s %d" % kv for kv in sorted(res["other_records"].items())) or "none"))
    if res["unknown_docs"] or res["docs_in_two_clusters"]:
        log("  WARNING: %d member ids not among the documents, %d documents in two clusters"
            % (res["unknown_docs"], res["docs_in_two_clusters"]))
    for r in res["recall"]:
        log("  recall of pairs, %-24s %s" % (r["kind"] + ":", frac(r["found"], r["pairs"])))
    log("  precision of links (default rule):       %s"
        % frac(res["correct_links"], res["links"] - res["later_links"]))
    if res["later_links"]:
        log("  links of later rounds (copies of the text clean leaves): %d, %d meeting the rule on "
            "the documents as read" % (res["later_links"], res["later_links_meeting_rule"]))
    log("  wrong links %d: %d near the threshold (max(J, C) in [0.75, 0.8)), %d with C >= 0.8 "
        "but the smaller set < %d shingles, %d further off"
        % (res["wrong_links"], res["wrong_near_threshold"], res["wrong_small_set"], RULE_MIN,
           res["wrong_far"]))
    if res["mae_jaccard"] is not None:
        log("  reported vs exact, mean |error|: jaccard %.4f, containment %.4f (max %.4f, %.4f)"
            % (res["mae_jaccard"], res["mae_containment"], res["max_err_jaccard"],
               res["max_err_containment"]))
    if res["worst"]:
        log("  worst wrong links (lowest max(J, C) first):")
        log("    %6s %6s %7s %7s %8s %8s  %s" % ("true J", "true C", "|rep|", "|mem|", "rep. J",
                                                 "rep. C", "representative -> member"))
        for w in res["worst"]:
            fmt = lambda x: "%8.4f" % x if x is not None else "%8s" % "-"
            log("    %6.4f %6.4f %7d %7d %s %s  %s -> %s"
                % (w["true_j"], w["true_c"], w["size_rep"], w["size_member"], fmt(w["reported_j"]),
                   fmt(w["reported_c"]), w["rep"], w["member"]))


# ---------------------------------------------------------------- main

def ensure_binary(path, default):
    if os.path.exists(path):
        return
    if path == default:
        log("building %s: make -C %s" % (path, ROOT))
        subprocess.run(["make", "-C", ROOT], check=True, stdout=sys.stderr)
    if not os.path.exists(path):
        sys.exit("quality.py: %s not found" % path)


def ngram_from(extra, default):
    k = None
    for i, a in enumerate(extra):
        if a in ("-k", "--ngram") and i + 1 < len(extra):
            k = extra[i + 1]
        elif a.startswith("--ngram="):
            k = a.split("=", 1)[1]
        elif a.startswith("-k") and len(a) > 2:
            k = a[2:]
    return int(k) if k is not None else default


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(
        prog="bench/quality.py", usage="%(prog)s [OPTIONS] [-- DEDUP-SCAN-OPTIONS...]",
        description=__doc__.split("\n\n", 2)[2], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=DEFAULT_CORPUS, help="folder of the SaudiNewsNet zips "
                    "(default %(default)s)")
    ap.add_argument("--generated", action="store_true", help="use a synthetic corpus instead")
    ap.add_argument("--gen-docs", type=int, default=2000, help="documents to generate (default 2000)")
    ap.add_argument("--gen-seed", type=int, default=1, help="seed of the generator (default 1)")
    ap.add_argument("--work", help="work folder (default bench/.data/snn, or bench/.data/generated)")
    ap.add_argument("--dedup", default=os.path.join(ROOT, "bin", "dedup"))
    ap.add_argument("--shingle", default=os.path.join(ROOT, "bin", "shingle"))
    ap.add_argument("--ngram", type=int, help="words per shingle of the ground truth (default: the "
                    "-k/--ngram given to dedup, else 5)")
    ap.add_argument("--jobs", type=int, default=2, help="parallel shingle processes (default 2)")
    ap.add_argument("--max-df", type=int, default=1000, help="shingles in more documents do not "
                    "generate candidate pairs (the result stays exact; default 1000)")
    ap.add_argument("--worst", type=int, default=10, help="wrong links to show (default 10)")
    ap.add_argument("--truth-only", action="store_true", help="stop after the ground truth")
    ap.add_argument("--refresh", action="store_true", help="redo extraction and shingling")
    ap.add_argument("--json", metavar="FILE", help="also write all figures to FILE as JSON")
    ap.add_argument("--filter", action="store_true", help="evaluate dedup filter --annotate on "
                    "the documents as JSONL, in corpus order, instead of dedup scan")
    args = ap.parse_args(argv)
    k = args.ngram or ngram_from(extra, 5)
    work = os.path.abspath(args.work or os.path.join(ROOT, "bench", ".data",
                                                     "generated" if args.generated else "snn"))
    os.makedirs(work, exist_ok=True)
    docs = os.path.join(work, "docs")
    report = {"work": work, "k": k}

    t0 = time.perf_counter()
    if args.generated:
        m = generate(work, args.gen_docs, args.gen_seed, args.refresh)
        what = "generated %d documents (%d edited copies)" % (m["docs"], m["copies"])
    else:
        m = extract(args.corpus, work, args.refresh)
        what = "extracted %d of %d articles (%d empty after stripping, skipped)" % (
            m["docs"], m["articles"], m["empty"])
    t1 = time.perf_counter()
    log("step 1: %s, %.1f MB, into %s%s (%.1f s)" % (what, m["bytes"] / 1e6, docs,
                                                     ", cached" if m["cached"] else "", t1 - t0))
    report["extract"] = dict(m, seconds=t1 - t0)

    paths = list_docs(docs)
    nbytes = sum(os.path.getsize(p) for p in paths)
    ensure_binary(args.shingle, os.path.join(ROOT, "bin", "shingle"))
    sets, cached = shingle_sets(args.shingle, k, docs, paths, os.path.join(work, "shingles-k%d.bin" % k),
                                args.jobs, args.refresh)
    t2 = time.perf_counter()
    log("step 2a: %d-shingle sets of %d documents (%s, %.1f s): %d shingles, %.0f per document"
        % (k, len(paths), "cached" if cached else "%d shingle processes, %d at a time"
           % (len(paths), args.jobs), t2 - t1, sum(len(s) for s in sets),
           sum(len(s) for s in sets) / max(1, len(paths))))
    pairs, st, pysets = ground_truth(sets, args.max_df)
    del sets
    t3 = time.perf_counter()
    truth_path = os.path.join(work, "truth-k%d.tsv" % k)
    write_truth(truth_path, pairs, [os.path.relpath(p, docs) for p in paths], [len(s) for s in pysets])
    summary = truth_summary(pairs)
    log("step 2b: ground truth in %.1f s: %d distinct shingles, %d in 2+ documents, %d in more than "
        "%d (at most %d); %d documents with no shingle"
        % (t3 - t2, st["shingles"], st["shingles_shared"], st["frequent_shingles"], args.max_df,
           st["max_df"], st["empty_sets"]))
    log("  %d pairs share a rare shingle, %d exact intersections, %d frequent-heavy documents "
        "checked against all; %d pairs with J >= %.1f or C >= %.1f -> %s"
        % (st["pairs_sharing_rare"], st["exact_intersections"], st["frequent_heavy_docs"],
           len(pairs), KEEP_J, KEEP_C, truth_path))
    for s in summary:
        log("  %-24s %7d pairs, %6d documents, %6d groups (connected components)"
            % (s["kind"] + ":", s["pairs"], s["docs"], s["groups"]))
    report["truth"] = {"seconds_shingle": t2 - t1, "seconds_pairs": t3 - t2, "stats": st,
                       "kept_pairs": len(pairs), "kinds": summary}

    if not args.truth_only:
        ensure_binary(args.dedup, os.path.join(ROOT, "bin", "dedup"))
        res, stderr = evaluate(args, docs, paths, pysets, pairs, nbytes, extra, work)
        log("step 3: %.1f s in all" % (time.perf_counter() - t3))
        print_eval(res, len(paths))
        if stderr.strip():
            lines = stderr.strip().split("\n")
            log("  dedup wrote %d line(s) to stderr; the last: %s" % (len(lines), lines[-1][:300]))
        report["scan"] = res
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
