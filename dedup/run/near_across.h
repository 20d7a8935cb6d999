/*
 * near_across.h - the near-repeats of paragraphs across documents of a
 * corpus, found after the first pass within a budget of memory
 * (--memory), whatever the corpus's size.
 *
 * The rule is near_units.h's (dd_find_near_units_across); its candidate
 * pairs are a pure function of the units (engine/unit_pairs.h), so they
 * are computed a part at a time:
 *   1. as documents are analysed, on the thread that analysed each (in
 *      any order: a thread has a shelf of its own), each unit of
 *      DD_NEAR_UNIT_ACROSS_MIN_WORDS words or more, by its id (dd_unit_id:
 *      its document and its number there, so ids follow rank order
 *      whatever the thread), gets its 3-shingle set put on the shelf's
 *      `sets` (a set the shelf kept lately is not kept again: units with
 *      the same set share it), where it is on the shelf's `units`, and one
 *      entry (band key, set key, id: 24 bytes) per band on that band's
 *      `entries`; all take their room in memory from one budget that every
 *      shelf shares, as they grow, then go on in scratch files
 *      (io/scratch_array.h), the sets first (step 2 reads every band key
 *      back, step 3 only the sets of the candidate pairs); a unit is found
 *      again by its id (its document's first place on `units`, kept in
 *      memory);
 *   2. each band's entries, taken in parts by the top bits of their keys
 *      when they do not fit the budget (a scratch file per part), are
 *      sorted and give the candidate pairs (later, earlier): the bands on
 *      a pool's threads at once, each a part of its share of the budget at
 *      a time;
 *      With a dd_unit_remaker (dd_near_across_remake_with: a corpus whose
 *      sets may not fit), a unit's set is kept only when one of its band
 *      keys was seen before (a filter of the band keys so far, every
 *      shelf's): a unit whose keys are all new has a pair only if a later
 *      unit shares a key, and most never do (on the generated 1 GB corpus,
 *      82% of the units have only new keys, 9% of those are ever in a
 *      pair, in 8.6% of the documents), so their sets are neither held nor
 *      written: step 3 makes those a pair asks for again, from their
 *      documents, a document once a part of the pairs;
 *   3. the pairs, in parts by their later unit when they do not fit, are
 *      sorted (a range of later units at a time, on the pool's threads),
 *      made unique and verified on another pool's threads, on the exact
 *      sets; the matches of each unit come in the order of its candidates,
 *      the first a near-repeat, the others alternatives.
 * With everything within the budget there is one part of each: the same
 * steps, in memory. The results are the same at every budget and thread
 * count. The scratch files are unlinked when made: nothing is left behind.
 * A run kept in a work folder makes the same pairs and verifies them the
 * same way as stages of their own, a partition at a time
 * (run/across_stages.h: dd_unit_verifier, with the sign parts as the
 * source of the units' sets).
 */
#ifndef DD_RUN_NEAR_ACROSS_H
#define DD_RUN_NEAR_ACROSS_H

#include "engine/engine.h"
#include "io/scratch_array.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where a unit's set is on its shelf's sets: n hashes from word `word`
 * (n 0: the unit is not searched, too short). */
typedef struct dd_kept_set {
    uint64_t word, n;
} dd_kept_set;

/* A set a shelf kept lately, by its key: the next unit with that key
 * shares it. */
typedef struct dd_recent_set {
    sh_key key;
    dd_kept_set at;
} dd_recent_set;

/* A document added to a shelf: its unit 0 is at `first` on the shelf's
 * units. */
typedef struct dd_shelf_doc {
    uint64_t doc, first;
} dd_shelf_doc;

/* Makes the sets of a document's units again, as they were when it was
 * added: for the units whose sets were not kept. */
typedef struct dd_unit_remaker {
    /* The sets of document doc's units (dd_unit_sets_compute of its
     * *nunits units, as the first analysis made them), in memory of
     * state's until its next call; NULL when its text is not as first
     * read any more (it changed, or cannot be read: said on stderr).
     * *bytes: the bytes of text read. Called on several threads, each
     * with its own state. */
    const dd_unit_sets *(*sets)(void *ctx, void *state, uint32_t doc, size_t *nunits,
                                uint64_t *bytes);
    void *(*state_new)(void *ctx); /* NULL: the state could not be made */
    void (*state_free)(void *ctx, void *state);
    void *ctx;
} dd_unit_remaker;

struct dd_near_across;

