/*
 * rounds.c - the decisions of scan, clean and check, in rounds.
 *
 * The first round decides on the inputs as read: corpus.c clusters every
 * document (near.c's placer, the pairs verified on every core), then the
 * paragraphs of the documents kept are decided (decide_paragraphs:
 * paragraphs.c, its table hashed on every core, a part of the keys on each
 * at a time, in as many parts as keep those built at once within the
 * rounds' share of --memory: memory.h; with the units in a scratch file,
 * they are read once and handed out to their parts' lists, in a scratch
 * array, each part reading its own; the paragraphs that repeat an
 * earlier one, with the first occurrence of each, kept in a scratch array
 * (part_lists) and read back in order, with the lines of both, so that
 * the findings read no unit back; the round's near-repeats, with their
 * units' lines read once as the round lists them, read back from their
 * scratch arrays a document at a time as the findings are made, not
 * held). record_lines() takes in what a
 * round removes: those lines leave the text. What the rounds find is
 * kept to the report out of memory past a share of --memory (memory.h's
 * dd_memory_findings_share): the lines removed (c->removed; each round's
 * handed to a scratch array as its findings are made,
 * dd_paragraphs_keep_drops, then merged into them), the boilerplate's
 * places (handed to a scratch array as the table finds them:
 * dd_paragraphs_keep_places), the copies' similarities and the repeats
 * (handed to a scratch array as the findings find them, in runs each in
 * order: dd_paragraphs_keep_repeats, the runs merged at the end); the
 * boilerplate records stay in memory. Copies leave too with
 * copies_stay false (clean -o, scan, check); with copies_stay (clean
 * --in-place) they stay, as they are. When a round removed lines, the
 * documents that lost them are analysed again on the text they have now
 * (analyse_again, on every core, a window of documents at a time within
 * the rounds' share of --memory: their signatures and the near-repeats
 * inside them) and the next round decides again, the same way, on that
 * text. A round that removes no line ends them: what is left is a fixed
 * point, on which a round would find nothing.
 *
 * A later round costs what changed, not the whole corpus:
 *   - Clusters: the documents whose text changed are placed again, with the
 *     documents that share a band (a SimHash block; the keys of those
 *     changed a part at a time, within the same share) or a paragraph with
 *     one of them, and the clusters these are in (place_again). Any other
 *     document and each of its candidates kept their text, so every pair it
 *     can be compared in verifies as it did: a representative stays one, a
 *     copy copies the same document.
 *   - Near-repeats across documents are those found as the inputs were
 *     read, each unit with every candidate that passes (near_units.h), and,
 *     for a match in a copy, the exact copies of the matched unit in the
 *     documents kept, which were not searched themselves: a unit still there
 *     has no match in a document kept (it would be gone), and fewer
 *     documents and units give it no new candidate.
 *   - Repeats, boilerplate and runs are decided again from the table of the
 *     units still there, in memory.
 * Only where a cap cuts a candidate list (a band value listing its first
 * DD_NEAR_UNIT_MAX_BUCKET units, near.h's DD_BUCKET_CAP and
 * DD_MAX_CANDIDATES) could a search over the text left choose other
 * candidates than these rounds.
 */
#include "run/rounds.h"

#include "engine/analysis.h"
#include "kway_merge.h"
#include "run/memory.h"
#include "run/run.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool dd_line_dropped(const dd_drop *drops, size_t n, size_t *d, size_t line)
{
    while (*d < n && drops[*d].last_line < line)
        (*d)++;
    return *d < n && drops[*d].first_line <= line;
}

void dd_kept_lines(const char *text, size_t len, const dd_drop *drops, size_t n, sh_buf *out)
{
    static const char bom[] = "\xEF\xBB\xBF";
    out->len = 0;
    if (sh_buf_reserve(out, len) != SH_OK)
        dd_out_of_memory(); /* engine.h */
    size_t line = 1, pos = 0, d = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) + 1 : len;
        if (!dd_line_dropped(drops, n, &d, line))
            sh_buf_append(out, text + pos, end - pos);
        else if (line == 1 && len >= 3 && !memcmp(text, bom, 3))
            sh_buf_append(out, bom, 3);
        pos = end;
        line++;
    }
}

/* The ranges [first, first + n) of c->removed, not all in memory: a
 * pointer to them, in memory or in *chunk (grown as by dd_grow, *cap
 * elements). A read of the scratch file of their bytes alone (a
 * block of the thread's, as dd_scratch_array_get reads, would be 16 KB a
 * document, and the documents analysed again read other arrays between
 * two: 1.1 GB more read on the 1 GB corpus at --memory 16M). */
static const dd_drop *removed_span(const dd_corpus *c, size_t first, size_t n, dd_drop **chunk,
                                   size_t *cap)
{
    return dd_scratch_array_span(&c->removed, first, n, chunk, cap);
}

/* dd_corpus_removed_at, reading from the scratch file through *chunk. */
static size_t removed_at(const dd_corpus *c, uint32_t doc, dd_drop **chunk, size_t *cap)
{
    const dd_scratch_array *a = &c->removed;
    if (a->spool) { /* between two fences: the last below doc, the first at or past it */
        size_t fence, fences = (a->n + DD_REMOVED_FENCE - 1) / DD_REMOVED_FENCE;
        DD_LOWER_BOUND(fence, fences, i, c->removed_fence[i] < doc);
        size_t lo = fence ? (fence - 1) * DD_REMOVED_FENCE + 1 : 0;
        size_t hi = fence * DD_REMOVED_FENCE < a->n ? fence * DD_REMOVED_FENCE : a->n;
        const dd_drop *v = lo < hi ? removed_span(c, lo, hi - lo, chunk, cap) : NULL;
        size_t k = 0;
        while (lo + k < hi && v[k].doc < doc)
            k++;
        return lo + k;
    }
    const dd_drop *v = a->v;
    size_t at; /* in memory: a binary search */
    DD_LOWER_BOUND(at, a->n, i, v[i].doc < doc);
    return at;
}

size_t dd_corpus_removed_at(const dd_corpus *c, uint32_t doc)
{
    dd_drop *chunk = NULL;
    size_t cap = 0, at = removed_at(c, doc, &chunk, &cap);
    free(chunk);
    return at;
}

const dd_drop *dd_corpus_removed(const dd_corpus *c, uint32_t doc, size_t *n, dd_drop **buf,
                                 size_t *cap)
{
    const dd_scratch_array *a = &c->removed;
    if (!a->spool) {
        size_t first = removed_at(c, doc, NULL, NULL), end = first;
        const dd_drop *v = a->v;
        while (end < a->n && v[end].doc == doc)
            end++;
        *n = end - first;
        return v + first;
    }
    /* Read a fence's worth at a time, from the first range of doc on,
     * until a range of another document. */
    dd_drop *chunk = NULL;
    size_t chunk_cap = 0, first = removed_at(c, doc, &chunk, &chunk_cap), got = 0;
    for (bool more = true; more && first + got < a->n;) {
        size_t k =
            a->n - (first + got) < DD_REMOVED_FENCE ? a->n - (first + got) : DD_REMOVED_FENCE;
        const dd_drop *v = removed_span(c, first + got, k, &chunk, &chunk_cap);
        size_t i = 0;
        while (i < k && v[i].doc == doc)
            i++;
        dd_grow(buf, cap, got + i + 1, sizeof **buf);
        memcpy(*buf + got, v, i * sizeof *v);
        got += i;
        more = i == k;
    }
    free(chunk);
    *n = got;
    return *buf;
}

#define NOT_A_COPY UINT32_MAX

/* The drops of a round (dd_drop_store): an array in memory up to its
 * share, then in a scratch file; err: why some could not be kept. */
typedef struct round_drops {
    dd_scratch_array a;
    dd_drop_store store;
    char *err;
} round_drops;

static void drops_append(void *ctx, const dd_drop *v, size_t n)
{
    round_drops *d = ctx;
    if (!d->err)
        dd_scratch_array_append(&d->a, v, n, &d->err);
}

static size_t drops_read(void *ctx, size_t from, dd_drop *out, size_t n)
{
    const round_drops *d = ctx;
    if (from >= d->a.n)
        return 0;
    if (n > d->a.n - from)
        n = d->a.n - from;
    dd_scratch_array_read(&d->a, from, n, out);
    return n;
}

/* Starts *d empty, for a round's drops, within the findings' share of
 * --memory. */
static void round_drops_start(round_drops *d, const dd_options *o)
{
    dd_scratch_array_init(&d->a, sizeof(dd_drop), dd_memory_findings_share(o->memory), o->tmp_dir,
                          "lines removed by a round");
    d->store = (dd_drop_store){d, drops_append, drops_read};
    d->err = NULL;
}

/* The repeats the rounds find (dd_repeat), handed to a scratch array as
 * the findings find them (dd_paragraphs_keep_repeats): in memory up to the
 * findings' share of --memory, past it in a scratch file (7,558 on the
 * 1 GB corpus, 8 bytes a document, were held to the report until session
 * 22), in runs each by document then line (a few a round), run i ending
 * before element ends[i]; merged in order at the end (merge_repeats). */
typedef struct round_repeats {
    dd_scratch_array a;
    size_t *ends;
    size_t nruns, ends_cap;
    dd_repeat_store store;
    char *err; /* they could not be written to the scratch file */
} round_repeats;

static void repeats_append(void *ctx, const dd_repeat *v, size_t n)
{
    round_repeats *k = ctx;
    if (!k->err)
        dd_scratch_array_append(&k->a, v, n, &k->err);
}

static void repeats_end_run(void *ctx)
{
    round_repeats *k = ctx;
    dd_grow(&k->ends, &k->ends_cap, k->nruns + 1, sizeof *k->ends);
    k->ends[k->nruns++] = k->a.n;
}

/* Starts k, which must not move until it is freed. */
static void round_repeats_init(round_repeats *k, const dd_options *o)
{
    memset(k, 0, sizeof *k);
    dd_scratch_array_init(&k->a, sizeof(dd_repeat), dd_memory_findings_share(o->memory), o->tmp_dir,
                          "repeats of the rounds");
    k->store = (dd_repeat_store){k, repeats_append, repeats_end_run};
}

static void round_repeats_free(round_repeats *k)
{
    dd_scratch_array_free(&k->a);
    free(k->ends);
    free(k->err);
    memset(k, 0, sizeof *k);
}

