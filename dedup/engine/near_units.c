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
#include "engine/near_units.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

typedef struct slot {
    uint64_t hash;
    uint32_t gen; /* the slot is empty unless gen is the table's */
    uint32_t n;   /* units listed */
    uint32_t units[DD_NEAR_UNIT_FANOUT];
} slot;

/* Emptied for each document by moving to the next generation, so a
 * document costs what its shingles touch, not a pass over the table. A
 * document uses the first nslots slots of the cap allocated, as many as its
 * shingles need: a short document's probes stay in a small, cached part. */
struct dd_shingle_table {
    slot *v;
    size_t nslots, cap;
    uint32_t gen;
    uint64_t salt; /* dd_table_salt() */
};
typedef struct dd_shingle_table shingle_table;

/* Past this many slots (32 bytes each) a table left by a long document is
 * freed rather than kept for the next one. */
#define TABLE_KEEP_SLOTS (1u << 16)

/* The slot of hash, or the empty slot where it goes. Its home is the mixed
 * key scaled to [0, nslots) by a multiply-shift, so that nslots need not be
 * a power of two and the table is sized to the document. */
static slot *table_find(shingle_table *t, uint64_t hash)
{
    uint64_t mixed = dd_table_home(hash, t->salt, SIZE_MAX);
    size_t i = (size_t)(((unsigned __int128)mixed * t->nslots) >> 64);
    while (t->v[i].gen == t->gen && t->v[i].hash != hash)
        if (++i == t->nslots)
            i = 0;
    return &t->v[i];
}

/* Empties t for a new document whose units have `shingles` shingles in all
 * (counted per unit): it then holds at most that many, so it stays at most
 * two thirds full and never grows during the document. At 32 bytes a slot,
 * that is at most 48 bytes a shingle (it was 64 to 128, with power-of-two
 * sizes at most half full): about 5 bytes per byte of a long document's
 * text, the largest part of what scanning one costs. */
