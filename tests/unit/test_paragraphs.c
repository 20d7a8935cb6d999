/*
 * test_paragraphs.c - the repeat rule of paragraphs.c decides on the text as
 * it will be once its findings are removed (issue 15, item 6): units that
 * come together when boilerplate, a near-repeat or another run between them
 * goes are consecutive, in the document that repeats and in the one
 * repeated, so that what clean leaves holds no run of --min-words words a
 * second pass would remove. Documents are built here as units (keys, words,
 * lines), without text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "kway_merge.h"

#include <stdlib.h>
#include <string.h>

#define MIN_WORDS 4
#define DF 3

/* A corpus of up to 8 documents of up to 8 units each; a unit is a letter
 * (its key) and a number of words. */
typedef struct corpus {
    dd_unit units[64];
    size_t start[9];
    size_t ndocs;
} corpus;

/* Adds a document of units "a2 B5 b2": letter, then words; line k is its
 * k-th unit. */
static void add_doc(corpus *c, const char *spec)
{
    size_t u = c->start[c->ndocs];
    size_t line = 1;
    for (const char *p = spec; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        char letter = *p++;
        uint32_t words = 0;
        while (*p >= '0' && *p <= '9')
            words = words * 10 + (uint32_t)(*p++ - '0');
        c->units[u++] = (dd_unit){.first_line = line,
                                  .last_line = line,
                                  .words = words,
                                  .key = (sh_key){(uint64_t)letter, 0x5EED}};
        line++;
    }
    c->start[++c->ndocs] = u;
}

/* Where the documents' units start, of start[0..ndocs], in *s. */
static void starts_of(const size_t *start, size_t ndocs, dd_unit_starts *s)
{
    dd_unit_starts_init(s, ndocs);
    for (size_t d = 0; d <= ndocs; d++)
        dd_unit_starts_set(s, d, start[d]);
}

static void decide(const corpus *c, dd_findings *f)
{
    memset(f, 0, sizeof *f);
    dd_unit_starts starts;
    starts_of(c->start, c->ndocs, &starts);
    dd_paragraphs *p = dd_paragraphs_new(c->units, &starts, MIN_WORDS, DF);
    for (uint32_t d = 0; d < c->ndocs; d++)
        assert_true(dd_paragraphs_add(p, d, NULL));
    dd_paragraphs_finish(p, f);
    dd_paragraphs_free(p);
    dd_unit_starts_free(&starts);
}

/* The exact repeat of f at doc, first_line; NULL if none. */
static const dd_repeat *repeat_at(const dd_findings *f, uint32_t doc, size_t line)
{
    for (size_t i = 0; i < f->nrepeats; i++)
        if (f->repeats[i].at.doc == doc && f->repeats[i].at.first_line == line)
            return &f->repeats[i];
    return NULL;
}

/* Whether f removes line of doc. */
static bool dropped(const dd_findings *f, uint32_t doc, size_t line)
{
    for (size_t i = 0; i < f->ndrops; i++)
        if (f->drops[i].doc == doc && f->drops[i].first_line <= line &&
            line <= f->drops[i].last_line)
            return true;
    return false;
}

/* Two short lines printed together with a boilerplate line between them
 * (a decree's number, the site's byline, its heading): alone each is under
 * --min-words, and the boilerplate no longer parts them. */
static void boilerplate_between_short_repeats_parts_no_run(void **state)
{
    (void)state;
    corpus c = {0};
    add_doc(&c, "x9 a2 B5 b2");
    add_doc(&c, "y9 B5");
    add_doc(&c, "a2 B5 b2 z9");
    dd_findings f;
    decide(&c, &f);
    assert_int_equal(f.nboilerplate, 1);
    const dd_repeat *r = repeat_at(&f, 2, 1);
    assert_non_null(r);
    assert_int_equal(r->units, 2);
    assert_int_equal(r->words, 4);
    assert_int_equal(r->at.last_line, 3);
    assert_int_equal(r->of.doc, 0);
    assert_int_equal(r->of.first_line, 2);
    assert_int_equal(r->of.last_line, 4);
    assert_true(dropped(&f, 2, 1) && dropped(&f, 2, 2) && dropped(&f, 2, 3));
    assert_false(dropped(&f, 2, 4));
    dd_findings_free(&f);
}

/* In the document repeated too: its short lines are parted by a line that
 * goes (it repeats an earlier document), the copy's are consecutive. */
static void a_unit_removed_from_the_source_parts_no_run(void **state)
{
    (void)state;
    corpus c = {0};
    add_doc(&c, "Q9");
    add_doc(&c, "a2 Q9 b2");
    add_doc(&c, "a2 b2");
    dd_findings f;
    decide(&c, &f);
    assert_true(dropped(&f, 1, 2)); /* Q repeats document 0 */
    const dd_repeat *r = repeat_at(&f, 2, 1);
    assert_non_null(r);
    assert_int_equal(r->units, 2);
    assert_int_equal(r->of.doc, 1);
    assert_int_equal(r->of.first_line, 1);
    assert_int_equal(r->of.last_line, 3);
    dd_findings_free(&f);
}

/* Two short repeats parted by a run of another document's lines: once that
 * run goes they are consecutive, a run too, found in the same decision,
 * not by a second one. Unless their source parts them. */
static void runs_are_sought_again_once_others_go(void **state)
{
    (void)state;
    corpus c = {0};
    add_doc(&c, "a2 d2 y9");
    add_doc(&c, "e3 f3");
    add_doc(&c, "a2 e3 f3 d2 x9");
    dd_findings f;
    decide(&c, &f);
    const dd_repeat *ef = repeat_at(&f, 2, 2);
    assert_non_null(ef); /* e f: 6 words, a run of document 1 */
    assert_int_equal(ef->units, 2);
    const dd_repeat *ad = repeat_at(&f, 2, 1);
    assert_non_null(ad); /* a d: consecutive once e f are gone */
    assert_int_equal(ad->units, 2);
    assert_int_equal(ad->words, 4);
    assert_int_equal(ad->at.last_line, 4);
    assert_int_equal(ad->of.doc, 0);
    assert_true(dropped(&f, 2, 1) && dropped(&f, 2, 4));
    assert_false(dropped(&f, 2, 5));
    dd_findings_free(&f);

    corpus apart = {0}; /* in the source, b c stay between a and d */
    add_doc(&apart, "a2 b2 c2 d2");
    add_doc(&apart, "e3 f3");
    add_doc(&apart, "a2 e3 f3 d2 x9");
    decide(&apart, &f);
    assert_non_null(repeat_at(&f, 2, 2));
    assert_null(repeat_at(&f, 2, 1));
    assert_false(dropped(&f, 2, 1) || dropped(&f, 2, 4));
    dd_findings_free(&f);
}

