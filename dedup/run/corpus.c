/*
 * corpus.c - the passes over the inputs that scan and clean share.
 *
 * Pass 1 reads every document once: it cuts it into units (kept as small
 * records: key, lines, bytes), and signs the whole document (near.c). Then
 * the documents are clustered, and the rounds of decisions (rounds.c) take
 * it from there: the units of the documents that are kept go, in input
 * order, into the paragraph table (paragraphs.c), on the text as read, then
 * on the text that clean leaves. Texts are not kept: the few a report shows
 * are read again at the end.
 */
#include "run/corpus.h"

#include "engine/analysis.h"
#include "run/rounds.h"
#include "run/facts.h"
#include "run/memory.h"
#include "run/across_stages.h"
#include "run/cluster_sweep.h"
#include "run/doc_stages.h"
#include "run/near_across.h"
#include "io/spool.h"
#include "run/run.h"
#include "run/stages.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

uint64_t dd_digest(const char *text, size_t len) { return XXH3_64bits(text, len); }

void dd_corpus_reread_failed(dd_corpus *c, uint32_t doc)
{
    DD_REREAD_SET(c, doc, DD_REREAD_FAILED);
    c->problems++;
}

/* Reads bytes [off, off+len) of input doc (from memory for a stream, which
 * can be read only once), on any thread: it changes nothing of c. Empty
 * when it cannot be read: *err is then the errno to report, or 0 when
 * there is nothing to say (a stream not kept, an input that already
 * failed). */
static char *read_bytes(const dd_corpus *c, uint32_t doc, size_t off, size_t len, int *err)
{
    dd_name_room room = {0};
    const dd_input input = dd_inputs_get(&c->inputs, doc, &room), *d = &input;
    char *s = dd_malloc(len + 1);
    *err = 0;
    if (d->stream) {
        if (d->stream->state == DD_STREAM_KEPT && off + len <= d->stream->text.len)
            memcpy(s, d->stream->text.data + off, len);
        else
            len = 0;
    } else if (DD_REREAD_OF(c, doc) == DD_REREAD_FAILED) {
        len = 0;
    } else {
        long r = dd_input_pread(d, s, len, off);
        if (r < 0)
            *err = errno;
        len = r > 0 ? (size_t)r : 0;
    }
    dd_name_room_free(&room);
    len = sh_utf8_check(s, len); /* a cut may have split a character */
    s[len] = '\0';
    /* A block unit spans lines: show it on one. */
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\n' || s[i] == '\r')
            s[i] = ' ';
    return s;
}

/* Says that input doc could not be read again (errno err), unless that was
 * said before, and makes it an error of the run. */
static void say_reread_failed(dd_corpus *c, uint32_t doc, int err)
{
    if (c->reread[doc] == DD_REREAD_FAILED)
        return;
    char *p = dd_input_printable_id(&c->inputs, doc);
    dd_error("%s: %s", p, strerror(err));
    free(p);
    dd_corpus_reread_failed(c, doc);
}

/* read_bytes on the calling thread, which says what went wrong. */
static char *read_range(dd_corpus *c, uint32_t doc, size_t off, size_t len)
{
    int err;
    char *s = read_bytes(c, doc, off, len, &err);
    if (err)
        say_reread_failed(c, doc, err);
    return s;
}

void dd_corpus_current_text(const dd_corpus *c, uint32_t doc, const char **text, size_t *len,
                            sh_buf *cleaned)
{
    size_t n, cap = 0;
    dd_drop *buf = NULL;
    const dd_drop *gone = dd_corpus_removed(c, doc, &n, &buf, &cap);
    if (n > 0) {
        dd_kept_lines(*text, *len, gone, n, cleaned);
        *text = cleaned->data ? cleaned->data : "";
        *len = cleaned->len;
    }
    free(buf);
}

/* document_text of document doc, in. */
static dd_text_status input_text(const dd_corpus *c, uint32_t doc, const dd_input *in, sh_buf *buf,
                                 const char **text, size_t *len)
{
    if (in->stream) {
        if (in->stream->state != DD_STREAM_KEPT)
            return DD_TEXT_NONE;
        *text = in->stream->text.data;
        *len = in->stream->text.len;
        return DD_TEXT_OK;
    }
    if (DD_REREAD_OF(c, doc) != DD_REREAD_OK) /* said once */
        return DD_TEXT_NONE;
    if (!dd_input_read(in, c->max_bytes, buf))
        return DD_TEXT_FAILED;
    *text = buf->data ? buf->data : "";
    *len = buf->len;
    if (dd_digest(*text, *len) != dd_corpus_digest(c, doc)) {
        char *p = dd_printable(in->id);
        dd_warn("%s: changed while dedup was running; compared as first read", p);
        free(p);
        return DD_TEXT_CHANGED;
    }
    return DD_TEXT_OK;
}

/* dd_text_source.document over c: document doc's bytes as first read, on
 * any thread (it changes nothing of c; what it says goes where the
 * thread's messages go). A stream was read once: its bytes are kept. */
static dd_text_status document_text(void *ctx, uint32_t doc, sh_buf *buf, const char **text,
                                    size_t *len)
{
    const dd_corpus *c = ctx;
    dd_name_room room = {0};
    const dd_input in = dd_inputs_get(&c->inputs, doc, &room);
    dd_text_status status = input_text(c, doc, &in, buf, text, len);
    dd_name_room_free(&room);
    return status;
}

/* dd_text_source.indexed: the regular file at path, when it is there with
 * this size and mtime (mtime_ns < 0: any); false otherwise, saying nothing
 * (a FIFO is never opened: it would wait for a writer). */
static bool indexed_text(void *ctx, const char *path, uint64_t size, int64_t mtime_ns, sh_buf *buf)
{
    (void)ctx;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size)
        return false;
    if (mtime_ns >= 0 && (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec != mtime_ns)
        return false;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return false;
    buf->len = 0;
    dd_grow(&buf->data, &buf->cap, size + 1, 1);
    bool ok = fread(buf->data, 1, size, fp) == size;
    fclose(fp);
    buf->len = ok ? size : 0;
    buf->data[buf->len] = '\0';
    return ok;
}

dd_text_source dd_corpus_texts(const dd_corpus *c)
{
    return (dd_text_source){document_text, indexed_text, (void *)c};
}

bool dd_corpus_match_index(dd_ddx *x, const dd_corpus *c, size_t i, const dd_options *o,
                           dd_analyzer *a, dd_index_matches *out)
{
    dd_text_source src = dd_corpus_texts(c);
    dd_earlier earlier = dd_ddx_earlier(x);
    size_t first = dd_unit_start(&c->unit_starts, i),
           n = dd_unit_start(&c->unit_starts, i + 1) - first;
    dd_notes notes = {0};
    dd_unit *buf = NULL;
    size_t cap = 0;
    const dd_unit *units = dd_units_span(&c->units, first, n, &buf, &cap);
    dd_name_room room = {0};
    bool ok = dd_notes_said(
        &notes, dd_index_match_document(&earlier, &c->signatures, (uint32_t)i,
                                        dd_input_id(&c->inputs, i, &room), units, n, o->min_words,
                                        o->boilerplate_df, &src, a, out, &notes));
    dd_name_room_free(&room);
    free(buf);
    return ok;
}

/* Exact verification reads documents again: the last sets made are cached
 * (engine/set_cache.h), one slot per document number modulo
 * SET_CACHE_SLOTS, each known by the version of the text it was made
 * from, and at most its budget of bytes of sets in all (its share of
 * --memory: the oldest slots go first), so that the cache costs the same
 * whatever the size of the documents and the number of threads.
 *
 * One cache for every thread that verifies (the calling thread's loader
 * and the workers' of the pool), behind a lock: a set one thread made is
 * not made again by another (a set is a function of its document's text,
 * whatever thread made it, so which thread made it changes nothing found).
 * A set is copied out under the lock, as it is put in: what the cache
 * holds may go as soon as the lock is released, and no thread holds it
 * while it makes a set. */
#define SET_CACHE_SLOTS 4096

/* The bytes of sets the loaders of a run cache in all: their share of
 * --memory (memory.h), 16 MiB from a budget of 256 MiB. */
static size_t set_cache_bytes(const dd_options *o) { return dd_memory_set_cache_share(o->memory); }

typedef struct set_store {
    pthread_mutex_t lock;
    dd_set_cache cache; /* by document */
    uint64_t made;      /* sets put in (DEDUP_RUN_STATS) */
} set_store;

typedef struct set_loader {
    const dd_corpus *c;
    const dd_options *o;
    set_store *store; /* the sets made; shared: owned by the loader that made it */
    bool owns_store;
    dd_analyzer a;
    sh_buf text, cleaned;
    dd_doc doc;
    uint64_t *hashes;
    size_t hashes_cap;
} set_loader;

/* A loader for c, putting its sets in store (NULL: a store of its own,
 * which the others can be given), or NULL (after a message) when ICU
 * cannot start. */
static set_loader *set_loader_new(const dd_corpus *c, const dd_options *o, set_store *store)
{
    set_loader *l = dd_calloc(1, sizeof *l);
    l->c = c;
    l->o = o;
    dd_notes notes = {0};
    if (!dd_notes_said(&notes, dd_analyzer_init(&l->a, o->unit, &o->hash, &notes))) {
        free(l);
        return NULL;
    }
    if (!store) {
        store = dd_calloc(1, sizeof *store);
        dd_run_lock_init(&store->lock); /* held for a set's copy */
        dd_set_cache_init(&store->cache, SET_CACHE_SLOTS, set_cache_bytes(o));
        l->owns_store = true;
    }
    l->store = store;
    return l;
}

static void set_loader_free(set_loader *l)
{
    if (!l)
        return;
    if (l->owns_store) {
        dd_set_cache_free(&l->store->cache);
        pthread_mutex_destroy(&l->store->lock);
        free(l->store);
    }
    free(l->hashes);
    sh_buf_free(&l->text);
    sh_buf_free(&l->cleaned);
    dd_doc_free(&l->doc);
    dd_analyzer_free(&l->a);
    free(l);
}

/* What making a document's set again found. */
typedef enum set_status {
    SET_MADE,
    SET_NONE,    /* it cannot be had, and there is nothing to say */
    SET_FAILED,  /* it could not be read: an error (what was said, with it) */
    SET_CHANGED, /* it is not as first read: a warning */
} set_status;

/* Copies the set of (doc, version) from the store into *set (growing it,
 * *cap its capacity; *n its size) when the store holds it. */
static bool set_found(set_store *st, uint32_t doc, uint32_t version, uint64_t **set, size_t *cap,
                      size_t *n)
{
    pthread_mutex_lock(&st->lock);
    const dd_cached_set *cached = dd_set_cache_find(&st->cache, doc, version);
    if (cached) {
        dd_grow(set, cap, cached->n + 1, sizeof **set);
        memcpy(*set, cached->set, cached->n * sizeof **set);
        *n = cached->n;
    }
    pthread_mutex_unlock(&st->lock);
    return cached != NULL;
}

/* Puts a copy of set[0..n), of (doc, version), in the store. (Two threads
 * may have made the same set: the second takes the first's slot.) */
