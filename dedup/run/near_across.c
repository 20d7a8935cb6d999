/*
 * near_across.c - near-repeats of paragraphs across documents, a part at a
 * time (near_across.h).
 */
#include "run/near_across.h"

#include "run/run.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Parts are made in at most this many scratch files at once (each has a
 * buffer of DD_SPOOL_BLOCK bytes), those of the bands split at once
 * together: a budget that would need more parts gets bigger parts. */
#define MAX_PARTS 64

/* Pairs verified by one item of the pool's loop, about (a unit's pairs
 * are never split): at most PAIRS_PER_ITEM, fewer when that would give
 * the verifier's threads fewer than ITEMS_A_THREAD items each (the last
 * items are what one thread runs while the others wait: on the news, 22,129
 * pairs were 6 items for 2 threads), at least PAIRS_PER_ITEM_MIN. */
#define PAIRS_PER_ITEM 4096
#define PAIRS_PER_ITEM_MIN 256
#define ITEMS_A_THREAD 8

/* Sets of earlier units kept by each thread that verifies, by id modulo
 * this many slots: a paragraph that keeps coming back is read once. */
#define EARLIER_SETS_SLOTS 4096

/* Sets a shelf remembers having kept, at most: repeated paragraphs come
 * back soon (on the generated 1 GB corpus, 32,768 of them find 99.7% of
 * the repeats 4 million find), and the table is touched all over. */
#define MOST_RECENT_SETS ((size_t)1 << 18)

/* dd_near_across.doc_units of a document without units searched. */
#define NO_UNITS UINT64_MAX
/* The place on its shelf's units of a document's unit 0, and the shelf,
 * in dd_near_across.doc_units. */
#define SHELF_SHIFT 48
#define PLACE_MASK (((uint64_t)1 << SHELF_SHIFT) - 1)

/* A shelf's table of recent sets starts with this many slots, and doubles
 * as the shelf's units come, up to MOST_RECENT_SETS and an eighth of the
 * shelf's part of the shared budget (taken from it): a run of a few
 * documents does not hold megabytes of it. */
#define FEWEST_RECENT_SETS ((size_t)1 << 10)

/* Rooms of whole huge pages (2 MiB, DD_ROOM_HUGE), each of which may
 * hold up to 2 MiB past what it keeps, are taken only when they are at
 * most this part of what they come from: the shelves' arrays of the
 * shelves' budget (dd_near_across_init), a band's sorted room of what a
 * band may hold (take_sorted). Never at small budgets. */
#define HUGE_ROOMS_SHARE 16

/* dd_kept_set.word of a unit whose set was not kept (made again in step
 * 3: dd_near_across.remade). */
#define NOT_KEPT UINT64_MAX

/* Documents whose sets are made again at once (their sets held together
 * before they are put on dd_near_across.remade). */
#define REMAKE_BATCH 1024

static void shelf_init(dd_near_across_shelf *s, dd_near_across *a)
{
    memset(s, 0, sizeof *s);
    s->across = a;
    /* Its sets, where each unit's is (read back a unit at a time, through
     * the page cache) and the entries of every band (sorted in memory
     * when they fit) take their room from the budget every shelf shares,
     * as they grow: first come, first served. */
    dd_scratch_array_init_shared(&s->sets, sizeof(uint64_t), &a->shared, a->sets_leave, a->dir,
                                 "the sets of paragraphs");
    dd_scratch_array_init_shared(&s->units, sizeof(dd_kept_set), &a->shared, 0, a->dir,
                                 "where the sets of paragraphs are");
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++)
        dd_scratch_array_init_shared(&s->entries[b], sizeof(dd_unit_entry), &a->shared, 0, a->dir,
                                     "the band keys of paragraphs");
    if (a->huge_rooms) {
        dd_scratch_array_take_huge_room(&s->sets);
        dd_scratch_array_take_huge_room(&s->units);
        for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++)
            dd_scratch_array_take_huge_room(&s->entries[b]);
    }
    s->shared = &a->shared;
    s->most_recent = 1;
    while (s->most_recent < MOST_RECENT_SETS &&
           s->most_recent * 2 * sizeof *s->recent <= a->recent_bytes)
        s->most_recent *= 2;
}

/* Puts r (of a smaller table) into s's table, where it belongs. */
static void put_recent(dd_near_across_shelf *s, const dd_recent_set *r)
{
    if (r->at.n)
        s->recent[r->key.lo & (s->nrecent - 1)] = *r;
}

/* Makes s's table of recent sets: FEWEST_RECENT_SETS slots (fewer if its
 * most is fewer), then doubles it once it has fewer slots than the units
 * the shelf kept, within its most and what the shared budget has left;
 * the sets it remembers stay in it. The first table is made even when the
 * budget has nothing left (32 KB at most): a set that comes again at once
 * (a paragraph repeated in a document) is then kept once at any budget. */
static void grow_recent(dd_near_across_shelf *s)
{
    size_t want = s->nrecent ? 2 * s->nrecent : FEWEST_RECENT_SETS;
    if (!s->nrecent && want > s->most_recent)
        want = s->most_recent;
    if (s->nrecent && (want > s->most_recent || s->units_searched < s->nrecent))
        return;
    size_t bytes = (want - s->nrecent) * sizeof *s->recent;
    size_t taken = dd_scratch_budget_take(s->shared, bytes, bytes);
    if (s->nrecent && !taken)
        return;
    s->recent_taken += taken;
    dd_recent_set *old = s->recent;
    size_t nold = s->nrecent;
    s->recent = dd_room_zalloc_touched(want * sizeof *s->recent); /* read before written */
    s->nrecent = want;
    for (size_t k = 0; k < nold; k++)
        put_recent(s, &old[k]);
    dd_room_resize(old, nold * sizeof *old, 0);
}

/* Frees s's table of recent sets; what it took is given back to the
 * shared budget. */
static void free_recent(dd_near_across_shelf *s)
{
    dd_scratch_budget_give(s->shared, s->recent_taken);
    s->recent_taken = 0;
    dd_room_resize(s->recent, s->nrecent * sizeof *s->recent, 0);
    s->recent = NULL;
    s->nrecent = 0;
}

static void shelf_free(dd_near_across_shelf *s)
{
    dd_scratch_array_free(&s->sets);
    dd_scratch_array_free(&s->units);
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++)
        dd_scratch_array_free(&s->entries[b]);
    free(s->docs_added);
    free_recent(s);
}

void dd_near_across_init(dd_near_across *a, size_t share, size_t max_shelves, size_t holding,
                         const char *dir)
{
    memset(a, 0, sizeof *a);
    a->dir = dir;
    a->share = share;
    a->max_shelves = max_shelves ? max_shelves : 1;
    a->shelves = dd_calloc(a->max_shelves, sizeof *a->shelves);
    atomic_init(&a->claimed, 0);
    atomic_init(&a->sets_ahead, 0);
    atomic_init(&a->reads_ahead, 0);
    /* All but an eighth of the share while documents are added; the
     * later steps have that eighth and what the shelves left. */
    dd_scratch_budget_init(&a->shared, share - share / 8);
    /* The sets leave the last sixteenth of it to the band keys and where
     * the units are, then go to scratch files, their room given back to
     * those: step 2 reads every band key back, step 3 only the sets of
     * the candidate pairs (a few in a hundred on the generated 1 GB). */
    a->sets_leave = (share - share / 8) / 16 ? (share - share / 8) / 16 : 1;
    a->recent_bytes = (share - share / 8) / (holding ? holding : 1) / 8;
    /* A shelf's arrays, grown a quarter at a time, were copied block
     * after block of the heap up to 2 MiB, their pages faulted 4 KiB at a
     * time (11 us a fault on the virtual machines this runs on, 130 us a
     * huge page of 2 MiB): on the news, 4,500 of the first pass's 5,700
     * page faults at -j 1. So they take a huge page once past
     * DD_ROOM_COPIED bytes (dd_scratch_array_take_huge_room), when the
     * huge pages of every array of the shelves filling at once are at most
     * a HUGE_ROOMS_SHARE-th of the budget: the 2 MiB each may hold past
     * its elements stay within that. */
    size_t arrays = (holding ? holding : 1) * (2 + DD_NEAR_UNIT_BANDS);
    a->huge_rooms = (share - share / 8) / HUGE_ROOMS_SHARE / arrays >= DD_ROOM_HUGE;
}

