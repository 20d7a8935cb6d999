/*
 * cluster_sweep.c - the clustering of a run whose memory budget is small:
 * the pairs of sorted band keys, swept in rank order (cluster_sweep.h).
 */
#include "run/cluster_sweep.h"

#include "engine/doc_pairs.h"
#include "io/scratch_array.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* The part of `parts` that key is in, by its top bits (keys are hashes). */
static size_t part_of(uint64_t key, size_t parts)
{
    return (size_t)(((key >> 32) * (uint64_t)parts) >> 32);
}

/* The pairs are counted by blocks of this many ranks of their later
 * document, so that the parts of the sweep are cut to fit their room. */
#define RANKS_A_BLOCK 256

/* Pairs are appended to the scratch array this many at a time. */
#define PAIRS_AT_ONCE 1024

/* The keys of this many documents are read back at a time. */
#define KEYS_READ_AT_ONCE 64

/* A scratch array's element is at most 4 KiB: the keys of a document that
 * take more are made again each part. */
#define MOST_KEYS_BYTES 4096

/* Pairs are read back this many at a time. */
#define PAIRS_READ_AT_ONCE 4096

typedef struct sweep {
    const dd_signatures *s;
    const uint32_t *docs;
    size_t n, nkeys;
    size_t hot_words;   /* 64-bit words of hot bits a document */
    uint64_t *hot_bits; /* per rank: bit b, its key in band b is a hot bucket's */
    uint32_t *block_pairs; /* pairs by block of RANKS_A_BLOCK later ranks */
    dd_scratch_array pairs;
    dd_rank_pair *pending; /* not appended yet */
    size_t npending;
    const char *tmp_dir;
    dd_sweep_stats *st;
    char **err;
} sweep;

static bool flush_pairs(sweep *w)
{
    if (!w->npending)
        return true;
    bool ok = dd_scratch_array_append(&w->pairs, w->pending, w->npending, w->err);
    w->npending = 0;
    return ok;
}

static bool add_pair(sweep *w, uint32_t later, uint32_t earlier)
{
    w->pending[w->npending++] = (dd_rank_pair){later, earlier, 1};
    w->block_pairs[later / RANKS_A_BLOCK]++;
    w->st->pairs++;
    return w->npending < PAIRS_AT_ONCE || flush_pairs(w);
}

/* The pairs and hot bands of the buckets of v[0..n), sorted. */
static bool bucket_pairs(sweep *w, const dd_band_entry *v, size_t n)
{
    for (size_t start = 0, end; start < n; start = end) {
        end = start + 1;
        while (end < n && v[end].band == v[start].band && v[end].key == v[start].key)
            end++;
        if (end - start < DD_BUCKET_CAP) {
            for (size_t j = start + 1; j < end; j++)
                for (size_t i = start; i < j; i++)
                    if (!add_pair(w, v[j].rank, v[i].rank))
                        return false;
            continue;
        }
        w->st->hot_entries += end - start;
        for (size_t i = start; i < end; i++)
            w->hot_bits[(size_t)v[i].rank * w->hot_words + v[i].band / 64] |= 1ULL
                                                                              << (v[i].band % 64);
    }
    return true;
}

/* The keys of part k of parts, of every document that may lead, appended
 * to *part: from keys_file (the keys of those documents, in rank order)
 * when it is open, else made again from their signatures. */
static void part_entries(const sweep *w, const bool *may_lead, const dd_scratch_array *keys_file,
                         size_t k, size_t parts, dd_band_entries *part, uint64_t *keys,
                         uint64_t **buf, size_t *buf_cap)
{
    part->n = 0;
    const uint64_t *v = NULL;
    size_t read = 0, got = 0; /* of keys_file: elements read, and in v */
    for (size_t r = 0; r < w->n; r++) {
        if (!may_lead[r])
            continue;
        const uint64_t *of = keys;
        if (keys_file) {
            if (got == 0) {
                got = keys_file->n - read < KEYS_READ_AT_ONCE ? keys_file->n - read
                                                               : KEYS_READ_AT_ONCE;
                v = dd_scratch_array_span(keys_file, read, got, buf, buf_cap);
                read += got;
            }
            of = v;
            v += w->nkeys;
            got--;
        } else {
            dd_signature_keys(w->s, w->docs[r], keys);
        }
        for (size_t b = 0; b < w->nkeys; b++) {
            if (part_of(of[b], parts) != k)
                continue;
            dd_grow(&part->v, &part->cap, part->n + 1, sizeof *part->v);
            part->v[part->n++] = (dd_band_entry){of[b], (uint32_t)b, (uint32_t)r};
        }
    }
}

