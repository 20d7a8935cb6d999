/*
 * paragraphs.c - the table of unit keys and the repeat and boilerplate
 * findings.
 */
#include "engine/paragraphs.h"

#include "key_table.h"
#include "kway_merge.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* A key asked for (dd_paragraphs_want_first) that no unit added holds. */
#define NOT_ADDED UINT64_MAX

/* The first occurrence of a key asked for: its unit (NOT_ADDED: none) and
 * lines. */
typedef struct first_of_key {
    uint64_t unit;
    size_t first_line, last_line;
} first_of_key;

/* A distinct unit of the part being built: where it was first seen and in
 * how many documents. */
typedef struct entry {
    uint64_t first;               /* its first occurrence (a unit number) */
    uint64_t text;                /* the occurrence whose text a report shows: the first
                                     one in a second document */
    size_t first_line, last_line; /* of first: carried to its later occurrences */
    uint32_t last_doc;            /* the last document it was seen in, to count documents once */
    uint32_t docs;
    uint32_t words;
} entry;

/* A boilerplate unit (dd_is_boilerplate), found when its part is built. */
typedef struct boiler {
    uint64_t first, text; /* as an entry's */
    size_t first_line, last_line;
    uint32_t docs;
} boiler;

/* A near-repeat held: the finding, and its unit and the unit it repeats
 * (among all the units; DD_LINES_GIVEN: r.of's lines are given). */
typedef struct near_held {
    dd_repeat r;
    uint64_t unit, of_unit;
} near_held;

/* One part of the keys (dd_paragraphs_split): what building it left. */
typedef struct part {
    boiler *boiler; /* its boilerplate units, in order of first occurrence */
    size_t nboiler, boiler_cap;
    dd_later *later; /* its later occurrences, in order (without dd_paragraphs_keep_later) */
    size_t nlater, later_cap; /* nlater: how many, wherever they are */
    size_t bytes;             /* the most its table and entries held while built */
    bool full;                /* past the table's limits */
    bool lost; /* its later occurrences, or its units handed out, could not be kept */
} part;

struct dd_paragraphs {
    const dd_unit *units;         /* the corpus's units, by document (NULL: read through get): */
    const dd_unit_starts *starts; /* document d has units[dd_unit_start(starts, d) ..] */
    dd_unit (*get)(void *ctx, size_t u); /* dd_paragraphs_read_units */
    dd_unit (*get_alone)(void *ctx, size_t u);
    void *get_ctx;
    uint64_t min_words; /* the boilerplate rule */
    uint32_t boilerplate_df;
    near_held *near; /* near-repeats: all of them (dd_paragraphs_add_near before
                        dd_paragraphs_finish), or one document's (read_near) */
    size_t nnear, near_cap;
    void (*read_near)(void *ctx, dd_paragraphs *p, uint32_t doc); /* dd_paragraphs_read_near */
    void *read_near_ctx;
    size_t near_most;     /* the most near-repeats held at once */
    size_t finding_bytes; /* the most dd_paragraphs_finish held beside the table */
    uint32_t *docs;       /* the documents added, in order */
    size_t ndocs, docs_cap;
    size_t nunits;              /* units of the documents up to the last one added */
    const uint64_t *gone;       /* units left out, a bit each (dd_paragraphs_leave_out), or NULL */
    dd_key_table wanted;        /* the keys of dd_paragraphs_want_first, numbered */
    first_of_key *wanted_first; /* of each: its first occurrence */
    size_t nwanted, wanted_cap;
    part *parts; /* dd_paragraphs_split */
    size_t nparts;
    /* With the units in memory and 2 to NOT_TAKEN parts, from
     * dd_paragraphs_split until the parts are done: each unit's part, or
     * NOT_TAKEN (left out, or of a document not added), so that building
     * a part reads a byte a unit to find its own, not every unit's key
     * (8 parts at -j 2, a pass each). */
    uint8_t *unit_part;
    const dd_later_lists *lists;     /* where the parts' later occurrences are (NULL: in parts) */
    const dd_unit_lists *unit_lists; /* the units handed out to parts (NULL: not) */
    boiler *boiler;                  /* the boilerplate units, in order of first occurrence */
    size_t nboiler;
    const dd_place_store *places;    /* dd_paragraphs_keep_places, or NULL */
    const dd_drop_store *drop_store; /* dd_paragraphs_keep_drops, or NULL */
    const dd_repeat_store *repeat_store; /* dd_paragraphs_keep_repeats, or NULL */
    bool built;                      /* dd_paragraphs_parts_done */
};

dd_paragraphs *dd_paragraphs_new(const dd_unit *units, const dd_unit_starts *starts,
                                 uint64_t min_words, uint32_t boilerplate_df)
{
    dd_paragraphs *p = dd_calloc(1, sizeof *p);
    p->units = units;
    p->starts = starts;
    p->min_words = min_words;
    p->boilerplate_df = boilerplate_df;
    dd_key_table_init(&p->wanted, 3);
    return p;
}

static void free_parts(dd_paragraphs *p)
{
    free(p->unit_part);
    p->unit_part = NULL;
    for (size_t k = 0; k < p->nparts; k++) {
        free(p->parts[k].boiler);
        free(p->parts[k].later);
    }
    free(p->parts);
    p->parts = NULL;
}

void dd_paragraphs_free(dd_paragraphs *p)
{
    if (!p)
        return;
    free_parts(p);
    free(p->boiler);
    free(p->docs);
    dd_key_table_free(&p->wanted);
    free(p->wanted_first);
    free(p->near);
    free(p);
}

