/*
 * history.c - decisions on a stream of records (see history.h).
 *
 * A record is first placed among the kept records (near.c's placer, in
 * stream order, so the first copy is the representative), as scan places
 * documents with --keep first: the same candidates (LSH bands, and the
 * earlier records it shares a paragraph with: its links), verified on the
 * same exact shingle sets. What that needs of the earlier records, and
 * memory cannot hold, is in a scratch file (spool.h): the shingle sets of
 * the kept records, and the 3-shingle sets of the paragraphs looked for in
 * later records. A copy is dropped whole and leaves no trace in the
 * paragraph table, as in scan. A kept record then has its paragraphs looked
 * up in the table of paragraphs seen so far: exact repeats of earlier lines
 * (runs of at least min_words words, as in scan), boilerplate (seen in
 * boilerplate_df records), and near-repeats inside the record are removed.
 */
#include "engine/history.h"

#include "engine/near_units.h"
#include "engine/paragraphs.h"
#include "key_table.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* A paragraph seen in a kept record. Paragraphs are numbered in the order
 * they are first seen, and keep their number: the table that finds them by
 * key moves its entries when it grows, so nothing holds on to a slot. */
typedef struct para {
    uint64_t first_rec; /* where it was first seen */
    uint64_t last_rec;  /* the last record counted in docs */
    uint32_t first_unit;
    uint32_t first_line, last_line;
    uint32_t docs; /* kept records holding it */
    uint32_t words;
} para;

/* What is remembered of a record with a signature, by signature number:
 * where it is in the stream, and where its sets are in the spool. */
typedef struct signed_record {
    uint64_t record;
    /* its distinct word shingles (a kept record, with exact verification),
     * with SET_SORTED when they are sorted there; or NOT_SPOOLED */
    uint64_t set_at;
    /* its units' 3-shingle sets, those of the units the unit index lists:
     * the sets one after another, then a table of nunits + 1 uint32, where
     * units_at points: for each unit, how many hashes lie from its set's
     * start to the table (so unit u's set is the back[u] - back[u + 1]
     * hashes from units_at - 8 back[u]); or NOT_SPOOLED */
    uint64_t units_at;
} signed_record;

#define NOT_SPOOLED UINT64_MAX
/* A set is spooled as it came, unless it was sorted while its record was
 * placed; it is sorted when first read back, and written again so: a kept
 * record is read back once for each later copy of it, most never. */
#define SET_SORTED ((uint64_t)1 << 63)

/* An occurrence, in the current record, of a paragraph seen before. */
typedef struct occurrence {
    uint32_t unit;
    uint32_t para; /* the paragraph's number */
} occurrence;

/* The overlaps a worker computed for a signed record of a batch, with the
 * kept records it will likely be verified against (dd_placer_ahead). */
typedef struct ahead_pair {
    uint32_t rep;
    dd_overlap overlap;
} ahead_pair;

typedef struct ahead_pairs {
    ahead_pair *v;
    size_t n, cap;
    /* the record's own set, sorted (own_sorted: when it had pairs), to
     * answer with and to spool sorted if it is kept */
    uint64_t *own;
    size_t own_cap;
    bool own_sorted;
    bool kept; /* placed as a representative: its set is spooled by dd_history_batch_keep */
} ahead_pairs;

/* The records of a batch (the caller's docs and facts) and their units'
 * lookups ahead (dd_history_batch_units), by batch record. */
typedef struct batch_records {
    size_t n;
    const dd_doc *const *docs;
    dd_record_facts *const *facts;
    dd_unit_ahead *units;
    size_t units_cap;
} batch_records;

/* A record of a batch without a signature. */
#define NO_SIG UINT32_MAX

struct dd_history {
    dd_history_params p;
    uint64_t records; /* decided so far: the next record's number */
    /* The records that have words, with near-duplicate detection on: their
     * signatures, numbered in order (sigs), the record each is, and where
     * they were placed. */
    dd_signatures sigs;
    signed_record *signed_of;
    size_t signed_cap;
    dd_placer *placer;
    /* With near-duplicate detection: the sets of earlier records (see
     * signed_record), for later records to be verified against: with exact
     * verification the shingle sets of the records kept, as they came
     * (sorted when read back), and the units' sets for the links. */
    bool exact_sets;     /* the kept records' shingle sets are spooled */
    bool scratch_sorted; /* the set of the record being placed, in sigs.scratch */
    char *error;         /* a read of the spool that failed while placing a record */
    /* The links of each record, found as scan finds them (corpus.c): the
     * near-repeats of its units among the units of the records before it
     * (near_units.h), each unit matched with the earliest it repeats. */
    dd_unit_index *unit_index;
    dd_near_unit_list across; /* the record's matches */
    uint32_t *unit_back;      /* the record's table of its units' sets, as spooled */
    size_t unit_back_cap;
    bool *listed; /* per unit of the record: listed in the unit index */
    size_t listed_cap;
    size_t link_start_cap, links_cap;
    uint64_t *sort_tmp;
    size_t sort_tmp_cap;
    para *paras; /* by number */
    size_t nparas, paras_cap;
    dd_key_table para_of; /* paragraph numbers by key, at most half full */
    occurrence *occ;
    size_t occ_cap;
    bool *removed; /* per unit of the current record */
    size_t removed_cap;
    /* dd_history_decide's analysis of the record (made when first needed) */
    dd_analysis_worker *own;
    dd_record_facts facts;
    dd_earlier_search index_search; /* the candidate search in the index */
    /* The batch begun (dd_history_batch_begin), whose units are looked up
     * while the batch before it is decided, and the batch being decided
     * (dd_history_batch_link on): its records, the signature of each
     * (NO_SIG: none), the signatures in order (the placer's docs, from
     * batch_first_sig on) and the record of each, the pairs computed ahead
     * for each, the one being placed, and the record whose links failed
     * (batch.n: none) with what failed. */
    dd_placer_ahead *ahead;
    batch_records begun, batch;
    size_t batch_cap;
    uint32_t *batch_sig;
    uint32_t *batch_signed;
    size_t *batch_record_of;
    size_t batch_nsigned;
    uint32_t batch_first_sig;
    ahead_pairs *pairs;
    size_t placing;
    size_t batch_failed;
    char *batch_error;
    uint64_t *set_a, *set_b, *set_tmp; /* for pairs computed when asked */
    size_t set_a_cap, set_b_cap, set_tmp_cap;
    uint64_t pairs_ahead, pairs_asked; /* pairs answered from ahead, computed when asked */
};

