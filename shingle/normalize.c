/*
 * normalize.c - the text normaliser (sh_normalize).
 *
 * The steps (see sh_norm_options) are defined with ICU: NFKC_Casefold, then
 * canonical decomposition with nonspacing marks dropped and recomposition,
 * then a mapping of each resulting code point (format controls, Arabic
 * letter variants, digits, punctuation and spaces).
 *
 * Doing that with ICU calls on every string is slow, so the normaliser
 * splits the text into normalisation segments: a segment starts at each code
 * point that ICU says "has a boundary before" (it never interacts with what
 * precedes it). A segment of one BMP code point - almost every character of
 * real text - is mapped through a table that caches the ICU result for that
 * code point, filled the first time the code point is seen. Longer segments
 * (a letter followed by combining marks, say) and supplementary code points go
 * through ICU itself, whose result is kept by the segment's bytes for when
 * they come again. Both paths give the same output as running the steps
 * on the whole string.
 *
 * The one- and two-byte code points (ASCII, Latin, Greek, Cyrillic, Arabic,
 * Hebrew) that make up most text have a second table, indexed by the two
 * bytes the code point starts with, whose entry holds the bytes to write: the
 * fast path writes such a code point with one lookup, one store and no branch
 * on what the code point is (see write_span).
 */
#include "shingle.h"

#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uscript.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>
#include <unicode/uversion.h>

/*
 * A table entry, one per BMP code point:
 *   bit 31      the entry has been computed
 *   bit 30      the code point has a normalisation boundary before it
 *   bits 28-29  what the code point becomes (enum kind)
 *   bit 27      what it writes needs ICU's word rules (sh_needs_word_rules)
 *   bits 20-26  KIND_MAP: length of the replacement in bytes
 *   bit 19      KIND_MAP: the replacement holds a space
 *   bits 0-18   KIND_MAP: offset of the replacement in the pool
 */
enum kind { KIND_KEEP = 0, KIND_DROP = 1, KIND_SPACE = 2, KIND_MAP = 3 };
#define E_DONE (1u << 31)
#define E_BOUNDARY (1u << 30)
#define E_WORD_RULES (1u << 27)
#define E_KIND(e) (((e) >> 28) & 3u)
#define E_LEN(e) (((e) >> 20) & 0x7Fu)
#define E_MAP_SPACE (1u << 19)
#define E_OFF(e) ((e)&0x7FFFFu)
#define MAX_MAP_LEN 127u
#define MAX_POOL (1u << 19)

/*
 * The pair table: what the fast path needs to write a code point below U+0800,
 * indexed by the first two bytes of the text at the code point,
 * PAIR_INDEX(byte0, byte1). An ASCII code point owns the 256 entries of its
 * byte, whatever byte follows it; a two-byte code point owns the entry of its
 * two bytes. Every other index (a lead byte of three or four, a continuation
 * byte, an invalid pair) stays 0, and so does the entry of a code point until
 * its table entry is computed, or for good when the fast path cannot write it
 * (see pair_entry_of). An entry in use (not 0):
 *   bits 30-31  P_OUT_LEN: how many bytes of P_OUT to write (1 or 2), no more
 *               than the code point takes in the text
 *   bit 27      E_WORD_RULES, as in the table entry
 *   bit 16      P_SEPARATOR: a separator of a profile that collapses them: it
 *               writes its " " only after text (P_OUT_LEN is 1)
 *   bits 0-15   P_OUT: the bytes to write, the first in bits 0-7
 * The code point has a normalisation boundary before it.
 */
#define P_OUT_LEN_SHIFT 30
#define P_OUT_LEN(p) ((p) >> P_OUT_LEN_SHIFT)
#define P_SEPARATOR_SHIFT 16
#define P_SEPARATOR (1u << P_SEPARATOR_SHIFT)
#define PAIR_INDEX(b0, b1) ((unsigned)(b0) | (unsigned)(b1) << 8)

/* A UTF-16 scratch buffer that grows. */
typedef struct ubuf {
    UChar *p;
    int32_t cap;
} ubuf;

struct sh_normalizer {
    sh_norm_options opt;
    const UNormalizer2 *nfkc_cf;
    const UNormalizer2 *nfd;
    const UNormalizer2 *nfc;
    const UNormalizer2 *seg; /* decides where segments start; NULL: at every code point */
    uint32_t *table;         /* 0x10000 entries */
    uint32_t *pair;          /* 0x10000 entries: the pair table */
    sh_buf pool;             /* replacements of KIND_MAP entries */
    ubuf u[3];               /* scratch for the ICU path */
    sh_buf mapped;           /* scratch: UTF-8 result of the ICU path */
    struct icu_result *icu_results; /* kept results of the ICU path: made on first use */
    char profile[192];
    bool spaced; /* see sh_normalized_is_spaced */
};

