/*
 * unit_pairs.c - the candidate pairs of units across documents, by band
 * key (unit_pairs.h).
 */
#include "engine/unit_pairs.h"

#include "engine/near_units.h"
#include "sort_in_place.h"
#include "util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool entry_before(const dd_unit_entry *x, const dd_unit_entry *y)
{
    return x->key < y->key || (x->key == y->key && x->id < y->id);
}

/* A bucket of the counting passes below, a few entries, or many of one
 * key (a paragraph printed everywhere): sorted in place, with no call
 * through a pointer for each comparison and no copy of the bucket. The
 * order is total (a unit has one entry a band), so the same as any sort. */
DEFINE_SORT_IN_PLACE(sort_bucket, dd_unit_entry, entry_before)

/* The bits of the keys one counting pass looks at, at most: 2^12 buckets,
 * whose counts and the lines being written stay in the caches. More
 * entries than about 8 a bucket take two passes: the first on the top
 * bits cuts them into slices, each then sorted alone by a second pass on
 * the next bits, within the caches (at 10 GB a band's 21.6 M entries:
 * one pass of 2^16 buckets left about 330 entries a bucket to sort, 86 ns
 * an entry; two passes, about 8 a bucket). */
#define PASS_BITS 12

/* Entries of fewer than this many are sorted without counting. */
#define SMALL_SORT 48

/* The counting pass: puts the n entries of runs[0..nruns) into out[0..n)
 * by bucket ((key >> shift) & (2^bits - 1)), in bucket order, keeping
 * their order within a bucket; end[b] is then where bucket b ends (it
 * starts where b - 1 ends, or at 0). */
static void count_into(const dd_unit_entry *const *runs, const size_t *nrun, size_t nruns,
                       unsigned shift, unsigned bits, dd_unit_entry *out, size_t *end)
{
    const size_t buckets = (size_t)1 << bits, mask = buckets - 1;
    memset(end, 0, buckets * sizeof *end);
    for (size_t r = 0; r < nruns; r++)
        for (size_t i = 0; i < nrun[r]; i++)
            end[(runs[r][i].key >> shift) & mask]++;
    size_t at = 0;
    for (size_t b = 0; b < buckets; b++) {
        size_t count = end[b];
        end[b] = at; /* where the next entry of b goes, until the end of the pass */
        at += count;
    }
    for (size_t r = 0; r < nruns; r++)
        for (size_t i = 0; i < nrun[r]; i++)
            out[end[(runs[r][i].key >> shift) & mask]++] = runs[r][i];
}

/* Sorts each bucket of v's counting pass (end[0..buckets)) alone. */
static void sort_buckets(dd_unit_entry *v, const size_t *end, size_t buckets)
{
    for (size_t b = 0, from = 0; b < buckets; from = end[b], b++)
        sort_bucket(v + from, end[b] - from);
}

/* The bits a pass or two look at for n entries: about 8 entries a bucket. */
static unsigned bits_for(size_t n)
{
    unsigned bits = 4;
    while (bits < 2 * PASS_BITS && ((size_t)8 << bits) < n)
        bits++;
    return bits;
}

void dd_unit_entries_sort_into(const dd_unit_entry *const *runs, const size_t *nrun, size_t nruns,
                               dd_unit_entry *out)
{
    /* The keys are hashes: past the top bits they all share (those of a
     * part of a band's keys chose the part), uniform. So a counting pass
     * on the next bits puts each entry in its bucket of out, in key order
     * between buckets, and each bucket, a few entries, is sorted alone.
     * The runs are read twice (to count, to place) and never copied whole:
     * out is the only memory of their size the sort writes (a slice of a
     * second pass is the other, 3 MB at most). */
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
        sort_bucket(out, n);
        return;
    }
    unsigned bits = bits_for(n);
    unsigned top = 63 - (unsigned)__builtin_clzll(differ); /* the highest bit that differs */
    unsigned shift = top >= bits - 1 ? top - (bits - 1) : 0;
    size_t *end = dd_malloc(((size_t)1 << PASS_BITS) * sizeof *end);
    if (bits <= PASS_BITS) {
        count_into(runs, nrun, nruns, shift, bits, out, end);
        sort_buckets(out, end, (size_t)1 << bits);
        free(end);
        return;
    }
    /* Two passes: slices by the top bits of the bits, into out; then each
     * slice into a buffer by the next PASS_BITS, copied back, its buckets
     * sorted. The buffer is for a slice of at most 4 times the average
     * (8 entries a bucket of 2^PASS_BITS, 3 MB); a larger one (many
     * entries of a few keys) is sorted where it is. It is as large as the
     * largest of those slices, not 4 times the average: on the news a
     * band's 72,000 entries made 4 slices of about 18,000, a buffer of
     * 430 KB the heap keeps for the next band where one of 1.7 MB was a
     * mapping of its own (util.h: DD_MALLOC_OWN_MAPPING), faulted again
     * for each band (740 page faults of the run at -j 1). */
    unsigned slice_bits = bits - PASS_BITS;
    size_t slices = (size_t)1 << slice_bits;
    size_t *slice_end = dd_malloc(slices * sizeof *slice_end);
    count_into(runs, nrun, nruns, shift + PASS_BITS, slice_bits, out, slice_end);
    size_t most = 4 * (n / slices + 1), largest = 0;
    for (size_t s = 0, from = 0; s < slices; from = slice_end[s], s++)
        if (slice_end[s] - from <= most && slice_end[s] - from > largest)
            largest = slice_end[s] - from;
    dd_unit_entry *buf = dd_malloc(largest * sizeof *buf);
    for (size_t s = 0, from = 0; s < slices; from = slice_end[s], s++) {
        size_t m = slice_end[s] - from;
        if (m <= SMALL_SORT || m > most) {
            sort_bucket(out + from, m);
            continue;
        }
        const dd_unit_entry *slice = out + from;
        count_into(&slice, &m, 1, shift, PASS_BITS, buf, end);
        memcpy(out + from, buf, m * sizeof *buf);
        sort_buckets(out + from, end, (size_t)1 << PASS_BITS);
    }
    free(buf);
    free(slice_end);
    free(end);
}

void dd_unit_entries_sort(dd_unit_entry *v, size_t n)
{
    if (n <= SMALL_SORT) {
        sort_bucket(v, n);
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

static bool pair_before(const dd_unit_pair *x, const dd_unit_pair *y)
{
    return x->later < y->later || (x->later == y->later && x->earlier < y->earlier);
}

/* In place: the pairs are a share of --memory (glibc's qsort would copy
 * them whole first); a repeat is the same bytes, so any sort gives the
 * same array. */
DEFINE_SORT_IN_PLACE(sort_pairs, dd_unit_pair, pair_before)

size_t dd_unit_pairs_sort(dd_unit_pair *v, size_t n)
{
    if (n < 2)
        return n;
    sort_pairs(v, n);
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