/* ------------------------------------------------- the shingle sets spooled */

/* Sorts set[0..n). */
static void sort_set(dd_history *h, uint64_t *set, size_t n)
{
    dd_grow(&h->sort_tmp, &h->sort_tmp_cap, n + 1, sizeof *h->sort_tmp);
    dd_sort_u64(set, h->sort_tmp, n);
}

/* dd_signatures.load_set: the record being placed has its set in
 * sigs.scratch; a kept record before it, in the spool. */
static bool load_set(void *ctx, uint32_t sig, uint64_t **set, size_t *cap, size_t *n)
{
    dd_history *h = ctx;
    size_t count = h->sigs.docs[sig].shingles;
    dd_grow(set, cap, count + 1, sizeof **set);
    if (sig + 1 == h->sigs.n) {
        if (!h->scratch_sorted)
            sort_set(h, h->sigs.scratch, count);
        h->scratch_sorted = true;
        memcpy(*set, h->sigs.scratch, count * sizeof **set);
        *n = count;
        return true;
    }
    uint64_t at = h->signed_of[sig].set_at;
    if (at == NOT_SPOOLED || h->error)
        return false; /* not a representative: never a candidate */
    size_t bytes = count * sizeof **set;
    if (!h->p.scratch.read(h->p.scratch.ctx, at & ~SET_SORTED, *set, bytes, &h->error))
        return false;
    if (!(at & SET_SORTED)) {
        sort_set(h, *set, count);
        if (!h->p.scratch.overwrite(h->p.scratch.ctx, at, *set, bytes, &h->error))
            return false;
        h->signed_of[sig].set_at |= SET_SORTED;
    }
    *n = count;
    return true;
}

/* dd_unit_reader: unit `unit` of the record whose signature is number sig,
 * from the spool. */
static bool read_unit(void *ctx, uint32_t sig, size_t unit, uint64_t **set, size_t *cap, size_t *n)
{
    dd_history *h = ctx;
    uint64_t at = h->signed_of[sig].units_at;
    uint32_t back[2];
    if (at == NOT_SPOOLED || h->error ||
        !h->p.scratch.read(h->p.scratch.ctx, at + unit * sizeof *back, back, sizeof back, &h->error))
        return false;
    size_t count = back[0] - back[1];
    if (count == 0)
        return false; /* not listed in the unit index: never asked for */
    dd_grow(set, cap, count + 1, sizeof **set);
    if (!h->p.scratch.read(h->p.scratch.ctx, at - (uint64_t)back[0] * sizeof **set, *set, count * sizeof **set,
                       &h->error))
        return false;
    *n = count;
    return true;
}

/* dd_unit_reader for dd_unit_batch_ahead: read_unit with the scratch
 * store's peek, which changes nothing (several threads at once); false on
 * any failure, said when the unit is read again in its turn. */
static bool peek_unit(void *ctx, uint32_t sig, size_t unit, uint64_t **set, size_t *cap, size_t *n)
{
    const dd_history *h = ctx;
    uint64_t at = h->signed_of[sig].units_at;
    uint32_t back[2];
    if (at == NOT_SPOOLED || !h->p.scratch.peek ||
        !h->p.scratch.peek(h->p.scratch.ctx, at + unit * sizeof *back, back, sizeof back))
        return false;
    size_t count = back[0] - back[1];
    if (count == 0)
        return false;
    dd_grow(set, cap, count + 1, sizeof **set);
    if (!h->p.scratch.peek(h->p.scratch.ctx, at - (uint64_t)back[0] * sizeof **set, *set,
                           count * sizeof **set))
        return false;
    *n = count;
    return true;
}

/* ------------------------------------------------------------------ the API */

dd_history *dd_history_new(const dd_history_params *p, dd_notes *notes)
{
    dd_history *h = dd_calloc(1, sizeof *h);
    h->p = *p;
    if (!dd_signatures_init(&h->sigs, &p->near, p->hash, notes)) {
        free(h);
        return NULL;
    }
    h->sigs.load_set = load_set;
    h->sigs.load_ctx = h;
    if (p->near.enabled) {
        h->placer = dd_placer_new(&h->sigs);
        h->ahead = dd_placer_ahead_new();
    }
    if (p->near.enabled) {
        h->exact_sets = p->near.verify_exact && p->near.method == DD_METHOD_MINHASH;
        h->unit_index = dd_unit_index_new();
    }
    dd_key_table_init(&h->para_of, 2);
    return h;
}