/* A near-repeat that goes no longer parts two short repeats either. */
static void a_near_repeat_that_goes_parts_no_run(void **state)
{
    (void)state;
    corpus c = {0};
    add_doc(&c, "a2 b2 N9");
    add_doc(&c, "a2 M9 b2");
    dd_unit_starts starts;
    starts_of(c.start, c.ndocs, &starts);
    dd_paragraphs *p = dd_paragraphs_new(c.units, &starts, MIN_WORDS, DF);
    assert_true(dd_paragraphs_add(p, 0, NULL));
    assert_true(dd_paragraphs_add(p, 1, NULL));
    dd_paragraphs_add_near(p, 4, (dd_place){1, 2, 2}, (dd_place){0, 3, 3}, DD_LINES_GIVEN, 9, 0.7,
                           0.9);
    dd_findings f = {0};
    dd_paragraphs_finish(p, &f);
    dd_paragraphs_free(p);
    dd_unit_starts_free(&starts);
    assert_true(dropped(&f, 1, 2)); /* the near-repeat */
    const dd_repeat *r = repeat_at(&f, 1, 1);
    assert_non_null(r);
    assert_true(r->exact);
    assert_int_equal(r->units, 2);
    assert_int_equal(r->at.last_line, 3);
    dd_findings_free(&f);
}

/* Short repeats that stay apart stay: nothing removes what lies between. */
static void short_repeats_apart_stay(void **state)
{
    (void)state;
    corpus c = {0};
    add_doc(&c, "a2 k9 b2");
    add_doc(&c, "a2 m9 b2");
    dd_findings f;
    decide(&c, &f);
    assert_int_equal(f.nrepeats, 0);
    assert_int_equal(f.ndrops, 0);
    dd_findings_free(&f);
}

/* dd_paragraphs_first: the first occurrence of a key among the documents
 * added. */
static void the_first_occurrence_of_a_key(void **state)
{
    (void)state;
    corpus c = {0};
    add_doc(&c, "a9 b9");
    add_doc(&c, "c9 b9");
    dd_unit_starts starts;
    starts_of(c.start, c.ndocs, &starts);
    dd_paragraphs *p = dd_paragraphs_new(c.units, &starts, MIN_WORDS, DF);
    assert_true(dd_paragraphs_add(p, 1, NULL));
    dd_paragraphs_want_first(p, (sh_key){'b', 0x5EED});
    dd_paragraphs_want_first(p, (sh_key){'a', 0x5EED});
    dd_place at;
    assert_true(dd_paragraphs_first(p, (sh_key){'b', 0x5EED}, &at));
    assert_int_equal(at.doc, 1);
    assert_int_equal(at.first_line, 2);
    assert_false(dd_paragraphs_first(p, (sh_key){'a', 0x5EED}, &at));
    assert_false(dd_paragraphs_first(p, (sh_key){'c', 0x5EED}, &at)); /* not asked for */
    dd_paragraphs_free(p);
    dd_unit_starts_free(&starts);
}

/* The table built in parts (dd_paragraphs_split: a part at a time in
 * scan past the table's share of --memory, several on threads) is the
 * table built in one: the same findings (repeats, boilerplate with every
 * occurrence, drops) and the same first occurrences as a plain search of
 * the units, for 2, 3, 8 and 64 parts (more parts than keys: some empty),
 * with units left out and documents not added (copies), and each part
 * built at its own time. Keys differ in their top bits so that they fall
 * in every part. */
#define BIG_DOCS 40
#define BIG_UNITS 12
typedef struct big_corpus {
    dd_unit units[BIG_DOCS * BIG_UNITS];
    size_t start[BIG_DOCS + 1];
    dd_unit_starts starts; /* the same (index_big) */
    bool gone[BIG_DOCS * BIG_UNITS];
    uint64_t gone_bits[BIG_DOCS * BIG_UNITS / 64 + 1]; /* the same, a bit each */
    bool added[BIG_DOCS];
} big_corpus;

#define LETTERS 11 /* the keys of make_big, and one no unit has */

static sh_key key_of(uint64_t letter)
{
    return (sh_key){letter * 7919, letter * 0x9E3779B97F4A7C15u};
}

static uint64_t next_random(uint64_t *state)
{
    *state = *state * 6364136223846793005u + 1442695040888963407u;
    return *state >> 33;
}

/* c->starts, of c->start (made again). */
static void index_big(big_corpus *c)
{
    dd_unit_starts_free(&c->starts);
    starts_of(c->start, BIG_DOCS, &c->starts);
}

static void make_big(big_corpus *c, uint64_t seed)
{
    dd_unit_starts_free(&c->starts);
    memset(c, 0, sizeof *c);
    size_t u = 0;
    for (size_t d = 0; d < BIG_DOCS; d++) {
        size_t n = 1 + next_random(&seed) % BIG_UNITS;
        for (size_t k = 0; k < n; k++, u++) {
            uint64_t letter = next_random(&seed) % 10; /* few keys: repeats, boilerplate */
            /* Units of one to three lines, not each unit's number: a line
             * taken from the wrong unit, or the wrong end, shows. */
            c->units[u] = (dd_unit){.first_line = 3 * k + 1,
                                    .last_line = 3 * k + 1 + letter % 3,
                                    .words = (uint32_t)(1 + letter % 5),
                                    .key = key_of(letter)};
            c->gone[u] = next_random(&seed) % 13 == 0;
            if (c->gone[u])
                c->gone_bits[u / 64] |= (uint64_t)1 << (u % 64);
        }
        c->start[d + 1] = u;
        c->added[d] = next_random(&seed) % 7 != 0;
    }
    index_big(c);
}

/* The table of c in nparts parts built by the caller, the last first (0:
 * built in one by dd_paragraphs_first and dd_paragraphs_finish), its later
 * occurrences in lists (NULL: the table's own). */
