/*
 * cluster_sweep.c - the clustering of a run whose memory budget is small:
 * the pairs of sorted band keys, swept in rank order (cluster_sweep.h).
 */
#include "run/cluster_sweep.h"

#include "engine/doc_pairs.h"
#include "io/scratch_array.h"
#include "kway_merge.h"
#include "run/memory.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* The part of `parts` that key is in, by its top bits (keys are hashes). */
static size_t part_of(uint64_t key, size_t parts)
{
    return (size_t)(((key >> 32) * (uint64_t)parts) >> 32);
}

/*
 * What the sweep holds at once, within its share (cluster_sweep.h): half of
 * it for the pairs (the buffer of those pending, less room for the places
 * of its runs), half for the keys of a part being sorted, with what
 * reading them takes (the places of their chunks, a read buffer, where
 * each band starts); then, as the documents are placed, what the pairs
 * hold (the one run in memory, or each run's read buffer), and the rest
 * for the pairs of a batch (their verdicts, the representatives sent to
 * exact verification, and what the caller holds for each:
 * dd_sweep_ahead.pair_bytes). Each is sized from what is left, and
 * counted as allocated (most_held).
 *
 * Below these sizes the sweep does not go, whatever its share: a chunk of
 * a part's keys in their scratch file is at least this many bytes, and a
 * run of pairs is read this many at least at a time (and written as many).
 * When a small share is cut among many parts or runs, it is passed by that
 * much each, rather than make tiny reads (cluster_sweep.h: the least).
 */
#define LEAST_CHUNK_BYTES 256
#define LEAST_READ_BYTES 4096
/* And a part of the keys has room for this many bytes of them at least. */
#define LEAST_PART_BYTES 1024

/* A run of pairs, or a part's chunks, is read at most this many bytes at
 * a time: the reads come from the page cache, and buffers below malloc's
 * mapping threshold (run/memory.c: 1 MiB) stay in its heap once freed,
 * for the rounds after (four of 512 KiB at 1 GB and --memory 16M raised
 * the peak that way). */
#define MOST_READ_BYTES ((size_t)64 << 10)

/* The sweep places this many ranks a batch at most (as run/corpus.c's
 * placer batches): the pairs of a batch are judged on the pool while its
 * documents are placed, and a batch waits for the one before it. */
#define BATCH_RANKS 512

/* The places of this many runs of pairs are kept room for (16 bytes
 * each) beside the buffer of pairs pending: more runs take more. */
#define RUN_PLACES 256

/* The keys are written in this many pieces (by their top bits) for each
 * part their room asks for: a part read back is a run of whole pieces, as
 * many as fit the room, so that however unevenly the keys fall, no part
 * passes it (but a piece that alone does: thousands of documents sharing
 * a band key). */
#define PIECES_A_PART 4

/*
 * What the documents are placed with beyond their pairs, a document's
 * twin and its hot buckets, follow the pairs (the runs, merged in rank
 * order), not arrays of every document (12 bytes each): a record of the
 * pairs' kind whose earlier rank is past any document's says it (the
 * records of a rank come after its pairs). TWIN_RECORD's shares is the
 * twin's rank; HOT_RECORD - b's shares is the number of the hot bucket
 * of the document's key in band b, and HOT_RECORD - nkeys - b's the
 * number of its sub-bucket there (sub_record) when another document of
 * the bucket has its second key. The buckets are numbered as the group
 * step finds them: the placer keeps their representatives by number
 * (dd_placer_place_numbered), not by key in an index. A document has one
 * twin at most and one key a band: no two records of a rank are the same
 * pair.
 */
#define TWIN_RECORD UINT32_MAX
#define HOT_RECORD (UINT32_MAX - 1)

typedef struct sweep {
    const dd_signatures *s;
    const uint32_t *docs; /* NULL: rank r is document r (doc_at) */
    size_t n, nkeys;
    size_t share;
    uint32_t first_record; /* the least earlier rank of a record (not a pair) */
    size_t numbered;       /* the hot buckets and sub-buckets found so far: the next one's number */
    bool write_failed;     /* a run of pairs could not be written (mark_hot) */
    /* The pairs: a buffer, sorted and written as a run of the scratch
     * array when full (with one run only, it stays in memory). */
    dd_rank_pair *pending;
    size_t npending, pending_cap;
    dd_scratch_array runs_file;
    size_t *run_first, *run_n; /* run i: elements [run_first[i], + run_n[i]) of runs_file */
    size_t nruns, runs_cap;
    size_t first_runs; /* runs_cap when the first is written */
    const char *tmp_dir;
    dd_sweep_stats *st;
    char **err;
} sweep;

/* The document of rank r. */
static inline uint32_t doc_at(const sweep *w, size_t r)
{
    return w->docs ? w->docs[r] : (uint32_t)r;
}

/* The heap in use now, for dd_sweep_stats.heap_most. */
static void heap_now(sweep *w, const char *when)
{
    size_t now = dd_memory_heap_in_use();
    if (now > w->st->heap_most) {
        w->st->heap_most = now;
        w->st->heap_most_when = when;
    }
}

static void held(sweep *w, size_t bytes, const char *when)
{
    if (bytes > w->st->most_held) {
        w->st->most_held = bytes;
        w->st->most_held_when = when;
    }
    heap_now(w, when);
}

