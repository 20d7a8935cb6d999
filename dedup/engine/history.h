/*
 * history.h - what a stream remembers of the records before the current one,
 * and the decisions taken on each record against them (dedup filter).
 *
 * Records are decided one at a time, in the order they come, each against the
 * records before it (a bounded number of them: near.h, "Candidate search");
 * the first copy is kept. What is remembered grows with the number of
 * records and paragraphs, never with the bytes of their text:
 *   - per record with words (and near-duplicate detection on), its exact
 *     key, sizes and signature (dd_signatures: 524 bytes with 128 MinHash
 *     values) and where it was placed (16
 *     bytes, 40 more for a copy, and 40 to 80 in the table of exact keys:
 *     dd_placer_bytes), and
 *     the LSH band keys of the records kept (dd_placer); a
 *     record without words is compared with nothing and nothing of it is
 *     remembered;
 *   - per distinct paragraph of the kept records, its exact key, where it
 *     was first seen and in how many records (a 40-byte record in an array
 *     and a 20-byte slot of a table at most half full: 80 to 160 bytes, as
 *     both double when they fill);
 *   - for the links of scan (near.h: the earlier records a record shares a
 *     paragraph with, candidates beside the LSH bands), the unit index of
 *     near_units.h over the units of every record with words: 7 band
 *     entries and 12 bytes per unit of 8 words or more that is not an exact
 *     copy of one listed before;
 *   - in the caller's scratch store (dd_scratch, base.h; the program's is
 *     a file, io/spool.h: in TMPDIR, unlinked at once), what verification
 *     reads again: with exact verification (MinHash,
 *     --verify exact) the shingle sets of the kept records, so that a
 *     record is verified on exact sets against any kept record before it,
 *     as scan does; and the 3-shingle sets of the units the unit index
 *     lists (8 bytes a hash, each). Memory holds where they are (24 bytes a
 *     record with its record number, and 8 for its links) and the file's
 *     write buffer (DD_SPOOL_BLOCK). Sets are read back (pread) only for
 *     candidates: at most DD_MAX_CANDIDATES documents whose estimate could
 *     pass, and the units a unit's bands list (near_units.h), a record.
 * So on the same records in the same order, decisions are those of scan
 * with --keep first (dd_cluster_documents), copies and similarities alike.
 */
#ifndef DD_HISTORY_H
#define DD_HISTORY_H

#include "engine/analysis.h"
#include "engine/document.h"
#include "engine/earlier.h"
#include "engine/near.h"
#include "engine/near_units.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dd_history_params {
    dd_near_params near; /* near.enabled false: records are never dropped */
    unsigned long min_words;
    unsigned long boilerplate_df;
    double para_threshold;
    bool clean_paragraphs; /* false: paragraphs are never removed */
    const sh_hasher *hash; /* how text is hashed; not owned, outlives the history */
    /* An earlier corpus (--index), or NULL: records are also compared with
     * its documents (on signature estimates) and paragraphs found in it are
     * removed. The caller owns it; its settings match near. */
    const dd_earlier *index;
    /* With near.enabled, where the history keeps the sets it reads again
     * (see above): the caller's, which outlives the history. */
    dd_scratch scratch;
} dd_history_params;

typedef enum dd_verdict_kind {
    DD_RECORD_KEPT,
    DD_RECORD_EXACT, /* an exact duplicate of an earlier record */
    DD_RECORD_NEAR,  /* a near-duplicate of an earlier record */
} dd_verdict_kind;

typedef enum dd_removal_kind {
    DD_REMOVED_REPEAT,      /* exact repeat of earlier lines, this record's or another's */
    DD_REMOVED_BOILERPLATE, /* seen in --boilerplate-df records, this one included */
    DD_REMOVED_NEAR,        /* near-repeat of earlier lines of this record */
} dd_removal_kind;

/* Lines [first_line, last_line] (1-based, of the record's text) removed. */
typedef struct dd_removal {
    size_t first_line, last_line;
    dd_removal_kind kind;
    uint64_t of_record; /* where the lines it repeats are: record (0-based) */
    size_t of_first_line, of_last_line;
    double jaccard, containment; /* DD_REMOVED_NEAR */
    char *of_index; /* or, instead of of_record, an indexed document's id (owned) */
} dd_removal;