static void table_start(shingle_table *t, size_t shingles)
{
    size_t want = shingles + shingles / 2 + 1;
    if (want < 1024)
        want = 1024;
    if (!t->v || t->gen == UINT32_MAX || want > t->cap) {
        free(t->v);
        t->cap = want;
        /* calloc, not dd_zalloc_touched, though its slots are probed before
         * written: it is sized to the document's shingles, and a long
         * document of few distinct ones must cost only the pages it
         * writes. */
        t->v = dd_calloc(t->cap, sizeof *t->v);
        t->gen = 0;
        t->salt = dd_table_salt();
    }
    t->nslots = want;
    t->gen++;
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

void dd_unit_sets_compute(dd_unit_sets *s, const dd_doc *doc, const sh_hasher *hash)
{
    size_t total = 0;
    for (size_t u = 0; u < doc->nunits; u++)
        total += sh_shingle_count(doc->units[u].words, DD_NEAR_UNIT_NGRAM);
    dd_grow(&s->hashes, &s->hashes_cap, total + 1, sizeof *s->hashes);
    dd_grow(&s->start, &s->start_cap, doc->nunits + 1, sizeof *s->start);
    size_t at = 0;
    for (size_t u = 0; u < doc->nunits; u++) {
        const dd_unit *unit = &doc->units[u];
        s->start[u] = at;
        size_t n = sh_shingles(&doc->words, unit->first_word, unit->words, DD_NEAR_UNIT_NGRAM,
                               hash, s->hashes + at);
        at += sh_hashes_unique(s->hashes + at, n);
    }
    s->start[doc->nunits] = at;
}

void dd_unit_sets_free(dd_unit_sets *s)
{
    if (s->table)
        free(s->table->v);
    free(s->table);
    free(s->hashes);
    free(s->start);
    memset(s, 0, sizeof *s);
}

void dd_unit_sets_take(dd_unit_sets *to, dd_unit_sets *from)
{
    dd_unit_sets moved = *from;
    from->hashes = to->hashes;
    from->start = to->start;
    from->hashes_cap = to->hashes_cap;
    from->start_cap = to->start_cap;
    to->hashes = moved.hashes;
    to->start = moved.start;
    to->hashes_cap = moved.hashes_cap;
    to->start_cap = moved.start_cap;
}

void dd_find_near_units(uint32_t doc_number, const dd_doc *doc, dd_unit_sets *sets,
                        double threshold, unsigned long min_words, dd_near_unit_list *out)
{
    size_t nunits = doc->nunits;
    if (nunits < 2)
        return;
    uint32_t *size = dd_calloc(nunits, sizeof *size);
    bool *twin = exact_repeats(doc);
    if (!sets->table)
        sets->table = dd_calloc(1, sizeof *sets->table);
    shingle_table *table = sets->table;
    table_start(table, sets->start[nunits]);
    uint32_t *names = NULL; /* earlier units named by this unit's shingles */
    size_t names_cap = 0;
    for (size_t u = 0; u < nunits; u++) {
        const dd_unit *unit = &doc->units[u];
        if (unit->words < min_words || twin[u])
            continue;
        const uint64_t *h = sets->hashes + sets->start[u];
        size_t n = sets->start[u + 1] - sets->start[u];
        size[u] = (uint32_t)n;

        size_t nnames = 0;
        dd_grow(&names, &names_cap, n * DD_NEAR_UNIT_FANOUT + 1, sizeof *names);
        /* One probe per shingle: the earlier units listed, then this one.
         * A unit's shingles are distinct, so it never names itself. */
        for (size_t i = 0; i < n; i++) {
            slot *s = table_find(table, h[i]);
            if (s->gen == table->gen) {
                for (uint32_t k = 0; k < s->n; k++)
                    names[nnames++] = s->units[k];
            } else {
                *s = (slot){.hash = h[i], .gen = table->gen};
            }
            if (s->n < DD_NEAR_UNIT_FANOUT)
                s->units[s->n++] = (uint32_t)u;
        }
        if (nnames > 1)
            qsort(names, nnames, sizeof *names, dd_compare_u32);
        /* Runs of one name: the shared shingles with that unit, earliest
         * unit first. */
        for (size_t i = 0; i < nnames;) {
            size_t j = i;
            while (j < nnames && names[j] == names[i])
                j++;
            double jaccard, containment;
            if (dd_unit_match(n, size[names[i]], j - i, threshold, &jaccard, &containment)) {
                dd_grow(&out->v, &out->cap, out->n + 1, sizeof *out->v);
                out->v[out->n++] =
                    (dd_near_unit){doc_number, doc_number, u, names[i], jaccard, containment, false};
                break;
            }
            i = j;
        }
    }
    if (table->cap > TABLE_KEEP_SLOTS) {
        free(table->v);
        table->v = NULL;
    }
    free(names);
    free(size);
    free(twin);
}

void dd_near_units_append(dd_near_unit_list *l, const dd_near_unit *v, size_t n)
{
    if (n == 0)
        return;
    dd_grow(&l->v, &l->cap, l->n + n, sizeof *l->v);
    memcpy(l->v + l->n, v, n * sizeof *l->v);
    l->n += n;
}

/* ------------------------------------------------------ across documents */

#include "engine/capped_map.h"
#include "engine/set_cache.h"
#include "key_table.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

/* Sets of indexed units read again, one slot per unit number modulo
 * UNIT_CACHE_SLOTS: a paragraph that keeps coming back is read once. */
#define UNIT_CACHE_SLOTS 8192

struct dd_unit_index {
    dd_set_cache cache; /* by indexed unit, no budget */
    /* band key -> indexed unit, one map per band */
    dd_capped_map bands[DD_NEAR_UNIT_BANDS];
    uint32_t *doc;            /* per indexed unit */
    size_t *unit;             /* per indexed unit */
    size_t n, doc_cap, unit_cap;
    dd_set_table table; /* the set of the unit being searched for */
    uint32_t *cands;
    size_t cands_cap;
    /* dd_unit_set_key of every unit of DD_NEAR_UNIT_ACROSS_MIN_WORDS words
     * or more searched so far: a unit whose set was seen is not indexed */
    dd_key_table set_keys;
    size_t nset_keys;
    /* A batch being searched (dd_unit_batch_begin): the units indexed
     * before it are those below batch_first; the batch's own, listed for
     * its later documents as the index will list them (band -> unit), and
     * their band keys, to join the index (dd_unit_batch_join). */
    uint32_t batch_first;
    dd_capped_map batch_bands[DD_NEAR_UNIT_BANDS];
    uint64_t *batch_keys; /* DD_NEAR_UNIT_BANDS per unit of the batch */
    size_t batch_keys_cap;
};

dd_unit_index *dd_unit_index_new(void)
{
    dd_unit_index *ix = dd_calloc(1, sizeof *ix);
    dd_set_cache_init(&ix->cache, UNIT_CACHE_SLOTS, 0);
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++) {
        dd_capped_map_init(&ix->bands[b]);
        dd_capped_map_init(&ix->batch_bands[b]);
    }
    dd_key_table_init(&ix->set_keys, 2);
    return ix;
}