size_t dd_paragraphs_memory_bytes(const dd_paragraphs *p)
{
    size_t bytes = p->docs_cap * sizeof *p->docs + p->near_cap * sizeof *p->near +
                   p->wanted.nslots * sizeof(dd_key_slot) +
                   p->wanted_cap * sizeof *p->wanted_first + p->nboiler * sizeof *p->boiler +
                   p->nparts * sizeof *p->parts;
    for (size_t k = 0; p->parts && k < p->nparts; k++)
        bytes += p->parts[k].boiler_cap * sizeof *p->parts[k].boiler +
                 p->parts[k].later_cap * sizeof *p->parts[k].later;
    return bytes;
}

size_t dd_paragraphs_finding_bytes(const dd_paragraphs *p) { return p->finding_bytes; }

size_t dd_paragraphs_near_most(const dd_paragraphs *p) { return p->near_most; }

size_t dd_paragraphs_part_bytes(const dd_paragraphs *p)
{
    size_t most = 0;
    for (size_t k = 0; p->parts && k < p->nparts; k++)
        if (p->parts[k].bytes > most)
            most = p->parts[k].bytes;
    return most;
}

void dd_paragraphs_read_units(dd_paragraphs *p, dd_unit (*get)(void *ctx, size_t u),
                              dd_unit (*get_alone)(void *ctx, size_t u), void *ctx)
{
    p->units = NULL;
    p->get = get;
    p->get_alone = get_alone ? get_alone : get;
    p->get_ctx = ctx;
}

/* Unit u among all the units. */
static dd_unit unit_number_at(const dd_paragraphs *p, size_t u)
{
    return p->units ? p->units[u] : p->get(p->get_ctx, u);
}

/* Unit u, one read out of order. */
static dd_unit unit_alone(const dd_paragraphs *p, size_t u)
{
    return p->units ? p->units[u] : p->get_alone(p->get_ctx, u);
}

/* The document added that holds unit u (a unit of a document added). */
static uint32_t doc_of(const dd_paragraphs *p, uint64_t u)
{
    /* The last document added that starts at or before u. */
    size_t lo;
    DD_LOWER_BOUND(lo, p->ndocs, i, dd_unit_start(p->starts, p->docs[i]) <= u);
    return p->docs[lo - 1];
}

void dd_paragraphs_leave_out(dd_paragraphs *p, const uint64_t *gone) { p->gone = gone; }

/* Is unit u left out (dd_paragraphs_leave_out)? */
static bool is_gone(const dd_paragraphs *p, size_t u) { return p->gone && dd_bit(p->gone, u); }

/* The part of a key, among n: from its top bits. */
static size_t part_of(sh_key key, size_t n)
{
    return (size_t)(((key.hi >> 32) * (uint64_t)n) >> 32);
}

bool dd_paragraphs_add(dd_paragraphs *p, uint32_t doc, dd_notes *notes)
{
    if (dd_unit_start(p->starts, doc + 1) - dd_unit_start(p->starts, doc) > UINT32_MAX) {
        dd_note_add(notes, DD_NOTE_ERROR, "a document of more than %" PRIu32 " paragraphs",
                    UINT32_MAX);
        return false;
    }
    dd_grow(&p->docs, &p->docs_cap, p->ndocs + 1, sizeof *p->docs);
    p->docs[p->ndocs++] = doc;
    p->nunits = dd_unit_start(p->starts, doc + 1);
    return true;
}

void dd_paragraphs_want_first(dd_paragraphs *p, sh_key key)
{
    uint32_t had;
    if (dd_key_table_add(&p->wanted, key, p->nwanted, &had) != DD_KEY_ADDED)
        return; /* asked for already (or past 2^32 keys: not found) */
    dd_grow(&p->wanted_first, &p->wanted_cap, p->nwanted + 1, sizeof *p->wanted_first);
    p->wanted_first[p->nwanted++] = (first_of_key){NOT_ADDED, 0, 0};
}

/* dd_paragraphs.unit_part of a unit not taken into any part. */
#define NOT_TAKEN UINT8_MAX

/* Marks each unit of the documents added with its part
 * (dd_paragraphs.unit_part). */
static void mark_parts(dd_paragraphs *p)
{
    p->unit_part = dd_malloc(p->nunits ? p->nunits : 1);
    memset(p->unit_part, NOT_TAKEN, p->nunits);
    for (size_t i = 0; i < p->ndocs; i++) {
        uint32_t doc = p->docs[i];
        size_t end = dd_unit_start(p->starts, doc + 1);
        for (size_t u = dd_unit_start(p->starts, doc); u < end; u++)
            if (!is_gone(p, u))
                p->unit_part[u] = (uint8_t)part_of(p->units[u].key, p->nparts);
    }
}

void dd_paragraphs_split(dd_paragraphs *p, size_t nparts)
{
    free_parts(p);
    p->nparts = nparts ? nparts : 1;
    p->parts = dd_calloc(p->nparts, sizeof *p->parts);
    if (p->units && p->nparts > 1 && p->nparts < NOT_TAKEN)
        mark_parts(p);
    p->unit_lists = NULL; /* handed out to other parts */
    p->built = false;
}

void dd_paragraphs_keep_later(dd_paragraphs *p, const dd_later_lists *lists) { p->lists = lists; }

void dd_paragraphs_keep_places(dd_paragraphs *p, const dd_place_store *store) { p->places = store; }

void dd_paragraphs_keep_drops(dd_paragraphs *p, const dd_drop_store *store)
{
    p->drop_store = store;
}

void dd_paragraphs_keep_repeats(dd_paragraphs *p, const dd_repeat_store *store)
{
    p->repeat_store = store;
}

/* Appends later[0..n) to part k's list (the caller's, or the part's own). */
static bool keep_later(dd_paragraphs *p, size_t k, const dd_later *later, size_t n)
{
    part *t = &p->parts[k];
    if (p->lists) {
        if (!p->lists->append(p->lists->ctx, k, later, n))
            return false;
    } else {
        dd_grow(&t->later, &t->later_cap, t->nlater + n, sizeof *t->later);
        memcpy(t->later + t->nlater, later, n * sizeof *later);
    }
    t->nlater += n;
    return true;
}

