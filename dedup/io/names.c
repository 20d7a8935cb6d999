/*
 * names.c - an arena of names (names.h).
 */
#include "io/names.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Starts a new block of size bytes. */
static void new_block(dd_names *a, size_t size)
{
    dd_grow(&a->blocks, &a->cap, a->n + 1, sizeof *a->blocks);
    a->sizes = dd_realloc(a->sizes, a->cap * sizeof *a->sizes);
    a->blocks[a->n] = dd_malloc(size);
    a->sizes[a->n] = (uint32_t)size;
    a->n++;
    a->used = 0;
    a->bytes += size;
}

uint64_t dd_names_add(dd_names *a, const char *s, size_t len)
{
    if (len + 1 > UINT32_MAX) {
        dd_error("a name of %zu bytes: too long to keep", len);
        exit(DD_EXIT_ERROR);
    }
    if (a->n == 0 || a->sizes[a->n - 1] - a->used < len + 1)
        new_block(a, len + 1 > DD_NAMES_BLOCK ? len + 1 : DD_NAMES_BLOCK);
    char *at = a->blocks[a->n - 1] + a->used;
    memcpy(at, s, len);
    at[len] = '\0';
    uint64_t handle = (uint64_t)(a->n - 1) << 32 | a->used;
    a->used += len + 1;
    return handle;
}

const char *dd_names_at(const dd_names *a, uint64_t at)
{
    return a->blocks[at >> 32] + (uint32_t)at;
}

void dd_names_trim(dd_names *a)
{
    if (a->n == 0 || a->used == a->sizes[a->n - 1])
        return;
    a->blocks[a->n - 1] = dd_realloc(a->blocks[a->n - 1], a->used);
    a->bytes -= a->sizes[a->n - 1] - a->used;
    a->sizes[a->n - 1] = (uint32_t)a->used;
}

size_t dd_names_memory_bytes(const dd_names *a)
{
    return a->bytes + a->cap * (sizeof *a->blocks + sizeof *a->sizes);
}

void dd_names_free(dd_names *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->blocks[i]);
    free(a->blocks);
    free(a->sizes);
    memset(a, 0, sizeof *a);
}
