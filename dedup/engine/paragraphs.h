/*
 * paragraphs.h - exact repeated paragraphs, inside one document and across
 * documents, and boilerplate.
 *
 * Documents are added in input order. Every unit's key goes into a table that
 * remembers its first occurrence and in how many documents it was seen; every
 * later occurrence is recorded. dd_paragraphs_finish turns that into
 * findings:
 *   - repeat runs: consecutive units of a document that repeat consecutive
 *     units of one earlier place (the same document or an earlier one),
 *     reported when they hold at least min_words words; consecutive once
 *     what the findings remove is gone;
 *   - boilerplate: units seen in at least boilerplate_df documents (and of at
 *     least min_words words), reported once with every occurrence.
 * Memory: 55 to 81 bytes per distinct unit (a 28-byte entry, and a 20-byte
 * slot of a table between 3/8 and 3/4 full) and 12 per repeated occurrence;
 * places are read back from the corpus's units.
 */
#ifndef DD_PARAGRAPHS_H
#define DD_PARAGRAPHS_H

#include "engine/document.h"
#include "engine/near_units.h"

#include <stddef.h>
#include <stdint.h>

typedef struct dd_place {
    uint32_t doc;
    size_t first_line, last_line;
} dd_place;

typedef struct dd_repeat {
    dd_place at; /* the repeated run */
    dd_place of; /* the first occurrence it repeats */
    size_t units;
    uint64_t words;
    bool exact;         /* false: a near-repeat of one unit (near_units.h) */
    double jaccard;     /* near-repeats: of the two units' 3-shingle sets */
    double containment; /* near-repeats: of the later unit in the earlier */
} dd_repeat;

typedef struct dd_boilerplate {
    dd_place text_at; /* the occurrence whose original text is shown */
    size_t text_off, text_len; /* its bytes in that document */
    char *text;       /* that text, filled in by the caller (dd_findings_free frees it) */
    uint32_t docs;    /* number of documents holding it */
    dd_place *at;     /* every occurrence, in input order */
    size_t n;
} dd_boilerplate;

/* Lines removed by clean: [first_line, last_line] of doc. */
typedef dd_place dd_drop;

typedef struct dd_findings {
    dd_repeat *repeats; /* by document, then line */
    size_t nrepeats, repeats_cap;
    dd_boilerplate *boilerplate; /* by first occurrence */
    size_t nboilerplate, boilerplate_cap;
    dd_drop *drops; /* by document, then line; ranges do not overlap */
    size_t ndrops, drops_cap;
} dd_findings;

typedef struct dd_paragraphs dd_paragraphs;

/* The boilerplate rule of every mode (scan, clean, check; filter, in
 * history.c; a paragraph found in an index, in history.c and
 * index_match.c): a unit of `words` normalised words held by `docs`
 * documents (the one it is in counted) is boilerplate when docs reaches
 * boilerplate_df and words reaches min_words. */
bool dd_is_boilerplate(uint64_t docs, uint64_t words, uint64_t min_words, uint64_t boilerplate_df);

/* The run grouping of every mode: the repeats of consecutive units of a
 * document that repeat consecutive units of one earlier place are one
 * finding. A run of repeats, starting at unit `first` of document `doc`
 * and repeating units of document src_doc, whose last unit is followed by
 * unit next_at (in the text as the caller counts it) and its last source
 * unit by next_src, takes the repeat at unit `at` of document at_doc, a
 * repeat of unit `src` of document at_src_doc, when that is the next unit
 * of the same document, it repeats the next source unit in the same
 * source document, it is not boilerplate, and a source in the run's own
 * document still ends before the run starts (a run never repeats itself).
 * Units are numbered in increasing order within a document. */
typedef struct dd_run_end {
    uint64_t doc, src_doc;
    size_t first;             /* the run's first unit */
    size_t next_at, next_src; /* the units that follow its last one, and its last source */
} dd_run_end;
bool dd_run_takes(const dd_run_end *run, uint64_t at_doc, size_t at, uint64_t at_src_doc,
                  size_t src, bool boilerplate);