/* What the pairs hold while the keys are grouped: the buffer pending and
 * the places of the runs. */
static size_t pairs_bytes(const sweep *w)
{
    return w->pending_cap * sizeof *w->pending + w->runs_cap * 2 * sizeof(size_t);
}

/* What sorting a part takes besides its keys (sort_part: where each band
 * starts, and the next place of each), and the keys of a document made at
 * once (distribute_keys, all_entries). */
static size_t sort_bytes(const sweep *w)
{
    return (2 * w->nkeys + 1) * sizeof(size_t) + w->nkeys * sizeof(uint64_t);
}

/* ------------------------------------------------------- runs of pairs */

/* The pairs pending, sorted by later then earlier rank (each once, its
 * buckets summed), written as the next run. */
static bool write_run(sweep *w)
{
    dd_rank_pairs run = {w->pending, w->npending, w->pending_cap};
    dd_rank_pairs_count(&run);
    if (w->nruns == w->runs_cap) {
        w->runs_cap = w->runs_cap ? 2 * w->runs_cap : w->first_runs;
        w->run_first = dd_realloc(w->run_first, w->runs_cap * sizeof *w->run_first);
        w->run_n = dd_realloc(w->run_n, w->runs_cap * sizeof *w->run_n);
    }
    w->run_first[w->nruns] = w->runs_file.n;
    w->run_n[w->nruns++] = run.n;
    w->npending = 0;
    w->st->pairs_scratch += run.n * sizeof *run.v;
    w->st->pair_runs++;
    return dd_scratch_array_append(&w->runs_file, run.v, run.n, w->err);
}

/* A pair, or a record (TWIN_RECORD, HOT_RECORD), to the pairs pending. */
static bool add_record(sweep *w, uint32_t later, uint32_t earlier, uint32_t shares)
{
    if (w->write_failed || (w->npending == w->pending_cap && !write_run(w))) {
        w->write_failed = true;
        return false;
    }
    w->pending[w->npending++] = (dd_rank_pair){later, earlier, shares};
    return true;
}

/* dd_bucket_sink.pair: a pair of a bucket of fewer than DD_BUCKET_CAP. */
static bool add_pair(void *ctx, uint32_t later, uint32_t earlier, uint32_t shares)
{
    sweep *w = ctx;
    w->st->pairs++;
    return add_record(w, later, earlier, shares);
}

/* The earlier rank of the record of a document's sub-bucket in band b. */
static uint32_t sub_record(const sweep *w, size_t b)
{
    return (uint32_t)(HOT_RECORD - w->nkeys - b);
}

/* dd_bucket_sink.hot: a hot bucket, numbered, says its number to its
 * documents, and so does each of its sub-buckets (by the documents'
 * second keys, dd_near_second_key) that two of them or more share: a
 * record each (a failed write stops the walk at its next pair, and is
 * said after it). */
static void mark_hot(void *ctx, const dd_band_entry *v, size_t n)
{
    sweep *w = ctx;
    size_t b = v[0].band;
    uint64_t key = v[0].key;
    uint32_t bucket = (uint32_t)w->numbered++;
    w->st->hot_buckets++;
    w->st->hot_entries += n;
    for (size_t i = 0; i < n; i++)
        add_record(w, v[i].rank, HOT_RECORD - (uint32_t)b, bucket);
    /* Its entries by second key: v is the part's own array (group), whose
     * entries the walk reads no more once it gave them here, so they are
     * sorted again in place. */
    dd_band_entry *by_sub = (dd_band_entry *)v;
    for (size_t i = 0; i < n; i++)
        by_sub[i].key = dd_near_second_key(w->s, doc_at(w, by_sub[i].rank), b, key);
    dd_band_entries_sort(by_sub, n);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && by_sub[j].key == by_sub[i].key; j++)
            ;
        if (j - i < 2)
            continue; /* alone: nothing is ever found there */
        uint32_t sub = (uint32_t)w->numbered++;
        w->st->sub_buckets++;
        for (size_t k = i; k < j; k++)
            add_record(w, by_sub[k].rank, sub_record(w, b), sub);
    }
}

/* The pairs and hot buckets of the buckets of v[0..n), sorted. */
static bool bucket_pairs(sweep *w, const dd_band_entry *v, size_t n)
{
    return dd_bucket_walk(v, n, &(dd_bucket_sink){w, add_pair, mark_hot, false}) &&
           !w->write_failed;
}

/* ------------------------------------------------------------ twins */

/* dd_ranked_key_twins' twin: a TWIN_RECORD to the pairs. */
static bool add_twin(void *ctx, uint32_t rank, uint32_t first)
{
    sweep *w = ctx;
    w->st->twins++;
    return add_record(w, rank, TWIN_RECORD, first);
}

/* The twins of the documents (as dd_doc_twins: the first document with a
 * document's exact key, when that is another) as TWIN_RECORDs of the
 * pairs, and may_lead[rank] (a document with words and no twin): the
 * exact keys a part at a time (by their top bits: a key is in one part),
 * each part's within room bytes, sorted in place. False when a run of
 * pairs could not be written. */
