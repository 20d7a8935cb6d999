#!/usr/bin/env python3
"""Write a folder of text files as JSONL, one record per file, for dedup filter.

    bench/make_jsonl.py DIR --out FILE [--repeat N]

Each record is {"id": "<path relative to DIR>", "text": "<the file>", "meta": {"bytes": N,
"pass": K}}, files in sorted order. --repeat N writes the corpus N times; pass K > 0 is edited
so that later passes are near-duplicates of the first, not all exact copies: every document
gets a first line "copy K", and every third one loses its last line. Deterministic; standard
library only.
"""

import argparse
import json
import os


def files_of(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            out.append(os.path.join(dirpath, name))
    out.sort()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--out", required=True)
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    paths = files_of(a.dir)
    texts = [open(p, encoding="utf-8").read() for p in paths]
    with open(a.out, "w", encoding="utf-8") as out:
        for k in range(a.repeat):
            for i, (p, text) in enumerate(zip(paths, texts)):
                if k > 0:
                    lines = text.split("\n")
                    if i % 3 == 0 and len(lines) > 2:
                        lines = lines[:-1]
                    text = "copy %d\n" % k + "\n".join(lines)
                rec = {"id": os.path.relpath(p, a.dir), "text": text,
                       "meta": {"bytes": len(text.encode("utf-8")), "pass": k}}
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
