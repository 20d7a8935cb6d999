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

#define XXH_INLINE_ALL
#include <xxhash.h>

/* Sets of indexed units read again, one slot per unit number modulo
 * UNIT_CACHE_SLOTS: a paragraph that keeps coming back is read once. */
#define UNIT_CACHE_SLOTS 8192

struct dd_unit_index {
    dd_set_cache cache; /* by indexed unit, no budget */
    /* band key -> indexed unit, one map per band, so that a batch's units
     * are added to them on several threads (dd_unit_batch_index) */
    dd_capped_map bands[DD_NEAR_UNIT_BANDS];
    uint32_t *doc;            /* per indexed unit */
    size_t *unit;             /* per indexed unit */
    size_t n, doc_cap, unit_cap;
    /* Its kept sets (dd_unit_index_keep_sets): unit id's is set_n[id]
     * hashes at set_at[id] in scratch, or none when set_at[id] is NOT_KEPT */
    bool keeps_sets;
    dd_scratch scratch;
    uint64_t *set_at;
    uint32_t *set_n;
    size_t set_at_cap, set_n_cap;
    size_t nkept; /* set_at and set_n say where units 0..nkept-1 are */
    dd_set_table table; /* the set of the unit being searched for */
    uint32_t *cands;
    size_t cands_cap;
};

dd_unit_index *dd_unit_index_new(void)
{
    dd_unit_index *ix = dd_calloc(1, sizeof *ix);
    dd_set_cache_init(&ix->cache, UNIT_CACHE_SLOTS, 0);
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++)
        dd_capped_map_init(&ix->bands[b]);
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

void dd_unit_index_free(dd_unit_index *ix)
{
    if (!ix)
        return;
    dd_set_cache_free(&ix->cache);
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++)
        dd_capped_map_free(&ix->bands[b]);
    free(ix->doc);
    free(ix->unit);
    free(ix->set_at);
    free(ix->set_n);
    dd_set_table_free(&ix->table);
    free(ix->cands);
    free(ix);
}

size_t dd_unit_index_bytes(const dd_unit_index *ix)
{
    size_t bytes = sizeof *ix + ix->doc_cap * sizeof *ix->doc + ix->unit_cap * sizeof *ix->unit +
                   ix->set_at_cap * sizeof *ix->set_at + ix->set_n_cap * sizeof *ix->set_n +
                   ix->table.cap * sizeof *ix->table.slots + ix->cands_cap * sizeof *ix->cands;
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++)
        bytes += ix->bands[b].nslots * sizeof *ix->bands[b].slots;
    return bytes + dd_set_cache_bytes(&ix->cache);
}

#define NOT_KEPT UINT64_MAX

void dd_unit_index_keep_sets(dd_unit_index *ix, dd_scratch scratch)
{
    ix->keeps_sets = true;
    ix->scratch = scratch;
}

bool dd_unit_index_kept_set(const dd_unit_index *ix, uint32_t id, uint64_t **set, size_t *cap,
                            size_t *n)
{
    if (!ix->keeps_sets || id >= ix->nkept || ix->set_at[id] == NOT_KEPT)
        return false;
    size_t count = ix->set_n[id];
    dd_grow(set, cap, count + 1, sizeof **set);
    if (!ix->scratch.peek(ix->scratch.ctx, ix->set_at[id], *set, count * sizeof **set))
        return false;
    *n = count;
    return true;
}

/* Unit id, of set[0..n), is listed: its set is kept, when sets are kept
 * and the scratch store takes it. */