sh_minhasher *dd_unit_minhasher_new(const sh_hasher *hash)
{
    sh_minhasher *m =
        sh_minhasher_new_scheme(DD_NEAR_UNIT_BANDS * DD_NEAR_UNIT_ROWS,
                                hash->seed ^ 0x756E697473ULL, DD_NEAR_UNIT_SCHEME, NULL);
    if (!m) /* the parameters are right: only memory can fail (engine.h) */
        dd_out_of_memory();
    return m;
}

void dd_unit_band_keys(const sh_minhasher *m, const dd_doc *doc, const dd_unit_sets *sets,
                       uint64_t **keys, size_t *cap)
{
    const size_t bands = DD_NEAR_UNIT_BANDS, rows = DD_NEAR_UNIT_ROWS;
    uint32_t sig[DD_NEAR_UNIT_BANDS * DD_NEAR_UNIT_ROWS];
    dd_grow(keys, cap, doc->nunits * bands + 1, sizeof **keys);
    for (size_t u = 0; u < doc->nunits; u++) {
        if (doc->units[u].words < DD_NEAR_UNIT_ACROSS_MIN_WORDS)
            continue;
        sh_minhash(m, sets->hashes + sets->start[u], sets->start[u + 1] - sets->start[u], sig);
        for (size_t b = 0; b < bands; b++)
            (*keys)[u * bands + b] = XXH3_64bits_withSeed(sig + b * rows, rows * sizeof *sig, b);
    }
}

/* A 64-bit mix of x (splitmix64's finaliser). */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

sh_key dd_unit_set_key(const uint64_t *set, size_t n)
{
    /* Sums of two mixes of each hash: the same for the same hashes in any
     * order (a set's hashes are distinct, in the order first met). */
    uint64_t lo = mix64((uint64_t)n), hi = mix64((uint64_t)n ^ 0x5365744B6579ULL);
    for (size_t i = 0; i < n; i++) {
        lo += mix64(set[i] ^ 0x9E3779B97F4A7C15ULL);
        hi += mix64(set[i] + 0xD1B54A32D192ED03ULL);
    }
    return (sh_key){mix64(lo), mix64(hi ^ lo)};
}

void dd_unit_set_keys(const dd_doc *doc, const dd_unit_sets *sets, sh_key **keys, size_t *cap)
{
    dd_grow(keys, cap, doc->nunits + 1, sizeof **keys);
    for (size_t u = 0; u < doc->nunits; u++)
        if (doc->units[u].words >= DD_NEAR_UNIT_ACROSS_MIN_WORDS)
            (*keys)[u] = dd_unit_set_key(sets->hashes + sets->start[u],
                                         sets->start[u + 1] - sets->start[u]);
}