static bool find_twins(sweep *w, size_t room, bool *may_lead)
{
    const dd_signatures *s = w->s;
    size_t with_words = 0;
    for (size_t r = 0; r < w->n; r++)
        with_words += s->docs[doc_at(w, r)].words > 0;
    size_t per_part = room / sizeof(dd_ranked_key) ? room / sizeof(dd_ranked_key) : 1;
    size_t parts = (with_words + per_part - 1) / per_part;
    parts = parts ? parts : 1;
    size_t *count = dd_calloc(parts, sizeof *count), most = 0;
    for (size_t r = 0; r < w->n; r++)
        if (s->docs[doc_at(w, r)].words > 0)
            count[part_of(s->docs[doc_at(w, r)].key.hi, parts)]++;
    for (size_t p = 0; p < parts; p++)
        most = count[p] > most ? count[p] : most;
    w->st->twin_parts = parts;
    dd_ranked_key *v = dd_malloc((most ? most : 1) * sizeof *v);
    held(w, pairs_bytes(w) + most * sizeof *v + parts * sizeof *count, "twins found");
    bool ok = true;
    for (size_t p = 0; p < parts && ok; p++) {
        size_t k = 0;
        for (size_t r = 0; r < w->n; r++) {
            const dd_doc_sig *d = &s->docs[doc_at(w, r)];
            if (d->words > 0 && part_of(d->key.hi, parts) == p)
                v[k++] = (dd_ranked_key){d->key, (uint32_t)r};
        }
        dd_ranked_keys_sort(v, k);
        ok = dd_ranked_key_twins(v, k, may_lead, add_twin, w);
    }
    free(v);
    free(count);
    return ok;
}

/* ------------------------------------------------------ keys by parts */

/* The keys of the documents that may lead, by piece, in chunks of a
 * scratch file: each part (a run of pieces) reads its own chunks, once.
 * A chunk starts with a head (an entry's room: no key) that says where the
 * piece's chunk before it starts, so that the places of the chunks are in
 * the file, not in memory (8 bytes a chunk: a million keys in chunks of 16
 * took 500 KB, past the sweep's share at --memory 1M): a piece's chunks are
 * read from its last one back. The order the keys of a part are read in
 * does not matter: sort_part's order is total. */
typedef struct key_pieces {
    size_t pieces, chunk; /* entries a chunk at most, its head not counted */
    dd_scratch_array file;
    /* per piece, room for a chunk and its head: piece k's at buf + k * (chunk + 1) */
    dd_band_entry *buf;
    size_t *nbuf;       /* per piece: entries in its buffer */
    size_t *count;      /* per piece: its entries */
    size_t *last;       /* per piece: where its last chunk starts in the file, + 1 (0: none) */
    uint32_t *last_n;   /* per piece: the entries of that chunk */
} key_pieces;

/* A chunk's head: where the chunk before it of the same piece starts (+ 1;
 * 0: none) as its key, and its entries as its band. */
static dd_band_entry chunk_head(size_t before, uint32_t n)
{
    return (dd_band_entry){(uint64_t)before, n, 0};
}

/* What a piece holds in memory while the keys are written, besides its
 * chunk's buffer, and then while the parts are read. */
#define PIECE_BYTES (3 * sizeof(size_t) + sizeof(uint32_t))

/* The bytes of the buffers of the pieces, with chunks of chunk entries,
 * and what each piece holds beside. */
static uint64_t pieces_bytes(size_t pieces, size_t chunk)
{
    return (uint64_t)pieces * ((chunk + 1) * sizeof(dd_band_entry) + PIECE_BYTES);
}

/* The entries of a chunk whose buffers fit room bytes with what each piece
 * holds beside, LEAST_CHUNK_BYTES at least (then past the room). */
static size_t chunk_entries(size_t pieces, size_t room)
{
    const size_t least = LEAST_CHUNK_BYTES / sizeof(dd_band_entry);
    size_t per_piece = room / pieces;
    size_t chunk = per_piece > PIECE_BYTES ? (per_piece - PIECE_BYTES) / sizeof(dd_band_entry) : 0;
    return chunk > least ? chunk - 1 : least;
}

static bool write_chunk(key_pieces *kp, size_t k, char **err)
{
    size_t n = kp->nbuf[k];
    if (n == 0)
        return true;
    dd_band_entry *chunk = kp->buf + k * (kp->chunk + 1);
    chunk[0] = chunk_head(kp->last[k], kp->last_n[k]);
    kp->last[k] = kp->file.n + 1;
    kp->last_n[k] = (uint32_t)n;
    kp->nbuf[k] = 0;
    return dd_scratch_array_append(&kp->file, chunk, n + 1, err);
}

/* Every key of the documents that may lead, made once from the signatures
 * and written to the chunks of its piece, the buffers of the pieces
 * within room bytes. */