static void round_drops_free(round_drops *d)
{
    dd_scratch_array_free(&d->a);
    free(d->err);
    d->err = NULL;
}

/* What the findings need of a near-repeat's unit (rounds.near_lines): its
 * lines and words. (Of the unit it repeats, the table reads the lines of
 * the few reported: paragraphs.h.) */
typedef struct near_lines {
    size_t first_line, last_line;
    uint32_t words;
} near_lines;

typedef struct rounds {
    bool copies_stay;  /* else a copy leaves: gone() */
    uint32_t *copy_of; /* per document: the document it copies, NOT_A_COPY if none */
    /* Per document (dd_member): a copy's similarity to copy_of, in memory
     * up to the findings' share of --memory (memory.h), past it in a
     * scratch file (most documents are no copy: 40 bytes each held for
     * nothing); set as copies are found, read in order at the end. */
    dd_scratch_array copy;
    /* The documents whose text changed in the last round: a bit each, and
     * for each 64 documents how many before them changed, so that the
     * k-th of them is found (changed_doc) without a list of them (4 bytes
     * a document). */
    uint64_t *changed;
    uint32_t *changed_before;
    size_t nwords; /* of changed and changed_before */
    size_t nchanged;
    dd_scratch_array near;       /* of dd_near_unit: the near-repeats of the round, by document,
                                    in memory up to their share of --memory (memory.h) */
    dd_scratch_array near_lines; /* of near_lines: their units' lines, element for element */
    /* The boilerplate records of every round; the records' places are in
     * `places` (dd_place: in memory up to the findings' share of --memory,
     * memory.h, past it in a scratch file), not at. */
    dd_findings found;
    dd_scratch_array places;
    /* The repeats of every round, not in found (round_repeats). */
    round_repeats repeats;
    /* The lines the round removes, as its findings are made
     * (dd_paragraphs_keep_drops): not held while it decides (55 bytes a
     * document in round 1 of the 1 GB corpus), but in memory up to the
     * findings' share of --memory and past it in a scratch file; read back
     * merged into c->removed (record_lines), then freed. */
    round_drops drops;
    /* With --index, the signatures of the documents as read, of those a
     * round changed: put back at the end (c->signatures, which the index is
     * searched with, are of the inputs). */
    bool keep_first;
    dd_signatures first;
    uint32_t *first_of; /* per document (with keep_first only): 1 + its place in first,
                           0: unchanged */
} rounds;

/* Whether document d left: a copy, when copies do not stay (make_copy;
 * place_again makes a document no copy only when it stays). */
static bool gone(const rounds *r, uint32_t d)
{
    return !r->copies_stay && r->copy_of[d] != NOT_A_COPY;
}

static bool is_changed(const rounds *r, uint32_t d) { return dd_bit(r->changed, d); }

/* The k-th document (from 0, in document order) of the r->nchanged whose
 * text changed: the last group of 64 with fewer before it than k + 1
 * holds it (group 0 has none before it). */
static uint32_t changed_doc(const rounds *r, size_t k)
{
    size_t after; /* the first group with more than k before it */
    DD_LOWER_BOUND(after, r->nwords, i, r->changed_before[i] <= k);
    size_t group = after - 1;
    uint64_t bits = r->changed[group];
    for (size_t j = k - r->changed_before[group]; j > 0; j--)
        bits &= bits - 1;
    return (uint32_t)(group * 64 + (size_t)__builtin_ctzll(bits));
}

/* Starts *a with n documents' dd_member (rounds.copy), zeroed. False, with
 * an error in notes, when they could not be written to its scratch file. */
static bool copies_init(dd_scratch_array *a, size_t n, const dd_options *o, dd_notes *notes)
{
    dd_scratch_array_init(a, sizeof(dd_member), dd_memory_findings_share(o->memory), o->tmp_dir,
                          "similarities of the copies");
    enum { AT_ONCE = 256 };
    static const dd_member none[AT_ONCE];
    char *err = NULL;
    for (size_t d = 0; d < n; d += AT_ONCE)
        if (!dd_scratch_array_append(a, none, n - d < AT_ONCE ? n - d : AT_ONCE, &err)) {
            dd_note_add(notes, DD_NOTE_ERROR,
                        "keeping what the rounds found out of memory (--memory): %s", err);
            free(err);
            return false;
        }
    dd_scratch_array_trim(a);
    return true;
}

/* Keeps the signature document d has as read, before a round changes it. */
static void keep_first_signature(dd_corpus *c, rounds *r, uint32_t d)
{
    if (!r->keep_first || r->first_of[d])
        return;
    const dd_signatures *s = &c->signatures;
    dd_signed sig = {.doc = s->docs[d]};
    uint32_t values[SH_MINHASH_MAX_PERM];
    if (s->params.method == DD_METHOD_MINHASH && s->params.enabled)
        sig.minhash = (uint32_t *)dd_signature_minhash(s, d, values);
    if (s->simhash)
        sig.simhash = s->simhash[d];
    dd_signatures_add_signed(&r->first, &sig, NULL); /* in memory: cannot fail */
    r->first_of[d] = (uint32_t)r->first.n;
}

/* Puts back the signatures of the documents as read. */
static void restore_first_signatures(dd_corpus *c, rounds *r)
{
    dd_signatures *s = &c->signatures;
    for (size_t d = 0; r->keep_first && d < c->inputs.n; d++) {
        if (!r->first_of[d])
            continue;
        size_t k = r->first_of[d] - 1;
        s->docs[d] = r->first.docs[k];
        if (!s->params.enabled)
            continue;
        if (s->params.method == DD_METHOD_MINHASH)
            dd_signature_set_minhash(s, d, r->first.minhash + k * s->params.num_perm);
        if (s->simhash)
            s->simhash[d] = r->first.simhash[k];
    }
}

/* Document d becomes a copy of rep (similarity m); with copies_stay false
 * it leaves: it takes part in nothing more. */
static void make_copy(dd_corpus *c, rounds *r, uint32_t d, uint32_t rep, const dd_member *m)
{
    r->copy_of[d] = rep;
    dd_member copy = *m;
    copy.doc = d;
    copy.of = rep;
    copy.round = (unsigned)c->rounds + 1;
    dd_scratch_array_set(&r->copy, d, &copy);
    if (r->copies_stay)
        return;
    keep_first_signature(c, r, d);
    dd_signatures *s = &c->signatures;
    memset(&s->docs[d], 0, sizeof s->docs[d]);
    if (s->params.enabled && s->params.method == DD_METHOD_MINHASH) {
        uint32_t none[SH_MINHASH_MAX_PERM];
        memset(none, 0xFF, s->params.num_perm * sizeof *none);
        dd_signature_set_minhash(s, d, none);
    }
    if (s->simhash)
        s->simhash[d] = 0;
}

/* Unit i of the corpus, read alone: for the unit a near-repeat repeats,
 * anywhere before it, which would cost a block of the units (16 KB:
 * scratch_array.c) for each near-repeat where they are in a scratch file. */
static dd_unit unit_alone(const dd_corpus *c, size_t i)
{
    dd_unit u;
    dd_scratch_array_copy(&c->units, i, &u);
    return u;
}

/* Appends the near-repeats v[0..n) of document d to r->near, and the lines
 * and words of their units to r->near_lines: d's units read in one span,
 * from the first of them to the last (*units, *cap: its buffer). False,
 * with *err set, when they could not be written. */
static bool append_near_of(const dd_corpus *c, rounds *r, uint32_t d, const dd_near_unit *v,
                           size_t n, dd_unit **units, size_t *cap, char **err)
{
    if (n == 0)
        return true;
    size_t lo = SIZE_MAX, hi = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].unit < lo)
            lo = v[i].unit;
        if (v[i].unit > hi)
            hi = v[i].unit;
    }
    const dd_unit *span =
        dd_units_span(&c->units, dd_unit_start(&c->unit_starts, d) + lo, hi - lo + 1, units, cap);
    for (size_t i = 0; i < n; i++) {
        const dd_unit *at = &span[v[i].unit - lo];
        near_lines l = {at->first_line, at->last_line, at->words};
        if (!dd_scratch_array_append(&r->near, &v[i], 1, err) ||
            !dd_scratch_array_append(&r->near_lines, &l, 1, err))
            return false;
    }
    return true;
}

/* The near-repeats of a round, in r->near: for each document still there,
 * those inside it (of the text it has now), then those across documents
 * found as it was read, of its units still there; and their units' lines
 * and words in r->near_lines, read here once (the findings go through them
 * twice: reading them there read each unit's block of the scratch file,
 * most of the file, each time, and the unit repeated alone). The two
 * share the near-repeats' share of --memory. False, with an error in notes, when they could not be
 * written to their scratch files. */
static bool round_near_units(const dd_corpus *c, const dd_options *o, rounds *r, dd_notes *notes)
{
    size_t share = dd_memory_near_units_share(o->memory);
    size_t near_share = share / (sizeof(dd_near_unit) + sizeof(near_lines)) * sizeof(dd_near_unit);
    dd_scratch_array_free(&r->near);
    dd_scratch_array_init(&r->near, sizeof(dd_near_unit), near_share, o->tmp_dir,
                          "near-repeats of paragraphs of a round");
    dd_scratch_array_free(&r->near_lines);
    dd_scratch_array_init(&r->near_lines, sizeof(near_lines), share - near_share, o->tmp_dir,
                          "lines of the near-repeats of paragraphs of a round");
    const dd_near_unit_list *inside = &c->near_inside;
    const dd_scratch_array *read = &c->near_units; /* of dd_near_unit */
    size_t i = 0, k = 0;
    dd_near_unit *across = NULL; /* a document's, kept */
    size_t across_cap = 0, units_cap = 0;
    dd_unit *units = NULL;
    char *err = NULL;
    bool ok = true;
    for (uint32_t d = 0; ok && d < c->inputs.n; d++) {
        size_t from = i;
        while (i < inside->n && inside->v[i].doc == d)
            i++;
        bool there = !c->failed[d] && !gone(r, d);
        if (there)
            ok = append_near_of(c, r, d, inside->v + from, i - from, &units, &units_cap, &err);
        size_t nacross = 0;
        for (dd_near_unit nu; ok && k < read->n &&
                              (nu = *(const dd_near_unit *)dd_scratch_array_get(read, k)).doc == d;
             k++) {
            if (there && nu.of_doc != d &&
                !dd_corpus_unit_removed(c, dd_unit_start(&c->unit_starts, d) + nu.unit)) {
                dd_grow(&across, &across_cap, nacross + 1, sizeof *across);
                across[nacross++] = nu;
            }
        }
        if (ok)
            ok = append_near_of(c, r, d, across, nacross, &units, &units_cap, &err);
    }
    free(across);
    free(units);
    if (!ok) {
        dd_note_add(notes, DD_NOTE_ERROR,
                    "keeping the near-repeats of a round out of memory (--memory): %s", err);
        free(err);
    }
    return ok;
}