void dd_history_free(dd_history *h)
{
    if (!h)
        return;
    free(h->error);
    dd_unit_index_free(h->unit_index);
    free(h->across.v);
    free(h->unit_back);
    free(h->listed);
    dd_placer_free(h->placer);
    dd_signatures_free(&h->sigs);
    free(h->signed_of);
    free(h->sort_tmp);
    free(h->paras);
    dd_key_table_free(&h->para_of);
    free(h->occ);
    free(h->removed);
    dd_analysis_worker_free(h->own);
    dd_record_facts_free(&h->facts);
    dd_earlier_search_free(&h->index_search);
    dd_placer_ahead_free(h->ahead);
    free(h->batch_sig);
    free(h->batch_signed);
    free(h->batch_record_of);
    for (size_t k = 0; k < h->batch_cap; k++) {
        free(h->pairs[k].v);
        free(h->pairs[k].own);
    }
    free(h->pairs);
    batch_records *both[] = {&h->begun, &h->batch};
    for (size_t b = 0; b < 2; b++) {
        for (size_t k = 0; k < both[b]->units_cap; k++)
            dd_unit_ahead_free(&both[b]->units[k]);
        free(both[b]->units);
    }
    free(h->batch_error);
    free(h->set_a);
    free(h->set_b);
    free(h->set_tmp);
    free(h);
}

/* Frees what the verdict owns of its last record. */
static void verdict_clear(dd_verdict *v)
{
    free(v->of_index);
    v->of_index = NULL;
    for (size_t i = 0; i < v->nremoved; i++)
        free(v->removed[i].of_index);
    v->nremoved = 0;
}

void dd_verdict_free(dd_verdict *v)
{
    verdict_clear(v);
    free(v->removed);
    memset(v, 0, sizeof *v);
}

size_t dd_history_bytes(const dd_history *h)
{
    size_t per_doc = sizeof(dd_doc_sig) +
                     (h->sigs.minhash ? h->sigs.params.num_perm * sizeof(uint32_t) : 8);
    return h->sigs.n * per_doc + h->signed_cap * sizeof *h->signed_of +
           h->link_start_cap * sizeof *h->sigs.link_start +
           (h->unit_index ? dd_unit_index_bytes(h->unit_index) : 0) +
           (h->placer ? dd_placer_bytes(h->placer) : 0) + h->paras_cap * sizeof(para) +
           dd_key_table_bytes(&h->para_of);
}

uint64_t dd_history_spooled(const dd_history *h)
{
    return h->p.near.enabled ? h->p.scratch.bytes(h->p.scratch.ctx) : 0;
}

dd_history_candidates dd_history_candidates_of(const dd_history *h)
{
    dd_history_candidates c = {h->index_search.compared, h->index_search.left_out, h->pairs_ahead,
                               h->pairs_asked};
    if (h->placer) {
        dd_placer_counts p = dd_placer_counts_of(h->placer);
        c.compared += p.compared;
        c.left_out += p.passed_over + p.unlisted;
    }
    return c;
}

static void add_removal(dd_verdict *v, dd_removal r)
{
    dd_grow(&v->removed, &v->cap, v->nremoved + 1, sizeof *v->removed);
    v->removed[v->nremoved++] = r;
}

static int compare_removals(const void *a, const void *b)
{
    const dd_removal *x = a, *y = b;
    return (x->first_line > y->first_line) - (x->first_line < y->first_line);
}

/* The paragraphs of kept record rec (f: its facts): looks each unit up,
 * counts the records holding it, and removes repeats, boilerplate and
 * near-repeats. Fails (*err) past DD_KEY_TABLE_MAX_VALUE + 1 distinct
 * paragraphs. */
