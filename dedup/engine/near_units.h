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

/* Has the index keep the 3-shingle set of every unit it lists in scratch
 * (the caller's store, base.h, which must outlive the index and take no
 * other appends while the index is used), as the unit was analysed: a candidate's set is
 * then read back from there, never through the reader, so that no
 * document is read and analysed again, however many later units a unit is
 * a candidate of. Call it before the first document is added. When an
 * append fails (a full disk), the units listed from there on are read
 * through the reader. Memory: 12 bytes per unit listed; the store takes 8
 * bytes a shingle. */
void dd_unit_index_keep_sets(dd_unit_index *ix, dd_scratch scratch);
/* Writes the kept set of listed unit id to *set (growing it, *cap its
 * capacity) and its size to *n. False when it is not kept (or cannot be
 * read back): then it is to be read through the reader. Changes nothing:
 * several threads may call it at once, while nothing is added. */
bool dd_unit_index_kept_set(const dd_unit_index *ix, uint32_t id, uint64_t **set, size_t *cap,
                            size_t *n);

/* The units' small MinHash, made with hash's seed: one per thread. Exits
 * on out-of-memory. */
sh_minhasher *dd_unit_minhasher_new(const sh_hasher *hash);

/* The band keys of every unit of doc (sets: its unit sets) to *keys
 * (growing it): DD_NEAR_UNIT_BANDS per unit, unit u's at u *
 * DD_NEAR_UNIT_BANDS; units under DD_NEAR_UNIT_ACROSS_MIN_WORDS words get
 * none. Pure: runs on any thread, with that thread's minhasher. */
void dd_unit_band_keys(const sh_minhasher *m, const dd_doc *doc, const dd_unit_sets *sets,
                       uint64_t **keys, size_t *cap);

/* The overlap of unit u of the document being searched with an earlier
 * unit (of document doc, unit `unit` there), computed ahead (see "Verifying
 * ahead" below): DD_AHEAD_COMPUTED with *shared (the shingles the two sets
 * share) and *m (the earlier unit's set size), DD_AHEAD_UNREADABLE when the
 * earlier unit cannot be read (as when the reader fails), or
 * DD_AHEAD_NOT_COMPUTED: then it is read, as without dd_unit_ahead. */
typedef enum dd_ahead_answer {
    DD_AHEAD_NOT_COMPUTED,
    DD_AHEAD_COMPUTED,
    DD_AHEAD_UNREADABLE,
} dd_ahead_answer;

typedef struct dd_unit_ahead {
    dd_ahead_answer (*lookup)(void *ctx, size_t u, uint32_t doc, size_t unit, size_t *shared,
                              size_t *m);
    void *ctx;
} dd_unit_ahead;

/* Appends to out the near-repeats of the units of document number
 * doc_number (units[0..nunits), sets: their unit sets, band_keys: their
 * dd_unit_band_keys) among the units of the documents added before it,
 * then adds its units to the index. The earlier units it compares with are
 * asked of ahead (NULL: none) and, when not computed there, read again
 * through read. A unit near-repeats every candidate that passes the rule,
 * in the order they were added; all but the first are alternatives. A unit
 * with the same set as its first match (an exact copy) is not indexed: a
 * match of that one is a match of it too. Order-dependent: documents are
 * added in rank order, by one thread. */
