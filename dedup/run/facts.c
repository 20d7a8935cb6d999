/*
 * facts.c - a document's facts as bytes, and back (facts.h).
 *
 * Every number is written little-endian, whatever the machine, so that a
 * part file signed on one node is read the same on another. A document's
 * facts are, in order:
 *   status (1 byte), why it is not text (1 byte: 0 none, 1 invalid UTF-8,
 *   2 NUL byte), its offset and line (8 + 8), the malformed record's reason
 *   (4 + bytes), digest (8), size (8), messages (4 + bytes),
 *   units (8: n), each unit: off, len, first_line, last_line, first_word
 *   (8 each), words (4), line_end (1), bom (1), key (16);
 *   the units' sets: hashes (8: n, then 8 each), starts (n units + 1, 8
 *   each); their band keys (DD_NEAR_UNIT_BANDS per unit, 8 each);
 *   near-repeats inside (8: n), each: doc, of_doc (4 + 4, less the
 *   document's own number, so that facts do not depend on where the
 *   document stands among the inputs: 0), unit, of (8 + 8), jaccard,
 *   containment (8 + 8, IEEE bits), alternative (1);
 *   the signature: key (16), words, shingles (4 + 4), simhash (8), and
 *   num_perm MinHash values (4 each).
 */
#include "run/facts.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- writing */

static void put(sh_buf *out, const void *p, size_t n)
{
    dd_grow(&out->data, &out->cap, out->len + n + 1, 1); /* exits when out of memory */
    if (n)
        memcpy(out->data + out->len, p, n);
    out->len += n;
    out->data[out->len] = '\0';
}

static void put_u8(sh_buf *out, uint8_t v) { put(out, &v, 1); }

static void put_u32(sh_buf *out, uint32_t v)
{
    unsigned char b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put(out, b, 4);
}

static void put_u64(sh_buf *out, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put(out, b, 8);
}

static void put_double(sh_buf *out, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    put_u64(out, v);
}

static void put_bytes(sh_buf *out, const char *s, size_t n)
{
    put_u32(out, (uint32_t)n);
    put(out, s, n);
}

static void put_key(sh_buf *out, sh_key k)
{
    put_u64(out, k.lo);
    put_u64(out, k.hi);
}

void dd_analysed_clear(dd_analysed *r)
{
    sh_buf_free(&r->text);
    dd_doc_free(&r->doc);
    dd_unit_sets_free(&r->sets);
    free(r->band_keys);
    free(r->near.v);
    dd_signed_free(&r->sig);
    sh_buf_free(&r->said);
    free(r->across_err);
    sh_buf messages = r->run.messages;
    memset(r, 0, sizeof *r);
    r->run.messages = messages;
}

size_t dd_facts_encode(const dd_analysed *r, uint32_t doc, const sh_buf *said, size_t num_perm,
                       sh_buf *out)
{
    size_t start = out->len;
    put_u8(out, (uint8_t)r->status);
    const char *why = r->bad.why;
    put_u8(out, !why ? 0 : !strcmp(why, "invalid UTF-8") ? 1 : 2);
    put_u64(out, r->bad.offset);
    put_u64(out, r->bad.line);
    put_bytes(out, r->bad.malformed, strnlen(r->bad.malformed, sizeof r->bad.malformed));
    put_u64(out, r->digest);
    put_u64(out, r->size);
    put_bytes(out, said->data, said->len);
    bool analysed = r->status == DD_LOAD_TEXT || r->status == DD_LOAD_BINARY;
    size_t nunits = analysed ? r->doc.nunits : 0;
    put_u64(out, nunits);
    for (size_t u = 0; u < nunits; u++) {
        const dd_unit *x = &r->doc.units[u];
        put_u64(out, x->off);
        put_u64(out, x->len);
        put_u64(out, x->first_line);
        put_u64(out, x->last_line);
        put_u64(out, x->first_word);
        put_u32(out, x->words);
        put_u8(out, x->line_end);
        put_u8(out, x->bom);
        put_key(out, x->key);
    }
    size_t nhashes = nunits ? r->sets.start[nunits] : 0;
    put_u64(out, nhashes);
    size_t sets_at = out->len - start;
    for (size_t i = 0; i < nhashes; i++)
        put_u64(out, r->sets.hashes[i]);
    for (size_t u = 0; nunits && u <= nunits; u++)
        put_u64(out, r->sets.start[u]);
    for (size_t u = 0; u < nunits; u++)
        for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++) /* short units have none */
            put_u64(out, r->doc.units[u].words < DD_NEAR_UNIT_ACROSS_MIN_WORDS
                             ? 0
                             : r->band_keys[u * DD_NEAR_UNIT_BANDS + b]);
    size_t nnear = analysed ? r->near.n : 0;
    put_u64(out, nnear);
    for (size_t i = 0; i < nnear; i++) {
        const dd_near_unit *x = &r->near.v[i];
        put_u32(out, x->doc - doc); /* 0: near-repeats inside are its own */
        put_u32(out, x->of_doc - doc);
        put_u64(out, x->unit);
        put_u64(out, x->of);
        put_double(out, x->jaccard);
        put_double(out, x->containment);
        put_u8(out, x->alternative);
    }
    put_key(out, analysed ? r->sig.doc.key : (sh_key){0, 0});
    put_u32(out, analysed ? r->sig.doc.words : 0);
    put_u32(out, analysed ? r->sig.doc.shingles : 0);
    put_u64(out, analysed ? r->sig.simhash : 0);
    for (size_t i = 0; i < num_perm; i++)
        put_u32(out, analysed && r->sig.minhash ? r->sig.minhash[i] : 0);
    return sets_at;
}

