#!/usr/bin/env python3
"""Write a folder of text files as zstd JSONL shards, one shard per top-level folder.

    bench/make_shards.py DIR --out OUTDIR [--level N]

DIR/NN/NNNNNN.txt becomes OUTDIR/NN.jsonl.zst, records {"id": "NN/NNNNNN.txt", "text": ...}
in sorted file order (files directly in DIR go to OUTDIR/top.jsonl.zst). This is the shape the
10 GB shard runs in bench/README.md use (bench/gen_corpus.py writes DIR). Each shard is written
to a temporary name and renamed when whole, so an interrupted run leaves no shard that looks
done; shards already present are kept. Needs the zstd command; standard library otherwise.
"""

import argparse
import json
import os
import subprocess

from make_jsonl import files_of


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--out", required=True)
    ap.add_argument("--level", type=int, default=3)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    groups = {}
    for path in files_of(a.dir):
        rel = os.path.relpath(path, a.dir)
        top = rel.split(os.sep)[0] if os.sep in rel else "top"
        groups.setdefault(top, []).append(rel)
    for top in sorted(groups):
        final = os.path.join(a.out, top + ".jsonl.zst")
        if os.path.exists(final):
            continue
        partial = final + ".partial"
        with open(partial, "wb") as sink:
            zstd = subprocess.Popen(["zstd", "-q", "-%d" % a.level, "-c"],
                                    stdin=subprocess.PIPE, stdout=sink)
            for rel in sorted(groups[top]):
                with open(os.path.join(a.dir, rel), encoding="utf-8") as f:
                    record = {"id": rel, "text": f.read()}
                zstd.stdin.write((json.dumps(record, ensure_ascii=False) + "\n").encode())
            zstd.stdin.close()
            if zstd.wait() != 0:
                raise SystemExit("zstd failed on " + final)
        os.rename(partial, final)


if __name__ == "__main__":
    main()
