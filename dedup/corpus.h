/*
 * corpus.h - the first pass shared by scan and clean: read every input,
 * check it, cut it into units and add them to the paragraph table.
 */
#ifndef DD_CORPUS_H
#define DD_CORPUS_H

#include "input.h"
#include "near.h"
#include "options.h"
#include "paragraphs.h"
#include "progress.h"

#include <stdint.h>

/* An input that is not text, left out of the comparison (--on-error skip
 * or drop): the command says so, and clean -o copies it through (skip). */
typedef struct dd_left_out {
    uint32_t doc;
    dd_not_text why;
} dd_left_out;

/* What reading an input again (for exact verification, an excerpt, clean)
 * found, said once per input however often it is read. */
typedef enum dd_reread {
    DD_REREAD_OK,
    DD_REREAD_FAILED,  /* vanished or unreadable: an error, counted in problems */
    DD_REREAD_CHANGED, /* not as analysed: a warning; compared as first read */
} dd_reread;

typedef struct dd_corpus {
    dd_inputs inputs;
    uint64_t *digests; /* XXH3-64 of each input's bytes, to notice later changes */
    uint64_t *sizes;   /* each input's size in bytes, as read */
    bool *failed;      /* inputs that were not analysed: failed or left out */
    unsigned char *reread; /* dd_reread of each input: later readings stop at a failure */
    dd_left_out *left_out; /* not text, left out: in input order, not reported */
    size_t nleft_out, left_out_cap;
    dd_unit *units;    /* the units of every document, in order */
    size_t nunits, units_cap;
    size_t *unit_start;           /* document i has units [unit_start[i], unit_start[i+1]) */
    dd_near_unit_list near_units; /* near-repeats of units, by document */
    dd_unit_index *unit_index;    /* during the first pass: units for near-repeats */
    dd_signatures signatures;
    dd_clusters clusters;
    dd_paragraphs *paragraphs;
    dd_findings findings;
    int problems; /* errors reported on stderr (inputs left out are not counted) */
    size_t max_bytes; /* the longest document read (--max-record) */
} dd_corpus;

/* Reads o->paths, clusters the documents and computes the findings. Problems are
 * reported on stderr and counted in c->problems; the inputs without
 * problems are still analysed. An input that is not text (dd_input_load) is
 * left out of the comparison and listed in c->left_out, unreported, for
 * the command to say what becomes of it; with --on-error stop it is
 * reported and the run ends there. Returns false if it could not run at
 * all, or was stopped. progress (NULL: none) is updated as the documents
 * are read. */
bool dd_corpus_run(dd_corpus *c, const dd_options *o, dd_progress *progress);
void dd_corpus_free(dd_corpus *c);

/* Reports every input left out, as an error on stderr ending in
 * "; FATE" (dd_input_report_not_text). */
void dd_corpus_report_left_out(const dd_corpus *c, const char *fate);

/* What a run found, and what clean removes because of it: the counts of
 * the summaries (the line on stderr and the JSON summary record). */
typedef struct dd_corpus_counts {
    size_t documents;          /* inputs */
    size_t errors;             /* problems reported (c->problems): unreadable inputs... */
    uint64_t bytes;            /* of the inputs read */
    size_t clusters;           /* clusters of two or more documents */
    size_t copies;             /* their members other than the representative */
    uint64_t copy_bytes;       /* bytes of the copies */
    size_t paragraphs_removed; /* units in the lines clean removes from the other documents */
    uint64_t paragraph_bytes;  /* bytes of those lines, line ends included */
    size_t documents_changed;  /* documents that lose lines */
} dd_corpus_counts;

void dd_corpus_count(const dd_corpus *c, dd_corpus_counts *out);

/* XXH3-64 of a document's bytes (for dd_corpus.digests). */
uint64_t dd_digest(const char *text, size_t len);

#endif
