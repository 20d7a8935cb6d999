/*
 * near_across.c - near-repeats of paragraphs across documents, a part at a
 * time (near_across.h).
 */
#include "run/near_across.h"

#include "run/run.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A part is made of at most this many scratch files at once (each has a
 * buffer of DD_SPOOL_BLOCK bytes): a budget that would need more parts
 * gets bigger parts. */
#define MAX_PARTS 64

/* Pairs verified by one item of the pool's loop, about (a unit's pairs
 * are never split). */
#define PAIRS_PER_ITEM 4096

/* Sets of earlier units kept by each thread that verifies, by id modulo
 * this many slots: a paragraph that keeps coming back is read once. */
#define EARLIER_SETS_SLOTS 4096

void dd_near_across_init(dd_near_across *a, size_t share, const char *dir)
{
    memset(a, 0, sizeof *a);
    a->dir = dir;
    a->work_bytes = share;
    /* While documents are added: a quarter of the share for the sets (read
     * back a unit at a time, through the page cache), half for the entries
     * of every band (sorted in memory when they fit). */
    size_t sets = share / 4 ? share / 4 : 1;
    size_t per_band = share / 2 / DD_NEAR_UNIT_BANDS ? share / 2 / DD_NEAR_UNIT_BANDS : 1;
    dd_scratch_array_init(&a->sets, sizeof(uint64_t), sets, dir, "the sets of paragraphs");
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++)
        dd_scratch_array_init(&a->entries[b], sizeof(dd_unit_entry), per_band, dir,
                              "the band keys of paragraphs");
}

void dd_near_across_free(dd_near_across *a)
{
    dd_scratch_array_free(&a->sets);
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++)
        dd_scratch_array_free(&a->entries[b]);
}

size_t dd_near_across_memory_bytes(const dd_near_across *a)
{
    size_t bytes = dd_scratch_array_memory_bytes(&a->sets);
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++)
        bytes += dd_scratch_array_memory_bytes(&a->entries[b]);
    return bytes;
}

uint64_t dd_near_across_scratch_bytes(const dd_near_across *a)
{
    uint64_t bytes = dd_scratch_array_scratch_bytes(&a->sets);
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++)
        bytes += dd_scratch_array_scratch_bytes(&a->entries[b]);
    return bytes;
}

bool dd_near_across_add(dd_near_across *a, uint32_t doc, const dd_unit *units, size_t nunits,
                        const dd_unit_sets *sets, const uint64_t *band_keys, char **err)
{
    for (size_t u = 0; u < nunits; u++) {
        if (units[u].words < DD_NEAR_UNIT_ACROSS_MIN_WORDS)
            continue;
        const uint64_t *set = sets->hashes + sets->start[u];
        size_t n = sets->start[u + 1] - sets->start[u];
        uint64_t id = a->sets.n;
        uint64_t head[2] = {(uint64_t)doc << 32 | (uint32_t)u, n};
        if (!dd_scratch_array_append(&a->sets, head, 2, err) ||
            !dd_scratch_array_append(&a->sets, set, n, err))
            return false;
        uint64_t set_key = dd_unit_set_key(set, n).lo;
        for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++) {
            dd_unit_entry e = {band_keys[u * DD_NEAR_UNIT_BANDS + b], set_key, id, doc, 0};
            if (!dd_scratch_array_append(&a->entries[b], &e, 1, err))
                return false;
        }
        a->units++;
    }
    return true;
}

/* ------------------------------------------------------------- parts */

/* How many parts the n elements of `size` bytes are cut into so that one
 * fits in `bytes` (at most MAX_PARTS). */
static size_t parts_for(size_t n, size_t size, size_t bytes)
{
    size_t parts = 1;
    while (parts < MAX_PARTS && (double)n * (double)size / (double)parts > (double)bytes)
        parts *= 2;
    return parts;
}

/* Moves the elements of from into parts[0..nparts) (each made here, in
 * scratch files), element e to parts[part_of(e)], in order; from is freed.
 * False, with *err set, when a scratch file cannot be written. */
