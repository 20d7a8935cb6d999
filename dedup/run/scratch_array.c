/*
 * scratch_array.c - an append-only array, in memory or in a scratch file
 * (scratch_array.h).
 */
#include "run/scratch_array.h"

#include "util.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Elements read back come a block at a time, into a block of each thread:
 * walking a document's units, or the next document's, costs one read a
 * block, not one an element. A thread keeps two blocks, of the last two
 * arrays it read, so that reading two arrays in turn does not read each
 * block again and again. (An element replaced gives its array a new id,
 * so a block stays true while it is used; the part of it past the elements
 * appended then is not used.) */
#define BLOCK_BYTES 16384
#define BLOCKS 2

typedef struct block {
    uint64_t owner; /* the array's id, 0: none */
    size_t first, n;
    unsigned char bytes[BLOCK_BYTES];
} block;

static _Thread_local block blocks[BLOCKS];
static _Thread_local unsigned last_used; /* the block read last */

static atomic_uint_fast64_t next_id = 1;

void dd_scratch_array_init(dd_scratch_array *a, size_t size, size_t max_bytes, const char *dir,
                           const char *what)
{
    memset(a, 0, sizeof *a);
    a->size = size;
    a->max_bytes = max_bytes;
    a->dir = dir;
    a->what = what;
    a->id = atomic_fetch_add(&next_id, 1);
}

void dd_scratch_array_free(dd_scratch_array *a)
{
    free(a->v);
    dd_spool_free(a->spool);
    memset(a, 0, sizeof *a);
}

/* Moves every element in memory to a new scratch file. */
static bool spill(dd_scratch_array *a, char **err)
{
    if (!(a->spool = dd_spool_new(a->dir, err)))
        return false;
    uint64_t at;
    if (a->n && !dd_spool_append(a->spool, a->v, a->n * a->size, &at, err))
        return false;
    free(a->v);
    a->v = NULL;
    a->cap = 0;
    return true;
}

bool dd_scratch_array_append(dd_scratch_array *a, const void *v, size_t n, char **err)
{
    if (!n)
        return true;
    if (!a->spool && a->max_bytes && (a->n + n) * a->size > a->max_bytes && !spill(a, err))
        return false;
    if (a->spool) {
        uint64_t at;
        if (!dd_spool_append(a->spool, v, n * a->size, &at, err))
            return false;
    } else {
        dd_grow(&a->v, &a->cap, a->n + n, a->size);
        memcpy((char *)a->v + a->n * a->size, v, n * a->size);
    }
    a->n += n;
    return true;
}

/* Ends the process: the scratch file failed (a disk error), and what was
 * kept there has no other copy. */
static void scratch_failed(const dd_scratch_array *a, const char *what_failed)
{
    const char *dir = a->dir ? a->dir : dd_spool_default_dir();
    char *p = dd_printable(dir);
    dd_error("cannot %s the scratch file of %s in %s", what_failed, a->what, p);
    free(p);
    exit(2);
}

/* Reads elements [first, first + n) from the scratch file into out. */
static void read_back(const dd_scratch_array *a, size_t first, size_t n, void *out)
{
    if (!dd_spool_peek(a->spool, (uint64_t)first * a->size, out, n * a->size))
        scratch_failed(a, "read back");
}

const void *dd_scratch_array_get(const dd_scratch_array *a, size_t i)
{
    if (!a->spool)
        return (const char *)a->v + i * a->size;
    size_t per_block = BLOCK_BYTES / a->size;
    block *b = NULL;
    for (unsigned k = 0; k < BLOCKS && !b; k++)
        if (blocks[k].owner == a->id && i >= blocks[k].first && i < blocks[k].first + blocks[k].n)
            b = &blocks[k], last_used = k;
    if (!b) {
        last_used = (last_used + 1) % BLOCKS; /* the other one */
        b = &blocks[last_used];
        b->owner = 0;
        b->first = i / per_block * per_block;
        b->n = a->n - b->first < per_block ? a->n - b->first : per_block;
        read_back(a, b->first, b->n, b->bytes);
        b->owner = a->id;
    }
    return b->bytes + (i - b->first) * a->size;
}

void dd_scratch_array_copy(const dd_scratch_array *a, size_t i, void *out)
{
    if (a->spool)
        read_back(a, i, 1, out);
    else
        memcpy(out, (const char *)a->v + i * a->size, a->size);
}

void dd_scratch_array_set(dd_scratch_array *a, size_t i, const void *v)
{
    if (!a->spool) {
        memcpy((char *)a->v + i * a->size, v, a->size);
        return;
    }
    char *err = NULL;
    if (!dd_spool_overwrite(a->spool, (uint64_t)i * a->size, v, a->size, &err)) {
        free(err);
        scratch_failed(a, "write to");
    }
    a->id = atomic_fetch_add(&next_id, 1); /* the blocks read before are not its */
}

const void *dd_scratch_array_span(const dd_scratch_array *a, size_t first, size_t n, void *buf,
                                  size_t *cap)
{
    if (!a->spool)
        return (const char *)a->v + first * a->size;
    dd_grow(buf, cap, n + 1, a->size);
    void *out = *(void **)buf;
    if (n)
        read_back(a, first, n, out);
    return out;
}

void dd_scratch_array_trim(dd_scratch_array *a)
{
    if (a->spool || a->cap == a->n)
        return;
    a->v = dd_realloc(a->v, a->n * a->size);
    a->cap = a->n;
}

size_t dd_scratch_array_memory_bytes(const dd_scratch_array *a) { return a->cap * a->size; }

uint64_t dd_scratch_array_scratch_bytes(const dd_scratch_array *a)
{
    return a->spool ? dd_spool_bytes(a->spool) : 0;
}