void dd_unit_index_free(dd_unit_index *ix)
{
    if (!ix)
        return;
    dd_set_cache_free(&ix->cache);
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++) {
        dd_capped_map_free(&ix->bands[b]);
        dd_capped_map_free(&ix->batch_bands[b]);
    }
    free(ix->batch_keys);
    free(ix->doc);
    free(ix->unit);
    dd_set_table_free(&ix->table);
    free(ix->cands);
    dd_key_table_free(&ix->set_keys);
    free(ix);
}

size_t dd_unit_index_bytes(const dd_unit_index *ix)
{
    size_t bytes = sizeof *ix + ix->doc_cap * sizeof *ix->doc + ix->unit_cap * sizeof *ix->unit +
                   ix->table.cap * sizeof *ix->table.slots + ix->cands_cap * sizeof *ix->cands +
                   ix->set_keys.nslots * sizeof *ix->set_keys.slots;
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++)
        bytes += (ix->bands[b].nslots + ix->batch_bands[b].nslots) * sizeof *ix->bands[b].slots;
    bytes += ix->batch_keys_cap * sizeof *ix->batch_keys;
    return bytes + dd_set_cache_bytes(&ix->cache);
}

size_t dd_unit_shingle_set(const sh_tokens *t, size_t first, size_t count, const sh_hasher *hash,
                           uint64_t **set, size_t *cap)
{
    size_t n = sh_shingle_count(count, DD_NEAR_UNIT_NGRAM);
    dd_grow(set, cap, n + 1, sizeof **set);
    n = sh_shingles(t, first, count, DD_NEAR_UNIT_NGRAM, hash, *set);
    return sh_hashes_unique(*set, n);
}

/* A set as an open-addressing table (hashes are uniform; 0 marks an empty
 * slot, so a 0 hash is kept aside). */
void dd_set_table_fill(dd_set_table *t, const uint64_t *set, size_t n)
{
    size_t slots = 16;
    while (slots < 2 * n)
        slots *= 2;
    t->salt = dd_table_salt();
    dd_grow(&t->slots, &t->cap, slots, sizeof *t->slots);
    memset(t->slots, 0, slots * sizeof *t->slots);
    t->mask = slots - 1;
    t->zero = false;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = set[i];
        if (x == 0) {
            t->zero = true;
            continue;
        }
        size_t j = dd_table_home(x, t->salt, t->mask);
        while (t->slots[j] && t->slots[j] != x)
            j = (j + 1) & t->mask;
        t->slots[j] = x;
    }
}

size_t dd_set_table_count(const dd_set_table *t, const uint64_t *set, size_t n)
{
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = set[i];
        if (x == 0) {
            found += t->zero;
            continue;
        }
        size_t j = dd_table_home(x, t->salt, t->mask);
        while (t->slots[j] && t->slots[j] != x)
            j = (j + 1) & t->mask;
        found += t->slots[j] == x;
    }
    return found;
}

void dd_set_table_free(dd_set_table *t)
{
    free(t->slots);
    memset(t, 0, sizeof *t);
}

bool dd_unit_match(size_t n, size_t m, size_t shared, double threshold, double *jaccard,
                   double *containment)
{
    double both = (double)shared;
    *jaccard = both / ((double)n + (double)m - both);
    *containment = n ? both / (double)n : 0;
    return *jaccard >= threshold || (*containment >= threshold && n >= DD_NEAR_UNIT_MIN_SHINGLES);
}

/* Appends to ids[0..n) (growing it) the values map lists under key;
 * returns the new n. */
static size_t listed_ids(const dd_capped_map *map, uint64_t key, uint32_t **ids, size_t *cap,
                         size_t n)
{
    dd_capped_iter it = dd_capped_map_find(map, key);
    for (uint32_t id; dd_capped_next(&it, &id);) {
        dd_grow(ids, cap, n + 1, sizeof **ids);
        (*ids)[n++] = id;
    }
    return n;
}

