/*
 * near.c - signatures, LSH banding, SimHash block search, clustering.
 */
#include "engine/near.h"

#include "engine/capped_map.h"
#include "key_table.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

void dd_near_params_default(dd_near_params *p)
{
    memset(p, 0, sizeof *p);
    p->enabled = true;
    p->method = DD_METHOD_MINHASH;
    p->threshold = 0.8;
    p->containment = 0.8;
    p->recall = 0.99;
    p->size_ratio = 2.5;
    p->min_shingles = 50;
    p->ngram = 5;
    p->num_perm = 128;
    p->hamming = 3;
    p->keep = DD_KEEP_FIRST;
    p->verify_exact = true;
}

double dd_near_target_jaccard(const dd_near_params *p)
{
    double t = p->threshold;
    if (p->containment > 0) {
        double c = p->containment / (1 + p->size_ratio - p->containment);
        if (c < t)
            t = c;
    }
    return t;
}

double dd_lsh_probability(double j, unsigned long bands, unsigned long rows)
{
    return 1 - pow(1 - pow(j, (double)rows), (double)bands);
}

bool dd_near_params_check(dd_near_params *p, dd_notes *notes)
{
    if (p->bands && p->rows && p->bands * p->rows > p->num_perm) {
        dd_note_add(notes, DD_NOTE_ERROR, "--bands %lu x --rows %lu = %lu is more than --num-perm %lu",
                p->bands, p->rows, p->bands * p->rows, p->num_perm);
        return false;
    }
    if (p->rows && !p->bands)
        p->bands = p->num_perm / p->rows;
    if (p->bands && !p->rows) {
        p->rows = p->num_perm / p->bands;
        if (p->rows == 0) {
            dd_note_add(notes, DD_NOTE_ERROR, "--bands %lu is more than --num-perm %lu", p->bands,
                    p->num_perm);
            return false;
        }
    }
    if (!p->bands) {
        double t = dd_near_target_jaccard(p);
        p->rows = 1;
        for (unsigned long r = p->num_perm; r >= 1; r--) {
            if (dd_lsh_probability(t, p->num_perm / r, r) >= p->recall) {
                p->rows = r;
                break;
            }
        }
        p->bands = p->num_perm / p->rows;
        double got = dd_lsh_probability(t, p->bands, p->rows);
        if (got < p->recall)
            dd_note_add(notes, DD_NOTE_WARNING,
                    "no bands reach --recall %g at the candidate target jaccard %.3f with "
                    "--num-perm %lu: the best, %lu x %lu, gives %.4f (raise --num-perm, or lower "
                    "--size-ratio or --recall)",
                    p->recall, t, p->num_perm, p->bands, p->rows, got);
    }
    return true;
}

/* ------------------------------------------------------------ signatures */

bool dd_signatures_init(dd_signatures *s, const dd_near_params *p, const sh_hasher *hash,
                        dd_notes *notes)
{
    memset(s, 0, sizeof *s);
    s->params = *p;
    s->max_in_memory = SIZE_MAX;
    if (p->method == DD_METHOD_MINHASH) {
        sh_status st;
        s->minhasher =
            sh_minhasher_new_scheme((unsigned)p->num_perm, hash->seed, DD_MINHASH_SCHEME, &st);
        if (!s->minhasher) {
            dd_note_add(notes, DD_NOTE_ERROR, "cannot make the MinHash functions: %s",
                    sh_status_str(st));
            return false;
        }
    }
    return true;
}

void dd_signatures_free(dd_signatures *s)
{
    sh_minhasher_free(s->minhasher);
    free(s->docs);
    dd_room_resize(s->minhash, s->minhash_room, 0);
    free(s->simhash);
    free(s->scratch);
    free(s->link_start);
    free(s->links);
    memset(s, 0, sizeof *s);
}

void dd_signatures_keep_minhash(dd_signatures *s, size_t max_bytes, dd_minhash_store store)
{
    s->max_in_memory = max_bytes / (s->params.num_perm * sizeof *s->minhash);
    s->store = store;
}

const uint32_t *dd_signature_minhash(const dd_signatures *s, size_t d, uint32_t *out)
{
    if (d < s->max_in_memory)
        return s->minhash + d * s->params.num_perm;
    s->store.get(s->store.ctx, d - s->max_in_memory, out);
    return out;
}

void dd_signature_set_minhash(dd_signatures *s, size_t d, const uint32_t *values)
{
    if (d < s->max_in_memory)
        memcpy(s->minhash + d * s->params.num_perm, values,
               s->params.num_perm * sizeof *s->minhash);
    else
        s->store.set(s->store.ctx, d - s->max_in_memory, values);
}

size_t dd_signatures_minhash_bytes(const dd_signatures *s)
{
    size_t docs = s->cap < s->max_in_memory ? s->cap : s->max_in_memory;
    return s->minhash ? docs * s->params.num_perm * sizeof *s->minhash : 0;
}

/* Sizes the per-document arrays for cap documents in all. */
static void resize(dd_signatures *s, size_t cap)
{
    s->docs = dd_realloc(s->docs, cap * sizeof *s->docs);
    if (s->params.method == DD_METHOD_SIMHASH)
        s->simhash = dd_realloc(s->simhash, cap * sizeof *s->simhash);
    else if (s->cap < s->max_in_memory) {
        size_t docs = cap < s->max_in_memory ? cap : s->max_in_memory;
        /* A room (util.h): 8 MB for the news, 512 bytes a document at
         * the default 128 values, faulted in huge pages. */
        size_t bytes = docs * s->params.num_perm * sizeof *s->minhash;
        s->minhash = dd_room_resize(s->minhash, s->minhash_room, bytes);
        s->minhash_room = bytes;
    }
    s->cap = cap;
}

void dd_signatures_reserve(dd_signatures *s, size_t n)
{
    if (n > s->cap)
        resize(s, n);
}

/* Makes room for one more document: its place in docs, and for MinHash
 * values in memory, while they stay there. */
static size_t next_slot(dd_signatures *s)
{
    if (s->n == s->cap)
        resize(s, s->cap ? s->cap * 2 : 1024);
    return s->n++;
}

/* Keeps values as the MinHash values of document i, the last added: in
 * memory, or past max_in_memory in the store. */
static bool keep_minhash(dd_signatures *s, size_t i, const uint32_t *values, char **err)
{
    if (i < s->max_in_memory) {
        memcpy(s->minhash + i * s->params.num_perm, values,
               s->params.num_perm * sizeof *s->minhash);
        return true;
    }
    return s->store.append(s->store.ctx, values, err);
}

size_t dd_shingle_set(const sh_tokens *words, unsigned k, const sh_hasher *hash, uint64_t **set,
                      size_t *cap)
{
    size_t n = sh_shingle_count(words->n, k);
    dd_grow(set, cap, n + 1, sizeof **set);
    n = sh_shingles(words, 0, words->n, k, hash, *set);
    return sh_hashes_unique(*set, n);
}

/* The signature of a document of words and key: its dd_doc_sig, and its
 * MinHash values (num_perm of them, to minhash) or SimHash fingerprint (to
 * *simhash); the distinct shingles go to *scratch (growing it). */
static void sign(const dd_near_params *p, const sh_minhasher *minhasher, const sh_tokens *words,
                 sh_key key, const sh_hasher *hash, uint64_t **scratch, size_t *scratch_cap,
                 dd_doc_sig *doc, uint32_t *minhash, uint64_t *simhash)
{
    size_t n = 0;
    if (p->enabled)
        n = dd_shingle_set(words, (unsigned)p->ngram, hash, scratch, scratch_cap);
    doc->key = key;
    doc->words = words->n > UINT32_MAX ? UINT32_MAX : (uint32_t)words->n;
    doc->shingles = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    if (!p->enabled)
        return;
    if (p->method == DD_METHOD_MINHASH)
        sh_minhash(minhasher, *scratch, n, minhash);
    else
        *simhash = sh_simhash(*scratch, n);
}

void dd_signatures_add(dd_signatures *s, const sh_tokens *words, sh_key key, const sh_hasher *hash)
{
    size_t i = next_slot(s);
    sign(&s->params, s->minhasher, words, key, hash, &s->scratch, &s->scratch_cap, &s->docs[i],
         s->minhash ? s->minhash + i * s->params.num_perm : NULL,
         s->simhash ? &s->simhash[i] : NULL);
}

bool dd_signer_init(dd_signer *g, const dd_near_params *p, const sh_hasher *hash,
                    dd_notes *notes)
{
    dd_signatures s;
    if (!dd_signatures_init(&s, p, hash, notes))
        return false;
    *g = (dd_signer){.params = *p, .minhasher = s.minhasher};
    return true;
}

void dd_signer_free(dd_signer *g)
{
    sh_minhasher_free(g->minhasher);
    free(g->scratch);
    memset(g, 0, sizeof *g);
}

void dd_signer_sign(dd_signer *g, const sh_tokens *words, sh_key key, const sh_hasher *hash,
                    dd_signed *out)
{
    if (g->params.method == DD_METHOD_MINHASH)
        dd_grow(&out->minhash, &out->minhash_cap, g->params.num_perm, sizeof *out->minhash);
    sign(&g->params, g->minhasher, words, key, hash, &g->scratch, &g->scratch_cap, &out->doc,
         out->minhash, &out->simhash);
}

void dd_signed_free(dd_signed *sig)
{
    free(sig->minhash);
    memset(sig, 0, sizeof *sig);
}

bool dd_signatures_add_signed(dd_signatures *s, const dd_signed *sig, char **err)
{
    size_t i = next_slot(s);
    s->docs[i] = sig->doc;
    if (!s->params.enabled)
        return true;
    if (s->params.method == DD_METHOD_SIMHASH) {
        s->simhash[i] = sig->simhash;
        return true;
    }
    if (keep_minhash(s, i, sig->minhash, err))
        return true;
    s->n--;
    return false;
}

bool dd_signatures_add_missing(dd_signatures *s, char **err)
{
    size_t i = next_slot(s);
    memset(&s->docs[i], 0, sizeof s->docs[i]);
    if (s->params.method == DD_METHOD_SIMHASH) {
        s->simhash[i] = 0;
        return true;
    }
    uint32_t none[SH_MINHASH_MAX_PERM];
    memset(none, 0xFF, s->params.num_perm * sizeof *none);
    if (!s->params.enabled || keep_minhash(s, i, none, err))
        return true;
    s->n--;
    return false;
}

/* ---------------------------------------------------- the candidate index */

size_t dd_keys_of_signature(const dd_near_params *p, const uint32_t *minhash, uint64_t simhash,
                            uint64_t *keys)
{
    if (p->method == DD_METHOD_MINHASH) {
        for (unsigned long b = 0; b < p->bands; b++)
            keys[b] = XXH3_64bits_withSeed(minhash + b * p->rows, p->rows * sizeof *minhash, b);
        return p->bands;
    }
    unsigned long blocks = p->hamming + 1, width = 64 / blocks;
    uint64_t fp = simhash;
    for (unsigned long b = 0; b < blocks; b++) {
        unsigned long lo = b * width, bits = b + 1 == blocks ? 64 - lo : width;
        uint64_t v = (fp >> lo) & (bits == 64 ? ~0ULL : ((1ULL << bits) - 1));
        keys[b] = XXH3_64bits_withSeed(&v, sizeof v, b);
    }
    return blocks;
}

