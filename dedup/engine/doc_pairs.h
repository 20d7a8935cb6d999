/*
 * doc_pairs.h - near-duplicate documents by stages: the candidate pairs made
 * by sorting band keys, verified, then swept in rank order (issue 17, item
 * 5: the clustering stage holds a few bytes a document, not the candidate
 * pairs, nor a band index of the whole corpus).
 *
 * The placer (near.h, dd_placer) clusters the documents in rank order with
 * an index of the representatives' band keys: at 10 GB it holds 278 bytes a
 * document, on one node, at Common Crawl scale (3e9 documents) some 800 GB.
 * The same decisions split into the shape of the paragraph search's stages
 * (run/across_stages.c):
 *
 *  1. group (per partition of band keys): the entries (band, key, rank) of
 *     every document that may become a representative (it has words and is
 *     the first, by rank, of its exact key; a later twin joins its twin's
 *     cluster without a comparison), sorted by band, key and rank. A bucket
 *     (one band's key) of fewer than DD_BUCKET_CAP entries can never list as
 *     many representatives in the placer: it gives every pair (later,
 *     earlier) of its entries, sharing that bucket. A hot bucket
 *     (DD_BUCKET_CAP entries or more: it may fill and split) gives no pair
 *     counted as shared: its entries are marked hot (the sweep looks them up
 *     itself, as the placer does), and, to verify ahead what the sweep is
 *     likely to ask, each later entry is paired with the first DD_BUCKET_CAP
 *     of the bucket (shares 0). dd_bucket_pairs.
 *  2. verify (per partition of later documents): the pairs of a document
 *     merged (dd_rank_pairs_count: each pair once, with the buckets it
 *     shares), with the pairs of its links (dd_signatures.links, the
 *     documents it shares a paragraph with, shares 0), each judged on the
 *     two signatures as the placer judges a candidate (dd_near_prejudge:
 *     the MinHash estimates reject most; SimHash, or MinHash without
 *     --verify-exact, decides there), whether or not the earlier one will
 *     be a representative, which is not known yet. No text is read: a
 *     signature is in the facts of the sign stage.
 *  3. cluster (one task): the placer in rank order, given each document's
 *     judged pairs, its twin and which of its buckets are hot
 *     (dd_placer_place_given): the candidates are the given earlier
 *     documents that are representatives by then, and the representatives
 *     of its hot buckets, which the placer lists (only those); it chooses
 *     and verifies them as dd_placer_place does (at most DD_MAX_CANDIDATES,
 *     by shared buckets then rank; links always; in rank order until one
 *     joins), taking the verdicts given, deciding on the exact sets the
 *     pairs the estimates let through (as many as the placer reads), and
 *     verifying what was not judged (a hot bucket's pair past its first
 *     DD_BUCKET_CAP, a sub-bucket's).

 * The clusters, similarities and bucket counts are those of the placer,
 * exactly, caps or not (tests/unit/test_doc_pairs.c): no bucket of fewer
 * than DD_BUCKET_CAP documents is ever full, and a hot bucket is handled by
 * the placer's own code. The sweep holds, per document, the placer's
 * per-document arrays (its representative, rank, where its similarity is,
 * the order placed: 16 bytes) and the table of exact keys, and an index of
 * the hot buckets' representatives only. Its input is read in rank order
 * (each document's pairs, sorted by later rank), a document at a time.
 *
 * What it costs: every pair in a bucket is judged on its signatures, not
 * only those whose earlier document is a representative and only until one
 * joins; the exact sets are read as by the placer. Counted by
 * dd_doc_pairs_stats.
 *
 * dd_cluster_by_pairs runs the three steps in memory, one after the other:
 * the reference that the stages (run/) split across tasks and files.
 *
 * In a work folder, the three steps are the stages of run/doc_stages.h,
 * made by the group and verify tasks of the paragraph search beside their
 * own partitions: group partition K sorts the band keys whose value % P is
 * K (from the docs file each sign part writes: every document with words,
 * twins too, ranked by a key that needs no table: --keep first the
 * document, longest most words first then the document) and writes its
 * pairs and hot entries by the sign part of the later document; verify
 * partition V judges the pairs of V's documents on their signatures, read
 * by one pread each; decide sweeps the verify files in rank order. Links
 * are not given as pairs there: the sweep verifies them itself (counted as
 * asked), as it does a hot bucket's.
 */
#ifndef DD_DOC_PAIRS_H
#define DD_DOC_PAIRS_H

#include "engine/near.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A document's key in one band (or SimHash block): a bucket entry. */
typedef struct dd_band_entry {
    uint64_t key;
    uint32_t band;
    uint32_t rank; /* the document's rank (dd_rank_documents' order) */
} dd_band_entry;

typedef struct dd_band_entries {
    dd_band_entry *v;
    size_t n, cap;
} dd_band_entries;

/* A candidate pair: two documents by rank, earlier < later, and how many
 * buckets of fewer than DD_BUCKET_CAP entries list both (0: a pair to
 * verify ahead only). */
typedef struct dd_rank_pair {
    uint32_t later, earlier, shares;
} dd_rank_pair;