/* The ids maps[0..DD_NEAR_UNIT_BANDS) list under a unit's band keys
 * keys[0..DD_NEAR_UNIT_BANDS), into *ids (grown), ascending, an id listed
 * under several keys as often (the callers take each once); listed, when
 * not NULL, gets how many each band gave. Returns how many in all. */
static size_t band_candidates(const dd_capped_map *maps, const uint64_t *keys, uint32_t **ids,
                              size_t *cap, uint32_t *listed)
{
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++)
        dd_capped_map_prefetch(&maps[b], keys[b]);
    size_t n = 0;
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++) {
        size_t before = n;
        n = listed_ids(&maps[b], keys[b], ids, cap, n);
        if (listed)
            listed[b] = (uint32_t)(n - before);
    }
    if (n > 1)
        qsort(*ids, n, sizeof **ids, dd_compare_u32);
    return n;
}

/* The unit being searched for, and where its matches go. */
typedef struct searched {
    const uint64_t *set; /* its set, n hashes */
    size_t n;
    bool filled; /* ix->table holds its set */
    size_t unit;
    uint32_t doc_number;
    double threshold;
    dd_unit_reader read;
    void *ctx;
    dd_near_unit_list *out;
    size_t found; /* its matches so far */
} searched;

/* Appends the match of s with indexed unit id to s->out, when the rule
 * passes; the first of the unit's matches is not an alternative. */
static void add_match(const dd_unit_index *ix, searched *s, uint32_t id, double jaccard,
                      double containment)
{
    dd_grow(&s->out->v, &s->out->cap, s->out->n + 1, sizeof *s->out->v);
    s->out->v[s->out->n++] = (dd_near_unit){s->doc_number, ix->doc[id], s->unit, ix->unit[id],
                                            jaccard, containment, s->found++ > 0};
}

/* Verifies the unit of s against indexed unit id (its set from the cache
 * or read again; not verified when it cannot be read). */
static void verify(dd_unit_index *ix, searched *s, uint32_t id)
{
    const dd_cached_set *c = dd_set_cache_find(&ix->cache, id, 0);
    if (!c) {
        dd_cached_set *kept = dd_set_cache_claim(&ix->cache, id, 0);
        if (!s->read(s->ctx, ix->doc[id], ix->unit[id], &kept->set, &kept->cap, &kept->n))
            return;
        dd_set_cache_keep(&ix->cache, kept);
        c = kept;
    }
    if (!s->filled)
        dd_set_table_fill(&ix->table, s->set, s->n);
    s->filled = true;
    size_t shared = dd_set_table_count(&ix->table, c->set, c->n);
    double jaccard, containment;
    if (dd_unit_match(s->n, c->n, shared, s->threshold, &jaccard, &containment))
        add_match(ix, s, id, jaccard, containment);
}