/* The band keys (MinHash) or block keys (SimHash) of document d. */
static size_t index_keys(const dd_signatures *s, size_t d, uint64_t *keys)
{
    const dd_near_params *p = &s->params;
    uint32_t values[SH_MINHASH_MAX_PERM];
    const uint32_t *sig =
        p->method == DD_METHOD_MINHASH ? dd_signature_minhash(s, d, values) : NULL;
    return dd_keys_of_signature(p, sig, p->method == DD_METHOD_MINHASH ? 0 : s->simhash[d], keys);
}

size_t dd_signature_keys(const dd_signatures *s, size_t d, uint64_t *keys)
{
    return index_keys(s, d, keys);
}

/*
 * The second key of document d in band (or SimHash block) b, whose key is
 * key: where the placer lists d, and looks d's candidates up, once the
 * bucket of key is full (DD_BUCKET_CAP), so that a hot bucket is split into
 * sub-buckets instead of leaving the later documents out. A hash, seeded by
 * key (the sub-buckets of one bucket), of as many values as a band has,
 * none of band b's (which every document of the bucket shares) and not all
 * of one other band's (that sub-bucket would repeat that band's bucket):
 * the values no band uses when there are enough of them, else a band
 * shifted by half (the second half of band b+1 and the first half of band
 * b+2, wrapping round; with one row a band and every value used, band
 * b+1's value). A pair shares it about as often as it shares a band, so
 * when every bucket a copy shares with its original is full, the
 * sub-buckets still find it about as often as the bands would have.
 * SimHash: the bits of block b+1 shifted by half a block.
 */
static uint64_t second_key(const dd_signatures *s, size_t d, size_t b, uint64_t key)
{
    const dd_near_params *p = &s->params;
    if (p->method == DD_METHOD_MINHASH) {
        uint32_t values[SH_MINHASH_MAX_PERM];
        const uint32_t *sig = dd_signature_minhash(s, d, values);
        size_t rows = p->rows, used = p->bands * p->rows, spare = p->num_perm - used;
        if (spare >= rows) {
            size_t start = used + (b * rows) % (spare - rows + 1);
            return XXH3_64bits_withSeed(sig + start, rows * sizeof *sig, key);
        }
        size_t start = ((b + 1) * rows + rows / 2) % used;
        size_t first = used - start < rows ? used - start : rows; /* up to the end of the bands */
        uint64_t h = XXH3_64bits_withSeed(sig + start, first * sizeof *sig, key);
        return first < rows ? XXH3_64bits_withSeed(sig, (rows - first) * sizeof *sig, h) : h;
    }
    unsigned long blocks = p->hamming + 1, width = 64 / blocks;
    unsigned shift = (unsigned)(((b + 1) * width + width / 2) % 64);
    uint64_t fp = s->simhash[d], turned = shift ? fp >> shift | fp << (64 - shift) : fp;
    uint64_t v = turned & (width == 64 ? ~0ULL : ((1ULL << width) - 1));
    return XXH3_64bits_withSeed(&v, sizeof v, key);
}

uint64_t dd_near_second_key(const dd_signatures *s, size_t d, size_t b, uint64_t key)
{
    return second_key(s, d, b, key);
}

/* ------------------------------------------------------ shared keys */

size_t dd_near_keys_per_doc(const dd_near_params *p)
{
    return p->method == DD_METHOD_MINHASH ? p->bands : p->hamming + 1;
}

/* A key's place in the filter: a word (its low bits) and FILTER_BITS bits of
 * it (6 bits each of its top ones; keys are hashes: any of their bits
 * will do). A key whose every bit is set twice may be shared. With one bit
 * a key, 1 in 8.5 of the keys no other document has seemed shared (8 bits
 * a key); with 4 in one word, 1 in 30: a third fewer entries in the
 * placer's index (on the 100 MB corpus, 78,315 entries of which 48,649
 * truly shared), in one memory access as before. */
#define FILTER_BITS 4

typedef struct filter_place {
    size_t word;
    uint64_t bits;
} filter_place;

static filter_place filter_place_of(const dd_key_filter *f, uint64_t key)
{
    filter_place at = {(size_t)key & (f->nbits / 64 - 1), 0};
    for (unsigned k = 0; k < FILTER_BITS; k++)
        at.bits |= 1ULL << (key >> (64 - 6 * (k + 1)) & 63);
    return at;
}

/* The filter's bytes: both arrays, one pair of words for each word. */
static size_t filter_bytes(const dd_key_filter *f)
{
    return f->nbits / 64 * sizeof *f->words;
}

void dd_key_filter_init(dd_key_filter *f, const dd_signatures *s, size_t ndocs)
{
    size_t want = 8 * dd_near_keys_per_doc(&s->params) * (ndocs ? ndocs : 1);
    f->nbits = 64;
    while (f->nbits < want)
        f->nbits *= 2;
    /* Zeros written, in huge pages from 2 MiB up (news: 4 MiB, 1,024
     * faults of 4 KiB a filter from calloc, two filters a scan; the
     * threads that fill it at once would take them in turns), and each
     * key's two words in one line: one miss a key where there were two. */
    f->words = dd_room_zalloc_touched(filter_bytes(f));
}

/* The words of f that range `range` of `ranges` sets: [*first, *first +
 * the count returned) (none when there are more ranges than words). */
static size_t range_words(const dd_key_filter *f, size_t range, size_t ranges, size_t *first)
{
    size_t words = f->nbits / 64;
    *first = words * range / ranges;
    return words * (range + 1) / ranges - *first;
}

/* Sets the bits of the keys k[0..nkeys) of one document that fall in
 * words [first, first + nmine) of f (place: nkeys places of scratch). */
static void set_keys(dd_key_filter *f, const uint64_t *k, size_t nkeys, size_t first, size_t nmine,
                     filter_place *place)
{
    /* Half the keys of two ranges are another range's: they set no bit, in
     * the range's first word (no branch to mispredict a key in two). The
     * words are asked for first, all at once, so that the waits overlap.
     * Whoever sets a bit second sees it set: the same filter whatever the
     * order. */
    for (size_t b = 0; b < nkeys; b++) {
        filter_place p = filter_place_of(f, k[b]);
        size_t off = p.word - first; /* wraps round below the range */
        uint64_t mine = off < nmine ? ~0ULL : 0;
        place[b] = (filter_place){first + (off & mine), p.bits & mine};
        __builtin_prefetch(&f->words[place[b].word], 1);
    }
    for (size_t b = 0; b < nkeys; b++) {
        struct dd_key_filter_words *w = &f->words[place[b].word];
        w->twice |= w->once & place[b].bits;
        w->once |= place[b].bits;
    }
}

void dd_key_filter_add(dd_key_filter *f, const dd_signatures *s, const uint32_t *docs, size_t ndocs,
                       size_t range, size_t ranges)
{
    /* Ranges, not parts of the documents, because threads filling one
     * array at once, each key's bits set by an atomic fetch-or, moved its
     * cache lines between the cores: nearly 4x the CPU of one thread's filling
     * at -j 2 on the news (perf: 484 -> 1,817 samples). A filter a thread,
     * merged, was 3x the memory at -j 2. */
    size_t first, nmine = range_words(f, range, ranges, &first);
    if (nmine == 0)
        return;
    uint64_t keys[64 + 1];
    uint64_t *big = NULL;
    size_t nkeys = dd_near_keys_per_doc(&s->params);
    filter_place places[64];
    filter_place *place = nkeys <= 64 ? places : dd_malloc(nkeys * sizeof *place);
    uint64_t *k = nkeys <= 64 ? keys : (big = dd_malloc(nkeys * sizeof *big));
    for (size_t at = 0; at < ndocs; at++) {
        size_t d = docs ? docs[at] : at;
        if (s->docs[d].words == 0)
            continue;
        index_keys(s, d, k);
        set_keys(f, k, nkeys, first, nmine, place);
    }
    free(big);
    if (place != places)
        free(place);
}

void dd_key_filter_keys(const dd_signatures *s, const uint32_t *docs, size_t from, size_t to,
                        uint64_t *keys)
{
    size_t nkeys = dd_near_keys_per_doc(&s->params);
    for (size_t at = from; at < to; at++) {
        size_t d = docs ? docs[at] : at;
        if (s->docs[d].words > 0)
            index_keys(s, d, keys + (at - from) * nkeys);
    }
}

void dd_key_filter_set(dd_key_filter *f, const dd_signatures *s, const uint32_t *docs, size_t from,
                       size_t to, const uint64_t *keys, size_t range, size_t ranges)
{
    size_t first, nmine = range_words(f, range, ranges, &first);
    if (nmine == 0)
        return;
    size_t nkeys = dd_near_keys_per_doc(&s->params);
    filter_place places[64];
    filter_place *place = nkeys <= 64 ? places : dd_malloc(nkeys * sizeof *place);
    for (size_t at = from; at < to; at++) {
        size_t d = docs ? docs[at] : at;
        if (s->docs[d].words > 0)
            set_keys(f, keys + (at - from) * nkeys, nkeys, first, nmine, place);
    }
    if (place != places)
        free(place);
}

bool dd_key_filter_shared(const dd_key_filter *f, uint64_t key)
{
    filter_place p = filter_place_of(f, key);
    return (f->words[p.word].twice & p.bits) == p.bits;
}

void dd_key_filter_free(dd_key_filter *f)
{
    dd_room_resize(f->words, filter_bytes(f), 0);
    memset(f, 0, sizeof *f);
}

/* Whether key (of a document placed) may be another's: to look up and to
 * list. */
static bool key_shared(const dd_signatures *s, uint64_t key)
{
    return !s->shared_keys || dd_key_filter_shared(s->shared_keys, key);
}

/* key_shared of keys[0..n), to shared[0..n): the bits of the filter, each
 * anywhere in it, asked for all at once so that the waits overlap. */
static void keys_shared(const dd_signatures *s, const uint64_t *keys, size_t n, bool *shared)
{
    const dd_key_filter *f = s->shared_keys;
    for (size_t b = 0; f && b < n; b++)
        __builtin_prefetch(&f->words[filter_place_of(f, keys[b]).word].twice);
    for (size_t b = 0; b < n; b++)
        shared[b] = key_shared(s, keys[b]);
}

/* ------------------------------------------------------------ clustering */

/* Rank order: by --keep, then input order. */
typedef struct ranked {
    uint32_t length; /* words for --keep longest, 0 for --keep first */
    uint32_t doc;
} ranked;

static int compare_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->length != y->length)
        return x->length > y->length ? -1 : 1;
    return (x->doc > y->doc) - (x->doc < y->doc);
}

/* May a member of `member` shingles join a representative of `rep`
 * through containment (the guard of the join rule, near.h)? Containment is
 * on, the smaller set has min_shingles, and the member is at most
 * size_ratio times the representative. */
static bool containment_may_join(const dd_near_params *p, double member, double rep)
{
    double small = member < rep ? member : rep;
    return p->containment > 0 && small >= (double)p->min_shingles && member <= p->size_ratio * rep;
}

/* The join rule of every mode (see near.h). */
bool dd_near_joins(const dd_near_params *p, double j, double c, double member, double rep)
{
    if (j >= p->threshold)
        return true;
    return c >= p->containment && containment_may_join(p, member, rep);
}

void dd_overlap_similarity(const dd_overlap *o, double *jaccard, double *containment)
{
    double inter = (double)o->shared;
    double a = (double)o->a, b = (double)o->b, small = a < b ? a : b;
    *jaccard = a + b > inter ? inter / (a + b - inter) : 1;
    *containment = small > 0 ? inter / small : 0;
    if (*containment > 1)
        *containment = 1;
}

/* The containment of the smaller set implied by Jaccard j and the sizes. */
double dd_containment_of(double j, double a, double b)
{
    double small = a < b ? a : b;
    double c = small > 0 ? j * (a + b) / ((1 + j) * small) : 0;
    return c > 1 ? 1 : c;
}