static dd_paragraphs *table_in_lists(const big_corpus *c, size_t nparts,
                                     const dd_later_lists *lists)
{
    dd_paragraphs *p = dd_paragraphs_new(c->units, &c->starts, MIN_WORDS, DF);
    dd_paragraphs_leave_out(p, c->gone_bits);
    for (uint32_t d = 0; d < BIG_DOCS; d++)
        if (c->added[d])
            assert_true(dd_paragraphs_add(p, d, NULL));
    for (uint64_t letter = 0; letter < LETTERS; letter++)
        dd_paragraphs_want_first(p, key_of(letter));
    if (nparts) {
        dd_paragraphs_split(p, nparts);
        assert_int_equal(dd_paragraphs_parts(p), nparts);
        if (lists)
            dd_paragraphs_keep_later(p, lists);
        for (size_t k = nparts; k-- > 0;)
            dd_paragraphs_build_part(p, k);
        assert_true(dd_paragraphs_parts_done(p, NULL));
    }
    return p;
}

static dd_paragraphs *table_of(const big_corpus *c, size_t nparts)
{
    return table_in_lists(c, nparts, NULL);
}

/* The first occurrence of key in c, by a plain search: false if none. */
static bool first_in(const big_corpus *c, sh_key key, dd_place *at)
{
    for (uint32_t d = 0; d < BIG_DOCS; d++)
        for (size_t u = c->start[d]; c->added[d] && u < c->start[d + 1]; u++)
            if (!c->gone[u] && sh_key_equal(c->units[u].key, key)) {
                *at = (dd_place){d, c->units[u].first_line, c->units[u].last_line};
                return true;
            }
    return false;
}

static void assert_same_places(const dd_place *a, const dd_place *b)
{
    assert_int_equal(a->doc, b->doc);
    assert_int_equal(a->first_line, b->first_line);
    assert_int_equal(a->last_line, b->last_line);
}

/* The same repeats, boilerplate and drops, in the same order, as want. */
static void assert_same_findings(const dd_findings *got, const dd_findings *want)
{
    assert_int_equal(got->nrepeats, want->nrepeats);
    for (size_t r = 0; r < want->nrepeats; r++) {
        assert_same_places(&got->repeats[r].at, &want->repeats[r].at);
        assert_same_places(&got->repeats[r].of, &want->repeats[r].of);
        assert_int_equal(got->repeats[r].units, want->repeats[r].units);
        assert_int_equal(got->repeats[r].words, want->repeats[r].words);
    }
    assert_int_equal(got->nboilerplate, want->nboilerplate);
    for (size_t r = 0; r < want->nboilerplate; r++) {
        const dd_boilerplate *x = &got->boilerplate[r], *y = &want->boilerplate[r];
        assert_same_places(&x->text_at, &y->text_at);
        assert_int_equal(x->docs, y->docs);
        assert_int_equal(x->n, y->n);
        for (size_t k = 0; k < y->n; k++)
            assert_same_places(&x->at[k], &y->at[k]);
    }
    assert_int_equal(got->ndrops, want->ndrops);
    for (size_t r = 0; r < want->ndrops; r++)
        assert_same_places(&got->drops[r], &want->drops[r]);
}

static void a_table_built_in_parts_is_the_table(void **state)
{
    (void)state;
    static big_corpus c;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        make_big(&c, seed);
        dd_paragraphs *whole = table_of(&c, 0);
        dd_findings want = {0};
        size_t parts[] = {1, 2, 3, 8, 64};
        for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
            dd_paragraphs *p = table_of(&c, parts[i]);
            for (uint64_t letter = 0; letter < LETTERS; letter++) {
                dd_place a, b;
                bool in_corpus = first_in(&c, key_of(letter), &a);
                assert_int_equal(dd_paragraphs_first(p, key_of(letter), &b), in_corpus);
                if (in_corpus)
                    assert_same_places(&a, &b);
            }
            dd_findings got = {0};
            dd_paragraphs_finish(p, &got);
            dd_paragraphs_free(p);
            if (i == 0)
                dd_paragraphs_finish(whole, &want);
            assert_true(want.nrepeats + want.nboilerplate > 0);
            assert_same_findings(&got, &want);
            dd_findings_free(&got);
        }
        dd_findings_free(&want);
        dd_paragraphs_free(whole);
    }
}

/* A store of places (dd_paragraphs_keep_places) as scan's scratch array:
 * room reserved once, places set in any order. A store that refuses
 * (fail) leaves the places in the records. */
typedef struct test_places {
    dd_place *v;
    size_t n, sets;
    bool fail;
} test_places;

static bool test_reserve(void *ctx, size_t n)
{
    test_places *t = ctx;
    if (t->fail)
        return false;
    t->v = calloc(n ? n : 1, sizeof *t->v);
    t->n = n;
    return true;
}

static void test_set(void *ctx, size_t i, const dd_place *at)
{
    test_places *t = ctx;
    assert_true(i < t->n);
    t->v[i] = *at;
    t->sets++;
}

/* The boilerplate's places kept in the caller's store are those the
 * records hold without one: each record's in order from its first_at,
 * every place of the store set once, the records holding none; and the
 * same repeats and drops. With a store that refuses, the records hold them
 * as without one. */
static void places_in_the_callers_store(void **state)
{
    (void)state;
    static big_corpus c;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        make_big(&c, seed);
        dd_findings want = {0};
        dd_paragraphs *p = table_of(&c, 3);
        dd_paragraphs_finish(p, &want);
        dd_paragraphs_free(p);
        assert_true(want.nboilerplate > 0);
        for (int fail = 0; fail < 2; fail++) {
            test_places t = {.fail = fail};
            dd_place_store store = {&t, test_reserve, test_set};
            dd_findings got = {0};
            p = table_of(&c, 3);
            dd_paragraphs_keep_places(p, &store);
            dd_paragraphs_finish(p, &got);
            dd_paragraphs_free(p);
            if (fail) {
                assert_same_findings(&got, &want);
            } else {
                size_t total = 0;
                for (size_t r = 0; r < got.nboilerplate; r++) {
                    const dd_boilerplate *b = &got.boilerplate[r];
                    assert_null(b->at);
                    assert_int_equal(b->first_at, total);
                    assert_int_equal(b->n, want.boilerplate[r].n);
                    for (size_t k = 0; k < b->n; k++)
                        assert_same_places(&t.v[b->first_at + k], &want.boilerplate[r].at[k]);
                    total += b->n;
                }
                assert_int_equal(total, t.n);
                assert_int_equal(t.sets, t.n);
                for (size_t r = 0; r < got.nboilerplate; r++) /* as the store holds them */
                    got.boilerplate[r].at = t.v + got.boilerplate[r].first_at;
                assert_same_findings(&got, &want);
                for (size_t r = 0; r < got.nboilerplate; r++)
                    got.boilerplate[r].at = NULL;
            }
            free(t.v);
            dd_findings_free(&got);
        }
        dd_findings_free(&want);
    }
}