void sh_norm_options_default(sh_norm_options *o)
{
    o->nfkc_casefold = true;
    o->drop_marks = true;
    o->drop_format = true;
    o->fold_arabic = true;
    o->fold_digits = true;
    o->punct_to_space = true;
    o->collapse_space = true;
}

/* ---------------------------------------------------------- the ICU steps */

static sh_status ubuf_reserve(ubuf *b, int32_t n)
{
    if (n <= b->cap)
        return SH_OK;
    int32_t cap = b->cap ? b->cap : 64;
    while (cap < n) {
        if (cap > INT32_MAX / 2)
            return SH_ERR_TOO_LONG;
        cap *= 2;
    }
    UChar *p = realloc(b->p, (size_t)cap * sizeof *p);
    if (!p)
        return SH_ERR_NOMEM;
    b->p = p;
    b->cap = cap;
    return SH_OK;
}

/* dst = norm2(src). */
static sh_status icu_normalize(const UNormalizer2 *norm2, const UChar *src, int32_t len, ubuf *dst,
                               int32_t *out_len)
{
    for (;;) {
        UErrorCode err = U_ZERO_ERROR;
        int32_t n = unorm2_normalize(norm2, src, len, dst->p, dst->cap, &err);
        if (err == U_BUFFER_OVERFLOW_ERROR) {
            sh_status st = ubuf_reserve(dst, n + 1);
            if (st != SH_OK)
                return st;
            continue;
        }
        if (U_FAILURE(err))
            return SH_ERR_ICU;
        *out_len = n;
        return SH_OK;
    }
}

/* Is c a nonspacing mark that the drop_marks step removes? Diacritics are:
 * the combining marks shared by scripts (Latin, Greek and Cyrillic accents
 * after decomposition, Arabic harakat and superscript alef, which Unicode
 * files under the Inherited script) and the marks of Arabic (Quranic
 * annotations), Hebrew and Syriac pointing. The nonspacing marks of Thai,
 * Devanagari and other Brahmic scripts are vowels and tones that spell the
 * word, so they stay. */
static bool is_diacritic(UChar32 c)
{
    if (u_charType(c) != U_NON_SPACING_MARK)
        return false;
    UErrorCode err = U_ZERO_ERROR;
    switch (uscript_getScript(c, &err)) {
    case USCRIPT_INHERITED:
    case USCRIPT_COMMON:
    case USCRIPT_LATIN:
    case USCRIPT_GREEK:
    case USCRIPT_CYRILLIC:
    case USCRIPT_ARABIC:
    case USCRIPT_HEBREW:
    case USCRIPT_SYRIAC: return true;
    default: return false;
    }
}

/* Steps 1 and 2 on the UTF-16 text in n->u[0] (len units). The result is in
 * n->u[*which], *out_len units. */
static sh_status icu_steps(sh_normalizer *n, int32_t len, int *which, int32_t *out_len)
{
    int cur = 0;
    sh_status st;
    if (n->opt.nfkc_casefold) {
        if ((st = icu_normalize(n->nfkc_cf, n->u[0].p, len, &n->u[1], &len)) != SH_OK)
            return st;
        cur = 1;
    }
    if (n->opt.drop_marks) {
        int other = cur == 1 ? 2 : 1;
        if ((st = icu_normalize(n->nfd, n->u[cur].p, len, &n->u[other], &len)) != SH_OK)
            return st;
        /* Drop the nonspacing marks, in place. */
        UChar *p = n->u[other].p;
        int32_t i = 0, w = 0;
        while (i < len) {
            UChar32 c;
            int32_t start = i;
            U16_NEXT(p, i, len, c);
            if (is_diacritic(c))
                continue;
            while (start < i)
                p[w++] = p[start++];
        }
        if ((st = icu_normalize(n->nfc, p, w, &n->u[cur == 1 ? 0 : 2], &len)) != SH_OK)
            return st;
        cur = cur == 1 ? 0 : 2;
    }
    *which = cur;
    *out_len = len;
    return SH_OK;
}

/* Steps 3 to 7 on one code point: what c becomes. Returns KIND_DROP,
 * KIND_SPACE, or KIND_KEEP with *to set to the code point to write. */
