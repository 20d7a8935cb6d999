/*
 * near.h - near-duplicate documents: signatures, LSH candidates, verified
 * clusters.
 *
 * Every document gets an exact key (XXH3-128 of its normalised words), the
 * number of distinct word shingles it has and a signature: MinHash values or
 * a SimHash fingerprint. Clustering then ranks the documents (--keep) and
 * takes them in that order: a document whose exact key was seen joins that
 * document's cluster; otherwise it is compared with the representatives that
 * share an LSH band with it (MinHash) or a block of bits (SimHash), or a
 * paragraph (dd_signatures.links), a bounded number of them (see "Candidate
 * search" below), best ranked first, and joins the first whose similarity
 * verifies; if none does, it becomes a representative.
 * Clusters never chain: similarity is always to the representative. A
 * document more than size_ratio times larger than a representative does not
 * join it through containment alone (it is not a copy of the smaller one).
 *
 * Verification (MinHash): the estimates are Jaccard, the share of equal
 * values over the full signature, and containment of the smaller set in the
 * larger, derived from it and the exact set sizes: C = J (|A| + |B|) / ((1 +
 * J) min(|A|, |B|)). With verify_exact (the default) they only filter: a
 * pair that could pass (the estimate plus three standard errors passes the
 * rule) is decided on the exact shingle sets, which the caller's load_set
 * recomputes from the document (sets are not kept). Without it, the
 * estimates decide. Memory: num_perm * 4 + 40 bytes per document, 40 for
 * those whose values go to a store (dd_signatures_keep_minhash).
 */
#ifndef DD_NEAR_H
#define DD_NEAR_H

#include "engine/base.h"
#include "shingle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum dd_method { DD_METHOD_MINHASH, DD_METHOD_SIMHASH } dd_method;

/* How document signatures are made: one permutation hashing with optimal
 * densification, 5 times cheaper than num_perm permutations on documents
 * of a thousand shingles, with the same accuracy (tests/unit/
 * test_signature.c). Its name is recorded in indexes (dd_index_settings). */
#define DD_MINHASH_SCHEME SH_MINHASH_OPH

typedef enum dd_keep { DD_KEEP_FIRST, DD_KEEP_LONGEST } dd_keep;

typedef struct dd_near_params {
    bool enabled;
    dd_method method;
    double threshold;       /* Jaccard */
    double containment;     /* 0: off */
    double recall;          /* candidate probability at the target */
    /* Size ratio up to which the containment half of the rule is covered by
     * the LSH guarantee: a pair with containment C whose larger set has at
     * most this many times the shingles of the smaller has Jaccard at least
     * C / (1 + size_ratio - C), the candidate target. */
    double size_ratio;
    unsigned long min_shingles;
    unsigned long ngram;
    unsigned long num_perm;
    unsigned long bands, rows; /* 0: chosen from threshold and recall */
    unsigned long hamming;
    dd_keep keep;
    bool verify_exact; /* decide on exact sets (see above) */
} dd_near_params;

/* Fills in the defaults. */
void dd_near_params_default(dd_near_params *p);

/* The lowest Jaccard the candidate search must find with probability
 * p->recall: the threshold, or lower when containment is on. */
double dd_near_target_jaccard(const dd_near_params *p);

/* The probability that a pair of Jaccard j shares at least one of bands
 * bands of rows values. */
double dd_lsh_probability(double j, unsigned long bands, unsigned long rows);

/* Chooses bands and rows when they are not set: the most rows (the fewest
 * false candidates) whose bands reach p->recall at the target Jaccard.
 * Checks the combination: false, with an error in notes ("--option ...:
 * why"), when it cannot be used; a warning in notes when no bands reach
 * p->recall (the best are used). */
bool dd_near_params_check(dd_near_params *p, dd_notes *notes);

/* The join rule, the one every mode decides with (clusters in near.c,
 * streams in history.c, indexes in history.c and index_match.c): does a
 * document of `member` distinct shingles become a copy of a representative
 * (an earlier record, an indexed document) of `rep` shingles, with Jaccard
 * j and containment c of the smaller set in the larger? Yes when j reaches
 * the threshold; or, with containment on, when c reaches it, the smaller
 * set has at least min_shingles and the member has at most size_ratio
 * times the representative's shingles. A document never becomes a copy of
 * a much smaller one through containment: that one is a part of it, and
 * dropping the document would lose the rest of its text (the paragraphs it
 * shares are still found as repeats). */