void dd_find_near_units_across(dd_unit_index *ix, uint32_t doc_number, const dd_unit *units,
                               size_t nunits, const dd_unit_sets *sets, const uint64_t *band_keys,
                               double threshold, const dd_unit_ahead *ahead, dd_unit_reader read,
                               void *ctx, dd_near_unit_list *out);

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
 * Verifying ahead, on other threads. Reading an earlier unit again to
 * verify a candidate is most of what the search across documents costs,
 * and each overlap is a pure function of two units' texts; which
 * candidates there are depends on the units indexed before. So a caller
 * with threads takes documents in batches: a dd_unit_batch holds the
 * documents of a batch (their units' sets and band keys, copied), and for
 * each of their units, dd_unit_batch_candidates guesses the earlier units
 * dd_find_near_units_across will compare it with (from the index as it was
 * before the batch, and among the units of the batch's earlier documents),
 * in its order. The caller computes their overlaps on its threads, then
 * searches the batch's documents one by one in order, answering through
 * dd_unit_ahead; what the guess missed is read when asked. Findings are
 * the same with or without it.
 */
typedef struct dd_unit_batch dd_unit_batch;

dd_unit_batch *dd_unit_batch_new(void);
void dd_unit_batch_free(dd_unit_batch *b);
/* Empties b for the next batch. */
void dd_unit_batch_clear(dd_unit_batch *b);
/* Adds the next document of the batch (copying what the search needs). */
void dd_unit_batch_add(dd_unit_batch *b, uint32_t doc_number, const dd_unit *units, size_t nunits,
                       const dd_unit_sets *sets, const uint64_t *band_keys);
size_t dd_unit_batch_docs(const dd_unit_batch *b);
/* Shingle hashes held: what the batch weighs. */
size_t dd_unit_batch_hashes(const dd_unit_batch *b);
/* Document k of the batch, as dd_find_near_units_across takes it (sets
 * points into b). */
void dd_unit_batch_doc(const dd_unit_batch *b, size_t k, uint32_t *doc_number, size_t *nunits,
                       dd_unit_sets *sets, const uint64_t **band_keys);

/* An earlier unit to compare with: its set is in the batch (set, m), or
 * (set NULL) it is listed unit id of the index, whose set is kept there
 * (dd_unit_index_kept_set) or is to be read again. */
typedef struct dd_unit_ref {
    uint32_t doc;
    size_t unit;
    const uint64_t *set;
    size_t m;
    uint32_t id;
} dd_unit_ref;

/* Work space of one thread for dd_unit_batch_candidates. */
typedef struct dd_unit_scratch {
    uint32_t *ids, *in_batch;
    size_t ids_cap, in_batch_cap;
} dd_unit_scratch;
void dd_unit_scratch_free(dd_unit_scratch *w);

/* Looks the band keys of document k of the batch's units up in ix, and
 * keeps what it finds in b, for dd_unit_batch_candidates and
 * dd_unit_batch_search (which then does not look them up again). Reads ix,
 * and b but for what is document k's: runs on any thread, for different k
 * at the same time, while ix does not change. */
void dd_unit_batch_gather(const dd_unit_index *ix, dd_unit_batch *b, size_t k, dd_unit_scratch *w);

/* The earlier units that unit u of document k of the batch will be
 * compared with (the guess above), in the order they will be, written to
 * *out (growing it, *cap its capacity); returns how many (none unless
 * document k was gathered). Reads ix and b only: runs on any thread while
 * neither changes. */
size_t dd_unit_batch_candidates(const dd_unit_index *ix, const dd_unit_batch *b, size_t k, size_t u,
                                dd_unit_scratch *w, dd_unit_ref **out, size_t *cap);

/* dd_find_near_units_across for document k of the batch (units: its
 * units), the documents before it in the batch searched already: with
 * what dd_unit_batch_gather found for it, its units are not looked up in
 * the index again; the units it indexes go to the index only with
 * dd_unit_batch_index. */
void dd_unit_batch_search(dd_unit_index *ix, dd_unit_batch *b, size_t k, const dd_unit *units,
                          double threshold, const dd_unit_ahead *ahead, dd_unit_reader read,
                          void *ctx, dd_near_unit_list *out);

/* Once every document of the batch has been searched, the units it
 * indexed are added to the index in parts < dd_unit_batch_index_parts():
 * one per band (the band's map), and one that keeps their sets
 * (dd_unit_index_keep_sets), in the order they were indexed; different
 * parts at the same time, on different threads. Then the batch can be
 * cleared. */
size_t dd_unit_batch_index_parts(void);
void dd_unit_batch_index(dd_unit_index *ix, const dd_unit_batch *b, size_t part);

/* The distinct 3-shingles of words [first, first + count) of t, in *set
 * (growing it). Returns how many. */
size_t dd_unit_shingle_set(const sh_tokens *t, size_t first, size_t count, const sh_hasher *hash,
                           uint64_t **set, size_t *cap);

#endif
