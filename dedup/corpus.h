/*
 * corpus.h - the first pass shared by scan and clean: read every input,
 * check it, cut it into units and add them to the paragraph table.
 */
#ifndef DD_CORPUS_H
#define DD_CORPUS_H

#include "input.h"
#include "options.h"
#include "paragraphs.h"

#include <stdint.h>

typedef struct dd_corpus {
    dd_inputs inputs;
    uint64_t *digests; /* XXH3-64 of each input's bytes, to notice later changes */
    bool *failed;      /* inputs that could not be read or analysed */
    dd_paragraphs *paragraphs;
    dd_findings findings;
    int problems; /* errors reported on stderr */
} dd_corpus;

/* Runs the first pass over o->paths and computes the findings. Problems are
 * reported on stderr and counted in c->problems; the inputs without
 * problems are still analysed. Returns false if it could not run at all. */
bool dd_corpus_run(dd_corpus *c, const dd_options *o);
void dd_corpus_free(dd_corpus *c);

/* XXH3-64 of a document's bytes (for dd_corpus.digests). */
uint64_t dd_digest(const char *text, size_t len);

#endif