/* Copies to out up to n of part k's later occurrences from `from` on;
 * returns how many. (kway_merge's read of the parts' lists, p as ctx.) */
static size_t read_later(const void *ctx, size_t k, size_t from, void *out, size_t n)
{
    const dd_paragraphs *p = ctx;
    if (p->lists)
        return p->lists->read(p->lists->ctx, k, from, out, n);
    const part *t = &p->parts[k];
    return dd_kway_read_held(t->later, t->nlater, from, out, n, sizeof *t->later);
}

size_t dd_paragraphs_parts(const dd_paragraphs *p) { return p->nparts; }

bool dd_paragraphs_hand_out(dd_paragraphs *p, const dd_unit_lists *lists, dd_notes *notes)
{
    p->unit_lists = lists;
    /* A block of each part's units, appended once full. */
    dd_part_unit *blocks = dd_malloc(p->nparts * DD_PART_UNIT_BLOCK * sizeof *blocks);
    size_t *held = dd_calloc(p->nparts, sizeof *held);
    bool ok = true;
    for (size_t i = 0; i < p->ndocs && ok; i++) {
        uint32_t doc = p->docs[i];
        size_t end = dd_unit_start(p->starts, doc + 1);
        for (size_t u = dd_unit_start(p->starts, doc); u < end && ok; u++) {
            if (is_gone(p, u))
                continue;
            dd_unit unit = unit_number_at(p, u);
            size_t k = part_of(unit.key, p->nparts);
            dd_part_unit *block = blocks + k * DD_PART_UNIT_BLOCK;
            block[held[k]++] =
                (dd_part_unit){unit.key, u, doc, unit.words, unit.first_line, unit.last_line};
            if (held[k] == DD_PART_UNIT_BLOCK) {
                ok = lists->append(lists->ctx, k, block, held[k]);
                held[k] = 0;
            }
        }
    }
    for (size_t k = 0; k < p->nparts && ok; k++)
        if (held[k])
            ok = lists->append(lists->ctx, k, blocks + k * DD_PART_UNIT_BLOCK, held[k]);
    free(held);
    free(blocks);
    if (!ok) {
        for (size_t k = 0; k < p->nparts; k++)
            p->parts[k].lost = true;
        dd_note_add(notes, DD_NOTE_ERROR, "the paragraphs of a part could not be kept");
    }
    return ok;
}

/* Part k of the table as it is built: its distinct keys, and its later
 * occurrences not yet kept. */
typedef struct builder {
    dd_paragraphs *p;
    size_t k;
    dd_key_table table;
    entry *entries;
    size_t n, cap;
    dd_later *later; /* a block of DD_LATER_BLOCK, kept once full */
    size_t nlater;
} builder;

/* Takes unit x, the next unit of part b->k. False once the part cannot
 * go on (past the table's limits, or its later occurrences lost). */
static bool take_unit(builder *b, const dd_part_unit *x)
{
    dd_paragraphs *p = b->p;
    part *t = &p->parts[b->k];
    uint32_t had;
    dd_key_added added = dd_key_table_add(&b->table, x->key, b->n, &had);
    if (added == DD_KEY_FULL) {
        t->full = true;
        return false;
    }
    uint64_t u = x->unit;
    if (added == DD_KEY_ADDED) {
        dd_grow(&b->entries, &b->cap, b->n + 1, sizeof *b->entries);
        b->entries[b->n++] = (entry){u, 0, x->first_line, x->last_line, x->doc, 1, x->words};
        uint32_t w;
        if (p->nwanted && dd_key_table_get(&p->wanted, x->key, &w))
            p->wanted_first[w] = (first_of_key){u, x->first_line, x->last_line};
        size_t bytes = b->table.nslots * sizeof(dd_key_slot) + b->cap * sizeof *b->entries;
        if (bytes > t->bytes)
            t->bytes = bytes;
        return true;
    }
    entry *e = &b->entries[had];
    if (e->last_doc != x->doc) {
        e->docs++;
        e->last_doc = x->doc;
        if (e->docs == 2)
            e->text = u;
    }
    b->later[b->nlater++] =
        (dd_later){u, e->first, x->first_line, x->last_line, e->first_line, e->last_line, x->words};
    if (b->nlater == DD_LATER_BLOCK) {
        if (!keep_later(p, b->k, b->later, b->nlater)) {
            t->lost = true;
            return false;
        }
        b->nlater = 0;
    }
    return true;
}

/* Takes the units of part b->k from every unit added. */
static void take_every_unit(builder *b)
{
    dd_paragraphs *p = b->p;
    for (size_t i = 0; i < p->ndocs; i++) {
        uint32_t doc = p->docs[i];
        size_t end = dd_unit_start(p->starts, doc + 1);
        for (size_t u = dd_unit_start(p->starts, doc); u < end; u++) {
            if (is_gone(p, u))
                continue;
            dd_unit unit = unit_number_at(p, u);
            if (part_of(unit.key, p->nparts) != b->k)
                continue;
            dd_part_unit x = {unit.key, u, doc, unit.words, unit.first_line, unit.last_line};
            if (!take_unit(b, &x))
                return;
        }
    }
}

/* Takes the units of part b->k, as take_every_unit, from the units'
 * marks (dd_paragraphs.unit_part): memchr finds its next one. */
static void take_marked_units(builder *b)
{
    dd_paragraphs *p = b->p;
    const uint8_t *mark = p->unit_part, *end = mark + p->nunits;
    size_t i = 0; /* the document added that holds the unit found */
    for (const uint8_t *at = memchr(mark, (int)b->k, p->nunits); at;
         at = memchr(at + 1, (int)b->k, (size_t)(end - at - 1))) {
        size_t u = (size_t)(at - mark);
        while (dd_unit_start(p->starts, p->docs[i] + 1) <= u)
            i++;
        const dd_unit *unit = &p->units[u];
        dd_part_unit x = {unit->key, u, p->docs[i], unit->words, unit->first_line, unit->last_line};
        if (!take_unit(b, &x))
            return;
    }
}