static void keep_set(dd_unit_index *ix, uint32_t id, const uint64_t *set, size_t n)
{
    if (!ix->keeps_sets)
        return;
    dd_grow(&ix->set_at, &ix->set_at_cap, (size_t)id + 1, sizeof *ix->set_at);
    dd_grow(&ix->set_n, &ix->set_n_cap, (size_t)id + 1, sizeof *ix->set_n);
    char *err = NULL;
    for (; ix->nkept <= id; ix->nkept++)
        ix->set_at[ix->nkept] = NOT_KEPT;
    if (n <= UINT32_MAX &&
        ix->scratch.append(ix->scratch.ctx, set, n * sizeof *set, &ix->set_at[id], &err))
        ix->set_n[id] = (uint32_t)n;
    else
        ix->set_at[id] = NOT_KEPT; /* read through the reader */
    free(err);
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

/* ------------------------------------------------------ verifying ahead */

/* What the lookups of the units of a batch's document found in the index
 * before the batch (dd_unit_batch_gather): unit u's candidates are
 * ids[start[u] .. start[u + 1]), increasing, each once, and count[u *
 * DD_NEAR_UNIT_BANDS + b] is how many its key of band b had. */
typedef struct found_before {
    uint32_t *ids;
    size_t n, cap;
    size_t *start;
    size_t start_cap;
    uint8_t *count;
    size_t count_cap;
    bool gathered;
} found_before;

/* A unit the batch indexed: its id, where it is in the batch, and the
 * bands whose index will list it (dd_unit_batch_index). */
typedef struct indexed_unit {
    uint32_t id, j;
    bool listed[DD_NEAR_UNIT_BANDS];
} indexed_unit;

/* The units of a batch are guessed to be candidates of each other when
 * they share one of their first AHEAD_BANDS bands (of DD_NEAR_UNIT_BANDS):
 * a pair at Jaccard 0.8 does with probability 0.94 (what the guess misses
 * is read when asked). */
#define AHEAD_BANDS 4

struct dd_unit_batch {
    size_t ndocs, docs_cap;
    uint32_t *doc_number; /* per document of the batch */
    size_t *first_unit;   /* its units are units [first_unit[k], first_unit[k + 1]) */
    size_t nunits, units_cap;
    uint32_t *words;     /* per unit of the batch */
    size_t *set_start;   /* unit j's set: hashes[set_start[j] .. set_start[j + 1]) */
    uint64_t *band_keys; /* DD_NEAR_UNIT_BANDS per unit */
    size_t keys_cap, starts_cap;
    uint64_t *hashes;
    size_t nhashes, hashes_cap;
    size_t *doc_starts; /* per document: its units' starts relative to its first hash */
    size_t ndoc_starts, doc_starts_cap;
    size_t *doc_starts_at; /* per document: where its starts are in doc_starts */
    dd_capped_map bands;   /* band key -> unit of the batch, of units of 8 words or more */
    found_before *before;  /* per document (dd_unit_batch_gather) */
    size_t before_cap;
    /* The units the batch indexed, in order, and where the index will list
     * them: they go to it when the batch has been searched. */
    dd_capped_map indexed; /* band key -> id */
    indexed_unit *pending;
    size_t npending, pending_cap;
};

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

/* How many values map lists under key. */
static uint32_t listed_under(const dd_capped_map *map, uint64_t key)
{
    uint32_t n = 0;
    dd_capped_iter it = dd_capped_map_find(map, key);
    for (uint32_t v; dd_capped_next(&it, &v);)
        n++;
    return n;
}

/* Unit u of document k of the batch joins the index as unit ix->n: where
 * the index will list it (its buckets not full, counting the batch's units
 * indexed before it), kept for dd_unit_batch_index. */
static void batch_index(const dd_unit_index *ix, dd_unit_batch *batch, size_t k, size_t u,
                        const uint64_t *keys)
{
    const found_before *before = batch->before[k].gathered ? &batch->before[k] : NULL;
    dd_grow(&batch->pending, &batch->pending_cap, batch->npending + 1, sizeof *batch->pending);
    indexed_unit *p = &batch->pending[batch->npending++];
    p->id = (uint32_t)ix->n;
    p->j = (uint32_t)(batch->first_unit[k] + u);
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++) {
        uint32_t listed = before ? before->count[u * DD_NEAR_UNIT_BANDS + b]
                                 : listed_under(&ix->bands[b], keys[b]);
        p->listed[b] = listed + listed_under(&batch->indexed, keys[b]) < DD_NEAR_UNIT_MAX_BUCKET;
        if (p->listed[b])
            dd_capped_map_add(&batch->indexed, keys[b], p->id, DD_NEAR_UNIT_MAX_BUCKET);
    }
}

