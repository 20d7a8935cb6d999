/*
 * corpus.c - the passes over the inputs that scan and clean share.
 *
 * Pass 1 reads every document once: it cuts it into units (kept as small
 * records: key, lines, bytes), and signs the whole document (near.c). Then
 * the documents are clustered, and the units of the documents that are kept
 * go, in input order, into the paragraph table (paragraphs.c). Texts are not
 * kept: the few a report shows are read again at the end.
 */
#include "corpus.h"

#include "run.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

uint64_t dd_digest(const char *text, size_t len) { return XXH3_64bits(text, len); }

/* Input doc could not be read again (dd_input_read or the caller said
 * why): an error of the run, and no later reading of it is tried. */
static void reread_failed(dd_corpus *c, uint32_t doc)
{
    c->reread[doc] = DD_REREAD_FAILED;
    c->problems++;
}

/* Reads bytes [off, off+len) of input d (from memory for a stream, which
 * can be read only once). Empty when it cannot be read. */
static char *read_range(dd_corpus *c, uint32_t doc, size_t off, size_t len)
{
    const dd_input *d = &c->inputs.v[doc];
    char *s = dd_malloc(len + 1);
    if (d->stream) {
        if (d->stream->state == DD_STREAM_KEPT && off + len <= d->stream->text.len)
            memcpy(s, d->stream->text.data + off, len);
        else
            len = 0;
    } else if (c->reread[doc] == DD_REREAD_FAILED) {
        len = 0;
    } else {
        long r = dd_input_pread(d, s, len, off);
        if (r < 0) {
            char *p = dd_printable(d->id);
            dd_error("%s: %s", p, strerror(errno));
            free(p);
            reread_failed(c, doc);
        }
        len = r > 0 ? (size_t)r : 0;
    }
    len = sh_utf8_check(s, len); /* a cut may have split a character */
    s[len] = '\0';
    /* A block unit spans lines: show it on one. */
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\n' || s[i] == '\r')
            s[i] = ' ';
    return s;
}

/* Exact verification reads documents again: the last sets it made are
 * cached, one slot per document number modulo SET_CACHE_SLOTS, and at most
 * SET_CACHE_BYTES of sets in all (the oldest slots go first), so that the
 * cache costs the same whatever the size of the documents. */
#define SET_CACHE_SLOTS 4096
#define SET_CACHE_BYTES ((size_t)16 << 20)

typedef struct cached_set {
    uint32_t doc1; /* 1 + document, 0: empty */
    uint64_t *set;
    size_t n;
} cached_set;

typedef struct set_loader {
    dd_corpus *c;
    const dd_options *o;
    dd_analyzer a;
    sh_buf text;
    dd_doc doc;
    uint64_t *hashes;
    size_t hashes_cap;
    cached_set slots[SET_CACHE_SLOTS];
    size_t bytes; /* of the cached sets */
    size_t hand;  /* the slot to empty next when they pass SET_CACHE_BYTES */
} set_loader;

static void empty_slot(set_loader *l, cached_set *slot)
{
    l->bytes -= slot->n * sizeof *slot->set;
    free(slot->set);
    *slot = (cached_set){0};
}

/* dd_signatures.load_set: the sorted distinct shingles of document doc. */
static bool load_set(void *ctx, uint32_t doc, uint64_t **set, size_t *cap, size_t *n)
{
    set_loader *l = ctx;
    cached_set *slot = &l->slots[doc % SET_CACHE_SLOTS];
    if (slot->doc1 != doc + 1) {
        const dd_input *in = &l->c->inputs.v[doc];
        const char *text;
        size_t len;
        if (in->stream) { /* read once: its bytes are kept */
            if (in->stream->state != DD_STREAM_KEPT)
                return false;
            text = in->stream->text.data;
            len = in->stream->text.len;
        } else {
            if (l->c->reread[doc] != DD_REREAD_OK) /* said once */
                return false;
            if (!dd_input_read(in, l->c->max_bytes, &l->text)) {
                reread_failed(l->c, doc);
                return false;
            }
            text = l->text.data;
            len = l->text.len;
            if (dd_digest(text, len) != l->c->digests[doc]) {
                char *p = dd_printable(in->id);
                dd_warn("%s: changed while dedup was running; compared as first read", p);
                free(p);
                l->c->reread[doc] = DD_REREAD_CHANGED;
                return false;
            }
        }
        if (dd_analyze(&l->a, text, len, &l->doc) != SH_OK)
            return false;
        size_t count = dd_shingle_set(&l->doc.words, (unsigned)l->o->near.ngram, &l->o->hash,
                                      &l->hashes, &l->hashes_cap);
        empty_slot(l, slot);
        size_t bytes = count * sizeof *slot->set;
        for (size_t swept = 0; l->bytes + bytes > SET_CACHE_BYTES && swept < SET_CACHE_SLOTS;
             swept++) {
            empty_slot(l, &l->slots[l->hand]);
            l->hand = (l->hand + 1) % SET_CACHE_SLOTS;
        }
        slot->set = dd_malloc(bytes ? bytes : 1);
        dd_sort_u64(l->hashes, slot->set, count);
        memcpy(slot->set, l->hashes, bytes);
        slot->n = count;
        slot->doc1 = doc + 1;
        l->bytes += bytes;
    }
    dd_grow(set, cap, slot->n + 1, sizeof **set);
    memcpy(*set, slot->set, slot->n * sizeof **set);
    *n = slot->n;
    return true;
}

