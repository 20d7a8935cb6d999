/*
 * test_doc_pairs.c - near-duplicate documents by stages (doc_pairs.h): the
 * pairs of band buckets, counted, and the sweep over verified pairs, give
 * the placer's clusters, similarities and bucket counts (issue 17, item 5).
 *
 * The corpora here have hot buckets: many documents share one paragraph,
 * so they share LSH bands (buckets of more than DD_BUCKET_CAP documents,
 * which fill with representatives and split), and copies of some of them,
 * exact twins, copies of copies and a document without words.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "run/cluster_sweep.h"
#include "run/run.h"
#include "util.h"

/* ------------------------------------------------------------ twins */

/* dd_ranked_key_twins' twin in a test: twins[rank] = first, in order. */
typedef struct twins_seen {
    uint32_t twin[64];
    uint32_t order[64]; /* the ranks given, in the order given */
    size_t n, stop_after;
} twins_seen;

static bool see_twin(void *ctx, uint32_t rank, uint32_t first)
{
    twins_seen *t = ctx;
    t->twin[rank] = first;
    t->order[t->n++] = rank;
    return t->n != t->stop_after;
}

static void twins_of_sorted_keys_whole_or_a_part_at_a_time(void **state)
{
    (void)state;
    /* 48 documents by rank, given in another order: keys of 5 values
     * (two share hi, not lo: other keys), the ranks of each tied key in
     * no order, and ranks 13 and 40 without words (not given). */
    enum { N = 48 };
    const sh_key values[5] = {{0x9000000000000001ull, 1}, {0x9000000000000001ull, 2},
                              {0x1000000000000000ull, 7}, {0xF000000000000000ull, 7},
                              {0x5000000000000000ull, 0}};
    dd_ranked_key all[N];
    size_t n = 0;
    for (uint32_t i = 0; i < N; i++) {
        uint32_t rank = (i * 29 + 11) % N; /* 29 is prime to 48: every rank once */
        if (rank != 13 && rank != 40)
            all[n++] = (dd_ranked_key){values[rank % 5], rank};
    }
    /* expected: the least rank of each key leads, every other is its twin */
    uint32_t expect[N];
    bool expect_lead[N] = {false};
    for (size_t r = 0; r < N; r++)
        expect[r] = UINT32_MAX;
    for (size_t i = 0; i < n; i++) {
        uint32_t least = all[i].rank;
        for (size_t j = 0; j < n; j++)
            if (all[j].key.hi == all[i].key.hi && all[j].key.lo == all[i].key.lo &&
                all[j].rank < least)
                least = all[j].rank;
        if (least == all[i].rank)
            expect_lead[least] = true;
        else
            expect[all[i].rank] = least;
    }

    dd_ranked_key whole[N];
    memcpy(whole, all, sizeof whole);
    dd_ranked_keys_sort(whole, n);
    for (size_t i = 1; i < n; i++) /* by key, ties by rank */
        assert_true(whole[i - 1].key.hi < whole[i].key.hi ||
                    (whole[i - 1].key.hi == whole[i].key.hi &&
                     (whole[i - 1].key.lo < whole[i].key.lo ||
                      (whole[i - 1].key.lo == whole[i].key.lo &&
                       whole[i - 1].rank < whole[i].rank))));
    twins_seen t = {.stop_after = SIZE_MAX};
    bool lead[N] = {false};
    for (size_t r = 0; r < N; r++)
        t.twin[r] = UINT32_MAX;
    assert_true(dd_ranked_key_twins(whole, n, lead, see_twin, &t));
    size_t twins = 0;
    for (size_t r = 0; r < N; r++) {
        assert_int_equal(t.twin[r], expect[r]);
        assert_int_equal(lead[r], expect_lead[r]);
        twins += expect[r] != UINT32_MAX;
    }
    assert_int_equal(t.n, twins);
    assert_int_equal(twins, n - 5);
    assert_false(lead[13] || lead[40]);

    /* a part at a time, by the keys' top bits (a key in one part), each
     * part sorted alone: the same twins and leaders */
    for (size_t parts = 2; parts <= 5; parts++) {
        twins_seen tp = {.stop_after = SIZE_MAX};
        bool lead_p[N] = {false};
        for (size_t r = 0; r < N; r++)
            tp.twin[r] = UINT32_MAX;
        for (size_t p = 0; p < parts; p++) {
            dd_ranked_key part[N];
            size_t k = 0;
            for (size_t i = 0; i < n; i++)
                if ((size_t)((all[i].key.hi >> 32) * parts >> 32) == p)
                    part[k++] = all[i];
            dd_ranked_keys_sort(part, k);
            assert_true(dd_ranked_key_twins(part, k, lead_p, see_twin, &tp));
        }
        assert_int_equal(tp.n, twins);
        for (size_t r = 0; r < N; r++) {
            assert_int_equal(tp.twin[r], expect[r]);
            assert_int_equal(lead_p[r], expect_lead[r]);
        }
    }

    /* a twin that says stop stops it there; no may_lead wanted */
    twins_seen ts = {.stop_after = 3};
    assert_false(dd_ranked_key_twins(whole, n, NULL, see_twin, &ts));
    assert_int_equal(ts.n, 3);
}

