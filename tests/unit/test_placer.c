/*
 * test_placer.c - the candidate search of near.c stays bounded per document
 * (issue 14, item 2), and chooses its candidates by shared buckets and rank.
 *
 * The documents here share one paragraph and each has one of its own: any
 * two share about a third of their shingles, so they share LSH bands but
 * never verify. Without bounds each document was compared with every earlier
 * one; now at most DD_MAX_CANDIDATES band candidates and DD_MAX_LINKS linked
 * documents are, and a copy of any one of them is still found.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "util.h"

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
} corpus;

static void corpus_init(corpus *c, dd_keep keep)
{
    memset(c, 0, sizeof *c);
    c->hash = sh_hasher_plain(DD_SEED);
    assert_true(dd_analyzer_init(&c->a, DD_UNIT_LINE, &c->hash, NULL));
    dd_near_params p;
    dd_near_params_default(&p);
    p.verify_exact = false; /* the estimates decide: no sets to read again */
    p.keep = keep;
    assert_true(dd_near_params_check(&p, NULL));
    assert_true(dd_signatures_init(&c->s, &p, &c->hash, NULL));
}

/* Adds a document of paragraphs paras[0..n) (paragraph 0 is the shared one). */
static void corpus_add(corpus *c, const unsigned *paras, size_t n)
{
    c->text.len = 0;
    for (size_t i = 0; i < n; i++)
        add_paragraph(&c->text, paras[i]);
    assert_int_equal(dd_analyze(&c->a, c->text.data, c->text.len, &c->doc), SH_OK);
    dd_signatures_add(&c->s, &c->doc.words, c->doc.key, &c->hash);
}

static void corpus_free(corpus *c)
{
    dd_signatures_free(&c->s);
    dd_doc_free(&c->doc);
    sh_buf_free(&c->text);
    dd_analyzer_free(&c->a);
}

/* Places n documents sharing paragraph 0, then a copy of document `copied`
 * (its paragraphs in the other order: all its shingles but the 4 across the
 * paragraphs, Jaccard 0.9); returns the comparisons per document, and
 * checks the copy joins `copied`. */
static double place_crowd(uint32_t n, uint32_t copied)
{
    corpus c;
    corpus_init(&c, DD_KEEP_FIRST);
    for (unsigned d = 0; d < n; d++)
        corpus_add(&c, (unsigned[]){0, d + 1}, 2);
    corpus_add(&c, (unsigned[]){copied + 1, 0}, 2);
    dd_placer *p = dd_placer_new(&c.s);
    dd_member m;
    for (uint32_t d = 0; d < n; d++)
        assert_int_equal(dd_placer_place(p, d, &m), d); /* all representatives */
    assert_int_equal(dd_placer_place(p, n, &m), copied);
    dd_placer_counts counts = dd_placer_counts_of(p);
    dd_placer_free(p);
    corpus_free(&c);
    return (double)counts.compared / (n + 1);
}

static void a_shared_paragraph_costs_a_bounded_number_of_comparisons(void **state)
{
    (void)state;
    double few = place_crowd(200, 150), many = place_crowd(1600, 1500);
    /* Uncapped: about n / 2 a document (100, then 800). */
    assert_true(few <= DD_MAX_CANDIDATES);
    assert_true(many <= DD_MAX_CANDIDATES);
    assert_true(many <= 1.25 * few + 1);
}

/* Document 0 shares a paragraph with each of the others, which are longer:
 * with --keep longest it is placed last, when all of them are
 * representatives. */
