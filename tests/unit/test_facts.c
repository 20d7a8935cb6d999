/*
 * test_facts.c - a document's facts as the bytes of a part file and back
 * (dedup/run/facts.c): the facts of a real seed article (units, their sets
 * and band keys, near-repeats inside it, its signature) read back equal,
 * field by field; bytes cut short anywhere, or not facts at all, are
 * refused without reading past their end; facts whole and well formed but
 * forged (a part file written by someone else, its checksum right) are
 * refused when they name a unit that does not exist, a unit outside the
 * document, another document, or carry a terminal escape in a message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "run/facts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FIXTURES
#define FIXTURES "fixtures"
#endif

static char *read_fixture(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/seeds/%s", getenv("FIXTURES") ? getenv("FIXTURES") : FIXTURES,
             name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *s = malloc(1 << 20);
    *len = fread(s, 1, 1 << 20, f);
    fclose(f);
    return s;
}

/* The facts of seed 001 (which has near-repeats inside), as corpus.c's
 * analyse makes them. */
static void analyse_seed(dd_analysed *r, dd_near_params *p, sh_hasher *hash)
{
    size_t len;
    char *text = read_fixture("001_0546f77b3de22a26.txt", &len);
    *hash = sh_hasher_plain(DD_SEED);
    dd_near_params_default(p);
    dd_analyzer a;
    assert_true(dd_analyzer_init(&a, DD_UNIT_LINE, hash, NULL));
    memset(r, 0, sizeof *r);
    r->status = DD_LOAD_TEXT;
    r->size = len;
    r->digest = 0x0123456789abcdefULL;
    assert_int_equal(dd_analyze(&a, text, len, &r->doc), SH_OK);
    dd_unit_sets_compute(&r->sets, &r->doc, hash);
    dd_find_near_units(7, &r->doc, &r->sets, 0.8, 4, &r->near);
    sh_minhasher *m = dd_unit_minhasher_new(hash);
    dd_unit_band_keys(m, &r->doc, &r->sets, &r->band_keys, &r->band_keys_cap);
    sh_minhasher_free(m);
    dd_signer g;
    assert_true(dd_signer_init(&g, p, hash, NULL));
    dd_signer_sign(&g, &r->doc.words, r->doc.key, hash, &r->sig);
    dd_signer_free(&g);
    dd_analyzer_free(&a);
    free(text);
}

static void analysed_free(dd_analysed *r)
{
    dd_doc_free(&r->doc);
    dd_unit_sets_free(&r->sets);
    free(r->band_keys);
    free(r->near.v);
    dd_signed_free(&r->sig);
    sh_buf_free(&r->run.messages);
    sh_buf_free(&r->said);
}

static void facts_read_back_equal(void **state)
{
    (void)state;
    dd_analysed r;
    dd_near_params p;
    sh_hasher hash;
    analyse_seed(&r, &p, &hash);
    assert_true(r.doc.nunits > 10);
    assert_true(r.near.n >= 1); /* line 19 is a near-repeat of line 8 */
    sh_buf said = {0}, bytes = {0};
    sh_buf_append(&said, "dedup: warning: something said\n", 31);
    dd_facts_encode(&r, 7, &said, p.num_perm, &bytes);

    dd_analysed back;
    memset(&back, 0, sizeof back);
    assert_true(dd_facts_decode(bytes.data, bytes.len, p.num_perm, 7, &back));
    assert_int_equal(back.status, DD_LOAD_TEXT);
    assert_int_equal(back.size, r.size);
    assert_int_equal(back.digest, r.digest);
    assert_int_equal(back.run.messages.len, said.len);
    assert_memory_equal(back.run.messages.data, said.data, said.len);
    assert_int_equal(back.doc.nunits, r.doc.nunits);
    for (size_t u = 0; u < r.doc.nunits; u++) {
        const dd_unit *a = &r.doc.units[u], *b = &back.doc.units[u];
        assert_int_equal(a->off, b->off);
        assert_int_equal(a->len, b->len);
        assert_int_equal(a->first_line, b->first_line);
        assert_int_equal(a->last_line, b->last_line);
        assert_int_equal(a->first_word, b->first_word);
        assert_int_equal(a->words, b->words);
        assert_int_equal(a->line_end, b->line_end);
        assert_int_equal(a->bom, b->bom);
        assert_memory_equal(&a->key, &b->key, sizeof a->key);
        assert_int_equal(r.sets.start[u + 1], back.sets.start[u + 1]);
        if (a->words >= DD_NEAR_UNIT_ACROSS_MIN_WORDS)
            assert_memory_equal(r.band_keys + u * DD_NEAR_UNIT_BANDS,
                                back.band_keys + u * DD_NEAR_UNIT_BANDS,
                                DD_NEAR_UNIT_BANDS * sizeof *r.band_keys);
    }
    size_t nhashes = r.sets.start[r.doc.nunits];
    assert_memory_equal(r.sets.hashes, back.sets.hashes, nhashes * sizeof *r.sets.hashes);
    assert_int_equal(back.near.n, r.near.n);
    for (size_t i = 0; i < r.near.n; i++) {
        const dd_near_unit *a = &r.near.v[i], *b = &back.near.v[i];
        assert_int_equal(a->doc, b->doc);
        assert_int_equal(a->of_doc, b->of_doc);
        assert_int_equal(a->unit, b->unit);
        assert_int_equal(a->of, b->of);
        assert_true(a->jaccard == b->jaccard && a->containment == b->containment);
        assert_int_equal(a->alternative, b->alternative);
    }
    assert_memory_equal(&r.sig.doc.key, &back.sig.doc.key, sizeof r.sig.doc.key);
    assert_int_equal(r.sig.doc.words, back.sig.doc.words);
    assert_int_equal(r.sig.doc.shingles, back.sig.doc.shingles);
    assert_memory_equal(r.sig.minhash, back.sig.minhash, p.num_perm * sizeof *r.sig.minhash);

    /* Encoded again, the facts read back give the same bytes. */
    sh_buf again = {0};
    dd_facts_encode(&back, 7, &back.run.messages, p.num_perm, &again);
    assert_int_equal(again.len, bytes.len);
    assert_memory_equal(again.data, bytes.data, bytes.len);
    sh_buf_free(&again);

    /* The bytes do not depend on the document's number: analysed as
     * document 7 of one process, they are document 1007's in another. */
    analysed_free(&back);
    memset(&back, 0, sizeof back);
    assert_true(dd_facts_decode(bytes.data, bytes.len, p.num_perm, 1007, &back));
    assert_int_equal(back.near.n, r.near.n);
    for (size_t i = 0; i < r.near.n; i++) {
        assert_int_equal(back.near.v[i].doc, 1007);
        assert_int_equal(back.near.v[i].of_doc, 1007);
    }
    sh_buf_free(&said);
    sh_buf_free(&bytes);
    analysed_free(&back);
    analysed_free(&r);
}

