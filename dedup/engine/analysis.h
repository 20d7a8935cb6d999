/*
 * analysis.h - what one thread owns to analyse documents: the state every
 * analysing worker of scan, clean, check and filter makes once and reuses
 * from document to document.
 *
 * A dd_analysis_worker is per thread: it is made on the thread that uses it
 * (run.h: worker_new) and used by that thread only. It owns
 *   - the normaliser and tokeniser that cut a text into units and words
 *     (dd_analyzer, document.h);
 *   - the MinHash functions and scratch of document signatures (dd_signer,
 *     near.h);
 *   - the units' small MinHash, for their band keys (dd_unit_band_keys,
 *     near_units.h);
 *   - the scratch of the units' 3-shingle sets, with the lookup table of
 *     dd_find_near_units (dd_unit_sets, near_units.h).
 * It reads nothing shared but the hasher it was made with, which outlives
 * it.
 */
#ifndef DD_ANALYSIS_H
#define DD_ANALYSIS_H

#include "engine/document.h"
#include "engine/near.h"
#include "engine/near_units.h"

typedef struct dd_analysis_worker {
    dd_analyzer analyzer;
    dd_signer signer; /* made with the near parameters, even when near is off */
    sh_minhasher *unit_minhasher;
    dd_unit_sets sets; /* scratch */
} dd_analysis_worker;

/* A worker's analysis state for units cut as mode, documents signed with
 * near and text hashed with hash; NULL when ICU cannot start or the
 * MinHash functions cannot be made. It writes nothing on stderr (a worker
 * says nothing itself): the caller says why, in its turn. */
dd_analysis_worker *dd_analysis_worker_new(dd_unit_mode mode, const dd_near_params *near,
                                           const sh_hasher *hash);
void dd_analysis_worker_free(dd_analysis_worker *w);

#endif
