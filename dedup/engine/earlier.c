/*
 * earlier.c - what is looked up in an earlier corpus (see earlier.h).
 */
#include "engine/earlier.h"

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