static void set_keep(set_store *st, uint32_t doc, uint32_t version, const uint64_t *set, size_t n)
{
    size_t bytes = n * sizeof *set;
    uint64_t *copy = dd_malloc(bytes ? bytes : 1); /* its exact size: the cache has a budget */
    memcpy(copy, set, bytes);
    pthread_mutex_lock(&st->lock);
    dd_cached_set *slot = dd_set_cache_claim(&st->cache, doc, version);
    free(slot->set);
    slot->set = copy;
    slot->cap = slot->n = n;
    dd_set_cache_keep(&st->cache, slot);
    st->made++;
    pthread_mutex_unlock(&st->lock);
}

/* The sorted distinct shingles of document doc, of the text it has in the
 * current round, in *set (growing it, *cap its capacity; *n its size), on
 * any thread: it changes nothing of the corpus. What reading it says goes
 * where the thread's messages go (dd_error, or its capture). */
static set_status make_set(set_loader *l, uint32_t doc, uint64_t **set, size_t *cap, size_t *n)
{
    if (DD_REREAD_OF(l->c, doc) != DD_REREAD_OK) /* said once */
        return SET_NONE;
    uint32_t version = l->c->text_version ? l->c->text_version[doc] : 0;
    if (set_found(l->store, doc, version, set, cap, n))
        return SET_MADE;
    const char *text;
    size_t len;
    switch (document_text((void *)l->c, doc, &l->text, &text, &len)) {
    case DD_TEXT_OK:
        break;
    case DD_TEXT_NONE:
        return SET_NONE;
    case DD_TEXT_FAILED:
        return SET_FAILED;
    case DD_TEXT_CHANGED:
        return SET_CHANGED;
    }
    dd_corpus_current_text(l->c, doc, &text, &len, &l->cleaned);
    if (dd_analyze(&l->a, text, len, &l->doc) != SH_OK)
        return SET_NONE;
    size_t count = dd_shingle_set(&l->doc.words, (unsigned)l->o->near.ngram, &l->o->hash,
                                  &l->hashes, &l->hashes_cap);
    dd_grow(set, cap, count + 1, sizeof **set);
    dd_sort_u64(l->hashes, *set, count);
    memcpy(*set, l->hashes, count * sizeof **set);
    *n = count;
    set_keep(l->store, doc, version, *set, count);
    return SET_MADE;
}

/* Takes into the corpus what making document doc's set found (on the
 * calling thread, in rank order): an input that failed or changed is
 * not read again. Returns whether the set was made. */
static bool set_taken(dd_corpus *c, uint32_t doc, set_status st)
{
    if (st == SET_FAILED)
        dd_corpus_reread_failed(c, doc);
    else if (st == SET_CHANGED)
        DD_REREAD_SET(c, doc, DD_REREAD_CHANGED);
    return st == SET_MADE;
}

/* dd_signatures.load_set, on the calling thread: the sorted distinct
 * shingles of document doc. */
static bool load_set(void *ctx, uint32_t doc, uint64_t **set, size_t *cap, size_t *n)
{
    set_loader *l = ctx;
    return set_taken((dd_corpus *)l->c, doc, make_set(l, doc, set, cap, n));
}

void dd_corpus_forget_sets(dd_corpus *c)
{
    set_loader *l = c->signatures.load_set == load_set ? c->signatures.load_ctx : NULL;
    if (l && l->owns_store) {
        pthread_mutex_lock(&l->store->lock);
        dd_set_cache_forget(&l->store->cache);
        pthread_mutex_unlock(&l->store->lock);
    }
}

/*
 * Verifying on every core. With threads, candidate pairs are verified
 * ahead on a pool of workers (run.h), a batch at a time: documents when
 * they are clustered (dd_placer_ahead); paragraphs across documents are
 * verified on a pool of their own (run/near_across.h). Each worker has its
 * own readers, and shares the calling thread's cache of documents' sets
 * (set_store); they read the corpus, which the calling thread leaves alone
 * while they work, and report what went wrong in their results, which the
 * calling thread takes in rank order, saying it then as it would have
 * without threads. So the findings and the messages are those of one
 * thread, unless an input changes or vanishes while dedup runs (then
 * which reading notices it first depends on the caches).
 */

/* What a worker of the pool has: one per thread. */
typedef struct verifier {
    const struct pool_ctx *pc;
    set_loader *loader; /* documents' sets (verifier_loader) */
    bool loader_made;
    dd_ahead_scratch doc_scratch;
    uint32_t *reps;
    size_t reps_cap;
    uint64_t *doc_set, *rep_set; /* the document being verified, a representative */
    size_t doc_set_cap, rep_set_cap;
} verifier;

typedef struct pool_ctx {
    const dd_corpus *c;
    const dd_options *o;
    set_store *sets; /* the calling thread's loader's, which the workers' share */
} pool_ctx;

static void verifier_free(void *ctx, void *state)
{
    (void)ctx;
    verifier *v = state;
    if (!v)
        return;
    set_loader_free(v->loader);
    dd_ahead_scratch_free(&v->doc_scratch);
    free(v->reps);
    free(v->doc_set);
    free(v->rep_set);
    free(v);
}

/* dd_pool's worker_new (its loader, made when first needed, is NULL when
 * ICU cannot start: then the worker computes nothing ahead, and every pair
 * is verified when asked, by the calling thread, which says why). */
static void *verifier_new(void *ctx)
{
    verifier *v = dd_calloc(1, sizeof *v);
    v->pc = ctx;
    return v;
}

/* v's loader of documents' sets, made when first needed; NULL when ICU
 * cannot start. */
static set_loader *verifier_loader(verifier *v)
{
    if (!v->loader_made) {
        sh_buf lost = {0};
        dd_messages_capture(&lost);
        v->loader = set_loader_new(v->pc->c, v->pc->o, v->pc->sets);
        dd_messages_capture(NULL);
        sh_buf_free(&lost);
        v->loader_made = true;
    }
    return v->loader;
}

/*
 * The first pass, on every core (run.h): each document is analysed by a
 * worker (analyse: read, check, cut into units, the units' shingle sets and
 * band keys, near-repeats inside the document, the document's signature:
 * all pure),
 * and the results are taken in input order by the calling thread (take:
 * the units, the signature, the counts, the progress line, the messages).
 * The units' sets and band keys, for the search across documents that
 * follows (run/near_across.h), are kept by the worker that analysed them,
 * on its shelf: their ids say their order.
 */

/* What a worker needs: one per thread (ICU objects are not shared). */
typedef struct worker {
    dd_analysis_worker *analysis;
    /* The document being analysed: its bytes and words stay here, in the
     * worker's own (warm) buffers; its result slot gets only what take
     * needs (analyse). */
    sh_buf text;
    dd_doc doc;
    /* Its units' band keys; their sets are in analysis->sets. Both stay
     * here, added to the worker's shelf from here, unless a part is signed
     * (then they go to the result slot, to be written). */
    uint64_t *band_keys;
    size_t band_keys_cap;
    dd_facts_reader facts_reader; /* deciding from a work folder: its part files */
    sh_buf facts;                 /* the facts of a document, as read or to write */
    dd_near_across_shelf *shelf;  /* where it adds the units it analysed (claimed when needed) */
} worker;

/* What analysing one document found (facts.h). */
typedef dd_analysed analysed;

/* Past this many bytes in its buffers (units, sets, band keys; the text
 * of facts read back), a result slot's buffers are freed once consumed
 * rather than kept for the next document: what the slots keep stays small
 * whatever documents went through them. */
#define SLOT_KEEP_BYTES ((size_t)64 << 10)

typedef struct first_pass {
    dd_corpus *c;
    const dd_options *o;
    dd_progress *progress;
    const dd_work *work; /* deciding from a work folder's facts (NULL: analysing) */
    worker *own;         /* the consumer's, for streams (made when needed) */
    uint64_t bytes_read;
    bool stopped;          /* --on-error stop */
    dd_near_across across; /* the units, for their near-repeats across documents */
    /* Deciding from a work folder: the near-repeats across documents are
     * read from its verify stage (run/across_stages.h), not searched. */
    const dd_work *verified;
} first_pass;

/* Moves the near-repeats found (c->near_found) to c->near_units. A full
 * scratch disk stops the run there. */
static void keep_near_found(first_pass *f)
{
    dd_corpus *c = f->c;
    char *err = NULL;
    if (!dd_scratch_array_append(&c->near_units, c->near_found.v, c->near_found.n, &err)) {
        dd_error("keeping the near-repeats of paragraphs out of memory (--memory): %s; the run "
                 "stops there",
                 err);
        free(err);
        c->problems++;
        f->stopped = true;
    }
    c->near_found.n = 0;
}

static void worker_free(void *ctx, void *state)
{
    (void)ctx;
    worker *w = state;
    if (!w)
        return;
    dd_analysis_worker_free(w->analysis);
    sh_buf_free(&w->text);
    dd_doc_free(&w->doc);
    free(w->band_keys);
    dd_facts_reader_close(&w->facts_reader);
    sh_buf_free(&w->facts);
    free(w);
}

/* dd_ordered_map.worker_new: NULL when ICU cannot start; analyse then
 * says so for every document it takes, in order (a worker writes nothing
 * on stderr itself). */
static void *worker_new(void *ctx)
{
    first_pass *f = ctx;
    dd_analysis_worker *analysis = dd_analysis_worker_new(f->o->unit, &f->o->near, &f->o->hash);
    if (!analysis)
        return NULL;
    worker *w = dd_calloc(1, sizeof *w);
    w->analysis = analysis;
    return w;
}

static uint64_t input_weight(void *ctx, size_t i)
{
    first_pass *f = ctx;
    return dd_input_size(&f->c->inputs, i);
}

static void analysed_free(void *ctx, void *result)
{
    (void)ctx;
    dd_analysed_clear(result);
}

/* Past this many bytes of text, a worker's buffers are freed once its
 * document is analysed rather than kept for the next: what the workers
 * keep stays small whatever documents went through them. */
#define WORKER_KEEP_BYTES ((size_t)1 << 20)

/* Whether result slot r holds more than SLOT_KEEP_BYTES in its buffers
 * (then freed once consumed). */
static bool slot_holds_much(const analysed *r)
{
    size_t bytes = r->text.cap + r->doc.units_cap * sizeof *r->doc.units +
                   (r->sets.hashes_cap + r->band_keys_cap) * sizeof(uint64_t);
    return bytes > SLOT_KEEP_BYTES;
}

/* Reads, checks and analyses input i into r: pure, on any thread. The
 * text and its words are read and cut in w's buffers (hot in the cache of
 * the thread, where a window of slots is not); r gets the units, the
 * near-repeats inside and the signature. The units' sets and band keys
 * stay in w (w->analysis->sets, w->band_keys), for add_across, unless
 * to_result (a part signed: r gets them, to be written): a window of slots
 * then holds no set (fewer buffers, no fresh pages for each slot). */