bool dd_near_joins(const dd_near_params *p, double j, double c, double member, double rep);
/* The containment of the smaller set implied by Jaccard j and set sizes a
 * and b (the estimate from a signature), at most 1. */
double dd_containment_of(double j, double a, double b);
/* The number of values in both sorted sets. */
size_t dd_sorted_intersection(const uint64_t *a, size_t na, const uint64_t *b, size_t nb);

/* What exact verification needs of a pair's shingle sets: their sizes (a:
 * the document placed, b: the representative) and the size of their
 * intersection. */
typedef struct dd_overlap {
    uint64_t a, b, shared;
} dd_overlap;

/* The exact similarity of a pair from the overlap of its sets, as every
 * mode measures it: Jaccard |A n B| / |A u B| (1 for two empty sets) and
 * the containment of the smaller set in the larger, |A n B| / min(|A|,
 * |B|) (0 when one is empty). */
void dd_overlap_similarity(const dd_overlap *o, double *jaccard, double *containment);

/* What is kept of each document. */
typedef struct dd_doc_sig {
    sh_key key;
    uint32_t words;    /* normalised words */
    uint32_t shingles; /* distinct word shingles */
} dd_doc_sig;

/*
 * Where the MinHash values of the documents past a signatures' memory share
 * go (dd_signatures_keep_minhash): a store of the caller's (a scratch file,
 * run/corpus.c), one document's num_perm values after another. The engine
 * reads them back one document at a time, when a pair is verified.
 */
typedef struct dd_minhash_store {
    /* Appends the next document's values. False, with *err set to a new
     * message naming the folder (a full disk), when they cannot be kept. */
    bool (*append)(void *ctx, const uint32_t *values, char **err);
    /* The values of the k-th document appended, copied to out (num_perm
     * values). Any thread, at once, while nothing is appended or set.
     * Never fails: a store that cannot read back what it kept ends the
     * process, as running out of memory does (there is no other copy). */
    void (*get)(const void *ctx, size_t k, uint32_t *out);
    /* Replaces the values of the k-th document appended (one thread,
     * nothing reading). Never fails, as get. */
    void (*set)(void *ctx, size_t k, const uint32_t *values);
    void *ctx;
} dd_minhash_store;

typedef struct dd_signatures {
    dd_near_params params;
    sh_minhasher *minhasher;
    dd_doc_sig *docs;
    /* MinHash: num_perm values per document, of the first max_in_memory
     * documents (SIZE_MAX: all) in minhash, of the others in the store:
     * read them with dd_signature_minhash. */
    uint32_t *minhash;
    size_t minhash_room; /* minhash's bytes (util.h's dd_room_resize) */
    size_t max_in_memory;
    dd_minhash_store store;
    uint64_t *simhash; /* one per document (SimHash) */
    size_t n, cap;
    /* After dd_signatures_add, the distinct shingle hashes of the document
     * added (docs[i].shingles of them); the caller may reorder them. */
    uint64_t *scratch;
    size_t scratch_cap;
    /* For exact verification: writes document doc's distinct shingle
     * hashes, sorted, to *set (growing it; *cap is its capacity) and their
     * number to *n. False if the document cannot be read again. */
    bool (*load_set)(void *ctx, uint32_t doc, uint64_t **set, size_t *cap, size_t *n);
    void *load_ctx;
    /* When load_set cannot give a set: false, the pair is not taken (scan:
     * a document that changed; filter: its scratch file failed); true, the
     * estimates decide (no caller needs that today). */
    bool estimate_if_unloadable;
    /* Optional (NULL: none; set by dd_signatures_link): documents known to
     * share a paragraph, each pair in both directions: document d's are
     * links[link_start[d] .. link_start[d + 1]), at most DD_MAX_LINKS of
     * them. They are candidates beside the LSH bands, so that a document
     * contained in a much larger one is compared with it at any size
     * ratio. */
    size_t *link_start;
    uint32_t *links;
    /* Optional (NULL: load_set gives the sets): the overlap of the exact
     * sets of d and r, as load_set would give them, or false where load_set
     * would fail for either. It lets the caller compute overlaps ahead, on
     * other threads (dd_placer_ahead), and answer from there. */
    bool (*overlap)(void *ctx, uint32_t d, uint32_t r, dd_overlap *out);
    void *overlap_ctx;
    /* Optional (NULL: every key): the keys of the documents placed (see
     * dd_key_filter above). */
    const struct dd_key_filter *shared_keys;
} dd_signatures;