/* ------------------------------------------------ pairs of buckets */

static void a_small_bucket_gives_every_pair_and_a_hot_one_its_entries(void **state)
{
    (void)state;
    dd_band_entries v = {0};
    /* band 0: key 7 listed by ranks 9, 2, 5; key 8 by rank 1 alone;
     * band 1: key 7 by ranks 2 and 3 (another band: another bucket);
     * band 2: key 4 by DD_BUCKET_CAP + 2 documents, ranks 100.. (hot). */
    const dd_band_entry some[] = {{7, 0, 9}, {8, 0, 1}, {7, 1, 3}, {7, 0, 2}, {7, 1, 2}, {7, 0, 5}};
    dd_grow(&v.v, &v.cap, 6 + DD_BUCKET_CAP + 2, sizeof *v.v);
    memcpy(v.v, some, sizeof some);
    v.n = 6;
    for (uint32_t i = 0; i < DD_BUCKET_CAP + 2; i++)
        v.v[v.n++] = (dd_band_entry){4, 2, 100 + (DD_BUCKET_CAP + 1 - i)}; /* any order */
    dd_band_entries_sort(v.v, v.n);
    assert_int_equal(v.v[0].rank, 2);
    assert_int_equal(v.v[2].rank, 9);

    dd_rank_pairs pairs = {0};
    dd_band_entries hot = {0};
    dd_bucket_pairs(v.v, v.n, &pairs, &hot);
    /* The hot bucket: all its entries, in rank order. */
    assert_int_equal(hot.n, DD_BUCKET_CAP + 2);
    for (uint32_t i = 0; i < hot.n; i++) {
        assert_int_equal(hot.v[i].rank, 100 + i);
        assert_int_equal(hot.v[i].band, 2);
    }
    /* Pairs: 3 of band 0's key 7, 1 of band 1's, and those of the hot
     * bucket with its first DD_BUCKET_CAP (shares 0: verified ahead only). */
    size_t hot_pairs = 0;
    for (size_t k = 1; k < DD_BUCKET_CAP + 2; k++)
        hot_pairs += k < DD_BUCKET_CAP ? k : DD_BUCKET_CAP;
    assert_int_equal(pairs.n, 4 + hot_pairs);
    dd_rank_pairs_count(&pairs);
    /* (3, 2) once, sharing band 1; (5, 2), (9, 2), (9, 5) band 0's; 2 and 3
     * share key 7 in band 1 only: pairs of different bands are summed,
     * those of one bucket made once. */
    const dd_rank_pair want[] = {{3, 2, 1}, {5, 2, 1}, {9, 2, 1}, {9, 5, 1}};
    assert_int_equal(pairs.n, 4 + hot_pairs);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(pairs.v[i].later, want[i].later);
        assert_int_equal(pairs.v[i].earlier, want[i].earlier);
        assert_int_equal(pairs.v[i].shares, want[i].shares);
    }
    for (size_t i = 4; i < pairs.n; i++) {
        assert_true(pairs.v[i].earlier < 100 + DD_BUCKET_CAP);
        assert_int_equal(pairs.v[i].shares, 0);
    }
    /* The same pair from two bands: one pair, 2 buckets shared. */
    dd_rank_pairs twice = {0};
    const dd_band_entry both[] = {{7, 0, 1}, {7, 0, 4}, {9, 3, 1}, {9, 3, 4}};
    dd_bucket_pairs(both, 4, &twice, &hot);
    dd_rank_pairs_count(&twice);
    assert_int_equal(twice.n, 1);
    assert_int_equal(twice.v[0].later, 4);
    assert_int_equal(twice.v[0].earlier, 1);
    assert_int_equal(twice.v[0].shares, 2);
    dd_rank_pairs_free(&twice);
    dd_rank_pairs_free(&pairs);
    dd_band_entries_free(&hot);
    dd_band_entries_free(&v);
}

/* The in-place sorts give qsort's order (and the pairs counted its sums):
 * short, long, sorted, reversed, all equal, and with many repeats (the
 * quicksort's splits degenerate on those without the median of three and
 * the heapsort), against qsort on a copy. */
static int entry_order(const void *a, const void *b)
{
    const dd_band_entry *x = a, *y = b;
    if (x->band != y->band)
        return x->band < y->band ? -1 : 1;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->rank > y->rank) - (x->rank < y->rank);
}

static int pair_order(const void *a, const void *b)
{
    const dd_rank_pair *x = a, *y = b;
    if (x->later != y->later)
        return x->later < y->later ? -1 : 1;
    return (x->earlier > y->earlier) - (x->earlier < y->earlier);
}

