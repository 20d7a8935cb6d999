/*
 * near_units.h - near-repeated units inside one document.
 *
 * A unit (of at least min_words words) is a near-repeat of an earlier unit of
 * the same document when their sets of word 3-shingles have Jaccard >= T, or
 * when the later unit's set is contained in the earlier one's to a share >= T
 * and the later unit has at least DD_NEAR_UNIT_MIN_SHINGLES shingles: a
 * restated paragraph, a pull-quote. The sets are exact: the document is in
 * memory. Only the later unit is a near-repeat (it is what clean removes), so
 * a short unit that comes before the long one containing it is never removed.
 * Units with the same exact key are exact repeats, found elsewhere.
 */
#ifndef DD_NEAR_UNITS_H
#define DD_NEAR_UNITS_H

#include "engine/document.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DD_NEAR_UNIT_NGRAM 3
#define DD_NEAR_UNIT_MIN_SHINGLES 10
#define DD_NEAR_UNIT_FANOUT 4

typedef struct dd_near_unit {
    uint32_t doc;    /* the later unit's document */
    uint32_t of_doc; /* the matched unit's document */
    size_t unit;     /* the later unit, index in its document */
    size_t of;       /* the earlier unit it matches, index in of_doc: the earliest
                        unless alternative */
    double jaccard;
    double containment; /* of the later unit in the earlier one */
    /* Across documents: a match of the unit after the first one it has,
     * listed in case the documents before are not kept (copies): the unit
     * is a near-repeat of the first match in a document that is kept. */
    bool alternative;
} dd_near_unit;

typedef struct dd_near_unit_list {
    dd_near_unit *v;
    size_t n, cap;
} dd_near_unit_list;

/* Appends v[0..n) to l. */
void dd_near_units_append(dd_near_unit_list *l, const dd_near_unit *v, size_t n);

/* The distinct 3-shingle hashes of every unit of a document, computed once
 * for both searches: unit u's are hashes[start[u] .. start[u + 1]). It also
 * keeps the lookup table of dd_find_near_units from one document to the next.
 * Zero-initialise before first use; free with dd_unit_sets_free. */
typedef struct dd_unit_sets {
    uint64_t *hashes;
    size_t *start;
    size_t hashes_cap, start_cap;
    struct dd_shingle_table *table;
} dd_unit_sets;

void dd_unit_sets_compute(dd_unit_sets *s, const dd_doc *doc, const sh_hasher *hash);
void dd_unit_sets_free(dd_unit_sets *s);
/* Moves the sets of from into to (to's arrays go to from, for reuse); each
 * keeps its lookup table. For a worker that computes sets in its own
 * scratch and hands them over with its result. */
void dd_unit_sets_take(dd_unit_sets *to, dd_unit_sets *from);

/* Appends the near-repeats inside document number doc_number to out, by
 * unit; sets are the document's unit sets. */
void dd_find_near_units(uint32_t doc_number, const dd_doc *doc, dd_unit_sets *sets,
                        double threshold, unsigned long min_words, dd_near_unit_list *out);

/*
 * Across documents the same rule holds, for units of at least
 * DD_NEAR_UNIT_ACROSS_MIN_WORDS words. Candidates come from LSH over a small
 * MinHash of each unit's 3-shingles (DD_NEAR_UNIT_BANDS bands of
 * DD_NEAR_UNIT_ROWS values: a pair at Jaccard 0.8 is a candidate with
 * probability 0.993), and are verified on exact sets: the earlier unit is
 * read again through the caller's reader. Containment across documents is
 * found only when the Jaccard also makes the pair a candidate. A band value
 * lists at most DD_NEAR_UNIT_MAX_BUCKET units, the first ones, so a paragraph
 * printed in thousands of variants costs bounded work: at most
 * DD_NEAR_UNIT_BANDS * DD_NEAR_UNIT_MAX_BUCKET candidates a unit, all
 * verified. Memory: about 40 bytes per band per indexed unit.
 */
