/*
 * test_engine.c - the rules of the decision engine (engine/engine.h), each
 * on facts built here, with no file: the join rule and its size-ratio
 * guard, containment, the boilerplate rule (document frequency), the run
 * grouping (batch and stream alike), and which document a cluster keeps
 * (--keep first, --keep longest).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The defaults: jaccard 0.8, or containment 0.8 with 50 shingles in the
 * smaller set, and a member at most 2.5 times its representative. */
static dd_near_params default_params(void)
{
    dd_near_params p;
    dd_near_params_default(&p);
    assert_true(dd_near_params_check(&p, NULL));
    return p;
}

/* The sorted set of the n values from, from + 1, ... */
static uint64_t *range_set(uint64_t from, size_t n)
{
    uint64_t *v = dd_malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = from + i;
    return v;
}

/* The overlap of a (the member) and b (the representative), as exact
 * verification measures it. */
static dd_overlap overlap_of(const uint64_t *a, size_t na, const uint64_t *b, size_t nb)
{
    return (dd_overlap){na, nb, dd_sorted_intersection(a, na, b, nb)};
}

/* Does a member with sets a join a representative with set b, exactly? */
static bool joins_exactly(const dd_near_params *p, const uint64_t *a, size_t na, const uint64_t *b,
                          size_t nb)
{
    dd_overlap o = overlap_of(a, na, b, nb);
    double j, c;
    dd_overlap_similarity(&o, &j, &c);
    return dd_near_joins(p, j, c, (double)na, (double)nb);
}

/* ------------------------------------------------------------ similarity */

static void containment_is_of_the_smaller_set_in_the_larger(void **state)
{
    (void)state;
    /* a = 0..99, b = 50..249: 50 shared of 250 in all. */
    uint64_t *a = range_set(0, 100), *b = range_set(50, 200);
    dd_overlap o = overlap_of(a, 100, b, 200);
    assert_int_equal(o.shared, 50);
    double j, c;
    dd_overlap_similarity(&o, &j, &c);
    assert_true(fabs(j - 0.2) < 1e-12);
    assert_true(fabs(c - 0.5) < 1e-12); /* 50 of a's 100 */
    /* Either way round. */
    dd_overlap r = overlap_of(b, 200, a, 100);
    double j2, c2;
    dd_overlap_similarity(&r, &j2, &c2);
    assert_true(j2 == j && c2 == c);
    /* The estimate from Jaccard and the sizes gives the same containment. */
    assert_true(fabs(dd_containment_of(j, 100, 200) - 0.5) < 1e-12);
    /* A set inside another is contained whole; the estimate stays at 1. */
    uint64_t *inner = range_set(60, 40);
    dd_overlap in = overlap_of(inner, 40, b, 200);
    dd_overlap_similarity(&in, &j, &c);
    assert_true(c == 1.0);
    assert_true(fabs(j - 0.2) < 1e-12);
    assert_true(dd_containment_of(0.99, 100, 100) <= 1.0);
    /* Two empty sets are the same; an empty one holds nothing of another. */
    dd_overlap none = {0, 0, 0};
    dd_overlap_similarity(&none, &j, &c);
    assert_true(j == 1.0 && c == 0.0);
    free(a);
    free(b);
    free(inner);
}

/* ------------------------------------------------------------- join rule */

static void jaccard_at_the_threshold_joins_whatever_the_sizes(void **state)
{
    (void)state;
    dd_near_params p = default_params();
    /* 90 of 100 values shared, sizes 95 and 95: Jaccard 90/100. */
    uint64_t *a = range_set(0, 95), *b = range_set(5, 95);
    assert_true(joins_exactly(&p, a, 95, b, 95));
    /* 80 of 110: Jaccard 0.727, containment 0.84 with 95 shingles: by
     * containment. With containment off, it does not join. */
    uint64_t *c = range_set(15, 95);
    assert_true(joins_exactly(&p, a, 95, c, 95));
    p.containment = 0;
    assert_false(joins_exactly(&p, a, 95, c, 95));
    /* At exactly the threshold (4 of 5), it joins. */
    assert_true(dd_near_joins(&p, 0.8, 0.8, 5, 5));
    assert_false(dd_near_joins(&p, 0.79, 1.0, 1000, 1000));
    free(a);
    free(b);
    free(c);
}