static void sorts_in_place_give_qsorts_order(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 2, 3, 15, 16, 17, 100, 1000, 50000};
    uint64_t seed = 12345;
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        for (int shape = 0; shape < 5; shape++) {
            size_t n = sizes[si];
            dd_band_entry *e = dd_malloc((n ? n : 1) * sizeof *e), *ref = dd_malloc((n ? n : 1) * sizeof *e);
            dd_rank_pairs p = {dd_malloc((n ? n : 1) * sizeof *p.v), n, n};
            dd_rank_pair *pref = dd_malloc((n ? n : 1) * sizeof *pref);
            for (size_t i = 0; i < n; i++) {
                seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                uint32_t r = (uint32_t)(seed >> 33);
                switch (shape) {
                case 0: /* random, distinct ranks */
                    e[i] = (dd_band_entry){seed, r % 64, (uint32_t)i};
                    p.v[i] = (dd_rank_pair){r % 100000, r % 777, 1};
                    break;
                case 1: /* sorted */
                    e[i] = (dd_band_entry){i / 3, 0, (uint32_t)i};
                    p.v[i] = (dd_rank_pair){(uint32_t)(i / 7), (uint32_t)(i % 7), 1};
                    break;
                case 2: /* reversed */
                    e[i] = (dd_band_entry){n - i, 1, (uint32_t)(n - i)};
                    p.v[i] = (dd_rank_pair){(uint32_t)(n - i), 0, 2};
                    break;
                case 3: /* all one key, distinct ranks; one pair repeated */
                    e[i] = (dd_band_entry){42, 3, (uint32_t)(r ^ (uint32_t)i)};
                    p.v[i] = (dd_rank_pair){9, 4, 1};
                    break;
                default: /* few keys, few pairs */
                    e[i] = (dd_band_entry){r % 3, r % 2, (uint32_t)i};
                    p.v[i] = (dd_rank_pair){r % 4, r % 3, r % 5};
                    break;
                }
            }
            if (shape == 3) /* distinct (band, rank): the order is total */
                for (size_t i = 0; i < n; i++)
                    e[i].rank = (uint32_t)i * 2654435761u;
            memcpy(ref, e, n * sizeof *e);
            memcpy(pref, p.v, n * sizeof *pref);
            dd_band_entries_sort(e, n);
            if (n)
                qsort(ref, n, sizeof *ref, entry_order);
            if (n)
                assert_memory_equal(e, ref, n * sizeof *e);
            /* the pairs: qsort's order, each pair once with its shares summed */
            if (n)
                qsort(pref, n, sizeof *pref, pair_order);
            size_t m = 0;
            for (size_t i = 0; i < n; i++) {
                if (m && pref[m - 1].later == pref[i].later && pref[m - 1].earlier == pref[i].earlier)
                    pref[m - 1].shares += pref[i].shares;
                else
                    pref[m++] = pref[i];
            }
            dd_rank_pairs_count(&p);
            assert_int_equal(p.n, m);
            for (size_t i = 0; i < m; i++) {
                assert_int_equal(p.v[i].later, pref[i].later);
                assert_int_equal(p.v[i].earlier, pref[i].earlier);
                assert_int_equal(p.v[i].shares, pref[i].shares);
            }
            free(e);
            free(ref);
            free(p.v);
            free(pref);
        }
    }
}

/* ------------------------------------------------ a corpus */

/* Paragraph p: 40 words no other paragraph has. */
static void add_paragraph(sh_buf *text, unsigned p)
{
    for (unsigned w = 0; w < 40; w++) {
        char word[32];
        int len = snprintf(word, sizeof word, "%sp%uw%u", w ? " " : "", p, w);
        assert_int_equal(sh_buf_append(text, word, (size_t)len), SH_OK);
    }
    assert_int_equal(sh_buf_append(text, "\n", 1), SH_OK);
}

typedef struct corpus {
    sh_hasher hash;
    dd_analyzer a;
    dd_signatures s;
    sh_buf text;
    dd_doc doc;
    /* each document's shingle set, sorted: what load_set reads again */
    uint64_t **sets;
    size_t *set_n, nsets, sets_cap, loads;
} corpus;

/* dd_signatures.load_set: the set kept when the document was added. */
static bool load_set(void *ctx, uint32_t doc, uint64_t **set, size_t *cap, size_t *n)
{
    corpus *c = ctx;
    assert_true(doc < c->nsets);
    dd_grow(set, cap, c->set_n[doc] + 1, sizeof **set);
    memcpy(*set, c->sets[doc], c->set_n[doc] * sizeof **set);
    *n = c->set_n[doc];
    c->loads++;
    return true;
}

/* exact: pairs the estimates let through are decided on the exact sets
 * (load_set); otherwise the estimates decide. */
