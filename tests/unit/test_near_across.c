/*
 * test_near_across.c - the near-repeats of paragraphs across documents
 * found a part at a time (run/near_across.h, engine/unit_pairs.h) are
 * those the in-memory index finds, searching the documents in order
 * (dd_find_near_units_across): the same matches, in the same order, the
 * same alternatives, at every budget (one part, or many parts in scratch
 * files) and thread count; and so are those found a batch of documents at
 * a time (dd_find_near_units_batch), at every batch size.
 *
 * The units are generated: families of variants of a few base sets (a
 * shingle or two changed: Jaccard about 0.9, so their band keys collide
 * and a family fills its buckets past DD_NEAR_UNIT_MAX_BUCKET), exact
 * copies in other documents and inside one document, and random units
 * that match nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "run/near_across.h"
#include "util.h"

#define DOCS 400
#define MAX_UNITS 12
#define FAMILIES 6
#define BASE 24 /* shingles of a base set */

typedef struct gen_doc {
    dd_doc doc;
    dd_unit_sets sets;
    uint64_t *keys;
    size_t keys_cap;
    sh_key *set_keys;
    size_t set_keys_cap;
} gen_doc;

static uint64_t state = 0x1234567;
static uint64_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static uint64_t base[FAMILIES][BASE];
static gen_doc docs[DOCS];

/* A unit's set into s: a variant of a family, an exact copy of a base,
 * or random; its size. */
static size_t make_set(uint64_t *s)
{
    uint64_t kind = next() % 10;
    if (kind < 3) { /* random */
        size_t n = 8 + next() % 20;
        for (size_t i = 0; i < n; i++)
            s[i] = next();
        return n;
    }
    const uint64_t *b = base[next() % FAMILIES];
    memcpy(s, b, BASE * sizeof *s);
    if (kind < 5) /* an exact copy */
        return BASE;
    size_t changes = 1 + next() % 3; /* a variant */
    for (size_t k = 0; k < changes; k++)
        s[next() % BASE] = next() % 64; /* a few values, so that variants repeat */
    /* distinct values only */
    size_t n = 0;
    for (size_t i = 0; i < BASE; i++) {
        bool seen = false;
        for (size_t j = 0; j < n && !seen; j++)
            seen = s[j] == s[i];
        if (!seen)
            s[n++] = s[i];
    }
    return n;
}

static void generate(void)
{
    sh_hasher hash = sh_hasher_plain(7);
    sh_minhasher *m = dd_unit_minhasher_new(&hash);
    for (size_t f = 0; f < FAMILIES; f++)
        for (size_t i = 0; i < BASE; i++)
            base[f][i] = next();
    for (size_t d = 0; d < DOCS; d++) {
        gen_doc *g = &docs[d];
        size_t nunits = 1 + next() % MAX_UNITS;
        g->doc.units = calloc(nunits, sizeof *g->doc.units);
        g->doc.nunits = nunits;
        g->sets.hashes = malloc(nunits * BASE * 2 * sizeof *g->sets.hashes);
        g->sets.start = malloc((nunits + 1) * sizeof *g->sets.start);
        size_t at = 0;
        for (size_t u = 0; u < nunits; u++) {
            g->sets.start[u] = at;
            if (u > 0 && next() % 8 == 0) { /* a copy of the unit before, inside the document */
                size_t n = g->sets.start[u] - g->sets.start[u - 1];
                memcpy(g->sets.hashes + at, g->sets.hashes + g->sets.start[u - 1], n * 8);
                at += n;
            } else
                at += make_set(g->sets.hashes + at);
            size_t n = at - g->sets.start[u];
            g->doc.units[u].words = (uint32_t)(next() % 16 == 0 ? 5 : n + 2); /* a few short */
        }
        g->sets.start[nunits] = at;
        dd_unit_band_keys(m, &g->doc, &g->sets, &g->keys, &g->keys_cap);
        dd_unit_set_keys(&g->doc, &g->sets, &g->set_keys, &g->set_keys_cap);
    }
    sh_minhasher_free(m);
}

/* dd_find_near_units_across's reader: the generated set. */
static bool read_set(void *ctx, uint32_t doc, size_t unit, uint64_t **set, size_t *cap, size_t *n)
{
    (void)ctx;
    const dd_unit_sets *s = &docs[doc].sets;
    *n = s->start[unit + 1] - s->start[unit];
    dd_grow(set, cap, *n + 1, sizeof **set);
    memcpy(*set, s->hashes + s->start[unit], *n * sizeof **set);
    return true;
}

static void reference(dd_near_unit_list *out)
{
    dd_unit_index *ix = dd_unit_index_new();
    for (size_t d = 0; d < DOCS; d++) {
        gen_doc *g = &docs[d];
        dd_find_near_units_across(ix, (uint32_t)d, g->doc.units, g->doc.nunits, &g->sets, g->keys,
                                  g->set_keys, 0.8, read_set, NULL, out);
    }
    dd_unit_index_free(ix);
}