void dd_find_near_units_across(dd_unit_index *ix, uint32_t doc_number, const dd_unit *units,
                               size_t nunits, const dd_unit_sets *sets, const uint64_t *band_keys,
                               const sh_key *set_keys, double threshold, dd_unit_reader read, void *ctx,
                               dd_near_unit_list *out)
{
    const size_t bands = DD_NEAR_UNIT_BANDS;
    /* Units whose set was seen before (an exact copy) are not indexed
     * again, so a paragraph printed everywhere costs one entry. */
    bool *identical = dd_calloc(nunits ? nunits : 1, sizeof *identical);
    for (size_t u = 0; u < nunits; u++) {
        if (units[u].words < DD_NEAR_UNIT_ACROSS_MIN_WORDS)
            continue;
        const uint64_t *set = sets->hashes + sets->start[u];
        size_t n = sets->start[u + 1] - sets->start[u];
        const uint64_t *keys = band_keys + u * bands;
        /* Every candidate, each once (the bands list a bounded number),
         * earliest first: the unit near-repeats each that passes, the first
         * of them before the others. Which candidates a crowd of variants
         * left room for does not decide whether it is a near-repeat, nor
         * does whether the first is kept (corpus.h). */
        size_t ncands = band_candidates(ix->bands, keys, &ix->cands, &ix->cands_cap, NULL);
        /* Not indexed when a unit before it (in an earlier document, or
         * before it in this one) has the same set: that one is listed
         * under the same band keys, a match of this one is a match of it.
         * Pure: whether a unit is indexed does not depend on what was
         * verified, so the candidates are a function of the units
         * (unit_pairs.h computes them so, a part at a time). */
        uint32_t had;
        identical[u] =
            dd_key_table_add(&ix->set_keys, set_keys[u], ix->nset_keys++, &had) == DD_KEY_HAD;
        searched s = {set, n, false, u, doc_number, threshold, read, ctx, out, 0};
        for (size_t i = 0; i < ncands; i++)
            if (i == 0 || ix->cands[i] != ix->cands[i - 1])
                verify(ix, &s, ix->cands[i]);
    }
    /* Then the document's own units join the index. */
    for (size_t u = 0; u < nunits; u++) {
        if (units[u].words < DD_NEAR_UNIT_ACROSS_MIN_WORDS || identical[u])
            continue;
        dd_grow(&ix->doc, &ix->doc_cap, ix->n + 1, sizeof *ix->doc);
        dd_grow(&ix->unit, &ix->unit_cap, ix->n + 1, sizeof *ix->unit);
        ix->doc[ix->n] = doc_number;
        ix->unit[ix->n] = u;
        for (size_t b = 0; b < bands; b++)
            dd_capped_map_add(&ix->bands[b], band_keys[u * bands + b], (uint32_t)ix->n,
                              DD_NEAR_UNIT_MAX_BUCKET);
        ix->n++;
    }
    free(identical);
}

/* ------------------------------------------------- a batch at a time */

void dd_unit_ahead_free(dd_unit_ahead *a)
{
    free(a->v);
    free(a->listed);
    memset(a, 0, sizeof *a);
}

void dd_unit_scratch_free(dd_unit_scratch *w)
{
    free(w->cands);
    free(w->set);
    dd_set_table_free(&w->table);
    memset(w, 0, sizeof *w);
}

void dd_unit_batch_begin(dd_unit_index *ix)
{
    ix->batch_first = (uint32_t)ix->n;
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++)
        dd_capped_map_clear(&ix->batch_bands[b]);
}

void dd_unit_batch_ahead(const dd_unit_index *ix, const dd_unit *units, size_t nunits,
                         const dd_unit_sets *sets, const uint64_t *band_keys, double threshold,
                         dd_unit_reader peek, void *ctx, dd_unit_scratch *w, dd_unit_ahead *out)
{
    const size_t bands = DD_NEAR_UNIT_BANDS;
    out->n = 0;
    dd_grow(&out->listed, &out->listed_cap, nunits * bands + 1, sizeof *out->listed);
    for (size_t u = 0; u < nunits; u++) {
        if (units[u].words < DD_NEAR_UNIT_ACROSS_MIN_WORDS)
            continue;
        const uint64_t *set = sets->hashes + sets->start[u];
        size_t n = sets->start[u + 1] - sets->start[u];
        const uint64_t *keys = band_keys + u * bands;
        size_t ncands =
            band_candidates(ix->bands, keys, &w->cands, &w->cands_cap, &out->listed[u * bands]);
        bool filled = false;
        for (size_t i = 0; i < ncands; i++) {
            if (i > 0 && w->cands[i] == w->cands[i - 1])
                continue;
            uint32_t id = w->cands[i];
            dd_unit_candidate c = {(uint32_t)u, id, -1, 0, 0};
            /* its set: in the cache (read only here), or peeked */
            const uint64_t *other = NULL;
            size_t m = 0;
            const dd_cached_set *cached = dd_set_cache_find(&ix->cache, id, 0);
            if (cached) {
                other = cached->set;
                m = cached->n;
            } else if (peek(ctx, ix->doc[id], ix->unit[id], &w->set, &w->set_cap, &m)) {
                other = w->set;
            }
            if (other) {
                if (!filled)
                    dd_set_table_fill(&w->table, set, n);
                filled = true;
                size_t shared = dd_set_table_count(&w->table, other, m);
                c.match = dd_unit_match(n, m, shared, threshold, &c.jaccard, &c.containment);
            }
            dd_grow(&out->v, &out->cap, out->n + 1, sizeof *out->v);
            out->v[out->n++] = c;
        }
    }
}