/* The size of the intersection of two sorted sets. */
size_t dd_sorted_intersection(const uint64_t *a, size_t na, const uint64_t *b, size_t nb)
{
    size_t i = 0, j = 0, n = 0;
    while (i < na && j < nb) {
        if (a[i] < b[j])
            i++;
        else if (a[i] > b[j])
            j++;
        else {
            n++;
            i++;
            j++;
        }
    }
    return n;
}

/* Is candidate x a better choice than y: more shared buckets, or as many
 * and a lower rank? */
static bool better_choice(dd_candidate x, dd_candidate y)
{
    return x.shared != y.shared ? x.shared > y.shared : x.rank < y.rank;
}

/* Moves heap[i] down the heap heap[0..n), the worst choice on top. */
static void sift_down(dd_candidate *heap, size_t n, size_t i)
{
    for (;;) {
        size_t worst = i, l = 2 * i + 1, r = l + 1;
        if (l < n && better_choice(heap[worst], heap[l]))
            worst = l;
        if (r < n && better_choice(heap[worst], heap[r]))
            worst = r;
        if (worst == i)
            return;
        dd_candidate t = heap[i];
        heap[i] = heap[worst];
        heap[worst] = t;
        i = worst;
    }
}

static int compare_candidate_rank(const void *a, const void *b)
{
    uint32_t x = ((const dd_candidate *)a)->rank, y = ((const dd_candidate *)b)->rank;
    return (x > y) - (x < y);
}

/* The best max choices go to c[0..max) through a heap of them, worst on
 * top: n log max steps, whatever order the candidates came in. */
size_t dd_choose_candidates(dd_candidate *c, size_t n, size_t max)
{
    if (n > max && max > 0) {
        for (size_t i = max / 2; i-- > 0;)
            sift_down(c, max, i);
        for (size_t i = max; i < n; i++)
            if (better_choice(c[i], c[0])) {
                c[0] = c[i];
                sift_down(c, max, 0);
            }
    }
    if (n > max)
        n = max;
    if (n > 1)
        qsort(c, n, sizeof *c, compare_candidate_rank);
    return n;
}

size_t dd_candidates_from_members(uint32_t *numbers, size_t n, dd_candidate **tmp, size_t *tmp_cap,
                                  uint64_t *passed_over)
{
    if (n > 1)
        qsort(numbers, n, sizeof *numbers, dd_compare_u32);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && (*tmp)[k - 1].rank == numbers[i]) {
            (*tmp)[k - 1].shared++;
            continue;
        }
        dd_grow(tmp, tmp_cap, k + 1, sizeof **tmp);
        (*tmp)[k++] = (dd_candidate){numbers[i], 1};
    }
    size_t chosen = dd_choose_candidates(*tmp, k, DD_MAX_CANDIDATES);
    *passed_over += k - chosen;
    k = chosen;
    for (size_t i = 0; i < k; i++)
        numbers[i] = (*tmp)[i].rank;
    return k;
}

/* The lowest Jaccard with which a member of a shingles joins a
 * representative of b shingles (dd_near_joins). */
static double lowest_passing_jaccard(const dd_near_params *p, double a, double b)
{
    double small = a < b ? a : b, need = p->threshold;
    if (containment_may_join(p, a, b)) {
        double cj = p->containment * small / (a + b - p->containment * small);
        if (cj < need)
            need = cj;
    }
    return need;
}

typedef struct set_buffers {
    uint64_t *a, *b;
    size_t cap_a, cap_b;
} set_buffers;

/* The MinHash stage of verification: counts in *same the values that d's
 * and r's signatures share, and says whether the pair can still join. In
 * estimate mode it cannot once the equal values can no longer reach the
 * lowest passing Jaccard; in exact mode, where the estimate only filters,
 * once they cannot come within three standard errors of it, or when even
 * the estimate's upper bound (three standard errors above it) fails the
 * rule. */
static bool minhash_may_join(const dd_signatures *s, uint32_t d, uint32_t r, unsigned *same_out)
{
    const dd_near_params *p = &s->params;
    double a = s->docs[d].shingles, b = s->docs[r].shingles;
    unsigned k = (unsigned)p->num_perm, same = 0;
    uint32_t d_values[SH_MINHASH_MAX_PERM], r_values[SH_MINHASH_MAX_PERM];
    const uint32_t *x = dd_signature_minhash(s, d, d_values);
    const uint32_t *y = dd_signature_minhash(s, r, r_values);
    /* Stop counting once the equal values can no longer reach the lowest
     * passing Jaccard (estimate mode) or come within three standard errors
     * of it (exact mode, where the estimate only filters). */
    double need = lowest_passing_jaccard(p, a, b);
    if (p->verify_exact)
        need -= 3 * sqrt((need > 1.0 / k ? need : 1.0 / k) * (1 - need) / k) + 1.0 / k;
    unsigned need_same = need > 0 ? (unsigned)floor(need * k * 0.999) : 0;
    for (unsigned i = 0; i < k; i++) {
        same += x[i] == y[i];
        if (same + (k - 1 - i) < need_same)
            return false;
    }
    *same_out = same;
    if (!p->verify_exact)
        return true;
    double j = (double)same / k, floor_j = 1.0 / k;
    double upper = j + 3 * sqrt((j > floor_j ? j : floor_j) * (1 - j) / k);
    if (upper > 1)
        upper = 1;
    return dd_near_joins(p, upper, dd_containment_of(upper, a, b), a, b);
}

/* The exact similarity of a pair from the overlap of its sets, to m, and
 * whether the pair joins. */
static bool overlap_decides(const dd_near_params *p, const dd_overlap *o, dd_member *m)
{
    dd_overlap_similarity(o, &m->jaccard, &m->containment);
    return dd_near_joins(p, m->jaccard, m->containment, (double)o->a, (double)o->b);
}

bool dd_overlap_joins(const dd_signatures *s, const dd_overlap *o)
{
    dd_member m;
    return overlap_decides(&s->params, o, &m);
}

/* The overlap of the exact sets of d and r: from the caller's overlap, or
 * from the sets load_set gives. False if they cannot be had. */
static bool exact_overlap(const dd_signatures *s, uint32_t d, uint32_t r, set_buffers *sets,
                          dd_overlap *o)
{
    if (s->overlap)
        return s->overlap(s->overlap_ctx, d, r, o);
    size_t na, nb;
    if (!s->load_set(s->load_ctx, d, &sets->a, &sets->cap_a, &na) ||
        !s->load_set(s->load_ctx, r, &sets->b, &sets->cap_b, &nb))
        return false;
    *o = (dd_overlap){na, nb, dd_sorted_intersection(sets->a, na, sets->b, nb)};
    return true;
}

/* The rest of verify for a MinHash pair that passed minhash_may_join with
 * same equal values. */
static bool verify_past_estimate(const dd_signatures *s, uint32_t d, uint32_t r, unsigned same,
                                 dd_member *m, set_buffers *sets)
{
    const dd_near_params *p = &s->params;
    memset(m, 0, sizeof *m);
    m->doc = d;
    double a = s->docs[d].shingles, b = s->docs[r].shingles;
    double j = (double)same / (unsigned)p->num_perm;
    if (!p->verify_exact) {
        m->jaccard = j;
        m->containment = dd_containment_of(m->jaccard, a, b);
        m->estimated = true;
        return dd_near_joins(p, m->jaccard, m->containment, a, b);
    }
    dd_overlap o;
    if (!exact_overlap(s, d, r, sets, &o)) {
        if (!s->estimate_if_unloadable)
            return false;
        m->jaccard = j;
        m->containment = dd_containment_of(j, a, b);
        m->estimated = true;
        return dd_near_joins(p, m->jaccard, m->containment, a, b);
    }
    return overlap_decides(p, &o, m);
}

/* Does doc d verify against representative r? Fills the similarity.
 * Estimate mode decides on the estimates. Exact mode uses them as a filter
 * (minhash_may_join); the exact sets then decide and give the
 * similarity. */
static bool verify(const dd_signatures *s, uint32_t d, uint32_t r, dd_member *m, set_buffers *sets)
{
    const dd_near_params *p = &s->params;
    memset(m, 0, sizeof *m);
    m->doc = d;
    if (p->method == DD_METHOD_SIMHASH) {
        m->hamming = sh_hamming(s->simhash[d], s->simhash[r]);
        m->jaccard = m->containment = 1.0 - m->hamming / 64.0;
        return m->hamming <= p->hamming;
    }
    unsigned same;
    if (!minhash_may_join(s, d, r, &same))
        return false;
    return verify_past_estimate(s, d, r, same, m, sets);
}

void dd_near_prejudge(const dd_signatures *s, uint32_t d, uint32_t r, dd_given_pair *g)
{
    const dd_near_params *p = &s->params;
    memset(&g->m, 0, sizeof g->m);
    g->same = 0;
    bool joins;
    if (p->method == DD_METHOD_SIMHASH || !p->verify_exact) {
        set_buffers none = {0}; /* the estimates decide: no set is read */
        joins = verify(s, d, r, &g->m, &none);
        g->verdict = joins ? DD_VERDICT_JOINS : DD_VERDICT_APART;
        return;
    }
    unsigned same;
    if (!minhash_may_join(s, d, r, &same)) {
        g->verdict = DD_VERDICT_APART;
        return;
    }
    g->verdict = DD_VERDICT_MAY_JOIN;
    g->same = same;
}

/* The first document placed with key, 1-based (0: none), in a table of
 * exact keys to documents; records doc for it when there is none. */
static uint32_t key_first(dd_key_table *t, sh_key key, uint32_t doc)
{
    uint32_t had;
    if (dd_key_table_add(t, key, doc, &had) == DD_KEY_HAD)
        return had + 1;
    return 0; /* added: documents are numbered below DD_KEY_TABLE_MAX_VALUE */
}

/* The same without recording anything. */
static uint32_t key_placed(const dd_key_table *t, sh_key key)
{
    uint32_t had;
    return dd_key_table_get(t, key, &had) ? had + 1 : 0;
}

static int compare_member_doc(const void *a, const void *b)
{
    uint32_t x = ((const dd_member *)a)->doc, y = ((const dd_member *)b)->doc;
    return (x > y) - (x < y);
}

/* What the placer knows of a document (8 bytes: a member's similarity is
 * found by its rank in dd_placer.members, which is in rank order). */
typedef struct placed_doc {
    uint32_t rep_of; /* 1 + its representative (itself for one), 0: not placed or no words */
    uint32_t rank;   /* the order it was placed in */
} placed_doc;

/* A member's similarity as the placer keeps it: a dd_member without what
 * the placer leaves 0 (of, round), in 24 bytes, not 40. */
typedef struct kept_member {
    uint32_t doc;
    uint16_t hamming;
    bool exact, estimated;
    double jaccard, containment;
} kept_member;

/* The members are kept in chunks of this many (24 KiB): no array doubled
 * as they grow (half of it unused, and both copies while it moves). */
#define MEMBERS_A_CHUNK 1024

/* A representative listed in a numbered bucket
 * (dd_placer_place_numbered): its rank, and the one listed in the bucket
 * before it (1 + its place among them; 0: none). Kept in chunks of
 * HOT_LISTED_A_CHUNK (8 KiB), as the members are. */
typedef struct hot_listed {
    uint32_t rank, before;
} hot_listed;

#define HOT_LISTED_A_CHUNK 1024

