/*
 * near_units.c - near-repeated units inside one document, with exact sets.
 *
 * The units are taken in order. A table maps each 3-shingle seen so far to
 * the first DD_NEAR_UNIT_FANOUT units that hold it. For a unit, its shingles'
 * entries name the earlier units sharing them, and counting those names
 * gives the size of each intersection; the earliest unit that passes the
 * rule is the one it repeats. Only the first units of a shingle are listed:
 * what is sought is the earliest match, and a phrase found in thousands of
 * units must cost a few steps, not thousands. Work and memory are linear in
 * the document's shingles.
 */
#include "near_units.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

typedef struct slot {
    uint64_t hash;
    uint32_t n; /* units listed; 0: empty slot */
    uint32_t units[DD_NEAR_UNIT_FANOUT];
} slot;

typedef struct shingle_table {
    slot *v;
    size_t nslots, used;
} shingle_table;

static slot *table_find(shingle_table *t, uint64_t hash)
{
    size_t mask = t->nslots - 1, i = (size_t)(hash ^ (hash >> 31)) & mask;
    while (t->v[i].n && t->v[i].hash != hash)
        i = (i + 1) & mask;
    return &t->v[i];
}

static void table_add(shingle_table *t, uint64_t hash, uint32_t unit)
{
    if (2 * (t->used + 1) > t->nslots) {
        shingle_table big = {dd_calloc(t->nslots * 2, sizeof(slot)), t->nslots * 2, t->used};
        for (size_t i = 0; i < t->nslots; i++)
            if (t->v[i].n)
                *table_find(&big, t->v[i].hash) = t->v[i];
        free(t->v);
        *t = big;
    }
    slot *s = table_find(t, hash);
    if (!s->n) {
        s->hash = hash;
        t->used++;
    }
    if (s->n < DD_NEAR_UNIT_FANOUT && (s->n == 0 || s->units[s->n - 1] != unit))
        s->units[s->n++] = unit;
}

typedef struct keyed {
    sh_key key;
    uint32_t unit;
} keyed;

static int compare_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->key.hi != y->key.hi)
        return x->key.hi < y->key.hi ? -1 : 1;
    if (x->key.lo != y->key.lo)
        return x->key.lo < y->key.lo ? -1 : 1;
    return (x->unit > y->unit) - (x->unit < y->unit);
}

/* Marks the units whose exact key appears earlier in the document. */
static bool *exact_repeats(const dd_doc *doc)
{
    size_t n = doc->nunits;
    bool *twin = dd_calloc(n, sizeof *twin);
    keyed *k = dd_malloc(n * sizeof *k);
    for (size_t u = 0; u < n; u++)
        k[u] = (keyed){doc->units[u].key, (uint32_t)u};
    qsort(k, n, sizeof *k, compare_keyed);
    for (size_t i = 1; i < n; i++)
        if (sh_key_equal(k[i].key, k[i - 1].key))
            twin[k[i].unit] = true;
    free(k);
    return twin;
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

void dd_find_near_units(const dd_doc *doc, double threshold, unsigned long min_words,
                        uint64_t seed, dd_near_unit_list *out)
{
    size_t nunits = doc->nunits;
    if (nunits < 2)
        return;
    uint32_t *size = dd_calloc(nunits, sizeof *size);
    bool *twin = exact_repeats(doc);
    shingle_table table = {dd_calloc(1024, sizeof(slot)), 1024, 0};
    uint64_t *h = NULL;
    uint32_t *names = NULL; /* earlier units named by this unit's shingles */
    size_t h_cap = 0, names_cap = 0;
    for (size_t u = 0; u < nunits; u++) {
        const dd_unit *unit = &doc->units[u];
        if (unit->words < min_words || twin[u])
            continue;
        size_t n = sh_shingle_count(unit->words, DD_NEAR_UNIT_NGRAM);
        dd_grow(&h, &h_cap, n, sizeof *h);
        n = sh_shingles(&doc->words, unit->first_word, unit->words, DD_NEAR_UNIT_NGRAM, seed, h);
        n = sh_hashes_unique(h, n);
        size[u] = (uint32_t)n;

        size_t nnames = 0;
        dd_grow(&names, &names_cap, n * DD_NEAR_UNIT_FANOUT + 1, sizeof *names);
        for (size_t i = 0; i < n; i++) {
            const slot *s = table_find(&table, h[i]);
            for (uint32_t k = 0; k < s->n; k++)
                names[nnames++] = s->units[k];
        }
        if (nnames > 1)
            qsort(names, nnames, sizeof *names, compare_u32);
        /* Runs of one name: the shared shingles with that unit, earliest
         * unit first. */
        for (size_t i = 0; i < nnames;) {
            size_t j = i;
            while (j < nnames && names[j] == names[i])
                j++;
            double shared = (double)(j - i), a = (double)n, b = size[names[i]];
            double jaccard = shared / (a + b - shared), containment = shared / a;
            if (jaccard >= threshold ||
                (containment >= threshold && n >= DD_NEAR_UNIT_MIN_SHINGLES)) {
                dd_grow(&out->v, &out->cap, out->n + 1, sizeof *out->v);
                out->v[out->n++] = (dd_near_unit){0, u, names[i], jaccard, containment};
                break;
            }
            i = j;
        }
        for (size_t i = 0; i < n; i++)
            table_add(&table, h[i], (uint32_t)u);
    }
    free(table.v);
    free(names);
    free(h);
    free(size);
    free(twin);
}