static bool decide_paragraphs(dd_history *h, uint64_t rec, const dd_doc *doc,
                              const dd_record_facts *f, dd_verdict *v, char **err)
{
    size_t n = doc->nunits, nocc = 0;
    dd_grow(&h->removed, &h->removed_cap, n + 1, sizeof *h->removed);
    memset(h->removed, 0, (n + 1) * sizeof *h->removed);
    dd_grow(&h->occ, &h->occ_cap, n + 1, sizeof *h->occ);
    for (size_t u = 0; u < n; u++) {
        const dd_unit *unit = &doc->units[u];
        uint32_t had;
        dd_key_added added = dd_key_table_add(&h->para_of, unit->key, h->nparas, &had);
        if (added == DD_KEY_FULL) {
            *err = dd_asprintf("more than %" PRIu32 " distinct paragraphs",
                               (uint32_t)DD_KEY_TABLE_MAX_VALUE + 1);
            return false;
        }
        if (added == DD_KEY_ADDED) {
            dd_grow(&h->paras, &h->paras_cap, h->nparas + 1, sizeof *h->paras);
            h->paras[h->nparas] = (para){.first_rec = rec,
                                         .last_rec = rec,
                                         .first_unit = (uint32_t)u,
                                         .first_line = (uint32_t)unit->first_line,
                                         .last_line = (uint32_t)unit->last_line,
                                         .docs = 1,
                                         .words = unit->words};
            h->nparas++;
            continue;
        }
        para *e = &h->paras[had];
        if (e->last_rec != rec) {
            e->docs++;
            e->last_rec = rec;
        }
        h->occ[nocc++] = (occurrence){(uint32_t)u, had};
    }
    if (!h->p.clean_paragraphs)
        return true;

    /* Boilerplate first, then runs of repeats of one earlier place, as in
     * scan (paragraphs.c). */
    const unsigned long df = h->p.boilerplate_df, min_words = h->p.min_words;
    for (size_t k = 0; k < nocc;) {
        const para *e = &h->paras[h->occ[k].para];
        uint32_t u = h->occ[k].unit;
        if (dd_is_boilerplate(e->docs, e->words, min_words, df)) {
            add_removal(v, (dd_removal){doc->units[u].first_line, doc->units[u].last_line,
                                        DD_REMOVED_BOILERPLATE, e->first_rec, e->first_line,
                                        e->last_line, 1.0, 1.0, NULL});
            h->removed[u] = true;
            k++;
            continue;
        }
        dd_removal r = {doc->units[u].first_line, doc->units[u].last_line, DD_REMOVED_REPEAT,
                        e->first_rec, e->first_line, e->last_line, 1.0, 1.0, NULL};
        uint64_t words = e->words;
        size_t j = k + 1;
        /* Units are numbered in the record (or the one repeated): "next"
         * is the next unit of the record. */
        dd_run_end run = {rec, e->first_rec, u, (size_t)u + 1, (size_t)e->first_unit + 1};
        while (j < nocc) {
            const para *ne = &h->paras[h->occ[j].para];
            uint32_t nu = h->occ[j].unit;
            if (!dd_run_takes(&run, rec, nu, ne->first_rec, ne->first_unit,
                              dd_is_boilerplate(ne->docs, ne->words, min_words, df)))
                break;
            r.last_line = doc->units[nu].last_line;
            r.of_last_line = ne->last_line;
            words += ne->words;
            run.next_at = (size_t)nu + 1;
            run.next_src = (size_t)ne->first_unit + 1;
            j++;
        }
        if (words >= min_words) {
            add_removal(v, r);
            for (size_t t = k; t < j; t++)
                h->removed[h->occ[t].unit] = true;
        }
        k = j;
    }

    /* Paragraphs found in the index, not removed yet. */
    if (h->p.index) {
        for (size_t u = 0; u < n; u++) {
            const dd_unit *unit = &doc->units[u];
            if (h->removed[u] || unit->words < min_words)
                continue;
            char *not_found = NULL;
            uint32_t docs;
            dd_indexed_place at;
            dd_indexed_doc d;
            if (!dd_earlier_paragraph(h->p.index, unit->key, UINT32_MAX, &docs, &at, &d,
                                      &not_found)) {
                free(not_found);
                continue;
            }
            /* the record counted; unit has min_words (above) */
            bool boilerplate = dd_is_boilerplate(docs + 1, unit->words, min_words, df);
            dd_removal r = {unit->first_line, unit->last_line,
                            boilerplate ? DD_REMOVED_BOILERPLATE : DD_REMOVED_REPEAT, 0,
                            at.first_line, at.last_line, 1.0, 1.0, d.id};
            d.id = NULL;
            dd_indexed_doc_free(&d);
            add_removal(v, r);
            h->removed[u] = true;
        }
    }

    /* Near-repeats inside the record. */
    for (size_t k = 0; k < f->near.n; k++) {
        const dd_near_unit *nu = &f->near.v[k];
        if (h->removed[nu->unit] || h->removed[nu->of])
            continue;
        const dd_unit *at = &doc->units[nu->unit], *of = &doc->units[nu->of];
        add_removal(v, (dd_removal){at->first_line, at->last_line, DD_REMOVED_NEAR, rec,
                                    of->first_line, of->last_line, nu->jaccard,
                                    nu->containment, NULL});
        h->removed[nu->unit] = true;
    }
    if (v->nremoved > 1)
        qsort(v->removed, v->nremoved, sizeof *v->removed, compare_removals);
    return true;
}

/* Is the record whose signature is number sig a copy of a document of the
 * index? Decided on the signatures (the indexed texts are not at hand), as
 * --verify estimate; an index that fails to answer finds no copy. */
static bool copy_of_indexed(dd_history *h, uint32_t sig, dd_verdict *v)
{
    dd_earlier_copy copy;
    char *err = NULL;
    int found = dd_earlier_copy_of(h->p.index, &h->sigs, sig, 0, NULL, NULL, &h->index_search,
                                   &copy, &err);
    free(err);
    if (found <= 0)
        return false;
    v->kind = copy.exact ? DD_RECORD_EXACT : DD_RECORD_NEAR;
    v->of_index = copy.doc.id;
    copy.doc.id = NULL;
    v->jaccard = copy.jaccard;
    v->containment = copy.containment;
    v->estimated = copy.estimated;
    dd_indexed_doc_free(&copy.doc);
    return true;
}

/* The links of the record whose signature is number sig (doc, with facts
 * f), found as scan finds them (corpus.c, near.c): the near-repeats of its
 * units among the units of the records before it; then its units join the
 * unit index and their sets go to the spool. The placer compares the
 * record with the earliest DD_MAX_LINKS records it is linked to, as
 * dd_signatures_link keeps them for scan (a record's partners after it are
 * not placed yet when it is). False, with *err set, when the spool fails. */