struct dd_placer {
    const dd_signatures *s;
    /* per document, grown as documents are placed: */
    placed_doc *doc;
    size_t cap;
    /* the documents in the order they were placed: by_rank_own, or the
     * caller's order (dd_placer_reserve_order: no copy) */
    const uint32_t *by_rank;
    uint32_t *by_rank_own;
    size_t by_rank_cap;
    /* rank r is document r (dd_placer_reserve_order without an order): no
     * order held */
    bool ranks_are_docs;
    uint32_t placed;
    /* the similarities of the members to their representatives, in the
     * order they joined, which is the order they were placed (a
     * representative's is 1: similarity_of), in chunks of
     * MEMBERS_A_CHUNK */
    kept_member **members;
    size_t nmembers, chunks_cap;
    /* exact keys -> the first document placed with each, at most three
     * quarters full (reserved for every document: 28 to 53 bytes a
     * document, not 40 to 80 at half full; a twin's lookup probes a slot
     * or two more) */
    dd_key_table exact;
    /* band or block keys of the representatives, at most DD_BUCKET_CAP
     * of them (the first placed) per key, each listed by its rank, so
     * that gathering candidates reads nothing of the documents listed:
     * one map per band (or block), so that a batch's representatives are
     * added to them on several threads (dd_placer_ahead_index) */
    dd_capped_map *index;
    size_t nkeys;
    uint64_t *keys;
    dd_candidate *cands; /* of the document being placed */
    size_t cands_cap;
    uint32_t *ranks, *ranks_tmp; /* the ranks its buckets list */
    size_t ranks_cap, ranks_tmp_cap;
    bool *shared; /* of its keys: key_shared */
    set_buffers sets;
    dd_placer_counts counts;
    /* the pairs given with the document being placed
     * (dd_placer_place_given), by rank */
    const dd_given_pair *given;
    size_t ngiven;
    /* the numbered buckets, hot ones and their sub-buckets
     * (dd_placer_place_numbered): how many representatives each lists
     * (DD_BUCKET_CAP at most, the first placed), and its last (1 + its
     * place in listed; 0: none), each of which says the one before it */
    uint8_t *hot_count;
    uint32_t *hot_last;
    size_t nhot;
    hot_listed **listed;
    size_t nlisted, listed_chunks_cap;
    /* of the document being placed, a band's hot bucket and sub-bucket
     * (DD_NOT_HOT: none); hot NULL: not placed by number */
    const uint32_t *hot, *sub;
};

dd_placer *dd_placer_new(const dd_signatures *s)
{
    dd_placer *p = dd_calloc(1, sizeof *p);
    p->s = s;
    dd_key_table_init(&p->exact, 3);
    p->nkeys = dd_near_keys_per_doc(&s->params);
    p->index = dd_malloc(p->nkeys * sizeof *p->index);
    for (size_t b = 0; b < p->nkeys; b++)
        dd_capped_map_init(&p->index[b]);
    p->keys = dd_malloc(p->nkeys * sizeof *p->keys);
    p->shared = dd_malloc(p->nkeys * sizeof *p->shared);
    return p;
}

/* Makes the per-document array hold cap documents. */
static void placer_resize(dd_placer *p, size_t cap)
{
    p->doc = dd_realloc(p->doc, cap * sizeof *p->doc);
    memset(p->doc + p->cap, 0, (cap - p->cap) * sizeof *p->doc);
    p->cap = cap;
}

/* Makes the per-document array hold document d. */
static void placer_grow(dd_placer *p, uint32_t d)
{
    if (d < p->cap)
        return;
    size_t cap = p->cap ? p->cap : 1024;
    while (cap <= d)
        cap *= 2;
    placer_resize(p, cap);
}

/* Makes the placer's own order of the documents hold n (none when it
 * reads the caller's). */
static void by_rank_room(dd_placer *p, size_t n)
{
    if (n <= p->by_rank_cap || (p->by_rank && !p->by_rank_own) || p->ranks_are_docs)
        return;
    p->by_rank_own = dd_realloc(p->by_rank_own, n * sizeof *p->by_rank_own);
    p->by_rank = p->by_rank_own;
    p->by_rank_cap = n;
}

/* The document placed rank-th (placed already). */
static inline uint32_t doc_of_rank(const dd_placer *p, uint32_t rank)
{
    return p->ranks_are_docs ? rank : p->by_rank[rank];
}

void dd_placer_reserve(dd_placer *p, size_t n)
{
    dd_key_table_reserve(&p->exact, n);
    if (n > p->cap) /* no more than n: nothing grows while placing */
        placer_resize(p, n);
    by_rank_room(p, n);
}

/* Placed document d (rep_of set) is a member: its similarity *m kept. */
static void keep_similarity(dd_placer *p, uint32_t d, const dd_member *m)
{
    size_t chunk = p->nmembers / MEMBERS_A_CHUNK;
    if (p->nmembers % MEMBERS_A_CHUNK == 0) {
        dd_grow(&p->members, &p->chunks_cap, chunk + 1, sizeof *p->members);
        p->members[chunk] = dd_malloc(MEMBERS_A_CHUNK * sizeof **p->members);
    }
    p->members[chunk][p->nmembers++ % MEMBERS_A_CHUNK] = (kept_member){
        d, (uint16_t)m->hamming, m->exact, m->estimated, m->jaccard, m->containment};
}

/* The similarity of the i-th member placed. */
static const kept_member *member_at(const dd_placer *p, size_t i)
{
    return &p->members[i / MEMBERS_A_CHUNK][i % MEMBERS_A_CHUNK];
}

static dd_member member_of(const kept_member *k)
{
    return (dd_member){.doc = k->doc, .jaccard = k->jaccard, .containment = k->containment,
                       .hamming = k->hamming, .exact = k->exact, .estimated = k->estimated};
}

/* The similarity of placed document d to its representative: a member's
 * found by its rank (the members are kept in the order placed). */
static dd_member similarity_of(const dd_placer *p, uint32_t d)
{
    if (p->doc[d].rep_of == 0 || p->doc[d].rep_of == d + 1)
        return (dd_member){.doc = d, .jaccard = 1.0, .containment = 1.0};
    uint32_t rank = p->doc[d].rank;
    size_t at;
    DD_LOWER_BOUND(at, p->nmembers, i, p->doc[member_at(p, i)->doc].rank < rank);
    return member_of(member_at(p, at));
}

/* Appends to (*ranks)[0..*n) (growing it, *cap its capacity) the ranks
 * that map lists under key, each `times` times (the buckets it counts as
 * shared). Returns how many ranks map lists. */
static uint32_t append_listed(const dd_capped_map *map, uint64_t key, unsigned times,
                              uint32_t **ranks, size_t *cap, size_t *n)
{
    uint32_t count = 0;
    dd_capped_iter it = dd_capped_map_find(map, key);
    for (uint32_t rank; dd_capped_next(&it, &rank); count++) {
        dd_grow(ranks, cap, *n + times, sizeof **ranks);
        for (unsigned t = 0; t < times; t++)
            (*ranks)[(*n)++] = rank;
    }
    return count;
}

/* A representative found in a sub-bucket shares two buckets with the
 * document: the full one and the sub-bucket (the second key too), so that
 * it is chosen before the many that share only the full one
 * (dd_choose_candidates: a hot bucket's representatives share it with
 * every document that has its key, a copy shares its second key too). */
#define SUB_BUCKET_SHARES 2

/* The representatives of a batch placed so far (dd_placer_ahead), which
 * the index does not list yet: for each band, the entries the index will
 * list once the batch is placed (dd_placer_ahead_index adds them), in
 * the order placed; and, to find them by key, a filter of their keys (a
 * bit per key's low bits), which says without a lookup that most keys
 * asked for are not there (most are not: the batch is a few hundred
 * documents); and chains through the entries by fewer of their keys'
 * low bits (a few entries a chain: a batch lists some thousands), the
 * last added first. So each entry is written once, not in a map of the
 * batch and again in a list for the index. */
#define BATCH_FILTER_BITS ((size_t)1 << 16)
#define BATCH_CHAINS ((size_t)1 << 12)

/* An entry of a band's index: a representative's rank under a key (the
 * band's, or its sub-bucket's). */
typedef struct listed_entry {
    uint64_t key;
    uint32_t rank;
    uint32_t next; /* the entry added before it in its chain (batch_id), 0: none */
} listed_entry;

typedef struct batch_reps {
    size_t nbands;
    listed_entry **band; /* per band: its entries, in the order added */
    size_t *n, *cap;     /* per band */
    size_t bands_cap;    /* of band, n and cap */
    uint64_t *bits;      /* BATCH_FILTER_BITS */
    uint32_t *chain;     /* BATCH_CHAINS: the entry added last to each chain (batch_id), 0: none */
} batch_reps;

static size_t batch_bit(uint64_t key) { return (size_t)key & (BATCH_FILTER_BITS - 1); }

static size_t batch_chain(uint64_t key) { return (size_t)key & (BATCH_CHAINS - 1); }

/* Entry i of band b as one number, 1-based (0 ends a chain). */
static uint32_t batch_id(const batch_reps *r, size_t b, size_t i)
{
    return (uint32_t)(1 + i * r->nbands + b);
}

static const listed_entry *batch_entry(const batch_reps *r, uint32_t id)
{
    return &r->band[(id - 1) % r->nbands][(id - 1) / r->nbands];
}

/* Empties r, for a batch with nbands band (or block) keys a document. */
static void batch_start(batch_reps *r, size_t nbands)
{
    if (nbands > r->bands_cap) {
        r->band = dd_realloc(r->band, nbands * sizeof *r->band);
        r->n = dd_realloc(r->n, nbands * sizeof *r->n);
        r->cap = dd_realloc(r->cap, nbands * sizeof *r->cap);
        for (size_t b = r->bands_cap; b < nbands; b++) {
            r->band[b] = NULL;
            r->cap[b] = 0;
        }
        r->bands_cap = nbands;
    }
    r->nbands = nbands;
    memset(r->n, 0, nbands * sizeof *r->n);
    if (!r->bits) {
        r->bits = dd_malloc(BATCH_FILTER_BITS / 64 * sizeof *r->bits);
        r->chain = dd_malloc(BATCH_CHAINS * sizeof *r->chain);
    }
    memset(r->bits, 0, BATCH_FILTER_BITS / 64 * sizeof *r->bits);
    memset(r->chain, 0, BATCH_CHAINS * sizeof *r->chain);
}

static void batch_free(batch_reps *r)
{
    for (size_t b = 0; b < r->bands_cap; b++)
        free(r->band[b]);
    free(r->band);
    free(r->n);
    free(r->cap);
    free(r->bits);
    free(r->chain);
}

/* Whether r may list values under key (false: it lists none). */
static bool batch_may_list(const batch_reps *r, uint64_t key)
{
    return dd_bit(r->bits, batch_bit(key));
}

/* The index of band b will list rank under key once the batch is placed. */
static void batch_add(batch_reps *r, size_t b, uint64_t key, uint32_t rank)
{
    size_t c = batch_chain(key);
    dd_grow(&r->band[b], &r->cap[b], r->n[b] + 1, sizeof *r->band[b]);
    r->band[b][r->n[b]] = (listed_entry){key, rank, r->chain[c]};
    r->chain[c] = batch_id(r, b, r->n[b]++);
    dd_bit_set(r->bits, batch_bit(key));
}

