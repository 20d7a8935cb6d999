/*
 * index_settings.c - see index_settings.h.
 */
#include "store/index_settings.h"

#include "engine/engine.h"
#include "util.h"

#include <string.h>

bool dd_index_settings(const dd_options *o, dd_ddx_settings *s)
{
    memset(s, 0, sizeof *s);
    if (o->near.method != DD_METHOD_MINHASH) {
        dd_error("the index holds MinHash signatures: --method simhash cannot use it");
        return false;
    }
    dd_analyzer a;
    dd_notes notes = {0};
    if (!dd_notes_said(&notes, dd_analyzer_init(&a, o->unit, &o->hash, &notes)))
        return false;
    /* The signatures' scheme goes with the normaliser: either changes every
     * signature, so an index of the other kind cannot be used. */
    snprintf(s->profile, sizeof s->profile, "%s %s", sh_normalizer_profile(a.norm),
             sh_minhash_scheme_name(DD_MINHASH_SCHEME));
    dd_analyzer_free(&a);
    s->unit_mode = (uint32_t)o->unit;
    s->ngram = (uint32_t)o->near.ngram;
    s->num_perm = (uint32_t)o->near.num_perm;
    s->bands = (uint32_t)o->near.bands;
    s->rows = (uint32_t)o->near.rows;
    s->seed = o->hash.keyed ? 0 : o->hash.seed; /* a key's seed is never written out */
    snprintf(s->key_fingerprint, sizeof s->key_fingerprint, "%s", o->key_fingerprint);
    return true;
}