static void analyse(const first_pass *f, worker *w, size_t i, analysed *r, bool to_result)
{
    const dd_corpus *c = f->c;
    const dd_options *o = f->o;
    r->near.n = 0;
    r->digest = 0;
    r->size = 0;
    r->text.len = 0;
    r->doc.nunits = 0;
    if (!w) {
        r->status = DD_LOAD_FAILED;
        dd_error("cannot start the normaliser");
        return;
    }
    dd_analysis_worker *a = w->analysis;
    dd_doc *doc = &w->doc;
    dd_name_room room = {0};
    const dd_input in = dd_inputs_get(&c->inputs, i, &room);
    r->status = dd_input_load(&in, c->max_bytes, &a->analyzer, &w->text, doc, &r->bad);
    dd_name_room_free(&room);
    if (r->status != DD_LOAD_FAILED) {
        r->size = w->text.len;
        r->digest = dd_digest(w->text.data, w->text.len);
    }
    if (r->status == DD_LOAD_TEXT || r->status == DD_LOAD_BINARY) {
        dd_grow(&r->doc.units, &r->doc.units_cap, doc->nunits + 1, sizeof *r->doc.units);
        if (doc->nunits)
            memcpy(r->doc.units, doc->units, doc->nunits * sizeof *doc->units);
        r->doc.nunits = doc->nunits;
        dd_unit_sets_compute(&a->sets, doc, &o->hash);
        dd_find_near_units((uint32_t)i, doc, &a->sets, o->para_threshold, o->min_words, &r->near);
        if (to_result) {
            dd_unit_sets_take(&r->sets, &a->sets);
            dd_unit_band_keys(a->unit_minhasher, doc, &r->sets, &r->band_keys, &r->band_keys_cap);
        } else {
            dd_unit_band_keys(a->unit_minhasher, doc, &a->sets, &w->band_keys, &w->band_keys_cap);
        }
        dd_signer_sign(&a->signer, &doc->words, doc->key, &o->hash, &r->sig);
    }
    if (w->text.cap > WORKER_KEEP_BYTES) {
        sh_buf_free(&w->text);
        dd_doc_free(doc);
    }
}

/* Frees w's sets and band keys when they hold more than WORKER_KEEP_BYTES
 * (a long document's), once added across. */
static void keep_worker_small(worker *w)
{
    dd_unit_sets *sets = &w->analysis->sets;
    if ((sets->hashes_cap + w->band_keys_cap) * sizeof(uint64_t) <= WORKER_KEEP_BYTES)
        return;
    dd_unit_sets_free(sets);
    free(w->band_keys);
    w->band_keys = NULL;
    w->band_keys_cap = 0;
}

/* Reads the facts of input i from the work folder into r: what analyse
 * found when the part was signed, on any thread. */
static void read_facts(const first_pass *f, worker *w, size_t i, analysed *r)
{
    if (!w) {
        r->status = DD_LOAD_FAILED;
        dd_error("cannot start the normaliser");
        return;
    }
    if (!dd_work_read_facts(f->work, &w->facts_reader, i, &w->facts)) {
        r->status = DD_LOAD_FAILED;
        return;
    }
    if (!dd_facts_decode(w->facts.data, w->facts.len, f->work->num_perm, (uint32_t)i, r)) {
        char *p = dd_input_printable_id(&f->c->inputs, i);
        dd_error("%s: its facts in the work folder are damaged; remove %s and run again", p,
                 f->work->dir);
        free(p);
        r->status = DD_LOAD_FAILED;
    }
}

/* Adds the units of document i (analysed into r by w, their sets and band
 * keys left in w) to w's shelf, for the search across documents;
 * r->across_err says why when they could not be kept (a full scratch
 * disk), for take to say in its turn. */
static void add_across(first_pass *f, worker *w, size_t i, analysed *r)
{
    if (!w || f->verified || !(r->status == DD_LOAD_TEXT || r->status == DD_LOAD_BINARY))
        return; /* f->verified: the work folder's verify stage found them */
    if (!w->shelf)
        w->shelf = dd_near_across_claim(&f->across);
    dd_near_across_add(w->shelf, (uint32_t)i, r->doc.units, r->doc.nunits, &w->analysis->sets,
                       w->band_keys, &r->across_err);
    keep_worker_small(w);
}

/* dd_ordered_map.work */
static void work(void *ctx, void *state, size_t i, void *result)
{
    first_pass *f = ctx;
    analysed *r = result;
    free(r->across_err);
    r->across_err = NULL;
    r->deferred = dd_input_is_stream(&f->c->inputs, i); /* read once, in order: by take */
    if (f->work)
        read_facts(f, state, i, r); /* the sets found there: the verify stage's */
    else if (!r->deferred) {
        analyse(f, state, i, r, false);
        add_across(f, state, i, r);
    }
}

/* Adds the next document's signature (NULL: it could not be read); stops
 * the run when its MinHash values could not be kept (a full scratch
 * disk). */
static void keep_signature(first_pass *f, const dd_signed *sig)
{
    dd_corpus *c = f->c;
    char *err = NULL;
    if (sig ? dd_signatures_add_signed(&c->signatures, sig, &err)
            : dd_signatures_add_missing(&c->signatures, &err))
        return;
    dd_error("keeping the document signatures out of memory (--memory): %s; the run stops there",
             err);
    free(err);
    c->problems++;
    f->stopped = true;
}

/* dd_ordered_map.consume: takes the analysis of input i, in input order. */
static bool take(void *ctx, size_t i, void *result)
{
    first_pass *f = ctx;
    dd_corpus *c = f->c;
    const dd_options *o = f->o;
    analysed *r = result;
    if (r->deferred) {
        if (!f->own)
            f->own = worker_new(f);
        analyse(f, f->own, i, r, false);
        add_across(f, f->own, i, r);
    }
    dd_unit_starts_set(&c->unit_starts, i, c->units.n);
    bool ok = r->status == DD_LOAD_TEXT || r->status == DD_LOAD_BINARY;
    dd_read_as read_as = {0, 0};
    if (r->status != DD_LOAD_FAILED)
        read_as = (dd_read_as){r->digest, r->size};
    char *read_err = NULL;
    if (!dd_scratch_array_append(&c->read_as, &read_as, 1, &read_err)) { /* a full scratch disk */
        dd_error("keeping the documents' digests out of memory (--memory): %s; the run stops "
                 "there",
                 read_err);
        free(read_err);
        c->problems++;
        f->stopped = true;
    }
    if (r->status == DD_LOAD_NOT_TEXT) {
        if (o->on_error == DD_ON_ERROR_STOP) {
            dd_name_room room = {0};
            const dd_input in = dd_inputs_get(&c->inputs, i, &room);
            dd_input_report_not_text(&in, &r->bad, false, NULL);
            dd_name_room_free(&room);
            f->stopped = true;
        } else {
            dd_grow(&c->left_out, &c->left_out_cap, c->nleft_out + 1, sizeof *c->left_out);
            c->left_out[c->nleft_out++] = (dd_left_out){(uint32_t)i, r->bad};
        }
    }
    if (ok) {
        /* Its near-repeats inside it; those across documents are found
         * once every document is read (dd_near_across_find). */
        dd_near_units_append(&c->near_found, r->near.v, r->near.n);
        keep_near_found(f);
        if (!f->stopped && r->across_err) {
            dd_error("keeping the paragraphs' sets out of memory (--memory): %s; the run stops "
                     "there",
                     r->across_err);
            c->problems++;
            f->stopped = true;
        }
    }
    f->bytes_read += read_as.size;
    if (f->progress)
        dd_progress_update(f->progress, i + 1, f->bytes_read);
    if (!ok) {
        c->failed[i] = true;
        c->problems += r->status == DD_LOAD_FAILED;
        keep_signature(f, NULL);
    } else {
        const dd_doc *doc = &r->doc;
        char *err = NULL;
        if (!dd_units_append(&c->units, doc->units, doc->nunits, &err)) {
            /* a full scratch disk */
            dd_error("keeping the paragraphs out of memory (--memory): %s; the run stops there",
                     err);
            free(err);
            c->problems++;
            f->stopped = true;
        }
        keep_signature(f, &r->sig);
    }
    if (slot_holds_much(r))
        analysed_free(NULL, r);
    return !f->stopped;
}

/* The merge of the near-repeats inside documents (the first pass's, in
 * c->near_units) with those across documents, by document, into merged:
 * a document's inside ones before its across ones, as rounds.c reads them. */
typedef struct near_merge {
    dd_corpus *c;
    dd_scratch_array merged;
    size_t inside; /* the next of c->near_units */
    char *err;
} near_merge;

/* Moves the near-repeats inside documents up to document last (included). */
static bool merge_inside(near_merge *m, uint64_t last)
{
    const dd_scratch_array *inside = &m->c->near_units;
    for (; m->inside < inside->n; m->inside++) {
        const dd_near_unit *nu = dd_scratch_array_get(inside, m->inside);
        if (nu->doc > last)
            break;
        dd_near_unit copy = *nu;
        if (!dd_scratch_array_append(&m->merged, &copy, 1, &m->err))
            return false;
    }
    return true;
}

/* dd_near_across_find's take. */
static bool merge_across(void *ctx, const dd_near_unit *v, size_t n)
{
    near_merge *m = ctx;
    for (size_t i = 0; i < n; i++)
        if (!merge_inside(m, v[i].doc) || !dd_scratch_array_append(&m->merged, &v[i], 1, &m->err))
            return false;
    return true;
}

/* Starts m: the near-repeats of the corpus merged in rank order, within
 * their share of --memory. */
static void merge_start(near_merge *m, first_pass *f)
{
    *m = (near_merge){.c = f->c};
    dd_scratch_array_init(&m->merged, sizeof(dd_near_unit),
                          dd_memory_near_units_share(f->o->memory), f->o->tmp_dir,
                          "near-repeats of paragraphs");
}

/* Ends m: when ok, what it merged replaces c->near_units; else it is
 * dropped and counted as a problem (said by the caller). Returns ok. */
static bool merge_end(near_merge *m, bool ok)
{
    free(m->err);
    if (!ok) {
        dd_scratch_array_free(&m->merged);
        m->c->problems++;
        return false;
    }
    dd_scratch_array_free(&m->c->near_units);
    m->c->near_units = m->merged;
    return true;
}

/* The near-repeats of paragraphs across documents, of the units the first
 * pass gave f->across, merged into c->near_units. False when a scratch
 * file could not be written (said). */
static bool find_across(first_pass *f, unsigned threads)
{
    const dd_options *o = f->o;
    near_merge m;
    merge_start(&m, f);
    char *err = NULL;
    bool ok = dd_near_across_find(&f->across, threads, o->para_threshold, merge_across, &m, &err) &&
              merge_inside(&m, UINT64_MAX);
    if (!ok)
        dd_error("finding the near-repeats of paragraphs across documents (--memory): %s",
                 err ? err : m.err);
    free(err);
    return merge_end(&m, ok);
}

/* The near-repeats of paragraphs across documents, as the verify stage of
 * the work folder f->verified found them, merged into c->near_units as
 * find_across does. False after a message. */
static bool read_across(first_pass *f)
{
    const dd_work *w = f->verified;
    near_merge m;
    merge_start(&m, f);
    dd_near_unit_list matches = {0};
    bool ok = true, read = true;
    for (size_t k = 0; k < w->nparts && ok; k++) {
        read = dd_across_read_matches(w, k, &f->c->unit_starts, &matches);
        ok = read && merge_across(&m, matches.v, matches.n);
    }
    ok = ok && merge_inside(&m, UINT64_MAX);
    free(matches.v);
    if (!ok && read)
        dd_error("keeping the near-repeats of paragraphs (--memory): %s", m.err);
    return merge_end(&m, ok);
}

/* dd_unit_remaker.sets over the first pass: document doc as first read
 * (dd_corpus_texts: NULL when it changed since), analysed again as
 * analyse did, its units' sets made again in w. */