/* As append_listed, for the ranks r lists under key. */
static uint32_t batch_append_listed(const batch_reps *r, uint64_t key, unsigned times,
                                    uint32_t **ranks, size_t *cap, size_t *n)
{
    uint32_t count = 0;
    for (uint32_t id = batch_may_list(r, key) ? r->chain[batch_chain(key)] : 0; id;) {
        const listed_entry *e = batch_entry(r, id);
        id = e->next;
        if (e->key != key)
            continue;
        count++;
        dd_grow(ranks, cap, *n + times, sizeof **ranks);
        for (unsigned t = 0; t < times; t++)
            (*ranks)[(*n)++] = e->rank;
    }
    return count;
}

/* How many ranks r lists under key. */
static uint32_t batch_listed_under(const batch_reps *r, uint64_t key)
{
    uint32_t count = 0;
    for (uint32_t id = batch_may_list(r, key) ? r->chain[batch_chain(key)] : 0; id;) {
        const listed_entry *e = batch_entry(r, id);
        id = e->next;
        count += e->key == key;
    }
    return count;
}

/*
 * Appends to (*ranks)[0..n) (growing it, *cap its capacity) the ranks that
 * the buckets of document d's keys list (those that shared says may be
 * shared), each band's in its own map: the index's, and those of batch
 * (not NULL: the representatives of a batch placed so far, which the index
 * does not list yet); with in_index not NULL, the index's were gathered
 * already (dd_placer_ahead_pairs), in_index[b] of them in band b. Where
 * the bucket is full (DD_BUCKET_CAP in all), its sub-bucket too, by d's
 * second key (the index's only if it was not gathered: a sub-bucket of the
 * index has entries only when the index's bucket is full, and the worker
 * looked it up then), each of its ranks SUB_BUCKET_SHARES times. Returns
 * the new n.
 */
static size_t listed_ranks(const dd_placer *p, uint32_t d, const uint64_t *keys, const bool *shared,
                           const uint8_t *in_index, const batch_reps *batch, uint32_t **ranks,
                           size_t *cap, size_t n)
{
    for (size_t b = 0; b < p->nkeys; b++)
        if (shared[b] && !in_index)
            dd_capped_map_prefetch(&p->index[b], keys[b]);
    for (size_t b = 0; b < p->nkeys; b++) {
        if (!shared[b])
            continue;
        uint32_t count =
            in_index ? in_index[b] : append_listed(&p->index[b], keys[b], 1, ranks, cap, &n);
        if (batch && batch_may_list(batch, keys[b]))
            count += batch_append_listed(batch, keys[b], 1, ranks, cap, &n);
        if (count < DD_BUCKET_CAP)
            continue;
        uint64_t sub = second_key(p->s, d, b, keys[b]);
        if (!in_index)
            append_listed(&p->index[b], sub, SUB_BUCKET_SHARES, ranks, cap, &n);
        if (batch && batch_may_list(batch, sub))
            batch_append_listed(batch, sub, SUB_BUCKET_SHARES, ranks, cap, &n);
    }
    return n;
}

/* Sorts ranks[0..n) (tmp: scratch for n) and appends them to
 * (*cands)[0..ncand) (growing it), each rank once with the number of
 * buckets that list it. Returns the new ncand. */
static size_t count_ranks(uint32_t *ranks, uint32_t *tmp, size_t n, dd_candidate **cands,
                          size_t *cap, size_t ncand)
{
    dd_sort_u32(ranks, tmp, n);
    dd_grow(cands, cap, ncand + n + 1, sizeof **cands);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && ranks[j] == ranks[i])
            j++;
        (*cands)[ncand++] = (dd_candidate){ranks[i], (uint32_t)(j - i)};
        i = j;
    }
    return ncand;
}

/* The candidates of the document being placed from the buckets that
 * list them: the ranks ranks[0..n) (the placer's scratch), counted and
 * appended to p->cands[0..ncand). Returns the new ncand. */
static size_t candidates_of_ranks(dd_placer *p, size_t n, size_t ncand)
{
    dd_grow(&p->ranks_tmp, &p->ranks_tmp_cap, n + 1, sizeof *p->ranks_tmp);
    return count_ranks(p->ranks, p->ranks_tmp, n, &p->cands, &p->cands_cap, ncand);
}

/* The first step of placing d: its rank; a document without words is
 * placed there and then (true, *rep UINT32_MAX). */
static bool place_rank(dd_placer *p, uint32_t d, uint32_t *rep)
{
    placer_grow(p, d);
    if (!p->ranks_are_docs && (!p->by_rank || p->by_rank_own)) {
        dd_grow(&p->by_rank_own, &p->by_rank_cap, (size_t)p->placed + 1, sizeof *p->by_rank_own);
        p->by_rank_own[p->placed] = d;
        /* Written only when it moved: in a batch placed ahead the workers
         * read by_rank (dd_placer_ahead_pairs), which by_rank_room made
         * large enough before (ThreadSanitizer saw the same pointer
         * written beside their reads, at -j 2 and -j 3 on the news). */
        if (p->by_rank != p->by_rank_own)
            p->by_rank = p->by_rank_own;
    } /* (else the caller's order says d, or d is its rank: dd_placer_reserve_order) */
    p->doc[d].rank = p->placed++;
    if (p->s->docs[d].words > 0)
        return false;
    *rep = UINT32_MAX;
    return true;
}

/* Placing d, an exact duplicate of document t placed before it: the twin's
 * cluster, the twin's similarity (true, its representative in *rep). */
static bool place_twin(dd_placer *p, uint32_t d, uint32_t t, dd_member *m, uint32_t *rep)
{
    p->doc[d].rep_of = p->doc[t].rep_of;
    *m = similarity_of(p, t);
    m->doc = d;
    if (p->doc[t].rep_of == t + 1) {
        m->jaccard = m->containment = 1.0;
        m->hamming = 0;
        m->exact = true;
    }
    keep_similarity(p, d, m);
    *rep = p->doc[d].rep_of - 1;
    return true;
}

/* The first steps of placing d: its rank; a document without words, or an
 * exact duplicate (the first document placed with its key), is placed
 * there and then (true, its representative in *rep: UINT32_MAX for no
 * words). */
static bool place_first(dd_placer *p, uint32_t d, dd_member *m, uint32_t *rep)
{
    if (place_rank(p, d, rep))
        return true;
    uint32_t twin = key_first(&p->exact, p->s->docs[d].key, d);
    return twin && place_twin(p, d, twin - 1, m, rep);
}

/* How many values map lists under key. */
static uint32_t listed_under(const dd_capped_map *map, uint64_t key)
{
    uint32_t n = 0;
    dd_capped_iter it = dd_capped_map_find(map, key);
    for (uint32_t v; dd_capped_next(&it, &v);)
        n++;
    return n;
}

/* The pair given with the document being placed whose earlier document
 * has rank rank, when the verify stage decided it (NULL: not given, or
 * not verified). */
static const dd_given_pair *given_verdict(const dd_placer *p, uint32_t rank)
{
    size_t lo;
    DD_LOWER_BOUND(lo, p->ngiven, i, p->given[i].earlier < rank);
    if (lo == p->ngiven || p->given[lo].earlier != rank ||
        p->given[lo].verdict == DD_VERDICT_UNKNOWN)
        return NULL;
    return &p->given[lo];
}

static void ahead_list(dd_placer *p, dd_placer_ahead *a, size_t k, uint32_t d);
static bool ahead_judged(const dd_placer_ahead *a, size_t k, uint32_t rank, bool *may,
                         unsigned *same);

/* The candidate of rank rank in cands[0..n), sorted by rank, or NULL. */
static dd_candidate *candidate_of_rank(dd_candidate *cands, size_t n, uint32_t rank)
{
    size_t lo;
    DD_LOWER_BOUND(lo, n, i, cands[i].rank < rank);
    return lo < n && cands[lo].rank == rank ? &cands[lo] : NULL;
}

/* Lists representative d (of key `key` in band b, whose bucket is full)
 * in its sub-bucket there, by its second key, unless that is full too. */
static void list_in_sub_bucket(dd_placer *p, uint32_t d, size_t b, uint64_t key)
{
    uint32_t now_listed;
    uint64_t sub = second_key(p->s, d, b, key);
    if (dd_capped_map_add_listed(&p->index[b], sub, p->doc[d].rank, DD_BUCKET_CAP, &now_listed)) {
        p->counts.split++;
        p->counts.full_sub_buckets += now_listed == DD_BUCKET_CAP;
    } else {
        p->counts.unlisted++;
    }
}

/* The i-th representative listed in a numbered bucket. */
static hot_listed *listed_at(const dd_placer *p, size_t i)
{
    return &p->listed[i / HOT_LISTED_A_CHUNK][i % HOT_LISTED_A_CHUNK];
}

/* Appends to p->ranks[0..n) the ranks numbered bucket `bucket` lists,
 * each `times` times. Returns the new n. */
static size_t append_numbered(dd_placer *p, uint32_t bucket, unsigned times, size_t n)
{
    dd_grow(&p->ranks, &p->ranks_cap, n + (size_t)times * p->hot_count[bucket], sizeof *p->ranks);
    for (uint32_t i = p->hot_last[bucket]; i; i = listed_at(p, i - 1)->before)
        for (unsigned t = 0; t < times; t++)
            p->ranks[n++] = listed_at(p, i - 1)->rank;
    return n;
}

/* Appends to p->ranks[0..n) the ranks that the numbered hot buckets of
 * the document being placed (p->hot) list, and where a bucket is full,
 * its sub-bucket's (p->sub), each SUB_BUCKET_SHARES times: as listed_ranks
 * does with the index. Returns the new n. */
static size_t numbered_ranks(dd_placer *p, size_t n)
{
    for (size_t b = 0; b < p->nkeys; b++) {
        uint32_t bucket = p->hot[b];
        if (bucket == DD_NOT_HOT)
            continue;
        n = append_numbered(p, bucket, 1, n);
        if (p->hot_count[bucket] == DD_BUCKET_CAP && p->sub[b] != DD_NOT_HOT)
            n = append_numbered(p, p->sub[b], SUB_BUCKET_SHARES, n);
    }
    return n;
}

/* Lists representative d in numbered bucket `bucket`, unless it is full.
 * Returns how many it lists then (DD_BUCKET_CAP + 1: none, it was full). */
static uint32_t list_in_numbered(dd_placer *p, uint32_t d, uint32_t bucket)
{
    if (p->hot_count[bucket] == DD_BUCKET_CAP)
        return DD_BUCKET_CAP + 1;
    size_t chunk = p->nlisted / HOT_LISTED_A_CHUNK;
    if (p->nlisted % HOT_LISTED_A_CHUNK == 0) {
        dd_grow(&p->listed, &p->listed_chunks_cap, chunk + 1, sizeof *p->listed);
        p->listed[chunk] = dd_malloc(HOT_LISTED_A_CHUNK * sizeof **p->listed);
    }
    *listed_at(p, p->nlisted) = (hot_listed){p->doc[d].rank, p->hot_last[bucket]};
    p->hot_last[bucket] = (uint32_t)++p->nlisted;
    return ++p->hot_count[bucket];
}

/* Lists representative d in its numbered hot buckets (p->hot), or in the
 * sub-buckets of those that are full (p->sub): as place_rest lists one in
 * the index, and counted the same. A sub-bucket of d's alone (DD_NOT_HOT)
 * is counted only: no document looks it up. */
static void list_numbered(dd_placer *p, uint32_t d)
{
    for (size_t b = 0; b < p->nkeys; b++) {
        uint32_t bucket = p->hot[b];
        if (bucket == DD_NOT_HOT)
            continue;
        uint32_t now_listed = list_in_numbered(p, d, bucket);
        if (now_listed <= DD_BUCKET_CAP) {
            /* d fills it: the next ones go to its sub-buckets */
            p->counts.full_buckets += now_listed == DD_BUCKET_CAP;
            continue;
        }
        now_listed = p->sub[b] == DD_NOT_HOT ? 1 : list_in_numbered(p, d, p->sub[b]);
        if (now_listed <= DD_BUCKET_CAP) {
            p->counts.split++;
            p->counts.full_sub_buckets += now_listed == DD_BUCKET_CAP;
        } else {
            p->counts.unlisted++;
        }
    }
}

