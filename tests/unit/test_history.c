/*
 * test_history.c - the decisions of a stream of records (dedup/engine/history.c)
 * while its table of paragraphs grows.
 *
 * The table that finds paragraphs by key doubles when it is half full and
 * moves its entries to new slots, at places that depend on the per-process
 * salt (dd_table_salt). A record whose earlier lines repeat paragraphs seen
 * before and whose later lines are new can make it grow half way through
 * the record: the repeats found before the growth must still be decided on
 * their own paragraphs, or the same input gives other output from run to
 * run (issue 13, item 9).
 *
 * And the decisions are the same when the records' facts are made on other
 * threads, in any order (dd_history_analyse), as filter -j makes them.
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
#include "io/spool.h"
#include "util.h"

#define SHARED_LINES 16 /* the lines every record opens with */
#define RECORDS 5

/* Appends line n of record rec: five words no other line has. */
static void add_line(sh_buf *text, unsigned rec, unsigned n)
{
    char line[128];
    int len = snprintf(line, sizeof line, "r%ua%u r%ub%u r%uc%u r%ud%u r%ue%u\n", rec, n, rec, n,
                       rec, n, rec, n, rec, n);
    assert_int_equal(sh_buf_append(text, line, (size_t)len), SH_OK);
}

/* Record rec: the SHARED_LINES lines of record 0, then `fresh` new lines. */
static void make_record(sh_buf *text, unsigned rec, unsigned fresh)
{
    text->len = 0;
    for (unsigned n = 1; n <= SHARED_LINES; n++)
        add_line(text, 0, n);
    for (unsigned n = 1; n <= fresh; n++)
        add_line(text, rec, SHARED_LINES + n);
}

static void expect_removal(const dd_removal *r, size_t first, size_t last, dd_removal_kind kind,
                           size_t of_first, size_t of_last)
{
    assert_int_equal(r->first_line, first);
    assert_int_equal(r->last_line, last);
    assert_int_equal(r->kind, kind);
    assert_int_equal(r->of_record, 0);
    assert_int_equal(r->of_first_line, of_first);
    assert_int_equal(r->of_last_line, of_last);
    assert_null(r->of_index);
}

/*
 * Record 0 holds the shared lines only. Record k (k >= 1) opens with them
 * and adds 500 * 2^(k-1) new lines: the paragraphs seen double with each
 * record, so every record takes the table past half full (it holds a power
 * of two of slots) after its shared lines were looked up. Record 1 repeats
 * lines 1-16 of record 0 (a run); from record 2 on they are in 3 records,
 * --boilerplate-df, and each line is boilerplate. Nothing else is removed.
 */
static void repeats_found_before_the_table_grows_keep_their_paragraphs(void **state)
{
    (void)state;
    sh_hasher hash = sh_hasher_plain(DD_SEED);
    dd_history_params p = {.min_words = 4,
                           .boilerplate_df = 3,
                           .para_threshold = 0.8,
                           .clean_paragraphs = true,
                           .hash = &hash};
    dd_near_params_default(&p.near);
    assert_true(dd_near_params_check(&p.near, NULL));
    char *err = NULL;
    dd_spool *spool = dd_spool_new(NULL, &err);
    assert_non_null(spool);
    p.scratch = dd_spool_scratch(spool);
    dd_history *h = dd_history_new(&p, NULL);
    assert_non_null(h);
    dd_analyzer a;
    assert_true(dd_analyzer_init(&a, DD_UNIT_LINE, &hash, NULL));
    dd_doc doc = {0};
    dd_verdict v = {0};
    sh_buf text = {0};

    for (unsigned rec = 0; rec < RECORDS; rec++) {
        make_record(&text, rec, rec == 0 ? 0 : 500u << (rec - 1));
        assert_int_equal(dd_analyze(&a, text.data, text.len, &doc), SH_OK);
        assert_true(dd_history_decide(h, &doc, &v, &err));
        assert_int_equal(v.kind, DD_RECORD_KEPT);
        if (rec == 0) {
            assert_int_equal(v.nremoved, 0);
        } else if (rec == 1) {
            assert_int_equal(v.nremoved, 1);
            expect_removal(&v.removed[0], 1, SHARED_LINES, DD_REMOVED_REPEAT, 1, SHARED_LINES);
        } else {
            assert_int_equal(v.nremoved, SHARED_LINES);
            for (size_t n = 1; n <= SHARED_LINES; n++)
                expect_removal(&v.removed[n - 1], n, n, DD_REMOVED_BOILERPLATE, n, n);
        }
    }

    sh_buf_free(&text);
    dd_verdict_free(&v);
    dd_doc_free(&doc);
    dd_analyzer_free(&a);
    dd_history_free(h);
    dd_spool_free(spool);
}

/* Word w of a made-up vocabulary: "w" and w in base 26. */
static void add_word(sh_buf *text, unsigned w)
{
    char word[16] = "w";
    size_t len = 1;
    do {
        word[len++] = (char)('a' + w % 26);
        w /= 26;
    } while (w);
    word[len++] = ' ';
    assert_int_equal(sh_buf_append(text, word, len), SH_OK);
}