static bool distribute_keys(sweep *w, const bool *may_lead, size_t pieces, size_t room,
                            key_pieces *kp)
{
    memset(kp, 0, sizeof *kp);
    kp->pieces = pieces;
    size_t chunk = chunk_entries(pieces, room);
    kp->chunk = chunk;
    /* (a room of 1 byte: no element in memory; 0 would be no limit) */
    dd_scratch_array_init(&kp->file, sizeof(dd_band_entry), 1, w->tmp_dir,
                          "band keys of documents");
    kp->buf = dd_malloc(pieces * (chunk + 1) * sizeof *kp->buf);
    kp->nbuf = dd_calloc(pieces, sizeof *kp->nbuf);
    kp->count = dd_calloc(pieces, sizeof *kp->count);
    kp->last = dd_calloc(pieces, sizeof *kp->last);
    kp->last_n = dd_calloc(pieces, sizeof *kp->last_n);
    held(w, pairs_bytes(w) + pieces_bytes(pieces, chunk) + sort_bytes(w), "keys written");
    uint64_t *keys = dd_malloc(w->nkeys * sizeof *keys);
    bool ok = true;
    for (size_t r = 0; r < w->n && ok; r++) {
        if (!may_lead[r])
            continue;
        dd_signature_keys(w->s, doc_at(w, r), keys);
        for (size_t b = 0; b < w->nkeys && ok; b++) {
            size_t k = part_of(keys[b], pieces);
            kp->buf[k * (chunk + 1) + 1 + kp->nbuf[k]++] =
                (dd_band_entry){keys[b], (uint32_t)b, (uint32_t)r};
            kp->count[k]++;
            if (kp->nbuf[k] == chunk)
                ok = write_chunk(kp, k, w->err);
        }
    }
    for (size_t k = 0; k < pieces && ok; k++)
        ok = write_chunk(kp, k, w->err);
    free(keys);
    free(kp->buf);
    kp->buf = NULL;
    free(kp->nbuf);
    kp->nbuf = NULL;
    w->st->keys_scratch = dd_scratch_array_scratch_bytes(&kp->file);
    return ok;
}

/* The keys of pieces [first, last), read from their chunks (each piece's
 * from its last back) into part (room for them all), through *buf (*cap
 * its capacity), slice entries at a time at most. */
static void read_part(sweep *w, const key_pieces *kp, size_t first_piece, size_t last_piece,
                      dd_band_entries *part, dd_band_entry **buf, size_t *cap, size_t slice)
{
    part->n = 0;
    for (size_t k = first_piece; k < last_piece; k++) {
        size_t at = kp->last[k], n = kp->last_n[k];
        while (at) { /* the chunk at at - 1: its head, then n entries */
            size_t from = at - 1, left = n + 1;
            dd_band_entry head = {0};
            for (bool first = true; left; first = false) {
                size_t k_read = left < slice ? left : slice;
                const dd_band_entry *v = dd_scratch_array_span(&kp->file, from, k_read, buf, cap);
                if (first) {
                    head = v[0];
                    memcpy(part->v + part->n, v + 1, (k_read - 1) * sizeof *v);
                    part->n += k_read - 1;
                } else {
                    memcpy(part->v + part->n, v, k_read * sizeof *v);
                    part->n += k_read;
                }
                from += k_read;
                left -= k_read;
            }
            w->st->scratch_read += (n + 1) * sizeof(dd_band_entry);
            at = (size_t)head.key;
            n = head.band;
        }
    }
}

/* The part that starts at piece first: the pieces up to *last whose keys
 * fit most entries (one piece at least); returns their number. */
static size_t part_end(const key_pieces *kp, size_t first, size_t most, size_t *last)
{
    size_t n = 0, k = first;
    for (; k < kp->pieces && (k == first || n + kp->count[k] <= most); k++)
        n += kp->count[k];
    *last = k;
    return n;
}

static void key_pieces_free(key_pieces *kp)
{
    dd_scratch_array_free(&kp->file);
    free(kp->buf);
    free(kp->nbuf);
    free(kp->count);
    free(kp->last);
    free(kp->last_n);
}

/* The keys of every document that may lead, made from their signatures,
 * to *all (one part, room for entries of them made at once). */
static void all_entries(const sweep *w, const bool *may_lead, uint64_t entries,
                        dd_band_entries *all)
{
    uint64_t *keys = dd_malloc(w->nkeys * sizeof *keys);
    all->v = dd_malloc((entries ? entries : 1) * sizeof *all->v);
    all->cap = entries;
    all->n = 0;
    for (size_t r = 0; r < w->n; r++) {
        if (!may_lead[r])
            continue;
        dd_signature_keys(w->s, doc_at(w, r), keys);
        for (size_t b = 0; b < w->nkeys; b++)
            all->v[all->n++] = (dd_band_entry){keys[b], (uint32_t)b, (uint32_t)r};
    }
    free(keys);
}

/* Sorting a part's keys: by band first, in place (each entry carried to
 * its band's next place, taking the one there), then each band by key and
 * rank, the bands on the pool's threads when there is one. The order is
 * dd_band_entries_sort's (a document has one key a band: it is total). */
typedef struct band_sort {
    dd_band_entry *v;
    size_t *start; /* band b's entries: v[start[b] .. start[b + 1]) */
} band_sort;

static void sort_band(void *ctx, void *worker, size_t b)
{
    (void)worker;
    const band_sort *bs = ctx;
    dd_band_entries_sort(bs->v + bs->start[b], bs->start[b + 1] - bs->start[b]);
}

static void sort_part(const sweep *w, dd_pool *pool, dd_band_entries *part)
{
    size_t nkeys = w->nkeys, *start = dd_calloc(nkeys + 1, sizeof *start);
    size_t *next = dd_malloc((nkeys ? nkeys : 1) * sizeof *next);
    dd_band_entry *v = part->v;
    for (size_t i = 0; i < part->n; i++)
        start[v[i].band + 1]++;
    for (size_t b = 0; b < nkeys; b++) {
        start[b + 1] += start[b];
        next[b] = start[b];
    }
    for (size_t b = 0; b < nkeys; b++)
        while (next[b] < start[b + 1]) {
            dd_band_entry e = v[next[b]];
            while (e.band != b) {
                dd_band_entry there = v[next[e.band]];
                v[next[e.band]++] = e;
                e = there;
            }
            v[next[b]++] = e;
        }
    band_sort bs = {v, start};
    if (pool)
        dd_pool_for(pool, nkeys, &bs, sort_band);
    else
        for (size_t b = 0; b < nkeys; b++)
            sort_band(&bs, NULL, b);
    free(next);
    free(start);
}