/* What one thread adds: the units of the documents it analysed. */
typedef struct dd_near_across_shelf {
    struct dd_near_across *across; /* the one it belongs to */
    dd_scratch_array sets;  /* the sets' hashes (uint64_t), one after the other */
    dd_scratch_array units; /* of dd_kept_set: each document's units, up to its last searched */
    dd_scratch_array entries[DD_NEAR_UNIT_BANDS]; /* of dd_unit_entry */
    dd_shelf_doc *docs_added;                     /* in the order added */
    size_t ndocs_added, docs_added_cap;
    dd_recent_set *recent; /* [0..nrecent), a power of 2: by key.lo modulo */
    size_t nrecent, most_recent;
    size_t recent_taken;       /* bytes of it taken from the shared budget */
    dd_scratch_budget *shared; /* the dd_near_across's, which its arrays and table take from */
    uint64_t units_searched;   /* units added */
    uint64_t sets_shared;      /* of them, those whose set was kept already */
    uint64_t sets_left_out;    /* of them, those whose set was not kept (to make again) */
    uint32_t docs;             /* 1 + the last document added, 0: none */
} dd_near_across_shelf;

typedef struct dd_near_across {
    dd_near_across_shelf *shelves; /* [0..max_shelves), the first `claimed` in use */
    size_t max_shelves;
    atomic_size_t claimed;
    size_t share;             /* of the memory budget, for everything below */
    dd_scratch_budget shared; /* the shelves' sets, entries and recent sets take from it */
    size_t recent_bytes;      /* of a shelf's table of recent sets, at most */
    bool huge_rooms;          /* the shelves' arrays take a huge page at once (near_across.c) */
    size_t sets_leave;        /* of shared, left by a shelf's sets to the rest (scratch_array.h) */
    size_t work_bytes;        /* what a part in memory may take (steps 2 and 3) */
    const char *dir;          /* of the scratch files (NULL: dd_spool_default_dir()) */
    /* Per document (once every document is added): its shelf << 48 | the
     * place of its unit 0 on the shelf's units; NO_UNITS: none. */
    uint64_t *doc_units;
    size_t ndocs;
    /* With a remaker: the band keys seen so far, every shelf's (a filter
     * of seen_words 64-bit words, 3 bits of one word a key, taken from
     * the shared budget); NULL: every set is kept. */
    dd_unit_remaker remaker;
    _Atomic uint64_t *seen;
    size_t seen_words;
    /* Step 3, for a part of the pairs: the units whose sets are made
     * again (sorted ids), where each set is on remade (n 0: it could not
     * be made: the unit's pairs are not verified). */
    uint64_t *remade_ids;
    dd_kept_set *remade_at;
    size_t nremade;
    dd_scratch_array remade;
    uint64_t units;       /* units searched (once found) */
    uint64_t sets_shared; /* of them, those that share a set kept already (once found) */
    uint64_t sets_left_out; /* of them, those whose set was not kept (once found) */
    uint64_t sets_remade;   /* sets made again for step 3, in all its parts */
    uint64_t docs_remade;   /* documents analysed again for them */
    uint64_t bytes_remade;  /* the bytes of text of those documents */
    uint64_t docs_changed;  /* of them, those whose text was not as first read */
    double remake_seconds;  /* wall clock of it */
    uint64_t back_in_bytes; /* of sets and where they are, read back into memory for step 3 */
    _Atomic uint64_t sets_ahead; /* sets step 3 read ahead from scratch files */
    _Atomic uint64_t reads_ahead; /* the reads of those files that took */
    uint64_t pairs;       /* candidate pairs verified */
    uint64_t parts[2];    /* parts of steps 2 (all bands) and 3 */
    size_t peak_bytes;    /* the most the steps 2 and 3 held at once (at most) */
    double seconds[2];    /* of steps 2 and 3 (wall clock) */
} dd_near_across;

/* Starts a, for up to max_shelves threads that add documents, within
 * share bytes of memory in all. While documents are added, the shelves'
 * sets, where their units are, their band keys and their tables of recent
 * sets take from seven eighths of it what they need, first come first
 * served, but the sets leave a sixteenth of that to the others: past it,
 * a shelf's sets go to a scratch file in dir at once, their room given
 * back, and the others go on in theirs only once the sets have (a table
 * of recent sets stops growing at an eighth of a shelf's part: `holding`
 * is how many shelves are expected to fill at once). The later steps (2
 * and 3) take the last eighth, what the shelves left and what they give
 * back as the band keys are done. */
void dd_near_across_init(dd_near_across *a, size_t share, size_t max_shelves, size_t holding,
                         const char *dir);
void dd_near_across_free(dd_near_across *a);

