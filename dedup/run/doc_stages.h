/*
 * doc_stages.h - the clustering of near-duplicate documents as stages of a
 * work folder (stages.h): the plan of engine/doc_pairs.h, split into tasks
 * and files, so that the decide stage sweeps verified pairs in rank order
 * (a few bytes a document) instead of running the placer with its index of
 * every representative's band keys (262-344 bytes a document).
 *
 * Three files, each made by the stage of the same partition of the
 * paragraph search (run/across_stages.h), so that a Slurm run chains no
 * more job arrays than before:
 *   sign, part J: beside its keys file, DIR/sign/part-J.docs (a sectioned
 *     file, stages.h): section K, for each partition K, the band (or
 *     SimHash block) keys of the part's documents with words whose value
 *     modulo the number of partitions is K (key, band, the document
 *     relative to the part, its words: 20 bytes each); its last section, a
 *     table of those documents (the document, where its signature lies in
 *     the part file, the XXH3-64 of its bytes: 24 bytes each), by
 *     document. Written with the keys file, and made again with it from
 *     the part's facts when it is missing or damaged.
 *   group, partition K: also DIR/group-docs/part-K, from section K of every
 *     docs file: the entries sorted by band, key and rank (--keep first:
 *     the document; longest: most words first, then the document), and
 *     each bucket's pairs and hot entries (dd_bucket_pairs). A sectioned
 *     file: section V holds those whose later document is in sign part V:
 *     the number of pairs and of hot entries (8 bytes each), the pairs
 *     (later, earlier, shares: 4 bytes each), the hot entries (document,
 *     band: 4 bytes each).
 *   verify, partition V: also DIR/verify-docs/part-V, from section V of
 *     every group-docs file (and, --keep first, the pairs of the documents
 *     each shares a paragraph with: the matches of verify partition V,
 *     dd_across_read_links; shares 0): the pairs made once each
 *     (dd_rank_pairs_count: their shares summed), each judged on the two
 *     signatures
 *     (dd_near_prejudge), read from the part files where the docs files'
 *     tables say (one pread each, checked); written by later then earlier
 *     document with their verdicts (48 bytes each), then the hot entries
 *     (8 bytes each), after their numbers (8 bytes each).
 *   decide: the sweep (dd_placer_place_given) reads the verify-docs files
 *     (--keep first: one at a time, as their documents are in rank order;
 *     longest: all of them, sorted by rank) and places every document in
 *     rank order with its pairs, its twin and its hot bands.
 * A twin (a document with the exact key of one ranked before it) is in the
 * entries too: it is placed with its twin's cluster and is never a
 * representative, so its pairs are passed over, and a bucket it makes hot
 * is looked up by the placer's own code: the clusters are the placer's
 * either way (doc_pairs.h).
 */
#ifndef DD_RUN_DOC_STAGES_H
#define DD_RUN_DOC_STAGES_H

#include "cmd/options.h"
#include "engine/near.h"
#include "run/facts.h"
#include "run/stages.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The docs file of sign part part (the caller frees it). */
char *dd_doc_keys_path(const dd_work *w, size_t part);

/* Writing the docs file of a sign part, as its documents are signed. */
typedef struct dd_doc_keys dd_doc_keys;
dd_doc_keys *dd_doc_keys_new(const dd_work *w, size_t part);
/* Adds document doc of the part (0, 1, ... in order), its facts r, which
 * end at facts_end in the part file. */
void dd_doc_keys_add(dd_doc_keys *b, uint32_t doc, const dd_analysed *r, uint64_t facts_end);
/* Writes the file (atomically) for a part of ndocs documents: false after a
 * message. */
bool dd_doc_keys_write(dd_doc_keys *b, size_t ndocs);
void dd_doc_keys_free(dd_doc_keys *b);

/* Makes the files of the documents' stage beside stage ("group":
 * group-docs, "verify": verify-docs) that are missing or not right, for
 * the partitions of this task (as dd_across_stage_run). Nothing without
 * near-duplicate documents (--near no). False after a message. */
bool dd_doc_stage_run(dd_work *w, const dd_options *o, const char *stage, bool make_missing);

/* The decide stage's clustering: every document of s (read from w's
 * facts, its links set) placed in rank order with the pairs of the
 * verify-docs files, into out, as dd_cluster_documents would. False after
 * a message when a file is missing or damaged. */
bool dd_doc_stages_cluster(const dd_work *w, const dd_signatures *s, dd_clusters *out);

#endif