static void corpus_init(corpus *c, dd_keep keep, bool exact)
{
    memset(c, 0, sizeof *c);
    c->hash = sh_hasher_plain(DD_SEED);
    assert_true(dd_analyzer_init(&c->a, DD_UNIT_LINE, &c->hash, NULL));
    dd_near_params p;
    dd_near_params_default(&p);
    p.verify_exact = exact;
    p.keep = keep;
    assert_true(dd_near_params_check(&p, NULL));
    assert_true(dd_signatures_init(&c->s, &p, &c->hash, NULL));
    c->s.load_set = load_set;
    c->s.load_ctx = c;
}

/* Adds a document of paragraphs paras[0..n). */
static void corpus_add(corpus *c, const unsigned *paras, size_t n)
{
    c->text.len = 0;
    for (size_t i = 0; i < n; i++)
        add_paragraph(&c->text, paras[i]);
    assert_int_equal(dd_analyze(&c->a, c->text.data, c->text.len, &c->doc), SH_OK);
    dd_signatures_add(&c->s, &c->doc.words, c->doc.key, &c->hash);
    /* its distinct shingles, in s's scratch (near.h), sorted */
    size_t k = c->s.docs[c->s.n - 1].shingles;
    if (c->nsets == c->sets_cap) {
        c->sets_cap = c->sets_cap ? 2 * c->sets_cap : 64;
        c->sets = dd_realloc(c->sets, c->sets_cap * sizeof *c->sets);
        c->set_n = dd_realloc(c->set_n, c->sets_cap * sizeof *c->set_n);
    }
    uint64_t *set = dd_malloc((k ? k : 1) * sizeof *set), *tmp = dd_malloc((k ? k : 1) * 8);
    memcpy(set, c->s.scratch, k * sizeof *set);
    dd_sort_u64(set, tmp, k);
    free(tmp);
    c->sets[c->nsets] = set;
    c->set_n[c->nsets++] = k;
}

static void corpus_free(corpus *c)
{
    for (size_t i = 0; i < c->nsets; i++)
        free(c->sets[i]);
    free(c->sets);
    free(c->set_n);
    dd_signatures_free(&c->s);
    dd_doc_free(&c->doc);
    sh_buf_free(&c->text);
    dd_analyzer_free(&c->a);
}

/*
 * n documents sharing paragraph 0, each with paragraphs of its own (1 to 3
 * of them: lengths differ, for --keep longest); a copy of every tenth (its
 * paragraphs in the other order), another of document 20 with a paragraph
 * more, an exact twin of document 7 and of the copy of document 30 (for n
 * of 300), and a document
 * without words; every document linked to the one before it.
 */
static void crowd(corpus *c, unsigned n)
{
    for (unsigned d = 0; d < n; d++) {
        unsigned own = 1 + d % 3, paras[4] = {0, 1000 + d, 2000 + d, 3000 + d};
        corpus_add(c, paras, 1 + own);
    }
    for (unsigned d = 0; d < n; d += 10) {
        unsigned own = 1 + d % 3, paras[4] = {3000 + d, 2000 + d, 1000 + d, 0};
        corpus_add(c, paras + 3 - own, 1 + own);
    }
    corpus_add(c, (unsigned[]){0, 1020, 2020, 3020, 5000}, 5); /* 20's, a paragraph more */
    corpus_add(c, (unsigned[]){0, 1007, 2007}, 3);             /* twin of document 7 */
    corpus_add(c, (unsigned[]){1030, 0}, 2);                   /* twin of the copy of 30 */
    corpus_add(c, NULL, 0);                                    /* no words */
    size_t total = c->s.n;
    dd_doc_pair *links = dd_malloc(total * sizeof *links);
    for (size_t d = 1; d < total; d++)
        links[d - 1] = (dd_doc_pair){(uint32_t)d, (uint32_t)d - 1};
    dd_signatures_link(&c->s, links, total - 1);
    free(links);
}

static void assert_same_clusters(const dd_clusters *x, const dd_clusters *y, size_t n)
{
    assert_int_equal(x->n, y->n);
    assert_memory_equal(x->id_of, y->id_of, n * sizeof *x->id_of);
    assert_memory_equal(x->dropped, y->dropped, n * sizeof *x->dropped);
    for (size_t i = 0; i < x->n; i++) {
        assert_int_equal(x->v[i].id, y->v[i].id);
        assert_int_equal(x->v[i].n, y->v[i].n);
        for (size_t k = 0; k < x->v[i].n; k++) {
            const dd_member *a = &x->v[i].members[k], *b = &y->v[i].members[k];
            assert_int_equal(a->doc, b->doc);
            assert_int_equal(a->of, b->of);
            assert_true(a->jaccard == b->jaccard);
            assert_true(a->containment == b->containment);
            assert_int_equal(a->exact, b->exact);
            assert_int_equal(a->estimated, b->estimated);
        }
    }
    assert_int_equal(x->search.compared, y->search.compared);
    assert_int_equal(x->search.passed_over, y->search.passed_over);
    assert_int_equal(x->search.full_buckets, y->search.full_buckets);
    assert_int_equal(x->search.split, y->search.split);
    assert_int_equal(x->search.full_sub_buckets, y->search.full_sub_buckets);
    assert_int_equal(x->search.unlisted, y->search.unlisted);
}

