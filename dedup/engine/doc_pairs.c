/*
 * doc_pairs.c - near-duplicate documents by stages: pairs by sorted band
 * keys, verified, swept in rank order (doc_pairs.h).
 */
#include "engine/doc_pairs.h"
#include "sort_in_place.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

void dd_band_entries_free(dd_band_entries *e)
{
    free(e->v);
    memset(e, 0, sizeof *e);
}

void dd_rank_pairs_free(dd_rank_pairs *p)
{
    free(p->v);
    memset(p, 0, sizeof *p);
}

/* Sorting in place (sort_in_place.h): glibc's qsort would hold a copy of
 * the sweep's buffer of pairs (run/cluster_sweep.c: half its share of
 * --memory, 134 MB at 10 GB and --memory 1G), in no share. Both orders
 * here are total but for equal pairs, whose shares are summed. */
static inline bool entry_before(const dd_band_entry *x, const dd_band_entry *y)
{
    if (x->band != y->band)
        return x->band < y->band;
    if (x->key != y->key)
        return x->key < y->key;
    return x->rank < y->rank;
}

DEFINE_SORT_IN_PLACE(sort_entries, dd_band_entry, entry_before)

void dd_band_entries_sort(dd_band_entry *v, size_t n) { sort_entries(v, n); }

static void add_pair(dd_rank_pairs *p, uint32_t later, uint32_t earlier, uint32_t shares)
{
    dd_grow(&p->v, &p->cap, p->n + 1, sizeof *p->v);
    p->v[p->n++] = (dd_rank_pair){later, earlier, shares};
}

bool dd_bucket_walk(const dd_band_entry *v, size_t n, const dd_bucket_sink *sink)
{
    for (size_t start = 0, end; start < n; start = end) {
        end = start + 1;
        while (end < n && v[end].band == v[start].band && v[end].key == v[start].key)
            end++;
        bool hot = end - start >= DD_BUCKET_CAP;
        if (hot) {
            /* The sweep looks it up as the placer does; its likeliest
             * pairs, with the first ones listed, may be verified ahead. */
            sink->hot(sink->ctx, v + start, end - start);
            if (!sink->hot_pairs)
                continue;
        }
        size_t firsts = hot ? DD_BUCKET_CAP : end - start;
        for (size_t j = start + 1; j < end; j++)
            for (size_t i = start; i < j && i < start + firsts; i++)
                if (!sink->pair(sink->ctx, v[j].rank, v[i].rank, !hot))
                    return false;
    }
    return true;
}

/* The arrays dd_bucket_pairs fills. */
typedef struct pairs_and_hot {
    dd_rank_pairs *pairs;
    dd_band_entries *hot;
} pairs_and_hot;

static bool append_pair(void *ctx, uint32_t later, uint32_t earlier, uint32_t shares)
{
    add_pair(((pairs_and_hot *)ctx)->pairs, later, earlier, shares);
    return true;
}

static void append_hot(void *ctx, const dd_band_entry *v, size_t n)
{
    dd_band_entries *hot = ((pairs_and_hot *)ctx)->hot;
    dd_grow(&hot->v, &hot->cap, hot->n + n, sizeof *hot->v);
    memcpy(hot->v + hot->n, v, n * sizeof *v);
    hot->n += n;
}

void dd_bucket_pairs(const dd_band_entry *v, size_t n, dd_rank_pairs *pairs, dd_band_entries *hot)
{
    pairs_and_hot to = {pairs, hot};
    dd_bucket_walk(v, n, &(dd_bucket_sink){&to, append_pair, append_hot, true});
}

static inline bool pair_before(const dd_rank_pair *x, const dd_rank_pair *y)
{
    return x->later != y->later ? x->later < y->later : x->earlier < y->earlier;
}

DEFINE_SORT_IN_PLACE(sort_pairs, dd_rank_pair, pair_before)

void dd_rank_pairs_count(dd_rank_pairs *p)
{
    sort_pairs(p->v, p->n);
    size_t w = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (w > 0 && p->v[w - 1].later == p->v[i].later && p->v[w - 1].earlier == p->v[i].earlier)
            p->v[w - 1].shares += p->v[i].shares;
        else
            p->v[w++] = p->v[i];
    }
    p->n = w;
}

/* ------------------------------------------------ the three steps, in memory */

static inline bool ranked_key_before(const dd_ranked_key *a, const dd_ranked_key *b)
{
    if (a->key.hi != b->key.hi)
        return a->key.hi < b->key.hi;
    if (a->key.lo != b->key.lo)
        return a->key.lo < b->key.lo;
    return a->rank < b->rank;
}