static void a_document_linked_to_many_keeps_its_best_ranked_links(void **state)
{
    (void)state;
    const uint32_t n = 400;
    corpus c;
    corpus_init(&c, DD_KEEP_LONGEST);
    corpus_add(&c, (unsigned[]){0}, 1);
    dd_doc_pair *pairs = dd_malloc(n * sizeof *pairs);
    for (unsigned d = 1; d < n; d++) {
        /* longer as d grows: document n - 1 is ranked first */
        unsigned paras[8] = {0, d, 1000 + d, 2000 + d, 3000 + d, 4000 + d, 5000 + d, 6000 + d};
        corpus_add(&c, paras, 2 + d % 7);
        pairs[d - 1] = (dd_doc_pair){d, 0};
    }
    pairs[n - 1] = (dd_doc_pair){0, n - 1}; /* a repeated pair counts once */
    dd_signatures_link(&c.s, pairs, n);
    free(pairs);

    /* Its DD_MAX_LINKS best-ranked partners: the most words, ties by input
     * order: the documents with 8 paragraphs (d % 7 == 6), from the first. */
    assert_int_equal(c.s.link_start[1] - c.s.link_start[0], DD_MAX_LINKS);
    for (size_t i = 0; i < DD_MAX_LINKS; i++)
        assert_int_equal(c.s.links[c.s.link_start[0] + i], 6 + 7 * i);
    /* The others have one link each: document 0. */
    for (uint32_t d = 1; d < n; d++) {
        assert_int_equal(c.s.link_start[d + 1] - c.s.link_start[d], 1);
        assert_int_equal(c.s.links[c.s.link_start[d]], 0);
    }

    uint32_t *order = dd_malloc(n * sizeof *order);
    dd_rank_documents(&c.s, order);
    assert_int_equal(order[n - 1], 0);
    dd_placer *p = dd_placer_new(&c.s);
    dd_member m;
    dd_placer_counts before = {0};
    for (uint32_t i = 0; i < n; i++) {
        if (i == n - 1)
            before = dd_placer_counts_of(p);
        assert_int_equal(dd_placer_place(p, order[i], &m), order[i]);
    }
    dd_placer_counts after = dd_placer_counts_of(p);
    /* Document 0: its links and its band candidates, not all 399. */
    assert_true(after.compared - before.compared <= DD_MAX_CANDIDATES + DD_MAX_LINKS);
    dd_placer_free(p);
    free(order);
    corpus_free(&c);
}

static void candidates_are_chosen_by_shared_buckets_then_rank(void **state)
{
    (void)state;
    /* The same candidates in two orders give the same choice. */
    dd_candidate a[] = {{9, 1}, {3, 1}, {7, 5}, {1, 1}, {5, 2}, {2, 1}, {8, 5}};
    dd_candidate b[] = {{8, 5}, {2, 1}, {1, 1}, {5, 2}, {7, 5}, {3, 1}, {9, 1}};
    size_t n = sizeof a / sizeof a[0];
    assert_int_equal(dd_choose_candidates(a, n, 4), 4);
    assert_int_equal(dd_choose_candidates(b, n, 4), 4);
    /* 7 and 8 (5 buckets), 5 (2), then 1 (the best rank of those with 1);
     * in rank order. */
    const uint32_t want[] = {1, 5, 7, 8};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(a[i].rank, want[i]);
        assert_int_equal(b[i].rank, want[i]);
    }
    /* Under the cap: all of them, in rank order. */
    dd_candidate c[] = {{4, 1}, {2, 9}, {3, 1}};
    assert_int_equal(dd_choose_candidates(c, 3, 32), 3);
    assert_int_equal(c[0].rank, 2);
    assert_int_equal(c[1].rank, 3);
    assert_int_equal(c[2].rank, 4);
    /* From bucket members: a number once per bucket it is listed in. */
    uint32_t members[] = {40, 7, 40, 12, 7, 40, 3};
    dd_candidate *tmp = NULL;
    size_t tmp_cap = 0;
    uint64_t passed_over = 0;
    assert_int_equal(dd_candidates_from_members(members, 7, &tmp, &tmp_cap, &passed_over), 4);
    assert_int_equal(passed_over, 0);
    assert_int_equal(members[0], 3);
    assert_int_equal(members[1], 7);
    assert_int_equal(members[2], 12);
    assert_int_equal(members[3], 40);
    free(tmp);
}

/* A caller's store of MinHash values (near.h, dd_minhash_store): an array
 * in memory here, where run/corpus.c has a scratch file; it counts the
 * documents read back. */
typedef struct values_store {
    uint32_t *v;
    size_t n, cap, per_doc, reads;
} values_store;

static bool store_append(void *ctx, const uint32_t *values, char **err)
{
    (void)err;
    values_store *st = ctx;
    dd_grow(&st->v, &st->cap, (st->n + 1) * st->per_doc, sizeof *st->v);
    memcpy(st->v + st->n++ * st->per_doc, values, st->per_doc * sizeof *values);
    return true;
}

static void store_get(const void *ctx, size_t k, uint32_t *out)
{
    values_store *st = (values_store *)ctx;
    assert_true(k < st->n);
    memcpy(out, st->v + k * st->per_doc, st->per_doc * sizeof *out);
    st->reads++;
}

