/*
 * unit_pairs.c - the candidate pairs of units across documents, by band
 * key (unit_pairs.h).
 */
#include "engine/unit_pairs.h"

#include "engine/near_units.h"
#include "util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int by_key_then_id(const void *a, const void *b)
{
    const dd_unit_entry *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

void dd_unit_entries_sort(dd_unit_entry *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof *v, by_key_then_id);
}

/* A unit of a key's run, by set then id, to find the first of each set. */
typedef struct by_set {
    uint64_t set, id;
    size_t at; /* in the run */
} by_set;

static int by_set_then_id(const void *a, const void *b)
{
    const by_set *x = a, *y = b;
    if (x->set != y->set)
        return x->set < y->set ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Past this many units under a key, the first of each set is found by
 * sorting them by set; below it, by comparing with the ones before. */
#define SMALL_RUN 16

/* first[k]: is unit k of the run v[0..n) (by id) the first with its set? */
static void mark_first_of_set(const dd_unit_entry *v, size_t n, bool *first, by_set **tmp,
                              size_t *tmp_cap)
{
    if (n <= SMALL_RUN) {
        for (size_t k = 0; k < n; k++) {
            first[k] = true;
            for (size_t j = 0; j < k && first[k]; j++)
                first[k] = v[j].set != v[k].set;
        }
        return;
    }
    dd_grow(tmp, tmp_cap, n, sizeof **tmp);
    for (size_t k = 0; k < n; k++)
        (*tmp)[k] = (by_set){v[k].set, v[k].id, k};
    qsort(*tmp, n, sizeof **tmp, by_set_then_id);
    for (size_t k = 0; k < n; k++)
        first[(*tmp)[k].at] = k == 0 || (*tmp)[k].set != (*tmp)[k - 1].set;
}

void dd_unit_entries_pairs(const dd_unit_entry *v, size_t n,
                           void (*emit)(void *ctx, dd_unit_pair pair), void *ctx)
{
    bool *first = NULL;
    size_t first_cap = 0, tmp_cap = 0;
    by_set *tmp = NULL;
    const dd_unit_entry *listed[DD_NEAR_UNIT_MAX_BUCKET];
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && v[j].key == v[i].key;)
            j++;
        size_t run = j - i;
        if (run < 2)
            continue; /* a key of one unit pairs it with nothing */
        dd_grow(&first, &first_cap, run, sizeof *first);
        mark_first_of_set(v + i, run, first, &tmp, &tmp_cap);
        /* The key lists its first indexed units; each unit is compared
         * with those of them of earlier documents (they come before it). */
        size_t nlisted = 0;
        for (size_t k = 0; k < run && nlisted < DD_NEAR_UNIT_MAX_BUCKET; k++)
            if (first[k])
                listed[nlisted++] = &v[i + k];
        for (size_t k = 0; k < run; k++) {
            const dd_unit_entry *x = &v[i + k];
            for (size_t l = 0; l < nlisted && listed[l]->doc < x->doc; l++)
                emit(ctx, (dd_unit_pair){x->id, listed[l]->id});
        }
    }
    free(first);
    free(tmp);
}

static int by_later_then_earlier(const void *a, const void *b)
{
    const dd_unit_pair *x = a, *y = b;
    if (x->later != y->later)
        return x->later < y->later ? -1 : 1;
    return (x->earlier > y->earlier) - (x->earlier < y->earlier);
}

size_t dd_unit_pairs_sort(dd_unit_pair *v, size_t n)
{
    if (n < 2)
        return n;
    qsort(v, n, sizeof *v, by_later_then_earlier);
    size_t w = 1;
    for (size_t i = 1; i < n; i++)
        if (v[i].later != v[w - 1].later || v[i].earlier != v[w - 1].earlier)
            v[w++] = v[i];
    return w;
}
