/*
 * cluster_sweep.h - the clustering of a run whose memory budget is small
 * (--memory): the placer's decisions (engine/near.h, dd_placer_place) while
 * holding a few dozen bytes a document, not the placer's index of every
 * representative's band keys and the filter of shared keys (185 and 177
 * bytes a document on the 1 GB corpus, in no share of the budget).
 *
 * The steps of doc_pairs.h, in one process, a part at a time:
 *  0. twins: the documents' exact keys with their ranks, a part of them at
 *     a time (by their top bits: a key is in one part) within half the
 *     share, each part sorted in place; a document whose key an earlier
 *     one has gives a record of its twin to the pairs (below), the first
 *     of each key may lead.
 *  1. group: the band keys of the documents that may lead (words, and the
 *     first of their exact key), a part of the keys at a time (those whose
 *     top bits fall in the part: a bucket is in one part), within half the
 *     share; each part's keys sorted; a bucket of fewer than DD_BUCKET_CAP
 *     documents gives its pairs (later, earlier, sharing one bucket) to a
 *     buffer (the other half of the share), sorted by later rank when full
 *     and written as a run of a scratch file; a hot bucket (DD_BUCKET_CAP
 *     documents or more) is numbered, and gives each of its documents a
 *     record of its number, and one of its sub-bucket's (by their second
 *     keys: numbered too, when two documents or more share it), for the
 *     placer to look them up itself, by number. The
 *     records (twins, hot buckets) are pairs whose earlier rank is past every
 *     document's: sorted, written and merged with the pairs, each rank's
 *     after its pairs, so that nothing of them is an array a document. With more than one part,
 *     the keys are made once and written to a scratch file in chunks of
 *     their part, so that each part reads its own keys only.
 *  2. sweep: the runs of pairs merged, in rank order, each pair once with
 *     the buckets it shares; the documents placed a batch of ranks at a
 *     time with dd_placer_place_numbered, given each document's pairs, its
 *     twin and its hot buckets (its records: room for a batch's is kept
 *     from the share). With a pool (dd_sweep_ahead), the pairs of a
 *     batch are judged on their signatures (dd_near_prejudge) and the exact
 *     sets of those the estimates let through compared on the pool's
 *     threads, while the calling thread places the documents whose pairs
 *     are judged (as the placer's batches, run/corpus.c); without, the
 *     placer verifies the candidates it chooses, as dd_placer_place does.
 * The clusters, similarities and counts are those of dd_placer_place over
 * the same documents in the same order (doc_pairs.h): the output is the
 * same whichever way a run clusters, and whatever the threads.
 *
 * What it holds within the share, each sized from it and counted
 * (dd_sweep_stats.most_held): the keys of a part and where each band of it
 * starts; while the keys are written, a chunk's buffer for each piece of
 * them and where its last chunk is (each chunk in the file says where the
 * piece's one before it is: no place a chunk in memory), kept while the
 * parts are read, with a read buffer (64 KiB at most); the buffer of pairs
 * pending and the places of their runs; then, while placing, the one run
 * in memory, and a read buffer a run (their merge: kway_merge.h), and a batch's pairs (56 bytes each
 * with its verdict, 4 more for the representatives sent to exact
 * verification, and what the caller holds for each: dd_sweep_ahead). A
 * part is a run of pieces of the keys (by their top bits) that fits its
 * room, so it passes the room only when a piece alone does (thousands of
 * documents sharing a band key); and below the least sizes of the sweep
 * (chunks of 256 bytes, reads of 4 KiB, 1 KiB of keys a part: a share of
 * a few KiB, or over a hundred runs of pairs in a share of 1 MiB) it holds
 * those. Its in-place sorts (doc_pairs.h) hold nothing more.
 * What it holds beyond the share: per document of the run, its rank order
 * (the caller's, which the placer reads: dd_placer_reserve_order; none
 * when the caller gives none, the documents' own order, as a first
 * clustering with --keep first does), while
 * the keys are grouped whether it may lead (a byte), and per document of
 * the corpus the placer's (8 bytes); per member, its similarity (24 bytes,
 * engine/near.c); the hot buckets' and sub-buckets' representatives (at
 * most DD_BUCKET_CAP a bucket: 8 bytes each, and 5 a bucket); the clusters made
 * (dd_clusters: 5 bytes a document, 40 a member and representative); the
 * sets the caller's exact verification reads (its cache's own share, and a
 * document's set or two on each thread). On 1 GB (94,805 documents, 9,461
 * members in 8,130 clusters) that is about 32 bytes a document: the rank
 * order 4 (none in the first clustering with --keep first: 28 then), the
 * placer's 12 (its documents 8, the members 3, the hot buckets' 1), the clusters
 * 16 (the ids 4, the flags 1, the members 11), at the end, where the most
 * is (the batches' and pairs' buffers are given back before it).
 * What it reads: when the keys do not fit the room at once, the band keys
 * of the documents that may lead (16 bytes a key with its band and rank: 1
 * KB a document at 64 bands, and 16 a chunk) written once and read once;
 * the pairs and records (12 bytes each) written once and read once, when
 * they do not fit their buffer; the exact keys (in the signatures) once a
 * part of them.
 */