typedef struct dd_verdict {
    dd_verdict_kind kind;
    /* DD_RECORD_EXACT, DD_RECORD_NEAR: the kept record (0-based) it is a
     * copy of, and the similarity to it */
    uint64_t of;
    char *of_index; /* ... or the id of an indexed document (owned), NULL */
    double jaccard, containment;
    unsigned hamming; /* --method simhash */
    bool estimated;   /* decided on signature estimates, not exact sets */
    /* DD_RECORD_KEPT: the lines removed from its text, by line, not
     * overlapping; owned by the verdict */
    dd_removal *removed;
    size_t nremoved, cap;
} dd_verdict;

typedef struct dd_history dd_history;

/* A history with the given parameters; NULL, with an error in notes, on
 * failure (the MinHash functions cannot be made). */
dd_history *dd_history_new(const dd_history_params *p, dd_notes *notes);
void dd_history_free(dd_history *h);

/* Decides the next record, whose text was analysed into doc (dd_analyze with
 * the history's hasher), and remembers it. v is overwritten (its removed array
 * is reused; free it with dd_verdict_free). Returns false, with *err set to a
 * new message (the caller frees it), when the scratch store fails (a full
 * disk, a read error): the history can then only be freed. */
bool dd_history_decide(dd_history *h, const dd_doc *doc, dd_verdict *v, char **err);

void dd_verdict_free(dd_verdict *v);

/*
 * Deciding on one thread, analysing on any (run.h): what a decision needs
 * of the record alone, its facts, depends on nothing before it, so a
 * worker computes it and the deciding thread takes it, record by record in
 * stream order. dd_history_decide is dd_history_analyse, then
 * dd_history_decide_analysed: the same decisions either way.
 *   - A dd_analysis_worker (analysis.h) is per thread: it owns a MinHash
 *     function set, the units' MinHash and scratch; it reads nothing of a
 *     history.
 *   - dd_history_analyse is pure: from doc alone it writes f, the record's
 *     signature and its distinct shingles (with near-duplicate detection,
 *     when it has words), its units' 3-shingle sets, their band keys and
 *     set keys,
 *     and the near-repeats inside it (with paragraphs cleaned).
 *   - dd_history_decide_analysed runs on the history's one thread.
 * A dd_record_facts is zero-initialised before first use, reused from
 * record to record (it keeps its buffers) and freed with
 * dd_record_facts_free.
 */
typedef struct dd_record_facts {
    bool signed_record; /* sig and set hold its signature and shingles */
    dd_signed sig;
    uint64_t *set; /* its distinct word shingles, sig.doc.shingles of them */
    size_t set_cap;
    bool has_sets;       /* sets and band_keys hold its units' */
    dd_unit_sets sets;   /* of its units */
    uint64_t *band_keys; /* of its units (dd_unit_band_keys) */
    size_t band_keys_cap;
    sh_key *set_keys; /* of its units (dd_unit_set_keys) */
    size_t set_keys_cap;
    dd_near_unit_list near; /* near-repeats inside it */
} dd_record_facts;

/* The facts of the record whose text was analysed into doc (dd_analyze
 * with the hasher of p), to f, for histories made with parameters p. Pure:
 * runs on any thread, with the thread's own analysis worker, made with
 * p's near parameters and hasher. */
void dd_history_analyse(const dd_history_params *p, dd_analysis_worker *a, const dd_doc *doc,
                        dd_record_facts *f);
void dd_record_facts_free(dd_record_facts *f);

/* dd_history_decide on the facts f of doc (dd_history_analyse, with the
 * same parameters as h): the same verdict, the same failures. Takes
 * buffers of f for its own (and leaves others there to reuse). */
bool dd_history_decide_analysed(dd_history *h, const dd_doc *doc, dd_record_facts *f, dd_verdict *v,
                                char **err);