static bool take(void *ctx, const dd_near_unit *v, size_t n)
{
    dd_near_units_append(ctx, v, n);
    return true;
}

/* Every document's units added to `shelves` shelves of a (at most 4),
 * document d to shelf d % shelves; with several shelves, from the last
 * document to the first, as threads that analyse take them out of order. */
static void add_to_shelves(dd_near_across *a, size_t shelves, char **err)
{
    dd_near_across_shelf *shelf[4];
    for (size_t k = 0; k < shelves; k++)
        shelf[k] = dd_near_across_claim(a);
    for (size_t step = 0; step < DOCS; step++) {
        size_t d = shelves == 1 ? step : DOCS - 1 - step;
        gen_doc *g = &docs[d];
        assert_true(dd_near_across_add(shelf[d % shelves], (uint32_t)d, g->doc.units, g->doc.nunits,
                                       &g->sets, g->keys, err));
    }
}

/* The units of every document, added to `shelves` shelves (a document to
 * shelf d % shelves, in an order other than rank order when there are
 * several, as threads that analyse do), then searched. */
static void by_parts(size_t share, unsigned threads, size_t shelves, dd_near_unit_list *out,
                     uint64_t *parts)
{
    dd_near_across a;
    dd_near_across_init(&a, share, shelves, shelves, NULL);
    char *err = NULL;
    add_to_shelves(&a, shelves, &err);
    assert_true(dd_near_across_find(&a, threads, 0.8, take, out, &err));
    parts[0] = a.parts[0];
    parts[1] = a.parts[1];
    dd_near_across_free(&a);
}

static void assert_same(const dd_near_unit_list *x, const dd_near_unit_list *y)
{
    assert_int_equal(x->n, y->n);
    for (size_t i = 0; i < x->n; i++) {
        const dd_near_unit *a = &x->v[i], *b = &y->v[i];
        assert_int_equal(a->doc, b->doc);
        assert_int_equal(a->of_doc, b->of_doc);
        assert_int_equal(a->unit, b->unit);
        assert_int_equal(a->of, b->of);
        assert_true(a->jaccard == b->jaccard && a->containment == b->containment);
        assert_int_equal(a->alternative, b->alternative);
    }
}

static void parts_find_what_the_index_finds(void **unused)
{
    (void)unused;
    dd_near_unit_list want = {0};
    reference(&want);
    /* The generated corpus has matches, alternatives among them. */
    size_t alternatives = 0;
    for (size_t i = 0; i < want.n; i++)
        alternatives += want.v[i].alternative;
    assert_true(want.n > 500);
    assert_true(alternatives > 100);
    const size_t shares[] = {(size_t)1 << 30, 16384, 2048};
    /* (2 and 3 threads: the bands in loops of as many, or all in one when
     * they are in memory; the pairs verified in items of a few hundred.) */
    const unsigned threads[] = {1, 2, 3};
    const size_t shelves[] = {1, 2, 3};
    for (size_t s = 0; s < sizeof shares / sizeof *shares; s++)
        for (size_t t = 0; t < 3; t++) {
            dd_near_unit_list got = {0};
            uint64_t parts[2];
            by_parts(shares[s], threads[t], shelves[t], &got, parts);
            if (s == 0)
                assert_true(parts[0] == DD_NEAR_UNIT_BANDS && parts[1] == 1);
            else
                assert_true(parts[0] > DD_NEAR_UNIT_BANDS && parts[1] > 1);
            assert_same(&want, &got);
            free(got.v);
        }
    free(want.v);
}

/* The shelves' sets go to scratch files as documents are added, at every
 * budget below; step 3 then reads those of each item of pairs ahead, runs
 * of them at once (fewer reads than sets), or, where they fit once the
 * band keys are freed, brings them back into memory and reads none from
 * a file: the matches are the index's either way (a set read for another
 * unit, or a few hashes off, would change them), at 1 to 3 threads. */
static void sets_read_ahead_or_back_in_memory(void **unused)
{
    (void)unused;
    dd_near_unit_list want = {0};
    reference(&want);
    bool ahead = false, back_in = false;
    for (size_t share = 2048; share <= ((size_t)1 << 20); share *= 2)
        for (unsigned threads = 1; threads <= 3; threads++) {
            dd_near_across a;
            dd_near_across_init(&a, share, threads, threads, NULL);
            char *err = NULL;
            add_to_shelves(&a, threads, &err);
            bool spooled = false;
            for (size_t k = 0; k < threads; k++)
                spooled = spooled || a.shelves[k].sets.spool;
            dd_near_unit_list got = {0};
            assert_true(dd_near_across_find(&a, threads, 0.8, take, &got, &err));
            assert_same(&want, &got);
            free(got.v);
            uint64_t sets = a.sets_ahead, reads = a.reads_ahead;
            bool still = false; /* sets in scratch files when verified */
            for (size_t k = 0; k < threads; k++)
                still = still || a.shelves[k].sets.spool;
            if (still) { /* read from the files */
                assert_true(sets > 0 && reads < sets);
                ahead = true;
            } else if (spooled) { /* all back in memory */
                assert_true(a.back_in_bytes > 0);
                assert_int_equal(sets, 0);
                back_in = true;
            }
            dd_near_across_free(&a);
        }
    assert_true(ahead && back_in);
    free(want.v);
}