/* The set of indexed unit id when the batch indexed it (its set is kept
 * only once the batch has been searched: dd_unit_batch_index), copied to
 * *set (growing it, *cap its capacity), *n its size; false when id is not
 * the batch's. */
static bool batch_set(const dd_unit_batch *batch, uint32_t id, uint64_t **set, size_t *cap,
                      size_t *n)
{
    if (!batch || !batch->npending || id < batch->pending[0].id)
        return false;
    const indexed_unit *p = &batch->pending[id - batch->pending[0].id];
    size_t from = batch->set_start[p->j], count = batch->set_start[p->j + 1] - from;
    dd_grow(set, cap, count + 1, sizeof **set);
    memcpy(*set, batch->hashes + from, count * sizeof **set);
    *n = count;
    return true;
}

/* The search across documents of dd_find_near_units_across. Without a
 * batch (NULL), a unit's candidates are found by looking its band keys up
 * in the index, and the document's units join the index. For document k
 * of a batch, the index is as it was before the batch; a unit's candidates
 * are those found in it (by dd_unit_batch_gather, or else looked up now),
 * then those of the batch's units indexed since, which batch->indexed
 * lists; the document's units go to batch->indexed and batch->pending,
 * and to the index after the batch. */
static void search_across(dd_unit_index *ix, uint32_t doc_number, const dd_unit *units,
                          size_t nunits, const dd_unit_sets *sets, const uint64_t *band_keys,
                          double threshold, dd_unit_batch *batch, size_t k,
                          const dd_unit_ahead *ahead, dd_unit_reader read, void *ctx,
                          dd_near_unit_list *out)
{
    const size_t bands = DD_NEAR_UNIT_BANDS;
    const found_before *before = batch && batch->before[k].gathered ? &batch->before[k] : NULL;
    /* Units whose set is already indexed (an exact copy) are not indexed
     * again, so a paragraph printed everywhere costs one entry. */
    bool *identical = dd_calloc(nunits ? nunits : 1, sizeof *identical);
    for (size_t u = 0; u < nunits; u++) {
        if (units[u].words < DD_NEAR_UNIT_ACROSS_MIN_WORDS)
            continue;
        const uint64_t *set = sets->hashes + sets->start[u];
        size_t n = sets->start[u + 1] - sets->start[u];
        const uint64_t *keys = band_keys + u * bands;
        size_t ncands = 0, nbefore = 0;
        if (before) {
            nbefore = before->start[u + 1] - before->start[u];
            dd_grow(&ix->cands, &ix->cands_cap, nbefore + 1, sizeof *ix->cands);
            if (nbefore)
                memcpy(ix->cands, before->ids + before->start[u], nbefore * sizeof *ix->cands);
            ncands = nbefore;
        }
        if (!before) {
            for (size_t b = 0; b < bands; b++)
                dd_capped_map_prefetch(&ix->bands[b], keys[b]);
            for (size_t b = 0; b < bands; b++)
                ncands = listed_ids(&ix->bands[b], keys[b], &ix->cands, &ix->cands_cap, ncands);
        }
        for (size_t b = 0; batch && b < bands; b++)
            ncands = listed_ids(&batch->indexed, keys[b], &ix->cands, &ix->cands_cap, ncands);
        bool filled = false;
        /* Every candidate, each once (the bands list a bounded number),
         * earliest first (those found before a batch are in order, and
         * lower): the unit near-repeats each that passes, the first of them
         * before the others. Which candidates a crowd of variants left room
         * for does not decide whether it is a near-repeat, nor does whether
         * the first is kept (corpus.h). */
        if (ncands - nbefore > 1)
            qsort(ix->cands + nbefore, ncands - nbefore, sizeof *ix->cands, dd_compare_u32);
        size_t found = 0;
        identical[u] = false;
        for (size_t i = 0; i < ncands; i++) {
            if (i > 0 && ix->cands[i] == ix->cands[i - 1])
                continue;
            uint32_t id = ix->cands[i];
            size_t m, shared;
            dd_ahead_answer got =
                ahead ? ahead->lookup(ahead->ctx, u, ix->doc[id], ix->unit[id], &shared, &m)
                      : DD_AHEAD_NOT_COMPUTED;
            if (got == DD_AHEAD_UNREADABLE)
                continue;
            if (got == DD_AHEAD_NOT_COMPUTED) {
                const dd_cached_set *c = dd_set_cache_find(&ix->cache, id, 0);
                if (!c) {
                    dd_cached_set *s = dd_set_cache_claim(&ix->cache, id, 0);
                    if (!batch_set(batch, id, &s->set, &s->cap, &s->n) &&
                        !dd_unit_index_kept_set(ix, id, &s->set, &s->cap, &s->n) &&
                        !read(ctx, ix->doc[id], ix->unit[id], &s->set, &s->cap, &s->n))
                        continue;
                    dd_set_cache_keep(&ix->cache, s);
                    c = s;
                }
                if (!filled)
                    dd_set_table_fill(&ix->table, set, n);
                filled = true;
                m = c->n;
                shared = dd_set_table_count(&ix->table, c->set, m);
            }
            double jaccard, containment;
            if (dd_unit_match(n, m, shared, threshold, &jaccard, &containment)) {
                dd_grow(&out->v, &out->cap, out->n + 1, sizeof *out->v);
                out->v[out->n++] = (dd_near_unit){doc_number, ix->doc[id], u, ix->unit[id],
                                                  jaccard, containment, found > 0};
                if (found++ == 0)
                    identical[u] = shared == n && n == m;
            }
        }
    }
    /* Then the document's own units join the index. */
    for (size_t u = 0; u < nunits; u++) {
        if (units[u].words < DD_NEAR_UNIT_ACROSS_MIN_WORDS || identical[u])
            continue;
        dd_grow(&ix->doc, &ix->doc_cap, ix->n + 1, sizeof *ix->doc);
        dd_grow(&ix->unit, &ix->unit_cap, ix->n + 1, sizeof *ix->unit);
        ix->doc[ix->n] = doc_number;
        ix->unit[ix->n] = u;
        if (batch) /* its set is kept with dd_unit_batch_index */
            batch_index(ix, batch, k, u, band_keys + u * bands);
        else {
            keep_set(ix, (uint32_t)ix->n, sets->hashes + sets->start[u],
                     sets->start[u + 1] - sets->start[u]);
            for (size_t b = 0; b < bands; b++)
                dd_capped_map_add(&ix->bands[b], band_keys[u * bands + b], (uint32_t)ix->n,
                                  DD_NEAR_UNIT_MAX_BUCKET);
        }
        ix->n++;
    }
    free(identical);
}