static void set_loader_free(set_loader *l)
{
    for (size_t i = 0; i < SET_CACHE_SLOTS; i++)
        free(l->slots[i].set);
    free(l->hashes);
    sh_buf_free(&l->text);
    dd_doc_free(&l->doc);
    dd_analyzer_free(&l->a);
    free(l);
}

/* The reader of dd_find_near_units_across: a unit of an earlier document,
 * read again and cut into its 3-shingle set. */
typedef struct unit_reader {
    dd_corpus *c;
    dd_analyzer *a;
    sh_buf norm;
    sh_tokens words;
} unit_reader;

static char *read_range(dd_corpus *c, uint32_t doc, size_t off, size_t len);

static bool read_unit(void *ctx, uint32_t doc, size_t unit, uint64_t **set, size_t *cap,
                      size_t *n)
{
    unit_reader *r = ctx;
    const dd_unit *u = &r->c->units[r->c->unit_start[doc] + unit];
    char *text = read_range(r->c, doc, u->off, u->len);
    sh_tokens_clear(&r->words);
    sh_status st = sh_words(r->a->norm, r->a->tok, text, strlen(text), &r->norm, &r->words);
    free(text);
    if (st != SH_OK)
        return false;
    *n = dd_unit_shingle_set(&r->words, 0, r->words.n, r->a->hash, set, cap);
    return true;
}

/*
 * The first pass, on every core (run.h): each document is analysed by a
 * worker (analyse: read, check, cut into units, the units' shingle sets and
 * band keys, near-repeats inside the document, the document's signature:
 * all pure),
 * and the results are taken in input order by the calling thread (take:
 * near-repeats across documents, the units, the signature, the counts, the
 * progress line, the messages).
 */

/* What a worker needs: one per thread (ICU objects are not shared). */
typedef struct worker {
    dd_analyzer a;
    dd_unit_sets sets; /* scratch, with the lookup table of dd_find_near_units */
    sh_minhasher *unit_minhasher; /* dd_unit_band_keys */
    dd_signer signer;
} worker;

/* What analysing one document found. */
typedef struct analysed {
    dd_run_result run; /* first: the messages of its analysis */
    bool deferred;     /* a stream (dd_input.stream): analysed by the consumer, in order */
    dd_load_status status;
    dd_not_text bad; /* DD_LOAD_NOT_TEXT: where */
    sh_buf text;     /* the bytes read */
    uint64_t digest;
    dd_doc doc;
    dd_unit_sets sets;      /* of doc's units */
    uint64_t *band_keys;    /* of doc's units (dd_unit_band_keys) */
    size_t band_keys_cap;
    dd_near_unit_list near; /* near-repeats inside doc */
    dd_signed sig;
} analysed;

/* Past this many bytes of text, a result slot's buffers are freed once
 * consumed rather than kept for the next document: what the slots keep
 * stays small whatever documents went through them. */
#define SLOT_KEEP_BYTES ((size_t)64 << 10)

typedef struct first_pass {
    dd_corpus *c;
    const dd_options *o;
    dd_progress *progress;
    worker *own; /* the consumer's, for streams (made when needed) */
    dd_analyzer reader_analyzer;
    unit_reader reader;
    uint64_t bytes_read;
    bool stopped; /* --on-error stop */
} first_pass;

