/*
 * facts.h - what analysing one document finds (the first pass of corpus.c),
 * and its bytes in a work folder's part files (stages.h).
 *
 * Analysis is a pure function of a document's bytes and the settings: it
 * runs on any thread, in any process. What it finds, a dd_analysed, is all
 * that the decisions take of the document in the first pass: its load
 * status (and where it stops being text), its digest and size, its units
 * (lines, bytes, words, keys), their shingle sets and band keys, the
 * near-repeats inside it, its signature, and the messages its analysis
 * wrote. dd_facts_encode writes them as bytes and dd_facts_decode reads
 * them back into the same values, so that a run that decides from a part
 * file decides exactly as one that analysed the documents itself.
 */
#ifndef DD_FACTS_H
#define DD_FACTS_H

#include "engine/near.h"
#include "engine/near_units.h"
#include "io/input.h"
#include "run/run.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct dd_analysed {
    dd_run_result run; /* first: the messages of its analysis */
    bool deferred;     /* a stream (dd_input.stream): analysed by the consumer, in order */
    dd_load_status status;
    dd_not_text bad; /* DD_LOAD_NOT_TEXT: where */
    sh_buf text;     /* the bytes read (not kept in a part file) */
    uint64_t size;   /* of the text read */
    uint64_t digest;
    dd_doc doc;          /* its units (in a part file: not its words) */
    dd_unit_sets sets;   /* of doc's units */
    uint64_t *band_keys; /* of doc's units (dd_unit_band_keys) */
    size_t band_keys_cap;
    dd_near_unit_list near; /* near-repeats inside doc */
    dd_signed sig;
    sh_buf said;      /* signing a part: the messages of its analysis, kept for the decisions */
    char *across_err; /* its units could not be kept for the search across documents: why */
} dd_analysed;

/* Frees what r holds, but for its messages (r->run.messages: the ordered
 * map's slot keeps them), and empties the rest of it. */
void dd_analysed_clear(dd_analysed *r);

/* Appends the facts of r (its messages: said) to out. doc: the number of
 * the document as analysed (its place among the inputs of the analysing
 * process); the bytes do not depend on it. num_perm: values of a MinHash
 * signature (0 for SimHash). Returns where, in the bytes appended, the
 * hashes of the units' sets start (those of unit u at 8 * its sets.start[u]
 * past it). */
size_t dd_facts_encode(const dd_analysed *r, uint32_t doc, const sh_buf *said, size_t num_perm,
                       sh_buf *out);

/* Reads the facts of document number doc (its number among the inputs of
 * this process, whatever it was where they were written) from
 * bytes[0..len) into r (replacing what it held; its messages are appended to r->run.messages
 * once all is read). False when the bytes are not what dd_facts_encode
 * writes for such a document with num_perm, byte for byte (a damaged or
 * forged part file): every count within the bytes, every unit inside the
 * document's size and after the one before, sets, band keys and
 * near-repeats naming units that exist, messages without control
 * characters. When true, encoding r again gives exactly the bytes. */
bool dd_facts_decode(const char *bytes, size_t len, size_t num_perm, uint32_t doc, dd_analysed *r);

/* A document's signature is the last bytes of its facts, this many of
 * them: its exact key, words, shingles, SimHash, then num_perm MinHash
 * values (the document stages read it alone: run/doc_stages.h). */
size_t dd_facts_signature_bytes(size_t num_perm);
/* Reads the signature from its bytes b (dd_facts_signature_bytes of them)
 * into sig; false when it has no words (no signature to compare). */
bool dd_facts_decode_signature(const unsigned char *b, size_t num_perm, dd_signed *sig);

#endif