/* The group step: the band keys of the documents that may lead, a part of
 * the keys at a time within room bytes, to pairs and hot bands. With more
 * than one part, the keys are made once, to a scratch file read once a
 * part (in large reads, through the page cache), rather than made again
 * from the MinHash values each time (one read of their scratch file a
 * document, past their share: 47 parts at 1 GB and --memory 16M read 2.3
 * GB that way, 4.5 million reads). */
static bool group(sweep *w, const bool *may_lead, size_t room)
{
    size_t leaders = 0;
    for (size_t r = 0; r < w->n; r++)
        leaders += may_lead[r];
    uint64_t entries = (uint64_t)leaders * w->nkeys;
    size_t per_part = room / sizeof(dd_band_entry);
    if (per_part < 1)
        per_part = 1;
    size_t parts = (size_t)((entries + per_part - 1) / per_part);
    if (parts < 1)
        parts = 1;
    w->st->key_parts = parts;
    w->st->entries = entries;
    uint64_t *keys = dd_malloc(w->nkeys * sizeof *keys);
    bool ok = true;
    dd_scratch_array keys_file;
    bool keyed = parts > 1 && w->nkeys * sizeof *keys <= MOST_KEYS_BYTES;
    if (keyed) {
        /* (a room of 1 byte: no element in memory; 0 would be no limit) */
        dd_scratch_array_init(&keys_file, w->nkeys * sizeof *keys, 1, w->tmp_dir,
                              "band keys of documents");
        for (size_t r = 0; r < w->n && ok; r++) {
            if (!may_lead[r])
                continue;
            dd_signature_keys(w->s, w->docs[r], keys);
            ok = dd_scratch_array_append(&keys_file, keys, 1, w->err);
        }
        w->st->keys_scratch = dd_scratch_array_scratch_bytes(&keys_file);
    }
    dd_band_entries part = {0};
    uint64_t *buf = NULL;
    size_t buf_cap = 0;
    for (size_t k = 0; k < parts && ok; k++) {
        part_entries(w, may_lead, keyed ? &keys_file : NULL, k, parts, &part, keys, &buf,
                     &buf_cap);
        if (part.cap * sizeof *part.v > w->st->most_held)
            w->st->most_held = part.cap * sizeof *part.v;
        dd_band_entries_sort(part.v, part.n);
        ok = bucket_pairs(w, part.v, part.n);
        if (part.cap > 2 * per_part) /* a part far past its room: not kept for the next */
            dd_band_entries_free(&part);
    }
    if (keyed)
        dd_scratch_array_free(&keys_file);
    free(buf);
    dd_band_entries_free(&part);
    free(keys);
    return ok && flush_pairs(w);
}

/* The pairs whose later document has a rank in [lo, hi), sorted, each once
 * with the buckets it shares, to *out. */
static void pairs_of_ranks(const sweep *w, uint32_t lo, uint32_t hi, dd_rank_pairs *out,
                           dd_rank_pair **buf, size_t *buf_cap)
{
    out->n = 0;
    for (size_t at = 0; at < w->pairs.n; at += PAIRS_READ_AT_ONCE) {
        size_t k = w->pairs.n - at < PAIRS_READ_AT_ONCE ? w->pairs.n - at : PAIRS_READ_AT_ONCE;
        const dd_rank_pair *v = dd_scratch_array_span(&w->pairs, at, k, buf, buf_cap);
        for (size_t i = 0; i < k; i++) {
            if (v[i].later < lo || v[i].later >= hi)
                continue;
            dd_grow(&out->v, &out->cap, out->n + 1, sizeof *out->v);
            out->v[out->n++] = v[i];
        }
    }
    dd_rank_pairs_count(out);
}

/* The sweep: every document placed in rank order, given its pairs, its
 * twin and its hot bands, the pairs read a run of ranks at a time within
 * room bytes. */