void dd_find_near_units_across(dd_unit_index *ix, uint32_t doc_number, const dd_unit *units,
                               size_t nunits, const dd_unit_sets *sets, const uint64_t *band_keys,
                               double threshold, const dd_unit_ahead *ahead, dd_unit_reader read,
                               void *ctx, dd_near_unit_list *out)
{
    search_across(ix, doc_number, units, nunits, sets, band_keys, threshold, NULL, 0, ahead, read,
                  ctx, out);
}

dd_unit_batch *dd_unit_batch_new(void)
{
    dd_unit_batch *b = dd_calloc(1, sizeof *b);
    dd_capped_map_init(&b->bands);
    dd_capped_map_init(&b->indexed);
    return b;
}

void dd_unit_batch_free(dd_unit_batch *b)
{
    if (!b)
        return;
    free(b->doc_number);
    free(b->first_unit);
    free(b->words);
    free(b->set_start);
    free(b->band_keys);
    free(b->hashes);
    free(b->doc_starts);
    free(b->doc_starts_at);
    dd_capped_map_free(&b->bands);
    for (size_t k = 0; k < b->before_cap; k++) {
        free(b->before[k].ids);
        free(b->before[k].start);
        free(b->before[k].count);
    }
    free(b->pending);
    free(b->before);
    dd_capped_map_free(&b->indexed);
    free(b);
}

