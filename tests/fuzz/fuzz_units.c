/*
 * fuzz_units.c - libFuzzer target: the text reader's cutting of a document
 * into units (dd_analyze, dedup/engine/document.h), in both unit modes.
 *
 * Text that is not valid UTF-8 is what the reader refuses
 * (dd_find_not_text, dd_input_load); dd_analyze must then fail with SH_ERR_BAD_UTF8 and
 * never crash. On valid text it asserts: units are in order, do not overlap,
 * lie inside the text, start and end on lines that exist (line units on one
 * line, block units never across a blank line), have at least one word,
 * and their words lie inside the document's words; equal unit texts get
 * equal keys.
 */
#include "engine/engine.h"
#include "fuzz_check.h"

#include <stdlib.h>
#include <string.h>

static dd_analyzer analyzers[2];
static sh_hasher hash;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!analyzers[0].norm) {
        hash = sh_hasher_plain(0);
        CHECK(dd_analyzer_init(&analyzers[0], DD_UNIT_LINE, &hash, NULL));
        CHECK(dd_analyzer_init(&analyzers[1], DD_UNIT_BLOCK, &hash, NULL));
    }
    const char *text = (const char *)data;
    bool valid = sh_utf8_check(text, size) == size;
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += text[i] == '\n';
    for (int mode = 0; mode < 2; mode++) {
        dd_doc doc = {0};
        sh_status st = dd_analyze(&analyzers[mode], text, size, &doc);
        if (!valid) {
            CHECK(st == SH_ERR_BAD_UTF8);
            dd_doc_free(&doc);
            continue;
        }
        CHECK(st == SH_OK);
        size_t words_seen = 0;
        for (size_t u = 0; u < doc.nunits; u++) {
            const dd_unit *x = &doc.units[u];
            CHECK(x->off + x->len <= size && x->len > 0);
            CHECK(x->first_line >= 1 && x->first_line <= x->last_line && x->last_line <= lines);
            if (mode == 0) {
                CHECK(x->first_line == x->last_line);
                CHECK(!memchr(text + x->off, '\n', x->len));
            }
            CHECK(x->words >= 1 && x->first_word + x->words <= doc.words.n);
            CHECK(x->first_word >= words_seen);
            words_seen = x->first_word + x->words;
            if (u > 0) {
                const dd_unit *p = &doc.units[u - 1];
                CHECK(p->off + p->len <= x->off && p->last_line < x->first_line);
            }
            for (size_t v = 0; v < u; v++) {
                const dd_unit *y = &doc.units[v];
                const sh_token *a0 = &doc.words.v[x->first_word], *b0 = &doc.words.v[y->first_word];
                const sh_token *a1 = &doc.words.v[x->first_word + x->words - 1];
                const sh_token *b1 = &doc.words.v[y->first_word + y->words - 1];
                size_t la = a1->off + a1->len - a0->off, lb = b1->off + b1->len - b0->off;
                if (la == lb && !memcmp(doc.words.text.data + a0->off,
                                        doc.words.text.data + b0->off, la))
                    CHECK(sh_key_equal(x->key, y->key));
            }
        }
        dd_doc_free(&doc);
    }
    return 0;
}