/* The rest of placing d, whose candidates from the buckets of its keys
 * are p->cands[0..ncand), sorted by rank: its linked documents added, the
 * best chosen and verified; if none verifies, d becomes a representative,
 * listed under its keys: in the index now, or, for document k of a batch
 * (a not NULL), when the batch has been placed. */
static uint32_t place_rest(dd_placer *p, uint32_t d, const uint64_t *keys, const bool *shared,
                           size_t ncand, dd_placer_ahead *a, size_t k, dd_member *m)
{
    const dd_signatures *s = p->s;
    /* Linked documents that are representatives already: always verified. */
    size_t nlinked = 0, listed = ncand;
    for (size_t l = s->links ? s->link_start[d] : 0; s->links && l < s->link_start[d + 1];
         l++) {
        uint32_t r = s->links[l];
        if (r < p->cap && p->doc[r].rep_of == r + 1) {
            uint32_t rank = p->doc[r].rank;
            dd_candidate *c = candidate_of_rank(p->cands, listed, rank);
            for (size_t i = listed; !c && i < ncand; i++) /* a link listed twice */
                if (p->cands[i].rank == rank)
                    c = &p->cands[i];
            if (c) {
                c->shared = UINT32_MAX;
            } else {
                dd_grow(&p->cands, &p->cands_cap, ncand + 1, sizeof *p->cands);
                p->cands[ncand++] = (dd_candidate){rank, UINT32_MAX};
            }
            nlinked++;
        }
    }
    /* The ones that share the most buckets, then best-ranked first. */
    size_t chosen = dd_choose_candidates(p->cands, ncand, DD_MAX_CANDIDATES + nlinked);
    p->counts.passed_over += ncand - chosen;
    /* Their signatures are read next, each from anywhere in memory: ask for
     * them all at once, so that the waits overlap. */
    bool may;
    unsigned same;
    for (size_t c = 0; c < chosen; c++) {
        if (a && ahead_judged(a, k, p->cands[c].rank, &may, &same))
            continue;
        uint32_t r = doc_of_rank(p, p->cands[c].rank);
        __builtin_prefetch(&s->docs[r]);
        if (r < s->max_in_memory && s->minhash)
            __builtin_prefetch(s->minhash + (size_t)r * s->params.num_perm);
    }
    for (size_t c = 0; c < chosen; c++) {
        uint32_t r = doc_of_rank(p, p->cands[c].rank);
        p->counts.compared++;
        /* The MinHash stage, as the workers found it when they did; or
         * the verify stage's verdict. */
        const dd_given_pair *g = p->given ? given_verdict(p, p->cands[c].rank) : NULL;
        bool joins;
        if (g && g->verdict == DD_VERDICT_MAY_JOIN) {
            joins = verify_past_estimate(s, d, r, g->same, m, &p->sets);
        } else if (g) {
            joins = g->verdict == DD_VERDICT_JOINS;
            if (joins) {
                *m = g->m;
                m->doc = d;
            }
        } else if (a && ahead_judged(a, k, p->cands[c].rank, &may, &same))
            joins = may && verify_past_estimate(s, d, r, same, m, &p->sets);
        else {
            p->counts.asked += p->given != NULL;
            joins = verify(s, d, r, m, &p->sets);
        }
        if (joins) {
            p->doc[d].rep_of = r + 1;
            keep_similarity(p, d, m);
            return r;
        }
    }
    p->doc[d].rep_of = d + 1;
    if (a) {
        ahead_list(p, a, k, d);
    } else if (p->hot) {
        list_numbered(p, d);
    } else {
        for (size_t b = 0; b < p->nkeys; b++)
            if (shared[b])
                dd_capped_map_prefetch(&p->index[b], keys[b]);
        for (size_t b = 0; b < p->nkeys; b++) {
            uint32_t now_listed;
            if (!shared[b])
                continue;
            if (dd_capped_map_add_listed(&p->index[b], keys[b], p->doc[d].rank, DD_BUCKET_CAP,
                                         &now_listed)) {
                /* d fills it: the next ones go to its sub-buckets */
                p->counts.full_buckets += now_listed == DD_BUCKET_CAP;
                continue;
            }
            list_in_sub_bucket(p, d, b, keys[b]);
        }
    }
    *m = similarity_of(p, d);
    return d;
}

uint32_t dd_placer_place(dd_placer *p, uint32_t d, dd_member *m)
{
    uint32_t rep;
    if (place_first(p, d, m, &rep))
        return rep;
    index_keys(p->s, d, p->keys);
    keys_shared(p->s, p->keys, p->nkeys, p->shared);
    size_t nranks = listed_ranks(p, d, p->keys, p->shared, NULL, NULL, &p->ranks, &p->ranks_cap, 0);
    size_t ncand = candidates_of_ranks(p, nranks, 0);
    return place_rest(p, d, p->keys, p->shared, ncand, NULL, 0, m);
}

void dd_placer_reserve_given(dd_placer *p, size_t n)
{
    if (n > p->cap)
        placer_resize(p, n);
    by_rank_room(p, n);
}

void dd_placer_reserve_order(dd_placer *p, const uint32_t *order, size_t n, size_t ndocs)
{
    if (ndocs > p->cap)
        placer_resize(p, ndocs);
    free(p->by_rank_own);
    p->by_rank_own = NULL;
    p->by_rank = order;
    p->by_rank_cap = order ? n : 0;
    p->ranks_are_docs = order == NULL;
}

bool dd_placer_leads(const dd_placer *p, uint32_t rank)
{
    uint32_t d = doc_of_rank(p, rank);
    return p->doc[d].rep_of == d + 1;
}

/* dd_placer_place_given, its hot buckets by key (hot), or numbered
 * (numbered and sub: dd_placer_place_numbered). */
static uint32_t place_given(dd_placer *p, uint32_t d, uint32_t twin, const bool *hot,
                            const uint32_t *numbered, const uint32_t *sub,
                            const dd_given_pair *given, size_t n, dd_member *m)
{
    uint32_t rep;
    if (place_rank(p, d, &rep))
        return rep;
    if (twin < p->placed - 1 && place_twin(p, d, doc_of_rank(p, twin), m, &rep))
        return rep;
    if (!numbered) /* (numbered, its buckets are found by number) */
        index_keys(p->s, d, p->keys);
    /* The representatives of d's hot buckets, as dd_placer_place finds
     * them; then the given ones that are representatives, each once for
     * each bucket it shares with d. */
    p->hot = numbered;
    p->sub = sub;
    size_t nranks = numbered
                        ? numbered_ranks(p, 0)
                        : listed_ranks(p, d, p->keys, hot, NULL, NULL, &p->ranks, &p->ranks_cap, 0);
    for (size_t i = 0; i < n; i++) {
        uint32_t rank = given[i].earlier;
        if (rank >= p->placed - 1 || given[i].shares == 0)
            continue;
        uint32_t r = doc_of_rank(p, rank);
        if (p->doc[r].rep_of != r + 1)
            continue;
        dd_grow(&p->ranks, &p->ranks_cap, nranks + given[i].shares, sizeof *p->ranks);
        for (uint32_t t = 0; t < given[i].shares; t++)
            p->ranks[nranks++] = rank;
    }
    size_t ncand = candidates_of_ranks(p, nranks, 0);
    p->given = given;
    p->ngiven = n;
    rep = place_rest(p, d, p->keys, hot, ncand, NULL, 0, m);
    p->given = NULL;
    p->ngiven = 0;
    p->hot = p->sub = NULL;
    return rep;
}

uint32_t dd_placer_place_given(dd_placer *p, uint32_t d, uint32_t twin, const bool *hot,
                               const dd_given_pair *given, size_t n, dd_member *m)
{
    return place_given(p, d, twin, hot, NULL, NULL, given, n, m);
}

void dd_placer_reserve_hot(dd_placer *p, size_t nbuckets)
{
    /* (the index is not used then: its first tables given back) */
    for (size_t b = 0; b < p->nkeys; b++)
        dd_capped_map_free(&p->index[b]);
    free(p->hot_count);
    free(p->hot_last);
    p->hot_count = dd_calloc(nbuckets ? nbuckets : 1, sizeof *p->hot_count);
    p->hot_last = dd_calloc(nbuckets ? nbuckets : 1, sizeof *p->hot_last);
    p->nhot = nbuckets;
}

uint32_t dd_placer_place_numbered(dd_placer *p, uint32_t d, uint32_t twin, const uint32_t *hot,
                                  const uint32_t *sub, const dd_given_pair *given, size_t n,
                                  dd_member *m)
{
    return place_given(p, d, twin, NULL, hot, sub, given, n, m);
}

dd_placer_counts dd_placer_counts_of(const dd_placer *p) { return p->counts; }

size_t dd_placer_bytes(const dd_placer *p)
{
    size_t bytes = p->cap * sizeof *p->doc +
                   (p->by_rank_own ? p->by_rank_cap : 0) * sizeof *p->by_rank_own +
                   p->chunks_cap * sizeof *p->members +
                   (p->nmembers + MEMBERS_A_CHUNK - 1) / MEMBERS_A_CHUNK * MEMBERS_A_CHUNK *
                       sizeof **p->members;
    for (size_t b = 0; b < p->nkeys; b++)
        bytes += p->index[b].nslots * sizeof *p->index[b].slots;
    bytes += p->nhot * (sizeof *p->hot_count + sizeof *p->hot_last) +
             p->listed_chunks_cap * sizeof *p->listed +
             (p->nlisted + HOT_LISTED_A_CHUNK - 1) / HOT_LISTED_A_CHUNK * HOT_LISTED_A_CHUNK *
                 sizeof **p->listed;
    return bytes + dd_key_table_bytes(&p->exact);
}

void dd_placer_finish(dd_placer *p, size_t n, dd_clusters *out)
{
    memset(out, 0, sizeof *out);
    out->search = p->counts;
    out->id_of = dd_calloc(n ? n : 1, sizeof *out->id_of);
    out->dropped = dd_calloc(n ? n : 1, sizeof *out->dropped);
    placer_grow(p, n ? (uint32_t)n - 1 : 0);
    placed_doc *doc = p->doc;

    /* Ids in input order of the representatives; documents without words
     * are clusters of their own. A representative's rank is no longer
     * needed (p is freed next): it counts its members, then says where its
     * cluster is in out, not an array of its own. */
    uint32_t next_id = 0;
    for (size_t d = 0; d < n; d++)
        if (doc[d].rep_of == 0 || doc[d].rep_of == d + 1) {
            out->id_of[d] = ++next_id;
            doc[d].rank = 0;
        }
    for (size_t i = 0; i < p->nmembers; i++)
        doc[doc[member_at(p, i)->doc].rep_of - 1].rank++;
    /* A cluster for each representative with members, made in input order
     * (the order of their ids), each with room for its members exactly:
     * the clusters are kept through the rounds (16 members' room each,
     * as they grew, was 6 MB of the 1 GB corpus's 10,000 clusters). */
    size_t nclusters = 0;
    for (size_t d = 0; d < n; d++)
        nclusters += doc[d].rep_of == d + 1 && doc[d].rank > 0;
    out->v = dd_malloc((nclusters ? nclusters : 1) * sizeof *out->v);
    for (size_t d = 0; d < n; d++) {
        if (doc[d].rep_of != d + 1 || doc[d].rank == 0)
            continue;
        dd_cluster *c = &out->v[out->n];
        c->id = out->id_of[d];
        c->cap = (size_t)doc[d].rank + 1;
        c->members = dd_malloc(c->cap * sizeof *c->members);
        c->members[0] = similarity_of(p, (uint32_t)d);
        c->members[0].of = (uint32_t)d;
        c->n = 1;
        doc[d].rank = (uint32_t)out->n++;
    }
    /* The members, in the order placed (their order in a cluster is made
     * below). */
    for (size_t i = 0; i < p->nmembers; i++) {
        uint32_t d = member_at(p, i)->doc, r = doc[d].rep_of - 1;
        out->id_of[d] = out->id_of[r];
        out->dropped[d] = true;
        dd_cluster *c = &out->v[doc[r].rank];
        c->members[c->n] = member_of(member_at(p, i));
        c->members[c->n++].of = r;
    }
    /* Members after the representative in input order. */
    for (size_t i = 0; i < out->n; i++)
        if (out->v[i].n > 2)
            qsort(out->v[i].members + 1, out->v[i].n - 1, sizeof(dd_member), compare_member_doc);
}