/* Near-repeats read back a document at a time (dd_paragraphs_read_near, as
 * scan gives them from a scratch file) make the findings of the same
 * near-repeats held: the same repeats (exact and near, a unit with two
 * keeping the one added first), boilerplate and drops; and the table holds
 * one document's at a time, not all of them. Those read back name the
 * unit they repeat, not its lines, and the table reads those lines (one
 * unit read alone) for the near-repeats it reports only. */
#define NEAR_MAX 120
typedef struct near_list {
    dd_place at[NEAR_MAX], of[NEAR_MAX];
    uint64_t unit[NEAR_MAX], of_unit[NEAR_MAX]; /* at's and of's, among all the units */
    uint32_t words[NEAR_MAX];
    size_t n;
    size_t asked; /* documents read_near was asked for */
} near_list;

/* Near-repeats at units of the documents added (not gone), by document,
 * some at the same unit twice, of a place in an earlier document. */
static void make_near(const big_corpus *c, near_list *l, uint64_t seed)
{
    memset(l, 0, sizeof *l);
    for (uint32_t d = 1; d < BIG_DOCS; d++)
        for (size_t u = c->start[d]; c->added[d] && u < c->start[d + 1]; u++) {
            if (c->gone[u] || next_random(&seed) % 3 || l->n + 2 > NEAR_MAX)
                continue;
            int twice = next_random(&seed) % 4 == 0;
            for (int k = 0; k <= twice; k++) {
                uint32_t of_doc = (uint32_t)(next_random(&seed) % d);
                size_t of = c->start[of_doc] +
                            next_random(&seed) % (c->start[of_doc + 1] - c->start[of_doc]);
                l->at[l->n] = (dd_place){d, c->units[u].first_line, c->units[u].last_line};
                l->unit[l->n] = u;
                l->of[l->n] = (dd_place){of_doc, c->units[of].first_line, c->units[of].last_line};
                l->of_unit[l->n] = of;
                l->words[l->n++] = c->units[u].words;
            }
        }
}

/* Adds the near-repeats of l at document doc (UINT32_MAX: all) to p, with
 * the lines of the units they repeat (given), or their numbers. */
static void add_near_of(dd_paragraphs *p, const near_list *l, uint32_t doc, bool given)
{
    for (size_t i = 0; i < l->n; i++)
        if (doc == UINT32_MAX || l->at[i].doc == doc)
            dd_paragraphs_add_near(
                p, l->unit[i], l->at[i], given ? l->of[i] : (dd_place){l->of[i].doc, 0, 0},
                given ? DD_LINES_GIVEN : l->of_unit[i], l->words[i], 0.5 + 0.001 * (double)i, 0.9);
}

static void read_near_of(void *ctx, dd_paragraphs *p, uint32_t doc)
{
    near_list *l = ctx;
    l->asked++;
    add_near_of(p, l, doc, false);
}

/* Units read through dd_paragraphs_read_units: in passes, and alone. */
typedef struct near_unit_reads {
    const big_corpus *c;
    size_t passing, alone;
} near_unit_reads;

static dd_unit unit_passing(void *ctx, size_t u)
{
    near_unit_reads *r = ctx;
    r->passing++;
    return r->c->units[u];
}

static dd_unit unit_by_itself(void *ctx, size_t u)
{
    near_unit_reads *r = ctx;
    r->alone++;
    return r->c->units[u];
}

static void near_repeats_read_back_by_document_are_those_held(void **state)
{
    (void)state;
    static big_corpus c;
    static near_list l;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        make_big(&c, seed);
        make_near(&c, &l, seed * 31);
        assert_true(l.n > 10);
        dd_paragraphs *held = table_of(&c, 3),
                      *read = dd_paragraphs_new(NULL, &c.starts, MIN_WORDS, DF);
        near_unit_reads reads = {&c, 0, 0};
        dd_paragraphs_read_units(read, unit_passing, unit_by_itself, &reads);
        dd_paragraphs_leave_out(read, c.gone_bits);
        for (uint32_t d = 0; d < BIG_DOCS; d++)
            if (c.added[d])
                assert_true(dd_paragraphs_add(read, d, NULL));
        add_near_of(held, &l, UINT32_MAX, true);
        dd_paragraphs_read_near(read, read_near_of, &l);
        dd_findings want = {0}, got = {0};
        dd_paragraphs_finish(held, &want);
        dd_paragraphs_finish(read, &got);
        size_t added = 0, most = 0;
        for (uint32_t d = 0; d < BIG_DOCS; d++) {
            size_t n = 0;
            for (size_t i = 0; i < l.n; i++)
                n += l.at[i].doc == d;
            added += c.added[d];
            most = n > most ? n : most;
        }
        assert_int_equal(l.asked, 2 * added); /* twice each document added */
        assert_int_equal(dd_paragraphs_near_most(held), l.n);
        assert_int_equal(dd_paragraphs_near_most(read), most);
        assert_true(dd_paragraphs_finding_bytes(read) < dd_paragraphs_finding_bytes(held));
        size_t near = 0;
        assert_int_equal(got.nrepeats, want.nrepeats);
        for (size_t r = 0; r < want.nrepeats; r++) {
            const dd_repeat *x = &got.repeats[r], *y = &want.repeats[r];
            assert_same_places(&x->at, &y->at);
            assert_same_places(&x->of, &y->of);
            assert_int_equal(x->units, y->units);
            assert_int_equal(x->words, y->words);
            assert_int_equal(x->exact, y->exact);
            assert_true(x->jaccard == y->jaccard);
            near += !y->exact;
        }
        assert_true(near > 0);
        assert_int_equal(reads.alone, near + got.nboilerplate); /* of, and each record's text */
        assert_int_equal(got.nboilerplate, want.nboilerplate);
        for (size_t r = 0; r < want.nboilerplate; r++) {
            assert_int_equal(got.boilerplate[r].n, want.boilerplate[r].n);
            for (size_t k = 0; k < want.boilerplate[r].n; k++)
                assert_same_places(&got.boilerplate[r].at[k], &want.boilerplate[r].at[k]);
        }
        assert_int_equal(got.ndrops, want.ndrops);
        for (size_t r = 0; r < want.ndrops; r++)
            assert_same_places(&got.drops[r], &want.drops[r]);
        dd_findings_free(&got);
        dd_findings_free(&want);
        dd_paragraphs_free(held);
        dd_paragraphs_free(read);
    }
}

