/*
 * fuzz_facts.c - libFuzzer target: a document's facts as read from a part
 * file of a work folder (dd_facts_decode, dedup/run/facts.c). A part file
 * passes its checksum, but anyone who can write the folder can write one
 * whose checksum is right: the decoder is what stands between its bytes
 * and the decisions.
 *
 * The input: a byte choosing the signature (even: MinHash of 128 values,
 * odd: SimHash), the document's number (4 bytes, little-endian), then the
 * facts. They are refused, or they are internally consistent: every unit
 * inside the document's size and after the one before it (bytes, lines,
 * words), at least one word; the shingle sets' starts in order from 0 to
 * their hashes; band keys only for units long enough to have them;
 * near-repeats naming this document and two of its units, the matched one
 * earlier, fractions from 0 to 1; messages of whole lines of valid UTF-8
 * without control characters but the tab; and encoded again they give the
 * same bytes (no byte of the input is left unread or unchecked).
 */
#include "fuzz_check.h"
#include "run/facts.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_consistent(const dd_analysed *r, uint32_t doc)
{
    const dd_doc *d = &r->doc;
    bool analysed = r->status == DD_LOAD_TEXT || r->status == DD_LOAD_BINARY;
    CHECK(analysed || (d->nunits == 0 && r->near.n == 0));
    uint64_t next_off = 0, next_line = 1, next_word = 0;
    for (size_t u = 0; u < d->nunits; u++) {
        const dd_unit *x = &d->units[u];
        CHECK(x->off >= next_off && x->off + x->len + x->line_end <= r->size);
        CHECK(x->first_line >= next_line && x->first_line <= x->last_line);
        CHECK(x->last_line - 1 <= r->size);
        CHECK(x->words >= 1 && x->first_word >= next_word && x->first_word + x->words <= r->size);
        CHECK(x->line_end <= 2 && (x->bom == 0 || x->bom == 3));
        next_off = x->off + x->len;
        next_line = x->last_line + 1;
        next_word = x->first_word + x->words;
        if (x->words < DD_NEAR_UNIT_ACROSS_MIN_WORDS)
            for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++)
                CHECK(r->band_keys[u * DD_NEAR_UNIT_BANDS + b] == 0);
    }
    if (d->nunits) {
        CHECK(r->sets.start[0] == 0);
        for (size_t u = 0; u < d->nunits; u++)
            CHECK(r->sets.start[u] <= r->sets.start[u + 1]);
    }
    for (size_t i = 0; i < r->near.n; i++) {
        const dd_near_unit *x = &r->near.v[i];
        CHECK(x->doc == doc && x->of_doc == doc);
        CHECK(x->of < x->unit && x->unit < d->nunits);
        CHECK(x->jaccard >= 0 && x->jaccard <= 1 && x->containment >= 0 && x->containment <= 1);
        CHECK(!x->alternative);
    }
    const unsigned char *m = (const unsigned char *)r->run.messages.data;
    size_t n = r->run.messages.len;
    CHECK(n == 0 || m[n - 1] == '\n');
    CHECK(sh_utf8_check((const char *)m, n) == n);
    for (size_t i = 0; i < n; i++) {
        CHECK(m[i] >= 0x20 || m[i] == '\n' || m[i] == '\t');
        CHECK(m[i] != 0x7f && !(m[i] == 0xc2 && i + 1 < n && m[i + 1] < 0xa0));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    size_t num_perm = data[0] & 1 ? 0 : 128;
    uint32_t doc = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 |
                   (uint32_t)data[4] << 24;
    const char *bytes = (const char *)data + 5;
    size_t len = size - 5;
    dd_analysed r;
    memset(&r, 0, sizeof r);
    if (dd_facts_decode(bytes, len, num_perm, doc, &r)) {
        check_consistent(&r, doc);
        sh_buf again = {0};
        dd_facts_encode(&r, doc, &r.run.messages, num_perm, &again);
        CHECK(again.len == len && (len == 0 || !memcmp(again.data, bytes, len)));
        sh_buf_free(&again);
    }
    dd_doc_free(&r.doc);
    dd_unit_sets_free(&r.sets);
    free(r.band_keys);
    free(r.near.v);
    dd_signed_free(&r.sig);
    sh_buf_free(&r.run.messages);
    sh_buf_free(&r.said);
    return 0;
}
