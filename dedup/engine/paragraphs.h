/*
 * paragraphs.h - exact repeated paragraphs, inside one document and across
 * documents, and boilerplate.
 *
 * Documents are added in input order. The table of the units' keys finds,
 * for every unit, the first occurrence of its key (itself, or an earlier
 * unit) and in how many documents the key is; dd_paragraphs_finish turns
 * that into findings:
 *   - repeat runs: consecutive units of a document that repeat consecutive
 *     units of one earlier place (the same document or an earlier one),
 *     reported when they hold at least min_words words; consecutive once
 *     what the findings remove is gone;
 *   - boilerplate: units seen in at least boilerplate_df documents (and of at
 *     least min_words words), reported once with every occurrence.
 *
 * Memory: the table is built a part of the keys at a time (a key's part is a
 * function of its top bits alone: dd_paragraphs_split), each part going
 * through every unit added (or its own list of them: dd_paragraphs_hand_out,
 * which holds a block of 24 KB a part while it hands them out) and keeping a
 * hash table of its distinct keys only while it is built (a 48-byte entry,
 * the first occurrence's lines in it, and a 20-byte slot of a table between
 * 3/8 and 3/4 full: 75 to 105 bytes a distinct key of the part). What stays is the later occurrences of
 * keys (a unit and the first occurrence of its key, with the lines of both
 * and the unit's words, in lists the caller may keep out of memory:
 * dd_paragraphs_keep_later), 4 bytes a document added, and a record a
 * boilerplate key. The findings read their places there, not from the
 * corpus's units (which may be in a scratch file, each read costing a
 * block of it): only the text of each boilerplate record is read back.
 * Making the findings adds two bits a unit (the units they remove,
 * and those removed as a pass of them started), a buffer of each part's list
 * of later occurrences, read back in order, and the findings themselves; the
 * near-repeats can be read back a document at a time
 * (dd_paragraphs_read_near) instead of held, and the lines the findings
 * remove handed to the caller as they are found (dd_paragraphs_keep_drops)
 * instead of held. More parts cost more passes
 * over the units (or one, handing them out to their parts:
 * dd_paragraphs_hand_out), never another result: the first occurrences, the
 * counts and every finding are those of one table going through the
 * documents in order.
 */
#ifndef DD_PARAGRAPHS_H
#define DD_PARAGRAPHS_H

#include "engine/document.h"
#include "engine/near_units.h"
#include "engine/unit_starts.h"

#include <stddef.h>
#include <stdint.h>

typedef struct dd_place {
    uint32_t doc;
    size_t first_line, last_line;
} dd_place;

typedef struct dd_repeat {
    dd_place at; /* the repeated run */
    dd_place of; /* the first occurrence it repeats */
    size_t units;
    uint64_t words;
    bool exact;         /* false: a near-repeat of one unit (near_units.h) */
    double jaccard;     /* near-repeats: of the two units' 3-shingle sets */
    double containment; /* near-repeats: of the later unit in the earlier */
} dd_repeat;

/* The order of repeats (f->repeats, a store's runs: dd_paragraphs_keep_repeats):
 * by document, then first line. A comparison for qsort and kway_merge.h. */
int dd_repeat_compare(const void *a, const void *b);

typedef struct dd_boilerplate {
    dd_place text_at; /* the occurrence whose original text is shown */
    size_t text_off, text_len; /* its bytes in that document */
    char *text;       /* that text, filled in by the caller (dd_findings_free frees it) */
    uint32_t docs;    /* number of documents holding it */
    dd_place *at;     /* every occurrence, in input order */
    size_t n;
    /* NULL at: the caller moved the n occurrences out of memory, to its
     * array of places, from element first_at on (run/corpus.h). */
    size_t first_at;
} dd_boilerplate;

/* Lines removed by clean: [first_line, last_line] of doc. */
typedef dd_place dd_drop;

/* Where dd_paragraphs_finish keeps the lines it removes instead of in
 * f->drops (dd_paragraphs_keep_drops): an array of the caller's.
 * append(ctx, v, n) appends v[0..n) to it, or, when they cannot be kept
 * (a full disk), keeps why: the caller's to report, the findings' drops
 * are then not all there. read(ctx, from, out, n) copies up to n of its
 * elements, from element `from` on, to out; returns how many (0: past its
 * end). */
