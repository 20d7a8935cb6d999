/*
 * corpus.h - what scan, clean and check share: read every input, check it,
 * cut it into units, sign it, and decide which documents are copies and
 * which lines repeat others, on the text clean leaves.
 *
 * Decisions are taken in rounds (rounds.c). The first decides on the inputs
 * as read. Removing lines changes a text (lines that were apart come
 * together, a document loses what made it differ from another), so a
 * further round decides again, the same way (one rule), on the text the
 * rounds before it leave, until a round removes nothing: what clean writes
 * is then a fixed point, in which scan, check and clean find nothing more
 * (but where a candidate cap cuts a list: see rounds.c). Only the documents
 * whose text changed are read and analysed again.
 */
#ifndef DD_CORPUS_H
#define DD_CORPUS_H

#include "io/input.h"
#include "engine/engine.h"
#include "cmd/options.h"
#include "run/progress.h"
#include "io/scratch_array.h"
#include "run/units.h"
#include "store/ddx.h"
#include "util.h"

#include <stdint.h>

/* An input that is not text, left out of the comparison (--on-error skip
 * or drop): the command says so, and clean -o copies it through (skip). */
typedef struct dd_left_out {
    uint32_t doc;
    dd_not_text why;
} dd_left_out;

/* What reading an input again (for exact verification, an excerpt, clean)
 * found, said once per input however often it is read. */
typedef enum dd_reread {
    DD_REREAD_OK,
    DD_REREAD_FAILED,  /* vanished or unreadable: an error, counted in problems */
    DD_REREAD_CHANGED, /* not as analysed: a warning; compared as first read */
} dd_reread;

/* Setting and reading an input's dd_reread (dd_corpus.reread) while
 * workers may read it: the calling thread sets it as it takes documents in
 * order, the workers read it ahead of it (a stale value only makes them
 * read an input again, to find what was found). */
#define DD_REREAD_SET(c, doc, value) __atomic_store_n(&(c)->reread[doc], (value), __ATOMIC_RELAXED)
#define DD_REREAD_OF(c, doc) ((dd_reread)__atomic_load_n(&(c)->reread[doc], __ATOMIC_RELAXED))

/* What the first pass read of an input: the XXH3-64 of its bytes, to
 * notice later changes, and their number; 0 and 0 when it could not read
 * it. */
typedef struct dd_read_as {
    uint64_t digest;
    uint64_t size;
} dd_read_as;

typedef struct dd_corpus {
    dd_inputs inputs;
    /* dd_read_as of each input, in input order: in memory up to a share of
     * the budget, past it in a scratch file (io/scratch_array.h), read
     * when a document is read again (to check it) and for the counts.
     * Read them with dd_corpus_digest and dd_corpus_size. */
    dd_scratch_array read_as;
    bool *failed;      /* inputs that were not analysed: failed or left out */
    unsigned char *reread; /* dd_reread of each input: later readings stop at a failure */
    dd_left_out *left_out; /* not text, left out: in input order, not reported */
    size_t nleft_out, left_out_cap;
    dd_units units;               /* the units of every document, in order (run/units.h) */
    dd_unit_starts unit_starts; /* document i has units [dd_unit_start(i), dd_unit_start(i + 1)) */
    /* The near-repeats of units, by document, as read (dd_near_unit): in
     * memory or, past a share of the budget, in a scratch file
     * (io/scratch_array.h). The first pass finds a document's, or a
     * batch's, in near_found, then moves them there. */
    dd_scratch_array near_units;
    dd_near_unit_list near_found;
    dd_near_unit_list near_inside; /* near-repeats inside documents, of the text they have now */
    dd_signatures signatures;     /* of the inputs (during the rounds: of the text they have) */
    /* The MinHash values of the documents past the signatures' share of
     * the budget (dd_signatures_keep_minhash), in a scratch file. */
    dd_scratch_array minhash_past_share;
    /* The lines the rounds removed, by document, then line (merged ranges
     * of dd_drop; once the rounds are done, those of the documents kept:
     * what clean removes, in place of findings.drops, which stays empty),
     * in memory up to a share of the budget (dd_memory_findings_share),
     * past it in a scratch file; removed_fence holds the document of every
     * DD_REMOVED_FENCE-th range, to find a document's without reading the
     * others. Read them with dd_corpus_removed. And the units inside them:
     * a bit a unit (dd_corpus_unit_removed), units.n / 64 + 1 words. */
    dd_scratch_array removed;
    uint32_t *removed_fence;
    size_t removed_fence_cap;
    uint64_t *unit_removed;
    uint32_t *text_version; /* per document: how many rounds removed lines of it */
    size_t rounds;          /* rounds of decisions taken */
    dd_clusters clusters;
    /* What the candidate search of every round left out (near.h's caps),
     * added up: full_buckets, unlisted, said in the summary. */
    dd_placer_counts search;
    /* The repeats and boilerplate records found, once the rounds are done
     * (the drops are c->removed); the records' places are not in memory
     * (at is NULL) but elements [first_at, first_at + n) of places (of
     * dd_place: in memory up to a share of the budget, past it in a scratch
     * file; read them with dd_corpus_boilerplate_at). The repeats are not
     * in findings.repeats (NULL) either, but the findings.nrepeats elements
     * of repeats (of dd_repeat, in their order, kept as places are; read
     * them with dd_corpus_repeat). */
    dd_findings findings;
    dd_scratch_array places;
    dd_scratch_array repeats;
    int problems; /* errors reported on stderr (inputs left out are not counted) */
    size_t max_bytes; /* the longest document read (--max-record) */
    /* The threads that verify pairs ahead (run.h's dd_pool, their states
     * corpus.c's), from the clustering to the end of the rounds, whose
     * placing (dd_corpus_place) runs on them too; NULL on one thread. */
    struct dd_pool *verification;
} dd_corpus;