void dd_placer_free(dd_placer *p)
{
    if (!p)
        return;
    free(p->doc);
    for (size_t i = 0; i < (p->nmembers + MEMBERS_A_CHUNK - 1) / MEMBERS_A_CHUNK; i++)
        free(p->members[i]);
    free(p->members);
    for (size_t i = 0; i < (p->nlisted + HOT_LISTED_A_CHUNK - 1) / HOT_LISTED_A_CHUNK; i++)
        free(p->listed[i]);
    free(p->listed);
    free(p->hot_count);
    free(p->hot_last);
    free(p->by_rank_own);
    dd_key_table_free(&p->exact);
    for (size_t b = 0; b < p->nkeys; b++)
        dd_capped_map_free(&p->index[b]);
    free(p->index);
    free(p->keys);
    free(p->shared);
    free(p->cands);
    free(p->ranks);
    free(p->ranks_tmp);
    free(p->sets.a);
    free(p->sets.b);
    free(p);
}

/* ------------------------------------------------------ verifying ahead */

/* The documents of a batch are guessed to be candidates of each other
 * when they share one of their first AHEAD_BANDS bands: a quarter of the
 * 64 of the defaults, which a pair at Jaccard 0.5 shares with probability
 * 0.99 (the placer verifies what the guess misses when it asks). */
#define AHEAD_BANDS 16

/* What dd_placer_ahead.judged says of a pair that minhash_may_join
 * rejects. */
#define CANNOT_JOIN UINT32_MAX

struct dd_placer_ahead {
    const uint32_t *docs; /* the batch, in the order they are placed */
    size_t n, cap;
    uint32_t base; /* the documents placed before the batch: docs[k]'s rank is base + k */
    size_t nkeys;
    uint64_t *keys;      /* nkeys band or block keys per document of the batch */
    bool *shared;        /* nkeys per document: key_shared of its keys */
    bool *no_pairs;      /* no words, or an exact duplicate: placed without verifying */
    dd_capped_map bands; /* band key -> k, of the documents that may become representatives */
    /* the batch by document number, for the links: docs[k] << 32 | k,
     * sorted (and n more, the sort's scratch) */
    uint64_t *by_doc;
    dd_key_table exact; /* exact keys of the batch */
    /* Found by dd_placer_ahead_pairs (on the workers): for each document,
     * the representatives placed before the batch that its buckets list,
     * with the buckets they share, as the placer's lookups would find
     * them; gathered says which documents have theirs. */
    dd_candidate **before;
    size_t *nbefore, *before_cap;
    bool *gathered;
    uint8_t *before_count; /* nkeys per document: what its buckets listed */
    /* The MinHash stage (minhash_may_join) of the pairs the workers
     * guessed, per document: by rank, `same` or CANNOT_JOIN */
    dd_candidate **judged;
    size_t *njudged, *judged_cap;
    /* The representatives of the batch, where the index will list them, as
     * the placer places them (dd_placer_place_ahead); they go to the index
     * when the batch is placed (dd_placer_ahead_index), which so reads
     * only what it adds. */
    batch_reps reps;
};

dd_placer_ahead *dd_placer_ahead_new(void)
{
    dd_placer_ahead *a = dd_calloc(1, sizeof *a);
    dd_capped_map_init(&a->bands);
    dd_key_table_init(&a->exact, 2);
    return a;
}

void dd_placer_ahead_free(dd_placer_ahead *a)
{
    if (!a)
        return;
    for (size_t k = 0; k < a->cap; k++) {
        free(a->before[k]);
        free(a->judged[k]);
    }
    free(a->before);
    free(a->judged);
    free(a->njudged);
    free(a->judged_cap);
    free(a->nbefore);
    free(a->before_cap);
    free(a->gathered);
    free(a->before_count);
    batch_free(&a->reps);
    free(a->keys);
    free(a->shared);
    free(a->no_pairs);
    dd_capped_map_free(&a->bands);
    free(a->by_doc);
    dd_key_table_free(&a->exact);
    free(a);
}

void dd_placer_ahead_prepare(dd_placer_ahead *a, dd_placer *p, const uint32_t *docs, size_t n)
{
    const dd_signatures *s = p->s;
    a->docs = docs;
    a->n = n;
    a->base = p->placed;
    /* Placing the batch grows none of the placer's arrays: its documents
     * are placed while dd_placer_ahead_pairs reads them. */
    uint32_t last = 0;
    for (size_t k = 0; k < n; k++)
        last = docs[k] > last ? docs[k] : last;
    if (n)
        placer_grow(p, last);
    by_rank_room(p, (size_t)p->placed + n);
    a->nkeys = dd_near_keys_per_doc(&s->params);
    if (n > a->cap) {
        a->keys = dd_realloc(a->keys, n * a->nkeys * sizeof *a->keys);
        a->shared = dd_realloc(a->shared, n * a->nkeys * sizeof *a->shared);
        a->no_pairs = dd_realloc(a->no_pairs, n * sizeof *a->no_pairs);
        a->by_doc = dd_realloc(a->by_doc, 2 * n * sizeof *a->by_doc);
        a->gathered = dd_realloc(a->gathered, n * sizeof *a->gathered);
        a->before = dd_realloc(a->before, n * sizeof *a->before);
        a->nbefore = dd_realloc(a->nbefore, n * sizeof *a->nbefore);
        a->before_cap = dd_realloc(a->before_cap, n * sizeof *a->before_cap);
        a->judged = dd_realloc(a->judged, n * sizeof *a->judged);
        a->njudged = dd_realloc(a->njudged, n * sizeof *a->njudged);
        a->judged_cap = dd_realloc(a->judged_cap, n * sizeof *a->judged_cap);
        a->before_count = dd_realloc(a->before_count, n * a->nkeys * sizeof *a->before_count);
        for (size_t k = a->cap; k < n; k++) {
            a->before[k] = a->judged[k] = NULL;
            a->before_cap[k] = a->judged_cap[k] = 0;
        }
        a->cap = n;
    }
    memset(a->gathered, 0, n * sizeof *a->gathered);
    memset(a->njudged, 0, n * sizeof *a->njudged);
    batch_start(&a->reps, a->nkeys);
    dd_capped_map_clear(&a->bands);
    dd_key_table_reset(&a->exact, n);
    for (size_t k = 0; k < n; k++) {
        uint32_t d = docs[k];
        a->by_doc[k] = (uint64_t)d << 32 | k;
        /* As the placer will: no words, or the key of a document placed
         * before (before the batch, or in it): no verification. */
        a->no_pairs[k] = s->docs[d].words == 0 || key_placed(&p->exact, s->docs[d].key) ||
                         key_first(&a->exact, s->docs[d].key, d);
    }
    if (n > 1)
        dd_sort_u64(a->by_doc, a->by_doc + n, n);
}

void dd_placer_ahead_keys(const dd_placer *p, dd_placer_ahead *a, size_t k)
{
    if (a->no_pairs[k])
        return;
    uint64_t *keys = a->keys + k * a->nkeys;
    index_keys(p->s, a->docs[k], keys);
    keys_shared(p->s, keys, a->nkeys, a->shared + k * a->nkeys);
}

void dd_placer_ahead_guess(dd_placer_ahead *a)
{
    for (size_t k = 0; k < a->n; k++) {
        if (a->no_pairs[k])
            continue;
        const uint64_t *keys = a->keys + k * a->nkeys;
        const bool *shared = a->shared + k * a->nkeys;
        for (size_t b = 0; b < a->nkeys && b < AHEAD_BANDS; b++)
            if (shared[b])
                dd_capped_map_add(&a->bands, keys[b], (uint32_t)k, DD_BUCKET_CAP);
    }
}

/* The position in the batch of document d, or a->n if it is not there. */
static size_t ahead_position(const dd_placer_ahead *a, uint32_t d)
{
    size_t lo;
    DD_LOWER_BOUND(lo, a->n, i, a->by_doc[i] >> 32 < d);
    return lo < a->n && a->by_doc[lo] >> 32 == d ? (uint32_t)a->by_doc[lo] : a->n;
}

void dd_ahead_scratch_free(dd_ahead_scratch *w)
{
    free(w->ranks);
    free(w->linked);
    free(w->tmp);
    free(w->cands);
    memset(w, 0, sizeof *w);
}

/*
 * The placer's choice (dd_placer_place) with what is known before the
 * batch: representatives placed before it, in d's buckets and links, as
 * the placer will see them; and the documents of the batch before d, in
 * its buckets or links, taken as representatives (those that join a
 * cluster will not be, a wasted pair). Ranks: those of the placer, the
 * batch's following on (p->placed + k).
 */