static bool worker_init(worker *w, const dd_options *o)
{
    memset(w, 0, sizeof *w);
    if (!dd_analyzer_init(&w->a, o->unit, &o->hash))
        return false;
    if (!dd_signer_init(&w->signer, &o->near, &o->hash)) {
        dd_analyzer_free(&w->a);
        return false;
    }
    w->unit_minhasher = dd_unit_minhasher_new(&o->hash);
    return true;
}

static void worker_free(void *ctx, void *state)
{
    (void)ctx;
    worker *w = state;
    if (!w)
        return;
    dd_analyzer_free(&w->a);
    dd_unit_sets_free(&w->sets);
    sh_minhasher_free(w->unit_minhasher);
    dd_signer_free(&w->signer);
    free(w);
}

/* dd_ordered_map.worker_new: NULL when ICU cannot start; analyse then
 * says so for every document it takes, in order (a worker writes nothing
 * on stderr itself). */
static void *worker_new(void *ctx)
{
    first_pass *f = ctx;
    worker *w = dd_malloc(sizeof *w);
    sh_buf lost = {0};
    dd_messages_capture(&lost);
    bool ok = worker_init(w, f->o);
    dd_messages_capture(NULL);
    sh_buf_free(&lost);
    if (!ok) {
        free(w);
        return NULL;
    }
    return w;
}

static uint64_t input_weight(void *ctx, size_t i)
{
    first_pass *f = ctx;
    return f->c->inputs.v[i].size;
}

static void analysed_free(void *ctx, void *result)
{
    (void)ctx;
    analysed *r = result;
    sh_buf_free(&r->text);
    dd_doc_free(&r->doc);
    dd_unit_sets_free(&r->sets);
    free(r->band_keys);
    free(r->near.v);
    dd_signed_free(&r->sig);
    sh_buf messages = r->run.messages;
    memset(r, 0, sizeof *r);
    r->run.messages = messages;
}

/* Reads, checks and analyses input i into r: pure, on any thread. */
static void analyse(const first_pass *f, worker *w, size_t i, analysed *r)
{
    const dd_corpus *c = f->c;
    const dd_options *o = f->o;
    const dd_input *in = &c->inputs.v[i];
    r->near.n = 0;
    r->digest = 0;
    r->text.len = 0;
    if (!w) {
        r->status = DD_LOAD_FAILED;
        dd_error("cannot start the normaliser");
        return;
    }
    r->status = dd_input_load(in, c->max_bytes, &w->a, &r->text, &r->doc, &r->bad);
    if (r->status == DD_LOAD_FAILED)
        return;
    r->digest = dd_digest(r->text.data, r->text.len);
    if (r->status == DD_LOAD_NOT_TEXT)
        return;
    dd_unit_sets_compute(&w->sets, &r->doc, &o->hash);
    dd_find_near_units((uint32_t)i, &r->doc, &w->sets, o->para_threshold, o->min_words, &r->near);
    dd_unit_sets_take(&r->sets, &w->sets);
    dd_unit_band_keys(w->unit_minhasher, &r->doc, &r->sets, &r->band_keys, &r->band_keys_cap);
    dd_signer_sign(&w->signer, &r->doc.words, r->doc.key, &o->hash, &r->sig);
}

/* dd_ordered_map.work */
static void work(void *ctx, void *state, size_t i, void *result)
{
    first_pass *f = ctx;
    analysed *r = result;
    r->deferred = f->c->inputs.v[i].stream != NULL; /* read once, in order: by take */
    if (!r->deferred)
        analyse(f, state, i, r);
}

