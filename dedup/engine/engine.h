/*
 * engine.h - the decision engine of dedup: from what analysis learns of each
 * document (its facts) to decisions (kept, or a copy of a given document
 * with its similarity; lines removed, each with its reason and the place it
 * repeats). The one header the rest of the program includes; the headers
 * it gathers give each part's detail.
 *
 *   base.h        messages returned (dd_notes), the texts and scratch bytes
 *                 the caller provides (dd_text_source, dd_scratch)
 *   document.h    a text cut into units (lines or blocks), normalised, keyed
 *   near.h        document signatures, the join rule, candidates, placing
 *                 documents into clusters, in rank order
 *   doc_pairs.h   the same clusters by stages: pairs by sorted band keys,
 *                 verified, swept in rank order
 *   near_units.h  near-repeated units, inside a document and across
 *   unit_pairs.h  the candidate pairs of units across documents, by band key
 *   paragraphs.h  the unit table: exact repeats, runs, boilerplate
 *   history.h     a stream's decisions, one record at a time
 *   earlier.h     an earlier corpus (--index), as the engine reads it
 *   index_match.h what a document shares with an index of an earlier corpus
 *   capped_map.h  band tables holding a few values per key
 *   set_cache.h   the cache of shingle sets made or read again
 *
 * CONTRACTS
 *
 * No I/O, no argv, no exit, no stderr. Nothing in engine/ prints, reads a
 * file, looks at the command line or the environment, or ends the process
 * (but for memory, below). A function that can fail returns a status
 * (false, NULL, -1 or an enum) and, when there is something to say, appends
 * it to a dd_notes the caller passes (NULL: say nothing); the caller prints
 * them (util.h: dd_notes_say), so messages keep the words the user knows.
 * The one failure with no status is running out of memory.
 *
 * Out of memory: engine/ allocates with util.h's dd_malloc, dd_calloc,
 * dd_realloc and dd_grow, which on failure end the process with "dedup:
 * out of memory" on stderr and status 2 (dd_out_of_memory); so does a
 * shingle/ call whose only possible failure is memory (dd_kept_lines,
 * dd_unit_minhasher_new). No function returns half-done work for lack of
 * memory. Statuses report everything else: a limit passed (2^32 units in
 * a table), the normaliser or the MinHash functions that cannot start, an
 * index or scratch store that fails.
 *
 * What the engine reads again comes from its caller: a document's text
 * (dd_text_source.document: clean's later rounds, an index match's exact
 * sets), an indexed file's text (dd_text_source.indexed), a stream's
 * earlier shingle sets (dd_scratch: the program's is a scratch file,
 * io/spool.h), and what is known of an earlier corpus (--index), through
 * one interface (dd_earlier, earlier.h: the program's is the LMDB index,
 * store/ddx.h) that history.c and index_match.c alike read, with one
 * paragraph lookup (dd_earlier_paragraph). The engine keeps facts, never
 * texts.
 *
 * One rule each, for every mode (scan, clean, check; filter; --index):
 *   - joining a representative: dd_near_joins (Jaccard, or containment
 *     with min_shingles, and the size-ratio guard: a document never
 *     becomes a copy of a much smaller one), with exact similarity from
 *     dd_overlap_similarity or estimates from the signatures
 *     (dd_containment_of); near.c's placer, history.c and index_match.c
 *     all decide with it, and search an earlier corpus with one function
 *     (dd_earlier_copy_of);
 *   - near-repeated units: dd_unit_match (near_units.h);
 *   - boilerplate: dd_is_boilerplate (document frequency and min_words);
 *   - runs of repeats: dd_run_takes (paragraphs.c and history.c; each says
 *     which unit comes next in its text: for paragraphs.c the next unit
 *     left once the units its findings remove are gone, for history.c the
 *     next unit of the record, so a run that boilerplate interrupts is one
 *     finding in scan and two in filter: issue 15, item 4);
 *   - which document is kept: dd_rank_documents (--keep first: input
 *     order; longest: most words, ties to input order). Every "first",
 *     "earliest" and tie is a comparison of ranks.
 * Batch (near.c's placer over every document) and stream (history.c, on
 * arrival) differ in when a decision is taken, not in these rules.
 *
 * Ownership: an object made by *_new or *_init owns what it allocates and
 * is freed by the matching *_free; one that takes arrays of the caller
 * (dd_paragraphs_new's units, dd_placer_new's signatures, a
 * dd_text_source's context) keeps pointers only, and they must outlive it.
 * Results hand over what they hold: a dd_verdict its removals and ids, a
 * dd_index_matches its ids, dd_findings the boilerplate texts the caller
 * puts there, dd_clusters their members; each has its *_free.
 *
 * Threads. No object of the engine is process-wide: there are no globals
 * but util.h's table salt (made once, behind pthread_once).
 *   - Per thread (one owner at a time; threads that work in parallel each
 *     make their own): dd_analysis_worker (analysis.h: one thread's
 *     dd_analyzer (ICU), dd_signer, unit minhasher and scratch), or those
 *     alone: dd_analyzer, dd_signer, dd_unit_sets, dd_ahead_scratch, a unit minhasher
 *     (dd_unit_minhasher_new), dd_notes.
 *   - Single writer (one thread changes it; others may read it only while
 *     it does not change): dd_signatures (appended in rank order),
 *     dd_placer (dd_placer_ahead_keys and dd_placer_ahead_pairs read it
 *     from several threads between batches, each writing its document's
 *     row of the dd_placer_ahead), dd_unit_index (dd_unit_batch_ahead reads
 *     it from several threads before a batch, each writing its document's
 *     dd_unit_ahead; dd_unit_batch_join writes one band per thread after
 *     it), dd_paragraphs, dd_history (its deciding thread), dd_clusters
 *     while placed.
 *   - Shared read-only once made: dd_near_params, sh_hasher, a filled
 *     dd_key_filter (filled by one thread a range of its words at once,
 *     dd_key_filter_add), dd_findings and dd_clusters once finished, and the
 *     facts a worker made (dd_record_facts, dd_signed) once handed over.
 *   - Pure, any thread: dd_analyze (with its own analyzer),
 *     dd_history_analyse, dd_signer_sign, dd_find_near_units, the
 *     candidate pairs of units (unit_pairs.h), and the rules above. A dd_text_source may be called from several threads at
 *     once (each with its own buffer); a dd_scratch and a dd_earlier by
 *     the deciding thread only, but for a dd_scratch's peek, which the
 *     workers of a batch call while nothing is appended.
 *
 * Not here: taking the batch decisions in rounds on the text clean leaves
 * (run/rounds.h) is how a run of scan, clean and check goes: it works on
 * run/'s dd_corpus, runs its re-analysis on run.h's workers and applies
 * these rules in each round.
 */
#ifndef DD_ENGINE_H
#define DD_ENGINE_H

#include "engine/analysis.h"
#include "engine/base.h"
#include "engine/capped_map.h"
#include "engine/doc_pairs.h"
#include "engine/document.h"
#include "engine/earlier.h"
#include "engine/history.h"
#include "engine/index_match.h"
#include "engine/near.h"
#include "engine/near_units.h"
#include "engine/paragraphs.h"
#include "engine/set_cache.h"
#include "engine/unit_pairs.h"

#endif