void dd_unit_batch_clear(dd_unit_batch *b)
{
    b->ndocs = b->nunits = b->nhashes = b->ndoc_starts = b->npending = 0;
    dd_capped_map_clear(&b->bands);
    dd_capped_map_clear(&b->indexed);
}

size_t dd_unit_batch_docs(const dd_unit_batch *b) { return b->ndocs; }
size_t dd_unit_batch_hashes(const dd_unit_batch *b) { return b->nhashes; }

/* Whether unit j of the batch (of n shingles) has the band keys and size
 * of a unit of the batch before it that the guesses list: an exact copy,
 * which the search will not index once it has found the earlier one (so
 * listing every copy would guess pairs of all of them, never asked). */
static bool copies_earlier(const dd_unit_batch *b, size_t j, size_t n)
{
    const size_t bands = DD_NEAR_UNIT_BANDS;
    const uint64_t *keys = b->band_keys + j * bands;
    dd_capped_iter it = dd_capped_map_find(&b->bands, keys[0]);
    for (uint32_t other; dd_capped_next(&it, &other);)
        if (b->set_start[other + 1] - b->set_start[other] == n &&
            !memcmp(b->band_keys + (size_t)other * bands, keys, bands * sizeof *keys))
            return true;
    return false;
}

void dd_unit_batch_add(dd_unit_batch *b, uint32_t doc_number, const dd_unit *units, size_t nunits,
                       const dd_unit_sets *sets, const uint64_t *band_keys)
{
    const size_t bands = DD_NEAR_UNIT_BANDS;
    size_t k = b->ndocs++;
    if (b->ndocs > b->docs_cap) {
        b->docs_cap = b->docs_cap ? 2 * b->docs_cap : 256;
        b->doc_number = dd_realloc(b->doc_number, b->docs_cap * sizeof *b->doc_number);
        b->first_unit = dd_realloc(b->first_unit, (b->docs_cap + 1) * sizeof *b->first_unit);
        b->doc_starts_at = dd_realloc(b->doc_starts_at, b->docs_cap * sizeof *b->doc_starts_at);
        b->before = dd_realloc(b->before, b->docs_cap * sizeof *b->before);
        memset(b->before + b->before_cap, 0, (b->docs_cap - b->before_cap) * sizeof *b->before);
        b->before_cap = b->docs_cap;
    }
    b->before[k].gathered = false;
    b->doc_number[k] = doc_number;
    b->first_unit[k] = b->nunits;
    b->first_unit[k + 1] = b->nunits + nunits;
    /* Its starts, as dd_unit_sets has them (for dd_unit_batch_doc). */
    b->doc_starts_at[k] = b->ndoc_starts;
    dd_grow(&b->doc_starts, &b->doc_starts_cap, b->ndoc_starts + nunits + 1, sizeof *b->doc_starts);
    memcpy(b->doc_starts + b->ndoc_starts, sets->start, (nunits + 1) * sizeof *sets->start);
    b->ndoc_starts += nunits + 1;
    size_t total = sets->start[nunits];
    dd_grow(&b->hashes, &b->hashes_cap, b->nhashes + total + 1, sizeof *b->hashes);
    memcpy(b->hashes + b->nhashes, sets->hashes, total * sizeof *b->hashes);
    dd_grow(&b->words, &b->units_cap, b->nunits + nunits, sizeof *b->words);
    dd_grow(&b->set_start, &b->starts_cap, b->nunits + nunits + 1, sizeof *b->set_start);
    dd_grow(&b->band_keys, &b->keys_cap, (b->nunits + nunits) * bands + 1, sizeof *b->band_keys);
    for (size_t u = 0; u < nunits; u++) {
        size_t j = b->nunits + u;
        b->words[j] = units[u].words;
        b->set_start[j] = b->nhashes + sets->start[u];
        if (units[u].words < DD_NEAR_UNIT_ACROSS_MIN_WORDS)
            continue;
        memcpy(b->band_keys + j * bands, band_keys + u * bands, bands * sizeof *band_keys);
        if (copies_earlier(b, j, sets->start[u + 1] - sets->start[u]))
            continue; /* not guessed: it will most likely not be indexed (search_across) */
        for (size_t band = 0; band < AHEAD_BANDS; band++)
            dd_capped_map_add(&b->bands, band_keys[u * bands + band], (uint32_t)j,
                              DD_NEAR_UNIT_MAX_BUCKET);
    }
    b->nunits += nunits;
    b->nhashes += total;
    b->set_start[b->nunits] = b->nhashes;
}