/*
 * Buckets that no other document shares. A band key (or SimHash block)
 * that one document alone has lists it in a bucket nobody looks up: most
 * of them, in a corpus of mostly different documents. A dd_key_filter
 * holds, for every key of a set of documents, whether it may be shared:
 * each of the 4 bits its key hashed to (in one 64-bit word) was set by two
 * keys or more. A key shared by two documents always is (no false
 * negatives); of the others, about 1 in 30 seems shared (8 bits a key in
 * each of its two arrays: 128 bytes a document of 64 bands, up to twice
 * that, its size a power of two). With dd_signatures.shared_keys
 * set, the placer neither looks up nor lists a key that is not: the same
 * candidates, the same buckets full, a fraction of the lookups and
 * entries.
 */
typedef struct dd_key_filter {
    /* Word w of both bit arrays side by side, in one cache line: bit i set
     * by one key (once), or by two or more (twice). A room (util.h): in
     * huge pages from 2 MiB up. */
    struct dd_key_filter_words {
        uint64_t once, twice;
    } *words;
    size_t nbits; /* of each array, a power of two */
} dd_key_filter;

/* An empty filter for the keys of up to ndocs documents of s. */
void dd_key_filter_init(dd_key_filter *f, const dd_signatures *s, size_t ndocs);
/* Adds the keys of documents docs[0..ndocs) of s (docs NULL: documents
 * 0..ndocs-1), those with words, that fall in range `range` of `ranges`
 * ranges of f's words (about equal, in order): a range is filled by one
 * thread, with no atomic operation and no cache line written by another
 * thread. Each range filled once, by any threads in any order, makes the
 * same filter as one range of all the words (dd_key_filter_add(f, s, docs,
 * ndocs, 0, 1)). Every range computes the keys of every document, its own
 * or not: a key costs less than a cache line moved between two cores. */
void dd_key_filter_add(dd_key_filter *f, const dd_signatures *s, const uint32_t *docs, size_t ndocs,
                       size_t range, size_t ranges);
/* dd_key_filter_add in two steps, so that threads share the hashing of
 * the keys, not only the setting of their bits: dd_key_filter_keys writes
 * the keys of documents docs[from..to) of s (docs NULL: from..to-1), those
 * with words, at keys + (at - from) * dd_near_keys_per_doc (any thread, a
 * part of the documents each); dd_key_filter_set then sets those that fall
 * in range `range` of `ranges` (one thread a range, as dd_key_filter_add).
 * Each range set once for every document makes the same filter as
 * dd_key_filter_add. */
void dd_key_filter_keys(const dd_signatures *s, const uint32_t *docs, size_t from, size_t to,
                        uint64_t *keys);
void dd_key_filter_set(dd_key_filter *f, const dd_signatures *s, const uint32_t *docs, size_t from,
                       size_t to, const uint64_t *keys, size_t range, size_t ranges);
/* May key be another document's key too? */
bool dd_key_filter_shared(const dd_key_filter *f, uint64_t key);
void dd_key_filter_free(dd_key_filter *f);

/* Prepares s for documents; false, with an error in notes, when the MinHash
 * functions cannot be made. */
bool dd_signatures_init(dd_signatures *s, const dd_near_params *p, const sh_hasher *hash,
                        dd_notes *notes);
void dd_signatures_free(dd_signatures *s);

/* Makes room for n documents in all, when their number is known before
 * they are added: the per-document arrays are then of that size, not of
 * the next doubling. (After dd_signatures_keep_minhash.) */
void dd_signatures_reserve(dd_signatures *s, size_t n);