typedef struct dd_drop_store {
    void *ctx;
    void (*append)(void *ctx, const dd_drop *v, size_t n);
    size_t (*read)(void *ctx, size_t from, dd_drop *out, size_t n);
} dd_drop_store;

typedef struct dd_findings {
    /* By document, then line. NULL with nrepeats not 0: they are in the
     * caller's store (dd_paragraphs_keep_repeats), or the caller moved them
     * out of memory (run/corpus.h), as a boilerplate record's at. */
    dd_repeat *repeats;
    size_t nrepeats, repeats_cap;
    dd_boilerplate *boilerplate; /* by first occurrence */
    size_t nboilerplate, boilerplate_cap;
    dd_drop *drops; /* by document, then line; ranges do not overlap */
    size_t ndrops, drops_cap;
    /* With dd_paragraphs_keep_drops, drops holds none: they are in the
     * caller's store (drop_store), as dd_paragraphs_finish found them, in
     * runs each by document then line, run i ending before element
     * drop_runs[i] (run 0 starting at element 0), drops_written of them;
     * dd_drops_merge reads them back as drops would hold them. (While
     * dd_paragraphs_finish makes them, drops buffers the last ones
     * written, and drop_last is the last.) */
    const dd_drop_store *drop_store;
    size_t *drop_runs;
    size_t ndrop_runs, drop_runs_cap;
    size_t drops_written;
    dd_drop drop_last;
} dd_findings;

typedef struct dd_paragraphs dd_paragraphs;

/* The boilerplate rule of every mode (scan, clean, check; filter, in
 * history.c; a paragraph found in an index, in history.c and
 * index_match.c): a unit of `words` normalised words held by `docs`
 * documents (the one it is in counted) is boilerplate when docs reaches
 * boilerplate_df and words reaches min_words. */
bool dd_is_boilerplate(uint64_t docs, uint64_t words, uint64_t min_words, uint64_t boilerplate_df);

/* The run grouping of every mode: the repeats of consecutive units of a
 * document that repeat consecutive units of one earlier place are one
 * finding. A run of repeats, starting at unit `first` of document `doc`
 * and repeating units of document src_doc, whose last unit is followed by
 * unit next_at (in the text as the caller counts it) and its last source
 * unit by next_src, takes the repeat at unit `at` of document at_doc, a
 * repeat of unit `src` of document at_src_doc, when that is the next unit
 * of the same document, it repeats the next source unit in the same
 * source document, it is not boilerplate, and a source in the run's own
 * document still ends before the run starts (a run never repeats itself).
 * Units are numbered in increasing order within a document. */
typedef struct dd_run_end {
    uint64_t doc, src_doc;
    size_t first;             /* the run's first unit */
    size_t next_at, next_src; /* the units that follow its last one, and its last source */
} dd_run_end;
bool dd_run_takes(const dd_run_end *run, uint64_t at_doc, size_t at, uint64_t at_src_doc,
                  size_t src, bool boilerplate);

/* How many times dd_paragraphs_finish seeks runs at most: each pass costs a
 * pass over the repeats, and a run comes together only once another
 * between its units is found, which takes a crafted text more than a few
 * times. */
#define DD_RUN_PASSES 16

/* A table over the units of a corpus: document d has units
 * units[dd_unit_start(starts, d) .. dd_unit_start(starts, d + 1)). Both
 * stay the caller's and must outlive the table. min_words and
 * boilerplate_df: the rules of the findings (above). */
dd_paragraphs *dd_paragraphs_new(const dd_unit *units, const dd_unit_starts *starts,
                                 uint64_t min_words, uint32_t boilerplate_df);
void dd_paragraphs_free(dd_paragraphs *p);

/* The units are not in memory (the units given to dd_paragraphs_new are
 * not read): unit u among all of them is get(ctx, u), for the passes over
 * them in order, and get_alone(ctx, u) (NULL: get too) for the few read
 * out of order (the text of each boilerplate record, the units repeated
 * by the near-repeats reported). Before any document is added; ctx must
 * outlive p. */