static bool link_record(dd_history *h, uint32_t sig, const dd_doc *doc, const dd_record_facts *f,
                        const dd_unit_ahead *ahead, size_t base, char **err)
{
    h->across.n = 0;
    if (ahead) /* in a batch: its lookups were done ahead */
        dd_find_near_units_batch(h->unit_index, sig, doc->units, doc->nunits, &f->sets,
                                 f->band_keys, f->set_keys, ahead, h->p.para_threshold, read_unit,
                                 h, &h->across);
    else
        dd_find_near_units_across(h->unit_index, sig, doc->units, doc->nunits, &f->sets,
                                  f->band_keys, f->set_keys, h->p.para_threshold, read_unit, h,
                                  &h->across);
    if (h->error) {
        *err = h->error;
        h->error = NULL;
        return false;
    }

    /* The units the index now lists, whose sets later records may ask for:
     * those of DD_NEAR_UNIT_ACROSS_MIN_WORDS words or more, but for exact
     * copies of a unit listed before (a match of Jaccard 1: the index lists
     * a set once). Their sets, then the table of where each one starts. */
    size_t nunits = doc->nunits, total = 0;
    const size_t *start = f->sets.start;
    dd_grow(&h->listed, &h->listed_cap, nunits + 1, sizeof *h->listed);
    bool *listed = h->listed;
    for (size_t u = 0; u < nunits; u++)
        listed[u] = doc->units[u].words >= DD_NEAR_UNIT_ACROSS_MIN_WORDS;
    for (size_t k = 0; k < h->across.n; k++)
        if (!h->across.v[k].alternative && h->across.v[k].jaccard == 1.0)
            listed[h->across.v[k].unit] = false;
    for (size_t u = 0; u < nunits; u++)
        total += listed[u] ? start[u + 1] - start[u] : 0;
    h->signed_of[sig].units_at = NOT_SPOOLED;
    if (total) {
        dd_grow(&h->unit_back, &h->unit_back_cap, nunits + 1, sizeof *h->unit_back);
        size_t at = 0;
        for (size_t u = 0; u < nunits; u++) {
            h->unit_back[u] = (uint32_t)(total - at);
            if (!listed[u])
                continue;
            size_t n = start[u + 1] - start[u];
            uint64_t where;
            if (!h->p.scratch.append(h->p.scratch.ctx, f->sets.hashes + start[u], n * sizeof *f->sets.hashes,
                                 &where, err))
                return false;
            at += n;
        }
        h->unit_back[nunits] = 0;
        if (!h->p.scratch.append(h->p.scratch.ctx, h->unit_back, (nunits + 1) * sizeof *h->unit_back,
                             &h->signed_of[sig].units_at, err))
            return false;
    }

    /* Its links: the earliest records it repeats a unit of, each once,
     * from links[base]. */
    dd_signatures *s = &h->sigs;
    dd_grow(&s->link_start, &h->link_start_cap, (size_t)sig + 2, sizeof *s->link_start);
    dd_grow(&s->links, &h->links_cap, base + h->across.n + 1, sizeof *s->links);
    uint32_t *links = s->links + base;
    size_t n = 0;
    for (size_t k = 0; k < h->across.n; k++)
        if (!h->across.v[k].alternative) /* the first match of a unit, as scan links */
            links[n++] = h->across.v[k].of_doc;
    if (n > 1)
        qsort(links, n, sizeof *links, dd_compare_u32);
    size_t kept = 0;
    for (size_t k = 0; k < n && kept < DD_MAX_LINKS; k++)
        if (kept == 0 || links[k] != links[kept - 1])
            links[kept++] = links[k];
    /* Only the entries of the records being placed are read (by
     * dd_placer_place): the links of the records before them are not
     * kept. */
    s->link_start[sig] = base;
    s->link_start[sig + 1] = base + kept;
    return true;
}

/* v says that the record being decided is a copy of the kept record whose
 * signature is number rep, with similarity m. */
static void copy_of_record(const dd_history *h, uint32_t rep, const dd_member *m, dd_verdict *v)
{
    v->kind = m->exact ? DD_RECORD_EXACT : DD_RECORD_NEAR;
    v->of = h->signed_of[rep].record;
    v->jaccard = m->jaccard;
    v->containment = m->containment;
    v->hamming = m->hamming;
    v->estimated = m->estimated;
}

/* Places record rec (it has words; f: its facts) among the records before
 * it and the indexed documents: v->kind and the rest of v say whether it is
 * a copy of one. A kept record's shingle set goes to the spool. False, with
 * *err set, when the spool fails. */
static bool place_record(dd_history *h, uint64_t rec, const dd_doc *doc, dd_record_facts *f,
                         dd_verdict *v, char **err)
{
    /* Its signature, and its shingles in sigs.scratch, as
     * dd_signatures_add leaves them (the buffers change hands). */
    dd_signatures_add_signed(&h->sigs, &f->sig, NULL); /* no store: cannot fail */
    uint64_t *set = h->sigs.scratch;
    size_t set_cap = h->sigs.scratch_cap;
    h->sigs.scratch = f->set;
    h->sigs.scratch_cap = f->set_cap;
    f->set = set;
    f->set_cap = set_cap;
    h->scratch_sorted = false;
    uint32_t sig = (uint32_t)(h->sigs.n - 1);
    dd_grow(&h->signed_of, &h->signed_cap, (size_t)sig + 1, sizeof *h->signed_of);
    h->signed_of[sig] = (signed_record){rec, NOT_SPOOLED, NOT_SPOOLED};
    if (!link_record(h, sig, doc, f, NULL, 0, err))
        return false;
    if (h->p.index && copy_of_indexed(h, sig, v))
        return true; /* not placed: later copies find the indexed document too */
    dd_member m;
    uint32_t rep = dd_placer_place(h->placer, sig, &m);
    if (h->error) {
        *err = h->error;
        h->error = NULL;
        return false;
    }
    if (rep == sig) {
        uint64_t *at = &h->signed_of[sig].set_at;
        if (h->exact_sets &&
            !h->p.scratch.append(h->p.scratch.ctx, h->sigs.scratch,
                             h->sigs.docs[sig].shingles * sizeof *h->sigs.scratch, at, err))
            return false;
        if (h->exact_sets && h->scratch_sorted)
            *at |= SET_SORTED;
        return true;
    }
    copy_of_record(h, rep, &m, v);
    return true;
}