static void containment_joins_a_larger_copy_only_within_the_size_ratio(void **state)
{
    (void)state;
    dd_near_params p = default_params();
    /* An article of 100 shingles, and documents that hold it whole with
     * more around it: 200 (2x), 250 (2.5x), 260 (2.6x) and 1000 (10x). */
    uint64_t *article = range_set(1000, 100);
    uint64_t *x2 = range_set(950, 200), *x25 = range_set(950, 250);
    uint64_t *x26 = range_set(950, 260), *x10 = range_set(500, 1000);
    /* The smaller document copies the larger that holds it: it joins. */
    assert_true(joins_exactly(&p, article, 100, x10, 1000));
    /* The larger joins the article, its representative, up to 2.5 times
     * its size ... */
    assert_true(joins_exactly(&p, x2, 200, article, 100));
    assert_true(joins_exactly(&p, x25, 250, article, 100));
    /* ... and never beyond: it is not a copy of a part of itself, and
     * dropping it would lose the rest of its text. */
    assert_false(joins_exactly(&p, x26, 260, article, 100));
    assert_false(joins_exactly(&p, x10, 1000, article, 100));
    /* A wider guard lets it join. */
    p.size_ratio = 11;
    assert_true(joins_exactly(&p, x10, 1000, article, 100));
    free(article);
    free(x2);
    free(x25);
    free(x26);
    free(x10);
}

static void containment_needs_min_shingles_in_the_smaller_set(void **state)
{
    (void)state;
    dd_near_params p = default_params();
    /* 40 shingles held whole in 60: containment 1, Jaccard 0.67, but the
     * smaller set has fewer than 50 shingles. */
    uint64_t *small = range_set(10, 40), *around = range_set(0, 60);
    assert_false(joins_exactly(&p, small, 40, around, 60));
    p.min_shingles = 40;
    assert_true(joins_exactly(&p, small, 40, around, 60));
    free(small);
    free(around);
}

static void the_candidate_target_covers_the_guarded_containment(void **state)
{
    (void)state;
    /* The LSH bands must find, with p.recall, every pair the rule can
     * join: the lowest Jaccard of a pair that joins by containment within
     * the size ratio is C / (1 + ratio - C). */
    dd_near_params p = default_params();
    double t = dd_near_target_jaccard(&p);
    assert_true(fabs(t - 0.8 / (1 + 2.5 - 0.8)) < 1e-12);
    assert_true(dd_lsh_probability(t, p.bands, p.rows) >= p.recall);
    /* And such a pair joins: 100 held in 250 has Jaccard 0.4, containment
     * 1, above the 0.296 target. */
    assert_true(dd_near_joins(&p, 0.4, 1.0, 250, 100));
    /* Without containment the target is the threshold. */
    p.containment = 0;
    assert_true(dd_near_target_jaccard(&p) == p.threshold);
}

static void parameters_that_cannot_be_used_are_returned_not_printed(void **state)
{
    (void)state;
    dd_near_params p;
    dd_near_params_default(&p);
    p.bands = 100;
    p.rows = 2;
    dd_notes notes = {0};
    assert_false(dd_near_params_check(&p, &notes));
    assert_int_equal(notes.n, 1);
    assert_int_equal(notes.v[0].kind, DD_NOTE_ERROR);
    assert_string_equal(notes.v[0].text,
                        "--bands 100 x --rows 2 = 200 is more than --num-perm 128");
    dd_notes_clear(&notes);
    /* A recall the bands cannot reach: used, with a warning. */
    dd_near_params_default(&p);
    p.num_perm = 16;
    p.recall = 0.99999;
    assert_true(dd_near_params_check(&p, &notes));
    assert_int_equal(notes.n, 1);
    assert_int_equal(notes.v[0].kind, DD_NOTE_WARNING);
    assert_non_null(strstr(notes.v[0].text, "no bands reach --recall"));
    dd_notes_free(&notes);
}

/* ----------------------------------------------------------- boilerplate */