/* MinHash: keeps the values of at most max_bytes of documents in memory,
 * the first ones, and those of the others in store. Before any document
 * is added. */
void dd_signatures_keep_minhash(dd_signatures *s, size_t max_bytes, dd_minhash_store store);

/* Document d's MinHash values (num_perm of them): a pointer into s, or
 * into out (room for num_perm values, SH_MINHASH_MAX_PERM will do), which
 * they are read to. Any thread, while no document is added or changed. */
const uint32_t *dd_signature_minhash(const dd_signatures *s, size_t d, uint32_t *out);

/* Replaces document d's MinHash values (clean's later rounds: the text
 * left of it, or none when it leaves). One thread, nothing reading. */
void dd_signature_set_minhash(dd_signatures *s, size_t d, const uint32_t *values);

/* The bytes of MinHash values s holds in memory (allocated). */
size_t dd_signatures_minhash_bytes(const dd_signatures *s);

/* Writes the distinct word k-shingle hashes of words to *set (growing it;
 * *cap is its capacity), in order of first occurrence. Returns how many. */
size_t dd_shingle_set(const sh_tokens *words, unsigned k, const sh_hasher *hash, uint64_t **set,
                      size_t *cap);

/* Adds the next document: its words (all of them, in order) and its key
 * (to signatures whose values all stay in memory: no store). */
void dd_signatures_add(dd_signatures *s, const sh_tokens *words, sh_key key, const sh_hasher *hash);

/* Signing on any thread, storing in rank order: a dd_signer (one per
 * thread: it owns a MinHash function set and scratch) makes into a
 * dd_signed exactly what dd_signatures_add would compute for a document,
 * and dd_signatures_add_signed then adds it as the next document. */
typedef struct dd_signer {
    dd_near_params params;
    sh_minhasher *minhasher;
    uint64_t *scratch;
    size_t scratch_cap;
} dd_signer;

typedef struct dd_signed {
    dd_doc_sig doc;
    uint32_t *minhash; /* num_perm values (MinHash) */
    size_t minhash_cap;
    uint64_t simhash; /* (SimHash) */
} dd_signed;

/* The parameters must be those of the dd_signatures the results go to.
 * False, with an error in notes, as dd_signatures_init. */
bool dd_signer_init(dd_signer *g, const dd_near_params *p, const sh_hasher *hash,
                    dd_notes *notes);
void dd_signer_free(dd_signer *g);
void dd_signer_sign(dd_signer *g, const sh_tokens *words, sh_key key, const sh_hasher *hash,
                    dd_signed *out);
void dd_signed_free(dd_signed *sig);
/* False, with *err set to a new message, when the store (above) could not
 * keep the values: s then holds the documents before. */
bool dd_signatures_add_signed(dd_signatures *s, const dd_signed *sig, char **err);

/* How many keys a document has under p: LSH band keys (MinHash: p->bands)
 * or SimHash block keys (p->hamming + 1). */
size_t dd_near_keys_per_doc(const dd_near_params *p);

/* Writes the LSH band keys (MinHash: params.bands of them) or SimHash
 * block keys (params.hamming + 1) of document d to keys; returns how many
 * (dd_near_keys_per_doc). */
size_t dd_signature_keys(const dd_signatures *s, size_t d, uint64_t *keys);
/* The same keys of a signature given by its values (MinHash: p->num_perm
 * of them in minhash; SimHash: simhash), for a caller without a
 * dd_signatures (the sign stage of a work folder). */
size_t dd_keys_of_signature(const dd_near_params *p, const uint32_t *minhash, uint64_t simhash,
                            uint64_t *keys);

/* Adds a document that could not be read: it takes part in nothing. False
 * as dd_signatures_add_signed. */
bool dd_signatures_add_missing(dd_signatures *s, char **err);

/* Two documents that share a paragraph. */
typedef struct dd_doc_pair {
    uint32_t a, b;
} dd_doc_pair;

/* Sets the links of the s->n documents of s from pairs[0..n) (either way
 * round; repeated pairs, and pairs of a document with itself, count once
 * or not at all): each document keeps its DD_MAX_LINKS best-ranked
 * partners (dd_rank_documents), however many documents it shares
 * paragraphs with. Memory: 8 bytes a pair while they are sorted, then at
 * most DD_MAX_LINKS * 4 bytes a document. */
