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
 * There are as many partitions in each stage as the sign stage has parts:
 *   group, partition K: reads the facts of every signed part; of each unit
 *     of DD_NEAR_UNIT_ACROSS_MIN_WORDS words or more, the band keys whose
 *     value modulo the number of partitions is K (all the units of one key
 *     of one band are in one partition); writes the candidate pairs of
 *     those keys, sorted and unique, to DIR/group/part-K: first, for each
 *     verify partition, where its pairs start, then the pairs (later,
 *     earlier: 16 bytes each, little-endian).
 *   verify, partition V: the pairs whose later unit is in a document of
 *     sign part V, from every group file, made unique; each verified on
 *     the two units' sets, read from the sign parts (the offset table of
 *     a part file gives a document's facts by one pread); writes the
 *     matches, in rank order of their later unit, to DIR/verify/part-V
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
#include "run/stages.h"

#include <stdbool.h>
#include <stddef.h>

/* Makes the files of stage ("group" or "verify") of w that are missing or
 * not right: the partitions of task o->work.task of o->work.tasks with
 * --task, every one otherwise (on `threads` threads). w: every sign part
 * checked (dd_work_check_part) and its documents numbered. A stage that
 * needs the files of the one before (verify: every group file) refuses to
 * run without them, after a message, unless make_missing (then they are
 * made first). False after a message. */
bool dd_across_stage_run(dd_work *w, const dd_options *o, const char *stage, unsigned threads,
                         bool make_missing);

/* Reads the matches of verify partition part of w, in order, into out
 * (replacing what it held). False after a message when its file is not
 * there or not right, or a match names a document outside the part, a
 * unit beyond its document's (unit_start: the first unit of each
 * document, ndocs + 1 of them) or a later document. */
bool dd_across_read_matches(const dd_work *w, size_t part, const size_t *unit_start,
                            dd_near_unit_list *out);

#endif