void dd_paragraphs_read_units(dd_paragraphs *p, dd_unit (*get)(void *ctx, size_t u),
                              dd_unit (*get_alone)(void *ctx, size_t u), void *ctx);

/* Leaves out the units marked in gone (one bit a unit, unit u's bit
 * u % 64 of gone[u / 64], indexed as the units are, in (units) / 64 + 1
 * words: those of the documents not added too; NULL: none), removed
 * before: they are not added, and they part no run (their neighbours are
 * consecutive). Before any document is added; gone must outlive p. */
void dd_paragraphs_leave_out(dd_paragraphs *p, const uint64_t *gone);

/* A later occurrence of a key: unit `unit` (among all the units), whose
 * key was first seen at unit `first`, before it; with the lines of both
 * and the words of `unit` (what the findings need of them: they read no
 * unit back). */
typedef struct dd_later {
    uint64_t unit, first;
    size_t at_first_line, at_last_line; /* of unit */
    size_t of_first_line, of_last_line; /* of first */
    uint32_t words;                     /* of unit */
} dd_later;

/* How many later occurrences the table gives dd_later_lists.append at
 * once: that many each time, but the last time for a part (fewer). */
#define DD_LATER_BLOCK 1024

/* Where the table keeps its later occurrences: a list for each part of
 * the keys, in increasing order of unit. Building part k appends to list
 * k (on the thread that builds it: two parts may append at once, to
 * their own lists); dd_paragraphs_finish reads every list back, in order,
 * a few times (a merge of them is every later occurrence in order). */
typedef struct dd_later_lists {
    void *ctx;
    /* Appends v[0..n) to list k: DD_LATER_BLOCK of them, or fewer the last
     * time. False when they could not be kept (the caller says why):
     * dd_paragraphs_parts_done then fails. */
    bool (*append)(void *ctx, size_t k, const dd_later *v, size_t n);
    /* Copies to out up to n elements of list k from its element `from` on
     * (at least one when there is one); returns how many (0: past its end). */
    size_t (*read)(void *ctx, size_t k, size_t from, dd_later *out, size_t n);
} dd_later_lists;

/* Keeps the later occurrences in the caller's lists (by default they are
 * held in memory, 56 bytes each). After dd_paragraphs_split (which says
 * how many parts there are), before a part is built; lists must outlive
 * p. */
void dd_paragraphs_keep_later(dd_paragraphs *p, const dd_later_lists *lists);

/* Adds document number doc (its units, but those left out); documents
 * come in increasing order. False, with an error in notes, for a document
 * of more than 2^32 - 1 units: p can then only be freed. */
bool dd_paragraphs_add(dd_paragraphs *p, uint32_t doc, dd_notes *notes);

/* Asks for the first occurrence of key among the documents added
 * (dd_paragraphs_first), before the table is built. */
void dd_paragraphs_want_first(dd_paragraphs *p, sh_key key);

/* A unit as a part of the table reads it once the units are handed out
 * to their parts (dd_paragraphs_hand_out): its key, where it is (among
 * all the units, and its document, and its lines) and its words. */
typedef struct dd_part_unit {
    sh_key key;
    uint64_t unit;
    uint32_t doc, words;
    size_t first_line, last_line;
} dd_part_unit;

/* How many units dd_paragraphs_hand_out gives dd_unit_lists.append at
 * once: that many each time, but the last time for a part (fewer). */
#define DD_PART_UNIT_BLOCK 512

/* Where the units handed out are: a list for each part of the keys, in
 * increasing order of unit, as dd_later_lists (append, on the calling
 * thread of dd_paragraphs_hand_out; read, on the thread that builds the
 * part, two parts maybe at once, each reading its own list). */
typedef struct dd_unit_lists {
    void *ctx;
    bool (*append)(void *ctx, size_t k, const dd_part_unit *v, size_t n);
    size_t (*read)(void *ctx, size_t k, size_t from, dd_part_unit *out, size_t n);
} dd_unit_lists;

/* Hands every unit added (but those left out) to its part's list, in one
 * pass over them, so that building a part reads its own units only
 * instead of every unit added: for units that are not in memory
 * (dd_paragraphs_read_units), which each pass over them reads again from
 * a scratch file. The parts built then are those built without it. After
 * dd_paragraphs_split, before a part is built; lists must outlive p.
 * False, with an error in notes, when the lists' append failed: p can
 * then only be freed. */