static const dd_unit_sets *sets_again(void *ctx, void *state, uint32_t doc, size_t *nunits,
                                      uint64_t *bytes)
{
    const first_pass *f = ctx;
    worker *w = state;
    dd_text_source src = dd_corpus_texts(f->c);
    const char *text;
    size_t len;
    if (src.document(src.ctx, doc, &w->text, &text, &len) != DD_TEXT_OK)
        return NULL;
    *bytes = len;
    if (dd_analyze(&w->analysis->analyzer, text, len, &w->doc) != SH_OK)
        return NULL;
    dd_unit_sets_compute(&w->analysis->sets, &w->doc, &f->o->hash);
    *nunits = w->doc.nunits;
    return &w->analysis->sets;
}

/* Reads, checks and analyses every input (input_bytes in all: the first
 * pass), then finds the near-repeats of paragraphs across documents; false
 * if it was stopped (--on-error stop, a full scratch disk). */
static bool first_pass_run(dd_corpus *c, const dd_options *o, dd_progress *progress,
                           unsigned threads, const dd_work *facts, uint64_t input_bytes)
{
    first_pass f = {.c = c, .o = o, .progress = progress, .work = facts, .verified = facts};
    /* A shelf for each worker, the calling thread's (it works too in some
     * loops) and that of the documents read from streams (analysed by
     * take); the workers' fill at once, and the streams' too if any. */
    bool streams = c->inputs.nstreams > 0;
    dd_near_across_init(&f.across, dd_memory_near_across_share(o->memory), (size_t)threads + 2,
                        (size_t)threads + streams, o->tmp_dir);
    if (!facts) {
        /* Past the budget, the search across documents writes only the
         * sets a later paragraph may ask for, and makes the others again
         * from their documents when a pair asks for them. */
        dd_unit_remaker remaker = {sets_again, worker_new, worker_free, &f};
        dd_near_across_remake_with(&f.across, &remaker, input_bytes);
    }
    dd_ordered_map m = {
        .n = c->inputs.n,
        .threads = threads,
        /* The calling thread analyses documents too where it would wait
         * for the next one to take: -j 2 is two threads on two cores, not
         * two workers and a consumer taking turns on them. */
        .caller_works = true,
        /* Enough documents in flight that a thread held up (a long
         * document, an array of the results or of the paragraphs' sets
         * grown and copied, a core taken by another process) leaves the
         * others items to go on with: at 64 a thread, the news at -j 2 ran
         * one thread alone 0.04-0.06 s of CPU in this pass, at 256 0.007-
         * 0.018 s (bench/bench_timeline.sh, load 10). Bytes bound memory
         * whatever the documents' sizes. */
        .window = 256 * (size_t)threads,
        .max_weight = (uint64_t)32 << 20,
        .ctx = &f,
        .result_size = sizeof(analysed),
        .weight = input_weight,
        .worker_new = worker_new,
        .worker_free = worker_free,
        .work = work,
        .consume = take,
        .result_free = analysed_free,
    };
    bool ran = dd_run_in_order(&m);
    dd_run_phase_done("first pass: the documents");
    if (getenv("DEDUP_RUN_STATS"))
        dd_memory_process(stderr, "the documents read");
    dd_unit_starts_set(&c->unit_starts, c->inputs.n, c->units.n);
    worker_free(NULL, f.own);
    /* All read: the room the arrays kept for more is given back. */
    dd_scratch_array_trim(&c->units);
    dd_scratch_array_trim(&c->near_units);
    dd_scratch_array_trim(&c->read_as);
    /* What reading left in memory, and in scratch files, for the search
     * across documents, which then works a part at a time. */
    size_t across_bytes = dd_near_across_memory_bytes(&f.across);
    dd_near_across_scratch across_scratch = dd_near_across_scratch_kinds(&f.across);
    if (ran)
        ran = f.verified ? read_across(&f) : find_across(&f, threads);
    if (ran && getenv("DEDUP_RUN_STATS")) {
        fprintf(stderr, "dedup: memory budget: %.1f MB (%s)\n",
                (double)(f.o->memory ? f.o->memory : dd_memory_default()) / 1e6,
                f.o->memory ? "--memory" : "the default");
        dd_memory_account(stderr, "after reading", c, across_bytes);
        fprintf(stderr, "dedup: units kept in a scratch file: %.1f MB\n",
                (double)dd_units_scratch_bytes(&c->units) / 1e6);
        fprintf(stderr, "dedup: names of the inputs kept in a scratch file: %.1f MB\n",
                (double)dd_names_scratch_bytes(&c->inputs.names) / 1e6);
        uint64_t records = dd_scratch_array_scratch_bytes(&c->inputs.docs),
                 read_as = dd_scratch_array_scratch_bytes(&c->read_as);
        fprintf(stderr,
                "dedup: records of the input list kept in a scratch file: %.1f MB (%" PRIu64
                " of %zu)\n",
                (double)records / 1e6, records / c->inputs.docs.size, c->inputs.n);
        fprintf(stderr,
                "dedup: documents' digests and sizes kept in a scratch file: %.1f MB (%" PRIu64
                " of %zu)\n",
                (double)read_as / 1e6, read_as / c->read_as.size, c->read_as.n);
        fprintf(stderr, "dedup: paragraphs' sets and band keys kept in scratch files: %.1f MB\n",
                (double)(across_scratch.sets + across_scratch.units + across_scratch.band_keys) /
                    1e6);
        fprintf(stderr,
                "dedup: of them: sets %.1f MB (%" PRIu64
                " paragraphs share a set kept already), where their sets are %.1f MB, band keys "
                "%.1f MB; sets and where they are read back into memory to verify: %.1f MB; sets "
                "read ahead from scratch files: %" PRIu64 " in %" PRIu64 " reads\n",
                (double)across_scratch.sets / 1e6, f.across.sets_shared,
                (double)across_scratch.units / 1e6, (double)across_scratch.band_keys / 1e6,
                (double)f.across.back_in_bytes / 1e6, (uint64_t)f.across.sets_ahead,
                (uint64_t)f.across.reads_ahead);
        fprintf(stderr,
                "dedup: paragraphs across documents: %" PRIu64 " units, %" PRIu64
                " pairs verified, in %" PRIu64 " parts of band keys and %" PRIu64
                " of pairs, %.1f MB held at most; %.1f s to make the pairs, %.1f s to verify\n",
                f.across.units, f.across.pairs, f.across.parts[0], f.across.parts[1],
                (double)f.across.peak_bytes / 1e6, f.across.seconds[0], f.across.seconds[1]);
        fprintf(stderr,
                "dedup: paragraphs' sets left out: %" PRIu64 " of %" PRIu64
                " units; made again: %" PRIu64 " sets, of %" PRIu64
                " documents (%.1f MB read, %" PRIu64 " changed), %.1f s\n",
                f.across.sets_left_out, f.across.units, f.across.sets_remade, f.across.docs_remade,
                (double)f.across.bytes_remade / 1e6, f.across.docs_changed,
                f.across.remake_seconds);
        fprintf(stderr, "dedup: near-repeats of paragraphs kept in a scratch file: %.1f MB\n",
                (double)dd_scratch_array_scratch_bytes(&c->near_units) / 1e6);
        fprintf(stderr, "dedup: document signatures kept in a scratch file: %.1f MB\n",
                (double)dd_scratch_array_scratch_bytes(&c->minhash_past_share) / 1e6);
        dd_memory_process(stderr, "the end of the first pass");
    }
    dd_near_across_free(&f.across);
    return ran;
}

/* ------------------------------------------------------- the sign stage */

/* Signing one part of a work folder: its documents analysed on the map's
 * workers, their facts written in order. */
typedef struct signing {
    first_pass f;    /* for analyse: the corpus's inputs and the options */
    size_t first, n; /* the part's documents: inputs [first, first + n) of the corpus */
    dd_part_writer *writer;
    dd_keys_builder *keys; /* the part's band keys, by partition, and where its sets are */
    sh_buf facts;
    uint64_t bytes;
    size_t done; /* documents signed before this part (progress) */
    bool failed;
} signing;

/* dd_ordered_map.work: analyses document first + i, and keeps what its
 * analysis said for the decisions (it is not said now). */
static void sign_work(void *ctx, void *state, size_t i, void *result)
{
    signing *g = ctx;
    analysed *r = result;
    analyse(&g->f, state, g->first + i, r, true);
    sh_buf said = r->said;
    r->said = r->run.messages;
    said.len = 0;
    if (said.data)
        said.data[0] = '\0';
    r->run.messages = said;
}

/* dd_ordered_map.consume: writes the facts of document first + i. */
static bool sign_take(void *ctx, size_t i, void *result)
{
    signing *g = ctx;
    analysed *r = result;
    g->facts.len = 0;
    uint64_t at = dd_part_writer_at(g->writer);
    size_t sets_at =
        dd_facts_encode(r, (uint32_t)(g->first + i), &r->said, g->f.work->num_perm, &g->facts);
    if (!dd_part_writer_add(g->writer, &g->facts)) {
        g->failed = true;
        return false;
    }
    dd_keys_builder_add(g->keys, (uint32_t)i, r, at + sets_at, at + g->facts.len);
    g->bytes += r->size;
    if (g->f.progress)
        dd_progress_update(g->f.progress, g->done + i + 1, g->bytes);
    if (slot_holds_much(r))
        analysed_free(NULL, r);
    return true;
}

static void *sign_worker_new(void *ctx) { return worker_new(&((signing *)ctx)->f); }

static uint64_t sign_weight(void *ctx, size_t i)
{
    signing *g = ctx;
    return dd_input_size(&g->f.c->inputs, g->first + i);
}

/* Signs part k of w, whose documents are inputs [first, first + n) of c:
 * false after a message. */
static bool sign_part(dd_corpus *c, size_t first, size_t n, const dd_options *o, dd_work *w,
                      size_t k, unsigned threads, dd_progress *progress, size_t *done,
                      uint64_t *bytes)
{
    signing g = {.f = {.c = c, .o = o, .progress = progress, .work = w},
                 .first = first,
                 .n = n,
                 .done = *done,
                 .bytes = *bytes};
    if (!(g.writer = dd_part_writer_new(w, k, n)))
        return false;
    g.keys = dd_keys_builder_new(w, k);
    dd_ordered_map m = {
        .n = n,
        .threads = threads,
        .window = 16 * (size_t)threads,
        .max_weight = (uint64_t)32 << 20,
        .ctx = &g,
        .result_size = sizeof(analysed),
        .weight = sign_weight,
        .worker_new = sign_worker_new,
        .worker_free = worker_free,
        .work = sign_work,
        .consume = sign_take,
        .result_free = analysed_free,
    };
    /* The keys file first: a part with its marker has its keys file, unless
     * it was lost since (then it is made again from the facts). */
    bool ok = dd_run_in_order(&m) && !g.failed && dd_keys_builder_write(g.keys, n) &&
              dd_part_writer_finish(g.writer);
    dd_part_writer_free(g.writer);
    dd_keys_builder_free(g.keys);
    sh_buf_free(&g.facts);
    *done = g.done + n;
    *bytes = g.bytes;
    return ok;
}

static bool collect_paths(dd_corpus *c, const dd_options *o, char *const *paths, size_t n);

/* Signs part k of w from its own files alone, collected (a task that does
 * not decide: the other parts' files are not read). */