/* A remaker over the generated documents: their sets as made; the
 * documents asked for are counted, and one may have "changed". */
typedef struct remaking {
    size_t asked;     /* documents whose sets were made again */
    uint32_t lowest;  /* the first of them (DOCS: none) */
    uint32_t changed; /* that document's text is not as first read (DOCS: none) */
} remaking;

static const dd_unit_sets *sets_again(void *ctx, void *worker, uint32_t doc, size_t *nunits,
                                      uint64_t *bytes)
{
    remaking *r = ctx;
    (void)worker;
    __atomic_fetch_add(&r->asked, 1, __ATOMIC_RELAXED);
    uint32_t low = __atomic_load_n(&r->lowest, __ATOMIC_RELAXED);
    while (doc < low && !__atomic_compare_exchange_n(&r->lowest, &low, doc, false, __ATOMIC_RELAXED,
                                                     __ATOMIC_RELAXED))
        ;
    if (doc == r->changed)
        return NULL;
    *nunits = docs[doc].doc.nunits;
    *bytes = 100;
    return &docs[doc].sets;
}

static void *remaker_state_new(void *ctx) { return ctx; }
static void remaker_state_free(void *ctx, void *worker) { (void)ctx, (void)worker; }

/* by_parts with a remaker: the sets of units whose band keys were all new
 * when added are left out; *a keeps the counts (freed here). */
static void by_parts_remade(size_t share, unsigned threads, size_t shelves, remaking *r,
                            dd_near_unit_list *out, dd_near_across *a, size_t *kept_bytes)
{
    dd_near_across_init(a, share, shelves, shelves, NULL);
    dd_unit_remaker remaker = {sets_again, remaker_state_new, remaker_state_free, r};
    dd_near_across_remake_with(a, &remaker, (uint64_t)1 << 40);
    char *err = NULL;
    add_to_shelves(a, shelves, &err);
    *kept_bytes = 0;
    for (size_t k = 0; k < shelves; k++)
        *kept_bytes += a->shelves[k].sets.n * sizeof(uint64_t);
    assert_true(dd_near_across_find(a, threads, 0.8, take, out, &err));
}

/* The units (in rank order) none of whose band keys a unit before had. */
static size_t units_with_new_keys(void)
{
    size_t n = 0, cap = 0, nkeys = 0;
    uint64_t *seen = NULL;
    for (size_t d = 0; d < DOCS; d++)
        for (size_t u = 0; u < docs[d].doc.nunits; u++) {
            if (docs[d].doc.units[u].words < DD_NEAR_UNIT_ACROSS_MIN_WORDS)
                continue;
            bool old = false;
            for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++) {
                uint64_t key = docs[d].keys[u * DD_NEAR_UNIT_BANDS + b] ^ b;
                for (size_t k = 0; k < nkeys && !old; k++)
                    old = seen[k] == key;
            }
            n += !old;
            for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++) {
                dd_grow(&seen, &cap, nkeys + 1, sizeof *seen);
                seen[nkeys++] = docs[d].keys[u * DD_NEAR_UNIT_BANDS + b] ^ b;
            }
        }
    free(seen);
    return n;
}

/* With a remaker, a unit none of whose band keys was seen before is not
 * kept: a later unit that shares a key with it still finds it (its set is
 * made again from its document), so the matches are the index's, at
 * every budget and thread count, with fewer sets kept; a document that
 * changed since loses its left-out units' pairs, and nothing else. */