bool dd_paragraphs_hand_out(dd_paragraphs *p, const dd_unit_lists *lists, dd_notes *notes);

/*
 * Building the table, once every document is added: dd_paragraphs_split
 * splits the keys into nparts parts (0 or 1: one), then each part is built
 * (dd_paragraphs_build_part: parts on different threads at once, the
 * caller's, each holding the hash table of its part while it builds it),
 * then dd_paragraphs_parts_done joins what they found. Without these,
 * dd_paragraphs_first and dd_paragraphs_finish build the table in one part
 * on the calling thread. With the units in memory and from 2 to 254 parts,
 * dd_paragraphs_split marks each unit with its part (a byte a unit, held
 * until dd_paragraphs_parts_done), so that a part finds its own units
 * without reading every unit.
 */
void dd_paragraphs_split(dd_paragraphs *p, size_t nparts);
size_t dd_paragraphs_parts(const dd_paragraphs *p);
void dd_paragraphs_build_part(dd_paragraphs *p, size_t k);
/* False, with an error in notes, when a part held more than 2^32 - 1
 * distinct keys, or its later occurrences could not be kept (the lists'
 * append failed): p can then only be freed. */
bool dd_paragraphs_parts_done(dd_paragraphs *p, dd_notes *notes);

/* The bytes p holds (allocated), once built: the documents added, the
 * boilerplate, the near-repeats, the keys asked for and the later
 * occurrences held in memory (none with dd_paragraphs_keep_later); and the
 * most one part held while it was built. For measuring. */
size_t dd_paragraphs_memory_bytes(const dd_paragraphs *p);
size_t dd_paragraphs_part_bytes(const dd_paragraphs *p);

/* The most dd_paragraphs_finish held beside the table (two bits a unit,
 * the buffers that read the later occurrences back and the near-repeats
 * held: all of them, or one document's with dd_paragraphs_read_near), and
 * the most near-repeats held at once. For measuring, once finished. */
size_t dd_paragraphs_finding_bytes(const dd_paragraphs *p);
size_t dd_paragraphs_near_most(const dd_paragraphs *p);

/* The bytes a part of n distinct keys holds at most while it is built (a
 * table that just doubled, the one before it, and entries of 48 bytes in
 * an array that doubles): for sizing the parts. */
#define DD_PARAGRAPHS_BYTES_A_KEY 160

/* Adds a near-repeat (see near_units.h): unit `unit` (among all the
 * units), at `at`, of `words` words, near-repeats unit of_unit (among all
 * the units) of document of.doc, whose lines are read only if the
 * near-repeat is reported (most are not: an exact finding removes the
 * unit already, or another near-repeat of it was added first); or, with
 * of_unit DD_LINES_GIVEN, the unit at `of`. Before dd_paragraphs_finish
 * (p then holds every near-repeat added, 104 bytes each), or from
 * read_near. */
#define DD_LINES_GIVEN UINT64_MAX
void dd_paragraphs_add_near(dd_paragraphs *p, uint64_t unit, dd_place at, dd_place of,
                            uint64_t of_unit, uint32_t words, double jaccard, double containment);

/* The near-repeats are read back a document at a time instead of held:
 * dd_paragraphs_finish calls read_near(ctx, p, doc) for each document
 * added, in increasing order (twice: once to remove their units, once for
 * the findings), and read_near gives those at document doc with
 * dd_paragraphs_add_near (it may call dd_paragraphs_first); p holds one
 * document's at a time. Instead of adding them before; ctx must outlive
 * p. */
void dd_paragraphs_read_near(dd_paragraphs *p,
                             void (*read_near)(void *ctx, dd_paragraphs *p, uint32_t doc),
                             void *ctx);