void dd_signatures_link(dd_signatures *s, const dd_doc_pair *pairs, size_t n);

typedef struct dd_member {
    uint32_t doc;
    /* The document it was compared with, which the similarity below is to:
     * the representative, or, when clean found in a later round of
     * decisions (corpus.h) that the document this one copies is itself a
     * copy, that document. */
    uint32_t of;
    /* The round of decisions that found it a copy (corpus.h): 1 on the
     * inputs as read, more on the text clean leaves (0: not said). */
    unsigned round;
    double jaccard;     /* to the representative (MinHash) */
    double containment; /* of the smaller in the larger */
    unsigned hamming;   /* SimHash: bits that differ from the representative */
    bool exact;         /* the same normalised words as the representative */
    bool estimated;     /* jaccard and containment are estimates (MinHash) */
} dd_member;

typedef struct dd_cluster {
    uint32_t id;
    dd_member *members; /* the representative first, then input order */
    size_t n, cap;
} dd_cluster;

/* What a placer's candidate search did (below: dd_placer). */
typedef struct dd_placer_counts {
    uint64_t compared;    /* candidate pairs verified */
    uint64_t passed_over; /* candidates found but not verified (DD_MAX_CANDIDATES) */
    uint64_t full_buckets;     /* buckets that reached DD_BUCKET_CAP representatives: split */
    uint64_t split;            /* entries made in a sub-bucket: the bucket was full */
    uint64_t full_sub_buckets; /* sub-buckets that reached DD_BUCKET_CAP representatives */
    uint64_t unlisted; /* bucket entries not made: the bucket and its sub-bucket were full */
    uint64_t asked; /* dd_placer_place_given: candidates verified with no verdict given */
} dd_placer_counts;

typedef struct dd_clusters {
    dd_cluster *v; /* clusters of two or more documents, by id */
    size_t n;
    uint32_t *id_of;   /* per document: its cluster's id (singletons too) */
    bool *dropped;     /* per document: a copy that clean leaves out */
    dd_placer_counts search; /* what the placer's candidate search did */
} dd_clusters;

/* Clusters the documents of s: places them all, in the order of --keep. */
void dd_cluster_documents(const dd_signatures *s, dd_clusters *out);

/*
 * Candidate search costs a bounded number of steps per document, whatever
 * the corpus (in every mode: the placer below for scan, clean, check and
 * filter; dd_choose_candidates over dd_ddx_band_members for an index).
 * Without bounds, documents that share some text (a paragraph, a template)
 * but are not copies share LSH buckets, fail verification, and each new one
 * is compared with every earlier one: time quadratic in their number.
 *   - A bucket (an LSH band key, a SimHash block) lists at most
 *     DD_BUCKET_CAP representatives: the first placed, so the best-ranked.
 *     A full bucket is split: later ones are listed in a sub-bucket, by a
 *     second key of theirs (near.c's second_key: other values of the
 *     signature), which a document whose bucket is full looks up as well;
 *     a sub-bucket lists at most DD_BUCKET_CAP too, later ones are not
 *     listed in that band (but still in their other buckets).
 *   - Of the representatives found in a document's buckets, at most
 *     DD_MAX_CANDIDATES are verified: those sharing the most buckets with it
 *     (the likeliest to pass; ties to the best-ranked). A true copy shares
 *     most of its buckets, a document that merely shares a paragraph a few,
 *     so a crowd of the latter does not hide the former.
 *   - Shared paragraphs (dd_signatures.links) add at most DD_MAX_LINKS
 *     linked documents, the best-ranked (the caller keeps that many).
 * The candidates chosen are verified in rank order, so a document joins the
 * best-ranked one that verifies, as without the bounds; a corpus whose
 * buckets and candidate lists stay under the caps gets the same clusters.
 * What the caps leave out is counted (dd_placer_counts).
 */
#define DD_BUCKET_CAP 32
#define DD_MAX_CANDIDATES 32

/* The second key of document d in band (or block) b, whose key there is
 * key: the key of its sub-bucket when that bucket is full (above). */