/* The sets made again for a part of the pairs, freed. */
static void free_remade(dd_near_across *a)
{
    free(a->remade_ids);
    free(a->remade_at);
    a->remade_ids = NULL;
    a->remade_at = NULL;
    a->nremade = 0;
    dd_scratch_array_free(&a->remade);
}

void dd_near_across_free(dd_near_across *a)
{
    size_t claimed = atomic_load(&a->claimed);
    for (size_t k = 0; k < claimed && k < a->max_shelves; k++)
        shelf_free(&a->shelves[k]);
    free(a->shelves);
    a->shelves = NULL;
    free(a->doc_units);
    a->doc_units = NULL;
    dd_room_resize((void *)a->seen, a->seen_words * sizeof *a->seen, 0);
    a->seen = NULL;
    free_remade(a);
}

void dd_near_across_remake_with(dd_near_across *a, const dd_unit_remaker *r,
                                uint64_t input_bytes)
{
    /* About 7 band keys for every 500 bytes of text (the generated 1 GB
     * corpus: 2.16 M units searched in 1,073 MB): 16 bits a key, 3 of
     * them set, leave about 1% of new keys seen (a unit's 7 keys, 6%)
     * when the filter is not full; a smaller one leaves out fewer sets
     * (it changes nothing else). */
    size_t shared = a->share - a->share / 8;
    /* The generated corpora's sets, band keys and where the sets are take
     * about as many bytes as the text (100 MB: about 100 MB): a corpus whose
     * text fits half the shared budget keeps every set in memory, nothing
     * to leave out. */
    if (input_bytes <= shared / 2)
        return;
    uint64_t want = input_bytes / 32;
    size_t most = shared / 4;
    size_t bytes = want < most ? (size_t)want : most;
    bytes = bytes < 65536 ? 65536 : bytes;
    size_t words = bytes / sizeof(uint64_t);
    size_t taken = dd_scratch_budget_take(&a->shared, words * sizeof(uint64_t),
                                          words * sizeof(uint64_t));
    if (!taken)
        return; /* no room for it: every set is kept */
    a->remaker = *r;
    a->seen_words = words;
    a->seen = dd_room_zalloc_touched(words * sizeof *a->seen);
}

dd_near_across_shelf *dd_near_across_claim(dd_near_across *a)
{
    size_t k = atomic_fetch_add(&a->claimed, 1);
    if (k >= a->max_shelves) {
        dd_error("internal error: more threads added paragraphs than were planned (%zu)",
                 a->max_shelves);
        abort();
    }
    shelf_init(&a->shelves[k], a);
    return &a->shelves[k];
}

/* The shelves claimed (once every document is added). */
static size_t shelves_of(const dd_near_across *a)
{
    size_t claimed = atomic_load(&a->claimed);
    return claimed < a->max_shelves ? claimed : a->max_shelves;
}

size_t dd_near_across_memory_bytes(const dd_near_across *a)
{
    size_t bytes = a->ndocs * sizeof *a->doc_units + a->seen_words * sizeof *a->seen;
    for (size_t k = 0; k < shelves_of(a); k++) {
        const dd_near_across_shelf *s = &a->shelves[k];
        bytes += dd_scratch_array_memory_bytes(&s->sets) +
                 dd_scratch_array_memory_bytes(&s->units) +
                 s->docs_added_cap * sizeof *s->docs_added + s->nrecent * sizeof *s->recent;
        for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++)
            bytes += dd_scratch_array_memory_bytes(&s->entries[b]);
    }
    return bytes;
}

dd_near_across_scratch dd_near_across_scratch_kinds(const dd_near_across *a)
{
    dd_near_across_scratch bytes = {0, 0, 0};
    for (size_t k = 0; k < shelves_of(a); k++) {
        bytes.sets += dd_scratch_array_scratch_bytes(&a->shelves[k].sets);
        bytes.units += dd_scratch_array_scratch_bytes(&a->shelves[k].units);
        for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++)
            bytes.band_keys += dd_scratch_array_scratch_bytes(&a->shelves[k].entries[b]);
    }
    return bytes;
}

uint64_t dd_near_across_scratch_bytes(const dd_near_across *a)
{
    dd_near_across_scratch bytes = dd_near_across_scratch_kinds(a);
    return bytes.sets + bytes.units + bytes.band_keys;
}

/* Keeps the set[0..n) of key on shelf s, unless the shelf kept it lately
 * (the same key, 128 bits, and size: the same set), and says where it is. */
static bool keep_set(dd_near_across_shelf *s, const uint64_t *set, size_t n, sh_key key,
                     dd_kept_set *at, char **err)
{
    grow_recent(s);
    dd_recent_set *r = &s->recent[key.lo & (s->nrecent - 1)];
    if (r->at.n == n && r->key.lo == key.lo && r->key.hi == key.hi) {
        *at = r->at;
        s->sets_shared++;
        return true;
    }
    *at = (dd_kept_set){s->sets.n, n};
    if (!dd_scratch_array_append(&s->sets, set, n, err))
        return false;
    *r = (dd_recent_set){key, *at};
    return true;
}

/* The word of the filter of band keys seen, and the bits in it, of band
 * key `key` of band b (keys are hashes already). */
static _Atomic uint64_t *seen_word(const dd_near_across *a, uint64_t key, size_t b,
                                   uint64_t *bits)
{
    uint64_t h = (key ^ (uint64_t)b * 0x9E3779B97F4A7C15ULL) * 0xD6E8FEB86659FD93ULL;
    /* The word by the high bits, the bits in it by the low ones: apart. */
    *bits = (uint64_t)1 << (h & 63) | (uint64_t)1 << (h >> 6 & 63) | (uint64_t)1 << (h >> 12 & 63);
    return &a->seen[(size_t)(((unsigned __int128)h * a->seen_words) >> 64)];
}

/* Whether one of the band keys keys[0..DD_NEAR_UNIT_BANDS) was seen
 * before (or seems to be: a filter), as they are marked seen. Two shelves
 * may both find a key new: both sets are then left out, and made again
 * if asked for. */
static bool seen_before(const dd_near_across *a, const uint64_t *keys)
{
    /* The words are all over the filter: fetched together, not one after
     * the other. */
    _Atomic uint64_t *w[DD_NEAR_UNIT_BANDS];
    uint64_t bits[DD_NEAR_UNIT_BANDS];
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++) {
        w[b] = seen_word(a, keys[b], b, &bits[b]);
        __builtin_prefetch((const void *)w[b], 1);
    }
    bool seen = false;
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++) {
        uint64_t had = atomic_load_explicit(w[b], memory_order_relaxed);
        if ((had & bits[b]) == bits[b])
            seen = true;
        else
            atomic_fetch_or_explicit(w[b], bits[b], memory_order_relaxed);
    }
    return seen;
}

/* The shared budget down to what the sets leave to the rest: shelf s's
 * sets go to a scratch file now, their room given back, before its band
 * keys or where its units are would have to. */