/* ------------------------------------------------------------- reading */

typedef struct cursor {
    const unsigned char *p, *end;
    bool bad; /* read past the end */
} cursor;

static const unsigned char *take(cursor *c, size_t n)
{
    if (c->bad || (size_t)(c->end - c->p) < n) {
        c->bad = true;
        return NULL;
    }
    const unsigned char *at = c->p;
    c->p += n;
    return at;
}

static uint8_t get_u8(cursor *c)
{
    const unsigned char *b = take(c, 1);
    return b ? b[0] : 0;
}

static uint32_t get_u32(cursor *c)
{
    const unsigned char *b = take(c, 4);
    uint32_t v = 0;
    for (int i = 0; b && i < 4; i++)
        v |= (uint32_t)b[i] << (8 * i);
    return v;
}

static uint64_t get_u64(cursor *c)
{
    const unsigned char *b = take(c, 8);
    uint64_t v = 0;
    for (int i = 0; b && i < 8; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static double get_double(cursor *c)
{
    uint64_t v = get_u64(c);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

static sh_key get_key(cursor *c)
{
    sh_key k;
    k.lo = get_u64(c);
    k.hi = get_u64(c);
    return k;
}

/* A count of items of at least `size` bytes each that the rest can hold. */
static size_t get_count(cursor *c, size_t size)
{
    uint64_t n = get_u64(c);
    if (c->bad || n > (uint64_t)(c->end - c->p) / size) {
        c->bad = true;
        return 0;
    }
    return (size_t)n;
}

/* Whether messages are what dedup writes: lines of valid UTF-8 with no
 * control character but the tab (no terminal escape, C0 or C1). */
static bool messages_ok(const unsigned char *s, size_t n)
{
    if (n && s[n - 1] != '\n')
        return false;
    if (sh_utf8_check((const char *)s, n) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if ((s[i] < 0x20 && s[i] != '\n' && s[i] != '\t') || s[i] == 0x7f)
            return false;
        if (s[i] == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
            return false; /* U+0080..U+009F */
    }
    return true;
}

/* Reads the units of a document of size bytes: each inside the text and
 * after the one before it (bytes, lines and words), at least one word. */
static bool get_units(cursor *c, uint64_t size, dd_doc *doc)
{
    size_t nunits = get_count(c, 54);
    dd_grow(&doc->units, &doc->units_cap, nunits + 1, sizeof *doc->units);
    doc->nunits = nunits;
    uint64_t next_off = 0, next_line = 1, next_word = 0;
    for (size_t u = 0; u < nunits; u++) {
        dd_unit *x = &doc->units[u];
        uint64_t off = get_u64(c), len = get_u64(c), first_line = get_u64(c),
                 last_line = get_u64(c), first_word = get_u64(c);
        uint32_t words = get_u32(c);
        uint8_t line_end = get_u8(c), bom = get_u8(c);
        x->key = get_key(c);
        if (c->bad || off < next_off || off > size || len > size - off || line_end > 2 ||
            line_end > size - off - len || (bom != 0 && bom != 3) || first_line < next_line ||
            last_line < first_line || last_line - 1 > size || words == 0 ||
            first_word < next_word || first_word > size || words > size - first_word)
            return false;
        x->off = (size_t)off;
        x->len = (size_t)len;
        x->first_line = (size_t)first_line;
        x->last_line = (size_t)last_line;
        x->first_word = (size_t)first_word;
        x->words = words;
        x->line_end = line_end;
        x->bom = bom;
        next_off = off + len;
        next_line = last_line + 1;
        next_word = first_word + words;
    }
    return true;
}

/* Reads the units' shingle sets: n + 1 starts, in order, from 0 to the
 * number of hashes. */
static bool get_sets(cursor *c, size_t nunits, dd_unit_sets *sets)
{
    size_t nhashes = get_count(c, 8);
    if (!nunits && nhashes)
        return false;
    dd_grow(&sets->hashes, &sets->hashes_cap, nhashes + 1, sizeof *sets->hashes);
    dd_grow(&sets->start, &sets->start_cap, nunits + 1, sizeof *sets->start);
    for (size_t i = 0; i < nhashes; i++)
        sets->hashes[i] = get_u64(c);
    sets->start[0] = 0;
    for (size_t u = 0; nunits && u <= nunits; u++) {
        uint64_t start = get_u64(c);
        if (start > nhashes || (u && start < sets->start[u - 1]) || (u == 0 && start != 0))
            return false;
        sets->start[u] = (size_t)start;
    }
    return !c->bad && (!nunits || sets->start[nunits] == nhashes);
}

/* Reads the near-repeats inside document doc of nunits units: each names
 * doc (written as 0, relative to it), a unit and an earlier one, and
 * fractions from 0 to 1. */
static bool get_near(cursor *c, uint32_t doc, size_t nunits, dd_near_unit_list *near)
{
    size_t nnear = get_count(c, 41);
    dd_grow(&near->v, &near->cap, nnear + 1, sizeof *near->v);
    near->n = nnear;
    for (size_t i = 0; i < nnear; i++) {
        dd_near_unit *x = &near->v[i];
        uint32_t from_doc = get_u32(c), of_doc = get_u32(c);
        uint64_t unit = get_u64(c), of = get_u64(c);
        x->jaccard = get_double(c);
        x->containment = get_double(c);
        uint8_t alternative = get_u8(c);
        /* Written as the negations, so that NaN is refused too. */
        if (c->bad || from_doc != 0 || of_doc != 0 || unit >= nunits || of >= unit ||
            !(x->jaccard >= 0 && x->jaccard <= 1) ||
            !(x->containment >= 0 && x->containment <= 1) || alternative != 0)
            return false;
        x->doc = x->of_doc = doc;
        x->unit = (size_t)unit;
        x->of = (size_t)of;
        x->alternative = false;
    }
    return true;
}

bool dd_facts_decode(const char *bytes, size_t len, size_t num_perm, uint32_t doc, dd_analysed *r)
{
    cursor c = {(const unsigned char *)bytes, (const unsigned char *)bytes + len, false};
    uint8_t status = get_u8(&c);
    uint8_t why = get_u8(&c);
    if (status > DD_LOAD_FAILED || why > 2)
        return false;
    r->status = (dd_load_status)status;
    memset(&r->bad, 0, sizeof r->bad);
    r->bad.why = why == 0 ? NULL : why == 1 ? "invalid UTF-8" : "NUL byte";
    r->bad.offset = get_u64(&c);
    r->bad.line = get_u64(&c);
    uint32_t n = get_u32(&c);
    const unsigned char *s = n < sizeof r->bad.malformed ? take(&c, n) : NULL;
    if (!s || memchr(s, '\0', n))
        return false;
    memcpy(r->bad.malformed, s, n);
    r->digest = get_u64(&c);
    r->size = get_u64(&c);
    uint32_t said_len = get_u32(&c);
    const unsigned char *said = take(&c, said_len);
    if (!said || !messages_ok(said, said_len))
        return false;
    bool analysed = r->status == DD_LOAD_TEXT || r->status == DD_LOAD_BINARY;
    dd_doc *d = &r->doc;
    if (!get_units(&c, r->size, d) || (!analysed && d->nunits) ||
        !get_sets(&c, d->nunits, &r->sets))
        return false;
    dd_grow(&r->band_keys, &r->band_keys_cap, d->nunits * DD_NEAR_UNIT_BANDS + 1,
            sizeof *r->band_keys);
    for (size_t i = 0; i < d->nunits * DD_NEAR_UNIT_BANDS; i++) {
        r->band_keys[i] = get_u64(&c);
        if (r->band_keys[i] &&
            d->units[i / DD_NEAR_UNIT_BANDS].words < DD_NEAR_UNIT_ACROSS_MIN_WORDS)
            return false; /* short units have none */
    }
    if (!get_near(&c, doc, d->nunits, &r->near))
        return false;
    r->sig.doc.key = get_key(&c);
    r->sig.doc.words = get_u32(&c);
    r->sig.doc.shingles = get_u32(&c);
    r->sig.simhash = get_u64(&c);
    bool zero = !r->sig.doc.key.lo && !r->sig.doc.key.hi && !r->sig.doc.words &&
                !r->sig.doc.shingles && !r->sig.simhash;
    if (r->sig.doc.words > r->size || (!analysed && !zero))
        return false;
    if (num_perm)
        dd_grow(&r->sig.minhash, &r->sig.minhash_cap, num_perm, sizeof *r->sig.minhash);
    for (size_t i = 0; i < num_perm; i++)
        if ((r->sig.minhash[i] = get_u32(&c)) && !analysed)
            return false;
    if (c.bad || c.p != c.end)
        return false;
    put(&r->run.messages, (const char *)said, said_len); /* only of facts taken */
    return true;
}

size_t dd_facts_signature_bytes(size_t num_perm) { return 32 + 4 * num_perm; }

bool dd_facts_decode_signature(const unsigned char *b, size_t num_perm, dd_signed *sig)
{
    cursor c = {b, b + dd_facts_signature_bytes(num_perm), false};
    sig->doc.key = get_key(&c);
    sig->doc.words = get_u32(&c);
    sig->doc.shingles = get_u32(&c);
    sig->simhash = get_u64(&c);
    if (num_perm)
        dd_grow(&sig->minhash, &sig->minhash_cap, num_perm, sizeof *sig->minhash);
    for (size_t i = 0; i < num_perm; i++)
        sig->minhash[i] = get_u32(&c);
    return !c.bad && sig->doc.words > 0;
}
