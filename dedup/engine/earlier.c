/*
 * earlier.c - what is looked up in an earlier corpus (see earlier.h).
 */
#include "engine/earlier.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

void dd_indexed_doc_free(dd_indexed_doc *d)
{
    free(d->id);
    free(d->minhash);
    memset(d, 0, sizeof *d);
}

bool dd_earlier_paragraph(const dd_earlier *e, sh_key key, uint32_t self, uint32_t *docs,
                          dd_indexed_place *at, dd_indexed_doc *of, char **err)
{
    dd_indexed_place places[DD_EARLIER_PLACES];
    *err = NULL;
    long n = e->paragraph(e->ctx, key, places, DD_EARLIER_PLACES, err);
    /* The documents holding it, each once (places come in document
     * order), and its first place in another document than self. */
    uint32_t count = 0, prev = UINT32_MAX;
    long first = -1;
    for (long k = 0; k < n; k++) {
        if (places[k].doc == self)
            continue;
        if (places[k].doc != prev) {
            count++;
            prev = places[k].doc;
        }
        if (first < 0)
            first = k;
    }
    if (first < 0 || !e->get_number(e->ctx, places[first].doc, of, err))
        return false;
    *docs = count;
    *at = places[first];
    return true;
}

void dd_earlier_search_free(dd_earlier_search *w)
{
    free(w->keys);
    free(w->cands);
    free(w->choice);
    memset(w, 0, sizeof *w);
}

int dd_earlier_copy_of(const dd_earlier *e, const dd_signatures *s, uint32_t doc, uint32_t self,
                       dd_indexed_overlap overlap, void *overlap_ctx, dd_earlier_search *w,
                       dd_earlier_copy *copy, char **err)
{
    const dd_near_params *p = &s->params;
    *err = NULL;
    if (!s->docs[doc].words)
        return 0;
    dd_grow(&w->keys, &w->keys_cap, p->bands + p->hamming + 2, sizeof *w->keys);
    size_t nkeys = dd_signature_keys(s, doc, w->keys);
    long found =
        e->band_members(e->ctx, w->keys, nkeys, DD_BUCKET_CAP, &w->cands, &w->cands_cap, err);
    if (found < 0)
        return -1;
    size_t n = found > 0 ? dd_candidates_from_members(w->cands, (size_t)found, &w->choice,
                                                      &w->choice_cap, &w->left_out)
                         : 0;
    uint32_t values[SH_MINHASH_MAX_PERM];
    const uint32_t *minhash = dd_signature_minhash(s, doc, values);
    for (size_t k = 0; k < n; k++) {
        if (w->cands[k] == self)
            continue;
        w->compared++;
        dd_indexed_doc d;
        if (!e->get_number(e->ctx, w->cands[k], &d, err)) {
            if (*err)
                return -1;
            continue;
        }
        dd_earlier_copy c = {.exact = sh_key_equal(d.key, s->docs[doc].key),
                             .jaccard = 1.0,
                             .containment = 1.0};
        double a = s->docs[doc].shingles, b = d.shingles;
        if (!c.exact) {
            c.jaccard = sh_minhash_jaccard(minhash, d.minhash, (unsigned)p->num_perm);
            c.containment = dd_containment_of(c.jaccard, a, b);
            c.estimated = true;
            dd_overlap o;
            if (overlap && overlap(overlap_ctx, &d, &o)) {
                dd_overlap_similarity(&o, &c.jaccard, &c.containment);
                a = (double)o.a;
                b = (double)o.b;
                c.estimated = false;
            }
        }
        /* the indexed document came first: it is the representative */
        if (c.exact || dd_near_joins(p, c.jaccard, c.containment, a, b)) {
            c.doc = d;
            *copy = c;
            return 1;
        }
        dd_indexed_doc_free(&d);
    }
    return 0;
}
