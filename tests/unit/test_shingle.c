/*
 * test_shingle.c - unit tests of the shingle library: normaliser, tokeniser,
 * shingles and keys, with exact expected strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shingle.h"
#include "internal.h"

#include <dirent.h>
#include <stdio.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

typedef struct fixture {
    sh_normalizer *norm;
    sh_tokenizer *tok;
    sh_buf out;
    sh_tokens words;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    sh_status st;
    f->norm = sh_normalizer_new(NULL, &st);
    assert_non_null(f->norm);
    f->tok = sh_tokenizer_new(&st);
    assert_non_null(f->tok);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    sh_normalizer_free(f->norm);
    sh_tokenizer_free(f->tok);
    sh_buf_free(&f->out);
    sh_tokens_free(&f->words);
    free(f);
    return 0;
}

/* Normalises in and checks the result is exactly want. */
static void expect_norm(fixture *f, const char *in, const char *want)
{
    assert_int_equal(sh_normalize(f->norm, in, strlen(in), &f->out), SH_OK);
    assert_string_equal(f->out.data, want);
    assert_int_equal(f->out.len, strlen(want));
}

/* Tokenises normalised text and checks the words, given as "a|b|c". */
static void expect_words(fixture *f, const char *in, const char *want)
{
    assert_int_equal(sh_normalize(f->norm, in, strlen(in), &f->out), SH_OK);
    sh_tokens_clear(&f->words);
    assert_int_equal(sh_tokenize(f->tok, f->out.data, f->out.len, &f->words), SH_OK);
    char got[1024] = "";
    for (size_t i = 0; i < f->words.n; i++) {
        if (i)
            strcat(got, "|");
        strncat(got, f->words.text.data + f->words.v[i].off, f->words.v[i].len);
    }
    assert_string_equal(got, want);
}

static void arabic_harakat(void **state)
{
    expect_norm(*state, "مُحَمَّدٌ", "محمد");
    expect_norm(*state, "اجتماعًا واجتماعاً", "اجتماعا واجتماعا");
    /* superscript alef U+0670 */
    expect_norm(*state, "هٰذا", "هذا");
    /* alef followed by a combining hamza above composes, then folds */
    expect_norm(*state, "ا\u0654ب", "اب");
    /* a mark after a space (a typo in SaudiNewsNet): dropped, the space stays */
    expect_norm(*state, "ايضا \u064Bمن", "ايضا من");
}

static void arabic_tatweel_and_format(void **state)
{
    expect_norm(*state, "العـــربيــة", "العربيه");
    /* ZWJ, ZWNJ, RLM, ALM U+061C and a BOM are dropped */
    expect_norm(*state, "a\u200Db\u200Cc\u200Fd\u061Ce\uFEFFf", "abcdef");
}

static void arabic_letter_variants(void **state)
{
    expect_norm(*state, "أحمد إبراهيم آمنة ٱلله", "احمد ابراهيم امنه الله");
    expect_norm(*state, "مصطفى على", "مصطفي علي");
    expect_norm(*state, "مدرسة", "مدرسه");
    /* Persian yeh and keheh */
    expect_norm(*state, "کتابی", "كتابي");
}

static void digits_of_every_script(void **state)
{
    expect_norm(*state, "٢٠١٩", "2019");
    expect_norm(*state, "۱۳۹۸", "1398");     /* Persian */
    expect_norm(*state, "२०२०", "2020");     /* Devanagari */
    expect_norm(*state, "２０２１年", "2021年"); /* full-width */
    expect_norm(*state, "٢٠ ديسمبر، ٢٠١٩", "20 ديسمبر 2019");
}

static void punctuation_and_symbols(void **state)
{
    expect_norm(*state, "«مرحبا»، كيف؟ “نعم”؛ لا", "مرحبا كيف نعم لا");
    expect_norm(*state, "a,b.c;d:e!f?g(h)i[j]k{l}m\"n'o-p_q/r\\s@t#u$v%w^x&y*z", "a b c d e f g h i j k l m n o p q r s t u v w x y z");
    expect_norm(*state, "price: 5€ + 3$ = 8 ✓ 😀", "price 5 3 8");
    expect_norm(*state, "  \t spaced \n out \r\n  ", "spaced out");
    expect_norm(*state, "...", "");
    expect_norm(*state, "", "");
}