/* dd_ordered_map.consume: takes the analysis of input i, in input order. */
static bool take(void *ctx, size_t i, void *result)
{
    first_pass *f = ctx;
    dd_corpus *c = f->c;
    const dd_options *o = f->o;
    analysed *r = result;
    const dd_input *in = &c->inputs.v[i];
    if (r->deferred) {
        if (!f->own)
            f->own = worker_new(f);
        analyse(f, f->own, i, r);
    }
    c->unit_start[i] = c->nunits;
    bool ok = r->status == DD_LOAD_TEXT || r->status == DD_LOAD_BINARY;
    if (r->status != DD_LOAD_FAILED) {
        c->digests[i] = r->digest;
        c->sizes[i] = r->text.len;
    }
    if (r->status == DD_LOAD_NOT_TEXT) {
        if (o->on_error == DD_ON_ERROR_STOP) {
            dd_input_report_not_text(in, &r->bad, false, NULL);
            f->stopped = true;
        } else {
            dd_grow(&c->left_out, &c->left_out_cap, c->nleft_out + 1, sizeof *c->left_out);
            c->left_out[c->nleft_out++] = (dd_left_out){(uint32_t)i, r->bad};
        }
    }
    if (ok) {
        if (r->near.n) {
            dd_near_unit_list *l = &c->near_units;
            dd_grow(&l->v, &l->cap, l->n + r->near.n, sizeof *l->v);
            memcpy(l->v + l->n, r->near.v, r->near.n * sizeof *l->v);
            l->n += r->near.n;
        }
        dd_find_near_units_across(c->unit_index, (uint32_t)i, &r->doc, &r->sets, r->band_keys,
                                  o->para_threshold, read_unit, &f->reader, &c->near_units);
    }
    f->bytes_read += c->sizes[i];
    if (f->progress)
        dd_progress_update(f->progress, i + 1, f->bytes_read);
    if (!ok) {
        c->failed[i] = true;
        c->problems += r->status == DD_LOAD_FAILED;
        dd_signatures_add_missing(&c->signatures);
    } else {
        const dd_doc *doc = &r->doc;
        if (doc->nunits) {
            dd_grow(&c->units, &c->units_cap, c->nunits + doc->nunits, sizeof *c->units);
            memcpy(c->units + c->nunits, doc->units, doc->nunits * sizeof *doc->units);
            c->nunits += doc->nunits;
        }
        dd_signatures_add_signed(&c->signatures, &r->sig);
    }
    if (r->text.cap > SLOT_KEEP_BYTES)
        analysed_free(NULL, r);
    return !f->stopped;
}

/* Reads, checks and analyses every input (the first pass); false if it was
 * stopped (--on-error stop). */