/* The stages' clustering gives the placer's, hot buckets and all; with
 * exact verification, it reads the exact sets of as many pairs. */
static void check_same_as_the_placer(dd_keep keep, unsigned n, bool exact)
{
    corpus c;
    corpus_init(&c, keep, exact);
    crowd(&c, n);
    dd_clusters placed, swept;
    c.loads = 0;
    dd_cluster_documents(&c.s, &placed);
    size_t placer_loads = c.loads;
    c.loads = 0;
    dd_doc_pairs_stats st;
    dd_cluster_by_pairs(&c.s, &swept, &st);
    assert_same_clusters(&placed, &swept, c.s.n);
    assert_int_equal(c.loads, placer_loads);
    /* With 300, buckets fill and split, and the sweep verifies some pairs
     * of their sub-buckets itself; with 20, none is hot: the pairs given
     * decide everything. */
    assert_int_equal(placed.search.full_buckets > 0, n >= 300);
    assert_int_equal(placed.search.split > 0, n >= 300);
    assert_int_equal(st.hot_buckets > 0, n >= 300);
    assert_int_equal(st.asked > 0, n >= 300);
    /* The verify step decides on the estimates, or leaves the pairs they
     * let through to the exact sets. */
    assert_true(st.pairs > 0);
    assert_int_equal(st.joined > 0, !exact);
    assert_int_equal(st.may_join > 0, exact);
    assert_int_equal(st.exact > 0, exact);
    assert_int_equal(placer_loads > 0, exact);
    /* What was found: the copies and the twins. */
    size_t copies = 0;
    for (size_t d = 0; d < c.s.n; d++)
        copies += swept.dropped[d];
    assert_int_equal(copies, n / 10 + (n >= 300 ? 3 : 1));
    if (keep == DD_KEEP_FIRST && n >= 300) {
        assert_int_equal(swept.id_of[n + n / 10], swept.id_of[20]);     /* the longer copy */
        assert_int_equal(swept.id_of[n + n / 10 + 1], swept.id_of[7]);  /* twin */
        assert_int_equal(swept.id_of[n + n / 10 + 2], swept.id_of[30]); /* its copy's twin */
    }
    dd_clusters_free(&placed);
    dd_clusters_free(&swept);
    corpus_free(&c);
}

static void the_sweep_over_pairs_places_as_the_placer(void **state)
{
    (void)state;
    for (int exact = 0; exact <= 1; exact++) {
        check_same_as_the_placer(DD_KEEP_FIRST, 300, exact);
        check_same_as_the_placer(DD_KEEP_LONGEST, 300, exact);
        check_same_as_the_placer(DD_KEEP_FIRST, 20, exact); /* no hot bucket: pairs only */
    }
}

/* ------------------------------------------------ the sweep of a run, in parts */

/* The placer over docs[0..n) of s, placed in that order. */
static void place_in_order(const dd_signatures *s, const uint32_t *docs, size_t n,
                           dd_clusters *out)
{
    dd_placer *p = dd_placer_new(s);
    dd_member m;
    for (size_t i = 0; i < n; i++)
        dd_placer_place(p, docs[i], &m);
    dd_placer_finish(p, s->n, out);
    dd_placer_free(p);
}

/*
 * Verifying ahead, as run/corpus.c does: the exact overlaps the sweep sends
 * to the pool computed there from the sets kept, and the placer's
 * questions (dd_signatures.overlap) answered from them, or computed when
 * asked.
 */
typedef struct computed {
    uint32_t rep;
    dd_overlap o;
} computed;

typedef struct test_ahead {
    corpus *c;
    const uint32_t *docs; /* the batch (NULL: documents first..first + n - 1) */
    size_t first, n, current;
    computed **got; /* per document of the batch: what the pool computed */
    size_t *ngot, *room, cap; /* room: got[k]'s, in elements */
    size_t batches, sent, answered, missed;
} test_ahead;

static dd_overlap overlap_of_sets(const corpus *c, uint32_t d, uint32_t r)
{
    return (dd_overlap){c->set_n[d], c->set_n[r],
                        dd_sorted_intersection(c->sets[d], c->set_n[d], c->sets[r], c->set_n[r])};
}

/* Document k of the batch. */
static uint32_t batch_doc(const test_ahead *t, size_t k)
{
    return t->docs ? t->docs[k] : (uint32_t)(t->first + k);
}