static void latin_accents_and_case(void **state)
{
    expect_norm(*state, "Élève à l'école, FAÇADE", "eleve a l ecole facade");
    expect_norm(*state, "Straße GROSS", "strasse gross");
    expect_norm(*state, "Ǆemal Ωmega ΣΊΣΥΦΟΣ", "dzemal ωmega σισυφοσ");
    /* a decomposed accent gives the same as a precomposed one */
    expect_norm(*state, "cafe\u0301 café", "cafe cafe");
}

static void compatibility_forms(void **state)
{
    expect_norm(*state, "ＡＢＣ１２３ ｄｅｆ", "abc123 def");
    expect_norm(*state, "ﬁne ½ x²", "fine 1 2 x2");
    expect_norm(*state, "\U0001D400\U0001D401", "ab"); /* mathematical bold */
    expect_norm(*state, "ﻻ", "لا");                      /* Arabic presentation form */
}

static void thai_keeps_its_vowels(void **state)
{
    expect_norm(*state, "ภาษาไทยเป็นภาษาที่สวยงาม", "ภาษาไทยเป็นภาษาที่สวยงาม");
}

static void already_normalised_is_unchanged(void **state)
{
    const char *texts[] = {
        "اهلا وسهلا 2019 hello",
        "الامانه العامه لمجلس التعاون تشارك في اجتماع وزراء الداخليه العرب",
        "strasse eleve 我们今天 ภาษาไทย",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        expect_norm(*state, texts[i], texts[i]);
}

static void invalid_utf8_is_an_error(void **state)
{
    fixture *f = *state;
    const char bad[] = "ok \xff no";
    assert_int_equal(sh_normalize(f->norm, bad, sizeof bad - 1, &f->out), SH_ERR_BAD_UTF8);
    assert_int_equal(f->out.len, 0);
    assert_int_equal(sh_utf8_check(bad, sizeof bad - 1), 3);
    assert_int_equal(sh_utf8_check("\xc0\xaf", 2), 0);         /* overlong */
    assert_int_equal(sh_utf8_check("a\xed\xa0\x80", 4), 1);    /* surrogate */
    assert_int_equal(sh_utf8_check("ab\xf4\x90\x80\x80", 6), 2); /* above U+10FFFF */
    assert_int_equal(sh_utf8_check("abc\xe2\x82", 5), 3);      /* truncated */
    assert_int_equal(sh_utf8_check("é ٢ 😀", strlen("é ٢ 😀")), strlen("é ٢ 😀"));
}

static void options_turn_steps_off(void **state)
{
    (void)state;
    sh_norm_options o;
    sh_norm_options_default(&o);
    o.fold_digits = false;
    o.fold_arabic = false;
    o.drop_marks = false;
    sh_normalizer *n = sh_normalizer_new(&o, NULL);
    assert_non_null(n);
    sh_buf out = {0};
    const char *in = "أحمد ٢٠١٩ مُحَمَّد";
    assert_int_equal(sh_normalize(n, in, strlen(in), &out), SH_OK);
    assert_string_equal(out.data, "أحمد ٢٠١٩ مُحَمَّد");
    assert_non_null(strstr(sh_normalizer_profile(n), "nfkc_cf+format+punct+space"));
    sh_buf_free(&out);
    sh_normalizer_free(n);

    sh_normalizer *d = sh_normalizer_new(NULL, NULL);
    assert_non_null(strstr(sh_normalizer_profile(d),
                            "sh-norm/1 nfkc_cf+marks+format+arabic+digits+punct+space icu/"));
    sh_normalizer_free(d);
}

static void thai_and_chinese_are_segmented(void **state)
{
    expect_words(*state, "ภาษาไทยเป็นภาษาที่สวยงาม", "ภาษา|ไทย|เป็น|ภาษา|ที่|สวยงาม");
    expect_words(*state, "我们今天去北京大学学习中文。", "我们|今天|去|北京|大学|学习|中文");
    expect_words(*state, "Hello, 世界! مرحبا", "hello|世界|مرحبا");
}

static void words_of_spaced_scripts(void **state)
{
    expect_words(*state, "الأمانة العامة، لمجلس «التعاون»", "الامانه|العامه|لمجلس|التعاون");
    expect_words(*state, "l'école 3.5 km", "l|ecole|3|5|km");
    expect_words(*state, "", "");
}

static void shingles_are_seeded_xxh3_of_joined_words(void **state)
{
    fixture *f = *state;
    sh_hasher seed42 = sh_hasher_plain(42), seed7 = sh_hasher_plain(7);
    sh_hasher seed1 = sh_hasher_plain(1), seed2 = sh_hasher_plain(2);
    expect_words(f, "one two three four five six", "one|two|three|four|five|six");
    uint64_t h[8];
    assert_int_equal(sh_shingle_count(6, 5), 2);
    assert_int_equal(sh_shingles(&f->words, 0, 6, 5, &seed42, h), 2);
    assert_true(h[0] == XXH3_64bits_withSeed("one two three four five", 23, 42));
    assert_true(h[1] == XXH3_64bits_withSeed("two three four five six", 23, 42));
    /* fewer than k words: one shingle of all of them */
    assert_int_equal(sh_shingle_count(3, 5), 1);
    assert_int_equal(sh_shingles(&f->words, 1, 3, 5, &seed7, h), 1);
    assert_true(h[0] == XXH3_64bits_withSeed("two three four", 14, 7));
    assert_int_equal(sh_shingle_count(0, 5), 0);
    assert_int_equal(sh_shingles(&f->words, 6, 0, 5, &seed7, h), 0);
    /* out of range */
    assert_int_equal(sh_shingles(&f->words, 4, 5, 3, &seed7, h), 0);
    /* the seed matters */
    uint64_t a, b;
    sh_shingles(&f->words, 0, 3, 3, &seed1, &a);
    sh_shingles(&f->words, 0, 3, 3, &seed2, &b);
    assert_true(a != b);
}

static void keys_are_xxh3_128(void **state)
{
    (void)state;
    sh_hasher seed0 = sh_hasher_plain(0);
    sh_key a = sh_key_of("زر الذهاب الي الاعلي", strlen("زر الذهاب الي الاعلي"), &seed0);
    XXH128_hash_t want = XXH3_128bits_withSeed("زر الذهاب الي الاعلي", strlen("زر الذهاب الي الاعلي"), 0);
    assert_true(a.lo == want.low64 && a.hi == want.high64);
    sh_key b = sh_key_of("زر الذهاب الي الاعلي ", strlen("زر الذهاب الي الاعلي "), &seed0);
    assert_false(sh_key_equal(a, b));
}

/* A keyed hasher hashes with its secret (XXH3's withSecret variants), not
 * with its seed: another secret gives other shingles and keys. */
static void keyed_hashes_use_the_secret(void **state)
{
    fixture *f = *state;
    expect_words(f, "one two three four five six", "one|two|three|four|five|six");
    unsigned char secret[SH_HASH_SECRET_SIZE];
    for (size_t i = 0; i < sizeof secret; i++)
        secret[i] = (unsigned char)(i * 131 + 7);
    sh_hasher keyed = sh_hasher_keyed(secret, 42), plain = sh_hasher_plain(42);
    uint64_t h[2], p[2];
    assert_int_equal(sh_shingles(&f->words, 0, 6, 5, &keyed, h), 2);
    assert_true(h[0] == XXH3_64bits_withSecret("one two three four five", 23, secret,
                                               sizeof secret));
    assert_true(h[1] == XXH3_64bits_withSecret("two three four five six", 23, secret,
                                               sizeof secret));
    sh_shingles(&f->words, 0, 6, 5, &plain, p);
    assert_true(h[0] != p[0] && h[1] != p[1]);
    sh_key k = sh_key_of("abc", 3, &keyed);
    XXH128_hash_t want = XXH3_128bits_withSecret("abc", 3, secret, sizeof secret);
    assert_true(k.lo == want.low64 && k.hi == want.high64);
    secret[0] ^= 1;
    sh_hasher other = sh_hasher_keyed(secret, 42);
    assert_false(sh_key_equal(k, sh_key_of("abc", 3, &other)));
}

/* The words of text as a string "a|b|c" with their offsets checked. */
static void words_string(const sh_tokens *t, char *got, size_t cap)
{
    got[0] = '\0';
    for (size_t i = 0; i < t->n; i++) {
        if (i)
            strncat(got, "|", cap - strlen(got) - 1);
        strncat(got, t->text.data + t->v[i].off, t->v[i].len);
        /* the words lie in text separated by single spaces */
        if (i)
            assert_int_equal(t->v[i].off, t->v[i - 1].off + t->v[i - 1].len + 1);
    }
}

/* sh_words (which splits at spaces when the normaliser saw no code point
 * needing word rules) gives the words of sh_normalize then sh_tokenize, with
 * the default profile and with punctuation kept, appending to earlier words. */
static void words_match_normalize_then_tokenize(void **state)
{
    fixture *f = *state;
    const char *texts[] = {
        "",
        "...",
        "وقال الأمين العام: «إن المجلس يُعقد ٢٠١٩»",
        "Les Émirats, l'Interpol et l'ONU — ensemble!",
        "Москва и Ἀθῆναι 2019",
        "ภาษาไทยง่ายนิดเดียว และ English",
        "北京欢迎你 and 東京",
        "㈱ company",          /* maps to (株): Han from a compatibility mapping */
        "cafe\u0301 re\u0301sume\u0301", /* combining sequences: the ICU path */
        "ก\u0e31\u0e49 x",   /* Thai with combining vowel and tone */
        "a.b c-d e_f",         /* punctuation inside words */
    };
    sh_norm_options keep_punct;
    sh_norm_options_default(&keep_punct);
    keep_punct.punct_to_space = false;
    sh_status st;
    sh_normalizer *norms[2] = {f->norm, sh_normalizer_new(&keep_punct, &st)};
    assert_non_null(norms[1]);
    for (int k = 0; k < 2; k++) {
        sh_tokens a = {0}, b = {0};
        sh_buf scratch = {0};
        for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
            const char *t = texts[i];
            assert_int_equal(sh_normalize(norms[k], t, strlen(t), &f->out), SH_OK);
            assert_int_equal(sh_tokenize(f->tok, f->out.data, f->out.len, &a), SH_OK);
            assert_int_equal(sh_words(norms[k], f->tok, t, strlen(t), &scratch, &b), SH_OK);
            assert_string_equal(scratch.data, f->out.data);
            char want[2048], got[2048];
            words_string(&a, want, sizeof want);
            words_string(&b, got, sizeof got);
            assert_string_equal(got, want);
            assert_int_equal(a.text.len, b.text.len);
            assert_memory_equal(a.text.data, b.text.data, a.text.len);
        }
        /* with punctuation kept, ICU's rules split "c-d" and keep "a.b" */
        if (k == 1) {
            char got[2048];
            words_string(&b, got, sizeof got);
            assert_non_null(strstr(got, "|a.b|c|d|e_f"));
        }
        sh_tokens_free(&a);
        sh_tokens_free(&b);
        sh_buf_free(&scratch);
    }
    sh_normalizer_free(norms[1]);
}