static void store_set(void *ctx, size_t k, const uint32_t *values)
{
    values_store *st = ctx;
    assert_true(k < st->n);
    memcpy(st->v + k * st->per_doc, values, st->per_doc * sizeof *values);
}

/* Places 300 documents sharing paragraph 0 and copies of documents 5 (kept
 * in memory) and 250 (in the store), their values in memory up to `kept`
 * documents, the others in a store; the representatives each document
 * gets go to reps[0..302), and the placer's counts are returned. */
static dd_placer_counts place_with_store(size_t kept, uint32_t *reps, values_store *st)
{
    corpus c;
    corpus_init(&c, DD_KEEP_FIRST);
    *st = (values_store){.per_doc = c.s.params.num_perm};
    if (kept != SIZE_MAX)
        dd_signatures_keep_minhash(&c.s, kept * c.s.params.num_perm * sizeof(uint32_t),
                                   (dd_minhash_store){store_append, store_get, store_set, st});
    dd_signer g;
    assert_true(dd_signer_init(&g, &c.s.params, &c.hash, NULL));
    dd_signed sig = {0};
    for (unsigned d = 0; d < 302; d++) {
        c.text.len = 0;
        if (d < 300) {
            add_paragraph(&c.text, 0);
            add_paragraph(&c.text, d + 1);
        } else { /* the copy of 5, then of 250: their paragraphs the other way round */
            add_paragraph(&c.text, d == 300 ? 6 : 251);
            add_paragraph(&c.text, 0);
        }
        assert_int_equal(dd_analyze(&c.a, c.text.data, c.text.len, &c.doc), SH_OK);
        dd_signer_sign(&g, &c.doc.words, c.doc.key, &c.hash, &sig);
        assert_true(dd_signatures_add_signed(&c.s, &sig, NULL));
    }
    dd_signed_free(&sig);
    dd_signer_free(&g);
    dd_placer *p = dd_placer_new(&c.s);
    dd_member m;
    for (uint32_t d = 0; d < 302; d++)
        reps[d] = dd_placer_place(p, d, &m);
    dd_placer_counts counts = dd_placer_counts_of(p);
    dd_placer_free(p);
    /* A document's values replaced in the store are what is read back. */
    if (st->n) {
        uint32_t values[SH_MINHASH_MAX_PERM], none[SH_MINHASH_MAX_PERM];
        memset(none, 0xFF, sizeof none);
        dd_signature_set_minhash(&c.s, 250, none);
        assert_memory_equal(dd_signature_minhash(&c.s, 250, values), none,
                            c.s.params.num_perm * sizeof *none);
    }
    corpus_free(&c);
    return counts;
}

/* The MinHash values of the documents past the signatures' share of memory
 * are the caller's to keep (run/corpus.c: a scratch file past a sixteenth
 * of --memory): the placer reads them back from there, and places every
 * document as when all are in memory. */
static void values_past_the_share_in_a_store_place_the_same(void **state)
{
    (void)state;
    uint32_t in_memory[302], past[302];
    values_store none, st;
    dd_placer_counts all = place_with_store(SIZE_MAX, in_memory, &none);
    dd_placer_counts some = place_with_store(10, past, &st);
    assert_int_equal(none.n, 0);
    assert_int_equal(st.n, 292); /* the documents past the first 10 */
    assert_true(st.reads > 0);
    assert_int_equal(in_memory[300], 5);
    assert_int_equal(in_memory[301], 250);
    assert_memory_equal(in_memory, past, sizeof past);
    assert_int_equal(all.compared, some.compared);
    free(st.v);
}

/* Fills range `range` of `ranges` of f with every document of s, on a
 * thread of its own. */
typedef struct filter_range {
    dd_key_filter *f;
    const dd_signatures *s;
    size_t range, ranges;
} filter_range;

static void *fill_range(void *arg)
{
    filter_range *r = arg;
    dd_key_filter_add(r->f, r->s, NULL, r->s->n, r->range, r->ranges);
    return NULL;
}

/* The filter of shared keys (dd_key_filter): every key two documents have
 * seems shared; of the keys one document alone has, few do (about 1 in 30
 * with 4 bits a key in one word; 1 in 11 with one bit a key, as it was:
 * each of them is an entry the placer's index holds for nothing); and
 * threads filling one filter at once, a range of its words each, make the
 * filter one thread makes, as do blocks of documents whose keys are
 * computed first, then set a range at a time. */