static bool make_room(dd_near_across_shelf *s, char **err)
{
    if (s->sets.spool || atomic_load(&s->shared->left) >= s->sets.leave)
        return true;
    return dd_scratch_array_move_out(&s->sets, err);
}

bool dd_near_across_add(dd_near_across_shelf *s, uint32_t doc, const dd_unit *units, size_t nunits,
                        const dd_unit_sets *sets, const uint64_t *band_keys, char **err)
{
    if (doc + 1 > s->docs)
        s->docs = doc + 1;
    /* Its units up to the last one searched have a place on units. */
    size_t searched = nunits;
    while (searched > 0 && units[searched - 1].words < DD_NEAR_UNIT_ACROSS_MIN_WORDS)
        searched--;
    if (!searched)
        return true;
    dd_grow(&s->docs_added, &s->docs_added_cap, s->ndocs_added + 1, sizeof *s->docs_added);
    s->docs_added[s->ndocs_added++] = (dd_shelf_doc){doc, s->units.n};
    for (size_t u = 0; u < searched; u++) {
        dd_kept_set at = {0, 0};
        if (units[u].words >= DD_NEAR_UNIT_ACROSS_MIN_WORDS) {
            const uint64_t *set = sets->hashes + sets->start[u];
            size_t n = sets->start[u + 1] - sets->start[u];
            uint64_t id = dd_unit_id(doc, (uint32_t)u);
            sh_key set_key = dd_unit_set_key(set, n);
            const uint64_t *keys = band_keys + u * DD_NEAR_UNIT_BANDS;
            /* Only the sets a later unit may ask for: those of units with
             * a key seen before (and of units with the same set). The
             * others are made again if asked for. */
            if (s->across->seen && !seen_before(s->across, keys)) {
                at = (dd_kept_set){NOT_KEPT, n};
                s->sets_left_out++;
            } else if (!keep_set(s, set, n, set_key, &at, err))
                return false;
            for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++) {
                dd_unit_entry e = {band_keys[u * DD_NEAR_UNIT_BANDS + b], set_key.lo, id};
                if (!make_room(s, err) || !dd_scratch_array_append(&s->entries[b], &e, 1, err))
                    return false;
            }
            s->units_searched++;
        }
        if (!make_room(s, err) || !dd_scratch_array_append(&s->units, &at, 1, err))
            return false;
    }
    return true;
}

/* Once every document is added: the filter of band keys seen is given
 * back to the shared budget. */
static void free_seen(dd_near_across *a)
{
    if (!a->seen)
        return;
    dd_room_resize((void *)a->seen, a->seen_words * sizeof *a->seen, 0);
    dd_scratch_budget_give(&a->shared, a->seen_words * sizeof *a->seen);
    a->seen = NULL;
    a->seen_words = 0;
}

/* Once every document is added: where each document's units are. */
static void find_doc_units(dd_near_across *a)
{
    uint32_t docs = 0; /* 1 + the last document added */
    for (size_t k = 0; k < shelves_of(a); k++)
        docs = a->shelves[k].docs > docs ? a->shelves[k].docs : docs;
    a->ndocs = docs;
    a->doc_units = dd_malloc((docs ? docs : 1) * sizeof *a->doc_units);
    for (size_t d = 0; d < docs; d++)
        a->doc_units[d] = NO_UNITS;
    for (size_t k = 0; k < shelves_of(a); k++) {
        dd_near_across_shelf *s = &a->shelves[k];
        for (size_t i = 0; i < s->ndocs_added; i++)
            a->doc_units[s->docs_added[i].doc] =
                (uint64_t)k << SHELF_SHIFT | s->docs_added[i].first;
        free(s->docs_added);
        s->docs_added = NULL;
        s->ndocs_added = s->docs_added_cap = 0;
        free_recent(s); /* no more sets are kept */
        a->units += s->units_searched;
        a->sets_shared += s->sets_shared;
        a->sets_left_out += s->sets_left_out;
    }

}

/* ------------------------------------------------------------- parts */

/* How many parts the n elements of `size` bytes are cut into so that one
 * fits in `bytes` (at most `most`, a power of 2 up to MAX_PARTS). */
static size_t parts_for(size_t n, size_t size, size_t bytes, size_t most)
{
    size_t parts = 1;
    while (parts < most && (double)n * (double)size / (double)parts > (double)bytes)
        parts *= 2;
    return parts;
}

/* Moves the elements of from[0..nfrom) (of one size) into parts[0..nparts)
 * (each made here, in a scratch file at once: a part is split off because
 * all do not fit in memory), element e to parts[part_of(e)], in order;
 * from's are freed. False, with *err set, when a scratch file cannot be
 * written. */