static enum kind map_code_point(const sh_norm_options *o, UChar32 c, UChar32 *to)
{
    int8_t type = u_charType(c);
    *to = c;
    if (o->drop_format && (c == 0x0640 || type == U_FORMAT_CHAR))
        return KIND_DROP;
    if (o->fold_arabic) {
        switch (c) {
        case 0x0622: /* آ */
        case 0x0623: /* أ */
        case 0x0625: /* إ */
        case 0x0671: /* ٱ */
            *to = 0x0627;
            return KIND_KEEP;
        case 0x0649: /* ى */
        case 0x06CC: /* ی */
            *to = 0x064A;
            return KIND_KEEP;
        case 0x0629: /* ة */
            *to = 0x0647;
            return KIND_KEEP;
        case 0x06A9: /* ک */
            *to = 0x0643;
            return KIND_KEEP;
        default: break;
        }
    }
    if (o->fold_digits && type == U_DECIMAL_DIGIT_NUMBER) {
        int32_t v = u_charDigitValue(c);
        if (v >= 0 && v <= 9) {
            *to = '0' + v;
            return KIND_KEEP;
        }
    }
    if (o->punct_to_space) {
        switch (type) {
        case U_DASH_PUNCTUATION:
        case U_START_PUNCTUATION:
        case U_END_PUNCTUATION:
        case U_CONNECTOR_PUNCTUATION:
        case U_OTHER_PUNCTUATION:
        case U_INITIAL_PUNCTUATION:
        case U_FINAL_PUNCTUATION:
        case U_MATH_SYMBOL:
        case U_CURRENCY_SYMBOL:
        case U_MODIFIER_SYMBOL:
        case U_OTHER_SYMBOL:
        case U_CONTROL_CHAR: return KIND_SPACE;
        default: break;
        }
    }
    if (o->collapse_space && u_isUWhiteSpace(c))
        return KIND_SPACE;
    return KIND_KEEP;
}

/* Runs every step on the UTF-16 text in n->u[0] and writes the UTF-8 result to
 * n->mapped, with each separator written as one ' '. */
static sh_status map_utf16(sh_normalizer *n, int32_t len)
{
    int which;
    sh_status st = icu_steps(n, len, &which, &len);
    if (st != SH_OK)
        return st;
    n->mapped.len = 0;
    if ((st = sh_buf_reserve(&n->mapped, (size_t)len * 3 + 4)) != SH_OK)
        return st;
    const UChar *p = n->u[which].p;
    int32_t i = 0;
    while (i < len) {
        UChar32 c, to;
        U16_NEXT(p, i, len, c);
        enum kind k = map_code_point(&n->opt, c, &to);
        if (k == KIND_DROP)
            continue;
        if (k == KIND_SPACE)
            to = ' ';
        size_t w = n->mapped.len;
        U8_APPEND_UNSAFE((uint8_t *)n->mapped.data, w, to);
        n->mapped.len = w;
    }
    n->mapped.data[n->mapped.len] = '\0';
    return SH_OK;
}

/* Does a code point of s[0..len), valid UTF-8, other than a space need
 * ICU's word rules? */
static bool text_needs_word_rules(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        UChar32 c;
        U8_NEXT_UNSAFE(s, i, c);
        if (c != ' ' && sh_needs_word_rules(c))
            return true;
    }
    return false;
}

/* The pair-table entry of code point c (below U+0800) whose table entry is
 * e: 0 when the fast path cannot write it. That is when c may combine with
 * what precedes it, when it writes nothing (the fast path would have to
 * remember whether the output ends in a separator across it), and when its
 * replacement holds a space or is longer than c's own bytes (the fast path
 * writes no more than it reads). */
static uint32_t pair_entry_of(const sh_normalizer *n, UChar32 c, uint32_t e)
{
    uint32_t width = c < 0x80 ? 1 : 2;
    if (width == 2 && !(e & E_BOUNDARY))
        return 0;
    uint32_t out = 0, out_len = 0, flags = e & E_WORD_RULES;
    switch (E_KIND(e)) {
    case KIND_KEEP: /* c's own UTF-8 */
        out = width == 1 ? (uint32_t)c : (0xC0u | (uint32_t)c >> 6) | (0x80u | (c & 0x3Fu)) << 8;
        out_len = width;
        break;
    case KIND_SPACE:
        out = ' ';
        out_len = 1;
        if (n->opt.collapse_space)
            flags |= P_SEPARATOR;
        break;
    case KIND_MAP: {
        if ((e & E_MAP_SPACE) || E_LEN(e) > width)
            return 0;
        const unsigned char *m = (const unsigned char *)n->pool.data + E_OFF(e);
        out_len = E_LEN(e);
        out = m[0] | (out_len > 1 ? (uint32_t)m[1] << 8 : 0);
        break;
    }
    default: return 0; /* KIND_DROP */
    }
    return flags | out_len << P_OUT_LEN_SHIFT | out;
}

/* Fills the pair-table entries of BMP code point c, whose table entry is e. */
static void set_pair_entries(sh_normalizer *n, UChar32 c, uint32_t e)
{
    if (c >= 0x800)
        return;
    uint32_t p = pair_entry_of(n, c, e);
    if (c < 0x80) {
        for (unsigned next = 0; next < 0x100; next++)
            n->pair[PAIR_INDEX(c, next)] = p;
    } else {
        n->pair[PAIR_INDEX(0xC0 | c >> 6, 0x80 | (c & 0x3F))] = p;
    }
}