static void bytes_cut_short_are_refused(void **state)
{
    (void)state;
    dd_analysed r;
    dd_near_params p;
    sh_hasher hash;
    analyse_seed(&r, &p, &hash);
    sh_buf said = {0}, bytes = {0};
    dd_facts_encode(&r, 7, &said, p.num_perm, &bytes);
    dd_analysed back;
    memset(&back, 0, sizeof back);
    for (size_t cut = 0; cut < bytes.len; cut++) {
        /* A copy of exactly `cut` bytes: reading past it is seen by ASan. */
        char *prefix = malloc(cut ? cut : 1);
        memcpy(prefix, bytes.data, cut);
        back.run.messages.len = 0;
        if (dd_facts_decode(prefix, cut, p.num_perm, 7, &back))
            fail_msg("facts cut to %zu of %zu bytes were taken", cut, bytes.len);
        free(prefix);
    }
    /* With a byte more, or as SimHash facts, they are not facts either. */
    sh_buf_append(&bytes, "x", 1);
    assert_false(dd_facts_decode(bytes.data, bytes.len, p.num_perm, 7, &back));
    assert_false(dd_facts_decode(bytes.data, bytes.len - 1, 0, 7, &back));
    /* Random bytes are refused (or, by chance, read as some facts), never
     * read past. */
    srand(16);
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)(rand() % 400);
        unsigned char *junk = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++)
            junk[i] = (unsigned char)(rand() % 4 ? rand() % 4 : rand());
        back.run.messages.len = 0;
        (void)dd_facts_decode((const char *)junk, n, p.num_perm, 7, &back);
        free(junk);
    }
    sh_buf_free(&said);
    sh_buf_free(&bytes);
    analysed_free(&back);
    analysed_free(&r);
}

/* The forgeries: each changes one fact of seed 001 (document 7). */
static void near_unit_past_the_units(dd_analysed *r) { r->near.v[0].unit = r->doc.nunits + 1000; }
static void near_of_a_later_unit(dd_analysed *r) { r->near.v[0].of = r->near.v[0].unit; }
static void near_of_another_document(dd_analysed *r) { r->near.v[0].of_doc = 8; }
static void near_jaccard_not_a_number(dd_analysed *r) { r->near.v[0].jaccard = 0.0 / 0.0; }
static void unit_past_the_end(dd_analysed *r) { r->doc.units[r->doc.nunits - 1].off = r->size; }
static void units_out_of_order(dd_analysed *r) { r->doc.units[2].off = r->doc.units[0].off; }
static void unit_without_words(dd_analysed *r) { r->doc.units[1].words = 0; }
static void sets_out_of_order(dd_analysed *r) { r->sets.start[1] = r->sets.start[2] + 1; }
static void forged_facts_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        void (*forge)(dd_analysed *);
    } forgeries[] = {
        {"a near-repeat of a unit past the units", near_unit_past_the_units},
        {"a near-repeat of a later unit", near_of_a_later_unit},
        {"a near-repeat in another document", near_of_another_document},
        {"a near-repeat with a Jaccard of NaN", near_jaccard_not_a_number},
        {"a unit past the end of the document", unit_past_the_end},
        {"units out of order", units_out_of_order},
        {"a unit of no words", unit_without_words},
        {"sets out of order", sets_out_of_order},
        {"a message with a terminal escape", NULL},
    };
    for (size_t f = 0; f < sizeof forgeries / sizeof *forgeries; f++) {
        dd_analysed r;
        dd_near_params p;
        sh_hasher hash;
        analyse_seed(&r, &p, &hash);
        sh_buf said = {0}, bytes = {0};
        if (forgeries[f].forge) {
            forgeries[f].forge(&r);
        } else {
            const char *escape = "dedup: \x1b]0;pwned\x07\x1b[2J\n";
            sh_buf_append(&said, escape, strlen(escape));
        }
        dd_facts_encode(&r, 7, &said, p.num_perm, &bytes);
        dd_analysed back;
        memset(&back, 0, sizeof back);
        if (dd_facts_decode(bytes.data, bytes.len, p.num_perm, 7, &back))
            fail_msg("forged facts were taken: %s", forgeries[f].name);
        sh_buf_free(&said);
        sh_buf_free(&bytes);
        analysed_free(&back);
        analysed_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(facts_read_back_equal),
        cmocka_unit_test(bytes_cut_short_are_refused),
        cmocka_unit_test(forged_facts_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