/* How many times dd_paragraphs_finish seeks runs at most: each pass costs a
 * pass over the repeats, and a run comes together only once another
 * between its units is found, which takes a crafted text more than a few
 * times. */
#define DD_RUN_PASSES 16

/* A table over the units of a corpus: document d has units
 * units[unit_start[d] .. unit_start[d + 1]). Both arrays stay the caller's
 * and must outlive the table. */
dd_paragraphs *dd_paragraphs_new(const dd_unit *units, const size_t *unit_start);
void dd_paragraphs_free(dd_paragraphs *p);

/* The units are not in memory (the units given to dd_paragraphs_new are
 * not read): unit u among all of them is get(ctx, u). Before any document
 * is added; ctx must outlive p. */
void dd_paragraphs_read_units(dd_paragraphs *p, dd_unit (*get)(void *ctx, size_t u), void *ctx);

/* Leaves out the units marked in gone (one flag per unit, indexed as the
 * units are; NULL: none), removed before: they are not added, and they
 * part no run (their neighbours are consecutive). Before any document is
 * added; gone must outlive p. */
void dd_paragraphs_leave_out(dd_paragraphs *p, const bool *gone);

/* Adds the units of document number doc; documents come in increasing
 * order. False, with an error in notes, past the table's limits (2^32 - 1
 * units in a document, or distinct units in all): p can then only be
 * freed. */
bool dd_paragraphs_add(dd_paragraphs *p, uint32_t doc, dd_notes *notes);

/*
 * The table built on several threads (the caller's: the engine starts
 * none). dd_paragraphs_split splits the keys into nparts parts (a key's part
 * is a function of the key alone). Then each part, on one thread, goes
 * through the documents in increasing order and takes in only the units of
 * its keys (dd_paragraphs_add_part): parts on different threads at once,
 * the documents of one part in order on one thread. Once every part went
 * through every document, dd_paragraphs_parts_done, then dd_paragraphs_add
 * of the same documents in the same order, on one thread, joins the parts:
 * each unit takes its part's entry, which counts the same documents and
 * has the same first occurrence as one table going through the documents
 * in order would give it (those of its key, in the same order), so the
 * table, and every finding, is the same as without parts; only the hashing
 * is done on the threads. Costs 8 bytes a unit of the corpus (nunits: all
 * of them, the largest unit number + 1) and 32 bytes a distinct unit more.
 * Before any document is added; nparts below 2 leaves the table whole.
 */
#define DD_PARAGRAPHS_MAX_PARTS 256
void dd_paragraphs_split(dd_paragraphs *p, size_t nparts, size_t nunits);
/* The number of parts (0: not split). */
size_t dd_paragraphs_parts(const dd_paragraphs *p);
/* Takes in the units of document doc whose keys are part k's. A part past
 * the table's limits stops taking in; dd_paragraphs_add then says so. */
void dd_paragraphs_add_part(dd_paragraphs *p, size_t k, uint32_t doc);
void dd_paragraphs_parts_done(dd_paragraphs *p);

/* Adds a near-repeat (see near_units.h): the unit at `at`, of `words`
 * words, near-repeats the unit at `of`. */
void dd_paragraphs_add_near(dd_paragraphs *p, dd_place at, dd_place of, uint32_t words,
                            double jaccard, double containment);

/* The first occurrence of a unit of exact key key among the documents added
 * (*at, its lines); false if none holds it. */
bool dd_paragraphs_first(const dd_paragraphs *p, sh_key key, dd_place *at);

/* Computes the findings (see above), on the text as it will be once they
 * are removed: units between two repeats that a finding removes (the
 * boilerplate, a near-repeat, another run) do not part them, in the
 * document that repeats and in the one repeated; so runs are sought again
 * once others are found, up to DD_RUN_PASSES times. f must be zeroed; free
 * it with dd_findings_free. */
void dd_paragraphs_finish(dd_paragraphs *p, uint64_t min_words, uint32_t boilerplate_df,
                          dd_findings *f);
void dd_findings_free(dd_findings *f);

#endif
