/*
 * index_match.h - what a document of a run has in common with the documents
 * of an earlier corpus (earlier.h: the program's is an index, store/ddx.h):
 * for check --index and scan --index.
 */
#ifndef DD_INDEX_MATCH_H
#define DD_INDEX_MATCH_H

#include "engine/base.h"
#include "engine/document.h"
#include "engine/earlier.h"
#include "engine/near.h"
#include "engine/paragraphs.h"

typedef enum dd_index_match_kind {
    DD_INDEX_DUPLICATE, /* the document copies an indexed one */
    DD_INDEX_PARAGRAPH, /* a paragraph of it is in indexed documents */
} dd_index_match_kind;

typedef struct dd_index_match {
    dd_index_match_kind kind;
    char *of; /* the indexed document's id (owned) */
    /* DD_INDEX_DUPLICATE */
    bool exact;     /* the same normalised words */
    bool estimated; /* jaccard and containment from the signatures */
    double jaccard, containment;
    /* DD_INDEX_PARAGRAPH */
    size_t first_line, last_line;         /* in the document */
    uint32_t of_first_line, of_last_line; /* in the first indexed document holding it */
    uint32_t docs;                        /* documents holding it, this one included */
    uint32_t words;
    bool boilerplate; /* by the boilerplate rule (dd_is_boilerplate) */
    sh_key key;
} dd_index_match;

typedef struct dd_index_matches {
    dd_index_match *v;
    size_t n, cap;
} dd_index_matches;

/* Appends to out what document i of s (its id, and its units[0..nunits))
 * shares with the index: the earliest indexed document it is a
 * near-duplicate of (the join rule, dd_near_joins: verified on exact sets
 * when src gives both texts, the document's and the indexed one's, else on
 * the signatures), or else its paragraphs of at least min_words words
 * found in indexed documents, each boilerplate or a repeat by the rule of
 * every mode (dd_is_boilerplate, with boilerplate_df). The document's own
 * entry in the index (same id) does not count. a (the caller's, with the hasher of s) analyses the
 * texts src gives. False, with an error in notes, on an index error. */
bool dd_index_match_document(const dd_earlier *x, const dd_signatures *s, uint32_t i, const char *id,
                             const dd_unit *units, size_t nunits, unsigned long min_words,
                             unsigned long boilerplate_df, const dd_text_source *src,
                             dd_analyzer *a, dd_index_matches *out, dd_notes *notes);
void dd_index_matches_free(dd_index_matches *m);

#endif