static void sets_of_new_keys_left_out_and_made_again(void **unused)
{
    (void)unused;
    dd_near_unit_list want = {0};
    reference(&want);
    size_t fresh = units_with_new_keys();
    const size_t shares[] = {(size_t)1 << 20, (size_t)1 << 18};
    const unsigned threads[] = {1, 2, 3};
    const size_t shelves[] = {1, 2, 3};
    for (size_t s = 0; s < 2; s++)
        for (size_t t = 0; t < 3; t++) {
            dd_near_unit_list got = {0};
            remaking r = {0, DOCS, DOCS};
            dd_near_across a;
            size_t kept;
            by_parts_remade(shares[s], threads[t], shelves[t], &r, &got, &a, &kept);
            assert_same(&want, &got);
            /* In rank order, the units left out are those with new keys
             * (the filter may take a few for seen: then kept). */
            assert_true(a.sets_left_out > 0 && a.sets_left_out <= a.units);
            if (shelves[t] == 1)
                assert_true(a.sets_left_out <= fresh && a.sets_left_out >= fresh * 9 / 10);
            /* Some pairs asked for a set left out: made again, a document
             * once (a part of the pairs at a time). */
            assert_true(a.sets_remade > 0 && a.docs_remade > 0);
            assert_int_equal(r.asked, a.docs_remade);
            assert_true(a.docs_remade < DOCS);
            assert_int_equal(a.docs_changed, 0);
            free(got.v);
            dd_near_across_free(&a);
        }
    /* Every set kept (no remaker): a quarter more hashes, at least. */
    dd_near_unit_list got = {0};
    remaking r = {0, DOCS, DOCS};
    dd_near_across a;
    size_t with;
    by_parts_remade((size_t)1 << 20, 1, 1, &r, &got, &a, &with);
    uint32_t changed = r.lowest;
    dd_near_across_free(&a);
    free(got.v);
    got = (dd_near_unit_list){0};
    dd_near_across b;
    dd_near_across_init(&b, (size_t)1 << 20, 1, 1, NULL);
    dd_near_across_shelf *shelf = dd_near_across_claim(&b);
    char *err = NULL;
    for (size_t d = 0; d < DOCS; d++)
        assert_true(dd_near_across_add(shelf, (uint32_t)d, docs[d].doc.units, docs[d].doc.nunits,
                                       &docs[d].sets, docs[d].keys, &err));
    size_t without = b.shelves[0].sets.n * sizeof(uint64_t);
    dd_near_across_free(&b);
    assert_true(with * 5 / 4 < without);
    /* A document whose text changed (one whose sets were made again): the
     * pairs of its units left out are not found, the others are. */
    assert_true(changed < DOCS);
    r = (remaking){0, DOCS, changed};
    size_t kept;
    by_parts_remade((size_t)1 << 20, 1, 1, &r, &got, &a, &kept);
    assert_true(a.docs_changed >= 1); /* once for each part of the pairs that asked */
    assert_true(got.n <= want.n);
    for (size_t i = 0, j = 0; i < got.n; i++, j++) { /* got is want less some */
        while (j < want.n && !(want.v[j].doc == got.v[i].doc && want.v[j].unit == got.v[i].unit &&
                               want.v[j].of_doc == got.v[i].of_doc && want.v[j].of == got.v[i].of))
            j++;
        assert_true(j < want.n);
    }
    free(got.v);
    dd_near_across_free(&a);
    free(want.v);
}

/* No document with a paragraph to search (a run of missing files): no
 * shelf was claimed, and nothing is found, at any thread count. */
static void nothing_added_finds_nothing(void **unused)
{
    (void)unused;
    for (unsigned threads = 1; threads <= 3; threads += 2) {
        dd_near_across a;
        dd_near_across_init(&a, 1 << 20, threads + 2, threads, NULL);
        dd_near_unit_list got = {0};
        char *err = NULL;
        assert_true(dd_near_across_find(&a, threads, 0.8, take, &got, &err));
        assert_int_equal(got.n, 0);
        assert_int_equal(a.units, 0);
        assert_int_equal(a.pairs, 0);
        dd_near_across_free(&a);
    }
}

/* What a shelf keeps, at a budget that puts it all in scratch files: 24
 * bytes a band key (its key, its set's key, its unit), 16 for where each
 * unit's set is (a document's units up to its last one searched), and the
 * sets' hashes, a set that comes again on the shelf soon after kept once:
 * a copy of the unit before it in its document is surely kept once. */
static void a_shelf_keeps_band_keys_and_sets_small(void **unused)
{
    (void)unused;
    dd_near_across a;
    dd_near_across_init(&a, 2048, 1, 1, NULL);
    dd_near_across_shelf *shelf = dd_near_across_claim(&a);
    char *err = NULL;
    uint64_t searched = 0, placed = 0, hashes = 0, copies = 0;
    for (size_t d = 0; d < DOCS; d++) {
        gen_doc *g = &docs[d];
        assert_true(dd_near_across_add(shelf, (uint32_t)d, g->doc.units, g->doc.nunits, &g->sets,
                                       g->keys, &err));
        size_t last = 0; /* 1 + the last unit searched */
        for (size_t u = 0; u < g->doc.nunits; u++) {
            if (g->doc.units[u].words < DD_NEAR_UNIT_ACROSS_MIN_WORDS)
                continue;
            last = u + 1;
            size_t n = g->sets.start[u + 1] - g->sets.start[u];
            searched++;
            hashes += n;
            if (u > 0 && g->doc.units[u - 1].words >= DD_NEAR_UNIT_ACROSS_MIN_WORDS &&
                g->sets.start[u] - g->sets.start[u - 1] == n &&
                !memcmp(g->sets.hashes + g->sets.start[u - 1], g->sets.hashes + g->sets.start[u],
                        n * sizeof *g->sets.hashes))
                copies += n;
        }
        placed += last;
    }
    assert_true(copies > 0 && placed > searched);
    uint64_t most = DD_NEAR_UNIT_BANDS * 24 * searched + 16 * placed + 8 * (hashes - copies);
    assert_true(dd_near_across_scratch_bytes(&a) <= most);
    dd_near_across_scratch kept = dd_near_across_scratch_kinds(&a);
    assert_int_equal(kept.band_keys, DD_NEAR_UNIT_BANDS * 24 * searched);
    assert_int_equal(kept.units, 16 * placed);
    assert_true(kept.sets > 0 && kept.sets <= 8 * (hashes - copies));
    dd_near_across_free(&a);
}