/* The group step: the band keys of the documents that may lead, a part of
 * the keys at a time within room bytes (each sorted on the pool's threads,
 * NULL: none), to pairs and hot buckets. When they do not fit at once, the
 * keys are made once (from the MinHash values, which may be read from
 * their own scratch file one document at a time) and written in pieces;
 * the pieces are then read back a part (a run of them) at a time, each
 * piece once: not the whole file of keys once a part (47 parts at 1 GB
 * and --memory 16M read 2.3 GB that way). */
static bool group(sweep *w, const bool *may_lead, size_t room, dd_pool *pool)
{
    size_t leaders = 0;
    for (size_t r = 0; r < w->n; r++)
        leaders += may_lead[r];
    uint64_t entries = (uint64_t)leaders * w->nkeys;
    w->st->entries = entries;
    size_t keys_room = room > sort_bytes(w) + LEAST_PART_BYTES ? room - sort_bytes(w)
                                                                : LEAST_PART_BYTES;
    dd_band_entries part = {0};
    bool ok = true;
    if (entries * sizeof(dd_band_entry) <= keys_room) {
        w->st->key_parts = 1;
        all_entries(w, may_lead, entries, &part);
        held(w, pairs_bytes(w) + part.cap * sizeof *part.v + sort_bytes(w), "keys in one part");
        sort_part(w, pool, &part);
        ok = bucket_pairs(w, part.v, part.n);
    } else {
        /* Pieces: PIECES_A_PART for each part the room asks for, or as
         * many fewer as make their buffers (of LEAST_CHUNK_BYTES at least)
         * fit the room; one a part at least. */
        uint64_t bytes = entries * sizeof(dd_band_entry);
        size_t parts = (size_t)((bytes + keys_room - 1) / keys_room), pieces = parts;
        for (size_t a_part = PIECES_A_PART; a_part >= 1; a_part--) {
            pieces = parts * a_part;
            if (pieces_bytes(pieces, chunk_entries(pieces, keys_room)) <= keys_room)
                break;
        }
        key_pieces kp;
        ok = distribute_keys(w, may_lead, pieces, keys_room, &kp);
        /* Then a part: the pieces that fit the room left by what each
         * piece holds and a read buffer. */
        size_t slice_bytes = keys_room / 8 < LEAST_READ_BYTES   ? LEAST_READ_BYTES
                             : keys_room / 8 > MOST_READ_BYTES ? MOST_READ_BYTES
                                                               : keys_room / 8;
        size_t slice = slice_bytes / sizeof(dd_band_entry);
        size_t overhead = pieces * PIECE_BYTES + (slice + 1) * sizeof(dd_band_entry);
        size_t per_part = keys_room > overhead ? (keys_room - overhead) / sizeof(dd_band_entry) : 0;
        size_t largest = 0;
        for (size_t first = 0, last; first < pieces; first = last) {
            size_t n = part_end(&kp, first, per_part, &last);
            largest = n > largest ? n : largest;
        }
        part.v = dd_malloc((largest ? largest : 1) * sizeof *part.v);
        part.cap = largest;
        dd_band_entry *buf = NULL;
        size_t buf_cap = 0;
        for (size_t first = 0, last; first < pieces && ok; first = last) {
            part_end(&kp, first, per_part, &last);
            w->st->key_parts++;
            read_part(w, &kp, first, last, &part, &buf, &buf_cap, slice);
            held(w,
                 pairs_bytes(w) + part.cap * sizeof *part.v + pieces * PIECE_BYTES +
                     buf_cap * sizeof *buf + sort_bytes(w),
                 "a part of keys read");
            sort_part(w, pool, &part);
            ok = bucket_pairs(w, part.v, part.n);
        }
        free(buf);
        key_pieces_free(&kp);
    }
    dd_band_entries_free(&part);
    if (!ok)
        return false;
    if (w->nruns == 0) { /* one run: it stays in memory, its room past it given back */
        dd_rank_pairs run = {w->pending, w->npending, w->pending_cap};
        dd_rank_pairs_count(&run);
        w->npending = run.n;
        w->pending = dd_realloc(w->pending, (run.n ? run.n : 1) * sizeof *w->pending);
        w->pending_cap = run.n;
        return true;
    }
    return w->npending == 0 || write_run(w);
}

/* ------------------------------------------------- the runs, merged */

/* The runs of pairs (and records), merged in rank order by kway_merge.h:
 * each run is sorted by later then earlier rank (write_run); the same
 * pair in two runs comes out twice in a row, made one by next_batch. With
 * no run written, the pairs pending are the one run, in memory. The
 * sweep is the source's ctx. */
static size_t run_length(const void *ctx, size_t r)
{
    const sweep *w = ctx;
    return w->nruns ? w->run_n[r] : w->npending;
}