static void ahead_batch(void *ctx, const uint32_t *docs, size_t first, size_t n)
{
    test_ahead *t = ctx;
    if (n > t->cap) {
        t->got = dd_realloc(t->got, n * sizeof *t->got);
        t->ngot = dd_realloc(t->ngot, n * sizeof *t->ngot);
        t->room = dd_realloc(t->room, n * sizeof *t->room);
        memset(t->got + t->cap, 0, (n - t->cap) * sizeof *t->got);
        t->cap = n;
    }
    for (size_t k = 0; k < t->cap; k++) { /* what the batch before held, given back */
        free(t->got[k]);
        t->got[k] = NULL;
        t->ngot[k] = t->room[k] = 0;
    }
    t->docs = docs;
    t->first = first;
    t->n = n;
    t->current = 0;
    t->batches += n > 0; /* (n 0: the last batch is placed) */
}

static void ahead_pairs(void *ctx, void *worker, size_t k, const uint32_t *reps, size_t n)
{
    (void)worker;
    test_ahead *t = ctx;
    t->got[k] = dd_realloc(t->got[k], (n ? n : 1) * sizeof **t->got);
    t->room[k] = n ? n : 1;
    for (size_t i = 0; i < n; i++) {
        dd_overlap o = overlap_of_sets(t->c, batch_doc(t, k), reps[i]);
        t->got[k][t->ngot[k]++] = (computed){reps[i], o};
        if (dd_overlap_joins(&t->c->s, &o))
            break;
    }
}

/* dd_signatures.overlap, on the calling thread. */
static bool ahead_answer(void *ctx, uint32_t d, uint32_t r, dd_overlap *o)
{
    test_ahead *t = ctx;
    while (t->current < t->n && batch_doc(t, t->current) != d)
        t->current++;
    assert_true(t->current < t->n); /* asked for a document of the batch */
    for (size_t i = 0; i < t->ngot[t->current]; i++) {
        if (t->got[t->current][i].rep == r) {
            t->answered++;
            *o = t->got[t->current][i].o;
            return true;
        }
    }
    t->missed++;
    *o = overlap_of_sets(t->c, d, r);
    return true;
}

/* dd_sweep_ahead.held: what the batch's overlaps computed hold. */
static size_t ahead_held(const void *ctx)
{
    const test_ahead *t = ctx;
    size_t bytes = t->cap * (sizeof *t->got + sizeof *t->ngot + sizeof *t->room);
    for (size_t k = 0; k < t->cap; k++)
        bytes += t->room[k] * sizeof **t->got;
    return bytes;
}

static void test_ahead_free(test_ahead *t)
{
    for (size_t k = 0; k < t->cap; k++)
        free(t->got[k]);
    free(t->got);
    free(t->ngot);
    free(t->room);
}

/* The sweep of a run whose budget is small (run/cluster_sweep.h) gives the
 * placer's clusters, similarities and bucket counts, reading as many exact
 * sets, whether its keys and pairs fit one part or take hundreds (and a
 * scratch file, each byte read back once), and for some of the documents
 * placed again in rank order (as a round of decisions does); and so with
 * its pairs judged ahead on a pool of 3 threads, the exact overlaps
 * computed there. */