/* Takes the units of part b->k from its list (dd_paragraphs_hand_out). */
static void take_handed_out(builder *b)
{
    const dd_unit_lists *lists = b->p->unit_lists;
    dd_part_unit *in = dd_malloc(DD_PART_UNIT_BLOCK * sizeof *in);
    size_t from = 0, n;
    bool going = true;
    while (going && (n = lists->read(lists->ctx, b->k, from, in, DD_PART_UNIT_BLOCK)) > 0) {
        for (size_t i = 0; i < n && going; i++)
            going = take_unit(b, &in[i]);
        from += n;
    }
    free(in);
}

void dd_paragraphs_build_part(dd_paragraphs *p, size_t k)
{
    part *t = &p->parts[k];
    builder b = {.p = p, .k = k};
    dd_key_table_init(&b.table, 3);
    /* The later occurrences, in order of unit, go to the part's list a
     * block at a time. */
    b.later = dd_malloc(DD_LATER_BLOCK * sizeof *b.later);
    if (!t->lost) {
        if (p->unit_lists)
            take_handed_out(&b);
        else if (p->unit_part)
            take_marked_units(&b);
        else
            take_every_unit(&b);
    }
    if (b.nlater && !t->full && !t->lost && !keep_later(p, k, b.later, b.nlater))
        t->lost = true;
    free(b.later);
    dd_key_table_free(&b.table);
    for (size_t i = 0; i < b.n; i++) {
        const entry *e = &b.entries[i];
        if (!dd_is_boilerplate(e->docs, e->words, p->min_words, p->boilerplate_df))
            continue;
        dd_grow(&t->boiler, &t->boiler_cap, t->nboiler + 1, sizeof *t->boiler);
        t->boiler[t->nboiler++] = (boiler){e->first, e->text, e->first_line, e->last_line, e->docs};
    }
    free(b.entries);
}

static int by_first(const void *a, const void *b)
{
    uint64_t x = ((const boiler *)a)->first, y = ((const boiler *)b)->first;
    return (x > y) - (x < y);
}

bool dd_paragraphs_parts_done(dd_paragraphs *p, dd_notes *notes)
{
    size_t n = 0;
    bool full = false, lost = false;
    for (size_t k = 0; k < p->nparts; k++) {
        n += p->parts[k].nboiler;
        full |= p->parts[k].full;
        lost |= p->parts[k].lost;
    }
    p->built = true;
    free(p->unit_part); /* (every part built) */
    p->unit_part = NULL;
    if (full) {
        dd_note_add(notes, DD_NOTE_ERROR, "more than %" PRIu32 " distinct paragraphs in a part",
                    (uint32_t)DD_KEY_TABLE_MAX_VALUE + 1);
        return false;
    }
    if (lost) {
        dd_note_add(notes, DD_NOTE_ERROR, "the repeated paragraphs of a part could not be kept");
        return false;
    }
    free(p->boiler);
    p->boiler = dd_malloc((n ? n : 1) * sizeof *p->boiler);
    p->nboiler = 0;
    for (size_t k = 0; k < p->nparts; k++) {
        part *t = &p->parts[k];
        if (t->nboiler)
            memcpy(p->boiler + p->nboiler, t->boiler, t->nboiler * sizeof *t->boiler);
        p->nboiler += t->nboiler;
        free(t->boiler);
        t->boiler = NULL;
        t->nboiler = t->boiler_cap = 0;
    }
    if (p->nboiler > 1)
        qsort(p->boiler, p->nboiler, sizeof *p->boiler, by_first);
    return true;
}

/* Builds the table in one part, on the calling thread, unless it was. */
static void build(dd_paragraphs *p)
{
    if (p->built)
        return;
    if (!p->parts)
        dd_paragraphs_split(p, 1);
    for (size_t k = 0; k < p->nparts; k++)
        dd_paragraphs_build_part(p, k);
    dd_paragraphs_parts_done(p, NULL);
}

bool dd_paragraphs_first(dd_paragraphs *p, sh_key key, dd_place *at)
{
    build(p);
    uint32_t w;
    if (!dd_key_table_get(&p->wanted, key, &w) || p->wanted_first[w].unit == NOT_ADDED)
        return false;
    const first_of_key *f = &p->wanted_first[w];
    *at = (dd_place){doc_of(p, f->unit), f->first_line, f->last_line};
    return true;
}

void dd_paragraphs_read_near(dd_paragraphs *p,
                             void (*read_near)(void *ctx, dd_paragraphs *p, uint32_t doc),
                             void *ctx)
{
    p->read_near = read_near;
    p->read_near_ctx = ctx;
}

void dd_paragraphs_add_near(dd_paragraphs *p, uint64_t unit, dd_place at, dd_place of,
                            uint64_t of_unit, uint32_t words, double jaccard, double containment)
{
    dd_grow(&p->near, &p->near_cap, p->nnear + 1, sizeof *p->near);
    p->near[p->nnear++] =
        (near_held){{at, of, 1, words, false, jaccard, containment}, unit, of_unit};
    if (p->nnear > p->near_most)
        p->near_most = p->nnear;
}

/*
 * The lines the findings remove (drops), written as they are found: in
 * f->drops, or to the caller's store a block at a time
 * (dd_paragraphs_keep_drops), in runs each in order (by document, then
 * first and last line): a drop before the one written last starts a run
 * (each pass of the findings goes through the units in order: about one
 * run a pass). They are read back as a merge of the runs (a heap of the
 * runs by their next drop), the ranges that overlap or touch made one:
 * the order and the ranges of a sort of them all, without holding them.
 */