/* Near-repeat k of the round. */
static dd_near_unit near_of_round(const rounds *r, size_t k)
{
    return *(const dd_near_unit *)dd_scratch_array_get(&r->near, k);
}

/* The lines of near-repeat k's units. */
static near_lines near_lines_of_round(const rounds *r, size_t k)
{
    return *(const near_lines *)dd_scratch_array_get(&r->near_lines, k);
}

/* For measuring (DEDUP_RUN_STATS): what round c->rounds + 1 holds, when
 * its paragraph table p is made (NULL: at another point, named by when),
 * and what the process holds. */
static void round_memory(const dd_corpus *c, const rounds *r, const dd_paragraphs *p,
                         const char *when)
{
    if (!getenv("DEDUP_RUN_STATS"))
        return;
    size_t n = c->inputs.n, units = c->units.n;
    size_t per_doc = n * (sizeof *r->copy_of + (r->keep_first ? sizeof *r->first_of : 0)) +
                     r->nwords * (sizeof *r->changed + sizeof *r->changed_before) +
                     dd_scratch_array_memory_bytes(&r->copy);
    size_t per_unit = (units / 64 + 1) * sizeof *c->unit_removed; /* a bit a unit */
    /* What the rounds found so far: repeats, boilerplate records and
     * every place they name, and the lines removed. */
    size_t found = dd_scratch_array_memory_bytes(&r->repeats.a) +
                   r->repeats.ends_cap * sizeof *r->repeats.ends +
                   r->found.boilerplate_cap * sizeof *r->found.boilerplate +
                   dd_scratch_array_memory_bytes(&r->places) +
                   dd_scratch_array_memory_bytes(&c->removed) +
                   c->removed_fence_cap * sizeof *c->removed_fence;
    uint64_t found_out = dd_scratch_array_scratch_bytes(&r->repeats.a) +
                         dd_scratch_array_scratch_bytes(&r->places) +
                         dd_scratch_array_scratch_bytes(&c->removed);
    char at[96];
    snprintf(at, sizeof at, "round %zu, %s", c->rounds + 1, when);
    if (p) {
        size_t bytes = dd_paragraphs_memory_bytes(p);
        fprintf(stderr,
                "dedup: memory at %s: paragraph table: %.1f MB (%.2f bytes a unit), built in %zu "
                "parts, %.1f MB a part at most\n",
                at, (double)bytes / 1e6, units ? (double)bytes / (double)units : 0.0,
                dd_paragraphs_parts(p), (double)dd_paragraphs_part_bytes(p) / 1e6);
    }
    fprintf(stderr,
            "dedup: memory at %s: near-repeats of the round: %.1f MB (%.1f MB in a scratch file), "
            "inside documents: %.1f MB; per-document arrays: %.1f MB; units removed (a bit each): "
            "%.1f MB; "
            "findings so far: %.1f MB (%.1f MB in scratch files: %zu repeats, %zu boilerplate "
            "records naming %zu places, %zu ranges of lines removed)\n",
            at,
            (double)(dd_scratch_array_memory_bytes(&r->near) +
                     dd_scratch_array_memory_bytes(&r->near_lines)) /
                1e6,
            (double)(dd_scratch_array_scratch_bytes(&r->near) +
                     dd_scratch_array_scratch_bytes(&r->near_lines)) /
                1e6,
            (double)(c->near_inside.cap * sizeof *c->near_inside.v) / 1e6, (double)per_doc / 1e6,
            (double)per_unit / 1e6, (double)found / 1e6, (double)found_out / 1e6, r->repeats.a.n,
            r->found.nboilerplate, r->places.n, c->removed.n);
    dd_memory_process(stderr, at);
}

/* For measuring (DEDUP_RUN_STATS): the end of a step of round `round`
 * (from 1) as a phase of the run (run.h). */
static void round_phase_done(size_t round, const char *step)
{
    char name[96];
    snprintf(name, sizeof name, "round %zu, %s", round, step);
    dd_run_phase_done(name);
}

/* dd_paragraphs_read_units: unit u of the corpus's units. */
static dd_unit corpus_unit(void *ctx, size_t u) { return dd_units_get(ctx, u); }

/* The same, read alone (a unit out of order: not a block of them). */
static dd_unit corpus_unit_alone(void *ctx, size_t u)
{
    dd_unit unit;
    dd_scratch_array_copy(ctx, u, &unit);
    return unit;
}

/* Is document d one whose paragraphs are decided (read, there, not a copy)? */
static bool is_kept(const dd_corpus *c, const rounds *r, size_t d)
{
    return !c->failed[d] && !gone(r, d) && r->copy_of[d] == NOT_A_COPY;
}

/* Building part k of the paragraph table, on any thread. */
static void build_part(void *ctx, void *worker, size_t k)
{
    (void)worker;
    dd_paragraphs_build_part(ctx, k);
}

/* The parts of the paragraph table of the units still there (nunits), with
 * `threads` of them built at once: four a thread with threads (one alone),
 * as many more as keep the parts built at once within the table's share of
 * --memory (DD_PARAGRAPHS_BYTES_A_KEY a key, every unit counted a distinct
 * key). Four, not one: a thread that is done takes another part, where
 * with one a thread the one started last (a worker just woken, its core
 * taken a while) kept the others waiting for the whole of it (news, -j 2:
 * the rounds' tables ran one thread alone 0.008-0.018 s of CPU, now
 * 0.006-0.009 s, load 11; each part reads every unit's key, a few ms). */
static size_t table_parts(const dd_options *o, size_t nunits, unsigned threads)
{
    uint64_t share = dd_memory_rounds_share(o->memory);
    uint64_t need = (uint64_t)nunits * DD_PARAGRAPHS_BYTES_A_KEY * threads;
    uint64_t parts = (need + share - 1) / (share ? share : 1);
    size_t least = threads > 1 ? 4 * (size_t)threads : 1;
    return parts < least ? least : (size_t)parts;
}

/* Reading the near-repeats of a round (r->near, by document) back a
 * document at a time, for the paragraph table (dd_paragraphs_read_near). */
typedef struct near_reader {
    const dd_corpus *c;
    const rounds *r;
    size_t next;   /* the next near-repeat of r->near to look at */
    uint32_t last; /* the document asked for last */
    bool started;
} near_reader;

/* dd_paragraphs_read_near: gives p the near-repeats at document doc (a
 * document kept), those matched in a copy as near-repeats of the first
 * exact copy of the matched unit in a document kept before doc, if any. */
static void read_near(void *ctx, dd_paragraphs *p, uint32_t doc)
{
    near_reader *g = ctx;
    const dd_corpus *c = g->c;
    const rounds *r = g->r;
    if (g->started && doc <= g->last)
        g->next = 0; /* the documents again, from the first */
    g->started = true;
    g->last = doc;
    for (; g->next < r->near.n; g->next++) {
        dd_near_unit near = near_of_round(r, g->next);
        const dd_near_unit *nu = &near;
        if (nu->doc < doc)
            continue;
        if (nu->doc > doc)
            break;
        if (r->copy_of[nu->doc] != NOT_A_COPY)
            continue;
        near_lines l = near_lines_of_round(r, g->next);
        /* The unit repeated: its lines read by the table if reported. */
        dd_place of_place = {nu->of_doc, 0, 0};
        uint64_t of_unit = dd_unit_start(&c->unit_starts, nu->of_doc) + nu->of;
        if (r->copy_of[nu->of_doc] != NOT_A_COPY) {
            if (!dd_paragraphs_first(p, unit_alone(c, of_unit).key, &of_place) ||
                of_place.doc >= nu->doc)
                continue;
            of_unit = DD_LINES_GIVEN;
        }
        dd_paragraphs_add_near(p, dd_unit_start(&c->unit_starts, nu->doc) + nu->unit,
                               (dd_place){nu->doc, l.first_line, l.last_line}, of_place, of_unit,
                               l.words, nu->jaccard, nu->containment);
    }
}

/* Lists of the paragraph table's parts, of every part in one scratch
 * array, in memory up to a share of --memory (memory.h): each part's list
 * is blocks of `block` elements there (its last block fewer), appended in
 * turn (by the parts' threads), and the part keeps where its blocks
 * start. Two kinds: the later occurrences of the table's units (a unit,
 * and the first occurrence of its key: engine/paragraphs.h's
 * dd_later_lists), and the units handed out to their parts
 * (dd_unit_lists). */
typedef struct list_part {
    uint64_t *starts; /* of its blocks, in the array */
    size_t nstarts, starts_cap;
    size_t n;   /* its elements */
    void *span; /* elements read back from the scratch file, on the part's thread */
    size_t span_cap;
} list_part;

typedef struct part_lists {
    dd_scratch_array all;
    size_t block;         /* elements */
    pthread_mutex_t lock; /* appending */
    list_part *parts;
    size_t nparts;
    char *err; /* why the first append that failed did */
} part_lists;

static void part_lists_init(part_lists *l, size_t size, size_t block, size_t nparts,
                            size_t max_bytes, const dd_options *o, const char *what)
{
    memset(l, 0, sizeof *l);
    dd_scratch_array_init(&l->all, size, max_bytes, o->tmp_dir, what);
    l->block = block;
    pthread_mutex_init(&l->lock, NULL);
    l->parts = dd_calloc(nparts ? nparts : 1, sizeof *l->parts);
    l->nparts = nparts;
}

static void part_lists_free(part_lists *l)
{
    dd_scratch_array_free(&l->all);
    pthread_mutex_destroy(&l->lock);
    for (size_t k = 0; k < l->nparts; k++) {
        free(l->parts[k].starts);
        free(l->parts[k].span);
    }
    free(l->parts);
    free(l->err);
}