void dd_find_near_units_batch(dd_unit_index *ix, uint32_t doc_number, const dd_unit *units,
                              size_t nunits, const dd_unit_sets *sets, const uint64_t *band_keys,
                              const sh_key *set_keys, const dd_unit_ahead *ahead, double threshold,
                              dd_unit_reader read, void *ctx, dd_near_unit_list *out)
{
    const size_t bands = DD_NEAR_UNIT_BANDS;
    bool *identical = dd_calloc(nunits ? nunits : 1, sizeof *identical);
    size_t a = 0; /* the next candidate verified ahead */
    for (size_t u = 0; u < nunits; u++) {
        if (units[u].words < DD_NEAR_UNIT_ACROSS_MIN_WORDS)
            continue;
        const uint64_t *keys = band_keys + u * bands;
        searched s = {sets->hashes + sets->start[u], sets->start[u + 1] - sets->start[u], false,
                      u, doc_number, threshold, read, ctx, out, 0};
        /* The units indexed before the batch, earliest first, as verified
         * ahead; then those of the batch's earlier documents, all later. */
        for (; a < ahead->n && ahead->v[a].unit == u; a++) {
            const dd_unit_candidate *c = &ahead->v[a];
            if (c->match < 0)
                verify(ix, &s, c->id);
            else if (c->match)
                add_match(ix, &s, c->id, c->jaccard, c->containment);
        }
        size_t ncands = band_candidates(ix->batch_bands, keys, &ix->cands, &ix->cands_cap, NULL);
        for (size_t i = 0; i < ncands; i++)
            if (i == 0 || ix->cands[i] != ix->cands[i - 1])
                verify(ix, &s, ix->cands[i]);
        uint32_t had;
        identical[u] =
            dd_key_table_add(&ix->set_keys, set_keys[u], ix->nset_keys++, &had) == DD_KEY_HAD;
    }
    /* Its units are listed for the batch's later documents where the index
     * will list them: under a key, after the units listed before the batch
     * and those of the batch before them, while there is room. */
    for (size_t u = 0; u < nunits; u++) {
        if (units[u].words < DD_NEAR_UNIT_ACROSS_MIN_WORDS || identical[u])
            continue;
        size_t at = ix->n - ix->batch_first;
        dd_grow(&ix->doc, &ix->doc_cap, ix->n + 1, sizeof *ix->doc);
        dd_grow(&ix->unit, &ix->unit_cap, ix->n + 1, sizeof *ix->unit);
        dd_grow(&ix->batch_keys, &ix->batch_keys_cap, (at + 1) * bands, sizeof *ix->batch_keys);
        ix->doc[ix->n] = doc_number;
        ix->unit[ix->n] = u;
        for (size_t b = 0; b < bands; b++) {
            uint64_t key = band_keys[u * bands + b];
            uint32_t before = ahead->listed[u * bands + b];
            ix->batch_keys[at * bands + b] = key;
            if (before < DD_NEAR_UNIT_MAX_BUCKET)
                dd_capped_map_add(&ix->batch_bands[b], key, (uint32_t)ix->n,
                                  DD_NEAR_UNIT_MAX_BUCKET - before);
        }
        ix->n++;
    }
    free(identical);
}

void dd_unit_batch_join(dd_unit_index *ix, size_t band)
{
    const size_t bands = DD_NEAR_UNIT_BANDS;
    for (size_t id = ix->batch_first; id < ix->n; id++)
        dd_capped_map_add(&ix->bands[band], ix->batch_keys[(id - ix->batch_first) * bands + band],
                          (uint32_t)id, DD_NEAR_UNIT_MAX_BUCKET);
}
