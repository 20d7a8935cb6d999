/*
 * document.h - one document cut into units (paragraphs), each normalised,
 * split into words and keyed.
 *
 * A unit is a non-blank line (DD_UNIT_LINE) or a run of non-blank lines
 * between blank lines (DD_UNIT_BLOCK). A line is blank when it holds only
 * spaces, tabs, carriage returns, form feeds and vertical tabs; a unit whose text has no words after
 * normalisation ("...", "***") is dropped like a blank line. Every unit keeps
 * its byte range and line numbers in the original text, so reports can point
 * at path:line and cleaned copies can reproduce the original bytes.
 */
#ifndef DD_DOCUMENT_H
#define DD_DOCUMENT_H

#include "engine/base.h"
#include "shingle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The seed of every hash of the program when no key is given (--key-file):
 * fixed, so that keys, signatures and reports are the same from run to run. */
#define DD_SEED 0

typedef enum dd_unit_mode { DD_UNIT_LINE, DD_UNIT_BLOCK } dd_unit_mode;

typedef struct dd_unit {
    size_t off, len;       /* bytes of its lines, without the last line end */
    size_t first_line;     /* 1-based */
    size_t last_line;      /* equal to first_line for DD_UNIT_LINE */
    size_t first_word;     /* index of its first word in dd_doc.words */
    uint32_t words;        /* number of normalised words, at least 1 */
    uint8_t line_end;      /* bytes of the line end after it: 0 (end of text), 1 or 2 (\r\n) */
    uint8_t bom;           /* 3 when it starts with the text's byte-order mark, else 0 */
    sh_key key;            /* exact key of its words joined by spaces */
} dd_unit;

typedef struct dd_doc {
    dd_unit *units;
    size_t nunits, units_cap;
    sh_tokens words; /* every word of the document, in order */
    sh_key key;      /* exact key of all the words joined by spaces */
    sh_buf scratch;  /* normalised text of the unit being cut */
} dd_doc;

/* What a worker needs to analyse documents: one per thread. */
typedef struct dd_analyzer {
    sh_normalizer *norm;
    sh_tokenizer *tok;
    dd_unit_mode mode;
    const sh_hasher *hash; /* how text is hashed; not owned, outlives the analyzer */
} dd_analyzer;

/* Makes the normaliser and tokeniser of a; false, with an error in notes,
 * if ICU cannot start. */
bool dd_analyzer_init(dd_analyzer *a, dd_unit_mode mode, const sh_hasher *hash, dd_notes *notes);
void dd_analyzer_free(dd_analyzer *a);

/* Cuts text[0..len), valid UTF-8, into units of doc (replacing what doc
 * held). Returns SH_OK or the library's error. */
sh_status dd_analyze(dd_analyzer *a, const char *text, size_t len, dd_doc *doc);
void dd_doc_free(dd_doc *doc);

#endif