static bool split(dd_scratch_array *from, size_t nfrom, dd_scratch_array *parts, size_t nparts,
                  size_t (*part_of)(const void *e, const void *ctx), const void *ctx,
                  const char *dir, char **err)
{
    for (size_t p = 0; p < nparts; p++)
        dd_scratch_array_init(&parts[p], from[0].size, 1, dir, from[0].what);
    const size_t chunk = 65536;
    void *buf = NULL;
    size_t cap = 0;
    bool ok = true;
    for (size_t k = 0; k < nfrom; k++) {
        for (size_t first = 0; ok && first < from[k].n; first += chunk) {
            size_t n = from[k].n - first < chunk ? from[k].n - first : chunk;
            const char *v = dd_scratch_array_span(&from[k], first, n, &buf, &cap);
            for (size_t i = 0; ok && i < n; i++) {
                const void *e = v + i * from[k].size;
                ok = dd_scratch_array_append(&parts[part_of(e, ctx)], e, 1, err);
            }
        }
        dd_scratch_array_free(&from[k]);
    }
    free(buf);
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

/* Step 2 on the pool: an item a band, on `running` threads at once, each
 * band's pairs in an array of its own (then put end to end in band order:
 * the pairs are sorted in step 3, so their order changes nothing, but the
 * scratch files are the same whatever the thread that made them). */
typedef struct band_job {
    dd_near_across *a;
    size_t part_bytes;                /* what a part may take, held twice while sorted */
    size_t most_parts;                /* of a band: MAX_PARTS scratch files at once in all */
    size_t first;                     /* of order: the band of the loop's item 0 */
    size_t order[DD_NEAR_UNIT_BANDS]; /* the bands, those with fewest keys in scratch files first */
    dd_scratch_array pairs[DD_NEAR_UNIT_BANDS];
    char *err[DD_NEAR_UNIT_BANDS];
    size_t parts[DD_NEAR_UNIT_BANDS];
    size_t peak[DD_NEAR_UNIT_BANDS]; /* the most band b held at once */
    /* Rooms a whole band is sorted into (sort_band), one for each band
     * sorted at once (`running`), each taken by a band for its sort: its
     * pages are faulted once, not once a band (a new block of 1.7 MB a
     * band on the news: 3,700 of its 10,800 page faults at -j 1). Only
     * when every band is in memory (then every band is sorted whole, of
     * as many entries as the others): a room kept past its band would
     * otherwise be held beside the parts of a band split to fit its
     * share. None (0) otherwise: each band's room is made and freed. */
    size_t nsorted;
    dd_unit_entry **sorted;
    size_t *sorted_bytes;
    atomic_bool *sorted_taken;
} band_job;

/* A room of job's for a whole band's n entries (its number, to give it
 * back: give_sorted). Below DD_ROOM_HUGE a room is a block of the heap,
 * its pages faulted 4 KiB at a time (11 us each on the virtual machines
 * this runs on, 130 us a huge page of 2 MiB): one from DD_ROOM_COPIED up
 * is made a whole huge page, when that is at most a HUGE_ROOMS_SHARE-th
 * of what a band may hold (never at small budgets). */

static size_t take_sorted(band_job *job, size_t n)
{
    /* One is free: at most `running` bands are sorted at once. */
    size_t k = 0;
    while (atomic_exchange(&job->sorted_taken[k], true))
        k = (k + 1) % job->nsorted;
    size_t bytes = n * sizeof(dd_unit_entry);
    if (bytes >= DD_ROOM_COPIED && bytes < DD_ROOM_HUGE &&
        DD_ROOM_HUGE <= job->part_bytes / HUGE_ROOMS_SHARE)
        bytes = DD_ROOM_HUGE;
    if (bytes > job->sorted_bytes[k]) {
        /* Nothing of the room is kept: freed first, not copied. */
        dd_room_resize(job->sorted[k], job->sorted_bytes[k], 0);
        job->sorted[k] = dd_room_resize(NULL, 0, bytes);
        job->sorted_bytes[k] = bytes;
    }
    return k;
}

static void give_sorted(band_job *job, size_t k) { atomic_store(&job->sorted_taken[k], false); }

/* Sorts the n entries of band b held by from[0..nfrom) (in memory or in
 * scratch files) together and sends their candidate pairs to sink; from's
 * are freed. The entries are held twice for the while: where they are (or
 * read back), and sorted. A part of a band split to fit its share
 * (in_part) is sorted into a block of the heap, which holds its bytes: a
 * room (util.h) holds up to a huge page more, and two threads' parts of
 * 2 MiB and a few bytes held 4 MiB each at --memory 16M -j 2 on 1 GB,
 * 4 MB past the share (bench/README.md, Memory, session 20). A whole band
 * is sorted into a room: tens of megabytes at the default budget, faulted
 * a huge page at a time; when every band is in memory, a room of job's
 * (take_sorted), kept for the next band. */
static void sort_band(band_job *job, size_t b, dd_scratch_array *from, size_t nfrom, size_t n,
                      bool in_part, pair_sink *sink)
{
    const dd_unit_entry **runs = dd_malloc((nfrom ? nfrom : 1) * sizeof *runs);
    size_t *nrun = dd_malloc((nfrom ? nfrom : 1) * sizeof *nrun);
    void **read = dd_calloc(nfrom ? nfrom : 1, sizeof *read); /* what was read back */
    dd_unit_entry *sorted = NULL;
    size_t room = SIZE_MAX; /* of job's, if taken */
    if (!sink->failed && n) {
        for (size_t k = 0; k < nfrom; k++) {
            size_t cap = 0;
            runs[k] = all_of(&from[k], &read[k], &cap);
            nrun[k] = from[k].n;
        }
        if (in_part) {
            sorted = dd_malloc(n * sizeof *sorted);
        } else if (job->nsorted) {
            room = take_sorted(job, n);
            sorted = job->sorted[room];
        } else {
            sorted = dd_room_resize(NULL, 0, n * sizeof *sorted);
        }
        size_t held = 2 * n * sizeof *sorted + dd_scratch_array_memory_bytes(sink->pairs);
        if (held > job->peak[b])
            job->peak[b] = held;
        dd_unit_entries_sort_into(runs, nrun, nfrom, sorted);
    }
    for (size_t k = 0; k < nfrom; k++) {
        free(read[k]);
        dd_scratch_array_free(&from[k]);
    }
    free(read);
    free(nrun);
    free(runs);
    if (sorted)
        dd_unit_entries_pairs(sorted, n, take_pair, sink);
    if (in_part)
        free(sorted);
    else if (room != SIZE_MAX)
        give_sorted(job, room);
    else
        dd_room_resize(sorted, sorted ? n * sizeof *sorted : 0, 0);
}

/* dd_pool work: band b = job->order[job->first + i]'s candidate pairs, to
 * job->pairs[b]; its entries are freed. */
static void band_pairs(void *ctx, void *state, size_t i)
{
    (void)state;
    band_job *job = ctx;
    size_t b = job->order[job->first + i];
    dd_near_across *a = job->a;
    char **err = &job->err[b];
    pair_sink sink = {&job->pairs[b], err, false};
    /* The band's entries, on every shelf (none when no document had a
     * paragraph to search: one empty part). */
    size_t nshelves = shelves_of(a);
    if (!nshelves) {
        job->parts[b] = 1;
        return;
    }
    dd_scratch_array *entries = dd_malloc(nshelves * sizeof *entries);
    size_t n = 0, read_back = 0; /* of them, those of shelves that went to scratch files */
    for (size_t k = 0; k < nshelves; k++) {
        entries[k] = a->shelves[k].entries[b]; /* moved */
        memset(&a->shelves[k].entries[b], 0, sizeof entries[k]);
        n += entries[k].n;
        read_back += entries[k].spool ? entries[k].n : 0;
    }
    /* Sorted in one part, the band takes its sorted copy and the entries
     * read back (those in memory are the shelves'); in parts, a part is
     * held twice while it is sorted (dd_unit_entries_sort_into). */
    size_t size = sizeof(dd_unit_entry);
    size_t nparts = !read_back || (double)(n + read_back) * (double)size <= (double)job->part_bytes
                        ? 1
                        : parts_for(n, 2 * size, job->part_bytes, job->most_parts);
    if (nparts == 1) {
        /* One part: the shelves' entries are sorted together straight into
         * one array, not first gathered into another (then copied, in
         * doubling steps, and sorted in a third). */
        sort_band(job, b, entries, nshelves, n, false, &sink);
        free(entries);
        job->parts[b] = 1;
        return;
    }
    size_t bits = 0;
    while (((size_t)1 << bits) < nparts)
        bits++;
    dd_scratch_array parts[MAX_PARTS];
    bool ok = split(entries, nshelves, parts, nparts, part_of_key, &bits, a->dir, err);
    free(entries);
    if (!ok) {
        for (size_t p = 0; p < nparts; p++)
            dd_scratch_array_free(&parts[p]);
        return;
    }
    job->parts[b] = nparts;
    for (size_t p = 0; p < nparts; p++)
        sort_band(job, b, &parts[p], 1, parts[p].n, true, &sink);
}

/* Appends the elements of from to to, a span at a time; from is freed. */
static bool move_to(dd_scratch_array *from, dd_scratch_array *to, char **err)
{
    const size_t chunk = 65536;
    void *buf = NULL;
    size_t cap = 0;
    bool ok = true;
    for (size_t first = 0; ok && first < from->n; first += chunk) {
        size_t n = from->n - first < chunk ? from->n - first : chunk;
        ok = dd_scratch_array_append(to, dd_scratch_array_span(from, first, n, &buf, &cap), n, err);
    }
    free(buf);
    dd_scratch_array_free(from);
    return ok;
}

/* The bands' pairs put end to end (put_together), each band copied into
 * its place by an item of the pool. */
typedef struct bands_together {
    band_job *job;
    char *to;
    size_t at[DD_NEAR_UNIT_BANDS]; /* where band b's pairs go, in pairs */
} bands_together;

static void put_band(void *ctx, void *state, size_t b)
{
    (void)state;
    bands_together *t = ctx;
    dd_scratch_array *from = &t->job->pairs[b];
    if (from->n)
        memcpy(t->to + t->at[b] * from->size, dd_scratch_array_span(from, 0, from->n, NULL, NULL),
               from->n * from->size);
    dd_scratch_array_free(from);
}

/* Puts the pairs of every band of job end to end in band order in pairs,
 * on the pool at once, when they are all in memory and fit pairs' room
 * there: true then (the bands' are freed). Appended a span at a time on
 * the calling thread alone (move_to), the news at -j 2 spent 5-6 ms of
 * CPU with the other thread asleep in this copy and its page faults
 * (bench/bench_timeline.sh; bench/README.md, Threads, session 19). */
static bool put_together(band_job *job, dd_pool *pool, dd_scratch_array *pairs)
{
    bands_together t = {.job = job};
    size_t n = 0;
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++) {
        if (job->pairs[b].spool)
            return false;
        t.at[b] = n;
        n += job->pairs[b].n;
    }
    if (!(t.to = dd_scratch_array_append_room(pairs, n)))
        return false;
    dd_pool_for(pool, DD_NEAR_UNIT_BANDS, &t, put_band);
    return true;
}