static size_t read_run(const void *ctx, size_t r, size_t from, void *out, size_t n)
{
    const sweep *w = ctx;
    if (w->nruns == 0)
        return dd_kway_read_held(w->pending, w->npending, from, out, n, sizeof *w->pending);
    size_t length = w->run_n[r];
    if (from >= length)
        return 0;
    if (n > length - from)
        n = length - from;
    dd_scratch_array_read(&w->runs_file, w->run_first[r] + from, n, out);
    w->st->scratch_read += n * sizeof(dd_rank_pair);
    return n;
}

static int compare_pairs(const void *a, const void *b)
{
    const dd_rank_pair *x = a, *y = b;
    if (x->later != y->later)
        return x->later < y->later ? -1 : 1;
    return (x->earlier > y->earlier) - (x->earlier < y->earlier);
}

/* The runs of w merged, each read within its share of room bytes
 * (LEAST_READ_BYTES to MOST_READ_BYTES a run; the one run in memory
 * through a buffer of LEAST_READ_BYTES). */
static dd_kway_merge *merge_runs(const sweep *w, size_t room)
{
    dd_kway_source src = {.ctx = w,
                          .size = sizeof(dd_rank_pair),
                          .nruns = w->nruns ? w->nruns : (w->npending ? 1 : 0),
                          .length = run_length,
                          .read = read_run,
                          .compare = compare_pairs};
    size_t bytes = LEAST_READ_BYTES;
    if (w->nruns) {
        bytes = room / w->nruns;
        bytes = bytes < LEAST_READ_BYTES  ? LEAST_READ_BYTES
                : bytes > MOST_READ_BYTES ? MOST_READ_BYTES
                                          : bytes;
    }
    return dd_kway_merge_new(&src, bytes / sizeof(dd_rank_pair));
}

/* What the pairs hold while the documents are placed: the merge's buffers
 * and heap, the places of the runs, and the one run in memory. */
static size_t merge_bytes(const sweep *w, const dd_kway_merge *m)
{
    size_t bytes = dd_kway_merge_bytes(m) + w->runs_cap * 2 * sizeof(size_t);
    return w->nruns ? bytes : bytes + w->pending_cap * sizeof *w->pending;
}

/* ------------------------------------------------------------ the sweep */

/* A batch of ranks [lo, hi) and their pairs: rank lo + k's are
 * given[from[k] .. from[k + 1]). */
typedef struct batch {
    const sweep *w;
    const dd_sweep_ahead *ahead;
    const dd_placer *placer; /* says which documents of ranks below lo lead */
    size_t lo, hi;
    dd_given_pair *given;
    size_t ngiven, given_cap;
    size_t most_given; /* given's capacity passes it only for a batch's first rank */
    size_t carried;    /* pairs at given + ngiven: the next batch's first rank's, taken */
    size_t *from;
    uint32_t *reps; /* per pair: room for the representatives to verify ahead */
    size_t reps_cap;
    uint64_t *judged, *exact; /* per rank of the batch (stats) */
    /* the records of the batch's ranks (TWIN_RECORD, HOT_RECORD), in
     * rank order: room for records_cap, reserved from the share (most
     * documents have none) */
    dd_rank_pair *records;
    size_t nrecords, records_cap, rank_records;
} batch;

/* What a batch holds of its own: the pairs given, the representatives to
 * verify ahead, where each rank's pairs start and what it did. */
static size_t batch_bytes(const batch *b)
{
    return b->given_cap * sizeof *b->given + b->reps_cap * sizeof *b->reps +
           (BATCH_RANKS + 1) * sizeof *b->from + 2 * BATCH_RANKS * sizeof *b->judged +
           b->records_cap * sizeof *b->records;
}

/* *v (capacity *cap, of elements of size bytes) made room for need, by
 * doubling but never past most (unless need is). */
static void grow_within(void *v, size_t *cap, size_t need, size_t most, size_t size)
{
    if (need <= *cap)
        return;
    size_t c = *cap ? 2 * *cap : 16;
    if (c > most)
        c = most;
    if (c < need)
        c = need;
    void **pv = v;
    *pv = dd_realloc(*pv, c * size);
    *cap = c;
}

/* dd_pool work: the pairs of document lo + k whose earlier document may
 * be a representative (those placed before the batch are known: the
 * placer takes no other as a candidate) judged on their signatures, and
 * the exact sets of those the estimates let through compared (ahead's
 * pairs), in rank order until one joins. The placer takes the verdicts,
 * and asks for the overlaps, when it comes to them. */
static void judge_ahead(void *ctx, void *worker, size_t k)
{
    batch *b = ctx;
    const sweep *w = b->w;
    uint32_t d = doc_at(w, b->lo + k);
    dd_given_pair *g = b->given + b->from[k];
    size_t n = b->from[k + 1] - b->from[k], njudged = 0, nreps = 0;
    uint32_t *reps = b->reps + b->from[k];
    for (size_t i = 0; i < n; i++) {
        uint32_t e = g[i].earlier;
        if (e < b->lo && !dd_placer_leads(b->placer, e))
            continue;
        njudged++;
        dd_near_prejudge(w->s, d, doc_at(w, e), &g[i]);
        if (g[i].verdict == DD_VERDICT_MAY_JOIN)
            reps[nreps++] = doc_at(w, e);
    }
    b->judged[k] = njudged;
    b->exact[k] = nreps;
    if (nreps)
        b->ahead->pairs(b->ahead->ctx, worker, k, reps, nreps);
}