/* Appends v[0..n) (a block, or the last of part k) to part k's list, on
 * part k's thread. */
static bool part_lists_append(part_lists *l, size_t k, const void *v, size_t n)
{
    list_part *t = &l->parts[k];
    char *err = NULL;
    pthread_mutex_lock(&l->lock);
    uint64_t start = l->all.n;
    bool ok = dd_scratch_array_append(&l->all, v, n, &err);
    if (!ok && !l->err)
        l->err = err;
    else
        free(err);
    pthread_mutex_unlock(&l->lock);
    if (!ok)
        return false;
    dd_grow(&t->starts, &t->starts_cap, t->nstarts + 1, sizeof *t->starts);
    t->starts[t->nstarts++] = start;
    t->n += n;
    return true;
}

/* Copies to out up to n elements of part k's list from `from` on, up to
 * the end of the block `from` is in, on part k's thread; returns how
 * many. The part's last block read gives back its buffer. */
static size_t part_lists_read(part_lists *l, size_t k, size_t from, void *out, size_t n)
{
    list_part *t = &l->parts[k];
    if (from >= t->n)
        return 0;
    size_t in_block = l->block - from % l->block;
    if (n > in_block)
        n = in_block;
    if (n > t->n - from)
        n = t->n - from;
    const void *v = dd_scratch_array_span(&l->all, t->starts[from / l->block] + from % l->block, n,
                                          &t->span, &t->span_cap);
    memcpy(out, v, n * l->all.size);
    if (from + n == t->n) {
        free(t->span);
        t->span = NULL;
        t->span_cap = 0;
    }
    return n;
}

/* dd_later_lists.append and read. */
static bool later_append(void *ctx, size_t k, const dd_later *v, size_t n)
{
    return part_lists_append(ctx, k, v, n);
}

static size_t later_read(void *ctx, size_t k, size_t from, dd_later *out, size_t n)
{
    return part_lists_read(ctx, k, from, out, n);
}

/* dd_unit_lists.append and read. */
static bool units_append(void *ctx, size_t k, const dd_part_unit *v, size_t n)
{
    return part_lists_append(ctx, k, v, n);
}

static size_t units_read(void *ctx, size_t k, size_t from, dd_part_unit *out, size_t n)
{
    return part_lists_read(ctx, k, from, out, n);
}

/* The places of a round's boilerplate records (dd_place_store), at the
 * end of r->places, from `base` on: not held by the records while they are
 * made (paragraphs.h). */
typedef struct place_store {
    dd_scratch_array *places;
    size_t base;
    char *err; /* they could not be written to the scratch file */
} place_store;

static bool places_reserve(void *ctx, size_t n)
{
    place_store *s = ctx;
    enum { AT_ONCE = 256 };
    static const dd_place none[AT_ONCE];
    s->base = s->places->n;
    for (size_t i = 0; i < n && !s->err; i += AT_ONCE)
        dd_scratch_array_append(s->places, none, n - i < AT_ONCE ? n - i : AT_ONCE, &s->err);
    if (s->err) /* nothing held of the round's */
        dd_scratch_array_truncate(s->places, s->base);
    return !s->err;
}

static void places_set(void *ctx, size_t i, const dd_place *at)
{
    place_store *s = ctx;
    dd_scratch_array_set(s->places, s->base + i, at);
}

/* Decides on the text the documents have now which lines of the documents
 * kept repeat others (paragraphs.h), into *f (zeroed): its boilerplate
 * records' places at the end of r->places (their first_at counted from
 * its start). False, with an error in notes, past the paragraph table's
 * limits, or when the places could not be written to their scratch file. */
static bool decide_paragraphs(const dd_corpus *c, const dd_options *o, rounds *r, dd_findings *f,
                              dd_notes *notes)
{
    size_t n = c->inputs.n;
    dd_paragraphs *p =
        dd_paragraphs_new(c->units.v, &c->unit_starts, o->min_words, (uint32_t)o->boilerplate_df);
    if (c->units.spool) /* not in memory (run/units.h) */
        dd_paragraphs_read_units(p, corpus_unit, corpus_unit_alone, (void *)&c->units);
    dd_paragraphs_leave_out(p, c->unit_removed); /* the units the rounds before removed */
    size_t nunits = 0;
    for (size_t d = 0; d < n; d++) {
        if (!is_kept(c, r, d))
            continue;
        if (!dd_paragraphs_add(p, (uint32_t)d, notes)) {
            dd_paragraphs_free(p);
            return false;
        }
        size_t end = dd_unit_start(&c->unit_starts, d + 1);
        for (size_t u = dd_unit_start(&c->unit_starts, d); u < end; u++)
            nunits += !dd_corpus_unit_removed(c, u);
    }
    /* A near-repeat matched in a copy: an exact copy of that unit in an
     * earlier document kept is one too (it was not searched:
     * near_units.h); the table finds the first. */
    for (size_t k = 0; k < r->near.n; k++) {
        dd_near_unit near = near_of_round(r, k);
        const dd_near_unit *nu = &near;
        if (r->copy_of[nu->doc] == NOT_A_COPY && r->copy_of[nu->of_doc] != NOT_A_COPY)
            dd_paragraphs_want_first(
                p, unit_alone(c, dd_unit_start(&c->unit_starts, nu->of_doc) + nu->of).key);
    }
    /* The table, a part of the keys on each thread at a time. */
    unsigned threads = o->threads ? (unsigned)o->threads : dd_online_cpus();
    size_t nparts = table_parts(o, nunits, threads);
    dd_paragraphs_split(p, nparts);
    part_lists lists;
    part_lists_init(&lists, sizeof(dd_later), DD_LATER_BLOCK, nparts,
                    dd_memory_paragraph_later_share(o->memory), o,
                    "repeated paragraphs of a round");
    dd_later_lists keep = {&lists, later_append, later_read};
    dd_paragraphs_keep_later(p, &keep);
    /* Units in a scratch file: each part reading them all would read the
     * file once a part (143 MB at 1 GB; 8 parts in round 1 at --memory
     * 256M, 31 at 64M); they are read once instead and handed out to their
     * parts' lists (48 bytes a unit with its lines, not 64), which take as much memory as
     * the later occurrences (a sixteenth of --memory, of the quarter the
     * search across documents gave back) and then go to a scratch file
     * too. */
    part_lists handed;
    dd_unit_lists to_parts = {&handed, units_append, units_read};
    bool hand_out = c->units.spool && nparts > 1;
    if (hand_out) {
        part_lists_init(&handed, sizeof(dd_part_unit), DD_PART_UNIT_BLOCK, nparts,
                        dd_memory_paragraph_later_share(o->memory), o,
                        "paragraphs of a round by part of the keys");
        if (!dd_paragraphs_hand_out(p, &to_parts, notes)) {
            if (handed.err)
                dd_note_add(notes, DD_NOTE_ERROR,
                            "keeping the paragraphs of a round out of memory (--memory): %s",
                            handed.err);
            dd_paragraphs_free(p);
            part_lists_free(&handed);
            part_lists_free(&lists);
            return false;
        }
        dd_scratch_array_trim(&handed.all);
        round_phase_done(c->rounds + 1, "its paragraphs handed out to the table's parts");
    }
    if (threads > 1) {
        dd_pool *pool = dd_pool_new("paragraph table", threads, NULL, NULL, NULL);
        dd_pool_for(pool, dd_paragraphs_parts(p), p, build_part);
        dd_pool_free(pool);
    } else {
        for (size_t k = 0; k < dd_paragraphs_parts(p); k++)
            dd_paragraphs_build_part(p, k);
    }
    if (lists.err)
        dd_note_add(notes, DD_NOTE_ERROR,
                    "keeping the repeated paragraphs of a round out of memory (--memory): %s",
                    lists.err);
    if (hand_out)
        part_lists_free(&handed);
    if (!dd_paragraphs_parts_done(p, notes)) {
        dd_paragraphs_free(p);
        part_lists_free(&lists);
        return false;
    }
    dd_scratch_array_trim(&lists.all);
    round_phase_done(c->rounds + 1, "its paragraph table built");
    /* The near-repeats, read back from r->near a document at a time as
     * the findings are made. */
    near_reader reader = {c, r, 0, 0, false};
    dd_paragraphs_read_near(p, read_near, &reader);
    round_memory(c, r, p, "its paragraph table made");
    if (getenv("DEDUP_RUN_STATS"))
        fprintf(stderr,
                "dedup: memory at round %zu, its paragraph table made: later occurrences of "
                "paragraphs: %zu of %zu units, %.1f MB (%.1f MB in a scratch file)\n",
                c->rounds + 1, lists.all.n, nunits,
                (double)dd_scratch_array_memory_bytes(&lists.all) / 1e6,
                (double)dd_scratch_array_scratch_bytes(&lists.all) / 1e6);
    place_store store = {&r->places, 0, NULL};
    dd_place_store keep_places = {&store, places_reserve, places_set};
    dd_paragraphs_keep_places(p, &keep_places);
    round_drops_start(&r->drops, o);
    dd_paragraphs_keep_drops(p, &r->drops.store);
    dd_paragraphs_keep_repeats(p, &r->repeats.store);
    dd_paragraphs_finish(p, f);
    for (size_t i = 0; !store.err && i < f->nboilerplate; i++)
        f->boilerplate[i].first_at += store.base;
    if (getenv("DEDUP_RUN_STATS")) {
        size_t table = dd_paragraphs_memory_bytes(p), more = dd_paragraphs_finding_bytes(p);
        double units = c->units.n ? (double)c->units.n : 1.0;
        fprintf(stderr,
                "dedup: memory at round %zu, its findings made: paragraph table: %.1f MB (%.2f "
                "bytes a unit), and making the findings %.1f MB more (%.2f bytes a unit), %zu "
                "near-repeats held at once at most of the round's %zu\n",
                c->rounds + 1, (double)table / 1e6, (double)table / units, (double)more / 1e6,
                (double)more / units, dd_paragraphs_near_most(p), r->near.n);
        dd_memory_process(stderr, "the findings of the round");
    }
    dd_paragraphs_free(p);
    part_lists_free(&lists);
    const char *why = store.err; /* the first that could not be kept */
    if (!why)
        why = r->drops.err;
    if (!why)
        why = r->repeats.err;
    if (why) {
        dd_note_add(notes, DD_NOTE_ERROR,
                    "keeping what the rounds found out of memory (--memory): %s", why);
        free(store.err);
        return false;
    }
    return true;
}

