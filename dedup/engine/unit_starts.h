/*
 * unit_starts.h - where each document's units start among all the units of
 * a corpus (run/corpus.h: the units of every document, in order), in about
 * 4 bytes a document instead of 8.
 *
 * Document d has the units [dd_unit_start(s, d), dd_unit_start(s, d + 1)).
 * Each start is kept as a 32-bit offset from the start of its group of
 * DD_UNIT_STARTS_GROUP documents (the group's first document's, 64 bits):
 * 4 bytes a document and 8 a group. A start more than 2^32 - 2 units past
 * its group's (the documents before it in the group hold over four billion
 * paragraphs) is kept apart with its document (16 bytes), found by a
 * binary search: the result is the same, whatever the counts.
 *
 * Starts are set in increasing order of document, each at least the one
 * before; reading is thread-safe while none is set.
 */
#ifndef DD_ENGINE_UNIT_STARTS_H
#define DD_ENGINE_UNIT_STARTS_H

#include <stddef.h>
#include <stdint.h>

#define DD_UNIT_STARTS_GROUP 64

/* An offset that does not fit: the start is in far. */
#define DD_UNIT_START_FAR UINT32_MAX

/* A start kept apart: its document's, in full. */
typedef struct dd_unit_start_far {
    uint64_t doc, start;
} dd_unit_start_far;

typedef struct dd_unit_starts {
    uint64_t *group;        /* per group: the start of its first document */
    uint32_t *off;          /* per document: its start less its group's, or DD_UNIT_START_FAR */
    dd_unit_start_far *far; /* the starts that do not fit an offset, by document */
    size_t nfar, far_cap;
    size_t n;    /* starts set: those of documents [0, n) */
    size_t room; /* starts it has room for */
} dd_unit_starts;

/* Starts s with room for the starts of ndocs documents and the end of the
 * last (ndocs + 1), none set. */
void dd_unit_starts_init(dd_unit_starts *s, size_t ndocs);
void dd_unit_starts_free(dd_unit_starts *s);

/* Sets the start of document d (below the room, not set yet) to start (at
 * least the last one set); the documents between the last one set and d
 * get the same start: no units. */
void dd_unit_starts_set(dd_unit_starts *s, size_t d, size_t start);

/* The start of document d (set), kept apart (dd_unit_start). */
size_t dd_unit_start_far_of(const dd_unit_starts *s, size_t d);

/* The start of document d (set): the first of its units. */
static inline size_t dd_unit_start(const dd_unit_starts *s, size_t d)
{
    uint32_t off = s->off[d];
    if (off != DD_UNIT_START_FAR)
        return (size_t)s->group[d / DD_UNIT_STARTS_GROUP] + off;
    return dd_unit_start_far_of(s, d);
}

/* The bytes s holds (allocated). */
size_t dd_unit_starts_bytes(const dd_unit_starts *s);

#endif