/* A shelf with a large budget that keeps few sets holds little memory:
 * its table of the sets it kept lately grows with the sets it keeps (at
 * most 2 slots of 32 bytes each, and the first 1,024 slots), not with its
 * budget (a thread's share of 16,000 news articles touched 8 MB of slots,
 * each page of them a page fault, on every thread). Every set that comes
 * again right after it was kept is still shared. Its arrays hold up to
 * twice what they keep, and, with a budget that can spare a sixteenth for
 * it (1 GiB, not 64 MiB), an array past DD_ROOM_COPIED bytes a huge page
 * at once (dd_scratch_array_take_huge_room). */
static void a_shelf_holds_what_it_keeps_not_its_budget(void **unused)
{
    (void)unused;
    const size_t budgets[] = {(size_t)1 << 30, (size_t)64 << 20};
    for (size_t k = 0; k < sizeof budgets / sizeof *budgets; k++) {
        dd_near_across a;
        dd_near_across_init(&a, budgets[k], 1, 1, NULL);
        dd_near_across_shelf *shelf = dd_near_across_claim(&a);
        char *err = NULL;
        uint64_t searched = 0, placed = 0, hashes = 0, copies = 0; /* copies: units */
        for (size_t d = 0; d < DOCS; d++) {
            gen_doc *g = &docs[d];
            assert_true(dd_near_across_add(shelf, (uint32_t)d, g->doc.units, g->doc.nunits,
                                           &g->sets, g->keys, &err));
            size_t last = 0;
            for (size_t u = 0; u < g->doc.nunits; u++) {
                if (g->doc.units[u].words < DD_NEAR_UNIT_ACROSS_MIN_WORDS)
                    continue;
                last = u + 1;
                size_t n = g->sets.start[u + 1] - g->sets.start[u];
                searched++;
                hashes += n;
                if (u > 0 && g->doc.units[u - 1].words >= DD_NEAR_UNIT_ACROSS_MIN_WORDS &&
                    g->sets.start[u] - g->sets.start[u - 1] == n &&
                    !memcmp(g->sets.hashes + g->sets.start[u - 1],
                            g->sets.hashes + g->sets.start[u], n * sizeof *g->sets.hashes))
                    copies++;
            }
            placed += last;
        }
        assert_int_equal(dd_near_across_scratch_bytes(&a), 0); /* all in memory */
        /* What is kept, with room to grow (twice) for the arrays, the
         * table of recent sets, and the huge pages taken at once. */
        uint64_t kept =
            DD_NEAR_UNIT_BANDS * 24 * searched + 16 * placed + 8 * hashes + 16 * (uint64_t)DOCS;
        uint64_t table = 32 * (2 * searched > 1024 ? 2 * searched : 1024);
        uint64_t huge = 0;
        const dd_scratch_array *arrays[2 + DD_NEAR_UNIT_BANDS] = {&shelf->sets, &shelf->units};
        for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++)
            arrays[2 + b] = &shelf->entries[b];
        for (size_t i = 0; i < 2 + DD_NEAR_UNIT_BANDS; i++)
            if (dd_scratch_array_memory_bytes(arrays[i]) >= DD_ROOM_HUGE)
                huge += dd_scratch_array_memory_bytes(arrays[i]);
        assert_true(a.huge_rooms == (k == 0));
        assert_true(k == 0 || huge == 0);
        assert_true(dd_near_across_memory_bytes(&a) <= 2 * kept + table + huge);
        assert_true(dd_near_across_memory_bytes(&a) < ((size_t)8 << 20));
        /* The copies of the unit before them shared its set. */
        assert_true(copies > 0 && shelf->sets_shared >= copies);
        dd_near_across_free(&a);
    }
}

/* Within its share, the search keeps in memory what step 2 reads back
 * whole, the band keys, and where each unit's set is, before the sets,
 * which step 3 reads only for the candidate pairs: at a share that holds
 * the first (with room to grow) but not the sets too, only sets go to
 * scratch files (with fixed fractions of the share, a quarter for the
 * sets and half for the band keys, the band keys went there too); at a
 * share that holds everything, nothing does. */
