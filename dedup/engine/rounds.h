/*
 * rounds.h - the decisions of scan, clean and check on a corpus read by its
 * first pass (corpus.c): which documents are copies and which lines go,
 * decided in rounds on the text that clean leaves (see corpus.h).
 */
#ifndef DD_ROUNDS_H
#define DD_ROUNDS_H

#include "run/corpus.h"
#include "cmd/options.h"

#include <stdbool.h>

/* The most rounds of decisions taken: a text needs more only when crafted
 * so that each removal makes the next (a nesting of repeats, a chain of
 * copies), and each round costs a pass over the documents' keys; past it, a
 * warning says that the text left may not be clean yet. */
#define DD_MAX_ROUNDS 16

/* Decides on c, whose first pass is done, and sets c->clusters and
 * c->findings (the boilerplate's texts not yet read) and c->removed. With
 * o->in_place, copies stay for the later rounds, as they are; otherwise
 * they go. False, after a message, if the normaliser cannot start. */
bool dd_rounds_run(dd_corpus *c, const dd_options *o);

#endif