#define DD_NEAR_UNIT_ACROSS_MIN_WORDS 8
/* The units' small MinHash stays classic: on units of 10 to 100 shingles
 * one permutation hashing with densification is no faster at 21 values and
 * spreads more on the smallest units (see bench/README.md). */
#define DD_NEAR_UNIT_SCHEME SH_MINHASH_CLASSIC
#define DD_NEAR_UNIT_BANDS 7
#define DD_NEAR_UNIT_ROWS 3
#define DD_NEAR_UNIT_MAX_BUCKET 32 /* units kept per band value: the first ones */

/* Writes the distinct 3-shingle hashes of unit `unit` of document
 * doc to *set (growing it, *cap its capacity) and their number to *n; false
 * if the unit cannot be read again. */
typedef bool (*dd_unit_reader)(void *ctx, uint32_t doc, size_t unit, uint64_t **set, size_t *cap,
                               size_t *n);

typedef struct dd_unit_index dd_unit_index;

dd_unit_index *dd_unit_index_new(void);
void dd_unit_index_free(dd_unit_index *ix);
/* Bytes the index holds: its band table, its units, its cache of sets. */
size_t dd_unit_index_bytes(const dd_unit_index *ix);

/* The key of a unit's set (its distinct 3-shingle hashes, in any order):
 * the same for the same set. A unit whose set is that of a unit before it
 * is not indexed. */
sh_key dd_unit_set_key(const uint64_t *set, size_t n);

/* The units' small MinHash, made with hash's seed: one per thread. Exits
 * on out-of-memory. */
sh_minhasher *dd_unit_minhasher_new(const sh_hasher *hash);

/* The band keys of every unit of doc (sets: its unit sets) to *keys
 * (growing it): DD_NEAR_UNIT_BANDS per unit, unit u's at u *
 * DD_NEAR_UNIT_BANDS; units under DD_NEAR_UNIT_ACROSS_MIN_WORDS words get
 * none. Pure: runs on any thread, with that thread's minhasher. */
void dd_unit_band_keys(const sh_minhasher *m, const dd_doc *doc, const dd_unit_sets *sets,
                       uint64_t **keys, size_t *cap);

/* The set keys (dd_unit_set_key) of every unit of doc of
 * DD_NEAR_UNIT_ACROSS_MIN_WORDS words or more to *keys (growing it), unit
 * u's at u; other units get none. Pure: runs on any thread (history.h
 * makes them with a record's facts, off the deciding thread). */
void dd_unit_set_keys(const dd_doc *doc, const dd_unit_sets *sets, sh_key **keys, size_t *cap);

/* Appends to out the near-repeats of the units of document number
 * doc_number (units[0..nunits), sets: their unit sets, band_keys: their
 * dd_unit_band_keys, set_keys: their dd_unit_set_keys) among the units of the documents added before it,
 * then adds its units to the index. The earlier units it compares with are
 * read again through read. A unit near-repeats every candidate that passes
 * the rule, in the order they were added; all but the first are
 * alternatives. A unit with the same set as a unit before it (an exact
 * copy: dd_unit_set_key) is not indexed: a match of it is a match of that
 * one too, which is. Order-dependent: documents are added in rank order,
 * by one thread. For a stream (history.h); a corpus has its units'
 * candidates computed a part at a time (unit_pairs.h, run/near_across.h),
 * the same ones. */
void dd_find_near_units_across(dd_unit_index *ix, uint32_t doc_number, const dd_unit *units,
                               size_t nunits, const dd_unit_sets *sets, const uint64_t *band_keys,
                               const sh_key *set_keys, double threshold, dd_unit_reader read, void *ctx,
                               dd_near_unit_list *out);

/* The rule: does a unit of n shingles repeat an earlier one of m, with
 * which it shares `shared`? Sets its Jaccard and its containment in the
 * earlier one. */
bool dd_unit_match(size_t n, size_t m, size_t shared, double threshold, double *jaccard,
                   double *containment);