static bool sign_part_alone(const dd_options *o, dd_work *w, size_t k, unsigned threads,
                            dd_progress *progress, size_t *done, uint64_t *bytes)
{
    const dd_part *p = &w->parts[k];
    char **paths = dd_malloc((p->files ? p->files : 1) * sizeof *paths);
    for (size_t i = 0; i < p->files; i++)
        paths[i] = w->sources.v[p->from + i].path;
    dd_corpus c;
    bool ok = collect_paths(&c, o, paths, p->files) &&
              sign_part(&c, 0, c.inputs.n, o, w, k, threads, progress, done, bytes);
    dd_corpus_free(&c);
    free(paths);
    return ok;
}

/* Signs the parts of w that are not signed, or not whole: those of this
 * task (o->work.task of o->work.tasks) only with --task; otherwise every
 * task's, here (the local executor: each part's documents analysed on the
 * -j workers, so the sign tasks of --tasks N share this machine's cores
 * as --tasks 1 does, and give the same parts). With
 * --stage decide, a part not signed is an error instead. c: the inputs
 * collected, w placed among them; NULL: each part's files are collected
 * when it is signed. */
static bool sign_parts(dd_corpus *c, const dd_options *o, dd_work *w, unsigned threads,
                       dd_progress *progress)
{
    size_t done = 0;
    uint64_t bytes = 0;
    bool staged = false;
    for (size_t k = 0; k < w->nparts; k++) {
        if (o->work.one_task && k % o->work.tasks != o->work.task)
            continue;
        char *why;
        if (dd_work_check_part(w, k, &why)) {
            /* Its keys file too, made again from the facts when it is not
             * right (the decide stage needs none, unless it groups). */
            if (o->work.stage != DD_STAGE_DECIDE && !dd_across_keys_ready(w, k, true))
                return false;
            continue;
        }
        char *path = dd_work_part_path(w, k);
        char *p = dd_printable(path);
        free(path);
        if (o->work.stage == DD_STAGE_DECIDE) {
            if (why)
                dd_error("%s: %s", p, why);
            else
                dd_error("%s: not signed: sign every part first (--stage sign, or every --task)",
                         p);
            free(p);
            free(why);
            return false;
        }
        if (why)
            dd_warn("%s: %s; signing it again", p, why);
        free(p);
        free(why);
        if (progress && !staged) {
            dd_progress_stage(progress, "signing");
            staged = true;
        }
        if (c ? !sign_part(c, w->parts[k].first, w->parts[k].n, o, w, k, threads, progress, &done,
                           &bytes)
              : !sign_part_alone(o, w, k, threads, progress, &done, &bytes))
            return false;
        if (!dd_work_check_part(w, k, &why)) { /* what was written is read back */
            char *at = dd_work_part_path(w, k);
            dd_error("%s: %s", at, why ? why : "not signed");
            free(at);
            free(why);
            return false;
        }
    }
    if (progress && staged)
        dd_progress_stage(progress, NULL);
    return true;
}

/* dd_loop of the listing: on a pool. */
static void pool_loop(void *pool, size_t n, void *ctx,
                      void (*item)(void *ctx, void *worker, size_t i))
{
    dd_pool_for(pool, n, ctx, item);
}

static void pool_loop_start(void *pool, size_t n, void *ctx,
                            void (*item)(void *ctx, void *worker, size_t i))
{
    dd_pool_start(pool, n, ctx, item);
}

static void pool_loop_wait(void *pool, size_t i) { dd_pool_wait(pool, i); }

static void pool_loop_finish(void *pool) { dd_pool_finish(pool); }

/* Reads the inputs under paths[0..n) into c as dd_corpus_run does (the
 * files' statuses looked up on o's threads); false if there are too
 * many. */
static bool collect_paths(dd_corpus *c, const dd_options *o, char *const *paths, size_t n)
{
    memset(c, 0, sizeof *c);
    c->max_bytes = (size_t)o->max_record_mb << 20;
    dd_records_spec records = dd_options_records(o);
    unsigned threads = o->threads ? (unsigned)o->threads : dd_online_cpus();
    dd_pool *pool = threads > 1 ? dd_pool_new("listing", threads, NULL, NULL, NULL) : NULL;
    if (pool)
        c->inputs.loop =
            (dd_loop){pool_loop, pool, pool_loop_start, pool_loop_wait, pool_loop_finish};
    c->inputs.names.max_in_memory = dd_memory_names_share(o->memory);
    c->inputs.records_max_in_memory = dd_memory_input_records_share(o->memory);
    c->problems = dd_inputs_collect(&c->inputs, paths, n, &records);
    c->inputs.loop = (dd_loop){0};
    dd_pool_free(pool);
    if (c->inputs.n > UINT32_MAX - 1) {
        dd_error("too many documents (%zu)", c->inputs.n);
        return false;
    }
    return true;
}

/* Reads the inputs of o into c; false if there are too many. */
static bool collect(dd_corpus *c, const dd_options *o)
{
    return collect_paths(c, o, o->paths, o->npaths);
}

int dd_corpus_stage_only(const dd_options *o, dd_progress *progress)
{
    dd_work w = {0};
    unsigned threads = o->threads ? (unsigned)o->threads : dd_online_cpus();
    bool ok = dd_work_open(&w, o, false);
    if (ok && o->work.stage == DD_STAGE_SIGN) {
        /* Listed, not read: each part's files are read when it is signed,
         * so a task reads the files of its own parts only. */
        ok = sign_parts(NULL, o, &w, threads, progress);
    } else if (ok) {
        /* Group or verify: from the keys files of the parts (their own
         * sections), not the inputs. */
        ok = dd_across_parts_ready(&w) &&
             dd_across_stage_run(&w, o, o->work.stage == DD_STAGE_GROUP ? "group" : "verify",
                                 threads, false);
    }
    dd_work_free(&w);
    return ok ? DD_EXIT_CLEAN : DD_EXIT_ERROR;
}

/* Writes to pairs the documents of each near-repeat of v[0..n) that is not
 * an alternative; returns how many. */
static size_t linked_pairs(const dd_near_unit *v, size_t n, dd_doc_pair *pairs)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!v[i].alternative)
            pairs[k++] = (dd_doc_pair){v[i].doc, v[i].of_doc};
    return k;
}

/* Links the documents of every near-repeat of a unit across documents
 * (exact copies of a paragraph are near-repeats too): candidates for the
 * containment half of the rule at any size ratio (dd_signatures_link). A
 * copy of a paragraph is linked with its first match only (near_units.h),
 * so a paragraph printed in many documents links each to that first one,
 * not all of them to each other. */
void dd_corpus_link_documents(dd_corpus *c, const dd_scratch_array *l)
{
    dd_doc_pair *pairs = dd_malloc((l->n ? l->n : 1) * sizeof *pairs);
    dd_near_unit *buf = NULL;
    size_t n = 0, cap = 0;
    for (size_t k = 0, m; k < l->n; k += m) {
        m = l->n - k < 4096 ? l->n - k : 4096;
        n += linked_pairs(dd_scratch_array_span(l, k, m, &buf, &cap), m, pairs + n);
    }
    dd_signatures_link(&c->signatures, pairs, n);
    free(buf);
    free(pairs);
}

/* ------------------------------------------------ documents, ahead */

/* What a worker found for a pair: the overlap, or which set could not be
 * had (the document's is tried first, as verify does). */
typedef struct doc_pair {
    uint32_t rep;
    set_status rep_status; /* SET_MADE: overlap holds */
    dd_overlap overlap;
    char *said; /* what reading the representative said (NULL: nothing) */
} doc_pair;

typedef struct doc_pairs {
    set_status status; /* of the document's own set: other than SET_MADE, no pairs */
    char *said;        /* what reading it said */
    doc_pair *v;
    size_t n, cap;
} doc_pairs;

/* A batch of the clustering. */
typedef struct cluster_batch {
    dd_corpus *c;
    dd_placer *placer;
    dd_placer_ahead *ahead;
    const uint32_t *docs; /* the batch, in the order placed (NULL: documents first..) */
    size_t first, n;
    doc_pairs *pairs; /* per document of the batch */
    size_t pairs_cap;
    size_t current;  /* the document being placed */
    set_loader *own; /* the calling thread's, for pairs not computed ahead */
    uint64_t *a, *b;
    size_t cap_a, cap_b;
    uint64_t computed, missed;
    uint64_t pairs_ahead, sets_ahead; /* pairs computed ahead, sets asked for (DEDUP_RUN_STATS) */
} cluster_batch;

/* Document k of the batch. */
static uint32_t batch_doc(const cluster_batch *b, size_t k)
{
    return b->docs ? b->docs[k] : (uint32_t)(b->first + k);
}

/* The messages captured so far, as a string for the calling thread to say
 * in its turn (NULL: none); the capture is emptied. */
static char *said_of(sh_buf *captured)
{
    char *said = captured->len ? strndup(captured->data, captured->len) : NULL;
    captured->len = 0;
    if (captured->data)
        captured->data[0] = '\0';
    return said;
}

/* The overlaps of document k of the batch with reps[0..nreps), in that
 * order, until one joins, into b->pairs[k]: on a thread of the pool (v its
 * verifier). */
static void overlaps_ahead(cluster_batch *b, verifier *v, size_t k, const uint32_t *reps,
                           size_t nreps)
{
    doc_pairs *out = &b->pairs[k];
    set_loader *loader = nreps ? verifier_loader(v) : NULL;
    if (!loader)
        return;
    uint32_t d = batch_doc(b, k);
    sh_buf said = {0};
    dd_messages_capture(&said);
    size_t nd = 0, nr;
    out->status = make_set(loader, d, &v->doc_set, &v->doc_set_cap, &nd);
    out->said = said_of(&said);
    if (out->status == SET_MADE && out->cap < nreps) { /* room for them all, no more */
        out->v = dd_realloc(out->v, nreps * sizeof *out->v);
        out->cap = nreps;
    }
    for (size_t i = 0; i < nreps && out->status == SET_MADE; i++) {
        doc_pair *pair = &out->v[out->n++];
        pair->rep = reps[i];
        pair->rep_status = make_set(loader, pair->rep, &v->rep_set, &v->rep_set_cap, &nr);
        pair->said = said_of(&said);
        if (pair->rep_status != SET_MADE)
            continue;
        pair->overlap =
            (dd_overlap){nd, nr, dd_sorted_intersection(v->doc_set, nd, v->rep_set, nr)};
        if (dd_overlap_joins(&b->c->signatures, &pair->overlap))
            break;
    }
    dd_messages_capture(NULL);
    sh_buf_free(&said);
}

/* Empties what document k of the batch had computed ahead. */
static void doc_pairs_start(cluster_batch *b, size_t k)
{
    doc_pairs *out = &b->pairs[k];
    out->n = 0;
    out->status = SET_MADE;
    out->said = NULL;
}

/* dd_pool work: the overlaps of document k of the batch with the
 * representatives it will be verified against, until one joins. */
static void documents_ahead(void *ctx, void *state, size_t k)
{
    cluster_batch *b = ctx;
    verifier *v = state;
    doc_pairs_start(b, k);
    if (!v)
        return;
    size_t nreps =
        dd_placer_ahead_pairs(b->placer, b->ahead, k, &v->doc_scratch, &v->reps, &v->reps_cap);
    overlaps_ahead(b, v, k, v->reps, nreps);
}