static bool drop_before(const dd_drop *x, const dd_drop *y)
{
    if (x->doc != y->doc)
        return x->doc < y->doc;
    if (x->first_line != y->first_line)
        return x->first_line < y->first_line;
    return x->last_line < y->last_line;
}

/* Ends the run of drops written so far, unless it is empty. */
static void end_drop_run(dd_findings *f)
{
    size_t start = f->ndrop_runs ? f->drop_runs[f->ndrop_runs - 1] : 0;
    if (f->drops_written == start)
        return;
    dd_grow(&f->drop_runs, &f->drop_runs_cap, f->ndrop_runs + 1, sizeof *f->drop_runs);
    f->drop_runs[f->ndrop_runs++] = f->drops_written;
}

/* Appends the drops buffered to the caller's store (none without one). */
static void flush_drops(dd_findings *f)
{
    if (!f->drop_store || f->ndrops == 0)
        return;
    f->drop_store->append(f->drop_store->ctx, f->drops, f->ndrops);
    f->ndrops = 0;
}

static void add_drop(dd_findings *f, uint32_t doc, size_t first, size_t last)
{
    dd_drop d = {doc, first, last};
    if (f->drops_written > 0 && drop_before(&d, &f->drop_last))
        end_drop_run(f);
    if (f->drop_store && f->ndrops == DD_DROPS_BLOCK)
        flush_drops(f);
    if (f->drop_store && !f->drops_cap) { /* a block, appended when full */
        f->drops = dd_malloc(DD_DROPS_BLOCK * sizeof *f->drops);
        f->drops_cap = DD_DROPS_BLOCK;
    }
    dd_grow(&f->drops, &f->drops_cap, f->ndrops + 1, sizeof *f->drops);
    f->drops[f->ndrops++] = d;
    f->drops_written++;
    f->drop_last = d;
}

/* Reading the drops back: the runs merged (kway_merge.h), and the ranges
 * that overlap or touch made one. */
struct dd_drops_merge {
    const dd_findings *f;
    size_t first; /* the run merged first */
    dd_kway_merge *runs;
    dd_drop range; /* the range being made one of those that overlap or touch */
    bool in_range;
};

/* kway_merge's source: runs [first, ...) of f's drops, read from the store
 * or f->drops. */
static size_t drop_run_start(const dd_findings *f, size_t r) { return r ? f->drop_runs[r - 1] : 0; }

static size_t drop_run_length(const void *ctx, size_t k)
{
    const dd_drops_merge *m = ctx;
    size_t r = m->first + k;
    return m->f->drop_runs[r] - drop_run_start(m->f, r);
}

static size_t read_drop_run(const void *ctx, size_t k, size_t from, void *out, size_t n)
{
    const dd_drops_merge *m = ctx;
    const dd_findings *f = m->f;
    from += drop_run_start(f, m->first + k);
    if (f->drop_store)
        return f->drop_store->read(f->drop_store->ctx, from, out, n);
    return dd_kway_read_held(f->drops, f->ndrops, from, out, n, sizeof *f->drops);
}

static int compare_drops(const void *a, const void *b)
{
    return drop_before(a, b) ? -1 : drop_before(b, a) ? 1 : 0;
}

/* Reads runs [first, first + n) of f's drops merged. */
static dd_drops_merge *drops_merge_runs(const dd_findings *f, size_t first, size_t n)
{
    dd_drops_merge *m = dd_calloc(1, sizeof *m);
    m->f = f;
    m->first = first;
    dd_kway_source src = {.ctx = m,
                          .size = sizeof(dd_drop),
                          .nruns = n,
                          .length = drop_run_length,
                          .read = read_drop_run,
                          .compare = compare_drops};
    size_t per = n ? DD_DROPS_MERGE_READ / n : 0;
    m->runs = dd_kway_merge_new(&src, per < 16 ? 16 : per);
    return m;
}

dd_drops_merge *dd_drops_merge_new(const dd_findings *f)
{
    return drops_merge_runs(f, 0, f->ndrop_runs);
}

bool dd_drops_merge_next(dd_drops_merge *m, dd_drop *out)
{
    dd_drop d;
    while (dd_kway_merge_next(m->runs, &d)) {
        if (!m->in_range) {
            m->range = d;
            m->in_range = true;
        } else if (d.doc == m->range.doc && d.first_line <= m->range.last_line + 1) {
            if (d.last_line > m->range.last_line)
                m->range.last_line = d.last_line;
        } else {
            *out = m->range;
            m->range = d;
            return true;
        }
    }
    if (!m->in_range)
        return false;
    *out = m->range;
    m->in_range = false;
    return true;
}

size_t dd_drops_merge_bytes(const dd_drops_merge *m)
{
    return sizeof *m + dd_kway_merge_bytes(m->runs);
}

