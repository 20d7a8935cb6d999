/*
 * across_stages.h - the search for near-repeated paragraphs across
 * documents (near_across.h) as stages of a work folder (stages.h), each
 * split into tasks.
 *
 * The search is the same: the candidate pairs are a pure function of the
 * units' band keys (engine/unit_pairs.h), verified on the exact sets
 * (dd_unit_verifier); only where the parts live differs. With a work
 * folder, the units are those of the sign stage's facts, unit id (doc <<
 * 32 | unit in its document): increasing in rank order, as the ids of a
 * run without a work folder, so pairs and matches come in the same order.
 * There are as many partitions in each stage as the sign stage has parts,
 * and each task reads only its share of the files before it:
 *   sign, part J: beside its part file, DIR/sign/part-J.keys (a sectioned
 *     file, stages.h: each section read alone by one pread and checked
 *     alone): section K, for each group partition K, the band keys of the
 *     part's units of DD_NEAR_UNIT_ACROSS_MIN_WORDS words or more whose
 *     value modulo the number of partitions is K (all the units of one key
 *     of one band are in one partition): the number of entries of each
 *     band, then the entries (band key, set key, unit id with the document
 *     relative to the part: 24 bytes each, little-endian), band after band,
 *     each band's by key then id; its last section, a table of those units
 *     (id, where its set's hashes lie in the part file, their number, their
 *     XXH3-64: 32 bytes each), by id. Written before the part's marker; a
 *     keys file missing or damaged is made again from the part's facts.
 *   group, partition K: reads section K of every keys file (about 1/N of
 *     the keys for N partitions); writes the candidate pairs of those keys,
 *     sorted and unique, to DIR/group/part-K, a sectioned file too: section
 *     V holds the pairs whose later unit is in a document of sign part V
 *     (later, earlier: 16 bytes each).
 *   verify, partition V: section V of every group file, made unique; each
 *     pair verified on the two units' sets, each read by one pread from
 *     its part file where the table of the part's keys file says (the
 *     tables of the parts its pairs name are read, not the facts); writes
 *     the matches, in rank order of their later unit, to DIR/verify/part-V
 *     (48 bytes each: doc, of_doc (4 bytes each), unit, of, the bits of
 *     jaccard and of containment, alternative (8 bytes each)).
 *   decide reads the matches of verify parts 0, 1, ... in turn: every
 *     match in rank order, as dd_near_across_find gives them.
 * A task of N (--task I --tasks N) makes the partitions whose number % N
 * is I; a partition's file is made again when it has no completion marker
 * or is not whole and right (stages.h).
 */
#ifndef DD_RUN_ACROSS_STAGES_H
#define DD_RUN_ACROSS_STAGES_H

#include "cmd/options.h"
#include "engine/near_units.h"
#include "engine/unit_starts.h"
#include "run/facts.h"
#include "run/stages.h"

#include <stdbool.h>
#include <stddef.h>

/* The keys file of sign part part (the caller frees it). */
char *dd_across_keys_path(const dd_work *w, size_t part);

/* Writing the keys file of a sign part, from its documents' facts as they
 * are signed. */
typedef struct dd_keys_builder dd_keys_builder;
dd_keys_builder *dd_keys_builder_new(const dd_work *w, size_t part);
/* Adds document doc of the part (0, 1, ... in order), its facts r, whose
 * units' set hashes start at sets_at in the part file (dd_facts_encode's
 * return, past where its facts start), and which end at facts_end (its
 * signature, for the docs file beside: run/doc_stages.h). */
void dd_keys_builder_add(dd_keys_builder *b, uint32_t doc, const dd_analysed *r, uint64_t sets_at,
                         uint64_t facts_end);
/* Writes the file (atomically) for a part of ndocs documents, and its docs
 * file first: false after a message. */
bool dd_keys_builder_write(dd_keys_builder *b, size_t ndocs);
void dd_keys_builder_free(dd_keys_builder *b);

/* Makes the keys file of part (and its docs file, run/doc_stages.h) again
 * from its facts (the part file checked whole): false, *why set, when the
 * part is not signed or its facts are damaged. */
bool dd_across_keys_remake(dd_work *w, size_t part, char **why);

/* Whether the keys file of part is right (its header and table of
 * contents; every section too when whole); otherwise it is made again from
 * the part's facts (said when a file was there). Sets the part's number
 * of documents. False after a message (the part not signed, or damaged). */
bool dd_across_keys_ready(dd_work *w, size_t part, bool whole);

/* For the group and verify stages: every part signed (its marker), its
 * keys file ready (dd_across_keys_ready, the part files not read unless a
 * keys file is made again), the documents numbered. False after a
 * message. */
bool dd_across_parts_ready(dd_work *w);

/* Makes the files of stage ("group" or "verify") of w that are missing or
 * not right: the partitions of task o->work.task of o->work.tasks with
 * --task, every one otherwise (on `threads` threads). w: its parts ready
 * (dd_across_parts_ready, or every part checked) and their documents
 * numbered. A stage that
 * needs the files of the one before (verify: every group file) refuses to
 * run without them, after a message, unless make_missing (then they are
 * made first). False after a message. */
bool dd_across_stage_run(dd_work *w, const dd_options *o, const char *stage, unsigned threads,
                         bool make_missing);

/* Reads the matches of verify partition part of w, in order, into out
 * (replacing what it held). False after a message when its file is not
 * there or not right, or a match names a document outside the part, a
 * unit beyond its document's (starts: where each document's units
 * start, and the end of the last) or a later document. */
bool dd_across_read_matches(const dd_work *w, size_t part, const dd_unit_starts *starts,
                            dd_near_unit_list *out);

/* The documents linked by the matches of verify partition part of w (each
 * match that is not an alternative: its document, in the part, and the
 * earlier one it repeats a paragraph of), into *out (grown; *n of them).
 * False after a message when the file is not there or not right. */
bool dd_across_read_links(const dd_work *w, size_t part, dd_doc_pair **out, size_t *n);

#endif
