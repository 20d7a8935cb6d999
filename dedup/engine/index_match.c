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

bool dd_index_match_document(const dd_earlier *x, const dd_signatures *s, uint32_t i, const char *id,
                             const dd_unit *units, size_t nunits, unsigned long min_words,
                             unsigned long boilerplate_df, const dd_text_source *src,
                             dd_analyzer *a, dd_index_matches *out, dd_notes *notes)
{
    const dd_near_params *near = &s->params;
    const unsigned k_shingle = (unsigned)near->ngram;
    char *err = NULL;
    uint32_t self = 0; /* the document's own entry, if indexed */
    dd_indexed_doc d;
    if (x->get(x->ctx, id, &d, &err)) {
        self = d.number;
        dd_indexed_doc_free(&d);
    }
    bool ok = err == NULL;
    uint64_t *keys = dd_malloc((near->bands + 1) * sizeof *keys);
    uint32_t *cands = NULL;
    size_t cands_cap = 0;
    long found = ok && s->docs[i].words
                     ? x->band_members(x->ctx, keys, dd_signature_keys(s, i, keys), DD_BUCKET_CAP,
                                       &cands, &cands_cap, &err)
                     : 0;
    ok = ok && found >= 0;
    /* A bounded number of them, those sharing the most bands (near.h). */
    dd_candidate *choice = NULL;
    size_t choice_cap = 0;
    uint64_t passed_over = 0;
    long ncand = found > 0 ? (long)dd_candidates_from_members(cands, (size_t)found, &choice,
                                                              &choice_cap, &passed_over)
                           : 0;
    free(choice);
    uint64_t *mine = NULL, *theirs = NULL;
    size_t mine_cap = 0, theirs_cap = 0, nmine = 0, ntheirs = 0;
    sh_buf text = {0};
    bool have_mine = false, duplicate = false;
    /* The earliest indexed document it copies, not every one. */
    for (long k = 0; k < ncand && ok && !duplicate; k++) {
        if (cands[k] == self || !x->get_number(x->ctx, cands[k], &d, &err)) {
            ok = err == NULL;
            continue;
        }
        dd_index_match m = {.kind = DD_INDEX_DUPLICATE, .jaccard = 1.0, .containment = 1.0};
        if (sh_key_equal(d.key, s->docs[i].key)) {
            m.exact = duplicate = true;
        } else {
            const uint32_t *sig = s->minhash + (size_t)i * near->num_perm;
            double j = sh_minhash_jaccard(sig, d.minhash, (unsigned)near->num_perm);
            double na = s->docs[i].shingles, nb = d.shingles;
            double cont = dd_containment_of(j, na, nb);
            bool estimated = true;
            if (!have_mine) { /* the document's set, its text asked for once */
                have_mine = true;
                const char *t;
                size_t len;
                if (src->document(src->ctx, i, &text, &t, &len) != DD_TEXT_OK ||
                    !text_set(t, len, k_shingle, a, &mine, &mine_cap, &nmine))
                    nmine = 0;
            }
            /* exact sets when the indexed file is there, unchanged */
            if (nmine && src->indexed && src->indexed(src->ctx, d.id, d.size, d.mtime_ns, &text) &&
                text_set(text.data ? text.data : "", text.len, k_shingle, a, &theirs, &theirs_cap,
                         &ntheirs)) {
                dd_overlap o = {nmine, ntheirs,
                                dd_sorted_intersection(mine, nmine, theirs, ntheirs)};
                dd_overlap_similarity(&o, &j, &cont);
                na = (double)nmine;
                nb = (double)ntheirs;
                estimated = false;
            }
            m.jaccard = j;
            m.containment = cont;
            m.estimated = estimated;
            /* the indexed document came first: it is the representative */
            duplicate = dd_near_joins(near, j, cont, na, nb);
        }
        if (duplicate) {
            m.of = d.id;
            d.id = NULL;
            add_match(out, m);
        }
        dd_indexed_doc_free(&d);
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
    sh_buf_free(&text);
    free(mine);
    free(theirs);
    free(cands);
    free(keys);
    return ok;
}

void dd_index_matches_free(dd_index_matches *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i].of);
    free(m->v);
    memset(m, 0, sizeof *m);
}
