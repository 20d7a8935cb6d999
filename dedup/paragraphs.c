/*
 * paragraphs.c - the table of unit keys and the repeat and boilerplate
 * findings.
 */
#include "paragraphs.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

/* A distinct unit: where it was first seen and in how many documents. */
typedef struct entry {
    sh_key key;
    uint32_t first_doc;
    uint32_t last_doc; /* the last document it was seen in, to count documents once */
    uint32_t docs;     /* 0: the slot is empty */
    uint32_t words;
    size_t first_unit;
    size_t first_line, last_line;
    uint32_t text_doc;       /* the occurrence whose text a report shows: */
    size_t text_line;        /* the first one in a second document */
    size_t text_off, text_len;
} entry;

/* A later occurrence of an entry. */
typedef struct occurrence {
    size_t entry; /* slot in the table */
    uint32_t doc;
    uint32_t words;
    size_t unit;
    size_t first_line, last_line;
} occurrence;

struct dd_paragraphs {
    dd_repeat *near; /* near-repeats inside documents */
    size_t nnear, near_cap;
    entry *slots;
    size_t nslots, used; /* nslots is a power of two */
    uint64_t salt;       /* dd_table_salt() */
    occurrence *occ;
    size_t nocc, occ_cap;
};

dd_paragraphs *dd_paragraphs_new(void)
{
    dd_paragraphs *p = dd_calloc(1, sizeof *p);
    p->nslots = 1024;
    p->slots = dd_calloc(p->nslots, sizeof *p->slots);
    p->salt = dd_table_salt();
    return p;
}

void dd_paragraphs_free(dd_paragraphs *p)
{
    if (!p)
        return;
    free(p->slots);
    free(p->occ);
    free(p->near);
    free(p);
}

/* The slot of key, or the empty slot where it would go. */
static size_t find_slot(const dd_paragraphs *p, sh_key key)
{
    size_t mask = p->nslots - 1, i = dd_table_home(key.lo, p->salt, mask);
    while (p->slots[i].docs && !sh_key_equal(p->slots[i].key, key))
        i = (i + 1) & mask;
    return i;
}

static void grow_table(dd_paragraphs *p)
{
    entry *old = p->slots;
    size_t n = p->nslots;
    p->nslots *= 2;
    p->slots = dd_calloc(p->nslots, sizeof *p->slots);
    /* Occurrences point at slots: remember where each entry moved. */
    size_t *moved = dd_malloc(n * sizeof *moved);
    for (size_t i = 0; i < n; i++) {
        if (!old[i].docs)
            continue;
        size_t j = find_slot(p, old[i].key);
        p->slots[j] = old[i];
        moved[i] = j;
    }
    for (size_t i = 0; i < p->nocc; i++)
        p->occ[i].entry = moved[p->occ[i].entry];
    free(moved);
    free(old);
}

void dd_paragraphs_add(dd_paragraphs *p, uint32_t doc, const dd_unit *units, size_t n)
{
    for (size_t u = 0; u < n; u++) {
        const dd_unit *unit = &units[u];
        if (2 * (p->used + 1) > p->nslots)
            grow_table(p);
        size_t i = find_slot(p, unit->key);
        entry *e = &p->slots[i];
        if (!e->docs) {
            *e = (entry){unit->key,        doc, doc, 1, unit->words, u, unit->first_line,
                         unit->last_line, 0,   0,   0,   0};
            p->used++;
            continue;
        }
        if (e->last_doc != doc) {
            e->docs++;
            e->last_doc = doc;
            if (e->docs == 2) {
                e->text_doc = doc;
                e->text_line = unit->first_line;
                e->text_off = unit->off;
                e->text_len = unit->len;
            }
        }
        dd_grow(&p->occ, &p->occ_cap, p->nocc + 1, sizeof *p->occ);
        p->occ[p->nocc++] = (occurrence){i, doc, unit->words, u, unit->first_line, unit->last_line};
    }
}

void dd_paragraphs_add_near(dd_paragraphs *p, dd_place at, dd_place of, uint32_t words,
                            double jaccard, double containment)
{
    dd_grow(&p->near, &p->near_cap, p->nnear + 1, sizeof *p->near);
    p->near[p->nnear++] = (dd_repeat){at, of, 1, words, false, jaccard, containment};
}