static void band_keys_stay_in_memory_before_sets(void **unused)
{
    (void)unused;
    uint64_t searched = 0, placed = 0;
    for (size_t d = 0; d < DOCS; d++) {
        const gen_doc *g = &docs[d];
        size_t last = 0;
        for (size_t u = 0; u < g->doc.nunits; u++)
            if (g->doc.units[u].words >= DD_NEAR_UNIT_ACROSS_MIN_WORDS) {
                searched++;
                last = u + 1;
            }
        placed += last;
    }
    size_t keys = DD_NEAR_UNIT_BANDS * 24 * searched, where = 16 * placed;
    const size_t shares[] = {7 * (keys + where) / 4, 16 * (keys + where)};
    for (size_t k = 0; k < 2; k++) {
        dd_near_across a;
        dd_near_across_init(&a, shares[k], 1, 1, NULL);
        dd_near_across_shelf *shelf = dd_near_across_claim(&a);
        char *err = NULL;
        for (size_t d = 0; d < DOCS; d++) {
            gen_doc *g = &docs[d];
            assert_true(dd_near_across_add(shelf, (uint32_t)d, g->doc.units, g->doc.nunits,
                                           &g->sets, g->keys, &err));
        }
        dd_near_across_scratch kept = dd_near_across_scratch_kinds(&a);
        assert_int_equal(kept.band_keys, 0);
        assert_int_equal(kept.units, 0);
        if (k == 0)
            assert_true(kept.sets > 0);
        else
            assert_int_equal(kept.sets, 0);
        assert_true(dd_near_across_memory_bytes(&a) <= shares[k]);
        dd_near_across_free(&a);
    }
}

/* A run of a few documents holds a few kilobytes for the search, whatever
 * its share: the table of sets kept lately grows with the units a shelf
 * kept (it was made at its most, 8 MB, when the shelf was claimed). */
static void a_few_documents_hold_little(void **unused)
{
    (void)unused;
    dd_near_across a;
    dd_near_across_init(&a, (size_t)1 << 30, 3, 1, NULL);
    dd_near_across_shelf *shelf = dd_near_across_claim(&a);
    char *err = NULL;
    for (size_t d = 0; d < 5; d++) {
        gen_doc *g = &docs[d];
        assert_true(dd_near_across_add(shelf, (uint32_t)d, g->doc.units, g->doc.nunits, &g->sets,
                                       g->keys, &err));
    }
    assert_true(dd_near_across_memory_bytes(&a) <= (size_t)64 << 10);
    dd_near_across_free(&a);
}

/* dd_unit_batch_ahead's reader: the generated set, but for a third of the
 * units, which it cannot give (left to the search in order). */
static bool peek_set(void *ctx, uint32_t doc, size_t unit, uint64_t **set, size_t *cap, size_t *n)
{
    if ((doc + unit) % 3 == 0)
        return false;
    return read_set(ctx, doc, unit, set, cap, n);
}

/* A batch at a time (near_units.h: dd_unit_batch_begin, _ahead,
 * dd_find_near_units_batch, dd_unit_batch_join), the lookups ahead done
 * in reverse order as threads might: the matches of the search in order,
 * the same alternatives, whatever the batch's size, while buckets fill
 * past their cap inside batches and across them. */
static void batches_find_what_the_index_finds(void **unused)
{
    (void)unused;
    dd_near_unit_list want = {0};
    reference(&want);
    const size_t sizes[] = {1, 2, 7, 16, 64, DOCS};
    for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++) {
        size_t size = sizes[z];
        dd_unit_index *ix = dd_unit_index_new();
        dd_unit_ahead *ahead = calloc(size, sizeof *ahead);
        dd_unit_scratch w = {0};
        dd_near_unit_list got = {0};
        for (size_t first = 0; first < DOCS; first += size) {
            size_t n = DOCS - first < size ? DOCS - first : size;
            dd_unit_batch_begin(ix);
            for (size_t k = n; k-- > 0;) {
                gen_doc *g = &docs[first + k];
                dd_unit_batch_ahead(ix, g->doc.units, g->doc.nunits, &g->sets, g->keys, 0.8,
                                    peek_set, NULL, &w, &ahead[k]);
            }
            for (size_t k = 0; k < n; k++) {
                gen_doc *g = &docs[first + k];
                dd_find_near_units_batch(ix, (uint32_t)(first + k), g->doc.units, g->doc.nunits,
                                         &g->sets, g->keys, g->set_keys, &ahead[k], 0.8, read_set,
                                         NULL, &got);
            }
            for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++)
                dd_unit_batch_join(ix, b);
        }
        assert_same(&want, &got);
        free(got.v);
        for (size_t k = 0; k < size; k++)
            dd_unit_ahead_free(&ahead[k]);
        free(ahead);
        dd_unit_scratch_free(&w);
        dd_unit_index_free(ix);
    }
    free(want.v);
}