static void a_filter_of_shared_keys_has_every_shared_key_and_few_others(void **state)
{
    (void)state;
    corpus c;
    corpus_init(&c, DD_KEEP_FIRST);
    enum { ALONE = 200 };
    for (unsigned d = 0; d < ALONE; d++) /* one paragraph of its own: keys of its own */
        corpus_add(&c, (unsigned[]){1 + d}, 1);
    corpus_add(&c, (unsigned[]){7}, 1); /* a copy of document 6: its keys shared */
    size_t n = c.s.n;

    dd_key_filter one;
    dd_key_filter_init(&one, &c.s, n);
    dd_key_filter_add(&one, &c.s, NULL, n, 0, 1);
    uint64_t keys[64];
    size_t nkeys = dd_signature_keys(&c.s, n - 1, keys);
    assert_int_equal(nkeys, 64);
    for (size_t b = 0; b < nkeys; b++)
        assert_true(dd_key_filter_shared(&one, keys[b]));
    size_t seem_shared = 0, alone = 0;
    for (size_t d = 0; d < ALONE; d++) {
        if (d == 6)
            continue;
        dd_signature_keys(&c.s, d, keys);
        for (size_t b = 0; b < nkeys; b++, alone++)
            seem_shared += dd_key_filter_shared(&one, keys[b]);
    }
    /* 2.1% expected at this size (10 bits a key), 9.3% with one bit */
    assert_true(seem_shared * 20 < alone);

    /* Ranges filled by threads at once, and ranges filled one after the
     * other from the last: the same bits as one range of every word. */
    for (size_t ranges = 2; ranges <= 5; ranges++) {
        dd_key_filter together;
        dd_key_filter_init(&together, &c.s, n);
        pthread_t threads[5];
        filter_range each[5];
        for (size_t t = 0; t < ranges; t++) {
            each[t] = (filter_range){&together, &c.s, t, ranges};
            assert_int_equal(pthread_create(&threads[t], NULL, fill_range, &each[t]), 0);
        }
        for (size_t t = 0; t < ranges; t++)
            pthread_join(threads[t], NULL);
        assert_int_equal(together.nbits, one.nbits);
        assert_memory_equal(together.words, one.words, one.nbits / 64 * sizeof *one.words);
        dd_key_filter_free(&together);

        dd_key_filter backwards;
        dd_key_filter_init(&backwards, &c.s, n);
        for (size_t t = ranges; t-- > 0;)
            dd_key_filter_add(&backwards, &c.s, NULL, n, t, ranges);
        assert_memory_equal(backwards.words, one.words, one.nbits / 64 * sizeof *one.words);
        dd_key_filter_free(&backwards);

        /* In two steps (dd_key_filter_keys, dd_key_filter_set), by blocks
         * of 7 documents, each block's keys in parts, the ranges from the
         * last: the same bits again. */
        dd_key_filter in_blocks;
        dd_key_filter_init(&in_blocks, &c.s, n);
        uint64_t block_keys[7 * 64];
        for (size_t from = 0; from < n; from += 7) {
            size_t to = from + 7 < n ? from + 7 : n, mid = from + (to - from) / 2;
            dd_key_filter_keys(&c.s, NULL, mid, to, block_keys + (mid - from) * nkeys);
            dd_key_filter_keys(&c.s, NULL, from, mid, block_keys);
            for (size_t t = ranges; t-- > 0;)
                dd_key_filter_set(&in_blocks, &c.s, NULL, from, to, block_keys, t, ranges);
        }
        assert_memory_equal(in_blocks.words, one.words, one.nbits / 64 * sizeof *one.words);
        dd_key_filter_free(&in_blocks);
    }
    dd_key_filter_free(&one);
    corpus_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_shared_paragraph_costs_a_bounded_number_of_comparisons),
        cmocka_unit_test(a_document_linked_to_many_keeps_its_best_ranked_links),
        cmocka_unit_test(candidates_are_chosen_by_shared_buckets_then_rank),
        cmocka_unit_test(values_past_the_share_in_a_store_place_the_same),
        cmocka_unit_test(a_filter_of_shared_keys_has_every_shared_key_and_few_others),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