void dd_drops_merge_free(dd_drops_merge *m)
{
    if (!m)
        return;
    dd_kway_merge_free(m->runs);
    free(m);
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

/* Is the key of first occurrence `first` boilerplate? (A binary search of
 * the boilerplate units, by first occurrence.) Its record in *r. */
static bool boilerplate_record(const dd_paragraphs *p, uint64_t first, size_t *r)
{
    size_t lo;
    DD_LOWER_BOUND(lo, p->nboiler, i, p->boiler[i].first < first);
    *r = lo;
    return lo < p->nboiler && p->boiler[lo].first == first;
}

static bool is_boilerplate(const dd_paragraphs *p, uint64_t first)
{
    size_t r;
    return boilerplate_record(p, first, &r);
}

/*
 * Reading every later occurrence back in order of unit: the parts' lists,
 * each in order, merged (kway_merge.h), a buffer of each read at a time.
 * (A unit is a later occurrence in one part's list at most: no two records
 * are equal.)
 */

/* The buffers together hold about LATER_READ_BYTES of elements, from 64
 * to DD_LATER_BLOCK a part, and no more than the part's list. */
#define LATER_READ_BYTES (128 * 1024)

static size_t later_per_part(const dd_paragraphs *p)
{
    size_t per = LATER_READ_BYTES / sizeof(dd_later) / (p->nparts ? p->nparts : 1);
    return per < 64 ? 64 : per > DD_LATER_BLOCK ? DD_LATER_BLOCK : per;
}

static size_t later_length(const void *ctx, size_t k)
{
    const dd_paragraphs *p = ctx;
    return p->parts[k].nlater;
}

static int compare_later(const void *a, const void *b)
{
    uint64_t x = ((const dd_later *)a)->unit, y = ((const dd_later *)b)->unit;
    return (x > y) - (x < y);
}

static dd_kway_source later_source(const dd_paragraphs *p)
{
    return (dd_kway_source){.ctx = p,
                            .size = sizeof(dd_later),
                            .nruns = p->nparts,
                            .length = later_length,
                            .read = read_later,
                            .compare = compare_later};
}

/* Starts reading the later occurrences from the first. */
static dd_kway_merge *later_merge_new(const dd_paragraphs *p)
{
    dd_kway_source src = later_source(p);
    return dd_kway_merge_new(&src, later_per_part(p));
}

static size_t later_merge_bytes(const dd_paragraphs *p)
{
    dd_kway_source src = later_source(p);
    return dd_kway_merge_bytes_for(&src, later_per_part(p));
}

/* The units the findings remove, one bit a unit (a flag would take a byte,
 * and the next unit kept, below, eight more). */
static bool is_removed(const uint64_t *removed, size_t u) { return dd_bit(removed, u); }

static void set_removed(uint64_t *removed, size_t u) { dd_bit_set(removed, u); }

/* Marks units [from, to] removed. */
static void set_removed_range(uint64_t *removed, size_t from, size_t to)
{
    for (size_t u = from; u <= to; u++)
        set_removed(removed, u);
}

/* The words of a bitmap of the units. */
static size_t bitmap_words(const dd_paragraphs *p) { return p->nunits / 64 + 1; }

/* The first unit after u that removed[] leaves (SIZE_MAX: none): what
 * follows unit u once the units removed are gone (in its document when the
 * two have the same document). */
static size_t next_kept(const dd_paragraphs *p, const uint64_t *removed, size_t u)
{
    size_t v = u + 1;
    if (v >= p->nunits)
        return SIZE_MAX;
    size_t w = v / 64, nwords = bitmap_words(p);
    uint64_t kept = ~removed[w] & (~(uint64_t)0 << (v % 64));
    while (!kept) {
        if (++w == nwords)
            return SIZE_MAX;
        kept = ~removed[w];
    }
    v = w * 64 + (size_t)__builtin_ctzll(kept);
    return v < p->nunits ? v : SIZE_MAX;
}

/* Puts place k of boilerplate record b (r of them), held or stored. */
static void put_place(const dd_paragraphs *p, dd_boilerplate *b, size_t k, size_t *cap, dd_place at)
{
    if (b->at || !p->places) {
        dd_grow(&b->at, cap, k + 1, sizeof *b->at);
        b->at[k] = at;
    } else {
        p->places->set(p->places->ctx, b->first_at + k, &at);
    }
}

/* Whether the places of the records are stored (dd_paragraphs_keep_places):
 * each record's number of places counted, in a pass over the later
 * occurrences, and its first_at set. */
static bool store_places(dd_paragraphs *p, dd_findings *f)
{
    if (!p->places)
        return false;
    size_t total = f->nboilerplate;
    dd_kway_merge *later = later_merge_new(p);
    for (dd_later l; dd_kway_merge_next(later, &l);) {
        size_t r;
        if (boilerplate_record(p, l.first, &r))
            f->boilerplate[r].n++, total++;
    }
    dd_kway_merge_free(later);
    size_t at = 0;
    for (size_t r = 0; r < f->nboilerplate; r++) {
        f->boilerplate[r].first_at = at;
        at += f->boilerplate[r].n + 1;
        f->boilerplate[r].n = 0;
    }
    return p->places->reserve(p->places->ctx, total);
}

static void find_boilerplate(dd_paragraphs *p, uint64_t *removed, dd_findings *f)
{
    /* The records, in order of first occurrence (p->boiler's order). */
    size_t n = p->nboiler;
    if (n == 0)
        return;
    f->boilerplate = dd_calloc(n, sizeof *f->boilerplate);
    f->nboilerplate = f->boilerplate_cap = n;
    size_t *caps = dd_calloc(n, sizeof *caps);
    bool stored = store_places(p, f);
    for (size_t r = 0; r < n; r++) {
        const boiler *e = &p->boiler[r];
        dd_boilerplate *b = &f->boilerplate[r];
        dd_unit text = unit_alone(p, e->text);
        b->text_at = (dd_place){doc_of(p, e->text), text.first_line, text.first_line};
        b->text_off = text.off;
        b->text_len = text.len;
        b->docs = e->docs;
        if (!stored) /* held: in at */
            b->at = dd_malloc(sizeof *b->at), caps[r] = 1;
        dd_place first = {doc_of(p, e->first), e->first_line, e->last_line};
        put_place(p, b, 0, &caps[r], first);
        b->n = 1;
        set_removed(removed, e->first);
        add_drop(f, first.doc, first.first_line, first.last_line);
    }
    /* Every later occurrence, in order, to its record. */
    dd_kway_merge *later = later_merge_new(p);
    for (dd_later l; dd_kway_merge_next(later, &l);) {
        size_t r;
        if (!boilerplate_record(p, l.first, &r))
            continue;
        dd_boilerplate *b = &f->boilerplate[r];
        dd_place at = {doc_of(p, l.unit), l.at_first_line, l.at_last_line};
        put_place(p, b, b->n++, &caps[r], at);
        set_removed(removed, l.unit);
        add_drop(f, at.doc, at.first_line, at.last_line);
    }
    dd_kway_merge_free(later);
    free(caps);
}

/* Keeps repeat r among f's findings: in f->repeats, or handed to the
 * caller's store (dd_paragraphs_keep_repeats). */
static void add_repeat(const dd_paragraphs *p, dd_findings *f, const dd_repeat *r)
{
    if (p->repeat_store) {
        p->repeat_store->append(p->repeat_store->ctx, r, 1);
    } else {
        dd_grow(&f->repeats, &f->repeats_cap, f->nrepeats + 1, sizeof *f->repeats);
        f->repeats[f->nrepeats] = *r;
    }
    f->nrepeats++;
}

/* Ends the run of repeats handed to the caller's store since the last one
 * ended (at *run_start of f's), unless it is empty. Those in f->repeats
 * are sorted once all are found instead. */
static void end_repeat_run(const dd_paragraphs *p, const dd_findings *f, size_t *run_start)
{
    if (p->repeat_store && f->nrepeats > *run_start)
        p->repeat_store->end_run(p->repeat_store->ctx);
    *run_start = f->nrepeats;
}

/* Groups the later occurrences that removed[] leaves into runs:
 * consecutive units of a document, once the units removed as the pass
 * started (before[]) are gone, that repeat consecutive units of one
 * earlier place, counted the same way; keeps those of min_words and marks
 * their units in removed[]. Returns how many it kept. */
static size_t find_repeats(dd_paragraphs *p, uint64_t *removed, const uint64_t *before,
                           dd_findings *f)
{
    size_t kept = 0;
    dd_kway_merge *later = later_merge_new(p);
    dd_later l;
    bool more = dd_kway_merge_next(later, &l);
    while (more) {
        uint64_t i = l.unit, first = l.first;
        if (is_removed(removed, i) || is_boilerplate(p, first)) {
            more = dd_kway_merge_next(later, &l);
            continue;
        }
        uint32_t doc = doc_of(p, i), first_doc = doc_of(p, first);
        dd_repeat r = {{doc, l.at_first_line, l.at_last_line},
                       {first_doc, l.of_first_line, l.of_last_line},
                       1,
                       l.words,
                       true,
                       1.0,
                       1.0};
        /* Units are numbered among all the units: "next" is the next unit
         * left once the units removed are gone (next_kept). */
        dd_run_end run = {doc, first_doc, i, next_kept(p, before, i), next_kept(p, before, first)};
        uint64_t last = i; /* the run's last unit */
        while ((more = dd_kway_merge_next(later, &l))) {
            uint64_t j = l.unit, src = l.first;
            if (is_removed(removed, j)) /* gone: the next one may follow the run */
                continue;
            if (!dd_run_takes(&run, doc_of(p, j), j, doc_of(p, src), src, is_boilerplate(p, src)))
                break; /* l starts what comes next */
            r.at.last_line = l.at_last_line;
            r.of.last_line = l.of_last_line;
            r.units++;
            r.words += l.words;
            run.next_at = next_kept(p, before, j);
            run.next_src = next_kept(p, before, src);
            last = j;
        }
        if (r.words >= p->min_words) {
            add_repeat(p, f, &r);
            add_drop(f, r.at.doc, r.at.first_line, r.at.last_line);
            /* Between two units of the run, every unit was removed as the
             * pass started (the run takes the next unit kept): marking
             * them all marks the run's. */
            set_removed_range(removed, i, last);
            kept++;
        }
    }
    dd_kway_merge_free(later);
    return kept;
}

int dd_repeat_compare(const void *a, const void *b)
{
    const dd_repeat *x = a, *y = b;
    if (x->at.doc != y->at.doc)
        return x->at.doc < y->at.doc ? -1 : 1;
    return (x->at.first_line > y->at.first_line) - (x->at.first_line < y->at.first_line);
}

/* Near-repeats by place, then by the order they were added (kept in units). */
static int compare_near(const void *a, const void *b)
{
    const dd_repeat *x = &((const near_held *)a)->r, *y = &((const near_held *)b)->r;
    if (x->at.doc != y->at.doc)
        return x->at.doc < y->at.doc ? -1 : 1;
    if (x->at.first_line != y->at.first_line)
        return x->at.first_line < y->at.first_line ? -1 : 1;
    return (x->units > y->units) - (x->units < y->units);
}

/* Sorts near[0..n) by place, those of one place in the order added. */
static void sort_near(near_held *near, size_t n)
{
    for (size_t i = 0; i < n; i++)
        near[i].r.units = i; /* the order added, for a stable sort */
    if (n > 1)
        qsort(near, n, sizeof *near, compare_near);
}

/* Going through the near-repeats a document at a time: those held (sorted
 * once), or those read_near gives for each document added, in order. */
typedef struct near_reader {
    size_t next; /* the next document added (read_near), or near-repeat held */
} near_reader;

/* The near-repeats of the next document that has any, by place (*v, *n:
 * valid until the next call); false after the last. */
static bool next_near_doc(dd_paragraphs *p, near_reader *it, const near_held **v, size_t *n)
{
    if (p->read_near) {
        while (it->next < p->ndocs) {
            p->nnear = 0;
            p->read_near(p->read_near_ctx, p, p->docs[it->next++]);
            if (p->nnear) {
                sort_near(p->near, p->nnear);
                *v = p->near, *n = p->nnear;
                return true;
            }
        }
        p->nnear = 0;
        return false;
    }
    if (it->next >= p->nnear)
        return false;
    size_t from = it->next, to = from + 1;
    while (to < p->nnear && p->near[to].r.at.doc == p->near[from].r.at.doc)
        to++;
    it->next = to;
    *v = p->near + from, *n = to - from;
    return true;
}

/* Marks the units of the near-repeats removed; returns how many were not. */
static size_t remove_near(dd_paragraphs *p, uint64_t *removed)
{
    size_t newly = 0, n;
    const near_held *v;
    near_reader it = {0};
    while (next_near_doc(p, &it, &v, &n))
        for (size_t i = 0; i < n; i++) {
            size_t u = v[i].unit;
            if (!is_removed(removed, u))
                set_removed(removed, u), newly++;
        }
    return newly;
}

/* The exact findings' drops, merged, read as the near-repeats are decided
 * (in order of place): the last range that starts at or before the place
 * asked, and the one after it. */
typedef struct drops_cursor {
    dd_drops_merge *m;
    dd_drop at, next;
    bool any, more;
} drops_cursor;

static void drops_cursor_start(drops_cursor *c, dd_drops_merge *m)
{
    c->m = m;
    c->any = false;
    c->more = dd_drops_merge_next(m, &c->next);
}

/* Is [first, last] of doc inside one of the ranges? Asked in increasing
 * order of (doc, first). */
static bool dropped_already(drops_cursor *c, uint32_t doc, size_t first, size_t last)
{
    while (c->more && (c->next.doc < doc || (c->next.doc == doc && c->next.first_line <= first))) {
        c->at = c->next;
        c->any = true;
        c->more = dd_drops_merge_next(c->m, &c->next);
    }
    return c->any && c->at.doc == doc && c->at.last_line >= last;
}

/* Without a store: the drops written, held in f->drops in runs, replaced
 * by their merge. */
static void merge_held_drops(dd_findings *f)
{
    dd_drop *merged = dd_malloc((f->ndrops ? f->ndrops : 1) * sizeof *merged);
    size_t n = 0;
    dd_drops_merge *m = dd_drops_merge_new(f);
    while (dd_drops_merge_next(m, &merged[n]))
        n++;
    dd_drops_merge_free(m);
    free(f->drops);
    free(f->drop_runs);
    if (n == 0) {
        free(merged);
        merged = NULL;
    }
    f->drops = merged;
    f->ndrops = f->drops_cap = n;
    f->drop_runs = NULL;
    f->ndrop_runs = f->drop_runs_cap = 0;
}

void dd_paragraphs_finish(dd_paragraphs *p, dd_findings *f)
{
    /* What the findings remove, decided on the text as it will be: the
     * boilerplate goes, then runs of repeats, then near-repeats (an exact
     * finding first); units that come together once others are gone can
     * make a run, so runs are sought again until none is found, at most
     * DD_RUN_PASSES times (the caller's next round of decisions seeks what
     * a crafted nesting of runs leaves: corpus.h). The near-repeats' units
     * are all removed after the first pass: the passes after it find none
     * to remove. */
    build(p);
    if (!p->read_near)
        sort_near(p->near, p->nnear);
    f->drop_store = p->drop_store;
    size_t nwords = bitmap_words(p);
    uint64_t *removed = dd_calloc(nwords, sizeof *removed);
    uint64_t *before = dd_malloc(nwords * sizeof *before); /* removed as a pass starts */
    if (p->gone)                                           /* a whole word for the last units */
        memcpy(removed, p->gone, nwords * sizeof *removed);
    find_boilerplate(p, removed, f);
    size_t repeat_run = 0; /* where the run of repeats of the pass starts */
    for (int pass = 0; pass < DD_RUN_PASSES; pass++) {
        memcpy(before, removed, nwords * sizeof *before);
        size_t runs = find_repeats(p, removed, before, f);
        end_repeat_run(p, f, &repeat_run); /* a pass goes through the units in order */
        size_t near = pass == 0 ? remove_near(p, removed) : 0;
        if (runs == 0 && near == 0)
            break;
    }
    free(before);
    free(removed);
    /* Near-repeats, unless an exact finding already removes them (the
     * exact drops read back merged, in the order the near-repeats come);
     * a unit with two (inside its document and across) keeps the one
     * added first. */
    end_drop_run(f);
    flush_drops(f);
    size_t exact_runs = f->ndrop_runs, n;
    drops_cursor exact;
    drops_cursor_start(&exact, drops_merge_runs(f, 0, exact_runs));
    size_t merge_bytes = dd_drops_merge_bytes(exact.m);
    const near_held *v;
    near_reader it = {0};
    while (next_near_doc(p, &it, &v, &n))
        for (size_t i = 0; i < n; i++) {
            const dd_repeat *r = &v[i].r;
            if (i > 0 && v[i - 1].r.at.first_line == r->at.first_line)
                continue;
            if (dropped_already(&exact, r->at.doc, r->at.first_line, r->at.last_line))
                continue;
            dd_repeat found = *r;
            found.units = 1;
            if (v[i].of_unit != DD_LINES_GIVEN) {
                dd_unit of = unit_alone(p, v[i].of_unit);
                found.of.first_line = of.first_line;
                found.of.last_line = of.last_line;
            }
            add_repeat(p, f, &found);
            add_drop(f, r->at.doc, r->at.first_line, r->at.last_line);
        }
    dd_drops_merge_free(exact.m);
    end_drop_run(f);
    flush_drops(f);
    end_repeat_run(p, f, &repeat_run); /* the near-repeats come by place */
    if (!p->repeat_store && f->nrepeats > 1)
        qsort(f->repeats, f->nrepeats, sizeof *f->repeats, dd_repeat_compare);
    size_t drop_bytes = f->drops_cap * sizeof *f->drops + f->drop_runs_cap * sizeof *f->drop_runs;
    if (f->drop_store) { /* in the store: the buffer is given back */
        free(f->drops);
        f->drops = NULL;
        f->drops_cap = 0;
    } else {
        merge_held_drops(f);
    }
    p->finding_bytes = 2 * nwords * sizeof *removed + later_merge_bytes(p) +
                       p->near_cap * sizeof *p->near + drop_bytes + merge_bytes;
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
    free(f->drop_runs);
    memset(f, 0, sizeof *f);
}