DEFINE_SORT_IN_PLACE(sort_ranked_keys, dd_ranked_key, ranked_key_before)

void dd_ranked_keys_sort(dd_ranked_key *v, size_t n)
{
    sort_ranked_keys(v, n);
}

bool dd_ranked_key_twins(const dd_ranked_key *v, size_t n, bool *may_lead,
                         bool (*twin)(void *ctx, uint32_t rank, uint32_t first), void *ctx)
{
    for (size_t i = 0, first = 0; i < n; i++) {
        if (i == 0 || v[i].key.hi != v[i - 1].key.hi || v[i].key.lo != v[i - 1].key.lo) {
            first = i;
            if (may_lead)
                may_lead[v[i].rank] = true;
        } else if (!twin(ctx, v[i].rank, v[first].rank))
            return false;
    }
    return true;
}

/* dd_ranked_key_twins' twin for dd_doc_twins: into the array of twins. */
static bool twin_in_array(void *ctx, uint32_t rank, uint32_t first)
{
    ((uint32_t *)ctx)[rank] = first;
    return true;
}

uint32_t *dd_doc_twins(const dd_signatures *s, const uint32_t *order, size_t n, bool **may_lead)
{
    dd_ranked_key *keys = dd_malloc((n ? n : 1) * sizeof *keys);
    size_t k = 0;
    for (size_t r = 0; r < n; r++)
        if (s->docs[order[r]].words > 0)
            keys[k++] = (dd_ranked_key){s->docs[order[r]].key, (uint32_t)r};
    dd_ranked_keys_sort(keys, k);
    uint32_t *twin = dd_malloc((n ? n : 1) * sizeof *twin);
    bool *lead = may_lead ? dd_calloc(n ? n : 1, sizeof *lead) : NULL;
    for (size_t r = 0; r < n; r++)
        twin[r] = UINT32_MAX;
    dd_ranked_key_twins(keys, k, lead, twin_in_array, twin);
    free(keys);
    if (may_lead)
        *may_lead = lead;
    return twin;
}

/* The group step: the band entries of the documents that may lead, sorted,
 * to pairs and hot entries. */
static void group(const dd_signatures *s, const uint32_t *order, const bool *may_lead,
                  dd_rank_pairs *pairs, dd_band_entries *hot, dd_doc_pairs_stats *st)
{
    size_t n = s->n, nkeys = dd_near_keys_per_doc(&s->params);
    uint64_t *keys = dd_malloc(nkeys * sizeof *keys);
    dd_band_entries all = {0};
    for (size_t r = 0; r < n; r++) {
        if (!may_lead[r])
            continue;
        dd_signature_keys(s, order[r], keys);
        dd_grow(&all.v, &all.cap, all.n + nkeys, sizeof *all.v);
        for (size_t b = 0; b < nkeys; b++)
            all.v[all.n++] = (dd_band_entry){keys[b], (uint32_t)b, (uint32_t)r};
    }
    free(keys);
    dd_band_entries_sort(all.v, all.n);
    dd_bucket_pairs(all.v, all.n, pairs, hot);
    st->entries = all.n;
    st->hot_entries = hot->n;
    for (size_t i = 0; i < hot->n; i++)
        st->hot_buckets +=
            i == 0 || hot->v[i].band != hot->v[i - 1].band || hot->v[i].key != hot->v[i - 1].key;
    st->bucket_pairs = pairs->n;
    dd_band_entries_free(&all);
}

/* The pairs of the links of documents that may lead with earlier ones that
 * may lead (shares 0): verified ahead, as the placer verifies a linked
 * representative. */
static void link_pairs(const dd_signatures *s, const uint32_t *order, const uint32_t *rank_of,
                       const bool *may_lead, dd_rank_pairs *pairs)
{
    for (size_t r = 0; s->links && r < s->n; r++) {
        uint32_t d = order[r];
        if (!may_lead[r])
            continue;
        for (size_t l = s->link_start[d]; l < s->link_start[d + 1]; l++) {
            uint32_t e = rank_of[s->links[l]];
            if (e < r && may_lead[e])
                add_pair(pairs, (uint32_t)r, e, 0);
        }
    }
}

/* The caller's ways to the exact sets, counted: how many pairs the sweep
 * decides on them. */
typedef struct counted_sets {
    const dd_signatures *s;
    uint64_t overlaps, loads;
} counted_sets;

static bool counted_overlap(void *ctx, uint32_t d, uint32_t r, dd_overlap *o)
{
    counted_sets *c = ctx;
    c->overlaps++;
    return c->s->overlap(c->s->overlap_ctx, d, r, o);
}