uint64_t dd_near_second_key(const dd_signatures *s, size_t d, size_t b, uint64_t key);
#define DD_MAX_LINKS 16

/* A candidate: a rank (the order placed, or an index's document number:
 * lower is better) and how many buckets it shares with the document. */
typedef struct dd_candidate {
    uint32_t rank;
    uint32_t shared;
} dd_candidate;

/* Keeps the max candidates of c[0..n) that share the most buckets, ties to
 * the lower rank, and sorts them by rank. Returns how many are kept. */
size_t dd_choose_candidates(dd_candidate *c, size_t n, size_t max);

/* Turns the members of a document's buckets, numbers[0..n) (a number once
 * for each bucket that lists it), into the ones to verify: at most
 * DD_MAX_CANDIDATES (dd_choose_candidates), written to numbers[0..k) in
 * increasing order. Returns k, and adds to *passed_over the candidates not
 * kept; *tmp (grown, *tmp_cap its capacity) is work space. */
size_t dd_candidates_from_members(uint32_t *numbers, size_t n, dd_candidate **tmp, size_t *tmp_cap,
                                  uint64_t *passed_over);

/*
 * Placing documents one at a time, for callers that take them in rank order
 * as they come (scan with --keep first during its first pass, filter): each
 * document is compared with the representatives placed before it that are
 * candidates (above), best ranked (placed earliest) first, and joins the
 * cluster of the first that verifies, or becomes a representative. An exact
 * duplicate (same key) joins its twin's cluster without comparison.
 */
typedef struct dd_placer dd_placer;

/* A placer over the signatures of s, which must outlive it. */
dd_placer *dd_placer_new(const dd_signatures *s);
/* Makes room for n documents in all (when their number is known, as in
 * dd_cluster_documents), so that the per-document arrays and the table of
 * exact keys never grow while placing. */
void dd_placer_reserve(dd_placer *p, size_t n);
/* Places document d (its signature already in s, not placed before).
 * Returns its representative: d itself when it becomes one, UINT32_MAX for
 * a document without words (then *m is untouched). For a member, *m is its
 * similarity to the representative. */
uint32_t dd_placer_place(dd_placer *p, uint32_t d, dd_member *m);
/* The clusters of documents 0..n-1 (documents not placed are clusters of
 * their own). p can still be freed only. */
void dd_placer_finish(dd_placer *p, size_t n, dd_clusters *out);
void dd_placer_free(dd_placer *p);

/* What the candidate search has done so far (dd_placer_counts, above). */
dd_placer_counts dd_placer_counts_of(const dd_placer *p);
/* Bytes the placer holds: per document and for its buckets. */
size_t dd_placer_bytes(const dd_placer *p);

/*
 * Verifying ahead, on other threads. Exact verification (load_set: a
 * document read again, analysed and shingled) and the lookups of a
 * document's buckets are most of what placing costs, and each pair's overlap
 * is a pure function of its two documents; but which pairs the placer
 * verifies depends on what it decided before. So a caller with threads
 * places documents in batches. Before a batch is placed, its threads call
 * dd_placer_ahead_pairs for each of its documents: it looks the document's
 * buckets up among the representatives placed before the batch (which the
 * batch cannot change), and guesses the pairs the placer will verify
 * exactly (the candidates so found and those among the documents of the
 * batch ranked before it, chosen and filtered by the estimates as the
 * placer does); the caller computes their overlaps. Then it places the
 * batch in order with dd_placer_place_ahead, which adds to the lookups
 * done the representatives of the batch placed so far, and asks for each
 * overlap through dd_signatures.overlap; a pair the guess missed is
 * computed when asked. The guess decides only what is computed ahead,
 * never a decision: clusters are the same with or without it.
 */
typedef struct dd_placer_ahead dd_placer_ahead;

dd_placer_ahead *dd_placer_ahead_new(void);
void dd_placer_ahead_free(dd_placer_ahead *a);
/* Prepares a's guesses for docs[0..n), the next n documents p places, in
 * that order (the documents p placed so far are those before them). The
 * docs are not copied: they must stay while a is used. Then
 * dd_placer_ahead_keys for every k in 0..n-1 (on any threads: each writes
 * document k's keys only), then dd_placer_ahead_guess, before any
 * dd_placer_ahead_pairs. */