/* ---------------------------------------- the fast path and the slow path
 *
 * sh_normalize writes most code points through a fast path (tables of what
 * each code point becomes, eight bytes of text at a time);
 * sh_normalize_reference sends every normalisation segment through the slow
 * path (a lone code point's table entry, ICU for the rest). They must agree
 * on every input and profile: status, bytes and sh_normalized_is_spaced. */

/* Normalises text[0..len) both ways with n and checks that they agree. On a
 * mismatch, prints the input in hex before failing. */
static void expect_same_as_reference(sh_normalizer *n, const char *text, size_t len, sh_buf *fast,
                                     sh_buf *ref)
{
    sh_status st_fast = sh_normalize(n, text, len, fast);
    bool spaced_fast = sh_normalized_is_spaced(n);
    sh_status st_ref = sh_normalize_reference(n, text, len, ref);
    bool spaced_ref = sh_normalized_is_spaced(n);
    if (st_fast != st_ref || fast->len != ref->len || memcmp(fast->data, ref->data, ref->len) ||
        spaced_fast != spaced_ref) {
        print_error("profile %s, input of %zu bytes:", sh_normalizer_profile(n), len);
        for (size_t i = 0; i < len && i < 400; i++)
            print_error(" %02x", (unsigned char)text[i]);
        print_error("\nfast (status %d, spaced %d): [%s]\nreference (status %d, spaced %d): [%s]\n",
                    st_fast, spaced_fast, fast->data, st_ref, spaced_ref, ref->data);
    }
    assert_int_equal(st_fast, st_ref);
    assert_int_equal(fast->len, ref->len);
    assert_memory_equal(fast->data, ref->data, ref->len);
    assert_int_equal(spaced_fast, spaced_ref);
}