static dd_unit_pair emitted[4096];
static size_t nemitted;

static void emit(void *ctx, dd_unit_pair pair)
{
    (void)ctx;
    assert_true(nemitted < 4096);
    emitted[nemitted++] = pair;
}

static bool emitted_pair(uint64_t later, uint64_t earlier)
{
    for (size_t i = 0; i < nemitted; i++)
        if (emitted[i].later == later && emitted[i].earlier == earlier)
            return true;
    return false;
}

/* A key lists its first DD_NEAR_UNIT_MAX_BUCKET indexed units, and the
 * units after them are compared with those only; a unit whose set came
 * before is not listed (the next one takes its place); units are compared
 * with the listed units of earlier documents only. */
/* The id of unit x of a_key_lists_its_first_indexed_units: the only one
 * of document x, but unit 6, the second of document 5. */
static uint64_t uid(size_t x) { return dd_unit_id((uint32_t)(x == 6 ? 5 : x), x == 6); }

static void a_key_lists_its_first_indexed_units(void **unused)
{
    (void)unused;
    enum { N = DD_NEAR_UNIT_MAX_BUCKET + 10 };
    dd_unit_entry v[N];
    /* One key, in no order; unit 1 has unit 0's set; units 5 and 6 are of
     * one document. */
    for (size_t i = 0; i < N; i++) {
        size_t x = N - 1 - i;
        v[i] = (dd_unit_entry){42, x == 1 ? 100 : 100 + x, uid(x)};
    }
    dd_unit_entries_sort(v, N);
    nemitted = 0;
    dd_unit_entries_pairs(v, N, emit, NULL);
    /* Listed: 0, 2, 3, ..., 32 (32 units). */
    assert_true(emitted_pair(uid(1), uid(0)));
    assert_false(emitted_pair(uid(2), uid(1)));
    assert_true(emitted_pair(uid(33), uid(32)));
    assert_true(emitted_pair(uid(41), uid(0)));
    assert_false(emitted_pair(uid(41), uid(33)));
    assert_false(emitted_pair(uid(6), uid(5))); /* the same document */
    assert_true(emitted_pair(uid(7), uid(6)));
    /* 1 for unit 1, x - 1 for x in 2..32 (but unit 6: 4), 32 for 33..41 */
    assert_int_equal(nemitted, 1 + (31 * 32 / 2) - 1 + 9 * 32);
    /* Repeats go; pairs come by later unit, then earlier. */
    emitted[nemitted++] = emitted[0];
    size_t n = dd_unit_pairs_sort(emitted, nemitted);
    assert_int_equal(n, nemitted - 1);
    for (size_t i = 1; i < n; i++)
        assert_true(emitted[i - 1].later < emitted[i].later ||
                    (emitted[i - 1].later == emitted[i].later &&
                     emitted[i - 1].earlier < emitted[i].earlier));
}

/* Sorting entries by key then id, as qsort would: random keys; keys that
 * share their top bits (a part); many entries under a few keys; in an
 * order other than by id. Sizes up to 136,718 entries: past 32,768 the
 * sort counts in two passes (slices, then each slice). */