/* Where dd_paragraphs_finish puts the places of the boilerplate records
 * instead of holding them (each record's at, 24 bytes a place: 5 MB for
 * the 1 GB corpus's 208,095): reserve(ctx, n) makes room for all n of
 * them, then set(ctx, i, at) puts place i, in any order; a record's at is
 * then NULL and its places are i = first_at .. first_at + n - 1 (the
 * records' in the order of the records). Their number is counted first, in
 * a pass over the later occurrences of the table (no unit is read). A
 * store that fails (reserve returns false) is the caller's to report: the
 * findings are then made as without it. Before dd_paragraphs_finish; store
 * must outlive p. */
typedef struct dd_place_store {
    void *ctx;
    bool (*reserve)(void *ctx, size_t n);
    void (*set)(void *ctx, size_t i, const dd_place *at);
} dd_place_store;
void dd_paragraphs_keep_places(dd_paragraphs *p, const dd_place_store *store);

/* Where dd_paragraphs_finish keeps the lines the findings remove (its
 * drops, 24 bytes a range: 5.2 MB in round 1 of the 1 GB corpus, 55 bytes
 * a document) instead of holding them all in f->drops while it makes
 * them: in store, as they are found (a block of DD_DROPS_BLOCK at a time),
 * a run each pass of the findings makes (each by document then line: a
 * pass goes through the units in order); f->drops then stays empty, and
 * dd_drops_merge reads them back merged. Deciding a near-repeat reads the
 * exact findings' drops back merged, in the same order. The findings are
 * those made without a store. Before dd_paragraphs_finish; store must
 * outlive p and the reading of the findings' drops. */
#define DD_DROPS_BLOCK 128
void dd_paragraphs_keep_drops(dd_paragraphs *p, const dd_drop_store *store);

/* Where dd_paragraphs_finish keeps the repeats it finds (88 bytes each:
 * 7,558 on the 1 GB corpus, 8 bytes a document) instead of in f->repeats:
 * append(ctx, v, n) appends v[0..n) to an array of the caller's (or, when
 * they cannot be kept, a full disk, keeps why: the caller's to report),
 * as they are found; end_run(ctx) says that those appended since the last
 * end_run (or the first) are a run, by document then line (each pass of
 * the runs of repeats makes one, the near-repeats one more: DD_RUN_PASSES
 * + 1 at most; none is empty). f->repeats then stays NULL and f->nrepeats
 * counts those appended. The runs merged by document then line, stably
 * (kway_merge.h), are what f->repeats holds without a store. Before
 * dd_paragraphs_finish; store must outlive p. */
typedef struct dd_repeat_store {
    void *ctx;
    void (*append)(void *ctx, const dd_repeat *v, size_t n);
    void (*end_run)(void *ctx);
} dd_repeat_store;
void dd_paragraphs_keep_repeats(dd_paragraphs *p, const dd_repeat_store *store);

/* Reads the drops of findings f back (f->drops, or f->drop_store's runs)
 * merged: by document, then line, ranges that overlap or touch made one,
 * as f->drops holds them without a store. It holds a buffer of up to
 * DD_DROPS_MERGE_READ drops in all (at least 16 a run, no more than the
 * run's), and reads each drop of the store once. f must outlive it. */
#define DD_DROPS_MERGE_READ 512
typedef struct dd_drops_merge dd_drops_merge;
dd_drops_merge *dd_drops_merge_new(const dd_findings *f);
/* The next range removed, in order; false after the last. */
bool dd_drops_merge_next(dd_drops_merge *m, dd_drop *out);
/* The bytes it holds (for measuring). */
size_t dd_drops_merge_bytes(const dd_drops_merge *m);
void dd_drops_merge_free(dd_drops_merge *m);

/* The first occurrence of a unit of exact key key among the documents added
 * (*at, its lines), of a key asked for (dd_paragraphs_want_first); false if
 * none holds it or it was not asked for. */
bool dd_paragraphs_first(dd_paragraphs *p, sh_key key, dd_place *at);

/* Computes the findings (see above), on the text as it will be once they
 * are removed: units between two repeats that a finding removes (the
 * boilerplate, a near-repeat, another run) do not part them, in the
 * document that repeats and in the one repeated; so runs are sought again
 * once others are found, up to DD_RUN_PASSES times. f must be zeroed; free
 * it with dd_findings_free. */
void dd_paragraphs_finish(dd_paragraphs *p, dd_findings *f);
void dd_findings_free(dd_findings *f);

#endif
