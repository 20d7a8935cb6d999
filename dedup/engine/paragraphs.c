/*
 * paragraphs.c - the table of unit keys and the repeat and boilerplate
 * findings.
 */
#include "engine/paragraphs.h"

#include "key_table.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* A distinct unit: where it was first seen and in how many documents.
 * Places are (document, unit) pairs; their lines and bytes are read from the
 * corpus's units when findings are made, so an entry stays small. */
typedef struct entry {
    uint32_t first_doc, first_unit;
    uint32_t last_doc; /* the last document it was seen in, to count documents once */
    uint32_t docs;
    uint32_t words;
    uint32_t text_doc, text_unit; /* the occurrence whose text a report shows:
                                     the first one in a second document */
} entry;

/* A later occurrence of an entry. */
typedef struct occurrence {
    uint32_t entry;
    uint32_t doc, unit;
} occurrence;

/* One part of a table built in parts (dd_paragraphs_split): the entries of
 * the keys of that part, numbered in order of first occurrence among them. */
typedef struct part {
    dd_key_table entry_of; /* its entries by key, at most 3/4 full */
    entry *entries;
    size_t nentries, entries_cap;
    uint32_t *joined; /* each entry's number in the table (NO_ENTRY: not yet) */
    bool full;        /* past the table's limits: the parts cannot be joined */
} part;

#define NO_ENTRY UINT32_MAX

struct dd_paragraphs {
    const dd_unit *units;     /* the corpus's units, by document (NULL: read through get): */
    const size_t *unit_start; /* document d has units[unit_start[d] ..] */
    dd_unit (*get)(void *ctx, size_t u); /* dd_paragraphs_read_units */
    void *get_ctx;
    dd_repeat *near;          /* near-repeats inside documents */
    size_t nnear, near_cap;
    entry *entries; /* in order of first occurrence */
    size_t nentries, entries_cap;
    dd_key_table entry_of; /* entries by key, at most 3/4 full */
    occurrence *occ;
    size_t nocc, occ_cap;
    size_t nunits;     /* units of the documents up to the last one added */
    const bool *gone;  /* units left out (dd_paragraphs_leave_out), or NULL */
    part *parts;       /* built in parts (dd_paragraphs_split), or NULL */
    size_t nparts;
    uint64_t *part_entry; /* each unit's entry in its part: number << 8 | part */
};

dd_paragraphs *dd_paragraphs_new(const dd_unit *units, const size_t *unit_start)
{
    dd_paragraphs *p = dd_calloc(1, sizeof *p);
    p->units = units;
    p->unit_start = unit_start;
    dd_key_table_init(&p->entry_of, 3);
    return p;
}

void dd_paragraphs_free(dd_paragraphs *p)
{
    if (!p)
        return;
    for (size_t k = 0; k < p->nparts; k++) {
        dd_key_table_free(&p->parts[k].entry_of);
        free(p->parts[k].entries);
        free(p->parts[k].joined);
    }
    free(p->parts);
    free(p->part_entry);
    free(p->entries);
    dd_key_table_free(&p->entry_of);
    free(p->occ);
    free(p->near);
    free(p);
}

void dd_paragraphs_read_units(dd_paragraphs *p, dd_unit (*get)(void *ctx, size_t u), void *ctx)
{
    p->units = NULL;
    p->get = get;
    p->get_ctx = ctx;
}

/* Unit u among all the units. */
static dd_unit unit_number_at(const dd_paragraphs *p, size_t u)
{
    return p->units ? p->units[u] : p->get(p->get_ctx, u);
}

static dd_unit unit_at(const dd_paragraphs *p, uint32_t doc, uint32_t unit)
{
    return unit_number_at(p, p->unit_start[doc] + unit);
}

/* The place of unit `unit` of document doc: its lines. */
static dd_place place_of(const dd_paragraphs *p, uint32_t doc, uint32_t unit)
{
    dd_unit u = unit_at(p, doc, unit);
    return (dd_place){doc, u.first_line, u.last_line};
}

void dd_paragraphs_leave_out(dd_paragraphs *p, const bool *gone) { p->gone = gone; }

/* Counts an occurrence at unit u of doc of entry e, seen before. */
static void count_again(entry *e, uint32_t doc, uint32_t u)
{
    if (e->last_doc != doc) {
        e->docs++;
        e->last_doc = doc;
        if (e->docs == 2) {
            e->text_doc = doc;
            e->text_unit = u;
        }
    }
}

/* The part of a key, among n. */
static size_t part_of(sh_key key, size_t n) { return (size_t)(key.hi % n); }

static bool too_many_units(const dd_paragraphs *p, uint32_t doc)
{
    return p->unit_start[doc + 1] - p->unit_start[doc] > UINT32_MAX;
}