bool dd_history_decide(dd_history *h, const dd_doc *doc, dd_verdict *v, char **err)
{
    /* Its analyser is not used: doc was cut into units already. */
    if (!h->own && !(h->own = dd_analysis_worker_new(DD_UNIT_LINE, &h->p.near, h->p.hash))) {
        *err = dd_asprintf("cannot start the normaliser or make the MinHash functions");
        return false;
    }
    dd_history_analyse(&h->p, h->own, doc, &h->facts);
    return dd_history_decide_analysed(h, doc, &h->facts, v, err);
}

/* v, for a new record: kept, nothing removed. */
static void verdict_start(dd_verdict *v)
{
    verdict_clear(v);
    v->kind = DD_RECORD_KEPT;
    v->of = 0;
    v->jaccard = v->containment = 0;
    v->hamming = 0;
    v->estimated = false;
    v->nremoved = 0;
}

bool dd_history_decide_analysed(dd_history *h, const dd_doc *doc, dd_record_facts *f, dd_verdict *v,
                                char **err)
{
    verdict_start(v);
    uint64_t rec = h->records++;
    /* A record without words is compared with nothing and has no
     * paragraphs: it is kept, and nothing of it is remembered. Without
     * near-duplicate detection no record needs a signature. */
    if (f->signed_record) {
        if (!place_record(h, rec, doc, f, v, err))
            return false;
        if (v->kind != DD_RECORD_KEPT)
            return true;
    }
    return decide_paragraphs(h, rec, doc, f, v, err);
}

/* ------------------------------------------------ deciding a batch ahead */

bool dd_history_batches(const dd_history *h) { return h->placer && !h->p.index; }

/* Sorts the n hashes in (*set)[0..n) (*tmp, *tmp_cap: scratch). */
static void sort_hashes(uint64_t *set, size_t n, uint64_t **tmp, size_t *tmp_cap)
{
    dd_grow(tmp, tmp_cap, n + 1, sizeof **tmp);
    dd_sort_u64(set, *tmp, n);
}

/* The distinct shingles of the batch's record with signature sig, sorted,
 * into *set (growing it, *cap its capacity); returns how many. Reads the
 * record's facts only: any thread. */
static size_t batch_set(const dd_history *h, uint32_t sig, uint64_t **set, size_t *cap,
                        uint64_t **tmp, size_t *tmp_cap)
{
    const dd_record_facts *f = h->batch.facts[h->batch_record_of[sig - h->batch_first_sig]];
    size_t n = h->sigs.docs[sig].shingles;
    dd_grow(set, cap, n + 1, sizeof **set);
    memcpy(*set, f->set, n * sizeof **set);
    sort_hashes(*set, n, tmp, tmp_cap);
    return n;
}

/* The spooled set of the kept record with signature sig, before the batch,
 * sorted, into *set (growing it); false when the store cannot give it
 * (peek: nothing said, nothing changed, so any thread). */
static bool peek_set(const dd_history *h, uint32_t sig, uint64_t **set, size_t *cap, size_t *n,
                     uint64_t **tmp, size_t *tmp_cap)
{
    uint64_t at = h->signed_of[sig].set_at;
    size_t count = h->sigs.docs[sig].shingles;
    if (at == NOT_SPOOLED || !h->p.scratch.peek)
        return false;
    dd_grow(set, cap, count + 1, sizeof **set);
    if (!h->p.scratch.peek(h->p.scratch.ctx, at & ~SET_SORTED, *set, count * sizeof **set))
        return false;
    if (!(at & SET_SORTED))
        sort_hashes(*set, count, tmp, tmp_cap);
    *n = count;
    return true;
}

void dd_history_batch_begin(dd_history *h, size_t n, const dd_doc *const *docs,
                            dd_record_facts *const *facts)
{
    batch_records *b = &h->begun;
    if (n > b->units_cap) {
        b->units = dd_realloc(b->units, n * sizeof *b->units);
        memset(b->units + b->units_cap, 0, (n - b->units_cap) * sizeof *b->units);
        b->units_cap = n;
    }
    b->n = n;
    b->docs = docs;
    b->facts = facts;
}

void dd_history_batch_units(dd_history *h, size_t k, dd_history_scratch *w)
{
    const batch_records *b = &h->begun;
    const dd_doc *doc = b->docs[k];
    const dd_record_facts *f = b->facts[k];
    b->units[k].n = 0;
    if (f->signed_record) /* (only records with a signature are linked) */
        dd_unit_batch_ahead(h->unit_index, doc->units, doc->nunits, &f->sets, f->band_keys,
                            h->p.para_threshold, peek_unit, h, &w->units, &b->units[k]);
}