#ifndef DD_RUN_CLUSTER_SWEEP_H
#define DD_RUN_CLUSTER_SWEEP_H

#include "engine/near.h"
#include "run/run.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What dd_cluster_sweep did (DEDUP_RUN_STATS). */
typedef struct dd_sweep_stats {
    size_t twin_parts;      /* parts of the exact keys, sorted to find the twins */
    uint64_t twins;         /* documents with a twin (an earlier one with their exact key) */
    size_t key_parts;       /* parts of the documents' band keys */
    size_t pair_runs;       /* sorted runs of pairs written to a scratch file (0: none) */
    size_t batches;         /* batches of ranks placed */
    uint64_t entries;       /* band keys of the documents that may lead */
    uint64_t hot_entries;   /* of them, in buckets of DD_BUCKET_CAP documents or more */
    size_t hot_buckets;     /* those buckets */
    size_t sub_buckets;     /* their sub-buckets of two documents or more (by second key) */
    uint64_t pairs;         /* pairs of the smaller buckets, a pair once a bucket */
    uint64_t given;         /* of them, distinct: given to the placer */
    uint64_t pairs_scratch; /* bytes of them that went to a scratch file */
    uint64_t keys_scratch;  /* bytes of band keys in a scratch file (more than one part) */
    uint64_t scratch_read;  /* bytes read back from both scratch files */
    uint64_t judged;        /* pairs judged on their signatures ahead, on the pool */
    uint64_t exact_ahead;   /* of them, sent to the pool's exact verification */
    size_t most_held;       /* bytes of keys, pairs, batches and buffers held at once, at most */
    const char *most_held_when; /* at which step ("a part of keys read") */
    size_t placer_bytes;    /* what the placer held at the end */
    /* malloc's blocks in use in the process (run/memory.h) when the sweep
     * began, and the most seen at its steps (each part of keys, batch, the
     * clusters made): what it holds beyond the share shows there */
    size_t heap_before, heap_most;
    const char *heap_most_when;
} dd_sweep_stats;

/* Exact verification ahead, on the threads of a pool (run.h), while the
 * calling thread places. The sweep places the documents a batch at a time;
 * the caller answers the placer's questions (dd_signatures.overlap, which
 * it sets) from what pairs() computed for the batch, or computes them
 * then. */
typedef struct dd_sweep_ahead {
    dd_pool *pool; /* its workers' states are what pairs() gets */
    void *ctx;
    /* Calling thread: docs[0..n) are the documents placed next, in that
     * order, or with docs NULL (the sweep was given no order) documents
     * first to first + n - 1 (what was computed for the batch before is
     * no longer asked); n 0 after the last batch, before the clusters are
     * made. */
    void (*batch)(void *ctx, const uint32_t *docs, size_t first, size_t n);
    /* Any thread of the pool (worker: its state): the overlaps of the
     * exact sets of the batch's document k with those of reps[0..n), in
     * that order, until one joins. Writes what is document k's only. */
    void (*pairs)(void *ctx, void *worker, size_t k, const uint32_t *reps, size_t n);
    /* What the caller holds for each pair of a batch sent to pairs(), and
     * for each rank of a batch, at most (bytes): a batch takes as many
     * fewer pairs. */
    size_t pair_bytes, rank_bytes;
    /* NULL, or the bytes the caller holds for the batch now (once it is
     * placed), counted in most_held. Calling thread. */
    size_t (*held)(const void *ctx);
} dd_sweep_ahead;

/* Clusters docs[0..ndocs) of s into *out, placed in that order (the ranks
 * are positions in it; docs NULL: every document of s, ndocs of them,
 * rank r being document r, as dd_rank_documents ranks them with --keep
 * first: no order held), as dd_placer_place would one by one, with a share
 * of share bytes for the keys, pairs and batches held at once (see
 * above); scratch files in
 * tmp_dir (NULL: io/spool.h's default). ahead (NULL, or without a pool:
 * none) verifies on a pool's threads. st (NULL: not wanted) says what it
 * did. False, with *err a new message and *out untouched, when the keys or
 * pairs could not be written to their scratch file (a full disk). */
bool dd_cluster_sweep(const dd_signatures *s, const uint32_t *docs, size_t ndocs, size_t share,
                      const char *tmp_dir, const dd_sweep_ahead *ahead, dd_clusters *out,
                      dd_sweep_stats *st, char **err);

#endif
