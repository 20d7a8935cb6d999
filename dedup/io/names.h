/*
 * names.h - an arena of names: NUL-terminated strings appended once and
 * kept while the arena lives, in large blocks (no allocation per string),
 * each known by a 64-bit handle. The input list keeps the paths and ids of
 * its documents here (input.h).
 *
 * A name lies whole in one block: a block of DD_NAMES_BLOCK bytes, or of
 * its own size for a name longer than that. The handle is the block's
 * number in its upper 32 bits and the name's start in the lower 32.
 * Appending is not thread-safe; reading is, once nothing is appended.
 */
#ifndef DD_NAMES_H
#define DD_NAMES_H

#include <stddef.h>
#include <stdint.h>

#define DD_NAMES_BLOCK ((size_t)1 << 20)

typedef struct dd_names {
    char **blocks;
    uint32_t *sizes; /* the bytes of each block */
    size_t n, cap;   /* blocks */
    size_t used;     /* bytes used in the last block */
    size_t bytes;    /* the bytes of all the blocks */
} dd_names;

/* Appends s[0..len) and a NUL; returns its handle. Exits on OOM. */
uint64_t dd_names_add(dd_names *a, const char *s, size_t len);

/* The name of handle at: valid while the arena lives. */
const char *dd_names_at(const dd_names *a, uint64_t at);

/* Gives back the unused end of the last block (a name added later starts
 * a new one). */
void dd_names_trim(dd_names *a);

/* The bytes the arena holds (its blocks, their unused ends included). */
size_t dd_names_memory_bytes(const dd_names *a);

void dd_names_free(dd_names *a);

#endif