static int key_then_id(const void *a, const void *b)
{
    const dd_unit_entry *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static void entries_sort_as_qsort(void **unused)
{
    (void)unused;
    enum { N = 200000 };
    dd_unit_entry *v = dd_malloc(N * sizeof *v), *want = dd_malloc(N * sizeof *want);
    for (int kind = 0; kind < 4; kind++)
        for (size_t n = 1; n <= N; n = n * 5 + 3) {
            for (size_t i = 0; i < n; i++) {
                uint64_t key = next();
                if (kind == 1)
                    key = (key >> 5) | ((uint64_t)0x15 << 59); /* top 5 bits shared */
                else if (kind == 2)
                    key = key % 7; /* a few keys, many entries each */
                else if (kind == 3)
                    key = 42;
                v[i] = (dd_unit_entry){key, next(), n - i}; /* ids unique, as a band has them */
            }
            memcpy(want, v, n * sizeof *v);
            qsort(want, n, sizeof *want, key_then_id);
            dd_unit_entries_sort(v, n);
            assert_memory_equal(v, want, n * sizeof *v);
        }
    free(v);
    free(want);
}

/* Sorting runs of entries together into another array is sorting them
 * all at once, however they are cut into runs and in whatever order the
 * runs come (one a thread's shelf): random keys, a few keys with many
 * entries each, one key; empty runs, one run, many runs; the runs are
 * left as they were; sizes up to 136,718 entries (two counting passes). */
static void entries_sorted_from_runs_as_at_once(void **unused)
{
    (void)unused;
    enum { N = 200000, RUNS = 5 };
    dd_unit_entry *v = dd_malloc(N * sizeof *v), *want = dd_malloc(N * sizeof *want);
    dd_unit_entry *kept = dd_malloc(N * sizeof *kept), *out = dd_malloc(N * sizeof *out);
    for (int kind = 0; kind < 3; kind++)
        for (size_t n = 1; n <= N; n = n * 5 + 3)
            for (size_t nruns = 1; nruns <= RUNS; nruns += 2) {
                for (size_t i = 0; i < n; i++) {
                    uint64_t key = next();
                    if (kind == 1)
                        key = key % 7; /* a few keys, many entries each */
                    else if (kind == 2)
                        key = 42;
                    v[i] = (dd_unit_entry){key, next(), n - i};
                }
                memcpy(want, v, n * sizeof *v);
                qsort(want, n, sizeof *want, key_then_id);
                memcpy(kept, v, n * sizeof *v);
                /* Cut at random places (runs may be empty), the runs given
                 * last first. */
                size_t cut[RUNS + 1] = {0};
                cut[nruns] = n;
                for (size_t r = 1; r < nruns; r++)
                    cut[r] = cut[r - 1] + (size_t)(next() % (n - cut[r - 1] + 1));
                const dd_unit_entry *runs[RUNS];
                size_t nrun[RUNS];
                for (size_t r = 0; r < nruns; r++) {
                    runs[nruns - 1 - r] = v + cut[r];
                    nrun[nruns - 1 - r] = cut[r + 1] - cut[r];
                }
                dd_unit_entries_sort_into(runs, nrun, nruns, out);
                assert_memory_equal(out, want, n * sizeof *out);
                assert_memory_equal(v, kept, n * sizeof *v);
            }
    free(v);
    free(want);
    free(kept);
    free(out);
}

/* Sorting pairs a range of later units at a time (dd_unit_pairs_partition,
 * then dd_unit_pairs_sort of each range, end to end) is sorting them at
 * once: random ids, ids close together, repeats, one later unit, one range
 * and more ranges than pairs. */
static void pairs_sorted_by_ranges_as_at_once(void **unused)
{
    (void)unused;
    enum { N = 30000 };
    dd_unit_pair *v = dd_malloc(N * sizeof *v), *want = dd_malloc(N * sizeof *want);
    dd_unit_pair *by_range = dd_malloc(N * sizeof *by_range);
    const size_t ranges[] = {1, 2, 16, 100};
    size_t start[101], kept[100];
    for (int kind = 0; kind < 4; kind++)
        for (size_t n = 1; n <= N; n = n * 7 + 5)
            for (size_t k = 0; k < sizeof ranges / sizeof *ranges; k++) {
                for (size_t i = 0; i < n; i++) {
                    uint64_t later = next(), earlier = next();
                    if (kind == 1)
                        later = 1000 + later % 50, earlier %= 40; /* close, repeated */
                    else if (kind == 2)
                        later = 7, earlier %= 1000; /* one later unit */
                    else if (kind == 3)
                        later = UINT64_MAX - later % 3, earlier %= 5; /* at the top */
                    v[i] = (dd_unit_pair){later, earlier};
                }
                memcpy(want, v, n * sizeof *v);
                size_t nwant = dd_unit_pairs_sort(want, n);
                dd_unit_pairs_partition(v, n, ranges[k], by_range, start);
                assert_int_equal(start[0], 0);
                assert_int_equal(start[ranges[k]], n);
                size_t left = 0;
                for (size_t r = 0; r < ranges[k]; r++) {
                    kept[r] = dd_unit_pairs_sort(by_range + start[r], start[r + 1] - start[r]);
                    memmove(v + left, by_range + start[r], kept[r] * sizeof *v);
                    left += kept[r];
                }
                assert_int_equal(left, nwant);
                assert_memory_equal(v, want, nwant * sizeof *v);
            }
    free(v);
    free(want);
    free(by_range);
}

int main(void)
{
    generate();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parts_find_what_the_index_finds),
        cmocka_unit_test(nothing_added_finds_nothing),
        cmocka_unit_test(sets_read_ahead_or_back_in_memory),
        cmocka_unit_test(sets_of_new_keys_left_out_and_made_again),
        cmocka_unit_test(a_shelf_keeps_band_keys_and_sets_small),
        cmocka_unit_test(a_shelf_holds_what_it_keeps_not_its_budget),
        cmocka_unit_test(band_keys_stay_in_memory_before_sets),
        cmocka_unit_test(a_few_documents_hold_little),
        cmocka_unit_test(batches_find_what_the_index_finds),
        cmocka_unit_test(a_key_lists_its_first_indexed_units),
        cmocka_unit_test(entries_sort_as_qsort),
        cmocka_unit_test(entries_sorted_from_runs_as_at_once),
        cmocka_unit_test(pairs_sorted_by_ranges_as_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