void dd_placer_ahead_prepare(dd_placer_ahead *a, dd_placer *p, const uint32_t *docs, size_t n);
/* The band (or block) keys of docs[k], and which of them another document
 * has. Reads p and its signatures; on any thread. */
void dd_placer_ahead_keys(const dd_placer *p, dd_placer_ahead *a, size_t k);
/* The table of the guesses: the batch's documents by their first keys (on
 * one thread, once every document's keys are made). */
void dd_placer_ahead_guess(dd_placer_ahead *a);

/* Work space of one thread for dd_placer_ahead_pairs. */
typedef struct dd_ahead_scratch {
    uint32_t *ranks, *linked, *tmp;
    dd_candidate *cands;
    size_t ranks_cap, linked_cap, tmp_cap, cands_cap;
} dd_ahead_scratch;
void dd_ahead_scratch_free(dd_ahead_scratch *w);

/* The representatives (guessed) that document docs[k] of the batch will be
 * verified against exactly, in the order the placer will verify them,
 * written to *out (growing it; *cap its capacity); returns how many. It
 * also keeps in a what the lookups of docs[k]'s buckets found, for
 * dd_placer_place_ahead. Reads p, and a but for what is docs[k]'s: runs on
 * any thread, for different k at the same time, while p is not changed. */
size_t dd_placer_ahead_pairs(const dd_placer *p, dd_placer_ahead *a, size_t k, dd_ahead_scratch *w,
                             uint32_t **out, size_t *cap);

/* Places a->docs[k], the next document to place (as dd_placer_place),
 * with what dd_placer_ahead_pairs found for it: the lookups of its buckets
 * among the representatives placed before the batch are not done again,
 * and a representative is added to the index only by
 * dd_placer_ahead_index. */
uint32_t dd_placer_place_ahead(dd_placer *p, dd_placer_ahead *a, size_t k, dd_member *m);

/* Once the batch is placed, its representatives are added to the index
 * of each band (or SimHash block) band < dd_placer_ahead_bands(a): for
 * different bands at the same time, on different threads. */
size_t dd_placer_ahead_bands(const dd_placer_ahead *a);
void dd_placer_ahead_index(dd_placer *p, const dd_placer_ahead *a, size_t band);

/*
 * Placing with candidates given: the clustering of the document stages
 * (doc_pairs.h). There the candidate pairs are made by sorting every
 * document's band keys (a group stage, per key partition) and verified
 * ahead (a verify stage, per document partition); the placer then only
 * sweeps, in rank order, holding a few bytes a document. It decides as
 * dd_placer_place does, on the same candidates:
 *   - a bucket of fewer than DD_BUCKET_CAP documents never lists as many
 *     representatives: its pairs are given (each earlier document of it,
 *     the placer keeping those that are representatives when d is placed);
 *   - a hot bucket (DD_BUCKET_CAP documents or more, in `hot`) may fill
 *     with representatives and split: the placer lists the representatives
 *     of hot keys only, and looks them up, as it does every key otherwise;
 *   - a pair given with its verdict is not verified again; one the
 *     verify stage's MinHash estimates let through (DD_VERDICT_MAY_JOIN)
 *     is decided on the exact sets when the placer comes to it, as it
 *     decides a pair its workers found ahead; one not given (a hot
 *     bucket's, past what was verified ahead) is verified then.
 * So the clusters, the similarities and the counts (dd_placer_counts) are
 * those of dd_placer_place, whatever the caps; and the exact sets are read
 * for the pairs the placer reads them for.
 */

/* What the verify stage found of a pair (d, the document placed; an
 * earlier one, by rank): dd_near_prejudge. */
typedef enum dd_pair_verdict {
    DD_VERDICT_UNKNOWN,
    DD_VERDICT_APART,
    DD_VERDICT_JOINS,
    DD_VERDICT_MAY_JOIN /* the estimates let it through: the exact sets decide */
} dd_pair_verdict;