/* Fills the table entry of BMP code point c, and its pair-table entries. */
static sh_status compute_entry(sh_normalizer *n, UChar32 c)
{
    uint32_t e = E_DONE;
    if (!n->seg || unorm2_hasBoundaryBefore(n->seg, c))
        e |= E_BOUNDARY;
    if (U_IS_SURROGATE(c)) { /* never reached from valid UTF-8 */
        n->table[c] = e | ((uint32_t)KIND_DROP << 28);
        return SH_OK;
    }
    sh_status st = ubuf_reserve(&n->u[0], 2);
    if (st != SH_OK)
        return st;
    n->u[0].p[0] = (UChar)c;
    if ((st = map_utf16(n, 1)) != SH_OK)
        return st;

    char self[4];
    size_t self_len = 0;
    U8_APPEND_UNSAFE((uint8_t *)self, self_len, c);
    const char *m = n->mapped.data;
    size_t mlen = n->mapped.len;
    enum kind k;
    if (mlen == 0)
        k = KIND_DROP;
    else if (strspn(m, " ") == mlen)
        k = KIND_SPACE;
    else if (mlen == self_len && memcmp(m, self, mlen) == 0)
        k = KIND_KEEP;
    else
        k = KIND_MAP;
    if (k == KIND_KEEP ? sh_needs_word_rules(c) : k == KIND_MAP && text_needs_word_rules(m, mlen))
        e |= E_WORD_RULES;
    if (k == KIND_MAP) {
        if (mlen > MAX_MAP_LEN || n->pool.len + mlen > MAX_POOL)
            return SH_ERR_TOO_LONG; /* cannot happen with Unicode's mappings */
        e |= (uint32_t)mlen << 20 | (uint32_t)n->pool.len;
        if (memchr(m, ' ', mlen))
            e |= E_MAP_SPACE;
        if ((st = sh_buf_append(&n->pool, m, mlen)) != SH_OK)
            return st;
    }
    n->table[c] = e | (uint32_t)k << 28;
    set_pair_entries(n, c, n->table[c]);
    return SH_OK;
}

/* ---------------------------------------------------------------- output */

/* Writes to out, turning runs of separators into one space (none at the
 * ends) when the profile collapses spaces. */
typedef struct writer {
    sh_buf *out;
    bool collapse;
    bool pending_space;
} writer;

static inline sh_status write_text(writer *w, const char *s, size_t len)
{
    if (sh_buf_reserve(w->out, len + 1) != SH_OK)
        return SH_ERR_NOMEM;
    char *d = w->out->data + w->out->len;
    if (w->pending_space) {
        *d++ = ' ';
        w->pending_space = false;
    }
    memcpy(d, s, len);
    w->out->len = (size_t)(d + len - w->out->data);
    return SH_OK;
}

static inline sh_status write_space(writer *w)
{
    if (!w->collapse)
        return write_text(w, " ", 1);
    if (w->out->len > 0)
        w->pending_space = true;
    return SH_OK;
}

/* Writes text that may hold spaces (a replacement or an ICU result). */
static sh_status write_mixed(writer *w, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] == ' ') {
            sh_status st = write_space(w);
            if (st != SH_OK)
                return st;
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && s[j] != ' ')
            j++;
        sh_status st = write_text(w, s + i, j - i);
        if (st != SH_OK)
            return st;
        i = j;
    }
    return SH_OK;
}

/* ------------------------------------------------------------- the API */