/* What the later steps (2 and 3) may hold now: the eighth of the share
 * the shelves did not have, and what they left of the rest (or gave back). */
static size_t later_steps_bytes(const dd_near_across *a)
{
    size_t bytes = a->share / 8 + atomic_load(&a->shared.left);
    return bytes ? bytes : 1;
}

/* Step 3 reads the set of each unit of every pair, anywhere on the
 * shelves, and where it is first (dd_kept_set): those of a shelf that
 * went to scratch files while documents were added come back into memory
 * (where the sets are, then the sets, shelf by shelf), their room taken
 * from the shared budget, as long as they take at most half of what the
 * later steps have once the band keys are freed and leave a part of the
 * pairs (held twice while sorted) what it needs: the pairs are cut into
 * as many parts as they would be without them (more parts would make
 * the documents of the sets left out again once more each). Read from
 * memory, a set costs what it costs when it never left: read back one
 * pread at a time (from the page cache at best), the verification of
 * 1 GB at --memory 256M took 2.2 s of CPU against 0.2. */
static void back_in(dd_near_across *a, const dd_scratch_array *pairs)
{
    size_t work = later_steps_bytes(a), room = work / 2;
    size_t nparts =
        pairs->spool ? parts_for(pairs->n, 2 * pairs->size, work, MAX_PARTS) : 1;
    double part = 2.0 * (double)pairs->n * (double)pairs->size / (double)nparts;
    if (part > (double)(work - room))
        room = part < (double)work ? work - (size_t)part - 1 : 0;
    for (size_t kind = 0; kind < 2; kind++)
        for (size_t k = 0; k < shelves_of(a); k++) {
            dd_near_across_shelf *s = &a->shelves[k];
            dd_scratch_array *v = kind == 0 ? &s->units : &s->sets;
            if (!v->spool)
                continue;
            size_t bytes = v->n * v->size, left = atomic_load(&a->shared.left);
            if (bytes > room || !dd_scratch_array_move_in(v, left > room ? left - room : 0))
                return;
            room -= bytes;
            a->back_in_bytes += bytes;
        }
}

/* Step 2: every band's candidate pairs, to pairs (the bands on the pool,
 * `running` at once); the entries are freed. */
static bool all_band_pairs(dd_near_across *a, dd_pool *pool, size_t running,
                           dd_scratch_array *pairs, char **err)
{
    band_job job = {.a = a};
    /* As many bands at once as threads, each a part of its share of the
     * budget at a time (its pairs within its share of half of it), but
     * fewer when the parts of the largest band in the scratch files that
     * are its share would not fit their share. */
    size_t largest = 0; /* bytes of the entries of a band kept in scratch files */
    size_t spooled[DD_NEAR_UNIT_BANDS];
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++) {
        size_t bytes = 0;
        for (size_t k = 0; k < shelves_of(a); k++)
            bytes += a->shelves[k].entries[b].spool
                         ? a->shelves[k].entries[b].n * sizeof(dd_unit_entry)
                         : 0;
        largest = bytes > largest ? bytes : largest;
        spooled[b] = bytes;
    }
    /* The bands in memory first: once done they give back their room,
     * which the parts of those in scratch files then take (fewer parts,
     * written again fewer times). Their pairs are put end to end in band
     * order whatever the order they were made in. */
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++) {
        size_t k = b;
        for (; k > 0 && spooled[job.order[k - 1]] > spooled[b]; k--)
            job.order[k] = job.order[k - 1];
        job.order[k] = b;
    }
    size_t at_once = running < DD_NEAR_UNIT_BANDS ? running : DD_NEAR_UNIT_BANDS;
    for (;; at_once--) {
        job.part_bytes = a->work_bytes / at_once ? a->work_bytes / at_once : 1;
        job.most_parts = MAX_PARTS;
        while (job.most_parts > 1 && job.most_parts * at_once > MAX_PARTS)
            job.most_parts /= 2;
        if (at_once == 1 || (double)largest * 2 / (double)job.most_parts <= (double)job.part_bytes)
            break;
    }
    job.nsorted = largest == 0 ? running : 0;
    job.sorted = dd_calloc(running, sizeof *job.sorted);
    job.sorted_bytes = dd_calloc(running, sizeof *job.sorted_bytes);
    job.sorted_taken = dd_malloc(running * sizeof *job.sorted_taken);
    for (size_t k = 0; k < running; k++)
        atomic_init(&job.sorted_taken[k], false);
    size_t band_pair_bytes = a->work_bytes / 2 / DD_NEAR_UNIT_BANDS;
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++)
        dd_scratch_array_init(&job.pairs[b], sizeof(dd_unit_pair),
                              band_pair_bytes ? band_pair_bytes : 1, a->dir,
                              "the candidate pairs of paragraphs");
    /* With every band in memory and one at a time on each thread, the
     * bands are one loop: a thread that is done with its band takes the
     * next at once, instead of waiting for the others' at the end of each
     * at_once (at -j 2 on the news, 7 bands in loops of 2, 2, 2 and 1, the
     * last alone). The pool's threads still hold at_once bands at most. */
    size_t step = largest == 0 && at_once == running ? DD_NEAR_UNIT_BANDS : at_once;
    for (job.first = 0; job.first < DD_NEAR_UNIT_BANDS; job.first += step) {
        /* The bands done gave back their room in memory: the next ones
         * may take it. */
        size_t work = later_steps_bytes(a);
        if (work / at_once > job.part_bytes)
            job.part_bytes = work / at_once;
        size_t n = DD_NEAR_UNIT_BANDS - job.first;
        dd_pool_for(pool, n < step ? n : step, &job, band_pairs);
    }
    for (size_t k = 0; k < job.nsorted; k++)
        dd_room_resize(job.sorted[k], job.sorted_bytes[k], 0);
    free(job.sorted);
    free(job.sorted_bytes);
    free(job.sorted_taken);
    bool ok = true;
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++)
        if (ok && job.err[b]) {
            *err = job.err[b];
            job.err[b] = NULL;
            ok = false;
        }
    bool put = ok && put_together(&job, pool, pairs);
    size_t peaks[DD_NEAR_UNIT_BANDS];
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++) {
        free(job.err[b]);
        if (ok && !put)
            ok = move_to(&job.pairs[b], pairs, err);
        dd_scratch_array_free(&job.pairs[b]);
        a->parts[0] += job.parts[b];
        peaks[b] = job.peak[b];
    }
    /* At most the at_once largest bands were held at once. */
    size_t held = 0;
    for (size_t k = 0; k < at_once; k++) {
        size_t most = 0;
        for (size_t b = 1; b < DD_NEAR_UNIT_BANDS; b++)
            most = peaks[b] > peaks[most] ? b : most;
        held += peaks[most];
        peaks[most] = 0;
    }
    if (held > a->peak_bytes)
        a->peak_bytes = held;
    return ok;
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
    uint64_t *ids;        /* the units an item asks for (src->ahead) */
    size_t ids_cap;
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
    free(k->ids);
    dd_set_cache_free(&k->earlier);
    free(k);
}

/* Where unit id's set is: on *sets at `at` (true); false when it has
 * none (at->n 0: it was not kept, an internal error) or its document
 * changed since its set was left out (at->n not 0). Where the set is is
 * read one element at a time (one_read: a copy, for units anywhere) or
 * through the thread's blocks (for units in order). */
