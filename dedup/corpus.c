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
        int fd = open(d->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        ssize_t r = fd >= 0 ? pread(fd, s, len, (off_t)off) : -1;
        if (r < 0) {
            char *p = dd_printable(d->id);
            dd_error("%s: %s", p, strerror(errno));
            free(p);
            reread_failed(c, doc);
        }
        if (fd >= 0)
            close(fd);
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
    dd_unit_sets sets; /* of the document being read */
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

/* What became of one input in the first pass. */
typedef enum read_result {
    READ_OK,       /* analysed */
    READ_FAILED,   /* not read or not analysed: reported, counted in problems */
    READ_LEFT_OUT, /* not text: left out of the comparison (--on-error skip or drop) */
    READ_STOP,     /* not text, and --on-error stop: reported, the run ends */
} read_result;

/* Reads, checks and analyses input i (dd_input_load). */
static read_result read_document(dd_corpus *c, const dd_options *o, dd_analyzer *a, size_t i,
                                 sh_buf *text, dd_doc *doc, unit_reader *reader)
{
    const dd_input *in = &c->inputs.v[i];
    dd_not_text bad;
    dd_load_status st = dd_input_load(in, c->max_bytes, a, text, doc, &bad);
    if (st == DD_LOAD_FAILED)
        return READ_FAILED;
    c->digests[i] = dd_digest(text->data, text->len);
    c->sizes[i] = text->len;
    if (st == DD_LOAD_NOT_TEXT) {
        if (o->on_error == DD_ON_ERROR_STOP) {
            dd_input_report_not_text(in, &bad, false, NULL);
            return READ_STOP;
        }
        dd_grow(&c->left_out, &c->left_out_cap, c->nleft_out + 1, sizeof *c->left_out);
        c->left_out[c->nleft_out++] = (dd_left_out){(uint32_t)i, bad};
        return READ_LEFT_OUT;
    }
    dd_unit_sets_compute(&reader->sets, doc, &o->hash);
    dd_find_near_units((uint32_t)i, doc, &reader->sets, o->para_threshold, o->min_words,
                       &c->near_units);
    dd_find_near_units_across(c->unit_index, (uint32_t)i, doc, &reader->sets, o->para_threshold,
                              read_unit, reader, &c->near_units);
    return READ_OK;
}

/* Links the documents of every near-repeat of a unit across documents
 * (exact copies of a paragraph are near-repeats too), both ways, each pair
 * once: candidates for the containment half of the rule at any size ratio
 * (dd_signatures.links). Memory: 4 bytes a link. */
static void link_documents(dd_corpus *c, size_t n)
{
    size_t *start = dd_calloc(n + 1, sizeof *start);
    const dd_near_unit_list *l = &c->near_units;
    for (size_t k = 0; k < l->n; k++)
        if (l->v[k].doc != l->v[k].of_doc) {
            start[l->v[k].doc + 1]++;
            start[l->v[k].of_doc + 1]++;
        }
    for (size_t d = 0; d < n; d++)
        start[d + 1] += start[d];
    uint32_t *links = dd_malloc((start[n] ? start[n] : 1) * sizeof *links);
    size_t *fill = dd_malloc((n ? n : 1) * sizeof *fill);
    memcpy(fill, start, n * sizeof *fill);
    for (size_t k = 0; k < l->n; k++)
        if (l->v[k].doc != l->v[k].of_doc) {
            links[fill[l->v[k].doc]++] = l->v[k].of_doc;
            links[fill[l->v[k].of_doc]++] = l->v[k].doc;
        }
    free(fill);
    /* Each document's links sorted, once each, packed in place. */
    size_t w = 0;
    for (size_t d = 0; d < n; d++) {
        size_t from = start[d], to = start[d + 1];
        start[d] = w;
        if (to - from > 1)
            qsort(links + from, to - from, sizeof *links, dd_compare_u32);
        for (size_t i = from; i < to; i++)
            if (i == from || links[i] != links[i - 1])
                links[w++] = links[i];
    }
    start[n] = w;
    c->link_start = start;
    c->links = links;
}

bool dd_corpus_run(dd_corpus *c, const dd_options *o, dd_progress *progress)
{
    memset(c, 0, sizeof *c);
    c->max_bytes = (size_t)o->max_record_mb << 20;
    c->problems = dd_inputs_collect(&c->inputs, o->paths, o->npaths);
    size_t n = c->inputs.n;
    if (n > UINT32_MAX - 1) {
        dd_error("too many documents (%zu)", n);
        return false;
    }
    dd_analyzer a;
    if (!dd_analyzer_init(&a, o->unit, &o->hash))
        return false;
    if (!dd_signatures_init(&c->signatures, &o->near, &o->hash)) {
        dd_analyzer_free(&a);
        return false;
    }
    c->digests = dd_calloc(n, sizeof *c->digests);
    c->sizes = dd_calloc(n, sizeof *c->sizes);
    c->failed = dd_calloc(n, sizeof *c->failed);
    c->reread = dd_calloc(n, sizeof *c->reread);
    c->unit_start = dd_calloc(n + 1, sizeof *c->unit_start);
    sh_buf text = {0};
    dd_doc doc = {0};
    unit_reader reader = {c, &a, {0}, {0}, {0}};
    c->unit_index = dd_unit_index_new(&o->hash);
    bool stopped = false;
    uint64_t bytes_read = 0;
    for (size_t i = 0; i < n && !stopped; i++) {
        c->unit_start[i] = c->nunits;
        read_result r = read_document(c, o, &a, i, &text, &doc, &reader);
        bytes_read += c->sizes[i];
        if (progress)
            dd_progress_update(progress, i + 1, bytes_read);
        if (r != READ_OK) {
            c->failed[i] = true;
            c->problems += r == READ_FAILED;
            stopped = r == READ_STOP;
            dd_signatures_add_missing(&c->signatures);
            continue;
        }
        if (doc.nunits) {
            dd_grow(&c->units, &c->units_cap, c->nunits + doc.nunits, sizeof *c->units);
            memcpy(c->units + c->nunits, doc.units, doc.nunits * sizeof *doc.units);
            c->nunits += doc.nunits;
        }
        dd_signatures_add(&c->signatures, &doc.words, doc.key, &o->hash);
    }
    c->unit_start[n] = c->nunits;
    dd_unit_index_free(c->unit_index);
    c->unit_index = NULL;
    sh_buf_free(&reader.norm);
    sh_tokens_free(&reader.words);
    dd_unit_sets_free(&reader.sets);
    dd_doc_free(&doc);
    sh_buf_free(&text);
    dd_analyzer_free(&a);
    if (stopped)
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
        link_documents(c, n);
        c->signatures.link_start = c->link_start;
        c->signatures.links = c->links;
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
    free(c->link_start);
    free(c->links);
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