/* A set as a hash table, to count how many values of other sets are in it. */
typedef struct dd_set_table {
    uint64_t *slots;
    size_t cap, mask;
    uint64_t salt;
    bool zero; /* 0 is in the set (0 marks an empty slot) */
} dd_set_table;

void dd_set_table_fill(dd_set_table *t, const uint64_t *set, size_t n);
/* How many of set[0..n) are in t's set. */
size_t dd_set_table_count(const dd_set_table *t, const uint64_t *set, size_t n);
void dd_set_table_free(dd_set_table *t);

/*
 * The same search, a batch of documents at a time (a stream that decides
 * records a batch at a time: history.h), with what reads only the units
 * indexed before the batch done ahead, on other threads:
 *   1. dd_unit_batch_begin, on the index's thread: the batch starts.
 *   2. dd_unit_batch_ahead for each document of the batch, on any threads
 *      at once (each with its own scratch, and its own result): the
 *      candidates of its units among the units indexed before the batch,
 *      each verified when peek gives its set (a reader that changes
 *      nothing, called by several threads at once; when it cannot give
 *      the set, the candidate is verified in step 3). Reads the index only.
 *   3. dd_find_near_units_batch for each document, in order, on the
 *      index's thread, with its result of step 2: the matches
 *      dd_find_near_units_across would append, in the same order; its
 *      units are listed for the batch's later documents, as the index
 *      will list them, but not in the index yet.
 *   4. dd_unit_batch_join for every band b < DD_NEAR_UNIT_BANDS, on any
 *      threads at once: the batch's units join the index's band b.
 * The index is then as dd_find_near_units_across would have left it, and
 * the next batch may begin.
 */
typedef struct dd_unit_candidate {
    uint32_t unit; /* of the document */
    uint32_t id;   /* a unit indexed before the batch */
    int match;     /* 1: the rule passes, 0: it does not, -1: not verified */
    double jaccard, containment;
} dd_unit_candidate;

/* A document's part of step 2 (zero-initialised before first use, reused
 * from batch to batch, freed with dd_unit_ahead_free). */
typedef struct dd_unit_ahead {
    dd_unit_candidate *v; /* unit by unit, each unit's earliest first, once */
    size_t n, cap;
    /* per unit and band (u * DD_NEAR_UNIT_BANDS + b): how many units the
     * index listed under the unit's band key before the batch */
    uint32_t *listed;
    size_t listed_cap;
} dd_unit_ahead;
void dd_unit_ahead_free(dd_unit_ahead *a);

/* A thread's scratch for step 2 (zero-initialised; dd_unit_scratch_free). */
typedef struct dd_unit_scratch {
    uint32_t *cands;
    size_t cands_cap;
    uint64_t *set;
    size_t set_cap;
    dd_set_table table;
} dd_unit_scratch;
void dd_unit_scratch_free(dd_unit_scratch *w);

void dd_unit_batch_begin(dd_unit_index *ix);
void dd_unit_batch_ahead(const dd_unit_index *ix, const dd_unit *units, size_t nunits,
                         const dd_unit_sets *sets, const uint64_t *band_keys, double threshold,
                         dd_unit_reader peek, void *ctx, dd_unit_scratch *w, dd_unit_ahead *out);
void dd_find_near_units_batch(dd_unit_index *ix, uint32_t doc_number, const dd_unit *units,
                              size_t nunits, const dd_unit_sets *sets, const uint64_t *band_keys,
                              const sh_key *set_keys, const dd_unit_ahead *ahead, double threshold,
                              dd_unit_reader read, void *ctx, dd_near_unit_list *out);
void dd_unit_batch_join(dd_unit_index *ix, size_t band);

/* The distinct 3-shingles of words [first, first + count) of t, in *set
 * (growing it). Returns how many. */
size_t dd_unit_shingle_set(const sh_tokens *t, size_t first, size_t count, const sh_hasher *hash,
                           uint64_t **set, size_t *cap);

#endif
