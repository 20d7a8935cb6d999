/*
 * tokenize.c - words of normalised text (sh_tokenize).
 *
 * Words follow ICU's word break rules. Normalised text has no punctuation and
 * single spaces between runs of letters and digits; in a script that puts
 * spaces between words, ICU's rules never break inside such a run, so the
 * words are simply the space-separated runs. Runs holding a character of a
 * script written without spaces (Thai, Lao, Khmer, Myanmar, Han, kana) go
 * through ICU's word break iterator, which segments them with its
 * dictionaries.
 */
#include "shingle.h"

#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/utext.h>
#include <unicode/utf8.h>

/* What a BMP code point is to the tokeniser, cached as it is first seen. */
enum { CLASS_UNKNOWN = 0, CLASS_SIMPLE = 1, CLASS_ICU = 2 };

struct sh_tokenizer {
    UBreakIterator *words;
    uint8_t class_of[0x10000];
};

sh_tokenizer *sh_tokenizer_new(sh_status *st)
{
    sh_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        if (st)
            *st = SH_ERR_NOMEM;
        return NULL;
    }
    UErrorCode err = U_ZERO_ERROR;
    t->words = ubrk_open(UBRK_WORD, "", NULL, 0, &err);
    if (U_FAILURE(err)) {
        free(t);
        if (st)
            *st = SH_ERR_ICU;
        return NULL;
    }
    if (st)
        *st = SH_OK;
    return t;
}

void sh_tokenizer_free(sh_tokenizer *t)
{
    if (!t)
        return;
    ubrk_close(t->words);
    free(t);
}

void sh_tokens_clear(sh_tokens *t)
{
    t->n = 0;
    t->text.len = 0;
    if (t->text.data)
        t->text.data[0] = '\0';
}

void sh_tokens_free(sh_tokens *t)
{
    free(t->v);
    sh_buf_free(&t->text);
    t->v = NULL;
    t->n = t->cap = 0;
}

/* Appends the word s[0..len) (no spaces in it) to out. */
/* Makes room in out->v for one more token. */
static inline sh_status token_room(sh_tokens *out)
{
    if (out->n < out->cap)
        return SH_OK;
    size_t cap = out->cap ? out->cap * 2 : 256;
    sh_token *v = realloc(out->v, cap * sizeof *v);
    if (!v)
        return SH_ERR_NOMEM;
    out->v = v;
    out->cap = cap;
    return SH_OK;
}

static inline sh_status add_word(sh_tokens *out, const char *s, size_t len)
{
    if (token_room(out) != SH_OK)
        return SH_ERR_NOMEM;
    if (out->text.len + len + 2 > out->text.cap) {
        if (out->text.len + len + 1 > INT32_MAX)
            return SH_ERR_TOO_LONG;
        if (sh_buf_reserve(&out->text, len + 1) != SH_OK)
            return SH_ERR_NOMEM;
    }
    char *d = out->text.data + out->text.len;
    if (out->n > 0)
        *d++ = ' ';
    out->v[out->n].off = (uint32_t)(d - out->text.data);
    out->v[out->n].len = (uint32_t)len;
    memcpy(d, s, len);
    d[len] = '\0';
    out->text.len = (size_t)(d + len - out->text.data);
    out->n++;
    return SH_OK;
}

/* Is c in a script that ICU segments with a dictionary? */
static bool needs_dictionary(UChar32 c)
{
    switch (u_getIntPropertyValue(c, UCHAR_LINE_BREAK)) {
    case U_LB_COMPLEX_CONTEXT: /* Thai, Lao, Khmer, Myanmar */
    case U_LB_IDEOGRAPHIC:
    case U_LB_CONDITIONAL_JAPANESE_STARTER: return true;
    default: break;
    }
    UErrorCode err = U_ZERO_ERROR;
    UScriptCode sc = uscript_getScript(c, &err);
    return sc == USCRIPT_HAN || sc == USCRIPT_HIRAGANA || sc == USCRIPT_KATAKANA;
}

bool sh_needs_word_rules(UChar32 c)
{
    if (c >= 0x0800 && needs_dictionary(c))
        return true;
    return !(u_isalnum(c) || u_charType(c) == U_NON_SPACING_MARK ||
             u_charType(c) == U_COMBINING_SPACING_MARK);
}

/* Can a word holding c be taken whole, without ICU? Letters, digits and
 * marks of scripts written with spaces can. */
static uint8_t classify(UChar32 c) { return sh_needs_word_rules(c) ? CLASS_ICU : CLASS_SIMPLE; }

