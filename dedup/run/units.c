/*
 * units.c - a corpus's units, in memory or in a scratch file (units.h).
 */
#include "run/units.h"

#include "util.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Units read back come a block at a time, into a block of each thread:
 * walking a document's units, or the next document's, costs one read a
 * block, not one a unit. (Units never change once appended, so a block
 * stays true; the part of it past the units appended then is not used.) */
#define READ_BLOCK 256

static _Thread_local struct {
    uint64_t owner; /* the dd_units's id, 0: none */
    size_t first, n;
    dd_unit v[READ_BLOCK];
} block;

static atomic_uint_fast64_t next_id = 1;

void dd_units_init(dd_units *s, size_t max_bytes, const char *dir)
{
    memset(s, 0, sizeof *s);
    s->max_bytes = max_bytes;
    s->dir = dir;
    s->id = atomic_fetch_add(&next_id, 1);
}

void dd_units_free(dd_units *s)
{
    free(s->v);
    dd_spool_free(s->spool);
    memset(s, 0, sizeof *s);
}

/* Moves every unit in memory to a new scratch file. */
static bool spill(dd_units *s, char **err)
{
    if (!(s->spool = dd_spool_new(s->dir, err)))
        return false;
    uint64_t at;
    if (s->n && !dd_spool_append(s->spool, s->v, s->n * sizeof *s->v, &at, err))
        return false;
    free(s->v);
    s->v = NULL;
    s->cap = 0;
    return true;
}

bool dd_units_append(dd_units *s, const dd_unit *v, size_t n, char **err)
{
    if (!n)
        return true;
    if (!s->spool && s->max_bytes && (s->n + n) * sizeof *v > s->max_bytes && !spill(s, err))
        return false;
    if (s->spool) {
        uint64_t at;
        if (!dd_spool_append(s->spool, v, n * sizeof *v, &at, err))
            return false;
    } else {
        dd_grow(&s->v, &s->cap, s->n + n, sizeof *s->v);
        memcpy(s->v + s->n, v, n * sizeof *v);
    }
    s->n += n;
    return true;
}

/* Reads units [first, first + n) from the scratch file into out. */
static void read_back(const dd_units *s, size_t first, size_t n, dd_unit *out)
{
    if (!dd_spool_peek(s->spool, (uint64_t)first * sizeof *out, out, n * sizeof *out)) {
        const char *dir = s->dir ? s->dir : dd_spool_default_dir();
        char *p = dd_printable(dir);
        dd_error("cannot read back the scratch file of paragraphs in %s", p);
        free(p);
        exit(2);
    }
}

dd_unit dd_units_get(const dd_units *s, size_t i)
{
    if (!s->spool)
        return s->v[i];
    if (block.owner != s->id || i < block.first || i >= block.first + block.n) {
        block.owner = 0;
        block.first = i / READ_BLOCK * READ_BLOCK;
        block.n = s->n - block.first < READ_BLOCK ? s->n - block.first : READ_BLOCK;
        read_back(s, block.first, block.n, block.v);
        block.owner = s->id;
    }
    return block.v[i - block.first];
}

const dd_unit *dd_units_span(const dd_units *s, size_t first, size_t n, dd_unit **buf, size_t *cap)
{
    if (!s->spool)
        return s->v + first;
    dd_grow(buf, cap, n + 1, sizeof **buf);
    if (n)
        read_back(s, first, n, *buf);
    return *buf;
}

size_t dd_units_memory_bytes(const dd_units *s) { return s->cap * sizeof *s->v; }

uint64_t dd_units_scratch_bytes(const dd_units *s)
{
    return s->spool ? dd_spool_bytes(s->spool) : 0;
}