void dd_history_batch_link(dd_history *h)
{
    /* The batch begun is the one decided from here on. */
    batch_records begun = h->begun;
    h->begun = h->batch;
    h->begun.n = 0;
    h->batch = begun;
    size_t n = h->batch.n;
    if (n > h->batch_cap) {
        h->batch_sig = dd_realloc(h->batch_sig, n * sizeof *h->batch_sig);
        h->batch_signed = dd_realloc(h->batch_signed, n * sizeof *h->batch_signed);
        h->batch_record_of = dd_realloc(h->batch_record_of, n * sizeof *h->batch_record_of);
        h->pairs = dd_realloc(h->pairs, n * sizeof *h->pairs);
        memset(h->pairs + h->batch_cap, 0, (n - h->batch_cap) * sizeof *h->pairs);
        h->batch_cap = n;
    }
    dd_unit_batch_begin(h->unit_index);
    const dd_doc *const *docs = h->batch.docs;
    dd_record_facts *const *facts = h->batch.facts;
    h->batch_failed = n;
    free(h->batch_error);
    h->batch_error = NULL;
    h->batch_first_sig = (uint32_t)h->sigs.n;
    h->batch_nsigned = 0;
    /* Signatures and links first, in order: they depend on the records
     * before, not on where those were placed. */
    size_t links = 0;
    for (size_t k = 0; k < n; k++) {
        dd_record_facts *f = facts[k];
        h->batch_sig[k] = NO_SIG;
        if (!f->signed_record)
            continue;
        dd_signatures_add_signed(&h->sigs, &f->sig, NULL); /* no store: cannot fail */
        uint32_t sig = (uint32_t)(h->sigs.n - 1);
        dd_grow(&h->signed_of, &h->signed_cap, (size_t)sig + 1, sizeof *h->signed_of);
        h->signed_of[sig] = (signed_record){h->records + k, NOT_SPOOLED, NOT_SPOOLED};
        if (!link_record(h, sig, docs[k], f, &h->batch.units[k], links, &h->batch_error)) {
            h->batch_failed = k;
            break;
        }
        links = h->sigs.link_start[sig + 1];
        h->batch_sig[k] = sig;
        h->batch_signed[h->batch_nsigned] = sig;
        h->batch_record_of[h->batch_nsigned++] = k;
        h->pairs[sig - h->batch_first_sig].n = 0;
        h->pairs[sig - h->batch_first_sig].own_sorted = false;
        h->pairs[sig - h->batch_first_sig].kept = false;
    }
    if (h->batch_nsigned) {
        /* The guesses' keys, here: a batch is a few records (scan makes
         * its larger batches' keys on its pool). */
        dd_placer_ahead_prepare(h->ahead, h->placer, h->batch_signed, h->batch_nsigned);
        for (size_t k = 0; k < h->batch_nsigned; k++)
            dd_placer_ahead_keys(h->placer, h->ahead, k);
        dd_placer_ahead_guess(h->ahead);
    }
}

size_t dd_history_batch_unit_parts(const dd_history *h)
{
    return h->batch_nsigned && h->batch_failed == h->batch.n ? DD_NEAR_UNIT_BANDS : 0;
}

void dd_history_batch_unit_index(dd_history *h, size_t band)
{
    dd_unit_batch_join(h->unit_index, band);
}

void dd_history_batch_ahead(dd_history *h, size_t k, dd_history_scratch *w)
{
    uint32_t sig = h->batch_sig[k];
    if (k >= h->batch_failed || sig == NO_SIG)
        return;
    ahead_pairs *out = &h->pairs[sig - h->batch_first_sig];
    size_t nreps = dd_placer_ahead_pairs(h->placer, h->ahead, sig - h->batch_first_sig,
                                         &w->ahead, &w->reps, &w->reps_cap);
    if (!nreps || !h->exact_sets)
        return;
    size_t na = batch_set(h, sig, &out->own, &out->own_cap, &w->tmp, &w->tmp_cap), nb;
    out->own_sorted = true;
    for (size_t i = 0; i < nreps; i++) {
        uint32_t r = w->reps[i];
        if (r >= h->batch_first_sig)
            nb = batch_set(h, r, &w->b, &w->b_cap, &w->tmp, &w->tmp_cap);
        else if (!peek_set(h, r, &w->b, &w->b_cap, &nb, &w->tmp, &w->tmp_cap))
            continue; /* computed when asked, where a failure is said */
        dd_overlap o = {na, nb, dd_sorted_intersection(out->own, na, w->b, nb)};
        dd_grow(&out->v, &out->cap, out->n + 1, sizeof *out->v);
        out->v[out->n++] = (ahead_pair){r, o};
        if (dd_overlap_joins(&h->sigs, &o))
            break; /* the placer stops there */
    }
}

/* dd_signatures.overlap while a batch is placed: the pair as computed
 * ahead for the record being placed, or computed now. */