static void add_drop(dd_findings *f, uint32_t doc, size_t first, size_t last)
{
    dd_grow(&f->drops, &f->drops_cap, f->ndrops + 1, sizeof *f->drops);
    f->drops[f->ndrops++] = (dd_drop){doc, first, last};
}

static int compare_drops(const void *a, const void *b)
{
    const dd_drop *x = a, *y = b;
    if (x->doc != y->doc)
        return x->doc < y->doc ? -1 : 1;
    if (x->first_line != y->first_line)
        return x->first_line < y->first_line ? -1 : 1;
    return (x->last_line > y->last_line) - (x->last_line < y->last_line);
}

/* Sorts the drops and merges ranges that overlap or touch. */
static void merge_drops(dd_findings *f)
{
    if (f->ndrops > 1)
        qsort(f->drops, f->ndrops, sizeof *f->drops, compare_drops);
    size_t w = 0;
    for (size_t i = 0; i < f->ndrops; i++) {
        dd_drop *last = w ? &f->drops[w - 1] : NULL;
        if (last && last->doc == f->drops[i].doc && f->drops[i].first_line <= last->last_line + 1) {
            if (f->drops[i].last_line > last->last_line)
                last->last_line = f->drops[i].last_line;
        } else {
            f->drops[w++] = f->drops[i];
        }
    }
    f->ndrops = w;
}

static bool is_boilerplate(const entry *e, uint64_t min_words, uint32_t df)
{
    return e->docs >= df && e->words >= min_words;
}

/* Order boilerplate entries by first occurrence. */
static int compare_first(const void *a, const void *b)
{
    const entry *x = *(entry *const *)a, *y = *(entry *const *)b;
    if (x->first_doc != y->first_doc)
        return x->first_doc < y->first_doc ? -1 : 1;
    return (x->first_unit > y->first_unit) - (x->first_unit < y->first_unit);
}

static void find_boilerplate(dd_paragraphs *p, uint64_t min_words, uint32_t df, dd_findings *f)
{
    /* The entries, in order of first occurrence, and their occurrence counts. */
    entry **list = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < p->nslots; i++) {
        if (p->slots[i].docs && is_boilerplate(&p->slots[i], min_words, df)) {
            dd_grow(&list, &cap, n + 1, sizeof *list);
            list[n++] = &p->slots[i];
        }
    }
    if (n == 0)
        return;
    qsort(list, n, sizeof *list, compare_first);
    /* Map each boilerplate slot to its record, through a per-slot index. */
    size_t *record_of = dd_malloc(p->nslots * sizeof *record_of);
    f->boilerplate = dd_calloc(n, sizeof *f->boilerplate);
    f->nboilerplate = f->boilerplate_cap = n;
    for (size_t r = 0; r < n; r++) {
        entry *e = list[r];
        record_of[(size_t)(e - p->slots)] = r;
        dd_boilerplate *b = &f->boilerplate[r];
        b->text_at = (dd_place){e->text_doc, e->text_line, e->text_line};
        b->text_off = e->text_off;
        b->text_len = e->text_len;
        b->docs = e->docs;
        b->at = dd_malloc(sizeof *b->at);
        b->at[0] = (dd_place){e->first_doc, e->first_line, e->last_line};
        b->n = 1;
        add_drop(f, e->first_doc, e->first_line, e->last_line);
    }
    size_t *caps = dd_calloc(n, sizeof *caps);
    for (size_t r = 0; r < n; r++)
        caps[r] = 1;
    for (size_t i = 0; i < p->nocc; i++) {
        const occurrence *o = &p->occ[i];
        if (!is_boilerplate(&p->slots[o->entry], min_words, df))
            continue;
        size_t r = record_of[o->entry];
        dd_boilerplate *b = &f->boilerplate[r];
        dd_grow(&b->at, &caps[r], b->n + 1, sizeof *b->at);
        b->at[b->n++] = (dd_place){o->doc, o->first_line, o->last_line};
        add_drop(f, o->doc, o->first_line, o->last_line);
    }
    free(caps);
    free(record_of);
    free(list);
}