/* The later occurrences kept in the caller's lists (dd_paragraphs_keep_later,
 * as scan keeps them in a scratch file): each part's list gets its units
 * in increasing order, each a later occurrence of a key first seen before
 * it, read back a few at a time; the findings are those of the table that
 * holds them, and the table holds none of them (its bytes do not grow with
 * the units). An append that fails fails the table. */
#define LIST_MAX (BIG_DOCS * BIG_UNITS)
typedef struct test_lists {
    dd_later v[64][LIST_MAX];
    size_t n[64];
    size_t appends, reads;
    bool fail; /* every append fails */
} test_lists;

static bool test_append(void *ctx, size_t k, const dd_later *v, size_t n)
{
    test_lists *l = ctx;
    if (l->fail)
        return false;
    assert_true(n > 0 && n <= DD_LATER_BLOCK && l->n[k] + n <= LIST_MAX);
    for (size_t i = 0; i < n; i++) {
        assert_true(v[i].first < v[i].unit);
        assert_true(l->n[k] == 0 || l->v[k][l->n[k] - 1].unit < v[i].unit);
        l->v[k][l->n[k]++] = v[i];
    }
    l->appends++;
    return true;
}

static size_t test_read(void *ctx, size_t k, size_t from, dd_later *out, size_t n)
{
    test_lists *l = ctx;
    l->reads++;
    if (from >= l->n[k])
        return 0;
    if (n > 3) /* a few at a time: the table reads on */
        n = 3;
    if (n > l->n[k] - from)
        n = l->n[k] - from;
    memcpy(out, l->v[k] + from, n * sizeof *out);
    return n;
}

static void later_occurrences_in_the_callers_lists(void **state)
{
    (void)state;
    static big_corpus c;
    static test_lists l;
    dd_later_lists lists = {&l, test_append, test_read};
    for (uint64_t seed = 1; seed <= 20; seed++) {
        make_big(&c, seed);
        size_t parts[] = {1, 3, 64};
        for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
            memset(&l, 0, sizeof l);
            dd_paragraphs *held = table_of(&c, parts[i]);
            dd_paragraphs *kept = table_in_lists(&c, parts[i], &lists);
            size_t later = 0;
            for (size_t k = 0; k < parts[i]; k++)
                later += l.n[k];
            assert_true(later > 10 && l.appends > 0);
            assert_true(dd_paragraphs_memory_bytes(kept) + later * sizeof(dd_later) <=
                        dd_paragraphs_memory_bytes(held));
            dd_findings want = {0}, got = {0};
            dd_paragraphs_finish(held, &want);
            dd_paragraphs_finish(kept, &got);
            assert_true(l.reads > later / 3);
            assert_true(want.nrepeats + want.nboilerplate > 0);
            assert_int_equal(got.nrepeats, want.nrepeats);
            for (size_t r = 0; r < want.nrepeats; r++) {
                assert_same_places(&got.repeats[r].at, &want.repeats[r].at);
                assert_same_places(&got.repeats[r].of, &want.repeats[r].of);
                assert_int_equal(got.repeats[r].units, want.repeats[r].units);
            }
            assert_int_equal(got.nboilerplate, want.nboilerplate);
            for (size_t r = 0; r < want.nboilerplate; r++) {
                assert_int_equal(got.boilerplate[r].n, want.boilerplate[r].n);
                for (size_t k = 0; k < want.boilerplate[r].n; k++)
                    assert_same_places(&got.boilerplate[r].at[k], &want.boilerplate[r].at[k]);
            }
            assert_int_equal(got.ndrops, want.ndrops);
            for (size_t r = 0; r < want.ndrops; r++)
                assert_same_places(&got.drops[r], &want.drops[r]);
            dd_findings_free(&got);
            dd_findings_free(&want);
            dd_paragraphs_free(held);
            dd_paragraphs_free(kept);
        }
    }
    /* Lists that cannot keep them: the table fails, with an error. */
    memset(&l, 0, sizeof l);
    l.fail = true;
    dd_paragraphs *p = dd_paragraphs_new(c.units, &c.starts, MIN_WORDS, DF);
    for (uint32_t d = 0; d < BIG_DOCS; d++)
        assert_true(dd_paragraphs_add(p, d, NULL));
    dd_paragraphs_split(p, 2);
    dd_paragraphs_keep_later(p, &lists);
    dd_paragraphs_build_part(p, 0);
    dd_paragraphs_build_part(p, 1);
    dd_notes notes = {0};
    assert_false(dd_paragraphs_parts_done(p, &notes));
    assert_int_equal(notes.n, 1);
    assert_int_equal(notes.v[0].kind, DD_NOTE_ERROR);
    dd_notes_free(&notes);
    dd_paragraphs_free(p);
}

/* The units handed out to their parts (dd_paragraphs_hand_out, as scan
 * does when its units are in a scratch file): one pass reads each unit
 * added once (not left out), each part's list gets its units in
 * increasing order with their keys, documents and words, building the
 * parts reads no unit of the corpus (without it, every part reads every
 * unit), and the table is the one built without it: the same first
 * occurrences and findings. Lists that cannot keep them fail the table. */
typedef struct unit_reads {
    const big_corpus *c;
    size_t n; /* units read (get) */
} unit_reads;

static dd_unit count_unit(void *ctx, size_t u)
{
    unit_reads *r = ctx;
    r->n++;
    return r->c->units[u];
}

typedef struct test_unit_lists {
    dd_part_unit v[64][LIST_MAX];
    size_t n[64];
    bool fail; /* every append fails */
} test_unit_lists;

static bool unit_append(void *ctx, size_t k, const dd_part_unit *v, size_t n)
{
    test_unit_lists *l = ctx;
    if (l->fail)
        return false;
    assert_true(n > 0 && n <= DD_PART_UNIT_BLOCK && l->n[k] + n <= LIST_MAX);
    for (size_t i = 0; i < n; i++) {
        assert_true(l->n[k] == 0 || l->v[k][l->n[k] - 1].unit < v[i].unit);
        l->v[k][l->n[k]++] = v[i];
    }
    return true;
}

static size_t unit_read(void *ctx, size_t k, size_t from, dd_part_unit *out, size_t n)
{
    test_unit_lists *l = ctx;
    if (from >= l->n[k])
        return 0;
    if (n > 5) /* a few at a time: the part reads on */
        n = 5;
    if (n > l->n[k] - from)
        n = l->n[k] - from;
    memcpy(out, l->v[k] + from, n * sizeof *out);
    return n;
}

/* The table of c read through reads (dd_paragraphs_read_units) in nparts
 * parts, its units handed out to lists (NULL: not). */