/* The options of profile number bits: bit k on turns step k on, in the
 * order of sh_norm_options. Numbers 0-127 cover every combination. */
static sh_norm_options profile_options(unsigned bits)
{
    sh_norm_options o = {
        .nfkc_casefold = bits & 1,
        .drop_marks = bits >> 1 & 1,
        .drop_format = bits >> 2 & 1,
        .fold_arabic = bits >> 3 & 1,
        .fold_digits = bits >> 4 & 1,
        .punct_to_space = bits >> 5 & 1,
        .collapse_space = bits >> 6 & 1,
    };
    return o;
}

/* Profiles for the longer runs: the default (127), each step off in turn,
 * and none. */
static const unsigned some_profiles[] = {127, 126, 125, 123, 119, 111, 95, 63, 0};
#define SOME_PROFILES (sizeof some_profiles / sizeof some_profiles[0])

static sh_normalizer *new_profile(unsigned bits)
{
    sh_norm_options o = profile_options(bits);
    sh_status st;
    sh_normalizer *n = sh_normalizer_new(&o, &st);
    assert_non_null(n);
    return n;
}

/* A small deterministic generator (xorshift64). */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Appends the UTF-8 of c (any value up to 0x10FFFF, surrogates included, so
 * that invalid text can be made) to d; returns its length. */