/* Groups the other occurrences into runs and keeps those of min_words. */
static void find_repeats(dd_paragraphs *p, uint64_t min_words, uint32_t df, dd_findings *f)
{
    size_t i = 0;
    while (i < p->nocc) {
        const occurrence *o = &p->occ[i];
        const entry *e = &p->slots[o->entry];
        if (is_boilerplate(e, min_words, df)) {
            i++;
            continue;
        }
        dd_repeat r = {{o->doc, o->first_line, o->last_line},
                       {e->first_doc, e->first_line, e->last_line},
                       1,
                       o->words,
                       true,
                       1.0,
                       1.0};
        size_t unit = o->unit, src_unit = e->first_unit, j = i + 1;
        while (j < p->nocc) {
            const occurrence *next = &p->occ[j];
            const entry *ne = &p->slots[next->entry];
            if (next->doc != o->doc || next->unit != unit + 1 || ne->first_doc != e->first_doc ||
                ne->first_unit != src_unit + 1 || is_boilerplate(ne, min_words, df))
                break;
            /* A run never repeats itself: its source must end before it starts. */
            if (ne->first_doc == o->doc && ne->first_unit >= o->unit)
                break;
            r.at.last_line = next->last_line;
            r.of.last_line = ne->last_line;
            r.units++;
            r.words += next->words;
            unit++;
            src_unit++;
            j++;
        }
        if (r.words >= min_words) {
            dd_grow(&f->repeats, &f->repeats_cap, f->nrepeats + 1, sizeof *f->repeats);
            f->repeats[f->nrepeats++] = r;
            add_drop(f, r.at.doc, r.at.first_line, r.at.last_line);
        }
        i = j;
    }
}

static int compare_repeats(const void *a, const void *b)
{
    const dd_repeat *x = a, *y = b;
    if (x->at.doc != y->at.doc)
        return x->at.doc < y->at.doc ? -1 : 1;
    return (x->at.first_line > y->at.first_line) - (x->at.first_line < y->at.first_line);
}

/* Near-repeats by place, then by the order they were added (kept in units). */
static int compare_near(const void *a, const void *b)
{
    const dd_repeat *x = a, *y = b;
    if (x->at.doc != y->at.doc)
        return x->at.doc < y->at.doc ? -1 : 1;
    if (x->at.first_line != y->at.first_line)
        return x->at.first_line < y->at.first_line ? -1 : 1;
    return (x->units > y->units) - (x->units < y->units);
}

/* Is [first, last] of doc inside one of drops[0..n), merged and sorted? */
static bool dropped_already(const dd_drop *drops, size_t n, uint32_t doc, size_t first,
                            size_t last)
{
    /* The last drop that starts at or before (doc, first). */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (drops[mid].doc < doc || (drops[mid].doc == doc && drops[mid].first_line <= first))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && drops[lo - 1].doc == doc && drops[lo - 1].last_line >= last;
}

void dd_paragraphs_finish(dd_paragraphs *p, uint64_t min_words, uint32_t boilerplate_df,
                          dd_findings *f)
{
    find_repeats(p, min_words, boilerplate_df, f);
    find_boilerplate(p, min_words, boilerplate_df, f);
    merge_drops(f);
    /* Near-repeats, unless an exact finding already removes them; a unit
     * with two (inside its document and across) keeps the one added first. */
    for (size_t i = 0; i < p->nnear; i++)
        p->near[i].units = i; /* the order added, for a stable sort */
    if (p->nnear > 1)
        qsort(p->near, p->nnear, sizeof *p->near, compare_near);
    size_t exact_drops = f->ndrops;
    for (size_t i = 0; i < p->nnear; i++) {
        const dd_repeat *r = &p->near[i];
        if (i > 0 && p->near[i - 1].at.doc == r->at.doc &&
            p->near[i - 1].at.first_line == r->at.first_line)
            continue;
        if (dropped_already(f->drops, exact_drops, r->at.doc, r->at.first_line, r->at.last_line))
            continue;
        dd_grow(&f->repeats, &f->repeats_cap, f->nrepeats + 1, sizeof *f->repeats);
        f->repeats[f->nrepeats] = *r;
        f->repeats[f->nrepeats++].units = 1;
        add_drop(f, r->at.doc, r->at.first_line, r->at.last_line);
    }
    if (f->nrepeats > 1)
        qsort(f->repeats, f->nrepeats, sizeof *f->repeats, compare_repeats);
    merge_drops(f);
}

void dd_findings_free(dd_findings *f)
{
    for (size_t i = 0; i < f->nboilerplate; i++) {
        free(f->boilerplate[i].at);
        free(f->boilerplate[i].text);
    }
    free(f->boilerplate);
    free(f->repeats);
    free(f->drops);
    memset(f, 0, sizeof *f);
}
