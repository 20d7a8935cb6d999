/*
 * analysis.c - the analysis state of one thread (analysis.h).
 */
#include "engine/analysis.h"

#include "util.h"

#include <stdlib.h>

dd_analysis_worker *dd_analysis_worker_new(dd_unit_mode mode, const dd_near_params *near,
                                           const sh_hasher *hash)
{
    dd_analysis_worker *w = dd_calloc(1, sizeof *w);
    /* No notes: what failed is said by the caller. */
    bool ok = dd_analyzer_init(&w->analyzer, mode, hash, NULL);
    if (ok && !dd_signer_init(&w->signer, near, hash, NULL)) {
        dd_analyzer_free(&w->analyzer);
        ok = false;
    }
    if (!ok) {
        free(w);
        return NULL;
    }
    w->unit_minhasher = dd_unit_minhasher_new(hash);
    return w;
}

void dd_analysis_worker_free(dd_analysis_worker *w)
{
    if (!w)
        return;
    dd_analyzer_free(&w->analyzer);
    dd_signer_free(&w->signer);
    sh_minhasher_free(w->unit_minhasher);
    dd_unit_sets_free(&w->sets);
    free(w);
}