typedef struct dd_rank_pairs {
    dd_rank_pair *v;
    size_t n, cap;
} dd_rank_pairs;

void dd_band_entries_free(dd_band_entries *e);
void dd_rank_pairs_free(dd_rank_pairs *p);

/* Sorts v[0..n) by band, key, then rank, in place (no memory beside v:
 * qsort's merge sort holds a copy of the array). */
void dd_band_entries_sort(dd_band_entry *v, size_t n);

/* What a walk over the buckets of sorted entries gives, to its sink. */
typedef struct dd_bucket_sink {
    void *ctx;
    /* A pair of a bucket (ranks later > earlier): every pair of a bucket of
     * fewer than DD_BUCKET_CAP entries (shares 1); with hot_pairs, in a hot
     * bucket each entry past the first paired with those of the first
     * DD_BUCKET_CAP ranked before it (shares 0). False stops the walk. */
    bool (*pair)(void *ctx, uint32_t later, uint32_t earlier, uint32_t shares);
    /* The entries v[0..n) of a hot bucket (DD_BUCKET_CAP or more), in rank
     * order, before its pairs. Without hot_pairs the walk reads them no
     * more: a sink whose caller owns v may reorder them (the sweep's). */
    void (*hot)(void *ctx, const dd_band_entry *v, size_t n);
    bool hot_pairs;
} dd_bucket_sink;

/* Walks the buckets of v[0..n), sorted (dd_band_entries_sort), giving
 * their pairs and hot buckets to sink. False when sink->pair stopped it. */
bool dd_bucket_walk(const dd_band_entry *v, size_t n, const dd_bucket_sink *sink);

/* The walk into arrays: the pairs appended to *pairs, hot buckets' pairs
 * with their first DD_BUCKET_CAP entries too, and every entry of a hot
 * bucket appended to *hot. */
void dd_bucket_pairs(const dd_band_entry *v, size_t n, dd_rank_pairs *pairs, dd_band_entries *hot);

/* Sorts p by later then earlier rank and makes each pair once, its shares
 * summed; in place, as dd_band_entries_sort. */
void dd_rank_pairs_count(dd_rank_pairs *p);

/* Twins: a document whose exact key (dd_doc_sig.key) an earlier one (by
 * rank) has joins that one's cluster without a comparison. They are found
 * by sorting the documents' (key, rank) and reading each key's run: its
 * first is the least rank. Owned here: the order and the reading of a
 * sorted run, no memory beside the caller's array. The caller gives the
 * (key, rank) of its documents with words (all, or a part of them holding
 * every document of each of its keys: by the keys' top bits, as
 * run/cluster_sweep.c does a part at a time) and takes the twins. */
typedef struct dd_ranked_key {
    sh_key key;
    uint32_t rank;
} dd_ranked_key;

/* Sorts v[0..n) by key then rank, in place (sort_in_place.h: nothing held
 * beside v; the order is total, ranks being distinct). */
void dd_ranked_keys_sort(dd_ranked_key *v, size_t n);

/* The twins of v[0..n), sorted (dd_ranked_keys_sort): for the first of
 * each key, may_lead[its rank] set true (NULL: not wanted); for each
 * later one, twin(ctx, its rank, the first's rank), in the order of v.
 * False when twin returned false (it stops there). */
bool dd_ranked_key_twins(const dd_ranked_key *v, size_t n, bool *may_lead,
                         bool (*twin)(void *ctx, uint32_t rank, uint32_t first), void *ctx);

/* The twins of the documents order[0..n) of s, ranked in that order
 * (dd_rank_documents: every document; or those a placer places, as a
 * round of decisions places some again): twin[rank], the rank of the first
 * document with the exact key of the document of that rank, when that is
 * another (UINT32_MAX: none, or no words); (*may_lead)[rank] (NULL: not
 * wanted), whether it may become a representative: it has words and no
 * twin (the placer joins a twin to its twin's cluster). The caller frees
 * both. */
uint32_t *dd_doc_twins(const dd_signatures *s, const uint32_t *order, size_t n, bool **may_lead);

/* What dd_cluster_by_pairs did. */
typedef struct dd_doc_pairs_stats {
    uint64_t entries;      /* bucket entries (documents x bands) */
    uint64_t hot_buckets;  /* buckets of DD_BUCKET_CAP entries or more */
    uint64_t hot_entries;  /* their entries */
    uint64_t bucket_pairs; /* pairs made by buckets, before they were merged */
    uint64_t pairs;        /* distinct pairs judged on their signatures */
    uint64_t may_join;     /* of them, those the estimates let through */
    uint64_t joined;       /* of them, those that join there (SimHash, or estimates) */
    uint64_t exact;        /* pairs the sweep decided on the exact sets */
    uint64_t asked;        /* pairs the sweep verified itself */
    size_t sweep_bytes;    /* what the placer held at the end of the sweep */
} dd_doc_pairs_stats;

/* Clusters the documents of s as dd_cluster_documents does, by the three
 * steps above, in memory. st (NULL: not wanted) says what they did. */
void dd_cluster_by_pairs(const dd_signatures *s, dd_clusters *out, dd_doc_pairs_stats *st);

#endif