static bool split(dd_scratch_array *from, dd_scratch_array *parts, size_t nparts,
                  size_t (*part_of)(const void *e, const void *ctx), const void *ctx,
                  const char *dir, char **err)
{
    for (size_t p = 0; p < nparts; p++)
        dd_scratch_array_init(&parts[p], from->size, 1, dir, from->what); /* at once on disk */
    const size_t chunk = 65536;
    void *buf = NULL;
    size_t cap = 0;
    bool ok = true;
    for (size_t first = 0; ok && first < from->n; first += chunk) {
        size_t n = from->n - first < chunk ? from->n - first : chunk;
        const char *v = dd_scratch_array_span(from, first, n, &buf, &cap);
        for (size_t i = 0; ok && i < n; i++) {
            const void *e = v + i * from->size;
            ok = dd_scratch_array_append(&parts[part_of(e, ctx)], e, 1, err);
        }
    }
    free(buf);
    dd_scratch_array_free(from);
    return ok;
}

/* The elements of a, in a buffer of the caller's (*buf, *cap as dd_grow
 * has them) unless they are in memory: then a's own (which it keeps). */
static void *all_of(dd_scratch_array *a, void *buf, size_t *cap)
{
    if (!a->spool)
        return a->v;
    return (void *)dd_scratch_array_span(a, 0, a->n, buf, cap);
}

/* ----------------------------------------------------- step 2: pairs */

typedef struct pair_sink {
    dd_scratch_array *pairs;
    char **err;
    bool failed;
} pair_sink;

static void take_pair(void *ctx, dd_unit_pair pair)
{
    pair_sink *s = ctx;
    if (!s->failed && !dd_scratch_array_append(s->pairs, &pair, 1, s->err))
        s->failed = true;
}

static size_t part_of_key(const void *e, const void *ctx)
{
    size_t bits = *(const size_t *)ctx;
    return bits ? (size_t)(((const dd_unit_entry *)e)->key >> (64 - bits)) : 0;
}

/* Band b's candidate pairs, to sink; its entries are freed. */
static bool band_pairs(dd_near_across *a, size_t b, pair_sink *sink, char **err)
{
    dd_scratch_array *entries = &a->entries[b];
    /* A part is held twice while it is sorted (dd_unit_entries_sort). */
    size_t nparts = entries->spool ? parts_for(entries->n, 2 * entries->size, a->work_bytes) : 1;
    size_t bits = 0;
    while (((size_t)1 << bits) < nparts)
        bits++;
    dd_scratch_array parts[MAX_PARTS];
    if (nparts == 1)
        parts[0] = *entries; /* moved */
    else if (!split(entries, parts, nparts, part_of_key, &bits, a->dir, err)) {
        for (size_t p = 0; p < nparts; p++)
            dd_scratch_array_free(&parts[p]);
        return false;
    }
    memset(entries, 0, sizeof *entries);
    a->parts[0] += nparts;
    dd_unit_entry *buf = NULL;
    size_t cap = 0;
    for (size_t p = 0; p < nparts; p++) {
        dd_unit_entry *v = all_of(&parts[p], &buf, &cap);
        size_t held = 2 * parts[p].n * sizeof *v + dd_scratch_array_memory_bytes(sink->pairs);
        if (held > a->peak_bytes)
            a->peak_bytes = held;
        dd_unit_entries_sort(v, parts[p].n);
        dd_unit_entries_pairs(v, parts[p].n, take_pair, sink);
        dd_scratch_array_free(&parts[p]);
        if (!buf || cap > a->work_bytes / sizeof *buf) { /* not kept past its part */
            free(buf);
            buf = NULL;
            cap = 0;
        }
    }
    free(buf);
    return !sink->failed;
}

/* --------------------------------------------------- step 3: verify */

/* What a thread that verifies has. */
typedef struct checker {
    const dd_unit_source *src;
    void *reader;       /* src's, of this thread */
    dd_set_table table; /* the later unit's set */
    uint64_t *later;    /* its set, read */
    size_t later_cap;
    dd_set_cache earlier; /* earlier units (head and set), by id */
} checker;

static void *checker_new(void *ctx)
{
    const dd_unit_source *src = ctx;
    checker *k = dd_calloc(1, sizeof *k);
    k->src = src;
    k->reader = src->reader_new ? src->reader_new(src->ctx) : NULL;
    dd_set_cache_init(&k->earlier, EARLIER_SETS_SLOTS, 0);
    return k;
}

static void checker_free(void *ctx, void *state)
{
    (void)ctx;
    checker *k = state;
    if (!k)
        return;
    if (k->src->reader_free)
        k->src->reader_free(k->reader);
    dd_set_table_free(&k->table);
    free(k->later);
    dd_set_cache_free(&k->earlier);
    free(k);
}