/* Takes in the clusters k (freed here): their members become copies. */
static void take_copies(dd_corpus *c, rounds *r, dd_clusters *k)
{
    c->search.full_buckets += k->search.full_buckets;
    c->search.split += k->search.split;
    c->search.full_sub_buckets += k->search.full_sub_buckets;
    c->search.unlisted += k->search.unlisted;
    for (size_t i = 0; i < k->n; i++) {
        const dd_cluster *cl = &k->v[i];
        for (size_t m = 1; m < cl->n; m++)
            make_copy(c, r, cl->members[m].doc, cl->members[0].doc, &cl->members[m]);
    }
    dd_clusters_free(k);
}

/* The part of a document's key (a band's or a SimHash block's), among
 * nparts: from its top bits. */
static size_t key_part(uint64_t key, size_t nparts)
{
    return (size_t)(((key >> 32) * (uint64_t)nparts) >> 32);
}

/* A piece of a part of the keys of the documents changed (below): its
 * keys, and their set table once filled. */
typedef struct key_piece {
    uint64_t *keys;
    size_t n, cap;
    dd_set_table table;
} key_piece;

/* The keys of the documents changed, of part `part` (of nparts, within
 * the rounds' share of --memory), in `npieces` pieces: piece q holds
 * those of sub-part q of the part (key_part of part * npieces + q among
 * nparts * npieces), so that the tables are filled on the pool, each by
 * one thread (the fresh pages of one table, zeroed then filled, were 9 ms
 * of the news' round 2 on the calling thread alone, the other waiting),
 * and a key is looked up in its piece's. */
typedef struct sharing {
    const dd_corpus *c;
    const rounds *r;
    size_t part, nparts; /* of the keys */
    size_t most;         /* keys of a document at most */
    key_piece *pieces;
    size_t npieces;
    bool *again;
    size_t ndocs_parts; /* of the documents */
} sharing;

/* The piece of the part a key of part g->part is in. */
static size_t piece_of(const sharing *g, uint64_t key)
{
    return key_part(key, g->nparts * g->npieces) - g->part * g->npieces;
}

/* dd_pool work: piece q's table, on any thread. */
static void fill_piece(void *ctx, void *worker, size_t q)
{
    (void)worker;
    const sharing *g = ctx;
    key_piece *piece = &g->pieces[q];
    dd_set_table_fill(&piece->table, piece->keys, piece->n);
}

/* Whether document d has a key of part g->part in the tables. */
static bool shares_key(const sharing *g, const uint64_t *keys, size_t nkeys)
{
    for (size_t i = 0; i < nkeys; i++)
        if (key_part(keys[i], g->nparts) == g->part &&
            dd_set_table_count(&g->pieces[piece_of(g, keys[i])].table, &keys[i], 1) > 0)
            return true;
    return false;
}

/* dd_pool work: the documents of part k (of g->ndocs_parts) that share a
 * key with a document changed, marked in again[], on any thread (again[d]
 * is d's alone). */
static void find_sharing(void *ctx, void *worker, size_t k)
{
    (void)worker;
    const sharing *g = ctx;
    const dd_corpus *c = g->c;
    const dd_signatures *s = &c->signatures;
    size_t n = c->inputs.n;
    uint64_t *keys = dd_malloc((g->most + 1) * sizeof *keys);
    for (size_t d = n * k / g->ndocs_parts; d < n * (k + 1) / g->ndocs_parts; d++) {
        if (g->again[d] || gone(g->r, d) || c->failed[d] || !s->docs[d].words)
            continue;
        g->again[d] = shares_key(g, keys, dd_signature_keys(s, d, keys));
    }
    free(keys);
}

/* The bytes a key of the documents changed costs place_again: itself, and
 * up to 4 slots of the set table it goes to (at least twice as many slots
 * as keys, a power of two). */
#define CHANGED_KEY_BYTES (5 * sizeof(uint64_t))

/* Pieces of a part's keys a thread fills the tables of: several, so that
 * the threads end together. */
#define KEY_PIECES_A_THREAD 4

/* Marks in again[] the documents there that share a key (a band, a
 * SimHash block) with a document of r->changed, on the run's threads: the
 * keys of the documents changed a part at a time (by their top bits), as
 * many parts as keep a part within the rounds' share of --memory. */
static void mark_sharing(const dd_corpus *c, const dd_options *o, const rounds *r, bool *again)
{
    const dd_signatures *s = &c->signatures;
    size_t most = dd_near_keys_per_doc(&s->params);
    uint64_t need = (uint64_t)r->nchanged * most * CHANGED_KEY_BYTES;
    uint64_t share = dd_memory_rounds_share(o->memory);
    size_t nparts = need > share ? (size_t)((need + share - 1) / share) : 1;
    uint64_t *keys = dd_malloc((most + 1) * sizeof *keys);
    unsigned threads = o->threads ? (unsigned)o->threads : dd_online_cpus();
    dd_pool *pool = threads > 1 ? dd_pool_new("keys shared", threads, NULL, NULL, NULL) : NULL;
    size_t npieces = pool ? KEY_PIECES_A_THREAD * (size_t)threads : 1;
    sharing g = {.c = c,
                 .r = r,
                 .nparts = nparts,
                 .most = most,
                 .pieces = dd_calloc(npieces, sizeof *g.pieces),
                 .npieces = npieces,
                 .again = again,
                 .ndocs_parts = pool ? 4 * (size_t)threads : 1};
    size_t held = 0; /* bytes of keys of a part at most (DEDUP_RUN_STATS) */
    for (size_t part = 0; part < nparts; part++) {
        g.part = part;
        size_t nchanged_keys = 0;
        for (size_t q = 0; q < npieces; q++)
            g.pieces[q].n = 0;
        for (size_t k = 0; k < r->nchanged; k++) {
            uint32_t d = changed_doc(r, k);
            if (gone(r, d) || !s->docs[d].words)
                continue;
            size_t nkeys = dd_signature_keys(s, d, keys);
            for (size_t i = 0; i < nkeys; i++) {
                if (key_part(keys[i], nparts) != part)
                    continue;
                key_piece *piece = &g.pieces[piece_of(&g, keys[i])];
                dd_grow(&piece->keys, &piece->cap, piece->n + 1, sizeof *piece->keys);
                piece->keys[piece->n++] = keys[i];
                nchanged_keys++;
            }
        }
        if (nchanged_keys * 3 * sizeof *keys > held)
            held = nchanged_keys * 3 * sizeof *keys;
        if (pool) {
            dd_pool_for(pool, npieces, &g, fill_piece);
            dd_pool_for(pool, g.ndocs_parts, &g, find_sharing);
        } else {
            fill_piece(&g, NULL, 0);
            find_sharing(&g, NULL, 0);
        }
    }
    dd_pool_free(pool);
    if (getenv("DEDUP_RUN_STATS"))
        fprintf(stderr,
                "dedup: round %zu: the keys of the %zu documents changed, in %zu parts, %.1f MB "
                "a part at most\n",
                c->rounds + 1, r->nchanged, nparts, (double)held / 1e6);
    for (size_t q = 0; q < npieces; q++) {
        free(g.pieces[q].keys);
        dd_set_table_free(&g.pieces[q].table);
    }
    free(g.pieces);
    free(keys);
}

/* A later round's clusters: the documents a change of text concerns (see
 * above) placed again, in rank order, among themselves. */
static void place_again(dd_corpus *c, const dd_options *o, rounds *r)
{
    dd_signatures *s = &c->signatures;
    size_t n = c->inputs.n;
    dd_corpus_link_documents(c, &r->near);
    bool *again = dd_calloc(n ? n : 1, sizeof *again);
    /* The documents whose text changed, ... */
    for (size_t k = 0; k < r->nchanged; k++) {
        uint32_t d = changed_doc(r, k);
        if (!gone(r, d))
            again[d] = true;
    }
    /* ... the documents that share a key with one of them ... */
    mark_sharing(c, o, r, again);
    /* ... or a paragraph with one of them ... */
    for (size_t k = 0; k < r->near.n; k++) {
        dd_near_unit near = near_of_round(r, k);
        const dd_near_unit *nu = &near;
        if (!nu->alternative && (is_changed(r, nu->doc) || is_changed(r, nu->of_doc)))
            again[nu->doc] = again[nu->of_doc] = true;
    }
    /* ... and the clusters they are in. */
    for (size_t d = 0; d < n; d++)
        if (again[d] && !gone(r, d) && r->copy_of[d] != NOT_A_COPY)
            again[r->copy_of[d]] = true;
    for (size_t d = 0; d < n; d++)
        if (!gone(r, d) && r->copy_of[d] != NOT_A_COPY && again[r->copy_of[d]])
            again[d] = true;

    uint32_t *order = dd_malloc((n ? n : 1) * sizeof *order);
    dd_rank_documents(s, order);
    size_t nplace = 0;
    for (size_t i = 0; i < n; i++)
        if (again[order[i]] && !gone(r, order[i]))
            order[nplace++] = order[i];
    dd_clusters k;
    dd_corpus_place(c, o, order, nplace, &k);
    for (size_t d = 0; d < n; d++)
        if (again[d] && !gone(r, d))
            r->copy_of[d] = NOT_A_COPY;
    take_copies(c, r, &k);
    free(order);
    free(again);
}

/* Appends the n elements of `from` (of `size` bytes, capacity from_cap,
 * freed here) to `to` (*n_to elements, capacity *to_cap); returns the
 * array that holds them all. When `to` is empty, `from` itself is: a copy
 * would hold both at once (round 1's findings, 7.0 MB on the 1 GB corpus,
 * made the peak of --memory 16M there: bench/README.md, rounds16). */
static void *append_findings(void *to, size_t *n_to, size_t *to_cap, void *from, size_t n,
                             size_t from_cap, size_t size)
{
    if (*n_to == 0) {
        free(to);
        *n_to = n;
        *to_cap = from_cap;
        return from;
    }
    dd_grow(&to, to_cap, *n_to + n, size);
    if (n)
        memcpy((char *)to + *n_to * size, from, n * size);
    free(from);
    *n_to += n;
    return to;
}