static void boilerplate_is_decided_by_document_frequency(void **state)
{
    (void)state;
    /* The rule: in boilerplate_df documents or more, of min_words words. */
    assert_true(dd_is_boilerplate(3, 8, 8, 3));
    assert_true(dd_is_boilerplate(30, 100, 8, 3));
    assert_false(dd_is_boilerplate(2, 100, 8, 3)); /* too few documents */
    assert_false(dd_is_boilerplate(30, 7, 8, 3));  /* too short */

    /* On a table of units: a footer (key F, 6 words) in documents 0, 1 and
     * 2; a quote (Q, 6 words) three times in document 2 alone; every
     * document opens with a unit of its own. */
    const struct {
        uint64_t key;
        uint32_t words;
    } spec[9] = {{'a', 9}, {'F', 6}, {'b', 9}, {'F', 6}, {'c', 9},
                 {'Q', 6}, {'Q', 6}, {'Q', 6}, {'F', 6}};
    size_t start[4] = {0, 2, 4, 9};
    dd_unit units[9];
    for (size_t d = 0; d < 3; d++)
        for (size_t u = start[d]; u < start[d + 1]; u++)
            units[u] = (dd_unit){.first_line = u - start[d] + 1,
                                 .last_line = u - start[d] + 1,
                                 .words = spec[u].words,
                                 .key = {spec[u].key, 1}};
    dd_unit_starts starts;
    dd_unit_starts_init(&starts, 3);
    for (size_t d = 0; d <= 3; d++)
        dd_unit_starts_set(&starts, d, start[d]);
    dd_paragraphs *p = dd_paragraphs_new(units, &starts, 4, 3);
    for (uint32_t d = 0; d < 3; d++)
        assert_true(dd_paragraphs_add(p, d, NULL));
    dd_findings f = {0};
    dd_paragraphs_finish(p, &f);
    dd_paragraphs_free(p);
    dd_unit_starts_free(&starts);
    /* The footer, in 3 documents: boilerplate, every occurrence removed
     * (the first too). */
    assert_int_equal(f.nboilerplate, 1);
    assert_int_equal(f.boilerplate[0].docs, 3);
    assert_int_equal(f.boilerplate[0].n, 3);
    for (uint32_t d = 0; d < 3; d++)
        assert_int_equal(f.boilerplate[0].at[d].doc, d);
    assert_int_equal(f.boilerplate[0].at[2].first_line, 5);
    /* The quote, three times in one document: document frequency 1, so
     * not boilerplate; its later copies are repeats of the first. */
    assert_int_equal(f.nrepeats, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(f.repeats[i].at.doc, 2);
        assert_int_equal(f.repeats[i].at.first_line, 3 + i);
        assert_int_equal(f.repeats[i].of.doc, 2);
        assert_int_equal(f.repeats[i].of.first_line, 2);
    }
    /* What goes: line 2 of documents 0 and 1, lines 3 to 5 of document 2. */
    assert_int_equal(f.ndrops, 3);
    assert_int_equal(f.drops[2].doc, 2);
    assert_int_equal(f.drops[2].first_line, 3);
    assert_int_equal(f.drops[2].last_line, 5);
    dd_findings_free(&f);
}

/* --------------------------------------------------------- run grouping */

static void a_run_takes_the_next_unit_repeating_the_next_source_unit(void **state)
{
    (void)state;
    /* A run at units 4.. of document 7, repeating document 2; its last
     * unit is followed by unit 6, its last source unit by 11. */
    dd_run_end run = {.doc = 7, .src_doc = 2, .first = 4, .next_at = 6, .next_src = 11};
    assert_true(dd_run_takes(&run, 7, 6, 2, 11, false));
    assert_false(dd_run_takes(&run, 7, 7, 2, 11, false)); /* a unit between */
    assert_false(dd_run_takes(&run, 7, 6, 2, 12, false)); /* its source skips one */
    assert_false(dd_run_takes(&run, 7, 6, 3, 11, false)); /* another source */
    assert_false(dd_run_takes(&run, 8, 6, 2, 11, false)); /* another document */
    assert_false(dd_run_takes(&run, 7, 6, 2, 11, true));  /* boilerplate */
    /* Repeating its own document: only while the source ends before the
     * run starts. */
    dd_run_end self = {.doc = 7, .src_doc = 7, .first = 4, .next_at = 6, .next_src = 3};
    assert_true(dd_run_takes(&self, 7, 6, 7, 3, false));
    self.next_src = 4;
    assert_false(dd_run_takes(&self, 7, 6, 7, 4, false));
}

/* Three news items; the second quotes three lines of the first between
 * lines of its own, the third shares only the footer. */
static const char *const texts[] = {
    "the council met on monday to discuss the budget\n"
    "members agreed on the new plan after a long debate\n"
    "a vote is expected next week in the capital\n"
    "reporting by the first bureau for the morning edition\n"
    "all rights reserved by the agency and its partners\n",
    "a different opening line for the second story today\n"
    "the council met on monday to discuss the budget\n"
    "members agreed on the new plan after a long debate\n"
    "a vote is expected next week in the capital\n"
    "and a different ending for this second article here\n"
    "all rights reserved by the agency and its partners\n",
    "weather in the north stays cold for the whole week\n"
    "all rights reserved by the agency and its partners\n",
};
#define NTEXTS (sizeof texts / sizeof texts[0])