static dd_paragraphs *table_handed_out(const big_corpus *c, size_t nparts, unit_reads *reads,
                                       const dd_unit_lists *lists)
{
    dd_paragraphs *p = dd_paragraphs_new(NULL, &c->starts, MIN_WORDS, DF);
    dd_paragraphs_read_units(p, count_unit, NULL, reads);
    dd_paragraphs_leave_out(p, c->gone_bits);
    for (uint32_t d = 0; d < BIG_DOCS; d++)
        if (c->added[d])
            assert_true(dd_paragraphs_add(p, d, NULL));
    for (uint64_t letter = 0; letter < LETTERS; letter++)
        dd_paragraphs_want_first(p, key_of(letter));
    dd_paragraphs_split(p, nparts);
    if (lists)
        assert_true(dd_paragraphs_hand_out(p, lists, NULL));
    return p;
}

/* The unit of document doc of c that starts (first) or ends on line;
 * NULL if none does. */
static const dd_unit *unit_on_line(const big_corpus *c, uint32_t doc, size_t line, bool first)
{
    for (size_t u = c->start[doc]; u < c->start[doc + 1]; u++)
        if ((first ? c->units[u].first_line : c->units[u].last_line) == line)
            return &c->units[u];
    return NULL;
}

/* Every place f names begins and ends on a unit's lines: a repeat's first
 * unit has the key of the first unit it repeats, its last unit the key of
 * the last; a boilerplate place is one whole unit of the record's key. */
static void assert_places_of_units(const big_corpus *c, const dd_findings *f)
{
    for (size_t r = 0; r < f->nrepeats; r++) {
        const dd_repeat *x = &f->repeats[r];
        for (int first = 0; first < 2; first++) {
            const dd_unit *at =
                unit_on_line(c, x->at.doc, first ? x->at.first_line : x->at.last_line, first);
            const dd_unit *of =
                unit_on_line(c, x->of.doc, first ? x->of.first_line : x->of.last_line, first);
            assert_non_null(at);
            assert_non_null(of);
            assert_true(sh_key_equal(at->key, of->key));
        }
    }
    for (size_t r = 0; r < f->nboilerplate; r++) {
        const dd_boilerplate *b = &f->boilerplate[r];
        sh_key key = {0, 0};
        for (size_t k = 0; k < b->n; k++) {
            bool one = false;
            for (size_t u = c->start[b->at[k].doc]; u < c->start[b->at[k].doc + 1]; u++)
                if (c->units[u].first_line == b->at[k].first_line &&
                    c->units[u].last_line == b->at[k].last_line &&
                    (k == 0 || sh_key_equal(c->units[u].key, key)))
                    one = true, key = c->units[u].key;
            assert_true(one);
        }
    }
}

static void units_handed_out_to_their_parts_are_read_once(void **state)
{
    (void)state;
    static big_corpus c;
    static test_unit_lists l;
    dd_unit_lists lists = {&l, unit_append, unit_read};
    for (uint64_t seed = 1; seed <= 20; seed++) {
        make_big(&c, seed);
        size_t there = 0; /* units added, not left out */
        for (uint32_t d = 0; d < BIG_DOCS; d++)
            for (size_t u = c.start[d]; c.added[d] && u < c.start[d + 1]; u++)
                there += !c.gone[u];
        size_t parts[] = {1, 3, 8, 64};
        for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
            size_t nparts = parts[i];
            memset(&l, 0, sizeof l);
            unit_reads every = {&c, 0}, once = {&c, 0};
            dd_paragraphs *plain = table_handed_out(&c, nparts, &every, NULL);
            dd_paragraphs *handed = table_handed_out(&c, nparts, &once, &lists);
            assert_int_equal(once.n, there); /* the pass: each unit once */
            size_t listed = 0;
            for (size_t k = 0; k < nparts; k++)
                for (size_t e = 0; e < l.n[k]; e++, listed++) {
                    const dd_part_unit *x = &l.v[k][e];
                    assert_false(c.gone[x->unit]);
                    assert_true(c.start[x->doc] <= x->unit && x->unit < c.start[x->doc + 1]);
                    assert_true(c.added[x->doc]);
                    assert_true(sh_key_equal(x->key, c.units[x->unit].key));
                    assert_int_equal(x->words, c.units[x->unit].words);
                }
            assert_int_equal(listed, there);
            for (size_t k = nparts; k-- > 0;) {
                dd_paragraphs_build_part(plain, k);
                dd_paragraphs_build_part(handed, k);
            }
            assert_true(dd_paragraphs_parts_done(plain, NULL));
            assert_true(dd_paragraphs_parts_done(handed, NULL));
            assert_int_equal(every.n, nparts * there); /* every part, every unit */
            assert_int_equal(once.n, there);           /* no more */
            for (uint64_t letter = 0; letter < LETTERS; letter++) {
                dd_place a, b, in_corpus;
                bool found = dd_paragraphs_first(plain, key_of(letter), &a);
                assert_int_equal(dd_paragraphs_first(handed, key_of(letter), &b), found);
                assert_int_equal(first_in(&c, key_of(letter), &in_corpus), found);
                if (found) {
                    assert_same_places(&a, &b);
                    assert_same_places(&a, &in_corpus);
                }
            }
            /* The first occurrences, and then the findings, read their
             * places where the table carried them: the units are read
             * again only for the text of each boilerplate record. */
            assert_int_equal(every.n, nparts * there);
            assert_int_equal(once.n, there);
            dd_findings want = {0}, got = {0};
            dd_paragraphs_finish(plain, &want);
            dd_paragraphs_finish(handed, &got);
            assert_true(want.nrepeats + want.nboilerplate > 0);
            assert_same_findings(&got, &want);
            assert_int_equal(every.n, nparts * there + want.nboilerplate);
            assert_int_equal(once.n, there + got.nboilerplate);
            assert_places_of_units(&c, &got);
            dd_findings_free(&got);
            dd_findings_free(&want);
            dd_paragraphs_free(plain);
            dd_paragraphs_free(handed);
        }
    }
    /* Lists that cannot keep them: the table fails, with an error. */
    memset(&l, 0, sizeof l);
    l.fail = true;
    unit_reads reads = {&c, 0};
    dd_paragraphs *p = dd_paragraphs_new(NULL, &c.starts, MIN_WORDS, DF);
    dd_paragraphs_read_units(p, count_unit, NULL, &reads);
    for (uint32_t d = 0; d < BIG_DOCS; d++)
        assert_true(dd_paragraphs_add(p, d, NULL));
    dd_paragraphs_split(p, 2);
    dd_notes notes = {0};
    assert_false(dd_paragraphs_hand_out(p, &lists, &notes));
    assert_int_equal(notes.n, 1);
    assert_int_equal(notes.v[0].kind, DD_NOTE_ERROR);
    dd_notes_free(&notes);
    dd_paragraphs_free(p);
}