sh_normalizer *sh_normalizer_new(const sh_norm_options *o, sh_status *st_out)
{
    sh_status st = SH_ERR_NOMEM;
    sh_normalizer *n = calloc(1, sizeof *n);
    if (!n)
        goto fail;
    if (o)
        n->opt = *o;
    else
        sh_norm_options_default(&n->opt);
    /* Zeros written, not left to calloc: entries are read before they are
     * computed, and fresh memory that calloc does not write is first
     * mapped to the kernel's zero page, whose copy-on-write at the first
     * store costs every other CPU running a thread of the process a TLB
     * flush (a worker's normaliser, at -j 2). */
    n->table = malloc(0x10000 * sizeof *n->table);
    n->pair = malloc(0x10000 * sizeof *n->pair);
    if (!n->table || !n->pair)
        goto fail;
    memset(n->table, 0, 0x10000 * sizeof *n->table);
    memset(n->pair, 0, 0x10000 * sizeof *n->pair);

    UErrorCode err = U_ZERO_ERROR;
    n->nfkc_cf = unorm2_getNFKCCasefoldInstance(&err);
    n->nfd = unorm2_getNFDInstance(&err);
    n->nfc = unorm2_getNFCInstance(&err);
    if (U_FAILURE(err)) {
        st = SH_ERR_ICU;
        goto fail;
    }
    n->seg = n->opt.nfkc_casefold ? n->nfkc_cf : n->opt.drop_marks ? n->nfc : NULL;

    UVersionInfo icu, uni;
    char icu_s[U_MAX_VERSION_STRING_LENGTH], uni_s[U_MAX_VERSION_STRING_LENGTH];
    u_getVersion(icu);
    u_versionToString(icu, icu_s);
    u_getUnicodeVersion(uni);
    u_versionToString(uni, uni_s);
    const struct {
        bool on;
        const char *name;
    } steps[] = {
        {n->opt.nfkc_casefold, "nfkc_cf"}, {n->opt.drop_marks, "marks"},
        {n->opt.drop_format, "format"},    {n->opt.fold_arabic, "arabic"},
        {n->opt.fold_digits, "digits"},    {n->opt.punct_to_space, "punct"},
        {n->opt.collapse_space, "space"},
    };
    char names[96] = "";
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (!steps[i].on)
            continue;
        if (names[0])
            strcat(names, "+");
        strcat(names, steps[i].name);
    }
    snprintf(n->profile, sizeof n->profile, "sh-norm/1 %s icu/%s unicode/%s",
             names[0] ? names : "none", icu_s, uni_s);
    if (st_out)
        *st_out = SH_OK;
    return n;
fail:
    sh_normalizer_free(n);
    if (st_out)
        *st_out = st;
    return NULL;
}

void sh_normalizer_free(sh_normalizer *n)
{
    if (!n)
        return;
    free(n->table);
    free(n->pair);
    free(n->icu_results);
    sh_buf_free(&n->pool);
    sh_buf_free(&n->mapped);
    for (int i = 0; i < 3; i++)
        free(n->u[i].p);
    free(n);
}

const char *sh_normalizer_profile(const sh_normalizer *n) { return n->profile; }

bool sh_normalized_is_spaced(const sh_normalizer *n) { return n->spaced; }

/* The entry of BMP code point c, computed on first use (0 on failure). */
static inline uint32_t entry_of(sh_normalizer *n, UChar32 c, sh_status *st)
{
    uint32_t e = n->table[c];
    if (e & E_DONE)
        return e;
    *st = compute_entry(n, c);
    return *st == SH_OK ? n->table[c] : 0;
}

/* Decodes the code point at text[*i] and advances *i past it; returns a
 * negative value for an invalid sequence. ASCII and two-byte sequences (Latin,
 * Greek, Cyrillic, Arabic, Hebrew) are decoded inline. */
static inline UChar32 decode_next(const char *text, size_t *i, size_t len)
{
    unsigned char b = (unsigned char)text[*i];
    if (b < 0x80) {
        (*i)++;
        return b;
    }
    if (b >= 0xC2 && b < 0xE0 && *i + 1 < len) {
        unsigned char t = (unsigned char)text[*i + 1] ^ 0x80;
        if (t < 0x40) {
            *i += 2;
            return (UChar32)(b & 0x1F) << 6 | t;
        }
    }
    UChar32 c;
    U8_NEXT(text, *i, len, c);
    return c;
}

/* What the main loop needs to know of code point c: its table entry for a
 * BMP code point; for a supplementary one only whether it has a boundary
 * before it (E_BOUNDARY), as such code points always take the ICU path.
 * ASCII never combines with what precedes it. */
static inline uint32_t lookup(sh_normalizer *n, UChar32 c, sh_status *st)
{
    if (c <= 0xFFFF) {
        uint32_t e = entry_of(n, c, st);
        return c < 0x80 ? e | E_BOUNDARY : e;
    }
    return !n->seg || unorm2_hasBoundaryBefore(n->seg, c) ? E_BOUNDARY : 0;
}

/*
 * The ICU path's results, by the bytes of their segment: real text goes
 * through ICU for a few segments again and again (an Arabic letter with its
 * vowel marks: almost every paragraph of news has some), and each call
 * costs as much as a few hundred code points of the fast path. A segment's
 * result depends on its bytes alone (and the profile, which is the
 * normaliser's), so a result kept is the one ICU would give again. A
 * direct-mapped table: a segment of up to SEGMENT_MAX bytes whose result
 * takes up to RESULT_MAX bytes goes to the slot its bytes hash to,
 * replacing what was there. sh_normalize_reference does not use it.
 */
#define SEGMENT_CACHE_SLOTS 1024
#define SEGMENT_MAX 24
#define RESULT_MAX 38