static void batch_and_stream_group_the_same_run(void **state)
{
    (void)state;
    sh_hasher hash = sh_hasher_plain(DD_SEED);
    dd_analyzer a;
    assert_true(dd_analyzer_init(&a, DD_UNIT_LINE, &hash, NULL));

    /* Batch: the units of every document in one table. */
    dd_unit units[32];
    size_t start[NTEXTS + 1] = {0};
    dd_doc doc = {0};
    for (size_t d = 0; d < NTEXTS; d++) {
        assert_int_equal(dd_analyze(&a, texts[d], strlen(texts[d]), &doc), SH_OK);
        memcpy(units + start[d], doc.units, doc.nunits * sizeof *units);
        start[d + 1] = start[d] + doc.nunits;
    }
    dd_unit_starts starts;
    dd_unit_starts_init(&starts, NTEXTS);
    for (size_t d = 0; d <= NTEXTS; d++)
        dd_unit_starts_set(&starts, d, start[d]);
    dd_paragraphs *p = dd_paragraphs_new(units, &starts, 4, 3);
    for (uint32_t d = 0; d < NTEXTS; d++)
        assert_true(dd_paragraphs_add(p, d, NULL));
    dd_findings f = {0};
    dd_paragraphs_finish(p, &f);
    dd_paragraphs_free(p);
    dd_unit_starts_free(&starts);
    /* One run of three lines, not three repeats. */
    assert_int_equal(f.nrepeats, 1);
    const dd_repeat *r = &f.repeats[0];
    assert_true(r->exact);
    assert_int_equal(r->at.doc, 1);
    assert_int_equal(r->at.first_line, 2);
    assert_int_equal(r->at.last_line, 4);
    assert_int_equal(r->of.doc, 0);
    assert_int_equal(r->of.first_line, 1);
    assert_int_equal(r->of.last_line, 3);
    assert_int_equal(r->units, 3);
    /* The footer is in three documents: boilerplate. */
    assert_int_equal(f.nboilerplate, 1);
    assert_int_equal(f.boilerplate[0].docs, 3);
    dd_findings_free(&f);

    /* Stream: the same documents, decided one at a time on arrival. */
    dd_history_params hp = {.min_words = 4,
                            .boilerplate_df = 3,
                            .para_threshold = 0.8,
                            .clean_paragraphs = true,
                            .hash = &hash};
    dd_near_params_default(&hp.near);
    hp.near.enabled = false; /* paragraphs only: no scratch store needed */
    dd_history *h = dd_history_new(&hp, NULL);
    assert_non_null(h);
    dd_verdict v = {0};
    for (size_t d = 0; d < NTEXTS; d++) {
        assert_int_equal(dd_analyze(&a, texts[d], strlen(texts[d]), &doc), SH_OK);
        char *err = NULL;
        assert_true(dd_history_decide(h, &doc, &v, &err));
        assert_int_equal(v.kind, DD_RECORD_KEPT);
        if (d == 0) {
            assert_int_equal(v.nremoved, 0);
        } else if (d == 1) {
            /* The same run, and the footer, in two records so far: a
             * repeat. */
            assert_int_equal(v.nremoved, 2);
            assert_int_equal(v.removed[0].kind, DD_REMOVED_REPEAT);
            assert_int_equal(v.removed[0].first_line, 2);
            assert_int_equal(v.removed[0].last_line, 4);
            assert_int_equal(v.removed[0].of_record, 0);
            assert_int_equal(v.removed[0].of_first_line, 1);
            assert_int_equal(v.removed[0].of_last_line, 3);
            assert_int_equal(v.removed[1].kind, DD_REMOVED_REPEAT);
            assert_int_equal(v.removed[1].first_line, 6);
        } else {
            /* The third record holding the footer: boilerplate. */
            assert_int_equal(v.nremoved, 1);
            assert_int_equal(v.removed[0].kind, DD_REMOVED_BOILERPLATE);
            assert_int_equal(v.removed[0].first_line, 2);
            assert_int_equal(v.removed[0].of_record, 0);
            assert_int_equal(v.removed[0].of_first_line, 5);
        }
    }
    dd_verdict_free(&v);
    dd_history_free(h);
    dd_doc_free(&doc);
    dd_analyzer_free(&a);
}