static int compare_drops(const dd_drop *x, const dd_drop *y)
{
    if (x->doc != y->doc)
        return x->doc < y->doc ? -1 : 1;
    return (x->first_line > y->first_line) - (x->first_line < y->first_line);
}

/* Starts *a, empty, for the lines removed (c->removed or the next one). */
static void removed_init(dd_scratch_array *a, const dd_options *o)
{
    dd_scratch_array_init(a, sizeof(dd_drop), dd_memory_findings_share(o->memory), o->tmp_dir,
                          "lines removed by the rounds");
}

/* Appends drop to *a, the lines removed, and its fence to *fence (*cap:
 * its capacity) when it is the first of DD_REMOVED_FENCE. False, with
 * *err set, when it could not be written. */
static bool removed_append(dd_scratch_array *a, uint32_t **fence, size_t *cap, const dd_drop *drop,
                           char **err)
{
    if (a->n % DD_REMOVED_FENCE == 0) {
        dd_grow(fence, cap, a->n / DD_REMOVED_FENCE + 1, sizeof **fence);
        (*fence)[a->n / DD_REMOVED_FENCE] = drop->doc;
    }
    return dd_scratch_array_append(a, drop, 1, err);
}

/* Makes *next (removed_init) the lines removed: c->removed freed. */
static void removed_replace(dd_corpus *c, dd_scratch_array *next, uint32_t *fence, size_t cap)
{
    dd_scratch_array_free(&c->removed);
    free(c->removed_fence);
    dd_scratch_array_trim(next);
    c->removed = *next;
    c->removed_fence = fence;
    c->removed_fence_cap = cap;
}

/* Adds f's drops (by document, then line: paragraphs.h) to the lines
 * removed so far (c->removed: merged ranges, by document then line): the
 * two merged, in order, into a new array, within the findings' share of
 * --memory (two at once: memory.h), then past it in its scratch file.
 * False, with *err set, when they could not be written there: c->removed
 * is then as it was. */
static bool add_removed_lines(dd_corpus *c, const dd_options *o, const dd_findings *f, char **err)
{
    dd_scratch_array merged;
    removed_init(&merged, o);
    uint32_t *fence = NULL;
    size_t fence_cap = 0;
    const dd_scratch_array *old = &c->removed;
    size_t i = 0;
    dd_drops_merge *round = dd_drops_merge_new(f);
    dd_drop from_round;
    bool more = dd_drops_merge_next(round, &from_round);
    dd_drop last = {0};
    bool any = false, ok = true;
    while (ok && (i < old->n || more)) {
        dd_drop next;
        const dd_drop *o_i = i < old->n ? dd_scratch_array_get(old, i) : NULL;
        if (o_i && (!more || compare_drops(o_i, &from_round) <= 0)) {
            next = *o_i, i++;
        } else {
            next = from_round;
            more = dd_drops_merge_next(round, &from_round);
        }
        if (any && last.doc == next.doc && next.first_line <= last.last_line + 1) {
            if (next.last_line > last.last_line)
                last.last_line = next.last_line;
        } else {
            ok = !any || removed_append(&merged, &fence, &fence_cap, &last, err);
            last = next;
            any = true;
        }
    }
    dd_drops_merge_free(round);
    if (ok && any)
        ok = removed_append(&merged, &fence, &fence_cap, &last, err);
    if (!ok) {
        dd_scratch_array_free(&merged);
        free(fence);
        return false;
    }
    removed_replace(c, &merged, fence, fence_cap);
    return true;
}

/* Moves the places that f's boilerplate records hold (none when
 * decide_paragraphs stored them) to the end of r->places (each record's
 * from first_at on, its at freed). False, with *err set, when they could
 * not be written there. */
static bool move_places(rounds *r, dd_findings *f, char **err)
{
    for (size_t i = 0; i < f->nboilerplate; i++) {
        dd_boilerplate *b = &f->boilerplate[i];
        if (!b->at)
            continue;
        b->first_at = r->places.n;
        if (!dd_scratch_array_append(&r->places, b->at, b->n, err))
            return false;
        free(b->at);
        b->at = NULL;
    }
    return true;
}

/* Takes in the findings f of a round (freed here): the lines they remove
 * leave the text (c->removed, c->unit_removed), and r->changed lists the
 * documents that lose a unit (*changed: whether any did). False, with an
 * error in notes, when what they find could not be written to a scratch
 * file. */
static bool record_lines(dd_corpus *c, const dd_options *o, rounds *r, dd_findings *f,
                         bool *changed, dd_notes *notes)
{
    memset(r->changed, 0, r->nwords * sizeof *r->changed);
    r->nchanged = 0;
    if (getenv("DEDUP_RUN_STATS"))
        fprintf(stderr,
                "dedup: memory at round %zu, its lines removed taken in: %zu ranges found in %zu "
                "runs, %.1f MB (%.1f MB in a scratch file)\n",
                c->rounds, f->drops_written, f->ndrop_runs,
                (double)dd_scratch_array_memory_bytes(&r->drops.a) / 1e6,
                (double)dd_scratch_array_scratch_bytes(&r->drops.a) / 1e6);
    /* The drops, merged, come by document, then line: each document's
     * units are walked once, with its ranges. */
    dd_drops_merge *m = dd_drops_merge_new(f);
    dd_drop *of_doc = NULL, next;
    size_t cap = 0;
    bool more = dd_drops_merge_next(m, &next);
    while (more) {
        uint32_t doc = next.doc;
        size_t n = 0;
        for (; more && next.doc == doc; more = dd_drops_merge_next(m, &next)) {
            dd_grow(&of_doc, &cap, n + 1, sizeof *of_doc);
            of_doc[n++] = next;
        }
        size_t d = 0, end = dd_unit_start(&c->unit_starts, doc + 1);
        for (size_t u = dd_unit_start(&c->unit_starts, doc); u < end; u++) {
            if (dd_corpus_unit_removed(c, u) ||
                !dd_line_dropped(of_doc, n, &d, dd_units_get(&c->units, u).first_line))
                continue;
            dd_corpus_remove_unit(c, u);
            if (!is_changed(r, doc)) {
                dd_bit_set(r->changed, doc);
                r->nchanged++;
                c->text_version[doc]++; /* its cached set is of the text before */
            }
        }
    }
    free(of_doc);
    dd_drops_merge_free(m);
    *changed = r->nchanged > 0;
    for (size_t w = 0, before = 0; w < r->nwords; w++) {
        r->changed_before[w] = (uint32_t)before;
        before += (size_t)__builtin_popcountll(r->changed[w]);
    }
    char *err = NULL;
    /* The places of the boilerplate held (none when decide_paragraphs
     * stored them) go first, then the round's drops join c->removed (its
     * repeats are in r->repeats already). */
    bool ok = move_places(r, f, &err) && add_removed_lines(c, o, f, &err);
    round_drops_free(&r->drops);
    if (!ok) {
        dd_note_add(notes, DD_NOTE_ERROR,
                    "keeping what the rounds found out of memory (--memory): %s", err);
        free(err);
        dd_findings_free(f);
        return false;
    }
    /* The boilerplate records join those of the rounds before, with what
     * they hold. */
    dd_findings *all = &r->found;
    all->boilerplate =
        append_findings(all->boilerplate, &all->nboilerplate, &all->boilerplate_cap, f->boilerplate,
                        f->nboilerplate, f->boilerplate_cap, sizeof *f->boilerplate);
    f->boilerplate = NULL;
    f->nboilerplate = 0;
    dd_findings_free(f);
    return true;
}

/* What analysing documents again needs: one per thread (ICU objects are not
 * shared). */
typedef struct worker {
    dd_analysis_worker *analysis;
    sh_buf text, cleaned;
    dd_doc doc;
    size_t *kept; /* the document's units still there, as units of the whole text */
    size_t kept_cap;
    dd_unit *units; /* the document's units, read from their scratch file */
    size_t units_cap;
} worker;

static void worker_free(void *ctx, void *state)
{
    (void)ctx;
    worker *w = state;
    if (!w)
        return;
    dd_analysis_worker_free(w->analysis);
    sh_buf_free(&w->text);
    sh_buf_free(&w->cleaned);
    dd_doc_free(&w->doc);
    free(w->kept);
    free(w->units);
    free(w);
}

/* What analysing a document again found. */
typedef struct reanalysed {
    dd_run_result run;
    dd_notes notes;         /* what the engine has to say of it */
    bool failed;            /* it could not be read again, or not as expected: an error */
    bool moved;             /* it changed on disk since the first pass: a warning */
    bool ok;                /* the rest is set */
    dd_near_unit_list near; /* near-repeats inside it, as units of its whole text */
    dd_signed sig;
} reanalysed;

/* For measuring (DEDUP_RUN_STATS): the bytes of the documents being
 * analysed again or waiting to be taken, and the most of them at once. */
typedef struct in_flight_bytes {
    _Atomic uint64_t bytes, most;
} in_flight_bytes;

typedef struct again {
    dd_corpus *c;
    const dd_options *o;
    const dd_text_source *src;
    rounds *r;
    dd_notes notes; /* those of the documents, in order */
    /* The near-repeats inside the documents, made in document order as
     * the documents are taken: the new ones of those analysed again, the
     * old ones (c->near_inside, up to old_next) of the others. */
    dd_near_unit_list inside;
    size_t old_next;
    in_flight_bytes *in_flight; /* written by every thread */
} again;

/* dd_ordered_map.weight of analyse_again: the bytes as read of the k-th
 * document changed (changed_doc), which its analysis holds (its text,
 * cleaned, cut) while it runs. */
static uint64_t again_weight(void *ctx, size_t k)
{
    const again *g = ctx;
    return dd_corpus_size(g->c, changed_doc(g->r, k));
}

/* dd_ordered_map.worker_new of analyse_again: NULL when ICU cannot start
 * (analyse_again_work then says so, in order). */
static void *worker_new(void *ctx)
{
    const again *g = ctx;
    dd_analysis_worker *analysis = dd_analysis_worker_new(g->o->unit, &g->o->near, &g->o->hash);
    if (!analysis)
        return NULL;
    worker *w = dd_calloc(1, sizeof *w);
    w->analysis = analysis;
    return w;
}