static bool counted_load(void *ctx, uint32_t doc, uint64_t **set, size_t *cap, size_t *n)
{
    counted_sets *c = ctx;
    c->loads++;
    return c->s->load_set(c->s->load_ctx, doc, set, cap, n);
}

void dd_cluster_by_pairs(const dd_signatures *s, dd_clusters *out, dd_doc_pairs_stats *stats)
{
    dd_doc_pairs_stats own = {0}, *st = stats ? stats : &own;
    memset(st, 0, sizeof *st);
    size_t n = s->n, nkeys = dd_near_keys_per_doc(&s->params);
    uint32_t *order = dd_malloc((n ? n : 1) * sizeof *order);
    uint32_t *rank_of = dd_malloc((n ? n : 1) * sizeof *rank_of);
    dd_rank_documents(s, order);
    for (size_t r = 0; r < n; r++)
        rank_of[order[r]] = (uint32_t)r;
    bool *may_lead;
    uint32_t *twin = dd_doc_twins(s, order, n, &may_lead);

    /* group */
    dd_rank_pairs pairs = {0};
    dd_band_entries hot = {0};
    group(s, order, may_lead, &pairs, &hot, st);
    link_pairs(s, order, rank_of, may_lead, &pairs);
    dd_rank_pairs_count(&pairs);

    /* verify: every pair, on the signatures, as the placer would if the
     * earlier one leads */
    dd_given_pair *given = dd_malloc((pairs.n ? pairs.n : 1) * sizeof *given);
    for (size_t i = 0; i < pairs.n; i++) {
        const dd_rank_pair *q = &pairs.v[i];
        dd_given_pair *g = &given[i];
        g->earlier = q->earlier;
        g->shares = q->shares;
        dd_near_prejudge(s, order[q->later], order[q->earlier], g);
        st->joined += g->verdict == DD_VERDICT_JOINS;
        st->may_join += g->verdict == DD_VERDICT_MAY_JOIN;
    }
    st->pairs = pairs.n;

    /* cluster: the hot bands of each document, by rank */
    bool *hot_bands = dd_calloc(nkeys, sizeof *hot_bands);
    uint32_t *hot_rank = dd_malloc((hot.n ? hot.n : 1) * sizeof *hot_rank);
    uint32_t *hot_band = dd_malloc((hot.n ? hot.n : 1) * sizeof *hot_band);
    {
        /* by rank: a counting sort of the hot entries */
        size_t *start = dd_calloc(n + 1, sizeof *start);
        for (size_t i = 0; i < hot.n; i++)
            start[hot.v[i].rank + 1]++;
        for (size_t r = 0; r < n; r++)
            start[r + 1] += start[r];
        for (size_t i = 0; i < hot.n; i++) {
            size_t at = start[hot.v[i].rank]++;
            hot_rank[at] = hot.v[i].rank;
            hot_band[at] = hot.v[i].band;
        }
        free(start);
    }
    /* the sweep, its reading of exact sets counted */
    counted_sets counted = {s, 0, 0};
    dd_signatures view = *s;
    if (s->overlap) {
        view.overlap = counted_overlap;
        view.overlap_ctx = &counted;
    }
    if (s->load_set) {
        view.load_set = counted_load;
        view.load_ctx = &counted;
    }
    dd_placer *p = dd_placer_new(&view);
    dd_placer_reserve_given(p, n);
    dd_member m;
    size_t at_pair = 0, at_hot = 0;
    for (size_t r = 0; r < n; r++) {
        size_t from = at_pair;
        while (at_pair < pairs.n && pairs.v[at_pair].later == r)
            at_pair++;
        for (; at_hot < hot.n && hot_rank[at_hot] == r; at_hot++)
            hot_bands[hot_band[at_hot]] = true;
        dd_placer_place_given(p, order[r], twin[r], hot_bands, given + from, at_pair - from, &m);
        memset(hot_bands, 0, nkeys * sizeof *hot_bands);
    }
    st->asked = dd_placer_counts_of(p).asked;
    st->exact = counted.overlaps + (counted.loads + 1) / 2;
    st->sweep_bytes = dd_placer_bytes(p);
    dd_placer_finish(p, n, out);
    dd_placer_free(p);

    free(hot_bands);
    free(hot_rank);
    free(hot_band);
    free(given);
    dd_rank_pairs_free(&pairs);
    dd_band_entries_free(&hot);
    free(may_lead);
    free(twin);
    free(rank_of);
    free(order);
}