/* From now on, the set of a unit whose band keys were all new is left out
 * (neither held nor written), and made again by r when a pair asks for it
 * (called before any document is added; r.ctx must outlive a); unless the
 * corpus's input_bytes (about) are at most half of what the shelves may
 * hold (every set then fits: nothing changes), or the filter of the band
 * keys seen finds no room. The filter is 2 bytes for every 64 of
 * input_bytes, within a quarter of what the shelves may hold, at least
 * 64 KB; it is given back once every document is added. */
void dd_near_across_remake_with(dd_near_across *a, const dd_unit_remaker *r,
                                uint64_t input_bytes);

/* A shelf for the calling thread to add documents to, its own (at most
 * max_shelves in all). Thread-safe. */
dd_near_across_shelf *dd_near_across_claim(dd_near_across *a);

/* Adds the units of document doc (units[0..nunits), sets: their unit
 * sets, band_keys: their dd_unit_band_keys) to shelf s, by the thread that
 * claimed it; documents may come in any order, each once. False, with
 * *err set (a new message: a full scratch disk), when they could not be
 * kept. */
bool dd_near_across_add(dd_near_across_shelf *s, uint32_t doc, const dd_unit *units, size_t nunits,
                        const dd_unit_sets *sets, const uint64_t *band_keys, char **err);

/* Once every document is added: finds the near-repeats across documents of every unit added, on
 * `threads` threads (the calling one included), and gives them to take in
 * rank order of their later unit (a unit's in the order of its
 * candidates), several at a time. False, with *err set, when a scratch
 * file could not be written (or take said false: *err NULL). */
bool dd_near_across_find(dd_near_across *a, unsigned threads, double threshold,
                         bool (*take)(void *ctx, const dd_near_unit *v, size_t n), void *ctx,
                         char **err);

/* Where the verification of step 3 reads a unit: in a dd_near_across,
 * the sets it keeps; in a work folder (run/across_stages.h), the facts of
 * the sign stage's parts. The same verification, whichever it is. */
typedef struct dd_unit_source {
    /* The head of unit id (doc << 32 | unit in its document, the size n of
     * its set) then its n hashes: in the source's memory, or read into
     * *buf (grown as dd_grow does, *cap its capacity). NULL, with *why set
     * (a new message), when it cannot be read; NULL with *why NULL when
     * its set could not be made again (its document changed): its pairs
     * are then not near-repeats. Called on the verifying
     * threads, each with its own reader. */
    const uint64_t *(*unit)(const void *ctx, void *reader, uint64_t id, uint64_t **buf, size_t *cap,
                            char **why);
    void *(*reader_new)(const void *ctx); /* NULL: no reader */
    void (*reader_free)(void *reader);
    const void *ctx;
    /* NULL, or: the units ids[0..n) (sorted, unique) are the ones this
     * reader is about to be asked for (the next few hundred pairs'): it
     * may read them at once, in the order of where they are, for unit to
     * find them there (until its next call). */
    void (*ahead)(const void *ctx, void *reader, const uint64_t *ids, size_t n);
} dd_unit_source;

/* Verifies candidate pairs on `threads` threads (the calling one
 * included), on the exact sets of src, with the rule of near_units.h. */
typedef struct dd_unit_verifier dd_unit_verifier;
dd_unit_verifier *dd_unit_verifier_new(const dd_unit_source *src, unsigned threads,
                                       double threshold);
void dd_unit_verifier_free(dd_unit_verifier *v);

/* Verifies the pairs v[0..n) (sorted and unique: dd_unit_pairs_sort) and
 * gives the matches to take in rank order of their later unit (a unit's in
 * the order of its candidates, the first a near-repeat, the others
 * alternatives), several at a time. False, with *err set, when a unit
 * could not be read (or take said false: *err NULL). */
bool dd_unit_verifier_run(dd_unit_verifier *verifier, const dd_unit_pair *v, size_t n,
                          bool (*take)(void *ctx, const dd_near_unit *v, size_t n), void *ctx,
                          char **err);

/* Bytes a holds in memory now. */
size_t dd_near_across_memory_bytes(const dd_near_across *a);
/* Bytes a keeps in scratch files now, of each kind. */
typedef struct dd_near_across_scratch {
    uint64_t sets;      /* the sets' hashes */
    uint64_t units;     /* where each unit's set is */
    uint64_t band_keys; /* the entries of every band */
} dd_near_across_scratch;
dd_near_across_scratch dd_near_across_scratch_kinds(const dd_near_across *a);
/* Their sum. */
uint64_t dd_near_across_scratch_bytes(const dd_near_across *a);

#endif