/* Takes what making document doc's set found on a worker: says it (once),
 * as load_set would have. */
static bool set_taken_ahead(dd_corpus *c, uint32_t doc, set_status st, const char *said)
{
    if (st != SET_MADE && c->reread[doc] == DD_REREAD_OK && said)
        dd_messages_print(&(sh_buf){.data = (char *)said, .len = strlen(said)});
    if (c->reread[doc] != DD_REREAD_OK)
        return false;
    return set_taken(c, doc, st);
}

/* dd_signatures.overlap, on the calling thread: from the pairs computed
 * ahead for the document being placed, or computed now. */
static bool answer_pair(void *ctx, uint32_t d, uint32_t r, dd_overlap *o)
{
    cluster_batch *b = ctx;
    dd_corpus *c = b->c;
    while (b->current < b->n && batch_doc(b, b->current) != d)
        b->current++;
    const doc_pairs *ps = b->current < b->n ? &b->pairs[b->current] : NULL;
    if (ps && ps->status != SET_MADE) {
        b->computed++;
        return set_taken_ahead(c, d, ps->status, ps->said);
    }
    for (size_t i = 0; ps && i < ps->n; i++) {
        const doc_pair *pair = &ps->v[i];
        if (pair->rep != r)
            continue;
        b->computed++;
        if (c->reread[d] != DD_REREAD_OK || !set_taken_ahead(c, r, pair->rep_status, pair->said))
            return false;
        *o = pair->overlap;
        return true;
    }
    b->missed++;
    size_t na, nb;
    if (!load_set(b->own, d, &b->a, &b->cap_a, &na) || !load_set(b->own, r, &b->b, &b->cap_b, &nb))
        return false;
    *o = (dd_overlap){na, nb, dd_sorted_intersection(b->a, na, b->b, nb)};
    return true;
}

/* dd_pool work: the keys of document k of the batch. */
static void document_keys(void *ctx, void *state, size_t k)
{
    (void)state;
    cluster_batch *b = ctx;
    dd_placer_ahead_keys(b->placer, b->ahead, k);
}

/* dd_pool work: the batch's representatives go to the index of band. */
static void index_band(void *ctx, void *state, size_t band)
{
    (void)state;
    cluster_batch *b = ctx;
    dd_placer_ahead_index(b->placer, b->ahead, band);
}

static void doc_pairs_clear(doc_pairs *ps)
{
    free(ps->said);
    for (size_t i = 0; i < ps->n; i++)
        free(ps->v[i].said);
    ps->said = NULL;
    ps->n = 0;
}

/* Starts a batch of docs[0..n) (docs NULL: of documents first to first +
 * n - 1): room for what each has computed ahead. */
static void batch_begin(cluster_batch *b, const uint32_t *docs, size_t first, size_t n)
{
    b->docs = docs;
    b->first = first;
    b->n = n;
    b->current = 0;
    if (n > b->pairs_cap) {
        b->pairs = dd_realloc(b->pairs, n * sizeof *b->pairs);
        memset(b->pairs + b->pairs_cap, 0, (n - b->pairs_cap) * sizeof *b->pairs);
        b->pairs_cap = n;
    }
}

static void batch_free(cluster_batch *b)
{
    for (size_t k = 0; k < b->pairs_cap; k++) {
        doc_pairs_clear(&b->pairs[k]);
        free(b->pairs[k].v);
    }
    free(b->pairs);
    free(b->a);
    free(b->b);
}

/* A batch of the clustering is this many documents. */
#define CLUSTER_BATCH_DOCS 512

/* Places docs[0..ndocs) in that order (as dd_placer_place would, one by
 * one) into *out, in batches, each verified ahead on the pool, with
 * placer (new, of c's signatures; freed here). */
static void place_in_batches(dd_corpus *c, dd_pool *pool, set_loader *own, const uint32_t *docs,
                             size_t ndocs, dd_placer *placer, dd_clusters *out)
{
    dd_signatures *s = &c->signatures;
    size_t n = s->n;
    cluster_batch b = {.c = c, .placer = placer, .ahead = dd_placer_ahead_new(), .own = own};
    s->overlap = answer_pair;
    s->overlap_ctx = &b;
    uint64_t made_before = own->store->made; /* (no worker runs now) */
    dd_member m;
    for (size_t start = 0; start < ndocs; start += CLUSTER_BATCH_DOCS) {
        batch_begin(&b, docs + start, start,
                    ndocs - start < CLUSTER_BATCH_DOCS ? ndocs - start : CLUSTER_BATCH_DOCS);
        dd_placer_ahead_prepare(b.ahead, placer, b.docs, b.n);
        dd_pool_for(pool, b.n, &b, document_keys);
        dd_placer_ahead_guess(b.ahead);
        /* Each document placed once its pairs are computed, while the
         * workers compute those of the next ones. */
        dd_pool_start(pool, b.n, &b, documents_ahead);
        for (size_t k = 0; k < b.n; k++) {
            dd_pool_wait(pool, k);
            b.pairs_ahead += b.pairs[k].n;
            b.sets_ahead += b.pairs[k].n + (b.pairs[k].n > 0);
            dd_placer_place_ahead(placer, b.ahead, k, &m);
        }
        dd_pool_finish(pool);
        dd_pool_for(pool, dd_placer_ahead_bands(b.ahead), &b, index_band);
        for (size_t k = 0; k < b.n; k++)
            doc_pairs_clear(&b.pairs[k]);
    }
    s->overlap = NULL;
    s->overlap_ctx = NULL;
    if (getenv("DEDUP_RUN_STATS"))
        fprintf(stderr,
                "dedup: near-duplicate documents: %" PRIu64 " pairs verified ahead, %" PRIu64
                " when asked; the placer holds %zu bytes, %.0f a document\n"
                "dedup: near-duplicate documents: %" PRIu64 " pairs computed ahead in all, %" PRIu64
                " sets asked for, %" PRIu64 " made\n",
                b.computed, b.missed, dd_placer_bytes(placer),
                n ? (double)dd_placer_bytes(placer) / (double)n : 0.0, b.pairs_ahead, b.sets_ahead,
                own->store->made - made_before);
    if (getenv("DEDUP_RUN_STATS")) /* the placer at its largest */
        dd_memory_process(stderr, "the last document placed");
    dd_placer_finish(placer, n, out);
    dd_placer_free(placer);
    dd_placer_ahead_free(b.ahead);
    batch_free(&b);
}

/* Filling the filter of shared keys (dd_key_filter); and, beside it when
 * the clustering places every document, the placer's room made (its
 * fresh pages zeroed), the documents ranked and linked by their shared
 * paragraphs (dd_corpus_link_documents), which the calling thread did
 * alone before (2-3 ms of the news at -j 2, and 1-2 ms the links): each
 * of these short items reads the signatures (not their links, which no
 * other item reads), or writes only its own. */
typedef struct filter_fill {
    const dd_signatures *s;
    const uint32_t *docs; /* NULL: all of them */
    size_t ndocs;
    dd_key_filter *filter;
    size_t nranges;     /* of the filter's words, one a thread */
    dd_placer *reserve; /* not NULL: dd_placer_reserve(reserve, ndocs), short item 0 */
    uint32_t *order;    /* not NULL: dd_rank_documents into it, short item 1 */
    dd_corpus *link;    /* not NULL: its documents linked as read, short item 2 */
    /* The block of documents docs[from..to) whose keys are computed, and
     * the short items (first_short..) run first in its loop of keys. */
    size_t from, to, first_short, nshort;
    uint64_t *keys; /* the block's, dd_near_keys_per_doc a document */
} filter_fill;

#define FILTER_SHORT_ITEMS 3
/* Keys computed at once (512 KiB, from the heap: 1,024 documents of the
 * news' 64 bands), in parts, so that the threads share them out as they
 * come. Held while the filter is filled, beside the placer's bytes a
 * document (DD_PLACER_BYTES_A_DOC). */
#define FILTER_BLOCK_KEYS ((size_t)64 << 10)
#define FILTER_BLOCK_PARTS 8

static void run_short_item(filter_fill *f, size_t item)
{
    if (item == 0 && f->reserve)
        dd_placer_reserve(f->reserve, f->ndocs);
    else if (item == 1 && f->order)
        dd_rank_documents(f->s, f->order);
    else if (item == 2 && f->link)
        dd_corpus_link_documents(f->link, &f->link->near_units);
}

/* An item of a block's loop of keys: a short item, or a part of the
 * block's documents whose keys it computes. */
static void fill_keys(void *ctx, void *state, size_t item)
{
    (void)state;
    filter_fill *f = ctx;
    if (item < f->nshort) {
        run_short_item(f, f->first_short + item);
        return;
    }
    size_t part = item - f->nshort, n = f->to - f->from;
    size_t from = f->from + n * part / FILTER_BLOCK_PARTS;
    size_t to = f->from + n * (part + 1) / FILTER_BLOCK_PARTS;
    size_t nkeys = dd_near_keys_per_doc(&f->s->params);
    dd_key_filter_keys(f->s, f->docs, from, to, f->keys + (from - f->from) * nkeys);
}

/* An item of a block's loop of bits: a range of the filter's words. */
static void fill_range(void *ctx, void *state, size_t range)
{
    (void)state;
    filter_fill *f = ctx;
    dd_key_filter_set(f->filter, f->s, f->docs, f->from, f->to, f->keys, range, f->nranges);
}

/* The filter of the keys of the documents docs[0..ndocs) (docs NULL: of
 * every document) (near.h, dd_key_filter); with them, reserve (not NULL)
 * given room for ndocs documents, order (not NULL) the documents in rank
 * order and link's documents (not NULL) linked as read (see filter_fill).
 *
 * On the pool, block after block of documents: a loop whose items compute
 * the keys of parts of the block, then a loop of as many ranges of the
 * filter's words as threads, each setting the block's keys that fall in
 * it (no cache line written by two threads). The short items come first
 * in the loops of keys, one a block from the first (the rest in the last
 * block), so that the other threads take the block's parts meanwhile.
 * Before (session 23), a range computed every document's keys itself: at
 * -j 2 one range on one thread and the short items on the other, the
 * calling thread alone for 7-12 ms of the news' clustering (a second
 * range would hash every key again). */
static void filter_keys(const dd_signatures *s, const uint32_t *docs, size_t ndocs, dd_pool *pool,
                        dd_key_filter *out, dd_placer *reserve, uint32_t *order, dd_corpus *link)
{
    dd_key_filter_init(out, s, ndocs);
    filter_fill f = {s, docs, ndocs, out, 1, reserve, order, link, 0, 0, 0, 0, NULL};
    size_t workers = pool ? (size_t)dd_pool_threads(pool) : 0;
    if (workers == 0) {
        dd_key_filter_add(out, s, docs, ndocs, 0, 1);
        for (size_t item = 0; item < FILTER_SHORT_ITEMS; item++)
            run_short_item(&f, item);
        return;
    }
    f.nranges = workers + 1;
    size_t nkeys = dd_near_keys_per_doc(&s->params);
    size_t block = FILTER_BLOCK_KEYS / nkeys ? FILTER_BLOCK_KEYS / nkeys : 1;
    size_t nblocks = ndocs ? (ndocs + block - 1) / block : 1;
    f.keys = dd_malloc((ndocs < block ? (ndocs ? ndocs : 1) : block) * nkeys * sizeof *f.keys);
    for (size_t b = 0; b < nblocks; b++) {
        f.from = b * block;
        f.to = f.from + block < ndocs ? f.from + block : ndocs;
        f.first_short = b < FILTER_SHORT_ITEMS ? b : FILTER_SHORT_ITEMS;
        size_t end_short =
            b + 1 < nblocks ? f.first_short + (b < FILTER_SHORT_ITEMS) : FILTER_SHORT_ITEMS;
        f.nshort = end_short - f.first_short;
        dd_pool_for(pool, f.nshort + FILTER_BLOCK_PARTS, &f, fill_keys);
        dd_pool_for(pool, f.nranges, &f, fill_range);
    }
    free(f.keys);
}