/* The unit at id, as sets keeps it: its head (doc << 32 | unit, the set's
 * size n), then its n hashes; in memory, or read into *buf (*cap as
 * dd_grow has it). */
static const uint64_t *unit_at(const void *ctx, void *reader, uint64_t id, uint64_t **buf,
                               size_t *cap, char **why)
{
    (void)reader;
    (void)why;
    const dd_scratch_array *sets = ctx;
    if (!sets->spool)
        return (const uint64_t *)sets->v + id;
    uint64_t head[2];
    dd_grow(buf, cap, 2, sizeof **buf);
    memcpy(head, dd_scratch_array_span(sets, id, 2, buf, cap), sizeof head);
    return dd_scratch_array_span(sets, id, 2 + head[1], buf, cap);
}

struct dd_unit_verifier {
    dd_unit_source src;
    dd_pool *pool;
    double threshold;
};

typedef struct verify_job {
    const dd_unit_source *src;
    double threshold;
    const dd_unit_pair *pairs;
    size_t *item_start;       /* item i verifies pairs [item_start[i], item_start[i + 1]) */
    dd_near_unit_list *found; /* per item */
    char **why;               /* per item: why a unit could not be read (NULL: it could) */
} verify_job;

/* dd_pool work: the pairs of item i, in order. */
static void verify_item(void *ctx, void *state, size_t i)
{
    verify_job *job = ctx;
    checker *k = state;
    const dd_unit_source *src = job->src;
    dd_near_unit_list *out = &job->found[i];
    out->n = 0;
    uint64_t later_id = UINT64_MAX;
    uint32_t doc = 0;
    size_t unit = 0, n = 0, found = 0;
    for (size_t p = job->item_start[i]; p < job->item_start[i + 1]; p++) {
        const dd_unit_pair *pair = &job->pairs[p];
        if (pair->later != later_id) {
            later_id = pair->later;
            const uint64_t *later =
                src->unit(src->ctx, k->reader, later_id, &k->later, &k->later_cap, &job->why[i]);
            if (!later)
                return;
            doc = (uint32_t)(later[0] >> 32);
            unit = (uint32_t)later[0];
            n = later[1];
            dd_set_table_fill(&k->table, later + 2, n);
            found = 0;
        }
        /* The earlier unit, head and set, kept for the next time. */
        const dd_cached_set *c = dd_set_cache_find(&k->earlier, pair->earlier, 0);
        if (!c) {
            dd_cached_set *slot = dd_set_cache_claim(&k->earlier, pair->earlier, 0);
            const uint64_t *earlier = src->unit(src->ctx, k->reader, pair->earlier, &slot->set,
                                                &slot->cap, &job->why[i]);
            if (!earlier)
                return;
            slot->n = 2 + earlier[1];
            if (earlier != slot->set) { /* in memory: copied */
                dd_grow(&slot->set, &slot->cap, slot->n, sizeof *slot->set);
                memcpy(slot->set, earlier, slot->n * sizeof *slot->set);
            }
            dd_set_cache_keep(&k->earlier, slot);
            c = slot;
        }
        uint32_t of_doc = (uint32_t)(c->set[0] >> 32);
        size_t of = (uint32_t)c->set[0], m = c->set[1];
        size_t shared = dd_set_table_count(&k->table, c->set + 2, m);
        double jaccard, containment;
        if (dd_unit_match(n, m, shared, job->threshold, &jaccard, &containment)) {
            dd_grow(&out->v, &out->cap, out->n + 1, sizeof *out->v);
            out->v[out->n++] =
                (dd_near_unit){doc, of_doc, unit, of, jaccard, containment, found++ > 0};
        }
    }
}

dd_unit_verifier *dd_unit_verifier_new(const dd_unit_source *src, unsigned threads,
                                       double threshold)
{
    dd_unit_verifier *v = dd_calloc(1, sizeof *v);
    v->src = *src;
    v->threshold = threshold;
    v->pool = dd_pool_new("paragraphs across", threads, &v->src, checker_new, checker_free);
    return v;
}

void dd_unit_verifier_free(dd_unit_verifier *v)
{
    if (!v)
        return;
    dd_pool_free(v->pool);
    free(v);
}

