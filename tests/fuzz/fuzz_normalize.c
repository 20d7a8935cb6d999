/*
 * fuzz_normalize.c - libFuzzer target: arbitrary bytes through the
 * normaliser, the tokeniser, sh_words, shingles and signatures.
 *
 * Asserts what shingle.h promises: sh_normalize fails exactly on invalid
 * UTF-8 and otherwise writes valid UTF-8 with no space at either end and no
 * two spaces in a row; its fast path gives the same status, bytes and
 * sh_normalized_is_spaced as sh_normalize_reference (every segment through
 * the slow path), with the default profile and without collapsing; every
 * token lies inside its text; sh_words gives the same words as sh_normalize
 * followed by sh_tokenize; sh_shingles writes sh_shingle_count values;
 * MinHash and SimHash of the same set are the same whatever the order of
 * the hashes.
 */
#include "shingle.h"
#include "internal.h"
#include "fuzz_check.h"

#include <stdlib.h>
#include <string.h>

static sh_normalizer *normalizer;
static sh_normalizer *no_collapse; /* the default profile, separators kept apart */
static sh_tokenizer *tokenizer;
static sh_minhasher *minhasher;

static void start(void)
{
    sh_status st;
    sh_norm_options o;
    sh_norm_options_default(&o);
    o.collapse_space = false;
    normalizer = sh_normalizer_new(NULL, &st);
    no_collapse = sh_normalizer_new(&o, &st);
    tokenizer = sh_tokenizer_new(&st);
    minhasher = sh_minhasher_new(16, 0, &st);
    CHECK(normalizer && no_collapse && tokenizer && minhasher);
}

/* sh_normalize and sh_normalize_reference agree on text[0..size) under n. */
static void check_fast_path(sh_normalizer *n, const char *text, size_t size)
{
    sh_buf fast = {0}, ref = {0};
    sh_status st_fast = sh_normalize(n, text, size, &fast);
    bool spaced_fast = sh_normalized_is_spaced(n);
    sh_status st_ref = sh_normalize_reference(n, text, size, &ref);
    CHECK(st_fast == st_ref && spaced_fast == sh_normalized_is_spaced(n));
    CHECK(fast.len == ref.len && (ref.len == 0 || !memcmp(fast.data, ref.data, ref.len)));
    sh_buf_free(&fast);
    sh_buf_free(&ref);
}

static void check_tokens(const sh_tokens *t)
{
    for (size_t i = 0; i < t->n; i++) {
        CHECK(t->v[i].len > 0);
        CHECK((size_t)t->v[i].off + t->v[i].len <= t->text.len);
        if (i > 0)
            CHECK(t->v[i].off > t->v[i - 1].off + t->v[i - 1].len - 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!normalizer)
        start();
    const char *text = (const char *)data;
    bool valid = sh_utf8_check(text, size) == size;
    check_fast_path(normalizer, text, size);
    check_fast_path(no_collapse, text, size);
    sh_buf norm = {0}, scratch = {0};
    sh_tokens a = {0}, b = {0};
    sh_status st = sh_normalize(normalizer, text, size, &norm);
    CHECK(valid ? st == SH_OK : st == SH_ERR_BAD_UTF8);
    if (st == SH_OK) {
        CHECK(sh_utf8_check(norm.data ? norm.data : "", norm.len) == norm.len);
        if (norm.len) {
            CHECK(norm.data[0] != ' ' && norm.data[norm.len - 1] != ' ');
            for (size_t i = 1; i < norm.len; i++)
                CHECK(norm.data[i] != ' ' || norm.data[i - 1] != ' ');
        }
        CHECK(sh_tokenize(tokenizer, norm.data ? norm.data : "", norm.len, &a) == SH_OK);
        CHECK(sh_words(normalizer, tokenizer, text, size, &scratch, &b) == SH_OK);
        check_tokens(&a);
        check_tokens(&b);
        CHECK(a.n == b.n);
        for (size_t i = 0; i < a.n; i++)
            CHECK(a.v[i].len == b.v[i].len &&
                  !memcmp(a.text.data + a.v[i].off, b.text.data + b.v[i].off, a.v[i].len));
        sh_hasher hash = sh_hasher_plain(0);
        for (unsigned k = 1; k <= 5; k += 2) {
            size_t want = sh_shingle_count(b.n, k);
            uint64_t *h = malloc((want + 1) * sizeof *h), *r = malloc((want + 1) * sizeof *r);
            CHECK(h && r);
            CHECK(sh_shingles(&b, 0, b.n, k, &hash, h) == want);
            for (size_t i = 0; i < want; i++)
                r[i] = h[want - 1 - i];
            uint32_t s1[16], s2[16];
            sh_minhash(minhasher, h, want, s1);
            sh_minhash(minhasher, r, want, s2);
            CHECK(!memcmp(s1, s2, sizeof s1));
            size_t n = sh_hashes_unique(h, want);
            CHECK(n <= want && (want == 0 || n > 0));
            CHECK(sh_simhash(h, n) == sh_simhash(h, n));
            free(h);
            free(r);
        }
    }
    sh_buf_free(&norm);
    sh_buf_free(&scratch);
    sh_tokens_free(&a);
    sh_tokens_free(&b);
    return 0;
}
