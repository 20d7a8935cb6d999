/*
 * rounds.h - the decisions of scan, clean and check on a corpus read by its
 * first pass (corpus.c): which documents are copies and which lines go,
 * decided in rounds on the text that clean leaves (see corpus.h). Each
 * round applies the engine's rules (engine/engine.h); this file is how the
 * rounds run: which documents are analysed again, on which workers.
 */
#ifndef DD_ROUNDS_H
#define DD_ROUNDS_H

#include "engine/base.h"
#include "run/corpus.h"
#include "cmd/options.h"

#include <stdbool.h>

/* The most rounds of decisions taken: a text needs more only when crafted
 * so that each removal makes the next (a nesting of repeats, a chain of
 * copies), and each round costs a pass over the documents' keys; past it, a
 * warning says that the text left may not be clean yet. */
#define DD_MAX_ROUNDS 16

/* Decides on c, whose first pass is done, and sets c->clusters,
 * c->findings (the boilerplate's texts not yet read), c->places,
 * c->repeats and c->removed (corpus.h: in memory up to their share of --memory). With
 * o->in_place, copies stay for the later rounds, as they are; otherwise
 * they go. The documents that lose lines are analysed again, on the
 * calling thread and run.h's workers, on their texts as src gives them
 * (src->document; what it fails to give is decided on as first read:
 * c->reread says which). What the rounds have to say goes to notes, in
 * order: errors (a worker's normaliser that cannot start, and the like),
 * and a warning when DD_MAX_ROUNDS did not reach a fixed point. False,
 * with an error in notes, past the paragraph table's limits, or when what
 * the rounds find could not be written to a scratch file: c then holds no
 * decisions. */
bool dd_rounds_run(dd_corpus *c, const dd_options *o, const dd_text_source *src, dd_notes *notes);

#endif