/* dd_sweep_ahead.batch: the sweep's next documents, what the batch before
 * computed forgotten, and its room given back (the sweep sizes its
 * batches to hold what the pairs computed ahead take: dd_sweep_ahead). */
static void sweep_batch(void *ctx, const uint32_t *docs, size_t first, size_t n)
{
    cluster_batch *b = ctx;
    for (size_t k = 0; k < b->n; k++) {
        doc_pairs_clear(&b->pairs[k]);
        free(b->pairs[k].v);
        b->pairs[k].v = NULL;
        b->pairs[k].cap = 0;
    }
    batch_begin(b, docs, first, n);
    for (size_t k = 0; k < n; k++)
        doc_pairs_start(b, k);
}

/* dd_sweep_ahead.pairs, on a thread of the pool. */
static void sweep_pairs(void *ctx, void *state, size_t k, const uint32_t *reps, size_t n)
{
    overlaps_ahead(ctx, state, k, reps, n);
}

/* dd_sweep_ahead.held: what the batch's pairs computed ahead hold. */
static size_t sweep_held(const void *ctx)
{
    const cluster_batch *b = ctx;
    size_t bytes = b->pairs_cap * sizeof *b->pairs;
    for (size_t k = 0; k < b->pairs_cap; k++)
        bytes += b->pairs[k].cap * sizeof *b->pairs[k].v;
    return bytes;
}

/* Clusters docs[0..ndocs) (NULL: every document, in rank order) into *out
 * by the sweep of sorted band keys (run/cluster_sweep.h), within the
 * clustering's share of the budget, when the placer and its filter would
 * not fit it (memory.h: dd_memory_placer_fits): with the pool's workers
 * (when it has some) verifying ahead, own what they did not. False when
 * they fit, or when the sweep could not keep its pairs (a full disk:
 * said): then the placer clusters, to the same clusters. */
static bool cluster_by_sweep(dd_corpus *c, const dd_options *o, dd_pool *pool, set_loader *own,
                             const uint32_t *docs, size_t ndocs, dd_clusters *out)
{
    if (dd_memory_placer_fits(o->memory, ndocs))
        return false;
    uint32_t *order = NULL;
    /* (--keep first ranks the documents as they are numbered: the sweep
     * takes no order then, 4 bytes a document) */
    if (!docs && c->signatures.params.keep != DD_KEEP_FIRST) {
        order = dd_malloc((ndocs ? ndocs : 1) * sizeof *order);
        dd_rank_documents(&c->signatures, order);
        docs = order;
    }
    dd_signatures *s = &c->signatures;
    cluster_batch b = {.c = c, .own = own};
    dd_sweep_ahead ahead = {
        pool, &b, sweep_batch, sweep_pairs, sizeof(doc_pair), sizeof(doc_pairs), sweep_held};
    bool verify_ahead = pool && own && dd_pool_threads(pool) > 0;
    if (verify_ahead) {
        s->overlap = answer_pair;
        s->overlap_ctx = &b;
    }
    dd_sweep_stats st;
    char *err = NULL;
    bool ok = dd_cluster_sweep(s, docs, ndocs, dd_memory_clustering_share(o->memory), o->tmp_dir,
                               verify_ahead ? &ahead : NULL, out, &st, &err);
    s->overlap = NULL;
    s->overlap_ctx = NULL;
    batch_free(&b);
    free(order);
    if (!ok) {
        dd_warn("%s; the documents are clustered in memory instead", err);
        free(err);
        return false;
    }
    if (getenv("DEDUP_RUN_STATS")) {
        /* (the placer's arrays are per document of the corpus) */
        size_t n = ndocs ? ndocs : 1, all = c->signatures.n ? c->signatures.n : 1;
        fprintf(stderr,
                "dedup: near-duplicate documents by the sweep: %zu documents, %" PRIu64
                " band keys in %zu parts (%.1f MB in a scratch file; %" PRIu64
                " in %zu hot buckets, %zu sub-buckets of two or more), %" PRIu64
                " pairs (%.2f a document; %.1f MB in a scratch file, %zu runs) in %zu batches, "
                "%.1f MB read back, %zu bytes held at once at most of a share of %zu (%s); the "
                "placer holds %zu bytes, "
                "%.0f a document\n"
                "dedup: near-duplicate documents by the sweep: %" PRIu64
                " pairs judged ahead, %" PRIu64 " sent to exact verification; %" PRIu64
                " pairs verified ahead, %" PRIu64 " when asked; %" PRIu64
                " twins (exact keys in %zu parts); the heap in use %.1f MB before, %.1f MB at "
                "most (%s)\n",
                ndocs, st.entries, st.key_parts, (double)st.keys_scratch / 1e6, st.hot_entries,
                st.hot_buckets, st.sub_buckets, st.pairs, (double)st.pairs / (double)n,
                (double)st.pairs_scratch / 1e6, st.pair_runs, st.batches,
                (double)st.scratch_read / 1e6, st.most_held, dd_memory_clustering_share(o->memory),
                st.most_held_when ? st.most_held_when : "nothing held", st.placer_bytes,
                (double)st.placer_bytes / (double)all, st.judged, st.exact_ahead, b.computed,
                b.missed, st.twins, st.twin_parts, (double)st.heap_before / 1e6,
                (double)st.heap_most / 1e6, st.heap_most_when ? st.heap_most_when : "-");
        dd_memory_process(stderr, "the last document placed");
    }
    return true;
}

/* Clusters the documents as read (the first round of decisions): with the
 * pool's workers when there is one, own verifying what they did not; from
 * a work folder (staged, not NULL), by the sweep of its verified pairs
 * (run/doc_stages.h). False after a message. */
static bool cluster(dd_corpus *c, const dd_options *o, dd_pool *pool, set_loader *own,
                    const dd_work *staged)
{
    if (!o->near.enabled) {
        dd_cluster_nothing(c->signatures.n, &c->clusters);
        return true;
    }
    bool ahead = pool && dd_pool_threads(pool) > 0;
    /* The documents linked as read: by an item of the filter's loop when
     * the placer clusters on the pool (filter_fill), else first. */
    bool link_beside = ahead && !staged && !getenv("DEDUP_CLUSTER_BY_PAIRS") &&
                       dd_memory_placer_fits(o->memory, c->signatures.n);
    if (!link_beside)
        dd_corpus_link_documents(c, &c->near_units);
    if (staged)
        return dd_doc_stages_cluster(staged, &c->signatures, &c->clusters);
    if (getenv("DEDUP_CLUSTER_BY_PAIRS")) { /* experiment: the stages' clustering, in memory */
        dd_doc_pairs_stats st;
        dd_cluster_by_pairs(&c->signatures, &c->clusters, &st);
        size_t n = c->signatures.n ? c->signatures.n : 1;
        if (getenv("DEDUP_RUN_STATS"))
            fprintf(stderr,
                    "dedup: clustering by pairs: %" PRIu64 " entries, %" PRIu64
                    " hot buckets (%" PRIu64 " entries), %" PRIu64 " bucket pairs, %" PRIu64
                    " distinct pairs judged (%.2f a document; %" PRIu64 " may join, %" PRIu64
                    " join), %" PRIu64 " decided on the exact sets, %" PRIu64
                    " verified by the sweep; the sweep holds %zu bytes, %.0f a document\n",
                    st.entries, st.hot_buckets, st.hot_entries, st.bucket_pairs, st.pairs,
                    (double)st.pairs / (double)n, st.may_join, st.joined, st.exact, st.asked,
                    st.sweep_bytes, (double)st.sweep_bytes / (double)n);
        return true;
    }
    if (cluster_by_sweep(c, o, pool, own, NULL, c->signatures.n, &c->clusters))
        return true;
    dd_key_filter shared;
    size_t n = c->signatures.n;
    dd_placer *placer = ahead ? dd_placer_new(&c->signatures) : NULL;
    uint32_t *order = ahead ? dd_malloc((n ? n : 1) * sizeof *order) : NULL;
    filter_keys(&c->signatures, NULL, n, ahead ? pool : NULL, &shared, placer, order,
                link_beside ? c : NULL);
    c->signatures.shared_keys = &shared;
    if (ahead) {
        place_in_batches(c, pool, own, order, n, placer, &c->clusters);
        free(order);
    } else
        dd_cluster_documents(&c->signatures, &c->clusters);
    c->signatures.shared_keys = NULL;
    dd_key_filter_free(&shared);
    return true;
}

void dd_corpus_place(dd_corpus *c, const dd_options *o, const uint32_t *docs, size_t ndocs,
                     dd_clusters *out)
{
    set_loader *own = c->signatures.load_set == load_set ? c->signatures.load_ctx : NULL;
    /* The clustering's threads, whose loaders put their sets in own's
     * store (one cache of sets, as the first round's). */
    dd_pool *pool = own && ndocs > 1 ? c->verification : NULL;
    if (cluster_by_sweep(c, o, pool, own, docs, ndocs, out))
        return;
    bool ahead = pool && dd_pool_threads(pool) > 0;
    /* As the first round's too: the keys no other document placed has are
     * neither listed nor looked up (the same clusters, a fraction of the
     * entries). */
    dd_key_filter shared;
    filter_keys(&c->signatures, docs, ndocs, ahead ? pool : NULL, &shared, NULL, NULL, NULL);
    c->signatures.shared_keys = &shared;
    if (ahead)
        place_in_batches(c, pool, own, docs, ndocs, dd_placer_new(&c->signatures), out);
    else {
        dd_placer *p = dd_placer_new(&c->signatures);
        dd_member m;
        for (size_t i = 0; i < ndocs; i++)
            dd_placer_place(p, docs[i], &m);
        dd_placer_finish(p, c->signatures.n, out);
        dd_placer_free(p);
    }
    c->signatures.shared_keys = NULL;
    dd_key_filter_free(&shared);
}

/* The store of the MinHash values past the signatures' share of the
 * budget (near.h, dd_minhash_store): c->minhash_past_share, one document's
 * values an element, read one at a time. */
static bool minhash_append(void *ctx, const uint32_t *values, char **err)
{
    dd_corpus *c = ctx;
    return dd_scratch_array_append(&c->minhash_past_share, values, 1, err);
}

static void minhash_get(const void *ctx, size_t k, uint32_t *out)
{
    const dd_corpus *c = ctx;
    dd_scratch_array_copy(&c->minhash_past_share, k, out);
}

static void minhash_set(void *ctx, size_t k, const uint32_t *values)
{
    dd_corpus *c = ctx;
    dd_scratch_array_set(&c->minhash_past_share, k, values);
}