struct icu_result {
    uint8_t segment_len; /* 0: an empty slot */
    uint8_t result_len;
    bool word_rules; /* text_needs_word_rules of the result */
    char segment[SEGMENT_MAX];
    char result[RESULT_MAX];
};

/* The slot of segment s[0..len), len <= SEGMENT_MAX: NULL when there is no
 * table (it could not be made: the results are not kept). */
static struct icu_result *icu_result_slot(sh_normalizer *n, const char *s, size_t len)
{
    if (!n->icu_results) { /* its zeros written: see sh_normalizer_new */
        n->icu_results = malloc(SEGMENT_CACHE_SLOTS * sizeof *n->icu_results);
        if (!n->icu_results)
            return NULL;
        memset(n->icu_results, 0, SEGMENT_CACHE_SLOTS * sizeof *n->icu_results);
    }
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return &n->icu_results[(h ^ h >> 16) % SEGMENT_CACHE_SLOTS];
}

/* Runs the ICU path on text[start..end) and writes the result. */
static sh_status write_segment_icu(sh_normalizer *n, writer *w, const char *text, size_t start,
                                   size_t end)
{
    sh_status st = ubuf_reserve(&n->u[0], (int32_t)(end - start) + 1);
    if (st != SH_OK)
        return st;
    UErrorCode err = U_ZERO_ERROR;
    int32_t ulen;
    u_strFromUTF8(n->u[0].p, n->u[0].cap, &ulen, text + start, (int32_t)(end - start), &err);
    if (U_FAILURE(err))
        return SH_ERR_BAD_UTF8;
    if ((st = map_utf16(n, ulen)) != SH_OK)
        return st;
    return write_mixed(w, n->mapped.data, n->mapped.len);
}

/* The fast path: writes the code points from text[i] on while each is a BMP
 * code point (one to three bytes) with a computed table entry, a
 * normalisation boundary before it and a simple effect (kept, dropped, a
 * separator, or a replacement without a space), straight into w's buffer.
 * Returns where it stopped: the end, or a code point for the slow path, which
 * starts a new segment there. A code point followed by one that may combine
 * with it (no boundary, or not known) is taken back, so that the slow path
 * sees the two together. ORs the entries of what it wrote into *written.
 *
 * Most code points go through the pair table: one lookup says what to write,
 * and the same few instructions write a letter, a replacement or a
 * separator, with no branch on which it is. The rest take the general step,
 * which decodes the code point and looks at its table entry.
 *
 * The caller leaves room for one byte per byte of text[i..len) and SPAN_ROOM
 * more: a code point's output is at most as long as its input except for a
 * replacement, which is only written while that keeps room for the rest (the
 * slow path, which makes its own room, writes it otherwise). The pending
 * space written on entry takes one byte of SPAN_ROOM. */
#define SPAN_ROOM 8

/* The high bit of each byte of a 64-bit word. */
#define HIGH_BITS UINT64_C(0x8080808080808080)

/* The eight bytes at s as a number, s[0] in the low byte. */
static inline uint64_t load_le64(const unsigned char *s)
{
    uint64_t x;
    memcpy(&x, s, sizeof x);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    return x;
}

/* Writes at *o what pair-table entry pe (in use) says, and moves *o past it.
 * *after_space: whether a separator here writes nothing (see write_span);
 * updated. Stores two bytes and keeps P_OUT_LEN(pe) of them, or none for a
 * separator after a space: the caller has room for two. */
static inline void write_pair_entry(uint32_t pe, char **o, unsigned *after_space)
{
    unsigned separator = pe >> P_SEPARATOR_SHIFT & 1u;
    char *d = *o;
    d[0] = (char)(pe & 0xFFu);
    d[1] = (char)(pe >> 8 & 0xFFu);
    *o = d + P_OUT_LEN(pe) - (separator & *after_space);
    *after_space = separator;
}