/* The next batch: from rank lo, the ranks whose pairs (from the merge) fit
 * most_given and whose records fit records_cap (one rank at least,
 * whatever its pairs), BATCH_RANKS at most. A rank whose pairs do not fit is the next batch's
 * first: those taken already are carried to it; a rank starts a batch
 * when the most records a rank has might not fit (they are never
 * carried: they come after its pairs). */
static void next_batch(batch *b, dd_kway_merge *m, size_t lo)
{
    const sweep *w = b->w;
    if (b->carried)
        memmove(b->given, b->given + b->ngiven, b->carried * sizeof *b->given);
    b->ngiven = b->carried;
    b->carried = 0;
    b->nrecords = 0;
    b->lo = b->hi = lo;
    while (b->hi < w->n && b->hi - lo < BATCH_RANKS) {
        if (b->nrecords + b->rank_records > b->records_cap)
            break; /* (not the first rank: the room holds a rank's) */
        size_t first = b->hi == lo ? 0 : b->ngiven;
        bool full = false;
        const dd_rank_pair *q;
        while ((q = dd_kway_merge_peek(m)) && q->later == b->hi) {
            if (q->earlier >= w->first_record) { /* after the rank's pairs */
                b->records[b->nrecords++] = *q;
            } else if (b->ngiven > first && b->given[b->ngiven - 1].earlier == q->earlier) {
                b->given[b->ngiven - 1].shares += q->shares; /* from another run */
            } else {
                if (b->ngiven >= b->most_given && b->hi > lo) {
                    full = true;
                    break;
                }
                b->w->st->given++;
                grow_within(&b->given, &b->given_cap, b->ngiven + 1, b->most_given,
                            sizeof *b->given);
                b->given[b->ngiven++] = (dd_given_pair){.earlier = q->earlier,
                                                        .shares = q->shares,
                                                        .verdict = DD_VERDICT_UNKNOWN};
            }
            dd_kway_merge_next(m, NULL);
        }
        if (full) {
            b->carried = b->ngiven - first;
            b->ngiven = first;
            break;
        }
        b->from[b->hi - lo] = first;
        b->hi++;
    }
    b->from[b->hi - lo] = b->ngiven;
    if (b->ahead)
        grow_within(&b->reps, &b->reps_cap, b->ngiven + 1, b->given_cap + 1, sizeof *b->reps);
}

/* The sweep: every document placed in rank order, given its pairs, its
 * twin and its hot buckets, the pairs merged from their runs (read within
 * room bytes) a batch of ranks at a time; with ahead, each batch's pairs
 * judged on the pool while the documents are placed. A batch's pairs take
 * what the merge leaves of the share. */
