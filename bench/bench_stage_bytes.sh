#!/usr/bin/env bash
# What each stage of a run kept in a work folder reads and writes, per
# document and per MB of text: the sign stage (every part, in one process:
# dedup scan --work-dir W --stage sign), the group and verify stages
# (--stage group, --stage verify: every partition, in one process) and the
# decide stage (--stage decide, the JSON lines report), each measured for wall and CPU time, peak
# RSS, the bytes it read and wrote (rchar and wchar of /proc/PID/io: every
# read(2) and write(2), page cache or not) and the bytes that reached the
# disk (write_bytes); then the work folder's size (the scratch space the
# run needs beside its inputs: the facts, the keys files, the group and
# verify files; the docs files and the group-docs and verify-docs files of
# the near-duplicate documents, which the group and verify stages make too,
# run/doc_stages.h), and what the clustering held per document
# (DEDUP_RUN_STATS: the sweep's, or the placer's for a binary without
# the documents' stages). The figures from which bench/README.md extrapolates to
# a Common Crawl snapshot.
#
#   bench/bench_stage_bytes.sh [CORPUS]
#
# CORPUS: a folder of documents or shards (default:
# bench/.data/corpus-1024mb). J=N: -j (default 2). PART_SIZE=SIZE:
# --part-size (default: dedup's). DEDUP=PATH: another binary.
set -eu
cd "$(dirname "$0")/.."
j=${J:-2}
corpus=${1:-bench/.data/corpus-1024mb}

. bench/lib.sh
[ -d "$corpus" ] || die "$corpus is missing (bench/gen_corpus.py --mb 1024)"
use_dedup

bytes=$(corpus_bytes "$corpus")

# measure LABEL COMMAND...: one run, its standard output to $tmp/LABEL.out;
# its wall and CPU seconds, peak RSS (KB), bytes read, written, and written
# to disk appended to $tmp/rows.
measure() {
    local label=$1
    shift
    python3 - "$label" "$tmp/$label.out" "$@" >>"$tmp/rows" <<'PY'
import resource, subprocess, sys, time
def counters():
    io = dict(line.split(":") for line in open("/proc/self/io"))
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return int(io["rchar"]), int(io["wchar"]), int(io["write_bytes"]), ru.ru_utime + ru.ru_stime
label, out, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
(r0, w0, d0, c0), t0 = counters(), time.monotonic()
with open(out, "wb") as f:
    st = subprocess.run(cmd, stdout=f, stderr=subprocess.PIPE)
t = time.monotonic() - t0
r1, w1, d1, c1 = counters()
if st.returncode > 1:
    sys.exit("%s: exit %d: %s" % (label, st.returncode, st.stderr.decode()[-400:]))
print(label, t, c1 - c0, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r1 - r0,
      w1 - w0, d1 - d0)
PY
}

echo "$corpus: $(echo "$bytes / 1000000" | bc -l | xargs printf '%.1f') MB of text; -j $j; load $(cut -d' ' -f1-3 /proc/loadavg)"
ps=()
[ -n "${PART_SIZE:-}" ] && ps=(--part-size "$PART_SIZE")
measure sign "$dedup" scan -q -j "$j" --work-dir "$tmp/w" "${ps[@]}" --stage sign "$corpus"
measure group "$dedup" scan -q -j "$j" --work-dir "$tmp/w" "${ps[@]}" --stage group "$corpus"
measure verify "$dedup" scan -q -j "$j" --work-dir "$tmp/w" "${ps[@]}" --stage verify "$corpus"
measure decide "$dedup" scan -q -j "$j" -f jsonl --work-dir "$tmp/w" "${ps[@]}" --stage decide "$corpus"
facts=$(du -bc "$tmp/w/sign"/part-*[0-9] | tail -n 1 | cut -f1)
keys=$(du -bc "$tmp/w/sign"/part-*.keys | tail -n 1 | cut -f1)
pairs=$(du -bc "$tmp/w/group"/part-* | tail -n 1 | cut -f1)
matches=$(du -bc "$tmp/w/verify"/part-* | tail -n 1 | cut -f1)
# (0 for a binary without the documents' stages)
sizes() { du -bc "$@" 2>/dev/null | tail -n 1 | cut -f1; }
docs_keys=$(sizes "$tmp/w/sign"/part-*.docs)
doc_pairs=$(sizes "$tmp/w/group-docs"/part-*)
doc_judged=$(sizes "$tmp/w/verify-docs"/part-*)
python3 - "$tmp/rows" "$tmp/decide.out" "$bytes" "$facts" "$(ls "$tmp/w/sign" | grep -c '^part-[0-9]*$')" "$pairs" "$matches" "$keys" \
    "$docs_keys" "$doc_pairs" "$doc_judged" <<'PY'
import json, sys
rows, report, text, facts, parts = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
pairs, matches, keys = int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
docs_keys, doc_pairs, doc_judged = int(sys.argv[9]), int(sys.argv[10]), int(sys.argv[11])
docs = json.loads(open(report).read().splitlines()[-1])["documents"]
mb = text / 1e6
print("%d documents, %.0f bytes of text each" % (docs, text / docs))
print("%-7s %7s %7s %7s %9s %9s %9s | %8s %8s | %6s %6s | %8s %8s" % (
    "stage", "wall s", "CPU s", "RSS MB", "MB read", "MB wrote", "MB disk", "rd/doc", "wr/doc",
    "rd/MB", "wr/MB", "CPU s/GB", "RSS/doc"))
for line in open(rows):
    label, t, cpu, rss, r, w, d = line.split()
    t, cpu, rss, r, w, d = float(t), float(cpu), int(rss) * 1024, int(r), int(w), int(d)
    print("%-7s %7.1f %7.1f %7.0f %9.1f %9.1f %9.1f | %8.0f %8.0f | %6.2f %6.2f | %8.1f %8.0f" % (
        label, t, cpu, rss / 1e6, r / 1e6, w / 1e6, d / 1e6, r / docs, w / docs, r / 1e6 / mb,
        w / 1e6 / mb, cpu / (text / 1e9), rss / docs))
print("work folder: %d parts, %.1f MB of facts: %.0f bytes a document, %.3f bytes a byte of text"
      % (parts, facts / 1e6, facts / docs, facts / text))
print("keys files: %.1f MB (band keys by partition, where the sets lie): %.0f bytes a document, "
      "%.3f bytes a byte of text" % (keys / 1e6, keys / docs, keys / text))
print("group files: %.2f MB of candidate pairs (%.0f bytes a document); verify files: %.2f MB of "
      "matches (%.0f bytes a document)" % (pairs / 1e6, pairs / docs, matches / 1e6, matches / docs))
print("near-duplicate documents: docs files %.1f MB (%.0f bytes a document), group-docs files "
      "%.2f MB of pairs (%.0f bytes a document), verify-docs files %.2f MB of judged pairs "
      "(%.0f bytes a document)" % (docs_keys / 1e6, docs_keys / docs, doc_pairs / 1e6,
                                   doc_pairs / docs, doc_judged / 1e6, doc_judged / docs))
PY
DEDUP_RUN_STATS=1 "$dedup" scan -q -j "$j" -f jsonl --work-dir "$tmp/w" --stage decide "$corpus" \
    2>&1 >"$tmp/again" | grep -o 'from the work folder: .*\|the placer holds.*' | head -n 1 || true
cmp -s "$tmp/decide.out" "$tmp/again" || die "two decisions from one folder differ"
tail -n 1 "$tmp/decide.out"