static size_t write_span(const sh_normalizer *n, writer *w, const char *text, size_t i, size_t len,
                         uint32_t *written)
{
    const uint32_t *table = n->table, *pair = n->pair;
    const unsigned char *start = (const unsigned char *)text + i, *p = start;
    const unsigned char *end = (const unsigned char *)text + len;
    const bool collapse = w->collapse;
    char *base = w->out->data, *o = base + w->out->len;
    /* Room: o + (end - p) <= limit throughout. */
    const char *limit = base + w->out->cap - SPAN_ROOM;
    /* Inside the loop a pending space is written at once: when separators
     * collapse, the output ends in ' ' exactly when a space is pending (text
     * never holds one), and the ' ' is taken off again on the way out. */
    if (w->pending_space)
        *o++ = ' ';
    /* Does a separator here write nothing? When separators collapse: when
     * the output is empty or ends in ' '. Never otherwise. */
    unsigned after_space = collapse && (o == base || o[-1] == ' ');
    uint32_t acc = 0; /* the entries written, ORed */
    char *o_last = o; /* the output before the last code point written */
    bool take_back = false;
    const unsigned char *next_chunk = p; /* where eight bytes are tried next */
    for (;;) {
        /* Eight bytes at a time while they hold only ASCII and whole two-byte
         * sequences. Finding where a code point starts from the length of
         * the one before makes every step wait for a load; here a mask of
         * where the code points of bytes 0-6 start (bit 7 of their bytes in
         * starts) is made at once, and the steps wait for each other only
         * through o. The test (every continuation byte right after a lead,
         * every lead before one) lets no longer sequence through but for a
         * lead in byte 6 before a continuation byte, which has no pair-table
         * entry. p is where a code point starts (or an invalid byte). */
        while (end - p >= 8 && p >= next_chunk) {
            uint64_t x = load_le64(p);
            uint64_t lead = x & x << 1 & HIGH_BITS; /* 11xxxxxx */
            uint64_t cont = (x & HIGH_BITS) ^ lead; /* 10xxxxxx */
            if (cont != lead << 8) {
                /* A continuation byte that does not follow a lead, or v.v.:
                 * not again over the same bytes (Thai, Han). */
                next_chunk = p + 8;
                break;
            }
            uint64_t starts = ~cont & (HIGH_BITS >> 8);
            const unsigned char *chunk = p;
            do {
                p = chunk + ((unsigned)__builtin_ctzll(starts) >> 3);
                uint32_t pe = pair[PAIR_INDEX(p[0], p[1])];
                if (!pe)
                    goto one_at_a_time;
                o_last = o;
                write_pair_entry(pe, &o, &after_space);
                acc |= pe;
                starts &= starts - 1;
            } while (starts);
            p = chunk + 7 + (cont >> 63); /* byte 7 may continue the code point of byte 6 */
        }
    one_at_a_time:
        /* Code points with a pair-table entry, one after the other while two
         * bytes are left. */
        while (p < end - 1) {
            unsigned index = PAIR_INDEX(p[0], p[1]);
            uint32_t pe = pair[index];
            if (!pe)
                break;
            o_last = o;
            write_pair_entry(pe, &o, &after_space);
            acc |= pe;
            p += 1 + (index >> 7 & 1u); /* an entry in use of a non-ASCII lead has two bytes */
        }
        if (p == end)
            goto stop;

        /* Anything else, one code point at a time: decode up to three bytes
         * and look at the table entry. Runs of three-byte code points (Thai,
         * Han) stay in this loop. */
        do {
            size_t left = (size_t)(end - p);
            unsigned char b = p[0], t = 0;
            UChar32 c;
            size_t width;
            if (b < 0x80) {
                c = b;
                width = 1;
            } else if (b >= 0xC2 && b < 0xE0 && left > 1 && (t = p[1] ^ 0x80) < 0x40) {
                c = (UChar32)(b & 0x1F) << 6 | t;
                width = 2;
            } else if (b >= 0xE0 && b < 0xF0 && left > 2 && (t = p[1] ^ 0x80) < 0x40 &&
                       (p[2] ^ 0x80) < 0x40 &&
                       (c = (UChar32)(b & 0x0F) << 12 | (UChar32)t << 6 | (p[2] ^ 0x80)) >= 0x800 &&
                       !U_IS_SURROGATE(c)) {
                width = 3;
            } else {
                take_back = true; /* invalid, or four bytes: the slow path decodes it */
                goto stop;
            }
            uint32_t e = table[c];
            if ((e & (E_DONE | E_BOUNDARY)) != (E_DONE | E_BOUNDARY) && c >= 0x80) {
                take_back = true;
                goto stop;
            }
            if (!(e & E_DONE))
                goto stop; /* ASCII always has a boundary: nothing to take back */
            if (E_KIND(e) == KIND_MAP &&
                ((e & E_MAP_SPACE) || (size_t)(limit - o) < E_LEN(e) + (left - width)))
                goto stop; /* write_mixed, or more room, in the slow path */
            o_last = o;
            switch (E_KIND(e)) {
            case KIND_KEEP:
                o[0] = (char)b;
                if (width > 1)
                    o[1] = (char)p[1];
                if (width > 2)
                    o[2] = (char)p[2];
                o += width;
                after_space = 0;
                break;
            case KIND_SPACE:
                if (!after_space)
                    *o++ = ' ';
                after_space = collapse;
                break;
            case KIND_MAP:
                memcpy(o, n->pool.data + E_OFF(e), E_LEN(e));
                o += E_LEN(e);
                after_space = 0;
                break;
            default: break; /* KIND_DROP */
            }
            acc |= e;
            p += width;
        } while (p < end && (*p & 0xF0) == 0xE0);
    }
stop:
    if (take_back && p > start) {
        /* The code point before p, valid UTF-8, starts at its lead byte. */
        do
            p--;
        while ((*p & 0xC0) == 0x80);
        o = o_last;
    }
    w->pending_space = collapse && o > base && o[-1] == ' ';
    if (w->pending_space)
        o--;
    w->out->len = (size_t)(o - base);
    *written |= acc;
    return (size_t)(p - (const unsigned char *)text);
}