/* The lines the findings remove kept in the caller's store
 * (dd_paragraphs_keep_drops, as scan keeps them in a scratch array past a
 * share of --memory): appended a block at most at a time, in a few runs
 * each by document then line, f->drops left empty; dd_drops_merge reads
 * them back, a few at a time, each once, as the drops held without a
 * store. Both are the ranges of every finding (the places of the
 * boilerplate, the repeats exact and near), those that overlap or touch
 * made one: a plain sort of them all. */
#define STORE_MAX 4096
typedef struct test_drops {
    dd_drop v[STORE_MAX];
    size_t n, appends, read;
} test_drops;

static void drops_append(void *ctx, const dd_drop *v, size_t n)
{
    test_drops *t = ctx;
    assert_true(n > 0 && n <= DD_DROPS_BLOCK && t->n + n <= STORE_MAX);
    memcpy(t->v + t->n, v, n * sizeof *v);
    t->n += n;
    t->appends++;
}

static size_t drops_read(void *ctx, size_t from, dd_drop *out, size_t n)
{
    test_drops *t = ctx;
    if (from >= t->n)
        return 0;
    if (n > 3) /* a few at a time: the merge reads on */
        n = 3;
    if (n > t->n - from)
        n = t->n - from;
    memcpy(out, t->v + from, n * sizeof *out);
    t->read += n;
    return n;
}

static int compare_places(const void *a, const void *b)
{
    const dd_place *x = a, *y = b;
    if (x->doc != y->doc)
        return x->doc < y->doc ? -1 : 1;
    if (x->first_line != y->first_line)
        return x->first_line < y->first_line ? -1 : 1;
    return (x->last_line > y->last_line) - (x->last_line < y->last_line);
}

/* The ranges of every finding of f, sorted, those that overlap or touch
 * made one, in *out (malloc'd); returns how many. */
static size_t plain_drops(const dd_findings *f, dd_drop **out)
{
    size_t n = f->nrepeats;
    for (size_t r = 0; r < f->nboilerplate; r++)
        n += f->boilerplate[r].n;
    dd_drop *v = malloc((n ? n : 1) * sizeof *v);
    size_t k = 0;
    for (size_t r = 0; r < f->nrepeats; r++)
        v[k++] = f->repeats[r].at;
    for (size_t r = 0; r < f->nboilerplate; r++)
        for (size_t i = 0; i < f->boilerplate[r].n; i++)
            v[k++] = f->boilerplate[r].at[i];
    qsort(v, n, sizeof *v, compare_places);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w && v[w - 1].doc == v[i].doc && v[i].first_line <= v[w - 1].last_line + 1) {
            if (v[i].last_line > v[w - 1].last_line)
                v[w - 1].last_line = v[i].last_line;
        } else {
            v[w++] = v[i];
        }
    }
    *out = v;
    return w;
}

/* Checks the findings of p, without a store (want) and with one (kept). */
static void check_drops_kept(dd_paragraphs *held, dd_paragraphs *kept, test_drops *t,
                             size_t *runs_most)
{
    dd_drop_store store = {t, drops_append, drops_read};
    dd_findings want = {0}, got = {0};
    dd_paragraphs_finish(held, &want);
    dd_paragraphs_keep_drops(kept, &store);
    dd_paragraphs_finish(kept, &got);
    dd_drop *plain;
    size_t nplain = plain_drops(&want, &plain);
    assert_true(nplain > 0);
    assert_int_equal(want.ndrops, nplain);
    for (size_t i = 0; i < nplain; i++)
        assert_same_places(&want.drops[i], &plain[i]);
    /* In the store: every one written, in runs each in order. */
    assert_int_equal(got.ndrops, 0);
    assert_null(got.drops);
    assert_int_equal(got.drops_written, t->n);
    assert_true(t->n >= nplain);
    assert_true(got.ndrop_runs >= 1 && got.ndrop_runs <= DD_RUN_PASSES + 3);
    assert_int_equal(got.drop_runs[got.ndrop_runs - 1], t->n);
    for (size_t r = 0, from = 0; r < got.ndrop_runs; from = got.drop_runs[r++]) {
        assert_true(got.drop_runs[r] > from);
        for (size_t i = from + 1; i < got.drop_runs[r]; i++)
            assert_true(compare_places(&t->v[i - 1], &t->v[i]) <= 0);
    }
    *runs_most = got.ndrop_runs > *runs_most ? got.ndrop_runs : *runs_most;
    /* Read back merged: the drops held without a store, each read once. */
    t->read = 0;
    dd_drops_merge *m = dd_drops_merge_new(&got);
    dd_drop d;
    size_t n = 0;
    while (dd_drops_merge_next(m, &d)) {
        assert_true(n < nplain);
        assert_same_places(&d, &plain[n++]);
    }
    assert_false(dd_drops_merge_next(m, &d));
    assert_int_equal(n, nplain);
    assert_int_equal(t->read, t->n);
    assert_true(dd_drops_merge_bytes(m) < 32 * DD_DROPS_MERGE_READ); /* 24 bytes a drop */
    dd_drops_merge_free(m);
    /* The rest of the findings as without a store. */
    got.drops = want.drops, got.ndrops = want.ndrops;
    assert_same_findings(&got, &want);
    got.drops = NULL, got.ndrops = 0;
    free(plain);
    dd_findings_free(&got);
    dd_findings_free(&want);
}

/* The corpus and near-repeats of seed, and two tables of them in 3 parts:
 * held, given the near-repeats at once; kept, reading them back. */
static void held_and_kept(big_corpus *c, near_list *l, uint64_t seed, dd_paragraphs **held,
                          dd_paragraphs **kept)
{
    make_big(c, seed);
    make_near(c, l, seed * 37);
    *held = table_of(c, 3);
    *kept = table_of(c, 3);
    add_near_of(*held, l, UINT32_MAX, true);
    dd_paragraphs_read_near(*kept, read_near_of, l);
}

