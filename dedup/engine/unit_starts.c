/*
 * unit_starts.c - where each document's units start, 32-bit offsets under
 * a 64-bit start a group of documents (unit_starts.h).
 */
#include "engine/unit_starts.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

void dd_unit_starts_init(dd_unit_starts *s, size_t ndocs)
{
    memset(s, 0, sizeof *s);
    s->room = ndocs + 1;
    s->off = dd_calloc(s->room, sizeof *s->off);
    s->group =
        dd_calloc((s->room + DD_UNIT_STARTS_GROUP - 1) / DD_UNIT_STARTS_GROUP, sizeof *s->group);
}

void dd_unit_starts_free(dd_unit_starts *s)
{
    free(s->group);
    free(s->off);
    free(s->far);
    memset(s, 0, sizeof *s);
}

/* Sets the start of document d, the next one. */
static void set_next(dd_unit_starts *s, size_t d, uint64_t start)
{
    if (d % DD_UNIT_STARTS_GROUP == 0)
        s->group[d / DD_UNIT_STARTS_GROUP] = start;
    uint64_t off = start - s->group[d / DD_UNIT_STARTS_GROUP];
    if (off < DD_UNIT_START_FAR) {
        s->off[d] = (uint32_t)off;
    } else {
        s->off[d] = DD_UNIT_START_FAR;
        dd_grow(&s->far, &s->far_cap, s->nfar + 1, sizeof *s->far);
        s->far[s->nfar++] = (dd_unit_start_far){d, start};
    }
    s->n = d + 1;
}

void dd_unit_starts_set(dd_unit_starts *s, size_t d, size_t start)
{
    while (s->n < d)
        set_next(s, s->n, start);
    set_next(s, d, start);
}

size_t dd_unit_start_far_of(const dd_unit_starts *s, size_t d)
{
    size_t lo;
    DD_LOWER_BOUND(lo, s->nfar, i, s->far[i].doc < d);
    return (size_t)s->far[lo].start;
}

size_t dd_unit_starts_bytes(const dd_unit_starts *s)
{
    return s->room * sizeof *s->off +
           (s->room + DD_UNIT_STARTS_GROUP - 1) / DD_UNIT_STARTS_GROUP * sizeof *s->group +
           s->far_cap * sizeof *s->far;
}