static void place_all(sweep *w, const uint32_t *twin, size_t room, dd_clusters *out)
{
    const dd_signatures *s = w->s;
    dd_placer *p = dd_placer_new(s);
    dd_placer_reserve_given(p, s->n);
    bool *hot = dd_calloc(w->nkeys ? w->nkeys : 1, sizeof *hot);
    dd_given_pair *given = NULL;
    size_t given_cap = 0;
    dd_rank_pairs ranked = {0};
    dd_rank_pair *buf = NULL;
    size_t buf_cap = 0;
    size_t most = room / sizeof(dd_rank_pair), nblocks = (w->n + RANKS_A_BLOCK - 1) / RANKS_A_BLOCK;
    dd_member m;
    for (size_t block = 0; block < nblocks;) {
        /* The blocks whose pairs fit the room (one at least). */
        size_t end = block, held = 0;
        do
            held += w->block_pairs[end++];
        while (end < nblocks && held + w->block_pairs[end] <= most);
        uint32_t lo = (uint32_t)(block * RANKS_A_BLOCK);
        uint32_t hi = (uint32_t)(end * RANKS_A_BLOCK < w->n ? end * RANKS_A_BLOCK : w->n);
        pairs_of_ranks(w, lo, hi, &ranked, &buf, &buf_cap);
        w->st->rank_parts++;
        if (ranked.cap * sizeof *ranked.v > w->st->most_held)
            w->st->most_held = ranked.cap * sizeof *ranked.v;
        size_t at = 0;
        for (uint32_t r = lo; r < hi; r++) {
            size_t ng = 0;
            for (; at < ranked.n && ranked.v[at].later == r; at++) {
                dd_grow(&given, &given_cap, ng + 1, sizeof *given);
                given[ng++] = (dd_given_pair){.earlier = ranked.v[at].earlier,
                                              .shares = ranked.v[at].shares,
                                              .verdict = DD_VERDICT_UNKNOWN};
            }
            const uint64_t *bits = w->hot_bits + (size_t)r * w->hot_words;
            for (size_t b = 0; b < w->nkeys; b++)
                hot[b] = bits[b / 64] >> (b % 64) & 1;
            dd_placer_place_given(p, w->docs[r], twin[r], hot, given, ng, &m);
        }
        if (ranked.cap > 2 * most) /* a part far past its room: not kept for the next */
            dd_rank_pairs_free(&ranked);
        block = end;
    }
    w->st->placer_bytes = dd_placer_bytes(p);
    dd_placer_finish(p, s->n, out);
    dd_placer_free(p);
    dd_rank_pairs_free(&ranked);
    free(buf);
    free(given);
    free(hot);
}

bool dd_cluster_sweep(const dd_signatures *s, const uint32_t *docs, size_t ndocs, size_t share,
                      const char *tmp_dir, dd_clusters *out, dd_sweep_stats *st, char **err)
{
    dd_sweep_stats own;
    sweep w = {.s = s, .docs = docs, .n = ndocs, .nkeys = dd_near_keys_per_doc(&s->params),
               .tmp_dir = tmp_dir, .st = st ? st : &own, .err = err};
    memset(w.st, 0, sizeof *w.st);
    /* Half the share for the keys of a part, or for the pairs of a run of
     * ranks; the other half for the pairs kept in memory (past it, in a
     * scratch file). */
    size_t room = share / 2;
    w.hot_words = (w.nkeys + 63) / 64;
    w.hot_bits = dd_calloc(ndocs ? ndocs * w.hot_words : 1, sizeof *w.hot_bits);
    w.block_pairs = dd_calloc(ndocs / RANKS_A_BLOCK + 1, sizeof *w.block_pairs);
    w.pending = dd_malloc(PAIRS_AT_ONCE * sizeof *w.pending);
    dd_scratch_array_init(&w.pairs, sizeof(dd_rank_pair), share - room ? share - room : 1, tmp_dir,
                          "pairs of documents");
    bool *may_lead;
    uint32_t *twin = dd_doc_twins(s, docs, ndocs, &may_lead);
    bool ok = group(&w, may_lead, room);
    free(may_lead);
    free(w.pending);
    if (ok) {
        w.st->pairs_scratch = dd_scratch_array_scratch_bytes(&w.pairs);
        place_all(&w, twin, room, out);
    }
    dd_scratch_array_free(&w.pairs);
    free(twin);
    free(w.block_pairs);
    free(w.hot_bits);
    return ok;
}
