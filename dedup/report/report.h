/*
 * report.h - writing the findings: text (path:line: message) or JSON lines.
 */
#ifndef DD_REPORT_H
#define DD_REPORT_H

#include "run/corpus.h"
#include "io/input.h"
#include "engine/engine.h"
#include "cmd/options.h"

#include <jansson.h>
#include <stdio.h>

/* An id (a path) as a new JSON string: as it is when it is valid UTF-8,
 * escaped as dd_printable does (\xHH) when not, since JSON strings must be
 * UTF-8. Every JSON report and annotation writes ids through it. */
json_t *dd_json_id(const char *id);

/* How every report writes a similarity (a Jaccard or a containment, from 0
 * to 1). In JSON (reports, annotations): rounded to four places, halves
 * away from zero, so that reports are stable and short. In text: the pair
 * as "jaccard 0.86, containment 0.91", two places as printf rounds them,
 * with DD_SIMILARITY_TEXT in a format and the two values among its
 * arguments. */
json_t *dd_json_similarity(double x);
#define DD_SIMILARITY_TEXT "jaccard %.2f, containment %.2f"

/* Sets the members that name document d in a JSON report's object obj:
 * "doc", its name (a file's path, a record's id or "SHARD:LINE"), and for a
 * record "shard" (its shard's path) and "shard_line" (its line there). */
void dd_json_set_doc(json_t *obj, const dd_input *d);

/* Writes every finding to out: clusters by id, then repeats and boilerplate
 * in the order of dd_findings (tsv: doc<TAB>cluster for every document);
 * the boilerplate records' places are in places (dd_place, from each
 * record's first_at: run/corpus.h), read in order, and f's repeats in
 * repeats (dd_repeat, f->nrepeats of them; f->repeats is not read).
 * With loop (not NULL, its run set: threads), the records are formatted on
 * its threads, a window of them at a time, and written in order: the same
 * bytes. Returns false on a write error. */
bool dd_report_write(FILE *out, dd_format format, dd_method method, const dd_inputs *in,
                     const dd_clusters *c, const dd_findings *f, const dd_scratch_array *places,
                     const dd_scratch_array *repeats, const dd_loop *loop);

/* The clusters file (scan and clean --clusters FILE): one JSON line for
 * every member of every cluster, the clusters by id and in each the
 * representative first, then the copies in input order, as the report
 * lists them:
 *   {"doc":"b.txt","cluster":1,"cluster_size":2,"representative":"a.txt",
 *    "jaccard":0.77,"containment":0.89}
 * the member's "doc" (with "shard" and "shard_line" for a record), its
 * cluster's "id" as "cluster", its number of members, its representative,
 * then the member's similarity, "exact", "of" and "round" exactly as in
 * the cluster record of the report. False on a write error. */
bool dd_report_clusters_file(FILE *out, dd_method method, const dd_inputs *in,
                             const dd_clusters *c);

/* The first record of a JSON lines report:
 *   {"type":"header","version":"0.1.0","normalizer":"sh-norm/1 ...",
 *    "signatures":"...","settings":{...}}
 * the program's version, the normaliser's profile (sh_normalizer_profile),
 * the MinHash scheme, and every option that changes what is found, by its
 * long name with '_' for '-'. False on a write error (or if the normaliser
 * cannot start, after a message). */
bool dd_report_header(FILE *out, const dd_options *o);

/* The last record of a JSON lines report:
 *   {"type":"summary","documents":9,"bytes":67890,"errors":0,"clusters":4,
 *    "copies":4,"repeats":6,"boilerplate":0,"index":0,
 *    "paragraphs_removed":6,"bytes_removed":12345}
 * clusters, repeats, boilerplate and index count the records of those
 * types before it; copies the cluster members other than representatives;
 * paragraphs_removed and bytes_removed what clean -o removes (the copies'
 * bytes included). When an LSH bucket of documents reached its cap
 * (near.h's DD_BUCKET_CAP) in any round, four more follow:
 *    "full_buckets":2,"bucket_entries_split":40,"full_sub_buckets":1,
 *    "bucket_entries_left_out":4
 * the buckets that reached it (a full bucket is split by a second key of
 * each document), the entries of later representatives made in their
 * sub-buckets, the sub-buckets that reached the cap too, and the entries
 * not made at all, their sub-bucket full as well (such a document is
 * still listed in its other buckets: a copy of it is missed only when
 * every bucket and sub-bucket they share was full).
 * False on a write error. */
bool dd_report_summary(FILE *out, const dd_corpus_counts *k, const dd_findings *f,
                       size_t index_records);

/* The near-duplicate parameters chosen (dd_near_params_check) and the
 * candidate probabilities they give, as text (--explain-params). */
void dd_report_near_params(FILE *out, const dd_near_params *p);

/* "; N LSH buckets full (32 documents), split: S entries in sub-buckets,
 * M left out" (see
 * dd_report_summary), for the summary line on stderr; nothing when no
 * bucket reached its cap. */
void dd_report_full_buckets(FILE *out, const dd_corpus_counts *k);

/* one when n is 1, else many: for the summary lines. */
const char *dd_plural(uint64_t n, const char *one, const char *many);

#endif