typedef struct dd_given_pair {
    uint32_t earlier; /* its rank (the order placed) */
    /* how many buckets of fewer than DD_BUCKET_CAP documents list both (0:
     * a pair only verified ahead, a link's or a hot bucket's) */
    uint32_t shares;
    dd_pair_verdict verdict;
    uint32_t same; /* DD_VERDICT_MAY_JOIN: the MinHash values they share */
    dd_member m;   /* DD_VERDICT_JOINS: the similarity */
} dd_given_pair;

/* Makes room for n documents placed by dd_placer_place_given (no table of
 * exact keys: the twins are given). */
void dd_placer_reserve_given(dd_placer *p, size_t n);
/* The same, for documents 0..ndocs-1 of which order[0..n) are placed, in
 * that order: the placer reads their order there (which must outlive p)
 * rather than keep a copy of it (4 bytes a document). order NULL: rank r
 * is document r (dd_rank_documents' order with --keep first), none held. */
void dd_placer_reserve_order(dd_placer *p, const uint32_t *order, size_t n, size_t ndocs);
/* Whether the document placed rank-th is a representative (now). Reads
 * that document's state only: any thread, while another places later
 * ones. */
bool dd_placer_leads(const dd_placer *p, uint32_t rank);
/* Places document d, the next in rank order (every document placed, in
 * the order of dd_rank_documents, so that ranks are positions in it), with
 * twin, the rank of the first document with its exact key when that is
 * not d (UINT32_MAX: none), its pairs given[0..n), sorted by earlier, and
 * hot[b] for each band (or block) b: whether d's key there is a hot
 * bucket's. Returns as dd_placer_place. Every document of p is placed by
 * this function (the table of exact keys is not kept). */
uint32_t dd_placer_place_given(dd_placer *p, uint32_t d, uint32_t twin, const bool *hot,
                               const dd_given_pair *given, size_t n, dd_member *m);

/* No bucket (dd_placer_place_numbered). */
#define DD_NOT_HOT UINT32_MAX
/* Makes room for the buckets of the documents placed by
 * dd_placer_place_numbered, numbered 0..nbuckets-1 by the caller: a number
 * for each hot bucket (a band key of DD_BUCKET_CAP documents or more) and
 * for each of its sub-buckets that two of its documents or more share (by
 * dd_near_second_key), in whatever order. */
void dd_placer_reserve_hot(dd_placer *p, size_t nbuckets);
/* As dd_placer_place_given, with, for each band (or block) b, hot[b] the
 * number of d's key's hot bucket there (DD_NOT_HOT: not hot), and sub[b]
 * the number of its sub-bucket in that bucket (DD_NOT_HOT: no other
 * document of the bucket has d's second key, so nothing is ever found
 * there). The placer keeps a bucket's first DD_BUCKET_CAP representatives
 * by its number (5 bytes a bucket and 8 a representative listed), not by
 * key in an index (16 to 32 bytes a representative listed, one alone in
 * its sub-bucket too). The same clusters, similarities and counts. A
 * placer places by one of the two. */
uint32_t dd_placer_place_numbered(dd_placer *p, uint32_t d, uint32_t twin, const uint32_t *hot,
                                  const uint32_t *sub, const dd_given_pair *given, size_t n,
                                  dd_member *m);

/* The verify stage's verdict on document d joining document r, from
 * their signatures alone, into g (its verdict, and m or same): as the
 * placer verifies a candidate, but for the exact sets: SimHash, and
 * MinHash without verify_exact, decide here (JOINS or APART); with it, a
 * pair the estimates reject is APART, one they let through MAY_JOIN.
 * Reads no set: any thread. */
void dd_near_prejudge(const dd_signatures *s, uint32_t d, uint32_t r, dd_given_pair *g);

/* Whether document d joins representative r on the overlap o of their
 * exact sets (the rule of exact verification). */
bool dd_overlap_joins(const dd_signatures *s, const dd_overlap *o);

/* The documents of s in rank order (--keep), written to order[0..s->n):
 * the order dd_cluster_documents places them in. */
void dd_rank_documents(const dd_signatures *s, uint32_t *order);
/* Makes every one of n documents a cluster of its own (near-duplicate
 * detection off). */
void dd_cluster_nothing(size_t n, dd_clusters *out);
void dd_clusters_free(dd_clusters *c);

#endif