/* Splits the space-free run s[0..len) with ICU's word break iterator. */
static sh_status split_with_icu(sh_tokenizer *t, const char *s, size_t len, sh_tokens *out)
{
    UErrorCode err = U_ZERO_ERROR;
    UText *ut = utext_openUTF8(NULL, s, (int64_t)len, &err);
    if (U_FAILURE(err))
        return SH_ERR_ICU;
    ubrk_setUText(t->words, ut, &err);
    if (U_FAILURE(err)) {
        utext_close(ut);
        return SH_ERR_ICU;
    }
    sh_status st = SH_OK;
    int32_t start = ubrk_first(t->words);
    for (int32_t end = ubrk_next(t->words); end != UBRK_DONE;
         start = end, end = ubrk_next(t->words)) {
        if (ubrk_getRuleStatus(t->words) < UBRK_WORD_NONE_LIMIT)
            continue; /* spaces, punctuation */
        if ((st = add_word(out, s + start, (size_t)(end - start))) != SH_OK)
            break;
    }
    /* Leave the iterator pointing at no text of ours. */
    ubrk_setText(t->words, NULL, 0, &err);
    utext_close(ut);
    return st;
}

static inline bool is_space(char b) { return b == ' ' || b == '\n' || b == '\t' || b == '\r'; }

/* The class of the code point starting at norm[*i] (not ASCII), which it
 * passes; CLASS_UNKNOWN for invalid UTF-8. Two-byte sequences are decoded
 * inline. */
static inline uint8_t class_at(sh_tokenizer *t, const char *norm, size_t *i, size_t len)
{
    unsigned char b = (unsigned char)norm[*i];
    UChar32 c;
    unsigned char tr;
    if (b >= 0xC2 && b < 0xE0 && *i + 1 < len && (tr = (unsigned char)norm[*i + 1] ^ 0x80) < 0x40) {
        c = (UChar32)(b & 0x1F) << 6 | tr;
        *i += 2;
    } else {
        U8_NEXT(norm, *i, len, c);
        if (c < 0)
            return CLASS_UNKNOWN;
        if (c > 0xFFFF)
            return classify(c);
    }
    uint8_t cls = t->class_of[c];
    if (cls == CLASS_UNKNOWN)
        cls = t->class_of[c] = classify(c);
    return cls;
}

sh_status sh_tokenize(sh_tokenizer *t, const char *norm, size_t len, sh_tokens *out)
{
    /* Room for the words of text that needs no ICU: len bytes and the
     * separator before the first word. */
    if (sh_buf_reserve(&out->text, len + 1) != SH_OK)
        return SH_ERR_NOMEM;
    size_t i = 0;
    while (i < len) {
        while (i < len && is_space(norm[i]))
            i++;
        size_t start = i;
        bool simple = true;
        while (i < len) {
            unsigned char b = (unsigned char)norm[i];
            if (b < 0x80) {
                if (is_space((char)b))
                    break;
                if (!((b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')))
                    simple = false; /* punctuation left in: let ICU decide */
                i++;
                continue;
            }
            uint8_t cls = class_at(t, norm, &i, len);
            if (cls == CLASS_UNKNOWN)
                return SH_ERR_BAD_UTF8;
            if (cls != CLASS_SIMPLE)
                simple = false;
        }
        if (i == start)
            break;
        sh_status st = simple ? add_word(out, norm + start, i - start)
                              : split_with_icu(t, norm + start, i - start, out);
        if (st != SH_OK)
            return st;
    }
    return SH_OK;
}

/* Appends the words of norm[0..len), text of single spaces between words
 * that need no word rules, to out: one copy, then the spaces mark the words. */
static sh_status split_spaced(const char *norm, size_t len, sh_tokens *out)
{
    if (len == 0)
        return SH_OK;
    size_t sep = out->n > 0 ? 1 : 0;
    if (out->text.len + sep + len > INT32_MAX)
        return SH_ERR_TOO_LONG;
    if (sh_buf_reserve(&out->text, sep + len) != SH_OK)
        return SH_ERR_NOMEM;
    char *base = out->text.data;
    size_t at = out->text.len;
    if (sep)
        base[at++] = ' ';
    memcpy(base + at, norm, len);
    base[at + len] = '\0';
    out->text.len = at + len;
    const char *p = norm, *end = norm + len;
    while (p < end) {
        const char *space = memchr(p, ' ', (size_t)(end - p));
        const char *word_end = space ? space : end;
        if (token_room(out) != SH_OK)
            return SH_ERR_NOMEM;
        out->v[out->n++] = (sh_token){(uint32_t)(at + (size_t)(p - norm)), (uint32_t)(word_end - p)};
        p = word_end + 1;
    }
    return SH_OK;
}

sh_status sh_words(sh_normalizer *n, sh_tokenizer *t, const char *text, size_t len,
                   sh_buf *scratch, sh_tokens *out)
{
    sh_status st = sh_normalize(n, text, len, scratch);
    if (st != SH_OK)
        return st;
    if (sh_normalized_is_spaced(n))
        return split_spaced(scratch->data, scratch->len, out);
    return sh_tokenize(t, scratch->data, scratch->len, out);
}