static void place_all(sweep *w, size_t room, const dd_sweep_ahead *ahead, dd_clusters *out)
{
    const dd_signatures *s = w->s;
    dd_placer *p = dd_placer_new(s);
    dd_placer_reserve_order(p, w->docs, w->n, s->n);
    dd_placer_reserve_hot(p, w->numbered);
    /* the document's hot bucket a band, then its sub-bucket a band
     * (DD_NOT_HOT: none) */
    uint32_t *hot = dd_malloc((w->nkeys ? 2 * w->nkeys : 1) * sizeof *hot);
    for (size_t j = 0; j < 2 * w->nkeys; j++)
        hot[j] = DD_NOT_HOT;
    dd_kway_merge *m = merge_runs(w, room);
    batch b = {.w = w, .ahead = ahead, .placer = p};
    b.from = dd_malloc((BATCH_RANKS + 1) * sizeof *b.from);
    b.judged = dd_calloc(BATCH_RANKS, sizeof *b.judged);
    b.exact = dd_calloc(BATCH_RANKS, sizeof *b.exact);
    /* The pairs of a batch within what is left of the share: each with its
     * verdict, room for it among the representatives to verify ahead, and
     * what the caller holds for it. (A rank gives at most nkeys *
     * (DD_BUCKET_CAP - 1) pairs, an earlier document a bucket of fewer than
     * DD_BUCKET_CAP: past the room, a batch of one rank holds those.) */
    size_t fixed = merge_bytes(w, m) + batch_bytes(&b) + 2 * w->nkeys * sizeof *hot +
                   (ahead ? BATCH_RANKS * ahead->rank_bytes : 0);
    size_t left = w->share > fixed ? w->share - fixed : 0;
    /* The records of a batch: those of BATCH_RANKS ranks that have them
     * all (a twin, a hot bucket and a sub-bucket a band), or an eighth of
     * what is left (a rank's at least). */
    b.rank_records = 1 + 2 * w->nkeys;
    b.records_cap = BATCH_RANKS * b.rank_records;
    if (b.records_cap > left / 8 / sizeof *b.records)
        b.records_cap = left / 8 / sizeof *b.records;
    if (b.records_cap < b.rank_records)
        b.records_cap = b.rank_records;
    b.records = dd_malloc(b.records_cap * sizeof *b.records);
    left = left > b.records_cap * sizeof *b.records ? left - b.records_cap * sizeof *b.records : 0;
    size_t per_pair = sizeof *b.given + (ahead ? sizeof *b.reps + ahead->pair_bytes : 0);
    b.most_given = left / per_pair > 1 ? left / per_pair - 1 : 1; /* (reps: one more) */
    dd_member mem;
    for (size_t lo = 0; lo < w->n; lo = b.hi) {
        next_batch(&b, m, lo);
        w->st->batches++;
        size_t nb = b.hi - b.lo;
        if (ahead) {
            ahead->batch(ahead->ctx, w->docs ? w->docs + b.lo : NULL, b.lo, nb);
            dd_pool_start(ahead->pool, nb, &b, judge_ahead);
        }
        for (size_t k = 0, rec = 0; k < nb; k++) {
            size_t r = b.lo + k;
            if (ahead)
                dd_pool_wait(ahead->pool, k);
            /* its twin, hot buckets and sub-buckets, from its records
             * (hot[j]: HOT_RECORD - j's, band j's bucket or band j -
             * nkeys's sub-bucket) */
            uint32_t twin = UINT32_MAX;
            size_t first = rec;
            for (; rec < b.nrecords && b.records[rec].later == r; rec++) {
                const dd_rank_pair *q = &b.records[rec];
                if (q->earlier == TWIN_RECORD)
                    twin = q->shares;
                else
                    hot[HOT_RECORD - q->earlier] = q->shares;
            }
            dd_placer_place_numbered(p, doc_at(w, r), twin, hot, hot + w->nkeys,
                                     b.given + b.from[k], b.from[k + 1] - b.from[k], &mem);
            for (; first < rec; first++)
                if (b.records[first].earlier != TWIN_RECORD)
                    hot[HOT_RECORD - b.records[first].earlier] = DD_NOT_HOT;
        }
        if (ahead) {
            dd_pool_finish(ahead->pool);
            for (size_t k = 0; k < nb; k++) {
                w->st->judged += b.judged[k];
                w->st->exact_ahead += b.exact[k];
            }
        }
        held(w,
             merge_bytes(w, m) + batch_bytes(&b) + 2 * w->nkeys * sizeof *hot +
                 (ahead && ahead->held ? ahead->held(ahead->ctx) : 0),
             "a batch placed");
    }
    /* What the batches and the pairs held (most of the share), and what
     * the caller held for the last batch, given back before the clusters
     * are made beside the placer: the sweep's most in the heap was there. */
    if (ahead)
        ahead->batch(ahead->ctx, NULL, 0, 0);
    dd_kway_merge_free(m);
    free(b.given);
    free(b.from);
    free(b.reps);
    free(b.judged);
    free(b.exact);
    free(b.records);
    free(hot);
    free(w->pending);
    w->pending = NULL;
    w->npending = w->pending_cap = 0;
    w->st->placer_bytes = dd_placer_bytes(p);
    dd_placer_finish(p, s->n, out);
    heap_now(w, "the clusters made");
    dd_placer_free(p);
}

bool dd_cluster_sweep(const dd_signatures *s, const uint32_t *docs, size_t ndocs, size_t share,
                      const char *tmp_dir, const dd_sweep_ahead *ahead, dd_clusters *out,
                      dd_sweep_stats *st, char **err)
{
    dd_sweep_stats own;
    sweep w = {.s = s, .docs = docs, .n = ndocs, .nkeys = dd_near_keys_per_doc(&s->params),
               .share = share, .tmp_dir = tmp_dir, .st = st ? st : &own, .err = err};
    memset(w.st, 0, sizeof *w.st);
    w.st->heap_before = dd_memory_heap_in_use();
    if (ahead && (!ahead->pool || dd_pool_threads(ahead->pool) == 0))
        ahead = NULL; /* no thread beside the calling one: the placer verifies */
    /* Half the share for the keys of a part, then for reading the runs of
     * pairs; the other half for the pairs pending (less room for the
     * places of RUN_PLACES runs, or a sixteenth of it; past it, runs in a
     * scratch file), then for the pairs of a batch. */
    size_t room = share / 2, pairs_room = share - room;
    size_t places = RUN_PLACES * 2 * sizeof(size_t);
    if (places > pairs_room / 16)
        places = pairs_room / 16;
    w.first_record = w.nkeys ? sub_record(&w, w.nkeys - 1) : HOT_RECORD;
    w.pending_cap = (pairs_room - places) / sizeof *w.pending;
    w.first_runs = places / (2 * sizeof(size_t)) ? places / (2 * sizeof(size_t)) : 1;
    if (w.pending_cap < LEAST_READ_BYTES / sizeof *w.pending)
        w.pending_cap = LEAST_READ_BYTES / sizeof *w.pending;
    w.pending = dd_malloc(w.pending_cap * sizeof *w.pending);
    dd_scratch_array_init(&w.runs_file, sizeof(dd_rank_pair), 1, tmp_dir, "pairs of documents");
    bool *may_lead = dd_calloc(ndocs ? ndocs : 1, sizeof *may_lead);
    bool ok = find_twins(&w, room, may_lead) &&
              group(&w, may_lead, room, ahead ? ahead->pool : NULL);
    free(may_lead);
    if (w.nruns) { /* every pair is in the runs' file */
        free(w.pending);
        w.pending = NULL;
        w.npending = 0;
        w.pending_cap = 0;
    }
    if (ok)
        place_all(&w, room, ahead, out);
    free(w.pending);
    dd_scratch_array_free(&w.runs_file);
    free(w.run_first);
    free(w.run_n);
    return ok;
}
