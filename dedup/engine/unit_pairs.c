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

static bool entry_before(const dd_unit_entry *x, const dd_unit_entry *y)
{
    return x->key < y->key || (x->key == y->key && x->id < y->id);
}

/* Entries up to this many are sorted by insertion; a bucket of more (many
 * entries of one key: a paragraph printed everywhere) with qsort. */
#define SMALL_SORT 48

static void sort_few(dd_unit_entry *v, size_t n)
{
    if (n > SMALL_SORT) {
        qsort(v, n, sizeof *v, by_key_then_id);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        dd_unit_entry x = v[i];
        size_t j = i;
        for (; j > 0 && entry_before(&x, &v[j - 1]); j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

/* The most bits of the keys a counting pass of dd_unit_entries_sort looks
 * at: fewer for fewer entries, about 8 entries a bucket. */
#define BUCKET_BITS 16

void dd_unit_entries_sort_into(const dd_unit_entry *const *runs, const size_t *nrun, size_t nruns,
                               dd_unit_entry *out)
{
    /* The keys are hashes: past the top bits they all share (those of a
     * part of a band's keys chose the part), uniform. So one counting pass
     * on the next bits (up to BUCKET_BITS) puts each entry in its bucket of
     * out, in key order between buckets, and each bucket, a few entries, is
     * sorted alone. The runs are read twice (to count, to place) and never
     * copied whole: out is the only memory the sort writes. */
    size_t n = 0;
    const dd_unit_entry *first = NULL;
    uint64_t differ = 0;
    for (size_t r = 0; r < nruns; r++) {
        if (nrun[r] && !first)
            first = runs[r];
        for (size_t i = 0; i < nrun[r]; i++)
            differ |= runs[r][i].key ^ first->key;
        n += nrun[r];
    }
    if (n <= SMALL_SORT || !differ) {
        size_t at = 0;
        for (size_t r = 0; r < nruns; r++) {
            if (nrun[r])
                memcpy(out + at, runs[r], nrun[r] * sizeof *out);
            at += nrun[r];
        }
        sort_few(out, n);
        return;
    }
    unsigned bits = 4;
    while (bits < BUCKET_BITS && ((size_t)8 << bits) < n)
        bits++;
    unsigned top = 63 - (unsigned)__builtin_clzll(differ); /* the highest bit that differs */
    unsigned shift = top >= bits - 1 ? top - (bits - 1) : 0;
    const size_t buckets = (size_t)1 << bits, mask = buckets - 1;
    size_t *start = dd_calloc(buckets + 1, sizeof *start);
    for (size_t r = 0; r < nruns; r++)
        for (size_t i = 0; i < nrun[r]; i++)
            start[((runs[r][i].key >> shift) & mask) + 1]++;
    for (size_t b = 1; b <= buckets; b++)
        start[b] += start[b - 1];
    size_t *next = dd_malloc(buckets * sizeof *next);
    memcpy(next, start, buckets * sizeof *next);
    for (size_t r = 0; r < nruns; r++)
        for (size_t i = 0; i < nrun[r]; i++)
            out[next[(runs[r][i].key >> shift) & mask]++] = runs[r][i];
    for (size_t b = 0; b < buckets; b++)
        sort_few(out + start[b], start[b + 1] - start[b]);
    free(next);
    free(start);
}

void dd_unit_entries_sort(dd_unit_entry *v, size_t n)
{
    if (n <= SMALL_SORT) {
        sort_few(v, n);
        return;
    }
    dd_unit_entry *sorted = dd_malloc(n * sizeof *sorted);
    const dd_unit_entry *runs[1] = {v};
    dd_unit_entries_sort_into(runs, &n, 1, sorted);
    memcpy(v, sorted, n * sizeof *v);
    free(sorted);
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
            for (size_t l = 0; l < nlisted && dd_unit_id_doc(listed[l]->id) < dd_unit_id_doc(x->id);
                 l++)
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

void dd_unit_pairs_partition(const dd_unit_pair *v, size_t n, size_t ranges, dd_unit_pair *out,
                             size_t *start)
{
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < n; i++) {
        lo = v[i].later < lo ? v[i].later : lo;
        hi = v[i].later > hi ? v[i].later : hi;
    }
    /* Range r: later units lo + r * width up to before lo + (r + 1) * width. */
    uint64_t width = n ? (hi - lo) / ranges + 1 : 1;
    memset(start, 0, (ranges + 1) * sizeof *start);
    for (size_t i = 0; i < n; i++)
        start[(v[i].later - lo) / width + 1]++;
    for (size_t r = 1; r <= ranges; r++)
        start[r] += start[r - 1];
    size_t *next = dd_malloc(ranges * sizeof *next);
    memcpy(next, start, ranges * sizeof *next);
    for (size_t i = 0; i < n; i++)
        out[next[(v[i].later - lo) / width]++] = v[i];
    free(next);
}