static bool find_set(const dd_near_across *a, uint64_t id, bool one_read,
                     const dd_scratch_array **sets, dd_kept_set *at)
{
    uint32_t doc = dd_unit_id_doc(id);
    uint64_t place = doc < a->ndocs ? a->doc_units[doc] : NO_UNITS;
    const dd_near_across_shelf *s = place == NO_UNITS ? NULL : &a->shelves[place >> SHELF_SHIFT];
    size_t u = (size_t)(place & PLACE_MASK) + dd_unit_id_unit(id);
    *at = (dd_kept_set){0, 0};
    if (s && u < s->units.n) {
        if (one_read)
            dd_scratch_array_copy(&s->units, u, at);
        else
            *at = *(const dd_kept_set *)dd_scratch_array_get(&s->units, u);
    }
    *sets = s ? &s->sets : NULL;
    if (at->n && at->word == NOT_KEPT) { /* made again for this part */
        size_t lo;
        DD_LOWER_BOUND(lo, a->nremade, i, a->remade_ids[i] < id);
        if (lo == a->nremade || a->remade_ids[lo] != id)
            at->n = 0;
        else if (!a->remade_at[lo].n)
            return false; /* its document changed */
        else {
            *at = a->remade_at[lo];
            *sets = &a->remade;
        }
    }
    return at->n != 0;
}

/* A set read ahead: unit id's n hashes, at `at` on the reader's got. */
typedef struct ahead_set {
    uint64_t id;
    size_t at, n;
} ahead_set;

/* A set to read ahead: of ahead[k], `first` on `sets`. */
typedef struct ahead_read {
    const dd_scratch_array *sets;
    size_t first, n, k;
} ahead_read;

/* Sets read from scratch files in runs of sets at most this many bytes
 * apart: a read costs about what copying 4 KB does. */
#define AHEAD_GAP 4096
/* The bytes of the sets a reader reads ahead at once, at most: a
 * sixteenth of what step 3 has, within these. */
#define AHEAD_MOST ((size_t)2 << 20)
#define AHEAD_LEAST ((size_t)64 << 10)

/* A verifying thread's reader of a dd_near_across: its buffer for a set
 * read back from a scratch file alone, and the sets it read ahead. */
typedef struct set_reader {
    dd_near_across *a;  /* whose counts of sets read ahead it adds to */
    uint64_t *v;
    size_t cap;
    size_t most;       /* bytes of got, at most */
    ahead_set *ahead;  /* [0..nahead), by id */
    size_t nahead, ahead_cap;
    uint64_t *got;     /* their hashes */
    size_t got_cap;
    ahead_read *reads; /* building them */
    size_t reads_cap;
    dd_scratch_span *spans;
    size_t spans_cap;
    unsigned char *run; /* a run of sets read at once */
    size_t run_cap;
} set_reader;

static void *set_reader_new(const void *ctx)
{
    dd_near_across *a = (dd_near_across *)ctx; /* only its counts change */
    set_reader *r = dd_calloc(1, sizeof(set_reader));
    r->a = a;
    r->most = a->work_bytes / 16;
    r->most = r->most > AHEAD_MOST ? AHEAD_MOST : r->most < AHEAD_LEAST ? AHEAD_LEAST : r->most;
    return r;
}

static void set_reader_free(void *reader)
{
    set_reader *r = reader;
    if (r) {
        free(r->v);
        free(r->ahead);
        free(r->got);
        free(r->reads);
        free(r->spans);
        free(r->run);
    }
    free(r);
}

static int compare_reads(const void *x, const void *y)
{
    const ahead_read *a = x, *b = y;
    if (a->sets != b->sets)
        return (uintptr_t)a->sets < (uintptr_t)b->sets ? -1 : 1;
    return a->first < b->first ? -1 : a->first > b->first;
}

/* dd_unit_source.ahead of a dd_near_across (ctx): the sets of ids[0..n)
 * that are in scratch files, as many as fit the reader's most bytes (in
 * id order), read in the order of the files, runs of them at once:
 * those of consecutive later units are mostly next to each other there,
 * and so are the units of a document quoted often. */
static void set_reader_ahead(const void *ctx, void *reader, const uint64_t *ids, size_t n)
{
    const dd_near_across *a = ctx;
    set_reader *r = reader;
    r->nahead = 0;
    size_t nreads = 0, words = 0;
    for (size_t i = 0; i < n; i++) {
        const dd_scratch_array *sets;
        dd_kept_set at;
        if (!find_set(a, ids[i], false, &sets, &at) ||
            dd_scratch_array_in_memory(sets, (size_t)at.word, (size_t)at.n))
            continue; /* said by unit_by_id, or read from memory there */
        if ((words + at.n) * sizeof *r->got > r->most)
            break;
        dd_grow(&r->ahead, &r->ahead_cap, r->nahead + 1, sizeof *r->ahead);
        dd_grow(&r->reads, &r->reads_cap, nreads + 1, sizeof *r->reads);
        r->reads[nreads++] = (ahead_read){sets, (size_t)at.word, (size_t)at.n, r->nahead};
        r->ahead[r->nahead++] = (ahead_set){ids[i], 0, (size_t)at.n};
        words += (size_t)at.n;
    }
    if (!nreads)
        return;
    qsort(r->reads, nreads, sizeof *r->reads, compare_reads);
    dd_grow(&r->got, &r->got_cap, words ? words : 1, sizeof *r->got);
    size_t to = 0;
    for (size_t i = 0; i < nreads;) {
        /* The reads of one array: a set shared by several units is read once. */
        size_t j = i, nspans = 0;
        for (; j < nreads && r->reads[j].sets == r->reads[i].sets; j++) {
            ahead_read *x = &r->reads[j];
            if (nspans && r->spans[nspans - 1].first == x->first) {
                r->ahead[x->k].at = r->spans[nspans - 1].to;
                continue;
            }
            dd_grow(&r->spans, &r->spans_cap, nspans + 1, sizeof *r->spans);
            r->spans[nspans++] = (dd_scratch_span){x->first, x->n, to};
            r->ahead[x->k].at = to;
            to += x->n;
        }
        size_t reads = dd_scratch_array_gather(r->reads[i].sets, r->spans, nspans, r->got,
                                               AHEAD_GAP, &r->run, &r->run_cap);
        atomic_fetch_add_explicit(&r->a->reads_ahead, reads, memory_order_relaxed);
        atomic_fetch_add_explicit(&r->a->sets_ahead, nspans, memory_order_relaxed);
        i = j;
    }
}

/* dd_unit_source.unit of a dd_near_across (ctx): unit id, read into *buf
 * (*cap as dd_grow has it): read ahead, or where its document's units are
 * (in memory), where its set is on its shelf, then the set. */