static size_t put_utf8(char *d, uint32_t c)
{
    if (c < 0x80) {
        d[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        d[0] = (char)(0xC0 | c >> 6);
        d[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        d[0] = (char)(0xE0 | c >> 12);
        d[1] = (char)(0x80 | (c >> 6 & 0x3F));
        d[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | c >> 18);
    d[1] = (char)(0x80 | (c >> 12 & 0x3F));
    d[2] = (char)(0x80 | (c >> 6 & 0x3F));
    d[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* The text of every file of fixtures/seeds, read into *texts (at most max). */
static size_t read_seed_articles(char **texts, size_t *lens, size_t max)
{
    DIR *d = opendir("fixtures/seeds");
    assert_non_null(d); /* the tests run from the top of the tree */
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d)) && count < max) {
        if (!strstr(e->d_name, ".txt"))
            continue;
        char path[512];
        snprintf(path, sizeof path, "fixtures/seeds/%s", e->d_name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        char *text = malloc(1 << 20);
        assert_non_null(text);
        lens[count] = fread(text, 1, 1 << 20, f);
        fclose(f);
        texts[count++] = text;
    }
    closedir(d);
    return count;
}

/* The seed articles: whole, line by line, and with 0-15 bytes cut off each
 * end (which moves where the eight-byte steps fall, and cuts UTF-8
 * sequences in two: invalid text). */
static void fast_path_matches_reference_on_seed_articles(void **state)
{
    (void)state;
    char *texts[16];
    size_t lens[16];
    size_t count = read_seed_articles(texts, lens, 16);
    assert_true(count >= 5);
    sh_buf fast = {0}, ref = {0};
    for (size_t k = 0; k < SOME_PROFILES; k++) {
        sh_normalizer *n = new_profile(some_profiles[k]);
        for (size_t t = 0; t < count; t++) {
            const char *text = texts[t];
            size_t len = lens[t];
            expect_same_as_reference(n, text, len, &fast, &ref);
            for (size_t at = 0; at < len;) {
                const char *nl = memchr(text + at, '\n', len - at);
                size_t end = nl ? (size_t)(nl - text) : len;
                expect_same_as_reference(n, text + at, end - at, &fast, &ref);
                at = end + 1;
            }
            for (size_t cut = 1; cut < 16 && 2 * cut < len; cut++)
                expect_same_as_reference(n, text + cut, len - 2 * cut, &fast, &ref);
        }
        sh_normalizer_free(n);
    }
    for (size_t t = 0; t < count; t++)
        free(texts[t]);
    sh_buf_free(&fast);
    sh_buf_free(&ref);
}

/* The fast path keeps what ICU made of a segment and writes it again when
 * the same bytes come back (normalize.c: a table by the segment's bytes).
 * Texts of thousands of segments that go through ICU, many of them again,
 * in all: more segments than the table has slots (results replaced), ones
 * longer than it keeps (a letter with up to 12 marks) and results longer
 * than it keeps (U+FDFA, a ligature of 18 letters, with a mark), Thai
 * with a tone mark (ICU's word rules), after a space, a full stop or text,
 * in each profile: as the reference (ICU for every segment), first and
 * second time. */
static void kept_segments_match_reference(void **state)
{
    (void)state;
    static const uint32_t bases[] = {'a',   'e',    'z',     0x627,  0x628, 0x644,
                                     0x64A, 0xFDFA, 0x1D400, 0x1100, 0x3B1, 0xE01};
    static const uint32_t marks[] = {0x300, 0x301, 0x308, 0x323,  0x36F,  0x64B, 0x64E,
                                     0x650, 0x651, 0x652, 0x1161, 0x200D, 0xE49};
    char *text = malloc(1 << 20);
    assert_non_null(text);
    sh_buf fast = {0}, ref = {0};
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    for (size_t k = 0; k < SOME_PROFILES; k++) {
        sh_normalizer *n = new_profile(some_profiles[k]);
        for (int round = 0; round < 3; round++) {
            size_t len = 0;
            for (int seg = 0; seg < 4000; seg++) {
                uint64_t r = next_random(&seed);
                len += put_utf8(text + len, bases[r % (sizeof bases / sizeof bases[0])]);
                size_t nmarks = 1 + (r >> 8) % (r >> 20 & 1 ? 12 : 2);
                for (size_t m = 0; m < nmarks; m++)
                    len += put_utf8(
                        text + len,
                        marks[(r >> (24 + 3 * m % 36)) % (sizeof marks / sizeof marks[0])]);
                if (r >> 60 == 0)
                    text[len++] = ' ';
                else if (r >> 60 == 1)
                    text[len++] = '.';
            }
            expect_same_as_reference(n, text, len, &fast, &ref);
            expect_same_as_reference(n, text, len, &fast, &ref); /* again, from what was kept */
            for (size_t at = 0; at + 64 < len; at += 997)
                expect_same_as_reference(n, text + at, 64, &fast, &ref);
        }
        sh_normalizer_free(n);
    }
    free(text);
    sh_buf_free(&fast);
    sh_buf_free(&ref);
}

/* Every BMP code point c (and every 97th above it), surrogates too (invalid
 * UTF-8), in one text per code point: at the start and the end, between
 * Arabic letters, between spaces, after an ASCII letter and before Arabic
 * and Latin combining marks (U+064E, U+0301), after a mark, and repeated. */
static void fast_path_matches_reference_on_every_code_point(void **state)
{
    (void)state;
    static const unsigned profiles[] = {127, 63, 125, 0};
    sh_buf fast = {0}, ref = {0};
    for (size_t k = 0; k < sizeof profiles / sizeof profiles[0]; k++) {
        sh_normalizer *n = new_profile(profiles[k]);
        for (uint32_t c = 0; c <= 0x10FFFF; c += c < 0x10000 ? 1 : 97) {
            const uint32_t around[] = {c,     0x628, c, 0x628, ' ',   c, ' ',   'a', c,
                                       0x64E, 0x301, c, c,     0x64B, c, 0x652, '.', c};
            char text[128];
            size_t len = 0;
            for (size_t i = 0; i < sizeof around / sizeof around[0]; i++)
                len += put_utf8(text + len, around[i]);
            expect_same_as_reference(n, text, len, &fast, &ref);
        }
        sh_normalizer_free(n);
    }
    sh_buf_free(&fast);
    sh_buf_free(&ref);
}

/* Random texts from code points that exercise both paths: Arabic letters
 * and their variants, tatweel, harakat, Latin and Arabic combining marks,
 * spaces and separators of one to three bytes, ASCII, Latin letters that
 * fold to longer strings, format controls, Thai, Han, Hangul jamo,
 * supplementary code points, and any code point below U+0800; now and then
 * a random byte. Every one of the 128 profiles. */
static void fast_path_matches_reference_on_random_text(void **state)
{
    (void)state;
    static const uint32_t alphabet[] = {
        ' ',    ' ',    ' ',    '\n',   '\t',   '.',     ',',     '-',      'a',    'Z',    '7',
        0x627,  0x628,  0x644,  0x645,  0x647,  0x64A,   0x623,   0x625,    0x622,  0x629,  0x649,
        0x671,  0x6CC,  0x6A9,  0x640,  0x64B,  0x64C,   0x64E,   0x650,    0x651,  0x652,  0x670,
        0x654,  0x655,  0x300,  0x301,  0x308,  0x327,   0x36F,   0x60C,    0x61B,  0x61F,  0x660,
        0x669,  0x6F3,  0xA0,   0xAB,   0xBB,   0xE9,    0xC9,    0xDF,     0x130,  0x149,  0x1C4,
        0x3A3,  0x3C2,  0x345,  0x5D0,  0x5B8,  0x710,   0x730,   0x2025,   0x200C, 0x200D, 0xFEFF,
        0x3000, 0x2003, 0xFB01, 0xFDFA, 0xFEFB, 0xFF21,  0xE01,   0xE31,    0xE49,  0x4E2D, 0x1100,
        0x1161, 0x11A8, 0xAC00, 0x3099, 0x304B, 0x1D400, 0x1F600, 0x10FFFF, 0x7F,   0x1,
    };
    uint64_t seed = 0x9E3779B97F4A7C15u;
    sh_buf fast = {0}, ref = {0};
    char text[1024];
    for (unsigned bits = 0; bits < 128; bits++) {
        sh_normalizer *n = new_profile(bits);
        for (int round = 0; round < 300; round++) {
            size_t len = 0, count = next_random(&seed) % 150;
            for (size_t i = 0; i < count; i++) {
                uint64_t r = next_random(&seed);
                uint32_t c = r % 8 < 6 ? alphabet[(r >> 8) % (sizeof alphabet / sizeof alphabet[0])]
                                       : (uint32_t)(r >> 8) % 0x800;
                len += put_utf8(text + len, c);
            }
            if (len && next_random(&seed) % 8 == 0)
                text[next_random(&seed) % len] = (char)next_random(&seed);
            expect_same_as_reference(n, text, len, &fast, &ref);
        }
        sh_normalizer_free(n);
    }
    sh_buf_free(&fast);
    sh_buf_free(&ref);
}

/* Random bytes, mostly invalid UTF-8, and ASCII with stray bytes of every
 * value: both ways fail alike, or agree. */
static void fast_path_matches_reference_on_random_bytes(void **state)
{
    fixture *f = *state;
    uint64_t seed = 12345;
    sh_buf fast = {0}, ref = {0};
    char text[128];
    for (int round = 0; round < 20000; round++) {
        size_t len = next_random(&seed) % sizeof text;
        for (size_t i = 0; i < len; i++) {
            uint64_t r = next_random(&seed);
            text[i] = round % 2 ? (char)r : (char)(r % 4 ? 'a' + r % 26 : r >> 8);
        }
        expect_same_as_reference(f->norm, text, len, &fast, &ref);
    }
    for (unsigned b = 0; b < 256; b++) {
        for (size_t at = 0; at < 18; at++) {
            char t[] = "abc defgh ijklmnop";
            t[at] = (char)b;
            expect_same_as_reference(f->norm, t, sizeof t - 1, &fast, &ref);
        }
    }
    sh_buf_free(&fast);
    sh_buf_free(&ref);
}

/* What the fast path must get right where it hands over to the slow path,
 * with the results spelled out: separators of one and two bytes collapse
 * into one space (none at the ends); harakat after a letter are dropped
 * with it, wherever the letter falls in the text; tatweel and format
 * controls drop; without collapsing, every separator is a space. */
static void fast_path_edges(void **state)
{
    fixture *f = *state;
    expect_norm(f, "  \u060C  \u0628  ", "\u0628");
    expect_norm(f, "\u060C \u0628\u060C", "\u0628");
    expect_norm(f, "a  b", "a b");
    expect_norm(f, "x.y  z", "x y z");
    expect_norm(f, "\u0623\u062D\u0645\u062F\u00A0\u00AB\u0625\u0628\u00BB",
                "\u0627\u062D\u0645\u062F \u0627\u0628");
    expect_norm(f, "\u0628\u0628\u0628\u0640\u0628 \u200C\u0628",
                "\u0628\u0628\u0628\u0628 \u0628");
    expect_norm(f, "abcdefg\u0301 h", "abcdefg h");
    const char *word = "\u0645\u064F\u062D\u064E\u0645\u064E\u0651\u062F\u064C"; /* مُحَمَّدٌ */
    for (size_t k = 0; k < 12; k++) {
        char in[128], want[128];
        snprintf(in, sizeof in, "%.*s %s", (int)k, "abcdefghijkl", word);
        snprintf(want, sizeof want, "%.*s%s\u0645\u062D\u0645\u062F", (int)k, "abcdefghijkl",
                 k ? " " : "");
        expect_norm(f, in, want);
        /* invalid UTF-8 anywhere fails the whole text */
        assert_int_equal(sh_normalize(f->norm, in, strlen(in) - 1, &f->out), SH_ERR_BAD_UTF8);
        assert_int_equal(f->out.len, 0);
    }

    sh_norm_options o;
    sh_norm_options_default(&o);
    o.collapse_space = false;
    sh_normalizer *n = sh_normalizer_new(&o, NULL);
    assert_non_null(n);
    sh_buf out = {0};
    const struct {
        const char *in, *want;
    } spaced[] = {
        {"  \u060C  \u0628  ", "     \u0628  "},
        {"\u060C \u0628\u060C", "  \u0628 "},
        {"x.y  z", "x y  z"},
        {"\u0623\u062D\u0645\u062F\u00A0\u00AB\u0625\u0628\u00BB",
         "\u0627\u062D\u0645\u062F  \u0627\u0628 "},
    };
    for (size_t i = 0; i < sizeof spaced / sizeof spaced[0]; i++) {
        assert_int_equal(sh_normalize(n, spaced[i].in, strlen(spaced[i].in), &out), SH_OK);
        assert_string_equal(out.data, spaced[i].want);
        assert_false(sh_normalized_is_spaced(n));
    }
    sh_buf_free(&out);
    sh_normalizer_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(arabic_harakat),
        cmocka_unit_test(arabic_tatweel_and_format),
        cmocka_unit_test(arabic_letter_variants),
        cmocka_unit_test(digits_of_every_script),
        cmocka_unit_test(punctuation_and_symbols),
        cmocka_unit_test(latin_accents_and_case),
        cmocka_unit_test(compatibility_forms),
        cmocka_unit_test(thai_keeps_its_vowels),
        cmocka_unit_test(already_normalised_is_unchanged),
        cmocka_unit_test(invalid_utf8_is_an_error),
        cmocka_unit_test(options_turn_steps_off),
        cmocka_unit_test(thai_and_chinese_are_segmented),
        cmocka_unit_test(words_of_spaced_scripts),
        cmocka_unit_test(shingles_are_seeded_xxh3_of_joined_words),
        cmocka_unit_test(keys_are_xxh3_128),
        cmocka_unit_test(keyed_hashes_use_the_secret),
        cmocka_unit_test(words_match_normalize_then_tokenize),
        cmocka_unit_test(fast_path_edges),
        cmocka_unit_test(fast_path_matches_reference_on_seed_articles),
        cmocka_unit_test(fast_path_matches_reference_on_every_code_point),
        cmocka_unit_test(fast_path_matches_reference_on_random_text),
        cmocka_unit_test(fast_path_matches_reference_on_random_bytes),
        cmocka_unit_test(kept_segments_match_reference),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