static bool first_pass_run(dd_corpus *c, const dd_options *o, dd_progress *progress)
{
    first_pass f = {.c = c, .o = o, .progress = progress};
    if (!dd_analyzer_init(&f.reader_analyzer, o->unit, &o->hash))
        return false;
    f.reader = (unit_reader){c, &f.reader_analyzer, {0}, {0}};
    c->unit_index = dd_unit_index_new();
    unsigned threads = o->threads ? (unsigned)o->threads : dd_online_cpus();
    dd_ordered_map m = {
        .n = c->inputs.n,
        .threads = threads,
        /* Enough documents in flight to keep every worker busy while the
         * consumer takes one; bytes bound memory whatever their sizes. */
        .window = 16 * (size_t)threads,
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
    c->unit_start[c->inputs.n] = c->nunits;
    dd_unit_index_free(c->unit_index);
    c->unit_index = NULL;
    worker_free(NULL, f.own);
    sh_buf_free(&f.reader.norm);
    sh_tokens_free(&f.reader.words);
    dd_analyzer_free(&f.reader_analyzer);
    return ran;
}

/* Links the documents of every near-repeat of a unit across documents
 * (exact copies of a paragraph are near-repeats too): candidates for the
 * containment half of the rule at any size ratio (dd_signatures_link). A
 * copy of a paragraph is matched with its earliest earlier occurrence only
 * (near_units.h), so a paragraph printed in many documents links each to
 * that first one, not all of them to each other. */
static void link_documents(dd_corpus *c)
{
    const dd_near_unit_list *l = &c->near_units;
    dd_doc_pair *pairs = dd_malloc((l->n ? l->n : 1) * sizeof *pairs);
    for (size_t k = 0; k < l->n; k++)
        pairs[k] = (dd_doc_pair){l->v[k].doc, l->v[k].of_doc};
    dd_signatures_link(&c->signatures, pairs, l->n);
    free(pairs);
}

bool dd_corpus_run(dd_corpus *c, const dd_options *o, dd_progress *progress)
{
    memset(c, 0, sizeof *c);
    c->max_bytes = (size_t)o->max_record_mb << 20;
    dd_records_spec records = dd_options_records(o);
    c->problems = dd_inputs_collect(&c->inputs, o->paths, o->npaths, &records);
    size_t n = c->inputs.n;
    if (n > UINT32_MAX - 1) {
        dd_error("too many documents (%zu)", n);
        return false;
    }
    if (!dd_signatures_init(&c->signatures, &o->near, &o->hash))
        return false;
    c->digests = dd_calloc(n, sizeof *c->digests);
    c->sizes = dd_calloc(n, sizeof *c->sizes);
    c->failed = dd_calloc(n, sizeof *c->failed);
    c->reread = dd_calloc(n, sizeof *c->reread);
    c->unit_start = dd_calloc(n + 1, sizeof *c->unit_start);
    if (!first_pass_run(c, o, progress))
        return false;

    if (o->near.enabled) {
        set_loader *l = dd_calloc(1, sizeof *l);
        l->c = c;
        l->o = o;
        if (!dd_analyzer_init(&l->a, o->unit, &o->hash)) {
            free(l);
            return false;
        }
        c->signatures.load_set = load_set;
        c->signatures.load_ctx = l;
        link_documents(c);
        dd_cluster_documents(&c->signatures, &c->clusters);
        set_loader_free(l);
    } else
        dd_cluster_nothing(c->signatures.n, &c->clusters);

    /* Paragraphs of the documents that are kept. */
    c->paragraphs = dd_paragraphs_new(c->units, c->unit_start);
    for (size_t i = 0; i < n; i++)
        if (!c->failed[i] && !c->clusters.dropped[i])
            dd_paragraphs_add(c->paragraphs, (uint32_t)i);
    for (size_t k = 0; k < c->near_units.n; k++) {
        const dd_near_unit *r = &c->near_units.v[k];
        if (c->clusters.dropped[r->doc] || c->clusters.dropped[r->of_doc])
            continue;
        const dd_unit *at = &c->units[c->unit_start[r->doc] + r->unit];
        const dd_unit *of = &c->units[c->unit_start[r->of_doc] + r->of];
        dd_paragraphs_add_near(c->paragraphs, (dd_place){r->doc, at->first_line, at->last_line},
                               (dd_place){r->of_doc, of->first_line, of->last_line}, at->words,
                               r->jaccard, r->containment);
    }
    dd_paragraphs_finish(c->paragraphs, o->min_words, (uint32_t)o->boilerplate_df, &c->findings);
    for (size_t i = 0; i < c->findings.nboilerplate; i++) {
        dd_boilerplate *b = &c->findings.boilerplate[i];
        b->text = read_range(c, b->text_at.doc, b->text_off, b->text_len > 1000 ? 1000 : b->text_len);
    }
    return true;
}

void dd_corpus_report_left_out(const dd_corpus *c, const char *fate)
{
    for (size_t k = 0; k < c->nleft_out; k++)
        dd_input_report_not_text(&c->inputs.v[c->left_out[k].doc], &c->left_out[k].why, false,
                                 fate);
}

void dd_corpus_free(dd_corpus *c)
{
    dd_findings_free(&c->findings);
    dd_paragraphs_free(c->paragraphs);
    dd_clusters_free(&c->clusters);
    dd_signatures_free(&c->signatures);
    dd_inputs_free(&c->inputs);
    free(c->units);
    free(c->unit_start);
    free(c->near_units.v);
    free(c->digests);
    free(c->sizes);
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
    size_t u = c->unit_start[doc], end = c->unit_start[doc + 1];
    for (size_t k = 0; k < n; k++) {
        const dd_unit *first = NULL, *last = NULL;
        while (u < end && c->units[u].first_line < drops[k].first_line)
            u++;
        for (; u < end && c->units[u].last_line <= drops[k].last_line; u++) {
            if (!first)
                first = &c->units[u];
            last = &c->units[u];
            out->paragraphs_removed++;
        }
        if (first)
            out->paragraph_bytes +=
                last->off + last->len + last->line_end - first->off - first->bom;
    }
}

void dd_corpus_count(const dd_corpus *c, dd_corpus_counts *out)
{
    memset(out, 0, sizeof *out);
    out->documents = c->inputs.n;
    out->errors = (size_t)c->problems;
    out->clusters = c->clusters.n;
    for (size_t i = 0; i < c->inputs.n; i++) {
        out->bytes += c->sizes[i];
        if (c->clusters.dropped && c->clusters.dropped[i]) {
            out->copies++;
            out->copy_bytes += c->sizes[i];
        }
    }
    const dd_findings *f = &c->findings;
    for (size_t d = 0; d < f->ndrops;) {
        size_t first = d;
        while (d < f->ndrops && f->drops[d].doc == f->drops[first].doc)
            d++;
        count_drops(c, f->drops[first].doc, f->drops + first, d - first, out);
        out->documents_changed++;
    }
}