size_t dd_placer_ahead_pairs(const dd_placer *p, dd_placer_ahead *a, size_t k, dd_ahead_scratch *w,
                             uint32_t **out, size_t *cap)
{
    const dd_signatures *s = p->s;
    if (a->no_pairs[k])
        return 0;
    uint32_t d = a->docs[k], base = a->base;
    const uint64_t *keys = a->keys + k * a->nkeys;
    const bool *shared = a->shared + k * a->nkeys;
    size_t nranks = 0, nlinked = 0;
    for (size_t b = 0; b < a->nkeys; b++)
        if (shared[b])
            dd_capped_map_prefetch(&p->index[b], keys[b]);
    memset(a->before_count + k * a->nkeys, 0, a->nkeys * sizeof *a->before_count);
    for (size_t b = 0; b < a->nkeys; b++) {
        if (!shared[b])
            continue;
        uint32_t count = append_listed(&p->index[b], keys[b], 1, &w->ranks, &w->ranks_cap, &nranks);
        a->before_count[k * a->nkeys + b] = (uint8_t)count;
        if (count == DD_BUCKET_CAP) /* full: split, as listed_ranks looks it up */
            append_listed(&p->index[b], second_key(s, d, b, keys[b]), SUB_BUCKET_SHARES, &w->ranks,
                          &w->ranks_cap, &nranks);
    }
    /* What the placer's lookups would find before the batch: each
     * representative once, with the buckets it shares. */
    dd_grow(&w->tmp, &w->tmp_cap, nranks + 1, sizeof *w->tmp);
    a->nbefore[k] = count_ranks(w->ranks, w->tmp, nranks, &a->before[k], &a->before_cap[k], 0);
    a->gathered[k] = true;
    if (s->params.method != DD_METHOD_MINHASH || !s->params.verify_exact)
        return 0;
    for (size_t b = 0; b < a->nkeys && b < AHEAD_BANDS; b++) {
        dd_capped_iter it = dd_capped_map_find(&a->bands, keys[b]);
        for (uint32_t j; dd_capped_next(&it, &j);)
            if (j < k) {
                dd_grow(&w->ranks, &w->ranks_cap, nranks + 1, sizeof *w->ranks);
                w->ranks[nranks++] = base + j;
            }
    }
    for (size_t l = s->links ? s->link_start[d] : 0; s->links && l < s->link_start[d + 1]; l++) {
        uint32_t r = s->links[l], rank;
        /* (a document of the batch is placed on another thread meanwhile:
         * what the placer has of it is not read) */
        size_t j = ahead_position(a, r);
        if (j < a->n) {
            if (j >= k || a->no_pairs[j])
                continue;
            rank = base + (uint32_t)j;
        } else if (r < p->cap && p->doc[r].rep_of == r + 1) {
            rank = p->doc[r].rank;
        } else {
            continue;
        }
        dd_grow(&w->linked, &w->linked_cap, nlinked + 1, sizeof *w->linked);
        w->linked[nlinked++] = rank;
    }
    dd_grow(&w->tmp, &w->tmp_cap, (nranks > nlinked ? nranks : nlinked) + 1, sizeof *w->tmp);
    dd_sort_u32(w->ranks, w->tmp, nranks);
    dd_sort_u32(w->linked, w->tmp, nlinked);
    /* Each rank once, with the buckets it shares; linked ones always
     * chosen (as the placer does). */
    size_t n = 0, i = 0, l = 0;
    while (i < nranks || l < nlinked) {
        uint32_t rank = i < nranks && (l >= nlinked || w->ranks[i] <= w->linked[l]) ? w->ranks[i]
                                                                                    : w->linked[l];
        uint32_t buckets = 0;
        for (; i < nranks && w->ranks[i] == rank; i++)
            buckets++;
        bool linked = false;
        for (; l < nlinked && w->linked[l] == rank; l++)
            linked = true;
        dd_grow(&w->cands, &w->cands_cap, n + 1, sizeof *w->cands);
        w->cands[n++] = (dd_candidate){rank, linked ? UINT32_MAX : buckets};
    }
    n = dd_choose_candidates(w->cands, n, DD_MAX_CANDIDATES + nlinked);
    /* Their signatures are read next, each from anywhere in memory: ask
     * for them all at once, so that the waits overlap. */
    size_t line = 64 / sizeof *s->minhash;
    for (size_t c = 0; c < n; c++) {
        uint32_t rank = w->cands[c].rank;
        uint32_t r = rank < base ? doc_of_rank(p, rank) : a->docs[rank - base];
        __builtin_prefetch(&s->docs[r]);
        for (size_t v = 0; r < s->max_in_memory && v < s->params.num_perm; v += line)
            __builtin_prefetch(s->minhash + (size_t)r * s->params.num_perm + v);
    }
    size_t count = 0;
    dd_grow(&a->judged[k], &a->judged_cap[k], n + 1, sizeof *a->judged[k]);
    for (size_t c = 0; c < n; c++) {
        uint32_t rank = w->cands[c].rank, same;
        uint32_t r = rank < base ? doc_of_rank(p, rank) : a->docs[rank - base];
        bool may = minhash_may_join(s, d, r, &same);
        /* (a document of the batch placed before d has rank base + its
         * position: the placer gives the same pair the same rank) */
        a->judged[k][c] = (dd_candidate){rank, may ? same : CANNOT_JOIN};
        if (!may)
            continue;
        dd_grow(out, cap, count + 1, sizeof **out);
        (*out)[count++] = r;
    }
    a->njudged[k] = n;
    return count;
}

static bool ahead_judged(const dd_placer_ahead *a, size_t k, uint32_t rank, bool *may,
                         unsigned *same)
{
    const dd_candidate *v = a->judged[k];
    size_t lo; /* they are by rank (dd_choose_candidates) */
    DD_LOWER_BOUND(lo, a->njudged[k], i, v[i].rank < rank);
    if (lo == a->njudged[k] || v[lo].rank != rank)
        return false;
    *may = v[lo].shared != CANNOT_JOIN;
    *same = v[lo].shared;
    return true;
}

/* Document d, docs[k] of the batch, becomes a representative: where the
 * index will list it (its buckets not full, counting the batch's
 * representatives placed before it). */
static void ahead_list(dd_placer *p, dd_placer_ahead *a, size_t k, uint32_t d)
{
    const uint64_t *keys = a->keys + k * a->nkeys;
    const bool *shared = a->shared + k * a->nkeys;
    uint32_t rank = p->doc[d].rank;
    for (size_t b = 0; b < a->nkeys; b++) {
        if (!shared[b])
            continue;
        uint32_t count = a->gathered[k] ? a->before_count[k * a->nkeys + b]
                                        : listed_under(&p->index[b], keys[b]);
        if (batch_may_list(&a->reps, keys[b]))
            count += batch_listed_under(&a->reps, keys[b]);
        if (count < DD_BUCKET_CAP) {
            batch_add(&a->reps, b, keys[b], rank);
            p->counts.full_buckets += count + 1 == DD_BUCKET_CAP; /* d fills it */
            continue;
        }
        uint64_t sub = second_key(p->s, d, b, keys[b]);
        count = listed_under(&p->index[b], sub);
        if (batch_may_list(&a->reps, sub))
            count += batch_listed_under(&a->reps, sub);
        if (count < DD_BUCKET_CAP) {
            batch_add(&a->reps, b, sub, rank);
            p->counts.split++;
            p->counts.full_sub_buckets += count + 1 == DD_BUCKET_CAP;
        } else {
            p->counts.unlisted++;
        }
    }
}

size_t dd_placer_ahead_bands(const dd_placer_ahead *a) { return a->nkeys; }

void dd_placer_ahead_index(dd_placer *p, const dd_placer_ahead *a, size_t band)
{
    const listed_entry *v = a->reps.band[band];
    for (size_t i = 0; i < a->reps.n[band]; i++)
        dd_capped_map_add(&p->index[band], v[i].key, v[i].rank, DD_BUCKET_CAP);
}

uint32_t dd_placer_place_ahead(dd_placer *p, dd_placer_ahead *a, size_t k, dd_member *m)
{
    uint32_t d = a->docs[k], rep;
    if (place_first(p, d, m, &rep))
        return rep;
    uint64_t *keys = a->keys + k * a->nkeys;
    const bool *shared = a->shared + k * a->nkeys; /* (made by dd_placer_ahead_prepare) */
    if (!a->gathered[k]) { /* the lookups the workers did not do */
        index_keys(p->s, d, keys);
        size_t nranks =
            listed_ranks(p, d, keys, shared, NULL, &a->reps, &p->ranks, &p->ranks_cap, 0);
        size_t ncand = candidates_of_ranks(p, nranks, 0);
        return place_rest(p, d, keys, shared, ncand, a, k, m);
    }
    /* The representatives before the batch, as found; then those of the
     * batch placed so far, whose ranks are all higher. */
    size_t ncand = a->nbefore[k];
    dd_grow(&p->cands, &p->cands_cap, ncand + 1, sizeof *p->cands);
    memcpy(p->cands, a->before[k], ncand * sizeof *p->cands);
    size_t nranks = listed_ranks(p, d, keys, shared, a->before_count + k * a->nkeys, &a->reps,
                                 &p->ranks, &p->ranks_cap, 0);
    ncand = candidates_of_ranks(p, nranks, ncand);
    return place_rest(p, d, keys, shared, ncand, a, k, m);
}

void dd_rank_documents(const dd_signatures *s, uint32_t *order)
{
    size_t n = s->n;
    ranked *by_rank = dd_malloc((n ? n : 1) * sizeof *by_rank);
    for (size_t i = 0; i < n; i++)
        by_rank[i] = (ranked){s->params.keep == DD_KEEP_LONGEST ? s->docs[i].words : 0, (uint32_t)i};
    if (n > 1)
        qsort(by_rank, n, sizeof *by_rank, compare_ranked);
    for (size_t i = 0; i < n; i++)
        order[i] = by_rank[i].doc;
    free(by_rank);
}

void dd_signatures_link(dd_signatures *s, const dd_doc_pair *pairs, size_t npairs)
{
    size_t n = s->n;
    uint32_t *order = dd_malloc((n ? n : 1) * sizeof *order);
    uint32_t *rank_of = dd_malloc((n ? n : 1) * sizeof *rank_of);
    dd_rank_documents(s, order);
    for (size_t r = 0; r < n; r++)
        rank_of[order[r]] = (uint32_t)r;
    /* Each pair both ways, the partner by its rank, grouped by document. */
    size_t *start = dd_calloc(n + 1, sizeof *start);
    for (size_t k = 0; k < npairs; k++)
        if (pairs[k].a != pairs[k].b) {
            start[pairs[k].a + 1]++;
            start[pairs[k].b + 1]++;
        }
    for (size_t d = 0; d < n; d++)
        start[d + 1] += start[d];
    uint32_t *links = dd_malloc((start[n] ? start[n] : 1) * sizeof *links);
    size_t *fill = dd_malloc((n ? n : 1) * sizeof *fill);
    memcpy(fill, start, n * sizeof *fill);
    for (size_t k = 0; k < npairs; k++)
        if (pairs[k].a != pairs[k].b) {
            links[fill[pairs[k].a]++] = rank_of[pairs[k].b];
            links[fill[pairs[k].b]++] = rank_of[pairs[k].a];
        }
    free(fill);
    /* Each document's partners by rank, once each, the best-ranked
     * DD_MAX_LINKS kept, as documents, packed in place. */
    size_t w = 0;
    for (size_t d = 0; d < n; d++) {
        size_t from = start[d], to = start[d + 1], kept = 0;
        start[d] = w;
        if (to - from > 1)
            qsort(links + from, to - from, sizeof *links, dd_compare_u32);
        uint32_t prev = UINT32_MAX; /* no rank */
        for (size_t i = from; i < to && kept < DD_MAX_LINKS; i++) {
            uint32_t rank = links[i];
            if (rank == prev)
                continue;
            prev = rank;
            links[w++] = order[rank]; /* w <= i: what is still to read stays */
            kept++;
        }
    }
    start[n] = w;
    free(order);
    free(rank_of);
    free(s->link_start);
    free(s->links);
    s->link_start = start;
    s->links = dd_realloc(links, (w ? w : 1) * sizeof *links);
}

void dd_cluster_documents(const dd_signatures *s, dd_clusters *out)
{
    size_t n = s->n;
    uint32_t *order = dd_malloc((n ? n : 1) * sizeof *order);
    dd_rank_documents(s, order);
    dd_placer *p = dd_placer_new(s);
    dd_placer_reserve(p, n);
    dd_member m;
    for (size_t i = 0; i < n; i++)
        dd_placer_place(p, order[i], &m);
    free(order);
    dd_placer_finish(p, n, out);
    dd_placer_free(p);
}

void dd_cluster_nothing(size_t n, dd_clusters *out)
{
    memset(out, 0, sizeof *out);
    out->id_of = dd_calloc(n ? n : 1, sizeof *out->id_of);
    out->dropped = dd_calloc(n ? n : 1, sizeof *out->dropped);
    for (size_t i = 0; i < n; i++)
        out->id_of[i] = (uint32_t)i + 1;
}

void dd_clusters_free(dd_clusters *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].members);
    free(c->v);
    free(c->id_of);
    free(c->dropped);
    memset(c, 0, sizeof *c);
}
