/*
 * cluster_sweep.h - the clustering of a run whose memory budget is small
 * (--memory): the placer's decisions (engine/near.h, dd_placer_place) while
 * holding a few dozen bytes a document, not the placer's index of every
 * representative's band keys and the filter of shared keys (185 and 177
 * bytes a document on the 1 GB corpus, in no share of the budget).
 *
 * The steps of doc_pairs.h, in one process, a part at a time:
 *  1. group: the band keys of the documents that may lead (words, and the
 *     first of their exact key), a part of the keys at a time (those whose
 *     top bits fall in the part: a bucket is in one part), within half the
 *     share; each part's keys sorted; a bucket of fewer than DD_BUCKET_CAP
 *     documents gives its pairs (later, earlier, sharing one bucket) to a
 *     scratch array (the other half of the share, then a scratch file); a
 *     hot bucket (DD_BUCKET_CAP documents or more) marks its documents' band
 *     hot (a bit a document and band), for the placer to look up itself.
 *  2. sweep: the pairs read back a part of the later documents at a time
 *     (those of a run of ranks that fit half the share), sorted and each
 *     made once with the buckets it shares; then dd_placer_place_given in
 *     rank order, given each document's pairs (no verdict: the placer
 *     verifies the candidates it chooses, as dd_placer_place does), its
 *     twin and its hot bands.
 * The clusters, similarities and counts are those of dd_placer_place over
 * the same documents in the same order (doc_pairs.h): the output is the
 * same whichever way a run clusters.
 *
 * What it holds beyond the share: per document of the run, its rank order
 * (the caller's), its twin (4 bytes), its hot bands (a bit each: 8 bytes at
 * 64 bands), the placer's arrays (16 bytes) and, while the twins are found,
 * 24 bytes a document that may lead; the placer's index of the hot buckets'
 * representatives (at most DD_BUCKET_CAP a bucket and sub-bucket).
 * What it costs: with more than one part of the keys, the band keys of
 * the documents that may lead written to a scratch file (8 bytes a key:
 * 512 bytes a document at 64 bands) and read once a part; the pairs read
 * once a part of the ranks; the exact sets read on the calling thread.
 */
#ifndef DD_RUN_CLUSTER_SWEEP_H
#define DD_RUN_CLUSTER_SWEEP_H

#include "engine/near.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What dd_cluster_sweep did (DEDUP_RUN_STATS). */
typedef struct dd_sweep_stats {
    size_t key_parts;      /* passes over the documents' band keys */
    size_t rank_parts;     /* parts of the pairs, by the rank of the later document */
    uint64_t entries;      /* band keys of the documents that may lead */
    uint64_t hot_entries;  /* of them, in buckets of DD_BUCKET_CAP documents or more */
    uint64_t pairs;        /* pairs of the smaller buckets, a pair once a bucket */
    uint64_t pairs_scratch; /* bytes of them that went to a scratch file */
    uint64_t keys_scratch; /* bytes of band keys in a scratch file (more than one part) */
    size_t most_held;      /* bytes of keys or pairs held at once, at most */
    size_t placer_bytes;   /* what the placer held at the end */
} dd_sweep_stats;

/* Clusters docs[0..ndocs) of s into *out, placed in that order (the ranks
 * are positions in it), as dd_placer_place would one by one, with a share
 * of share bytes for the keys and pairs held at once; scratch files in
 * tmp_dir (NULL: io/spool.h's default). st (NULL: not wanted) says what it
 * did. False, with *err a new message and *out untouched, when the pairs
 * could not be written to their scratch file (a full disk). */
bool dd_cluster_sweep(const dd_signatures *s, const uint32_t *docs, size_t ndocs, size_t share,
                      const char *tmp_dir, dd_clusters *out, dd_sweep_stats *st, char **err);

#endif