/* Starts c's signatures: the MinHash values past their share of the
 * budget (memory.h) go to a scratch file in --tmp-dir. */
static bool signatures_init(dd_corpus *c, const dd_options *o)
{
    dd_notes notes = {0};
    if (!dd_notes_said(&notes, dd_signatures_init(&c->signatures, &o->near, &o->hash, &notes)))
        return false;
    if (o->near.method == DD_METHOD_MINHASH) {
        /* 1 byte, less than an element: every one the store is given goes
         * to the file (those memory keeps are the signatures' own). */
        dd_scratch_array_init(&c->minhash_past_share, o->near.num_perm * sizeof(uint32_t), 1,
                              o->tmp_dir, "document signatures");
        dd_minhash_store store = {minhash_append, minhash_get, minhash_set, c};
        dd_signatures_keep_minhash(&c->signatures, dd_memory_signatures_share(o->memory), store);
    }
    dd_signatures_reserve(&c->signatures, c->inputs.n); /* one each */
    return true;
}

/* The text of each boilerplate shown (its first 1000 bytes), read again
 * on the pool: the inputs' opening and reading were 2-4 ms of the news at
 * -j 2 on the calling thread alone (135 of them). */
typedef struct boilerplate_texts {
    const dd_corpus *c;
    char **texts;
    int *errs;
} boilerplate_texts;

static void read_boilerplate_text(void *ctx, void *state, size_t i)
{
    (void)state;
    boilerplate_texts *t = ctx;
    const dd_boilerplate *b = &t->c->findings.boilerplate[i];
    t->texts[i] = read_bytes(t->c, b->text_at.doc, b->text_off,
                             b->text_len > 1000 ? 1000 : b->text_len, &t->errs[i]);
}

/* Then, in order on the calling thread, what was read is taken as
 * read_range one after the other would have: a failure said once, and
 * an input that failed gives the later texts nothing. */
static void read_boilerplate_texts(dd_corpus *c, unsigned threads)
{
    size_t n = c->findings.nboilerplate;
    boilerplate_texts t = {c, dd_calloc(n ? n : 1, sizeof *t.texts),
                           dd_calloc(n ? n : 1, sizeof *t.errs)};
    dd_pool *pool =
        threads > 1 && n > 1 ? dd_pool_new("boilerplate texts", threads, NULL, NULL, NULL) : NULL;
    if (pool)
        dd_pool_for(pool, n, &t, read_boilerplate_text);
    dd_pool_free(pool);
    for (size_t i = 0; i < n; i++) {
        dd_boilerplate *b = &c->findings.boilerplate[i];
        uint32_t doc = b->text_at.doc;
        if (!pool) {
            b->text = read_range(c, doc, b->text_off, b->text_len > 1000 ? 1000 : b->text_len);
            continue;
        }
        if (DD_REREAD_OF(c, doc) == DD_REREAD_FAILED && !dd_input_is_stream(&c->inputs, doc)) {
            t.texts[i][0] = '\0'; /* failed before: read_range reads nothing */
        } else if (t.errs[i]) {
            say_reread_failed(c, doc, t.errs[i]);
        }
        b->text = t.texts[i];
    }
    free(t.texts);
    free(t.errs);
}

bool dd_corpus_run(dd_corpus *c, const dd_options *o, dd_progress *progress)
{
    /* The scratch files' buffers (a hundred at once at most) take their
     * room from the budget too (memory.h). */
    dd_memory_hold_to_budget(o->memory, o->threads ? (unsigned)o->threads : dd_online_cpus());
    if (getenv("DEDUP_RUN_STATS")) /* what the process holds before any document: run.h */
        dd_memory_process(stderr, "the start of the run");
    if (!collect(c, o))
        return false;
    dd_run_phase_done("listing the inputs");
    size_t n = c->inputs.n;
    dd_notes notes = {0};
    if (!signatures_init(c, o))
        return false;
    dd_scratch_array_init(&c->read_as, sizeof(dd_read_as), dd_memory_read_as_share(o->memory),
                          o->tmp_dir, "the documents' digests and sizes");
    c->failed = dd_calloc(n, sizeof *c->failed);
    c->reread = dd_calloc(n, sizeof *c->reread);
    dd_unit_starts_init(&c->unit_starts, n);
    dd_units_init(&c->units, dd_memory_units_share(o->memory), o->tmp_dir);
    dd_scratch_array_init(&c->near_units, sizeof(dd_near_unit),
                          dd_memory_near_units_share(o->memory), o->tmp_dir,
                          "near-repeats of paragraphs");
    c->text_version = dd_calloc(n ? n : 1, sizeof *c->text_version);
    unsigned threads = o->threads ? (unsigned)o->threads : dd_online_cpus();
    pool_ctx pc = {c, o, NULL}; /* (the sets: own's, once made) */
    /* With a work folder: the parts not signed yet are signed, then the
     * first pass takes every document's facts from there. */
    dd_work work = {0};
    bool staged = o->work.dir != NULL;
    if (staged && (!dd_work_open(&work, o, true) || !dd_work_place(&work, &c->inputs) ||
                   !sign_parts(c, o, &work, threads, progress) ||
                   !dd_across_stage_run(&work, o, "verify", threads, true))) {
        dd_work_free(&work);
        return false;
    }
    uint64_t total = 0; /* the inputs' bytes */
    for (size_t i = 0; i < c->inputs.n; i++)
        total += dd_input_size(&c->inputs, i);
    if (progress)
        dd_progress_expect(progress, total);
    bool first = first_pass_run(c, o, progress, threads, staged ? &work : NULL, total);
    if (!first) {
        dd_work_free(&work);
        return false;
    }
    dd_run_phase_done("first pass: paragraphs across documents");
    if (progress)
        dd_progress_phase(progress, "deciding");
    dd_pool *pool =
        threads > 1 ? dd_pool_new("verification", threads, &pc, verifier_new, verifier_free) : NULL;
    /* Exact verification, on the calling thread: of what the workers did
     * not verify, then of the later rounds, on the text they leave. */
    set_loader *own = NULL;
    if (o->near.enabled) {
        own = set_loader_new(c, o, NULL);
        if (!own) {
            dd_pool_free(pool);
            dd_work_free(&work);
            return false;
        }
        c->signatures.load_set = load_set;
        c->signatures.load_ctx = own;
        pc.sets = own->store; /* the workers' loaders, made when first needed, share it */
    }
    bool clustered = cluster(c, o, pool, own, staged ? &work : NULL);
    dd_work_free(&work);
    if (!clustered) {
        dd_pool_free(pool);
        c->signatures.load_set = NULL;
        set_loader_free(own);
        return false;
    }
    /* The same threads, with the loaders they made, place the documents
     * of the later rounds (dd_corpus_place): a pool a round made its
     * threads and a loader for each (the analyser, ICU's objects: about
     * 0.6 M instructions and their pages each) again. pc outlives it. */
    c->verification = own ? pool : NULL;
    if (!own)
        dd_pool_free(pool);
    if (getenv("DEDUP_RUN_STATS"))
        dd_memory_process(stderr, "the end of the clustering");
    dd_run_phase_done("clustering");
    dd_text_source texts = dd_corpus_texts(c);
    bool ok = dd_notes_said(&notes, dd_rounds_run(c, o, &texts, &notes));
    if (getenv("DEDUP_RUN_STATS")) /* for measuring (run.h) */
        fprintf(stderr, "dedup: %zu rounds of decisions\n", c->rounds);
    dd_pool_free(c->verification); /* (its loaders share own's store) */
    c->verification = NULL;
    c->signatures.load_set = NULL;
    c->signatures.load_ctx = NULL;
    set_loader_free(own);
    dd_run_phase_done("rounds of decisions");
    if (!ok)
        return false;
    read_boilerplate_texts(c, threads);
    return true;
}

void dd_corpus_report_left_out(const dd_corpus *c, const char *fate)
{
    dd_name_room room = {0};
    for (size_t k = 0; k < c->nleft_out; k++) {
        const dd_input d = dd_inputs_get(&c->inputs, c->left_out[k].doc, &room);
        dd_input_report_not_text(&d, &c->left_out[k].why, false, fate);
    }
    dd_name_room_free(&room);
}

void dd_corpus_free(dd_corpus *c)
{
    dd_findings_free(&c->findings);
    dd_clusters_free(&c->clusters);
    dd_signatures_free(&c->signatures);
    dd_scratch_array_free(&c->minhash_past_share);
    dd_inputs_free(&c->inputs);
    dd_units_free(&c->units);
    dd_unit_starts_free(&c->unit_starts);
    dd_scratch_array_free(&c->near_units);
    free(c->near_found.v);
    free(c->near_inside.v);
    dd_scratch_array_free(&c->removed);
    free(c->removed_fence);
    dd_scratch_array_free(&c->places);
    dd_scratch_array_free(&c->repeats);
    free(c->unit_removed);
    free(c->text_version);
    dd_scratch_array_free(&c->read_as);
    free(c->failed);
    free(c->reread);
    free(c->left_out);
    memset(c, 0, sizeof *c);
}

/* Counts the units in the lines of drops[0..n), all of document doc, and
 * their bytes: from the start of the first unit of a drop to the line end
 * of its last, blank lines between them included, as clean removes them. A
 * byte-order mark stays (clean keeps it). */
static void count_drops(const dd_corpus *c, uint32_t doc, const dd_drop *drops, size_t n,
                        dd_corpus_counts *out)
{
    size_t u = dd_unit_start(&c->unit_starts, doc), end = dd_unit_start(&c->unit_starts, doc + 1);
    for (size_t k = 0; k < n; k++) {
        dd_unit first = {0}, last = {0};
        bool any = false;
        while (u < end && dd_units_get(&c->units, u).first_line < drops[k].first_line)
            u++;
        for (dd_unit unit;
             u < end && (unit = dd_units_get(&c->units, u)).last_line <= drops[k].last_line; u++) {
            if (!any)
                first = unit;
            any = true;
            last = unit;
            out->paragraphs_removed++;
        }
        if (any)
            out->paragraph_bytes += last.off + last.len + last.line_end - first.off - first.bom;
    }
}

void dd_corpus_count(const dd_corpus *c, dd_corpus_counts *out)
{
    memset(out, 0, sizeof *out);
    out->documents = c->inputs.n;
    out->errors = (size_t)c->problems;
    out->clusters = c->clusters.n;
    out->full_buckets = c->search.full_buckets;
    out->bucket_entries_split = c->search.split;
    out->full_sub_buckets = c->search.full_sub_buckets;
    out->bucket_entries_left_out = c->search.unlisted;
    for (size_t i = 0; i < c->inputs.n; i++) {
        uint64_t size = dd_corpus_size(c, i);
        out->bytes += size;
        if (c->clusters.dropped && c->clusters.dropped[i]) {
            out->copies++;
            out->copy_bytes += size;
        }
    }
    /* The lines removed, a document at a time, in order. */
    dd_drop *buf = NULL;
    size_t cap = 0;
    for (size_t k = 0, n; k < c->removed.n; k += n) {
        uint32_t doc = ((const dd_drop *)dd_scratch_array_get(&c->removed, k))->doc;
        const dd_drop *drops = dd_corpus_removed(c, doc, &n, &buf, &cap);
        count_drops(c, doc, drops, n, out);
        out->documents_changed++;
    }
    free(buf);
}