static bool answer_pair(void *ctx, uint32_t d, uint32_t r, dd_overlap *o)
{
    dd_history *h = ctx;
    const ahead_pairs *ps = &h->pairs[d - h->batch_first_sig];
    for (size_t i = 0; i < ps->n; i++)
        if (ps->v[i].rep == r) {
            *o = ps->v[i].overlap;
            h->pairs_ahead++;
            return true;
        }
    h->pairs_asked++;
    size_t na = h->sigs.docs[d].shingles, nb;
    const uint64_t *a = ps->own;
    if (!ps->own_sorted) {
        batch_set(h, d, &h->set_a, &h->set_a_cap, &h->set_tmp, &h->set_tmp_cap);
        a = h->set_a;
    }
    if (r >= h->batch_first_sig)
        nb = batch_set(h, r, &h->set_b, &h->set_b_cap, &h->set_tmp, &h->set_tmp_cap);
    else if (!load_set(h, r, &h->set_b, &h->set_b_cap, &nb))
        return false;
    *o = (dd_overlap){na, nb, dd_sorted_intersection(a, na, h->set_b, nb)};
    return true;
}

bool dd_history_batch_decide(dd_history *h, size_t k, dd_verdict *v, char **err)
{
    verdict_start(v);
    uint64_t rec = h->records++;
    if (k >= h->batch_failed) {
        *err = k == h->batch_failed ? h->batch_error : dd_asprintf("an earlier record failed");
        if (k == h->batch_failed)
            h->batch_error = NULL;
        return false;
    }
    const dd_doc *doc = h->batch.docs[k];
    dd_record_facts *f = h->batch.facts[k];
    uint32_t sig = h->batch_sig[k];
    if (sig != NO_SIG) {
        dd_member m;
        h->sigs.overlap = answer_pair;
        h->sigs.overlap_ctx = h;
        uint32_t rep = dd_placer_place_ahead(h->placer, h->ahead, sig - h->batch_first_sig, &m);
        h->sigs.overlap = NULL;
        h->sigs.overlap_ctx = NULL;
        if (h->error) {
            *err = h->error;
            h->error = NULL;
            return false;
        }
        if (rep != sig) {
            copy_of_record(h, rep, &m, v);
            return true;
        }
        /* its set is spooled with the batch's (dd_history_batch_keep): no
         * record of the batch reads it there */
        h->pairs[sig - h->batch_first_sig].kept = true;
    }
    return decide_paragraphs(h, rec, doc, f, v, err);
}

bool dd_history_batch_keep(dd_history *h, size_t *failed, char **err)
{
    for (size_t k = 0; k < h->batch_nsigned && h->exact_sets; k++) {
        uint32_t sig = h->batch_first_sig + (uint32_t)k;
        const ahead_pairs *ps = &h->pairs[k];
        if (!ps->kept)
            continue;
        /* sorted if it had pairs ahead: then read back without sorting */
        const dd_record_facts *f = h->batch.facts[h->batch_record_of[k]];
        uint64_t *at = &h->signed_of[sig].set_at;
        if (!h->p.scratch.append(h->p.scratch.ctx, ps->own_sorted ? ps->own : f->set,
                                 h->sigs.docs[sig].shingles * sizeof *f->set, at, err)) {
            *failed = h->batch_record_of[k];
            return false;
        }
        if (ps->own_sorted)
            *at |= SET_SORTED;
    }
    return true;
}

size_t dd_history_batch_parts(const dd_history *h)
{
    return h->batch_nsigned ? dd_placer_ahead_bands(h->ahead) : 0;
}

void dd_history_batch_index(dd_history *h, size_t part)
{
    dd_placer_ahead_index(h->placer, h->ahead, part);
}

void dd_history_scratch_free(dd_history_scratch *w)
{
    dd_ahead_scratch_free(&w->ahead);
    dd_unit_scratch_free(&w->units);
    free(w->reps);
    free(w->b);
    free(w->tmp);
    memset(w, 0, sizeof *w);
}

/* ------------------------------------------------------------ analysis */

/* What dd_history_decide_analysed reads of f, for doc: a record with words
 * is signed (with near-duplicate detection: place_record) and its units'
 * sets, band keys and set keys made (link_record); the near-repeats inside it are
 * found with paragraphs cleaned (decide_paragraphs), on the same sets. */
void dd_history_analyse(const dd_history_params *p, dd_analysis_worker *a, const dd_doc *doc,
                        dd_record_facts *f)
{
    f->signed_record = doc->words.n && p->near.enabled;
    f->has_sets = f->signed_record || p->clean_paragraphs;
    f->near.n = 0;
    if (f->signed_record) {
        dd_signer_sign(&a->signer, &doc->words, doc->key, p->hash, &f->sig);
        /* the shingles the signer left in its scratch: they change hands */
        uint64_t *set = f->set;
        size_t set_cap = f->set_cap;
        f->set = a->signer.scratch;
        f->set_cap = a->signer.scratch_cap;
        a->signer.scratch = set;
        a->signer.scratch_cap = set_cap;
    }
    if (!f->has_sets)
        return;
    dd_unit_sets_compute(&a->sets, doc, p->hash);
    if (p->clean_paragraphs)
        dd_find_near_units(0, doc, &a->sets, p->para_threshold, p->min_words, &f->near);
    dd_unit_sets_take(&f->sets, &a->sets);
    if (f->signed_record) {
        dd_unit_band_keys(a->unit_minhasher, doc, &f->sets, &f->band_keys, &f->band_keys_cap);
        dd_unit_set_keys(doc, &f->sets, &f->set_keys, &f->set_keys_cap);
    }
}

void dd_record_facts_free(dd_record_facts *f)
{
    dd_signed_free(&f->sig);
    free(f->set);
    dd_unit_sets_free(&f->sets);
    free(f->band_keys);
    free(f->set_keys);
    free(f->near.v);
    memset(f, 0, sizeof *f);
}