/* Reads o->paths, clusters the documents and computes the findings, in
 * rounds (see above) until what clean leaves is a fixed point: with
 * o->in_place, near-duplicate files stay, as they are, for the later rounds
 * to see; otherwise (clean -o, scan, check) they go. The findings are
 * those of every round in the documents kept (with o->in_place, in every
 * document: lines that a round removed from a file stay removed when a
 * later one finds it a copy); c->removed holds every line removed.
 * Problems are reported on stderr and counted in c->problems; the inputs without
 * problems are still analysed. An input that is not text (dd_input_load) is
 * left out of the comparison and listed in c->left_out, unreported, for
 * the command to say what becomes of it; with --on-error stop it is
 * reported and the run ends there. Returns false if it could not run at
 * all, or was stopped. progress (NULL: none) is updated as the documents
 * are read. */
bool dd_corpus_run(dd_corpus *c, const dd_options *o, dd_progress *progress);

/* The XXH3-64 of input doc's bytes and their number, as the first pass
 * read them (0 for an input it did not read). Any thread, once the first
 * pass has taken every document. */
static inline uint64_t dd_corpus_digest(const dd_corpus *c, size_t doc)
{
    return doc < c->read_as.n ? ((const dd_read_as *)dd_scratch_array_get(&c->read_as, doc))->digest
                              : 0;
}
static inline uint64_t dd_corpus_size(const dd_corpus *c, size_t doc)
{
    return doc < c->read_as.n ? ((const dd_read_as *)dd_scratch_array_get(&c->read_as, doc))->size
                              : 0;
}

/* Place i of boilerplate record b of c->findings. The calling thread's
 * block of c->places, as dd_scratch_array_get: any thread. */
static inline dd_place dd_corpus_boilerplate_at(const dd_corpus *c, const dd_boilerplate *b,
                                                size_t i)
{
    return *(const dd_place *)dd_scratch_array_get(&c->places, b->first_at + i);
}

/* Repeat i (below c->findings.nrepeats) of c->findings, copied. The
 * calling thread's block of c->repeats, as dd_scratch_array_get: any
 * thread. */
static inline dd_repeat dd_corpus_repeat(const dd_corpus *c, size_t i)
{
    return *(const dd_repeat *)dd_scratch_array_get(&c->repeats, i);
}

/* A fence of c->removed every this many ranges (a document's are found
 * reading this many at most, and its own). */
#define DD_REMOVED_FENCE 16

/* The place in c->removed of the first range of document doc or of a
 * later one (c->removed.n: none). Any thread, while the rounds do not
 * change c->removed. */
size_t dd_corpus_removed_at(const dd_corpus *c, uint32_t doc);

/* The lines removed from document doc (c->removed): *n ranges, by line,
 * in memory or copied to *buf (grown as dd_grow does: *cap elements; the
 * caller frees it), valid until c->removed or *buf changes. Any thread,
 * as dd_corpus_removed_at. */
const dd_drop *dd_corpus_removed(const dd_corpus *c, uint32_t doc, size_t *n, dd_drop **buf,
                                 size_t *cap);

/* Did the rounds remove unit u (among all the units)? Mark it removed. */
static inline bool dd_corpus_unit_removed(const dd_corpus *c, size_t u)
{
    return dd_bit(c->unit_removed, u);
}
static inline void dd_corpus_remove_unit(dd_corpus *c, size_t u) { dd_bit_set(c->unit_removed, u); }
void dd_corpus_free(dd_corpus *c);