static void drops_in_the_callers_store(void **state)
{
    (void)state;
    static big_corpus c;
    static near_list l;
    static test_drops t;
    size_t runs_most = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        dd_paragraphs *held, *kept;
        held_and_kept(&c, &l, seed, &held, &kept);
        memset(&t, 0, sizeof t);
        check_drops_kept(held, kept, &t, &runs_most);
        dd_paragraphs_free(held);
        dd_paragraphs_free(kept);
    }
    assert_true(runs_most >= 3); /* boilerplate, runs and near-repeats: merged */
    /* Many drops (every unit of the 40 documents boilerplate: 480
     * places): appended in blocks. */
    dd_unit_starts_free(&c.starts);
    memset(&c, 0, sizeof c);
    size_t u = 0;
    for (size_t d = 0; d < BIG_DOCS; d++) {
        for (size_t k = 0; k < BIG_UNITS; k++, u++) {
            uint64_t letter = k % 2 == 0 && d % 3 ? 1 : k;
            c.units[u] = (dd_unit){
                .first_line = k + 1, .last_line = k + 1, .words = 9, .key = key_of(letter)};
        }
        c.start[d + 1] = u;
        c.added[d] = true;
    }
    index_big(&c);
    dd_paragraphs *held = table_of(&c, 2), *kept = table_of(&c, 2);
    memset(&t, 0, sizeof t);
    check_drops_kept(held, kept, &t, &runs_most);
    assert_true(t.appends > 1 && t.n > DD_DROPS_BLOCK);
    dd_paragraphs_free(held);
    dd_paragraphs_free(kept);
}

/* The repeats kept in the caller's store (dd_paragraphs_keep_repeats, as
 * the rounds keep them in a scratch array past a share of --memory):
 * appended as found, in a few runs each by document then line, none
 * empty, f->repeats left NULL with nrepeats counting them; the runs merged
 * stably (kway_merge.h) are the repeats held without a store, every field
 * the same, and the rest of the findings are as without it. */
typedef struct test_repeats {
    dd_repeat v[STORE_MAX];
    size_t n, ends[DD_RUN_PASSES + 1], nruns;
} test_repeats;

static void repeats_append(void *ctx, const dd_repeat *v, size_t n)
{
    test_repeats *t = ctx;
    assert_true(n > 0 && t->n + n <= STORE_MAX);
    memcpy(t->v + t->n, v, n * sizeof *v);
    t->n += n;
}

static void repeats_end_run(void *ctx)
{
    test_repeats *t = ctx;
    assert_true(t->nruns < DD_RUN_PASSES + 1);
    assert_true(t->n > (t->nruns ? t->ends[t->nruns - 1] : 0)); /* not empty */
    t->ends[t->nruns++] = t->n;
}

static size_t repeat_run_length(const void *ctx, size_t r)
{
    const test_repeats *t = ctx;
    return t->ends[r] - (r ? t->ends[r - 1] : 0);
}

static size_t repeat_run_read(const void *ctx, size_t r, size_t from, void *out, size_t n)
{
    const test_repeats *t = ctx;
    size_t length = repeat_run_length(t, r);
    if (from >= length)
        return 0;
    if (n > length - from)
        n = length - from;
    memcpy(out, t->v + (r ? t->ends[r - 1] : 0) + from, n * sizeof *t->v);
    return n;
}

static void repeats_in_the_callers_store(void **state)
{
    (void)state;
    static big_corpus c;
    static near_list l;
    static test_repeats t;
    size_t runs_most = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        dd_paragraphs *held, *kept;
        held_and_kept(&c, &l, seed, &held, &kept);
        memset(&t, 0, sizeof t);
        dd_repeat_store store = {&t, repeats_append, repeats_end_run};
        dd_paragraphs_keep_repeats(kept, &store);
        dd_findings want = {0}, got = {0};
        dd_paragraphs_finish(held, &want);
        dd_paragraphs_finish(kept, &got);
        assert_true(want.nrepeats > 0);
        assert_null(got.repeats);
        assert_int_equal(got.nrepeats, want.nrepeats);
        assert_int_equal(t.n, want.nrepeats);
        assert_true(t.nruns >= 1 && t.ends[t.nruns - 1] == t.n);
        for (size_t r = 0, from = 0; r < t.nruns; from = t.ends[r++])
            for (size_t i = from + 1; i < t.ends[r]; i++)
                assert_true(dd_repeat_compare(&t.v[i - 1], &t.v[i]) < 0);
        runs_most = t.nruns > runs_most ? t.nruns : runs_most;
        dd_kway_source src = {.ctx = &t,
                              .size = sizeof(dd_repeat),
                              .nruns = t.nruns,
                              .length = repeat_run_length,
                              .read = repeat_run_read,
                              .compare = dd_repeat_compare};
        dd_kway_merge *m = dd_kway_merge_new(&src, 2); /* a few at a time */
        dd_repeat next;
        size_t n = 0;
        while (dd_kway_merge_next(m, &next)) {
            assert_true(n < want.nrepeats);
            const dd_repeat *y = &want.repeats[n++];
            assert_same_places(&next.at, &y->at);
            assert_same_places(&next.of, &y->of);
            assert_int_equal(next.units, y->units);
            assert_int_equal(next.words, y->words);
            assert_int_equal(next.exact, y->exact);
            assert_true(next.jaccard == y->jaccard && next.containment == y->containment);
        }
        assert_int_equal(n, want.nrepeats);
        dd_kway_merge_free(m);
        /* The rest of the findings as without a store. */
        got.repeats = want.repeats;
        assert_same_findings(&got, &want);
        got.repeats = NULL;
        dd_findings_free(&got);
        dd_findings_free(&want);
        dd_paragraphs_free(held);
        dd_paragraphs_free(kept);
    }
    assert_true(runs_most >= 2); /* runs of repeats and near-repeats: merged */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(boilerplate_between_short_repeats_parts_no_run),
        cmocka_unit_test(a_unit_removed_from_the_source_parts_no_run),
        cmocka_unit_test(runs_are_sought_again_once_others_go),
        cmocka_unit_test(a_near_repeat_that_goes_parts_no_run),
        cmocka_unit_test(short_repeats_apart_stay),
        cmocka_unit_test(the_first_occurrence_of_a_key),
        cmocka_unit_test(a_table_built_in_parts_is_the_table),
        cmocka_unit_test(places_in_the_callers_store),
        cmocka_unit_test(near_repeats_read_back_by_document_are_those_held),
        cmocka_unit_test(later_occurrences_in_the_callers_lists),
        cmocka_unit_test(units_handed_out_to_their_parts_are_read_once),
        cmocka_unit_test(drops_in_the_callers_store),
        cmocka_unit_test(repeats_in_the_callers_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