bool dd_unit_verifier_run(dd_unit_verifier *verifier, const dd_unit_pair *v, size_t n,
                          bool (*take)(void *ctx, const dd_near_unit *v, size_t n), void *ctx,
                          char **err)
{
    *err = NULL;
    size_t *item_start = dd_malloc((n / PAIRS_PER_ITEM + 2) * sizeof *item_start);
    size_t items = 0;
    item_start[0] = 0;
    for (size_t p = 0; p < n;) {
        size_t end = p + PAIRS_PER_ITEM < n ? p + PAIRS_PER_ITEM : n;
        while (end < n && v[end].later == v[end - 1].later)
            end++;
        item_start[++items] = end;
        p = end;
        if (items + 1 >= n / PAIRS_PER_ITEM + 2)
            item_start = dd_realloc(item_start, (items + 2) * sizeof *item_start);
    }
    verify_job job = {&verifier->src,
                      verifier->threshold,
                      v,
                      item_start,
                      dd_calloc(items ? items : 1, sizeof *job.found),
                      dd_calloc(items ? items : 1, sizeof *job.why)};
    dd_pool_for(verifier->pool, items, &job, verify_item);
    bool ok = true;
    for (size_t i = 0; i < items; i++) {
        if (ok && job.why[i]) {
            *err = job.why[i];
            job.why[i] = NULL;
            ok = false;
        }
        if (ok && job.found[i].n)
            ok = take(ctx, job.found[i].v, job.found[i].n);
        free(job.found[i].v);
        free(job.why[i]);
    }
    free(job.found);
    free(job.why);
    free(item_start);
    return ok;
}

static size_t part_of_later(const void *e, const void *ctx)
{
    const uint64_t *range = ctx; /* ids per part, parts */
    size_t p = (size_t)(((const dd_unit_pair *)e)->later / range[0]);
    return p < range[1] ? p : range[1] - 1;
}

/* Seconds of the monotonic clock. */
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

bool dd_near_across_find(dd_near_across *a, unsigned threads, double threshold,
                         bool (*take)(void *ctx, const dd_near_unit *v, size_t n), void *ctx,
                         char **err)
{
    *err = NULL;
    double start = now();
    dd_scratch_array pairs;
    dd_scratch_array_init(&pairs, sizeof(dd_unit_pair), a->work_bytes / 2 ? a->work_bytes / 2 : 1,
                          a->dir, "the candidate pairs of paragraphs");
    pair_sink sink = {&pairs, err, false};
    bool ok = true;
    for (size_t b = 0; ok && b < DD_NEAR_UNIT_BANDS; b++)
        ok = band_pairs(a, b, &sink, err);
    size_t nparts = pairs.spool ? parts_for(pairs.n, pairs.size, a->work_bytes) : 1;
    dd_scratch_array parts[MAX_PARTS];
    uint64_t range[2] = {a->sets.n / nparts + 1, nparts};
    if (!ok) {
        dd_scratch_array_free(&pairs);
        return false;
    }
    if (nparts == 1)
        parts[0] = pairs;
    else if (!split(&pairs, parts, nparts, part_of_later, range, a->dir, err)) {
        for (size_t p = 0; p < nparts; p++)
            dd_scratch_array_free(&parts[p]);
        return false;
    }
    a->parts[1] = nparts;
    a->seconds[0] = now() - start;
    dd_unit_source src = {.unit = unit_at, .ctx = &a->sets};
    dd_unit_verifier *verifier = dd_unit_verifier_new(&src, threads, threshold);
    dd_unit_pair *buf = NULL;
    size_t cap = 0;
    for (size_t p = 0; p < nparts; p++) {
        dd_unit_pair *v = ok ? all_of(&parts[p], &buf, &cap) : NULL;
        if (v) {
            if (parts[p].n * sizeof *v > a->peak_bytes)
                a->peak_bytes = parts[p].n * sizeof *v;
            size_t n = dd_unit_pairs_sort(v, parts[p].n);
            char *why = NULL;
            ok = dd_unit_verifier_run(verifier, v, n, take, ctx, &why);
            free(why); /* in memory or a scratch file: every unit is read */
            a->pairs += n;
        }
        dd_scratch_array_free(&parts[p]);
    }
    free(buf);
    dd_unit_verifier_free(verifier);
    a->seconds[1] = now() - start - a->seconds[0];
    return ok;
}