/* Decodes the code point at text[*i] into *c, moving *i past it, and looks
 * up its entry into *e. */
static inline sh_status decode_and_look_up(sh_normalizer *n, const char *text, size_t *i,
                                           size_t len, UChar32 *c, uint32_t *e)
{
    sh_status st = SH_OK;
    if ((*c = decode_next(text, i, len)) < 0)
        return SH_ERR_BAD_UTF8;
    *e = lookup(n, *c, &st);
    return st;
}

/* The slow path: writes the segment that starts at text[*i] (a code point
 * and the ones that combine with it) and moves *i past it. */
static sh_status write_segment(sh_normalizer *n, writer *w, const char *text, size_t *i,
                               size_t len, uint32_t *written, bool keep_results)
{
    size_t start = *i, ci = start;
    UChar32 c;
    uint32_t e;
    sh_status st = decode_and_look_up(n, text, &ci, len, &c, &e);
    if (st != SH_OK)
        return st;
    size_t end = ci;
    while (end < len) {
        size_t di = end;
        UChar32 d;
        uint32_t de;
        if ((st = decode_and_look_up(n, text, &di, len, &d, &de)) != SH_OK)
            return st;
        if (de & E_BOUNDARY)
            break;
        end = di;
    }
    *i = end;
    if (end != ci || c > 0xFFFF) {
        size_t seg_len = end - start;
        struct icu_result *kept =
            keep_results && seg_len <= SEGMENT_MAX ? icu_result_slot(n, text + start, seg_len)
                                                   : NULL;
        if (kept && kept->segment_len == seg_len && !memcmp(kept->segment, text + start, seg_len)) {
            if (kept->word_rules)
                *written |= E_WORD_RULES;
            return write_mixed(w, kept->result, kept->result_len);
        }
        if ((st = write_segment_icu(n, w, text, start, end)) != SH_OK)
            return st;
        bool word_rules = text_needs_word_rules(n->mapped.data, n->mapped.len);
        if (word_rules)
            *written |= E_WORD_RULES;
        if (kept && n->mapped.len <= RESULT_MAX) {
            kept->segment_len = (uint8_t)seg_len;
            memcpy(kept->segment, text + start, seg_len);
            kept->result_len = (uint8_t)n->mapped.len;
            memcpy(kept->result, n->mapped.data, n->mapped.len);
            kept->word_rules = word_rules;
        }
        return SH_OK;
    }
    *written |= e;
    switch (E_KIND(e)) {
    case KIND_KEEP: return write_text(w, text + start, end - start);
    case KIND_SPACE: return write_space(w);
    case KIND_MAP: return write_mixed(w, n->pool.data + E_OFF(e), E_LEN(e));
    default: return SH_OK;
    }
}

/* sh_normalize, with the fast path (fast) or with every segment through the
 * slow path (sh_normalize_reference). */
static sh_status normalize(sh_normalizer *n, const char *text, size_t len, sh_buf *out, bool fast)
{
    out->len = 0;
    n->spaced = false;
    if (sh_buf_reserve(out, len + SPAN_ROOM) != SH_OK)
        return SH_ERR_NOMEM;
    out->data[0] = '\0';
    if (len > INT32_MAX)
        return SH_ERR_TOO_LONG;

    writer w = {out, n->opt.collapse_space, false};
    sh_status st = SH_OK;
    uint32_t written = 0; /* E_WORD_RULES of everything written */
    size_t i = 0;
    while (i < len) {
        if (fast) {
            if ((st = sh_buf_reserve(out, len - i + SPAN_ROOM)) != SH_OK)
                goto done;
            i = write_span(n, &w, text, i, len, &written);
        }
        if (i < len && (st = write_segment(n, &w, text, &i, len, &written, fast)) != SH_OK)
            goto done;
    }
    n->spaced = w.collapse && !(written & E_WORD_RULES);
done:
    if (st != SH_OK)
        out->len = 0;
    out->data[out->len] = '\0';
    return st;
}

sh_status sh_normalize(sh_normalizer *n, const char *text, size_t len, sh_buf *out)
{
    return normalize(n, text, len, out, true);
}

sh_status sh_normalize_reference(sh_normalizer *n, const char *text, size_t len, sh_buf *out)
{
    return normalize(n, text, len, out, false);
}
