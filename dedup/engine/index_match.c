/*
 * index_match.c - see index_match.h.
 */
#include "engine/index_match.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

/* The sorted distinct shingles of text[0..size), k-shingles. */
static bool text_set(const char *text, size_t size, unsigned k, dd_analyzer *a, uint64_t **set,
                     size_t *cap, size_t *n)
{
    dd_doc doc = {0};
    bool ok = dd_analyze(a, text, size, &doc) == SH_OK;
    if (ok) {
        *n = dd_shingle_set(&doc.words, k, a->hash, set, cap);
        uint64_t *tmp = dd_malloc((*n + 1) * sizeof *tmp);
        dd_sort_u64(*set, tmp, *n);
        free(tmp);
    }
    dd_doc_free(&doc);
    return ok;
}

static void add_match(dd_index_matches *out, dd_index_match m)
{
    dd_grow(&out->v, &out->cap, out->n + 1, sizeof *out->v);
    out->v[out->n++] = m;
}

/* Exact verification against indexed documents: the document's set, from
 * its text asked for once, and an indexed document's, when the source
 * gives its text (its file is there, unchanged). */
typedef struct exact_sets {
    const dd_text_source *src;
    dd_analyzer *a;
    uint32_t doc;
    unsigned k;
    sh_buf text;
    uint64_t *mine, *theirs;
    size_t mine_cap, theirs_cap, nmine;
    bool have_mine;
} exact_sets;

/* dd_indexed_overlap over exact_sets. */
static bool exact_overlap(void *ctx, const dd_indexed_doc *d, dd_overlap *o)
{
    exact_sets *x = ctx;
    if (!x->have_mine) {
        x->have_mine = true;
        const char *t;
        size_t len;
        if (x->src->document(x->src->ctx, x->doc, &x->text, &t, &len) != DD_TEXT_OK ||
            !text_set(t, len, x->k, x->a, &x->mine, &x->mine_cap, &x->nmine))
            x->nmine = 0;
    }
    size_t ntheirs;
    if (!x->nmine || !x->src->indexed ||
        !x->src->indexed(x->src->ctx, d->id, d->size, d->mtime_ns, &x->text) ||
        !text_set(x->text.data ? x->text.data : "", x->text.len, x->k, x->a, &x->theirs,
                  &x->theirs_cap, &ntheirs))
        return false;
    *o = (dd_overlap){x->nmine, ntheirs,
                      dd_sorted_intersection(x->mine, x->nmine, x->theirs, ntheirs)};
    return true;
}

bool dd_index_match_document(const dd_earlier *x, const dd_signatures *s, uint32_t i, const char *id,
                             const dd_unit *units, size_t nunits, unsigned long min_words,
                             unsigned long boilerplate_df, const dd_text_source *src,
                             dd_analyzer *a, dd_index_matches *out, dd_notes *notes)
{
    char *err = NULL;
    uint32_t self = 0; /* the document's own entry, if indexed (numbers start at 1) */
    dd_indexed_doc d;
    if (x->get(x->ctx, id, &d, &err)) {
        self = d.number;
        dd_indexed_doc_free(&d);
    }
    bool ok = err == NULL, duplicate = false;
    /* The earliest indexed document it copies, not every one. */
    if (ok) {
        exact_sets sets = {.src = src, .a = a, .doc = i, .k = (unsigned)s->params.ngram};
        dd_earlier_search search = {0};
        dd_earlier_copy copy;
        int found = dd_earlier_copy_of(x, s, i, self, exact_overlap, &sets, &search, &copy, &err);
        ok = found >= 0;
        duplicate = found > 0;
        if (duplicate) {
            add_match(out, (dd_index_match){.kind = DD_INDEX_DUPLICATE,
                                            .of = copy.doc.id,
                                            .exact = copy.exact,
                                            .estimated = copy.estimated,
                                            .jaccard = copy.jaccard,
                                            .containment = copy.containment});
            copy.doc.id = NULL;
            dd_indexed_doc_free(&copy.doc);
        }
        dd_earlier_search_free(&search);
        sh_buf_free(&sets.text);
        free(sets.mine);
        free(sets.theirs);
    }
    /* Paragraphs found in indexed documents; not for a copy of a whole
     * document, whose paragraphs are all copies (as scan leaves cluster
     * members out of the paragraph search). */
    for (size_t u = 0; u < nunits && ok && !duplicate; u++) {
        const dd_unit *unit = &units[u];
        if (unit->words < min_words)
            continue;
        uint32_t others;
        dd_indexed_place at;
        const dd_indexed_place *p = &at;
        if (!dd_earlier_paragraph(x, unit->key, self, &others, &at, &d, &err)) {
            ok = err == NULL;
            continue;
        }
        uint32_t docs = others + 1; /* this one counted */
        add_match(out, (dd_index_match){.kind = DD_INDEX_PARAGRAPH,
                                        .of = d.id,
                                        .first_line = unit->first_line,
                                        .last_line = unit->last_line,
                                        .of_first_line = p->first_line,
                                        .of_last_line = p->last_line,
                                        .docs = docs,
                                        .words = unit->words,
                                        .boilerplate = dd_is_boilerplate(docs, unit->words,
                                                                         min_words, boilerplate_df),
                                        .key = unit->key});
        d.id = NULL;
        dd_indexed_doc_free(&d);
    }
    if (!ok) {
        dd_note_add(notes, DD_NOTE_ERROR, "%s", err);
        free(err);
    }
    return ok;
}

void dd_index_matches_free(dd_index_matches *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i].of);
    free(m->v);
    memset(m, 0, sizeof *m);
}
