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
 *   near-repeats inside (8: n), each: doc, of_doc (4 + 4), unit, of (8 +
 *   8), jaccard, containment (8 + 8, IEEE bits), alternative (1);
 *   the signature: key (16), words, shingles (4 + 4), simhash (8), and
 *   num_perm MinHash values (4 each).
 */
#include "run/facts.h"

#include "util.h"

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

void dd_facts_encode(const dd_analysed *r, const sh_buf *said, size_t num_perm, sh_buf *out)
{
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
        put_u32(out, x->doc);
        put_u32(out, x->of_doc);
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

bool dd_facts_decode(const char *bytes, size_t len, size_t num_perm, dd_analysed *r)
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
    if (!s)
        return false;
    memcpy(r->bad.malformed, s, n);
    r->digest = get_u64(&c);
    r->size = get_u64(&c);
    n = get_u32(&c);
    if (!(s = take(&c, n)))
        return false;
    put(&r->run.messages, (const char *)s, n);
    size_t nunits = get_count(&c, 54);
    dd_doc *doc = &r->doc;
    dd_grow(&doc->units, &doc->units_cap, nunits + 1, sizeof *doc->units);
    doc->nunits = nunits;
    for (size_t u = 0; u < nunits; u++) {
        dd_unit *x = &doc->units[u];
        x->off = get_u64(&c);
        x->len = get_u64(&c);
        x->first_line = get_u64(&c);
        x->last_line = get_u64(&c);
        x->first_word = get_u64(&c);
        x->words = get_u32(&c);
        x->line_end = get_u8(&c);
        x->bom = get_u8(&c);
        x->key = get_key(&c);
    }
    size_t nhashes = get_count(&c, 8);
    dd_unit_sets *sets = &r->sets;
    dd_grow(&sets->hashes, &sets->hashes_cap, nhashes + 1, sizeof *sets->hashes);
    dd_grow(&sets->start, &sets->start_cap, nunits + 1, sizeof *sets->start);
    for (size_t i = 0; i < nhashes; i++)
        sets->hashes[i] = get_u64(&c);
    sets->start[0] = 0;
    for (size_t u = 0; nunits && u <= nunits; u++) {
        sets->start[u] = get_u64(&c);
        if (sets->start[u] > nhashes || (u && sets->start[u] < sets->start[u - 1]))
            return false;
    }
    if (nunits && (sets->start[0] != 0 || sets->start[nunits] != nhashes))
        return false;
    dd_grow(&r->band_keys, &r->band_keys_cap, nunits * DD_NEAR_UNIT_BANDS + 1,
            sizeof *r->band_keys);
    for (size_t i = 0; i < nunits * DD_NEAR_UNIT_BANDS; i++)
        r->band_keys[i] = get_u64(&c);
    size_t nnear = get_count(&c, 41);
    dd_grow(&r->near.v, &r->near.cap, nnear + 1, sizeof *r->near.v);
    r->near.n = nnear;
    for (size_t i = 0; i < nnear; i++) {
        dd_near_unit *x = &r->near.v[i];
        x->doc = get_u32(&c);
        x->of_doc = get_u32(&c);
        x->unit = get_u64(&c);
        x->of = get_u64(&c);
        x->jaccard = get_double(&c);
        x->containment = get_double(&c);
        x->alternative = get_u8(&c) != 0;
    }
    r->sig.doc.key = get_key(&c);
    r->sig.doc.words = get_u32(&c);
    r->sig.doc.shingles = get_u32(&c);
    r->sig.simhash = get_u64(&c);
    if (num_perm)
        dd_grow(&r->sig.minhash, &r->sig.minhash_cap, num_perm, sizeof *r->sig.minhash);
    for (size_t i = 0; i < num_perm; i++)
        r->sig.minhash[i] = get_u32(&c);
    return !c.bad && c.p == c.end;
}