/* Record rec of the stream below, in text. */
static void make_stream_record(sh_buf *text, unsigned rec)
{
    text->len = 0;
    unsigned base = rec % 4 == 1 ? rec - 1 : rec; /* 1, 5, 9: copies of 0, 4, 8 */
    uint32_t x = 2654435761u * (base + 1);
    for (unsigned line = 0; line < 12; line++) {
        for (unsigned w = 0; w < 14; w++) {
            x = x * 1103515245u + 12345u;
            /* record 5 is a copy of 4 with one word changed: a near copy */
            add_word(text, rec == 5 && line == 3 && w == 7 ? 99999 : (x >> 8) % 5000);
        }
        assert_int_equal(sh_buf_append(text, "\n", 1), SH_OK);
    }
    if (rec == 6) { /* a line of record 2 again, and a restated line of its own */
        sh_buf other = {0};
        make_stream_record(&other, 2);
        const char *nl = memchr(other.data, '\n', other.len);
        assert_int_equal(sh_buf_append(text, other.data, (size_t)(nl - other.data) + 1), SH_OK);
        const char *mine = memchr(text->data, '\n', text->len);
        assert_int_equal(sh_buf_append(text, text->data, (size_t)(mine - text->data) - 4), SH_OK);
        assert_int_equal(sh_buf_append(text, "\n", 1), SH_OK);
        sh_buf_free(&other);
    }
    if (rec == 7) /* no words */
        assert_int_equal(sh_buf_append(text, "... ---\n", 8), SH_OK);
}

#define STREAM_RECORDS 10

/*
 * Analysis on other threads (run.h): the facts of each record made by
 * analysts of their own (two of them, taking the records from the last to
 * the first, as workers may finish out of order), then decided in stream
 * order, give the verdicts dd_history_decide gives, removals included.
 */
static void facts_made_anywhere_give_the_same_verdicts(void **state)
{
    (void)state;
    sh_hasher hash = sh_hasher_plain(DD_SEED);
    dd_history_params p = {.min_words = 4,
                           .boilerplate_df = 3,
                           .para_threshold = 0.8,
                           .clean_paragraphs = true,
                           .hash = &hash};
    dd_near_params_default(&p.near);
    assert_true(dd_near_params_check(&p.near, NULL));
    char *err = NULL;
    dd_spool *spools[2] = {dd_spool_new(NULL, &err), dd_spool_new(NULL, &err)};
    assert_non_null(spools[0]);
    assert_non_null(spools[1]);
    p.scratch = dd_spool_scratch(spools[0]);
    dd_history *serial = dd_history_new(&p, NULL);
    p.scratch = dd_spool_scratch(spools[1]);
    dd_history *split = dd_history_new(&p, NULL);
    assert_non_null(serial);
    assert_non_null(split);
    dd_analysis_worker *workers[2] = {dd_analysis_worker_new(DD_UNIT_LINE, &p.near, &hash),
                                      dd_analysis_worker_new(DD_UNIT_LINE, &p.near, &hash)};
    assert_non_null(workers[0]);
    assert_non_null(workers[1]);
    dd_doc docs[STREAM_RECORDS] = {0};
    dd_record_facts facts[STREAM_RECORDS] = {0};
    sh_buf text = {0};
    for (unsigned rec = STREAM_RECORDS; rec-- > 0;) {
        make_stream_record(&text, rec);
        dd_analysis_worker *w = workers[rec % 2];
        assert_int_equal(dd_analyze(&w->analyzer, text.data, text.len, &docs[rec]), SH_OK);
        dd_history_analyse(&p, w, &docs[rec], &facts[rec]);
    }

    dd_verdict want = {0}, got = {0};
    unsigned copies = 0, removals = 0;
    for (unsigned rec = 0; rec < STREAM_RECORDS; rec++) {
        err = NULL;
        assert_true(dd_history_decide(serial, &docs[rec], &want, &err));
        assert_true(dd_history_decide_analysed(split, &docs[rec], &facts[rec], &got, &err));
        assert_int_equal(got.kind, want.kind);
        assert_int_equal(got.of, want.of);
        assert_true(got.jaccard == want.jaccard && got.containment == want.containment);
        assert_int_equal(got.estimated, want.estimated);
        assert_int_equal(got.nremoved, want.nremoved);
        for (size_t k = 0; k < want.nremoved; k++) {
            const dd_removal *g = &got.removed[k], *w = &want.removed[k];
            assert_int_equal(g->first_line, w->first_line);
            assert_int_equal(g->last_line, w->last_line);
            assert_int_equal(g->kind, w->kind);
            assert_int_equal(g->of_record, w->of_record);
            assert_int_equal(g->of_first_line, w->of_first_line);
            assert_int_equal(g->of_last_line, w->of_last_line);
            assert_true(g->jaccard == w->jaccard && g->containment == w->containment);
        }
        copies += want.kind != DD_RECORD_KEPT;
        if (rec == 1 || rec == 9)
            assert_int_equal(want.kind, DD_RECORD_EXACT);
        if (rec == 5)
            assert_int_equal(want.kind, DD_RECORD_NEAR);
        for (size_t k = 0; k < want.nremoved; k++)
            removals |= 1u << want.removed[k].kind;
    }
    /* The stream holds what it should: copies, exact and near; a repeat of
     * an earlier record's line and a near-repeat inside a record. */
    assert_int_equal(copies, 3);
    assert_int_equal(removals, (1u << DD_REMOVED_REPEAT) | (1u << DD_REMOVED_NEAR));

    for (unsigned rec = 0; rec < STREAM_RECORDS; rec++) {
        dd_doc_free(&docs[rec]);
        dd_record_facts_free(&facts[rec]);
    }
    sh_buf_free(&text);
    dd_verdict_free(&want);
    dd_verdict_free(&got);
    dd_analysis_worker_free(workers[0]);
    dd_analysis_worker_free(workers[1]);
    dd_history_free(serial);
    dd_history_free(split);
    dd_spool_free(spools[0]);
    dd_spool_free(spools[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(repeats_found_before_the_table_grows_keep_their_paragraphs),
        cmocka_unit_test(facts_made_anywhere_give_the_same_verdicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