/* One stage alone, sign, group or verify, of a run kept in a work folder
 * (o->work: --stage STAGE, or --task I --tasks N): reads the list of
 * inputs of o; signs the parts (of the task) that are not signed, or, from
 * the parts all signed, makes the group or verify partitions (of the task)
 * not made (run/across_stages.h); decides nothing. Returns the exit
 * status: 0 when every part or partition it had to make is made, 2 after a
 * message. With o->work.dir, dd_corpus_run signs the parts not signed yet
 * before deciding (with --stage decide it refuses to), makes the group and
 * verify partitions not made, and takes the first analysis of every
 * document, and the near-repeats of paragraphs across documents, from
 * them: its output is that of a run without a work folder, byte for byte
 * (run/stages.h). */
int dd_corpus_stage_only(const dd_options *o, dd_progress *progress);

/* Input doc could not be read again (dd_input_read or the caller said
 * why): an error of the run, and no later reading of it is tried. */
void dd_corpus_reread_failed(dd_corpus *c, uint32_t doc);

/* The text document doc has in the current round: text[0..len), as read,
 * without the lines that the rounds before removed (into *cleaned when
 * there are any: then *text and *len are changed to it). */
void dd_corpus_current_text(const dd_corpus *c, uint32_t doc, const char **text, size_t *len,
                            sh_buf *cleaned);

/* The texts of c's documents, for the engine (engine/base.h): a
 * document's bytes as first read (a file read again, and checked against
 * its digest: "changed while dedup was running" otherwise), and an indexed
 * file's when it is there unchanged. c must outlive it. */
dd_text_source dd_corpus_texts(const dd_corpus *c);

/* What document i of c shares with the index x (dd_index_match_document,
 * on c's texts), appended to out; errors said on stderr. False on an
 * index error. */
bool dd_corpus_match_index(dd_ddx *x, const dd_corpus *c, size_t i, const dd_options *o,
                           dd_analyzer *a, dd_index_matches *out);

/* Empties the cache of documents' shingle sets that exact verification
 * keeps (while paragraphs are decided, it is not needed). */
void dd_corpus_forget_sets(dd_corpus *c);

/* Places docs[0..ndocs) in that order, as dd_placer_place one by one
 * would, into *out (a later round's clusters): with o's threads, each
 * batch's pairs verified ahead on a pool made for the call, whose workers
 * share the calling thread's cache of sets (each known by the version of
 * the text it was made from: none of a text that changed since is used). */
void dd_corpus_place(dd_corpus *c, const dd_options *o, const uint32_t *docs, size_t ndocs,
                     dd_clusters *out);

/* Links the documents of the near-repeats across documents in l (a scratch
 * array of dd_near_unit, read a block at a time), but for alternatives,
 * for the placer (dd_signatures_link). */
void dd_corpus_link_documents(dd_corpus *c, const dd_scratch_array *l);

/* Reports every input left out, as an error on stderr ending in
 * "; FATE" (dd_input_report_not_text). */
void dd_corpus_report_left_out(const dd_corpus *c, const char *fate);

/* What a run found, and what clean removes because of it: the counts of
 * the summaries (the line on stderr and the JSON summary record). */
typedef struct dd_corpus_counts {
    size_t documents;          /* inputs */
    size_t errors;             /* problems reported (c->problems): unreadable inputs... */
    uint64_t bytes;            /* of the inputs read */
    size_t clusters;           /* clusters of two or more documents */
    size_t copies;             /* their members other than the representative */
    uint64_t copy_bytes;       /* bytes of the copies */
    size_t paragraphs_removed; /* units in the lines clean removes from the other documents */
    uint64_t paragraph_bytes;  /* bytes of those lines, line ends included */
    size_t documents_changed;  /* documents that lose lines */
    /* Over every round (near.h): LSH buckets that reached DD_BUCKET_CAP
     * representatives, so split by a second key; the entries of later
     * representatives made in their sub-buckets; the sub-buckets that
     * reached the cap too; and the entries not made, their sub-bucket
     * full as well: never silently, since a copy found in no other
     * bucket is missed. */
    uint64_t full_buckets, bucket_entries_split, full_sub_buckets, bucket_entries_left_out;
} dd_corpus_counts;

void dd_corpus_count(const dd_corpus *c, dd_corpus_counts *out);

/* Whether line (1-based) is in drops[0..n) (sorted by line, not
 * overlapping), for lines asked in increasing order: *d is where the
 * previous call stopped (0 before the first). */
bool dd_line_dropped(const dd_drop *drops, size_t n, size_t *d, size_t line);

/* The bytes of text[0..len) that clean keeps: every line not in
 * drops[0..n) (all of one document, in line order), into out (replacing
 * its contents). A byte-order mark stays even when the first line goes: it
 * belongs to the file, not to the line. */
void dd_kept_lines(const char *text, size_t len, const dd_drop *drops, size_t n, sh_buf *out);

/* XXH3-64 of a document's bytes (for dd_corpus.digests). */
uint64_t dd_digest(const char *text, size_t len);

#endif