static void reanalysed_free(void *ctx, void *result)
{
    (void)ctx;
    reanalysed *r = result;
    free(r->near.v);
    dd_signed_free(&r->sig);
    dd_notes_free(&r->notes);
    sh_buf messages = r->run.messages;
    memset(r, 0, sizeof *r);
    r->run.messages = messages;
}

/* dd_ordered_map.work of analyse_again: the k-th document changed, on the
 * text it has now. Pure: reads the corpus, writes r and the worker's scratch. */
static void analyse_again_work(void *ctx, void *state, size_t k, void *result)
{
    const again *g = ctx;
    const dd_corpus *c = g->c;
    const dd_options *o = g->o;
    worker *w = state;
    reanalysed *r = result;
    uint32_t d = changed_doc(g->r, k);
    uint64_t bytes =
        atomic_fetch_add(&g->in_flight->bytes, dd_corpus_size(c, d)) + dd_corpus_size(c, d);
    for (uint64_t most = atomic_load(&g->in_flight->most);
         bytes > most && !atomic_compare_exchange_weak(&g->in_flight->most, &most, bytes);)
        ;
    r->failed = r->moved = r->ok = false;
    r->near.n = 0;
    dd_notes_clear(&r->notes);
    if (!w) {
        dd_note_add(&r->notes, DD_NOTE_ERROR, "cannot start the normaliser");
        r->failed = true;
        return;
    }
    const char *text;
    size_t len;
    switch (g->src->document(g->src->ctx, d, &w->text, &text, &len)) {
    case DD_TEXT_OK:
        break;
    case DD_TEXT_NONE:
        return;
    case DD_TEXT_FAILED:
        r->failed = true;
        return;
    case DD_TEXT_CHANGED:
        r->moved = true;
        return;
    }
    dd_corpus_current_text(c, d, &text, &len, &w->cleaned);
    if (dd_analyze(&w->analysis->analyzer, text, len, &w->doc) != SH_OK)
        return;
    /* Its units are the units still there, in order. */
    size_t nkept = 0, first = dd_unit_start(&c->unit_starts, d),
           end = dd_unit_start(&c->unit_starts, d + 1);
    dd_grow(&w->kept, &w->kept_cap, end - first + 1, sizeof *w->kept);
    for (size_t u = first; u < end; u++)
        if (!dd_corpus_unit_removed(c, u))
            w->kept[nkept++] = u - first;
    /* Its units read in one span of their bytes: through the thread's
     * blocks of the scratch file, the documents of other threads between
     * two of its own and the other arrays read between two documents read
     * a block again (1 GB, --memory 16M: two passes over the file). */
    const dd_unit *units = dd_units_span(&c->units, first, end - first, &w->units, &w->units_cap);
    bool same = w->doc.nunits == nkept;
    for (size_t u = 0; same && u < nkept; u++)
        same = sh_key_equal(w->doc.units[u].key, units[w->kept[u]].key);
    if (!same) { /* removing whole lines leaves the other units as they were */
        char *p = dd_input_printable_id(&c->inputs, d);
        dd_note_add(&r->notes, DD_NOTE_ERROR,
                    "%s: the text left does not hold the paragraphs left (a bug); compared as "
                    "before",
                    p);
        free(p);
        r->failed = true;
        return;
    }
    dd_unit_sets *sets = &w->analysis->sets;
    dd_unit_sets_compute(sets, &w->doc, &o->hash);
    dd_find_near_units(d, &w->doc, sets, o->para_threshold, o->min_words, &r->near);
    for (size_t i = 0; i < r->near.n; i++) {
        r->near.v[i].unit = w->kept[r->near.v[i].unit];
        r->near.v[i].of = w->kept[r->near.v[i].of];
    }
    dd_signer_sign(&w->analysis->signer, &w->doc.words, w->doc.key, &o->hash, &r->sig);
    r->ok = true;
}

/* Moves to g->inside the near-repeats inside the documents before doc
 * (as read, or as analysed in an earlier round) that c->near_inside holds,
 * but those of units removed since (should one not be read again). */
static void keep_old_inside(again *g, uint32_t doc)
{
    const dd_corpus *c = g->c;
    const dd_near_unit_list *old = &c->near_inside;
    for (; g->old_next < old->n && old->v[g->old_next].doc < doc; g->old_next++) {
        const dd_near_unit *nu = &old->v[g->old_next];
        const size_t first = dd_unit_start(&c->unit_starts, nu->doc);
        if (!dd_corpus_unit_removed(c, first + nu->unit) &&
            !dd_corpus_unit_removed(c, first + nu->of))
            dd_near_units_append(&g->inside, nu, 1);
    }
}

/* Passes over the old near-repeats inside document doc (c->near_inside):
 * it was analysed again. */
static void skip_old_inside(again *g, uint32_t doc)
{
    const dd_near_unit_list *old = &g->c->near_inside;
    while (g->old_next < old->n && old->v[g->old_next].doc == doc)
        g->old_next++;
}

/* dd_ordered_map.consume of analyse_again: in document order. */
static bool analyse_again_take(void *ctx, size_t k, void *result)
{
    again *g = ctx;
    dd_corpus *c = g->c;
    reanalysed *r = result;
    uint32_t d = changed_doc(g->r, k);
    atomic_fetch_sub(&g->in_flight->bytes, dd_corpus_size(c, d));
    dd_notes_move(&g->notes, &r->notes);
    keep_old_inside(g, d);
    if (r->failed && c->reread[d] == DD_REREAD_OK)
        dd_corpus_reread_failed(c, d);
    else if (r->moved)
        DD_REREAD_SET(c, d, DD_REREAD_CHANGED);
    if (!r->ok)
        return true; /* compared as before, without the units removed */
    skip_old_inside(g, d);
    dd_near_units_append(&g->inside, r->near.v, r->near.n);
    keep_first_signature(c, g->r, d);
    dd_signatures *s = &c->signatures;
    s->docs[d] = r->sig.doc;
    if (s->params.enabled && s->params.method == DD_METHOD_MINHASH)
        dd_signature_set_minhash(s, d, r->sig.minhash);
    else if (s->params.enabled)
        s->simhash[d] = r->sig.simhash;
    return true;
}

/* Analyses the documents of r->changed again, on the text they have now:
 * their signatures, and the near-repeats inside them (c->near_inside). */
static void analyse_again(dd_corpus *c, const dd_options *o, const dd_text_source *src, rounds *r,
                          dd_notes *notes)
{
    in_flight_bytes in_flight = {0, 0};
    again g = {.c = c, .o = o, .src = src, .r = r, .in_flight = &in_flight};
    unsigned threads = o->threads ? (unsigned)o->threads : dd_online_cpus();
    dd_ordered_map m = {
        .n = r->nchanged,
        .threads = threads,
        .caller_works = true, /* as the first pass (corpus.c) */
        /* Its results are small (the text is the worker's): a wide window
         * keeps the workers busy past a long document; the bytes of the
         * documents in it are within the rounds' share of --memory (their
         * table is freed, the next round's keys not made yet), but for
         * the next document to take, always let in. */
        .window = 64 * (size_t)threads,
        .max_weight = dd_memory_rounds_share(o->memory),
        .weight = again_weight,
        .ctx = &g,
        .result_size = sizeof(reanalysed),
        .worker_new = worker_new,
        .worker_free = worker_free,
        .work = analyse_again_work,
        .consume = analyse_again_take,
        .result_free = reanalysed_free,
    };
    dd_run_in_order(&m);
    dd_notes_move(notes, &g.notes);
    dd_notes_free(&g.notes);
    keep_old_inside(&g, UINT32_MAX); /* those after the last document analysed */
    if (getenv("DEDUP_RUN_STATS")) {
        uint64_t bytes = 0;
        for (size_t k = 0; k < r->nchanged; k++)
            bytes += dd_corpus_size(c, changed_doc(r, k));
        fprintf(stderr,
                "dedup: round %zu: %zu documents analysed again, %.1f KB, at most %.1f KB of them "
                "at once (a window of %.1f KB)\n",
                c->rounds, r->nchanged, (double)bytes / 1e3,
                (double)atomic_load(&in_flight.most) / 1e3, (double)m.max_weight / 1e3);
    }
    free(c->near_inside.v);
    c->near_inside = g.inside;
}

/* The rounds' runs of repeats (round_repeats, its ctx) as a source of
 * dd_kway_merge. */
static size_t repeat_run_length(const void *ctx, size_t run)
{
    const round_repeats *k = ctx;
    return k->ends[run] - (run ? k->ends[run - 1] : 0);
}

static size_t repeat_run_read(const void *ctx, size_t run, size_t from, void *out, size_t n)
{
    const round_repeats *k = ctx;
    size_t length = repeat_run_length(k, run);
    if (from >= length)
        return 0;
    if (n > length - from)
        n = length - from;
    dd_scratch_array_read(&k->a, (run ? k->ends[run - 1] : 0) + from, n, out);
    return n;
}

/* The repeats read at once when the runs are merged, in all (45 KB), at
 * least 4 a run. */
#define REPEATS_MERGE_READ 512

/* Appends to c->repeats the rounds' repeats in the documents kept (with
 * copies_stay: all of them), by document then line: the rounds' runs
 * merged (a stable merge: what sorting them all gave). False, with *err
 * set, when they could not be written to its scratch file. */
static bool merge_repeats(dd_corpus *c, const rounds *r, char **err)
{
    dd_kway_source src = {.ctx = &r->repeats,
                          .size = sizeof(dd_repeat),
                          .nruns = r->repeats.nruns,
                          .length = repeat_run_length,
                          .read = repeat_run_read,
                          .compare = dd_repeat_compare};
    size_t per_run = r->repeats.nruns ? REPEATS_MERGE_READ / r->repeats.nruns : 1;
    dd_kway_merge *m = dd_kway_merge_new(&src, per_run < 4 ? 4 : per_run);
    dd_repeat next;
    bool ok = true;
    while (ok && dd_kway_merge_next(m, &next))
        if (r->copies_stay || !c->clusters.dropped[next.at.doc])
            ok = dd_scratch_array_append(&c->repeats, &next, 1, err);
    dd_kway_merge_free(m);
    return ok;
}

/* A boilerplate record and its first place, for sorting the records. */
typedef struct record_first {
    dd_place first;
    dd_boilerplate b;
} record_first;