static const uint64_t *unit_by_id(const void *ctx, void *reader, uint64_t id, uint64_t **buf,
                                  size_t *cap, char **why)
{
    const dd_near_across *a = ctx;
    set_reader *r = reader;
    const uint64_t *set = NULL;
    size_t n = 0;
    size_t lo;
    DD_LOWER_BOUND(lo, r->nahead, i, r->ahead[i].id < id);
    if (lo < r->nahead && r->ahead[lo].id == id) {
        set = r->got + r->ahead[lo].at;
        n = r->ahead[lo].n;
    } else {
        const dd_scratch_array *sets;
        dd_kept_set at;
        if (!find_set(a, id, true, &sets, &at)) {
            if (at.n) {
                *why = NULL; /* its document changed: no pair of it holds */
                return NULL;
            }
            *why = dd_asprintf("internal error: paragraph %" PRIu32 " of document %" PRIu32
                               " was not kept for the search across documents",
                               dd_unit_id_unit(id), dd_unit_id_doc(id));
            return NULL;
        }
        set = dd_scratch_array_span(sets, (size_t)at.word, (size_t)at.n, &r->v, &r->cap);
        n = (size_t)at.n;
    }
    dd_grow(buf, cap, 2 + n, sizeof **buf);
    (*buf)[0] = id;
    (*buf)[1] = n;
    memcpy(*buf + 2, set, n * sizeof **buf);
    return *buf;
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
    bool later_gone = false; /* its set could not be made again */
    if (src->ahead) {
        /* The units the item asks for, but the earlier ones the thread
         * holds already. */
        size_t first = job->item_start[i], end = job->item_start[i + 1], nids = 0;
        dd_grow(&k->ids, &k->ids_cap, 4 * (end - first) + 1, sizeof *k->ids);
        for (size_t p = first; p < end; p++) {
            if (p == first || job->pairs[p].later != job->pairs[p - 1].later)
                k->ids[nids++] = job->pairs[p].later;
            if (!dd_set_cache_find(&k->earlier, job->pairs[p].earlier, 0))
                k->ids[nids++] = job->pairs[p].earlier;
        }
        dd_sort_u64(k->ids, k->ids + 2 * (end - first), nids);
        size_t unique = 0;
        for (size_t x = 0; x < nids; x++)
            if (!unique || k->ids[x] != k->ids[unique - 1])
                k->ids[unique++] = k->ids[x];
        src->ahead(src->ctx, k->reader, k->ids, unique);
    }
    for (size_t p = job->item_start[i]; p < job->item_start[i + 1]; p++) {
        const dd_unit_pair *pair = &job->pairs[p];
        if (pair->later == later_id && later_gone)
            continue;
        if (pair->later != later_id) {
            later_id = pair->later;
            const uint64_t *later =
                src->unit(src->ctx, k->reader, later_id, &k->later, &k->later_cap, &job->why[i]);
            later_gone = !later && !job->why[i];
            if (later_gone)
                continue;
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
            const uint64_t *earlier =
                src->unit(src->ctx, k->reader, pair->earlier, &slot->set, &slot->cap, &job->why[i]);
            if (!earlier && !job->why[i])
                continue; /* its set could not be made again: the slot stays empty */
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
    size_t threads = dd_pool_threads(verifier->pool) + 1;
    size_t per_item = n / (ITEMS_A_THREAD * threads);
    per_item = per_item > PAIRS_PER_ITEM       ? PAIRS_PER_ITEM
               : per_item < PAIRS_PER_ITEM_MIN ? PAIRS_PER_ITEM_MIN
                                               : per_item;
    size_t *item_start = dd_malloc((n / per_item + 2) * sizeof *item_start);
    size_t items = 0;
    item_start[0] = 0;
    for (size_t p = 0; p < n;) {
        size_t end = p + per_item < n ? p + per_item : n;
        while (end < n && v[end].later == v[end - 1].later)
            end++;
        item_start[++items] = end;
        p = end;
        if (items + 1 >= n / per_item + 2)
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

/* ------------------------------------- step 3: sets made again */

/* Where unit id's set is said to be on its shelf ({0, 0}: not searched). */
static dd_kept_set kept_at(const dd_near_across *a, uint64_t id)
{
    dd_kept_set at = {0, 0};
    uint32_t doc = dd_unit_id_doc(id);
    uint64_t place = doc < a->ndocs ? a->doc_units[doc] : NO_UNITS;
    if (place == NO_UNITS)
        return at;
    const dd_near_across_shelf *s = &a->shelves[place >> SHELF_SHIFT];
    size_t u = (size_t)(place & PLACE_MASK) + dd_unit_id_unit(id);
    if (u < s->units.n)
        dd_scratch_array_copy(&s->units, u, &at);
    return at;
}

static int compare_ids(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* A batch of documents whose units' sets are made again. */
typedef struct remake_job {
    const dd_near_across *a;
    const uint64_t *ids;     /* the units asked for, sorted */
    const size_t *doc_start; /* document d of the batch: ids[doc_start[d] .. doc_start[d + 1]) */
    dd_kept_set *at;         /* per unit: n (as kept), then where in its document's sets */
    uint64_t **sets;         /* per document: the sets of its units asked for */
    uint64_t *bytes;         /* per document: the bytes of its text read */
    bool *made;              /* per document: its sets were made as first */
} remake_job;

static void *remaker_new(void *ctx)
{
    const dd_near_across *a = ctx;
    return a->remaker.state_new(a->remaker.ctx);
}

static void remaker_free(void *ctx, void *state)
{
    const dd_near_across *a = ctx;
    if (state)
        a->remaker.state_free(a->remaker.ctx, state);
}

/* dd_pool work: document d of the batch, analysed again; the sets of its
 * units asked for, copied out when each is the size it had. */
static void remake_doc(void *ctx, void *state, size_t d)
{
    remake_job *job = ctx;
    const dd_unit_remaker *r = &job->a->remaker;
    size_t first = job->doc_start[d], end = job->doc_start[d + 1];
    size_t nunits = 0;
    job->bytes[d] = 0;
    job->made[d] = false;
    const dd_unit_sets *sets =
        state ? r->sets(r->ctx, state, dd_unit_id_doc(job->ids[first]), &nunits, &job->bytes[d])
              : NULL;
    if (!sets)
        return;
    size_t total = 0;
    for (size_t k = first; k < end; k++) {
        uint32_t u = dd_unit_id_unit(job->ids[k]);
        if (u >= nunits || sets->start[u + 1] - sets->start[u] != job->at[k].n)
            return; /* not the units it had: it changed */
        total += (size_t)job->at[k].n;
    }
    job->sets[d] = dd_malloc((total ? total : 1) * sizeof **job->sets);
    size_t word = 0;
    for (size_t k = first; k < end; k++) {
        uint32_t u = dd_unit_id_unit(job->ids[k]);
        memcpy(job->sets[d] + word, sets->hashes + sets->start[u],
               (size_t)job->at[k].n * sizeof **job->sets);
        job->at[k].word = word;
        word += (size_t)job->at[k].n;
    }
    job->made[d] = true;
}

/* Makes again the sets the pairs v[0..n) ask for that were left out, on
 * pool's threads, a document once: a->remade_ids, a->remade_at and
 * a->remade, for unit_by_id. False, with *err set, when a scratch file
 * could not be written. */
static bool remake_sets(dd_near_across *a, dd_pool *pool, const dd_unit_pair *v, size_t n,
                        char **err)
{
    double start = dd_monotonic_seconds();
    free_remade(a);
    /* The sets of the part's units are read back in memory up to a
     * quarter of what the later steps have, past it from a scratch file. */
    dd_scratch_array_init(&a->remade, sizeof(uint64_t), a->work_bytes / 4 ? a->work_bytes / 4 : 1,
                          a->dir, "the sets of paragraphs made again");
    size_t cap = 0, nids = 0;
    uint64_t *ids = NULL;
    for (size_t p = 0; p < n; p++) {
        uint64_t two[2] = {v[p].later, v[p].earlier};
        for (size_t k = 0; k < 2; k++) {
            if (p > 0 && k == 0 && v[p].later == v[p - 1].later)
                continue;
            dd_kept_set at = kept_at(a, two[k]);
            if (!at.n || at.word != NOT_KEPT)
                continue;
            dd_grow(&ids, &cap, nids + 1, sizeof *ids);
            ids[nids++] = two[k];
        }
    }
    if (!nids) {
        free(ids);
        return true;
    }
    qsort(ids, nids, sizeof *ids, compare_ids);
    size_t unique = 0;
    for (size_t k = 0; k < nids; k++)
        if (!unique || ids[k] != ids[unique - 1])
            ids[unique++] = ids[k];
    a->remade_ids = ids;
    a->nremade = unique;
    a->remade_at = dd_malloc(unique * sizeof *a->remade_at);
    for (size_t k = 0; k < unique; k++)
        a->remade_at[k] = kept_at(a, ids[k]);
    /* The documents, a batch at a time. */
    size_t *doc_start = dd_malloc((REMAKE_BATCH + 1) * sizeof *doc_start);
    uint64_t **sets = dd_calloc(REMAKE_BATCH, sizeof *sets);
    uint64_t *bytes = dd_malloc(REMAKE_BATCH * sizeof *bytes);
    bool *made = dd_malloc(REMAKE_BATCH * sizeof *made);
    bool ok = true;
    for (size_t k = 0; ok && k < unique;) {
        size_t ndocs = 0;
        while (k < unique && ndocs < REMAKE_BATCH) {
            doc_start[ndocs++] = k;
            uint32_t doc = dd_unit_id_doc(ids[k]);
            while (k < unique && dd_unit_id_doc(ids[k]) == doc)
                k++;
        }
        doc_start[ndocs] = k;
        remake_job job = {a, ids, doc_start, a->remade_at, sets, bytes, made};
        dd_pool_for(pool, ndocs, &job, remake_doc);
        for (size_t d = 0; d < ndocs; d++) {
            a->docs_remade++;
            a->bytes_remade += bytes[d];
            a->docs_changed += !made[d];
            for (size_t u = doc_start[d]; u < doc_start[d + 1]; u++) {
                dd_kept_set *at = &a->remade_at[u];
                if (!made[d]) {
                    at->n = 0;
                    continue;
                }
                uint64_t word = a->remade.n;
                if (ok)
                    ok = dd_scratch_array_append(&a->remade, sets[d] + at->word, (size_t)at->n,
                                                 err);
                at->word = word;
                a->sets_remade++;
            }
            free(sets[d]);
            sets[d] = NULL;
        }
    }
    free(made);
    free(bytes);
    free(sets);
    free(doc_start);
    a->remake_seconds += dd_monotonic_seconds() - start;
    return ok;
}

/* Step 3's sort on the pool: ranges of later units, each sorted alone. */
typedef struct sort_job {
    dd_unit_pair *pairs;
    const size_t *start; /* range r: pairs[start[r] .. start[r + 1]) */
    size_t *kept;        /* per range: the pairs left, unique */
} sort_job;

/* dd_pool work: sorts range r. */
static void sort_range(void *ctx, void *state, size_t r)
{
    (void)state;
    sort_job *job = ctx;
    job->kept[r] =
        dd_unit_pairs_sort(job->pairs + job->start[r], job->start[r + 1] - job->start[r]);
}

/* dd_unit_pairs_sort of v[0..n) on the pool's `running` threads: returns
 * how many pairs are left. Holds a copy of v for the while. */
static size_t sort_pairs(dd_pool *pool, size_t running, dd_unit_pair *v, size_t n)
{
    if (running == 1 || n < 2 * PAIRS_PER_ITEM)
        return dd_unit_pairs_sort(v, n);
    size_t ranges = 8 * running; /* a few per thread: ranges differ in size */
    dd_unit_pair *by_range = dd_malloc(n * sizeof *by_range);
    size_t *start = dd_malloc((ranges + 1) * sizeof *start);
    size_t *kept = dd_malloc(ranges * sizeof *kept);
    dd_unit_pairs_partition(v, n, ranges, by_range, start);
    sort_job job = {by_range, start, kept};
    dd_pool_for(pool, ranges, &job, sort_range);
    size_t left = 0;
    for (size_t r = 0; r < ranges; r++) {
        memcpy(v + left, by_range + start[r], kept[r] * sizeof *v);
        left += kept[r];
    }
    free(kept);
    free(start);
    free(by_range);
    return left;
}

static size_t part_of_later(const void *e, const void *ctx)
{
    const uint64_t *range = ctx; /* documents per part, parts */
    size_t p = (size_t)(dd_unit_id_doc(((const dd_unit_pair *)e)->later) / range[0]);
    return p < range[1] ? p : range[1] - 1;
}


bool dd_near_across_find(dd_near_across *a, unsigned threads, double threshold,
                         bool (*take)(void *ctx, const dd_near_unit *v, size_t n), void *ctx,
                         char **err)
{
    *err = NULL;
    double start = dd_monotonic_seconds();
    free_seen(a);
    a->work_bytes = later_steps_bytes(a);
    /* The pairs are made and sorted on a pool of their own (its items
     * are not verification, and its stats say so). */
    dd_pool *making = dd_pool_new("paragraph pairs", threads, NULL, NULL, NULL);
    size_t running = dd_pool_threads(making) + 1;
    dd_scratch_array pairs;
    dd_scratch_array_init(&pairs, sizeof(dd_unit_pair), a->work_bytes / 2 ? a->work_bytes / 2 : 1,
                          a->dir, "the candidate pairs of paragraphs");
    bool ok = all_band_pairs(a, making, running, &pairs, err);
    if (ok)
        back_in(a, &pairs);
    a->work_bytes = later_steps_bytes(a); /* the band keys are freed, the sets back in */
    /* A part is held twice while it is sorted (sort_pairs). */
    size_t nparts = pairs.spool ? parts_for(pairs.n, 2 * pairs.size, a->work_bytes, MAX_PARTS) : 1;
    dd_scratch_array parts[MAX_PARTS];
    find_doc_units(a);
    uint64_t range[2] = {a->ndocs / nparts + 1, nparts};
    if (!ok) {
        dd_scratch_array_free(&pairs);
        dd_pool_free(making);
        return false;
    }
    if (nparts == 1)
        parts[0] = pairs;
    else if (!split(&pairs, 1, parts, nparts, part_of_later, range, a->dir, err)) {
        for (size_t p = 0; p < nparts; p++)
            dd_scratch_array_free(&parts[p]);
        dd_pool_free(making);
        return false;
    }
    a->parts[1] = nparts;
    a->seconds[0] = dd_monotonic_seconds() - start;
    dd_unit_source src = {unit_by_id, set_reader_new, set_reader_free, a, set_reader_ahead};
    dd_unit_verifier *verifier = dd_unit_verifier_new(&src, threads, threshold);
    /* Those whose sets were left out have them made again, on a pool of
     * their own (each thread analyses documents). */
    dd_pool *remaking = a->sets_left_out ? dd_pool_new("paragraph sets made again", threads, a,
                                                       remaker_new, remaker_free)
                                         : NULL;
    dd_unit_pair *buf = NULL;
    size_t cap = 0;
    for (size_t p = 0; p < nparts; p++) {
        dd_unit_pair *v = ok ? all_of(&parts[p], &buf, &cap) : NULL;
        if (v) {
            if (2 * parts[p].n * sizeof *v > a->peak_bytes)
                a->peak_bytes = 2 * parts[p].n * sizeof *v;
            size_t n = sort_pairs(making, running, v, parts[p].n);
            char *why = NULL;
            ok = !remaking || remake_sets(a, remaking, v, n, err);
            if (ok)
                ok = dd_unit_verifier_run(verifier, v, n, take, ctx, &why);
            free(why); /* in memory or a scratch file: every unit is read */
            a->pairs += n;
        }
        dd_scratch_array_free(&parts[p]);
    }
    free(buf);
    free_remade(a);
    dd_unit_verifier_free(verifier);
    dd_pool_free(remaking);
    dd_pool_free(making);
    a->seconds[1] = dd_monotonic_seconds() - start - a->seconds[0];
    return ok;
}