static void check_sweep_in_parts(dd_keep keep, bool exact)
{
    corpus c;
    corpus_init(&c, keep, exact);
    crowd(&c, 300);
    size_t n = c.s.n;
    uint32_t *order = dd_malloc(n * sizeof *order), *some = dd_malloc(n * sizeof *some);
    dd_rank_documents(&c.s, order);
    size_t nsome = 0;
    for (size_t r = 0; r < n; r++)
        if (r % 3 != 1)
            some[nsome++] = order[r];
    dd_pool *pool = dd_pool_new("test", 3, NULL, NULL, NULL);
    /* (one part first: the pairs it gives are those every share must;
     * then parts and runs within a share of 48 KiB; then a share below the
     * sweep's least sizes) */
    const size_t shares[] = {(size_t)1 << 24, (size_t)48 << 10, 2048};
    /* (--keep first ranks the documents as numbered: then the sweep is
     * also given no order, 2, and holds none) */
    for (size_t r = 0; keep == DD_KEEP_FIRST && r < n; r++)
        assert_int_equal(order[r], r);
    for (int subset = 0; subset <= (keep == DD_KEEP_FIRST ? 2 : 1); subset++) {
        const uint32_t *listed = subset == 1 ? some : order;
        const uint32_t *docs = subset == 2 ? NULL : listed;
        size_t ndocs = subset == 1 ? nsome : n;
        dd_clusters placed;
        c.loads = 0;
        place_in_order(&c.s, listed, ndocs, &placed);
        size_t placer_loads = c.loads;
        uint64_t given = 0, twins = 0;
        uint32_t *twin = dd_doc_twins(&c.s, listed, ndocs, NULL);
        for (size_t r = 0; r < ndocs; r++)
            twins += twin[r] != UINT32_MAX;
        free(twin);
        assert_true(twins > 0);
        for (size_t i = 0; i < sizeof shares / sizeof *shares; i++) {
            for (int with_pool = 0; with_pool <= 1; with_pool++) {
                dd_clusters swept;
                test_ahead t = {.c = &c};
                dd_sweep_ahead ahead = {pool,
                                        &t,
                                        ahead_batch,
                                        ahead_pairs,
                                        sizeof(computed),
                                        sizeof(computed *) + 2 * sizeof(size_t),
                                        ahead_held};
                if (with_pool) {
                    c.s.overlap = ahead_answer;
                    c.s.overlap_ctx = &t;
                }
                c.loads = 0;
                dd_sweep_stats st;
                char *err = NULL;
                assert_true(dd_cluster_sweep(&c.s, docs, ndocs, shares[i], NULL,
                                             with_pool ? &ahead : NULL, &swept, &st, &err));
                c.s.overlap = NULL;
                c.s.overlap_ctx = NULL;
                assert_null(err);
                assert_same_clusters(&placed, &swept, n);
                if (with_pool) { /* every overlap the placer asked for, none read */
                    assert_int_equal(c.loads, 0);
                    assert_int_equal(t.answered + t.missed > 0, exact);
                    assert_int_equal(t.answered > 0, exact);
                    assert_true(st.judged > 0);
                    assert_int_equal(st.exact_ahead > 0, exact);
                    assert_int_equal(t.batches, st.batches);
                } else {
                    assert_int_equal(c.loads, placer_loads);
                    assert_int_equal(st.judged, 0);
                }
                assert_int_equal(placer_loads > 0, exact);
                assert_true(placed.search.full_buckets > 0); /* hot buckets, split */
                assert_true(placed.search.split > 0);
                assert_true(st.hot_entries > 0);
                /* (the hot buckets and their sub-buckets, numbered: the
                 * same counts as the placer's index by key, above) */
                assert_true(st.hot_buckets > 0);
                assert_true(st.sub_buckets > 0);
                assert_true(st.pairs > 0);
                /* The twins (records among the pairs, not an array a
                 * document), found a part of the exact keys at a time. */
                assert_int_equal(st.twins, twins);
                assert_int_equal(st.twin_parts > 1, shares[i] == 2048);
                /* Every distinct pair given, whatever the parts and runs. */
                if (given == 0)
                    given = st.given;
                assert_int_equal(st.given, given);
                if (shares[i] == 2048) { /* 64 keys a part, 341 pairs a run (3,371: 10 runs) */
                    assert_true(st.key_parts > 100);
                    assert_true(st.keys_scratch > 0);
                    assert_true(st.pair_runs >= 5);
                    assert_true(st.pairs_scratch > 0);
                    /* each byte written read back once */
                    assert_int_equal(st.scratch_read, st.keys_scratch + st.pairs_scratch);
                    assert_true(st.batches > 1);
                    /* less than all the keys at once */
                    assert_true(st.most_held < st.entries * sizeof(dd_band_entry) / 2);
                } else if (shares[i] == (size_t)48 << 10) {
                    /* more than one part and run, each byte read back once,
                     * and every buffer, batch and what the caller held for
                     * it within the share */
                    assert_true(st.key_parts > 1);
                    assert_true(st.pair_runs > 1);
                    assert_int_equal(st.scratch_read, st.keys_scratch + st.pairs_scratch);
                    assert_true(st.most_held <= shares[i]);
                    assert_true(st.most_held > shares[i] / 2);
                } else {
                    assert_int_equal(st.key_parts, 1);
                    assert_int_equal(st.keys_scratch, 0);
                    assert_int_equal(st.pair_runs, 0);
                    assert_int_equal(st.pairs_scratch, 0);
                    assert_int_equal(st.scratch_read, 0);
                    assert_int_equal(st.batches, (ndocs + 511) / 512);
                    assert_true(st.most_held <= shares[i]);
                }
                test_ahead_free(&t);
                dd_clusters_free(&swept);
            }
        }
        dd_clusters_free(&placed);
    }
    dd_pool_free(pool);
    free(order);
    free(some);
    corpus_free(&c);
}

static void the_sweep_in_parts_places_as_the_placer(void **state)
{
    (void)state;
    for (int exact = 0; exact <= 1; exact++) {
        check_sweep_in_parts(DD_KEEP_FIRST, exact);
        check_sweep_in_parts(DD_KEEP_LONGEST, exact);
    }
}

/* ------------------------------------------------ the sweep, on built facts */