static int compare_boilerplate(const void *a, const void *b)
{
    const dd_place *x = &((const record_first *)a)->first;
    const dd_place *y = &((const record_first *)b)->first;
    if (x->doc != y->doc)
        return x->doc < y->doc ? -1 : 1;
    return (x->first_line > y->first_line) - (x->first_line < y->first_line);
}

static int compare_cluster_id(const void *a, const void *b)
{
    uint32_t x = ((const dd_cluster *)a)->id, y = ((const dd_cluster *)b)->id;
    return (x > y) - (x < y);
}

/* The document that document d is, in the end, a copy of. */
static uint32_t final_representative(const rounds *r, uint32_t d)
{
    while (r->copy_of[d] != NOT_A_COPY)
        d = r->copy_of[d];
    return d;
}

/* What the rounds decided, as c->clusters and c->findings: the copies,
 * and, in the documents kept (copies_stay: in every document), the
 * findings and the lines removed. */
static bool finish_rounds(dd_corpus *c, const dd_options *o, rounds *r, dd_notes *notes)
{
    size_t n = c->inputs.n;
    dd_clusters *out = &c->clusters;
    memset(out, 0, sizeof *out);
    out->id_of = dd_calloc(n ? n : 1, sizeof *out->id_of);
    out->dropped = dd_calloc(n ? n : 1, sizeof *out->dropped);
    /* Ids in input order of the documents that are not copies; a cluster
     * holds its representative, then the copies of it (and of its copies)
     * in input order. */
    uint32_t next_id = 0;
    /* Per document: a copy's final representative (its chain walked once),
     * a representative's cluster in out->v (UINT32_MAX: none yet). */
    uint32_t *rep_or_cluster = dd_malloc((n ? n : 1) * sizeof *rep_or_cluster);
    for (size_t d = 0; d < n; d++) {
        rep_or_cluster[d] = UINT32_MAX;
        if (r->copy_of[d] == NOT_A_COPY)
            out->id_of[d] = ++next_id;
    }
    /* Each cluster's room made exactly: the clusters are counted and
     * opened in input order of their first copy, then their copies
     * counted, then put in (dd_grow's first room of 16 members, 640
     * bytes, for clusters of 1.2 copies on average: 5.2 MB on 1 GB,
     * 55 bytes a document, the rounds' most when they ended). */
    for (uint32_t d = 0; d < n; d++) {
        if (r->copy_of[d] == NOT_A_COPY)
            continue;
        uint32_t rep = final_representative(r, d);
        rep_or_cluster[d] = rep;
        out->id_of[d] = out->id_of[rep];
        out->dropped[d] = true;
        if (rep_or_cluster[rep] == UINT32_MAX)
            rep_or_cluster[rep] = (uint32_t)out->n++;
    }
    out->v = dd_calloc(out->n ? out->n : 1, sizeof *out->v);
    for (uint32_t d = 0; d < n; d++)
        if (r->copy_of[d] != NOT_A_COPY)
            out->v[rep_or_cluster[rep_or_cluster[d]]].cap++;
    for (uint32_t d = 0; d < n; d++) {
        if (r->copy_of[d] == NOT_A_COPY)
            continue;
        uint32_t rep = rep_or_cluster[d];
        dd_cluster *cl = &out->v[rep_or_cluster[rep]];
        if (!cl->members) {
            cl->id = out->id_of[rep];
            cl->members = dd_malloc(++cl->cap * sizeof *cl->members); /* and its representative */
            cl->members[cl->n++] =
                (dd_member){.doc = rep, .of = rep, .jaccard = 1.0, .containment = 1.0};
        }
        cl->members[cl->n++] = *(const dd_member *)dd_scratch_array_get(&r->copy, d);
    }
    free(rep_or_cluster);
    /* The clusters were opened in input order of their first copy: by id. */
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, compare_cluster_id);

    /* Findings in the documents kept. */
    dd_findings *f = &c->findings, *all = &r->found;
    *f = *all;
    memset(all, 0, sizeof *all);
    /* The repeats, in a new array of those in the documents kept: not in
     * f->repeats (run/corpus.h). */
    dd_scratch_array_init(&c->repeats, sizeof(dd_repeat), dd_memory_findings_share(o->memory),
                          o->tmp_dir, "repeats found");
    char *err = NULL;
    bool ok = merge_repeats(c, r, &err);
    f->nrepeats = ok ? c->repeats.n : 0;
    round_repeats_free(&r->repeats);
    dd_scratch_array_trim(&c->repeats);
    /* The boilerplate records' places in the documents kept, in a new
     * array of places (the records in order of their first one); a record
     * left with none goes. */
    dd_scratch_array_init(&c->places, sizeof(dd_place), dd_memory_findings_share(o->memory),
                          o->tmp_dir, "places of the boilerplate");
    record_first *sorted = dd_malloc((f->nboilerplate ? f->nboilerplate : 1) * sizeof *sorted);
    size_t w = 0;
    for (size_t i = 0; ok && i < f->nboilerplate; i++) {
        dd_boilerplate *b = &f->boilerplate[i];
        size_t first_at = c->places.n;
        for (size_t k = 0; ok && k < b->n; k++) {
            dd_place at = *(const dd_place *)dd_scratch_array_get(&r->places, b->first_at + k);
            if (!r->copies_stay && out->dropped[at.doc])
                continue;
            if (c->places.n == first_at)
                sorted[w].first = at;
            ok = dd_scratch_array_append(&c->places, &at, 1, &err);
        }
        b->first_at = first_at;
        b->n = c->places.n - first_at;
        if (b->n)
            sorted[w++].b = *b;
    }
    f->nboilerplate = ok ? w : 0;
    if (f->nboilerplate > 1)
        qsort(sorted, f->nboilerplate, sizeof *sorted, compare_boilerplate);
    for (size_t i = 0; i < f->nboilerplate; i++)
        f->boilerplate[i] = sorted[i].b;
    free(sorted);
    dd_scratch_array_free(&r->places);
    dd_scratch_array_trim(&c->places);
    /* The lines removed: those of the copies that left taken out, in a
     * new array. */
    dd_scratch_array kept;
    removed_init(&kept, o);
    uint32_t *fence = NULL;
    size_t fence_cap = 0;
    for (size_t i = 0; ok && i < c->removed.n; i++) {
        dd_drop drop = *(const dd_drop *)dd_scratch_array_get(&c->removed, i);
        if (r->copies_stay || !out->dropped[drop.doc])
            ok = removed_append(&kept, &fence, &fence_cap, &drop, &err);
    }
    if (!ok) {
        dd_note_add(notes, DD_NOTE_ERROR,
                    "keeping what the rounds found out of memory (--memory): %s", err);
        free(err);
        dd_scratch_array_free(&kept);
        free(fence);
        return false;
    }
    removed_replace(c, &kept, fence, fence_cap);
    return true;
}

bool dd_rounds_run(dd_corpus *c, const dd_options *o, const dd_text_source *src, dd_notes *notes)
{
    size_t n = c->inputs.n;
    c->unit_removed = dd_calloc(c->units.n / 64 + 1, sizeof *c->unit_removed);
    removed_init(&c->removed, o);
    /* The near-repeats inside documents, as read (their first pass lists
     * them with those across). */
    for (size_t k = 0; k < c->near_units.n; k++) {
        const dd_near_unit *nu = dd_scratch_array_get(&c->near_units, k);
        if (nu->doc == nu->of_doc)
            dd_near_units_append(&c->near_inside, nu, 1);
    }
    rounds r = {.copies_stay = o->in_place, .keep_first = o->index != NULL};
    r.copy_of = dd_malloc((n ? n : 1) * sizeof *r.copy_of);
    r.nwords = n / 64 + 1;
    r.changed = dd_calloc(r.nwords, sizeof *r.changed);
    r.changed_before = dd_calloc(r.nwords, sizeof *r.changed_before);
    if (r.keep_first) /* 4 bytes a document that only --index needs */
        r.first_of = dd_calloc(n ? n : 1, sizeof *r.first_of);
    for (size_t d = 0; d < n; d++)
        r.copy_of[d] = NOT_A_COPY;
    dd_signatures_init(&r.first, &o->near, &o->hash, NULL); /* as c->signatures was */
    dd_scratch_array_init(&r.places, sizeof(dd_place), dd_memory_findings_share(o->memory),
                          o->tmp_dir, "places of the boilerplate of the rounds");
    round_repeats_init(&r.repeats, o);
    bool ok = copies_init(&r.copy, n, o, notes);
    while (ok) {
        if (!(ok = round_near_units(c, o, &r, notes)))
            break;
        if (c->rounds == 0)
            take_copies(c, &r, &c->clusters); /* placed by the first pass */
        else if (o->near.enabled)
            place_again(c, o, &r);
        round_phase_done(c->rounds + 1, "its documents placed");
        round_memory(c, &r, NULL, "its documents placed");
        dd_corpus_forget_sets(c);
        dd_findings f = {0};
        if (!(ok = decide_paragraphs(c, o, &r, &f, notes))) {
            dd_findings_free(&f);
            break;
        }
        c->rounds++;
        round_phase_done(c->rounds, "its paragraphs decided");
        bool changed;
        if (!(ok = record_lines(c, o, &r, &f, &changed, notes)) || !changed)
            break;
        if (c->rounds == DD_MAX_ROUNDS) {
            dd_note_add(notes, DD_NOTE_WARNING,
                        "still finding repeats after %d rounds of decisions: what clean leaves may "
                        "hold more",
                        DD_MAX_ROUNDS);
            break;
        }
        analyse_again(c, o, src, &r, notes);
        round_phase_done(c->rounds, "the documents it changed analysed again");
        round_memory(c, &r, NULL, "its documents analysed again");
    }
    if (ok)
        ok = finish_rounds(c, o, &r, notes);
    if (getenv("DEDUP_RUN_STATS"))
        dd_memory_process(stderr, "the end of the rounds");
    restore_first_signatures(c, &r);
    dd_signatures_free(&r.first);
    free(r.first_of);
    dd_scratch_array_free(&r.near);
    dd_scratch_array_free(&r.near_lines);
    dd_scratch_array_free(&r.places);
    round_repeats_free(&r.repeats);
    round_drops_free(&r.drops);
    dd_findings_free(&r.found);
    free(r.copy_of);
    dd_scratch_array_free(&r.copy);
    free(r.changed);
    free(r.changed_before);
    return ok;
}
