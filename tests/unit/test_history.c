/*
 * test_history.c - the decisions of a stream of records (dedup/history.c)
 * while its table of paragraphs grows.
 *
 * The table that finds paragraphs by key doubles when it is half full and
 * moves its entries to new slots, at places that depend on the per-process
 * salt (dd_table_salt). A record whose earlier lines repeat paragraphs seen
 * before and whose later lines are new can make it grow half way through
 * the record: the repeats found before the growth must still be decided on
 * their own paragraphs, or the same input gives other output from run to
 * run (issue 13, item 9).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "history.h"
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
    assert_true(dd_near_params_check(&p.near));
    dd_history *h = dd_history_new(&p);
    assert_non_null(h);
    dd_analyzer a;
    assert_true(dd_analyzer_init(&a, DD_UNIT_LINE, &hash));
    dd_doc doc = {0};
    dd_verdict v = {0};
    sh_buf text = {0};

    for (unsigned rec = 0; rec < RECORDS; rec++) {
        make_record(&text, rec, rec == 0 ? 0 : 500u << (rec - 1));
        assert_int_equal(dd_analyze(&a, text.data, text.len, &doc), SH_OK);
        char *err = NULL;
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
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(repeats_found_before_the_table_grows_keep_their_paragraphs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