/* Seven documents, no bucket hot: the pairs and twins given decide. */
static void the_sweep_joins_the_first_representative_that_verifies(void **state)
{
    (void)state;
    corpus c;
    corpus_init(&c, DD_KEEP_FIRST, false);
    for (unsigned d = 0; d < 7; d++)
        corpus_add(&c, (unsigned[]){10 * d, 10 * d + 1}, 2);
    bool hot[SH_MINHASH_MAX_PERM] = {false};
    dd_placer *p = dd_placer_new(&c.s);
    dd_placer_reserve_given(p, 7);
    dd_member m;
    dd_given_pair g[2];
    memset(g, 0, sizeof g);
    assert_int_equal(dd_placer_place_given(p, 0, UINT32_MAX, hot, NULL, 0, &m), 0);
    /* 1 joins 0, as its verdict says. */
    g[0] = (dd_given_pair){.earlier = 0,
                           .shares = 1,
                           .verdict = DD_VERDICT_JOINS,
                           .m = {.jaccard = 0.9, .containment = 0.95}};
    assert_int_equal(dd_placer_place_given(p, 1, UINT32_MAX, hot, g, 1, &m), 0);
    assert_true(m.jaccard == 0.9);
    /* 2 verifies with 1 only: 1 is no representative, so 2 becomes one
     * (clusters never chain). */
    g[0] = (dd_given_pair){.earlier = 0, .shares = 3, .verdict = DD_VERDICT_APART};
    g[1] = (dd_given_pair){.earlier = 1,
                           .shares = 3,
                           .verdict = DD_VERDICT_JOINS,
                           .m = {.jaccard = 0.99, .containment = 1}};
    assert_int_equal(dd_placer_place_given(p, 2, UINT32_MAX, hot, g, 2, &m), 2);
    /* 3 verifies with 0 and 2: it joins 0, the better ranked, though it is
     * closer to 2 and shares more buckets with it. */
    g[0] = (dd_given_pair){.earlier = 0,
                           .shares = 1,
                           .verdict = DD_VERDICT_JOINS,
                           .m = {.jaccard = 0.81, .containment = 0.85}};
    g[1] = (dd_given_pair){.earlier = 2,
                           .shares = 9,
                           .verdict = DD_VERDICT_JOINS,
                           .m = {.jaccard = 0.97, .containment = 0.98}};
    assert_int_equal(dd_placer_place_given(p, 3, UINT32_MAX, hot, g, 2, &m), 0);
    assert_true(m.jaccard == 0.81);
    assert_int_equal(m.doc, 3);
    /* 4: a pair that shares no bucket (verified ahead only, as a hot
     * bucket's) is no candidate; nor is one given with a rank to come; a
     * pair given without a verdict is verified by the placer (on the
     * estimates here: documents 0 and 4 share nothing). */
    dd_given_pair h[3] = {
        {.earlier = 0, .shares = 1, .verdict = DD_VERDICT_UNKNOWN},
        {.earlier = 2, .shares = 0, .verdict = DD_VERDICT_JOINS},
        {.earlier = 4, .shares = 1, .verdict = DD_VERDICT_JOINS},
    };
    assert_int_equal(dd_placer_place_given(p, 4, UINT32_MAX, hot, h, 3, &m), 4);
    /* 5, a twin of 3 (its exact key, as the group step found): 3's
     * cluster and similarity, without a comparison; 6, a twin of 2, a
     * representative: an exact copy of it. */
    assert_int_equal(dd_placer_place_given(p, 5, 3, hot, NULL, 0, &m), 0);
    assert_true(m.jaccard == 0.81);
    assert_int_equal(dd_placer_place_given(p, 6, 2, hot, NULL, 0, &m), 2);
    assert_true(m.exact && m.jaccard == 1);
    dd_placer_counts k = dd_placer_counts_of(p);
    assert_int_equal(k.compared, 4); /* 1, 2 and 3: 0 (1 is no representative); 4: 0 */
    assert_int_equal(k.asked, 1);    /* 4's */
    dd_clusters out;
    dd_placer_finish(p, 7, &out);
    dd_placer_free(p);
    assert_int_equal(out.n, 2);
    assert_int_equal(out.v[0].n, 4); /* 0, then 1, 3 and 5 */
    assert_int_equal(out.v[0].members[1].doc, 1);
    assert_int_equal(out.v[0].members[2].doc, 3);
    assert_int_equal(out.v[0].members[3].doc, 5);
    assert_int_equal(out.v[1].n, 2); /* 2, then 6 */
    assert_int_equal(out.v[1].members[1].doc, 6);
    assert_false(out.dropped[2]);
    assert_false(out.dropped[4]);
    assert_true(out.dropped[6]);
    dd_clusters_free(&out);
    corpus_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_small_bucket_gives_every_pair_and_a_hot_one_its_entries),
        cmocka_unit_test(sorts_in_place_give_qsorts_order),
        cmocka_unit_test(twins_of_sorted_keys_whole_or_a_part_at_a_time),
        cmocka_unit_test(the_sweep_over_pairs_places_as_the_placer),
        cmocka_unit_test(the_sweep_in_parts_places_as_the_placer),
        cmocka_unit_test(the_sweep_joins_the_first_representative_that_verifies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