/* ----------------------------------------------------------- which kept */

/* Signatures of three documents with the same MinHash values (so each
 * pair's estimated Jaccard is 1) and different keys and lengths: 100, 300
 * and 200 words, in that order. */
static void three_copies(dd_signatures *s, dd_keep keep)
{
    dd_near_params p = default_params();
    p.keep = keep;
    p.verify_exact = false; /* the estimates decide: no text to read */
    sh_hasher hash = sh_hasher_plain(DD_SEED);
    assert_true(dd_signatures_init(s, &p, &hash, NULL));
    uint32_t *values = dd_malloc(p.num_perm * sizeof *values);
    for (size_t i = 0; i < p.num_perm; i++)
        values[i] = (uint32_t)(i * 2654435761u);
    const uint32_t words[3] = {100, 300, 200};
    for (uint64_t d = 0; d < 3; d++) {
        dd_signed sig = {.doc = {.key = {d + 1, 7}, .words = words[d], .shingles = words[d] - 4},
                         .minhash = values};
        dd_signatures_add_signed(s, &sig, NULL);
    }
    free(values);
}

static void keep_first_keeps_the_earliest_and_longest_the_longest(void **state)
{
    (void)state;
    uint32_t order[3];
    dd_clusters k;

    dd_signatures s;
    three_copies(&s, DD_KEEP_FIRST);
    dd_rank_documents(&s, order);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 2);
    dd_cluster_documents(&s, &k);
    assert_int_equal(k.n, 1);
    assert_int_equal(k.v[0].n, 3);
    assert_int_equal(k.v[0].members[0].doc, 0); /* the representative */
    assert_int_equal(k.v[0].members[1].doc, 1);
    assert_int_equal(k.v[0].members[2].doc, 2);
    assert_false(k.dropped[0]);
    assert_true(k.dropped[1] && k.dropped[2]);
    dd_clusters_free(&k);
    dd_signatures_free(&s);

    three_copies(&s, DD_KEEP_LONGEST);
    dd_rank_documents(&s, order);
    assert_int_equal(order[0], 1); /* 300 words */
    assert_int_equal(order[1], 2); /* 200 */
    assert_int_equal(order[2], 0); /* 100 */
    dd_cluster_documents(&s, &k);
    assert_int_equal(k.n, 1);
    assert_int_equal(k.v[0].members[0].doc, 1);
    assert_true(k.dropped[0] && k.dropped[2]);
    assert_false(k.dropped[1]);
    dd_clusters_free(&k);
    dd_signatures_free(&s);
}

static void keep_longest_breaks_ties_by_input_order(void **state)
{
    (void)state;
    dd_near_params p = default_params();
    p.keep = DD_KEEP_LONGEST;
    sh_hasher hash = sh_hasher_plain(DD_SEED);
    dd_signatures s;
    assert_true(dd_signatures_init(&s, &p, &hash, NULL));
    uint32_t *values = dd_calloc(p.num_perm, sizeof *values);
    const uint32_t words[4] = {50, 80, 50, 80};
    for (uint64_t d = 0; d < 4; d++) {
        dd_signed sig = {.doc = {.key = {d, 1}, .words = words[d], .shingles = 10},
                         .minhash = values};
        dd_signatures_add_signed(&s, &sig, NULL);
    }
    free(values);
    uint32_t order[4];
    dd_rank_documents(&s, order);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 3);
    assert_int_equal(order[2], 0);
    assert_int_equal(order[3], 2);
    dd_signatures_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(containment_is_of_the_smaller_set_in_the_larger),
        cmocka_unit_test(jaccard_at_the_threshold_joins_whatever_the_sizes),
        cmocka_unit_test(containment_joins_a_larger_copy_only_within_the_size_ratio),
        cmocka_unit_test(containment_needs_min_shingles_in_the_smaller_set),
        cmocka_unit_test(the_candidate_target_covers_the_guarded_containment),
        cmocka_unit_test(parameters_that_cannot_be_used_are_returned_not_printed),
        cmocka_unit_test(boilerplate_is_decided_by_document_frequency),
        cmocka_unit_test(a_run_takes_the_next_unit_repeating_the_next_source_unit),
        cmocka_unit_test(batch_and_stream_group_the_same_run),
        cmocka_unit_test(keep_first_keeps_the_earliest_and_longest_the_longest),
        cmocka_unit_test(keep_longest_breaks_ties_by_input_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