void dd_unit_batch_doc(const dd_unit_batch *b, size_t k, uint32_t *doc_number, size_t *nunits,
                       dd_unit_sets *sets, const uint64_t **band_keys)
{
    size_t first = b->first_unit[k];
    *doc_number = b->doc_number[k];
    *nunits = b->first_unit[k + 1] - first;
    memset(sets, 0, sizeof *sets);
    sets->hashes = b->hashes + (first < b->nunits ? b->set_start[first] : b->nhashes);
    sets->start = b->doc_starts + b->doc_starts_at[k];
    *band_keys = b->band_keys + first * DD_NEAR_UNIT_BANDS;
}

void dd_unit_scratch_free(dd_unit_scratch *w)
{
    free(w->ids);
    free(w->in_batch);
    memset(w, 0, sizeof *w);
}

void dd_unit_batch_gather(const dd_unit_index *ix, dd_unit_batch *b, size_t k, dd_unit_scratch *w)
{
    const size_t bands = DD_NEAR_UNIT_BANDS;
    found_before *f = &b->before[k];
    size_t first = b->first_unit[k], nunits = b->first_unit[k + 1] - first;
    dd_grow(&f->start, &f->start_cap, nunits + 1, sizeof *f->start);
    dd_grow(&f->count, &f->count_cap, nunits * bands + 1, sizeof *f->count);
    f->n = 0;
    for (size_t u = 0; u < nunits; u++) {
        f->start[u] = f->n;
        size_t j = first + u, nids = 0;
        if (b->words[j] < DD_NEAR_UNIT_ACROSS_MIN_WORDS)
            continue;
        const uint64_t *keys = b->band_keys + j * bands;
        for (size_t band = 0; band < bands; band++)
            dd_capped_map_prefetch(&ix->bands[band], keys[band]);
        for (size_t band = 0; band < bands; band++) {
            size_t had = nids;
            nids = listed_ids(&ix->bands[band], keys[band], &w->ids, &w->ids_cap, nids);
            f->count[u * bands + band] = (uint8_t)(nids - had);
        }
        if (nids > 1)
            qsort(w->ids, nids, sizeof *w->ids, dd_compare_u32);
        for (size_t i = 0; i < nids; i++)
            if (i == 0 || w->ids[i] != w->ids[i - 1]) {
                dd_grow(&f->ids, &f->cap, f->n + 1, sizeof *f->ids);
                f->ids[f->n++] = w->ids[i];
            }
    }
    f->start[nunits] = f->n;
    f->gathered = true;
}