/*
 * Deciding a batch, with the pure part done ahead on other threads (as
 * scan places documents: near.h, dd_placer_ahead). Placing a record is
 * mostly looking its band keys up among the kept records and verifying the
 * likely candidates on exact sets, which depends on what was decided before
 * it; so a caller with threads decides records a batch at a time:
 *   1. dd_history_batch_begin, on the history's thread: the batch's
 *      records (docs[k] with facts[k], analysed; both the caller's, kept
 *      until the batch is decided); then dd_history_batch_units for
 *      every k, on any threads at once (each with its own
 *      dd_history_scratch): record k's units looked up among the units of
 *      the records before the batch, and verified (near_units.h,
 *      dd_unit_batch_ahead). Both may come once the batch before it is
 *      past step 2, while it is decided (step 3): dd_history_batch_decide
 *      reads and writes nothing that they do (it spools nothing: its
 *      kept records' sets wait for dd_history_batch_keep, which must not
 *      run at the same time);
 *   2. once the batch before is finished (step 4), dd_history_batch_link,
 *      on the history's thread: the records take their signatures and
 *      their links (the earlier records they share a paragraph with), in
 *      order; then, on any threads at once (each with its own
 *      dd_history_scratch), dd_history_batch_ahead for every k: reads the
 *      history and writes record k's part of the batch only: the lookups
 *      of its band keys among the records kept before the batch, and the
 *      overlaps of its exact set with those of the kept records it will
 *      likely be verified against (read from the scratch store with its
 *      peek); and dd_history_batch_unit_index for every part <
 *      dd_history_batch_unit_parts: the batch's units join the unit
 *      index, a band per part;
 *   3. dd_history_batch_decide for k = 0, 1, ... in order, on the
 *      history's thread: record k's verdict, as dd_history_decide_analysed
 *      gives it (a pair not computed ahead is computed when asked); it
 *      fails as that does, and then the history can only be freed; then
 *      dd_history_batch_keep, on the history's thread: the kept records'
 *      sets go to the scratch store; false, with the batch record that
 *      failed in *failed and *err set, when it fails (the history can then
 *      only be freed);
 *   4. dd_history_batch_index for every part < dd_history_batch_parts, on
 *      any threads at once: the batch's kept records join the index of
 *      their band keys.
 * The verdicts are those of dd_history_decide_analysed, record by record.
 * A history that decides on an index (--index) or finds no near-duplicate
 * documents gains nothing: dd_history_batches says whether batches may be
 * used.
 */
typedef struct dd_history_scratch {
    dd_ahead_scratch ahead;
    dd_unit_scratch units;
    uint32_t *reps;
    size_t reps_cap;
    uint64_t *b, *tmp; /* a representative's set, sorting's scratch */
    size_t b_cap, tmp_cap;
} dd_history_scratch; /* zero-initialised before first use */
void dd_history_scratch_free(dd_history_scratch *w);

bool dd_history_batches(const dd_history *h);
void dd_history_batch_begin(dd_history *h, size_t n, const dd_doc *const *docs,
                            dd_record_facts *const *facts);
void dd_history_batch_units(dd_history *h, size_t k, dd_history_scratch *w);
void dd_history_batch_link(dd_history *h);
void dd_history_batch_ahead(dd_history *h, size_t k, dd_history_scratch *w);
size_t dd_history_batch_unit_parts(const dd_history *h);
void dd_history_batch_unit_index(dd_history *h, size_t band);
bool dd_history_batch_decide(dd_history *h, size_t k, dd_verdict *v, char **err);
bool dd_history_batch_keep(dd_history *h, size_t *failed, char **err);
size_t dd_history_batch_parts(const dd_history *h);
void dd_history_batch_index(dd_history *h, size_t part);

/* Bytes held in memory per record and per distinct paragraph, for --stats. */
size_t dd_history_bytes(const dd_history *h);
/* Bytes in the scratch store so far, for --stats. */
uint64_t dd_history_spooled(const dd_history *h);

/* The candidate search so far (near.h), for --stats: pairs verified, with
 * the earlier records and with indexed documents, and candidates left out
 * by the caps. */
typedef struct dd_history_candidates {
    uint64_t compared;
    uint64_t left_out;
    /* of the pairs verified on exact sets in batches: computed ahead, and
     * computed when asked (dd_history_batch_ahead missed them) */
    uint64_t verified_ahead, verified_asked;
} dd_history_candidates;
dd_history_candidates dd_history_candidates_of(const dd_history *h);

#endif