static bool too_many_entries(dd_notes *notes)
{
    dd_note_add(notes, DD_NOTE_ERROR, "more than %" PRIu32 " distinct paragraphs",
                (uint32_t)DD_KEY_TABLE_MAX_VALUE + 1);
    return false;
}

/* dd_paragraphs_add on a table built in parts: each unit's entry is its
 * part's, numbered in the table the first time a unit of it comes (the
 * parts' first occurrences, in document order, are the table's). */
static bool join_parts(dd_paragraphs *p, uint32_t doc, dd_notes *notes)
{
    for (size_t k = 0; k < p->nparts; k++)
        if (p->parts[k].full)
            return too_many_entries(notes);
    size_t first = p->unit_start[doc], n = p->unit_start[doc + 1] - first;
    for (uint32_t u = 0; u < n; u++) {
        if (p->gone && p->gone[first + u])
            continue;
        uint64_t at = p->part_entry[first + u];
        part *k = &p->parts[at & 0xff];
        uint32_t in_part = (uint32_t)(at >> 8);
        uint32_t *joined = &k->joined[in_part];
        if (*joined == NO_ENTRY) {
            if (p->nentries > DD_KEY_TABLE_MAX_VALUE)
                return too_many_entries(notes);
            *joined = (uint32_t)p->nentries;
            dd_grow(&p->entries, &p->entries_cap, p->nentries + 1, sizeof *p->entries);
            p->entries[p->nentries++] = k->entries[in_part];
            continue;
        }
        dd_grow(&p->occ, &p->occ_cap, p->nocc + 1, sizeof *p->occ);
        p->occ[p->nocc++] = (occurrence){*joined, doc, u};
    }
    return true;
}

bool dd_paragraphs_add(dd_paragraphs *p, uint32_t doc, dd_notes *notes)
{
    if (too_many_units(p, doc)) {
        dd_note_add(notes, DD_NOTE_ERROR, "a document of more than %" PRIu32 " paragraphs",
                UINT32_MAX);
        return false;
    }
    size_t n = p->unit_start[doc + 1] - p->unit_start[doc];
    p->nunits = p->unit_start[doc + 1];
    if (p->parts)
        return join_parts(p, doc, notes);
    for (uint32_t u = 0; u < n; u++) {
        dd_unit unit_read = unit_at(p, doc, u);
        const dd_unit *unit = &unit_read;
        if (p->gone && p->gone[p->unit_start[doc] + u])
            continue;
        uint32_t had;
        dd_key_added added = dd_key_table_add(&p->entry_of, unit->key, p->nentries, &had);
        if (added == DD_KEY_FULL)
            return too_many_entries(notes);
        if (added == DD_KEY_ADDED) {
            dd_grow(&p->entries, &p->entries_cap, p->nentries + 1, sizeof *p->entries);
            p->entries[p->nentries++] = (entry){doc, u, doc, 1, unit->words, 0, 0};
            continue;
        }
        count_again(&p->entries[had], doc, u);
        dd_grow(&p->occ, &p->occ_cap, p->nocc + 1, sizeof *p->occ);
        p->occ[p->nocc++] = (occurrence){had, doc, u};
    }
    return true;
}

void dd_paragraphs_split(dd_paragraphs *p, size_t nparts, size_t nunits)
{
    if (nparts < 2)
        return;
    if (nparts > DD_PARAGRAPHS_MAX_PARTS)
        nparts = DD_PARAGRAPHS_MAX_PARTS;
    p->parts = dd_calloc(nparts, sizeof *p->parts);
    p->nparts = nparts;
    for (size_t k = 0; k < nparts; k++)
        dd_key_table_init(&p->parts[k].entry_of, 3);
    p->part_entry = dd_malloc((nunits ? nunits : 1) * sizeof *p->part_entry);
}

size_t dd_paragraphs_parts(const dd_paragraphs *p) { return p->nparts; }

void dd_paragraphs_add_part(dd_paragraphs *p, size_t k, uint32_t doc)
{
    part *t = &p->parts[k];
    if (t->full || too_many_units(p, doc))
        return; /* dd_paragraphs_add says so */
    size_t first = p->unit_start[doc], n = p->unit_start[doc + 1] - first;
    for (uint32_t u = 0; u < n; u++) {
        if (p->gone && p->gone[first + u])
            continue;
        dd_unit unit = unit_number_at(p, first + u);
        if (part_of(unit.key, p->nparts) != k)
            continue;
        uint32_t had;
        dd_key_added added = dd_key_table_add(&t->entry_of, unit.key, t->nentries, &had);
        if (added == DD_KEY_FULL) {
            t->full = true;
            return;
        }
        if (added == DD_KEY_ADDED) {
            dd_grow(&t->entries, &t->entries_cap, t->nentries + 1, sizeof *t->entries);
            t->entries[had = (uint32_t)t->nentries++] = (entry){doc, u, doc, 1, unit.words, 0, 0};
        } else {
            count_again(&t->entries[had], doc, u);
        }
        p->part_entry[first + u] = (uint64_t)had << 8 | k;
    }
}