size_t dd_unit_batch_candidates(const dd_unit_index *ix, const dd_unit_batch *b, size_t k, size_t u,
                                dd_unit_scratch *w, dd_unit_ref **out, size_t *cap)
{
    const size_t bands = DD_NEAR_UNIT_BANDS;
    const found_before *f = &b->before[k];
    size_t first = b->first_unit[k], j = first + u;
    if (b->words[j] < DD_NEAR_UNIT_ACROSS_MIN_WORDS || !f->gathered)
        return 0;
    const uint64_t *keys = b->band_keys + j * bands;
    size_t nin = 0;
    for (size_t band = 0; band < AHEAD_BANDS; band++) {
        dd_capped_iter it = dd_capped_map_find(&b->bands, keys[band]);
        for (uint32_t other; dd_capped_next(&it, &other);)
            if (other < first) { /* a unit of an earlier document of the batch */
                dd_grow(&w->in_batch, &w->in_batch_cap, nin + 1, sizeof *w->in_batch);
                w->in_batch[nin++] = other;
            }
    }
    if (nin > 1)
        qsort(w->in_batch, nin, sizeof *w->in_batch, dd_compare_u32);
    /* Those dd_find_near_units_across tries, in its order: the indexed
     * units first (their ids are lower), then the batch's, which it will
     * have indexed unless they were exact copies: every one (the bands
     * list a bounded number). */
    size_t n = 0;
    for (size_t i = f->start[u]; i < f->start[u + 1]; i++) {
        uint32_t id = f->ids[i];
        dd_grow(out, cap, n + 1, sizeof **out);
        (*out)[n++] = (dd_unit_ref){ix->doc[id], ix->unit[id], NULL, 0, id};
    }
    for (size_t i = 0; i < nin; i++) {
        if (i > 0 && w->in_batch[i] == w->in_batch[i - 1])
            continue;
        uint32_t other = w->in_batch[i];
        size_t ko = 0; /* its document: the last whose first unit is at or before it */
        for (size_t lo = 0, hi = k; lo < hi;) {
            size_t mid = lo + (hi - lo) / 2;
            if (b->first_unit[mid] <= other) {
                ko = mid;
                lo = mid + 1;
            } else
                hi = mid;
        }
        dd_grow(out, cap, n + 1, sizeof **out);
        (*out)[n++] = (dd_unit_ref){b->doc_number[ko], other - b->first_unit[ko],
                                    b->hashes + b->set_start[other],
                                    b->set_start[other + 1] - b->set_start[other], UINT32_MAX};
    }
    return n;
}

void dd_unit_batch_search(dd_unit_index *ix, dd_unit_batch *b, size_t k, const dd_unit *units,
                          double threshold, const dd_unit_ahead *ahead, dd_unit_reader read,
                          void *ctx, dd_near_unit_list *out)
{
    uint32_t doc_number;
    size_t nunits;
    dd_unit_sets sets;
    const uint64_t *keys;
    dd_unit_batch_doc(b, k, &doc_number, &nunits, &sets, &keys);
    search_across(ix, doc_number, units, nunits, &sets, keys, threshold, b, k, ahead, read, ctx,
                  out);
}

size_t dd_unit_batch_index_parts(void) { return DD_NEAR_UNIT_BANDS + 1; }

void dd_unit_batch_index(dd_unit_index *ix, const dd_unit_batch *b, size_t part)
{
    if (part == DD_NEAR_UNIT_BANDS) { /* the sets, in order */
        for (size_t i = 0; i < b->npending; i++) {
            const indexed_unit *p = &b->pending[i];
            size_t from = b->set_start[p->j];
            keep_set(ix, p->id, b->hashes + from, b->set_start[p->j + 1] - from);
        }
        return;
    }
    size_t band = part;
    for (size_t i = 0; i < b->npending; i++) {
        const indexed_unit *p = &b->pending[i];
        if (p->listed[band])
            dd_capped_map_add(&ix->bands[band], b->band_keys[p->j * DD_NEAR_UNIT_BANDS + band],
                              p->id, DD_NEAR_UNIT_MAX_BUCKET);
    }
}