void dd_paragraphs_parts_done(dd_paragraphs *p)
{
    for (size_t k = 0; k < p->nparts; k++) {
        part *t = &p->parts[k];
        t->joined = dd_malloc((t->nentries ? t->nentries : 1) * sizeof *t->joined);
        for (size_t i = 0; i < t->nentries; i++)
            t->joined[i] = NO_ENTRY;
    }
}

bool dd_paragraphs_first(const dd_paragraphs *p, sh_key key, dd_place *at)
{
    uint32_t found;
    const entry *e;
    if (p->parts) {
        const part *t = &p->parts[part_of(key, p->nparts)];
        if (!dd_key_table_get(&t->entry_of, key, &found) || t->joined[found] == NO_ENTRY)
            return false;
        e = &t->entries[found];
    } else {
        if (!dd_key_table_get(&p->entry_of, key, &found))
            return false;
        e = &p->entries[found];
    }
    *at = place_of(p, e->first_doc, e->first_unit);
    return true;
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

bool dd_is_boilerplate(uint64_t docs, uint64_t words, uint64_t min_words, uint64_t boilerplate_df)
{
    return docs >= boilerplate_df && words >= min_words;
}

bool dd_run_takes(const dd_run_end *run, uint64_t at_doc, size_t at, uint64_t at_src_doc,
                  size_t src, bool boilerplate)
{
    if (at_doc != run->doc || at != run->next_at || at_src_doc != run->src_doc ||
        src != run->next_src || boilerplate)
        return false;
    return !(at_src_doc == at_doc && src >= run->first);
}

static bool is_boilerplate(const entry *e, uint64_t min_words, uint32_t df)
{
    return dd_is_boilerplate(e->docs, e->words, min_words, df);
}

static void find_boilerplate(dd_paragraphs *p, uint64_t min_words, uint32_t df, bool *removed,
                             dd_findings *f)
{
    /* The records, in order of first occurrence (the entries' order), and
     * the record of each boilerplate entry. */
    size_t n = 0;
    for (size_t i = 0; i < p->nentries; i++)
        n += is_boilerplate(&p->entries[i], min_words, df);
    if (n == 0)
        return;
    size_t *record_of = dd_malloc(p->nentries * sizeof *record_of);
    f->boilerplate = dd_calloc(n, sizeof *f->boilerplate);
    f->nboilerplate = f->boilerplate_cap = n;
    for (size_t i = 0, r = 0; i < p->nentries; i++) {
        const entry *e = &p->entries[i];
        if (!is_boilerplate(e, min_words, df))
            continue;
        record_of[i] = r;
        dd_boilerplate *b = &f->boilerplate[r++];
        dd_unit text_read = unit_at(p, e->text_doc, e->text_unit);
        const dd_unit *text = &text_read;
        b->text_at = (dd_place){e->text_doc, text->first_line, text->first_line};
        b->text_off = text->off;
        b->text_len = text->len;
        b->docs = e->docs;
        b->at = dd_malloc(sizeof *b->at);
        b->at[0] = place_of(p, e->first_doc, e->first_unit);
        b->n = 1;
        removed[p->unit_start[e->first_doc] + e->first_unit] = true;
        add_drop(f, b->at[0].doc, b->at[0].first_line, b->at[0].last_line);
    }
    size_t *caps = dd_calloc(n, sizeof *caps);
    for (size_t r = 0; r < n; r++)
        caps[r] = 1;
    for (size_t i = 0; i < p->nocc; i++) {
        const occurrence *o = &p->occ[i];
        if (!is_boilerplate(&p->entries[o->entry], min_words, df))
            continue;
        size_t r = record_of[o->entry];
        dd_boilerplate *b = &f->boilerplate[r];
        dd_grow(&b->at, &caps[r], b->n + 1, sizeof *b->at);
        b->at[b->n++] = place_of(p, o->doc, o->unit);
        removed[p->unit_start[o->doc] + o->unit] = true;
        add_drop(f, o->doc, b->at[b->n - 1].first_line, b->at[b->n - 1].last_line);
    }
    free(caps);
    free(record_of);
}

/* The place of unit `unit` of document doc among all the units. */
static size_t unit_number(const dd_paragraphs *p, uint32_t doc, uint32_t unit)
{
    return p->unit_start[doc] + unit;
}

/* For each unit, the next unit that removed[] leaves (SIZE_MAX: none),
 * into next[0..p->nunits): what follows a unit once the units removed are
 * gone (in its document when the two have the same document). */
static void next_kept(const dd_paragraphs *p, const bool *removed, size_t *next)
{
    size_t after = SIZE_MAX;
    for (size_t i = p->nunits; i-- > 0;) {
        next[i] = after;
        if (!removed[i])
            after = i;
    }
}

/* Groups the occurrences that removed[] leaves into runs: consecutive units
 * of a document, once the units removed are gone, that repeat consecutive
 * units of one earlier place, counted the same way; keeps those of
 * min_words and marks their units removed. Returns how many it kept. */
static size_t find_repeats(dd_paragraphs *p, uint64_t min_words, uint32_t df, bool *removed,
                           const size_t *next, dd_findings *f)
{
    size_t kept = 0, i = 0;
    while (i < p->nocc) {
        const occurrence *o = &p->occ[i];
        const entry *e = &p->entries[o->entry];
        if (removed[unit_number(p, o->doc, o->unit)] || is_boilerplate(e, min_words, df)) {
            i++;
            continue;
        }
        dd_repeat r = {place_of(p, o->doc, o->unit),
                       place_of(p, e->first_doc, e->first_unit),
                       1,
                       unit_at(p, o->doc, o->unit).words,
                       true,
                       1.0,
                       1.0};
        size_t unit = unit_number(p, o->doc, o->unit);
        size_t src_unit = unit_number(p, e->first_doc, e->first_unit);
        /* Units are numbered among all the units: "next" is the next unit
         * left once the units removed are gone (next_kept). */
        dd_run_end run = {o->doc, e->first_doc, unit, next[unit], next[src_unit]};
        size_t j = i + 1, end = i + 1; /* the run is occ[i..end), less those removed */
        while (j < p->nocc) {
            const occurrence *nx = &p->occ[j];
            size_t at = unit_number(p, nx->doc, nx->unit);
            if (removed[at]) { /* gone: the next one may follow the run */
                j++;
                continue;
            }
            const entry *ne = &p->entries[nx->entry];
            size_t src = unit_number(p, ne->first_doc, ne->first_unit);
            if (!dd_run_takes(&run, nx->doc, at, ne->first_doc, src,
                              is_boilerplate(ne, min_words, df)))
                break;
            r.at.last_line = place_of(p, nx->doc, nx->unit).last_line;
            r.of.last_line = place_of(p, ne->first_doc, ne->first_unit).last_line;
            r.units++;
            r.words += unit_at(p, nx->doc, nx->unit).words;
            run.next_at = next[at];
            run.next_src = next[src];
            end = ++j;
        }
        if (r.words >= min_words) {
            dd_grow(&f->repeats, &f->repeats_cap, f->nrepeats + 1, sizeof *f->repeats);
            f->repeats[f->nrepeats++] = r;
            add_drop(f, r.at.doc, r.at.first_line, r.at.last_line);
            for (size_t k = i; k < end; k++)
                removed[unit_number(p, p->occ[k].doc, p->occ[k].unit)] = true;
            kept++;
        }
        i = end;
    }
    return kept;
}

/* The unit of place at (a near-repeat's), by its first line. */
static size_t unit_of_place(const dd_paragraphs *p, dd_place at)
{
    size_t lo = p->unit_start[at.doc], hi = p->unit_start[at.doc + 1];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (unit_number_at(p, mid).first_line < at.first_line)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
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
    /* What the findings remove, decided on the text as it will be: the
     * boilerplate goes, then runs of repeats, then near-repeats (an exact
     * finding first); units that come together once others are gone can
     * make a run, so runs are sought again until none is found, at most
     * DD_RUN_PASSES times (the caller's next round of decisions seeks what
     * a crafted nesting of runs leaves: corpus.h). */
    bool *removed = dd_calloc(p->nunits + 1, sizeof *removed);
    size_t *next = dd_malloc((p->nunits + 1) * sizeof *next);
    if (p->gone)
        memcpy(removed, p->gone, p->nunits * sizeof *removed);
    find_boilerplate(p, min_words, boilerplate_df, removed, f);
    for (int pass = 0; pass < DD_RUN_PASSES; pass++) {
        next_kept(p, removed, next);
        size_t runs = find_repeats(p, min_words, boilerplate_df, removed, next, f);
        size_t near = 0;
        for (size_t i = 0; i < p->nnear; i++) {
            size_t u = unit_of_place(p, p->near[i].at);
            if (!removed[u])
                removed[u] = true, near++;
        }
        if (runs == 0 && near == 0)
            break;
    }
    free(next);
    free(removed);
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
